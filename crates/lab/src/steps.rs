//! The seed's six steps and its "Verify your success" checks, against a running lab. Every
//! step is idempotent: re-running `setup` changes nothing that is already right.

use crate::{LabError, Result, fail};
use s2s_proto::Certificate;
use s2s_proto::principal::{EXCHANGE_APP_ID, SKYPE_APP_ID};
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::{ExchangeAdmin, StsAdmin, mint_f1};
use crate::ewsc::{Ews, tone_wav};
use crate::start::LabInfo;

pub const APP_ACCOUNT: &str = "SfBOnline-ApplicationAccount";

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub step: String,
    pub title: String,
    pub ok: bool,
    pub detail: String,
}

/// A member of a cmdlet's output object, matched case-insensitively like PowerShell.
pub fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    v.as_object()
        .and_then(|o| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .unwrap_or(&Value::Null)
}

/// The objects of an admin API answer: an array, or the array under value/output/keys/credentials,
/// or the single object.
pub fn list(v: &Value) -> Vec<Value> {
    if let Some(a) = v.as_array() {
        return a.clone();
    }
    for k in ["value", "output", "keys", "credentials"] {
        if let Some(a) = field(v, k).as_array() {
            return a.clone();
        }
    }
    if v.is_object() {
        vec![v.clone()]
    } else {
        vec![]
    }
}

/// Whether two URLs name the same resource (scheme and host case-insensitively, a trailing slash
/// ignored).
pub fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// Step 1: the auth server for the token service, in the documented state: created when missing;
/// when present, enabled and pointed at the token service's metadata as it is served now (a lab
/// restarted on other ports moves it). Says what it changed.
async fn step1(
    lab: &LabInfo,
    ex: &ExchangeAdmin,
    sts: &StsAdmin,
    cert: &Certificate,
    next: Option<&Certificate>,
) -> Result<String> {
    let url = format!("{}/{}/metadata/json/1", lab.sts_url, lab.realm);
    let mut changed: Vec<String> = Vec::new();
    match ex.run("Get-AuthServer", json!({"Identity": "ACS"})).await {
        // not there (Exchange answered, refusing the identity)
        Err(LabError::Refused { .. }) => {
            ex.run(
                "New-AuthServer",
                json!({"Name": "ACS", "AuthMetadataUrl": url}),
            )
            .await?;
            changed.push("created".into());
        }
        Err(e) => return Err(e),
        Ok(found) => {
            let a = found.first().cloned().unwrap_or(Value::Null);
            let mut set = serde_json::Map::new();
            if field(&a, "Enabled") != true {
                set.insert("Enabled".into(), Value::Bool(true));
                changed.push("enabled".into());
            }
            let have = field(&a, "AuthMetadataUrl").as_str().unwrap_or("");
            if !same_url(have, &url) {
                set.insert("AuthMetadataUrl".into(), Value::String(url.clone()));
                changed.push(format!("AuthMetadataUrl {have} → {url}"));
            } else if field(&a, "Realm").as_str() != Some(lab.realm.as_str()) {
                set.insert("RefreshAuthMetadata".into(), Value::Bool(true));
                changed.push(format!(
                    "metadata refreshed (realm {} → {})",
                    field(&a, "Realm").as_str().unwrap_or(""),
                    lab.realm
                ));
            }
            if !set.is_empty() {
                set.insert("Identity".into(), Value::String("ACS".into()));
                ex.run("Set-AuthServer", Value::Object(set)).await?;
            }
        }
    }
    // the auth certificate (and a next one, which Exchange signs with from its effective date)
    // on the 00000002 principal, and Exchange's host among its SPNs
    upload_cert(sts, EXCHANGE_APP_ID, cert).await?;
    if let Some(n) = next {
        upload_cert(sts, EXCHANGE_APP_ID, n).await?;
    }
    let sp = sts
        .get_service_principal("AppPrincipalId", EXCHANGE_APP_ID)
        .await?;
    let sp = list(&sp)
        .into_iter()
        .next()
        .ok_or_else(|| LabError::Check(format!("service principal {EXCHANGE_APP_ID} not found")))?;
    let mut spns: Vec<String> = field(&sp, "ServicePrincipalNames")
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    let want = format!("{EXCHANGE_APP_ID}/{}", lab.exchange_host);
    if !spns.iter().any(|s| s.eq_ignore_ascii_case(&want)) {
        spns.push(want.clone());
        sts.set_spns(EXCHANGE_APP_ID, &spns).await?;
    }
    let repaired = match changed.as_slice() {
        [] => String::new(),
        [c] if c == "created" => " (created)".into(),
        c => format!(" (repaired: {})", c.join("; ")),
    };
    Ok(format!(
        "AuthServer \"ACS\"{repaired}, SPN {}",
        lab.exchange_host
    ))
}

