//! The demonstration: a bundled set of local posts and a loopback server that publishes them
//! as RSS and Atom feeds over a few minutes, so the whole daemon can be watched at work
//! without touching any real site.
//!
//! - [`dataset`]: the bundled feeds and posts (`demo/feeds.toml`, `demo/posts.jsonl`).
//! - [`feeds`]: the loopback feed server that releases them on a schedule.

pub mod dataset;
pub mod feeds;
