//! Analytics for the Head of the district (issue #8): the heat map of topic groups by
//! territory, the ratings of owners, the weekly analytical note and the export for the
//! regional centre.
//!
//! Every report is a pure function from the incidents (and the sources' health, the org
//! chart, the taxonomy, the calendar and the `[reports]` settings, gathered in a
//! [`ReportContext`]) to a plain data struct that serializes to JSON; renderers turn those
//! structs into pages (HTML, Markdown, DOCX, XLSX, CSV). Figures come from the milestones
//! kept on each incident, never from replaying timelines: a year of a region's queue is
//! half a million incidents.
//!
//! What counts: an incident belongs to a period by when its first post was published
//! (`opened`); incidents closed as «не инцидент» or merged as duplicates are left out of
//! every figure (they are not residents' problems, or are counted under the incident they
//! joined).

pub mod bench;
pub mod coverage;
pub mod doc;
pub mod export;
#[doc(hidden)]
pub mod golden;
pub mod heatmap;
pub mod http;
pub mod ooxml;
pub mod ratings;
pub mod schedule;
pub mod service;
pub mod weekly;

#[cfg(test)]
mod tests;

use crate::incidents::calendar::WorkCalendar;
use crate::org::{Org, Owner};
use crate::store::{Incident, Resolution, SourceHealth};
use crate::understand::Taxonomy;
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use serde::{Deserialize, Serialize};

pub use coverage::{CoverageSource, TerritoryCoverage};

/// The `[reports]` section of `otklik.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportSettings {
    /// Whether the daemon writes the weekly note into the outbox.
    pub weekly_enabled: bool,
    /// Day of the week the note is generated for the previous week (`monday` … `sunday`).
    pub weekly_day: String,
    /// Local time (`HH:MM`, office time zone) on that day after which the note is sent.
    pub weekly_time: String,
    /// Address of the web interface, prefixed to the links of every figure
    /// (`https://otklik.example.ru`); empty: links are relative (`/incidents/…`).
    pub public_url: String,
    /// The municipality as the regional centre's export names it.
    pub municipality: String,
    /// Whom the weekly note is addressed to, as its first line says.
    pub addressee: String,
    /// Weeks before the reported one that make a topic's or a territory's usual level.
    pub baseline_weeks: u32,
    /// Fewest incidents in a week for growth to be called significant.
    pub growth_min_count: u32,
    /// Growth is significant when the Poisson probability of so many incidents or more at
    /// the usual level is below this.
    pub growth_p_value: f64,
    /// Fewest incidents of an owner for a place in the rating (fewer: «недостаточно данных»).
    pub rating_min_incidents: u32,
    /// Weight of the average in the shrunk shares: the number of "average" incidents added
    /// to every owner's own (m in (k + m·p̄) / (n + m)).
    pub rating_prior_strength: f64,
    /// Incidents shown as examples of a problem in the weekly note.
    pub examples: usize,
}

impl Default for ReportSettings {
    fn default() -> ReportSettings {
        ReportSettings {
            weekly_enabled: true,
            weekly_day: "monday".into(),
            weekly_time: "08:30".into(),
            public_url: String::new(),
            municipality: "Гаврилов-Ямский муниципальный округ".into(),
            addressee: "Главе Гаврилов-Ямского муниципального округа".into(),
            baseline_weeks: 8,
            growth_min_count: 5,
            growth_p_value: 0.01,
            rating_min_incidents: 5,
            rating_prior_strength: 10.0,
            examples: 3,
        }
    }
}

