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
    #[error(
        "the proxy address \"{address}\" is already being used by the proxy addresses of \"{holder}\"; choose another address, or remove it there first (Set-Mailbox/Set-MailUser/Set-DistributionGroup -Identity \"{holder}\" -EmailAddresses @{{Remove=\"{address}\"}})"
    )]
    ProxyAddressInUse { address: String, holder: String },
    #[error(
        "the email address '{address}' is not valid: {why}; write it as TYPE:address (SMTP: the primary SMTP address, smtp: another SMTP address, a bare address is smtp:)"
    )]
    InvalidProxyAddress { address: String, why: String },
    #[error("the email addresses of '{recipient}' can't be changed so: {why}")]
    ProxyAddressList { recipient: String, why: String },
    #[error("{cmdlet}: -{a} and -{b} can't be used in the same command; {why}")]
    ParameterConflict {
        cmdlet: String,
        a: &'static str,
        b: &'static str,
        why: &'static str,
    },
    #[error("'{identity}' is a {found}, not a {expected}")]
    WrongRecipientType {
        identity: String,
        found: String,
        expected: &'static str,
    },
    #[error("the recipient '{member}' is already a member of the group '{group}'")]
    AlreadyMember { member: String, group: String },
    #[error(
        "the recipient '{member}' isn't a member of the group '{group}' (Get-DistributionGroupMember -Identity \"{group}\" lists them)"
    )]
    NotMember { member: String, group: String },
    #[error("the group '{group}' can't be a member of itself")]
    SelfMember { group: String },
    #[error(
        "the group '{group}' would have {count} members; a group here has at most {max} (nest groups to go beyond)"
    )]
    TooManyMembers {
        group: String,
        count: usize,
        max: usize,
    },
    #[error(
        "the message's recipients expand to more than {max} ({why}); at most {max} are allowed (MaxRecipientEnvelopeLimit): send to fewer recipients or smaller groups"
    )]
    TooManyRecipients { max: usize, why: String },
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
            | Invalid(_)
            | InvalidProxyAddress { .. }
            | ProxyAddressList { .. }
            | ParameterConflict { .. }
            | WrongRecipientType { .. }
            | SelfMember { .. }
            | TooManyMembers { .. }
            | TooManyRecipients { .. } => "InvalidArgument",
            NotMember { .. } => "ObjectNotFound",
            UnknownCmdlet(_) => "ObjectNotFound",
            NotFound(_) => "NotSpecified",
            AlreadyExists(_)
            | DuplicateApplicationIdentifier { .. }
            | ProxyAddressInUse { .. }
            | AlreadyMember { .. } => "ResourceExists",
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
            NotFound(_) | UnknownCmdlet(_) | NotMember { .. } => 404,
            AlreadyExists(_)
            | DuplicateApplicationIdentifier { .. }
            | ProxyAddressInUse { .. }
            | AlreadyMember { .. } => 409,
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
