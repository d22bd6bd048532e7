//! `otklik incidents …` as the coordinator runs it: on a stopped daemon's data directory, and
//! while the daemon runs (through its HTTP API and the control file), with the same results.

mod common;

use chrono::Utc;
use common::*;
use otklik::config::IndexSettings;
use otklik::model::{AuthorKind, Platform, Post, PostKey};
use otklik::store::{EventKind, IncidentStatus, Store};
use std::path::Path;

fn post(id: &str, text: &str) -> Post {
    let at = Utc::now() - chrono::Duration::minutes(30);
    Post {
        key: PostKey::new(Platform::Vk, id),
        source: "seed".into(),
        url: Some(format!("https://vk.com/wall{id}")),
        community: "Подслушано Гаврилов-Ям".into(),
        community_territory: Some("gavrilov-yam".into()),
        author: Some("Анна Петрова".into()),
        author_url: Some("https://vk.com/id1".into()),
        author_kind: AuthorKind::Resident,
        published: at,
        fetched: at,
        title: None,
        text: text.into(),
        parent: None,
    }
}

/// A data directory with two incidents: no water on Kirova street, lights out in Shopsha.
fn seed(config: &Path, data: &Path) {
    let mut loaded = otklik::config::load(config).unwrap();
    loaded.data_dir = data.to_path_buf();
    let store = Store::open(&data.join("store")).unwrap();
    let index = otklik::index::IndexWriterHandle::start(
        &data.join("search"),
        store.clone(),
        &IndexSettings::default(),
    )
    .unwrap();
    let (activity, _) = tokio::sync::broadcast::channel(1);
    let mut p = otklik::pipeline::Pipeline::new(
        &loaded,
        store.clone(),
        index.sender(),
        activity,
        otklik::time::Clock::system(),
    )
    .unwrap();
    p.ingest(vec![
        post(
            "-1_1",
            "На улице Кирова в Гаврилов-Яме нет воды с утра, когда дадут воду?",
        ),
        post(
            "-1_2",
            "В Шопше опять не горят фонари на центральной улице, дети идут в школу в темноте",
        ),
    ])
    .unwrap();
    drop(p);
    index.finish();
    assert_eq!(store.incidents().count(), 2);
}

fn incidents(config: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["incidents", "--config"];
    all.push(config.to_str().unwrap());
    all.extend_from_slice(args);
    run(&all)
}