impl ReportSettings {
    /// Checks the settings; `file` is where they came from, for the error message.
    pub fn validate(&self, file: &std::path::Path) -> Result<(), crate::config::ConfigError> {
        let err = |key: &str, problem: String| {
            Err(crate::config::ConfigError::new(
                file,
                format!("reports.{key}"),
                problem,
            ))
        };
        if self.weekday().is_none() {
            return err(
                "weekly_day",
                format!(
                    "expected a day such as `monday`, found `{}`",
                    self.weekly_day
                ),
            );
        }
        if self.time_of_day().is_none() {
            return err(
                "weekly_time",
                format!(
                    "expected a time such as \"08:30\", found `{}`",
                    self.weekly_time
                ),
            );
        }
        let url = &self.public_url;
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return err(
                "public_url",
                format!(
                    "expected an http(s) address or \"\", found `{}`",
                    self.public_url
                ),
            );
        }
        if !(1..=52).contains(&self.baseline_weeks) {
            return err(
                "baseline_weeks",
                format!("expected 1 to 52, found {}", self.baseline_weeks),
            );
        }
        if !(self.growth_p_value > 0.0 && self.growth_p_value < 0.5) {
            return err(
                "growth_p_value",
                format!(
                    "expected more than 0 and less than 0.5, found {}",
                    self.growth_p_value
                ),
            );
        }
        if !(self.rating_prior_strength.is_finite() && self.rating_prior_strength >= 0.0) {
            return err(
                "rating_prior_strength",
                format!("expected 0 or more, found {}", self.rating_prior_strength),
            );
        }
        if self.rating_min_incidents == 0 {
            return err("rating_min_incidents", "expected at least 1".into());
        }
        Ok(())
    }

    pub fn weekday(&self) -> Option<Weekday> {
        self.weekly_day.trim().to_lowercase().parse().ok()
    }

    pub fn time_of_day(&self) -> Option<NaiveTime> {
        NaiveTime::parse_from_str(self.weekly_time.trim(), "%H:%M").ok()
    }

    /// The link to one incident.
    pub fn incident_url(&self, id: u64) -> String {
        format!("{}/incidents/{id}", self.public_url.trim_end_matches('/'))
    }

    /// The link to the list of incidents behind a figure.
    pub fn list_url(&self, filter: &ListFilter<'_>) -> String {
        // An open end (the overdue list: everything up to now) is left out of the link.
        let mut query = Vec::new();
        if filter.period.from != DateTime::<Utc>::MIN_UTC {
            query.push(("from", crate::time::rfc3339(filter.period.from)));
        }
        if filter.period.to != DateTime::<Utc>::MAX_UTC {
            query.push(("to", crate::time::rfc3339(filter.period.to)));
        }
        if let Some(g) = filter.group {
            query.push(("group", g.to_string()));
        }
        if let Some(t) = filter.territory {
            query.push(("territory", t.to_string()));
        }
        if let Some(o) = filter.owner {
            query.push(("owner", o.to_string()));
        }
        if filter.overdue {
            query.push(("overdue", "true".into()));
        }
        if filter.resonant {
            query.push(("resonant", "true".into()));
        }
        let query = serde_urlencoded::to_string(&query).unwrap_or_default();
        format!(
            "{}/incidents?{query}",
            self.public_url.trim_end_matches('/')
        )
    }
}

/// What a list link selects.
#[derive(Clone, Copy, Debug, Default)]
pub struct ListFilter<'a> {
    pub period: Period,
    pub group: Option<&'a str>,
    pub territory: Option<&'a str>,
    pub owner: Option<&'a str>,
    pub overdue: bool,
    pub resonant: bool,
}

/// A half-open span of time `[from, to)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.to
    }

    pub fn length(&self) -> TimeDelta {
        self.to - self.from
    }

    /// The period of the same length just before this one.
    pub fn previous(&self) -> Period {
        Period {
            from: self.from - self.length(),
            to: self.from,
        }
    }

    /// The ISO week `week` of `year` in the calendar's time zone (Monday 00:00 to Monday).
    pub fn iso_week(year: i32, week: u32, calendar: &WorkCalendar) -> Option<Period> {
        let monday = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)?;
        Some(Period::local_days(monday, 7, calendar))
    }

    /// `days` local days from the midnight starting `first`.
    pub fn local_days(first: NaiveDate, days: i64, calendar: &WorkCalendar) -> Period {
        Period {
            from: calendar.local_midnight(first),
            to: calendar.local_midnight(first + TimeDelta::days(days)),
        }
    }

    /// The ISO week an instant falls in, as `2026-W47`.
    pub fn week_label(t: DateTime<Utc>, calendar: &WorkCalendar) -> String {
        let w = calendar.local_date(t).iso_week();
        format!("{}-W{:02}", w.year(), w.week())
    }

    /// A period for people: «16.11.2026 — 22.11.2026» (local dates, the last day inclusive).
    pub fn label_ru(&self, calendar: &WorkCalendar) -> String {
        let first = calendar.local_date(self.from);
        let last = calendar.local_date(self.to - TimeDelta::seconds(1));
        if first == last {
            return first.format("%d.%m.%Y").to_string();
        }
        format!("{} — {}", first.format("%d.%m.%Y"), last.format("%d.%m.%Y"))
    }
}

