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

/// Serde default for switches that are on unless configured off.
pub(crate) fn default_true() -> bool {
    true
}

/// Where a relative path in `file` points: next to that file.
pub fn resolve_relative(file: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    file.parent().unwrap_or(Path::new(".")).join(path)
}

/// Everything `otklik.toml` holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub daemon: DaemonSettings,
    pub files: FileSettings,
    pub index: IndexSettings,
    pub http: HttpSettings,
    pub poll: PollSettings,
    pub incidents: IncidentSettings,
    pub worktime: crate::incidents::calendar::WorktimeSettings,
    pub deadlines: crate::incidents::deadlines::DeadlineSettings,
    pub api: crate::api::ApiSettings,
    pub sources: SourcesSettings,
    pub comments: CommentSettings,
    /// Escalation steps, `[[escalation]]`.
    pub escalation: crate::incidents::escalation::EscalationSettings,
    /// Reports: the weekly note's schedule, links, rating and growth parameters.
    pub reports: crate::reports::ReportSettings,
    /// Alert routing, grouping, quiet hours, retries and channels, `[alerts]`.
    pub alerts: crate::alerts::AlertSettings,
}

/// The daemon process itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonSettings {
    /// Data directory: the store (`store/`) and the search index (`search/`). A relative path
    /// is taken from the directory of the configuration file.
    pub data_dir: PathBuf,
    /// Log format: `text` for a terminal, `json` for log collectors. Under systemd both go
    /// to the journal.
    pub log_format: LogFormat,
    /// Seconds allowed for a clean stop after SIGTERM before the daemon gives up waiting.
    pub shutdown_timeout_secs: u64,
    /// Posts batches waiting between the sources and the pipeline; when full, sources wait.
    pub queue_capacity: usize,
}

