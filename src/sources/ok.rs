//! Odnoklassniki (OK) groups through the OK REST API (reference/wire-formats.md §2).
//!
//! Every call is a signed POST to `fb.do` ([`OkApi::call`]): the parameters without
//! `access_token`, sorted by key, joined as `key=value` without a separator, followed by the
//! secret — `md5(access_token + application_secret_key)` in a session, the application
//! secret alone without one — and MD5-hashed in lowercase hex ([`signature`]). POST keeps the
//! access token out of URLs, so it cannot reach a log through an error message.
//!
//! One [`OkSource`] per configured group reads the group's topics with
//! `mediatopic.getTopics` (newest first, `anchor` paging) until it reaches the newest topic
//! the cursor remembers. A poll reads at most `max_pages_per_poll` pages; what lies beyond
//! stays in the cursor as an [`OkGap`] (the anchor to continue from) for the next polls. Comments are read with `discussions.getComments` through
//! [`OkSource::comments`], which the comment follower (`sources::comments`) calls for topics
//! that became incidents.
//!
//! Errors come as a flat body `{"error_code":…,"error_msg":"NAME : detail","error_data":…}`
//! with the header `invocation-error: <code>`, on a 200 or an error status; both are
//! checked before the status. What each code means for the poller is [`OkError::policy`].
//!
//! Unverified against the live service (the reference lists it from client code, not the
//! official documentation): the exact reply of `mediatopic.getTopics`. The parser reads the
//! fields clients read (`media_topics[].id / created_ms / author_ref / media[].text`,
//! `anchor`, `has_more`, `entities`) and ignores the rest.

use super::http::{HttpClient, classify_status, parse_retry_after};
use super::{Batch, BoxFuture, Cursor, Source, SourceError};
use crate::config::PollSettings;
use crate::model::{AuthorKind, Platform, Post, PostKey};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

/// The REST endpoint.
pub const DEFAULT_API_URL: &str = "https://api.ok.ru/fb.do";

/// How long a `FLOOD_BLOCKED` (8) source waits.
pub const FLOOD_WAIT: Duration = Duration::from_secs(60 * 60);

/// The OK application and the groups it reads (`[sources.ok]`).
///
/// The keys and the token may come from the environment instead of the file, like every
/// key: `OTKLIK__SOURCES__OK__APPLICATION_SECRET_KEY`, `OTKLIK__SOURCES__OK__ACCESS_TOKEN`.
/// They are never logged (`Debug` shows them redacted).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OkSettings {
    /// The application's public key (`application_key`).
    #[serde(default)]
    pub application_key: String,
    /// The application's secret key; signs every request, never sent.
    #[serde(default)]
    pub application_secret_key: String,
    /// An access token of the account the application reads as; empty for calls without a
    /// session.
    #[serde(default)]
    pub access_token: String,
    /// The REST endpoint; only a test or the demo changes it.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Topics asked for per request (1 to 100).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Pages of topics read on a group's very first poll (how much history to take in).
    #[serde(default = "default_first_poll_pages")]
    pub first_poll_pages: u32,
    /// Most pages read on a later poll; the rest of a larger burst is read on the next polls.
    #[serde(default = "default_max_pages_per_poll")]
    pub max_pages_per_poll: u32,
    /// Poll settings for every group; `[poll]` when absent.
    #[serde(default)]
    pub poll: Option<PollSettings>,
    /// The groups to read, one source each.
    #[serde(default)]
    pub groups: Vec<OkGroupConfig>,
}

impl fmt::Debug for OkSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &str| if s.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("OkSettings")
            .field("application_key", &self.application_key)
            .field(
                "application_secret_key",
                &hidden(&self.application_secret_key),
            )
            .field("access_token", &hidden(&self.access_token))
            .field("api_url", &self.api_url)
            .field("page_size", &self.page_size)
            .field("first_poll_pages", &self.first_poll_pages)
            .field("max_pages_per_poll", &self.max_pages_per_poll)
            .field("poll", &self.poll)
            .field("groups", &self.groups)
            .finish()
    }
}

/// One OK group (`[[sources.ok.groups]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OkGroupConfig {
    /// Unique name of the source (keys its cursor and health record).
    pub name: String,
    /// The group's numeric id (as in `https://ok.ru/group/<id>`).
    pub group_id: String,
    /// Home territory: where the group's posts are from when they name no place.
    #[serde(default)]
    pub territory: Option<String>,
    /// How the group is shown to users; its name on OK when absent.
    #[serde(default)]
    pub community: Option<String>,
    /// Who writes the group: `resident` (the default) for town groups, `media`, `official`.
    #[serde(default)]
    pub author_kind: AuthorKind,
    /// A disabled group is kept in the configuration but not polled.
    #[serde(default = "crate::config::default_true")]
    pub enabled: bool,
}

fn default_api_url() -> String {
    DEFAULT_API_URL.to_string()
}

fn default_page_size() -> u32 {
    50
}

fn default_first_poll_pages() -> u32 {
    1
}

fn default_max_pages_per_poll() -> u32 {
    10
}

impl Default for OkSettings {
    fn default() -> OkSettings {
        OkSettings {
            application_key: String::new(),
            application_secret_key: String::new(),
            access_token: String::new(),
            api_url: default_api_url(),
            page_size: default_page_size(),
            first_poll_pages: default_first_poll_pages(),
            max_pages_per_poll: default_max_pages_per_poll(),
            poll: None,
            groups: Vec::new(),
        }
    }
}

