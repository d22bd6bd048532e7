//! What the administrator does with alerts from the command line: look at the outbox,
//! re-queue a dead letter, send a test message.

use super::outbox::{Channels, SendError, Sent};
use super::render::{self, IncidentContext, Item};
use super::{AlertSettings, route};
use crate::people::People;
use crate::store::{Alert, AlertKind, Channel, Delivery, DeliveryState, Store, WriteBatch};
use chrono::Utc;

/// Why a dead letter cannot be re-queued.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("нет доставки № {0}")]
    Unknown(u64),
    #[error("доставка № {0} не в списке недоставленных (состояние: {1:?})")]
    NotDead(u64, DeliveryState),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Put dead letter `id` back in the queue: tried again at once, attempts from zero.
pub fn retry(store: &Store, id: u64) -> Result<Delivery, RetryError> {
    let mut d = store.delivery(id)?.ok_or(RetryError::Unknown(id))?;
    if d.state != DeliveryState::Dead {
        return Err(RetryError::NotDead(id, d.state));
    }
    d.state = DeliveryState::Pending;
    d.attempts = 0;
    d.next_try = Utc::now();
    let mut batch = WriteBatch::default();
    batch.put_delivery(&d, Some(DeliveryState::Dead));
    store.commit(batch)?;
    Ok(d)
}

/// The outcome of a test message on one channel.
#[derive(Debug)]
pub struct TestResult {
    pub person: String,
    pub name: String,
    pub channel: Option<Channel>,
    pub result: Result<Sent, SendError>,
}

/// Send a test message to `to` (a person id, or a role: its holders today) by every channel
/// configured for them, directly (not through the outbox): the answer of each channel is
/// the point.
pub async fn send_test(
    settings: &AlertSettings,
    people: &People,
    tz: chrono_tz::Tz,
    to: &str,
) -> Result<Vec<TestResult>, String> {
    let today = Utc::now().with_timezone(&tz).date_naive();
    let persons: Vec<String> = if people.person(to).is_some() {
        vec![to.to_string()]
    } else {
        let holders = people.holders(to, today);
        if holders.is_empty() {
            return Err(format!(
                "«{to}» — не сотрудник из people.toml и не роль, которую кто-либо занимает"
            ));
        }
        holders.into_iter().map(|a| a.person).collect()
    };
    let channels = Channels::new(settings);
    let mut out = Vec::new();
    for id in persons {
        let person = people.person(&id).expect("resolved from the people file");
        let now = Utc::now();
        let key = format!("otklik-test-{}.{id}", now.timestamp());
        let alert = Alert {
            id: 0,
            at: now,
            kind: AlertKind::Test,
            incident: None,
            roles: vec![],
            persons: vec![id.clone()],
            urgent: false,
            title: "Проверка канала уведомлений".into(),
            body: format!(
                "Это проверочное сообщение системы «Отклик» для {}. Отвечать на него не нужно.",
                person.name
            ),
        };
        let message = render::render(
            &[Item {
                alert,
                incident: IncidentContext::default(),
            }],
            None,
            &key,
        );
        let found = route::channels(person, settings);
        if found.is_empty() {
            out.push(TestResult {
                person: id.clone(),
                name: person.name.clone(),
                channel: None,
                result: Err(SendError::permanent(route::no_channel_reason(
                    Some(person),
                    &id,
                ))),
            });
            continue;
        }
        for ch in found {
            let mut d =
                super::outbox::new_delivery(0, &[], &id, Some(ch), false, message.clone(), now);
            d.key = key.clone();
            let result = channels.send(settings, people, &d).await;
            out.push(TestResult {
                person: id.clone(),
                name: person.name.clone(),
                channel: Some(ch),
                result,
            });
        }
    }
    Ok(out)
}

/// Which deliveries `otklik outbox` lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Show {
    /// Pending (first try or retry) and dead letters.
    #[default]
    Open,
    Dead,
    /// Delivered too.
    All,
}

/// The outbox as the administrator sees it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct OutboxReport {
    /// Alerts waiting to be grouped into a message.
    pub queued: usize,
    pub pending: usize,
    pub delivered: usize,
    pub dead: usize,
    /// The deliveries asked for, by number.
    pub deliveries: Vec<Delivery>,
}

pub fn report(store: &Store, show: Show) -> Result<OutboxReport, crate::store::StoreError> {
    let states: &[DeliveryState] = match show {
        Show::Open => &[DeliveryState::Pending, DeliveryState::Dead],
        Show::Dead => &[DeliveryState::Dead],
        Show::All => &[
            DeliveryState::Pending,
            DeliveryState::Dead,
            DeliveryState::Delivered,
        ],
    };
    let mut deliveries = Vec::new();
    for state in states {
        deliveries.extend(store.deliveries(*state)?);
    }
    deliveries.sort_by_key(|d| d.id);
    Ok(OutboxReport {
        queued: store.queued_alerts()?.len(),
        pending: store.delivery_count(DeliveryState::Pending),
        delivered: store.delivery_count(DeliveryState::Delivered),
        dead: store.delivery_count(DeliveryState::Dead),
        deliveries,
    })
}
