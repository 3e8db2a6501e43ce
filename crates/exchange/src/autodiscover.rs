//! Autodiscover under `/autodiscover/`: how clients find a mailbox's EWS URL from its address.
//!
//! * `POST /autodiscover/autodiscover.svc`: SOAP `GetUserSettings` (MS-OXWSADISC), what
//!   exchangelib 5 and the EWS Managed API send. Authenticated exactly as EWS is (the same
//!   token validation, cache, failure budgets, challenge and traffic record).
//! * `POST /autodiscover/autodiscover.xml`: POX, the Outlook provider (MS-OXDSCLI).
//!   Authenticated the same way.
//! * `GET /autodiscover/autodiscover.json/v1.0/<address>?Protocol=EWS` (or `?Email=…&Protocol=…`):
//!   the v2 lookup Teams and Skype for Business Online start with. Anonymous, as on Exchange
//!   Server: it answers from the address's domain alone and looks no mailbox up, so it tells
//!   nothing about who exists.
//!
//! * `GET /autodiscover/metadata/json/1`: Exchange's own auth metadata (anonymous): the issuer
//!   `00000002-0000-0ff1-ce00-000000000000@<realm>` of the tokens Exchange signs (flow F2) and
//!   the certificates it signs them with — AuthConfig's current one and, while a rollover is
//!   staged, the next — so a partner can verify them without the token service.
//!
//! Who may be discovered (SOAP and POX): the user the token acts for, and any mailbox when the
//! partner's linked account holds `UserApplication` (which lets it act as any user anyway) or an
//! `ApplicationImpersonation` assignment whose scope covers it. Any other address is answered as
//! if it had no mailbox, so the answer never tells an out-of-reach mailbox from a missing one.
//!
//! Nothing here forwards a request anywhere: a path is matched whole (ASCII case ignored, as
//! IIS does), and an address is only ever looked up, so `autodiscover.json?@host/…` tricks
//! (ProxyShell) reach nothing but a refusal.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ews_proto::autodiscover::{
    self as ad, AutodiscoverCode, PoxSettings, SettingError, SoapOperation, UserResult,
};
use ews_proto::xml::Limits;

use crate::Exchange;
use crate::auth::Caller;
use crate::ews::{Head, authenticate_http};
use crate::org::{Org, Recipient};

/// Where the v2 lookup's path form starts (lower-cased).
const V2_PATH: &str = "/autodiscover/autodiscover.json";
const V2_PREFIX: &str = "/autodiscover/autodiscover.json/v1.0/";
const SOAP_PATH: &str = "/autodiscover/autodiscover.svc";
const POX_PATH: &str = "/autodiscover/autodiscover.xml";
const METADATA_PATH: &str = "/autodiscover/metadata/json/1";

/// The EWS schema versions this server accepts, as `EwsSupportedSchemas` lists them.
const SUPPORTED_SCHEMAS: &str = "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, Exchange2013, Exchange2013_SP1, Exchange2016";
/// The build `ServerVersionInfo` claims (15.1.2507.6), in Autodiscover's notation.
const CAS_VERSION: &str = "15.01.2507.006";

/// Settings MS-OXWSADISC defines that this server has no value for: asked for, they get
/// `SettingIsNotAvailable` (clients pass over it), where an unknown name gets `InvalidSetting`.
const KNOWN_UNAVAILABLE: &[&str] = &[
    "UserDeploymentId",
    "InternalRpcClientServer",
    "InternalMailboxServerDN",
    "InternalEcpUrl",
    "InternalEcpVoicemailUrl",
    "InternalEcpEmailSubscriptionsUrl",
    "InternalEcpTextMessagingUrl",
    "InternalEcpDeliveryReportUrl",
    "InternalEcpRetentionPolicyTagsUrl",
    "InternalEcpPublishingUrl",
    "InternalOABUrl",
    "InternalUMUrl",
    "InternalWebClientUrls",
    "MailboxDN",
    "PublicFolderServer",
    "ActiveDirectoryServer",
    "ExternalMailboxServerRequiresSSL",
    "ExternalMailboxServerAuthenticationMethods",
    "EcpVoicemailUrlFragment",
    "EcpEmailSubscriptionsUrlFragment",
    "EcpTextMessagingUrlFragment",
    "EcpDeliveryReportUrlFragment",
    "EcpRetentionPolicyTagsUrlFragment",
    "EcpPublishingUrlFragment",
    "ExternalEcpUrl",
    "ExternalEcpVoicemailUrl",
    "ExternalEcpEmailSubscriptionsUrl",
    "ExternalEcpTextMessagingUrl",
    "ExternalEcpDeliveryReportUrl",
    "ExternalEcpRetentionPolicyTagsUrl",
    "ExternalEcpPublishingUrl",
    "ExternalOABUrl",
    "ExternalUMUrl",
    "ExternalWebClientUrls",
    "CrossOrganizationSharingEnabled",
    "AlternateMailboxes",
    "InternalPop3Connections",
    "ExternalPop3Connections",
    "InternalImap4Connections",
    "ExternalImap4Connections",
    "InternalSmtpConnections",
    "ExternalSmtpConnections",
    "InternalServerExclusiveConnect",
    "ExternalServerExclusiveConnect",
    "ExchangeRpcUrl",
    "ShowGalAsDefaultView",
    "InteropExternalEwsUrl",
    "InteropExternalEwsVersion",
    "MobileMailboxPolicyInterop",
    "GroupingInformation",
    "UserMSOnline",
    "MapiHttpEnabled",
];

