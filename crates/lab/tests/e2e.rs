//! End to end on the whole lab, over HTTP on loopback: the seed's steps 1–6 through the real admin
//! APIs, the verification objects written and read back through EWS with tokens minted by the
//! real F1 flow, the §1b and RBAC refusals, and exchangelib as a real third-party client.

use lab::client::{ExchangeAdmin, mint_f1};
use lab::ewsc::Ews;
use lab::steps;
use serde_json::json;
use std::path::PathBuf;

async fn lab_ready() -> (tempfile::TempDir, lab::Lab) {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab::start(dir.path(), (0, 0)).await.unwrap();
    let done = steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    assert_eq!(done.len(), 6, "six steps");
    assert!(done.iter().all(|o| o.ok), "{done:?}");
    (dir, lab)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_steps_then_verify_all_hold() {
    let (_d, lab) = lab_ready().await;
    // steps are idempotent: a second run changes nothing and still holds
    let again = steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    assert!(again.iter().all(|o| o.ok), "{again:?}");
    let v = steps::verify(&lab.info, "alice@contoso.example", &mut |_| {})
        .await
        .unwrap();
    assert_eq!(v.len(), 5);
    for o in &v {
        assert!(o.ok, "{} failed: {}", o.title, o.detail);
    }
    // the objects the steps leave
    let ex = ExchangeAdmin::new(&lab.info).unwrap();
    let mu = ex
        .run("Get-MailUser", json!({"Identity": steps::APP_ACCOUNT}))
        .await
        .unwrap();
    assert_eq!(mu[0]["HiddenFromAddressListsEnabled"], true);
    let roles = ex
        .run(
            "Get-ManagementRoleAssignment",
            json!({"RoleAssignee": steps::APP_ACCOUNT}),
        )
        .await
        .unwrap();
    let mut names: Vec<_> = roles
        .iter()
        .map(|r| r["Role"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ArchiveApplication", "UserApplication"]);
    let pa = ex
        .run("Get-PartnerApplication", json!({"Identity": "SfBOnline"}))
        .await
        .unwrap();
    assert_eq!(
        pa[0]["ApplicationIdentifier"],
        "00000004-0000-0ff1-ce00-000000000000"
    );
    assert_eq!(pa[0]["Enabled"], true);
    assert!(
        pa[0]["LinkedAccount"]
            .as_str()
            .unwrap()
            .ends_with(steps::APP_ACCOUNT)
    );
    // traffic: every F1 call carries actor 00000004@realm, never Basic
    let t = ex.traffic().await.unwrap();
    assert!(!t.is_empty());
    let want = format!("00000004-0000-0ff1-ce00-000000000000@{}", lab.info.realm);
    assert!(t.iter().all(|r| r["scheme"] == "Bearer"));
    assert!(
        t.iter()
            .filter(|r| r["verdict"] == "ok")
            .all(|r| r["actor"] == want.as_str())
    );
    let dump = serde_json::to_string(&t).unwrap();
    assert!(!dump.to_ascii_lowercase().contains("password"));
}

async fn ews_code(lab: &lab::Lab, token: &str) -> Result<String, String> {
    let ews = Ews::new(&lab.info.exchange_url, token.to_owned());
    ews.find_items("conversationhistory", false)
        .await
        .map(|r| r.code)
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_failed_check_and_recover_when_fixed() {
    let (_d, lab) = lab_ready().await;
    let ex = ExchangeAdmin::new(&lab.info).unwrap();
    let token = mint_f1(&lab.info, Some("alice@contoso.example"))
        .await
        .unwrap();
    assert_eq!(ews_code(&lab, &token).await.unwrap(), "NoError");

    // partner application disabled → 401 naming it; enabled again → works
    ex.run(
        "Set-PartnerApplication",
        json!({"Identity": "SfBOnline", "Enabled": false}),
    )
    .await
    .unwrap();
    let e = ews_code(&lab, &token).await.unwrap_err();
    assert!(
        e.contains("2000004") && e.contains("'SfBOnline' is disabled"),
        "{e}"
    );
    ex.run(
        "Set-PartnerApplication",
        json!({"Identity": "SfBOnline", "Enabled": true}),
    )
    .await
    .unwrap();
    assert_eq!(ews_code(&lab, &token).await.unwrap(), "NoError");

    // UserApplication removed → ErrorAccessDenied on mailbox reads; restored → works
    remove_app_role(&ex, "UserApplication").await;
    assert_eq!(ews_code(&lab, &token).await.unwrap(), "ErrorAccessDenied");
    ex.run(
        "New-ManagementRoleAssignment",
        json!({"Role": "UserApplication", "User": steps::APP_ACCOUNT}),
    )
    .await
    .unwrap();
    assert_eq!(ews_code(&lab, &token).await.unwrap(), "NoError");

    // ArchiveApplication removed → Purges writes refused, history writes still fine
    remove_app_role(&ex, "ArchiveApplication").await;
    let ews = Ews::new(&lab.info.exchange_url, token.clone());
    let r = ews
        .create_message(
            "recoverableitemspurges",
            "IPM.Note.Microsoft.Conversation",
            "x",
            "<p>x</p>",
            "<a@b>",
        )
        .await
        .unwrap();
    assert_eq!(r.code, "ErrorAccessDenied");
    assert!(r.body.contains("ArchiveApplication"));
    let r = ews
        .create_message(
            "conversationhistory",
            "IPM.Note.Microsoft.Conversation",
            "x",
            "<p>x</p>",
            "<c@d>",
        )
        .await
        .unwrap();
    assert_eq!(r.code, "NoError");

    // a user that does not exist
    let ghost = mint_f1(&lab.info, Some("ghost@contoso.example"))
        .await
        .unwrap();
    let e = ews_code(&lab, &ghost).await.unwrap_err();
    assert!(e.contains("2000005") && e.contains("does not exist"), "{e}");

    // linked account without any role
    remove_app_role(&ex, "UserApplication").await;
    let e = ews_code(&lab, &token).await.unwrap_err();
    assert!(e.contains("no RBAC role assignments"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_and_identity_only_from_the_token() {
    let (_d, lab) = lab_ready().await;
    let http = reqwest::Client::new();
    let url = format!("{}/EWS/Exchange.asmx", lab.info.exchange_url);
    // empty Bearer: realm discovery challenge, no error=
    let r = http
        .post(&url)
        .header("authorization", "Bearer ")
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        www.starts_with("Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\""),
        "{www}"
    );
    assert!(
        www.contains(&format!(
            "00000001-0000-0000-c000-000000000000@{}",
            lab.info.realm
        )),
        "{www}"
    );
    assert!(
        www.contains(&format!(
            "00000004-0000-0ff1-ce00-000000000000@{}",
            lab.info.realm
        )),
        "{www}"
    );
    assert!(www.contains("token_types=\"app_asserted_user_v1 service_asserted_app_v1\""));
    assert!(!www.contains("error="));
    // Basic is never accepted
    let r = http
        .post(&url)
        .basic_auth("alice@contoso.example", Some("x"))
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // identity smuggled in headers, cookies, query: still 401, with no token
    let r = http
        .post(format!("{url}?X-Rps-CAT=alice&user=alice@contoso.example"))
        .header("X-BEResource", "alice@contoso.example")
        .header("X-AnchorMailbox", "alice@contoso.example")
        .header(
            "cookie",
            "X-BEResource=alice@contoso.example; X-AnonResource-Backend=1",
        )
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // a CVE-2023-29357-style bare alg:none token
    let bare = s2s_proto::jwt::unsigned(&serde_json::from_value(json!({
        "aud": format!("00000002-0000-0ff1-ce00-000000000000/mail.contoso.example@{}", lab.info.realm),
        "iss": format!("00000002-0000-0ff1-ce00-000000000000@{}", lab.info.realm),
        "nbf": "1", "exp": "99999999999", "ver": "hashedprooftoken", "isloopback": true,
        "smtp": "alice@contoso.example"
    })).unwrap());
    let r = http
        .post(&url)
        .bearer_auth(&bare)
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(www.contains("error=\"invalid_token\""));
    let diag = r.headers()["x-ms-diagnostics"].to_str().unwrap().to_owned();
    assert!(diag.contains("S2S-1"), "{diag}");
    // odd paths route nowhere
    let token = mint_f1(&lab.info, Some("alice@contoso.example"))
        .await
        .unwrap();
    for p in [
        "/autodiscover/autodiscover.json?@x/EWS/Exchange.asmx",
        "/EWS/Exchange.asmx/../admin/powershell",
        "/ews//exchange.asmx",
    ] {
        let r = http
            .post(format!("{}{p}", lab.info.exchange_url))
            .bearer_auth(&token)
            .body("<x/>")
            .send()
            .await
            .unwrap();
        // 405: the Autodiscover v2 lookup takes GET only (and answers it without routing)
        assert!(
            [401, 404, 405, 500].contains(&r.status().as_u16()),
            "{p}: {}",
            r.status()
        );
        assert_ne!(r.status(), 200, "{p}");
    }
    // the lower-case path works as IIS's does
    let r = http.post(format!("{}/ews/exchange.asmx", lab.info.exchange_url)).bearer_auth(&token).header("content-type", "text/xml").body(r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body><m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="recoverableitemspurges"/></m:FolderIds></m:GetFolder></s:Body></s:Envelope>"#).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("ServerVersionInfo") && body.contains("Purges"),
        "{body}"
    );
    // another user's mailbox named in the request: denied
    let r = Ews::new(&lab.info.exchange_url, token).call(r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder>"#).await.unwrap();
    assert_eq!(r.code, "ErrorAccessDenied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_impersonation_needs_the_role() {
    let (_d, lab) = lab_ready().await;
    let token = mint_f1(&lab.info, Some("alice@contoso.example"))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let body = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2016"/><t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>bob@contoso.example</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></s:Header><s:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder></s:Body></s:Envelope>"#;
    let text = post_ews(&http, &lab, &token, body).await;
    assert!(text.contains("ErrorImpersonateUserDenied"), "{text}");

    // with the role, the request acts on the impersonated user's mailbox — also app-only, the
    // way exchangelib's IMPERSONATION access type and EWSEditor's app permissions work
    let ex = ExchangeAdmin::new(&lab.info).unwrap();
    ex.run(
        "New-ManagementRoleAssignment",
        json!({"Role": "ApplicationImpersonation", "User": steps::APP_ACCOUNT}),
    )
    .await
    .unwrap();
    let folder_id = |t: &str| {
        t.split("<t:FolderId Id=\"")
            .nth(1)
            .map(|s| s.split('"').next().unwrap_or("").to_owned())
    };
    let app_only = mint_f1(&lab.info, None).await.unwrap();
    let mut ids = Vec::new();
    for tok in [&token, &app_only] {
        let t = post_ews(&http, &lab, tok, body).await;
        assert!(t.contains("NoError"), "{t}");
        ids.push(folder_id(&t).unwrap());
    }
    assert_eq!(ids[0], ids[1], "both act on bob's inbox");
    // and that is bob's inbox, not alice's
    let alice_inbox = Ews::new(&lab.info.exchange_url, token.clone())
        .call(r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>"#)
        .await
        .unwrap();
    assert_ne!(folder_id(&alice_inbox.body).unwrap(), ids[0]);
    // an impersonated address that has no mailbox
    let ghost = body.replace("bob@contoso.example", "ghost@contoso.example");
    let t = post_ews(&http, &lab, &token, ghost).await;
    assert!(t.contains("ErrorNonExistentMailbox"), "{t}");

    // scoped: ApplicationImpersonation limited to a management scope reaches bob, not alice
    remove_app_role(&ex, "ApplicationImpersonation").await;
    ex.run("New-ManagementScope", json!({"Name": "Bob only", "RecipientRestrictionFilter": "{PrimarySmtpAddress -eq 'bob@contoso.example'}"})).await.unwrap();
    let bad = ex
        .run(
            "New-ManagementScope",
            json!({"Name": "x", "RecipientRestrictionFilter": "{Department -eq 'Sales'}"}),
        )
        .await
        .unwrap_err();
    assert!(
        bad.to_string().contains("not a supported property"),
        "{bad}"
    );
    ex.run("New-ManagementRoleAssignment", json!({"Role": "ApplicationImpersonation", "User": steps::APP_ACCOUNT, "CustomRecipientWriteScope": "Bob only"})).await.unwrap();
    let t = post_ews(&http, &lab, &app_only, body).await;
    assert!(t.contains("NoError"), "bob is inside the scope: {t}");
    let to_alice = body.replace("bob@contoso.example", "alice@contoso.example");
    let t = post_ews(&http, &lab, &app_only, to_alice).await;
    assert!(
        t.contains("ErrorImpersonateUserDenied") && t.contains("outside the scope"),
        "alice is outside: {t}"
    );
}

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("OPENHYBRID_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        venv.exists(),
        "no Python for the interop tests: run .ci/run once, or `python3 -m venv .venv && .venv/bin/pip install -r tests/interop/requirements.txt`, or set OPENHYBRID_PYTHON"
    );
    venv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchangelib_interop() {
    let (_d, lab) = lab_ready().await;
    // an archived chat in Purges first, so exchangelib has something to read there
    let token = mint_f1(&lab.info, Some("alice@contoso.example"))
        .await
        .unwrap();
    let ews = Ews::new(&lab.info.exchange_url, token.clone());
    assert_eq!(
        ews.create_message(
            "recoverableitemspurges",
            "IPM.Note.Microsoft.Conversation",
            "Archived chat",
            "<p>a</p>",
            "<z@y>"
        )
        .await
        .unwrap()
        .code,
        "NoError"
    );
    // a tentative appointment in Bob's calendar for the script's free_busy(): Saturday
    // 2030-03-30, 09:00-10:00 UTC (10:00-11:00 in Copenhagen), its subject Bob's own
    let bob = mint_f1(&lab.info, Some("bob@contoso.example"))
        .await
        .unwrap();
    assert_eq!(
        Ews::new(&lab.info.exchange_url, bob)
            .call(r#"<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Bob private</t:Subject><t:Start>2030-03-30T09:00:00Z</t:Start><t:End>2030-03-30T10:00:00Z</t:End><t:LegacyFreeBusyStatus>Tentative</t:LegacyFreeBusyStatus></t:CalendarItem></m:Items></m:CreateItem>"#)
            .await
            .unwrap()
            .code,
        "NoError"
    );
    // distribution groups for the script's groups(): Interop Team = Bob and Interop Inner,
    // Interop Inner = Alice and Interop Team (a cycle)
    let admin = ExchangeAdmin::new(&lab.info).unwrap();
    // a room and a room list for the script's get_roomlists/get_rooms
    admin
        .run(
            "New-Mailbox",
            json!({"Name": "Interop Room", "PrimarySmtpAddress": "interop-room@contoso.example", "Room": true}),
        )
        .await
        .unwrap();
    admin
        .run(
            "New-DistributionGroup",
            json!({"Name": "Interop Rooms", "PrimarySmtpAddress": "interop-rooms@contoso.example", "RoomList": true, "Members": ["Interop Room"]}),
        )
        .await
        .unwrap();
    admin
        .run(
            "New-DistributionGroup",
            json!({"Name": "Interop Team", "PrimarySmtpAddress": "interop-team@contoso.example", "Members": ["bob@contoso.example"]}),
        )
        .await
        .unwrap();
    admin
        .run(
            "New-DistributionGroup",
            json!({"Name": "Interop Inner", "PrimarySmtpAddress": "interop-inner@contoso.example", "Members": ["alice@contoso.example", "Interop Team"]}),
        )
        .await
        .unwrap();
    admin
        .run(
            "Add-DistributionGroupMember",
            json!({"Identity": "Interop Team", "Member": "Interop Inner"}),
        )
        .await
        .unwrap();
    // Bob's working hours as an administrator sets them: Tuesday and Thursday, 09:30-18:00 in
    // W. Europe time (free/busy shows them on that zone's clock)
    admin
        .run(
            "Set-MailboxCalendarConfiguration",
            json!({"Identity": "bob@contoso.example", "WorkDays": "Tuesday, Thursday", "WorkingHoursStartTime": "09:30:00", "WorkingHoursEndTime": "18:00:00", "WorkingHoursTimeZone": "W. Europe Standard Time"}),
        )
        .await
        .unwrap();
    // Bob as Alice's delegate, for the script's delegates(): Editor on her Calendar, Reviewer on
    // her Tasks, nothing on her Inbox
    assert_eq!(
        ews.call(r#"<m:AddDelegate><m:Mailbox><t:EmailAddress>alice@contoso.example</t:EmailAddress></m:Mailbox><m:DelegateUsers><t:DelegateUser><t:UserId><t:PrimarySmtpAddress>bob@contoso.example</t:PrimarySmtpAddress></t:UserId><t:DelegatePermissions><t:CalendarFolderPermissionLevel>Editor</t:CalendarFolderPermissionLevel><t:TasksFolderPermissionLevel>Reviewer</t:TasksFolderPermissionLevel></t:DelegatePermissions></t:DelegateUser></m:DelegateUsers></m:AddDelegate>"#)
            .await
            .unwrap()
            .code,
        "NoError"
    );
    // Bob's own token, for the script's meetings() (Bob answers Alice's invitations)
    let bob_token = mint_f1(&lab.info, Some("bob@contoso.example"))
        .await
        .unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/interop/exchangelib_interop.py");
    let url = format!("{}/EWS/Exchange.asmx", lab.info.exchange_url);
    for extra in [None, Some("--probe")] {
        let out = tokio::process::Command::new(python())
            .arg(&script)
            .arg(&url)
            .arg(&token)
            .arg("alice@contoso.example")
            .args(extra)
            .env("OPENHYBRID_BOB_TOKEN", &bob_token)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "exchangelib failed ({extra:?}):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let tree: Vec<String> = serde_json::from_value(v["tree"].clone()).unwrap();
        for f in [
            "Inbox",
            "Conversation History",
            "Recoverable Items",
            "Purges",
            "Deletions",
        ] {
            assert!(tree.iter().any(|t| t == f), "{f} missing from {tree:?}");
        }
        // exchangelib's own SOAP Autodiscover client found EWS (the rest of the run used it)
        assert_eq!(v["autodiscover"]["internal_ews_url"], url.as_str(), "{v}");
        assert_eq!(
            v["autodiscover"]["ews_url"],
            format!("https://{}/EWS/Exchange.asmx", lab::EXCHANGE_HOST),
            "{v}"
        );
        assert_eq!(v["autodiscover"]["smtp"], "alice@contoso.example", "{v}");
        assert_eq!(v["autodiscover"]["version"], "Exchange2016", "{v}");
        assert_eq!(v["autodiscover_unknown"], "ErrorNonExistentMailbox", "{v}");
        assert_eq!(v["history_subjects"].as_array().unwrap().len(), 1, "{v}");
        // Regression: valid EWS this server does not support was an ErrorInvalidRequest fault,
        // which exchangelib retried under every version and reported as a version mismatch.
        let unsupported = v["unsupported_save"].as_str().unwrap_or_default();
        assert!(
            unsupported.starts_with("ErrorInvalidOperation")
                && unsupported.contains("not supported"),
            "{v}"
        );
        // Regression: extended properties were accepted by CreateItem and dropped.
        assert!(
            v["extended_get"]
                .as_str()
                .is_some_and(|t| t.starts_with("tag-")),
            "{v}"
        );
        assert_eq!(v["extended_found"], 1, "{v}");
        // Regression: a restriction on item:Importance was refused as unsearchable.
        assert_eq!(v["high_importance"], json!(["urgent"]), "{v}");
        // Regression: FindItem ignored SortOrder, so order_by() did nothing.
        assert_eq!(v["order_asc"], json!(["a", "b", "c"]), "{v}");
        assert_eq!(v["order_desc"], json!(["c", "b", "a"]), "{v}");
        // Regression: an unimplemented operation was answered with an element exchangelib could
        // not parse ("Unknown SOAP response"); now it is the EWS error its ResponseCode names
        // (GetSearchableMailboxes, since GetUserAvailability and GetRoomLists are served)
        let unsupported = v["unsupported"].as_str().unwrap_or_default();
        assert!(
            unsupported.starts_with("ErrorInvalidRequest") && unsupported.contains("not supported"),
            "{v}"
        );
        // rooms through Protocol.get_roomlists and Protocol.get_rooms
        assert_eq!(
            v["room_lists"],
            json!([["Interop Rooms", "interop-rooms@contoso.example"]]),
            "{v}"
        );
        assert_eq!(
            v["rooms"],
            json!([["Interop Room", "interop-room@contoso.example", "Mailbox"]]),
            "{v}"
        );
        // free/busy through Protocol.get_free_busy_info in Europe/Copenhagen: 2030-03-30 00:00 to
        // 2030-04-01 00:00 is 47 hours (the clocks go forward on the 31st), 94 half hours from
        // 2030-03-29 23:00 UTC; Alice's own appointment with its details, Bob's times only, both
        // read back by exchangelib on the Copenhagen clock
        let fb = &v["free_busy"];
        let stream = |runs: &[(usize, usize, char)]| {
            let mut s = vec!['0'; 94];
            for (a, b, c) in runs {
                for x in &mut s[*a..=*b] {
                    *x = *c;
                }
            }
            s.into_iter().collect::<String>()
        };
        // delegates: GetDelegate read by exchangelib; Bob on Alice's calendar as her delegate
        let d = &v["delegates"];
        assert_eq!(
            d["list"],
            json!([[
                "bob@contoso.example",
                "Editor",
                "Reviewer",
                "None",
                false,
                false
            ]]),
            "{v}"
        );
        assert_eq!(
            d["calendar_permissions"],
            json!([
                ["Default", "FreeBusyTimeOnly", "TimeOnly"],
                ["Anonymous", "None", "None"],
                ["bob@contoso.example", "Editor", "FullDetails"]
            ]),
            "{v}"
        );
        assert_eq!(d["alice_sees"], json!(["Booked by Bob"]), "{v}");
        assert_eq!(d["bob_sees"], 1, "{v}");
        assert_eq!(d["inbox"], "ErrorAccessDenied", "{v}");
        assert_eq!(fb["alice"]["view"], "DetailedMerged", "{v}");
        assert_eq!(fb["alice"]["merged"], stream(&[(66, 68, '2')]), "{v}");
        assert_eq!(
            fb["alice"]["events"],
            json!([[
                "2030-03-31T10:00:00+02:00",
                "2030-03-31T11:30:00+02:00",
                "Busy",
                "Interop planning",
                true
            ]]),
            "{v}"
        );
        assert_eq!(fb["bob"]["view"], "FreeBusyMerged", "{v}");
        assert_eq!(fb["bob"]["merged"], stream(&[(20, 21, '1')]), "{v}");
        assert_eq!(
            fb["bob"]["events"],
            json!([[
                "2030-03-30T10:00:00+01:00",
                "2030-03-30T11:00:00+01:00",
                "Tentative",
                null,
                false
            ]]),
            "no subject of Bob's for Alice: {v}"
        );
        assert_eq!(
            fb["bob"]["working_hours"],
            json!([[[2, 4], "09:30:00", "18:00:00"]]),
            "{v}"
        );
        assert_eq!(fb["nobody"], "ErrorMailRecipientNotFound", "{v}");
        let too_long = fb["too_long"].as_str().unwrap_or_default();
        assert!(
            too_long.starts_with("ErrorTimeIntervalTooBig") && too_long.contains("62 days"),
            "{v}"
        );
        // out-of-office settings through exchangelib's Account.oof_settings
        assert_eq!(
            v["oof"],
            json!({
                "before": "Disabled",
                "after": ["Enabled", "Known", "Away until Monday", "Away"],
                "mail_tips": ["alice@contoso.example", "Away until Monday", false, 1, 0, 26214400, false, false, false],
                "group_tips": [[2, false], [null, true]],
                "off": "Disabled"
            }),
            "{v}"
        );
        assert!(
            v["history_body"]
                .as_str()
                .unwrap()
                .contains("hello from exchangelib")
        );
        assert!(
            v["purges_subjects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == "Archived chat"),
            "{v}"
        );
        assert_eq!(v["greeting_len"], 44);
        assert_eq!(v["greeting_len_after_update"], 45);
        // CreateFolder (Folder.save()): the folder is listed, holds what was saved into it, and
        // its name is taken regardless of case
        assert_eq!(v["new_folder"]["listed"], true, "{v}");
        let items = v["new_folder"]["items"].as_array().unwrap();
        assert!(
            items.len() == 1
                && items[0]
                    .as_str()
                    .unwrap()
                    .starts_with("filed in Skype projects"),
            "{v}"
        );
        assert_eq!(v["duplicate_folder"], "ErrorFolderExists", "{v}");
        // item:TextBody: the HTML body as plain text
        assert_eq!(v["text_body"], "hello from exchangelib", "{v}");
        // ResolveNames (Protocol.resolve_names)
        assert_eq!(v["resolved"], json!(["alice@contoso.example"]), "{v}");
        assert_eq!(
            v["resolved_contact"].as_array().map(Vec::len),
            Some(1),
            "{v}"
        );
        // exchangelib hands back the no-results error as the entry, as it does with Exchange
        assert_eq!(
            v["resolved_none"],
            json!(["ErrorNameResolutionNoResults"]),
            "{v}"
        );
        // UpdateFolder (Folder.save() of an existing folder)
        assert_eq!(v["renamed_folder_listed"], true, "{v}");
        // EmptyFolder (Folder.empty())
        assert_eq!(v["emptied_items"], json!([]), "{v}");
        // DeleteFolder (Folder.delete())
        assert_eq!(v["deleted_folder_listed"], false, "{v}");
        // SyncFolderItems (Folder.sync_items()): the first sync lists the folder over two
        // calls; the second reports exactly what changed since, each once, in change order
        assert_eq!(
            v["sync_initial"],
            json!([
                ["create", "sync 0"],
                ["create", "sync 1"],
                ["create", "sync 2"]
            ]),
            "{v}"
        );
        assert_eq!(
            v["sync_changes"],
            json!([
                ["create", "sync new"],
                ["update", "sync 0 renamed"],
                ["delete", "sync 1"],
                ["read_flag_change", "sync 2", true]
            ]),
            "{v}"
        );
        assert_eq!(v["sync_again"], json!([]), "{v}");
        let bad = v["sync_bad_state"].as_str().unwrap_or_default();
        assert!(
            bad.starts_with("ErrorInvalidSyncStateData") && bad.contains("without a SyncState"),
            "{v}"
        );
        // SyncFolderHierarchy (Folder.sync_hierarchy()): a folder created, renamed, deleted
        assert_eq!(v["sync_hierarchy_initial"], json!([]), "{v}");
        let created = &v["sync_hierarchy_created"];
        assert_eq!(created[0][0], "create", "{v}");
        assert!(
            created.as_array().map(Vec::len) == Some(1)
                && created[0][1]
                    .as_str()
                    .is_some_and(|n| n.starts_with("Sync child ")),
            "{v}"
        );
        assert_eq!(
            v["sync_hierarchy_renamed"],
            json!([["update", "Sync child renamed"]]),
            "{v}"
        );
        assert_eq!(
            v["sync_hierarchy_deleted"],
            json!([["delete", true]]),
            "{v}"
        );
        // Streaming notifications: subscribe_to_streaming() answered an id, GetStreamingEvents
        // streamed the saved message's CreatedEvent for that subscription, and after
        // Unsubscribe the subscription is refused (ErrorSubscriptionNotFound)
        let st = &v["streaming"];
        assert_eq!(st["subscribed"], true, "{v}");
        assert_eq!(st["notification_for"], true, "{v}");
        assert_eq!(st["events"], json!([["CreatedEvent", true]]), "{v}");
        // and the Inbox's folder ModifiedEvent with its t:UnreadCount, which exchangelib reads
        let counts = st["inbox_unread_counts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            !counts.is_empty() && counts.iter().all(serde_json::Value::is_u64),
            "{v}"
        );
        assert_eq!(st["after_unsubscribe"], "ErrorSubscriptionNotFound", "{v}");
        // File attachments: a Message saved with a FileAttachment (CreateItem answers its id),
        // read back with its content (GetItem, then GetAttachment as FileAttachment.content
        // streams it), one attached to the saved item (CreateAttachment: the item's new change
        // key) and detached (DeleteAttachment)
        let att = &v["attachments"];
        assert_eq!(att["saved_ids"], json!([true]), "{v}");
        assert_eq!(
            att["listed"],
            json!([["audio.wav", "audio/wav", 2056, false]]),
            "{v}"
        );
        assert_eq!(att["has_attachments"], true, "{v}");
        assert_eq!(att["content_matches"], true, "{v}");
        assert_eq!(att["changekey_changed"], true, "{v}");
        assert_eq!(att["changekey_current"], true, "{v}");
        assert_eq!(
            att["after_attach"],
            json!(["audio.wav", "notes.txt"]),
            "{v}"
        );
        assert_eq!(att["notes_content"], json!(["call Bob back"]), "{v}");
        assert_eq!(att["after_detach"], json!(["audio.wav"]), "{v}");
        assert_eq!(att["found_with_attachments"], json!([true]), "{v}");
        // Item attachments: the voice mail attached to a new message (ItemAttachment in
        // CreateItem) and read back with its own recording (ItemAttachment.item, from
        // GetAttachment), an appointment attached to the saved message (CreateAttachment)
        let ia = &v["item_attachments"];
        let vm_subject = ia["item"][1].as_str().unwrap_or_default();
        assert!(vm_subject.starts_with("Voice mail "), "{v}");
        assert_eq!(ia["saved_ids"], json!([true]), "{v}");
        assert_eq!(ia["listed"], json!([["ItemAttachment", vm_subject]]), "{v}");
        assert_eq!(
            ia["item"],
            json!(["Message", vm_subject, "Bob called."]),
            "{v}"
        );
        assert_eq!(ia["inner_attachments"], json!([["audio.wav", true]]), "{v}");
        assert_eq!(ia["after_attach"], json!(["Review", vm_subject]), "{v}");
        assert_eq!(ia["review"], json!(["CalendarItem", "Room 1", true]), "{v}");
        // A private distribution list: saved in Contacts with its members, read back as a
        // DistributionList, a member appended (UpdateItem), found by its subject (its name),
        // expanded by its item id
        let dl = &v["distribution_list"];
        let dl_name = dl["read"][1].as_str().unwrap_or_default();
        assert!(dl_name.starts_with("Team "), "{v}");
        assert_eq!(
            dl["read"],
            json!([
                "DistributionList",
                dl_name,
                ["bob@contoso.example", "pat@fabrikam.example"]
            ]),
            "{v}"
        );
        let three = json!([
            "bob@contoso.example",
            "pat@fabrikam.example",
            "carol@contoso.example"
        ]);
        assert_eq!(dl["after_update"], three, "{v}");
        assert_eq!(dl["found"], json!([dl_name]), "{v}");
        assert_eq!(dl["expanded"], three, "{v}");
        assert_eq!(dl["resolved"], json!([[dl_name, true]]), "{v}");
        // Folders: EmptyFolder with MoveToDeletedItems took the message to Deleted Items and
        // kept the folder; DeleteFolder with MoveToDeletedItems moved the folder (same id) under
        // Deleted Items with its message; SoftDelete from there removed it, its message in
        // Recoverable Items\Deletions; the Inbox's pull subscription saw the folder's
        // CreatedEvent (parent the Inbox) and MovedEvent (old parent the Inbox)
        let fo = &v["folders"];
        let fo_tag = fo["tag"].as_str().unwrap_or_default();
        assert_eq!(fo["left_after_empty"], 0, "{v}");
        assert_eq!(fo["emptied_to_trash"], 1, "{v}");
        assert_eq!(
            fo["in_trash"],
            json!([[true, [format!("Moved with {fo_tag}")]]]),
            "{v}"
        );
        assert_eq!(fo["gone_from_trash"], true, "{v}");
        assert_eq!(fo["in_dumpster"], 1, "{v}");
        assert_eq!(
            fo["events"],
            json!([
                ["CreatedEvent", true, true, false],
                ["MovedEvent", true, false, true]
            ]),
            "{v}"
        );
        // MoveFolder (exchangelib's Folder.move): the folder under Drafts, same id, its
        // message with it
        assert_eq!(
            fo["moved_folder"],
            json!([[true, [format!("Carried {fo_tag}")]]]),
            "{v}"
        );
        // Sending: Message.send_and_save() kept a copy in Sent Items, from Alice, read; a
        // saved draft's send() moved it there; send(save_copy=False) kept none
        let snd = &v["send"];
        let tag = snd["tag"].as_str().unwrap_or_default();
        assert_eq!(
            snd["sent_copy"],
            json!([[format!("Lunch {tag}"), "alice@contoso.example", true]]),
            "{v}"
        );
        assert_eq!(snd["draft_saved"], 1, "{v}");
        assert_eq!(snd["draft_after_send"], 0, "{v}");
        assert_eq!(snd["draft_in_sent"], 1, "{v}");
        assert_eq!(snd["quick_in_sent"], 0, "{v}");
        // a saved draft changed, then send_and_save() (UpdateItem SendAndSaveCopy): the draft
        // left Drafts, and Sent Items has it with the changed subject
        assert_eq!(snd["edit_in_drafts"], 0, "{v}");
        assert_eq!(
            snd["edited_in_sent"],
            json!([format!("Edited {tag}")]),
            "{v}"
        );
        // a draft read back (IsDraft, MIME content), its recipients changed and saved, then
        // sent: it went to Bob and to Alice on Cc, and is no draft in Sent Items
        assert_eq!(snd["fetched_is_draft"], true, "{v}");
        assert_eq!(snd["fetched_mime_subject"], format!("Fetched {tag}"), "{v}");
        assert_eq!(
            snd["fetched_lines"],
            json!([["bob@contoso.example"], ["alice@contoso.example"]]),
            "{v}"
        );
        assert_eq!(snd["fetched_in_sent"], json!([false]), "{v}");
        // Alice's copy exported as MIME reads back in Python's email package
        assert_eq!(
            snd["exported"],
            json!([
                format!("Fetched {tag}"),
                "alice@contoso.example",
                ["bob@contoso.example"],
                "From the server"
            ]),
            "{v}"
        );
        // an .eml imported with its attachment
        assert_eq!(
            snd["imported"],
            json!(["j@fabrikam.example", "Numbers attached.", ["q3.csv"]]),
            "{v}"
        );
        // ... and Bob, with a token of his own, finds all five unread in his Inbox, the edited
        // one with its changed subject
        let bob = mint_f1(&lab.info, Some("bob@contoso.example"))
            .await
            .unwrap();
        let inbox = Ews::new(&lab.info.exchange_url, bob)
            .find_items("inbox", false)
            .await
            .unwrap();
        assert_eq!(inbox.code, "NoError", "{}", inbox.body);
        for subject in ["Lunch", "Draft", "Quick", "Edited", "Fetched"] {
            let item = inbox
                .body
                .split("<t:Message>")
                .find(|m| m.contains(&format!("<t:Subject>{subject} {tag}</t:Subject>")))
                .unwrap_or_else(|| panic!("{subject} {tag} not in Bob's Inbox: {}", inbox.body));
            assert!(item.contains("<t:IsRead>false</t:IsRead>"), "{item}");
            assert!(item.contains("alice@contoso.example"), "{item}");
        }
        assert!(
            !inbox
                .body
                .contains(&format!("<t:Subject>Edit {tag}</t:Subject>")),
            "the unchanged subject was sent: {}",
            inbox.body
        );
        // Distribution groups (the script's groups()): ExpandDL lists one level (Bob, and the
        // nested group as a PublicDL), ResolveNames finds the group by name as a PublicDL, and
        // the message sent to it reached Alice through the nested group (the group still on its
        // To line, as in her Sent Items) and Bob, each once
        let gr = &v["groups"];
        assert_eq!(
            gr["expanded"],
            json!([
                ["Bob Berg", "bob@contoso.example", "Mailbox"],
                ["Interop Inner", "interop-inner@contoso.example", "PublicDL"]
            ]),
            "{v}"
        );
        assert_eq!(
            gr["resolved"],
            json!([["Interop Team", "interop-team@contoso.example", "PublicDL"]]),
            "{v}"
        );
        assert_eq!(
            gr["sent_to"],
            json!([["interop-team@contoso.example"]]),
            "{v}"
        );
        assert_eq!(
            gr["received"],
            json!([["interop-team@contoso.example"]]),
            "{v}"
        );
        let group_subject = format!(
            "<t:Subject>Group {}</t:Subject>",
            gr["tag"].as_str().unwrap_or_default()
        );
        assert_eq!(
            inbox.body.matches(&group_subject).count(),
            1,
            "not once in Bob's Inbox: {}",
            inbox.body
        );
        // Bulk transfer (the script's bulk_transfer()): Account.export() then Account.upload()
        // into the Inbox gives the same item in every field exchangelib reads (received time
        // and attachment included); the exported data uploaded over the changed item with its
        // id (CreateAction Update) puts it back in place; data that is no stream is
        // ErrorCorruptData
        let bt = &v["bulk_transfer"];
        assert_eq!(bt["exported"], json!(["str"]), "{v}");
        assert_eq!(bt["differs"], json!([]), "{v}");
        assert_eq!(
            bt["lines"],
            json!([true, [["bob@contoso.example"], ["carol@contoso.example"]]]),
            "{v}"
        );
        assert_eq!(bt["attachments"], json!([true]), "{v}");
        assert_eq!(bt["copy_changekey"], true, "{v}");
        assert_eq!(bt["restored"], json!([true, true, 1]), "{v}");
        assert_eq!(bt["corrupt"], json!([true]), "{v}");
        // A recurring series (the script's recurring()): a daily 09:00 Los Angeles meeting,
        // five occurrences across the change to daylight saving time on 2030-03-10, saved with
        // exchangelib's Recurrence; read back as the series; a calendar view lists the five at
        // 09:00 local (17:00 UTC, then 16:00); the third read by OccurrenceItemId and its
        // series by RecurringMasterItemId; the second deleted
        // A task (the script's tasks()): saved in progress at 50 %, a second one not started,
        // the first completed with save(update_fields=["status"]) (100 %, a completion date),
        // ordered by percent complete, deleted
        let tk = &v["tasks"];
        let tag = tk["saved"][0]
            .as_str()
            .and_then(|s| s.strip_prefix("Report "))
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            tk["saved"],
            json!([
                format!("Report {tag}"),
                "2030-03-02",
                "2030-03-06",
                "50",
                "InProgress",
                false,
                "In Progress"
            ]),
            "{v}"
        );
        assert_eq!(tk["not_started"], json!([format!("Later {tag}")]), "{v}");
        assert_eq!(
            tk["completed"],
            json!(["Completed", "100", true, true]),
            "{v}"
        );
        assert_eq!(
            tk["by_percent"],
            json!([format!("Report {tag}"), format!("Later {tag}")]),
            "{v}"
        );
        // a recurring task's Monday completed: a one-off task saved (its id the one save()
        // took), the task moved to Wednesday with nine occurrences left
        assert_eq!(
            tk["recurring"],
            json!({
                "one_off": [true, "Completed", "2030-03-04", true],
                "series": ["NotStarted", "2030-03-06", "2030-03-06", 9],
            }),
            "{v}"
        );
        assert_eq!(tk["after_delete"], 0, "{v}");
        // Replies and forwards (the script's replies()): exchangelib's reply(), create_reply()
        // saved as a draft, reply_all() and forward(), composed by the server from the original
        // (a message Alice sent herself: a reply goes back to her, the quoted original under
        // the new text)
        assert_eq!(
            v["replies"],
            json!({
                "reply": [["alice@contoso.example"], true, true],
                "draft": [true, ["alice@contoso.example"]],
                "reply_all_in_inbox": 1,
                "forward": [["bob@contoso.example"], true],
                "thread": [true, true, true],
                "conversation": [true, true, true, true],
            }),
            "{v}"
        );
        // A contact (the script's contacts()): saved with exchangelib's Contact into Contacts,
        // listed, read back, changed one property and one dictionary at a time, then with a
        // plain save() (every field set or deleted), found by ResolveNames, deleted
        let ct = &v["contacts"];
        let given = ct["saved"]["given_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(given.starts_with("Zed"), "{v}");
        let name = format!("{given} Fabrikam");
        let address = format!("{given}@fabrikam.example");
        let emails = json!([
            ["EmailAddress1", address],
            ["EmailAddress2", format!("z{}@home.example", &given[3..])]
        ]);
        let shown = |job: &str,
                     company: Option<&str>,
                     nickname: Option<&str>,
                     phones: serde_json::Value| {
            json!({
                "display_name": name, "given_name": given, "surname": "Fabrikam",
                "company": company, "job_title": job, "nickname": nickname,
                "emails": emails, "phones": phones,
                "addresses": [["Business", "1 Main St", "Springfield", "12345", "US"]],
                "birthday": "1990-05-17", "type": "Contact", "subject": name,
            })
        };
        assert_eq!(ct["listed"], json!([name]), "{v}");
        // filter() on a name and on an email address, order_by() on the given name
        assert_eq!(ct["filtered"], json!([name]), "{v}");
        assert_eq!(ct["by_email"], json!([given]), "{v}");
        assert_eq!(
            ct["ordered"],
            json!([given, format!("Abe{}", &given[3..])]),
            "{v}"
        );
        assert_eq!(
            ct["saved"],
            shown(
                "Buyer",
                Some("Fabrikam"),
                None,
                json!([
                    ["BusinessPhone", "+1 555 0101"],
                    ["MobilePhone", "+1 555 0100"]
                ])
            ),
            "{v}"
        );
        let mobile = json!([["MobilePhone", "+1 555 0199"]]);
        assert_eq!(
            ct["updated"],
            shown("Head buyer", Some("Fabrikam"), None, mobile.clone()),
            "{v}"
        );
        assert_eq!(
            ct["saved_again"],
            shown("Head buyer", None, Some("Z"), mobile),
            "{v}"
        );
        assert_eq!(ct["resolved"], json!([[name, address, "Contact"]]), "{v}");
        assert_eq!(ct["resolved_full"], json!([[address, name]]), "{v}");
        assert_eq!(ct["after_delete"], json!([]), "{v}");
        let rc = &v["recurring"];
        let at = |d: u8, h: u8| format!("2030-03-{d:02}T{h}:00:00+00:00");
        assert_eq!(
            rc["master"],
            json!([
                "RecurringMaster",
                "Occurs every 1 day(s)",
                "NumberedPattern",
                5,
                at(8, 17),
                at(12, 16),
                "America/Los_Angeles"
            ]),
            "{v}"
        );
        let occ = |d: u8, h: u8| json!(["Occurrence", at(d, h), "09:00"]);
        assert_eq!(
            rc["view"],
            json!([
                occ(8, 17),
                occ(9, 17),
                occ(10, 16),
                occ(11, 16),
                occ(12, 16)
            ]),
            "{v}"
        );
        assert_eq!(rc["third"], json!(["Occurrence", at(10, 16), true]), "{v}");
        assert_eq!(rc["master_again"], json!(["RecurringMaster", true]), "{v}");
        assert_eq!(
            rc["after_delete"],
            json!([at(8, 17), at(10, 16), at(11, 16), at(12, 16)]),
            "{v}"
        );
        assert_eq!(rc["deleted"], json!([at(9, 17)]), "{v}");
        // the fourth changed on its own (an hour later, its own subject): an Exception
        let o = |d: u8, h: u8| json!(["Occurrence", true, at(d, h)]);
        assert_eq!(
            rc["exception"],
            json!([
                o(8, 17),
                o(10, 16),
                ["Exception", false, at(11, 17)],
                o(12, 16)
            ]),
            "{v}"
        );
        assert_eq!(
            rc["single_saved"],
            json!(["OOF", "Main street", "Single"]),
            "{v}"
        );
        // Meetings (the script's meetings(), with Bob's own account): Alice's CalendarItem with
        // Bob required, saved with SEND_TO_ALL_AND_SAVE_COPY; Bob's MeetingRequest accepted;
        // Alice's item shows Bob's Accept, Bob's copy Busy; a second meeting declined (Bob's
        // copy to Deleted Items); the first cancelled by a delete that sends cancellations
        // Inbox rules through Account.create_rule/rules/set_rule/delete_rule
        assert_eq!(
            v["rules"],
            json!({
                "created_id": true,
                "listed": [[1, true, [v["rules"]["listed"][0][2][0].clone()], true, true]],
                "filed": [["Report TAG", true]],
                "kept": 1,
                "disabled": [false],
                "deleted": []
            }),
            "{v}"
        );
        // junk email through Message.mark_as_junk
        assert_eq!(
            v["junk"],
            json!({
                "moved": ["Junk Email", 1],
                "next_in_junk": [1, 0],
                "back": ["Inbox", 1],
                "unblocked": 1
            }),
            "{v}"
        );
        let mt = &v["meetings"];
        assert_eq!(mt["request_types"], json!(["MeetingRequest"]), "{v}");
        // the room's booking attendant accepted
        assert_eq!(
            mt["room"],
            json!([["interop-room@contoso.example", "Accept"]]),
            "{v}"
        );
        assert_eq!(
            mt["room_answer"],
            json!(["IPM.Schedule.Meeting.Resp.Pos"]),
            "{v}"
        );
        assert_eq!(
            mt["request"],
            json!([
                "IPM.Schedule.Meeting.Request",
                true,
                "alice@contoso.example"
            ]),
            "{v}"
        );
        assert_eq!(
            mt["organizer_view"],
            json!([
                true,
                "Organizer",
                true,
                [["bob@contoso.example", "Accept"]],
                true
            ]),
            "{v}"
        );
        assert_eq!(mt["bob_copy"], json!(["Busy", "Accept", true]), "{v}");
        assert_eq!(
            mt["responses"],
            json!([["MeetingResponse", "IPM.Schedule.Meeting.Resp.Pos"]]),
            "{v}"
        );
        assert_eq!(mt["request_processed"], true, "{v}");
        assert_eq!(
            mt["declined"],
            json!([["Decline"], 0, 1, ["IPM.Schedule.Meeting.Resp.Neg"]]),
            "{v}"
        );
        assert_eq!(
            mt["cancelled"],
            json!([["MeetingCancellation", "IPM.Schedule.Meeting.Canceled"]]),
            "{v}"
        );
        assert_eq!(mt["cancelled_copy"], json!([true, "Free"]), "{v}");
        assert_eq!(mt["organizer_left"], 0, "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f2_test_oauth_connectivity_from_exchange_to_skype() {
    let (_d, lab) = lab_ready().await;
    let ex = ExchangeAdmin::new(&lab.info).unwrap();
    let target = format!("{}/ews/notifications/connectivity-test", lab.info.skype_url);
    let rows = ex
        .run(
            "Test-OAuthConnectivity",
            json!({"Service": "Generic", "TargetUri": target, "Mailbox": "alice@contoso.example"}),
        )
        .await
        .unwrap();
    assert!(
        rows.iter().all(|r| r["ResultType"] == "Success"),
        "{rows:?}"
    );
    // the auth certificate renewed and published, but not uploaded again (steps 4-6 skipped)
    let c = ex
        .run("New-ExchangeCertificate", json!({"Services": "SMTP"}))
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    ex.run(
        "Set-AuthConfig",
        json!({"NewCertificateThumbprint": c[0]["Thumbprint"], "NewCertificateEffectiveDate": now}),
    )
    .await
    .unwrap();
    ex.run("Set-AuthConfig", json!({"PublishCertificate": true}))
        .await
        .unwrap();
    let rows = ex
        .run(
            "Test-OAuthConnectivity",
            json!({"Service": "Generic", "TargetUri": target}),
        )
        .await
        .unwrap();
    let call = rows
        .iter()
        .find(|r| r["Task"].as_str().unwrap().contains("Generic"))
        .unwrap();
    assert_eq!(call["ResultType"], "Error", "{rows:?}");
    let detail = call["Detail"].as_str().unwrap();
    assert!(detail.contains("401"), "{detail}");
    // steps 4-6 again, and Skype re-reads its Verify keys (it re-reads on its own at most every
    // 30 s when an unknown certificate shows up; the administrator can force it): accepted
    steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    let sk =
        skype::client::SkypeAdmin::new(&lab.info.skype_url, &lab.info.skype_credential().unwrap());
    sk.run("Get-CsVerifyKey", json!({"Refresh": true}))
        .await
        .unwrap();
    let rows = ex
        .run(
            "Test-OAuthConnectivity",
            json!({"Service": "Generic", "TargetUri": target}),
        )
        .await
        .unwrap();
    assert!(
        rows.iter().all(|r| r["ResultType"] == "Success"),
        "{rows:?}"
    );
}

/// Removes the application account's assignment of `role` (New-ManagementRoleAssignment restores it).
async fn remove_app_role(ex: &ExchangeAdmin, role: &str) {
    let ra = ex
        .run(
            "Get-ManagementRoleAssignment",
            json!({"Role": role, "RoleAssignee": steps::APP_ACCOUNT}),
        )
        .await
        .unwrap();
    ex.run(
        "Remove-ManagementRoleAssignment",
        json!({"Identity": ra[0]["Name"]}),
    )
    .await
    .unwrap();
}

/// POSTs a SOAP body to the lab's EWS with `token`; the response text.
async fn post_ews(
    http: &reqwest::Client,
    lab: &lab::Lab,
    token: &str,
    body: impl Into<reqwest::Body>,
) -> String {
    http.post(format!("{}/EWS/Exchange.asmx", lab.info.exchange_url))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// ConvertId answers this server's ids as EwsId/EwsLegacyId, refuses the MAPI forms and other
/// mailboxes' ids by name, and still answers exchangelib's version probe (a dummy id) as
/// malformed. Regression: every id, even one CreateItem had just returned, was "malformed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convert_id_converts_this_servers_ids() {
    let (_d, lab) = lab_ready().await;
    let alice = Ews::new(
        &lab.info.exchange_url,
        mint_f1(&lab.info, Some("alice@contoso.example"))
            .await
            .unwrap(),
    );
    let created = alice
        .create_message("inbox", "IPM.Note", "to convert", "<p>x</p>", "<c@x>")
        .await
        .unwrap();
    assert_eq!(created.code, "NoError", "{}", created.body);
    let id = created
        .body
        .split("ItemId Id=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let convert = |from: &str, to: &str, id: &str| {
        format!(
            r#"<m:ConvertId DestinationFormat="{to}"><m:SourceIds><t:AlternateId Format="{from}" Id="{id}" Mailbox="alice@contoso.example"/></m:SourceIds></m:ConvertId>"#
        )
    };
    for (from, to) in [
        ("EwsId", "EwsLegacyId"),
        ("EwsLegacyId", "EwsId"),
        ("EwsId", "EwsId"),
    ] {
        let r = alice.call(&convert(from, to, &id)).await.unwrap();
        assert_eq!(r.code, "NoError", "{from}→{to}: {}", r.body);
        assert!(
            r.body.contains(&format!("Format=\"{to}\" Id=\"{id}\"")),
            "{}",
            r.body
        );
    }
    let r = alice
        .call(&convert("EwsId", "HexEntryId", &id))
        .await
        .unwrap();
    assert_eq!(r.code, "ErrorUnsupportedTypeForConversion", "{}", r.body);
    let r = alice
        .call(&convert("EwsId", "EntryId", "DUMMY"))
        .await
        .unwrap();
    assert_eq!(r.code, "ErrorInvalidIdMalformed", "{}", r.body);
    // bob cannot convert (and so learn about) alice's ids
    let bob = Ews::new(
        &lab.info.exchange_url,
        mint_f1(&lab.info, Some("bob@contoso.example"))
            .await
            .unwrap(),
    );
    let r = bob
        .call(&convert("EwsId", "EwsLegacyId", &id))
        .await
        .unwrap();
    assert_eq!(r.code, "ErrorAccessDenied", "{}", r.body);
}

/// Every directory and file under `dir` (itself included) with its permission bits.
#[cfg(unix)]
fn walk_modes(dir: &std::path::Path, out: &mut Vec<(PathBuf, u32, bool)>) {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(dir).unwrap();
    out.push((dir.to_owned(), meta.permissions().mode() & 0o777, true));
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let meta = e.metadata().unwrap();
        if meta.is_dir() {
            walk_modes(&e.path(), out);
        } else {
            out.push((e.path(), meta.permissions().mode() & 0o777, false));
        }
    }
}

/// Regression: the databases (Exchange's with its auth certificate's private key, Skype's with
/// the per-user callback keys) were 0644 in 0755 directories, readable by every local user.
/// After the lab starts, and after it restarts on a data directory left with loose modes, the
/// data directory and every directory under it are 0700 and no file is group/other-accessible,
/// but for the few named non-secret files below.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    // every file, lab.lock, lab.json and Exchange's traffic record included
    const NOT_SECRET: &[&str] = &[];
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let check = |when: &str| {
        let mut all = Vec::new();
        walk_modes(&dir, &mut all);
        let names: Vec<String> = all
            .iter()
            .map(|(p, _, _)| p.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        for want in [
            "exchange/exchange.sqlite",
            "exchange/mailboxes.sqlite",
            "skype/skype.sqlite",
            "sts/sts.sqlite",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{when}: no {want} in {names:?}"
            );
        }
        let loose: Vec<String> = all
            .iter()
            .filter(|(p, mode, is_dir)| {
                let name = p.file_name().unwrap().to_string_lossy();
                if *is_dir {
                    *mode != 0o700
                } else {
                    mode & 0o077 != 0 && !NOT_SECRET.contains(&name.as_ref())
                }
            })
            .map(|(p, mode, _)| format!("{} {mode:o}", p.display()))
            .collect();
        assert!(loose.is_empty(), "{when}: {loose:#?}");
    };
    let lab = lab::start(&dir, (0, 0)).await.unwrap();
    check("first start");
    drop(lab);
    // as the old code left a data directory: directories 0755, databases (with their WAL
    // files) and Skype's certificate 0644; the credentials and keys were 0600 already
    let mut all = Vec::new();
    walk_modes(&dir, &mut all);
    let mut loosened = 0;
    for (p, _, is_dir) in &all {
        let name = p.file_name().unwrap().to_string_lossy();
        let m = if *is_dir {
            0o755
        } else if name.contains(".sqlite") || name == "signing-cert.cer" {
            0o644
        } else {
            continue;
        };
        match std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)) {
            Ok(()) => loosened += 1,
            // a WAL or shared-memory file SQLite removed as the stopped lab's last connection
            // to its database closed, after the walk listed it (regression: this raced)
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && name.contains(".sqlite-") => {}
            Err(e) => panic!("{}: {e}", p.display()),
        }
    }
    assert!(loosened >= 9, "{all:?}");
    let lab = lab::start(&dir, (0, 0)).await.unwrap();
    check("restart on a loose directory");
    drop(lab);
}

/// GetUserPhoto's REST form (spec/ews.md §2.5), authenticated like EWS. Regression: only the
/// SOAP operation was served; the REST URL answered 404 even with a photo set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_get_user_photo() {
    let (_d, lab) = lab_ready().await;
    let jpeg: Vec<u8> = [0xFF, 0xD8, 0xFF, 0xE0]
        .into_iter()
        .chain([7u8; 60])
        .collect();
    ExchangeAdmin::new(&lab.info)
        .unwrap()
        .run(
            "Set-UserPhoto",
            json!({"Identity": "alice@contoso.example", "PictureData": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &jpeg)}),
        )
        .await
        .unwrap();
    let token = mint_f1(&lab.info, Some("bob@contoso.example"))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let url = |q: &str| {
        format!(
            "{}/EWS/Exchange.asmx/s/GetUserPhoto?{q}",
            lab.info.exchange_url
        )
    };
    let r = http
        .get(url("email=alice@contoso.example&size=HR96x96"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.bytes().await.unwrap().to_vec(), jpeg);
    // no photo: 404; a bad size: 400; no token: the EWS challenge
    let r = http
        .get(url("email=bob@contoso.example&size=HR96x96"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .get(url("email=alice@contoso.example&size=HUGE"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .get(url("email=alice@contoso.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
}

/// Push notifications to one subscriber never wait on another. Two subscribers of alice's inbox
/// each hold their notification's request until the other's has arrived too (a two-party
/// rendezvous). Delivered side by side, each is delivered once and at the first try. Delivered
/// one after the other, the first would wait out the client's 10 s timeout alone, count as a
/// failed delivery and be sent again. Regression: the notifier delivered every subscription in
/// turn, so one slow or unreachable subscriber delayed every partner's notifications.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_push_subscriber_holds_up_no_other() {
    use std::sync::Arc;
    use tokio::sync::{Barrier, Mutex};
    let (_d, lab) = lab_ready().await;
    let rendezvous = Arc::new(Barrier::new(2));
    // each request a subscriber received, and whether it was that subscriber's first
    let seen: Arc<Mutex<Vec<(&'static str, bool)>>> = Arc::default();
    let mut urls = Vec::new();
    for name in ["first", "second"] {
        let (rendezvous, seen) = (rendezvous.clone(), seen.clone());
        let app = axum::Router::new().route(
            "/notify",
            axum::routing::post(move || {
                let (rendezvous, seen) = (rendezvous.clone(), seen.clone());
                async move {
                    // every arrival is recorded as it comes, before the rendezvous
                    let first_time = {
                        let mut seen = seen.lock().await;
                        let first = !seen.iter().any(|(n, _)| *n == name);
                        seen.push((name, first));
                        first
                    };
                    if first_time {
                        // a liveness bound, not a measurement: far past the client's timeout
                        let _ = tokio::time::timeout(
                            std::time::Duration::from_secs(30),
                            rendezvous.wait(),
                        )
                        .await;
                    }
                    ews_proto::notification::write_send_notification_result(
                        ews_proto::notification::SubscriptionStatus::Ok,
                    )
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        urls.push(format!("http://{}/notify", l.local_addr().unwrap()));
        tokio::spawn(async move { axum::serve(l, app).await });
    }
    let token = mint_f1(&lab.info, Some("alice@contoso.example"))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    for url in &urls {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body><m:Subscribe><m:PushSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes><t:StatusFrequency>30</t:StatusFrequency><t:URL>{url}</t:URL></m:PushSubscriptionRequest></m:Subscribe></s:Body></s:Envelope>"#
        );
        let r = post_ews(&http, &lab, &token, body).await;
        assert!(r.contains("ResponseCode>NoError<"), "{r}");
    }
    let ours = || async {
        lab.exchange
            .subscriptions()
            .await
            .unwrap()
            .into_iter()
            .filter(|s| s.url.as_ref().is_some_and(|u| urls.contains(u)))
            .collect::<Vec<_>>()
    };
    let start: Vec<i64> = ours().await.iter().map(|s| s.watermark).collect();
    assert_eq!(start.len(), 2);
    let create = r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body><m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="inbox"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>for both subscribers</t:Subject></t:Message></m:Items></m:CreateItem></s:Body></s:Envelope>"#;
    let r = post_ews(&http, &lab, &token, create).await;
    assert!(r.contains("ResponseCode>NoError<"), "{r}");
    // the lab's notifier runs every half second: wait until Exchange has recorded a delivery to
    // both (a liveness bound)
    for _ in 0..600 {
        let now = ours().await;
        if now
            .iter()
            .all(|s| s.failures == 0 && !start.contains(&s.watermark))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let now = ours().await;
    assert!(
        now.iter()
            .all(|s| s.failures == 0 && s.last_error.is_none() && !start.contains(&s.watermark)),
        "{now:?}"
    );
    // one request each: the first try of each was answered, so the two were in flight together
    let mut seen = seen.lock().await.clone();
    seen.sort_unstable();
    assert_eq!(seen, [("first", true), ("second", true)], "{now:?}");
}
