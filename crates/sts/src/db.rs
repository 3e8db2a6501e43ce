//! The STS schema and its queries. Plain functions over a connection or a transaction: the
//! callers in [`crate::service`] run each API call as one transaction.

use store::Migration;
use store::rusqlite::{Connection, OptionalExtension, params};

use crate::error::StsError;
use crate::secret::SecretHash;

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: r#"
CREATE TABLE tenants (
    realm   TEXT PRIMARY KEY,
    created INTEGER NOT NULL
) STRICT;

CREATE TABLE domains (
    domain   TEXT PRIMARY KEY,
    realm    TEXT NOT NULL REFERENCES tenants(realm) ON DELETE CASCADE,
    position INTEGER NOT NULL
) STRICT;

-- One STS signing key per tenant at a time ("active"); rolled-over keys stay until they expire.
CREATE TABLE signing_keys (
    realm      TEXT NOT NULL REFERENCES tenants(realm) ON DELETE CASCADE,
    x5t        TEXT NOT NULL,
    cert_der   BLOB NOT NULL,
    pkcs8      BLOB NOT NULL,
    not_before INTEGER NOT NULL,
    not_after  INTEGER NOT NULL,
    created    INTEGER NOT NULL,
    active     INTEGER NOT NULL,
    PRIMARY KEY (realm, x5t)
) STRICT;

CREATE TABLE service_principals (
    realm                  TEXT NOT NULL REFERENCES tenants(realm) ON DELETE CASCADE,
    app_id                 TEXT NOT NULL,
    object_id              TEXT NOT NULL UNIQUE,
    display_name           TEXT NOT NULL,
    account_enabled        INTEGER NOT NULL,
    trusted_for_delegation INTEGER NOT NULL,
    spns                   TEXT NOT NULL, -- JSON array of strings
    addresses              TEXT NOT NULL, -- JSON array of strings
    PRIMARY KEY (realm, app_id)
) STRICT;

-- Key credentials of tenant service principals. Asymmetric rows carry the certificate;
-- Symmetric/Password rows carry only a salted PBKDF2 hash of the secret.
CREATE TABLE key_credentials (
    key_id            TEXT PRIMARY KEY,
    realm             TEXT NOT NULL,
    app_id            TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('Asymmetric', 'Symmetric', 'Password')),
    usage             TEXT NOT NULL CHECK (usage IN ('Verify', 'Sign')),
    cert_der          BLOB,
    thumbprint        TEXT,
    secret_salt       BLOB,
    secret_iterations INTEGER,
    secret_hash       BLOB,
    start_date        INTEGER NOT NULL,
    end_date          INTEGER NOT NULL,
    display_name      TEXT,
    created           INTEGER NOT NULL,
    FOREIGN KEY (realm, app_id) REFERENCES service_principals(realm, app_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX key_credentials_sp ON key_credentials(realm, app_id);

-- The first-party application registry: global, provisioned by the services themselves.
CREATE TABLE first_party_certificates (
    app_id     TEXT NOT NULL,
    thumbprint TEXT NOT NULL,
    cert_der   BLOB NOT NULL,
    created    INTEGER NOT NULL,
    PRIMARY KEY (app_id, thumbprint)
) STRICT;

-- Client-assertion jti values seen, kept until the assertion could no longer be valid.
CREATE TABLE used_assertions (
    issuer  TEXT NOT NULL,
    jti     TEXT NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
) STRICT;
CREATE INDEX used_assertions_expires ON used_assertions(expires);
"#,
}];

/// The replay store (a file of its own, `replay.sqlite`): spent client-assertion `jti`s.
pub(crate) const REPLAY_MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: r#"
CREATE TABLE used_assertions (
    issuer  TEXT NOT NULL,
    jti     TEXT NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
) STRICT;
CREATE INDEX used_assertions_expires ON used_assertions(expires);
"#,
}];

// ---- rows --------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub(crate) struct TenantRow {
    pub realm: String,
    pub created: i64,
    pub domains: Vec<String>,
}

#[derive(Clone)]
pub(crate) struct SigningKeyRow {
    pub x5t: String,
    pub cert_der: Vec<u8>,
    pub pkcs8: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub created: i64,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpRow {
    pub realm: String,
    pub app_id: String,
    pub object_id: String,
    pub display_name: String,
    pub account_enabled: bool,
    pub trusted_for_delegation: bool,
    pub spns: Vec<String>,
    pub addresses: Vec<String>,
}

/// `Type` of a key credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CredKind {
    Asymmetric,
    Symmetric,
    Password,
}

