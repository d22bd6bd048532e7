//! otklik — finds residents' complaints in open social media and sees that each one reaches the
//! official responsible for it and gets a public answer in time.
//!
//! # Layout
//! - [`sources`]: one reader per platform behind the [`sources::Source`] seam, and the poller.
//! - [`understand`]: pure functions from a post's text to what it is about (no I/O).
//! - [`store`]: the only module that knows sled; posts, cursors, incidents, source health.
//! - [`index`]: the tantivy full-text index, derived from the store.
//! - [`incidents`]: opening and attaching incidents, response clocks on working time.
//! - [`reports`]: the heat map, ratings, weekly note and export for the Head and the ЦУР.
//! - [`daemon`]: wires the tasks together and shuts them down cleanly.
//! - [`api`] and [`web`]: the JSON API and the Russian web pages on one HTTP listener, with
//!   users, sessions and role checks.
//! - [`demo`]: bundled local posts and a loopback feed server that publishes them.
//!
//! ARCHITECTURE.md states the invariants these modules keep.

pub mod alerts;
pub mod allocator;
pub mod api;
pub mod bench;
pub mod config;
pub mod control;
pub mod daemon;
pub mod demo;
pub mod eval;
pub mod incidents;
pub mod index;
pub mod model;
pub mod org;
pub mod people;
pub mod pipeline;
pub mod reindex;
pub mod reports;
pub mod sources;
pub mod store;
pub mod text;
pub mod time;
pub mod understand;
pub mod web;
