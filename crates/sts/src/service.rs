//! The service's operations on tenants, service principals, key credentials, the first-party
//! registry and the signing keys. The HTTP handlers are thin wrappers over these; the lab and
//! tests may call them directly. Each mutating call is one transaction.

use std::sync::Arc;

use s2s_proto::principal::{
    ACS_APP_ID, EXCHANGE_APP_ID, SHAREPOINT_APP_ID, SKYPE_APP_ID, spn_covers,
};
use s2s_proto::{Certificate, KeyError, SigningKey};
use store::rusqlite::Connection;

use crate::Sts;
use crate::db::{self, CredKind, CredRow, SigningKeyRow, SpRow, Usage};
use crate::error::{StsError, clip};
use crate::model::{
    CredentialRow, FirstPartyCertificate, NewCredential, NewServicePrincipal, ServicePrincipal,
    SetServicePrincipal, SigningCertificateInfo, Tenant,
};
use crate::names::{self, from_unix};
use crate::secret::{SecretHash, new_guid};
use crate::snapshot::{SigningEntry, parse_signing_key};

/// STS signing certificates live two years...
const SIGNING_KEY_VALIDITY_SECS: i64 = 2 * 365 * 86_400;
/// ...start an hour before their creation (clock skew)...
const SIGNING_KEY_BACKDATE_SECS: i64 = 3600;
/// ...and are replaced by a new key this long before they expire.
const SIGNING_KEY_ROLL_BEFORE_SECS: i64 = 30 * 86_400;
/// Most key credentials on one service principal.
pub(crate) const MAX_CREDENTIALS: usize = 100;
/// Longest Symmetric/Password secret.
const MAX_SECRET_LEN: usize = 1024;
/// Longest base64 certificate value.
pub(crate) const MAX_CERT_B64_LEN: usize = 64 * 1024;
const MAX_DISPLAY_NAME: usize = 256;
const MAX_ADDRESSES: usize = 50;
const MAX_DOMAINS: usize = 50;
/// Default lifetime of a secret credential without EndDate.
const SECRET_DEFAULT_LIFETIME_SECS: i64 = 365 * 86_400;

/// The first-party service principals every tenant starts with:
/// (app id, display name, trusted for delegation, hosts of its ServicePrincipalNames).
const FIRST_PARTY: [(&str, &str, bool, &[&str]); 4] = [
    (
        ACS_APP_ID,
        "Microsoft Azure Access Control Service",
        false,
        &["accounts.accesscontrol.windows.net"],
    ),
    (
        EXCHANGE_APP_ID,
        "Office 365 Exchange Online",
        true,
        &["outlook.office365.com"],
    ),
    (
        SHAREPOINT_APP_ID,
        "Office 365 SharePoint Online",
        true,
        &["*.sharepoint.com"],
    ),
    (
        SKYPE_APP_ID,
        "Skype for Business Online",
        true,
        &["*.lync.com"],
    ),
];

/// Is `app_id` one of the built-in first-party applications?
pub(crate) fn is_builtin_first_party(app_id: &str) -> bool {
    FIRST_PARTY.iter().any(|(id, ..)| *id == app_id)
}

fn first_party_principals(realm: &str, sts_host: &str) -> Vec<SpRow> {
    FIRST_PARTY
        .iter()
        .map(|(app_id, name, tfd, hosts)| {
            let mut spns = vec![(*app_id).to_owned()];
            spns.extend(hosts.iter().map(|h| format!("{app_id}/{h}")));
            if *app_id == ACS_APP_ID {
                spns.push(format!("{app_id}/{sts_host}"));
            }
            SpRow {
                realm: realm.to_owned(),
                app_id: (*app_id).to_owned(),
                object_id: new_guid(),
                display_name: (*name).to_owned(),
                account_enabled: true,
                trusted_for_delegation: *tfd,
                spns,
                addresses: Vec::new(),
            }
        })
        .collect()
}

pub(crate) fn sp_model(sp: &SpRow) -> ServicePrincipal {
    ServicePrincipal {
        extension_data: Default::default(),
        account_enabled: sp.account_enabled,
        addresses: sp.addresses.clone(),
        app_principal_id: sp.app_id.clone(),
        display_name: sp.display_name.clone(),
        object_id: sp.object_id.clone(),
        service_principal_names: sp.spns.clone(),
        trusted_for_delegation: sp.trusted_for_delegation,
    }
}