async fn upload_cert(sts: &StsAdmin, app: &str, cert: &Certificate) -> Result<()> {
    let existing = sts.get_credentials(app, true).await?;
    let have = list(&existing).iter().any(|k| {
        field(k, "Value").as_str().is_some_and(|v| {
            Certificate::from_base64(v).is_ok_and(|c| c.thumbprint == cert.thumbprint)
        })
    });
    if !have {
        sts.new_credential(
            app,
            json!({"Type": "asymmetric", "Usage": "Verify", "Value": cert.to_base64()}),
        )
        .await?;
    }
    Ok(())
}

async fn step2(ex: &ExchangeAdmin, domain: &str) -> Result<String> {
    if ex
        .run("Get-MailUser", json!({"Identity": APP_ACCOUNT}))
        .await
        .is_err()
    {
        ex.run(
            "New-MailUser",
            json!({"Name": APP_ACCOUNT, "ExternalEmailAddress": format!("{APP_ACCOUNT}@{domain}")}),
        )
        .await?;
    }
    ex.run(
        "Set-MailUser",
        json!({"Identity": APP_ACCOUNT, "HiddenFromAddressListsEnabled": true}),
    )
    .await?;
    for role in ["UserApplication", "ArchiveApplication"] {
        let have = ex
            .run(
                "Get-ManagementRoleAssignment",
                json!({"Role": role, "RoleAssignee": APP_ACCOUNT}),
            )
            .await?;
        if have.is_empty() {
            ex.run(
                "New-ManagementRoleAssignment",
                json!({"Role": role, "User": APP_ACCOUNT}),
            )
            .await?;
        }
    }
    Ok("hidden; UserApplication, ArchiveApplication".into())
}

async fn step3(ex: &ExchangeAdmin) -> Result<String> {
    let params = json!({"Name": "SfBOnline", "ApplicationIdentifier": SKYPE_APP_ID, "Enabled": true, "LinkedAccount": APP_ACCOUNT});
    if ex
        .run("Get-PartnerApplication", json!({"Identity": "SfBOnline"}))
        .await
        .is_err()
    {
        ex.run("New-PartnerApplication", params).await?;
    } else {
        ex.run(
            "Set-PartnerApplication",
            json!({"Identity": "SfBOnline", "Enabled": true, "LinkedAccount": APP_ACCOUNT}),
        )
        .await?;
    }
    Ok("SfBOnline → 00000004-…, enabled".into())
}

/// Step 4: the current auth certificate, exported as DER to `<lab>/OAuthConfig/OAuthCert.cer`.
pub async fn export_auth_cert(
    lab: &LabInfo,
    ex: &ExchangeAdmin,
) -> Result<(Certificate, std::path::PathBuf)> {
    let cfg = auth_config(ex).await?;
    export_current_cert(lab, ex, &cfg).await
}

/// AuthConfig (`Get-AuthConfig`), its one object.
async fn auth_config(ex: &ExchangeAdmin) -> Result<Value> {
    Ok(ex
        .run("Get-AuthConfig", json!({}))
        .await?
        .into_iter()
        .next()
        .unwrap_or(Value::Null))
}

