//! The harness the integration tests share: the keys of a fake auth server and the ACS metadata
//! it serves for [`REALM`], the server itself (`Exchange::open` on an ephemeral loopback port,
//! served with `axum::serve`) seeded with mailboxes, the trusted auth server and the SfBOnline
//! partner, EWS calls over HTTP, and the S2S tokens a partner mints for a user (an actor signed
//! by the auth server's key, wrapped in an unsigned outer token naming the user).
//!
//! Each test binary uses a subset of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use axum::routing::get;
use ews_proto::response::parse_response;
use ews_proto::xml::Limits;
use exchange::{Config, DEFAULT_EVENT_RETENTION_SECS, Exchange, ExchangeError};
use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::wire::{AcsMetadata, KeyInfo, KeyValue, MetadataEndpoint, MetadataKey};
use s2s_proto::{
    ActorTokenSpec, Clock, ManualClock, OuterTokenSpec, PrincipalName, SharedClock, SigningKey,
    SystemClock, UserClaims, jwt,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

pub const REALM: &str = "5b2c7e0a-1111-4222-8333-0123456789ab";
pub const HOST: &str = "mail.contoso.example";
pub const ALICE: &str = "alice@contoso.example";
pub const BOB: &str = "bob@contoso.example";
/// The partner's linked account.
pub const PARTNER_ACCOUNT: &str = "SfBOnline-ApplicationAccount";

/// How long [`key`] and [`attacker_key`] are valid (from a day ago).
pub const KEY_DAYS: i64 = 30;

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

// ---- keys and the auth server's metadata ----

/// A self-signed key with this subject name, valid from a day ago for `days` days: generated
/// once per test binary for each (name, days).
pub fn signing_key(name: &'static str, days: i64) -> &'static SigningKey {
    static KEYS: Mutex<Vec<((&str, i64), &'static SigningKey)>> = Mutex::new(Vec::new());
    let mut keys = KEYS.lock().unwrap();
    if let Some((_, k)) = keys.iter().find(|(id, _)| *id == (name, days)) {
        return k;
    }
    let now = OffsetDateTime::now_utc();
    let k: &'static SigningKey = Box::leak(Box::new(
        SigningKey::generate_self_signed(
            name,
            now - time::Duration::days(1),
            now + time::Duration::days(days),
        )
        .unwrap(),
    ));
    keys.push(((name, days), k));
    k
}

/// The trusted auth server's key (what [`Options::default`] trusts).
pub fn key() -> &'static SigningKey {
    signing_key("trusted sts", KEY_DAYS)
}

/// A key the server does not trust.
pub fn attacker_key() -> &'static SigningKey {
    signing_key("attacker", KEY_DAYS)
}

