//! The VK source against the loopback VK mock (`otklik::demo::vk_mock`): paging, reposts,
//! searches, comments, every error policy of wire-formats §1.5, broken transports, and the
//! rate budget shared by the sources of one token; the configuration checks; and the daemon
//! reading the mock, with a refused wall recorded in its health.

mod common;

use otklik::config::{
    HttpSettings, Secret, VkCommunityConfig, VkSearchConfig, VkSettings, VkTokenConfig, VkTokenKind,
};
use otklik::demo::vk_mock::{
    Fault, FaultKind, MockComment, MockGroup, MockPost, MockUser, VkMock, VkMockData,
};
use otklik::model::{AuthorKind, Platform, Post, PostKey};
use otklik::sources::http::HttpClient;
use otklik::sources::vk::{
    CommentContext, CommentCursor, VkClient, VkClients, VkSearchSource, VkWallSource,
    comments_of_posts,
};
use otklik::sources::{Batch, Cursor, Source, SourceError};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

const SERVICE: &str = "service-token-abc";
const USER: &str = "vk1.a.user-token-xyz";
const GROUP: i64 = 200_000_001;
const WALL: i64 = -GROUP;
const ADM: i64 = -200_000_002;
const VILLAGE: i64 = -300;
const RESIDENT: i64 = 521_234_567;
/// Dates of the generated posts start here (unixtime), a minute apart.
const T0: i64 = 1_764_000_000;

fn http_with(timeout_secs: u64) -> HttpClient {
    HttpClient::new(&HttpSettings {
        timeout_secs,
        connect_timeout_secs: 2,
        ..HttpSettings::default()
    })
    .expect("client builds")
}

/// A community wall with posts 2..=n (post i published at T0 + i minutes) and its oldest
/// post, 1, pinned: `wall.get` serves it first.
fn wall(n: i64) -> VkMockData {
    let mut posts: Vec<MockPost> = (2..=n)
        .map(|i| {
            MockPost::new(
                WALL,
                i,
                RESIDENT,
                T0 + i * 60,
                &format!("Сообщение номер {i} про Гаврилов-Ям"),
            )
        })
        .collect();
    posts.push(MockPost::new(WALL, 1, WALL, T0, "Правила сообщества").pinned());
    VkMockData {
        groups: vec![
            MockGroup::new(GROUP, "Подслушано Гаврилов-Ям", "podslushano_gy"),
            MockGroup::new(-ADM, "Администрация района", "gavyam_adm"),
            MockGroup::new(300, "Великое — наше село", "velikoe_selo"),
        ],
        users: vec![MockUser::new(RESIDENT, "Ирина", "Петрова")],
        posts,
        tokens: vec![
            (SERVICE.into(), VkTokenKind::Service),
            (USER.into(), VkTokenKind::User),
        ],
    }
}

fn settings(mock: &VkMock, rps: f64) -> VkSettings {
    let token = |name: &str, value: &str, kind| VkTokenConfig {
        name: name.into(),
        kind,
        env: None,
        token: Some(Secret(value.into())),
        requests_per_second: rps,
    };
    VkSettings {
        api_url: mock.url(),
        official_owner_ids: vec![ADM],
        tokens: vec![
            token("service", SERVICE, VkTokenKind::Service),
            token("user", USER, VkTokenKind::User),
        ],
        ..VkSettings::default()
    }
}

fn community(name: &str, owner_id: i64, page_size: u32) -> VkCommunityConfig {
    VkCommunityConfig {
        name: name.into(),
        owner_id: Some(owner_id),
        domain: None,
        token: Some("service".into()),
        territory: Some("gavrilov-yam".into()),
        community: None,
        page_size,
        max_pages: 10,
        first_poll_pages: 1,
        poll: None,
        enabled: true,
    }
}

struct Setup {
    mock: VkMock,
    clients: VkClients,
    official: Arc<HashSet<i64>>,
}

async fn setup(data: VkMockData) -> Setup {
    setup_with(data, 50.0, 5).await
}

async fn setup_with(data: VkMockData, rps: f64, timeout_secs: u64) -> Setup {
    let mock = VkMock::start(data).await.expect("mock starts");
    let settings = settings(&mock, rps);
    let clients = VkClients::new(&settings, &http_with(timeout_secs));
    Setup {
        mock,
        clients,
        official: Arc::new(settings.official_owner_ids.iter().copied().collect()),
    }
}

impl Setup {
    fn client(&self, token: &str) -> VkClient {
        self.clients.get(Some(token)).expect("token").clone()
    }

    fn wall_source(&self, cfg: &VkCommunityConfig) -> VkWallSource {
        let token = cfg.token.as_deref().unwrap_or("service");
        VkWallSource::new(cfg, self.client(token), self.official.clone())
    }

    fn search_source(&self, cfg: &VkSearchConfig) -> VkSearchSource {
        let token = cfg.token.as_deref().unwrap_or("service");
        VkSearchSource::new(cfg, self.client(token), self.official.clone())
    }

    /// Top-level requests received so far.
    fn requests(&self) -> usize {
        self.mock.calls().len()
    }
}

async fn fetch(source: &mut dyn Source, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
    tokio::time::timeout(Duration::from_secs(30), source.fetch(cursor))
        .await
        .expect("fetch finishes")
}

fn ids(posts: &[Post]) -> Vec<i64> {
    posts
        .iter()
        .map(|p| p.key.native_id.rsplit('_').next().unwrap().parse().unwrap())
        .collect()
}

fn range(from: i64, to: i64) -> BTreeSet<i64> {
    (from..=to).collect()
}

fn cursor_with_last_id(owner: i64, last: i64) -> Cursor {
    serde_json::json!({"owner_id": owner, "community": "Подслушано Гаврилов-Ям", "last_id": last})
}

// ---------------------------------------------------------------------------------------
// Paging

