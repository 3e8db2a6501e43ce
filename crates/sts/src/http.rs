//! The HTTP edge: routes, bounded body reading, admin authentication. Handlers only translate
//! between HTTP and the service's operations; every failure is a [`StsError`], rendered by
//! [`crate::error::render_errors`].

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::de::DeserializeOwned;

use crate::Sts;
use crate::error::{StsError, clip, render_errors};
use crate::graph::{parse_filter, parse_select, project};
use crate::model::{
    FirstPartyCertificateUpload, GraphAddKey, GraphList, GraphServicePrincipalPatch, NewCredential,
    NewDomain, NewServicePrincipal, NewTenant, SetServicePrincipal,
};
use crate::secret::ct_eq;
use crate::token::Form;

/// Largest form body (token endpoint).
pub(crate) const MAX_FORM_BYTES: usize = 64 * 1024;
/// Largest admin JSON body.
pub(crate) const MAX_JSON_BYTES: usize = 1024 * 1024;
/// Longest query string looked at.
const MAX_QUERY_BYTES: usize = 8 * 1024;

type Result<T> = std::result::Result<T, StsError>;

pub(crate) fn router(sts: Sts) -> Router {
    let public = Router::new()
        .route("/healthz", get(healthz))
        .route("/clock", get(clock))
        .route("/metadata/json/1", get(metadata_by_query))
        .route("/{realm}/metadata/json/1", get(metadata))
        .route("/{realm}/tokens/OAuth/2", post(token))
        .route("/{realm}/tokens/delegation/1", any(delegation_issuance))
        .route("/{realm}/mgmt/delegation/1", any(delegation_management))
        .route("/{realm}/firstparty/{app_id}/verify-keys", get(verify_keys));
    let admin = Router::new()
        .route("/admin/tenants", get(list_tenants).post(create_tenant))
        .route("/admin/tenants/{realm}", get(get_tenant))
        .route("/admin/tenants/{realm}/domains", post(add_domain))
        .route(
            "/admin/tenants/{realm}/signing-keys/rollover",
            post(roll_signing_key),
        )
        .route(
            "/admin/first-party/{app_id}/certificates",
            get(list_first_party).post(provision_first_party),
        )
        .route(
            "/{realm}/msol/servicePrincipals",
            get(get_service_principals).post(new_service_principal),
        )
        .route(
            "/{realm}/msol/servicePrincipals/{app_id}",
            axum::routing::patch(set_service_principal).delete(remove_service_principal),
        )
        .route(
            "/{realm}/msol/servicePrincipals/{app_id}/credentials",
            get(get_credentials).post(new_credential),
        )
        .route(
            "/{realm}/msol/servicePrincipals/{app_id}/credentials/{key_id}",
            axum::routing::delete(remove_credential),
        )
        .route("/v1.0/{realm}/servicePrincipals", get(graph_list))
        .route(
            "/v1.0/{realm}/servicePrincipals/{id}",
            get(graph_get).patch(graph_patch),
        )
        .route(
            "/v1.0/{realm}/servicePrincipals/{id}/addKey",
            post(graph_add_key),
        )
        .route_layer(middleware::from_fn_with_state(sts.clone(), require_admin))
        .route_layer(middleware::from_fn(store::net::loopback_only));
    public
        .merge(admin)
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(sts.clone(), render_errors))
        .with_state(sts)
}

// ---- extractors and helpers ------------------------------------------------------------------

/// `Path`, with a refusal in the STS's error shape.
pub(crate) struct P<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for P<T> {
    type Rejection = StsError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| P(t))
            .map_err(|e| StsError::InvalidParameter {
                name: "path",
                reason: clip(&e.body_text(), 200),
            })
    }
}

/// Reads at most `limit` bytes of body.
async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large =
            std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                e.source()
            })
            .any(|e| e.is::<http_body_util::LengthLimitError>());
        if too_large {
            StsError::BodyTooLarge { limit }
        } else {
            StsError::MalformedForm("the body could not be read".into())
        }
    })
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    headers.get(header::CONTENT_TYPE).map(|v| {
        v.to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    })
}

