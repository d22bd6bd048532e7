use super::*;
use crate::model::{AuthorKind, Platform, Post, PostKey};
use crate::understand::Understanding;
use chrono::{TimeZone, Utc};

fn post(id: &str) -> Post {
    Post {
        key: PostKey::new(Platform::Rss, id),
        source: "test".into(),
        url: None,
        community: "Тест".into(),
        community_territory: None,
        author: None,
        author_url: None,
        author_kind: AuthorKind::Resident,
        published: Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap(),
        fetched: Utc.with_ymd_and_hms(2026, 11, 20, 10, 1, 0).unwrap(),
        title: None,
        text: format!("текст {id}"),
        parent: None,
    }
}

fn stored(seq: u64, id: &str) -> StoredPost {
    StoredPost {
        seq,
        post: post(id),
        understanding: Understanding::default(),
        incident: None,
    }
}

#[test]
fn a_committed_batch_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let mut batch = WriteBatch::default();
        let mut pending = None;
        let first = store.reserve_seqs(&mut batch, 2, &mut pending).unwrap();
        assert_eq!(first, 1);
        batch.put_post(&stored(1, "a"));
        batch.put_post(&stored(2, "b"));
        store.commit(batch).unwrap();
        store
            .save_cursor("test", &serde_json::json!({"etag": "x"}))
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.last_seq().unwrap(), 2);
    assert_eq!(store.post_count(), 2);
    assert!(
        store
            .contains_post(&PostKey::new(Platform::Rss, "a"))
            .unwrap()
    );
    assert!(
        !store
            .contains_post(&PostKey::new(Platform::Vk, "a"))
            .unwrap()
    );
    assert_eq!(
        store
            .post_by_key(&PostKey::new(Platform::Rss, "b"))
            .unwrap()
            .unwrap()
            .seq,
        2
    );
    assert_eq!(
        store.cursor("test").unwrap(),
        Some(serde_json::json!({"etag": "x"}))
    );
    assert_eq!(store.cursor("other").unwrap(), None);
}

#[test]
fn posts_after_returns_the_tail_in_order_and_stops_at_the_prefix_end() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut batch = WriteBatch::default();
    let mut pending = None;
    store.reserve_seqs(&mut batch, 3, &mut pending).unwrap();
    for (seq, id) in [(1, "a"), (2, "b"), (3, "c")] {
        batch.put_post(&stored(seq, id));
    }
    store.commit(batch).unwrap();
    let tail: Vec<u64> = store.posts_after(1).map(|p| p.unwrap().seq).collect();
    assert_eq!(tail, vec![2, 3]);
    assert_eq!(store.posts_after(3).count(), 0);
    assert_eq!(store.posts_after(0).count(), 3);
}

#[test]
fn sequence_numbers_continue_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let mut batch = WriteBatch::default();
        let mut pending = None;
        store.reserve_seqs(&mut batch, 5, &mut pending).unwrap();
        store.commit(batch).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let mut batch = WriteBatch::default();
    let mut pending = None;
    assert_eq!(store.reserve_seqs(&mut batch, 1, &mut pending).unwrap(), 6);
    assert_eq!(store.reserve_seqs(&mut batch, 1, &mut pending).unwrap(), 7);
}

#[test]
fn a_store_reopens_at_once_in_the_same_process_and_knows_its_own_lock() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..20u64 {
        let store = Store::open(dir.path()).unwrap();
        assert!(
            super::lock_is_ours(dir.path()),
            "round {round}: our lock is seen"
        );
        let mut batch = WriteBatch::default();
        let mut pending = None;
        store.reserve_seqs(&mut batch, 1, &mut pending).unwrap();
        store.commit(batch).unwrap();
        assert_eq!(store.last_seq().unwrap(), round + 1);
        drop(store);
        // sled lets go a moment after the last handle (its I/O threads finish first), as
        // `Store::open` allows for.
        let dropped = std::time::Instant::now();
        while super::lock_is_ours(dir.path())
            && dropped.elapsed() < std::time::Duration::from_secs(2)
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(
            !super::lock_is_ours(dir.path()),
            "round {round}: the lock goes with the last handle, for another process to take"
        );
    }
}

/// The optional fields of a post, absent in the test's post.
const OPTIONAL_POST_FIELDS: [&str; 6] = [
    "url",
    "author",
    "author_url",
    "title",
    "parent",
    "community_territory",
];

#[test]
fn a_stored_post_leaves_out_what_is_absent_or_recomputed_and_older_records_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut record = stored(1, "a");
    record.understanding.reasons = vec!["вопрос в тексте".into()];
    record.understanding.fingerprint = vec![7, 9];
    let mut batch = WriteBatch::default();
    batch.put_post(&record);
    store.commit(batch).unwrap();

    let raw = store
        .data
        .get(key(POST, &1u64.to_be_bytes()))
        .unwrap()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    for absent in OPTIONAL_POST_FIELDS {
        assert!(
            json["post"].get(absent).is_none(),
            "post.{absent} in {json}"
        );
    }
    for absent in [
        "group",
        "topic",
        "territory",
        "place",
        "reasons",
        "fingerprint",
        "follow_up",
    ] {
        assert!(
            json["understanding"].get(absent).is_none(),
            "understanding.{absent} in {json}"
        );
    }
    let read = store.post(1).unwrap().unwrap();
    assert_eq!(read.post, record.post);
    assert!(read.understanding.reasons.is_empty() && read.understanding.fingerprint.is_empty());

    // A record written before: explicit nulls and the reasons.
    let mut older = json.clone();
    for field in OPTIONAL_POST_FIELDS {
        older["post"][field] = serde_json::Value::Null;
    }
    older["understanding"]["group"] = "dorogi".into();
    older["understanding"]["place"] = serde_json::Value::Null;
    older["understanding"]["reasons"] = serde_json::json!(["тема: Дороги"]);
    older["understanding"]["follow_up"] = true.into();
    let older: StoredPost = serde_json::from_value(older).unwrap();
    assert_eq!(older.post, record.post);
    assert_eq!(older.understanding.group.as_deref(), Some("dorogi"));
    assert_eq!(older.understanding.place, None);
    assert!(older.understanding.follow_up);
}
