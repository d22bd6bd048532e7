//! The working-time calendar: which local instants are working time.
//!
//! Two pieces of data make it:
//! - the production calendar ([`ProductionCalendar`]), one file per year (`calendar-YYYY.toml`):
//!   holidays, shortened pre-holiday days and weekend days made working by a transfer;
//! - the office's weekly hours ([`WorktimeSettings`], the `[worktime]` section of `otklik.toml`):
//!   opening and closing per weekday, lunch, how much shorter a pre-holiday day is, time zone.
//!
//! [`WorkCalendar`] joins them and answers "what are the working periods of this date"; the clock
//! arithmetic built on that lives in [`super::clock`].
//!
//! A year without a file is an error ([`ClockError::MissingYear`]) that names the year and the
//! file expected, never a silent weekends-only calendar: a wrong deadline is worse than none.

use super::clock::ClockError;
use crate::config::ConfigError;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// The 2026 calendar compiled into the binary, for tests and demonstrations.
const EMBEDDED_2026: &str = include_str!("../../config/calendar-2026.toml");

/// What the production calendar says about a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayKind {
    /// An ordinary working day.
    Working,
    /// A working day shortened because a holiday follows.
    Short,
    /// A weekend day or a holiday.
    NonWorking,
}

/// One `calendar-YYYY.toml` file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    year: i32,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    holidays: Vec<NaiveDate>,
    #[serde(default)]
    extra_workdays: Vec<NaiveDate>,
    #[serde(default)]
    short_days: Vec<NaiveDate>,
    #[serde(default)]
    working_days: Option<u32>,
    #[serde(default)]
    working_hours_40h: Option<u32>,
}

/// The validated contents of one year's file.
#[derive(Clone, Debug, Default)]
struct YearDays {
    /// The file it was read from.
    file: PathBuf,
    /// The file's `timezone`, if it names one.
    timezone: Option<Tz>,
    holidays: BTreeSet<NaiveDate>,
    extra_workdays: BTreeSet<NaiveDate>,
    short_days: BTreeSet<NaiveDate>,
}

/// Where the loaded years came from, so that a missing year can say which file was expected.
#[derive(Clone, Debug, PartialEq)]
pub enum CalendarOrigin {
    /// Every `calendar-*.toml` of a directory.
    Dir(PathBuf),
    /// An explicit list of files.
    Files(Vec<PathBuf>),
    /// Compiled into the binary ([`ProductionCalendar::embedded`]).
    Embedded,
}

impl CalendarOrigin {
    /// Where the file for `year` would have to be, in words for an operator.
    fn expected_file(&self, year: i32) -> String {
        let name = format!("calendar-{year}.toml");
        match self {
            CalendarOrigin::Dir(dir) => dir.join(name).display().to_string(),
            CalendarOrigin::Files(files) => match files.first().and_then(|f| f.parent()) {
                Some(dir) => format!(
                    "{} (or another file added to the calendar list)",
                    dir.join(name).display()
                ),
                None => name,
            },
            CalendarOrigin::Embedded => format!("config/{name} (the embedded calendar)"),
        }
    }
}

/// Russian production calendars, one per year: holidays, short days, transferred working days.
#[derive(Clone, Debug)]
pub struct ProductionCalendar {
    years: BTreeMap<i32, YearDays>,
    origin: CalendarOrigin,
}

impl ProductionCalendar {
    /// The calendar compiled into the binary (2026 only); for tests and demonstrations.
    pub fn embedded() -> ProductionCalendar {
        let days = parse_year(EMBEDDED_2026, Path::new("config/calendar-2026.toml"), None)
            .expect("the embedded calendar is valid");
        ProductionCalendar {
            years: BTreeMap::from([(days.0, days.1)]),
            origin: CalendarOrigin::Embedded,
        }
    }

