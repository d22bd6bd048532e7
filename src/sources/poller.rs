//! Drives one source: polls it on an interval that adapts to how often it changes, hands
//! each batch to the pipeline, persists the cursor only once the batch is durable, backs off
//! with jitter on failure, and keeps the source's health record.

use super::{Batch, HealthState, Source, SourceError};
use crate::config::PollSettings;
use crate::pipeline::{Activity, IngestJob};
use crate::store::{SourceHealth, Store};
use chrono::Utc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Everything a poller task needs besides its source.
pub struct Poller {
    pub source: Box<dyn Source>,
    pub settings: PollSettings,
    pub store: Store,
    pub jobs: mpsc::Sender<IngestJob>,
    /// For understanding the posts on this side of the queue.
    pub knowledge: std::sync::Arc<crate::understand::Knowledge>,
    pub activity: broadcast::Sender<Activity>,
}

impl Poller {
    /// Poll until `stop` is cancelled or the source is disabled. A poll in flight when the
    /// stop comes is finished (its posts stored, its cursor saved) before returning.
    pub async fn run(mut self, stop: CancellationToken) {
        let name = self.source.name().to_string();
        let mut health = match self.store.health(&name) {
            Ok(Some(h)) => h,
            _ => SourceHealth {
                source: name.clone(),
                platform: self.source.platform(),
                state: HealthState::Ok,
                last_success: None,
                last_error: None,
                last_error_at: None,
                consecutive_failures: 0,
                posts_stored: 0,
                interval_secs: self.settings.min_interval_secs,
            },
        };
        if health.state == HealthState::Disabled {
            // Disabled by an earlier run; a restart after a configuration change retries it.
            health.state = HealthState::Degraded;
        }
        let mut interval = Duration::from_secs(self.settings.min_interval_secs);
        loop {
            if stop.is_cancelled() {
                break;
            }
            let delay = match self.poll_once(&mut health, &stop).await {
                Outcome::Changed => {
                    interval = Duration::from_secs(self.settings.min_interval_secs);
                    jitter(interval, 0.1)
                }
                Outcome::Unchanged => {
                    // Quiet sources are polled less often, up to the maximum.
                    interval = (interval.mul_f64(1.5))
                        .min(Duration::from_secs(self.settings.max_interval_secs));
                    jitter(interval, 0.1)
                }
                Outcome::Failed(retry_after) => {
                    let backoff = self.backoff(health.consecutive_failures);
                    retry_after.map_or(backoff, |r| r.max(backoff))
                }
                Outcome::Disabled => break,
                Outcome::Stopped => break,
            };
            health.interval_secs = delay.as_secs();
            self.save_health(&health);
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        self.save_health(&health);
        tracing::debug!(source = %name, "poller stopped");
    }

    async fn poll_once(&mut self, health: &mut SourceHealth, stop: &CancellationToken) -> Outcome {
        let name = self.source.name().to_string();
        let cursor = match self.store.cursor(&name) {
            Ok(c) => c,
            Err(error) => {
                tracing::error!(source = %name, %error, "reading the cursor failed");
                return self.failed(health, format!("чтение курсора: {error}"), None);
            }
        };
        // A fetch is abandoned on stop: nothing of it is stored and the cursor stays, so the
        // next run fetches the same posts again. Once the batch goes to the pipeline, it is
        // seen through.
        let fetched = tokio::select! {
            fetched = self.source.fetch(cursor.as_ref()) => fetched,
            _ = stop.cancelled() => return Outcome::Stopped,
        };
        let batch = match fetched {
            Ok(batch) => batch,
            Err(SourceError::Disabled(reason)) => {
                tracing::error!(source = %name, reason = %reason, "source disabled");
                let was = health.state;
                health.state = HealthState::Disabled;
                health.last_error = Some(reason.clone());
                health.last_error_at = Some(Utc::now());
                self.announce(health, was);
                return Outcome::Disabled;
            }
            Err(SourceError::RetryAfter {
                message,
                retry_after,
            }) => {
                tracing::warn!(source = %name, error = %message, retry_after_secs = retry_after.as_secs(), "source asks to wait");
                return self.failed(health, message, Some(retry_after));
            }
            Err(SourceError::Transient(message)) => {
                tracing::warn!(source = %name, error = %message, "poll failed");
                return self.failed(health, message, None);
            }
        };
        let Batch {
            posts,
            cursor,
            changed,
        } = batch;
        let count = posts.len();
        if count > 0 {
            let knowledge = self.knowledge.clone();
            let posts = match tokio::task::spawn_blocking(move || {
                crate::pipeline::understand_all(posts, &knowledge)
            })
            .await
            {
                Ok(posts) => posts,
                Err(error) => {
                    return self.failed(health, format!("разбор сообщений: {error}"), None);
                }
            };
            let (done, durable) = oneshot::channel();
            let job = IngestJob {
                source: name.clone(),
                posts,
                done,
            };
            if self.jobs.send(job).await.is_err() {
                return Outcome::Stopped;
            }
            match durable.await {
                Ok(Ok(report)) => {
                    health.posts_stored += report.stored as u64;
                    if report.stored > 0 {
                        tracing::info!(source = %name, stored = report.stored, duplicates = report.duplicates, "posts stored");
                    }
                }
                Ok(Err(error)) => {
                    return self.failed(health, format!("запись в хранилище: {error}"), None);
                }
                Err(_) => return Outcome::Stopped,
            }
        }
        // Only now, with the posts durable, may the cursor move past them.
        if let Some(cursor) = cursor {
            let store = self.store.clone();
            let source = name.clone();
            let saved =
                tokio::task::spawn_blocking(move || store.save_cursor(&source, &cursor)).await;
            match saved {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    return self.failed(health, format!("сохранение курсора: {error}"), None);
                }
                Err(error) => {
                    return self.failed(health, format!("сохранение курсора: {error}"), None);
                }
            }
        }
        let was = health.state;
        health.state = HealthState::Ok;
        health.consecutive_failures = 0;
        health.last_success = Some(Utc::now());
        if was != HealthState::Ok {
            tracing::info!(source = %name, "source recovered");
            self.announce(health, was);
        }
        if changed || count > 0 {
            Outcome::Changed
        } else {
            Outcome::Unchanged
        }
    }

