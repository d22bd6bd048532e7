//! A loopback VK API server: `http://127.0.0.1:<port>/method/<name>`, speaking the wire
//! format of `reference/wire-formats.md` §1 so that the real [`VkClient`] reads it unchanged.
//!
//! - **Transport:** GET with a query string or POST with a form body; the token in
//!   `Authorization: Bearer` or in `access_token`; `v` required. API errors are HTTP 200
//!   with the error envelope, `request_params` ordered as 5.199 orders them (no token).
//! - **Methods:** `wall.get` (`owner_id` or `domain`, `offset`, `count` ≤ 100, `extended`;
//!   the pinned post first), `groups.getById` (the 5.199 shape, the bare array before 5.194),
//!   `newsfeed.search` (`q`, `start_time`, `end_time`, `count` ≤ 200, `start_from` /
//!   `next_from`), `wall.getComments` (`offset`, `count`, `sort`, `thread_items_count`), and
//!   `execute` for the VKScript the client writes (`return [API.m({…}),…];`), with `false`
//!   and `execute_errors` for a failing call; a service token gets error 28 for it.
//! - **Faults** ([`Fault`]), counted per method: an API error code on the Nth call, an HTTP
//!   status, a slow reply, a truncated or malformed body, a huge body, and posts published
//!   or deleted just before a call (offset drift).
//! - **Calls** are recorded with their arrival time and token ([`VkMock::calls`]), so tests
//!   can measure the rate budget.
//!
//! [`VkClient`]: crate::sources::vk::VkClient

use crate::config::{Secret, VkCommunityConfig, VkSettings, VkTokenConfig, VkTokenKind};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A community.
#[derive(Clone, Debug)]
pub struct MockGroup {
    /// Positive group id (its walls are `-id`).
    pub id: i64,
    pub name: String,
    pub screen_name: String,
    /// 0 open, 1 closed, 2 private; closed walls answer 15 and stay out of searches.
    pub is_closed: u8,
    /// `deleted` or `banned`.
    pub deactivated: Option<String>,
}

impl MockGroup {
    pub fn new(id: i64, name: &str, screen_name: &str) -> MockGroup {
        MockGroup {
            id,
            name: name.into(),
            screen_name: screen_name.into(),
            is_closed: 0,
            deactivated: None,
        }
    }
}

/// A person.
#[derive(Clone, Debug)]
pub struct MockUser {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
}

impl MockUser {
    pub fn new(id: i64, first_name: &str, last_name: &str) -> MockUser {
        MockUser {
            id,
            first_name: first_name.into(),
            last_name: last_name.into(),
        }
    }
}

/// A post on a wall.
#[derive(Clone, Debug)]
pub struct MockPost {
    pub owner_id: i64,
    pub id: i64,
    pub from_id: i64,
    /// Unixtime.
    pub date: i64,
    pub text: String,
    pub pinned: bool,
    /// The original, for a repost (served as `copy_history`).
    pub repost_of: Option<Box<MockPost>>,
    /// "<lat> <lon>".
    pub geo: Option<String>,
    pub signer_id: Option<i64>,
    pub comments: Vec<MockComment>,
    /// Comments closed: `wall.getComments` answers 212.
    pub comments_closed: bool,
}

impl MockPost {
    pub fn new(owner_id: i64, id: i64, from_id: i64, date: i64, text: &str) -> MockPost {
        MockPost {
            owner_id,
            id,
            from_id,
            date,
            text: text.into(),
            pinned: false,
            repost_of: None,
            geo: None,
            signer_id: None,
            comments: Vec::new(),
            comments_closed: false,
        }
    }

    pub fn pinned(mut self) -> MockPost {
        self.pinned = true;
        self
    }

    pub fn repost(mut self, original: MockPost) -> MockPost {
        self.repost_of = Some(Box::new(original));
        self
    }

    pub fn geo(mut self, coordinates: &str) -> MockPost {
        self.geo = Some(coordinates.into());
        self
    }

    pub fn signed(mut self, signer: i64) -> MockPost {
        self.signer_id = Some(signer);
        self
    }

    pub fn comment(mut self, comment: MockComment) -> MockPost {
        self.comments.push(comment);
        self
    }

    pub fn comments_closed(mut self) -> MockPost {
        self.comments_closed = true;
        self
    }
}

/// A comment, with its replies.
#[derive(Clone, Debug)]
pub struct MockComment {
    pub id: i64,
    pub from_id: i64,
    pub date: i64,
    pub text: String,
    pub replies: Vec<MockComment>,
}

impl MockComment {
    pub fn new(id: i64, from_id: i64, date: i64, text: &str) -> MockComment {
        MockComment {
            id,
            from_id,
            date,
            text: text.into(),
            replies: Vec::new(),
        }
    }

