//! The STS error: one enum, each variant one meaning, mapped at the HTTP edge to the AADSTS
//! shape (`{error, error_description, error_codes, timestamp, trace_id, correlation_id}`) or, under
//! `/v1.0/`, to Graph's `{"error":{"code","message"}}`.
//!
//! Every message says what was wrong and what to do. Messages quote input only clipped (see
//! [`clip`]) and never contain a token, a secret or a private key.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use s2s_proto::{KeyError, TokenError};
use store::StoreError;

use crate::Sts;

/// Why the STS refused or failed a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StsError {
    // ---- request shape ----------------------------------------------------------------------
    #[error("The request body is larger than {limit} bytes. Send a smaller body.")]
    BodyTooLarge { limit: usize },
    #[error("The request's Content-Type is {found:?}; send {expected}.")]
    UnsupportedMediaType {
        expected: &'static str,
        found: String,
    },
    #[error(
        "The request body is not a valid application/x-www-form-urlencoded form ({0}). Encode the parameters as name=value pairs joined by '&'."
    )]
    MalformedForm(String),
    #[error(
        "The request body is not valid JSON of the expected shape ({0}). Check the field names (PascalCase for MSOnline, camelCase for Graph) and types."
    )]
    MalformedJson(String),
    #[error("The query string is not valid ({0}). Percent-encode the parameters.")]
    MalformedQuery(String),
    #[error("The parameter '{0}' appears more than once. Send it once.")]
    DuplicateParameter(String),
    #[error("The request must contain the parameter '{0}'. Add it and retry.")]
    MissingParameter(&'static str),
    #[error("The parameter '{name}' is not valid: {reason}.")]
    InvalidParameter { name: &'static str, reason: String },
    #[error(
        "The grant type {0:?} is not supported. This token service issues app tokens only: use grant_type=client_credentials."
    )]
    UnsupportedGrantType(String),
    #[error(
        "The request must contain the parameter 'client_assertion' or 'client_secret'. Authenticate with a client assertion (client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer) signed with the application's certificate, or with a client secret."
    )]
    NoClientCredential,
    #[error(
        "The request carries both 'client_assertion' and 'client_secret'. Send exactly one client credential."
    )]
    TwoClientCredentials,

    // ---- tenants ----------------------------------------------------------------------------
    #[error(
        "Tenant '{0}' not found. Use the tenant's realm (a GUID) or one of its verified domains; list tenants with GET /admin/tenants."
    )]
    TenantNotFound(String),
    #[error("A tenant with realm '{0}' already exists. Choose another realm or omit Realm.")]
    TenantExists(String),
    #[error(
        "The domain '{domain}' is already verified in tenant '{realm}'. A domain belongs to one tenant."
    )]
    DomainTaken { domain: String, realm: String },
    #[error(
        "The domain {domain:?} is not valid: {reason}. Use a DNS name such as contoso.example."
    )]
    InvalidDomain { domain: String, reason: String },

    // ---- the calling application ------------------------------------------------------------
    #[error(
        "The client_id '{client_id}' names realm '{found}', but this request is for tenant '{realm}'. Use client_id=<appid>@{realm}."
    )]
    ClientRealmMismatch {
        client_id: String,
        found: String,
        realm: String,
    },
    #[error(
        "Application with identifier '{app_id}' was not found in the directory '{realm}'. Check client_id, or register the application with New-MsolServicePrincipal."
    )]
    UnknownClient { app_id: String, realm: String },
    #[error(
        "Application '{app_id}' is disabled in tenant '{realm}'. Enable it with Set-MsolServicePrincipal -AccountEnabled $true."
    )]
    ClientDisabled { app_id: String, realm: String },
    #[error(
        "Invalid client secret provided for application '{app_id}'. Send the value of a Symmetric or Password credential registered on its service principal."
    )]
    InvalidClientSecret { app_id: String },
    #[error(
        "The client secret provided for application '{app_id}' is expired (credential {key_id} ended {end}). Register a new credential with New-MsolServicePrincipalCredential."
    )]
    ExpiredClientSecret {
        app_id: String,
        key_id: String,
        end: String,
    },
    #[error(
        "Application '{app_id}' is a first-party application: it authenticates only with a client assertion signed by a certificate of the first-party registry, never with a client secret."
    )]
    FirstPartySecretNotAllowed { app_id: String },
    #[error(
        "No valid certificate is registered for first-party application '{app_id}'. The service provisions its certificate with POST /admin/first-party/{app_id}/certificates."
    )]
    NoFirstPartyKeys { app_id: String },
    #[error(
        "No valid Verify certificate is registered on the service principal of application '{app_id}'. Upload one with New-MsolServicePrincipalCredential -AppPrincipalId {app_id} -Type Asymmetric -Usage Verify -Value <base64 DER>."
    )]
    NoClientKeys { app_id: String },
    #[error(
        "The client assertion was refused: {0}. {hint}",
        hint = assertion_hint(.0)
    )]
    ClientAssertion(TokenError),
    #[error(
        "The client assertion is signed with certificate {thumbprint}, a key credential the tenant registered on the service principal of first-party application '{app_id}'. Such a key is a statement of trust for tokens the tenant's own servers sign, not a way to obtain tokens as '{app_id}'; the application signs with a certificate of the first-party registry."
    )]
    FirstPartyUsedTenantKey { app_id: String, thumbprint: String },
    #[error(
        "Client assertion application identifier doesn't match: sub is {sub:?} but iss is {iss:?}. Set both iss and sub to <appid>@<realm>, the client_id."
    )]
    AssertionSubjectMismatch { iss: String, sub: String },
    #[error(
        "The client assertion has no jti (or an empty or over-long one). Give every assertion a unique jti (a GUID)."
    )]
    AssertionJtiMissing,
    #[error(
        "The client assertion with jti {jti:?} was already used. Create a new assertion with a fresh jti for every token request."
    )]
    AssertionReplayed { jti: String },

    // ---- the resource -----------------------------------------------------------------------
    #[error(
        "The resource {resource:?} is not a service principal name: {reason}. Use <appid>/<host>@<realm>, e.g. 00000002-0000-0ff1-ce00-000000000000/mail.contoso.example@<realm>."
    )]
    InvalidResource { resource: String, reason: String },
    #[error(
        "The resource {resource:?} names realm '{found}', but this request is for tenant '{realm}'. A token is issued only for resources of the tenant the request is sent to."
    )]
    ResourceRealmMismatch {
        resource: String,
        found: String,
        realm: String,
    },
    #[error(
        "The resource principal named {app_id} was not found in the tenant named {realm}. Check the application id in the resource, or register the principal with New-MsolServicePrincipal."
    )]
    ResourceNotFound { app_id: String, realm: String },
    #[error(
        "The resource principal named {app_id}/{host} was not found in the tenant named {realm}: the host '{host}' is not among the ServicePrincipalNames of {app_id} ({existing}). Add the SPN {app_id}/{host} (or a *.domain wildcard covering it): openhybrid msol Set-MsolServicePrincipal -AppPrincipalId {app_id} -ServicePrincipalNames {proposed}",
        existing = .spns.join(", "),
        proposed = proposed_spns(.spns, .app_id, .host)
    )]
    ResourceHostNotRegistered {
        app_id: String,
        host: String,
        realm: String,
        spns: Vec<String>,
    },
    #[error(
        "The service principal for resource '{app_id}' is disabled in tenant '{realm}'. Enable it with Set-MsolServicePrincipal -AccountEnabled $true."
    )]
    ResourceDisabled { app_id: String, realm: String },

    #[error(
        "Too many failed client authentications from this address in the last minute; retry after {retry_after_secs} s. Check the client's credential (its certificate or secret, and the assertion's aud, iss, sub and lifetime) before retrying."
    )]
    Throttled { retry_after_secs: u64 },

    // ---- admin API --------------------------------------------------------------------------
    #[error(
        "The admin API needs the admin credential: send 'Authorization: Bearer <credential>', with the content of the file admin-credential in the STS data directory."
    )]
    AdminCredentialMissing,
    #[error(
        "The admin credential is wrong. Send the content of the file admin-credential in the STS data directory as 'Authorization: Bearer <credential>'."
    )]
    AdminCredentialWrong,
    #[error(
        "No service principal {key} exists in tenant '{realm}'. List them with Get-MsolServicePrincipal."
    )]
    ServicePrincipalNotFound { realm: String, key: String },
    #[error(
        "A service principal with AppPrincipalId '{app_id}' already exists in tenant '{realm}'. Change it with Set-MsolServicePrincipal instead."
    )]
    ServicePrincipalExists { app_id: String, realm: String },
    #[error(
        "'{app_id}' is a first-party service principal created with the tenant; it cannot be removed. Disable it with Set-MsolServicePrincipal -AccountEnabled $false instead."
    )]
    FirstPartyPrincipalProtected { app_id: String },
    #[error(
        "No credential with KeyId '{key_id}' exists on service principal '{app_id}'. List them with Get-MsolServicePrincipalCredential."
    )]
    CredentialNotFound { app_id: String, key_id: String },
    #[error(
        "The parameter '{param}' is not an acceptable certificate: {source}. Export the certificate as DER (.cer) and send it base64-encoded; only RSA keys of at least 2048 bits are accepted."
    )]
    InvalidCertificate {
        param: &'static str,
        #[source]
        source: KeyError,
    },
    #[error("The service principal name {spn:?} is not valid: {reason}.")]
    InvalidSpn { spn: String, reason: String },

    // ---- Graph ------------------------------------------------------------------------------
    #[error(
        "The proof of possession is not valid: {0}. Sign a new proof (aud 00000002-0000-0000-c000-000000000000, iss = the service principal's object id, exp = nbf + 10 minutes) with the private key of a currently valid certificate of the service principal."
    )]
    InvalidProof(TokenError),
    #[error(
        "Service principal '{object_id}' has no currently valid certificate to prove possession with, so addKey cannot be used. Replace the key set with PATCH /v1.0/<tenant>/servicePrincipals/{object_id} {{\"keyCredentials\":[…]}} instead."
    )]
    NoProofKey { object_id: String },
    #[error("The query is not supported: {0}.")]
    UnsupportedQuery(String),

    // ---- first-party verify keys ------------------------------------------------------------
    #[error(
        "This endpoint needs an app token: send 'Authorization: Bearer <token>' with an actor token this STS issued to the application for resource 00000001-0000-0000-c000-000000000000/<STS host>@<realm>."
    )]
    AppTokenMissing,
    #[error(
        "The app token was refused: {0}. Request a new token from this STS for resource 00000001-0000-0000-c000-000000000000/<STS host>@<realm>."
    )]
    AppToken(TokenError),
    #[error(
        "The app token was issued to {nameid:?}, not to application '{app_id}'@'{realm}'. An application reads only its own verify keys."
    )]
    AppTokenWrongApp {
        nameid: String,
        app_id: String,
        realm: String,
    },

    // ---- routing ----------------------------------------------------------------------------
    #[error("No endpoint {method} {path} exists on this token service.")]
    RouteNotFound { method: String, path: String },
    #[error("The method {method} is not allowed on {path}.")]
    MethodNotAllowed { method: String, path: String },
    #[error(
        "{0} is not implemented by this token service (it issues app and actor tokens through the OAuth2 endpoint only)."
    )]
    NotImplemented(&'static str),

    // ---- internal ---------------------------------------------------------------------------
    #[error("The configuration is not valid: {0}.")]
    Config(String),
    #[error("Cannot use {path}: {source}.")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "The token service's storage failed: {0}. Retry; if it persists, check the data directory."
    )]
    Store(#[from] StoreError),
    #[error("Stored data is unreadable ({0}). The database may have been edited by hand.")]
    CorruptData(String),
    #[error("A key operation failed: {0}.")]
    Crypto(KeyError),
}

