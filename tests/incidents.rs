//! Incidents as the pipeline opens and joins them: repeats of one problem across sources
//! and wordings, follow-up comments, routing by topic and territory, resonance, restart.

mod common;

use chrono::{Duration, TimeZone, Utc};
use otklik::config::IndexSettings;
use otklik::model::{AuthorKind, Platform, Post, PostKey};
use otklik::org::Owner;
use otklik::store::{EventKind, IncidentStatus};

fn post(
    platform: Platform,
    id: &str,
    minutes: i64,
    author: &str,
    community_territory: Option<&str>,
    text: &str,
) -> Post {
    let published =
        Utc.with_ymd_and_hms(2026, 11, 24, 7, 0, 0).unwrap() + Duration::minutes(minutes);
    Post {
        key: PostKey::new(platform, id),
        source: "test".into(),
        url: None,
        community: "Сообщество".into(),
        community_territory: community_territory.map(str::to_string),
        author: Some(author.into()),
        author_url: None,
        author_kind: AuthorKind::Resident,
        published,
        fetched: published,
        title: None,
        text: text.into(),
        parent: None,
    }
}

#[test]
fn one_problem_told_on_several_platforms_is_one_incident_routed_by_territory() {
    let dir = tempfile::tempdir().unwrap();
    let (mut p, _index, store) = common::pipeline(dir.path(), &IndexSettings::default());
    p.ingest(vec![
        post(
            Platform::Vk,
            "-1_10",
            0,
            "Анна",
            Some("shopsha"),
            "В Шопше опять не горят фонари на центральной улице, дети идут в школу в темноте",
        ),
        post(
            Platform::Telegram,
            "shopsha/5",
            40,
            "Пётр",
            None,
            "Шопша: уличное освещение не работает третий день, когда починят фонари?",
        ),
        post(
            Platform::Ok,
            "7_1",
            90,
            "Мария",
            Some("shopsha"),
            "Подтверждаю, у нас в Шопше темно, фонари не горят",
        ),
        post(
            Platform::Vk,
            "-1_11",
            95,
            "Иван",
            Some("velikoe"),
            "В Великом не вывозят мусор вторую неделю, контейнеры переполнены",
        ),
    ])
    .unwrap();
    let incidents: Vec<_> = store.incidents().map(Result::unwrap).collect();
    assert_eq!(incidents.len(), 2, "{incidents:#?}");
    let lights = incidents
        .iter()
        .find(|i| i.territory.as_deref() == Some("shopsha"))
        .unwrap();
    assert_eq!(lights.mentions, 3);
    assert_eq!(lights.authors, 3);
    // Lighting in a rural territory belongs to that territory's administration.
    assert_eq!(lights.owner, Some(Owner::Territory("shopsha".into())));
    assert_eq!(lights.status, IncidentStatus::Routed);
    assert_eq!(
        store.incident_posts(lights.id).unwrap(),
        vec!["vk:-1_10", "telegram:shopsha/5", "ok:7_1"]
    );
    let rubbish = incidents
        .iter()
        .find(|i| i.territory.as_deref() == Some("velikoe"))
        .unwrap();
    assert_eq!(rubbish.owner, Some(Owner::Department("zhkh".into())));
    // Every change is in the timeline.
    let kinds: Vec<_> = store
        .events(lights.id)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(matches!(kinds[0], EventKind::Created { .. }));
    assert_eq!(
        kinds
            .iter()
            .filter(|k| matches!(k, EventKind::PostAttached { .. }))
            .count(),
        2
    );
}

#[test]
fn a_follow_up_comment_joins_its_post_and_the_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let id;
    {
        let (mut p, index, store) = common::pipeline(dir.path(), &IndexSettings::default());
        p.ingest(vec![post(
            Platform::Vk,
            "-1_20",
            0,
            "Анна",
            Some("gavrilov-yam"),
            "На улице Менжинского нет воды с утра, когда дадут воду?",
        )])
        .unwrap();
        id = store.incidents().next().unwrap().unwrap().id;
        drop(p);
        index.finish();
    }
    let (mut p, _index, store) = common::pipeline(dir.path(), &IndexSettings::default());
    let mut comment = post(
        Platform::Vk,
        "-1_20_c1",
        30,
        "Олег",
        Some("gavrilov-yam"),
        "У нас тоже нет воды, поддерживаю, сколько можно",
    );
    comment.parent = Some(PostKey::new(Platform::Vk, "-1_20"));
    p.ingest(vec![comment]).unwrap();
    let incident = store.incident(id).unwrap().unwrap();
    assert_eq!(incident.mentions, 2, "{incident:#?}");
    assert_eq!(incident.authors, 2);
    assert_eq!(
        store
            .post_by_key(&PostKey::new(Platform::Vk, "-1_20_c1"))
            .unwrap()
            .unwrap()
            .incident,
        Some(id)
    );
}

#[test]
fn many_authors_in_a_few_hours_make_the_incident_resonant() {
    let dir = tempfile::tempdir().unwrap();
    let (mut p, _index, store) = common::pipeline(dir.path(), &IndexSettings::default());
    let people = ["Анна", "Пётр", "Мария", "Иван", "Ольга", "Сергей"];
    let posts = people
        .iter()
        .enumerate()
        .map(|(i, who)| {
            post(
                Platform::Vk,
                &format!("-1_3{i}"),
                i as i64 * 20,
                who,
                Some("mitino"),
                "В Митине отключили свет, света нет уже несколько часов, когда включат электричество?",
            )
        })
        .collect();
    p.ingest(posts).unwrap();
    let incidents: Vec<_> = store.incidents().map(Result::unwrap).collect();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert!(incidents[0].resonant);
    assert!(
        store
            .events(incidents[0].id)
            .unwrap()
            .iter()
            .any(|e| matches!(e.kind, EventKind::MarkedResonant { .. }))
    );
}
