//! The pages: sign-in and sign-out, search, sources.

use super::PageError;
use super::auth::{
    self, CsrfForm, LOGIN_CSRF_COOKIE, SESSION_COOKIE, Viewer, constant_time_eq, cookie,
    sees_sources, set_cookie,
};
use super::layout::{bare_page, esc, moscow, notice, page};
use super::search::{BadParam, Found, SearchFailure, SearchParams};
use crate::api::AppState;
use crate::store::{AccessEvent, AccessKind};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;

pub(super) async fn home(_viewer: Viewer) -> Redirect {
    Redirect::to("/incidents")
}

#[derive(Deserialize, Default)]
pub(super) struct NextParam {
    #[serde(default)]
    next: Option<String>,
}

/// Only a path on this site may follow the sign-in (no open redirect), and only one that can
/// stand in a `Location` header (no control characters).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.into()
        }
        _ => "/".into(),
    }
}

fn login_page(csrf: &str, next: &str, message: Option<&str>) -> Html<String> {
    let body = format!(
        "{message}<form class=\"login\" method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label for=\"login\">Имя пользователя</label>\
         <input id=\"login\" name=\"login\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Пароль</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Войти</button></form>\
         <p>Учётную запись выдаёт администратор системы.</p>",
        message = message.map(|m| notice("error", m)).unwrap_or_default(),
        csrf = esc(csrf),
        next = esc(next),
    );
    bare_page("Вход", &body)
}

/// The sign-in form, with a fresh double-submit token in a cookie and in the form.
pub(super) async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    next: Result<Query<NextParam>, QueryRejection>,
) -> Response {
    let next = safe_next(next.as_ref().ok().and_then(|q| q.next.as_deref()));
    let csrf = auth::new_secret();
    let secure = auth::secure_request(&headers, &state);
    let mut response = login_page(&csrf, &next, None).into_response();
    set(
        &mut response,
        &set_cookie(LOGIN_CSRF_COOKIE, &csrf, "/login", Some(3600), secure),
    );
    response
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

pub(super) async fn login(
    State(state): State<AppState>,
    auth::ClientIp(ip): auth::ClientIp,
    headers: HeaderMap,
    form: Result<axum::Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match form {
        Ok(axum::Form(form)) => form,
        Err(rejection) => return PageError::from_form(rejection).into_response(),
    };
    let secure = auth::secure_request(&headers, &state);
    let next = safe_next(form.next.as_deref());
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return PageError::csrf().into_response();
    }
    let login = form.login.trim().to_string();
    let allowed = state
        .web
        .limiter
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .allows(ip, &login);
    let store = state.store.clone();
    let log = move |store: &crate::store::Store, login: &str, kind: AccessKind| {
        let event = AccessEvent {
            at: Utc::now(),
            login: login.to_string(),
            kind,
            ip: ip.map(|ip| ip.to_string()),
        };
        if let Err(error) = store.log_access(&event, true) {
            tracing::error!(%error, "cannot write the access log");
        }
    };
    if !allowed {
        let (store, who) = (store.clone(), login.clone());
        let _ =
            tokio::task::spawn_blocking(move || log(&store, &who, AccessKind::SignInLimited)).await;
        return PageError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Слишком много неудачных попыток входа. Подождите 15 минут и попробуйте снова.",
        )
        .into_response();
    }
    let hours = state.settings.session_hours;
    let who = login.clone();
    let password = form.password;
    let outcome = tokio::task::spawn_blocking(move || -> crate::store::Result<Option<String>> {
        let user = store.user(&who)?.filter(|u| !u.disabled);
        let hash = user
            .as_ref()
            .map_or(auth::dummy_hash(), |u| u.password_hash.as_str());
        let matches = auth::verify_password(&password, hash);
        match user {
            Some(user) if matches => {
                // Expired sessions are forgotten here: signing in is rare enough, and there
                // are never many of them.
                store.remove_expired_sessions(Utc::now())?;
                let id = auth::start_session(&store, &user.login, hours)?;
                log(&store, &user.login, AccessKind::SignedIn);
                Ok(Some(id))
            }
            _ => {
                log(&store, &who, AccessKind::SignInFailed);
                Ok(None)
            }
        }
    })
    .await;
    match outcome {
        Ok(Ok(Some(id))) => {
            state
                .web
                .limiter
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .succeeded(ip, &login);
            let mut response = Redirect::to(&next).into_response();
            let max_age = i64::from(hours) * 3600;
            set(
                &mut response,
                &set_cookie(SESSION_COOKIE, &id, "/", Some(max_age), secure),
            );
            set(
                &mut response,
                &set_cookie(LOGIN_CSRF_COOKIE, "", "/login", Some(0), secure),
            );
            response
        }
        Ok(Ok(None)) => {
            state
                .web
                .limiter
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .failed(ip, &login);
            let csrf = auth::new_secret();
            let mut response = (
                StatusCode::UNAUTHORIZED,
                login_page(
                    &csrf,
                    &next,
                    Some("Неверное имя пользователя или пароль, или учётная запись отключена."),
                ),
            )
                .into_response();
            set(
                &mut response,
                &set_cookie(LOGIN_CSRF_COOKIE, &csrf, "/login", Some(3600), secure),
            );
            response
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "signing in");
            PageError::internal().into_response()
        }
        Err(error) => {
            tracing::error!(%error, "signing in");
            PageError::internal().into_response()
        }
    }
}