pub(crate) fn cred_model(c: &CredRow, with_value: bool) -> CredentialRow {
    let value = match (&c.cert_der, with_value) {
        (Some(der), true) => s2s_proto::b64::std_encode(der),
        _ => String::new(),
    };
    CredentialRow {
        kind: c.kind.as_str().to_owned(),
        value,
        key_id: c.key_id.clone(),
        start_date: from_unix(c.start),
        end_date: from_unix(c.end),
        usage: c.usage.as_str().to_owned(),
    }
}

fn first_party_model(app_id: &str, cert: &Certificate) -> FirstPartyCertificate {
    FirstPartyCertificate {
        app_id: app_id.to_owned(),
        thumbprint: cert.thumbprint.clone(),
        subject: cert.subject.clone(),
        not_before: cert.not_before,
        not_after: cert.not_after,
    }
}

/// Resolves a realm or verified domain inside a transaction.
pub(crate) fn resolve_in(conn: &Connection, realm_or_domain: &str) -> Result<String, StsError> {
    db::resolve_realm(conn, realm_or_domain)?
        .ok_or_else(|| StsError::TenantNotFound(clip(realm_or_domain, 100)))
}

pub(crate) fn sp_in(conn: &Connection, realm: &str, app_id: &str) -> Result<SpRow, StsError> {
    db::sp(conn, realm, app_id)?.ok_or_else(|| StsError::ServicePrincipalNotFound {
        realm: realm.to_owned(),
        key: format!("with AppPrincipalId '{}'", clip(app_id, 60)),
    })
}

fn display_name(v: &str) -> Result<String, StsError> {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > MAX_DISPLAY_NAME || t.chars().any(char::is_control) {
        return Err(StsError::InvalidParameter {
            name: "DisplayName",
            reason: format!("a display name has 1 to {MAX_DISPLAY_NAME} printable characters"),
        });
    }
    Ok(t.to_owned())
}

fn addresses(v: &[String]) -> Result<Vec<String>, StsError> {
    if v.len() > MAX_ADDRESSES || v.iter().any(|a| a.is_empty() || a.len() > 2048) {
        return Err(StsError::InvalidParameter {
            name: "Addresses",
            reason: format!("at most {MAX_ADDRESSES} addresses of 1 to 2048 characters"),
        });
    }
    Ok(v.to_vec())
}

/// The validity window of a certificate credential: the given dates, each defaulting to the
/// certificate's own, and both inside the certificate's validity.
pub(crate) fn cert_window(
    cert: &Certificate,
    start: Option<i64>,
    end: Option<i64>,
    start_name: &'static str,
    end_name: &'static str,
) -> Result<(i64, i64), StsError> {
    let (nb, na) = (
        cert.not_before.unix_timestamp(),
        cert.not_after.unix_timestamp(),
    );
    let s = start.unwrap_or(nb);
    let e = end.unwrap_or(na);
    let outside = |name: &'static str, t: i64, what: &str| StsError::InvalidParameter {
        name,
        reason: format!(
            "{} lies outside the certificate's validity {}..{}; omit {name} to use the certificate's {what}",
            from_unix(t),
            cert.not_before,
            cert.not_after
        ),
    };
    if s < nb || s > na {
        return Err(outside(start_name, s, "NotBefore"));
    }
    if e > na || e < nb {
        return Err(outside(end_name, e, "NotAfter"));
    }
    if s >= e {
        return Err(StsError::InvalidParameter {
            name: end_name,
            reason: format!("{} is not after {}", from_unix(e), from_unix(s)),
        });
    }
    Ok((s, e))
}

