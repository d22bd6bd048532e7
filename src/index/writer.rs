//! The one index writer, on its own thread.
//!
//! tantivy's `commit()` blocks (it joins indexing threads and fsyncs), so the writer lives on
//! a dedicated thread fed through a bounded channel (invariant 7). It commits on a timer or
//! when enough documents wait, records in the commit payload how far into the store it
//! reaches, and reloads the reader after each commit so searches see the new posts at once.

use super::schema::{Fields, document_for, open_or_create};
use crate::config::IndexSettings;
use crate::store::{Store, StoredPost};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy};

/// What a commit records about the store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitPayload {
    /// Every stored post with a sequence number up to this one is in the index.
    pub seq: u64,
}

impl CommitPayload {
    /// The payload of the index's last commit (zero for a new or foreign index).
    pub fn of(index: &Index) -> tantivy::Result<CommitPayload> {
        let metas = index.load_metas()?;
        Ok(metas
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    #[error("search index at {path}: {source}")]
    Index {
        path: PathBuf,
        source: tantivy::TantivyError,
    },
    #[error("search index: reading the store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("search index writer thread stopped")]
    Stopped,
}

enum Message {
    Add(Vec<StoredPost>),
    Update(Vec<StoredPost>),
    /// Commit now and answer when done (tests, shutdown of a phase).
    Commit(SyncSender<u64>),
}

/// Handle to the writer thread. Dropping every clone of the sender (via [`IndexWriterHandle::finish`])
/// makes the thread commit what is left and stop.
pub struct IndexWriterHandle {
    tx: Option<SyncSender<Message>>,
    thread: Option<JoinHandle<()>>,
    committed: Arc<AtomicU64>,
}

/// Documents waiting in the channel before senders block.
const CHANNEL_CAPACITY: usize = 64;

impl IndexWriterHandle {
    /// Open the index in `dir`, index the store's tail that the last commit does not cover,
    /// and start the writer thread.
    pub fn start(
        dir: &Path,
        store: Store,
        settings: &IndexSettings,
    ) -> Result<IndexWriterHandle, WriterError> {
        let err = |source| WriterError::Index {
            path: dir.to_path_buf(),
            source,
        };
        let index = open_or_create(dir).map_err(err)?;
        let payload = CommitPayload::of(&index).map_err(err)?;
        let writer: IndexWriter = index
            .writer_with_num_threads(
                settings.writer_threads,
                settings.writer_memory_mb * 1024 * 1024,
            )
            .map_err(err)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err)?;
        // Everything stored up to now is the tail's end; the pipeline only sends what it
        // stores after this point, so the two never overlap.
        let tail_end = store.last_seq()?;
        let committed = Arc::new(AtomicU64::new(payload.seq));
        let (tx, rx) = sync_channel(CHANNEL_CAPACITY);
        let worker = Worker {
            fields: Fields::of(&index.schema()),
            writer,
            reader,
            committed: committed.clone(),
            indexed: payload.seq,
            pending: 0,
            changed: false,
            interval: Duration::from_secs(settings.commit_interval_secs),
            max_pending: settings.commit_max_docs.max(1),
        };
        let thread = std::thread::Builder::new()
            .name("index-writer".into())
            .spawn(move || worker.run(store, tail_end, rx))
            .expect("spawning the index writer thread");
        Ok(IndexWriterHandle {
            tx: Some(tx),
            thread: Some(thread),
            committed,
        })
    }

    /// A sender for stored posts, in store order. Blocks when the writer is behind.
    pub fn sender(&self) -> IndexSender {
        IndexSender(self.tx.clone().expect("the writer is running"))
    }

    /// The highest store sequence number that is committed and searchable.
    pub fn committed_seq(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }

    /// A shared view of [`IndexWriterHandle::committed_seq`], for metrics.
    pub fn committed_handle(&self) -> Arc<AtomicU64> {
        self.committed.clone()
    }

    /// Commit what is pending now; returns the committed sequence number.
    pub fn commit(&self) -> Result<u64, WriterError> {
        let (tx, rx) = sync_channel(1);
        self.tx
            .as_ref()
            .ok_or(WriterError::Stopped)?
            .send(Message::Commit(tx))
            .map_err(|_| WriterError::Stopped)?;
        rx.recv().map_err(|_| WriterError::Stopped)
    }

    /// Stop accepting posts, commit the rest and wait for merges; returns the final
    /// committed sequence number. Other senders must have been dropped for this to return.
    pub fn finish(mut self) -> u64 {
        self.tx.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("index writer thread panicked");
        }
        self.committed_seq()
    }
}

/// Sends stored posts to the writer thread.
#[derive(Clone)]
pub struct IndexSender(SyncSender<Message>);

impl IndexSender {
    pub fn send(&self, posts: Vec<StoredPost>) -> Result<(), WriterError> {
        self.0
            .send(Message::Add(posts))
            .map_err(|_| WriterError::Stopped)
    }

