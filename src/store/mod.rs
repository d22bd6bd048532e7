//! The durable store: the only module that knows sled.
//!
//! One sled tree holds every record under a key prefix, so that a batch of posts with the
//! incidents they open or join is applied atomically (`apply_batch` is atomic within a tree)
//! and made durable with one flush. Records are JSON: readable with any tool and tolerant to
//! new fields.
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `p/` | the first post's sequence number, 8 bytes BE | a page of consecutive [`StoredPost`]s, one per line (`pages`) |
//! | `u/` | `platform:native_id` | sequence number |
//! | `i/` | incident id, 8 bytes BE | [`Incident`] |
//! | `e/` | incident id + its first event's number, 8 + 4 bytes BE | a page of consecutive [`IncidentEvent`]s, one per line (`pages`) |
//! | `ia/` | incident id, 8 bytes BE, + author | empty |
//! | `if/` | incident id, 8 bytes BE | fingerprint (JSON array) |
//! | `n/` | notice number, 8 bytes BE | [`AdminNotice`] |
//! | `t/` | due time (Unix ms, 8 bytes BE) + incident id, 8 bytes BE | empty: an armed timer |
//! | `o/` | alert number, 8 bytes BE | [`Alert`] (the outbox) |
//! | `ox/` | alert number, 8 bytes BE | empty: the alert was routed (only above the outbox cursor) |
//! | `oq/` | person + `\0` + alert number, 8 bytes BE | [`QueuedAlert`]: waiting to be grouped |
//! | `od/` | delivery number, 8 bytes BE | [`Delivery`] pending (first try or retry) |
//! | `os/` | delivery number, 8 bytes BE | [`Delivery`] delivered |
//! | `dl/` | delivery number, 8 bytes BE | [`Delivery`] dead letter |
//! | `m/daily_digest` | — | the last day (`YYYY-MM-DD`) whose daily digests were written |
//! | `or/` | repeat key (person, kind, subject) | Unix ms, 8 bytes BE: when it was last queued |
//! | `c/` | source name | cursor (opaque JSON) |
//! | `h/` | source name | [`SourceHealth`] |
//! | `m/` | counter name | u64 BE |
//! | `rw/` | name (`weekly_note`) | the last ISO week whose weekly note went to the outbox (`2026-W47`) |
//! | `us/` | login | [`User`] (web and API accounts) |
//! | `ss/` | SHA-256 of the session id, hex | [`Session`] |
//! | `tk/` | SHA-256 of the API token, hex | [`ApiToken`] |
//! | `al/` | sled-generated id, 8 bytes BE | [`AccessEvent`] (sign-ins, views of personal data) |

mod pages;
mod records;
mod users;

pub use records::*;
pub use users::{AccessEvent, AccessKind, ApiToken, Role, Session, User};

use crate::model::{IncidentId, PostKey};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the data directory {path} is in use by another otklik process (stop the daemon first, or use a command that works while it runs)"
    )]
    Locked { path: PathBuf },
    #[error("store at {path}: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store record {key}: {source}")]
    Corrupt {
        key: String,
        source: serde_json::Error,
    },
    #[error("store page {page}: line {line} holds record {found}, expected {expected}")]
    PageOrder {
        page: String,
        line: u64,
        found: u64,
        expected: u64,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

const POST: &[u8] = b"p/";
const UID: &[u8] = b"u/";
const INCIDENT: &[u8] = b"i/";
const EVENT: &[u8] = b"e/";
const INCIDENT_AUTHOR: &[u8] = b"ia/";
const INCIDENT_FINGERPRINT: &[u8] = b"if/";
const NOTICE: &[u8] = b"n/";
const CURSOR: &[u8] = b"c/";
const HEALTH: &[u8] = b"h/";
const TIMER: &[u8] = b"t/";
const OUTBOX: &[u8] = b"o/";
const REPORT_MARK: &[u8] = b"rw/";
const ALERT_ROUTED: &[u8] = b"ox/";
const ALERT_QUEUED: &[u8] = b"oq/";
const DELIVERY_PENDING: &[u8] = b"od/";
const DELIVERY_SENT: &[u8] = b"os/";
const DELIVERY_DEAD: &[u8] = b"dl/";
const ALERT_REPEAT: &[u8] = b"or/";
const OUTBOX_CURSOR: &[u8] = b"m/outbox_cursor";
const NEXT_DELIVERY: &[u8] = b"m/next_delivery";
const DAILY_DIGEST: &[u8] = b"m/daily_digest";
const NEXT_SEQ: &[u8] = b"m/next_seq";
const NEXT_ALERT: &[u8] = b"m/next_alert";
const NEXT_INCIDENT: &[u8] = b"m/next_incident";

/// Handle to the store; cheap to clone, shareable between threads.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    data: sled::Tree,
    /// The next outbox id, shared by every clone: alerts are written by the pipeline thread
    /// and by a few tasks of their own (source notices, the weekly note), and no two may get
    /// the same id.
    next_alert: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Held while a commit places posts and events into pages and applies them: placing
    /// reads the pages it changes, so two such commits must not interleave.
    page_writer: std::sync::Arc<std::sync::Mutex<()>>,
}

