//! EWS over SOAP 1.1 at `/EWS/Exchange.asmx`: authenticate (spec/security.md §1b), parse with
//! the hardened reader, authorize with the partner's RBAC roles, run against the mailbox store,
//! write the response. Every response carries `ServerVersionInfo`.

use std::borrow::Cow;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ews_proto::request::{
    self, DeleteType, FolderTraversal, ItemTraversal, NewItem as ReqItem, Operation,
};
use ews_proto::response::{self as resp, FolderView, ItemView, ResponseError};
use ews_proto::types::{BodyType, FolderKind, FolderRef, ItemKind, ItemRef, Mailbox};
use mailbox::{FindSpec, FolderSel, MailboxError, MailboxKey, Paging, RecipientEdit};

use crate::Exchange;
use crate::auth::{AuthFailure, Caller};
use crate::traffic::{TrafficRecord, record_raw};

const EWS_PATH: &str = "/ews/exchange.asmx";

pub fn routes() -> axum::Router<Exchange> {
    axum::Router::new()
        .route("/EWS/Exchange.asmx", post(ews))
        .layer(axum::extract::DefaultBodyLimit::max(crate::MAX_EWS_BODY))
}

/// The benchmark-only route (see `Config::bench_noauth_user`).
pub fn bench_routes() -> axum::Router<Exchange> {
    axum::Router::new()
        .route("/bench/noauth/EWS/Exchange.asmx", post(bench_noauth))
        .layer(axum::extract::DefaultBodyLimit::max(crate::MAX_EWS_BODY))
}

/// The baseline of the authentication benchmarks: everything an EWS request costs but its
/// authentication, so the user is resolved once, on the first request, and kept (a lookup per
/// request made the baseline slower than a cached authentication, flattering the ratios).
async fn bench_noauth(State(ex): State<Exchange>, body: Bytes) -> Response {
    let Some(smtp) = ex.inner.cfg.bench_noauth_user.clone() else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    if let Some(caller) = ex.inner.bench_caller.get() {
        return serve_ews(&ex, caller.clone(), &body).await;
    }
    let org = ex.inner.org.clone();
    let db = org.db.clone();
    let user = match db.call(move |c| org.get_recipient(c, &smtp)).await {
        Ok(u) => u,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let caller = Caller {
        partner: "bench".into(),
        app: "bench".into(),
        app_limit_key: "app:bench".into(),
        roles: vec!["UserApplication".into(), "ArchiveApplication".into()],
        impersonation_scopes: vec![],
        user_smtp: user.primary_smtp_address.as_deref().map(Into::into),
        user: Some(user),
        token: None,
        record_claims: std::sync::Arc::new(serde_json::value::RawValue::NULL.to_owned()),
    };
    let caller = ex
        .inner
        .bench_caller
        .get_or_init(|| Arc::new(caller))
        .clone();
    serve_ews(&ex, caller, &body).await
}

/// Paths are matched case-insensitively after normalisation (as IIS does); anything that is not
/// EWS or Autodiscover after that is 404, and no path is ever rewritten or forwarded, so
/// `autodiscover.json?@…/ews` tricks route nowhere.
pub async fn fallback(
    State(ex): State<Exchange>,
    method: Method,
    uri: axum::http::Uri,
    head: Head,
    body: Bytes,
) -> Response {
    let path = uri.path().to_ascii_lowercase();
    let norm = path.trim_end_matches('/');
    if norm == EWS_PATH {
        if method == Method::POST {
            return ews(State(ex), head, body).await;
        }
        // GET/HEAD on EWS: the challenge, for realm discovery
        return ex.challenge(&AuthFailure::NoCredentials);
    }
    if norm == format!("{EWS_PATH}/s/getuserphoto") && method == Method::GET {
        return rest_user_photo(ex, head, &uri).await;
    }
    if crate::autodiscover::is_autodiscover_path(norm) {
        return crate::autodiscover::serve(ex, method, uri, head, body).await;
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}

fn xml(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [("content-type", "text/xml; charset=utf-8")], body).into_response()
}

/// The refusal of a call naming more than [`mailbox::limits::MAX_ITEMS_PER_CALL`] `what`.
fn too_many(n: usize, what: &str) -> Option<ResponseError> {
    let max = mailbox::limits::MAX_ITEMS_PER_CALL;
    (n > max).then(|| {
        err(&MailboxError::InvalidRequest(format!(
            "{n} {what} in one call; at most {max}"
        )))
    })
}

pub(crate) fn err(e: &MailboxError) -> ResponseError {
    ResponseError::new(e.response_code(), &e.to_string())
}

/// What authentication reads of a request: its headers and its peer, taken out of the request
/// where axum's `Parts` and `HeaderMap` extractors would clone them (every header and every
/// extension copied and dropped again, on each request of a cached token). Extract it before the
/// body, which needs neither.
pub struct Head {
    headers: axum::http::HeaderMap,
    peer: Option<std::net::SocketAddr>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Head {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Head {
            headers: std::mem::take(&mut parts.headers),
            peer: parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0),
        })
    }
}

/// A request's authentication, before its operation is known.
pub(crate) struct HttpAuth {
    source: String,
    now: i64,
    scheme: Cow<'static, str>,
    /// The bearer of a refused request (its record and failure budget read it); a request that
    /// authenticated does not copy it.
    bearer: Option<String>,
    caller: Result<Arc<Caller>, AuthFailure>,
}

/// Authenticates a request to an EWS URL: the source's failure budget first (429 before any
/// token work), then the token, then the partner's own budget.
pub(crate) async fn authenticate_http(ex: &Exchange, head: &Head) -> Result<HttpAuth, Response> {
    let source = head
        .peer
        .map(|p| store::limit::source_key(p.ip()))
        .unwrap_or_else(|| "ip:unknown".into());
    let now = ex.inner.cfg.clock.unix();
    if let Some(retry_after_secs) = ex.inner.limiter.blocked(&source, now) {
        return Err(ex.challenge(&AuthFailure::RateLimited { retry_after_secs }));
    }
    let raw = head
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    // A cached token in its usual form is found from the header's bytes as they are: no UTF-8
    // check or parse of a 2.4 KB value (an entry equal to them is an ASCII token that
    // authenticated, so the checks below could only have agreed).
    let cached = raw
        .and_then(|b| b.strip_prefix(b"Bearer "))
        .and_then(|t| ex.cached_caller(t));
    // ASCII is what `HeaderValue::to_str` accepts of a value hyper parsed (it refuses the other
    // control characters), checked a word at a time instead of a byte at a time
    let as_text = || {
        raw.filter(|b| b.is_ascii())
            .and_then(|b| std::str::from_utf8(b).ok())
    };
    let (scheme, caller) = match cached {
        Some(c) => (Cow::Borrowed("Bearer"), Ok(c)),
        None => {
            let auth_header = as_text();
            let scheme = match auth_header.map(|h| h.split(' ').next().unwrap_or("")) {
                // the usual ones without a copy per request
                Some("Bearer") => Cow::Borrowed("Bearer"),
                Some("Basic") => Cow::Borrowed("Basic"),
                Some(other) => Cow::Owned(other.to_owned()),
                None => Cow::Borrowed(""),
            };
            (scheme, ex.authenticate(auth_header).await)
        }
    };
    // A partner whose own (post-validation) failures exhausted its budget is refused once its
    // token is known to be authentic; forgeries naming it never count against it.
    let caller = caller.and_then(|c| match ex.inner.limiter.blocked(&c.app_limit_key, now) {
        Some(retry_after_secs) => Err(AuthFailure::RateLimited { retry_after_secs }),
        None => Ok(c),
    });
    let bearer = match &caller {
        Ok(_) => None,
        Err(_) => as_text()
            .and_then(|h| crate::auth::bearer(Some(h)).ok())
            .map(str::to_owned),
    };
    Ok(HttpAuth {
        source,
        now,
        scheme,
        bearer,
        caller,
    })
}

impl HttpAuth {
    /// The traffic record of this request.
    pub(crate) fn record(
        &self,
        ex: &Exchange,
        operation: &str,
        verdict: Cow<'static, str>,
        caller: Option<&Caller>,
    ) -> TrafficRecord {
        TrafficRecord {
            time: ex.inner.cfg.clock.unix(),
            operation: operation.to_owned(),
            actor: caller
                .map(|c| c.app.clone())
                .or_else(|| self.bearer.as_deref().and_then(actor_of).map(Into::into)),
            user: caller.and_then(|c| c.user_smtp.clone()),
            partner: caller.map(|c| c.partner.clone()),
            verdict,
            scheme: self.scheme.clone(),
            claims: match caller {
                Some(c) => c.record_claims.clone(),
                None => std::sync::Arc::new(
                    self.bearer
                        .as_deref()
                        .map(record_raw)
                        .unwrap_or_else(|| serde_json::value::RawValue::NULL.to_owned()),
                ),
            },
        }
    }

    /// The caller, or the challenge for a refused one (its failure counted and recorded).
    pub(crate) fn caller_or_refuse(
        &self,
        ex: &Exchange,
        operation: &str,
    ) -> Result<Arc<Caller>, Box<Response>> {
        match &self.caller {
            Ok(c) => Ok(Arc::clone(c)),
            Err(f) => {
                if f.is_bad_token() {
                    ex.inner.limiter.failure(&self.source, self.now);
                    // Only failures after the actor's signature held are the partner's own
                    // (user enumeration, wrong roles): an unverified token names whatever actor
                    // it likes.
                    if f.after_validation()
                        && let Some(app) = self.bearer.as_deref().and_then(actor_of)
                    {
                        ex.inner.limiter.failure(&format!("app:{app}"), self.now);
                    }
                }
                tracing::info!(reason = %f, "EWS request refused");
                ex.inner
                    .traffic
                    .record(self.record(ex, operation, f.to_string().into(), None));
                Err(Box::new(ex.challenge(f)))
            }
        }
    }
}

async fn ews(State(ex): State<Exchange>, head: Head, body: Bytes) -> Response {
    let auth = match authenticate_http(&ex, &head).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let parsed = request::parse_request(&body, &ews_proto::xml::Limits::default());
    let op_name = parsed
        .as_ref()
        .map(|r| r.operation.name())
        .unwrap_or("(unparsed)");
    let caller = match auth.caller_or_refuse(&ex, op_name) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let verdict = match &parsed {
        Ok(_) => Cow::Borrowed("ok"),
        Err(e) => Cow::Owned(format!("fault: {e}")),
    };
    ex.inner
        .traffic
        .record(auth.record(&ex, op_name, verdict, Some(&caller)));
    serve_parsed(&ex, caller, parsed, &body).await
}

/// `GET /EWS/Exchange.asmx/s/GetUserPhoto?email=<smtp>&size=HR…`: the REST form of
/// GetUserPhoto (MS-OXWSPHOTO), authenticated like EWS: the image, or 404 when there is none.
async fn rest_user_photo(ex: Exchange, head: Head, uri: &axum::http::Uri) -> Response {
    const OP: &str = "GetUserPhoto (REST)";
    let auth = match authenticate_http(&ex, &head).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let caller = match auth.caller_or_refuse(&ex, OP) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let mut email: Option<String> = None;
    let mut size: Option<String> = None;
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if k.eq_ignore_ascii_case("email") {
            email = Some(v.into_owned());
        } else if k.eq_ignore_ascii_case("size") {
            size = Some(v.into_owned());
        }
    }
    let bad = |why: &str| (StatusCode::BAD_REQUEST, why.to_owned()).into_response();
    let Some(email) = email.filter(|e| e.contains('@') && e.len() <= 320) else {
        return bad(
            "email=<SMTP address> is required, e.g. ?email=alice@contoso.example&size=HR96x96",
        );
    };
    if size
        .as_deref()
        .is_some_and(|s| s.parse::<ews_proto::request::PhotoSize>().is_err())
    {
        return bad(
            "size must be one of HR48x48, HR64x64, HR96x96, HR120x120, HR240x240, HR360x360, HR432x432, HR504x504, HR648x648",
        );
    }
    if !caller.has_role("UserApplication") {
        ex.inner
            .traffic
            .record(auth.record(&ex, OP, "access denied".into(), Some(&caller)));
        return (
            StatusCode::FORBIDDEN,
            format!(
                "the partner application '{}' needs the UserApplication role on its linked account",
                caller.partner
            ),
        )
            .into_response();
    }
    ex.inner
        .traffic
        .record(auth.record(&ex, OP, "ok".into(), Some(&caller)));
    match ex.user_photo(&email).await {
        Ok(Some(bytes)) => {
            let ct = if bytes.starts_with(&[0x89, b'P', b'N', b'G']) {
                "image/png"
            } else {
                "image/jpeg"
            };
            (StatusCode::OK, [("content-type", ct)], bytes).into_response()
        }
        Ok(None) => (StatusCode::NOT_FOUND, format!("{email} has no photo")).into_response(),
        Err(e) => (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    }
}

async fn serve_ews(ex: &Exchange, caller: Arc<Caller>, body: &[u8]) -> Response {
    let parsed = request::parse_request(body, &ews_proto::xml::Limits::default());
    serve_parsed(ex, caller, parsed, body).await
}

async fn serve_parsed(
    ex: &Exchange,
    caller: Arc<Caller>,
    parsed: Result<request::Request, ews_proto::EwsProtoError>,
    body: &[u8],
) -> Response {
    let req = match parsed {
        Ok(r) => r,
        Err(e) => {
            return xml(
                StatusCode::INTERNAL_SERVER_ERROR,
                resp::write_fault_for_error(&e, body),
            );
        }
    };
    // ExchangeImpersonation: only with the ApplicationImpersonation role, and then the request
    // acts on the impersonated user's mailbox (app-only or user-context token alike).
    let user = if let Some(imp) = &req.impersonation {
        if !caller.has_role("ApplicationImpersonation") {
            let e = ResponseError::new(
                "ErrorImpersonateUserDenied",
                "The account does not have permission to impersonate the requested user.",
            );
            return xml(
                StatusCode::OK,
                resp::error_response(req.operation.name(), &e),
            );
        }
        // t:PrimarySmtpAddress is the primary SMTP address only ("Proxy or alternative addresses
        // are not accepted", Microsoft's element reference); t:SmtpAddress is any SMTP address
        // of the account
        let (kind, value) = match imp {
            request::ImpersonatedUser::PrimarySmtpAddress(v) => ("smtp", v.clone()),
            request::ImpersonatedUser::SmtpAddress(v) => ("proxy", v.clone()),
            request::ImpersonatedUser::PrincipalName(v) => ("upn", v.clone()),
            request::ImpersonatedUser::Sid(v) => ("sid", v.clone()),
        };
        let org = ex.inner.org.clone();
        let db = org.db.clone();
        let found = db.call(move |c| match kind {
            "proxy" => org.mailbox_by_smtp(c, &value),
            _ => org.mailbox_by(c, kind, &value),
        });
        match found.await {
            Ok(Some(u)) if !u.account_disabled => {
                let in_scope = caller.impersonation_scopes.iter().any(|s| match s {
                    None => true,
                    Some(f) => crate::scope::Filter::parse(f).is_ok_and(|f| f.matches(&u)),
                });
                if !in_scope {
                    let e = ResponseError::new(
                        "ErrorImpersonateUserDenied",
                        "The account does not have permission to impersonate the requested user: the mailbox is outside the scope of its ApplicationImpersonation role assignment.",
                    );
                    return xml(
                        StatusCode::OK,
                        resp::error_response(req.operation.name(), &e),
                    );
                }
                u
            }
            Ok(_) => {
                let e = ResponseError::new(
                    "ErrorNonExistentMailbox",
                    "The impersonated user has no mailbox in this organization.",
                );
                return xml(
                    StatusCode::OK,
                    resp::error_response(req.operation.name(), &e),
                );
            }
            Err(e) => {
                let e = ResponseError::new("ErrorInternalServerError", &e.to_string());
                return xml(
                    StatusCode::OK,
                    resp::error_response(req.operation.name(), &e),
                );
            }
        }
    } else {
        match caller.user.clone() {
            Some(u) => u,
            None => {
                let e = ResponseError::new(
                    "ErrorAccessDenied",
                    "An app-only token can't act on a mailbox here; send a user context (outer token naming the user) or ExchangeImpersonation with the ApplicationImpersonation role.",
                );
                return xml(
                    StatusCode::OK,
                    resp::error_response(req.operation.name(), &e),
                );
            }
        }
    };
    // a request naming another user's mailbox runs there when the caller is its delegate
    let (user, delegate) = match crate::delegates::delegate_target(ex, &user, &req.operation).await
    {
        Ok(None) => (user, None),
        Ok(Some((owner, access))) => (owner, Some(access)),
        Err(e) => {
            return xml(
                StatusCode::OK,
                resp::error_response(req.operation.name(), &e),
            );
        }
    };
    let key = match MailboxKey::new(user.guid.clone()) {
        Ok(k) => k,
        Err(e) => {
            return xml(
                StatusCode::OK,
                resp::error_response(req.operation.name(), &err(&e)),
            );
        }
    };
    if let Err(e) = ex.ensure_mailbox_once(&key).await {
        return xml(
            StatusCode::OK,
            resp::error_response(req.operation.name(), &err(&e)),
        );
    }
    let h = Handler {
        ex,
        caller: &caller,
        impersonating: req.impersonation.is_some(),
        key,
        smtp: user.primary_smtp_address.clone().unwrap_or_default(),
        display_name: user.name.clone(),
        delegate,
    };
    match req.operation {
        // the one answer that is a stream (crate::streaming)
        Operation::GetStreamingEvents(g) => h.get_streaming_events(g).await,
        // answered with a fault and HTTP 500 when refused as a whole (crate::availability)
        Operation::GetUserAvailability(g) => h.get_user_availability(g).await,
        op => xml(StatusCode::OK, h.run(op).await),
    }
}

