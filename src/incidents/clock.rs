//! Clock arithmetic on working time, and the response clock of an incident.
//!
//! Every instant at the API is UTC; the office's time zone is applied inside.
//!
//! # What the spans mean
//! - **N working minutes or hours** from `from`: the *earliest* instant `t >= from` such that
//!   the working time in `[from, t)` is N. Counting starts at `from` if that is working time,
//!   otherwise at the next opening (after lunch, the next morning, after a holiday). Because it
//!   is the earliest such instant, a deadline may fall *exactly at a closing instant* (17:15,
//!   12:00 before lunch) — that is the only non-working instant a working-time deadline can be;
//!   `working_time_between(from, add(from, n)) == n` always holds. Adding zero returns `from`.
//! - **N working days** from `from`: the close of the Nth working day *after the local date of
//!   `from`* (the date of `from` itself never counts, like a term in days under Civil Code art.
//!   191, and the term runs to the end of its last day, art. 194). So an interim answer on
//!   Monday at 10:00 gives a final answer due on the following Wednesday week at closing time,
//!   whatever the hour on Monday; an interim answer on a Saturday counts from Monday. Zero
//!   working days means the close of the same date if it is a working day and `from` is before
//!   its close, otherwise the close of the next working day.
//! - **N calendar hours**: plain elapsed time, day or night, holidays included.
//!
//! A date whose year has no production calendar is an error ([`ClockError::MissingYear`]).

use super::calendar::WorkCalendar;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A failure of clock arithmetic.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ClockError {
    /// The computation reached a year with no production calendar loaded.
    #[error(
        "no production calendar for {year}: expected {expected} (years loaded: {loaded}); \
         add the file for {year} with its holidays, short days and transfers"
    )]
    MissingYear {
        year: i32,
        /// The file that should hold it.
        expected: String,
        /// The years that are loaded, comma-separated.
        loaded: String,
    },
    /// A time given as text could not be read.
    #[error(
        "cannot read the time `{input}`: expected RFC 3339 (2026-01-12T09:00:00+03:00) \
         or local time as YYYY-MM-DD HH:MM"
    )]
    BadTime { input: String },
    /// A response clock was paused twice, resumed while running, or told of a time before its
    /// last change.
    #[error("response clock: {0}")]
    BadClockChange(&'static str),
}

/// A length of time to add, in one of the units the policy and the CLI speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Span {
    WorkingMinutes(u32),
    WorkingHours(u32),
    WorkingDays(u32),
    CalendarHours(u32),
}

impl WorkCalendar {
    /// The earliest instant at which `amount` of working time has passed since `from`
    /// (see the module documentation). A non-positive amount gives `from`.
    pub fn add_working(
        &self,
        from: DateTime<Utc>,
        amount: TimeDelta,
    ) -> Result<DateTime<Utc>, ClockError> {
        if amount <= TimeDelta::zero() {
            return Ok(from);
        }
        let mut remaining = amount;
        let mut date = self.local_date(from);
        loop {
            for (start, end) in self.periods(date)? {
                if end <= from {
                    continue;
                }
                let start = start.max(from);
                let available = end - start;
                if available >= remaining {
                    return Ok(start + remaining);
                }
                remaining -= available;
            }
            date = next_date(date);
        }
    }

    /// `from` plus `n` working minutes.
    pub fn add_working_minutes(
        &self,
        from: DateTime<Utc>,
        n: u32,
    ) -> Result<DateTime<Utc>, ClockError> {
        self.add_working(from, TimeDelta::minutes(i64::from(n)))
    }

    /// `from` plus `n` working hours.
    pub fn add_working_hours(
        &self,
        from: DateTime<Utc>,
        n: u32,
    ) -> Result<DateTime<Utc>, ClockError> {
        self.add_working(from, TimeDelta::hours(i64::from(n)))
    }

    /// The close of the `n`th working day after the date of `from` (see the module docs).
    pub fn add_working_days(
        &self,
        from: DateTime<Utc>,
        n: u32,
    ) -> Result<DateTime<Utc>, ClockError> {
        let mut date = self.local_date(from);
        if n == 0
            && let Some(close) = self.close(date)?
            && from < close
        {
            return Ok(close);
        }
        let mut counted = 0;
        loop {
            date = next_date(date);
            if let Some(close) = self.close(date)? {
                counted += 1;
                if counted >= n {
                    return Ok(close);
                }
            }
        }
    }

    /// `from` plus `n` calendar hours; never fails, holidays do not matter.
    pub fn add_calendar_hours(&self, from: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        from + TimeDelta::hours(i64::from(n))
    }

