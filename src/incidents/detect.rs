//! The incident detector: a post judged a complaint either joins an open incident about the
//! same problem or opens a new one, routed to its owner.
//!
//! The detector keeps the recently active open incidents in memory (reloaded from the store
//! on start) and returns the records to write; the pipeline writes them in the same batch as
//! the post, so a post and its incident are durable together.

use crate::config::IncidentSettings;
use crate::model::{IncidentId, Post};
use crate::org::Org;
use crate::store::{EventKind, Incident, IncidentEvent, IncidentStatus, Store, StoreError};
use crate::understand::burst::BurstDetector;
use crate::understand::{Knowledge, ProblemRef, Understanding, same_problem};
use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, HashSet};

/// What the detector decided for one post. The incident's new state is read from the
/// detector ([`Detector::incident`]), so that a busy incident is not copied for every post.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Not an incident.
    None,
    /// A new incident, with its first event.
    Opened(IncidentId, IncidentEvent),
    /// Joined an existing incident, with the events to append, and the author if they are
    /// new to it.
    Attached(IncidentId, Vec<IncidentEvent>, Option<String>),
}

impl Decision {
    pub fn incident_id(&self) -> Option<IncidentId> {
        match self {
            Decision::None => None,
            Decision::Opened(id, _) | Decision::Attached(id, ..) => Some(*id),
        }
    }
}

/// An open incident still collecting posts, with its authors as a set for quick lookups.
struct Active {
    incident: Incident,
    authors: HashSet<String>,
}

/// How many stems of its posts an incident remembers for near-duplicate comparison (the same
/// cap the evaluation's clusterer uses).
const FINGERPRINT_MAX: usize = 256;

/// How far back the burst detector's history is rebuilt from the store on start.
const BURST_HISTORY_DAYS: i64 = 28;

pub struct Detector {
    settings: IncidentSettings,
    /// Open incidents still collecting posts.
    active: HashMap<IncidentId, Active>,
    /// Incidents closed recently enough that a new post about their problem reopens them.
    closed: HashMap<IncidentId, Incident>,
    /// The latest post time seen, the detector's notion of "now".
    latest: DateTime<Utc>,
    /// Distinct authors per (topic group, territory) against their usual rate.
    bursts: BurstDetector,
    /// Incidents whose fingerprint changed since [`Detector::take_changed_fingerprints`].
    changed_fingerprints: HashSet<IncidentId>,
}

impl Detector {
    pub fn new(settings: IncidentSettings) -> Detector {
        Detector {
            settings,
            active: HashMap::new(),
            closed: HashMap::new(),
            latest: DateTime::<Utc>::MIN_UTC,
            bursts: BurstDetector::default(),
            changed_fingerprints: HashSet::new(),
        }
    }

    /// Load the open incidents from the store.
    pub fn load(settings: IncidentSettings, store: &Store) -> Result<Detector, StoreError> {
        let mut detector = Detector::new(settings);
        let recurrence = Duration::days(detector.settings.recurrence_days.into());
        let closed_since = chrono::Utc::now() - recurrence;
        // One pass over the records without fingerprints; fingerprints and authors are read
        // only for the incidents the detector keeps.
        let mut open = Vec::new();
        for incident in store.incidents_without_fingerprints() {
            let mut incident = incident?;
            let recently_closed = incident.resolution != Some(crate::store::Resolution::Duplicate)
                && recurrence > Duration::zero()
                && incident
                    .milestones
                    .closed_at
                    .is_some_and(|t| t >= closed_since);
            if recently_closed && !incident.status.is_open() {
                incident.fingerprint = store.incident_fingerprint(incident.id)?;
                detector.closed.insert(incident.id, incident);
            } else if incident.status.is_open() {
                detector.latest = detector.latest.max(incident.last_mention);
                open.push(incident);
            }
        }
        let horizon = detector
            .latest
            .checked_sub_signed(Duration::hours(detector.settings.attach_window_hours * 2))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        for mut incident in open {
            if incident.last_mention < horizon {
                continue;
            }
            incident.fingerprint = store.incident_fingerprint(incident.id)?;
            let authors = store.incident_authors(incident.id)?.into_iter().collect();
            detector
                .active
                .insert(incident.id, Active { incident, authors });
        }
        let latest = detector.latest;
        detector.expire(latest);
        // The usual rates are in-memory state: replay the recent incident posts to rebuild them.
        let Some(since) = latest.checked_sub_signed(Duration::days(BURST_HISTORY_DAYS)) else {
            return Ok(detector);
        };
        let mut recent = Vec::new();
        for stored in store.posts_newest_first() {
            let stored = stored?;
            if stored.post.published < since && stored.post.fetched < since {
                break;
            }
            if stored.incident.is_some() && stored.post.published >= since {
                recent.push(stored);
            }
        }
        recent.sort_by_key(|s| s.post.published);
        for stored in recent {
            if let Some(group) = &stored.understanding.group {
                let territory = stored.understanding.territory.as_deref().unwrap_or("-");
                detector.bursts.observe(
                    group,
                    territory,
                    &author_of(&stored.post),
                    stored.post.published,
                );
            }
        }
        Ok(detector)
    }