#[derive(Deserialize)]
pub(super) struct NoFields {}

pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    posted: CsrfForm<NoFields>,
) -> Response {
    let secure = auth::secure_request(&headers, &state);
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        let store = state.store.clone();
        let viewer = posted.viewer.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = store.remove_session(&crate::api::token_hash(&id));
            let _ = store.log_access(
                &AccessEvent {
                    at: Utc::now(),
                    login: viewer.user.login,
                    kind: AccessKind::SignedOut,
                    ip: viewer.ip.map(|ip| ip.to_string()),
                },
                true,
            );
        })
        .await;
    }
    let mut response = Redirect::to("/login").into_response();
    set(
        &mut response,
        &set_cookie(SESSION_COOKIE, "", "/", Some(0), secure),
    );
    response
}

fn set(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The search page: the form, facets to narrow by, a histogram by day, highlighted snippets.
pub(super) async fn search(
    State(state): State<AppState>,
    viewer: Viewer,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    let params = match params {
        Ok(Query(p)) => p,
        Err(rejection) => {
            return PageError::new(
                StatusCode::BAD_REQUEST,
                format!("Адрес страницы поиска искажён: {}", rejection.body_text()),
            )
            .into_response();
        }
    };
    let searched = params != SearchParams::default();
    let (status, results) = match params.check() {
        Err(bad) => (
            StatusCode::BAD_REQUEST,
            notice("error", &bad_param_ru(&bad)),
        ),
        Ok(checked) => match super::search::run(&state, checked, &viewer.user, viewer.ip).await {
            Ok(found) => (
                StatusCode::OK,
                render_found(&state, &params, &found, searched),
            ),
            Err(SearchFailure::Query(why)) => (
                StatusCode::BAD_REQUEST,
                notice(
                    "error",
                    &format!(
                        "Запрос не разобран: {why}. Проверьте кавычки и скобки; слова AND, OR, NOT пишутся заглавными."
                    ),
                ),
            ),
            Err(SearchFailure::NoIndex) => (
                StatusCode::SERVICE_UNAVAILABLE,
                notice(
                    "error",
                    "Поисковый индекс ещё не создан: сообщения пока не поступали.",
                ),
            ),
            Err(SearchFailure::Internal(error)) => {
                tracing::error!(%error, "search page");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    notice("error", "Поиск не выполнен из-за внутренней ошибки."),
                )
            }
        },
    };
    let body = format!("{}{results}", search_form(&state, &params));
    (
        status,
        page(&viewer, "Поиск по сообщениям", "/search", &body),
    )
        .into_response()
}