#[test]
fn the_queue_works_from_the_command_line_with_the_daemon_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let data = dir.path().join("data");
    seed(&config, &data);

    let out = incidents(&config, &["list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("№1"), "{text}");
    assert!(text.contains("направлено исполнителю"), "{text}");
    assert!(text.contains("Показано 2 из 2."), "{text}");
    // A period, as a report's figure counts: both were opened half an hour ago.
    let period = |args: &[&str]| {
        let mut all = vec!["list"];
        all.extend_from_slice(args);
        stdout(&incidents(&config, &all))
    };
    assert!(period(&["--from", "2020-01-01", "--to", "2100-01-01"]).contains("Показано 2 из 2."));
    assert!(period(&["--to", "2020-01-01"]).contains("из 0"));
    assert!(period(&["--from", "2020-01-01", "--resonant"]).contains("из 0"));
    let out = incidents(&config, &["list", "--from", "вчера"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("expected a date like 2026-11-20"),
        "{}",
        stderr(&out)
    );

    let out = incidents(
        &config,
        &["accept", "1", "--text", "Принято в работу, бригада выехала"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("принято в работу"),
        "{}",
        stdout(&out)
    );

    let out = incidents(&config, &["close", "1", "--resolution", "duplicate"]);
    assert_eq!(out.status.code(), Some(2), "a refusal exits with 2");
    assert!(
        stderr(&out).contains("отказано: дубликат закрывается объединением"),
        "{}",
        stderr(&out)
    );

    let out = incidents(&config, &["close", "1", "--resolution", "lost"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("solved, not_confirmed, duplicate, not_incident"),
        "{}",
        stderr(&out)
    );

    let out = incidents(&config, &["show", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Инцидент № 1 — принято в работу"), "{text}");
    assert!(text.contains("Срок (ответ по существу)"), "{text}");
    assert!(
        text.contains("принят в работу (первый ответ): Принято в работу, бригада выехала"),
        "{text}"
    );
    assert!(text.contains("https://vk.com/wall-1_1"), "{text}");
    // Each post says why it was taken for a complaint: the verdict, then the evidence.
    let why = text
        .lines()
        .find_map(|l| l.strip_prefix("    почему: "))
        .unwrap_or_else(|| panic!("no reasons: {text}"));
    assert!(why.contains("инцидент") && why.contains("место"), "{why}");

    let out = incidents(&config, &["list", "--status", "in_work", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], 1);

    let out = incidents(&config, &["show", "9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("инцидент № 9 не найден"));
}

#[test]
fn the_queue_works_from_the_command_line_while_the_daemon_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let data = dir.path().join("data");
    seed(&config, &data);
    let log = dir.path().join("daemon.log");
    let mut daemon = spawn_daemon(&config, &log);
    let control = data.join(otklik::control::CONTROL_FILE);
    wait_for(
        std::time::Duration::from_secs(30),
        "the control file",
        || control.exists(),
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&control).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the control token is the owner's only");

    let out = incidents(&config, &["list", "--owner", "shopsha"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Показано 1 из 1."),
        "{}",
        stdout(&out)
    );
    // The period goes to the daemon with the rest of the filter.
    let out = incidents(
        &config,
        &[
            "list",
            "--owner",
            "shopsha",
            "--from",
            "2020-01-01T00:00:00+03:00",
        ],
    );
    assert!(
        stdout(&out).contains("Показано 1 из 1."),
        "{}",
        stderr(&out)
    );
    let out = incidents(&config, &["list", "--to", "2020-01-01"]);
    assert!(stdout(&out).contains("из 0"), "{}", stdout(&out));

    let out = incidents(
        &config,
        &[
            "route",
            "2",
            "--owner",
            "zhkh",
            "--comment",
            "освещение обслуживает подрядчик ЖКХ",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = incidents(&config, &["route", "2", "--owner", "zhkh"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("уже направлен"), "{}", stderr(&out));
    let out = incidents(&config, &["wait", "1", "--body", "ГП ЯО «Южный водоканал»"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("срок приостановлен"),
        "{}",
        stdout(&out)
    );

    let out = incidents(&config, &["show", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("перенаправлен: администрация территории: Шопшинское сельское поселение → Управление ЖКХ"),
        "{text}"
    );
    assert!(
        text.contains("освещение обслуживает подрядчик ЖКХ"),
        "{text}"
    );

    // A wrong token is refused by the API.
    let body = std::fs::read_to_string(&control).unwrap();
    let file: otklik::control::ControlFile = serde_json::from_str(&body).unwrap();
    let addr = file.url.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    write!(
        conn,
        "GET /api/v1/incidents HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer 00\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    send_signal(&daemon, "TERM");
    assert!(daemon.wait().unwrap().success());
    assert!(!control.exists(), "a clean stop removes the control file");

    let store = Store::open(&data.join("store")).unwrap();
    let i = store.incident(2).unwrap().unwrap();
    assert_eq!(i.owner, Some(otklik::org::Owner::Department("zhkh".into())));
    let routed = store
        .events(2)
        .unwrap()
        .into_iter()
        .find(|e| matches!(e.kind, EventKind::Routed { .. }))
        .expect("the rerouting is in the timeline");
    assert!(
        routed.actor.ends_with("(командная строка)"),
        "{}",
        routed.actor
    );
    assert_eq!(
        store.incident(1).unwrap().unwrap().status,
        IncidentStatus::Routed
    );
    assert!(store.incident(1).unwrap().unwrap().waiting_for.is_some());
}
