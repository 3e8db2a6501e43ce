//! Parameter binding for the cmdlet hosts (Exchange's and Skype's admin APIs): named parameters
//! matched case-insensitively against a cmdlet's list, as PowerShell binds them, and read as
//! strings, booleans, switches, integers and dates with errors that name the cmdlet and the
//! parameter. Each host maps [`BindError`] into its own error type.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

/// Why a parameter could not be bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    #[error(
        "{cmdlet}: a parameter cannot be found that matches parameter name '{param}'. Supported: {supported}"
    )]
    Unknown {
        cmdlet: String,
        param: String,
        supported: String,
    },
    #[error("{cmdlet}: the parameter -{param} is required")]
    Missing { cmdlet: String, param: &'static str },
    #[error("{cmdlet}: cannot bind parameter -{param}: {why}")]
    Bad {
        cmdlet: String,
        param: &'static str,
        why: String,
    },
}

/// How one host binds.
#[derive(Debug, Clone, Copy)]
pub struct BindRules {
    /// Common parameters accepted by every cmdlet and ignored (`-Verbose`, `-ErrorAction`, …).
    pub ignored: &'static [&'static str],
    /// Properties of a piped-in object that stand for it (`Identity`, then others), tried in order.
    pub identity_properties: &'static [&'static str],
    /// Longest string value, in bytes, if bounded here (the request body limit bounds the rest).
    pub max_len: Option<usize>,
    /// Trim surrounding whitespace from string values.
    pub trim: bool,
}

/// The bound parameters of one invocation.
#[derive(Debug, Clone)]
pub struct Params {
    cmdlet: String,
    rules: BindRules,
    values: BTreeMap<&'static str, Value>,
}

/// A multi-valued parameter's value ([`Params::multi_valued`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiValued {
    /// The whole list: it replaces the values there are.
    Replace(Vec<String>),
    /// `@{Add=…; Remove=…}`: these values added and those removed, the others kept.
    Change {
        add: Vec<String>,
        remove: Vec<String>,
    },
}