/// Is this (lower-cased, trailing-slash-trimmed) path one of Autodiscover's?
pub(crate) fn is_autodiscover_path(norm: &str) -> bool {
    norm == SOAP_PATH
        || norm == POX_PATH
        || norm == METADATA_PATH
        || norm == V2_PATH
        || norm.starts_with(V2_PREFIX)
}

/// Serves one request to a path [`is_autodiscover_path`] accepted.
pub(crate) async fn serve(
    ex: Exchange,
    method: Method,
    uri: axum::http::Uri,
    head: Head,
    body: Bytes,
) -> Response {
    let norm = uri.path().to_ascii_lowercase();
    let norm = norm.trim_end_matches('/');
    let post_only = |what: &str| {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            [("allow", "POST")],
            format!("{what} takes POST"),
        )
            .into_response()
    };
    match norm {
        SOAP_PATH if method == Method::POST => soap(ex, head, body).await,
        SOAP_PATH => post_only("SOAP Autodiscover (a GetUserSettings request)"),
        POX_PATH if method == Method::POST => pox(ex, head, body).await,
        POX_PATH => post_only("POX Autodiscover (an Autodiscover/Request document)"),
        METADATA_PATH if method == Method::GET || method == Method::HEAD => metadata(&ex).await,
        METADATA_PATH => (
            StatusCode::METHOD_NOT_ALLOWED,
            [("allow", "GET")],
            "the auth metadata document takes GET",
        )
            .into_response(),
        _ if method == Method::GET || method == Method::HEAD => v2(&ex, &uri).await,
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            [("allow", "GET")],
            "the Autodiscover v2 lookup takes GET",
        )
            .into_response(),
    }
}

fn xml(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [("content-type", "text/xml; charset=utf-8")], body).into_response()
}

fn too_large(len: usize) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the Autodiscover request is {len} bytes; at most {} are read",
            ad::MAX_REQUEST_BYTES
        ),
    )
        .into_response()
}

fn limits() -> Limits {
    Limits {
        max_input_bytes: ad::MAX_REQUEST_BYTES,
        ..Limits::default()
    }
}

/// The EWS virtual directory's name, as Exchange names the default one.
const VDIR_NAME: &str = "EWS (Default Web Site)";
const INTERNAL_URL_KEY: &str = "ews.internal_url";
const EXTERNAL_URL_KEY: &str = "ews.external_url";

/// The EWS URL this server is reached at (`public_url`): what Autodiscover announces until
/// `Set-WebServicesVirtualDirectory` says otherwise.
fn default_ews_url(ex: &Exchange) -> String {
    format!(
        "{}/EWS/Exchange.asmx",
        ex.inner.cfg.public_url.trim_end_matches('/')
    )
}

/// The EWS URLs Autodiscover announces: the virtual directory's `InternalUrl` and `ExternalUrl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EwsUrls {
    pub internal: String,
    pub external: String,
}

fn read_ews_urls(
    c: &store::rusqlite::Connection,
    default: &str,
) -> Result<EwsUrls, crate::ExchangeError> {
    let internal = crate::org::setting(c, INTERNAL_URL_KEY)?.unwrap_or_else(|| default.to_owned());
    // an unset ExternalUrl falls back to the internal one, so that one URL set serves both
    let external = crate::org::setting(c, EXTERNAL_URL_KEY)?.unwrap_or_else(|| internal.clone());
    Ok(EwsUrls { internal, external })
}