    /// Loads every `calendar-*.toml` file of `dir`. The directory must hold at least one.
    pub fn load_dir(dir: &Path) -> Result<ProductionCalendar, ConfigError> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            ConfigError::new(dir, "calendar", format!("cannot read the directory: {e}"))
        })?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| {
                ConfigError::new(dir, "calendar", format!("cannot read the directory: {e}"))
            })?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("calendar-") && name.ends_with(".toml") {
                files.push(entry.path());
            }
        }
        if files.is_empty() {
            return Err(ConfigError::new(
                dir,
                "calendar",
                "no calendar-YYYY.toml file in the directory; \
                 one production calendar file per year is expected",
            ));
        }
        files.sort();
        let mut cal = ProductionCalendar::load_files(&files)?;
        cal.origin = CalendarOrigin::Dir(dir.to_path_buf());
        Ok(cal)
    }

    /// Loads the given files, one year each. The list must not be empty.
    pub fn load_files(files: &[PathBuf]) -> Result<ProductionCalendar, ConfigError> {
        if files.is_empty() {
            return Err(ConfigError::new(
                "otklik.toml",
                "calendar",
                "no production calendar file given; one file per year is expected",
            ));
        }
        let mut years = BTreeMap::new();
        for file in files {
            let text = std::fs::read_to_string(file)
                .map_err(|e| ConfigError::new(file, "", format!("cannot read the file: {e}")))?;
            let (year, days) = parse_year(&text, file, year_from_file_name(file))?;
            if years.insert(year, days).is_some() {
                return Err(ConfigError::new(
                    file,
                    "year",
                    format!("{year} is given by another calendar file as well"),
                ));
            }
        }
        Ok(ProductionCalendar {
            years,
            origin: CalendarOrigin::Files(files.to_vec()),
        })
    }

    /// The years loaded, in order.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// Where the calendar was loaded from.
    pub fn origin(&self) -> &CalendarOrigin {
        &self.origin
    }

    /// An error unless `year` is loaded; the daemon calls it at start for the current year.
    pub fn ensure_year(&self, year: i32) -> Result<(), ClockError> {
        self.year(year).map(|_| ())
    }

    fn year(&self, year: i32) -> Result<&YearDays, ClockError> {
        self.years
            .get(&year)
            .ok_or_else(|| ClockError::MissingYear {
                year,
                expected: self.origin.expected_file(year),
                loaded: self
                    .years
                    .keys()
                    .map(|y| y.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Totals of a loaded year, as the official calendar publishes them.
    pub fn summary(&self, year: i32) -> Result<YearSummary, ClockError> {
        Ok(summarize(year, self.year(year)?))
    }

    /// What the calendar says about `date`; an error if its year is not loaded.
    pub fn day_kind(&self, date: NaiveDate) -> Result<DayKind, ClockError> {
        let days = self.year(date.year())?;
        Ok(classify(days, date))
    }
}

/// Totals of one year of the production calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct YearSummary {
    /// Working days, short days included.
    pub working_days: u32,
    /// Shortened pre-holiday days.
    pub short_days: u32,
    /// The norm of working hours on a 40-hour week: 8 hours a working day, one hour less on a
    /// short day (Labour Code art. 91, 95). It does not depend on the office's own hours.
    pub hours_40h: u32,
}

fn summarize(year: i32, days: &YearDays) -> YearSummary {
    let working_days = year_dates(year)
        .filter(|d| classify(days, *d) != DayKind::NonWorking)
        .count() as u32;
    let short_days = days.short_days.len() as u32;
    YearSummary {
        working_days,
        short_days,
        hours_40h: 8 * working_days - short_days,
    }
}

fn classify(days: &YearDays, date: NaiveDate) -> DayKind {
    let weekend = date.weekday().num_days_from_monday() >= 5;
    let working = if weekend {
        days.extra_workdays.contains(&date)
    } else {
        !days.holidays.contains(&date)
    };
    if !working {
        DayKind::NonWorking
    } else if days.short_days.contains(&date) {
        DayKind::Short
    } else {
        DayKind::Working
    }
}

/// `calendar-2026.toml` → 2026.
fn year_from_file_name(file: &Path) -> Option<i32> {
    file.file_stem()?
        .to_str()?
        .strip_prefix("calendar-")?
        .parse()
        .ok()
}

fn is_weekend(date: NaiveDate) -> bool {
    date.weekday().num_days_from_monday() >= 5
}

/// Parses and checks one year's file. `name_year` is the year the file name promises.
fn parse_year(
    text: &str,
    file: &Path,
    name_year: Option<i32>,
) -> Result<(i32, YearDays), ConfigError> {
    let raw: CalendarFile = toml::from_str(text).map_err(|e| {
        let key = e
            .span()
            .map(|s| format!("line {}", text[..s.start].matches('\n').count() + 1))
            .unwrap_or_default();
        ConfigError::new(file, key, e.message().to_string())
    })?;
    let year = raw.year;
    if let Some(name_year) = name_year
        && name_year != year
    {
        return Err(ConfigError::new(
            file,
            "year",
            format!("the file name says {name_year} but the file says {year}"),
        ));
    }
    let timezone = match &raw.timezone {
        Some(tz) => Some(tz.parse::<Tz>().map_err(|_| {
            ConfigError::new(
                file,
                "timezone",
                format!("`{tz}` is not an IANA time zone name such as Europe/Moscow"),
            )
        })?),
        None => None,
    };
    let in_year = |key: &str, list: &[NaiveDate]| -> Result<BTreeSet<NaiveDate>, ConfigError> {
        let mut set = BTreeSet::new();
        for &d in list {
            if d.year() != year {
                return Err(ConfigError::new(file, key, format!("{d} is not in {year}")));
            }
            if !set.insert(d) {
                return Err(ConfigError::new(file, key, format!("{d} is listed twice")));
            }
        }
        Ok(set)
    };
    let days = YearDays {
        file: file.to_path_buf(),
        timezone,
        holidays: in_year("holidays", &raw.holidays)?,
        extra_workdays: in_year("extra_workdays", &raw.extra_workdays)?,
        short_days: in_year("short_days", &raw.short_days)?,
    };
    if let Some(d) = days.holidays.iter().find(|d| is_weekend(**d)) {
        return Err(ConfigError::new(
            file,
            "holidays",
            format!(
                "{d} is a {}; list only holidays that fall on Monday to Friday \
                 (weekends are non-working anyway)",
                d.weekday()
            ),
        ));
    }
    if let Some(d) = days.extra_workdays.iter().find(|d| !is_weekend(**d)) {
        return Err(ConfigError::new(
            file,
            "extra_workdays",
            format!(
                "{d} is a {}; only a Saturday or Sunday can be made a working day",
                d.weekday()
            ),
        ));
    }
    if let Some(d) = days
        .short_days
        .iter()
        .find(|d| classify(&days, **d) == DayKind::NonWorking)
    {
        return Err(ConfigError::new(
            file,
            "short_days",
            format!("{d} is not a working day, so it cannot be shortened"),
        ));
    }
    let YearSummary {
        working_days,
        short_days,
        hours_40h,
    } = summarize(year, &days);
    if let Some(expected) = raw.working_days
        && expected != working_days
    {
        return Err(ConfigError::new(
            file,
            "working_days",
            format!("the file says {expected} but its holidays and transfers give {working_days}"),
        ));
    }
    if let Some(expected) = raw.working_hours_40h
        && expected != hours_40h
    {
        return Err(ConfigError::new(
            file,
            "working_hours_40h",
            format!(
                "the file says {expected} but {working_days} working days of 8 hours less one \
                 hour for each of {short_days} short days give {hours_40h}"
            ),
        ));
    }
    Ok((year, days))
}

fn year_dates(year: i32) -> impl Iterator<Item = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(year, 1, 1).expect("valid year");
    first.iter_days().take_while(move |d| d.year() == year)
}

/// Office hours: the `[worktime]` section of `otklik.toml`.
///
/// A day's hours are written `"HH:MM-HH:MM"`; an empty string means the office is closed that
/// day. The production calendar decides whether a date is working at all; these settings say
/// which hours of a working date count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorktimeSettings {
    /// IANA time zone in which the hours and the calendar dates are read; a calendar file that
    /// names another zone is refused.
    pub timezone: String,
    /// Office hours on Monday, `"HH:MM-HH:MM"`, lunch included; `""` if closed.
    pub monday: String,
    /// Office hours on Tuesday.
    pub tuesday: String,
    /// Office hours on Wednesday.
    pub wednesday: String,
    /// Office hours on Thursday.
    pub thursday: String,
    /// Office hours on Friday.
    pub friday: String,
    /// Office hours on Saturday; only used if the office works Saturdays (normally `""`).
    pub saturday: String,
    /// Office hours on Sunday; only used if the office works Sundays (normally `""`).
    pub sunday: String,
    /// Office hours on a Saturday or Sunday that the production calendar makes a working day
    /// (`extra_workdays`) when the weekday setting above is empty.
    pub transferred_workday: String,
    /// Lunch break, `"HH:MM-HH:MM"`, not counted as working time; `""` for none.
    pub lunch: String,
    /// How many minutes earlier the office closes on a pre-holiday (short) day.
    pub short_day_minutes: u32,
}

