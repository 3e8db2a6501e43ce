//! PowerShell-style parameters on the command line: `-Name value -Enabled $True -Switch`.

use anyhow::{Result, bail};
use serde_json::{Map, Value};

/// Parses `-Param value …` into a JSON object the admin APIs take. A parameter followed by
/// another parameter (or nothing) is a switch (`true`). `$True`/`$False` become booleans;
/// `-Param:$false` is accepted too; `(Get-Date)` is the current time (ISO 8601, UTC). A
/// parameter given twice is an error (PowerShell refuses it too), and so is a value without a
/// parameter, except that the first one of a Get-, Set- or Remove- cmdlet is its `-Identity`
/// (`openhybrid exchange Get-PartnerApplication SfBOnline`), as PowerShell binds it.
pub fn parse_params(cmdlet: &str, args: &[String]) -> Result<Map<String, Value>> {
    let lower = cmdlet.to_ascii_lowercase();
    let identity_ok = ["get-", "set-", "remove-"]
        .iter()
        .any(|v| lower.starts_with(v));
    let mut out = Map::new();
    let mut positional = false;
    let put = |out: &mut Map<String, Value>,
               positional: bool,
               name: &str,
               v: Value,
               pos: usize|
     -> Result<()> {
        if out.keys().any(|k| k.eq_ignore_ascii_case(name)) {
            let how = if positional && name.eq_ignore_ascii_case("Identity") {
                "given both by name and as the positional argument"
            } else {
                "given twice"
            };
            bail!("the parameter -{name} is {how} (argument {pos}); give each parameter once");
        }
        out.insert(name.to_owned(), v);
        Ok(())
    };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let Some(name) = a.strip_prefix('-').filter(|_| a.parse::<f64>().is_err()) else {
            if identity_ok && !out.keys().any(|k| k.eq_ignore_ascii_case("Identity")) {
                put(&mut out, false, "Identity", literal(a)?, i + 1)?;
                positional = true;
                i += 1;
                continue;
            }
            if identity_ok {
                bail!(
                    "expected a parameter name like -Name at '{a}' (argument {}): only one value may stand without a parameter (the -Identity); values follow their parameter",
                    i + 1
                );
            }
            bail!(
                "expected a parameter name like -Name at '{a}' (argument {}); values follow their parameter",
                i + 1
            );
        };
        if name.is_empty() {
            bail!("a lone '-' is not a parameter name (argument {})", i + 1);
        }
        if let Some((n, v)) = name.split_once(':') {
            if n.is_empty() {
                bail!(
                    "'{a}' has no parameter name before the ':' (argument {})",
                    i + 1
                );
            }
            put(&mut out, positional, n, literal(v)?, i + 1)?;
            i += 1;
            continue;
        }
        let next = args.get(i + 1);
        match next {
            Some(v) if !v.starts_with('-') || v.parse::<f64>().is_ok() => {
                put(&mut out, positional, name, literal(v)?, i + 1)?;
                i += 2;
            }
            _ => {
                put(&mut out, positional, name, Value::Bool(true), i + 1)?;
                i += 1;
            }
        }
    }
    Ok(out)
}

fn literal(v: &str) -> Result<Value> {
    if v.trim_start().starts_with("@{") {
        return hashtable(v);
    }
    Ok(match v.to_ascii_lowercase().as_str() {
        "$true" => Value::Bool(true),
        "$false" => Value::Bool(false),
        "$null" => Value::Null,
        "(get-date)" => Value::String(now_iso8601()),
        _ => Value::String(v.to_owned()),
    })
}

/// A hashtable as multi-valued parameters take it (`-EmailAddresses '@{Add="a@x","b@x";
/// Remove="c@x"}'`): `@{`, entries `Key=value,value,…` separated by `;`, `}`; each value bare
/// or in single or double quotes. Becomes `{"Key": ["value", …]}`, what the admin APIs take.
fn hashtable(v: &str) -> Result<Value> {
    let shown: String = v.chars().take(80).collect();
    let Some(inner) = v
        .trim()
        .strip_prefix("@{")
        .and_then(|r| r.strip_suffix('}'))
    else {
        bail!("'{shown}' is not a hashtable: write @{{Add=\"value\"; Remove=\"value\"}}");
    };
    let mut table = Map::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ';').is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if key.is_empty() || chars.next() != Some('=') {
            bail!("in '{shown}': each entry is Key=value (e.g. Add=\"a@contoso.com\")");
        }
        let mut values = Vec::new();
        loop {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let mut item = String::new();
            match chars.peek().copied() {
                Some(q @ ('"' | '\'')) => {
                    chars.next();
                    loop {
                        match chars.next() {
                            Some(c) if c == q => break,
                            Some(c) => item.push(c),
                            None => bail!("in '{shown}': a quote is not closed"),
                        }
                    }
                }
                _ => {
                    while let Some(c) =
                        chars.next_if(|c| !(c.is_whitespace() || matches!(c, ',' | ';')))
                    {
                        item.push(c);
                    }
                }
            }
            if item.is_empty() {
                bail!("in '{shown}': {key}= has an empty value");
            }
            values.push(Value::String(item));
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if chars.next_if_eq(&',').is_none() {
                break;
            }
        }
        if !matches!(chars.peek(), None | Some(';')) {
            bail!("in '{shown}': separate the entries with ';'");
        }
        if table.insert(key.clone(), Value::Array(values)).is_some() {
            bail!("in '{shown}': {key} is given twice");
        }
    }
    Ok(Value::Object(table))
}

