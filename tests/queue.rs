//! The incident queue through the pipeline, as the daemon runs it: lifecycle actions with their
//! timeline, clocks and outbox alerts; escalation timers firing once at the right moment; the
//! official's answer read from comments; recurrence; merge, split and attach.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use otklik::config::IndexSettings;
use otklik::incidents::queue::{Action, Request};
use otklik::model::{AuthorKind, Platform, Post, PostKey};
use otklik::pipeline::Pipeline;
use otklik::store::{AlertKind, EventKind, Incident, IncidentStatus, Resolution, Stage, Store};
use otklik::time::Clock;

/// Tuesday 24 November 2026, 10:00 Moscow time: an ordinary working morning.
fn tuesday_10() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 7, 0, 0).unwrap()
}

fn msk(s: &str) -> DateTime<Utc> {
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    chrono_tz::Europe::Moscow
        .from_local_datetime(&naive)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn post(id: &str, at: DateTime<Utc>, author: &str, text: &str) -> Post {
    Post {
        key: PostKey::new(Platform::Vk, id),
        source: "test".into(),
        url: Some(format!("https://vk.com/wall{id}")),
        community: "Подслушано Гаврилов-Ям".into(),
        community_territory: Some("gavrilov-yam".into()),
        author: Some(author.into()),
        author_url: None,
        author_kind: AuthorKind::Resident,
        published: at,
        fetched: at,
        title: None,
        text: text.into(),
        parent: None,
    }
}

const WATER: &str =
    "На улице Кирова в Гаврилов-Яме нет воды с утра, когда дадут воду? Дети без воды";
const LIGHTS: &str =
    "В Шопше опять не горят фонари на центральной улице, дети идут в школу в темноте";

struct Harness {
    _dir: tempfile::TempDir,
    p: Pipeline,
    store: Store,
    _index: otklik::index::IndexWriterHandle,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(|_| {})
    }

    /// A harness over the embedded configuration, changed by `tune`.
    fn with(tune: impl FnOnce(&mut otklik::config::Loaded)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut loaded = otklik::config::Loaded::embedded(dir.path().to_path_buf());
        tune(&mut loaded);
        let store = Store::open(&dir.path().join("store")).unwrap();
        let index = otklik::index::IndexWriterHandle::start(
            &dir.path().join("search"),
            store.clone(),
            &IndexSettings::default(),
        )
        .unwrap();
        let (activity, _) = tokio::sync::broadcast::channel(16);
        let p = Pipeline::new(
            &loaded,
            store.clone(),
            index.sender(),
            activity,
            Clock::system(),
        )
        .unwrap();
        let mut h = Harness {
            _dir: dir,
            p,
            store,
            _index: index,
        };
        h.at(tuesday_10());
        h
    }

    /// Set the pipeline's clock to `t`.
    fn at(&mut self, t: DateTime<Utc>) {
        self.p.clock = Clock::fixed(t);
    }

    fn ingest(&mut self, posts: Vec<Post>) {
        self.p.ingest(posts).unwrap();
    }

    fn incident(&self, id: u64) -> Incident {
        self.store.incident(id).unwrap().unwrap()
    }

    fn act(&mut self, id: u64, action: Action) -> Result<Incident, String> {
        self.p
            .act(&Request {
                incident: id,
                actor: "coordinator".into(),
                comment: None,
                action,
            })
            .map_err(|e| {
                assert!(e.refused, "a system failure, not a refusal: {}", e.message);
                e.message
            })
    }

    fn kinds(&self, id: u64) -> Vec<EventKind> {
        self.store
            .events(id)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    /// The in-memory queue agrees with the store.
    fn check_open_view(&self) {
        use otklik::incidents::view::{ListFilter, list};
        let filter = ListFilter::default();
        let now = self.p.clock.now();
        let from_memory = list(&self.store, Some(&self.p.open), &filter, now).unwrap();
        let from_store = list(&self.store, None, &filter, now).unwrap();
        let ids = |p: &otklik::incidents::view::ListPage| {
            p.incidents
                .iter()
                .map(|i| (i.id, i.status, i.due()))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&from_memory), ids(&from_store));
    }

    fn alerts(&self) -> Vec<otklik::store::Alert> {
        self.store.alerts_after(0).map(Result::unwrap).collect()
    }
}