/// The application an (unverified) bearer names: the actor's `nameid` for an outer token, the
/// token's own for a signed token sent alone. Never the outer token's `nameid`, which is the
/// user's: an outer token whose actor does not decode names no application.
fn actor_of(token: &str) -> Option<String> {
    let c = s2s_proto::jwt::Compact::parse(token).ok()?;
    let claims = match c.claims.get("actortoken") {
        Some(a) => s2s_proto::jwt::Compact::parse(a.as_str()?).ok()?.claims,
        // an unsigned token without an actor is never an application's own token
        None if c.alg() == Some("none") => return None,
        None => c.claims,
    };
    claims
        .get("nameid")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

pub(crate) struct Handler<'a> {
    pub(crate) ex: &'a Exchange,
    pub(crate) caller: &'a Caller,
    /// The request carries ExchangeImpersonation (authorized by ApplicationImpersonation).
    pub(crate) impersonating: bool,
    pub(crate) key: MailboxKey,
    pub(crate) smtp: String,
    /// The mailbox's display name (what its sent messages show as From).
    pub(crate) display_name: String,
    /// Set when the request acts in another user's mailbox as that user's delegate
    /// ([`crate::delegates`]): `key`, `smtp` and `display_name` are then the owner's.
    pub(crate) delegate: Option<crate::delegates::DelegateAccess>,
}

/// Most parent folders one FindItem searches.
const MAX_FIND_PARENTS: usize = 100;

impl Handler<'_> {
    /// The calling application's id, without its realm: subscriptions belong to it.
    fn caller_app_id(&self) -> &str {
        self.caller.app.split('@').next().unwrap_or("")
    }

    /// `GetStreamingEvents`: authorized as the other subscription operations (`run`), then a
    /// streamed answer ([`crate::streaming`]); a refusal is one envelope with `Closed`.
    async fn get_streaming_events(&self, g: request::GetStreamingEvents) -> Response {
        if let Err(e) = self.authorize(false) {
            let m = ews_proto::streaming::StreamingMessage::Error {
                error: e,
                subscription_ids: Vec::new(),
                status: ews_proto::streaming::ConnectionStatus::Closed,
            };
            return xml(
                StatusCode::OK,
                ews_proto::streaming::write_streaming_message(&m),
            );
        }
        self.ex
            .get_streaming_events(&self.key, self.caller_app_id(), g)
            .await
    }

    pub(crate) fn sel(&self, f: &FolderRef) -> Result<FolderSel, ResponseError> {
        match f {
            FolderRef::Distinguished { id, mailbox } => {
                if let Some(m) = mailbox
                    && !m.eq_ignore_ascii_case(&self.smtp)
                {
                    return Err(ResponseError::new(
                        "ErrorAccessDenied",
                        &format!(
                            "The token's user reaches their own mailbox and, as a delegate, the folders its owner shares with GetFolder, FindItem, GetItem, CreateItem, UpdateItem and DeleteItem; this request names {m}, which it cannot reach here."
                        ),
                    ));
                }
                Ok(FolderSel::Distinguished(id.as_str().to_owned()))
            }
            FolderRef::Id { id, .. } => Ok(FolderSel::Id(id.clone())),
        }
    }

    /// UserApplication: the user's own mailbox data. ArchiveApplication: writes under
    /// Recoverable Items. Anything else: ErrorAccessDenied.
    pub(crate) fn authorize(&self, write_recoverable: bool) -> Result<(), ResponseError> {
        let ok = if write_recoverable {
            self.caller.has_role("ArchiveApplication")
        } else {
            self.caller.has_role("UserApplication")
                || (self.impersonating && self.caller.has_role("ApplicationImpersonation"))
        };
        if ok {
            Ok(())
        } else {
            let role = if write_recoverable {
                "ArchiveApplication"
            } else {
                "UserApplication"
            };
            Err(ResponseError::new(
                "ErrorAccessDenied",
                &format!(
                    "Access is denied: the partner application '{}' needs the {role} role on its linked account.",
                    self.caller.partner
                ),
            ))
        }
    }

    /// Writes into `sel` (a folder of this mailbox) need ArchiveApplication when it is under
    /// Recoverable Items (the compliance archive), UserApplication otherwise.
    pub(crate) async fn authorize_write_in(&self, sel: &FolderSel) -> Result<(), ResponseError> {
        if self.authorize(true).is_ok() {
            return Ok(());
        }
        let lineage = self
            .ex
            .inner
            .mbx
            .folder_lineage(&self.key, sel.clone())
            .await
            .map_err(|e| err(&e))?;
        self.authorize(
            lineage
                .iter()
                .flatten()
                .any(|d| mailbox::distinguished::is_recoverable_items(d)),
        )
    }

    /// Which existing items this caller's writes may change: without ArchiveApplication, none
    /// under Recoverable Items. The store checks it inside the write's transaction, so an item
    /// moved there by another request after this one read it is refused too.
    pub(crate) fn item_guard(&self) -> mailbox::ItemGuard {
        if let Some(d) = &self.delegate {
            mailbox::ItemGuard::InDelegateFolders(d.editor_mask())
        } else if self.authorize(true).is_ok() {
            mailbox::ItemGuard::Any
        } else {
            mailbox::ItemGuard::OutsideRecoverableItems
        }
    }

    /// [`err`], with the refusal of [`Handler::authorize`] (which role is missing) for an item
    /// the write's [`Handler::item_guard`] kept it from.
    pub(crate) fn mailbox_err(&self, e: &MailboxError) -> ResponseError {
        match e {
            MailboxError::InRecoverableItems => {
                self.authorize(true).err().unwrap_or_else(|| err(e))
            }
            e => err(e),
        }
    }

    async fn folder_view(&self, f: mailbox::Folder) -> FolderView {
        let mut v = FolderView::new(&f.id, &f.display_name);
        v.kind = FolderKind::from_folder_class(f.folder_class.as_deref());
        v.change_key = Some(f.change_key);
        v.parent_id = f.parent_id;
        v.folder_class = f.folder_class;
        v.total_count = f.total_count.min(u32::MAX as u64) as u32;
        v.child_folder_count = f.child_folder_count.min(u32::MAX as u64) as u32;
        v.unread_count = f.unread_count.min(u32::MAX as u64) as u32;
        v.distinguished = f.distinguished.as_deref().and_then(|d| d.parse().ok());
        v
    }

    async fn run(&self, op: Operation) -> Vec<u8> {
        let name = op.name().to_owned();
        if let Err(e) = self.authorize(false)
            && !matches!(op, Operation::CreateItem(_))
        {
            return resp::error_response(&name, &e);
        }
        if let Some(d) = &self.delegate
            && let Err(e) = self.authorize(false).and_then(|()| d.precheck(&op))
        {
            return resp::error_response(&name, &e);
        }
        match op {
            Operation::GetFolder(g) => {
                let mut out = Vec::new();
                let permissions = g
                    .shape
                    .additional
                    .iter()
                    .any(|p| p.field_uri() == Some("folder:PermissionSet"));
                for f in &g.folder_ids {
                    let r = match self.sel(f) {
                        Ok(sel) => match self.ex.inner.mbx.get_folder(&self.key, sel).await {
                            Ok(f) if permissions => {
                                let d = f.distinguished.clone();
                                let mut v = self.folder_view(f).await;
                                self.folder_permissions(d.as_deref()).await.map(|p| {
                                    v.permissions = Some(p);
                                    v
                                })
                            }
                            Ok(f) => Ok(self.folder_view(f).await),
                            Err(e) => Err(err(&e)),
                        },
                        Err(e) => Err(e),
                    };
                    out.push(r);
                }
                resp::get_folder_response(&g.shape, &out)
            }
            Operation::CreateFolder(c) => self.create_folders(c).await,
            Operation::DeleteFolder(d) => self.delete_folders(d).await,
            Operation::MoveFolder(m) => self.move_or_copy_folders(m, false).await,
            Operation::CopyFolder(c) => self.move_or_copy_folders(c, true).await,
            Operation::MarkAllItemsAsRead(m) => {
                let (read, guard) = (m.read, self.item_guard());
                let out = self
                    .write_in_folders(&m.folder_ids, |sel| async move {
                        self.ex
                            .inner
                            .mbx
                            .mark_all_read(&self.key, sel, read, guard)
                            .await
                            .map(|_| ())
                    })
                    .await;
                resp::mark_all_items_as_read_response(&out)
            }
            Operation::EmptyFolder(e) => self.empty_folders(e).await,
            Operation::UpdateFolder(u) => self.update_folders(u).await,
            Operation::ResolveNames(r) => self.resolve_names(r).await,
            Operation::ExpandDL(e) => self.expand_dl(e).await,
            Operation::FindFolder(f) => {
                let paging = f
                    .paging
                    .map(|p| Paging {
                        offset: p.offset as usize,
                        max: p.max_entries.unwrap_or(1000) as usize,
                        from_end: p.base_point == request::BasePoint::End,
                    })
                    .unwrap_or(Paging {
                        offset: 0,
                        max: 1000,
                        from_end: false,
                    });
                let mut out = Vec::new();
                for parent in &f.parents {
                    let r = match self.sel(parent) {
                        Ok(sel) => match self
                            .ex
                            .inner
                            .mbx
                            .find_folders(
                                &self.key,
                                sel,
                                f.traversal == FolderTraversal::Deep,
                                paging,
                            )
                            .await
                        {
                            Ok(page) => {
                                let mut items = Vec::new();
                                for x in page.items {
                                    items.push(self.folder_view(x).await);
                                }
                                let n = items.len();
                                Ok(resp::Page {
                                    items,
                                    indexed_paging_offset: Some((page.offset + n) as u32),
                                    total_items_in_view: page.total as u32,
                                    includes_last_item_in_range: page.includes_last,
                                })
                            }
                            Err(e) => Err(err(&e)),
                        },
                        Err(e) => Err(e),
                    };
                    out.push(r);
                }
                resp::find_folder_response(&f.shape, &out)
            }
            Operation::CreateItem(c) => {
                // meeting responses, cancellations and meetings that are sent (`ews_meeting`)
                if Handler::needs_meeting_path(&c) {
                    return self.create_meeting_items(c).await;
                }
                // Messages need a disposition; SendOnly and SendAndSaveCopy send (`ews_send`).
                let has_message = c
                    .items
                    .iter()
                    .any(|i| matches!(i, ReqItem::Message(_) | ReqItem::SmartResponse(_)));
                let refusal = match c.message_disposition {
                    None if has_message => Some(ResponseError::new(
                        "ErrorMessageDispositionRequired",
                        "MessageDisposition is required when creating messages; use SaveOnly.",
                    )),
                    Some(
                        d @ (request::MessageDisposition::SendOnly
                        | request::MessageDisposition::SendAndSaveCopy),
                    ) => return self.create_and_send(c, d).await,
                    _ => None,
                };
                if let Some(e) = refusal {
                    return resp::create_item_response(&vec![Err(e); c.items.len().max(1)]);
                }
                // without SavedItemFolderId, Exchange saves calendar items in the Calendar,
                // contacts in Contacts and other items in Drafts
                let all = |f: fn(&ReqItem) -> bool| !c.items.is_empty() && c.items.iter().all(f);
                let default = if all(|i| matches!(i, ReqItem::CalendarItem(_))) {
                    "calendar"
                } else if all(|i| matches!(i, ReqItem::Contact(_) | ReqItem::DistributionList(_))) {
                    "contacts"
                } else if all(|i| matches!(i, ReqItem::Task(_))) {
                    "tasks"
                } else {
                    "drafts"
                };
                let folder = c.saved_folder.clone().unwrap_or(FolderRef::Distinguished {
                    id: default.parse().unwrap_or_else(|_| unreachable_folder()),
                    mailbox: None,
                });
                let sel = match self.sel(&folder) {
                    Ok(s) => s,
                    Err(e) => {
                        return resp::create_item_response(&vec![Err(e); c.items.len().max(1)]);
                    }
                };
                // where the items go, and whether that is under Recoverable Items (ArchiveApplication)
                let lineage = match self
                    .ex
                    .inner
                    .mbx
                    .folder_lineage(&self.key, sel.clone())
                    .await
                {
                    Ok(l) => l,
                    Err(e) => {
                        return resp::create_item_response(&vec![
                            Err(err(&e));
                            c.items.len().max(1)
                        ]);
                    }
                };
                let recoverable = lineage
                    .iter()
                    .flatten()
                    .any(|d| mailbox::distinguished::is_recoverable_items(d));
                if let Err(e) = self.authorize(recoverable) {
                    return resp::create_item_response(&vec![Err(e); c.items.len().max(1)]);
                }
                let kinds: Vec<ItemKind> = c
                    .items
                    .iter()
                    .map(|i| match i {
                        ReqItem::CalendarItem(_) => ItemKind::CalendarItem,
                        ReqItem::Contact(_) => ItemKind::Contact,
                        ReqItem::Task(_) => ItemKind::Task,
                        ReqItem::DistributionList(_) => ItemKind::DistributionList,
                        ReqItem::Message(_)
                        | ReqItem::MeetingReply(_)
                        | ReqItem::CancelCalendarItem(_)
                        | ReqItem::SmartResponse(_) => ItemKind::Message,
                    })
                    .collect();
                // replies and forwards composed into their messages (`ews_reply`)
                let composed = self.composed(c.items).await;
                // an item this layer refuses (a file attachment without content) is answered
                // alone; the others go to the store
                let mut refused: Vec<Option<ResponseError>> = Vec::with_capacity(kinds.len());
                let mut items: Vec<mailbox::NewItem> = Vec::with_capacity(kinds.len());
                for i in composed {
                    match i
                        .and_then(|i| to_new_item(i, self.ex.inner.cfg.clock.now(), &|| self.me()))
                    {
                        Ok(mut item) => {
                            item.is_draft = saved_as_draft(&item);
                            // a meeting stored without invitations (SendToNone): organized here
                            if let Some(m) = &mut item.meeting {
                                m.organizer = self.me();
                            }
                            items.push(item);
                            refused.push(None);
                        }
                        Err(e) => refused.push(Some(e)),
                    }
                }
                let created_view = |i: &mailbox::Item, kind: ItemKind| {
                    Some(resp::CreatedItem {
                        kind,
                        item_id: ItemRef {
                            id: i.id.clone(),
                            change_key: Some(i.change_key.clone()),
                        },
                        // in the order sent, which exchangelib pairs them by
                        attachment_ids: i.attachments.iter().map(created_attachment_id).collect(),
                    })
                };
                // each item answered on its own (EWS does): an invalid one fails alone, the
                // others are created together in one transaction
                let results = if items.is_empty() {
                    Ok(Vec::new())
                } else {
                    self.ex
                        .inner
                        .mbx
                        .create_items_each(&self.key, sel.clone(), items)
                        .await
                };
                match results {
                    Ok(results) => {
                        let mut stored = results.iter();
                        let out: Vec<_> = refused
                            .into_iter()
                            .zip(kinds)
                            .map(|(refusal, kind)| match refusal {
                                Some(e) => Err(e),
                                None => match stored.next() {
                                    Some(Ok(i)) => Ok(created_view(i, kind)),
                                    Some(Err(e)) => Err(err(e)),
                                    None => Err(ResponseError::code("ErrorInternalServerError")),
                                },
                            })
                            .collect();
                        resp::create_item_response(&out)
                    }
                    Err(e) => resp::create_item_response(&vec![Err(err(&e)); kinds.len().max(1)]),
                }
            }
            Operation::GetItem(g) => {
                // an occurrence is read from its series
                let targets: Vec<_> = g.item_ids.iter().map(crate::recurring::target).collect();
                let ids = targets
                    .iter()
                    .flatten()
                    .map(|t| t.item_id().to_owned())
                    .collect();
                let mime = g.shape.include_mime_content
                    || g.shape
                        .additional
                        .iter()
                        .any(|p| p.field_uri() == Some("item:MimeContent"));
                match self.ex.inner.mbx.get_items(&self.key, ids).await {
                    Ok(rs) => {
                        let mut read = rs.into_iter();
                        let mut out = Vec::with_capacity(targets.len());
                        for t in targets {
                            let r = match t {
                                Err(e) => Err(e),
                                Ok(t) => match read.next() {
                                    None => Err(ResponseError::code("ErrorInternalServerError")),
                                    Some(Err(e)) => Err(err(&e)),
                                    Some(Ok(i))
                                        if let Some(d) = &self.delegate
                                            && let Err(e) = d.may_read(&i) =>
                                    {
                                        Err(e)
                                    }
                                    Some(Ok(i)) => match t {
                                        crate::recurring::Target::Occurrence { index, .. } => {
                                            let v = item_view(i.clone());
                                            crate::recurring::occurrence_view(v, &i, index)
                                        }
                                        crate::recurring::Target::Item(_) if mime => {
                                            self.with_mime(i).await
                                        }
                                        crate::recurring::Target::Item(_) => Ok(item_view(i)),
                                    },
                                },
                            };
                            out.push(r);
                        }
                        resp::get_item_response(&g.shape, &out)
                    }
                    Err(e) => resp::error_response(&name, &err(&e)),
                }
            }
            Operation::FindItem(f) => {
                let mut out = Vec::new();
                let (paging, calendar_view) = match &f.view {
                    Some(request::FindItemView::Indexed(p)) => (
                        Paging {
                            offset: p.offset as usize,
                            max: p.max_entries.unwrap_or(1000) as usize,
                            from_end: p.base_point == request::BasePoint::End,
                        },
                        None,
                    ),
                    Some(request::FindItemView::Calendar {
                        start,
                        end,
                        max_entries,
                    }) => (
                        Paging {
                            offset: 0,
                            max: max_entries.unwrap_or(1000) as usize,
                            from_end: false,
                        },
                        Some((*start, *end)),
                    ),
                    None => (
                        Paging {
                            offset: 0,
                            max: 1000,
                            from_end: false,
                        },
                        None,
                    ),
                };
                let restriction = match &f.restriction {
                    Some(r) => match crate::ews_filter::translate(r) {
                        Ok(x) => Some(x),
                        Err(e) => return resp::error_response(&name, &e),
                    },
                    None => None,
                };
                let sort = match crate::ews_filter::sort(&f.sort_order) {
                    Ok(s) => s,
                    Err(e) => return resp::error_response(&name, &e),
                };
                // each parent is a search of its own: bound how many one request may ask for
                if f.parents.len() > MAX_FIND_PARENTS {
                    return resp::error_response(
                        &name,
                        &ResponseError::new(
                            "ErrorInvalidRequest",
                            &format!(
                                "FindItem names {} parent folders; at most {MAX_FIND_PARENTS} are searched in one request",
                                f.parents.len()
                            ),
                        ),
                    );
                }
                for parent in &f.parents {
                    let r = match self.sel(parent) {
                        Ok(sel) => {
                            let restriction = match &self.delegate {
                                Some(d) => d.hide_private(restriction.clone()),
                                None => restriction.clone(),
                            };
                            let spec = FindSpec {
                                associated: f.traversal == ItemTraversal::Associated,
                                restriction,
                                sort: sort.clone(),
                                paging,
                                calendar_view,
                                series: false,
                                // FindItem never returns bodies or configuration streams
                                load_content: false,
                            };
                            match calendar_view {
                                Some(view) => self.calendar_view(sel, spec, view).await,
                                None => {
                                    match self.ex.inner.mbx.find_items(&self.key, sel, spec).await {
                                        Ok(page) => {
                                            let items: Vec<ItemView> =
                                                page.items.into_iter().map(item_view).collect();
                                            let n = items.len();
                                            Ok(resp::Page {
                                                items,
                                                indexed_paging_offset: Some(
                                                    (page.offset + n) as u32,
                                                ),
                                                total_items_in_view: page.total as u32,
                                                includes_last_item_in_range: page.includes_last,
                                            })
                                        }
                                        Err(e) => Err(err(&e)),
                                    }
                                }
                            }
                        }
                        Err(e) => Err(e),
                    };
                    out.push(r);
                }
                resp::find_item_response(&f.shape, &out)
            }
            Operation::DeleteItem(d) => {
                let mode = match d.delete_type {
                    DeleteType::HardDelete => mailbox::DeleteMode::Hard,
                    DeleteType::SoftDelete => mailbox::DeleteMode::Soft,
                    DeleteType::MoveToDeletedItems => mailbox::DeleteMode::MoveToDeletedItems,
                };
                let send = request::calendar_send(d.send_meeting_cancellations.as_deref());
                let targets: Vec<_> = d.item_ids.iter().map(crate::recurring::target).collect();
                let plain = targets
                    .iter()
                    .all(|t| matches!(t, Ok(crate::recurring::Target::Item(_))));
                let occurrence_only = d.affected_task_occurrences
                    == Some(request::AffectedTaskOccurrences::SpecifiedOccurrenceOnly);
                if send.sends() || !plain || occurrence_only {
                    return self
                        .delete_items_one_by_one(targets, mode, send, occurrence_only)
                        .await;
                }
                // (a t:RecurringMasterItemId names its series)
                let ids: Vec<String> = targets
                    .iter()
                    .flatten()
                    .map(|t| t.item_id().to_owned())
                    .collect();
                // Without ArchiveApplication, items under Recoverable Items (the archive) are
                // refused one by one, where they are when the delete's own transaction runs; the
                // others are deleted as asked.
                match self
                    .ex
                    .inner
                    .mbx
                    .delete_items(&self.key, ids, mode, self.item_guard())
                    .await
                {
                    Ok(rs) => {
                        let out: Vec<_> = rs
                            .into_iter()
                            .map(|r| r.map_err(|e| self.mailbox_err(&e)))
                            .collect();
                        resp::delete_item_response(&out)
                    }
                    Err(e) => {
                        resp::delete_item_response(&vec![Err(err(&e)); d.item_ids.len().max(1)])
                    }
                }
            }
            Operation::UpdateItem(u) => self.update_item(u).await,
            Operation::SendItem(s) => self.send_items(s).await,
            Operation::MoveItem(m) => self.move_or_copy_items(m, false).await,
            Operation::CopyItem(c) => self.move_or_copy_items(c, true).await,
            Operation::GetUserConfiguration(g) => {
                let r = match self.sel(&g.name.folder) {
                    Ok(sel) => match self
                        .ex
                        .inner
                        .mbx
                        .get_user_configuration(&self.key, sel, g.name.name.clone())
                        .await
                    {
                        Ok(s) => Ok(config_view(&g.name, s)),
                        Err(e) => Err(err(&e)),
                    },
                    Err(e) => Err(e),
                };
                resp::get_user_configuration_response(&g.properties, &r)
            }
            Operation::CreateUserConfiguration(u) | Operation::UpdateUserConfiguration(u) => {
                let create = name == "CreateUserConfiguration";
                let target = match self.sel(&u.name.folder) {
                    Ok(sel) => self.authorize_write_in(&sel).await.map(|()| sel),
                    Err(e) => Err(e),
                };
                let r = match target {
                    Ok(sel) => {
                        let cfg = mailbox::UserConfig {
                            name: u.name.name.clone(),
                            dictionary: u
                                .dictionary
                                .as_ref()
                                .map(|d| d.iter().map(dict_in).collect()),
                            xml_data: u.xml_data.clone(),
                            binary_data: u.binary_data.clone(),
                        };
                        let res = if create {
                            self.ex
                                .inner
                                .mbx
                                .create_user_configuration(&self.key, sel, cfg)
                                .await
                        } else {
                            self.ex
                                .inner
                                .mbx
                                .update_user_configuration(&self.key, sel, cfg)
                                .await
                        };
                        res.map(|_| ()).map_err(|e| err(&e))
                    }
                    Err(e) => Err(e),
                };
                if create {
                    resp::create_user_configuration_response(&r)
                } else {
                    resp::update_user_configuration_response(&r)
                }
            }
            Operation::DeleteUserConfiguration(n) => {
                let target = match self.sel(&n.folder) {
                    Ok(sel) => self.authorize_write_in(&sel).await.map(|()| sel),
                    Err(e) => Err(e),
                };
                let r = match target {
                    Ok(sel) => self
                        .ex
                        .inner
                        .mbx
                        .delete_user_configuration(&self.key, sel, n.name.clone())
                        .await
                        .map_err(|e| err(&e)),
                    Err(e) => Err(e),
                };
                resp::delete_user_configuration_response(&r)
            }
            Operation::GetUserPhoto(p) => {
                let r = match self.ex.user_photo(&p.email).await {
                    Ok(Some(bytes)) => Ok(resp::UserPhoto {
                        has_changed: true,
                        picture_data: bytes,
                    }),
                    Ok(None) => Err(ResponseError::new(
                        "ErrorItemNotFound",
                        &format!("{} has no photo.", p.email),
                    )),
                    Err(e) => Err(ResponseError::new(
                        "ErrorNonExistentMailbox",
                        &e.to_string(),
                    )),
                };
                resp::get_user_photo_response(&r)
            }
            Operation::Subscribe(sub) => {
                let r = self
                    .ex
                    .subscribe(&self.key, &self.caller.partner, self.caller_app_id(), sub)
                    .await
                    .map(|(subscription_id, watermark)| resp::SubscriptionCreated {
                        subscription_id,
                        watermark,
                    });
                resp::subscribe_response(&r)
            }
            Operation::Unsubscribe { subscription_id } => resp::unsubscribe_response(
                &self
                    .ex
                    .unsubscribe(&self.key, self.caller_app_id(), &subscription_id)
                    .await,
            ),
            Operation::GetEvents {
                subscription_id,
                watermark,
            } => resp::get_events_response(
                &self
                    .ex
                    .get_events(
                        &self.key,
                        self.caller_app_id(),
                        &subscription_id,
                        &watermark,
                    )
                    .await,
            ),
            Operation::SyncFolderItems(s) => {
                let r = self.sync_items(&s).await;
                resp::sync_folder_items_response(&s.shape, &r)
            }
            Operation::SyncFolderHierarchy(h) => {
                let r = self.sync_hierarchy(&h).await;
                resp::sync_folder_hierarchy_response(&h.shape, &r)
            }
            Operation::CreateAttachment(c) => self.create_attachments(c).await,
            Operation::GetAttachment(g) => self.get_attachments(g).await,
            Operation::DeleteAttachment(d) => self.delete_attachments(d).await,
            Operation::ConvertId(c) => {
                let out: Vec<_> = c
                    .ids
                    .iter()
                    .map(|a| convert_id(a, c.destination_format, &self.key))
                    .collect();
                resp::convert_id_response(&out)
            }
            // answered by `get_streaming_events` before `run` (serve_parsed)
            Operation::GetStreamingEvents(_) => resp::error_response(
                &name,
                &ResponseError::new(
                    "ErrorInternalServerError",
                    "GetStreamingEvents is answered as a stream, not here.",
                ),
            ),
            Operation::GetMailTips(g) => self.get_mail_tips(&g).await,
            Operation::GetRoomLists => self.get_room_lists().await,
            Operation::MarkAsJunk(m) => self.mark_as_junk(m).await,
            Operation::GetInboxRules(g) => self.get_inbox_rules(&g).await,
            Operation::UpdateInboxRules(u) => self.update_inbox_rules(u).await,
            Operation::GetRooms(g) => self.get_rooms(&g).await,
            Operation::GetUserOofSettings(g) => self.get_user_oof_settings(&g).await,
            Operation::SetUserOofSettings(o) => self.set_user_oof_settings(&o).await,
            // answered by `get_user_availability` before `run` (serve_parsed)
            Operation::GetUserAvailability(_) => resp::error_response(
                &name,
                &ResponseError::new(
                    "ErrorInternalServerError",
                    "GetUserAvailability is answered before the other operations, not here.",
                ),
            ),
            // the Windows time zones this server defines (exchangelib reads one before it asks
            // for free/busy)
            Operation::GetServerTimeZones(g) => {
                ews_proto::availability::get_server_time_zones_response(&g)
            }
            Operation::ExportItems(e) => self.export_items(e).await,
            Operation::UploadItems(u) => self.upload_items(u).await,
            Operation::GetDelegate(g) => self.get_delegate(g).await,
            Operation::AddDelegate(a) => self.add_delegate(a).await,
            Operation::UpdateDelegate(u) => self.update_delegate(u).await,
            Operation::RemoveDelegate(r) => self.remove_delegate(r).await,
            Operation::Unknown { local } => resp::error_response(
                &local,
                &ResponseError::new(
                    "ErrorInvalidRequest",
                    &format!("The operation {local} is not supported by this server."),
                ),
            ),
        }
    }
}

