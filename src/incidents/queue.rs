//! The incident queue: the lifecycle of an incident, its response clocks, escalation and the
//! official's answer.
//!
//! Every change goes through [`Tx`]: the incident's new state, the events of its timeline, the
//! timer that arms its next escalation step and the alerts for the outbox are written in one
//! store batch (invariants 4–6). The functions here decide; the pipeline thread, the only
//! writer, commits.
//!
//! Lifecycle (labels as users read them):
//! на модерации → направлено исполнителю → принято в работу → дан ответ по существу → закрыто,
//! with reopening, and "waiting for another body" pausing the clock at any open stage.
//!
//! Clocks: moderation runs the routing clock; once routed, the first-response clock counts from
//! detection (the incident's `created`), tighter for urgent or resonant incidents; an interim
//! answer starts the final-answer clock. Only one clock runs at a time.

use super::calendar::WorkCalendar;
use super::clock::ClockError;
use super::deadlines::DeadlinePolicy;
use super::escalation::{self, EscalationStep};
use crate::config::IncidentSettings;
use crate::model::{IncidentId, Post};
use crate::org::{Org, Owner};
use crate::people::{self, People};
use crate::store::{
    Alert, AlertKind, EventKind, Incident, IncidentEvent, IncidentStatus, Milestones, Resolution,
    Stage, StageClock, Store, StoreError, StoredPost, WriteBatch,
};
use crate::understand::Knowledge;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the queue needs to decide: deadlines, escalation steps, people, the org chart.
pub struct Rules {
    pub policy: DeadlinePolicy,
    pub escalation: Vec<EscalationStep>,
    pub people: People,
    pub org: Arc<Org>,
    pub knowledge: Arc<Knowledge>,
    pub settings: IncidentSettings,
}

impl Rules {
    pub fn from_loaded(loaded: &crate::config::Loaded) -> Rules {
        Rules {
            policy: DeadlinePolicy::new(loaded.settings.deadlines.clone(), loaded.calendar.clone()),
            escalation: loaded.settings.escalation.0.clone(),
            people: loaded.people.clone(),
            org: Arc::new(loaded.org.clone()),
            knowledge: Arc::new(loaded.knowledge.clone()),
            settings: loaded.settings.incidents.clone(),
        }
    }

    fn calendar(&self) -> &WorkCalendar {
        self.policy.calendar()
    }
}

/// Why a queue action was refused. The messages are what the coordinator reads: Russian.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("инцидент № {0} не найден")]
    NotFound(IncidentId),
    #[error("{0}")]
    Refused(String),
    #[error("расчёт срока: {0}")]
    Clock(#[from] ClockError),
    #[error("хранилище: {0}")]
    Store(#[from] StoreError),
}

impl QueueError {
    /// Whether the action was refused on its merits (as opposed to a failure of the system).
    pub fn is_refusal(&self) -> bool {
        matches!(self, QueueError::NotFound(_) | QueueError::Refused(_))
    }
}

fn refuse<T>(message: impl Into<String>) -> Result<T, QueueError> {
    Err(QueueError::Refused(message.into()))
}

/// An action on an incident, as the web UI, the API and the CLI ask for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Route (or reroute) to an owner; with group/topic/territory, reclassify first. Without
    /// an owner, the routing rules decide from the (corrected) classification.
    Route {
        #[serde(default)]
        owner: Option<String>,
        #[serde(default)]
        group: Option<String>,
        #[serde(default)]
        topic: Option<String>,
        #[serde(default)]
        territory: Option<String>,
    },
    /// Accepted for work: the first (interim) response.
    Accept {
        #[serde(default)]
        text: Option<String>,
    },
    /// The answer on the merits.
    Answer {
        #[serde(default)]
        text: Option<String>,
    },
    /// Waiting for another body: pause the clock.
    Wait {
        body: String,
    },
    /// The other body answered: the clock runs again.
    Resume,
    Close {
        resolution: Resolution,
    },
    Reopen,
    /// Merge this incident into another (this one closes as a duplicate).
    Merge {
        into: IncidentId,
    },
    /// Take a post out of this incident into a new one.
    Split {
        post: String,
    },
    /// Attach a post (from another incident or none) to this incident.
    Attach {
        post: String,
    },
    /// Confirm the reading of an official's comment as the answer.
    ConfirmAnswer,
    /// Reject it: the incident returns to where it was, the clock runs again.
    RejectAnswer,
    /// Record the resident's satisfaction with the answer.
    Satisfaction {
        satisfied: bool,
    },
    /// A comment in the timeline, nothing else.
    Comment,
}

impl Action {
    /// The action's name in the API and the CLI.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Route { .. } => "route",
            Action::Accept { .. } => "accept",
            Action::Answer { .. } => "answer",
            Action::Wait { .. } => "wait",
            Action::Resume => "resume",
            Action::Close { .. } => "close",
            Action::Reopen => "reopen",
            Action::Merge { .. } => "merge",
            Action::Split { .. } => "split",
            Action::Attach { .. } => "attach",
            Action::ConfirmAnswer => "confirm_answer",
            Action::RejectAnswer => "reject_answer",
            Action::Satisfaction { .. } => "satisfaction",
            Action::Comment => "comment",
        }
    }
}

/// A user's request: who does what to which incident, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub incident: IncidentId,
    /// The user's login (`otklik` is the daemon itself).
    pub actor: String,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub action: Action,
}

/// An official's comment read as an answer, awaiting the coordinator's confirmation, with
/// what the incident was before (restored if the coordinator rejects the reading).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingAnswer {
    pub post: String,
    pub merits: bool,
    pub status: IncidentStatus,
    pub clock: Option<StageClock>,
    pub milestones: Milestones,
}