impl OkSettings {
    /// Check what can be checked without the org chart. The error is `(key, problem)`, the
    /// key relative to `[sources.ok]`.
    pub fn check(&self) -> Result<(), (String, String)> {
        let err = |k: &str, p: &str| Err((k.to_string(), p.to_string()));
        if self.groups.iter().any(|g| g.enabled) {
            if self.application_key.trim().is_empty() {
                return err(
                    "application_key",
                    "expected the application's public key (or OTKLIK__SOURCES__OK__APPLICATION_KEY)",
                );
            }
            if self.application_secret_key.trim().is_empty() {
                return err(
                    "application_secret_key",
                    "expected the application's secret key (or OTKLIK__SOURCES__OK__APPLICATION_SECRET_KEY)",
                );
            }
        }
        match reqwest::Url::parse(&self.api_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => {
                return Err((
                    "api_url".into(),
                    format!(
                        "expected an http(s) address such as {DEFAULT_API_URL}, found `{}`",
                        self.api_url
                    ),
                ));
            }
        }
        if !(1..=100).contains(&self.page_size) {
            return err("page_size", "expected 1 to 100");
        }
        if self.first_poll_pages == 0 {
            return err("first_poll_pages", "expected at least 1");
        }
        if self.max_pages_per_poll == 0 {
            return err("max_pages_per_poll", "expected at least 1");
        }
        for (i, g) in self.groups.iter().enumerate() {
            if g.group_id.is_empty() || !g.group_id.chars().all(|c| c.is_ascii_digit()) {
                return Err((
                    format!("groups[{i}].group_id"),
                    format!(
                        "expected the group's numeric id (https://ok.ru/group/<id>), found `{}`",
                        g.group_id
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A source for every enabled group of `settings`, all sharing `client`.
pub fn enabled_sources(settings: Option<&OkSettings>, client: &HttpClient) -> Vec<Box<dyn Source>> {
    let Some(settings) = settings else {
        return Vec::new();
    };
    let api = OkApi::new(settings, client.clone());
    settings
        .groups
        .iter()
        .filter(|g| g.enabled)
        .map(|g| Box::new(OkSource::new(settings, g, api.clone())) as Box<dyn Source>)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Signature and calls

/// The request signature of reference/wire-formats.md §2.2: `params` without `sig`,
/// `access_token` and `session_key`, sorted by key, joined as `key=value` with no separator,
/// followed by the secret, MD5 in lowercase hex. In a session (`access_token` given) the
/// secret is `md5(access_token + application_secret_key)`, else the application secret.
/// Values are hashed as UTF-8, not URL-encoded.
pub fn signature<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    application_secret_key: &str,
    access_token: Option<&str>,
) -> String {
    let secret = match access_token.filter(|t| !t.is_empty()) {
        Some(token) => md5_hex(format!("{token}{application_secret_key}").as_bytes()),
        None => application_secret_key.to_string(),
    };
    let sorted: BTreeMap<&str, &str> = params
        .into_iter()
        .filter(|(k, _)| !matches!(*k, "sig" | "access_token" | "session_key"))
        .collect();
    let mut joined = String::new();
    for (key, value) in sorted {
        joined.push_str(key);
        joined.push('=');
        joined.push_str(value);
    }
    joined.push_str(&secret);
    md5_hex(joined.as_bytes())
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An error OK reported: `error_code`, the name and detail of `error_msg`, `error_data`.
#[derive(Clone, Debug, PartialEq)]
pub struct OkError {
    pub code: i64,
    /// The part of `error_msg` before " : " (`PARAM_SIGNATURE`).
    pub name: String,
    /// The whole `error_msg`.
    pub message: String,
    pub data: Option<Value>,
}

/// What the poller should do about an [`OkError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OkPolicy {
    /// Retry with the usual backoff.
    Retry,
    /// Wait at least this long.
    Wait(Duration),
    /// Stop until the configuration changes (or OK lets us in again).
    Disable,
}

impl OkError {
    /// The policy of reference/wire-formats.md §2.4 for this code.
    ///
    /// - retry: 1 UNKNOWN, 2 SERVICE, 7 ACTION_BLOCKED, 12 CANCELLED, 30/31 NETWORK(_TIMEOUT),
    ///   9999 SYSTEM, and any code the table does not know;
    /// - wait: 8 FLOOD_BLOCKED an hour, 11 LIMIT_REACHED until the next midnight in Moscow
    ///   (daily limits);
    /// - disable: 9 IP_BLOCKED (alert), 3 METHOD, 4 REQUEST, 10 PERMISSION_DENIED, 50 NOT_ADMIN,
    ///   100–299 parameter errors (101 key, 102 session expired, 104 signature, 160 group id,
    ///   210 application disabled …), 300 NOT_FOUND, 401–403 login, 451–458 session and
    ///   restrictions, 900 NO_SUCH_APP.
    pub fn policy(&self, now: DateTime<Utc>) -> OkPolicy {
        match self.code {
            8 => OkPolicy::Wait(FLOOD_WAIT),
            11 => OkPolicy::Wait(until_moscow_midnight(now)),
            3 | 4 | 9 | 10 | 50 | 100..=299 | 300 | 401..=403 | 451..=458 | 900 => {
                OkPolicy::Disable
            }
            _ => OkPolicy::Retry,
        }
    }

    /// What to tell the sysadmin to do about it.
    fn advice(&self) -> &'static str {
        match self.code {
            9 => "OK blocked this server's IP address; ask OK support",
            10 | 200 => "the application lacks a permission (GROUP_CONTENT, VALUABLE_ACCESS)",
            50 => "the method needs group administrator rights",
            101 | 900 => "check application_key",
            102 | 103 | 453 => "the access token expired or is missing; issue a new one",
            104 | 105 => "the signature was refused; check application_secret_key and access_token",
            160 => "check group_id; the group is skipped",
            210 => "the application is disabled on OK",
            300 => "not found; the group is skipped",
            456..=458 => "the group or its content is closed to this account; the group is skipped",
            3 | 4 | 100 | 220 => {
                "the request is wrong for this API version (a bug or a changed API)"
            }
            8 => "OK asks to slow down",
            11 => "the daily request limit is reached",
            _ => "will retry",
        }
    }

    /// The [`SourceError`] for `source` under [`OkError::policy`].
    pub fn to_source_error(&self, source: &str, method: &str) -> SourceError {
        let message = format!(
            "source {source}: OK {method} answered error {} ({}): {}",
            self.code,
            self.message,
            self.advice()
        );
        match self.policy(Utc::now()) {
            OkPolicy::Retry => SourceError::Transient(message),
            OkPolicy::Wait(retry_after) => SourceError::RetryAfter {
                message,
                retry_after,
            },
            OkPolicy::Disable => SourceError::Disabled(message),
        }
    }
}

/// Time from `now` to the next 00:05 in Moscow, when OK's daily limits are taken to reset.
fn until_moscow_midnight(now: DateTime<Utc>) -> Duration {
    let local = now.with_timezone(&chrono_tz::Europe::Moscow);
    let next = (local.date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 5, 0)
        .and_then(|t| chrono_tz::Europe::Moscow.from_local_datetime(&t).single());
    next.and_then(|n| (n.with_timezone(&Utc) - now).to_std().ok())
        .unwrap_or(Duration::from_secs(6 * 60 * 60))
}

/// Why a call failed: OK said so, or the transport or the reply did.
#[derive(Debug)]
pub enum OkCallError {
    Api(OkError),
    Source(SourceError),
}

impl OkCallError {
    pub fn into_source_error(self, source: &str, method: &str) -> SourceError {
        match self {
            OkCallError::Api(e) => e.to_source_error(source, method),
            OkCallError::Source(e) => e,
        }
    }
}

/// A signed client of the OK REST API.
#[derive(Clone)]
pub struct OkApi {
    client: HttpClient,
    api_url: String,
    application_key: String,
    application_secret_key: String,
    access_token: String,
}

impl fmt::Debug for OkApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OkApi")
            .field("api_url", &self.api_url)
            .field("application_key", &self.application_key)
            .finish_non_exhaustive()
    }
}

impl OkApi {
    pub fn new(settings: &OkSettings, client: HttpClient) -> OkApi {
        OkApi {
            client,
            api_url: settings.api_url.clone(),
            application_key: settings.application_key.trim().to_string(),
            application_secret_key: settings.application_secret_key.trim().to_string(),
            access_token: settings.access_token.trim().to_string(),
        }
    }

    /// The form body of a call: `params` with `method`, `application_key`, `format=json`,
    /// `sig` and the access token.
    pub fn signed_form(&self, method: &str, params: &[(&str, String)]) -> String {
        let mut all: Vec<(&str, &str)> = vec![
            ("application_key", self.application_key.as_str()),
            ("format", "json"),
            ("method", method),
        ];
        all.extend(params.iter().map(|(k, v)| (*k, v.as_str())));
        let token = (!self.access_token.is_empty()).then_some(self.access_token.as_str());
        let sig = signature(all.iter().copied(), &self.application_secret_key, token);
        let mut url = reqwest::Url::parse("http://form.invalid/").expect("valid url");
        {
            let mut pairs = url.query_pairs_mut();
            pairs.extend_pairs(all.iter().copied());
            pairs.append_pair("sig", &sig);
            if let Some(token) = token {
                pairs.append_pair("access_token", token);
            }
        }
        url.query().unwrap_or_default().to_string()
    }

    /// Call `method` with `params` for `source`; the reply's JSON or why there is none.
    pub async fn call(
        &self,
        source: &str,
        method: &str,
        params: &[(&str, String)],
    ) -> Result<Value, OkCallError> {
        let url = self.api_url.as_str();
        let what = format!("{url} ({method})");
        let response = self
            .client
            .reqwest()
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(self.signed_form(method, params))
            .send()
            .await
            .map_err(|e| {
                OkCallError::Source(self.client.transport_error(source, &what, &e.without_url()))
            })?;
        let status = response.status();
        let header_code = response
            .headers()
            .get("invocation-error")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok());
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, Utc::now()));
        let by_status = || classify_status(source, &what, status, retry_after);
        // The body is read whatever the status: OK may put its error on a 4xx or 5xx, with
        // or without the header.
        let body = match self.client.read_body(source, &what, response).await {
            Ok(body) => body,
            Err(e) => {
                return Err(match header_code {
                    Some(code) => OkCallError::Api(OkError {
                        code,
                        name: String::new(),
                        message: format!("invocation-error {code}, body unreadable"),
                        data: None,
                    }),
                    None if !status.is_success() => OkCallError::Source(by_status()),
                    None => OkCallError::Source(e),
                });
            }
        };
        let parsed: Result<Value, _> = serde_json::from_slice(&body);
        if let Some(error) = parsed.as_ref().ok().and_then(api_error) {
            return Err(OkCallError::Api(error));
        }
        if let Some(code) = header_code {
            return Err(OkCallError::Api(OkError {
                code,
                name: String::new(),
                message: format!(
                    "invocation-error {code}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                ),
                data: None,
            }));
        }
        if !status.is_success() {
            return Err(OkCallError::Source(by_status()));
        }
        parsed.map_err(|e| {
            OkCallError::Source(SourceError::Transient(format!(
                "source {source}: the reply from {what} is not valid JSON ({e}); will retry"
            )))
        })
    }

    /// The name of group `group_id` (`group.getInfo`); the reply may be `{"groups":[…]}` or
    /// a bare array.
    pub async fn group_name(&self, source: &str, group_id: &str) -> Result<String, OkCallError> {
        let reply = self
            .call(
                source,
                "group.getInfo",
                &[
                    ("uids", group_id.to_string()),
                    ("fields", "uid,name".into()),
                ],
            )
            .await?;
        let groups = reply.get("groups").unwrap_or(&reply);
        groups
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|g| id_string(g.get("uid")).as_deref() == Some(group_id))
            })
            .and_then(|g| g.get("name")?.as_str())
            .map(str::to_string)
            .ok_or_else(|| {
                OkCallError::Api(OkError {
                    code: 300,
                    name: "NOT_FOUND".into(),
                    message: format!("NOT_FOUND : group {group_id} is not in the reply"),
                    data: None,
                })
            })
    }
}