/// [`export_auth_cert`] with AuthConfig already read.
async fn export_current_cert(
    lab: &LabInfo,
    ex: &ExchangeAdmin,
    cfg: &Value,
) -> Result<(Certificate, std::path::PathBuf)> {
    let thumb = field(cfg, "CurrentCertificateThumbprint")
        .as_str()
        .ok_or_else(|| LabError::Check("AuthConfig has no current certificate".into()))?
        .to_owned();
    let cert = exchange_certificate(ex, &thumb).await?;
    let dir = lab.data_dir.join("OAuthConfig");
    std::fs::create_dir_all(&dir).map_err(LabError::io(&dir))?;
    let path = dir.join("OAuthCert.cer");
    std::fs::write(&path, cert.der()).map_err(LabError::io(&path))?;
    Ok((cert, path))
}

/// The next auth certificate AuthConfig names (`Set-AuthConfig -NewCertificateThumbprint`), if
/// any: Exchange signs with it from its effective date on, published or not, so steps 1 and 5
/// register it too.
async fn next_auth_cert(ex: &ExchangeAdmin, cfg: &Value) -> Result<Option<Certificate>> {
    let Some(thumb) = field(cfg, "NextCertificateThumbprint").as_str() else {
        return Ok(None);
    };
    Ok(Some(exchange_certificate(ex, thumb).await?))
}

/// The certificate with `thumb` from Exchange's store (`Export-ExchangeCertificate
/// -BinaryEncoded`).
pub async fn exchange_certificate(ex: &ExchangeAdmin, thumb: &str) -> Result<Certificate> {
    let out = ex
        .run(
            "Export-ExchangeCertificate",
            json!({"Thumbprint": thumb, "BinaryEncoded": true}),
        )
        .await?;
    let data = out
        .first()
        .map(|o| field(o, "FileData"))
        .and_then(Value::as_str)
        .ok_or_else(|| LabError::Check(format!("no FileData for certificate {thumb}")))?;
    Ok(Certificate::from_base64(data)?)
}

/// Steps 1–6 in order; stops at the first failure.
pub async fn setup(lab: &LabInfo, report: &mut dyn FnMut(&Outcome)) -> Result<Vec<Outcome>> {
    let ex = ExchangeAdmin::new(lab)?;
    let sts = StsAdmin::new(lab)?;
    let mut out = Vec::new();
    let mut push = |step: &str, title: &str, r: Result<String>| -> Result<()> {
        let o = Outcome {
            step: step.into(),
            title: title.into(),
            ok: r.is_ok(),
            detail: match &r {
                Ok(d) => d.clone(),
                Err(e) => e.to_string(),
            },
        };
        report(&o);
        out.push(o);
        r.map(|_| ())
    };
    let cfg = auth_config(&ex).await?;
    let (cert, path) = export_current_cert(lab, &ex, &cfg).await?;
    let next = next_auth_cert(&ex, &cfg).await?;
    push(
        "1",
        "OAuth between Exchange and the tenant",
        step1(lab, &ex, &sts, &cert, next.as_ref()).await,
    )?;
    push(
        "2",
        &format!("mail user {APP_ACCOUNT}"),
        step2(&ex, &lab.domain).await,
    )?;
    push("3", "partner application SfBOnline", step3(&ex).await)?;
    push(
        "4",
        "export the auth certificate",
        Ok(format!("{} → {}", &cert.thumbprint, path.display())),
    )?;
    let s5 = async {
        let sp = sts
            .get_service_principal("ServicePrincipalName", SKYPE_APP_ID)
            .await?;
        let app = list(&sp)
            .first()
            .map(|p| field(p, "AppPrincipalId"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                LabError::Check(format!("service principal {SKYPE_APP_ID} not found"))
            })?;
        let der = std::fs::read(&path).map_err(LabError::io(&path))?;
        upload_cert(&sts, &app, &Certificate::from_der(&der)?).await?;
        let also = match &next {
            Some(n) => {
                upload_cert(&sts, &app, n).await?;
                format!(
                    ", and {} for the next auth certificate",
                    n.thumbprint.get(..8).unwrap_or(&n.thumbprint)
                )
            }
            None => String::new(),
        };
        Ok(format!(
            "Verify key {} on {}{also}",
            &cert.thumbprint[..8],
            &SKYPE_APP_ID[..8]
        ))
    };
    push("5", "upload the certificate to the token service", s5.await)?;
    let s6 = async {
        let creds = sts.get_credentials(SKYPE_APP_ID, false).await?;
        let rows = list(&creds);
        let nb = cert.not_before.date();
        let na = cert.not_after.date();
        let found = rows.iter().any(|k| {
            let d = |n: &str| {
                field(k, n)
                    .as_str()
                    .and_then(|s| {
                        time::OffsetDateTime::parse(
                            s,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok()
                    })
                    .map(|t| t.date())
            };
            d("StartDate") == Some(nb) && d("EndDate") == Some(na)
        });
        if !found {
            fail!(
                "no key on {SKYPE_APP_ID} with start {nb} and end {na} (the certificate's dates); keys: {}",
                Value::Array(rows)
            );
        }
        // Skype reads its Verify keys from the token service when they are older than an hour,
        // or when a callback names a key it lacks, at most once every 30 s; a callback in that
        // time after a renewal would be refused. The lab's Skype is told to read them now.
        let skype = lab.skype_admin()?;
        let keys = skype
            .run("Get-CsVerifyKey", json!({"Refresh": true}))
            .await
            .map_err(|e| LabError::Refused {
                what: "Skype: read the Verify keys again".into(),
                message: e.to_string(),
            })?;
        let thumbs: Vec<&str> = keys
            .iter()
            .filter_map(|k| field(k, "Thumbprint").as_str())
            .collect();
        if !thumbs
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&cert.thumbprint))
        {
            fail!(
                "the token service lists the key, but Skype for Business Online does not read certificate {} as a Verify key of {SKYPE_APP_ID}; it reads: {}",
                cert.thumbprint,
                if thumbs.is_empty() {
                    "none".to_owned()
                } else {
                    thumbs.join(", ")
                }
            );
        }
        Ok(format!(
            "key listed, {nb} – {na}, matches the certificate; Skype for Business Online read its Verify keys again and trusts it"
        ))
    };
    push("6", "confirm the key on the Skype principal", s6.await)?;
    Ok(out)
}

