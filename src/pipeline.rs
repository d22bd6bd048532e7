//! The ingest pipeline: from a source's batch of posts to durable, understood, indexed posts
//! and the incidents they open or join.
//!
//! One thread owns the write path, so sequence numbers are handed out in order and every
//! batch is one atomic, flushed store write (invariants 1 and 2). Understanding is pure and
//! runs on the same thread; the index writer gets the stored posts afterwards, in order.

use crate::config::IncidentSettings;
use crate::incidents::detect::{Decision, Detector};
use crate::incidents::queue::{Queue, QueueError, Request, Tx};
use crate::index::IndexSender;
use crate::model::AuthorKind;
use crate::model::{IncidentId, Post};
use crate::org::Org;
use crate::store::{Incident, Store, StoreError, StoredPost};
use crate::understand::{Knowledge, PostView, Understanding, understand};
use chrono::DateTime;
use chrono::Utc;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// A post with what the understanding step made of it.
#[derive(Clone, Debug)]
pub struct Understood {
    pub post: Post,
    pub understanding: Understanding,
}

/// Understand a batch of posts. Pure and CPU-bound: the daemon runs it on the sources' side
/// (in `spawn_blocking`), so that the single write thread only dedupes, decides and stores.
pub fn understand_all(posts: Vec<Post>, knowledge: &Knowledge) -> Vec<Understood> {
    posts
        .into_iter()
        .map(|post| {
            let text = post.full_text();
            let understanding = understand(&PostView::of(&post, &text), knowledge);
            Understood {
                post,
                understanding,
            }
        })
        .collect()
}

/// A batch of understood posts from one source, and where to report that they are durable.
pub struct IngestJob {
    pub source: String,
    pub posts: Vec<Understood>,
    pub done: oneshot::Sender<Result<IngestReport, String>>,
}

/// What became of a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Posts new to the store.
    pub stored: usize,
    /// Posts that were already stored (or repeated within the batch).
    pub duplicates: usize,
    pub incidents_opened: usize,
    pub posts_attached: usize,
}

/// What the daemon did, for whoever watches (the demo's narration, later the web UI).
#[derive(Clone, Debug)]
pub enum Activity {
    PostStored {
        post: Arc<StoredPost>,
    },
    IncidentOpened {
        incident: Arc<Incident>,
    },
    PostAttached {
        incident: Arc<Incident>,
        post: String,
    },
    IncidentResonant {
        incident: Arc<Incident>,
    },
    /// A queue action or an escalation changed an incident.
    IncidentChanged {
        incident: Arc<Incident>,
    },
    /// An alert was written to the outbox.
    Alert {
        alert: Arc<crate::store::Alert>,
    },
    SourceHealth {
        source: String,
        state: crate::sources::HealthState,
        error: Option<String>,
    },
}

/// A request to the queue, answered when it is durable.
pub enum QueueJob {
    /// A user's action on an incident; answered with the incident's new state.
    Act {
        request: Request,
        reply: oneshot::Sender<Result<Incident, ActError>>,
    },
    /// Fire the escalation timers due now; answered with how many fired.
    Tick {
        reply: Option<oneshot::Sender<usize>>,
    },
}

/// Why an action failed: refused on its merits (the message says why, in Russian), or a
/// failure of the system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActError {
    pub refused: bool,
    pub message: String,
}

/// Everything the pipeline thread needs.
pub struct Pipeline {
    pub store: Store,
    pub knowledge: Arc<Knowledge>,
    pub org: Arc<Org>,
    pub detector: Detector,
    pub queue: Queue,
    pub index: IndexSender,
    pub activity: broadcast::Sender<Activity>,
    pub incident_settings: IncidentSettings,
    /// The earliest armed timer after each commit, for the scheduler.
    pub next_timer: Option<watch::Sender<Option<DateTime<Utc>>>>,
    /// What "now" is (a shifted clock in tests and the demo).
    pub clock: crate::time::Clock,
    /// The open incidents in memory, for the queue page and the API.
    pub open: crate::incidents::view::OpenIncidents,
}

impl Pipeline {
    /// The pipeline of a configuration over an open store, with its open incidents loaded.
    pub fn new(
        loaded: &crate::config::Loaded,
        store: Store,
        index: IndexSender,
        activity: broadcast::Sender<Activity>,
        clock: crate::time::Clock,
    ) -> Result<Pipeline, StoreError> {
        let detector = Detector::load(loaded.settings.incidents.clone(), &store)?;
        let open = crate::incidents::view::OpenIncidents::load(&store)?;
        let rules = crate::incidents::queue::Rules::from_loaded(loaded);
        Ok(Pipeline {
            store,
            knowledge: rules.knowledge.clone(),
            org: rules.org.clone(),
            detector,
            queue: Queue::new(Arc::new(rules)),
            index,
            activity,
            incident_settings: loaded.settings.incidents.clone(),
            next_timer: None,
            clock,
            open,
        })
    }

