//! The comment follower in the running daemon, against the loopback VK and OK mocks: a
//! complaint becomes an incident, comments appear under it, and the follower stores them
//! with their parent, lets a follow-up join the incident, marks the administration's answer
//! official, saves each post's cursor once the comments are stored, passes over a post whose
//! comments are closed, and stops a platform's round with a clear reason when the token is
//! refused.

mod common;

use chrono::Utc;
use otklik::config::{
    Loaded, PollSettings, Secret, VkCommunityConfig, VkSettings, VkTokenConfig, VkTokenKind,
};
use otklik::daemon::Running;
use otklik::demo::ok_mock::{self, OkMock};
use otklik::demo::vk_mock::{
    Fault, FaultKind, MockComment, MockGroup, MockPost, MockUser, VkMock, VkMockData,
};
use otklik::model::{AuthorKind, Platform, PostKey};
use otklik::sources::HealthState;
use otklik::sources::comments::{FollowCursor, cursor_key};
use std::time::Duration;
use tokio::time::Instant;

const TOKEN: &str = "vk1.a.comments-test-token";
const GROUP: i64 = 200_000_001;
const WALL: i64 = -GROUP;
const ADM: i64 = -200_000_002;
const ANNA: i64 = 521_234_567;
const OLEG: i64 = 521_234_568;
const IRINA: i64 = 521_234_569;

const WATER: &str =
    "На улице Кирова нет воды с утра, когда дадут воду? Управляющая компания трубку не берёт.";
const RUBBISH: &str =
    "Во дворе дома 15 по улице Октябрьской вторую неделю не вывозят мусор, контейнеры переполнены.";
const FOLLOW_UP: &str = "У нас тоже нет воды, поддерживаю, сколько можно";
const ANSWER: &str = "Здравствуйте! Информация передана в МУП, бригада выехала.";

