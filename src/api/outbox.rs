//! The outbox over HTTP, for `otklik outbox` while the daemon runs (control token only).
//!
//! `GET /api/v1/outbox?show=open|dead|all` — counts and deliveries ([`OutboxReport`]).
//! `POST /api/v1/outbox/{id}/retry` — put a dead letter back in the queue.

use super::{ApiError, AppState};
use crate::alerts::admin::{self, OutboxReport, RetryError, Show};
use crate::store::Delivery;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct OutboxQuery {
    show: Show,
}

/// Who presented the control token (the CLI on the daemon's machine).
pub(super) struct Caller {
    pub actor: String,
}

/// The control token of `daemon.json` or a refusal: the outbox and the accounts are for the
/// daemon's own command line.
pub(super) fn control_caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let hash = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| super::token_hash(t.trim()))
        .ok_or_else(|| {
            ApiError::unauthorized("expected Authorization: Bearer <control token of daemon.json>")
        })?;
    let control = state.control_token_sha.as_deref().is_some_and(|expected| {
        super::ingest::constant_time_eq(hash.as_bytes(), expected.as_bytes())
    });
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

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<OutboxQuery>,
) -> Result<Json<OutboxReport>, ApiError> {
    control_caller(&state, &headers)?;
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || admin::report(&store, q.show))
        .await
        .map_err(internal)?
        .map(Json)
        .map_err(internal)
}

pub(crate) async fn retry(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Result<Json<Delivery>, ApiError> {
    let caller = control_caller(&state, &headers)?;
    let store = state.store.clone();
    let result = tokio::task::spawn_blocking(move || admin::retry(&store, id))
        .await
        .map_err(internal)?;
    match result {
        Ok(d) => {
            tracing::info!(actor = %caller.actor, delivery = id, "dead letter re-queued");
            Ok(Json(d))
        }
        Err(e @ RetryError::Unknown(_)) => Err(ApiError::new(StatusCode::NOT_FOUND, e.to_string())),
        Err(e @ RetryError::NotDead(..)) => Err(ApiError::new(StatusCode::CONFLICT, e.to_string())),
        Err(e) => Err(internal(e)),
    }
}
