//! `openhybrid doctor`: read-only checks of the whole trust chain against a running lab.
//!
//! Each [`Finding`] says what was expected, what was found, and the exact command that fixes it
//! (an `openhybrid` command line, run with `OPENHYBRID_DATA` or `--data` pointing at the lab).
//! Nothing here writes: the checks use the admin APIs' read cmdlets, the public metadata, and one
//! Autodiscover request and one EWS call made the way Skype Online makes them (flow F1).
//!
//! The findings come in the order their fixes must be applied: a party that cannot be reached
//! first (and nothing that depends on it is checked), then the token service, Exchange's auth
//! server and AuthConfig, the auth certificate, the service principal names, the application
//! account and its roles, the partner application that links to it, the user, how Skype finds
//! EWS (the host Autodiscover announces, Skype's Autodiscover URL), Autodiscover, and flow F1. A
//! failed read is reported as such, never taken for an empty answer.
#![forbid(unsafe_code)]

use lab::LabInfo;
use lab::client::{ExchangeAdmin, StsAdmin, mint_f1};
use lab::steps::{field, list, same_url};
use s2s_proto::Certificate;
use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, SKYPE_APP_ID, spn_covers};
use serde::Serialize;
use serde_json::{Value, json};

/// Days before expiry at which the auth certificate is reported (Microsoft's monitor renews at 60).
pub const NEAR_EXPIRY_DAYS: i64 = 60;
/// Allowed clock difference between the parties, seconds.
pub const MAX_SKEW_SECS: i64 = 300;
/// The mail user the seed's step 2 creates.
pub const APP_ACCOUNT: &str = "SfBOnline-ApplicationAccount";
/// The user flow F1 is tried as (the user `openhybrid verify` uses by default).
pub const PROBE_USER: &str = "alice@contoso.example";
/// How long a party may take to answer the reachability probe.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warning,
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub title: String,
    pub expected: String,
    pub found: String,
    /// The command that fixes it (empty when nothing is wrong).
    pub fix: String,
}

/// Why the doctor could not run at all (as opposed to a finding).
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error("cannot reach the lab: {0}")]
    Lab(#[from] lab::LabError),
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn worst(&self) -> Severity {
        self.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Ok)
    }
    /// 0 when everything holds, 1 for warnings only, 2 for errors.
    pub fn exit_code(&self) -> i32 {
        match self.worst() {
            Severity::Ok => 0,
            Severity::Warning => 1,
            Severity::Error => 2,
        }
    }
    pub fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.severity != Severity::Ok)
    }
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for f in self.problems() {
            let mark = if f.severity == Severity::Error {
                "✘"
            } else {
                "!"
            };
            out.push_str(&format!(
                "{mark} {}  {}\n  expected  {}\n  found     {}\n  fix       {}\n",
                f.id, f.title, f.expected, f.found, f.fix
            ));
        }
        let ok = self
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Ok)
            .count();
        out.push_str(&format!("✔ {ok} checks hold\n"));
        out
    }
}