    /// Process jobs until every sender of both queues is dropped.
    pub fn run(mut self, mut jobs: mpsc::Receiver<IngestJob>, mut queue: mpsc::Receiver<QueueJob>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime for the pipeline");
        self.publish_next_timer();
        rt.block_on(async {
            let (mut jobs_open, mut queue_open) = (true, true);
            while jobs_open || queue_open {
                tokio::select! {
                    biased;
                    job = queue.recv(), if queue_open => match job {
                        Some(job) => self.queue_job(job),
                        None => queue_open = false,
                    },
                    job = jobs.recv(), if jobs_open => match job {
                        Some(job) => {
                            let result = self.ingest_understood(job.posts).map_err(|e| {
                                tracing::error!(source = %job.source, error = %e, "storing a batch failed");
                                e.to_string()
                            });
                            // The source may have stopped waiting (shutdown); the posts are stored anyway.
                            let _ = job.done.send(result);
                        }
                        None => jobs_open = false,
                    },
                }
            }
        });
        tracing::debug!("pipeline drained");
    }

    fn queue_job(&mut self, job: QueueJob) {
        match job {
            QueueJob::Act { request, reply } => {
                let result = self.act(&request);
                if let Err(e) = &result
                    && !e.refused
                {
                    tracing::error!(incident = request.incident, action = request.action.name(), error = %e.message, "queue action failed");
                }
                let _ = reply.send(result);
            }
            QueueJob::Tick { reply } => {
                let fired = self.tick().unwrap_or_else(|e| {
                    tracing::error!(error = %e, "firing escalation timers failed");
                    0
                });
                if let Some(reply) = reply {
                    let _ = reply.send(fired);
                }
            }
        }
    }

    /// Apply a user's action durably.
    pub fn act(&mut self, request: &Request) -> Result<Incident, ActError> {
        let now = self.clock.now();
        let store = self.store.clone();
        let mut tx = Tx::new(&store, now);
        let to_error = |e: QueueError| ActError {
            refused: e.is_refusal(),
            message: e.to_string(),
        };
        // The detector's copy is the freshest for incidents still collecting posts.
        self.load_active_into(&mut tx, request.incident);
        self.queue.apply(request, &mut tx).map_err(to_error)?;
        let incident = tx
            .changed
            .get(&request.incident)
            .cloned()
            .expect("an applied action records its incident");
        self.commit_tx(tx).map_err(|e| ActError {
            refused: false,
            message: e.to_string(),
        })?;
        Ok(incident)
    }

    /// Fire every escalation timer due now, in one durable batch.
    pub fn tick(&mut self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let due = self.store.due_timers(now)?;
        if due.is_empty() {
            return Ok(0);
        }
        let store = self.store.clone();
        let mut tx = Tx::new(&store, now);
        let mut fired = 0;
        for (at, id) in due {
            self.load_active_into(&mut tx, id);
            let before = tx.alerts.len();
            if let Err(e) = self.queue.fire_timer(id, at, &mut tx) {
                tracing::error!(incident = id, error = %e, "an escalation step failed; it stays armed");
                continue;
            }
            fired += usize::from(tx.alerts.len() > before);
        }
        self.commit_tx(tx)?;
        Ok(fired)
    }

    /// Put the detector's copy of an incident into the transaction, so that the queue acts
    /// on the same state the detector holds.
    fn load_active_into(&self, tx: &mut Tx, id: IncidentId) {
        if let Some(incident) = self.detector.incident(id)
            && !tx.changed.contains_key(&id)
        {
            tx.changed.insert(id, incident.clone());
        }
    }