impl From<store::rusqlite::Error> for StsError {
    fn from(e: store::rusqlite::Error) -> Self {
        StsError::Store(StoreError::Sqlite(e))
    }
}

fn assertion_hint(e: &TokenError) -> &'static str {
    use TokenError::*;
    match e {
        UnsignedNotAllowed { .. }
        | AlgorithmNotAllowed { .. }
        | MissingSignature { .. }
        | MalformedSignature { .. }
        | InvalidSignature { .. }
        | KeyNotFound { .. }
        | SigningKeyNotValid { .. }
        | KeyIdMissing { .. } => {
            "Sign the assertion with RS256, an x5t header, and the private key of a currently valid certificate registered for this application."
        }
        Expired { .. } | NotYetValid { .. } | LifetimeTooLong { .. } | NbfAfterExp { .. } => {
            "Create a fresh assertion that lives at most 10 minutes, and check the client's clock."
        }
        AudienceMismatch { .. } | AudienceMissing { .. } => "Set aud to this token endpoint's URL.",
        IssuerNotTrusted { .. } | IssuerMissing { .. } => {
            "Set iss and sub to the client_id, <appid>@<realm>."
        }
        _ => {
            "Build the assertion as RFC 7523 describes: a compact RS256 JWT with iss, sub, aud, jti and exp."
        }
    }
}

