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
use axum::extract::FromRequestParts;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Who is calling and what they may see.
pub(crate) struct Caller {
    /// The name written into the timeline.
    pub actor: String,
    /// A signed-in user or a user's API token; `None` for the daemon's control token (the
    /// CLI on this machine), which acts as the administrator and sees authors.
    pub user: Option<crate::web::auth::Principal>,
}

impl Caller {
    fn can_read(&self, incident: &Incident) -> bool {
        self.user
            .as_ref()
            .is_none_or(|u| crate::web::auth::can_read_incident(u, incident))
    }

    fn can_act(&self, incident: &Incident) -> bool {
        self.user
            .as_ref()
            .is_none_or(|u| crate::web::auth::can_act(u, incident))
    }

    fn personal(&self, incident: &Incident) -> bool {
        self.user
            .as_ref()
            .is_none_or(|u| crate::web::auth::sees_personal_data(u, Some(incident)))
    }
}

/// The control token (the CLI on the daemon's machine) is the administrator; any other
/// bearer token or a browser session is a user, with that user's role checks.
pub(crate) async fn caller(state: &AppState, parts: &mut Parts) -> Result<Caller, ApiError> {
    let bearer = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| super::token_hash(t.trim()));
    let is_control = match (bearer.as_deref(), state.control_token_sha.as_deref()) {
        (Some(hash), Some(expected)) => {
            super::ingest::constant_time_eq(hash.as_bytes(), expected.as_bytes())
        }
        _ => false,
    };
    if !is_control {
        let api = crate::web::auth::ApiCaller::from_request_parts(parts, state).await?;
        return Ok(Caller {
            actor: api.user.login.clone(),
            user: Some(api.user),
        });
    }
    let user = parts
        .headers
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
        user: None,
    })
}

/// [`caller`] as an extractor.
pub(crate) struct QueueCaller(pub Caller);

impl FromRequestParts<AppState> for QueueCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        caller(state, parts).await.map(QueueCaller)
    }
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
    resonant: bool,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
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
            resonant: self.resonant,
            from: self.from,
            to: self.to,
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
    QueueCaller(caller): QueueCaller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<view::ListPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let mut filter = query.filter()?;
    // An official's list is their own department's or territory's, whatever was asked.
    if let Some(user) = &caller.user
        && user.role == crate::store::Role::Official
    {
        filter.owner = Some(
            user.owner
                .as_ref()
                .map(|o| o.id().to_string())
                .ok_or_else(|| {
                    ApiError(
                        StatusCode::FORBIDDEN,
                        "an official without a scope sees no incidents".into(),
                    )
                })?,
        );
    }
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
    QueueCaller(caller): QueueCaller,
    Path(id): Path<String>,
) -> Result<Json<view::Detail>, ApiError> {
    let id = parse_id(&id)?;
    let not_found = || ApiError(StatusCode::NOT_FOUND, format!("no incident {id}"));
    let store = state.store.clone();
    let incident = tokio::task::spawn_blocking(move || store.incident(id))
        .await
        .map_err(internal)?
        .map_err(internal)?
        // An incident the caller may not read is as good as absent.
        .filter(|i| caller.can_read(i))
        .ok_or_else(not_found)?;
    let personal = caller.personal(&incident);
    let store = state.store.clone();
    let knowledge = state.knowledge.clone();
    let user = caller.user.clone();
    let detail = tokio::task::spawn_blocking(move || {
        let detail = view::detail(&store, id, personal, Some(&knowledge))?;
        if personal && let (Some(user), Some(d)) = (&user, &detail) {
            let shown: Vec<String> = d
                .posts
                .iter()
                .filter(|p| p.author.is_some() || p.author_url.is_some())
                .map(|p| p.key.clone())
                .collect();
            crate::web::auth::log_personal_data_views(&store, user, &shown, None);
        }
        Ok::<_, crate::store::StoreError>(detail)
    })
    .await
    .map_err(internal)?
    .map_err(internal)?;
    if personal {
        tracing::info!(actor = %caller.actor, incident = id, "personal data viewed");
    }
    detail.map(Json).ok_or_else(not_found)
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
    QueueCaller(caller): QueueCaller,
    Path(id): Path<String>,
    body: Result<Json<ActionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Incident>, ApiError> {
    let id = parse_id(&id)?;
    let body = super::json_body(body)?;
    let store = state.store.clone();
    let incident = tokio::task::spawn_blocking(move || store.incident(id))
        .await
        .map_err(internal)?
        .map_err(internal)?
        .filter(|i| caller.can_read(i))
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no incident {id}")))?;
    if !caller.can_act(&incident) {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "this role may read the incident but not change it".into(),
        ));
    }
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