#[tokio::test]
async fn first_poll_reads_one_page_then_only_new_posts() {
    let s = setup(wall(150)).await;
    let mut source = s.wall_source(&community("gy", WALL, 100));
    let first = fetch(&mut source, None).await.unwrap();
    // The pinned post and the 99 newest.
    assert_eq!(first.posts.len(), 100);
    let got: BTreeSet<i64> = ids(&first.posts).into_iter().collect();
    let mut expected = range(52, 150);
    expected.insert(1);
    assert_eq!(got, expected);
    assert_eq!(s.mock.count("wall.get"), 1);
    let post = first
        .posts
        .iter()
        .find(|p| p.key.native_id == "-200000001_150")
        .unwrap();
    assert_eq!(post.key.platform, Platform::Vk);
    assert_eq!(
        post.url.as_deref(),
        Some("https://vk.com/wall-200000001_150")
    );
    assert_eq!(post.community, "Подслушано Гаврилов-Ям");
    assert_eq!(post.community_territory.as_deref(), Some("gavrilov-yam"));
    assert_eq!(post.author.as_deref(), Some("Ирина Петрова"));
    assert_eq!(
        post.author_url.as_deref(),
        Some("https://vk.com/id521234567")
    );
    assert_eq!(post.author_kind, AuthorKind::Resident);
    assert_eq!(post.published.timestamp(), T0 + 150 * 60);
    assert_eq!(post.source, "gy");

    for i in 151..=153 {
        s.mock
            .publish(MockPost::new(WALL, i, RESIDENT, T0 + i * 60, "новое"));
    }
    let second = fetch(&mut source, first.cursor.as_ref()).await.unwrap();
    assert_eq!(
        ids(&second.posts),
        vec![153, 152, 151],
        "only the new posts, pinned not again"
    );
    assert!(second.changed);
    assert_eq!(
        s.mock.count("wall.get"),
        2,
        "the first page reached what was seen"
    );

    let third = fetch(&mut source, second.cursor.as_ref()).await.unwrap();
    assert!(third.posts.is_empty() && !third.changed);
}

#[tokio::test]
async fn a_pinned_old_post_does_not_stop_paging() {
    let s = setup(wall(150)).await;
    let mut source = s.wall_source(&community("gy", WALL, 10));
    let cursor = cursor_with_last_id(WALL, 130);
    let batch = fetch(&mut source, Some(&cursor)).await.unwrap();
    let got: BTreeSet<i64> = ids(&batch.posts).into_iter().collect();
    assert_eq!(got, range(131, 150));
    assert_eq!(batch.posts.len(), 20, "each post once");
    let next: serde_json::Value = batch.cursor.unwrap();
    assert_eq!(next["last_id"], 150);
}

#[tokio::test]
async fn posts_published_while_paging_are_neither_repeated_nor_lost() {
    let s = setup(wall(50)).await;
    // Five posts appear just before the second page is served: page 2 starts with posts
    // page 1 already gave.
    let fresh: Vec<MockPost> = (51..=55)
        .map(|i| MockPost::new(WALL, i, RESIDENT, T0 + i * 60, "пока листали"))
        .collect();
    s.mock
        .fault(Fault::on("wall.get", 2, FaultKind::Publish(fresh)));
    let mut source = s.wall_source(&community("gy", WALL, 10));
    let batch = fetch(&mut source, Some(&cursor_with_last_id(WALL, 10)))
        .await
        .unwrap();
    let got = ids(&batch.posts);
    assert_eq!(got.len(), 40, "no repeats: {got:?}");
    assert_eq!(got.iter().copied().collect::<BTreeSet<_>>(), range(11, 50));
    // They come on the next poll.
    let next = fetch(&mut source, batch.cursor.as_ref()).await.unwrap();
    assert_eq!(ids(&next.posts), vec![55, 54, 53, 52, 51]);
}

#[tokio::test]
async fn posts_deleted_while_paging_do_not_make_it_skip_any() {
    let s = setup(wall(50)).await;
    // Post 45 (on page 1) is deleted before page 2: everything older moves up by one.
    s.mock
        .fault(Fault::on("wall.get", 2, FaultKind::Delete(WALL, 45)));
    let mut source = s.wall_source(&community("gy", WALL, 10));
    let batch = fetch(&mut source, Some(&cursor_with_last_id(WALL, 10)))
        .await
        .unwrap();
    let got: BTreeSet<i64> = ids(&batch.posts).into_iter().collect();
    assert_eq!(got, range(11, 50), "post 40 must not be skipped");
}

/// Poll `source` from `cursor` until its cursor has no backlog; every post delivered.
async fn poll_until_caught_up(
    source: &mut VkWallSource,
    mut cursor: Cursor,
) -> (Vec<i64>, Cursor, usize) {
    let mut delivered = Vec::new();
    for polls in 1..=20 {
        let batch = fetch(source, Some(&cursor)).await.unwrap();
        delivered.extend(ids(&batch.posts));
        cursor = batch.cursor.unwrap();
        if cursor.get("backlog").is_none() {
            return (delivered, cursor, polls);
        }
    }
    panic!("still behind after 20 polls: {cursor}");
}

#[tokio::test]
async fn more_new_posts_than_one_poll_reads_are_read_on_the_next_polls() {
    let s = setup(wall(300)).await;
    let mut cfg = community("gy", WALL, 10);
    cfg.max_pages = 5;
    let mut source = s.wall_source(&cfg);
    let first = fetch(&mut source, Some(&cursor_with_last_id(WALL, 10)))
        .await
        .unwrap();
    assert_eq!(
        ids(&first.posts).len(),
        49,
        "five pages, the pinned one not new"
    );
    let cursor = first.cursor.unwrap();
    assert_eq!(cursor["last_id"], 300);
    assert_eq!(cursor["backlog"]["above"], 10);
    assert_eq!(cursor["backlog"]["below"], 252);
    // New posts while behind.
    for i in 301..=303 {
        s.mock
            .publish(MockPost::new(WALL, i, RESIDENT, T0 + i * 60, "новое"));
    }
    let (rest, cursor, polls) = poll_until_caught_up(&mut source, cursor).await;
    let mut all = ids(&first.posts);
    all.extend(&rest);
    let unique: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(unique, range(11, 303), "none skipped");
    assert_eq!(all.len(), unique.len(), "none delivered twice");
    // Each poll: the top page, one page stepped back, three pages of backlog = 30 posts.
    // Reading the delivered posts again instead of jumping over them would never catch up.
    assert!(polls <= 9, "{polls} polls");
    assert_eq!(cursor["last_id"], 303);
}

#[tokio::test]
async fn a_backlog_survives_posts_deleted_between_polls() {
    let s = setup(wall(300)).await;
    let mut cfg = community("gy", WALL, 10);
    cfg.max_pages = 5;
    let mut source = s.wall_source(&cfg);
    let first = fetch(&mut source, Some(&cursor_with_last_id(WALL, 10)))
        .await
        .unwrap();
    // More delivered posts deleted than a page: the jump lands past the unread ones.
    for id in 258..=271 {
        s.mock.delete(WALL, id);
    }
    let (rest, _, _) = poll_until_caught_up(&mut source, first.cursor.unwrap()).await;
    let mut all: BTreeSet<i64> = ids(&first.posts).into_iter().collect();
    all.extend(rest);
    // Posts 258..=271 were delivered before they were deleted.
    assert_eq!(all, range(11, 300), "none skipped");
}

