//! Contacts over EWS against the real server: a contact created without a folder lands in
//! Contacts with a derived display name, reads back whole, changes one property or one
//! dictionary entry at a time (and keeps the rest), and the refusals (a read-only property, a
//! path its item element does not set, an append, a contact property on a message, a stale
//! change key with NeverOverwrite) each change nothing. ResolveNames finds contacts by the scope
//! asked for.

mod common;

use common::{alice_token, codes, env, ids};

const CAROL: &str = r#"<m:CreateItem><m:Items><t:Contact><t:GivenName>Carol</t:GivenName><t:CompanyName>Fabrikam</t:CompanyName><t:EmailAddresses><t:Entry Key="EmailAddress1">carol@fabrikam.example</t:Entry></t:EmailAddresses><t:PhoneNumbers><t:Entry Key="MobilePhone">+1 555 0100</t:Entry><t:Entry Key="HomePhone">+1 555 0102</t:Entry></t:PhoneNumbers><t:Surname>Jones</t:Surname></t:Contact></m:Items></m:CreateItem>"#;

fn get(id: &str) -> String {
    format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
    )
}

fn update(id: &str, change_key: Option<&str>, resolution: &str, changes: &str) -> String {
    let ck = change_key.map_or(String::new(), |c| format!(r#" ChangeKey="{c}""#));
    format!(
        r#"<m:UpdateItem ConflictResolution="{resolution}"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}"{ck}/><t:Updates>{changes}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    )
}

fn set(uri: &str, contact: &str) -> String {
    format!(r#"<t:SetItemField>{uri}<t:Contact>{contact}</t:Contact></t:SetItemField>"#)
}

fn resolve(entry: &str, scope: Option<&str>) -> String {
    let scope = scope.map_or(String::new(), |s| format!(r#" SearchScope="{s}""#));
    format!(
        r#"<m:ResolveNames ReturnFullContactData="true"{scope}><m:UnresolvedEntry>{entry}</m:UnresolvedEntry></m:ResolveNames>"#
    )
}

#[tokio::test]
async fn a_contact_is_kept_changed_by_property_and_resolved() {
    let e = env().await;
    let t = alice_token();
    let created = e.call_with(&t, CAROL).await;
    assert_eq!(codes(&created), ["NoError"], "{created}");
    assert!(created.contains("<t:Contact><t:ItemId"), "{created}");
    let (id, ck) = ids(&created).remove(0);

    // no SavedItemFolderId: in Contacts, with the display name and subject derived
    let listed = e
        .call_with(
            &t,
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="contacts:DisplayName"/><t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress1"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="contacts"/></m:ParentFolderIds></m:FindItem>"#,
        )
        .await;
    assert!(
        listed.contains("<t:DisplayName>Carol Jones</t:DisplayName>")
            && listed.contains(r#"<t:Entry Key="EmailAddress1">carol@fabrikam.example</t:Entry>"#)
            && !listed.contains("MobilePhone"),
        "{listed}"
    );
    let got = e.call_with(&t, &get(&id)).await;
    for want in [
        "<t:ItemClass>IPM.Contact</t:ItemClass>",
        "<t:Subject>Carol Jones</t:Subject>",
        "<t:GivenName>Carol</t:GivenName>",
        "<t:CompanyName>Fabrikam</t:CompanyName>",
        r#"<t:Entry Key="MobilePhone">+1 555 0100</t:Entry>"#,
        "<t:ContactSource>Store</t:ContactSource>",
        "<t:Surname>Jones</t:Surname>",
    ] {
        assert!(got.contains(want), "{want}: {got}");
    }

    // one entry set, one deleted, one plain property changed: the rest kept, the subject follows
    let changed = e
        .call_with(
            &t,
            &update(
                &id,
                Some(&ck),
                "AutoResolve",
                &format!(
                    "{}{}{}",
                    set(
                        r#"<t:IndexedFieldURI FieldURI="contacts:PhoneNumber" FieldIndex="MobilePhone"/>"#,
                        r#"<t:PhoneNumbers><t:Entry Key="MobilePhone">+1 555 0199</t:Entry></t:PhoneNumbers>"#
                    ),
                    r#"<t:DeleteItemField><t:IndexedFieldURI FieldURI="contacts:PhoneNumber" FieldIndex="HomePhone"/></t:DeleteItemField>"#,
                    set(
                        r#"<t:FieldURI FieldURI="contacts:DisplayName"/>"#,
                        "<t:DisplayName>Carol J.</t:DisplayName>"
                    ),
                ),
            ),
        )
        .await;
    assert_eq!(codes(&changed), ["NoError"], "{changed}");
    let (_, ck2) = ids(&changed).remove(0);
    assert_ne!(ck2, ck);
    let got = e.call_with(&t, &get(&id)).await;
    for want in [
        r#"<t:Entry Key="MobilePhone">+1 555 0199</t:Entry>"#,
        "<t:DisplayName>Carol J.</t:DisplayName>",
        "<t:Subject>Carol J.</t:Subject>",
        "<t:CompanyName>Fabrikam</t:CompanyName>",
    ] {
        assert!(got.contains(want), "{want}: {got}");
    }
    assert!(!got.contains("HomePhone"), "{got}");

    // refusals, each changing nothing
    let refusals = [
        (
            // a read-only property
            set(
                r#"<t:FieldURI FieldURI="contacts:CompleteName"/>"#,
                "<t:CompleteName><t:FirstName>X</t:FirstName></t:CompleteName>",
            ),
            "ErrorInvalidPropertySet",
        ),
        (
            // the path names what the item element does not set
            set(
                r#"<t:FieldURI FieldURI="contacts:JobTitle"/>"#,
                "<t:Department>Sales</t:Department>",
            ),
            "ErrorUpdatePropertyMismatch",
        ),
        (
            // an unknown phone key
            set(
                r#"<t:IndexedFieldURI FieldURI="contacts:PhoneNumber" FieldIndex="SatellitePhone"/>"#,
                r#"<t:PhoneNumbers><t:Entry Key="MobilePhone">1</t:Entry></t:PhoneNumbers>"#,
            ),
            "ErrorInvalidPropertyRequest",
        ),
        (
            r#"<t:AppendToItemField><t:FieldURI FieldURI="contacts:Children"/><t:Contact><t:Children><t:String>Ann</t:String></t:Children></t:Contact></t:AppendToItemField>"#.to_owned(),
            "ErrorInvalidPropertyAppend",
        ),
    ];
    for (change, code) in &refusals {
        let r = e
            .call_with(&t, &update(&id, None, "AlwaysOverwrite", change))
            .await;
        assert_eq!(codes(&r), [*code], "{change}: {r}");
    }
    // a stale change key with NeverOverwrite
    let r = e
        .call_with(
            &t,
            &update(
                &id,
                Some(&ck),
                "NeverOverwrite",
                &set(
                    r#"<t:FieldURI FieldURI="contacts:JobTitle"/>"#,
                    "<t:JobTitle>CEO</t:JobTitle>",
                ),
            ),
        )
        .await;
    assert_eq!(codes(&r), ["ErrorIrresolvableConflict"], "{r}");
    let after = e.call_with(&t, &get(&id)).await;
    assert!(after.contains(&format!(r#"ChangeKey="{ck2}""#)), "{after}");
    assert!(
        !after.contains("CEO") && !after.contains("Sales"),
        "{after}"
    );

    // a contact property on a message: not a contact
    let msg = e
        .call_with(
            &t,
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Note</t:Subject></t:Message></m:Items></m:CreateItem>"#,
        )
        .await;
    let (mid, _) = ids(&msg).remove(0);
    let r = e
        .call_with(
            &t,
            &r#"<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="MID"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="contacts:JobTitle"/><t:Contact><t:JobTitle>CEO</t:JobTitle></t:Contact></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
                .replace("MID", &mid),
        )
        .await;
    assert_eq!(codes(&r), ["ErrorInvalidPropertySet"], "{r}");
    assert!(r.contains("not a contact"), "{r}");

    // ResolveNames: the contact by name and by whole address; not with ActiveDirectory alone;
    // with Contacts alone, not the directory's Alice
    let r = e.call_with(&t, &resolve("carol", None)).await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    assert!(
        r.contains("<t:MailboxType>Contact</t:MailboxType>")
            && r.contains("<t:EmailAddress>carol@fabrikam.example</t:EmailAddress>")
            && r.contains("<t:Name>Carol J.</t:Name>"),
        "{r}"
    );
    let r = e
        .call_with(
            &t,
            &resolve("SMTP:CAROL@fabrikam.example", Some("Contacts")),
        )
        .await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    let r = e
        .call_with(&t, &resolve("carol", Some("ActiveDirectory")))
        .await;
    assert_eq!(codes(&r), ["ErrorNameResolutionNoResults"], "{r}");
    // not a prefix, part of an address, nothing: no contact
    for entry in ["alice", "arol", "SMTP:carol@fabrikam", "SMTP:"] {
        let r = e.call_with(&t, &resolve(entry, Some("Contacts"))).await;
        assert_eq!(codes(&r), ["ErrorNameResolutionNoResults"], "{entry}: {r}");
    }
    // by an address's prefix, and by the surname
    for entry in ["carol@fab", "JONES"] {
        let r = e.call_with(&t, &resolve(entry, Some("Contacts"))).await;
        assert_eq!(codes(&r), ["NoError"], "{entry}: {r}");
    }
    let r = e.call_with(&t, &resolve("alice", None)).await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
}

/// A contact exported (ExportItems) and uploaded again (UploadItems) is still the contact, every
/// property with it; a stream whose contact does not read is refused for its item.
#[tokio::test]
async fn a_contact_survives_bulk_transfer() {
    let e = env().await;
    let t = alice_token();
    let created = e.call_with(&t, CAROL).await;
    let (id, _) = ids(&created).remove(0);
    let before = e.call_with(&t, &get(&id)).await;
    let folder = before
        .split(r#"<t:ParentFolderId Id=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let copy = e.export_and_upload(&t, &id, &folder).await;
    let again = e.call_with(&t, &get(&copy)).await;
    assert!(again.contains("<t:Contact>"), "{again}");
    for want in [
        "<t:GivenName>Carol</t:GivenName>",
        r#"<t:Entry Key="HomePhone">+1 555 0102</t:Entry>"#,
        "<t:Surname>Jones</t:Surname>",
    ] {
        assert!(again.contains(want), "{want}: {again}");
    }
    // the same contact properties
    let contact_part = |s: &str| {
        s.split("<t:DisplayName>")
            .nth(1)
            .and_then(|s| s.split("</t:Contact>").next())
            .map(str::to_owned)
    };
    assert!(contact_part(&before).is_some(), "{before}");
    assert_eq!(
        contact_part(&before),
        contact_part(&again),
        "{before}\n{again}"
    );
}

/// FindItem searches a contact's text properties and email addresses and sorts on its names,
/// as exchangelib's `filter()` and `order_by()` ask; a date property is not searchable.
#[tokio::test]
async fn contacts_are_found_and_sorted_by_their_properties() {
    let e = env().await;
    let t = alice_token();
    for (given, surname) in [("Dan", "smith"), ("Eve", "Jones"), ("Fay", "adams")] {
        let r = e
            .call_with(
                &t,
                &format!(
                    r#"<m:CreateItem><m:Items><t:Contact><t:GivenName>{given}</t:GivenName><t:EmailAddresses><t:Entry Key="EmailAddress1">{given}@x.example</t:Entry></t:EmailAddresses><t:Surname>{surname}</t:Surname></t:Contact></m:Items></m:CreateItem>"#
                ),
            )
            .await;
        assert_eq!(codes(&r), ["NoError"], "{r}");
    }
    let find = |restriction: &str, sort: &str| {
        format!(
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="contacts:Surname"/></t:AdditionalProperties></m:ItemShape>{restriction}{sort}<m:ParentFolderIds><t:DistinguishedFolderId Id="contacts"/></m:ParentFolderIds></m:FindItem>"#
        )
    };
    let surnames = |body: &str| -> Vec<String> {
        body.split("<t:Surname>")
            .skip(1)
            .filter_map(|s| s.split('<').next())
            .map(str::to_owned)
            .collect()
    };
    let by_surname = r#"<m:SortOrder><t:FieldOrder Order="Ascending"><t:FieldURI FieldURI="contacts:Surname"/></t:FieldOrder></m:SortOrder>"#;
    let r = e.call_with(&t, &find("", by_surname)).await;
    assert_eq!(surnames(&r), ["adams", "Jones", "smith"], "{r}");
    let r = e
        .call_with(
            &t,
            &find(
                r#"<m:Restriction><t:IsEqualTo><t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress1"/><t:FieldURIOrConstant><t:Constant Value="Eve@x.example"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction>"#,
                "",
            ),
        )
        .await;
    assert_eq!(surnames(&r), ["Jones"], "{r}");
    let r = e
        .call_with(
            &t,
            &find(
                r#"<m:Restriction><t:Contains ContainmentMode="Prefixed" ContainmentComparison="IgnoreCase"><t:FieldURI FieldURI="contacts:GivenName"/><t:Constant Value="d"/></t:Contains></m:Restriction>"#,
                by_surname,
            ),
        )
        .await;
    assert_eq!(surnames(&r), ["smith"], "{r}");
    let r = e
        .call_with(
            &t,
            &find(
                r#"<m:Restriction><t:Exists><t:FieldURI FieldURI="contacts:Birthday"/></t:Exists></m:Restriction>"#,
                "",
            ),
        )
        .await;
    assert_eq!(codes(&r), ["ErrorInvalidRestriction"], "{r}");
    assert!(r.contains("contacts:Birthday"), "{r}");
}

/// A read-only property on a new contact or task refuses that item alone: the request's other
/// items are created.
#[tokio::test]
async fn a_read_only_property_refuses_only_its_new_item() {
    let e = env().await;
    let t = alice_token();
    let r = e
        .call_with(
            &t,
            r#"<m:CreateItem><m:SavedItemFolderId><t:DistinguishedFolderId Id="contacts"/></m:SavedItemFolderId><m:Items><t:Contact><t:GivenName>x</t:GivenName><t:HasPicture>true</t:HasPicture></t:Contact><t:Contact><t:GivenName>Zoe</t:GivenName></t:Contact><t:Task><t:Subject>y</t:Subject><t:IsComplete>true</t:IsComplete></t:Task></m:Items></m:CreateItem>"#,
        )
        .await;
    assert_eq!(
        codes(&r),
        [
            "ErrorInvalidPropertySet",
            "NoError",
            "ErrorInvalidPropertySet"
        ],
        "{r}"
    );
    assert!(
        r.contains("t:HasPicture") && r.contains("t:IsComplete"),
        "{r}"
    );
    let listed = e
        .call_with(
            &t,
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="contacts:GivenName"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="contacts"/></m:ParentFolderIds></m:FindItem>"#,
        )
        .await;
    assert!(
        listed.contains("<t:GivenName>Zoe</t:GivenName>") && !listed.contains(">x<"),
        "{listed}"
    );
}

/// A contact with a contact photo attachment has a picture (`t:HasPicture`), in GetItem and in
/// FindItem; one whose other attachments are not photos has none.
#[tokio::test]
async fn a_contact_photo_attachment_gives_the_contact_a_picture() {
    let e = env().await;
    let t = alice_token();
    let mut ids_of = Vec::new();
    for name in ["Pia", "Quinn"] {
        let r = e
            .call_with(
                &t,
                &format!(
                    r#"<m:CreateItem><m:Items><t:Contact><t:GivenName>{name}</t:GivenName></t:Contact></m:Items></m:CreateItem>"#
                ),
            )
            .await;
        ids_of.push(ids(&r).remove(0).0);
    }
    for (id, photo) in [(&ids_of[0], "true"), (&ids_of[1], "false")] {
        let r = e
            .call_with(
                &t,
                &format!(
                    r#"<m:CreateAttachment><m:ParentItemId Id="{id}"/><m:Attachments><t:FileAttachment><t:Name>ContactPicture.jpg</t:Name><t:IsContactPhoto>{photo}</t:IsContactPhoto><t:Content>/9j/4AAQ</t:Content></t:FileAttachment></m:Attachments></m:CreateAttachment>"#
                ),
            )
            .await;
        assert_eq!(codes(&r), ["NoError"], "{r}");
    }
    let pictures = |body: &str| -> Vec<String> {
        body.split("<t:HasPicture>")
            .skip(1)
            .filter_map(|s| s.split('<').next())
            .map(str::to_owned)
            .collect()
    };
    for (id, want) in [(&ids_of[0], "true"), (&ids_of[1], "false")] {
        let got = e.call_with(&t, &get(id)).await;
        assert_eq!(pictures(&got), [want], "{got}");
    }
    let listed = e
        .call_with(
            &t,
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="contacts:HasPicture"/></t:AdditionalProperties></m:ItemShape><m:SortOrder><t:FieldOrder Order="Ascending"><t:FieldURI FieldURI="contacts:GivenName"/></t:FieldOrder></m:SortOrder><m:ParentFolderIds><t:DistinguishedFolderId Id="contacts"/></m:ParentFolderIds></m:FindItem>"#,
        )
        .await;
    assert_eq!(pictures(&listed), ["true", "false"], "{listed}");
}

/// ResolveNames searches the contact folders `ParentFolderIds` names, and only those; a folder
/// that is not there is `ErrorFolderNotFound`.
#[tokio::test]
async fn resolve_names_searches_the_contact_folders_named() {
    let e = env().await;
    let t = alice_token();
    let made = e
        .call_with(
            &t,
            r#"<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="contacts"/></m:ParentFolderId><m:Folders><t:ContactsFolder><t:DisplayName>Suppliers</t:DisplayName></t:ContactsFolder></m:Folders></m:CreateFolder>"#,
        )
        .await;
    assert_eq!(codes(&made), ["NoError"], "{made}");
    let folder = common::attr_after(&made, "<t:FolderId", "Id");
    let into = CAROL.replace(
        "<m:CreateItem>",
        &format!(r#"<m:CreateItem><m:SavedItemFolderId><t:FolderId Id="{folder}"/></m:SavedItemFolderId>"#),
    );
    let created = e.call_with(&t, &into).await;
    assert_eq!(codes(&created), ["NoError"], "{created}");
    let resolve_in = |parents: &str| {
        format!(
            r#"<m:ResolveNames ReturnFullContactData="false" SearchScope="Contacts"><m:ParentFolderIds>{parents}</m:ParentFolderIds><m:UnresolvedEntry>carol</m:UnresolvedEntry></m:ResolveNames>"#
        )
    };
    // not in Contacts itself
    let r = e.call_with(&t, &resolve("carol", Some("Contacts"))).await;
    assert_eq!(codes(&r), ["ErrorNameResolutionNoResults"], "{r}");
    let r = e
        .call_with(
            &t,
            &resolve_in(r#"<t:DistinguishedFolderId Id="contacts"/>"#),
        )
        .await;
    assert_eq!(codes(&r), ["ErrorNameResolutionNoResults"], "{r}");
    // in the folder named, alone or beside Contacts
    for parents in [
        format!(r#"<t:FolderId Id="{folder}"/>"#),
        format!(r#"<t:DistinguishedFolderId Id="contacts"/><t:FolderId Id="{folder}"/>"#),
    ] {
        let r = e.call_with(&t, &resolve_in(&parents)).await;
        assert_eq!(codes(&r), ["NoError"], "{r}");
        assert!(r.contains("carol@fabrikam.example"), "{r}");
    }
    // a folder that is not there
    let gone = e
        .call_with(
            &t,
            &format!(
                r#"<m:DeleteFolder DeleteType="HardDelete"><m:FolderIds><t:FolderId Id="{folder}"/></m:FolderIds></m:DeleteFolder>"#
            ),
        )
        .await;
    assert_eq!(codes(&gone), ["NoError"], "{gone}");
    let r = e
        .call_with(&t, &resolve_in(&format!(r#"<t:FolderId Id="{folder}"/>"#)))
        .await;
    assert_eq!(codes(&r), ["ErrorFolderNotFound"], "{r}");
}
