//! Delegates over HTTP against the real server: Get/Add/Update/RemoveDelegate on the acting
//! mailbox with their per-user refusals, and delegate access: bob, with his own token, reaching
//! alice's mailbox within what her delegation gives him, and nothing past it.

mod common;

use common::{ALICE, BOB, Env, Options, bob_token, ids, response_codes, start};

const CAROL: &str = "carol@contoso.example";

async fn env() -> Env {
    start(Options {
        mailboxes: &[("Alice", ALICE), ("Bob", BOB), ("Carol", CAROL)],
        ..Options::default()
    })
    .await
}

fn user(addr: &str) -> String {
    format!("<t:UserId><t:PrimarySmtpAddress>{addr}</t:PrimarySmtpAddress></t:UserId>")
}

fn mailbox(addr: &str) -> String {
    format!("<m:Mailbox><t:EmailAddress>{addr}</t:EmailAddress></m:Mailbox>")
}

fn get(owner: &str) -> String {
    format!(
        r#"<m:GetDelegate IncludePermissions="true">{}</m:GetDelegate>"#,
        mailbox(owner)
    )
}

/// A `t:DelegateUser` with calendar, tasks and inbox levels.
fn delegate(addr: &str, calendar: &str, tasks: &str, inbox: &str, extra: &str) -> String {
    format!(
        "<t:DelegateUser>{}<t:DelegatePermissions><t:CalendarFolderPermissionLevel>{calendar}</t:CalendarFolderPermissionLevel><t:TasksFolderPermissionLevel>{tasks}</t:TasksFolderPermissionLevel><t:InboxFolderPermissionLevel>{inbox}</t:InboxFolderPermissionLevel></t:DelegatePermissions>{extra}</t:DelegateUser>",
        user(addr)
    )
}

fn add(owner: &str, users: &str, delivery: &str) -> String {
    format!(
        "<m:AddDelegate>{}<m:DelegateUsers>{users}</m:DelegateUsers>{delivery}</m:AddDelegate>",
        mailbox(owner)
    )
}

fn update(owner: &str, users: &str, delivery: &str) -> String {
    let users = if users.is_empty() {
        String::new()
    } else {
        format!("<m:DelegateUsers>{users}</m:DelegateUsers>")
    };
    format!(
        "<m:UpdateDelegate>{}{users}{delivery}</m:UpdateDelegate>",
        mailbox(owner)
    )
}

fn remove(owner: &str, users: &[&str]) -> String {
    let ids: String = users.iter().map(|u| user(u)).collect();
    format!(
        "<m:RemoveDelegate>{}<m:UserIds>{ids}</m:UserIds></m:RemoveDelegate>",
        mailbox(owner)
    )
}