#[tokio::test]
async fn a_user_token_fetches_later_pages_in_one_execute() {
    let s = setup(wall(50)).await;
    let mut cfg = community("gy", WALL, 10);
    cfg.token = Some("user".into());
    let mut source = s.wall_source(&cfg);
    let batch = fetch(&mut source, Some(&cursor_with_last_id(WALL, 10)))
        .await
        .unwrap();
    assert_eq!(
        ids(&batch.posts).into_iter().collect::<BTreeSet<_>>(),
        range(11, 50)
    );
    let calls = s.mock.calls();
    let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(
        methods,
        vec!["wall.get", "execute"],
        "page 1, then pages 2-5 at once"
    );
    assert_eq!(calls[1].inner, vec!["wall.get"; 4]);
    assert!(calls.iter().all(|c| c.token.as_deref() == Some(USER)));

    // The same with the service token costs a request per page.
    let mut plain = s.wall_source(&community("gy2", WALL, 10));
    let before = s.requests();
    fetch(&mut plain, Some(&cursor_with_last_id(WALL, 10)))
        .await
        .unwrap();
    assert_eq!(s.requests() - before, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_of_sources_waiting_on_one_user_token_go_as_one_execute() {
    let mut data = wall(5);
    data.posts.extend(recent_posts(3, "Великое: нет воды"));
    let s = setup_with(data, 3.0, 5).await;
    let source = |name: &str, owner: i64| {
        let mut cfg = community(name, owner, 100);
        cfg.token = Some("user".into());
        cfg.community = Some(name.into());
        s.wall_source(&cfg)
    };
    let (mut a, mut b, mut c, mut d) = (
        source("a", WALL),
        source("b", VILLAGE),
        source("c", WALL),
        source("d", VILLAGE),
    );
    // One of the four wall.get calls (the third to reach the mock) is refused.
    s.mock.fault(Fault::on("wall.get", 3, FaultKind::Api(15)));
    let (ra, rb, rc, rd) = tokio::join!(
        fetch(&mut a, None),
        fetch(&mut b, None),
        fetch(&mut c, None),
        fetch(&mut d, None)
    );
    let calls = s.mock.calls();
    // Whoever gets the first slot sends what waits by then (all four, or itself alone),
    // the next slot the rest: never four requests.
    assert!(calls.len() <= 2, "{calls:?}");
    assert!(
        calls
            .iter()
            .any(|c| c.method == "execute" && c.inner.len() >= 3),
        "{calls:?}"
    );
    let wall_gets: usize = calls
        .iter()
        .map(|c| {
            if c.method == "wall.get" {
                1
            } else {
                c.inner.len()
            }
        })
        .sum();
    assert_eq!(wall_gets, 4, "each call sent once: {calls:?}");
    let results = [ra, rb, rc, rd];
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(SourceError::Disabled(m)) if m.contains("код 15")))
        .count();
    assert_eq!(refused, 1, "only the refused call fails: {results:?}");
    let delivered: usize = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|b| b.posts.len())
        .sum();
    // The other three read their walls: 5 posts on -200000001, 3 on the village's.
    assert!(
        delivered == 5 + 5 + 3 || delivered == 5 + 3 + 3,
        "{delivered}"
    );
}

#[tokio::test]
async fn a_domain_is_resolved_once_with_groups_get_by_id() {
    let s = setup(wall(5)).await;
    let mut cfg = community("gy", WALL, 100);
    cfg.owner_id = None;
    cfg.domain = Some("podslushano_gy".into());
    let mut source = s.wall_source(&cfg);
    let first = fetch(&mut source, None).await.unwrap();
    assert_eq!(first.posts.len(), 5);
    assert_eq!(first.posts[0].community, "Подслушано Гаврилов-Ям");
    assert!(first.posts[0].key.native_id.starts_with("-200000001_"));
    assert_eq!(s.mock.count("groups.getById"), 1);
    fetch(&mut source, first.cursor.as_ref()).await.unwrap();
    assert_eq!(
        s.mock.count("groups.getById"),
        1,
        "the cursor remembers the owner"
    );

    // Another domain in the configuration: resolved again, read afresh.
    let mut moved = cfg.clone();
    moved.domain = Some("velikoe_selo".into());
    let other = fetch(&mut s.wall_source(&moved), first.cursor.as_ref())
        .await
        .unwrap();
    assert_eq!(s.mock.count("groups.getById"), 2);
    assert_eq!(other.cursor.unwrap()["owner_id"], VILLAGE);

    let mut unknown = cfg.clone();
    unknown.domain = Some("no_such_club".into());
    let error = fetch(&mut s.wall_source(&unknown), None).await.unwrap_err();
    assert!(
        matches!(error, SourceError::Disabled(ref m) if m.contains("код 100")),
        "{error}"
    );
}

#[tokio::test]
async fn reposts_carry_the_original_text_and_the_administration_is_official() {
    let mut data = wall(2);
    data.posts.push(
        MockPost::new(WALL, 3, WALL, T0 + 300, "").repost(MockPost::new(
            ADM,
            77,
            ADM,
            T0 + 200,
            "Плановое отключение горячей воды 20–24 июня.",
        )),
    );
    data.posts.push(
        MockPost::new(WALL, 4, ADM, T0 + 400, "Администрация: бригада выехала")
            .geo("57.302 39.851"),
    );
    data.posts
        .push(MockPost::new(WALL, 5, WALL, T0 + 500, "Анонимно: нет света").signed(RESIDENT));
    let s = setup(data).await;
    let batch = fetch(&mut s.wall_source(&community("gy", WALL, 100)), None)
        .await
        .unwrap();
    let by = |id: &str| batch.posts.iter().find(|p| p.key.native_id == id).unwrap();
    assert_eq!(
        by("-200000001_3").text,
        "Плановое отключение горячей воды 20–24 июня."
    );
    let answer = by("-200000001_4");
    assert_eq!(answer.author_kind, AuthorKind::Official);
    assert_eq!(answer.author.as_deref(), Some("Администрация района"));
    assert_eq!(
        answer.author_url.as_deref(),
        Some("https://vk.com/gavyam_adm")
    );
    let signed = by("-200000001_5");
    assert_eq!(signed.author.as_deref(), Some("Ирина Петрова"));
    assert_eq!(signed.author_kind, AuthorKind::Resident);
}

