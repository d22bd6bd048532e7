//! Alerts: the outbox's delivery side (invariant 6).
//!
//! Business logic writes [`Alert`](crate::store::Alert)s into the outbox (`o/`) in the same
//! batch as the event that causes them, and sends nothing itself. The [`Outbox`] worker then,
//! each round:
//! 1. **routes** the alerts written since its cursor: the persons named, or the holders of
//!    the roles named (substitutes applied), or of the roles `[alerts.routes]` gives the
//!    alert's kind; an alert repeated within `repeat_interval_secs` is dropped; each person's
//!    share goes into the grouping queue (`oq/`), in one batch with the routing mark;
//! 2. **groups**: once a person's oldest queued alert has waited `group_wait_secs`, everything
//!    queued for them becomes one message (a digest when there are several); during quiet
//!    hours only urgent alerts go, the rest wait for the morning; a message becomes one
//!    delivery per channel of the person (`od/`), in one batch with its removal from the queue;
//! 3. **delivers** due deliveries, each with its idempotency key; a success is recorded
//!    (`os/`) after the channel accepted it — a crash in between sends it again with the same
//!    key (at least once); a failure is retried with exponential backoff and jitter, no
//!    sooner than the channel's own "retry after"; a permanent refusal or `max_attempts`
//!    failures park it as a dead letter (`dl/`) for the administrator.

pub mod admin;
pub mod digest;
pub mod email;
pub mod outbox;
pub mod render;
pub mod route;
pub mod telegram;
pub mod webhook;

pub use outbox::{Outbox, SendError, Sent};

use crate::config::ConfigError;
use crate::store::AlertKind;
use chrono::NaiveTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// `[alerts]`: routing, grouping, quiet hours, retries and the channels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// Address of the web interface as officials reach it; links to incidents are
    /// `{public_url}/incidents/{id}`.
    pub public_url: String,
    /// How long a person's first queued alert waits for others to join it in one message.
    pub group_wait_secs: u64,
    /// The same alert (person, kind, incident, title) is not repeated within this time.
    pub repeat_interval_secs: u64,
    /// Quiet hours in local time, `HH:MM`: non-urgent alerts wait until they end. Empty
    /// `quiet_from` turns them off.
    pub quiet_from: String,
    pub quiet_until: String,
    /// Attempts per delivery before it becomes a dead letter.
    pub max_attempts: u32,
    /// First retry delay, seconds; doubles with each failure (with jitter) up to
    /// `retry_max_secs`.
    pub retry_initial_secs: u64,
    pub retry_max_secs: u64,
    /// Deliveries sent at the same time, at most.
    pub concurrency: usize,
    /// Local time of the daily digest (each official's open incidents and deadlines), on
    /// working days; empty turns it off.
    pub daily_digest_at: String,
    /// Which roles hear about which kind of alert when the alert names nobody itself. Keys:
    /// alert kinds; values: roles, where `executor` and `head` mean those of the incident's
    /// owner.
    pub routes: BTreeMap<String, Vec<String>>,
    pub email: EmailSettings,
    pub telegram: TelegramSettings,
    /// Webhooks by name; a person's `webhook` names one.
    pub webhooks: Vec<WebhookSettings>,
}

