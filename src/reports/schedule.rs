//! The weekly note on schedule: every week, once `[reports] weekly_day` at `weekly_time`
//! (office time) has come, the note for the previous ISO week goes into the outbox as a
//! `weekly_note` alert for the roles `mcu-head` and `curator`. The last week sent is kept
//! in the store (`rw/weekly_note`), so a restart neither loses nor repeats a note; a daemon
//! that was stopped at the time sends it when it starts. On a store that has never sent one
//! (a new installation) the week whose time has come is marked done without a note: the
//! first note is about a week the service watched.

use super::service::Format;
use super::{Period, ReportContext, ReportSettings, coverage::CoverageSource, doc, weekly};
use crate::config::Loaded;
use crate::incidents::calendar::WorkCalendar;
use crate::store::{Alert, AlertKind, Store};
use chrono::{DateTime, Datelike, TimeDelta, Utc};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The store mark of the last week sent.
pub const MARK: &str = "weekly_note";

/// Roles the note is addressed to (org-chart.md: the note goes to the Head through the
/// curator; the head of the centre owns it).
pub const ROLES: [&str; 2] = ["mcu-head", "curator"];

/// How often the task looks at the clock.
const CHECK_EVERY: Duration = Duration::from_secs(60);

/// The week whose note is due at `now`, given the last week sent: the previous ISO week once
/// this week's sending time has come; before it, the week before last only if it was missed
/// (a fresh installation does not send old notes).
pub fn due_week(
    now: DateTime<Utc>,
    last_sent: Option<&str>,
    settings: &ReportSettings,
    calendar: &WorkCalendar,
) -> Option<(String, Period)> {
    let today = calendar.local_date(now);
    let monday = today - TimeDelta::days(i64::from(today.weekday().num_days_from_monday()));
    let send_day = monday + TimeDelta::days(i64::from(settings.weekday()?.num_days_from_monday()));
    let send_at = calendar.to_utc(send_day.and_time(settings.time_of_day()?));
    let week_start = if now >= send_at {
        monday - TimeDelta::days(7)
    } else {
        last_sent?;
        monday - TimeDelta::days(14)
    };
    let period = Period::local_days(week_start, 7, calendar);
    let label = Period::week_label(period.from, calendar);
    if last_sent.is_some_and(|last| last >= label.as_str()) {
        return None;
    }
    Some((label, period))
}

/// The alert carrying the note of `period`: the note in Markdown (readable as plain text)
/// and links to its printable and editable versions.
pub fn note_alert(
    loaded: &Loaded,
    store: &Store,
    label: &str,
    period: Period,
    now: DateTime<Utc>,
) -> anyhow::Result<Alert> {
    let incidents: Vec<crate::store::Incident> = store
        .incidents_without_fingerprints()
        .collect::<Result<_, _>>()?;
    let health = store.all_health()?;
    let sources = CoverageSource::from_settings(&loaded.settings);
    let settings = &loaded.settings.reports;
    let ctx = ReportContext {
        org: &loaded.org,
        taxonomy: &loaded.knowledge.taxonomy,
        calendar: &loaded.calendar,
        settings,
        sources: &sources,
        health: &health,
        now,
    };
    let repro = weekly::Reproducibility::new(
        &loaded.path.display().to_string(),
        super::service::config_digest(loaded),
        &format!("otklik run (weekly note on schedule, {label})"),
    );
    let note = weekly::compute(&incidents, period, &ctx, repro);
    let mut body = doc::to_markdown(&weekly::document(&note, &ctx));
    body.push_str("Версии для печати и правки:\n");
    for format in [Format::Html, Format::Docx] {
        body.push_str(&format!(
            "- {}/api/v1/reports/weekly?week={label}&format={}\n",
            settings.public_url.trim_end_matches('/'),
            format.extension()
        ));
    }
    Ok(Alert {
        id: 0,
        at: now,
        kind: AlertKind::WeeklyNote,
        incident: None,
        roles: ROLES.iter().map(|r| r.to_string()).collect(),
        persons: Vec::new(),
        urgent: false,
        title: format!(
            "Еженедельная аналитическая записка за {} ({label}): инцидентов {}, с истёкшим сроком {}",
            period.label_ru(&loaded.calendar),
            note.totals.incidents,
            note.totals.overdue_now
        ),
        body,
    })
}

