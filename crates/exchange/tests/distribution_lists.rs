//! Private distribution lists (contact groups, `t:DistributionList`) against the real server:
//! created in Contacts, read back with their members, found among the contacts, changed
//! (members appended, set and deleted, renamed), expanded by ExpandDL by their item id, carried
//! by ExportItems and UploadItems; the refusals name what is wrong.

mod common;

use common::{alice_token, attr_after, codes, env, ids};
use ews_proto::ns;
use ews_proto::response::{item_from_element, parse_response};
use ews_proto::xml::Limits;

fn member(addr: &str) -> String {
    format!(
        "<t:Member><t:Mailbox><t:Name>{addr}</t:Name><t:EmailAddress>{addr}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>OneOff</t:MailboxType></t:Mailbox><t:Status>Normal</t:Status></t:Member>"
    )
}

fn get(id: &str) -> String {
    format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
    )
}

/// (display name, subject, member addresses) of the list GetItem answered.
fn read(body: &str) -> (Option<String>, Option<String>, Vec<String>) {
    let r = parse_response(body.as_bytes(), &Limits::default()).unwrap();
    let items = r.messages[0].element.child(ns::MESSAGES, "Items").unwrap();
    let v = item_from_element(&items.children[0]).unwrap();
    let l = v.distribution_list.expect("a distribution list");
    (
        l.display_name,
        v.subject,
        l.members.into_iter().map(|m| m.email).collect(),
    )
}