fn proposed_spns(spns: &[String], app_id: &str, host: &str) -> String {
    let mut all: Vec<String> = spns.to_vec();
    all.push(format!("{app_id}/{host}"));
    all.join(",")
}

/// Quotes untrusted input in a message: at most `max` characters, control characters replaced.
pub(crate) fn clip(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// How a variant is answered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mapping {
    pub status: StatusCode,
    /// The OAuth `error` value.
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u32,
}

const fn m(status: StatusCode, error: &'static str, code: u32) -> Mapping {
    Mapping {
        status,
        error,
        code,
    }
}

impl StsError {
    pub(crate) fn mapping(&self) -> Mapping {
        use StatusCode as S;
        use StsError::*;
        match self {
            BodyTooLarge { .. } => m(S::PAYLOAD_TOO_LARGE, "invalid_request", 90023),
            UnsupportedMediaType { .. } => m(S::UNSUPPORTED_MEDIA_TYPE, "invalid_request", 90023),
            MalformedForm(_) | MalformedJson(_) | MalformedQuery(_) | DuplicateParameter(_) => {
                m(S::BAD_REQUEST, "invalid_request", 90023)
            }
            TwoClientCredentials => m(S::BAD_REQUEST, "invalid_request", 90023),
            MissingParameter(_) => m(S::BAD_REQUEST, "invalid_request", 900144),
            InvalidParameter { .. } => m(S::BAD_REQUEST, "invalid_request", 90100),
            UnsupportedGrantType(_) => m(S::BAD_REQUEST, "unsupported_grant_type", 70003),
            NoClientCredential => m(S::UNAUTHORIZED, "invalid_client", 7000218),
            TenantNotFound(_) => m(S::NOT_FOUND, "invalid_tenant", 90002),
            TenantExists(_) | DomainTaken { .. } => m(S::CONFLICT, "invalid_request", 90100),
            InvalidDomain { .. } => m(S::BAD_REQUEST, "invalid_request", 90100),
            ClientRealmMismatch { .. } | UnknownClient { .. } => {
                m(S::BAD_REQUEST, "unauthorized_client", 700016)
            }
            ClientDisabled { .. } => m(S::BAD_REQUEST, "unauthorized_client", 7000112),
            InvalidClientSecret { .. } | FirstPartySecretNotAllowed { .. } => {
                m(S::UNAUTHORIZED, "invalid_client", 7000215)
            }
            ExpiredClientSecret { .. } => m(S::UNAUTHORIZED, "invalid_client", 7000222),
            NoFirstPartyKeys { .. } | NoClientKeys { .. } | FirstPartyUsedTenantKey { .. } => {
                m(S::UNAUTHORIZED, "invalid_client", 700027)
            }
            ClientAssertion(e) => m(S::UNAUTHORIZED, "invalid_client", assertion_code(e)),
            AssertionSubjectMismatch { .. } => m(S::UNAUTHORIZED, "invalid_client", 700021),
            AssertionJtiMissing => m(S::UNAUTHORIZED, "invalid_client", 50027),
            AssertionReplayed { .. } => m(S::UNAUTHORIZED, "invalid_client", 50013),
            Throttled { .. } => m(S::TOO_MANY_REQUESTS, "temporarily_unavailable", 50053),
            InvalidResource { .. } => m(S::BAD_REQUEST, "invalid_resource", 50001),
            ResourceRealmMismatch { .. }
            | ResourceNotFound { .. }
            | ResourceHostNotRegistered { .. } => m(S::BAD_REQUEST, "invalid_resource", 500011),
            ResourceDisabled { .. } => m(S::BAD_REQUEST, "invalid_resource", 500014),
            AdminCredentialMissing | AdminCredentialWrong => {
                m(S::UNAUTHORIZED, "invalid_client", 50126)
            }
            ServicePrincipalNotFound { .. } => m(S::NOT_FOUND, "invalid_request", 700016),
            ServicePrincipalExists { .. } => m(S::CONFLICT, "invalid_request", 90100),
            FirstPartyPrincipalProtected { .. } => m(S::BAD_REQUEST, "invalid_request", 90100),
            CredentialNotFound { .. } => m(S::NOT_FOUND, "invalid_request", 90100),
            InvalidCertificate { .. } | InvalidSpn { .. } => {
                m(S::BAD_REQUEST, "invalid_request", 90100)
            }
            InvalidProof(_) => m(S::BAD_REQUEST, "invalid_request", 50027),
            NoProofKey { .. } => m(S::BAD_REQUEST, "invalid_request", 90100),
            UnsupportedQuery(_) => m(S::BAD_REQUEST, "invalid_request", 90100),
            AppTokenMissing | AppToken(_) => m(S::UNAUTHORIZED, "invalid_token", 50027),
            AppTokenWrongApp { .. } => m(S::FORBIDDEN, "access_denied", 50013),
            RouteNotFound { .. } => m(S::NOT_FOUND, "invalid_request", 90023),
            MethodNotAllowed { .. } => m(S::METHOD_NOT_ALLOWED, "invalid_request", 90023),
            NotImplemented(_) => m(S::NOT_IMPLEMENTED, "invalid_request", 90023),
            Config(_) | Io { .. } | Store(_) | CorruptData(_) | Crypto(_) => {
                m(S::INTERNAL_SERVER_ERROR, "server_error", 50000)
            }
        }
    }

