//! The lab: the token service and Exchange on loopback, each with its own data directory under
//! one lab directory, and `lab.json` describing where everything is.

use crate::conn_limit::ConnectionLimit;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{LabError, Result};
use s2s_proto::{SharedClock, SigningKey, SystemClock};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

// The longest actor token the token service can be configured to issue (its lifetime, with nbf
// back-dated by the skew) is one Exchange accepts: checked when the lab is compiled.
const _: () = assert!(
    sts::MAX_ACTOR_TOKEN_LIFETIME_SECS + s2s_proto::validate::DEFAULT_SKEW_SECS
        <= exchange::trust::MAX_ACCEPTED_TOKEN_LIFETIME_SECS
);

pub const LAB_FILE: &str = "lab.json";
pub const DOMAIN: &str = "contoso.example";
pub const EXCHANGE_HOST: &str = "mail.contoso.example";
pub const SKYPE_HOST: &str = "sfb.contoso.example";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabInfo {
    pub data_dir: PathBuf,
    pub realm: String,
    pub domain: String,
    pub sts_url: String,
    pub sts_admin_credential: PathBuf,
    pub exchange_url: String,
    pub exchange_host: String,
    pub exchange_admin_credential: PathBuf,
    pub skype_url: String,
    /// The lab CA the services' HTTPS certificates chain to (`up --tls`); None: plain HTTP.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    pub skype_admin_credential: PathBuf,
    /// Skype Online's signing key (PKCS#8) and certificate, as provisioned in the STS registry.
    pub skype_key: PathBuf,
    pub skype_cert: PathBuf,
}

impl LabInfo {
    pub fn load(dir: &Path) -> Result<LabInfo> {
        let p = dir.join(LAB_FILE);
        let s = std::fs::read_to_string(&p).map_err(|_| LabError::NoLab(dir.to_path_buf()))?;
        serde_json::from_str(&s).map_err(|source| LabError::Json {
            what: p.display().to_string(),
            source,
        })
    }

    pub fn sts_credential(&self) -> Result<String> {
        read_secret(&self.sts_admin_credential)
    }
    pub fn exchange_credential(&self) -> Result<String> {
        read_secret(&self.exchange_admin_credential)
    }
    /// An HTTP client for the lab: trusts the lab CA when the lab runs HTTPS.
    pub fn http(&self) -> Result<reqwest::Client> {
        match &self.ca_cert {
            Some(ca) => {
                let roots = tlskit::read_roots(ca).map_err(|e| LabError::Check(e.to_string()))?;
                tlskit::client(&roots).map_err(|e| LabError::Check(e.to_string()))
            }
            None => Ok(reqwest::Client::new()),
        }
    }

    /// Skype's admin client, trusting the lab CA when the lab runs HTTPS.
    pub fn skype_admin(&self) -> Result<skype::client::SkypeAdmin> {
        Ok(skype::client::SkypeAdmin::with_http(
            &self.skype_url,
            &self.skype_credential()?,
            self.http()?,
        ))
    }

    pub fn skype_credential(&self) -> Result<String> {
        read_secret(&self.skype_admin_credential)
    }
    pub fn skype_key(&self) -> Result<SigningKey> {
        let k = std::fs::read(&self.skype_key).map_err(LabError::io(&self.skype_key))?;
        let c = std::fs::read(&self.skype_cert).map_err(LabError::io(&self.skype_cert))?;
        Ok(SigningKey::from_pkcs8(&k, &c)?)
    }
}

fn read_secret(p: &Path) -> Result<String> {
    Ok(std::fs::read_to_string(p)
        .map_err(LabError::io(p))?
        .trim()
        .to_owned())
}

/// A running lab (in this process).
pub struct Lab {
    pub info: LabInfo,
    pub exchange: exchange::Exchange,
    pub skype: skype::Skype,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The data directory's lock, held while the lab runs (one lab per directory).
    _lock: std::fs::File,
}

/// The lock file in a lab directory: exclusively locked by the running lab, holding its pid.
pub const LOCK_FILE: &str = "lab.lock";

