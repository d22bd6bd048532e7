//! One VK access token: its request budget, its state (stopped, methods out of quota), the
//! calls made with it, and `execute` batching.
//!
//! A [`VkClient`] is built once per distinct token value and cloned into every source that
//! uses the token, so they all draw on one [`RateBudget`] and all stop together when VK
//! refuses the token.
//!
//! The token travels in the `Authorization: Bearer` header, never in the URL or the body:
//! error messages name the URL, and the URL then holds nothing secret.

use super::wire::{ApiError, Envelope};
use crate::config::VkTokenKind;
use crate::sources::SourceError;
use crate::sources::http::HttpClient;
use chrono::{Datelike, TimeZone, Utc};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Most calls VK runs in one `execute`.
pub const EXECUTE_MAX_CALLS: usize = 25;

/// Added to the spacing of requests, so that network jitter cannot squeeze four requests
/// into VK's one-second window at 3 per second.
const BUDGET_MARGIN: Duration = Duration::from_millis(20);

/// How long to keep away after flood control (code 9).
pub const FLOOD_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// Bodies larger than this are parsed on a blocking thread.
const PARSE_INLINE_BYTES: usize = 128 * 1024;

/// Requests spaced evenly, at most `per_second` of them per second, shared by everyone
/// holding the same budget. Waiters are served in the order they came (the lock is fair).
#[derive(Debug)]
pub struct RateBudget {
    interval: Duration,
    next: tokio::sync::Mutex<Instant>,
}

impl RateBudget {
    pub fn new(per_second: f64) -> RateBudget {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            3.0
        };
        RateBudget {
            interval: Duration::from_secs_f64(1.0 / per_second) + BUDGET_MARGIN,
            next: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    /// Wait for the next slot. The following slot is counted from when this one was really
    /// taken, so a late wake-up never brings two requests closer than the interval.
    pub async fn acquire(&self) {
        let mut next = self.next.lock().await;
        tokio::time::sleep_until(*next).await;
        *next = Instant::now() + self.interval;
    }
}

/// What to do about an error code (the table of `reference/wire-formats.md` §1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// 1, 6, 10: a short pause and a retry.
    Retry,
    /// 9: flood control; keep away for minutes.
    LongBackoff,
    /// 29: the method's daily quota is spent; no calls of it until the quota resets.
    MethodQuota,
    /// 5, 14, 17, 27: the token is refused; stop it everywhere and tell the administrator.
    StopToken,
    /// 3, 7, 8, 15, 18, 19, 28, 30, 100, 113, 125, 200, 203: this source cannot be read as
    /// configured; retrying the same request cannot help.
    DisableSource,
    /// 210, 211, 212: this one post or comment thread is closed; skip it and carry on.
    SkipObject,
    /// Any other code: treated as transient, so nothing is lost.
    Unknown,
}

impl Policy {
    pub fn of(code: i64) -> Policy {
        match code {
            1 | 6 | 10 => Policy::Retry,
            9 => Policy::LongBackoff,
            29 => Policy::MethodQuota,
            5 | 14 | 17 | 27 => Policy::StopToken,
            3 | 7 | 8 | 15 | 18 | 19 | 28 | 30 | 100 | 113 | 125 | 200 | 203 => {
                Policy::DisableSource
            }
            210..=212 => Policy::SkipObject,
            _ => Policy::Unknown,
        }
    }
}

/// Why a VK call failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum VkError {
    /// VK answered with an error envelope (or an `execute_errors` entry).
    #[error("VK {method}: error {code}: {message}")]
    Api {
        method: String,
        code: i64,
        message: String,
    },
    /// The request did not get a usable reply (transport, status, size, broken JSON).
    #[error("{0}")]
    Transport(String, TransportKind),
    /// The token was stopped earlier (code 5, 14, 17 or 27, or it is not set).
    #[error("{0}")]
    TokenStopped(String),
    /// The method's daily quota was spent earlier (code 29).
    #[error("VK {method}: daily quota spent (error 29), paused for {left:?}")]
    MethodPaused { method: String, left: Duration },
}

/// How a transport failure should be retried, as [`SourceError`] says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    Transient,
    RetryAfter(Duration),
    Disabled,
}

