//! Where a user's EWS is (flow F1), found as Skype for Business finds it: the user's own
//! `-ExchangeEwsUrl` when one is set (an override), otherwise Exchange Autodiscover at the
//! tenant's `Set-CsOAuthConfiguration -ExchangeAutodiscoverUrl`.
//!
//! Autodiscover is asked with SOAP `GetUserSettings` (MS-OXWSADISC) for the user's primary SMTP
//! address, requesting `ExternalEwsUrl` and `InternalEwsUrl`, authenticated exactly as an EWS
//! call: the same F1 bearer (an unsigned outer token naming the user around the actor token),
//! whose audience host is the Autodiscover URL's host. A 401 saying `invalid_token` is retried
//! once with a fresh realm discovery and actor token. `ExternalEwsUrl` is used, else
//! `InternalEwsUrl`.
//!
//! A discovered URL is kept in memory per user ([`EwsUrlCache`]): at most
//! [`DISCOVERED_TTL_SECS`] by the service's clock, at most [`MAX_DISCOVERED`] users (the oldest
//! go first), forgotten when a call to it cannot connect (the next call discovers again), and all
//! of them when the Autodiscover URL is set.

use std::collections::HashMap;

use ews_proto::EwsProtoError;
use ews_proto::autodiscover::{self as ad, AutodiscoverCode, UserResult};
use ews_proto::xml::Limits;

use crate::Skype;
use crate::db::{self, User};
use crate::error::SkypeError;
use crate::ews::refusal;
use crate::tokens::{read_capped, unreachable};

/// How long a discovered EWS URL is used before Autodiscover is asked again, seconds.
pub const DISCOVERED_TTL_SECS: i64 = 3600;
/// Most users whose discovered EWS URL is kept.
pub const MAX_DISCOVERED: usize = 10_000;
/// Largest Autodiscover answer read (one user, two settings: about 2 KB).
pub const MAX_AUTODISCOVER_RESPONSE_BYTES: usize = 256 << 10;
/// What Skype asks Autodiscover for, in order of preference.
const REQUESTED: [&str; 2] = ["ExternalEwsUrl", "InternalEwsUrl"];
/// Longest message from Exchange repeated in an error.
const MAX_MESSAGE_CHARS: usize = 300;

/// A user's EWS URL and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EwsUrl {
    /// Set for the user (`Enable-CsUser`/`Set-CsUser -ExchangeEwsUrl`): wins over Autodiscover.
    Explicit(String),
    /// Given by Exchange Autodiscover.
    Discovered {
        url: String,
        /// The setting it came from (`ExternalEwsUrl` or `InternalEwsUrl`).
        setting: String,
        /// The Autodiscover URL that was asked.
        autodiscover: String,
        /// Taken from the cache rather than asked now.
        cached: bool,
    },
}

impl EwsUrl {
    pub fn url(&self) -> &str {
        match self {
            EwsUrl::Explicit(u) => u,
            EwsUrl::Discovered { url, .. } => url,
        }
    }

