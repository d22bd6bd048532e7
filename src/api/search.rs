//! `GET /api/v1/search`: the search page's results as JSON.

use super::{ApiError, AppState};
use crate::web::auth::ApiCaller;
use crate::web::search::{Found, SearchFailure, SearchParams};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;

pub(crate) async fn search(
    State(state): State<AppState>,
    caller: ApiCaller,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Json<Found>, ApiError> {
    let Query(params) = params
        .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    let checked = params.check().map_err(|bad| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{}: {}", bad.param, bad.detail),
        )
    })?;
    match crate::web::search::run(&state, checked, &caller.user, caller.ip).await {
        Ok(found) => Ok(Json(found)),
        Err(SearchFailure::Query(why)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("q: the query cannot be understood: {why}"),
        )),
        Err(SearchFailure::NoIndex) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the search index does not exist yet",
        )),
        Err(SearchFailure::Internal(error)) => {
            tracing::error!(%error, "api search");
            Err(ApiError::internal())
        }
    }
}
