//! Outbound tokens (flow F1): realm discovery through Exchange's 401 challenge, actor tokens from
//! the token service bought with a client assertion (cached until 5 minutes before they expire),
//! the unsigned outer token per user per call, and Skype's app-only token for the token service
//! itself (to read its Verify keys, F2).

use std::collections::HashMap;
use std::sync::Mutex;

use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::token::{NII_MICROSOFT_ONLINE, UserClaims};
use s2s_proto::wire::{ErrorResponse, JWT_BEARER_ASSERTION, TokenResponse};
use s2s_proto::{ClientAssertionSpec, OuterTokenSpec, PrincipalName};
use sha2::{Digest, Sha256};

use crate::Skype;
use crate::db::User;
use crate::error::SkypeError;

/// An actor token is used until this many seconds before it expires.
pub const ACTOR_REFRESH_MARGIN_SECS: i64 = 300;
/// How long a discovered realm is trusted before the challenge is asked again.
const DISCOVERY_TTL_SECS: i64 = 3600;
/// Lifetime of the outer token, seconds (bounded by the actor's).
const OUTER_LIFETIME_SECS: i64 = 900;
/// Lifetime of a client assertion, seconds.
const ASSERTION_LIFETIME_SECS: i64 = 300;
/// Largest response body read from a peer.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

#[derive(Debug, Clone)]
pub struct CachedActor {
    pub token: String,
    pub exp: i64,
}

/// What Exchange's 401 challenge said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub client_id: String,
    pub realm: String,
    pub trusted_issuers: Vec<String>,
    pub www_authenticate: String,
}

#[derive(Default)]
pub struct TokenCache {
    actors: Mutex<HashMap<String, CachedActor>>,
    discovered: Mutex<HashMap<String, (Discovered, i64)>>,
}

/// Where an EWS URL is reached and what host names it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where requests actually go (the URL, or a host override's connect-to address).
    pub connect: String,
    /// The host the token's audience names (the configured URL's host, lower case).
    pub host: String,
}

/// Reads a response body, refusing more than `cap` bytes ([`tlskit::read_capped`]).
pub async fn read_capped(
    r: reqwest::Response,
    cap: usize,
    url: &str,
) -> Result<Vec<u8>, SkypeError> {
    let status = r.status().as_u16();
    tlskit::read_capped(r, cap).await.map_err(|e| match e {
        tlskit::CappedReadError::TooLarge { cap } => SkypeError::HttpStatus {
            url: url.to_owned(),
            status,
            detail: format!("the response is larger than {cap} bytes"),
        },
        tlskit::CappedReadError::Read(e) => SkypeError::Unreachable {
            url: url.to_owned(),
            why: format!("reading the response: {e}"),
            connect: false,
        },
    })
}

pub fn unreachable(url: &str, e: reqwest::Error) -> SkypeError {
    let why = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect (is the server running and reachable?)".to_owned()
    } else {
        e.to_string()
    };
    SkypeError::Unreachable {
        url: url.to_owned(),
        why,
        connect: e.is_connect(),
    }
}

/// Parses the auth-params of one challenge: `k="v", k2=v2`.
pub fn challenge_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        let key = s[ks..i].trim().to_ascii_lowercase();
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                v.push(b[i] as char);
                i += 1;
            }
            i += 1;
            v
        } else {
            let vs = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            s[vs..i].trim().to_owned()
        };
        if !key.is_empty() {
            out.insert(key, value);
        }
    }
    out
}