fn bad_param_ru(bad: &BadParam) -> String {
    let what = match bad.param {
        "q" => "Запрос слишком длинный",
        "page" => "Неверный номер страницы",
        "per_page" => "Неверное число результатов на странице",
        "sort" => "Неизвестный порядок сортировки",
        "since" => "Неверная дата «с»",
        "until" => "Неверная дата «по»",
        "incidents" => "Неверное значение отбора инцидентов",
        _ => "Неверный параметр поиска",
    };
    format!("{what} ({}).", bad.detail)
}

fn search_form(state: &AppState, p: &SearchParams) -> String {
    let value = |v: &Option<String>| esc(v.as_deref().unwrap_or(""));
    let options = |selected: &Option<String>, items: Vec<(String, String)>| {
        let mut out = String::from("<option value=\"\">все</option>");
        for (id, label) in items {
            let sel = if selected.as_deref() == Some(id.as_str()) {
                " selected"
            } else {
                ""
            };
            out.push_str(&format!(
                "<option value=\"{}\"{sel}>{}</option>",
                esc(&id),
                esc(&label)
            ));
        }
        out
    };
    let mut territories: Vec<(String, String)> = state
        .web
        .org
        .territories
        .iter()
        .map(|t| (t.id.clone(), t.name.clone()))
        .collect();
    for id in ["district", "outside"] {
        territories.push((id.into(), state.web.org.territory_name(id)));
    }
    let groups: Vec<(String, String)> = state
        .knowledge
        .taxonomy
        .groups
        .iter()
        .map(|g| (g.id.clone(), g.name.clone()))
        .collect();
    let platforms: Vec<(String, String)> = crate::model::Platform::ALL
        .iter()
        .map(|p| {
            (
                p.as_str().to_string(),
                platform_label(p.as_str()).to_string(),
            )
        })
        .collect();
    let checked = if matches!(p.incidents.as_deref(), Some("1" | "true" | "on")) {
        " checked"
    } else {
        ""
    };
    let best = if p.sort.as_deref() == Some("best") {
        " selected"
    } else {
        ""
    };
    format!(
        "<form class=\"search-form\" method=\"get\" action=\"/search\" role=\"search\">\
         <div class=\"q\"><label for=\"q\">Запрос</label>\
         <input id=\"q\" name=\"q\" value=\"{q}\" placeholder=\"например: нет воды, «яма на дороге», свет NOT реклама\"></div>\
         <div><label for=\"source\">Источник</label><select id=\"source\" name=\"source\">{sources}</select></div>\
         <div><label for=\"territory\">Территория</label><select id=\"territory\" name=\"territory\">{territories}</select></div>\
         <div><label for=\"group\">Тема</label><select id=\"group\" name=\"group\">{groups}</select></div>\
         <div><label for=\"since\">С</label><input id=\"since\" name=\"since\" type=\"date\" value=\"{since}\"></div>\
         <div><label for=\"until\">По</label><input id=\"until\" name=\"until\" type=\"date\" value=\"{until}\"></div>\
         <div><label for=\"sort\">Порядок</label><select id=\"sort\" name=\"sort\"><option value=\"newest\">сначала новые</option><option value=\"best\"{best}>сначала точные</option></select></div>\
         <div><label><input type=\"checkbox\" name=\"incidents\" value=\"1\"{checked}> только инциденты</label></div>\
         <button type=\"submit\">Найти</button></form>",
        q = value(&p.q),
        sources = options(&p.source, platforms),
        territories = options(&p.territory, territories),
        groups = options(&p.group, groups),
        since = value(&p.since),
        until = value(&p.until),
    )
}

fn platform_label(id: &str) -> &str {
    match id {
        "vk" => "ВКонтакте",
        "ok" => "Одноклассники",
        "telegram" => "Telegram",
        "rss" => "RSS (сайты и СМИ)",
        "ingest" => "переданные сборщиками",
        other => other,
    }
}