#[tokio::test]
async fn the_owner_adds_reads_changes_and_removes_delegates() {
    let e = env().await;
    let body = e.call(&get(ALICE)).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
    assert!(!body.contains("<m:ResponseMessages>"), "{body}");
    assert!(
        body.contains(
            "<m:DeliverMeetingRequests>DelegatesAndSendInformationToMe</m:DeliverMeetingRequests>"
        ),
        "{body}"
    );

    // bob is added; nobody, alice herself and a Custom level are refused, each alone
    let users = [
        delegate(
            BOB,
            "Editor",
            "Reviewer",
            "None",
            "<t:ReceiveCopiesOfMeetingMessages>true</t:ReceiveCopiesOfMeetingMessages>",
        ),
        delegate("nobody@contoso.example", "Editor", "None", "None", ""),
        delegate(ALICE, "Editor", "None", "None", ""),
        delegate(CAROL, "Custom", "None", "None", ""),
        delegate(
            CAROL,
            "Author",
            "None",
            "None",
            "<t:ReceiveCopiesOfMeetingMessages>true</t:ReceiveCopiesOfMeetingMessages>",
        ),
    ]
    .concat();
    let body = e
        .call(&add(
            ALICE,
            &users,
            "<m:DeliverMeetingRequests>DelegatesAndMe</m:DeliverMeetingRequests>",
        ))
        .await;
    assert_eq!(
        response_codes(&body),
        [
            "NoError",
            "NoError",
            "ErrorDelegateNoUser",
            "ErrorDelegateCannotAddOwner",
            "ErrorDelegateValidationFailed",
            "ErrorDelegateValidationFailed",
        ],
        "{body}"
    );
    assert!(body.contains("nobody@contoso.example"), "{body}");
    assert!(body.contains("needs Editor on the Calendar"), "{body}");

    let body = e.call(&get(ALICE)).await;
    assert_eq!(response_codes(&body), ["NoError", "NoError"], "{body}");
    for want in [
        "<t:PrimarySmtpAddress>bob@contoso.example</t:PrimarySmtpAddress>",
        "<t:DisplayName>Bob</t:DisplayName>",
        "<t:CalendarFolderPermissionLevel>Editor</t:CalendarFolderPermissionLevel>",
        "<t:TasksFolderPermissionLevel>Reviewer</t:TasksFolderPermissionLevel>",
        "<t:InboxFolderPermissionLevel>None</t:InboxFolderPermissionLevel>",
        "<t:ReceiveCopiesOfMeetingMessages>true</t:ReceiveCopiesOfMeetingMessages>",
        "<t:ViewPrivateItems>false</t:ViewPrivateItems>",
        "<m:DeliverMeetingRequests>DelegatesAndMe</m:DeliverMeetingRequests>",
    ] {
        assert!(body.contains(want), "{want}: {body}");
    }
    assert!(
        body.to_ascii_uppercase().contains("<T:SID>S-1-5-21-"),
        "{body}"
    );

    // bob again is refused; an update changes what it names and keeps the rest
    let body = e
        .call(&add(
            ALICE,
            &delegate(BOB, "Editor", "None", "None", ""),
            "",
        ))
        .await;
    assert_eq!(
        response_codes(&body),
        ["NoError", "ErrorDelegateAlreadyExists"],
        "{body}"
    );
    let body = e
        .call(&update(
            ALICE,
            &[
                format!(
                    "<t:DelegateUser>{}<t:DelegatePermissions><t:InboxFolderPermissionLevel>Reviewer</t:InboxFolderPermissionLevel></t:DelegatePermissions><t:ViewPrivateItems>true</t:ViewPrivateItems></t:DelegateUser>",
                    user(BOB)
                ),
                delegate(CAROL, "Reviewer", "None", "None", ""),
            ]
            .concat(),
            "<m:DeliverMeetingRequests>DelegatesOnly</m:DeliverMeetingRequests>",
        ))
        .await;
    assert_eq!(
        response_codes(&body),
        ["NoError", "NoError", "ErrorNotDelegate"],
        "{body}"
    );
    assert!(
        body.contains("carol@contoso.example is not a delegate"),
        "{body}"
    );
    let body = e.call(&get(ALICE)).await;
    for want in [
        "<t:CalendarFolderPermissionLevel>Editor</t:CalendarFolderPermissionLevel>",
        "<t:InboxFolderPermissionLevel>Reviewer</t:InboxFolderPermissionLevel>",
        "<t:ViewPrivateItems>true</t:ViewPrivateItems>",
        "<m:DeliverMeetingRequests>DelegatesOnly</m:DeliverMeetingRequests>",
    ] {
        assert!(body.contains(want), "{want}: {body}");
    }

    // only the owner manages them
    for op in [
        get(ALICE),
        add(ALICE, &delegate(CAROL, "None", "None", "None", ""), ""),
        remove(ALICE, &[BOB]),
    ] {
        let body = e.call_with(&bob_token(), &op).await;
        assert_eq!(response_codes(&body), ["ErrorAccessDenied"], "{op}: {body}");
    }
    assert_eq!(
        response_codes(&e.call(&get(ALICE)).await),
        ["NoError", "NoError"]
    );

    let body = e.call(&remove(ALICE, &[BOB, BOB])).await;
    assert_eq!(
        response_codes(&body),
        ["NoError", "NoError", "ErrorNotDelegate"],
        "{body}"
    );
    let body = e.call(&get(ALICE)).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
}

/// A folder of alice's, named as exchangelib names it for an account it acts on as a delegate.
fn folder(name: &str) -> String {
    format!(
        r#"<t:DistinguishedFolderId Id="{name}"><t:Mailbox><t:EmailAddress>{ALICE}</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>"#
    )
}

fn get_folder(name: &str) -> String {
    format!(
        "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds>{}</m:FolderIds></m:GetFolder>",
        folder(name)
    )
}

fn find(name: &str) -> String {
    format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds>{}</m:ParentFolderIds></m:FindItem>"#,
        folder(name)
    )
}

fn create(folder_xml: &str, item: &str, disposition: &str) -> String {
    format!(
        r#"<m:CreateItem MessageDisposition="{disposition}" SendMeetingInvitations="SendToNone"><m:SavedItemFolderId>{folder_xml}</m:SavedItemFolderId><m:Items>{item}</m:Items></m:CreateItem>"#
    )
}

fn appointment(subject: &str, sensitivity: &str) -> String {
    format!(
        "<t:CalendarItem><t:Subject>{subject}</t:Subject><t:Sensitivity>{sensitivity}</t:Sensitivity><t:Start>2026-12-01T10:00:00Z</t:Start><t:End>2026-12-01T11:00:00Z</t:End></t:CalendarItem>"
    )
}