    /// The current state of an incident the detector holds (every one it just decided on).
    pub fn incident(&self, id: IncidentId) -> Option<&Incident> {
        self.active.get(&id).map(|a| &a.incident)
    }

    /// The incident, to change it in place (the queue starts clocks on new incidents).
    pub fn incident_mut(&mut self, id: IncidentId) -> Option<&mut Incident> {
        self.active.get_mut(&id).map(|a| &mut a.incident)
    }

    /// Take in an incident the queue changed: an open one keeps (or starts) collecting
    /// posts, a closed one may come back as a recurrence.
    pub fn refresh(&mut self, incident: &Incident, store: &Store) -> Result<(), StoreError> {
        let id = incident.id;
        if incident.status.is_open() {
            self.closed.remove(&id);
            match self.active.get_mut(&id) {
                Some(active) => {
                    active.incident = incident.clone();
                    // The store's set, not a union: a post moved out may take its author along.
                    active.authors = store.incident_authors(id)?.into_iter().collect();
                }
                None => {
                    let authors = store.incident_authors(id)?.into_iter().collect();
                    self.active.insert(
                        id,
                        Active {
                            incident: incident.clone(),
                            authors,
                        },
                    );
                }
            }
        } else {
            self.active.remove(&id);
            if incident.resolution != Some(crate::store::Resolution::Duplicate)
                && self.settings.recurrence_days > 0
            {
                self.closed.insert(id, incident.clone());
            }
        }
        Ok(())
    }

    /// A closed incident about the same problem as a new post, within the recurrence window.
    fn recurrence(
        &self,
        understanding: &Understanding,
        published: DateTime<Utc>,
    ) -> Option<IncidentId> {
        let window = Duration::days(self.settings.recurrence_days.into());
        let topic = understanding.topic.as_deref()?;
        self.closed
            .values()
            .filter(|c| {
                c.milestones
                    .closed_at
                    .is_some_and(|at| published > at && published - at <= window)
                    && Some(c.group.as_str()) == understanding.group.as_deref()
                    && c.topic.as_deref() == Some(topic)
                    && c.territory == understanding.territory
                    && (c.place.is_some() && c.place == understanding.place
                        || crate::understand::similarity(
                            &understanding.fingerprint,
                            &c.fingerprint,
                        ) >= 0.3)
            })
            .max_by_key(|c| (c.milestones.closed_at, c.id))
            .map(|c| c.id)
    }