impl VkError {
    /// The API error code, if VK gave one.
    pub fn code(&self) -> Option<i64> {
        match self {
            VkError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn policy(&self) -> Option<Policy> {
        self.code().map(Policy::of)
    }

    /// Whether only the object asked about is closed (210–212), not the source.
    pub fn is_skip(&self) -> bool {
        self.policy() == Some(Policy::SkipObject)
    }

    fn from_source_error(error: SourceError) -> VkError {
        match error {
            SourceError::Transient(m) => VkError::Transport(m, TransportKind::Transient),
            SourceError::RetryAfter {
                message,
                retry_after,
            } => VkError::Transport(message, TransportKind::RetryAfter(retry_after)),
            SourceError::Disabled(m) => VkError::Transport(m, TransportKind::Disabled),
        }
    }

    /// The [`SourceError`] the poller acts on, with a reason an administrator can read in the
    /// source's health (Russian first, the VK code and message after it).
    pub fn to_source_error(&self, source: &str) -> SourceError {
        match self {
            VkError::Transport(m, TransportKind::Transient) => SourceError::Transient(m.clone()),
            VkError::Transport(m, TransportKind::RetryAfter(d)) => SourceError::RetryAfter {
                message: m.clone(),
                retry_after: *d,
            },
            VkError::Transport(m, TransportKind::Disabled) => SourceError::Disabled(m.clone()),
            VkError::TokenStopped(reason) => SourceError::Disabled(reason.clone()),
            VkError::MethodPaused { method, left } => SourceError::RetryAfter {
                message: format!(
                    "источник {source}: суточный лимит ВКонтакте на метод {method} исчерпан \
                     (код 29); запросы возобновятся после сброса лимита \
                     / VK daily quota of {method} spent (error 29)"
                ),
                retry_after: *left,
            },
            VkError::Api {
                method,
                code,
                message,
            } => {
                let vk = format!("VK {method}: код {code}: {message}");
                match Policy::of(*code) {
                    Policy::Retry | Policy::Unknown | Policy::SkipObject => {
                        SourceError::Transient(format!(
                            "источник {source}: временная ошибка ВКонтакте, повторим позже ({vk})"
                        ))
                    }
                    Policy::LongBackoff => SourceError::RetryAfter {
                        message: format!(
                            "источник {source}: ВКонтакте ограничил частоту запросов \
                             (flood control), пауза {} мин ({vk})",
                            FLOOD_BACKOFF.as_secs() / 60
                        ),
                        retry_after: FLOOD_BACKOFF,
                    },
                    Policy::MethodQuota => SourceError::RetryAfter {
                        message: format!(
                            "источник {source}: суточный лимит ВКонтакте на метод {method} \
                             исчерпан; запросы возобновятся после сброса лимита ({vk})"
                        ),
                        retry_after: until_quota_reset(),
                    },
                    Policy::StopToken => SourceError::Disabled(format!(
                        "источник {source}: ВКонтакте {} ({vk}); токен остановлен для всех \
                         источников: выпустите новый или подтвердите учётную запись, укажите \
                         его в sources.vk.tokens и перезапустите службу / VK refused the token",
                        refusal(*code)
                    )),
                    Policy::DisableSource => SourceError::Disabled(format!(
                        "источник {source}: ВКонтакте не даёт читать эту страницу ({vk}); \
                         источник отключён: проверьте owner_id/domain, открыта ли стена и \
                         подходит ли токен / source disabled, check its configuration"
                    )),
                }
            }
        }
    }
}

/// One API call, for [`VkClient::batch`].
#[derive(Clone, Debug)]
pub struct VkCall {
    pub method: String,
    /// Parameters; strings and numbers (as VKScript takes them inside `execute`).
    pub params: Map<String, Value>,
}

impl VkCall {
    pub fn new(method: &str) -> VkCall {
        VkCall {
            method: method.to_string(),
            params: Map::new(),
        }
    }

    pub fn param(mut self, key: &str, value: impl Into<Value>) -> VkCall {
        self.params.insert(key.to_string(), value.into());
        self
    }
}

/// A VK token and everything that is per token: cloned into each source using it.
#[derive(Clone)]
pub struct VkClient {
    inner: Arc<TokenState>,
}

struct TokenState {
    http: HttpClient,
    /// `<api_url>/method/`.
    method_url: String,
    version: String,
    /// The configured name, for messages (never the token).
    name: String,
    token: Option<String>,
    kind: VkTokenKind,
    budget: RateBudget,
    /// Why the token was stopped, once VK refused it.
    stopped: Mutex<Option<String>>,
    /// Methods out of their daily quota, until when.
    paused: Mutex<HashMap<String, Instant>>,
    /// Pause before retrying code 6 (and 1, 10).
    retry_pause: Duration,
    /// Calls waiting for the budget, sent together by whoever gets the next slot.
    waiting: Mutex<Vec<Waiting>>,
}

/// A call waiting to be sent, and where its result goes.
struct Waiting {
    source: String,
    call: VkCall,
    reply: oneshot::Sender<Result<Value, VkError>>,
}

impl fmt::Debug for VkClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VkClient")
            .field("token", &self.inner.name)
            .field("kind", &self.inner.kind)
            .finish_non_exhaustive()
    }
}

