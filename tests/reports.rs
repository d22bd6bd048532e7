//! The reports through the real binary: from a stopped daemon's data directory, from the
//! running daemon, and the DOCX and XLSX opened by LibreOffice.

mod common;

use common::*;
use otklik::store::{Store, WriteBatch};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const NOW: &str = "2026-11-23T06:00:00Z";

/// A configuration in `dir` whose store holds the golden dataset.
fn golden_data_dir(dir: &Path, listen: &str) -> PathBuf {
    let text = config_text(&dir.join("data"), "").replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"{listen}\""),
    );
    let config = dir.join("otklik.toml");
    std::fs::write(&config, text).unwrap();
    let store = Store::open(&dir.join("data").join("store")).unwrap();
    let mut batch = WriteBatch::default();
    for incident in otklik::reports::golden::dataset() {
        batch.put_incident(&incident);
    }
    store.commit(batch).unwrap();
    for h in otklik::reports::golden::health() {
        store.save_health(&h).unwrap();
    }
    store.flush().unwrap();
    config
}

fn report(config: &Path, args: &[&str]) -> Vec<u8> {
    let out = otklik()
        .arg("report")
        .args(args)
        .arg("--config")
        .arg(config)
        .args(["--now", NOW])
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    out.stdout
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn every_report_and_format_from_a_stopped_daemons_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = golden_data_dir(dir.path(), "");
    let week = ["--week", "2026-W47"];

    let map = json(&report(
        &config,
        &["heatmap", week[0], week[1], "--format", "json"],
    ));
    assert_eq!(map["total"], 18);
    assert_eq!(map["previous_total"], 4);
    let csv = String::from_utf8(report(
        &config,
        &["heatmap", "--week", "2026-W47", "--format", "csv"],
    ))
    .unwrap();
    assert!(
        csv.contains(
            "dorogi,Дороги,gavrilov-yam,городское поселение Гаврилов-Ям,9,2,22.2,3,6,200.0"
        )
    );
    let html = String::from_utf8(report(&config, &["heatmap", "--week", "2026-W47"])).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));

    let ratings = json(&report(
        &config,
        &[
            "ratings",
            "--from",
            "2026-11-16",
            "--to",
            "2026-11-22",
            "--format",
            "json",
        ],
    ));
    assert_eq!(ratings["rows"][0]["owner"], "territory:velikoe");
    assert_eq!(ratings["rows"][1]["median_first_response_hours"], 5.5);
    let by_territory = json(&report(
        &config,
        &[
            "ratings",
            "--week",
            "2026-W47",
            "--by",
            "territory",
            "--format",
            "json",
        ],
    ));
    assert_eq!(by_territory["by"], "territory");
    assert_eq!(by_territory["rows"].as_array().unwrap().len(), 3);

    let note = json(&report(
        &config,
        &["weekly", "--week", "2026-W47", "--format", "json"],
    ));
    assert_eq!(note["totals"]["incidents"], 18);
    assert_eq!(note["growth"][0]["id"], "gavrilov-yam");
    assert!(
        note["reproducibility"]["config_sha256"]
            .as_str()
            .is_some_and(|h| h.len() == 64)
    );
    let md = String::from_utf8(report(
        &config,
        &["weekly", "--week", "2026-W47", "--format", "md"],
    ))
    .unwrap();
    assert!(
        md.starts_with("# Еженедельная аналитическая записка: 16.11.2026 — 22.11.2026 (2026-W47)")
    );

    let export = String::from_utf8(report(
        &config,
        &["export", "--from", "2026-09-01", "--to", "2026-11-30"],
    ))
    .unwrap();
    // Header and one line per incident (numbers 1 to 47).
    assert_eq!(export.lines().count(), 1 + 47);

    // --output writes the file instead of standard output.
    let out = dir.path().join("note.docx");
    let printed = report(
        &config,
        &[
            "weekly",
            "--week",
            "2026-W47",
            "--format",
            "docx",
            "--output",
            &out.to_string_lossy(),
        ],
    );
    assert!(printed.is_empty());
    assert_eq!(&std::fs::read(&out).unwrap()[..2], b"PK");

    // A format the report does not come in is refused with the list of those it does.
    let refused = otklik()
        .args(["report", "heatmap", "--format", "docx", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("html, json, csv"),
        "{}",
        stderr(&refused)
    );
}