/// One store transaction of the queue: the batch and what it carries.
pub struct Tx<'a> {
    pub store: &'a Store,
    pub batch: WriteBatch,
    pub now: DateTime<Utc>,
    pending_alert: Option<u64>,
    pub pending_incident: Option<u64>,
    /// Incidents changed, in their new state, by id.
    pub changed: BTreeMap<IncidentId, Incident>,
    /// Alerts written.
    pub alerts: Vec<Alert>,
    /// Posts whose record changed (moved between incidents), for the index.
    pub reindex: Vec<StoredPost>,
    /// New distinct authors per incident (for the detector's sets).
    pub new_authors: Vec<(IncidentId, String)>,
}

impl<'a> Tx<'a> {
    pub fn new(store: &'a Store, now: DateTime<Utc>) -> Tx<'a> {
        Tx {
            store,
            batch: WriteBatch::default(),
            now,
            pending_alert: None,
            pending_incident: None,
            changed: BTreeMap::new(),
            alerts: Vec::new(),
            reindex: Vec::new(),
            new_authors: Vec::new(),
        }
    }

    /// The incident's latest state: changed in this transaction, or from the store.
    pub fn incident(&self, id: IncidentId) -> Result<Incident, QueueError> {
        if let Some(i) = self.changed.get(&id) {
            return Ok(i.clone());
        }
        self.store.incident(id)?.ok_or(QueueError::NotFound(id))
    }

    /// Record the incident's new state.
    pub fn put(&mut self, incident: Incident) {
        self.batch.put_incident(&incident);
        self.changed.insert(incident.id, incident);
    }

    fn event(
        &mut self,
        incident: &mut Incident,
        actor: &str,
        kind: EventKind,
        comment: Option<String>,
    ) {
        let event = IncidentEvent {
            incident: incident.id,
            number: incident.events,
            at: self.now,
            actor: actor.to_string(),
            kind,
            comment,
        };
        incident.events += 1;
        self.batch.put_event(&event);
    }

    fn alert(&mut self, mut alert: Alert) -> Result<(), QueueError> {
        alert.at = self.now;
        alert.id = self
            .store
            .reserve_alert_id(&mut self.batch, &mut self.pending_alert)?;
        self.batch.put_alert(&alert);
        self.alerts.push(alert);
        Ok(())
    }
}

/// The queue's decisions.
pub struct Queue {
    pub rules: Arc<Rules>,
}

impl Queue {
    pub fn new(rules: Arc<Rules>) -> Queue {
        Queue { rules }
    }

    /// A new incident (just opened by the detector): start its clock, tell the owner or the
    /// coordinator.
    pub fn opened(&self, incident: &mut Incident, tx: &mut Tx) -> Result<(), QueueError> {
        let old = timer_of(incident);
        let now = tx.now;
        match incident.status {
            IncidentStatus::Moderation => {
                let clock = self
                    .rules
                    .policy
                    .routing_clock(incident.created, Some(&incident.group))?;
                self.start_clock(incident, Stage::Routing, clock, tx);
                let body = self.describe(incident);
                tx.alert(self.alert_for(
                    incident,
                    AlertKind::Moderation,
                    vec!["im-coordinator".into()],
                    format!(
                        "Инцидент № {} ожидает модерации: {}",
                        incident.id,
                        self.group_name(&incident.group)
                    ),
                    body,
                ))?;
            }
            _ => {
                incident.milestones.routed_at = Some(now);
                self.start_first_response(incident, tx)?;
                let roles = incident
                    .owner
                    .as_ref()
                    .map(|o| vec![people::executor_role(o)])
                    .unwrap_or_default();
                let body = self.describe(incident);
                tx.alert(self.alert_for(
                    incident,
                    AlertKind::NewIncident,
                    roles,
                    format!(
                        "Новый инцидент № {}: {}",
                        incident.id,
                        self.group_name(&incident.group)
                    ),
                    body,
                ))?;
            }
        }
        self.sync_timer(incident, old, tx)
    }

    /// The detector marked an incident resonant: the urgent deadline applies to its first
    /// response from now on.
    pub fn became_resonant(&self, incident: &mut Incident, tx: &mut Tx) -> Result<(), QueueError> {
        let old = timer_of(incident);
        if let Some(c) = &mut incident.clock
            && c.stage == Stage::FirstResponse
        {
            let d = self
                .rules
                .policy
                .settings()
                .for_group(Some(&incident.group));
            let urgent_due = self
                .rules
                .calendar()
                .add_calendar_hours(incident.created, d.urgent_calendar_hours);
            let tighter = c.clock.calendar_due.is_none_or(|due| urgent_due < due);
            if tighter {
                c.clock.calendar_due = Some(urgent_due);
            }
        }
        let body = self.describe(incident);
        let mut roles = vec!["im-coordinator".to_string()];
        if let Some(o) = &incident.owner {
            roles.push(people::executor_role(o));
            roles.push(people::head_role(o));
        }
        let mut alert = self.alert_for(
            incident,
            AlertKind::Resonance,
            roles,
            format!(
                "Резонанс: инцидент № {} — много жалоб за короткое время",
                incident.id
            ),
            body,
        );
        alert.urgent = true;
        tx.alert(alert)?;
        self.sync_timer(incident, old, tx)
    }

    /// A new post about the problem of a closed incident: it reopens.
    pub fn recurred(
        &self,
        incident: &mut Incident,
        post: &str,
        tx: &mut Tx,
    ) -> Result<(), QueueError> {
        let old = timer_of(incident);
        self.reopen(incident, "otklik", Some(post.to_string()), None, tx)?;
        self.sync_timer(incident, old, tx)
    }