    /// Commit a queue transaction and bring the detector, the index and watchers in line.
    fn commit_tx(&mut self, tx: Tx) -> Result<(), StoreError> {
        let Tx {
            batch,
            changed,
            alerts,
            reindex,
            ..
        } = tx;
        self.store.commit(batch)?;
        self.open.update(changed.values());
        for incident in changed.values() {
            if let Err(error) = self.detector.refresh(incident, &self.store) {
                tracing::error!(%error, "refreshing an incident in the detector failed");
            }
        }
        if !reindex.is_empty()
            && let Err(error) = self.index.update(reindex)
        {
            tracing::error!(%error, "the index writer is gone; moved posts are re-indexed on `otklik reindex`");
        }
        if self.activity.receiver_count() > 0 {
            for incident in changed.into_values() {
                let _ = self.activity.send(Activity::IncidentChanged {
                    incident: Arc::new(incident),
                });
            }
            for alert in alerts {
                let _ = self.activity.send(Activity::Alert {
                    alert: Arc::new(alert),
                });
            }
        }
        self.publish_next_timer();
        Ok(())
    }

    fn publish_next_timer(&self) {
        if let Some(tx) = &self.next_timer {
            match self.store.next_timer() {
                Ok(next) => {
                    tx.send_replace(next);
                }
                Err(error) => tracing::error!(%error, "reading the next timer failed"),
            }
        }
    }

    /// Understand, store durably, and hand to the index one batch of posts.
    pub fn ingest(&mut self, posts: Vec<Post>) -> Result<IngestReport, StoreError> {
        let understood = understand_all(posts, &self.knowledge);
        self.ingest_understood(understood)
    }

