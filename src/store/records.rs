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

    /// Every status, in lifecycle order.
    pub const ALL: [IncidentStatus; 5] = [
        IncidentStatus::Moderation,
        IncidentStatus::Routed,
        IncidentStatus::InWork,
        IncidentStatus::Answered,
        IncidentStatus::Closed,
    ];

    /// The identifier used in the API, the CLI and the configuration.
    pub fn id(self) -> &'static str {
        match self {
            IncidentStatus::Moderation => "moderation",
            IncidentStatus::Routed => "routed",
            IncidentStatus::InWork => "in_work",
            IncidentStatus::Answered => "answered",
            IncidentStatus::Closed => "closed",
        }
    }

    pub fn from_id(id: &str) -> Option<IncidentStatus> {
        IncidentStatus::ALL.into_iter().find(|s| s.id() == id)
    }
}

/// How a closed incident ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The problem was solved.
    Solved,
    /// The check did not confirm the problem.
    NotConfirmed,
    /// Another incident is about the same problem (see `merged_into`).
    Duplicate,
    /// Not an incident at all (advertising, news, a misreading).
    NotIncident,
}

impl Resolution {
    pub const ALL: [Resolution; 4] = [
        Resolution::Solved,
        Resolution::NotConfirmed,
        Resolution::Duplicate,
        Resolution::NotIncident,
    ];

    pub fn label_ru(self) -> &'static str {
        match self {
            Resolution::Solved => "решено",
            Resolution::NotConfirmed => "не подтвердилось",
            Resolution::Duplicate => "дубликат",
            Resolution::NotIncident => "не инцидент",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Resolution::Solved => "solved",
            Resolution::NotConfirmed => "not_confirmed",
            Resolution::Duplicate => "duplicate",
            Resolution::NotIncident => "not_incident",
        }
    }

    pub fn from_id(id: &str) -> Option<Resolution> {
        Resolution::ALL.into_iter().find(|r| r.id() == id)
    }
}

/// Which answer a response clock waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The coordinator must route an incident in moderation.
    Routing,
    /// The executor must give the first response (accepted for work, or the solution).
    FirstResponse,
    /// After an interim answer, the answer on the merits.
    FinalAnswer,
}

impl Stage {
    pub fn label_ru(self) -> &'static str {
        match self {
            Stage::Routing => "направление исполнителю",
            Stage::FirstResponse => "первый ответ",
            Stage::FinalAnswer => "ответ по существу",
        }
    }
}

/// The running response clock of an incident, with how far its escalation has gone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageClock {
    pub stage: Stage,
    pub clock: crate::incidents::clock::ResponseClock,
    /// How many escalation steps of this stage have fired.
    pub escalations: u8,
    /// The next escalation point, when one is armed (mirrored by a timer key in the store).
    pub timer: Option<DateTime<Utc>>,
}

/// When the stages of an incident ended and how: what the ratings are computed from, kept on
/// the incident so that a report over half a million incidents does not replay timelines.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Milestones {
    pub routed_at: Option<DateTime<Utc>>,
    /// First response (interim answer or the answer on the merits).
    pub first_response_at: Option<DateTime<Utc>>,
    /// Working seconds from detection to the first response, pauses excluded.
    pub first_response_working_secs: Option<i64>,
    pub first_response_on_time: Option<bool>,
    pub answered_at: Option<DateTime<Utc>>,
    pub answer_on_time: Option<bool>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Times the incident was reopened (by the coordinator or because the problem came back).
    pub reopened: u32,
    /// The resident's satisfaction with the answer, where known.
    pub satisfied: Option<bool>,
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
    /// How a closed incident ended.
    #[serde(default)]
    pub resolution: Option<Resolution>,
    /// For a duplicate: the incident it was merged into.
    #[serde(default)]
    pub merged_into: Option<IncidentId>,
    /// Set while the incident waits for another body (an outside organisation): the clock is
    /// paused.
    #[serde(default)]
    pub waiting_for: Option<String>,
    /// The running response clock, when a stage is waiting for an answer.
    #[serde(default)]
    pub clock: Option<StageClock>,
    #[serde(default)]
    pub milestones: Milestones,
    /// An official's comment read as the answer, awaiting the coordinator's confirmation.
    #[serde(default)]
    pub pending_answer: Option<crate::incidents::queue::PendingAnswer>,
}

impl Incident {
    /// When the running stage is due (`None` when nothing is due or the clock is paused).
    pub fn due(&self) -> Option<DateTime<Utc>> {
        self.clock.as_ref().and_then(|c| c.clock.due())
    }

    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.due().is_some_and(|due| now >= due)
    }
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
    /// Sent to an owner (first routing, or rerouting by the coordinator).
    Routed {
        owner: Owner,
        previous: Option<Owner>,
    },
    /// Topic group, topic or territory corrected by the coordinator.
    Reclassified {
        group: String,
        topic: Option<String>,
        territory: Option<String>,
    },
    /// A response clock started.
    ClockStarted {
        stage: Stage,
        due: DateTime<Utc>,
    },
    /// Accepted for work: the first (interim) response.
    Accepted {
        text: Option<String>,
        /// The official's comment that gave it, when it was read from the platform.
        post: Option<String>,
    },
    /// The answer on the merits.
    Answered {
        text: Option<String>,
        post: Option<String>,
    },
    /// An official's comment was read as an answer; the coordinator may confirm or reject it.
    AnswerDetected {
        post: String,
        text: String,
        /// `true`: read as the answer on the merits; `false`: as an interim answer.
        merits: bool,
    },
    AnswerConfirmed {
        post: String,
    },
    /// The coordinator rejected the reading of a comment as an answer: the clock runs again.
    AnswerRejected {
        post: String,
    },
    /// Waiting for another body: the clock is paused.
    WaitingStarted {
        body: String,
    },
    WaitingEnded {
        body: String,
    },
    Closed {
        resolution: Resolution,
    },
    Reopened {
        /// The post that brought the problem back, when it was a recurrence.
        post: Option<String>,
    },
    /// This incident was merged into another one.
    MergedInto {
        into: IncidentId,
    },
    /// Another incident was merged into this one, with its posts.
    MergedFrom {
        from: IncidentId,
        posts: Vec<String>,
    },
    /// A post taken out of this incident (into another one, or a new one).
    PostDetached {
        post: String,
        to: IncidentId,
    },
    /// An escalation step fired: the people told, and what is due.
    Escalated {
        stage: Stage,
        step: u8,
        /// The roles addressed, as in `[[escalation]]`.
        roles: Vec<String>,
        /// Who holds those roles now (substitutes included).
        persons: Vec<String>,
        due: DateTime<Utc>,
        overdue: bool,
    },
    /// The resident's satisfaction with the answer, as recorded by the coordinator.
    SatisfactionRecorded {
        satisfied: bool,
    },
    /// A free comment by a user.
    Commented,
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