    pub fn reply(mut self, reply: MockComment) -> MockComment {
        self.replies.push(reply);
        self
    }
}

/// Everything the mock serves.
#[derive(Clone, Debug, Default)]
pub struct VkMockData {
    pub groups: Vec<MockGroup>,
    pub users: Vec<MockUser>,
    pub posts: Vec<MockPost>,
    /// Tokens accepted and their kinds; any other token gets error 5.
    pub tokens: Vec<(String, VkTokenKind)>,
}

/// The administration's community in the demo data.
pub const DEMO_ADMINISTRATION: i64 = -200_000_002;

/// The token the demo data accepts.
pub const DEMO_TOKEN: &str = "demo-vk-service-token";

impl VkMockData {
    /// Three communities of the district with residents' complaints, a pinned rules post,
    /// a repost of the administration's notice and comments, dated in the last hours
    /// before `now` (unixtime).
    pub fn demo(now: i64) -> VkMockData {
        let ago = |minutes: i64| now - minutes * 60;
        let podslushano = -200_000_001;
        let adm = DEMO_ADMINISTRATION;
        let velikoe = -200_000_003;
        VkMockData {
            groups: vec![
                MockGroup::new(200_000_001, "Подслушано Гаврилов-Ям", "podslushano_gy"),
                MockGroup::new(200_000_002, "Администрация Гаврилов-Ямского района", "gavyam_adm"),
                MockGroup::new(200_000_003, "Великое — наше село", "velikoe_selo"),
            ],
            users: vec![
                MockUser::new(521_234_567, "Ирина", "Петрова"),
                MockUser::new(521_234_568, "Сергей", "Волков"),
                MockUser::new(521_234_569, "Анна", "Смирнова"),
            ],
            tokens: vec![(DEMO_TOKEN.to_string(), VkTokenKind::Service)],
            posts: vec![
                MockPost::new(podslushano, 1, podslushano, ago(60 * 24 * 30),
                    "Правила сообщества. Пишите о проблемах города в предложку, анонимно.").pinned(),
                MockPost::new(podslushano, 41, podslushano, ago(300),
                    "Анонимно. На улице Кирова третий день нет воды, в управляющей компании трубку не берут.")
                    .comment(MockComment::new(1, 521_234_568, ago(290), "У нас на Кирова, 12 тоже нет воды."))
                    .comment(MockComment::new(2, adm, ago(200),
                        "Здравствуйте! Информация передана в МУП, бригада выехала.")),
                MockPost::new(podslushano, 42, 521_234_567, ago(180),
                    "Во дворе дома 15 по улице Октябрьской вторую неделю не вывозят мусор, контейнеры переполнены.")
                    .signed(521_234_567).geo("57.302 39.851"),
                MockPost::new(podslushano, 43, podslushano, ago(120), "")
                    .repost(MockPost::new(adm, 310, adm, ago(125),
                        "Плановое отключение электроэнергии на улице Северной 2 декабря с 9:00 до 17:00.")),
                MockPost::new(adm, 310, adm, ago(125),
                    "Плановое отключение электроэнергии на улице Северной 2 декабря с 9:00 до 17:00."),
                MockPost::new(velikoe, 7, 521_234_569, ago(90),
                    "В Великом на Ярославской улице яма на дороге, машины объезжают по встречке. Когда отремонтируют?"),
                MockPost::new(velikoe, 8, 521_234_568, ago(30),
                    "Великое: не горят фонари у школы, дети идут в темноте.")
                    .comments_closed(),
            ],
        }
    }
}

/// When a fault strikes and what it does.
#[derive(Clone, Debug)]
pub struct Fault {
    /// The method it strikes (`None`: every request, counted together).
    pub method: Option<String>,
    /// The first call (1-based, counted per method) it strikes.
    pub nth: u32,
    /// How many calls in a row it strikes.
    pub times: u32,
    pub kind: FaultKind,
}

/// What a fault does.
#[derive(Clone, Debug)]
pub enum FaultKind {
    /// Answer with this VK error code (inside `execute`: `false` and an `execute_errors` entry).
    Api(i64),
    /// Answer with this HTTP status and an nginx-like page.
    Status(u16),
    /// Answer this much later (the answer itself is the normal one, or another fault's).
    Slow(Duration),
    /// Cut the normal JSON reply in half.
    Truncated,
    /// Answer 200 with a body that is not JSON.
    Malformed,
    /// Answer with a JSON-looking body of this many bytes.
    Huge(usize),
    /// Publish these posts just before answering (offset drift).
    Publish(Vec<MockPost>),
    /// Delete this post (owner id, post id) just before answering.
    Delete(i64, i64),
}

