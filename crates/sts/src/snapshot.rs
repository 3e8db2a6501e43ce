//! An in-memory, read-only copy of what the token endpoint reads from `sts.sqlite`: tenants and
//! their domains, service principals with their key credentials (certificates parsed once), the
//! first-party registry (parsed once) and the tenants' signing keys (the private key parsed once).
//!
//! Freshness: every commit on the database connection bumps a generation number (an SQLite commit
//! hook, so no write path can forget it) before the commit returns, and a snapshot is used only
//! while its generation is the current one. A request that starts after an admin write answered
//! therefore reads a snapshot loaded after that write. Nothing here depends on time: validity
//! windows (credentials, certificates, signing keys) are evaluated on every request with the
//! injected clock.
//!
//! The snapshot assumes this process is the only writer of its `sts.sqlite` (one token service per
//! data directory); a write by another process would not be seen until this one writes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use s2s_proto::{Certificate, SigningKey, VerifyKey};
use store::Db;
use store::rusqlite::Connection;

use crate::db::{self, CredKind, CredRow, SpRow};
use crate::error::StsError;
use crate::names::TenantKey;

/// Parsed signing keys by x5t, shared by the snapshots (parsing a PKCS#8 RSA key is expensive).
pub(crate) type SigningCache = Arc<Mutex<HashMap<String, Arc<SigningKey>>>>;

/// A key credential with its certificate's public key parsed (`Some` only for Asymmetric rows
/// whose certificate parses).
pub(crate) struct Cred {
    pub row: CredRow,
    pub key: Option<VerifyKey>,
}

/// A service principal and its key credentials, oldest first.
pub(crate) struct Principal {
    pub row: SpRow,
    pub creds: Vec<Cred>,
}

/// One of a tenant's signing keys; the private key is parsed for active keys only.
pub(crate) struct SigningEntry {
    pub active: bool,
    pub not_before: i64,
    pub not_after: i64,
    /// `None` for an inactive key, or an active one whose stored key does not parse.
    pub key: Option<Arc<SigningKey>>,
}

pub(crate) struct TenantSnap {
    pub principals: HashMap<String, Arc<Principal>>,
    /// Active first, then newest first (as [`db::signing_keys`]).
    pub signing: Vec<SigningEntry>,
}

#[derive(Default)]
pub(crate) struct Snapshot {
    pub tenants: HashMap<String, TenantSnap>,
    /// Verified domain (lower case) → realm.
    pub domains: HashMap<String, String>,
    /// First-party application → the keys of its registry certificates that parse. An app with
    /// any registered certificate (parseable or not) has an entry, which makes it first-party.
    pub first_party: HashMap<String, Vec<VerifyKey>>,
}

impl Snapshot {
    /// Reads everything the token endpoint needs, in one read transaction.
    pub fn load(conn: &mut Connection, signing_cache: &SigningCache) -> Result<Snapshot, StsError> {
        let tx = conn.transaction()?;
        let mut snap = Snapshot::default();
        for realm in db::realms(&tx)? {
            let Some(t) = db::tenant(&tx, &realm)? else {
                continue;
            };
            for d in t.domains {
                snap.domains.insert(d, realm.clone());
            }
            let mut principals = HashMap::new();
            for sp in db::sps(&tx, &realm)? {
                let creds = db::creds(&tx, &realm, &sp.app_id)?
                    .into_iter()
                    .map(|row| {
                        let key = match (row.kind, row.cert_der.as_deref()) {
                            (CredKind::Asymmetric, Some(der)) => {
                                Certificate::from_der(der).ok().map(|c| c.verify_key())
                            }
                            _ => None,
                        };
                        Cred { row, key }
                    })
                    .collect();
                principals.insert(sp.app_id.clone(), Arc::new(Principal { row: sp, creds }));
            }
            let signing = db::signing_keys(&tx, &realm)?
                .into_iter()
                .map(|k| SigningEntry {
                    key: k
                        .active
                        .then(|| parse_signing_key(signing_cache, &k))
                        .flatten(),
                    active: k.active,
                    not_before: k.not_before,
                    not_after: k.not_after,
                })
                .collect();
            snap.tenants.insert(
                realm,
                TenantSnap {
                    principals,
                    signing,
                },
            );
        }
        for (app_id, der) in db::all_first_party_certs(&tx)? {
            let keys = snap.first_party.entry(app_id).or_default();
            if let Ok(c) = Certificate::from_der(&der) {
                keys.push(c.verify_key());
            }
        }
        tx.commit()?;
        Ok(snap)
    }

    /// The realm of a realm (GUID, any case) or verified domain, as [`db::resolve_realm`].
    pub fn resolve(&self, realm_or_domain: &str) -> Option<&str> {
        match crate::names::tenant_key(realm_or_domain) {
            TenantKey::Realm(g) => self.tenants.get_key_value(&g).map(|(k, _)| k.as_str()),
            TenantKey::Domain(d) => self.domains.get(&d).map(String::as_str),
        }
    }

