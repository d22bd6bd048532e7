//! Plain domain data shared by every part of the daemon.
//!
//! Wire-format types live at the edges (`sources::*`, `api`); these types are what the
//! pipeline, the store and the index speak.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a post was published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Vk,
    Ok,
    Telegram,
    Rss,
    /// Posts pushed through the ingest endpoint by another collector.
    Ingest,
}

impl Platform {
    pub const ALL: [Platform; 5] = [
        Platform::Vk,
        Platform::Ok,
        Platform::Telegram,
        Platform::Rss,
        Platform::Ingest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Vk => "vk",
            Platform::Ok => "ok",
            Platform::Telegram => "telegram",
            Platform::Rss => "rss",
            Platform::Ingest => "ingest",
        }
    }

    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of a post: the platform and the platform's own id for it.
///
/// Invariant 1 of ARCHITECTURE.md: a post is stored once under this key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PostKey {
    pub platform: Platform,
    pub native_id: String,
}

impl PostKey {
    /// Reads `platform:native_id` (the form of [`PostKey::uid`]).
    pub fn parse(uid: &str) -> Option<PostKey> {
        let (platform, id) = uid.split_once(':')?;
        Some(PostKey::new(Platform::parse(platform)?, id)).filter(|_| !id.is_empty())
    }

    pub fn new(platform: Platform, native_id: impl Into<String>) -> PostKey {
        PostKey {
            platform,
            native_id: native_id.into(),
        }
    }

    /// `platform:native_id`, the form used as the store key and the index's unique term.
    pub fn uid(&self) -> String {
        // Built by hand: it is made several times for every post, and `format!` costs more
        // than the copying.
        let platform = self.platform.as_str();
        let mut uid = String::with_capacity(platform.len() + 1 + self.native_id.len());
        uid.push_str(platform);
        uid.push(':');
        uid.push_str(&self.native_id);
        uid
    }

    pub fn parse_uid(uid: &str) -> Option<PostKey> {
        let (platform, native_id) = uid.split_once(':')?;
        Some(PostKey::new(Platform::parse(platform)?, native_id))
    }
}

impl fmt::Display for PostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.native_id)
    }
}

/// Who wrote a post, as far as the source tells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorKind {
    #[default]
    Resident,
    /// The administration or one of its officials (their answers are not complaints).
    Official,
    Media,
    Business,
}

/// A post as a source delivers it, before any understanding. Absent optional fields are left
/// out of its JSON (it is stored once per post: every byte counts) and read back as `None`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Post {
    pub key: PostKey,
    /// Name of the configured source that delivered it.
    pub source: String,
    /// Link to the original, when the platform has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The page, group, channel or site it appeared in.
    pub community: String,
    /// Home territory of that community (a village group tells where its posts are from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_territory: Option<String>,
    /// Display name of the author; personal data, shown only to roles that need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Link to the author's profile; personal data as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_url: Option<String>,
    pub author_kind: AuthorKind,
    #[serde(serialize_with = "crate::time::serialize_instant")]
    pub published: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::serialize_instant")]
    pub fetched: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub text: String,
    /// For a comment: the key of the post it comments on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<PostKey>,
}

impl Post {
    /// Title and body as one text, the way the understanding step and the index read it.
    pub fn full_text(&self) -> String {
        match &self.title {
            Some(title) if !title.is_empty() && !self.text.starts_with(title.as_str()) => {
                format!("{title}\n{}", self.text)
            }
            _ => self.text.clone(),
        }
    }
}

/// Number of an incident, unique in a data directory, assigned in creation order.
pub type IncidentId = u64;