/// The Bearer challenge among the WWW-Authenticate values, read as a real client does.
pub fn parse_challenge(values: &[String], expected_realm: &str) -> Result<Discovered, String> {
    let Some(bearer) = values.iter().find(|v| {
        v.trim_start()
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("bearer"))
    }) else {
        return Err(format!(
            "the 401 carries no Bearer challenge (WWW-Authenticate: {}); OAuth is not enabled on this server",
            if values.is_empty() {
                "none".to_owned()
            } else {
                values.join(" | ")
            }
        ));
    };
    let params = challenge_params(bearer.trim_start().get(6..).unwrap_or(""));
    let client_id = params.get("client_id").cloned().unwrap_or_default();
    if client_id != EXCHANGE_APP_ID {
        return Err(format!(
            "the challenge's client_id is {client_id:?}, not Exchange ({EXCHANGE_APP_ID})"
        ));
    }
    let trusted_issuers: Vec<String> = params
        .get("trusted_issuers")
        .map(|t| {
            t.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let acs: Vec<&str> = trusted_issuers
        .iter()
        .filter_map(|i| i.strip_prefix(&format!("{ACS_APP_ID}@")))
        .collect();
    let realm = if acs.contains(&expected_realm) || acs.contains(&"*") {
        expected_realm.to_owned()
    } else if let Some(r) = acs.first() {
        return Err(format!(
            "Exchange trusts the token service of realm {r}, but this Skype tenant is realm {expected_realm}; \
             check New-AuthServer -AuthMetadataUrl on Exchange"
        ));
    } else {
        return Err(format!(
            "trusted_issuers ({}) names no {ACS_APP_ID}@<realm> issuer: Exchange has no auth server for the token service; \
             run New-AuthServer -Name ACS -AuthMetadataUrl <metadata URL> on Exchange",
            if trusted_issuers.is_empty() {
                "empty".to_owned()
            } else {
                trusted_issuers.join(",")
            }
        ));
    };
    Ok(Discovered {
        client_id,
        realm,
        trusted_issuers,
        www_authenticate: bearer.clone(),
    })
}

/// A stable, opaque per-user name id (16 hex digits), as a cloud NetID looks.
pub fn netid(sip: &str) -> String {
    hex::encode_upper(&Sha256::digest(sip.as_bytes())[..8])
}

impl Skype {
    /// The token service's host (with port), the host of its own principal.
    pub(crate) fn sts_authority(&self) -> Result<String, SkypeError> {
        let u = reqwest::Url::parse(&self.inner.cfg.sts_url)
            .map_err(|e| SkypeError::Config(format!("sts_url: {e}")))?;
        let host = u
            .host_str()
            .ok_or_else(|| SkypeError::Config("sts_url has no host".into()))?;
        Ok(match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        })
    }

    /// Resolves an EWS URL: the audience host is the URL's own host; host overrides (a stand-in
    /// for DNS, `Set-CsHostOverride`) say where to connect.
    pub(crate) fn target(&self, url: &str) -> Result<Target, SkypeError> {
        let u = reqwest::Url::parse(url)
            .map_err(|e| SkypeError::Invalid(format!("the EWS URL {url:?} is not a URL: {e}")))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(SkypeError::Invalid(format!(
                "the EWS URL {url:?} must be http or https"
            )));
        }
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| SkypeError::Invalid(format!("the EWS URL {url:?} has no host")))?
            .to_ascii_lowercase();
        let over = self
            .inner
            .overrides
            .read()
            .map(|m| m.get(&host).cloned())
            .unwrap_or(None);
        let connect = match over {
            Some(base) => {
                let mut path = u.path().to_owned();
                if let Some(q) = u.query() {
                    path.push('?');
                    path.push_str(q);
                }
                format!("{}{path}", base.trim_end_matches('/'))
            }
            None => url.to_owned(),
        };
        Ok(Target { connect, host })
    }

    /// Realm discovery: an empty `Authorization: Bearer` → 401 with `trusted_issuers`.
    pub(crate) async fn discover(&self, t: &Target, fresh: bool) -> Result<Discovered, SkypeError> {
        let now = self.now();
        if !fresh
            && let Ok(m) = self.inner.tokens.discovered.lock()
            && let Some((d, at)) = m.get(&t.connect)
            && now - at < DISCOVERY_TTL_SECS
        {
            return Ok(d.clone());
        }
        let r = self
            .inner
            .http
            .post(&t.connect)
            .header("authorization", "Bearer")
            .header("content-type", "text/xml; charset=utf-8")
            .body("")
            .send()
            .await
            .map_err(|e| unreachable(&t.connect, e))?;
        let status = r.status().as_u16();
        let values: Vec<String> = r
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        if status != 401 {
            return Err(if status >= 500 {
                SkypeError::HttpStatus {
                    url: t.connect.clone(),
                    status,
                    detail: "expected a 401 challenge".into(),
                }
            } else {
                SkypeError::Discovery {
                    url: t.connect.clone(),
                    why: format!("expected HTTP 401 with a Bearer challenge, got HTTP {status}"),
                }
            });
        }
        let d = parse_challenge(&values, &self.inner.cfg.realm).map_err(|why| {
            SkypeError::Discovery {
                url: t.connect.clone(),
                why,
            }
        })?;
        if let Ok(mut m) = self.inner.tokens.discovered.lock() {
            m.insert(t.connect.clone(), (d.clone(), now));
        }
        Ok(d)
    }

    /// The token endpoint of the realm.
    pub(crate) fn token_endpoint(&self, realm: &str) -> String {
        format!(
            "{}/{realm}/tokens/OAuth/2",
            self.inner.cfg.sts_url.trim_end_matches('/')
        )
    }

    /// An actor token for `resource`, from the cache or bought with a client assertion.
    pub(crate) async fn actor_token(
        &self,
        resource: &PrincipalName,
        fresh: bool,
    ) -> Result<CachedActor, SkypeError> {
        let key = resource.to_string();
        let now = self.now();
        if !fresh
            && let Ok(m) = self.inner.tokens.actors.lock()
            && let Some(c) = m.get(&key)
            && now < c.exp - ACTOR_REFRESH_MARGIN_SECS
        {
            return Ok(c.clone());
        }
        let realm = &resource.realm;
        let endpoint = self.token_endpoint(realm);
        let client = PrincipalName::app(SKYPE_APP_ID, realm);
        let assertion = ClientAssertionSpec {
            client: client.clone(),
            audience: endpoint.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        }
        .sign(&self.inner.key)?;
        let form = [
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", client.to_string()),
            ("client_assertion_type", JWT_BEARER_ASSERTION.to_owned()),
            ("client_assertion", assertion),
            ("resource", key.clone()),
        ];
        let r = self
            .inner
            .http
            .post(&endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| unreachable(&endpoint, e))?;
        let status = r.status().as_u16();
        let body = read_capped(r, 1 << 20, &endpoint).await?;
        if status != 200 {
            let (error, description) = match serde_json::from_slice::<ErrorResponse>(&body) {
                Ok(e) => (e.error, e.error_description),
                Err(_) => (
                    "unexpected_response".to_owned(),
                    String::from_utf8_lossy(&body).chars().take(300).collect(),
                ),
            };
            return Err(SkypeError::TokenRefused {
                url: endpoint,
                status,
                error,
                description,
            });
        }
        let tr: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| SkypeError::TokenRefused {
                url: endpoint.clone(),
                status,
                error: "unexpected_response".into(),
                description: format!("not an ACS token response: {e}"),
            })?;
        let exp: i64 = tr
            .expires_on
            .trim()
            .parse()
            .map_err(|_| SkypeError::TokenRefused {
                url: endpoint.clone(),
                status,
                error: "unexpected_response".into(),
                description: format!("expires_on {:?} is not a number", tr.expires_on),
            })?;
        tracing::info!(resource = %key, exp, "actor token obtained");
        let c = CachedActor {
            token: tr.access_token,
            exp,
        };
        if let Ok(mut m) = self.inner.tokens.actors.lock() {
            m.insert(key, c.clone());
        }
        Ok(c)
    }

    /// Forgets the cached actor token and discovery for a target (after a 401).
    pub(crate) fn forget(&self, t: &Target, resource: &PrincipalName) {
        if let Ok(mut m) = self.inner.tokens.actors.lock() {
            m.remove(&resource.to_string());
        }
        if let Ok(mut m) = self.inner.tokens.discovered.lock() {
            m.remove(&t.connect);
        }
    }

    /// The Exchange resource principal for a target.
    pub(crate) async fn exchange_resource(
        &self,
        t: &Target,
        fresh: bool,
    ) -> Result<PrincipalName, SkypeError> {
        let d = self.discover(t, fresh).await?;
        Ok(PrincipalName::service(EXCHANGE_APP_ID, &t.host, &d.realm))
    }

    /// The bearer for one EWS call as `user`: actor token inside a fresh unsigned outer token.
    pub(crate) async fn user_bearer(
        &self,
        t: &Target,
        user: &User,
        fresh: bool,
    ) -> Result<(String, PrincipalName), SkypeError> {
        let resource = self.exchange_resource(t, fresh).await?;
        let actor = self.actor_token(&resource, fresh).await?;
        let now = self.now();
        let sip = user.sip_address.clone();
        let outer = OuterTokenSpec {
            aud: resource.clone(),
            iss: PrincipalName::app(SKYPE_APP_ID, &resource.realm),
            nbf: now,
            exp: (now + OUTER_LIFETIME_SECS).min(actor.exp),
            user: UserClaims {
                nameid: Some(netid(&sip)),
                nii: Some(NII_MICROSOFT_ONLINE.to_owned()),
                upn: Some(user.user_principal_name.clone()),
                smtp: Some(user.primary_smtp_address.clone()),
                sip: Some(sip),
            },
            actor_token: actor.token,
        }
        .encode();
        Ok((outer, resource))
    }

    /// Skype's app-only token for the token service itself
    /// (`00000001-…/<STS host>@<realm>`), to read its Verify keys.
    pub(crate) async fn sts_app_token(&self, fresh: bool) -> Result<String, SkypeError> {
        let resource =
            PrincipalName::service(ACS_APP_ID, &self.sts_authority()?, &self.inner.cfg.realm);
        Ok(self.actor_token(&resource, fresh).await?.token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exchange_challenge() {
        let realm = "3f0c8f6e-1111-4222-8333-0123456789e9";
        let h = format!(
            "Bearer client_id=\"{EXCHANGE_APP_ID}\", trusted_issuers=\"{ACS_APP_ID}@{realm},{SKYPE_APP_ID}@{realm}\", token_types=\"app_asserted_user_v1 service_asserted_app_v1\", authorization_uri=\"https://login.example/x,y\""
        );
        let d = parse_challenge(&["Basic realm=\"\"".into(), h], realm).unwrap();
        assert_eq!(d.realm, realm);
        assert_eq!(d.trusted_issuers.len(), 2);
        let e = parse_challenge(
            &[format!(
                "Bearer client_id=\"{EXCHANGE_APP_ID}\", trusted_issuers=\"{ACS_APP_ID}@other\""
            )],
            realm,
        )
        .unwrap_err();
        assert!(e.contains("realm other"), "{e}");
        let e = parse_challenge(
            &[format!(
                "Bearer client_id=\"{EXCHANGE_APP_ID}\", trusted_issuers=\"\""
            )],
            realm,
        )
        .unwrap_err();
        assert!(e.contains("New-AuthServer"), "{e}");
        assert!(
            parse_challenge(&["Basic realm=\"x\"".into()], realm)
                .unwrap_err()
                .contains("no Bearer challenge")
        );
    }

    #[test]
    fn challenge_params_tolerate_odd_input() {
        let p = challenge_params("a=1, b=\"x,y\", c, =d, e=\"unterminated");
        assert_eq!(p.get("a").map(String::as_str), Some("1"));
        assert_eq!(p.get("b").map(String::as_str), Some("x,y"));
        assert_eq!(p.get("e").map(String::as_str), Some("unterminated"));
    }
}
