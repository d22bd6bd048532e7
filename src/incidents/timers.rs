//! The timer scheduler: wakes the pipeline when the earliest armed escalation timer is due.
//!
//! Timers live in the store (`t/` keys, ordered by due time), armed and disarmed in the same
//! batch as the incident change that causes them; firing one removes its key in the same batch
//! as the escalation event and its alert. So this task holds no state of its own: after a
//! restart it reads the earliest key and goes on — nothing is lost, nothing fires twice.

use crate::pipeline::QueueJob;
use crate::time::Clock;
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Longest sleep between two looks at the store, so that a clock change (NTP, suspend) or a
/// missed notification costs at most this much delay.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// Sleep until the earliest timer is due, ask the pipeline to fire what is due, repeat.
pub async fn run(
    clock: Clock,
    mut next: watch::Receiver<Option<DateTime<Utc>>>,
    queue: mpsc::Sender<QueueJob>,
    stop: CancellationToken,
) {
    loop {
        let due = *next.borrow_and_update();
        let sleep = match due {
            Some(at) => clock.real_wait_until(at).min(MAX_SLEEP),
            None => MAX_SLEEP,
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = next.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
            _ = tokio::time::sleep(sleep) => {}
        }
        if due.is_some_and(|at| clock.now() >= at) {
            let (reply, fired) = tokio::sync::oneshot::channel();
            if queue
                .send(QueueJob::Tick { reply: Some(reply) })
                .await
                .is_err()
            {
                return;
            }
            if let Ok(n) = fired.await
                && n > 0
            {
                tracing::info!(fired = n, "escalation steps fired");
            }
        }
    }
}