    /// The AADSTS number this error is answered with.
    pub fn aadsts_code(&self) -> u32 {
        self.mapping().code
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.mapping().status
    }

    /// Is this a failed client authentication at the token endpoint (a wrong or expired
    /// credential, a bad or replayed assertion, an unknown or disabled client)? These count
    /// against the caller's address (spec/security.md J18).
    pub fn is_client_auth_failure(&self) -> bool {
        use StsError::*;
        matches!(
            self,
            NoClientCredential
                | ClientRealmMismatch { .. }
                | UnknownClient { .. }
                | ClientDisabled { .. }
                | InvalidClientSecret { .. }
                | FirstPartySecretNotAllowed { .. }
                | ExpiredClientSecret { .. }
                | NoFirstPartyKeys { .. }
                | NoClientKeys { .. }
                | FirstPartyUsedTenantKey { .. }
                | ClientAssertion(_)
                | AssertionSubjectMismatch { .. }
                | AssertionJtiMissing
                | AssertionReplayed { .. }
        )
    }

    fn graph_code(&self) -> &'static str {
        match self.status() {
            StatusCode::NOT_FOUND => "Request_ResourceNotFound",
            StatusCode::UNAUTHORIZED => "InvalidAuthenticationToken",
            StatusCode::FORBIDDEN => "Authorization_RequestDenied",
            StatusCode::CONFLICT => "Request_MultipleObjectsWithSameKeyValue",
            StatusCode::PAYLOAD_TOO_LARGE => "Request_EntityTooLarge",
            StatusCode::TOO_MANY_REQUESTS => "Request_ThrottledTemporarily",
            StatusCode::NOT_IMPLEMENTED => "Request_UnsupportedQuery",
            s if s.is_server_error() => "Service_InternalServerError",
            _ => match self {
                StsError::UnsupportedQuery(_) => "Request_UnsupportedQuery",
                _ => "Request_BadRequest",
            },
        }
    }
}

