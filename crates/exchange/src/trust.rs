//! The OAuth trust: the certificate store and AuthConfig (the auth certificate and its
//! rollover), auth servers (an STS's metadata), partner applications, and the snapshot of all of
//! it that the request path validates against.

use s2s_proto::principal::EXCHANGE_APP_ID;
use s2s_proto::wire::AcsMetadata;
use s2s_proto::{Certificate, ExpectedAudience, Policy, SigningKey, TrustedIssuer};
use store::rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;

use crate::error::ExchangeError;
use crate::org::{AuthConfigView, AuthServer, ExchangeCertificate, Org, PartnerApplication, iso};

pub const AUTH_CERT_SUBJECT: &str = "Microsoft Exchange Server Auth Certificate";
/// Validity of a generated auth certificate: 5 years.
pub const AUTH_CERT_DAYS: i64 = 5 * 365;

/// Generates a self-signed RSA-2048 certificate and stores it with its private key.
pub fn new_certificate(
    c: &Connection,
    subject_cn: &str,
    friendly: &str,
    services: &str,
    now: i64,
) -> Result<ExchangeCertificate, ExchangeError> {
    let nb = OffsetDateTime::from_unix_timestamp(now - 60)
        .map_err(|e| ExchangeError::Invalid(e.to_string()))?;
    let na = nb + time::Duration::days(AUTH_CERT_DAYS);
    let key = SigningKey::generate_self_signed(subject_cn, nb, na)?;
    let cert = key.certificate();
    c.execute(
        "INSERT INTO certificates (thumbprint, der, pkcs8, friendly_name, services, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![cert.thumbprint, cert.der(), key.pkcs8_der(), friendly, services, now],
    )?;
    get_certificate(c, &cert.thumbprint, now)
}

fn cert_view(
    cert: &Certificate,
    friendly: String,
    services: String,
    has_key: bool,
    now: i64,
) -> ExchangeCertificate {
    ExchangeCertificate {
        thumbprint: cert.thumbprint.clone(),
        subject: cert.subject.clone(),
        issuer: cert.issuer.clone(),
        not_before: iso(cert.not_before.unix_timestamp()),
        not_after: iso(cert.not_after.unix_timestamp()),
        services,
        friendly_name: friendly,
        has_private_key: has_key,
        serial_number: cert.serial_hex.clone(),
        status: if cert.valid_at(now, 0) {
            "Valid"
        } else if now > cert.not_after.unix_timestamp() {
            "DateInvalid"
        } else {
            "Invalid"
        },
    }
}

fn normalize_thumbprint(t: &str) -> String {
    t.chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect::<String>()
        .to_uppercase()
}

pub fn get_certificate(
    c: &Connection,
    thumbprint: &str,
    now: i64,
) -> Result<ExchangeCertificate, ExchangeError> {
    let t = normalize_thumbprint(thumbprint);
    let row = c
        .query_row(
            "SELECT der, pkcs8 IS NOT NULL, COALESCE(friendly_name, ''), services FROM certificates WHERE thumbprint = ?1",
            [&t],
            |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, bool>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)),
        )
        .optional()?
        .ok_or_else(|| ExchangeError::NotFound(format!("certificate with thumbprint {t}")))?;
    let cert = Certificate::from_der(&row.0)?;
    Ok(cert_view(&cert, row.2, row.3, row.1, now))
}

pub fn list_certificates(
    c: &Connection,
    now: i64,
) -> Result<Vec<ExchangeCertificate>, ExchangeError> {
    let mut st = c.prepare("SELECT thumbprint FROM certificates ORDER BY created")?;
    let ts: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    ts.iter().map(|t| get_certificate(c, t, now)).collect()
}

pub fn certificate_der(c: &Connection, thumbprint: &str) -> Result<Vec<u8>, ExchangeError> {
    let t = normalize_thumbprint(thumbprint);
    c.query_row(
        "SELECT der FROM certificates WHERE thumbprint = ?1",
        [&t],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| ExchangeError::NotFound(format!("certificate with thumbprint {t}")))
}

