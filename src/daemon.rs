//! The daemon in phases: prepare (open the store and the index, catch the index up), start
//! (pipeline thread, one poller task per source, the comment follower), run (until a stop signal), shut down
//! (stop polling, finish what is in flight, final index commit, flush).

use crate::config::Loaded;
use crate::index::{INDEX_DIR, IndexWriterHandle};
use crate::pipeline::{Activity, Pipeline};
use crate::sources::SourceSet;
use crate::sources::comments::CommentFollower;
use crate::sources::poller::Poller;
use crate::store::Store;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Subdirectory of the data directory that holds the store.
pub const STORE_DIR: &str = "store";

/// Where the store and the index of a data directory live.
#[derive(Clone, Debug)]
pub struct DataDir {
    pub root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    pub fn store(&self) -> PathBuf {
        self.root.join(STORE_DIR)
    }

    pub fn index(&self) -> PathBuf {
        self.root.join(INDEX_DIR)
    }
}

/// A started daemon: its stores and tasks.
pub struct Running {
    pub store: Store,
    pub index: IndexWriterHandle,
    stop_polling: CancellationToken,
    pollers: TaskTracker,
    jobs: Option<tokio::sync::mpsc::Sender<crate::pipeline::IngestJob>>,
    /// Requests to the incident queue (user actions, timer ticks).
    pub queue: Option<tokio::sync::mpsc::Sender<crate::pipeline::QueueJob>>,
    stop_timers: CancellationToken,
    timers: Option<tokio::task::JoinHandle<()>>,
    /// What time it is for the daemon.
    pub clock: crate::time::Clock,
    pipeline: Option<std::thread::JoinHandle<()>>,
    pub activity: broadcast::Sender<Activity>,
    data_dir: PathBuf,
    /// The open incidents the pipeline thread keeps (what the queue lists).
    pub open_incidents: crate::incidents::view::OpenIncidents,
    /// Where the HTTP interface listens, when it is enabled.
    pub api_addr: Option<std::net::SocketAddr>,
    stop_api: CancellationToken,
    api_task: Option<tokio::task::JoinHandle<()>>,
    stop_alerts: CancellationToken,
    alerts_task: tokio::task::JoinHandle<()>,
}

