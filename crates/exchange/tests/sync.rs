//! SyncFolderItems and SyncFolderHierarchy over HTTP against the real server, with S2S tokens
//! (an actor signed by a key of a trusted auth server, wrapped in an outer token naming alice):
//! a sync round, the refusals (bad states, bounds, other mailboxes), and authorization exactly
//! as FindItem's (the role; Recoverable Items readable without ArchiveApplication; app-only
//! tokens refused).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::routing::get;
use ews_proto::ns;
use ews_proto::response::parse_response;
use ews_proto::xml::{Element, Limits};
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

    async fn create(&self, folder_id: &str, subject: &str) -> String {
        let t = self
            .call(&format!(
                r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:FolderId Id="{folder_id}"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>{subject}</t:Subject><t:Body BodyType="Text">body of {subject}</t:Body></t:Message></m:Items></m:CreateItem>"#
            ))
            .await;
        attr_after(&t, "<t:ItemId ", "Id")
    }

    async fn create_folder(&self, parent: &str, name: &str) -> String {
        let t = self
            .call(&format!(
                r#"<m:CreateFolder><m:ParentFolderId>{parent}</m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>{name}</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>"#
            ))
            .await;
        attr_after(&t, "<t:FolderId ", "Id")
    }
}

fn attr_after(body: &str, start: &str, attr: &str) -> String {
    body.split(start)
        .nth(1)
        .and_then(|s| s.split(&format!("{attr}=\"")).nth(1))
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no {start}{attr} in {body}"))
        .to_owned()
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

/// The actor wrapped in an outer token naming alice.
fn alice_token() -> String {
    static T: OnceLock<String> = OnceLock::new();
    T.get_or_init(|| {
        let n = OffsetDateTime::now_utc().unix_timestamp();
        jwt::unsigned(
            &OuterTokenSpec {
                aud: PrincipalName::service(EXCHANGE_APP_ID, HOST, REALM),
                iss: PrincipalName::app(SKYPE_APP_ID, REALM),
                nbf: n - 60,
                exp: n + 1800,
                user: s2s_proto::UserClaims::cloud_user(
                    "alice@contoso.example",
                    "1003200012345678",
                ),
                actor_token: actor_token(),
            }
            .claims(),
        )
    })
    .clone()
}

/// A SyncFolderItems answer, read with this workspace's response reader.
#[derive(Debug)]
struct Synced {
    code: String,
    text: Option<String>,
    state: String,
    last: bool,
    /// (change, item id, subject or IsRead)
    changes: Vec<(String, String, String)>,
}

fn child<'a>(el: &'a Element, ns: &str, local: &str) -> &'a Element {
    el.child(ns, local)
        .unwrap_or_else(|| panic!("no {local} in {el:?}"))
}

fn read_sync(body: &str, last_name: &str) -> Synced {
    let r = parse_response(body.as_bytes(), &Limits::default())
        .unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(r.messages.len(), 1);
    let m = &r.messages[0];
    let el = &m.element;
    // present on errors too: exchangelib reads both before the response code
    let state = child(el, ns::MESSAGES, "SyncState").text.clone();
    let last = child(el, ns::MESSAGES, last_name).text == "true";
    let mut changes = Vec::new();
    if let Some(c) = el.child(ns::MESSAGES, "Changes") {
        for change in &c.children {
            let inner = &change.children[0];
            let (id, detail) = match inner.local.as_str() {
                "ItemId" | "FolderId" => (
                    inner.attr("Id").unwrap_or_default().to_owned(),
                    change
                        .child(ns::TYPES, "IsRead")
                        .map(|e| e.text.clone())
                        .unwrap_or_default(),
                ),
                _ => {
                    let id = inner
                        .children
                        .iter()
                        .find(|e| e.local == "ItemId" || e.local == "FolderId")
                        .and_then(|e| e.attr("Id"))
                        .unwrap_or_default()
                        .to_owned();
                    let name = inner
                        .child(ns::TYPES, "Subject")
                        .or_else(|| inner.child(ns::TYPES, "DisplayName"))
                        .map(|e| e.text.clone())
                        .unwrap_or_default();
                    assert!(inner.child(ns::TYPES, "Body").is_none(), "no bodies");
                    (id, name)
                }
            };
            changes.push((change.local.clone(), id, detail));
        }
    }
    Synced {
        code: m.code.clone(),
        text: m.text.clone(),
        state,
        last,
        changes,
    }
}

