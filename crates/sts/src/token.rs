//! The OAuth2 token endpoint (client credentials → actor token), the ACS metadata document, and
//! the app-token check of the first-party verify-keys endpoint.

use std::sync::Arc;

use s2s_proto::principal::{ACS_APP_ID, PrincipalName, spn_covers};
use s2s_proto::validate::DEFAULT_SKEW_SECS;
use s2s_proto::wire::{
    AcsMetadata, JWT_BEARER_ASSERTION, KeyInfo, KeyValue, MetadataEndpoint, MetadataKey,
    TokenResponse,
};
use s2s_proto::{
    ActorTokenSpec, Certificate, ExpectedAudience, Policy, TokenError, TrustedIssuer, validate_s2s,
    validate_signed,
};

use crate::Sts;
use crate::db::{self, CredKind, SpentAssertion, Usage};
use crate::error::{StsError, clip};
use crate::model::{VerifyKeyRow, VerifyKeys};
use crate::names::{self, from_unix};
use crate::service::{is_builtin_first_party, resolve_in, sp_in};
use crate::snapshot::Principal;

/// Longest lifetime of a client assertion (RFC 7523 practice; Azure AD allows 10 minutes).
pub(crate) const MAX_ASSERTION_LIFETIME_SECS: i64 = 600;
/// Longest jti remembered.
const MAX_JTI_LEN: usize = 256;
/// Longest client secret looked at.
const MAX_SECRET_LEN: usize = 1024;

/// The parameters of a form body, each name at most once.
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Result<Form, StsError> {
        if std::str::from_utf8(body).is_err() {
            return Err(StsError::MalformedForm("the body is not UTF-8".into()));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|e| StsError::MalformedForm(clip(&e.to_string(), 200)))?;
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(p, _)| p == k) {
                return Err(StsError::DuplicateParameter(clip(k, 60)));
            }
        }
        Ok(Form(pairs))
    }

    /// The value of `name`; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn require(&self, name: &'static str) -> Result<&str, StsError> {
        self.get(name).ok_or(StsError::MissingParameter(name))
    }
}

impl Sts {
    /// The ACS metadata document of a tenant (realm or verified domain).
    pub async fn metadata(&self, realm_or_domain: &str) -> Result<AcsMetadata, StsError> {
        let tenant = self.tenant(realm_or_domain).await?;
        let realm = tenant.realm;
        let certs = self.signing_certificates(&realm).await?;
        let issuer = format!("{ACS_APP_ID}@{realm}");
        let base = format!("{}/{realm}", self.public_url());
        Ok(AcsMetadata {
            version: "1.0".into(),
            name: Some(
                tenant
                    .domains
                    .first()
                    .cloned()
                    .unwrap_or_else(|| realm.clone()),
            ),
            issuer: issuer.clone(),
            allowed_audiences: vec![issuer],
            keys: certs
                .iter()
                .map(|c| MetadataKey {
                    usage: "signing".into(),
                    key_value: KeyValue {
                        kind: "x509Certificate".into(),
                        value: c.to_base64(),
                        key_info: Some(KeyInfo { x5t: c.x5t.clone() }),
                    },
                    key_info: None,
                })
                .collect(),
            endpoints: vec![
                MetadataEndpoint {
                    location: format!("{base}/tokens/OAuth/2"),
                    protocol: "OAuth2".into(),
                    usage: "issuance".into(),
                },
                MetadataEndpoint {
                    location: format!("{base}/tokens/delegation/1"),
                    protocol: "DelegationIssuance1.0".into(),
                    usage: "issuance".into(),
                },
                MetadataEndpoint {
                    location: format!("{base}/mgmt/delegation/1"),
                    protocol: "DelegationManagement1.0".into(),
                    usage: "management".into(),
                },
            ],
            realm,
        })
    }

