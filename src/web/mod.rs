//! The coordinator's desk in a browser: server-rendered pages in Russian, no scripts and no
//! build step, usable on a phone.
//!
//! - [`auth`]: sessions, API tokens, CSRF, sign-in limits, role checks
//!   ([`auth::can_read_incident`], [`auth::can_act`], [`auth::sees_personal_data`]).
//! - [`layout`]: the shared page frame, escaping and form helpers.
//! - [`search`]: the search both the page and `GET /api/v1/search` run.
//! - [`pages`]: sign-in, search, sources; `queue`: the incident queue and an incident's page
//!   with its actions (HTML from [`crate::incidents::html`]).
//!
//! A new page is a handler taking [`auth::Viewer`] (or [`auth::CsrfForm`] for a POST),
//! rendering with [`layout::page`], added to [`routes`] and to the menu in `layout::NAV`.

pub mod accounts;
pub mod auth;
pub mod layout;
mod pages;
mod queue;
pub mod reports;
pub mod search;

use crate::api::AppState;
use crate::index::Searcher;
use crate::org::Org;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What the pages need besides the store.
pub struct WebState {
    pub org: Arc<Org>,
    pub calendar: Arc<crate::incidents::calendar::WorkCalendar>,
    pub index_dir: PathBuf,
    searcher: Mutex<Option<Arc<Searcher>>>,
    /// The index commit the searcher last reloaded at.
    reloaded_at: AtomicU64,
    pub limiter: Mutex<auth::LoginLimiter>,
    /// SHA-256 of the daemon's control token (`daemon.json`, for its own command-line tools).
    pub cli_token_hash: Option<String>,
}

impl WebState {
    pub fn new(
        org: Arc<Org>,
        calendar: Arc<crate::incidents::calendar::WorkCalendar>,
        index_dir: PathBuf,
        cli_token_hash: Option<String>,
    ) -> WebState {
        WebState {
            org,
            calendar,
            index_dir,
            searcher: Mutex::new(None),
            reloaded_at: AtomicU64::new(0),
            limiter: Mutex::new(auth::LoginLimiter::default()),
            cli_token_hash,
        }
    }

    /// A searcher that sees the index as of commit `committed` (opened on first use,
    /// reloaded when the writer has committed since).
    pub fn searcher(&self, committed: u64) -> Result<Arc<Searcher>, crate::index::SearchError> {
        let mut slot = self.searcher.lock().unwrap_or_else(|e| e.into_inner());
        let searcher = match &*slot {
            Some(s) => s.clone(),
            None => {
                let s = Arc::new(Searcher::open(&self.index_dir)?);
                *slot = Some(s.clone());
                self.reloaded_at.store(committed, Ordering::Release);
                return Ok(s);
            }
        };
        if self.reloaded_at.swap(committed, Ordering::AcqRel) != committed {
            searcher.reload()?;
        }
        Ok(searcher)
    }
}

/// The pages, mounted next to the API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/incidents", get(queue::queue))
        .route("/incidents/{id}", get(queue::incident))
        .route("/incidents/{id}/actions", post(queue::act))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/search", get(pages::search))
        .route("/sources", get(pages::sources))
        .route("/reports", get(reports::index))
        .route("/reports/{kind}", get(reports::report))
}

/// A page that could not be shown: a status and a message in Russian.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
        }
    }

    pub fn forbidden() -> PageError {
        PageError::new(
            StatusCode::FORBIDDEN,
            "Эта страница недоступна для вашей роли. Если она нужна вам для работы, обратитесь к администратору.",
        )
    }

    pub fn csrf() -> PageError {
        PageError::new(
            StatusCode::FORBIDDEN,
            "Форма устарела или отправлена не с этой страницы. Откройте страницу заново и повторите действие.",
        )
    }

    pub fn internal() -> PageError {
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Внутренняя ошибка сервера. Повторите попытку; если ошибка не исчезнет, сообщите администратору.",
        )
    }

    /// A form body that could not be read.
    pub fn from_form(rejection: axum::extract::rejection::FormRejection) -> PageError {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return PageError::new(status, "Отправлено слишком много данных.");
        }
        PageError::new(
            StatusCode::BAD_REQUEST,
            format!("Форма заполнена неверно: {}", rejection.body_text()),
        )
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = match self.status {
            StatusCode::FORBIDDEN => "Доступ запрещён",
            StatusCode::NOT_FOUND => "Страница не найдена",
            StatusCode::TOO_MANY_REQUESTS => "Слишком много попыток",
            s if s.is_client_error() => "Запрос не выполнен",
            _ => "Ошибка сервера",
        };
        let body = format!(
            "{}<p><a href=\"/\">На главную</a></p>",
            layout::notice("error", &self.message)
        );
        (self.status, layout::bare_page(title, &body)).into_response()
    }
}

/// Unknown addresses: a Russian page for people, JSON for the API.
pub(crate) async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return crate::api::ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no endpoint {}; see /api/v1/openapi.json", uri.path()),
        )
        .into_response();
    }
    PageError::new(
        StatusCode::NOT_FOUND,
        "Такой страницы нет. Проверьте адрес или начните с главной.",
    )
    .into_response()
}

/// A known address asked with a method it does not answer.
pub(crate) async fn method_not_allowed(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> Response {
    if uri.path().starts_with("/api/") {
        return crate::api::ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "{} does not answer {method}; see /api/v1/openapi.json",
                uri.path()
            ),
        )
        .into_response();
    }
    PageError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Эта страница так не открывается. Начните с главной.",
    )
    .into_response()
}