/// SyncFolderItems of a folder by id, IdOnly plus the subject and the read flag.
fn sync_items_op(folder: &str, state: Option<&str>, max: u32) -> String {
    let state = state
        .map(|s| format!("<m:SyncState>{s}</m:SyncState>"))
        .unwrap_or_default();
    format!(
        r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/><t:FieldURI FieldURI="item:Body"/><t:FieldURI FieldURI="message:IsRead"/></t:AdditionalProperties></m:ItemShape><m:SyncFolderId><t:FolderId Id="{folder}"/></m:SyncFolderId>{state}<m:MaxChangesReturned>{max}</m:MaxChangesReturned></m:SyncFolderItems>"#
    )
}

fn sync_hierarchy_op(folder: &str, state: Option<&str>) -> String {
    let state = state
        .map(|s| format!("<m:SyncState>{s}</m:SyncState>"))
        .unwrap_or_default();
    format!(
        r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:SyncFolderId>{folder}</m:SyncFolderId>{state}</m:SyncFolderHierarchy>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_round_over_http() {
    let e = env().await;
    let folder = e
        .create_folder(r#"<t:DistinguishedFolderId Id="inbox"/>"#, "Synced")
        .await;
    let a = e.create(&folder, "a").await;
    let b = e.create(&folder, "b").await;
    let c = e.create(&folder, "c").await;
    e.create_folder(r#"<t:DistinguishedFolderId Id="drafts"/>"#, "elsewhere")
        .await;

    // the first sync, two at a time
    let first = read_sync(
        &e.call(&sync_items_op(&folder, None, 2)).await,
        "IncludesLastItemInRange",
    );
    assert_eq!(first.code, "NoError");
    assert!(!first.last);
    let second = read_sync(
        &e.call(&sync_items_op(&folder, Some(&first.state), 2)).await,
        "IncludesLastItemInRange",
    );
    assert!(second.last);
    let listed: Vec<(String, String, String)> =
        first.changes.into_iter().chain(second.changes).collect();
    let want = |k: &str, id: &str, d: &str| (k.to_owned(), id.to_owned(), d.to_owned());
    assert_eq!(
        listed,
        [
            want("Create", &a, "a"),
            want("Create", &b, "b"),
            want("Create", &c, "c")
        ]
    );

    // then: a renamed, b read, c deleted, d created
    let update = |id: &str, field: &str, el: &str| {
        format!(
            r#"<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="{field}"/><t:Message>{el}</t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
        )
    };
    for op in [
        update(&a, "item:Subject", "<t:Subject>a2</t:Subject>"),
        update(&b, "message:IsRead", "<t:IsRead>true</t:IsRead>"),
        format!(
            r#"<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="{c}"/></m:ItemIds></m:DeleteItem>"#
        ),
    ] {
        let t = e.call(&op).await;
        assert!(
            t.contains("<m:ResponseCode>NoError</m:ResponseCode>"),
            "{t}"
        );
    }
    let d = e.create(&folder, "d").await;
    let next = read_sync(
        &e.call(&sync_items_op(&folder, Some(&second.state), 512))
            .await,
        "IncludesLastItemInRange",
    );
    assert!(next.last);
    assert_eq!(
        next.changes,
        [
            want("Update", &a, "a2"),
            want("ReadFlagChange", &b, "true"),
            want("Delete", &c, ""),
            want("Create", &d, "d"),
        ]
    );
    // nothing more, same state
    let quiet = read_sync(
        &e.call(&sync_items_op(&folder, Some(&next.state), 10)).await,
        "IncludesLastItemInRange",
    );
    assert!(quiet.changes.is_empty() && quiet.last);
    assert_eq!(quiet.state, next.state);

    // the hierarchy under the folder: nothing, then a subfolder
    let under = format!(r#"<t:FolderId Id="{folder}"/>"#);
    let h = read_sync(
        &e.call(&sync_hierarchy_op(&under, None)).await,
        "IncludesLastFolderInRange",
    );
    assert!(h.changes.is_empty() && h.last, "{h:?}");
    let sub = e.create_folder(&under, "Sub").await;
    let h2 = read_sync(
        &e.call(&sync_hierarchy_op(&under, Some(&h.state))).await,
        "IncludesLastFolderInRange",
    );
    assert_eq!(h2.changes, [want("Create", &sub, "Sub")]);

    // states that cannot be continued: ErrorInvalidSyncStateData, saying to start over
    for (op, last) in [
        (
            sync_items_op(&folder, Some(&h.state), 10),
            "IncludesLastItemInRange",
        ),
        (
            sync_items_op(&folder, Some("bm90IG91cnM="), 10),
            "IncludesLastItemInRange",
        ),
        (
            sync_items_op(&sub, Some(&next.state), 10),
            "IncludesLastItemInRange",
        ),
        (
            sync_hierarchy_op(r#"<t:DistinguishedFolderId Id="inbox"/>"#, Some(&h.state)),
            "IncludesLastFolderInRange",
        ),
    ] {
        let r = read_sync(&e.call(&op).await, last);
        assert_eq!(r.code, "ErrorInvalidSyncStateData", "{op}");
        assert!(
            r.text
                .as_deref()
                .unwrap_or_default()
                .contains("without a SyncState"),
            "{r:?}"
        );
        assert!(r.state.is_empty() && r.last);
    }
    // MaxChangesReturned past 512: the schema's refusal, a fault
    let (status, body) = e
        .call_as(&alice_token(), &sync_items_op(&folder, None, 513))
        .await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("ErrorSchemaValidation") && body.contains("1 to 512"),
        "{body}"
    );
    // a folder of another mailbox: not this caller's to read
    let bobs = read_sync(
        &e.call(
            r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId><t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:SyncFolderId><m:MaxChangesReturned>10</m:MaxChangesReturned></m:SyncFolderItems>"#,
        )
        .await,
        "IncludesLastItemInRange",
    );
    assert_eq!(bobs.code, "ErrorAccessDenied");
    // an unknown folder
    let gone = read_sync(
        &e.call(&sync_items_op("AAAA", None, 10)).await,
        "IncludesLastItemInRange",
    );
    assert_eq!(gone.code, "ErrorInvalidIdMalformed", "{gone:?}");
}

/// The same roles as FindItem: UserApplication reads, Recoverable Items included without
/// ArchiveApplication (reads there are not writes); without UserApplication both are refused,
/// and an app-only token acts on no mailbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_is_authorized_as_find_item() {
    let e = env().await;
    let purges = r#"<t:DistinguishedFolderId Id="recoverableitemspurges"/>"#;
    let created = e
        .call(&format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId>{purges}</m:SavedItemFolderId><m:Items><t:Message><t:Subject>archived</t:Subject></t:Message></m:Items></m:CreateItem>"#
        ))
        .await;
    let archived = attr_after(&created, "<t:ItemId ", "Id");
    let find = format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds>{purges}</m:ParentFolderIds></m:FindItem>"#
    );
    let sync_purges = format!(
        r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId>{purges}</m:SyncFolderId><m:MaxChangesReturned>10</m:MaxChangesReturned></m:SyncFolderItems>"#
    );
    let hierarchy = r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape></m:SyncFolderHierarchy>"#;
    e.cmdlet(
        "Remove-ManagementRoleAssignment",
        json!({"Identity": "ArchiveApplication-SfBOnline-ApplicationAccount"}),
    )
    .await;
    let found = e.call(&find).await;
    assert!(found.contains(&archived), "{found}");
    let synced = read_sync(&e.call(&sync_purges).await, "IncludesLastItemInRange");
    assert_eq!(synced.code, "NoError");
    assert_eq!(synced.changes.len(), 1);
    assert_eq!(synced.changes[0].1, archived);
    let h = read_sync(&e.call(hierarchy).await, "IncludesLastFolderInRange");
    assert_eq!(h.code, "NoError");
    assert!(h.changes.iter().any(|c| c.2 == "Inbox"), "{h:?}");

    // an app-only bearer: authenticated, but no mailbox to act on
    for op in [sync_purges.as_str(), hierarchy] {
        let (status, body) = e.call_as(&actor_token(), op).await;
        assert_eq!(status, 200);
        assert!(body.contains("ErrorAccessDenied"), "{body}");
    }

    // without UserApplication (ArchiveApplication alone): refused as FindItem is, in the sync
    // response's shape
    e.cmdlet(
        "New-ManagementRoleAssignment",
        json!({"Role": "ArchiveApplication", "User": "SfBOnline-ApplicationAccount"}),
    )
    .await;
    e.cmdlet(
        "Remove-ManagementRoleAssignment",
        json!({"Identity": "UserApplication-SfBOnline-ApplicationAccount"}),
    )
    .await;
    let found = e.call(&find).await;
    assert!(found.contains("ErrorAccessDenied"), "{found}");
    for (op, last) in [
        (sync_purges.as_str(), "IncludesLastItemInRange"),
        (hierarchy, "IncludesLastFolderInRange"),
    ] {
        let r = read_sync(&e.call(op).await, last);
        assert_eq!(r.code, "ErrorAccessDenied", "{op}");
        assert!(
            r.text
                .as_deref()
                .unwrap_or_default()
                .contains("UserApplication"),
            "{r:?}"
        );
        assert!(r.changes.is_empty());
    }
}
