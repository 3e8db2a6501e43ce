//! `openhybrid doctor`: read-only checks of the whole trust chain against a running lab.
//!
//! Each [`Finding`] says what was expected, what was found, and the exact command that fixes it
//! (an `openhybrid` command line, run with `OPENHYBRID_DATA` or `--data` pointing at the lab).
//! Nothing here writes: the checks use the admin APIs' read cmdlets, the public metadata, and one
//! EWS call made the way Skype Online makes it (flow F1).
#![forbid(unsafe_code)]

use lab::LabInfo;
use lab::client::{ExchangeAdmin, StsAdmin, mint_f1};
use lab::steps::{field, list};
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
    if t.len() > 8 {
        format!("{}…{}", &t[..4], &t[t.len() - 2..])
    } else {
        t.to_owned()
    }
}

struct Checks {
    findings: Vec<Finding>,
}

impl Checks {
    fn check(
        &mut self,
        id: &'static str,
        title: &str,
        ok: bool,
        expected: String,
        found: String,
        fix: String,
    ) {
        self.findings.push(Finding {
            id,
            severity: if ok { Severity::Ok } else { Severity::Error },
            title: title.into(),
            expected,
            found,
            fix: if ok { String::new() } else { fix },
        });
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
        self.findings.push(Finding {
            id,
            severity: if ok { Severity::Ok } else { Severity::Warning },
            title: title.into(),
            expected,
            found,
            fix: if ok { String::new() } else { fix },
        });
    }
}

