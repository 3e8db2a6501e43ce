//! The ACS-compatible token service (the "STS" of DESIGN.md): tenants with verified domains,
//! their service principals and key credentials, a signing key per tenant, the ACS metadata
//! document, the OAuth2 token endpoint that issues actor tokens, and the MSOnline- and
//! Graph-shaped admin API that the seed's steps 5 and 6 drive.
//!
//! ```text
//! public                                   admin (Authorization: Bearer <admin credential>)
//!   GET  /healthz                            POST/GET /admin/tenants, GET /admin/tenants/{realm}
//!   GET  /{realm}/metadata/json/1            POST /admin/tenants/{realm}/domains
//!   GET  /metadata/json/1?realm=…            POST /admin/tenants/{realm}/signing-keys/rollover
//!   POST /{realm}/tokens/OAuth/2             POST/GET /admin/first-party/{appId}/certificates
//!   GET  /{realm}/firstparty/{appId}/        GET/POST /{realm}/msol/servicePrincipals
//!        verify-keys  (app token)            PATCH/DELETE /{realm}/msol/servicePrincipals/{appId}
//!                                            POST/GET …/{appId}/credentials, DELETE …/{keyId}
//!                                            GET /v1.0/{realm}/servicePrincipals?$filter=…
//!                                            GET/PATCH /v1.0/{realm}/servicePrincipals/{id}
//!                                            POST /v1.0/{realm}/servicePrincipals/{id}/addKey
//! ```
//!
//! Invariants:
//! - A first-party application (the built-in 00000001–00000004, or any app id with a certificate
//!   in the first-party registry) authenticates at the token endpoint only with registry keys; a
//!   key the tenant uploads to its principal is a statement of trust (flow F2), never a sign-in key.
//! - A token is issued for `<app>/<host>@<realm>` only when `<app>/<host>` is covered by one of
//!   that principal's ServicePrincipalNames in the same tenant.
//! - Every admin call is one transaction: it fully happens or not at all.
//! - The token endpoint reads an in-memory snapshot of `sts.sqlite` (tenants, principals, key
//!   credentials with parsed certificates, the first-party registry, parsed signing keys) that is
//!   dropped by every commit on that database (an SQLite commit hook, so no write path can skip
//!   it): an admin write that answered reaches the very next token request. Nothing that depends
//!   on time is cached; validity windows are evaluated on every request.
//! - A client assertion's jti is committed to the replay store before the token is answered.
//! - Time comes only from [`Config::clock`]; randomness only from aws-lc-rs.
//! - Neither tokens nor secrets nor private keys are logged; secrets are stored as PBKDF2 hashes.
#![forbid(unsafe_code)]

pub mod client;
mod db;
mod error;
mod graph;
mod http;
pub mod model;
mod names;
mod replay;
mod secret;
mod service;
mod snapshot;
mod token;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use s2s_proto::SharedClock;
use store::Db;

use crate::replay::ReplayLog;
use crate::snapshot::{SigningCache, SnapshotCell};

pub use error::StsError;
pub use graph::Filter;
pub use model::{
    CredentialRow, FirstPartyCertificate, NewCredential, NewServicePrincipal, ServicePrincipal,
    SetServicePrincipal, SigningCertificateInfo, Tenant, VerifyKeyRow, VerifyKeys,
};

/// Default actor-token lifetime (DESIGN.md: 1 h).
pub const DEFAULT_ACTOR_TOKEN_LIFETIME_SECS: i64 = 3600;
/// Longest configurable actor-token lifetime (24 h).
pub const MAX_ACTOR_TOKEN_LIFETIME_SECS: i64 = 86_400;
/// Name of the admin credential file in the data directory.
pub const ADMIN_CREDENTIAL_FILE: &str = "admin-credential";
/// Name of the database file in the data directory.
pub const DATABASE_FILE: &str = "sts.sqlite";
/// The replay store of spent client-assertion ids.
const REPLAY_FILE: &str = "replay.sqlite";

/// Failed client authentications allowed per source address per minute, by default.
pub const DEFAULT_AUTH_FAILURES_PER_MINUTE: u32 = store::limit::DEFAULT_MAX_FAILURES;

/// How to run the token service.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where `sts.sqlite` and `admin-credential` live; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// The base URL clients reach this service at, e.g. `http://127.0.0.1:41011`. Used in the
    /// metadata document, as the client-assertion audience, and (its `host[:port]`) as the STS
    /// host in `00000001-0000-0000-c000-000000000000/<host>@<realm>`.
    pub public_url: String,
    /// Lifetime of issued actor tokens, 1..=86400 s.
    pub actor_token_lifetime_secs: i64,
    /// Failed client authentications (wrong secret, bad assertion, unknown or disabled client)
    /// allowed per source address per minute before the token endpoint answers 429
    /// ([`DEFAULT_AUTH_FAILURES_PER_MINUTE`] is 50).
    pub auth_failures_per_minute: u32,
    pub clock: SharedClock,
}

impl Config {
    /// An in-memory configuration with the default lifetime.
    pub fn new(public_url: impl Into<String>, clock: SharedClock) -> Config {
        Config {
            data_dir: None,
            public_url: public_url.into(),
            actor_token_lifetime_secs: DEFAULT_ACTOR_TOKEN_LIFETIME_SECS,
            auth_failures_per_minute: DEFAULT_AUTH_FAILURES_PER_MINUTE,
            clock,
        }
    }
}