impl Params {
    /// Binds `raw` (names with or without a leading `-`, any case) to `allowed`; a name that is
    /// neither allowed nor ignored is an error listing what is supported.
    pub fn bind(
        cmdlet: &str,
        allowed: &[&'static str],
        raw: Map<String, Value>,
        rules: BindRules,
    ) -> Result<Self, BindError> {
        let mut values = BTreeMap::new();
        for (k, v) in raw {
            let key = k.trim_start_matches('-');
            let Some(canon) = allowed.iter().find(|a| a.eq_ignore_ascii_case(key)) else {
                if rules.ignored.iter().any(|i| i.eq_ignore_ascii_case(key)) {
                    continue;
                }
                return Err(BindError::Unknown {
                    cmdlet: cmdlet.to_owned(),
                    param: key.chars().take(60).collect(),
                    supported: if allowed.is_empty() {
                        "none (this cmdlet takes no parameters)".into()
                    } else {
                        allowed
                            .iter()
                            .map(|a| format!("-{a}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    },
                });
            };
            values.insert(*canon, v);
        }
        Ok(Params {
            cmdlet: cmdlet.to_owned(),
            rules,
            values,
        })
    }

    /// The cmdlet's canonical name.
    pub fn cmdlet(&self) -> &str {
        &self.cmdlet
    }

    /// Was the parameter given at all (even as `$null`)?
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// An error about this parameter.
    pub fn bad(&self, param: &'static str, why: impl Into<String>) -> BindError {
        BindError::Bad {
            cmdlet: self.cmdlet.clone(),
            param,
            why: why.into(),
        }
    }

    /// A string (numbers are taken as their text; a piped object by its identity property).
    pub fn str(&self, name: &'static str) -> Result<Option<String>, BindError> {
        let s = match self.values.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s.as_str(),
            Some(Value::Number(n)) => return Ok(Some(n.to_string())),
            Some(Value::Object(o)) => {
                let id = self
                    .rules
                    .identity_properties
                    .iter()
                    .find_map(|p| o.get(*p).and_then(Value::as_str));
                return match id {
                    Some(id) => Ok(Some(id.to_owned())),
                    None => Err(self.bad(name, "an object without an Identity property")),
                };
            }
            Some(other) => return Err(self.bad(name, format!("{} is not a string", kind(other)))),
        };
        if let Some(max) = self.rules.max_len
            && s.len() > max
        {
            return Err(self.bad(name, format!("longer than {max} characters")));
        }
        Ok(Some(if self.rules.trim { s.trim() } else { s }.to_owned()))
    }

    /// A required, non-empty string.
    pub fn req(&self, name: &'static str) -> Result<String, BindError> {
        self.str(name)?
            .filter(|s| !s.is_empty())
            .ok_or(BindError::Missing {
                cmdlet: self.cmdlet.clone(),
                param: name,
            })
    }

    /// `$true`/`$false` (also `true`, `1`, `false`, `0`; an empty value is a set switch).
    pub fn bool(&self, name: &'static str) -> Result<Option<bool>, BindError> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.trim_start_matches('$').to_ascii_lowercase().as_str()
            {
                "true" | "1" | "" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(self.bad(
                    name,
                    format!(
                        "'{}' is not $true or $false",
                        s.chars().take(20).collect::<String>()
                    ),
                )),
            },
            Some(other) => Err(self.bad(name, format!("{} is not $true or $false", kind(other)))),
        }
    }

    /// A switch: absent is false.
    pub fn switch(&self, name: &'static str) -> Result<bool, BindError> {
        Ok(self.bool(name)?.unwrap_or(false))
    }

    /// An integer (a JSON number or its text).
    pub fn int(&self, name: &'static str) -> Result<Option<i64>, BindError> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.bad(name, "not an integer")),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.bad(name, "not an integer")),
            Some(_) => Err(self.bad(name, "not an integer")),
        }
    }

    /// A list of strings: an array (`$p.ServicePrincipalNames`), or one string holding
    /// comma-separated items (`"a,b"`, as the command line gives it). Items are trimmed; an
    /// empty item is an error (it would be stored as an empty name). `None` when absent or
    /// `$null`; `Some(vec![])` for an empty array or an empty string, for the caller to judge.
    pub fn strings(&self, name: &'static str) -> Result<Option<Vec<String>>, BindError> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => self.string_list(name, v, "").map(Some),
        }
    }

    /// A multi-valued property as Exchange's cmdlets take one: the whole list, which replaces
    /// what is there (as [`Params::strings`] reads it), or the hashtable `@{Add=…; Remove=…}`
    /// that changes it without touching the other values (JSON `{"Add": [...], "Remove": [...]}`,
    /// keys in any case, each value a list or one string). A hashtable with another key, or
    /// with nothing to add or remove, is an error. `None` when absent or `$null`.
    pub fn multi_valued(&self, name: &'static str) -> Result<Option<MultiValued>, BindError> {
        let Some(Value::Object(table)) = self.values.get(name) else {
            return Ok(self.strings(name)?.map(MultiValued::Replace));
        };
        let (mut add, mut remove) = (Vec::new(), Vec::new());
        for (key, v) in table {
            let slot = if key.eq_ignore_ascii_case("Add") {
                &mut add
            } else if key.eq_ignore_ascii_case("Remove") {
                &mut remove
            } else {
                return Err(self.bad(
                    name,
                    format!(
                        "the hashtable's key '{}' is neither Add nor Remove; write @{{Add=\"value1\",\"value2\"; Remove=\"value3\"}}, or give the whole list",
                        key.chars().take(40).collect::<String>()
                    ),
                ));
            };
            if !v.is_null() {
                slot.extend(self.string_list(name, v, key)?);
            }
        }
        if add.is_empty() && remove.is_empty() {
            return Err(self.bad(
                name,
                "the hashtable adds and removes nothing; write @{Add=\"value1\"; Remove=\"value2\"}",
            ));
        }
        Ok(Some(MultiValued::Change { add, remove }))
    }

