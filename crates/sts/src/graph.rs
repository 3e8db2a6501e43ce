//! The Microsoft Graph form of step 5: find the service principal, read its keyCredentials,
//! replace them (PATCH) or add one with a proof of possession (addKey). Only asymmetric
//! (AsymmetricX509Cert) key credentials are visible or changeable here; MSOnline's Symmetric and
//! Password credentials are left alone.

use s2s_proto::principal::AAD_GRAPH_APP_ID;
use s2s_proto::{Certificate, ExpectedAudience, Policy, TrustedIssuer, validate_signed};

use crate::Sts;
use crate::db::{self, CredKind, CredRow, SpRow, Usage};
use crate::error::{StsError, clip};
use crate::model::{
    GraphAddKey, GraphKeyCredential, GraphKeyCredentialInput, GraphServicePrincipal,
};
use crate::names::{self, from_unix};
use crate::secret::new_guid;
use crate::service::{
    MAX_CERT_B64_LEN, MAX_CREDENTIALS, add_credential_in, cert_window, resolve_in,
};

const ASYMMETRIC_X509: &str = "AsymmetricX509Cert";
/// Longest lifetime of an addKey proof.
const MAX_PROOF_LIFETIME_SECS: i64 = 600;
const SELECTABLE: [&str; 7] = [
    "id",
    "appId",
    "appDisplayName",
    "displayName",
    "accountEnabled",
    "servicePrincipalNames",
    "keyCredentials",
];

/// A Graph `$filter` this service understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    AppId(String),
    DisplayName(String),
    ServicePrincipalName(String),
}

/// Parses `appId eq '…'`, `displayName eq '…'` and
/// `servicePrincipalNames/any(x:x eq '…')` (names and `eq` in any case; `''` escapes a quote).
pub(crate) fn parse_filter(f: &str) -> Result<Filter, StsError> {
    let unsupported = || {
        StsError::UnsupportedQuery(format!(
            "$filter {:?} is not supported; use appId eq '<appId>', displayName eq '<name>' or servicePrincipalNames/any(x:x eq '<spn>')",
            clip(f, 100)
        ))
    };
    let f = f.trim();
    let literal = |s: &str| -> Option<String> {
        let inner = s.trim().strip_prefix('\'')?.strip_suffix('\'')?;
        // a quote inside the literal is written twice; a lone one ends it early
        (!inner.replace("''", "").contains('\'')).then(|| inner.replace("''", "'"))
    };
    if let Some(rest) = f
        .get(..22)
        .filter(|p| p.eq_ignore_ascii_case("servicePrincipalNames/"))
        .map(|_| &f[22..])
    {
        // any(x:x eq '…')
        let body = rest
            .strip_prefix("any(")
            .and_then(|b| b.strip_suffix(')'))
            .ok_or_else(unsupported)?;
        let (var, cond) = body.split_once(':').ok_or_else(unsupported)?;
        let cond = cond.trim();
        let after_var = cond.strip_prefix(var.trim()).ok_or_else(unsupported)?;
        let after_eq = after_var
            .trim_start()
            .get(..3)
            .filter(|e| e.eq_ignore_ascii_case("eq "))
            .map(|_| &after_var.trim_start()[3..])
            .ok_or_else(unsupported)?;
        return literal(after_eq)
            .map(Filter::ServicePrincipalName)
            .ok_or_else(unsupported);
    }
    let mut parts = f.splitn(3, ' ');
    let (Some(prop), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(unsupported());
    };
    if !op.eq_ignore_ascii_case("eq") {
        return Err(unsupported());
    }
    let value = literal(value).ok_or_else(unsupported)?;
    if prop.eq_ignore_ascii_case("appId") {
        Ok(Filter::AppId(value))
    } else if prop.eq_ignore_ascii_case("displayName") {
        Ok(Filter::DisplayName(value))
    } else {
        Err(unsupported())
    }
}

/// Parses `$select` into the known property names (in Graph's spelling).
pub(crate) fn parse_select(s: &str) -> Result<Vec<&'static str>, StsError> {
    s.split(',')
        .map(|p| {
            let p = p.trim();
            SELECTABLE
                .iter()
                .find(|k| k.eq_ignore_ascii_case(p))
                .copied()
                .ok_or_else(|| {
                    StsError::UnsupportedQuery(format!(
                        "$select property {:?} is not known; use {}",
                        clip(p, 60),
                        SELECTABLE.join(", ")
                    ))
                })
        })
        .collect()
}