impl Fault {
    /// `kind` on the `nth` call of `method`, once.
    pub fn on(method: &str, nth: u32, kind: FaultKind) -> Fault {
        Fault {
            method: Some(method.to_string()),
            nth,
            times: 1,
            kind,
        }
    }

    /// `kind` on the `nth` request whatever its method.
    pub fn any(nth: u32, kind: FaultKind) -> Fault {
        Fault {
            method: None,
            nth,
            times: 1,
            kind,
        }
    }

    /// Strike `times` calls in a row.
    pub fn times(mut self, times: u32) -> Fault {
        self.times = times;
        self
    }
}

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct MockCall {
    pub method: String,
    /// The token, from the header or the parameter.
    pub token: Option<String>,
    /// Arrival time.
    pub at: Instant,
    /// Parameters, `access_token` removed.
    pub params: Vec<(String, String)>,
    /// For `execute`: the methods it called.
    pub inner: Vec<String>,
}

struct World {
    data: VkMockData,
    faults: Vec<Fault>,
    counts: HashMap<String, u32>,
    calls: Vec<MockCall>,
}

/// A running mock.
pub struct VkMock {
    /// Where it listens (127.0.0.1, an ephemeral port).
    pub addr: SocketAddr,
    world: Arc<Mutex<World>>,
    server: super::Loopback,
}

impl VkMock {
    /// Serve `data` on an ephemeral loopback port.
    pub async fn start(data: VkMockData) -> std::io::Result<VkMock> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let world = Arc::new(Mutex::new(World {
            data,
            faults: Vec::new(),
            counts: HashMap::new(),
            calls: Vec::new(),
        }));
        let router = Router::new()
            .route("/method/{method}", any(handle))
            .with_state(world.clone());
        let server = super::Loopback::spawn(listener, router, "vk mock stopped with an error");
        Ok(VkMock {
            addr,
            world,
            server,
        })
    }

    /// The base URL to configure as `sources.vk.api_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn with<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        f(&mut self.world.lock().expect("vk mock lock"))
    }

    /// Add a fault.
    pub fn fault(&self, fault: Fault) {
        self.with(|w| w.faults.push(fault));
    }

    /// Accept another token.
    pub fn add_token(&self, token: &str, kind: VkTokenKind) {
        self.with(|w| w.data.tokens.push((token.to_string(), kind)));
    }

    /// Publish a post now.
    pub fn publish(&self, post: MockPost) {
        self.with(|w| w.data.posts.push(post));
    }

    /// Delete a post now.
    pub fn delete(&self, owner_id: i64, id: i64) {
        self.with(|w| {
            w.data
                .posts
                .retain(|p| !(p.owner_id == owner_id && p.id == id))
        });
    }

    /// Publish `post` after `delay`, dated at that moment (unless the mock stops first).
    pub fn publish_later(&self, delay: Duration, mut post: MockPost) {
        let world = self.world.clone();
        let stop = self.server.shutdown_token();
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(delay) => {
                    post.date = chrono::Utc::now().timestamp();
                    world.lock().expect("vk mock lock").data.posts.push(post);
                }
            }
        });
    }

    /// The demonstration's VK: [`VkMockData::demo`] with the rules and the administration's
    /// posts there from the start and the residents' posts appearing one by one over about
    /// two minutes divided by `speed`. Read it with [`VkMock::demo_settings`].
    pub async fn start_demo(speed: f64) -> std::io::Result<VkMock> {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        let mut data = VkMockData::demo(chrono::Utc::now().timestamp());
        let (now, later): (Vec<MockPost>, Vec<MockPost>) = std::mem::take(&mut data.posts)
            .into_iter()
            .partition(|p| p.pinned || p.owner_id == DEMO_ADMINISTRATION);
        data.posts = now;
        let mock = VkMock::start(data).await?;
        for (i, post) in later.into_iter().enumerate() {
            let delay = Duration::from_secs_f64(15.0 * (i + 1) as f64 / speed);
            mock.publish_later(delay, post);
        }
        Ok(mock)
    }

    /// Every request so far, in arrival order.
    pub fn calls(&self) -> Vec<MockCall> {
        self.with(|w| w.calls.clone())
    }

    /// Requests of `method` so far (execute sub-calls included).
    pub fn count(&self, method: &str) -> u32 {
        self.with(|w| w.counts.get(method).copied().unwrap_or(0))
    }

    /// Settings that read this mock's demo data: the demo token and a source per community.
    pub fn demo_settings(&self) -> VkSettings {
        let community = |name: &str, domain: &str, territory: &str| VkCommunityConfig {
            name: name.into(),
            owner_id: None,
            domain: Some(domain.into()),
            token: None,
            territory: Some(territory.into()),
            community: None,
            page_size: 100,
            max_pages: 10,
            first_poll_pages: 1,
            poll: None,
            enabled: true,
        };
        VkSettings {
            api_url: self.url(),
            api_version: "5.199".into(),
            official_owner_ids: vec![DEMO_ADMINISTRATION],
            tokens: vec![VkTokenConfig {
                name: "demo".into(),
                kind: VkTokenKind::Service,
                env: None,
                token: Some(Secret(DEMO_TOKEN.into())),
                requests_per_second: 3.0,
            }],
            communities: vec![
                community("vk-podslushano-gy", "podslushano_gy", "gavrilov-yam"),
                community("vk-gy-adm", "gavyam_adm", "district"),
                community("vk-velikoe", "velikoe_selo", "velikoe"),
            ],
            searches: Vec::new(),
        }
    }

    /// Stop accepting requests and wait for the server task.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

