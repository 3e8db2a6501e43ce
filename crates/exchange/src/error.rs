//! The Exchange server's error type. Each variant is one meaning; the admin API maps them to
//! PowerShell-style error records (category, message, the fix), EWS maps them to ResponseCodes.

use crate::auth::AuthFailure;

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("{cmdlet}: parameter -{param} is required")]
    MissingParameter { cmdlet: String, param: &'static str },
    #[error(
        "{cmdlet}: a parameter cannot be found that matches parameter name '{param}'. Supported: {supported}"
    )]
    UnknownParameter {
        cmdlet: String,
        param: String,
        supported: String,
    },
    #[error("{cmdlet}: cannot bind parameter '{param}': {why}")]
    BadParameter {
        cmdlet: String,
        param: &'static str,
        why: String,
    },
    #[error(
        "the term '{0}' is not recognized as a cmdlet of this Exchange server; run 'openhybrid exchange --list' for the supported cmdlets"
    )]
    UnknownCmdlet(String),
    #[error("the operation couldn't be performed because object '{0}' couldn't be found")]
    NotFound(String),
    #[error("the object '{0}' already exists")]
    AlreadyExists(String),
    #[error(
        "the partner application '{existing}' already has ApplicationIdentifier {app_id}, and each application may have only one (Exchange would not know which one a token means); change that one with Set-PartnerApplication -Identity {existing}, or remove it with Remove-PartnerApplication -Identity {existing}"
    )]
    DuplicateApplicationIdentifier { app_id: String, existing: String },
    #[error(
        "{0} matches more than one object; use a unique identity such as its SMTP address or GUID"
    )]
    Ambiguous(String),
    #[error(
        "the domain '{domain}' of {what} is not an accepted domain of this organization; add it with New-AcceptedDomain -DomainName {domain} -Name {domain}"
    )]
    NotAcceptedDomain { what: String, domain: String },
    #[error("invalid value: {0}")]
    Invalid(String),
    #[error("cannot fetch auth metadata from {url}: {why}")]
    Metadata { url: String, why: String },
    #[error("certificate error: {0}")]
    Certificate(#[from] s2s_proto::KeyError),
    #[error("cannot write {path}: {why}")]
    Io { path: String, why: String },
    #[error("authentication failed: {0}")]
    Auth(AuthFailure),
    #[error("mailbox store: {0}")]
    Mailbox(#[from] mailbox::MailboxError),
    #[error("storage: {0}")]
    Store(#[from] store::StoreError),
}

impl From<store::rusqlite::Error> for ExchangeError {
    fn from(e: store::rusqlite::Error) -> Self {
        ExchangeError::Store(store::StoreError::Sqlite(e))
    }
}

impl ExchangeError {
    /// PowerShell's error category for this error.
    pub fn category(&self) -> &'static str {
        use ExchangeError::*;
        match self {
            MissingParameter { .. }
            | UnknownParameter { .. }
            | BadParameter { .. }
            | Invalid(_) => "InvalidArgument",
            UnknownCmdlet(_) => "ObjectNotFound",
            NotFound(_) => "NotSpecified",
            AlreadyExists(_) | DuplicateApplicationIdentifier { .. } => "ResourceExists",
            Ambiguous(_) => "InvalidArgument",
            NotAcceptedDomain { .. } => "InvalidData",
            Metadata { .. } => "ConnectionError",
            Certificate(_) => "InvalidData",
            Io { .. } => "WriteError",
            Auth(_) => "SecurityError",
            Mailbox(_) | Store(_) => "NotSpecified",
        }
    }

    /// The HTTP status at the admin API.
    pub fn status(&self) -> u16 {
        use ExchangeError::*;
        match self {
            NotFound(_) | UnknownCmdlet(_) => 404,
            AlreadyExists(_) | DuplicateApplicationIdentifier { .. } => 409,
            Metadata { .. } => 502,
            Mailbox(_) | Store(_) | Io { .. } => 500,
            Auth(_) => 401,
            _ => 400,
        }
    }
}

impl From<psh::bind::BindError> for ExchangeError {
    fn from(e: psh::bind::BindError) -> Self {
        use psh::bind::BindError;
        match e {
            BindError::Unknown {
                cmdlet,
                param,
                supported,
            } => ExchangeError::UnknownParameter {
                cmdlet,
                param,
                supported,
            },
            BindError::Missing { cmdlet, param } => {
                ExchangeError::MissingParameter { cmdlet, param }
            }
            BindError::Bad { cmdlet, param, why } => {
                ExchangeError::BadParameter { cmdlet, param, why }
            }
        }
    }
}