impl Default for DaemonSettings {
    fn default() -> DaemonSettings {
        DaemonSettings {
            data_dir: PathBuf::from("../index"),
            log_format: LogFormat::Text,
            shutdown_timeout_secs: 10,
            queue_capacity: 64,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The district's data files. Relative paths are taken from the configuration file's directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileSettings {
    /// Departments, territories and routing rules.
    pub org: PathBuf,
    /// The ИМ topic classifier (tab-separated: group_id, group, topic, department).
    pub taxonomy: PathBuf,
    /// Stems and phrases per topic.
    pub lexicon: PathBuf,
    /// Settlements of the district with their territories.
    pub gazetteer: PathBuf,
    /// Streets and landmarks of the district's town.
    pub streets: PathBuf,
    /// Directory of production calendars, one `calendar-YYYY.toml` per year.
    pub calendar_dir: PathBuf,
    /// Who holds which role, with contacts and substitutes.
    pub people: PathBuf,
}

impl Default for FileSettings {
    fn default() -> FileSettings {
        FileSettings {
            org: "org.toml".into(),
            taxonomy: "taxonomy.tsv".into(),
            lexicon: "lexicon.toml".into(),
            gazetteer: "gazetteer.tsv".into(),
            streets: "streets.tsv".into(),
            calendar_dir: ".".into(),
            people: "people.toml".into(),
        }
    }
}

/// The full-text index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexSettings {
    /// Seconds between commits while posts arrive; a commit makes them searchable.
    pub commit_interval_secs: u64,
    /// Commit early once this many posts wait uncommitted.
    pub commit_max_docs: usize,
    /// Memory for the index writer, megabytes (at least 15 per thread).
    pub writer_memory_mb: usize,
    /// Indexing threads; one gives one segment per commit, which suits a district.
    pub writer_threads: usize,
}

impl Default for IndexSettings {
    fn default() -> IndexSettings {
        IndexSettings {
            commit_interval_secs: 5,
            commit_max_docs: 50_000,
            writer_memory_mb: 64,
            writer_threads: 1,
        }
    }
}

/// Opening incidents from posts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentSettings {
    /// Incidents judged with less confidence than this go to moderation instead of straight
    /// to the responsible department.
    pub moderation_below_score: f32,
    /// An open incident stops collecting new posts after this many hours without a mention
    /// (within it, the same-problem rules decide: a week at the same named place, three days
    /// otherwise).
    pub attach_window_hours: i64,
    /// A new post about the problem of an incident closed less than this many days ago
    /// reopens it (and counts against the owner's completeness); 0 turns this off.
    pub recurrence_days: u32,
    /// Words (lowercase beginnings) by which an official's comment reads as the answer on the
    /// merits («устранено», «выполнены»); a comment without them reads as an interim answer.
    pub answer_merits_words: Vec<String>,
}

impl Default for IncidentSettings {
    fn default() -> IncidentSettings {
        IncidentSettings {
            moderation_below_score: 0.6,
            attach_window_hours: 168,
            recurrence_days: 30,
            answer_merits_words: [
                "устранен",
                "устранён",
                "выполнен",
                "отремонтирован",
                "восстановлен",
                "заменен",
                "заменён",
                "вывезен",
                "убран",
                "очищен",
                "расчищен",
                "засыпан",
                "проведен",
                "проведён",
                "завершен",
                "завершён",
                "установлен",
                "решен",
                "решён",
                "подключен",
                "подключён",
                "исправлен",
                "ликвидирован",
                "демонтирован",
                "покошен",
                "отсыпан",
                "залатан",
                "починен",
                "налажен",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// Reading the comments of posts that became incidents (VK and OK; Telegram channel
/// previews show no comments), for residents' follow-ups and the officials' answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommentSettings {
    /// Seconds between two rounds over the followed posts.
    pub interval_secs: u64,
    /// Days after an incident's last mention during which its posts are still followed
    /// (closed incidents included, while their last mention is that recent).
    pub follow_days: u32,
    /// Most posts read in one round; the others are read in the next rounds, in turn.
    /// 0: comments are not read.
    pub max_posts_per_round: usize,
}

impl Default for CommentSettings {
    fn default() -> CommentSettings {
        CommentSettings {
            interval_secs: 300,
            follow_days: 14,
            max_posts_per_round: 200,
        }
    }
}

/// The configured sources, one list per platform.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourcesSettings {
    pub rss: Vec<RssSourceConfig>,
    /// Public Telegram channels read through t.me/s.
    pub telegram: Vec<crate::sources::telegram::TelegramSourceConfig>,
    /// The OK application and the groups it reads.
    pub ok: Option<crate::sources::ok::OkSettings>,
    /// VK: tokens, community walls and searches.
    pub vk: VkSettings,
}

/// VK (vk.com) read through its API (`reference/wire-formats.md` §1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VkSettings {
    /// Base address of the API; `/method/<name>` is appended. `https://api.vk.com` works too.
    pub api_url: String,
    /// API version sent as `v` with every request.
    pub api_version: String,
    /// Owner ids of the administration's own pages: `-<group id>` for a community, the user
    /// id for an official's personal page. Posts and comments they author are official.
    pub official_owner_ids: Vec<i64>,
    /// Access tokens; each has its own request budget, shared by every source using it.
    pub tokens: Vec<VkTokenConfig>,
    /// Community (or personal) walls read with `wall.get`.
    pub communities: Vec<VkCommunityConfig>,
    /// Searches of all open walls with `newsfeed.search` (place names of the district).
    pub searches: Vec<VkSearchConfig>,
}

impl Default for VkSettings {
    fn default() -> VkSettings {
        VkSettings {
            api_url: "https://api.vk.ru".into(),
            api_version: "5.199".into(),
            official_owner_ids: Vec::new(),
            tokens: Vec::new(),
            communities: Vec::new(),
            searches: Vec::new(),
        }
    }
}

/// What kind of VK access token a token is; it decides the methods allowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VkTokenKind {
    /// The application's service key: open walls only, no `execute`.
    #[default]
    Service,
    /// A user's key: walls that user may see, and `execute` batching.
    User,
    /// A community's key: its own community, and `execute` batching.
    Community,
}

impl VkTokenKind {
    /// Whether `execute` (up to 25 calls in one request) may be used with this kind.
    pub fn can_execute(self) -> bool {
        matches!(self, VkTokenKind::User | VkTokenKind::Community)
    }
}

/// A secret kept out of logs and debug output.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// One VK access token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VkTokenConfig {
    /// Name the communities and searches refer to (`token = "main"`).
    pub name: String,
    /// `service`, `user` or `community`; user and community tokens allow `execute` batching.
    #[serde(default)]
    pub kind: VkTokenKind,
    /// Environment variable that holds the token (preferred: keeps it out of this file).
    #[serde(default)]
    pub env: Option<String>,
    /// The token itself, if it is not taken from the environment.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Requests per second allowed with this token, shared by every source that uses it
    /// (VK allows 3 for user and service keys, 20 for community keys).
    #[serde(default = "default_vk_rps")]
    pub requests_per_second: f64,
}