fn message(subject: &str) -> String {
    format!(
        "<t:Message><t:Subject>{subject}</t:Subject><t:ToRecipients><t:Mailbox><t:EmailAddress>{CAROL}</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message>"
    )
}

fn get_item(id: &str) -> String {
    format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
    )
}

fn delete_item(id: &str) -> String {
    format!(
        r#"<m:DeleteItem DeleteType="HardDelete" SendMeetingCancellations="SendToNone"><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:DeleteItem>"#
    )
}

fn update_subject(id: &str, ck: &str, subject: &str) -> String {
    format!(
        r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly" SendMeetingInvitationsOrCancellations="SendToNone"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{ck}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:CalendarItem><t:Subject>{subject}</t:Subject></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    )
}

/// The first `t:ItemId` of an answer.
fn first_id(body: &str) -> (String, String) {
    ids(body)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no item id in {body}"))
}

#[tokio::test]
async fn a_delegate_reaches_the_owners_folders_within_the_permission_given() {
    let e = env().await;
    let bob = bob_token();
    // alice's items: a meeting, a private appointment, a message in her Inbox
    let seen = first_id(
        &e.call(&create(
            &folder("calendar"),
            &appointment("Quarterly review", "Normal"),
            "SaveOnly",
        ))
        .await,
    );
    let private = first_id(
        &e.call(&create(
            &folder("calendar"),
            &appointment("Doctor", "Private"),
            "SaveOnly",
        ))
        .await,
    );
    let inbox_item = first_id(
        &e.call(&create(
            &folder("inbox"),
            &message("For alice only"),
            "SaveOnly",
        ))
        .await,
    );

    // before any delegation, nothing of alice's is reachable
    let body = e.call_with(&bob, &get_folder("calendar")).await;
    assert_eq!(response_codes(&body), ["ErrorAccessDenied"], "{body}");
    assert!(
        body.contains("is not a delegate of alice@contoso.example"),
        "{body}"
    );
    let body = e.call_with(&bob, &get_item(&seen.0)).await;
    assert_eq!(response_codes(&body), ["ErrorAccessDenied"], "{body}");

    // alice makes bob a delegate: Editor on Calendar, Reviewer on Tasks, nothing on Inbox
    let body = e
        .call(&add(
            ALICE,
            &delegate(BOB, "Editor", "Reviewer", "None", ""),
            "",
        ))
        .await;
    assert_eq!(response_codes(&body), ["NoError", "NoError"], "{body}");

    // what he sees: the root (exchangelib reads it first), the Calendar and Tasks folders
    for (name, want) in [
        ("root", "NoError"),
        ("msgfolderroot", "NoError"),
        ("calendar", "NoError"),
        ("tasks", "NoError"),
        ("inbox", "ErrorAccessDenied"),
        ("sentitems", "ErrorAccessDenied"),
        ("recoverableitemspurges", "ErrorAccessDenied"),
    ] {
        let body = e.call_with(&bob, &get_folder(name)).await;
        assert_eq!(response_codes(&body), [want], "{name}: {body}");
    }
    // the calendar's items, without the private one
    let body = e.call_with(&bob, &find("calendar")).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
    assert!(body.contains("Quarterly review"), "{body}");
    assert!(!body.contains("Doctor"), "{body}");
    // a calendar view too (occurrences and single items alike)
    let view = format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:CalendarView StartDate="2026-12-01T00:00:00Z" EndDate="2026-12-02T00:00:00Z"/><m:ParentFolderIds>{}</m:ParentFolderIds></m:FindItem>"#,
        folder("calendar")
    );
    let body = e.call_with(&bob, &view).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
    assert!(
        body.contains("Quarterly review") && !body.contains("Doctor"),
        "{body}"
    );
    for name in ["inbox", "root", "msgfolderroot"] {
        let body = e.call_with(&bob, &find(name)).await;
        assert_eq!(
            response_codes(&body),
            ["ErrorAccessDenied"],
            "{name}: {body}"
        );
    }
    let body = e.call_with(&bob, &get_item(&seen.0)).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
    assert!(body.contains("Quarterly review"), "{body}");
    for id in [&private.0, &inbox_item.0] {
        let body = e.call_with(&bob, &get_item(id)).await;
        assert_eq!(response_codes(&body), ["ErrorAccessDenied"], "{body}");
    }

    // he creates and changes items on her calendar; she sees them
    let body = e
        .call_with(
            &bob,
            &create(
                &folder("calendar"),
                &appointment("Booked by Bob", "Normal"),
                "SaveOnly",
            ),
        )
        .await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
    let booked = first_id(&body);
    let body = e
        .call_with(&bob, &update_subject(&booked.0, &booked.1, "Moved by Bob"))
        .await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
    let body = e.call(&find("calendar")).await;
    assert!(body.contains("Moved by Bob"), "{body}");

    // and nothing past the permission: Tasks is Reviewer, Inbox none, no sending as alice
    let refused = [
        create(
            &folder("tasks"),
            "<t:Task><t:Subject>Not his</t:Subject></t:Task>",
            "SaveOnly",
        ),
        create(&folder("calendar"), &message("As alice"), "SendAndSaveCopy"),
        create(&folder("inbox"), &message("Into her inbox"), "SaveOnly"),
        delete_item(&inbox_item.0),
        update_subject(&inbox_item.0, &inbox_item.1, "Changed"),
        // a forward of her Inbox message saved where he can read it would quote what he cannot
        // read (regression: it was composed and saved on her calendar)
        create(
            &folder("calendar"),
            &format!(
                r#"<t:ForwardItem><t:ToRecipients><t:Mailbox><t:EmailAddress>{CAROL}</t:EmailAddress></t:Mailbox></t:ToRecipients><t:ReferenceItemId Id="{}"/></t:ForwardItem>"#,
                inbox_item.0
            ),
            "SaveOnly",
        ),
        // an operation a delegate does not use
        format!(
            r#"<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:ParentFolderIds>{}</m:ParentFolderIds></m:FindFolder>"#,
            folder("msgfolderroot")
        ),
    ];
    for op in &refused {
        let body = e.call_with(&bob, op).await;
        assert_eq!(response_codes(&body), ["ErrorAccessDenied"], "{op}: {body}");
    }
    let body = e.call(&get_item(&inbox_item.0)).await;
    assert!(body.contains("For alice only"), "still there: {body}");

    // a request reaches one other mailbox: carol's and alice's together are refused
    let both = format!(
        "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds>{}<t:DistinguishedFolderId Id=\"calendar\"><t:Mailbox><t:EmailAddress>{CAROL}</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder>",
        folder("calendar")
    );
    let body = e.call_with(&bob, &both).await;
    assert_eq!(response_codes(&body), ["ErrorAccessDenied"], "{body}");

    // ViewPrivateItems shows the private appointment; Editor deletes it
    let body = e
        .call(&update(
            ALICE,
            &format!(
                "<t:DelegateUser>{}<t:ViewPrivateItems>true</t:ViewPrivateItems></t:DelegateUser>",
                user(BOB)
            ),
            "",
        ))
        .await;
    assert_eq!(response_codes(&body), ["NoError", "NoError"], "{body}");
    let body = e.call_with(&bob, &find("calendar")).await;
    assert!(body.contains("Doctor"), "{body}");
    let body = e.call_with(&bob, &delete_item(&booked.0)).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");

    // removed, he reaches nothing again
    let body = e.call(&remove(ALICE, &[BOB])).await;
    assert_eq!(response_codes(&body), ["NoError", "NoError"], "{body}");
    for op in [get_folder("calendar"), get_item(&seen.0)] {
        let body = e.call_with(&bob, &op).await;
        assert_eq!(response_codes(&body), ["ErrorAccessDenied"], "{op}: {body}");
    }
}

