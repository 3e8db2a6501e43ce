//! `openhybrid`: serve the parties, run the lab, the seed's steps as commands.
#![forbid(unsafe_code)]

mod out;
mod ps;
mod shell;

use out::{out, outln};

use lab::{client, steps};

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(
    name = "openhybrid",
    version,
    about = "Exchange Server ↔ Skype for Business Online server-to-server OAuth, as open software"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start the lab, perform the seed's steps 1–6, verify, report, and exit 0 only if all held.
    Demo {
        /// One JSON object instead of lines.
        #[arg(long)]
        json: bool,
        /// Leave the lab running afterwards (Ctrl-C stops it).
        #[arg(long)]
        keep: bool,
    },
    /// Run the lab (token service, Exchange and Skype Online on loopback) and stay up.
    Up {
        #[arg(long, env = "OPENHYBRID_DATA", default_value = "lab-data")]
        data: PathBuf,
        /// Print one JSON line once every service is ready.
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 0)]
        sts_port: u16,
        #[arg(long, default_value_t = 0)]
        exchange_port: u16,
        /// Serve HTTPS with certificates from a lab CA generated in the data directory.
        #[arg(long)]
        tls: bool,
    },
    /// Perform the seed's steps 1–6 against a running lab (idempotent).
    Setup {
        #[arg(long, env = "OPENHYBRID_DATA", default_value = "lab-data")]
        data: PathBuf,
    },
    /// Run the seed's "Verify your success" checks against a running lab.
    Verify {
        #[arg(long, env = "OPENHYBRID_DATA", default_value = "lab-data")]
        data: PathBuf,
        #[arg(long, default_value = "alice@contoso.example")]
        user: String,
    },
    /// Run an Exchange Management Shell cmdlet against the lab: `openhybrid exchange Get-AuthConfig`.
    #[command(after_help = CMDLET_HELP)]
    Exchange(CmdletArgs),
    /// Run a Skype for Business Online cmdlet against the lab: `openhybrid skype Get-CsOutbox`.
    #[command(after_help = CMDLET_HELP)]
    Skype(CmdletArgs),
    /// Run an MSOnline cmdlet against the lab's token service.
    #[command(after_help = CMDLET_HELP)]
    Msol(CmdletArgs),
    /// The seed's PowerShell lines against the lab: interactive, from a script file, or `-c`.
    #[command(long_about = SHELL_HELP)]
    Shell {
        #[arg(long, env = "OPENHYBRID_DATA", default_value = "lab-data")]
        data: PathBuf,
        /// Run this text instead of reading a file or standard input.
        #[arg(short = 'c', long = "command")]
        command: Option<String>,
        /// A script file.
        file: Option<PathBuf>,
    },
    /// Renew Exchange's auth certificate and upload it again (steps 4-6), as the documentation says.
    RenewAuthCert {
        #[arg(long, env = "OPENHYBRID_DATA", default_value = "lab-data")]
        data: PathBuf,
    },
    /// Check the whole trust chain (read-only); each finding with the command that fixes it.
    Doctor {
        #[arg(long, env = "OPENHYBRID_DATA", default_value = "lab-data")]
        data: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Decode an S2S token (outer and actor), explain each claim, check the rules, and verify the
    /// signature when given trust material.
    Inspect {
        /// The token, a file holding it, or `-` for standard input.
        token: String,
        /// ACS metadata: a URL or a file.
        #[arg(long)]
        metadata: Option<String>,
        /// A certificate (DER or PEM) whose key may sign the token; repeatable.
        #[arg(long)]
        cert: Vec<PathBuf>,
        /// A CA certificate (PEM or DER) to trust when fetching --metadata over HTTPS, such as
        /// the lab CA of a lab started with --tls (DIR/tls/lab-ca.pem); repeatable. Without it,
        /// HTTPS metadata is checked against the system's roots.
        #[arg(long)]
        ca: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The S2S traffic the lab's Exchange saw, or the tokens in a HAR capture.
    Trace {
        #[arg(long, env = "OPENHYBRID_DATA", default_value = "lab-data")]
        data: PathBuf,
        /// Keep printing new records as they arrive.
        #[arg(long)]
        follow: bool,
        /// Read a HAR capture instead of the lab's record.
        #[arg(long)]
        har: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Mint a real F1 token as Skype Online does, for any EWS client.
    Token {
        #[arg(long, env = "OPENHYBRID_DATA", default_value = "lab-data")]
        data: PathBuf,
        /// The user to act as: an SMTP address such as alice@contoso.example (omit with --app-only).
        #[arg(long, conflicts_with = "app_only")]
        user: Option<String>,
        /// The actor token alone, acting as Skype itself rather than as a user.
        #[arg(long)]
        app_only: bool,
    },
    /// Run one party as its own process.
    Serve {
        #[command(subcommand)]
        what: Serve,
    },
}

const CMDLET_HELP: &str = "Parameters are written as in PowerShell: -Name value, -Switch, -Param:$false; \
$True/$False/$null are booleans and null; (Get-Date) is the current time. Get-, Set- and Remove- \
cmdlets take one positional argument as -Identity. Each parameter may be given once.";

const SHELL_HELP: &str = "\
The seed's PowerShell lines against the lab: interactively (PS lab> prompts, `exit` leaves), \
from a script file, or with -c TEXT. The language is the subset the article is written in \
(cmdlets with named parameters, $variables, (Cmdlet).Property, $p.List.Add(\"…\"), quoted \
strings, $env:NAME); each cmdlet goes to the party that owns it: *-Msol* to the token service, \
*-Cs* to Skype Online, Test-OAuthConnectivity by -Service (EWS: Skype's F1 test, Generic: \
Exchange's F2 test), everything else to Exchange.

The article's two .NET scripts are translated into cmdlets (lines such as New-Object, \
[System.Convert]::… and $cert.Export(…) are refused with a pointer here):

  Step 4, ExportAuthCert.ps1, becomes one Exchange cmdlet that writes the DER file:
    Export-ExchangeCertificate -Thumbprint (Get-AuthConfig).CurrentCertificateThumbprint -BinaryEncoded -FileName \"$env:SYSTEMDRIVE\\OAuthConfig\\OAuthCert.cer\"

  Step 5, UploadAuthCert.ps1, reads it back as base64 with a helper cmdlet:
    Import-Module MSOnline
    Connect-MsolService
    $credValue = Get-AuthCertificateBase64 -FileName \"$env:SYSTEMDRIVE\\OAuthConfig\\OAuthCert.cer\"
    $p = Get-MsolServicePrincipal -ServicePrincipalName 00000004-0000-0ff1-ce00-000000000000
    New-MsolServicePrincipalCredential -AppPrincipalId $p.AppPrincipalId -Type asymmetric -Usage Verify -Value $credValue

  (Get-AuthCertificateBase64 without -FileName exports Exchange's current auth certificate.)

Files: $env:SYSTEMDRIVE is C:, and a Windows path with a drive (C:\\OAuthConfig\\OAuthCert.cer) \
is taken relative to the directory the shell runs in (./OAuthConfig/OAuthCert.cer); missing \
directories are created and the path written is printed. Relative paths are relative to that \
directory too; absolute Unix paths are used as they are.

Connect-MsolService checks the lab's token-service admin credential (no dialog).";

#[derive(Subcommand)]
enum Serve {
    /// The ACS-compatible token service.
    Sts {
        #[arg(long, env = "OPENHYBRID_DATA", default_value = "sts-data")]
        data: PathBuf,
        #[arg(long, default_value = "127.0.0.1:41011")]
        listen: String,
        /// The URL clients reach it at (defaults to http://<listen>).
        #[arg(long)]
        public_url: Option<String>,
    },
    /// The Exchange-compatible on-premises server.
    Exchange {
        #[arg(long, env = "OPENHYBRID_DATA", default_value = "exchange-data")]
        data: PathBuf,
        #[arg(long, default_value = "127.0.0.1:41012")]
        listen: String,
        #[arg(long, default_value = "mail.contoso.example")]
        host: String,
        #[arg(long, default_value = "contoso.example")]
        domain: String,
    },
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let data = cli.cmd.data_dir().map(PathBuf::from);
    match run(cli).await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let info = data.and_then(|d| lab::LabInfo::load(&d).ok());
            eprintln!("error: {}", explain(&e, info.as_ref()));
            std::process::exit(2);
        }
    }
}

/// What `exchange`, `skype` and `msol` take: one cmdlet and its parameters, or `--list`.
#[derive(clap::Args)]
struct CmdletArgs {
    #[arg(long, env = "OPENHYBRID_DATA", default_value = "lab-data")]
    data: PathBuf,
    /// List the cmdlets this party serves, with their parameters.
    #[arg(long, conflicts_with = "cmdlet")]
    list: bool,
    #[arg(required_unless_present = "list")]
    cmdlet: Option<String>,
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    params: Vec<String>,
}

impl Cmd {
    /// The lab directory the command works on, if it takes one.
    fn data_dir(&self) -> Option<&std::path::Path> {
        match self {
            Cmd::Up { data, .. }
            | Cmd::Setup { data }
            | Cmd::Verify { data, .. }
            | Cmd::Exchange(CmdletArgs { data, .. })
            | Cmd::Skype(CmdletArgs { data, .. })
            | Cmd::Msol(CmdletArgs { data, .. })
            | Cmd::Shell { data, .. }
            | Cmd::RenewAuthCert { data }
            | Cmd::Doctor { data, .. }
            | Cmd::Trace { data, .. }
            | Cmd::Token { data, .. } => Some(data),
            Cmd::Demo { .. } | Cmd::Inspect { .. } | Cmd::Serve { .. } => None,
        }
    }
}

fn print_objects(v: &[Value]) {
    for (i, o) in v.iter().enumerate() {
        if i > 0 {
            outln!();
        }
        match o.as_object() {
            Some(m) => {
                let w = m.keys().map(String::len).max().unwrap_or(0);
                for (k, v) in m {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        Value::Array(a) => format!(
                            "{{{}}}",
                            a.iter()
                                .map(|x| x
                                    .as_str()
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| x.to_string()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        other => other.to_string(),
                    };
                    outln!("{k:<w$} : {s}");
                }
            }
            None => outln!("{o}"),
        }
    }
}

async fn run(cli: Cli) -> Result<i32> {
    match cli.cmd {
        Cmd::Serve { what } => serve(what).await,
        Cmd::Up {
            data,
            json,
            sts_port,
            exchange_port,
            tls,
        } => {
            let lab = lab::start_with(
                &data,
                lab::LabOptions {
                    sts_port,
                    exchange_port,
                    tls,
                    ..Default::default()
                },
            )
            .await?;
            if json {
                outln!(
                    "{}",
                    serde_json::to_string(&json!({
                        "sts": lab.info.sts_url, "exchange": lab.info.exchange_url, "realm": lab.info.realm,
                        "domain": lab.info.domain, "data_dir": lab.info.data_dir,
                        "skype": lab.info.skype_url,
                        "sts_admin_credential": lab.info.sts_admin_credential, "exchange_admin_credential": lab.info.exchange_admin_credential,
                        "skype_admin_credential": lab.info.skype_admin_credential,
                        "ca_cert": lab.info.ca_cert,
                    }))?
                );
            } else {
                outln!(
                    "token service  {}   realm {} ({})",
                    lab.info.sts_url,
                    lab.info.realm,
                    lab.info.domain
                );
                outln!(
                    "exchange       {}   {}",
                    lab.info.exchange_url,
                    lab.info.exchange_host
                );
                outln!("skype online   {}", lab.info.skype_url);
                if let Some(ca) = &lab.info.ca_cert {
                    outln!(
                        "TLS            every service over HTTPS; the lab CA is {}",
                        ca.display()
                    );
                }
                outln!("data           {}", lab.info.data_dir.display());
                outln!(
                    "admin credentials: {}, {} and {}",
                    lab.info.sts_admin_credential.display(),
                    lab.info.exchange_admin_credential.display(),
                    lab.info.skype_admin_credential.display()
                );
                outln!(
                    "next: openhybrid setup --data {0}; openhybrid verify --data {0}",
                    lab.info.data_dir.display()
                );
            }
            tokio::signal::ctrl_c().await?;
            Ok(0)
        }
        Cmd::Demo { json, keep } => demo(json, keep).await,
        Cmd::Setup { data } => {
            let info = lab::LabInfo::load(&data)?;
            let mut failed_line = false;
            let res = steps::setup(&info, &mut |o| {
                failed_line |= !o.ok;
                line(o)
            })
            .await;
            match res {
                Ok(_) => Ok(0),
                Err(e) => {
                    let e = anyhow::Error::from(e);
                    eprintln!("error: {}", explain(&e, Some(&info)));
                    if failed_line {
                        eprintln!(
                            "setup stopped at the failed step; fix what it says and run 'openhybrid setup --data {}' again (the steps are idempotent)",
                            info.data_dir.display()
                        );
                    }
                    Ok(1)
                }
            }
        }
        Cmd::Verify { data, user } => {
            let info = lab::LabInfo::load(&data)?;
            let res = steps::verify(&info, &user, &mut |o| line(o)).await?;
            Ok(if res.iter().all(|o| o.ok) { 0 } else { 1 })
        }
        Cmd::Exchange(CmdletArgs {
            data,
            list,
            cmdlet,
            params,
        }) => {
            let info = lab::LabInfo::load(&data)?;
            let Some(cmdlet) = cmdlet.filter(|_| !list) else {
                let cred = info.exchange_credential()?;
                return list_cmdlets(&info, &info.exchange_url, &cred).await;
            };
            let p = ps::parse_params(&cmdlet, &params)?;
            let cwd = std::env::current_dir()?;
            let file = p
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("FileName"))
                .and_then(|(_, v)| v.as_str())
                .map(|f| shell::host_path(&cwd, f))
                .transpose()?;
            let out = client::ExchangeAdmin::new(&info)?
                .run(&cmdlet, Value::Object(p))
                .await?;
            // Export-ExchangeCertificate -FileName writes the DER file where the command runs.
            if cmdlet.eq_ignore_ascii_case("Export-ExchangeCertificate")
                && let (Some(path), Some(data)) =
                    (file, out.first().and_then(|o| o["FileData"].as_str()))
            {
                shell::write_cert_file(&path, data)?;
            }
            print_objects(&out);
            Ok(0)
        }
        Cmd::Inspect {
            token,
            metadata,
            cert,
            ca,
            json,
        } => inspect_cmd(&token, metadata.as_deref(), &cert, &ca, json).await,
        Cmd::Trace {
            data,
            follow,
            har,
            json,
        } => trace_cmd(&data, follow, har.as_deref(), json).await,
        Cmd::Skype(CmdletArgs {
            data,
            list,
            cmdlet,
            params,
        }) => {
            let info = lab::LabInfo::load(&data)?;
            let Some(cmdlet) = cmdlet.filter(|_| !list) else {
                let cred = info.skype_credential()?;
                return list_cmdlets(&info, &info.skype_url, &cred).await;
            };
            let p = ps::parse_params(&cmdlet, &params)?;
            let out = info.skype_admin()?.run(&cmdlet, Value::Object(p)).await?;
            print_objects(&out);
            Ok(0)
        }
        Cmd::Shell {
            data,
            command,
            file,
        } => {
            let info = lab::LabInfo::load(&data)?;
            match (command, file) {
                (Some(c), _) => shell::run_script(info, &c).await,
                (None, Some(f)) => {
                    let src = std::fs::read_to_string(&f)
                        .with_context(|| format!("reading {}", f.display()))?;
                    shell::run_script(info, &src).await
                }
                (None, None) => shell::interactive(info).await,
            }
        }
        Cmd::RenewAuthCert { data } => {
            let info = lab::LabInfo::load(&data)?;
            let t = steps::renew_auth_cert(&info, &mut |o| line(o)).await?;
            outln!("the auth certificate is now {t}");
            Ok(0)
        }
        Cmd::Doctor { data, json } => {
            let info = lab::LabInfo::load(&data)?;
            let report =
                doctor::diagnose(&info, time::OffsetDateTime::now_utc().unix_timestamp()).await?;
            if json {
                outln!("{}", serde_json::to_string(&report)?);
            } else {
                out!("{}", report.to_text());
            }
            Ok(report.exit_code())
        }
        Cmd::Msol(CmdletArgs {
            data,
            list,
            cmdlet,
            params,
        }) => {
            let Some(cmdlet) = cmdlet.filter(|_| !list) else {
                for (name, params) in MSOL_CMDLETS {
                    outln!("{}", cmdlet_line(name, params.iter().copied()));
                }
                return Ok(0);
            };
            let info = lab::LabInfo::load(&data)?;
            let p = ps::parse_params(&cmdlet, &params)?;
            let out = msol(&info, &cmdlet, &p).await?;
            let list = match out {
                Value::Array(a) => a,
                Value::Object(ref o) if o.contains_key("value") => {
                    o["value"].as_array().cloned().unwrap_or_default()
                }
                // nothing to show (a Remove- cmdlet), as PowerShell shows nothing
                Value::Null => Vec::new(),
                Value::String(ref t) if t.is_empty() => Vec::new(),
                other => vec![other],
            };
            print_objects(&list);
            Ok(0)
        }
        Cmd::Token {
            data,
            user,
            app_only,
        } => {
            if user.is_none() && !app_only {
                bail!("name the user with --user <smtp>, or pass --app-only");
            }
            if let Some(u) = &user {
                check_user(u)?;
            }
            let info = lab::LabInfo::load(&data)?;
            outln!(
                "{}",
                client::mint_f1(&info, if app_only { None } else { user.as_deref() }).await?
            );
            Ok(0)
        }
    }
}

/// The MSOnline cmdlets the lab serves (the CLI binds them and calls the token service's
/// admin API), with their parameters.
pub(crate) const MSOL_CMDLETS: &[(&str, &[&str])] = &[
    (
        "Get-MsolServicePrincipal",
        &["AppPrincipalId", "ServicePrincipalName"],
    ),
    (
        "Set-MsolServicePrincipal",
        &[
            "AppPrincipalId",
            "ServicePrincipalNames",
            "AccountEnabled",
            "DisplayName",
        ],
    ),
    (
        "New-MsolServicePrincipalCredential",
        &[
            "AppPrincipalId",
            "Type",
            "Usage",
            "Value",
            "StartDate",
            "EndDate",
        ],
    ),
    (
        "Get-MsolServicePrincipalCredential",
        &["AppPrincipalId", "ReturnKeyValues"],
    ),
    (
        "Remove-MsolServicePrincipalCredential",
        &["AppPrincipalId", "KeyIds"],
    ),
];

/// How the MSOnline cmdlets bind: PowerShell's common parameters are accepted and ignored; a
/// piped service principal (`-AppPrincipalId $p`) stands for its AppPrincipalId.
const MSOL_BIND: psh::bind::BindRules = psh::bind::BindRules {
    ignored: &[
        "Verbose",
        "Debug",
        "ErrorAction",
        "WarningAction",
        "InformationAction",
        "TenantId",
    ],
    identity_properties: &["AppPrincipalId", "Identity"],
    max_len: None,
    trim: true,
};

pub(crate) async fn msol(
    info: &lab::LabInfo,
    cmdlet: &str,
    p: &serde_json::Map<String, Value>,
) -> Result<Value> {
    let Some((name, allowed)) = MSOL_CMDLETS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(cmdlet))
    else {
        bail!(
            "'{cmdlet}' is not an MSOnline cmdlet this lab serves; run 'openhybrid msol --list' for the supported ones"
        );
    };
    // `-KeyId` is an unambiguous prefix of `-KeyIds`, which PowerShell accepts
    let raw: serde_json::Map<String, Value> = p
        .iter()
        .map(|(k, v)| {
            let bare = k.trim_start_matches('-');
            if bare.eq_ignore_ascii_case("KeyId") {
                ("KeyIds".to_owned(), v.clone())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    let p = psh::bind::Params::bind(name, allowed, raw, MSOL_BIND)?;
    let sts = client::StsAdmin::new(info)?;
    let date = |k: &'static str| -> Result<Option<String>> {
        Ok(match p.date(k)? {
            None => None,
            Some(t) => Some(
                time::OffsetDateTime::from_unix_timestamp(t)?
                    .format(&time::format_description::well_known::Rfc3339)?,
            ),
        })
    };
    match *name {
        "Get-MsolServicePrincipal" => {
            match (p.str("AppPrincipalId")?, p.str("ServicePrincipalName")?) {
                (Some(a), None) => Ok(sts.get_service_principal("AppPrincipalId", &a).await?),
                (None, Some(s)) => Ok(sts
                    .get_service_principal("ServicePrincipalName", &s)
                    .await?),
                (Some(_), Some(_)) => bail!(
                    "Get-MsolServicePrincipal: pass -AppPrincipalId or -ServicePrincipalName, not both"
                ),
                (None, None) => {
                    bail!("Get-MsolServicePrincipal: pass -AppPrincipalId or -ServicePrincipalName")
                }
            }
        }
        "New-MsolServicePrincipalCredential" => {
            let mut body = serde_json::Map::new();
            body.insert("Type".into(), p.req("Type")?.into());
            if let Some(u) = p.str("Usage")? {
                body.insert("Usage".into(), u.into());
            }
            body.insert("Value".into(), p.req("Value")?.into());
            if let Some(d) = date("StartDate")? {
                body.insert("StartDate".into(), d.into());
            }
            if let Some(d) = date("EndDate")? {
                body.insert("EndDate".into(), d.into());
            }
            Ok(sts
                .new_credential(&p.req("AppPrincipalId")?, Value::Object(body))
                .await?)
        }
        "Get-MsolServicePrincipalCredential" => Ok(sts
            .get_credentials(&p.req("AppPrincipalId")?, p.switch("ReturnKeyValues")?)
            .await?),
        "Remove-MsolServicePrincipalCredential" => {
            let app = p.req("AppPrincipalId")?;
            let ids = p.strings("KeyIds")?.unwrap_or_default();
            if ids.is_empty() {
                bail!(
                    "Remove-MsolServicePrincipalCredential: the parameter -KeyIds is required (the KeyId column of Get-MsolServicePrincipalCredential)"
                );
            }
            let mut last = Value::Null;
            for id in ids {
                last = sts.remove_credential(&app, &id).await?;
            }
            Ok(last)
        }
        "Set-MsolServicePrincipal" => {
            let app = p.req("AppPrincipalId")?;
            let mut body = serde_json::Map::new();
            if let Some(spns) = p.strings("ServicePrincipalNames")? {
                if spns.is_empty() {
                    bail!(
                        "Set-MsolServicePrincipal: -ServicePrincipalNames is empty; it replaces the principal's whole list, so nothing was changed. \
                         Pass every name to keep, e.g. $p = Get-MsolServicePrincipal -AppPrincipalId {app}; \
                         $p.ServicePrincipalNames.Add(\"<new name>\"); Set-MsolServicePrincipal -AppPrincipalId {app} -ServicePrincipalNames $p.ServicePrincipalNames"
                    );
                }
                body.insert("ServicePrincipalNames".into(), json!(spns));
            } else if p.has("ServicePrincipalNames") {
                bail!(
                    "Set-MsolServicePrincipal: -ServicePrincipalNames is $null; it replaces the principal's whole list, so nothing was changed. Pass every name to keep"
                );
            }
            if let Some(e) = p.bool("AccountEnabled")? {
                body.insert("AccountEnabled".into(), e.into());
            }
            if let Some(d) = p.str("DisplayName")? {
                if d.is_empty() {
                    bail!("Set-MsolServicePrincipal: -DisplayName is empty; give the new name");
                }
                body.insert("DisplayName".into(), d.into());
            }
            if body.is_empty() {
                bail!(
                    "Set-MsolServicePrincipal: nothing to set; pass -ServicePrincipalNames, -AccountEnabled or -DisplayName"
                );
            }
            Ok(sts.set_service_principal(&app, Value::Object(body)).await?)
        }
        _ => bail!("'{cmdlet}' is listed but not implemented; this is a bug"),
    }
}

/// `Name -Param -Param …`, one line of a `--list`.
fn cmdlet_line<'a>(name: &str, params: impl Iterator<Item = &'a str>) -> String {
    let p: Vec<String> = params.map(|p| format!("-{p}")).collect();
    format!("{name} {}", p.join(" ")).trim_end().to_owned()
}

/// `exchange --list` / `skype --list`: the party's own list (`GET /admin/cmdlets`).
async fn list_cmdlets(info: &lab::LabInfo, base: &str, cred: &str) -> Result<i32> {
    let url = format!("{base}/admin/cmdlets");
    let r = info
        .http()?
        .get(&url)
        .bearer_auth(cred)
        .send()
        .await
        .map_err(|e| lab::LabError::Http {
            url: base.to_owned(),
            source: e,
        })?;
    if !r.status().is_success() {
        bail!("{url} answered HTTP {}", r.status());
    }
    let v: Value = r.json().await.with_context(|| format!("reading {url}"))?;
    let Some(list) = v["output"].as_array() else {
        bail!("{url} did not answer a list of cmdlets");
    };
    for c in list {
        let name = c["Name"].as_str().unwrap_or("?");
        let params = c["Parameters"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        outln!(
            "{}",
            cmdlet_line(name, params.iter().filter_map(Value::as_str))
        );
    }
    Ok(0)
}

/// `token --user`: an SMTP address (`local@domain.tld`).
fn check_user(u: &str) -> Result<()> {
    let why = if u.trim().is_empty() {
        Some("it is empty")
    } else if u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it contains spaces")
    } else {
        match u.split_once('@') {
            None => Some("it has no '@'"),
            Some((local, domain)) => {
                if local.is_empty() {
                    Some("nothing comes before the '@'")
                } else if domain.contains('@') {
                    Some("it has more than one '@'")
                } else if !domain.contains('.')
                    || domain.split('.').any(|l| {
                        l.is_empty() || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    })
                {
                    Some("the part after the '@' is not a domain name such as contoso.example")
                } else {
                    None
                }
            }
        }
    };
    match why {
        Some(why) => bail!(
            "--user '{}' is not a user: {why}. Give the user's SMTP address, e.g. --user alice@contoso.example (a mailbox of the lab's Exchange), or pass --app-only for a token without a user",
            u.chars().take(80).collect::<String>()
        ),
        None => Ok(()),
    }
}

/// An error, with what to do when a party of the lab could not be reached: which party, at
/// which URL, and how to start the lab.
fn explain(e: &anyhow::Error, info: Option<&lab::LabInfo>) -> String {
    let text = once_named(&format!("{e:#}"));
    let unreachable = e.chain().any(|c| {
        c.downcast_ref::<reqwest::Error>()
            .is_some_and(|r| r.is_connect() || r.is_timeout())
    });
    if !unreachable {
        return text;
    }
    let Some(info) = info else {
        return format!("{text}\nIs the lab running? Start it with 'openhybrid up --data DIR'.");
    };
    let party = [
        (&info.sts_url, "the token service"),
        (&info.exchange_url, "Exchange"),
        (&info.skype_url, "Skype Online"),
    ]
    .into_iter()
    .find(|(url, _)| text.contains(url.as_str()));
    let dir = info.data_dir.display();
    let cause = e.root_cause().to_string();
    match party {
        Some((url, name)) => format!(
            "{name} of the lab in {dir} is not reachable at {url} ({cause}).\nStart the lab with 'openhybrid up --data {dir}' and keep it running, then run the command again."
        ),
        None => format!(
            "{text}\nA party of the lab in {dir} is not reachable; start the lab with 'openhybrid up --data {dir}' and keep it running."
        ),
    }
}

/// Says a cmdlet's name once: the lab's clients prefix the server's message with the cmdlet,
/// and the server's message already starts with it (`Set-AuthConfig: Set-AuthConfig: …`).
pub(crate) fn once_named(msg: &str) -> String {
    let mut out = msg.to_owned();
    loop {
        let Some((head, rest)) = out.split_once(": ") else {
            return out;
        };
        let single_word = !head.is_empty() && !head.contains(char::is_whitespace);
        match rest.split_once(": ") {
            Some((next, _)) if single_word && next.eq_ignore_ascii_case(head) => {
                out = rest.to_owned();
            }
            _ => return out,
        }
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Reads a value that may be given inline, as a file, or as `-` (standard input), capped.
fn read_arg(v: &str, max: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    if v == "-" {
        let mut b = Vec::new();
        std::io::stdin().take(max + 1).read_to_end(&mut b)?;
        if b.len() as u64 > max {
            bail!("standard input is larger than {max} bytes");
        }
        return Ok(b);
    }
    let p = std::path::Path::new(v);
    if p.is_file() {
        let len = std::fs::metadata(p)?.len();
        if len > max {
            bail!("{} is {len} bytes; at most {max} are read", p.display());
        }
        return std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    }
    if p.is_dir() {
        bail!(
            "{} is a directory; give a file, the text itself, or - for standard input",
            p.display()
        );
    }
    if looks_like_path(v) {
        bail!(
            "{}: no such file; give an existing file, the text itself, or - for standard input",
            p.display()
        );
    }
    Ok(v.as_bytes().to_vec())
}

/// An argument meant as a file name rather than inline text: it has a '/' (tokens are base64url
/// and have none; inline JSON starts with '{') or a file extension these commands read.
fn looks_like_path(v: &str) -> bool {
    let t = v.trim();
    if t.starts_with(['{', '[']) || t.contains('\n') {
        return false;
    }
    let lower = t.to_ascii_lowercase();
    t.contains('/')
        || [".tok", ".jwt", ".har", ".txt", ".json"]
            .iter()
            .any(|e| lower.ends_with(e))
}

async fn inspect_cmd(
    token: &str,
    metadata: Option<&str>,
    certs: &[PathBuf],
    cas: &[PathBuf],
    json: bool,
) -> Result<i32> {
    let raw = read_arg(token, 1 << 20)?;
    let text = String::from_utf8(raw).context("the token is not UTF-8 text")?;
    let mut opts = inspect::InspectOptions::new(now());
    let mut trust: Option<inspect::TrustMaterial> = None;
    if let Some(m) = metadata {
        let bytes = if m.starts_with("http://") || m.starts_with("https://") {
            let http =
                if cas.is_empty() {
                    reqwest::Client::new()
                } else {
                    let mut roots = Vec::new();
                    for ca in cas {
                        roots.extend(tlskit::read_roots(ca).with_context(|| {
                            format!("reading the CA certificate {}", ca.display())
                        })?);
                    }
                    tlskit::client(&roots)?
                };
            let r = http.get(m).send().await.map_err(|e| {
                let chain = format!("{:#}", anyhow::Error::new(e));
                let hint = if chain.contains("UnknownIssuer") || chain.contains("certificate") {
                    "; if this is a lab started with --tls, trust its CA: --ca DIR/tls/lab-ca.pem"
                } else {
                    ""
                };
                anyhow!("fetching {m}: {chain}{hint}")
            })?;
            if !r.status().is_success() {
                bail!("fetching {m}: HTTP {}", r.status());
            }
            r.bytes().await?.to_vec()
        } else {
            std::fs::read(m).with_context(|| format!("reading {m}"))?
        };
        trust = Some(inspect::TrustMaterial::from_metadata(&bytes)?);
    }
    for c in certs {
        let bytes = std::fs::read(c).with_context(|| format!("reading {}", c.display()))?;
        match trust.as_mut() {
            Some(t) => t.add_certificates(&bytes)?,
            None => trust = Some(inspect::TrustMaterial::from_certificates(&bytes)?),
        }
    }
    if let Some(t) = trust {
        opts = opts.with_trust(t);
    }
    let report = inspect::inspect_token(text.trim(), &opts);
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        out!("{}", report.to_text());
    }
    Ok(if report.all_rules_hold() { 0 } else { 1 })
}

async fn trace_cmd(
    data: &std::path::Path,
    follow: bool,
    har: Option<&std::path::Path>,
    json: bool,
) -> Result<i32> {
    if let Some(h) = har {
        let bytes = read_arg(&h.display().to_string(), inspect::MAX_HAR_BYTES as u64)?;
        let r = inspect::har_report(&bytes)?;
        if json {
            outln!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            out!("{}", r.to_text());
        }
        return Ok(0);
    }
    let info = lab::LabInfo::load(data)?;
    let admin = client::ExchangeAdmin::new(&info)?;
    let records = match admin.traffic().await {
        Ok(r) => r,
        Err(e) => {
            // the lab is not running: read its recorded log (the rotated file first, if any)
            let p = info.data_dir.join("exchange").join("traffic.jsonl");
            let mut bytes = std::fs::read(p.with_extension("jsonl.1")).unwrap_or_default();
            bytes.extend(std::fs::read(&p).with_context(|| {
                format!(
                    "the lab is not reachable ({e}) and {} cannot be read",
                    p.display()
                )
            })?);
            inspect::records_from_json(&bytes)?
        }
    };
    if json {
        // claims the file wrote once per token, on every record, as the admin API gives them
        outln!(
            "{}",
            serde_json::to_string_pretty(&inspect::resolved_records(&records))?
        );
    } else {
        out!("{}", inspect::trace_records(&records));
    }
    if follow {
        let mut seen = records.len();
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            if out::closed() {
                return Ok(0);
            }
            let all = admin.traffic().await?;
            for r in all.iter().skip(seen) {
                outln!(
                    "{}",
                    if json {
                        r.to_string()
                    } else {
                        inspect::format_record(r)
                    }
                );
            }
            seen = all.len().max(seen);
        }
    }
    Ok(0)
}

fn line(o: &steps::Outcome) {
    let mark = if o.ok { "ok" } else { "FAILED" };
    let title = format!("{} ", o.title);
    outln!("Step {:<3} {:.<52} {mark}  {}", o.step, title, o.detail);
}

async fn demo(json_out: bool, keep: bool) -> Result<i32> {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("openhybrid-demo-")
        .tempdir()?;
    let tty = std::io::stdout().is_terminal() && !json_out;
    let spinner = tty.then(|| {
        let s = indicatif::ProgressBar::new_spinner();
        s.set_message("starting the token service and Exchange");
        s.enable_steady_tick(std::time::Duration::from_millis(80));
        s
    });
    let lab = lab::start(dir.path(), (0, 0)).await?;
    if let Some(s) = &spinner {
        s.finish_and_clear();
    }
    let info = lab.info.clone();
    if !json_out {
        outln!(
            "✔ token service    {}   realm {} ({})",
            info.sts_url,
            info.realm,
            info.domain
        );
        outln!(
            "✔ exchange         {}   {}",
            info.exchange_url,
            info.exchange_host
        );
        outln!("✔ skype online     {}", info.skype_url);
    }
    let quiet = json_out;
    let mut report = |o: &steps::Outcome| {
        if !quiet {
            line(o)
        }
    };
    let setup = steps::setup(&info, &mut report).await;
    let mut all = match &setup {
        Ok(v) => v.clone(),
        Err(_) => vec![],
    };
    let verified = if setup.is_ok() {
        steps::verify(&info, "alice@contoso.example", &mut report).await?
    } else {
        vec![]
    };
    all.extend(verified.iter().cloned());
    let ok = setup.is_ok() && !verified.is_empty() && verified.iter().all(|o| o.ok);
    let elapsed = started.elapsed().as_secs_f64();
    if json_out {
        outln!(
            "{}",
            serde_json::to_string(
                &json!({"ok": ok, "realm": info.realm, "sts": info.sts_url, "exchange": info.exchange_url, "steps": all, "seconds": elapsed})
            )?
        );
    } else {
        outln!(
            "{} in {elapsed:.1} s",
            if ok {
                "all checks hold"
            } else {
                "SOME CHECKS FAILED"
            }
        );
    }
    if keep {
        let kept = dir.keep();
        outln!(
            "lab kept running; data in {} (Ctrl-C stops it)",
            kept.display()
        );
        tokio::signal::ctrl_c().await?;
    }
    drop(lab);
    Ok(if ok { 0 } else { 1 })
}

async fn serve(what: Serve) -> Result<i32> {
    let clock: s2s_proto::SharedClock = Arc::new(s2s_proto::SystemClock);
    match what {
        Serve::Sts {
            data,
            listen,
            public_url,
        } => {
            let l = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            let url = public_url.unwrap_or_else(|| {
                format!(
                    "http://{}",
                    l.local_addr()
                        .map(|a| a.to_string())
                        .unwrap_or(listen.clone())
                )
            });
            let sts = sts::Sts::open(sts::Config {
                data_dir: Some(data),
                public_url: url.clone(),
                actor_token_lifetime_secs: 3600,
                auth_failures_per_minute: sts::DEFAULT_AUTH_FAILURES_PER_MINUTE,
                clock,
            })
            .map_err(|e| anyhow!("{e}"))?;
            eprintln!(
                "token service listening on {url}; admin credential in {:?}",
                sts.admin_credential_path()
            );
            // slow clients bounded as in the lab
            lab::start::serve(l, sts.router(), None).await?;
        }
        Serve::Exchange {
            data,
            listen,
            host,
            domain,
        } => {
            let l = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            let url = format!("http://{}", l.local_addr()?);
            let ex = exchange::Exchange::open(exchange::Config {
                data_dir: Some(data),
                hosts: vec![host, "localhost".into(), "127.0.0.1".into()],
                org_domain: domain,
                public_url: url.clone(),
                clock,
                metadata_refresh_secs: 3600,
                bench_noauth_user: None,
                auth_failures_per_minute: exchange::limit::DEFAULT_MAX_FAILURES,
                tls_roots: vec![],
                event_retention_secs: exchange::DEFAULT_EVENT_RETENTION_SECS,
                streaming: exchange::StreamingConfig::default(),
            })
            .map_err(|e| anyhow!("{e}"))?;
            ex.spawn_background();
            ex.spawn_notifier(std::time::Duration::from_secs(1));
            eprintln!(
                "exchange listening on {url}; admin credential in {:?}",
                ex.admin_credential_path()
            );
            // slow clients bounded as in the lab
            lab::start::serve(l, ex.router(), None).await?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cmdlet_is_named_once() {
        assert_eq!(
            once_named("Set-AuthConfig: Set-AuthConfig: the parameter -X is required"),
            "Set-AuthConfig: the parameter -X is required"
        );
        assert_eq!(
            once_named("set-authconfig: Set-AuthConfig: Set-AuthConfig: x: y"),
            "Set-AuthConfig: x: y"
        );
        assert_eq!(
            once_named("calling http://x: refused"),
            "calling http://x: refused"
        );
        assert_eq!(once_named("a b: a b: c"), "a b: a b: c");
    }

    #[test]
    fn paths_and_users() {
        for p in ["/tmp/x", "a.tok", "x.HAR", "dir/t"] {
            assert!(looks_like_path(p), "{p}");
        }
        for t in [
            "eyJhbGciOiJub25lIn0.e30.",
            "{\"log\": {\"url\": \"http://x/\"}}",
        ] {
            assert!(!looks_like_path(t), "{t}");
        }
        assert!(check_user("alice@contoso.example").is_ok());
        for u in [
            "", "a b@c.d", "alice", "@c.d", "a@b", "a@b@c.d", "a@.d", "a@c..d",
        ] {
            assert!(check_user(u).is_err(), "{u:?}");
        }
    }
}
