//! Public Telegram channels, read through their web preview `https://t.me/s/<channel>`
//! (reference/wire-formats.md §3) — no MTProto, no account, no token.
//!
//! The preview page holds only the channel's latest ~20 messages, oldest first. A poll reads
//! the page, then pages back with `?before=<smallest id on the page>` (plain GET, full HTML)
//! until it reaches the last id the cursor remembers — on the first poll until
//! [`TelegramSourceConfig::first_poll_pages`] pages are read — so a burst of posts between two
//! polls is read whole. A poll reads at most [`TelegramSourceConfig::max_pages_per_poll`]
//! pages; a burst beyond that (or a long stop of the daemon) leaves a [`Gap`] in the cursor,
//! which the next polls read with the pages they have left, so nothing is skipped.
//!
//! What the page tells and how it is read:
//!
//! - **Ids** from `data-post="<channel>/<id>"`; the post key is `telegram:<channel>/<id>`
//!   with the channel name lowercased (Telegram usernames are case-insensitive), the link
//!   `https://t.me/<channel>/<id>`.
//! - **Text** from `.tgme_widget_message_text`: `<br>` becomes a line break, emoji images
//!   their characters, a link its text followed by its address in parentheses (hashtags and
//!   mentions stay as they are written). Since 2024 t.me writes `&` inside link addresses
//!   as `&amp;amp;`; the extra escape is undone.
//! - **Dates** from `<time datetime>`; **views** from the display form (`4.4K` → 4400,
//!   `1.2M` → 1 200 000); **edited** from the `edited` word in the message meta.
//! - **No public preview**: t.me answers `/s/<name>` for an unknown or private channel, a
//!   group or a bot with a redirect to `t.me/<name>` (or to its main page). The redirect is
//!   followed and recognised by where it ended, and the source is disabled with the reason.
//! - **Broken pages**: a page cut short before `</html>` is refused (a truncated older page
//!   would otherwise let the cursor jump over the posts it lost); a page without the channel
//!   history is refused as "not a channel preview" (a block page, changed markup).
//!
//! The poll interval defaults to [`DEFAULT_POLL`] (1 to 5 minutes) rather than the global
//! `[poll]`: a busy channel that posts more than 20 messages between two polls costs extra
//! page requests, so it is polled often enough that one page usually holds all that is new.

use super::http::HttpClient;
use super::{Batch, BoxFuture, Cursor, Source, SourceError};
use crate::config::PollSettings;
use crate::model::{AuthorKind, Platform, Post, PostKey};
use chrono::{DateTime, Utc};
use scraper::{ElementRef, Html, Node, Selector};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// Where public channel previews live.
pub const DEFAULT_BASE_URL: &str = "https://t.me";

/// Unread ranges a cursor keeps at most; a channel that outruns its polls this often has a
/// `max_pages_per_poll` far too small, and the oldest ranges are given up.
const MAX_GAPS: usize = 20;

/// Poll settings of a channel without its own `poll` table: every minute while it keeps
/// posting, at most every five minutes while quiet.
pub const DEFAULT_POLL: PollSettings = PollSettings {
    min_interval_secs: 60,
    max_interval_secs: 300,
    backoff_initial_secs: 30,
    backoff_max_secs: 1800,
    failing_after: 3,
};

/// One public Telegram channel (`[[sources.telegram]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramSourceConfig {
    /// Unique name of the source (keys its cursor and health record).
    pub name: String,
    /// The channel's public username, without `@` or `https://t.me/` (`gavyam_news`).
    pub channel: String,
    /// Where the previews are served; only a test or the demo changes it.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Home territory: where the channel's posts are from when they name no place.
    #[serde(default)]
    pub territory: Option<String>,
    /// How the channel is shown to users; the channel's own title when absent.
    #[serde(default)]
    pub community: Option<String>,
    /// Who writes the channel: `resident` for «Подслушано»-style channels that repost
    /// residents' messages (the default), `media` for news, `official` for the administration.
    #[serde(default)]
    pub author_kind: AuthorKind,
    /// Pages of 20 messages read back on the very first poll (how much history to take in).
    #[serde(default = "default_first_poll_pages")]
    pub first_poll_pages: u32,
    /// Most pages read on a later poll. A burst larger than this (or a long stop of the
    /// daemon) is read over the next polls: the cursor keeps the range still unread.
    #[serde(default = "default_max_pages_per_poll")]
    pub max_pages_per_poll: u32,
    /// Overrides of the poll settings; without it [`DEFAULT_POLL`] applies, not `[poll]`.
    #[serde(default)]
    pub poll: Option<PollSettings>,
    /// A disabled source is kept in the configuration but not polled.
    #[serde(default = "crate::config::default_true")]
    pub enabled: bool,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