/// A set of writes applied atomically by [`Store::commit`].
#[derive(Default)]
pub struct WriteBatch {
    batch: sled::Batch,
    /// Post records by sequence number, placed into pages by [`Store::commit`].
    posts: std::collections::BTreeMap<u64, Vec<u8>>,
    /// Event records by incident and event number, placed into pages by [`Store::commit`].
    events: std::collections::BTreeMap<IncidentId, std::collections::BTreeMap<u64, Vec<u8>>>,
    len: usize,
}

impl WriteBatch {
    /// Write a post: a new one, or a new version of a stored one.
    pub fn put_post(&mut self, post: &StoredPost) {
        self.posts.insert(post.seq, to_json(post));
        self.batch.insert(
            key(UID, post.post.key.uid().as_bytes()),
            &post.seq.to_be_bytes(),
        );
        self.len += 1;
    }

    pub fn put_incident(&mut self, incident: &Incident) {
        self.batch
            .insert(key(INCIDENT, &incident.id.to_be_bytes()), to_json(incident));
        self.len += 1;
    }

    pub fn put_event(&mut self, event: &IncidentEvent) {
        self.events
            .entry(event.incident)
            .or_default()
            .insert(u64::from(event.number), to_json(event));
        self.len += 1;
    }

    /// Record the fingerprint of incident `id` (when it changed).
    pub fn put_fingerprint(&mut self, id: IncidentId, fingerprint: &[u32]) {
        self.batch.insert(
            key(INCIDENT_FINGERPRINT, &id.to_be_bytes()),
            to_json(&fingerprint),
        );
        self.len += 1;
    }

    /// Record a new distinct author of incident `id`.
    pub fn put_author(&mut self, id: IncidentId, author: &str) {
        let mut k = key(INCIDENT_AUTHOR, &id.to_be_bytes());
        k.extend_from_slice(author.as_bytes());
        self.batch.insert(k, &[]);
        self.len += 1;
    }

    /// Forget a distinct author of incident `id` (their last post there moved out).
    pub fn remove_author(&mut self, id: IncidentId, author: &str) {
        let mut k = key(INCIDENT_AUTHOR, &id.to_be_bytes());
        k.extend_from_slice(author.as_bytes());
        self.batch.remove(k);
        self.len += 1;
    }

    /// Arm the timer of incident `id` at `at`.
    pub fn put_timer(&mut self, at: DateTime<Utc>, id: IncidentId) {
        self.batch.insert(timer_key(at, id), &[]);
        self.len += 1;
    }

    /// Disarm the timer of incident `id` at `at`.
    pub fn remove_timer(&mut self, at: DateTime<Utc>, id: IncidentId) {
        self.batch.remove(timer_key(at, id));
        self.len += 1;
    }

    /// Put an alert into the outbox (its id from [`Store::reserve_alert_id`]).
    pub fn put_alert(&mut self, alert: &Alert) {
        self.batch
            .insert(key(OUTBOX, &alert.id.to_be_bytes()), to_json(alert));
        self.len += 1;
    }

    /// Set the next incident id (for incidents written outside the pipeline: benchmarks).
    pub(crate) fn put_next_incident(&mut self, next: u64) {
        self.put_counter(NEXT_INCIDENT, next);
    }