/// A top-level `error_code` makes a reply an error, whatever the key order.
fn api_error(value: &Value) -> Option<OkError> {
    let code = value.get("error_code")?.as_i64()?;
    let message = value
        .get("error_msg")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = message
        .split_once(" : ")
        .map_or(message.as_str(), |(n, _)| n)
        .trim()
        .to_string();
    Some(OkError {
        code,
        name,
        message,
        data: value.get("error_data").filter(|d| !d.is_null()).cloned(),
    })
}

/// An id OK may write as a string or a number.
fn id_string(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Milliseconds since the epoch, as OK writes every time.
pub fn from_millis(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

// ---------------------------------------------------------------------------------------
// Topics and comments

/// A group topic reduced to what the daemon uses.
#[derive(Clone, Debug, PartialEq)]
pub struct OkTopic {
    pub id: String,
    pub created_ms: i64,
    /// The texts of its `media` items of type `text`, one per line.
    pub text: String,
    /// `user:<id>` or `group:<id>`.
    pub author_ref: Option<String>,
}

/// One page of a group's topics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopicPage {
    /// Newest first, as OK sends them.
    pub topics: Vec<OkTopic>,
    pub anchor: Option<String>,
    pub has_more: bool,
    /// Names from `entities` by ref (`user:1`, `group:2`).
    pub names: HashMap<String, String>,
}

/// A page of `mediatopic.getTopics`. Topics without an id or a time are skipped.
pub fn parse_topics(reply: &Value) -> Result<TopicPage, String> {
    let topics = reply
        .get("media_topics")
        .and_then(Value::as_array)
        .ok_or("has no `media_topics` list")?;
    let topics = topics
        .iter()
        .filter_map(|t| {
            Some(OkTopic {
                id: id_string(t.get("id"))?,
                created_ms: t.get("created_ms")?.as_i64()?,
                text: media_text(t.get("media")),
                author_ref: t
                    .get("author_ref")
                    .and_then(Value::as_str)
                    .map(String::from),
            })
        })
        .collect();
    Ok(TopicPage {
        topics,
        anchor: reply
            .get("anchor")
            .and_then(Value::as_str)
            .map(String::from),
        has_more: reply
            .get("has_more")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        names: entity_names(reply.get("entities")),
    })
}

fn media_text(media: Option<&Value>) -> String {
    let Some(items) = media.and_then(Value::as_array) else {
        return String::new();
    };
    items
        .iter()
        .filter(|m| m.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|m| {
            m.get("text")
                .and_then(Value::as_str)
                .map(String::from)
                .or_else(|| {
                    let tokens = m.get("text_tokens")?.as_array()?;
                    Some(
                        tokens
                            .iter()
                            .filter_map(|t| t.get("text")?.as_str())
                            .collect(),
                    )
                })
        })
        .map(|t: String| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn entity_names(entities: Option<&Value>) -> HashMap<String, String> {
    let mut names = HashMap::new();
    let Some(entities) = entities else {
        return names;
    };
    for (kind, list) in [("user", "users"), ("group", "groups")] {
        for e in entities
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(id), Some(name)) = (
                id_string(e.get("uid").or(e.get("id"))),
                e.get("name").and_then(Value::as_str),
            ) {
                names.insert(format!("{kind}:{id}"), name.to_string());
            }
        }
    }
    names
}

/// A comment of a topic.
#[derive(Clone, Debug, PartialEq)]
pub struct OkComment {
    pub id: String,
    pub author_id: Option<String>,
    pub author_name: Option<String>,
    pub text: String,
    pub published: Option<DateTime<Utc>>,
}

/// One page of comments, with the paging state to continue from.
#[derive(Clone, Debug, PartialEq)]
pub struct CommentPage {
    /// The comments as posts (parent: the topic), oldest first.
    pub comments: Vec<Post>,
    /// Pass back to read on.
    pub anchor: Option<String>,
    pub has_more: bool,
}

/// A page of `discussions.getComments`. `date_ms` is preferred; the older `date` string
/// ("2026-11-26 14:05:00") is read as Moscow time.
pub fn parse_comments(reply: &Value) -> Result<(Vec<OkComment>, Option<String>, bool), String> {
    let list = reply
        .get("comments")
        .and_then(Value::as_array)
        .ok_or("has no `comments` list")?;
    let names = entity_names(reply.get("entities"));
    let comments = list
        .iter()
        .filter_map(|c| {
            let author_id = id_string(c.get("author_id"));
            let published = c
                .get("date_ms")
                .and_then(Value::as_i64)
                .and_then(from_millis)
                .or_else(|| {
                    let d = c.get("date")?.as_str()?;
                    let naive = NaiveDateTime::parse_from_str(d, "%Y-%m-%d %H:%M:%S").ok()?;
                    chrono_tz::Europe::Moscow
                        .from_local_datetime(&naive)
                        .earliest()
                        .map(|t| t.with_timezone(&Utc))
                });
            Some(OkComment {
                id: id_string(c.get("id"))?,
                author_name: c
                    .get("author_name")
                    .and_then(Value::as_str)
                    .map(String::from)
                    .or_else(|| {
                        names
                            .get(&format!("user:{}", author_id.as_deref()?))
                            .cloned()
                    }),
                author_id,
                text: c
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim()
                    .to_string(),
                published,
            })
        })
        .collect();
    Ok((
        comments,
        reply
            .get("anchor")
            .and_then(Value::as_str)
            .map(String::from),
        reply
            .get("has_more")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    ))
}

/// What an OK group source remembers between polls.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OkCursor {
    /// `created_ms` of the newest topic delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_ms: Option<i64>,
    /// Ids of the topics delivered with exactly that time (several may share a millisecond).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids_at_newest: Vec<String>,
    /// Stretches of topics not read yet because a poll ran out of pages before reaching the
    /// newest topic seen; later polls read them with the pages they have left.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<OkGap>,
}

