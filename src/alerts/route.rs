//! Who hears about an alert, by which channels, and when: pure decisions, no I/O.

use super::AlertSettings;
use crate::org::Owner;
use crate::people::{People, Person};
use crate::store::{Alert, AlertKind, Channel, QueuedAlert};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

/// One person an alert goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub person: String,
    pub role: Option<String>,
    pub acting_for: Option<String>,
}

/// The persons an alert goes to: those it names, else the holders on `day` of the roles it
/// names, else of the roles `[alerts.routes]` gives its kind (`executor` and `head` of the
/// incident's `owner`). Each person once. `Err` says why nobody was found.
pub fn recipients(
    alert: &Alert,
    settings: &AlertSettings,
    people: &People,
    owner: Option<&Owner>,
    day: NaiveDate,
) -> Result<Vec<Recipient>, String> {
    let mut out: Vec<Recipient> = Vec::new();
    if !alert.persons.is_empty() {
        for p in &alert.persons {
            if !out.iter().any(|r| &r.person == p) {
                out.push(Recipient {
                    person: p.clone(),
                    role: None,
                    acting_for: None,
                });
            }
        }
        return Ok(out);
    }
    let roles: Vec<String> = if !alert.roles.is_empty() {
        alert.roles.clone()
    } else {
        settings
            .route(alert.kind)
            .iter()
            .filter_map(|r| match (r.as_str(), owner) {
                ("executor", Some(o)) => Some(crate::people::executor_role(o)),
                ("head", Some(o)) => Some(crate::people::head_role(o)),
                ("executor" | "head", None) => None,
                _ => Some(r.clone()),
            })
            .collect()
    };
    for role in &roles {
        for a in people.holders(role, day) {
            if !out.iter().any(|r| r.person == a.person) {
                out.push(Recipient {
                    person: a.person,
                    role: Some(a.role),
                    acting_for: a.acting_for,
                });
            }
        }
    }
    if out.is_empty() {
        return Err(if roles.is_empty() {
            format!(
                "для уведомлений вида «{}» не настроены получатели ([alerts.routes])",
                alert.kind.id()
            )
        } else {
            format!("ни за кем не закреплены роли: {}", roles.join(", "))
        });
    }
    Ok(out)
}

/// What makes two alerts "the same" for the repeat interval.
pub fn repeat_key(alert: &Alert, person: &str) -> Option<String> {
    if matches!(alert.kind, AlertKind::Test | AlertKind::Digest) {
        return None;
    }
    Some(format!(
        "{person}\u{0}{}\u{0}{}\u{0}{}",
        alert.kind.id(),
        alert.incident.map_or(String::new(), |i| i.to_string()),
        alert.title
    ))
}

/// Whether an alert seen `last` is still within the repeat interval at `now`.
pub fn is_repeat(last: Option<DateTime<Utc>>, now: DateTime<Utc>, interval_secs: u64) -> bool {
    last.is_some_and(|last| (now - last).num_seconds() < interval_secs as i64)
}

/// Whether local `time` falls in quiet hours `from..until` (which may span midnight).
pub fn in_quiet_hours(time: NaiveTime, quiet: Option<(NaiveTime, NaiveTime)>) -> bool {
    match quiet {
        None => false,
        Some((from, until)) if from <= until => from <= time && time < until,
        Some((from, until)) => time >= from || time < until,
    }
}

/// The queued alerts of one person that go out now: all of them once the oldest has waited
/// the group wait, except that in quiet hours only urgent ones go. Empty: wait.
pub fn ready<'a>(
    queued: &'a [QueuedAlert],
    now: DateTime<Utc>,
    settings: &AlertSettings,
    tz: Tz,
) -> Vec<&'a QueuedAlert> {
    let quiet = in_quiet_hours(now.with_timezone(&tz).time(), settings.quiet_hours());
    let eligible: Vec<&QueuedAlert> = queued.iter().filter(|q| q.urgent || !quiet).collect();
    let waited = eligible
        .iter()
        .map(|q| q.queued)
        .min()
        .is_some_and(|oldest| (now - oldest).num_seconds() >= settings.group_wait_secs as i64);
    if waited { eligible } else { Vec::new() }
}

/// The channels a person can be reached by with the current settings.
pub fn channels(person: &Person, settings: &AlertSettings) -> Vec<Channel> {
    let mut out = Vec::new();
    if settings.email.enabled() && person.email.is_some() {
        out.push(Channel::Email);
    }
    if settings.telegram.enabled() && person.telegram_chat_id.is_some() {
        out.push(Channel::Telegram);
    }
    if person
        .webhook
        .as_deref()
        .is_some_and(|w| settings.webhook(w).is_some())
    {
        out.push(Channel::Webhook);
    }
    out
}

/// Why a person has no channel, for the dead letter.
pub fn no_channel_reason(person: Option<&Person>, id: &str) -> String {
    match person {
        None => format!("недоставимо: нет такого сотрудника «{id}» в people.toml"),
        Some(_) => format!(
            "недоставимо: нет канала доставки для «{id}» (не указаны e-mail, Telegram или вебхук, либо канал не настроен в [alerts])"
        ),
    }
}

