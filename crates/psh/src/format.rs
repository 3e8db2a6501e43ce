//! Output as PowerShell shows it: `Format-List` for objects, text for everything else.

use std::fmt::Write as _;

use serde_json::Value;

/// Formats cmdlet output the way `Format-List` does: one `Name : value` line per property,
/// names padded to the longest, a blank line between objects. Scalars print as text on their
/// own line, `$null` prints nothing, arrays are enumerated. The result ends with a newline
/// unless it is empty.
pub fn format_objects(values: &[Value]) -> String {
    let mut out = String::new();
    let mut state = State::Empty;
    for v in values {
        format_one(v, &mut out, &mut state);
    }
    out
}

#[derive(PartialEq)]
enum State {
    Empty,
    Object,
    Scalar,
}

fn format_one(v: &Value, out: &mut String, state: &mut State) {
    match v {
        Value::Null => {}
        Value::Array(items) => {
            for i in items {
                format_one(i, out, state);
            }
        }
        Value::Object(m) => {
            if *state != State::Empty {
                out.push('\n');
            }
            let width = m.keys().map(|k| k.chars().count()).max().unwrap_or(0);
            let indent = format!("\n{}", " ".repeat(width + 3));
            for (k, x) in m {
                let value = list_value(x).replace('\n', &indent);
                let _ = writeln!(out, "{k:<width$} : {value}");
            }
            *state = State::Object;
        }
        other => {
            if *state == State::Object {
                out.push('\n');
            }
            out.push_str(&to_text(other));
            out.push('\n');
            *state = State::Scalar;
        }
    }
}

/// A property value in a list: arrays as `{a, b}`, nested objects as `@{Name=value; …}`,
/// booleans as `True`/`False`.
fn list_value(v: &Value) -> String {
    match v {
        Value::Array(a) => format!(
            "{{{}}}",
            a.iter().map(to_text).collect::<Vec<_>>().join(", ")
        ),
        other => to_text(other),
    }
}

/// A value as text, as PowerShell converts it in `"…$var…"` and `Write-Host`: strings as is,
/// `$null` empty, `True`/`False`, arrays joined with spaces, objects as `@{Name=value; …}`.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(to_text).collect::<Vec<_>>().join(" "),
        Value::Object(m) => format!(
            "@{{{}}}",
            m.iter()
                .map(|(k, x)| format!("{k}={}", to_text(x)))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn format_list_aligns_and_separates() {
        let out = format_objects(&[
            json!({"Name": "SfBOnline", "Enabled": true, "LinkedAccount": null, "Spns": ["a", "b"]}),
            json!({"Id": 1, "Nested": {"k": "v", "n": 2}}),
        ]);
        assert_eq!(
            out,
            "Enabled       : True\n\
             LinkedAccount : \n\
             Name          : SfBOnline\n\
             Spns          : {a, b}\n\
             \n\
             Id     : 1\n\
             Nested : @{k=v; n=2}\n"
        );
    }

    #[test]
    fn scalars_nulls_and_arrays() {
        assert_eq!(format_objects(&[]), "");
        assert_eq!(format_objects(&[Value::Null]), "");
        assert_eq!(
            format_objects(&[
                json!("a"),
                json!(["b", false]),
                json!({"X": "multi\nline"}),
                json!(3)
            ]),
            "a\nb\nFalse\n\nX : multi\n    line\n\n3\n"
        );
    }
}