fn default_first_poll_pages() -> u32 {
    5
}

fn default_max_pages_per_poll() -> u32 {
    25
}

impl TelegramSourceConfig {
    /// A configuration for `channel` with every optional key at its default.
    pub fn new(name: impl Into<String>, channel: impl Into<String>) -> TelegramSourceConfig {
        TelegramSourceConfig {
            name: name.into(),
            channel: channel.into(),
            base_url: default_base_url(),
            territory: None,
            community: None,
            author_kind: AuthorKind::default(),
            first_poll_pages: default_first_poll_pages(),
            max_pages_per_poll: default_max_pages_per_poll(),
            poll: None,
            enabled: true,
        }
    }

    /// Check what can be checked without the org chart: the channel name, the base URL and
    /// the page limits. The error is `(key, problem)`, the key relative to this table.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let valid_channel = (4..=64).contains(&self.channel.len())
            && self
                .channel
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_channel {
            return Err((
                "channel",
                format!(
                    "expected a public channel username (letters, digits, `_`, without `@` or \
                     https://t.me/), found `{}`",
                    self.channel
                ),
            ));
        }
        match reqwest::Url::parse(&self.base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => {
                return Err((
                    "base_url",
                    format!(
                        "expected an http(s) address such as {DEFAULT_BASE_URL}, found `{}`",
                        self.base_url
                    ),
                ));
            }
        }
        if self.first_poll_pages == 0 {
            return Err(("first_poll_pages", "expected at least 1".into()));
        }
        if self.max_pages_per_poll == 0 {
            return Err(("max_pages_per_poll", "expected at least 1".into()));
        }
        Ok(())
    }
}

/// What a Telegram source remembers between polls.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TelegramCursor {
    /// The largest message id delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_id: Option<u64>,
    /// Publication time of that message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<DateTime<Utc>>,
    /// Ranges of ids not read yet because a poll ran out of pages before reaching the last
    /// id seen (a burst bigger than `max_pages_per_poll` pages, a long stop); later polls
    /// read them with the pages they have left, oldest range first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
}

/// Message ids strictly between `after` and `before`, not read yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    pub after: u64,
    pub before: u64,
}

/// What paging back from one point found.
struct ReadBack {
    title: Option<String>,
    /// Messages above the floor, by id.
    messages: BTreeMap<u64, ChannelMessage>,
    pages: u32,
    /// Where reading stopped for lack of pages before reaching the floor: the `before` to
    /// continue from.
    unfinished: Option<u64>,
}

/// One configured public channel.
pub struct TelegramSource {
    cfg: TelegramSourceConfig,
    client: HttpClient,
}

/// A source for every enabled channel of `channels`, all sharing `client`.
pub fn enabled_sources(
    channels: &[TelegramSourceConfig],
    client: &HttpClient,
) -> Vec<Box<dyn Source>> {
    channels
        .iter()
        .filter(|c| c.enabled)
        .map(|c| Box::new(TelegramSource::new(c, client.clone())) as Box<dyn Source>)
        .collect()
}

impl TelegramSource {
    pub fn new(cfg: &TelegramSourceConfig, client: HttpClient) -> TelegramSource {
        TelegramSource {
            cfg: cfg.clone(),
            client,
        }
    }

    /// The preview page, the newest one or the one before message `before`.
    pub fn page_url(&self, before: Option<u64>) -> String {
        let base = self.cfg.base_url.trim_end_matches('/');
        match before {
            Some(id) => format!("{base}/s/{}?before={id}", self.cfg.channel),
            None => format!("{base}/s/{}", self.cfg.channel),
        }
    }

