//! `openhybrid`: serve the parties, run the lab, the seed's steps as commands.
#![forbid(unsafe_code)]

mod ps;
mod shell;

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
    /// Run the lab (token service and Exchange on loopback) and stay up.
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
    Exchange {
        #[arg(long, env = "OPENHYBRID_DATA", default_value = "lab-data")]
        data: PathBuf,
        cmdlet: String,
        #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
        params: Vec<String>,
    },
    /// Run a Skype for Business Online cmdlet against the lab: `openhybrid skype Get-CsOutbox`.
    Skype {
        #[arg(long, env = "OPENHYBRID_DATA", default_value = "lab-data")]
        data: PathBuf,
        cmdlet: String,
        #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
        params: Vec<String>,
    },
    /// Run an MSOnline cmdlet against the lab's token service.
    Msol {
        #[arg(long, env = "OPENHYBRID_DATA", default_value = "lab-data")]
        data: PathBuf,
        cmdlet: String,
        #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
        params: Vec<String>,
    },
    /// The seed's PowerShell lines against the lab: interactive, from a script file, or `-c`.
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
        /// The user to act as (omit with --app-only).
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        app_only: bool,
    },
    /// Run one party as its own process.
    Serve {
        #[command(subcommand)]
        what: Serve,
    },
}

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
    match run(cli).await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}

fn print_objects(v: &[Value]) {
    for (i, o) in v.iter().enumerate() {
        if i > 0 {
            println!();
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
                    println!("{k:<w$} : {s}");
                }
            }
            None => println!("{o}"),
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
                println!(
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
                println!(
                    "token service  {}   realm {} ({})",
                    lab.info.sts_url, lab.info.realm, lab.info.domain
                );
                println!(
                    "exchange       {}   {}",
                    lab.info.exchange_url, lab.info.exchange_host
                );
                println!("skype online   {}", lab.info.skype_url);
                if let Some(ca) = &lab.info.ca_cert {
                    println!(
                        "TLS            every service over HTTPS; the lab CA is {}",
                        ca.display()
                    );
                }
                println!("data           {}", lab.info.data_dir.display());
                println!(
                    "admin credentials: {}, {} and {}",
                    lab.info.sts_admin_credential.display(),
                    lab.info.exchange_admin_credential.display(),
                    lab.info.skype_admin_credential.display()
                );
                println!(
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
            let res = steps::setup(&info, &mut |o| line(o)).await;
            Ok(if res.is_ok() { 0 } else { 1 })
        }
        Cmd::Verify { data, user } => {
            let info = lab::LabInfo::load(&data)?;
            let res = steps::verify(&info, &user, &mut |o| line(o)).await?;
            Ok(if res.iter().all(|o| o.ok) { 0 } else { 1 })
        }
        Cmd::Exchange {
            data,
            cmdlet,
            params,
        } => {
            let info = lab::LabInfo::load(&data)?;
            let p = ps::parse_params(&params)?;
            let file = p
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("FileName"))
                .and_then(|(_, v)| v.as_str())
                .map(PathBuf::from);
            let out = client::ExchangeAdmin::new(&info)?
                .run(&cmdlet, Value::Object(p))
                .await?;
            // Export-ExchangeCertificate -FileName writes the DER file where the command runs.
            if cmdlet.eq_ignore_ascii_case("Export-ExchangeCertificate")
                && let (Some(path), Some(data)) =
                    (file, out.first().and_then(|o| o["FileData"].as_str()))
            {
                let der = s2s_proto::b64::std_decode(data)?;
                std::fs::write(&path, der)
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
            print_objects(&out);
            Ok(0)
        }
        Cmd::Inspect {
            token,
            metadata,
            cert,
            json,
        } => inspect_cmd(&token, metadata.as_deref(), &cert, json).await,
        Cmd::Trace {
            data,
            follow,
            har,
            json,
        } => trace_cmd(&data, follow, har.as_deref(), json).await,
        Cmd::Skype {
            data,
            cmdlet,
            params,
        } => {
            let info = lab::LabInfo::load(&data)?;
            let p = ps::parse_params(&params)?;
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
            println!("the auth certificate is now {t}");
            Ok(0)
        }
        Cmd::Doctor { data, json } => {
            let info = lab::LabInfo::load(&data)?;
            let report =
                doctor::diagnose(&info, time::OffsetDateTime::now_utc().unix_timestamp()).await?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.to_text());
            }
            Ok(report.exit_code())
        }
        Cmd::Msol {
            data,
            cmdlet,
            params,
        } => {
            let info = lab::LabInfo::load(&data)?;
            let p = ps::parse_params(&params)?;
            let out = msol(&info, &cmdlet, &p).await?;
            let list = match out {
                Value::Array(a) => a,
                Value::Object(ref o) if o.contains_key("value") => {
                    o["value"].as_array().cloned().unwrap_or_default()
                }
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
            let info = lab::LabInfo::load(&data)?;
            if user.is_none() && !app_only {
                bail!("name the user with --user <smtp>, or pass --app-only");
            }
            println!(
                "{}",
                client::mint_f1(&info, if app_only { None } else { user.as_deref() }).await?
            );
            Ok(0)
        }
    }
}