/// Checks a virtual directory URL: absolute http(s) with a host, no credentials, query or
/// fragment, and the EWS path. Returns it as given.
fn check_ews_url(param: &str, url: &str) -> Result<String, crate::ExchangeError> {
    let bad = |why: &str| {
        crate::ExchangeError::Invalid(format!(
            "-{param} '{}' {why}; give the full EWS URL, e.g. https://mail.contoso.com/EWS/Exchange.asmx",
            url.chars().take(200).collect::<String>()
        ))
    };
    let u = reqwest::Url::parse(url).map_err(|e| bad(&format!("is not an absolute URL ({e})")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad("is not http or https"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad("carries credentials"));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(bad("has a query or a fragment"));
    }
    if !u.path().eq_ignore_ascii_case("/EWS/Exchange.asmx") {
        return Err(bad("does not end in /EWS/Exchange.asmx"));
    }
    Ok(url.to_owned())
}

impl Exchange {
    /// The EWS URLs Autodiscover announces now.
    pub(crate) async fn ews_urls(&self) -> Result<EwsUrls, crate::ExchangeError> {
        let default = default_ews_url(self);
        let org = self.inner.org.clone();
        org.db.call(move |c| read_ews_urls(c, &default)).await
    }

    /// `Get-WebServicesVirtualDirectory` and `Set-WebServicesVirtualDirectory -InternalUrl
    /// -ExternalUrl` (`$null` or '' puts a URL back to its default).
    pub(crate) async fn web_services_virtual_directory(
        &self,
        cmdlet: &str,
        p: &psh::bind::Params,
    ) -> Result<Vec<serde_json::Value>, crate::ExchangeError> {
        let server = server_host(self);
        let identity = format!("{server}\\{VDIR_NAME}");
        for param in ["Identity", "Server"] {
            if let Some(id) = p.str(param)? {
                let ok = id.eq_ignore_ascii_case(VDIR_NAME)
                    || id.eq_ignore_ascii_case(&identity)
                    || (param == "Server" && id.eq_ignore_ascii_case(&server));
                if !ok {
                    return Err(crate::ExchangeError::NotFound(format!(
                        "web services virtual directory '{}' (this server has one: '{identity}')",
                        id.chars().take(100).collect::<String>()
                    )));
                }
            }
        }
        let mut changes: Vec<(&'static str, Option<String>)> = Vec::new();
        if cmdlet == "Set-WebServicesVirtualDirectory" {
            for (param, key) in [
                ("InternalUrl", INTERNAL_URL_KEY),
                ("ExternalUrl", EXTERNAL_URL_KEY),
            ] {
                if p.has(param) {
                    let v = p.str(param)?.filter(|v| !v.is_empty() && v != "$null");
                    changes.push((key, v.map(|v| check_ews_url(param, &v)).transpose()?));
                }
            }
            if changes.is_empty() {
                return Err(crate::ExchangeError::Invalid(
                    "Set-WebServicesVirtualDirectory needs -InternalUrl or -ExternalUrl".into(),
                ));
            }
        }
        let default = default_ews_url(self);
        let org = self.inner.org.clone();
        let urls = org
            .db
            .call(move |c| {
                let tx = c.transaction()?;
                for (key, v) in &changes {
                    match v {
                        Some(v) => crate::org::set_setting(&tx, key, v)?,
                        None => {
                            tx.execute("DELETE FROM settings WHERE k = ?1", [key])?;
                        }
                    }
                }
                let urls = read_ews_urls(&tx, &default)?;
                tx.commit()?;
                Ok::<_, crate::ExchangeError>(urls)
            })
            .await?;
        Ok(vec![serde_json::json!({
            "Name": VDIR_NAME,
            "Identity": identity,
            "Server": server,
            "InternalUrl": urls.internal,
            "ExternalUrl": urls.external,
        })])
    }
}

/// The server's host name, as `Server` and `*MailboxServer` name it.
fn server_host(ex: &Exchange) -> String {
    ex.inner
        .cfg
        .hosts
        .first()
        .cloned()
        .unwrap_or_else(|| ex.inner.cfg.org_domain.clone())
}

/// The user's legacy distinguished name (`UserDN`, POX `LegacyDN`).
fn legacy_dn(r: &Recipient) -> String {
    format!(
        "/o=OpenHybrid/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={}",
        r.alias
    )
}

/// May this caller discover this mailbox? (See the module's comment.)
fn may_discover(caller: &Caller, r: &Recipient) -> bool {
    caller.user.as_ref().is_some_and(|u| u.guid == r.guid)
        || caller.has_role("UserApplication")
        || caller.impersonation_scopes.iter().any(|s| match s {
            None => true,
            Some(f) => crate::scope::Filter::parse(f).is_ok_and(|f| f.matches(r)),
        })
}

/// The mailbox an address names, for this caller: `Err` with the code and message to answer.
fn find_user(
    c: &store::rusqlite::Connection,
    org: &Org,
    caller: &Caller,
    address: &str,
) -> Result<Recipient, (AutodiscoverCode, String)> {
    let shown: String = address.chars().take(100).collect();
    if !crate::org::valid_smtp(address) {
        return Err((
            AutodiscoverCode::InvalidUser,
            format!("'{shown}' is not an SMTP address; send the mailbox's primary SMTP address"),
        ));
    }
    let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let internal = |e: crate::ExchangeError| (AutodiscoverCode::InternalServerError, e.to_string());
    if !Org::is_accepted_domain(c, domain).map_err(internal)? {
        return Err((
            AutodiscoverCode::InvalidDomain,
            format!(
                "{} is not an accepted domain of this organization (Get-AcceptedDomain lists them)",
                domain.chars().take(100).collect::<String>()
            ),
        ));
    }
    // any SMTP address of the mailbox; the answer names its primary (AutoDiscoverSMTPAddress)
    match org.mailbox_by_smtp(c, address).map_err(internal)? {
        Some(r) if !r.account_disabled && may_discover(caller, &r) => Ok(r),
        _ => Err((
            AutodiscoverCode::InvalidUser,
            format!("No mailbox with address {shown} was found."),
        )),
    }
}

/// One setting's value for a found user.
fn setting(
    ex: &Exchange,
    urls: &EwsUrls,
    r: &Recipient,
    name: &str,
) -> Result<String, SettingError> {
    let smtp = || r.primary_smtp_address.clone().unwrap_or_default();
    Ok(match name {
        "UserDisplayName" => r.name.clone(),
        "UserDN" => legacy_dn(r),
        "AutoDiscoverSMTPAddress" => smtp(),
        "InternalEwsUrl" => urls.internal.clone(),
        "ExternalEwsUrl" => urls.external.clone(),
        "EwsSupportedSchemas" => SUPPORTED_SCHEMAS.to_owned(),
        "CasVersion" | "ExternalEwsVersion" => CAS_VERSION.to_owned(),
        "InternalMailboxServer" | "ExternalMailboxServer" => server_host(ex),
        known if KNOWN_UNAVAILABLE.contains(&known) => {
            return Err(SettingError {
                name: known.to_owned(),
                code: AutodiscoverCode::SettingIsNotAvailable,
                message: format!("This server has no value for {known}."),
            });
        }
        other => {
            return Err(SettingError {
                name: other.chars().take(100).collect(),
                code: AutodiscoverCode::InvalidSetting,
                message: "The requested setting is not a known Autodiscover user setting."
                    .to_owned(),
            });
        }
    })
}

async fn soap(ex: Exchange, head: Head, body: Bytes) -> Response {
    if body.len() > ad::MAX_REQUEST_BYTES {
        return too_large(body.len());
    }
    let auth = match authenticate_http(&ex, &head).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let parsed = ad::parse_soap_request(&body, &limits());
    let op = match &parsed {
        Ok(r) => match r.operation {
            SoapOperation::GetUserSettings { .. } => "Autodiscover GetUserSettings",
        },
        Err(_) => "Autodiscover (unparsed)",
    };
    let caller = match auth.caller_or_refuse(&ex, op) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let verdict = match &parsed {
        Ok(_) => "ok".into(),
        Err(e) => format!("fault: {e}").into(),
    };
    ex.inner
        .traffic
        .record(auth.record(&ex, op, verdict, Some(&caller)));
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return xml(StatusCode::INTERNAL_SERVER_ERROR, ad::soap_fault(&e)),
    };
    let SoapOperation::GetUserSettings { users, settings } = req.operation;
    let org = ex.inner.org.clone();
    let db = org.db.clone();
    let who = Arc::clone(&caller);
    let default = default_ews_url(&ex);
    // the users and the announced URLs in one call on the directory
    let found = db
        .call(move |c| {
            let found: Vec<_> = users.iter().map(|u| find_user(c, &org, &who, u)).collect();
            Ok::<_, crate::ExchangeError>((found, read_ews_urls(c, &default)?))
        })
        .await;
    let (found, urls) = match found {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "Autodiscover lookup failed");
            return xml(
                StatusCode::OK,
                ad::get_user_settings_error(
                    AutodiscoverCode::InternalServerError,
                    "the directory could not be read; try again",
                ),
            );
        }
    };
    let results: Vec<UserResult> = found
        .into_iter()
        .map(|f| match f {
            Ok(r) => {
                let mut values = Vec::new();
                let mut errors = Vec::new();
                for name in &settings {
                    match setting(&ex, &urls, &r, name) {
                        Ok(v) => values.push((name.clone(), v)),
                        Err(e) => errors.push(e),
                    }
                }
                UserResult::Found {
                    settings: values,
                    errors,
                }
            }
            Err((code, message)) => UserResult::Failed { code, message },
        })
        .collect();
    xml(StatusCode::OK, ad::get_user_settings_response(&results))
}