impl Default for WorktimeSettings {
    fn default() -> WorktimeSettings {
        let long = "08:00-17:15".to_string();
        WorktimeSettings {
            timezone: "Europe/Moscow".to_string(),
            monday: long.clone(),
            tuesday: long.clone(),
            wednesday: long.clone(),
            thursday: long.clone(),
            friday: "08:00-16:00".to_string(),
            saturday: String::new(),
            sunday: String::new(),
            transferred_workday: long,
            lunch: "12:00-13:00".to_string(),
            short_day_minutes: 60,
        }
    }
}

/// An interval of local clock time within one day, `start < end`.
type Hours = (NaiveTime, NaiveTime);

fn parse_hours(file: &Path, key: &str, value: &str) -> Result<Option<Hours>, ConfigError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let bad = || {
        ConfigError::new(
            file,
            key,
            format!("`{value}` is not a time range like \"08:00-17:15\""),
        )
    };
    let (a, b) = value.split_once('-').ok_or_else(bad)?;
    let a = NaiveTime::parse_from_str(a.trim(), "%H:%M").map_err(|_| bad())?;
    let b = NaiveTime::parse_from_str(b.trim(), "%H:%M").map_err(|_| bad())?;
    if a >= b {
        return Err(ConfigError::new(
            file,
            key,
            format!("`{value}`: the start must be before the end"),
        ));
    }
    Ok(Some((a, b)))
}