/// Topics older than the page `anchor` leads to, newer than the floor, not read yet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OkGap {
    pub anchor: String,
    pub floor_ms: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub floor_ids: Vec<String>,
}

/// The newest topic already delivered: what is above it is new.
#[derive(Clone, Debug, Default, PartialEq)]
struct Floor {
    ms: Option<i64>,
    ids: Vec<String>,
}

impl Floor {
    fn is_new(&self, topic: &OkTopic) -> bool {
        match self.ms {
            None => true,
            Some(n) => {
                topic.created_ms > n || (topic.created_ms == n && !self.ids.contains(&topic.id))
            }
        }
    }
}

/// Unread stretches a cursor keeps at most.
const MAX_GAPS: usize = 20;

/// What reading pages of topics down to a floor found.
struct TopicsRead {
    /// New topics with the names of the page they came on, newest first.
    topics: Vec<(OkTopic, HashMap<String, String>)>,
    pages: u32,
    /// The anchor to continue from when the pages ran out before the floor.
    unfinished: Option<String>,
}

/// One OK group.
pub struct OkSource {
    group: OkGroupConfig,
    api: OkApi,
    page_size: u32,
    first_poll_pages: u32,
    max_pages_per_poll: u32,
    poll: Option<PollSettings>,
    /// The group's name on OK, asked once.
    group_name: Option<String>,
}