impl Default for AlertSettings {
    fn default() -> AlertSettings {
        let routes = [
            ("new_incident", &["executor", "im-coordinator"][..]),
            ("moderation", &["im-coordinator"]),
            ("routed", &["executor"]),
            ("reminder", &["executor"]),
            ("escalation", &["executor", "head"]),
            ("overdue", &["executor", "head", "im-coordinator"]),
            ("resonance", &["executor", "head", "mcu-head", "curator"]),
            ("answer_detected", &["im-coordinator"]),
            ("reopened", &["executor", "im-coordinator"]),
            ("source_failing", &["admin"]),
            ("source_recovered", &["admin"]),
            ("weekly_note", &["curator", "mcu-head"]),
        ]
        .into_iter()
        .map(|(k, roles)| (k.to_string(), roles.iter().map(|r| r.to_string()).collect()))
        .collect();
        AlertSettings {
            public_url: "http://127.0.0.1:8080".into(),
            group_wait_secs: 60,
            repeat_interval_secs: 3600,
            quiet_from: "22:00".into(),
            quiet_until: "08:00".into(),
            max_attempts: 12,
            retry_initial_secs: 10,
            retry_max_secs: 3600,
            concurrency: 8,
            daily_digest_at: "08:30".into(),
            routes,
            email: EmailSettings::default(),
            telegram: TelegramSettings::default(),
            webhooks: Vec::new(),
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (port 587 by default).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465 by default).
    Tls,
    /// No encryption: only for a relay on the same machine or a trusted network (port 25).
    Plain,
}

/// `[alerts.email]`: SMTP. Empty `host` turns e-mail off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailSettings {
    pub host: String,
    /// 0: the usual port of `security`.
    pub port: u16,
    pub security: SmtpSecurity,
    /// Empty: no authentication.
    pub username: String,
    pub password: String,
    /// The sender, `Name <address>`.
    pub from: String,
    pub timeout_secs: u64,
    /// A PEM file of a certificate authority to trust besides the system's (a relay with a
    /// certificate of the organisation's own CA); empty: the system's only.
    pub ca_file: String,
}

impl Default for EmailSettings {
    fn default() -> EmailSettings {
        EmailSettings {
            host: String::new(),
            port: 0,
            security: SmtpSecurity::Starttls,
            username: String::new(),
            password: String::new(),
            from: "Отклик <otklik@localhost>".into(),
            timeout_secs: 30,
            ca_file: String::new(),
        }
    }
}

impl EmailSettings {
    pub fn enabled(&self) -> bool {
        !self.host.is_empty()
    }
}

/// `[alerts.telegram]`: the Bot API. Empty `token` turns Telegram off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelegramSettings {
    pub api_url: String,
    pub token: String,
    pub timeout_secs: u64,
}

impl Default for TelegramSettings {
    fn default() -> TelegramSettings {
        TelegramSettings {
            api_url: "https://api.telegram.org".into(),
            token: String::new(),
            timeout_secs: 30,
        }
    }
}

impl TelegramSettings {
    pub fn enabled(&self) -> bool {
        !self.token.is_empty()
    }
}

/// `[[alerts.webhooks]]`: a signed JSON POST (see `webhook.rs` for how to verify it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub name: String,
    pub url: String,
    /// Key of the HMAC-SHA256 signature.
    pub secret: String,
    #[serde(default = "default_webhook_timeout")]
    pub timeout_secs: u64,
}

fn default_webhook_timeout() -> u64 {
    15
}

impl AlertSettings {
    /// Quiet hours, when set.
    pub fn quiet_hours(&self) -> Option<(NaiveTime, NaiveTime)> {
        if self.quiet_from.is_empty() {
            return None;
        }
        Some((
            NaiveTime::parse_from_str(&self.quiet_from, "%H:%M").ok()?,
            NaiveTime::parse_from_str(&self.quiet_until, "%H:%M").ok()?,
        ))
    }

    pub fn webhook(&self, name: &str) -> Option<&WebhookSettings> {
        self.webhooks.iter().find(|w| w.name == name)
    }

    /// The roles `[alerts.routes]` gives `kind`.
    pub fn route(&self, kind: AlertKind) -> &[String] {
        self.routes.get(kind.id()).map_or(&[], Vec::as_slice)
    }

