//! The HTTP client every source shares: identity, time and size limits.
//!
//! One [`HttpClient`] is built from `[http]` ([`HttpSettings`]) at start and cloned into each
//! source (the clone shares the connection pool). It knows nothing about any platform; it
//! turns what happened on the wire into a [`SourceError`] the poller can act on:
//!
//! | what happened | error |
//! |---|---|
//! | connect failure, reset, timeout, 5xx, broken or truncated body | [`SourceError::Transient`] |
//! | 429, or 503 with `Retry-After` | [`SourceError::RetryAfter`] |
//! | 401, 403, 404, 410 and other 4xx, an unusable URL | [`SourceError::Disabled`] |
//! | a body over `max_body_bytes` | [`SourceError::Transient`] naming the limit |
//!
//! Every message names the source, the URL and what went wrong, because it ends up in the
//! source's health record that a sysadmin reads.

use super::SourceError;
use crate::config::HttpSettings;
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use std::time::Duration;

/// Waiting time assumed when a 429 carries no usable `Retry-After`.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The longest `Retry-After` honoured; a larger one is clamped so that a typo on the
/// server side cannot silence a source for weeks.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The shared HTTP client: one connection pool, one identity, one set of limits.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
    max_body_bytes: u64,
    timeout: Duration,
}

/// The client could not be built (a broken TLS setup or an invalid `user_agent`).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientBuildError(String);

/// Validators of a previous response, sent back for a conditional GET.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` of the last response, sent as `If-None-Match`.
    pub etag: Option<String>,
    /// The `Last-Modified` of the last response, sent as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

/// What a conditional GET returned.
#[derive(Debug)]
pub enum Conditional {
    /// 304: nothing changed since the validators were issued.
    NotModified,
    /// A full response.
    Modified(Fetched),
}

/// A successful response with its body read (within the size limit).
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    /// The URL after redirects.
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Fetched {
    /// The validators to send with the next request for the same resource.
    pub fn validators(&self) -> Validators {
        Validators {
            etag: header_str(&self.headers, header::ETAG),
            last_modified: header_str(&self.headers, header::LAST_MODIFIED),
        }
    }

    /// The `Content-Type` header, if any.
    pub fn content_type(&self) -> Option<String> {
        header_str(&self.headers, header::CONTENT_TYPE)
    }
}

impl HttpClient {
    /// Build the client from `[http]`: rustls, gzip, the `User-Agent`, the connect and
    /// whole-request time limits. The body size limit is applied by [`HttpClient::read_body`].
    pub fn new(settings: &HttpSettings) -> Result<HttpClient, ClientBuildError> {
        let timeout = Duration::from_secs(settings.timeout_secs.max(1));
        let inner = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .connect_timeout(Duration::from_secs(settings.connect_timeout_secs.max(1)))
            .timeout(timeout)
            .gzip(true)
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| ClientBuildError(error_chain(&e)))?;
        Ok(HttpClient {
            inner,
            max_body_bytes: settings.max_body_bytes,
            timeout,
        })
    }

    /// The underlying reqwest client, for sources that need more than a GET
    /// (pass its responses through [`HttpClient::check_status`] and [`HttpClient::read_body`]).
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Largest body accepted, bytes.
    pub fn max_body_bytes(&self) -> u64 {
        self.max_body_bytes
    }

    /// GET `url` for `source`, with the status classified and the body read within the limit.
    pub async fn get(&self, source: &str, url: &str) -> Result<Fetched, SourceError> {
        match self
            .get_conditional(source, url, None, &Validators::default())
            .await?
        {
            Conditional::Modified(fetched) => Ok(fetched),
            // Without validators a server has no business answering 304.
            Conditional::NotModified => Err(SourceError::transient(format!(
                "source {source}: {url} answered 304 Not Modified to an unconditional request"
            ))),
        }
    }

    /// GET `url` with `If-None-Match` / `If-Modified-Since` from `validators` (and `Accept`
    /// when given); a 304 is [`Conditional::NotModified`].
    pub async fn get_conditional(
        &self,
        source: &str,
        url: &str,
        accept: Option<&str>,
        validators: &Validators,
    ) -> Result<Conditional, SourceError> {
        let mut request = self.inner.get(url);
        if let Some(accept) = accept.and_then(header_value) {
            request = request.header(header::ACCEPT, accept);
        }
        if let Some(etag) = validators.etag.as_deref().and_then(header_value) {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(since) = validators.last_modified.as_deref().and_then(header_value) {
            request = request.header(header::IF_MODIFIED_SINCE, since);
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(source, url, &e))?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(Conditional::NotModified);
        }
        let response = check_status(source, url, response)?;
        let status = response.status();
        let final_url = response.url().to_string();
        let headers = response.headers().clone();
        let body = self.read_body(source, url, response).await?;
        Ok(Conditional::Modified(Fetched {
            status,
            url: final_url,
            headers,
            body,
        }))
    }

    /// Read the body of `response`, refusing it as soon as it exceeds `max_body_bytes`: a
    /// declared `Content-Length` over the limit is refused before reading, and a streamed
    /// body is counted chunk by chunk, so an oversized body is never held in memory.
    pub async fn read_body(
        &self,
        source: &str,
        url: &str,
        mut response: reqwest::Response,
    ) -> Result<Bytes, SourceError> {
        let limit = self.max_body_bytes;
        if let Some(declared) = response.content_length()
            && declared > limit
        {
            return Err(too_large(source, url, limit, Some(declared)));
        }
        let mut body = BytesMut::with_capacity(
            response.content_length().unwrap_or(64 * 1024).min(limit) as usize,
        );
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(source, url, &e))?
        {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large(source, url, limit, None));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// Classify a reqwest error for `source` fetching `url`.
    pub fn transport_error(&self, source: &str, url: &str, error: &reqwest::Error) -> SourceError {
        let detail = error_chain(error);
        if error.is_builder() {
            SourceError::Disabled(format!(
                "source {source}: the URL {url} cannot be requested ({detail}); fix it in the configuration"
            ))
        } else if error.is_timeout() {
            SourceError::Transient(format!(
                "source {source}: no complete reply from {url} within {} s (http.timeout_secs)",
                self.timeout.as_secs()
            ))
        } else if error.is_connect() {
            SourceError::Transient(format!(
                "source {source}: cannot connect to {url}: {detail}"
            ))
        } else if error.is_redirect() {
            SourceError::Transient(format!("source {source}: {url}: too many redirects"))
        } else if error.is_body() || error.is_decode() {
            SourceError::Transient(format!(
                "source {source}: the reply from {url} broke off or could not be decoded: {detail}"
            ))
        } else {
            SourceError::Transient(format!(
                "source {source}: request to {url} failed: {detail}"
            ))
        }
    }
}

