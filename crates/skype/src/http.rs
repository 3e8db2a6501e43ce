//! HTTP routes.
//!
//! | Route | Auth | What |
//! |---|---|---|
//! | `GET /healthz` | none | liveness |
//! | `POST /admin/powershell`, `GET /admin/cmdlets` | admin credential | cmdlets |
//! | `POST|GET|DELETE /users/{sip}/greetings/{standard\|extended-absence}` | admin credential | Verify 1 |
//! | `POST /conversations/end` | admin credential | Verify 2 and 3 (202, queued) |
//! | `GET /users/{sip}/history` | admin credential | Conversation History from Exchange |
//! | `GET /users/{sip}/presence` | admin credential | presence, subscription, recent callbacks |
//! | `POST /ews/notifications/{key}` | Exchange's F2 token | push notifications |
//!
//! The user-facing routes stand for Skype's own front ends (clients are authenticated there), so
//! they take the service's admin credential too.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::Skype;
use crate::db;
use crate::error::SkypeError;
use crate::features::conversation::{ConversationEnd, MAX_BODY_BYTES};
use crate::features::greeting::GreetingKind;
use crate::features::normalize_sip;
use crate::presence::MAX_NOTIFICATION_BYTES;
use crate::wav::MAX_GREETING_BYTES;

pub fn router(s: Skype) -> axum::Router {
    let admin = axum::Router::new()
        .route("/admin/powershell", post(powershell))
        .route("/admin/cmdlets", get(cmdlets))
        .route("/conversations/end", post(conversation_end))
        .route("/users/{sip}/history", get(history))
        .route("/users/{sip}/presence", get(presence))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(store::net::loopback_only));
    let greetings = axum::Router::new()
        .route(
            "/users/{sip}/greetings/{kind}",
            post(put_greeting).get(get_greeting).delete(delete_greeting),
        )
        .layer(DefaultBodyLimit::max(MAX_GREETING_BYTES + 64 * 1024))
        .layer(axum::middleware::from_fn(store::net::loopback_only));
    let notifications = axum::Router::new()
        .route("/ews/notifications/{key}", post(notification))
        .layer(DefaultBodyLimit::max(MAX_NOTIFICATION_BYTES));
    axum::Router::new()
        .merge(admin)
        .merge(greetings)
        .merge(notifications)
        .route("/healthz", get(|| async { "ok" }))
        .with_state(s)
}

fn error(e: &SkypeError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        Json(json!({"error": {"category": e.category(), "message": e.to_string()}})),
    )
        .into_response()
}

fn check_admin(s: &Skype, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .unwrap_or("");
    let ok: bool = presented
        .as_bytes()
        .ct_eq(s.admin_credential().as_bytes())
        .into();
    if ok && !presented.is_empty() {
        Ok(())
    } else {
        Err(Box::new(error(&SkypeError::Unauthorized)))
    }
}

macro_rules! admin {
    ($s:expr, $h:expr) => {
        if let Err(r) = check_admin(&$s, &$h) {
            return *r;
        }
    };
}

#[derive(serde::Deserialize)]
struct Invocation {
    cmdlet: String,
    #[serde(default)]
    parameters: serde_json::Map<String, Value>,
}

async fn powershell(State(s): State<Skype>, headers: HeaderMap, body: Bytes) -> Response {
    admin!(s, headers);
    let inv: Invocation = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            return error(&SkypeError::Invalid(format!(
                "the body must be {{\"cmdlet\": \"Name\", \"parameters\": {{...}}}}: {e}"
            )));
        }
    };
    match s.run_cmdlet(&inv.cmdlet, inv.parameters).await {
        Ok(v) => Json(json!({ "output": v })).into_response(),
        Err(e) => error(&e),
    }
}

async fn cmdlets(State(s): State<Skype>, headers: HeaderMap) -> Response {
    admin!(s, headers);
    let list: Vec<Value> = crate::admin::CMDLETS
        .iter()
        .map(|(n, p)| json!({"Name": n, "Parameters": p}))
        .collect();
    Json(json!({ "output": list })).into_response()
}

