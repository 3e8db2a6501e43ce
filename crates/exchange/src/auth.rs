//! Inbound server-to-server OAuth (spec/protocol.md §6.5, spec/security.md §1b).
//!
//! Identity comes only from the validated token: `X-*` headers, cookies and query parameters
//! never carry it. Failures answer 401 with the Bearer challenge (realm discovery) and an
//! `x-ms-diagnostics` header naming the check that failed.

use s2s_proto::token::NII_ACTIVE_DIRECTORY;
use s2s_proto::{S2sToken, TokenError};

use crate::org::Recipient;

/// Why a request was not authenticated or not authorized to act.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("the request carries no Authorization header; send a Bearer token")]
    NoCredentials,
    #[error(
        "empty Bearer token (realm discovery): see the WWW-Authenticate challenge for client_id and trusted_issuers"
    )]
    EmptyBearer,
    #[error(
        "authorization scheme '{0}' is not accepted; this server accepts only server-to-server OAuth Bearer tokens"
    )]
    NotBearer(String),
    #[error(
        "OAuth is not configured on this server: no enabled auth server; run New-AuthServer -Name ACS -AuthMetadataUrl <STS metadata URL>"
    )]
    NotConfigured,
    #[error("{0}")]
    Token(TokenError),
    #[error(
        "no partner application has ApplicationIdentifier {app}; run New-PartnerApplication -Name <name> -ApplicationIdentifier {app} -Enabled $true -LinkedAccount <account>"
    )]
    NoPartner { app: String },
    #[error(
        "the actor token for partner application '{name}' ({app}) was issued by {issuer}, which may not vouch for it: only an enabled auth server (Get-AuthServer) or the partner's own metadata issuer may"
    )]
    IssuerNotForPartner {
        issuer: String,
        name: String,
        app: String,
    },
    #[error(
        "the partner application '{name}' is disabled; run Set-PartnerApplication -Identity {name} -Enabled $true"
    )]
    PartnerDisabled { name: String },
    #[error(
        "the token's realm {token_realm} does not match the realm {realm} of partner application '{name}'; set the partner's realm to the tenant's (Set-PartnerApplication -Identity {name} -Realm {token_realm}) or clear it to use the auth server's (-Realm '')"
    )]
    PartnerRealm {
        name: String,
        realm: String,
        token_realm: String,
    },
    #[error(
        "the application is missing a linked account for RBAC roles: partner application '{name}' has no LinkedAccount; run Set-PartnerApplication -Identity {name} -LinkedAccount <account>"
    )]
    NoLinkedAccount { name: String },
    #[error(
        "the linked account of partner application '{name}' has no RBAC role assignments; run New-ManagementRoleAssignment -Role UserApplication -User <account>"
    )]
    NoRoles { name: String },
    #[error("the user specified by the user-context in the token does not exist ({claims})")]
    UserNotFound { claims: String },
    #[error("the user claims in the token name different mailboxes ({a} and {b})")]
    UserConflict { a: String, b: String },
    #[error(
        "the token names the user by SID, but partner application '{name}' does not accept security identifier information (AcceptSecurityIdentifierInformation is $false)"
    )]
    SidNotAccepted { name: String },
    #[error("the mailbox {0} is disabled")]
    UserDisabled(String),
    #[error("too many failed authentications from this source; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
}

impl AuthFailure {
    /// `x-ms-diagnostics` number and error category.
    pub fn diagnostics(&self) -> (u32, &'static str) {
        use AuthFailure::*;
        match self {
            NoCredentials | EmptyBearer | NotBearer(_) => (4000000, "oauth_not_available"),
            NotConfigured => (2000010, "oauth_not_available"),
            Token(e) if e.is_expiry() => (2000002, "invalid_token"),
            Token(TokenError::IssuerNotTrusted { .. })
            | Token(TokenError::KeyNotFound { .. })
            | IssuerNotForPartner { .. } => (2000003, "invalid_token"),
            Token(_) => (2000001, "invalid_token"),
            NoPartner { .. } | PartnerDisabled { .. } | PartnerRealm { .. } => {
                (2000004, "invalid_grant")
            }
            NoLinkedAccount { .. } | NoRoles { .. } => (2000008, "invalid_grant"),
            UserNotFound { .. } | UserConflict { .. } | SidNotAccepted { .. } | UserDisabled(_) => {
                (2000005, "invalid_user")
            }
            RateLimited { .. } => (2000011, "throttled"),
        }
    }

