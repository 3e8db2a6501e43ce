//! The Exchange-compatible on-premises server: organization (recipients, RBAC), the OAuth trust
//! (AuthConfig and the auth certificate, auth servers, partner applications), inbound
//! server-to-server OAuth, EWS over SOAP, Autodiscover, and the durable mailbox store.
#![forbid(unsafe_code)]

pub mod admin;
mod attached;
pub mod auth;
mod autodiscover;
mod availability;
mod booking;
mod contacts;
mod conversation;
mod delegates;
pub mod error;
pub mod ews;
mod ews_filter;
mod ews_meeting;
mod ews_reply;
mod ews_send;
mod export;
pub mod fxstream;
mod junk;
mod mailtips;
mod mime;
mod oof;
mod recurring;
pub use store::limit;
pub mod notify;
pub mod org;
mod retention;
mod rooms;
mod rules;
pub mod scope;
pub mod streaming;
mod tasks;
#[cfg(test)]
mod testutil;
pub mod traffic;
pub mod trust;
mod workhours;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mailbox::MailboxStore;
use s2s_proto::{S2sToken, SharedClock, TokenError};

pub use auth::{AuthFailure, Caller};
pub use error::ExchangeError;
use org::Org;
pub use retention::{DEFAULT_EVENT_RETENTION_SECS, MIN_EVENT_RETENTION_SECS};
pub use streaming::StreamingConfig;
use traffic::{TrafficLog, TrafficRecord};
use trust::TrustSnapshot;

/// How to run the server.
#[derive(Clone)]
pub struct Config {
    /// None: in-memory (tests).
    pub data_dir: Option<PathBuf>,
    /// The host names this server answers to (the audience host); the first is its FQDN.
    pub hosts: Vec<String>,
    /// The organization's primary accepted domain (e.g. `contoso.example`).
    pub org_domain: String,
    /// Where clients reach it (for logs and the lab's report).
    pub public_url: String,
    pub clock: SharedClock,
    /// How often auth server metadata is refreshed in the background, seconds.
    pub metadata_refresh_secs: i64,
    /// Benchmarks only: serve `/bench/noauth/EWS/Exchange.asmx`, which skips authentication and
    /// acts as this mailbox with the seed's roles (resolved on the first request and kept). Never set
    /// outside a benchmark.
    pub bench_noauth_user: Option<String>,
    /// Authentication failures allowed per source address (and per partner application) per
    /// minute before further attempts get 429 (`limit::DEFAULT_MAX_FAILURES` is 50).
    pub auth_failures_per_minute: u32,
    /// Certificates to trust for HTTPS to auth servers and subscribers (DER); empty: only plain
    /// HTTP works (the lab's default).
    pub tls_roots: Vec<Vec<u8>>,
    /// How long the mailbox store keeps its change logs (every item and folder change), seconds:
    /// entries older than this are pruned by a background pass every hour. Default
    /// [`DEFAULT_EVENT_RETENTION_SECS`] (30 days): long enough for sync clients that sync daily
    /// or weekly; a client whose sync state is older syncs again from scratch, as EWS clients
    /// are built to do on `ErrorInvalidSyncStateData` (and a subscription that old gets
    /// `ErrorInvalidWatermark` / `ErrorExpiredSubscription` and subscribes again). At least
    /// [`MIN_EVENT_RETENTION_SECS`] (a day, a pull subscription's longest timeout) is applied.
    pub event_retention_secs: i64,
    /// EWS streaming notifications (GetStreamingEvents): how long a `ConnectionTimeout` minute
    /// lasts, the keep-alive interval, and the bounds on open connections per mailbox and per
    /// server. [`StreamingConfig::default`] is Exchange's timing.
    pub streaming: StreamingConfig,
}

/// The user configuration that holds a mailbox's photo.
const PHOTO_CONFIG: &str = "OpenHybrid.UserPhoto";
/// Largest request body EWS reads.
pub const MAX_EWS_BODY: usize = 16 << 20;

/// Most entries one ResolveNames answers with (Exchange's own limit).
pub const MAX_RESOLUTIONS: usize = 100;
/// Most entries in the validated-token cache.
const TOKEN_CACHE_MAX: usize = 50_000;

struct CachedCaller {
    caller: Arc<Caller>,
    generation: u64,
    expires: i64,
}