async fn put_greeting(
    State(s): State<Skype>,
    headers: HeaderMap,
    Path((sip, kind)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    admin!(s, headers);
    let kind = match GreetingKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return error(&e),
    };
    match s.put_greeting(&sip, kind, &body).await {
        Ok(v) => (StatusCode::OK, Json(v)).into_response(),
        Err(e) => error(&e),
    }
}

async fn get_greeting(
    State(s): State<Skype>,
    headers: HeaderMap,
    Path((sip, kind)): Path<(String, String)>,
) -> Response {
    admin!(s, headers);
    let kind = match GreetingKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return error(&e),
    };
    match s.get_greeting(&sip, kind).await {
        Ok(bytes) => {
            let mut h = HeaderMap::new();
            h.insert("content-type", HeaderValue::from_static("audio/wav"));
            (StatusCode::OK, h, bytes).into_response()
        }
        Err(e) => error(&e),
    }
}

async fn delete_greeting(
    State(s): State<Skype>,
    headers: HeaderMap,
    Path((sip, kind)): Path<(String, String)>,
) -> Response {
    admin!(s, headers);
    let kind = match GreetingKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return error(&e),
    };
    match s.delete_greeting(&sip, kind).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(&e),
    }
}

async fn conversation_end(State(s): State<Skype>, headers: HeaderMap, body: Bytes) -> Response {
    admin!(s, headers);
    let c: ConversationEnd = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            return error(&SkypeError::Invalid(format!(
                "the body is not a conversation: {e}"
            )));
        }
    };
    match s.end_conversation(c).await {
        Ok(v) => (StatusCode::ACCEPTED, Json(v)).into_response(),
        Err(e) => error(&e),
    }
}

async fn history(State(s): State<Skype>, headers: HeaderMap, Path(sip): Path<String>) -> Response {
    admin!(s, headers);
    match s.history(&sip).await {
        Ok(v) => Json(json!({ "items": v })).into_response(),
        Err(e) => error(&e),
    }
}

async fn presence(State(s): State<Skype>, headers: HeaderMap, Path(sip): Path<String>) -> Response {
    admin!(s, headers);
    let r = async {
        let u = s.user(&sip).await?;
        let sip = normalize_sip(&sip)?;
        let (sub, events) = s
            .inner
            .db
            .call(move |c| -> Result<_, SkypeError> {
                Ok((
                    db::subscription_of(c, &sip)?,
                    db::presence_events(c, Some(&sip), 20)?,
                ))
            })
            .await?;
        Ok::<_, SkypeError>(json!({
            "SipAddress": format!("sip:{}", u.sip_address),
            "Presence": u.presence,
            "PresenceChanged": crate::db::when::text(u.presence_changed),
            "Note": u.presence_note,
            "Subscription": sub,
            "RecentEvents": events,
        }))
    }
    .await;
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => error(&e),
    }
}

async fn notification(
    State(s): State<Skype>,
    headers: HeaderMap,
    Path(key): Path<String>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    body: Bytes,
) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    let peer = peer.map(|axum::Extension(c)| c.0.ip());
    let r = s.handle_notification(&key, auth, &body, peer).await;
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut h = HeaderMap::new();
    match &r.reason {
        Some(reason) => {
            h.insert(
                "content-type",
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            let diag: String = format!(
                "2000003;reason=\"{}\"",
                reason.replace(['"', '\r', '\n'], "'")
            )
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control())
            .take(2000)
            .collect();
            if let Ok(v) = HeaderValue::from_str(&diag) {
                h.insert("x-ms-diagnostics", v);
            }
            if status == StatusCode::UNAUTHORIZED {
                h.insert(
                    "www-authenticate",
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
        }
        None => {
            h.insert(
                "content-type",
                HeaderValue::from_static("text/xml; charset=utf-8"),
            );
        }
    }
    (status, h, r.body).into_response()
}