async fn pox(ex: Exchange, head: Head, body: Bytes) -> Response {
    const OP: &str = "Autodiscover (POX)";
    if body.len() > ad::MAX_REQUEST_BYTES {
        return too_large(body.len());
    }
    let auth = match authenticate_http(&ex, &head).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let caller = match auth.caller_or_refuse(&ex, OP) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let now = ex.inner.cfg.clock.now();
    let time = format!(
        "{:02}:{:02}:{:02}.{:07}",
        now.hour(),
        now.minute(),
        now.second(),
        now.nanosecond() / 100
    );
    let id = now.unix_timestamp().to_string();
    let answer = |code: u16, message: &str, verdict: String| {
        ex.inner
            .traffic
            .record(auth.record(&ex, OP, verdict.into(), Some(&caller)));
        xml(StatusCode::OK, ad::pox_error(code, message, &time, &id))
    };
    let req = match ad::parse_pox_request(&body, &limits()) {
        Ok(r) => r,
        Err(e) => {
            let message = format!("Invalid Request: {e}");
            return answer(600, &message, format!("fault: {e}"));
        }
    };
    if req.acceptable_response_schema != ews_proto::ns::POX_OUTLOOK_RESPONSE {
        let message = format!(
            "Provider is not available: this server answers AcceptableResponseSchema {} only",
            ews_proto::ns::POX_OUTLOOK_RESPONSE
        );
        return answer(601, &message, "refused: response schema".into());
    }
    let org = ex.inner.org.clone();
    let db = org.db.clone();
    let who = Arc::clone(&caller);
    let email = req.email.clone();
    let default = default_ews_url(&ex);
    let found = db
        .call(move |c| {
            let user = find_user(c, &org, &who, &email);
            Ok::<_, crate::ExchangeError>((user, read_ews_urls(c, &default)?))
        })
        .await;
    let (r, urls) = match found {
        Ok((Ok(r), urls)) => (r, urls),
        Ok((Err((code, why)), _)) => {
            return answer(
                500,
                "The email address can't be found.",
                format!("{}: {why}", code.as_str()),
            );
        }
        Err(e) => return answer(500, "The directory could not be read.", e.to_string()),
    };
    ex.inner
        .traffic
        .record(auth.record(&ex, OP, "ok".into(), Some(&caller)));
    xml(
        StatusCode::OK,
        ad::pox_response(&PoxSettings {
            display_name: r.name.clone(),
            legacy_dn: legacy_dn(&r),
            smtp: r.primary_smtp_address.clone().unwrap_or_default(),
            server: server_host(&ex),
            internal_ews_url: urls.internal,
            external_ews_url: urls.external,
        }),
    )
}

