//! The binary as a sysadmin meets it: configuration checks, exit codes, signals, locks.

mod common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn the_shipped_configuration_is_valid() {
    let out = run(&[
        "check-config",
        "--config",
        &repo_config().join("otklik.toml").to_string_lossy(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("конфигурация в порядке"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_missing_calendar_for_the_coming_year_is_warned_about_in_december() {
    let config = repo_config().join("otklik.toml");
    let check = |clock: &str| {
        let out = otklik()
            .args(["check-config", "--config"])
            .arg(&config)
            .env("OTKLIK_CLOCK", clock)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let november = check("2026-11-30T12:00:00Z");
    assert!(!november.contains("Внимание"), "{november}");
    let december = check("2026-12-06T12:00:00Z");
    assert!(
        december.contains("Внимание: не загружен производственный календарь на 2027 год")
            && december.contains("calendar-2027.toml")
            && december.contains("осталось дней: 26"),
        "{december}"
    );
}

#[test]
fn an_unknown_key_is_named_with_its_file_and_line_and_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "[poll]\nmin_interval_sec = 5\n");
    let out = run(&["check-config", "--config", &path.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("otklik.toml"), "{err}");
    assert!(err.contains("min_interval_sec"), "{err}");
    assert!(err.contains("line"), "{err}");
}

#[test]
fn a_source_pointing_at_an_unknown_territory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "[[sources.rss]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/rss\"\nterritory = \"atlantida\"\n",
    );
    let out = run(&["check-config", "--config", &path.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(78));
    let err = stderr(&out);
    assert!(
        err.contains("sources.rss[0].territory") && err.contains("atlantida"),
        "{err}"
    );
}

#[test]
fn an_environment_override_is_applied_and_a_bad_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "");
    let out = otklik()
        .args(["check-config", "--config"])
        .arg(&path)
        .env("OTKLIK__INDEX__WRITER_THREADS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(
        stderr(&out).contains("index.writer_threads"),
        "{}",
        stderr(&out)
    );
    let out = otklik()
        .args(["check-config", "--config"])
        .arg(&path)
        .env("OTKLIK__INDEX__WRITER_THREADS", "many")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(
        stderr(&out).contains("OTKLIK__INDEX__WRITER_THREADS"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_data_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otklik.toml");
    std::fs::write(&path, "[files]\norg = \"nowhere/org.toml\"\n").unwrap();
    let out = run(&["check-config", "--config", &path.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        stderr(&out).contains("nowhere/org.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_daemon_stops_cleanly_on_sigterm_and_holds_its_data_directory_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let log = dir.path().join("daemon.log");
    let mut daemon = spawn_daemon(&config, &log);
    wait_for(Duration::from_secs(20), "the daemon to be ready", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("otklik is running")
    });

    let data = dir.path().join("data");
    let out = run(&["reindex", "--data-dir", &data.to_string_lossy()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("in use by another otklik process"),
        "{}",
        stderr(&out)
    );

    let asked = Instant::now();
    send_signal(&daemon, "TERM");
    let status = daemon.wait().unwrap();
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(asked.elapsed() < Duration::from_secs(10));
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("stopped cleanly")
    );

    // With the daemon gone the store is free again.
    let out = run(&["reindex", "--data-dir", &data.to_string_lossy()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn search_without_an_index_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["search", "яма", "--data-dir", &dir.path().to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no search index"), "{}", stderr(&out));
}

#[test]
fn deadline_counts_working_hours_over_a_short_day_and_a_holiday() {
    // Tuesday 3 Nov 2026 is a pre-holiday day (closes 16:15 instead of 17:15) and 4 Nov is a
    // holiday: from 16:30 on the 3rd, the hour runs on Thursday 5 Nov from 08:00.
    let out = run(&[
        "deadline",
        "--from",
        "2026-11-03 16:30",
        "--working-hours",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("2026-11-05 09:00"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn deadline_into_a_year_without_a_calendar_is_a_clear_error() {
    // Eight working hours from 30 Dec 2026 16:00 run into 2027, whose calendar is not shipped.
    let out = run(&[
        "deadline",
        "--from",
        "2026-12-30 16:00",
        "--working-hours",
        "8",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("calendar-2027.toml"), "{err}");
}

#[test]
fn under_systemd_it_reports_ready_and_stopping_and_feeds_the_watchdog() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut daemon = otklik()
        .args(["run", "--config"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "400000")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 256];
    let mut next = |received: &mut Vec<String>| {
        let n = socket.recv(&mut buf).expect("a notification within 20 s");
        received.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    };
    next(&mut received);
    assert!(received[0].contains("READY=1"), "{received:?}");
    // The watchdog is fed at half its period.
    next(&mut received);
    next(&mut received);
    assert!(
        received[1..].iter().all(|m| m.contains("WATCHDOG=1")),
        "{received:?}"
    );
    send_signal(&daemon, "TERM");
    while !received.last().unwrap().contains("STOPPING=1") {
        next(&mut received);
    }
    assert!(daemon.wait().unwrap().success());
}
