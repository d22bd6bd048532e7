//! The full-text index (tantivy): derived data, rebuildable from the store.
//!
//! Invariant 3 of ARCHITECTURE.md: each commit's payload records the highest store sequence
//! number it covers; on start the missing tail is indexed, and `otklik reindex` rebuilds the
//! whole index. Only this module knows tantivy, so moving the index to another engine
//! (Quickwit speaks tantivy) is a swap, not a rewrite.

mod schema;
mod search;
mod writer;

pub use schema::{Fields, RU_ANALYZER, document_for, open_or_create, register_analyzers};
pub use search::{
    DayCount, FacetCount, Facets, Hit, SearchError, SearchRequest, SearchResults, Searcher,
    SortOrder,
};
pub use writer::{CommitPayload, IndexSender, IndexWriterHandle, WriterError};

/// Subdirectory of the data directory that holds the index.
pub const INDEX_DIR: &str = "search";