fn graph_key(c: &CredRow, with_key: bool) -> Option<GraphKeyCredential> {
    let der = c.cert_der.as_deref()?;
    let display_name = c
        .display_name
        .clone()
        .or_else(|| Certificate::from_der(der).ok().map(|cert| cert.subject));
    Some(GraphKeyCredential {
        custom_key_identifier: c.thumbprint.clone(),
        display_name,
        end_date_time: from_unix(c.end),
        key: with_key.then(|| s2s_proto::b64::std_encode(der)),
        key_id: c.key_id.clone(),
        start_date_time: from_unix(c.start),
        kind: ASYMMETRIC_X509.into(),
        usage: c.usage.as_str().into(),
    })
}

pub(crate) fn graph_sp(sp: &SpRow, creds: &[CredRow], with_key: bool) -> GraphServicePrincipal {
    GraphServicePrincipal {
        id: sp.object_id.clone(),
        app_id: sp.app_id.clone(),
        app_display_name: sp.display_name.clone(),
        display_name: sp.display_name.clone(),
        account_enabled: sp.account_enabled,
        service_principal_names: sp.spns.clone(),
        key_credentials: creds
            .iter()
            .filter(|c| c.kind == CredKind::Asymmetric)
            .filter_map(|c| graph_key(c, with_key))
            .collect(),
    }
}

/// Projects a service principal onto `$select`.
pub(crate) fn project(sp: &GraphServicePrincipal, select: &[&str]) -> serde_json::Value {
    let full = serde_json::to_value(sp).unwrap_or_default();
    match full {
        serde_json::Value::Object(map) if !select.is_empty() => serde_json::Value::Object(
            map.into_iter()
                .filter(|(k, _)| select.contains(&k.as_str()))
                .collect(),
        ),
        other => other,
    }
}

/// A keyCredential of a PATCH, checked.
enum Wanted {
    /// A key the principal has, named by keyId alone.
    Existing { key_id: String },
    /// A certificate, new or retained.
    Cert {
        cert: Box<Certificate>,
        usage: Usage,
        key_id: Option<String>,
        start: Option<i64>,
        end: Option<i64>,
        display_name: Option<String>,
    },
}

fn check_input(k: &GraphKeyCredentialInput, require_key: bool) -> Result<Wanted, StsError> {
    let key_id = k
        .key_id
        .as_deref()
        .map(|v| names::require_guid("keyCredentials.keyId", v))
        .transpose()?;
    let Some(key) = &k.key else {
        if require_key {
            return Err(StsError::MissingParameter("keyCredential.key"));
        }
        return match key_id {
            Some(key_id) => Ok(Wanted::Existing { key_id }),
            None => Err(StsError::InvalidParameter {
                name: "keyCredentials",
                reason: "each entry carries key, type and usage (or the keyId of a key the service principal has)".into(),
            }),
        };
    };
    match k.kind.as_deref() {
        Some(t) if t.eq_ignore_ascii_case(ASYMMETRIC_X509) => {}
        Some(t) => {
            return Err(StsError::InvalidParameter {
                name: "keyCredentials.type",
                reason: format!(
                    "{:?} is not supported; only {ASYMMETRIC_X509} key credentials are managed here",
                    clip(t, 40)
                ),
            });
        }
        None => return Err(StsError::MissingParameter("keyCredentials.type")),
    }
    let usage = match k.usage.as_deref() {
        Some(u) => Usage::parse(u).ok_or_else(|| StsError::InvalidParameter {
            name: "keyCredentials.usage",
            reason: format!("{:?} is not a key usage; use Verify or Sign", clip(u, 40)),
        })?,
        None => return Err(StsError::MissingParameter("keyCredentials.usage")),
    };
    if key.len() > MAX_CERT_B64_LEN {
        return Err(StsError::InvalidParameter {
            name: "keyCredentials.key",
            reason: format!("a certificate has at most {MAX_CERT_B64_LEN} base64 characters"),
        });
    }
    let cert = Certificate::from_base64(key).map_err(|source| StsError::InvalidCertificate {
        param: "keyCredentials.key",
        source,
    })?;
    let start = k
        .start_date_time
        .as_deref()
        .map(|d| names::date("keyCredentials.startDateTime", d).map(|t| t.unix_timestamp()))
        .transpose()?;
    let end = k
        .end_date_time
        .as_deref()
        .map(|d| names::date("keyCredentials.endDateTime", d).map(|t| t.unix_timestamp()))
        .transpose()?;
    let display_name = match &k.display_name {
        Some(d) if d.chars().count() > 256 || d.chars().any(char::is_control) => {
            return Err(StsError::InvalidParameter {
                name: "keyCredentials.displayName",
                reason: "a display name has at most 256 printable characters".into(),
            });
        }
        other => other.clone(),
    };
    Ok(Wanted::Cert {
        cert: Box::new(cert),
        usage,
        key_id,
        start,
        end,
        display_name,
    })
}