fn default_vk_rps() -> f64 {
    3.0
}

/// One VK wall (a community's, or a person's), read with `wall.get`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VkCommunityConfig {
    /// Unique name of the source (keys its cursor and health record).
    pub name: String,
    /// Numeric owner of the wall: `-<group id>` for a community, the user id for a person.
    #[serde(default)]
    pub owner_id: Option<i64>,
    /// Short address of a community (`vk.com/<domain>`), resolved with `groups.getById`;
    /// used when `owner_id` is absent.
    #[serde(default)]
    pub domain: Option<String>,
    /// Name of the token to read with; the only configured token when absent.
    #[serde(default)]
    pub token: Option<String>,
    /// Home territory: where the community's posts are from when they name no place.
    #[serde(default)]
    pub territory: Option<String>,
    /// How the community is shown to users; its VK name when absent.
    #[serde(default)]
    pub community: Option<String>,
    /// Posts per `wall.get` page (1 to 100).
    #[serde(default = "default_vk_wall_page")]
    pub page_size: u32,
    /// Most pages read in one poll; with a user or community token the pages after the
    /// first are fetched in one `execute`. After a long stop, what does not fit is read on
    /// the next polls, from where the previous one stopped.
    #[serde(default = "default_vk_max_pages")]
    pub max_pages: u32,
    /// Pages read on the very first poll (older posts are not backfilled).
    #[serde(default = "default_vk_first_pages")]
    pub first_poll_pages: u32,
    /// Overrides of the `[poll]` settings for this wall.
    #[serde(default)]
    pub poll: Option<PollSettings>,
    /// A disabled source is kept in the configuration but not polled.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_vk_wall_page() -> u32 {
    100
}

fn default_vk_max_pages() -> u32 {
    10
}

fn default_vk_first_pages() -> u32 {
    1
}

/// One VK search over all open walls, read with `newsfeed.search`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VkSearchConfig {
    /// Unique name of the source (keys its cursor and health record).
    pub name: String,
    /// The search query, usually a place name of the district («Гаврилов-Ям», «Великое»).
    pub query: String,
    /// Name of the token to search with; the only configured token when absent.
    #[serde(default)]
    pub token: Option<String>,
    /// Territory the query names, given to posts that name no other place.
    #[serde(default)]
    pub territory: Option<String>,
    /// How far back the very first search reaches, hours.
    #[serde(default = "default_vk_lookback")]
    pub lookback_hours: u32,
    /// Posts per `newsfeed.search` page (1 to 200).
    #[serde(default = "default_vk_search_page")]
    pub page_size: u32,
    /// Most pages read in one poll; the rest of the window is read on the next poll.
    #[serde(default = "default_vk_search_pages")]
    pub max_pages: u32,
    /// Overrides of the `[poll]` settings; VK allows about 1000 searches a day per token.
    #[serde(default)]
    pub poll: Option<PollSettings>,
    /// A disabled source is kept in the configuration but not polled.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_vk_lookback() -> u32 {
    24
}

fn default_vk_search_page() -> u32 {
    100
}

fn default_vk_search_pages() -> u32 {
    5
}

impl SourcesSettings {
    /// How many sources of every platform are enabled.
    pub fn enabled_count(&self) -> usize {
        let ok = self
            .ok
            .iter()
            .flat_map(|ok| ok.groups.iter())
            .filter(|g| g.enabled)
            .count();
        self.rss.iter().filter(|s| s.enabled).count()
            + self.telegram.iter().filter(|s| s.enabled).count()
            + ok
            + self.vk.communities.iter().filter(|c| c.enabled).count()
            + self.vk.searches.iter().filter(|c| c.enabled).count()
    }
}

/// A TOML error as a [`ConfigError`] naming the line and, where toml knows it, the key.
pub fn toml_error(file: &Path, text: &str, error: &toml::de::Error) -> ConfigError {
    let key = match error.span() {
        Some(span) => format!(
            "line {}",
            text[..span.start.min(text.len())].lines().count().max(1)
        ),
        None => "-".to_string(),
    };
    ConfigError::new(file, key, error.message().to_string())
}

