//! The delivery worker: routes new outbox alerts, groups them per person, sends what is due
//! and records the outcome (see the module documentation of `alerts`).

use super::AlertSettings;
use super::email::EmailChannel;
use super::render::{self, IncidentContext, Item};
use super::route;
use super::telegram::TelegramChannel;
use super::webhook::WebhookChannel;
use crate::incidents::calendar::WorkCalendar;
use crate::model::PostKey;
use crate::org::Org;
use crate::people::People;
use crate::store::{
    Alert, Channel, Delivery, DeliveryState, QueuedAlert, Store, StoreError, WriteBatch,
};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How often the worker looks for new alerts and due deliveries.
const TICK: Duration = Duration::from_millis(500);

/// An alert id reserved but still absent after this long was never committed (its batch
/// failed): the cursor moves past it.
const GAP_GRACE: Duration = Duration::from_secs(30);

/// A channel accepted the message.
#[derive(Clone, Debug, PartialEq)]
pub struct Sent {
    /// What the channel answered (SMTP reply, Telegram message id, HTTP status).
    pub answer: String,
}

/// A channel did not accept the message.
#[derive(Clone, Debug, PartialEq)]
pub struct SendError {
    pub message: String,
    /// Trying again will not help (bad address, blocked bot, 4xx): a dead letter at once.
    pub permanent: bool,
    /// The channel asked not to try again before this.
    pub retry_after: Option<Duration>,
}

impl SendError {
    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            permanent: true,
            retry_after: None,
        }
    }

    pub fn transient(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            permanent: false,
            retry_after: None,
        }
    }
}

/// The configured channels, ready to send.
pub struct Channels {
    email: Option<Result<EmailChannel, String>>,
    telegram: Option<Result<TelegramChannel, String>>,
    webhook: Result<WebhookChannel, String>,
}

impl Channels {
    pub fn new(settings: &AlertSettings) -> Channels {
        Channels {
            email: settings
                .email
                .enabled()
                .then(|| EmailChannel::new(&settings.email)),
            telegram: settings
                .telegram
                .enabled()
                .then(|| TelegramChannel::new(&settings.telegram)),
            webhook: WebhookChannel::new(),
        }
    }

    /// Send `d` by its channel to its person.
    pub async fn send(
        &self,
        settings: &AlertSettings,
        people: &People,
        d: &Delivery,
    ) -> Result<Sent, SendError> {
        let person = people.person(&d.person).ok_or_else(|| {
            SendError::permanent(format!("нет сотрудника «{}» в people.toml", d.person))
        })?;
        let gone = |what: &str| SendError::permanent(format!("канал {what} больше не настроен"));
        let broken = |e: &String| SendError::transient(format!("канал не готов: {e}"));
        match d.channel {
            None => Err(SendError::permanent(route::no_channel_reason(
                Some(person),
                &d.person,
            ))),
            Some(Channel::Email) => {
                let address = person.email.as_deref().ok_or_else(|| gone("e-mail"))?;
                match &self.email {
                    Some(Ok(ch)) => ch.send(d, &person.name, address).await,
                    Some(Err(e)) => Err(broken(e)),
                    None => Err(gone("e-mail")),
                }
            }
            Some(Channel::Telegram) => {
                let chat = person.telegram_chat_id.ok_or_else(|| gone("Telegram"))?;
                match &self.telegram {
                    Some(Ok(ch)) => ch.send(d, chat).await,
                    Some(Err(e)) => Err(broken(e)),
                    None => Err(gone("Telegram")),
                }
            }
            Some(Channel::Webhook) => {
                let hook = person
                    .webhook
                    .as_deref()
                    .and_then(|w| settings.webhook(w))
                    .ok_or_else(|| gone("вебхук"))?;
                match &self.webhook {
                    Ok(ch) => ch.send(d, hook).await,
                    Err(e) => Err(broken(e)),
                }
            }
        }
    }
}

/// The delivery worker. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    pub store: Store,
    pub settings: Arc<AlertSettings>,
    pub people: Arc<People>,
    pub org: Arc<Org>,
    pub calendar: Arc<WorkCalendar>,
    /// The daemon's clock (shifted in tests and the demo, like the deadlines'): group waits,
    /// quiet hours, retries and the daily digest follow it.
    pub clock: crate::time::Clock,
    /// Alert ids found missing below the newest, and since when.
    gaps: Arc<Mutex<HashMap<u64, Instant>>>,
}

