//! The incident queue in the browser: the list (an official sees their department's or
//! territory's only), an incident's page, and its actions. The HTML comes from
//! [`crate::incidents::html`]; this module decides who may see and do what, and logs views of
//! authors' personal data.

use super::PageError;
use super::auth::{
    CsrfForm, Viewer, can_act, can_read_incident, log_personal_data_views, sees_personal_data,
};
use super::layout::{notice, page};
use crate::api::AppState;
use crate::incidents::html;
use crate::incidents::queue::Request;
use crate::incidents::view::{self, ListFilter, Names};
use crate::model::IncidentId;
use crate::store::Role;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;

fn names(state: &AppState) -> Names<'_> {
    Names {
        org: &state.web.org,
        taxonomy: &state.knowledge.taxonomy,
        calendar: &state.web.calendar,
    }
}

fn with_css(body: String) -> String {
    format!("<style>{}</style>{body}", html::CSS)
}

/// The filter from the form's fields; empty fields mean "any". A bound of the period that is
/// no RFC 3339 instant is an error that names it.
fn filter_of(q: &HashMap<String, String>) -> Result<ListFilter, String> {
    let get = |k: &str| {
        q.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let flag = |k: &str| matches!(get(k).as_deref(), Some("true" | "1" | "on"));
    let instant = |k: &str| {
        get(k)
            .map(|v| {
                chrono::DateTime::parse_from_rfc3339(&v)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|e| {
                        format!("{k} `{v}`: {e} (expected an instant such as 2026-11-16T21:00:00Z)")
                    })
            })
            .transpose()
    };
    Ok(ListFilter {
        resonant: flag("resonant"),
        from: instant("from")?,
        to: instant("to")?,
        status: get("status")
            .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
            .unwrap_or_default(),
        owner: get("owner"),
        territory: get("territory"),
        group: get("group"),
        overdue: flag("overdue"),
        urgent: flag("urgent"),
        sort: get("sort"),
        limit: Some(
            get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(200usize)
                .min(1000),
        ),
        offset: get("offset").and_then(|o| o.parse().ok()),
    })
}

pub(super) async fn queue(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut filter = match filter_of(&q) {
        Ok(filter) => filter,
        Err(problem) => return bad_filter(&viewer, &problem),
    };
    // An official's queue is their own department's or territory's, whatever was asked.
    if viewer.user.role == Role::Official {
        filter.owner = viewer.user.owner.as_ref().map(|o| o.id().to_string());
        if filter.owner.is_none() {
            return PageError::forbidden().into_response();
        }
    }
    if let Err(problem) = filter.validate() {
        return bad_filter(&viewer, &problem);
    }
    let store = state.store.clone();
    let open = state.open.clone();
    let now = state.clock.now();
    let list_filter = filter.clone();
    let listed =
        tokio::task::spawn_blocking(move || view::list(&store, Some(&open), &list_filter, now))
            .await;
    let page_data = match listed {
        Ok(Ok(p)) => p,
        _ => return PageError::internal().into_response(),
    };
    let body = html::queue_page(&page_data, &filter, &names(&state), now);
    page(&viewer, "Очередь инцидентов", "/incidents", &with_css(body)).into_response()
}

/// The queue page refusing a filter, with what is wrong.
fn bad_filter(viewer: &Viewer, problem: &str) -> Response {
    let body = notice("error", &format!("Неверный отбор: {problem}"));
    (
        StatusCode::BAD_REQUEST,
        page(viewer, "Очередь инцидентов", "/incidents", &body),
    )
        .into_response()
}

fn parse_id(id: &str) -> Result<IncidentId, PageError> {
    id.parse()
        .map_err(|_| PageError::new(StatusCode::NOT_FOUND, "Такого инцидента нет."))
}

