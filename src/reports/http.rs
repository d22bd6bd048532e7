//! `GET /api/v1/reports/{weekly|heatmap|ratings|export}`: the reports from the running
//! daemon, which holds the store (the CLI comes here when the store is locked).
//!
//! Query: `format` (as the CLI's `--format`), and either `week=2026-W47` or
//! `from`/`to` (a date or an RFC 3339 instant; a date `to` is inclusive), optional `now`
//! (RFC 3339) to judge overdue at another instant. Without a period: the last full week.
//!
//! The reports quote residents' posts: like the queue's endpoints they want the daemon's
//! control token (`Authorization: Bearer …`, from `daemon.json`); the web interface will
//! serve them to its signed-in users.

use super::service::{Format, ReportKind, ReportRequest};
use crate::config::Loaded;
use crate::store::Store;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;

/// What the report endpoints need.
#[derive(Clone)]
pub struct ReportsState {
    pub store: Store,
    pub loaded: Arc<Loaded>,
    pub clock: crate::time::Clock,
    /// SHA-256 of the control token; `None`: every request is refused.
    pub control_token_sha: Option<String>,
}

/// The query of a report request (also what the CLI sends).
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
pub struct ReportQuery {
    pub format: Option<Format>,
    pub week: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub now: Option<String>,
    /// Ratings: `owner` (default) or `territory`.
    pub by: Option<super::ratings::RatingBy>,
}

impl ReportQuery {
    /// The request this query asks for, judged at `now` unless it names another instant.
    pub fn request(
        &self,
        kind: ReportKind,
        loaded: &Loaded,
        now: chrono::DateTime<chrono::Utc>,
        command: String,
    ) -> Result<ReportRequest, String> {
        let cal = &loaded.calendar;
        let now = match &self.now {
            Some(t) => super::parse_instant(t, cal)?,
            None => now,
        };
        let period = match (&self.week, &self.from, &self.to) {
            (Some(w), None, None) => super::parse_week(w, cal)?,
            (Some(_), _, _) => return Err("give either a week or from/to, not both".into()),
            (None, None, None) => super::weekly::previous_week(now, cal),
            (None, from, to) => {
                let to = match to {
                    Some(t) => parse_end(t, cal)?,
                    None => now,
                };
                let from = match from {
                    Some(f) => super::parse_instant(f, cal)?,
                    None => return Err("`to` needs `from`".into()),
                };
                super::Period { from, to }
            }
        };
        Ok(ReportRequest {
            kind,
            format: self.format.unwrap_or(kind.formats()[0]),
            period,
            now,
            command,
            rating_by: self.by.unwrap_or_default(),
        })
    }
}

/// The end of a period: a date means the end of that day; an instant is taken as is.
pub fn parse_end(
    text: &str,
    cal: &crate::incidents::calendar::WorkCalendar,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        return Ok(cal.local_midnight(date + chrono::TimeDelta::days(1)));
    }
    super::parse_instant(text, cal)
}

/// The report routes with their state, to merge into the API router.
pub fn routes(state: ReportsState) -> Router {
    Router::new()
        .route("/api/v1/reports/{kind}", get(report))
        .with_state(state)
}

fn error(status: StatusCode, message: String) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

fn authorized(state: &ReportsState, headers: &axum::http::HeaderMap) -> bool {
    let Some(expected) = state.control_token_sha.as_deref() else {
        return false;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| {
            crate::api::constant_time_eq(
                crate::api::token_hash(token.trim()).as_bytes(),
                expected.as_bytes(),
            )
        })
}

async fn report(
    State(state): State<ReportsState>,
    Path(kind): Path<String>,
    Query(query): Query<ReportQuery>,
    headers: axum::http::HeaderMap,
) -> Response {
    if !authorized(&state, &headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "expected Authorization: Bearer <control token of daemon.json>".into(),
        );
    }
    let kind = match kind.as_str() {
        "weekly" => ReportKind::Weekly,
        "heatmap" => ReportKind::Heatmap,
        "ratings" => ReportKind::Ratings,
        "export" => ReportKind::Export,
        other => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no report `{other}`; expected weekly, heatmap, ratings or export"),
            );
        }
    };
    let command = format!("GET /api/v1/reports/{kind:?} {query:?}").to_lowercase();
    let request = match query.request(kind, &state.loaded, state.clock.now(), command) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let result = tokio::task::spawn_blocking(move || {
        super::service::from_store(&state.store, &state.loaded, &request)
    })
    .await;
    match result {
        Ok(Ok(rendered)) => (
            [(header::CONTENT_TYPE, rendered.content_type)],
            rendered.bytes,
        )
            .into_response(),
        Ok(Err(e)) => match e.downcast_ref::<super::service::BadRequest>() {
            Some(bad) => error(StatusCode::BAD_REQUEST, bad.0.clone()),
            None => error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
        },
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
