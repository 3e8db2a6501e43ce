//! Drafts and MIME content over HTTP against the real server: a message saved with SaveOnly is a
//! draft (`t:IsDraft`) unless PR_MESSAGE_FLAGS says it was sent; a draft's recipients and From
//! change with UpdateItem (set, append, delete) and a sent or received message refuses that
//! (ErrorInvalidPropertyUpdateSentMessage); GetItem writes `t:MimeContent`; CreateItem and
//! UpdateItem read it (properties beside it win); UpdateItem with SendAndSaveCopy delivers to the
//! recipients as changed.

mod common;

use base64::Engine;
use common::{ALICE, BOB, Env, Options, bob_token, codes, ids, start, user_token};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

async fn env() -> Env {
    start(Options {
        mailboxes: &[
            ("Alice", ALICE),
            ("Bob", BOB),
            ("Carol", "carol@contoso.example"),
        ],
        ..Options::default()
    })
    .await
}

fn mbx(addr: &str) -> String {
    format!("<t:Mailbox><t:EmailAddress>{addr}</t:EmailAddress></t:Mailbox>")
}

fn save(folder: &str, message: &str) -> String {
    format!(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="{folder}"/></m:SavedItemFolderId><m:Items>{message}</m:Items></m:CreateItem>"#
    )
}

fn update(id: &str, disposition: &str, changes: &str) -> String {
    format!(
        r#"<m:UpdateItem MessageDisposition="{disposition}" ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}"/><t:Updates>{changes}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    )
}

fn set(field: &str, value: &str) -> String {
    format!(
        r#"<t:SetItemField><t:FieldURI FieldURI="{field}"/><t:Message>{value}</t:Message></t:SetItemField>"#
    )
}

const EML: &str = "From: Jürgen <j@fabrikam.example>\r\n\
To: alice@contoso.example\r\n\
Cc: Bob <bob@contoso.example>\r\n\
Subject: Imported report\r\n\
Date: Tue, 1 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <imported-1@fabrikam.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Numbers attached.\r\n\
--b1\r\n\
Content-Type: text/csv; name=\"q3.csv\"\r\n\
Content-Disposition: attachment; filename=\"q3.csv\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
YSxiCjEsMgo=\r\n\
--b1--\r\n";

/// The addresses of one recipient line of an item in a response.
fn line(body: &str, name: &str) -> Vec<String> {
    let Some(list) = body
        .split(&format!("<t:{name}>"))
        .nth(1)
        .and_then(|s| s.split(&format!("</t:{name}>")).next())
    else {
        return Vec::new();
    };
    list.split("<t:EmailAddress>")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_owned)
        .collect()
}

impl Env {
    async fn get(&self, token: &str, id: &str, shape: &str) -> String {
        self.call_with(
            token,
            &format!(
                r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape>{shape}</m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
            ),
        )
        .await
    }

    async fn draft(&self) -> String {
        let body = self
            .call(&save(
                "drafts",
                &format!(
                    r#"<t:Message><t:Subject>Plan</t:Subject><t:Body BodyType="Text">v1</t:Body><t:ToRecipients>{}</t:ToRecipients><t:BccRecipients>{}</t:BccRecipients></t:Message>"#,
                    mbx(BOB),
                    mbx("dave@contoso.example")
                ),
            ))
            .await;
        assert_eq!(codes(&body), ["NoError"], "{body}");
        ids(&body).remove(0).0
    }

    async fn inbox_ids(&self, token: &str) -> Vec<String> {
        let body = self
            .call_with(
                token,
                r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
            )
            .await;
        ids(&body).into_iter().map(|(i, _)| i).collect()
    }
}

#[tokio::test]
async fn saved_messages_are_drafts_unless_flagged_as_sent() {
    let e = env().await;
    let id = e.draft().await;
    let got = e.get(&common::alice_token(), &id, "").await;
    assert!(got.contains("<t:IsDraft>true</t:IsDraft>"), "{got}");
    assert!(
        got.contains("<t:BccRecipients><t:Mailbox><t:EmailAddress>dave@contoso.example"),
        "the owner sees the Bcc line: {got}"
    );
    // an importer sets PR_MESSAGE_FLAGS (0x0E07) to read, not unsent
    let body = e
        .call(&save(
            "inbox",
            r#"<t:Message><t:Subject>Old mail</t:Subject><t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="3591" PropertyType="Integer"/><t:Value>1</t:Value></t:ExtendedProperty></t:Message>"#,
        ))
        .await;
    let old = ids(&body).remove(0).0;
    let got = e.get(&common::alice_token(), &old, "").await;
    assert!(got.contains("<t:IsDraft>false</t:IsDraft>"), "{got}");
    // IsDraft is the server's to set
    let body = e
        .call(&update(
            &id,
            "SaveOnly",
            r#"<t:SetItemField><t:FieldURI FieldURI="item:IsDraft"/><t:Message><t:IsDraft>false</t:IsDraft></t:Message></t:SetItemField>"#,
        ))
        .await;
    assert_eq!(codes(&body), ["ErrorInvalidPropertySet"], "{body}");
}