    /// Decide for one post. `parent_incident` is the incident of the post a comment answers;
    /// `next_id` hands out an incident id when one is opened.
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &mut self,
        post: &Post,
        understanding: &Understanding,
        parent_incident: Option<IncidentId>,
        org: &Org,
        knowledge: &Knowledge,
        now: DateTime<Utc>,
        next_id: &mut dyn FnMut() -> Result<IncidentId, StoreError>,
    ) -> Result<Decision, StoreError> {
        let Some(group) = understanding
            .group
            .as_deref()
            .filter(|_| understanding.incident)
        else {
            return Ok(Decision::None);
        };
        let uid = post.key.uid();
        let author = author_of(post);
        let window = Duration::hours(self.settings.attach_window_hours);
        let new_ref = ProblemRef {
            group: Some(group),
            topic: understanding.topic.as_deref(),
            territory: understanding.territory.as_deref(),
            place: understanding.place.as_deref(),
            last_seen: post.published,
            fingerprint: &understanding.fingerprint,
        };
        // A comment that only follows up («у нас тоже») joins its post's incident; otherwise the
        // most recently mentioned open incident about the same problem, if any.
        let follow_up =
            parent_incident.filter(|id| understanding.follow_up && self.active.contains_key(id));
        let joined = follow_up.or_else(|| {
            self.active
                .values()
                .filter(|a| {
                    let open = &a.incident;
                    (post.published - open.last_mention).abs() <= window
                        && same_problem(
                            &new_ref,
                            &ProblemRef {
                                group: Some(&open.group),
                                topic: open.topic.as_deref(),
                                territory: open.territory.as_deref(),
                                place: open.place.as_deref(),
                                last_seen: open.last_mention,
                                fingerprint: &open.fingerprint,
                            },
                        )
                })
                .max_by_key(|a| (a.incident.last_mention, a.incident.id))
                .map(|a| a.incident.id)
        });
        // Nothing open: perhaps the problem of a recently closed incident came back. It joins
        // the active set here; the queue reopens it.
        let joined = joined.or_else(|| {
            let id = self.recurrence(understanding, post.published)?;
            let incident = self.closed.remove(&id)?;
            self.active.insert(
                id,
                Active {
                    incident,
                    authors: HashSet::new(),
                },
            );
            Some(id)
        });
        let territory_key = understanding.territory.as_deref().unwrap_or("-");
        let burst = self
            .bursts
            .observe(group, territory_key, &author, post.published);

        if let Some(id) = joined {
            let active = self.active.get_mut(&id).expect("found above");
            let incident = &mut active.incident;
            let mut events = Vec::new();
            incident.mentions += 1;
            let new_author = active.authors.insert(author.clone()).then_some(author);
            if new_author.is_some() {
                incident.authors += 1;
            }
            incident.last_mention = incident.last_mention.max(post.published);
            incident.urgent |= understanding.urgent;
            if incident.place.is_none() {
                incident.place.clone_from(&understanding.place);
            }
            if incident.fingerprint.len() < FINGERPRINT_MAX {
                self.changed_fingerprints.insert(id);
                incident
                    .fingerprint
                    .extend_from_slice(&understanding.fingerprint);
                incident.fingerprint.sort_unstable();
                incident.fingerprint.dedup();
            }
            events.push(next_event(
                incident,
                now,
                EventKind::PostAttached { post: uid },
            ));
            if burst && !incident.resonant {
                incident.resonant = true;
                let authors = self.bursts.authors_in_window(group, territory_key);
                events.push(next_event(
                    incident,
                    now,
                    EventKind::MarkedResonant { authors },
                ));
            }
            self.latest = self.latest.max(post.published);
            return Ok(Decision::Attached(id, events, new_author));
        }

        let owner = org.route(
            &knowledge.taxonomy,
            group,
            understanding.topic.as_deref(),
            understanding.territory.as_deref(),
        );
        let status =
            if owner.is_none() || understanding.score < self.settings.moderation_below_score {
                IncidentStatus::Moderation
            } else {
                IncidentStatus::Routed
            };
        let mut incident = Incident {
            id: next_id()?,
            status,
            opened: post.published,
            last_mention: post.published,
            created: now,
            group: group.to_string(),
            topic: understanding.topic.clone(),
            territory: understanding.territory.clone(),
            place: understanding.place.clone(),
            owner: owner.clone(),
            urgent: understanding.urgent,
            resonant: burst,
            first_post: uid.clone(),
            mentions: 1,
            authors: 1,
            summary: excerpt(&post.full_text(), 200),
            fingerprint: understanding.fingerprint.clone(),
            events: 0,
            resolution: None,
            merged_into: None,
            waiting_for: None,
            clock: None,
            milestones: Default::default(),
            pending_answer: None,
        };
        let event = next_event(
            &mut incident,
            now,
            EventKind::Created {
                post: uid,
                status,
                owner,
            },
        );
        let id = incident.id;
        self.changed_fingerprints.insert(id);
        self.active.insert(
            id,
            Active {
                incident,
                authors: HashSet::from([author]),
            },
        );
        self.expire(post.published);
        Ok(Decision::Opened(id, event))
    }

    /// Incidents whose fingerprint must be written, since the last call.
    pub fn take_changed_fingerprints(&mut self) -> HashSet<IncidentId> {
        std::mem::take(&mut self.changed_fingerprints)
    }

    /// Forget incidents that can no longer collect posts, to keep the scan short. Measured
    /// against the posts' own times, not the clock, so that a backfill of old posts still
    /// groups them.
    fn expire(&mut self, latest: DateTime<Utc>) {
        self.latest = self.latest.max(latest);
        let Some(horizon) = self
            .latest
            .checked_sub_signed(Duration::hours(self.settings.attach_window_hours * 2))
        else {
            return;
        };
        self.active
            .retain(|_, a| a.incident.last_mention >= horizon);
    }
}

fn next_event(incident: &mut Incident, at: DateTime<Utc>, kind: EventKind) -> IncidentEvent {
    let event = IncidentEvent {
        incident: incident.id,
        number: incident.events,
        at,
        actor: "otklik".to_string(),
        kind,
        comment: None,
    };
    incident.events += 1;
    event
}

/// Who counts as a distinct author: the profile, else the name, else the community.
pub fn author_of(post: &Post) -> String {
    post.author_url
        .clone()
        .or_else(|| post.author.clone())
        .unwrap_or_else(|| format!("{}:{}", post.key.platform, post.community))
}

/// The first `max_chars` characters of `text` on one line, cut at a word boundary.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max_chars {
        return flat;
    }
    let cut: String = flat.chars().take(max_chars).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut}…")
}
