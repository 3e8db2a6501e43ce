//! Calendar-based presence (flow F2).
//!
//! Skype subscribes, as each user, to the user's calendar (EWS push subscription, callback URL
//! `{public_url}/ews/notifications/{key}` with an unguessable key per user). Exchange calls back
//! with `SendNotification`, authenticated by a token it signs with its auth certificate
//! (`iss` = `nameid` = `00000002-…@<realm>`, `aud` = `00000004-…/<skype host>@<realm>`, RS256,
//! `x5t`). The token is accepted only when that certificate is a Verify key credential of the
//! `00000004` service principal, read from the token service
//! (`GET /{realm}/firstparty/00000004-…/verify-keys`, with Skype's own app token), cached, and
//! read again when an unknown `x5t` arrives (at most once per `verify_key_refresh_min_secs`).
//! Each verified notification with item events re-reads the calendar (CalendarView from now to a
//! day ahead, as the user) and sets presence to "In a meeting" while a Busy or OOF item is on,
//! "Off Work" outside the working hours the mailbox keeps (the `WorkHours` configuration in its
//! Calendar folder; a mailbox without them is never off work), "Available" otherwise. Presence
//! follows the clock, not only the callbacks: each read notes
//! when it next changes by itself (the next start or end of a Busy or OOF item in that day, of
//! the working hours, or of a scheduled out-of-office period), and the keeper reads the calendar again then, so a meeting
//! that ends ends "In a meeting" without any change to the mailbox. Every callback, accepted or refused, is recorded (`Get-CsPresenceEvents`, which
//! lists the newest accepted and the newest refused ones side by side). Anyone can send a refused
//! one, so refusals never evict accepted events (each verdict keeps its own newest rows), and
//! those of one source (peer address, an IPv6 peer's /64) for one user are recorded at a bounded
//! rate, the rest counted on the last one recorded (`Repeats`).

use std::net::IpAddr;

use ews_proto::notification::{
    NotificationEvent, SubscriptionStatus, parse_send_notification, write_send_notification_result,
};
use ews_proto::types::LegacyFreeBusyStatus;
use ews_proto::xml::Limits;
use s2s_proto::principal::{EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::validate::{ExpectedAudience, Policy, TrustedIssuer};
use s2s_proto::{Certificate, TokenError, VerifyKey, validate_signed};
use serde::{Deserialize, Serialize};

use crate::Skype;
use crate::db::{self, SubscriptionRow};
use crate::error::SkypeError;
use crate::tokens::{read_capped, unreachable};

/// Longest presence note kept, in characters.
const MAX_NOTE_CHARS: usize = 500;

/// The presence note an out-of-office reply makes: its text (the reply is HTML, as Outlook
/// writes it), whitespace folded, at most [`MAX_NOTE_CHARS`]; None for an empty reply.
fn oof_note(reply: &str) -> Option<String> {
    let text = ews_proto::body::html_to_text(reply).unwrap_or_else(|| reply.to_owned());
    let folded: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut note: String = folded.chars().take(MAX_NOTE_CHARS).collect();
    if note.len() < folded.len() {
        note.push('…');
    }
    (!note.is_empty()).then_some(note)
}

pub const IN_A_MEETING: &str = "In a meeting";
pub const AVAILABLE: &str = "Available";
/// Outside the user's working hours (as Outlook or the administrator set them in Exchange),
/// with nothing on the calendar.
pub const OFF_WORK: &str = "Off Work";
/// Largest notification body read.
pub const MAX_NOTIFICATION_BYTES: usize = 1 << 20;
/// Longest F2 token lifetime accepted, seconds.
const MAX_CALLBACK_TOKEN_LIFETIME: i64 = 24 * 3600;

/// One Verify key as the token service lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyRow {
    #[serde(default)]
    key_id: String,
    #[serde(default)]
    usage: String,
    value: String,
    #[serde(default)]
    thumbprint: String,
}