pub fn signing_key(c: &Connection, thumbprint: &str) -> Result<SigningKey, ExchangeError> {
    let t = normalize_thumbprint(thumbprint);
    let (der, key): (Vec<u8>, Option<Vec<u8>>) = c
        .query_row(
            "SELECT der, pkcs8 FROM certificates WHERE thumbprint = ?1",
            [&t],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| ExchangeError::NotFound(format!("certificate with thumbprint {t}")))?;
    let key = key.ok_or_else(|| {
        ExchangeError::Invalid(format!("certificate {t} has no private key on this server"))
    })?;
    Ok(SigningKey::from_pkcs8(&key, &der)?)
}

// ---------- AuthConfig ----------

pub fn ensure_auth_config(c: &Connection, now: i64) -> Result<(), ExchangeError> {
    let exists: Option<i64> = c
        .query_row("SELECT id FROM auth_config", [], |r| r.get(0))
        .optional()?;
    if exists.is_none() {
        let cert = new_certificate(c, AUTH_CERT_SUBJECT, AUTH_CERT_SUBJECT, "SMTP", now)?;
        c.execute(
            "INSERT INTO auth_config (id, current_thumbprint, service_name) VALUES (1, ?1, ?2)",
            params![cert.thumbprint, EXCHANGE_APP_ID],
        )?;
    }
    Ok(())
}

struct AuthConfigRow {
    current: Option<String>,
    previous: Option<String>,
    next: Option<String>,
    next_effective: Option<i64>,
    service_name: String,
    realm: String,
}

fn auth_config_row(c: &Connection) -> Result<AuthConfigRow, ExchangeError> {
    Ok(c.query_row(
        "SELECT current_thumbprint, previous_thumbprint, next_thumbprint, next_effective, service_name, realm FROM auth_config WHERE id = 1",
        [],
        |r| {
            Ok(AuthConfigRow {
                current: r.get(0)?,
                previous: r.get(1)?,
                next: r.get(2)?,
                next_effective: r.get(3)?,
                service_name: r.get(4)?,
                realm: r.get(5)?,
            })
        },
    )?)
}

pub fn get_auth_config(c: &Connection) -> Result<AuthConfigView, ExchangeError> {
    let a = auth_config_row(c)?;
    Ok(AuthConfigView {
        name: "Auth Configuration",
        current_certificate_thumbprint: a.current,
        previous_certificate_thumbprint: a.previous,
        next_certificate_thumbprint: a.next,
        new_certificate_effective_date: a.next_effective.map(iso),
        service_name: a.service_name,
        realm: a.realm,
    })
}

/// The thumbprint Exchange signs outbound tokens with now: the next certificate once its
/// effective date has passed, else the current one.
pub fn signing_thumbprint(c: &Connection, now: i64) -> Result<Option<String>, ExchangeError> {
    let a = auth_config_row(c)?;
    if let (Some(next), Some(eff)) = (&a.next, a.next_effective)
        && now >= eff
    {
        return Ok(Some(next.clone()));
    }
    Ok(a.current)
}

/// Set-AuthConfig's parameter sets.
#[derive(Debug, Default)]
pub struct SetAuthConfig {
    pub certificate_thumbprint: Option<String>,
    pub new_certificate_thumbprint: Option<String>,
    pub new_certificate_effective_date: Option<i64>,
    pub publish_certificate: bool,
    pub clear_previous_certificate: bool,
    pub realm: Option<String>,
    pub service_name: Option<String>,
}

