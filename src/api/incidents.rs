//! The incident queue over HTTP: list, show, and every action, for the CLI (through the
//! daemon's control token) and scripts.
//!
//! `GET /api/v1/incidents` — the queue, filtered and sorted (query parameters of
//! [`ListFilter`]; `status` may repeat or be comma-separated).
//! `GET /api/v1/incidents/{id}` — an incident with its timeline and posts.
//! `POST /api/v1/incidents/{id}/actions` — `{"action": "route", "owner": "zhkh", "comment": …}`
//! and the other [`Action`]s; answers with the incident's new state, 409 with the reason when
//! the action does not fit the incident's state.

use super::{ApiError, AppState};
use crate::incidents::queue::{Action, Request};
use crate::incidents::view::{self, ListFilter};
use crate::model::IncidentId;
use crate::pipeline::QueueJob;
use crate::store::Incident;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

/// Who is calling and what they may see.
pub(crate) struct Caller {
    /// The name written into the timeline.
    pub actor: String,
    /// May see authors' names and profile links.
    pub personal: bool,
}

/// The control token (the CLI on the daemon's machine) is the administrator.
pub(crate) fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let unauthorized = |why: &str| ApiError(StatusCode::UNAUTHORIZED, why.to_string());
    let Some(expected) = state.control_token_sha.as_deref() else {
        return Err(unauthorized("this daemon accepts no control token"));
    };
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <token>"))?;
    let hash = super::token_hash(token.trim());
    if !super::ingest::constant_time_eq(hash.as_bytes(), expected.as_bytes()) {
        return Err(unauthorized("unknown token"));
    }
    let user = headers
        .get(crate::control::ACTOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect::<String>()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    Ok(Caller {
        actor: format!("{user} (командная строка)"),
        personal: true,
    })
}

/// Query string of the list: like [`ListFilter`], with `status` as a comma-separated list.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ListQuery {
    status: Option<String>,
    owner: Option<String>,
    territory: Option<String>,
    group: Option<String>,
    overdue: bool,
    urgent: bool,
    sort: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

impl ListQuery {
    pub(crate) fn filter(self) -> Result<ListFilter, ApiError> {
        let filter = ListFilter {
            status: self
                .status
                .map(|s| {
                    s.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            owner: self.owner,
            territory: self.territory,
            group: self.group,
            overdue: self.overdue,
            urgent: self.urgent,
            sort: self.sort,
            limit: Some(self.limit.unwrap_or(100).min(1000)),
            offset: self.offset,
        };
        filter
            .validate()
            .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
        Ok(filter)
    }
}

pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<view::ListPage>, ApiError> {
    caller(&state, &headers)?;
    let Query(query) = query.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let filter = query.filter()?;
    let store = state.store.clone();
    let now = state.clock.now();
    let open = state.open.clone();
    let page = tokio::task::spawn_blocking(move || view::list(&store, Some(&open), &filter, now))
        .await
        .map_err(internal)?
        .map_err(internal)?;
    Ok(Json(page))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<view::Detail>, ApiError> {
    let caller = caller(&state, &headers)?;
    let id = parse_id(&id)?;
    let store = state.store.clone();
    let detail = tokio::task::spawn_blocking(move || view::detail(&store, id, caller.personal))
        .await
        .map_err(internal)?
        .map_err(internal)?;
    if caller.personal {
        tracing::info!(actor = %caller.actor, incident = id, "personal data viewed");
    }
    detail
        .map(Json)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no incident {id}")))
}

/// The body of an action: the action itself and an optional comment.
#[derive(Debug, Deserialize)]
pub(crate) struct ActionBody {
    #[serde(default)]
    comment: Option<String>,
    #[serde(flatten)]
    action: Action,
}

pub(crate) async fn act(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<ActionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Incident>, ApiError> {
    let caller = caller(&state, &headers)?;
    let id = parse_id(&id)?;
    let Json(body) = body.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let request = Request {
        incident: id,
        actor: caller.actor,
        comment: body.comment,
        action: body.action,
    };
    perform(&state, request).await.map(Json)
}

/// Send a request to the pipeline thread and wait until it is durable.
pub(crate) async fn perform(state: &AppState, request: Request) -> Result<Incident, ApiError> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    state
        .queue
        .send(QueueJob::Act { request, reply })
        .await
        .map_err(|_| {
            ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "the daemon is stopping".into(),
            )
        })?;
    match answer.await {
        Ok(Ok(incident)) => Ok(incident),
        Ok(Err(e)) if e.refused && e.message.contains("не найден") => {
            Err(ApiError(StatusCode::NOT_FOUND, e.message))
        }
        Ok(Err(e)) if e.refused => Err(ApiError(StatusCode::CONFLICT, e.message)),
        Ok(Err(e)) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.message)),
        Err(_) => Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the daemon is stopping".into(),
        )),
    }
}

fn parse_id(id: &str) -> Result<IncidentId, ApiError> {
    id.parse().map_err(|_| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("`{id}` is not an incident number"),
        )
    })
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}