    pub(crate) fn put_counter(&mut self, name: &[u8], value: u64) {
        self.batch.insert(name, &value.to_be_bytes());
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Store {
    /// Open (or create) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: dir.to_path_buf(),
            source: sled::Error::Io(e),
        })?;
        // A lock can outlive its holder briefly: sled lets go a moment after the last handle
        // is dropped, and a child being forked elsewhere in the process shares the open file
        // until it execs. So a held lock is retried for a short while (longer when this very
        // process holds it) before it is reported. Commands that know a daemon runs go to it
        // without opening the store (`control::open`).
        let started = std::time::Instant::now();
        let db = loop {
            match Store::open_db(dir) {
                Err(StoreError::Locked { .. })
                    if started.elapsed() < std::time::Duration::from_secs(2)
                        || (started.elapsed() < std::time::Duration::from_secs(10)
                            && lock_is_ours(dir)) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other?,
            }
        };
        let data = db.open_tree("data")?;
        // Past every id handed out: the counter, and the newest alert actually written.
        let counted = data.get(NEXT_ALERT)?.map_or(1, |v| be_u64(&v));
        let newest = data
            .scan_prefix(OUTBOX)
            .next_back()
            .transpose()?
            .map_or(0, |(k, _)| be_u64(&k[OUTBOX.len()..]) + 1);
        let next_alert = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(
            counted.max(newest).max(1),
        ));
        Ok(Store {
            db,
            data,
            next_alert,
            page_writer: Default::default(),
        })
    }

    fn open_db(dir: &Path) -> Result<sled::Db> {
        sled::Config::new()
            .path(dir)
            .cache_capacity(64 * 1024 * 1024)
            // Durability comes from explicit flushes after each batch. No background flusher:
            // its thread holds the database (and its file lock) for a while after the last
            // handle is dropped, so another process could not open the store at once.
            // Advisory writes (source health, the access log) ride on the next flush.
            .flush_every_ms(None)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| match e {
                // sled reports a held lock as an I/O error wrapping the OS's EWOULDBLOCK.
                sled::Error::Io(ref io) if io.to_string().contains("could not acquire lock") => {
                    StoreError::Locked {
                        path: dir.to_path_buf(),
                    }
                }
                e => StoreError::Open {
                    path: dir.to_path_buf(),
                    source: e,
                },
            })
    }

    /// Apply `batch` atomically and make it durable before returning.
    pub fn commit(&self, mut batch: WriteBatch) -> Result<()> {
        let _pages = if batch.posts.is_empty() && batch.events.is_empty() {
            None
        } else {
            let guard = self
                .page_writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let posts = std::mem::take(&mut batch.posts);
            self.place(Paged::Posts, posts, &mut batch.batch)?;
            for (id, timeline) in std::mem::take(&mut batch.events) {
                self.place(Paged::Timeline(id), timeline, &mut batch.batch)?;
            }
            Some(guard)
        };
        self.data.apply_batch(batch.batch)?;
        self.flush()
    }

    /// Put records into pages: new ones into new pages of their own, new versions of stored
    /// ones into the pages that hold them.
    fn place(
        &self,
        paged: Paged,
        mut stored: std::collections::BTreeMap<u64, Vec<u8>>,
        batch: &mut sled::Batch,
    ) -> Result<()> {
        if stored.is_empty() {
            return Ok(());
        }
        let mut fresh = match self.newest(paged)? {
            Some(newest) => stored.split_off(&(newest + 1)),
            None => std::mem::take(&mut stored),
        };
        // Pages this commit changes, by first number.
        let mut changed: std::collections::BTreeMap<u64, Vec<u8>> = Default::default();
        for (n, record) in stored {
            let holds = |first: u64, page: &[u8]| n - first < pages::count(page);
            let first = match changed.range(..=n).next_back() {
                Some((&first, page)) if holds(first, page) => first,
                _ => match self.page_holding(paged, n)? {
                    Some((first, page)) if holds(first, &page) => {
                        changed.insert(first, page.to_vec());
                        first
                    }
                    // Below the newest but never stored: a page of its own.
                    _ => {
                        fresh.insert(n, record);
                        continue;
                    }
                },
            };
            let page = changed.get_mut(&first).expect("inserted above");
            *page = pages::replace(page, n - first, &record);
        }
        for (first, page) in changed.into_iter().chain(pages::paginate(fresh)) {
            batch.insert(paged.key(first), page);
        }
        Ok(())
    }

    /// The number of the newest record stored in pages under `paged`.
    fn newest(&self, paged: Paged) -> Result<Option<u64>> {
        Ok(self
            .data
            .scan_prefix(paged.prefix())
            .next_back()
            .transpose()?
            .map(|(k, page)| paged.number(&k) + pages::count(&page) - 1))
    }

    /// The page that holds record `n` if any does: the one with the greatest first number
    /// not above `n` (the caller checks it is long enough).
    fn page_holding(&self, paged: Paged, n: u64) -> Result<Option<(u64, sled::IVec)>> {
        Ok(self
            .data
            .range(paged.prefix()..=paged.key(n))
            .next_back()
            .transpose()?
            .map(|(k, page)| (paged.number(&k), page)))
    }

    /// Make every write so far durable.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// The sequence number of a stored post, if it is stored.
    pub fn post_seq(&self, key: &PostKey) -> Result<Option<u64>> {
        Ok(self
            .data
            .get(self::key(UID, key.uid().as_bytes()))?
            .map(|v| be_u64(&v)))
    }

    pub fn contains_post(&self, key: &PostKey) -> Result<bool> {
        Ok(self
            .data
            .contains_key(self::key(UID, key.uid().as_bytes()))?)
    }

    pub fn post(&self, seq: u64) -> Result<Option<StoredPost>> {
        let Some((first, page)) = self.page_holding(Paged::Posts, seq)? else {
            return Ok(None);
        };
        pages::line(&page, seq - first)
            .map(|record| record_of_page(Paged::Posts, first, seq - first, record))
            .transpose()
    }

    pub fn post_by_key(&self, key: &PostKey) -> Result<Option<StoredPost>> {
        match self.post_seq(key)? {
            Some(seq) => self.post(seq),
            None => Ok(None),
        }
    }

    /// Posts with sequence numbers after `after`, in order.
    pub fn posts_after(&self, after: u64) -> impl Iterator<Item = Result<StoredPost>> + '_ {
        let from = after.saturating_add(1);
        // The page holding the first wanted post may start before it.
        let (error, start) = match self.page_holding(Paged::Posts, from) {
            Ok(page) => (None, page.map_or(from, |(first, _)| first)),
            Err(e) => (Some(Err(e)), from),
        };
        let posts = self
            .data
            .range(key(POST, &start.to_be_bytes())..)
            .take_while(|kv| kv.as_ref().map_or(true, |(k, _)| k.starts_with(POST)))
            .flat_map(move |kv| {
                page_posts(kv)
                    .into_iter()
                    .filter(move |post| post.as_ref().map_or(true, |p| p.seq > after))
            });
        error.into_iter().chain(posts)
    }

    /// Posts from the newest back.
    pub fn posts_newest_first(&self) -> impl Iterator<Item = Result<StoredPost>> + '_ {
        self.data
            .scan_prefix(POST)
            .rev()
            .flat_map(|kv| page_posts(kv).into_iter().rev())
    }

    pub fn post_count(&self) -> usize {
        self.data.scan_prefix(UID).count()
    }

    /// The highest post sequence number handed out (0 when the store is empty).
    pub fn last_seq(&self) -> Result<u64> {
        self.counter(NEXT_SEQ).map(|next| next.saturating_sub(1))
    }

    /// Sequence numbers are handed out by the single pipeline thread: `reserve_seqs` returns
    /// the first of `n` fresh numbers and records the new high-water mark in `batch`.
    pub fn reserve_seqs(
        &self,
        batch: &mut WriteBatch,
        n: u64,
        pending: &mut Option<u64>,
    ) -> Result<u64> {
        let next = match pending {
            Some(next) => *next,
            None => self.counter(NEXT_SEQ)?.max(1),
        };
        *pending = Some(next + n);
        batch.put_counter(NEXT_SEQ, next + n);
        Ok(next)
    }

    /// Like [`Store::reserve_seqs`], for incident ids.
    pub fn reserve_incident_id(
        &self,
        batch: &mut WriteBatch,
        pending: &mut Option<u64>,
    ) -> Result<IncidentId> {
        let next = match pending {
            Some(next) => *next,
            None => self.counter(NEXT_INCIDENT)?.max(1),
        };
        *pending = Some(next + 1);
        batch.put_counter(NEXT_INCIDENT, next + 1);
        Ok(next)
    }

    /// A fresh outbox alert id, unique across every thread writing alerts; `batch` records
    /// the new high-water mark (`_pending` is kept for the callers' symmetry with the other
    /// counters).
    pub fn reserve_alert_id(
        &self,
        batch: &mut WriteBatch,
        _pending: &mut Option<u64>,
    ) -> Result<u64> {
        let id = self
            .next_alert
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        batch.put_counter(NEXT_ALERT, id + 1);
        Ok(id)
    }

    /// Armed timers due at or before `now`, earliest first.
    pub fn due_timers(&self, now: DateTime<Utc>) -> Result<Vec<(DateTime<Utc>, IncidentId)>> {
        let end = timer_key(now, IncidentId::MAX);
        self.data
            .range(key(TIMER, &[])..=end)
            .map(|kv| Ok(parse_timer_key(&kv?.0)))
            .collect()
    }

    /// The earliest armed timer.
    pub fn next_timer(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .data
            .scan_prefix(TIMER)
            .next()
            .transpose()?
            .map(|(k, _)| parse_timer_key(&k).0))
    }

    /// Number of armed timers.
    pub fn timer_count(&self) -> usize {
        self.data.scan_prefix(TIMER).count()
    }

    /// Alerts in the outbox with ids after `after`, in order.
    pub fn alerts_after(&self, after: u64) -> impl Iterator<Item = Result<Alert>> + '_ {
        let start = key(OUTBOX, &(after.saturating_add(1)).to_be_bytes());
        self.data
            .range(start..)
            .take_while(|kv| kv.as_ref().map_or(true, |(k, _)| k.starts_with(OUTBOX)))
            .map(|kv| {
                let (k, v) = kv?;
                from_json(&k, &v)
            })
    }

    /// Put an alert into the outbox, durably, from a task other than the pipeline thread (the
    /// weekly note). Ids come from the store's shared allocator, so it never collides with
    /// the pipeline's. Returns the id.
    pub fn put_alert_outside_pipeline(&self, alert: &mut Alert) -> Result<u64> {
        let mut batch = WriteBatch::default();
        alert.id = self.reserve_alert_id(&mut batch, &mut None)?;
        batch.put_alert(alert);
        self.commit(batch)?;
        Ok(alert.id)
    }

    /// Put an alert into the outbox and set a report mark in the same durable write.
    pub fn put_alert_with_mark(&self, alert: &mut Alert, mark: &str, value: &str) -> Result<u64> {
        let mut batch = WriteBatch::default();
        alert.id = self.reserve_alert_id(&mut batch, &mut None)?;
        batch.put_alert(alert);
        batch
            .batch
            .insert(key(REPORT_MARK, mark.as_bytes()), value.as_bytes());
        self.commit(batch)?;
        Ok(alert.id)
    }

    /// A mark the reports keep (`rw/` keys): the last week whose note was sent.
    pub fn report_mark(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .data
            .get(key(REPORT_MARK, name.as_bytes()))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Set a report mark durably.
    pub fn set_report_mark(&self, name: &str, value: &str) -> Result<()> {
        self.data
            .insert(key(REPORT_MARK, name.as_bytes()), value.as_bytes())?;
        self.flush()
    }

    pub fn alert(&self, id: u64) -> Result<Option<Alert>> {
        let k = key(OUTBOX, &id.to_be_bytes());
        self.data.get(&k)?.map(|v| from_json(&k, &v)).transpose()
    }

    fn counter(&self, name: &[u8]) -> Result<u64> {
        Ok(self.data.get(name)?.map_or(0, |v| be_u64(&v)))
    }

    pub fn incident(&self, id: IncidentId) -> Result<Option<Incident>> {
        let k = key(INCIDENT, &id.to_be_bytes());
        self.data
            .get(&k)?
            .map(|v| self.incident_from(&k, &v))
            .transpose()
    }

    /// Every incident, oldest first.
    pub fn incidents(&self) -> impl Iterator<Item = Result<Incident>> + '_ {
        self.data.scan_prefix(INCIDENT).map(|kv| {
            let (k, v) = kv?;
            self.incident_from(&k, &v)
        })
    }

    /// Every incident, oldest first, without their fingerprints (lists and reports).
    pub fn incidents_without_fingerprints(&self) -> impl Iterator<Item = Result<Incident>> + '_ {
        self.data.scan_prefix(INCIDENT).map(|kv| {
            let (k, v) = kv?;
            from_json(&k, &v)
        })
    }

    /// The stems an incident remembers for near-duplicate comparison.
    pub fn incident_fingerprint(&self, id: IncidentId) -> Result<Vec<u32>> {
        let fk = key(INCIDENT_FINGERPRINT, &id.to_be_bytes());
        match self.data.get(&fk)? {
            Some(fp) => from_json(&fk, &fp),
            None => Ok(Vec::new()),
        }
    }

    fn incident_from(&self, k: &[u8], v: &[u8]) -> Result<Incident> {
        let mut incident: Incident = from_json(k, v)?;
        let fk = key(INCIDENT_FINGERPRINT, &incident.id.to_be_bytes());
        if let Some(fp) = self.data.get(&fk)? {
            incident.fingerprint = from_json(&fk, &fp)?;
        }
        Ok(incident)
    }

    /// The timeline of an incident, in order.
    pub fn events(&self, id: IncidentId) -> Result<Vec<IncidentEvent>> {
        let paged = Paged::Timeline(id);
        let mut events = Vec::new();
        for kv in self.data.scan_prefix(paged.prefix()) {
            let (k, page) = kv?;
            for event in records_of_page(paged, &k, &page) {
                events.push(event?);
            }
        }
        Ok(events)
    }

    /// Keys of the posts that belong to an incident now, in the order they joined it (read
    /// from its timeline: posts that opened or joined it, came with a merged incident, minus
    /// those taken out).
    pub fn incident_posts(&self, id: IncidentId) -> Result<Vec<String>> {
        let mut posts: Vec<String> = Vec::new();
        for event in self.events(id)? {
            match event.kind {
                EventKind::Created { post, .. } | EventKind::PostAttached { post } => {
                    posts.retain(|p| *p != post);
                    posts.push(post);
                }
                EventKind::MergedFrom { posts: merged, .. } => {
                    posts.retain(|p| !merged.contains(p));
                    posts.extend(merged);
                }
                EventKind::PostDetached { post, .. } => posts.retain(|p| *p != post),
                _ => {}
            }
        }
        Ok(posts)
    }

    /// Distinct authors of the posts about an incident.
    pub fn incident_authors(&self, id: IncidentId) -> Result<Vec<String>> {
        let prefix = key(INCIDENT_AUTHOR, &id.to_be_bytes());
        self.data
            .scan_prefix(&prefix)
            .map(|kv| Ok(String::from_utf8_lossy(&kv?.0[prefix.len()..]).into_owned()))
            .collect()
    }

    /// Whether `author` is already counted among the authors of incident `id`.
    pub fn incident_has_author(&self, id: IncidentId, author: &str) -> Result<bool> {
        let mut k = key(INCIDENT_AUTHOR, &id.to_be_bytes());
        k.extend_from_slice(author.as_bytes());
        Ok(self.data.contains_key(k)?)
    }

    pub fn cursor(&self, source: &str) -> Result<Option<serde_json::Value>> {
        let k = key(CURSOR, source.as_bytes());
        self.data.get(&k)?.map(|v| from_json(&k, &v)).transpose()
    }

    /// Persist a source's cursor durably. Call only after the posts it covers are committed.
    pub fn save_cursor(&self, source: &str, cursor: &serde_json::Value) -> Result<()> {
        self.data
            .insert(key(CURSOR, source.as_bytes()), to_json(cursor))?;
        self.flush()
    }

    pub fn health(&self, source: &str) -> Result<Option<SourceHealth>> {
        let k = key(HEALTH, source.as_bytes());
        self.data.get(&k)?.map(|v| from_json(&k, &v)).transpose()
    }

    /// Every source's health record, by name.
    pub fn all_health(&self) -> Result<Vec<SourceHealth>> {
        self.data
            .scan_prefix(HEALTH)
            .map(|kv| {
                let (k, v) = kv?;
                from_json(&k, &v)
            })
            .collect()
    }

    /// Record a notice for the administrator, durably, with its alert to the `admin` role in
    /// the same write (invariant 6).
    pub fn push_notice(&self, notice: &AdminNotice) -> Result<()> {
        let id = self.db.generate_id()?;
        let mut batch = WriteBatch::default();
        batch
            .batch
            .insert(key(NOTICE, &id.to_be_bytes()), to_json(notice));
        let alert_id = self.reserve_alert_id(&mut batch, &mut None)?;
        batch.put_alert(&notice_alert(alert_id, notice));
        self.commit(batch)
    }

    /// Every notice, oldest first.
    pub fn notices(&self) -> Result<Vec<AdminNotice>> {
        self.data
            .scan_prefix(NOTICE)
            .map(|kv| {
                let (k, v) = kv?;
                from_json(&k, &v)
            })
            .collect()
    }

    /// Health is advisory: written without a flush of its own (the next batch's flush, or the
    /// flush when the store is closed, carries it).
    pub fn save_health(&self, health: &SourceHealth) -> Result<()> {
        self.data
            .insert(key(HEALTH, health.source.as_bytes()), to_json(health))?;
        Ok(())
    }
}