/// SyncFolderItems and SyncFolderHierarchy (MS-OXWSSYNC): reads of one folder's items or of the
/// folders under one folder, authorized as FindItem and FindFolder are (`run` checked the role:
/// UserApplication, or ApplicationImpersonation when impersonating), Recoverable Items included
/// (reading there needs no ArchiveApplication, as with FindItem and GetItem). The sync state is
/// the store's (`mailbox::sync`); one it cannot continue from is `ErrorInvalidSyncStateData`.
impl Handler<'_> {
    async fn sync_items(
        &self,
        s: &request::SyncFolderItems,
    ) -> Result<resp::SyncResult<resp::ItemSyncChange>, ResponseError> {
        use mailbox::ItemChange as C;
        use resp::ItemSyncChange as R;
        if let Some(e) = too_many(s.ignore.len(), "ids to ignore") {
            return Err(e);
        }
        let folder = self.sel(&s.folder)?;
        let scope = match s.sync_scope {
            Some(request::SyncScope::NormalAndAssociatedItems) => {
                mailbox::SyncScope::NormalAndAssociatedItems
            }
            Some(request::SyncScope::NormalItems) | None => mailbox::SyncScope::NormalItems,
        };
        let page = self
            .ex
            .inner
            .mbx
            .sync_folder_items(
                &self.key,
                mailbox::ItemSync {
                    folder,
                    sync_state: s.sync_state.clone(),
                    max_changes: s.max_changes_returned as usize,
                    scope,
                    ignore: s.ignore.iter().map(|i| i.id.clone()).collect(),
                },
            )
            .await
            .map_err(|e| err(&e))?;
        let changes = page
            .changes
            .into_iter()
            .map(|c| match c {
                C::Create(i) => R::Create(item_view(i)),
                C::Update(i) => R::Update(item_view(i)),
                C::ReadFlagChange {
                    item_id,
                    change_key,
                    is_read,
                } => R::ReadFlagChange {
                    item_id: ItemRef {
                        id: item_id,
                        change_key: Some(change_key),
                    },
                    is_read,
                },
                C::Delete { item_id } => R::Delete(ItemRef {
                    id: item_id,
                    change_key: None,
                }),
            })
            .collect();
        Ok(resp::SyncResult {
            sync_state: page.sync_state,
            includes_last_in_range: page.includes_last,
            changes,
        })
    }

    async fn sync_hierarchy(
        &self,
        h: &request::SyncFolderHierarchy,
    ) -> Result<resp::SyncResult<resp::FolderSyncChange>, ResponseError> {
        use mailbox::FolderChange as C;
        use resp::FolderSyncChange as R;
        let folder = h.folder.as_ref().map(|f| self.sel(f)).transpose()?;
        let page = self
            .ex
            .inner
            .mbx
            .sync_folder_hierarchy(&self.key, folder, h.sync_state.clone())
            .await
            .map_err(|e| err(&e))?;
        let mut changes = Vec::with_capacity(page.changes.len());
        for c in page.changes {
            changes.push(match c {
                C::Create(f) => R::Create(self.folder_view(f).await),
                C::Update(f) => R::Update(self.folder_view(f).await),
                C::Delete { folder_id } => R::Delete { folder_id },
            });
        }
        Ok(resp::SyncResult {
            sync_state: page.sync_state,
            includes_last_in_range: page.includes_last,
            changes,
        })
    }
}

