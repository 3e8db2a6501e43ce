//! A typed async client for every STS endpoint: [`StsClient`] for the public ones (metadata,
//! token, verify keys) and [`AdminClient`] for the admin API (tenants, first-party registry,
//! MSOnline, Graph). Used by `openhybrid msol …`, the lab and the tests.
//!
//! Refusals come back as [`ClientError::Sts`] (the AADSTS body) or [`ClientError::Graph`].

use reqwest::{Method, RequestBuilder};
use s2s_proto::principal::PrincipalName;
use s2s_proto::wire::{
    AcsMetadata, ErrorResponse, JWT_BEARER_ASSERTION, TokenRequest, TokenResponse,
};
use s2s_proto::{ClientAssertionSpec, SigningKey};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::{
    CredentialRow, FirstPartyCertificate, FirstPartyCertificateUpload, GraphAddKey, GraphErrorBody,
    GraphKeyCredential, GraphKeyCredentialInput, GraphList, GraphServicePrincipal,
    GraphServicePrincipalPatch, NewCredential, NewDomain, NewServicePrincipal, NewTenant,
    ServicePrincipal, SetServicePrincipal, Tenant, VerifyKeys,
};

/// Largest response body read.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Lifetime of the client assertions [`StsClient::request_actor_token`] builds.
pub const ASSERTION_LIFETIME_SECS: i64 = 300;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the token service at {url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the token service refused the request (HTTP {status}): {}", .error.error_description)]
    Sts { status: u16, error: ErrorResponse },
    #[error("the Graph API refused the request (HTTP {status}): {code}: {message}")]
    Graph {
        status: u16,
        code: String,
        message: String,
    },
    #[error("unexpected answer HTTP {status} from {url}: {body}")]
    Unexpected {
        status: u16,
        url: String,
        body: String,
    },
    #[error("the answer from {url} is not the expected JSON: {detail}")]
    Decode { url: String, detail: String },
    #[error("the answer from {url} is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge { url: String },
    #[error("cannot build the client assertion: {0}")]
    Assertion(s2s_proto::KeyError),
}

impl ClientError {
    /// The AADSTS number of an STS refusal.
    pub fn aadsts_code(&self) -> Option<u32> {
        match self {
            ClientError::Sts { error, .. } => error.error_codes.first().copied(),
            _ => None,
        }
    }

    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Sts { status, .. }
            | ClientError::Graph { status, .. }
            | ClientError::Unexpected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Percent-encodes one path segment.
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The public endpoints.
#[derive(Debug, Clone)]
pub struct StsClient {
    base: String,
    http: reqwest::Client,
}

impl StsClient {
    pub fn new(base_url: &str) -> StsClient {
        StsClient::with_http(base_url, reqwest::Client::new())
    }