    pub fn principal(&self, realm: &str, app_id: &str) -> Option<&Arc<Principal>> {
        self.tenants.get(realm)?.principals.get(app_id)
    }
}

/// The parsed key of a signing-key row, from the cache or parsed now (`None` if it does not
/// parse).
pub(crate) fn parse_signing_key(
    cache: &SigningCache,
    row: &db::SigningKeyRow,
) -> Option<Arc<SigningKey>> {
    if let Ok(c) = cache.lock()
        && let Some(k) = c.get(&row.x5t)
    {
        return Some(k.clone());
    }
    let key = Arc::new(SigningKey::from_pkcs8(&row.pkcs8, &row.cert_der).ok()?);
    if let Ok(mut c) = cache.lock() {
        c.insert(row.x5t.clone(), key.clone());
    }
    Some(key)
}

/// The current snapshot, reloaded after any commit on the database.
pub(crate) struct SnapshotCell {
    generation: Arc<AtomicU64>,
    current: RwLock<Option<(u64, Arc<Snapshot>)>>,
    /// One reload at a time; the others wait for it.
    loading: tokio::sync::Mutex<()>,
    loads: AtomicU64,
}

impl SnapshotCell {
    /// Installs the commit hook on `db`'s connection.
    pub fn install(db: &Db) -> Result<SnapshotCell, StsError> {
        let generation = Arc::new(AtomicU64::new(0));
        let g = generation.clone();
        db.call_blocking(move |c| {
            c.commit_hook(Some(move || {
                g.fetch_add(1, Ordering::SeqCst);
                false // never veto the commit
            }))?;
            Ok::<_, StsError>(())
        })?;
        Ok(SnapshotCell {
            generation,
            current: RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
            loads: AtomicU64::new(0),
        })
    }

    fn fresh(&self) -> Option<Arc<Snapshot>> {
        let g = self.generation.load(Ordering::SeqCst);
        match &*self.current.read().ok()? {
            Some((sg, s)) if *sg == g => Some(s.clone()),
            _ => None,
        }
    }

    /// The snapshot as of now: the cached one if nothing was committed since it was loaded.
    pub async fn get(
        &self,
        db: &Db,
        signing_cache: &SigningCache,
    ) -> Result<Arc<Snapshot>, StsError> {
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        let _one = self.loading.lock().await;
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        // The generation is read before the database: a commit after this point makes the
        // loaded snapshot stale at once, whatever it read.
        let g = self.generation.load(Ordering::SeqCst);
        let cache = signing_cache.clone();
        let snap = Arc::new(db.call(move |c| Snapshot::load(c, &cache)).await?);
        self.loads.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut cur) = self.current.write() {
            *cur = Some((g, snap.clone()));
        }
        Ok(snap)
    }

    /// How many times a snapshot was loaded (tests).
    #[cfg(test)]
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, NewServicePrincipal, Sts};
    use std::sync::Arc;

    const APP: &str = "0a1b2c3d-0000-4000-8000-00000000a001";

    #[tokio::test]
    async fn reloaded_after_every_commit_and_only_then() {
        let clock = Arc::new(s2s_proto::ManualClock::new(1_800_000_000));
        let sts = Sts::open(Config::new("http://127.0.0.1:1", clock)).unwrap();
        let t = sts.create_tenant("contoso.example", None).await.unwrap();
        let a = sts.snapshot().await.unwrap();
        assert!(Arc::ptr_eq(&a, &sts.snapshot().await.unwrap()));
        assert_eq!(a.resolve("Contoso.Example."), Some(t.realm.as_str()));
        assert_eq!(a.resolve(&t.realm.to_uppercase()), Some(t.realm.as_str()));
        assert_eq!(a.resolve("fabrikam.example"), None);
        assert!(a.tenants[&t.realm].signing[0].key.is_some());
        // reads do not invalidate it
        sts.service_principals(&t.realm).await.unwrap();
        sts.metadata(&t.realm).await.unwrap();
        assert!(Arc::ptr_eq(&a, &sts.snapshot().await.unwrap()));
        let sp = || NewServicePrincipal {
            display_name: "app".into(),
            app_principal_id: Some(APP.into()),
            ..Default::default()
        };
        // a write does, and the next snapshot has it
        assert!(a.principal(&t.realm, APP).is_none());
        sts.new_service_principal(&t.realm, sp()).await.unwrap();
        let b = sts.snapshot().await.unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(b.principal(&t.realm, APP).is_some());
        // a refused write commits nothing
        sts.new_service_principal(&t.realm, sp()).await.unwrap_err();
        assert!(Arc::ptr_eq(&b, &sts.snapshot().await.unwrap()));
        assert_eq!(sts.inner.snapshot.loads(), 2);
    }
}
