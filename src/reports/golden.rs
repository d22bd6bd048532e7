//! A fixed dataset of incidents with figures worked out by hand: the golden tests, the CLI
//! tests and the documentation use it. (Public only so that tests outside the library can
//! write it into a store.)
//!
//! Week reported: 2026-W47 (Mon 16.11 – Sun 22.11, Moscow). Baseline: W39–W46.
//! - dorogi × gavrilov-yam: 2,3,2,3,2,3,2,3 in the baseline (mean 2.5), 9 in W47;
//!   P(X ≥ 9 | 2.5) = 0.0011403 → significant.
//! - zhkh × shopsha: 1 a week in the baseline, 2 in W47; plus one zhkh × gavrilov-yam in W47:
//!   group zhkh 3 vs 1.0, P = 0.0803 → not significant.
//! - blagoustroystvo × velikoe: none before, 5 in W47; P(X ≥ 5 | 0.5) = 0.00017212 → significant.
//! - obrazovanie × gavrilov-yam: 1 in W47.
//! - Territories: gavrilov-yam 11 vs 2.5 (P = 6.1627e-5, significant), velikoe 5 vs 0,
//!   shopsha 2 vs 1.0 (P = 0.2642, not).
//! - One W47 incident closed as «не инцидент»: counted nowhere.
//!
//! Ratings for W47 (m = 10, at least 5 incidents):
//! - zhkh (10: 9 dorogi + 1 zhkh): on time 8/10, first response 1…10 working hours (median
//!   5.5), merits 6/10, reopened 1/6, satisfied 2/2.
//! - velikoe (5): on time 5/5, 2 h each, merits 5/5, reopened 0/5, satisfaction unknown.
//! - education (1): on time 1/1, 1 h, merits 1/1 → «недостаточно данных».
//! - shopsha (2): nothing decided yet.
//! Pooled: on time 14/16 = 0.875, merits 12/16 = 0.75, reopened 1/12, satisfied 2/2 = 1.
//! zhkh: on time (8 + 8.75)/20 = 0.8375, merits (6 + 7.5)/20 = 0.675,
//!   reopened (1 + 0.8333)/16 = 0.114583, satisfied (2 + 10)/12 = 1;
//!   index = 100·(0.4·0.8375 + 0.3·0.675 + 0.2·0.885417 + 0.1·1) = 81.4583.
//! velikoe: on time 13.75/15 = 0.916667, merits 12.5/15 = 0.833333, reopened 0.8333/15 =
//!   0.055556, satisfied 10/10 = 1; index = 90.5556 → first place.

use super::Resolution;
use super::coverage::CoverageSource;
use crate::incidents::clock::ResponseClock;
use crate::model::Platform;
use crate::org::Owner;
use crate::sources::HealthState;
use crate::store::{Incident, IncidentStatus, Milestones, SourceHealth, Stage, StageClock};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