/// Checks a New-MsolServicePrincipalCredential request and turns it into a row (hashing a
/// secret). Nothing is stored here.
pub(crate) fn prepare_credential(nc: &NewCredential, now: i64) -> Result<CredRow, StsError> {
    let kind = CredKind::parse(&nc.kind).ok_or_else(|| StsError::InvalidParameter {
        name: "Type",
        reason: format!(
            "{:?} is not a credential type; use Asymmetric, Symmetric or Password",
            clip(&nc.kind, 40)
        ),
    })?;
    let usage = match &nc.usage {
        None => Usage::Verify,
        Some(u) => Usage::parse(u).ok_or_else(|| StsError::InvalidParameter {
            name: "Usage",
            reason: format!("{:?} is not a key usage; use Verify or Sign", clip(u, 40)),
        })?,
    };
    let start = nc
        .start_date
        .as_deref()
        .map(|d| names::date("StartDate", d).map(|t| t.unix_timestamp()))
        .transpose()?;
    let end = nc
        .end_date
        .as_deref()
        .map(|d| names::date("EndDate", d).map(|t| t.unix_timestamp()))
        .transpose()?;
    let row = match kind {
        CredKind::Asymmetric => {
            if nc.value.len() > MAX_CERT_B64_LEN {
                return Err(StsError::InvalidCertificate {
                    param: "Value",
                    source: KeyError::NotX509(format!(
                        "the value has {} characters; a certificate has at most {MAX_CERT_B64_LEN}",
                        nc.value.len()
                    )),
                });
            }
            let cert = Certificate::from_base64(&nc.value).map_err(|source| {
                StsError::InvalidCertificate {
                    param: "Value",
                    source,
                }
            })?;
            let (s, e) = cert_window(&cert, start, end, "StartDate", "EndDate")?;
            CredRow {
                key_id: new_guid(),
                kind,
                usage,
                cert_der: Some(cert.der().to_vec()),
                thumbprint: Some(cert.thumbprint.clone()),
                secret: None,
                start: s,
                end: e,
                display_name: None,
            }
        }
        CredKind::Symmetric | CredKind::Password => {
            if nc.value.is_empty() || nc.value.len() > MAX_SECRET_LEN {
                return Err(StsError::InvalidParameter {
                    name: "Value",
                    reason: format!("a secret has 1 to {MAX_SECRET_LEN} characters"),
                });
            }
            let s = start.unwrap_or(now);
            let e = end.unwrap_or(s.saturating_add(SECRET_DEFAULT_LIFETIME_SECS));
            CredRow {
                key_id: new_guid(),
                kind,
                usage,
                cert_der: None,
                thumbprint: None,
                secret: Some(SecretHash::new(&nc.value)),
                start: s,
                end: e,
                display_name: None,
            }
        }
    };
    if row.start >= row.end {
        return Err(StsError::InvalidParameter {
            name: "EndDate",
            reason: format!(
                "EndDate {} is not after StartDate {}",
                from_unix(row.end),
                from_unix(row.start)
            ),
        });
    }
    Ok(row)
}

/// Stores a prepared credential; an Asymmetric certificate already on the principal with the same
/// usage is not stored twice: the existing row is returned with `false`.
pub(crate) fn add_credential_in(
    conn: &Connection,
    realm: &str,
    app_id: &str,
    row: CredRow,
    now: i64,
) -> Result<(CredRow, bool), StsError> {
    let existing = db::creds(conn, realm, app_id)?;
    if row.kind == CredKind::Asymmetric
        && let Some(e) = existing.iter().find(|e| {
            e.kind == CredKind::Asymmetric && e.usage == row.usage && e.thumbprint == row.thumbprint
        })
    {
        return Ok((e.clone(), false));
    }
    if existing.len() >= MAX_CREDENTIALS {
        return Err(StsError::InvalidParameter {
            name: "Value",
            reason: format!(
                "service principal '{app_id}' already has {MAX_CREDENTIALS} credentials; remove unused ones with Remove-MsolServicePrincipalCredential"
            ),
        });
    }
    db::insert_cred(conn, realm, app_id, &row, now)?;
    Ok((row, true))
}

impl Sts {
    /// Makes sure every tenant's `00000001` principal covers this STS's current host (the public
    /// URL may change between starts, e.g. an ephemeral lab port).
    pub(crate) fn ensure_sts_spns_blocking(&self) -> Result<(), StsError> {
        let host = self.inner.authority.clone();
        self.db().call_blocking(move |conn| {
            let tx = conn.transaction()?;
            for realm in db::realms(&tx)? {
                if let Some(mut sp) = db::sp(&tx, &realm, ACS_APP_ID)?
                    && !sp.spns.iter().any(|s| spn_covers(s, ACS_APP_ID, &host))
                {
                    sp.spns.push(format!("{ACS_APP_ID}/{host}"));
                    db::update_sp(&tx, &sp)?;
                }
            }
            tx.commit()?;
            Ok::<_, StsError>(())
        })
    }

