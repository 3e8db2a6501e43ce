//! Delegate management (MS-OXWSDLGM): GetDelegate as exchangelib 5.6.0 sends it
//! (`Account.delegates`, captured in `fixtures/requests/exchangelib/get_delegate.xml`, and with
//! user ids as its `GetDelegate.get_payload` writes them), AddDelegate, UpdateDelegate and
//! RemoveDelegate as Microsoft's reference writes them, every refusal by name, the answers
//! (snapshots), and the answers read back as a client reads them.

use ews_proto::EwsProtoError;
use ews_proto::delegate::{
    AddDelegate, DelegateAnswer, DelegateOperation, DelegatePermissions, DelegateResults,
    DelegateUser, DeliverMeetingRequests, GetDelegate, MAX_DELEGATES, PermissionLevel,
    ReadDelegateAnswer, RemoveDelegate, UserId, add_delegate_response, get_delegate_response,
    read_delegate_response, remove_delegate_response, update_delegate_response,
};
use ews_proto::request::{Operation, parse_request};
use ews_proto::response::{ResponseError, error_response, write_fault_for_error};
use ews_proto::xml::Limits;
use insta::assert_snapshot;

const M: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
const T: &str = "http://schemas.microsoft.com/exchange/services/2006/types";

fn envelope(op: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="{M}" xmlns:t="{T}"><s:Body>{op}</s:Body></s:Envelope>"#
    )
}

fn parse(op: &str) -> Result<Operation, EwsProtoError> {
    parse_request(envelope(op).as_bytes(), &Limits::default()).map(|r| r.operation)
}

/// A newline between every `><` pair, as the other response snapshots have it.
fn lines(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.replace("><", ">\n<"),
        Err(e) => panic!("writer produced invalid UTF-8: {e}"),
    }
}

const OWNER: &str = "<m:Mailbox><t:EmailAddress>owner@contoso.example</t:EmailAddress></m:Mailbox>";

fn smtp(address: &str) -> UserId {
    UserId {
        primary_smtp_address: Some(address.into()),
        ..UserId::default()
    }
}

// ======================================================================
// Requests
// ======================================================================

#[test]
fn exchangelib_get_delegate() {
    let bytes = include_bytes!("fixtures/requests/exchangelib/get_delegate.xml");
    let r = parse_request(bytes, &Limits::default()).unwrap();
    assert_eq!(r.operation.name(), "GetDelegate");
    assert_eq!(
        r.operation,
        Operation::GetDelegate(GetDelegate {
            mailbox: "alice@contoso.example".into(),
            user_ids: vec![],
            include_permissions: true,
        })
    );
}

/// exchangelib's `GetDelegate.get_payload` with user ids (a string becomes a `t:UserId` with
/// `t:PrimarySmtpAddress`), byte for byte as it serializes the operation element: `xmlns:t` on
/// every types element, `t:RoutingType` and `t:MailboxType` in the mailbox.
#[test]
fn exchangelib_get_delegate_with_user_ids() {
    let op = format!(
        r#"<m:GetDelegate xmlns:m="{M}" IncludePermissions="true"><m:Mailbox><t:EmailAddress xmlns:t="{T}">owner@contoso.example</t:EmailAddress><t:RoutingType xmlns:t="{T}">SMTP</t:RoutingType><t:MailboxType xmlns:t="{T}">Mailbox</t:MailboxType></m:Mailbox><m:UserIds><t:UserId xmlns:t="{T}"><t:PrimarySmtpAddress>d@contoso.example</t:PrimarySmtpAddress></t:UserId><t:UserId xmlns:t="{T}"><t:SID>S-1-5-21-1</t:SID></t:UserId></m:UserIds></m:GetDelegate>"#
    );
    assert_eq!(
        parse(&op).unwrap(),
        Operation::GetDelegate(GetDelegate {
            mailbox: "owner@contoso.example".into(),
            user_ids: vec![
                smtp("d@contoso.example"),
                UserId {
                    sid: Some("S-1-5-21-1".into()),
                    ..UserId::default()
                },
            ],
            include_permissions: true,
        })
    );
}

#[test]
fn include_permissions_is_an_xs_boolean() {
    for (value, expected) in [
        ("true", true),
        ("false", false),
        ("1", true),
        ("0", false),
        (" 1 ", true),
    ] {
        let Operation::GetDelegate(g) = parse(&format!(
            r#"<m:GetDelegate IncludePermissions="{value}">{OWNER}</m:GetDelegate>"#
        ))
        .unwrap() else {
            panic!("not GetDelegate")
        };
        assert_eq!(g.include_permissions, expected, "{value}");
    }
}