/// Moscow local time, on the hour.
pub fn msk(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Moscow
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn incident(
    id: u64,
    group: &str,
    territory: &str,
    owner: Owner,
    opened: DateTime<Utc>,
) -> Incident {
    Incident {
        id,
        status: IncidentStatus::Routed,
        opened,
        last_mention: opened,
        created: opened + TimeDelta::minutes(5),
        group: group.into(),
        topic: None,
        territory: Some(territory.into()),
        place: None,
        owner: Some(owner),
        urgent: false,
        resonant: false,
        first_post: format!("vk:-1_{id}"),
        mentions: 1,
        authors: 1,
        summary: format!("Сообщение {id}"),
        fingerprint: Vec::new(),
        events: 1,
        resolution: None,
        merged_into: None,
        waiting_for: None,
        clock: None,
        milestones: Milestones::default(),
        pending_answer: None,
    }
}

fn zhkh() -> Owner {
    Owner::Department("zhkh".into())
}

fn answered(i: &mut Incident, hours: i64, on_time: bool, merits: bool) {
    let at = i.created + TimeDelta::hours(hours);
    i.status = if merits {
        IncidentStatus::Answered
    } else {
        IncidentStatus::InWork
    };
    i.milestones.first_response_at = Some(at);
    i.milestones.first_response_working_secs = Some(hours * 3600);
    i.milestones.first_response_on_time = Some(on_time);
    if merits {
        i.milestones.answered_at = Some(at);
        i.milestones.answer_on_time = Some(true);
    }
}

/// The dataset described at the top of this file.
pub fn dataset() -> Vec<Incident> {
    let mut out = Vec::new();
    let mut id = 0;
    let mut next = || {
        id += 1;
        id
    };
    let w47 = msk(2026, 11, 16, 10);
    // Baseline W39..W46: week k starts 8-k weeks before W47.
    let pattern = [2, 3, 2, 3, 2, 3, 2, 3];
    for (k, n) in pattern.iter().enumerate() {
        let monday = w47 - TimeDelta::weeks(8 - k as i64);
        for j in 0..*n {
            out.push(incident(
                next(),
                "dorogi",
                "gavrilov-yam",
                zhkh(),
                monday + TimeDelta::hours(j),
            ));
        }
        let mut s = incident(
            next(),
            "zhkh",
            "shopsha",
            Owner::Territory("shopsha".into()),
            monday + TimeDelta::days(1),
        );
        if k == 7 {
            // Still waiting for its first response, long past due.
            let due = msk(2026, 11, 10, 17);
            s.clock = Some(StageClock {
                stage: Stage::FirstResponse,
                clock: ResponseClock::new(s.created, Some(due), None),
                escalations: 0,
                timer: None,
            });
        } else {
            answered(&mut s, 2, true, true);
            s.status = IncidentStatus::Closed;
            s.resolution = Some(Resolution::Solved);
            s.milestones.closed_at = s.milestones.answered_at;
        }
        out.push(s);
    }
    // W47.
    for j in 0..9 {
        let mut i = incident(
            next(),
            "dorogi",
            "gavrilov-yam",
            zhkh(),
            w47 + TimeDelta::hours(j),
        );
        // On time except the last two; first responses after 1..9 working hours; the first
        // six answered on the merits.
        answered(&mut i, j + 1, j < 7, j < 6);
        if j == 0 {
            i.milestones.reopened = 1;
            i.milestones.satisfied = Some(true);
            i.resonant = true;
            i.mentions = 12;
            i.authors = 9;
        }
        if j == 1 {
            i.milestones.satisfied = Some(true);
        }
        out.push(i);
    }
    let mut z = incident(
        next(),
        "zhkh",
        "gavrilov-yam",
        zhkh(),
        w47 + TimeDelta::days(2),
    );
    answered(&mut z, 10, true, false);
    out.push(z);
    for j in 0..2 {
        out.push(incident(
            next(),
            "zhkh",
            "shopsha",
            Owner::Territory("shopsha".into()),
            w47 + TimeDelta::days(3) + TimeDelta::hours(j),
        ));
    }
    for j in 0..5 {
        let mut v = incident(
            next(),
            "blagoustroystvo",
            "velikoe",
            Owner::Territory("velikoe".into()),
            w47 + TimeDelta::days(1) + TimeDelta::hours(j),
        );
        answered(&mut v, 2, true, true);
        out.push(v);
    }
    let mut e = incident(
        next(),
        "obrazovanie",
        "gavrilov-yam",
        Owner::Department("education".into()),
        w47 + TimeDelta::days(4),
    );
    answered(&mut e, 1, true, true);
    out.push(e);
    let mut not = incident(next(), "dorogi", "gavrilov-yam", zhkh(), w47);
    not.status = IncidentStatus::Closed;
    not.resolution = Some(Resolution::NotIncident);
    out.push(not);
    out
}

/// When the golden figures are judged: Monday 23.11.2026 09:00, Moscow.
pub fn now() -> DateTime<Utc> {
    msk(2026, 11, 23, 9)
}

/// Three sources: the town's news (working), a Velikoe community and a search over the
/// whole district (both failing since 1 November).
pub fn sources() -> Vec<CoverageSource> {
    vec![
        CoverageSource {
            name: "gy-news".into(),
            territory: Some("gavrilov-yam".into()),
            enabled: true,
        },
        CoverageSource {
            name: "velikoe-vk".into(),
            territory: Some("velikoe".into()),
            enabled: true,
        },
        CoverageSource {
            name: "search".into(),
            territory: None,
            enabled: true,
        },
    ]
}

pub fn health() -> Vec<SourceHealth> {
    let health = |name: &str, state: HealthState, last: DateTime<Utc>| SourceHealth {
        source: name.into(),
        platform: Platform::Vk,
        state,
        last_success: Some(last),
        last_error: None,
        last_error_at: None,
        consecutive_failures: 0,
        posts_stored: 10,
        interval_secs: 60,
    };
    vec![
        health("gy-news", HealthState::Ok, msk(2026, 11, 23, 8)),
        health("velikoe-vk", HealthState::Failing, msk(2026, 11, 1, 8)),
        health("search", HealthState::Failing, msk(2026, 11, 1, 8)),
    ]
}