/// An alert waiting in the outbox: written in the same store transaction as the event that
/// causes it (invariant 6), delivered by the alerts workers. Business logic only says what
/// happened and to whom (roles); people, channels, grouping and quiet hours are the alerts
/// configuration's business.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Outbox number; `otklik-alert-{id}.{person}` is the idempotency key of its delivery to
    /// a person (`otklik-digest-{first}-{last}.{person}` when grouped into a digest).
    pub id: u64,
    pub at: DateTime<Utc>,
    pub kind: AlertKind,
    /// The incident it is about.
    pub incident: Option<IncidentId>,
    /// Roles addressed explicitly (escalation steps name them); empty: the alert routing
    /// configuration decides by kind.
    pub roles: Vec<String>,
    /// Persons resolved at the time of the event (substitutes applied), when the event names
    /// them.
    pub persons: Vec<String>,
    /// Urgent alerts pass through quiet hours.
    pub urgent: bool,
    /// One line of what happened, in Russian.
    pub title: String,
    /// Details, in Russian, plain text.
    pub body: String,
}

/// What an alert is about: the alert routing configuration keys on these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    NewIncident,
    Moderation,
    Routed,
    Reminder,
    Escalation,
    Overdue,
    Resonance,
    AnswerDetected,
    Reopened,
    SourceFailing,
    SourceRecovered,
    Digest,
    WeeklyNote,
    Test,
}

impl AlertKind {
    pub const ALL: [AlertKind; 14] = [
        AlertKind::NewIncident,
        AlertKind::Moderation,
        AlertKind::Routed,
        AlertKind::Reminder,
        AlertKind::Escalation,
        AlertKind::Overdue,
        AlertKind::Resonance,
        AlertKind::AnswerDetected,
        AlertKind::Reopened,
        AlertKind::SourceFailing,
        AlertKind::SourceRecovered,
        AlertKind::Digest,
        AlertKind::WeeklyNote,
        AlertKind::Test,
    ];

    pub fn id(self) -> &'static str {
        match self {
            AlertKind::NewIncident => "new_incident",
            AlertKind::Moderation => "moderation",
            AlertKind::Routed => "routed",
            AlertKind::Reminder => "reminder",
            AlertKind::Escalation => "escalation",
            AlertKind::Overdue => "overdue",
            AlertKind::Resonance => "resonance",
            AlertKind::AnswerDetected => "answer_detected",
            AlertKind::Reopened => "reopened",
            AlertKind::SourceFailing => "source_failing",
            AlertKind::SourceRecovered => "source_recovered",
            AlertKind::Digest => "digest",
            AlertKind::WeeklyNote => "weekly_note",
            AlertKind::Test => "test",
        }
    }

    pub fn from_id(id: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.id() == id)
    }
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

/// A channel an alert is delivered by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Telegram,
    Webhook,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Telegram, Channel::Webhook];

    pub fn id(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Telegram => "telegram",
            Channel::Webhook => "webhook",
        }
    }
}

/// An alert addressed to one person, waiting in the grouping queue (group wait, quiet hours)
/// before it becomes a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueuedAlert {
    pub alert: u64,
    pub person: String,
    /// The role through which the person is addressed, when known.
    pub role: Option<String>,
    /// When the person acts for someone away: that person's id.
    pub acting_for: Option<String>,
    pub urgent: bool,
    pub queued: DateTime<Utc>,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not yet delivered: waiting for its first try or for a retry.
    Pending,
    Delivered,
    /// Gave up (attempts exhausted, a permanent refusal, or nobody to send it to): parked for
    /// the administrator (`otklik outbox --dead`, `otklik outbox retry`).
    Dead,
}

/// One message to one person by one channel: what the delivery workers send, retry and
/// mark delivered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: u64,
    /// The outbox alerts it carries: one, or several grouped into a digest.
    pub alerts: Vec<u64>,
    pub person: String,
    /// `None` until a channel is known: such a delivery is dead with the reason.
    pub channel: Option<Channel>,
    /// Sent with every attempt (header, Message-ID, body field), so that a receiver can tell a
    /// repeat from a new message.
    pub key: String,
    pub urgent: bool,
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// The same as HTML (e-mail's second part; Telegram takes its own rendering).
    pub html: String,
    /// Telegram's text (its HTML subset).
    #[serde(default)]
    pub telegram: String,
    pub created: DateTime<Utc>,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_try: DateTime<Utc>,
    pub last_error: Option<String>,
    pub last_try: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// What the channel answered when it accepted the message.
    pub answer: Option<String>,
}