/// The alert that tells the administrator about a notice.
fn notice_alert(id: u64, notice: &AdminNotice) -> Alert {
    use crate::sources::HealthState;
    let recovered = notice.state == HealthState::Ok;
    let title = if recovered {
        format!("Источник «{}» снова работает", notice.source)
    } else {
        format!("Источник «{}»: {}", notice.source, notice.state.label_ru())
    };
    let mut body = format!(
        "Источник: {} ({}).\nСостояние: {}.",
        notice.source,
        notice.platform.as_str(),
        notice.state.label_ru()
    );
    if !recovered {
        body.push_str(&format!(
            "\nНеудачных попыток подряд: {}.",
            notice.consecutive_failures
        ));
        if let Some(e) = &notice.error {
            body.push_str(&format!("\nПоследняя ошибка: {e}"));
        }
    }
    Alert {
        id,
        at: notice.at,
        kind: if recovered {
            AlertKind::SourceRecovered
        } else {
            AlertKind::SourceFailing
        },
        incident: None,
        roles: vec!["admin".into()],
        persons: Vec::new(),
        urgent: false,
        title,
        body,
    }
}

/// The alerts workers' records: routing marks, the grouping queue, deliveries, dead letters.
impl WriteBatch {
    /// Mark alert `id` as routed (its persons queued).
    pub fn mark_alert_routed(&mut self, id: u64) {
        self.batch.insert(key(ALERT_ROUTED, &id.to_be_bytes()), &[]);
        self.len += 1;
    }