#[tokio::test]
async fn an_editor_on_the_calendar_changes_nothing_elsewhere_by_id() {
    let e = env().await;
    let bob = bob_token();
    let task = first_id(
        &e.call(&create(
            &folder("tasks"),
            "<t:Task><t:Subject>Alices task</t:Subject></t:Task>",
            "SaveOnly",
        ))
        .await,
    );
    let body = e
        .call(&add(
            ALICE,
            &delegate(BOB, "Editor", "Reviewer", "None", ""),
            "",
        ))
        .await;
    assert_eq!(response_codes(&body), ["NoError", "NoError"], "{body}");
    // he reads the task (Reviewer) but cannot delete it: the write's guard refuses it
    let body = e.call_with(&bob, &get_item(&task.0)).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
    let body = e.call_with(&bob, &delete_item(&task.0)).await;
    assert_eq!(response_codes(&body), ["ErrorAccessDenied"], "{body}");
    let body = e.call(&get_item(&task.0)).await;
    assert!(body.contains("Alices task"), "{body}");
}

#[tokio::test]
async fn a_delegate_sends_the_owners_meeting_requests_on_her_behalf() {
    let e = env().await;
    let bob = bob_token();
    let body = e
        .call(&add(
            ALICE,
            &delegate(BOB, "Editor", "None", "None", ""),
            "",
        ))
        .await;
    assert_eq!(response_codes(&body), ["NoError", "NoError"], "{body}");
    let meeting = format!(
        "<t:CalendarItem><t:Subject>Planning</t:Subject><t:Start>2026-12-03T10:00:00Z</t:Start><t:End>2026-12-03T11:00:00Z</t:End><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>{CAROL}</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees></t:CalendarItem>"
    );
    let op = format!(
        r#"<m:CreateItem SendMeetingInvitations="SendToAllAndSaveCopy"><m:SavedItemFolderId>{}</m:SavedItemFolderId><m:Items>{meeting}</m:Items></m:CreateItem>"#,
        folder("calendar")
    );
    let body = e.call_with(&bob, &op).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");

    // carol's request: from alice, sent by bob
    let carol = common::user_token(CAROL);
    let found = e
        .call_with(
            &carol,
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
        )
        .await;
    let (id, _) = first_id(&found);
    let body = e
        .call_with(
            &carol,
            &format!(
                r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
            ),
        )
        .await;
    assert!(body.contains("<t:MeetingRequest>"), "{body}");
    let from = body.split("<t:From>").nth(1).unwrap_or_default();
    assert!(
        from.split("</t:From>")
            .next()
            .unwrap_or_default()
            .contains(ALICE),
        "{body}"
    );
    let sender = body.split("<t:Sender>").nth(1).unwrap_or_default();
    assert!(
        sender
            .split("</t:Sender>")
            .next()
            .unwrap_or_default()
            .contains(BOB),
        "{body}"
    );
    // the meeting is alice's: she is its organizer, on her own calendar
    let body = e.call(&find("calendar")).await;
    assert!(body.contains("Planning"), "{body}");
}