/// The configuration and every data file it names, loaded and checked together.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The configuration file it came from.
    pub path: PathBuf,
    pub settings: Settings,
    pub org: crate::org::Org,
    pub knowledge: crate::understand::Knowledge,
    /// Working time: the production calendars with the office hours.
    pub calendar: std::sync::Arc<crate::incidents::calendar::WorkCalendar>,
    /// Who holds which role.
    pub people: crate::people::People,
    /// What time it is for the daemon (the system clock unless `OTKLIK_CLOCK` shifts it).
    pub clock: crate::time::Clock,
    /// `daemon.data_dir`, resolved against the configuration file's directory.
    pub data_dir: PathBuf,
}

impl Loaded {
    /// The settings and data shipped in `config/`, compiled in: what `otklik demo` runs on.
    /// No HTTP interface unless the caller asks for one: tests and benchmarks run many
    /// daemons side by side.
    pub fn embedded(data_dir: PathBuf) -> Loaded {
        let mut settings = Settings::default();
        settings.api.listen = String::new();
        // No weekly note into the outbox behind a test's or the demo's back.
        settings.reports.weekly_enabled = false;
        let org = crate::org::Org::embedded();
        Loaded {
            path: PathBuf::from("config/otklik.toml"),
            settings,
            people: crate::people::People::embedded(&org),
            clock: crate::time::Clock::system(),
            org,
            knowledge: crate::understand::Knowledge::embedded(),
            calendar: std::sync::Arc::new(crate::incidents::calendar::WorkCalendar::embedded()),
            data_dir,
        }
    }
}

const ENV_PREFIX: &str = "OTKLIK";

/// Read `path`, apply `OTKLIK__SECTION__KEY` overrides, load every file it names and check
/// the lot. The daemon and `otklik check-config` call exactly this.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            path,
            "-",
            format!("cannot read the configuration file: {e}"),
        )
    })?;
    // Parse the file alone first: toml's errors carry the line, and unknown keys are named.
    toml::from_str::<Settings>(&text).map_err(|e| toml_error(path, &text, &e))?;

    let layered = ::config::Config::builder()
        .add_source(::config::File::from_str(&text, ::config::FileFormat::Toml))
        .add_source(
            ::config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        )
        .build()
        .and_then(|c| c.try_deserialize::<Settings>())
        .map_err(|e| ConfigError::new("environment", env_keys().join(", "), e.to_string()))?;

    let settings = layered;
    validate(path, &settings)?;

    let file = |p: &Path| resolve_relative(path, p);
    let org_path = file(&settings.files.org);
    let org = crate::org::Org::load(&org_path)?;
    let knowledge = crate::understand::Knowledge::load(
        &crate::understand::KnowledgeFiles {
            taxonomy: file(&settings.files.taxonomy),
            lexicon: file(&settings.files.lexicon),
            gazetteer: file(&settings.files.gazetteer),
            streets: file(&settings.files.streets),
        },
        &org.territory_ids(),
    )?;
    org.check_against(&org_path, &knowledge.taxonomy)?;
    let hours = settings.worktime.validate(path)?;
    let calendar_dir = file(&settings.files.calendar_dir);
    let calendar = crate::incidents::calendar::WorkCalendar::load_dir(&calendar_dir, hours)?;
    // Deadlines are computed for incidents opened now: this year's calendar must be there.
    let this_year = chrono::Datelike::year(&chrono::Utc::now().with_timezone(&calendar.timezone()));
    calendar.production().ensure_year(this_year).map_err(|e| {
        ConfigError::new(
            &calendar_dir,
            format!("calendar-{this_year}.toml"),
            e.to_string(),
        )
    })?;
    settings.deadlines.validate(path)?;
    settings.reports.validate(path)?;
    crate::incidents::escalation::validate(&settings.escalation.0, path)?;
    let people = crate::people::People::load(&file(&settings.files.people), &org)?;
    settings.alerts.validate(path, &org, &people)?;
    for group in settings.deadlines.group_ids() {
        if knowledge.taxonomy.group(group).is_none() {
            return Err(ConfigError::new(
                path,
                format!("deadlines.groups.{group}"),
                "unknown topic group; expected a group_id of the taxonomy",
            ));
        }
    }
    for (i, source) in settings.sources.rss.iter().enumerate() {
        if let Some(t) = &source.territory
            && org.territory(t).is_none()
            && t != "district"
        {
            return Err(ConfigError::new(
                path,
                format!("sources.rss[{i}].territory"),
                format!(
                    "unknown territory `{t}`; expected `district` or one of: {}",
                    org.territory_ids().join(", ")
                ),
            ));
        }
    }
    let ok_groups = settings.sources.ok.iter().flat_map(|ok| ok.groups.iter());
    let vk = &settings.sources.vk;
    let territories = (settings.sources.telegram.iter().enumerate())
        .map(|(i, c)| (format!("sources.telegram[{i}].territory"), &c.territory))
        .chain(
            ok_groups
                .enumerate()
                .map(|(i, g)| (format!("sources.ok.groups[{i}].territory"), &g.territory)),
        )
        .chain((vk.communities.iter().enumerate()).map(|(i, c)| {
            (
                format!("sources.vk.communities[{i}].territory"),
                &c.territory,
            )
        }))
        .chain(
            (vk.searches.iter().enumerate())
                .map(|(i, c)| (format!("sources.vk.searches[{i}].territory"), &c.territory)),
        )
        .chain(
            (settings.api.ingest.iter().enumerate())
                .map(|(i, c)| (format!("api.ingest[{i}].territory"), &c.territory)),
        );
    for (key, territory) in territories {
        if let Some(t) = territory
            && org.territory(t).is_none()
            && t != "district"
        {
            return Err(ConfigError::new(
                path,
                key,
                format!(
                    "unknown territory `{t}`; expected `district` or one of: {}",
                    org.territory_ids().join(", ")
                ),
            ));
        }
    }
    let data_dir = resolve_relative(path, &settings.daemon.data_dir);
    Ok(Loaded {
        path: path.to_path_buf(),
        settings,
        org,
        knowledge,
        calendar: std::sync::Arc::new(calendar),
        people,
        clock: crate::time::Clock::from_env()
            .map_err(|e| ConfigError::new("environment", crate::time::CLOCK_ENV, e))?,
        data_dir,
    })
}

