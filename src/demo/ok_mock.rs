//! A loopback stand-in for the OK REST API (reference/wire-formats.md §2): `fb.do` and
//! `/api/<group>/<method>`, GET or POST, that checks the application key, the access token
//! and the signature exactly as OK documents them and answers like OK — a flat error body
//! with the `invocation-error` header — so the real [`OkSource`] reads it unchanged.
//!
//! Methods: `group.getInfo`, `mediatopic.getTopics` (newest first, opaque `anchor`,
//! `has_more`, `entities`), `discussions.getComments` (oldest first, `anchor`, `date_ms`).
//!
//! Tests script it to fail ([`OkFault`]): an OK error code, an HTTP status, a slow reply, a
//! truncated or malformed body, a huge body. [`OkMock::start_demo`] serves a district
//! group whose topics and comments appear over time.
//!
//! In `otklik demo` (`demo::run`), next to the feed server:
//!
//! ```text
//! let ok = ok_mock::OkMock::start_demo(Duration::from_secs_f64(30.0 / speed)).await?;
//! let mut settings = ok.settings(Some("gavrilov-yam"));
//! settings.poll = Some(quick.clone());
//! loaded.settings.sources.ok = Some(settings);
//! // … after the daemon stops:
//! ok.stop().await;
//! ```
//!
//! [`OkSource`]: crate::sources::ok::OkSource

use super::telegram_mock::ChunkStream;
use crate::sources::ok::{OkGroupConfig, OkSettings, signature};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The application the mock accepts.
#[derive(Clone, Debug, PartialEq)]
pub struct MockApp {
    pub application_key: String,
    pub application_secret_key: String,
    /// The one valid token; another one is "session expired".
    pub access_token: String,
}

impl Default for MockApp {
    fn default() -> MockApp {
        MockApp {
            application_key: "CBAMOCKAPPKEY".into(),
            application_secret_key: "0123456789ABCDEF0123456789ABCDEF".into(),
            access_token: "tkn1.mock-access-token".into(),
        }
    }
}

/// A comment of a mock topic.
#[derive(Clone, Debug, PartialEq)]
pub struct MockComment {
    pub id: String,
    pub author_id: String,
    pub author_name: String,
    pub text: String,
    pub date_ms: i64,
}

/// A topic of a mock group.
#[derive(Clone, Debug, PartialEq)]
pub struct MockTopic {
    pub id: String,
    pub created_ms: i64,
    pub text: String,
    pub author_id: String,
    pub author_name: String,
    pub comments: Vec<MockComment>,
}

impl MockTopic {
    pub fn new(id: impl Into<String>, created: DateTime<Utc>, text: &str) -> MockTopic {
        MockTopic {
            id: id.into(),
            created_ms: created.timestamp_millis(),
            text: text.to_string(),
            author_id: "580000000001".into(),
            author_name: "Анна Петрова".into(),
            comments: Vec::new(),
        }
    }
}

/// A group the mock serves.
#[derive(Clone, Debug, PartialEq)]
pub struct MockGroup {
    pub id: String,
    pub name: String,
    pub topics: Vec<MockTopic>,
}

/// A way for the mock to fail one request.
#[derive(Clone, Debug, PartialEq)]
pub enum OkFault {
    /// An OK error: the flat body and `invocation-error`, with this HTTP status (OK's own
    /// habit is 200).
    Error {
        code: i64,
        message: String,
        status: u16,
    },
    /// An OK error body on this HTTP status without the `invocation-error` header.
    ErrorBodyOnly {
        code: i64,
        message: String,
        status: u16,
    },
    /// This HTTP status with a short non-JSON body and no OK header.
    Http(u16),
    /// Wait this long, then answer normally.
    Slow(Duration),
    /// The normal reply cut in half.
    Truncated,
    /// A body that is not JSON.
    Malformed,
    /// A JSON-looking body of this many bytes, streamed without a length.
    Huge(u64),
}

impl OkFault {
    /// An OK error `code` named as OK names it, on HTTP 200.
    pub fn error(code: i64, message: &str) -> OkFault {
        OkFault::Error {
            code,
            message: message.to_string(),
            status: 200,
        }
    }
}

struct MockState {
    app: MockApp,
    groups: Mutex<BTreeMap<String, MockGroup>>,
    faults: Mutex<VecDeque<OkFault>>,
    calls: Mutex<Vec<String>>,
    huge_sent: Arc<AtomicU64>,
}

