//! PowerShell-style parameters on the command line: `-Name value -Enabled $True -Switch`.

use anyhow::{Result, bail};
use serde_json::{Map, Value};

/// Parses `-Param value …` into a JSON object the admin APIs take. A parameter followed by
/// another parameter (or nothing) is a switch (`true`). `$True`/`$False` become booleans;
/// `-Param:$false` is accepted too.
pub fn parse_params(args: &[String]) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let Some(name) = a.strip_prefix('-') else {
            bail!(
                "expected a parameter name like -Name at '{a}' (argument {}); values follow their parameter",
                i + 1
            );
        };
        if name.is_empty() {
            bail!("a lone '-' is not a parameter name (argument {})", i + 1);
        }
        if let Some((n, v)) = name.split_once(':') {
            out.insert(n.to_owned(), literal(v));
            i += 1;
            continue;
        }
        let next = args.get(i + 1);
        match next {
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
    Ok(out)
}

fn literal(v: &str) -> Value {
    match v.to_ascii_lowercase().as_str() {
        "$true" => Value::Bool(true),
        "$false" => Value::Bool(false),
        "$null" => Value::Null,
        _ => Value::String(v.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_seed_lines() {
        let m = parse_params(&s(&[
            "-Name",
            "SfBOnline",
            "-ApplicationIdentifier",
            "00000004-0000-0ff1-ce00-000000000000",
            "-Enabled",
            "$True",
            "-PublishCertificate",
            "-X:$false",
        ]))
        .unwrap();
        assert_eq!(m["Name"], "SfBOnline");
        assert_eq!(m["Enabled"], true);
        assert_eq!(m["PublishCertificate"], true);
        assert_eq!(m["X"], false);
        assert!(parse_params(&s(&["Name"])).is_err());
    }
}