impl WorktimeSettings {
    /// Checks the settings; `file` is where they came from, for the error message.
    pub fn validate(&self, file: &Path) -> Result<WorkHours, ConfigError> {
        let tz: Tz = self.timezone.parse().map_err(|_| {
            ConfigError::new(
                file,
                "worktime.timezone",
                format!(
                    "`{}` is not an IANA time zone name such as Europe/Moscow",
                    self.timezone
                ),
            )
        })?;
        let days = [
            ("monday", &self.monday),
            ("tuesday", &self.tuesday),
            ("wednesday", &self.wednesday),
            ("thursday", &self.thursday),
            ("friday", &self.friday),
            ("saturday", &self.saturday),
            ("sunday", &self.sunday),
        ];
        let mut week = [None; 7];
        for (i, (name, value)) in days.into_iter().enumerate() {
            week[i] = parse_hours(file, &format!("worktime.{name}"), value)?;
        }
        if week.iter().all(Option::is_none) {
            return Err(ConfigError::new(
                file,
                "worktime",
                "the office is closed every day of the week; at least one day needs hours",
            ));
        }
        Ok(WorkHours {
            tz,
            week,
            transferred: parse_hours(
                file,
                "worktime.transferred_workday",
                &self.transferred_workday,
            )?,
            lunch: parse_hours(file, "worktime.lunch", &self.lunch)?,
            short_by: TimeDelta::minutes(i64::from(self.short_day_minutes)),
        })
    }
}

/// Validated office hours (made by [`WorktimeSettings::validate`]).
#[derive(Clone, Debug, PartialEq)]
pub struct WorkHours {
    tz: Tz,
    /// Indexed by days from Monday.
    week: [Option<Hours>; 7],
    transferred: Option<Hours>,
    lunch: Option<Hours>,
    short_by: TimeDelta,
}

impl Default for WorkHours {
    fn default() -> WorkHours {
        WorktimeSettings::default()
            .validate(Path::new("defaults"))
            .expect("the default working hours are valid")
    }
}