async fn clock_of(http: &reqwest::Client, base: &str) -> Option<i64> {
    let v: Value = http
        .get(format!("{base}/clock"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    v["unix"].as_i64()
}

/// Runs every check against the lab described by `info`. `now` is the doctor's own clock.
pub async fn diagnose(info: &LabInfo, now: i64) -> Result<Report, DoctorError> {
    let ex = ExchangeAdmin::new(info)?;
    let sts = StsAdmin::new(info)?;
    let http = info.http()?;
    let mut c = Checks {
        findings: Vec::new(),
    };
    let realm = &info.realm;
    let metadata_url = format!("{}/{realm}/metadata/json/1", info.sts_url);

    // --- clocks
    for (name, base) in [
        ("the token service", &info.sts_url),
        ("Exchange", &info.exchange_url),
    ] {
        if let Some(t) = clock_of(&http, base).await {
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

    // --- the token service's metadata
    let md: Option<s2s_proto::wire::AcsMetadata> = match http.get(&metadata_url).send().await {
        Ok(r) if r.status().is_success() => r
            .bytes()
            .await
            .ok()
            .and_then(|b| s2s_proto::wire::AcsMetadata::parse(&b).ok()),
        _ => None,
    };
    let sts_certs: Vec<Certificate> = md
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
        "start the token service: openhybrid up".into(),
    );

    // --- AuthServer
    let servers = ex
        .run("Get-AuthServer", json!({}))
        .await
        .unwrap_or_default();
    let acs = servers
        .iter()
        .find(|s| field(s, "IssuerIdentifier") == ACS_APP_ID)
        .cloned();
    let new_as =
        format!("openhybrid exchange New-AuthServer -Name ACS -AuthMetadataUrl {metadata_url}");
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
        new_as.clone(),
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
        let as_realm = field(a, "Realm").as_str().unwrap_or("");
        c.check("REALM-MISMATCH", "auth server realm", as_realm == realm, format!("realm {realm} (the tenant)"), format!("realm {as_realm}"), format!("openhybrid exchange Set-AuthServer -Identity {name} -AuthMetadataUrl {metadata_url} -RefreshAuthMetadata"));
        let recorded: Vec<String> = field(a, "CertificateStrings")
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let fresh = sts_certs.iter().all(|sc| {
            recorded
                .iter()
                .any(|r| Certificate::from_base64(r).is_ok_and(|rc| rc.thumbprint == sc.thumbprint))
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

    // --- AuthConfig and the auth certificate
    let cfg = ex
        .run("Get-AuthConfig", json!({}))
        .await
        .unwrap_or_default();
    let thumb = cfg
        .first()
        .map(|x| field(x, "CurrentCertificateThumbprint"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let cert: Option<Certificate> = match &thumb {
        Some(t) => ex
            .run(
                "Export-ExchangeCertificate",
                json!({"Thumbprint": t, "BinaryEncoded": true}),
            )
            .await
            .ok()
            .and_then(|o| {
                o.first()
                    .and_then(|x| field(x, "FileData").as_str().map(str::to_owned))
            })
            .and_then(|d| Certificate::from_base64(&d).ok()),
        None => None,
    };
    let renew = "openhybrid renew-auth-cert".to_owned();
    c.check(
        "AUTHCERT-MISSING",
        "auth certificate",
        cert.is_some(),
        "AuthConfig names a current certificate present in the store".into(),
        thumb.clone().unwrap_or_else(|| "none".into()),
        renew.clone(),
    );
    let export_fix = |app: &str, t: &str| {
        format!(
            "openhybrid exchange Export-ExchangeCertificate -Thumbprint {t} -BinaryEncoded -FileName OAuthCert.cer && openhybrid msol New-MsolServicePrincipalCredential -AppPrincipalId {app} -Type asymmetric -Usage Verify -Value \"$(base64 -w0 OAuthCert.cer)\""
        )
    };
    if let Some(cert) = &cert {
        let left = (cert.not_after.unix_timestamp() - now) / 86400;
        c.check(
            "AUTHCERT-EXPIRED",
            "auth certificate valid",
            cert.valid_at(now, 0),
            format!(
                "valid now ({} – {})",
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
        for (id, app, title) in [
            (
                "AUTHCERT-NOT-ON-EXCHANGE-SP",
                EXCHANGE_APP_ID,
                "auth certificate registered for Exchange (step 1)",
            ),
            (
                "AUTHCERT-NOT-TRUSTED-BY-SKYPE",
                SKYPE_APP_ID,
                "auth certificate registered for Skype (steps 4-6)",
            ),
        ] {
            let creds = sts
                .get_credentials(app, true)
                .await
                .map(|v| list(&v))
                .unwrap_or_default();
            let thumbs: Vec<String> = creds
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
                .collect();
            let ok = thumbs.contains(&cert.thumbprint);
            c.check(
                id,
                title,
                ok,
                format!("the current auth certificate {} (valid to {}) among the Verify keys of service principal {app} in realm {}", short(&cert.thumbprint), cert.not_after.date(), short(realm)),
                if thumbs.is_empty() { "no Verify keys".into() } else { format!("only {}", thumbs.iter().map(|t| short(t)).collect::<Vec<_>>().join(", ")) },
                export_fix(app, &cert.thumbprint),
            );
        }
    }

    // --- SPNs
    let sp = sts
        .get_service_principal("AppPrincipalId", EXCHANGE_APP_ID)
        .await
        .map(|v| list(&v))
        .unwrap_or_default();
    let spns: Vec<String> = sp
        .first()
        .map(|p| field(p, "ServicePrincipalNames"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    let covered = spns
        .iter()
        .any(|s| spn_covers(s, EXCHANGE_APP_ID, &info.exchange_host));
    let mut want = spns.clone();
    want.push(format!("{EXCHANGE_APP_ID}/{}", info.exchange_host));
    c.check("SPN-MISSING", "Exchange's host among the service principal names", covered, format!("{EXCHANGE_APP_ID}/{} (or a *.domain wildcard) on service principal {EXCHANGE_APP_ID}", info.exchange_host), if spns.is_empty() { "no SPNs".into() } else { spns.join(", ") }, format!("openhybrid msol Set-MsolServicePrincipal -AppPrincipalId {EXCHANGE_APP_ID} -ServicePrincipalNames \"{}\"", want.join(",")));

    // --- partner application, linked account, roles, mail user
    let partners = ex
        .run("Get-PartnerApplication", json!({}))
        .await
        .unwrap_or_default();
    let pa = partners
        .iter()
        .find(|p| field(p, "ApplicationIdentifier") == SKYPE_APP_ID)
        .cloned();
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
        let linked = field(p, "LinkedAccount").as_str().map(str::to_owned);
        c.check("PARTNER-NO-LINKED-ACCOUNT", "partner application has a linked account", linked.is_some(), "a LinkedAccount whose RBAC roles authorize the partner".into(), "no LinkedAccount".into(), format!("openhybrid exchange Set-PartnerApplication -Identity {name} -LinkedAccount {APP_ACCOUNT}"));
        if let Some(l) = linked {
            let account = l.rsplit('/').next().unwrap_or(&l).to_owned();
            let roles: Vec<String> = ex
                .run(
                    "Get-ManagementRoleAssignment",
                    json!({"RoleAssignee": account}),
                )
                .await
                .unwrap_or_default()
                .iter()
                .filter_map(|r| field(r, "Role").as_str().map(str::to_owned))
                .collect();
            for (id, role) in [
                ("ROLE-USERAPPLICATION-MISSING", "UserApplication"),
                ("ROLE-ARCHIVEAPPLICATION-MISSING", "ArchiveApplication"),
            ] {
                c.check(id, &format!("linked account holds {role}"), roles.iter().any(|r| r == role), format!("{role} assigned to {account}"), if roles.is_empty() { "no roles".into() } else { roles.join(", ") }, format!("openhybrid exchange New-ManagementRoleAssignment -Role {role} -User {account}"));
            }
            if let Ok(mu) = ex.run("Get-Recipient", json!({"Identity": account})).await
                && let Some(m) = mu.first()
            {
                c.warn("MAILUSER-NOT-HIDDEN", "application account hidden from address lists", field(m, "HiddenFromAddressListsEnabled") == true, "HiddenFromAddressListsEnabled True".into(), format!("HiddenFromAddressListsEnabled {}", field(m, "HiddenFromAddressListsEnabled")), format!("openhybrid exchange Set-MailUser -Identity {account} -HiddenFromAddressListsEnabled $true"));
            }
        }
    }

    // --- F1 end to end, only when the configuration allows it to mean something
    let f1 = async {
        let token = mint_f1(info, Some("alice@contoso.example")).await?;
        let r = lab::ewsc::Ews::with_client(&info.exchange_url, token, info.http()?)
            .find_items("inbox", false)
            .await?;
        Ok::<_, lab::LabError>(r.code)
    };
    match f1.await {
        Ok(code) => c.check(
            "F1-FAILS",
            "flow F1 (Skype → Exchange as a user)",
            code == "NoError",
            "an EWS call with a Skype token answers NoError".into(),
            code,
            "fix the findings above, then run openhybrid verify".into(),
        ),
        Err(e) => c.check(
            "F1-FAILS",
            "flow F1 (Skype → Exchange as a user)",
            false,
            "an EWS call with a Skype token answers NoError".into(),
            e.to_string(),
            "fix the findings above, then run openhybrid verify".into(),
        ),
    }
    Ok(Report {
        findings: c.findings,
    })
}