impl OkSource {
    pub fn new(settings: &OkSettings, group: &OkGroupConfig, api: OkApi) -> OkSource {
        OkSource {
            group: group.clone(),
            api,
            page_size: settings.page_size.clamp(1, 100),
            first_poll_pages: settings.first_poll_pages.max(1),
            max_pages_per_poll: settings.max_pages_per_poll.max(1),
            poll: settings.poll.clone(),
            group_name: None,
        }
    }

    /// The address of topic `topic_id` of this group.
    pub fn topic_url(&self, topic_id: &str) -> String {
        format!(
            "https://ok.ru/group/{}/topic/{topic_id}",
            self.group.group_id
        )
    }

    /// The key of topic `topic_id` of this group: `ok:<group_id>_<topic_id>`.
    pub fn topic_key(&self, topic_id: &str) -> PostKey {
        PostKey::new(Platform::Ok, format!("{}_{topic_id}", self.group.group_id))
    }

    /// One page of the comments of topic `topic_id` (`discussions.getComments`, oldest
    /// first from `anchor`, or from the first comment without one). Each comment is a post
    /// keyed `ok:<group_id>_<topic_id>_<comment_id>` whose parent is the topic.
    ///
    /// The comment follower (`sources::comments`) calls this yet: the incident queue will, for topics that
    /// became incidents. A topic deleted since comes back as error 300 (NOT_FOUND), which
    /// [`OkError::policy`] turns into [`SourceError::Disabled`]; the caller should drop the
    /// topic, not the source.
    pub async fn comments(
        &self,
        topic_id: &str,
        anchor: Option<&str>,
        count: u32,
    ) -> Result<CommentPage, SourceError> {
        let name = self.group.name.as_str();
        let method = "discussions.getComments";
        let mut params = vec![
            ("discussionId", topic_id.to_string()),
            ("discussionType", "GROUP_TOPIC".to_string()),
            ("count", count.clamp(1, 100).to_string()),
            ("direction", "FORWARD".to_string()),
        ];
        params.push(("anchor", anchor.unwrap_or("FIRST").to_string()));
        let reply = self
            .api
            .call(name, method, &params)
            .await
            .map_err(|e| e.into_source_error(name, method))?;
        let (comments, anchor, has_more) = parse_comments(&reply).map_err(|e| {
            SourceError::transient(format!("source {name}: the reply of OK {method} {e}"))
        })?;
        let parent = self.topic_key(topic_id);
        let community = self.community();
        let fetched = Utc::now();
        let comments = comments
            .into_iter()
            .filter(|c| !c.text.is_empty())
            .map(|c| Post {
                key: PostKey::new(
                    Platform::Ok,
                    format!("{}_{topic_id}_{}", self.group.group_id, c.id),
                ),
                source: self.group.name.clone(),
                url: Some(self.topic_url(topic_id)),
                community: community.clone(),
                community_territory: self.group.territory.clone(),
                author: c.author_name,
                author_url: c.author_id.map(|id| format!("https://ok.ru/profile/{id}")),
                author_kind: AuthorKind::Resident,
                published: c.published.unwrap_or(fetched),
                fetched,
                title: None,
                text: c.text,
                parent: Some(parent.clone()),
            })
            .collect();
        Ok(CommentPage {
            comments,
            anchor,
            has_more,
        })
    }