/// ResolveNames (MS-OXWSRSLNM) against the organization's address list: mailboxes, mail users
/// and distribution groups (`PublicDL`) not hidden from it, also by any of their SMTP proxy
/// addresses, and the contacts in the caller's Contacts folder, as the search scope says.
impl Handler<'_> {
    async fn resolve_names(&self, r: request::ResolveNames) -> Vec<u8> {
        use request::ResolveNamesScope as S;
        let scope = r.search_scope.unwrap_or(S::ActiveDirectoryContacts);
        let contacts = match scope {
            S::ActiveDirectory => Vec::new(),
            _ => match self.resolve_contacts(&r).await {
                Ok(c) => c,
                Err(e) => return resp::resolve_names_response(&Err(e)),
            },
        };
        if scope == S::Contacts {
            return resp::resolve_names_response(&Ok(contacts));
        }
        let found = match self.ex.resolve_names(&r.entry).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "ResolveNames failed");
                return resp::resolve_names_response(&Err(ResponseError::code(
                    "ErrorInternalServerError",
                )));
            }
        };
        let directory = found.into_iter().filter_map(|rec| {
            let contact = r.return_full_contact_data.then(|| resp::ResolvedContact {
                display_name: rec.name.clone(),
                // the SMTP proxy addresses, the primary first
                email_addresses: rec
                    .email_addresses
                    .iter()
                    .filter(|a| a.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("smtp:")))
                    .cloned()
                    .collect(),
            });
            Some(resp::Resolution {
                mailbox: directory_entry(&rec)?,
                contact,
            })
        });
        // as the scope orders them: the directory's entries, then the caller's contacts
        let mut out: Vec<resp::Resolution> = if scope == S::ContactsActiveDirectory {
            contacts.into_iter().chain(directory).collect()
        } else {
            directory.chain(contacts).collect()
        };
        out.truncate(crate::MAX_RESOLUTIONS);
        resp::resolve_names_response(&Ok(out))
    }

    /// The contacts in the caller's contact folders (those `ParentFolderIds` names, else
    /// Contacts) that a ResolveNames entry names ([`crate::contacts::resolve_filter`], run in
    /// the store), those with an email address, and the private distribution lists it names
    /// (by their item id, which ExpandDL takes); the newest [`crate::MAX_RESOLUTIONS`] matches
    /// of each folder, at most that many in all. A folder named that is not there is the
    /// store's error (`ErrorFolderNotFound`); a mailbox without a Contacts folder has no
    /// contacts.
    async fn resolve_contacts(
        &self,
        r: &request::ResolveNames,
    ) -> Result<Vec<resp::Resolution>, ResponseError> {
        let Some(restriction) = crate::contacts::resolve_filter(&r.entry) else {
            return Ok(Vec::new());
        };
        if r.parent_folders.len() > MAX_FIND_PARENTS {
            return Err(ResponseError::new(
                "ErrorInvalidRequest",
                &format!(
                    "ResolveNames names {} parent folders; at most {MAX_FIND_PARENTS} are searched in one request",
                    r.parent_folders.len()
                ),
            ));
        }
        let folders = if r.parent_folders.is_empty() {
            vec![FolderSel::distinguished(mailbox::distinguished::CONTACTS)]
        } else {
            r.parent_folders
                .iter()
                .map(|f| self.sel(f))
                .collect::<Result<_, _>>()?
        };
        let defaulted = r.parent_folders.is_empty();
        let mut out = Vec::new();
        for folder in folders {
            let spec = FindSpec {
                restriction: Some(restriction.clone()),
                paging: Paging {
                    offset: 0,
                    max: crate::MAX_RESOLUTIONS,
                    from_end: false,
                },
                ..FindSpec::default()
            };
            let page = match self.ex.inner.mbx.find_items(&self.key, folder, spec).await {
                Ok(p) => p,
                Err(MailboxError::FolderNotFound) if defaulted => return Ok(Vec::new()),
                Err(e) => return Err(self.mailbox_err(&e)),
            };
            out.extend(page.items.iter().filter_map(|i| {
                match crate::contacts::stored_list(i) {
                    Some(l) => Some(crate::contacts::list_resolution(i, &l)),
                    None => crate::contacts::stored(i)
                        .and_then(|c| crate::contacts::resolution(&c, r.return_full_contact_data)),
                }
            }));
            if out.len() >= crate::MAX_RESOLUTIONS {
                break;
            }
        }
        out.truncate(crate::MAX_RESOLUTIONS);
        Ok(out)
    }

    /// ExpandDL (one level, as Exchange expands: nested groups are entries of their own, each
    /// to be expanded in turn) of a distribution group on the address list, named by any of its
    /// SMTP addresses, its alias or its name. Members hidden from address lists are left out.
    /// Anything else, a group hidden from address lists included, is
    /// `ErrorNameResolutionNoResults`.
    async fn expand_dl(&self, e: request::ExpandDL) -> Vec<u8> {
        let no_results = |why: &str| {
            Err(ResponseError::new(
                "ErrorNameResolutionNoResults",
                &format!("No results were found: {why}"),
            ))
        };
        if let Some(id) = &e.item_id {
            return resp::expand_dl_response(&self.expand_private_dl(&id.id).await);
        }
        let entry = e.email_address.trim().to_owned();
        if entry.len() > crate::org::MAX_PROXY_ADDRESS_LEN {
            return resp::expand_dl_response(&no_results("the name is longer than any address"));
        }
        let org = self.ex.inner.org.clone();
        let found = org
            .db
            .clone()
            .call(move |c| -> Result<_, crate::ExchangeError> {
                let group = match org.recipient_by_smtp(c, &entry)? {
                    Some(r) => Some(r),
                    None => match org.get_recipient(c, &entry) {
                        Ok(r) => Some(r),
                        Err(crate::ExchangeError::NotFound(_)) => None,
                        Err(e) => return Err(e),
                    },
                };
                let Some(group) =
                    group.filter(|g| g.is_group() && !g.hidden_from_address_lists_enabled)
                else {
                    return Ok(None);
                };
                Ok(Some(org.group_members(c, &group.guid)?))
            })
            .await;
        let result = match found {
            Ok(Some(members)) => Ok(members
                .iter()
                .filter(|m| !m.hidden_from_address_lists_enabled)
                .filter_map(directory_entry)
                .collect()),
            Ok(None) => no_results(&format!(
                "no distribution list on the address list is {}",
                e.email_address.chars().take(100).collect::<String>()
            )),
            Err(crate::ExchangeError::Ambiguous(_)) => Err(ResponseError::new(
                "ErrorNameResolutionMultipleResults",
                "More than one distribution list matches; name it by its SMTP address.",
            )),
            Err(err) => {
                tracing::warn!(error = %err, "ExpandDL failed");
                Err(ResponseError::code("ErrorInternalServerError"))
            }
        };
        resp::expand_dl_response(&result)
    }
}

impl Handler<'_> {
    /// ExpandDL of a private distribution list of the acting mailbox, named by its item id:
    /// its members as stored, in order (at most `dlist::MAX_MEMBERS`; read as GetItem reads an
    /// item). An item that is no such list is `ErrorNameResolutionNoResults`.
    async fn expand_private_dl(&self, id: &str) -> Result<Vec<Mailbox>, ResponseError> {
        self.authorize(false)?;
        let item = self.read_item(id).await?;
        let Some(list) = crate::contacts::stored_list(&item) else {
            return Err(ResponseError::new(
                "ErrorNameResolutionNoResults",
                "No results were found: the item is not a distribution list.",
            ));
        };
        Ok(list
            .members
            .iter()
            .map(ews_proto::dlist::Member::mailbox)
            .collect())
    }
}

/// A directory entry as ResolveNames and ExpandDL show it: name, primary SMTP address (a mail
/// user without one: its external address), `SMTP`, and `Mailbox` (a mailbox), `PublicDL` (a
/// distribution group) or `Contact` (a mail user). `None` for a recipient without an address.
pub(crate) fn directory_entry(rec: &crate::org::Recipient) -> Option<ews_proto::types::Mailbox> {
    let mailbox_type = if rec.is_mailbox() {
        "Mailbox"
    } else if rec.is_group() {
        "PublicDL"
    } else {
        "Contact"
    };
    Some(ews_proto::types::Mailbox {
        name: Some(rec.name.clone()),
        email_address: Some(rec.address()?.to_owned()),
        routing_type: Some("SMTP".into()),
        mailbox_type: Some(mailbox_type.into()),
        item_id: None,
    })
}

/// CreateFolder, UpdateFolder, MoveFolder, DeleteFolder and EmptyFolder (MS-OXWSFOLD): folders
/// of the caller's mailbox, one response message per folder. Under Recoverable Items it needs
/// ArchiveApplication, as every write there does. A folder moves only under Deleted Items
/// (DeleteFolder and EmptyFolder with MoveToDeletedItems) or where MoveFolder puts it, never into
/// or out of Recoverable Items, so a folder found outside Recoverable Items before a write is
/// still outside it at the write; the deletions check where their items are inside each write
/// too (`item_guard`).
impl Handler<'_> {
    async fn create_folders(&self, c: request::CreateFolder) -> Vec<u8> {
        let n = c.folders.len();
        let all = |e: ResponseError| resp::create_folder_response(&vec![Err(e); n]);
        if let Some(e) = too_many(n, "folders") {
            return all(e);
        }
        let parent_err = |e: ResponseError| {
            if e.code == "ErrorFolderNotFound" {
                ResponseError::new(
                    "ErrorParentFolderNotFound",
                    "The parent folder was not found in this mailbox.",
                )
            } else {
                e
            }
        };
        let parent = match self.sel(&c.parent) {
            Ok(s) => s,
            Err(e) => return all(e),
        };
        if let Err(e) = self.authorize_write_in(&parent).await {
            return all(parent_err(e));
        }
        let mut out = Vec::with_capacity(n);
        for f in &c.folders {
            let created = self
                .ex
                .inner
                .mbx
                .create_folder(&self.key, parent.clone(), f.display_name.clone(), f.class())
                .await;
            out.push(match created {
                Ok(folder) => Ok(self.folder_view(folder).await),
                Err(e) => Err(parent_err(err(&e))),
            });
        }
        resp::create_folder_response(&out)
    }

    /// UpdateFolder: a folder's display name and class; the folder stays where it is.
    async fn update_folders(&self, u: request::UpdateFolder) -> Vec<u8> {
        let n = u.changes.len();
        if let Some(e) = too_many(n, "folder changes") {
            return resp::update_folder_response(&vec![Err(e); n]);
        }
        let mut out = Vec::with_capacity(n);
        for change in &u.changes {
            out.push(self.update_one_folder(change).await);
        }
        resp::update_folder_response(&out)
    }

    async fn update_one_folder(
        &self,
        change: &request::FolderChange,
    ) -> Result<FolderView, ResponseError> {
        let sel = self.sel(&change.folder)?;
        self.authorize_write_in(&sel).await?;
        let change_key = match &change.folder {
            FolderRef::Id { change_key, .. } => change_key.clone(),
            FolderRef::Distinguished { .. } => None,
        };
        let (mut name, mut class) = (None, None);
        for update in &change.updates {
            match update {
                request::FolderUpdate::SetDisplayName(n) => name = Some(n.clone()),
                request::FolderUpdate::SetFolderClass(c) => class = Some(Some(c.clone())),
                request::FolderUpdate::DeleteFolderClass => class = Some(None),
                request::FolderUpdate::DeletePermissionSet => {}
            }
        }
        let folder = self
            .ex
            .inner
            .mbx
            .update_folder(&self.key, sel, change_key, name, class)
            .await
            .map_err(|e| err(&e))?;
        Ok(self.folder_view(folder).await)
    }

    /// EmptyFolder: each folder's items, and with DeleteSubFolders its subfolders, go as the
    /// DeleteType says (see `mailbox::DeleteMode`); the folder stays.
    async fn empty_folders(&self, e: request::EmptyFolder) -> Vec<u8> {
        let (mode, subfolders, guard) = (
            delete_mode(e.delete_type),
            e.delete_subfolders,
            self.item_guard(),
        );
        let out = self
            .write_in_folders(&e.folder_ids, |sel| {
                self.ex
                    .inner
                    .mbx
                    .empty_folder(&self.key, sel, mode, subfolders, guard)
            })
            .await;
        resp::empty_folder_response(&out)
    }

    /// DeleteFolder: each folder with everything under it, as the DeleteType says: HardDelete
    /// removes it, SoftDelete removes the folder and puts its items in the dumpster,
    /// MoveToDeletedItems moves it under Deleted Items (see `mailbox::DeleteMode`).
    /// MoveFolder and CopyFolder: each folder moved, whole, under the destination, or copied
    /// there, on its own (`MailboxStore::move_folder` and `copy_folder`: not into or out of
    /// Recoverable Items). A distinguished folder is `ErrorMoveDistinguishedFolder` (moved) or
    /// `ErrorMoveCopyFailed` (copied).
    async fn move_or_copy_folders(&self, m: request::MoveCopyFolder, copy: bool) -> Vec<u8> {
        let respond = |out: &[Result<FolderView, ResponseError>]| {
            if copy {
                resp::copy_folder_response(out)
            } else {
                resp::move_folder_response(out)
            }
        };
        let n = m.folder_ids.len();
        let all = |e: ResponseError| respond(&vec![Err(e); n.max(1)]);
        if let Some(e) = too_many(n, "folders") {
            return all(e);
        }
        if let Err(e) = self.authorize(false) {
            return all(e);
        }
        let to = match self.sel(&m.to_folder) {
            Ok(to) => to,
            Err(e) => return all(e),
        };
        let mbx = &self.ex.inner.mbx;
        let mut out = Vec::with_capacity(n);
        for f in &m.folder_ids {
            let done = match self.sel(f) {
                Ok(sel) if copy => mbx.copy_folder(&self.key, sel, to.clone()).await,
                Ok(sel) => mbx.move_folder(&self.key, sel, to.clone()).await,
                Err(e) => {
                    out.push(Err(e));
                    continue;
                }
            };
            out.push(match done {
                Ok(folder) => Ok(self.folder_view(folder).await),
                Err(MailboxError::DistinguishedFolder(name)) => Err(ResponseError::new(
                    // (EWS has no code of its own for a distinguished folder copied)
                    if copy {
                        "ErrorMoveCopyFailed"
                    } else {
                        "ErrorMoveDistinguishedFolder"
                    },
                    &format!(
                        "The distinguished folder {name:?} cannot be {} (nor a folder with it under it).",
                        if copy { "copied" } else { "moved" }
                    ),
                )),
                Err(e) => Err(self.mailbox_err(&e)),
            });
        }
        respond(&out)
    }

    async fn delete_folders(&self, d: request::DeleteFolder) -> Vec<u8> {
        let (mode, guard) = (delete_mode(d.delete_type), self.item_guard());
        let out = self
            .write_in_folders(&d.folder_ids, |sel| {
                self.ex.inner.mbx.delete_folder(&self.key, sel, mode, guard)
            })
            .await;
        resp::delete_folder_response(&out)
    }

    /// One result per folder (DeleteFolder, EmptyFolder, MarkAllItemsAsRead): the call's count
    /// bound, then for each folder the caller's right to write there (ArchiveApplication under
    /// Recoverable Items, checked before and, by the store's `ItemGuard`, inside each write) and
    /// `write`.
    async fn write_in_folders<F, Fut>(
        &self,
        folders: &[FolderRef],
        write: F,
    ) -> Vec<Result<(), ResponseError>>
    where
        F: Fn(FolderSel) -> Fut,
        Fut: std::future::Future<Output = Result<(), MailboxError>>,
    {
        let n = folders.len();
        if let Some(e) = too_many(n, "folders") {
            return vec![Err(e); n];
        }
        let mut out = Vec::with_capacity(n);
        for f in folders {
            let r = match self.sel(f) {
                Ok(sel) => match self.authorize_write_in(&sel).await {
                    Ok(()) => write(sel).await.map_err(|e| self.mailbox_err(&e)),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            out.push(r);
        }
        out
    }
}

impl Handler<'_> {
    /// DeleteItem one by one: with `SendMeetingCancellations` that sends, each organizer's
    /// meeting with attendees is cancelled (`ews_meeting`); an occurrence of a series is
    /// recorded as deleted on its series (`crate::recurring`); every other item is deleted as
    /// asked.
    async fn delete_items_one_by_one(
        &self,
        targets: Vec<Result<crate::recurring::Target, ResponseError>>,
        mode: mailbox::DeleteMode,
        send: request::CalendarSend,
        task_occurrence_only: bool,
    ) -> Vec<u8> {
        if let Some(e) = too_many(targets.len(), "item ids") {
            return resp::delete_item_response(&[Err(e)]);
        }
        let mut out = Vec::with_capacity(targets.len());
        for target in targets {
            let id = match target {
                Err(e) => {
                    out.push(Err(e));
                    continue;
                }
                Ok(crate::recurring::Target::Occurrence { series, index }) => {
                    out.push(self.delete_occurrence(series, index, send).await);
                    continue;
                }
                Ok(crate::recurring::Target::Item(id)) => ItemRef {
                    id,
                    change_key: None,
                },
            };
            let item = self.ex.inner.mbx.get_item(&self.key, &id.id).await;
            let r = match item {
                Ok(i) if Handler::cancels(&i, send) => self.delete_meeting(&i, send, mode).await,
                Ok(i) => {
                    let skipped = if task_occurrence_only {
                        self.skip_task_occurrence(&i).await
                    } else {
                        Ok(false)
                    };
                    match skipped {
                        Ok(true) => Ok(()),
                        Err(e) => Err(e),
                        Ok(false) => match self
                            .ex
                            .inner
                            .mbx
                            .delete_items(&self.key, vec![id.id.clone()], mode, self.item_guard())
                            .await
                        {
                            Ok(mut rs) => rs
                                .pop()
                                .unwrap_or(Err(MailboxError::ItemNotFound))
                                .map_err(|e| self.mailbox_err(&e)),
                            Err(e) => Err(err(&e)),
                        },
                    }
                }
                Err(e) => Err(self.mailbox_err(&e)),
            };
            out.push(r);
        }
        resp::delete_item_response(&out)
    }

    /// DeleteItem of a recurring task's current occurrence only
    /// (`AffectedTaskOccurrences="SpecifiedOccurrenceOnly"`): the task moves to its next
    /// occurrence (`Task::skip_occurrence`) and `true`; `false` for any other item, or a task
    /// at its last occurrence, which is deleted whole.
    async fn skip_task_occurrence(&self, item: &mailbox::Item) -> Result<bool, ResponseError> {
        let Some(mut t) = crate::tasks::stored(item) else {
            return Ok(false);
        };
        if !t.skip_occurrence(self.ex.inner.cfg.clock.now()) {
            return Ok(false);
        }
        let update = mailbox::ItemUpdate {
            task: Some(t.to_storage()),
            ..mailbox::ItemUpdate::default()
        };
        // written at the key it was read at: a change made in between is not overwritten
        match self
            .ex
            .inner
            .mbx
            .update_item_resolving(
                &self.key,
                item.id.clone(),
                Some(item.change_key.clone()),
                false,
                update,
                self.item_guard(),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(MailboxError::ChangeKeyConflict) => {
                Err(ResponseError::code("ErrorIrresolvableConflict"))
            }
            Err(e) => Err(self.mailbox_err(&e)),
        }
    }

    /// Deletes occurrence `index` of `series`: the series records it; an organizer's meeting
    /// with cancellations sent sends the series as it now is to its attendees (a full update:
    /// their copies lose the occurrence too).
    async fn delete_occurrence(
        &self,
        series: String,
        index: u32,
        send: request::CalendarSend,
    ) -> Result<(), ResponseError> {
        let item = self
            .ex
            .inner
            .mbx
            .get_item(&self.key, &series)
            .await
            .map_err(|e| self.mailbox_err(&e))?;
        crate::recurring::check_occurrence(&item, index)?;
        let update = mailbox::ItemUpdate {
            delete_occurrence: Some(index),
            ..mailbox::ItemUpdate::default()
        };
        // the organizer's meeting with the cancellation sent: the attendees' copies lose it too
        if send.sends() && Handler::organizes(&item) {
            return self
                .send_meeting_update(
                    request::ConflictResolution::AlwaysOverwrite,
                    None,
                    update,
                    send,
                    &item,
                )
                .await
                .map(|_| ());
        }
        self.update_series(series, None, true, update)
            .await
            .map(|_| ())
            .map_err(|e| self.mailbox_err(&e))
    }

    /// Writes a change of one occurrence on its series, where the caller's write rules allow.
    async fn update_series(
        &self,
        series: String,
        change_key: Option<String>,
        overwrite: bool,
        update: mailbox::ItemUpdate,
    ) -> Result<(mailbox::Item, bool), MailboxError> {
        self.ex
            .inner
            .mbx
            .update_item_resolving(
                &self.key,
                series,
                change_key,
                overwrite,
                update,
                self.item_guard(),
            )
            .await
    }
}