    /// Does the challenge carry `error="invalid_token"`? (A bad token does; a missing one doesn't.)
    pub fn is_bad_token(&self) -> bool {
        !matches!(
            self,
            AuthFailure::NoCredentials
                | AuthFailure::EmptyBearer
                | AuthFailure::NotBearer(_)
                | AuthFailure::NotConfigured
        )
    }

    /// Did the token itself validate before this failure (so its actor is authentic)?
    pub fn after_validation(&self) -> bool {
        use AuthFailure::*;
        matches!(
            self,
            NoPartner { .. }
                | PartnerDisabled { .. }
                | PartnerRealm { .. }
                | NoLinkedAccount { .. }
                | NoRoles { .. }
                | UserNotFound { .. }
                | UserConflict { .. }
                | SidNotAccepted { .. }
                | UserDisabled(_)
        )
    }

    pub fn header_value(&self) -> String {
        let (n, cat) = self.diagnostics();
        let reason: String = self
            .to_string()
            .replace('"', "'")
            .chars()
            .filter(|c| !c.is_control())
            .take(600)
            .collect();
        format!("{n};reason=\"{reason}\";error_category=\"{cat}\"")
    }
}

/// A caller that passed authentication: the partner application, the roles of its linked
/// account, and (with a user context) the user's mailbox.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Shared (`Arc`) with every traffic record of this authentication, like `app` and
    /// `user_smtp`: a cached token's records copy none of them.
    pub partner: std::sync::Arc<str>,
    pub app: std::sync::Arc<str>,
    /// The partner's own key in the failure budget (`app:<app>`), built once per authentication
    /// rather than on every request of a cached token.
    pub app_limit_key: String,
    pub roles: Vec<String>,
    /// Scopes of the ApplicationImpersonation assignments (`None`: the whole organization).
    pub impersonation_scopes: Vec<Option<String>>,
    pub user: Option<Recipient>,
    /// The user's primary SMTP address, as the traffic record names the user.
    pub user_smtp: Option<std::sync::Arc<str>>,
    /// The validated token (None only on the benchmark route that skips authentication).
    pub token: Option<std::sync::Arc<S2sToken>>,
    /// The token's claims as the traffic record shows them (signatures elided), decoded once.
    pub record_claims: std::sync::Arc<Box<serde_json::value::RawValue>>,
}

impl Caller {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
    }
}

/// The `Authorization` header → the bearer token text.
pub fn bearer(header: Option<&str>) -> Result<&str, AuthFailure> {
    let Some(h) = header else {
        return Err(AuthFailure::NoCredentials);
    };
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err(AuthFailure::NotBearer(scheme.chars().take(20).collect()));
    }
    let t = rest.trim();
    if t.is_empty() {
        return Err(AuthFailure::EmptyBearer);
    }
    Ok(t)
}

/// Which user claims to resolve, in precedence order (DESIGN.md): smtp, upn, sip, then nameid.
pub fn user_lookups(
    token: &S2sToken,
    accept_sid: bool,
    partner: &str,
) -> Result<Vec<(&'static str, String)>, AuthFailure> {
    let Some(u) = token.user() else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    if let Some(v) = &u.smtp {
        out.push(("smtp", v.clone()));
    }
    if let Some(v) = &u.upn {
        out.push(("upn", v.clone()));
    }
    if let Some(v) = &u.sip {
        out.push(("sip", v.clone()));
    }
    if let Some(v) = &u.nameid {
        let nii = u.nii.as_deref().unwrap_or("");
        if nii.eq_ignore_ascii_case(NII_ACTIVE_DIRECTORY)
            || v.to_ascii_lowercase().starts_with("s-1-")
        {
            if !accept_sid {
                if out.is_empty() {
                    return Err(AuthFailure::SidNotAccepted {
                        name: partner.to_owned(),
                    });
                }
            } else {
                out.push(("sid", v.clone()));
            }
        } else {
            out.push(("netid", v.clone()));
        }
    }
    Ok(out)
}