    /// Move the outbox cursor to `id`, dropping the routed marks it now covers.
    pub fn set_outbox_cursor(&mut self, from: u64, to: u64) {
        for id in from.saturating_add(1)..=to {
            self.batch.remove(key(ALERT_ROUTED, &id.to_be_bytes()));
        }
        self.batch.insert(OUTBOX_CURSOR, &to.to_be_bytes());
        self.len += 1;
    }

    pub fn put_queued(&mut self, q: &QueuedAlert) {
        self.batch
            .insert(queued_key(&q.person, q.alert), to_json(q));
        self.len += 1;
    }

    pub fn remove_queued(&mut self, q: &QueuedAlert) {
        self.batch.remove(queued_key(&q.person, q.alert));
        self.len += 1;
    }

    /// Record when an alert with repeat key `repeat` was last queued.
    pub fn put_repeat(&mut self, repeat: &str, at: DateTime<Utc>) {
        self.batch.insert(
            key(ALERT_REPEAT, repeat.as_bytes()),
            &(at.timestamp_millis().max(0) as u64).to_be_bytes(),
        );
        self.len += 1;
    }

    /// Write a delivery under the prefix of its state, removing it from `previous`'s.
    pub fn put_delivery(&mut self, d: &Delivery, previous: Option<DeliveryState>) {
        if let Some(previous) = previous
            && previous != d.state
        {
            self.batch
                .remove(key(delivery_prefix(previous), &d.id.to_be_bytes()));
        }
        self.batch.insert(
            key(delivery_prefix(d.state), &d.id.to_be_bytes()),
            to_json(d),
        );
        self.len += 1;
    }

