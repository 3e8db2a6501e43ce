//! Sending inside the organization over HTTP against the real server, with S2S tokens (an actor
//! signed by a trusted auth server, wrapped in an outer token naming the user): CreateItem with
//! SendAndSaveCopy and SendOnly, SendItem of a draft (saved or deleted), each recipient mailbox's
//! copy unread in its Inbox with the Bcc line hidden (read as that recipient), a stale change
//! key, From spoofing, the recipient bound, and recipients that are not mailboxes here (a
//! non-delivery report in the sender's Inbox).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::routing::get;
use ews_proto::response::parse_response;
use ews_proto::xml::Limits;
use exchange::{Config, Exchange};
use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::wire::{AcsMetadata, KeyInfo, KeyValue, MetadataEndpoint, MetadataKey};
use s2s_proto::{ActorTokenSpec, OuterTokenSpec, PrincipalName, SigningKey, SystemClock, jwt};
use serde_json::{Value, json};
use time::OffsetDateTime;

const REALM: &str = "5b2c7e0a-1111-4222-8333-0123456789ab";
const HOST: &str = "mail.contoso.example";

fn key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| {
        let now = OffsetDateTime::now_utc();
        SigningKey::generate_self_signed(
            "trusted sts",
            now - time::Duration::days(1),
            now + time::Duration::days(30),
        )
        .unwrap()
    })
}

