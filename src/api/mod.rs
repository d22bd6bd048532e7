//! The daemon's HTTP interface: the JSON API under `/api/v1` (search, source health, the
//! ingest endpoint for collectors without a public API of their own, the OpenAPI document),
//! liveness and metrics, and the web pages of [`crate::web`] on the same listener. The only
//! module that knows HTTP for the daemon's own API (sources speak HTTP as clients in
//! `sources::http`).
//!
//! Errors of the API are JSON, in English: `{"error": "<kind>", "detail": "<what is wrong>"}`.

pub(crate) mod incidents;
mod ingest;
pub mod openapi;
mod outbox;
mod search;
pub mod users;

use crate::model::Platform;
use crate::pipeline::IngestJob;
use crate::sources::HealthState;
use crate::store::Store;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use ingest::{IngestPost, IngestReply};

/// The `[api]` section of `otklik.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSettings {
    /// Address to listen on; keep it on loopback and put nginx with TLS in front for other
    /// machines. Empty: no HTTP interface.
    pub listen: String,
    /// Largest request body accepted, bytes; a larger one is refused with 413.
    pub max_body_bytes: usize,
    /// Mark session cookies `Secure` (served over HTTPS by nginx). They are also marked so
    /// whenever the proxy sends `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
    /// The daemon runs behind a reverse proxy that sets `X-Real-IP`: use it as the client's
    /// address (sign-in limits, access log). Never set it without such a proxy: a client
    /// could then pick its own address.
    pub behind_proxy: bool,
    /// How long a sign-in lasts, hours.
    pub session_hours: u32,
    /// Collectors allowed to push posts to `POST /api/v1/ingest`, each with the SHA-256 of
    /// its token (`otklik token new NAME` makes both).
    pub ingest: Vec<IngestClient>,
}

impl Default for ApiSettings {
    fn default() -> ApiSettings {
        ApiSettings {
            listen: "127.0.0.1:8440".into(),
            max_body_bytes: 5 * 1024 * 1024,
            secure_cookies: false,
            behind_proxy: false,
            session_hours: 12,
            ingest: Vec::new(),
        }
    }
}

/// One collector allowed to push posts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestClient {
    /// Name of the collector; posts without a platform of their own are keyed under it.
    pub name: String,
    /// Hex SHA-256 of the bearer token (the token itself is never stored).
    pub token_sha256: String,
    /// Home territory of what this collector sends, when a post names none.
    #[serde(default)]
    pub territory: Option<String>,
}

/// Counters the API and the daemon share for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    pub ingest_requests: AtomicU64,
    pub ingest_posts_stored: AtomicU64,
    pub ingest_rejected: AtomicU64,
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Store,
    pub jobs: mpsc::Sender<IngestJob>,
    pub knowledge: Arc<crate::understand::Knowledge>,
    pub settings: Arc<ApiSettings>,
    pub counters: Arc<Counters>,
    pub committed_seq: Arc<dyn Fn() -> u64 + Send + Sync>,
    pub web: Arc<crate::web::WebState>,
    /// Requests to the incident queue.
    pub queue: mpsc::Sender<crate::pipeline::QueueJob>,
    /// SHA-256 of the control token of `daemon.json` (the CLI on this machine).
    pub control_token_sha: Option<String>,
    /// The daemon's time.
    pub clock: crate::time::Clock,
    /// The open incidents, kept by the pipeline thread.
    pub open: crate::incidents::view::OpenIncidents,
    /// The report endpoints, when the daemon serves them.
    pub reports: Option<crate::reports::http::ReportsState>,
}

/// A running HTTP interface.
pub(crate) struct Server {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<()>,
}