/// Microsoft's GetDelegate example: default namespace for the messages, a `t:UserId` with a
/// display name beside the address.
#[test]
fn microsoft_get_delegate_example() {
    let op = format!(
        r#"<GetDelegate xmlns="{M}" IncludePermissions="false"><Mailbox><t:Name>Owner</t:Name><t:EmailAddress> owner@contoso.example </t:EmailAddress></Mailbox><UserIds><t:UserId><t:PrimarySmtpAddress>d1@contoso.example</t:PrimarySmtpAddress><t:DisplayName>Delegate One</t:DisplayName></t:UserId></UserIds></GetDelegate>"#
    );
    let Operation::GetDelegate(g) = parse(&op).unwrap() else {
        panic!("not GetDelegate")
    };
    assert_eq!(g.mailbox, "owner@contoso.example");
    assert!(!g.include_permissions);
    assert_eq!(
        g.user_ids,
        vec![UserId {
            primary_smtp_address: Some("d1@contoso.example".into()),
            display_name: Some("Delegate One".into()),
            ..UserId::default()
        }]
    );
}

const FULL_USER: &str = "<t:DelegateUser><t:UserId><t:SID>S-1-5-21-9</t:SID><t:PrimarySmtpAddress>d1@contoso.example</t:PrimarySmtpAddress><t:DisplayName>Delegate One</t:DisplayName></t:UserId><t:DelegatePermissions><t:CalendarFolderPermissionLevel>Editor</t:CalendarFolderPermissionLevel><t:TasksFolderPermissionLevel>Reviewer</t:TasksFolderPermissionLevel><t:InboxFolderPermissionLevel>Author</t:InboxFolderPermissionLevel><t:ContactsFolderPermissionLevel>None</t:ContactsFolderPermissionLevel><t:NotesFolderPermissionLevel>Custom</t:NotesFolderPermissionLevel><t:JournalFolderPermissionLevel> None </t:JournalFolderPermissionLevel></t:DelegatePermissions><t:ReceiveCopiesOfMeetingMessages>true</t:ReceiveCopiesOfMeetingMessages><t:ViewPrivateItems>0</t:ViewPrivateItems></t:DelegateUser>";

fn full_user() -> DelegateUser {
    DelegateUser {
        user_id: UserId {
            sid: Some("S-1-5-21-9".into()),
            primary_smtp_address: Some("d1@contoso.example".into()),
            display_name: Some("Delegate One".into()),
        },
        permissions: Some(DelegatePermissions {
            calendar: Some(PermissionLevel::Editor),
            tasks: Some(PermissionLevel::Reviewer),
            inbox: Some(PermissionLevel::Author),
            contacts: Some(PermissionLevel::None),
            notes: Some(PermissionLevel::Custom),
            journal: Some(PermissionLevel::None),
        }),
        receive_copies_of_meeting_messages: Some(true),
        view_private_items: Some(false),
    }
}

#[test]
fn add_delegate_with_every_part() {
    let op = format!(
        "<m:AddDelegate>{OWNER}<m:DelegateUsers>{FULL_USER}<t:DelegateUser><t:UserId><t:PrimarySmtpAddress>d2@contoso.example</t:PrimarySmtpAddress></t:UserId><t:DelegatePermissions><t:CalendarFolderPermissionLevel>Reviewer</t:CalendarFolderPermissionLevel></t:DelegatePermissions></t:DelegateUser></m:DelegateUsers><m:DeliverMeetingRequests>DelegatesAndMe</m:DeliverMeetingRequests></m:AddDelegate>"
    );
    let r = parse(&op).unwrap();
    assert_eq!(r.name(), "AddDelegate");
    assert_eq!(
        r,
        Operation::AddDelegate(AddDelegate {
            mailbox: "owner@contoso.example".into(),
            users: vec![
                full_user(),
                DelegateUser {
                    user_id: smtp("d2@contoso.example"),
                    permissions: Some(DelegatePermissions {
                        calendar: Some(PermissionLevel::Reviewer),
                        ..DelegatePermissions::default()
                    }),
                    receive_copies_of_meeting_messages: None,
                    view_private_items: None,
                },
            ],
            deliver_meeting_requests: Some(DeliverMeetingRequests::DelegatesAndMe),
        })
    );
    // no DeliverMeetingRequests, a user without permissions
    let Operation::AddDelegate(a) = parse(&format!(
        "<m:AddDelegate>{OWNER}<m:DelegateUsers><t:DelegateUser><t:UserId><t:SID>S-1-5-21-3</t:SID></t:UserId></t:DelegateUser></m:DelegateUsers></m:AddDelegate>"
    ))
    .unwrap() else {
        panic!("not AddDelegate")
    };
    assert_eq!(a.deliver_meeting_requests, None);
    assert_eq!(a.users[0].permissions, None);
    assert_eq!(a.users[0].user_id.sid.as_deref(), Some("S-1-5-21-3"));
}