/// What `(Get-Date)` stands for: now, UTC, to the second, ISO 8601.
fn now_iso8601() -> String {
    let t = time::OffsetDateTime::now_utc();
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_seed_lines() {
        let m = parse_params(
            "New-PartnerApplication",
            &s(&[
                "-Name",
                "SfBOnline",
                "-ApplicationIdentifier",
                "00000004-0000-0ff1-ce00-000000000000",
                "-Enabled",
                "$True",
                "-PublishCertificate",
                "-X:$false",
                "-N",
                "-5",
            ]),
        )
        .unwrap();
        assert_eq!(m["Name"], "SfBOnline");
        assert_eq!(m["Enabled"], true);
        assert_eq!(m["PublishCertificate"], true);
        assert_eq!(m["X"], false);
        assert_eq!(m["N"], "-5");
        assert!(parse_params("New-Mailbox", &s(&["Name"])).is_err());
    }

    #[test]
    fn a_parameter_given_twice_is_refused() {
        for args in [
            &["-Name", "Carol", "-Name", "Dave"][..],
            &["-Name", "Carol", "-name", "Dave"],
            &["-Name:Carol", "-NAME", "Dave"],
            &["-Enabled", "-Enabled:$false"],
        ] {
            let e = parse_params("New-Mailbox", &s(args))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("is given twice") && e.contains("give each parameter once"),
                "{args:?}: {e}"
            );
        }
        let e = parse_params("Get-Mailbox", &s(&["alice", "-Identity", "bob"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("-Identity is given both by name and as the positional"),
            "{e}"
        );
    }

    #[test]
    fn one_positional_identity_for_get_set_remove() {
        let m = parse_params("Get-PartnerApplication", &s(&["SfBOnline"])).unwrap();
        assert_eq!(m["Identity"], "SfBOnline");
        let m = parse_params(
            "set-partnerapplication",
            &s(&["SfBOnline", "-Enabled", "$false"]),
        )
        .unwrap();
        assert_eq!(m["Identity"], "SfBOnline");
        assert_eq!(m["Enabled"], false);
        let e = parse_params("Get-Mailbox", &s(&["alice", "bob"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("only one value may stand without a parameter"),
            "{e}"
        );
        let e = parse_params("New-Mailbox", &s(&["carol"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("expected a parameter name like -Name at 'carol'"),
            "{e}"
        );
    }

    #[test]
    fn get_date_is_now() {
        let m = parse_params(
            "Set-AuthConfig",
            &s(&["-NewCertificateEffectiveDate", "(Get-Date)"]),
        )
        .unwrap();
        let v = m["NewCertificateEffectiveDate"].as_str().unwrap();
        let t =
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).unwrap();
        assert!(
            (t - time::OffsetDateTime::now_utc()).whole_seconds().abs() < 5,
            "{v}"
        );
    }

    /// `@{Add=…; Remove=…}` becomes the object multi-valued parameters take; what is no
    /// hashtable is said so.
    #[test]
    fn hashtables_for_multi_valued_parameters() {
        let m = parse_params(
            "Set-Mailbox",
            &s(&[
                "bob",
                "-EmailAddresses",
                r#"@{Add="smtp:b@contoso.example", 'SIP:b@contoso.example' ; Remove=old@contoso.example}"#,
            ]),
        )
        .unwrap();
        assert_eq!(m["Identity"], "bob");
        assert_eq!(
            m["EmailAddresses"],
            serde_json::json!({"Add": ["smtp:b@contoso.example", "SIP:b@contoso.example"], "Remove": ["old@contoso.example"]})
        );
        let m = parse_params("Set-Mailbox", &s(&["-EmailAddresses:@{}"])).unwrap();
        assert_eq!(m["EmailAddresses"], serde_json::json!({}));
        for (bad, why) in [
            ("@{Add=a", "is not a hashtable"),
            ("@{Add}", "each entry is Key=value"),
            ("@{Add='a}", "quote is not closed"),
            ("@{Add=}", "empty value"),
            ("@{Add=a b}", "separate the entries"),
            ("@{Add=a; Add=b}", "given twice"),
        ] {
            let e = parse_params("Set-Mailbox", &s(&["-EmailAddresses", bad]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