pub fn set_auth_config(
    c: &Connection,
    p: SetAuthConfig,
    now: i64,
) -> Result<AuthConfigView, ExchangeError> {
    if let Some(r) = &p.realm
        && !r.is_empty()
        && uuid::Uuid::parse_str(r).is_err()
    {
        return Err(ExchangeError::Invalid(format!(
            "-Realm '{}' is not a tenant realm: give the tenant's id (a GUID, as the auth server's metadata shows it), or '' to take the realm from the auth server",
            r.chars().take(100).collect::<String>()
        )));
    }
    if let Some(s) = &p.service_name
        && uuid::Uuid::parse_str(s).is_err()
    {
        return Err(ExchangeError::Invalid(format!(
            "-ServiceName '{}' is not an application id (a GUID); Exchange's is 00000002-0000-0ff1-ce00-000000000000",
            s.chars().take(100).collect::<String>()
        )));
    }
    let require_key = |t: &str| -> Result<String, ExchangeError> {
        let t = normalize_thumbprint(t);
        signing_key(c, &t)?;
        Ok(t)
    };
    if let Some(t) = &p.certificate_thumbprint {
        let t = require_key(t)?;
        c.execute("UPDATE auth_config SET previous_thumbprint = current_thumbprint, current_thumbprint = ?1 WHERE id = 1", [&t])?;
    }
    if let Some(t) = &p.new_certificate_thumbprint {
        let t = require_key(t)?;
        // published at once, the certificate is effective now
        let eff = p
            .new_certificate_effective_date
            .or(p.publish_certificate.then_some(now))
            .ok_or(ExchangeError::MissingParameter {
                cmdlet: "Set-AuthConfig".into(),
                param: "NewCertificateEffectiveDate",
            })?;
        c.execute(
            "UPDATE auth_config SET next_thumbprint = ?1, next_effective = ?2 WHERE id = 1",
            params![t, eff],
        )?;
    }
    if let (None, Some(eff)) = (
        &p.new_certificate_thumbprint,
        p.new_certificate_effective_date,
    ) {
        // a new date for the next certificate already named
        if auth_config_row(c)?.next.is_none() {
            return Err(ExchangeError::Invalid(
                "-NewCertificateEffectiveDate dates the next certificate, and there is none: give -NewCertificateThumbprint <thumbprint> too".into(),
            ));
        }
        c.execute(
            "UPDATE auth_config SET next_effective = ?1 WHERE id = 1",
            [eff],
        )?;
    }
    if p.publish_certificate {
        let a = auth_config_row(c)?;
        let Some(next) = a.next else {
            return Err(ExchangeError::Invalid(
                "there is no next certificate to publish; first run Set-AuthConfig -NewCertificateThumbprint <thumbprint> -NewCertificateEffectiveDate (Get-Date)".into(),
            ));
        };
        c.execute(
            "UPDATE auth_config SET previous_thumbprint = current_thumbprint, current_thumbprint = ?1, next_thumbprint = NULL, next_effective = NULL WHERE id = 1",
            [next],
        )?;
    }
    if p.clear_previous_certificate {
        c.execute(
            "UPDATE auth_config SET previous_thumbprint = NULL WHERE id = 1",
            [],
        )?;
    }
    if let Some(r) = &p.realm {
        c.execute("UPDATE auth_config SET realm = ?1 WHERE id = 1", [r])?;
    }
    if let Some(s) = &p.service_name {
        c.execute("UPDATE auth_config SET service_name = ?1 WHERE id = 1", [s])?;
    }
    get_auth_config(c)
}

// ---------- AuthServer / PartnerApplication ----------

/// What an auth server's metadata told us.
#[derive(Debug, Clone)]
pub struct FetchedMetadata {
    pub issuer: String,
    pub realm: String,
    pub token_endpoint: String,
    pub certificates: Vec<Certificate>,
}

/// Most bytes read of an auth server's or partner's metadata document.
pub const MAX_METADATA_BYTES: usize = 1 << 20;

pub async fn fetch_metadata(
    http: &reqwest::Client,
    url: &str,
) -> Result<FetchedMetadata, ExchangeError> {
    let err = |why: String| ExchangeError::Metadata {
        url: url.to_owned(),
        why,
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(err("the URL must start with http:// or https://".into()));
    }
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| err(format!("request failed: {e}")))?;
    if !resp.status().is_success() {
        return Err(err(format!("HTTP {}", resp.status())));
    }
    let body = tlskit::read_capped(resp, MAX_METADATA_BYTES)
        .await
        .map_err(|e| err(e.to_string()))?;
    let md = AcsMetadata::parse(&body).map_err(|e| err(e.to_string()))?;
    let certificates = md.signing_certificates().map_err(|e| err(e.to_string()))?;
    let token_endpoint = md.token_endpoint().unwrap_or("").to_owned();
    Ok(FetchedMetadata {
        issuer: md.issuer,
        realm: md.realm,
        token_endpoint,
        certificates,
    })
}