/// Send the note if one is due at `now`; the alert id and week when one was sent.
/// Blocking (store reads over every incident): call from a blocking thread.
pub fn send_if_due(
    store: &Store,
    loaded: &Loaded,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<(u64, String)>> {
    let settings = &loaded.settings.reports;
    if !settings.weekly_enabled {
        return Ok(None);
    }
    let last = store.report_mark(MARK)?;
    if last.is_none() {
        // First start of the task on this store: no notes about weeks before it; the week
        // whose time has come counts as done, and the first note is the next one.
        if let Some((label, _)) = due_week(now, Some(""), settings, &loaded.calendar) {
            store.set_report_mark(MARK, &label)?;
            tracing::info!(
                after = label,
                "weekly notes start with the week after this one"
            );
        }
        return Ok(None);
    }
    let Some((label, period)) = due_week(now, last.as_deref(), settings, &loaded.calendar) else {
        return Ok(None);
    };
    let mut alert = note_alert(loaded, store, &label, period, now)?;
    // The note and the mark of its week in one write: after a crash it was either sent and
    // marked, or neither.
    let id = store.put_alert_with_mark(&mut alert, MARK, &label)?;
    Ok(Some((id, label)))
}

/// The daemon task: look every minute whether a note is due.
pub async fn run(
    store: Store,
    loaded: std::sync::Arc<Loaded>,
    clock: crate::time::Clock,
    stop: CancellationToken,
) {
    loop {
        let (s, l) = (store.clone(), loaded.clone());
        let now = clock.now();
        match tokio::task::spawn_blocking(move || send_if_due(&s, &l, now)).await {
            Ok(Ok(Some((alert, week)))) => {
                tracing::info!(alert, week, "weekly note written to the outbox")
            }
            Ok(Ok(None)) => {}
            Ok(Err(error)) => tracing::error!(error = %format!("{error:#}"), "weekly note failed"),
            Err(error) => tracing::error!(%error, "weekly note task panicked"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msk(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        chrono_tz::Europe::Moscow
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_note_for_the_previous_week_is_due_from_monday_morning_once() {
        let cal = WorkCalendar::embedded();
        let s = ReportSettings::default();
        // Monday 23.11.2026 08:29: not yet (and a fresh installation sends nothing old).
        assert_eq!(due_week(msk(2026, 11, 23, 8, 29), None, &s, &cal), None);
        let (label, period) = due_week(msk(2026, 11, 23, 8, 30), None, &s, &cal).unwrap();
        assert_eq!(label, "2026-W47");
        assert_eq!(period.from, msk(2026, 11, 16, 0, 0));
        // Sent: not again that week, whatever the day.
        assert_eq!(
            due_week(msk(2026, 11, 27, 12, 0), Some("2026-W47"), &s, &cal),
            None
        );
        // Stopped over Monday of the next week and started on Sunday: the missed one goes.
        let missed = due_week(msk(2026, 12, 6, 12, 0), Some("2026-W47"), &s, &cal).unwrap();
        assert_eq!(missed.0, "2026-W48");
        // Another day and time.
        let s = ReportSettings {
            weekly_day: "friday".into(),
            weekly_time: "16:00".into(),
            ..ReportSettings::default()
        };
        assert_eq!(due_week(msk(2026, 11, 23, 9, 0), None, &s, &cal), None);
        assert_eq!(
            due_week(msk(2026, 11, 27, 16, 0), None, &s, &cal)
                .unwrap()
                .0,
            "2026-W47"
        );
    }

    #[test]
    fn the_note_goes_into_the_outbox_once_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut loaded = Loaded::embedded(dir.path().to_path_buf());
        loaded.path = dir.path().join("absent.toml");
        loaded.settings.reports.weekly_enabled = true;
        let now = super::super::golden::now();
        {
            let store = Store::open(&dir.path().join("store")).unwrap();
            let mut batch = crate::store::WriteBatch::default();
            for i in super::super::golden::dataset() {
                batch.put_incident(&i);
            }
            store.commit(batch).unwrap();
            // A new installation sends nothing about the past: it marks W47 done.
            assert_eq!(send_if_due(&store, &loaded, now).unwrap(), None);
            assert_eq!(
                store.report_mark(MARK).unwrap().as_deref(),
                Some("2026-W47")
            );
            assert_eq!(store.alerts_after(0).count(), 0);
            // As if the note for W46 had been the last one sent.
            store.set_report_mark(MARK, "2026-W46").unwrap();
            let (id, week) = send_if_due(&store, &loaded, now).unwrap().unwrap();
            assert_eq!(week, "2026-W47");
            let alert = store.alert(id).unwrap().unwrap();
            assert_eq!(alert.kind, AlertKind::WeeklyNote);
            assert_eq!(alert.roles, ["mcu-head", "curator"]);
            assert!(alert.title.contains("инцидентов 18"), "{}", alert.title);
            assert!(alert.body.contains("## 3. Значимый рост обращений"));
            assert!(
                alert
                    .body
                    .contains("/api/v1/reports/weekly?week=2026-W47&format=docx")
            );
        }
        // Reopened, as after a restart: nothing more to send that week.
        let store = Store::open(&dir.path().join("store")).unwrap();
        let later = now + TimeDelta::hours(30);
        assert_eq!(send_if_due(&store, &loaded, later).unwrap(), None);
        assert_eq!(store.alerts_after(0).count(), 1);
        // The id counter moved past it: the pipeline's next alert takes the next slot.
        let mut batch = crate::store::WriteBatch::default();
        assert_eq!(store.reserve_alert_id(&mut batch, &mut None).unwrap(), 2);
    }
}