/// `soffice`, or a clear failure: `scripts/test` installs it.
fn soffice() -> &'static str {
    for candidate in ["soffice", "libreoffice"] {
        if Command::new(candidate).arg("--version").output().is_ok() {
            return candidate;
        }
    }
    panic!(
        "LibreOffice is needed to check the DOCX and XLSX reports: install libreoffice-writer-nogui and libreoffice-calc-nogui (scripts/test does)"
    );
}

/// Convert `file` to `to` (pdf, png …; `csv` is written in UTF-8) with LibreOffice; the
/// converted file.
fn convert(file: &Path, to: &str) -> PathBuf {
    let filter = match to {
        // Field separator, text delimiter, character set 76 = UTF-8.
        "csv" => "csv:Text - txt - csv (StarCalc):44,34,76",
        other => other,
    };
    let dir = file.parent().unwrap();
    let profile = dir.join("lo-profile");
    let out = Command::new(soffice())
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args(["--headless", "--convert-to", filter, "--outdir"])
        .arg(dir)
        .arg(file)
        .output()
        .unwrap();
    let converted = file.with_extension(to);
    assert!(
        converted.exists(),
        "LibreOffice did not convert {}: {}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    converted
}

#[test]
fn the_docx_note_and_the_xlsx_export_open_in_libreoffice() {
    let dir = tempfile::tempdir().unwrap();
    let config = golden_data_dir(dir.path(), "");
    let docx = dir.path().join("note.docx");
    report(
        &config,
        &[
            "weekly",
            "--week",
            "2026-W47",
            "--format",
            "docx",
            "--output",
            &docx.to_string_lossy(),
        ],
    );
    let xlsx = dir.path().join("export.xlsx");
    report(
        &config,
        &[
            "export",
            "--from",
            "2026-09-01",
            "--to",
            "2026-11-30",
            "--format",
            "xlsx",
            "--output",
            &xlsx.to_string_lossy(),
        ],
    );

    let pdf = convert(&docx, "pdf");
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"), "not a PDF");
    assert!(
        bytes.len() > 10_000,
        "a near-empty PDF: {} bytes",
        bytes.len()
    );

    // The spreadsheet read back by LibreOffice as CSV holds every row and the ИМ header.
    let csv = convert(&xlsx, "csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with("Номер,Дата создания,Дата закрытия,Группа тем,Тема,Муниципалитет"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1 + 47);
    // Times are dates in the sheet, shown as the ИМ export writes them.
    assert!(text.contains("\n1,21.09.2026 10:05,"), "{text}");
    let pdf = convert(&xlsx, "pdf");
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));
}

#[test]
fn while_the_daemon_runs_the_report_comes_from_its_api() {
    let dir = tempfile::tempdir().unwrap();
    let config = golden_data_dir(dir.path(), "127.0.0.1:0");
    let log = dir.path().join("daemon.log");
    let mut daemon = spawn_daemon(&config, &log);
    let control = dir.path().join("data").join("daemon.json");
    wait_for(Duration::from_secs(30), "the daemon's control file", || {
        control.exists()
    });
    let out = otklik()
        .args([
            "report", "heatmap", "--week", "2026-W47", "--format", "json", "--now", NOW, "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    // Without the control token the endpoint refuses: the reports quote residents.
    let url: serde_json::Value = serde_json::from_slice(&std::fs::read(&control).unwrap()).unwrap();
    let addr = url["url"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .to_string();
    let anonymous = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET /api/v1/reports/heatmap HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        reply
    };
    send_signal(&daemon, "TERM");
    daemon.wait().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let map = json(&out.stdout);
    assert_eq!(map["total"], 18);
    assert_eq!(map["cells"].as_array().unwrap().len(), 5);
    assert!(anonymous.starts_with("HTTP/1.1 401"), "{anonymous}");
}

#[test]
fn the_daemon_sends_the_weekly_note_once_even_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = golden_data_dir(dir.path(), "127.0.0.1:0");
    // The note for W46 went last week.
    Store::open(&dir.path().join("data").join("store"))
        .unwrap()
        .set_report_mark("weekly_note", "2026-W46")
        .unwrap();
    // Monday 23.11.2026 09:00 in Moscow: past the default 08:30, the note for W47 is due.
    let start = |log: &Path| {
        let log_file = std::fs::File::create(log).unwrap();
        otklik()
            .args(["run", "--config"])
            .arg(&config)
            .env("OTKLIK_CLOCK", NOW)
            .stdout(std::process::Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap()
    };
    let log = dir.path().join("first.log");
    let mut daemon = start(&log);
    wait_for(Duration::from_secs(30), "the weekly note", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("weekly note written to the outbox")
    });
    send_signal(&daemon, "TERM");
    assert!(daemon.wait().unwrap().success());

    let log = dir.path().join("second.log");
    let mut daemon = start(&log);
    wait_for(Duration::from_secs(30), "the daemon to run", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("otklik is running")
    });
    // The task looks at once on start; give it the time it needs to write (it would log).
    std::thread::sleep(Duration::from_secs(3));
    send_signal(&daemon, "TERM");
    assert!(daemon.wait().unwrap().success());
    assert!(
        !std::fs::read_to_string(&log)
            .unwrap()
            .contains("weekly note written"),
        "sent again after the restart"
    );

    let store = Store::open(&dir.path().join("data").join("store")).unwrap();
    let notes: Vec<otklik::store::Alert> = store
        .alerts_after(0)
        .map(Result::unwrap)
        .filter(|a| a.kind == otklik::store::AlertKind::WeeklyNote)
        .collect();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].title.contains("(2026-W47)"), "{}", notes[0].title);
    assert_eq!(notes[0].roles, ["mcu-head", "curator"]);
    assert_eq!(
        store.report_mark("weekly_note").unwrap().as_deref(),
        Some("2026-W47")
    );
}