fn inbox_of(folder_name: &str) -> String {
    format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="{folder_name}"/></m:ParentFolderIds></m:FindItem>"#
    )
}

/// Carol invites alice to a meeting (as carol, with carol's token).
async fn carol_invites_alice(e: &Env, subject: &str) {
    let carol = common::user_token(CAROL);
    let op = format!(
        r#"<m:CreateItem SendMeetingInvitations="SendToAllAndSaveCopy"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>{subject}</t:Subject><t:Start>2026-12-04T10:00:00Z</t:Start><t:End>2026-12-04T11:00:00Z</t:End><t:RequiredAttendees><t:Attendee><t:Mailbox><t:Name>Alice</t:Name><t:EmailAddress>{ALICE}</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees></t:CalendarItem></m:Items></m:CreateItem>"#
    );
    let body = e.call_with(&carol, &op).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
}

#[tokio::test]
async fn a_delegate_gets_copies_of_the_owners_meeting_requests_and_answers_them_for_her() {
    let e = env().await;
    let bob = bob_token();
    let body = e
        .call(&add(
            ALICE,
            &delegate(
                BOB,
                "Editor",
                "None",
                "None",
                "<t:ReceiveCopiesOfMeetingMessages>true</t:ReceiveCopiesOfMeetingMessages>",
            ),
            "",
        ))
        .await;
    assert_eq!(response_codes(&body), ["NoError", "NoError"], "{body}");
    carol_invites_alice(&e, "Budget").await;

    // bob's copy stands for alice; alice has hers too (DelegatesAndSendInformationToMe)
    let copy = e.call_with(&bob, &inbox_of("inbox")).await;
    assert!(copy.contains("<t:MeetingRequest>"), "{copy}");
    assert!(copy.contains("Budget"), "{copy}");
    let representing = copy
        .split("<t:ReceivedRepresenting>")
        .nth(1)
        .and_then(|s| s.split("</t:ReceivedRepresenting>").next())
        .unwrap_or_default();
    assert!(
        representing.contains(ALICE) && representing.contains("<t:Name>Alice</t:Name>"),
        "{copy}"
    );
    let (copy_id, _) = first_id(&copy);
    let hers = e.call(&inbox_of("inbox")).await;
    assert!(
        hers.contains("Budget") && !hers.contains("ReceivedRepresenting"),
        "{hers}"
    );

    // bob accepts his copy: alice's meeting is accepted, carol hears it from alice, sent by bob
    let accept = format!(
        r#"<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:AcceptItem><t:ReferenceItemId Id="{copy_id}"/></t:AcceptItem></m:Items></m:CreateItem>"#
    );
    let body = e.call_with(&bob, &accept).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
    let cal = e.call(&inbox_of("calendar")).await;
    assert!(
        cal.contains("Budget") && cal.contains("<t:MyResponseType>Accept</t:MyResponseType>"),
        "{cal}"
    );
    // her own request is answered too
    let hers = e.call(&inbox_of("inbox")).await;
    assert!(
        hers.contains("<t:HasBeenProcessed>true</t:HasBeenProcessed>"),
        "{hers}"
    );
    let answers = e
        .call_with(&common::user_token(CAROL), &inbox_of("inbox"))
        .await;
    assert!(answers.contains("<t:MeetingResponse>"), "{answers}");
    let from = answers.split("<t:From>").nth(1).unwrap_or_default();
    assert!(
        from.split("</t:From>")
            .next()
            .unwrap_or_default()
            .contains(ALICE),
        "{answers}"
    );
    let sender = answers.split("<t:Sender>").nth(1).unwrap_or_default();
    assert!(
        sender
            .split("</t:Sender>")
            .next()
            .unwrap_or_default()
            .contains(BOB),
        "{answers}"
    );
    // bob's copy is answered (Deleted Items); nothing of the meeting on bob's own calendar
    let inbox = e.call_with(&bob, &inbox_of("inbox")).await;
    assert!(!inbox.contains("Budget"), "{inbox}");
    let deleted = e.call_with(&bob, &inbox_of("deleteditems")).await;
    assert!(deleted.contains("Budget"), "{deleted}");
    let own = e.call_with(&bob, &inbox_of("calendar")).await;
    assert!(!own.contains("Budget"), "{own}");

    // without Editor on her calendar any more, a copy cannot be answered for her
    carol_invites_alice(&e, "Second").await;
    let copy = e.call_with(&bob, &inbox_of("inbox")).await;
    let (copy_id, _) = first_id(&copy);
    let body = e
        .call(&update(
            ALICE,
            &format!(
                "<t:DelegateUser>{}<t:ReceiveCopiesOfMeetingMessages>false</t:ReceiveCopiesOfMeetingMessages><t:DelegatePermissions><t:CalendarFolderPermissionLevel>Reviewer</t:CalendarFolderPermissionLevel></t:DelegatePermissions></t:DelegateUser>",
                user(BOB)
            ),
            "",
        ))
        .await;
    assert_eq!(response_codes(&body), ["NoError", "NoError"], "{body}");
    let accept = format!(
        r#"<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:AcceptItem><t:ReferenceItemId Id="{copy_id}"/></t:AcceptItem></m:Items></m:CreateItem>"#
    );
    let body = e.call_with(&bob, &accept).await;
    assert_eq!(response_codes(&body), ["ErrorAccessDenied"], "{body}");
    assert!(body.contains("Editor"), "{body}");
}