    pub fn set_next_delivery(&mut self, next: u64) {
        self.put_counter(NEXT_DELIVERY, next);
    }

    /// Record the day whose daily digests were written.
    pub fn set_daily_digest(&mut self, day: chrono::NaiveDate) {
        self.batch.insert(DAILY_DIGEST, day.to_string().as_bytes());
        self.len += 1;
    }
}

impl Store {
    /// How far the alerts workers have routed the outbox: every alert up to it is routed.
    pub fn outbox_cursor(&self) -> Result<u64> {
        self.counter(OUTBOX_CURSOR)
    }

    pub fn alert_routed(&self, id: u64) -> Result<bool> {
        Ok(self
            .data
            .contains_key(key(ALERT_ROUTED, &id.to_be_bytes()))?)
    }

    /// The highest alert id handed out so far (0 when none).
    pub fn last_alert_id(&self) -> Result<u64> {
        Ok(self
            .next_alert
            .load(std::sync::atomic::Ordering::SeqCst)
            .saturating_sub(1))
    }

    /// Every alert waiting in the grouping queue, by person, then alert id.
    pub fn queued_alerts(&self) -> Result<Vec<QueuedAlert>> {
        self.data
            .scan_prefix(ALERT_QUEUED)
            .map(|kv| {
                let (k, v) = kv?;
                from_json(&k, &v)
            })
            .collect()
    }

