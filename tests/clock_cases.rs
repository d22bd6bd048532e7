//! Hand-computed deadlines on the 2026 production calendar and the default office hours.
//!
//! Office hours (Europe/Moscow): Mon–Thu 08:00–12:00 and 13:00–17:15 (8 h 15 min),
//! Fri 08:00–12:00 and 13:00–16:00 (7 h); a short (pre-holiday) day closes an hour earlier.
//! 2026: holidays 1–2 and 5–9 Jan (with the weekends: no work 1–11 Jan), 23 Feb, 9 Mar, 1 May,
//! 11 May, 12 Jun, 4 Nov, 31 Dec; short days Thu 30 Apr, Fri 8 May, Thu 11 Jun, Tue 3 Nov.
//! Every expected value below was counted by hand from these facts.

use chrono::{DateTime, TimeDelta, Utc};
use otklik::incidents::calendar::WorkCalendar;
use otklik::incidents::clock::{
    Basis, ClockError, ResponseClock, Span, deadline_report, format_local, parse_time,
};
use otklik::incidents::deadlines::{DeadlineOverrides, DeadlinePolicy, DeadlineSettings};
use std::sync::Arc;

fn cal() -> WorkCalendar {
    WorkCalendar::embedded()
}

/// Local Moscow time `YYYY-MM-DD HH:MM`.
fn at(s: &str) -> DateTime<Utc> {
    parse_time(s, &cal()).unwrap()
}

use Span::{CalendarHours as Ch, WorkingDays as Wd, WorkingHours as Wh, WorkingMinutes as Wm};