/// The override variables present, for error messages.
fn env_keys() -> Vec<String> {
    let prefix = format!("{ENV_PREFIX}__");
    let mut keys: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with(&prefix))
        .collect();
    keys.sort();
    if keys.is_empty() {
        keys.push("-".into());
    }
    keys
}

fn validate(path: &Path, s: &Settings) -> Result<(), ConfigError> {
    let err = |key: &str, problem: String| Err(ConfigError::new(path, key, problem));
    if s.daemon.queue_capacity == 0 {
        return err("daemon.queue_capacity", "expected at least 1".into());
    }
    if s.index.commit_interval_secs == 0 {
        return err(
            "index.commit_interval_secs",
            "expected at least 1 second".into(),
        );
    }
    if s.index.writer_threads == 0 || s.index.writer_threads > 8 {
        return err(
            "index.writer_threads",
            format!("expected 1 to 8, found {}", s.index.writer_threads),
        );
    }
    if s.index.writer_memory_mb < 15 * s.index.writer_threads {
        return err(
            "index.writer_memory_mb",
            format!(
                "expected at least 15 per writer thread ({}), found {}",
                15 * s.index.writer_threads,
                s.index.writer_memory_mb
            ),
        );
    }
    if s.http.max_body_bytes < 1024 {
        return err("http.max_body_bytes", "expected at least 1024 bytes".into());
    }
    if s.http.timeout_secs == 0 {
        return err("http.timeout_secs", "expected at least 1 second".into());
    }
    check_poll(path, "poll", &s.poll)?;
    if s.comments.interval_secs == 0 {
        return err(
            "comments.interval_secs",
            "expected at least 1 second".into(),
        );
    }
    if !(1..=365).contains(&s.comments.follow_days) {
        return err(
            "comments.follow_days",
            format!("expected 1 to 365 days, found {}", s.comments.follow_days),
        );
    }
    if !s.api.listen.is_empty() && s.api.listen.parse::<std::net::SocketAddr>().is_err() {
        return err(
            "api.listen",
            format!(
                "expected an address like 127.0.0.1:8440, found `{}`",
                s.api.listen
            ),
        );
    }
    if s.api.max_body_bytes < 1024 {
        return err("api.max_body_bytes", "expected at least 1024 bytes".into());
    }
    if !(1..=24 * 30).contains(&s.api.session_hours) {
        return err(
            "api.session_hours",
            format!("expected 1 to 720 hours, found {}", s.api.session_hours),
        );
    }
    let mut clients = std::collections::HashSet::new();
    for (i, c) in s.api.ingest.iter().enumerate() {
        if c.name.trim().is_empty() || c.name.contains(char::is_whitespace) || c.name.contains(':')
        {
            return err(
                &format!("api.ingest[{i}].name"),
                format!(
                    "expected a name without spaces or colons, found `{}`",
                    c.name
                ),
            );
        }
        if !clients.insert(c.name.clone()) {
            return err(
                &format!("api.ingest[{i}].name"),
                format!("`{}` is listed twice", c.name),
            );
        }
        if c.token_sha256.len() != 64 || !c.token_sha256.chars().all(|ch| ch.is_ascii_hexdigit()) {
            return err(
                &format!("api.ingest[{i}].token_sha256"),
                "expected 64 hex digits: the SHA-256 of the token, as `otklik token new NAME` prints it".into(),
            );
        }
    }
    let names = &mut std::collections::HashSet::new();
    for (i, src) in s.sources.rss.iter().enumerate() {
        let key = |k: &str| format!("sources.rss[{i}].{k}");
        check_source_name(path, &key("name"), &src.name, names)?;
        match reqwest::Url::parse(&src.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            Ok(u) => {
                return err(
                    &key("url"),
                    format!(
                        "expected an http or https address, found scheme `{}`",
                        u.scheme()
                    ),
                );
            }
            Err(e) => {
                return err(
                    &key("url"),
                    format!("expected an http(s) address, found `{}`: {e}", src.url),
                );
            }
        }
        if let Some(poll) = &src.poll {
            check_poll(path, &key("poll"), poll)?;
        }
    }
    for (i, src) in s.sources.telegram.iter().enumerate() {
        let key = |k: &str| format!("sources.telegram[{i}].{k}");
        check_source_name(path, &key("name"), &src.name, names)?;
        src.check().or_else(|(k, problem)| err(&key(k), problem))?;
        if let Some(poll) = &src.poll {
            check_poll(path, &key("poll"), poll)?;
        }
    }
    if let Some(ok) = &s.sources.ok {
        for (i, group) in ok.groups.iter().enumerate() {
            let key = format!("sources.ok.groups[{i}].name");
            check_source_name(path, &key, &group.name, names)?;
        }
        ok.check()
            .or_else(|(k, problem)| err(&format!("sources.ok.{k}"), problem))?;
        if let Some(poll) = &ok.poll {
            check_poll(path, "sources.ok.poll", poll)?;
        }
    }
    validate_vk(path, &s.sources.vk, names)
}