#[test]
fn an_incident_goes_through_its_lifecycle_with_clocks_timeline_and_alerts() {
    let mut h = Harness::new();
    h.ingest(vec![post("-1_1", tuesday_10(), "Анна", WATER)]);
    let i = h.incident(1);
    assert_eq!(i.status, IncidentStatus::Routed);
    let clock = i
        .clock
        .clone()
        .expect("a routed incident has its first-response clock");
    assert_eq!(clock.stage, Stage::FirstResponse);
    // 8 working hours from 10:00 Tuesday: 10–12, 13–17:15 (6:15), Wednesday 08:00–09:45.
    assert_eq!(i.due(), Some(msk("2026-11-25 09:45")));
    assert_eq!(
        h.store.timer_count(),
        1,
        "the first escalation step is armed"
    );
    let alerts = h.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::NewIncident);
    assert_eq!(alerts[0].roles, vec!["executor:zhkh".to_string()]);
    assert!(
        alerts[0]
            .body
            .contains("Срок (первый ответ): 2026-11-25 09:45"),
        "{}",
        alerts[0].body
    );

    // Accepted at 15:00 Tuesday: the first response is on time; the final answer is due at
    // the close of the seventh working day after, Thursday 3 December.
    h.at(msk("2026-11-24 15:00"));
    let i = h
        .act(
            1,
            Action::Accept {
                text: Some("Принято в работу".into()),
            },
        )
        .unwrap();
    assert_eq!(i.status, IncidentStatus::InWork);
    assert_eq!(i.milestones.first_response_on_time, Some(true));
    assert_eq!(i.milestones.first_response_working_secs, Some(4 * 3600));
    assert_eq!(i.clock.as_ref().unwrap().stage, Stage::FinalAnswer);
    assert_eq!(i.due(), Some(msk("2026-12-03 17:15")));
    assert_eq!(
        h.act(1, Action::Accept { text: None }).unwrap_err(),
        "инцидент уже принят в работу"
    );

    h.at(msk("2026-11-26 11:00"));
    let i = h
        .act(
            1,
            Action::Answer {
                text: Some("Водоснабжение восстановлено".into()),
            },
        )
        .unwrap();
    assert_eq!(i.status, IncidentStatus::Answered);
    assert_eq!(i.milestones.answer_on_time, Some(true));
    assert!(i.clock.is_none());
    assert_eq!(
        h.store.timer_count(),
        0,
        "an answered incident has no timer"
    );

    let refused = h
        .act(
            1,
            Action::Close {
                resolution: Resolution::Duplicate,
            },
        )
        .unwrap_err();
    assert!(refused.contains("объединением"), "{refused}");
    let i = h
        .act(
            1,
            Action::Close {
                resolution: Resolution::Solved,
            },
        )
        .unwrap();
    assert_eq!(i.status, IncidentStatus::Closed);
    assert_eq!(i.resolution, Some(Resolution::Solved));

    h.at(msk("2026-11-27 09:00"));
    let i = h.act(1, Action::Reopen).unwrap();
    assert_eq!(i.status, IncidentStatus::Routed);
    assert_eq!(i.milestones.reopened, 1);
    assert_eq!(
        i.milestones.first_response_at,
        Some(msk("2026-11-24 15:00")),
        "the first response stays on record"
    );
    // Counted from the reopening: Friday 09:00 + 8 working hours would be Monday 10:00
    // (Friday closes at 16:00), but never later than 24 calendar hours: Saturday 09:00.
    assert_eq!(i.due(), Some(msk("2026-11-28 09:00")));
    assert_eq!(h.store.timer_count(), 1);
    h.check_open_view();

    let kinds = h.kinds(1);
    let names: Vec<&str> = kinds
        .iter()
        .map(|k| match k {
            EventKind::Created { .. } => "created",
            EventKind::ClockStarted { .. } => "clock",
            EventKind::Accepted { .. } => "accepted",
            EventKind::Answered { .. } => "answered",
            EventKind::Closed { .. } => "closed",
            EventKind::Reopened { .. } => "reopened",
            _ => "other",
        })
        .collect();
    assert_eq!(
        names,
        [
            "created", "clock", "accepted", "clock", "answered", "closed", "reopened", "clock"
        ]
    );
    let events = h.store.events(1).unwrap();
    assert_eq!(events[2].actor, "coordinator");
    assert_eq!(events[2].at, msk("2026-11-24 15:00"));
}