// ---------------------------------------------------------------------------------------
// Search

fn search(name: &str, query: &str, page_size: u32, max_pages: u32) -> VkSearchConfig {
    VkSearchConfig {
        name: name.into(),
        query: query.into(),
        token: Some("service".into()),
        territory: Some("velikoe".into()),
        lookback_hours: 24,
        page_size,
        max_pages,
        poll: None,
        enabled: true,
    }
}

/// Posts of the village community (-300) of the last hour.
fn recent_posts(n: i64, text: &str) -> Vec<MockPost> {
    let now = chrono::Utc::now().timestamp();
    (1..=n)
        .map(|i| MockPost::new(VILLAGE, 1000 + i, RESIDENT, now - 3600 + i * 10, text))
        .collect()
}

#[tokio::test]
async fn a_search_pages_with_next_from_and_resumes_after_a_restart() {
    let mut data = wall(3);
    data.posts
        .extend(recent_posts(25, "В селе Великое нет воды"));
    // Too old for the first window (24 h).
    data.posts.push(MockPost::new(
        VILLAGE,
        900,
        RESIDENT,
        chrono::Utc::now().timestamp() - 3 * 86_400,
        "Великое давно",
    ));
    let s = setup(data).await;
    let cfg = search("vk-velikoe", "великое", 10, 2);
    let mut source = s.search_source(&cfg);
    let first = fetch(&mut source, None).await.unwrap();
    assert_eq!(first.posts.len(), 20, "two pages of ten");
    let cursor = first.cursor.clone().unwrap();
    assert!(cursor["next_from"].is_string(), "{cursor}");
    assert_eq!(
        first.posts[0].community_territory.as_deref(),
        Some("velikoe")
    );
    assert_eq!(first.posts[0].community, "Великое — наше село");

    // A new source object, as after a restart, with the stored cursor.
    let mut restarted = s.search_source(&cfg);
    let second = fetch(&mut restarted, Some(&cursor)).await.unwrap();
    assert_eq!(
        second.posts.len(),
        5,
        "the rest of the window, from next_from"
    );
    let calls = s.mock.calls();
    let last = calls.last().unwrap();
    let param = |k: &str| {
        last.params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        param("start_from"),
        cursor["next_from"].as_str().map(str::to_string)
    );
    assert_eq!(param("start_time"), Some(cursor["start_time"].to_string()));
    let all: HashSet<PostKey> = first
        .posts
        .iter()
        .chain(&second.posts)
        .map(|p| p.key.clone())
        .collect();
    assert_eq!(all.len(), 25);
    assert!(!all.contains(&PostKey::new(Platform::Vk, "-300_900")));
    let done = second.cursor.unwrap();
    assert!(done.get("next_from").is_none(), "{done}");

    // Next window: the overlap is not delivered again, a new post is.
    s.mock.publish(MockPost::new(
        VILLAGE,
        2000,
        RESIDENT,
        chrono::Utc::now().timestamp(),
        "Великое: прорвало трубу",
    ));
    let third = fetch(&mut restarted, Some(&done)).await.unwrap();
    assert_eq!(ids(&third.posts), vec![2000]);
}

// ---------------------------------------------------------------------------------------
// Comments

fn commented() -> VkMockData {
    let mut data = wall(1);
    data.posts.push(
        MockPost::new(WALL, 10, RESIDENT, T0, "Нет воды на Кирова")
            .comment(MockComment::new(1, RESIDENT, T0 + 10, "У нас тоже"))
            .comment(
                MockComment::new(2, ADM, T0 + 20, "Бригада выехала").reply(MockComment::new(
                    3,
                    RESIDENT,
                    T0 + 30,
                    "Спасибо",
                )),
            ),
    );
    data.posts
        .push(MockPost::new(WALL, 11, RESIDENT, T0, "Закрыто").comments_closed());
    data.posts.push(
        MockPost::new(WALL, 12, RESIDENT, T0, "Фонари").comment(MockComment::new(
            5,
            RESIDENT,
            T0 + 10,
            "Не горят",
        )),
    );
    data
}

fn comment_cx(official: &HashSet<i64>) -> CommentContext<'_> {
    CommentContext {
        source: "gy-comments",
        community: "Подслушано Гаврилов-Ям",
        territory: Some("gavrilov-yam"),
        official,
    }
}

#[tokio::test]
async fn comments_of_an_incident_post_and_a_closed_thread_skipped() {
    let s = setup(commented()).await;
    let client = s.client("service");
    let cx = comment_cx(&s.official);
    let batch = client.comments(&cx, WALL, 10, None).await.unwrap();
    let texts: Vec<&str> = batch.posts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, vec!["Бригада выехала", "Спасибо", "У нас тоже"]);
    let answer = &batch.posts[0];
    assert_eq!(answer.author_kind, AuthorKind::Official);
    assert_eq!(
        answer.parent,
        Some(PostKey::new(Platform::Vk, "-200000001_10"))
    );
    assert_eq!(answer.key.native_id, "-200000001_10_c2");
    assert_eq!(
        answer.url.as_deref(),
        Some("https://vk.com/wall-200000001_10?reply=2")
    );
    assert_eq!(batch.cursor, CommentCursor { last_id: Some(2) });
    let again = client
        .comments(&cx, WALL, 10, Some(&batch.cursor))
        .await
        .unwrap();
    assert!(again.posts.is_empty());

    let closed = client.comments(&cx, WALL, 11, None).await.unwrap();
    assert!(closed.posts.is_empty());
    assert!(closed.skipped.as_deref().is_some_and(|m| m.contains("212")));
}

#[tokio::test]
async fn execute_partial_errors_fail_only_their_own_call() {
    let s = setup(commented()).await;
    let client = s.client("user");
    let cx = comment_cx(&s.official);
    let before = s.requests();
    let results = comments_of_posts(
        &client,
        &cx,
        &[(WALL, 10, None), (WALL, 11, None), (WALL, 12, None)],
    )
    .await;
    assert_eq!(s.requests() - before, 1, "one execute for three posts");
    let calls = s.mock.calls();
    assert_eq!(calls.last().unwrap().method, "execute");
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap().posts.len(), 3);
    let closed = results[1].as_ref().unwrap();
    assert!(closed.posts.is_empty() && closed.skipped.is_some());
    assert_eq!(results[2].as_ref().unwrap().posts[0].text, "Не горят");

    // A sub-call that fails with another code fails alone too, with that code.
    s.mock
        .fault(Fault::on("wall.getComments", 5, FaultKind::Api(10)));
    let results = comments_of_posts(&client, &cx, &[(WALL, 10, None), (WALL, 12, None)]).await;
    assert!(results[0].is_ok());
    assert_eq!(results[1].as_ref().unwrap_err().code(), Some(10));
}