    /// `from` plus a span in any unit.
    pub fn add(&self, from: DateTime<Utc>, span: Span) -> Result<DateTime<Utc>, ClockError> {
        match span {
            Span::WorkingMinutes(n) => self.add_working_minutes(from, n),
            Span::WorkingHours(n) => self.add_working_hours(from, n),
            Span::WorkingDays(n) => self.add_working_days(from, n),
            Span::CalendarHours(n) => Ok(self.add_calendar_hours(from, n)),
        }
    }

    /// Working time in `[from, to)`; zero if `to <= from`. This is what ratings call
    /// "first-response time in working hours".
    pub fn working_time_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<TimeDelta, ClockError> {
        let mut total = TimeDelta::zero();
        if to <= from {
            return Ok(total);
        }
        let last = self.local_date(to);
        let mut date = self.local_date(from);
        while date <= last {
            // A date that starts at or after `to` adds nothing; skipping it also spares needing
            // next year's calendar when `to` is midnight of 1 January.
            if self.to_utc(date.and_time(NaiveTime::MIN)) >= to {
                break;
            }
            for (start, end) in self.periods(date)? {
                let (start, end) = (start.max(from), end.min(to));
                if start < end {
                    total += end - start;
                }
            }
            date = next_date(date);
        }
        Ok(total)
    }

    /// The closing instant of a date, if it is a working day.
    fn close(&self, date: NaiveDate) -> Result<Option<DateTime<Utc>>, ClockError> {
        Ok(self.periods(date)?.last().map(|(_, end)| *end))
    }
}

fn next_date(date: NaiveDate) -> NaiveDate {
    date.succ_opt()
        .expect("dates before the end of chrono's range")
}

/// Which kind of time a deadline is counted in; a pause moves it by elapsed time of that kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    Working,
    Calendar,
}

/// The response clock of one incident stage: when the answer is due, and pauses while the
/// incident waits for another body.
///
/// A stage can have two limits at once — a working-time one and a calendar one (first response:
/// 8 working hours but never later than 24 calendar hours); the due time is the earlier. A pause
/// moves the working limit by the *working* time paused and the calendar limit by the *calendar*
/// time paused. Time paused after a limit had already passed does not move that limit: a missed
/// deadline stays missed. The value is plain data, stored on the incident (invariant 5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseClock {
    /// When the clock started.
    pub started: DateTime<Utc>,
    /// The working-time limit, moved by the pauses so far.
    pub working_due: Option<DateTime<Utc>>,
    /// The calendar-time limit, moved by the pauses so far.
    pub calendar_due: Option<DateTime<Utc>>,
    /// Set while paused: since when.
    pub paused_since: Option<DateTime<Utc>>,
    /// Working time spent paused in finished pauses.
    #[serde(with = "seconds")]
    pub paused_working: TimeDelta,
}

impl ResponseClock {
    /// A clock started at `started` with the given limits; at least one should be set.
    pub fn new(
        started: DateTime<Utc>,
        working_due: Option<DateTime<Utc>>,
        calendar_due: Option<DateTime<Utc>>,
    ) -> ResponseClock {
        ResponseClock {
            started,
            working_due,
            calendar_due,
            paused_since: None,
            paused_working: TimeDelta::zero(),
        }
    }

    /// A clock with one limit of the given basis.
    pub fn with_due(started: DateTime<Utc>, due: DateTime<Utc>, basis: Basis) -> ResponseClock {
        match basis {
            Basis::Working => ResponseClock::new(started, Some(due), None),
            Basis::Calendar => ResponseClock::new(started, None, Some(due)),
        }
    }

    /// When the answer is due; `None` while paused (a paused clock never fires).
    pub fn due(&self) -> Option<DateTime<Utc>> {
        if self.paused_since.is_some() {
            return None;
        }
        self.limit()
    }

    fn limit(&self) -> Option<DateTime<Utc>> {
        match (self.working_due, self.calendar_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused_since.is_some()
    }

    /// Whether the answer is late at `now` (a paused clock is not).
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.due().is_some_and(|due| now >= due)
    }

    /// Stops the clock at `at` ("waiting for another body").
    pub fn pause(&mut self, at: DateTime<Utc>) -> Result<(), ClockError> {
        if self.paused_since.is_some() {
            return Err(ClockError::BadClockChange("paused while already paused"));
        }
        if at < self.started {
            return Err(ClockError::BadClockChange("paused before it started"));
        }
        self.paused_since = Some(at);
        Ok(())
    }

    /// Restarts the clock at `at`, moving its limits by the time paused.
    pub fn resume(&mut self, at: DateTime<Utc>, cal: &WorkCalendar) -> Result<(), ClockError> {
        let Some(since) = self.paused_since else {
            return Err(ClockError::BadClockChange("resumed while running"));
        };
        if at < since {
            return Err(ClockError::BadClockChange("resumed before it was paused"));
        }
        let working = cal.working_time_between(since, at)?;
        if let Some(due) = self.working_due
            && since < due
        {
            self.working_due = Some(cal.add_working(due, working)?);
        }
        if let Some(due) = self.calendar_due
            && since < due
        {
            self.calendar_due = Some(due + (at - since));
        }
        self.paused_working += working;
        self.paused_since = None;
        Ok(())
    }
}

