//! The one error type of the Skype service, with the HTTP status and admin-API category each
//! variant maps to, and the outbox's view of it (transient, refused, permanent).

use std::path::PathBuf;

/// Everything that can go wrong in the Skype service.
#[derive(Debug, thiserror::Error)]
pub enum SkypeError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("storage: {0}")]
    Store(#[from] store::StoreError),
    #[error("key or certificate: {0}")]
    Key(#[from] s2s_proto::KeyError),
    #[error("configuration: {0}")]
    Config(String),
    /// A request the caller can fix (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// A request too large to be carried out (HTTP 413); the message says how to split it.
    #[error("{0}")]
    TooLarge(String),
    /// The uploaded greeting is not an acceptable RIFF/WAVE PCM file (HTTP 400).
    #[error("the greeting is not a valid RIFF/WAVE PCM file: {0}")]
    InvalidWav(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(
        "the admin API needs 'Authorization: Bearer <admin credential>'; the credential is in the file admin-credential of the Skype data directory"
    )]
    Unauthorized,
    #[error(
        "the term '{0}' is not recognized as a cmdlet of Skype Online; run 'openhybrid skype --list' for the supported cmdlets"
    )]
    UnknownCmdlet(String),
    #[error(
        "{cmdlet}: a parameter cannot be found that matches parameter name '{param}'; supported: {supported}"
    )]
    UnknownParameter {
        cmdlet: String,
        param: String,
        supported: String,
    },
    #[error("{cmdlet}: the parameter -{param} is required")]
    MissingParameter { cmdlet: String, param: &'static str },
    #[error("{cmdlet}: cannot bind parameter -{param}: {why}")]
    BadParameter {
        cmdlet: String,
        param: &'static str,
        why: String,
    },
    /// Realm discovery through Exchange's 401 challenge failed.
    #[error("challenge from {url}: {why}")]
    Discovery { url: String, why: String },
    /// The token service refused or failed a token request.
    #[error("token service ({url}) answered HTTP {status}: {error}: {description}")]
    TokenRefused {
        url: String,
        status: u16,
        error: String,
        description: String,
    },
    /// A network-level failure (connect, timeout, TLS, reading the body).
    #[error("calling {url}: {why}")]
    Unreachable {
        url: String,
        why: String,
        /// No connection could be made at all (refused, no route, name not resolved, connect
        /// timeout), as opposed to a failure on a connection that was made.
        connect: bool,
    },
    /// An HTTP status from a peer that is neither success nor a modelled refusal.
    #[error("{url} answered HTTP {status}: {detail}")]
    HttpStatus {
        url: String,
        status: u16,
        detail: String,
    },
    /// Exchange refused the token (401 with the x-ms-diagnostics reason).
    #[error("Exchange refused the token (HTTP 401): {diagnostics}")]
    ExchangeRefused {
        diagnostics: String,
        invalid_token: bool,
    },
    /// An EWS response message with an error code.
    #[error("EWS {operation}: {code}: {text}")]
    Ews {
        operation: String,
        code: String,
        text: String,
    },
    /// A SOAP response that could not be read.
    #[error("EWS response: {0}")]
    EwsProto(#[from] ews_proto::EwsProtoError),
    /// A push-notification callback whose token was refused (F2).
    #[error("{0}")]
    CallbackRefused(String),
    /// A user has no explicit EWS URL, and no Autodiscover URL is configured to discover one.
    #[error(
        "sip:{user} has no EWS URL: run 'Set-CsOAuthConfiguration -ExchangeAutodiscoverUrl https://<Exchange host>/autodiscover/autodiscover.svc' \
         so that Skype discovers it through Exchange Autodiscover, or set it for this user with \
         'Set-CsUser -Identity sip:{user} -ExchangeEwsUrl https://<Exchange host>/EWS/Exchange.asmx'"
    )]
    NoEwsUrl { user: String },
    /// Exchange Autodiscover refused the token (401 with the x-ms-diagnostics reason).
    #[error("Exchange Autodiscover ({url}) refused the token (HTTP 401): {diagnostics}")]
    AutodiscoverRefused {
        url: String,
        diagnostics: String,
        invalid_token: bool,
    },
    /// Exchange Autodiscover answered InvalidUser or InvalidDomain for the user's address: it
    /// knows no mailbox (or not the domain) by that address.
    #[error(
        "Exchange Autodiscover ({url}) has no mailbox for sip:{user}: {code} for {smtp}: {message}; \
         check the user's -PrimarySmtpAddress (Set-CsUser), or give its EWS URL with -ExchangeEwsUrl"
    )]
    AutodiscoverUnknownUser {
        url: String,
        user: String,
        smtp: String,
        code: String,
        message: String,
    },
    /// Exchange Autodiscover found the user but gave no usable EWS URL (neither ExternalEwsUrl
    /// nor InternalEwsUrl, or not an http(s) URL).
    #[error("Exchange Autodiscover ({url}) gave no EWS URL for sip:{user}: {why}")]
    AutodiscoverNoEwsUrl {
        url: String,
        user: String,
        why: String,
    },
    /// Exchange Autodiscover failed the request with an error code: for the whole request
    /// (`Response/ErrorCode`, or a SOAP fault), or for the user with a code other than
    /// InvalidUser/InvalidDomain (ServerBusy, a redirection, …).
    #[error("Exchange Autodiscover ({url}) answered {code}: {message}")]
    AutodiscoverFailed {
        url: String,
        code: String,
        message: String,
    },
    /// Exchange Autodiscover's answer could not be read as a GetUserSettings response.
    #[error(
        "Exchange Autodiscover ({url}) answered something that is not a GetUserSettings response: {why}"
    )]
    AutodiscoverUnreadable { url: String, why: String },
}