    /// When an alert with repeat key `repeat` was last queued.
    pub fn repeat(&self, repeat: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .data
            .get(key(ALERT_REPEAT, repeat.as_bytes()))?
            .and_then(|v| DateTime::<Utc>::from_timestamp_millis(be_u64(&v) as i64)))
    }

    /// Deliveries in `state`, oldest first.
    pub fn deliveries(&self, state: DeliveryState) -> Result<Vec<Delivery>> {
        self.data
            .scan_prefix(delivery_prefix(state))
            .map(|kv| {
                let (k, v) = kv?;
                from_json(&k, &v)
            })
            .collect()
    }

    /// Number of deliveries in `state`.
    pub fn delivery_count(&self, state: DeliveryState) -> usize {
        self.data.scan_prefix(delivery_prefix(state)).count()
    }

    /// A delivery by id, whatever its state.
    pub fn delivery(&self, id: u64) -> Result<Option<Delivery>> {
        for state in [
            DeliveryState::Pending,
            DeliveryState::Dead,
            DeliveryState::Delivered,
        ] {
            let k = key(delivery_prefix(state), &id.to_be_bytes());
            if let Some(v) = self.data.get(&k)? {
                return from_json(&k, &v).map(Some);
            }
        }
        Ok(None)
    }

    /// The last day whose daily digests were written.
    pub fn daily_digest(&self) -> Result<Option<chrono::NaiveDate>> {
        Ok(self
            .data
            .get(DAILY_DIGEST)?
            .and_then(|v| String::from_utf8_lossy(&v).parse().ok()))
    }

    /// The next delivery id to hand out.
    pub fn next_delivery_id(&self) -> Result<u64> {
        Ok(self.counter(NEXT_DELIVERY)?.max(1))
    }
}

fn delivery_prefix(state: DeliveryState) -> &'static [u8] {
    match state {
        DeliveryState::Pending => DELIVERY_PENDING,
        DeliveryState::Delivered => DELIVERY_SENT,
        DeliveryState::Dead => DELIVERY_DEAD,
    }
}