#[test]
fn update_delegate_with_and_without_users() {
    let Operation::UpdateDelegate(u) = parse(&format!(
        "<m:UpdateDelegate>{OWNER}<m:DeliverMeetingRequests>DelegatesOnly</m:DeliverMeetingRequests></m:UpdateDelegate>"
    ))
    .unwrap() else {
        panic!("not UpdateDelegate")
    };
    assert!(u.users.is_empty());
    assert_eq!(
        u.deliver_meeting_requests,
        Some(DeliverMeetingRequests::DelegatesOnly)
    );
    let r = parse(&format!(
        "<m:UpdateDelegate>{OWNER}<m:DelegateUsers>{FULL_USER}</m:DelegateUsers></m:UpdateDelegate>"
    ))
    .unwrap();
    assert_eq!(r.name(), "UpdateDelegate");
    let Operation::UpdateDelegate(u) = r else {
        panic!("not UpdateDelegate")
    };
    assert_eq!(u.users, vec![full_user()]);
    assert_eq!(u.deliver_meeting_requests, None);
}

#[test]
fn remove_delegate() {
    let r = parse(&format!(
        "<m:RemoveDelegate>{OWNER}<m:UserIds><t:UserId><t:PrimarySmtpAddress>d1@contoso.example</t:PrimarySmtpAddress></t:UserId><t:UserId><t:SID>S-1-5-21-9</t:SID></t:UserId></m:UserIds></m:RemoveDelegate>"
    ))
    .unwrap();
    assert_eq!(r.name(), "RemoveDelegate");
    assert_eq!(
        r,
        Operation::RemoveDelegate(RemoveDelegate {
            mailbox: "owner@contoso.example".into(),
            user_ids: vec![
                smtp("d1@contoso.example"),
                UserId {
                    sid: Some("S-1-5-21-9".into()),
                    ..UserId::default()
                },
            ],
        })
    );
}

fn many_users(n: usize) -> String {
    (0..n)
        .map(|i| format!("<t:DelegateUser><t:UserId><t:PrimarySmtpAddress>d{i}@contoso.example</t:PrimarySmtpAddress></t:UserId></t:DelegateUser>"))
        .collect()
}

fn many_ids(n: usize) -> String {
    (0..n)
        .map(|i| format!("<t:UserId><t:SID>S-1-5-21-{i}</t:SID></t:UserId>"))
        .collect()
}

#[test]
fn at_most_max_delegates_per_request() {
    let Operation::AddDelegate(a) = parse(&format!(
        "<m:AddDelegate>{OWNER}<m:DelegateUsers>{}</m:DelegateUsers></m:AddDelegate>",
        many_users(MAX_DELEGATES)
    ))
    .unwrap() else {
        panic!("not AddDelegate")
    };
    assert_eq!(a.users.len(), MAX_DELEGATES);
    let Operation::RemoveDelegate(r) = parse(&format!(
        "<m:RemoveDelegate>{OWNER}<m:UserIds>{}</m:UserIds></m:RemoveDelegate>",
        many_ids(MAX_DELEGATES)
    ))
    .unwrap() else {
        panic!("not RemoveDelegate")
    };
    assert_eq!(r.user_ids.len(), MAX_DELEGATES);
    let e = parse(&format!(
        "<m:UpdateDelegate>{OWNER}<m:DelegateUsers>{}</m:DelegateUsers></m:UpdateDelegate>",
        many_users(MAX_DELEGATES + 1)
    ))
    .unwrap_err();
    assert!(
        matches!(&e, EwsProtoError::TooManyEntries { parent, what: "delegate users", limit: MAX_DELEGATES, .. } if parent == "m:DelegateUsers"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "m:DelegateUsers at byte {} has more than 100 delegate users; send at most 100",
            e.position().unwrap_or_default()
        )
    );
}