/// The token service. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Sts {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    /// What the token endpoint reads from `db`, reloaded after every commit on it.
    snapshot: SnapshotCell,
    /// Spent client-assertion `jti`s, in a store of their own (see
    /// `store::Durability::ProcessCrash`).
    replay: ReplayLog,
    public_url: String,
    authority: String,
    lifetime: i64,
    clock: SharedClock,
    admin_credential: String,
    admin_credential_path: Option<PathBuf>,
    /// Parsed signing keys by x5t (parsing a PKCS#8 RSA key on every token is wasteful).
    signing_cache: SigningCache,
    /// Failed client authentications per source address (spec/security.md J18).
    limiter: store::limit::FailureLimiter,
}

impl std::fmt::Debug for Sts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the admin credential
        f.debug_struct("Sts")
            .field("public_url", &self.inner.public_url)
            .field("db", &self.inner.db)
            .finish()
    }
}

impl Sts {
    /// Opens (creating on first start) the service's storage and admin credential.
    pub fn open(config: Config) -> Result<Sts, StsError> {
        let public_url = config.public_url.trim_end_matches('/').to_owned();
        let authority = names::url_authority(&public_url)
            .ok_or_else(|| {
                StsError::Config(format!(
                    "public_url {public_url:?} is not an http:// or https:// URL with a host"
                ))
            })?
            .to_owned();
        if !(1..=MAX_ACTOR_TOKEN_LIFETIME_SECS).contains(&config.actor_token_lifetime_secs) {
            return Err(StsError::Config(format!(
                "actor_token_lifetime_secs is {}; it must be 1 to {MAX_ACTOR_TOKEN_LIFETIME_SECS}",
                config.actor_token_lifetime_secs
            )));
        }
        let (db, replay, admin_credential, admin_credential_path) = match &config.data_dir {
            None => (
                Db::open_in_memory(db::MIGRATIONS)?,
                Db::open_in_memory(db::REPLAY_MIGRATIONS)?,
                secret::new_admin_credential(),
                None,
            ),
            Some(dir) => {
                // owner-only: the directory (0700), the databases and their WAL files (0600,
                // made so by `Db::open`) and the admin credential
                store::private::ensure_private_dir(dir)?;
                let db = Db::open(&dir.join(DATABASE_FILE), db::MIGRATIONS)?;
                let replay_path = dir.join(REPLAY_FILE);
                // Replay records of client assertions (which live at most 10 minutes) survive the
                // process being killed; only a power loss could forget the last ones. Everything
                // else the token service stores is fsync'd before it answers.
                let replay = Db::open_with(
                    &replay_path,
                    db::REPLAY_MIGRATIONS,
                    store::Durability::ProcessCrash,
                )?;
                let cred_path = dir.join(ADMIN_CREDENTIAL_FILE);
                let cred = load_or_create_credential(&cred_path)?;
                (db, replay, cred, Some(cred_path))
            }
        };
        let sts = Sts {
            inner: Arc::new(Inner {
                snapshot: SnapshotCell::install(&db)?,
                db,
                replay: ReplayLog::new(replay),
                public_url,
                authority,
                lifetime: config.actor_token_lifetime_secs,
                clock: config.clock,
                admin_credential,
                admin_credential_path,
                signing_cache: Arc::new(Mutex::new(HashMap::new())),
                limiter: store::limit::FailureLimiter::new(
                    config.auth_failures_per_minute,
                    store::limit::DEFAULT_WINDOW_SECS,
                ),
            }),
        };
        sts.ensure_sts_spns_blocking()?;
        Ok(sts)
    }

    pub(crate) fn limiter(&self) -> &store::limit::FailureLimiter {
        &self.inner.limiter
    }

    /// The HTTP routes, public and admin.
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    /// The admin credential (send as `Authorization: Bearer <it>`).
    pub fn admin_credential(&self) -> &str {
        &self.inner.admin_credential
    }

    /// Where the admin credential is stored (`None` in memory).
    pub fn admin_credential_path(&self) -> Option<PathBuf> {
        self.inner.admin_credential_path.clone()
    }

    /// The configured public URL, without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// `host[:port]` of the public URL: the STS host in `00000001-…/<host>@<realm>`.
    pub fn sts_host(&self) -> &str {
        &self.inner.authority
    }

    /// The token endpoint of a realm.
    pub fn token_endpoint(&self, realm: &str) -> String {
        format!("{}/{realm}/tokens/OAuth/2", self.inner.public_url)
    }

    /// The metadata document URL of a realm (what Exchange's `New-AuthServer` is given).
    pub fn metadata_url(&self, realm: &str) -> String {
        format!("{}/{realm}/metadata/json/1", self.inner.public_url)
    }

    /// Now, from the injected clock.
    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.unix()
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    pub(crate) fn replay_log(&self) -> &ReplayLog {
        &self.inner.replay
    }

    /// What the token endpoint reads, as of the last commit.
    pub(crate) async fn snapshot(&self) -> Result<Arc<snapshot::Snapshot>, StsError> {
        self.inner
            .snapshot
            .get(&self.inner.db, &self.inner.signing_cache)
            .await
    }
}

fn load_or_create_credential(path: &Path) -> Result<String, StsError> {
    let io = |source| StsError::Io {
        path: path.to_owned(),
        source,
    };
    // owner-only, also when an older version or an administrator left it looser
    store::private::tighten(path)?;
    match std::fs::read_to_string(path) {
        Ok(s) => {
            let cred = s.trim().to_owned();
            if cred.len() < 32 || cred.len() > 256 || !cred.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(StsError::Config(format!(
                    "{} does not hold an admin credential (32 to 256 printable characters); delete it to have a new one generated",
                    path.display()
                )));
            }
            Ok(cred)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let cred = secret::new_admin_credential();
            store::private::write_new(path, format!("{cred}\n").as_bytes()).map_err(io)?;
            Ok(cred)
        }
        Err(e) => Err(io(e)),
    }
}