    /// A new signing key for the tenant, stored as its active key (the previous one stays
    /// published until it expires).
    async fn store_new_signing_key(
        &self,
        realm: &str,
        now: i64,
    ) -> Result<SigningKeyRow, StsError> {
        let key = self.generate_signing_key(realm, now).await?;
        let (r, k) = (realm.to_owned(), key.clone());
        self.db()
            .call(move |conn| {
                let tx = conn.transaction()?;
                db::insert_signing_key(&tx, &r, &k, now)?;
                tx.commit()?;
                Ok::<_, StsError>(())
            })
            .await?;
        Ok(key)
    }

    async fn generate_signing_key(&self, realm: &str, now: i64) -> Result<SigningKeyRow, StsError> {
        let cn = format!("OpenHybrid STS {realm}");
        let nb = from_unix(now - SIGNING_KEY_BACKDATE_SECS);
        let na = from_unix(now + SIGNING_KEY_VALIDITY_SECS);
        let key =
            tokio::task::spawn_blocking(move || SigningKey::generate_self_signed(&cn, nb, na))
                .await
                .map_err(|_| {
                    StsError::Crypto(KeyError::Generate("the key generator stopped".into()))
                })?
                .map_err(StsError::Crypto)?;
        let cert = key.certificate();
        let row = SigningKeyRow {
            x5t: cert.x5t.clone(),
            cert_der: cert.der().to_vec(),
            pkcs8: key.pkcs8_der().to_vec(),
            not_before: cert.not_before.unix_timestamp(),
            not_after: cert.not_after.unix_timestamp(),
            created: now,
            active: true,
        };
        if let Ok(mut cache) = self.inner.signing_cache.lock() {
            cache.insert(row.x5t.clone(), Arc::new(key));
        }
        Ok(row)
    }

    fn tenant_model(&self, t: &db::TenantRow, keys: &[SigningKeyRow]) -> Tenant {
        let signing_certificates = keys
            .iter()
            .map(|k| SigningCertificateInfo {
                thumbprint: Certificate::from_der(&k.cert_der)
                    .map(|c| c.thumbprint)
                    .unwrap_or_default(),
                x5t: k.x5t.clone(),
                not_before: from_unix(k.not_before),
                not_after: from_unix(k.not_after),
                active: k.active,
            })
            .collect();
        Tenant {
            realm: t.realm.clone(),
            domains: t.domains.clone(),
            metadata_url: self.metadata_url(&t.realm),
            token_endpoint: self.token_endpoint(&t.realm),
            signing_certificates,
            created: from_unix(t.created),
        }
    }

    /// The realm (GUID) of a realm or verified domain.
    pub async fn resolve_realm(&self, realm_or_domain: &str) -> Result<String, StsError> {
        let x = realm_or_domain.to_owned();
        self.db().call(move |c| resolve_in(c, &x)).await
    }

    /// Creates a tenant with its verified domain, its own STS signing key and the first-party
    /// service principals. `realm` defaults to a new GUID.
    pub async fn create_tenant(
        &self,
        domain: &str,
        realm: Option<&str>,
    ) -> Result<Tenant, StsError> {
        let domain = names::domain(domain)?;
        let realm = match realm {
            Some(r) => names::require_guid("Realm", r)?,
            None => new_guid(),
        };
        let now = self.now();
        let key = self.generate_signing_key(&realm, now).await?;
        let sps = first_party_principals(&realm, &self.inner.authority);
        let r = realm.clone();
        self.db()
            .call(move |conn| {
                let tx = conn.transaction()?;
                if db::tenant(&tx, &r)?.is_some() {
                    return Err(StsError::TenantExists(r));
                }
                if let Some(owner) = db::domain_owner(&tx, &domain)? {
                    return Err(StsError::DomainTaken {
                        domain,
                        realm: owner,
                    });
                }
                db::insert_tenant(&tx, &r, now)?;
                db::insert_domain(&tx, &r, &domain)?;
                db::insert_signing_key(&tx, &r, &key, now)?;
                for sp in &sps {
                    db::insert_sp(&tx, sp)?;
                }
                tx.commit()?;
                Ok(())
            })
            .await?;
        tracing::info!(%realm, "tenant created");
        self.tenant(&realm).await
    }

