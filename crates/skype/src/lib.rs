//! The Skype for Business Online partner service (application `00000004-0000-0ff1-ce00-000000000000`).
//!
//! * **Users homed here** (`users`): SIP address, the mailbox they map to (SMTP address, and an
//!   on-premises EWS URL when one is set for the user), Cloud Voicemail, server-side conversation
//!   history, an archiving policy, presence. Managed with cmdlets in the style of Skype Online
//!   (`admin`).
//! * **Where EWS is** (`autodiscover`): the user's own `-ExchangeEwsUrl` when set (an override),
//!   otherwise Exchange Autodiscover (SOAP `GetUserSettings` at the tenant's
//!   `Set-CsOAuthConfiguration -ExchangeAutodiscoverUrl`, authenticated as EWS is), the answer
//!   kept in memory for an hour.
//! * **F1** (`tokens`, `ews`): a client assertion signed with Skype's own key buys an actor token
//!   for `00000002-…/<exchange host>@<realm>` (cached until 5 minutes before it expires); every
//!   EWS call carries a fresh unsigned outer token naming the user. Exchange's realm is discovered
//!   from its 401 challenge (`trusted_issuers`), the audience host from the EWS (or
//!   Autodiscover) URL.
//! * **Verify 1** (`features::greeting`): WAV greetings into `Um.CustomGreetings.External|Oof`.
//! * **Verify 2 and 3** (`features::conversation`, `outbox`): conversation history and archived
//!   IM, written through a durable outbox (see "Nothing lost" below).
//! * **F2** (`presence`): push subscriptions on the user's calendar; Exchange's callbacks are
//!   verified against the Verify keys of the `00000004` service principal, read from the token
//!   service with Skype's own app token.
//!
//! ## Nothing lost
//! `POST /conversations/end` answers as soon as one outbox row per (user, item) is committed.
//! Each row's idempotency key is the item's `InternetMessageId`
//! (`<conversation-id.user-hash.kind@skype.openhybrid>`); before any attempt after the first,
//! the worker asks Exchange (FindItem, `IsEqualTo message:InternetMessageId`) whether the item is
//! already there, so an item is never written twice even when a response was lost. Rows of one
//! user are delivered in order. Failures are classified ([`FailureClass`]):
//! * transient (connection refused, timeout, HTTP 5xx/429, `ErrorServerBusy`): retried with
//!   exponential backoff (base, doubling, capped, ±20 % jitter) until the row is
//!   `max_age_secs` old (default 72 h), then kept as failed;
//! * refused (401 from Exchange, token service 4xx, `ErrorAccessDenied`, …): retried the same way,
//!   and kept as failed once it has failed `refused_attempts` times (default 10) **and** for at
//!   least `refused_min_secs` (default 1 h) — an administrator fixing the trust has that long;
//! * permanent (the request itself is refused, e.g. a schema error, or the user is no longer
//!   homed here): failed after `permanent_attempts` (default 3).
//!
//! A failed row is never deleted: `Get-CsOutbox -Status Failed` shows it with its reason, and
//! `Resume-CsOutbox` queues it again. Delivery resumes after a restart from the table.
#![forbid(unsafe_code)]

pub mod admin;
mod autodiscover;
pub mod client;
mod db;
pub mod error;
mod ews;
pub mod features;
mod http;
pub mod outbox;
pub mod presence;
mod tokens;
pub mod wav;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use s2s_proto::{Certificate, SharedClock, SigningKey};

pub use db::{ArchivingPolicy, OutboxRow, PresenceEvent, SubscriptionRow, User};
pub use error::{FailureClass, SkypeError};
pub use outbox::RetryPolicy;

/// Common name of Skype's own signing certificate.
pub const CERT_SUBJECT: &str = "Skype for Business Online";
const KEY_FILE: &str = "signing-key.pk8";
const CERT_FILE: &str = "signing-cert.cer";
const CREDENTIAL_FILE: &str = "admin-credential";
const DB_FILE: &str = "skype.sqlite";

