//! ACS wire types: the metadata document, the token request and response, the error response.

use serde::{Deserialize, Serialize};

use crate::keys::{Certificate, KeyError};

/// `GET /{realm}/metadata/json/1` (spec/protocol.md §5.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcsMetadata {
    pub version: String,
    pub realm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub issuer: String,
    #[serde(default)]
    pub allowed_audiences: Vec<String>,
    #[serde(default)]
    pub keys: Vec<MetadataKey>,
    #[serde(default)]
    pub endpoints: Vec<MetadataEndpoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataKey {
    pub usage: String,
    pub key_value: KeyValue,
    /// The placement ACS uses; some parsers expect it inside `keyValue` instead: both are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_info: Option<KeyInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyValue {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_info: Option<KeyInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub x5t: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataEndpoint {
    pub location: String,
    pub protocol: String,
    pub usage: String,
}

/// Why a metadata document could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetadataError {
    #[error("the metadata document is not valid JSON of the ACS shape: {0}")]
    Json(String),
    #[error("the metadata document is {0} bytes; at most 1 MiB is read")]
    TooLarge(usize),
    #[error("signing key {index} in the metadata is unusable: {source}")]
    BadKey { index: usize, source: KeyError },
    #[error("signing key {index} declares x5t {declared} but its certificate's x5t is {actual}")]
    X5tMismatch {
        index: usize,
        declared: String,
        actual: String,
    },
    #[error("the metadata has no signing keys")]
    NoSigningKeys,
    #[error("the metadata has no OAuth2 issuance endpoint")]
    NoIssuanceEndpoint,
}

impl AcsMetadata {
    pub fn parse(bytes: &[u8]) -> Result<Self, MetadataError> {
        if bytes.len() > 1 << 20 {
            return Err(MetadataError::TooLarge(bytes.len()));
        }
        serde_json::from_slice(bytes).map_err(|e| MetadataError::Json(e.to_string()))
    }

    /// The X.509 signing certificates, each checked against its declared `x5t` (either placement).
    pub fn signing_certificates(&self) -> Result<Vec<Certificate>, MetadataError> {
        let mut out = Vec::new();
        for (index, k) in self.keys.iter().enumerate() {
            if !k.usage.eq_ignore_ascii_case("signing")
                || !k.key_value.kind.eq_ignore_ascii_case("x509Certificate")
            {
                continue;
            }
            let cert = Certificate::from_base64(&k.key_value.value)
                .map_err(|source| MetadataError::BadKey { index, source })?;
            let declared = k.key_info.as_ref().or(k.key_value.key_info.as_ref());
            if let Some(info) = declared
                && info.x5t != cert.x5t
            {
                return Err(MetadataError::X5tMismatch {
                    index,
                    declared: info.x5t.clone(),
                    actual: cert.x5t.clone(),
                });
            }
            out.push(cert);
        }
        if out.is_empty() {
            return Err(MetadataError::NoSigningKeys);
        }
        Ok(out)
    }

    /// The `OAuth2`/`issuance` endpoint.
    pub fn token_endpoint(&self) -> Result<&str, MetadataError> {
        self.endpoints
            .iter()
            .find(|e| {
                e.protocol.eq_ignore_ascii_case("OAuth2")
                    && e.usage.eq_ignore_ascii_case("issuance")
            })
            .map(|e| e.location.as_str())
            .ok_or(MetadataError::NoIssuanceEndpoint)
    }
}

/// The client-assertion type of RFC 7523.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// `POST /{realm}/tokens/OAuth/2`, form-encoded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenRequest {
    pub grant_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_assertion_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_assertion: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The ACS success response: numbers are strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub token_type: String,
    pub expires_in: String,
    pub not_before: String,
    pub expires_on: String,
    pub resource: String,
    pub access_token: String,
}

/// The AADSTS-style error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: String,
    pub error_description: String,
    #[serde(default)]
    pub error_codes: Vec<u32>,
    #[serde(default)]
    pub timestamp: String,
    #[serde(default)]
    pub trace_id: String,
    #[serde(default)]
    pub correlation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
}