#[test]
fn actions_that_do_not_fit_the_state_are_refused_with_the_reason() {
    let mut h = Harness::new();
    h.ingest(vec![post("-1_1", tuesday_10(), "Анна", WATER)]);
    assert!(h.act(1, Action::Resume).unwrap_err().contains("не ожидает"));
    assert!(
        h.act(1, Action::Reopen)
            .unwrap_err()
            .contains("открыть заново")
    );
    assert!(
        h.act(1, Action::Merge { into: 1 })
            .unwrap_err()
            .contains("самим собой")
    );
    assert!(
        h.act(1, Action::Merge { into: 99 })
            .unwrap_err()
            .contains("не найден")
    );
    assert!(
        h.act(7, Action::Reopen)
            .unwrap_err()
            .contains("№ 7 не найден")
    );
    let e = h
        .act(
            1,
            Action::Route {
                owner: Some("mayor".into()),
                group: None,
                topic: None,
                territory: None,
            },
        )
        .unwrap_err();
    assert!(e.contains("неизвестный исполнитель «mayor»"), "{e}");
    assert!(
        h.act(1, Action::ConfirmAnswer)
            .unwrap_err()
            .contains("нет ответа")
    );
    assert!(h.act(1, Action::Comment).unwrap_err().contains("пуст"));
    // Nothing was written by the refusals.
    assert_eq!(h.incident(1).events, 2);
}

#[test]
fn waiting_for_another_body_pauses_the_clock_by_the_working_time_waited() {
    let mut h = Harness::new();
    h.ingest(vec![post("-1_1", tuesday_10(), "Анна", WATER)]);
    assert_eq!(h.incident(1).due(), Some(msk("2026-11-25 09:45")));
    h.at(msk("2026-11-24 11:00"));
    let i = h
        .act(
            1,
            Action::Wait {
                body: "ГП ЯО «Южный водоканал»".into(),
            },
        )
        .unwrap();
    assert_eq!(i.due(), None, "a paused clock is due never");
    assert_eq!(h.store.timer_count(), 0, "a paused clock arms nothing");
    // Resumed at 14:00: three hours of which two were working time (lunch 12–13).
    h.at(msk("2026-11-24 14:00"));
    let i = h.act(1, Action::Resume).unwrap();
    assert_eq!(i.due(), Some(msk("2026-11-25 11:45")));
    assert_eq!(h.store.timer_count(), 1);
    assert!(
        h.kinds(1)
            .iter()
            .any(|k| matches!(k, EventKind::WaitingEnded { body } if body.contains("Южный")))
    );
}

#[test]
fn escalation_steps_fire_once_each_at_their_moment_to_the_people_acting_now() {
    let mut h = Harness::new();
    h.ingest(vec![post("-1_1", tuesday_10(), "Анна", WATER)]);
    // Due Wednesday 09:45; half of the 8 working hours is Tuesday 15:00; then the deadline;
    // then 4 working hours later (Wednesday 14:45, lunch excluded); then 8 (Thursday 09:30).
    let steps = [
        ("2026-11-24 14:59", 0),
        ("2026-11-24 15:00", 1),
        ("2026-11-24 15:01", 1),
        ("2026-11-25 09:45", 2),
        ("2026-11-25 14:44", 2),
        ("2026-11-25 14:45", 3),
        ("2026-11-26 09:29", 3),
        ("2026-11-26 09:30", 4),
        ("2026-11-30 10:30", 4),
    ];
    for (at, expected) in steps {
        h.at(msk(at));
        h.p.tick().unwrap();
        let fired = h
            .kinds(1)
            .iter()
            .filter(|k| matches!(k, EventKind::Escalated { .. }))
            .count();
        assert_eq!(fired, expected, "escalations by {at}");
    }
    assert_eq!(
        h.store.timer_count(),
        0,
        "every step fired; nothing is armed"
    );
    let alerts = h.alerts();
    let kinds: Vec<AlertKind> = alerts.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            AlertKind::NewIncident,
            AlertKind::Reminder,
            AlertKind::Overdue,
            AlertKind::Escalation,
            AlertKind::Escalation
        ]
    );
    assert_eq!(alerts[2].roles, ["executor:zhkh", "head:zhkh"]);
    assert_eq!(alerts[2].persons, ["zhkh-executor", "zhkh-head"]);
    assert_eq!(alerts[3].roles, ["mcu-head"]);
    assert_eq!(alerts[4].roles, ["curator"]);
    assert!(alerts[2].urgent, "an overdue alert passes quiet hours");
    assert!(
        alerts[2].title.starts_with("Срок истёк: инцидент № 1"),
        "{}",
        alerts[2].title
    );
}

