//! The text rendering of a [`Report`] (spec: SCENARIOS.md §4).

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::explain::{elide, expiry_phrase, format_time, numeric, short_principal, well_known_app};
use crate::report::{Check, CheckResult, Report, SignatureReport, TokenKind, Verdict, short};

const INDENT: &str = "       ";

fn str_claim<'a>(c: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    c.get(k).and_then(Value::as_str)
}

fn app_name(principal: Option<&str>) -> String {
    principal
        .and_then(|p| s2s_proto::PrincipalName::parse(p).ok())
        .and_then(|p| well_known_app(&p.app_id))
        .map(|n| format!(" ({n})"))
        .unwrap_or_default()
}

fn window(c: &Map<String, Value>, now: i64) -> String {
    let t = |k: &str| c.get(k).and_then(|v| numeric(v).ok()).map(|(t, _)| t);
    match (t("nbf").or(t("iat")), t("exp")) {
        (Some(a), Some(b)) => format!(
            "{} – {} ({})",
            format_time(a),
            format_time(b),
            expiry_phrase(b, now)
        ),
        (None, Some(b)) => format!("until {} ({})", format_time(b), expiry_phrase(b, now)),
        _ => "no readable lifetime".into(),
    }
}

fn user_line(c: &Map<String, Value>) -> String {
    let id = ["smtp", "upn", "sip", "nameid"]
        .iter()
        .find_map(|k| str_claim(c, k).map(|v| format!("{k} {}", crate::explain::clip(v, 80))));
    let nii = str_claim(c, "nii").map(|n| format!(" (nii {})", crate::explain::clip(n, 60)));
    match id {
        Some(id) => format!("user {id}{}", nii.unwrap_or_default()),
        None => "no user".into(),
    }
}

fn signature_phrase(s: &SignatureReport) -> String {
    match s.verdict {
        Verdict::Valid => format!(
            "signature VALID against {} key {}",
            s.against.as_deref().unwrap_or("the given"),
            s.key_x5t.as_deref().map_or_else(|| "?".into(), elide)
        ),
        // the signature itself held, and a later rule refused the token
        Verdict::Invalid
            if s.rules
                .iter()
                .any(|c| c.rule == "signature" && c.result == CheckResult::Pass) =>
        {
            format!(
                "signature verified against {}, but the token is REFUSED ({})",
                s.against.as_deref().unwrap_or("the given keys"),
                s.code.as_deref().unwrap_or("see the rules")
            )
        }
        Verdict::Invalid => format!(
            "signature INVALID against {}",
            s.against.as_deref().unwrap_or("the given keys")
        ),
        Verdict::NotChecked => format!(
            "signature NOT CHECKED ({})",
            s.note.as_deref().unwrap_or("no trust material")
        ),
    }
}

/// Rules as `name ✔ · name ✘`, wrapped, then one line per failure with its detail.
fn rules_block(out: &mut String, label: &str, rules: &[Check]) {
    let items: Vec<String> = rules
        .iter()
        .map(|c| format!("{} {}", c.rule, c.result.mark()))
        .collect();
    let mut line = String::new();
    let mut first = true;
    for item in items {
        if !line.is_empty() && line.chars().count() + item.chars().count() > 90 {
            let _ = writeln!(out, "{:<7}{line}", if first { label } else { "" });
            first = false;
            line.clear();
        }
        if !line.is_empty() {
            line.push_str(" · ");
        }
        line.push_str(&item);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{:<7}{line}", if first { label } else { "" });
    }
    for c in rules.iter().filter(|c| c.result == CheckResult::Fail) {
        let _ = writeln!(
            out,
            "{INDENT}✘ {}: {}",
            c.rule,
            c.detail.as_deref().unwrap_or("failed")
        );
    }
}