    /// Store durably and hand to the index one batch of understood posts.
    pub fn ingest_understood(
        &mut self,
        posts: Vec<Understood>,
    ) -> Result<IngestReport, StoreError> {
        let mut report = IngestReport::default();
        let mut seen = HashSet::new();
        let mut fresh = Vec::with_capacity(posts.len());
        for item in posts {
            if !seen.insert(item.post.key.clone()) || self.store.contains_post(&item.post.key)? {
                report.duplicates += 1;
                continue;
            }
            fresh.push(item);
        }
        if fresh.is_empty() {
            return Ok(report);
        }

        let now = self.clock.now();
        let store = self.store.clone();
        let mut tx = Tx::new(&store, now);
        let mut pending_seq = None;
        let first_seq =
            self.store
                .reserve_seqs(&mut tx.batch, fresh.len() as u64, &mut pending_seq)?;
        let mut stored = Vec::with_capacity(fresh.len());
        let mut activity = Vec::new();
        // An incident mentioned many times in one batch is written once, in its last state.
        let mut touched: HashSet<IncidentId> = HashSet::new();
        // Incidents an official's comment answered, for the watchers.
        let mut answered: Vec<IncidentId> = Vec::new();
        // Incidents changed by the queue outside the detector (official answers to incidents
        // no longer collecting posts).
        for (
            offset,
            Understood {
                post,
                understanding,
            },
        ) in fresh.into_iter().enumerate()
        {
            let parent_incident = match &post.parent {
                Some(parent) => self.store.post_by_key(parent)?.and_then(|p| p.incident),
                None => None,
            };
            let decision = {
                let Tx {
                    batch,
                    pending_incident,
                    ..
                } = &mut tx;
                let mut next_id = || -> Result<IncidentId, StoreError> {
                    store.reserve_incident_id(batch, pending_incident)
                };
                self.detector.decide(
                    &post,
                    &understanding,
                    parent_incident,
                    &self.org,
                    &self.knowledge,
                    now,
                    &mut next_id,
                )?
            };
            let incident = decision.incident_id();
            let wanted = self.activity.receiver_count() > 0;
            match decision {
                Decision::None => {
                    if post.author_kind == AuthorKind::Official
                        && let Some(id) = parent_incident
                    {
                        self.official_comment(id, &post, &mut tx, &mut touched);
                        answered.push(id);
                    }
                }
                Decision::Opened(id, event) => {
                    touched.insert(id);
                    tx.batch
                        .put_author(id, &crate::incidents::detect::author_of(&post));
                    tx.batch.put_event(&event);
                    report.incidents_opened += 1;
                    if let Some(incident) = self.detector.incident_mut(id)
                        && let Err(error) = self.queue.opened(incident, &mut tx)
                    {
                        tracing::error!(incident = id, %error, "starting the incident's clock failed");
                    }
                    if wanted && let Some(incident) = self.detector.incident(id) {
                        activity.push(Activity::IncidentOpened {
                            incident: Arc::new(incident.clone()),
                        });
                    }
                }
                Decision::Attached(id, events, new_author) => {
                    touched.insert(id);
                    let recurred = self
                        .detector
                        .incident(id)
                        .is_some_and(|i| !i.status.is_open());
                    if let Some(author) = &new_author
                        && !(recurred && self.store.incident_has_author(id, author)?)
                    {
                        tx.batch.put_author(id, author);
                    } else if new_author.is_some()
                        && let Some(incident) = self.detector.incident_mut(id)
                    {
                        // Counted by the detector, which had not loaded a closed incident's
                        // authors.
                        incident.authors = incident.authors.saturating_sub(1);
                    }
                    for event in &events {
                        tx.batch.put_event(event);
                    }
                    report.posts_attached += 1;
                    let became_resonant = events
                        .iter()
                        .any(|e| matches!(e.kind, crate::store::EventKind::MarkedResonant { .. }));
                    if let Some(incident) = self.detector.incident_mut(id) {
                        let result = if recurred {
                            self.queue.recurred(incident, &post.key.uid(), &mut tx)
                        } else if became_resonant {
                            self.queue.became_resonant(incident, &mut tx)
                        } else {
                            Ok(())
                        };
                        if let Err(error) = result {
                            tracing::error!(incident = id, %error, "updating the incident's clock failed");
                        }
                    }
                    if wanted && let Some(incident) = self.detector.incident(id) {
                        let incident = Arc::new(incident.clone());
                        activity.push(Activity::PostAttached {
                            incident: incident.clone(),
                            post: post.key.uid(),
                        });
                        if became_resonant {
                            activity.push(Activity::IncidentResonant { incident });
                        }
                    }
                }
            }
            let record = StoredPost {
                seq: first_seq + offset as u64,
                post,
                understanding,
                incident,
            };
            tx.batch.put_post(&record);
            stored.push(record);
        }

        for id in &touched {
            if let Some(incident) = self.detector.incident(*id) {
                tx.batch.put_incident(incident);
            } else if let Some(incident) = tx.changed.get(id) {
                tx.batch.put_incident(incident);
            }
        }
        for id in self.detector.take_changed_fingerprints() {
            if let Some(incident) = self.detector.incident(id) {
                tx.batch.put_fingerprint(id, &incident.fingerprint);
            }
        }
        let alerts = std::mem::take(&mut tx.alerts);
        if let Err(error) = self.store.commit(tx.batch) {
            // The detector already counted the batch's posts: start again from what is durable.
            match Detector::load(self.incident_settings.clone(), &self.store) {
                Ok(detector) => self.detector = detector,
                Err(reload) => tracing::error!(error = %reload, "reloading open incidents failed"),
            }
            return Err(error);
        }
        self.open.update(
            touched
                .iter()
                .filter_map(|id| self.detector.incident(*id).or_else(|| tx.changed.get(id))),
        );
        for incident in tx.changed.values() {
            if let Err(error) = self.detector.refresh(incident, &self.store) {
                tracing::error!(%error, "refreshing an incident in the detector failed");
            }
        }
        report.stored = stored.len();
        if !alerts.is_empty() || !touched.is_empty() {
            self.publish_next_timer();
        }

        if self.activity.receiver_count() > 0 {
            for post in &stored {
                let _ = self.activity.send(Activity::PostStored {
                    post: Arc::new(post.clone()),
                });
            }
            for a in activity {
                let _ = self.activity.send(a);
            }
            for id in answered {
                if let Some(incident) = self.detector.incident(id).or_else(|| tx.changed.get(&id)) {
                    let _ = self.activity.send(Activity::IncidentChanged {
                        incident: Arc::new(incident.clone()),
                    });
                }
            }
            for alert in alerts {
                let _ = self.activity.send(Activity::Alert {
                    alert: Arc::new(alert),
                });
            }
        }
        if let Err(error) = self.index.send(stored) {
            // The store has the posts; the index catches up from it on the next start.
            tracing::error!(%error, "the index writer is gone; posts are stored but not searchable until restart");
        }
        Ok(report)
    }

    /// An official's comment on a post of incident `id`: the queue reads it as the answer.
    fn official_comment(
        &mut self,
        id: IncidentId,
        post: &Post,
        tx: &mut Tx,
        touched: &mut HashSet<IncidentId>,
    ) {
        let result = match self.detector.incident_mut(id) {
            Some(incident) => {
                touched.insert(id);
                self.queue.official_comment(incident, post, tx)
            }
            None => match tx.incident(id) {
                Ok(mut incident) => {
                    let r = self.queue.official_comment(&mut incident, post, tx);
                    tx.put(incident);
                    r
                }
                Err(e) => Err(e),
            },
        };
        if let Err(error) = result {
            tracing::error!(incident = id, %error, "reading an official's answer failed");
        }
    }
}