/// Pass a 2xx response through; turn anything else into the [`SourceError`] that says what
/// the poller should do.
pub fn check_status(
    source: &str,
    url: &str,
    response: reqwest::Response,
) -> Result<reqwest::Response, SourceError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, Utc::now()));
    Err(classify_status(source, url, status, retry_after))
}

/// The [`SourceError`] for a non-success `status`; `retry_after` is the parsed header.
pub fn classify_status(
    source: &str,
    url: &str,
    status: StatusCode,
    retry_after: Option<Duration>,
) -> SourceError {
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("");
    let what = format!("source {source}: {url} answered {code} {reason}");
    match code {
        429 => SourceError::RetryAfter {
            message: format!("{what}: rate limited"),
            retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
        },
        503 if retry_after.is_some() => SourceError::RetryAfter {
            message: format!("{what}: temporarily unavailable"),
            retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
        },
        404 | 410 => SourceError::Disabled(format!(
            "{what}: the address no longer exists; check the URL in the configuration \
             (the site may have moved its feed)"
        )),
        401 | 403 => SourceError::Disabled(format!(
            "{what}: access denied; the site refuses our requests (login required or bots \
             blocked), ask the site owner or change the URL"
        )),
        // Timeouts and "too early" are the server's way of saying "try again".
        408 | 425 => SourceError::Transient(format!("{what}: will retry")),
        400..=499 => SourceError::Disabled(format!(
            "{what}: the server rejects this request; retrying the same request cannot help, \
             check the URL in the configuration"
        )),
        500..=599 => SourceError::Transient(format!("{what}: server error, will retry")),
        _ => SourceError::Transient(format!("{what}: unexpected reply, will retry")),
    }
}

/// Parse a `Retry-After` value: delay-seconds or an HTTP-date (relative to `now`), clamped
/// to [`MAX_RETRY_AFTER`]. A date in the past means "now" (zero).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let delay = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = DateTime::parse_from_rfc2822(value)
            .ok()?
            .with_timezone(&Utc);
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

fn too_large(source: &str, url: &str, limit: u64, declared: Option<u64>) -> SourceError {
    let declared = match declared {
        Some(n) => format!(" (it declares {n} bytes)"),
        None => String::new(),
    };
    SourceError::Transient(format!(
        "source {source}: the reply from {url} is larger than the limit of {limit} bytes \
         (http.max_body_bytes){declared}; refused"
    ))
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn header_value(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(s).ok()
}

/// The error and its causes, joined: reqwest's top-level message alone ("error sending
/// request") does not say what went wrong.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Thu, 26 Nov 2026 12:05:00 GMT", now),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse_retry_after("Thu, 26 Nov 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("99999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn statuses_are_classified_for_the_poller() {
        let s = |code: u16, ra: Option<u64>| {
            classify_status(
                "feed",
                "http://x/rss",
                StatusCode::from_u16(code).unwrap(),
                ra.map(Duration::from_secs),
            )
        };
        assert!(
            matches!(s(404, None), SourceError::Disabled(m) if m.contains("404") && m.contains("http://x/rss") && m.contains("feed"))
        );
        assert!(matches!(s(410, None), SourceError::Disabled(_)));
        assert!(matches!(s(401, None), SourceError::Disabled(m) if m.contains("access denied")));
        assert!(matches!(s(403, None), SourceError::Disabled(_)));
        assert!(matches!(s(500, None), SourceError::Transient(_)));
        assert!(matches!(s(503, None), SourceError::Transient(_)));
        assert!(matches!(s(408, None), SourceError::Transient(_)));
        assert!(matches!(
            s(503, Some(30)),
            SourceError::RetryAfter { retry_after, .. } if retry_after == Duration::from_secs(30)
        ));
        assert!(matches!(
            s(429, None),
            SourceError::RetryAfter { retry_after, .. } if retry_after == DEFAULT_RETRY_AFTER
        ));
    }
}