pub(crate) async fn msol(
    info: &lab::LabInfo,
    cmdlet: &str,
    p: &serde_json::Map<String, Value>,
) -> Result<Value> {
    let sts = client::StsAdmin::new(info)?;
    let get = |k: &str| -> Option<String> {
        p.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .and_then(|(_, v)| match v {
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                Value::Object(o) => o
                    .get("AppPrincipalId")
                    .or_else(|| o.get("Identity"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                _ => None,
            })
    };
    let req = |k: &str| get(k).ok_or_else(|| anyhow!("{cmdlet}: parameter -{k} is required"));
    match cmdlet.to_ascii_lowercase().as_str() {
        "get-msolserviceprincipal" => match (get("AppPrincipalId"), get("ServicePrincipalName")) {
            (Some(a), _) => Ok(sts.get_service_principal("AppPrincipalId", &a).await?),
            (None, Some(s)) => Ok(sts
                .get_service_principal("ServicePrincipalName", &s)
                .await?),
            _ => bail!("Get-MsolServicePrincipal: pass -AppPrincipalId or -ServicePrincipalName"),
        },
        "new-msolserviceprincipalcredential" => {
            let mut body = serde_json::Map::new();
            for k in ["Type", "Usage", "Value", "StartDate", "EndDate"] {
                if let Some(v) = get(k) {
                    body.insert(k.into(), v.into());
                }
            }
            Ok(sts
                .new_credential(&req("AppPrincipalId")?, Value::Object(body))
                .await?)
        }
        "get-msolserviceprincipalcredential" => Ok(sts
            .get_credentials(
                &req("AppPrincipalId")?,
                get("ReturnKeyValues").is_some_and(|v| v == "true"),
            )
            .await?),
        "remove-msolserviceprincipalcredential" => Ok(sts
            .remove_credential(
                &req("AppPrincipalId")?,
                &req("KeyIds").or_else(|_| req("KeyId"))?,
            )
            .await?),
        "set-msolserviceprincipal" => {
            let spns: Vec<String> = req("ServicePrincipalNames")?
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            Ok(sts.set_spns(&req("AppPrincipalId")?, &spns).await?)
        }
        _ => bail!(
            "'{cmdlet}' is not an MSOnline cmdlet this lab serves; supported: Get-MsolServicePrincipal, Set-MsolServicePrincipal, New-/Get-/Remove-MsolServicePrincipalCredential"
        ),
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
    Ok(v.as_bytes().to_vec())
}

async fn inspect_cmd(
    token: &str,
    metadata: Option<&str>,
    certs: &[PathBuf],
    json: bool,
) -> Result<i32> {
    let raw = read_arg(token, 1 << 20)?;
    let text = String::from_utf8(raw).context("the token is not UTF-8 text")?;
    let mut opts = inspect::InspectOptions::new(now());
    let mut trust: Option<inspect::TrustMaterial> = None;
    if let Some(m) = metadata {
        let bytes = if m.starts_with("http://") || m.starts_with("https://") {
            let r = reqwest::get(m)
                .await
                .with_context(|| format!("fetching {m}"))?;
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
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
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
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            print!("{}", r.to_text());
        }
        return Ok(0);
    }
    let info = lab::LabInfo::load(data)?;
    let admin = client::ExchangeAdmin::new(&info)?;
    let records = match admin.traffic().await {
        Ok(r) => r,
        Err(e) => {
            // the lab is not running: read its recorded log
            let p = info.data_dir.join("exchange").join("traffic.jsonl");
            let bytes = std::fs::read(&p).with_context(|| {
                format!(
                    "the lab is not reachable ({e}) and {} cannot be read",
                    p.display()
                )
            })?;
            inspect::records_from_json(&bytes)?
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&records)?);
    } else {
        print!("{}", inspect::trace_records(&records));
    }
    if follow {
        let mut seen = records.len();
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let all = admin.traffic().await?;
            for r in all.iter().skip(seen) {
                println!(
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
    println!("Step {:<3} {:.<52} {mark}  {}", o.step, title, o.detail);
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
        println!(
            "✔ token service    {}   realm {} ({})",
            info.sts_url, info.realm, info.domain
        );
        println!(
            "✔ exchange         {}   {}",
            info.exchange_url, info.exchange_host
        );
        println!("✔ skype online     {}", info.skype_url);
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
        println!(
            "{}",
            serde_json::to_string(
                &json!({"ok": ok, "realm": info.realm, "sts": info.sts_url, "exchange": info.exchange_url, "steps": all, "seconds": elapsed})
            )?
        );
    } else {
        println!(
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
        println!(
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
            axum::serve(
                l,
                sts.router()
                    .into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await?;
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
            })
            .map_err(|e| anyhow!("{e}"))?;
            ex.spawn_background();
            ex.spawn_notifier(std::time::Duration::from_secs(1));
            eprintln!(
                "exchange listening on {url}; admin credential in {:?}",
                ex.admin_credential_path()
            );
            axum::serve(
                l,
                ex.router()
                    .into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await?;
        }
    }
    Ok(0)
}
