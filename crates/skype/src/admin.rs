//! The admin API: cmdlets in the style of Skype for Business Online PowerShell, over HTTP.
//! `POST /admin/powershell {"cmdlet": "Get-CsOnlineUser", "parameters": {…}}` answers
//! `{"output": [objects]}` or `{"error": {"category", "message"}}`, like Exchange's.
//!
//! Names: Skype Online gets its users from directory synchronization and licensing, which
//! OpenHybrid does not emulate; homing a user here is therefore `Enable-CsUser` (the Skype Server
//! cmdlet that homes a user, with `-SipAddress`), extended with the mailbox mapping
//! (`-PrimarySmtpAddress`, and an optional `-ExchangeEwsUrl` that overrides Autodiscover for the
//! user). Where EWS is comes from Exchange Autodiscover otherwise, at the tenant's
//! `Set-CsOAuthConfiguration -ExchangeAutodiscoverUrl` (`Get-CsOAuthConfiguration` shows it), as
//! in Skype for Business. `Get-CsOutbox`,
//! `Resume-CsOutbox`, `Get-CsPresenceEvents`, `Get-CsPresenceSubscription`,
//! `Update-CsPresenceSubscription`, `Get-CsVerifyKey` and `Set|Get|Remove-CsHostOverride` (a
//! stand-in for DNS: where to connect for a host name) are OpenHybrid's own.

use serde_json::{Value, json};

use psh::bind::{BindRules, Params};

use crate::Skype;
use crate::db::{self, ArchivingPolicy, User};
use crate::error::SkypeError;
use crate::features::normalize_sip;

/// The cmdlets, with their parameters.
pub const CMDLETS: &[(&str, &[&str])] = &[
    (
        "Enable-CsUser",
        &[
            "Identity",
            "SipAddress",
            "PrimarySmtpAddress",
            "ExchangeEwsUrl",
            "DisplayName",
            "HostedVoiceMail",
            "EnterpriseVoiceEnabled",
        ],
    ),
    ("Disable-CsUser", &["Identity", "Confirm"]),
    ("Get-CsOnlineUser", &["Identity"]),
    (
        "Set-CsUser",
        &[
            "Identity",
            "EnterpriseVoiceEnabled",
            "HostedVoiceMail",
            "PrimarySmtpAddress",
            "ExchangeEwsUrl",
            "DisplayName",
        ],
    ),
    ("Get-CsConversationHistoryConfiguration", &["Identity"]),
    (
        "Set-CsConversationHistoryConfiguration",
        &["Identity", "EnableServerConversationHistory"],
    ),
    ("Get-CsArchivingPolicy", &["Identity"]),
    (
        "New-CsArchivingPolicy",
        &["Identity", "ArchiveInternal", "ArchiveExternal"],
    ),
    (
        "Set-CsArchivingPolicy",
        &["Identity", "ArchiveInternal", "ArchiveExternal"],
    ),
    ("Grant-CsArchivingPolicy", &["Identity", "PolicyName"]),
    ("Get-CsOutbox", &["Status", "Identity"]),
    ("Resume-CsOutbox", &["Id"]),
    ("Get-CsPresenceEvents", &["Identity", "ResultSize"]),
    ("Get-CsPresenceSubscription", &["Identity"]),
    ("Update-CsPresenceSubscription", &["Identity"]),
    ("Get-CsVerifyKey", &["Refresh"]),
    ("Get-CsHostOverride", &[]),
    ("Set-CsHostOverride", &["HostName", "ConnectTo"]),
    ("Remove-CsHostOverride", &["HostName"]),
    (
        "Test-OAuthConnectivity",
        &["Service", "TargetUri", "Mailbox", "Verbose"],
    ),
    ("Get-CsOAuthConfiguration", &["Identity"]),
    (
        "Set-CsOAuthConfiguration",
        &["Identity", "ExchangeAutodiscoverUrl"],
    ),
];

const IGNORED: &[&str] = &["Verbose", "ErrorAction", "WarningAction", "WhatIf", "Force"];

/// How Skype binds cmdlet parameters (piped objects by Identity or SipAddress; strings trimmed
/// and at most 2048 bytes).
const BIND: BindRules = BindRules {
    ignored: IGNORED,
    identity_properties: &["Identity", "SipAddress"],
    max_len: Some(2048),
    trim: true,
};

