//! Invariant 5 under SIGKILL: many open incidents with escalation timers; the real daemon runs
//! on an accelerated clock (one real second is ten minutes), is killed while timers are coming
//! due, and restarted. Afterwards every incident went through its escalation once: no step
//! fired twice, none fired early, the last one fired for all, and the ones that came due while
//! the daemon was up fired on time.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use otklik::config::IndexSettings;
use otklik::model::{AuthorKind, Platform, Post, PostKey};
use otklik::store::{EventKind, Store};
use std::process::{Child, Stdio};
use std::time::Instant;

const STREETS: [&str; 20] = [
    "Советская",
    "Клубная",
    "Конституции",
    "Привокзальная",
    "Кирова",
    "Менжинского",
    "Чапаева",
    "Шишкина",
    "Победы",
    "Седова",
    "Пирогова",
    "Калинина",
    "Северная",
    "Строителей",
    "Луначарского",
    "Ленина",
    "Пушкина",
    "Октябрьская",
    "Молодежная",
    "Садовая",
];

/// Simulated minutes per real second.
const SPEED: f64 = 600.0;

const ESCALATION: &str = r#"
[deadlines]
first_response_working_hours = 1

[[escalation]]
elapsed_percent = 50
notify = ["executor"]

[[escalation]]
elapsed_percent = 100
notify = ["executor", "head"]

[[escalation]]
overdue_hours = 1
notify = ["mcu-head"]
"#;

