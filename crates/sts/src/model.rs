//! The JSON shapes of the admin API, shared by the server and [`crate::client`].
//!
//! MSOnline shapes use the cmdlets' PascalCase names; Graph shapes use Graph's camelCase. Dates
//! are ISO 8601 (RFC 3339, UTC, whole seconds).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A tenant: its realm (a GUID) and verified domains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tenant {
    pub realm: String,
    /// Verified domains, the first one the default.
    pub domains: Vec<String>,
    /// `<public_url>/<realm>/metadata/json/1`, the value for Exchange's `New-AuthServer`.
    pub metadata_url: String,
    /// `<public_url>/<realm>/tokens/OAuth/2`.
    pub token_endpoint: String,
    /// The STS signing certificates published in the metadata, the active one first.
    pub signing_certificates: Vec<SigningCertificateInfo>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// One STS signing certificate of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SigningCertificateInfo {
    pub thumbprint: String,
    pub x5t: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// The key new tokens are signed with.
    pub active: bool,
}

/// `POST /admin/tenants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NewTenant {
    pub domain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
}

/// `POST /admin/tenants/{realm}/domains`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NewDomain {
    pub domain: String,
}

/// A service principal as `Get-MsolServicePrincipal` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServicePrincipal {
    /// Always `{}` (PowerShell's ExtensionDataObject).
    #[serde(default)]
    pub extension_data: serde_json::Map<String, serde_json::Value>,
    pub account_enabled: bool,
    /// Reply addresses (plain strings here).
    #[serde(default)]
    pub addresses: Vec<String>,
    pub app_principal_id: String,
    pub display_name: String,
    pub object_id: String,
    pub service_principal_names: Vec<String>,
    pub trusted_for_delegation: bool,
}

/// `POST /{realm}/msol/servicePrincipals` (New-MsolServicePrincipal), optionally with a first
/// credential in the same call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NewServicePrincipal {
    pub display_name: String,
    /// A GUID; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_principal_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<NewCredential>,
}

/// `PATCH /{realm}/msol/servicePrincipals/{appPrincipalId}` (Set-MsolServicePrincipal): the
/// fields present replace the stored ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SetServicePrincipal {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<String>>,
}

/// `POST …/credentials` (New-MsolServicePrincipalCredential).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NewCredential {
    /// `Asymmetric`, `Symmetric` or `Password`, any case.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `Verify` or `Sign`, any case; default `Verify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    /// Asymmetric: base64 DER X.509 certificate. Symmetric/Password: the secret.
    pub value: String,
    /// ISO 8601; Asymmetric defaults to the certificate's NotBefore, others to now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// ISO 8601; Asymmetric defaults to the certificate's NotAfter, others to start + 1 year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
}

impl std::fmt::Display for NewCredential {
    // Never the value: it may be a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?} credential", self.kind, self.usage)
    }
}

/// One row of `Get-MsolServicePrincipalCredential`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CredentialRow {
    #[serde(rename = "Type")]
    pub kind: String,
    /// Empty unless `ReturnKeyValues=true`; then the base64 DER certificate for Asymmetric keys.
    /// Secrets are stored only as salted PBKDF2 hashes and are never returned.
    pub value: String,
    pub key_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub start_date: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub end_date: OffsetDateTime,
    pub usage: String,
}

/// `POST /admin/first-party/{appId}/certificates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstPartyCertificateUpload {
    /// Base64 DER X.509 certificate.
    #[serde(alias = "Certificate")]
    pub certificate: String,
}

/// A certificate of the first-party application registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FirstPartyCertificate {
    pub app_id: String,
    pub thumbprint: String,
    pub subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

/// `GET /{realm}/firstparty/{appId}/verify-keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyKeys {
    pub keys: Vec<VerifyKeyRow>,
}

/// One Verify key credential of a first-party application's service principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyKeyRow {
    pub key_id: String,
    pub usage: String,
    #[serde(with = "time::serde::rfc3339")]
    pub start_date: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub end_date: OffsetDateTime,
    /// Base64 DER X.509 certificate.
    pub value: String,
    /// Upper-case hex SHA-1 of the certificate.
    pub thumbprint: String,
}

// ---------------------------------------------------------------------------------------------
// Microsoft Graph shapes

/// `GET /v1.0/{realm}/servicePrincipals?$filter=…` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphList<T> {
    pub value: Vec<T>,
}

/// A Graph `servicePrincipal` (the properties this service knows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphServicePrincipal {
    pub id: String,
    pub app_id: String,
    pub app_display_name: String,
    pub display_name: String,
    pub account_enabled: bool,
    pub service_principal_names: Vec<String>,
    pub key_credentials: Vec<GraphKeyCredential>,
}

/// A Graph `keyCredential`. `key` is only returned by a single-object GET with
/// `$select=keyCredentials`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphKeyCredential {
    /// The certificate thumbprint (upper-case hex).
    pub custom_key_identifier: Option<String>,
    pub display_name: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub end_date_time: OffsetDateTime,
    pub key: Option<String>,
    pub key_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub start_date_time: OffsetDateTime,
    #[serde(rename = "type")]
    pub kind: String,
    pub usage: String,
}

/// A keyCredential as sent in a PATCH or addKey: new keys carry `key`; retained keys may be sent
/// as `key`/`type`/`usage` only, or by `keyId` alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GraphKeyCredentialInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_key_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
}

/// `PATCH /v1.0/{realm}/servicePrincipals/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GraphServicePrincipalPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_credentials: Option<Vec<GraphKeyCredentialInput>>,
}

/// `POST /v1.0/{realm}/servicePrincipals/{id}/addKey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GraphAddKey {
    pub key_credential: GraphKeyCredentialInput,
    /// Must be null: password credentials are not added through addKey here.
    #[serde(default)]
    pub password_credential: Option<serde_json::Value>,
    /// A JWT signed by an existing valid certificate of the service principal.
    pub proof: String,
}

/// Graph's error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphErrorBody {
    pub error: GraphError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphError {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inner_error: Option<serde_json::Value>,
}