pub(crate) struct Inner {
    pub cfg: Config,
    pub org: Org,
    pub mbx: MailboxStore,
    pub trust: RwLock<Arc<TrustSnapshot>>,
    generation: AtomicU64,
    provisioned: RwLock<std::collections::HashSet<String>>,
    /// Keyed by the whole bearer's bytes (kilobytes), found from a header's bytes without a
    /// UTF-8 check: foldhash, seeded per process, instead of SipHash, which cost more than the rest
    /// of a cache hit (XXH3 was tried: fewer instructions, but 105 ns against foldhash's 78 ns for
    /// a 2.4 KB token on this machine). Only tokens that authenticated are keys.
    callers: RwLock<HashMap<Box<[u8]>, CachedCaller, foldhash::fast::RandomState>>,
    pub cache_enabled: AtomicBool,
    pub http: reqwest::Client,
    admin_credential: String,
    admin_credential_path: Option<PathBuf>,
    pub traffic: TrafficLog,
    pub limiter: limit::FailureLimiter,
    /// The streaming connections open now (GetStreamingEvents).
    pub(crate) streams: streaming::Registry,
    refresh_times: Mutex<HashMap<String, i64>>,
    /// The benchmark route's caller, resolved on its first request (see
    /// `Config::bench_noauth_user`).
    pub bench_caller: std::sync::OnceLock<Arc<Caller>>,
    /// Held while the resource booking attendant decides and answers one request
    /// (`crate::booking`), so that two requests for the same time are decided one after the
    /// other.
    pub(crate) booking: tokio::sync::Mutex<()>,
}

/// The server. Cheap to clone.
#[derive(Clone)]
pub struct Exchange {
    pub(crate) inner: Arc<Inner>,
}

fn load_or_create_credential(
    dir: Option<&Path>,
) -> Result<(String, Option<PathBuf>), ExchangeError> {
    use rand::RngCore;
    let fresh = || {
        let mut b = [0u8; 32];
        rand::rng().fill_bytes(&mut b);
        s2s_proto::b64::url_encode(b)
    };
    let Some(dir) = dir else {
        return Ok((fresh(), None));
    };
    let path = dir.join("admin-credential");
    let io = |e: std::io::Error| ExchangeError::Io {
        path: path.display().to_string(),
        why: e.to_string(),
    };
    if path.exists() {
        // an older or hand-copied credential file: owner-only from now on
        store::private::tighten(&path).map_err(|e| ExchangeError::Io {
            path: path.display().to_string(),
            why: e.to_string(),
        })?;
        let s = std::fs::read_to_string(&path).map_err(io)?;
        return Ok((s.trim().to_owned(), Some(path)));
    }
    let cred = fresh();
    store::private::write_new(&path, cred.as_bytes()).map_err(io)?;
    Ok((cred, Some(path)))
}