fn quick_poll() -> PollSettings {
    PollSettings {
        min_interval_secs: 1,
        max_interval_secs: 1,
        backoff_initial_secs: 1,
        backoff_max_secs: 1,
        failing_after: 2,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The complaints: the rubbish post (41, comments closed) sorts before the water post (42),
/// so a closed post that stopped the round would keep 42 from being read.
fn water_post(now: i64) -> MockPost {
    MockPost::new(WALL, 42, ANNA, now - 600, WATER)
}

fn vk_data(now: i64, kind: VkTokenKind) -> VkMockData {
    VkMockData {
        groups: vec![
            MockGroup::new(GROUP, "Подслушано Гаврилов-Ям", "podslushano_gy"),
            MockGroup::new(-ADM, "Администрация района", "gavyam_adm"),
        ],
        users: vec![
            MockUser::new(ANNA, "Анна", "Петрова"),
            MockUser::new(OLEG, "Олег", "Волков"),
            MockUser::new(IRINA, "Ирина", "Смирнова"),
        ],
        posts: vec![
            MockPost::new(WALL, 41, IRINA, now - 900, RUBBISH).comments_closed(),
            water_post(now),
        ],
        tokens: vec![(TOKEN.into(), kind)],
    }
}

fn vk_settings(mock: &VkMock, kind: VkTokenKind) -> VkSettings {
    VkSettings {
        api_url: mock.url(),
        api_version: "5.199".into(),
        official_owner_ids: vec![ADM],
        tokens: vec![VkTokenConfig {
            name: "main".into(),
            kind,
            env: None,
            token: Some(Secret(TOKEN.into())),
            requests_per_second: 20.0,
        }],
        communities: vec![VkCommunityConfig {
            name: "vk-podslushano".into(),
            owner_id: Some(WALL),
            domain: None,
            token: None,
            territory: Some("gavrilov-yam".into()),
            community: Some("Подслушано Гаврилов-Ям".into()),
            page_size: 100,
            max_pages: 2,
            first_poll_pages: 1,
            poll: Some(quick_poll()),
            enabled: true,
        }],
        searches: Vec::new(),
    }
}

fn loaded(dir: &std::path::Path) -> Loaded {
    let mut loaded = Loaded::embedded(dir.to_path_buf());
    loaded.settings.index.commit_interval_secs = 1;
    loaded.settings.poll = quick_poll();
    loaded.settings.comments.interval_secs = 1;
    loaded
}

async fn start(loaded: &Loaded) -> Running {
    let sources = otklik::sources::build(loaded).unwrap();
    let (activity, _) = tokio::sync::broadcast::channel(1024);
    otklik::daemon::start(loaded, sources, activity)
        .await
        .unwrap()
}

/// Wait up to `secs` for `ready`, failing with `what` and the sources' health.
async fn wait_for(running: &Running, secs: u64, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "{what}; stored {}, health: {:?}",
            running.store.post_count(),
            running.store.all_health().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn vk_key(native: &str) -> PostKey {
    PostKey::new(Platform::Vk, native)
}

fn follow_cursor(running: &Running, post: &PostKey) -> Option<FollowCursor> {
    running
        .store
        .cursor(&cursor_key(post))
        .unwrap()
        .map(|v| serde_json::from_value(v).unwrap())
}

fn vk_comments_are_followed(kind: VkTokenKind) {
    runtime().block_on(async {
        let now = Utc::now().timestamp();
        let mock = VkMock::start(vk_data(now, kind)).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut loaded = loaded(dir.path());
        loaded.settings.sources.vk = vk_settings(&mock, kind);
        let running = start(&loaded).await;

        let water = vk_key("-200000001_42");
        let rubbish = vk_key("-200000001_41");
        let incident_of = |key: &PostKey| {
            running
                .store
                .post_by_key(key)
                .unwrap()
                .and_then(|p| p.incident)
        };
        wait_for(&running, 30, "both complaints become incidents", || {
            incident_of(&water).is_some() && incident_of(&rubbish).is_some()
        })
        .await;
        let id = incident_of(&water).unwrap();
        assert_eq!(running.store.incident(id).unwrap().unwrap().mentions, 1);

        // Comments appear under the water complaint: a resident's follow-up and the
        // administration's answer.
        mock.delete(WALL, 42);
        mock.publish(
            water_post(now)
                .comment(MockComment::new(1, OLEG, now - 300, FOLLOW_UP))
                .comment(MockComment::new(2, ADM, now - 200, ANSWER)),
        );
        let follow_up = vk_key("-200000001_42_c1");
        let answer = vk_key("-200000001_42_c2");
        let stored = |key: &PostKey| running.store.post_by_key(key).unwrap();
        // Whenever the cursor is seen, the comments it covers are already stored.
        wait_for(&running, 20, "the comments are stored", || {
            if let Some(cursor) = follow_cursor(&running, &water) {
                assert!(
                    stored(&follow_up).is_some() && stored(&answer).is_some(),
                    "the cursor {cursor:?} moved before its comments were stored"
                );
                true
            } else {
                false
            }
        })
        .await;
        assert_eq!(follow_cursor(&running, &water).unwrap().last_id, Some(2));

        let follow_up = stored(&follow_up).unwrap();
        assert_eq!(follow_up.post.parent.as_ref(), Some(&water));
        assert_eq!(follow_up.post.community, "Подслушано Гаврилов-Ям");
        assert_eq!(follow_up.post.source, "vk-podslushano");
        assert_eq!(follow_up.post.author_kind, AuthorKind::Resident);
        assert_eq!(
            follow_up.incident,
            Some(id),
            "the follow-up joins the incident"
        );
        let answer = stored(&answer).unwrap();
        assert_eq!(answer.post.parent.as_ref(), Some(&water));
        assert_eq!(answer.post.author_kind, AuthorKind::Official);
        assert_eq!(running.store.incident(id).unwrap().unwrap().mentions, 2);
        // The post with closed comments was passed over, not given a cursor.
        assert_eq!(follow_cursor(&running, &rubbish), None);

        // Later rounds read nothing new…
        let count = running.store.post_count();
        let calls = mock.count("wall.getComments");
        wait_for(&running, 10, "more rounds run", || {
            mock.count("wall.getComments") >= calls + 4
        })
        .await;
        assert_eq!(running.store.post_count(), count);
        let health = running
            .store
            .health("comments:vk")
            .unwrap()
            .expect("comment reading keeps a health record");
        assert_eq!(health.state, HealthState::Ok, "{health:?}");
        assert_eq!(health.posts_stored, 2);

        // …until another comment appears: only it is new.
        mock.delete(WALL, 42);
        mock.publish(
            water_post(now)
                .comment(MockComment::new(1, OLEG, now - 300, FOLLOW_UP))
                .comment(MockComment::new(2, ADM, now - 200, ANSWER))
                .comment(MockComment::new(
                    3,
                    IRINA,
                    now - 100,
                    "И на Кирова, 5 тоже нет воды, поддерживаю",
                )),
        );
        wait_for(&running, 20, "the third comment is stored", || {
            follow_cursor(&running, &water).and_then(|c| c.last_id) == Some(3)
        })
        .await;
        assert_eq!(running.store.post_count(), count + 1);
        assert_eq!(running.store.incident(id).unwrap().unwrap().mentions, 3);
        running.shutdown(Duration::from_secs(5)).await.unwrap();
        mock.stop().await;
    });
}

#[test]
fn vk_comments_of_incidents_are_read_in_one_execute_with_a_user_token() {
    vk_comments_are_followed(VkTokenKind::User);
}

#[test]
fn vk_comments_of_incidents_are_read_one_by_one_with_a_service_token() {
    vk_comments_are_followed(VkTokenKind::Service);
}

#[test]
fn a_refused_vk_token_stops_the_comment_round_with_the_reason() {
    runtime().block_on(async {
        let now = Utc::now().timestamp();
        let kind = VkTokenKind::Service;
        let mock = VkMock::start(vk_data(now, kind)).await.unwrap();
        // The first comment request is refused as if the token were revoked (code 5).
        mock.fault(Fault::on("wall.getComments", 1, FaultKind::Api(5)));
        let dir = tempfile::tempdir().unwrap();
        let mut loaded = loaded(dir.path());
        loaded.settings.sources.vk = vk_settings(&mock, kind);
        let running = start(&loaded).await;
        wait_for(&running, 30, "the comment round stops", || {
            running
                .store
                .health("comments:vk")
                .unwrap()
                .is_some_and(|h| h.state == HealthState::Disabled)
        })
        .await;
        let reason = running
            .store
            .health("comments:vk")
            .unwrap()
            .unwrap()
            .last_error
            .unwrap();
        assert!(
            reason.contains("код 5") && reason.contains("токен"),
            "{reason}"
        );
        // One refused call stopped the token: nothing more was asked with it.
        let calls = mock.count("wall.getComments");
        assert_eq!(calls, 1);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(mock.count("wall.getComments"), calls);
        // The administrator is told, once.
        let notices: Vec<_> = running
            .store
            .notices()
            .unwrap()
            .into_iter()
            .filter(|n| n.source == "comments:vk")
            .collect();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert_eq!(notices[0].state, HealthState::Disabled);
        running.shutdown(Duration::from_secs(5)).await.unwrap();
        mock.stop().await;
    });
}

#[test]
fn ok_comments_of_incidents_are_read_from_the_last_anchor() {
    runtime().block_on(async {
        let group_id = "57000000000001";
        let mock = OkMock::start(
            ok_mock::MockApp::default(),
            vec![ok_mock::MockGroup {
                id: group_id.into(),
                name: "Гаврилов-Ям — наш город".into(),
                topics: vec![ok_mock::MockTopic::new(
                    "9001",
                    Utc::now() - chrono::Duration::minutes(10),
                    WATER,
                )],
            }],
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut loaded = loaded(dir.path());
        let mut ok = mock.settings(Some("gavrilov-yam"));
        ok.poll = Some(quick_poll());
        loaded.settings.sources.ok = Some(ok);
        let running = start(&loaded).await;

        let topic = PostKey::new(Platform::Ok, format!("{group_id}_9001"));
        let incident_of = |key: &PostKey| {
            running
                .store
                .post_by_key(key)
                .unwrap()
                .and_then(|p| p.incident)
        };
        wait_for(&running, 30, "the topic becomes an incident", || {
            incident_of(&topic).is_some()
        })
        .await;
        let id = incident_of(&topic).unwrap();
        let comment = |id: &str, text: &str, minutes: i64| ok_mock::MockComment {
            id: id.into(),
            author_id: "580000000002".into(),
            author_name: "Олег Волков".into(),
            text: text.into(),
            date_ms: (Utc::now() - chrono::Duration::minutes(minutes)).timestamp_millis(),
        };
        mock.comment(group_id, "9001", comment("c1", FOLLOW_UP, 5));
        let first = PostKey::new(Platform::Ok, format!("{group_id}_9001_c1"));
        wait_for(&running, 20, "the comment is stored", || {
            follow_cursor(&running, &topic).is_some()
        })
        .await;
        let stored = running
            .store
            .post_by_key(&first)
            .unwrap()
            .expect("stored before the cursor moved");
        assert_eq!(stored.post.parent.as_ref(), Some(&topic));
        assert_eq!(stored.incident, Some(id));
        assert_eq!(stored.post.community, "Гаврилов-Ям — наш город");
        assert_eq!(running.store.incident(id).unwrap().unwrap().mentions, 2);
        assert_eq!(
            follow_cursor(&running, &topic).unwrap().anchor.as_deref(),
            Some("pos:1")
        );

        mock.comment(
            group_id,
            "9001",
            comment("c2", "И у нас на Кирова тоже нет воды, поддерживаю", 1),
        );
        wait_for(&running, 20, "the second comment is stored", || {
            follow_cursor(&running, &topic).and_then(|c| c.anchor) == Some("pos:2".into())
        })
        .await;
        let second = PostKey::new(Platform::Ok, format!("{group_id}_9001_c2"));
        assert!(running.store.post_by_key(&second).unwrap().is_some());
        assert_eq!(running.store.incident(id).unwrap().unwrap().mentions, 3);
        // Each round reads on from the anchor, so the first comment is not asked for again.
        let health = running.store.health("comments:ok").unwrap().unwrap();
        assert_eq!(health.posts_stored, 2, "{health:?}");
        running.shutdown(Duration::from_secs(5)).await.unwrap();
        mock.stop().await;
    });
}

#[test]
fn the_comments_section_is_checked_and_its_keys_are_reserved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otklik.toml");
    let load = |extra: &str| {
        std::fs::write(&path, common::config_text(dir.path(), extra)).unwrap();
        otklik::config::load(&path)
    };
    let loaded = load("").unwrap();
    assert_eq!(loaded.settings.comments.interval_secs, 300);
    assert_eq!(loaded.settings.comments.follow_days, 14);
    assert_eq!(loaded.settings.comments.max_posts_per_round, 200);
    let loaded =
        load("[comments]\ninterval_secs = 60\nfollow_days = 3\nmax_posts_per_round = 0\n").unwrap();
    assert_eq!(loaded.settings.comments.interval_secs, 60);
    assert_eq!(loaded.settings.comments.follow_days, 3);
    assert_eq!(loaded.settings.comments.max_posts_per_round, 0);

    let error = load("[comments]\ninterval_secs = 0\n").unwrap_err();
    assert_eq!(error.key, "comments.interval_secs");
    let error = load("[comments]\nfollow_days = 0\n").unwrap_err();
    assert_eq!(error.key, "comments.follow_days");
    let error = load("[comments]\nfollow_day = 3\n").unwrap_err();
    assert!(error.to_string().contains("follow_day"), "{error}");
    // Its cursors and health records are named `comments:…`: no source may be.
    let error =
        load("[[sources.rss]]\nname = \"comments:vk\"\nurl = \"https://example.ru/rss.xml\"\n")
            .unwrap_err();
    assert_eq!(error.key, "sources.rss[0].name");
    assert!(error.problem.contains("comments:"), "{error}");
}

#[test]
fn the_shipped_configuration_documents_the_comments_section_with_its_defaults() {
    let text = std::fs::read_to_string(common::repo_config().join("otklik.toml")).unwrap();
    let shipped: otklik::config::Settings = toml::from_str(&text).unwrap();
    assert!(text.contains("\n[comments]\n"));
    assert_eq!(shipped.comments, otklik::config::CommentSettings::default());
}

#[test]
fn comments_are_read_within_the_request_budget_the_walls_use() {
    runtime().block_on(async {
        let now = Utc::now().timestamp();
        let kind = VkTokenKind::Service;
        let mut data = vk_data(now, kind);
        // Many followed posts: a comment round asks for one after the other while the wall
        // is polled every second.
        for (i, street) in ["Ленина", "Менжинского", "Северной", "Седова", "Шишкина"]
            .iter()
            .enumerate()
        {
            data.posts.push(MockPost::new(
                WALL,
                50 + i as i64,
                OLEG,
                now - 500 + i as i64,
                &format!("На улице {street} нет воды с утра, когда дадут воду?"),
            ));
        }
        let mock = VkMock::start(data).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut loaded = loaded(dir.path());
        let mut vk = vk_settings(&mock, kind);
        vk.tokens[0].requests_per_second = 4.0;
        loaded.settings.sources.vk = vk;
        let running = start(&loaded).await;
        wait_for(
            &running,
            40,
            "several comment rounds over seven posts",
            || mock.count("wall.getComments") >= 21,
        )
        .await;
        running.shutdown(Duration::from_secs(5)).await.unwrap();
        let calls = mock.calls();
        assert!(calls.iter().any(|c| c.method == "wall.get"));
        // One budget for the token: 4 a second, whoever calls.
        let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1].at - w[0].at).collect();
        let closest = gaps.iter().min().unwrap();
        assert!(
            *closest >= Duration::from_millis(200),
            "two requests of one token {closest:?} apart"
        );
        mock.stop().await;
    });
}