    /// One line for diagnostics: the URL and where it came from.
    pub fn describe(&self) -> String {
        match self {
            EwsUrl::Explicit(u) => {
                format!("{u} (explicit: the user's -ExchangeEwsUrl, which overrides Autodiscover)")
            }
            EwsUrl::Discovered {
                url,
                setting,
                autodiscover,
                cached,
            } => format!(
                "{url} (discovered: {setting} from Exchange Autodiscover {autodiscover}{})",
                if *cached { ", cached" } else { "" }
            ),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    smtp: String,
    url: String,
    setting: String,
    at: i64,
}

/// Discovered EWS URLs by user (SIP address), each for the SMTP address it was discovered for.
/// Times are the caller's clock readings.
#[derive(Debug, Default)]
pub struct EwsUrlCache {
    entries: HashMap<String, Entry>,
    /// Bumped by every forget and clear: a discovery that started before one is not kept.
    generation: u64,
}

fn fresh(e: &Entry, now: i64) -> bool {
    // a clock that went back counts as expired rather than as young
    (0..DISCOVERED_TTL_SECS).contains(&(now - e.at))
}

impl EwsUrlCache {
    /// The URL (and its setting) discovered for `sip` with address `smtp`, if still fresh.
    pub fn get(&self, sip: &str, smtp: &str, now: i64) -> Option<(&str, &str)> {
        self.entries
            .get(sip)
            .filter(|e| e.smtp.eq_ignore_ascii_case(smtp) && fresh(e, now))
            .map(|e| (e.url.as_str(), e.setting.as_str()))
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Keeps a discovered URL, unless the cache was forgotten or cleared since `generation` was
    /// read. At most [`MAX_DISCOVERED`] entries: expired ones go first, then the oldest.
    pub fn put(
        &mut self,
        generation: u64,
        sip: &str,
        smtp: &str,
        url: &str,
        setting: &str,
        now: i64,
    ) -> bool {
        if generation != self.generation {
            return false;
        }
        if !self.entries.contains_key(sip) && self.entries.len() >= MAX_DISCOVERED {
            self.entries.retain(|_, e| fresh(e, now));
            while self.entries.len() >= MAX_DISCOVERED {
                let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.at)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(
            sip.to_owned(),
            Entry {
                smtp: smtp.to_owned(),
                url: url.to_owned(),
                setting: setting.to_owned(),
                at: now,
            },
        );
        true
    }

    /// Forgets one user's URL; true when there was one.
    pub fn forget(&mut self, sip: &str) -> bool {
        self.generation += 1;
        self.entries.remove(sip).is_some()
    }

    pub fn clear(&mut self) {
        self.generation += 1;
        self.entries.clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Checks an `-ExchangeAutodiscoverUrl`: an absolute http(s) URL of Exchange's SOAP Autodiscover
/// service, without credentials, query or fragment. The error says what is wrong and what to
/// send.
pub fn check_autodiscover_url(u: &str) -> Result<String, String> {
    let example = |host: &str, scheme: &str| {
        format!("send e.g. {scheme}://{host}/autodiscover/autodiscover.svc")
    };
    let shown: String = u.chars().take(200).collect();
    let p = reqwest::Url::parse(u).map_err(|e| {
        format!(
            "{shown:?} is not an absolute URL ({e}); {}",
            example("mail.contoso.com", "https")
        )
    })?;
    let host = p.host_str().unwrap_or_default().to_owned();
    let host_or = |h: &str| {
        if h.is_empty() {
            "mail.contoso.com".to_owned()
        } else {
            h.to_owned()
        }
    };
    if !matches!(p.scheme(), "http" | "https") {
        return Err(format!(
            "{shown:?} is a {} URL; Autodiscover is reached over http or https: {}",
            p.scheme(),
            example(&host_or(&host), "https")
        ));
    }
    if host.is_empty() {
        return Err(format!(
            "{shown:?} names no host; {}",
            example("mail.contoso.com", p.scheme())
        ));
    }
    let authority = match p.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    if !p.username().is_empty() || p.password().is_some() {
        return Err(format!(
            "the URL must not carry credentials (Skype authenticates to Autodiscover with OAuth); {}",
            example(&authority, p.scheme())
        ));
    }
    if p.query().is_some() || p.fragment().is_some() {
        return Err(format!(
            "{shown:?} has a query or fragment, which Autodiscover does not take; {}",
            example(&authority, p.scheme())
        ));
    }
    if !p
        .path()
        .trim_end_matches('/')
        .to_ascii_lowercase()
        .ends_with("/autodiscover/autodiscover.svc")
    {
        return Err(format!(
            "{shown:?} is not Exchange's SOAP Autodiscover service (path {:?}; Skype asks GetUserSettings at \
             /autodiscover/autodiscover.svc, not the POX autodiscover.xml or the v2 autodiscover.json); {}",
            p.path(),
            example(&authority, p.scheme())
        ));
    }
    Ok(u.to_owned())
}

fn shorten(s: &str) -> String {
    s.chars().take(MAX_MESSAGE_CHARS).collect()
}

fn usable(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(p)
            if matches!(p.scheme(), "http" | "https")
                && p.host_str().is_some_and(|h| !h.is_empty()) =>
        {
            Ok(())
        }
        _ => Err(format!("{:?} is not an http(s) URL", shorten(url))),
    }
}

/// The EWS URL in Autodiscover's answer for `user` (asked alone): `ExternalEwsUrl`, else
/// `InternalEwsUrl`; with the setting it came from.
pub(crate) fn pick_ews_url(
    results: Vec<UserResult>,
    autodiscover: &str,
    user: &User,
) -> Result<(String, String), SkypeError> {
    let mut results = results.into_iter();
    let (Some(result), None) = (results.next(), results.next()) else {
        return Err(SkypeError::AutodiscoverUnreadable {
            url: autodiscover.to_owned(),
            why: "the answer does not carry exactly one UserResponse for the one user asked".into(),
        });
    };
    let (settings, errors) = match result {
        UserResult::Found { settings, errors } => (settings, errors),
        UserResult::Failed {
            code: code @ (AutodiscoverCode::InvalidUser | AutodiscoverCode::InvalidDomain),
            message,
        } => {
            return Err(SkypeError::AutodiscoverUnknownUser {
                url: autodiscover.to_owned(),
                user: user.sip_address.clone(),
                smtp: user.primary_smtp_address.clone(),
                code: code.as_str().to_owned(),
                message: shorten(&message),
            });
        }
        UserResult::Failed { code, message } => {
            return Err(SkypeError::AutodiscoverFailed {
                url: autodiscover.to_owned(),
                code: code.as_str().to_owned(),
                message: format!("for {}: {}", user.primary_smtp_address, shorten(&message)),
            });
        }
    };
    let mut unusable = Vec::new();
    for name in REQUESTED {
        let Some((_, value)) = settings
            .iter()
            .find(|(n, v)| n == name && !v.trim().is_empty())
        else {
            continue;
        };
        let value = value.trim();
        match usable(value) {
            Ok(()) => return Ok((value.to_owned(), name.to_owned())),
            Err(why) => unusable.push(format!("{name} {why}")),
        }
    }
    let mut why = if unusable.is_empty() {
        "the answer has neither ExternalEwsUrl nor InternalEwsUrl".to_owned()
    } else {
        unusable.join("; ")
    };
    let errs: Vec<String> = errors
        .iter()
        .filter(|e| REQUESTED.contains(&e.name.as_str()))
        .map(|e| format!("{}: {} {}", e.name, e.code, shorten(&e.message)))
        .collect();
    if !errs.is_empty() {
        why.push_str(&format!(" ({})", errs.join("; ")));
    }
    why.push_str("; check Get-WebServicesVirtualDirectory on Exchange, or give the user's EWS URL with Set-CsUser -ExchangeEwsUrl");
    Err(SkypeError::AutodiscoverNoEwsUrl {
        url: autodiscover.to_owned(),
        user: user.sip_address.clone(),
        why,
    })
}

impl Skype {
    /// The tenant's Autodiscover URL (`Set-CsOAuthConfiguration -ExchangeAutodiscoverUrl`).
    pub(crate) fn autodiscover_url(&self) -> Option<String> {
        match self.inner.autodiscover.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Sets (or, with None, clears) the Autodiscover URL, and forgets every discovered EWS URL.
    pub(crate) async fn set_autodiscover_url(&self, url: Option<String>) -> Result<(), SkypeError> {
        let u = url.clone();
        self.inner
            .db
            .call(move |c| db::set_autodiscover_url(c, u.as_deref()))
            .await?;
        match self.inner.autodiscover.write() {
            Ok(mut g) => *g = url,
            Err(p) => *p.into_inner() = url,
        }
        self.with_ews_urls(EwsUrlCache::clear);
        self.inner.outbox_wake.notify_one();
        Ok(())
    }

    fn with_ews_urls<T>(&self, f: impl FnOnce(&mut EwsUrlCache) -> T) -> T {
        match self.inner.ews_urls.lock() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// The EWS URL discovered for `user` and still fresh, without asking anyone.
    pub(crate) fn discovered_ews_url(&self, user: &User) -> Option<String> {
        let now = self.now();
        self.with_ews_urls(|c| {
            c.get(&user.sip_address, &user.primary_smtp_address, now)
                .map(|(u, _)| u.to_owned())
        })
    }

    /// Forgets the EWS URL discovered for a user (the next call discovers again).
    pub(crate) fn forget_ews_url(&self, sip: &str) -> bool {
        self.with_ews_urls(|c| c.forget(sip))
    }

    /// Where `user`'s EWS is: the explicit URL, or the one Autodiscover gives (from the cache
    /// unless `fresh`).
    pub(crate) async fn ews_url(&self, user: &User, fresh: bool) -> Result<EwsUrl, SkypeError> {
        if let Some(u) = &user.exchange_ews_url {
            return Ok(EwsUrl::Explicit(u.clone()));
        }
        let Some(autodiscover) = self.autodiscover_url() else {
            return Err(SkypeError::NoEwsUrl {
                user: user.sip_address.clone(),
            });
        };
        let now = self.now();
        let (cached, generation) = self.with_ews_urls(|c| {
            (
                c.get(&user.sip_address, &user.primary_smtp_address, now)
                    .map(|(u, s)| (u.to_owned(), s.to_owned())),
                c.generation(),
            )
        });
        if !fresh && let Some((url, setting)) = cached {
            return Ok(EwsUrl::Discovered {
                url,
                setting,
                autodiscover,
                cached: true,
            });
        }
        let (url, setting) = self.get_user_settings(&autodiscover, user).await?;
        let now = self.now();
        self.with_ews_urls(|c| {
            c.put(
                generation,
                &user.sip_address,
                &user.primary_smtp_address,
                &url,
                &setting,
                now,
            )
        });
        tracing::info!(
            user = %user.sip_address,
            ews_url = %url,
            setting = %setting,
            autodiscover = %autodiscover,
            "EWS URL discovered"
        );
        Ok(EwsUrl::Discovered {
            url,
            setting,
            autodiscover,
            cached: false,
        })
    }

    /// SOAP `GetUserSettings` for `user` at `autodiscover`, as `user` (F1).
    async fn get_user_settings(
        &self,
        autodiscover: &str,
        user: &User,
    ) -> Result<(String, String), SkypeError> {
        let t = self.target(autodiscover)?;
        let body = ad::get_user_settings_request(&[&user.primary_smtp_address], &REQUESTED);
        let limits = Limits {
            max_input_bytes: MAX_AUTODISCOVER_RESPONSE_BYTES,
            ..Limits::default()
        };
        let mut fresh = false;
        loop {
            let (bearer, resource) = self.user_bearer(&t, user, fresh).await?;
            let r = self
                .inner
                .http
                .post(&t.connect)
                .bearer_auth(bearer)
                .header("content-type", "text/xml; charset=utf-8")
                .header("soapaction", ad::GET_USER_SETTINGS_ACTION)
                .header("x-anchormailbox", &user.primary_smtp_address)
                .body(body.clone())
                .send()
                .await
                .map_err(|e| unreachable(&t.connect, e))?;
            let status = r.status().as_u16();
            if status == 401 {
                let refused = refusal(r, &t.connect).await;
                if refused.invalid_token && !fresh {
                    self.forget(&t, &resource);
                    fresh = true;
                    continue;
                }
                return Err(SkypeError::AutodiscoverRefused {
                    url: autodiscover.to_owned(),
                    diagnostics: refused.diagnostics,
                    invalid_token: refused.invalid_token,
                });
            }
            let bytes = read_capped(r, MAX_AUTODISCOVER_RESPONSE_BYTES, &t.connect).await?;
            let snippet = || String::from_utf8_lossy(&bytes).chars().take(300).collect();
            if status != 200 && status != 500 {
                return Err(SkypeError::HttpStatus {
                    url: t.connect.clone(),
                    status,
                    detail: snippet(),
                });
            }
            return match ad::parse_get_user_settings_response(&bytes, &limits) {
                Ok(results) => pick_ews_url(results, autodiscover, user),
                Err(
                    EwsProtoError::SoapFault { code, message }
                    | EwsProtoError::AutodiscoverRefused { code, message },
                ) => Err(SkypeError::AutodiscoverFailed {
                    url: autodiscover.to_owned(),
                    code,
                    message,
                }),
                // a server error that is no SOAP answer at all
                Err(_) if status == 500 => Err(SkypeError::HttpStatus {
                    url: t.connect.clone(),
                    status,
                    detail: snippet(),
                }),
                Err(e) => Err(SkypeError::AutodiscoverUnreadable {
                    url: autodiscover.to_owned(),
                    why: e.to_string(),
                }),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ews_proto::autodiscover::SettingError;
    use s2s_proto::clock::ManualClock;

    use super::*;

    const AD: &str = "https://mail.contoso.example/autodiscover/autodiscover.svc";

    fn user(sip: &str, url: Option<&str>) -> User {
        User {
            sip_address: sip.into(),
            user_principal_name: sip.into(),
            display_name: sip.into(),
            primary_smtp_address: sip.into(),
            exchange_ews_url: url.map(str::to_owned),
            enterprise_voice_enabled: false,
            hosted_voice_mail: false,
            enable_server_conversation_history: None,
            archiving_policy: None,
            presence: String::new(),
            presence_changed: 0,
            presence_note: None,
        }
    }

    fn skype(clock: &ManualClock) -> Skype {
        Skype::open(crate::Config {
            data_dir: None,
            public_url: "http://127.0.0.1:9".into(),
            host: "skype.contoso.example".into(),
            sts_url: "http://127.0.0.1:9".into(),
            realm: "3f0c8f6e-1111-4222-8333-0123456789e9".into(),
            clock: Arc::new(clock.clone()),
            tls_roots: vec![],
        })
        .unwrap()
    }

    /// A discovered URL is used for DISCOVERED_TTL_SECS by the injected clock, then no more; a
    /// clock moved back does not make it young again.
    #[tokio::test]
    async fn discovered_urls_expire_by_the_injected_clock() {
        let clock = ManualClock::new(1_800_000_000);
        let s = skype(&clock);
        let a = user("a@contoso.example", None);
        let g = s.with_ews_urls(|c| c.generation());
        assert!(s.with_ews_urls(|c| c.put(
            g,
            &a.sip_address,
            &a.primary_smtp_address,
            "https://ews.contoso.example/EWS/Exchange.asmx",
            "ExternalEwsUrl",
            s.now(),
        )));
        assert_eq!(
            s.discovered_ews_url(&a).as_deref(),
            Some("https://ews.contoso.example/EWS/Exchange.asmx")
        );
        clock.advance(DISCOVERED_TTL_SECS - 1);
        assert!(s.discovered_ews_url(&a).is_some(), "still fresh");
        clock.advance(1);
        assert_eq!(s.discovered_ews_url(&a), None, "expired");
        clock.advance(-DISCOVERED_TTL_SECS - 10);
        assert_eq!(s.discovered_ews_url(&a), None, "a clock moved back");
        // another address for the same user is another lookup
        clock.set(1_800_000_000);
        assert!(s.discovered_ews_url(&a).is_some());
        let moved = User {
            primary_smtp_address: "a.new@contoso.example".into(),
            ..a.clone()
        };
        assert_eq!(s.discovered_ews_url(&moved), None);
    }

    /// With an Autodiscover URL set, a fresh cached URL is used as it is (no request is made:
    /// the token service and Exchange are unreachable here); setting the URL again forgets it.
    #[tokio::test]
    async fn a_cached_url_is_used_and_setting_the_autodiscover_url_forgets_it() {
        let clock = ManualClock::new(1_800_000_000);
        let s = skype(&clock);
        let a = user("a@contoso.example", None);
        match s.ews_url(&a, false).await {
            Err(SkypeError::NoEwsUrl { user }) => assert_eq!(user, "a@contoso.example"),
            other => panic!("{other:?}"),
        }
        let msg = SkypeError::NoEwsUrl {
            user: "a@contoso.example".into(),
        }
        .to_string();
        assert!(
            msg.contains("Set-CsOAuthConfiguration -ExchangeAutodiscoverUrl")
                && msg.contains("Set-CsUser -Identity sip:a@contoso.example -ExchangeEwsUrl"),
            "{msg}"
        );
        s.set_autodiscover_url(Some(AD.into())).await.unwrap();
        let g = s.with_ews_urls(|c| c.generation());
        s.with_ews_urls(|c| {
            c.put(
                g,
                "a@contoso.example",
                "a@contoso.example",
                "https://ews.contoso.example/EWS/Exchange.asmx",
                "InternalEwsUrl",
                1_800_000_000,
            )
        });
        let got = s.ews_url(&a, false).await.unwrap();
        assert_eq!(
            got,
            EwsUrl::Discovered {
                url: "https://ews.contoso.example/EWS/Exchange.asmx".into(),
                setting: "InternalEwsUrl".into(),
                autodiscover: AD.into(),
                cached: true,
            }
        );
        assert!(
            got.describe().contains("discovered: InternalEwsUrl"),
            "{}",
            got.describe()
        );
        // an explicit URL wins, whatever is cached
        let b = user(
            "a@contoso.example",
            Some("https://explicit.example/EWS/Exchange.asmx"),
        );
        let got = s.ews_url(&b, false).await.unwrap();
        assert_eq!(
            got,
            EwsUrl::Explicit("https://explicit.example/EWS/Exchange.asmx".into())
        );
        assert!(got.describe().contains("explicit"), "{}", got.describe());
        // Set-CsOAuthConfiguration forgets every discovered URL
        s.set_autodiscover_url(Some(AD.into())).await.unwrap();
        assert_eq!(s.discovered_ews_url(&a), None);
        assert_eq!(s.autodiscover_url().as_deref(), Some(AD));
        s.set_autodiscover_url(None).await.unwrap();
        assert_eq!(s.autodiscover_url(), None);
    }

    #[test]
    fn the_cache_is_bounded_expired_then_oldest_first() {
        let mut c = EwsUrlCache::default();
        let g = c.generation();
        for i in 0..MAX_DISCOVERED {
            let sip = format!("u{i}@x.example");
            // the first 10 have expired by the time the cache is full; u10 is the oldest after
            let at = match i {
                0..10 => 0,
                10 => 99_999,
                _ => 100_000,
            };
            assert!(c.put(g, &sip, &sip, "https://e/EWS", "ExternalEwsUrl", at));
        }
        assert_eq!(c.len(), MAX_DISCOVERED);
        let now = 100_001;
        c.put(
            g,
            "new@x.example",
            "new@x.example",
            "https://e/EWS",
            "ExternalEwsUrl",
            now,
        );
        assert_eq!(c.len(), MAX_DISCOVERED - 9, "the expired ones went");
        for i in 0..10 {
            c.put(
                g,
                &format!("more{i}@x.example"),
                "m",
                "https://e/EWS",
                "ExternalEwsUrl",
                now,
            );
        }
        assert_eq!(c.len(), MAX_DISCOVERED, "never more than the bound");
        assert!(
            c.get("u10@x.example", "u10@x.example", now).is_none(),
            "the oldest went"
        );
        assert!(c.get("u11@x.example", "u11@x.example", now).is_some());
        assert!(c.get("new@x.example", "new@x.example", now).is_some());
        // updating an entry that is there evicts nothing
        c.put(
            g,
            "u11@x.example",
            "u11@x.example",
            "https://f/EWS",
            "ExternalEwsUrl",
            now,
        );
        assert_eq!(c.len(), MAX_DISCOVERED);
        assert_eq!(
            c.get("u11@x.example", "u11@x.example", now),
            Some(("https://f/EWS", "ExternalEwsUrl"))
        );
    }

    /// A discovery that started before a forget or a clear is not kept (it may be stale).
    #[test]
    fn a_discovery_from_before_a_clear_is_not_kept() {
        let mut c = EwsUrlCache::default();
        let g = c.generation();
        c.clear();
        assert!(!c.put(g, "a", "a", "https://e/EWS", "ExternalEwsUrl", 1));
        assert!(c.is_empty());
        let g = c.generation();
        assert!(c.put(g, "a", "a", "https://e/EWS", "ExternalEwsUrl", 1));
        assert!(c.forget("a"));
        assert!(!c.forget("a"));
        assert!(!c.put(g, "a", "a", "https://e/EWS", "ExternalEwsUrl", 1));
    }

    fn found(settings: &[(&str, &str)]) -> Vec<UserResult> {
        vec![UserResult::Found {
            settings: settings
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            errors: vec![SettingError {
                name: "ExternalEwsUrl".into(),
                code: AutodiscoverCode::SettingIsNotAvailable,
                message: "not published".into(),
            }],
        }]
    }

    #[test]
    fn external_ews_url_first_then_internal_each_failure_its_own_error() {
        let a = user("a@contoso.example", None);
        let pick = |r| pick_ews_url(r, AD, &a);
        assert_eq!(
            pick(found(&[
                ("InternalEwsUrl", "https://int/EWS/Exchange.asmx"),
                ("ExternalEwsUrl", "https://ext/EWS/Exchange.asmx"),
            ]))
            .unwrap(),
            (
                "https://ext/EWS/Exchange.asmx".to_owned(),
                "ExternalEwsUrl".to_owned()
            )
        );
        assert_eq!(
            pick(found(&[
                ("ExternalEwsUrl", " "),
                ("InternalEwsUrl", "https://int/EWS/Exchange.asmx"),
            ]))
            .unwrap()
            .1,
            "InternalEwsUrl"
        );
        match pick(found(&[("AutoDiscoverSMTPAddress", "a@contoso.example")])) {
            Err(e @ SkypeError::AutodiscoverNoEwsUrl { .. }) => {
                let m = e.to_string();
                assert!(
                    m.contains("neither ExternalEwsUrl nor InternalEwsUrl")
                        && m.contains("SettingIsNotAvailable not published")
                        && m.contains("sip:a@contoso.example"),
                    "{m}"
                );
                assert_eq!(e.failure_class(), crate::FailureClass::Refused);
            }
            other => panic!("{other:?}"),
        }
        match pick(found(&[("ExternalEwsUrl", "ftp://ext/EWS")])) {
            Err(SkypeError::AutodiscoverNoEwsUrl { why, .. }) => {
                assert!(why.contains("is not an http(s) URL"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        for code in [
            AutodiscoverCode::InvalidUser,
            AutodiscoverCode::InvalidDomain,
        ] {
            let e = pick(vec![UserResult::Failed {
                code,
                message: "No mailbox with address a@contoso.example was found.".into(),
            }])
            .unwrap_err();
            assert!(
                matches!(e, SkypeError::AutodiscoverUnknownUser { .. }),
                "{e:?}"
            );
            let m = e.to_string();
            assert!(
                m.contains("sip:a@contoso.example")
                    && m.contains(code.as_str())
                    && m.contains("No mailbox with address"),
                "{m}"
            );
            assert_eq!(e.status(), 502);
        }
        let e = pick(vec![UserResult::Failed {
            code: AutodiscoverCode::ServerBusy,
            message: "later".into(),
        }])
        .unwrap_err();
        assert!(matches!(e, SkypeError::AutodiscoverFailed { .. }), "{e:?}");
        assert_eq!(e.failure_class(), crate::FailureClass::Transient);
        for wrong in [vec![], [found(&[]), found(&[])].concat()] {
            assert!(matches!(
                pick(wrong),
                Err(SkypeError::AutodiscoverUnreadable { .. })
            ));
        }
    }

    #[test]
    fn autodiscover_url_is_checked_with_what_to_send() {
        assert_eq!(check_autodiscover_url(AD).as_deref(), Ok(AD));
        assert!(
            check_autodiscover_url("http://127.0.0.1:8080/Autodiscover/Autodiscover.svc").is_ok()
        );
        for (bad, want) in [
            (
                "mail.contoso.example/autodiscover/autodiscover.svc",
                "not an absolute URL",
            ),
            (
                "ftp://mail.contoso.example/autodiscover/autodiscover.svc",
                "a ftp URL",
            ),
            (
                "https://mail.contoso.example",
                "not Exchange's SOAP Autodiscover service",
            ),
            (
                "https://mail.contoso.example/autodiscover/autodiscover.xml",
                "not the POX autodiscover.xml",
            ),
            (
                "https://u:p@mail.contoso.example/autodiscover/autodiscover.svc",
                "must not carry credentials",
            ),
            (
                "https://mail.contoso.example/autodiscover/autodiscover.svc?x=1",
                "query or fragment",
            ),
        ] {
            let why = check_autodiscover_url(bad).unwrap_err();
            assert!(why.contains(want), "{bad}: {why}");
            assert!(
                why.contains("/autodiscover/autodiscover.svc"),
                "{bad}: {why}"
            );
        }
    }
}
