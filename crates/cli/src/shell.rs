//! `openhybrid shell`: the seed's PowerShell lines against the lab. The language is `psh`'s
//! subset; this host routes each cmdlet to the party that owns it: `*-Msol*` to the token
//! service's admin API, `*-Cs*` to Skype Online, everything else to Exchange. It also provides
//! the two helpers that replace the seed's .NET script lines: `Export-ExchangeCertificate
//! -FileName` writes the DER file here, and `Get-AuthCertificateBase64 [-FileName F]` reads it
//! back as base64 (or exports the current auth certificate when no file is named).
//! `Test-OAuthConnectivity` goes by its `-Service`: `EWS` (the default) is Skype's F1 test,
//! `Generic` is Exchange's F2 test.
//!
//! Files: `$env:SYSTEMDRIVE` is `C:`; a Windows path with a drive (`C:\OAuthConfig\OAuthCert.cer`)
//! is taken relative to the shell's working directory, which stands for the drive's root
//! (`./OAuthConfig/OAuthCert.cer`); see [`host_path`].

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
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

/// Where a `-FileName` goes on this machine. `C:\X\Y` (any drive letter, `\` or `/`) and
/// `\X\Y` are the article's Windows paths: the working directory stands for the drive's root,
/// so they become `<cwd>/X/Y`. Other relative paths are relative to the working directory;
/// absolute Unix paths stay as they are. UNC paths (`\\server\share`) are refused.
pub fn host_path(cwd: &Path, f: &str) -> Result<PathBuf> {
    let t = f.trim();
    if t.is_empty() {
        bail!("-FileName is empty; name the file, e.g. -FileName OAuthCert.cer");
    }
    if t.starts_with("\\\\") || t.starts_with("//") {
        bail!(
            "-FileName {t}: network (UNC) paths are not supported here; give a local path such as C:\\OAuthConfig\\OAuthCert.cer or OAuthCert.cer"
        );
    }
    let b = t.as_bytes();
    let (windows, rest) = if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        (true, &t[2..])
    } else if t.starts_with('\\') {
        (true, t)
    } else {
        (false, t)
    };
    let rest = rest.replace('\\', "/");
    if windows {
        let mut p = cwd.to_path_buf();
        for part in rest.split('/').filter(|s| !s.is_empty() && *s != ".") {
            if part == ".." {
                bail!(
                    "-FileName {t}: '..' is not supported in a Windows path; the drive's root is the working directory {}",
                    cwd.display()
                );
            }
            p.push(part);
        }
        return Ok(p);
    }
    let p = PathBuf::from(rest);
    Ok(if p.is_absolute() { p } else { cwd.join(p) })
}

/// Writes an exported certificate (base64 from Export-ExchangeCertificate) as DER to `path`,
/// creating its directory, and says where it went.
pub fn write_cert_file(path: &Path, base64: &str) -> Result<()> {
    let der = s2s_proto::b64::std_decode(base64)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the directory {}", dir.display()))?;
    }
    std::fs::write(path, der).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn host_err(e: impl std::fmt::Display) -> HostError {
    HostError::new(crate::once_named(&e.to_string()))
}

impl LabHost {
    fn path(&self, f: &str) -> Result<PathBuf, HostError> {
        host_path(&self.cwd, f).map_err(|e| HostError::new(format!("{e:#}")))
    }

    async fn exchange(
        &self,
        cmdlet: &str,
        params: Map<String, Value>,
    ) -> Result<Vec<Value>, HostError> {
        let file = param(&params, "FileName")
            .and_then(Value::as_str)
            .map(|f| self.path(f))
            .transpose()?;
        let ex = ExchangeAdmin::new(&self.info).map_err(host_err)?;
        let out = ex
            .run(cmdlet, Value::Object(params))
            .await
            .map_err(host_err)?;
        if cmdlet.eq_ignore_ascii_case("Export-ExchangeCertificate")
            && let (Some(path), Some(data)) =
                (file, out.first().and_then(|o| o["FileData"].as_str()))
        {
            write_cert_file(&path, data).map_err(|e| HostError::new(format!("{e:#}")))?;
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
                    let p = self.path(f)?;
                    std::fs::read(&p).map_err(|e| HostError::new(format!("reading {}: {e}; export it first with Export-ExchangeCertificate -FileName", p.display())))?
                }
                None => {
                    let (cert, _) = lab::steps::export_auth_cert(
                        &self.info,
                        &ExchangeAdmin::new(&self.info).map_err(host_err)?,
                    )
                    .await
                    .map_err(host_err)?;
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
                .map_err(|e| HostError::new(crate::once_named(&format!("{e:#}"))));
        }
        let skype = if lower == "test-oauthconnectivity" {
            // EWS (the default) is Skype's F1 test; Generic is Exchange's F2 test
            match param(&params, "Service") {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("EWS") => true,
                Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("Generic") => false,
                Some(other) => {
                    return Err(HostError::new(format!(
                        "Test-OAuthConnectivity: -Service {} is not a service this lab tests; use -Service EWS (Skype Online's F1 call to Exchange) or -Service Generic (Exchange's F2 call to Skype Online)",
                        psh::to_text(other)
                    )));
                }
            }
        } else {
            lower.contains("-cs")
        };
        if skype {
            let admin = self.info.skype_admin().map_err(host_err)?;
            return admin
                .run(cmdlet, Value::Object(params))
                .await
                .map_err(host_err);
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
    let mut out = crate::out::Stdout;
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
        let mut out = crate::out::Stdout;
        if let Err(e) = psh::run_line(&src, &mut s, &mut host, &mut out).await {
            eprintln!("error: {e}");
            failed = true;
        }
    }
    Ok(if failed && !tty { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::host_path;
    use std::path::Path;

    #[test]
    fn windows_paths_are_under_the_working_directory() {
        let cwd = Path::new("/work/dir");
        let p = |f: &str| host_path(cwd, f).map(|p| p.display().to_string());
        assert_eq!(
            p("C:\\OAuthConfig\\OAuthCert.cer").unwrap(),
            "/work/dir/OAuthConfig/OAuthCert.cer"
        );
        assert_eq!(
            p("c:/OAuthConfig/x.cer").unwrap(),
            "/work/dir/OAuthConfig/x.cer"
        );
        assert_eq!(
            p("\\OAuthConfig\\x.cer").unwrap(),
            "/work/dir/OAuthConfig/x.cer"
        );
        assert_eq!(p("C:x.cer").unwrap(), "/work/dir/x.cer");
        assert_eq!(p("OAuthCert.cer").unwrap(), "/work/dir/OAuthCert.cer");
        assert_eq!(p("sub\\x.cer").unwrap(), "/work/dir/sub/x.cer");
        assert_eq!(p("/tmp/x.cer").unwrap(), "/tmp/x.cer");
        for bad in ["", "  ", "\\\\server\\share\\x.cer", "C:\\..\\etc\\x"] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }
}
