//! The daemon with good and broken feeds side by side: the broken ones are marked truthfully,
//! the good one is stored and searchable, and the daemon keeps running.

mod common;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use common::feed::GrowingFeed;
use otklik::config::{Loaded, PollSettings, RssSourceConfig};
use otklik::sources::HealthState;
use std::time::Duration;

const BOMB: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss version="2.0"><channel><title>&lol3;</title><item><title>&lol3;</title></item></channel></rss>"#;

async fn broken_server() -> std::net::SocketAddr {
    let app = Router::new()
        .route(
            "/malformed",
            get(|| async { "<rss version=\"2.0\"><channel><item><title>обрыв" }),
        )
        .route("/bomb", get(|| async { BOMB }))
        .route(
            "/gone",
            get(|| async { (StatusCode::NOT_FOUND, "нет такой страницы") }),
        )
        .route(
            "/unavailable",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "перегрузка") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn feed(name: &str, url: String) -> RssSourceConfig {
    toml::from_str(&format!(
        "name = \"{name}\"\nurl = \"{url}\"\nterritory = \"gavrilov-yam\"\n"
    ))
    .unwrap()
}

#[test]
fn broken_feeds_are_marked_and_the_good_one_is_stored() {
    // The feed runs on a runtime of its own, so it is started outside the test's.
    let good = GrowingFeed::start(30, Duration::from_millis(1));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(check(&good));
}

async fn check(good: &GrowingFeed) {
    let broken = broken_server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut loaded = Loaded::embedded(dir.path().to_path_buf());
    loaded.settings.index.commit_interval_secs = 1;
    loaded.settings.api.listen = "127.0.0.1:0".into();
    loaded.settings.poll = PollSettings {
        min_interval_secs: 1,
        max_interval_secs: 1,
        backoff_initial_secs: 1,
        backoff_max_secs: 1,
        failing_after: 2,
    };
    loaded.settings.sources.rss = vec![
        feed("good", good.url()),
        feed("malformed", format!("http://{broken}/malformed")),
        feed("bomb", format!("http://{broken}/bomb")),
        feed("gone", format!("http://{broken}/gone")),
        feed("unavailable", format!("http://{broken}/unavailable")),
    ];
    let sources = otklik::sources::build(&loaded).unwrap();
    let (activity, _) = tokio::sync::broadcast::channel(1024);
    let running = otklik::daemon::start(&loaded, sources, activity)
        .await
        .unwrap();

    let health = |name: &str| running.store.health(name).unwrap().map(|h| h.state);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let done = running.store.post_count() == 30
            && health("malformed") == Some(HealthState::Failing)
            && health("bomb") == Some(HealthState::Failing)
            && health("unavailable") == Some(HealthState::Failing)
            && health("gone") == Some(HealthState::Disabled);
        if done {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stored {}, health: {:?}",
            running.store.post_count(),
            running.store.all_health().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = running.store.all_health().unwrap();
    let reason = |name: &str| {
        all.iter()
            .find(|h| h.source == name)
            .unwrap()
            .last_error
            .clone()
            .unwrap()
    };
    assert!(reason("gone").contains("404"), "{}", reason("gone"));
    assert!(
        reason("bomb").to_lowercase().contains("entit"),
        "{}",
        reason("bomb")
    );
    assert!(
        reason("unavailable").contains("503"),
        "{}",
        reason("unavailable")
    );
    assert_eq!(health("good"), Some(HealthState::Ok));
    // Each source that failed or was disabled left a notice for the administrator.
    let noticed = |name: &str, state: HealthState| {
        running
            .store
            .notices()
            .unwrap()
            .iter()
            .any(|n| n.source == name && n.state == state && n.error.is_some())
    };
    // Notices are written off the async threads: give them a moment.
    for _ in 0..50 {
        if noticed("gone", HealthState::Disabled) && noticed("malformed", HealthState::Failing) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(noticed("gone", HealthState::Disabled));
    assert!(noticed("malformed", HealthState::Failing));
    assert!(
        !running
            .store
            .notices()
            .unwrap()
            .iter()
            .any(|n| n.source == "good")
    );

    running.index.commit().unwrap();
    let searcher = otklik::index::Searcher::open(&dir.path().join("search")).unwrap();
    let found = searcher
        .search(&otklik::index::SearchRequest {
            query: "яма".into(),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.total, 30);
    running.shutdown(Duration::from_secs(5)).await.unwrap();
}