    /// A tenant by realm or verified domain.
    pub async fn tenant(&self, realm_or_domain: &str) -> Result<Tenant, StsError> {
        let x = realm_or_domain.to_owned();
        let (t, keys) = self
            .db()
            .call(move |c| {
                let realm = resolve_in(c, &x)?;
                let t = db::tenant(c, &realm)?
                    .ok_or_else(|| StsError::TenantNotFound(realm.clone()))?;
                let keys = db::signing_keys(c, &realm)?;
                Ok::<_, StsError>((t, keys))
            })
            .await?;
        Ok(self.tenant_model(&t, &keys))
    }

    /// All tenants, oldest first.
    pub async fn tenants(&self) -> Result<Vec<Tenant>, StsError> {
        let rows = self
            .db()
            .call(move |c| {
                let mut out = Vec::new();
                for realm in db::realms(c)? {
                    if let Some(t) = db::tenant(c, &realm)? {
                        out.push((t, db::signing_keys(c, &realm)?));
                    }
                }
                Ok::<_, StsError>(out)
            })
            .await?;
        Ok(rows.iter().map(|(t, k)| self.tenant_model(t, k)).collect())
    }

    /// Adds a verified domain to a tenant (idempotent for a domain it already has).
    pub async fn add_domain(
        &self,
        realm_or_domain: &str,
        domain: &str,
    ) -> Result<Tenant, StsError> {
        let domain = names::domain(domain)?;
        let x = realm_or_domain.to_owned();
        let realm = self
            .db()
            .call(move |conn| {
                let tx = conn.transaction()?;
                let realm = resolve_in(&tx, &x)?;
                match db::domain_owner(&tx, &domain)? {
                    Some(owner) if owner == realm => return Ok(realm),
                    Some(owner) => {
                        return Err(StsError::DomainTaken {
                            domain,
                            realm: owner,
                        });
                    }
                    None => {}
                }
                let count = db::tenant(&tx, &realm)?.map_or(0, |t| t.domains.len());
                if count >= MAX_DOMAINS {
                    return Err(StsError::InvalidParameter {
                        name: "Domain",
                        reason: format!("a tenant has at most {MAX_DOMAINS} domains"),
                    });
                }
                db::insert_domain(&tx, &realm, &domain)?;
                tx.commit()?;
                Ok(realm)
            })
            .await?;
        self.tenant(&realm).await
    }

    /// Replaces the tenant's active signing key with a new one; the previous key stays in the
    /// metadata (and keeps validating tokens) until it expires.
    pub async fn roll_signing_key(&self, realm_or_domain: &str) -> Result<Tenant, StsError> {
        let realm = self.resolve_realm(realm_or_domain).await?;
        let now = self.now();
        self.store_new_signing_key(&realm, now).await?;
        tracing::info!(%realm, "signing key rolled over");
        self.tenant(&realm).await
    }

    /// The certificates of the tenant's signing keys that are valid now, the active one first.
    pub async fn signing_certificates(&self, realm: &str) -> Result<Vec<Certificate>, StsError> {
        let r = realm.to_owned();
        let now = self.now();
        let keys = self.db().call(move |c| db::signing_keys(c, &r)).await?;
        keys.iter()
            .filter(|k| k.not_after >= now)
            .map(|k| {
                Certificate::from_der(&k.cert_der)
                    .map_err(|_| StsError::CorruptData("signing_keys.cert_der".into()))
            })
            .collect()
    }

    /// The key new tokens are signed with, from the tenant's keys in the snapshot; rolled over
    /// automatically when it expires within 30 days (or already has).
    pub(crate) async fn active_signing_key(
        &self,
        realm: &str,
        keys: &[SigningEntry],
    ) -> Result<Arc<SigningKey>, StsError> {
        let now = self.now();
        let corrupt = || StsError::CorruptData("signing_keys.pkcs8".into());
        let usable = keys.iter().find(|k| {
            k.active
                && k.not_before <= now + s2s_proto::validate::DEFAULT_SKEW_SECS
                && now + SIGNING_KEY_ROLL_BEFORE_SECS < k.not_after
        });
        if let Some(k) = usable {
            return k.key.clone().ok_or_else(corrupt);
        }
        let key = self.store_new_signing_key(realm, now).await?;
        tracing::info!(%realm, "signing key rolled over automatically");
        parse_signing_key(&self.inner.signing_cache, &key).ok_or_else(corrupt)
    }

    // ---- first-party registry -------------------------------------------------------------------