/// The AADSTS number for a refused client assertion, by what failed.
fn assertion_code(e: &TokenError) -> u32 {
    use TokenError::*;
    match e {
        UnsignedNotAllowed { .. }
        | AlgorithmNotAllowed { .. }
        | MissingSignature { .. }
        | MalformedSignature { .. }
        | InvalidSignature { .. }
        | KeyNotFound { .. }
        | SigningKeyNotValid { .. }
        | KeyIdMissing { .. } => 700027,
        Expired { .. } | NotYetValid { .. } | LifetimeTooLong { .. } | NbfAfterExp { .. } => 700024,
        AudienceMismatch { .. } | AudienceMissing { .. } => 700023,
        IssuerNotTrusted { .. } | IssuerMissing { .. } => 700021,
        _ => 50027,
    }
}

/// Left on an error response by [`IntoResponse`]; [`render_errors`] turns it into the body,
/// adding what only the request knows (trace and correlation ids, the clock's timestamp).
#[derive(Debug, Clone)]
pub(crate) struct PendingError {
    mapping: Mapping,
    message: String,
    graph_code: &'static str,
    retry_after_secs: Option<u64>,
}

impl IntoResponse for StsError {
    fn into_response(self) -> Response {
        let mapping = self.mapping();
        let pending = PendingError {
            mapping,
            message: self.to_string(),
            graph_code: self.graph_code(),
            retry_after_secs: match self {
                StsError::Throttled { retry_after_secs } => Some(retry_after_secs),
                _ => None,
            },
        };
        let mut resp = mapping.status.into_response();
        resp.extensions_mut().insert(pending);
        resp
    }
}