/// How many times a call is tried when VK answers 1, 6 or 10.
const ATTEMPTS: u32 = 3;

impl VkClient {
    /// A client for one token. `token` is `None` when its environment variable is unset:
    /// every call then fails with a reason that says so.
    pub fn new(
        http: HttpClient,
        api_url: &str,
        version: &str,
        name: &str,
        token: Option<String>,
        kind: VkTokenKind,
        requests_per_second: f64,
    ) -> VkClient {
        let stopped = match &token {
            Some(_) => None,
            None => Some(format!(
                "токен ВКонтакте «{name}» не задан (переменная окружения пуста или не \
                 установлена); источники с ним отключены / VK token `{name}` is not set"
            )),
        };
        VkClient {
            inner: Arc::new(TokenState {
                http,
                method_url: format!("{}/method/", api_url.trim_end_matches('/')),
                version: version.to_string(),
                name: name.to_string(),
                token,
                kind,
                budget: RateBudget::new(requests_per_second),
                stopped: Mutex::new(stopped),
                paused: Mutex::new(HashMap::new()),
                retry_pause: Duration::from_millis(500),
                waiting: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The configured name of the token.
    pub fn token_name(&self) -> &str {
        &self.inner.name
    }

    pub fn kind(&self) -> VkTokenKind {
        self.inner.kind
    }

    /// Whether the two clients share one token (and so one budget).
    pub fn same_token(&self, other: &VkClient) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Why the token is stopped, if it is.
    pub fn stopped(&self) -> Option<String> {
        self.inner.stopped.lock().expect("token lock").clone()
    }

    /// Call `method` with `params`, within the token's budget. Codes 1, 6 and 10 are retried
    /// a few times after a short pause; 29 pauses the method and 5/14/17/27 stop the token
    /// for every source that uses it.
    ///
    /// With a user or community token, calls of several sources that wait for the budget
    /// at the same time go out together: whoever gets the next slot sends every call
    /// waiting (up to 25) as one `execute` and hands each caller its own result.
    pub async fn call(&self, source: &str, call: &VkCall) -> Result<Value, VkError> {
        if !self.inner.kind.can_execute() || call.method == "execute" {
            return self.call_with_errors(source, call).await.map(|(v, _)| v);
        }
        self.check_usable(&call.method)?;
        let (reply, mut answer) = oneshot::channel();
        self.inner
            .waiting
            .lock()
            .expect("queue lock")
            .push(Waiting {
                source: source.to_string(),
                call: call.clone(),
                reply,
            });
        loop {
            tokio::select! {
                biased;
                answer = &mut answer => {
                    return answer.unwrap_or_else(|_| Err(VkError::Transport(
                        format!("source {source}: VK {}: the request sharing this one was abandoned, will retry", call.method),
                        TransportKind::Transient,
                    )));
                }
                _ = self.inner.budget.acquire() => {
                    let taken: Vec<Waiting> = {
                        let mut waiting = self.inner.waiting.lock().expect("queue lock");
                        let n = waiting.len().min(EXECUTE_MAX_CALLS);
                        waiting.drain(..n).collect()
                    };
                    self.dispatch(taken).await;
                }
            }
        }
    }

    /// Send the waiting calls with the budget slot already taken: one alone as itself,
    /// several as one `execute`; every caller gets its own result.
    async fn dispatch(&self, taken: Vec<Waiting>) {
        let mut ready = Vec::with_capacity(taken.len());
        for waiting in taken {
            // A method may have been paused, or the token stopped, while this call waited.
            match self.check_usable(&waiting.call.method) {
                Ok(()) => ready.push(waiting),
                Err(error) => {
                    let _ = waiting.reply.send(Err(error));
                }
            }
        }
        match ready.len() {
            0 => {}
            1 => {
                let waiting = ready.pop().expect("one call");
                let result = self
                    .attempts(&waiting.source, &waiting.call, true)
                    .await
                    .map(|(v, _)| v);
                let _ = waiting.reply.send(result);
            }
            _ => {
                let calls: Vec<VkCall> = ready.iter().map(|w| w.call.clone()).collect();
                let execute = VkCall::new("execute").param("code", execute_code(&calls));
                tracing::debug!(token = %self.inner.name, calls = calls.len(), "vk calls of several sources sent as one execute");
                let mut sources: Vec<&str> = ready.iter().map(|w| w.source.as_str()).collect();
                sources.dedup();
                let label = sources.join("+");
                let results = match self.attempts(&label, &execute, true).await {
                    Err(error) => calls.iter().map(|_| Err(error.clone())).collect(),
                    Ok((reply, errors)) => self.split_execute(&calls, reply, errors),
                };
                for (waiting, result) in ready.into_iter().zip(results) {
                    let _ = waiting.reply.send(result);
                }
            }
        }
    }

    async fn call_with_errors(
        &self,
        source: &str,
        call: &VkCall,
    ) -> Result<(Value, Vec<ApiError>), VkError> {
        self.attempts(source, call, false).await
    }

    /// Send `call`, retrying codes 1, 6 and 10; `slot_taken` when the caller already holds
    /// a budget slot for the first attempt.
    async fn attempts(
        &self,
        source: &str,
        call: &VkCall,
        mut slot_taken: bool,
    ) -> Result<(Value, Vec<ApiError>), VkError> {
        let mut attempt = 1;
        loop {
            self.check_usable(&call.method)?;
            if !slot_taken {
                self.inner.budget.acquire().await;
            }
            slot_taken = false;
            match self.send(source, call).await {
                Err(VkError::Api { code, .. })
                    if Policy::of(code) == Policy::Retry && attempt < ATTEMPTS =>
                {
                    tracing::debug!(source, method = %call.method, code, attempt, "vk asks to retry");
                    tokio::time::sleep(self.inner.retry_pause * attempt).await;
                    attempt += 1;
                }
                Err(error) => {
                    self.note(&error);
                    return Err(error);
                }
                Ok(reply) => return Ok(reply),
            }
        }
    }

    /// Run `calls` and return one result per call, in order. With a user or community token
    /// they go as `execute` requests of up to 25 calls each (one request of the budget per
    /// 25 calls); with a service token, which VK does not let use `execute`, one by one.
    /// A call that fails inside `execute` (`false` in its place and an `execute_errors`
    /// entry) fails alone; an error of the whole request fails every call of it.
    pub async fn batch(&self, source: &str, calls: &[VkCall]) -> Vec<Result<Value, VkError>> {
        if calls.len() < 2 || !self.inner.kind.can_execute() {
            let mut results = Vec::with_capacity(calls.len());
            for call in calls {
                results.push(self.call(source, call).await);
            }
            return results;
        }
        let mut results = Vec::with_capacity(calls.len());
        for chunk in calls.chunks(EXECUTE_MAX_CALLS) {
            let execute = VkCall::new("execute").param("code", execute_code(chunk));
            match self.call_with_errors(source, &execute).await {
                Err(error) => results.extend(chunk.iter().map(|_| Err(error.clone()))),
                Ok((reply, errors)) => {
                    results.extend(self.split_execute(chunk, reply, errors));
                }
            }
        }
        results
    }

    fn split_execute(
        &self,
        chunk: &[VkCall],
        reply: Value,
        errors: Vec<ApiError>,
    ) -> Vec<Result<Value, VkError>> {
        let mut values = match reply {
            Value::Array(values) => values.into_iter(),
            other => vec![other].into_iter(),
        };
        let mut errors = errors.into_iter();
        chunk
            .iter()
            .map(|call| {
                let value = values.next().unwrap_or(Value::Bool(false));
                if value != Value::Bool(false) {
                    return Ok(value);
                }
                let error = match errors.next() {
                    Some(e) => VkError::Api {
                        method: e.method.unwrap_or_else(|| call.method.clone()),
                        code: e.error_code,
                        message: e.error_msg,
                    },
                    None => VkError::Api {
                        method: call.method.clone(),
                        code: 13,
                        message: "execute returned false without an error".into(),
                    },
                };
                self.note(&error);
                Err(error)
            })
            .collect()
    }

    fn check_usable(&self, method: &str) -> Result<(), VkError> {
        if let Some(reason) = self.stopped() {
            return Err(VkError::TokenStopped(reason));
        }
        let mut paused = self.inner.paused.lock().expect("quota lock");
        if let Some(until) = paused.get(method).copied() {
            let now = Instant::now();
            if until > now {
                return Err(VkError::MethodPaused {
                    method: method.to_string(),
                    left: until - now,
                });
            }
            paused.remove(method);
        }
        Ok(())
    }

    /// Remember what an error means for the token: stopped (5/14/17/27) or a method paused (29).
    fn note(&self, error: &VkError) {
        let VkError::Api {
            method,
            code,
            message,
        } = error
        else {
            return;
        };
        match Policy::of(*code) {
            Policy::StopToken => {
                let what = refusal(*code);
                let reason = format!(
                    "ВКонтакте {what}: токен «{}» остановлен для всех источников \
                     (VK {method}: код {code}: {message}). Выпустите новый токен или \
                     подтвердите учётную запись, укажите его в sources.vk.tokens и \
                     перезапустите службу / VK token `{}` stopped (error {code})",
                    self.inner.name, self.inner.name
                );
                tracing::error!(token = %self.inner.name, code, method = %method, "vk token stopped");
                *self.inner.stopped.lock().expect("token lock") = Some(reason);
            }
            Policy::MethodQuota => {
                let left = until_quota_reset();
                tracing::warn!(token = %self.inner.name, method = %method, pause_secs = left.as_secs(), "vk daily quota spent");
                self.inner
                    .paused
                    .lock()
                    .expect("quota lock")
                    .insert(method.clone(), Instant::now() + left);
            }
            _ => {}
        }
    }

    async fn send(&self, source: &str, call: &VkCall) -> Result<(Value, Vec<ApiError>), VkError> {
        let url = format!("{}{}", self.inner.method_url, call.method);
        let mut form: Vec<(&str, String)> = call
            .params
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.as_str(), v)
            })
            .collect();
        form.push(("v", self.inner.version.clone()));
        let body = serde_urlencoded::to_string(&form).map_err(|e| {
            VkError::Transport(
                format!("source {source}: cannot encode the request to {url}: {e}"),
                TransportKind::Disabled,
            )
        })?;
        let token = self.inner.token.as_deref().unwrap_or_default();
        let response = self
            .inner
            .http
            .reqwest()
            .post(&url)
            .bearer_auth(token)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| {
                VkError::from_source_error(self.inner.http.transport_error(source, &url, &e))
            })?;
        let response = crate::sources::http::check_status(source, &url, response)
            .map_err(VkError::from_source_error)?;
        let bytes = self
            .inner
            .http
            .read_body(source, &url, response)
            .await
            .map_err(VkError::from_source_error)?;
        let envelope = if bytes.len() <= PARSE_INLINE_BYTES {
            serde_json::from_slice::<Envelope>(&bytes)
        } else {
            tokio::task::spawn_blocking(move || serde_json::from_slice::<Envelope>(&bytes))
                .await
                .map_err(|e| {
                    VkError::Transport(
                        format!("source {source}: parsing the reply from {url} failed: {e}"),
                        TransportKind::Transient,
                    )
                })?
        };
        let envelope = envelope.map_err(|e| {
            VkError::Transport(
                format!(
                    "source {source}: the reply from {url} is not valid JSON (broken off or \
                     malformed), will retry: {e}"
                ),
                TransportKind::Transient,
            )
        })?;
        if let Some(error) = envelope.error {
            return Err(VkError::Api {
                method: call.method.clone(),
                code: error.error_code,
                message: error.error_msg,
            });
        }
        match envelope.response {
            Some(response) => Ok((response, envelope.execute_errors)),
            None => Err(VkError::Transport(
                format!("source {source}: the reply from {url} has neither `response` nor `error`"),
                TransportKind::Transient,
            )),
        }
    }
}

