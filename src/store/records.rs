//! The records the store keeps.

use crate::model::{IncidentId, Post};
use crate::org::Owner;
use crate::sources::HealthState;
use crate::understand::Understanding;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A post as stored: what the source delivered, what the understanding step made of it, and
/// the incident it belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredPost {
    /// Position in the store, assigned in arrival order; the index records how far it reaches.
    pub seq: u64,
    pub post: Post,
    pub understanding: Understanding,
    pub incident: Option<IncidentId>,
}

/// Where an incident stands. Labels are what users read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Judged with low confidence: the coordinator confirms and routes it.
    Moderation,
    /// Sent to the responsible department or territory.
    Routed,
    /// The executor took it into work (first response or interim answer given).
    InWork,
    /// An answer on the merits was given.
    Answered,
    Closed,
}

impl IncidentStatus {
    pub fn label_ru(self) -> &'static str {
        match self {
            IncidentStatus::Moderation => "на модерации",
            IncidentStatus::Routed => "направлено исполнителю",
            IncidentStatus::InWork => "принято в работу",
            IncidentStatus::Answered => "дан ответ по существу",
            IncidentStatus::Closed => "закрыто",
        }
    }

    pub fn is_open(self) -> bool {
        self != IncidentStatus::Closed
    }
}

/// One real-world problem, with every post that mentions it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    pub status: IncidentStatus,
    /// When the first post about it was published.
    pub opened: DateTime<Utc>,
    /// When the latest post about it was published.
    pub last_mention: DateTime<Utc>,
    /// When otklik created it.
    pub created: DateTime<Utc>,
    pub group: String,
    pub topic: Option<String>,
    pub territory: Option<String>,
    pub place: Option<String>,
    pub owner: Option<Owner>,
    pub urgent: bool,
    /// Many distinct authors in a short time: «резонансное».
    pub resonant: bool,
    /// Key (`platform:native_id`) of the post that opened it. The rest are listed by
    /// [`crate::store::Store::incident_posts`]: kept out of this record so that a busy
    /// incident is not rewritten whole for every new mention.
    pub first_post: String,
    /// Posts about it.
    pub mentions: u32,
    /// Distinct authors (or, where the platform names none, distinct communities).
    pub authors: u32,
    /// A short excerpt of the first post, for lists and alerts.
    pub summary: String,
    /// Stems of its posts (up to a cap), for near-duplicate comparison. Kept under a key of
    /// its own (`if/`), written only when it changes: it stops growing at the cap, while the
    /// rest of a busy incident changes with every mention.
    #[serde(skip)]
    pub fingerprint: Vec<u32>,
    /// Number of events in the timeline (the next event's number).
    pub events: u32,
}

/// What happened to an incident: the timeline is the audit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    Created {
        post: String,
        status: IncidentStatus,
        owner: Option<Owner>,
    },
    PostAttached {
        post: String,
    },
    MarkedResonant {
        authors: usize,
    },
}

/// One entry of an incident's timeline: who, when, what and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvent {
    pub incident: IncidentId,
    pub number: u32,
    pub at: DateTime<Utc>,
    /// `otklik` for what the daemon decided, otherwise a user's login.
    pub actor: String,
    #[serde(flatten)]
    pub kind: EventKind,
    pub comment: Option<String>,
}

/// How a source has been doing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceHealth {
    pub source: String,
    pub platform: crate::model::Platform,
    pub state: HealthState,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    /// Posts this source delivered that were new to the store.
    pub posts_stored: u64,
    /// The current poll interval, seconds.
    pub interval_secs: u64,
}

/// Something the administrator must hear about (a source failing, disabled or back). Kept
/// in the store in order; the alerts issue delivers them through the outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminNotice {
    pub at: DateTime<Utc>,
    pub source: String,
    pub platform: crate::model::Platform,
    /// The state the source moved into.
    pub state: HealthState,
    /// The last error, when there is one.
    pub error: Option<String>,
    pub consecutive_failures: u32,
}