/// Takes the directory's lock, or says which process holds it.
fn lock_dir(dir: &Path) -> Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let path = dir.join(LOCK_FILE);
    // owner-only, like everything in the lab directory
    store::private::ensure_private_file(&path).map_err(|e| LabError::Start {
        service: "the lab directory",
        message: e.to_string(),
    })?;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(LabError::io(&path))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = f.read_to_string(&mut text);
            return Err(LabError::AlreadyRunning {
                dir: dir.to_owned(),
                pid: text.trim().parse().ok(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(LabError::io(&path)(e)),
    }
    f.set_len(0).map_err(LabError::io(&path))?;
    f.rewind().map_err(LabError::io(&path))?;
    writeln!(f, "{}", std::process::id()).map_err(LabError::io(&path))?;
    Ok(f)
}

impl Drop for Lab {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn listener(port: u16, scheme: &str) -> Result<(tokio::net::TcpListener, String)> {
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(LabError::io(format!("127.0.0.1:{port}")))?;
    let url = format!(
        "{scheme}://{}",
        l.local_addr().map_err(LabError::io("listener"))?
    );
    Ok((l, url))
}

/// Starts the token service and Exchange on loopback with their state under `dir`, creating the
/// tenant, the organization's mailboxes and Skype's registry key on first start.
pub async fn start(dir: &Path, ports: (u16, u16)) -> Result<Lab> {
    start_with(
        dir,
        LabOptions {
            sts_port: ports.0,
            exchange_port: ports.1,
            ..Default::default()
        },
    )
    .await
}

/// How to start the lab.
#[derive(Debug, Clone, Default)]
pub struct LabOptions {
    /// 0: an ephemeral port.
    pub sts_port: u16,
    pub exchange_port: u16,
    pub skype_port: u16,
    /// Benchmarks only: Exchange's unauthenticated route acts as this mailbox.
    pub bench_noauth_user: Option<String>,
    /// Serve HTTPS with certificates from a lab CA generated in `<data>/tls` (`up --tls`).
    pub tls: bool,
}

/// How long slow clients may hold a connection, and how many connections a service holds open
/// at once (see [`serve`]).
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// To send a request's headers.
    pub header_read: std::time::Duration,
    /// For a new connection to send its first complete request.
    pub first_request: std::time::Duration,
    /// For a request, its body included, to be read and answered (else 408).
    pub request: std::time::Duration,
    /// Connections open at once; past it a new one is closed as it is accepted
    /// ([`crate::conn_limit::ConnectionLimit`]).
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read: std::time::Duration::from_secs(10),
            first_request: std::time::Duration::from_secs(20),
            request: std::time::Duration::from_secs(120),
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// Connections one service holds open at once by default: far above what the lab's own parties
/// and the load benchmarks use (up to 256), well under the process's file descriptors.
pub const MAX_CONNECTIONS: usize = 4096;

/// Serves `router` on `l`, over HTTPS when `tls` is given, with the peer address available to
/// the handlers (rate limiting, loopback-only admin APIs), and slow clients bounded by the
/// default [`ServeLimits`], so a client trickling bytes cannot hold a connection for ever.
/// Used by the lab and by `openhybrid serve`.
pub fn serve(
    l: tokio::net::TcpListener,
    router: axum::Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
) -> tokio::task::JoinHandle<()> {
    serve_with(l, router, tls, ServeLimits::default())
}

/// [`serve`] with the given timeouts.
pub fn serve_with(
    l: tokio::net::TcpListener,
    router: axum::Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    t: ServeLimits,
) -> tokio::task::JoinHandle<()> {
    let router = router.layer(
        tower::ServiceBuilder::new()
            .layer(axum::error_handling::HandleErrorLayer::new(
                |_: tower::BoxError| async { axum::http::StatusCode::REQUEST_TIMEOUT },
            ))
            .timeout(t.request),
    );
    let svc = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move {
        let Ok(std_l) = l.into_std() else {
            return;
        };
        match tls {
            None => {
                if let Ok(server) = axum_server::from_tcp(std_l) {
                    let mut server = server
                        .first_request_timeout(t.first_request)
                        .map(|a| ConnectionLimit::new(a, t.max_connections));
                    server
                        .http_builder()
                        .http1()
                        .header_read_timeout(t.header_read);
                    let _ = server.serve(svc).await;
                }
            }
            Some(cfg) => {
                if let Ok(server) = axum_server::from_tcp_rustls(std_l, cfg) {
                    let mut server = server
                        .first_request_timeout(t.first_request)
                        .map(|a| ConnectionLimit::new(a, t.max_connections));
                    server
                        .http_builder()
                        .http1()
                        .header_read_timeout(t.header_read);
                    let _ = server.serve(svc).await;
                }
            }
        }
    })
}

/// [`start`], with Exchange's unauthenticated benchmark route acting as `bench_noauth_user`
/// (load benchmarks only).
pub async fn start_with(dir: &Path, opts: LabOptions) -> Result<Lab> {
    // owner-only (0700), an existing directory too: it holds every party's keys and secrets
    store::private::ensure_private_dir(dir).map_err(|e| LabError::Start {
        service: "the lab directory",
        message: e.to_string(),
    })?;
    let dir = dir.canonicalize().map_err(LabError::io(dir))?;
    let lock = lock_dir(&dir)?;
    let clock: SharedClock = Arc::new(SystemClock);
    let (tls, roots, ca_cert) = if opts.tls {
        let t = tlskit::LabTls::ensure(
            &dir.join("tls"),
            &["127.0.0.1", "localhost", EXCHANGE_HOST, SKYPE_HOST],
        )
        .map_err(|e| LabError::Start {
            service: "the lab CA",
            message: e.to_string(),
        })?;
        let cfg = t.server_config().await.map_err(|e| LabError::Start {
            service: "the lab CA",
            message: e.to_string(),
        })?;
        let roots = tlskit::read_roots(&t.ca_cert).map_err(|e| LabError::Start {
            service: "the lab CA",
            message: e.to_string(),
        })?;
        (Some(cfg), roots, Some(t.ca_cert))
    } else {
        (None, vec![], None)
    };
    let scheme = if opts.tls { "https" } else { "http" };
    let (sts_l, sts_url) = listener(opts.sts_port, scheme).await?;
    let sts = sts::Sts::open(sts::Config {
        data_dir: Some(dir.join("sts")),
        public_url: sts_url.clone(),
        actor_token_lifetime_secs: 3600,
        auth_failures_per_minute: sts::DEFAULT_AUTH_FAILURES_PER_MINUTE,
        clock: clock.clone(),
    })
    .map_err(|e| LabError::Start {
        service: "the token service",
        message: e.to_string(),
    })?;
    let sts_cred_path = sts.admin_credential_path().ok_or_else(|| LabError::Start {
        service: "the token service",
        message: "it has no admin credential file".into(),
    })?;
    let sts_router = sts.router();
    let mut tasks = vec![serve(sts_l, sts_router, tls.clone())];

    let (ex_l, ex_url) = listener(opts.exchange_port, scheme).await?;
    let ex = exchange::Exchange::open(exchange::Config {
        data_dir: Some(dir.join("exchange")),
        hosts: vec![EXCHANGE_HOST.into(), "localhost".into(), "127.0.0.1".into()],
        org_domain: DOMAIN.into(),
        public_url: ex_url.clone(),
        clock: clock.clone(),
        metadata_refresh_secs: 3600,
        bench_noauth_user: opts.bench_noauth_user.clone(),
        auth_failures_per_minute: exchange::limit::DEFAULT_MAX_FAILURES,
        tls_roots: roots.clone(),
        event_retention_secs: exchange::DEFAULT_EVENT_RETENTION_SECS,
        streaming: exchange::StreamingConfig::default(),
    })
    .map_err(|e| LabError::Start {
        service: "Exchange",
        message: e.to_string(),
    })?;
    ex.spawn_background();
    ex.spawn_notifier(std::time::Duration::from_millis(500));
    let ex_router = ex.router();
    tasks.push(serve(ex_l, ex_router, tls.clone()));

    let http = match &tls {
        Some(_) => tlskit::client(&roots).map_err(|e| LabError::Start {
            service: "the lab CA",
            message: e.to_string(),
        })?,
        None => reqwest::Client::new(),
    };
    let sts_cred = read_secret(&sts_cred_path)?;
    // the tenant
    let tenants_url = format!("{sts_url}/admin/tenants");
    let tenants: Value = http
        .get(&tenants_url)
        .bearer_auth(&sts_cred)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(LabError::http(&tenants_url))?
        .json()
        .await
        .map_err(LabError::http(&tenants_url))?;
    let realm = match find_realm(&tenants) {
        Some(r) => r,
        None => {
            let t: Value = http
                .post(&tenants_url)
                .bearer_auth(&sts_cred)
                .json(&json!({"Domain": DOMAIN}))
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(LabError::http(&tenants_url))?
                .json()
                .await
                .map_err(LabError::http(&tenants_url))?;
            find_realm(&t).ok_or_else(|| LabError::Start {
                service: "the tenant",
                message: "the token service did not return a realm".into(),
            })?
        }
    };
    // Skype for Business Online: its own key (in its data directory), registered in the STS
    // first-party registry, as the service provisions itself.
    let (sk_l, skype_url) = listener(opts.skype_port, scheme).await?;
    let skype_dir = dir.join("skype");
    let skype = skype::Skype::open(skype::Config {
        data_dir: Some(skype_dir.clone()),
        public_url: skype_url.clone(),
        host: SKYPE_HOST.into(),
        sts_url: sts_url.clone(),
        realm: realm.clone(),
        clock: clock.clone(),
        tls_roots: roots.clone(),
    })
    .map_err(|e| LabError::Start {
        service: "Skype for Business Online",
        message: e.to_string(),
    })?;
    let url = format!(
        "{sts_url}/admin/first-party/{}/certificates",
        s2s_proto::principal::SKYPE_APP_ID
    );
    http.post(&url)
        .bearer_auth(&sts_cred)
        .json(&json!({"certificate": skype.signing_certificate().to_base64()}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(LabError::http(&url))?;
    skype.spawn_background();
    let sk_router = skype.router();
    tasks.push(serve(sk_l, sk_router, tls.clone()));
    let (skype_key, skype_cert) = (
        skype_dir.join("signing-key.pk8"),
        skype_dir.join("signing-cert.cer"),
    );
    let info = LabInfo {
        data_dir: dir.clone(),
        realm,
        domain: DOMAIN.into(),
        sts_url,
        sts_admin_credential: sts_cred_path,
        exchange_url: ex_url,
        exchange_host: EXCHANGE_HOST.into(),
        exchange_admin_credential: ex
            .admin_credential_path()
            .map(Path::to_path_buf)
            .ok_or_else(|| LabError::Start {
                service: "Exchange",
                message: "it has no admin credential file".into(),
            })?,
        skype_url,
        ca_cert,
        skype_admin_credential: skype
            .admin_credential_path()
            .map(Path::to_path_buf)
            .ok_or_else(|| LabError::Start {
                service: "Skype for Business Online",
                message: "it has no admin credential file".into(),
            })?,
        skype_key,
        skype_cert,
    };
    let lab_file = dir.join(LAB_FILE);
    store::private::ensure_private_file(&lab_file).map_err(|e| LabError::Start {
        service: "the lab directory",
        message: e.to_string(),
    })?;
    std::fs::write(
        &lab_file,
        serde_json::to_vec_pretty(&info).map_err(|source| LabError::Json {
            what: "lab.json".into(),
            source,
        })?,
    )
    .map_err(LabError::io(&lab_file))?;
    // the organization's users
    let admin = crate::client::ExchangeAdmin::new(&info)?;
    for (name, smtp) in [
        ("Alice Anders", "alice@contoso.example"),
        ("Bob Berg", "bob@contoso.example"),
    ] {
        if admin
            .run("Get-Recipient", json!({"Identity": smtp}))
            .await
            .is_err()
        {
            admin
                .run(
                    "New-Mailbox",
                    json!({"Name": name, "PrimarySmtpAddress": smtp}),
                )
                .await?;
        }
    }
    // Exchange's EWS as Autodiscover announces it: from outside, its public name (which Skype
    // reaches through its host override below); from inside, the loopback URL it listens on.
    admin
        .run(
            "Set-WebServicesVirtualDirectory",
            json!({
                "InternalUrl": format!("{}/EWS/Exchange.asmx", info.exchange_url),
                "ExternalUrl": format!("https://{EXCHANGE_HOST}/EWS/Exchange.asmx"),
            }),
        )
        .await?;
    // Skype: Exchange's host resolves to the lab's Exchange; Exchange's EWS found through its
    // Autodiscover, as Skype for Business finds it; the users homed online with Cloud Voicemail;
    // server-side conversation history on; Alice's IM archived.
    let sk = info.skype_admin()?;
    let sk_run = |c: &'static str, p: Value| {
        let sk = &sk;
        async move {
            sk.run(c, p).await.map_err(|e| LabError::Refused {
                what: c.to_owned(),
                message: e.to_string(),
            })
        }
    };
    sk_run(
        "Set-CsHostOverride",
        json!({"HostName": EXCHANGE_HOST, "ConnectTo": info.exchange_url}),
    )
    .await?;
    sk_run(
        "Set-CsOAuthConfiguration",
        json!({"ExchangeAutodiscoverUrl": format!("https://{EXCHANGE_HOST}/autodiscover/autodiscover.svc")}),
    )
    .await?;
    for smtp in ["alice@contoso.example", "bob@contoso.example"] {
        if sk_run("Get-CsOnlineUser", json!({"Identity": smtp}))
            .await
            .is_err()
        {
            sk_run(
                "Enable-CsUser",
                json!({"Identity": smtp, "SipAddress": format!("sip:{smtp}"), "HostedVoiceMail": true}),
            )
            .await?;
        }
    }
    sk_run(
        "Set-CsConversationHistoryConfiguration",
        json!({"EnableServerConversationHistory": true}),
    )
    .await?;
    if sk_run("Get-CsArchivingPolicy", json!({"Identity": "ArchiveAll"}))
        .await
        .is_err()
    {
        sk_run(
            "New-CsArchivingPolicy",
            json!({"Identity": "ArchiveAll", "ArchiveInternal": true, "ArchiveExternal": true}),
        )
        .await?;
    }
    sk_run(
        "Grant-CsArchivingPolicy",
        json!({"Identity": "alice@contoso.example", "PolicyName": "ArchiveAll"}),
    )
    .await?;
    if tasks.iter().any(|t| t.is_finished()) {
        return Err(LabError::Start {
            service: "the lab",
            message: "a service stopped during start-up".into(),
        });
    }
    Ok(Lab {
        info,
        exchange: ex,
        skype,
        tasks,
        _lock: lock,
    })
}

/// The realm in the token service's tenant listing (`GET /admin/tenants`: an array, a
/// `{"value": [...]}` page, or one tenant); member names compared ignoring case.
pub fn find_realm(v: &Value) -> Option<String> {
    let list = v
        .as_array()
        .cloned()
        .or_else(|| v.get("value").and_then(Value::as_array).cloned())
        .unwrap_or_else(|| vec![v.clone()]);
    list.iter().find_map(|t| {
        t.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("realm"))
            .and_then(|(_, v)| v.as_str().map(str::to_owned))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slow clients are cut off. Regression: a connection that sent only part of its headers,
    /// or trickled its body, stayed open for ever (hundreds of them exhausted the process's
    /// file descriptors for all three services).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_clients_are_cut_off() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let t = ServeLimits {
            header_read: std::time::Duration::from_millis(300),
            first_request: std::time::Duration::from_millis(600),
            request: std::time::Duration::from_millis(600),
            max_connections: MAX_CONNECTIONS,
        };
        let router = axum::Router::new().route(
            "/",
            axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let _server = serve_with(l, router, None, t);
        let read_all = |mut c: tokio::net::TcpStream| async move {
            let mut out = Vec::new();
            // the server closes the connection; a healthy one would keep it open
            let r =
                tokio::time::timeout(std::time::Duration::from_secs(10), c.read_to_end(&mut out))
                    .await;
            (r.is_ok(), String::from_utf8_lossy(&out).into_owned())
        };
        // headers never finished
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let (closed, _) = read_all(c).await;
        assert!(closed, "a connection with unfinished headers was kept open");
        // a body that never arrives: 408
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            .await
            .unwrap();
        let (closed, text) = read_all(c).await;
        assert!(closed && text.starts_with("HTTP/1.1 408"), "{text}");
        // a normal request is answered
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        )
        .await
        .unwrap();
        let (_, text) = read_all(c).await;
        assert!(
            text.starts_with("HTTP/1.1 200") && text.ends_with('3'),
            "{text}"
        );
    }

    /// Connections past the bound are closed as they are accepted, and a slot freed by a closed
    /// connection serves the next one. Regression: nothing bounded the connections a service held
    /// open, so idle connections (each within its timeouts) could take every file descriptor of
    /// the process, which all three services share.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_past_the_bound_are_closed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let t = ServeLimits {
            max_connections: 2,
            ..ServeLimits::default()
        };
        let router = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let _server = serve_with(l, router, None, t);
        let ask = |mut c: tokio::net::TcpStream| async move {
            c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .ok();
            let mut out = Vec::new();
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(10), c.read_to_end(&mut out))
                    .await;
            String::from_utf8_lossy(&out).into_owned()
        };
        // two idle connections hold both slots (each answered once it asks)
        let first = tokio::net::TcpStream::connect(addr).await.unwrap();
        let second = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        // a third is closed without an answer
        let third = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert_eq!(
            ask(third).await,
            "",
            "a connection past the bound was served"
        );
        // the held ones are served
        assert!(ask(first).await.starts_with("HTTP/1.1 200"));
        // a freed slot serves the next connection
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let next = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(ask(next).await.ends_with("hello"));
        drop(second);
    }

    /// One lab per data directory. Regression: a second `openhybrid up --data DIR` started on
    /// new ports and rewrote lab.json under the running lab.
    #[test]
    fn a_data_directory_runs_one_lab() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_dir(dir.path()).unwrap();
        match lock_dir(dir.path()) {
            Err(e @ LabError::AlreadyRunning { pid: Some(p), .. }) => {
                assert_eq!(p, std::process::id());
                let msg = e.to_string();
                assert!(msg.contains("already running"), "{msg}");
                assert!(msg.contains("different --data"), "{msg}");
            }
            other => panic!("expected AlreadyRunning with a pid, got {other:?}"),
        }
        // released with the lab
        drop(held);
        lock_dir(dir.path()).unwrap();
    }
}