#[tokio::test]
async fn meeting_delivery_decides_who_gets_the_request() {
    let e = env().await;
    let bob = bob_token();
    let copies = "<t:ReceiveCopiesOfMeetingMessages>true</t:ReceiveCopiesOfMeetingMessages>";
    // DelegatesOnly: alice's own request goes to her Deleted Items
    let body = e
        .call(&add(
            ALICE,
            &delegate(BOB, "Editor", "None", "None", copies),
            "<m:DeliverMeetingRequests>DelegatesOnly</m:DeliverMeetingRequests>",
        ))
        .await;
    assert_eq!(response_codes(&body), ["NoError", "NoError"], "{body}");
    carol_invites_alice(&e, "Only delegates").await;
    assert!(!e.call(&inbox_of("inbox")).await.contains("Only delegates"));
    assert!(
        e.call(&inbox_of("deleteditems"))
            .await
            .contains("Only delegates")
    );
    assert!(
        e.call_with(&bob, &inbox_of("inbox"))
            .await
            .contains("Only delegates")
    );

    // NoForward: alice only
    let body = e
        .call(&update(
            ALICE,
            "",
            "<m:DeliverMeetingRequests>NoForward</m:DeliverMeetingRequests>",
        ))
        .await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
    carol_invites_alice(&e, "Just me").await;
    assert!(e.call(&inbox_of("inbox")).await.contains("Just me"));
    assert!(
        !e.call_with(&bob, &inbox_of("inbox"))
            .await
            .contains("Just me")
    );

    // DelegatesAndMe, and a delegate without ReceiveCopiesOfMeetingMessages gets none
    let body = e
        .call(&add(
            ALICE,
            &delegate(CAROL, "Editor", "None", "None", ""),
            "<m:DeliverMeetingRequests>DelegatesAndMe</m:DeliverMeetingRequests>",
        ))
        .await;
    assert_eq!(response_codes(&body), ["NoError", "NoError"], "{body}");
    carol_invites_alice(&e, "Both").await;
    assert!(e.call(&inbox_of("inbox")).await.contains("Both"));
    assert!(e.call_with(&bob, &inbox_of("inbox")).await.contains("Both"));
    let carols = e
        .call_with(&common::user_token(CAROL), &inbox_of("inbox"))
        .await;
    assert!(!carols.contains("<t:MeetingRequest>"), "{carols}");
}