/// The store's [`mailbox::DeleteMode`] of a `DeleteType` (`t:DisposalType`).
fn delete_mode(t: DeleteType) -> mailbox::DeleteMode {
    match t {
        DeleteType::HardDelete => mailbox::DeleteMode::Hard,
        DeleteType::SoftDelete => mailbox::DeleteMode::Soft,
        DeleteType::MoveToDeletedItems => mailbox::DeleteMode::MoveToDeletedItems,
    }
}

/// UpdateItem, MoveItem and CopyItem (MS-OXWSCORE). Every failure is a per-item response
/// message, never a fault. Writes touching Recoverable Items (updating an item there, moving one
/// out of it, moving or copying into it) need ArchiveApplication, as CreateItem and DeleteItem
/// there do (`authorize_write_in`).
impl Handler<'_> {
    async fn update_item(&self, u: request::UpdateItem) -> Vec<u8> {
        let n = u.changes.len();
        if let Some(e) = too_many(n, "item changes") {
            return resp::update_item_response(&vec![Err(e); n]);
        }
        let mut out = Vec::with_capacity(n);
        for change in &u.changes {
            out.push(self.update_one(&u, change).await);
        }
        resp::update_item_response(&out)
    }

    async fn update_one(
        &self,
        u: &request::UpdateItem,
        change: &request::ItemChange,
    ) -> Result<resp::UpdatedItem, ResponseError> {
        use request::{ConflictResolution, MessageDisposition};
        // a series by an occurrence's id (t:RecurringMasterItemId) is the series; one
        // occurrence is not changed on its own (an exception) yet
        let resolved;
        let change = match crate::recurring::target(&change.item_id)? {
            crate::recurring::Target::Occurrence { series, index } => {
                return self.update_occurrence(u, change, series, index).await;
            }
            crate::recurring::Target::Item(id) if id != change.item_id.id => {
                resolved = request::ItemChange {
                    item_id: ItemRef {
                        id,
                        change_key: change.item_id.change_key.clone(),
                    },
                    ..change.clone()
                };
                &resolved
            }
            crate::recurring::Target::Item(_) => change,
        };
        // the organizer's meeting with its update sent (`ews_meeting`)
        let send = request::calendar_send(u.send_meeting_invitations_or_cancellations.as_deref());
        if let Some(r) = self.update_meeting(u, change, send).await {
            return r;
        }
        if let Some(d @ (MessageDisposition::SendOnly | MessageDisposition::SendAndSaveCopy)) =
            u.message_disposition
        {
            return self.update_and_send(u, change, d).await;
        }
        // a contact's or a task's own properties are changed against it as stored
        let (typed_changes, others): (Vec<&request::ItemFieldChange>, Vec<_>) =
            change.updates.iter().partition(|c| {
                crate::contacts::is_contact_change(c)
                    || crate::tasks::is_task_change(c)
                    || ews_proto::dlist::is_list_path(c.path())
            });
        let mut update = item_update_of(others)?;
        if update.changes_attendees() {
            // an appointment that gets attendees becomes a meeting organized here
            update.new_meeting = Some(mailbox::Meeting::new(
                crate::ews_meeting::new_uid(),
                self.me(),
            ));
        }
        let id = change.item_id.id.clone();
        let overwrite = u.conflict_resolution != ConflictResolution::NeverOverwrite;
        // the change key the store checks: the client's, or for a contact's or task's change
        // the one it was read at (so a change made in between is not overwritten)
        let mut expected = (change.item_id.change_key.clone(), overwrite);
        let mut stale = false;
        let mut one_off = None;
        // the item as it is, when the disposition rule, a moved series or a contact's or
        // task's change needs it (where it is, for authorization, is checked by the update itself:
        // `item_guard`)
        let moves = update.start.is_some() || update.end.is_some();
        if u.message_disposition.is_none() || moves || !typed_changes.is_empty() {
            let current = self
                .ex
                .inner
                .mbx
                .get_item(&self.key, &id)
                .await
                .map_err(|e| err(&e))?;
            if u.message_disposition.is_none() && kind_of(&current) == ItemKind::Message {
                return Err(ResponseError::new(
                    "ErrorMessageDispositionRequired",
                    "MessageDisposition is required when updating a message (SaveOnly).",
                ));
            }
            // a series moved: its occurrences keep the new time of day, and it starts and
            // ends with its first and last occurrence at that time
            crate::recurring::fit_move(&current, &mut update)?;
            if !typed_changes.is_empty() {
                stale = change
                    .item_id
                    .change_key
                    .as_ref()
                    .is_some_and(|k| *k != current.change_key);
                if stale && !overwrite {
                    return Err(ResponseError::code("ErrorIrresolvableConflict"));
                }
                one_off = self.apply_typed(&current, &typed_changes, &mut update)?;
                expected = (Some(current.change_key.clone()), false);
            }
        }
        let mbx = &self.ex.inner.mbx;
        let result = match one_off {
            // a recurring task's occurrence completed: the answer names the one-off task saved
            // for it; the task itself moved to its next occurrence
            Some(task) => mbx
                .update_item_splitting(
                    &self.key,
                    id,
                    expected.0,
                    expected.1,
                    update,
                    task,
                    self.item_guard(),
                )
                .await
                .map(|(copy, _, conflicted)| (copy, conflicted)),
            None => {
                mbx.update_item_resolving(
                    &self.key,
                    id,
                    expected.0,
                    expected.1,
                    update,
                    self.item_guard(),
                )
                .await
            }
        };
        match result {
            Ok((item, conflicted)) => Ok(resp::UpdatedItem {
                kind: kind_of(&item),
                item_id: Some(ItemRef {
                    id: item.id.clone(),
                    change_key: Some(item.change_key.clone()),
                }),
                conflicts: u32::from(conflicted || stale),
            }),
            Err(MailboxError::ChangeKeyConflict) => {
                Err(ResponseError::code("ErrorIrresolvableConflict"))
            }
            Err(e) => Err(self.mailbox_err(&e)),
        }
    }

    /// UpdateItem's changes to a contact's or a task's own properties, applied to `current` as
    /// stored into `update`; a change of the other kind (or either on another item) is
    /// `ErrorInvalidPropertySet`. When they complete an occurrence of a recurring task, the
    /// completed occurrence's task, to be saved as a one-off beside it (`tasks::apply`).
    fn apply_typed(
        &self,
        current: &mailbox::Item,
        changes: &[&request::ItemFieldChange],
        update: &mut mailbox::ItemUpdate,
    ) -> Result<Option<String>, ResponseError> {
        // the first change the item's kind does not take, refused naming the kind it is for
        let only =
            |takes: fn(&request::ItemFieldChange) -> bool| match changes.iter().find(|c| !takes(c))
            {
                None => Ok(()),
                Some(c) => {
                    let what = if crate::tasks::is_task_change(c) {
                        "task"
                    } else if crate::contacts::is_contact_change(c) {
                        "contact"
                    } else {
                        "distribution list"
                    };
                    Err(ResponseError::new(
                        "ErrorInvalidPropertySet",
                        &format!(
                            "The change to property {} is invalid: the item is not a {what}.",
                            path_name(c.path())
                        ),
                    ))
                }
            };
        if let Some(mut l) = crate::contacts::stored_list(current) {
            only(|c| ews_proto::dlist::is_list_path(c.path()))?;
            crate::contacts::apply_list(&mut l, changes)?;
            // Exchange keeps a list's subject its display name
            if update.subject.is_none() {
                update.subject.clone_from(&l.display_name.clone().map(Some));
            }
            update.contact = Some(l.to_storage());
        } else if let Some(mut c) = crate::contacts::stored(current) {
            only(|c| !crate::tasks::is_task_change(c) && crate::contacts::is_contact_change(c))?;
            let before = c.display();
            crate::contacts::apply(&mut c, changes)?;
            // Exchange keeps a contact's subject its display name
            if update.subject.is_none() && c.display() != before {
                update.subject = Some(c.display());
            }
            update.contact = Some(c.to_storage());
        } else if let Some(mut t) = crate::tasks::stored(current) {
            only(crate::tasks::is_task_change)?;
            let one_off = crate::tasks::apply(&mut t, changes, self.ex.inner.cfg.clock.now())?;
            update.task = Some(t.to_storage());
            return Ok(one_off.map(|o| o.to_storage()));
        } else {
            only(|_| false)?;
        }
        Ok(None)
    }

    /// UpdateItem of one occurrence of a series: an exception recorded on the series
    /// (`crate::recurring::exception_for`); an organizer's meeting with the update sent sends the
    /// series as it now is to its attendees (a full update: their copies take the change).
    async fn update_occurrence(
        &self,
        u: &request::UpdateItem,
        change: &request::ItemChange,
        series: String,
        index: u32,
    ) -> Result<resp::UpdatedItem, ResponseError> {
        let update = item_update_of(&change.updates)?;
        let item = self
            .ex
            .inner
            .mbx
            .get_item(&self.key, &series)
            .await
            .map_err(|e| self.mailbox_err(&e))?;
        let exception = crate::recurring::exception_for(&item, index, &update)?;
        let overwrite = u.conflict_resolution != request::ConflictResolution::NeverOverwrite;
        let update = mailbox::ItemUpdate {
            modify_occurrence: Some(exception),
            ..mailbox::ItemUpdate::default()
        };
        // the organizer's meeting with the change sent: the attendees' copies take it
        let send = request::calendar_send(u.send_meeting_invitations_or_cancellations.as_deref());
        if send.sends() && Handler::organizes(&item) {
            let mut r = self
                .send_meeting_update(
                    u.conflict_resolution,
                    change.item_id.change_key.clone(),
                    update,
                    send,
                    &item,
                )
                .await?;
            r.item_id = Some(ItemRef {
                id: mailbox::occurrence_id(&item.id, index).map_err(|e| err(&e))?,
                change_key: r.item_id.and_then(|i| i.change_key),
            });
            return Ok(r);
        }
        match self
            .update_series(series, change.item_id.change_key.clone(), overwrite, update)
            .await
        {
            Ok((item, conflicted)) => Ok(resp::UpdatedItem {
                kind: kind_of(&item),
                item_id: Some(ItemRef {
                    id: mailbox::occurrence_id(&item.id, index).map_err(|e| err(&e))?,
                    change_key: Some(item.change_key.clone()),
                }),
                conflicts: u32::from(conflicted),
            }),
            Err(MailboxError::ChangeKeyConflict) => {
                Err(ResponseError::code("ErrorIrresolvableConflict"))
            }
            Err(e) => Err(self.mailbox_err(&e)),
        }
    }

    async fn move_or_copy_items(&self, m: request::MoveCopyItem, copy: bool) -> Vec<u8> {
        let write = |r: &[Result<Option<resp::CreatedItem>, ResponseError>]| {
            if copy {
                resp::copy_item_response(r)
            } else {
                resp::move_item_response(r)
            }
        };
        let n = m.item_ids.len();
        let all = |e: ResponseError| write(&vec![Err(e); n.max(1)]);
        let to_folder_err = |e: MailboxError| match e {
            MailboxError::FolderNotFound => ResponseError::code("ErrorToFolderNotFound"),
            e => err(&e),
        };
        if let Some(e) = too_many(n, "ids") {
            return all(e);
        }
        let to = match self.sel(&m.to_folder) {
            Ok(s) => s,
            Err(e) => return all(e),
        };
        if let Err(e) = self.authorize_write_in(&to).await {
            return all(if e.code == "ErrorFolderNotFound" {
                ResponseError::code("ErrorToFolderNotFound")
            } else {
                e
            });
        }
        // an occurrence moves or copies only with its series (Exchange's own refusal); a
        // series named by an occurrence's id is the series
        let targets: Vec<_> = m
            .item_ids
            .iter()
            .map(|r| match crate::recurring::target(r) {
                Ok(crate::recurring::Target::Occurrence { .. }) => Err(ResponseError::new(
                    "ErrorCalendarCannotMoveOrCopyOccurrence",
                    "One occurrence of a recurring series cannot be moved or copied; move or copy the series (t:RecurringMasterItemId).",
                )),
                Ok(t) => Ok(t.item_id().to_owned()),
                Err(e) => Err(e),
            })
            .collect();
        let ids: Vec<String> = targets.iter().flatten().cloned().collect();
        // moving an item out of Recoverable Items is a write there (checked by the move itself,
        // `item_guard`); copying one out is not
        let done = if ids.is_empty() {
            Ok(Vec::new())
        } else if copy {
            self.ex.inner.mbx.copy_items(&self.key, ids, to).await
        } else {
            let guard = self.item_guard();
            self.ex
                .inner
                .mbx
                .move_items(&self.key, ids, to, guard)
                .await
        };
        let done = match done {
            Ok(rs) => rs,
            Err(e) => return all(to_folder_err(e)),
        };
        let mut done = done.into_iter();
        let out: Vec<_> = targets
            .into_iter()
            .map(|t| match t.map(|_| done.next()) {
                Err(e) => Err(e),
                Ok(Some(Ok(item))) => {
                    Ok(
                        (m.return_new_item_ids != Some(false)).then(|| resp::CreatedItem {
                            kind: kind_of(&item),
                            item_id: ItemRef {
                                id: item.id.clone(),
                                change_key: Some(item.change_key.clone()),
                            },
                            attachment_ids: Vec::new(),
                        }),
                    )
                }
                Ok(Some(Err(e))) => Err(self.mailbox_err(&e)),
                Ok(None) => Err(ResponseError::code("ErrorInternalServerError")),
            })
            .collect();
        write(&out)
    }
}