/// How to run the service.
#[derive(Clone)]
pub struct Config {
    /// None: in memory (tests); the key and the admin credential are then not written anywhere.
    pub data_dir: Option<PathBuf>,
    /// Where Exchange reaches this service (push-notification URLs are built from it).
    pub public_url: String,
    /// The host F2 tokens name in their audience, `00000004-…/<host>@<realm>`. The host of
    /// `public_url` (what Exchange derives from the callback URL) is accepted as well.
    pub host: String,
    /// The token service, e.g. `http://127.0.0.1:5000`.
    pub sts_url: String,
    /// The tenant's realm (a GUID).
    pub realm: String,
    pub clock: SharedClock,
    /// Certificates to trust for HTTPS to the token service and Exchange (DER); empty: the
    /// system's TLS roots are not used, so only plain HTTP works (the lab's default).
    pub tls_roots: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("public_url", &self.public_url)
            .field("host", &self.host)
            .field("sts_url", &self.sts_url)
            .field("realm", &self.realm)
            .finish()
    }
}

/// Tunables that tests (and operators) may change at run time.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub retry: RetryPolicy,
    /// Least seconds between two reads of the Verify keys triggered by an unknown `x5t`.
    pub verify_key_refresh_min_secs: i64,
    /// Seconds a read of the Verify keys is used before it is read again.
    pub verify_key_ttl_secs: i64,
    /// `StatusFrequency` of push subscriptions, minutes.
    pub status_frequency_minutes: u32,
    /// How often the background worker looks for subscriptions to create or renew, seconds.
    pub subscription_check_secs: u64,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            retry: RetryPolicy::default(),
            verify_key_refresh_min_secs: 30,
            verify_key_ttl_secs: 3600,
            status_frequency_minutes: 5,
            subscription_check_secs: 60,
        }
    }
}

pub(crate) struct Inner {
    pub cfg: Config,
    pub db: store::Db,
    pub key: SigningKey,
    pub admin_credential: String,
    pub admin_credential_path: Option<PathBuf>,
    pub http: reqwest::Client,
    pub tuning: RwLock<Tuning>,
    pub tokens: tokens::TokenCache,
    pub verify: Mutex<presence::VerifyCache>,
    pub overrides: RwLock<HashMap<String, String>>,
    /// The tenant's Exchange Autodiscover URL (`Set-CsOAuthConfiguration`), as stored.
    pub autodiscover: RwLock<Option<String>>,
    /// EWS URLs discovered through Autodiscover, by user.
    pub ews_urls: Mutex<autodiscover::EwsUrlCache>,
    pub outbox_wake: tokio::sync::Notify,
    pub subscription_wake: tokio::sync::Notify,
    /// Wakes the keeper for a presence change due before it planned to wake
    /// (`keeper_wake_at`, unix seconds).
    pub presence_wake: tokio::sync::Notify,
    pub keeper_wake_at: std::sync::atomic::AtomicI64,
    pub background: AtomicBool,
}

/// The service. Cheap to clone.
#[derive(Clone)]
pub struct Skype {
    pub(crate) inner: Arc<Inner>,
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SkypeError> {
    store::private::write_new(path, bytes).map_err(SkypeError::io(path))
}

fn fresh_secret() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    s2s_proto::b64::url_encode(b)
}

fn load_or_create_key(dir: Option<&Path>, clock: &SharedClock) -> Result<SigningKey, SkypeError> {
    let generate = || {
        let now = clock.now();
        SigningKey::generate_self_signed(
            CERT_SUBJECT,
            now - time::Duration::hours(1),
            now + time::Duration::days(2 * 365),
        )
    };
    let Some(dir) = dir else {
        return Ok(generate()?);
    };
    let (kp, cp) = (dir.join(KEY_FILE), dir.join(CERT_FILE));
    if kp.exists() {
        // owner-only, also when an older version left them looser
        store::private::tighten(&kp)?;
        store::private::tighten(&cp)?;
        let k = std::fs::read(&kp).map_err(SkypeError::io(&kp))?;
        let c = std::fs::read(&cp).map_err(SkypeError::io(&cp))?;
        return Ok(SigningKey::from_pkcs8(&k, &c)?);
    }
    let key = generate()?;
    // the certificate first: a key file without its certificate would be unusable
    // (owner-only as everything in the data directory, though a certificate is public; one
    // left by an interrupted first start is replaced)
    match std::fs::remove_file(&cp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(SkypeError::io(&cp)(e)),
        _ => {}
    }
    write_private(&cp, key.certificate().der())?;
    write_private(&kp, key.pkcs8_der())?;
    Ok(key)
}