/// The search page's address with `changes` applied (page reset unless changed).
fn link(p: &SearchParams, changes: &[(&str, Option<&str>)]) -> String {
    let mut p = p.clone();
    p.page = None;
    for (name, value) in changes {
        let value = value.map(str::to_string);
        match *name {
            "source" => p.source = value,
            "territory" => p.territory = value,
            "group" => p.group = value,
            "since" => p.since = value,
            "until" => p.until = value,
            "page" => p.page = value,
            _ => {}
        }
    }
    let pairs: Vec<(&str, &str)> = [
        ("q", &p.q),
        ("source", &p.source),
        ("territory", &p.territory),
        ("group", &p.group),
        ("since", &p.since),
        ("until", &p.until),
        ("incidents", &p.incidents),
        ("sort", &p.sort),
        ("page", &p.page),
        ("per_page", &p.per_page),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| (k, v)))
    .collect();
    format!(
        "/search?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}

fn render_found(state: &AppState, p: &SearchParams, found: &Found, searched: bool) -> String {
    let org = &state.web.org;
    let taxonomy = &state.knowledge.taxonomy;
    let mut out = String::new();
    if !searched && found.total == 0 {
        out.push_str(&notice("", "Сообщений пока нет."));
    }
    out.push_str(&format!(
        "<p class=\"summary\">Найдено сообщений: <strong>{}</strong></p>",
        found.total
    ));
    out.push_str("<div class=\"layout\"><aside class=\"facets\" aria-label=\"Уточнить\">");
    if let Some(facets) = &found.facets {
        let mut list = |title: &str,
                        param: &str,
                        current: &Option<String>,
                        counts: &[crate::index::FacetCount],
                        label: &dyn Fn(&str) -> String| {
            if counts.is_empty() {
                return;
            }
            out.push_str(&format!("<h2>{}</h2><ul>", esc(title)));
            for c in counts {
                let on = current.as_deref() == Some(c.value.as_str());
                let href = link(p, &[(param, if on { None } else { Some(&c.value) })]);
                out.push_str(&format!(
                    "<li><a href=\"{}\"{}>{}</a><span>{}</span></li>",
                    esc(&href),
                    if on { " class=\"on\"" } else { "" },
                    esc(&label(&c.value)),
                    c.count
                ));
            }
            out.push_str("</ul>");
        };
        list(
            "Платформа",
            "source",
            &p.source,
            &facets.platform,
            &|v| platform_label(v).to_string(),
        );
        list(
            "Территория",
            "territory",
            &p.territory,
            &facets.territory,
            &|v| org.territory_name(v),
        );
        list("Тема", "group", &p.group, &facets.group, &|v| {
            taxonomy
                .group(v)
                .map_or_else(|| v.to_string(), |g| g.name.clone())
        });
        list(
            "Источник",
            "source",
            &p.source,
            &facets.source,
            &|v| v.to_string(),
        );
    }
    out.push_str("</aside><section aria-label=\"Результаты\">");
    if let Some(facets) = &found.facets
        && !facets.histogram.is_empty()
    {
        let max = facets
            .histogram
            .iter()
            .map(|d| d.count)
            .max()
            .unwrap_or(1)
            .max(1);
        out.push_str("<h2 class=\"histogram-title\">Сообщений по дням</h2><div class=\"histogram\" role=\"img\" aria-label=\"Число сообщений по дням\">");
        for d in &facets.histogram {
            let day = d.day.format("%Y-%m-%d").to_string();
            let height = (d.count * 100 / max).max(u64::from(d.count > 0));
            out.push_str(&format!(
                "<a href=\"{}\" title=\"{}: {}\" style=\"display:contents\"><span style=\"height:{height}%\"></span></a>",
                esc(&link(p, &[("since", Some(&day)), ("until", Some(&day))])),
                d.day.format("%d.%m.%Y"),
                d.count
            ));
        }
        out.push_str("</div>");
        if let (Some(first), Some(last)) = (facets.histogram.first(), facets.histogram.last()) {
            out.push_str(&format!(
                "<div class=\"histogram-range\"><span>{}</span><span>{}</span></div>",
                first.day.format("%d.%m.%Y"),
                last.day.format("%d.%m.%Y")
            ));
        }
    }
    for shown in &found.hits {
        let h = &shown.hit;
        let mut meta = vec![
            format!("<time>{}</time>", moscow(h.published)),
            esc(platform_label(&h.platform)),
            esc(&h.community),
        ];
        if let Some(t) = &h.territory {
            meta.push(esc(&org.territory_name(t)));
        }
        if let Some(g) = &h.group {
            meta.push(esc(&taxonomy
                .group(g)
                .map_or_else(|| g.clone(), |g| g.name.clone())));
        }
        if let Some(id) = h.incident {
            meta.push(format!("инцидент №{id}"));
        }
        out.push_str("<article class=\"hit\">");
        out.push_str(&format!(
            "<div class=\"meta\">{}</div>",
            meta.join("<span>·</span>")
        ));
        if let Some(title) = &h.title {
            out.push_str(&format!("<strong>{}</strong>", esc(title)));
        }
        // The snippet is tantivy's HTML: the text escaped, matches in <b>.
        out.push_str(&format!("<p class=\"snippet\">{}</p>", h.snippet));
        if shown.author.is_some() || shown.author_url.is_some() {
            let name = esc(shown.author.as_deref().unwrap_or("профиль"));
            let author = match shown.author_url.as_deref().filter(|u| is_http(u)) {
                Some(url) => format!("<a href=\"{}\" rel=\"noreferrer\">{name}</a>", esc(url)),
                None => name,
            };
            out.push_str(&format!("<div class=\"author\">Автор: {author}</div>"));
        }
        if let Some(url) = h.url.as_deref().filter(|u| is_http(u)) {
            out.push_str(&format!(
                "<a href=\"{}\" rel=\"noreferrer\">Открыть в источнике</a>",
                esc(url)
            ));
        }
        out.push_str("</article>");
    }
    let pages = found.total.div_ceil(found.per_page).max(1);
    if pages > 1 {
        out.push_str("<nav class=\"pages\" aria-label=\"Страницы\">");
        if found.page > 1 {
            let prev = (found.page - 1).to_string();
            out.push_str(&format!(
                "<a href=\"{}\" rel=\"prev\">← Предыдущая</a>",
                esc(&link(p, &[("page", Some(&prev))]))
            ));
        }
        out.push_str(&format!("<span>Страница {} из {pages}</span>", found.page));
        if found.page < pages && found.page * found.per_page < super::search::MAX_OFFSET {
            let next = (found.page + 1).to_string();
            out.push_str(&format!(
                "<a href=\"{}\" rel=\"next\">Следующая →</a>",
                esc(&link(p, &[("page", Some(&next))]))
            ));
        }
        out.push_str("</nav>");
    }
    out.push_str("</section></div>");
    out
}

fn is_http(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// Health of every source.
pub(super) async fn sources(State(state): State<AppState>, viewer: Viewer) -> Response {
    if !sees_sources(&viewer.user) {
        return PageError::forbidden().into_response();
    }
    let store = state.store.clone();
    let health = match tokio::task::spawn_blocking(move || store.all_health()).await {
        Ok(Ok(h)) => h,
        _ => return PageError::internal().into_response(),
    };
    let mut body = String::new();
    if health.is_empty() {
        body.push_str(&notice("", "Источники ещё не опрашивались."));
    } else {
        body.push_str("<div class=\"table-wrap\"><table><thead><tr><th>Источник</th><th>Платформа</th><th>Состояние</th><th>Новых сообщений</th><th>Последний успешный опрос</th><th>Последняя ошибка</th></tr></thead><tbody>");
        for h in &health {
            let state_id = serde_json::to_value(h.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let error = match (&h.last_error, h.last_error_at) {
                (Some(e), Some(at)) => format!("{} ({})", esc(e), moscow(at)),
                (Some(e), None) => esc(e),
                _ => "—".into(),
            };
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"state-{state_id}\">{}</td><td>{}</td><td>{}</td><td>{error}</td></tr>",
                esc(&h.source),
                esc(platform_label(h.platform.as_str())),
                esc(h.state.label_ru()),
                h.posts_stored,
                h.last_success.map(moscow).unwrap_or_else(|| "—".into()),
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    page(&viewer, "Состояние источников", "/sources", &body).into_response()
}