    /// Registers a certificate a first-party application authenticates with at the token
    /// endpoint (idempotent). Global, not per tenant.
    pub async fn provision_first_party(
        &self,
        app_id: &str,
        cert: &Certificate,
    ) -> Result<FirstPartyCertificate, StsError> {
        let app_id = names::require_guid("appId", app_id)?;
        let now = self.now();
        let (a, thumb, der) = (app_id.clone(), cert.thumbprint.clone(), cert.der().to_vec());
        self.db()
            .call(move |conn| {
                let tx = conn.transaction()?;
                db::insert_first_party_cert(&tx, &a, &thumb, &der, now)?;
                tx.commit()?;
                Ok::<_, StsError>(())
            })
            .await?;
        tracing::info!(%app_id, thumbprint = %cert.thumbprint, "first-party certificate provisioned");
        Ok(first_party_model(&app_id, cert))
    }

    /// The registry certificates of a first-party application.
    pub async fn first_party_certificates(
        &self,
        app_id: &str,
    ) -> Result<Vec<FirstPartyCertificate>, StsError> {
        let app_id = names::require_guid("appId", app_id)?;
        let a = app_id.clone();
        let ders = self
            .db()
            .call(move |c| db::first_party_certs(c, &a))
            .await?;
        ders.iter()
            .map(|d| {
                Certificate::from_der(d)
                    .map(|c| first_party_model(&app_id, &c))
                    .map_err(|_| StsError::CorruptData("first_party_certificates.cert_der".into()))
            })
            .collect()
    }

    // ---- service principals (MSOnline) ----------------------------------------------------------

    /// Get-MsolServicePrincipal (all).
    pub async fn service_principals(&self, realm: &str) -> Result<Vec<ServicePrincipal>, StsError> {
        let x = realm.to_owned();
        let rows = self
            .db()
            .call(move |c| {
                let realm = resolve_in(c, &x)?;
                db::sps(c, &realm)
            })
            .await?;
        Ok(rows.iter().map(sp_model).collect())
    }

    /// Get-MsolServicePrincipal -AppPrincipalId.
    pub async fn service_principal(
        &self,
        realm: &str,
        app_id: &str,
    ) -> Result<ServicePrincipal, StsError> {
        let app_id = names::require_guid("AppPrincipalId", app_id)?;
        let x = realm.to_owned();
        let row = self
            .db()
            .call(move |c| {
                let realm = resolve_in(c, &x)?;
                sp_in(c, &realm, &app_id)
            })
            .await?;
        Ok(sp_model(&row))
    }

    /// Get-MsolServicePrincipal -ServicePrincipalName: an exact SPN entry or the bare app id
    /// (ignoring case).
    pub async fn service_principal_by_spn(
        &self,
        realm: &str,
        spn: &str,
    ) -> Result<ServicePrincipal, StsError> {
        let (x, spn) = (realm.to_owned(), spn.trim().to_owned());
        let row = self
            .db()
            .call(move |c| {
                let realm = resolve_in(c, &x)?;
                db::sps(c, &realm)?
                    .into_iter()
                    .find(|sp| {
                        sp.app_id.eq_ignore_ascii_case(&spn)
                            || sp.spns.iter().any(|s| s.eq_ignore_ascii_case(&spn))
                    })
                    .ok_or_else(|| StsError::ServicePrincipalNotFound {
                        realm,
                        key: format!("with ServicePrincipalName '{}'", clip(&spn, 100)),
                    })
            })
            .await?;
        Ok(sp_model(&row))
    }

    /// New-MsolServicePrincipal, with an optional first credential in the same transaction.
    pub async fn new_service_principal(
        &self,
        realm: &str,
        req: NewServicePrincipal,
    ) -> Result<ServicePrincipal, StsError> {
        let app_id = match &req.app_principal_id {
            Some(a) => names::require_guid("AppPrincipalId", a)?,
            None => new_guid(),
        };
        let display_name = display_name(&req.display_name)?;
        let spns = names::spn_list(
            &app_id,
            req.service_principal_names.as_deref().unwrap_or(&[]),
        )?;
        let addresses = addresses(req.addresses.as_deref().unwrap_or(&[]))?;
        let now = self.now();
        let cred = req
            .credential
            .as_ref()
            .map(|c| prepare_credential(c, now))
            .transpose()?;
        let x = realm.to_owned();
        let row = self
            .db()
            .call(move |conn| {
                let tx = conn.transaction()?;
                let realm = resolve_in(&tx, &x)?;
                if db::sp(&tx, &realm, &app_id)?.is_some() {
                    return Err(StsError::ServicePrincipalExists { app_id, realm });
                }
                let sp = SpRow {
                    realm: realm.clone(),
                    app_id: app_id.clone(),
                    object_id: new_guid(),
                    display_name,
                    account_enabled: req.account_enabled.unwrap_or(true),
                    trusted_for_delegation: false,
                    spns,
                    addresses,
                };
                db::insert_sp(&tx, &sp)?;
                if let Some(c) = cred {
                    add_credential_in(&tx, &realm, &app_id, c, now)?;
                }
                tx.commit()?;
                Ok(sp)
            })
            .await?;
        tracing::info!(realm = %row.realm, app_id = %row.app_id, "service principal created");
        Ok(sp_model(&row))
    }