/// Delay before retry number `attempts` (1 after the first failure): exponential from
/// `initial` up to `max`, scaled by `jitter` in 0.5..=1.0, and never sooner than the
/// channel's `retry_after`.
pub fn retry_delay(
    attempts: u32,
    initial_secs: u64,
    max_secs: u64,
    jitter: f64,
    retry_after: Option<std::time::Duration>,
) -> std::time::Duration {
    let exp = initial_secs.saturating_mul(1u64 << attempts.saturating_sub(1).min(30));
    let base = exp.min(max_secs) as f64 * jitter.clamp(0.5, 1.0);
    let delay = std::time::Duration::from_secs_f64(base);
    match retry_after {
        Some(ra) if ra > delay => ra,
        _ => delay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::Org;

    fn alert(kind: AlertKind) -> Alert {
        Alert {
            id: 1,
            at: "2026-11-26T10:00:00Z".parse().unwrap(),
            kind,
            incident: Some(7),
            roles: vec![],
            persons: vec![],
            urgent: false,
            title: "Новый инцидент".into(),
            body: String::new(),
        }
    }

    #[test]
    fn recipients_come_from_persons_then_roles_then_routes() {
        let org = Org::embedded();
        let people = People::embedded(&org);
        let s = AlertSettings::default();
        let day: NaiveDate = "2026-11-26".parse().unwrap();
        let owner = Owner::Department("zhkh".into());

        let mut a = alert(AlertKind::NewIncident);
        let r = recipients(&a, &s, &people, Some(&owner), day).unwrap();
        let ids: Vec<&str> = r.iter().map(|r| r.person.as_str()).collect();
        assert!(ids.contains(&"zhkh-executor"), "{ids:?}");
        assert!(ids.contains(&"im-coordinator"), "{ids:?}");
        assert!(!ids.contains(&"zhkh-head"), "{ids:?}");

        a.roles = vec!["head:zhkh".into()];
        let r = recipients(&a, &s, &people, Some(&owner), day).unwrap();
        assert_eq!(r[0].person, "zhkh-head");
        // On leave: the substitute acts, and the alert says for whom.
        let july: NaiveDate = "2026-07-10".parse().unwrap();
        let r = recipients(&a, &s, &people, Some(&owner), july).unwrap();
        assert_eq!(r[0].person, "zhkh-executor");
        assert_eq!(r[0].acting_for.as_deref(), Some("zhkh-head"));

        a.persons = vec!["curator".into(), "curator".into()];
        let r = recipients(&a, &s, &people, Some(&owner), day).unwrap();
        assert_eq!(r.len(), 1);

        let a = alert(AlertKind::Test);
        assert!(recipients(&a, &s, &people, None, day).is_err());
    }

    #[test]
    fn quiet_hours_span_midnight() {
        let q = Some((
            NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        ));
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert!(in_quiet_hours(t(23, 30), q));
        assert!(in_quiet_hours(t(3, 0), q));
        assert!(!in_quiet_hours(t(8, 0), q));
        assert!(!in_quiet_hours(t(12, 0), q));
        assert!(!in_quiet_hours(t(23, 30), None));
        let day = Some((t(12, 0), t(13, 0)));
        assert!(in_quiet_hours(t(12, 30), day));
        assert!(!in_quiet_hours(t(13, 30), day));
    }

    #[test]
    fn quiet_hours_hold_non_urgent_and_let_urgent_through() {
        let s = AlertSettings {
            group_wait_secs: 60,
            ..AlertSettings::default()
        };
        let tz = chrono_tz::Europe::Moscow;
        // 23:00 Moscow.
        let night: DateTime<Utc> = "2026-11-26T20:00:00Z".parse().unwrap();
        let q = |alert, urgent, secs_ago| QueuedAlert {
            alert,
            person: "p".into(),
            role: None,
            acting_for: None,
            urgent,
            queued: night - chrono::Duration::seconds(secs_ago),
        };
        let queued = vec![q(1, false, 600), q(2, true, 120)];
        let out = ready(&queued, night, &s, tz);
        assert_eq!(out.iter().map(|q| q.alert).collect::<Vec<_>>(), vec![2]);
        // The urgent one has not waited the group wait yet: nothing goes.
        let queued = vec![q(1, false, 600), q(2, true, 10)];
        assert!(ready(&queued, night, &s, tz).is_empty());
        // In the morning everything goes together.
        let morning: DateTime<Utc> = "2026-11-27T05:30:00Z".parse().unwrap();
        assert_eq!(ready(&queued, morning, &s, tz).len(), 2);
    }

    #[test]
    fn repeats_within_the_interval_are_recognised() {
        let now: DateTime<Utc> = "2026-11-26T10:00:00Z".parse().unwrap();
        assert!(is_repeat(
            Some(now - chrono::Duration::minutes(59)),
            now,
            3600
        ));
        assert!(!is_repeat(
            Some(now - chrono::Duration::minutes(61)),
            now,
            3600
        ));
        assert!(!is_repeat(None, now, 3600));
        let a = alert(AlertKind::Overdue);
        let mut b = a.clone();
        b.title = "Другое".into();
        assert_ne!(repeat_key(&a, "p"), repeat_key(&b, "p"));
        assert_ne!(repeat_key(&a, "p"), repeat_key(&a, "q"));
        assert_eq!(repeat_key(&alert(AlertKind::Test), "p"), None);
    }

    #[test]
    fn retry_delay_doubles_caps_and_honours_retry_after() {
        use std::time::Duration;
        assert_eq!(retry_delay(1, 10, 3600, 1.0, None), Duration::from_secs(10));
        assert_eq!(retry_delay(3, 10, 3600, 1.0, None), Duration::from_secs(40));
        assert_eq!(
            retry_delay(20, 10, 3600, 1.0, None),
            Duration::from_secs(3600)
        );
        assert_eq!(retry_delay(3, 10, 3600, 0.5, None), Duration::from_secs(20));
        assert_eq!(
            retry_delay(1, 10, 3600, 1.0, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        assert_eq!(
            retry_delay(3, 10, 3600, 1.0, Some(Duration::from_secs(3))),
            Duration::from_secs(40)
        );
    }
}