impl WorkHours {
    /// The time zone the hours are read in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Local working periods of a date of the given kind, in order, without the lunch break.
    fn local_periods(&self, date: NaiveDate, kind: DayKind) -> Vec<Hours> {
        if kind == DayKind::NonWorking {
            return Vec::new();
        }
        let weekday = date.weekday().num_days_from_monday() as usize;
        let hours = match self.week[weekday] {
            Some(h) => Some(h),
            None if weekday >= 5 => self.transferred,
            None => None,
        };
        let Some((start, mut end)) = hours else {
            return Vec::new();
        };
        if kind == DayKind::Short {
            // A short day ends earlier; `overflowing_sub_signed` guards against wrapping past
            // midnight when the shortening is longer than the day.
            let (shortened, wrapped) = end.overflowing_sub_signed(self.short_by);
            if wrapped != 0 || shortened <= start {
                return Vec::new();
            }
            end = shortened;
        }
        match self.lunch {
            Some((ls, le)) if ls < end && le > start => [(start, ls), (le, end)]
                .into_iter()
                .filter(|(a, b)| a < b)
                .collect(),
            _ => vec![(start, end)],
        }
    }
}

/// A working period as UTC instants: `[start, end)`.
pub type Period = (DateTime<Utc>, DateTime<Utc>);

/// How many days before 1 January a missing calendar for the coming year is warned about.
pub const NEXT_YEAR_WARNING_DAYS: i64 = 31;

/// The coming year's production calendar is not loaded while the year ends soon: from
/// 1 January no deadline can be computed and the daemon refuses to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingNextYear {
    pub year: i32,
    /// Days from today (office time) to 1 January of `year`.
    pub days_left: i64,
    /// The file expected, as [`ClockError::MissingYear`] names it.
    pub expected: String,
}

impl MissingNextYear {
    /// What the administrator reads, in Russian.
    pub fn message_ru(&self) -> String {
        format!(
            "не загружен производственный календарь на {year} год (ожидается файл {file}). \
             До 1 января {year} года осталось дней: {days}. Без календаря с этой даты сроки \
             ответов не рассчитываются, а служба не запустится. Добавьте файл по \
             постановлению Правительства Российской Федерации о переносе выходных дней \
             в {year} году и проверьте его командой otklik check-config.",
            year = self.year,
            file = self.expected,
            days = self.days_left,
        )
    }
}

impl ProductionCalendar {
    /// The warning due on local date `today`: the next year is not loaded and begins within
    /// [`NEXT_YEAR_WARNING_DAYS`] days.
    pub fn missing_next_year(&self, today: NaiveDate) -> Option<MissingNextYear> {
        let year = today.year() + 1;
        let new_year = NaiveDate::from_ymd_opt(year, 1, 1)?;
        let days_left = (new_year - today).num_days();
        (days_left <= NEXT_YEAR_WARNING_DAYS && !self.years.contains_key(&year)).then(|| {
            MissingNextYear {
                year,
                days_left,
                expected: self.origin.expected_file(year),
            }
        })
    }
}

/// The production calendar and the office hours together: what is working time.
#[derive(Clone, Debug)]
pub struct WorkCalendar {
    production: ProductionCalendar,
    hours: WorkHours,
}

impl WorkCalendar {
    pub fn new(production: ProductionCalendar, hours: WorkHours) -> WorkCalendar {
        WorkCalendar { production, hours }
    }

    /// The embedded 2026 calendar with the default office hours; for tests and demonstrations.
    pub fn embedded() -> WorkCalendar {
        WorkCalendar::new(ProductionCalendar::embedded(), WorkHours::default())
    }

    /// Every `calendar-*.toml` of `dir` with the given office hours.
    pub fn load_dir(dir: &Path, hours: WorkHours) -> Result<WorkCalendar, ConfigError> {
        WorkCalendar::checked(ProductionCalendar::load_dir(dir)?, hours)
    }

    /// The given calendar files with the given office hours.
    pub fn load_files(files: &[PathBuf], hours: WorkHours) -> Result<WorkCalendar, ConfigError> {
        WorkCalendar::checked(ProductionCalendar::load_files(files)?, hours)
    }