impl Exchange {
    pub fn open(cfg: Config) -> Result<Exchange, ExchangeError> {
        if cfg.hosts.is_empty() {
            return Err(ExchangeError::Invalid(
                "at least one host name is required".into(),
            ));
        }
        if let Some(d) = &cfg.data_dir {
            std::fs::create_dir_all(d).map_err(|e| ExchangeError::Io {
                path: d.display().to_string(),
                why: e.to_string(),
            })?;
        }
        let (db, mbx) = match &cfg.data_dir {
            Some(d) => (
                store::Db::open(&d.join("exchange.sqlite"), org::MIGRATIONS)?,
                MailboxStore::open(&d.join("mailboxes.sqlite"))?,
            ),
            None => (
                store::Db::open_in_memory(org::MIGRATIONS)?,
                MailboxStore::open_in_memory()?,
            ),
        };
        let org = Org::open(db, &cfg.org_domain);
        let now = cfg.clock.unix();
        let domain = cfg.org_domain.clone();
        org.db.call_blocking(|c| -> Result<(), ExchangeError> {
            let tx = c.transaction()?;
            trust::ensure_auth_config(&tx, now)?;
            if Org::accepted_domains(&tx)?.is_empty() {
                Org::add_accepted_domain(&tx, &domain, true)?;
            }
            tx.commit()?;
            Ok(())
        })?;
        let (admin_credential, admin_credential_path) =
            load_or_create_credential(cfg.data_dir.as_deref())?;
        let hosts = cfg.hosts.clone();
        let snap = org
            .db
            .call_blocking(|c| trust::build_snapshot(c, &hosts, 0))?;
        let traffic = TrafficLog::new(cfg.data_dir.as_ref().map(|d| d.join("traffic.jsonl")));
        // no redirects: a metadata URL or a push subscriber could otherwise steer Exchange's
        // signed requests (and an https URL to plain http) somewhere else
        let mut builder = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none());
        for r in &cfg.tls_roots {
            builder = builder.add_root_certificate(
                reqwest::Certificate::from_der(r)
                    .map_err(|e| ExchangeError::Invalid(format!("TLS root: {e}")))?,
            );
        }
        let http = builder
            .build()
            .map_err(|e| ExchangeError::Invalid(e.to_string()))?;
        let cfg_failures = cfg.auth_failures_per_minute;
        Ok(Exchange {
            inner: Arc::new(Inner {
                cfg,
                org,
                mbx,
                trust: RwLock::new(Arc::new(snap)),
                generation: AtomicU64::new(0),
                provisioned: RwLock::new(std::collections::HashSet::new()),
                callers: RwLock::new(HashMap::default()),
                cache_enabled: AtomicBool::new(true),
                http,
                admin_credential,
                admin_credential_path,
                traffic,
                limiter: limit::FailureLimiter::new(cfg_failures, limit::DEFAULT_WINDOW_SECS),
                streams: streaming::Registry::default(),
                refresh_times: Mutex::new(HashMap::new()),
                bench_caller: std::sync::OnceLock::new(),
                booking: tokio::sync::Mutex::new(()),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.cfg
    }
    pub fn admin_credential(&self) -> &str {
        &self.inner.admin_credential
    }
    pub fn admin_credential_path(&self) -> Option<&Path> {
        self.inner.admin_credential_path.as_deref()
    }
    pub fn mailbox_store(&self) -> &MailboxStore {
        &self.inner.mbx
    }
    pub fn org(&self) -> &Org {
        &self.inner.org
    }
    pub fn traffic(&self) -> Vec<TrafficRecord> {
        self.inner.traffic.snapshot()
    }
    /// Turns the validated-token cache on or off (benchmarks compare both).
    pub fn set_token_cache(&self, on: bool) {
        self.inner.cache_enabled.store(on, Ordering::SeqCst);
        self.clear_cache();
    }

    fn clear_cache(&self) {
        if let Ok(mut c) = self.inner.callers.write() {
            c.clear();
        }
    }

    pub(crate) fn snapshot(&self) -> Arc<TrustSnapshot> {
        self.inner
            .trust
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Rebuilds the trust snapshot after any change to auth config, auth servers or partners;
    /// every cached validation is dropped.
    pub async fn reload_trust(&self) -> Result<(), ExchangeError> {
        let generation = self.inner.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let hosts = self.inner.cfg.hosts.clone();
        let snap = self
            .inner
            .org
            .db
            .call(move |c| trust::build_snapshot(c, &hosts, generation))
            .await?;
        if let Ok(mut t) = self.inner.trust.write() {
            *t = Arc::new(snap);
        }
        self.clear_cache();
        Ok(())
    }

    /// Re-reads every enabled auth server's metadata (periodic refresh, `-RefreshAuthMetadata`).
    pub async fn refresh_auth_servers(&self) -> Result<(), ExchangeError> {
        let snap = self.snapshot();
        for (_, name, url) in &snap.auth_servers {
            self.refresh_one(name, url).await?;
        }
        self.reload_trust().await
    }

    async fn refresh_one(&self, name: &str, url: &str) -> Result<(), ExchangeError> {
        let md = trust::fetch_metadata(&self.inner.http, url).await?;
        let now = self.inner.cfg.clock.unix();
        let name = name.to_owned();
        self.inner
            .org
            .db
            .call(move |c| trust::update_auth_server_metadata(c, &name, &md, now))
            .await
    }

    /// Spawns the background tasks: the periodic metadata refresh, and the retention of the
    /// mailbox change logs (a pass a minute after start, then every hour:
    /// [`Exchange::prune_logs_once`]).
    pub fn spawn_background(&self) {
        self.spawn_log_retention();
        let me = self.clone();
        let every = self.inner.cfg.metadata_refresh_secs.max(30) as u64;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(every));
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = me.refresh_auth_servers().await {
                    tracing::warn!(error = %e, "auth metadata refresh failed");
                }
            }
        });
    }

