//! The OK group source against the loopback OK API ([`OkMock`]), which checks signatures the
//! way OK does: topics read to the last seen one, comments, and what every kind of failure
//! means for the poller.

mod common;

use chrono::{Duration as TimeDelta, Utc};
use otklik::config::HttpSettings;
use otklik::demo::ok_mock::{MockApp, MockComment, MockGroup, MockTopic, OkFault, OkMock};
use otklik::model::Platform;
use otklik::sources::http::HttpClient;
use otklik::sources::ok::{FLOOD_WAIT, OkApi, OkSettings, OkSource, signature};
use otklik::sources::{Batch, Cursor, Source, SourceError};
use std::time::{Duration, Instant};

const GID: &str = "57000000000000";

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

/// A group with topics `1..=n` (ids `155…0001` …), one minute apart, the newest now.
fn group(n: u64) -> MockGroup {
    let now = Utc::now();
    MockGroup {
        id: GID.into(),
        name: "Наш район".into(),
        topics: (1..=n)
            .map(|i| {
                MockTopic::new(
                    topic_id(i),
                    now - TimeDelta::minutes((n - i) as i64),
                    &format!("тема {i}"),
                )
            })
            .collect(),
    }
}

fn topic_id(i: u64) -> String {
    format!("{}", 155_000_000_000_000u64 + i)
}

async fn mock(n: u64) -> OkMock {
    OkMock::start(MockApp::default(), vec![group(n)])
        .await
        .unwrap()
}

fn settings(mock: &OkMock) -> OkSettings {
    let mut s = mock.settings(Some("gavrilov-yam"));
    s.page_size = 3;
    s
}

fn source(settings: &OkSettings, client: HttpClient) -> OkSource {
    let api = OkApi::new(settings, client);
    OkSource::new(settings, &settings.groups[0], api)
}

/// A source that does not ask for the group's name, so a scripted fault hits the topics.
fn named_source(mock: &OkMock, client: HttpClient) -> OkSource {
    let mut s = settings(mock);
    s.groups[0].community = Some("Наш район".into());
    source(&s, client)
}

async fn fetch(source: &mut OkSource, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
    tokio::time::timeout(Duration::from_secs(30), source.fetch(cursor))
        .await
        .expect("fetch finishes")
}

fn texts(batch: &Batch) -> Vec<String> {
    batch.posts.iter().map(|p| p.text.clone()).collect()
}

fn no_secrets(message: &str, mock: &OkMock) {
    assert!(
        !message.contains(&mock.app.application_secret_key)
            && !message.contains(&mock.app.access_token),
        "a secret leaked into {message}"
    );
}

#[test]
fn the_reference_test_vector_signs_alike() {
    let token = "-s-84W-s3egarWUsbkq-IWTucuedzTKT8VUXIA.s4Xx8IW7";
    let sig = signature(
        [
            ("application_key", "ABCDEFGHIGKLMNOPK"),
            ("format", "json"),
            ("method", "events.get"),
            ("access_token", token),
        ],
        "ABC123DEF456GHI789JKL123",
        Some(token),
    );
    assert_eq!(sig, "232c8eb921951c4dba9b72606f9ddb4c");
}