/// Exchange's auth metadata document, in the token service's (ACS) shape.
async fn metadata(ex: &Exchange) -> Response {
    use s2s_proto::principal::EXCHANGE_APP_ID;
    use s2s_proto::wire::{AcsMetadata, KeyInfo, KeyValue, MetadataEndpoint, MetadataKey};
    let Some(realm) = ex.snapshot().realm.clone() else {
        return v2_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "NoRealm",
            "Exchange has no realm yet, so it signs no tokens: run New-AuthServer -Name ACS -AuthMetadataUrl <token service metadata URL> (or Set-AuthConfig -Realm <realm>)".into(),
        );
    };
    let org = ex.inner.org.clone();
    let certs = org
        .db
        .call(|c| -> Result<Vec<Vec<u8>>, crate::ExchangeError> {
            let cfg = crate::trust::get_auth_config(c)?;
            let mut out = Vec::new();
            for t in [
                cfg.current_certificate_thumbprint,
                cfg.next_certificate_thumbprint,
            ]
            .into_iter()
            .flatten()
            {
                out.push(crate::trust::certificate_der(c, &t)?);
            }
            Ok(out)
        })
        .await;
    let certs = match certs {
        Ok(c) => c,
        Err(e) => {
            return v2_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                e.to_string(),
            );
        }
    };
    let mut keys = Vec::new();
    for der in certs {
        let Ok(cert) = s2s_proto::Certificate::from_der(&der) else {
            continue;
        };
        keys.push(MetadataKey {
            usage: "signing".into(),
            key_value: KeyValue {
                kind: "x509Certificate".into(),
                value: cert.to_base64(),
                key_info: Some(KeyInfo {
                    x5t: cert.x5t.clone(),
                }),
            },
            key_info: None,
        });
    }
    let issuer = format!("{EXCHANGE_APP_ID}@{realm}");
    let doc = AcsMetadata {
        version: "1.0".into(),
        realm: realm.clone(),
        name: Some("Exchange".into()),
        issuer: issuer.clone(),
        allowed_audiences: vec![issuer],
        keys,
        endpoints: vec![MetadataEndpoint {
            location: format!(
                "{}{METADATA_PATH}",
                ex.inner.cfg.public_url.trim_end_matches('/')
            ),
            protocol: "OAuth2".into(),
            usage: "metadata".into(),
        }],
    };
    (StatusCode::OK, axum::Json(doc)).into_response()
}

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (status, axum::Json(value)).into_response()
}