    async fn fetch_page(&self, before: Option<u64>) -> Result<ChannelPage, SourceError> {
        let name = self.cfg.name.as_str();
        let url = self.page_url(before);
        let fetched = self.client.get(name, &url).await?;
        if !is_same_page(&url, &fetched.url) {
            return Err(SourceError::Disabled(format!(
                "source {name}: {url} redirected to {}: the channel @{} has no public web \
                 preview (it does not exist, is private, is a group or a bot, or Telegram \
                 excludes it from t.me/s); check `channel` in the configuration",
                fetched.url, self.cfg.channel
            )));
        }
        let body = fetched.body;
        tokio::task::spawn_blocking(move || parse_page(&String::from_utf8_lossy(&body)))
            .await
            .map_err(|e| {
                SourceError::transient(format!("source {name}: the page parser failed: {e}"))
            })?
            .map_err(|e| SourceError::transient(format!("source {name}: the page {url} {e}")))
    }

    async fn poll(&self, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        let name = self.cfg.name.as_str();
        let previous: TelegramCursor = match cursor {
            None => TelegramCursor::default(),
            Some(value) => serde_json::from_value(value.clone()).unwrap_or_else(|e| {
                tracing::warn!(source = name, error = %e, "unreadable telegram cursor, reading the channel afresh");
                TelegramCursor::default()
            }),
        };
        let page_limit = match previous.last_id {
            None => self.cfg.first_poll_pages,
            Some(_) => self.cfg.max_pages_per_poll,
        }
        .max(1);
        let fetched_at = Utc::now();
        let head = self.read_back(None, previous.last_id, page_limit).await?;
        let title = head.title;
        let mut new = head.messages;
        let mut pages = head.pages;
        let mut gaps = previous.gaps.clone();
        if let (Some(last), Some(before)) = (previous.last_id, head.unfinished) {
            tracing::warn!(
                source = name,
                last_seen = last,
                read_down_to = before,
                "more new messages than max_pages_per_poll pages hold; the rest is read on the next polls"
            );
            gaps.push(Gap {
                after: last,
                before,
            });
        }
        // Older gaps first, with the pages left.
        gaps.retain(|g| g.before > g.after + 1);
        gaps.sort_by_key(|g| g.after);
        if gaps.len() > MAX_GAPS {
            let dropped = gaps.len() - MAX_GAPS;
            tracing::warn!(
                source = name,
                dropped,
                "too many unread ranges; the oldest are given up"
            );
            gaps.drain(..dropped);
        }
        let mut open = Vec::new();
        for gap in gaps {
            if pages >= page_limit {
                open.push(gap);
                continue;
            }
            let found = self
                .read_back(Some(gap.before), Some(gap.after), page_limit - pages)
                .await?;
            pages += found.pages;
            for (id, message) in found.messages {
                if id < gap.before {
                    new.entry(id).or_insert(message);
                }
            }
            if let Some(before) = found.unfinished {
                open.push(Gap {
                    after: gap.after,
                    before,
                });
            }
        }

        let community = self
            .cfg
            .community
            .clone()
            .or(title)
            .unwrap_or_else(|| format!("@{}", self.cfg.channel));
        let mut next_cursor = previous.clone();
        next_cursor.gaps = open;
        let mut posts = Vec::new();
        for message in new.values() {
            if next_cursor.last_id.is_none_or(|l| message.id > l) {
                next_cursor.last_id = Some(message.id);
                next_cursor.newest = message.published.or(next_cursor.newest);
            }
            // Service messages and media without a caption carry nothing to understand.
            if message.text.trim().is_empty() {
                continue;
            }
            posts.push(self.post(message, &community, fetched_at));
        }
        tracing::debug!(
            source = name,
            pages,
            new = new.len(),
            posts = posts.len(),
            "channel read"
        );
        let changed = next_cursor != previous;
        Ok(Batch {
            posts,
            cursor: changed
                .then(|| serde_json::to_value(&next_cursor).expect("telegram cursor serializes")),
            changed,
        })
    }

    /// Page back from `before` (the newest page when `None`) until a page reaches `floor`
    /// (the last id already read) or the channel's start, reading at most `limit` pages.
    async fn read_back(
        &self,
        start: Option<u64>,
        floor: Option<u64>,
        limit: u32,
    ) -> Result<ReadBack, SourceError> {
        let mut found = ReadBack {
            title: None,
            messages: BTreeMap::new(),
            pages: 0,
            unfinished: None,
        };
        let mut before = start;
        loop {
            let page = self.fetch_page(before).await?;
            found.pages += 1;
            if found.title.is_none() {
                found.title = page.title.clone();
            }
            let smallest = page.messages.iter().map(|m| m.id).min();
            for message in page.messages {
                if floor.is_none_or(|f| message.id > f) {
                    found.messages.entry(message.id).or_insert(message);
                }
            }
            let Some(smallest) = smallest else { break };
            if floor.is_some_and(|f| smallest <= f + 1) {
                break;
            }
            // The page's own "load more" link, else the smallest id; it must go back, or a
            // page that repeats itself would be read forever.
            let next = page.before.unwrap_or(smallest).min(smallest);
            if next <= 1 || before.is_some_and(|b| next >= b) {
                break;
            }
            if found.pages >= limit {
                found.unfinished = Some(next);
                break;
            }
            before = Some(next);
        }
        Ok(found)
    }

