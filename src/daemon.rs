//! The daemon in phases: prepare (open the store and the index, catch the index up), start
//! (pipeline thread, one poller task per source, the comment follower), run (until a stop signal), shut down
//! (stop polling, finish what is in flight, final index commit, flush).

use crate::config::Loaded;
use crate::incidents::detect::Detector;
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
    pipeline: Option<std::thread::JoinHandle<()>>,
    pub activity: broadcast::Sender<Activity>,
    /// Where the HTTP interface listens, when it is enabled.
    pub api_addr: Option<std::net::SocketAddr>,
    stop_api: CancellationToken,
    api_task: Option<tokio::task::JoinHandle<()>>,
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
    let detector_store = store.clone();
    let incident_settings = loaded.settings.incidents.clone();
    let detector =
        tokio::task::spawn_blocking(move || Detector::load(incident_settings, &detector_store))
            .await?
            .context("loading open incidents")?;

    let (jobs_tx, jobs_rx) = tokio::sync::mpsc::channel(loaded.settings.daemon.queue_capacity);
    let knowledge = Arc::new(loaded.knowledge.clone());
    let pipeline = Pipeline {
        store: store.clone(),
        knowledge: knowledge.clone(),
        org: Arc::new(loaded.org.clone()),
        detector,
        index: index.sender(),
        activity: activity.clone(),
        incident_settings: loaded.settings.incidents.clone(),
    };
    let pipeline = std::thread::Builder::new()
        .name("pipeline".into())
        .spawn(move || pipeline.run(jobs_rx))
        .context("starting the pipeline thread")?;

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
    pollers.close();

    let stop_api = CancellationToken::new();
    let committed = index.committed_handle();
    let cli_token = write_cli_token(&loaded.data_dir);
    let web = crate::web::WebState::new(
        Arc::new(loaded.org.clone()),
        data.index(),
        cli_token.as_deref().map(crate::api::token_hash),
    );
    let api_state = crate::api::AppState {
        store: store.clone(),
        jobs: jobs_tx.clone(),
        knowledge: knowledge.clone(),
        settings: Arc::new(loaded.settings.api.clone()),
        counters: Arc::new(crate::api::Counters::default()),
        committed_seq: Arc::new(move || committed.load(std::sync::atomic::Ordering::Acquire)),
        web: Arc::new(web),
    };
    let api = crate::api::serve(api_state, stop_api.clone()).await?;
    let (api_addr, api_task) = match api {
        Some(server) => (Some(server.addr), Some(server.task)),
        None => (None, None),
    };
    Ok(Running {
        store,
        index,
        stop_polling,
        pollers,
        jobs: Some(jobs_tx),
        pipeline: Some(pipeline),
        activity,
        api_addr,
        stop_api,
        api_task,
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
        self.stop_polling.cancel();
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
        // With the last sender gone the pipeline drains its queue and stops.
        self.jobs.take();
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

/// File in the data directory holding the token the daemon's own command-line tools use to
/// reach its API (`otklik sources` while the daemon runs). Readable by the daemon's user only;
/// a new one is written at every start.
pub const CLI_TOKEN_FILE: &str = "cli-token";

/// Write a fresh CLI token; `None` (and a warning) when the file cannot be written: the API
/// then simply has no local token.
fn write_cli_token(data_dir: &Path) -> Option<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let token = crate::api::new_token().ok()?;
    let path = data_dir.join(CLI_TOKEN_FILE);
    let _ = std::fs::remove_file(&path);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(token.as_bytes()));
    match written {
        Ok(()) => Some(token),
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "cannot write the command-line token");
            None
        }
    }
}

/// Whether `dir` looks like an otklik data directory.
pub fn is_data_dir(dir: &Path) -> bool {
    DataDir::new(dir).store().exists()
}