    /// An official's comment on one of the incident's posts: read it as the public answer.
    pub fn official_comment(
        &self,
        incident: &mut Incident,
        post: &Post,
        tx: &mut Tx,
    ) -> Result<(), QueueError> {
        if !matches!(
            incident.status,
            IncidentStatus::Routed | IncidentStatus::InWork | IncidentStatus::Moderation
        ) || incident.pending_answer.is_some()
        {
            return Ok(());
        }
        let old = timer_of(incident);
        let text = post.text.clone();
        let merits = self.reads_as_merits(&text);
        let uid = post.key.uid();
        let before = PendingAnswer {
            post: uid.clone(),
            merits,
            status: incident.status,
            clock: incident.clock.clone(),
            milestones: incident.milestones.clone(),
        };
        tx.event(
            incident,
            "otklik",
            EventKind::AnswerDetected {
                post: uid.clone(),
                text: text.clone(),
                merits,
            },
            None,
        );
        let routed = incident.owner.is_some() && incident.status != IncidentStatus::Moderation;
        if routed {
            if merits {
                self.answer(incident, "otklik", Some(text), Some(uid), tx)?;
            } else if incident.status == IncidentStatus::Routed {
                self.accept(incident, "otklik", Some(text), Some(uid), tx)?;
            }
        }
        incident.pending_answer = Some(before);
        let body = format!(
            "{}\n\nОтвет официального аккаунта ({}):\n{}\n\nПрочитан как {}. Подтвердите или отклоните это прочтение на странице инцидента.",
            self.describe(incident),
            if merits {
                "ответ по существу"
            } else {
                "промежуточный ответ"
            },
            crate::incidents::detect::excerpt(&post.text, 500),
            if merits {
                "ответ по существу"
            } else {
                "промежуточный ответ"
            },
        );
        tx.alert(self.alert_for(
            incident,
            AlertKind::AnswerDetected,
            vec!["im-coordinator".into()],
            format!(
                "Инцидент № {}: найден ответ официального аккаунта",
                incident.id
            ),
            body,
        ))?;
        self.sync_timer(incident, old, tx)
    }

    /// Whether an official's comment reads as the answer on the merits.
    pub fn reads_as_merits(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        self.rules
            .settings
            .answer_merits_words
            .iter()
            .any(|m| words.iter().any(|w| w.starts_with(m.as_str())))
    }

