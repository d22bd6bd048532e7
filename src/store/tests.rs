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

#[test]
fn posts_share_pages_and_each_reads_back_whatever_page_and_version_it_is_in() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let page_keys = |store: &Store| store.data.scan_prefix(POST).count();
    let ids = |posts: Vec<StoredPost>| -> Vec<(u64, String, Option<u64>)> {
        posts
            .into_iter()
            .map(|p| (p.seq, p.post.key.native_id, p.incident))
            .collect()
    };

    // One commit of 60 posts fills several pages.
    let mut batch = WriteBatch::default();
    let mut pending = None;
    store.reserve_seqs(&mut batch, 60, &mut pending).unwrap();
    for seq in 1..=60 {
        batch.put_post(&stored(seq, &format!("p{seq}")));
    }
    store.commit(batch).unwrap();
    let pages = page_keys(&store);
    assert!((2..60).contains(&pages), "{pages} pages for 60 posts");

    // A record written one per key, as before pages existed.
    let old = stored(61, "p61");
    store
        .data
        .insert(key(POST, &61u64.to_be_bytes()), to_json(&old))
        .unwrap();

    // New versions of stored posts (the first, one inside a page, the old-style one) in the
    // same commit as new posts, one of them twice; and a post past a gap.
    let mut batch = WriteBatch::default();
    let mut moved = |seq: u64, incident: u64| {
        let mut p = stored(seq, &format!("p{seq}"));
        p.incident = Some(incident);
        batch.put_post(&p);
    };
    for (seq, incident) in [(1, 7), (30, 7), (31, 8), (61, 9), (62, 1), (62, 2)] {
        moved(seq, incident);
    }
    batch.put_post(&stored(70, "p70"));
    store.commit(batch).unwrap();
    // A post below the newest that was never stored gets a page of its own.
    let mut batch = WriteBatch::default();
    batch.put_post(&stored(65, "p65"));
    store.commit(batch).unwrap();

    let mut expected: Vec<(u64, String, Option<u64>)> = (1..=62)
        .chain([65, 70])
        .map(|seq| (seq, format!("p{seq}"), None))
        .collect();
    for (seq, incident) in [(1, 7), (30, 7), (31, 8), (61, 9), (62, 2)] {
        expected[seq as usize - 1].2 = Some(incident);
    }
    for (seq, id, incident) in &expected {
        let post = store.post(*seq).unwrap().unwrap();
        assert_eq!(
            (post.post.key.native_id, post.incident),
            (id.clone(), *incident)
        );
    }
    for absent in [0, 63, 64, 66, 69, 71] {
        assert!(store.post(absent).unwrap().is_none(), "post {absent}");
    }
    for after in [0, 1, 5, 30, 59, 60, 61, 62, 64, 65, 70] {
        let tail: Vec<_> = expected.iter().filter(|p| p.0 > after).cloned().collect();
        let got = ids(store.posts_after(after).collect::<Result<_>>().unwrap());
        assert_eq!(got, tail, "after {after}");
    }
    let mut newest_first = expected.clone();
    newest_first.reverse();
    assert_eq!(
        ids(store.posts_newest_first().collect::<Result<_>>().unwrap()),
        newest_first
    );
    assert_eq!(
        page_keys(&store),
        pages + 4,
        "61, 62, 65 and 70 have pages of their own"
    );
}

#[test]
fn a_page_out_of_order_is_reported_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut page = to_json(&stored(4, "a"));
    page.push(b'\n');
    page.extend_from_slice(&to_json(&stored(9, "b")));
    store
        .data
        .insert(key(POST, &4u64.to_be_bytes()), page)
        .unwrap();
    assert_eq!(store.post(4).unwrap().unwrap().post.key.native_id, "a");
    let error = store.post(5).unwrap_err().to_string();
    assert_eq!(error, "store page p/4: line 1 holds record 9, expected 5");
}

#[test]
fn an_incident_timeline_reads_back_in_order_from_pages_and_older_single_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let event = |incident: u64, number: u32| IncidentEvent {
        incident,
        number,
        at: Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap(),
        actor: "otklik".into(),
        kind: EventKind::PostAttached {
            post: format!("rss:{incident}-{number}"),
        },
        comment: None,
    };
    // Incident 2's first event was written one per key, before pages existed.
    store
        .data
        .insert(
            [EVENT, &2u64.to_be_bytes(), &0u32.to_be_bytes()].concat(),
            to_json(&event(2, 0)),
        )
        .unwrap();
    // Two commits, the events of three incidents interleaved.
    for numbers in [0..40u32, 40..45] {
        let mut batch = WriteBatch::default();
        for n in numbers {
            for incident in [1, 2, 3] {
                let written_before = incident == 2 && n == 0;
                let not_in_second_commit = incident == 3 && n >= 40;
                if !(written_before || not_in_second_commit) {
                    batch.put_event(&event(incident, n));
                }
            }
        }
        store.commit(batch).unwrap();
    }
    let numbers = |id| -> Vec<u32> { store.events(id).unwrap().iter().map(|e| e.number).collect() };
    assert_eq!(numbers(1), (0..45).collect::<Vec<_>>());
    assert_eq!(numbers(2), (0..45).collect::<Vec<_>>());
    assert_eq!(numbers(3), (0..40).collect::<Vec<_>>());
    assert!(numbers(4).is_empty());
    assert_eq!(
        store.incident_posts(1).unwrap()[44],
        "rss:1-44",
        "the timeline's posts come in order"
    );
    let pages = store.data.scan_prefix(EVENT).count();
    assert!((6..129).contains(&pages), "{pages} pages for 129 events");
}