type Params = HashMap<String, String>;

/// The answer decided under the lock, sent after any delay.
enum Reply {
    Json(Value),
    Raw(StatusCode, String),
}

async fn handle(
    State(world): State<Arc<Mutex<World>>>,
    Path(method): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let mut pairs = query;
    if !body.is_empty() {
        match serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
            Ok(form) => pairs.extend(form),
            Err(_) => {
                return (StatusCode::BAD_REQUEST, "body is not a form\n").into_response();
            }
        }
    }
    let header_token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let token = header_token.or_else(|| {
        pairs
            .iter()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.clone())
    });
    pairs.retain(|(k, _)| k != "access_token");
    let params: Params = pairs.iter().cloned().collect();

    let (delay, reply) = {
        let mut w = world.lock().expect("vk mock lock");
        let mut call = MockCall {
            method: method.clone(),
            token: token.clone(),
            at,
            params: pairs.clone(),
            inner: Vec::new(),
        };
        let (delay, reply) = w.answer(&method, token.as_deref(), &params, &mut call);
        w.calls.push(call);
        (delay, reply)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match reply {
        Reply::Json(value) => (
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            value.to_string(),
        )
            .into_response(),
        Reply::Raw(status, body) => (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body,
        )
            .into_response(),
    }
}

fn error_message(code: i64) -> &'static str {
    match code {
        1 => "Unknown error occurred",
        3 => "Unknown method passed",
        5 => "User authorization failed: invalid access_token (4).",
        6 => "Too many requests per second",
        8 => "Invalid request: v (version) is required",
        9 => "Flood control",
        10 => "Internal server error",
        13 => "Runtime error occurred during code invocation",
        14 => "Captcha needed",
        15 => "Access denied: this wall available only for community members",
        17 => "Validation required: please open redirect_uri in browser",
        18 => "User was deleted or banned",
        28 => "Application authorization failed: method is unavailable with service token.",
        29 => "Rate limit reached",
        30 => "This profile is private",
        100 => "One of the parameters specified was missing or invalid",
        113 => "Invalid user id",
        200 => "Access denied",
        203 => "Access to group denied",
        210 => "Access to wall's post denied",
        211 => "Access to wall's comment denied",
        212 => "Access to post comments denied",
        _ => "Unknown error",
    }
}

fn error_envelope(code: i64, message: &str, method: &str, params: &Params) -> Value {
    let mut request_params = vec![
        json!({"key": "method", "value": method}),
        json!({"key": "oauth", "value": "1"}),
    ];
    let mut keys: Vec<&String> = params.keys().collect();
    keys.sort_by_key(|k| (k.as_str() != "v", k.as_str()));
    for k in keys {
        if k != "code" {
            request_params.push(json!({"key": k, "value": params[k]}));
        }
    }
    let mut error =
        json!({"error_code": code, "error_msg": message, "request_params": request_params});
    if code == 14 {
        error["captcha_sid"] = json!("630525565328");
        error["captcha_img"] = json!("https://vk.com/captcha.php?sid=630525565328");
    }
    json!({ "error": error })
}

/// An API error of one call.
struct ApiErr(i64, String);

impl ApiErr {
    fn code(code: i64) -> ApiErr {
        ApiErr(code, error_message(code).to_string())
    }
}

impl World {
    /// Faults striking this call of `method`; counts it.
    fn strike(&mut self, method: &str, top_level: bool) -> Vec<FaultKind> {
        let n = {
            let c = self.counts.entry(method.to_string()).or_default();
            *c += 1;
            *c
        };
        let any = if top_level {
            let c = self.counts.entry("*".to_string()).or_default();
            *c += 1;
            Some(*c)
        } else {
            None
        };
        self.faults
            .iter()
            .filter(|f| {
                let count = match &f.method {
                    Some(m) if m == method => Some(n),
                    Some(_) => None,
                    None => any,
                };
                count.is_some_and(|c| c >= f.nth && c < f.nth + f.times)
            })
            .map(|f| f.kind.clone())
            .collect()
    }

