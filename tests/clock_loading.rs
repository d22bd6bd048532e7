//! Loading production calendars and office hours from files.

use chrono::{DateTime, Utc};
use otklik::incidents::calendar::{ProductionCalendar, WorkCalendar, WorkHours, WorktimeSettings};
use otklik::incidents::clock::{ClockError, parse_time};
use otklik::incidents::deadlines::DeadlineSettings;
use std::path::{Path, PathBuf};

const FILE_2026: &str = include_str!("../config/calendar-2026.toml");

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn shipped_2026_file_loads_from_the_config_directory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let cal = ProductionCalendar::load_dir(&dir).unwrap();
    assert!(cal.years().any(|y| y == 2026));
    assert_eq!(cal.summary(2026).unwrap().working_days, 247);
}

#[test]
fn missing_year_error_names_the_directory_file() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "calendar-2026.toml", FILE_2026);
    write(tmp.path(), "notes.txt", "not a calendar");
    let cal = WorkCalendar::load_dir(tmp.path(), WorkHours::default()).unwrap();
    let from: DateTime<Utc> = parse_time("2026-12-30 16:00", &cal).unwrap();
    let err = cal.add_working_hours(from, 8).unwrap_err();
    let ClockError::MissingYear {
        year,
        expected,
        loaded,
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(*year, 2027);
    assert_eq!(
        Path::new(expected),
        tmp.path().join("calendar-2027.toml").as_path()
    );
    assert_eq!(loaded, "2026");
}

#[test]
fn two_years_from_a_file_list() {
    let tmp = tempfile::tempdir().unwrap();
    let a = write(tmp.path(), "calendar-2026.toml", FILE_2026);
    // A made-up year with no holidays at all, only to prove the loader joins files; it is
    // written to a temporary directory and never shipped.
    let b = write(tmp.path(), "calendar-2031.toml", "year = 2031\n");
    let cal = ProductionCalendar::load_files(&[a, b]).unwrap();
    assert_eq!(cal.years().collect::<Vec<_>>(), vec![2026, 2031]);
    assert_eq!(cal.summary(2031).unwrap().working_days, 261);
}

#[test]
fn empty_directory_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = ProductionCalendar::load_dir(tmp.path()).unwrap_err();
    assert_eq!(err.file, tmp.path());
    assert!(err.problem.contains("calendar-YYYY.toml"), "{err}");
    let err = ProductionCalendar::load_dir(&tmp.path().join("absent")).unwrap_err();
    assert!(err.problem.contains("cannot read"), "{err}");
}

#[test]
fn bad_file_errors_name_file_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let bad_count = write(
        tmp.path(),
        "calendar-2026.toml",
        &FILE_2026.replace("working_hours_40h = 1972", "working_hours_40h = 1976"),
    );
    let err = ProductionCalendar::load_files(std::slice::from_ref(&bad_count)).unwrap_err();
    assert_eq!(err.file, bad_count);
    assert_eq!(err.key, "working_hours_40h");

    let typo = write(
        tmp.path(),
        "calendar-2026.toml",
        "year = 2026\nholiday = []\n",
    );
    let err = ProductionCalendar::load_files(std::slice::from_ref(&typo)).unwrap_err();
    assert!(err.problem.contains("holiday"), "{err}");

    let dup = write(tmp.path(), "calendar-x.toml", FILE_2026);
    let good = write(tmp.path(), "calendar-2026.toml", FILE_2026);
    let err = ProductionCalendar::load_files(&[good, dup.clone()]).unwrap_err();
    assert_eq!(err.file, dup);
    assert_eq!(err.key, "year");
}

/// The `[worktime]` and `[deadlines]` sections as the configuration will embed them.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Sections {
    #[serde(default)]
    worktime: WorktimeSettings,
    #[serde(default)]
    deadlines: DeadlineSettings,
}

#[test]
fn settings_sections_read_from_toml() {
    let s: Sections = toml::from_str(
        r#"
        [worktime]
        friday = "08:00-15:45"
        lunch = "12:30-13:00"

        [deadlines]
        urgent_calendar_hours = 2

        [deadlines.groups.zhkh]
        first_response_working_hours = 4
        "#,
    )
    .unwrap();
    assert_eq!(s.worktime.monday, "08:00-17:15");
    assert_eq!(s.worktime.friday, "08:00-15:45");
    assert!(s.worktime.validate(Path::new("otklik.toml")).is_ok());
    assert_eq!(s.deadlines.urgent_calendar_hours, 2);
    assert_eq!(s.deadlines.final_answer_working_days, 7);
    assert_eq!(
        s.deadlines
            .for_group(Some("zhkh"))
            .first_response_working_hours,
        4
    );
    assert_eq!(s.deadlines.group_ids().collect::<Vec<_>>(), vec!["zhkh"]);

    let empty: Sections = toml::from_str("").unwrap();
    assert_eq!(empty.worktime, WorktimeSettings::default());
    assert_eq!(empty.deadlines, DeadlineSettings::default());

    assert!(toml::from_str::<Sections>("[worktime]\nsaturdy = \"\"\n").is_err());
}

#[test]
fn calendar_for_another_time_zone_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "calendar-2026.toml", FILE_2026);
    let hours = WorktimeSettings {
        timezone: "Asia/Yekaterinburg".into(),
        ..WorktimeSettings::default()
    }
    .validate(Path::new("otklik.toml"))
    .unwrap();
    let err = WorkCalendar::load_dir(tmp.path(), hours).unwrap_err();
    assert_eq!(err.file, tmp.path().join("calendar-2026.toml"));
    assert_eq!(err.key, "timezone");
}

#[test]
fn syntax_error_names_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "calendar-2026.toml",
        "year = 2026\nholidays = [\"2026-13-01\"]\n",
    );
    let err = ProductionCalendar::load_files(std::slice::from_ref(&file)).unwrap_err();
    assert_eq!(err.key, "line 2", "{err}");
}