/// CreateAttachment, GetAttachment and DeleteAttachment (MS-OXWSATT): file attachments of the
/// caller's items, one response message per attachment. Reading one is authorized as GetItem is
/// (`run` checked the role; Recoverable Items included). Adding or deleting one changes its item,
/// so it is authorized as UpdateItem is: `run` checked the role, and without ArchiveApplication
/// an item under Recoverable Items is refused where the write's own transaction finds it
/// (`item_guard`). Attachment content is never logged.
impl Handler<'_> {
    async fn create_attachments(&self, c: request::CreateAttachment) -> Vec<u8> {
        let n = c.attachments.len();
        if let Some(e) = too_many(n, "attachments") {
            return resp::create_attachment_response(&vec![Err(e); n]);
        }
        // an attachment without content is answered alone; the others go to the store together
        let mut answers: Vec<Option<Result<resp::CreatedAttachment, ResponseError>>> =
            Vec::with_capacity(n);
        let mut valid = Vec::with_capacity(n);
        let mut slots = Vec::with_capacity(n);
        let now = self.ex.inner.cfg.clock.now();
        let me = || self.me();
        for (slot, a) in c.attachments.into_iter().enumerate() {
            match crate::attached::stored_of(a, now, &me) {
                Ok(a) => {
                    valid.push(a);
                    slots.push(slot);
                    answers.push(None);
                }
                Err(e) => answers.push(Some(Err(e))),
            }
        }
        if !valid.is_empty() {
            match self
                .ex
                .inner
                .mbx
                .create_attachments(&self.key, c.parent.id.clone(), valid, self.item_guard())
                .await
            {
                Ok(created) => {
                    let root = ItemRef {
                        id: created.root.item_id,
                        change_key: Some(created.root.change_key),
                    };
                    for (slot, r) in slots.into_iter().zip(created.results) {
                        if let Some(answer) = answers.get_mut(slot) {
                            *answer = Some(
                                r.map(|info| resp::CreatedAttachment {
                                    is_item: info.is_item,
                                    attachment_id: info.id,
                                    root_item: root.clone(),
                                })
                                .map_err(|e| self.mailbox_err(&e)),
                            );
                        }
                    }
                }
                Err(e) => {
                    let e = self.mailbox_err(&e);
                    for slot in slots {
                        if let Some(answer) = answers.get_mut(slot) {
                            *answer = Some(Err(e.clone()));
                        }
                    }
                }
            }
        }
        let out: Vec<_> = answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(ResponseError::code("ErrorInternalServerError"))))
            .collect();
        resp::create_attachment_response(&out)
    }

    async fn get_attachments(&self, g: request::GetAttachment) -> Vec<u8> {
        // the shape shapes item attachments (all their item's properties by default, as
        // Exchange answers); a file attachment is answered whole
        let shape = attachment_item_shape(g.shape);
        let mime_domain = (shape.include_mime_content
            || shape
                .additional
                .iter()
                .any(|p| p.field_uri() == Some("item:MimeContent")))
        .then(|| self.smtp.rsplit_once('@').map_or("", |(_, d)| d));
        let n = g.attachment_ids.len();
        if let Some(e) = too_many(n, "attachment ids") {
            return resp::get_attachment_response(&shape, &vec![Err(e); n]);
        }
        match self
            .ex
            .inner
            .mbx
            .get_attachments(&self.key, g.attachment_ids)
            .await
        {
            Ok(rs) => {
                // a file's content moves into the view and is encoded straight into the response
                let out: Vec<_> = rs
                    .into_iter()
                    .map(|r| {
                        let a = r.map_err(|e| err(&e))?;
                        if a.info.is_item {
                            let item = crate::attached::decode(&a.content, mime_domain)?;
                            let mut v = attachment_view(a.info);
                            v.item = Some(Box::new(item));
                            Ok(v)
                        } else {
                            let mut v = attachment_view(a.info);
                            v.content = Some(a.content);
                            Ok(v)
                        }
                    })
                    .collect();
                resp::get_attachment_response(&shape, &out)
            }
            Err(e) => resp::get_attachment_response(&shape, &vec![Err(err(&e)); n.max(1)]),
        }
    }

    async fn delete_attachments(&self, d: request::DeleteAttachment) -> Vec<u8> {
        let n = d.attachment_ids.len();
        if let Some(e) = too_many(n, "attachment ids") {
            return resp::delete_attachment_response(&vec![Err(e); n]);
        }
        match self
            .ex
            .inner
            .mbx
            .delete_attachments(&self.key, d.attachment_ids, self.item_guard())
            .await
        {
            Ok(rs) => {
                let out: Vec<_> = rs
                    .into_iter()
                    .map(|r| {
                        r.map(|root| ItemRef {
                            id: root.item_id,
                            change_key: Some(root.change_key),
                        })
                        .map_err(|e| self.mailbox_err(&e))
                    })
                    .collect();
                resp::delete_attachment_response(&out)
            }
            Err(e) => resp::delete_attachment_response(&vec![Err(err(&e)); n.max(1)]),
        }
    }
}

/// The item shape an item attachment's item is written in: AllProperties, its body as text
/// unless the shape asks for another type (what Exchange answers to an empty shape), with the
/// shape's MIME content and additional properties.
fn attachment_item_shape(shape: Option<request::AttachmentShape>) -> ews_proto::types::ItemShape {
    let mut out = ews_proto::types::ItemShape::new(ews_proto::types::BaseShape::AllProperties);
    out.body_type = Some(ews_proto::types::ShapeBodyType::Text);
    if let Some(s) = shape {
        out.include_mime_content = s.include_mime_content;
        out.body_type = s.body_type.or(out.body_type);
        out.additional = s.additional;
    }
    out
}

/// How CreateItem answers an attachment stored with a new item.
pub(crate) fn created_attachment_id(a: &mailbox::AttachmentInfo) -> resp::CreatedAttachmentId {
    resp::CreatedAttachmentId {
        id: a.id.clone(),
        is_item: a.is_item,
    }
}

/// An attachment's properties as EWS shows them (no content).
pub(crate) fn attachment_view(a: mailbox::AttachmentInfo) -> resp::AttachmentView {
    resp::AttachmentView {
        is_item: a.is_item,
        item: None,
        id: a.id,
        name: a.name,
        content_type: a.content_type,
        content_id: a.content_id,
        size: Some(a.size),
        last_modified_time: Some(a.last_modified),
        is_inline: a.is_inline,
        is_contact_photo: a.is_contact_photo,
        content: None,
    }
}

/// The response element of a stored item (as GetItem shows it).
pub(crate) fn kind_of(i: &mailbox::Item) -> ItemKind {
    let class = i.item_class.as_str();
    if class.starts_with("IPM.Schedule.Meeting.Request") {
        ItemKind::MeetingRequest
    } else if class.starts_with("IPM.Schedule.Meeting.Resp.") {
        ItemKind::MeetingResponse
    } else if class.starts_with("IPM.Schedule.Meeting.Canceled") {
        ItemKind::MeetingCancellation
    } else if i.calendar.is_some() {
        ItemKind::CalendarItem
    } else if is_dist_list_class(class) {
        ItemKind::DistributionList
    } else if i.contact.is_some() {
        ItemKind::Contact
    } else if i.task.is_some() {
        ItemKind::Task
    } else if is_message_class(&i.item_class) {
        ItemKind::Message
    } else {
        ItemKind::Item
    }
}

/// A private distribution list's class (MS-OXOCNTC).
pub(crate) const DIST_LIST_CLASS: &str = "IPM.DistList";

/// Whether an item of this class is a private distribution list (its own properties kept where
/// a contact's are).
pub(crate) fn is_dist_list_class(class: &str) -> bool {
    class.eq_ignore_ascii_case(DIST_LIST_CLASS)
        || class
            .get(..DIST_LIST_CLASS.len() + 1)
            .is_some_and(|p| p.eq_ignore_ascii_case("IPM.DistList."))
}

/// Whether an item of this class (and no calendar part) is a message to EWS.
pub(crate) fn is_message_class(class: &str) -> bool {
    class.starts_with("IPM.Note")
        || class == "IPM"
        // reports on messages (non-delivery reports) are messages to EWS
        || class.starts_with("REPORT.IPM.Note")
}

/// Field URIs this server never sets (computed or fixed at creation: ErrorInvalidPropertySet).
const READ_ONLY_FIELDS: &[&str] = &[
    "item:ItemId",
    "item:ParentFolderId",
    "item:DateTimeReceived",
    "item:DateTimeSent",
    "item:DateTimeCreated",
    "item:LastModifiedTime",
    "item:Size",
    "item:HasAttachments",
    "item:IsAssociated",
    "item:IsDraft",
    "item:ConversationId",
    "item:EffectiveRights",
    "message:InternetMessageId",
];

/// Writable Exchange properties this server does not keep. As CreateItem ignores them on a new
/// item, UpdateItem accepts setting or deleting them and stores nothing: exchangelib's
/// `item.save()` sends every updatable field it holds (reminders, culture, references, ...).
const IGNORED_WRITABLE_FIELDS: &[&str] = &[
    "item:InReplyTo",
    "item:ReminderDueBy",
    "item:ReminderIsSet",
    "item:ReminderMinutesBeforeStart",
    "item:ReminderNextTime",
    "item:Culture",
    "message:IsResponseRequested",
    "message:IsReadReceiptRequested",
    "message:IsDeliveryReceiptRequested",
    "message:References",
    "message:ReplyTo",
];

/// A stored extended property value: `t:Value` as sent, or for a multi-valued property
/// (`t:Values`) a JSON array of the values.
fn extended_value_to_store(v: &ews_proto::types::ExtendedValue) -> String {
    match v {
        ews_proto::types::ExtendedValue::Single(s) => s.clone(),
        ews_proto::types::ExtendedValue::Multi(vs) => {
            serde_json::to_string(vs).unwrap_or_else(|_| "[]".into())
        }
    }
}

pub(crate) fn path_name(p: &ews_proto::types::PropertyPath) -> String {
    use ews_proto::types::PropertyPath as P;
    match p {
        P::Field(f) | P::Exception(f) => f.clone(),
        P::Indexed {
            field_uri,
            field_index,
        } => format!("{field_uri}[{field_index}]"),
        P::Extended(e) => format!("the extended property {}", e.canonical_key()),
    }
}

/// The one property of a Set/AppendToItemField, checked against its path.
fn single_value<'a>(
    path: &ews_proto::types::PropertyPath,
    values: &'a [request::ItemFieldValue],
) -> Result<&'a request::ItemFieldValue, ResponseError> {
    let [v] = values else {
        return Err(ResponseError::new(
            "ErrorIncorrectUpdatePropertyCount",
            &format!(
                "An object within a change description must contain one and only one property to modify; the change of {} has {}.",
                path_name(path),
                values.len()
            ),
        ));
    };
    if !v.is_for(path) {
        return Err(ResponseError::new(
            "ErrorUpdatePropertyMismatch",
            &format!(
                "The property in the item element is not {}, the property the change names.",
                path_name(path)
            ),
        ));
    }
    Ok(v)
}

pub(crate) fn body_in(b: &request::Body) -> mailbox::Body {
    mailbox::Body {
        body_type: if b.body_type == BodyType::Html {
            mailbox::BodyType::Html
        } else {
            mailbox::BodyType::Text
        },
        content: b.content.clone(),
    }
}

/// One recipient line's change after the ones before it in the same `t:ItemChange`.
/// An attendee line set (`append` false) or appended to, after the edits before it.
fn edit_attendees(
    line: &mut Option<mailbox::AttendeeEdit>,
    list: &[ews_proto::types::Attendee],
    append: bool,
) {
    let list = list.iter().map(attendee_in).collect();
    let next = if append {
        mailbox::AttendeeEdit::Append(list)
    } else {
        mailbox::AttendeeEdit::Replace(list)
    };
    *line = Some(match line.take() {
        Some(prev) => prev.then(next),
        None => next,
    });
}

fn edit_line(line: &mut Option<RecipientEdit>, next: RecipientEdit) {
    *line = Some(match line.take() {
        Some(before) => before.then(next),
        None => next,
    });
}

fn rcpts(list: &[Mailbox]) -> Vec<mailbox::Recipient> {
    list.iter().filter_map(mb_in).collect()
}

/// A draft's MIME content set anew: what it carries replaces the item's subject, body,
/// recipients, From, importance and attachments (changes after it in the same `t:ItemChange`
/// apply on top, as EWS applies them in order).
fn apply_mime(u: &mut mailbox::ItemUpdate, p: crate::mime::Parsed) {
    u.subject = Some(p.subject);
    u.body = Some(p.body);
    u.append_body = None;
    u.to = Some(RecipientEdit::Replace(p.to));
    u.cc = Some(RecipientEdit::Replace(p.cc));
    u.bcc = Some(RecipientEdit::Replace(p.bcc));
    u.from = Some(p.from);
    u.importance = Some(p.importance.unwrap_or(mailbox::Importance::Normal));
    u.replace_attachments = Some(p.attachments);
}