/// Reads `2026-W47` (ISO week).
pub fn parse_week(text: &str, calendar: &WorkCalendar) -> Result<Period, String> {
    let bad = || format!("expected an ISO week such as 2026-W47, found `{text}`");
    let (year, week) = text.trim().split_once(['W', 'w']).ok_or_else(bad)?;
    let year: i32 = year.trim_end_matches('-').parse().map_err(|_| bad())?;
    let week: u32 = week.parse().map_err(|_| bad())?;
    Period::iso_week(year, week, calendar).ok_or_else(bad)
}

/// Reads a date (`2026-11-16`, local midnight) or an RFC 3339 instant.
pub fn parse_instant(text: &str, calendar: &WorkCalendar) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(|d| calendar.local_midnight(d))
        .map_err(|_| {
            format!("expected a date such as 2026-11-16 or an RFC 3339 time, found `{text}`")
        })
}

impl WorkCalendar {
    /// The instant a local date begins.
    pub fn local_midnight(&self, date: NaiveDate) -> DateTime<Utc> {
        self.to_utc(date.and_time(NaiveTime::MIN))
    }
}

/// Everything a report reads besides the incidents.
#[derive(Clone, Copy)]
pub struct ReportContext<'a> {
    pub org: &'a Org,
    pub taxonomy: &'a Taxonomy,
    pub calendar: &'a WorkCalendar,
    pub settings: &'a ReportSettings,
    /// The configured sources with the territories they cover.
    pub sources: &'a [CoverageSource],
    /// The sources' health as the store has it.
    pub health: &'a [SourceHealth],
    /// When the report is computed: what "overdue" is judged against.
    pub now: DateTime<Utc>,
}

impl ReportContext<'_> {
    pub fn group_name(&self, id: &str) -> String {
        self.taxonomy
            .group(id)
            .map_or_else(|| id.to_string(), |g| g.name.clone())
    }

    pub fn territory_name(&self, id: &str) -> String {
        if id == UNKNOWN_TERRITORY {
            return "территория не определена".into();
        }
        self.org.territory_name(id)
    }

    pub fn owner_name(&self, owner: &Owner) -> String {
        self.org.owner_name(owner)
    }
}

/// The territory key of incidents that name none.
pub const UNKNOWN_TERRITORY: &str = "unknown";

/// Whether an incident is a resident's problem counted in the reports.
pub fn counts(incident: &Incident) -> bool {
    !matches!(
        incident.resolution,
        Some(Resolution::NotIncident | Resolution::Duplicate)
    )
}

/// Whether an incident missed a deadline: its first response or its answer on the merits
/// came late, or the running stage is past due at `now`.
pub fn missed_deadline(incident: &Incident, now: DateTime<Utc>) -> bool {
    incident.milestones.first_response_on_time == Some(false)
        || incident.milestones.answer_on_time == Some(false)
        || incident.is_overdue(now)
}

/// The territory key of an incident.
pub fn territory_key(incident: &Incident) -> &str {
    incident.territory.as_deref().unwrap_or(UNKNOWN_TERRITORY)
}

/// Owner as a stable key: `department:zhkh`, `territory:shopsha`.
pub fn owner_key(owner: &Owner) -> String {
    match owner {
        Owner::Department(id) => format!("department:{id}"),
        Owner::Territory(id) => format!("territory:{id}"),
    }
}

/// A time for people in the office's zone: `16.11.2026 09:05`.
pub fn local_time(t: DateTime<Utc>, calendar: &WorkCalendar) -> String {
    t.with_timezone(&calendar.timezone())
        .format("%d.%m.%Y %H:%M")
        .to_string()
}

/// A share as people read it: «83 %».
pub fn percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

/// Hours with one decimal, comma as in Russian: «3,5 ч».
pub fn hours_ru(hours: f64) -> String {
    format!("{:.1} ч", hours).replace('.', ",")
}

/// The median of a list (sorted in place); `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}