/// Bind the listener (so a taken port fails the start, not later) and serve until `stop`.
pub(crate) async fn serve(
    state: AppState,
    stop: CancellationToken,
) -> anyhow::Result<Option<Server>> {
    if state.settings.listen.is_empty() {
        return Ok(None);
    }
    let listener = tokio::net::TcpListener::bind(&state.settings.listen)
        .await
        .map_err(|e| anyhow::anyhow!("api: cannot listen on {}: {e}", state.settings.listen))?;
    let addr = listener.local_addr()?;
    let limit = state.settings.max_body_bytes;
    let app = router(state, limit);
    let task = tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stop.cancelled_owned())
        .await;
        if let Err(error) = served {
            tracing::error!(%error, "api server stopped");
        }
    });
    tracing::info!(%addr, "api listening");
    Ok(Some(Server { addr, task }))
}

/// A JSON body, or a 400 in the API's own error form that says what is wrong with it (axum
/// would answer a plain-text 422 or 400).
pub(crate) fn json_body<T>(
    body: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    body.map(|axum::Json(value)| value)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))
}

/// Who presented the control token (the CLI on the daemon's machine).
pub(crate) struct Caller {
    pub actor: String,
}

/// The control token of `daemon.json` or a refusal: the outbox and the accounts are for the
/// daemon's own command line.
pub(crate) fn control_caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let hash = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| token_hash(t.trim()))
        .ok_or_else(|| {
            ApiError::unauthorized("expected Authorization: Bearer <control token of daemon.json>")
        })?;
    let control = state
        .control_token_sha
        .as_deref()
        .is_some_and(|expected| ingest::constant_time_eq(hash.as_bytes(), expected.as_bytes()));
    if !control {
        return Err(ApiError::forbidden(
            "this is for the daemon's own command line (the control token of daemon.json)",
        ));
    }
    let actor = headers
        .get(crate::control::ACTOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    Ok(Caller { actor })
}

/// Every route: the API, the pages, and JSON or Russian answers for unknown addresses.
fn router(state: AppState, limit: usize) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/search", get(search::search))
        .route("/api/v1/sources", get(sources))
        .route("/api/v1/ingest", post(ingest::ingest))
        .route("/api/v1/incidents", get(incidents::list))
        .route("/api/v1/incidents/{id}", get(incidents::show))
        .route("/api/v1/incidents/{id}/actions", post(incidents::act))
        .route(
            "/api/v1/reports/{kind}",
            get(crate::web::reports::api_report),
        )
        .route("/api/v1/outbox", get(outbox::list))
        .route("/api/v1/outbox/{id}/retry", post(outbox::retry))
        .route("/api/v1/users", get(users::list).post(users::add))
        .route("/api/v1/users/password", post(users::password))
        .route("/api/v1/users/disable", post(users::disable))
        .route("/api/v1/users/tokens", post(users::token))
        .merge(crate::web::routes())
        .fallback(crate::web::not_found)
        .method_not_allowed_fallback(crate::web::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers every answer carries: no framing, no sniffing, no referrer leaking search terms,
/// and nothing but the page's own inline styles.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        (
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ] {
        headers.insert(name, axum::http::HeaderValue::from_static(value));
    }
    response
}