    /// `POST /{realm}/tokens/OAuth/2`: checks the request, authenticates the client, checks the
    /// resource, and issues an actor token signed with the tenant's key.
    pub(crate) async fn issue_token(
        &self,
        path_realm: &str,
        form: &Form,
    ) -> Result<TokenResponse, StsError> {
        // everything read from storage comes from one snapshot, as of the last commit
        let snap = self.snapshot().await?;
        let realm = snap
            .resolve(path_realm)
            .ok_or_else(|| StsError::TenantNotFound(clip(path_realm, 100)))?
            .to_owned();

        let grant = form.require("grant_type")?;
        if grant != "client_credentials" {
            return Err(StsError::UnsupportedGrantType(clip(grant, 60)));
        }
        let client_id = form.require("client_id")?;
        let resource = form.require("resource")?;
        let assertion = form.get("client_assertion");
        let secret = form.get("client_secret");
        match (assertion, secret) {
            (Some(_), Some(_)) => return Err(StsError::TwoClientCredentials),
            (None, None) => return Err(StsError::NoClientCredential),
            (Some(_), None) => {
                let t = form.require("client_assertion_type")?;
                if t != JWT_BEARER_ASSERTION {
                    return Err(StsError::InvalidParameter {
                        name: "client_assertion_type",
                        reason: format!(
                            "{:?} is not supported; use {JWT_BEARER_ASSERTION}",
                            clip(t, 80)
                        ),
                    });
                }
            }
            (None, Some(_)) => {}
        }

        // client_id: <appid>@<realm> or a bare <appid>
        let (client_app, client_realm) = match client_id.contains('@') {
            true => {
                let p =
                    PrincipalName::parse(client_id).map_err(|e| StsError::InvalidParameter {
                        name: "client_id",
                        reason: format!("{e}; use <appid>@<realm>"),
                    })?;
                if p.host.is_some() {
                    return Err(StsError::InvalidParameter {
                        name: "client_id",
                        reason: "the client is named <appid>@<realm>, without a /host part".into(),
                    });
                }
                (p.app_id, Some(p.realm))
            }
            false => (client_id.to_owned(), None),
        };
        let client_app = names::guid(&client_app).unwrap_or(client_app);

        // resource: <appid>/<host>@<realm>
        let res = PrincipalName::parse(resource).map_err(|e| StsError::InvalidResource {
            resource: clip(resource, 200),
            reason: e.to_string(),
        })?;
        let Some(res_host) = res.host.clone() else {
            return Err(StsError::InvalidResource {
                resource: clip(resource, 200),
                reason: "it has no /<host> part".into(),
            });
        };
        names::host(&res_host, false).map_err(|reason| StsError::InvalidResource {
            resource: clip(resource, 200),
            reason,
        })?;

        if let Some(cr) = &client_realm
            && snap.resolve(cr) != Some(realm.as_str())
        {
            return Err(StsError::ClientRealmMismatch {
                client_id: clip(client_id, 200),
                found: clip(cr, 100),
                realm,
            });
        }
        if snap.resolve(&res.realm) != Some(realm.as_str()) {
            return Err(StsError::ResourceRealmMismatch {
                resource: clip(resource, 200),
                found: clip(&res.realm, 100),
                realm,
            });
        }
        let client =
            snap.principal(&realm, &client_app)
                .ok_or_else(|| StsError::UnknownClient {
                    app_id: clip(&client_app, 60),
                    realm: realm.clone(),
                })?;
        let registry = snap.first_party.get(&client_app);
        let resource_sp = snap.principal(&realm, &res.app_id);
        if !client.row.account_enabled {
            return Err(StsError::ClientDisabled {
                app_id: client_app,
                realm,
            });
        }
        let first_party = is_builtin_first_party(&client_app) || registry.is_some();

        // authenticate the client; the assertion is validated and its jti pruned and recorded
        // at the same instant, so a replay can never find its record pruned by a later clock
        let auth_now = self.now();
        let assertion_id = match (assertion, secret) {
            (Some(a), _) => Some(self.check_assertion(
                auth_now,
                &realm,
                &client_app,
                client_id,
                path_realm,
                a,
                first_party,
                client,
                registry,
            )?),
            (None, Some(s)) => {
                if first_party {
                    return Err(StsError::FirstPartySecretNotAllowed { app_id: client_app });
                }
                self.check_secret(&client_app, s, client.clone()).await?;
                None
            }
            (None, None) => return Err(StsError::NoClientCredential),
        };

        // the resource must be a principal of this tenant whose SPNs cover the host
        let resource_sp = &resource_sp
            .ok_or_else(|| StsError::ResourceNotFound {
                app_id: clip(&res.app_id, 60),
                realm: realm.clone(),
            })?
            .row;
        if !resource_sp.account_enabled {
            return Err(StsError::ResourceDisabled {
                app_id: resource_sp.app_id.clone(),
                realm,
            });
        }
        if !resource_sp
            .spns
            .iter()
            .any(|s| spn_covers(s, &resource_sp.app_id, &res_host))
        {
            return Err(StsError::ResourceHostNotRegistered {
                app_id: resource_sp.app_id.clone(),
                host: res_host,
                realm,
                spns: resource_sp.spns.clone(),
            });
        }

        // only now is the assertion spent: a refused request does not burn it
        if let Some((issuer, jti, exp)) = assertion_id {
            let fresh = self
                .replay_log()
                .spend(SpentAssertion {
                    issuer,
                    jti: jti.clone(),
                    expires: exp + DEFAULT_SKEW_SECS,
                    now: auth_now,
                })
                .await?;
            if !fresh {
                return Err(StsError::AssertionReplayed {
                    jti: clip(&jti, 80),
                });
            }
        }

        let signing = snap.tenants.get(&realm).map_or(&[][..], |t| &t.signing);
        let key = self.active_signing_key(&realm, signing).await?;
        let now = self.now();
        let lifetime = self.inner.lifetime;
        let aud = PrincipalName::service(&resource_sp.app_id, &res_host, &realm);
        let iss = PrincipalName::app(ACS_APP_ID, &realm);
        let spec = ActorTokenSpec {
            aud: aud.clone(),
            iss: iss.clone(),
            nameid: PrincipalName::app(&client_app, &realm),
            iat: now,
            nbf: now - DEFAULT_SKEW_SECS,
            exp: now + lifetime,
            trusted_for_delegation: Some(client.row.trusted_for_delegation),
            identity_provider: Some(iss.to_string()),
            oid: Some(client.row.object_id.clone()),
            jti: Some(crate::secret::new_guid()),
        };
        let token = spec.sign(&key).map_err(StsError::Crypto)?;
        tracing::info!(
            client = %spec.nameid,
            resource = %aud,
            x5t = %key.certificate().x5t,
            jti = spec.jti.as_deref().unwrap_or(""),
            "actor token issued"
        );
        Ok(TokenResponse {
            token_type: "Bearer".into(),
            expires_in: lifetime.to_string(),
            not_before: spec.nbf.to_string(),
            expires_on: spec.exp.to_string(),
            resource: aud.to_string(),
            access_token: token,
        })
    }

