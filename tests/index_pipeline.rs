//! The write path without sources: pipeline → store → index → search, restart catch-up, and
//! reindex.

mod common;

use chrono::{Duration, TimeZone, Utc};
use otklik::config::IndexSettings;
use otklik::index::{CommitPayload, IndexWriterHandle, SearchRequest, Searcher, SortOrder};
use otklik::model::{AuthorKind, Platform, Post, PostKey};
use otklik::pipeline::Pipeline;
use otklik::store::Store;
use std::path::Path;

fn post(id: &str, minutes: i64, text: &str) -> Post {
    let published =
        Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap() + Duration::minutes(minutes);
    Post {
        key: PostKey::new(Platform::Rss, id),
        source: "test-feed".into(),
        url: Some(format!("https://example.test/{id}")),
        community: "Подслушано Гаврилов-Ям".into(),
        community_territory: Some("gavrilov-yam".into()),
        author: Some(format!("Житель {id}")),
        author_url: None,
        author_kind: AuthorKind::Resident,
        published,
        fetched: published,
        title: None,
        text: text.into(),
        parent: None,
    }
}

fn settings() -> IndexSettings {
    IndexSettings {
        commit_interval_secs: 3600,
        ..IndexSettings::default()
    }
}

struct Harness {
    store: Store,
    index: IndexWriterHandle,
    pipeline: Pipeline,
}

fn harness(dir: &Path) -> Harness {
    let (pipeline, index, store) = common::pipeline(dir, &settings());
    Harness {
        store,
        index,
        pipeline,
    }
}

fn search(dir: &Path, query: &str) -> Vec<String> {
    let searcher = Searcher::open(&dir.join("search")).unwrap();
    let request = SearchRequest {
        query: query.into(),
        limit: 100,
        sort: SortOrder::Newest,
        ..SearchRequest::default()
    };
    searcher
        .search(&request)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect()
}

#[test]
fn stored_posts_are_found_in_any_inflected_form_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    let report = h
        .pipeline
        .ingest(vec![
            post(
                "1",
                0,
                "На улице Советской огромная яма, машины бьют колёса",
            ),
            post("2", 10, "Опять ямы у школы, никто не ремонтирует"),
            post("3", 20, "Поздравляем всех с Днём матери!"),
        ])
        .unwrap();
    assert_eq!(report.stored, 3);
    h.index.commit().unwrap();
    assert_eq!(search(dir.path(), "ямой"), vec!["2", "1"]);
    assert_eq!(search(dir.path(), "\"огромная яма\""), vec!["1"]);
    assert_eq!(search(dir.path(), "ямы AND NOT школы"), vec!["1"]);
    assert_eq!(search(dir.path(), "NOT ямы"), vec!["3"]);
    assert_eq!(search(dir.path(), "школы OR поздравляем"), vec!["3", "2"]);
    assert_eq!(search(dir.path(), "platform:rss").len(), 3);
}

#[test]
fn a_post_delivered_twice_is_stored_and_indexed_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    let first = h
        .pipeline
        .ingest(vec![
            post("1", 0, "Нет воды на Кирова"),
            post("1", 0, "Нет воды на Кирова"),
        ])
        .unwrap();
    assert_eq!((first.stored, first.duplicates), (1, 1));
    let again = h
        .pipeline
        .ingest(vec![post("1", 0, "Нет воды на Кирова")])
        .unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 1));
    h.index.commit().unwrap();
    assert_eq!(h.store.post_count(), 1);
    assert_eq!(search(dir.path(), "воды"), vec!["1"]);
}

#[test]
fn the_commit_records_how_far_it_reaches_and_a_restart_indexes_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut h = harness(dir.path());
        h.pipeline
            .ingest(vec![post("1", 0, "Не горят фонари на Клубной")])
            .unwrap();
        drop(h.pipeline);
        assert_eq!(h.index.finish(), 1);
    }
    {
        // Stored but not indexed: what a crash between the store's flush and the index's
        // commit leaves behind.
        let store = Store::open(&dir.path().join("store")).unwrap();
        let mut batch = otklik::store::WriteBatch::default();
        let mut pending = None;
        let seq = store.reserve_seqs(&mut batch, 1, &mut pending).unwrap();
        batch.put_post(&otklik::store::StoredPost {
            seq,
            post: post("2", 5, "Фонари не горят уже неделю"),
            understanding: Default::default(),
            incident: None,
        });
        store.commit(batch).unwrap();
    }
    let index = tantivy::Index::open_in_dir(dir.path().join("search")).unwrap();
    assert_eq!(CommitPayload::of(&index).unwrap().seq, 1);
    let h = harness(dir.path());
    // The writer catches up on start, before anything new arrives.
    h.index.commit().unwrap();
    assert_eq!(h.index.committed_seq(), 2);
    let mut found = search(dir.path(), "фонари");
    found.sort();
    assert_eq!(found, vec!["1", "2"]);
}

#[test]
fn reindex_rebuilds_the_same_results_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut h = harness(dir.path());
        h.pipeline
            .ingest(
                (0..50)
                    .map(|i| post(&i.to_string(), i, &format!("Сообщение номер {i} про мусор")))
                    .collect(),
            )
            .unwrap();
        drop(h.pipeline);
        h.index.finish();
        h.store.flush().unwrap();
    }
    let before = search(dir.path(), "мусор");
    assert_eq!(before.len(), 50);
    std::fs::remove_dir_all(dir.path().join("search")).unwrap();
    let report = otklik::reindex::reindex(dir.path()).unwrap();
    assert_eq!(report.posts, 50);
    assert_eq!(search(dir.path(), "мусор"), before);
}
