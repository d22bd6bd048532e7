//! Sources: each platform's reader behind one seam.
//!
//! A [`Source`] knows how to ask its platform for what is new since a cursor. It does no
//! storing and no scheduling: the [`poller`] drives it on its interval, hands its batch to
//! the pipeline, waits until the posts are durable and only then persists the cursor
//! (invariant 2 of ARCHITECTURE.md).

pub mod comments;
pub mod http;
pub mod ok;
pub mod poller;
pub mod rss;
pub mod telegram;
pub mod vk;

use crate::model::{Platform, Post};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed future, so that sources of different kinds can live behind `dyn Source`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Opaque per-source state that says how far the source has been read (ETag,
/// Last-Modified, last seen ids, `next_from` …). Each source defines its own shape.
pub type Cursor = serde_json::Value;

/// What one poll of a source returned.
#[derive(Debug, Default)]
pub struct Batch {
    /// Posts seen in this poll. They may repeat posts delivered before: storing is idempotent.
    pub posts: Vec<Post>,
    /// The cursor to persist once `posts` are durable; `None` keeps the previous one.
    pub cursor: Option<Cursor>,
    /// Whether the source had anything new (drives the adaptive poll interval).
    pub changed: bool,
}

impl Batch {
    /// A batch whose cursor is `cursor` (serialized) and that counts as a change when it holds
    /// posts.
    pub fn new(posts: Vec<Post>, cursor: &impl Serialize) -> Batch {
        Batch {
            changed: !posts.is_empty(),
            posts,
            cursor: Some(serde_json::to_value(cursor).expect("a source cursor serializes to JSON")),
        }
    }
}

/// Why a poll failed, classified by what the poller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Worth retrying after a backoff: transport errors, timeouts, 5xx, a broken reply.
    #[error("{0}")]
    Transient(String),
    /// The platform asks us to wait at least this long (rate limit, Retry-After).
    #[error("{message} (retry after {retry_after:?})")]
    RetryAfter {
        message: String,
        retry_after: Duration,
    },
    /// Retrying cannot help until someone changes the configuration or the platform
    /// lets us in again: the source is disabled with this reason.
    #[error("{0}")]
    Disabled(String),
}

impl SourceError {
    pub fn transient(message: impl Into<String>) -> SourceError {
        SourceError::Transient(message.into())
    }
}

/// One configured reader of one platform.
pub trait Source: Send {
    /// The configured name, unique among sources; keys the cursor and the health record.
    fn name(&self) -> &str;

    fn platform(&self) -> Platform;

    /// This source's own poll settings, overriding the `[poll]` defaults.
    fn poll_settings(&self) -> Option<crate::config::PollSettings> {
        None
    }

    /// Ask the platform for what is new since `cursor` (`None` on the very first poll).
    fn fetch<'a>(
        &'a mut self,
        cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<Batch, SourceError>>;
}

/// Health of a source as the sysadmin and the coordinator see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    Ok,
    /// Recent failures, but the last poll or one of the last few succeeded.
    Degraded,
    /// Several consecutive failures.
    Failing,
    /// Stopped until the configuration changes; `last_error` says why.
    Disabled,
}

impl HealthState {
    pub fn label_ru(self) -> &'static str {
        match self {
            HealthState::Ok => "работает",
            HealthState::Degraded => "с перебоями",
            HealthState::Failing => "не отвечает",
            HealthState::Disabled => "отключён",
        }
    }
}

/// The sources of a configuration and the readers of comments built with them.
pub struct SourceSet {
    /// One poller each.
    pub pollers: Vec<Box<dyn Source>>,
    /// For the comment follower; it shares the VK token clients of `pollers`.
    pub comments: comments::CommentReaders,
}

impl std::ops::Deref for SourceSet {
    type Target = [Box<dyn Source>];

    fn deref(&self) -> &Self::Target {
        &self.pollers
    }
}

/// Sources alone: nobody reads comments.
impl From<Vec<Box<dyn Source>>> for SourceSet {
    fn from(pollers: Vec<Box<dyn Source>>) -> SourceSet {
        SourceSet {
            pollers,
            comments: comments::CommentReaders::default(),
        }
    }
}

/// Build every enabled source of the configuration, sharing one HTTP client, and the
/// readers of comments (sharing the VK token clients, so one budget per token).
pub fn build(loaded: &crate::config::Loaded) -> anyhow::Result<SourceSet> {
    let client = http::HttpClient::new(&loaded.settings.http)?;
    let mut sources = rss::enabled_sources(&loaded.settings.sources.rss, &client);
    sources.extend(telegram::enabled_sources(
        &loaded.settings.sources.telegram,
        &client,
    ));
    sources.extend(ok::enabled_sources(
        loaded.settings.sources.ok.as_ref(),
        &client,
    ));
    let (vk_sources, vk_clients) =
        vk::sources_and_clients(&loaded.settings.sources.vk, &loaded.settings.poll, &client);
    sources.extend(vk_sources);
    let comments = comments::CommentReaders::new(
        &loaded.settings.sources.vk,
        vk_clients,
        loaded.settings.sources.ok.as_ref(),
        &client,
    );
    Ok(SourceSet {
        pollers: sources,
        comments,
    })
}