fn msk(h: u32, m: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Moscow
        .with_ymd_and_hms(2026, 11, 24, h, m, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn complaint(i: usize, at: DateTime<Utc>) -> Post {
    let street = STREETS[i % STREETS.len()];
    let text = if i < STREETS.len() {
        format!("На улице {street} в Гаврилов-Яме нет воды с утра, когда дадут воду?")
    } else {
        format!("На улице {street} в Гаврилов-Яме не горят фонари, темно, дети идут в школу")
    };
    Post {
        key: PostKey::new(Platform::Vk, format!("-1_{i}")),
        source: "seed".into(),
        url: None,
        community: "Подслушано Гаврилов-Ям".into(),
        community_territory: Some("gavrilov-yam".into()),
        author: Some(format!("Житель {i}")),
        author_url: None,
        author_kind: AuthorKind::Resident,
        published: at,
        fetched: at,
        title: None,
        text,
        parent: None,
    }
}

fn spawn(config: &std::path::Path, log: &std::path::Path, clock: &str) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    otklik()
        .args(["run", "--config"])
        .arg(config)
        .env(otklik::time::CLOCK_ENV, clock)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

#[test]
fn after_sigkill_every_escalation_step_fires_once_and_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), ESCALATION);
    let data = dir.path().join("data");

    // Seed: forty incidents opened two minutes apart from 08:00, each with a one-hour
    // first-response deadline: steps at +30 min, +60 min and +120 min.
    let mut loaded = otklik::config::load(&config).unwrap();
    loaded.data_dir = data.clone();
    let n = 2 * STREETS.len();
    {
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
        for i in 0..n {
            let at = msk(8, 0) + Duration::minutes(2 * i as i64);
            p.clock = otklik::time::Clock::fixed(at);
            p.ingest(vec![complaint(i, at)]).unwrap();
        }
        drop(p);
        index.finish();
        // Nearly one incident per post (a street the gazetteer does not know joins another).
        let incidents = store.incidents().count();
        assert!(incidents >= 30, "{incidents} incidents");
        assert_eq!(store.timer_count(), incidents);
    }

    // The daemon's clock reads 08:20 now and runs 600 times faster; the restart passes the
    // same anchor, so the clock goes on where it was.
    let anchor = DateTime::<Utc>::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let clock = format!("{}@{}x{SPEED}", msk(8, 20).to_rfc3339(), anchor.timestamp());
    let sim = |real: DateTime<Utc>| {
        msk(8, 20)
            + Duration::milliseconds(((real - anchor).num_milliseconds() as f64 * SPEED) as i64)
    };
    let log = dir.path().join("daemon.log");
    let control = data.join(otklik::control::CONTROL_FILE);

    let mut daemon = spawn(&config, &log, &clock);
    wait_for(
        std::time::Duration::from_secs(30),
        "the daemon to be ready",
        || control.exists(),
    );
    // Kill it while the steps of the later incidents are coming due (08:30 … 10:18).
    let mut rng = fastrand::Rng::with_seed(5);
    std::thread::sleep(std::time::Duration::from_millis(rng.u64(3000..6000)));
    let killed_at = Utc::now();
    daemon.kill().unwrap(); // SIGKILL
    daemon.wait().unwrap();
    std::fs::remove_file(&control).ok();
    std::thread::sleep(std::time::Duration::from_millis(1500));

    let mut daemon = spawn(&config, &log, &clock);
    wait_for(
        std::time::Duration::from_secs(30),
        "the daemon to be ready again",
        || control.exists(),
    );
    let ready_at = Utc::now();
    // The last step of the last incident is due at 11:18: 178 simulated minutes after 08:20,
    // about 18 real seconds after the anchor.
    let last = msk(8, 0) + Duration::minutes(2 * (n as i64 - 1) + 120);
    let started = Instant::now();
    while otklik::time::Clock::parse(&clock).unwrap().now() < last + Duration::minutes(10) {
        assert!(
            started.elapsed().as_secs() < 60,
            "the clock does not advance"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    send_signal(&daemon, "TERM");
    assert!(daemon.wait().unwrap().success(), "clean stop");

    let (down_from, down_to) = (sim(killed_at), sim(ready_at));
    let store = Store::open(&data.join("store")).unwrap();
    let mut late_while_up = Vec::new();
    let (mut before_kill, mut after_restart) = (0, 0);
    for incident in store.incidents().map(Result::unwrap) {
        let created = incident.created;
        let scheduled = |step: u8| {
            created
                + Duration::minutes(match step {
                    0 => 30,
                    1 => 60,
                    _ => 120,
                })
        };
        let steps: Vec<(u8, DateTime<Utc>)> = store
            .events(incident.id)
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::Escalated { step, .. } => Some((step, e.at)),
                _ => None,
            })
            .collect();
        let numbers: Vec<u8> = steps.iter().map(|(s, _)| *s).collect();
        assert!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "incident {}: steps {numbers:?} repeat or go back",
            incident.id
        );
        assert_eq!(
            numbers.last(),
            Some(&2),
            "incident {}: the last step never fired ({numbers:?})",
            incident.id
        );
        for (step, at) in &steps {
            before_kill += usize::from(*at < down_from);
            after_restart += usize::from(*at >= down_to);
            let due = scheduled(*step);
            assert!(
                *at >= due,
                "incident {} step {step} fired early: {at} before {due}",
                incident.id
            );
            let during_downtime = due >= down_from - Duration::minutes(2) && due <= down_to;
            if !during_downtime && *at - due > Duration::minutes(5) {
                late_while_up.push((incident.id, *step, due, *at));
            }
        }
        // A step that came due while the daemon was up was not skipped.
        for step in 0..=2u8 {
            let due = scheduled(step);
            let while_up = due < down_from - Duration::minutes(2) || due > down_to;
            if while_up {
                assert!(
                    numbers.contains(&step),
                    "incident {}: step {step} due {due} (daemon up) never fired: {numbers:?}",
                    incident.id
                );
            }
        }
        assert_eq!(store.timer_count(), 0);
    }
    eprintln!("steps fired before the kill: {before_kill}, after the restart: {after_restart}");
    assert!(
        before_kill > 10 && after_restart > 10,
        "the kill must fall in the middle of the escalations"
    );
    assert!(
        late_while_up.is_empty(),
        "steps fired late while the daemon was up: {late_while_up:?}"
    );
}