/// What VK did to the token, for the administrator (codes 5, 14, 17, 27).
fn refusal(code: i64) -> &'static str {
    match code {
        14 => "требует ввести капчу",
        17 => "требует подтвердить учётную запись (validation required)",
        _ => "отклонил токен",
    }
}

/// VKScript that runs `calls` and returns their results as one array.
pub fn execute_code(calls: &[VkCall]) -> String {
    let parts: Vec<String> = calls
        .iter()
        .map(|c| format!("API.{}({})", c.method, Value::Object(c.params.clone())))
        .collect();
    format!("return [{}];", parts.join(","))
}

/// Time until VK's daily quotas are assumed to reset: the next midnight, Moscow time. VK does
/// not publish the moment; if it is later, the next call gets 29 again and waits again.
pub fn until_quota_reset() -> Duration {
    let tz = chrono_tz::Europe::Moscow;
    let now = Utc::now().with_timezone(&tz);
    let tomorrow = now.date_naive().succ_opt().unwrap_or(now.date_naive());
    let midnight = tz
        .with_ymd_and_hms(tomorrow.year(), tomorrow.month(), tomorrow.day(), 0, 5, 0)
        .earliest()
        .map(|t| t.with_timezone(&Utc));
    midnight
        .and_then(|m| (m - Utc::now()).to_std().ok())
        .unwrap_or(Duration::from_secs(6 * 3600))
        .max(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_the_table_has_its_policy() {
        for code in [1, 6, 10] {
            assert_eq!(Policy::of(code), Policy::Retry, "{code}");
        }
        assert_eq!(Policy::of(9), Policy::LongBackoff);
        assert_eq!(Policy::of(29), Policy::MethodQuota);
        for code in [5, 14, 17] {
            assert_eq!(Policy::of(code), Policy::StopToken, "{code}");
        }
        for code in [15, 18, 30, 100, 113, 200, 203] {
            assert_eq!(Policy::of(code), Policy::DisableSource, "{code}");
        }
        for code in [210, 211, 212] {
            assert_eq!(Policy::of(code), Policy::SkipObject, "{code}");
        }
        assert_eq!(Policy::of(4242), Policy::Unknown);
    }

    #[test]
    fn execute_code_is_vkscript_with_json_params() {
        let code = execute_code(&[
            VkCall::new("wall.get")
                .param("owner_id", -1)
                .param("offset", 100),
            VkCall::new("groups.getById").param("group_ids", "gy\"x"),
        ]);
        assert_eq!(
            code,
            r#"return [API.wall.get({"offset":100,"owner_id":-1}),API.groups.getById({"group_ids":"gy\"x"})];"#
        );
    }

    #[test]
    fn quota_reset_is_within_a_day() {
        let d = until_quota_reset();
        assert!(d >= Duration::from_secs(60) && d <= Duration::from_secs(25 * 3600));
    }

    #[test]
    fn errors_become_what_the_poller_needs() {
        let api = |code| VkError::Api {
            method: "wall.get".into(),
            code,
            message: "m".into(),
        };
        assert!(matches!(
            api(6).to_source_error("s"),
            SourceError::Transient(_)
        ));
        assert!(
            matches!(api(9).to_source_error("s"), SourceError::RetryAfter { retry_after, .. } if retry_after == FLOOD_BACKOFF)
        );
        assert!(matches!(
            api(29).to_source_error("s"),
            SourceError::RetryAfter { .. }
        ));
        assert!(
            matches!(api(5).to_source_error("s"), SourceError::Disabled(m) if m.contains("код 5"))
        );
        assert!(
            matches!(api(15).to_source_error("s"), SourceError::Disabled(m) if m.contains("код 15"))
        );
    }
}