fn queued_key(person: &str, alert: u64) -> Vec<u8> {
    let mut k = key(ALERT_QUEUED, person.as_bytes());
    k.push(0);
    k.extend_from_slice(&alert.to_be_bytes());
    k
}

/// Whether the lock on the store in `dir` is held by this very process (per `/proc/locks`).
fn lock_is_ours(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(dir.join("db")) else {
        return false;
    };
    let (inode, pid) = (meta.ino().to_string(), std::process::id().to_string());
    std::fs::read_to_string("/proc/locks").is_ok_and(|locks| {
        locks.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // `1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF`
            fields.len() >= 6
                && fields[4] == pid
                && fields[5].rsplit(':').next() == Some(inode.as_str())
        })
    })
}

fn timer_key(at: DateTime<Utc>, id: IncidentId) -> Vec<u8> {
    let mut k = key(TIMER, &(at.timestamp_millis().max(0) as u64).to_be_bytes());
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn parse_timer_key(k: &[u8]) -> (DateTime<Utc>, IncidentId) {
    let rest = &k[TIMER.len()..];
    let ms = be_u64(&rest[..8]) as i64;
    let at = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC);
    (at, be_u64(&rest[8..]))
}

fn key(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + rest.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(rest);
    k
}

fn be_u64(v: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = v.len().min(8);
    b[..n].copy_from_slice(&v[..n]);
    u64::from_be_bytes(b)
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialize to JSON")
}

/// Where records are kept in pages (`pages`): posts under `p/`, numbered by sequence number
/// (8 bytes), and each incident's timeline under `e/` and its id, by event number (4 bytes).
#[derive(Clone, Copy)]
enum Paged {
    Posts,
    Timeline(IncidentId),
}

impl Paged {
    fn prefix(self) -> Vec<u8> {
        match self {
            Paged::Posts => POST.to_vec(),
            Paged::Timeline(id) => key(EVENT, &id.to_be_bytes()),
        }
    }

    /// Bytes of the number at the end of a page's key.
    fn width(self) -> usize {
        match self {
            Paged::Posts => 8,
            Paged::Timeline(_) => 4,
        }
    }

    fn key(self, first: u64) -> Vec<u8> {
        key(&self.prefix(), &first.to_be_bytes()[8 - self.width()..])
    }

    /// The first number of the page stored under `key`.
    fn number(self, key: &[u8]) -> u64 {
        let mut be = [0u8; 8];
        be[8 - self.width()..].copy_from_slice(&key[key.len() - self.width()..]);
        u64::from_be_bytes(be)
    }

    /// The page starting at `first`, as error messages name it.
    fn name(self, first: u64) -> String {
        match self {
            Paged::Posts => format!("p/{first}"),
            Paged::Timeline(id) => format!("e/{id}/{first}"),
        }
    }
}

/// A record that knows its own number (the check that a page is in order).
trait Numbered: serde::de::DeserializeOwned {
    fn number(&self) -> u64;
}

impl Numbered for StoredPost {
    fn number(&self) -> u64 {
        self.seq
    }
}

impl Numbered for IncidentEvent {
    fn number(&self) -> u64 {
        u64::from(self.number)
    }
}

/// The posts of a page read from sled, in order (one error when it cannot be read).
fn page_posts(kv: sled::Result<(sled::IVec, sled::IVec)>) -> Vec<Result<StoredPost>> {
    match kv {
        Ok((k, page)) => records_of_page(Paged::Posts, &k, &page).collect(),
        Err(e) => vec![Err(e.into())],
    }
}

/// The records of the page stored under `key`, in order.
fn records_of_page<'a, T: Numbered>(
    paged: Paged,
    key: &[u8],
    page: &'a [u8],
) -> impl Iterator<Item = Result<T>> + 'a {
    let first = paged.number(key);
    pages::lines(page)
        .zip(0..)
        .map(move |(record, line)| record_of_page(paged, first, line, record))
}

/// Line `line` of the page starting at record `first`: record `first + line`.
fn record_of_page<T: Numbered>(paged: Paged, first: u64, line: u64, record: &[u8]) -> Result<T> {
    let value: T = serde_json::from_slice(record).map_err(|source| StoreError::Corrupt {
        key: format!("{} line {line}", paged.name(first)),
        source,
    })?;
    if value.number() != first + line {
        return Err(StoreError::PageOrder {
            page: paged.name(first),
            line,
            found: value.number(),
            expected: first + line,
        });
    }
    Ok(value)
}

fn from_json<T: serde::de::DeserializeOwned>(key: &[u8], value: &[u8]) -> Result<T> {
    serde_json::from_slice(value).map_err(|source| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })
}

#[cfg(test)]
mod tests;
