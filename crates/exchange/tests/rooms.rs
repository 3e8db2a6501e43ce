//! Rooms against the real server: room and equipment mailboxes (`New-Mailbox -Room`,
//! `-Equipment`), room lists (`New-DistributionGroup -RoomList`, rooms only), GetRoomLists and
//! GetRooms over EWS with their refusals, and rooms resolving by name though their accounts are
//! disabled.

mod common;

use common::{ALICE, BOB, Env, Options, start};
use ews_proto::rooms::parse_rooms_response;
use ews_proto::xml::Limits;
use serde_json::{Value, json};

async fn env() -> Env {
    start(Options {
        mailboxes: &[("Alice", ALICE), ("Bob", BOB)],
        ..Options::default()
    })
    .await
}

async fn ok(e: &Env, cmdlet: &str, params: Value) -> Vec<Value> {
    e.cmdlet(cmdlet, params.clone())
        .await
        .unwrap_or_else(|err| panic!("{cmdlet} {params}: {err}"))
}

async fn rooms_setup(e: &Env) {
    for (name, smtp) in [
        ("Room 101", "room101@contoso.example"),
        ("Room 102", "room102@contoso.example"),
        ("Boardroom", "boardroom@contoso.example"),
    ] {
        let r = ok(
            e,
            "New-Mailbox",
            json!({"Name": name, "PrimarySmtpAddress": smtp, "Room": true}),
        )
        .await;
        assert_eq!(r[0]["RecipientTypeDetails"], "RoomMailbox");
        assert_eq!(r[0]["RecipientType"], "UserMailbox");
        assert_eq!(
            r[0]["AccountDisabled"], true,
            "a room's account is disabled"
        );
    }
    let p = ok(
        e,
        "New-Mailbox",
        json!({"Name": "Projector", "PrimarySmtpAddress": "projector@contoso.example", "Equipment": true}),
    )
    .await;
    assert_eq!(p[0]["RecipientTypeDetails"], "EquipmentMailbox");
    let l = ok(
        e,
        "New-DistributionGroup",
        json!({"Name": "Building 1", "PrimarySmtpAddress": "building1@contoso.example", "RoomList": true, "Members": ["Room 102", "Room 101"]}),
    )
    .await;
    assert_eq!(l[0]["RecipientTypeDetails"], "RoomList");
    ok(
        e,
        "New-DistributionGroup",
        json!({"Name": "Annex", "PrimarySmtpAddress": "annex@contoso.example", "RoomList": true}),
    )
    .await;
    ok(
        e,
        "New-DistributionGroup",
        json!({"Name": "Team", "PrimarySmtpAddress": "team@contoso.example", "Members": ["Bob"]}),
    )
    .await;
}

fn entries(body: &str) -> Vec<(String, String, String)> {
    parse_rooms_response(body.as_bytes(), &Limits::default())
        .unwrap_or_else(|e| panic!("{e}: {body}"))
        .unwrap_or_else(|e| panic!("{}: {}", e.code, e.message))
        .into_iter()
        .map(|m| {
            (
                m.name.unwrap_or_default(),
                m.email_address.unwrap_or_default(),
                m.mailbox_type.unwrap_or_default(),
            )
        })
        .collect()
}

fn get_rooms(list: &str) -> String {
    format!(
        "<m:GetRooms><m:RoomList><t:EmailAddress>{list}</t:EmailAddress></m:RoomList></m:GetRooms>"
    )
}

