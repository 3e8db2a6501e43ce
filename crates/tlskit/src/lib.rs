//! TLS for the lab (`openhybrid up --tls`): a lab certificate authority generated once per data
//! directory, a server certificate it signs for the lab's host names, rustls server configs for
//! the three services, and HTTP clients that trust exactly the roots they are given (the lab CA),
//! so the parties speak HTTPS to each other the way real deployments do. Crypto is aws-lc-rs.
#![forbid(unsafe_code)]

use base64::Engine;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("{0} is not a PEM or DER certificate")]
    BadCertificate(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The lab's CA and the server certificate it issued, as files in one directory.
#[derive(Debug, Clone)]
pub struct LabTls {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl LabTls {
    /// Loads the lab TLS material from `dir`, generating it on first use: a CA
    /// (`CN=OpenHybrid Lab CA`, 5 years) and a server certificate for `hosts` (DNS names or IP
    /// addresses), 1 year. The private keys are written with mode 0600.
    pub fn ensure(dir: &Path, hosts: &[&str]) -> Result<LabTls, TlsError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let t = LabTls {
            ca_cert: dir.join("lab-ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        };
        if t.ca_cert.exists() && t.server_cert.exists() && t.server_key.exists() {
            return Ok(t);
        }
        let now = time::OffsetDateTime::now_utc();
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::default();
        ca.distinguished_name
            .push(DnType::CommonName, "OpenHybrid Lab CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.not_before = now - time::Duration::hours(1);
        ca.not_after = now + time::Duration::days(5 * 365);
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = rcgen::Issuer::new(ca, ca_key);

        let key = KeyPair::generate()?;
        let mut p = CertificateParams::default();
        p.distinguished_name.push(
            DnType::CommonName,
            hosts.first().copied().unwrap_or("localhost"),
        );
        p.subject_alt_names = hosts
            .iter()
            .map(|h| match h.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName((*h).try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        p.not_before = now - time::Duration::hours(1);
        p.not_after = now + time::Duration::days(365);
        let cert = p.signed_by(&key, &issuer)?;
        std::fs::write(&t.ca_cert, ca_cert.pem()).map_err(io(&t.ca_cert))?;
        std::fs::write(&t.server_cert, format!("{}{}", cert.pem(), ca_cert.pem()))
            .map_err(io(&t.server_cert))?;
        write_private(&t.server_key, key.serialize_pem().as_bytes())?;
        Ok(t)
    }

    /// The rustls server configuration for axum-server.
    pub async fn server_config(&self) -> Result<axum_server::tls_rustls::RustlsConfig, TlsError> {
        axum_server::tls_rustls::RustlsConfig::from_pem_file(&self.server_cert, &self.server_key)
            .await
            .map_err(io(&self.server_cert))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(io(path))
}

/// Reads certificates (PEM, possibly several, or DER) to trust.
pub fn read_roots(path: &Path) -> Result<Vec<Vec<u8>>, TlsError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let text = String::from_utf8_lossy(&bytes);
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Ok(vec![bytes]);
    }
    let mut out = Vec::new();
    for block in text.split("-----BEGIN CERTIFICATE-----").skip(1) {
        let body: String = block
            .split("-----END CERTIFICATE-----")
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| TlsError::BadCertificate(path.to_owned()))?;
        out.push(der);
    }
    Ok(out)
}

/// Why [`read_capped`] gave no body.
#[derive(Debug, thiserror::Error)]
pub enum CappedReadError {
    #[error("the response is larger than {cap} bytes")]
    TooLarge { cap: usize },
    #[error("reading the response: {0}")]
    Read(#[from] reqwest::Error),
}

/// A response body of at most `cap` bytes, read chunk by chunk: a peer cannot make the reader
/// hold more than `cap` (plus one chunk) whatever it sends or claims in Content-Length.
pub async fn read_capped(mut r: reqwest::Response, cap: usize) -> Result<Vec<u8>, CappedReadError> {
    if r.content_length().is_some_and(|n| n > cap as u64) {
        return Err(CappedReadError::TooLarge { cap });
    }
    let mut out = Vec::new();
    while let Some(chunk) = r.chunk().await? {
        if out.len() + chunk.len() > cap {
            return Err(CappedReadError::TooLarge { cap });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// An HTTP client (10 s timeout) that trusts exactly `roots` for HTTPS (none: HTTPS fails, HTTP
/// works), using aws-lc-rs.
pub fn client(roots: &[Vec<u8>]) -> Result<reqwest::Client, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store.add(rustls::pki_types::CertificateDer::from(r.clone()))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .timeout(std::time::Duration::from_secs(10))
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_lab_ca_serves_https_and_a_client_trusts_only_it() {
        let dir = tempfile::tempdir().unwrap();
        let t = LabTls::ensure(
            dir.path(),
            &["127.0.0.1", "localhost", "mail.contoso.example"],
        )
        .unwrap();
        let again = LabTls::ensure(dir.path(), &["127.0.0.1"]).unwrap();
        assert_eq!(
            std::fs::read(&t.ca_cert).unwrap(),
            std::fs::read(&again.ca_cert).unwrap(),
            "generated once"
        );
        let cfg = t.server_config().await.unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
        tokio::spawn(async move {
            axum_server::from_tcp_rustls(l, cfg)
                .unwrap()
                .serve(app.into_make_service())
                .await
        });
        let url = format!("https://{addr}/");
        let ok = client(&read_roots(&t.ca_cert).unwrap()).unwrap();
        assert_eq!(
            ok.get(&url).send().await.unwrap().text().await.unwrap(),
            "hello"
        );
        let untrusting = client(&[]).unwrap();
        assert!(
            untrusting.get(&url).send().await.is_err(),
            "a client without the lab CA refuses the server"
        );
    }
}
