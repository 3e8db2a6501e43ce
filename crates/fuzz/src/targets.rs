//! The fuzz targets: each feeds one input to one parser (and what the server does right after
//! parsing) and returns a short "shape" of the outcome, which the fuzzer uses as cheap feedback
//! (an input reaching a new outcome shape joins the pool).

use std::path::PathBuf;
use std::sync::OnceLock;

use ews_proto::xml::Limits;
use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, PrincipalName, spn_covers};
use s2s_proto::wire::AcsMetadata;
use s2s_proto::{Certificate, ExpectedAudience, Policy, TrustedIssuer};

/// The instant every token is judged at (the seeds are valid then).
pub const NOW: i64 = 1_800_000_000;
/// The realm of the seeds.
pub const REALM: &str = "3f0c8f6e-1111-4222-8333-0123456789e9";
/// Exchange's host in the seeds.
pub const HOST: &str = "mail.contoso.example";

/// How a target's inputs are best mutated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Jwt,
    Json,
    Xml,
    Shell,
    Text,
}

/// One fuzz target.
#[derive(Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub kind: Kind,
    /// Longest input the mutator produces.
    pub max_len: usize,
    pub run: fn(&[u8]) -> String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every target, in the order `all` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "token",
        kind: Kind::Jwt,
        max_len: 64 * 1024,
        run: run_token,
    },
    Target {
        name: "claims",
        kind: Kind::Json,
        max_len: 16 * 1024,
        run: run_claims,
    },
    Target {
        name: "metadata",
        kind: Kind::Json,
        max_len: 64 * 1024,
        run: run_metadata,
    },
    Target {
        name: "principal",
        kind: Kind::Text,
        max_len: 4 * 1024,
        run: run_principal,
    },
    Target {
        name: "xml",
        kind: Kind::Xml,
        max_len: 256 * 1024,
        run: run_xml,
    },
    Target {
        name: "ews_request",
        kind: Kind::Xml,
        max_len: 256 * 1024,
        run: run_ews_request,
    },
    Target {
        name: "recurrence",
        kind: Kind::Xml,
        max_len: 4 * 1024,
        run: run_recurrence,
    },
    Target {
        name: "send_notification",
        kind: Kind::Xml,
        max_len: 256 * 1024,
        run: run_send_notification,
    },
    Target {
        name: "shell",
        kind: Kind::Shell,
        max_len: 16 * 1024,
        run: run_shell,
    },
    Target {
        name: "inspect",
        kind: Kind::Jwt,
        max_len: 64 * 1024,
        run: run_inspect,
    },
    Target {
        name: "har",
        kind: Kind::Json,
        max_len: 128 * 1024,
        run: run_har,
    },
    Target {
        name: "fx_item",
        kind: Kind::Text,
        max_len: 64 * 1024,
        run: run_fx_item,
    },
];

/// Looks a target up by name.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The crate's directory (corpora, regressions and keys live under it).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the certificate the token seeds are signed with is committed.
pub fn sts_cert_path() -> PathBuf {
    crate_dir().join("keys").join("sts.cer")
}

/// The trusted STS certificate (committed; `openhybrid-fuzz gen-seeds` replaces it).
pub fn sts_certificate() -> &'static Certificate {
    static CERT: OnceLock<Certificate> = OnceLock::new();
    CERT.get_or_init(|| {
        let path = sts_cert_path();
        let der = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run `openhybrid-fuzz gen-seeds` to create it",
                path.display()
            )
        });
        Certificate::from_der(&der).expect("keys/sts.cer is a usable certificate")
    })
}

/// The fixed policy of the `token` target: Exchange at [`HOST`] in [`REALM`], trusting ACS with
/// the committed certificate.
pub fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::new(
            ExpectedAudience::Service {
                app_id: EXCHANGE_APP_ID.into(),
                hosts: vec![HOST.into()],
                realm: REALM.into(),
            },
            Some(REALM.into()),
            vec![TrustedIssuer {
                issuer: format!("{ACS_APP_ID}@{REALM}"),
                keys: vec![sts_certificate().verify_key()],
            }],
        )
    })
}

fn inspect_options() -> &'static inspect::InspectOptions {
    static OPTS: OnceLock<inspect::InspectOptions> = OnceLock::new();
    OPTS.get_or_init(|| {
        inspect::InspectOptions::new(NOW).with_trust(inspect::TrustMaterial::Certificates(vec![
            sts_certificate().clone(),
        ]))
    })
}