async fn form_body(headers: &HeaderMap, body: Body) -> Result<Form> {
    if let Some(mt) = media_type(headers)
        && mt != "application/x-www-form-urlencoded"
    {
        return Err(StsError::UnsupportedMediaType {
            expected: "application/x-www-form-urlencoded",
            found: clip(&mt, 80),
        });
    }
    Form::parse(&read_body(body, MAX_FORM_BYTES).await?)
}

async fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T> {
    if let Some(mt) = media_type(headers)
        && mt != "application/json"
        && !mt.ends_with("+json")
    {
        return Err(StsError::UnsupportedMediaType {
            expected: "application/json",
            found: clip(&mt, 80),
        });
    }
    let bytes = read_body(body, MAX_JSON_BYTES).await?;
    serde_json::from_slice(&bytes).map_err(|e| StsError::MalformedJson(clip(&e.to_string(), 200)))
}

/// The query string's parameters; names compare ignoring ASCII case (as PowerShell's do).
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<String>) -> Result<Query> {
        let raw = raw.unwrap_or_default();
        if raw.len() > MAX_QUERY_BYTES {
            return Err(StsError::MalformedQuery(format!(
                "the query string is longer than {MAX_QUERY_BYTES} bytes"
            )));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&raw)
            .map_err(|e| StsError::MalformedQuery(clip(&e.to_string(), 200)))?;
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(p, _)| p.eq_ignore_ascii_case(k)) {
                return Err(StsError::DuplicateParameter(clip(k, 60)));
            }
        }
        Ok(Query(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Refuses parameters other than `known`.
    fn only(&self, known: &[&str]) -> Result<()> {
        match self
            .0
            .iter()
            .find(|(k, _)| !known.iter().any(|n| n.eq_ignore_ascii_case(k)))
        {
            Some((k, _)) => Err(StsError::UnsupportedQuery(format!(
                "the query parameter {:?} is not supported here; known: {}",
                clip(k, 60),
                known.join(", ")
            ))),
            None => Ok(()),
        }
    }
}

fn switch(name: &'static str, v: Option<&str>) -> Result<bool> {
    match v.map(|s| s.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(s) => match s.as_str() {
            "" | "true" | "1" | "$true" => Ok(true),
            "false" | "0" | "$false" => Ok(false),
            _ => Err(StsError::InvalidParameter {
                name,
                reason: format!("{:?} is not true or false", clip(&s, 20)),
            }),
        },
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty()).then_some(token)
}

async fn require_admin(State(sts): State<Sts>, req: Request, next: Next) -> Response {
    match bearer(req.headers()) {
        None => StsError::AdminCredentialMissing.into_response(),
        Some(t) if !ct_eq(t.as_bytes(), sts.admin_credential().as_bytes()) => {
            StsError::AdminCredentialWrong.into_response()
        }
        Some(_) => next.run(req).await,
    }
}

fn no_store(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

// ---- public ------------------------------------------------------------------------------------

async fn healthz() -> &'static str {
    "ok"
}

/// The service's clock, so `openhybrid doctor` can compare clocks across the parties.
async fn clock(State(sts): State<Sts>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "unix": sts.now() }))
}

async fn metadata(State(sts): State<Sts>, P(realm): P<String>) -> Result<Response> {
    Ok(Json(sts.metadata(&realm).await?).into_response())
}

async fn metadata_by_query(State(sts): State<Sts>, RawQuery(q): RawQuery) -> Result<Response> {
    let q = Query::parse(q)?;
    let realm = q
        .get("realm")
        .filter(|r| !r.is_empty())
        .ok_or(StsError::MissingParameter("realm"))?;
    Ok(Json(sts.metadata(realm).await?).into_response())
}