    pub fn with_http(base_url: &str, http: reqwest::Client) -> StsClient {
        StsClient {
            base: base_url.trim_end_matches('/').to_owned(),
            http,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The token endpoint URL for a realm (the client assertion's audience).
    pub fn token_endpoint(&self, realm: &str) -> String {
        format!("{}/{}/tokens/OAuth/2", self.base, seg(realm))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        rb: RequestBuilder,
        url: String,
    ) -> Result<T, ClientError> {
        let bytes = self.send_raw(rb, &url).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url,
            detail: e.to_string(),
        })
    }

    /// Sends, reads a bounded body, and turns a non-2xx answer into the error it carries.
    async fn send_raw(&self, rb: RequestBuilder, url: &str) -> Result<Vec<u8>, ClientError> {
        let transport = |source| ClientError::Transport {
            url: url.to_owned(),
            source,
        };
        let mut resp = rb.send().await.map_err(transport)?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ClientError::TooLarge {
                    url: url.to_owned(),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return Ok(body);
        }
        let status = status.as_u16();
        if let Ok(error) = serde_json::from_slice::<ErrorResponse>(&body) {
            return Err(ClientError::Sts { status, error });
        }
        if let Ok(g) = serde_json::from_slice::<GraphErrorBody>(&body) {
            return Err(ClientError::Graph {
                status,
                code: g.error.code,
                message: g.error.message,
            });
        }
        Err(ClientError::Unexpected {
            status,
            url: url.to_owned(),
            body: String::from_utf8_lossy(&body).chars().take(500).collect(),
        })
    }

    /// `GET /healthz`.
    pub async fn healthz(&self) -> Result<(), ClientError> {
        let url = self.url("/healthz");
        self.send_raw(self.http.get(&url), &url).await.map(|_| ())
    }

    /// `GET /{realm}/metadata/json/1`.
    pub async fn metadata(&self, realm: &str) -> Result<AcsMetadata, ClientError> {
        let url = self.url(&format!("/{}/metadata/json/1", seg(realm)));
        self.send(self.http.get(&url), url).await
    }

    /// `GET /metadata/json/1?realm=…`.
    pub async fn metadata_by_query(&self, realm: &str) -> Result<AcsMetadata, ClientError> {
        let url = self.url("/metadata/json/1");
        self.send(self.http.get(&url).query(&[("realm", realm)]), url)
            .await
    }

    /// `POST /{realm}/tokens/OAuth/2`.
    pub async fn token(
        &self,
        realm: &str,
        req: &TokenRequest,
    ) -> Result<TokenResponse, ClientError> {
        let url = self.token_endpoint(realm);
        self.send(self.http.post(&url).form(req), url).await
    }

    /// Requests an actor token for `resource` as application `app_id`, authenticating with a
    /// fresh client assertion signed by `key` (`now` from the caller's clock).
    pub async fn request_actor_token(
        &self,
        realm: &str,
        app_id: &str,
        resource: &str,
        key: &SigningKey,
        now: i64,
    ) -> Result<TokenResponse, ClientError> {
        let client = PrincipalName::app(app_id, realm);
        let assertion = ClientAssertionSpec {
            client: client.clone(),
            audience: self.token_endpoint(realm),
            jti: crate::secret::new_guid(),
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        }
        .sign(key)
        .map_err(ClientError::Assertion)?;
        let req = TokenRequest {
            grant_type: "client_credentials".into(),
            client_id: Some(client.to_string()),
            client_assertion_type: Some(JWT_BEARER_ASSERTION.into()),
            client_assertion: Some(assertion),
            resource: Some(resource.into()),
            ..Default::default()
        };
        self.token(realm, &req).await
    }

    /// `GET /{realm}/firstparty/{appId}/verify-keys` with the application's app token.
    pub async fn verify_keys(
        &self,
        realm: &str,
        app_id: &str,
        app_token: &str,
    ) -> Result<VerifyKeys, ClientError> {
        let url = self.url(&format!(
            "/{}/firstparty/{}/verify-keys",
            seg(realm),
            seg(app_id)
        ));
        self.send(self.http.get(&url).bearer_auth(app_token), url)
            .await
    }
}

/// The admin API (MSOnline and Graph shapes), authenticated with the admin credential.
#[derive(Clone)]
pub struct AdminClient {
    public: StsClient,
    credential: String,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("base", &self.public.base)
            .finish()
    }
}

impl AdminClient {
    pub fn new(base_url: &str, credential: &str) -> AdminClient {
        AdminClient {
            public: StsClient::new(base_url),
            credential: credential.trim().to_owned(),
        }
    }

    pub fn with_http(base_url: &str, credential: &str, http: reqwest::Client) -> AdminClient {
        AdminClient {
            public: StsClient::with_http(base_url, http),
            credential: credential.trim().to_owned(),
        }
    }

    /// The public endpoints of the same service.
    pub fn public(&self) -> &StsClient {
        &self.public
    }

    fn request(&self, method: Method, path: &str) -> (RequestBuilder, String) {
        let url = self.public.url(path);
        (
            self.public
                .http
                .request(method, &url)
                .bearer_auth(&self.credential),
            url,
        )
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
    ) -> Result<T, ClientError> {
        let (rb, url) = self.request(method, path);
        self.public.send(rb, url).await
    }

    async fn call_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let (rb, url) = self.request(method, path);
        self.public.send(rb.json(body), url).await
    }

    async fn call_empty(&self, rb: RequestBuilder, url: String) -> Result<(), ClientError> {
        self.public.send_raw(rb, &url).await.map(|_| ())
    }

    // ---- tenants ----

    /// `POST /admin/tenants`.
    pub async fn create_tenant(
        &self,
        domain: &str,
        realm: Option<&str>,
    ) -> Result<Tenant, ClientError> {
        let body = NewTenant {
            domain: domain.into(),
            realm: realm.map(Into::into),
        };
        self.call_json(Method::POST, "/admin/tenants", &body).await
    }

