//! The reports in the browser: the weekly analytical note, the heat map, the ratings and the
//! export for the regional centre, for the roles that read them (administrator, coordinator,
//! head). The reports themselves come from [`crate::reports`]; this page picks the period and
//! the format, and serves the file.

use super::PageError;
use super::auth::{ApiCaller, Viewer};
use super::layout::{esc, page};
use crate::api::{ApiError, AppState};
use crate::reports::http::ReportQuery;
use crate::reports::service::{Format, ReportKind};
use crate::store::Role;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Whether `viewer` reads the reports: they compare departments and quote residents, so an
/// official (who sees only their own incidents) does not.
pub fn sees_reports(user: &super::auth::Principal) -> bool {
    matches!(user.role, Role::Admin | Role::Coordinator | Role::Head)
}

/// A report, its title, and its formats with how they are offered.
type ReportLinks = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const KINDS: [ReportLinks; 4] = [
    (
        "weekly",
        "Еженедельная аналитическая записка",
        &[("html", "для печати"), ("docx", "Word"), ("md", "Markdown")],
    ),
    (
        "heatmap",
        "Тепловая карта: темы × территории",
        &[("html", "страница"), ("csv", "CSV"), ("json", "JSON")],
    ),
    (
        "ratings",
        "Рейтинг подразделений и территорий",
        &[("html", "страница"), ("csv", "CSV")],
    ),
    (
        "export",
        "Выгрузка для ЦУР",
        &[("xlsx", "Excel"), ("csv", "CSV")],
    ),
];

/// `GET /reports`: what there is, for the last full week or a chosen period.
pub(super) async fn index(viewer: Viewer) -> Response {
    if !sees_reports(&viewer.user) {
        return PageError::forbidden().into_response();
    }
    let mut body = format!("<style>{}</style>", crate::incidents::html::CSS);
    body.push_str(
        "<p>Отчёты строятся по данным службы на момент запроса. Без указания периода — за \
         прошедшую неделю (понедельник — воскресенье).</p>\
         <form class=\"queue-form\" method=\"get\" action=\"/reports/weekly\">\
         <div><label for=\"r-week\">Неделя (например, 2026-W47)</label><input id=\"r-week\" name=\"week\" pattern=\"[0-9]{4}-W[0-9]{2}\"></div>\
         <div><label for=\"r-format\">Формат</label><select id=\"r-format\" name=\"format\">\
         <option value=\"html\">для печати</option><option value=\"docx\">Word</option><option value=\"md\">Markdown</option></select></div>\
         <div><button type=\"submit\">Записка за неделю</button></div></form>\
         <form class=\"queue-form\" method=\"get\" action=\"/reports/heatmap\">\
         <div><label for=\"r-from\">С даты</label><input id=\"r-from\" name=\"from\" type=\"date\" required></div>\
         <div><label for=\"r-to\">По дату</label><input id=\"r-to\" name=\"to\" type=\"date\" required></div>\
         <div><button type=\"submit\">Тепловая карта за период</button></div></form>\
         <ul class=\"report-list\">",
    );
    for (kind, title, formats) in KINDS {
        let links: Vec<String> = formats
            .iter()
            .map(|(format, label)| {
                format!(
                    "<a href=\"/reports/{kind}?format={format}\">{}</a>",
                    esc(label)
                )
            })
            .collect();
        body.push_str(&format!(
            "<li><b>{}</b> за прошедшую неделю: {}</li>",
            esc(title),
            links.join(" · ")
        ));
    }
    body.push_str("</ul>");
    page(&viewer, "Отчёты", "/reports", &body).into_response()
}

