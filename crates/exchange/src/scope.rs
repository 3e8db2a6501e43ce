//! Management scopes: which recipients a role assignment reaches. The filter language is the
//! subset of Exchange's OPATH recipient filters that scoping impersonation needs:
//! `Property -eq 'value'` or `Property -like 'pattern'` (`*` wildcards), joined by `-and` / `-or`
//! (evaluated left to right, `-and` binding tighter), optionally in braces. Properties:
//! PrimarySmtpAddress, Name, Alias, UserPrincipalName. Comparison ignores ASCII case.

use crate::org::Recipient;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Eq,
    Like,
}

#[derive(Debug, Clone, PartialEq)]
struct Term {
    prop: String,
    op: Op,
    value: String,
}

/// A parsed filter: OR of ANDs of terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(Vec<Vec<Term>>);

const PROPS: [&str; 4] = ["PrimarySmtpAddress", "Name", "Alias", "UserPrincipalName"];

fn tokens(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' || c == '"' {
            chars.next();
            let mut v = String::new();
            loop {
                match chars.next() {
                    Some(q) if q == c => break,
                    Some(x) => v.push(x),
                    None => return Err("a quoted value is not closed".into()),
                }
            }
            out.push(format!("'{v}"));
        } else {
            let mut w = String::new();
            while let Some(&x) = chars.peek() {
                if x.is_whitespace() || x == '\'' || x == '"' {
                    break;
                }
                w.push(x);
                chars.next();
            }
            out.push(w);
        }
    }
    Ok(out)
}

impl Filter {
    pub fn parse(src: &str) -> Result<Filter, String> {
        if src.len() > 4096 {
            return Err("the filter is longer than 4096 characters".into());
        }
        let s = src
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .trim();
        let toks = tokens(s)?;
        let mut ors = vec![Vec::new()];
        let mut i = 0;
        while i < toks.len() {
            let prop = PROPS
                .iter()
                .find(|p| p.eq_ignore_ascii_case(&toks[i]))
                .ok_or_else(|| {
                    format!(
                        "'{}' is not a supported property; use one of {}",
                        toks[i],
                        PROPS.join(", ")
                    )
                })?;
            let op = match toks.get(i + 1).map(|t| t.to_ascii_lowercase()) {
                Some(o) if o == "-eq" => Op::Eq,
                Some(o) if o == "-like" => Op::Like,
                other => {
                    return Err(format!(
                        "expected -eq or -like after {prop}, found {}",
                        other.unwrap_or_else(|| "the end".into())
                    ));
                }
            };
            let value = match toks.get(i + 2) {
                Some(v) if v.starts_with('\'') => v[1..].to_owned(),
                _ => return Err(format!("expected a quoted value after {prop}")),
            };
            if let Some(last) = ors.last_mut() {
                last.push(Term {
                    prop: prop.to_string(),
                    op,
                    value,
                });
            }
            i += 3;
            match toks.get(i).map(|t| t.to_ascii_lowercase()) {
                None => break,
                Some(j) if j == "-and" => i += 1,
                Some(j) if j == "-or" => {
                    ors.push(Vec::new());
                    i += 1;
                }
                Some(other) => return Err(format!("expected -and or -or, found '{other}'")),
            }
            if i >= toks.len() {
                return Err("the filter ends with -and or -or".into());
            }
        }
        if ors.iter().any(Vec::is_empty) {
            return Err("the filter is empty".into());
        }
        Ok(Filter(ors))
    }

    pub fn matches(&self, r: &Recipient) -> bool {
        self.0.iter().any(|all| {
            all.iter().all(|t| {
                let v = match t.prop.as_str() {
                    "PrimarySmtpAddress" => r.primary_smtp_address.clone().unwrap_or_default(),
                    "Name" => r.name.clone(),
                    "Alias" => r.alias.clone(),
                    _ => r.user_principal_name.clone().unwrap_or_default(),
                };
                match t.op {
                    Op::Eq => v.eq_ignore_ascii_case(&t.value),
                    Op::Like => like(&v.to_ascii_lowercase(), &t.value.to_ascii_lowercase()),
                }
            })
        })
    }
}

/// `*` matches any run of characters.
fn like(v: &str, pat: &str) -> bool {
    let parts: Vec<&str> = pat.split('*').collect();
    if parts.len() == 1 {
        return v == pat;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !v.starts_with(first) || !v.ends_with(last) || v.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &v[first.len()..v.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(smtp: &str, name: &str) -> Recipient {
        Recipient {
            identity: name.into(),
            name: name.into(),
            alias: name.into(),
            recipient_type: "UserMailbox".into(),
            recipient_type_details: "UserMailbox".into(),
            primary_smtp_address: Some(smtp.into()),
            external_email_address: None,
            user_principal_name: Some(smtp.into()),
            sip_address: None,
            hidden_from_address_lists_enabled: false,
            account_disabled: false,
            guid: "g".into(),
            exchange_guid: "g".into(),
            sid: "s".into(),
            netid: None,
            when_created: String::new(),
            email_addresses: vec![],
            group_type: None,
            mail_tip: None,
        }
    }

    #[test]
    fn filters() {
        let f = Filter::parse(
            "{PrimarySmtpAddress -like '*@sales.contoso.example' -or Name -eq 'Bob'}",
        )
        .unwrap();
        assert!(f.matches(&r("ann@sales.contoso.example", "Ann")));
        assert!(f.matches(&r("bob@contoso.example", "bob")));
        assert!(!f.matches(&r("alice@contoso.example", "Alice")));
        let g =
            Filter::parse("Name -like 'a*e' -and PrimarySmtpAddress -eq 'alice@contoso.example'")
                .unwrap();
        assert!(g.matches(&r("alice@contoso.example", "Alice")));
        assert!(!g.matches(&r("anne@contoso.example", "Anne")));
        for bad in [
            "",
            "Department -eq 'x'",
            "Name -gt 'x'",
            "Name -eq x",
            "Name -eq 'x' -or",
            "Name -eq 'x' Alias",
            "Name -eq 'x",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
        assert!(like("abc", "a*c") && like("ac", "a*c") && !like("ab", "a*c") && like("x", "*"));
    }
}
