//! The Telegram channel source against the loopback t.me ([`TelegramMock`]): paging back to
//! the last seen message, what a message page tells (views, edits, links, the `&amp;`
//! quirk), channels without a public preview, and every way a page can go wrong.

mod common;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use chrono::{Duration as TimeDelta, Utc};
use otklik::config::HttpSettings;
use otklik::demo::telegram_mock::{MockChannel, MockMessage, PageFault, TelegramMock};
use otklik::model::{Platform, Post};
use otklik::sources::http::HttpClient;
use otklik::sources::telegram::{TelegramSource, TelegramSourceConfig, parse_page};
use otklik::sources::{Batch, Cursor, Source, SourceError};
use std::time::{Duration, Instant};

fn client_with(settings: HttpSettings) -> HttpClient {
    HttpClient::new(&settings).expect("client builds")
}

fn client() -> HttpClient {
    client_with(HttpSettings {
        timeout_secs: 5,
        connect_timeout_secs: 2,
        ..HttpSettings::default()
    })
}

/// A channel `username` with messages `ids`, each saying which one it is.
fn channel(username: &str, ids: impl IntoIterator<Item = u64>) -> MockChannel {
    let mut c = MockChannel::new(username, "Гаврилов-Ям: жалобы и новости");
    let start = Utc::now() - TimeDelta::days(3);
    c.messages = ids
        .into_iter()
        .map(|id| {
            MockMessage::plain(
                id,
                start + TimeDelta::minutes(id as i64),
                &format!("сообщение {id}"),
            )
        })
        .collect();
    c
}

fn config(mock: &TelegramMock, channel: &str) -> TelegramSourceConfig {
    let mut cfg = TelegramSourceConfig::new(format!("tg-{channel}"), channel);
    cfg.base_url = mock.base_url.clone();
    cfg.territory = Some("gavrilov-yam".into());
    cfg
}

async fn fetch(source: &mut TelegramSource, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
    tokio::time::timeout(Duration::from_secs(30), source.fetch(cursor))
        .await
        .expect("fetch finishes")
}

fn ids(posts: &[Post]) -> Vec<u64> {
    posts
        .iter()
        .map(|p| p.key.native_id.rsplit_once('/').unwrap().1.parse().unwrap())
        .collect()
}

