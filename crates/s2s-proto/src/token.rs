//! Building the S2S tokens: actor (signed by the STS), app-only, client assertion (signed by the
//! calling application), self-issued partner tokens (Exchange → Skype), and the unsigned outer
//! token that carries the user.

use serde_json::{Map, Value};

use crate::jwt;
use crate::keys::{KeyError, SigningKey};
use crate::principal::PrincipalName;

/// The name-id issuer of cloud identities.
pub const NII_MICROSOFT_ONLINE: &str = "urn:federation:microsoftonline";
/// The name-id issuer of on-premises Active Directory SIDs.
pub const NII_ACTIVE_DIRECTORY: &str = "urn:office:idp:activedirectory";

/// An actor token as the STS issues it (spec/protocol.md §3.3).
#[derive(Debug, Clone)]
pub struct ActorTokenSpec {
    /// `<resource app>/<host>@<realm>`
    pub aud: PrincipalName,
    /// `00000001-…@<realm>` for the STS; `<app>@<realm>` for self-issued tokens.
    pub iss: PrincipalName,
    /// The calling application, `<app>@<realm>`.
    pub nameid: PrincipalName,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// `Some(true)` where the principal may assert users; `None` omits the claim.
    pub trusted_for_delegation: Option<bool>,
    pub identity_provider: Option<String>,
    /// Object id of the calling service principal in the tenant.
    pub oid: Option<String>,
    /// Token id (ours add one for audit; ACS tokens need not).
    pub jti: Option<String>,
}

impl ActorTokenSpec {
    pub fn claims(&self) -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("aud".into(), self.aud.to_string().into());
        c.insert("iss".into(), self.iss.to_string().into());
        c.insert("iat".into(), self.iat.into());
        c.insert("nbf".into(), self.nbf.into());
        c.insert("exp".into(), self.exp.into());
        c.insert("nameid".into(), self.nameid.to_string().into());
        if let Some(idp) = &self.identity_provider {
            c.insert("identityprovider".into(), idp.clone().into());
        }
        if let Some(oid) = &self.oid {
            c.insert("oid".into(), oid.clone().into());
            c.insert("sub".into(), oid.clone().into());
        }
        if let Some(t) = self.trusted_for_delegation {
            c.insert(
                "trustedfordelegation".into(),
                if t { "true" } else { "false" }.into(),
            );
        }
        if let Some(j) = &self.jti {
            c.insert("jti".into(), j.clone().into());
        }
        c
    }

    /// RS256 with `x5t` and `kid` (as ACS does).
    pub fn sign(&self, key: &SigningKey) -> Result<String, KeyError> {
        jwt::sign_rs256(key, &self.claims(), true)
    }
}

/// The user the outer token names. At least one identity claim must be present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserClaims {
    pub nameid: Option<String>,
    pub nii: Option<String>,
    pub upn: Option<String>,
    pub smtp: Option<String>,
    pub sip: Option<String>,
}

impl UserClaims {
    /// A cloud user known by SMTP address (also its UPN and SIP address), as Skype sends.
    pub fn cloud_user(smtp: &str, netid: &str) -> Self {
        UserClaims {
            nameid: Some(netid.to_owned()),
            nii: Some(NII_MICROSOFT_ONLINE.to_owned()),
            upn: Some(smtp.to_owned()),
            smtp: Some(smtp.to_owned()),
            sip: Some(smtp.to_owned()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.nameid.is_none() && self.upn.is_none() && self.smtp.is_none() && self.sip.is_none()
    }
}

/// The unsigned outer token (spec/protocol.md §3.3): `iss` = the actor's `nameid`, same `aud`,
/// lifetime inside the actor's; `nbf`/`exp` are sent as strings, as Exchange does.
#[derive(Debug, Clone)]
pub struct OuterTokenSpec {
    pub aud: PrincipalName,
    pub iss: PrincipalName,
    pub nbf: i64,
    pub exp: i64,
    pub user: UserClaims,
    pub actor_token: String,
}

impl OuterTokenSpec {
    pub fn claims(&self) -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("aud".into(), self.aud.to_string().into());
        c.insert("iss".into(), self.iss.to_string().into());
        c.insert("nbf".into(), self.nbf.to_string().into());
        c.insert("exp".into(), self.exp.to_string().into());
        let u = &self.user;
        for (k, v) in [
            ("nameid", &u.nameid),
            ("nii", &u.nii),
            ("upn", &u.upn),
            ("smtp", &u.smtp),
            ("sip", &u.sip),
        ] {
            if let Some(v) = v {
                c.insert(k.into(), v.clone().into());
            }
        }
        c.insert("actortoken".into(), self.actor_token.clone().into());
        c
    }

    pub fn encode(&self) -> String {
        jwt::unsigned(&self.claims())
    }
}

/// An RFC 7523 client assertion: `iss` = `sub` = `<app>@<realm>`, `aud` = the token endpoint URL.
#[derive(Debug, Clone)]
pub struct ClientAssertionSpec {
    pub client: PrincipalName,
    pub audience: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

impl ClientAssertionSpec {
    pub fn claims(&self) -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("iss".into(), self.client.to_string().into());
        c.insert("sub".into(), self.client.to_string().into());
        c.insert("aud".into(), self.audience.clone().into());
        c.insert("jti".into(), self.jti.clone().into());
        c.insert("iat".into(), self.iat.into());
        c.insert("nbf".into(), self.iat.into());
        c.insert("exp".into(), self.exp.into());
        c
    }

    /// RS256 with `x5t` only (the application's own certificate).
    pub fn sign(&self, key: &SigningKey) -> Result<String, KeyError> {
        jwt::sign_rs256(key, &self.claims(), false)
    }
}