    /// Set-MsolServicePrincipal: replaces the fields given. ServicePrincipalNames always keep
    /// the bare AppPrincipalId.
    pub async fn set_service_principal(
        &self,
        realm: &str,
        app_id: &str,
        req: SetServicePrincipal,
    ) -> Result<ServicePrincipal, StsError> {
        let app_id = names::require_guid("AppPrincipalId", app_id)?;
        let spns = req
            .service_principal_names
            .as_deref()
            .map(|v| names::spn_list(&app_id, v))
            .transpose()?;
        let dn = req.display_name.as_deref().map(display_name).transpose()?;
        let addrs = req.addresses.as_deref().map(addresses).transpose()?;
        let x = realm.to_owned();
        let row = self
            .db()
            .call(move |conn| {
                let tx = conn.transaction()?;
                let realm = resolve_in(&tx, &x)?;
                let mut sp = sp_in(&tx, &realm, &app_id)?;
                if let Some(s) = spns {
                    sp.spns = s;
                }
                if let Some(d) = dn {
                    sp.display_name = d;
                }
                if let Some(a) = addrs {
                    sp.addresses = a;
                }
                if let Some(e) = req.account_enabled {
                    sp.account_enabled = e;
                }
                db::update_sp(&tx, &sp)?;
                tx.commit()?;
                Ok::<_, StsError>(sp)
            })
            .await?;
        tracing::info!(realm = %row.realm, app_id = %row.app_id, "service principal changed");
        Ok(sp_model(&row))
    }

    /// Remove-MsolServicePrincipal (not for the built-in first-party principals).
    pub async fn remove_service_principal(
        &self,
        realm: &str,
        app_id: &str,
    ) -> Result<(), StsError> {
        let app_id = names::require_guid("AppPrincipalId", app_id)?;
        if is_builtin_first_party(&app_id) {
            return Err(StsError::FirstPartyPrincipalProtected { app_id });
        }
        let x = realm.to_owned();
        self.db()
            .call(move |conn| {
                let tx = conn.transaction()?;
                let realm = resolve_in(&tx, &x)?;
                sp_in(&tx, &realm, &app_id)?;
                db::delete_sp(&tx, &realm, &app_id)?;
                tx.commit()?;
                Ok(())
            })
            .await
    }

    // ---- key credentials (MSOnline) -------------------------------------------------------------

    /// New-MsolServicePrincipalCredential. Returns the row and whether it was created: uploading
    /// a certificate the principal already has with the same usage returns the existing KeyId
    /// (so setup scripts can re-run).
    pub async fn new_credential(
        &self,
        realm: &str,
        app_id: &str,
        req: NewCredential,
    ) -> Result<(CredentialRow, bool), StsError> {
        let app_id = names::require_guid("AppPrincipalId", app_id)?;
        let now = self.now();
        let x = realm.to_owned();
        let (row, created, realm) = self
            .db()
            .call(move |conn| {
                // the request is checked (and a secret hashed) before anything is written
                let row = prepare_credential(&req, now)?;
                let tx = conn.transaction()?;
                let realm = resolve_in(&tx, &x)?;
                sp_in(&tx, &realm, &app_id)?;
                let (row, created) = add_credential_in(&tx, &realm, &app_id, row, now)?;
                tx.commit()?;
                Ok::<_, StsError>((row, created, realm))
            })
            .await?;
        tracing::info!(
            %realm,
            key_id = %row.key_id,
            kind = row.kind.as_str(),
            usage = row.usage.as_str(),
            thumbprint = row.thumbprint.as_deref().unwrap_or(""),
            created,
            "key credential added"
        );
        Ok((cred_model(&row, false), created))
    }