fn sip_uri(s: &str) -> String {
    format!("sip:{s}")
}

fn check_url(u: &str) -> Result<(), SkypeError> {
    let p = reqwest::Url::parse(u)
        .map_err(|e| SkypeError::Invalid(format!("{u:?} is not a URL: {e}")))?;
    if !matches!(p.scheme(), "http" | "https") || p.host_str().is_none_or(str::is_empty) {
        return Err(SkypeError::Invalid(format!(
            "{u:?} must be an http(s) URL with a host"
        )));
    }
    if !p.username().is_empty() || p.password().is_some() {
        return Err(SkypeError::Invalid(
            "the URL must not carry credentials".into(),
        ));
    }
    Ok(())
}

/// A string parameter that clears a value: `$null`, empty, or the text `$null`.
fn clears(v: Option<&str>) -> bool {
    v.is_none_or(|s| s.is_empty() || s.eq_ignore_ascii_case("$null"))
}

fn check_smtp(s: &str) -> Result<String, SkypeError> {
    let t = s
        .trim()
        .trim_start_matches("SMTP:")
        .trim_start_matches("smtp:");
    match t.split_once('@') {
        Some((l, d))
            if !l.is_empty()
                && d.contains('.')
                && t.len() <= 256
                && !t
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>\"".contains(c)) =>
        {
            Ok(t.to_owned())
        }
        _ => Err(SkypeError::Invalid(format!(
            "{:?} is not an SMTP address",
            s.chars().take(80).collect::<String>()
        ))),
    }
}

impl Skype {
    fn user_view(&self, u: &User, global_history: bool, policy: Option<&ArchivingPolicy>) -> Value {
        // where the user's EWS URL comes from: its own (explicit), Autodiscover, or nowhere yet
        let (ews_url_source, discovered) = match &u.exchange_ews_url {
            Some(_) => ("Explicit", None),
            None if self.autodiscover_url().is_some() => {
                ("Autodiscover", self.discovered_ews_url(u))
            }
            None => ("NotConfigured", None),
        };
        json!({
            "Identity": u.user_principal_name,
            "UserPrincipalName": u.user_principal_name,
            "SipAddress": sip_uri(&u.sip_address),
            "DisplayName": u.display_name,
            "PrimarySmtpAddress": u.primary_smtp_address,
            "ExchangeEwsUrl": u.exchange_ews_url.clone().unwrap_or_default(),
            "EwsUrlSource": ews_url_source,
            "DiscoveredEwsUrl": discovered,
            "HostingProvider": "sipfed.online.lync.com",
            "EnterpriseVoiceEnabled": u.enterprise_voice_enabled,
            "HostedVoiceMail": u.hosted_voice_mail,
            "EnableServerConversationHistory": u.enable_server_conversation_history.unwrap_or(global_history),
            "ConversationHistorySource": if u.enable_server_conversation_history.is_some() { "User" } else { "Global" },
            "ArchivingPolicy": u.archiving_policy.clone().unwrap_or_else(|| "Global".into()),
            "ArchiveInternal": policy.is_some_and(|p| p.archive_internal),
            "ArchiveExternal": policy.is_some_and(|p| p.archive_external),
            "Presence": u.presence,
            "PresenceChanged": crate::db::when::text(u.presence_changed),
        })
    }

    async fn views(&self, users: Vec<User>) -> Result<Vec<Value>, SkypeError> {
        let (global, policies) = self
            .inner
            .db
            .call(|c| -> Result<_, SkypeError> {
                Ok((
                    db::setting(c, "EnableServerConversationHistory")?.is_some_and(|v| v == "true"),
                    db::policies(c)?,
                ))
            })
            .await?;
        Ok(users
            .iter()
            .map(|u| {
                let name = u
                    .archiving_policy
                    .clone()
                    .unwrap_or_else(|| "Global".into());
                let p = policies
                    .iter()
                    .find(|p| p.identity.eq_ignore_ascii_case(&name));
                self.user_view(u, global, p)
            })
            .collect())
    }