/// Timestamp in AAD's error format, `2016-01-09 02:02:12Z`.
fn aad_timestamp(unix: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Middleware: writes the body of every error response (AADSTS shape, or Graph's under `/v1.0/`)
/// and logs the refusal (never a token: messages do not carry any).
pub(crate) async fn render_errors(State(sts): State<Sts>, req: Request, next: Next) -> Response {
    let graph = req.uri().path().starts_with("/v1.0/");
    let correlation = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::parse_str(v).ok())
        .map(|u| u.hyphenated().to_string())
        .unwrap_or_else(crate::secret::new_guid);
    let mut resp = next.run(req).await;
    let Some(pending) = resp.extensions_mut().remove::<PendingError>() else {
        return resp;
    };
    let trace = crate::secret::new_guid();
    let ts = aad_timestamp(sts.now());
    let status = pending.mapping.status;
    if status.is_server_error() {
        tracing::warn!(code = pending.mapping.code, %trace, "{}", pending.message);
    } else {
        tracing::info!(code = pending.mapping.code, status = status.as_u16(), %trace, "{}", pending.message);
    }
    let body = if graph {
        serde_json::json!({
            "error": {
                "code": pending.graph_code,
                "message": pending.message,
                "innerError": {"date": ts, "request-id": trace, "client-request-id": correlation}
            }
        })
    } else {
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {ts}",
            pending.mapping.code, pending.message
        );
        serde_json::to_value(s2s_proto::wire::ErrorResponse {
            error: pending.mapping.error.to_owned(),
            error_description: description,
            error_codes: vec![pending.mapping.code],
            timestamp: ts,
            trace_id: trace,
            correlation_id: correlation.clone(),
            error_uri: None,
        })
        .unwrap_or_default()
    };
    let mut out = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        out.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"openhybrid-sts\""),
        );
    }
    if let Some(secs) = pending.retry_after_secs {
        out.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Ok(v) = HeaderValue::from_str(&correlation) {
        out.headers_mut().insert("client-request-id", v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_format() {
        assert_eq!(aad_timestamp(1_452_304_932), "2016-01-09 02:02:12Z");
    }

    #[test]
    fn clip_bounds_and_cleans() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("a\nb", 5), "a?b");
    }

    #[test]
    fn resource_error_names_the_command() {
        let e = StsError::ResourceHostNotRegistered {
            app_id: "00000002-0000-0ff1-ce00-000000000000".into(),
            host: "mail.contoso.example".into(),
            realm: "r".into(),
            spns: vec!["00000002-0000-0ff1-ce00-000000000000".into()],
        };
        let s = e.to_string();
        assert!(s.contains("openhybrid msol Set-MsolServicePrincipal -AppPrincipalId 00000002-0000-0ff1-ce00-000000000000 -ServicePrincipalNames 00000002-0000-0ff1-ce00-000000000000,00000002-0000-0ff1-ce00-000000000000/mail.contoso.example"), "{s}");
        assert_eq!(e.aadsts_code(), 500011);
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn assertion_codes_by_failure() {
        let e = StsError::ClientAssertion(TokenError::Expired {
            which: "signed",
            exp: 1,
            now: 2,
            skew: 0,
        });
        assert_eq!(e.aadsts_code(), 700024);
        assert!(e.to_string().contains("fresh assertion"));
        let e = StsError::ClientAssertion(TokenError::AudienceMissing { which: "signed" });
        assert_eq!(e.aadsts_code(), 700023);
    }
}