    /// Replace already indexed posts whose record changed (moved to another incident).
    pub fn update(&self, posts: Vec<StoredPost>) -> Result<(), WriterError> {
        self.0
            .send(Message::Update(posts))
            .map_err(|_| WriterError::Stopped)
    }
}

struct Worker {
    fields: Fields,
    writer: IndexWriter,
    reader: IndexReader,
    committed: Arc<AtomicU64>,
    /// Highest sequence number added to the writer (committed or not).
    indexed: u64,
    pending: usize,
    /// Documents were replaced since the last commit.
    changed: bool,
    interval: Duration,
    max_pending: usize,
}

impl Worker {
    fn run(mut self, store: Store, tail_end: u64, rx: Receiver<Message>) {
        if let Err(error) = self.catch_up(&store, tail_end) {
            tracing::error!(%error, "indexing the store's tail failed; search misses those posts until `otklik reindex`");
        }
        let mut next_commit = Instant::now() + self.interval;
        loop {
            let timeout = next_commit.saturating_duration_since(Instant::now());
            match rx.recv_timeout(timeout) {
                Ok(Message::Add(posts)) => {
                    self.add(&posts);
                    if self.pending >= self.max_pending {
                        self.commit();
                        next_commit = Instant::now() + self.interval;
                    }
                }
                Ok(Message::Update(posts)) => {
                    self.update(&posts);
                    self.commit_changes();
                    next_commit = Instant::now() + self.interval;
                }
                Ok(Message::Commit(done)) => {
                    self.commit();
                    let _ = done.send(self.committed.load(Ordering::Acquire));
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.pending > 0 {
                        self.commit();
                    }
                    next_commit = Instant::now() + self.interval;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.commit();
        // Merges run on threads the writer owns: wait for them, or segments pile up.
        let Worker { writer, .. } = self;
        if let Err(error) = writer.wait_merging_threads() {
            tracing::warn!(%error, "waiting for index merges failed");
        }
    }

    fn catch_up(&mut self, store: &Store, tail_end: u64) -> Result<(), WriterError> {
        if tail_end <= self.indexed {
            return Ok(());
        }
        let from = self.indexed;
        let started = Instant::now();
        let mut chunk = Vec::with_capacity(1024);
        for post in store.posts_after(from) {
            let post = post?;
            if post.seq > tail_end {
                break;
            }
            chunk.push(post);
            if chunk.len() == 1024 {
                self.add(&chunk);
                chunk.clear();
            }
        }
        self.add(&chunk);
        self.commit();
        tracing::info!(
            from,
            to = tail_end,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "indexed the store's tail"
        );
        Ok(())
    }

    fn add(&mut self, posts: &[StoredPost]) {
        for post in posts {
            // Posts arrive in store order; anything at or below the mark is already indexed.
            if post.seq <= self.indexed {
                continue;
            }
            if let Err(error) = self.writer.add_document(document_for(&self.fields, post)) {
                tracing::error!(%error, post = %post.post.key, "adding a post to the index failed");
                continue;
            }
            self.indexed = post.seq;
            self.pending += 1;
        }
    }

    /// Replace posts that are indexed already; posts beyond the mark are added as usual.
    fn update(&mut self, posts: &[StoredPost]) {
        for post in posts {
            if post.seq > self.indexed {
                self.add(std::slice::from_ref(post));
                continue;
            }
            self.writer
                .delete_term(tantivy::Term::from_field_u64(self.fields.seq, post.seq));
            if let Err(error) = self.writer.add_document(document_for(&self.fields, post)) {
                tracing::error!(%error, post = %post.post.key, "re-indexing a post failed");
                continue;
            }
            self.changed = true;
        }
    }

    /// Commit even when no new post arrived (after updates).
    fn commit_changes(&mut self) {
        self.pending += usize::from(self.changed);
        self.commit();
    }

    fn commit(&mut self) {
        if self.indexed == self.committed.load(Ordering::Acquire) && self.pending == 0 {
            return;
        }
        self.changed = false;
        let payload = serde_json::to_string(&CommitPayload { seq: self.indexed })
            .expect("payload serializes");
        let started = Instant::now();
        let mut prepared = match self.writer.prepare_commit() {
            Ok(prepared) => prepared,
            Err(error) => {
                tracing::error!(%error, "index commit failed; will retry");
                return;
            }
        };
        prepared.set_payload(&payload);
        if let Err(error) = prepared.commit() {
            tracing::error!(%error, "index commit failed; will retry");
            return;
        }
        if let Err(error) = self.reader.reload() {
            tracing::warn!(%error, "reloading the index reader failed");
        }
        tracing::debug!(
            docs = self.pending,
            seq = self.indexed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "index committed"
        );
        self.pending = 0;
        self.committed.store(self.indexed, Ordering::Release);
    }
}