    /// Finds a user by SIP address (`sip:` optional), UPN or SMTP address.
    async fn find_user(&self, identity: &str) -> Result<User, SkypeError> {
        let id = identity.trim().to_owned();
        let sip = normalize_sip(&id).ok();
        let found = self
            .inner
            .db
            .call(move |c| -> Result<Option<User>, SkypeError> {
                if let Some(s) = &sip
                    && let Some(u) = db::user(c, s)?
                {
                    return Ok(Some(u));
                }
                Ok(db::users(c)?.into_iter().find(|u| {
                    u.user_principal_name.eq_ignore_ascii_case(&id)
                        || u.primary_smtp_address.eq_ignore_ascii_case(&id)
                }))
            })
            .await?;
        found.ok_or_else(|| {
            SkypeError::NotFound(format!(
                "Management object not found for identity \"{}\"",
                identity.chars().take(100).collect::<String>()
            ))
        })
    }

    /// Runs one cmdlet.
    pub async fn run_cmdlet(
        &self,
        cmdlet: &str,
        raw: serde_json::Map<String, Value>,
    ) -> Result<Vec<Value>, SkypeError> {
        let Some((name, allowed)) = CMDLETS.iter().find(|(n, _)| n.eq_ignore_ascii_case(cmdlet))
        else {
            return Err(SkypeError::UnknownCmdlet(cmdlet.chars().take(80).collect()));
        };
        let p = Params::bind(name, allowed, raw, BIND)?;
        let now = self.now();
        match *name {
            "Enable-CsUser" => {
                let identity = p.req("Identity")?;
                let sip = normalize_sip(&p.str("SipAddress")?.unwrap_or_else(|| identity.clone()))?;
                let smtp = check_smtp(
                    &p.str("PrimarySmtpAddress")?
                        .unwrap_or_else(|| identity.clone()),
                )?;
                let url = p.str("ExchangeEwsUrl")?.filter(|u| !clears(Some(u)));
                if let Some(u) = &url {
                    check_url(u)?;
                }
                let display = p
                    .str("DisplayName")?
                    .unwrap_or_else(|| sip.split('@').next().unwrap_or_default().to_owned());
                let u = User {
                    sip_address: sip.clone(),
                    user_principal_name: identity,
                    display_name: display,
                    primary_smtp_address: smtp,
                    exchange_ews_url: url,
                    enterprise_voice_enabled: p.bool("EnterpriseVoiceEnabled")?.unwrap_or(false),
                    hosted_voice_mail: p.bool("HostedVoiceMail")?.unwrap_or(false),
                    enable_server_conversation_history: None,
                    archiving_policy: None,
                    presence: crate::presence::AVAILABLE.into(),
                    presence_changed: now,
                    presence_note: None,
                };
                let u2 = u.clone();
                self.inner
                    .db
                    .call(move |c| -> Result<(), SkypeError> {
                        if db::user(c, &u2.sip_address)?.is_some() {
                            return Err(SkypeError::Conflict(format!(
                                "sip:{} is already homed here; use Set-CsUser",
                                u2.sip_address
                            )));
                        }
                        db::insert_user(c, &u2, now)
                    })
                    .await?;
                self.inner.subscription_wake.notify_one();
                self.views(vec![u]).await
            }
            "Disable-CsUser" => {
                let u = self.find_user(&p.req("Identity")?).await?;
                let sip = u.sip_address.clone();
                self.inner
                    .db
                    .call(move |c| db::delete_user(c, &sip))
                    .await?;
                self.forget_ews_url(&u.sip_address);
                Ok(vec![])
            }
            "Get-CsOnlineUser" => {
                let users = match p.str("Identity")? {
                    Some(id) => vec![self.find_user(&id).await?],
                    None => self.inner.db.call(|c| db::users(c)).await?,
                };
                self.views(users).await
            }
            "Set-CsUser" => {
                let mut u = self.find_user(&p.req("Identity")?).await?;
                if let Some(b) = p.bool("EnterpriseVoiceEnabled")? {
                    u.enterprise_voice_enabled = b;
                }
                if let Some(b) = p.bool("HostedVoiceMail")? {
                    u.hosted_voice_mail = b;
                }
                if let Some(s) = p.str("PrimarySmtpAddress")? {
                    u.primary_smtp_address = check_smtp(&s)?;
                }
                if p.has("ExchangeEwsUrl") {
                    // `-ExchangeEwsUrl $null` (or '') goes back to Autodiscover
                    let url = p.str("ExchangeEwsUrl")?;
                    u.exchange_ews_url = if clears(url.as_deref()) { None } else { url };
                    if let Some(url) = &u.exchange_ews_url {
                        check_url(url)?;
                    }
                }
                if let Some(d) = p.str("DisplayName")? {
                    u.display_name = d;
                }
                let u2 = u.clone();
                self.inner.db.call(move |c| db::update_user(c, &u2)).await?;
                // a new address or URL: what was discovered for the user may no longer hold
                self.forget_ews_url(&u.sip_address);
                self.inner.outbox_wake.notify_one();
                self.views(vec![u]).await
            }
            "Get-CsConversationHistoryConfiguration" => {
                let global = self
                    .inner
                    .db
                    .call(|c| db::setting(c, "EnableServerConversationHistory"))
                    .await?
                    .is_some_and(|v| v == "true");
                match p.str("Identity")? {
                    None => Ok(vec![
                        json!({"Identity": "Global", "EnableServerConversationHistory": global}),
                    ]),
                    Some(id) if id.eq_ignore_ascii_case("Global") => Ok(vec![
                        json!({"Identity": "Global", "EnableServerConversationHistory": global}),
                    ]),
                    Some(id) => {
                        let u = self.find_user(&id).await?;
                        Ok(vec![
                            json!({"Identity": sip_uri(&u.sip_address), "EnableServerConversationHistory": u.enable_server_conversation_history.unwrap_or(global), "Source": if u.enable_server_conversation_history.is_some() { "User" } else { "Global" }}),
                        ])
                    }
                }
            }
            "Set-CsConversationHistoryConfiguration" => {
                let on = p.bool("EnableServerConversationHistory")?.ok_or(
                    SkypeError::MissingParameter {
                        cmdlet: p.cmdlet().to_owned(),
                        param: "EnableServerConversationHistory",
                    },
                )?;
                match p.str("Identity")? {
                    None => self.set_global_history(on).await,
                    Some(id) if id.eq_ignore_ascii_case("Global") => {
                        self.set_global_history(on).await
                    }
                    Some(id) => {
                        let mut u = self.find_user(&id).await?;
                        u.enable_server_conversation_history = Some(on);
                        let u2 = u.clone();
                        self.inner.db.call(move |c| db::update_user(c, &u2)).await?;
                        Ok(vec![
                            json!({"Identity": sip_uri(&u.sip_address), "EnableServerConversationHistory": on}),
                        ])
                    }
                }
            }
            "Get-CsArchivingPolicy" => {
                let all = self.inner.db.call(|c| db::policies(c)).await?;
                let out: Vec<&ArchivingPolicy> = match p.str("Identity")? {
                    Some(id) => {
                        let v: Vec<_> = all
                            .iter()
                            .filter(|x| x.identity.eq_ignore_ascii_case(&id))
                            .collect();
                        if v.is_empty() {
                            return Err(SkypeError::NotFound(format!(
                                "no archiving policy \"{id}\""
                            )));
                        }
                        v
                    }
                    None => all.iter().collect(),
                };
                Ok(out
                    .into_iter()
                    .map(|x| serde_json::to_value(x).unwrap_or_default())
                    .collect())
            }
            "New-CsArchivingPolicy" | "Set-CsArchivingPolicy" => {
                let id = p.req("Identity")?;
                let id = id.strip_prefix("Tag:").unwrap_or(&id).to_owned();
                if id.len() > 64
                    || !id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_ .".contains(c))
                {
                    return Err(p
                        .bad(
                            "Identity",
                            "use letters, digits, '-', '_', '.' and spaces (at most 64)",
                        )
                        .into());
                }
                let existing = {
                    let i = id.clone();
                    self.inner.db.call(move |c| db::policy(c, &i)).await?
                };
                let creating = *name == "New-CsArchivingPolicy";
                let base = match (&existing, creating) {
                    (Some(_), true) => {
                        return Err(SkypeError::Conflict(format!(
                            "the archiving policy \"{id}\" already exists; use Set-CsArchivingPolicy"
                        )));
                    }
                    (None, false) => {
                        return Err(SkypeError::NotFound(format!(
                            "no archiving policy \"{id}\"; use New-CsArchivingPolicy"
                        )));
                    }
                    (Some(e), false) => e.clone(),
                    (None, true) => ArchivingPolicy {
                        identity: id.clone(),
                        archive_internal: false,
                        archive_external: false,
                    },
                };
                let pol = ArchivingPolicy {
                    identity: base.identity,
                    archive_internal: p.bool("ArchiveInternal")?.unwrap_or(base.archive_internal),
                    archive_external: p.bool("ArchiveExternal")?.unwrap_or(base.archive_external),
                };
                let p2 = pol.clone();
                self.inner.db.call(move |c| db::put_policy(c, &p2)).await?;
                Ok(vec![serde_json::to_value(&pol).unwrap_or_default()])
            }
            "Grant-CsArchivingPolicy" => {
                let mut u = self.find_user(&p.req("Identity")?).await?;
                let policy = p
                    .str("PolicyName")?
                    .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("$null"));
                if let Some(name) = &policy {
                    let n = name.strip_prefix("Tag:").unwrap_or(name).to_owned();
                    let found = self.inner.db.call(move |c| db::policy(c, &n)).await?;
                    let Some(found) = found else {
                        return Err(SkypeError::NotFound(format!(
                            "no archiving policy \"{name}\"; create it with New-CsArchivingPolicy"
                        )));
                    };
                    u.archiving_policy = Some(found.identity);
                } else {
                    u.archiving_policy = None;
                }
                let u2 = u.clone();
                self.inner.db.call(move |c| db::update_user(c, &u2)).await?;
                self.views(vec![u]).await
            }
            "Get-CsOutbox" => {
                let rows = self
                    .outbox(p.str("Status")?.as_deref(), p.str("Identity")?.as_deref())
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        let mut v = serde_json::to_value(r).unwrap_or_default();
                        if let Some(o) = v.as_object_mut() {
                            o.insert("User".into(), Value::String(sip_uri(&r.user)));
                            o.insert(
                                "Status".into(),
                                Value::String(
                                    match r.status.as_str() {
                                        "pending" => "Pending",
                                        "delivered" => "Delivered",
                                        _ => "Failed",
                                    }
                                    .into(),
                                ),
                            );
                        }
                        v
                    })
                    .collect())
            }
            "Resume-CsOutbox" => {
                let n = self.resume_outbox(p.int("Id")?).await?;
                Ok(vec![json!({"Resumed": n})])
            }
            "Get-CsPresenceEvents" => {
                let user = p.str("Identity")?.map(|i| normalize_sip(&i)).transpose()?;
                let limit = p.int("ResultSize")?.unwrap_or(100).clamp(1, 1000);
                let ev = self
                    .inner
                    .db
                    .call(move |c| db::presence_events(c, user.as_deref(), limit))
                    .await?;
                Ok(ev
                    .iter()
                    .map(|e| serde_json::to_value(e).unwrap_or_default())
                    .collect())
            }
            "Get-CsPresenceSubscription" => {
                let rows = match p.str("Identity")? {
                    Some(id) => {
                        let u = self.find_user(&id).await?;
                        vec![self.presence_subscription(&u.sip_address).await?]
                    }
                    None => self.inner.db.call(|c| db::subscriptions(c)).await?,
                };
                Ok(rows.iter().map(|r| self.subscription_view(r)).collect())
            }
            "Update-CsPresenceSubscription" => {
                let u = self.find_user(&p.req("Identity")?).await?;
                let r = self.subscribe_presence(&u.sip_address).await?;
                Ok(vec![self.subscription_view(&r)])
            }
            "Get-CsVerifyKey" => {
                let keys = if p.bool("Refresh")?.unwrap_or(false) {
                    self.refresh_verify_keys().await?
                } else {
                    self.verify_keys().await?
                };
                Ok(keys
                    .iter()
                    .map(|k| serde_json::to_value(k).unwrap_or_default())
                    .collect())
            }
            "Get-CsHostOverride" => {
                let m = self
                    .inner
                    .overrides
                    .read()
                    .map(|m| m.clone())
                    .unwrap_or_default();
                let mut v: Vec<_> = m.into_iter().collect();
                v.sort();
                Ok(v.into_iter()
                    .map(|(h, c)| json!({"HostName": h, "ConnectTo": c}))
                    .collect())
            }
            "Set-CsHostOverride" | "Remove-CsHostOverride" => {
                let host = p.req("HostName")?.to_ascii_lowercase();
                if host.len() > 253
                    || !host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
                {
                    return Err(p.bad("HostName", "not a host name").into());
                }
                let to = if *name == "Set-CsHostOverride" {
                    let to = p.req("ConnectTo")?;
                    check_url(&to)?;
                    Some(to.trim_end_matches('/').to_owned())
                } else {
                    None
                };
                let (h, t) = (host.clone(), to.clone());
                self.inner
                    .db
                    .call(move |c| db::set_host_override(c, &h, t.as_deref()))
                    .await?;
                if let Ok(mut m) = self.inner.overrides.write() {
                    match &to {
                        Some(t) => m.insert(host.clone(), t.clone()),
                        None => m.remove(&host),
                    };
                }
                self.inner.outbox_wake.notify_one();
                Ok(to
                    .map(|t| vec![json!({"HostName": host, "ConnectTo": t})])
                    .unwrap_or_default())
            }
            "Test-OAuthConnectivity" => {
                let service = p.str("Service")?.unwrap_or_else(|| "EWS".into());
                if !service.eq_ignore_ascii_case("EWS") {
                    return Err(p.bad(
                        "Service",
                        "Skype tests -Service EWS (flow F1); -Service Generic is Exchange's side",
                    ).into());
                }
                // without -TargetUri: the mailbox's EWS URL as Skype finds it (explicit, or
                // through Autodiscover)
                let target = p.str("TargetUri")?.filter(|t| !t.is_empty());
                if let Some(t) = &target {
                    check_url(t)?;
                }
                let mailbox = check_smtp(&p.req("Mailbox")?)?;
                self.test_oauth_connectivity(target.as_deref(), &mailbox)
                    .await
            }
            "Get-CsOAuthConfiguration" => {
                if let Some(id) = p.str("Identity")?
                    && !id.eq_ignore_ascii_case("Global")
                {
                    return Err(SkypeError::NotFound(format!(
                        "no OAuth configuration \"{}\": there is one, Global",
                        id.chars().take(80).collect::<String>()
                    )));
                }
                Ok(vec![self.oauth_configuration_view()])
            }
            "Set-CsOAuthConfiguration" => {
                if let Some(id) = p.str("Identity")?
                    && !id.eq_ignore_ascii_case("Global")
                {
                    return Err(p
                        .bad("Identity", "there is one OAuth configuration: Global")
                        .into());
                }
                if !p.has("ExchangeAutodiscoverUrl") {
                    return Err(SkypeError::MissingParameter {
                        cmdlet: p.cmdlet().to_owned(),
                        param: "ExchangeAutodiscoverUrl",
                    });
                }
                let given = p.str("ExchangeAutodiscoverUrl")?;
                let url = if clears(given.as_deref()) {
                    None
                } else {
                    Some(
                        crate::autodiscover::check_autodiscover_url(
                            given.as_deref().unwrap_or_default(),
                        )
                        .map_err(|why| p.bad("ExchangeAutodiscoverUrl", why))?,
                    )
                };
                self.set_autodiscover_url(url).await?;
                Ok(vec![self.oauth_configuration_view()])
            }
            _ => Err(SkypeError::UnknownCmdlet((*name).to_owned())),
        }
    }

    fn subscription_view(&self, r: &crate::db::SubscriptionRow) -> Value {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("User".into(), Value::String(sip_uri(&r.user)));
            o.insert(
                "NotificationUrl".into(),
                Value::String(self.notification_url(&r.key)),
            );
        }
        v
    }

    fn oauth_configuration_view(&self) -> Value {
        json!({
            "Identity": "Global",
            "ServiceName": s2s_proto::principal::SKYPE_APP_ID,
            "Realm": self.inner.cfg.realm,
            "ExchangeAutodiscoverUrl": self.autodiscover_url().unwrap_or_default(),
        })
    }

    async fn set_global_history(&self, on: bool) -> Result<Vec<Value>, SkypeError> {
        self.inner
            .db
            .call(move |c| {
                db::set_setting(
                    c,
                    "EnableServerConversationHistory",
                    if on { "true" } else { "false" },
                )
            })
            .await?;
        Ok(vec![
            json!({"Identity": "Global", "EnableServerConversationHistory": on}),
        ])
    }

    /// `Test-OAuthConnectivity -Service EWS`: where EWS is (`-TargetUri`, or as Skype finds it
    /// for the mailbox: its explicit URL or Autodiscover, asked now), challenge, token, call,
    /// each with its result.
    pub async fn test_oauth_connectivity(
        &self,
        target_uri: Option<&str>,
        mailbox: &str,
    ) -> Result<Vec<Value>, SkypeError> {
        let mb = mailbox.to_owned();
        let homed = self
            .inner
            .db
            .call(move |c| -> Result<Option<User>, SkypeError> {
                Ok(db::users(c)?
                    .into_iter()
                    .find(|u| u.primary_smtp_address.eq_ignore_ascii_case(&mb)))
            })
            .await?;
        let user = homed.unwrap_or_else(|| User {
            sip_address: mailbox.to_ascii_lowercase(),
            user_principal_name: mailbox.to_owned(),
            display_name: mailbox.to_owned(),
            primary_smtp_address: mailbox.to_owned(),
            exchange_ews_url: target_uri.map(str::to_owned),
            enterprise_voice_enabled: false,
            hosted_voice_mail: false,
            enable_server_conversation_history: None,
            archiving_policy: None,
            presence: crate::presence::AVAILABLE.into(),
            presence_changed: 0,
            presence_note: None,
        });
        let row = |stage: &str, task: &str, r: Result<String, String>| {
            let (result, detail) = match r {
                Ok(d) => ("Success", d),
                Err(e) => ("Error", e),
            };
            json!({"Task": task, "Stage": stage, "ResultType": result, "Detail": detail, "Identity": Value::Null})
        };
        let skipped = |stage: &str, task: &str| json!({"Task": task, "Stage": stage, "ResultType": "Skipped", "Detail": "an earlier stage failed", "Identity": Value::Null});
        let mut out = Vec::new();
        const FIND: &str = "Finding the EWS URL of the mailbox";
        let found = match target_uri {
            Some(u) => Ok((u.to_owned(), format!("{u} (given by -TargetUri)"))),
            None => self
                .ews_url(&user, true)
                .await
                .map(|u| (u.url().to_owned(), u.describe())),
        };
        let url = match found {
            Ok((url, detail)) => {
                out.push(row("EwsUrl", FIND, Ok(detail)));
                url
            }
            Err(e) => {
                out.push(row("EwsUrl", FIND, Err(e.to_string())));
                out.push(skipped(
                    "Challenge",
                    "Checking the 401 challenge for realm discovery",
                ));
                out.push(skipped(
                    "Token",
                    "Getting an actor token from the token service",
                ));
                out.push(skipped("Call", "Checking EWS API Call Under Oauth"));
                return Ok(out);
            }
        };
        let t = self.target(&url)?;
        let d = self.discover(&t, true).await;
        let d = match d {
            Ok(d) => {
                out.push(row(
                    "Challenge",
                    "Checking the 401 challenge for realm discovery",
                    Ok(format!(
                        "client_id={}, realm {} (trusted_issuers={}); audience host {}",
                        d.client_id,
                        d.realm,
                        d.trusted_issuers.join(","),
                        t.host
                    )),
                ));
                d
            }
            Err(e) => {
                out.push(row(
                    "Challenge",
                    "Checking the 401 challenge for realm discovery",
                    Err(e.to_string()),
                ));
                out.push(skipped(
                    "Token",
                    "Getting an actor token from the token service",
                ));
                out.push(skipped("Call", "Checking EWS API Call Under Oauth"));
                return Ok(out);
            }
        };
        let resource = s2s_proto::PrincipalName::service(
            s2s_proto::principal::EXCHANGE_APP_ID,
            &t.host,
            &d.realm,
        );
        match self.actor_token(&resource, true).await {
            Ok(a) => out.push(row(
                "Token",
                "Getting an actor token from the token service",
                Ok(format!("actor token for {resource}, expires {}", a.exp)),
            )),
            Err(e) => {
                out.push(row(
                    "Token",
                    "Getting an actor token from the token service",
                    Err(e.to_string()),
                ));
                out.push(skipped("Call", "Checking EWS API Call Under Oauth"));
                return Ok(out);
            }
        }
        let call = self
            .get_folder_at(&t, &user, "inbox")
            .await
            .map(|name| format!("GetFolder inbox as {mailbox}: \"{name}\""))
            .map_err(|e| e.to_string());
        out.push(row("Call", "Checking EWS API Call Under Oauth", call));
        Ok(out)
    }
}