async fn token(State(sts): State<Sts>, P(realm): P<String>, req: Request) -> Result<Response> {
    // J18: an address whose client authentications keep failing is refused before any work
    let source = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| store::limit::source_key(c.0.ip()))
        .unwrap_or_else(|| "ip:unknown".into());
    let now = sts.now();
    if let Some(retry_after_secs) = sts.limiter().blocked(&source, now) {
        return Err(StsError::Throttled { retry_after_secs });
    }
    let (parts, body) = req.into_parts();
    let form = form_body(&parts.headers, body).await?;
    match sts.issue_token(&realm, &form).await {
        Ok(resp) => Ok(no_store(Json(resp).into_response())),
        Err(e) => {
            if e.is_client_auth_failure() {
                sts.limiter().failure(&source, now);
            }
            Err(e)
        }
    }
}

async fn delegation_issuance() -> StsError {
    StsError::NotImplemented("The delegation issuance endpoint (DelegationIssuance1.0)")
}

async fn delegation_management() -> StsError {
    StsError::NotImplemented("The delegation management endpoint (DelegationManagement1.0)")
}

async fn verify_keys(
    State(sts): State<Sts>,
    P((realm, app_id)): P<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let keys = sts
        .first_party_verify_keys(&realm, &app_id, bearer(&headers))
        .await?;
    Ok(no_store(Json(keys).into_response()))
}