    /// The items of one list value (`what`: the hashtable key it came under, if any).
    fn string_list(
        &self,
        name: &'static str,
        value: &Value,
        what: &str,
    ) -> Result<Vec<String>, BindError> {
        let under = if what.is_empty() {
            String::new()
        } else {
            format!(" under {}", what.chars().take(40).collect::<String>())
        };
        let items: Vec<String> = match value {
            Value::Null => return Ok(Vec::new()),
            Value::String(s) => {
                if s.trim().is_empty() {
                    return Ok(Vec::new());
                }
                s.split(',').map(str::to_owned).collect()
            }
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for (i, v) in a.iter().enumerate() {
                    match v {
                        Value::String(s) => out.push(s.clone()),
                        Value::Number(n) => out.push(n.to_string()),
                        other => {
                            return Err(self.bad(
                                name,
                                format!("item {}{under} is {}, not a string", i + 1, kind(other)),
                            ));
                        }
                    }
                }
                out
            }
            Value::Number(n) => vec![n.to_string()],
            other => {
                return Err(self.bad(
                    name,
                    format!("{}{under} is not a list of strings", kind(other)),
                ));
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, s) in items.iter().enumerate() {
            let s = s.trim();
            if s.is_empty() {
                return Err(self.bad(
                    name,
                    format!(
                        "item {}{under} of the list is empty; remove the stray comma or empty string",
                        i + 1
                    ),
                ));
            }
            if let Some(max) = self.rules.max_len
                && s.len() > max
            {
                return Err(self.bad(
                    name,
                    format!("item {}{under} is longer than {max} characters", i + 1),
                ));
            }
            out.push(s.to_owned());
        }
        Ok(out)
    }

    /// A date as Unix seconds. Accepted: ISO 8601 / RFC 3339 with an offset
    /// (`2026-11-26T09:00:00Z`, what `Get-Date` gives in the shell), a date and time without an
    /// offset (taken as UTC: `2026-11-26T09:00:00`, also with a space for the `T`, seconds
    /// optional as in `Set-MailboxAutoReplyConfiguration -EndTime "2026-12-01 17:00"`), and a plain
    /// date (midnight UTC: `2026-11-26`). A bare number is refused: PowerShell does not read Unix
    /// seconds as a date either.
    pub fn date(&self, name: &'static str) -> Result<Option<i64>, BindError> {
        let hint =
            "use ISO 8601, e.g. 2026-11-26 (midnight UTC) or 2026-11-26T09:00:00Z, or (Get-Date)";
        if let Some(Value::Number(n)) = self.values.get(name) {
            return Err(self.bad(
                name,
                format!("the number {n} is not a date; Unix seconds are not accepted ({hint})"),
            ));
        }
        let Some(s) = self.str(name)? else {
            return Ok(None);
        };
        let t = s.trim();
        if let Ok(d) = OffsetDateTime::parse(t, &Rfc3339) {
            return Ok(Some(d.unix_timestamp()));
        }
        if let Ok(d) = PrimitiveDateTime::parse(&t.replacen(' ', "T", 1), DATE_TIME) {
            return Ok(Some(d.assume_utc().unix_timestamp()));
        }
        if let Ok(d) = Date::parse(t, DATE) {
            return Ok(Some(d.midnight().assume_utc().unix_timestamp()));
        }
        let shown = s.chars().take(40).collect::<String>();
        if t.parse::<i64>().is_ok() {
            return Err(self.bad(
                name,
                format!("'{shown}' is not a date; Unix seconds are not accepted ({hint})"),
            ));
        }
        Err(self.bad(name, format!("'{shown}' is not a date ({hint})")))
    }
}

const DATE: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");
const DATE_TIME: &[BorrowedFormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute][optional [:[second][optional [.[subsecond]]]]]"
);