fn sp_by_id_in(
    conn: &store::rusqlite::Connection,
    realm: &str,
    id: &str,
) -> Result<SpRow, StsError> {
    db::sp_by_object_id(conn, realm, id)?.ok_or_else(|| StsError::ServicePrincipalNotFound {
        realm: realm.to_owned(),
        key: format!("with id '{}'", clip(id, 60)),
    })
}

impl Sts {
    /// `GET /v1.0/{realm}/servicePrincipals[?$filter=…]`.
    pub async fn graph_find_service_principals(
        &self,
        realm: &str,
        filter: Option<Filter>,
    ) -> Result<Vec<GraphServicePrincipal>, StsError> {
        let x = realm.to_owned();
        let rows = self
            .db()
            .call(move |c| {
                let realm = resolve_in(c, &x)?;
                let mut out = Vec::new();
                for sp in db::sps(c, &realm)? {
                    let keep = match &filter {
                        None => true,
                        Some(Filter::AppId(a)) => sp.app_id.eq_ignore_ascii_case(a),
                        Some(Filter::DisplayName(d)) => &sp.display_name == d,
                        Some(Filter::ServicePrincipalName(s)) => {
                            sp.spns.iter().any(|x| x.eq_ignore_ascii_case(s))
                        }
                    };
                    if keep {
                        let creds = db::creds(c, &realm, &sp.app_id)?;
                        out.push((sp, creds));
                    }
                }
                Ok::<_, StsError>(out)
            })
            .await?;
        Ok(rows.iter().map(|(sp, c)| graph_sp(sp, c, false)).collect())
    }

    /// `GET /v1.0/{realm}/servicePrincipals/{id}`; `with_key` returns the certificates.
    pub async fn graph_service_principal(
        &self,
        realm: &str,
        id: &str,
        with_key: bool,
    ) -> Result<GraphServicePrincipal, StsError> {
        let id = names::require_guid("id", id)?;
        let x = realm.to_owned();
        let (sp, creds) = self
            .db()
            .call(move |c| {
                let realm = resolve_in(c, &x)?;
                let sp = sp_by_id_in(c, &realm, &id)?;
                let creds = db::creds(c, &realm, &sp.app_id)?;
                Ok::<_, StsError>((sp, creds))
            })
            .await?;
        Ok(graph_sp(&sp, &creds, with_key))
    }