/// Open the data directory and start every task. Returns once the daemon is ready.
pub async fn start(
    loaded: &Loaded,
    sources: impl Into<SourceSet>,
    activity: broadcast::Sender<Activity>,
) -> anyhow::Result<Running> {
    let SourceSet {
        pollers: sources,
        comments,
    } = sources.into();
    let data = DataDir::new(&loaded.data_dir);
    let store_dir = data.store();
    let store = tokio::task::spawn_blocking(move || Store::open(&store_dir))
        .await?
        .context("opening the store")?;
    let index_dir = data.index();
    let index_settings = loaded.settings.index.clone();
    let index_store = store.clone();
    let index = tokio::task::spawn_blocking(move || {
        IndexWriterHandle::start(&index_dir, index_store, &index_settings)
    })
    .await?
    .context("opening the search index")?;
    let clock = loaded.clock;
    let pipeline_loaded = loaded.clone();
    let pipeline_store = store.clone();
    let index_sender = index.sender();
    let pipeline_activity = activity.clone();
    let mut pipeline = tokio::task::spawn_blocking(move || {
        Pipeline::new(
            &pipeline_loaded,
            pipeline_store,
            index_sender,
            pipeline_activity,
            clock,
        )
    })
    .await?
    .context("loading open incidents")?;
    let (next_timer_tx, next_timer_rx) = tokio::sync::watch::channel(None);
    pipeline.next_timer = Some(next_timer_tx);
    let open_incidents = pipeline.open.clone();

    let (jobs_tx, jobs_rx) = tokio::sync::mpsc::channel(loaded.settings.daemon.queue_capacity);
    let (queue_tx, queue_rx) = tokio::sync::mpsc::channel(256);
    let knowledge = pipeline.knowledge.clone();
    let pipeline = std::thread::Builder::new()
        .name("pipeline".into())
        .spawn(move || pipeline.run(jobs_rx, queue_rx))
        .context("starting the pipeline thread")?;
    let stop_timers = CancellationToken::new();
    let timers = tokio::spawn(crate::incidents::timers::run(
        clock,
        next_timer_rx,
        queue_tx.clone(),
        stop_timers.clone(),
    ));

    let stop_polling = CancellationToken::new();
    let pollers = TaskTracker::new();
    for source in sources {
        let settings = source
            .poll_settings()
            .unwrap_or_else(|| loaded.settings.poll.clone());
        tracing::info!(source = source.name(), platform = %source.platform(), "polling");
        let poller = Poller {
            source,
            settings,
            store: store.clone(),
            jobs: jobs_tx.clone(),
            knowledge: knowledge.clone(),
            activity: activity.clone(),
        };
        pollers.spawn(poller.run(stop_polling.clone()));
    }
    if !comments.is_empty() && loaded.settings.comments.max_posts_per_round > 0 {
        tracing::info!(
            interval_secs = loaded.settings.comments.interval_secs,
            follow_days = loaded.settings.comments.follow_days,
            "following the comments of incidents' posts"
        );
        let follower = CommentFollower {
            settings: loaded.settings.comments.clone(),
            readers: comments,
            store: store.clone(),
            jobs: jobs_tx.clone(),
            knowledge: knowledge.clone(),
            activity: activity.clone(),
        };
        pollers.spawn(follower.run(stop_polling.clone()));
    }
    let today = loaded.calendar.local_date(clock.now());
    if let Some(missing) = loaded.calendar.production().missing_next_year(today) {
        tracing::warn!(
            year = missing.year,
            days_left = missing.days_left,
            expected = %missing.expected,
            "the production calendar of the coming year is not loaded: without it deadlines \
             cannot be computed from 1 January and the daemon will not start"
        );
    }
    if loaded.settings.reports.weekly_enabled {
        pollers.spawn(crate::reports::schedule::run(
            store.clone(),
            Arc::new(loaded.clone()),
            clock,
            stop_polling.clone(),
        ));
    }
    pollers.close();

    // The outbox's delivery worker: alerts written by the pipeline and the pollers go out
    // from here, never from business logic (invariant 6).
    let stop_alerts = CancellationToken::new();
    let outbox = crate::alerts::Outbox::new(
        store.clone(),
        loaded.settings.alerts.clone(),
        loaded.people.clone(),
        loaded.org.clone(),
        loaded.calendar.clone(),
    )
    .with_clock(clock);
    let alerts_task = tokio::spawn(outbox.run(stop_alerts.clone()));

    let stop_api = CancellationToken::new();
    let control_token = crate::api::new_token().context("making the control token")?;
    let committed = index.committed_handle();
    let web = crate::web::WebState::new(
        Arc::new(loaded.org.clone()),
        loaded.calendar.clone(),
        data.index(),
        Some(crate::api::token_hash(&control_token)),
    );
    let api_state = crate::api::AppState {
        store: store.clone(),
        jobs: jobs_tx.clone(),
        knowledge: knowledge.clone(),
        settings: Arc::new(loaded.settings.api.clone()),
        counters: Arc::new(crate::api::Counters::default()),
        committed_seq: Arc::new(move || committed.load(std::sync::atomic::Ordering::Acquire)),
        web: Arc::new(web),
        queue: queue_tx.clone(),
        control_token_sha: Some(crate::api::token_hash(&control_token)),
        open: open_incidents.clone(),
        clock,
        reports: Some(crate::reports::http::ReportsState {
            store: store.clone(),
            loaded: Arc::new(loaded.clone()),
            clock,
            control_token_sha: Some(crate::api::token_hash(&control_token)),
        }),
    };
    let api = crate::api::serve(api_state, stop_api.clone()).await?;
    let (api_addr, api_task) = match api {
        Some(server) => {
            crate::control::write(&loaded.data_dir, server.addr, &control_token)
                .context("writing the control file for commands")?;
            (Some(server.addr), Some(server.task))
        }
        None => (None, None),
    };
    Ok(Running {
        open_incidents,
        store,
        index,
        stop_polling,
        pollers,
        jobs: Some(jobs_tx),
        queue: Some(queue_tx),
        stop_timers,
        timers: Some(timers),
        clock,
        pipeline: Some(pipeline),
        activity,
        data_dir: loaded.data_dir.clone(),
        api_addr,
        stop_api,
        api_task,
        stop_alerts,
        alerts_task,
    })
}