    /// `GET /admin/tenants`.
    pub async fn tenants(&self) -> Result<Vec<Tenant>, ClientError> {
        self.call(Method::GET, "/admin/tenants").await
    }

    /// `GET /admin/tenants/{realm}` (realm or verified domain).
    pub async fn tenant(&self, realm: &str) -> Result<Tenant, ClientError> {
        self.call(Method::GET, &format!("/admin/tenants/{}", seg(realm)))
            .await
    }

    /// `POST /admin/tenants/{realm}/domains`.
    pub async fn add_domain(&self, realm: &str, domain: &str) -> Result<Tenant, ClientError> {
        let body = NewDomain {
            domain: domain.into(),
        };
        self.call_json(
            Method::POST,
            &format!("/admin/tenants/{}/domains", seg(realm)),
            &body,
        )
        .await
    }

    /// `POST /admin/tenants/{realm}/signing-keys/rollover`.
    pub async fn roll_signing_key(&self, realm: &str) -> Result<Tenant, ClientError> {
        self.call(
            Method::POST,
            &format!("/admin/tenants/{}/signing-keys/rollover", seg(realm)),
        )
        .await
    }

    // ---- first-party registry ----

    /// `POST /admin/first-party/{appId}/certificates` with a base64 DER certificate.
    pub async fn provision_first_party(
        &self,
        app_id: &str,
        certificate_b64: &str,
    ) -> Result<FirstPartyCertificate, ClientError> {
        let body = FirstPartyCertificateUpload {
            certificate: certificate_b64.into(),
        };
        self.call_json(
            Method::POST,
            &format!("/admin/first-party/{}/certificates", seg(app_id)),
            &body,
        )
        .await
    }

    /// `GET /admin/first-party/{appId}/certificates`.
    pub async fn first_party_certificates(
        &self,
        app_id: &str,
    ) -> Result<Vec<FirstPartyCertificate>, ClientError> {
        self.call(
            Method::GET,
            &format!("/admin/first-party/{}/certificates", seg(app_id)),
        )
        .await
    }

    // ---- MSOnline ----

    fn msol(realm: &str) -> String {
        format!("/{}/msol/servicePrincipals", seg(realm))
    }

    /// Get-MsolServicePrincipal -AppPrincipalId.
    pub async fn get_msol_service_principal_by_app_id(
        &self,
        realm: &str,
        app_id: &str,
    ) -> Result<ServicePrincipal, ClientError> {
        let (rb, url) = self.request(Method::GET, &Self::msol(realm));
        self.public
            .send(rb.query(&[("AppPrincipalId", app_id)]), url)
            .await
    }

    /// Get-MsolServicePrincipal -ServicePrincipalName.
    pub async fn get_msol_service_principal_by_spn(
        &self,
        realm: &str,
        spn: &str,
    ) -> Result<ServicePrincipal, ClientError> {
        let (rb, url) = self.request(Method::GET, &Self::msol(realm));
        self.public
            .send(rb.query(&[("ServicePrincipalName", spn)]), url)
            .await
    }

    /// Get-MsolServicePrincipal (all).
    pub async fn get_msol_service_principals(
        &self,
        realm: &str,
    ) -> Result<Vec<ServicePrincipal>, ClientError> {
        self.call(Method::GET, &Self::msol(realm)).await
    }

    /// New-MsolServicePrincipal.
    pub async fn new_msol_service_principal(
        &self,
        realm: &str,
        req: &NewServicePrincipal,
    ) -> Result<ServicePrincipal, ClientError> {
        self.call_json(Method::POST, &Self::msol(realm), req).await
    }

    /// Set-MsolServicePrincipal.
    pub async fn set_msol_service_principal(
        &self,
        realm: &str,
        app_id: &str,
        req: &SetServicePrincipal,
    ) -> Result<ServicePrincipal, ClientError> {
        self.call_json(
            Method::PATCH,
            &format!("{}/{}", Self::msol(realm), seg(app_id)),
            req,
        )
        .await
    }

    /// Remove-MsolServicePrincipal.
    pub async fn remove_msol_service_principal(
        &self,
        realm: &str,
        app_id: &str,
    ) -> Result<(), ClientError> {
        let (rb, url) = self.request(
            Method::DELETE,
            &format!("{}/{}", Self::msol(realm), seg(app_id)),
        );
        self.call_empty(rb, url).await
    }

