//! Shared by the doctor's tests: run a printed fix the way an administrator pastes it, and the
//! break → finding → fix → healthy round.
#![allow(dead_code)]

use doctor::{Finding, Report, Severity, diagnose};
use lab::LabInfo;
use serde_json::{Map, Value};

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn problem<'a>(r: &'a Report, id: &str) -> Option<&'a Finding> {
    r.findings
        .iter()
        .find(|f| f.id == id && f.severity != Severity::Ok)
}

pub fn position(r: &Report, id: &str) -> usize {
    r.findings
        .iter()
        .position(|f| f.id == id && f.severity != Severity::Ok)
        .unwrap_or_else(|| panic!("{id} not reported:\n{}", r.to_text()))
}

pub async fn exchange(info: &LabInfo, cmdlet: &str, p: Value) -> Vec<Value> {
    lab::client::ExchangeAdmin::new(info)
        .unwrap()
        .run(cmdlet, p)
        .await
        .unwrap_or_else(|e| panic!("{cmdlet}: {e}"))
}

/// `-Name value -Switch -X:$false` as `openhybrid exchange|msol` parses its arguments.
fn parse_params(args: &[String]) -> Map<String, Value> {
    let literal = |v: &str| match v.to_ascii_lowercase().as_str() {
        "$true" => Value::Bool(true),
        "$false" => Value::Bool(false),
        "$null" => Value::Null,
        _ => Value::String(v.to_owned()),
    };
    let mut out = Map::new();
    let mut i = 0;
    while i < args.len() {
        let name = args[i]
            .strip_prefix('-')
            .unwrap_or_else(|| panic!("'{}' is not a parameter name in {args:?}", args[i]));
        if let Some((n, v)) = name.split_once(':') {
            out.insert(n.to_owned(), literal(v));
            i += 1;
            continue;
        }
        match args.get(i + 1) {
            Some(v) if !v.starts_with('-') || v.parse::<f64>().is_ok() => {
                out.insert(name.to_owned(), literal(v));
                i += 2;
            }
            _ => {
                out.insert(name.to_owned(), Value::Bool(true));
                i += 1;
            }
        }
    }
    out
}

/// The words `sh` makes of one command line (quotes, `$(…)`, `$true` → nothing), run in `dir`.
fn sh_words(line: &str, dir: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s\\0' {line}"))
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sh could not expand: {line}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_owned)
        .collect()
}

/// Runs a printed fix as an administrator pastes it into a shell in the lab directory: the
/// `&&`-separated commands one after the other, each expanded by `sh` when its turn comes (so
/// `$(base64 -w0 OAuthCert.cer)` reads the file the previous command wrote), then run the way the
/// `openhybrid` command line runs it (crates/cli: `exchange`, `msol`, `skype`, `renew-auth-cert`).
pub async fn apply(info: &LabInfo, fix: &str) {
    let dir = info.data_dir.clone();
    for line in fix.split(" && ") {
        let words = tokio::task::block_in_place(|| sh_words(line, &dir));
        let (prog, rest) = words.split_first().expect("an empty command");
        assert_eq!(prog, "openhybrid", "not an openhybrid command: {line}");
        let (sub, rest) = rest.split_first().expect("no subcommand");
        match sub.as_str() {
            "exchange" => {
                let (cmdlet, args) = rest.split_first().expect("no cmdlet");
                let p = parse_params(args);
                let file = p
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("FileName"))
                    .and_then(|(_, v)| v.as_str())
                    .map(|f| dir.join(f));
                let out = lab::client::ExchangeAdmin::new(info)
                    .unwrap()
                    .run(cmdlet, Value::Object(p))
                    .await
                    .unwrap_or_else(|e| panic!("fix failed: {line}\n{e}"));
                if cmdlet.eq_ignore_ascii_case("Export-ExchangeCertificate")
                    && let Some(path) = file
                {
                    let data = out[0]["FileData"].as_str().unwrap();
                    std::fs::write(path, s2s_proto::b64::std_decode(data).unwrap()).unwrap();
                }
            }
            "msol" => {
                let (cmdlet, args) = rest.split_first().expect("no cmdlet");
                let p = parse_params(args);
                let get = |k: &str| {
                    p.iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(k))
                        .and_then(|(_, v)| v.as_str())
                        .map(str::to_owned)
                };
                let req = |k: &str| get(k).unwrap_or_else(|| panic!("{line}: -{k} missing"));
                let sts = lab::client::StsAdmin::new(info).unwrap();
                let r = match cmdlet.to_ascii_lowercase().as_str() {
                    "new-msolserviceprincipalcredential" => {
                        let mut body = Map::new();
                        for k in ["Type", "Usage", "Value", "StartDate", "EndDate"] {
                            if let Some(v) = get(k) {
                                body.insert(k.into(), v.into());
                            }
                        }
                        sts.new_credential(&req("AppPrincipalId"), Value::Object(body))
                            .await
                    }
                    "set-msolserviceprincipal" => {
                        let spns: Vec<String> = req("ServicePrincipalNames")
                            .split(',')
                            .map(|s| s.trim().to_owned())
                            .filter(|s| !s.is_empty())
                            .collect();
                        sts.set_spns(&req("AppPrincipalId"), &spns).await
                    }
                    other => panic!("{line}: msol {other} is not served by the lab"),
                };
                r.unwrap_or_else(|e| panic!("fix failed: {line}\n{e}"));
            }
            "skype" => {
                let (cmdlet, args) = rest.split_first().expect("no cmdlet");
                info.skype_admin()
                    .unwrap()
                    .run(cmdlet, Value::Object(parse_params(args)))
                    .await
                    .unwrap_or_else(|e| panic!("fix failed: {line}\n{e}"));
            }
            "renew-auth-cert" => {
                lab::steps::renew_auth_cert(info, &mut |_| {})
                    .await
                    .unwrap_or_else(|e| panic!("fix failed: {line}\n{e}"));
            }
            other => panic!("{line}: `openhybrid {other}` is not a fix this test runs"),
        }
    }
}

/// The finding `id` is reported as an error; its fix, applied, clears it and leaves the whole
/// report healthy.
pub async fn round(info: &LabInfo, id: &str) {
    let r = diagnose(info, now()).await.unwrap();
    let f = problem(&r, id)
        .unwrap_or_else(|| panic!("{id} not reported:\n{}", r.to_text()))
        .clone();
    assert_eq!(f.severity, Severity::Error, "{f:?}");
    for (k, v) in [
        ("expected", &f.expected),
        ("found", &f.found),
        ("fix", &f.fix),
    ] {
        assert!(!v.is_empty(), "{id}: empty {k}");
    }
    // the finding comes before F1-FAILS, which sends the reader to it
    if problem(&r, "F1-FAILS").is_some() {
        assert!(
            position(&r, id) < position(&r, "F1-FAILS"),
            "{}",
            r.to_text()
        );
    }
    apply(info, &f.fix).await;
    let r = diagnose(info, now()).await.unwrap();
    assert!(
        r.problems().next().is_none(),
        "after fixing {id} with `{}`:\n{}",
        f.fix,
        r.to_text()
    );
}

/// A lab after the seed's steps.
pub async fn lab_ready(dir: &std::path::Path) -> lab::Lab {
    let lab = lab::start(dir, (0, 0)).await.unwrap();
    lab::steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    lab
}