    /// Joins the two, refusing a calendar file written for another time zone than the office's:
    /// its dates would then be read in the wrong zone.
    pub fn checked(
        production: ProductionCalendar,
        hours: WorkHours,
    ) -> Result<WorkCalendar, ConfigError> {
        for (year, days) in &production.years {
            if let Some(tz) = days.timezone
                && tz != hours.tz
            {
                return Err(ConfigError::new(
                    &days.file,
                    "timezone",
                    format!(
                        "the calendar for {year} is for {} but [worktime] timezone is {}",
                        tz.name(),
                        hours.tz.name()
                    ),
                ));
            }
        }
        Ok(WorkCalendar::new(production, hours))
    }

    pub fn production(&self) -> &ProductionCalendar {
        &self.production
    }

    pub fn hours(&self) -> &WorkHours {
        &self.hours
    }

    /// The time zone of the office.
    pub fn timezone(&self) -> Tz {
        self.hours.tz
    }

    /// The local date of an instant.
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.hours.tz).date_naive()
    }

    /// Working periods of a local date, in order; empty on a non-working date.
    pub fn periods(&self, date: NaiveDate) -> Result<Vec<Period>, ClockError> {
        let kind = self.production.day_kind(date)?;
        Ok(self
            .hours
            .local_periods(date, kind)
            .into_iter()
            .map(|(a, b)| (self.to_utc(date.and_time(a)), self.to_utc(date.and_time(b))))
            .filter(|(a, b)| a < b)
            .collect())
    }

    /// Whether `date` has any working time.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, ClockError> {
        Ok(!self.periods(date)?.is_empty())
    }

    /// Whether `t` is working time (`[start, end)` of a period: the closing instant is not).
    pub fn is_working_time(&self, t: DateTime<Utc>) -> Result<bool, ClockError> {
        Ok(self
            .periods(self.local_date(t))?
            .iter()
            .any(|(a, b)| *a <= t && t < *b))
    }

    /// A local clock reading as an instant. A reading skipped by a daylight-saving jump is taken
    /// an hour later; an ambiguous one is the earlier instant. (Europe/Moscow has neither.)
    pub(crate) fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let tz = self.hours.tz;
        tz.from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(local + TimeDelta::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&local))
    }
}

