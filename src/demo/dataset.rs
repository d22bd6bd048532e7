//! The bundled demonstration data: a handful of invented local feeds and about eighty posts
//! written for otklik in the voice of Gavrilov-Yam district — complaints (some repeated by
//! several people, a few urgent), the administration's answers, and the ordinary noise of a
//! local feed (adverts, lost pets, congratulations, news from other districts).
//!
//! Both files are compiled into the binary: `demo/feeds.toml` describes the feeds,
//! `demo/posts.jsonl` holds one post per line with the second (from the start of the demo)
//! at which it appears.

use crate::model::AuthorKind;
use serde::Deserialize;
use std::collections::HashSet;
use std::time::Duration;

const FEEDS_TOML: &str = include_str!("../../demo/feeds.toml");
const POSTS_JSONL: &str = include_str!("../../demo/posts.jsonl");

/// Feeds and the posts they publish over the demo.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub feeds: Vec<FeedSpec>,
    /// Posts in order of arrival.
    pub posts: Vec<DemoPost>,
}

/// How the data files describe one feed.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSpec {
    /// Source name, also the feed's path on the loopback server.
    pub name: String,
    /// Title of the feed (the community posts are shown under).
    pub title: String,
    pub description: String,
    /// Home page of the (invented) site.
    pub site: String,
    /// Home territory id (org-chart.md), absent for district-wide feeds.
    #[serde(default)]
    pub territory: Option<String>,
    pub author_kind: AuthorKind,
    pub format: FeedFormat,
    pub encoding: FeedEncoding,
    /// Whether items carry a guid (RSS) — Atom entries always have an id.
    pub guids: bool,
    /// Whether every served link carries a per-request tracking parameter.
    pub tracking: bool,
    /// Whether items carry `yandex:full-text` (RSS only).
    #[serde(default)]
    pub full_text: bool,
    /// How item dates are written (RSS only; Atom dates are always RFC 3339).
    #[serde(default)]
    pub dates: DateStyle,
}

/// How a site writes the dates of its items.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DateStyle {
    /// `Thu, 26 Nov 2026 14:05:00 +0300`, as RSS 2.0 prescribes.
    #[default]
    Rfc2822,
    /// `26.11.2026 14:05`, local time without an offset.
    Numeric,
    /// `26 ноября 2026, 14:05`, local time without an offset.
    Russian,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedFormat {
    Rss,
    Atom,
}

/// The charset a feed is served in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum FeedEncoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "windows-1251")]
    Windows1251,
    #[serde(rename = "koi8-r")]
    Koi8R,
}

impl FeedEncoding {
    /// The name written in the XML declaration and the `Content-Type` charset.
    pub fn label(self) -> &'static str {
        match self {
            FeedEncoding::Utf8 => "utf-8",
            FeedEncoding::Windows1251 => "windows-1251",
            FeedEncoding::Koi8R => "koi8-r",
        }
    }

    pub fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            FeedEncoding::Utf8 => encoding_rs::UTF_8,
            FeedEncoding::Windows1251 => encoding_rs::WINDOWS_1251,
            FeedEncoding::Koi8R => encoding_rs::KOI8_R,
        }
    }
}

/// One post of the demonstration.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoPost {
    /// Unique id, used as the item's guid where the feed has guids.
    pub id: String,
    /// Name of the feed that publishes it.
    pub feed: String,
    /// Seconds from the start of the demo at which the post appears.
    pub offset_secs: u64,
    /// Invented author name.
    pub author: String,
    /// News and official posts have titles; residents' posts do not.
    #[serde(default)]
    pub title: Option<String>,
    pub text: String,
    /// Invented link to the original (an `.example` host).
    pub link: String,
}

impl DemoPost {
    /// When the post appears, from the start of the demo (in simulated time).
    pub fn offset(&self) -> Duration {
        Duration::from_secs(self.offset_secs)
    }
}

/// The bundled files do not describe a consistent dataset.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("demo dataset: {file}: {problem}")]
pub struct DatasetError {
    pub file: &'static str,
    pub problem: String,
}

#[derive(Deserialize)]
struct FeedsFile {
    feed: Vec<FeedSpec>,
}