    fn community(&self) -> String {
        self.group
            .community
            .clone()
            .or_else(|| self.group_name.clone())
            .unwrap_or_else(|| format!("Группа ОК {}", self.group.group_id))
    }

    async fn poll(&mut self, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        let name = self.group.name.clone();
        let name = name.as_str();
        let previous: OkCursor = match cursor {
            None => OkCursor::default(),
            Some(value) => serde_json::from_value(value.clone()).unwrap_or_else(|e| {
                tracing::warn!(source = name, error = %e, "unreadable ok cursor, reading the group afresh");
                OkCursor::default()
            }),
        };
        if self.group.community.is_none() && self.group_name.is_none() {
            match self.api.group_name(name, &self.group.group_id).await {
                Ok(group_name) => self.group_name = Some(group_name),
                Err(OkCallError::Api(e)) if e.policy(Utc::now()) == OkPolicy::Disable => {
                    return Err(e.to_source_error(name, "group.getInfo"));
                }
                Err(e) => {
                    let e = e.into_source_error(name, "group.getInfo");
                    tracing::warn!(source = name, error = %e, "group name unknown, using the id");
                }
            }
        }
        let page_limit = if previous.newest_ms.is_some() {
            self.max_pages_per_poll
        } else {
            self.first_poll_pages
        };
        let floor = Floor {
            ms: previous.newest_ms,
            ids: previous.ids_at_newest.clone(),
        };
        let head = self.read_topics(name, None, &floor, page_limit).await?;
        let mut pages = head.pages;
        let mut new = head.topics;
        let mut gaps = previous.gaps.clone();
        if let (Some(floor_ms), Some(anchor)) = (previous.newest_ms, head.unfinished) {
            tracing::warn!(
                source = name,
                pages,
                "more new topics than max_pages_per_poll pages hold; the rest is read on the next polls"
            );
            gaps.push(OkGap {
                anchor,
                floor_ms,
                floor_ids: previous.ids_at_newest.clone(),
            });
        }
        if gaps.len() > MAX_GAPS {
            let dropped = gaps.len() - MAX_GAPS;
            tracing::warn!(
                source = name,
                dropped,
                "too many unread stretches; the oldest are given up"
            );
            gaps.drain(..dropped);
        }
        let mut open = Vec::new();
        for gap in gaps {
            if pages >= page_limit {
                open.push(gap);
                continue;
            }
            let floor = Floor {
                ms: Some(gap.floor_ms),
                ids: gap.floor_ids.clone(),
            };
            let found = self
                .read_topics(name, Some(gap.anchor.clone()), &floor, page_limit - pages)
                .await?;
            pages += found.pages;
            for (topic, names) in found.topics {
                if !new.iter().any(|(t, _)| t.id == topic.id) {
                    new.push((topic, names));
                }
            }
            if let Some(anchor) = found.unfinished {
                open.push(OkGap { anchor, ..gap });
            }
        }

        let mut next = previous.clone();
        next.gaps = open;
        for (topic, _) in &new {
            match next.newest_ms {
                Some(n) if topic.created_ms < n => {}
                Some(n) if topic.created_ms == n => {
                    if !next.ids_at_newest.contains(&topic.id) {
                        next.ids_at_newest.push(topic.id.clone());
                    }
                }
                _ => {
                    next.newest_ms = Some(topic.created_ms);
                    next.ids_at_newest = vec![topic.id.clone()];
                }
            }
        }
        let fetched = Utc::now();
        let community = self.community();
        let mut posts: Vec<Post> = new
            .iter()
            .filter(|(t, _)| !t.text.is_empty())
            .map(|(t, names)| self.post(t, names, &community, fetched))
            .collect();
        posts.sort_by(|a, b| a.published.cmp(&b.published).then(a.key.cmp(&b.key)));
        let changed = next != previous;
        tracing::debug!(source = name, pages, new = posts.len(), "group read");
        Ok(Batch {
            posts,
            cursor: changed.then(|| serde_json::to_value(&next).expect("ok cursor serializes")),
            changed,
        })
    }