    /// Check the settings against the org chart and the people file.
    pub fn validate(
        &self,
        path: &Path,
        org: &crate::org::Org,
        people: &crate::people::People,
    ) -> Result<(), ConfigError> {
        let err = |key: String, problem: String| Err(ConfigError::new(path, key, problem));
        match reqwest::Url::parse(&self.public_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return err(
                    "alerts.public_url".into(),
                    format!("expected an http(s) address, found `{}`", self.public_url),
                );
            }
        }
        for (key, value) in [
            ("quiet_from", &self.quiet_from),
            ("quiet_until", &self.quiet_until),
        ] {
            if (!self.quiet_from.is_empty() || !value.is_empty())
                && NaiveTime::parse_from_str(value, "%H:%M").is_err()
            {
                return err(
                    format!("alerts.{key}"),
                    format!("expected a local time HH:MM (or both empty), found `{value}`"),
                );
            }
        }
        if !self.daily_digest_at.is_empty()
            && NaiveTime::parse_from_str(&self.daily_digest_at, "%H:%M").is_err()
        {
            return err(
                "alerts.daily_digest_at".into(),
                format!(
                    "expected a local time HH:MM (or empty), found `{}`",
                    self.daily_digest_at
                ),
            );
        }
        if self.max_attempts == 0 {
            return err("alerts.max_attempts".into(), "expected at least 1".into());
        }
        if self.retry_initial_secs == 0 || self.retry_max_secs < self.retry_initial_secs {
            return err(
                "alerts.retry_initial_secs".into(),
                "expected at least 1 second and no more than retry_max_secs".into(),
            );
        }
        if self.concurrency == 0 {
            return err("alerts.concurrency".into(), "expected at least 1".into());
        }
        for (kind, roles) in &self.routes {
            if AlertKind::from_id(kind).is_none() {
                return err(
                    format!("alerts.routes.{kind}"),
                    format!(
                        "unknown alert kind; expected one of: {}",
                        AlertKind::ALL.map(AlertKind::id).join(", ")
                    ),
                );
            }
            for (i, role) in roles.iter().enumerate() {
                if role == "executor" || role == "head" {
                    continue;
                }
                if let Err(problem) = crate::people::check_role(role, org) {
                    return err(
                        format!("alerts.routes.{kind}[{i}]"),
                        format!("{problem} (or `executor`, `head`: of the incident's owner)"),
                    );
                }
            }
        }
        let e = &self.email;
        if e.enabled() {
            if e.from.parse::<lettre::message::Mailbox>().is_err() {
                return err(
                    "alerts.email.from".into(),
                    format!(
                        "expected an address such as `Отклик <otklik@example.org>`, found `{}`",
                        e.from
                    ),
                );
            }
            if e.username.is_empty() != e.password.is_empty() {
                return err(
                    "alerts.email.password".into(),
                    "expected both username and password, or neither".into(),
                );
            }
            if !e.ca_file.is_empty()
                && let Err(problem) = std::fs::read(&e.ca_file)
                    .map_err(|err| err.to_string())
                    .and_then(|pem| {
                        lettre::transport::smtp::client::Certificate::from_pem(&pem)
                            .map(|_| ())
                            .map_err(|err| err.to_string())
                    })
            {
                return err(
                    "alerts.email.ca_file".into(),
                    format!("expected a readable PEM certificate: {problem}"),
                );
            }
            if e.timeout_secs == 0 {
                return err(
                    "alerts.email.timeout_secs".into(),
                    "expected at least 1".into(),
                );
            }
        }
        if self.telegram.enabled() {
            match reqwest::Url::parse(&self.telegram.api_url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return err(
                        "alerts.telegram.api_url".into(),
                        format!(
                            "expected an http(s) address, found `{}`",
                            self.telegram.api_url
                        ),
                    );
                }
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, w) in self.webhooks.iter().enumerate() {
            if w.name.is_empty() || !names.insert(w.name.as_str()) {
                return err(
                    format!("alerts.webhooks[{i}].name"),
                    format!("expected a unique, non-empty name, found `{}`", w.name),
                );
            }
            match reqwest::Url::parse(&w.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return err(
                        format!("alerts.webhooks[{i}].url"),
                        format!("expected an http(s) address, found `{}`", w.url),
                    );
                }
            }
            if w.secret.len() < 16 {
                return err(
                    format!("alerts.webhooks[{i}].secret"),
                    "expected a secret of at least 16 characters".into(),
                );
            }
        }
        for p in &people.persons {
            if let Some(email) = &p.email
                && email.parse::<lettre::Address>().is_err()
            {
                return err(
                    format!("people: person `{}`.email", p.id),
                    format!("expected an e-mail address, found `{email}`"),
                );
            }
            if let Some(name) = &p.webhook
                && self.webhook(name).is_none()
            {
                return err(
                    format!("people: person `{}`.webhook", p.id),
                    format!("unknown webhook `{name}`; expected a name of [[alerts.webhooks]]"),
                );
            }
        }
        Ok(())
    }
}