/// Polls `check` every 100 ms until it holds or `secs` pass.
async fn wait_until<F, Fut>(secs: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if check().await {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The seed's "Verify your success" checks, each driven through Skype for Business Online and
/// observed in the mailbox through EWS with an independently minted token (not through Skype):
/// the greeting (V1), conversation history (V2), archiving to Purges (V3), the traffic (V4), and
/// calendar-based presence over flow F2 (V5).
pub async fn verify(
    lab: &LabInfo,
    user: &str,
    report: &mut dyn FnMut(&Outcome),
) -> Result<Vec<Outcome>> {
    let mut out = Vec::new();
    let mut push = |step: &str, title: &str, r: Result<String>| {
        let o = Outcome {
            step: step.into(),
            title: title.into(),
            ok: r.is_ok(),
            detail: match &r {
                Ok(d) => d.clone(),
                Err(e) => e.to_string(),
            },
        };
        report(&o);
        out.push(o);
    };
    let skype = lab.skype_admin()?;
    let sk_err = |what: &str| {
        let what = what.to_owned();
        move |e: skype::SkypeError| LabError::Refused {
            what,
            message: e.to_string(),
        }
    };
    let token = match mint_f1(lab, Some(user)).await {
        Ok(t) => t,
        Err(e) => {
            push("V0", "token for the user (F1)", Err(e));
            return Ok(out);
        }
    };
    let ews = Ews::with_client(&lab.exchange_url, token, lab.http()?);
    let sip = format!("sip:{user}");

    let wav = tone_wav(500);
    let greeting = async {
        skype
            .put_greeting(&sip, "standard", wav.clone())
            .await
            .map_err(sk_err("Skype: upload the greeting"))?;
        let g = ews.get_greeting("Um.CustomGreetings.External").await?;
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&wav);
        if g.code != "NoError" || !g.body.contains(&b64) {
            fail!(
                "the greeting is not in the mailbox (root/Um.CustomGreetings.External): {}",
                g.code
            );
        }
        let back = skype
            .get_greeting(&sip, "standard")
            .await
            .map_err(sk_err("Skype: read the greeting"))?;
        if back != wav {
            fail!(
                "Skype read back {} bytes, not the {} uploaded",
                back.len(),
                wav.len()
            );
        }
        Ok(format!(
            "{} bytes WAV set through Skype, in root/Um.CustomGreetings.External",
            wav.len()
        ))
    };
    push("V1", "voicemail greeting", greeting.await);

    let conv = format!("verify-{}", uuid::Uuid::new_v4().simple());
    let ended = skype
        .end_conversation(&json!({"id": conv, "modality": "im", "mobile": true,
            "participants": [sip, "sip:bob@contoso.example"],
            "messages": [{"sender": sip, "time": "2026-01-01T09:00:00Z", "text": "hi from mobile"},
                         {"sender": "sip:bob@contoso.example", "time": "2026-01-01T09:00:05Z", "text": "hello"}]}))
        .await
        .map_err(sk_err("Skype: end the conversation"));
    let found_in = |folder: &'static str| {
        let ews = &ews;
        let conv = conv.clone();
        async move {
            wait_until(20, || {
                let conv = conv.clone();
                async move {
                    ews.find_items(folder, false)
                        .await
                        .is_ok_and(|r| r.body.contains(&conv))
                }
            })
            .await
        }
    };
    let history = async {
        ended.as_ref().map_err(|e| LabError::Check(e.to_string()))?;
        if !found_in("conversationhistory").await {
            let why = delivery_failure(&skype, &sip, &conv, "history", ended.as_ref().ok()).await;
            fail!("no item of conversation {conv} in Conversation History after 20 s: {why}");
        }
        Ok("IM transcript delivered by Skype into Conversation History".into())
    };
    push("V2", "conversation history", history.await);
    let purges = async {
        ended.as_ref().map_err(|e| LabError::Check(e.to_string()))?;
        if !found_in("recoverableitemspurges").await {
            let why = delivery_failure(&skype, &sip, &conv, "archive", ended.as_ref().ok()).await;
            fail!(
                "no archived copy of conversation {conv} in Recoverable Items\\Purges after 20 s: {why}"
            );
        }
        Ok("archived chat in Recoverable Items\\Purges".into())
    };
    push("V3", "archiving to Purges", purges.await);

    let traffic = async {
        let ex = ExchangeAdmin::new(lab)?;
        let t = ex.traffic().await?;
        let want = format!("{SKYPE_APP_ID}@{}", lab.realm);
        let s2s = t
            .iter()
            .filter(|r| r["actor"].as_str() == Some(want.as_str()) && r["verdict"] == "ok")
            .count();
        let basic = t
            .iter()
            .filter(|r| {
                r["scheme"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("basic"))
            })
            .count();
        if s2s == 0 {
            fail!("Exchange saw no request with actor {want}");
        }
        if basic > 0 {
            fail!("Exchange saw {basic} Basic authorization header(s)");
        }
        Ok(format!("{s2s} calls, actor {want}, 0 Basic, 0 passwords"))
    };
    push("V4", "traffic", traffic.await);

    let presence = async {
        let sub = skype
            .run("Update-CsPresenceSubscription", json!({"Identity": user}))
            .await
            .map_err(sk_err("Skype: subscribe to the calendar"))?;
        if let Some(s) = sub.first()
            && field(s, "Status")
                .as_str()
                .is_some_and(|st| st.eq_ignore_ascii_case("failed"))
        {
            fail!(
                "Skype could not subscribe to the calendar: {}",
                field(s, "LastError")
                    .as_str()
                    .unwrap_or("no reason recorded")
            );
        }
        // only a callback that arrives after this run's meeting counts: presence may already be
        // "In a meeting" from an earlier one
        let mark = PresenceMark::read(&skype, &sip)
            .await
            .map_err(sk_err("Skype: read the presence events"))?;
        let now = time::OffsetDateTime::now_utc();
        let fmt = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        let r = ews
            .call(&format!(
                r#"<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Verify meeting</t:Subject><t:Start>{}</t:Start><t:End>{}</t:End><t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus></t:CalendarItem></m:Items></m:CreateItem>"#,
                fmt(now - time::Duration::minutes(5)),
                fmt(now + time::Duration::minutes(25))
            ))
            .await?;
        if r.code != "NoError" {
            fail!("creating the meeting: {}", r.code);
        }
        let seen: std::cell::RefCell<Vec<Value>> = Default::default();
        let ok = wait_until(15, || {
            let (skype, sip, seen, mark) = (&skype, &sip, &seen, &mark);
            async move {
                let Ok(ev) = skype
                    .run(
                        "Get-CsPresenceEvents",
                        json!({"Identity": sip, "ResultSize": 100}),
                    )
                    .await
                else {
                    return false;
                };
                // newest first
                let new = mark.since(ev);
                let hit = new.iter().any(|e| {
                    field(e, "Verdict") == "accepted" && field(e, "Presence") == "In a meeting"
                });
                *seen.borrow_mut() = new;
                hit
            }
        })
        .await;
        let seen = seen.into_inner();
        if !ok {
            let refused = seen.iter().find(|e| field(e, "Verdict") == "refused");
            match (refused, seen.first()) {
                (Some(e), _) => fail!(
                    "Skype refused Exchange's callback for the new meeting: {} ({} callback(s) since the meeting, none accepted; see openhybrid skype Get-CsPresenceEvents)",
                    field(e, "Reason").as_str().unwrap_or("no reason recorded"),
                    seen.len()
                ),
                (None, Some(e)) => fail!(
                    "no accepted callback set presence to 'In a meeting' within 15 s; last callback: {} ({})",
                    field(e, "Reason").as_str().unwrap_or(""),
                    field(e, "Verdict").as_str().unwrap_or("")
                ),
                (None, None) => fail!(
                    "no callback from Exchange arrived within 15 s of creating the meeting (see openhybrid exchange Get-EwsSubscription and openhybrid skype Get-CsPresenceSubscription)"
                ),
            }
        }
        Ok("Exchange's callback for this meeting (signed with its auth certificate) accepted; presence In a meeting".into())
    };
    push("V5", "calendar presence (F2)", presence.await);
    Ok(out)
}