impl Outbox {
    pub fn new(
        store: Store,
        settings: AlertSettings,
        people: People,
        org: Org,
        calendar: Arc<WorkCalendar>,
    ) -> Outbox {
        Outbox {
            store,
            settings: Arc::new(settings),
            people: Arc::new(people),
            org: Arc::new(org),
            calendar,
            clock: crate::time::Clock::system(),
            gaps: Default::default(),
        }
    }

    /// The same worker on `clock`.
    pub fn with_clock(mut self, clock: crate::time::Clock) -> Outbox {
        self.clock = clock;
        self
    }

    /// Work until `stop`: a send in flight when it comes is abandoned, and sent again after
    /// the restart with the same idempotency key.
    pub async fn run(self, stop: CancellationToken) {
        let channels = Arc::new(Channels::new(&self.settings));
        // A send that outlives every channel's own time limit is abandoned and retried, so
        // that one stuck connection cannot hold up the others.
        let limit = Duration::from_secs(
            2 * self
                .settings
                .webhooks
                .iter()
                .map(|w| w.timeout_secs)
                .chain([
                    self.settings.email.timeout_secs,
                    self.settings.telegram.timeout_secs,
                ])
                .max()
                .unwrap_or(30)
                + 5,
        );
        loop {
            let this = self.clone();
            let now = self.clock.now();
            let due = tokio::task::spawn_blocking(move || {
                super::digest::write_due(
                    &this.store,
                    &this.settings,
                    &this.people,
                    &this.calendar,
                    now,
                )?;
                this.route(now)?;
                this.group(now)?;
                this.due(now)
            })
            .await;
            let due = match due {
                Ok(Ok(due)) => due,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "outbox: store error");
                    Vec::new()
                }
                Err(e) => {
                    tracing::error!(error = %e, "outbox: round panicked");
                    Vec::new()
                }
            };
            let mut sends = tokio::task::JoinSet::new();
            for d in due.into_iter().take(self.settings.concurrency) {
                let channels = channels.clone();
                let settings = self.settings.clone();
                let people = self.people.clone();
                sends.spawn(async move {
                    let result =
                        match tokio::time::timeout(limit, channels.send(&settings, &people, &d))
                            .await
                        {
                            Ok(result) => result,
                            Err(_) => Err(SendError::transient(format!(
                                "нет ответа за {} с",
                                limit.as_secs()
                            ))),
                        };
                    (d, result)
                });
            }
            loop {
                tokio::select! {
                    _ = stop.cancelled() => {
                        sends.abort_all();
                        return;
                    }
                    next = sends.join_next() => match next {
                        None => break,
                        Some(Ok((d, result))) => {
                            let this = self.clone();
                            let recorded = tokio::task::spawn_blocking(move || {
                                let now = this.clock.now();
                                this.record(d, result, now)
                            })
                            .await;
                            if let Ok(Err(e)) = recorded {
                                tracing::error!(error = %e, "outbox: cannot record a delivery");
                            }
                        }
                        Some(Err(e)) => tracing::error!(error = %e, "outbox: send task failed"),
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// Route the alerts written since the cursor into the grouping queue.
    pub fn route(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let cursor = self.store.outbox_cursor()?;
        let alerts: Vec<Alert> = self.store.alerts_after(cursor).collect::<Result<_, _>>()?;
        let mut batch = WriteBatch::default();
        let mut routed = std::collections::HashSet::new();
        let mut repeats: HashMap<String, DateTime<Utc>> = HashMap::new();
        let tz = self.calendar.timezone();
        let mut next_delivery = None;
        for alert in alerts {
            if self.store.alert_routed(alert.id)? {
                routed.insert(alert.id);
                continue;
            }
            let owner = match alert.incident {
                Some(id) => self.store.incident(id)?.and_then(|i| i.owner),
                None => None,
            };
            let day = alert.at.with_timezone(&tz).date_naive();
            match route::recipients(&alert, &self.settings, &self.people, owner.as_ref(), day) {
                Err(reason) => {
                    tracing::warn!(alert = alert.id, reason, "outbox: nobody to tell");
                    let id = self.take_delivery_id(&mut next_delivery)?;
                    let message = render::render(
                        &[self.item(&alert)?],
                        None,
                        &format!("otklik-alert-{}", alert.id),
                    );
                    let mut d =
                        new_delivery(id, &[alert.id], "—", None, alert.urgent, message, now);
                    d.state = DeliveryState::Dead;
                    d.last_error = Some(format!("недоставимо: {reason}"));
                    batch.put_delivery(&d, None);
                }
                Ok(recipients) => {
                    for r in recipients {
                        if let Some(key) = route::repeat_key(&alert, &r.person) {
                            let last = match repeats.get(&key) {
                                Some(at) => Some(*at),
                                None => self.store.repeat(&key)?,
                            };
                            if route::is_repeat(last, alert.at, self.settings.repeat_interval_secs)
                            {
                                tracing::info!(
                                    alert = alert.id,
                                    person = r.person,
                                    "outbox: repeat within the interval, not sent"
                                );
                                continue;
                            }
                            repeats.insert(key.clone(), alert.at);
                            batch.put_repeat(&key, alert.at);
                        }
                        batch.put_queued(&QueuedAlert {
                            alert: alert.id,
                            person: r.person,
                            role: r.role,
                            acting_for: r.acting_for,
                            urgent: alert.urgent,
                            queued: now,
                        });
                    }
                }
            }
            batch.mark_alert_routed(alert.id);
            routed.insert(alert.id);
        }
        if let Some(next) = next_delivery {
            batch.set_next_delivery(next);
        }
        // The cursor covers every id up to the first one neither routed nor given up on.
        let last = self.store.last_alert_id()?;
        let mut c = cursor;
        let mut gaps = self.gaps.lock().unwrap_or_else(|e| e.into_inner());
        while c < last {
            let id = c + 1;
            if routed.contains(&id) {
                c = id;
                continue;
            }
            if self.store.alert(id)?.is_some() {
                break;
            }
            let since = *gaps.entry(id).or_insert_with(Instant::now);
            if since.elapsed() < GAP_GRACE {
                break;
            }
            tracing::warn!(alert = id, "outbox: alert id never written; skipping it");
            gaps.remove(&id);
            c = id;
        }
        gaps.retain(|id, _| *id > c);
        if c != cursor {
            batch.set_outbox_cursor(cursor, c);
        }
        if !batch.is_empty() {
            self.store.commit(batch)?;
        }
        Ok(())
    }

    /// Turn what each person has waiting into messages, one delivery per channel.
    pub fn group(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let queued = self.store.queued_alerts()?;
        if queued.is_empty() {
            return Ok(());
        }
        let tz = self.calendar.timezone();
        let mut by_person: Vec<(String, Vec<QueuedAlert>)> = Vec::new();
        for q in queued {
            match by_person.last_mut() {
                Some((p, list)) if *p == q.person => list.push(q),
                _ => by_person.push((q.person.clone(), vec![q])),
            }
        }
        let mut batch = WriteBatch::default();
        let mut next_delivery = None;
        for (person, list) in by_person {
            let ready = route::ready(&list, now, &self.settings, tz);
            if ready.is_empty() {
                continue;
            }
            let mut items = Vec::new();
            for q in &ready {
                batch.remove_queued(q);
                if let Some(alert) = self.store.alert(q.alert)? {
                    items.push(self.item(&alert)?);
                }
            }
            if items.is_empty() {
                continue;
            }
            let ids: Vec<u64> = items.iter().map(|i| i.alert.id).collect();
            let key = match ids.as_slice() {
                [one] => format!("otklik-alert-{one}.{person}"),
                _ => format!("otklik-digest-{}-{}.{person}", ids[0], ids[ids.len() - 1]),
            };
            let acting_for = ready
                .iter()
                .find_map(|q| q.acting_for.as_deref())
                .map(|id| self.people.person(id).map_or(id, |p| p.name.as_str()));
            let message = render::render(&items, acting_for, &key);
            let urgent = items.iter().any(|i| i.alert.urgent);
            let record = self.people.person(&person);
            let channels = record.map_or_else(Vec::new, |p| route::channels(p, &self.settings));
            if channels.is_empty() {
                let id = self.take_delivery_id(&mut next_delivery)?;
                let mut d = new_delivery(id, &ids, &person, None, urgent, message, now);
                d.key = key;
                d.state = DeliveryState::Dead;
                d.last_error = Some(route::no_channel_reason(record, &person));
                tracing::warn!(person, reason = d.last_error, "outbox: undeliverable");
                batch.put_delivery(&d, None);
                continue;
            }
            for ch in channels {
                let id = self.take_delivery_id(&mut next_delivery)?;
                let mut d = new_delivery(id, &ids, &person, Some(ch), urgent, message.clone(), now);
                d.key = key.clone();
                batch.put_delivery(&d, None);
            }
        }
        if let Some(next) = next_delivery {
            batch.set_next_delivery(next);
        }
        if !batch.is_empty() {
            self.store.commit(batch)?;
        }
        Ok(())
    }

    /// Pending deliveries whose time has come, oldest first. A re-queued dead letter that had
    /// no channel gets the person's channels now, or goes back with the reason.
    pub fn due(&self, now: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError> {
        let mut out = Vec::new();
        let mut batch = WriteBatch::default();
        let mut next_delivery = None;
        for d in self.store.deliveries(DeliveryState::Pending)? {
            if d.next_try > now {
                continue;
            }
            if d.channel.is_some() {
                out.push(d);
                continue;
            }
            let record = self.people.person(&d.person);
            let channels = record.map_or_else(Vec::new, |p| route::channels(p, &self.settings));
            if channels.is_empty() {
                let mut dead = d.clone();
                dead.state = DeliveryState::Dead;
                dead.attempts += 1;
                dead.last_try = Some(now);
                dead.last_error = Some(route::no_channel_reason(record, &d.person));
                batch.put_delivery(&dead, Some(DeliveryState::Pending));
                continue;
            }
            for (i, ch) in channels.into_iter().enumerate() {
                let mut copy = d.clone();
                if i > 0 {
                    copy.id = self.take_delivery_id(&mut next_delivery)?;
                }
                copy.channel = Some(ch);
                batch.put_delivery(&copy, Some(DeliveryState::Pending));
                out.push(copy);
            }
        }
        if let Some(next) = next_delivery {
            batch.set_next_delivery(next);
        }
        if !batch.is_empty() {
            self.store.commit(batch)?;
        }
        Ok(out)
    }

    /// Record what a channel answered, durably.
    pub fn record(
        &self,
        mut d: Delivery,
        result: Result<Sent, SendError>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        d.last_try = Some(now);
        match result {
            Ok(sent) => {
                tracing::info!(
                    delivery = d.id,
                    person = d.person,
                    channel = d.channel.map(Channel::id),
                    answer = sent.answer,
                    "alert delivered"
                );
                d.state = DeliveryState::Delivered;
                d.delivered_at = Some(now);
                d.answer = Some(sent.answer);
            }
            Err(e) => {
                d.attempts += 1;
                d.last_error = Some(e.message.clone());
                if e.permanent || d.attempts >= self.settings.max_attempts {
                    tracing::warn!(
                        delivery = d.id,
                        person = d.person,
                        attempts = d.attempts,
                        error = e.message,
                        "alert delivery given up: dead letter"
                    );
                    d.state = DeliveryState::Dead;
                } else {
                    let delay = route::retry_delay(
                        d.attempts,
                        self.settings.retry_initial_secs,
                        self.settings.retry_max_secs,
                        0.5 + fastrand::f64() * 0.5,
                        e.retry_after,
                    );
                    tracing::info!(
                        delivery = d.id,
                        attempts = d.attempts,
                        retry_in_secs = delay.as_secs_f64(),
                        error = e.message,
                        "alert delivery failed; will retry"
                    );
                    d.next_try = now
                        + chrono::Duration::from_std(delay)
                            .unwrap_or_else(|_| chrono::Duration::seconds(3600));
                }
            }
        }
        let mut batch = WriteBatch::default();
        batch.put_delivery(&d, Some(DeliveryState::Pending));
        self.store.commit(batch)
    }

    fn take_delivery_id(&self, next: &mut Option<u64>) -> Result<u64, StoreError> {
        let id = match next {
            Some(n) => *n,
            None => self.store.next_delivery_id()?,
        };
        *next = Some(id + 1);
        Ok(id)
    }

    /// An alert with what is known of its incident.
    fn item(&self, alert: &Alert) -> Result<Item, StoreError> {
        Ok(Item {
            alert: alert.clone(),
            incident: incident_context(
                &self.store,
                &self.org,
                &self.calendar,
                &self.settings.public_url,
                alert,
            )?,
        })
    }
}

/// Where the outbox stands, for `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboxFigures {
    /// Alerts in the grouping queue (per person).
    pub queued: usize,
    /// Deliveries not yet made (first try or retry).
    pub pending: usize,
    /// Of those, deliveries that failed at least once.
    pub failing: usize,
    pub delivered: usize,
    pub dead: usize,
}

impl OutboxFigures {
    pub fn read(store: &Store) -> Result<OutboxFigures, StoreError> {
        let pending = store.deliveries(DeliveryState::Pending)?;
        Ok(OutboxFigures {
            queued: store.queued_alerts()?.len(),
            pending: pending.len(),
            failing: pending.iter().filter(|d| d.attempts > 0).count(),
            delivered: store.delivery_count(DeliveryState::Delivered),
            dead: store.delivery_count(DeliveryState::Dead),
        })
    }

    /// Prometheus text exposition.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        for (name, help, value) in [
            (
                "otklik_outbox_queued",
                "Alerts waiting to be grouped into a message, per person.",
                self.queued,
            ),
            (
                "otklik_outbox_pending",
                "Deliveries not yet made (first try or retry).",
                self.pending,
            ),
            (
                "otklik_outbox_failing",
                "Pending deliveries that failed at least once.",
                self.failing,
            ),
            (
                "otklik_outbox_delivered",
                "Deliveries made.",
                self.delivered,
            ),
            (
                "otklik_outbox_dead",
                "Dead letters: deliveries given up, waiting for the administrator.",
                self.dead,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
            ));
        }
        out
    }
}