fn v2_error(status: StatusCode, code: &str, message: String) -> Response {
    json(
        status,
        serde_json::json!({ "ErrorCode": code, "ErrorMessage": message }),
    )
}

/// The v2 lookup: `{"Protocol": "EWS", "Url": "…/EWS/Exchange.asmx"}`.
async fn v2(ex: &Exchange, uri: &axum::http::Uri) -> Response {
    let path = uri.path();
    // the address from the path form, percent-decoded; the path's case is kept
    let lower = path.to_ascii_lowercase();
    let from_path = match lower.trim_end_matches('/').strip_prefix(V2_PREFIX) {
        Some(rest) if rest.contains('/') => {
            return (StatusCode::NOT_FOUND, "not found").into_response();
        }
        Some(_) => {
            let raw = &path[V2_PREFIX.len()..].trim_end_matches('/');
            match percent_encoding::percent_decode_str(raw).decode_utf8() {
                Ok(s) => Some(s.into_owned()),
                Err(_) => {
                    return v2_error(
                        StatusCode::BAD_REQUEST,
                        "InvalidEmailAddress",
                        "the address in the path is not UTF-8 once percent-decoded".into(),
                    );
                }
            }
        }
        None => None,
    };
    let mut email = from_path;
    let mut protocol: Option<String> = None;
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if k.eq_ignore_ascii_case("Protocol") {
            protocol = Some(v.into_owned());
        } else if k.eq_ignore_ascii_case("Email") && email.is_none() {
            email = Some(v.into_owned());
        }
    }
    let supported = "AutodiscoverV1,EWS";
    let (name, url) = match protocol.as_deref() {
        Some(p) if p.eq_ignore_ascii_case("EWS") => match ex.ews_urls().await {
            Ok(u) => ("EWS", u.external),
            Err(e) => {
                return v2_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    e.to_string(),
                );
            }
        },
        Some(p) if p.eq_ignore_ascii_case("AutodiscoverV1") => (
            "AutodiscoverV1",
            format!(
                "{}/autodiscover/autodiscover.xml",
                ex.inner.cfg.public_url.trim_end_matches('/')
            ),
        ),
        Some(p) => {
            return v2_error(
                StatusCode::BAD_REQUEST,
                "InvalidProtocol",
                format!(
                    "The given protocol value '{}' is invalid. Supported values are '{supported}'.",
                    p.chars().take(60).collect::<String>()
                ),
            );
        }
        None => {
            return v2_error(
                StatusCode::BAD_REQUEST,
                "InvalidProtocol",
                format!("No protocol was given: add ?Protocol=EWS (supported: '{supported}')."),
            );
        }
    };
    let Some(email) = email.filter(|e| crate::org::valid_smtp(e)) else {
        return v2_error(
            StatusCode::BAD_REQUEST,
            "InvalidEmailAddress",
            "No SMTP address was given: use /autodiscover/autodiscover.json/v1.0/<address>?Protocol=EWS".into(),
        );
    };
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.to_owned())
        .unwrap_or_default();
    let org = ex.inner.org.clone();
    let d = domain.clone();
    let accepted = org.db.call(move |c| Org::is_accepted_domain(c, &d)).await;
    match accepted {
        Ok(true) => json(
            StatusCode::OK,
            serde_json::json!({ "Protocol": name, "Url": url }),
        ),
        Ok(false) => v2_error(
            StatusCode::NOT_FOUND,
            "InvalidDomain",
            format!(
                "{} is not an accepted domain of this organization",
                domain.chars().take(100).collect::<String>()
            ),
        ),
        Err(e) => v2_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            e.to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(alias: &str) -> Recipient {
        Recipient {
            identity: alias.into(),
            name: alias.into(),
            alias: alias.into(),
            recipient_type: "UserMailbox".into(),
            recipient_type_details: "UserMailbox".into(),
            primary_smtp_address: Some(format!("{alias}@contoso.example")),
            external_email_address: None,
            user_principal_name: None,
            sip_address: None,
            hidden_from_address_lists_enabled: false,
            account_disabled: false,
            guid: format!("guid-{alias}"),
            exchange_guid: format!("xguid-{alias}"),
            sid: format!("s-1-5-21-{alias}"),
            netid: None,
            when_created: String::new(),
            email_addresses: vec![],
            group_type: None,
            mail_tip: None,
        }
    }

    fn caller(user: Option<&str>, roles: &[&str], scopes: Vec<Option<String>>) -> Caller {
        Caller {
            partner: "p".into(),
            app: "a".into(),
            app_limit_key: "app:a".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            impersonation_scopes: scopes,
            user: user.map(mailbox),
            user_smtp: None,
            token: None,
            record_claims: Arc::new(serde_json::value::RawValue::NULL.to_owned()),
        }
    }

    #[test]
    fn who_may_discover_whom() {
        let (alice, bob) = (mailbox("alice"), mailbox("bob"));
        let scoped = || Some("PrimarySmtpAddress -eq 'bob@contoso.example'".to_owned());
        // (caller, target, may discover)
        let cases = [
            (
                "the token's own user",
                caller(Some("alice"), &[], vec![]),
                &alice,
                true,
            ),
            (
                "another user, no role",
                caller(Some("alice"), &["ArchiveApplication"], vec![]),
                &bob,
                false,
            ),
            (
                "another user, UserApplication",
                caller(Some("alice"), &["UserApplication"], vec![]),
                &bob,
                true,
            ),
            (
                "app-only, no role",
                caller(None, &[], vec![]),
                &alice,
                false,
            ),
            (
                "impersonation, whole org",
                caller(None, &[], vec![None]),
                &alice,
                true,
            ),
            (
                "impersonation, in scope",
                caller(None, &[], vec![scoped()]),
                &bob,
                true,
            ),
            (
                "impersonation, out of scope",
                caller(None, &[], vec![scoped()]),
                &alice,
                false,
            ),
        ];
        for (what, c, target, want) in cases {
            assert_eq!(may_discover(&c, target), want, "{what}");
        }
    }

    #[test]
    fn settings_known_unavailable_and_unknown() {
        let r = mailbox("alice");
        assert_eq!(legacy_dn(&r).rsplit('=').next(), Some("alice"));
        for name in KNOWN_UNAVAILABLE {
            assert!(
                !matches!(
                    *name,
                    "UserDisplayName" | "ExternalEwsUrl" | "InternalEwsUrl"
                ),
                "{name} has a value, so it is not unavailable"
            );
        }
        assert!(is_autodiscover_path("/autodiscover/autodiscover.svc"));
        assert!(is_autodiscover_path(
            "/autodiscover/autodiscover.json/v1.0/a@b.example"
        ));
        assert!(!is_autodiscover_path("/autodiscover/autodiscover.json.bak"));
        assert!(!is_autodiscover_path("/autodiscover/powershell"));
    }
}