fn transient(result: Result<Batch, SourceError>) -> String {
    match result {
        Err(SourceError::Transient(m)) => m,
        other => panic!("expected a transient error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_first_poll_pages_back_as_far_as_configured() {
    let mock = TelegramMock::start(vec![channel("gy_talk", 1..=70)])
        .await
        .unwrap();
    let mut cfg = config(&mock, "gy_talk");
    cfg.first_poll_pages = 2;
    let mut source = TelegramSource::new(&cfg, client());
    let batch = fetch(&mut source, None).await.unwrap();
    assert_eq!(ids(&batch.posts), (31..=70).collect::<Vec<_>>());
    assert_eq!(
        mock.requests(),
        vec!["/s/gy_talk", "/s/gy_talk?before=51"],
        "two pages, the second one before the first page's oldest message"
    );
    assert!(batch.changed);
    let cursor = batch.cursor.expect("the cursor moves");
    assert_eq!(cursor["last_id"], 70);
}

#[tokio::test]
async fn later_polls_page_back_exactly_to_the_last_seen_message() {
    let mock = TelegramMock::start(vec![channel("gy_talk", 1..=30)])
        .await
        .unwrap();
    let cfg = config(&mock, "gy_talk");
    let mut source = TelegramSource::new(&cfg, client());
    let first = fetch(&mut source, None).await.unwrap();
    // 30 messages fit in two pages; the second has no older page, so paging stops there.
    assert_eq!(ids(&first.posts), (1..=30).collect::<Vec<_>>());
    let cursor = first.cursor.unwrap();

    // A burst of 45 messages (ids with gaps, as deleted messages leave) between two polls.
    let burst: Vec<u64> = (31..=120).step_by(2).collect();
    let start = Utc::now();
    for &id in &burst {
        mock.publish(
            "gy_talk",
            MockMessage::plain(id, start, &format!("сообщение {id}")),
        );
    }
    mock.clear_requests();
    let second = fetch(&mut source, Some(&cursor)).await.unwrap();
    assert_eq!(
        ids(&second.posts),
        burst,
        "every new message once, in order"
    );
    assert_eq!(
        mock.requests(),
        vec!["/s/gy_talk", "/s/gy_talk?before=81", "/s/gy_talk?before=41"],
        "pages back until the page reaches the last seen id, not further"
    );
    let cursor = second.cursor.unwrap();
    assert_eq!(cursor["last_id"], 119);

    // Nothing new: one request, no posts, the cursor stays.
    mock.clear_requests();
    let third = fetch(&mut source, Some(&cursor)).await.unwrap();
    assert!(third.posts.is_empty() && !third.changed && third.cursor.is_none());
    assert_eq!(mock.requests(), vec!["/s/gy_talk"]);

    // A restart: a new source with the stored cursor sees only what came since.
    mock.publish(
        "gy_talk",
        MockMessage::plain(121, start, "после перезапуска"),
    );
    let stored: Cursor = serde_json::from_str(&cursor.to_string()).unwrap();
    let mut restarted = TelegramSource::new(&cfg, client());
    let fourth = fetch(&mut restarted, Some(&stored)).await.unwrap();
    assert_eq!(ids(&fourth.posts), vec![121]);
    assert_eq!(fourth.posts[0].text, "после перезапуска");
}

#[tokio::test]
async fn a_burst_beyond_the_page_limit_is_read_over_the_next_polls() {
    let mock = TelegramMock::start(vec![channel("gy_talk", 1..=5)])
        .await
        .unwrap();
    let mut cfg = config(&mock, "gy_talk");
    cfg.max_pages_per_poll = 3;
    let mut source = TelegramSource::new(&cfg, client());
    let mut cursor = fetch(&mut source, None).await.unwrap().cursor.unwrap();
    for id in 6..=200 {
        mock.publish("gy_talk", MockMessage::plain(id, Utc::now(), "много"));
    }
    let mut delivered = Vec::new();
    for poll in 1..=10 {
        if poll == 3 {
            // New messages keep coming while the gap is being read.
            for id in 201..=205 {
                mock.publish("gy_talk", MockMessage::plain(id, Utc::now(), "ещё"));
            }
        }
        mock.clear_requests();
        let batch = fetch(&mut source, Some(&cursor)).await.unwrap();
        assert!(mock.requests().len() <= 3, "{:?}", mock.requests());
        delivered.extend(ids(&batch.posts));
        if poll == 1 {
            assert_eq!(ids(&batch.posts), (141..=200).collect::<Vec<_>>());
        }
        let Some(next) = batch.cursor else { break };
        cursor = next;
    }
    assert!(cursor.get("gaps").is_none(), "{cursor}");
    delivered.sort_unstable();
    assert_eq!(
        delivered,
        (6..=205).collect::<Vec<_>>(),
        "every message once"
    );
}

#[tokio::test]
async fn posts_carry_keys_links_community_territory_and_plain_text() {
    let mut c = MockChannel::new("Gy_Talk", "Подслушано Гаврилов-Ям");
    let published = "2026-11-20T09:15:00Z".parse().unwrap();
    let mut m = MockMessage::plain(
        501,
        published,
        "Нет воды на Кирова\nСхема отключений: https://gy.example/map?street=kirova&day=20 #ЖКХ",
    );
    m.author = Some("Админ".into());
    c.messages.push(m);
    let mut photo_only = MockMessage::plain(502, published, "");
    photo_only.photo = true;
    c.messages.push(photo_only);
    let mock = TelegramMock::start(vec![c]).await.unwrap();
    let cfg = config(&mock, "Gy_Talk");
    let mut source = TelegramSource::new(&cfg, client());
    let batch = fetch(&mut source, None).await.unwrap();
    assert_eq!(batch.posts.len(), 1, "a photo without a caption is no post");
    let post = &batch.posts[0];
    assert_eq!(post.key.platform, Platform::Telegram);
    assert_eq!(post.key.uid(), "telegram:gy_talk/501");
    assert_eq!(post.url.as_deref(), Some("https://t.me/Gy_Talk/501"));
    assert_eq!(post.community, "Подслушано Гаврилов-Ям");
    assert_eq!(post.community_territory.as_deref(), Some("gavrilov-yam"));
    assert_eq!(post.author.as_deref(), Some("Админ"));
    assert_eq!(post.published, published);
    assert_eq!(
        post.text,
        "Нет воды на Кирова\nСхема отключений: https://gy.example/map?street=kirova&day=20 #ЖКХ"
    );
    assert_eq!(
        batch.cursor.unwrap()["last_id"],
        502,
        "the photo still moves the cursor"
    );
}

#[tokio::test]
async fn views_edits_and_links_are_read_from_served_pages() {
    let mut c = MockChannel::new("gy_talk", "Канал");
    let mut m = MockMessage::plain(
        7,
        Utc::now(),
        "Подробнее: https://gy.example/news?id=15&lang=ru",
    );
    m.views = 4_450;
    c.messages.push(m);
    let mut m = MockMessage::plain(8, Utc::now(), "Второе");
    m.views = 1_234_567;
    c.messages.push(m);
    let mock = TelegramMock::start(vec![c]).await.unwrap();
    mock.edit("gy_talk", 8, "Второе, исправленное");
    let body = reqwest::get(format!("{}/s/gy_talk", mock.base_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("id=15&amp;amp;lang=ru"),
        "the mock writes & the way t.me does"
    );
    let page = parse_page(&body).unwrap();
    let (seven, eight) = (&page.messages[0], &page.messages[1]);
    assert_eq!(seven.views, Some(4_400));
    assert!(!seven.edited);
    assert_eq!(seven.links, vec!["https://gy.example/news?id=15&lang=ru"]);
    assert_eq!(eight.views, Some(1_200_000));
    assert!(eight.edited);
    assert_eq!(eight.text, "Второе, исправленное");
}

#[tokio::test]
async fn an_unknown_channel_redirects_and_disables_the_source() {
    let mock = TelegramMock::start(vec![channel("gy_talk", 1..=3)])
        .await
        .unwrap();
    let mut source = TelegramSource::new(&config(&mock, "no_such_channel"), client());
    match fetch(&mut source, None).await {
        Err(SourceError::Disabled(reason)) => {
            assert!(reason.contains("@no_such_channel"), "{reason}");
            assert!(reason.contains("no public web preview"), "{reason}");
            assert!(reason.contains("tg-no_such_channel"), "{reason}");
        }
        other => panic!("expected the source disabled, got {other:?}"),
    }
}

#[tokio::test]
async fn a_redirect_to_the_main_page_disables_the_source() {
    let router = Router::new()
        .route(
            "/s/{channel}",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/")], "") }),
        )
        .route("/", get(|| async { "<html><body>Telegram</body></html>" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let mut cfg = TelegramSourceConfig::new("tg-private", "private_chat");
    cfg.base_url = format!("http://{addr}");
    let mut source = TelegramSource::new(&cfg, client());
    assert!(matches!(
        fetch(&mut source, None).await,
        Err(SourceError::Disabled(r)) if r.contains("redirected")
    ));
}

#[tokio::test]
async fn malformed_markup_still_yields_the_right_messages() {
    let mock = TelegramMock::start(vec![channel("gy_talk", 1..=5)])
        .await
        .unwrap();
    mock.set_fault(Some(PageFault::Malformed));
    let mut source = TelegramSource::new(&config(&mock, "gy_talk"), client());
    let batch = fetch(&mut source, None).await.unwrap();
    assert_eq!(ids(&batch.posts), vec![1, 2, 3, 4, 5]);
    for (post, id) in batch.posts.iter().zip(1..) {
        assert_eq!(post.text, format!("сообщение {id}"), "{post:?}");
    }
}

#[tokio::test]
async fn a_truncated_page_is_refused_and_the_cursor_stays() {
    let mock = TelegramMock::start(vec![channel("gy_talk", 1..=30)])
        .await
        .unwrap();
    mock.set_fault(Some(PageFault::Truncated));
    let mut source = TelegramSource::new(&config(&mock, "gy_talk"), client());
    let message = transient(fetch(&mut source, None).await);
    assert!(message.contains("truncated"), "{message}");
    assert!(message.contains("tg-gy_talk"), "{message}");
}

#[tokio::test]
async fn a_page_that_is_not_a_preview_is_transient() {
    let mock = TelegramMock::start(vec![channel("gy_talk", 1..=3)])
        .await
        .unwrap();
    mock.set_fault(Some(PageFault::NotAPreview));
    let mut source = TelegramSource::new(&config(&mock, "gy_talk"), client());
    let message = transient(fetch(&mut source, None).await);
    assert!(message.contains("not a channel preview"), "{message}");
    mock.set_fault(None);
    assert_eq!(
        ids(&fetch(&mut source, None).await.unwrap().posts),
        vec![1, 2, 3]
    );
}

#[tokio::test]
async fn a_50_mb_page_is_refused_while_streaming() {
    let mock = TelegramMock::start(vec![channel("gy_talk", 1..=3)])
        .await
        .unwrap();
    mock.set_fault(Some(PageFault::Huge(50 * 1024 * 1024)));
    let mut source = TelegramSource::new(
        &config(&mock, "gy_talk"),
        client_with(HttpSettings {
            timeout_secs: 20,
            max_body_bytes: 2 * 1024 * 1024,
            ..HttpSettings::default()
        }),
    );
    let message = transient(fetch(&mut source, None).await);
    assert!(message.contains("max_body_bytes"), "{message}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = mock.huge_bytes_sent();
    assert!(
        sent < 20 * 1024 * 1024,
        "the client stopped reading at the limit; back-pressure should have kept the mock from producing {sent} bytes"
    );
}

#[tokio::test]
async fn a_slow_server_hits_the_timeout() {
    let mock = TelegramMock::start(vec![channel("gy_talk", 1..=3)])
        .await
        .unwrap();
    mock.set_fault(Some(PageFault::Slow(Duration::from_secs(10))));
    let mut source = TelegramSource::new(
        &config(&mock, "gy_talk"),
        client_with(HttpSettings {
            timeout_secs: 1,
            connect_timeout_secs: 1,
            ..HttpSettings::default()
        }),
    );
    let started = Instant::now();
    let message = transient(fetch(&mut source, None).await);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(message.contains("within 1 s"), "{message}");
}

#[tokio::test]
async fn statuses_map_to_what_the_poller_should_do() {
    let mock = TelegramMock::start(vec![channel("gy_talk", 1..=3)])
        .await
        .unwrap();
    let mut source = TelegramSource::new(&config(&mock, "gy_talk"), client());
    mock.set_fault(Some(PageFault::Status(502)));
    assert!(matches!(
        fetch(&mut source, None).await,
        Err(SourceError::Transient(_))
    ));
    mock.set_fault(Some(PageFault::Status(429)));
    assert!(matches!(
        fetch(&mut source, None).await,
        Err(SourceError::RetryAfter { .. })
    ));
    mock.set_fault(Some(PageFault::Status(404)));
    assert!(matches!(
        fetch(&mut source, None).await,
        Err(SourceError::Disabled(_))
    ));
}

#[test]
fn telegram_sources_are_configured_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let good = common::write_config(
        dir.path(),
        r#"
[[sources.rss]]
name = "gy-news"
url = "https://example.ru/rss"

[[sources.telegram]]
name = "tg-podslushano"
channel = "podslushano_gy"
territory = "velikoe"
first_poll_pages = 3
"#,
    );
    let loaded = otklik::config::load(&good).expect("valid");
    let tg = &loaded.settings.sources.telegram[0];
    assert_eq!(tg.channel, "podslushano_gy");
    assert_eq!(tg.base_url, "https://t.me");
    assert_eq!(tg.first_poll_pages, 3);
    let sources = otklik::sources::build(&loaded).unwrap();
    let telegram = sources
        .iter()
        .find(|s| s.name() == "tg-podslushano")
        .unwrap();
    assert_eq!(telegram.platform(), Platform::Telegram);
    let poll = telegram.poll_settings().unwrap();
    assert!(poll.min_interval_secs <= 60 && poll.max_interval_secs <= 300);

    for (extra, key) in [
        (
            "[[sources.rss]]\nname = \"x\"\nurl = \"https://example.ru/rss\"\n\
             [[sources.telegram]]\nname = \"x\"\nchannel = \"gy_talk\"\n",
            "sources.telegram[0].name",
        ),
        (
            "[[sources.telegram]]\nname = \"x\"\nchannel = \"@gy_talk\"\n",
            "sources.telegram[0].channel",
        ),
        (
            "[[sources.telegram]]\nname = \"x\"\nchannel = \"gy_talk\"\nbase_url = \"ftp://t.me\"\n",
            "sources.telegram[0].base_url",
        ),
        (
            "[[sources.telegram]]\nname = \"x\"\nchannel = \"gy_talk\"\nterritory = \"atlantida\"\n",
            "sources.telegram[0].territory",
        ),
    ] {
        let path = common::write_config(dir.path(), extra);
        let error = otklik::config::load(&path).expect_err(extra);
        assert_eq!(error.key, key, "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_stores_the_demo_channels_and_disables_an_unknown_one() {
    use otklik::config::{Loaded, PollSettings};
    use otklik::demo::telegram_mock::demo_channels;
    use otklik::sources::HealthState;

    let mock = TelegramMock::start_demo(Duration::from_millis(20))
        .await
        .unwrap();
    let expected: usize = demo_channels(Utc::now())
        .iter()
        .map(|c| c.messages.len())
        .sum();
    let dir = tempfile::tempdir().unwrap();
    let mut loaded = Loaded::embedded(dir.path().to_path_buf());
    loaded.settings.index.commit_interval_secs = 1;
    let quick = PollSettings {
        min_interval_secs: 1,
        max_interval_secs: 1,
        backoff_initial_secs: 1,
        backoff_max_secs: 1,
        failing_after: 2,
    };
    let mut channels = mock.source_configs(Some("gavrilov-yam"));
    channels.push(config(&mock, "closed_chat"));
    for c in &mut channels {
        c.poll = Some(quick.clone());
    }
    loaded.settings.sources.telegram = channels;
    let sources = otklik::sources::build(&loaded).unwrap();
    assert_eq!(sources.len(), 3);
    let (activity, _) = tokio::sync::broadcast::channel(1024);
    let running = otklik::daemon::start(&loaded, sources, activity)
        .await
        .unwrap();
    let health = |name: &str| running.store.health(name).unwrap().map(|h| h.state);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if running.store.post_count() == expected
            && health("tg-closed_chat") == Some(HealthState::Disabled)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stored {} of {expected}, health: {:?}",
            running.store.post_count(),
            running.store.all_health().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored: Vec<Post> = running
        .store
        .posts_after(0)
        .map(|p| p.unwrap().post)
        .collect();
    assert!(stored.iter().all(|p| p.key.platform == Platform::Telegram));
    let water = stored
        .iter()
        .find(|p| p.text.contains("Кирова, 12"))
        .expect("the resident's complaint");
    assert_eq!(water.community, "Подслушано Гаврилов-Ям");
    assert_eq!(water.community_territory.as_deref(), Some("gavrilov-yam"));
    assert_eq!(health("tg-podslushano_gy"), Some(HealthState::Ok));
    let reason = running
        .store
        .health("tg-closed_chat")
        .unwrap()
        .unwrap()
        .last_error
        .unwrap();
    assert!(reason.contains("no public web preview"), "{reason}");
    running.shutdown(Duration::from_secs(5)).await.unwrap();
}
