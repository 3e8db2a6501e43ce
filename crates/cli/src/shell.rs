//! `openhybrid shell`: the seed's PowerShell lines against the lab. The language is `psh`'s
//! subset; this host routes each cmdlet to the party that owns it: `*-Msol*` to the token
//! service's admin API, `*-Cs*` to Skype Online, everything else to Exchange. It also provides
//! the two helpers that replace the seed's .NET script lines: `Export-ExchangeCertificate
//! -FileName` writes the DER file here, and `Get-AuthCertificateBase64 [-FileName F]` reads it
//! back as base64 (or exports the current auth certificate when no file is named).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;
use psh::{CmdletHost, HostError, Session};
use serde_json::{Map, Value, json};

use lab::LabInfo;
use lab::client::ExchangeAdmin;

pub struct LabHost {
    pub info: LabInfo,
    pub cwd: PathBuf,
}

fn param<'a>(p: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    p.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

impl LabHost {
    fn path(&self, f: &str) -> PathBuf {
        let p = PathBuf::from(f.replace('\\', "/"));
        if p.is_absolute() { p } else { self.cwd.join(p) }
    }

    async fn exchange(
        &self,
        cmdlet: &str,
        params: Map<String, Value>,
    ) -> Result<Vec<Value>, HostError> {
        let file = param(&params, "FileName")
            .and_then(Value::as_str)
            .map(|f| self.path(f));
        let ex = ExchangeAdmin::new(&self.info).map_err(|e| HostError::new(e.to_string()))?;
        let out = ex
            .run(cmdlet, Value::Object(params))
            .await
            .map_err(|e| HostError::new(e.to_string()))?;
        if cmdlet.eq_ignore_ascii_case("Export-ExchangeCertificate")
            && let (Some(path), Some(data)) =
                (file, out.first().and_then(|o| o["FileData"].as_str()))
        {
            let der =
                s2s_proto::b64::std_decode(data).map_err(|e| HostError::new(e.to_string()))?;
            std::fs::write(&path, der)
                .map_err(|e| HostError::new(format!("writing {}: {e}", path.display())))?;
        }
        Ok(out)
    }
}

impl CmdletHost for LabHost {
    async fn invoke(
        &mut self,
        cmdlet: &str,
        params: Map<String, Value>,
    ) -> Result<Vec<Value>, HostError> {
        let lower = cmdlet.to_ascii_lowercase();
        if lower == "get-authcertificatebase64" {
            let der = match param(&params, "FileName").and_then(Value::as_str) {
                Some(f) => {
                    let p = self.path(f);
                    std::fs::read(&p).map_err(|e| HostError::new(format!("reading {}: {e}; export it first with Export-ExchangeCertificate -FileName", p.display())))?
                }
                None => {
                    let (cert, _) = lab::steps::export_auth_cert(
                        &self.info,
                        &ExchangeAdmin::new(&self.info)
                            .map_err(|e| HostError::new(e.to_string()))?,
                    )
                    .await
                    .map_err(|e| HostError::new(e.to_string()))?;
                    cert.der().to_vec()
                }
            };
            s2s_proto::Certificate::from_der(&der).map_err(|e| HostError::new(e.to_string()))?;
            return Ok(vec![Value::String(s2s_proto::b64::std_encode(der))]);
        }
        if lower.contains("-msol") {
            return crate::msol(&self.info, cmdlet, &params)
                .await
                .map(|v| match v {
                    Value::Array(a) => a,
                    Value::Object(ref o) if o.contains_key("value") => {
                        o["value"].as_array().cloned().unwrap_or_default()
                    }
                    other => vec![other],
                })
                .map_err(|e| HostError::new(format!("{e:#}")));
        }
        if lower.contains("-cs") || lower == "test-oauthconnectivity" {
            let admin = self
                .info
                .skype_admin()
                .map_err(|e| HostError::new(e.to_string()))?;
            return admin
                .run(cmdlet, Value::Object(params))
                .await
                .map_err(|e| HostError::new(e.to_string()));
        }
        self.exchange(cmdlet, params).await
    }

    async fn connect(&mut self, _params: Map<String, Value>) -> Result<Vec<Value>, HostError> {
        // The seed's credentials dialog: the lab's tenant admin credential is the token service's
        // admin credential file; check it works.
        let sts =
            lab::client::StsAdmin::new(&self.info).map_err(|e| HostError::new(e.to_string()))?;
        sts.get_service_principal("AppPrincipalId", s2s_proto::principal::SKYPE_APP_ID)
            .await
            .map_err(|e| HostError::new(format!("Connect-MsolService: {e}")))?;
        eprintln!(
            "Connected to the lab's token service {} (tenant {}, {})",
            self.info.sts_url, self.info.realm, self.info.domain
        );
        let _ = json!({});
        Ok(vec![])
    }
}

fn session() -> Session {
    let mut s = Session::new(time::OffsetDateTime::now_utc);
    s.set_env("SYSTEMDRIVE", "C:");
    s
}

/// Runs a script file (or `-c` text); stops at the first error.
pub async fn run_script(info: LabInfo, source: &str) -> Result<i32> {
    let mut host = LabHost {
        info,
        cwd: std::env::current_dir()?,
    };
    let mut s = session();
    let mut out = std::io::stdout();
    match psh::run_script(source, &mut s, &mut host, &mut out).await {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(1)
        }
    }
}

/// The interactive shell: `PS lab>` prompts, `>>` for continued input, `exit` to leave.
pub async fn interactive(info: LabInfo) -> Result<i32> {
    let tty = std::io::stdin().is_terminal();
    let mut host = LabHost {
        info,
        cwd: std::env::current_dir()?,
    };
    let mut s = session();
    let stdin = std::io::stdin();
    let mut pending = String::new();
    let mut failed = false;
    if tty {
        eprintln!(
            "openhybrid shell — the seed's PowerShell lines against the lab ({}). 'exit' leaves.",
            host.info.data_dir.display()
        );
    }
    loop {
        if tty {
            eprint!(
                "{}",
                if pending.is_empty() {
                    "PS lab> "
                } else {
                    ">> "
                }
            );
            let _ = std::io::stderr().flush();
        }
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            break;
        }
        if pending.is_empty()
            && matches!(line.trim().to_ascii_lowercase().as_str(), "exit" | "quit")
        {
            break;
        }
        pending.push_str(&line);
        if psh::needs_more_input(&pending) {
            continue;
        }
        let src = std::mem::take(&mut pending);
        let mut out = std::io::stdout();
        if let Err(e) = psh::run_line(&src, &mut s, &mut host, &mut out).await {
            eprintln!("error: {e}");
            failed = true;
        }
    }
    Ok(if failed && !tty { 1 } else { 0 })
}