/// `GET /reports/{kind}`: the report itself, as a page or a file.
pub(super) async fn report(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(kind): Path<String>,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Response {
    if !sees_reports(&viewer.user) {
        return PageError::forbidden().into_response();
    }
    let command = format!("веб-интерфейс, пользователь {}", viewer.user.login);
    match render(&state, &kind, query, command).await {
        Ok(response) => response,
        Err(Failure::NotFound) => {
            PageError::new(StatusCode::NOT_FOUND, "Такого отчёта нет.").into_response()
        }
        Err(Failure::BadQuery) => PageError::new(
            StatusCode::BAD_REQUEST,
            "Неверные параметры отчёта: формат — html, docx, md, json, csv или xlsx; неделя — вида 2026-W47; даты — вида 2026-11-23.",
        )
        .into_response(),
        Err(Failure::BadPeriod(e)) => {
            PageError::new(StatusCode::BAD_REQUEST, format!("Неверный период: {e}")).into_response()
        }
        Err(Failure::BadFormat) => PageError::new(
            StatusCode::BAD_REQUEST,
            "Этот отчёт не выпускается в таком формате.",
        )
        .into_response(),
        Err(Failure::Bad(e)) => PageError::new(StatusCode::BAD_REQUEST, e).into_response(),
        Err(Failure::Unavailable) => PageError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Отчёты в этой службе не подключены.",
        )
        .into_response(),
        Err(Failure::Internal) => PageError::internal().into_response(),
    }
}

/// `GET /api/v1/reports/{kind}`: the same for scripts (a user's token of a role that reads
/// the reports) and for `otklik report` while the daemon runs (the control token).
pub(crate) async fn api_report(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(kind): Path<String>,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Response {
    if !sees_reports(&caller.user) {
        return ApiError::forbidden("reports are for the administrator, coordinator and head")
            .into_response();
    }
    let command = format!("GET /api/v1/reports/{kind} ({})", caller.user.login);
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m).into_response();
    match render(&state, &kind, query, command).await {
        Ok(response) => response,
        Err(Failure::NotFound) => ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no report `{kind}`; expected weekly, heatmap, ratings or export"),
        )
        .into_response(),
        Err(Failure::BadQuery) => bad(
            "expected format (html, md, docx, json, csv, xlsx), week (2026-W47) or from/to (dates), now, by".into(),
        ),
        Err(Failure::BadPeriod(e)) | Err(Failure::Bad(e)) => bad(e),
        Err(Failure::BadFormat) => bad(format!("the {kind} report has no such format")),
        Err(Failure::Unavailable) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this daemon serves no reports",
        )
        .into_response(),
        Err(Failure::Internal) => ApiError::internal().into_response(),
    }
}

enum Failure {
    NotFound,
    BadQuery,
    BadPeriod(String),
    BadFormat,
    Bad(String),
    Unavailable,
    Internal,
}

async fn render(
    state: &AppState,
    kind: &str,
    query: Result<Query<ReportQuery>, QueryRejection>,
    command: String,
) -> Result<Response, Failure> {
    let reports = state.reports.clone().ok_or(Failure::Unavailable)?;
    let kind = match kind {
        "weekly" => ReportKind::Weekly,
        "heatmap" => ReportKind::Heatmap,
        "ratings" => ReportKind::Ratings,
        "export" => ReportKind::Export,
        _ => return Err(Failure::NotFound),
    };
    let Query(query) = query.map_err(|_| Failure::BadQuery)?;
    let request = query
        .request(kind, &reports.loaded, reports.clock.now(), command)
        .map_err(Failure::BadPeriod)?;
    if !kind.formats().contains(&request.format) {
        return Err(Failure::BadFormat);
    }
    let format = request.format;
    let store = reports.store.clone();
    let loaded = reports.loaded.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        crate::reports::service::from_store(&store, &loaded, &request)
    })
    .await
    .map_err(|_| Failure::Internal)?
    .map_err(
        |e| match e.downcast_ref::<crate::reports::service::BadRequest>() {
            Some(bad) => Failure::Bad(bad.0.clone()),
            None => {
                tracing::error!(error = %format!("{e:#}"), "a report failed");
                Failure::Internal
            }
        },
    )?;
    let mut response = (
        [(header::CONTENT_TYPE, rendered.content_type)],
        rendered.bytes,
    )
        .into_response();
    if format != Format::Html && format != Format::Json {
        let name = format!("otklik-{}.{}", kind_name(kind), format.extension());
        if let Ok(value) = format!("attachment; filename=\"{name}\"").parse() {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
}

fn kind_name(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Weekly => "weekly",
        ReportKind::Heatmap => "heatmap",
        ReportKind::Ratings => "ratings",
        ReportKind::Export => "export",
    }
}