    /// Fire the escalation timer armed at `at` for incident `id`, if it is still the armed
    /// one; a stale key (the incident moved on) is only removed.
    pub fn fire_timer(
        &self,
        id: IncidentId,
        at: DateTime<Utc>,
        tx: &mut Tx,
    ) -> Result<(), QueueError> {
        let mut incident = match tx.incident(id) {
            Ok(i) => i,
            Err(QueueError::NotFound(_)) => {
                tx.batch.remove_timer(at, id);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let armed = incident.clock.as_ref().and_then(|c| c.timer);
        if armed != Some(at) || !incident.status.is_open() {
            tx.batch.remove_timer(at, id);
            return Ok(());
        }
        let mut clock = incident
            .clock
            .clone()
            .expect("armed timers belong to a clock");
        let steps = escalation::steps_for(&self.rules.escalation, clock.stage);
        // After downtime several steps may be due: only the latest (the most severe) is sent,
        // the earlier ones would only repeat it late.
        let urgent = incident.urgent || incident.resonant;
        while usize::from(clock.escalations) + 1 < steps.len() {
            let next = StageClock {
                escalations: clock.escalations + 1,
                ..clock.clone()
            };
            match escalation::next_timer(
                &self.rules.escalation,
                &next,
                urgent,
                self.rules.calendar(),
            )? {
                Some((t, _)) if t <= tx.now => clock = next,
                _ => break,
            }
        }
        if let Some(c) = &mut incident.clock {
            c.escalations = clock.escalations;
        }
        let Some(step) = steps.get(usize::from(clock.escalations)).copied() else {
            tx.batch.remove_timer(at, id);
            return Ok(());
        };
        let due = clock.clock.due().unwrap_or(at);
        let overdue = tx.now >= due;
        let roles: Vec<String> = step
            .notify
            .iter()
            .map(|r| self.role_for(r, &incident, clock.stage))
            .collect();
        let day = self.rules.calendar().local_date(tx.now);
        // Each person once, with every absent colleague they act for.
        let mut told: Vec<(String, Vec<String>)> = Vec::new();
        for role in &roles {
            for a in self.rules.people.holders(role, day) {
                let index = match told.iter().position(|(p, _)| *p == a.person) {
                    Some(i) => i,
                    None => {
                        told.push((a.person.clone(), Vec::new()));
                        told.len() - 1
                    }
                };
                if let Some(absent) = a
                    .acting_for
                    .as_deref()
                    .and_then(|f| self.rules.people.person(f))
                {
                    told[index].1.push(absent.name.clone());
                }
            }
        }
        let persons: Vec<String> = told.iter().map(|(p, _)| p.clone()).collect();
        let names: Vec<String> = told
            .iter()
            .map(|(id, acting)| {
                let name = self
                    .rules
                    .people
                    .person(id)
                    .map_or(id.clone(), |p| p.name.clone());
                if acting.is_empty() {
                    name
                } else {
                    format!("{name} (и. о. за: {})", acting.join(", "))
                }
            })
            .collect();
        let step_number = clock.escalations;
        tx.event(
            &mut incident,
            "otklik",
            EventKind::Escalated {
                stage: clock.stage,
                step: step_number,
                roles: roles.clone(),
                persons: persons.clone(),
                due,
                overdue,
            },
            None,
        );
        let kind = escalation::alert_kind(step);
        let local_due = super::clock::format_local(due, self.rules.calendar());
        let title = match kind {
            AlertKind::Reminder => format!(
                "Напоминание: инцидент № {} — {} до {}",
                incident.id,
                clock.stage.label_ru(),
                local_due
            ),
            AlertKind::Overdue => format!(
                "Срок истёк: инцидент № {} — {} (срок {})",
                incident.id,
                clock.stage.label_ru(),
                local_due
            ),
            _ => format!(
                "Эскалация: инцидент № {} просрочен — {} (срок {})",
                incident.id,
                clock.stage.label_ru(),
                local_due
            ),
        };
        let body = format!(
            "{}\n\nУведомлены: {}",
            self.describe(&incident),
            if names.is_empty() {
                "никто (в people.toml нет лиц с этими ролями)".to_string()
            } else {
                names.join("; ")
            }
        );
        let mut alert = self.alert_for(&incident, kind, roles, title, body);
        alert.persons = persons;
        alert.urgent = incident.urgent || incident.resonant || overdue;
        tx.alert(alert)?;
        if let Some(c) = &mut incident.clock {
            c.escalations += 1;
        }
        self.sync_timer(&mut incident, Some(at), tx)?;
        tx.put(incident);
        Ok(())
    }

    /// Apply a user's request. The incident's new state (and any other incident it touched)
    /// is in `tx.changed`.
    pub fn apply(&self, request: &Request, tx: &mut Tx) -> Result<(), QueueError> {
        let mut incident = tx.incident(request.incident)?;
        let old = timer_of(&incident);
        let actor = request.actor.as_str();
        let comment = request.comment.clone().filter(|c| !c.trim().is_empty());
        let open = incident.status.is_open();
        match &request.action {
            Action::Route {
                owner,
                group,
                topic,
                territory,
            } => self.route(
                &mut incident,
                actor,
                owner.as_deref(),
                group.as_deref(),
                topic.as_deref(),
                territory.as_deref(),
                comment,
                tx,
            )?,
            Action::Accept { text } => {
                match incident.status {
                    IncidentStatus::Routed => {}
                    IncidentStatus::Moderation => {
                        return refuse("инцидент на модерации: сначала направьте его исполнителю");
                    }
                    IncidentStatus::InWork => return refuse("инцидент уже принят в работу"),
                    _ => return refuse(format!("инцидент {}", incident.status.label_ru())),
                }
                self.accept(&mut incident, actor, text.clone(), None, tx)?;
                self.note(&mut incident, actor, comment, tx);
            }
            Action::Answer { text } => {
                match incident.status {
                    IncidentStatus::Routed | IncidentStatus::InWork => {}
                    IncidentStatus::Moderation => {
                        return refuse("инцидент на модерации: сначала направьте его исполнителю");
                    }
                    _ => return refuse(format!("инцидент {}", incident.status.label_ru())),
                }
                self.answer(&mut incident, actor, text.clone(), None, tx)?;
                self.note(&mut incident, actor, comment, tx);
            }
            Action::Wait { body } => {
                if body.trim().is_empty() {
                    return refuse("укажите, ответа какой организации ждём");
                }
                if incident.waiting_for.is_some() {
                    return refuse("инцидент уже ожидает ответа другой организации");
                }
                let Some(c) = incident.clock.as_mut().filter(|_| open) else {
                    return refuse("у инцидента нет идущего срока, приостанавливать нечего");
                };
                c.clock.pause(tx.now)?;
                incident.waiting_for = Some(body.trim().to_string());
                tx.event(
                    &mut incident,
                    actor,
                    EventKind::WaitingStarted {
                        body: body.trim().to_string(),
                    },
                    comment,
                );
            }
            Action::Resume => {
                let Some(body) = incident.waiting_for.take() else {
                    return refuse("инцидент не ожидает ответа другой организации");
                };
                if let Some(c) = &mut incident.clock {
                    c.clock.resume(tx.now, self.rules.calendar())?;
                }
                tx.event(
                    &mut incident,
                    actor,
                    EventKind::WaitingEnded { body },
                    comment,
                );
            }
            Action::Close { resolution } => {
                if !open {
                    return refuse("инцидент уже закрыт");
                }
                if *resolution == Resolution::Duplicate {
                    return refuse(
                        "дубликат закрывается объединением: укажите, с каким инцидентом объединить",
                    );
                }
                self.close(&mut incident, actor, *resolution, comment, tx);
            }
            Action::Reopen => {
                if !matches!(
                    incident.status,
                    IncidentStatus::Closed | IncidentStatus::Answered
                ) {
                    return refuse(format!(
                        "открыть заново можно закрытый инцидент или инцидент с ответом; этот {}",
                        incident.status.label_ru()
                    ));
                }
                self.reopen(&mut incident, actor, None, comment, tx)?;
            }
            Action::Merge { into } => {
                self.merge(&mut incident, *into, actor, comment, tx)?;
            }
            Action::Split { post } => {
                self.split(&mut incident, post, actor, comment, tx)?;
            }
            Action::Attach { post } => {
                self.attach(&mut incident, post, actor, comment, tx)?;
            }
            Action::ConfirmAnswer => {
                let Some(pending) = incident.pending_answer.take() else {
                    return refuse("нет ответа, ожидающего подтверждения");
                };
                tx.event(
                    &mut incident,
                    actor,
                    EventKind::AnswerConfirmed { post: pending.post },
                    comment,
                );
            }
            Action::RejectAnswer => {
                let Some(pending) = incident.pending_answer.take() else {
                    return refuse("нет ответа, ожидающего подтверждения");
                };
                incident.status = pending.status;
                incident.clock = pending.clock;
                incident.milestones = pending.milestones;
                tx.event(
                    &mut incident,
                    actor,
                    EventKind::AnswerRejected { post: pending.post },
                    comment,
                );
            }
            Action::Satisfaction { satisfied } => {
                incident.milestones.satisfied = Some(*satisfied);
                tx.event(
                    &mut incident,
                    actor,
                    EventKind::SatisfactionRecorded {
                        satisfied: *satisfied,
                    },
                    comment,
                );
            }
            Action::Comment => {
                let Some(comment) = comment else {
                    return refuse("комментарий пуст");
                };
                tx.event(&mut incident, actor, EventKind::Commented, Some(comment));
            }
        }
        self.sync_timer(&mut incident, old, tx)?;
        tx.put(incident);
        Ok(())
    }

    fn note(&self, incident: &mut Incident, actor: &str, comment: Option<String>, tx: &mut Tx) {
        if let Some(comment) = comment {
            tx.event(incident, actor, EventKind::Commented, Some(comment));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn route(
        &self,
        incident: &mut Incident,
        actor: &str,
        owner: Option<&str>,
        group: Option<&str>,
        topic: Option<&str>,
        territory: Option<&str>,
        comment: Option<String>,
        tx: &mut Tx,
    ) -> Result<(), QueueError> {
        if !matches!(
            incident.status,
            IncidentStatus::Moderation | IncidentStatus::Routed | IncidentStatus::InWork
        ) {
            return refuse(format!(
                "инцидент {}: чтобы направить его заново, сначала откройте его",
                incident.status.label_ru()
            ));
        }
        let taxonomy = &self.rules.knowledge.taxonomy;
        let reclassify = group.is_some() || topic.is_some() || territory.is_some();
        if reclassify {
            let new_group = group.unwrap_or(&incident.group);
            let Some(g) = taxonomy.group(new_group) else {
                return refuse(format!(
                    "неизвестная группа тем «{new_group}»; допустимы: {}",
                    taxonomy
                        .groups
                        .iter()
                        .map(|g| g.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            let new_topic = match topic {
                Some(t) if !g.topics.iter().any(|x| x.name == t) => {
                    return refuse(format!("в группе «{}» нет темы «{t}»", g.name));
                }
                Some(t) => Some(t.to_string()),
                None if group.is_some() && group != Some(incident.group.as_str()) => None,
                None => incident.topic.clone(),
            };
            let new_territory = match territory {
                Some(t) if self.rules.org.territory(t).is_none() && t != "district" => {
                    return refuse(format!(
                        "неизвестная территория «{t}»; допустимы: district, {}",
                        self.rules.org.territory_ids().join(", ")
                    ));
                }
                Some(t) => Some(t.to_string()),
                None => incident.territory.clone(),
            };
            incident.group = new_group.to_string();
            incident.topic = new_topic;
            incident.territory = new_territory;
            tx.event(
                incident,
                actor,
                EventKind::Reclassified {
                    group: incident.group.clone(),
                    topic: incident.topic.clone(),
                    territory: incident.territory.clone(),
                },
                None,
            );
        }
        let new_owner = match owner {
            Some(id) => self.owner_by_id(id)?,
            None => match self.rules.org.route(
                taxonomy,
                &incident.group,
                incident.topic.as_deref(),
                incident.territory.as_deref(),
            ) {
                Some(o) => o,
                None => {
                    return refuse(
                        "правила маршрутизации не называют исполнителя для этой темы и территории: укажите его",
                    );
                }
            },
        };
        let moderation = incident.status == IncidentStatus::Moderation;
        if !moderation && incident.owner.as_ref() == Some(&new_owner) && !reclassify {
            return refuse(format!(
                "инцидент уже направлен: {}",
                self.rules.org.owner_name(&new_owner)
            ));
        }
        let previous = incident.owner.replace(new_owner.clone());
        tx.event(
            incident,
            actor,
            EventKind::Routed {
                owner: new_owner.clone(),
                previous: previous.clone(),
            },
            comment,
        );
        if moderation {
            incident.status = IncidentStatus::Routed;
            incident.milestones.routed_at = Some(tx.now);
            self.start_first_response(incident, tx)?;
        }
        if previous.as_ref() != Some(&new_owner) {
            let body = self.describe(incident);
            tx.alert(self.alert_for(
                incident,
                AlertKind::Routed,
                vec![people::executor_role(&new_owner)],
                format!(
                    "Вам направлен инцидент № {}: {}",
                    incident.id,
                    self.group_name(&incident.group)
                ),
                body,
            ))?;
        }
        Ok(())
    }

    fn owner_by_id(&self, id: &str) -> Result<Owner, QueueError> {
        let id = id
            .strip_prefix("department:")
            .or_else(|| id.strip_prefix("territory:"))
            .unwrap_or(id);
        if self.rules.org.department(id).is_some() {
            return Ok(Owner::Department(id.to_string()));
        }
        if self.rules.org.territory(id).is_some() {
            return Ok(Owner::Territory(id.to_string()));
        }
        let mut known: Vec<&str> = self
            .rules
            .org
            .departments
            .iter()
            .map(|d| d.id.as_str())
            .collect();
        known.extend(self.rules.org.territories.iter().map(|t| t.id.as_str()));
        refuse(format!(
            "неизвестный исполнитель «{id}»; допустимы: {}",
            known.join(", ")
        ))
    }

    fn start_clock(
        &self,
        incident: &mut Incident,
        stage: Stage,
        clock: super::clock::ResponseClock,
        tx: &mut Tx,
    ) {
        let due = clock.due().unwrap_or(clock.started);
        incident.clock = Some(StageClock {
            stage,
            clock,
            escalations: 0,
            timer: incident.clock.as_ref().and_then(|c| c.timer),
        });
        tx.event(
            incident,
            "otklik",
            EventKind::ClockStarted { stage, due },
            None,
        );
    }

    fn start_first_response(&self, incident: &mut Incident, tx: &mut Tx) -> Result<(), QueueError> {
        // Reopened incidents count from the reopening; new ones from detection.
        let from = if incident.milestones.reopened > 0 {
            tx.now
        } else {
            incident.created
        };
        let clock = self.rules.policy.first_response_clock(
            from,
            incident.urgent || incident.resonant,
            Some(&incident.group),
        )?;
        self.start_clock(incident, Stage::FirstResponse, clock, tx);
        Ok(())
    }

    /// The first response: stop the first-response clock, start the final-answer clock.
    fn accept(
        &self,
        incident: &mut Incident,
        actor: &str,
        text: Option<String>,
        post: Option<String>,
        tx: &mut Tx,
    ) -> Result<(), QueueError> {
        self.record_first_response(incident, tx)?;
        incident.status = IncidentStatus::InWork;
        tx.event(incident, actor, EventKind::Accepted { text, post }, None);
        let clock = self
            .rules
            .policy
            .final_answer_clock(tx.now, Some(&incident.group))?;
        self.start_clock(incident, Stage::FinalAnswer, clock, tx);
        Ok(())
    }

    /// The answer on the merits: every clock stops.
    fn answer(
        &self,
        incident: &mut Incident,
        actor: &str,
        text: Option<String>,
        post: Option<String>,
        tx: &mut Tx,
    ) -> Result<(), QueueError> {
        let on_time = incident
            .clock
            .as_ref()
            .and_then(|c| c.clock.due())
            .is_none_or(|due| tx.now <= due);
        self.record_first_response(incident, tx)?;
        incident.status = IncidentStatus::Answered;
        incident.milestones.answered_at = Some(tx.now);
        incident.milestones.answer_on_time = Some(on_time);
        incident.clock_stop();
        tx.event(incident, actor, EventKind::Answered { text, post }, None);
        Ok(())
    }

    fn record_first_response(&self, incident: &mut Incident, tx: &Tx) -> Result<(), QueueError> {
        let Some(c) = incident
            .clock
            .as_ref()
            .filter(|c| c.stage == Stage::FirstResponse)
        else {
            return Ok(());
        };
        if incident.milestones.first_response_at.is_some() {
            return Ok(());
        }
        let worked = self
            .rules
            .calendar()
            .working_time_between(c.clock.started, tx.now)?
            - c.clock.paused_working;
        incident.milestones.first_response_at = Some(tx.now);
        incident.milestones.first_response_working_secs = Some(worked.num_seconds().max(0));
        incident.milestones.first_response_on_time =
            Some(c.clock.due().is_none_or(|due| tx.now <= due));
        Ok(())
    }

    fn close(
        &self,
        incident: &mut Incident,
        actor: &str,
        resolution: Resolution,
        comment: Option<String>,
        tx: &mut Tx,
    ) {
        incident.status = IncidentStatus::Closed;
        incident.resolution = Some(resolution);
        incident.milestones.closed_at = Some(tx.now);
        incident.waiting_for = None;
        incident.pending_answer = None;
        incident.clock_stop();
        tx.event(incident, actor, EventKind::Closed { resolution }, comment);
    }

    fn reopen(
        &self,
        incident: &mut Incident,
        actor: &str,
        post: Option<String>,
        comment: Option<String>,
        tx: &mut Tx,
    ) -> Result<(), QueueError> {
        incident.milestones.reopened += 1;
        incident.resolution = None;
        incident.merged_into = None;
        incident.milestones.closed_at = None;
        incident.pending_answer = None;
        incident.waiting_for = None;
        tx.event(incident, actor, EventKind::Reopened { post }, comment);
        if incident.owner.is_some() {
            incident.status = IncidentStatus::Routed;
            incident.clock_stop();
            self.start_first_response(incident, tx)?;
            let body = self.describe(incident);
            let roles = incident
                .owner
                .as_ref()
                .map(|o| vec![people::executor_role(o)])
                .unwrap_or_default();
            tx.alert(self.alert_for(
                incident,
                AlertKind::Reopened,
                roles,
                format!("Инцидент № {} открыт заново", incident.id),
                body,
            ))?;
        } else {
            incident.status = IncidentStatus::Moderation;
            incident.clock_stop();
            let clock = self
                .rules
                .policy
                .routing_clock(tx.now, Some(&incident.group))?;
            self.start_clock(incident, Stage::Routing, clock, tx);
        }
        Ok(())
    }

    fn merge(
        &self,
        incident: &mut Incident,
        into: IncidentId,
        actor: &str,
        comment: Option<String>,
        tx: &mut Tx,
    ) -> Result<(), QueueError> {
        if into == incident.id {
            return refuse("инцидент нельзя объединить с самим собой");
        }
        if !incident.status.is_open() {
            return refuse("инцидент закрыт: объединять можно открытые инциденты");
        }
        let mut target = tx.incident(into)?;
        if !target.status.is_open() {
            return refuse(format!(
                "инцидент № {into} закрыт: объединять можно с открытым инцидентом"
            ));
        }
        let target_old = timer_of(&target);
        let posts = tx.store.incident_posts(incident.id)?;
        for uid in &posts {
            self.move_post(uid, target.id, tx)?;
        }
        for author in tx.store.incident_authors(incident.id)? {
            if !tx.store.incident_has_author(target.id, &author)? {
                tx.batch.put_author(target.id, &author);
                target.authors += 1;
                tx.new_authors.push((target.id, author));
            }
        }
        target.mentions += incident.mentions;
        target.last_mention = target.last_mention.max(incident.last_mention);
        target.opened = target.opened.min(incident.opened);
        let tighten = (incident.urgent || incident.resonant) && !(target.urgent || target.resonant);
        target.urgent |= incident.urgent;
        target.resonant |= incident.resonant;
        if target.place.is_none() {
            target.place.clone_from(&incident.place);
        }
        let mut fingerprint = target.fingerprint.clone();
        if fingerprint.len() < 256 {
            fingerprint.extend_from_slice(&incident.fingerprint);
            fingerprint.sort_unstable();
            fingerprint.dedup();
            fingerprint.truncate(256);
            tx.batch.put_fingerprint(target.id, &fingerprint);
            target.fingerprint = fingerprint;
        }
        tx.event(
            &mut target,
            actor,
            EventKind::MergedFrom {
                from: incident.id,
                posts,
            },
            comment.clone(),
        );
        if tighten {
            self.became_resonant(&mut target, tx)?;
        }
        self.sync_timer(&mut target, target_old, tx)?;
        tx.put(target);
        incident.merged_into = Some(into);
        tx.event(incident, actor, EventKind::MergedInto { into }, None);
        self.close(incident, actor, Resolution::Duplicate, comment, tx);
        Ok(())
    }

    /// Point a stored post at another incident (for the store and the index).
    fn move_post(&self, uid: &str, to: IncidentId, tx: &mut Tx) -> Result<(), QueueError> {
        let Some(key) = crate::model::PostKey::parse(uid) else {
            return refuse(format!("неверный ключ сообщения «{uid}»"));
        };
        if let Some(mut stored) = tx.store.post_by_key(&key)? {
            if let Some(done) = tx.reindex.iter_mut().find(|p| p.seq == stored.seq) {
                done.incident = Some(to);
                tx.batch.put_post(done);
                return Ok(());
            }
            stored.incident = Some(to);
            tx.batch.put_post(&stored);
            tx.reindex.push(stored);
        }
        Ok(())
    }

    fn split(
        &self,
        incident: &mut Incident,
        post: &str,
        actor: &str,
        comment: Option<String>,
        tx: &mut Tx,
    ) -> Result<(), QueueError> {
        let posts = tx.store.incident_posts(incident.id)?;
        if !posts.iter().any(|p| p == post) {
            return refuse(format!(
                "сообщение {post} не относится к инциденту № {}",
                incident.id
            ));
        }
        if posts.len() < 2 {
            return refuse("в инциденте одно сообщение: выделять нечего");
        }
        let key = crate::model::PostKey::parse(post)
            .ok_or_else(|| QueueError::Refused(format!("неверный ключ сообщения «{post}»")))?;
        let Some(stored) = tx.store.post_by_key(&key)? else {
            return refuse(format!("сообщение {post} не найдено"));
        };
        let id = tx
            .store
            .reserve_incident_id(&mut tx.batch, &mut tx.pending_incident)?;
        // The stored record has no fingerprint: understand the post again for it.
        let text = stored.post.full_text();
        let fresh = crate::understand::understand(
            &crate::understand::PostView::of(&stored.post, &text),
            &self.rules.knowledge,
        );
        let mut understanding = stored.understanding.clone();
        understanding.fingerprint = fresh.fingerprint;
        let u = &understanding;
        let group = u.group.clone().unwrap_or_else(|| incident.group.clone());
        let topic = if u.group.is_some() {
            u.topic.clone()
        } else {
            incident.topic.clone()
        };
        let territory = u.territory.clone().or_else(|| incident.territory.clone());
        let owner = self.rules.org.route(
            &self.rules.knowledge.taxonomy,
            &group,
            topic.as_deref(),
            territory.as_deref(),
        );
        let author = crate::incidents::detect::author_of(&stored.post);
        let mut new = Incident {
            id,
            status: if owner.is_some() {
                IncidentStatus::Routed
            } else {
                IncidentStatus::Moderation
            },
            opened: stored.post.published,
            last_mention: stored.post.published,
            created: tx.now,
            group,
            topic,
            territory,
            place: u.place.clone(),
            owner: owner.clone(),
            urgent: u.urgent,
            resonant: false,
            first_post: post.to_string(),
            mentions: 1,
            authors: 1,
            summary: crate::incidents::detect::excerpt(&stored.post.full_text(), 200),
            fingerprint: u.fingerprint.clone(),
            events: 0,
            resolution: None,
            merged_into: None,
            waiting_for: None,
            clock: None,
            milestones: Milestones::default(),
            pending_answer: None,
        };
        let status = new.status;
        tx.event(
            &mut new,
            actor,
            EventKind::Created {
                post: post.to_string(),
                status,
                owner,
            },
            comment.clone(),
        );
        tx.batch.put_author(id, &author);
        tx.batch.put_fingerprint(id, &new.fingerprint);
        tx.new_authors.push((id, author));
        self.opened(&mut new, tx)?;
        tx.put(new);
        self.move_post(post, id, tx)?;
        self.detach(incident, post, id, actor, comment, tx)
    }

    /// Take `post` out of `incident` (it went to `to`).
    fn detach(
        &self,
        incident: &mut Incident,
        post: &str,
        to: IncidentId,
        actor: &str,
        comment: Option<String>,
        tx: &mut Tx,
    ) -> Result<(), QueueError> {
        incident.mentions = incident.mentions.saturating_sub(1);
        self.forget_author_unless_still_there(incident, post, tx)?;
        tx.event(
            incident,
            actor,
            EventKind::PostDetached {
                post: post.to_string(),
                to,
            },
            comment,
        );
        if incident.first_post == post
            && let Some(next) = tx
                .store
                .incident_posts(incident.id)?
                .into_iter()
                .find(|p| p != post)
        {
            incident.first_post = next;
        }
        Ok(())
    }

    /// `post` leaves `incident`: its author stops counting unless another of the incident's
    /// posts has the same author (or, without one, the same community).
    fn forget_author_unless_still_there(
        &self,
        incident: &mut Incident,
        post: &str,
        tx: &mut Tx,
    ) -> Result<(), QueueError> {
        let author_of_post = |uid: &str| -> Result<Option<String>, QueueError> {
            let Some(key) = crate::model::PostKey::parse(uid) else {
                return Ok(None);
            };
            Ok(tx
                .store
                .post_by_key(&key)?
                .map(|stored| crate::incidents::detect::author_of(&stored.post)))
        };
        let Some(author) = author_of_post(post)? else {
            return Ok(());
        };
        // Only a recorded author can be forgotten: then look whether another post keeps them.
        if !tx.store.incident_has_author(incident.id, &author)? {
            return Ok(());
        }
        for other in tx.store.incident_posts(incident.id)? {
            if other != post && author_of_post(&other)?.as_deref() == Some(author.as_str()) {
                return Ok(());
            }
        }
        tx.batch.remove_author(incident.id, &author);
        incident.authors = incident.authors.saturating_sub(1);
        Ok(())
    }

    fn attach(
        &self,
        incident: &mut Incident,
        post: &str,
        actor: &str,
        comment: Option<String>,
        tx: &mut Tx,
    ) -> Result<(), QueueError> {
        if !incident.status.is_open() {
            return refuse("инцидент закрыт: сначала откройте его заново");
        }
        let Some(key) = crate::model::PostKey::parse(post) else {
            return refuse(format!(
                "неверный ключ сообщения «{post}»: ожидается платформа:номер, например vk:-1_2"
            ));
        };
        let Some(stored) = tx.store.post_by_key(&key)? else {
            return refuse(format!("сообщение {post} не найдено"));
        };
        let current = tx
            .reindex
            .iter()
            .find(|p| p.seq == stored.seq)
            .map_or(stored.incident, |p| p.incident);
        if current == Some(incident.id) {
            return refuse(format!(
                "сообщение {post} уже в инциденте № {}",
                incident.id
            ));
        }
        if let Some(from) = current {
            let mut other = tx.incident(from)?;
            let other_old = timer_of(&other);
            self.detach(&mut other, post, incident.id, actor, comment.clone(), tx)?;
            if other.mentions == 0 && other.status.is_open() {
                other.merged_into = Some(incident.id);
                self.close(&mut other, actor, Resolution::Duplicate, None, tx);
            }
            self.sync_timer(&mut other, other_old, tx)?;
            tx.put(other);
        }
        let author = crate::incidents::detect::author_of(&stored.post);
        if !tx.store.incident_has_author(incident.id, &author)? {
            tx.batch.put_author(incident.id, &author);
            incident.authors += 1;
            tx.new_authors.push((incident.id, author));
        }
        incident.mentions += 1;
        incident.last_mention = incident.last_mention.max(stored.post.published);
        tx.event(
            incident,
            actor,
            EventKind::PostAttached {
                post: post.to_string(),
            },
            comment,
        );
        self.move_post(post, incident.id, tx)
    }

    /// Bring the store's timer key in line with the incident's clock: compute the next
    /// escalation point, disarm `old` if it changed, arm the new one.
    pub fn sync_timer(
        &self,
        incident: &mut Incident,
        old: Option<DateTime<Utc>>,
        tx: &mut Tx,
    ) -> Result<(), QueueError> {
        let urgent = incident.urgent || incident.resonant;
        let next = match incident
            .clock
            .as_ref()
            .filter(|_| incident.status.is_open())
        {
            Some(c) => {
                escalation::next_timer(&self.rules.escalation, c, urgent, self.rules.calendar())?
                    .map(|(at, _)| at)
            }
            None => None,
        };
        if let Some(c) = &mut incident.clock {
            c.timer = next;
        }
        if next != old {
            if let Some(old) = old {
                tx.batch.remove_timer(old, incident.id);
            }
            if let Some(next) = next {
                tx.batch.put_timer(next, incident.id);
            }
        }
        Ok(())
    }

    /// A role named by an escalation step, made concrete for an incident.
    fn role_for(&self, role: &str, incident: &Incident, stage: Stage) -> String {
        let owner = incident.owner.as_ref().filter(|_| stage != Stage::Routing);
        match (role, owner) {
            ("executor", Some(o)) => people::executor_role(o),
            ("head", Some(o)) => people::head_role(o),
            ("executor", None) => "im-coordinator".into(),
            ("head", None) => "mcu-head".into(),
            (other, _) => other.to_string(),
        }
    }

    fn group_name(&self, group: &str) -> String {
        self.rules
            .knowledge
            .taxonomy
            .group(group)
            .map_or(group.to_string(), |g| g.name.clone())
    }

    /// What an alert says about an incident, in Russian: topic, territory, place, owner,
    /// deadline in local time, excerpt.
    pub fn describe(&self, incident: &Incident) -> String {
        let mut lines = Vec::new();
        let topic = match &incident.topic {
            Some(t) => format!("{} / {t}", self.group_name(&incident.group)),
            None => self.group_name(&incident.group),
        };
        lines.push(format!("Тема: {topic}"));
        if let Some(t) = &incident.territory {
            lines.push(format!("Территория: {}", self.rules.org.territory_name(t)));
        }
        if let Some(p) = &incident.place {
            lines.push(format!("Место: {p}"));
        }
        lines.push(format!(
            "Исполнитель: {}",
            incident
                .owner
                .as_ref()
                .map_or("не назначен".to_string(), |o| self
                    .rules
                    .org
                    .owner_name(o))
        ));
        lines.push(format!("Статус: {}", incident.status.label_ru()));
        if let Some(c) = &incident.clock {
            match c.clock.due() {
                Some(due) => lines.push(format!(
                    "Срок ({}): {}",
                    c.stage.label_ru(),
                    super::clock::format_local(due, self.rules.calendar())
                )),
                None => lines.push(format!("Срок ({}): приостановлен", c.stage.label_ru())),
            }
        }
        if incident.urgent || incident.resonant {
            lines.push(
                match (incident.urgent, incident.resonant) {
                    (true, true) => "Срочный, резонансный",
                    (true, false) => "Срочный",
                    _ => "Резонансный",
                }
                .to_string(),
            );
        }
        lines.push(format!(
            "Сообщений: {}, авторов: {}",
            incident.mentions, incident.authors
        ));
        lines.push(String::new());
        lines.push(incident.summary.clone());
        lines.join("\n")
    }

    fn alert_for(
        &self,
        incident: &Incident,
        kind: AlertKind,
        roles: Vec<String>,
        title: String,
        body: String,
    ) -> Alert {
        Alert {
            id: 0,
            at: DateTime::<Utc>::UNIX_EPOCH,
            kind,
            incident: Some(incident.id),
            roles,
            persons: Vec::new(),
            urgent: incident.urgent || incident.resonant,
            title,
            body,
        }
    }
}

impl Incident {
    /// Stop the running clock (the stage ended). The timer key is disarmed by `sync_timer`.
    fn clock_stop(&mut self) {
        self.clock = None;
    }
}

/// The armed timer of an incident, before a change.
pub fn timer_of(incident: &Incident) -> Option<DateTime<Utc>> {
    incident.clock.as_ref().and_then(|c| c.timer)
}