#[tokio::test]
async fn a_failing_page_inside_execute_fails_the_poll_and_loses_nothing() {
    let s = setup(wall(50)).await;
    // The 3rd wall.get is the second page of the execute batch.
    s.mock.fault(Fault::on("wall.get", 3, FaultKind::Api(6)));
    let mut cfg = community("gy", WALL, 10);
    cfg.token = Some("user".into());
    let mut source = s.wall_source(&cfg);
    let cursor = cursor_with_last_id(WALL, 10);
    let error = fetch(&mut source, Some(&cursor)).await.unwrap_err();
    assert!(
        matches!(error, SourceError::Transient(ref m) if m.contains("код 6")),
        "{error}"
    );
    let retry = fetch(&mut source, Some(&cursor)).await.unwrap();
    assert_eq!(
        ids(&retry.posts).into_iter().collect::<BTreeSet<_>>(),
        range(11, 50)
    );
}

// ---------------------------------------------------------------------------------------
// Error policies

#[tokio::test]
async fn code_6_is_retried_inside_the_call() {
    let s = setup(wall(5)).await;
    s.mock.fault(Fault::on("wall.get", 1, FaultKind::Api(6)));
    let batch = fetch(&mut s.wall_source(&community("gy", WALL, 100)), None)
        .await
        .unwrap();
    assert_eq!(batch.posts.len(), 5);
    assert_eq!(s.mock.count("wall.get"), 2);
}

#[tokio::test]
async fn codes_1_6_10_that_persist_are_transient() {
    for code in [1, 6, 10] {
        let s = setup(wall(5)).await;
        s.mock
            .fault(Fault::on("wall.get", 1, FaultKind::Api(code)).times(10));
        let error = fetch(&mut s.wall_source(&community("gy", WALL, 100)), None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, SourceError::Transient(ref m) if m.contains(&format!("код {code}"))),
            "{code}: {error}"
        );
        assert_eq!(s.mock.count("wall.get"), 3, "three attempts for {code}");
    }
}

#[tokio::test]
async fn code_9_backs_off_for_minutes() {
    let s = setup(wall(5)).await;
    s.mock.fault(Fault::on("wall.get", 1, FaultKind::Api(9)));
    let error = fetch(&mut s.wall_source(&community("gy", WALL, 100)), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::RetryAfter { retry_after, .. } if retry_after >= Duration::from_secs(600)),
        "{error}"
    );
    assert_eq!(
        s.mock.count("wall.get"),
        1,
        "flood control is not retried at once"
    );
}

#[tokio::test]
async fn code_29_stops_the_method_for_every_source_of_the_token() {
    let s = setup(wall(5)).await;
    s.mock.fault(Fault::on("wall.get", 1, FaultKind::Api(29)));
    let error = fetch(&mut s.wall_source(&community("a", WALL, 100)), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::RetryAfter { retry_after, .. } if retry_after >= Duration::from_secs(60)),
        "{error}"
    );
    // Another source of the same token does not even ask.
    let error = fetch(&mut s.wall_source(&community("b", WALL, 100)), None)
        .await
        .unwrap_err();
    assert!(matches!(error, SourceError::RetryAfter { ref message, .. } if message.contains("29")));
    assert_eq!(s.mock.count("wall.get"), 1);
    // Other methods of the token, and the same method with another token, still work.
    let mut other = community("c", WALL, 100);
    other.token = Some("user".into());
    assert!(fetch(&mut s.wall_source(&other), None).await.is_ok());
    assert!(
        fetch(&mut s.search_source(&search("q", "Сообщение", 10, 1)), None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn codes_5_14_17_stop_the_token_for_every_source() {
    for (code, words) in [(5, "отклонил токен"), (14, "капчу"), (17, "подтвердить")]
    {
        let s = setup(wall(5)).await;
        s.mock.fault(Fault::on("wall.get", 1, FaultKind::Api(code)));
        let error = fetch(&mut s.wall_source(&community("a", WALL, 100)), None)
            .await
            .unwrap_err();
        let SourceError::Disabled(reason) = &error else {
            panic!("{code}: {error}")
        };
        assert!(
            reason.contains(&format!("код {code}")) && reason.contains(words),
            "{reason}"
        );
        assert!(
            !reason.contains(SERVICE),
            "the token never appears in a reason"
        );
        let requests = s.requests();
        let mut search_source = s.search_source(&search("q", "Гаврилов", 10, 1));
        let error = fetch(&mut search_source, None).await.unwrap_err();
        assert!(
            matches!(error, SourceError::Disabled(ref m) if m.contains("остановлен")),
            "{error}"
        );
        assert_eq!(s.requests(), requests, "a stopped token sends nothing");
        // The other token is untouched.
        let mut other = community("c", WALL, 100);
        other.token = Some("user".into());
        assert!(fetch(&mut s.wall_source(&other), None).await.is_ok());
    }
}

#[tokio::test]
async fn a_refused_token_is_code_5_from_the_mock_itself() {
    let s = setup(wall(5)).await;
    let mut settings = settings(&s.mock, 50.0);
    settings.tokens[0].token = Some(Secret("expired".into()));
    let clients = VkClients::new(&settings, &http_with(5));
    let mut source = VkWallSource::new(
        &community("a", WALL, 100),
        clients.get(Some("service")).unwrap().clone(),
        s.official.clone(),
    );
    let error = fetch(&mut source, None).await.unwrap_err();
    assert!(
        matches!(error, SourceError::Disabled(ref m) if m.contains("код 5")),
        "{error}"
    );
}

#[tokio::test]
async fn access_codes_disable_only_their_source() {
    for code in [15, 18, 30, 100, 113, 200, 203] {
        let s = setup(wall(5)).await;
        s.mock.fault(Fault::on("wall.get", 1, FaultKind::Api(code)));
        let error = fetch(&mut s.wall_source(&community("a", WALL, 100)), None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, SourceError::Disabled(ref m) if m.contains(&format!("код {code}")) && m.contains("источник отключён")),
            "{code}: {error}"
        );
        assert_eq!(s.mock.count("wall.get"), 1, "{code} is not retried");
        assert!(
            fetch(&mut s.wall_source(&community("b", WALL, 100)), None)
                .await
                .is_ok(),
            "{code}: the token stays usable"
        );
    }
}

#[tokio::test]
async fn a_banned_community_is_disabled_when_resolved() {
    let mut data = wall(1);
    data.groups[2].deactivated = Some("banned".into());
    let s = setup(data).await;
    let mut cfg = community("banned", VILLAGE, 100);
    cfg.owner_id = None;
    cfg.domain = Some("velikoe_selo".into());
    let error = fetch(&mut s.wall_source(&cfg), None).await.unwrap_err();
    assert!(
        matches!(error, SourceError::Disabled(ref m) if m.contains("заблокировано")),
        "{error}"
    );
    assert_eq!(s.mock.count("wall.get"), 0);
}

#[tokio::test]
async fn a_closed_wall_answers_15_and_disables_the_source() {
    let mut data = wall(1);
    data.groups[2].is_closed = 1;
    let s = setup(data).await;
    let error = fetch(&mut s.wall_source(&community("closed", VILLAGE, 100)), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::Disabled(ref m) if m.contains("код 15")),
        "{error}"
    );
}