/// The changes of one `t:ItemChange` as one store update, applied in order (a later change of
/// the same property wins; an append after a set extends the set value). Properties this server
/// does not keep, read-only ones and actions a property does not support are per-item errors
/// named as Exchange names them.
pub(crate) fn item_update_of<'a>(
    changes: impl IntoIterator<Item = &'a request::ItemFieldChange>,
) -> Result<mailbox::ItemUpdate, ResponseError> {
    use ews_proto::types::PropertyPath as P;
    use request::{ItemFieldChange as C, ItemFieldValue as V};
    let mut u = mailbox::ItemUpdate::default();
    let unsupported = |code: &str, what: &str, p: &P| {
        let f = path_name(p);
        let why = match p {
            P::Field(f) if READ_ONLY_FIELDS.contains(&f.as_str()) => "it is read-only",
            P::Field(f) if f == "calendar:Recurrence" => {
                "a series' recurrence is kept but not changed on this server; delete the series and create it with the new recurrence"
            }
            _ => "this server does not keep or change it",
        };
        ResponseError::new(
            code,
            &format!("{what} action is invalid for property {f}: {why}."),
        )
    };
    let set_ext = |u: &mut mailbox::ItemUpdate, key: String, value: Option<String>| {
        u.set_extended.retain(|(k, _)| *k != key);
        u.remove_extended.retain(|k| *k != key);
        match value {
            Some(v) => u.set_extended.push((key, v)),
            None => u.remove_extended.push(key),
        }
    };
    for c in changes {
        match c {
            C::Set { path, values } => {
                let supported = match path {
                    P::Field(f) => matches!(
                        f.as_str(),
                        "item:ItemClass"
                            | "item:Subject"
                            | "item:Sensitivity"
                            | "item:Body"
                            | "item:Categories"
                            | "item:Importance"
                            | "message:IsRead"
                            | "message:ToRecipients"
                            | "message:CcRecipients"
                            | "message:BccRecipients"
                            | "message:From"
                            | "item:MimeContent"
                            | "calendar:Start"
                            | "calendar:End"
                            | "calendar:Location"
                            | "calendar:IsAllDayEvent"
                            | "calendar:LegacyFreeBusyStatus"
                            | "calendar:StartTimeZone"
                            | "calendar:EndTimeZone"
                            | "calendar:RequiredAttendees"
                            | "calendar:OptionalAttendees"
                            | "calendar:Resources"
                    ),
                    P::Extended(_) => true,
                    _ => false,
                };
                if let P::Field(f) = path
                    && IGNORED_WRITABLE_FIELDS.contains(&f.as_str())
                {
                    single_value(path, values)?;
                    continue;
                }
                if !supported {
                    return Err(unsupported("ErrorInvalidPropertySet", "Set", path));
                }
                match single_value(path, values)? {
                    V::ItemClass(c) => u.item_class = Some(c.clone()),
                    V::Subject(s) => u.subject = Some(Some(s.clone())),
                    V::Sensitivity(s) => {
                        u.sensitivity = mailbox::Sensitivity::parse(s.as_str());
                    }
                    V::Body(b) => {
                        u.body = Some(Some(body_in(b)));
                        u.append_body = None;
                    }
                    V::Categories(c) => u.categories = Some(c.clone()),
                    V::Importance(i) => u.importance = mailbox::Importance::parse(i.as_str()),
                    V::IsRead(r) => u.is_read = Some(*r),
                    V::ToRecipients(r) => edit_line(&mut u.to, RecipientEdit::Replace(rcpts(r))),
                    V::CcRecipients(r) => edit_line(&mut u.cc, RecipientEdit::Replace(rcpts(r))),
                    V::BccRecipients(r) => {
                        edit_line(&mut u.bcc, RecipientEdit::Replace(rcpts(r)));
                    }
                    V::From(m) => u.from = Some(mb_in(m)),
                    V::MimeContent(bytes) => apply_mime(&mut u, crate::mime::read(bytes)?),
                    V::RequiredAttendees(l) => edit_attendees(&mut u.required, l, false),
                    V::OptionalAttendees(l) => edit_attendees(&mut u.optional, l, false),
                    V::Resources(l) => edit_attendees(&mut u.resources, l, false),
                    V::Start(t) => u.start = Some(*t),
                    V::End(t) => u.end = Some(*t),
                    V::Location(l) => u.location = Some(Some(l.clone())),
                    V::IsAllDayEvent(b) => u.is_all_day = Some(*b),
                    V::LegacyFreeBusyStatus(f) => {
                        u.free_busy = mailbox::FreeBusy::parse(f.as_str());
                    }
                    // A single item keeps its times as instants, so the zone they were given
                    // on changes nothing; a series keeps the zone it was created with (its
                    // occurrences' wall clock).
                    V::StartTimeZone(_) | V::EndTimeZone(_) => {}
                    // a contact's properties are changed against the contact as stored
                    // (`crate::contacts`), never here
                    V::Contact(_) | V::Task(_) | V::DistributionList(_) => {
                        return Err(unsupported("ErrorInvalidPropertySet", "Set", path));
                    }
                    V::Extended(e) => set_ext(
                        &mut u,
                        e.uri.canonical_key(),
                        Some(extended_value_to_store(&e.value)),
                    ),
                    V::Other(_) => {
                        return Err(unsupported("ErrorInvalidPropertySet", "Set", path));
                    }
                }
            }
            C::Append { path, values } => {
                let line = match path.field_uri() {
                    Some("message:ToRecipients") => Some(&mut u.to),
                    Some("message:CcRecipients") => Some(&mut u.cc),
                    Some("message:BccRecipients") => Some(&mut u.bcc),
                    _ => None,
                };
                if let Some(line) = line {
                    let (V::ToRecipients(r) | V::CcRecipients(r) | V::BccRecipients(r)) =
                        single_value(path, values)?
                    else {
                        return Err(unsupported("ErrorInvalidPropertyAppend", "Append", path));
                    };
                    edit_line(line, RecipientEdit::Append(rcpts(r)));
                    continue;
                }
                let attendees = match path.field_uri() {
                    Some("calendar:RequiredAttendees") => Some(&mut u.required),
                    Some("calendar:OptionalAttendees") => Some(&mut u.optional),
                    Some("calendar:Resources") => Some(&mut u.resources),
                    _ => None,
                };
                if let Some(line) = attendees {
                    let (V::RequiredAttendees(l) | V::OptionalAttendees(l) | V::Resources(l)) =
                        single_value(path, values)?
                    else {
                        return Err(unsupported("ErrorInvalidPropertyAppend", "Append", path));
                    };
                    edit_attendees(line, l, true);
                    continue;
                }
                if path.field_uri() != Some("item:Body") {
                    return Err(unsupported("ErrorInvalidPropertyAppend", "Append", path));
                }
                let V::Body(b) = single_value(path, values)? else {
                    return Err(unsupported("ErrorInvalidPropertyAppend", "Append", path));
                };
                match (&mut u.body, &mut u.append_body) {
                    (Some(Some(set)), _) => set.content.push_str(&b.content),
                    (Some(None), _) => u.body = Some(Some(body_in(b))),
                    (None, Some(pending)) => pending.content.push_str(&b.content),
                    (None, None) => u.append_body = Some(body_in(b)),
                }
            }
            C::Delete { path } => match path {
                P::Field(f) => match f.as_str() {
                    "item:Subject" => u.subject = Some(None),
                    "item:Body" => {
                        u.body = Some(None);
                        u.append_body = None;
                    }
                    "item:Categories" => u.categories = Some(Vec::new()),
                    "message:ToRecipients" => edit_line(&mut u.to, RecipientEdit::Replace(vec![])),
                    "message:CcRecipients" => edit_line(&mut u.cc, RecipientEdit::Replace(vec![])),
                    "message:BccRecipients" => {
                        edit_line(&mut u.bcc, RecipientEdit::Replace(vec![]));
                    }
                    "message:From" => u.from = Some(None),
                    "calendar:RequiredAttendees" => edit_attendees(&mut u.required, &[], false),
                    "calendar:OptionalAttendees" => edit_attendees(&mut u.optional, &[], false),
                    "calendar:Resources" => edit_attendees(&mut u.resources, &[], false),
                    "calendar:Location" => u.location = Some(None),
                    "calendar:Start" | "calendar:End" => {
                        return Err(unsupported("ErrorInvalidPropertyDelete", "Delete", path));
                    }
                    "item:Importance" => u.importance = Some(mailbox::Importance::Normal),
                    "item:Sensitivity" => u.sensitivity = Some(mailbox::Sensitivity::Normal),
                    "item:ItemClass" | "message:IsRead" | "item:MimeContent" => {
                        return Err(unsupported("ErrorInvalidPropertyDelete", "Delete", path));
                    }
                    f if READ_ONLY_FIELDS.contains(&f) => {
                        return Err(unsupported("ErrorInvalidPropertyDelete", "Delete", path));
                    }
                    // a property this server does not keep has no value: deleting it is done
                    // (exchangelib's item.save() deletes every property it holds as None)
                    _ => {}
                },
                P::Extended(e) => set_ext(&mut u, e.canonical_key(), None),
                _ => return Err(unsupported("ErrorInvalidPropertyDelete", "Delete", path)),
            },
        }
    }
    Ok(u)
}

/// ConvertId for one id. This server's ids have one form, which it accepts and answers as
/// EwsId or EwsLegacyId; the MAPI forms (EntryId, HexEntryId, StoreId) and OwaId have no
/// counterpart here. Only ids of the caller's own mailbox are converted.
fn convert_id(
    a: &ews_proto::request::AlternateId,
    to: ews_proto::request::IdFormat,
    key: &MailboxKey,
) -> Result<ews_proto::request::AlternateId, ResponseError> {
    use ews_proto::request::IdFormat;
    let ours = |f: IdFormat| matches!(f, IdFormat::EwsId | IdFormat::EwsLegacyId);
    if !ours(a.format) {
        return Err(ResponseError::new(
            "ErrorInvalidIdMalformed",
            &format!(
                "Id is malformed: this server converts ids given as EwsId or EwsLegacyId, not {}.",
                a.format.as_str()
            ),
        ));
    }
    let owner = mailbox::mailbox_of_id(&a.id)
        .map_err(|_| ResponseError::new("ErrorInvalidIdMalformed", "Id is malformed."))?;
    if owner != *key {
        return Err(ResponseError::new(
            "ErrorAccessDenied",
            "The id belongs to another mailbox; ConvertId converts ids of the mailbox the caller acts on.",
        ));
    }
    if !ours(to) {
        return Err(ResponseError::new(
            "ErrorUnsupportedTypeForConversion",
            &format!(
                "Converting to {} is not supported: this server's ids have one form, EwsId (also accepted as EwsLegacyId).",
                to.as_str()
            ),
        ));
    }
    Ok(ews_proto::request::AlternateId {
        format: to,
        id: a.id.clone(),
        mailbox: a.mailbox.clone(),
        is_archive: a.is_archive,
    })
}

pub(crate) fn unreachable_folder() -> ews_proto::types::DistinguishedFolderId {
    ews_proto::types::DistinguishedFolderId::Drafts
}

pub(crate) fn mb_out(r: &mailbox::Recipient) -> Mailbox {
    Mailbox {
        name: r.name.clone(),
        email_address: Some(r.email.clone()),
        routing_type: Some("SMTP".into()),
        mailbox_type: None,
        item_id: None,
    }
}

fn attendee_in(a: &ews_proto::types::Attendee) -> mailbox::Attendee {
    mailbox::Attendee {
        mailbox: mailbox::Recipient {
            name: a.mailbox.name.clone(),
            email: a.mailbox.email_address.clone().unwrap_or_default(),
        },
        response_type: a
            .response_type
            .and_then(|r| mailbox::ResponseType::parse(r.as_str()))
            .unwrap_or_default(),
        last_response_time: a.last_response_time,
    }
}

fn attendee_out(a: &mailbox::Attendee) -> ews_proto::types::Attendee {
    ews_proto::types::Attendee {
        mailbox: mb_out(&a.mailbox),
        response_type: a.response_type.as_str().parse().ok(),
        last_response_time: a.last_response_time,
    }
}

fn mb_in(m: &Mailbox) -> Option<mailbox::Recipient> {
    m.email_address.as_ref().map(|e| mailbox::Recipient {
        name: m.name.clone(),
        email: e.clone(),
    })
}

/// A CreateItem item as the store keeps it; `now` is when it is created (a task completed on
/// creation is completed then), `me` the acting mailbox (a meeting's organizer), asked for only
/// when the item is a meeting.
pub(crate) fn to_new_item(
    mut i: ReqItem,
    now: time::OffsetDateTime,
    me: &dyn Fn() -> mailbox::Recipient,
) -> Result<mailbox::NewItem, ResponseError> {
    // the attachments (their content) move; the rest of the fields is copied
    let attachments = std::mem::take(match &mut i {
        ReqItem::Message(m) => &mut m.item.attachments,
        ReqItem::CalendarItem(c) => &mut c.item.attachments,
        ReqItem::MeetingReply(r) => &mut r.item.attachments,
        ReqItem::CancelCalendarItem(c) => &mut c.item.attachments,
        ReqItem::SmartResponse(r) => &mut r.item.attachments,
        ReqItem::Contact(c) => &mut c.item.attachments,
        ReqItem::Task(t) => &mut t.item.attachments,
        ReqItem::DistributionList(l) => &mut l.item.attachments,
    });
    let mut f = i.fields().clone();
    if let Some(p) = f.read_only.first() {
        return Err(ResponseError::new(
            "ErrorInvalidPropertySet",
            &format!(
                "Set action is invalid for property {p}: it is read-only; the server computes it."
            ),
        ));
    }
    // the message the MIME content holds; properties given beside it win
    let mime = f
        .mime_content
        .take()
        .map(|bytes| crate::mime::read(&bytes))
        .transpose()?
        .unwrap_or_default();
    if f.subject.is_none() {
        f.subject = mime.subject;
    }
    let mut mime_attachments = mime.attachments;
    let mut n = mailbox::NewItem {
        subject: f.subject,
        body: f.body.map(|b| mailbox::Body {
            body_type: if b.body_type == BodyType::Html {
                mailbox::BodyType::Html
            } else {
                mailbox::BodyType::Text
            },
            content: b.content,
        }),
        categories: f.categories,
        date_time_sent: f.date_time_sent.or(mime.date),
        date_time_created: f.date_time_created,
        extended: f
            .extended_properties
            .iter()
            .map(|e| (e.uri.canonical_key(), extended_value_to_store(&e.value)))
            .collect(),
        attachments: {
            for a in attachments {
                mime_attachments.push(crate::attached::stored_of(a, now, me)?);
            }
            mime_attachments
        },
        ..Default::default()
    };
    if n.body.is_none() {
        n.body = mime.body;
    }
    if let Some(imp) = f
        .importance
        .and_then(|x| mailbox::Importance::parse(x.as_str()))
        .or(mime.importance)
    {
        n.importance = imp;
    }
    if let Some(s) = f
        .sensitivity
        .and_then(|x| mailbox::Sensitivity::parse(x.as_str()))
    {
        n.sensitivity = s;
    }
    match i {
        ReqItem::Message(m) => {
            n.item_class = f.item_class.unwrap_or_else(|| "IPM.Note".into());
            n.from = m.from.as_ref().and_then(mb_in).or(mime.from);
            n.sender = m.sender.as_ref().and_then(mb_in);
            let line = |given: &[Mailbox], from_mime: Vec<mailbox::Recipient>| {
                if given.is_empty() {
                    from_mime
                } else {
                    rcpts(given)
                }
            };
            n.to = line(&m.to, mime.to);
            n.cc = line(&m.cc, mime.cc);
            n.bcc = line(&m.bcc, mime.bcc);
            n.internet_message_id = m.internet_message_id.or(mime.message_id);
            n.is_read = m.is_read.unwrap_or(false);
            // the thread: kept as the MAPI properties Exchange keeps them in
            for (key, value) in [
                (IN_REPLY_TO_KEY, m.in_reply_to.or(mime.in_reply_to)),
                (REFERENCES_KEY, m.references.or(mime.references)),
            ] {
                if let Some(v) = value.filter(|v| !v.is_empty()) {
                    n.extended.retain(|(k, _)| k != key);
                    n.extended.push((key.to_owned(), v));
                }
            }
        }
        ReqItem::MeetingReply(_) | ReqItem::CancelCalendarItem(_) => {
            return Err(ResponseError::new(
                "ErrorInvalidRequest",
                "A meeting response or cancellation is not stored as an item of its own.",
            ));
        }
        ReqItem::SmartResponse(_) => {
            // composed into its message first (`ews_reply`)
            return Err(ResponseError::code("ErrorInternalServerError"));
        }
        ReqItem::Contact(c) => {
            n.item_class = f.item_class.unwrap_or_else(|| "IPM.Contact".into());
            n.contact = Some(crate::contacts::new_contact(c.contact, &mut n.subject));
        }
        ReqItem::Task(t) => {
            n.item_class = f.item_class.unwrap_or_else(|| "IPM.Task".into());
            n.task = Some(crate::tasks::new_task(t.task, now)?);
        }
        ReqItem::DistributionList(l) => {
            n.item_class = f.item_class.unwrap_or_else(|| DIST_LIST_CLASS.into());
            if !is_dist_list_class(&n.item_class) {
                return Err(ResponseError::new(
                    "ErrorObjectTypeChanged",
                    "A distribution list's class is IPM.DistList (or one beneath it).",
                ));
            }
            n.contact = Some(crate::contacts::new_list(l.list, &mut n.subject)?);
        }
        ReqItem::CalendarItem(c) => {
            n.item_class = f.item_class.unwrap_or_else(|| "IPM.Appointment".into());
            if !(c.required_attendees.is_empty()
                && c.optional_attendees.is_empty()
                && c.resources.is_empty())
            {
                // organized by the acting mailbox
                let mut m = mailbox::Meeting::new(crate::ews_meeting::new_uid(), me());
                m.required = c.required_attendees.iter().map(attendee_in).collect();
                m.optional = c.optional_attendees.iter().map(attendee_in).collect();
                m.resources = c.resources.iter().map(attendee_in).collect();
                n.meeting = Some(m);
            }
            if let (Some(start), Some(end)) = (c.start, c.end) {
                let (recurrence, start, end) = match crate::recurring::new_series(&c, start, end)? {
                    Some((series, first_start, first_end)) => {
                        (Some(series), first_start, first_end)
                    }
                    None => (None, start, end),
                };
                n.calendar = Some(mailbox::Calendar {
                    start,
                    end,
                    is_all_day: c.is_all_day_event.unwrap_or(false),
                    legacy_free_busy_status: c
                        .legacy_free_busy_status
                        .and_then(|s| mailbox::FreeBusy::parse(s.as_str()))
                        .unwrap_or(mailbox::FreeBusy::Busy),
                    location: c.location,
                    recurrence,
                });
            } else if c.recurrence.is_some() {
                return Err(ResponseError::new(
                    "ErrorCalendarInvalidRecurrence",
                    "A recurring series needs its first occurrence's t:Start and t:End.",
                ));
            }
        }
    }
    Ok(n)
}