fn short(t: &str) -> String {
    match (t.get(..4), t.len().checked_sub(2).and_then(|i| t.get(i..))) {
        (Some(a), Some(b)) if t.len() > 8 => format!("{a}…{b}"),
        _ => t.to_owned(),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn parse_date(v: &Value) -> Option<i64> {
    v.as_str()
        .and_then(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
        .map(|t| t.unix_timestamp())
}

fn date_of(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(|d| d.date().to_string())
        .unwrap_or_else(|_| t.to_string())
}

#[derive(Default)]
struct Checks {
    findings: Vec<Finding>,
}

impl Checks {
    fn push(
        &mut self,
        id: &'static str,
        title: &str,
        severity: Severity,
        expected: String,
        found: String,
        fix: String,
    ) {
        self.findings.push(Finding {
            id,
            severity,
            title: title.into(),
            expected,
            found,
            fix: if severity == Severity::Ok {
                String::new()
            } else {
                fix
            },
        });
    }
    fn check(
        &mut self,
        id: &'static str,
        title: &str,
        ok: bool,
        expected: String,
        found: String,
        fix: String,
    ) {
        let s = if ok { Severity::Ok } else { Severity::Error };
        self.push(id, title, s, expected, found, fix);
    }
    fn warn(
        &mut self,
        id: &'static str,
        title: &str,
        ok: bool,
        expected: String,
        found: String,
        fix: String,
    ) {
        let s = if ok { Severity::Ok } else { Severity::Warning };
        self.push(id, title, s, expected, found, fix);
    }
    /// A read that failed although the party answered: reported, and its checks skipped.
    fn unread<T>(&mut self, party: &str, what: &str, r: lab::Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(
                    "READ-FAILED",
                    &format!("read {what} from {party}"),
                    Severity::Error,
                    format!("{party} answers {what} through its admin API"),
                    e.to_string(),
                    format!(
                        "none from here: the checks that need {what} were skipped; see {party}'s log, then run openhybrid doctor again"
                    ),
                );
                None
            }
        }
    }
    fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Whether a party answers at `base` at all; its clock when it does (`Some(None)`: it answered
/// but gave no clock).
async fn probe(http: &reqwest::Client, base: &str) -> Result<Option<i64>, String> {
    let r = http
        .get(format!("{base}/clock"))
        .timeout(PROBE_TIMEOUT)
        .send()
        .await
        .map_err(|e| {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(x) = src {
                s = format!("{s}: {x}");
                src = x.source();
            }
            s
        })?;
    Ok(r.json::<Value>()
        .await
        .ok()
        .and_then(|v| v["unix"].as_i64()))
}

/// The fix that uploads certificate `thumb` as a Verify key of each of `apps`.
fn upload_fix(thumb: &str, apps: &[&str]) -> String {
    let mut s = format!(
        "openhybrid exchange Export-ExchangeCertificate -Thumbprint {thumb} -BinaryEncoded -FileName OAuthCert.cer"
    );
    for app in apps {
        s.push_str(&format!(
            " && openhybrid msol New-MsolServicePrincipalCredential -AppPrincipalId {app} -Type asymmetric -Usage Verify -Value \"$(base64 -w0 OAuthCert.cer)\""
        ));
    }
    s
}

/// The thumbprints of the Verify keys registered for `app` at the token service.
async fn verify_thumbprints(sts: &StsAdmin, app: &str) -> lab::Result<Vec<String>> {
    let creds = sts.get_credentials(app, true).await?;
    Ok(list(&creds)
        .iter()
        .filter(|k| {
            field(k, "Usage")
                .as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case("verify"))
        })
        .filter_map(|k| {
            field(k, "Value")
                .as_str()
                .and_then(|v| Certificate::from_base64(v).ok())
                .map(|c| c.thumbprint)
        })
        .collect())
}

async fn export_cert(ex: &ExchangeAdmin, thumb: &str) -> lab::Result<Option<Certificate>> {
    match lab::steps::exchange_certificate(ex, thumb).await {
        Ok(c) => Ok(Some(c)),
        // the certificate AuthConfig names is not in the store, or not a certificate
        Err(lab::LabError::Refused { .. } | lab::LabError::Check(_) | lab::LabError::Key(_)) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Runs every check against the lab described by `info`. `now` is the doctor's own clock.
pub async fn diagnose(info: &LabInfo, now: i64) -> Result<Report, DoctorError> {
    let ex = ExchangeAdmin::new(info)?;
    let sts = StsAdmin::new(info)?;
    let http = info.http()?;
    let mut c = Checks::default();
    let realm = &info.realm;
    let metadata_url = format!("{}/{realm}/metadata/json/1", info.sts_url);
    let data = info.data_dir.display().to_string();

    // --- the parties answer at the addresses lab.json names, and their clocks agree
    let mut up = [false, false];
    let mut ex_clock = None;
    for (i, (id, name, base)) in [
        ("STS-UNREACHABLE", "the token service", &info.sts_url),
        ("EXCHANGE-UNREACHABLE", "Exchange", &info.exchange_url),
    ]
    .into_iter()
    .enumerate()
    {
        match probe(&http, base).await {
            Ok(clock) => {
                up[i] = true;
                c.check(
                    id,
                    &format!("{name} reachable"),
                    true,
                    format!("{name} answering at {base}"),
                    "it answers".into(),
                    String::new(),
                );
                if let Some(t) = clock {
                    if i == 1 {
                        ex_clock = Some(t);
                    }
                    let d = t - now;
                    c.check(
                        "CLOCK-SKEW",
                        &format!("clock of {name}"),
                        d.abs() <= MAX_SKEW_SECS,
                        format!("within {MAX_SKEW_SECS} s of this machine"),
                        format!("{d:+} s"),
                        format!("synchronise the clock of {name} with NTP (e.g. `chronyc makestep`); tokens outside ±{MAX_SKEW_SECS} s are refused"),
                    );
                }
            }
            Err(e) => c.check(
                id,
                &format!("{name} reachable"),
                false,
                format!("{name} answering at {base} (from {data}/lab.json); the checks that need it were skipped"),
                e,
                format!("openhybrid up --data {data}   (starts the lab and rewrites lab.json with the addresses it listens on; then run openhybrid doctor again)"),
            ),
        }
    }
    let [sts_up, ex_up] = up;

    // --- the token service's metadata
    let mut sts_certs: Vec<Certificate> = Vec::new();
    if sts_up {
        let md: Option<s2s_proto::wire::AcsMetadata> = match http.get(&metadata_url).send().await {
            Ok(r) if r.status().is_success() => r
                .bytes()
                .await
                .ok()
                .and_then(|b| s2s_proto::wire::AcsMetadata::parse(&b).ok()),
            _ => None,
        };
        sts_certs = md
            .as_ref()
            .and_then(|m| m.signing_certificates().ok())
            .unwrap_or_default();
        c.check(
            "STS-METADATA",
            "token service metadata",
            md.is_some() && !sts_certs.is_empty(),
            format!("{metadata_url} serves ACS metadata with signing keys"),
            if md.is_some() {
                format!("{} signing keys", sts_certs.len())
            } else {
                "no usable document".into()
            },
            format!("openhybrid up --data {data}   (the realm {realm} in lab.json must be a tenant of the token service at {})", info.sts_url),
        );
    }

    if ex_up {
        exchange_checks(info, &ex, &mut c, sts_up, &sts_certs, &metadata_url).await;
        let cfg = c.unread(
            "Exchange",
            "the auth configuration (Get-AuthConfig)",
            ex.run("Get-AuthConfig", json!({})).await,
        );
        if let Some(cfg) = cfg {
            let cfg = cfg.first().cloned().unwrap_or(Value::Null);
            auth_config_checks(info, &mut c, &cfg);
            // --- the auth certificate Exchange signs with, and where it must be registered
            let ex_now = ex_clock.unwrap_or(now);
            cert_checks(info, &ex, &sts, &mut c, &cfg, sts_up, now, ex_now, realm).await;
        }
    }

    // --- SPNs
    let mut exchange_spns: Option<Vec<String>> = None;
    if sts_up
        && let Some(sp) = c.unread(
            "the token service",
            &format!("service principal {EXCHANGE_APP_ID}"),
            sts.get_service_principal("AppPrincipalId", EXCHANGE_APP_ID)
                .await
                .map(|v| list(&v)),
        )
    {
        match sp.first() {
            None => c.check(
                "SPN-MISSING",
                "Exchange's host among the service principal names",
                false,
                format!("service principal {EXCHANGE_APP_ID} at the token service"),
                "no such service principal".into(),
                format!("openhybrid up --data {data}   (the lab registers Exchange's principal when it starts)"),
            ),
            Some(p) => {
                let spns = strings(field(p, "ServicePrincipalNames"));
                exchange_spns = Some(spns.clone());
                let covered = spns
                    .iter()
                    .any(|s| spn_covers(s, EXCHANGE_APP_ID, &info.exchange_host));
                let mut want = spns.clone();
                want.push(format!("{EXCHANGE_APP_ID}/{}", info.exchange_host));
                c.check("SPN-MISSING", "Exchange's host among the service principal names", covered, format!("{EXCHANGE_APP_ID}/{} (or a *.domain wildcard) on service principal {EXCHANGE_APP_ID}", info.exchange_host), if spns.is_empty() { "no SPNs".into() } else { spns.join(", ") }, format!("openhybrid msol Set-MsolServicePrincipal -AppPrincipalId {EXCHANGE_APP_ID} -ServicePrincipalNames \"{}\"", want.join(",")));
            }
        }
    }

    if ex_up {
        account_checks(info, &ex, &mut c).await;
        discovery_checks(info, &ex, &mut c, exchange_spns.as_deref()).await;
    }

    // --- F1 end to end, only when the configuration allows it to mean something
    if ex_up && sts_up {
        // one token for both probes, as Skype uses one for Autodiscover and EWS on one host
        let token = mint_f1(info, Some(PROBE_USER)).await;
        let probe_token = token.as_ref().cloned().map_err(|e| e.to_string());
        let f1 = async {
            let token = token?;
            let r = lab::ewsc::Ews::with_client(&info.exchange_url, token, info.http()?)
                .find_items("inbox", false)
                .await?;
            Ok::<_, lab::LabError>(r.code)
        };
        let fix = |c: &Checks| {
            if c.has_errors() {
                "fix the findings above, in order, then run openhybrid doctor again".to_owned()
            } else {
                "no other check explains it: the refusal is in found; see openhybrid trace for Exchange's side".to_owned()
            }
        };
        // Autodiscover, asked as Skype asks it, before the EWS call it leads to
        let why = fix(&c);
        let (ok, found) = match autodiscover_probe(info, probe_token).await {
            Ok(url) => (true, format!("ExternalEwsUrl {url}")),
            Err(e) => (false, e),
        };
        c.check(
            "AUTODISCOVER-FAILS",
            "Exchange Autodiscover (Skype finds EWS with it)",
            ok,
            format!(
                "a SOAP GetUserSettings for {PROBE_USER} at https://{}/autodiscover/autodiscover.svc with a Skype token answers an EWS URL",
                info.exchange_host
            ),
            found,
            why,
        );
        let why = fix(&c);
        let (ok, found) = match f1.await {
            Ok(code) => (code == "NoError", code),
            Err(e) => (false, e.to_string()),
        };
        c.check(
            "F1-FAILS",
            "flow F1 (Skype → Exchange as a user)",
            ok,
            format!("an EWS call with a Skype token for {PROBE_USER} answers NoError"),
            found,
            why,
        );
    }
    Ok(Report {
        findings: c.findings,
    })
}

/// Skype's Autodiscover request for [`PROBE_USER`]: the ExternalEwsUrl Exchange answers, or why
/// there is none.
async fn autodiscover_probe(
    info: &LabInfo,
    token: Result<String, String>,
) -> Result<String, String> {
    use ews_proto::autodiscover::{self as ad, UserResult};
    let token = token?;
    let http = info.http().map_err(|e| e.to_string())?;
    let r = http
        .post(format!(
            "{}/autodiscover/autodiscover.svc",
            info.exchange_url.trim_end_matches('/')
        ))
        .bearer_auth(token)
        .header("content-type", "text/xml; charset=utf-8")
        .body(ad::get_user_settings_request(
            &[PROBE_USER],
            &["ExternalEwsUrl"],
        ))
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let status = r.status().as_u16();
    let diagnostics = r
        .headers()
        .get("x-ms-diagnostics")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = r.bytes().await.map_err(|e| e.to_string())?;
    if status == 401 {
        return Err(format!(
            "401: {}",
            diagnostics.unwrap_or_else(|| "refused".into())
        ));
    }
    let results = ad::parse_get_user_settings_response(&body, &ews_proto::xml::Limits::default())
        .map_err(|e| format!("HTTP {status}: {e}"))?;
    match results.into_iter().next() {
        Some(UserResult::Found { settings, .. }) => settings
            .into_iter()
            .find(|(n, v)| n == "ExternalEwsUrl" && !v.is_empty())
            .map(|(_, v)| v)
            .ok_or_else(|| "no ExternalEwsUrl in the answer".to_owned()),
        Some(UserResult::Failed { code, message }) => Err(format!("{}: {message}", code.as_str())),
        None => Err("an answer without a UserResponse".into()),
    }
}

/// How Skype finds EWS: the host Exchange announces must be one a Skype token can name (an SPN
/// of Exchange's principal), and Skype must know where Autodiscover is.
async fn discovery_checks(
    info: &LabInfo,
    ex: &ExchangeAdmin,
    c: &mut Checks,
    spns: Option<&[String]>,
) {
    if let Some(spns) = spns
        && let Some(vdir) = c.unread(
            "Exchange",
            "the EWS virtual directory (Get-WebServicesVirtualDirectory)",
            ex.run("Get-WebServicesVirtualDirectory", json!({})).await,
        )
    {
        let external = vdir
            .first()
            .map(|v| field(v, "ExternalUrl").as_str().unwrap_or("").to_owned())
            .unwrap_or_default();
        let host = reqwest::Url::parse(&external)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        // Exchange's own name is SPN-MISSING's; any other host Autodiscover announces is here
        if !host.is_empty() && !host.eq_ignore_ascii_case(&info.exchange_host) {
            let covered = spns.iter().any(|s| spn_covers(s, EXCHANGE_APP_ID, &host));
            let mut want = spns.to_vec();
            want.push(format!("{EXCHANGE_APP_ID}/{host}"));
            c.check(
                "EWS-URL-SPN",
                "the EWS host Autodiscover announces among the service principal names",
                covered,
                format!("{EXCHANGE_APP_ID}/{host} on service principal {EXCHANGE_APP_ID}: Skype asks the token service for a token to the host of ExternalUrl {external}"),
                spns.join(", "),
                format!("openhybrid msol Set-MsolServicePrincipal -AppPrincipalId {EXCHANGE_APP_ID} -ServicePrincipalNames \"{}\"", want.join(",")),
            );
        }
    }
    let Ok(sk) = info.skype_admin() else {
        return;
    };
    if let Some(cfg) = c.unread(
        "Skype for Business Online",
        "the OAuth configuration (Get-CsOAuthConfiguration)",
        sk.run("Get-CsOAuthConfiguration", json!({}))
            .await
            .map_err(|e| lab::LabError::Refused {
                what: "Get-CsOAuthConfiguration".into(),
                message: e.to_string(),
            }),
    ) {
        let url = cfg
            .first()
            .map(|v| {
                field(v, "ExchangeAutodiscoverUrl")
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .unwrap_or_default();
        c.check(
            "SKYPE-AUTODISCOVER-URL",
            "Skype knows where Exchange Autodiscover is",
            !url.is_empty(),
            format!("ExchangeAutodiscoverUrl https://{}/autodiscover/autodiscover.svc (Skype finds each user's EWS there)", info.exchange_host),
            if url.is_empty() { "none: users without -ExchangeEwsUrl have no EWS".into() } else { url },
            format!("openhybrid skype Set-CsOAuthConfiguration -ExchangeAutodiscoverUrl https://{}/autodiscover/autodiscover.svc", info.exchange_host),
        );
    }
}

/// Whether Skype for Business Online has read `signing`, the auth certificate Exchange signs
/// with (registered for Skype at the token service), among its Verify keys. Skype keeps the keys
/// it read for an hour, and reads them again for a callback that names a key it lacks at most
/// every 30 s; just after a renewal its callbacks are refused until then. A warning: it mends
/// itself.
async fn skype_key_check(info: &LabInfo, c: &mut Checks, signing: &str) {
    let Ok(sk) = info.skype_admin() else {
        return;
    };
    let Some(keys) = c.unread(
        "Skype for Business Online",
        "its Verify keys (Get-CsVerifyKey)",
        sk.run("Get-CsVerifyKey", json!({}))
            .await
            .map_err(|e| lab::LabError::Refused {
                what: "Get-CsVerifyKey".into(),
                message: e.to_string(),
            }),
    ) else {
        return;
    };
    let thumbs: Vec<&str> = keys
        .iter()
        .filter_map(|k| field(k, "Thumbprint").as_str())
        .collect();
    c.warn(
        "SKYPE-VERIFY-KEYS-STALE",
        "Skype has read the auth certificate among its Verify keys",
        thumbs.iter().any(|t| t.eq_ignore_ascii_case(signing)),
        format!(
            "{} among the Verify keys Skype for Business Online read from the token service (it reads them again after an hour, or within 30 s when a callback names a key it lacks; until then Exchange's callbacks are refused: read them now, or wait)",
            short(signing)
        ),
        if thumbs.is_empty() {
            "none read".into()
        } else {
            format!(
                "only {}",
                thumbs.iter().map(|t| short(t)).collect::<Vec<_>>().join(", ")
            )
        },
        "openhybrid skype Get-CsVerifyKey -Refresh $true".into(),
    );
}

/// Exchange's auth server for the token service and its AuthConfig.
async fn exchange_checks(
    info: &LabInfo,
    ex: &ExchangeAdmin,
    c: &mut Checks,
    sts_up: bool,
    sts_certs: &[Certificate],
    metadata_url: &str,
) {
    let realm = &info.realm;
    if let Some(servers) = c.unread(
        "Exchange",
        "the auth servers (Get-AuthServer)",
        ex.run("Get-AuthServer", json!({})).await,
    ) {
        let acs = servers
            .iter()
            .find(|s| field(s, "IssuerIdentifier") == ACS_APP_ID)
            .cloned();
        c.check(
            "AUTHSERVER-MISSING",
            "auth server for the token service",
            acs.is_some(),
            format!("an AuthServer with IssuerIdentifier {ACS_APP_ID}"),
            if servers.is_empty() {
                "no auth servers".into()
            } else {
                format!("{} auth servers, none for ACS", servers.len())
            },
            format!("openhybrid exchange New-AuthServer -Name ACS -AuthMetadataUrl {metadata_url}"),
        );
        if let Some(a) = &acs {
            let name = field(a, "Name").as_str().unwrap_or("ACS").to_owned();
            c.check(
                "AUTHSERVER-DISABLED",
                "auth server enabled",
                field(a, "Enabled") == true,
                "Enabled True".into(),
                format!("Enabled {}", field(a, "Enabled")),
                format!("openhybrid exchange Set-AuthServer -Identity {name} -Enabled $true"),
            );
            // where Exchange fetches the token service's keys from: after the token service
            // moved (a restart on other ports), the recorded address is dead
            let url = field(a, "AuthMetadataUrl")
                .as_str()
                .unwrap_or("")
                .to_owned();
            let url_ok = !sts_up || same_url(&url, metadata_url);
            if sts_up {
                c.check(
                    "AUTHSERVER-METADATA-URL",
                    "auth server's metadata address",
                    url_ok,
                    format!("AuthMetadataUrl {metadata_url} (where the token service serves it now)"),
                    format!("AuthMetadataUrl {url}"),
                    format!("openhybrid exchange Set-AuthServer -Identity {name} -AuthMetadataUrl {metadata_url}"),
                );
            }
            // a wrong address hides the rest; its fix fetches the metadata again
            if url_ok {
                let as_realm = field(a, "Realm").as_str().unwrap_or("");
                c.check("REALM-MISMATCH", "auth server realm", as_realm == realm, format!("realm {realm} (the tenant)"), format!("realm {as_realm}"), format!("openhybrid exchange Set-AuthServer -Identity {name} -AuthMetadataUrl {metadata_url} -RefreshAuthMetadata"));
                if sts_up {
                    let recorded: Vec<String> = strings(field(a, "CertificateStrings"));
                    let fresh = sts_certs.iter().all(|sc| {
                        recorded.iter().any(|r| {
                            Certificate::from_base64(r)
                                .is_ok_and(|rc| rc.thumbprint == sc.thumbprint)
                        })
                    });
                    c.check(
                        "AUTHSERVER-METADATA-STALE",
                        "auth server metadata fresh",
                        fresh,
                        "every signing key the token service publishes".into(),
                        format!("{} recorded, {} published", recorded.len(), sts_certs.len()),
                        format!("openhybrid exchange Set-AuthServer -Identity {name} -RefreshAuthMetadata"),
                    );
                }
            }
        }
    }
}

/// AuthConfig: the realm and the service name Exchange expects in a token's audience.
fn auth_config_checks(info: &LabInfo, c: &mut Checks, cfg: &Value) {
    let realm = &info.realm;
    let r = field(cfg, "Realm").as_str().unwrap_or("");
    c.check(
        "AUTHCONFIG-REALM-MISMATCH",
        "AuthConfig realm",
        r.is_empty() || r.eq_ignore_ascii_case(realm),
        format!("Realm {realm} (the tenant), or empty to take it from the auth server"),
        format!("Realm {r}"),
        format!("openhybrid exchange Set-AuthConfig -Realm {realm}"),
    );
    let s = field(cfg, "ServiceName").as_str().unwrap_or("");
    c.check(
        "AUTHCONFIG-SERVICENAME",
        "AuthConfig service name",
        s.eq_ignore_ascii_case(EXCHANGE_APP_ID),
        format!("ServiceName {EXCHANGE_APP_ID} (Exchange's application id, the audience of Skype's tokens)"),
        format!("ServiceName {s}"),
        format!("openhybrid exchange Set-AuthConfig -ServiceName {EXCHANGE_APP_ID}"),
    );
}

/// The certificate Exchange signs its outbound tokens (F2 callbacks) with now, and the next one.
#[allow(clippy::too_many_arguments)]
async fn cert_checks(
    info: &LabInfo,
    ex: &ExchangeAdmin,
    sts: &StsAdmin,
    c: &mut Checks,
    cfg: &Value,
    sts_up: bool,
    now: i64,
    ex_now: i64,
    realm: &str,
) {
    let current = field(cfg, "CurrentCertificateThumbprint")
        .as_str()
        .map(str::to_owned);
    let next = field(cfg, "NextCertificateThumbprint")
        .as_str()
        .map(str::to_owned);
    let effective = parse_date(field(cfg, "NewCertificateEffectiveDate"));
    // what Exchange does (exchange::trust::signing_thumbprint): the next certificate once its
    // effective date has passed, else the current one
    let (signing, pending) = match (&next, effective) {
        (Some(n), Some(e)) if ex_now >= e => (Some(n.clone()), None),
        (Some(n), e) => (current.clone(), Some((n.clone(), e))),
        (None, _) => (current.clone(), None),
    };
    let (which, since) = match (&signing, &next) {
        (Some(s), Some(n)) if s == n => (
            "the next auth certificate",
            format!(
                "; Exchange signs with it since its effective date {}",
                effective.map(date_of).unwrap_or_default()
            ),
        ),
        _ => ("the current auth certificate", String::new()),
    };
    let cert = match &signing {
        Some(t) => match c.unread(
            "Exchange",
            &format!("certificate {t}"),
            export_cert(ex, t).await,
        ) {
            Some(x) => x,
            None => return,
        },
        None => None,
    };
    let renew = "openhybrid renew-auth-cert".to_owned();
    c.check(
        "AUTHCERT-MISSING",
        "auth certificate",
        cert.is_some(),
        format!("AuthConfig names {which}, present in the store"),
        signing
            .clone()
            .map(|t| format!("{t}, not in the store"))
            .unwrap_or_else(|| "none".into()),
        renew.clone(),
    );
    let mut registered: Vec<(&str, Vec<String>)> = Vec::new();
    if sts_up {
        for app in [EXCHANGE_APP_ID, SKYPE_APP_ID] {
            let Some(t) = c.unread(
                "the token service",
                &format!("the key credentials of {app}"),
                verify_thumbprints(sts, app).await,
            ) else {
                return;
            };
            registered.push((app, t));
        }
    }
    if let Some(cert) = &cert {
        let left = (cert.not_after.unix_timestamp() - now) / 86400;
        c.check(
            "AUTHCERT-EXPIRED",
            "auth certificate valid",
            cert.valid_at(now, 0),
            format!(
                "{which} valid now ({} – {})",
                cert.not_before.date(),
                cert.not_after.date()
            ),
            if now > cert.not_after.unix_timestamp() {
                format!("expired on {}", cert.not_after.date())
            } else {
                format!("not valid before {}", cert.not_before.date())
            },
            renew.clone(),
        );
        c.warn(
            "AUTHCERT-NEAR-EXPIRY",
            "auth certificate not near expiry",
            !(0..NEAR_EXPIRY_DAYS).contains(&left),
            format!("at least {NEAR_EXPIRY_DAYS} days left"),
            format!("{left} days left (valid to {})", cert.not_after.date()),
            renew.clone(),
        );
        for (app, thumbs) in &registered {
            let (id, title) = if *app == EXCHANGE_APP_ID {
                (
                    "AUTHCERT-NOT-ON-EXCHANGE-SP",
                    "auth certificate registered for Exchange (step 1)",
                )
            } else {
                (
                    "AUTHCERT-NOT-TRUSTED-BY-SKYPE",
                    "auth certificate registered for Skype (steps 4-6)",
                )
            };
            c.check(
                id,
                title,
                thumbs.contains(&cert.thumbprint),
                format!("{which} {} (valid to {}{since}) among the Verify keys of service principal {app} in realm {}", short(&cert.thumbprint), cert.not_after.date(), short(realm)),
                if thumbs.is_empty() { "no Verify keys".into() } else { format!("only {}", thumbs.iter().map(|t| short(t)).collect::<Vec<_>>().join(", ")) },
                upload_fix(&cert.thumbprint, &[app]),
            );
            if *app == SKYPE_APP_ID && thumbs.contains(&cert.thumbprint) {
                skype_key_check(info, c, &cert.thumbprint).await;
            }
        }
    }
    // a renewal in progress: the next certificate takes over at its effective date, and every
    // F2 callback from then on is refused unless it is registered before
    if let Some((n, eff)) = pending
        && sts_up
    {
        let Some(next_cert) = c.unread(
            "Exchange",
            &format!("certificate {n}"),
            export_cert(ex, &n).await,
        ) else {
            return;
        };
        let when = eff
            .map(date_of)
            .unwrap_or_else(|| "(no effective date)".into());
        let thumb = next_cert
            .as_ref()
            .map(|x| x.thumbprint.clone())
            .unwrap_or(n);
        let missing: Vec<&str> = registered
            .iter()
            .filter(|(_, t)| !t.contains(&thumb))
            .map(|(a, _)| *a)
            .collect();
        c.warn(
            "AUTHCERT-NEXT-NOT-UPLOADED",
            "next auth certificate registered before it takes effect",
            missing.is_empty(),
            format!("the next auth certificate {} (Exchange signs with it from {when}) among the Verify keys of {EXCHANGE_APP_ID} and {SKYPE_APP_ID}", short(&thumb)),
            format!("not registered for {}", missing.join(", ")),
            upload_fix(&thumb, &missing),
        );
    }
}

/// The application account and its roles, the partner application linked to it, and the user F1
/// is tried as — prerequisites first.
async fn account_checks(info: &LabInfo, ex: &ExchangeAdmin, c: &mut Checks) {
    let Some(partners) = c.unread(
        "Exchange",
        "the partner applications (Get-PartnerApplication)",
        ex.run("Get-PartnerApplication", json!({})).await,
    ) else {
        return;
    };
    let pa = partners
        .iter()
        .find(|p| field(p, "ApplicationIdentifier") == SKYPE_APP_ID)
        .cloned();
    let linked = pa
        .as_ref()
        .and_then(|p| field(p, "LinkedAccount").as_str())
        .filter(|l| !l.is_empty())
        .map(str::to_owned);
    // the account whose roles authorize Skype: the linked one, else the one the fixes link
    let account = linked
        .as_deref()
        .map(|l| l.rsplit('/').next().unwrap_or(l).to_owned())
        .unwrap_or_else(|| APP_ACCOUNT.to_owned());

    let Some(recipients) = c.unread(
        "Exchange",
        "the recipients (Get-Recipient)",
        ex.run("Get-Recipient", json!({})).await,
    ) else {
        return;
    };
    let find = |who: &str| {
        recipients.iter().find(|r| {
            [
                "Name",
                "Alias",
                "PrimarySmtpAddress",
                "ExternalEmailAddress",
                "Identity",
            ]
            .iter()
            .any(|k| {
                field(r, k)
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(who))
            })
        })
    };
    let mu = find(&account).or_else(|| linked.as_deref().and_then(find));
    c.check(
        "MAILUSER-MISSING",
        "application account (step 2)",
        mu.is_some(),
        format!("the mail user {account} whose roles authorize Skype"),
        "no such recipient".into(),
        format!(
            "openhybrid exchange New-MailUser -Name {account} -ExternalEmailAddress {account}@{} && openhybrid exchange Set-MailUser -Identity {account} -HiddenFromAddressListsEnabled $true",
            info.domain
        ),
    );
    if let Some(m) = mu {
        c.warn("MAILUSER-NOT-HIDDEN", "application account hidden from address lists", field(m, "HiddenFromAddressListsEnabled") == true, "HiddenFromAddressListsEnabled True".into(), format!("HiddenFromAddressListsEnabled {}", field(m, "HiddenFromAddressListsEnabled")), format!("openhybrid exchange Set-MailUser -Identity {account} -HiddenFromAddressListsEnabled $true"));
    }
    let roles: Vec<String> = if mu.is_some() {
        let Some(r) = c.unread(
            "Exchange",
            &format!("the role assignments of {account}"),
            ex.run(
                "Get-ManagementRoleAssignment",
                json!({"RoleAssignee": account}),
            )
            .await,
        ) else {
            return;
        };
        r.iter()
            .filter_map(|r| field(r, "Role").as_str().map(str::to_owned))
            .collect()
    } else {
        vec![]
    };
    for (id, role) in [
        ("ROLE-USERAPPLICATION-MISSING", "UserApplication"),
        ("ROLE-ARCHIVEAPPLICATION-MISSING", "ArchiveApplication"),
    ] {
        c.check(
            id,
            &format!("application account holds {role}"),
            roles.iter().any(|r| r == role),
            format!("{role} assigned to {account}"),
            if roles.is_empty() {
                "no roles".into()
            } else {
                roles.join(", ")
            },
            format!(
                "openhybrid exchange New-ManagementRoleAssignment -Role {role} -User {account}"
            ),
        );
    }

    c.check("PARTNER-MISSING", "partner application for Skype for Business Online", pa.is_some(), format!("a PartnerApplication with ApplicationIdentifier {SKYPE_APP_ID}"), format!("{} partner applications", partners.len()), format!("openhybrid exchange New-PartnerApplication -Name SfBOnline -ApplicationIdentifier {SKYPE_APP_ID} -Enabled $true -LinkedAccount {APP_ACCOUNT}"));
    if let Some(p) = &pa {
        let name = field(p, "Name").as_str().unwrap_or("SfBOnline").to_owned();
        c.check(
            "PARTNER-DISABLED",
            "partner application enabled",
            field(p, "Enabled") == true,
            "Enabled True".into(),
            format!("Enabled {}", field(p, "Enabled")),
            format!("openhybrid exchange Set-PartnerApplication -Identity {name} -Enabled $true"),
        );
        c.check("PARTNER-NO-LINKED-ACCOUNT", "partner application has a linked account", linked.is_some(), "a LinkedAccount whose RBAC roles authorize the partner".into(), "no LinkedAccount".into(), format!("openhybrid exchange Set-PartnerApplication -Identity {name} -LinkedAccount {APP_ACCOUNT}"));
        let r = field(p, "Realm").as_str().unwrap_or("");
        c.check(
            "PARTNER-REALM-MISMATCH",
            "partner application realm",
            r.is_empty() || r.eq_ignore_ascii_case(&info.realm),
            format!(
                "Realm {} (the tenant), or empty for the auth server's",
                info.realm
            ),
            format!("Realm {r}"),
            format!(
                "openhybrid exchange Set-PartnerApplication -Identity {name} -Realm {}",
                info.realm
            ),
        );
    }

    // --- the user F1 acts as
    let mbx = find(PROBE_USER);
    let is_mailbox = mbx.is_some_and(|m| {
        field(m, "RecipientTypeDetails")
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("UserMailbox"))
    });
    c.check(
        "MAILBOX-MISSING",
        &format!("mailbox of {PROBE_USER}"),
        is_mailbox,
        format!("a mailbox for {PROBE_USER}, the user openhybrid verify uses"),
        match mbx {
            Some(m) => format!("a {}", field(m, "RecipientTypeDetails")),
            None => "no such recipient".into(),
        },
        format!("openhybrid exchange New-Mailbox -Name alice -PrimarySmtpAddress {PROBE_USER}"),
    );
    if let Some(m) = mbx.filter(|_| is_mailbox) {
        c.check(
            "MAILBOX-DISABLED",
            &format!("account of {PROBE_USER} enabled"),
            field(m, "AccountDisabled") != true,
            "AccountDisabled False (a disabled account gets 401 for every Skype call on its behalf)".into(),
            format!("AccountDisabled {}", field(m, "AccountDisabled")),
            format!("openhybrid exchange Set-Mailbox -Identity {PROBE_USER} -AccountDisabled '$false'"),
        );
    }
}
