//! Settings: `otklik.toml` plus `OTKLIK__SECTION__KEY` environment overrides, and the data
//! files it names (org chart, taxonomy, lexicon, gazetteer, calendar).
//!
//! Invariant 8 of ARCHITECTURE.md: everything district-specific is data, validated at start
//! with errors that name the file, the key and what was expected.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A configuration problem, precise enough for a sysadmin to fix without reading code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {key}: {problem}", file.display())]
pub struct ConfigError {
    /// The file that holds the problem (or `environment` for an override).
    pub file: PathBuf,
    /// The key, section or line (`sources.rss[2].url`, `line 14`).
    pub key: String,
    /// What is wrong and what was expected.
    pub problem: String,
}

impl ConfigError {
    pub fn new(
        file: impl Into<PathBuf>,
        key: impl Into<String>,
        problem: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: file.into(),
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// Exit code for configuration errors (`EX_CONFIG` of sysexits.h).
pub const EXIT_CONFIG: u8 = 78;

/// Limits and identity of every HTTP request the sources make.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// `User-Agent` sent to every platform.
    pub user_agent: String,
    /// Whole-request time limit, seconds.
    pub timeout_secs: u64,
    /// Connection time limit, seconds.
    pub connect_timeout_secs: u64,
    /// Largest response body accepted, bytes; a larger one is an error, not a truncation.
    pub max_body_bytes: u64,
}

impl Default for HttpSettings {
    fn default() -> HttpSettings {
        HttpSettings {
            user_agent: concat!("otklik/", env!("CARGO_PKG_VERSION")).to_string(),
            timeout_secs: 30,
            connect_timeout_secs: 10,
            max_body_bytes: 8 * 1024 * 1024,
        }
    }
}

/// When a source is polled: an interval that adapts between a minimum and a maximum to how
/// often the source changes, and a backoff on failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollSettings {
    /// Shortest interval between polls, seconds (used while the source keeps changing).
    pub min_interval_secs: u64,
    /// Longest interval between polls, seconds (reached while nothing changes).
    pub max_interval_secs: u64,
    /// First retry delay after a failure, seconds; doubles with each failure, with jitter.
    pub backoff_initial_secs: u64,
    /// Longest retry delay after failures, seconds.
    pub backoff_max_secs: u64,
    /// Consecutive failures after which the source counts as failing.
    pub failing_after: u32,
}

impl Default for PollSettings {
    fn default() -> PollSettings {
        PollSettings {
            min_interval_secs: 60,
            max_interval_secs: 900,
            backoff_initial_secs: 10,
            backoff_max_secs: 1800,
            failing_after: 3,
        }
    }
}

/// One RSS or Atom feed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RssSourceConfig {
    /// Unique name of the source (keys its cursor and health record).
    pub name: String,
    /// Address of the feed.
    pub url: String,
    /// Home territory: where the feed's posts are from when they name no place.
    #[serde(default)]
    pub territory: Option<String>,
    /// How the site is shown to users; the feed's own title when absent.
    #[serde(default)]
    pub community: Option<String>,
    /// Who writes the feed: `media` for news sites, `official` for the administration's own.
    #[serde(default = "default_feed_author_kind")]
    pub author_kind: crate::model::AuthorKind,
    /// Overrides of the `[poll]` settings for this feed.
    #[serde(default)]
    pub poll: Option<PollSettings>,
    /// A disabled source is kept in the configuration but not polled.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Time zone (IANA name) assumed for dates in the feed that carry no offset, such as
    /// "26.11.2026 14:05" or "26 ноября 2026, 14:05".
    #[serde(default = "default_feed_timezone", with = "tz_name")]
    pub timezone: chrono_tz::Tz,
}

fn default_feed_timezone() -> chrono_tz::Tz {
    chrono_tz::Europe::Moscow
}

/// A time zone in the configuration, written as its IANA name (`Europe/Moscow`).
mod tz_name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(tz: &chrono_tz::Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<chrono_tz::Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(|_| {
            D::Error::custom(format!(
                "unknown time zone {name:?}, expected an IANA name such as \"Europe/Moscow\""
            ))
        })
    }
}

fn default_feed_author_kind() -> crate::model::AuthorKind {
    crate::model::AuthorKind::Media
}

fn default_true() -> bool {
    true
}

/// Where a relative path in `file` points: next to that file.
pub fn resolve_relative(file: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    file.parent().unwrap_or(Path::new(".")).join(path)
}
