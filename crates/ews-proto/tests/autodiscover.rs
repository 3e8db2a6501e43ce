//! The Autodiscover answers on the wire (snapshots): SOAP `GetUserSettings` with settings,
//! a setting error and a failed user; a whole-request error; POX success and error.

use ews_proto::autodiscover::{
    AutodiscoverCode, PoxSettings, SettingError, UserResult, get_user_settings_error,
    get_user_settings_response, pox_error, pox_response,
};
use insta::assert_snapshot;

/// One tag per line, so that a snapshot diff points at the element that changed.
fn lines(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec())
        .expect("UTF-8")
        .replace("><", ">\n<")
}

#[test]
fn get_user_settings_found_and_failed() {
    let out = get_user_settings_response(&[
        UserResult::Found {
            settings: vec![
                ("UserDisplayName".into(), "Alice Example".into()),
                (
                    "ExternalEwsUrl".into(),
                    "https://mail.contoso.example/EWS/Exchange.asmx".into(),
                ),
            ],
            errors: vec![SettingError {
                name: "AlternateMailboxes".into(),
                code: AutodiscoverCode::SettingIsNotAvailable,
                message: "This server has no value for AlternateMailboxes.".into(),
            }],
        },
        UserResult::Failed {
            code: AutodiscoverCode::InvalidUser,
            message: "No mailbox with address nobody@contoso.example was found.".into(),
        },
    ]);
    assert_snapshot!(lines(&out));
}

#[test]
fn get_user_settings_whole_request_error() {
    let out = get_user_settings_error(
        AutodiscoverCode::InvalidRequest,
        "the request could not be read",
    );
    assert_snapshot!(lines(&out));
}

#[test]
fn pox_settings_and_error() {
    let ok = pox_response(&PoxSettings {
        display_name: "Alice Example".into(),
        legacy_dn: "/o=OpenHybrid/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice".into(),
        smtp: "alice@contoso.example".into(),
        server: "mail.contoso.example".into(),
        internal_ews_url: "https://ex01.corp.contoso.example/EWS/Exchange.asmx".into(),
        external_ews_url: "https://mail.contoso.example/EWS/Exchange.asmx".into(),
    });
    assert_snapshot!("pox_settings", lines(&ok));
    let err = pox_error(
        500,
        "The email address can't be found.",
        "12:00:00.0000000",
        "1",
    );
    assert_snapshot!("pox_error", lines(&err));
}