impl Dataset {
    /// The dataset compiled into the binary.
    pub fn bundled() -> Dataset {
        Dataset::parse(FEEDS_TOML, POSTS_JSONL).expect("the bundled demo dataset is valid")
    }

    /// Read a dataset from the text of a feeds file (TOML) and a posts file (JSON lines),
    /// checking that names and ids are unique and every post belongs to a known feed.
    pub fn parse(feeds_toml: &str, posts_jsonl: &str) -> Result<Dataset, DatasetError> {
        let feeds = toml::from_str::<FeedsFile>(feeds_toml)
            .map_err(|e| DatasetError {
                file: "demo/feeds.toml",
                problem: e.to_string(),
            })?
            .feed;
        let mut names = HashSet::new();
        for feed in &feeds {
            if !names.insert(feed.name.as_str()) {
                return Err(DatasetError {
                    file: "demo/feeds.toml",
                    problem: format!("feed {:?} is declared twice", feed.name),
                });
            }
        }
        let mut posts = Vec::new();
        let mut ids = HashSet::new();
        for (index, line) in posts_jsonl.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let problem = |problem: String| DatasetError {
                file: "demo/posts.jsonl",
                problem: format!("line {}: {problem}", index + 1),
            };
            let post: DemoPost = serde_json::from_str(line).map_err(|e| problem(e.to_string()))?;
            if !names.contains(post.feed.as_str()) {
                return Err(problem(format!("unknown feed {:?}", post.feed)));
            }
            if !ids.insert(post.id.clone()) {
                return Err(problem(format!("post id {:?} is used twice", post.id)));
            }
            posts.push(post);
        }
        posts.sort_by_key(|p| p.offset_secs);
        Ok(Dataset { feeds, posts })
    }

    /// Simulated time from the start until the last post appears.
    pub fn span(&self) -> Duration {
        self.posts.last().map_or(Duration::ZERO, DemoPost::offset)
    }

    pub fn feed(&self, name: &str) -> Option<&FeedSpec> {
        self.feeds.iter().find(|f| f.name == name)
    }

    /// Posts of one feed, in order of arrival.
    pub fn posts_of<'a>(&'a self, feed: &'a str) -> impl Iterator<Item = &'a DemoPost> + 'a {
        self.posts.iter().filter(move |p| p.feed == feed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_dataset_parses_and_is_consistent() {
        let data = Dataset::bundled();
        assert!((3..=5).contains(&data.feeds.len()));
        assert!(data.posts.len() >= 75, "{}", data.posts.len());
        assert!(data.span() >= Duration::from_secs(150) && data.span() <= Duration::from_secs(240));
        for feed in &data.feeds {
            assert!(data.posts_of(&feed.name).count() >= 5, "{}", feed.name);
        }
        assert!(data.feeds.iter().any(|f| f.format == FeedFormat::Atom));
        assert!(
            data.feeds
                .iter()
                .any(|f| f.encoding == FeedEncoding::Windows1251)
        );
        assert!(
            data.feeds
                .iter()
                .any(|f| f.author_kind == AuthorKind::Official)
        );
        for post in &data.posts {
            assert!(post.link.starts_with("https://") && post.link.contains(".example/"));
            assert!(
                post.text.chars().any(|c| ('а'..='я').contains(&c)),
                "{}",
                post.id
            );
        }
    }

    #[test]
    fn inconsistent_data_is_refused_with_the_file_and_line() {
        let feeds = "[[feed]]\nname = \"a\"\ntitle = \"A\"\ndescription = \"\"\nsite = \"https://a.example/\"\n\
                     author_kind = \"media\"\nformat = \"rss\"\nencoding = \"utf-8\"\nguids = true\ntracking = false\n";
        let post = r#"{"id":"1","feed":"b","offset_secs":0,"author":"X","text":"т","link":"https://a.example/1"}"#;
        let error = Dataset::parse(feeds, post).unwrap_err();
        assert_eq!(error.file, "demo/posts.jsonl");
        assert!(error.problem.contains("line 1") && error.problem.contains("\"b\""));
        assert!(Dataset::parse(feeds, &post.replace("\"b\"", "\"a\"")).is_ok());
    }
}