/// A running mock OK API.
pub struct OkMock {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>/fb.do`, the `api_url` of a source reading it.
    pub api_url: String,
    pub app: MockApp,
    state: Arc<MockState>,
    server: super::Loopback,
}

impl OkMock {
    /// Serve `groups` for `app` on an ephemeral loopback port.
    pub async fn start(app: MockApp, groups: Vec<MockGroup>) -> std::io::Result<OkMock> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(MockState {
            app: app.clone(),
            groups: Mutex::new(groups.into_iter().map(|g| (g.id.clone(), g)).collect()),
            faults: Mutex::new(VecDeque::new()),
            calls: Mutex::new(Vec::new()),
            huge_sent: Arc::new(AtomicU64::new(0)),
        });
        let router = Router::new()
            .route("/fb.do", get(fb_do).post(fb_do))
            .route("/api/{group}/{method}", get(api_path).post(api_path))
            .with_state(state.clone());
        let server = super::Loopback::spawn(listener, router, "mock OK API stopped with an error");
        Ok(OkMock {
            addr,
            api_url: format!("http://{addr}/fb.do"),
            app,
            state,
            server,
        })
    }

    /// The demo: the group of [`demo_group`] with a third of its topics out at once and the
    /// rest (with their comments) published one by one, `interval` apart.
    pub async fn start_demo(interval: Duration) -> std::io::Result<OkMock> {
        let mut group = demo_group(Utc::now());
        let keep = group.topics.len() / 3;
        let mut pending = group.topics.split_off(keep);
        pending.sort_by_key(|t| t.created_ms);
        let group_id = group.id.clone();
        let mock = OkMock::start(MockApp::default(), vec![group]).await?;
        let state = mock.state.clone();
        let stop = mock.server.shutdown_token();
        tokio::spawn(async move {
            for mut topic in pending {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(interval) => {}
                }
                topic.created_ms = Utc::now().timestamp_millis();
                publish(&state, &group_id, topic);
            }
        });
        Ok(mock)
    }

    /// `[sources.ok]` reading every group served now, with the mock's credentials.
    pub fn settings(&self, territory: Option<&str>) -> OkSettings {
        let groups = self
            .state
            .groups
            .lock()
            .expect("groups lock")
            .values()
            .map(|g| OkGroupConfig {
                name: format!("ok-{}", g.id),
                group_id: g.id.clone(),
                territory: territory.map(str::to_string),
                community: None,
                author_kind: crate::model::AuthorKind::Resident,
                enabled: true,
            })
            .collect();
        OkSettings {
            application_key: self.app.application_key.clone(),
            application_secret_key: self.app.application_secret_key.clone(),
            access_token: self.app.access_token.clone(),
            api_url: self.api_url.clone(),
            groups,
            ..OkSettings::default()
        }
    }

    /// Add `topic` to group `group_id` (created if unknown).
    pub fn publish(&self, group_id: &str, topic: MockTopic) {
        publish(&self.state, group_id, topic);
    }

    /// Add `comment` to topic `topic_id` of group `group_id`.
    pub fn comment(&self, group_id: &str, topic_id: &str, comment: MockComment) {
        let mut groups = self.state.groups.lock().expect("groups lock");
        if let Some(topic) = groups
            .get_mut(group_id)
            .and_then(|g| g.topics.iter_mut().find(|t| t.id == topic_id))
        {
            topic.comments.push(comment);
        }
    }

    /// Fail the next request with `fault` (faults queue up, one per request).
    pub fn push_fault(&self, fault: OkFault) {
        self.state
            .faults
            .lock()
            .expect("faults lock")
            .push_back(fault);
    }

    /// The methods called so far, in order (`mediatopic.getTopics`, …).
    pub fn calls(&self) -> Vec<String> {
        self.state.calls.lock().expect("calls lock").clone()
    }

    /// Bytes of an [`OkFault::Huge`] body written so far.
    pub fn huge_bytes_sent(&self) -> u64 {
        self.state.huge_sent.load(Ordering::Relaxed)
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

fn publish(state: &MockState, group_id: &str, topic: MockTopic) {
    let mut groups = state.groups.lock().expect("groups lock");
    let group = groups
        .entry(group_id.to_string())
        .or_insert_with(|| MockGroup {
            id: group_id.to_string(),
            name: format!("Группа {group_id}"),
            topics: Vec::new(),
        });
    group.topics.retain(|t| t.id != topic.id);
    group.topics.push(topic);
}

async fn fb_do(
    State(state): State<Arc<MockState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = request_params(query.as_deref(), &headers, &body);
    answer(state, params).await
}

async fn api_path(
    State(state): State<Arc<MockState>>,
    Path((group, method)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = request_params(query.as_deref(), &headers, &body);
    params.insert("method".into(), format!("{group}.{method}"));
    answer(state, params).await
}

/// Parameters from the query string and a form body together.
fn request_params(
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> BTreeMap<String, String> {
    let mut params = decode_form(query.unwrap_or(""));
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        params.extend(decode_form(&String::from_utf8_lossy(body)));
    }
    params
}

fn decode_form(text: &str) -> BTreeMap<String, String> {
    let mut url = reqwest::Url::parse("http://form.invalid/").expect("valid url");
    url.set_query(Some(text));
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn answer(state: Arc<MockState>, params: BTreeMap<String, String>) -> Response {
    let method = params.get("method").cloned().unwrap_or_default();
    state.calls.lock().expect("calls lock").push(method.clone());
    let fault = state.faults.lock().expect("faults lock").pop_front();
    match &fault {
        Some(OkFault::Error {
            code,
            message,
            status,
        }) => return ok_error(*code, message, *status),
        Some(OkFault::ErrorBodyOnly {
            code,
            message,
            status,
        }) => {
            let mut response = ok_error(*code, message, *status);
            response.headers_mut().remove("invocation-error");
            return response;
        }
        Some(OkFault::Http(status)) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
            return (status, format!("<html><body>{status}</body></html>")).into_response();
        }
        Some(OkFault::Slow(delay)) => tokio::time::sleep(*delay).await,
        Some(OkFault::Malformed) => return json_text("{\"media_topics\":[{\"id\":".into()),
        Some(OkFault::Huge(bytes)) => {
            let chunk = Bytes::from(vec![b' '; 64 * 1024]);
            let count = bytes.div_ceil(chunk.len() as u64);
            let stream = ChunkStream::counted(chunk, count, state.huge_sent.clone());
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
                Body::from_stream(stream),
            )
                .into_response();
        }
        _ => {}
    }
    let reply = authorize(&state.app, &params).and_then(|()| call(&state, &method, &params));
    match reply {
        Ok(value) => {
            let text = value.to_string();
            if fault == Some(OkFault::Truncated) {
                json_text(text[..text.len() / 2].to_string())
            } else {
                json_text(text)
            }
        }
        Err((code, message)) => ok_error(code, &message, 200),
    }
}

/// The checks OK makes before running a method, in its order and with its messages; the
/// error is the code and `error_msg`.
fn authorize(app: &MockApp, params: &BTreeMap<String, String>) -> Result<(), (i64, String)> {
    let err = |code, message: &str| Err((code, message.to_string()));
    match params.get("application_key") {
        None => return err(101, "PARAM_API_KEY : No application key"),
        Some(k) if *k != app.application_key => {
            return err(101, "PARAM_API_KEY : Application not exist");
        }
        _ => {}
    }
    let Some(sig) = params.get("sig") else {
        return err(104, "PARAM_SIGNATURE : No signature specified");
    };
    let token = params.get("access_token").map(String::as_str);
    let expected = signature(
        params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &app.application_secret_key,
        token,
    );
    if !sig.eq_ignore_ascii_case(&expected) {
        return err(104, "PARAM_SIGNATURE : Invalid signature");
    }
    if let Some(token) = token
        && token != app.access_token
    {
        return err(102, "PARAM_SESSION_EXPIRED : Session expired");
    }
    Ok(())
}

fn call(
    state: &MockState,
    method: &str,
    params: &BTreeMap<String, String>,
) -> Result<Value, (i64, String)> {
    let groups = state.groups.lock().expect("groups lock");
    let count = |default: usize| {
        params
            .get("count")
            .and_then(|c| c.parse::<usize>().ok())
            .unwrap_or(default)
            .clamp(1, 100)
    };
    match method {
        "group.getInfo" => {
            let uids = params
                .get("uids")
                .ok_or((100, "PARAM : uids is required".to_string()))?;
            let found: Vec<Value> = uids
                .split(',')
                .filter_map(|id| groups.get(id.trim()))
                .map(|g| json!({"uid": g.id, "name": g.name, "access_type": ["OPEN"]}))
                .collect();
            Ok(json!({ "groups": found }))
        }
        "mediatopic.getTopics" => {
            let gid = params
                .get("gid")
                .ok_or((100, "PARAM : gid is required".to_string()))?;
            let group = groups
                .get(gid)
                .ok_or((160, format!("PARAM_GROUP_ID : Invalid group id {gid}")))?;
            let mut topics: Vec<&MockTopic> = group.topics.iter().collect();
            topics.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(b.id.cmp(&a.id)));
            let start = anchor_position(params.get("anchor"))?;
            let page: Vec<&MockTopic> =
                topics.iter().skip(start).take(count(20)).copied().collect();
            let end = start + page.len();
            let users: Vec<Value> = page
                .iter()
                .map(|t| json!({"uid": t.author_id, "name": t.author_name}))
                .collect();
            Ok(json!({
                "media_topics": page.iter().map(|t| json!({
                    "id": t.id,
                    "owner_ref": format!("group:{}", group.id),
                    "author_ref": format!("user:{}", t.author_id),
                    "created_ms": t.created_ms,
                    "media": [{"type": "text", "text": t.text}],
                    "discussion_summary": {"comments_count": t.comments.len()},
                    "like_summary": {"count": 0},
                })).collect::<Vec<_>>(),
                "anchor": format!("pos:{end}"),
                "has_more": end < topics.len(),
                "entities": {"groups": [{"uid": group.id, "name": group.name}], "users": users},
            }))
        }
        "discussions.getComments" => {
            let topic_id = params
                .get("discussionId")
                .ok_or((100, "PARAM : discussionId is required".to_string()))?;
            let topic = groups
                .values()
                .flat_map(|g| g.topics.iter())
                .find(|t| t.id == *topic_id)
                .ok_or((300, format!("NOT_FOUND : discussion {topic_id} not found")))?;
            let start = match params.get("anchor").map(String::as_str) {
                None | Some("FIRST") => 0,
                Some("LAST") => topic.comments.len(),
                other => anchor_position(other.map(str::to_string).as_ref())?,
            };
            let page: Vec<&MockComment> =
                topic.comments.iter().skip(start).take(count(20)).collect();
            let end = start + page.len();
            Ok(json!({
                "comments": page.iter().map(|c| json!({
                    "id": c.id,
                    "author_id": c.author_id,
                    "text": c.text,
                    "date_ms": c.date_ms,
                    "type": "ACTIVE_MESSAGE",
                })).collect::<Vec<_>>(),
                "anchor": format!("pos:{end}"),
                "has_more": end < topic.comments.len(),
                "entities": {"users": page.iter().map(|c| json!({"uid": c.author_id, "name": c.author_name})).collect::<Vec<_>>()},
            }))
        }
        other => Err((3, format!("METHOD : Method {other} does not exist"))),
    }
}

fn anchor_position(anchor: Option<&String>) -> Result<usize, (i64, String)> {
    match anchor {
        None => Ok(0),
        Some(a) => a
            .strip_prefix("pos:")
            .and_then(|p| p.parse().ok())
            .ok_or((100, format!("PARAM : Invalid anchor {a}"))),
    }
}

fn ok_error(code: i64, message: &str, status: u16) -> Response {
    let body = json!({"error_data": null, "error_code": code, "error_msg": message}).to_string();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                "application/json;charset=utf-8".to_string(),
            ),
            (
                header::HeaderName::from_static("invocation-error"),
                code.to_string(),
            ),
        ],
        body,
    )
        .into_response()
}

fn json_text(text: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        text,
    )
        .into_response()
}

/// The demo's OK group: a town group where residents write about their troubles, with a
/// few comments, dated up to `now`.
pub fn demo_group(now: DateTime<Utc>) -> MockGroup {
    let texts = [
        (
            "Ольга Смирнова",
            "На улице Победы второй день нет света, продукты в холодильнике портятся",
        ),
        (
            "Николай Иванов",
            "Около дома 9 на Кирова огромная лужа, пройти невозможно, ливнёвка забита",
        ),
        (
            "Татьяна Козлова",
            "Когда починят дорогу на Шопшу? Ямы такие, что машины ломаются",
        ),
        (
            "Сергей Волков",
            "На детской площадке на Молодёжной сломаны качели, торчат болты",
        ),
        (
            "Елена Морозова",
            "Спасибо депутату за помощь с освещением на Луговой",
        ),
        (
            "Андрей Соколов",
            "Мусорные баки на Строителей не вывозили с понедельника, запах на весь двор",
        ),
        (
            "Ирина Лебедева",
            "В поликлинике невозможно записаться к терапевту, телефон не отвечает",
        ),
        (
            "Павел Новиков",
            "На Заводской прорвало трубу, вода течёт по улице, скоро замёрзнет",
        ),
        ("Мария Фёдорова", "Продаю картошку, 10 кг, недорого"),
        (
            "Дмитрий Попов",
            "Собаки стаей бегают у школы №6, дети боятся ходить",
        ),
    ];
    let topics = texts
        .iter()
        .enumerate()
        .map(|(i, (author, text))| {
            let created = now - TimeDelta::minutes(((texts.len() - i) * 45) as i64);
            let mut t = MockTopic::new(
                format!("{}", 155_000_000_000_100u64 + i as u64),
                created,
                text,
            );
            t.author_id = format!("{}", 580_000_000_100u64 + i as u64);
            t.author_name = author.to_string();
            if i % 3 == 0 {
                t.comments.push(MockComment {
                    id: format!("c{i}-1"),
                    author_id: "580000000999".into(),
                    author_name: "Галина Орлова".into(),
                    text: "У нас то же самое, писали в администрацию, ответа нет".into(),
                    date_ms: (created + TimeDelta::minutes(10)).timestamp_millis(),
                });
            }
            t
        })
        .collect();
    MockGroup {
        id: "57000000000001".into(),
        name: "Гаврилов-Ям — наш город".into(),
        topics,
    }
}