impl fmt::Display for DayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DayKind::Working => "working",
            DayKind::Short => "short",
            DayKind::NonWorking => "non-working",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn embedded_2026_day_kinds() {
        let cal = ProductionCalendar::embedded();
        assert_eq!(cal.day_kind(d("2026-01-01")).unwrap(), DayKind::NonWorking);
        assert_eq!(cal.day_kind(d("2026-01-12")).unwrap(), DayKind::Working);
        assert_eq!(cal.day_kind(d("2026-01-10")).unwrap(), DayKind::NonWorking);
        assert_eq!(cal.day_kind(d("2026-04-30")).unwrap(), DayKind::Short);
        assert_eq!(cal.day_kind(d("2026-12-31")).unwrap(), DayKind::NonWorking);
        assert_eq!(cal.day_kind(d("2026-12-30")).unwrap(), DayKind::Working);
    }

    #[test]
    fn missing_year_names_year_and_file() {
        let cal = ProductionCalendar::embedded();
        let err = cal.day_kind(d("2027-01-11")).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ClockError::MissingYear { year: 2027, .. }));
        assert!(text.contains("2027"), "{text}");
        assert!(text.contains("calendar-2027.toml"), "{text}");
    }

    #[test]
    fn default_hours_split_by_lunch() {
        let h = WorkHours::default();
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        assert_eq!(
            h.local_periods(d("2026-01-12"), DayKind::Working),
            vec![(t("08:00"), t("12:00")), (t("13:00"), t("17:15"))]
        );
        assert_eq!(
            h.local_periods(d("2026-01-16"), DayKind::Working),
            vec![(t("08:00"), t("12:00")), (t("13:00"), t("16:00"))]
        );
        assert_eq!(
            h.local_periods(d("2026-04-30"), DayKind::Short),
            vec![(t("08:00"), t("12:00")), (t("13:00"), t("16:15"))]
        );
    }

    #[test]
    fn bad_worktime_names_key() {
        let s = WorktimeSettings {
            friday: "16:00-08:00".into(),
            ..WorktimeSettings::default()
        };
        let err = s.validate(Path::new("otklik.toml")).unwrap_err();
        assert_eq!(err.key, "worktime.friday");
        let s = WorktimeSettings {
            timezone: "Mars/Olympus".into(),
            ..WorktimeSettings::default()
        };
        assert_eq!(
            s.validate(Path::new("otklik.toml")).unwrap_err().key,
            "worktime.timezone"
        );
    }

    #[test]
    fn wrong_counts_are_rejected() {
        let text = EMBEDDED_2026.replace("working_days = 247", "working_days = 248");
        let err = parse_year(&text, Path::new("calendar-2026.toml"), Some(2026)).unwrap_err();
        assert_eq!(err.key, "working_days");
        let text = EMBEDDED_2026.replace("\"2026-02-23\", ", "");
        let err = parse_year(&text, Path::new("calendar-2026.toml"), Some(2026)).unwrap_err();
        assert_eq!(err.key, "working_days");
        let err =
            parse_year(EMBEDDED_2026, Path::new("calendar-2027.toml"), Some(2027)).unwrap_err();
        assert_eq!(err.key, "year");
    }

    #[test]
    fn inconsistent_days_are_rejected() {
        let file = Path::new("calendar-2026.toml");
        let weekend_holiday = "year = 2026\nholidays = [\"2026-01-03\"]\n";
        assert_eq!(
            parse_year(weekend_holiday, file, None).unwrap_err().key,
            "holidays"
        );
        let weekday_extra = "year = 2026\nextra_workdays = [\"2026-01-12\"]\n";
        assert_eq!(
            parse_year(weekday_extra, file, None).unwrap_err().key,
            "extra_workdays"
        );
        let short_holiday =
            "year = 2026\nholidays = [\"2026-02-23\"]\nshort_days = [\"2026-02-23\"]\n";
        assert_eq!(
            parse_year(short_holiday, file, None).unwrap_err().key,
            "short_days"
        );
        let other_year = "year = 2026\nholidays = [\"2027-01-01\"]\n";
        assert_eq!(
            parse_year(other_year, file, None).unwrap_err().key,
            "holidays"
        );
    }

    #[test]
    fn extra_workday_uses_transferred_hours() {
        let file = Path::new("calendar-2026.toml");
        let (_, days) = parse_year(
            "year = 2026\nextra_workdays = [\"2026-03-07\"]\nshort_days = [\"2026-03-07\"]\n",
            file,
            None,
        )
        .unwrap();
        assert_eq!(classify(&days, d("2026-03-07")), DayKind::Short);
        let h = WorkHours::default();
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        assert_eq!(
            h.local_periods(d("2026-03-07"), DayKind::Short),
            vec![(t("08:00"), t("12:00")), (t("13:00"), t("16:15"))]
        );
    }

    #[test]
    fn a_missing_next_year_is_warned_about_in_its_last_month() {
        let cal = ProductionCalendar::embedded();
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        assert_eq!(cal.missing_next_year(day(11, 30)), None);
        let warning = cal
            .missing_next_year(day(12, 6))
            .expect("December without 2027");
        assert_eq!((warning.year, warning.days_left), (2027, 26));
        assert!(
            warning.expected.contains("calendar-2027.toml"),
            "{}",
            warning.expected
        );
        assert!(warning.message_ru().contains("на 2027 год"));
        assert_eq!(
            cal.missing_next_year(day(12, 31)).map(|w| w.days_left),
            Some(1)
        );
        // A loaded next year is no news.
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(dir.join("calendar-2026.toml"), EMBEDDED_2026).unwrap();
        // A test year of plain weekends (validation of real dates is tested elsewhere).
        let next = "year = 2027\ntimezone = \"Europe/Moscow\"\n";
        std::fs::write(dir.join("calendar-2027.toml"), next).unwrap();
        let both = ProductionCalendar::load_dir(dir).unwrap();
        assert_eq!(both.missing_next_year(day(12, 6)), None);
    }
}