    /// Read pages of topics, newest first, from `start` (the newest when `None`) until a page
    /// ends in a topic at or below `floor`, the group has no more, or `limit` pages are read.
    async fn read_topics(
        &self,
        name: &str,
        start: Option<String>,
        floor: &Floor,
        limit: u32,
    ) -> Result<TopicsRead, SourceError> {
        let method = "mediatopic.getTopics";
        let mut read = TopicsRead {
            topics: Vec::new(),
            pages: 0,
            unfinished: None,
        };
        let mut anchor = start;
        loop {
            let mut params = vec![
                ("gid", self.group.group_id.clone()),
                ("count", self.page_size.to_string()),
            ];
            if let Some(a) = &anchor {
                params.push(("anchor", a.clone()));
                params.push(("direction", "FORWARD".into()));
            }
            let reply = self
                .api
                .call(name, method, &params)
                .await
                .map_err(|e| e.into_source_error(name, method))?;
            let page = parse_topics(&reply).map_err(|e| {
                SourceError::transient(format!("source {name}: the reply of OK {method} {e}"))
            })?;
            read.pages += 1;
            // Newest first: once the page's oldest topic is one already delivered, the
            // pages beyond hold nothing new.
            let reached = page
                .topics
                .last()
                .is_some_and(|t| floor.ms.is_some() && !floor.is_new(t));
            for topic in &page.topics {
                if floor.is_new(topic) && !read.topics.iter().any(|(t, _)| t.id == topic.id) {
                    read.topics.push((topic.clone(), page.names.clone()));
                }
            }
            let Some(next) = page
                .anchor
                .filter(|_| page.has_more && !page.topics.is_empty())
            else {
                break;
            };
            if reached || anchor.as_ref() == Some(&next) {
                break;
            }
            if read.pages >= limit {
                read.unfinished = Some(next);
                break;
            }
            anchor = Some(next);
        }
        Ok(read)
    }

    fn post(
        &self,
        topic: &OkTopic,
        names: &HashMap<String, String>,
        community: &str,
        fetched: DateTime<Utc>,
    ) -> Post {
        let author_ref = topic.author_ref.as_deref();
        let author_url = author_ref.and_then(|r| {
            let (kind, id) = r.split_once(':')?;
            match kind {
                "user" => Some(format!("https://ok.ru/profile/{id}")),
                "group" => Some(format!("https://ok.ru/group/{id}")),
                _ => None,
            }
        });
        Post {
            key: self.topic_key(&topic.id),
            source: self.group.name.clone(),
            url: Some(self.topic_url(&topic.id)),
            community: community.to_string(),
            community_territory: self.group.territory.clone(),
            author: author_ref.and_then(|r| names.get(r)).cloned(),
            author_url,
            author_kind: self.group.author_kind,
            published: from_millis(topic.created_ms).unwrap_or(fetched),
            fetched,
            title: None,
            text: topic.text.clone(),
            parent: None,
        }
    }
}

impl Source for OkSource {
    fn name(&self) -> &str {
        &self.group.name
    }

    fn platform(&self) -> Platform {
        Platform::Ok
    }

    fn poll_settings(&self) -> Option<PollSettings> {
        self.poll.clone()
    }