    fn post(&self, message: &ChannelMessage, community: &str, fetched: DateTime<Utc>) -> Post {
        Post {
            key: PostKey::new(
                Platform::Telegram,
                format!("{}/{}", message.channel.to_ascii_lowercase(), message.id),
            ),
            source: self.cfg.name.clone(),
            url: Some(format!("https://t.me/{}/{}", message.channel, message.id)),
            community: community.to_string(),
            community_territory: self.cfg.territory.clone(),
            author: message.author.clone(),
            author_url: None,
            author_kind: self.cfg.author_kind,
            published: message.published.unwrap_or(fetched),
            fetched,
            title: None,
            text: message.text.clone(),
            parent: None,
        }
    }
}

impl Source for TelegramSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    fn poll_settings(&self) -> Option<PollSettings> {
        Some(self.cfg.poll.clone().unwrap_or(DEFAULT_POLL))
    }

    fn fetch<'a>(
        &'a mut self,
        cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<Batch, SourceError>> {
        Box::pin(self.poll(cursor))
    }
}

/// Whether the response from `requested` came from the same preview page (a redirect to
/// `t.me/<name>` or the main page means there is no public preview).
fn is_same_page(requested: &str, landed: &str) -> bool {
    let (Ok(a), Ok(b)) = (reqwest::Url::parse(requested), reqwest::Url::parse(landed)) else {
        return false;
    };
    a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path()
            .trim_end_matches('/')
            .eq_ignore_ascii_case(b.path().trim_end_matches('/'))
}

// ---------------------------------------------------------------------------------------
// The page

/// A channel preview page reduced to what the daemon uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelPage {
    /// The channel's title from its header (else `og:title`).
    pub title: Option<String>,
    /// The channel's username from its header, without `@`.
    pub username: Option<String>,
    /// Messages in page order (oldest first).
    pub messages: Vec<ChannelMessage>,
    /// The id to page back from (`rel="prev"` or "load more"); `None` at the channel's start.
    pub before: Option<u64>,
}

/// One message of a channel page, in plain text.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelMessage {
    /// The channel part of `data-post`, as t.me writes it.
    pub channel: String,
    /// The message id within the channel.
    pub id: u64,
    /// Plain text; links as "text (address)". Empty for media without a caption.
    pub text: String,
    pub published: Option<DateTime<Utc>>,
    /// Views, from the display form ("4.4K" → 4400).
    pub views: Option<u64>,
    /// Whether the meta says "edited".
    pub edited: bool,
    /// The signature of a signed post.
    pub author: Option<String>,
    /// Link addresses in the text, `&amp;` undone, in order.
    pub links: Vec<String>,
}

/// Why a page could not be read. Displayed after "the page `<url>` ".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PageError {
    #[error("ends before </html> (truncated reply)")]
    Truncated,
    #[error(
        "is not a channel preview (no channel header or message history; Telegram may have \
         changed its markup or served a block page)"
    )]
    NotAChannelPage,
}

macro_rules! selector {
    ($name:ident, $css:expr) => {
        static $name: LazyLock<Selector> =
            LazyLock::new(|| Selector::parse($css).expect("valid selector"));
    };
}

