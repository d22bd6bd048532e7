//! The queue benchmark: a store with many open incidents, each with its clock and armed timer;
//! the cost of a daemon start over it (loading open incidents, finding the next timer), of a
//! state change (one action, durable), and of firing a timer — against plain sled doing the
//! same amount of reading and one flushed write, in the same run.

use crate::config::Loaded;
use crate::incidents::queue::{Action, Request, Tx};
use crate::pipeline::Pipeline;
use crate::store::{Incident, IncidentStatus, Milestones, Store};
use crate::time::Clock;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Serialize)]
pub struct QueueFigures {
    pub incidents: usize,
    /// Writing the incidents through the queue (clock, timer, alert each), per second.
    pub created_per_sec: f64,
    /// A daemon start: the pipeline with every open incident loaded, seconds.
    pub start_secs: f64,
    /// Finding the earliest of all armed timers, microseconds.
    pub next_timer_us: f64,
    /// Armed timers found in the store.
    pub timers: usize,
    /// Baseline: iterating the same number of records in plain sled, seconds.
    pub baseline_scan_secs: f64,
    /// One action (accept), durable, median and 99th percentile, milliseconds.
    pub action_p50_ms: f64,
    pub action_p99_ms: f64,
    /// Baseline: one plain sled insert with a flush, median, milliseconds.
    pub baseline_flush_p50_ms: f64,
    /// Firing the timers of 1,000 incidents in one tick, milliseconds.
    pub tick_1000_ms: f64,
}

impl std::fmt::Display for QueueFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "queue with {} open incidents", self.incidents)?;
        writeln!(
            f,
            "  created through the queue: {:.0}/s",
            self.created_per_sec
        )?;
        writeln!(
            f,
            "  start (load open incidents): {:.2} s   baseline sled scan of as many records: {:.2} s",
            self.start_secs, self.baseline_scan_secs
        )?;
        writeln!(
            f,
            "  next of {} armed timers: {:.1} µs",
            self.timers, self.next_timer_us
        )?;
        writeln!(
            f,
            "  one action, durable: p50 {:.2} ms, p99 {:.2} ms   baseline sled insert+flush p50 {:.2} ms",
            self.action_p50_ms, self.action_p99_ms, self.baseline_flush_p50_ms
        )?;
        write!(
            f,
            "  firing 1000 due timers in one tick: {:.0} ms",
            self.tick_1000_ms
        )
    }
}

const GROUPS: [(&str, &str); 4] = [
    ("zhkh", "Отсутствие холодной и/или горячей воды"),
    ("dorogi", "Ямы и выбоины на дорогах"),
    ("blagoustroystvo", "Уборка мусора"),
    ("obrashchenie-s-otkhodami", "Вывоз ТКО"),
];
const TERRITORIES: [&str; 5] = [
    "gavrilov-yam",
    "shopsha",
    "velikoe",
    "mitino",
    "zayachiy-kholm",
];

