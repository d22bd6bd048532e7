//! Telegram Bot API `sendMessage`, with its HTML parse mode.
//!
//! Telegram cannot tell a repeated message from a new one: a copy sent again after a crash
//! arrives twice (the message ends with the same idempotency key, so a reader can tell).
//! A 429 answer carries `parameters.retry_after`, honoured before the next try.

use super::TelegramSettings;
use super::outbox::{SendError, Sent};
use crate::store::Delivery;
use serde::Deserialize;
use std::time::Duration;

/// Telegram's limit for a message text, in characters.
const MAX_TEXT: usize = 4096;

#[derive(Deserialize)]
struct Reply {
    ok: bool,
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    #[serde(default)]
    retry_after: Option<u64>,
}

pub struct TelegramChannel {
    client: reqwest::Client,
    url: String,
}

impl TelegramChannel {
    pub fn new(s: &TelegramSettings) -> Result<TelegramChannel, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(s.timeout_secs))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(TelegramChannel {
            client,
            url: format!(
                "{}/bot{}/sendMessage",
                s.api_url.trim_end_matches('/'),
                s.token
            ),
        })
    }

    pub async fn send(&self, d: &Delivery, chat_id: i64) -> Result<Sent, SendError> {
        let body = serde_json::json!({
            "chat_id": chat_id,
            "text": fit(&d.telegram, &d.key),
            "parse_mode": "HTML",
            "link_preview_options": { "is_disabled": true },
        });
        // The token is in the URL: errors must not show it.
        let reply = self
            .client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| SendError::transient(format!("Telegram: {}", e.without_url())))?;
        let status = reply.status();
        let reply: Reply = reply.json().await.map_err(|e| {
            SendError::transient(format!(
                "Telegram: HTTP {status}, ответ не разобран: {}",
                e.without_url()
            ))
        })?;
        if reply.ok {
            let id = reply
                .result
                .as_ref()
                .and_then(|r| r.get("message_id"))
                .map_or_else(|| "?".into(), |v| v.to_string());
            return Ok(Sent {
                answer: format!("Telegram: message_id {id}"),
            });
        }
        let code = reply.error_code.unwrap_or(status.as_u16());
        let message = format!("Telegram {code}: {}", reply.description.unwrap_or_default());
        let retry_after = reply
            .parameters
            .and_then(|p| p.retry_after)
            .map(Duration::from_secs);
        if code == 429 || code >= 500 {
            Err(SendError {
                message,
                permanent: false,
                retry_after,
            })
        } else {
            // 400 chat not found, 403 bot blocked, 401 bad token: trying again will not help.
            Err(SendError::permanent(message))
        }
    }
}

/// The text within Telegram's limit: whole items (separated by blank lines) while they fit.
fn fit(text: &str, key: &str) -> String {
    let footer = format!("\n\n<i>{key}</i>");
    if text.chars().count() + footer.chars().count() <= MAX_TEXT {
        return format!("{text}{footer}");
    }
    let tail = "\n\n… полный текст — в письме и в карточках инцидентов.";
    let budget = MAX_TEXT - footer.chars().count() - tail.chars().count();
    let mut out = String::new();
    for part in text.split("\n\n") {
        let joined = if out.is_empty() { 0 } else { 2 };
        if out.chars().count() + joined + part.chars().count() > budget {
            break;
        }
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(part);
    }
    format!("{out}{tail}{footer}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_text_is_cut_between_items() {
        let item = "<b>Заголовок</b>\nстрока".repeat(10);
        let text = vec![item.as_str(); 100].join("\n\n");
        let out = super::fit(&text, "k");
        assert!(out.chars().count() <= super::MAX_TEXT);
        assert!(out.ends_with("<i>k</i>"));
        assert_eq!(out.matches("<b>").count(), out.matches("</b>").count());
    }
}