/// Render an incident's page for `viewer`, with `message` above it.
async fn incident_response(
    state: &AppState,
    viewer: &Viewer,
    id: IncidentId,
    message: Option<(StatusCode, String)>,
) -> Response {
    let store = state.store.clone();
    let Ok(Ok(incident)) = tokio::task::spawn_blocking(move || store.incident(id)).await else {
        return PageError::internal().into_response();
    };
    let Some(incident) = incident.filter(|i| can_read_incident(&viewer.user, i)) else {
        // Not telling an official whether another department's incident exists.
        return PageError::new(
            StatusCode::NOT_FOUND,
            "Такого инцидента нет или он вам недоступен.",
        )
        .into_response();
    };
    let personal = sees_personal_data(&viewer.user, Some(&incident));
    let acts = can_act(&viewer.user, &incident);
    let store = state.store.clone();
    let knowledge = state.knowledge.clone();
    let user = viewer.user.clone();
    let ip = viewer.ip;
    let detail = tokio::task::spawn_blocking(move || {
        let detail = view::detail(&store, id, personal, Some(&knowledge))?;
        if personal && let Some(d) = &detail {
            let shown: Vec<String> = d
                .posts
                .iter()
                .filter(|p| p.author.is_some() || p.author_url.is_some())
                .map(|p| p.key.clone())
                .collect();
            log_personal_data_views(&store, &user, &shown, ip);
        }
        Ok::<_, crate::store::StoreError>(detail)
    })
    .await;
    let Ok(Ok(Some(detail))) = detail else {
        return PageError::internal().into_response();
    };
    let now = state.clock.now();
    let mut body = String::new();
    let status = match &message {
        Some((status, text)) => {
            body.push_str(&notice(
                if status.is_success() { "" } else { "error" },
                text,
            ));
            *status
        }
        None => StatusCode::OK,
    };
    body.push_str(&html::incident_page(
        &detail,
        &names(state),
        now,
        &viewer.csrf,
        acts,
    ));
    let title = format!("Инцидент № {id}");
    (status, page(viewer, &title, "/incidents", &with_css(body))).into_response()
}

pub(super) async fn incident(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    match parse_id(&id) {
        Ok(id) => incident_response(&state, &viewer, id, None).await,
        Err(e) => e.into_response(),
    }
}

pub(super) async fn act(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: CsrfForm<HashMap<String, String>>,
) -> Response {
    let viewer = posted.viewer;
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let store = state.store.clone();
    let Ok(Ok(incident)) = tokio::task::spawn_blocking(move || store.incident(id)).await else {
        return PageError::internal().into_response();
    };
    let Some(incident) = incident.filter(|i| can_read_incident(&viewer.user, i)) else {
        return PageError::new(
            StatusCode::NOT_FOUND,
            "Такого инцидента нет или он вам недоступен.",
        )
        .into_response();
    };
    if !can_act(&viewer.user, &incident) {
        return PageError::new(
            StatusCode::FORBIDDEN,
            "Ваша роль позволяет просматривать этот инцидент, но не изменять его.",
        )
        .into_response();
    }
    let (action, comment) = match html::action_from_form(&posted.form) {
        Ok(parsed) => parsed,
        Err(problem) => {
            return incident_response(
                &state,
                &viewer,
                id,
                Some((StatusCode::BAD_REQUEST, problem)),
            )
            .await;
        }
    };
    let request = Request {
        incident: id,
        actor: viewer.user.login.clone(),
        comment,
        action,
    };
    match crate::api::incidents::perform(&state, request).await {
        Ok(_) => Redirect::to(&format!("/incidents/{id}")).into_response(),
        Err(error) => {
            let (status, detail) = error.parts();
            let status = if status == StatusCode::CONFLICT || status == StatusCode::NOT_FOUND {
                status
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            let text = if status == StatusCode::INTERNAL_SERVER_ERROR {
                "Действие не выполнено из-за внутренней ошибки.".to_string()
            } else {
                format!("Действие не выполнено: {detail}")
            };
            incident_response(&state, &viewer, id, Some((status, text))).await
        }
    }
}