/// Loads what the targets need (keys, policy) outside any measurement.
pub fn prepare() {
    let _ = policy();
    let _ = inspect_options();
}

fn text(input: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(input)
}

/// A Debug rendering reduced to its structure: string contents and digits dropped, bounded.
pub fn shape(debug: &str) -> String {
    let mut out = String::new();
    let mut in_str = false;
    let mut escaped = false;
    for c in debug.chars() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
                out.push('"');
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push('"');
            }
            '0'..='9' => {
                if !out.ends_with('#') {
                    out.push('#');
                }
            }
            _ => out.push(c),
        }
        if out.len() >= 120 {
            break;
        }
    }
    out
}

fn outcome<T, E: std::fmt::Debug>(r: &Result<T, E>) -> String {
    match r {
        Ok(_) => "ok".to_owned(),
        Err(e) => shape(&format!("{e:?}")),
    }
}

fn run_token(input: &[u8]) -> String {
    let token = text(input);
    let compact = s2s_proto::jwt::Compact::parse(&token).map(|c| c.alg().map(str::to_owned));
    let s2s = s2s_proto::validate_s2s(&token, policy(), NOW);
    if let Ok(t) = &s2s {
        // what the server reads next
        let _ = (
            t.app().to_string(),
            t.user(),
            t.expires(),
            t.actor().claim_str("oid"),
        );
    }
    let signed = s2s_proto::validate_signed(&token, policy(), NOW);
    format!(
        "{}|{}|{}",
        outcome(&compact),
        outcome(&s2s),
        outcome(&signed)
    )
}

/// The validator's member scan against the serde_json map parser: they must accept the same
/// objects with the same members (a token that validates must give later readers its claims).
fn run_claims(input: &[u8]) -> String {
    let scan = s2s_proto::claims::scan_object(input);
    let map = s2s_proto::jwt::parse_object(input, "payload");
    match (&scan, &map) {
        (Ok(n), Ok(m)) => assert_eq!(*n, m.len(), "member counts differ"),
        (Err(_), Err(_)) => {}
        _ => panic!("the member scan says {scan:?}, the map parser {map:?}"),
    }
    outcome(&scan)
}

fn run_metadata(input: &[u8]) -> String {
    match AcsMetadata::parse(input) {
        Ok(md) => {
            let certs = md.signing_certificates();
            let endpoint = md.token_endpoint().map(str::to_owned);
            if let Ok(certs) = &certs {
                for c in certs {
                    let _ = (c.valid_at(NOW, 300), c.verify_key(), c.to_pem());
                }
            }
            format!("ok|{}|{}", outcome(&certs), outcome(&endpoint))
        }
        Err(e) => shape(&format!("{e:?}")),
    }
}

fn run_principal(input: &[u8]) -> String {
    let s = text(input);
    match PrincipalName::parse(&s) {
        Ok(p) => {
            let printed = p.to_string();
            let again = PrincipalName::parse(&printed).unwrap_or_else(|e| {
                panic!("PrincipalName {s:?} prints as {printed:?}, which does not parse: {e}")
            });
            assert!(
                again.same_as(&p),
                "PrincipalName {s:?} does not survive printing and parsing: {printed:?}"
            );
            let _ = p.without_host();
            if let Some(h) = &p.host {
                let _ = spn_covers(&format!("{}/{h}", p.app_id), &p.app_id, h);
            }
            "ok".to_owned()
        }
        Err(e) => shape(&format!("{e:?}")),
    }
}

fn run_xml(input: &[u8]) -> String {
    let default = ews_proto::xml::parse(input, &Limits::default());
    if let Ok(root) = &default {
        let _ = (root.text_trimmed(), root.raw_content(input));
    }
    let tight = Limits {
        max_depth: 8,
        max_elements: 64,
        max_attributes: 4,
        max_total_attributes: 32,
        max_name_len: 16,
        max_attribute_value_len: 64,
        max_text_len: 256,
        max_namespace_declarations: 4,
        ..Limits::default()
    };
    let small = ews_proto::xml::parse(input, &tight);
    format!("{}|{}", outcome(&default), outcome(&small))
}