#[test]
fn a_substitute_is_told_while_the_head_is_on_leave() {
    let mut h = Harness::new();
    // The embedded people file sends the head of ЖКХ on leave 6–26 July 2026.
    let monday = msk("2026-07-13 09:00");
    h.at(monday);
    h.ingest(vec![post("-1_1", monday, "Анна", WATER)]);
    h.at(msk("2026-07-14 09:00"));
    h.p.tick().unwrap();
    let overdue = h
        .alerts()
        .into_iter()
        .find(|a| a.kind == AlertKind::Overdue)
        .unwrap_or_else(|| panic!("the deadline passed: {:#?}", h.alerts()));
    assert_eq!(overdue.persons, ["zhkh-executor"]);
    assert!(
        overdue
            .body
            .contains("и. о. за: Руководитель: Управление ЖКХ"),
        "{}",
        overdue.body
    );
}

fn official_reply(id: &str, parent: &str, at: DateTime<Utc>, text: &str) -> Post {
    let mut p = post(id, at, "Администрация Гаврилов-Ямского округа", text);
    p.author_kind = AuthorKind::Official;
    p.parent = Some(PostKey::new(Platform::Vk, parent));
    p
}

#[test]
fn an_officials_comment_is_read_as_the_answer_and_the_coordinator_can_reject_it() {
    let mut h = Harness::new();
    h.ingest(vec![post("-1_1", tuesday_10(), "Анна", WATER)]);
    h.at(msk("2026-11-24 11:30"));
    h.ingest(vec![official_reply(
        "-1_1_c9",
        "-1_1",
        msk("2026-11-24 11:20"),
        "Добрый день! Ваше обращение передано в «Южный водоканал», информацию уточняем.",
    )]);
    let i = h.incident(1);
    assert_eq!(i.status, IncidentStatus::InWork, "an interim answer");
    assert_eq!(
        i.milestones.first_response_at,
        Some(msk("2026-11-24 11:30"))
    );
    assert!(i.pending_answer.is_some());
    assert!(
        h.alerts()
            .iter()
            .any(|a| a.kind == AlertKind::AnswerDetected)
    );

    // The coordinator reads it and disagrees: back to the first-response clock, re-armed.
    h.at(msk("2026-11-24 12:00"));
    let i = h.act(1, Action::RejectAnswer).unwrap();
    assert_eq!(i.status, IncidentStatus::Routed);
    assert_eq!(i.milestones.first_response_at, None);
    assert_eq!(i.due(), Some(msk("2026-11-25 09:45")));
    assert_eq!(h.store.timer_count(), 1);

    // A later comment on the merits: answered, and confirmed.
    h.at(msk("2026-11-24 16:00"));
    h.ingest(vec![official_reply(
        "-1_1_c10",
        "-1_1",
        msk("2026-11-24 15:55"),
        "Авария на водоводе устранена, водоснабжение восстановлено в 15:40.",
    )]);
    let i = h.incident(1);
    assert_eq!(i.status, IncidentStatus::Answered);
    assert_eq!(i.milestones.answer_on_time, Some(true));
    assert_eq!(h.store.timer_count(), 0);
    let i = h.act(1, Action::ConfirmAnswer).unwrap();
    assert!(i.pending_answer.is_none());
    let detected: Vec<bool> = h
        .kinds(1)
        .iter()
        .filter_map(|k| match k {
            EventKind::AnswerDetected { merits, .. } => Some(*merits),
            _ => None,
        })
        .collect();
    assert_eq!(detected, [false, true]);
}

