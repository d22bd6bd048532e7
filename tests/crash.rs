//! Invariants 1–3 under SIGKILL: the real binary ingests from a loopback feed and is killed
//! at random moments, many times. After a clean final run every served post is in the store
//! and in search exactly once.

mod common;

use common::feed::{GrowingFeed, guid};
use common::*;
use std::collections::HashMap;
use std::time::Duration;

#[test]
fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let posts = 240;
    let feed = GrowingFeed::start(posts, Duration::from_millis(40));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[poll]\nmin_interval_secs = 1\nmax_interval_secs = 1\nbackoff_initial_secs = 1\nbackoff_max_secs = 1\n\n[[sources.rss]]\nname = \"crash-feed\"\nurl = \"{}\"\nterritory = \"gavrilov-yam\"\n",
            feed.url()
        ),
    );
    let log = dir.path().join("daemon.log");
    let mut rng = fastrand::Rng::with_seed(538);
    for round in 0..12 {
        let mut daemon = spawn_daemon(&config, &log);
        std::thread::sleep(Duration::from_millis(rng.u64(150..1500)));
        daemon.kill().unwrap(); // SIGKILL
        daemon.wait().unwrap();
        eprintln!(
            "round {round}: killed with {} posts released",
            feed.released()
        );
    }

    // A last, clean run until everything served is stored and searchable.
    let mut daemon = spawn_daemon(&config, &log);
    let data = dir.path().join("data");
    wait_for(
        Duration::from_secs(60),
        "every post to be searchable",
        || feed.released() == posts && search_ids(&data).len() >= posts,
    );
    send_signal(&daemon, "TERM");
    assert!(daemon.wait().unwrap().success());

    let ids = search_ids(&data);
    let mut counts: HashMap<String, usize> = HashMap::new();
    for id in &ids {
        *counts.entry(id.clone()).or_default() += 1;
    }
    for i in 0..posts {
        let uid = format!("rss:crash-feed:{}", guid(i));
        match counts.get(&uid) {
            Some(1) => {}
            Some(n) => panic!("{uid} found {n} times"),
            None => panic!("{uid} is missing from search"),
        }
    }
    assert_eq!(
        ids.len(),
        posts,
        "search holds posts that were never served"
    );

    // The store agrees: rebuilding the index from it gives the same count.
    let out = run(&["reindex", "--data-dir", &data.to_string_lossy()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(" {posts} ")),
        "{}",
        stdout(&out)
    );
    assert_eq!(search_ids(&data).len(), posts);
}