#[tokio::test]
async fn codes_210_to_212_on_a_page_skip_it_and_carry_on() {
    for code in [210, 211, 212] {
        let s = setup(wall(50)).await;
        s.mock.fault(Fault::on("wall.get", 2, FaultKind::Api(code)));
        let mut source = s.wall_source(&community("gy", WALL, 10));
        let batch = fetch(&mut source, Some(&cursor_with_last_id(WALL, 10)))
            .await
            .unwrap();
        let got: BTreeSet<i64> = ids(&batch.posts).into_iter().collect();
        assert_eq!(got, range(42, 50), "{code}: the first page is delivered");
    }
}

// ---------------------------------------------------------------------------------------
// Broken transports: the poll fails as transient and the next one delivers everything.

async fn broken_then_whole(fault: FaultKind, timeout_secs: u64, expect: &str) {
    let s = setup_with(wall(20), 50.0, timeout_secs).await;
    s.mock.fault(Fault::on("wall.get", 1, fault));
    let mut source = s.wall_source(&community("gy", WALL, 100));
    let started = std::time::Instant::now();
    let error = fetch(&mut source, Some(&cursor_with_last_id(WALL, 5)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::Transient(ref m) if m.contains(expect)),
        "expected a transient error with {expect:?}, got {error}"
    );
    assert!(started.elapsed() < Duration::from_secs(timeout_secs + 5));
    let batch = fetch(&mut source, Some(&cursor_with_last_id(WALL, 5)))
        .await
        .unwrap();
    assert_eq!(
        ids(&batch.posts).into_iter().collect::<BTreeSet<_>>(),
        range(6, 20)
    );
}

#[tokio::test]
async fn http_5xx_is_transient() {
    broken_then_whole(FaultKind::Status(502), 5, "502").await;
    broken_then_whole(FaultKind::Status(500), 5, "500").await;
}

#[tokio::test]
async fn a_slow_server_is_a_timeout() {
    broken_then_whole(
        FaultKind::Slow(Duration::from_secs(4)),
        1,
        "no complete reply",
    )
    .await;
}

#[tokio::test]
async fn malformed_json_is_transient() {
    broken_then_whole(FaultKind::Malformed, 5, "not valid JSON").await;
}

#[tokio::test]
async fn truncated_json_is_transient() {
    broken_then_whole(FaultKind::Truncated, 5, "not valid JSON").await;
}

#[tokio::test]
async fn a_50_mb_body_is_refused() {
    broken_then_whole(
        FaultKind::Huge(50 * 1024 * 1024),
        10,
        "larger than the limit",
    )
    .await;
}

#[tokio::test]
async fn a_slow_but_timely_reply_is_read() {
    let s = setup(wall(3)).await;
    s.mock.fault(Fault::on(
        "wall.get",
        1,
        FaultKind::Slow(Duration::from_millis(800)),
    ));
    let batch = fetch(&mut s.wall_source(&community("gy", WALL, 100)), None)
        .await
        .unwrap();
    assert_eq!(batch.posts.len(), 3);
}

// ---------------------------------------------------------------------------------------
// Rate budget

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_sources_sharing_a_token_stay_within_its_budget() {
    let mut data = wall(60);
    data.posts
        .extend(recent_posts(30, "Гаврилов-Ям: яма на дороге"));
    let s = setup_with(data, 3.0, 5).await;
    let mut a = s.wall_source(&community("a", WALL, 10));
    let mut b = s.wall_source(&community("b", WALL, 10));
    let mut c = s.search_source(&search("c", "яма на дороге", 10, 3));
    let cursor = cursor_with_last_id(WALL, 20);
    let started = std::time::Instant::now();
    let (ra, rb, rc) = tokio::join!(
        fetch(&mut a, Some(&cursor)),
        fetch(&mut b, Some(&cursor)),
        fetch(&mut c, None)
    );
    ra.unwrap();
    rb.unwrap();
    assert_eq!(rc.unwrap().posts.len(), 30);
    let calls: Vec<_> = s
        .mock
        .calls()
        .into_iter()
        .filter(|c| c.token.as_deref() == Some(SERVICE))
        .collect();
    // 2 × 5 wall pages + 3 search pages.
    assert_eq!(calls.len(), 13);
    for window in calls.windows(4) {
        let span = window[3].at - window[0].at;
        // 20 ms of allowance for loopback jitter; unshared budgets would make it ~330 ms.
        assert!(
            span >= Duration::from_millis(980),
            "4 requests within {span:?}: the budget of 3 per second is exceeded"
        );
    }
    assert!(started.elapsed() >= Duration::from_secs(4));
}

#[tokio::test]
async fn tokens_with_the_same_value_share_one_budget() {
    let s = setup(wall(1)).await;
    let mut settings = settings(&s.mock, 3.0);
    let mut twin = settings.tokens[0].clone();
    twin.name = "twin".into();
    settings.tokens.push(twin);
    let clients = VkClients::new(&settings, &http_with(5));
    let service = clients.get(Some("service")).unwrap();
    assert!(service.same_token(clients.get(Some("twin")).unwrap()));
    assert!(!service.same_token(clients.get(Some("user")).unwrap()));
}

