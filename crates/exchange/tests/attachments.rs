//! File attachments over HTTP against the real server, with S2S tokens (an actor signed by a
//! key of a trusted auth server, wrapped in an outer token naming alice): stored with their
//! item by CreateItem, added by CreateAttachment, read by GetAttachment (a large one too),
//! deleted by DeleteAttachment, each change a new change key and a Modified event; refusals per
//! attachment; and authorization as the item's (GetItem's rules to read, UpdateItem's to
//! write, Recoverable Items needing ArchiveApplication).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::routing::get;
use base64::Engine as _;
use ews_proto::ns;
use ews_proto::response::{AttachmentView, attachment_from_element, parse_response};
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

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn file_attachment(name: &str, extra: &str, content: &[u8]) -> String {
    format!(
        "<t:FileAttachment><t:Name>{name}</t:Name>{extra}<t:Content>{}</t:Content></t:FileAttachment>",
        b64(content)
    )
}

/// (ResponseClass, ResponseCode, MessageText) of every response message.
fn messages(body: &str) -> Vec<(String, String, String)> {
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

fn codes(body: &str) -> Vec<String> {
    messages(body).into_iter().map(|(_, c, _)| c).collect()
}

/// The `t:FileAttachment`s of every message's `m:Attachments` (GetAttachment, CreateAttachment),
/// or of the items' `t:Attachments` (GetItem, CreateItem), read with this workspace's reader.
fn attachments(body: &str) -> Vec<AttachmentView> {
    let r = parse_response(body.as_bytes(), &Limits::default()).unwrap();
    let mut out = Vec::new();
    for m in &r.messages {
        if let Some(list) = m.element.child(ns::MESSAGES, "Attachments") {
            for a in &list.children {
                out.push(attachment_from_element(a).unwrap());
            }
        }
        if let Some(items) = m.element.child(ns::MESSAGES, "Items") {
            for item in &items.children {
                if let Some(list) = item.child(ns::TYPES, "Attachments") {
                    for a in &list.children {
                        out.push(attachment_from_element(a).unwrap());
                    }
                }
            }
        }
    }
    out
}

fn get_attachment(ids: &[&str]) -> String {
    let ids: String = ids
        .iter()
        .map(|i| format!(r#"<t:AttachmentId Id="{i}"/>"#))
        .collect();
    format!("<m:GetAttachment><m:AttachmentIds>{ids}</m:AttachmentIds></m:GetAttachment>")
}

fn delete_attachment(ids: &[&str]) -> String {
    let ids: String = ids
        .iter()
        .map(|i| format!(r#"<t:AttachmentId Id="{i}"/>"#))
        .collect();
    format!("<m:DeleteAttachment><m:AttachmentIds>{ids}</m:AttachmentIds></m:DeleteAttachment>")
}

fn create_attachment(item: &str, ck: &str, attachments: &str) -> String {
    format!(
        r#"<m:CreateAttachment><m:ParentItemId Id="{item}" ChangeKey="{ck}"/><m:Attachments>{attachments}</m:Attachments></m:CreateAttachment>"#
    )
}

fn get_item(id: &str, shape: &str) -> String {
    format!(
        r#"<m:GetItem><m:ItemShape>{shape}</m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
    )
}

const ALL: &str = "<t:BaseShape>AllProperties</t:BaseShape>";

/// Every (RootItemId, RootItemChangeKey) pair in a response, in order.
fn roots(body: &str) -> Vec<(String, String)> {
    body.split("RootItemId=\"")
        .skip(1)
        .map(|s| {
            let id = s.split('"').next().unwrap_or_default().to_owned();
            let ck = s
                .split("RootItemChangeKey=\"")
                .nth(1)
                .and_then(|v| v.split('"').next())
                .unwrap_or_default()
                .to_owned();
            (id, ck)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_over_http() {
    let e = env().await;
    // CreateItem with a recording and an inline image: stored with the item, their ids answered
    // in the order sent
    let wav = b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec();
    let png = b"\x89PNG\r\n\x1a\n".to_vec();
    let t = e
        .call(&format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="voicemail"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>Voice mail from Bob</t:Subject><t:Attachments>{}{}</t:Attachments></t:Message></m:Items></m:CreateItem>"#,
            file_attachment("audio.wav", "<t:ContentType>audio/wav</t:ContentType>", &wav),
            file_attachment(
                "logo.png",
                "<t:ContentType>image/png</t:ContentType><t:ContentId>logo@x</t:ContentId><t:IsInline>true</t:IsInline>",
                &png
            ),
        ))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let item = attr_after(&t, "<t:ItemId ", "Id");
    let created: Vec<String> = attachments(&t).into_iter().map(|a| a.id).collect();
    assert_eq!(created.len(), 2, "{t}");

    // GetItem lists them (no content) and says it has attachments; FindItem only says so
    let g = e.call(&get_item(&item, ALL)).await;
    let listed = attachments(&g);
    assert_eq!(
        listed.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        created
    );
    assert_eq!(listed[0].name.as_deref(), Some("audio.wav"));
    assert_eq!(listed[0].size, Some(wav.len() as u64));
    assert!(!listed[0].is_inline && listed[1].is_inline);
    assert!(listed.iter().all(|a| a.content.is_none()));
    assert!(
        g.contains("<t:HasAttachments>true</t:HasAttachments>"),
        "{g}"
    );
    let f = e
        .call(r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="voicemail"/></m:ParentFolderIds></m:FindItem>"#)
        .await;
    assert!(
        f.contains("<t:HasAttachments>true</t:HasAttachments>") && !f.contains("<t:Attachments>"),
        "{f}"
    );

    // GetAttachment: the content, whole
    let t = e.call(&get_attachment(&[&created[1], &created[0]])).await;
    assert_eq!(codes(&t), ["NoError", "NoError"], "{t}");
    let got = attachments(&t);
    assert_eq!(got[0].content.as_deref(), Some(png.as_slice()));
    assert_eq!(got[0].content_id.as_deref(), Some("logo@x"));
    assert_eq!(got[1].content.as_deref(), Some(wav.as_slice()));
    assert_eq!(got[1].content_type.as_deref(), Some("audio/wav"));

    // a pull subscription on the folder sees what follows as modifications of the item
    let s = e
        .call(r#"<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="voicemail"/></t:FolderIds><t:EventTypes><t:EventType>ModifiedEvent</t:EventType></t:EventTypes><t:Timeout>10</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#)
        .await;
    let text = |b: &str, el: &str| {
        b.split(&format!("<m:{el}>"))
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or_else(|| panic!("no {el}: {b}"))
            .to_owned()
    };
    let (sub, watermark) = (text(&s, "SubscriptionId"), text(&s, "Watermark"));

    // CreateAttachment: one without content fails alone; the item's new change key is answered
    let before = attr_after(&g, "<t:ItemId ", "ChangeKey");
    let t = e
        .call(&create_attachment(
            &item,
            &before,
            &format!(
                "{}<t:FileAttachment><t:Name>empty</t:Name></t:FileAttachment>{}",
                file_attachment("notes.txt", "", b"call back"),
                file_attachment("more.txt", "", b"and again"),
            ),
        ))
        .await;
    assert_eq!(
        codes(&t),
        ["NoError", "ErrorRequiredPropertyMissing", "NoError"],
        "{t}"
    );
    let rs = roots(&t);
    assert_eq!(rs.len(), 2, "{t}");
    assert!(
        rs.iter()
            .all(|(id, ck)| *id == item && *ck != before && !ck.is_empty())
    );
    let added: Vec<String> = attachments(&t).into_iter().map(|a| a.id).collect();
    let g = e.call(&get_item(&item, ALL)).await;
    assert_eq!(attr_after(&g, "<t:ItemId ", "ChangeKey"), rs[0].1);
    assert_eq!(attachments(&g).len(), 4);
    let ev = e
        .call(&format!(
            "<m:GetEvents><m:SubscriptionId>{sub}</m:SubscriptionId><m:Watermark>{watermark}</m:Watermark></m:GetEvents>"
        ))
        .await;
    assert!(
        ev.contains("<t:ModifiedEvent>") && ev.contains(&item),
        "{ev}"
    );

    // DeleteAttachment: the item with its new change key; gone afterwards
    let t = e.call(&delete_attachment(&[&added[0], "garbage"])).await;
    assert_eq!(codes(&t), ["NoError", "ErrorInvalidIdMalformed"], "{t}");
    let (root, ck) = roots(&t).remove(0);
    assert_eq!(root, item);
    assert_ne!(ck, rs[0].1);
    let g = e.call(&get_item(&item, ALL)).await;
    assert_eq!(attr_after(&g, "<t:ItemId ", "ChangeKey"), ck);
    let t = e.call(&get_attachment(&[&added[0], &added[1]])).await;
    assert_eq!(codes(&t), ["ErrorItemNotFound", "NoError"], "{t}");
    let t = e.call(&delete_attachment(&[&added[0]])).await;
    assert_eq!(codes(&t), ["ErrorItemNotFound"], "{t}");

    // another mailbox's attachment is not found; an item id is no attachment id
    let bob = mailbox_key(&e, "bob@contoso.example").await;
    let bobs =
        e.ex.mailbox_store()
            .create_items(
                &bob,
                mailbox::FolderSel::distinguished("inbox"),
                vec![mailbox::NewItem {
                    attachments: vec![mailbox::NewAttachment {
                        content: b"bob's".to_vec(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            )
            .await
            .unwrap()
            .remove(0);
    let bobs_attachment = bobs.attachments[0].id.clone();
    let t = e.call(&get_attachment(&[&bobs_attachment, &item])).await;
    assert_eq!(
        codes(&t),
        ["ErrorItemNotFound", "ErrorInvalidIdMalformed"],
        "{t}"
    );
    let t = e.call(&delete_attachment(&[&bobs_attachment])).await;
    assert_eq!(codes(&t), ["ErrorItemNotFound"], "{t}");
    let t = e
        .call(&create_attachment(
            &bobs.id,
            "",
            &file_attachment("x", "", b"x"),
        ))
        .await;
    assert_eq!(codes(&t), ["ErrorItemNotFound"], "{t}");

    // an item attached to an item: valid EWS, not supported (a fault naming what is)
    let (status, body) = e
        .call_as(
            &alice_token(),
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Attachments><t:ItemAttachment><t:Name>fwd</t:Name><t:Message/></t:ItemAttachment></t:Attachments></t:Message></m:Items></m:CreateItem>"#,
        )
        .await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("ErrorInvalidOperation") && body.contains("t:FileAttachment"),
        "{body}"
    );

    // a large attachment: what fits one request (16 MiB of body, base64) goes in and comes back
    // whole
    let large: Vec<u8> = (0..11 * 1024 * 1024u32).map(|n| (n % 253) as u8).collect();
    let t = e
        .call(&create_attachment(
            &item,
            "",
            &file_attachment("large.bin", "", &large),
        ))
        .await;
    assert_eq!(codes(&t), ["NoError"]);
    let id = attachments(&t).remove(0).id;
    let t = e.call(&get_attachment(&[&id])).await;
    let got = attachments(&t).remove(0);
    assert_eq!(got.size, Some(large.len() as u64));
    assert!(
        got.content.as_deref() == Some(large.as_slice()),
        "content differs"
    );
    // and the item's size counts its attachments
    let g = e.call(&get_item(&item, ALL)).await;
    let size: u64 = g
        .split("<t:Size>")
        .filter_map(|s| s.split('<').next()?.parse().ok())
        .last()
        .unwrap();
    assert!(size >= large.len() as u64 + 30, "{size}");
}

async fn mailbox_key(e: &Env, smtp: &str) -> mailbox::MailboxKey {
    let rows: Vec<Value> =
        e.ex.run_cmdlet(
            "Get-Mailbox",
            json!({"Identity": smtp}).as_object().unwrap().clone(),
        )
        .await
        .unwrap();
    mailbox::MailboxKey::new(rows[0]["Guid"].as_str().unwrap()).unwrap()
}

/// Reading an attachment is a read of its item (UserApplication; Recoverable Items included
/// without ArchiveApplication); adding or deleting one is a write of its item (UserApplication,
/// and ArchiveApplication under Recoverable Items); an app-only token acts on no mailbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_authorized_as_their_item() {
    let e = env().await;
    let create_in = |folder: &str| {
        format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="{folder}"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>kept</t:Subject><t:Attachments>{}</t:Attachments></t:Message></m:Items></m:CreateItem>"#,
            file_attachment("chat.txt", "", b"archived chat")
        )
    };
    let t = e.call(&create_in("recoverableitemspurges")).await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let archived = attr_after(&t, "<t:ItemId ", "Id");
    let archived_attachment = attachments(&t).remove(0).id;
    let t = e.call(&create_in("inbox")).await;
    let inbox_item = attr_after(&t, "<t:ItemId ", "Id");
    let inbox_attachment = attachments(&t).remove(0).id;

    // without ArchiveApplication: Recoverable Items is readable, not writable
    e.cmdlet(
        "Remove-ManagementRoleAssignment",
        json!({"Identity": "ArchiveApplication-SfBOnline-ApplicationAccount"}),
    )
    .await;
    let t = e.call(&get_attachment(&[&archived_attachment])).await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    for op in [
        create_attachment(&archived, "", &file_attachment("x", "", b"x")),
        delete_attachment(&[&archived_attachment]),
    ] {
        let m = messages(&e.call(&op).await);
        assert_eq!(m[0].1, "ErrorAccessDenied", "{op}: {m:?}");
        assert!(m[0].2.contains("ArchiveApplication"), "{m:?}");
    }
    let g = e.call(&get_item(&archived, ALL)).await;
    assert_eq!(attachments(&g).len(), 1, "nothing was written: {g}");
    // elsewhere UserApplication is enough
    let t = e
        .call(&create_attachment(
            &inbox_item,
            "",
            &file_attachment("y", "", b"y"),
        ))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");

    // an app-only bearer: authenticated, but no mailbox to act on
    for op in [
        get_attachment(&[&inbox_attachment]),
        delete_attachment(&[&inbox_attachment]),
        create_attachment(&inbox_item, "", &file_attachment("z", "", b"z")),
    ] {
        let (status, body) = e.call_as(&actor_token(), &op).await;
        assert_eq!(status, 200);
        assert_eq!(codes(&body)[0], "ErrorAccessDenied", "{body}");
    }

    // ArchiveApplication alone (no UserApplication): nothing, Recoverable Items included
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
    for op in [
        get_attachment(&[&archived_attachment]),
        create_attachment(&archived, "", &file_attachment("x", "", b"x")),
        delete_attachment(&[&archived_attachment]),
    ] {
        let m = messages(&e.call(&op).await);
        assert_eq!(m[0].1, "ErrorAccessDenied", "{op}: {m:?}");
        assert!(m[0].2.contains("UserApplication"), "{m:?}");
    }

    // both roles: the archive's attachments can change
    e.cmdlet(
        "New-ManagementRoleAssignment",
        json!({"Role": "UserApplication", "User": "SfBOnline-ApplicationAccount"}),
    )
    .await;
    let t = e.call(&delete_attachment(&[&archived_attachment])).await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
}
