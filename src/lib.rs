//! otklik — finds residents' complaints in open social media and sees that each one reaches the
//! official responsible for it and gets a public answer in time.
//!
//! # Layout
//! - [`sources`]: one reader per platform behind the [`sources::Source`] seam, and the poller.
//! - [`understand`]: pure functions from a post's text to what it is about (no I/O).
//! - [`store`]: the only module that knows sled; posts, cursors, incidents, source health.
//! - [`index`]: the tantivy full-text index, derived from the store.
//! - [`incidents`]: opening and attaching incidents, response clocks on working time.
//! - [`daemon`]: wires the tasks together and shuts them down cleanly.
//!
//! ARCHITECTURE.md states the invariants these modules keep.

pub mod config;
pub mod eval;
pub mod incidents;
pub mod model;
pub mod sources;
pub mod understand;