    fn validate(&self, token: &str, snap: &TrustSnapshot) -> Result<Arc<S2sToken>, AuthFailure> {
        let policy = snap.policy.as_ref().ok_or(AuthFailure::NotConfigured)?;
        let now = self.inner.cfg.clock.unix();
        Ok(Arc::new(
            s2s_proto::validate_s2s(token, policy, now).map_err(AuthFailure::Token)?,
        ))
    }

    /// Provisions a mailbox's folder tree once per process (New-Mailbox does it at creation; this
    /// covers mailboxes of older data), keeping the write transaction off the request path.
    pub(crate) async fn ensure_mailbox_once(
        &self,
        key: &mailbox::MailboxKey,
    ) -> Result<(), mailbox::MailboxError> {
        if self
            .inner
            .provisioned
            .read()
            .is_ok_and(|p| p.contains(key.as_str()))
        {
            return Ok(());
        }
        self.inner.mbx.ensure_mailbox(key).await?;
        if let Ok(mut p) = self.inner.provisioned.write() {
            p.insert(key.as_str().to_owned());
        }
        Ok(())
    }

    /// The whole inbound pipeline: token → partner application → linked account's roles → user.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Arc<Caller>, AuthFailure> {
        let token = auth::bearer(authorization)?;
        if let Some(hit) = self.cached_caller(token.as_bytes()) {
            return Ok(hit);
        }
        let use_cache = self.inner.cache_enabled.load(Ordering::Relaxed);
        let now = self.inner.cfg.clock.unix();
        let generation = self.inner.generation.load(Ordering::SeqCst);
        let caller = Arc::new(self.authenticate_uncached(token).await?);
        if use_cache
            && let Some(t) = &caller.token
            && let Ok(mut c) = self.inner.callers.write()
        {
            if c.len() >= TOKEN_CACHE_MAX {
                c.retain(|_, e| now <= e.expires);
                if c.len() >= TOKEN_CACHE_MAX {
                    c.clear();
                }
            }
            c.insert(
                token.as_bytes().into(),
                CachedCaller {
                    caller: caller.clone(),
                    generation,
                    expires: t.expires() + s2s_proto::validate::DEFAULT_SKEW_SECS,
                },
            );
        }
        Ok(caller)
    }

    /// The cached authentication of exactly this bearer (the token text after `Bearer `), if
    /// there is one still current. A whole successful authentication is cached per token until
    /// it expires or the trust changes (any change to auth config, auth servers, partners, roles
    /// or mailboxes' state bumps the generation and empties the cache), so authorization stays
    /// current. Takes bytes: a header's value needs no UTF-8 check to be found here (only tokens
    /// that authenticated are entries, and they are ASCII).
    pub(crate) fn cached_caller(&self, token: &[u8]) -> Option<Arc<Caller>> {
        if !self.inner.cache_enabled.load(Ordering::Relaxed) {
            return None;
        }
        let now = self.inner.cfg.clock.unix();
        let generation = self.inner.generation.load(Ordering::SeqCst);
        let c = self.inner.callers.read().ok()?;
        c.get(token)
            .filter(|hit| hit.generation == generation && now <= hit.expires)
            .map(|hit| hit.caller.clone())
    }

    async fn authenticate_uncached(&self, token: &str) -> Result<Caller, AuthFailure> {
        let mut snap = self.snapshot();
        if snap.policy.is_none() {
            return Err(AuthFailure::NotConfigured);
        }
        let validated = match self.validate(token, &snap) {
            Err(AuthFailure::Token(TokenError::KeyNotFound { iss, .. }))
                if self.may_refresh(&iss) =>
            {
                // an unknown x5t from a trusted auth server: its keys may have rolled; refresh once
                if let Some((_, name, url)) = snap
                    .auth_servers
                    .iter()
                    .find(|(i, _, _)| *i == iss)
                    .cloned()
                    && self.refresh_one(&name, &url).await.is_ok()
                {
                    let _ = self.reload_trust().await;
                }
                snap = self.snapshot();
                self.validate(token, &snap)?
            }
            other => other?,
        };
        let app = validated.app().clone();
        let realm = app.realm.clone();
        let partner = snap
            .partners
            .iter()
            .find(|p| p.app_id.eq_ignore_ascii_case(&app.app_id))
            .ok_or_else(|| AuthFailure::NoPartner {
                app: app.app_id.clone(),
            })?
            .clone();
        // The actor's issuer must be one that may vouch for this partner: an enabled auth server
        // issues for any application of the realm, a partner's own metadata only for that
        // partner. Otherwise a partner with its own signing key could name any other partner.
        let issuer = &validated.actor().issuer;
        if !snap.auth_servers.iter().any(|(i, _, _)| i == issuer)
            && partner.own_issuer.as_deref() != Some(issuer.as_str())
        {
            return Err(AuthFailure::IssuerNotForPartner {
                issuer: issuer.chars().take(200).collect(),
                name: partner.name,
                app: app.app_id.clone(),
            });
        }
        if !partner.realm.is_empty() && partner.realm != realm {
            return Err(AuthFailure::PartnerRealm {
                name: partner.name,
                realm: partner.realm,
                token_realm: realm,
            });
        }
        if !partner.enabled {
            return Err(AuthFailure::PartnerDisabled { name: partner.name });
        }
        let Some(linked) = partner.linked_account_guid.clone() else {
            return Err(AuthFailure::NoLinkedAccount { name: partner.name });
        };
        let lookups = auth::user_lookups(&validated, partner.accept_sid, &partner.name)?;
        let org = self.inner.org.clone();
        let partner_name = partner.name.clone();
        let db = org.db.clone();
        let (roles, user, impersonation_scopes) = db
            .call(move |c| -> Result<_, ExchangeError> {
                let roles = Org::roles_of(c, &linked)?;
                let scopes = Org::impersonation_scopes_of(c, &linked)?;
                let user = org.mailbox_by_claims(c, &lookups)?;
                if !lookups.is_empty() && user.is_none() {
                    return Err(ExchangeError::Auth(AuthFailure::UserNotFound {
                        claims: lookups
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    }));
                }
                Ok((roles, user, scopes))
            })
            .await
            .map_err(|e| match e {
                ExchangeError::Auth(a) => a,
                other => AuthFailure::UserNotFound {
                    claims: other.to_string(),
                },
            })?;
        if roles.is_empty() {
            return Err(AuthFailure::NoRoles { name: partner_name });
        }
        if let Some(u) = &user
            && u.account_disabled
        {
            return Err(AuthFailure::UserDisabled(
                u.primary_smtp_address.clone().unwrap_or_default(),
            ));
        }
        Ok(Caller {
            partner: partner_name.into(),
            app: app.to_string().into(),
            app_limit_key: format!("app:{app}"),
            roles,
            impersonation_scopes,
            user_smtp: user
                .as_ref()
                .and_then(|u| u.primary_smtp_address.as_deref())
                .map(Into::into),
            user,
            record_claims: Arc::new(traffic::record_for_validated(token, &validated)),
            token: Some(validated),
        })
    }

    /// The photo of the mailbox with this SMTP address (GetUserPhoto), if one was set.
    /// ResolveNames: the address-list entries `entry` resolves to ([`org::Org::resolve_names`]),
    /// at most [`MAX_RESOLUTIONS`].
    pub async fn resolve_names(&self, entry: &str) -> Result<Vec<org::Recipient>, ExchangeError> {
        let org = self.inner.org.clone();
        let entry = entry.to_owned();
        org.db
            .clone()
            .call(move |c| org.resolve_names(c, &entry, MAX_RESOLUTIONS))
            .await
    }

    pub async fn user_photo(&self, smtp: &str) -> Result<Option<Vec<u8>>, ExchangeError> {
        let key = self.mailbox_key(smtp).await?;
        match self
            .inner
            .mbx
            .get_user_configuration(
                &key,
                mailbox::FolderSel::Distinguished("root".into()),
                PHOTO_CONFIG.into(),
            )
            .await
        {
            Ok(c) => Ok(c.config.binary_data),
            Err(mailbox::MailboxError::ItemNotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Set-UserPhoto: a JPEG or PNG of at most 4 MiB, kept in the mailbox's root folder.
    pub async fn set_user_photo(&self, identity: &str, data: Vec<u8>) -> Result<(), ExchangeError> {
        let is_jpeg = data.starts_with(&[0xFF, 0xD8, 0xFF]);
        let is_png = data.starts_with(b"\x89PNG\r\n\x1a\n");
        if !(is_jpeg || is_png) {
            return Err(ExchangeError::Invalid(
                "-PictureData must be a JPEG or PNG image".into(),
            ));
        }
        if data.len() > 4 << 20 {
            return Err(ExchangeError::Invalid(format!(
                "-PictureData is {} bytes; at most 4 MiB",
                data.len()
            )));
        }
        let key = self.mailbox_key(identity).await?;
        let root = || mailbox::FolderSel::Distinguished("root".into());
        let cfg = mailbox::UserConfig {
            name: PHOTO_CONFIG.into(),
            dictionary: None,
            xml_data: None,
            binary_data: Some(data),
        };
        match self
            .inner
            .mbx
            .update_user_configuration(&key, root(), cfg.clone())
            .await
        {
            Ok(_) => Ok(()),
            Err(mailbox::MailboxError::ItemNotFound) => self
                .inner
                .mbx
                .create_user_configuration(&key, root(), cfg)
                .await
                .map(|_| ())
                .map_err(Into::into),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn mailbox_key(
        &self,
        identity: &str,
    ) -> Result<mailbox::MailboxKey, ExchangeError> {
        let org = self.inner.org.clone();
        let id = identity.to_owned();
        let db = org.db.clone();
        let r = db.call(move |c| org.get_recipient(c, &id)).await?;
        if !r.is_mailbox() {
            return Err(ExchangeError::Invalid(format!(
                "{identity} is a {}, not a mailbox",
                r.recipient_type
            )));
        }
        let key = mailbox::MailboxKey::new(r.guid)?;
        self.ensure_mailbox_once(&key).await?;
        Ok(key)
    }

    fn may_refresh(&self, issuer: &str) -> bool {
        let now = self.inner.cfg.clock.unix();
        let Ok(mut m) = self.inner.refresh_times.lock() else {
            return false;
        };
        // at most one refresh per issuer per 30 s (regression: the first one used to overflow)
        if m.get(issuer)
            .is_some_and(|last| now.saturating_sub(*last) < 30)
        {
            return false;
        }
        m.insert(issuer.to_owned(), now);
        true
    }

    /// The 401 answer for a failure: Bearer challenge with client_id, trusted_issuers,
    /// token_types and authorization_uri (+ `error="invalid_token"` for a bad token), and the
    /// `x-ms-diagnostics` reason.
    pub fn challenge(&self, failure: &AuthFailure) -> Response {
        let snap = self.snapshot();
        let mut v = format!(
            "Bearer client_id=\"{}\", trusted_issuers=\"{}\", token_types=\"app_asserted_user_v1 service_asserted_app_v1\"",
            s2s_proto::principal::EXCHANGE_APP_ID,
            snap.trusted_issuers.join(",")
        );
        if !snap.authorization_uri.is_empty() {
            v.push_str(&format!(
                ", authorization_uri=\"{}\"",
                snap.authorization_uri
            ));
        }
        if failure.is_bad_token() {
            v.push_str(", error=\"invalid_token\"");
        }
        let status = if matches!(failure, AuthFailure::RateLimited { .. }) {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::UNAUTHORIZED
        };
        let mut h = HeaderMap::new();
        if let Ok(hv) = HeaderValue::from_str(&v) {
            h.insert("www-authenticate", hv);
        }
        if let Ok(hv) = HeaderValue::from_str(&failure.header_value()) {
            h.insert("x-ms-diagnostics", hv);
        }
        if let AuthFailure::RateLimited { retry_after_secs } = failure
            && let Ok(hv) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            h.insert("retry-after", hv);
        }
        (status, h, failure.to_string()).into_response()
    }

    /// All HTTP routes: EWS and Autodiscover (reached through the case-insensitive fallback),
    /// the admin API, health and the clock.
    pub fn router(&self) -> Router {
        let mut r: Router<Exchange> = Router::new();
        if self.inner.cfg.bench_noauth_user.is_some() {
            tracing::warn!(
                "the unauthenticated benchmark route /bench/noauth/EWS/Exchange.asmx is ON"
            );
            r = r.merge(ews::bench_routes());
        }
        r.merge(ews::routes())
            .merge(admin::routes())
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .route(
                "/clock",
                axum::routing::get(
                    |axum::extract::State(ex): axum::extract::State<Exchange>| async move {
                        axum::Json(serde_json::json!({ "unix": ex.inner.cfg.clock.unix() }))
                    },
                ),
            )
            .fallback(ews::fallback)
            .with_state(self.clone())
    }
}