#[tokio::test]
async fn topics_are_read_to_the_last_seen_one_and_never_twice() {
    let mock = mock(7).await;
    let s = settings(&mock);
    let mut source = source(&s, client());
    let first = fetch(&mut source, None).await.unwrap();
    assert_eq!(
        texts(&first),
        vec!["тема 5", "тема 6", "тема 7"],
        "one page of three on the first poll, oldest first"
    );
    let post = &first.posts[2];
    assert_eq!(post.key.platform, Platform::Ok);
    assert_eq!(post.key.uid(), format!("ok:{GID}_{}", topic_id(7)));
    assert_eq!(
        post.url.as_deref(),
        Some(format!("https://ok.ru/group/{GID}/topic/{}", topic_id(7)).as_str())
    );
    assert_eq!(post.community, "Наш район", "the name from group.getInfo");
    assert_eq!(post.community_territory.as_deref(), Some("gavrilov-yam"));
    assert_eq!(post.author.as_deref(), Some("Анна Петрова"));
    assert_eq!(
        post.author_url.as_deref(),
        Some("https://ok.ru/profile/580000000001")
    );
    assert!((Utc::now() - post.published).num_seconds().abs() < 5);
    let cursor = first.cursor.unwrap();

    // Five new topics, two of them in the same millisecond.
    let now = Utc::now() + TimeDelta::minutes(1);
    for i in 8..=12 {
        let at = if i == 12 {
            now + TimeDelta::minutes(3)
        } else {
            now + TimeDelta::minutes(i as i64 - 8)
        };
        mock.publish(GID, MockTopic::new(topic_id(i), at, &format!("тема {i}")));
    }
    let calls_before = mock.calls().len();
    let second = fetch(&mut source, Some(&cursor)).await.unwrap();
    assert_eq!(
        texts(&second),
        vec!["тема 8", "тема 9", "тема 10", "тема 11", "тема 12"]
    );
    assert_eq!(
        &mock.calls()[calls_before..],
        ["mediatopic.getTopics", "mediatopic.getTopics"],
        "the group name is asked once; two pages reach the last seen topic"
    );
    let cursor = second.cursor.unwrap();

    // Another topic in the very millisecond of the newest one is still new.
    let same_ms = Utc::now() + TimeDelta::minutes(4);
    let mut twin = MockTopic::new(topic_id(13), same_ms, "тема 13");
    let stored: otklik::sources::ok::OkCursor = serde_json::from_value(cursor.clone()).unwrap();
    twin.created_ms = stored.newest_ms.unwrap();
    mock.publish(GID, twin);
    // A restart: a new source with the stored cursor.
    let mut restarted = self::source(&s, client());
    let third = fetch(&mut restarted, Some(&cursor)).await.unwrap();
    assert_eq!(texts(&third), vec!["тема 13"]);
    let cursor = third.cursor.unwrap();
    let fourth = fetch(&mut restarted, Some(&cursor)).await.unwrap();
    assert!(fourth.posts.is_empty() && fourth.cursor.is_none() && !fourth.changed);
}

#[tokio::test]
async fn a_burst_beyond_the_page_limit_is_read_over_the_next_polls() {
    let mock = mock(3).await;
    let mut s = settings(&mock);
    s.max_pages_per_poll = 2;
    let mut source = source(&s, client());
    let mut cursor = fetch(&mut source, None).await.unwrap().cursor.unwrap();
    let now = Utc::now();
    for i in 4..=23 {
        let at = now + TimeDelta::seconds(i as i64);
        mock.publish(GID, MockTopic::new(topic_id(i), at, &format!("тема {i}")));
    }
    let mut delivered = Vec::new();
    for poll in 1..=12 {
        let calls = mock.calls().len();
        let batch = fetch(&mut source, Some(&cursor)).await.unwrap();
        assert!(
            mock.calls().len() - calls <= 2,
            "poll {poll} read too many pages"
        );
        if poll == 1 {
            assert_eq!(texts(&batch)[0], "тема 18", "the newest two pages first");
        }
        delivered.extend(texts(&batch));
        let Some(next) = batch.cursor else { break };
        cursor = next;
    }
    assert!(cursor.get("gaps").is_none(), "{cursor}");
    delivered.sort_by_key(|t| t["тема ".len()..].parse::<u32>().unwrap());
    let expected: Vec<String> = (4..=23).map(|i| format!("тема {i}")).collect();
    assert_eq!(delivered, expected, "every topic once");
}

