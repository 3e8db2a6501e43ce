//! The lab: the token service and Exchange on loopback in one process, the seed's steps 1–6 as
//! idempotent operations against their admin APIs, the "Verify your success" checks done the way
//! Skype Online does them (flow F1), and the small clients all of that uses.
//!
//! The `openhybrid` binary is a thin shell over this crate; the end-to-end tests drive it too.
#![forbid(unsafe_code)]

pub mod client;
pub mod conn_limit;
pub mod ewsc;
pub mod start;
pub mod steps;

pub use start::{DOMAIN, EXCHANGE_HOST, Lab, LabInfo, LabOptions, SKYPE_HOST, start, start_with};

use std::path::PathBuf;

/// What went wrong in the lab or while talking to its services.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("starting {service}: {message}")]
    Start {
        service: &'static str,
        message: String,
    },
    #[error("calling {url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{what}: {message}")]
    Refused { what: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} is not valid JSON: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("no lab at {0}: start one with 'openhybrid up --data {0}' (or pass --data)")]
    NoLab(PathBuf),
    #[error(
        "a lab is already running from {dir}{}: use it (openhybrid doctor --data {dir}), stop it first, or start another lab with a different --data directory",
        .pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    AlreadyRunning { dir: PathBuf, pid: Option<u32> },
    #[error("{0}")]
    Check(String),
    #[error("key or certificate: {0}")]
    Key(#[from] s2s_proto::KeyError),
}

impl LabError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LabError {
        let path = path.into();
        move |source| LabError::Io { path, source }
    }
    pub(crate) fn http(url: impl Into<String>) -> impl FnOnce(reqwest::Error) -> LabError {
        let url = url.into();
        move |source| LabError::Http { url, source }
    }
}

pub type Result<T, E = LabError> = std::result::Result<T, E>;

/// Returns early with a failed check.
macro_rules! fail {
    ($($t:tt)*) => { return Err($crate::LabError::Check(format!($($t)*))) };
}
pub(crate) use fail;