mod seconds {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &TimeDelta, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeDelta, D::Error> {
        Ok(TimeDelta::seconds(i64::deserialize(d)?))
    }
}

/// Reads a time as RFC 3339 (`2026-01-12T09:00:00+03:00`, `…Z`) or as local time of the
/// calendar's zone (`2026-01-12 09:00`, also with `T` or seconds).
pub fn parse_time(input: &str, cal: &WorkCalendar) -> Result<DateTime<Utc>, ClockError> {
    let s = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(cal.to_utc(local));
        }
    }
    Err(ClockError::BadTime {
        input: input.to_string(),
    })
}

/// Russian two-letter weekday, as on a Russian calendar.
fn weekday_ru(date: NaiveDate) -> &'static str {
    ["пн", "вт", "ср", "чт", "пт", "сб", "вс"][date.weekday().num_days_from_monday() as usize]
}

/// An instant in the office's local time for people: `2026-01-12 09:00 (пн), Europe/Moscow`
/// (seconds only when not zero).
pub fn format_local(t: DateTime<Utc>, cal: &WorkCalendar) -> String {
    let tz = cal.timezone();
    let local = t.with_timezone(&tz);
    let time = if local.second() == 0 && local.nanosecond() == 0 {
        local.format("%Y-%m-%d %H:%M").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M:%S").to_string()
    };
    format!("{time} ({}), {}", weekday_ru(local.date_naive()), tz.name())
}

/// The `otklik deadline` command: the due time of `span` counted from `from` (RFC 3339, or
/// `YYYY-MM-DD HH:MM` local time), printed in local time, e.g.
/// `2026-01-12 09:00 (пн), Europe/Moscow`.
pub fn deadline_report(from: &str, span: Span, cal: &WorkCalendar) -> Result<String, ClockError> {
    let start = parse_time(from, cal)?;
    let due = cal.add(start, span)?;
    Ok(format_local(due, cal))
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Span::WorkingMinutes(n) => write!(f, "{n} working minutes"),
            Span::WorkingHours(n) => write!(f, "{n} working hours"),
            Span::WorkingDays(n) => write!(f, "{n} working days"),
            Span::CalendarHours(n) => write!(f, "{n} calendar hours"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> WorkCalendar {
        WorkCalendar::embedded()
    }

    fn at(s: &str) -> DateTime<Utc> {
        parse_time(s, &cal()).unwrap()
    }

    #[test]
    fn parse_local_and_rfc3339_agree() {
        assert_eq!(at("2026-01-12 09:00"), at("2026-01-12T06:00:00Z"));
        assert_eq!(at("2026-01-12 09:00"), at("2026-01-12T09:00:00+03:00"));
        assert!(parse_time("12.01.2026 9:00", &cal()).is_err());
    }

    #[test]
    fn report_is_russian_local_time() {
        let r = deadline_report("2026-01-09 18:00", Span::WorkingHours(1), &cal()).unwrap();
        assert_eq!(r, "2026-01-12 09:00 (пн), Europe/Moscow");
        let r = deadline_report("2026-01-12T00:00:30Z", Span::CalendarHours(0), &cal()).unwrap();
        assert_eq!(r, "2026-01-12 03:00:30 (пн), Europe/Moscow");
    }

    #[test]
    fn pause_moves_working_due_by_working_time_only() {
        let c = cal();
        // Opened Monday 09:00, 8 working hours: 09:00-12:00 (3h) + 13:00-17:15 (4h15) = 7h15,
        // 45 min left → Tuesday 08:45.
        let mut clock = ResponseClock::with_due(
            at("2026-01-12 09:00"),
            c.add_working_hours(at("2026-01-12 09:00"), 8).unwrap(),
            Basis::Working,
        );
        assert_eq!(clock.due(), Some(at("2026-01-13 08:45")));
        // Paused Monday 16:15 to Tuesday 09:00: 1h on Monday + 1h on Tuesday = 2h working.
        clock.pause(at("2026-01-12 16:15")).unwrap();
        assert_eq!(clock.due(), None);
        assert!(clock.pause(at("2026-01-12 16:20")).is_err());
        clock.resume(at("2026-01-13 09:00"), &c).unwrap();
        assert_eq!(clock.paused_working, TimeDelta::hours(2));
        assert_eq!(clock.due(), Some(at("2026-01-13 10:45")));
        assert!(clock.resume(at("2026-01-13 09:00"), &c).is_err());
    }
}