selector!(SEL_TITLE, ".tgme_channel_info_header_title");
selector!(SEL_USERNAME, ".tgme_channel_info_header_username");
selector!(SEL_OG_TITLE, r#"meta[property="og:title"]"#);
selector!(SEL_HISTORY, ".tgme_channel_history");
selector!(SEL_INFO, ".tgme_channel_info");
selector!(SEL_PREV, r#"link[rel="prev"]"#);
selector!(SEL_MORE, ".tme_messages_more");
selector!(SEL_MESSAGE, ".tgme_widget_message[data-post]");
selector!(SEL_TEXT, ".tgme_widget_message_text");
selector!(SEL_VIEWS, ".tgme_widget_message_views");
selector!(SEL_META, ".tgme_widget_message_meta");
selector!(SEL_TIME, ".tgme_widget_message_date time[datetime]");
selector!(SEL_AUTHOR, ".tgme_widget_message_from_author");
selector!(SEL_SERVICE, ".service_message");

/// Parse a `t.me/s/<channel>` page.
pub fn parse_page(html: &str) -> Result<ChannelPage, PageError> {
    let tail = &html.as_bytes()[html.len().saturating_sub(256)..];
    if !String::from_utf8_lossy(tail)
        .to_ascii_lowercase()
        .contains("</html>")
    {
        return Err(PageError::Truncated);
    }
    let document = Html::parse_document(html);
    let has_history = document.select(&SEL_HISTORY).next().is_some();
    let has_info = document.select(&SEL_INFO).next().is_some();
    if !has_history && !has_info {
        return Err(PageError::NotAChannelPage);
    }
    let title = document
        .select(&SEL_TITLE)
        .next()
        .map(|e| squash(&e.text().collect::<String>()))
        .filter(|t| !t.is_empty())
        .or_else(|| {
            document
                .select(&SEL_OG_TITLE)
                .next()
                .and_then(|e| e.value().attr("content"))
                .map(squash)
                .filter(|t| !t.is_empty())
        });
    let username = document
        .select(&SEL_USERNAME)
        .next()
        .map(|e| squash(&e.text().collect::<String>()))
        .map(|u| u.trim_start_matches('@').to_string())
        .filter(|u| !u.is_empty());
    let before = document
        .select(&SEL_PREV)
        .filter_map(|e| e.value().attr("href"))
        .chain(
            document
                .select(&SEL_MORE)
                .filter_map(|e| e.value().attr("href")),
        )
        .find_map(before_param);
    let messages = document
        .select(&SEL_MESSAGE)
        .filter_map(parse_message)
        .collect();
    Ok(ChannelPage {
        title,
        username,
        messages,
        before,
    })
}

/// The `before` value of a paging link (`/s/ch?before=1491`); an empty one means none.
fn before_param(href: &str) -> Option<u64> {
    let query = href.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "before")
        .and_then(|(_, v)| v.parse().ok())
}

fn parse_message(element: ElementRef<'_>) -> Option<ChannelMessage> {
    let (channel, id) = element.value().attr("data-post")?.rsplit_once('/')?;
    let id: u64 = id.trim().parse().ok()?;
    if channel.is_empty() {
        return None;
    }
    // A service message ("channel photo updated", "pinned …") keeps its id, so paging counts
    // it, but has no text to understand.
    let is_service = element
        .value()
        .classes()
        .any(|c| c == "service_message" || c == "tgme_widget_message_service")
        || element.select(&SEL_SERVICE).next().is_some();
    let mut links = Vec::new();
    let text = if is_service {
        String::new()
    } else {
        element
            .select(&SEL_TEXT)
            .find(|t| !inside_quote(*t, element))
            .map(|t| message_text(t, &mut links))
            .unwrap_or_default()
    };
    let published = element
        .select(&SEL_TIME)
        .next()
        .and_then(|t| t.value().attr("datetime"))
        .and_then(|d| DateTime::parse_from_rfc3339(d.trim()).ok())
        .map(|d| d.with_timezone(&Utc));
    let views = element
        .select(&SEL_VIEWS)
        .next()
        .and_then(|v| parse_views(&v.text().collect::<String>()));
    let edited = element.select(&SEL_META).next().is_some_and(|meta| {
        meta.text()
            .collect::<String>()
            .trim_start()
            .to_lowercase()
            .starts_with("edited")
    });
    let author = element
        .select(&SEL_AUTHOR)
        .next()
        .map(|a| squash(&a.text().collect::<String>()))
        .filter(|a| !a.is_empty());
    Some(ChannelMessage {
        channel: channel.trim().to_string(),
        id,
        text,
        published,
        views,
        edited,
        author,
        links,
    })
}

/// Whether `text` belongs to a quoted reply or a link preview rather than the message.
fn inside_quote(text: ElementRef<'_>, message: ElementRef<'_>) -> bool {
    text.ancestors()
        .take_while(|n| n.id() != message.id())
        .filter_map(ElementRef::wrap)
        .any(|e| {
            e.value().classes().any(|c| {
                c == "tgme_widget_message_reply" || c == "tgme_widget_message_link_preview"
            })
        })
}

/// The message text: `<br>` and blocks as line breaks, links as "text (address)".
fn message_text(element: ElementRef<'_>, links: &mut Vec<String>) -> String {
    let mut out = String::new();
    write_text(element, &mut out, links);
    let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    let mut text = String::new();
    let mut blank = 0;
    for line in lines {
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !text.is_empty() {
            text.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        text.push_str(line.trim_start());
    }
    text
}

fn write_text(element: ElementRef<'_>, out: &mut String, links: &mut Vec<String>) {
    for child in element.children() {
        match child.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(e) => {
                let Some(child) = ElementRef::wrap(child) else {
                    continue;
                };
                match e.name() {
                    "br" => out.push('\n'),
                    "a" => write_link(child, out, links),
                    "script" | "style" | "template" => {}
                    "div" | "p" | "blockquote" | "pre" | "li" => {
                        out.push('\n');
                        write_text(child, out, links);
                        out.push('\n');
                    }
                    _ => write_text(child, out, links),
                }
            }
            _ => {}
        }
    }
}

fn write_link(link: ElementRef<'_>, out: &mut String, links: &mut Vec<String>) {
    let mut inner = String::new();
    write_text(link, &mut inner, links);
    let label = inner.trim();
    let href = link.value().attr("href").map(undo_amp_quirk);
    match href {
        Some(href) if href.starts_with("http://") || href.starts_with("https://") => {
            links.push(href.clone());
            let bare = |s: &str| {
                s.trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .trim_start_matches("www.")
                    .trim_end_matches('/')
                    .to_string()
            };
            // t.me shortens long addresses in the label with "…".
            let shown = bare(label.trim_end_matches('…').trim_end_matches("..."));
            let is_mention = label.starts_with('@') || label.starts_with('#');
            if label.is_empty() || (!shown.is_empty() && bare(&href).starts_with(&shown)) {
                out.push_str(&href);
            } else if is_mention {
                out.push_str(label);
            } else {
                out.push_str(&inner);
                out.push_str(" (");
                out.push_str(&href);
                out.push(')');
            }
        }
        // Hashtag searches (`?q=%23…`) and other links within t.me: the label says it all.
        _ => out.push_str(&inner),
    }
}

/// Since about April 2024 t.me escapes `&` in link addresses twice, so the parsed attribute
/// still reads `&amp;`.
pub fn undo_amp_quirk(href: &str) -> String {
    href.trim().replace("&amp;", "&")
}

/// Views as t.me displays them: "830", "4.4K", "1.2M", "12,5K".
pub fn parse_views(shown: &str) -> Option<u64> {
    let s = shown.trim().replace(',', ".");
    let (number, factor) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1e3),
        'M' | 'm' => (&s[..s.len() - 1], 1e6),
        'B' | 'b' => (&s[..s.len() - 1], 1e9),
        _ => (s.as_str(), 1.0),
    };
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| (value * factor).round() as u64)
}