#[derive(Debug, Clone, Deserialize)]
struct KeyList {
    keys: Vec<KeyRow>,
}

/// A trusted Exchange certificate.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyKeyInfo {
    pub key_id: String,
    pub thumbprint: String,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
    #[serde(skip)]
    key: Option<VerifyKey>,
}

/// The cached Verify keys of the `00000004` principal.
#[derive(Debug, Default)]
pub struct VerifyCache {
    keys: Vec<VerifyKeyInfo>,
    fetched_at: Option<i64>,
    last_attempt: Option<i64>,
    last_error: Option<String>,
}

/// What a callback answered.
#[derive(Debug)]
pub struct CallbackReply {
    pub status: u16,
    pub body: Vec<u8>,
    /// The refusal reason (also sent as `x-ms-diagnostics`).
    pub reason: Option<String>,
}

fn thumbprint_of_x5t(x5t: &str) -> String {
    s2s_proto::b64::url_decode(x5t)
        .map(hex::encode_upper)
        .unwrap_or_else(|_| x5t.chars().take(64).collect())
}

fn random_key() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    s2s_proto::b64::url_encode(b)
}

impl Skype {
    /// The hosts F2 audiences may name: the configured host and the host of `public_url`.
    fn audience_hosts(&self) -> Vec<String> {
        let mut hosts = vec![self.inner.cfg.host.to_ascii_lowercase()];
        if let Ok(u) = reqwest::Url::parse(&self.inner.cfg.public_url)
            && let Some(h) = u.host_str()
        {
            let h = h.to_ascii_lowercase();
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        hosts
    }

    /// Reads the Verify keys from the token service (with Skype's app token).
    pub async fn refresh_verify_keys(&self) -> Result<Vec<VerifyKeyInfo>, SkypeError> {
        let now = self.now();
        if let Ok(mut c) = self.inner.verify.lock() {
            c.last_attempt = Some(now);
        }
        let r = self.fetch_verify_keys().await;
        let mut c = self
            .inner
            .verify
            .lock()
            .map_err(|_| SkypeError::Config("the verify-key cache lock is poisoned".into()))?;
        match r {
            Ok(keys) => {
                c.keys = keys;
                c.fetched_at = Some(now);
                c.last_error = None;
                Ok(c.keys.clone())
            }
            Err(e) => {
                c.last_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    async fn fetch_verify_keys(&self) -> Result<Vec<VerifyKeyInfo>, SkypeError> {
        let url = format!(
            "{}/{}/firstparty/{SKYPE_APP_ID}/verify-keys",
            self.inner.cfg.sts_url.trim_end_matches('/'),
            self.inner.cfg.realm
        );
        let mut fresh = false;
        loop {
            let token = self.sts_app_token(fresh).await?;
            let r = self
                .inner
                .http
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .map_err(|e| unreachable(&url, e))?;
            let status = r.status().as_u16();
            let body = read_capped(r, 4 << 20, &url).await?;
            if status == 401 && !fresh {
                fresh = true;
                continue;
            }
            if status != 200 {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                return Err(SkypeError::TokenRefused {
                    url,
                    status,
                    error: v["error"].as_str().unwrap_or("error").to_owned(),
                    description: v["error_description"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| {
                            String::from_utf8_lossy(&body).chars().take(300).collect()
                        }),
                });
            }
            let list: KeyList =
                serde_json::from_slice(&body).map_err(|e| SkypeError::HttpStatus {
                    url: url.clone(),
                    status,
                    detail: format!("not a verify-keys document: {e}"),
                })?;
            let mut out = Vec::new();
            for k in list.keys {
                if !k.usage.is_empty() && !k.usage.eq_ignore_ascii_case("verify") {
                    continue;
                }
                match Certificate::from_base64(&k.value) {
                    Ok(cert) => {
                        if !k.thumbprint.is_empty()
                            && !k.thumbprint.eq_ignore_ascii_case(&cert.thumbprint)
                        {
                            tracing::warn!(key_id = %k.key_id, "verify key skipped: its thumbprint does not match its certificate");
                            continue;
                        }
                        out.push(VerifyKeyInfo {
                            key_id: k.key_id,
                            thumbprint: cert.thumbprint.clone(),
                            subject: cert.subject.clone(),
                            not_before: cert.not_before.unix_timestamp(),
                            not_after: cert.not_after.unix_timestamp(),
                            key: Some(cert.verify_key()),
                        });
                    }
                    Err(e) => tracing::warn!(key_id = %k.key_id, error = %e, "verify key skipped"),
                }
            }
            return Ok(out);
        }
    }

    /// The cached keys, read when never read or older than the TTL.
    pub(crate) async fn verify_keys(&self) -> Result<Vec<VerifyKeyInfo>, SkypeError> {
        let now = self.now();
        let ttl = self.tuning().verify_key_ttl_secs;
        let cached = self.inner.verify.lock().ok().and_then(|c| {
            c.fetched_at
                .filter(|t| now - t < ttl)
                .map(|_| c.keys.clone())
        });
        match cached {
            Some(k) => Ok(k),
            None => self.refresh_verify_keys().await,
        }
    }

    fn may_refresh_keys(&self) -> bool {
        let now = self.now();
        let min = self.tuning().verify_key_refresh_min_secs;
        self.inner
            .verify
            .lock()
            .map(|c| c.last_attempt.is_none_or(|t| now - t >= min))
            .unwrap_or(false)
    }

    fn callback_policy(&self, keys: &[VerifyKeyInfo]) -> Policy {
        let realm = self.inner.cfg.realm.clone();
        let mut p = Policy::new(
            ExpectedAudience::Service {
                app_id: SKYPE_APP_ID.into(),
                hosts: self.audience_hosts(),
                realm: realm.clone(),
            },
            Some(realm.clone()),
            vec![TrustedIssuer {
                issuer: format!("{EXCHANGE_APP_ID}@{realm}"),
                keys: keys.iter().filter_map(|k| k.key.clone()).collect(),
            }],
        );
        p.max_lifetime_secs = Some(MAX_CALLBACK_TOKEN_LIFETIME);
        p
    }

    /// Verifies an F2 token: the reason on refusal is meant for an administrator.
    pub async fn verify_callback_token(&self, token: &str) -> Result<(), SkypeError> {
        let refused = SkypeError::CallbackRefused;
        let realm = self.inner.cfg.realm.clone();
        let keys = match self.verify_keys().await {
            Ok(k) => k,
            Err(e) => {
                return Err(refused(format!(
                    "cannot read the Verify keys of {SKYPE_APP_ID} from the token service: {e}"
                )));
            }
        };
        let mut keys = keys;
        let now = self.now();
        let mut result = validate_signed(token, &self.callback_policy(&keys), now);
        // why the keys were not read again for an unknown key, when they were not
        let mut not_reread = String::new();
        if matches!(result, Err(TokenError::KeyNotFound { .. })) {
            if self.may_refresh_keys() {
                if let Ok(k) = self.refresh_verify_keys().await {
                    keys = k;
                }
                result = validate_signed(token, &self.callback_policy(&keys), self.now());
            } else {
                let last = self
                    .inner
                    .verify
                    .lock()
                    .ok()
                    .and_then(|c| c.last_attempt)
                    .unwrap_or(now);
                not_reread = format!(
                    " Skype read its Verify keys {} s ago and reads them again for an unknown key at most every {} s; a callback after that is checked against the token service's list as it is then.",
                    (now - last).max(0),
                    self.tuning().verify_key_refresh_min_secs
                );
            }
        }
        let v = match result {
            Ok(v) => v,
            Err(TokenError::KeyNotFound { x5t, kid, .. }) => {
                let x = x5t.or(kid).unwrap_or_default();
                let known = if keys.is_empty() {
                    "none: steps 4–6 of the setup (export Exchange's auth certificate and upload it with New-MsolServicePrincipalCredential -Usage Verify) are not done".to_owned()
                } else {
                    keys.iter()
                        .map(|k| k.thumbprint.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(refused(format!(
                    "the callback is signed with certificate {} (x5t {x}), which is not a Verify key of service principal {SKYPE_APP_ID} in realm {realm}; \
                     registered Verify keys: {known}. Upload Exchange's current auth certificate: \
                     New-MsolServicePrincipalCredential -AppPrincipalId {SKYPE_APP_ID} -Type asymmetric -Usage Verify -Value <base64 of the .cer> \
                     (again after every auth certificate renewal).{not_reread}",
                    thumbprint_of_x5t(&x)
                )));
            }
            Err(e) => return Err(refused(format!("the callback token was refused: {e}"))),
        };
        let want = format!("{EXCHANGE_APP_ID}@{realm}");
        match v.claim_str("nameid") {
            Some(n) if n == want => Ok(()),
            other => Err(refused(format!(
                "the callback token's nameid is {:?}; only Exchange ({want}) calls back here",
                other.map(|s| s.chars().take(100).collect::<String>())
            ))),
        }
    }

    async fn record(
        &self,
        source: Option<&str>,
        user: Option<String>,
        verdict: &'static str,
        reason: String,
        presence: Option<String>,
    ) {
        let now = self.now();
        let source = source.map(str::to_owned);
        let r = self
            .inner
            .db
            .call(move |c| {
                db::add_presence_event(
                    c,
                    now,
                    user.as_deref(),
                    verdict,
                    &reason,
                    presence.as_deref(),
                    source.as_deref(),
                )
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "could not record a presence event");
        }
    }

    /// `POST /ews/notifications/{key}`: Exchange's push callback, from `peer` when known.
    pub async fn handle_notification(
        &self,
        key: &str,
        authorization: Option<&str>,
        body: &[u8],
        peer: Option<IpAddr>,
    ) -> CallbackReply {
        let source = peer.map(store::limit::source_of);
        let source = source.as_deref();
        let k = key.to_owned();
        let sub = if key.len() <= 64 {
            self.inner
                .db
                .call(move |c| db::subscription_by_key(c, &k))
                .await
                .ok()
                .flatten()
        } else {
            None
        };
        let user = sub.as_ref().map(|s| s.user.clone());
        let refuse = |status: u16, reason: String| CallbackReply {
            status,
            body: reason.clone().into_bytes(),
            reason: Some(reason),
        };
        let token = authorization
            .map(str::trim)
            .and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            let reason = "the callback carries no Bearer token; Exchange must sign its callbacks with its auth certificate".to_owned();
            self.record(source, user, "refused", reason.clone(), None)
                .await;
            return refuse(401, reason);
        };
        if let Err(e) = self.verify_callback_token(token).await {
            let reason = e.to_string();
            tracing::info!(reason = %reason, "push notification refused");
            self.record(source, user, "refused", reason.clone(), None)
                .await;
            return refuse(401, reason);
        }
        let notifications = match parse_send_notification(body, &Limits::default()) {
            Ok(n) => n,
            Err(e) => {
                let reason = format!("the body is not a SendNotification request: {e}");
                self.record(source, user, "refused", reason.clone(), None)
                    .await;
                return refuse(400, reason);
            }
        };
        let Some(sub) = sub else {
            self.record(
                source,
                None,
                "refused",
                "unknown subscription key: answered Unsubscribe".into(),
                None,
            )
            .await;
            return CallbackReply {
                status: 200,
                body: write_send_notification_result(SubscriptionStatus::Unsubscribe),
                reason: None,
            };
        };
        let now = self.now();
        let mut item_events = false;
        for n in &notifications {
            if let Some(known) = &sub.subscription_id
                && sub.status == "active"
                && *known != n.subscription_id
            {
                self.record(
                    source,
                    Some(sub.user.clone()),
                    "refused",
                    format!(
                        "stale subscription {}: answered Unsubscribe",
                        n.subscription_id.chars().take(100).collect::<String>()
                    ),
                    None,
                )
                .await;
                return CallbackReply {
                    status: 200,
                    body: write_send_notification_result(SubscriptionStatus::Unsubscribe),
                    reason: None,
                };
            }
            item_events |= n
                .events
                .iter()
                .any(|e| matches!(e, NotificationEvent::Object(_)));
            let (k, id) = (sub.key.clone(), n.subscription_id.clone());
            let _ = self
                .inner
                .db
                .call(move |c| db::touch_subscription(c, &k, &id, now))
                .await;
        }
        let (reason, presence) = if item_events {
            match self.refresh_presence(&sub.user).await {
                Ok(p) => (format!("calendar changed; presence is now {p}"), Some(p)),
                Err(e) => (
                    format!("verified, but the calendar could not be read: {e}"),
                    None,
                ),
            }
        } else {
            ("status notification".to_owned(), None)
        };
        self.record(source, Some(sub.user.clone()), "accepted", reason, presence)
            .await;
        CallbackReply {
            status: 200,
            body: write_send_notification_result(SubscriptionStatus::Ok),
            reason: None,
        }
    }

    /// Reads the user's calendar from now to a day ahead (as the user), sets presence
    /// accordingly, and notes when to read it again ([`presence_changes_at`]).
    pub async fn refresh_presence(&self, sip: &str) -> Result<String, SkypeError> {
        let user = self.user(sip).await?;
        let now = self.inner.cfg.clock.now();
        let horizon = now + time::Duration::seconds(PRESENCE_HORIZON_SECS);
        let items = self
            .calendar_view(&user, now - time::Duration::minutes(1), horizon)
            .await?;
        let busy = items.iter().any(|i| {
            counts(i) && i.start.is_none_or(|s| s <= now) && i.end.is_none_or(|e| now < e)
        });
        // working hours: a mailbox without them, or whose hours cannot be read, is never off work
        let hours = match self.work_hours(&user).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(user = %user.sip_address, error = %e, "the working hours could not be read; presence ignores them");
                None
            }
        };
        let presence = if busy {
            IN_A_MEETING
        } else if hours.as_ref().is_some_and(|h| !h.is_working_at(now)) {
            OFF_WORK
        } else {
            AVAILABLE
        }
        .to_owned();
        // the note: the out-of-office reply while it is on; an Exchange that cannot say keeps
        // the note as it was (presence from the calendar still holds)
        let oof = self.oof_settings(&user).await;
        let note = match &oof {
            Ok(s) if s.is_on(now) => oof_note(&s.internal_reply),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(user = %user.sip_address, error = %e, "the out-of-office settings could not be read; the presence note is kept");
                user.presence_note.clone()
            }
        };
        let period = oof.as_ref().ok().and_then(|s| s.duration);
        let next = presence_changes_at(&items, period, now, horizon);
        let next = hours
            .and_then(|h| h.next_edge_after(now))
            .map_or(next, |edge| next.min(edge));
        let (sip_next, at) = (user.sip_address.clone(), next.unix_timestamp());
        self.inner
            .db
            .call(move |c| db::set_presence_next(c, &sip_next, at))
            .await?;
        if at
            < self
                .inner
                .keeper_wake_at
                .load(std::sync::atomic::Ordering::SeqCst)
        {
            self.inner.presence_wake.notify_one();
        }
        if presence != user.presence || note != user.presence_note {
            let mut u = user.clone();
            if presence != user.presence {
                u.presence_changed = self.now();
            }
            u.presence = presence.clone();
            u.presence_note = note;
            self.inner.db.call(move |c| db::update_user(c, &u)).await?;
        }
        Ok(presence)
    }

    /// Reads again the presence of the users whose presence is due to change by itself (see
    /// [`Skype::refresh_presence`]); the earliest time another one is due. A user whose read
    /// fails is tried again after [`crate::Tuning::subscription_check_secs`].
    pub async fn refresh_due_presence(&self) -> Result<Option<i64>, SkypeError> {
        let now = self.now();
        let (due, _) = self
            .inner
            .db
            .call(move |c| db::presence_due(c, now, PRESENCE_REFRESHES_PER_PASS))
            .await?;
        let more = due.len() as i64 >= PRESENCE_REFRESHES_PER_PASS;
        let retry = now + self.tuning().subscription_check_secs.max(1) as i64;
        for sip in due {
            if let Err(e) = self.refresh_presence(&sip).await {
                tracing::info!(user = %sip, error = %e, "presence could not be read again from the calendar; trying later");
                self.inner
                    .db
                    .call(move |c| db::set_presence_next(c, &sip, retry))
                    .await?;
            }
        }
        let now = self.now();
        if more {
            // more were due than one pass reads: the next pass at once
            return Ok(Some(now));
        }
        let (_, next) = self
            .inner
            .db
            .call(move |c| db::presence_due(c, now, 0))
            .await?;
        Ok(next)
    }

    /// The callback URL of a subscription key.
    pub fn notification_url(&self, key: &str) -> String {
        format!(
            "{}/ews/notifications/{key}",
            self.inner.cfg.public_url.trim_end_matches('/')
        )
    }

    /// The user's subscription row (created with a fresh key if there is none).
    pub async fn presence_subscription(&self, sip: &str) -> Result<SubscriptionRow, SkypeError> {
        let user = self.user(sip).await?;
        let now = self.now();
        let key = random_key();
        self.inner
            .db
            .call(move |c| db::ensure_subscription(c, &user.sip_address, &key, now))
            .await
    }

    /// Subscribes (again) to the user's calendar now; the row with the outcome.
    pub async fn subscribe_presence(&self, sip: &str) -> Result<SubscriptionRow, SkypeError> {
        let user = self.user(sip).await?;
        let row = self.presence_subscription(sip).await?;
        let url = self.notification_url(&row.key);
        let freq = self.tuning().status_frequency_minutes.clamp(1, 1440);
        let now = self.now();
        let key = row.key.clone();
        match self.subscribe_calendar(&user, &url, freq).await {
            Ok(id) => {
                self.inner
                    .db
                    .call(move |c| db::update_subscription(c, &key, Some(&id), "active", None, now))
                    .await?;
            }
            Err(e) => {
                let why = e.to_string();
                tracing::info!(user = %user.sip_address, error = %why, "calendar subscription failed");
                self.inner
                    .db
                    .call(move |c| {
                        db::update_subscription(c, &key, None, "failed", Some(&why), now)
                    })
                    .await?;
            }
        }
        let sip = user.sip_address.clone();
        self.inner
            .db
            .call(move |c| db::subscription_of(c, &sip))
            .await?
            .ok_or_else(|| SkypeError::NotFound("the subscription vanished".into()))
    }

    /// One pass of the keeper: subscribes users without a live subscription (never tried,
    /// failed, or silent for more than three status periods).
    pub async fn keep_subscriptions(&self) -> Result<(), SkypeError> {
        let users = self.inner.db.call(|c| db::users(c)).await?;
        let subs = self.inner.db.call(|c| db::subscriptions(c)).await?;
        let t = self.tuning();
        let now = self.now();
        let retry_after = t.subscription_check_secs as i64;
        let silent_after = i64::from(t.status_frequency_minutes) * 60 * 3;
        for u in users {
            let s = subs.iter().find(|s| s.user == u.sip_address);
            let due = match s {
                None => true,
                Some(s) if s.status == "active" => {
                    let last = s.last_notification.or(s.last_attempt).unwrap_or(s.created);
                    now - last > silent_after
                }
                Some(s) => s.last_attempt.is_none_or(|a| now - a >= retry_after),
            };
            if due {
                let _ = self.subscribe_presence(&u.sip_address).await;
            }
        }
        Ok(())
    }
}

/// How far ahead presence is read from the calendar (and so the longest time before it is read
/// again without a callback).
pub const PRESENCE_HORIZON_SECS: i64 = 24 * 3600;
/// Users whose presence one keeper pass reads again, at most.
const PRESENCE_REFRESHES_PER_PASS: i64 = 100;

/// Does this calendar item make the user "In a meeting" while it is on?
fn counts(i: &ews_proto::response::ItemView) -> bool {
    matches!(
        i.legacy_free_busy_status,
        Some(LegacyFreeBusyStatus::Busy) | Some(LegacyFreeBusyStatus::Oof)
    )
}

/// When presence read at `now` may next change by itself: the first start or end after `now`
/// of a Busy or OOF item, or of the scheduled out-of-office `period` (the note), within the
/// `horizon` read; the horizon when nothing changes before it.
pub(crate) fn presence_changes_at(
    items: &[ews_proto::response::ItemView],
    period: Option<(time::OffsetDateTime, time::OffsetDateTime)>,
    now: time::OffsetDateTime,
    horizon: time::OffsetDateTime,
) -> time::OffsetDateTime {
    let edges = items
        .iter()
        .filter(|i| counts(i))
        .flat_map(|i| [i.start, i.end])
        .flatten()
        .chain(period.into_iter().flat_map(|(a, b)| [a, b]));
    edges
        .filter(|t| *t > now)
        .fold(horizon, |next, t| next.min(t))
}

/// The background keeper of calendar subscriptions (a pass every
/// [`crate::Tuning::subscription_check_secs`], or when woken), and of presence that changes with
/// the clock (read again when due: the keeper sleeps no longer than until the next one, and a
/// refresh that sets an earlier one wakes it).
pub(crate) fn spawn_keeper(s: Skype) {
    use std::sync::atomic::Ordering;
    tokio::spawn(async move {
        let mut subscriptions_due = i64::MIN;
        loop {
            let check = s.tuning().subscription_check_secs.max(1) as i64;
            if s.now() >= subscriptions_due {
                if let Err(e) = s.keep_subscriptions().await {
                    tracing::warn!(error = %e, "subscription pass failed");
                }
                subscriptions_due = s.now().saturating_add(check);
            }
            let presence_due = match s.refresh_due_presence().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %e, "presence pass failed");
                    None
                }
            };
            let wake_at = presence_due.map_or(subscriptions_due, |p| p.min(subscriptions_due));
            s.inner.keeper_wake_at.store(wake_at, Ordering::SeqCst);
            let secs = (wake_at - s.now()).clamp(1, check) as u64;
            tokio::select! {
                _ = s.inner.subscription_wake.notified() => subscriptions_due = i64::MIN,
                _ = s.inner.presence_wake.notified() => {}
                _ = tokio::time::sleep(std::time::Duration::from_secs(secs)) => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn appointment(
        start: i64,
        end: i64,
        status: LegacyFreeBusyStatus,
    ) -> ews_proto::response::ItemView {
        let at = |s| time::OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap();
        let mut i = ews_proto::response::ItemView::new(
            ews_proto::types::ItemKind::CalendarItem,
            "id",
            None,
        );
        i.start = Some(at(start));
        i.end = Some(at(end));
        i.legacy_free_busy_status = Some(status);
        i
    }

    #[test]
    fn presence_changes_at_the_next_busy_edge_or_out_of_office_edge() {
        use LegacyFreeBusyStatus::*;
        let at = |s: i64| time::OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap();
        let (now, horizon) = (at(0), at(86_400));
        // on now until 600; a free and a tentative one in between change nothing; OOF at 900
        let items = [
            appointment(-300, 600, Busy),
            appointment(100, 200, Free),
            appointment(300, 400, Tentative),
            appointment(900, 1_000, Oof),
        ];
        assert_eq!(presence_changes_at(&items, None, now, horizon), at(600));
        assert_eq!(
            presence_changes_at(&items[1..], None, now, horizon),
            at(900)
        );
        assert_eq!(
            presence_changes_at(&items[1..3], None, now, horizon),
            horizon
        );
        // an out-of-office period that starts (or ends) sooner changes the note
        assert_eq!(
            presence_changes_at(&items, Some((at(50), at(7_000))), now, horizon),
            at(50)
        );
        assert_eq!(
            presence_changes_at(&items[1..3], Some((at(-50), at(7_000))), now, horizon),
            at(7_000)
        );
        // nothing after the horizon counts
        assert_eq!(
            presence_changes_at(&[appointment(90_000, 90_600, Busy)], None, now, horizon),
            horizon
        );
    }

    fn skype() -> Skype {
        Skype::open(crate::Config {
            data_dir: None,
            public_url: "http://127.0.0.1:1".into(),
            host: "sfb.contoso.example".into(),
            // nothing listens there: every verify-key read fails fast, the tokens are refused
            sts_url: "http://127.0.0.1:9".into(),
            realm: "11111111-2222-3333-4444-555555555555".into(),
            clock: Arc::new(s2s_proto::ManualClock::new(1_800_000_000)),
            tls_roots: vec![],
        })
        .unwrap()
    }

    /// Regression: 1100 forged callbacks (`Bearer a.b.c`, random keys, no authentication needed)
    /// pushed every real event out of the log, which kept only the newest 1000 rows of any kind.
    /// Now the accepted ones stay and are listed, and the forged ones are visible, counted.
    #[tokio::test]
    async fn forged_callbacks_cannot_wipe_the_accepted_events() {
        let s = skype();
        s.inner
            .db
            .call(|c| {
                db::add_presence_event(
                    c,
                    1_800_000_000,
                    Some("alice@contoso.example"),
                    "accepted",
                    "calendar changed; presence is now In a meeting",
                    Some(IN_A_MEETING),
                    Some("127.0.0.1"),
                )
            })
            .await
            .unwrap();
        let peers: [Option<IpAddr>; 3] = [
            None,
            Some("203.0.113.7".parse().unwrap()),
            Some("2001:db8::1".parse().unwrap()),
        ];
        for i in 0..1100 {
            let r = s
                .handle_notification(
                    &format!("k{i}"),
                    Some("Bearer a.b.c"),
                    b"<x/>",
                    peers[i % 3],
                )
                .await;
            assert_eq!(r.status, 401);
        }
        let ev = s
            .run_cmdlet("Get-CsPresenceEvents", serde_json::Map::new())
            .await
            .unwrap();
        let accepted: Vec<_> = ev.iter().filter(|e| e["Verdict"] == "accepted").collect();
        assert_eq!(accepted.len(), 1, "{ev:#?}");
        assert_eq!(accepted[0]["Presence"], IN_A_MEETING);
        let refused: Vec<_> = ev.iter().filter(|e| e["Verdict"] == "refused").collect();
        // each source recorded at the bounded rate, the rest counted
        assert_eq!(
            refused.len(),
            3 * db::REFUSALS_RECORDED_PER_WINDOW as usize,
            "{ev:#?}"
        );
        let total: i64 = refused
            .iter()
            .map(|e| 1 + e["Repeats"].as_i64().unwrap())
            .sum();
        assert_eq!(total, 1100);
        let sources: std::collections::BTreeSet<_> =
            refused.iter().map(|e| e["Source"].to_string()).collect();
        assert_eq!(
            sources.into_iter().collect::<Vec<_>>(),
            ["\"2001:db8::/64\"", "\"203.0.113.7\"", "null"]
        );
    }
}
