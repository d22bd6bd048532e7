//! The daily digest: each official, once a working day, gets the open incidents of the
//! departments and territories they answer for (as executor or head, substitutes applied),
//! with their deadlines. Written into the outbox like any alert, with the day's mark in the
//! same batch: a restart neither skips nor repeats a day.

use super::AlertSettings;
use crate::incidents::calendar::WorkCalendar;
use crate::people::{People, executor_role, head_role};
use crate::store::{Alert, AlertKind, Store, StoreError, WriteBatch};
use chrono::{DateTime, NaiveTime, Utc};
use std::collections::BTreeMap;

/// Write today's digests when their time has come and they are not written yet. Returns how
/// many were written.
pub fn write_due(
    store: &Store,
    settings: &AlertSettings,
    people: &People,
    calendar: &WorkCalendar,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let Some(at) = settings.daily_digest_time() else {
        return Ok(0);
    };
    let local = now.with_timezone(&calendar.timezone());
    let today = local.date_naive();
    if local.time() < at || store.daily_digest()?.is_some_and(|d| d >= today) {
        return Ok(0);
    }
    let mut batch = WriteBatch::default();
    batch.set_daily_digest(today);
    if !calendar.is_working_day(today).unwrap_or(true) {
        store.commit(batch)?;
        return Ok(0);
    }
    // Person → their open incidents, by id.
    let mut lists: BTreeMap<String, BTreeMap<u64, String>> = BTreeMap::new();
    for incident in store.incidents() {
        let incident = incident?;
        if !incident.status.is_open() {
            continue;
        }
        let Some(owner) = &incident.owner else {
            continue;
        };
        let due = match incident.due() {
            Some(due) if due <= now => format!(
                "срок истёк {} — ПРОСРОЧЕНО",
                crate::incidents::clock::format_local(due, calendar)
            ),
            Some(due) => format!(
                "срок {}",
                crate::incidents::clock::format_local(due, calendar)
            ),
            None => "срок не идёт".to_string(),
        };
        let summary: String = incident.summary.chars().take(120).collect();
        let line = format!(
            "№ {} ({}): {}; {}",
            incident.id,
            incident.status.label_ru(),
            summary,
            due
        );
        for role in [executor_role(owner), head_role(owner)] {
            for a in people.holders(&role, today) {
                lists
                    .entry(a.person)
                    .or_default()
                    .insert(incident.id, line.clone());
            }
        }
    }
    let mut pending = None;
    let written = lists.len();
    for (person, incidents) in lists {
        let id = store.reserve_alert_id(&mut batch, &mut pending)?;
        let n = incidents.len();
        let mut body = format!(
            "Открытые инциденты, за которые вы отвечаете, на {}:\n",
            local.format("%d.%m.%Y")
        );
        for line in incidents.values() {
            body.push_str("— ");
            body.push_str(line);
            body.push('\n');
        }
        body.push_str(&format!(
            "Список и карточки: {}/incidents",
            settings.public_url.trim_end_matches('/')
        ));
        batch.put_alert(&Alert {
            id,
            at: now,
            kind: AlertKind::Digest,
            incident: None,
            roles: vec![],
            persons: vec![person],
            urgent: false,
            title: format!(
                "Ежедневная сводка: {n} {}",
                super::render::plural(
                    n,
                    "открытый инцидент",
                    "открытых инцидента",
                    "открытых инцидентов"
                )
            ),
            body,
        });
    }
    store.commit(batch)?;
    Ok(written)
}

impl AlertSettings {
    /// When the daily digest is written, local time; `None` when it is off.
    pub fn daily_digest_time(&self) -> Option<NaiveTime> {
        NaiveTime::parse_from_str(&self.daily_digest_at, "%H:%M").ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::{Org, Owner};
    use crate::store::{Incident, IncidentStatus};

    fn incident(id: u64, status: IncidentStatus, owner: &str) -> Incident {
        let t: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
        Incident {
            id,
            status,
            opened: t,
            last_mention: t,
            created: t,
            group: "zhkh".into(),
            topic: None,
            territory: None,
            place: None,
            owner: Some(Owner::Department(owner.into())),
            urgent: false,
            resonant: false,
            first_post: "rss:x:1".into(),
            mentions: 1,
            authors: 1,
            summary: format!("инцидент {id}"),
            fingerprint: vec![],
            events: 0,
            resolution: None,
            merged_into: None,
            waiting_for: None,
            clock: None,
            milestones: Default::default(),
            pending_answer: Default::default(),
        }
    }

    #[test]
    fn one_digest_per_official_per_working_day_with_their_open_incidents() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut batch = WriteBatch::default();
        batch.put_incident(&incident(1, IncidentStatus::Routed, "zhkh"));
        batch.put_incident(&incident(2, IncidentStatus::Closed, "zhkh"));
        store.commit(batch).unwrap();
        let org = Org::embedded();
        let people = People::embedded(&org);
        let calendar = WorkCalendar::embedded();
        let settings = AlertSettings::default();
        // Thursday 26 November 2026, 08:00 in Moscow: too early.
        let early: DateTime<Utc> = "2026-11-26T05:00:00Z".parse().unwrap();
        assert_eq!(
            write_due(&store, &settings, &people, &calendar, early).unwrap(),
            0
        );
        let nine: DateTime<Utc> = "2026-11-26T06:00:00Z".parse().unwrap();
        assert!(write_due(&store, &settings, &people, &calendar, nine).unwrap() >= 2);
        let alerts: Vec<Alert> = store.alerts_after(0).map(Result::unwrap).collect();
        let to = |p: &str| alerts.iter().find(|a| a.persons == [p]).unwrap();
        for p in ["zhkh-executor", "zhkh-head"] {
            let a = to(p);
            assert_eq!(a.kind, AlertKind::Digest);
            assert_eq!(a.title, "Ежедневная сводка: 1 открытый инцидент");
            assert!(a.body.contains("№ 1 (направлено исполнителю): инцидент 1"));
            assert!(!a.body.contains("№ 2"));
        }
        // Once a day, restart or not.
        let later = nine + chrono::Duration::hours(3);
        assert_eq!(
            write_due(&store, &settings, &people, &calendar, later).unwrap(),
            0
        );
        assert_eq!(store.alerts_after(0).count(), alerts.len());
        // Off when daily_digest_at is empty.
        let off = AlertSettings {
            daily_digest_at: String::new(),
            ..AlertSettings::default()
        };
        let next_day = nine + chrono::Duration::days(1);
        assert_eq!(
            write_due(&store, &off, &people, &calendar, next_day).unwrap(),
            0
        );
    }
}