#[tokio::test]
async fn a_drafts_recipients_change_and_a_received_messages_do_not() {
    let e = env().await;
    let id = e.draft().await;
    let changes = [
        set(
            "message:ToRecipients",
            &format!("<t:ToRecipients>{}</t:ToRecipients>", mbx("carol@contoso.example")),
        ),
        format!(
            r#"<t:AppendToItemField><t:FieldURI FieldURI="message:CcRecipients"/><t:Message><t:CcRecipients>{}</t:CcRecipients></t:Message></t:AppendToItemField>"#,
            mbx(BOB)
        ),
        r#"<t:DeleteItemField><t:FieldURI FieldURI="message:BccRecipients"/></t:DeleteItemField>"#
            .to_owned(),
        set("message:From", &format!("<t:From>{}</t:From>", mbx(ALICE))),
    ]
    .concat();
    let body = e.call(&update(&id, "SaveOnly", &changes)).await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    let got = e.get(&common::alice_token(), &id, "").await;
    assert_eq!(
        line(&got, "ToRecipients"),
        ["carol@contoso.example"],
        "{got}"
    );
    assert_eq!(line(&got, "CcRecipients"), [BOB], "{got}");
    assert!(!got.contains("dave@contoso.example"), "Bcc removed: {got}");
    assert!(got.contains("<t:From>"), "{got}");

    // Bob receives it; his copy is no draft, and its recipients are not his to change
    let body = e
        .call(&format!(
            r#"<m:SendItem SaveItemToFolder="true"><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:SendItem>"#
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    let received = e.inbox_ids(&bob_token()).await.remove(0);
    let got = e.get(&bob_token(), &received, "").await;
    assert!(got.contains("<t:IsDraft>false</t:IsDraft>"), "{got}");
    let body = e
        .call_with(
            &bob_token(),
            &update(
                &received,
                "SaveOnly",
                &set(
                    "message:ToRecipients",
                    &format!("<t:ToRecipients>{}</t:ToRecipients>", mbx(BOB)),
                ),
            ),
        )
        .await;
    assert_eq!(
        codes(&body),
        ["ErrorInvalidPropertyUpdateSentMessage"],
        "{body}"
    );
    // and Carol got hers (To), while the draft in Sent Items is no draft any more
    assert_eq!(
        e.inbox_ids(&user_token("carol@contoso.example"))
            .await
            .len(),
        1
    );
    let got = e.get(&common::alice_token(), &id, "").await;
    assert!(got.contains("<t:IsDraft>false</t:IsDraft>"), "{got}");
}

#[tokio::test]
async fn update_and_send_delivers_to_the_recipients_as_changed() {
    let e = env().await;
    let id = e.draft().await;
    let body = e
        .call(&update(
            &id,
            "SendAndSaveCopy",
            &set(
                "message:ToRecipients",
                &format!(
                    "<t:ToRecipients>{}</t:ToRecipients>",
                    mbx("carol@contoso.example")
                ),
            ),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(
        e.inbox_ids(&user_token("carol@contoso.example"))
            .await
            .len(),
        1
    );
    assert!(
        e.inbox_ids(&bob_token()).await.is_empty(),
        "Bob was removed"
    );
}

#[tokio::test]
async fn get_item_writes_mime_content() {
    let e = env().await;
    let id = e.draft().await;
    let body = e
        .call(&format!(
            r#"<m:CreateAttachment><m:ParentItemId Id="{id}"/><m:Attachments><t:FileAttachment><t:Name>notes.txt</t:Name><t:ContentType>text/plain</t:ContentType><t:Content>{}</t:Content></t:FileAttachment></m:Attachments></m:CreateAttachment>"#,
            B64.encode("attached words")
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    for shape in [
        "<t:IncludeMimeContent>true</t:IncludeMimeContent>",
        r#"<t:AdditionalProperties><t:FieldURI FieldURI="item:MimeContent"/></t:AdditionalProperties>"#,
    ] {
        let got = e.get(&common::alice_token(), &id, shape).await;
        let b64 = got
            .split(r#"<t:MimeContent CharacterSet="UTF-8">"#)
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or_else(|| panic!("no MimeContent: {got}"));
        let mime = String::from_utf8(B64.decode(b64).unwrap()).unwrap();
        assert!(mime.contains("Subject: Plan"), "{mime}");
        assert!(mime.contains("bob@contoso.example"), "{mime}");
        assert!(mime.contains("notes.txt"), "{mime}");
        assert!(mime.contains("attached words"), "{mime}");
        // a draft has no InternetMessageId yet: the one written is stable, never made up anew
        assert!(
            mime.contains(&format!("Message-ID: <{id}@contoso.example>")),
            "{mime}"
        );
        // first in the item, as the schema orders it
        let item = got.split("<t:Message>").nth(1).unwrap();
        assert!(item.starts_with("<t:MimeContent"), "{item}");
    }
    // without asking, none
    let got = e.get(&common::alice_token(), &id, "").await;
    assert!(!got.contains("MimeContent"), "{got}");
}

#[tokio::test]
async fn create_item_reads_mime_content_and_properties_beside_it_win() {
    let e = env().await;
    let body = e
        .call(&save(
            "inbox",
            &format!(
                r#"<t:Message><t:MimeContent CharacterSet="UTF-8">{}</t:MimeContent></t:Message><t:Message><t:MimeContent CharacterSet="UTF-8">{}</t:MimeContent><t:Subject>Renamed</t:Subject></t:Message>"#,
                B64.encode(EML),
                B64.encode(EML)
            ),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError", "NoError"], "{body}");
    let created = ids(&body);
    let got = e.get(&common::alice_token(), &created[0].0, "").await;
    assert!(
        got.contains("<t:Subject>Imported report</t:Subject>"),
        "{got}"
    );
    assert!(got.contains("Numbers attached."), "{got}");
    assert!(got.contains("<t:Name>q3.csv</t:Name>"), "{got}");
    assert!(
        got.contains("<t:HasAttachments>true</t:HasAttachments>"),
        "{got}"
    );
    assert!(got.contains("j@fabrikam.example"), "{got}");
    assert!(got.contains("imported-1@fabrikam.example"), "{got}");
    assert!(
        got.contains("2026-12-01T10:00:00Z"),
        "DateTimeSent from Date: {got}"
    );
    let got = e.get(&common::alice_token(), &created[1].0, "").await;
    assert!(got.contains("<t:Subject>Renamed</t:Subject>"), "{got}");

    // what is no message is refused, alone
    let body = e
        .call(&save(
            "inbox",
            &format!(
                r#"<t:Message><t:MimeContent>{}</t:MimeContent></t:Message><t:Message><t:Subject>fine</t:Subject></t:Message>"#,
                B64.encode("\r\n\r\nno headers")
            ),
        ))
        .await;
    assert_eq!(
        codes(&body),
        ["ErrorMimeContentInvalid", "NoError"],
        "{body}"
    );
}

#[tokio::test]
async fn update_item_sets_a_drafts_mime_content() {
    let e = env().await;
    let id = e.draft().await;
    let body = e
        .call(&update(
            &id,
            "SaveOnly",
            &[
                set(
                    "item:MimeContent",
                    &format!(
                        r#"<t:MimeContent CharacterSet="UTF-8">{}</t:MimeContent>"#,
                        B64.encode(EML)
                    ),
                ),
                // a change after it applies on top
                set("item:Subject", "<t:Subject>Final</t:Subject>"),
            ]
            .concat(),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    let got = e.get(&common::alice_token(), &id, "").await;
    assert!(got.contains("<t:Subject>Final</t:Subject>"), "{got}");
    assert!(got.contains("Numbers attached."), "{got}");
    assert!(got.contains("<t:Name>q3.csv</t:Name>"), "{got}");
    assert!(
        !got.contains("dave@contoso.example"),
        "the MIME has no Bcc: {got}"
    );
    assert!(got.contains("<t:IsDraft>true</t:IsDraft>"), "{got}");
    // a received message's MIME content is not changed
    let body = e
        .call(&save(
            "inbox",
            r#"<t:Message><t:Subject>Old</t:Subject><t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x0E07" PropertyType="Integer"/><t:Value>1</t:Value></t:ExtendedProperty></t:Message>"#,
        ))
        .await;
    let old = ids(&body).remove(0).0;
    let body = e
        .call(&update(
            &old,
            "SaveOnly",
            &set(
                "item:MimeContent",
                &format!("<t:MimeContent>{}</t:MimeContent>", B64.encode(EML)),
            ),
        ))
        .await;
    assert_eq!(
        codes(&body),
        ["ErrorInvalidPropertyUpdateSentMessage"],
        "{body}"
    );
}

/// Without `m:SavedItemFolderId`, a saved message goes to Drafts and a calendar item to the
/// Calendar, as Exchange saves them.
#[tokio::test]
async fn items_without_a_saved_folder_go_where_exchange_puts_them() {
    let e = env().await;
    let find = |folder: &str| {
        format!(
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds></m:FindItem>"#
        )
    };
    let body = e
        .call(r#"<m:CreateItem SendMeetingInvitations="SendToNone"><m:Items><t:CalendarItem><t:Subject>Dentist</t:Subject><t:Start>2026-12-01T10:00:00Z</t:Start><t:End>2026-12-01T11:00:00Z</t:End></t:CalendarItem></m:Items></m:CreateItem>"#)
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    let appointment = ids(&body).remove(0).0;
    let body = e
        .call(r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Note</t:Subject></t:Message></m:Items></m:CreateItem>"#)
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    let note = ids(&body).remove(0).0;
    let calendar = e.call(&find("calendar")).await;
    let drafts = e.call(&find("drafts")).await;
    assert!(
        calendar.contains(&appointment) && !drafts.contains(&appointment),
        "{calendar}"
    );
    assert!(
        drafts.contains(&note) && !calendar.contains(&note),
        "{drafts}"
    );
}
