//! Rebuilding the search index from the store (invariant 3: the index is derived data).

use crate::config::IndexSettings;
use crate::daemon::DataDir;
use crate::index::IndexWriterHandle;
use crate::store::Store;
use anyhow::Context;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct ReindexReport {
    pub posts: u64,
    pub elapsed: Duration,
}

/// Throw the index of `data_dir` away and index every stored post again.
pub fn reindex(data_dir: &Path) -> anyhow::Result<ReindexReport> {
    let started = Instant::now();
    let data = DataDir::new(data_dir);
    if !data.store().exists() {
        anyhow::bail!("no store in {}: nothing to index", data_dir.display());
    }
    let store = Store::open(&data.store())?;
    let index_dir = data.index();
    // Build next to the old index and swap, so a failure leaves the old one usable.
    let fresh = data_dir.join("search.rebuild");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh).with_context(|| format!("removing {}", fresh.display()))?;
    }
    let settings = IndexSettings {
        commit_max_docs: 200_000,
        ..IndexSettings::default()
    };
    let writer = IndexWriterHandle::start(&fresh, store.clone(), &settings)?;
    writer.finish();
    if index_dir.exists() {
        std::fs::remove_dir_all(&index_dir)
            .with_context(|| format!("removing {}", index_dir.display()))?;
    }
    std::fs::rename(&fresh, &index_dir)
        .with_context(|| format!("moving the new index to {}", index_dir.display()))?;
    Ok(ReindexReport {
        posts: store.post_count() as u64,
        elapsed: started.elapsed(),
    })
}