#[tokio::test]
async fn comments_are_read_page_by_page_with_their_topic_as_parent() {
    let mock = mock(2).await;
    let topic = topic_id(2);
    let base = Utc::now().timestamp_millis();
    for (i, text) in ["И у нас нет воды", "Звонили в ЖКХ?", "Дали воду"]
        .iter()
        .enumerate()
    {
        mock.comment(
            GID,
            &topic,
            MockComment {
                id: format!("c{i}"),
                author_id: format!("58{i}"),
                author_name: format!("Житель {i}"),
                text: text.to_string(),
                date_ms: base + i as i64 * 60_000,
            },
        );
    }
    let source = named_source(&mock, client());
    let page = source.comments(&topic, None, 2).await.unwrap();
    assert!(page.has_more);
    let texts: Vec<&str> = page.comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["И у нас нет воды", "Звонили в ЖКХ?"]);
    let first = &page.comments[0];
    assert_eq!(first.key.uid(), format!("ok:{GID}_{topic}_c0"));
    assert_eq!(
        first.parent.as_ref().map(|p| p.uid()),
        Some(format!("ok:{GID}_{topic}"))
    );
    assert_eq!(first.author.as_deref(), Some("Житель 0"));
    assert_eq!(first.published.timestamp_millis(), base);
    let rest = source
        .comments(&topic, page.anchor.as_deref(), 2)
        .await
        .unwrap();
    assert!(!rest.has_more);
    assert_eq!(rest.comments.len(), 1);
    assert_eq!(rest.comments[0].text, "Дали воду");

    match source.comments("999", None, 10).await {
        Err(SourceError::Disabled(m)) => assert!(m.contains("300"), "{m}"),
        other => panic!("a missing topic is error 300, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_signature_check() {
    let mock = mock(3).await;
    let mut s = settings(&mock);
    s.application_secret_key = "WRONGSECRET".into();
    let mut source = source(&s, client());
    match fetch(&mut source, None).await {
        Err(SourceError::Disabled(m)) => {
            assert!(m.contains("104") && m.contains("PARAM_SIGNATURE"), "{m}");
            assert!(m.contains("application_secret_key"), "{m}");
            no_secrets(&m, &mock);
        }
        other => panic!("expected disabled, got {other:?}"),
    }
}

#[tokio::test]
async fn an_expired_token_and_an_unknown_group_disable_the_source() {
    let mock = mock(3).await;
    let mut s = settings(&mock);
    s.access_token = "tkn1.expired".into();
    let mut expired = source(&s, client());
    assert!(matches!(
        fetch(&mut expired, None).await,
        Err(SourceError::Disabled(m)) if m.contains("102") && !m.contains("tkn1.expired")
    ));

    let mut s = settings(&mock);
    s.groups[0].group_id = "12345".into();
    s.groups[0].community = Some("Чужая".into());
    let mut unknown = source(&s, client());
    assert!(matches!(
        fetch(&mut unknown, None).await,
        Err(SourceError::Disabled(m)) if m.contains("160")
    ));
}

#[tokio::test]
async fn each_error_code_gets_its_policy() {
    let mock = mock(3).await;
    let mut source = named_source(&mock, client());
    for code in [1, 2, 9999] {
        mock.push_fault(OkFault::error(
            code,
            "SERVICE : Service temporary unavailable",
        ));
        match fetch(&mut source, None).await {
            Err(SourceError::Transient(m)) => {
                assert!(m.contains(&code.to_string()), "{m}");
                no_secrets(&m, &mock);
            }
            other => panic!("{code}: expected transient, got {other:?}"),
        }
    }
    mock.push_fault(OkFault::error(8, "FLOOD_BLOCKED : Flood blocked"));
    assert!(matches!(
        fetch(&mut source, None).await,
        Err(SourceError::RetryAfter { retry_after, .. }) if retry_after == FLOOD_WAIT
    ));
    mock.push_fault(OkFault::error(11, "LIMIT_REACHED : Limit reached"));
    assert!(matches!(
        fetch(&mut source, None).await,
        Err(SourceError::RetryAfter { retry_after, .. })
            if retry_after > Duration::ZERO && retry_after <= Duration::from_secs(24 * 3600 + 300)
    ));
    for code in [9, 10, 100, 210, 456] {
        mock.push_fault(OkFault::error(code, "SOMETHING : wrong"));
        assert!(
            matches!(fetch(&mut source, None).await, Err(SourceError::Disabled(m)) if m.contains(&code.to_string())),
            "{code}"
        );
    }
    // OK's error on an error status: the code decides, not the status.
    mock.push_fault(OkFault::Error {
        code: 2,
        message: "SERVICE : Service temporary unavailable".into(),
        status: 400,
    });
    assert!(matches!(
        fetch(&mut source, None).await,
        Err(SourceError::Transient(m)) if m.contains("SERVICE")
    ));
    // The body alone, on a 5xx: still OK's code that decides.
    mock.push_fault(OkFault::ErrorBodyOnly {
        code: 102,
        message: "PARAM_SESSION_EXPIRED : Session expired".into(),
        status: 500,
    });
    assert!(matches!(
        fetch(&mut source, None).await,
        Err(SourceError::Disabled(m)) if m.contains("102")
    ));
    // A 429 without OK's body: the status decides.
    mock.push_fault(OkFault::Http(429));
    assert!(matches!(
        fetch(&mut source, None).await,
        Err(SourceError::RetryAfter { .. })
    ));
    // After all that the source reads normally.
    assert_eq!(fetch(&mut source, None).await.unwrap().posts.len(), 3);
}

#[tokio::test]
async fn server_errors_broken_bodies_and_timeouts_are_transient() {
    let mock = mock(3).await;
    let mut source = named_source(&mock, client());
    for (fault, expect) in [
        (OkFault::Http(502), "502"),
        (OkFault::Http(500), "500"),
        (OkFault::Malformed, "not valid JSON"),
        (OkFault::Truncated, "not valid JSON"),
    ] {
        mock.push_fault(fault.clone());
        match fetch(&mut source, None).await {
            Err(SourceError::Transient(m)) => assert!(m.contains(expect), "{fault:?}: {m}"),
            other => panic!("{fault:?}: expected transient, got {other:?}"),
        }
    }

    let mut slow = named_source(
        &mock,
        client_with(HttpSettings {
            timeout_secs: 1,
            connect_timeout_secs: 1,
            ..HttpSettings::default()
        }),
    );
    mock.push_fault(OkFault::Slow(Duration::from_secs(10)));
    let started = Instant::now();
    assert!(matches!(
        fetch(&mut slow, None).await,
        Err(SourceError::Transient(m)) if m.contains("within 1 s")
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_huge_body_is_refused_at_the_limit() {
    let mock = mock(3).await;
    let mut source = named_source(
        &mock,
        client_with(HttpSettings {
            timeout_secs: 20,
            max_body_bytes: 1024 * 1024,
            ..HttpSettings::default()
        }),
    );
    mock.push_fault(OkFault::Huge(50 * 1024 * 1024));
    match fetch(&mut source, None).await {
        Err(SourceError::Transient(m)) => assert!(m.contains("max_body_bytes"), "{m}"),
        other => panic!("expected transient, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(mock.huge_bytes_sent() < 20 * 1024 * 1024);
}

#[tokio::test]
async fn requests_through_the_group_path_are_verified_too() {
    let mock = mock(1).await;
    let api = OkApi::new(&settings(&mock), client());
    let form = api.signed_form("mediatopic.getTopics", &[("gid", GID.to_string())]);
    let http = reqwest::Client::new();
    let reply: serde_json::Value = http
        .get(format!("http://{}/fb.do?{form}", mock.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["media_topics"][0]["media"][0]["text"], "тема 1");
    // Tampering with a signed parameter breaks the signature.
    let tampered = form.replace(GID, "57000000000001");
    let response = http
        .get(format!("http://{}/fb.do?{tampered}", mock.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["invocation-error"], "104");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], 104);
    assert_eq!(body["error_msg"], "PARAM_SIGNATURE : Invalid signature");
    assert!(body["error_data"].is_null());
    // No signature at all: the captured message of fixture D.
    let unsigned = http
        .get(format!(
            "http://{}/api/mediatopic/getTopics?application_key={}&gid={GID}",
            mock.addr, mock.app.application_key
        ))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = unsigned.json().await.unwrap();
    assert_eq!(
        body["error_msg"],
        "PARAM_SIGNATURE : No signature specified"
    );
}

#[test]
fn ok_is_configured_and_checked_with_secrets_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let ok = format!(
        r#"
[sources.ok]
application_key = "CBAKEY"
access_token = "tkn"

[[sources.ok.groups]]
name = "ok-gy"
group_id = "{GID}"
territory = "velikoe"
"#
    );
    let path = common::write_config(dir.path(), &ok);
    // Without the secret the configuration is refused, naming the key.
    let error = otklik::config::load(&path).expect_err("no secret");
    assert_eq!(error.key, "sources.ok.application_secret_key", "{error}");
    // The secret from the environment makes it whole. (In-process rather than through the
    // binary, whose path in a shared target directory another build may replace.)
    // SAFETY: no other test of this binary reads or writes the environment, and their HTTP
    // clients connect to IP literals, which resolve without libc reading it either.
    unsafe { std::env::set_var("OTKLIK__SOURCES__OK__APPLICATION_SECRET_KEY", "S3CRET") };
    let loaded = otklik::config::load(&path);
    unsafe { std::env::remove_var("OTKLIK__SOURCES__OK__APPLICATION_SECRET_KEY") };
    let loaded = loaded.expect("the secret from the environment");
    let ok = loaded.settings.sources.ok.as_ref().unwrap();
    assert_eq!(ok.application_secret_key, "S3CRET");
    assert_eq!(ok.access_token, "tkn");
    let shown = format!("{:?}", loaded.settings);
    assert!(
        !shown.contains("S3CRET") && !shown.contains("\"tkn\""),
        "{shown}"
    );
    let sources = otklik::sources::build(&loaded).unwrap();
    assert!(
        sources
            .iter()
            .any(|s| s.name() == "ok-gy" && s.platform() == Platform::Ok)
    );

    let ok = format!(
        r#"
[sources.ok]
application_key = "CBAKEY"
application_secret_key = "s"

[[sources.ok.groups]]
name = "ok-gy"
group_id = "{GID}"
territory = "velikoe"
"#
    );
    for (extra, key) in [
        (ok.replace(GID, "club123"), "sources.ok.groups[0].group_id"),
        (
            ok.replace("velikoe", "atlantida"),
            "sources.ok.groups[0].territory",
        ),
        (
            ok.clone() + "\n[[sources.telegram]]\nname = \"ok-gy\"\nchannel = \"gy_talk\"\n",
            "sources.ok.groups[0].name",
        ),
    ] {
        let path = common::write_config(dir.path(), &extra);
        let error = otklik::config::load(&path).expect_err(&extra);
        assert_eq!(error.key, key, "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_stores_the_demo_group_and_disables_a_wrongly_signed_source() {
    use otklik::config::{Loaded, PollSettings};
    use otklik::demo::ok_mock::demo_group;
    use otklik::sources::HealthState;

    let mock = OkMock::start_demo(Duration::from_millis(20)).await.unwrap();
    let expected = demo_group(Utc::now()).topics.len();
    let dir = tempfile::tempdir().unwrap();
    let mut loaded = Loaded::embedded(dir.path().to_path_buf());
    loaded.settings.index.commit_interval_secs = 1;
    let mut ok = mock.settings(Some("gavrilov-yam"));
    ok.poll = Some(PollSettings {
        min_interval_secs: 1,
        max_interval_secs: 1,
        backoff_initial_secs: 1,
        backoff_max_secs: 1,
        failing_after: 2,
    });
    loaded.settings.sources.ok = Some(ok);
    let sources = otklik::sources::build(&loaded).unwrap();
    let group_source = sources[0].name().to_string();
    let (activity, _) = tokio::sync::broadcast::channel(1024);
    let running = otklik::daemon::start(&loaded, sources, activity)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while running.store.post_count() < expected {
        assert!(
            Instant::now() < deadline,
            "stored {} of {expected}, health: {:?}",
            running.store.post_count(),
            running.store.all_health().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(running.store.post_count(), expected, "no topic twice");
    let stored: Vec<_> = running
        .store
        .posts_after(0)
        .map(|p| p.unwrap().post)
        .collect();
    let pipe = stored
        .iter()
        .find(|p| p.text.contains("Заводской"))
        .expect("the burst pipe");
    assert_eq!(pipe.key.platform, Platform::Ok);
    assert_eq!(pipe.community, "Гаврилов-Ям — наш город");
    assert_eq!(pipe.author.as_deref(), Some("Павел Новиков"));
    assert_eq!(
        running
            .store
            .health(&group_source)
            .unwrap()
            .map(|h| h.state),
        Some(HealthState::Ok)
    );
    running.shutdown(Duration::from_secs(5)).await.unwrap();

    // The same group signed with a wrong secret is disabled, saying why.
    let dir = tempfile::tempdir().unwrap();
    let mut loaded = Loaded::embedded(dir.path().to_path_buf());
    let mut ok = mock.settings(None);
    ok.application_secret_key = "not-the-secret".into();
    loaded.settings.sources.ok = Some(ok);
    let sources = otklik::sources::build(&loaded).unwrap();
    let (activity, _) = tokio::sync::broadcast::channel(1024);
    let running = otklik::daemon::start(&loaded, sources, activity)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let reason = loop {
        if let Some(h) = running.store.health(&group_source).unwrap()
            && h.state == HealthState::Disabled
        {
            break h.last_error.unwrap();
        }
        assert!(Instant::now() < deadline, "the source was not disabled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(reason.contains("104"), "{reason}");
    assert!(!reason.contains("not-the-secret"), "{reason}");
    running.shutdown(Duration::from_secs(5)).await.unwrap();
}