impl CredKind {
    pub fn parse(s: &str) -> Option<CredKind> {
        [
            CredKind::Asymmetric,
            CredKind::Symmetric,
            CredKind::Password,
        ]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CredKind::Asymmetric => "Asymmetric",
            CredKind::Symmetric => "Symmetric",
            CredKind::Password => "Password",
        }
    }
}

/// `Usage` of a key credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage {
    Verify,
    Sign,
}

impl Usage {
    pub fn parse(s: &str) -> Option<Usage> {
        [Usage::Verify, Usage::Sign]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Usage::Verify => "Verify",
            Usage::Sign => "Sign",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CredRow {
    pub key_id: String,
    pub kind: CredKind,
    pub usage: Usage,
    pub cert_der: Option<Vec<u8>>,
    pub thumbprint: Option<String>,
    pub secret: Option<SecretHash>,
    pub start: i64,
    pub end: i64,
    pub display_name: Option<String>,
}

impl CredRow {
    pub fn valid_at(&self, now: i64) -> bool {
        self.start <= now && now <= self.end
    }
}

fn corrupt(what: &str) -> StsError {
    StsError::CorruptData(what.to_owned())
}

fn json_list(s: &str, what: &str) -> Result<Vec<String>, StsError> {
    serde_json::from_str(s).map_err(|_| corrupt(what))
}

fn to_json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".to_owned())
}

// ---- tenants -----------------------------------------------------------------------------------

use crate::names::TenantKey;

pub(crate) fn resolve_realm(
    conn: &Connection,
    realm_or_domain: &str,
) -> Result<Option<String>, StsError> {
    let (sql, key) = match crate::names::tenant_key(realm_or_domain) {
        TenantKey::Realm(g) => ("SELECT realm FROM tenants WHERE realm = ?1", g),
        TenantKey::Domain(d) => ("SELECT realm FROM domains WHERE domain = ?1", d),
    };
    Ok(conn.query_row(sql, [&key], |r| r.get(0)).optional()?)
}

pub(crate) fn tenant(conn: &Connection, realm: &str) -> Result<Option<TenantRow>, StsError> {
    let created: Option<i64> = conn
        .query_row(
            "SELECT created FROM tenants WHERE realm = ?1",
            [realm],
            |r| r.get(0),
        )
        .optional()?;
    let Some(created) = created else {
        return Ok(None);
    };
    let mut stmt = conn.prepare("SELECT domain FROM domains WHERE realm = ?1 ORDER BY position")?;
    let domains = stmt
        .query_map([realm], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(Some(TenantRow {
        realm: realm.to_owned(),
        created,
        domains,
    }))
}

pub(crate) fn realms(conn: &Connection) -> Result<Vec<String>, StsError> {
    let mut stmt = conn.prepare("SELECT realm FROM tenants ORDER BY created, realm")?;
    let v = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(v)
}

pub(crate) fn insert_tenant(conn: &Connection, realm: &str, created: i64) -> Result<(), StsError> {
    conn.execute(
        "INSERT INTO tenants (realm, created) VALUES (?1, ?2)",
        params![realm, created],
    )?;
    Ok(())
}

pub(crate) fn domain_owner(conn: &Connection, domain: &str) -> Result<Option<String>, StsError> {
    Ok(conn
        .query_row(
            "SELECT realm FROM domains WHERE domain = ?1",
            [domain],
            |r| r.get(0),
        )
        .optional()?)
}

pub(crate) fn insert_domain(conn: &Connection, realm: &str, domain: &str) -> Result<(), StsError> {
    conn.execute(
        "INSERT INTO domains (domain, realm, position)
         VALUES (?1, ?2, (SELECT COUNT(*) FROM domains WHERE realm = ?2))",
        params![domain, realm],
    )?;
    Ok(())
}

// ---- signing keys ------------------------------------------------------------------------------

/// The tenant's signing keys, the active one first, then newest first.
pub(crate) fn signing_keys(conn: &Connection, realm: &str) -> Result<Vec<SigningKeyRow>, StsError> {
    let mut stmt = conn.prepare(
        "SELECT x5t, cert_der, pkcs8, not_before, not_after, created, active
         FROM signing_keys WHERE realm = ?1 ORDER BY active DESC, created DESC, x5t",
    )?;
    let v = stmt
        .query_map([realm], |r| {
            Ok(SigningKeyRow {
                x5t: r.get(0)?,
                cert_der: r.get(1)?,
                pkcs8: r.get(2)?,
                not_before: r.get(3)?,
                not_after: r.get(4)?,
                created: r.get(5)?,
                active: r.get::<_, i64>(6)? != 0,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(v)
}

/// Stores a new active key; the previous keys become inactive, expired ones are dropped.
pub(crate) fn insert_signing_key(
    conn: &Connection,
    realm: &str,
    key: &SigningKeyRow,
    now: i64,
) -> Result<(), StsError> {
    conn.execute(
        "UPDATE signing_keys SET active = 0 WHERE realm = ?1",
        [realm],
    )?;
    conn.execute(
        "DELETE FROM signing_keys WHERE realm = ?1 AND not_after < ?2",
        params![realm, now],
    )?;
    conn.execute(
        "INSERT INTO signing_keys (realm, x5t, cert_der, pkcs8, not_before, not_after, created, active)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)",
        params![
            realm,
            key.x5t,
            key.cert_der,
            key.pkcs8,
            key.not_before,
            key.not_after,
            key.created
        ],
    )?;
    Ok(())
}

// ---- service principals ------------------------------------------------------------------------

const SP_COLUMNS: &str = "realm, app_id, object_id, display_name, account_enabled, trusted_for_delegation, spns, addresses";

fn sp_from_row(r: &store::rusqlite::Row<'_>) -> store::rusqlite::Result<(SpRow, String, String)> {
    Ok((
        SpRow {
            realm: r.get(0)?,
            app_id: r.get(1)?,
            object_id: r.get(2)?,
            display_name: r.get(3)?,
            account_enabled: r.get::<_, i64>(4)? != 0,
            trusted_for_delegation: r.get::<_, i64>(5)? != 0,
            spns: Vec::new(),
            addresses: Vec::new(),
        },
        r.get(6)?,
        r.get(7)?,
    ))
}

fn finish_sp((mut sp, spns, addresses): (SpRow, String, String)) -> Result<SpRow, StsError> {
    sp.spns = json_list(&spns, "service_principals.spns")?;
    sp.addresses = json_list(&addresses, "service_principals.addresses")?;
    Ok(sp)
}

pub(crate) fn sp(conn: &Connection, realm: &str, app_id: &str) -> Result<Option<SpRow>, StsError> {
    conn.query_row(
        &format!("SELECT {SP_COLUMNS} FROM service_principals WHERE realm = ?1 AND app_id = ?2"),
        [realm, app_id],
        sp_from_row,
    )
    .optional()?
    .map(finish_sp)
    .transpose()
}

pub(crate) fn sp_by_object_id(
    conn: &Connection,
    realm: &str,
    object_id: &str,
) -> Result<Option<SpRow>, StsError> {
    conn.query_row(
        &format!("SELECT {SP_COLUMNS} FROM service_principals WHERE realm = ?1 AND object_id = ?2"),
        [realm, object_id],
        sp_from_row,
    )
    .optional()?
    .map(finish_sp)
    .transpose()
}

pub(crate) fn sps(conn: &Connection, realm: &str) -> Result<Vec<SpRow>, StsError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {SP_COLUMNS} FROM service_principals WHERE realm = ?1 ORDER BY app_id"
    ))?;
    let raw = stmt
        .query_map([realm], sp_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    raw.into_iter().map(finish_sp).collect()
}

pub(crate) fn insert_sp(conn: &Connection, sp: &SpRow) -> Result<(), StsError> {
    conn.execute(
        &format!(
            "INSERT INTO service_principals ({SP_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ),
        params![
            sp.realm,
            sp.app_id,
            sp.object_id,
            sp.display_name,
            sp.account_enabled as i64,
            sp.trusted_for_delegation as i64,
            to_json(&sp.spns),
            to_json(&sp.addresses)
        ],
    )?;
    Ok(())
}

pub(crate) fn update_sp(conn: &Connection, sp: &SpRow) -> Result<(), StsError> {
    conn.execute(
        "UPDATE service_principals
         SET display_name = ?3, account_enabled = ?4, trusted_for_delegation = ?5, spns = ?6, addresses = ?7
         WHERE realm = ?1 AND app_id = ?2",
        params![
            sp.realm,
            sp.app_id,
            sp.display_name,
            sp.account_enabled as i64,
            sp.trusted_for_delegation as i64,
            to_json(&sp.spns),
            to_json(&sp.addresses)
        ],
    )?;
    Ok(())
}

pub(crate) fn delete_sp(conn: &Connection, realm: &str, app_id: &str) -> Result<bool, StsError> {
    Ok(conn.execute(
        "DELETE FROM service_principals WHERE realm = ?1 AND app_id = ?2",
        [realm, app_id],
    )? > 0)
}

// ---- key credentials ---------------------------------------------------------------------------

/// The principal's credentials, oldest first.
pub(crate) fn creds(
    conn: &Connection,
    realm: &str,
    app_id: &str,
) -> Result<Vec<CredRow>, StsError> {
    let mut stmt = conn.prepare(
        "SELECT key_id, kind, usage, cert_der, thumbprint, secret_salt, secret_iterations, secret_hash,
                start_date, end_date, display_name
         FROM key_credentials WHERE realm = ?1 AND app_id = ?2 ORDER BY created, rowid",
    )?;
    let raw = stmt
        .query_map([realm, app_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<Vec<u8>>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<Vec<u8>>>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, Option<Vec<u8>>>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, i64>(9)?,
                r.get::<_, Option<String>>(10)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    raw.into_iter()
        .map(
            |(key_id, kind, usage, cert_der, thumbprint, salt, iters, hash, start, end, dn)| {
                let kind = CredKind::parse(&kind).ok_or_else(|| corrupt("key_credentials.kind"))?;
                let usage = Usage::parse(&usage).ok_or_else(|| corrupt("key_credentials.usage"))?;
                let secret = match (salt, iters, hash) {
                    (Some(salt), Some(iterations), Some(hash)) => Some(SecretHash {
                        salt,
                        iterations: u32::try_from(iterations)
                            .map_err(|_| corrupt("key_credentials.secret_iterations"))?,
                        hash,
                    }),
                    _ => None,
                };
                Ok(CredRow {
                    key_id,
                    kind,
                    usage,
                    cert_der,
                    thumbprint,
                    secret,
                    start,
                    end,
                    display_name: dn,
                })
            },
        )
        .collect()
}

pub(crate) fn insert_cred(
    conn: &Connection,
    realm: &str,
    app_id: &str,
    c: &CredRow,
    now: i64,
) -> Result<(), StsError> {
    let (salt, iters, hash) = match &c.secret {
        Some(s) => (Some(&s.salt), Some(i64::from(s.iterations)), Some(&s.hash)),
        None => (None, None, None),
    };
    conn.execute(
        "INSERT INTO key_credentials (key_id, realm, app_id, kind, usage, cert_der, thumbprint,
             secret_salt, secret_iterations, secret_hash, start_date, end_date, display_name, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            c.key_id,
            realm,
            app_id,
            c.kind.as_str(),
            c.usage.as_str(),
            c.cert_der,
            c.thumbprint,
            salt,
            iters,
            hash,
            c.start,
            c.end,
            c.display_name,
            now
        ],
    )?;
    Ok(())
}

pub(crate) fn update_cred_meta(
    conn: &Connection,
    key_id: &str,
    start: i64,
    end: i64,
    display_name: Option<&str>,
) -> Result<(), StsError> {
    conn.execute(
        "UPDATE key_credentials SET start_date = ?2, end_date = ?3, display_name = ?4 WHERE key_id = ?1",
        params![key_id, start, end, display_name],
    )?;
    Ok(())
}

pub(crate) fn key_id_exists(conn: &Connection, key_id: &str) -> Result<bool, StsError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM key_credentials WHERE key_id = ?1",
            [key_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub(crate) fn delete_cred(
    conn: &Connection,
    realm: &str,
    app_id: &str,
    key_id: &str,
) -> Result<bool, StsError> {
    Ok(conn.execute(
        "DELETE FROM key_credentials WHERE realm = ?1 AND app_id = ?2 AND key_id = ?3",
        [realm, app_id, key_id],
    )? > 0)
}

// ---- first-party registry ----------------------------------------------------------------------

pub(crate) fn first_party_certs(conn: &Connection, app_id: &str) -> Result<Vec<Vec<u8>>, StsError> {
    let mut stmt = conn.prepare(
        "SELECT cert_der FROM first_party_certificates WHERE app_id = ?1 ORDER BY created, rowid",
    )?;
    let v = stmt
        .query_map([app_id], |r| r.get(0))?
        .collect::<Result<Vec<Vec<u8>>, _>>()?;
    Ok(v)
}

/// The whole registry as (app id, certificate DER), each app's oldest first.
pub(crate) fn all_first_party_certs(conn: &Connection) -> Result<Vec<(String, Vec<u8>)>, StsError> {
    let mut stmt = conn.prepare(
        "SELECT app_id, cert_der FROM first_party_certificates ORDER BY app_id, created, rowid",
    )?;
    let v = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(v)
}

pub(crate) fn insert_first_party_cert(
    conn: &Connection,
    app_id: &str,
    thumbprint: &str,
    der: &[u8],
    now: i64,
) -> Result<(), StsError> {
    conn.execute(
        "INSERT OR IGNORE INTO first_party_certificates (app_id, thumbprint, cert_der, created)
         VALUES (?1, ?2, ?3, ?4)",
        params![app_id, thumbprint, der, now],
    )?;
    Ok(())
}

// ---- replay protection -------------------------------------------------------------------------

/// A client assertion to record as spent: its issuer and jti, until when it is remembered, and the
/// request's "now".
#[derive(Debug, Clone)]
pub(crate) struct SpentAssertion {
    pub issuer: String,
    pub jti: String,
    pub expires: i64,
    pub now: i64,
}

/// Records a client assertion's jti as spent, in the caller's transaction: `false` when it was
/// already used and is still remembered at the request's `now`. Entries whose assertion can no
/// longer be valid at `now` are pruned first, so a remembered entry is never out of date.
pub(crate) fn use_jti(conn: &Connection, spent: &SpentAssertion) -> Result<bool, StsError> {
    conn.prepare_cached("DELETE FROM used_assertions WHERE expires < ?1")?
        .execute([spent.now])?;
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO used_assertions (issuer, jti, expires) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![spent.issuer, spent.jti, spent.expires])?;
    Ok(inserted == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "foreign_keys", "ON").unwrap();
        let tx = c.transaction().unwrap();
        tx.execute_batch(MIGRATIONS[0].sql).unwrap();
        tx.commit().unwrap();
        c
    }

    fn spent(issuer: &str, jti: &str, expires: i64, now: i64) -> SpentAssertion {
        SpentAssertion {
            issuer: issuer.into(),
            jti: jti.into(),
            expires,
            now,
        }
    }

    fn spend(c: &Connection, issuer: &str, jti: &str, expires: i64, now: i64) -> bool {
        use_jti(c, &spent(issuer, jti, expires, now)).unwrap()
    }

    #[test]
    fn jti_replay_and_pruning() {
        let c = db();
        assert!(spend(&c, "a@r", "j1", 100, 50));
        assert!(!spend(&c, "a@r", "j1", 100, 60));
        assert!(spend(&c, "b@r", "j1", 100, 60), "per issuer");
        // once expired, the entry is pruned
        assert!(spend(&c, "a@r", "j1", 300, 101));
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM used_assertions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn jti_batches() {
        let c = db();
        assert!(spend(&c, "a@r", "old", 100, 50));
        // one request after the other, as the group commit runs them in one transaction
        let r = [
            spent("a@r", "j1", 500, 90),
            // the same assertion twice in one batch: only the first is fresh
            spent("a@r", "j1", 500, 91),
            // still remembered at this request's now...
            spent("a@r", "old", 600, 95),
            // ...but no longer at this one's
            spent("a@r", "old", 700, 101),
            spent("b@r", "j1", 500, 92),
        ]
        .map(|s| use_jti(&c, &s).unwrap());
        assert_eq!(r, [true, false, false, true, true]);
        let expires: i64 = c
            .query_row(
                "SELECT expires FROM used_assertions WHERE jti = 'old'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(expires, 700);
    }

    #[test]
    fn kinds_and_usages_parse_any_case() {
        assert_eq!(CredKind::parse("asymmetric"), Some(CredKind::Asymmetric));
        assert_eq!(CredKind::parse("PASSWORD"), Some(CredKind::Password));
        assert_eq!(CredKind::parse("x509"), None);
        assert_eq!(Usage::parse("verify"), Some(Usage::Verify));
        assert_eq!(Usage::parse("encrypt"), None);
    }

    #[test]
    fn resolves_realm_and_domain() {
        let c = db();
        let r = "3f0c8f6e-1111-4222-8333-0123456789e9";
        insert_tenant(&c, r, 1).unwrap();
        insert_domain(&c, r, "contoso.example").unwrap();
        insert_domain(&c, r, "fabrikam.example").unwrap();
        assert_eq!(resolve_realm(&c, r).unwrap().as_deref(), Some(r));
        assert_eq!(
            resolve_realm(&c, &r.to_uppercase()).unwrap().as_deref(),
            Some(r)
        );
        assert_eq!(
            resolve_realm(&c, "Contoso.Example").unwrap().as_deref(),
            Some(r)
        );
        assert_eq!(resolve_realm(&c, "nope.example").unwrap(), None);
        assert_eq!(
            tenant(&c, r).unwrap().unwrap().domains,
            vec!["contoso.example", "fabrikam.example"]
        );
    }
}