    fn answer(
        &mut self,
        method: &str,
        token: Option<&str>,
        params: &Params,
        call: &mut MockCall,
    ) -> (Duration, Reply) {
        let faults = self.strike(method, true);
        let mut delay = Duration::ZERO;
        let mut transport: Option<Reply> = None;
        let mut api: Option<i64> = None;
        let mut cut = false;
        for fault in faults {
            match fault {
                FaultKind::Slow(d) => delay += d,
                FaultKind::Publish(posts) => self.data.posts.extend(posts),
                FaultKind::Delete(owner, id) => self
                    .data
                    .posts
                    .retain(|p| !(p.owner_id == owner && p.id == id)),
                FaultKind::Api(code) => api = api.or(Some(code)),
                FaultKind::Status(status) => {
                    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                    transport = Some(Reply::Raw(
                        status,
                        format!("<html><body><h1>{status}</h1>nginx</body></html>"),
                    ));
                }
                FaultKind::Malformed => {
                    transport = Some(Reply::Raw(
                        StatusCode::OK,
                        "{\"response\":{\"count\":1,\"items\":[{\"id\":1,,]}".into(),
                    ))
                }
                FaultKind::Huge(bytes) => {
                    let mut body = String::with_capacity(bytes);
                    body.push_str("{\"response\":{\"count\":1,\"items\":[\"");
                    while body.len() < bytes.saturating_sub(5) {
                        body.push_str("ааааааааааааааааааааааааааааааааааааааааааааааааааааааа");
                    }
                    body.push_str("\"]}}");
                    transport = Some(Reply::Raw(StatusCode::OK, body));
                }
                FaultKind::Truncated => cut = true,
            }
        }
        if let Some(reply) = transport {
            return (delay, reply);
        }
        let result = match api {
            Some(code) => Err(ApiErr::code(code)),
            None => self.authorized(method, token, params, call),
        };
        let value = match result {
            Ok(value) => value,
            Err(ApiErr(code, message)) => error_envelope(code, &message, method, params),
        };
        if cut {
            let text = value.to_string();
            let mut half = text.len() / 2;
            while !text.is_char_boundary(half) {
                half -= 1;
            }
            return (delay, Reply::Raw(StatusCode::OK, text[..half].to_string()));
        }
        (delay, Reply::Json(value))
    }

    fn authorized(
        &mut self,
        method: &str,
        token: Option<&str>,
        params: &Params,
        call: &mut MockCall,
    ) -> Result<Value, ApiErr> {
        let Some(token) = token else {
            return Err(ApiErr(
                5,
                "User authorization failed: no access_token passed.".into(),
            ));
        };
        let Some(kind) = self
            .data
            .tokens
            .iter()
            .find(|(t, _)| t == token)
            .map(|(_, k)| *k)
        else {
            return Err(ApiErr::code(5));
        };
        if !params.contains_key("v") {
            return Err(ApiErr::code(8));
        }
        if method == "execute" {
            if !kind.can_execute() {
                return Err(ApiErr::code(28));
            }
            return self.execute(params, call);
        }
        self.method(method, params)
            .map(|r| json!({ "response": r }))
    }

    fn execute(&mut self, params: &Params, call: &mut MockCall) -> Result<Value, ApiErr> {
        let code = params.get("code").map(String::as_str).unwrap_or("");
        let calls = parse_vkscript(code).ok_or_else(|| ApiErr::code(13))?;
        if calls.len() > 25 {
            return Err(ApiErr(13, "Too many API calls in execute".into()));
        }
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for (method, args) in calls {
            call.inner.push(method.clone());
            let mut sub_params: Params = args
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect();
            sub_params.insert("v".into(), params.get("v").cloned().unwrap_or_default());
            let mut api = None;
            for fault in self.strike(&method, false) {
                match fault {
                    FaultKind::Api(code) => api = api.or(Some(code)),
                    FaultKind::Publish(posts) => self.data.posts.extend(posts),
                    FaultKind::Delete(owner, id) => self
                        .data
                        .posts
                        .retain(|p| !(p.owner_id == owner && p.id == id)),
                    _ => {}
                }
            }
            let result = match api {
                Some(code) => Err(ApiErr::code(code)),
                None => self.method(&method, &sub_params),
            };
            match result {
                Ok(value) => results.push(value),
                Err(ApiErr(code, message)) => {
                    results.push(Value::Bool(false));
                    errors
                        .push(json!({"method": method, "error_code": code, "error_msg": message}));
                }
            }
        }
        let mut envelope = json!({ "response": results });
        if !errors.is_empty() {
            envelope["execute_errors"] = Value::Array(errors);
        }
        Ok(envelope)
    }