impl Running {
    /// Stop polling, let in-flight batches become durable, commit the index and flush.
    /// Gives up waiting for pollers after `timeout`: an abandoned fetch loses nothing, since
    /// its cursor never moved.
    pub async fn shutdown(mut self, timeout: Duration) -> anyhow::Result<()> {
        // New pushes are refused; requests already waiting for their posts to be durable
        // are answered, since the pipeline drains its queue before it stops.
        self.stop_api.cancel();
        crate::control::remove(&self.data_dir);
        self.stop_polling.cancel();
        // A send in flight is abandoned: it was not recorded as delivered, so it goes again
        // after the restart with the same idempotency key.
        self.stop_alerts.cancel();
        if (&mut self.alerts_task).await.is_err() {
            tracing::error!("alerts worker panicked");
        }
        if tokio::time::timeout(timeout, self.pollers.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                timeout_secs = timeout.as_secs(),
                "sources did not stop in time; abandoning their polls"
            );
        }
        // The server holds a sender of the pipeline's queue: it must be gone for the queue
        // to close.
        if let Some(mut task) = self.api_task.take()
            && tokio::time::timeout(timeout, &mut task).await.is_err()
        {
            tracing::warn!("api requests did not finish in time; closing them");
            task.abort();
            let _ = task.await;
        }
        self.stop_timers.cancel();
        if let Some(timers) = self.timers.take() {
            let _ = timers.await;
        }
        // With the last sender gone the pipeline drains its queue and stops.
        self.jobs.take();
        self.queue.take();
        let pipeline = self.pipeline.take();
        let index = self.index;
        let store = self.store;
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            if let Some(pipeline) = pipeline
                && pipeline.join().is_err()
            {
                tracing::error!("pipeline thread panicked");
            }
            let seq = index.finish();
            store.flush().context("final flush of the store")?;
            tracing::info!(indexed_up_to = seq, "stopped cleanly");
            Ok(())
        })
        .await?
    }
}

/// Waits for SIGTERM or SIGINT.
pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// Tell systemd we are ready, and keep its watchdog fed while `stop` is not cancelled.
pub fn notify_ready(stop: CancellationToken) {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    if let Some(period) = sd_notify::watchdog_enabled() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period / 2);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => { let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]); }
                }
            }
        });
    }
}

pub fn notify_stopping() {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
}

/// Run the daemon until SIGTERM or SIGINT; a second signal exits at once. `on_ready` sees the
/// started daemon (the demo prints its addresses).
pub async fn run(
    loaded: Loaded,
    sources: impl Into<SourceSet>,
    activity: broadcast::Sender<Activity>,
    on_ready: impl FnOnce(&Running),
) -> anyhow::Result<()> {
    let mut signals = Signals::install().context("installing signal handlers")?;
    let running = start(&loaded, sources, activity).await?;
    on_ready(&running);
    let watchdog = CancellationToken::new();
    notify_ready(watchdog.clone());
    tracing::info!(data_dir = %loaded.data_dir.display(), "otklik is running");
    let signal = signals.recv().await;
    tracing::info!(signal, "stopping");
    notify_stopping();
    let timeout = Duration::from_secs(loaded.settings.daemon.shutdown_timeout_secs);
    let result = tokio::select! {
        result = running.shutdown(timeout) => result,
        signal = signals.recv() => {
            tracing::warn!(signal, "second signal: exiting at once");
            std::process::exit(130);
        }
    };
    watchdog.cancel();
    result
}

/// Whether `dir` looks like an otklik data directory.
pub fn is_data_dir(dir: &Path) -> bool {
    DataDir::new(dir).store().exists()
}