#[tokio::test]
async fn room_lists_and_their_rooms_are_listed() {
    let e = env().await;
    // none yet: an empty list, not an error
    assert_eq!(entries(&e.call("<m:GetRoomLists/>").await), []);
    rooms_setup(&e).await;
    let lists = entries(&e.call("<m:GetRoomLists/>").await);
    assert_eq!(
        lists,
        [
            (
                "Annex".into(),
                "annex@contoso.example".into(),
                "PublicDL".into()
            ),
            (
                "Building 1".into(),
                "building1@contoso.example".into(),
                "PublicDL".into()
            ),
        ],
        "room lists only, not the other groups"
    );
    let rooms = entries(&e.call(&get_rooms("Building1@CONTOSO.example")).await);
    assert_eq!(
        rooms,
        [
            (
                "Room 101".into(),
                "room101@contoso.example".into(),
                "Mailbox".into()
            ),
            (
                "Room 102".into(),
                "room102@contoso.example".into(),
                "Mailbox".into()
            ),
        ]
    );
    assert_eq!(
        entries(&e.call(&get_rooms("annex@contoso.example")).await),
        []
    );
    // a room hidden from address lists is not listed, nor a hidden list
    ok(
        &e,
        "Set-DistributionGroup",
        json!({"Identity": "Annex", "HiddenFromAddressListsEnabled": true}),
    )
    .await;
    let lists = entries(&e.call("<m:GetRoomLists/>").await);
    assert_eq!(lists.len(), 1, "{lists:?}");
    // rooms resolve by name though their accounts are disabled
    let resolved = e
        .call(r#"<m:ResolveNames ReturnFullContactData="false"><m:UnresolvedEntry>Room 1</m:UnresolvedEntry></m:ResolveNames>"#)
        .await;
    assert!(resolved.contains("room101@contoso.example"), "{resolved}");
    assert!(resolved.contains("room102@contoso.example"), "{resolved}");
    // Get-Mailbox -RecipientTypeDetails
    let names = |v: Vec<Value>| -> Vec<String> {
        v.iter()
            .map(|r| r["Name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(
        names(
            ok(
                &e,
                "Get-Mailbox",
                json!({"RecipientTypeDetails": "RoomMailbox"})
            )
            .await
        ),
        ["Boardroom", "Room 101", "Room 102"]
    );
    assert_eq!(
        names(
            ok(
                &e,
                "Get-Mailbox",
                json!({"RecipientTypeDetails": ["EquipmentMailbox", "UserMailbox"]})
            )
            .await
        ),
        ["Alice", "Bob", "Projector"]
    );
}

#[tokio::test]
async fn refusals_are_precise_and_change_nothing() {
    let e = env().await;
    rooms_setup(&e).await;
    for list in [
        "team@contoso.example",
        "nobody@contoso.example",
        "room101@contoso.example",
    ] {
        let body = e.call(&get_rooms(list)).await;
        let err = parse_rooms_response(body.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap_err();
        assert_eq!(err.code, "ErrorNameResolutionNoResults", "{list}: {body}");
        assert!(err.message.contains("GetRoomLists"), "{}", err.message);
    }
    // a room list holds rooms only
    for (cmdlet, params) in [
        (
            "Add-DistributionGroupMember",
            json!({"Identity": "Building 1", "Member": "Bob"}),
        ),
        (
            "Add-DistributionGroupMember",
            json!({"Identity": "Building 1", "Member": "Projector"}),
        ),
        (
            "New-DistributionGroup",
            json!({"Name": "Mixed", "RoomList": true, "Members": ["Room 101", "Alice"]}),
        ),
    ] {
        let err = e
            .cmdlet(cmdlet, params.clone())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("room mailboxes only"),
            "{cmdlet} {params}: {err}"
        );
    }
    assert!(
        e.cmdlet("Get-DistributionGroup", json!({"Identity": "Mixed"}))
            .await
            .is_err(),
        "the refused New-DistributionGroup created nothing"
    );
    let rooms = entries(&e.call(&get_rooms("building1@contoso.example")).await);
    assert_eq!(rooms.len(), 2);
    for (params, why) in [
        (
            json!({"Name": "Both", "PrimarySmtpAddress": "both@contoso.example", "Room": true, "Equipment": true}),
            "not both",
        ),
        (
            json!({"Name": "Person", "PrimarySmtpAddress": "person@contoso.example", "EnableRoomMailboxAccount": true}),
            "-Room",
        ),
    ] {
        let err = e
            .cmdlet("New-Mailbox", params)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{err}");
    }
    let err = e
        .cmdlet("Get-Mailbox", json!({"RecipientTypeDetails": "Kitchen"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("RoomMailbox"), "{err}");
    // a room whose account is enabled (a Teams Rooms device signs in as it)
    let r = ok(
        &e,
        "New-Mailbox",
        json!({"Name": "Teams Room", "PrimarySmtpAddress": "teamsroom@contoso.example", "Room": true, "EnableRoomMailboxAccount": true}),
    )
    .await;
    assert_eq!(r[0]["AccountDisabled"], false);
    // without UserApplication
    e.remove_role("UserApplication").await;
    let body = e.call("<m:GetRoomLists/>").await;
    let err = parse_rooms_response(body.as_bytes(), &Limits::default())
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code, "ErrorAccessDenied");
}