// ---------------------------------------------------------------------------------------
// Configuration

#[tokio::test]
async fn the_token_comes_from_the_environment_and_is_never_shown() {
    let s = setup(wall(2)).await;
    let mut settings = settings(&s.mock, 50.0);
    settings.tokens[0].token = None;
    settings.tokens[0].env = Some("OTKLIK_TEST_VK_TOKEN_PRESENT".into());
    settings.tokens[1].token = None;
    settings.tokens[1].env = Some("OTKLIK_TEST_VK_TOKEN_ABSENT".into());
    // SAFETY: set once before any thread of this test reads the environment; the name is
    // used by no other test.
    unsafe { std::env::set_var("OTKLIK_TEST_VK_TOKEN_PRESENT", SERVICE) };
    let clients = VkClients::new(&settings, &http_with(5));
    let present = clients.get(Some("service")).unwrap().clone();
    let mut source = VkWallSource::new(
        &community("a", WALL, 100),
        present.clone(),
        s.official.clone(),
    );
    assert_eq!(fetch(&mut source, None).await.unwrap().posts.len(), 2);

    let absent = clients.get(Some("user")).unwrap().clone();
    let mut cfg = community("b", WALL, 100);
    cfg.token = Some("user".into());
    let mut source = VkWallSource::new(&cfg, absent.clone(), s.official.clone());
    let error = fetch(&mut source, None).await.unwrap_err();
    assert!(
        matches!(error, SourceError::Disabled(ref m) if m.contains("не задан")),
        "{error}"
    );

    let mut literal = settings.clone();
    literal.tokens[0].token = Some(Secret(SERVICE.into()));
    let shown = format!("{literal:?} {present:?}");
    assert!(!shown.contains(SERVICE), "{shown}");
}

#[test]
fn vk_settings_read_from_toml() {
    let text = r#"
        api_url = "https://api.vk.com"
        official_owner_ids = [-200000002]
        [[tokens]]
        name = "main"
        kind = "user"
        env = "OTKLIK_VK_TOKEN"
        [[communities]]
        name = "vk-podslushano-gy"
        domain = "podslushano_gy"
        territory = "gavrilov-yam"
        [[searches]]
        name = "vk-search-velikoe"
        query = "Великое"
        territory = "velikoe"
    "#;
    let vk: VkSettings = toml::from_str(text).unwrap();
    assert_eq!(vk.api_version, "5.199");
    assert_eq!(vk.tokens[0].requests_per_second, 3.0);
    assert_eq!(vk.communities[0].page_size, 100);
    assert_eq!(vk.searches[0].lookback_hours, 24);
    assert!(toml::from_str::<VkSettings>("apiurl = \"x\"").is_err());
}

#[tokio::test]
async fn the_demo_data_is_served_and_read() {
    let now = chrono::Utc::now().timestamp();
    let mock = VkMock::start(VkMockData::demo(now)).await.unwrap();
    let settings = mock.demo_settings();
    let sources =
        otklik::sources::vk::enabled_sources(&settings, &Default::default(), &http_with(5));
    assert_eq!(sources.len(), 3);
    let mut all = Vec::new();
    for mut source in sources {
        let batch = fetch(source.as_mut(), None).await.unwrap();
        all.extend(batch.posts);
    }
    assert!(all.len() >= 6, "{}", all.len());
    assert!(all.iter().any(|p| p.author_kind == AuthorKind::Official));
    assert!(
        all.iter()
            .any(|p| p.text.contains("Плановое отключение") && p.key.native_id == "-200000001_43")
    );
}

// ---------------------------------------------------------------------------------------
// Configuration checks (the same `config::load` as the daemon and `check-config`)

const VK_OK: &str = r#"
[sources.vk]
official_owner_ids = [-200000002]
[[sources.vk.tokens]]
name = "main"
env = "OTKLIK_VK_TOKEN"
[[sources.vk.communities]]
name = "vk-podslushano-gy"
domain = "podslushano_gy"
territory = "gavrilov-yam"
[[sources.vk.searches]]
name = "vk-search-velikoe"
query = "Великое"
territory = "velikoe"
"#;

fn load(extra: &str) -> Result<otklik::config::Loaded, otklik::config::ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = common::write_config(dir.path(), extra);
    otklik::config::load(&path)
}

#[test]
fn a_vk_configuration_is_checked_key_by_key() {
    let loaded = load(VK_OK).unwrap();
    assert_eq!(loaded.settings.sources.vk.communities.len(), 1);
    assert_eq!(loaded.settings.sources.vk.api_url, "https://api.vk.ru");

    let refused = |text: String, key: &str, words: &str| {
        let e = load(&text).unwrap_err();
        assert_eq!(e.key, key, "{e}");
        assert!(e.problem.contains(words), "{e}");
    };
    refused(
        VK_OK.replace("territory = \"velikoe\"", "territory = \"atlantida\""),
        "sources.vk.searches[0].territory",
        "atlantida",
    );
    refused(
        format!("{VK_OK}\n[[sources.rss]]\nname = \"vk-podslushano-gy\"\nurl = \"http://127.0.0.1:9/\"\n")
            .replace("[[sources.rss]]", "[[sources.rss]]"),
        "sources.vk.communities[0].name",
        "unique",
    );
    refused(
        VK_OK.replace("domain = \"podslushano_gy\"", "token = \"other\""),
        "sources.vk.communities[0].token",
        "other",
    );
    refused(
        VK_OK.replace("domain = \"podslushano_gy\"", ""),
        "sources.vk.communities[0].owner_id",
        "domain",
    );
    refused(
        VK_OK.replace("env = \"OTKLIK_VK_TOKEN\"", ""),
        "sources.vk.tokens[0].env",
        "exactly one",
    );
    refused(
        VK_OK.replace(
            "official_owner_ids",
            "api_url = \"ftp://x\"\nofficial_owner_ids",
        ),
        "sources.vk.api_url",
        "http",
    );
}

// ---------------------------------------------------------------------------------------
// The daemon