/// Where Skype's presence events of one user stood: the newest id, and how many repeats each
/// refusal listed had counted. Skype records at most ten refusals a minute from one source for
/// one user and counts the rest on the last one recorded, so a new refusal may show only as a
/// grown `Repeats` on an old event.
struct PresenceMark {
    newest: i64,
    repeats: std::collections::HashMap<i64, i64>,
}

impl PresenceMark {
    async fn read(
        skype: &skype::client::SkypeAdmin,
        sip: &str,
    ) -> std::result::Result<Self, skype::SkypeError> {
        let ev = skype
            .run(
                "Get-CsPresenceEvents",
                json!({"Identity": sip, "ResultSize": 100}),
            )
            .await?;
        Ok(Self::of(&ev))
    }

    fn of(events: &[Value]) -> Self {
        let id_repeats = |e: &Value| {
            let id = field(e, "Id").as_i64()?;
            Some((id, field(e, "Repeats").as_i64().unwrap_or(0)))
        };
        let repeats: std::collections::HashMap<i64, i64> =
            events.iter().filter_map(id_repeats).collect();
        Self {
            newest: repeats.keys().copied().max().unwrap_or(0),
            repeats,
        }
    }

    /// The events recorded since the mark (newer ones, and older ones whose count grew), in the
    /// order given.
    fn since(&self, events: Vec<Value>) -> Vec<Value> {
        events
            .into_iter()
            .filter(|e| {
                let Some(id) = field(e, "Id").as_i64() else {
                    return false;
                };
                let repeats = field(e, "Repeats").as_i64().unwrap_or(0);
                id > self.newest || self.repeats.get(&id).is_some_and(|r| repeats > *r)
            })
            .collect()
    }
}