    /// Validates a client assertion (RFC 7523) and returns (issuer, jti, exp) for replay
    /// bookkeeping.
    #[allow(clippy::too_many_arguments)]
    fn check_assertion(
        &self,
        now: i64,
        realm: &str,
        client_app: &str,
        client_id: &str,
        path_realm: &str,
        assertion: &str,
        first_party: bool,
        client: &Principal,
        registry: Option<&Vec<s2s_proto::VerifyKey>>,
    ) -> Result<(String, String, i64), StsError> {
        let keys = if first_party {
            let keys = registry.cloned().unwrap_or_default();
            if keys.is_empty() {
                return Err(StsError::NoFirstPartyKeys {
                    app_id: client_app.to_owned(),
                });
            }
            keys
        } else {
            // validity is evaluated now, on every request
            let keys: Vec<_> = client
                .creds
                .iter()
                .filter(|c| {
                    c.row.kind == CredKind::Asymmetric
                        && c.row.usage == Usage::Verify
                        && c.row.valid_at(now)
                })
                .filter_map(|c| c.key.clone())
                .collect();
            if keys.is_empty() {
                return Err(StsError::NoClientKeys {
                    app_id: client_app.to_owned(),
                });
            }
            keys
        };
        let canonical = format!("{client_app}@{realm}");
        let mut issuers = vec![TrustedIssuer {
            issuer: canonical.clone(),
            keys: keys.clone(),
        }];
        if client_id.contains('@') && client_id != canonical {
            issuers.push(TrustedIssuer {
                issuer: client_id.to_owned(),
                keys,
            });
        }
        let mut audiences = vec![self.token_endpoint(realm), format!("{ACS_APP_ID}@{realm}")];
        if path_realm != realm {
            audiences.push(self.token_endpoint(path_realm));
        }
        let mut policy = Policy::new(ExpectedAudience::Exact(audiences), None, issuers);
        policy.require_nbf = false;
        policy.max_lifetime_secs = Some(MAX_ASSERTION_LIFETIME_SECS);

        let v = validate_signed(assertion, &policy, now).map_err(|e| {
            if first_party
                && let TokenError::KeyNotFound { x5t: Some(x5t), .. } = &e
                && let Some(k) = client
                    .creds
                    .iter()
                    .filter_map(|c| c.key.as_ref())
                    .find(|k| &k.x5t == x5t)
            {
                return StsError::FirstPartyUsedTenantKey {
                    app_id: client_app.to_owned(),
                    thumbprint: k.thumbprint.clone(),
                };
            }
            StsError::ClientAssertion(e)
        })?;
        let sub = v.claim_str("sub").unwrap_or("");
        if sub != v.issuer {
            return Err(StsError::AssertionSubjectMismatch {
                iss: clip(&v.issuer, 200),
                sub: clip(sub, 200),
            });
        }
        let jti = match v.claim_str("jti") {
            Some(j) if !j.is_empty() && j.len() <= MAX_JTI_LEN => j.to_owned(),
            _ => return Err(StsError::AssertionJtiMissing),
        };
        Ok((v.issuer.clone(), jti, v.exp))
    }