/// An error answer: a status and a message that says what is wrong.
#[derive(Debug)]
pub(crate) struct ApiError(StatusCode, String);

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError(status, detail.into())
    }

    pub fn unauthorized(detail: &str) -> ApiError {
        ApiError(StatusCode::UNAUTHORIZED, detail.to_string())
    }

    pub fn forbidden(detail: &str) -> ApiError {
        ApiError(StatusCode::FORBIDDEN, detail.to_string())
    }

    /// The status and the detail.
    pub fn parts(&self) -> (StatusCode, &str) {
        (self.0, &self.1)
    }

    pub fn internal() -> ApiError {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; the daemon's log has the details".into(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self
            .0
            .canonical_reason()
            .unwrap_or("error")
            .to_lowercase()
            .replace(' ', "_");
        let mut response = (
            self.0,
            axum::Json(serde_json::json!({ "error": kind, "detail": self.1 })),
        )
            .into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Source health as the store has it.
#[derive(Serialize)]
struct SourcesReply {
    sources: Vec<crate::store::SourceHealth>,
}

async fn sources(
    State(state): State<AppState>,
    caller: crate::web::auth::ApiCaller,
) -> Result<axum::Json<SourcesReply>, ApiError> {
    if !crate::web::auth::sees_sources(&caller.user) {
        return Err(ApiError::forbidden(
            "officials have no access to source health",
        ));
    }
    let store = state.store.clone();
    let sources = tokio::task::spawn_blocking(move || store.all_health())
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(axum::Json(SourcesReply { sources }))
}

/// Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let health = tokio::task::spawn_blocking(move || (store.all_health(), store.last_seq()))
        .await
        .ok();
    let mut out = String::new();
    out.push_str("# HELP otklik_store_last_seq Sequence number of the newest stored post.\n# TYPE otklik_store_last_seq gauge\n");
    if let Some((_, Ok(seq))) = &health {
        out.push_str(&format!("otklik_store_last_seq {seq}\n"));
    }
    out.push_str("# HELP otklik_index_committed_seq Newest stored post that is searchable.\n# TYPE otklik_index_committed_seq gauge\n");
    out.push_str(&format!(
        "otklik_index_committed_seq {}\n",
        (state.committed_seq)()
    ));
    out.push_str("# HELP otklik_source_up Source health: 1 for the state it is in.\n# TYPE otklik_source_up gauge\n");
    out.push_str("# HELP otklik_source_posts_stored_total Posts a source delivered that were new.\n# TYPE otklik_source_posts_stored_total counter\n");
    out.push_str("# HELP otklik_source_consecutive_failures Failed polls in a row.\n# TYPE otklik_source_consecutive_failures gauge\n");
    if let Some((Ok(sources), _)) = &health {
        for h in sources {
            for state in [
                HealthState::Ok,
                HealthState::Degraded,
                HealthState::Failing,
                HealthState::Disabled,
            ] {
                let value = u8::from(h.state == state);
                let state = serde_json::to_value(state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "otklik_source_up{{source=\"{}\",platform=\"{}\",state=\"{state}\"}} {value}\n",
                    escape_label(&h.source),
                    h.platform
                ));
            }
            out.push_str(&format!(
                "otklik_source_posts_stored_total{{source=\"{}\",platform=\"{}\"}} {}\n",
                escape_label(&h.source),
                h.platform,
                h.posts_stored
            ));
            out.push_str(&format!(
                "otklik_source_consecutive_failures{{source=\"{}\",platform=\"{}\"}} {}\n",
                escape_label(&h.source),
                h.platform,
                h.consecutive_failures
            ));
        }
    }
    let store = state.store.clone();
    let outbox =
        tokio::task::spawn_blocking(move || crate::alerts::outbox::OutboxFigures::read(&store))
            .await
            .ok()
            .and_then(Result::ok);
    if let Some(f) = outbox {
        out.push_str(&f.prometheus());
    }
    let c = &state.counters;
    out.push_str("# HELP otklik_ingest_requests_total Requests to the ingest endpoint.\n# TYPE otklik_ingest_requests_total counter\n");
    out.push_str(&format!(
        "otklik_ingest_requests_total {}\n",
        c.ingest_requests.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP otklik_ingest_posts_stored_total Posts stored through the ingest endpoint.\n# TYPE otklik_ingest_posts_stored_total counter\n");
    out.push_str(&format!(
        "otklik_ingest_posts_stored_total {}\n",
        c.ingest_posts_stored.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP otklik_ingest_rejected_total Ingest requests refused (auth, size, format).\n# TYPE otklik_ingest_rejected_total counter\n");
    out.push_str(&format!(
        "otklik_ingest_rejected_total {}\n",
        c.ingest_rejected.load(Ordering::Relaxed)
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `platform` values a pushed post may carry.
pub(crate) fn platform_of(name: &str) -> Option<Platform> {
    Platform::parse(name)
}

/// Hex SHA-256 of a token.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh random token: 32 bytes from the kernel's CSPRNG, hex.
pub fn new_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
