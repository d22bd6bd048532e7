//! Invariants 1–3 under SIGKILL with every platform at once: the real binary polls loopback
//! VK, OK and Telegram servers (and an RSS feed) that publish posts while it is killed again
//! and again. After a clean final run the store holds exactly what a run that was never
//! killed stores: no post missing, none twice, no page skipped by a cursor.

mod common;

use common::feed::GrowingFeed;
use common::*;
use otklik::config::{PollSettings, SourcesSettings};
use otklik::demo::{ok_mock::OkMock, telegram_mock::TelegramMock, vk_mock::VkMock};
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

#[derive(serde::Serialize)]
struct Extra<'a> {
    poll: PollSettings,
    sources: &'a SourcesSettings,
}

#[test]
fn sigkill_while_polling_every_platform_loses_and_duplicates_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let rss = GrowingFeed::start(60, Duration::from_millis(100));
    let (vk, telegram, ok) = runtime.block_on(async {
        (
            VkMock::start_demo(30.0).await.unwrap(),
            TelegramMock::start_demo(Duration::from_millis(150))
                .await
                .unwrap(),
            OkMock::start_demo(Duration::from_millis(300))
                .await
                .unwrap(),
        )
    });
    let sources = SourcesSettings {
        rss: vec![toml::from_str(&format!("name = \"rss\"\nurl = \"{}\"\n", rss.url())).unwrap()],
        vk: vk.demo_settings(),
        telegram: telegram.source_configs(Some("gavrilov-yam")),
        ok: Some(ok.settings(Some("gavrilov-yam"))),
    };
    let extra = toml::to_string(&Extra {
        poll: PollSettings {
            min_interval_secs: 1,
            max_interval_secs: 1,
            backoff_initial_secs: 1,
            backoff_max_secs: 1,
            failing_after: 3,
        },
        sources: &sources,
    })
    .unwrap();

    let crashed = tempfile::tempdir().unwrap();
    let config = write_config(crashed.path(), &extra);
    let log = crashed.path().join("daemon.log");
    let mut rng = fastrand::Rng::with_seed(12072022);
    for _ in 0..10 {
        let mut daemon = spawn_daemon(&config, &log);
        std::thread::sleep(Duration::from_millis(rng.u64(200..1600)));
        daemon.kill().unwrap();
        daemon.wait().unwrap();
    }
    // Let every mock publish everything, then run cleanly until nothing new arrives.
    std::thread::sleep(Duration::from_secs(8));
    let after_crashes = run_until_quiet(&config, &log, &crashed.path().join("data"));

    let reference = tempfile::tempdir().unwrap();
    let reference_config = write_config(reference.path(), &extra);
    let expected = run_until_quiet(
        &reference_config,
        &reference.path().join("daemon.log"),
        &reference.path().join("data"),
    );

    assert!(
        expected.len() > 60,
        "the mocks served {} posts",
        expected.len()
    );
    let platforms: HashSet<&str> = expected
        .iter()
        .map(|uid| uid.split(':').next().unwrap())
        .collect();
    assert_eq!(
        platforms.len(),
        4,
        "every platform delivered: {platforms:?}"
    );
    eprintln!(
        "{} posts from {platforms:?}; {} after the crashes",
        expected.len(),
        after_crashes.len()
    );
    let unique: HashSet<&String> = after_crashes.iter().collect();
    assert_eq!(
        unique.len(),
        after_crashes.len(),
        "a post is in search twice"
    );
    let expected: HashSet<&String> = expected.iter().collect();
    let missing: Vec<_> = expected.difference(&unique).collect();
    let extra: Vec<_> = unique.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, unexpected {extra:?}"
    );
    drop(runtime);
}

/// Run the daemon until the searchable posts stop changing for a few seconds, stop it
/// cleanly, and return their keys.
fn run_until_quiet(config: &Path, log: &Path, data: &Path) -> Vec<String> {
    let mut daemon = spawn_daemon(config, log);
    let mut last = usize::MAX;
    let mut quiet = 0;
    for _ in 0..120 {
        std::thread::sleep(Duration::from_millis(500));
        let n = search_ids(data).len();
        quiet = if n == last { quiet + 1 } else { 0 };
        last = n;
        if quiet >= 8 {
            break;
        }
    }
    send_signal(&daemon, "TERM");
    assert!(daemon.wait().unwrap().success());
    search_ids(data)
}