fn load_or_create_credential(dir: Option<&Path>) -> Result<(String, Option<PathBuf>), SkypeError> {
    let Some(dir) = dir else {
        return Ok((fresh_secret(), None));
    };
    let path = dir.join(CREDENTIAL_FILE);
    if path.exists() {
        store::private::tighten(&path)?;
        let s = std::fs::read_to_string(&path).map_err(SkypeError::io(&path))?;
        let s = s.trim().to_owned();
        if s.is_empty() {
            return Err(SkypeError::Config(format!("{} is empty", path.display())));
        }
        return Ok((s, Some(path)));
    }
    let cred = fresh_secret();
    write_private(&path, cred.as_bytes())?;
    Ok((cred, Some(path)))
}

impl Skype {
    /// Opens the service: on first start creates the data directory, Skype's RSA-2048 signing
    /// key with its self-signed certificate (CN "Skype for Business Online"), the admin
    /// credential and the database.
    pub fn open(cfg: Config) -> Result<Skype, SkypeError> {
        for (name, v) in [("public_url", &cfg.public_url), ("sts_url", &cfg.sts_url)] {
            if !(v.starts_with("http://") || v.starts_with("https://")) {
                return Err(SkypeError::Config(format!(
                    "{name} must be an http(s) URL, not {v:?}"
                )));
            }
        }
        if cfg.realm.is_empty() || cfg.host.is_empty() {
            return Err(SkypeError::Config("realm and host are required".into()));
        }
        if let Some(d) = &cfg.data_dir {
            // owner-only (0700): it holds Skype's signing key, the admin credential and the
            // database with the per-user callback keys (0600, made so by `Db::open`)
            store::private::ensure_private_dir(d)?;
        }
        let key = load_or_create_key(cfg.data_dir.as_deref(), &cfg.clock)?;
        let (admin_credential, admin_credential_path) =
            load_or_create_credential(cfg.data_dir.as_deref())?;
        let db = match &cfg.data_dir {
            Some(d) => store::Db::open(&d.join(DB_FILE), db::MIGRATIONS)?,
            None => store::Db::open_in_memory(db::MIGRATIONS)?,
        };
        let overrides = db.call_blocking(db::host_overrides)?;
        let autodiscover = db.call_blocking(db::autodiscover_url)?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(20))
            .redirect(reqwest::redirect::Policy::none());
        for r in &cfg.tls_roots {
            let c = reqwest::Certificate::from_der(r)
                .map_err(|e| SkypeError::Config(format!("TLS root: {e}")))?;
            builder = builder.add_root_certificate(c);
        }
        let http = builder
            .build()
            .map_err(|e| SkypeError::Config(format!("HTTP client: {e}")))?;
        Ok(Skype {
            inner: Arc::new(Inner {
                cfg,
                db,
                key,
                admin_credential,
                admin_credential_path,
                http,
                tuning: RwLock::new(Tuning::default()),
                tokens: tokens::TokenCache::default(),
                verify: Mutex::new(presence::VerifyCache::default()),
                overrides: RwLock::new(overrides),
                autodiscover: RwLock::new(autodiscover),
                ews_urls: Mutex::new(autodiscover::EwsUrlCache::default()),
                outbox_wake: tokio::sync::Notify::new(),
                subscription_wake: tokio::sync::Notify::new(),
                presence_wake: tokio::sync::Notify::new(),
                keeper_wake_at: std::sync::atomic::AtomicI64::new(i64::MAX),
                background: AtomicBool::new(false),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.cfg
    }

    /// Skype's own certificate: what the token service's first-party registry must hold for
    /// `00000004-…` before Skype can obtain tokens.
    pub fn signing_certificate(&self) -> &Certificate {
        self.inner.key.certificate()
    }

    pub fn admin_credential(&self) -> &str {
        &self.inner.admin_credential
    }

    /// The file holding the admin credential (mode 0600); None when running in memory.
    pub fn admin_credential_path(&self) -> Option<&Path> {
        self.inner.admin_credential_path.as_deref()
    }

    pub fn tuning(&self) -> Tuning {
        self.inner
            .tuning
            .read()
            .map(|t| t.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn set_tuning(&self, t: Tuning) {
        match self.inner.tuning.write() {
            Ok(mut g) => *g = t,
            Err(p) => *p.into_inner() = t,
        }
        self.inner.outbox_wake.notify_one();
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.cfg.clock.unix()
    }

    /// All HTTP routes: the user-facing service API, the admin API, Exchange's notification
    /// callbacks, health.
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    /// Starts the outbox worker and the subscription keeper (once; later calls do nothing).
    pub fn spawn_background(&self) {
        if self.inner.background.swap(true, Ordering::SeqCst) {
            return;
        }
        outbox::spawn_worker(self.clone());
        presence::spawn_keeper(self.clone());
    }
}