pub(crate) fn synthetic(id: u64, created: DateTime<Utc>, loaded: &Loaded) -> Incident {
    let (group, topic) = GROUPS[id as usize % GROUPS.len()];
    let territory = TERRITORIES[id as usize % TERRITORIES.len()];
    let owner = loaded.org.route(
        &loaded.knowledge.taxonomy,
        group,
        Some(topic),
        Some(territory),
    );
    Incident {
        id,
        status: IncidentStatus::Routed,
        opened: created,
        last_mention: created,
        created,
        group: group.into(),
        topic: Some(topic.into()),
        territory: Some(territory.into()),
        place: None,
        owner,
        urgent: id.is_multiple_of(17),
        resonant: false,
        first_post: format!("vk:-1_{id}"),
        mentions: 1,
        authors: 1,
        summary: format!("Синтетический инцидент {id}"),
        fingerprint: Vec::new(),
        events: 0,
        resolution: None,
        merged_into: None,
        waiting_for: None,
        clock: None,
        milestones: Milestones::default(),
        pending_answer: None,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Run the benchmark with `n` open incidents.
pub fn queue(n: usize) -> anyhow::Result<QueueFigures> {
    let dir = std::env::temp_dir().join(format!("otklik-bench-queue-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let loaded = Loaded::embedded(dir.clone());
    let store = Store::open(&dir.join("store"))?;
    let rules = std::sync::Arc::new(crate::incidents::queue::Rules::from_loaded(&loaded));
    let queue = crate::incidents::queue::Queue::new(rules);

    // Incidents opened over the working week before Friday 27 November 2026, 16:00.
    let end = chrono_tz::Europe::Moscow
        .with_ymd_and_hms(2026, 11, 27, 16, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let span = Duration::days(4).num_seconds();
    let started = Instant::now();
    let mut id = 0u64;
    while (id as usize) < n {
        let now = end;
        let mut tx = Tx::new(&store, now);
        for _ in 0..1000.min(n - id as usize) {
            id += 1;
            let created = end - Duration::seconds(span * (n as i64 - id as i64) / n as i64);
            let mut incident = synthetic(id, created, &loaded);
            tx.now = created;
            queue.opened(&mut incident, &mut tx)?;
            tx.put(incident);
        }
        let mut batch = std::mem::take(&mut tx.batch);
        batch.put_next_incident(id + 1);
        store.commit(batch)?;
    }
    let created_per_sec = n as f64 / started.elapsed().as_secs_f64();
    drop(store);

    // A start: open the store, load the pipeline with every open incident, find the timer.
    let started = Instant::now();
    let store = Store::open(&dir.join("store"))?;
    let index = crate::index::IndexWriterHandle::start(
        &dir.join("search"),
        store.clone(),
        &loaded.settings.index,
    )?;
    let (activity, _) = tokio::sync::broadcast::channel(1);
    let mut pipeline = Pipeline::new(
        &loaded,
        store.clone(),
        index.sender(),
        activity,
        Clock::fixed(end),
    )?;
    let _ = store.next_timer()?;
    let start_secs = started.elapsed().as_secs_f64();
    let t = Instant::now();
    let next = store.next_timer()?;
    let next_timer_us = t.elapsed().as_secs_f64() * 1e6;
    anyhow::ensure!(next.is_some(), "no timer armed");
    let timers = store.timer_count();

    // Baseline: plain sled, the same number of records read.
    let base_dir = dir.join("baseline");
    let db = sled::open(&base_dir)?;
    let tree = db.open_tree("data")?;
    let value = serde_json::to_vec(&synthetic(1, end, &loaded))?;
    for i in 0..n as u64 {
        tree.insert(i.to_be_bytes(), value.as_slice())?;
    }
    db.flush()?;
    let t = Instant::now();
    let mut seen = 0usize;
    for kv in tree.iter() {
        let (_, v) = kv?;
        let parsed: serde_json::Value = serde_json::from_slice(&v)?;
        seen += usize::from(parsed.is_object());
    }
    let baseline_scan_secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(seen == n, "baseline scan");

    // State changes: accept 500 incidents, one durable action each.
    let mut times = Vec::new();
    for k in 0..500u64 {
        let id = 1 + k * (n as u64 / 500).max(1);
        let t = Instant::now();
        pipeline
            .act(&Request {
                incident: id,
                actor: "bench".into(),
                comment: None,
                action: Action::Accept { text: None },
            })
            .map_err(|e| anyhow::anyhow!(e.message))?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let (action_p50_ms, action_p99_ms) = (percentile(&times, 0.5), percentile(&times, 0.99));
    let mut flushes = Vec::new();
    for i in 0..200u64 {
        let t = Instant::now();
        tree.insert((u64::MAX - i).to_be_bytes(), value.as_slice())?;
        db.flush()?;
        flushes.push(t.elapsed().as_secs_f64() * 1e3);
    }
    flushes.sort_by(f64::total_cmp);
    let baseline_flush_p50_ms = percentile(&flushes, 0.5);

    // A tick with the earliest 1000 timers due.
    let due: Vec<_> = store
        .due_timers(DateTime::<Utc>::MAX_UTC)?
        .into_iter()
        .take(1000)
        .collect();
    let last = due.last().map(|(at, _)| *at).unwrap_or(end);
    pipeline.clock = Clock::fixed(last);
    let t = Instant::now();
    let fired = pipeline.tick()?;
    let tick_1000_ms = t.elapsed().as_secs_f64() * 1e3;
    anyhow::ensure!(fired >= 900, "only {fired} timers fired");

    drop(pipeline);
    index.finish();
    drop(store);
    drop(tree);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(QueueFigures {
        incidents: n,
        created_per_sec,
        start_secs,
        next_timer_us,
        timers,
        baseline_scan_secs,
        action_p50_ms,
        action_p99_ms,
        baseline_flush_p50_ms,
        tick_1000_ms,
    })
}