    fn failed(
        &self,
        health: &mut SourceHealth,
        error: String,
        retry_after: Option<Duration>,
    ) -> Outcome {
        health.consecutive_failures += 1;
        health.last_error = Some(error);
        health.last_error_at = Some(Utc::now());
        let state = if health.consecutive_failures >= self.settings.failing_after {
            HealthState::Failing
        } else {
            HealthState::Degraded
        };
        if state != health.state {
            let was = health.state;
            health.state = state;
            self.announce(health, was);
        }
        Outcome::Failed(retry_after)
    }

    /// Exponential backoff with full jitter in the upper half, capped.
    fn backoff(&self, failures: u32) -> Duration {
        let initial = self.settings.backoff_initial_secs as f64;
        let max = self.settings.backoff_max_secs as f64;
        let base = (initial * 2f64.powi(failures.saturating_sub(1).min(30) as i32)).min(max);
        Duration::from_secs_f64(base * (0.5 + fastrand::f64() * 0.5))
    }

    fn save_health(&self, health: &SourceHealth) {
        if let Err(error) = self.store.save_health(health) {
            tracing::warn!(source = %health.source, %error, "saving source health failed");
        }
    }

    fn announce(&self, health: &SourceHealth, was: HealthState) {
        announce(&self.store, &self.activity, health, was);
    }
}

/// Tell watchers about a change of a source's state. A source that starts failing, is
/// disabled or recovers from either is also a notice for the administrator, kept in the
/// store (the alerts issue delivers them).
pub(crate) fn announce(
    store: &Store,
    activity: &broadcast::Sender<Activity>,
    health: &SourceHealth,
    was: HealthState,
) {
    let _ = activity.send(Activity::SourceHealth {
        source: health.source.clone(),
        state: health.state,
        error: health.last_error.clone(),
    });
    let worth_telling = match health.state {
        HealthState::Failing | HealthState::Disabled => was != health.state,
        HealthState::Ok => matches!(was, HealthState::Failing | HealthState::Disabled),
        HealthState::Degraded => false,
    };
    if !worth_telling {
        return;
    }
    let notice = crate::store::AdminNotice {
        at: Utc::now(),
        source: health.source.clone(),
        platform: health.platform,
        state: health.state,
        error: health.last_error.clone(),
        consecutive_failures: health.consecutive_failures,
    };
    let store = store.clone();
    // A notice is small and rare; written off the async threads all the same.
    tokio::task::spawn_blocking(move || {
        if let Err(error) = store.push_notice(&notice) {
            tracing::error!(source = %notice.source, %error, "recording a notice for the administrator failed");
        }
    });
}

enum Outcome {
    Changed,
    Unchanged,
    Failed(Option<Duration>),
    Disabled,
    Stopped,
}

/// `d` spread by ±`fraction`, so that many sources do not poll in lockstep.
fn jitter(d: Duration, fraction: f64) -> Duration {
    d.mul_f64(1.0 - fraction + fastrand::f64() * 2.0 * fraction)
}
