//! The outbox over HTTP, for `otklik outbox` while the daemon runs (control token only).
//!
//! `GET /api/v1/outbox?show=open|dead|all` — counts and deliveries ([`OutboxReport`]).
//! `POST /api/v1/outbox/{id}/retry` — put a dead letter back in the queue.

use super::{ApiError, AppState, control_caller};
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