/// (from, span, expected due, why)
#[rustfmt::skip]
const CASES: &[(&str, Span, &str, &str)] = &[
    // --- working minutes (routing: 60) ---
    ("2026-01-12 09:00", Wm(60), "2026-01-12 10:00", "plain Monday morning"),
    ("2026-01-12 11:30", Wm(60), "2026-01-12 13:30", "30 min before lunch, 30 after"),
    ("2026-01-12 12:20", Wm(60), "2026-01-12 14:00", "start inside lunch: counting begins at 13:00"),
    ("2026-01-12 06:00", Wm(60), "2026-01-12 09:00", "start before opening: counting begins at 08:00"),
    ("2026-01-12 18:00", Wm(60), "2026-01-13 09:00", "start after closing: next morning"),
    ("2026-01-15 16:45", Wm(60), "2026-01-16 08:30", "Thu: 30 min to 17:15, 30 min on Friday"),
    ("2026-01-16 15:30", Wm(60), "2026-01-19 08:30", "Fri closes at 16:00: 30 min, weekend, 30 min Monday"),
    ("2026-01-01 10:00", Wm(60), "2026-01-12 09:00", "New Year holiday: nothing counts until Mon 12 Jan"),
    ("2026-01-03 10:00", Wm(60), "2026-01-12 09:00", "Saturday inside the New Year break"),
    ("2026-01-12 16:15", Wm(60), "2026-01-12 17:15", "due exactly at closing, not next morning"),
    ("2026-01-12 11:00", Wm(60), "2026-01-12 12:00", "due exactly at the start of lunch"),
    ("2026-04-30 15:45", Wm(60), "2026-05-04 08:30", "short Thu closes 16:15 (30 min); 1 May holiday, weekend"),
    ("2026-04-30 16:30", Wm(60), "2026-05-04 09:00", "after a short day's early close nothing counts"),
    ("2026-05-08 14:30", Wm(60), "2026-05-12 08:30", "short Fri closes 15:00; weekend; 11 May holiday"),
    ("2026-11-03 16:00", Wm(60), "2026-11-05 08:45", "short Tue closes 16:15 (15 min); 4 Nov holiday"),
    ("2026-12-30 16:00", Wm(60), "2026-12-30 17:00", "last working day of 2026"),
    ("2026-02-23 09:00", Wm(60), "2026-02-24 09:00", "Defender of the Fatherland Day (Monday)"),
    // --- working hours (first response: 8) ---
    ("2026-01-12 09:00", Wh(8), "2026-01-13 08:45", "Mon gives 3h + 4h15 = 7h15, 45 min on Tuesday"),
    ("2026-01-12 08:00", Wh(8), "2026-01-12 17:00", "4h before lunch + 4h after, within the 8h15 day"),
    ("2026-01-16 10:00", Wh(8), "2026-01-19 11:00", "Fri 2h + 3h = 5h, Mon 08:00-11:00"),
    ("2026-01-05 10:00", Wh(8), "2026-01-12 17:00", "holiday Monday 5 Jan: counting starts Mon 12 Jan 08:00"),
    ("2026-01-09 18:00", Wh(1), "2026-01-12 09:00", "the example of the deadline command"),
    ("2026-12-29 14:00", Wh(8), "2026-12-30 13:45", "Tue 3h15, Wed 4h + 45 min after lunch"),
    ("2026-06-10 15:00", Wh(8), "2026-06-11 14:45", "Wed 2h15; short Thu 4h + 1h45 after lunch"),
    ("2026-06-11 14:00", Wh(8), "2026-06-15 14:45", "short Thu 2h15 to 16:15; 12 Jun holiday; weekend; Mon 4h + 1h45"),
    ("2026-02-20 15:00", Wh(8), "2026-02-24 16:00", "Fri 1h; weekend; 23 Feb holiday; Tue 4h + 3h"),
    ("2026-03-06 12:30", Wh(8), "2026-03-10 14:00", "inside Friday lunch: 3h; weekend; 9 Mar holiday; Tue 4h + 1h"),
    ("2026-11-03 08:00", Wh(8), "2026-11-05 08:45", "short Tue gives 7h15; 4 Nov holiday; 45 min Thu"),
    ("2026-04-30 07:00", Wh(16), "2026-05-05 08:30", "short Thu 7h15 + Mon 8h15 = 15h30; 30 min Tue"),
    ("2026-01-12 08:00", Wh(24), "2026-01-14 16:30", "Mon + Tue = 16h30; Wed 4h + 3h30"),
    ("2026-05-08 08:00", Wh(6), "2026-05-08 15:00", "a short Friday holds exactly 6 working hours"),
    // --- working days (final answer: 7): the close of the 7th working day after the date ---
    ("2026-01-12 10:00", Wd(7), "2026-01-21 17:15", "Tue 13 .. Fri 16 (4), Mon 19 .. Wed 21 (7)"),
    ("2026-01-12 20:00", Wd(7), "2026-01-21 17:15", "after closing: the date still does not count"),
    ("2026-01-12 06:00", Wd(7), "2026-01-21 17:15", "before opening: the date does not count either"),
    ("2026-01-16 15:00", Wd(7), "2026-01-27 17:15", "Fri: Mon 19 .. Fri 23 (5), Mon 26, Tue 27"),
    ("2026-01-10 12:00", Wd(7), "2026-01-20 17:15", "Saturday in the New Year break: Mon 12 is day 1"),
    ("2026-04-24 11:00", Wd(7), "2026-05-06 17:15", "27, 28, 29, 30 (short); 1 May holiday; 4, 5, 6 May"),
    ("2026-04-21 09:00", Wd(7), "2026-04-30 16:15", "7th day is the short 30 Apr: due at its early close"),
    ("2026-04-30 12:00", Wd(7), "2026-05-13 17:15", "4..8 May (5, 8th short); 11 May holiday; 12, 13"),
    ("2026-12-21 09:00", Wd(7), "2026-12-30 17:15", "22..25, 28, 29, 30 Dec; 31 Dec is a holiday"),
    ("2026-01-12 10:00", Wd(0), "2026-01-12 17:15", "zero days: the close of the same working day"),
    ("2026-01-12 18:00", Wd(0), "2026-01-13 17:15", "zero days after closing: the next working day"),
    ("2026-01-16 10:00", Wd(1), "2026-01-19 17:15", "one working day after a Friday is Monday"),
    ("2026-01-15 10:00", Wd(1), "2026-01-16 16:00", "a Friday closes at 16:00"),
    // --- calendar hours (urgent: 4), day or night, holidays included ---
    ("2026-01-10 23:30", Ch(4), "2026-01-11 03:30", "Saturday night"),
    ("2026-01-01 00:00", Ch(4), "2026-01-01 04:00", "New Year's night"),
    ("2026-12-31 22:00", Ch(4), "2027-01-01 02:00", "calendar hours need no production calendar"),
    ("2026-01-12 10:00", Ch(24), "2026-01-13 10:00", "the 24-hour cap"),
];