fn kind(v: &Value) -> String {
    match v {
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
        other => other.to_string().chars().take(40).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RULES: BindRules = BindRules {
        ignored: &["Verbose", "DomainController"],
        identity_properties: &["Identity", "SipAddress"],
        max_len: Some(24),
        trim: true,
    };

    fn bind(raw: Value) -> Result<Params, BindError> {
        let Value::Object(raw) = raw else {
            unreachable!("test input is an object")
        };
        Params::bind(
            "Set-Thing",
            &["Identity", "Enabled", "Count", "When"],
            raw,
            RULES,
        )
    }

    #[test]
    fn binds_case_insensitively_and_ignores_common_parameters() {
        let p = bind(json!({"-identity": " a ", "ENABLED": "$false", "verbose": true, "-DomainController": "dc1"}))
            .unwrap();
        assert_eq!(p.req("Identity").unwrap(), "a");
        assert_eq!(p.bool("Enabled").unwrap(), Some(false));
        assert!(!p.has("Count"));
        assert_eq!(p.int("Count").unwrap(), None);
    }

    #[test]
    fn every_bad_input_names_cmdlet_and_parameter() {
        let cases: Vec<(Value, &str, BindError)> = vec![
            (
                json!({"Nope": 1}),
                "",
                BindError::Unknown {
                    cmdlet: "Set-Thing".into(),
                    param: "Nope".into(),
                    supported: "-Identity -Enabled -Count -When".into(),
                },
            ),
            (
                json!({}),
                "Identity",
                BindError::Missing {
                    cmdlet: "Set-Thing".into(),
                    param: "Identity",
                },
            ),
            (
                json!({"Identity": "x".repeat(25)}),
                "Identity",
                bad("Identity", "longer than 24 characters"),
            ),
            (
                json!({"Identity": [1]}),
                "Identity",
                bad("Identity", "an array is not a string"),
            ),
            (
                json!({"Identity": {"Name": "x"}}),
                "Identity",
                bad("Identity", "an object without an Identity property"),
            ),
            (
                json!({"Enabled": "maybe"}),
                "Enabled",
                bad("Enabled", "'maybe' is not $true or $false"),
            ),
            (
                json!({"Count": "many"}),
                "Count",
                bad("Count", "not an integer"),
            ),
            (
                json!({"When": "tomorrow"}),
                "When",
                bad(
                    "When",
                    "'tomorrow' is not a date (use ISO 8601, e.g. 2026-11-26 (midnight UTC) or 2026-11-26T09:00:00Z, or (Get-Date))",
                ),
            ),
        ];
        for (raw, param, want) in cases {
            let got = bind(raw.clone()).and_then(|p| match param {
                "Identity" => p.req("Identity").map(drop),
                "Enabled" => p.bool("Enabled").map(drop),
                "Count" => p.int("Count").map(drop),
                "When" => p.date("When").map(drop),
                _ => Ok(()),
            });
            assert_eq!(got, Err(want), "{raw}");
        }
    }

    fn bad(param: &'static str, why: &str) -> BindError {
        BindError::Bad {
            cmdlet: "Set-Thing".into(),
            param,
            why: why.into(),
        }
    }

    #[test]
    fn values_of_each_kind() {
        let p = bind(json!({"Identity": {"SipAddress": "sip:a@b"}, "Count": "42", "When": "2026-11-26T09:00:00Z", "Enabled": ""}))
            .unwrap();
        assert_eq!(p.req("Identity").unwrap(), "sip:a@b");
        assert_eq!(p.int("Count").unwrap(), Some(42));
        assert_eq!(p.date("When").unwrap(), Some(1_795_683_600));
        assert!(p.switch("Enabled").unwrap());
        let p = bind(json!({"Count": 7})).unwrap();
        assert_eq!(p.int("Count").unwrap(), Some(7));
    }

    #[test]
    fn dates_plain_and_with_time_numbers_refused() {
        let date = |v: Value| bind(json!({ "When": v })).and_then(|p| p.date("When"));
        // a plain ISO 8601 date is midnight UTC
        assert_eq!(date(json!("2026-11-27")), Ok(Some(1_795_737_600)));
        assert_eq!(date(json!(" 2026-11-27 ")), Ok(Some(1_795_737_600)));
        assert_eq!(date(json!("2026-11-26T09:00:00Z")), Ok(Some(1_795_683_600)));
        // no offset: UTC
        assert_eq!(date(json!("2026-11-26T09:00:00")), Ok(Some(1_795_683_600)));
        assert_eq!(date(json!("2026-11-26 09:00:00")), Ok(Some(1_795_683_600)));
        assert_eq!(date(json!("2026-11-26 09:00")), Ok(Some(1_795_683_600)));
        // Unix seconds are not a date, as text or as a number
        for v in [json!("1795683600"), json!(1_795_683_600), json!(5)] {
            let e = date(v.clone()).unwrap_err().to_string();
            assert!(e.contains("Unix seconds are not accepted"), "{v}: {e}");
            assert!(e.contains("Set-Thing: cannot bind parameter -When"), "{e}");
        }
        let e = date(json!("2026-13-01")).unwrap_err().to_string();
        assert!(
            e.contains("'2026-13-01' is not a date (use ISO 8601"),
            "{e}"
        );
        assert_eq!(date(Value::Null), Ok(None));
    }

    #[test]
    fn string_lists() {
        let list = |v: Value| bind(json!({ "Identity": v })).and_then(|p| p.strings("Identity"));
        assert_eq!(
            list(json!(["a", " b "])),
            Ok(Some(vec!["a".into(), "b".into()]))
        );
        assert_eq!(list(json!("a, b")), Ok(Some(vec!["a".into(), "b".into()])));
        assert_eq!(list(json!("a")), Ok(Some(vec!["a".into()])));
        assert_eq!(list(json!("")), Ok(Some(vec![])));
        assert_eq!(list(json!([])), Ok(Some(vec![])));
        assert_eq!(list(Value::Null), Ok(None));
        assert_eq!(
            list(json!("a,,b")),
            Err(bad(
                "Identity",
                "item 2 of the list is empty; remove the stray comma or empty string"
            ))
        );
        assert_eq!(
            list(json!(["a", {"x": 1}])),
            Err(bad("Identity", "item 2 is an object, not a string"))
        );
    }

    /// A multi-valued parameter: the whole list (what `strings` reads), or `@{Add; Remove}` as a
    /// JSON object (keys in any case, each a list or one string); anything else in the table is
    /// refused by name.
    #[test]
    fn multi_valued_lists_and_hashtables() {
        let mv = |v: Value| bind(json!({ "Identity": v })).and_then(|p| p.multi_valued("Identity"));
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            mv(json!(["a", "b"])),
            Ok(Some(MultiValued::Replace(s(&["a", "b"]))))
        );
        assert_eq!(
            mv(json!("a,b")),
            Ok(Some(MultiValued::Replace(s(&["a", "b"]))))
        );
        assert_eq!(mv(Value::Null), Ok(None));
        assert_eq!(
            mv(json!({"Add": ["a", "b"], "remove": "c"})),
            Ok(Some(MultiValued::Change {
                add: s(&["a", "b"]),
                remove: s(&["c"])
            }))
        );
        assert_eq!(
            mv(json!({"ADD": "a"})),
            Ok(Some(MultiValued::Change {
                add: s(&["a"]),
                remove: vec![]
            }))
        );
        let e = mv(json!({"Replace": ["a"]})).unwrap_err().to_string();
        assert!(e.contains("'Replace' is neither Add nor Remove"), "{e}");
        let e = mv(json!({})).unwrap_err().to_string();
        assert!(e.contains("adds and removes nothing"), "{e}");
        assert_eq!(
            mv(json!({"Add": ["a", 1.5, {"x": 1}]})),
            Err(bad(
                "Identity",
                "item 3 under Add is an object, not a string"
            ))
        );
        assert_eq!(
            mv(json!({"Remove": ["x".repeat(25)]})),
            Err(bad(
                "Identity",
                "item 1 under Remove is longer than 24 characters"
            ))
        );
    }
}