/// Why Skype's item of `kind` (history, archive) for conversation `conv` did not arrive: the
/// participant skipped when the conversation ended, or the outbox row's status and last error.
async fn delivery_failure(
    skype: &skype::client::SkypeAdmin,
    sip: &str,
    conv: &str,
    kind: &str,
    ended: Option<&Value>,
) -> String {
    let skipped = ended
        .map(|e| list(field(e, "Skipped")))
        .unwrap_or_default()
        .into_iter()
        .find(|s| {
            field(s, "Participant")
                .as_str()
                .is_some_and(|p| p.eq_ignore_ascii_case(sip))
                && field(s, "Kind")
                    .as_str()
                    .is_some_and(|k| k == kind || k == "any")
        });
    if let Some(s) = skipped {
        return format!(
            "Skype skipped it: {}",
            field(&s, "Reason").as_str().unwrap_or("no reason given")
        );
    }
    let rows = match skype.run("Get-CsOutbox", json!({"Identity": sip})).await {
        Ok(r) => r,
        Err(e) => return format!("Skype's outbox could not be read: {e}"),
    };
    let row = rows.iter().rev().find(|r| {
        field(r, "ConversationId").as_str() == Some(conv) && field(r, "Kind").as_str() == Some(kind)
    });
    match row {
        None => "Skype's outbox holds no such item (see openhybrid skype Get-CsOutbox)".into(),
        Some(r) => {
            let status = field(r, "Status").as_str().unwrap_or("?");
            let attempts = field(r, "Attempts").as_i64().unwrap_or(0);
            match field(r, "LastError").as_str() {
                Some(err) => format!(
                    "Skype's outbox has it {status} after {attempts} attempt(s), last error: {err}"
                ),
                None => format!(
                    "Skype's outbox has it {status} after {attempts} attempt(s), no error recorded"
                ),
            }
        }
    }
}