    fn method(&self, method: &str, params: &Params) -> Result<Value, ApiErr> {
        match method {
            "wall.get" => self.wall_get(params),
            "groups.getById" => self.groups_get_by_id(params),
            "newsfeed.search" => self.newsfeed_search(params),
            "wall.getComments" => self.wall_get_comments(params),
            _ => Err(ApiErr::code(3)),
        }
    }

    fn group(&self, key: &str) -> Option<&MockGroup> {
        let key = key.trim();
        let numeric = key
            .strip_prefix("club")
            .or(key.strip_prefix("public"))
            .unwrap_or(key);
        match numeric.parse::<i64>() {
            Ok(id) => self.data.groups.iter().find(|g| g.id == id.abs()),
            Err(_) => self.data.groups.iter().find(|g| g.screen_name == key),
        }
    }

    fn wall_get(&self, params: &Params) -> Result<Value, ApiErr> {
        let owner = match (params.get("owner_id"), params.get("domain")) {
            (Some(o), _) => o.parse::<i64>().map_err(|_| {
                ApiErr(100, format!("{}: owner_id not integer", error_message(100)))
            })?,
            (None, Some(d)) => match self.group(d) {
                Some(g) => -g.id,
                None => {
                    return Err(ApiErr(
                        100,
                        format!("{}: domain is invalid", error_message(100)),
                    ));
                }
            },
            (None, None) => {
                return Err(ApiErr(
                    100,
                    format!("{}: owner_id is undefined", error_message(100)),
                ));
            }
        };
        let count = number(params, "count", 20)?;
        if count > 100 {
            return Err(ApiErr(
                100,
                format!("{}: count should be at most 100", error_message(100)),
            ));
        }
        let offset = number(params, "offset", 0)?;
        if owner < 0 {
            match self.data.groups.iter().find(|g| g.id == -owner) {
                None => {
                    return Err(ApiErr(
                        100,
                        format!("{}: owner_id is invalid", error_message(100)),
                    ));
                }
                Some(g) if g.deactivated.is_some() => return Err(ApiErr::code(18)),
                Some(g) if g.is_closed != 0 => return Err(ApiErr::code(15)),
                Some(_) => {}
            }
        }
        let mut wall: Vec<&MockPost> = self
            .data
            .posts
            .iter()
            .filter(|p| p.owner_id == owner)
            .collect();
        wall.sort_by_key(|p| (!p.pinned, -p.id));
        let items: Vec<&MockPost> = wall
            .iter()
            .skip(offset as usize)
            .take(count as usize)
            .copied()
            .collect();
        Ok(self.items_reply(wall.len(), &items, params, None))
    }

    fn items_reply(
        &self,
        count: usize,
        items: &[&MockPost],
        params: &Params,
        next_from: Option<String>,
    ) -> Value {
        let mut reply = Map::new();
        reply.insert("count".into(), json!(count));
        reply.insert(
            "items".into(),
            Value::Array(items.iter().map(|p| post_json(p)).collect()),
        );
        if flag(params, "extended") {
            let mut ids = Vec::new();
            for p in items {
                ids.extend([p.owner_id, p.from_id]);
                ids.extend(p.signer_id);
                if let Some(o) = &p.repost_of {
                    ids.extend([o.owner_id, o.from_id]);
                }
            }
            let (profiles, groups) = self.people(&ids);
            reply.insert("profiles".into(), profiles);
            reply.insert("groups".into(), groups);
            reply.insert(
                "reaction_sets".into(),
                json!([{"id": "reactions", "items": [{"id": 0, "title": "Нравится"}]}]),
            );
        }
        if let Some(next) = next_from {
            reply.insert("next_from".into(), json!(next));
            reply.insert("total_count".into(), json!(count));
        }
        Value::Object(reply)
    }

    fn people(&self, ids: &[i64]) -> (Value, Value) {
        let mut profiles = Vec::new();
        let mut groups = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for &id in ids {
            if !seen.insert(id) {
                continue;
            }
            if id > 0 {
                if let Some(u) = self.data.users.iter().find(|u| u.id == id) {
                    profiles.push(json!({"id": u.id, "first_name": u.first_name, "last_name": u.last_name,
                        "can_access_closed": true, "is_closed": false, "sex": 1,
                        "screen_name": format!("id{}", u.id), "photo_50": "https://vk.com/images/camera_50.png",
                        "online_info": {"visible": true, "is_online": false}, "online": 0}));
                }
            } else if let Some(g) = self.data.groups.iter().find(|g| g.id == -id) {
                groups.push(group_json(g));
            }
        }
        (Value::Array(profiles), Value::Array(groups))
    }