fn certs_json(certs: &[Certificate]) -> String {
    serde_json::to_string(&certs.iter().map(|c| c.to_base64()).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into())
}

fn certs_from_json(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn auth_server_from_row(r: &Row) -> store::rusqlite::Result<AuthServer> {
    let name: String = r.get("name")?;
    let issuer: String = r.get("issuer")?;
    Ok(AuthServer {
        identity: name.clone(),
        name,
        kind: r.get("type")?,
        auth_metadata_url: r.get("metadata_url")?,
        enabled: r.get("enabled")?,
        is_default_authorization_endpoint: r.get("is_default")?,
        domain_name: r.get("domain_name")?,
        issuer_identifier: issuer.split('@').next().unwrap_or("").to_owned(),
        realm: r.get("realm")?,
        token_issuing_endpoint: r.get("token_endpoint")?,
        certificate_strings: certs_from_json(&r.get::<_, String>("certificates")?),
        last_refreshed: iso(r.get("refreshed")?),
        guid: r.get("guid")?,
    })
}

pub struct NewAuthServer {
    pub name: String,
    pub kind: String,
    pub metadata_url: String,
    pub enabled: bool,
    pub domain_name: Option<String>,
    pub is_default: bool,
}

pub fn insert_auth_server(
    c: &Connection,
    p: &NewAuthServer,
    md: &FetchedMetadata,
    now: i64,
) -> Result<AuthServer, ExchangeError> {
    let exists: Option<String> = c
        .query_row(
            "SELECT guid FROM auth_servers WHERE name = ?1",
            [&p.name],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_some() {
        return Err(ExchangeError::AlreadyExists(format!(
            "auth server '{}'",
            p.name
        )));
    }
    c.execute(
        "INSERT INTO auth_servers (guid, name, type, metadata_url, enabled, is_default, domain_name, issuer, realm, token_endpoint, certificates, refreshed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            uuid::Uuid::new_v4().to_string(),
            p.name,
            p.kind,
            p.metadata_url,
            p.enabled,
            p.is_default,
            p.domain_name,
            md.issuer,
            md.realm,
            md.token_endpoint,
            certs_json(&md.certificates),
            now
        ],
    )?;
    get_auth_server(c, &p.name)
}

pub fn update_auth_server_metadata(
    c: &Connection,
    name: &str,
    md: &FetchedMetadata,
    now: i64,
) -> Result<(), ExchangeError> {
    c.execute(
        "UPDATE auth_servers SET issuer = ?1, realm = ?2, token_endpoint = ?3, certificates = ?4, refreshed = ?5 WHERE name = ?6",
        params![md.issuer, md.realm, md.token_endpoint, certs_json(&md.certificates), now, name],
    )?;
    Ok(())
}

pub fn get_auth_server(c: &Connection, name: &str) -> Result<AuthServer, ExchangeError> {
    c.query_row(
        "SELECT * FROM auth_servers WHERE name = ?1 OR guid = ?1",
        [name],
        auth_server_from_row,
    )
    .optional()?
    .ok_or_else(|| ExchangeError::NotFound(format!("auth server '{name}'")))
}

pub fn list_auth_servers(c: &Connection) -> Result<Vec<AuthServer>, ExchangeError> {
    let mut st = c.prepare("SELECT * FROM auth_servers ORDER BY name")?;
    let rows = st.query_map([], auth_server_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn set_auth_server_enabled(
    c: &Connection,
    name: &str,
    enabled: bool,
) -> Result<(), ExchangeError> {
    if c.execute(
        "UPDATE auth_servers SET enabled = ?1 WHERE name = ?2 OR guid = ?2",
        params![enabled, name],
    )? == 0
    {
        return Err(ExchangeError::NotFound(format!("auth server '{name}'")));
    }
    Ok(())
}

pub fn remove_auth_server(c: &Connection, name: &str) -> Result<(), ExchangeError> {
    if c.execute(
        "DELETE FROM auth_servers WHERE name = ?1 OR guid = ?1",
        [name],
    )? == 0
    {
        return Err(ExchangeError::NotFound(format!("auth server '{name}'")));
    }
    Ok(())
}

fn partner_from_row(
    r: &Row,
    linked_identity: Option<String>,
) -> store::rusqlite::Result<PartnerApplication> {
    let name: String = r.get("name")?;
    let metadata_url: String = r.get("metadata_url")?;
    Ok(PartnerApplication {
        identity: name.clone(),
        name,
        enabled: r.get("enabled")?,
        application_identifier: r.get("app_id")?,
        certificate_strings: certs_from_json(&r.get::<_, String>("certificates")?),
        use_auth_server: metadata_url.is_empty(),
        auth_metadata_url: metadata_url,
        realm: r.get("realm")?,
        accept_security_identifier_information: r.get("accept_sid")?,
        linked_account: linked_identity,
        issuer_identifier: r.get("issuer")?,
        app_only_permissions: vec![],
        act_as_permissions: vec![],
        account_type: r.get("account_type")?,
        guid: r.get("guid")?,
    })
}

#[derive(Debug, Default)]
pub struct PartnerParams {
    pub name: Option<String>,
    pub app_id: Option<String>,
    pub realm: Option<String>,
    pub metadata_url: Option<String>,
    pub enabled: Option<bool>,
    pub linked_account: Option<String>,
    pub accept_sid: Option<bool>,
    pub account_type: Option<String>,
}

pub fn upsert_partner(
    org: &Org,
    c: &Connection,
    existing: Option<&str>,
    p: PartnerParams,
    md: Option<&FetchedMetadata>,
) -> Result<PartnerApplication, ExchangeError> {
    let linked_guid = match &p.linked_account {
        Some(l) if !l.is_empty() => {
            let r = org.get_recipient(c, l)?;
            if r.is_group() {
                return Err(ExchangeError::WrongRecipientType {
                    identity: l.clone(),
                    found: r.recipient_type,
                    expected: "user (a linked account is a mail user or mailbox)",
                });
            }
            Some(r.guid)
        }
        _ => None,
    };
    if let Some(a) = &p.app_id
        && uuid::Uuid::parse_str(a).is_err()
    {
        return Err(ExchangeError::Invalid(format!(
            "-ApplicationIdentifier '{a}' is not a GUID"
        )));
    }
    if let Some(t) = &p.account_type
        && !["OrganizationalAccount", "ConsumerAccount"].contains(&t.as_str())
    {
        return Err(ExchangeError::Invalid(format!(
            "-AccountType '{t}' must be OrganizationalAccount or ConsumerAccount"
        )));
    }
    let name = match existing {
        None => {
            let name = p.name.clone().ok_or(ExchangeError::MissingParameter {
                cmdlet: "New-PartnerApplication".into(),
                param: "Name",
            })?;
            let app_id = p
                .app_id
                .clone()
                .or_else(|| md.map(|m| m.issuer.split('@').next().unwrap_or("").to_owned()));
            let Some(app_id) = app_id.filter(|a| !a.is_empty()) else {
                return Err(ExchangeError::MissingParameter {
                    cmdlet: "New-PartnerApplication".into(),
                    param: "ApplicationIdentifier",
                });
            };
            let exists: Option<String> = c
                .query_row(
                    "SELECT guid FROM partner_apps WHERE name = ?1",
                    [&name],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_some() {
                return Err(ExchangeError::AlreadyExists(format!(
                    "partner application '{name}'"
                )));
            }
            c.execute(
                "INSERT INTO partner_apps (guid, name, app_id, enabled) VALUES (?1, ?2, ?3, 0)",
                params![uuid::Uuid::new_v4().to_string(), name, app_id],
            )?;
            name
        }
        Some(id) => get_partner(org, c, id)?.name,
    };
    // one partner application per ApplicationIdentifier: the request path finds the partner by it
    let app_id: String = c.query_row(
        "SELECT app_id FROM partner_apps WHERE name = ?1",
        [&name],
        |r| r.get(0),
    )?;
    let app_id = p.app_id.clone().unwrap_or(app_id);
    let other: Option<String> = c
        .query_row(
            "SELECT name FROM partner_apps WHERE lower(app_id) = lower(?1) AND name <> ?2 ORDER BY name LIMIT 1",
            params![app_id, name],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(existing) = other {
        return Err(ExchangeError::DuplicateApplicationIdentifier { app_id, existing });
    }
    if let Some(a) = &p.app_id {
        c.execute(
            "UPDATE partner_apps SET app_id = ?1 WHERE name = ?2",
            params![a, name],
        )?;
    }
    if let Some(r) = &p.realm {
        c.execute(
            "UPDATE partner_apps SET realm = ?1 WHERE name = ?2",
            params![r, name],
        )?;
    }
    if let Some(e) = p.enabled {
        c.execute(
            "UPDATE partner_apps SET enabled = ?1 WHERE name = ?2",
            params![e, name],
        )?;
    }
    if p.linked_account.is_some() {
        c.execute(
            "UPDATE partner_apps SET linked_account = ?1 WHERE name = ?2",
            params![linked_guid, name],
        )?;
    }
    if let Some(s) = p.accept_sid {
        c.execute(
            "UPDATE partner_apps SET accept_sid = ?1 WHERE name = ?2",
            params![s, name],
        )?;
    }
    if let Some(t) = &p.account_type {
        c.execute(
            "UPDATE partner_apps SET account_type = ?1 WHERE name = ?2",
            params![t, name],
        )?;
    }
    if let (Some(url), Some(md)) = (&p.metadata_url, md) {
        c.execute(
            "UPDATE partner_apps SET metadata_url = ?1, issuer = ?2, certificates = ?3, realm = CASE WHEN realm = '' THEN ?4 ELSE realm END WHERE name = ?5",
            params![url, md.issuer, certs_json(&md.certificates), md.realm, name],
        )?;
    }
    get_partner(org, c, &name)
}

pub fn get_partner(
    org: &Org,
    c: &Connection,
    id: &str,
) -> Result<PartnerApplication, ExchangeError> {
    let row = c
        .query_row(
            "SELECT p.*, r.name AS linked_name FROM partner_apps p LEFT JOIN recipients r ON r.guid = p.linked_account
             WHERE p.name = ?1 OR p.guid = ?1 OR p.app_id = ?1 LIMIT 1",
            [id],
            |r| {
                let linked: Option<String> = r.get("linked_name")?;
                partner_from_row(r, linked.map(|n| format!("{}/Users/{n}", org.domain_for_identity)))
            },
        )
        .optional()?;
    row.ok_or_else(|| ExchangeError::NotFound(format!("partner application '{id}'")))
}

pub fn list_partners(org: &Org, c: &Connection) -> Result<Vec<PartnerApplication>, ExchangeError> {
    let mut st = c.prepare("SELECT name FROM partner_apps ORDER BY name")?;
    let names: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    names.iter().map(|n| get_partner(org, c, n)).collect()
}

pub fn remove_partner(c: &Connection, id: &str) -> Result<(), ExchangeError> {
    if c.execute(
        "DELETE FROM partner_apps WHERE name = ?1 OR guid = ?1",
        [id],
    )? == 0
    {
        return Err(ExchangeError::NotFound(format!(
            "partner application '{id}'"
        )));
    }
    Ok(())
}

/// Partner application as the request path needs it.
#[derive(Debug, Clone)]
pub struct PartnerTrust {
    pub name: String,
    pub app_id: String,
    pub realm: String,
    pub enabled: bool,
    pub linked_account_guid: Option<String>,
    pub accept_sid: bool,
    /// For partners with their own metadata: the issuer of their self-signed tokens.
    pub own_issuer: Option<String>,
}

/// Everything the request path validates against, rebuilt whenever the trust changes.
#[derive(Debug, Clone)]
pub struct TrustSnapshot {
    pub generation: u64,
    /// The tenant realm (AuthConfig.Realm, else the enabled auth servers').
    pub realm: Option<String>,
    pub policy: Option<Policy>,
    pub partners: Vec<PartnerTrust>,
    /// `trusted_issuers` for the 401 challenge.
    pub trusted_issuers: Vec<String>,
    pub authorization_uri: String,
    /// Enabled auth servers by issuer, with their metadata URL, for refresh on unknown x5t.
    pub auth_servers: Vec<(String, String, String)>,
}

/// The longest lifetime (exp − nbf) accepted for an actor (or outer) token, whoever signed it: an
/// auth server issues at most 24 hours (the token service's ceiling; its default is one hour)
/// with nbf back-dated by the 5-minute clock skew, and a partner signing its own tokens gets no
/// longer (spec/security.md, CVE-2025-53786).
pub const MAX_ACCEPTED_TOKEN_LIFETIME_SECS: i64 = 86_400 + s2s_proto::validate::DEFAULT_SKEW_SECS;

pub fn build_snapshot(
    c: &Connection,
    hosts: &[String],
    generation: u64,
) -> Result<TrustSnapshot, ExchangeError> {
    let cfg = auth_config_row(c)?;
    let servers = list_auth_servers(c)?;
    let mut issuers = Vec::new();
    let mut trusted = Vec::new();
    let mut realm = (!cfg.realm.is_empty()).then(|| cfg.realm.clone());
    let mut auth_servers = Vec::new();
    let mut authorization_uri = String::new();
    for s in servers.iter().filter(|s| s.enabled) {
        let issuer = format!("{}@{}", s.issuer_identifier, s.realm);
        let keys = s
            .certificate_strings
            .iter()
            .filter_map(|b| Certificate::from_base64(b).ok())
            .map(|c| c.verify_key())
            .collect();
        issuers.push(TrustedIssuer {
            issuer: issuer.clone(),
            keys,
        });
        trusted.push(issuer.clone());
        realm.get_or_insert_with(|| s.realm.clone());
        if authorization_uri.is_empty() {
            authorization_uri = s
                .token_issuing_endpoint
                .replace("/tokens/OAuth/2", "/oauth2/authorize");
        }
        auth_servers.push((issuer, s.name.clone(), s.auth_metadata_url.clone()));
    }
    let mut partners = Vec::new();
    let mut st = c.prepare("SELECT name, app_id, realm, enabled, linked_account, accept_sid, issuer, certificates, metadata_url FROM partner_apps")?;
    let rows = st.query_map([], |r| {
        Ok((
            PartnerTrust {
                name: r.get(0)?,
                app_id: r.get(1)?,
                realm: r.get(2)?,
                enabled: r.get(3)?,
                linked_account_guid: r.get(4)?,
                accept_sid: r.get(5)?,
                own_issuer: None,
            },
            r.get::<_, String>(6)?,
            r.get::<_, String>(7)?,
            r.get::<_, String>(8)?,
        ))
    })?;
    for row in rows {
        let (mut p, issuer, certs, url) = row?;
        if !url.is_empty() && !issuer.is_empty() {
            if p.enabled {
                let keys = certs_from_json(&certs)
                    .iter()
                    .filter_map(|b| Certificate::from_base64(b).ok())
                    .map(|c| c.verify_key())
                    .collect();
                issuers.push(TrustedIssuer {
                    issuer: issuer.clone(),
                    keys,
                });
            }
            p.own_issuer = Some(issuer);
        }
        if p.enabled
            && let Some(r) = realm.as_ref().or((!p.realm.is_empty()).then_some(&p.realm))
        {
            trusted.push(format!("{}@{}", p.app_id, r));
        }
        partners.push(p);
    }
    let policy = realm.as_ref().map(|r| {
        let mut p = Policy::new(
            ExpectedAudience::Service {
                app_id: cfg.service_name.clone(),
                hosts: hosts.to_vec(),
                realm: r.clone(),
            },
            Some(r.clone()),
            issuers,
        );
        p.max_lifetime_secs = Some(MAX_ACCEPTED_TOKEN_LIFETIME_SECS);
        p
    });
    Ok(TrustSnapshot {
        generation,
        realm,
        policy,
        partners,
        trusted_issuers: trusted,
        authorization_uri,
        auth_servers,
    })
}