    /// `PATCH /v1.0/{realm}/servicePrincipals/{id}` with `keyCredentials`: the principal's
    /// asymmetric keys become exactly the ones listed. A listed certificate the principal already
    /// has (same certificate and usage, or same keyId) keeps its keyId.
    pub async fn graph_replace_key_credentials(
        &self,
        realm: &str,
        id: &str,
        inputs: Vec<GraphKeyCredentialInput>,
    ) -> Result<(), StsError> {
        let id = names::require_guid("id", id)?;
        if inputs.len() > MAX_CREDENTIALS {
            return Err(StsError::InvalidParameter {
                name: "keyCredentials",
                reason: format!("at most {MAX_CREDENTIALS} key credentials"),
            });
        }
        let wanted = inputs
            .iter()
            .map(|k| check_input(k, false))
            .collect::<Result<Vec<_>, _>>()?;
        let now = self.now();
        let x = realm.to_owned();
        self.db()
            .call(move |conn| {
                let tx = conn.transaction()?;
                let realm = resolve_in(&tx, &x)?;
                let sp = sp_by_id_in(&tx, &realm, &id)?;
                let existing: Vec<CredRow> = db::creds(&tx, &realm, &sp.app_id)?
                    .into_iter()
                    .filter(|c| c.kind == CredKind::Asymmetric)
                    .collect();
                // (row, is_new)
                let mut next: Vec<(CredRow, bool)> = Vec::new();
                for w in wanted {
                    let (row, is_new) = match w {
                        Wanted::Existing { key_id } => {
                            let row = existing
                                .iter()
                                .find(|c| c.key_id == key_id)
                                .cloned()
                                .ok_or_else(|| StsError::InvalidParameter {
                                    name: "keyCredentials.keyId",
                                    reason: format!(
                                        "the service principal has no key credential {key_id}; send key, type and usage to add a key"
                                    ),
                                })?;
                            (row, false)
                        }
                        Wanted::Cert {
                            cert,
                            usage,
                            key_id,
                            start,
                            end,
                            display_name,
                        } => {
                            let (s, e) = cert_window(
                                &cert,
                                start,
                                end,
                                "keyCredentials.startDateTime",
                                "keyCredentials.endDateTime",
                            )?;
                            let same = existing.iter().find(|c| match &key_id {
                                Some(k) => &c.key_id == k,
                                None => {
                                    c.usage == usage
                                        && c.thumbprint.as_deref() == Some(cert.thumbprint.as_str())
                                }
                            });
                            match same {
                                Some(old) if old.thumbprint.as_deref() == Some(cert.thumbprint.as_str()) => {
                                    let mut row = old.clone();
                                    row.usage = usage;
                                    if start.is_some() || end.is_some() {
                                        (row.start, row.end) = (s, e);
                                    }
                                    if display_name.is_some() {
                                        row.display_name = display_name;
                                    }
                                    (row, false)
                                }
                                Some(_) => {
                                    return Err(StsError::InvalidParameter {
                                        name: "keyCredentials.keyId",
                                        reason: "the keyId names a key credential holding a different certificate".into(),
                                    });
                                }
                                None => {
                                    let key_id = match key_id {
                                        Some(k) if db::key_id_exists(&tx, &k)? => {
                                            return Err(StsError::InvalidParameter {
                                                name: "keyCredentials.keyId",
                                                reason: format!("keyId {k} is already in use"),
                                            });
                                        }
                                        Some(k) => k,
                                        None => new_guid(),
                                    };
                                    (
                                        CredRow {
                                            key_id,
                                            kind: CredKind::Asymmetric,
                                            usage,
                                            cert_der: Some(cert.der().to_vec()),
                                            thumbprint: Some(cert.thumbprint.clone()),
                                            secret: None,
                                            start: s,
                                            end: e,
                                            display_name,
                                        },
                                        true,
                                    )
                                }
                            }
                        }
                    };
                    if next.iter().any(|(n, _)| {
                        n.key_id == row.key_id
                            || (n.usage == row.usage && n.thumbprint == row.thumbprint)
                    }) {
                        return Err(StsError::InvalidParameter {
                            name: "keyCredentials",
                            reason: "the same key credential (keyId, or certificate and usage) is listed twice".into(),
                        });
                    }
                    next.push((row, is_new));
                }
                for old in &existing {
                    if !next.iter().any(|(n, _)| n.key_id == old.key_id) {
                        db::delete_cred(&tx, &realm, &sp.app_id, &old.key_id)?;
                    }
                }
                for (row, is_new) in &next {
                    if *is_new {
                        db::insert_cred(&tx, &realm, &sp.app_id, row, now)?;
                    } else {
                        db::update_cred_meta(&tx, &row.key_id, row.start, row.end, row.display_name.as_deref())?;
                        tx.execute(
                            "UPDATE key_credentials SET usage = ?2 WHERE key_id = ?1",
                            (&row.key_id, row.usage.as_str()),
                        )?;
                    }
                }
                let total = db::creds(&tx, &realm, &sp.app_id)?.len();
                if total > MAX_CREDENTIALS {
                    return Err(StsError::InvalidParameter {
                        name: "keyCredentials",
                        reason: format!("the service principal would have more than {MAX_CREDENTIALS} credentials"),
                    });
                }
                tx.commit()?;
                tracing::info!(%realm, app_id = %sp.app_id, keys = next.len(), "keyCredentials replaced");
                Ok(())
            })
            .await
    }