    fn groups_get_by_id(&self, params: &Params) -> Result<Value, ApiErr> {
        let keys = params
            .get("group_ids")
            .or(params.get("group_id"))
            .ok_or_else(|| {
                ApiErr(
                    100,
                    format!("{}: group_ids is undefined", error_message(100)),
                )
            })?;
        let mut found = Vec::new();
        for key in keys.split(',').filter(|k| !k.trim().is_empty()) {
            match self.group(key) {
                Some(g) => found.push(group_json(g)),
                None => {
                    return Err(ApiErr(
                        100,
                        format!("{}: group_ids is undefined", error_message(100)),
                    ));
                }
            }
        }
        let version: f64 = params
            .get("v")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5.199);
        Ok(if version >= 5.194 {
            json!({"groups": found, "profiles": []})
        } else {
            Value::Array(found)
        })
    }

    fn newsfeed_search(&self, params: &Params) -> Result<Value, ApiErr> {
        let q = params
            .get("q")
            .map(|q| q.to_lowercase())
            .unwrap_or_default();
        let now = chrono::Utc::now().timestamp();
        let start = number(params, "start_time", (now - 86_400).max(0) as u64)? as i64;
        let end = number(params, "end_time", now as u64)? as i64;
        let count = number(params, "count", 30)?;
        if count > 200 {
            return Err(ApiErr(
                100,
                format!("{}: count should be at most 200", error_message(100)),
            ));
        }
        let offset = match params.get("start_from") {
            None => 0,
            Some(from) => from
                .split('/')
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| {
                    ApiErr(
                        100,
                        format!("{}: start_from is invalid", error_message(100)),
                    )
                })?,
        };
        let open = |owner: i64| {
            owner > 0
                || self
                    .data
                    .groups
                    .iter()
                    .any(|g| g.id == -owner && g.is_closed == 0 && g.deactivated.is_none())
        };
        let mut hits: Vec<&MockPost> = self
            .data
            .posts
            .iter()
            .filter(|p| p.date >= start && p.date <= end && open(p.owner_id))
            .filter(|p| {
                !q.is_empty()
                    && (p.text.to_lowercase().contains(&q)
                        || p.repost_of
                            .as_ref()
                            .is_some_and(|o| o.text.to_lowercase().contains(&q)))
            })
            .collect();
        hits.sort_by_key(|p| (-p.date, -p.id, p.owner_id));
        let page: Vec<&MockPost> = hits
            .iter()
            .skip(offset)
            .take(count as usize)
            .copied()
            .collect();
        let next = offset + page.len();
        let next_from = (next < hits.len())
            .then(|| {
                page.last()
                    .map(|p| format!("{next}/{}_{}", p.owner_id, p.id))
            })
            .flatten();
        Ok(self.items_reply(hits.len(), &page, params, next_from))
    }

    fn wall_get_comments(&self, params: &Params) -> Result<Value, ApiErr> {
        let owner = number_i(params, "owner_id")?;
        let post_id = number_i(params, "post_id")?;
        let Some(post) = self
            .data
            .posts
            .iter()
            .find(|p| p.owner_id == owner && p.id == post_id)
        else {
            return Err(ApiErr(
                100,
                format!("{}: post_id is invalid", error_message(100)),
            ));
        };
        if post.comments_closed {
            return Err(ApiErr::code(212));
        }
        let count = number(params, "count", 10)?.min(100) as usize;
        let offset = number(params, "offset", 0)? as usize;
        let thread_items = number(params, "thread_items_count", 0)?.min(10) as usize;
        let mut comments: Vec<&MockComment> = post.comments.iter().collect();
        comments.sort_by_key(|c| c.id);
        if params.get("sort").is_some_and(|s| s == "desc") {
            comments.reverse();
        }
        let page: Vec<&MockComment> = comments.iter().skip(offset).take(count).copied().collect();
        let items: Vec<Value> = page
            .iter()
            .map(|c| {
                let mut item = comment_json(c, owner, post_id);
                item["thread"] = json!({
                    "count": c.replies.len(),
                    "items": c.replies.iter().take(thread_items).map(|r| comment_json(r, owner, post_id)).collect::<Vec<_>>(),
                    "can_post": true, "show_reply_button": true,
                });
                item
            })
            .collect();
        let mut reply = json!({"count": comments.len(), "items": items, "current_level_count": comments.len(),
            "can_post": true, "show_reply_button": true});
        if flag(params, "extended") {
            let mut ids: Vec<i64> = Vec::new();
            for c in &page {
                ids.push(c.from_id);
                ids.extend(c.replies.iter().map(|r| r.from_id));
            }
            let (profiles, groups) = self.people(&ids);
            reply["profiles"] = profiles;
            reply["groups"] = groups;
        }
        Ok(reply)
    }
}