    fn fetch<'a>(
        &'a mut self,
        cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<Batch, SourceError>> {
        Box::pin(self.poll(cursor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The test vector of reference/wire-formats.md §2.2 (aiookru docs).
    #[test]
    fn signature_test_vector() {
        let token = "-s-84W-s3egarWUsbkq-IWTucuedzTKT8VUXIA.s4Xx8IW7";
        let secret = "ABC123DEF456GHI789JKL123";
        assert_eq!(
            md5_hex(format!("{token}{secret}").as_bytes()),
            "b1a2b89707a94624c43afae67d59274c"
        );
        let params = [
            ("method", "events.get"),
            ("application_key", "ABCDEFGHIGKLMNOPK"),
            ("format", "json"),
            ("access_token", token),
        ];
        assert_eq!(
            signature(params, secret, Some(token)),
            "232c8eb921951c4dba9b72606f9ddb4c"
        );
        // The token is not a signed parameter: the same parameters without it sign alike.
        assert_eq!(
            signature(params[..3].iter().copied(), secret, Some(token)),
            "232c8eb921951c4dba9b72606f9ddb4c"
        );
        // Without a session the application secret signs directly.
        assert_ne!(
            signature(params[..3].iter().copied(), secret, None),
            "232c8eb921951c4dba9b72606f9ddb4c"
        );
    }

    #[test]
    fn signed_form_carries_the_vector_signature() {
        let settings = OkSettings {
            application_key: "ABCDEFGHIGKLMNOPK".into(),
            application_secret_key: "ABC123DEF456GHI789JKL123".into(),
            access_token: "-s-84W-s3egarWUsbkq-IWTucuedzTKT8VUXIA.s4Xx8IW7".into(),
            ..OkSettings::default()
        };
        let client = HttpClient::new(&crate::config::HttpSettings::default()).unwrap();
        let form = OkApi::new(&settings, client).signed_form("events.get", &[]);
        assert!(
            form.contains("sig=232c8eb921951c4dba9b72606f9ddb4c"),
            "{form}"
        );
        assert!(form.contains("access_token=-s-84W-s3egarWUsbkq-IWTucuedzTKT8VUXIA.s4Xx8IW7"));
    }

    #[test]
    fn cyrillic_values_are_signed_as_utf8() {
        let a = signature([("query", "велотачки")], "s", None);
        let expected = md5_hex("query=велотачкиs".as_bytes());
        assert_eq!(a, expected);
    }

    #[test]
    fn flat_error_bodies_in_any_key_order() {
        let e = api_error(&json!({"error_data":null,"error_code":104,"error_msg":"PARAM_SIGNATURE : No signature specified"})).unwrap();
        assert_eq!((e.code, e.name.as_str()), (104, "PARAM_SIGNATURE"));
        let e = api_error(&json!({"error_code":102,"error_msg":"PARAM_SESSION_EXPIRED : Session expired","error_data":null})).unwrap();
        assert_eq!(e.code, 102);
        let e = api_error(&json!({"error_data":"publish_to_stream","error_code":10,"error_msg":"PERMISSION_DENIED : User must grant an access to permission 'PUBLISH_TO_STREAM'"})).unwrap();
        assert_eq!(e.data, Some(json!("publish_to_stream")));
        assert!(api_error(&json!({"media_topics":[]})).is_none());
        assert!(api_error(&json!({"error":{"error_code":1}})).is_none());
    }

    #[test]
    fn error_policies() {
        let now = "2026-11-26T18:00:00Z".parse().unwrap();
        let policy = |code| {
            OkError {
                code,
                name: String::new(),
                message: String::new(),
                data: None,
            }
            .policy(now)
        };
        for code in [1, 2, 7, 12, 30, 31, 9999, 5000] {
            assert_eq!(policy(code), OkPolicy::Retry, "{code}");
        }
        for code in [3, 9, 10, 50, 100, 101, 102, 104, 160, 210, 300, 456, 900] {
            assert_eq!(policy(code), OkPolicy::Disable, "{code}");
        }
        assert_eq!(policy(8), OkPolicy::Wait(FLOOD_WAIT));
        // 18:00 UTC is 21:00 in Moscow: the limit resets at 00:05, 3 h 5 min later.
        assert_eq!(
            policy(11),
            OkPolicy::Wait(Duration::from_secs(3 * 3600 + 300))
        );
    }

    #[test]
    fn topics_and_comments_are_parsed() {
        let reply = json!({"media_topics":[{"id":"155000000000001","owner_ref":"group:57000000000000","author_ref":"user:580000000001",
            "created_ms":1718802000000i64,"media":[{"type":"text","text":"На ул. Мира 7 прорвало трубу"},{"type":"photo"},{"type":"text","text_tokens":[{"text":"вода "},{"text":"идёт"}]}]},
            {"id":155000000000000i64,"created_ms":1718801000000i64}],
            "anchor":"xyz","has_more":true,
            "entities":{"users":[{"uid":"580000000001","name":"Анна П."}],"groups":[{"uid":"57000000000000","name":"Наш район"}]}});
        let page = parse_topics(&reply).unwrap();
        assert_eq!(page.topics.len(), 2);
        assert_eq!(
            page.topics[0].text,
            "На ул. Мира 7 прорвало трубу\nвода идёт"
        );
        assert_eq!(page.topics[1].id, "155000000000000");
        assert_eq!(page.anchor.as_deref(), Some("xyz"));
        assert!(page.has_more);
        assert_eq!(page.names["user:580000000001"], "Анна П.");
        assert_eq!(page.names["group:57000000000000"], "Наш район");
        assert!(parse_topics(&json!({"topics":[]})).is_err());

        let reply = json!({"comments":[{"id":"c1","author_id":"5","text":"И у нас","date_ms":1718802060000i64},
            {"id":"c2","author_id":6,"text":"Тоже","date":"2024-06-19 16:02:00"}],
            "entities":{"users":[{"uid":"6","name":"Иван"}]},"has_more":false});
        let (comments, _, has_more) = parse_comments(&reply).unwrap();
        assert!(!has_more);
        assert_eq!(comments[0].published, from_millis(1718802060000));
        assert_eq!(comments[1].author_name.as_deref(), Some("Иван"));
        assert_eq!(
            comments[1].published,
            Some("2024-06-19T13:02:00Z".parse().unwrap())
        );
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let settings = OkSettings {
            application_key: "PUBLICKEY".into(),
            application_secret_key: "TOPSECRET".into(),
            access_token: "TOKEN123".into(),
            ..OkSettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(shown.contains("PUBLICKEY"));
        assert!(
            !shown.contains("TOPSECRET") && !shown.contains("TOKEN123"),
            "{shown}"
        );
    }
}