    /// Checks a client secret against the principal's Symmetric and Password credentials
    /// (PBKDF2, constant-time), off the async runtime.
    async fn check_secret(
        &self,
        app_id: &str,
        secret: &str,
        principal: Arc<Principal>,
    ) -> Result<(), StsError> {
        if secret.len() > MAX_SECRET_LEN {
            return Err(StsError::InvalidClientSecret {
                app_id: app_id.to_owned(),
            });
        }
        let now = self.now();
        let secret = secret.to_owned();
        let matched = tokio::task::spawn_blocking(move || {
            let mut expired = None;
            let candidates = principal
                .creds
                .iter()
                .map(|c| &c.row)
                .filter(|c| matches!(c.kind, CredKind::Symmetric | CredKind::Password));
            for c in candidates {
                if c.secret.as_ref().is_some_and(|h| h.verify(&secret)) {
                    if c.valid_at(now) {
                        return (true, None);
                    }
                    expired = Some((c.key_id.clone(), c.end));
                }
            }
            (false, expired)
        })
        .await
        .map_err(|_| StsError::Store(store::StoreError::WorkerGone))?;
        match matched {
            (true, _) => Ok(()),
            (false, Some((key_id, end))) => Err(StsError::ExpiredClientSecret {
                app_id: app_id.to_owned(),
                key_id,
                end: from_unix(end).to_string(),
            }),
            (false, None) => Err(StsError::InvalidClientSecret {
                app_id: app_id.to_owned(),
            }),
        }
    }

    /// `GET /{realm}/firstparty/{appId}/verify-keys`: the Verify certificates the tenant registered
    /// on the application's service principal, for the application itself (authenticated with an
    /// app token this STS issued to it for `00000001-…/<STS host>@<realm>`).
    pub async fn first_party_verify_keys(
        &self,
        realm_or_domain: &str,
        app_id: &str,
        bearer: Option<&str>,
    ) -> Result<VerifyKeys, StsError> {
        let realm = self.resolve_realm(realm_or_domain).await?;
        let app_id = names::require_guid("appId", app_id)?;
        let token = bearer.ok_or(StsError::AppTokenMissing)?;
        let keys = self
            .signing_certificates(&realm)
            .await?
            .iter()
            .map(Certificate::verify_key)
            .collect();
        let policy = Policy::new(
            ExpectedAudience::Service {
                app_id: ACS_APP_ID.into(),
                hosts: vec![self.sts_host().to_owned()],
                realm: realm.clone(),
            },
            Some(realm.clone()),
            vec![TrustedIssuer {
                issuer: format!("{ACS_APP_ID}@{realm}"),
                keys,
            }],
        );
        let v = validate_s2s(token, &policy, self.now()).map_err(StsError::AppToken)?;
        if v.app().app_id != app_id || v.app().realm != realm {
            return Err(StsError::AppTokenWrongApp {
                nameid: v.app().to_string(),
                app_id,
                realm,
            });
        }
        let (r, a) = (realm.clone(), app_id.clone());
        let creds = self
            .db()
            .call(move |c| {
                let realm = resolve_in(c, &r)?;
                sp_in(c, &realm, &a)?;
                db::creds(c, &realm, &a)
            })
            .await?;
        let keys = creds
            .iter()
            .filter(|c| c.kind == CredKind::Asymmetric && c.usage == Usage::Verify)
            .filter_map(|c| {
                let der = c.cert_der.as_deref()?;
                Some(VerifyKeyRow {
                    key_id: c.key_id.clone(),
                    usage: c.usage.as_str().to_owned(),
                    start_date: from_unix(c.start),
                    end_date: from_unix(c.end),
                    value: s2s_proto::b64::std_encode(der),
                    thumbprint: c.thumbprint.clone().unwrap_or_default(),
                })
            })
            .collect();
        Ok(VerifyKeys { keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_parsing() {
        let f = Form::parse(b"grant_type=client_credentials&resource=a%2Fb%40c&empty=").unwrap();
        assert_eq!(f.get("grant_type"), Some("client_credentials"));
        assert_eq!(f.get("resource"), Some("a/b@c"));
        assert_eq!(f.get("empty"), None);
        assert!(matches!(
            f.require("client_id"),
            Err(StsError::MissingParameter("client_id"))
        ));
        assert!(matches!(
            Form::parse(b"a=1&a=2"),
            Err(StsError::DuplicateParameter(_))
        ));
        assert!(matches!(
            Form::parse(b"a=\xff"),
            Err(StsError::MalformedForm(_))
        ));
    }
}