#[tokio::test]
async fn cancellations_reach_the_delegate_and_a_delegate_cancels_for_the_owner() {
    let e = env().await;
    let bob = bob_token();
    let carol = common::user_token(CAROL);
    let body = e
        .call(&add(
            ALICE,
            &delegate(
                BOB,
                "Editor",
                "None",
                "None",
                "<t:ReceiveCopiesOfMeetingMessages>true</t:ReceiveCopiesOfMeetingMessages>",
            ),
            "",
        ))
        .await;
    assert_eq!(response_codes(&body), ["NoError", "NoError"], "{body}");

    // carol cancels a meeting she invited alice to: bob gets a copy of the cancellation too
    carol_invites_alice(&e, "Offsite").await;
    let (carols, _) = first_id(&e.call_with(&carol, &inbox_of("calendar")).await);
    let cancel = format!(
        r#"<m:DeleteItem DeleteType="MoveToDeletedItems" SendMeetingCancellations="SendToAllAndSaveCopy"><m:ItemIds><t:ItemId Id="{carols}"/></m:ItemIds></m:DeleteItem>"#
    );
    let body = e.call_with(&carol, &cancel).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
    let inbox = e.call_with(&bob, &inbox_of("inbox")).await;
    let cancellation = inbox
        .split("<t:MeetingCancellation>")
        .nth(1)
        .unwrap_or_else(|| panic!("no cancellation: {inbox}"));
    assert!(
        cancellation.contains("<t:ReceivedRepresenting>") && cancellation.contains(ALICE),
        "{inbox}"
    );

    // bob books a meeting for alice with carol, then cancels it for her: from alice, sent by bob
    let op = format!(
        r#"<m:CreateItem SendMeetingInvitations="SendToAllAndSaveCopy"><m:SavedItemFolderId>{}</m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Review</t:Subject><t:Start>2026-12-05T10:00:00Z</t:Start><t:End>2026-12-05T11:00:00Z</t:End><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>{CAROL}</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees></t:CalendarItem></m:Items></m:CreateItem>"#,
        folder("calendar")
    );
    let body = e.call_with(&bob, &op).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
    let (meeting, _) = first_id(&body);
    // carol accepts: alice has the response, and bob a copy of it for her
    let (request, _) = first_id(&e.call_with(&carol, &inbox_of("inbox")).await);
    let accept = format!(
        r#"<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:AcceptItem><t:ReferenceItemId Id="{request}"/></t:AcceptItem></m:Items></m:CreateItem>"#
    );
    let body = e.call_with(&carol, &accept).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
    assert!(
        e.call(&inbox_of("inbox"))
            .await
            .contains("<t:MeetingResponse>")
    );
    let inbox = e.call_with(&bob, &inbox_of("inbox")).await;
    let response = inbox
        .split("<t:MeetingResponse>")
        .nth(1)
        .unwrap_or_else(|| panic!("no response copy: {inbox}"));
    assert!(
        response.contains("<t:ReceivedRepresenting>") && response.contains(ALICE),
        "{inbox}"
    );
    // a copy of a response is not answered
    let (copy, _) = first_id(&inbox);
    let accept = format!(
        r#"<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:AcceptItem><t:ReferenceItemId Id="{copy}"/></t:AcceptItem></m:Items></m:CreateItem>"#
    );
    let body = e.call_with(&bob, &accept).await;
    assert_eq!(
        response_codes(&body),
        ["ErrorInvalidReferenceItem"],
        "{body}"
    );
    let cancel = format!(
        r#"<m:DeleteItem DeleteType="MoveToDeletedItems" SendMeetingCancellations="SendToAllAndSaveCopy"><m:ItemIds><t:ItemId Id="{meeting}"/></m:ItemIds></m:DeleteItem>"#
    );
    let body = e.call_with(&bob, &cancel).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
    let carols = e.call_with(&carol, &inbox_of("inbox")).await;
    let cancellation = carols
        .split("<t:MeetingCancellation>")
        .nth(1)
        .unwrap_or_else(|| panic!("no cancellation: {carols}"));
    let from = cancellation.split("<t:From>").nth(1).unwrap_or_default();
    assert!(
        from.split("</t:From>")
            .next()
            .unwrap_or_default()
            .contains(ALICE),
        "{carols}"
    );
    let sender = cancellation.split("<t:Sender>").nth(1).unwrap_or_default();
    assert!(
        sender
            .split("</t:Sender>")
            .next()
            .unwrap_or_default()
            .contains(BOB),
        "{carols}"
    );
}