fn update(id: &str, ck: &str, change: &str) -> String {
    format!(
        r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{ck}"/><t:Updates>{change}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_distribution_lists() {
    let e = env().await;
    let t = alice_token();
    // created without a folder: in Contacts
    let created = e
        .call(&format!(
            r#"<m:CreateItem><m:Items><t:DistributionList><t:DisplayName>Project team</t:DisplayName><t:Members>{}{}</t:Members></t:DistributionList></m:Items></m:CreateItem>"#,
            member("bob@contoso.example"),
            member("pat@fabrikam.example")
        ))
        .await;
    assert_eq!(codes(&created), ["NoError"], "{created}");
    assert!(
        created.contains("<t:DistributionList><t:ItemId "),
        "{created}"
    );
    let (id, _) = ids(&created).remove(0);
    let got = e.call(&get(&id)).await;
    assert_eq!(codes(&got), ["NoError"], "{got}");
    assert!(
        got.contains("<t:ItemClass>IPM.DistList</t:ItemClass>"),
        "{got}"
    );
    assert!(
        got.contains("<t:ContactSource>Store</t:ContactSource>"),
        "{got}"
    );
    assert!(got.contains(r#"<t:Member Key="0">"#), "{got}");
    assert_eq!(
        read(&got),
        (
            Some("Project team".to_owned()),
            Some("Project team".to_owned()),
            vec![
                "bob@contoso.example".to_owned(),
                "pat@fabrikam.example".to_owned()
            ]
        )
    );
    // found among the contacts
    let found = e
        .call(r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="contacts"/></m:ParentFolderIds></m:FindItem>"#)
        .await;
    assert!(found.contains("<t:DistributionList>"), "{found}");
    assert!(
        found.contains("<t:DisplayName>Project team</t:DisplayName>"),
        "{found}"
    );

    // a member appended, the list renamed: its subject follows its name
    let ck = attr_after(&got, "<t:ItemId ", "ChangeKey");
    let changed = e
        .call(&update(
            &id,
            &ck,
            &format!(
                r#"<t:AppendToItemField><t:FieldURI FieldURI="distributionlist:Members"/><t:DistributionList><t:Members>{}</t:Members></t:DistributionList></t:AppendToItemField><t:SetItemField><t:FieldURI FieldURI="contacts:DisplayName"/><t:DistributionList><t:DisplayName>Launch team</t:DisplayName></t:DistributionList></t:SetItemField>"#,
                member("carol@contoso.example")
            ),
        ))
        .await;
    assert_eq!(codes(&changed), ["NoError"], "{changed}");
    let got = e.call(&get(&id)).await;
    let (name, subject, members) = read(&got);
    assert_eq!(name.as_deref(), Some("Launch team"));
    assert_eq!(subject.as_deref(), Some("Launch team"));
    assert_eq!(
        members,
        [
            "bob@contoso.example",
            "pat@fabrikam.example",
            "carol@contoso.example"
        ]
    );

    // ResolveNames finds it by its name: a private list, named by its item id
    let resolved = e
        .call(r#"<m:ResolveNames ReturnFullContactData="false"><m:UnresolvedEntry>Launch</m:UnresolvedEntry></m:ResolveNames>"#)
        .await;
    assert!(
        resolved.contains("<t:Name>Launch team</t:Name><t:RoutingType>MAPIPDL</t:RoutingType><t:MailboxType>PrivateDL</t:MailboxType><t:ItemId "),
        "{resolved}"
    );
    assert_eq!(attr_after(&resolved, "<t:ItemId ", "Id"), id, "{resolved}");

    // ExpandDL by its item id: the members, in order
    let expanded = e
        .call(&format!(
            r#"<m:ExpandDL><m:Mailbox><t:ItemId Id="{id}"/></m:Mailbox></m:ExpandDL>"#
        ))
        .await;
    assert_eq!(codes(&expanded), ["NoError"], "{expanded}");
    assert!(expanded.contains(r#"TotalItemsInView="3""#), "{expanded}");
    let order: Vec<&str> = expanded
        .split("<t:EmailAddress>")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .collect();
    assert_eq!(
        order,
        [
            "bob@contoso.example",
            "pat@fabrikam.example",
            "carol@contoso.example"
        ]
    );

    // carried whole by ExportItems and UploadItems
    let contacts = e
        .call(r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="contacts"/></m:FolderIds></m:GetFolder>"#)
        .await;
    let folder = attr_after(&contacts, "<t:FolderId ", "Id");
    let copy = e.export_and_upload(&t, &id, &folder).await;
    assert_eq!(read(&e.call(&get(&copy)).await).2.len(), 3);

    // the members set anew, then deleted
    let ck = attr_after(&got, "<t:ItemId ", "ChangeKey");
    let set = e
        .call(&update(
            &id,
            &ck,
            &format!(
                r#"<t:SetItemField><t:FieldURI FieldURI="distributionlist:Members"/><t:DistributionList><t:Members>{}</t:Members></t:DistributionList></t:SetItemField>"#,
                member("dave@contoso.example")
            ),
        ))
        .await;
    assert_eq!(codes(&set), ["NoError"], "{set}");
    assert_eq!(read(&e.call(&get(&id)).await).2, ["dave@contoso.example"]);
    let ck = attr_after(&set, "<t:ItemId ", "ChangeKey");
    let cleared = e
        .call(&update(
            &id,
            &ck,
            r#"<t:DeleteItemField><t:FieldURI FieldURI="distributionlist:Members"/></t:DeleteItemField>"#,
        ))
        .await;
    assert_eq!(codes(&cleared), ["NoError"], "{cleared}");
    let got = e.call(&get(&id)).await;
    assert!(read(&got).2.is_empty());
    assert!(got.contains("<t:Members/>"), "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_what_is_wrong() {
    let e = env().await;
    // a list needs a name
    let r = e
        .call(&format!(
            r#"<m:CreateItem><m:Items><t:DistributionList><t:Members>{}</t:Members></t:DistributionList></m:Items></m:CreateItem>"#,
            member("bob@contoso.example")
        ))
        .await;
    assert_eq!(codes(&r), ["ErrorRequiredPropertyMissing"], "{r}");
    // a member needs an address: the request is refused whole
    let (status, body) = e
        .call_as(
            &alice_token(),
            r#"<m:CreateItem><m:Items><t:DistributionList><t:DisplayName>X</t:DisplayName><t:Members><t:Member><t:Mailbox><t:Name>Nobody</t:Name></t:Mailbox></t:Member></t:Members></t:DistributionList></m:Items></m:CreateItem>"#,
        )
        .await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("EmailAddress"), "{body}");
    // a contact has no members; a message is no list to expand
    let contact = e
        .call(r#"<m:CreateItem><m:Items><t:Contact><t:GivenName>Bob</t:GivenName></t:Contact></m:Items></m:CreateItem>"#)
        .await;
    let (cid, ck) = ids(&contact).remove(0);
    let r = e
        .call(&update(
            &cid,
            &ck,
            &format!(
                r#"<t:SetItemField><t:FieldURI FieldURI="distributionlist:Members"/><t:DistributionList><t:Members>{}</t:Members></t:DistributionList></t:SetItemField>"#,
                member("bob@contoso.example")
            ),
        ))
        .await;
    assert_eq!(codes(&r), ["ErrorInvalidPropertySet"], "{r}");
    assert!(r.contains("not a distribution list"), "{r}");
    let r = e
        .call(&format!(
            r#"<m:ExpandDL><m:Mailbox><t:ItemId Id="{cid}"/></m:Mailbox></m:ExpandDL>"#
        ))
        .await;
    assert_eq!(codes(&r), ["ErrorNameResolutionNoResults"], "{r}");
}