fn flag(params: &Params, key: &str) -> bool {
    params.get(key).is_some_and(|v| v == "1" || v == "true")
}

fn number(params: &Params, key: &str, default: u64) -> Result<u64, ApiErr> {
    match params.get(key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ApiErr(100, format!("{}: {key} not integer", error_message(100)))),
    }
}

fn number_i(params: &Params, key: &str) -> Result<i64, ApiErr> {
    params
        .get(key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ApiErr(100, format!("{}: {key} is undefined", error_message(100))))
}

fn group_json(g: &MockGroup) -> Value {
    let mut v = json!({"id": g.id, "name": g.name, "screen_name": g.screen_name, "is_closed": g.is_closed,
        "type": "page", "photo_50": "https://sun9-1.userapi.com/g50.jpg",
        "photo_100": "https://sun9-1.userapi.com/g100.jpg", "photo_200": "https://sun9-1.userapi.com/g200.jpg"});
    if let Some(d) = &g.deactivated {
        v["deactivated"] = json!(d);
    }
    v
}

fn comment_json(c: &MockComment, owner: i64, post_id: i64) -> Value {
    json!({"id": c.id, "from_id": c.from_id, "date": c.date, "text": c.text, "post_id": post_id,
        "owner_id": owner, "parents_stack": [], "likes": {"count": 0, "user_likes": 0, "can_like": 1},
        "reactions": {"count": 0, "items": []}})
}

/// A post as wall.get returns it, with the noise of real replies (counters, reactions).
fn post_json(p: &MockPost) -> Value {
    let mut v = json!({
        "inner_type": "wall_wallpost", "id": p.id, "owner_id": p.owner_id, "from_id": p.from_id,
        "created_by": 0, "date": p.date, "marked_as_ads": 0,
        "post_type": if p.repost_of.is_some() { "copy" } else { "post" }, "type": "post",
        "text": p.text, "attachments": [], "post_source": {"type": "vk"},
        "comments": {"can_post": 1, "count": p.comments.len(), "groups_can_post": true},
        "likes": {"can_like": 1, "count": 3, "user_likes": 0, "can_publish": 1, "repost_disabled": false},
        "reposts": {"count": 0, "wall_count": 0, "mail_count": 0, "user_reposted": 0},
        "views": {"count": 120}, "is_favorite": false, "donut": {"is_donut": false},
        "short_text_rate": 0.8, "carousel_offset": 0, "hash": format!("h{}x{}", p.owner_id.abs(), p.id),
        "reaction_set_id": "reactions", "reactions": {"count": 2, "items": [{"id": 0, "count": 2}]},
    });
    if p.pinned {
        v["is_pinned"] = json!(1);
    }
    if let Some(s) = p.signer_id {
        v["signer_id"] = json!(s);
    }
    if let Some(geo) = &p.geo {
        v["geo"] = json!({"type": "point", "coordinates": geo, "showmap": 1});
    }
    if let Some(o) = &p.repost_of {
        let mut original = post_json(o);
        if let Some(map) = original.as_object_mut() {
            for noisy in ["comments", "likes", "reposts", "views", "is_pinned"] {
                map.remove(noisy);
            }
        }
        v["copy_history"] = json!([original]);
    }
    v
}

/// The calls of `return [API.m({…}),API.m({…})];`, the only VKScript the client writes.
pub fn parse_vkscript(code: &str) -> Option<Vec<(String, Map<String, Value>)>> {
    let inner = code
        .trim()
        .strip_prefix("return")?
        .trim()
        .strip_prefix('[')?
        .trim_end()
        .strip_suffix(';')?
        .trim_end()
        .strip_suffix(']')?;
    let mut rest = inner.trim();
    let mut calls = Vec::new();
    while !rest.is_empty() {
        rest = rest.strip_prefix("API.")?;
        let open = rest.find('(')?;
        let method = rest[..open].to_string();
        rest = &rest[open + 1..];
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Map<String, Value>>();
        let args = stream.next()?.ok()?;
        rest = rest[stream.byte_offset()..]
            .trim_start()
            .strip_prefix(')')?
            .trim_start();
        calls.push((method, args));
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Some(calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vkscript_of_the_client_is_understood() {
        let code = crate::sources::vk::client::execute_code(&[
            crate::sources::vk::VkCall::new("wall.get")
                .param("owner_id", -1)
                .param("offset", 100),
            crate::sources::vk::VkCall::new("groups.getById").param("group_ids", "a),b"),
        ]);
        let calls = parse_vkscript(&code).unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].0, "wall.get");
        assert_eq!(calls[0].1["offset"], json!(100));
        assert_eq!(calls[1].1["group_ids"], json!("a),b"));
        assert!(parse_vkscript("return API.wall.get({});").is_none());
    }
}