/// Renews the auth certificate the way the documentation says, end to end: a new self-signed
/// certificate, `Set-AuthConfig -NewCertificateThumbprint … -NewCertificateEffectiveDate (Get-Date)`,
/// `Set-AuthConfig -PublishCertificate`, then steps 4–6 again so the token service (and through it
/// Skype) trusts it. Returns the new thumbprint.
pub async fn renew_auth_cert(lab: &LabInfo, report: &mut dyn FnMut(&Outcome)) -> Result<String> {
    let ex = ExchangeAdmin::new(lab)?;
    let c = ex.run("New-ExchangeCertificate", json!({"SubjectName": "CN=Microsoft Exchange Server Auth Certificate", "Services": "SMTP"})).await?;
    let t = c
        .first()
        .map(|x| field(x, "Thumbprint"))
        .and_then(Value::as_str)
        .ok_or_else(|| LabError::Check("New-ExchangeCertificate returned no thumbprint".into()))?
        .to_owned();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    ex.run(
        "Set-AuthConfig",
        json!({"NewCertificateThumbprint": t, "NewCertificateEffectiveDate": now}),
    )
    .await?;
    ex.run("Set-AuthConfig", json!({"PublishCertificate": true}))
        .await?;
    report(&Outcome {
        step: "R".into(),
        title: "new auth certificate published".into(),
        ok: true,
        detail: t.clone(),
    });
    setup(lab, report).await?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: i64, repeats: i64) -> Value {
        json!({"Id": id, "Verdict": "refused", "Repeats": repeats})
    }

    #[test]
    fn a_presence_mark_sees_new_events_and_refusals_counted_on_old_ones() {
        let mark = PresenceMark::of(&[ev(7, 0), ev(5, 3), ev(2, 0)]);
        assert_eq!(mark.newest, 7);
        let ids =
            |v: Vec<Value>| -> Vec<i64> { v.iter().filter_map(|e| e["Id"].as_i64()).collect() };
        // nothing happened
        assert!(mark.since(vec![ev(7, 0), ev(5, 3), ev(2, 0)]).is_empty());
        // a refusal over the recording rate only grows the count of the last one recorded
        assert_eq!(ids(mark.since(vec![ev(7, 1), ev(5, 3)])), [7]);
        assert_eq!(ids(mark.since(vec![ev(9, 0), ev(7, 0), ev(5, 4)])), [9, 5]);
        // an event that had dropped out of the list read at the mark is not new
        assert!(mark.since(vec![ev(1, 9)]).is_empty());
        // no events at all at the mark
        let empty = PresenceMark::of(&[]);
        assert_eq!(ids(empty.since(vec![ev(1, 0)])), [1]);
    }
}