#[test]
fn hand_computed_deadlines() {
    let cal = cal();
    let mut failures = Vec::new();
    for (from, span, expected, why) in CASES {
        let got = cal.add(at(from), *span).map(|t| format_local(t, &cal));
        let want = format_local(at(expected), &cal);
        if got.as_ref() != Ok(&want) {
            failures.push(format!("{from} + {span}: got {got:?}, want {want} ({why})"));
        }
    }
    assert!(CASES.len() >= 40);
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn policy(settings: DeadlineSettings) -> DeadlinePolicy {
    DeadlinePolicy::new(settings, Arc::new(cal()))
}

#[test]
fn first_response_is_capped_at_24_calendar_hours() {
    let p = policy(DeadlineSettings::default());
    // Fri 15:00: 8 working hours would be Mon 16:00 (Fri 1h, Mon 4h + 3h), but the
    // 24-calendar-hour cap comes first: Saturday 15:00.
    assert_eq!(
        p.first_response_due(at("2026-01-16 15:00"), false, None),
        Ok(at("2026-01-17 15:00"))
    );
    // Mon 09:00: 8 working hours (Tue 08:45) come before the cap (Tue 09:00).
    assert_eq!(
        p.first_response_due(at("2026-01-12 09:00"), false, None),
        Ok(at("2026-01-13 08:45"))
    );
    // Without the cap the working-hours limit stands.
    let p = policy(DeadlineSettings {
        first_response_max_calendar_hours: 0,
        ..DeadlineSettings::default()
    });
    assert_eq!(
        p.first_response_due(at("2026-01-16 15:00"), false, None),
        Ok(at("2026-01-19 16:00"))
    );
}

#[test]
fn urgent_first_response_runs_day_and_night() {
    let p = policy(DeadlineSettings::default());
    assert_eq!(
        p.first_response_due(at("2026-01-12 02:00"), true, None),
        Ok(at("2026-01-12 06:00"))
    );
    // On a holiday night as well.
    assert_eq!(
        p.first_response_due(at("2026-01-07 23:00"), true, Some("zhkh")),
        Ok(at("2026-01-08 03:00"))
    );
}

#[test]
fn group_overrides_apply_to_their_group_only() {
    let mut settings = DeadlineSettings::default();
    settings.groups.insert(
        "zhkh".into(),
        DeadlineOverrides {
            first_response_working_hours: Some(4),
            final_answer_working_days: Some(3),
            ..Default::default()
        },
    );
    let p = policy(settings);
    // Mon 15:00 + 4 working hours: 2h15 on Monday, 1h45 on Tuesday.
    assert_eq!(
        p.first_response_due(at("2026-01-12 15:00"), false, Some("zhkh")),
        Ok(at("2026-01-13 09:45"))
    );
    assert_eq!(
        p.first_response_due(at("2026-01-12 15:00"), false, Some("dorogi")),
        Ok(at("2026-01-13 14:45"))
    );
    assert_eq!(
        p.final_answer_due(at("2026-01-12 10:00"), Some("zhkh")),
        Ok(at("2026-01-15 17:15"))
    );
    assert_eq!(
        p.final_answer_due(at("2026-01-12 10:00"), None),
        Ok(at("2026-01-21 17:15"))
    );
    assert_eq!(
        p.routing_due(at("2026-01-16 15:30"), Some("zhkh")),
        Ok(at("2026-01-19 08:30"))
    );
}

#[test]
fn pause_over_a_weekend_moves_due_by_working_time() {
    let c = cal();
    let mut clock = ResponseClock::with_due(
        at("2026-01-16 09:00"),
        at("2026-01-16 16:00"),
        Basis::Working,
    );
    // Paused Fri 15:00 .. Mon 09:00: 1h on Friday + 1h on Monday; Fri 16:00 + 2h = Mon 10:00.
    clock.pause(at("2026-01-16 15:00")).unwrap();
    assert!(!clock.is_overdue(at("2026-01-19 08:00")));
    clock.resume(at("2026-01-19 09:00"), &c).unwrap();
    assert_eq!(clock.due(), Some(at("2026-01-19 10:00")));
    assert_eq!(clock.paused_working, TimeDelta::hours(2));
    assert!(clock.is_overdue(at("2026-01-19 10:00")));
}

#[test]
fn pause_of_urgent_clock_moves_calendar_limit_by_calendar_time() {
    let c = cal();
    let p = policy(DeadlineSettings::default());
    let mut clock = p
        .first_response_clock(at("2026-01-12 02:00"), true, None)
        .unwrap();
    // Limits: working Mon 17:00 (8h from 08:00), calendar 06:00 (urgent) — the earlier wins.
    assert_eq!(clock.working_due, Some(at("2026-01-12 17:00")));
    assert_eq!(clock.due(), Some(at("2026-01-12 06:00")));
    // Paused 03:00 .. 05:00 at night: no working time passes, two calendar hours do.
    clock.pause(at("2026-01-12 03:00")).unwrap();
    clock.resume(at("2026-01-12 05:00"), &c).unwrap();
    assert_eq!(clock.working_due, Some(at("2026-01-12 17:00")));
    assert_eq!(clock.due(), Some(at("2026-01-12 08:00")));
}

#[test]
fn pause_after_the_deadline_does_not_rescue_it() {
    let c = cal();
    let mut clock = ResponseClock::with_due(
        at("2026-01-12 09:00"),
        at("2026-01-12 10:00"),
        Basis::Working,
    );
    clock.pause(at("2026-01-12 11:00")).unwrap();
    clock.resume(at("2026-01-12 14:30"), &c).unwrap();
    assert_eq!(clock.due(), Some(at("2026-01-12 10:00")));
    assert!(clock.is_overdue(at("2026-01-12 14:30")));
}

#[test]
fn clock_survives_a_store_round_trip() {
    let mut clock = ResponseClock::with_due(
        at("2026-01-12 09:00"),
        at("2026-01-12 10:00"),
        Basis::Working,
    );
    clock.pause(at("2026-01-12 09:30")).unwrap();
    clock.resume(at("2026-01-12 09:45"), &cal()).unwrap();
    clock.pause(at("2026-01-12 09:50")).unwrap();
    let json = serde_json::to_string(&clock).unwrap();
    let back: ResponseClock = serde_json::from_str(&json).unwrap();
    assert_eq!(back, clock);
}

#[test]
fn working_time_between_cases() {
    let c = cal();
    let between = |a: &str, b: &str| c.working_time_between(at(a), at(b)).unwrap();
    let hm = |h: i64, m: i64| TimeDelta::hours(h) + TimeDelta::minutes(m);
    assert_eq!(between("2026-01-12 08:00", "2026-01-12 17:15"), hm(8, 15));
    assert_eq!(between("2026-01-16 15:00", "2026-01-19 09:00"), hm(2, 0));
    assert_eq!(between("2026-01-01 00:00", "2026-01-12 08:00"), hm(0, 0));
    assert_eq!(between("2026-01-12 12:10", "2026-01-12 12:50"), hm(0, 0));
    assert_eq!(between("2026-01-12 10:00", "2026-01-12 09:00"), hm(0, 0));
    // A full week: 4 × 8h15 + 7h = 40h.
    assert_eq!(between("2026-01-12 00:00", "2026-01-19 00:00"), hm(40, 0));
    // Week of 27 Apr: Mon–Wed 3 × 8h15, short Thu 7h15, Fri 1 May holiday = 32h.
    assert_eq!(between("2026-04-27 00:00", "2026-05-04 00:00"), hm(32, 0));
}

#[test]
fn year_2026_totals() {
    let c = cal();
    let s = c.production().summary(2026).unwrap();
    // The file's figures are the official norm for a 40-hour week: 247 days of 8 hours,
    // less one hour on each of the 4 short days = 1972.
    assert_eq!(s.working_days, 247);
    assert_eq!(s.short_days, 4);
    assert_eq!(s.hours_40h, 1972);
    // The district's own schedule is also 40 hours a week but spread 8h15 × 4 + 7h, so over
    // 2026 it gives a little more: 48 Mondays, 51 Tuesdays, 50 Wednesdays and 50 Thursdays of
    // 8h15, 48 Fridays of 7h, less 4 short hours = 1973h45.
    let office = c
        .working_time_between(at("2026-01-01 00:00"), at("2027-01-01 00:00"))
        .unwrap();
    assert_eq!(office, TimeDelta::minutes(1973 * 60 + 45));
}

#[test]
fn missing_year_is_an_error_naming_year_and_file() {
    let c = cal();
    // Dec 30 16:00 + 8 working hours: 1h15 on Dec 30, 31 Dec is a holiday, then 2027.
    let err = c.add_working_hours(at("2026-12-30 16:00"), 8).unwrap_err();
    assert!(
        matches!(err, ClockError::MissingYear { year: 2027, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("calendar-2027.toml"), "{err}");
    let err = c.add_working_days(at("2026-12-22 10:00"), 7).unwrap_err();
    assert!(matches!(err, ClockError::MissingYear { year: 2027, .. }));
    let err = c
        .add_working_minutes(at("2025-12-31 10:00"), 1)
        .unwrap_err();
    assert!(matches!(err, ClockError::MissingYear { year: 2025, .. }));
    assert!(c.production().ensure_year(2026).is_ok());
    assert!(c.production().ensure_year(2027).is_err());
}

#[test]
fn deadline_report_prints_russian_local_time() {
    let c = cal();
    assert_eq!(
        deadline_report("2026-01-09 18:00", Span::WorkingHours(1), &c).unwrap(),
        "2026-01-12 09:00 (пн), Europe/Moscow"
    );
    assert_eq!(
        deadline_report("2026-04-29T12:00:00Z", Span::WorkingDays(1), &c).unwrap(),
        "2026-04-30 16:15 (чт), Europe/Moscow"
    );
    assert!(matches!(
        deadline_report("завтра", Span::WorkingHours(1), &c),
        Err(ClockError::BadTime { .. })
    ));
}