/// UploadItems' `Data` (Exchange's framing around a FastTransfer `messageContent`, or the stream
/// alone) read into an item, as the server reads it; a finding is a panic, a hang, or an accepted item whose
/// attached item does not read back (GetAttachment would find it damaged).
fn run_fx_item(input: &[u8]) -> String {
    use exchange::fxstream;
    // an input that does not start with Exchange's Config frame is the FastTransfer stream
    // itself, framed as Exchange frames it, so that mutations reach the stream's reader
    let framed;
    let data = if input.starts_with(&[1, 0, 0, 0]) {
        input
    } else {
        framed = fxstream::frame(input);
        &framed
    };
    match fxstream::decode_item(data) {
        Err(e) => shape(&format!("{e:?}")),
        Ok(d) => {
            let mut items = 0;
            for a in d.item.attachments.iter().filter(|a| a.is_item) {
                if let Err(e) = fxstream::decode_attached(&a.content) {
                    panic!("an accepted attached item does not read back: {e}");
                }
                items += 1;
            }
            format!("ok {} attachments, {items} items", d.item.attachments.len())
        }
    }
}

fn run_ews_request(input: &[u8]) -> String {
    let r = ews_proto::request::parse_request(input, &Limits::default());
    match &r {
        Ok(req) => format!("ok {}", req.operation.name()),
        Err(e) => {
            // the server answers every parse error with a SOAP fault built from it
            let _ = ews_proto::response::write_fault_for_error(e, input);
            outcome(&r)
        }
    }
}

/// A stored recurrence rule (`Recurrence::from_storage`) checked and expanded over two windows
/// (near its start, and centuries on) in a zone with daylight saving time; a finding is a
/// panic, a hang, or an expansion that breaks its own promises (out of order, outside the
/// window, a skipped index, more than the limit, an index that does not read back).
fn run_recurrence(input: &[u8]) -> String {
    use ews_proto::recurrence::Recurrence;
    use time::{Duration, OffsetDateTime, Time};
    let Ok(text) = std::str::from_utf8(input) else {
        return "not utf-8".into();
    };
    let r = match Recurrence::from_storage(text) {
        Ok(r) => r,
        Err(e) => return shape(&format!("{e:?}")),
    };
    let checked = r.check();
    let tz = ews_proto::timezone::windows_zone("Pacific Standard Time")
        .map(|w| w.tz)
        .unwrap_or(ews_proto::timezone::SerializableTimeZone::fixed(0));
    let time_of_day = Time::from_hms(9, 30, 0).unwrap_or(Time::MIDNIGHT);
    let duration = Duration::minutes(45);
    let start = r.start_date.with_time(Time::MIDNIGHT).assume_utc();
    let skip = [2, 5];
    let mut count = 0;
    for from in [start, start + Duration::days(365 * 300)] {
        let to = from + Duration::days(400);
        let found = r.occurrences_between(time_of_day, duration, &tz, from, to, &skip, 50);
        assert!(found.len() <= 50, "more than the limit");
        let mut last: Option<(OffsetDateTime, u32)> = None;
        for o in &found {
            assert!(o.start < to && o.end > from, "outside the window: {o:?}");
            assert!(!skip.contains(&o.index), "a skipped index: {o:?}");
            if let Some((t, i)) = last {
                assert!(o.start >= t && o.index > i, "out of order: {o:?}");
            }
            last = Some((o.start, o.index));
            let again = r.occurrence(o.index, time_of_day, duration, &tz);
            assert_eq!(
                again.as_ref(),
                Some(o),
                "index {} reads back otherwise",
                o.index
            );
        }
        count += found.len();
    }
    let last = r.last(time_of_day, duration, &tz).map(|o| o.index);
    format!(
        "ok {} {} {}",
        if checked.is_ok() { "valid" } else { "refused" },
        count.min(3),
        last.map_or("open", |_| "ends")
    )
}

fn run_send_notification(input: &[u8]) -> String {
    let n = ews_proto::notification::parse_send_notification(input, &Limits::default());
    let r = ews_proto::notification::parse_send_notification_result(input, &Limits::default());
    format!("{}|{}", outcome(&n), outcome(&r))
}

fn run_shell(input: &[u8]) -> String {
    let s = text(input);
    let _ = psh::needs_more_input(&s);
    let r = psh::parse(&s);
    if let Err(e) = &r {
        let _ = e.to_string();
    }
    outcome(&r)
}

fn run_inspect(input: &[u8]) -> String {
    let s = text(input);
    let _ = inspect::extract_token(&s);
    let report = inspect::inspect_token(&s, inspect_options());
    let _ = (
        report.to_text(),
        report.summary_text(),
        report.all_rules_hold(),
    );
    format!("{:?}|{:?}", report.kind, report.signature.verdict)
}

fn run_har(input: &[u8]) -> String {
    let r = inspect::har_report(input);
    if let Ok(h) = &r {
        let _ = (h.to_text(), h.summary_line(), h.verdicts());
    }
    outcome(&r)
}