/// A source name without spaces that no other source uses.
fn check_source_name(
    path: &Path,
    key: &str,
    name: &str,
    names: &mut std::collections::HashSet<String>,
) -> Result<(), ConfigError> {
    if name.trim().is_empty() || name.contains(char::is_whitespace) {
        return Err(ConfigError::new(
            path,
            key,
            format!("expected a name without spaces, found `{name}`"),
        ));
    }
    if name.starts_with(crate::sources::comments::CURSOR_PREFIX) {
        return Err(ConfigError::new(
            path,
            key,
            format!(
                "names starting with `{}` are kept for reading comments, found `{name}`",
                crate::sources::comments::CURSOR_PREFIX
            ),
        ));
    }
    if !names.insert(name.to_string()) {
        return Err(ConfigError::new(
            path,
            key,
            format!("`{name}` is used by another source; names must be unique"),
        ));
    }
    Ok(())
}

fn validate_vk(
    path: &Path,
    vk: &VkSettings,
    names: &mut std::collections::HashSet<String>,
) -> Result<(), ConfigError> {
    let err = |key: String, problem: String| Err(ConfigError::new(path, key, problem));
    match reqwest::Url::parse(&vk.api_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => {
            return err(
                "sources.vk.api_url".into(),
                format!("expected an http(s) address, found `{}`", vk.api_url),
            );
        }
    }
    if vk.api_version.parse::<f64>().is_err() {
        return err(
            "sources.vk.api_version".into(),
            format!(
                "expected a version such as 5.199, found `{}`",
                vk.api_version
            ),
        );
    }
    let mut tokens = std::collections::HashSet::new();
    for (i, t) in vk.tokens.iter().enumerate() {
        let key = |k: &str| format!("sources.vk.tokens[{i}].{k}");
        if t.name.trim().is_empty() || !tokens.insert(t.name.as_str()) {
            return err(
                key("name"),
                format!("expected a unique, non-empty name, found `{}`", t.name),
            );
        }
        if t.env.is_none() == t.token.is_none() {
            return err(
                key("env"),
                "expected exactly one of `env` (an environment variable) or `token`".into(),
            );
        }
        if !(t.requests_per_second.is_finite()
            && t.requests_per_second > 0.0
            && t.requests_per_second <= 100.0)
        {
            return err(
                key("requests_per_second"),
                format!(
                    "expected more than 0 and at most 100, found {}",
                    t.requests_per_second
                ),
            );
        }
    }
    let token_ok = |key: String, token: &Option<String>| -> Result<(), ConfigError> {
        match token {
            Some(name) if tokens.contains(name.as_str()) => Ok(()),
            Some(name) => err(key, format!("no token named `{name}` in sources.vk.tokens")),
            None if vk.tokens.len() == 1 => Ok(()),
            None => err(
                key,
                format!(
                    "expected the name of one of the {} tokens in sources.vk.tokens",
                    vk.tokens.len()
                ),
            ),
        }
    };
    let mut name_ok = |key: String, name: &str| -> Result<(), ConfigError> {
        check_source_name(path, &key, name, names)
    };
    for (i, c) in vk.communities.iter().enumerate() {
        let key = |k: &str| format!("sources.vk.communities[{i}].{k}");
        name_ok(key("name"), &c.name)?;
        token_ok(key("token"), &c.token)?;
        match (&c.owner_id, &c.domain) {
            (Some(0), _) => return err(key("owner_id"), "expected a non-zero id".into()),
            (Some(_), _) => {}
            (None, Some(d))
                if !d.is_empty()
                    && d.chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '.') => {}
            (None, Some(d)) => {
                return err(
                    key("domain"),
                    format!("expected a short address such as `podslushano_gy`, found `{d}`"),
                );
            }
            (None, None) => {
                return err(
                    key("owner_id"),
                    "expected `owner_id` (e.g. -123456) or `domain` (e.g. \"podslushano_gy\")"
                        .into(),
                );
            }
        }
        if !(1..=100).contains(&c.page_size) {
            return err(
                key("page_size"),
                format!("expected 1 to 100, found {}", c.page_size),
            );
        }
        if c.max_pages == 0 || c.first_poll_pages == 0 {
            return err(
                key("max_pages"),
                "expected max_pages and first_poll_pages ≥ 1".into(),
            );
        }
        if let Some(poll) = &c.poll {
            check_poll(path, &key("poll"), poll)?;
        }
    }
    for (i, q) in vk.searches.iter().enumerate() {
        let key = |k: &str| format!("sources.vk.searches[{i}].{k}");
        name_ok(key("name"), &q.name)?;
        token_ok(key("token"), &q.token)?;
        if q.query.trim().is_empty() {
            return err(key("query"), "expected a non-empty search query".into());
        }
        if !(1..=200).contains(&q.page_size) {
            return err(
                key("page_size"),
                format!("expected 1 to 200, found {}", q.page_size),
            );
        }
        if q.max_pages == 0 || q.lookback_hours == 0 {
            return err(
                key("max_pages"),
                "expected max_pages and lookback_hours ≥ 1".into(),
            );
        }
        if let Some(poll) = &q.poll {
            check_poll(path, &key("poll"), poll)?;
        }
    }
    Ok(())
}

fn check_poll(path: &Path, key: &str, p: &PollSettings) -> Result<(), ConfigError> {
    if p.min_interval_secs == 0 {
        return Err(ConfigError::new(
            path,
            format!("{key}.min_interval_secs"),
            "expected at least 1 second",
        ));
    }
    if p.max_interval_secs < p.min_interval_secs {
        return Err(ConfigError::new(
            path,
            format!("{key}.max_interval_secs"),
            format!(
                "expected at least min_interval_secs ({}), found {}",
                p.min_interval_secs, p.max_interval_secs
            ),
        ));
    }
    if p.backoff_initial_secs == 0 || p.backoff_max_secs < p.backoff_initial_secs {
        return Err(ConfigError::new(
            path,
            format!("{key}.backoff_max_secs"),
            "expected backoff_initial_secs ≥ 1 and backoff_max_secs ≥ backoff_initial_secs",
        ));
    }
    if p.failing_after == 0 {
        return Err(ConfigError::new(
            path,
            format!("{key}.failing_after"),
            "expected at least 1",
        ));
    }
    Ok(())
}