/// What an alert's message says about its incident.
pub fn incident_context(
    store: &Store,
    org: &Org,
    calendar: &WorkCalendar,
    public_url: &str,
    alert: &Alert,
) -> Result<IncidentContext, StoreError> {
    let Some(id) = alert.incident else {
        return Ok(IncidentContext::default());
    };
    let mut c = IncidentContext {
        page_url: Some(format!(
            "{}/incidents/{id}",
            public_url.trim_end_matches('/')
        )),
        ..IncidentContext::default()
    };
    if let Some(incident) = store.incident(id)? {
        c.topic = incident.topic.clone();
        c.territory = incident.territory.as_deref().map(|t| org.territory_name(t));
        c.place = incident.place.clone();
        c.due = incident
            .due()
            .map(|t| crate::incidents::clock::format_local(t, calendar));
        c.excerpt = (!incident.summary.is_empty()).then(|| incident.summary.clone());
        if let Some(key) = PostKey::parse_uid(&incident.first_post) {
            c.post_url = store.post_by_key(&key)?.and_then(|p| p.post.url);
        }
    }
    Ok(c)
}

/// A delivery of `message` waiting for its first try (keyed by the first of its alerts).
pub(crate) fn new_delivery(
    id: u64,
    alerts: &[u64],
    person: &str,
    channel: Option<Channel>,
    urgent: bool,
    message: render::Message,
    now: DateTime<Utc>,
) -> Delivery {
    Delivery {
        id,
        alerts: alerts.to_vec(),
        person: person.to_string(),
        channel,
        key: format!("otklik-alert-{}", alerts.first().copied().unwrap_or(0)),
        urgent,
        subject: message.subject,
        text: message.text,
        html: message.html,
        telegram: message.telegram,
        created: now,
        state: DeliveryState::Pending,
        attempts: 0,
        next_try: now,
        last_error: None,
        last_try: None,
        delivered_at: None,
        answer: None,
    }
}
