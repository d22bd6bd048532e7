//! The ingest pipeline: from a source's batch of posts to durable, understood, indexed posts
//! and the incidents they open or join.
//!
//! One thread owns the write path, so sequence numbers are handed out in order and every
//! batch is one atomic, flushed store write (invariants 1 and 2). Understanding is pure and
//! runs on the same thread; the index writer gets the stored posts afterwards, in order.

use crate::config::IncidentSettings;
use crate::incidents::detect::{Decision, Detector};
use crate::index::IndexSender;
use crate::model::{IncidentId, Post};
use crate::org::Org;
use crate::store::{Incident, Store, StoreError, StoredPost, WriteBatch};
use crate::understand::{Knowledge, PostView, Understanding, understand};
use chrono::Utc;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot};

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
    SourceHealth {
        source: String,
        state: crate::sources::HealthState,
        error: Option<String>,
    },
}

/// Everything the pipeline thread needs.
pub struct Pipeline {
    pub store: Store,
    pub knowledge: Arc<Knowledge>,
    pub org: Arc<Org>,
    pub detector: Detector,
    pub index: IndexSender,
    pub activity: broadcast::Sender<Activity>,
    pub incident_settings: IncidentSettings,
}

impl Pipeline {
    /// Process jobs until every sender is dropped.
    pub fn run(mut self, mut jobs: mpsc::Receiver<IngestJob>) {
        while let Some(job) = jobs.blocking_recv() {
            let result = self.ingest_understood(job.posts).map_err(|e| {
                tracing::error!(source = %job.source, error = %e, "storing a batch failed");
                e.to_string()
            });
            // The source may have stopped waiting (shutdown); the posts are stored anyway.
            let _ = job.done.send(result);
        }
        tracing::debug!("pipeline drained");
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
        let mut batch = WriteBatch::default();
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

        let now = Utc::now();
        let mut pending_seq = None;
        let first_seq =
            self.store
                .reserve_seqs(&mut batch, fresh.len() as u64, &mut pending_seq)?;
        let mut pending_incident = None;
        let mut stored = Vec::with_capacity(fresh.len());
        let mut activity = Vec::new();
        // An incident mentioned many times in one batch is written once, in its last state.
        let mut touched: HashSet<IncidentId> = HashSet::new();
        for (
            offset,
            Understood {
                post,
                understanding,
            },
        ) in fresh.into_iter().enumerate()
        {
            let store = &self.store;
            let mut next_id = || -> Result<IncidentId, StoreError> {
                store.reserve_incident_id(&mut batch, &mut pending_incident)
            };
            let parent_incident = match &post.parent {
                Some(parent) => store.post_by_key(parent)?.and_then(|p| p.incident),
                None => None,
            };
            let decision = self.detector.decide(
                &post,
                &understanding,
                parent_incident,
                &self.org,
                &self.knowledge,
                now,
                &mut next_id,
            )?;
            let incident = decision.incident_id();
            let wanted = self.activity.receiver_count() > 0;
            match decision {
                Decision::None => {}
                Decision::Opened(id, event) => {
                    touched.insert(id);
                    batch.put_author(id, &crate::incidents::detect::author_of(&post));
                    batch.put_event(&event);
                    report.incidents_opened += 1;
                    if wanted && let Some(incident) = self.detector.incident(id) {
                        activity.push(Activity::IncidentOpened {
                            incident: Arc::new(incident.clone()),
                        });
                    }
                }
                Decision::Attached(id, events, new_author) => {
                    touched.insert(id);
                    if let Some(author) = &new_author {
                        batch.put_author(id, author);
                    }
                    for event in &events {
                        batch.put_event(event);
                    }
                    report.posts_attached += 1;
                    if wanted && let Some(incident) = self.detector.incident(id) {
                        let incident = Arc::new(incident.clone());
                        activity.push(Activity::PostAttached {
                            incident: incident.clone(),
                            post: post.key.uid(),
                        });
                        let became_resonant = events.iter().any(|e| {
                            matches!(e.kind, crate::store::EventKind::MarkedResonant { .. })
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
            batch.put_post(&record);
            stored.push(record);
        }

        for id in &touched {
            if let Some(incident) = self.detector.incident(*id) {
                batch.put_incident(incident);
            }
        }
        for id in self.detector.take_changed_fingerprints() {
            if let Some(incident) = self.detector.incident(id) {
                batch.put_fingerprint(id, &incident.fingerprint);
            }
        }
        if let Err(error) = self.store.commit(batch) {
            // The detector already counted the batch's posts: start again from what is durable.
            match Detector::load(self.incident_settings.clone(), &self.store) {
                Ok(detector) => self.detector = detector,
                Err(reload) => tracing::error!(error = %reload, "reloading open incidents failed"),
            }
            return Err(error);
        }
        report.stored = stored.len();

        if self.activity.receiver_count() > 0 {
            for post in &stored {
                let _ = self.activity.send(Activity::PostStored {
                    post: Arc::new(post.clone()),
                });
            }
            for a in activity {
                let _ = self.activity.send(a);
            }
        }
        if let Err(error) = self.index.send(stored) {
            // The store has the posts; the index catches up from it on the next start.
            tracing::error!(%error, "the index writer is gone; posts are stored but not searchable until restart");
        }
        Ok(report)
    }
}