/// Serves `/{REALM}/metadata/json/1` for the issuer `<app_id>@REALM` signing with `key`'s
/// certificate; returns the server's base URL.
pub async fn metadata_server(app_id: &'static str, key: &SigningKey) -> String {
    let cert = key.certificate().clone();
    let app = axum::Router::new().route(
        "/{realm}/metadata/json/1",
        get(move || {
            let cert = cert.clone();
            async move {
                axum::Json(AcsMetadata {
                    version: "1.0".into(),
                    realm: REALM.into(),
                    name: None,
                    issuer: format!("{app_id}@{REALM}"),
                    allowed_audiences: vec![],
                    keys: vec![MetadataKey {
                        usage: "signing".into(),
                        key_value: KeyValue {
                            kind: "x509Certificate".into(),
                            value: cert.to_base64(),
                            key_info: Some(KeyInfo {
                                x5t: cert.x5t.clone(),
                            }),
                        },
                        key_info: None,
                    }],
                    endpoints: vec![MetadataEndpoint {
                        location: format!("https://sts.example/{REALM}/tokens/OAuth/2"),
                        protocol: "OAuth2".into(),
                        usage: "issuance".into(),
                    }],
                })
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    url
}

// ---- the server ----

/// The server's configuration: in memory, answering to [`HOST`] for `contoso.example`, metadata
/// refreshed hourly, the default retention, no benchmark route, 1000 failures a minute, Exchange's
/// streaming timing.
pub fn config(public_url: &str, clock: SharedClock) -> Config {
    Config {
        data_dir: None,
        hosts: vec![HOST.into()],
        org_domain: "contoso.example".into(),
        public_url: public_url.into(),
        clock,
        metadata_refresh_secs: 3600,
        bench_noauth_user: None,
        auth_failures_per_minute: 1000,
        tls_roots: vec![],
        event_retention_secs: DEFAULT_EVENT_RETENTION_SECS,
        streaming: exchange::StreamingConfig::default(),
    }
}

/// The SfBOnline partner (linked to SfBOnline-ApplicationAccount) and the auth server that
/// signs its actor tokens.
pub struct Partner {
    /// The key the auth server's metadata publishes (called when the server starts).
    pub key: fn() -> &'static SigningKey,
    /// The management roles assigned to the partner's linked account.
    pub roles: &'static [&'static str],
}

/// What differs between the tests' servers.
pub struct Options {
    /// A manual clock for the server (and the tokens [`Env::call`] mints); `None`: the system
    /// clock.
    pub clock: Option<ManualClock>,
    /// Authentication failures allowed per source a minute.
    pub auth_failures_per_minute: u32,
    /// (Name, PrimarySmtpAddress) of each mailbox.
    pub mailboxes: &'static [(&'static str, &'static str)],
    /// The trusted auth server and the partner; `None`: neither, and [`Env::call`] goes through
    /// the benchmark route as alice.
    pub partner: Option<Partner>,
    /// Streaming connections' timing and bounds (tests shorten the minute and the keep-alive).
    pub streaming: exchange::StreamingConfig,
}

impl Default for Options {
    /// The system clock, 1000 failures a minute, Alice and Bob, and SfBOnline with
    /// UserApplication and ArchiveApplication, trusted through [`key`].
    fn default() -> Self {
        Options {
            clock: None,
            auth_failures_per_minute: 1000,
            mailboxes: &[("Alice", ALICE), ("Bob", BOB)],
            partner: Some(Partner {
                key,
                roles: &["UserApplication", "ArchiveApplication"],
            }),
            streaming: exchange::StreamingConfig::default(),
        }
    }
}

/// A running server.
pub struct Env {
    pub url: String,
    pub ex: Exchange,
    pub http: reqwest::Client,
    manual_clock: Option<ManualClock>,
    /// The trusted auth server's key; `None`: the server has none (the benchmark route).
    key: Option<&'static SigningKey>,
}

/// The server with [`Options::default`].
pub async fn env() -> Env {
    start(Options::default()).await
}

/// Opens the server on an ephemeral loopback port, seeds it (the mailboxes; then, with a
/// partner, New-AuthServer for the metadata of a fresh [`metadata_server`], the partner's
/// linked account, its roles and New-PartnerApplication) and serves it.
pub async fn start(o: Options) -> Env {
    let key = o.partner.as_ref().map(|p| (p.key)());
    let md = match key {
        Some(k) => Some(metadata_server(ACS_APP_ID, k).await),
        None => None,
    };
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let clock: SharedClock = match &o.clock {
        Some(c) => Arc::new(c.clone()),
        None => Arc::new(SystemClock),
    };
    let ex = Exchange::open(Config {
        auth_failures_per_minute: o.auth_failures_per_minute,
        bench_noauth_user: o.partner.is_none().then(|| ALICE.into()),
        streaming: o.streaming.clone(),
        ..config(&url, clock)
    })
    .unwrap();
    let e = Env {
        url,
        ex,
        http: reqwest::Client::new(),
        manual_clock: o.clock,
        key,
    };
    for (name, smtp) in o.mailboxes {
        e.cmdlet(
            "New-Mailbox",
            json!({"Name": name, "PrimarySmtpAddress": smtp}),
        )
        .await
        .unwrap();
    }
    if let (Some(p), Some(md)) = (&o.partner, md) {
        e.cmdlet(
            "New-AuthServer",
            json!({"Name": "ACS", "AuthMetadataUrl": format!("{md}/{REALM}/metadata/json/1")}),
        )
        .await
        .unwrap();
        e.cmdlet("New-MailUser", json!({"Name": "SfBOnline-ApplicationAccount", "ExternalEmailAddress": "SfBOnline-ApplicationAccount@contoso.example"})).await.unwrap();
        for role in p.roles {
            e.assign_role(role).await;
        }
        e.cmdlet("New-PartnerApplication", json!({"Name": "SfBOnline", "ApplicationIdentifier": SKYPE_APP_ID, "Enabled": true, "LinkedAccount": "SfBOnline-ApplicationAccount"})).await.unwrap();
    }
    let router = e.ex.router();
    tokio::spawn(async move {
        axum::serve(
            l,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    e
}

impl Env {
    /// An admin cmdlet with JSON parameters, as the admin API runs it.
    pub async fn cmdlet(&self, name: &str, params: Value) -> Result<Vec<Value>, ExchangeError> {
        self.ex
            .run_cmdlet(name, params.as_object().cloned().unwrap_or_default())
            .await
    }

    /// Assigns `role` to the partner's linked account.
    pub async fn assign_role(&self, role: &str) {
        self.cmdlet(
            "New-ManagementRoleAssignment",
            json!({"Role": role, "User": PARTNER_ACCOUNT}),
        )
        .await
        .unwrap();
    }

    /// Removes the partner's linked account's assignment of `role` (named `<role>-<account>`).
    pub async fn remove_role(&self, role: &str) {
        self.cmdlet(
            "Remove-ManagementRoleAssignment",
            json!({"Identity": format!("{role}-{PARTNER_ACCOUNT}")}),
        )
        .await
        .unwrap();
    }

    /// The mailbox key of the mailbox `smtp` names (Get-Mailbox's Guid).
    pub async fn mailbox_key(&self, smtp: &str) -> mailbox::MailboxKey {
        let rows = self
            .cmdlet("Get-Mailbox", json!({"Identity": smtp}))
            .await
            .unwrap();
        mailbox::MailboxKey::new(rows[0]["Guid"].as_str().unwrap()).unwrap()
    }

    /// The server's manual clock ([`Options::clock`]).
    pub fn clock(&self) -> &ManualClock {
        self.manual_clock
            .as_ref()
            .expect("a server started with a manual clock")
    }

    /// Alice's token: minted at the manual clock's time with the server's key, or (system
    /// clock) [`alice_token`].
    pub fn alice_token(&self) -> String {
        match (&self.manual_clock, self.key) {
            (Some(c), Some(k)) => user_token_at(k, c.unix(), ALICE),
            _ => alice_token(),
        }
    }

    /// One EWS call with `token`: (HTTP status, body).
    pub async fn call_as(&self, token: &str, op: &str) -> (u16, String) {
        self.post("/EWS/Exchange.asmx", Some(token), op).await
    }

    /// One EWS call with `token`, answered 200.
    pub async fn call_with(&self, token: &str, op: &str) -> String {
        let (status, body) = self.call_as(token, op).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Item `id` exported (ExportItems) and uploaded again as a new item into `folder`
    /// (UploadItems): the new item's id.
    pub async fn export_and_upload(&self, token: &str, id: &str, folder: &str) -> String {
        let exported = self
            .call_with(
                token,
                &format!(
                    r#"<m:ExportItems><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:ExportItems>"#
                ),
            )
            .await;
        assert_eq!(codes(&exported), ["NoError"], "{exported}");
        let data = exported
            .split("<m:Data>")
            .nth(1)
            .and_then(|s| s.split("</m:Data>").next())
            .unwrap_or_default()
            .to_owned();
        let uploaded = self
            .call_with(
                token,
                &format!(
                    r#"<m:UploadItems><m:Items><t:Item CreateAction="CreateNew" IsAssociated="false"><t:ParentFolderId Id="{folder}"/><t:Data>{data}</t:Data></t:Item></m:Items></m:UploadItems>"#
                ),
            )
            .await;
        assert_eq!(codes(&uploaded), ["NoError"], "{uploaded}");
        attr_after(&uploaded, "ItemId", "Id")
    }

    /// One EWS call as alice, answered 200: with [`Env::alice_token`], or through the benchmark
    /// route (which acts as alice) on a server without a partner.
    pub async fn call(&self, op: &str) -> String {
        if self.key.is_none() {
            let (status, body) = self.post("/bench/noauth/EWS/Exchange.asmx", None, op).await;
            assert_eq!(status, 200, "a per-item error, never a fault: {body}");
            return body;
        }
        self.call_with(&self.alice_token(), op).await
    }

    async fn post(&self, path: &str, token: Option<&str>, op: &str) -> (u16, String) {
        let mut r = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "text/xml")
            .body(soap(op));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

// ---- tokens ----

/// The partner's actor claims, issued at `n`: for Exchange at [`HOST`], issued by the auth
/// server, naming SfBOnline, trusted for delegation.
pub fn actor_at(n: i64) -> Map<String, Value> {
    ActorTokenSpec {
        aud: PrincipalName::service(EXCHANGE_APP_ID, HOST, REALM),
        iss: PrincipalName::app(ACS_APP_ID, REALM),
        nameid: PrincipalName::app(SKYPE_APP_ID, REALM),
        iat: n,
        nbf: n - 300,
        exp: n + 3600,
        trusted_for_delegation: Some(true),
        identity_provider: Some(format!("{ACS_APP_ID}@{REALM}")),
        oid: None,
        jti: None,
    }
    .claims()
}

/// [`actor_at`] now.
pub fn actor() -> Map<String, Value> {
    actor_at(now())
}

/// The outer token's claims, issued at `n` by SfBOnline for `user`, carrying `actor_token`.
pub fn outer_at(n: i64, actor_token: &str, user: UserClaims) -> Map<String, Value> {
    OuterTokenSpec {
        aud: PrincipalName::service(EXCHANGE_APP_ID, HOST, REALM),
        iss: PrincipalName::app(SKYPE_APP_ID, REALM),
        nbf: n - 60,
        exp: n + 1800,
        user,
        actor_token: actor_token.into(),
    }
    .claims()
}

/// [`outer_at`] now.
pub fn outer(actor_token: &str, user: UserClaims) -> Map<String, Value> {
    outer_at(now(), actor_token, user)
}

/// The cloud user claims for `smtp` (alice's NetID is 1003200012345678).
pub fn user(smtp: &str) -> UserClaims {
    let netid = if smtp == ALICE {
        "1003200012345678".to_owned()
    } else {
        format!("10032000{:08X}", smtp.len())
    };
    UserClaims::cloud_user(smtp, &netid)
}

pub fn alice() -> UserClaims {
    user(ALICE)
}

/// `c` signed RS256 with [`key`].
pub fn sign(c: &Map<String, Value>) -> String {
    jwt::sign_rs256(key(), c, true).unwrap()
}

/// `actor_token` wrapped in an outer token naming alice.
pub fn wrap(actor_token: &str) -> String {
    jwt::unsigned(&outer(actor_token, alice()))
}

/// The partner's actor token, signed by the trusted auth server (alone: an app-only bearer).
pub fn actor_token() -> String {
    sign(&actor())
}

/// The actor signed with `key`, wrapped in an outer token naming `smtp`, both issued at `n`.
pub fn user_token_at(key: &SigningKey, n: i64, smtp: &str) -> String {
    let actor_token = jwt::sign_rs256(key, &actor_at(n), true).unwrap();
    jwt::unsigned(&outer_at(n, &actor_token, user(smtp)))
}

/// The actor wrapped in an outer token naming `smtp`.
pub fn user_token(smtp: &str) -> String {
    jwt::unsigned(&outer(&actor_token(), user(smtp)))
}

/// [`user_token`] of alice, minted once per test binary.
pub fn alice_token() -> String {
    static T: OnceLock<String> = OnceLock::new();
    T.get_or_init(|| user_token(ALICE)).clone()
}

pub fn bob_token() -> String {
    user_token(BOB)
}

// ---- requests and answers ----

/// `op` in a SOAP envelope with the EWS messages (`m:`) and types (`t:`) namespaces.
pub fn soap(op: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body>{op}</s:Body></s:Envelope>"#
    )
}

/// The value of `attr` in the first `start` element (e.g. `"<t:ItemId "`, `"Id"`).
pub fn attr_after(body: &str, start: &str, attr: &str) -> String {
    body.split(start)
        .nth(1)
        .and_then(|s| s.split(&format!("{attr}=\"")).nth(1))
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no {start}{attr} in {body}"))
        .to_owned()
}

/// Every `t:ItemId` (Id, ChangeKey) in a response, in order.
pub fn ids(t: &str) -> Vec<(String, String)> {
    t.split("<t:ItemId ")
        .skip(1)
        .map(|s| {
            let attr = |n: &str| {
                s.split(&format!("{n}=\""))
                    .nth(1)
                    .and_then(|v| v.split('"').next())
                    .unwrap_or_default()
                    .to_owned()
            };
            (attr("Id"), attr("ChangeKey"))
        })
        .collect()
}

/// (ResponseClass, ResponseCode, MessageText) of every response message, read with this
/// workspace's response reader.
pub fn messages(body: &str) -> Vec<(String, String, String)> {
    let r = parse_response(body.as_bytes(), &Limits::default())
        .unwrap_or_else(|e| panic!("{e}: {}", &body[..body.len().min(2000)]));
    r.messages
        .iter()
        .map(|m| {
            (
                m.class.as_str().to_owned(),
                m.code.clone(),
                m.text.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// The ResponseCode of every response message, read with this workspace's response reader.
pub fn codes(body: &str) -> Vec<String> {
    messages(body).into_iter().map(|(_, c, _)| c).collect()
}

/// The `m:ResponseCode` of each response message, in order, read as text (also from answers
/// the response reader would refuse).
pub fn response_codes(body: &str) -> Vec<&str> {
    body.split("<m:ResponseCode>")
        .skip(1)
        .filter_map(|r| r.split('<').next())
        .collect()
}