/// GetUserAvailability: the owner's calendar in detail for a delegate with Reviewer or more
/// there (a private appointment's subject only with ViewPrivateItems); anyone else gets times.
#[tokio::test]
async fn free_busy_details_for_a_delegate_of_the_calendar() {
    let e = env().await;
    for (subject, sensitivity) in [("Quarterly review", "Normal"), ("Doctor", "Private")] {
        let body = e
            .call(&create(
                &folder("calendar"),
                &appointment(subject, sensitivity),
                "SaveOnly",
            ))
            .await;
        assert_eq!(response_codes(&body), ["NoError"], "{body}");
    }
    let ask = format!(
        "<m:GetUserAvailabilityRequest><t:TimeZone><t:Bias>0</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>10</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>0</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>4</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone><m:MailboxDataArray><t:MailboxData><t:Email><t:Address>{ALICE}</t:Address></t:Email><t:AttendeeType>Required</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData></m:MailboxDataArray><t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>2026-12-01T00:00:00</t:StartTime><t:EndTime>2026-12-02T00:00:00</t:EndTime></t:TimeWindow><t:MergedFreeBusyIntervalInMinutes>60</t:MergedFreeBusyIntervalInMinutes><t:RequestedView>Detailed</t:RequestedView></t:FreeBusyViewOptions></m:GetUserAvailabilityRequest>"
    );
    // not a delegate: times only
    let body = e.call_with(&bob_token(), &ask).await;
    assert!(
        body.contains("<t:FreeBusyViewType>FreeBusy</t:FreeBusyViewType>"),
        "{body}"
    );
    assert!(!body.contains("Quarterly review"), "{body}");
    // a Reviewer on her calendar: details, the private one's without its subject
    let body = e
        .call(&add(
            ALICE,
            &delegate(BOB, "Reviewer", "None", "None", ""),
            "",
        ))
        .await;
    assert_eq!(response_codes(&body), ["NoError", "NoError"], "{body}");
    let body = e.call_with(&bob_token(), &ask).await;
    assert!(
        body.contains("<t:FreeBusyViewType>Detailed</t:FreeBusyViewType>"),
        "{body}"
    );
    assert!(
        body.contains("Quarterly review") && !body.contains("Doctor"),
        "{body}"
    );
    assert!(body.contains("<t:IsPrivate>true</t:IsPrivate>"), "{body}");
    // with ViewPrivateItems, that one too; carol, no delegate, still times only
    let body = e
        .call(&update(
            ALICE,
            &format!(
                "<t:DelegateUser>{}<t:ViewPrivateItems>true</t:ViewPrivateItems></t:DelegateUser>",
                user(BOB)
            ),
            "",
        ))
        .await;
    assert_eq!(response_codes(&body), ["NoError", "NoError"], "{body}");
    let body = e.call_with(&bob_token(), &ask).await;
    assert!(body.contains("Doctor"), "{body}");
    let body = e.call_with(&common::user_token(CAROL), &ask).await;
    assert!(
        !body.contains("Quarterly review") && !body.contains("Doctor"),
        "{body}"
    );
}

/// `folder:PermissionSet`: the owner's Calendar lists Default (FreeBusyTimeOnly), Anonymous and
/// each delegate with its level there, as `t:CalendarPermission` entries; her Inbox, where the
/// delegate has none, only Default and Anonymous (None).
#[tokio::test]
async fn folder_permissions_show_the_delegation() {
    let e = env().await;
    let body = e
        .call(&add(
            ALICE,
            &delegate(BOB, "Editor", "None", "Reviewer", ""),
            "",
        ))
        .await;
    assert_eq!(response_codes(&body), ["NoError", "NoError"], "{body}");
    let get = |name: &str| {
        format!(
            r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:PermissionSet"/></t:AdditionalProperties></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="{name}"/></m:FolderIds></m:GetFolder>"#
        )
    };
    let body = e.call(&get("calendar")).await;
    assert_eq!(response_codes(&body), ["NoError"], "{body}");
    let entries: Vec<&str> = body.split("<t:CalendarPermission>").skip(1).collect();
    assert_eq!(entries.len(), 3, "{body}");
    assert!(entries[0].contains("<t:DistinguishedUser>Default</t:DistinguishedUser>"));
    assert!(entries[0].contains("<t:ReadItems>TimeOnly</t:ReadItems><t:CalendarPermissionLevel>FreeBusyTimeOnly</t:CalendarPermissionLevel>"), "{body}");
    assert!(entries[1].contains("<t:DistinguishedUser>Anonymous</t:DistinguishedUser>"));
    assert!(
        entries[2].contains("<t:PrimarySmtpAddress>bob@contoso.example</t:PrimarySmtpAddress>")
    );
    assert!(
        entries[2].contains("<t:CanCreateItems>true</t:CanCreateItems>")
            && entries[2].contains("<t:EditItems>All</t:EditItems><t:DeleteItems>All</t:DeleteItems><t:ReadItems>FullDetails</t:ReadItems><t:CalendarPermissionLevel>Editor</t:CalendarPermissionLevel>"),
        "{body}"
    );
    let body = e.call(&get("inbox")).await;
    let entries: Vec<&str> = body.split("<t:Permission>").skip(1).collect();
    assert_eq!(entries.len(), 3, "{body}");
    assert!(
        entries[2].contains("<t:PermissionLevel>Reviewer</t:PermissionLevel>"),
        "{body}"
    );
    let body = e.call(&get("sentitems")).await;
    assert_eq!(body.matches("<t:Permission>").count(), 2, "{body}");
}