    /// New-MsolServicePrincipalCredential. Uploading a certificate the principal already has
    /// (same usage) returns the existing row.
    pub async fn new_msol_service_principal_credential(
        &self,
        realm: &str,
        app_id: &str,
        req: &NewCredential,
    ) -> Result<CredentialRow, ClientError> {
        self.call_json(
            Method::POST,
            &format!("{}/{}/credentials", Self::msol(realm), seg(app_id)),
            req,
        )
        .await
    }

    /// Get-MsolServicePrincipalCredential [-ReturnKeyValues].
    pub async fn get_msol_service_principal_credential(
        &self,
        realm: &str,
        app_id: &str,
        return_key_values: bool,
    ) -> Result<Vec<CredentialRow>, ClientError> {
        let (rb, url) = self.request(
            Method::GET,
            &format!("{}/{}/credentials", Self::msol(realm), seg(app_id)),
        );
        let rb = if return_key_values {
            rb.query(&[("ReturnKeyValues", "true")])
        } else {
            rb
        };
        self.public.send(rb, url).await
    }

    /// Remove-MsolServicePrincipalCredential -KeyIds.
    pub async fn remove_msol_service_principal_credential(
        &self,
        realm: &str,
        app_id: &str,
        key_id: &str,
    ) -> Result<(), ClientError> {
        let (rb, url) = self.request(
            Method::DELETE,
            &format!(
                "{}/{}/credentials/{}",
                Self::msol(realm),
                seg(app_id),
                seg(key_id)
            ),
        );
        self.call_empty(rb, url).await
    }

    // ---- Graph ----

    fn graph(realm: &str) -> String {
        format!("/v1.0/{}/servicePrincipals", seg(realm))
    }

    /// `GET /v1.0/{realm}/servicePrincipals[?$filter=appId eq '…']`.
    pub async fn graph_service_principals(
        &self,
        realm: &str,
        app_id: Option<&str>,
    ) -> Result<Vec<GraphServicePrincipal>, ClientError> {
        let (rb, url) = self.request(Method::GET, &Self::graph(realm));
        let rb = match app_id {
            Some(a) => rb.query(&[("$filter", format!("appId eq '{}'", a.replace('\'', "''")))]),
            None => rb,
        };
        let list: GraphList<GraphServicePrincipal> = self.public.send(rb, url).await?;
        Ok(list.value)
    }

    /// `GET /v1.0/{realm}/servicePrincipals/{id}?$select=keyCredentials` (keys with `key`).
    pub async fn graph_key_credentials(
        &self,
        realm: &str,
        id: &str,
    ) -> Result<Vec<GraphKeyCredential>, ClientError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Keys {
            key_credentials: Vec<GraphKeyCredential>,
        }
        let (rb, url) = self.request(Method::GET, &format!("{}/{}", Self::graph(realm), seg(id)));
        let k: Keys = self
            .public
            .send(rb.query(&[("$select", "keyCredentials")]), url)
            .await?;
        Ok(k.key_credentials)
    }

    /// `PATCH /v1.0/{realm}/servicePrincipals/{id}` `{"keyCredentials":[…]}`: replaces the
    /// principal's certificate set.
    pub async fn graph_set_key_credentials(
        &self,
        realm: &str,
        id: &str,
        keys: &[GraphKeyCredentialInput],
    ) -> Result<(), ClientError> {
        let body = GraphServicePrincipalPatch {
            key_credentials: Some(keys.to_vec()),
        };
        let (rb, url) = self.request(
            Method::PATCH,
            &format!("{}/{}", Self::graph(realm), seg(id)),
        );
        self.call_empty(rb.json(&body), url).await
    }

    /// `POST /v1.0/{realm}/servicePrincipals/{id}/addKey`.
    pub async fn graph_add_key(
        &self,
        realm: &str,
        id: &str,
        req: &GraphAddKey,
    ) -> Result<GraphKeyCredential, ClientError> {
        self.call_json(
            Method::POST,
            &format!("{}/{}/addKey", Self::graph(realm), seg(id)),
            req,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("contoso.example"), "contoso.example");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
        let c = StsClient::new("http://127.0.0.1:1/");
        assert_eq!(c.token_endpoint("r"), "http://127.0.0.1:1/r/tokens/OAuth/2");
    }
}
