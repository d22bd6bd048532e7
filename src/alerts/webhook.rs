//! Webhooks: a signed JSON POST.
//!
//! How a receiver verifies a request:
//! - `X-Otklik-Timestamp`: Unix time (seconds) when it was signed; refuse one too old (say,
//!   older than five minutes) to stop replays;
//! - `X-Otklik-Signature`: `sha256=` and the lowercase hex HMAC-SHA256, keyed with the
//!   webhook's `secret`, of the timestamp, a dot and the raw body bytes
//!   (`{timestamp}.{body}`); compare in constant time;
//! - `Idempotency-Key` (also `key` in the body): the same for every attempt of one delivery;
//!   a receiver that has seen it already answers 2xx and ignores the repeat.
//!
//! Answers: 2xx is delivered; 429 and 503 with `Retry-After` (seconds) are retried no sooner;
//! other 5xx, 408 and network errors are retried; any other 4xx is a permanent refusal.

use super::WebhookSettings;
use super::outbox::{SendError, Sent};
use crate::store::Delivery;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

pub const TIMESTAMP_HEADER: &str = "X-Otklik-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Otklik-Signature";
pub const KEY_HEADER: &str = "Idempotency-Key";

/// The body a webhook receives.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Payload {
    /// The idempotency key.
    pub key: String,
    pub delivery: u64,
    /// Outbox alert numbers the message carries.
    pub alerts: Vec<u64>,
    pub person: String,
    pub urgent: bool,
    pub subject: String,
    pub text: String,
    pub created: chrono::DateTime<chrono::Utc>,
}

/// The signature header value of `body` signed at `timestamp` with `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Check a signature as a receiver does (constant time).
pub fn verify(secret: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Some(bytes) = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

pub struct WebhookChannel {
    client: reqwest::Client,
}

impl WebhookChannel {
    pub fn new() -> Result<WebhookChannel, String> {
        Ok(WebhookChannel {
            client: reqwest::Client::builder()
                .build()
                .map_err(|e| e.to_string())?,
        })
    }

    pub async fn send(&self, d: &Delivery, hook: &WebhookSettings) -> Result<Sent, SendError> {
        let payload = Payload {
            key: d.key.clone(),
            delivery: d.id,
            alerts: d.alerts.clone(),
            person: d.person.clone(),
            urgent: d.urgent,
            subject: d.subject.clone(),
            text: d.text.clone(),
            created: d.created,
        };
        let body = serde_json::to_vec(&payload).expect("payload serializes");
        let timestamp = chrono::Utc::now().timestamp();
        let reply = self
            .client
            .post(&hook.url)
            .timeout(Duration::from_secs(hook.timeout_secs))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature(&hook.secret, timestamp, &body))
            .header(KEY_HEADER, &d.key)
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::transient(format!("вебхук «{}»: {e}", hook.name)))?;
        let status = reply.status();
        let retry_after = reply
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text: String = reply
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let answer = format!("вебхук «{}»: HTTP {} {}", hook.name, status.as_u16(), text);
        if status.is_success() {
            Ok(Sent { answer })
        } else if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Err(SendError {
                message: answer,
                permanent: false,
                retry_after,
            })
        } else {
            Err(SendError::permanent(answer))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_verifies_and_detects_tampering() {
        let sig = signature("секрет-секрет-секрет", 1_700_000_000, b"{\"a\":1}");
        assert!(sig.starts_with("sha256="));
        assert_eq!(sig.len(), 7 + 64);
        assert!(verify(
            "секрет-секрет-секрет",
            1_700_000_000,
            b"{\"a\":1}",
            &sig
        ));
        assert!(!verify(
            "секрет-секрет-секрет",
            1_700_000_001,
            b"{\"a\":1}",
            &sig
        ));
        assert!(!verify(
            "секрет-секрет-секрет",
            1_700_000_000,
            b"{\"a\":2}",
            &sig
        ));
        assert!(!verify("другой", 1_700_000_000, b"{\"a\":1}", &sig));
        assert!(!verify(
            "секрет-секрет-секрет",
            1_700_000_000,
            b"{\"a\":1}",
            "sha256=zz"
        ));
    }
}