/// Every refusal: (what, operation element, response code, text the message must name).
#[test]
fn refusals_name_what_is_wrong() {
    let user = |inner: &str| {
        format!(
            "<m:AddDelegate>{OWNER}<m:DelegateUsers><t:DelegateUser>{inner}</t:DelegateUser></m:DelegateUsers></m:AddDelegate>"
        )
    };
    let uid = "<t:UserId><t:PrimarySmtpAddress>d@contoso.example</t:PrimarySmtpAddress></t:UserId>";
    let perms = |inner: &str| {
        user(&format!(
            "{uid}<t:DelegatePermissions>{inner}</t:DelegatePermissions>"
        ))
    };
    let get_ids = |inner: &str| {
        format!(
            r#"<m:GetDelegate IncludePermissions="true">{OWNER}<m:UserIds>{inner}</m:UserIds></m:GetDelegate>"#
        )
    };
    let remove_ids = |inner: &str| {
        format!("<m:RemoveDelegate>{OWNER}<m:UserIds>{inner}</m:UserIds></m:RemoveDelegate>")
    };
    const SCHEMA: &str = "ErrorSchemaValidation";
    const USER_ID: &str = "ErrorInvalidDelegateUserId";
    const TOO_MANY: &str = "ErrorInvalidRequest";
    let cases: Vec<(&str, String, &str, &str)> = vec![
        // the owner's mailbox
        ("Get without Mailbox", r#"<m:GetDelegate IncludePermissions="true"/>"#.into(), SCHEMA, "missing the required element Mailbox"),
        ("Add without Mailbox", format!("<m:AddDelegate><m:DelegateUsers>{}</m:DelegateUsers></m:AddDelegate>", many_users(1)), SCHEMA, "m:AddDelegate at byte"),
        ("Update without Mailbox", "<m:UpdateDelegate/>".into(), SCHEMA, "missing the required element Mailbox"),
        ("Remove without Mailbox", format!("<m:RemoveDelegate><m:UserIds>{}</m:UserIds></m:RemoveDelegate>", many_ids(1)), SCHEMA, "missing the required element Mailbox"),
        ("Mailbox without EmailAddress", r#"<m:GetDelegate IncludePermissions="true"><m:Mailbox><t:Name>Owner</t:Name></m:Mailbox></m:GetDelegate>"#.into(), SCHEMA, "missing the required element EmailAddress"),
        ("Mailbox with an empty EmailAddress", r#"<m:GetDelegate IncludePermissions="true"><m:Mailbox><t:EmailAddress> </t:EmailAddress></m:Mailbox></m:GetDelegate>"#.into(), SCHEMA, "EmailAddress"),
        ("Mailbox by item id", r#"<m:GetDelegate IncludePermissions="true"><m:Mailbox><t:EmailAddress>o@contoso.example</t:EmailAddress><t:ItemId Id="AAA="/></m:Mailbox></m:GetDelegate>"#.into(), SCHEMA, "unexpected element t:ItemId"),
        ("Mailbox in the types namespace", r#"<m:GetDelegate IncludePermissions="true"><t:Mailbox><t:EmailAddress>o@contoso.example</t:EmailAddress></t:Mailbox></m:GetDelegate>"#.into(), SCHEMA, "unexpected element t:Mailbox"),
        ("two Mailboxes", format!("<m:RemoveDelegate>{OWNER}{OWNER}<m:UserIds>{}</m:UserIds></m:RemoveDelegate>", many_ids(1)), SCHEMA, "m:Mailbox"),
        // GetDelegate's attribute and children
        ("Get without IncludePermissions", format!("<m:GetDelegate>{OWNER}</m:GetDelegate>"), SCHEMA, "missing the required attribute IncludePermissions"),
        ("IncludePermissions not a boolean", format!(r#"<m:GetDelegate IncludePermissions="yes">{OWNER}</m:GetDelegate>"#), SCHEMA, "m:GetDelegate/@IncludePermissions"),
        ("Get with an unknown child", format!(r#"<m:GetDelegate IncludePermissions="true">{OWNER}<m:DelegateUsers/></m:GetDelegate>"#), SCHEMA, "unexpected element m:DelegateUsers"),
        ("Get with empty UserIds", get_ids(""), SCHEMA, "missing the required element UserId"),
        // user ids
        ("DistinguishedUser", get_ids("<t:UserId><t:DistinguishedUser>Default</t:DistinguishedUser></t:UserId>"), USER_ID, "t:DistinguishedUser"),
        ("DistinguishedUser beside an address", remove_ids("<t:UserId><t:PrimarySmtpAddress>d@contoso.example</t:PrimarySmtpAddress><t:DistinguishedUser>Anonymous</t:DistinguishedUser></t:UserId>"), USER_ID, "t:DistinguishedUser"),
        ("ExternalUserIdentity", user("<t:UserId><t:ExternalUserIdentity>x@fabrikam.example</t:ExternalUserIdentity></t:UserId>"), USER_ID, "t:ExternalUserIdentity"),
        ("UserId with a display name only", remove_ids("<t:UserId><t:DisplayName>Bob</t:DisplayName></t:UserId>"), USER_ID, "neither t:SID nor t:PrimarySmtpAddress"),
        ("UserId with empty SID and address", get_ids("<t:UserId><t:SID/><t:PrimarySmtpAddress> </t:PrimarySmtpAddress></t:UserId>"), USER_ID, "neither t:SID nor t:PrimarySmtpAddress"),
        ("empty UserId", user("<t:UserId/>"), USER_ID, "t:UserId"),
        ("UserId with two SIDs", get_ids("<t:UserId><t:SID>S-1</t:SID><t:SID>S-2</t:SID></t:UserId>"), SCHEMA, "t:SID"),
        ("UserId with an unknown child", get_ids("<t:UserId><t:SID>S-1</t:SID><t:Upn>a@b</t:Upn></t:UserId>"), SCHEMA, "unexpected element t:Upn"),
        ("UserIds holding something else", get_ids("<t:Mailbox/>"), SCHEMA, "inside m:UserIds"),
        // AddDelegate / UpdateDelegate
        ("Add without DelegateUsers", format!("<m:AddDelegate>{OWNER}</m:AddDelegate>"), SCHEMA, "missing the required element DelegateUsers"),
        ("Add with empty DelegateUsers", format!("<m:AddDelegate>{OWNER}<m:DelegateUsers/></m:AddDelegate>"), SCHEMA, "missing the required element DelegateUser"),
        ("Update with empty DelegateUsers", format!("<m:UpdateDelegate>{OWNER}<m:DelegateUsers/></m:UpdateDelegate>"), SCHEMA, "missing the required element DelegateUser"),
        ("DelegateUser in the messages namespace", format!("<m:AddDelegate>{OWNER}<m:DelegateUsers><m:DelegateUser>{uid}</m:DelegateUser></m:DelegateUsers></m:AddDelegate>"), SCHEMA, "unexpected element m:DelegateUser"),
        ("DelegateUser without UserId", user("<t:ViewPrivateItems>true</t:ViewPrivateItems>"), SCHEMA, "missing the required element UserId"),
        ("DelegateUser with two UserIds", user(&format!("{uid}{uid}")), SCHEMA, "t:UserId"),
        ("bad permission level", perms("<t:CalendarFolderPermissionLevel>Owner</t:CalendarFolderPermissionLevel>"), SCHEMA, "t:CalendarFolderPermissionLevel"),
        ("permission level in the wrong case", perms("<t:InboxFolderPermissionLevel>editor</t:InboxFolderPermissionLevel>"), SCHEMA, "one of: None, Editor, Reviewer, Author, Custom"),
        ("empty permission level", perms("<t:JournalFolderPermissionLevel/>"), SCHEMA, "t:JournalFolderPermissionLevel"),
        ("permission level twice", perms("<t:TasksFolderPermissionLevel>None</t:TasksFolderPermissionLevel><t:TasksFolderPermissionLevel>Editor</t:TasksFolderPermissionLevel>"), SCHEMA, "appears more than once"),
        ("unknown permission folder", perms("<t:SentItemsFolderPermissionLevel>Editor</t:SentItemsFolderPermissionLevel>"), SCHEMA, "unexpected element t:SentItemsFolderPermissionLevel"),
        ("bad ReceiveCopiesOfMeetingMessages", user(&format!("{uid}<t:ReceiveCopiesOfMeetingMessages>yes</t:ReceiveCopiesOfMeetingMessages>")), SCHEMA, "t:ReceiveCopiesOfMeetingMessages"),
        ("bad ViewPrivateItems", user(&format!("{uid}<t:ViewPrivateItems>2</t:ViewPrivateItems>")), SCHEMA, "an xs:boolean"),
        ("bad DeliverMeetingRequests on Add", format!("<m:AddDelegate>{OWNER}<m:DelegateUsers>{}</m:DelegateUsers><m:DeliverMeetingRequests>Everyone</m:DeliverMeetingRequests></m:AddDelegate>", many_users(1)), SCHEMA, "m:DeliverMeetingRequests"),
        ("bad DeliverMeetingRequests on Update", format!("<m:UpdateDelegate>{OWNER}<m:DeliverMeetingRequests>delegatesonly</m:DeliverMeetingRequests></m:UpdateDelegate>"), SCHEMA, "one of: DelegatesOnly, DelegatesAndMe, DelegatesAndSendInformationToMe, NoForward"),
        ("two DeliverMeetingRequests", format!("<m:UpdateDelegate>{OWNER}<m:DeliverMeetingRequests>NoForward</m:DeliverMeetingRequests><m:DeliverMeetingRequests>NoForward</m:DeliverMeetingRequests></m:UpdateDelegate>"), SCHEMA, "appears more than once"),
        ("Add with an unknown child", format!("<m:AddDelegate>{OWNER}<m:DelegateUsers>{}</m:DelegateUsers><m:UserIds/></m:AddDelegate>", many_users(1)), SCHEMA, "unexpected element m:UserIds"),
        ("too many users on Add", format!("<m:AddDelegate>{OWNER}<m:DelegateUsers>{}</m:DelegateUsers></m:AddDelegate>", many_users(MAX_DELEGATES + 1)), TOO_MANY, "more than 100 delegate users"),
        // RemoveDelegate
        ("Remove without UserIds", format!("<m:RemoveDelegate>{OWNER}</m:RemoveDelegate>"), SCHEMA, "missing the required element UserIds"),
        ("Remove with empty UserIds", remove_ids(""), SCHEMA, "missing the required element UserId"),
        ("too many user ids on Remove", remove_ids(&many_ids(MAX_DELEGATES + 1)), TOO_MANY, "more than 100 user ids"),
        ("too many user ids on Get", get_ids(&many_ids(MAX_DELEGATES + 1)), TOO_MANY, "more than 100 user ids"),
    ];
    for (what, op, code, needle) in cases {
        let e = match parse(&op) {
            Ok(r) => panic!("{what}: accepted as {r:?}"),
            Err(e) => e,
        };
        assert_eq!(e.response_code(), code, "{what}: {e}");
        assert!(e.to_string().contains(needle), "{what}: {e}");
        assert!(e.position().is_some(), "{what}: {e}");
    }
}

#[test]
fn user_ids_that_name_no_delegate_read_plainly() {
    let request = envelope(&format!(
        r#"<m:GetDelegate IncludePermissions="true">{OWNER}<m:UserIds><t:UserId><t:DistinguishedUser>Default</t:DistinguishedUser></t:UserId></m:UserIds></m:GetDelegate>"#
    ));
    let e = parse_request(request.as_bytes(), &Limits::default()).unwrap_err();
    let at = request.find("<t:DistinguishedUser>").unwrap_or_default();
    assert_eq!(
        e,
        EwsProtoError::InvalidDelegateUserId {
            found: "t:DistinguishedUser".into(),
            reason: "Default and Anonymous are folder permission entries, not users; name the delegate by t:SID or t:PrimarySmtpAddress",
            position: at,
        }
    );
    assert_eq!(
        e.to_string(),
        format!(
            "t:DistinguishedUser at byte {at} cannot name a delegate: Default and Anonymous are folder permission entries, not users; name the delegate by t:SID or t:PrimarySmtpAddress"
        )
    );
    // the fault a server sends for it: Exchange's code, which exchangelib raises by name
    let fault = String::from_utf8(write_fault_for_error(&e, request.as_bytes())).unwrap();
    assert!(fault.contains("<e:ResponseCode xmlns:e=\"http://schemas.microsoft.com/exchange/services/2006/errors\">ErrorInvalidDelegateUserId</e:ResponseCode>"), "{fault}");
}

// ======================================================================
// Answers
// ======================================================================

fn bare_user() -> DelegateUser {
    DelegateUser {
        user_id: UserId {
            sid: Some("S-1-5-21-10".into()),
            primary_smtp_address: Some("d2@contoso.example".into()),
            display_name: Some("Delegate <Two> & Co".into()),
        },
        permissions: None,
        receive_copies_of_meeting_messages: None,
        view_private_items: None,
    }
}

fn two_users() -> DelegateAnswer {
    DelegateAnswer {
        users: vec![Ok(full_user()), Ok(bare_user())],
        deliver_meeting_requests: Some(DeliverMeetingRequests::DelegatesAndSendInformationToMe),
    }
}

fn not_a_delegate() -> ResponseError {
    ResponseError::new(
        "ErrorNotDelegate",
        "The specified user is not a delegate of the mailbox.",
    )
}

#[test]
fn get_delegate_two_users() {
    assert_snapshot!(lines(&get_delegate_response(&Ok(two_users()))));
}

#[test]
fn get_delegate_per_user_error() {
    assert_snapshot!(lines(&get_delegate_response(&Ok(DelegateAnswer {
        users: vec![Ok(bare_user()), Err(not_a_delegate())],
        deliver_meeting_requests: Some(DeliverMeetingRequests::DelegatesOnly),
    }))));
}

#[test]
fn get_delegate_no_delegates() {
    assert_snapshot!(lines(&get_delegate_response(&Ok(DelegateAnswer {
        users: vec![],
        deliver_meeting_requests: Some(DeliverMeetingRequests::DelegatesAndMe),
    }))));
}

#[test]
fn get_delegate_whole_request_error() {
    assert_snapshot!(lines(&get_delegate_response(&Err(ResponseError::code(
        "ErrorAccessDenied"
    )))));
}

#[test]
fn add_delegate_added_and_refused() {
    assert_snapshot!(lines(&add_delegate_response(&Ok(DelegateAnswer {
        users: vec![
            Ok(full_user()),
            Err(ResponseError::new(
                "ErrorDelegateAlreadyExists",
                "Delegate is already added."
            )),
        ],
        // not written: AddDelegateResponse has no place for it
        deliver_meeting_requests: Some(DeliverMeetingRequests::DelegatesAndMe),
    }))));
}

#[test]
fn update_delegate_setting_only() {
    assert_snapshot!(lines(&update_delegate_response(&Ok(DelegateAnswer {
        users: vec![],
        deliver_meeting_requests: Some(DeliverMeetingRequests::NoForward),
    }))));
}

#[test]
fn remove_delegate_removed_and_refused() {
    assert_snapshot!(lines(&remove_delegate_response(&Ok(vec![
        Ok(()),
        Err(not_a_delegate()),
    ]))));
}

#[test]
fn remove_delegate_whole_request_error() {
    assert_snapshot!(lines(&remove_delegate_response(&Err(ResponseError::new(
        "ErrorNonExistentMailbox",
        "No mailbox with such guid."
    )))));
}

/// The writers' shape, beside the snapshots: a whole-request error holds neither
/// `m:ResponseMessages` nor `m:DeliverMeetingRequests`; only GetDelegate's answer holds the
/// setting; the generic `error_response` writes the same refusal.
#[test]
fn answers_keep_the_schema_shape() {
    let refused = ResponseError::new("ErrorAccessDenied", "not yours");
    for (op, body) in [
        ("GetDelegate", get_delegate_response(&Err(refused.clone()))),
        ("AddDelegate", add_delegate_response(&Err(refused.clone()))),
        (
            "UpdateDelegate",
            update_delegate_response(&Err(refused.clone())),
        ),
        (
            "RemoveDelegate",
            remove_delegate_response(&Err(refused.clone())),
        ),
    ] {
        assert_eq!(body, error_response(op, &refused), "{op}");
        let text = String::from_utf8(body).unwrap();
        assert!(
            text.contains(&format!(r#"<m:{op}Response ResponseClass="Error""#)),
            "{text}"
        );
        assert!(!text.contains("ResponseMessages"), "{text}");
        assert!(!text.contains("DeliverMeetingRequests"), "{text}");
    }
    let add = String::from_utf8(add_delegate_response(&Ok(two_users()))).unwrap();
    let update = String::from_utf8(update_delegate_response(&Ok(two_users()))).unwrap();
    let get = String::from_utf8(get_delegate_response(&Ok(two_users()))).unwrap();
    assert!(!add.contains("DeliverMeetingRequests") && !update.contains("DeliverMeetingRequests"));
    assert!(get.ends_with("</m:ResponseMessages><m:DeliverMeetingRequests>DelegatesAndSendInformationToMe</m:DeliverMeetingRequests></m:GetDelegateResponse></s:Body></s:Envelope>"), "{get}");
    // permissions in schema order, only those given
    let order = [
        "<t:CalendarFolderPermissionLevel>",
        "<t:TasksFolderPermissionLevel>",
        "<t:InboxFolderPermissionLevel>",
        "<t:ContactsFolderPermissionLevel>",
        "<t:NotesFolderPermissionLevel>",
        "<t:JournalFolderPermissionLevel>",
        "<t:ReceiveCopiesOfMeetingMessages>",
        "<t:ViewPrivateItems>",
    ];
    let at = |t: &str| get.find(t).unwrap_or_else(|| panic!("no {t} in {get}"));
    for pair in order.windows(2) {
        assert!(at(pair[0]) < at(pair[1]), "{} before {}", pair[0], pair[1]);
    }
    let partial = DelegateUser {
        permissions: Some(DelegatePermissions {
            inbox: Some(PermissionLevel::Reviewer),
            ..DelegatePermissions::default()
        }),
        ..bare_user()
    };
    let one = String::from_utf8(get_delegate_response(&Ok(DelegateAnswer {
        users: vec![Ok(partial)],
        deliver_meeting_requests: None,
    })))
    .unwrap();
    assert!(one.contains("<t:DelegatePermissions><t:InboxFolderPermissionLevel>Reviewer</t:InboxFolderPermissionLevel></t:DelegatePermissions></m:DelegateUser>"), "{one}");
    assert!(!one.contains("DeliverMeetingRequests"), "{one}");
}

// ======================================================================
// Round trip: writer → read_delegate_response
// ======================================================================

fn read(bytes: &[u8]) -> ReadDelegateAnswer {
    match read_delegate_response(bytes) {
        Ok(r) => r,
        Err(e) => panic!("{e}: {}", String::from_utf8_lossy(bytes)),
    }
}

/// What a reader gets back for a Get/Add/Update answer: every success's user, the errors as
/// written, the setting only where it is written.
fn expected(a: &DelegateAnswer, setting: bool) -> DelegateResults {
    DelegateResults {
        users: a.users.iter().map(|u| u.clone().map(Some)).collect(),
        deliver_meeting_requests: a.deliver_meeting_requests.filter(|_| setting),
    }
}

#[test]
fn answers_read_back() {
    let with_error = DelegateAnswer {
        users: vec![
            Ok(full_user()),
            Err(not_a_delegate()),
            Err(ResponseError::new("ErrorDelegateNoUser", "no such user").as_warning()),
            Ok(bare_user()),
        ],
        deliver_meeting_requests: Some(DeliverMeetingRequests::DelegatesOnly),
    };
    let empty = DelegateAnswer {
        users: vec![],
        deliver_meeting_requests: Some(DeliverMeetingRequests::NoForward),
    };
    for answer in [two_users(), with_error, empty] {
        let back = read(&get_delegate_response(&Ok(answer.clone())));
        assert_eq!(back.operation, DelegateOperation::Get);
        assert_eq!(back.result, Ok(expected(&answer, true)));
        let back = read(&add_delegate_response(&Ok(answer.clone())));
        assert_eq!(back.operation, DelegateOperation::Add);
        assert_eq!(back.result, Ok(expected(&answer, false)));
        let back = read(&update_delegate_response(&Ok(answer.clone())));
        assert_eq!(back.operation, DelegateOperation::Update);
        assert_eq!(back.result, Ok(expected(&answer, false)));
    }
    let removed = vec![Ok(()), Err(not_a_delegate()), Ok(())];
    let back = read(&remove_delegate_response(&Ok(removed)));
    assert_eq!(back.operation, DelegateOperation::Remove);
    assert_eq!(
        back.result,
        Ok(DelegateResults {
            users: vec![Ok(None), Err(not_a_delegate()), Ok(None)],
            deliver_meeting_requests: None,
        })
    );
    // whole-request errors, from each writer and from the generic error_response
    let refused = ResponseError::new("ErrorAccessDenied", "not yours");
    for (op, bytes) in [
        (
            DelegateOperation::Get,
            get_delegate_response(&Err(refused.clone())),
        ),
        (
            DelegateOperation::Add,
            add_delegate_response(&Err(refused.clone())),
        ),
        (
            DelegateOperation::Update,
            update_delegate_response(&Err(refused.clone())),
        ),
        (
            DelegateOperation::Remove,
            remove_delegate_response(&Err(refused.clone())),
        ),
        (
            DelegateOperation::Update,
            error_response("UpdateDelegate", &refused),
        ),
    ] {
        let back = read(&bytes);
        assert_eq!(back.operation, op);
        assert_eq!(back.result, Err(refused.clone()));
    }
    // m:MessageXml comes back too, on the whole request and on a user's message
    let busy = ResponseError::server_busy(500);
    let back = read(&get_delegate_response(&Err(busy.clone())));
    assert_eq!(back.result, Err(busy.clone()));
    let back = read(&remove_delegate_response(&Ok(vec![Err(busy.clone())])));
    let users = back.result.map(|r| r.users);
    assert_eq!(users, Ok(vec![Err(busy)]));
}

#[test]
fn other_answers_are_not_read_as_delegate_answers() {
    // a fault
    let fault = ews_proto::response::write_fault("ErrorSchemaValidation", "bad");
    assert!(matches!(
        read_delegate_response(&fault),
        Err(EwsProtoError::SoapFault { code, .. }) if code == "ErrorSchemaValidation"
    ));
    // another operation's answer
    let other = ews_proto::response::delete_item_response(&[Ok(())]);
    assert!(matches!(
        read_delegate_response(&other),
        Err(EwsProtoError::UnexpectedElement { found, .. }) if found == "DeleteItemResponse"
    ));
    // a delegate answer without its own ResponseClass (messages only)
    let bare = format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetDelegateResponse xmlns:m="{M}"><m:ResponseMessages/></m:GetDelegateResponse></s:Body></s:Envelope>"#
    );
    assert!(matches!(
        read_delegate_response(bare.as_bytes()),
        Err(EwsProtoError::MissingAttribute {
            name: "ResponseClass",
            ..
        })
    ));
    // a per-user message of another kind
    let odd = format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetDelegateResponse xmlns:m="{M}" ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:ResponseMessages><m:GetDelegateResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode></m:GetDelegateResponseMessage></m:ResponseMessages></m:GetDelegateResponse></s:Body></s:Envelope>"#
    );
    assert!(matches!(
        read_delegate_response(odd.as_bytes()),
        Err(EwsProtoError::UnexpectedElement { found, .. }) if found == "m:GetDelegateResponseMessage"
    ));
}

/// Exchange's own answer (Microsoft's GetDelegate response example: `m:` and `t:` declared on
/// the response, a delegate with every permission), read as a client reads it.
#[test]
fn exchange_shaped_answer_reads() {
    let answer = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><t:ServerVersionInfo xmlns:t="{T}" MajorVersion="8" MinorVersion="1" MajorBuildNumber="206" MinorBuildNumber="0"/></soap:Header><soap:Body><m:GetDelegateResponse xmlns:m="{M}" xmlns:t="{T}" ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:ResponseMessages><m:DelegateUserResponseMessageType ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:DelegateUser><t:UserId><t:SID>S-1-5-21-1333220396-2200287332-232816053-1117</t:SID><t:PrimarySmtpAddress>user2@example.com</t:PrimarySmtpAddress><t:DisplayName>User2</t:DisplayName></t:UserId><t:DelegatePermissions><t:CalendarFolderPermissionLevel>Editor</t:CalendarFolderPermissionLevel><t:TasksFolderPermissionLevel>None</t:TasksFolderPermissionLevel><t:InboxFolderPermissionLevel>Reviewer</t:InboxFolderPermissionLevel><t:ContactsFolderPermissionLevel>None</t:ContactsFolderPermissionLevel><t:NotesFolderPermissionLevel>None</t:NotesFolderPermissionLevel><t:JournalFolderPermissionLevel>None</t:JournalFolderPermissionLevel></t:DelegatePermissions><t:ReceiveCopiesOfMeetingMessages>false</t:ReceiveCopiesOfMeetingMessages><t:ViewPrivateItems>false</t:ViewPrivateItems></m:DelegateUser></m:DelegateUserResponseMessageType></m:ResponseMessages><m:DeliverMeetingRequests>DelegatesAndMe</m:DeliverMeetingRequests></m:GetDelegateResponse></soap:Body></soap:Envelope>"#
    );
    let back = read(answer.as_bytes());
    let Ok(results) = back.result else {
        panic!("refused")
    };
    assert_eq!(
        results.deliver_meeting_requests,
        Some(DeliverMeetingRequests::DelegatesAndMe)
    );
    let [Ok(Some(user))] = results.users.as_slice() else {
        panic!("{:?}", results.users)
    };
    assert_eq!(user.user_id.display_name.as_deref(), Some("User2"));
    let p = user.permissions.as_ref().expect("permissions");
    assert_eq!(
        (p.calendar, p.inbox, p.journal),
        (
            Some(PermissionLevel::Editor),
            Some(PermissionLevel::Reviewer),
            Some(PermissionLevel::None)
        )
    );
}