#[test]
fn the_problem_coming_back_after_closing_reopens_the_incident() {
    let mut h = Harness::new();
    h.ingest(vec![post("-1_1", tuesday_10(), "Анна", WATER)]);
    h.act(1, Action::Answer { text: None }).unwrap();
    h.act(
        1,
        Action::Close {
            resolution: Resolution::Solved,
        },
    )
    .unwrap();
    // Ten days later, the same street has no water again.
    let later = tuesday_10() + Duration::days(10);
    h.at(later);
    h.ingest(vec![post(
        "-1_2",
        later,
        "Борис",
        "Опять на улице Кирова нет воды! Когда дадут воду?",
    )]);
    assert_eq!(h.store.incidents().count(), 1, "no new incident");
    let i = h.incident(1);
    assert_eq!(i.status, IncidentStatus::Routed);
    assert_eq!(i.milestones.reopened, 1);
    assert_eq!(i.mentions, 2);
    assert_eq!(i.authors, 2);
    assert!(
        h.kinds(1)
            .iter()
            .any(|k| matches!(k, EventKind::Reopened { post: Some(p) } if p == "vk:-1_2"))
    );
    assert!(h.alerts().iter().any(|a| a.kind == AlertKind::Reopened));
    h.check_open_view();
}

#[test]
fn merge_split_and_attach_move_posts_between_incidents() {
    let mut h = Harness::new();
    h.ingest(vec![
        post("-1_1", tuesday_10(), "Анна", WATER),
        post("-1_2", tuesday_10() + Duration::minutes(5), "Пётр", LIGHTS),
    ]);
    assert_eq!(h.store.incidents().count(), 2);
    // The coordinator decides they are one problem (they are not, but the queue allows it).
    let merged = h.act(2, Action::Merge { into: 1 }).unwrap();
    assert_eq!(merged.status, IncidentStatus::Closed);
    assert_eq!(merged.resolution, Some(Resolution::Duplicate));
    assert_eq!(merged.merged_into, Some(1));
    let target = h.incident(1);
    assert_eq!(target.mentions, 2);
    assert_eq!(target.authors, 2);
    let moved = h
        .store
        .post_by_key(&PostKey::new(Platform::Vk, "-1_2"))
        .unwrap()
        .unwrap();
    assert_eq!(moved.incident, Some(1));
    assert_eq!(h.store.timer_count(), 1, "the duplicate's timer is gone");

    // …then changes their mind: the lights post goes into an incident of its own.
    let source = h
        .act(
            1,
            Action::Split {
                post: "vk:-1_2".into(),
            },
        )
        .unwrap();
    assert_eq!(source.mentions, 1);
    assert_eq!(source.authors, 1, "Пётр left with his only post");
    assert_eq!(h.store.incident_authors(1).unwrap().len(), 1);
    let new = h.incident(3);
    assert_eq!(new.first_post, "vk:-1_2");
    assert_eq!(
        new.owner,
        Some(otklik::org::Owner::Territory("shopsha".into()))
    );
    assert_eq!(new.status, IncidentStatus::Routed);
    assert_eq!(h.store.timer_count(), 2);
    let moved = h
        .store
        .post_by_key(&PostKey::new(Platform::Vk, "-1_2"))
        .unwrap()
        .unwrap();
    assert_eq!(moved.incident, Some(3));
    assert!(
        h.act(
            1,
            Action::Split {
                post: "vk:-1_1".into()
            }
        )
        .unwrap_err()
        .contains("одно сообщение")
    );

    // A post that was no incident at all can be attached by hand.
    h.ingest(vec![post(
        "-1_3",
        tuesday_10(),
        "Вера",
        "Спасибо всем за праздник во дворе!",
    )]);
    let i = h
        .act(
            3,
            Action::Attach {
                post: "vk:-1_3".into(),
            },
        )
        .unwrap();
    assert_eq!(i.mentions, 2);
    let attached = h
        .store
        .post_by_key(&PostKey::new(Platform::Vk, "-1_3"))
        .unwrap()
        .unwrap();
    assert_eq!(attached.incident, Some(3));
    let detail = otklik::incidents::view::detail(&h.store, 3, false, None)
        .unwrap()
        .unwrap();
    let keys: Vec<&str> = detail.posts.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["vk:-1_2", "vk:-1_3"]);
    assert_eq!(i.authors, 2);

    // Пётр writes again and his post joins incident 3 by hand, then moves on to incident 1:
    // incident 3 still has his first post, so he still counts there.
    h.ingest(vec![post(
        "-1_4",
        tuesday_10() + Duration::minutes(20),
        "Пётр",
        "Спасибо соседям за помощь с машиной",
    )]);
    assert_eq!(
        h.act(
            3,
            Action::Attach {
                post: "vk:-1_4".into()
            }
        )
        .unwrap()
        .authors,
        2,
        "Пётр already counts in incident 3"
    );
    let one = h
        .act(
            1,
            Action::Attach {
                post: "vk:-1_4".into(),
            },
        )
        .unwrap();
    assert_eq!((one.mentions, one.authors), (2, 2));
    let three = h.incident(3);
    assert_eq!(
        (three.mentions, three.authors),
        (2, 2),
        "Пётр's first post is still in 3"
    );
    h.check_open_view();
    assert!(
        detail.posts.iter().all(|p| p.author.is_none()),
        "no personal data unless allowed"
    );
}