/// How the outbox treats a delivery failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Exchange or the token service down, slow or busy: retry until the maximum age.
    Transient,
    /// A refusal (token, partner application, role, user): retry for a while, since an
    /// administrator may be fixing it, then keep as failed.
    Refused,
    /// Retrying cannot help (the request itself is wrong): failed after a few attempts.
    Permanent,
}

impl SkypeError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SkypeError {
        let path = path.into();
        move |source| SkypeError::Io { path, source }
    }

    /// The HTTP status the API answers with.
    pub fn status(&self) -> u16 {
        use SkypeError::*;
        match self {
            Invalid(_)
            | InvalidWav(_)
            | UnknownCmdlet(_)
            | UnknownParameter { .. }
            | MissingParameter { .. }
            | BadParameter { .. } => 400,
            Unauthorized | CallbackRefused(_) => 401,
            TooLarge(_) => 413,
            NoEwsUrl { .. } => 409,
            NotFound(_) => 404,
            Conflict(_) => 409,
            Discovery { .. }
            | TokenRefused { .. }
            | Unreachable { .. }
            | HttpStatus { .. }
            | ExchangeRefused { .. }
            | Ews { .. }
            | EwsProto(_)
            | AutodiscoverRefused { .. }
            | AutodiscoverUnknownUser { .. }
            | AutodiscoverNoEwsUrl { .. }
            | AutodiscoverFailed { .. }
            | AutodiscoverUnreadable { .. } => 502,
            Io { .. } | Store(_) | Key(_) | Config(_) => 500,
        }
    }

    /// The PowerShell-style error category of the admin API.
    pub fn category(&self) -> &'static str {
        use SkypeError::*;
        match self {
            Invalid(_) | InvalidWav(_) | BadParameter { .. } | MissingParameter { .. } => {
                "InvalidArgument"
            }
            TooLarge(_) => "LimitsExceeded",
            UnknownCmdlet(_) | UnknownParameter { .. } => "ObjectNotFound",
            NotFound(_) => "ObjectNotFound",
            Conflict(_) => "ResourceExists",
            Unauthorized | CallbackRefused(_) => "SecurityError",
            NoEwsUrl { .. } => "InvalidOperation",
            Discovery { .. }
            | TokenRefused { .. }
            | Unreachable { .. }
            | HttpStatus { .. }
            | ExchangeRefused { .. }
            | Ews { .. }
            | EwsProto(_)
            | AutodiscoverRefused { .. }
            | AutodiscoverUnknownUser { .. }
            | AutodiscoverNoEwsUrl { .. }
            | AutodiscoverFailed { .. }
            | AutodiscoverUnreadable { .. } => "ConnectionError",
            Io { .. } | Store(_) | Key(_) | Config(_) => "NotSpecified",
        }
    }

    /// How the outbox treats this failure (see the crate docs, "Nothing lost").
    pub fn failure_class(&self) -> FailureClass {
        use SkypeError::*;
        match self {
            Unreachable { .. } | Io { .. } | Store(_) => FailureClass::Transient,
            HttpStatus { status, .. } => {
                if *status >= 500 || *status == 429 || *status == 408 {
                    FailureClass::Transient
                } else {
                    FailureClass::Refused
                }
            }
            TokenRefused { status, .. } => {
                if *status >= 500 || *status == 429 {
                    FailureClass::Transient
                } else {
                    FailureClass::Refused
                }
            }
            Discovery { .. } | ExchangeRefused { .. } => FailureClass::Refused,
            // an administrator fixes these (the tenant's or the user's configuration, the
            // trust, the user's address in Exchange)
            NoEwsUrl { .. }
            | AutodiscoverRefused { .. }
            | AutodiscoverUnknownUser { .. }
            | AutodiscoverNoEwsUrl { .. } => FailureClass::Refused,
            AutodiscoverFailed { code, .. } => match code.as_str() {
                "ServerBusy" | "InternalServerError" => FailureClass::Transient,
                _ => FailureClass::Refused,
            },
            AutodiscoverUnreadable { .. } => FailureClass::Transient,
            Ews { code, .. } => match code.as_str() {
                "ErrorServerBusy"
                | "ErrorTimeoutExpired"
                | "ErrorInternalServerError"
                | "ErrorInternalServerTransientError"
                | "ErrorMailboxStoreUnavailable"
                | "ErrorConnectionFailed" => FailureClass::Transient,
                "ErrorAccessDenied"
                | "ErrorNonExistentMailbox"
                | "ErrorImpersonateUserDenied"
                | "ErrorMailboxMoveInProgress"
                | "ErrorFolderNotFound" => FailureClass::Refused,
                _ => FailureClass::Permanent,
            },
            EwsProto(
                ews_proto::EwsProtoError::SoapFault { .. }
                | ews_proto::EwsProtoError::AutodiscoverRefused { .. },
            ) => FailureClass::Permanent,
            EwsProto(_) => FailureClass::Transient,
            Key(_) | Config(_) => FailureClass::Refused,
            Invalid(_)
            | InvalidWav(_)
            | TooLarge(_)
            | NotFound(_)
            | Conflict(_)
            | Unauthorized
            | UnknownCmdlet(_)
            | UnknownParameter { .. }
            | MissingParameter { .. }
            | BadParameter { .. }
            | CallbackRefused(_) => FailureClass::Permanent,
        }
    }
}

impl From<store::rusqlite::Error> for SkypeError {
    fn from(e: store::rusqlite::Error) -> Self {
        SkypeError::Store(store::StoreError::Sqlite(e))
    }
}

impl From<psh::bind::BindError> for SkypeError {
    fn from(e: psh::bind::BindError) -> Self {
        use psh::bind::BindError;
        match e {
            BindError::Unknown {
                cmdlet,
                param,
                supported,
            } => SkypeError::UnknownParameter {
                cmdlet,
                param,
                supported,
            },
            BindError::Missing { cmdlet, param } => SkypeError::MissingParameter { cmdlet, param },
            BindError::Bad { cmdlet, param, why } => {
                SkypeError::BadParameter { cmdlet, param, why }
            }
        }
    }
}