fn header_line(h: &Map<String, Value>) -> String {
    let alg = h.get("alg").and_then(Value::as_str).unwrap_or("(no alg)");
    let mut s = alg.to_owned();
    if let Some(x5t) = h.get("x5t").and_then(Value::as_str) {
        let _ = write!(s, " x5t {}", elide(x5t));
    }
    if let Some(kid) = h.get("kid").and_then(Value::as_str)
        && h.get("x5t").and_then(Value::as_str) != Some(kid)
    {
        let _ = write!(s, " kid {}", elide(kid));
    }
    s
}

impl Report {
    /// The compact text rendering: summary lines, the rules, then a claim table.
    pub fn to_text(&self) -> String {
        self.render(true)
    }

    /// The summary lines and rules without the claim table (used by the HAR report).
    pub fn summary_text(&self) -> String {
        self.render(false)
    }

    fn render(&self, with_claims: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.kind_description);
        let now = self.now;
        if let Some(o) = &self.facts.outer {
            let alg = self
                .layers
                .first()
                .and_then(|l| l.header.alg.clone())
                .unwrap_or_else(|| "(no alg)".into());
            let _ = writeln!(
                out,
                "outer  alg {alg} · iss {} · aud {}",
                short(str_claim(o, "iss")),
                short(str_claim(o, "aud"))
            );
            let _ = writeln!(out, "{INDENT}{} · {}", user_line(o), window(o, now));
        }
        if let (Some(c), Some(h)) = (&self.facts.signed, &self.facts.signed_header) {
            let label = if self.kind == TokenKind::S2sUser {
                "actor"
            } else {
                "token"
            };
            let iss = str_claim(c, "iss");
            let mut line = format!(
                "{label:<7}{} · iss {}{}",
                header_line(h),
                short(iss),
                if iss
                    .and_then(|i| s2s_proto::PrincipalName::parse(i).ok())
                    .is_some_and(|p| p.app_id == s2s_proto::principal::ACS_APP_ID)
                {
                    " (the STS)".to_owned()
                } else {
                    app_name(iss)
                }
            );
            if let Some(n) = str_claim(c, "nameid") {
                let _ = write!(
                    line,
                    " · nameid {}{}",
                    short_principal(n),
                    app_name(Some(n))
                );
            }
            if self.kind != TokenKind::S2sUser {
                let _ = write!(line, " · aud {}", short(str_claim(c, "aud")));
            }
            let _ = writeln!(out, "{line}");
            let mut second = String::new();
            if let Some(t) = c.get("trustedfordelegation") {
                let _ = write!(
                    second,
                    "trustedfordelegation {} · ",
                    t.as_str().map_or_else(|| t.to_string(), str::to_owned)
                );
            }
            let _ = writeln!(
                out,
                "{INDENT}{second}{} · {}",
                window(c, now),
                signature_phrase(&self.signature)
            );
        } else if self.kind != TokenKind::Malformed {
            let _ = writeln!(out, "{INDENT}{}", signature_phrase(&self.signature));
        }
        for e in &self.errors {
            let _ = writeln!(out, "error  {e}");
        }
        if !self.rules.is_empty() {
            rules_block(&mut out, "rules", &self.rules);
        }
        if !self.signature.rules.is_empty() {
            rules_block(&mut out, "verify", &self.signature.rules);
            if let (Some(code), Some(err)) = (&self.signature.code, &self.signature.error) {
                let _ = writeln!(
                    out,
                    "{INDENT}INVALID: {}",
                    err.strip_prefix(&format!("{code}: "))
                        .map_or_else(|| err.clone(), |rest| format!("{code} {rest}"))
                );
            }
        }
        for l in self.layers.iter().filter(|_| with_claims) {
            let _ = writeln!(
                out,
                "claims {} (signature {})",
                l.name,
                if l.signature == "(empty)" {
                    "empty".to_owned()
                } else {
                    l.signature.clone()
                }
            );
            let width = l
                .claims
                .iter()
                .map(|c| c.name.chars().count())
                .max()
                .unwrap_or(0)
                .min(20);
            for c in &l.claims {
                let _ = writeln!(out, "  {:<width$}  {}  · {}", c.name, c.value, c.meaning);
            }
        }
        out
    }
}