#[test]
fn moderation_runs_the_routing_clock_and_routing_starts_the_first_response_from_detection() {
    // Every incident judged with less than full confidence goes to moderation.
    let mut h = Harness::with(|l| l.settings.incidents.moderation_below_score = 1.01);
    h.ingest(vec![post("-1_1", tuesday_10(), "Анна", WATER)]);
    let i = h.incident(1);
    assert_eq!(i.status, IncidentStatus::Moderation);
    assert_eq!(i.clock.as_ref().unwrap().stage, Stage::Routing);
    let alerts = h.alerts();
    assert_eq!(alerts[0].kind, AlertKind::Moderation);
    assert_eq!(alerts[0].roles, ["im-coordinator"]);
    assert!(
        h.act(1, Action::Accept { text: None })
            .unwrap_err()
            .contains("на модерации")
    );
    assert_eq!(i.due(), Some(msk("2026-11-24 11:00")));
    h.at(msk("2026-11-24 10:30"));
    let i = h
        .act(
            i.id,
            Action::Route {
                owner: Some("zhkh".into()),
                group: Some("zhkh".into()),
                topic: None,
                territory: Some("gavrilov-yam".into()),
            },
        )
        .unwrap();
    assert_eq!(i.status, IncidentStatus::Routed);
    assert_eq!(i.milestones.routed_at, Some(msk("2026-11-24 10:30")));
    assert_eq!(
        i.due(),
        Some(msk("2026-11-25 09:45")),
        "counted from detection, not routing"
    );
}

#[test]
fn a_reports_period_lists_what_the_reports_count_closed_ones_too() {
    use otklik::incidents::view::{ListFilter, ListPage, list};
    let mut h = Harness::new();
    h.ingest(vec![
        post("-1_1", tuesday_10(), "Анна", WATER),
        post("-1_2", tuesday_10() + Duration::minutes(5), "Пётр", LIGHTS),
    ]);
    let solved = Action::Close {
        resolution: Resolution::Solved,
    };
    h.act(1, solved).unwrap();
    let rejected = Action::Close {
        resolution: Resolution::NotIncident,
    };
    h.act(2, rejected).unwrap();
    let now = tuesday_10() + Duration::hours(2);
    let ids = |filter: ListFilter| {
        let from_store = list(&h.store, None, &filter, now).unwrap();
        let with_memory = list(&h.store, Some(&h.p.open), &filter, now).unwrap();
        let ids = |p: &ListPage| p.incidents.iter().map(|i| i.id).collect::<Vec<_>>();
        assert_eq!(ids(&from_store), ids(&with_memory), "{filter:?}");
        ids(&from_store)
    };
    // The queue itself: open incidents only.
    assert!(ids(ListFilter::default()).is_empty());
    // A report's link: opened in the period, closed or not, but not those rejected.
    let morning = ListFilter {
        from: Some(msk("2026-11-24 09:00")),
        to: Some(msk("2026-11-24 11:00")),
        ..ListFilter::default()
    };
    assert_eq!(ids(morning.clone()), [1]);
    let later = ListFilter {
        from: Some(msk("2026-11-24 10:01")),
        ..morning.clone()
    };
    assert!(ids(later).is_empty());
    let before = ListFilter {
        from: None,
        to: Some(msk("2026-11-24 10:00")),
        ..ListFilter::default()
    };
    assert!(ids(before).is_empty(), "`to` is exclusive");
    let resonant = ListFilter {
        resonant: true,
        ..morning.clone()
    };
    assert!(ids(resonant).is_empty());
    // A status still narrows the period.
    let closed = ListFilter {
        status: vec!["closed".into()],
        ..morning
    };
    assert_eq!(ids(closed), [1, 2]);
}