/// Headless Chromium, or a clear failure: `scripts/test` installs it.
fn chromium() -> &'static str {
    for candidate in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(candidate).arg("--version").output().is_ok() {
            return candidate;
        }
    }
    panic!("Chromium is needed to render the report pages: install chromium (scripts/test does)");
}

#[test]
fn the_html_pages_render_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let config = golden_data_dir(dir.path(), "");
    let blank = {
        let page = dir.path().join("blank.html");
        std::fs::write(&page, "<!DOCTYPE html><html><body></body></html>").unwrap();
        screenshot(&page)
    };
    for kind in ["weekly", "heatmap", "ratings"] {
        let page = dir.path().join(format!("{kind}.html"));
        report(
            &config,
            &[
                kind,
                "--week",
                "2026-W47",
                "--format",
                "html",
                "--output",
                &page.to_string_lossy(),
            ],
        );
        let png = screenshot(&page);
        assert!(png.starts_with(b"\x89PNG"), "{kind}: not a PNG");
        // Text, tables and colours make a far larger image than an empty page.
        assert!(
            png.len() > 4 * blank.len(),
            "{kind}: {} bytes against {} for a blank page",
            png.len(),
            blank.len()
        );
    }
}

fn screenshot(page: &Path) -> Vec<u8> {
    let png = page.with_extension("png");
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            page.with_extension("profile").display()
        ))
        .arg("--window-size=1300,1800")
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    std::fs::read(&png).unwrap_or_else(|e| {
        panic!(
            "Chromium made no screenshot of {} ({e}): {}",
            page.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Not a check: writes every report of the golden dataset into `$OTKLIK_SAMPLES` (default
/// `target/report-samples`) to look at:
/// `cargo test --test reports write_samples -- --ignored`.
#[test]
#[ignore]
fn write_samples() {
    let out = std::env::var_os("OTKLIK_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-samples"));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let config = golden_data_dir(&out, "");
    for (kind, format) in [
        ("weekly", "html"),
        ("weekly", "docx"),
        ("weekly", "md"),
        ("weekly", "json"),
        ("heatmap", "html"),
        ("heatmap", "csv"),
        ("heatmap", "json"),
        ("ratings", "html"),
        ("ratings", "md"),
        ("ratings", "csv"),
        ("export", "csv"),
        ("export", "xlsx"),
    ] {
        let file = out.join(format!("{kind}.{format}"));
        let period: &[&str] = if kind == "export" {
            &["--from", "2026-09-01", "--to", "2026-11-30"]
        } else {
            &["--week", "2026-W47"]
        };
        let mut args = vec![kind];
        args.extend_from_slice(period);
        let file_arg = file.to_string_lossy().into_owned();
        args.extend_from_slice(&["--format", format, "--output", &file_arg]);
        report(&config, &args);
    }
    println!("samples in {}", out.display());
}