async fn route_not_found(method: Method, uri: Uri) -> StsError {
    StsError::RouteNotFound {
        method: method.to_string(),
        path: clip(uri.path(), 200),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> StsError {
    StsError::MethodNotAllowed {
        method: method.to_string(),
        path: clip(uri.path(), 200),
    }
}

// ---- admin: tenants and the first-party registry -----------------------------------------------

async fn list_tenants(State(sts): State<Sts>) -> Result<Response> {
    Ok(Json(sts.tenants().await?).into_response())
}

async fn create_tenant(State(sts): State<Sts>, headers: HeaderMap, body: Body) -> Result<Response> {
    let req: NewTenant = json_body(&headers, body).await?;
    let t = sts.create_tenant(&req.domain, req.realm.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

async fn get_tenant(State(sts): State<Sts>, P(realm): P<String>) -> Result<Response> {
    Ok(Json(sts.tenant(&realm).await?).into_response())
}

async fn add_domain(
    State(sts): State<Sts>,
    P(realm): P<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let req: NewDomain = json_body(&headers, body).await?;
    Ok(Json(sts.add_domain(&realm, &req.domain).await?).into_response())
}

async fn roll_signing_key(State(sts): State<Sts>, P(realm): P<String>) -> Result<Response> {
    Ok(Json(sts.roll_signing_key(&realm).await?).into_response())
}

async fn provision_first_party(
    State(sts): State<Sts>,
    P(app_id): P<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let req: FirstPartyCertificateUpload = json_body(&headers, body).await?;
    let cert = s2s_proto::Certificate::from_base64(&req.certificate).map_err(|source| {
        StsError::InvalidCertificate {
            param: "certificate",
            source,
        }
    })?;
    let out = sts.provision_first_party(&app_id, &cert).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn list_first_party(State(sts): State<Sts>, P(app_id): P<String>) -> Result<Response> {
    Ok(Json(sts.first_party_certificates(&app_id).await?).into_response())
}

// ---- admin: MSOnline ---------------------------------------------------------------------------

async fn get_service_principals(
    State(sts): State<Sts>,
    P(realm): P<String>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let q = Query::parse(q)?;
    q.only(&["AppPrincipalId", "ServicePrincipalName"])?;
    match (q.get("AppPrincipalId"), q.get("ServicePrincipalName")) {
        (Some(_), Some(_)) => Err(StsError::InvalidParameter {
            name: "AppPrincipalId",
            reason: "give AppPrincipalId or ServicePrincipalName, not both".into(),
        }),
        (Some(a), None) => Ok(Json(sts.service_principal(&realm, a).await?).into_response()),
        (None, Some(s)) => Ok(Json(sts.service_principal_by_spn(&realm, s).await?).into_response()),
        (None, None) => Ok(Json(sts.service_principals(&realm).await?).into_response()),
    }
}

async fn new_service_principal(
    State(sts): State<Sts>,
    P(realm): P<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let req: NewServicePrincipal = json_body(&headers, body).await?;
    let sp = sts.new_service_principal(&realm, req).await?;
    Ok((StatusCode::CREATED, Json(sp)).into_response())
}

async fn set_service_principal(
    State(sts): State<Sts>,
    P((realm, app_id)): P<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let req: SetServicePrincipal = json_body(&headers, body).await?;
    Ok(Json(sts.set_service_principal(&realm, &app_id, req).await?).into_response())
}

async fn remove_service_principal(
    State(sts): State<Sts>,
    P((realm, app_id)): P<(String, String)>,
) -> Result<Response> {
    sts.remove_service_principal(&realm, &app_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn new_credential(
    State(sts): State<Sts>,
    P((realm, app_id)): P<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let req: NewCredential = json_body(&headers, body).await?;
    let (row, created) = sts.new_credential(&realm, &app_id, req).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(row)).into_response())
}

async fn get_credentials(
    State(sts): State<Sts>,
    P((realm, app_id)): P<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let q = Query::parse(q)?;
    q.only(&["ReturnKeyValues"])?;
    let with_values = switch("ReturnKeyValues", q.get("ReturnKeyValues"))?;
    Ok(Json(sts.credentials(&realm, &app_id, with_values).await?).into_response())
}

async fn remove_credential(
    State(sts): State<Sts>,
    P((realm, app_id, key_id)): P<(String, String, String)>,
) -> Result<Response> {
    sts.remove_credential(&realm, &app_id, &key_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- admin: Graph ------------------------------------------------------------------------------

async fn graph_list(
    State(sts): State<Sts>,
    P(realm): P<String>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let q = Query::parse(q)?;
    q.only(&["$filter", "$select"])?;
    let filter = q.get("$filter").map(parse_filter).transpose()?;
    let select = q
        .get("$select")
        .map(parse_select)
        .transpose()?
        .unwrap_or_default();
    let sps = sts.graph_find_service_principals(&realm, filter).await?;
    let value: Vec<serde_json::Value> = sps.iter().map(|sp| project(sp, &select)).collect();
    Ok(Json(GraphList { value }).into_response())
}

async fn graph_get(
    State(sts): State<Sts>,
    P((realm, id)): P<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let q = Query::parse(q)?;
    q.only(&["$select"])?;
    let select = q
        .get("$select")
        .map(parse_select)
        .transpose()?
        .unwrap_or_default();
    let with_key = select.contains(&"keyCredentials");
    let sp = sts.graph_service_principal(&realm, &id, with_key).await?;
    Ok(Json(project(&sp, &select)).into_response())
}

async fn graph_patch(
    State(sts): State<Sts>,
    P((realm, id)): P<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let req: GraphServicePrincipalPatch = json_body(&headers, body).await?;
    let Some(keys) = req.key_credentials else {
        return Err(StsError::MissingParameter("keyCredentials"));
    };
    sts.graph_replace_key_credentials(&realm, &id, keys).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn graph_add_key(
    State(sts): State<Sts>,
    P((realm, id)): P<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let req: GraphAddKey = json_body(&headers, body).await?;
    Ok(Json(sts.graph_add_key(&realm, &id, req).await?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc "),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn queries() {
        let q = Query::parse(Some("returnkeyvalues=TRUE".into())).unwrap();
        assert!(switch("R", q.get("ReturnKeyValues")).unwrap());
        assert!(q.only(&["ReturnKeyValues"]).is_ok());
        assert!(q.only(&["X"]).is_err());
        assert!(Query::parse(Some("a=1&A=2".into())).is_err());
        assert!(switch("R", Some("maybe")).is_err());
        assert!(!switch("R", None).unwrap());
    }
}