/// Whitespace runs as single spaces, trimmed.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fixture E of reference/wire-formats.md §3.4, verbatim.
    pub const FIXTURE_E: &str = include_str!("../../tests/data/telegram_fixture_e.html");

    #[test]
    fn fixture_e_is_read() {
        let page = parse_page(FIXTURE_E).unwrap();
        assert_eq!(page.title.as_deref(), Some("Новости Центрального района"));
        assert_eq!(page.username.as_deref(), Some("central_news"));
        assert_eq!(page.before, Some(1491));
        assert_eq!(page.messages.len(), 2);
        let first = &page.messages[0];
        assert_eq!((first.channel.as_str(), first.id), ("central_news", 1491));
        assert_eq!(
            first.text,
            "Внимание!\nНа ул. Ленина, 15 открыт люк ⚠️\n#ЖКХ"
        );
        assert_eq!(first.views, Some(4400));
        assert!(!first.edited);
        assert_eq!(
            first.published,
            Some("2024-06-19T14:00:04Z".parse().unwrap())
        );
        let second = &page.messages[1];
        assert_eq!(second.id, 1492);
        assert_eq!(second.text, "Отключение воды 20.06 с 9:00 до 18:00");
        assert_eq!(second.views, Some(1200));
        assert!(second.edited);
    }

    #[test]
    fn views_in_display_units() {
        assert_eq!(parse_views("4.4K"), Some(4400));
        assert_eq!(parse_views("1.2M"), Some(1_200_000));
        assert_eq!(parse_views("1.1M"), Some(1_100_000));
        assert_eq!(parse_views(" 830 "), Some(830));
        assert_eq!(parse_views("12,5K"), Some(12_500));
        assert_eq!(parse_views("views"), None);
        assert_eq!(parse_views(""), None);
    }

    #[test]
    fn links_keep_text_and_address_and_the_amp_quirk_is_undone() {
        let html = r#"<html><body><section class="tgme_channel_history">
<div class="tgme_widget_message" data-post="gy/7"><div class="tgme_widget_message_text">Схема: <a href="https://gy.ru/map?a=1&amp;amp;b=2" onclick="return confirm()">карта</a>, <a href="https://gy.ru/x">gy.ru/x</a>, <a href="https://t.me/gy_admin">@gy_admin</a>, <a href="?q=%23ЖКХ">#ЖКХ</a></div></div>
</section></body></html>"#;
        let page = parse_page(html).unwrap();
        let m = &page.messages[0];
        assert_eq!(
            m.text,
            "Схема: карта (https://gy.ru/map?a=1&b=2), https://gy.ru/x, @gy_admin, #ЖКХ"
        );
        assert_eq!(
            m.links,
            vec![
                "https://gy.ru/map?a=1&b=2",
                "https://gy.ru/x",
                "https://t.me/gy_admin"
            ]
        );
    }

    #[test]
    fn service_messages_keep_their_id_without_text() {
        let html = r#"<html><body><section class="tgme_channel_history">
<div class="tgme_widget_message service_message" data-post="gy/9"><div class="tgme_widget_message_text">Channel photo updated</div></div>
<div class="tgme_widget_message" data-post="gy/10"><div class="message_media_service_message service_message">pinned</div></div>
</section></body></html>"#;
        let page = parse_page(html).unwrap();
        let ids: Vec<u64> = page.messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, [9, 10]);
        assert!(page.messages.iter().all(|m| m.text.is_empty()));
    }

    #[test]
    fn quoted_replies_are_not_the_message_text() {
        let html = r#"<html><body><section class="tgme_channel_history">
<div class="tgme_widget_message" data-post="gy/8"><div class="tgme_widget_message_bubble">
<a class="tgme_widget_message_reply"><div class="tgme_widget_message_text">старое</div></a>
<div class="tgme_widget_message_text">новое</div></div></div>
</section></body></html>"#;
        assert_eq!(parse_page(html).unwrap().messages[0].text, "новое");
    }

    #[test]
    fn truncated_and_foreign_pages_are_refused() {
        let cut = &FIXTURE_E[..FIXTURE_E.len() / 2];
        assert_eq!(parse_page(cut), Err(PageError::Truncated));
        assert_eq!(
            parse_page("<html><body><div class=\"tgme_page\">Open in Telegram</div></body></html>"),
            Err(PageError::NotAChannelPage)
        );
    }

    #[test]
    fn paging_links() {
        assert_eq!(before_param("/s/central_news?before=1491"), Some(1491));
        assert_eq!(before_param("/s/durov?before="), None);
        assert_eq!(before_param("/s/durov?after=3&before=12"), Some(12));
        assert_eq!(before_param("/s/durov"), None);
    }

    #[test]
    fn only_the_same_preview_page_counts() {
        assert!(is_same_page("https://t.me/s/gy", "https://t.me/s/gy"));
        assert!(is_same_page(
            "https://t.me/s/gy?before=5",
            "https://t.me/s/GY?before=5"
        ));
        assert!(!is_same_page("https://t.me/s/gy", "https://t.me/gy"));
        assert!(!is_same_page("https://t.me/s/gy", "https://t.me/"));
        assert!(!is_same_page(
            "https://t.me/s/gy",
            "https://telegram.org/s/gy"
        ));
    }

    #[test]
    fn channel_names_are_checked() {
        let mut cfg = TelegramSourceConfig::new("tg", "gy_news");
        assert!(cfg.check().is_ok());
        cfg.channel = "@gy_news".into();
        assert_eq!(cfg.check().unwrap_err().0, "channel");
        cfg.channel = "https://t.me/gy_news".into();
        assert_eq!(cfg.check().unwrap_err().0, "channel");
        cfg.channel = "gy_news".into();
        cfg.base_url = "t.me".into();
        assert_eq!(cfg.check().unwrap_err().0, "base_url");
    }
}