    /// `POST /v1.0/{realm}/servicePrincipals/{id}/addKey`: adds a certificate, proven by a JWT
    /// signed with a currently valid certificate of the same principal.
    pub async fn graph_add_key(
        &self,
        realm: &str,
        id: &str,
        req: GraphAddKey,
    ) -> Result<GraphKeyCredential, StsError> {
        let id = names::require_guid("id", id)?;
        if req
            .password_credential
            .as_ref()
            .is_some_and(|v| !v.is_null())
        {
            return Err(StsError::InvalidParameter {
                name: "passwordCredential",
                reason: "must be null: addKey adds certificates here; register secrets with New-MsolServicePrincipalCredential".into(),
            });
        }
        let Wanted::Cert {
            cert,
            usage,
            start,
            end,
            display_name,
            ..
        } = check_input(&req.key_credential, true)?
        else {
            return Err(StsError::MissingParameter("keyCredential.key"));
        };
        let (s, e) = cert_window(
            &cert,
            start,
            end,
            "keyCredential.startDateTime",
            "keyCredential.endDateTime",
        )?;
        let now = self.now();
        let x = realm.to_owned();
        let i = id.clone();
        let (sp, creds) = self
            .db()
            .call(move |c| {
                let realm = resolve_in(c, &x)?;
                let sp = sp_by_id_in(c, &realm, &i)?;
                let creds = db::creds(c, &realm, &sp.app_id)?;
                Ok::<_, StsError>((sp, creds))
            })
            .await?;
        let keys: Vec<_> = creds
            .iter()
            .filter(|c| c.kind == CredKind::Asymmetric && c.valid_at(now))
            .filter_map(|c| {
                c.cert_der
                    .as_deref()
                    .and_then(|d| Certificate::from_der(d).ok())
            })
            .filter(|c| c.valid_at(now, 0))
            .map(|c| c.verify_key())
            .collect();
        if keys.is_empty() {
            return Err(StsError::NoProofKey { object_id: id });
        }
        let mut policy = Policy::new(
            ExpectedAudience::Exact(vec![AAD_GRAPH_APP_ID.into()]),
            None,
            vec![TrustedIssuer {
                issuer: sp.object_id.clone(),
                keys,
            }],
        );
        policy.max_lifetime_secs = Some(MAX_PROOF_LIFETIME_SECS);
        validate_signed(&req.proof, &policy, now).map_err(StsError::InvalidProof)?;
        let row = CredRow {
            key_id: new_guid(),
            kind: CredKind::Asymmetric,
            usage,
            cert_der: Some(cert.der().to_vec()),
            thumbprint: Some(cert.thumbprint.clone()),
            secret: None,
            start: s,
            end: e,
            display_name,
        };
        let (realm, app_id) = (sp.realm.clone(), sp.app_id.clone());
        let row = self
            .db()
            .call(move |conn| {
                let tx = conn.transaction()?;
                let (row, _) = add_credential_in(&tx, &realm, &app_id, row, now)?;
                tx.commit()?;
                Ok::<_, StsError>(row)
            })
            .await?;
        tracing::info!(app_id = %sp.app_id, key_id = %row.key_id, "key added with proof of possession");
        graph_key(&row, false)
            .ok_or_else(|| StsError::CorruptData("key_credentials.cert_der".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let a = "00000004-0000-0ff1-ce00-000000000000";
        assert_eq!(
            parse_filter(&format!("appId eq '{a}'")).unwrap(),
            Filter::AppId(a.into())
        );
        assert_eq!(
            parse_filter(&format!("AppId EQ '{a}'")).unwrap(),
            Filter::AppId(a.into())
        );
        assert_eq!(
            parse_filter("displayName eq 'O''Brien app'").unwrap(),
            Filter::DisplayName("O'Brien app".into())
        );
        assert_eq!(
            parse_filter(&format!("servicePrincipalNames/any(x:x eq '{a}')")).unwrap(),
            Filter::ServicePrincipalName(a.into())
        );
        for bad in [
            "appId ne 'x'",
            "appId eq x",
            "startswith(displayName,'a')",
            "appId eq 'x' or appId eq 'y'",
            "",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn selects() {
        assert_eq!(
            parse_select("keyCredentials, ID").unwrap(),
            vec!["keyCredentials", "id"]
        );
        assert!(parse_select("passwordCredentials").is_err());
    }
}