/// Serves the auth server's metadata with [`key`]'s certificate.
async fn metadata_server() -> String {
    let cert = key().certificate().clone();
    let app = axum::Router::new().route(
        "/{realm}/metadata/json/1",
        get(move || {
            let cert = cert.clone();
            async move {
                axum::Json(AcsMetadata {
                    version: "1.0".into(),
                    realm: REALM.into(),
                    name: None,
                    issuer: format!("{ACS_APP_ID}@{REALM}"),
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

struct Env {
    url: String,
    ex: Exchange,
    http: reqwest::Client,
}

impl Env {
    async fn cmdlet(&self, name: &str, params: Value) {
        self.ex
            .run_cmdlet(name, params.as_object().cloned().unwrap_or_default())
            .await
            .unwrap();
    }

    /// One EWS call with `token`: (HTTP status, body).
    async fn call_as(&self, token: &str, op: &str) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}/EWS/Exchange.asmx", self.url))
            .bearer_auth(token)
            .header("content-type", "text/xml")
            .body(format!(
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body>{op}</s:Body></s:Envelope>"#
            ))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// One EWS call as alice, answered 200.
    async fn call(&self, op: &str) -> String {
        let (status, body) = self.call_as(&alice_token(), op).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

async fn env() -> Env {
    let md = metadata_server().await;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let ex = Exchange::open(Config {
        data_dir: None,
        hosts: vec![HOST.into()],
        org_domain: "contoso.example".into(),
        public_url: url.clone(),
        clock: Arc::new(SystemClock),
        metadata_refresh_secs: 3600,
        bench_noauth_user: None,
        auth_failures_per_minute: 1000,
        tls_roots: vec![],
        event_retention_secs: exchange::DEFAULT_EVENT_RETENTION_SECS,
    })
    .unwrap();
    let e = Env {
        url,
        ex,
        http: reqwest::Client::new(),
    };
    for (name, smtp) in [
        ("Alice", "alice@contoso.example"),
        ("Bob", "bob@contoso.example"),
        ("Carol", "carol@contoso.example"),
        ("Dave", "dave@contoso.example"),
    ] {
        e.cmdlet(
            "New-Mailbox",
            json!({"Name": name, "PrimarySmtpAddress": smtp}),
        )
        .await;
    }
    e.cmdlet(
        "New-AuthServer",
        json!({"Name": "ACS", "AuthMetadataUrl": format!("{md}/{REALM}/metadata/json/1")}),
    )
    .await;
    e.cmdlet("New-MailUser", json!({"Name": "SfBOnline-ApplicationAccount", "ExternalEmailAddress": "SfBOnline-ApplicationAccount@contoso.example"})).await;
    for role in ["UserApplication", "ArchiveApplication"] {
        e.cmdlet(
            "New-ManagementRoleAssignment",
            json!({"Role": role, "User": "SfBOnline-ApplicationAccount"}),
        )
        .await;
    }
    e.cmdlet("New-PartnerApplication", json!({"Name": "SfBOnline", "ApplicationIdentifier": SKYPE_APP_ID, "Enabled": true, "LinkedAccount": "SfBOnline-ApplicationAccount"})).await;
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

/// The partner's actor token, signed by the trusted auth server (alone: an app-only bearer).
fn actor_token() -> String {
    let n = OffsetDateTime::now_utc().unix_timestamp();
    let claims = ActorTokenSpec {
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
    .claims();
    jwt::sign_rs256(key(), &claims, true).unwrap()
}

/// The actor wrapped in an outer token naming `smtp`.
fn user_token(smtp: &str) -> String {
    let n = OffsetDateTime::now_utc().unix_timestamp();
    jwt::unsigned(
        &OuterTokenSpec {
            aud: PrincipalName::service(EXCHANGE_APP_ID, HOST, REALM),
            iss: PrincipalName::app(SKYPE_APP_ID, REALM),
            nbf: n - 60,
            exp: n + 1800,
            user: s2s_proto::UserClaims::cloud_user(smtp, &format!("10032000{:08X}", smtp.len())),
            actor_token: actor_token(),
        }
        .claims(),
    )
}

fn alice_token() -> String {
    static T: OnceLock<String> = OnceLock::new();
    T.get_or_init(|| user_token("alice@contoso.example"))
        .clone()
}

fn bob_token() -> String {
    user_token("bob@contoso.example")
}

/// (ResponseClass, ResponseCode) of every response message.
fn codes(body: &str) -> Vec<String> {
    let r = parse_response(body.as_bytes(), &Limits::default())
        .unwrap_or_else(|e| panic!("{e}: {}", &body[..body.len().min(2000)]));
    r.messages.iter().map(|m| m.code.clone()).collect()
}

fn ids(t: &str) -> Vec<(String, String)> {
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

fn mbx(addr: &str) -> String {
    format!("<t:Mailbox><t:EmailAddress>{addr}</t:EmailAddress></t:Mailbox>")
}

fn message(subject: &str, extra: &str, to: &[&str], cc: &[&str], bcc: &[&str]) -> String {
    let list = |tag: &str, a: &[&str]| {
        if a.is_empty() {
            String::new()
        } else {
            format!(
                "<t:{tag}>{}</t:{tag}>",
                a.iter().map(|x| mbx(x)).collect::<String>()
            )
        }
    };
    format!(
        r#"<t:Message><t:Subject>{subject}</t:Subject><t:Body BodyType="Text">Hello</t:Body>{}{}{}{extra}</t:Message>"#,
        list("ToRecipients", to),
        list("CcRecipients", cc),
        list("BccRecipients", bcc),
    )
}

fn create(disposition: &str, saved: &str, msg: &str) -> String {
    format!(
        r#"<m:CreateItem MessageDisposition="{disposition}">{saved}<m:Items>{msg}</m:Items></m:CreateItem>"#
    )
}

const SENT: &str =
    r#"<m:SavedItemFolderId><t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId>"#;

impl Env {
    /// One EWS call as `token`'s user, answered 200.
    async fn call_with(&self, token: &str, op: &str) -> String {
        let (status, body) = self.call_as(token, op).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The items of a distinguished folder (all properties) as `token`'s user sees them.
    async fn folder(&self, token: &str, folder: &str) -> (Vec<(String, String)>, String) {
        let found = self
            .call_with(
                token,
                &format!(
                    r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds></m:FindItem>"#
                ),
            )
            .await;
        let ids = ids(&found);
        if ids.is_empty() {
            return (ids, String::new());
        }
        let list: String = ids
            .iter()
            .map(|(i, _)| format!(r#"<t:ItemId Id="{i}"/>"#))
            .collect();
        let got = self
            .call_with(
                token,
                &format!(
                    r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds>{list}</m:ItemIds></m:GetItem>"#
                ),
            )
            .await;
        (ids, got)
    }

    async fn draft(&self, subject: &str) -> (String, String) {
        let body = self
            .call(&create(
                "SaveOnly",
                "",
                &message(
                    subject,
                    "",
                    &["bob@contoso.example"],
                    &[],
                    &["dave@contoso.example"],
                ),
            ))
            .await;
        assert_eq!(codes(&body), ["NoError"], "{body}");
        ids(&body).remove(0)
    }
}

#[tokio::test]
async fn send_and_save_copy_delivers_unread_with_bcc_hidden() {
    let e = env().await;
    let body = e
        .call(&create(
            "SendAndSaveCopy",
            SENT,
            &message(
                "Lunch?",
                "",
                &["bob@contoso.example"],
                &["Carol@Contoso.Example"],
                &["dave@contoso.example"],
            ),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    // a sent message has no id to answer: an empty m:Items
    assert!(
        body.contains("<m:Items/>") || body.contains("<m:Items></m:Items>"),
        "{body}"
    );
    assert!(ids(&body).is_empty(), "{body}");

    // Bob reads it, unread, from Alice, without the Bcc line
    let (bob, got) = e.folder(&bob_token(), "inbox").await;
    assert_eq!(bob.len(), 1, "{got}");
    assert!(got.contains("<t:Subject>Lunch?</t:Subject>"), "{got}");
    assert!(got.contains("<t:IsRead>false</t:IsRead>"), "{got}");
    assert!(got.contains("alice@contoso.example"), "{got}");
    assert!(got.contains("<t:From>"), "{got}");
    assert!(got.contains("<t:InternetMessageId>"), "{got}");
    assert!(
        !got.contains("dave@contoso.example"),
        "Bcc visible to Bob: {got}"
    );
    // Carol (Cc, her address in another case) and Dave (Bcc) have theirs
    for who in ["carol@contoso.example", "dave@contoso.example"] {
        let (items, got) = e.folder(&user_token(who), "inbox").await;
        assert_eq!(items.len(), 1, "{who}: {got}");
        assert!(!got.contains("<t:BccRecipients>"), "{who}: {got}");
    }
    // Alice's copy in Sent Items (its Bcc is kept, but EWS here never writes BccRecipients: the
    // store's tests check it); nothing in Drafts, nothing in her Inbox
    let (sent, got) = e.folder(&alice_token(), "sentitems").await;
    assert_eq!(sent.len(), 1);
    assert!(got.contains("<t:IsRead>true</t:IsRead>"), "{got}");
    assert!(e.folder(&alice_token(), "drafts").await.0.is_empty());
    assert!(e.folder(&alice_token(), "inbox").await.0.is_empty());
}

#[tokio::test]
async fn send_only_keeps_no_copy() {
    let e = env().await;
    let body = e
        .call(&create(
            "SendOnly",
            "",
            &message("FYI", "", &["bob@contoso.example"], &[], &[]),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(e.folder(&bob_token(), "inbox").await.0.len(), 1);
    for f in ["sentitems", "drafts", "outbox"] {
        assert!(e.folder(&alice_token(), f).await.0.is_empty(), "{f}");
    }
    // SendOnly with a folder to save in contradicts itself
    let body = e
        .call(&create(
            "SendOnly",
            SENT,
            &message("FYI", "", &["bob@contoso.example"], &[], &[]),
        ))
        .await;
    assert_eq!(codes(&body), ["ErrorInvalidSendItemSaveSettings"], "{body}");
    assert_eq!(e.folder(&bob_token(), "inbox").await.0.len(), 1);
}

#[tokio::test]
async fn send_item_of_a_draft_saved_or_deleted() {
    let e = env().await;
    let (id, ck) = e.draft("Draft one").await;
    let body = e
        .call(&format!(
            r#"<m:SendItem SaveItemToFolder="true"><m:ItemIds><t:ItemId Id="{id}" ChangeKey="{ck}"/></m:ItemIds>{SENT}</m:SendItem>"#
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert!(body.contains("SendItemResponseMessage"), "{body}");
    assert!(e.folder(&alice_token(), "drafts").await.0.is_empty());
    let (sent, got) = e.folder(&alice_token(), "sentitems").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, id, "the draft itself moved to Sent Items");
    assert!(got.contains("<t:From>"), "{got}");
    let (bob, got) = e.folder(&bob_token(), "inbox").await;
    assert_eq!(bob.len(), 1);
    assert!(got.contains("<t:Subject>Draft one</t:Subject>"), "{got}");
    assert!(!got.contains("dave@contoso.example"), "{got}");
    assert_eq!(
        e.folder(&user_token("dave@contoso.example"), "inbox")
            .await
            .0
            .len(),
        1
    );

    // SaveItemToFolder="false": sent, then deleted
    let (id, ck) = e.draft("Draft two").await;
    let body = e
        .call(&format!(
            r#"<m:SendItem SaveItemToFolder="false"><m:ItemIds><t:ItemId Id="{id}" ChangeKey="{ck}"/></m:ItemIds></m:SendItem>"#
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert!(e.folder(&alice_token(), "drafts").await.0.is_empty());
    assert_eq!(e.folder(&alice_token(), "sentitems").await.0.len(), 1);
    assert_eq!(e.folder(&bob_token(), "inbox").await.0.len(), 2);
}

#[tokio::test]
async fn send_item_with_a_stale_change_key_is_a_conflict() {
    let e = env().await;
    let (id, ck) = e.draft("Draft").await;
    let body = e
        .call(&format!(
            r#"<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{ck}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>Changed</t:Subject></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    let body = e
        .call(&format!(
            r#"<m:SendItem SaveItemToFolder="true"><m:ItemIds><t:ItemId Id="{id}" ChangeKey="{ck}"/></m:ItemIds></m:SendItem>"#
        ))
        .await;
    assert_eq!(codes(&body), ["ErrorIrresolvableConflict"], "{body}");
    assert_eq!(e.folder(&alice_token(), "drafts").await.0.len(), 1);
    assert!(e.folder(&bob_token(), "inbox").await.0.is_empty());
}

#[tokio::test]
async fn sending_as_someone_else_is_denied() {
    let e = env().await;
    let spoofed = message(
        "From Bob, honest",
        &format!("<t:From>{}</t:From>", mbx("bob@contoso.example")),
        &["carol@contoso.example"],
        &[],
        &[],
    );
    let body = e.call(&create("SendAndSaveCopy", SENT, &spoofed)).await;
    assert_eq!(codes(&body), ["ErrorSendAsDenied"], "{body}");
    assert!(
        e.folder(&user_token("carol@contoso.example"), "inbox")
            .await
            .0
            .is_empty()
    );
    assert!(e.folder(&alice_token(), "sentitems").await.0.is_empty());
    // the acting mailbox's own address as From is fine (any case)
    let own = message(
        "From me",
        &format!("<t:From>{}</t:From>", mbx("Alice@contoso.example")),
        &["carol@contoso.example"],
        &[],
        &[],
    );
    let body = e.call(&create("SendOnly", "", &own)).await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(
        e.folder(&user_token("carol@contoso.example"), "inbox")
            .await
            .0
            .len(),
        1
    );
}

#[tokio::test]
async fn recipients_are_bounded() {
    let e = env().await;
    let mut to: Vec<String> = (0..500)
        .map(|n| format!("user{n}@fabrikam.example"))
        .collect();
    to.push("bob@contoso.example".into());
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let body = e
        .call(&create(
            "SendOnly",
            "",
            &message("Everyone", "", &to, &[], &[]),
        ))
        .await;
    assert_eq!(codes(&body), ["ErrorInvalidRecipients"], "{body}");
    assert!(body.contains("500"), "{body}");
    assert!(e.folder(&bob_token(), "inbox").await.0.is_empty());
    // and none at all
    let body = e
        .call(&create(
            "SendOnly",
            "",
            &message("No one", "", &[], &[], &[]),
        ))
        .await;
    assert_eq!(codes(&body), ["ErrorInvalidRecipients"], "{body}");
}

/// An address outside the organization, or unknown in an accepted domain: the send succeeds
/// (Bob still gets his copy) and Alice finds a non-delivery report naming both in her Inbox.
#[tokio::test]
async fn undeliverable_recipients_get_a_non_delivery_report() {
    let e = env().await;
    let body = e
        .call(&create(
            "SendAndSaveCopy",
            SENT,
            &message(
                "Partners",
                "",
                &["bob@contoso.example", "someone@fabrikam.example"],
                &["nobody@contoso.example"],
                &[],
            ),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(e.folder(&bob_token(), "inbox").await.0.len(), 1);
    let (inbox, got) = e.folder(&alice_token(), "inbox").await;
    assert_eq!(inbox.len(), 1, "{got}");
    assert!(
        got.contains("<t:ItemClass>REPORT.IPM.Note.NDR</t:ItemClass>"),
        "{got}"
    );
    assert!(got.contains("Undeliverable: Partners"), "{got}");
    assert!(got.contains("someone@fabrikam.example"), "{got}");
    assert!(got.contains("nobody@contoso.example"), "{got}");
    assert!(got.contains("<t:IsRead>false</t:IsRead>"), "{got}");
    assert!(!got.contains("bob@contoso.example\r"), "{got}");
    // only delivered recipients: no report
    let body = e
        .call(&create(
            "SendOnly",
            "",
            &message("Hi", "", &["bob@contoso.example"], &[], &[]),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(e.folder(&alice_token(), "inbox").await.0.len(), 1);
}
