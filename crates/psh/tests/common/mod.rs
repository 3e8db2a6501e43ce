//! A recording fake host and a minimal executor for the tests.
#![allow(dead_code)]

use std::future::Future;
use std::task::{Context, Poll, Waker};

use psh::{CmdletHost, HostError, Session, ShellError};
use serde_json::{Map, Value, json};

pub const IDENTITY: &str = "contoso.example/Users/SfBOnline-ApplicationAccount";
pub const THUMBPRINT: &str = "3F2A9C0B7D5E41A6B8C2D9E0F1A2B3C4D5E6F708";
pub const CERT_B64: &str = "MIIDBjCCAe6gAwIBAgIQfakecertificate==";
pub const SKYPE: &str = "00000004-0000-0ff1-ce00-000000000000";
/// 2026-05-01T12:00:00Z
pub const NOW: i64 = 1_777_636_800;

/// Runs a future whose every await is ready at once (the fake host never waits).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("the future never completed")
}

pub fn session() -> Session {
    let mut s = Session::new(|| {
        time::OffsetDateTime::from_unix_timestamp(NOW).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    });
    s.set_env("SYSTEMDRIVE", "C:");
    s
}

/// Records every call; answers like the lab's Exchange and token service would.
#[derive(Default)]
pub struct FakeHost {
    pub calls: Vec<(String, Value)>,
}

impl FakeHost {
    pub fn names(&self) -> Vec<&str> {
        self.calls.iter().map(|(n, _)| n.as_str()).collect()
    }
}

fn s(p: &Map<String, Value>, k: &str) -> String {
    p.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl CmdletHost for FakeHost {
    async fn invoke(
        &mut self,
        cmdlet: &str,
        params: Map<String, Value>,
    ) -> Result<Vec<Value>, HostError> {
        self.calls
            .push((cmdlet.to_owned(), Value::Object(params.clone())));
        Ok(match cmdlet.to_ascii_lowercase().as_str() {
            "new-mailuser" => vec![json!({
                "Name": s(&params, "Name"),
                "Identity": IDENTITY,
                "ExternalEmailAddress": format!("SMTP:{}", s(&params, "ExternalEmailAddress")),
                "HiddenFromAddressListsEnabled": false,
                "RecipientTypeDetails": "MailUser",
            })],
            "set-mailuser" | "connect-msolservice" | "new-msolserviceprincipalcredential" => {
                vec![]
            }
            "new-managementroleassignment" => vec![json!({
                "Name": format!("{}-SfBOnline-ApplicationAccount", s(&params, "Role")),
                "Role": s(&params, "Role"),
                "RoleAssigneeName": "SfBOnline-ApplicationAccount",
            })],
            "new-partnerapplication" => vec![json!({
                "Name": s(&params, "Name"),
                "ApplicationIdentifier": s(&params, "ApplicationIdentifier"),
                "Enabled": params.get("Enabled").cloned().unwrap_or(Value::Null),
                "LinkedAccount": s(&params, "LinkedAccount"),
            })],
            "get-authconfig" => vec![json!({
                "CurrentCertificateThumbprint": THUMBPRINT,
                "ServiceName": "00000002-0000-0ff1-ce00-000000000000",
                "Realm": "",
            })],
            "export-exchangecertificate" => {
                if s(&params, "Thumbprint") != THUMBPRINT {
                    return Err(HostError::new(format!(
                        "no certificate with thumbprint '{}'",
                        s(&params, "Thumbprint")
                    )));
                }
                vec![json!({"FileName": s(&params, "FileName"), "Thumbprint": THUMBPRINT})]
            }
            "get-authcertificatebase64" => vec![json!(CERT_B64)],
            "get-msolserviceprincipal" => vec![json!({
                "AppPrincipalId": SKYPE,
                "DisplayName": "Skype for Business Online",
                "ServicePrincipalNames": [SKYPE, "00000004-0000-0ff1-ce00-000000000000/*.contoso.example"],
            })],
            "get-msolserviceprincipalcredential" => vec![json!({
                "Type": "Asymmetric",
                "Value": "",
                "KeyId": "7d2c3f4e-0000-4000-8000-000000000001",
                "StartDate": "2026-05-01T12:00:00Z",
                "EndDate": "2031-05-01T12:00:00Z",
                "Usage": "Verify",
            })],
            "get-many" => vec![
                json!({"Name": "alice", "Roles": ["a", "b"]}),
                json!({"Name": "bob", "Roles": ["c"]}),
            ],
            "get-nothing" => vec![],
            "echo-params" => vec![Value::Object(params)],
            "fail-me" => return Err(HostError::new("the server refused: boom")),
            // a host that names the cmdlet itself, as the bind errors do
            "set-named" => return Err(HostError::new("Set-Named: the parameter -X is required")),
            _ => {
                return Err(HostError::new(format!(
                    "The term '{cmdlet}' is not recognized as a cmdlet of this lab"
                )));
            }
        })
    }
}

/// Runs `src` as a script; returns what was printed and the outcome.
pub fn run(
    src: &str,
    session: &mut Session,
    host: &mut FakeHost,
) -> (String, Result<(), ShellError>) {
    let mut out = Vec::new();
    let r = block_on(psh::run_script(src, session, host, &mut out));
    (String::from_utf8_lossy(&out).into_owned(), r)
}

/// Runs `src` in a fresh session and host; panics on error; returns output and calls.
pub fn run_ok(src: &str) -> (String, Vec<(String, Value)>) {
    let mut host = FakeHost::default();
    let (out, r) = run(src, &mut session(), &mut host);
    if let Err(e) = r {
        panic!("{src:?} failed: {e}");
    }
    (out, host.calls)
}

/// The parse error of `src` as (line, column, message).
pub fn parse_err(src: &str) -> (usize, usize, String) {
    match psh::parse(src) {
        Ok(s) => panic!("{src:?} parsed: {s:?}"),
        Err(e) => (e.line, e.column, e.message),
    }
}

pub fn unsupported(what: &str) -> String {
    format!("{what} is not supported. Supported: {}", psh::SUPPORTED)
}