#[test]
fn the_daemon_stores_vk_posts_and_records_a_refused_wall() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let now = chrono::Utc::now().timestamp();
        let mut data = VkMockData::demo(now);
        data.groups.push(MockGroup {
            is_closed: 1,
            ..MockGroup::new(200_000_009, "Закрытый клуб", "closed_club")
        });
        let mock = VkMock::start(data).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut loaded = otklik::config::Loaded::embedded(dir.path().to_path_buf());
        loaded.settings.index.commit_interval_secs = 1;
        loaded.settings.poll = otklik::config::PollSettings {
            min_interval_secs: 1,
            max_interval_secs: 1,
            backoff_initial_secs: 1,
            backoff_max_secs: 1,
            failing_after: 2,
        };
        let mut vk = mock.demo_settings();
        let mut closed = vk.communities[0].clone();
        closed.name = "vk-closed".into();
        closed.domain = Some("closed_club".into());
        vk.communities.push(closed);
        loaded.settings.sources.vk = vk;
        let sources = otklik::sources::build(&loaded).unwrap();
        let (activity, _) = tokio::sync::broadcast::channel(1024);
        let running = otklik::daemon::start(&loaded, sources, activity)
            .await
            .unwrap();
        let health = |name: &str| running.store.health(name).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let closed = health("vk-closed");
            if running.store.post_count() == 7
                && closed
                    .as_ref()
                    .is_some_and(|h| h.state == otklik::sources::HealthState::Disabled)
            {
                let reason = closed.unwrap().last_error.unwrap();
                assert!(
                    reason.contains("код 15") && reason.contains("источник отключён"),
                    "{reason}"
                );
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
        assert_eq!(
            health("vk-podslushano-gy").unwrap().state,
            otklik::sources::HealthState::Ok
        );
        // Polled again and again: nothing is stored twice.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(running.store.post_count(), 7);
        running.shutdown(Duration::from_secs(5)).await.unwrap();
    });
}

// ---------------------------------------------------------------------------------------
// The mock speaks the wire format of §1.1–1.5 to any client, not only to ours

#[tokio::test]
async fn the_mock_accepts_get_and_form_post_with_the_token_in_either_place() {
    let s = setup(wall(3)).await;
    let http = reqwest::Client::new();
    let url = |m: &str| format!("{}/method/{m}", s.mock.url());

    // GET, token as a parameter (pyvk, vkrss).
    let reply: serde_json::Value = http
        .get(url("wall.get"))
        .query(&[
            ("owner_id", "-200000001"),
            ("count", "2"),
            ("v", "5.131"),
            ("access_token", SERVICE),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["response"]["count"], 3);
    assert_eq!(
        reply["response"]["items"][0]["is_pinned"], 1,
        "the pinned post first"
    );
    assert!(reply["response"]["items"][1]["is_pinned"].is_null());
    assert!(
        reply["response"].get("profiles").is_none(),
        "only with extended=1"
    );

    // POST form, token in the header (vksdk); groups.getById in the 5.199 shape…
    let post = |method: &str, body: &str, token: Option<&str>| {
        let mut request = http
            .post(url(method))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let reply: serde_json::Value = post(
        "groups.getById",
        "group_ids=podslushano_gy&v=5.199",
        Some(SERVICE),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(reply["response"]["groups"][0]["id"], GROUP);
    assert!(reply["response"]["profiles"].is_array());
    // …and the bare array of 5.131.
    let reply: serde_json::Value = post(
        "groups.getById",
        "group_ids=podslushano_gy&v=5.131",
        Some(SERVICE),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(reply["response"][0]["screen_name"], "podslushano_gy");

    // Errors are HTTP 200 with the error envelope; request_params never carry the token.
    let response = post(
        "wall.get",
        &format!("owner_id=-200000001&v=5.199&access_token={SERVICE}"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let ok: serde_json::Value = response.json().await.unwrap();
    assert!(
        ok.get("response").is_some(),
        "the token as a form parameter is accepted"
    );
    let response = post("wall.get", "owner_id=-200000001&v=5.199", None)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"]["error_code"], 5);
    assert_eq!(
        error["error"]["error_msg"],
        "User authorization failed: no access_token passed."
    );
    let params = error["error"]["request_params"].as_array().unwrap();
    assert_eq!(
        params[0],
        serde_json::json!({"key": "method", "value": "wall.get"})
    );
    assert_eq!(params[1], serde_json::json!({"key": "oauth", "value": "1"}));
    assert_eq!(params[2], serde_json::json!({"key": "v", "value": "5.199"}));

    // Method names are case-sensitive; execute is refused to a service token.
    let error: serde_json::Value = post("Wall.Get", "owner_id=-200000001&v=5.199", Some(SERVICE))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(error["error"]["error_code"], 3);
    let error: serde_json::Value =
        post("execute", "code=return%20%5B%5D%3B&v=5.199", Some(SERVICE))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(error["error"]["error_code"], 28);
    // count over 100 is invalid, as on VK.
    let error: serde_json::Value = post(
        "wall.get",
        "owner_id=-200000001&count=101&v=5.199",
        Some(SERVICE),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(error["error"]["error_code"], 100);
    // The calls were recorded with their tokens.
    let calls = s.mock.calls();
    assert_eq!(calls[0].token.as_deref(), Some(SERVICE));
    assert!(
        calls
            .iter()
            .all(|c| c.params.iter().all(|(k, _)| k != "access_token"))
    );
}

#[tokio::test]
async fn the_demo_releases_residents_posts_over_time() {
    let mock = VkMock::start_demo(60.0).await.unwrap();
    let mut settings = mock.demo_settings();
    // Read faster than the demo releases (one post every 250 ms at this speed).
    settings.tokens[0].requests_per_second = 100.0;
    let mut sources =
        otklik::sources::vk::enabled_sources(&settings, &Default::default(), &http_with(5));
    let mut cursors: Vec<Option<Cursor>> = vec![None; sources.len()];
    let mut poll = async |sources: &mut Vec<Box<dyn Source>>| {
        let mut posts = Vec::new();
        for (source, cursor) in sources.iter_mut().zip(cursors.iter_mut()) {
            let batch = fetch(source.as_mut(), cursor.as_ref()).await.unwrap();
            *cursor = batch.cursor;
            posts.extend(batch.posts);
        }
        posts
    };
    let first = poll(&mut sources).await;
    assert!(
        first
            .iter()
            .all(|p| p.author_kind == AuthorKind::Official || p.text.contains("Правила")),
        "{first:?}"
    );
    // Five residents' posts, one every 15 s / 60.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let later = poll(&mut sources).await;
    assert_eq!(later.len(), 5, "{later:?}");
    assert!(later.iter().any(|p| p.text.contains("нет воды")));
    mock.stop().await;
}