    /// Get-MsolServicePrincipalCredential [-ReturnKeyValues].
    pub async fn credentials(
        &self,
        realm: &str,
        app_id: &str,
        return_key_values: bool,
    ) -> Result<Vec<CredentialRow>, StsError> {
        let app_id = names::require_guid("AppPrincipalId", app_id)?;
        let x = realm.to_owned();
        let rows = self
            .db()
            .call(move |c| {
                let realm = resolve_in(c, &x)?;
                sp_in(c, &realm, &app_id)?;
                db::creds(c, &realm, &app_id)
            })
            .await?;
        Ok(rows
            .iter()
            .map(|r| cred_model(r, return_key_values))
            .collect())
    }

    /// Remove-MsolServicePrincipalCredential -KeyIds.
    pub async fn remove_credential(
        &self,
        realm: &str,
        app_id: &str,
        key_id: &str,
    ) -> Result<(), StsError> {
        let app_id = names::require_guid("AppPrincipalId", app_id)?;
        let key_id = names::require_guid("KeyId", key_id)?;
        let x = realm.to_owned();
        self.db()
            .call(move |conn| {
                let tx = conn.transaction()?;
                let realm = resolve_in(&tx, &x)?;
                sp_in(&tx, &realm, &app_id)?;
                if !db::delete_cred(&tx, &realm, &app_id, &key_id)? {
                    return Err(StsError::CredentialNotFound { app_id, key_id });
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nc(kind: &str, usage: Option<&str>, value: &str) -> NewCredential {
        NewCredential {
            kind: kind.into(),
            usage: usage.map(Into::into),
            value: value.into(),
            start_date: None,
            end_date: None,
        }
    }

    #[test]
    fn first_party_principals_have_their_spns() {
        let sps = first_party_principals("r", "127.0.0.1:1");
        assert_eq!(sps.len(), 4);
        let acs = sps.iter().find(|s| s.app_id == ACS_APP_ID).unwrap();
        assert!(
            acs.spns
                .iter()
                .any(|s| spn_covers(s, ACS_APP_ID, "127.0.0.1:1"))
        );
        assert!(!acs.trusted_for_delegation);
        let exo = sps.iter().find(|s| s.app_id == EXCHANGE_APP_ID).unwrap();
        assert!(exo.spns.contains(&EXCHANGE_APP_ID.to_owned()));
        assert!(
            exo.spns
                .iter()
                .any(|s| spn_covers(s, EXCHANGE_APP_ID, "outlook.office365.com"))
        );
        assert!(exo.trusted_for_delegation);
        assert!(sps.iter().all(|s| names::guid(&s.object_id).is_some()));
    }

    #[test]
    fn credential_requests_are_checked() {
        let e = prepare_credential(&nc("x509", None, "AAAA"), 0).unwrap_err();
        assert!(
            matches!(e, StsError::InvalidParameter { name: "Type", .. }),
            "{e}"
        );
        let e = prepare_credential(&nc("Asymmetric", Some("Encrypt"), "AAAA"), 0).unwrap_err();
        assert!(
            matches!(e, StsError::InvalidParameter { name: "Usage", .. }),
            "{e}"
        );
        let e = prepare_credential(&nc("asymmetric", None, "not base64!"), 0).unwrap_err();
        assert!(matches!(e, StsError::InvalidCertificate { .. }), "{e}");
        let e = prepare_credential(&nc("Password", None, ""), 0).unwrap_err();
        assert!(
            matches!(e, StsError::InvalidParameter { name: "Value", .. }),
            "{e}"
        );
        let row = prepare_credential(&nc("symmetric", Some("sign"), "c2VjcmV0"), 1000).unwrap();
        assert_eq!((row.kind, row.usage), (CredKind::Symmetric, Usage::Sign));
        assert_eq!(
            (row.start, row.end),
            (1000, 1000 + SECRET_DEFAULT_LIFETIME_SECS)
        );
        assert!(row.secret.as_ref().unwrap().verify("c2VjcmV0"));
        let mut bad_dates = nc("Password", None, "pw");
        bad_dates.start_date = Some("2030-01-01".into());
        bad_dates.end_date = Some("2029-01-01".into());
        assert!(matches!(
            prepare_credential(&bad_dates, 0).unwrap_err(),
            StsError::InvalidParameter {
                name: "EndDate",
                ..
            }
        ));
    }
}