impl Handler<'_> {
    /// A `CalendarView`: the single items in the view and the occurrences of the series that
    /// reach into it, merged by start, at most the view's `MaxEntriesReturned`.
    async fn calendar_view(
        &self,
        sel: mailbox::FolderSel,
        spec: FindSpec,
        (from, to): (time::OffsetDateTime, time::OffsetDateTime),
    ) -> Result<resp::Page<ItemView>, ResponseError> {
        let max = spec.paging.max;
        let series_spec = FindSpec {
            series: true,
            paging: Paging {
                offset: 0,
                max: crate::recurring::MAX_SERIES_IN_VIEW,
                from_end: false,
            },
            ..spec.clone()
        };
        let singles = self
            .ex
            .inner
            .mbx
            .find_items(&self.key, sel.clone(), spec)
            .await
            .map_err(|e| err(&e))?;
        let series = self
            .ex
            .inner
            .mbx
            .find_items(&self.key, sel, series_spec)
            .await
            .map_err(|e| err(&e))?;
        if series.total > crate::recurring::MAX_SERIES_IN_VIEW {
            return Err(ResponseError::new(
                "ErrorCalendarViewRangeTooBig",
                &format!(
                    "More than {} recurring series reach into the view; ask for a shorter one.",
                    crate::recurring::MAX_SERIES_IN_VIEW
                ),
            ));
        }
        // Which entries the view shows is decided on (start, end) alone, and only the `max`
        // earliest are made into views: candidates are cut back to `max` + 1 as they come, so
        // a calendar of many series costs memory for one page, not for every occurrence.
        let mut total = singles.total;
        let mut all_in = singles.includes_last;
        let mut picked: Vec<(time::OffsetDateTime, time::OffsetDateTime, usize, u32)> = singles
            .items
            .iter()
            .enumerate()
            .filter_map(|(n, i)| i.calendar.as_ref().map(|c| (c.start, c.end, n, 0)))
            .collect();
        let n_singles = singles.items.len();
        // each series' rule read once, for its occurrences and for their views
        let expansions: Vec<Option<crate::recurring::Expansion>> = series
            .items
            .iter()
            .map(crate::recurring::Expansion::of)
            .collect();
        let cut = |picked: &mut Vec<_>, all_in: &mut bool| {
            picked.sort_unstable();
            if picked.len() > max {
                picked.truncate(max);
                *all_in = false;
            }
        };
        for (n, e) in expansions.iter().enumerate() {
            let Some(e) = e else { continue };
            // one more than fits tells whether the view holds more
            let occurrences = e.between(from, to, max + 1);
            total += occurrences.len();
            picked.extend(
                occurrences
                    .into_iter()
                    .map(|o| (o.start, o.end, n_singles + n, o.index)),
            );
            if picked.len() > 2 * (max + 1) {
                cut(&mut picked, &mut all_in);
            }
        }
        cut(&mut picked, &mut all_in);
        // the page's entries made into views: a single item moved into its view, a series'
        // view made once and each of its occurrences' from it
        let mut singles: Vec<Option<mailbox::Item>> = singles.items.into_iter().map(Some).collect();
        let mut bases: Vec<Option<ItemView>> = vec![None; series.items.len()];
        let mut items = Vec::with_capacity(picked.len());
        for (start, end, n, index) in picked {
            if let Some(single) = singles.get_mut(n) {
                items.extend(single.take().map(item_view));
                continue;
            }
            let k = n - n_singles;
            if let (Some(s), Some(Some(e)), Some(base)) =
                (series.items.get(k), expansions.get(k), bases.get_mut(k))
            {
                let base = base.get_or_insert_with(|| item_view(s.clone()));
                items.push(e.occurrence_view(
                    base.clone(),
                    &s.id,
                    ews_proto::recurrence::Occurrence { index, start, end },
                ));
            }
        }
        let n = items.len();
        Ok(resp::Page {
            items,
            indexed_paging_offset: Some(n as u32),
            total_items_in_view: total as u32,
            includes_last_item_in_range: all_in,
        })
    }

    /// An item's view with its MIME content (`t:MimeContent`), its attachments' content read
    /// for it.
    async fn with_mime(&self, item: mailbox::Item) -> Result<ItemView, ResponseError> {
        let attachments = if item.attachments.is_empty() {
            Vec::new()
        } else {
            let ids = item.attachments.iter().map(|a| a.id.clone()).collect();
            self.ex
                .inner
                .mbx
                .get_attachments(&self.key, ids)
                .await
                .map_err(|e| err(&e))?
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(&e))?
        };
        let domain = self.smtp.rsplit_once('@').map_or("", |(_, d)| d);
        let bytes = crate::mime::write(&item, &attachments, domain);
        let mut v = item_view(item);
        v.mime_content = Some(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            bytes,
        ));
        Ok(v)
    }
}

/// MAPI `PR_IN_REPLY_TO_ID` (0x1042): `t:InReplyTo`, the `In-Reply-To` header.
pub(crate) const IN_REPLY_TO_KEY: &str = "tag:0x1042|type:string";
/// MAPI `PR_INTERNET_REFERENCES` (0x1039): `t:References`, the `References` header.
pub(crate) const REFERENCES_KEY: &str = "tag:0x1039|type:string";

/// The stored value of an item's extended property.
pub(crate) fn extended_of<'a>(extended: &'a [(String, String)], key: &str) -> Option<&'a str> {
    extended
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// MAPI `PR_MESSAGE_FLAGS` (0x0E07, an integer), as a client may set it on a new item.
const MESSAGE_FLAGS_KEY: &str = "tag:0x0e07|type:integer";
/// Its `MSGFLAG_UNSENT` bit.
const MSGFLAG_UNSENT: i64 = 0x8;

/// Whether a message saved by CreateItem (`SaveOnly`) is a draft: a message is, as in Exchange,
/// unless the client set `PR_MESSAGE_FLAGS` without `MSGFLAG_UNSENT` (how importers store mail
/// that was sent or received elsewhere).
fn saved_as_draft(item: &mailbox::NewItem) -> bool {
    if item.is_associated || item.calendar.is_some() || !is_message_class(&item.item_class) {
        return false;
    }
    match extended_of(&item.extended, MESSAGE_FLAGS_KEY) {
        Some(v) => v
            .trim()
            .parse::<i64>()
            .is_ok_and(|f| f & MSGFLAG_UNSENT != 0),
        None => true,
    }
}

pub(crate) fn item_view(i: mailbox::Item) -> ItemView {
    let kind = kind_of(&i);
    let mut v = ItemView::new(kind, &i.id, Some(&i.change_key));
    v.contact = crate::contacts::stored(&i).map(Box::new);
    v.distribution_list = crate::contacts::stored_list(&i).map(Box::new);
    v.has_picture = i.has_contact_photo;
    v.task = crate::tasks::stored(&i).map(Box::new);
    v.parent_folder_id = Some(i.folder_id.clone());
    v.item_class = Some(i.item_class.clone());
    v.subject = i.subject.clone();
    v.body = i.body.as_ref().map(|b| {
        (
            if b.body_type == mailbox::BodyType::Html {
                BodyType::Html
            } else {
                BodyType::Text
            },
            b.content.clone(),
        )
    });
    v.date_time_received = Some(i.date_time_received);
    v.date_time_created = Some(i.date_time_created);
    v.date_time_sent = i.date_time_sent;
    v.size = Some(i.size);
    v.has_attachments = i.has_attachments;
    v.attachments = i.attachments.into_iter().map(attachment_view).collect();
    v.categories = i.categories.clone();
    v.importance = i.importance.as_str().parse().ok();
    v.sensitivity = i.sensitivity.as_str().parse().ok();
    v.is_associated = i.is_associated;
    v.from = i.from.as_ref().map(mb_out);
    v.sender = i.sender.as_ref().map(mb_out);
    v.to = i.to.iter().map(mb_out).collect();
    v.cc = i.cc.iter().map(mb_out).collect();
    v.bcc = i.bcc.iter().map(mb_out).collect();
    v.is_draft = Some(i.is_draft);
    v.internet_message_id = i.internet_message_id.clone();
    v.is_read = Some(i.is_read);
    v.in_reply_to = extended_of(&i.extended, IN_REPLY_TO_KEY).map(str::to_owned);
    v.references = extended_of(&i.extended, REFERENCES_KEY).map(str::to_owned);
    v.received_representing = i
        .meeting
        .as_ref()
        .and_then(|m| m.representing.as_ref())
        .and_then(|r| r.who.as_ref())
        .map(mb_out);
    if matches!(
        kind,
        ItemKind::Message
            | ItemKind::MeetingRequest
            | ItemKind::MeetingResponse
            | ItemKind::MeetingCancellation
    ) {
        let c = crate::conversation::of(i.subject.as_deref(), &i.extended);
        v.conversation_id = Some(c.id);
        v.conversation_index = c.index;
        v.conversation_topic = Some(c.topic);
    }
    // the writer returns those AdditionalProperties ask for
    v.extended = i
        .extended
        .iter()
        .filter_map(|(key, value)| {
            let uri = ews_proto::types::ExtendedFieldUri::from_canonical_key(key)?;
            let value = if uri.is_multi_valued() {
                ews_proto::types::ExtendedValue::Multi(serde_json::from_str(value).ok()?)
            } else {
                ews_proto::types::ExtendedValue::Single(value.clone())
            };
            Some(ews_proto::types::ExtendedProperty { uri, value })
        })
        .collect();
    if let Some(c) = &i.calendar {
        v.start = Some(c.start);
        v.end = Some(c.end);
        v.is_all_day_event = Some(c.is_all_day);
        v.legacy_free_busy_status = c.legacy_free_busy_status.as_str().parse().ok();
        v.location = c.location.clone();
    }
    crate::recurring::decorate(&mut v, &i.id, &i.change_key, i.calendar.as_ref());
    if let Some(m) = &i.meeting {
        let rt = |r: mailbox::ResponseType| r.as_str().parse().ok();
        v.uid = Some(m.uid.clone());
        v.organizer = Some(mb_out(&m.organizer));
        if kind == ItemKind::CalendarItem || kind == ItemKind::MeetingRequest {
            // an organizer's item whose attendees were all removed is an appointment again
            v.is_meeting = Some(!m.is_organizer() || m.attendees().next().is_some());
            v.is_cancelled = Some(m.is_cancelled);
            v.meeting_request_was_sent = Some(m.request_was_sent);
            v.my_response_type = rt(m.my_response);
            v.required_attendees = m.required.iter().map(attendee_out).collect();
            v.optional_attendees = m.optional.iter().map(attendee_out).collect();
            v.resources = m.resources.iter().map(attendee_out).collect();
        }
        if kind.is_meeting_message() {
            v.associated_calendar_item_id =
                m.associated_calendar_item_id.as_ref().map(|id| ItemRef {
                    id: id.clone(),
                    change_key: None,
                });
            v.has_been_processed = Some(m.has_been_processed);
            v.response_type = m.response.and_then(rt);
        }
        if kind == ItemKind::MeetingRequest {
            v.meeting_request_type = Some("NewMeetingRequest".to_owned());
            v.intended_free_busy_status = Some(ews_proto::types::LegacyFreeBusyStatus::Busy);
        }
    }
    v
}

fn config_view(
    name: &request::UserConfigurationName,
    s: mailbox::StoredUserConfig,
) -> resp::UserConfigurationView {
    request::UserConfiguration {
        name: name.clone(),
        item_id: Some(ItemRef {
            id: s.item_id,
            change_key: Some(s.change_key),
        }),
        dictionary: s
            .config
            .dictionary
            .map(|d| d.iter().map(dict_out).collect()),
        xml_data: s.config.xml_data,
        binary_data: s.config.binary_data,
    }
}

fn typed_in(t: &request::TypedValue) -> mailbox::DictValue {
    use request::DictionaryValueType as T;
    let first = t.values.first().cloned().unwrap_or_default();
    match t.value_type {
        T::Boolean => mailbox::DictValue::Boolean(first.eq_ignore_ascii_case("true")),
        T::Integer32 => first
            .parse()
            .map(mailbox::DictValue::Integer32)
            .unwrap_or(mailbox::DictValue::String(first)),
        T::UnsignedInteger32 => first
            .parse()
            .map(mailbox::DictValue::UnsignedInteger32)
            .unwrap_or(mailbox::DictValue::String(first)),
        T::Integer64 => first
            .parse()
            .map(mailbox::DictValue::Integer64)
            .unwrap_or(mailbox::DictValue::String(first)),
        T::UnsignedInteger64 => first
            .parse()
            .map(mailbox::DictValue::UnsignedInteger64)
            .unwrap_or(mailbox::DictValue::String(first)),
        T::Byte => first
            .parse()
            .map(mailbox::DictValue::Byte)
            .unwrap_or(mailbox::DictValue::String(first)),
        T::StringArray => mailbox::DictValue::StringArray(t.values.clone()),
        T::DateTime => {
            time::OffsetDateTime::parse(&first, &time::format_description::well_known::Rfc3339)
                .map(mailbox::DictValue::DateTime)
                .unwrap_or(mailbox::DictValue::String(first))
        }
        T::ByteArray => s2s_proto::b64::std_decode(&first)
            .map(mailbox::DictValue::ByteArray)
            .unwrap_or(mailbox::DictValue::String(first)),
        _ => mailbox::DictValue::String(first),
    }
}

fn typed_out(v: &mailbox::DictValue) -> request::TypedValue {
    use request::DictionaryValueType as T;
    let (t, vals) = match v {
        mailbox::DictValue::String(s) => (T::String, vec![s.clone()]),
        mailbox::DictValue::Integer32(n) => (T::Integer32, vec![n.to_string()]),
        mailbox::DictValue::UnsignedInteger32(n) => (T::UnsignedInteger32, vec![n.to_string()]),
        mailbox::DictValue::Integer64(n) => (T::Integer64, vec![n.to_string()]),
        mailbox::DictValue::UnsignedInteger64(n) => (T::UnsignedInteger64, vec![n.to_string()]),
        mailbox::DictValue::Boolean(b) => (T::Boolean, vec![b.to_string()]),
        mailbox::DictValue::Byte(b) => (T::Byte, vec![b.to_string()]),
        mailbox::DictValue::DateTime(d) => (
            T::DateTime,
            vec![
                d.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            ],
        ),
        mailbox::DictValue::ByteArray(b) => (T::ByteArray, vec![s2s_proto::b64::std_encode(b)]),
        mailbox::DictValue::StringArray(a) => (T::StringArray, a.clone()),
    };
    request::TypedValue {
        value_type: t,
        values: vals,
    }
}

fn dict_in(e: &request::DictionaryEntry) -> mailbox::DictEntry {
    mailbox::DictEntry {
        key: typed_in(&e.key),
        value: e.value.as_ref().map(typed_in),
    }
}

fn dict_out(e: &mailbox::DictEntry) -> request::DictionaryEntry {
    request::DictionaryEntry {
        key: typed_out(&e.key),
        value: e.value.as_ref().map(typed_out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{claims, signed_app_token};
    use s2s_proto::jwt;

    /// Regression: an outer token whose actor did not decode was attributed to its own nameid,
    /// the user's id, as if the user were the calling application.
    #[test]
    fn the_actor_of_a_bearer_is_never_the_user() {
        let actor = jwt::unsigned(&claims(&[("nameid", "app@realm")]));
        let outer = |a: &str| jwt::unsigned(&claims(&[("actortoken", a), ("nameid", "user-puid")]));
        assert_eq!(actor_of(&outer(&actor)).as_deref(), Some("app@realm"));
        assert_eq!(actor_of(&outer("not a token")), None);
        let no_actor = jwt::unsigned(&claims(&[("nameid", "user-puid"), ("actortoken", "")]));
        assert_eq!(actor_of(&no_actor), None);
        let bare = jwt::unsigned(&claims(&[("nameid", "user-puid")]));
        assert_eq!(actor_of(&bare), None);
        // a signed token sent alone (app-only) names itself
        let signed = signed_app_token("app@realm");
        assert_eq!(actor_of(&signed).as_deref(), Some("app@realm"));
    }
}
