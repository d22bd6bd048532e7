//! Accounts over HTTP, for `otklik user` while the daemon runs (control token only: accounts
//! live in the store, which the daemon holds).
//!
//! - `GET /api/v1/users` — the accounts ([`UserSummary`]: no password hashes).
//! - `POST /api/v1/users` — create one ([`NewUserRequest`]).
//! - `POST /api/v1/users/password` — `{"login": …, "password": …}`: a new password (enables a
//!   disabled account); its sessions end.
//! - `POST /api/v1/users/disable` — `{"login": …}`: its sessions and tokens stop working at once.
//! - `POST /api/v1/users/tokens` — `{"login": …, "note": …}`: a new API token, shown once.
//!
//! The login travels in the body, not the path: logins may be `..` or Cyrillic.

use super::{ApiError, AppState, Caller, control_caller, json_body};
use crate::org::Owner;
use crate::store::{Role, User};
use crate::web::accounts::{self, AccountError};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An account as the command line lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserSummary {
    pub login: String,
    pub name: String,
    pub role: Role,
    pub owner: Option<Owner>,
    pub disabled: bool,
    pub created: DateTime<Utc>,
}

impl From<&User> for UserSummary {
    fn from(u: &User) -> UserSummary {
        UserSummary {
            login: u.login.clone(),
            name: u.name.clone(),
            role: u.role,
            owner: u.owner.clone(),
            disabled: u.disabled,
            created: u.created,
        }
    }
}

/// `POST /api/v1/users`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    pub login: String,
    pub role: Role,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub password: String,
}

/// `POST /api/v1/users/password`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    pub login: String,
    pub password: String,
}

/// `POST /api/v1/users/disable`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub login: String,
}

/// `POST /api/v1/users/tokens`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub login: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// The answer to `POST /api/v1/users/tokens`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IssuedToken {
    pub token: String,
}

/// Run an account operation off the async threads (argon2 takes a while) and answer with its
/// result; what the operation refuses is a 400 that says why.
async fn blocking<T: Send + 'static>(
    caller: &Caller,
    what: &'static str,
    login: String,
    op: impl FnOnce() -> Result<T, AccountError> + Send + 'static,
) -> Result<T, ApiError> {
    let result = tokio::task::spawn_blocking(op)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    match result {
        Ok(value) => {
            tracing::info!(actor = %caller.actor, %login, what, "account changed from the command line");
            Ok(value)
        }
        Err(AccountError::Invalid(message)) => Err(ApiError::new(StatusCode::BAD_REQUEST, message)),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )),
    }
}

pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<UserSummary>>, ApiError> {
    control_caller(&state, &headers)?;
    let store = state.store.clone();
    let internal = |e: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e);
    let users = tokio::task::spawn_blocking(move || store.users())
        .await
        .map_err(|e| internal(e.to_string()))?
        .map_err(|e| internal(e.to_string()))?;
    Ok(Json(users.iter().map(UserSummary::from).collect()))
}

pub(crate) async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<NewUserRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<UserSummary>), ApiError> {
    let caller = control_caller(&state, &headers)?;
    let request = json_body(request)?;
    let (store, org) = (state.store.clone(), state.web.org.clone());
    let user = blocking(&caller, "added", request.login.clone(), move || {
        accounts::add_user(
            &store,
            &org,
            &accounts::NewUser {
                login: &request.login,
                name: request.name.as_deref(),
                role: request.role,
                owner: request.owner.as_deref(),
                password: &request.password,
            },
        )
    })
    .await?;
    Ok((StatusCode::CREATED, Json(UserSummary::from(&user))))
}

pub(crate) async fn password(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<PasswordRequest>, JsonRejection>,
) -> Result<Json<UserSummary>, ApiError> {
    let caller = control_caller(&state, &headers)?;
    let request = json_body(request)?;
    let store = state.store.clone();
    blocking(&caller, "password set", request.login.clone(), move || {
        accounts::set_password(&store, &request.login, &request.password)?;
        summary(&store, &request.login)
    })
    .await
    .map(Json)
}

pub(crate) async fn disable(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<UserSummary>, ApiError> {
    let caller = control_caller(&state, &headers)?;
    let request = json_body(request)?;
    let store = state.store.clone();
    blocking(&caller, "disabled", request.login.clone(), move || {
        accounts::disable(&store, &request.login)?;
        summary(&store, &request.login)
    })
    .await
    .map(Json)
}

pub(crate) async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<TokenRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let caller = control_caller(&state, &headers)?;
    let request = json_body(request)?;
    let store = state.store.clone();
    let token = blocking(&caller, "token issued", request.login.clone(), move || {
        accounts::issue_token(&store, &request.login, request.note.as_deref())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(IssuedToken { token })))
}

/// The account as it is now.
fn summary(store: &crate::store::Store, login: &str) -> Result<UserSummary, AccountError> {
    store
        .user(login)?
        .map(|u| UserSummary::from(&u))
        .ok_or_else(|| AccountError::Invalid(format!("no user `{login}`")))
}
