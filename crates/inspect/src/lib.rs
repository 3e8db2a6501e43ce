//! The token inspector and the traffic/HAR reports behind `openhybrid inspect` and
//! `openhybrid trace`. A pure library: the CLI reads files, fetches metadata and supplies the
//! current time; everything here works on bytes, strings and an injected `now`.
//!
//! * [`inspect_token`] decodes an S2S bearer (unsigned outer token + signed actor token) or a
//!   single signed token (app-only actor, client assertion, Exchange's F2 token), explains each
//!   claim, checks the structural S2S rules without keys, and — only when trust material is given
//!   — verifies the signature with s2s-proto's validator. The verdict is VALID only when it was
//!   checked and held.
//! * [`trace_records`] / [`format_record`] render Exchange's traffic records.
//! * [`har_report`] lists the S2S tokens, challenges and Basic authorizations in a HAR capture.
//!
//! Nothing here prints a signature or a whole token: those are elided to their first 6
//! characters and `…` ([`elide`]); Basic credentials are reduced to the user name.
#![forbid(unsafe_code)]

mod explain;
mod har;
mod render;
mod report;
mod trace;

pub use explain::{describe_principal, elide, format_time, relative_time, well_known_app};
pub use har::{
    Challenge, HarFinding, HarFindingKind, HarOptions, HarReport, MAX_HAR_BYTES, MAX_HAR_ENTRIES,
    har_report, har_report_with,
};
pub use report::{
    Check, CheckResult, ClaimLine, HeaderSummary, InspectOptions, Layer, Report, SignatureReport,
    TokenKind, TrustMaterial, Verdict, extract_token, inspect_token,
};
pub use trace::{
    ResolvedRecord, TraceSummary, format_record, record_claims, records_from_json,
    resolved_records, trace_records, trace_summary,
};

/// Everything that can go wrong before a report can be produced. A token that does not decode is
/// not an error: it yields a [`Report`] of kind [`TokenKind::Malformed`].
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("the metadata document is unusable: {0}")]
    Metadata(#[from] s2s_proto::wire::MetadataError),
    #[error("the certificate is unusable: {0}")]
    Certificate(#[from] s2s_proto::KeyError),
    #[error("no certificate found in the input (expected DER, PEM or base64)")]
    NoCertificate,
    #[error("the HAR file is {size} bytes; at most {max} bytes are read")]
    HarTooLarge { size: usize, max: usize },
    #[error("the HAR file has {count} entries; at most {max} are read")]
    HarTooManyEntries { count: usize, max: usize },
    #[error("the HAR file is not HAR 1.2 JSON: {0}")]
    HarFormat(String),
    #[error("the traffic records are not JSON: {0}")]
    TrafficFormat(String),
}

pub type Result<T, E = InspectError> = std::result::Result<T, E>;
