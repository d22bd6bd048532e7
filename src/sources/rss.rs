//! RSS and Atom feeds (and JSON Feed, which feed-rs reads as well).
//!
//! A feed is fetched with a conditional GET (an unchanged feed costs a 304) and parsed by
//! feed-rs from the raw bytes, after this module has done what feed-rs cannot be trusted
//! with (reference/wire-formats.md §4):
//!
//! - **Encoding.** Russian municipal and news sites still serve windows-1251 and KOI8-R. The
//!   charset is taken from the byte-order mark, else the XML declaration, else the
//!   `Content-Type` charset; the body is transcoded to UTF-8 with encoding_rs and the
//!   declaration rewritten to say so, so the parser never has to guess.
//! - **Structure.** One streaming pass with quick-xml checks the document before feed-rs sees
//!   it: a DOCTYPE that declares entities is refused (billion laughs, external entities), a
//!   body that stops before its root element closes is refused as truncated, and
//!   `yandex:full-text` (which feed-rs drops) is collected per item.
//! - **`<rss>` without a version** (or with one feed-rs does not know) gets `version="2.0"`.
//! - **Ids.** feed-rs invents a random UUID for an item without a guid; here such an item is
//!   keyed by its link with volatile query parameters (`utm_*` …) removed, else by its title
//!   and date, so the same item has the same key on every fetch.
//! - **Dates.** RFC 3339 and RFC 2822 (leniently), then the formats Russian sites write by
//!   hand ("26 ноября 2026, 14:05", "26.11.2026 14:05"), read in the feed's time zone.
//! - **Text.** HTML in titles and bodies is reduced to plain text, paragraphs kept as lines.

use super::http::{Conditional, HttpClient, Validators};
use super::{Batch, BoxFuture, Cursor, Source, SourceError};
use crate::config::RssSourceConfig;
use crate::model::{Platform, Post, PostKey};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

/// How many item ids the cursor remembers beyond those in the current feed.
const SEEN_IDS_KEPT: usize = 1000;

/// What a feed reader accepts; some sites serve their HTML page to a client that says `*/*`.
const FEED_ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json;q=0.9, \
                           application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8";

/// Longest guid used as an id as it is; a longer one is hashed.
const MAX_RAW_ID_LEN: usize = 200;

/// Query parameters that change between fetches or between readers without changing the
/// article (trackers, cache busters), removed from a link before it becomes an id.
const VOLATILE_QUERY_KEYS: &[&str] = &[
    "fbclid",
    "gclid",
    "yclid",
    "ysclid",
    "_openstat",
    "from",
    "ref",
    "rss",
    "_",
    "nocache",
    "rnd",
    "ts",
    "cb",
];

/// One configured RSS or Atom feed.
pub struct RssSource {
    cfg: RssSourceConfig,
    client: HttpClient,
}

/// What an RSS source remembers between polls.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RssCursor {
    /// `ETag` of the last full response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// `Last-Modified` of the last full response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// Ids (without the source prefix) of the items seen, newest fetch first.
    #[serde(default)]
    pub seen: Vec<String>,
    /// Publication time of the newest item seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<DateTime<Utc>>,
}

impl RssSource {
    /// A reader of the feed `cfg` describes, sharing `client` with the other sources.
    pub fn new(cfg: &RssSourceConfig, client: HttpClient) -> RssSource {
        RssSource {
            cfg: cfg.clone(),
            client,
        }
    }

    async fn poll(&self, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        let name = self.cfg.name.as_str();
        let url = self.cfg.url.as_str();
        let previous = match cursor {
            None => RssCursor::default(),
            Some(value) => serde_json::from_value(value.clone()).unwrap_or_else(|e| {
                tracing::warn!(source = name, error = %e, "unreadable rss cursor, reading the feed afresh");
                RssCursor::default()
            }),
        };
        let validators = Validators {
            etag: previous.etag.clone(),
            last_modified: previous.last_modified.clone(),
        };
        let fetched = match self
            .client
            .get_conditional(name, url, Some(FEED_ACCEPT), &validators)
            .await?
        {
            Conditional::NotModified => {
                tracing::debug!(source = name, "feed not modified");
                return Ok(Batch::default());
            }
            Conditional::Modified(fetched) => fetched,
        };
        if reqwest::Url::parse(url).is_ok_and(|u| u.as_str() != fetched.url) {
            tracing::info!(source = name, from = url, to = %fetched.url, "feed redirected, consider updating its url");
        }
        let fetched_at = Utc::now();
        let content_type = fetched.content_type();
        let next_validators = fetched.validators();
        let base_url = fetched.url.clone();
        let tz = self.cfg.timezone;
        // Transcoding and parsing a feed of several megabytes takes longer than an async
        // task may block.
        let body = fetched.body;
        let parsed = tokio::task::spawn_blocking(move || {
            parse_feed(&body, content_type.as_deref(), Some(&base_url), tz)
        })
        .await
        .map_err(|e| {
            SourceError::transient(format!(
                "source {name}: the feed parser failed on {url}: {e}"
            ))
        })?
        .map_err(|e| SourceError::transient(format!("source {name}: the feed at {url} {e}")))?;

        // Ids already delivered, by an earlier poll or earlier in this feed (a feed that
        // repeats an item must not make a batch repeat a post).
        let mut seen: HashSet<&str> = previous.seen.iter().map(String::as_str).collect();
        let community = self
            .cfg
            .community
            .clone()
            .or_else(|| parsed.title.clone())
            .unwrap_or_else(|| self.cfg.name.clone());
        let mut posts = Vec::new();
        let mut newest = previous.newest;
        for item in &parsed.items {
            if let Some(published) = item.published {
                newest = Some(newest.map_or(published, |n| n.max(published)));
            }
            if !seen.insert(item.id.as_str()) {
                continue;
            }
            posts.push(post_of(&self.cfg, item, &community, fetched_at));
        }

        let mut current = HashSet::new();
        let mut next_seen: Vec<String> = parsed
            .items
            .iter()
            .filter(|i| current.insert(i.id.clone()))
            .map(|i| i.id.clone())
            .collect();
        next_seen.extend(
            previous
                .seen
                .iter()
                .filter(|id| !current.contains(*id))
                .take(SEEN_IDS_KEPT)
                .cloned(),
        );
        let next = RssCursor {
            etag: next_validators.etag,
            last_modified: next_validators.last_modified,
            seen: next_seen,
            newest,
        };
        tracing::debug!(
            source = name,
            items = parsed.items.len(),
            new = posts.len(),
            "feed read"
        );
        Ok(Batch::new(posts, &next))
    }
}

/// The post a feed item becomes, as the source of `cfg` delivers it.
pub fn post_of(
    cfg: &RssSourceConfig,
    item: &FeedItem,
    community: &str,
    fetched: DateTime<Utc>,
) -> Post {
    Post {
        key: PostKey::new(Platform::Rss, format!("{}:{}", cfg.name, item.id)),
        source: cfg.name.clone(),
        url: item.url.clone(),
        community: community.to_string(),
        community_territory: cfg.territory.clone(),
        author: item.author.clone(),
        author_url: item.author_url.clone(),
        author_kind: cfg.author_kind,
        published: item.published.unwrap_or(fetched),
        fetched,
        title: item.title.clone(),
        text: item.text.clone(),
        parent: None,
    }
}

/// A source for every enabled feed of `feeds`, all sharing `client`.
pub fn enabled_sources(feeds: &[RssSourceConfig], client: &HttpClient) -> Vec<Box<dyn Source>> {
    feeds
        .iter()
        .filter(|feed| feed.enabled)
        .map(|feed| Box::new(RssSource::new(feed, client.clone())) as Box<dyn Source>)
        .collect()
}

impl Source for RssSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn platform(&self) -> Platform {
        Platform::Rss
    }

    fn poll_settings(&self) -> Option<crate::config::PollSettings> {
        self.cfg.poll.clone()
    }

    fn fetch<'a>(
        &'a mut self,
        cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<Batch, SourceError>> {
        Box::pin(self.poll(cursor))
    }
}

/// A feed reduced to what the daemon uses.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedFeed {
    /// The feed's own title.
    pub title: Option<String>,
    /// Items in document order.
    pub items: Vec<FeedItem>,
}

/// One item of a feed, in plain text.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedItem {
    /// Stable id within the feed: the guid, else `link:<hash>`, else `title:<hash>`.
    pub id: String,
    pub url: Option<String>,
    pub title: Option<String>,
    /// `yandex:full-text` if present, else the content, else the summary; plain text.
    pub text: String,
    pub published: Option<DateTime<Utc>>,
    pub author: Option<String>,
    pub author_url: Option<String>,
}

/// Why a feed body could not be read. Displayed after "the feed at <url> ".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeedError {
    #[error(
        "declares XML entities in its DOCTYPE ({0}); refused, entity expansion is an attack vector"
    )]
    EntityDeclarations(String),
    #[error("ends before its root element <{0}> is closed (truncated reply)")]
    Truncated(String),
    #[error("is not well-formed XML: {0}")]
    Malformed(String),
    #[error("is empty")]
    Empty,
    #[error("is neither RSS nor Atom: {0}")]
    NotAFeed(String),
}

/// Decode, check and parse a feed body. `content_type` is the HTTP header (for its charset),
/// `base_url` resolves relative links, `tz` is assumed for dates without an offset.
pub fn parse_feed(
    body: &[u8],
    content_type: Option<&str>,
    base_url: Option<&str>,
    tz: Tz,
) -> Result<ParsedFeed, FeedError> {
    let text = to_utf8(body, content_type);
    if text.trim().is_empty() {
        return Err(FeedError::Empty);
    }
    // JSON Feed is parsed by feed-rs as it is; the checks below are about XML.
    let scan = if text.trim_start().starts_with('{') {
        XmlScan::default()
    } else {
        scan_xml(&text)?
    };
    let text = match scan.rss_version_fix {
        Some(fix) => fix.apply(&text),
        None => text,
    };
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base_url)
        .sanitize_content(false)
        .timestamp_parser(move |s| parse_feed_date(s, tz))
        // Leave ids of guid-less items empty so they can be keyed stably below.
        .id_generator(|_, _, _| String::new())
        .build();
    let feed = parser.parse(text.as_bytes()).map_err(|e| match e {
        feed_rs::parser::ParseFeedError::ParseError(kind) => FeedError::NotAFeed(kind.to_string()),
        other => FeedError::Malformed(other.to_string()),
    })?;

    let by_guid: HashMap<&str, &str> = scan
        .items
        .iter()
        .filter_map(|i| Some((i.guid.as_deref()?, i.full_text.as_deref()?)))
        .collect();
    let by_link: HashMap<&str, &str> = scan
        .items
        .iter()
        .filter_map(|i| Some((i.link.as_deref()?, i.full_text.as_deref()?)))
        .collect();
    let same_order = scan.items.len() == feed.entries.len();

    let items = feed
        .entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let link = entry
                .links
                .iter()
                .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
                .or(entry.links.first())
                .map(|l| l.href.trim().to_string())
                .filter(|l| !l.is_empty());
            let full_text = by_guid
                .get(entry.id.as_str())
                .or_else(|| link.as_deref().and_then(|l| by_link.get(l)))
                .copied()
                .or_else(|| {
                    same_order
                        .then(|| scan.items[index].full_text.as_deref())
                        .flatten()
                });
            let title = entry
                .title
                .as_ref()
                .map(|t| html_to_text(&t.content))
                .filter(|t| !t.is_empty());
            let body = full_text
                .or_else(|| entry.content.as_ref().and_then(|c| c.body.as_deref()))
                .or_else(|| entry.summary.as_ref().map(|s| s.content.as_str()))
                .map(html_to_text)
                .unwrap_or_default();
            let published = entry.published.or(entry.updated);
            let id = stable_id(
                &entry.id,
                link.as_deref(),
                title.as_deref(),
                published,
                &body,
            );
            let url = link.or_else(|| {
                (entry.id.starts_with("http://") || entry.id.starts_with("https://"))
                    .then(|| entry.id.clone())
            });
            let author = entry.authors.first();
            FeedItem {
                id,
                url,
                title,
                text: body,
                published,
                author: author
                    .and_then(|a| a.name.as_deref())
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty()),
                author_url: author.and_then(|a| a.uri.clone()),
            }
        })
        .collect();

    Ok(ParsedFeed {
        title: feed
            .title
            .map(|t| html_to_text(&t.content))
            .filter(|t| !t.is_empty()),
        items,
    })
}

// ---------------------------------------------------------------------------------------
// Encoding

/// The body as UTF-8 text with its XML declaration saying `UTF-8`.
///
/// The charset comes from the byte-order mark, else the XML declaration, else the
/// `Content-Type` charset, else UTF-8. When the choice is UTF-8 but the bytes are not, the
/// other named charset (if any) is tried: a site that mislabels a windows-1251 feed as UTF-8
/// in one place usually names the truth in the other. What still does not decode becomes
/// replacement characters rather than a refusal.
pub fn to_utf8(body: &[u8], content_type: Option<&str>) -> String {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(body) {
        let (text, _) = encoding.decode_without_bom_handling(&body[bom_len..]);
        return rewrite_declaration(&text);
    }
    // A UTF-16 label on an ASCII-compatible (BOM-less) body is a lie: `output_encoding`
    // maps it to UTF-8.
    let named = |label: Option<String>| {
        label
            .and_then(|l| encoding_rs::Encoding::for_label(l.trim().as_bytes()))
            .map(encoding_rs::Encoding::output_encoding)
    };
    let declared = named(declared_encoding(body));
    let from_header = named(content_type.and_then(charset_of));
    let mut encoding = declared.or(from_header).unwrap_or(encoding_rs::UTF_8);
    if encoding == encoding_rs::UTF_8
        && std::str::from_utf8(body).is_err()
        && let Some(other) = [declared, from_header]
            .into_iter()
            .flatten()
            .find(|e| *e != encoding_rs::UTF_8)
    {
        encoding = other;
    }
    let (text, _) = encoding.decode_without_bom_handling(body);
    rewrite_declaration(&text)
}

/// The `encoding` pseudo-attribute of the XML declaration, read as ASCII.
fn declared_encoding(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(512)];
    let head = String::from_utf8_lossy(head);
    let decl = head.trim_start();
    let decl = decl.strip_prefix("<?xml")?;
    let decl = &decl[..decl.find("?>")?];
    pseudo_attribute(decl, "encoding")
}

fn pseudo_attribute(decl: &str, name: &str) -> Option<String> {
    let at = decl.find(name)?;
    let rest = decl[at + name.len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    Some(rest[..rest.find(quote)?].trim().to_string())
}

fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_string())
    })
}

/// Replace the XML declaration (if any) by one that says UTF-8, keeping `standalone`.
fn rewrite_declaration(text: &str) -> String {
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if let Some(rest) = trimmed.strip_prefix("<?xml")
        && let Some(end) = rest.find("?>")
    {
        let decl = &rest[..end];
        let standalone = pseudo_attribute(decl, "standalone")
            .map(|v| format!(" standalone=\"{v}\""))
            .unwrap_or_default();
        return format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"{standalone}?>{}",
            &rest[end + 2..]
        );
    }
    trimmed.to_string()
}

// ---------------------------------------------------------------------------------------
// The checking pass

/// What the quick-xml pass learned about the document.
#[derive(Debug, Default)]
struct XmlScan {
    items: Vec<ScannedItem>,
    rss_version_fix: Option<VersionFix>,
}

#[derive(Debug, Default)]
struct ScannedItem {
    guid: Option<String>,
    link: Option<String>,
    full_text: Option<String>,
}

/// Where the root `<rss …>` start tag is, to give it `version="2.0"`.
#[derive(Debug)]
struct VersionFix {
    tag_start: usize,
    tag_end: usize,
    attributes: Vec<(String, String)>,
}

impl VersionFix {
    fn apply(&self, text: &str) -> String {
        let mut tag = String::from("<rss version=\"2.0\"");
        for (key, value) in &self.attributes {
            // Values are kept escaped as read; only a `"` from a single-quoted value needs care.
            tag.push_str(&format!(" {key}=\"{}\"", value.replace('"', "&quot;")));
        }
        tag.push('>');
        format!("{}{tag}{}", &text[..self.tag_start], &text[self.tag_end..])
    }
}

/// One streaming pass over the whole document: refuse entity declarations, detect a
/// truncated or malformed body, note a root `<rss>` whose version feed-rs would not
/// recognise, and collect `yandex:full-text` per item.
///
/// quick-xml itself never expands entities it has not been told about (feed-rs keeps an
/// unknown `&name;` as literal text), so a bomb would not explode in the parser either; it
/// is refused here so that nothing downstream ever meets one.
fn scan_xml(text: &str) -> Result<XmlScan, FeedError> {
    use quick_xml::events::Event;

    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut scan = XmlScan::default();
    let mut stack = NameStack::default();
    let mut root: Option<String> = None;
    // Inside an item: which of its children we are collecting text for.
    let mut current: Option<ScannedItem> = None;
    let mut collecting: Option<(&'static str, String)> = None;

    loop {
        let position = reader.buffer_position() as usize;
        let event = match reader.read_event() {
            Ok(event) => event,
            // Every "unclosed …" syntax error is the input ending inside markup.
            Err(quick_xml::Error::Syntax(_)) if !stack.is_empty() => {
                return Err(FeedError::Truncated(stack.first().to_string()));
            }
            Err(e) => {
                return Err(FeedError::Malformed(format!(
                    "{e} (at byte {})",
                    reader.error_position()
                )));
            }
        };
        match event {
            Event::DocType(doctype) if doctype.contains("<!ENTITY") => {
                let excerpt: String = doctype.chars().take(80).collect();
                return Err(FeedError::EntityDeclarations(excerpt));
            }
            Event::Start(start) => {
                let name = start.name();
                let name: &str = name.as_ref();
                let local = start.local_name();
                let local: &str = local.as_ref();
                if root.is_none() {
                    root = Some(name.to_string());
                    if local == "rss" {
                        scan.rss_version_fix =
                            version_fix(&start, position, reader.buffer_position() as usize);
                    }
                }
                if local == "item" || local == "entry" {
                    current = Some(ScannedItem::default());
                } else if current.is_some() && stack.last().is_some_and(is_item) {
                    collecting = match local {
                        "guid" | "id" => Some(("guid", String::new())),
                        "link" => Some(("link", String::new())),
                        "full-text" if name.contains(':') => Some(("full-text", String::new())),
                        _ => None,
                    };
                }
                stack.push(name);
            }
            Event::Empty(start) => {
                if root.is_none() {
                    return Err(FeedError::NotAFeed(format!(
                        "its root element <{}/> is empty",
                        start.name().as_ref()
                    )));
                }
                // An Atom <link href="…"/> is the item's link.
                if let Some(item) = current.as_mut()
                    && start.local_name().as_ref() == "link"
                    && item.link.is_none()
                    && let Ok(Some(href)) = start.try_get_attribute("href")
                {
                    item.link = Some(href.value.trim().to_string());
                }
            }
            Event::Text(t) => {
                if let Some((_, buffer)) = collecting.as_mut() {
                    buffer.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some((_, buffer)) = collecting.as_mut() {
                    buffer.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                if let Some((_, buffer)) = collecting.as_mut() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => buffer.push(c),
                        _ => match quick_xml::escape::resolve_predefined_entity(&r) {
                            Some(s) => buffer.push_str(s),
                            None => {
                                buffer.push('&');
                                buffer.push_str(&r);
                                buffer.push(';');
                            }
                        },
                    }
                }
            }
            Event::End(end) => {
                stack.pop();
                let local = end.local_name();
                let local: &str = local.as_ref();
                if let Some((what, buffer)) = collecting.take() {
                    if let Some(item) = current.as_mut() {
                        let value = buffer.trim().to_string();
                        match what {
                            "guid" => item.guid = Some(value),
                            "link" if item.link.is_none() => item.link = Some(value),
                            "full-text" => item.full_text = Some(buffer),
                            _ => {}
                        }
                    }
                } else if is_item(local)
                    && let Some(item) = current.take()
                {
                    scan.items.push(item);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    match root {
        None => Err(FeedError::NotAFeed("it has no root element".into())),
        Some(_) if !stack.is_empty() => Err(FeedError::Truncated(stack.first().to_string())),
        Some(_) => Ok(scan),
    }
}

/// The names of the open elements, in one buffer: no allocation per element.
#[derive(Default)]
struct NameStack {
    names: String,
    ends: Vec<usize>,
}

impl NameStack {
    fn push(&mut self, name: &str) {
        self.names.push_str(name);
        self.ends.push(self.names.len());
    }

    fn pop(&mut self) {
        self.ends.pop();
        self.names.truncate(self.ends.last().copied().unwrap_or(0));
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The outermost open element (the root); empty when none is open.
    fn first(&self) -> &str {
        &self.names[..self.ends.first().copied().unwrap_or(0)]
    }

    fn last(&self) -> Option<&str> {
        let end = *self.ends.last()?;
        let start = self.ends.len().checked_sub(2).map_or(0, |i| self.ends[i]);
        Some(&self.names[start..end])
    }
}

fn is_item(local_or_name: &str) -> bool {
    let local = local_or_name.rsplit(':').next().unwrap_or(local_or_name);
    local == "item" || local == "entry"
}

/// A fix for a root `<rss>` whose version feed-rs does not recognise, or `None`.
fn version_fix(
    start: &quick_xml::events::BytesStart<'_>,
    tag_start: usize,
    tag_end: usize,
) -> Option<VersionFix> {
    let mut version = None;
    let mut attributes = Vec::new();
    for attribute in start.attributes().flatten() {
        let key = attribute.key.as_ref().to_string();
        if key == "version" {
            version = Some(attribute.value.trim().to_string());
        } else {
            attributes.push((key, attribute.value.to_string()));
        }
    }
    match version.as_deref() {
        Some("2.0" | "0.91" | "0.92") => None,
        _ => Some(VersionFix {
            tag_start,
            tag_end,
            attributes,
        }),
    }
}

// ---------------------------------------------------------------------------------------
// Ids

/// The id of an item: its guid, else a hash of its link without volatile parameters, else a
/// hash of its title and date (else of its text).
fn stable_id(
    guid: &str,
    link: Option<&str>,
    title: Option<&str>,
    published: Option<DateTime<Utc>>,
    text: &str,
) -> String {
    let guid = guid.trim();
    if !guid.is_empty() {
        let guid = if guid.starts_with("http://") || guid.starts_with("https://") {
            normalize_link(guid)
        } else {
            guid.to_string()
        };
        return if guid.len() > MAX_RAW_ID_LEN {
            format!("guid:{}", short_hash(&guid))
        } else {
            guid
        };
    }
    if let Some(link) = link.filter(|l| !l.trim().is_empty()) {
        return format!("link:{}", short_hash(&normalize_link(link)));
    }
    let date = published.map(|d| d.to_rfc3339()).unwrap_or_default();
    match title {
        Some(title) => format!("title:{}", short_hash(&format!("{title}\n{date}"))),
        None => format!("text:{}", short_hash(&format!("{text}\n{date}"))),
    }
}

/// The link without fragment and without tracking or cache-busting query parameters, with
/// the remaining parameters in a stable order.
pub fn normalize_link(link: &str) -> String {
    let Ok(mut url) = reqwest::Url::parse(link.trim()) else {
        return link.trim().to_string();
    };
    url.set_fragment(None);
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !k.starts_with("utm_") && !VOLATILE_QUERY_KEYS.contains(&k.as_str())
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

fn short_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    digest[..10].iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// Dates

/// Parse a date as feeds write it: RFC 3339, RFC 2822 (with long month names, wrong
/// weekdays, `UTC`), or the forms Russian sites write by hand — "26 ноября 2026, 14:05",
/// "26.11.2026 14:05", "2026-11-26 14:05". A date without an offset is read in `tz`.
pub fn parse_feed_date(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    // No date is written in more than a few dozen characters; a longer string is not one.
    if s.is_empty() || s.len() > 200 {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    // RFC 2822 with the weekday dropped: a wrong weekday must not lose the date.
    let without_weekday = match s.split_once(',') {
        Some((weekday, rest)) if weekday.chars().all(|c| c.is_ascii_alphabetic()) => rest.trim(),
        _ => s,
    };
    if let Ok(d) = DateTime::parse_from_rfc2822(without_weekday) {
        return Some(d.with_timezone(&Utc));
    }
    parse_loose_date(s, tz)
}

/// A tolerant reader: picks a month name, the numbers of the date, a `hh:mm[:ss]` time and
/// an offset out of the string, ignoring other words ("г.", "в", weekdays).
fn parse_loose_date(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let lower = s.to_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    let mut numbers: Vec<(u32, usize)> = Vec::new();
    let mut time: Option<(u32, u32, u32)> = None;
    let mut month_word: Option<u32> = None;
    let mut offset: Option<i32> = None;
    let mut i = 0;
    let read_number = |i: &mut usize| -> (u32, usize) {
        let start = *i;
        let mut value: u32 = 0;
        while *i < chars.len() && chars[*i].is_ascii_digit() && *i - start < 9 {
            value = value * 10 + chars[*i].to_digit(10).unwrap_or(0);
            *i += 1;
        }
        (value, *i - start)
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let (value, len) = read_number(&mut i);
            let is_time = time.is_none()
                && len <= 2
                && i + 1 < chars.len()
                && chars[i] == ':'
                && chars[i + 1].is_ascii_digit();
            if is_time {
                i += 1;
                let (minute, _) = read_number(&mut i);
                let mut second = 0;
                if i + 1 < chars.len() && chars[i] == ':' && chars[i + 1].is_ascii_digit() {
                    i += 1;
                    second = read_number(&mut i).0;
                }
                // Fractions of a second.
                if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
                    i += 1;
                    read_number(&mut i);
                }
                time = Some((value, minute, second));
            } else {
                numbers.push((value, len));
            }
        } else if c.is_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_alphabetic() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if let Some(m) = month_from_word(&word) {
                month_word.get_or_insert(m);
            } else if matches!(word.as_str(), "utc" | "gmt" | "ut" | "z") {
                offset = Some(0);
            } else if matches!(word.as_str(), "msk" | "мск") {
                offset = Some(3 * 3600);
            }
        } else if (c == '+' || c == '-')
            && time.is_some()
            && i + 1 < chars.len()
            && chars[i + 1].is_ascii_digit()
        {
            let sign = if c == '-' { -1 } else { 1 };
            i += 1;
            let (first, len) = read_number(&mut i);
            let (hours, minutes) = if len == 4 {
                (first / 100, first % 100)
            } else if i + 1 < chars.len() && chars[i] == ':' {
                i += 1;
                (first, read_number(&mut i).0)
            } else {
                (first, 0)
            };
            if hours > 14 || minutes > 59 {
                return None;
            }
            offset = Some(sign * (hours as i32 * 3600 + minutes as i32 * 60));
        } else {
            i += 1;
        }
    }

    let (year, month, day) = match month_word {
        Some(month) => {
            let year = numbers.iter().find(|(v, len)| *len == 4 || *v > 31)?.0;
            let day = numbers
                .iter()
                .find(|(v, len)| *len <= 2 && *v >= 1 && *v <= 31)?
                .0;
            (year, month, day)
        }
        None if numbers.len() >= 3 => {
            let [a, b, c] = [numbers[0], numbers[1], numbers[2]];
            if a.1 == 4 {
                (a.0, b.0, c.0)
            } else {
                let year = if c.1 <= 2 { c.0 + 2000 } else { c.0 };
                (year, b.0, a.0)
            }
        }
        None => return None,
    };
    if !(1970..=2200).contains(&year) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let (h, m, sec) = time.unwrap_or((0, 0, 0));
    let naive: NaiveDateTime = date.and_hms_opt(h, m, sec.min(59))?;
    match offset {
        Some(seconds) => FixedOffset::east_opt(seconds)?
            .from_local_datetime(&naive)
            .single()
            .map(|d| d.with_timezone(&Utc)),
        None => tz
            .from_local_datetime(&naive)
            .earliest()
            .map(|d| d.with_timezone(&Utc)),
    }
}

/// Month number of an English or Russian month name in any case form ("ноября", "Nov").
fn month_from_word(word: &str) -> Option<u32> {
    const STEMS: [(&str, u32); 24] = [
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
        ("янв", 1),
        ("фев", 2),
        ("мар", 3),
        ("апр", 4),
        ("ма", 5),
        ("июн", 6),
        ("июл", 7),
        ("авг", 8),
        ("сен", 9),
        ("окт", 10),
        ("ноя", 11),
        ("дек", 12),
    ];
    if word.chars().count() < 3 {
        return None;
    }
    let prefix: String = word.chars().take(3).collect();
    STEMS.iter().find_map(|(stem, month)| {
        let matches = if *stem == "ма" {
            prefix == "май" || prefix == "мая" || prefix == "мае"
        } else {
            prefix == *stem
        };
        matches.then_some(*month)
    })
}

// ---------------------------------------------------------------------------------------
// Text

/// HTML reduced to plain text: tags removed (script and style with their content), block
/// elements and `<br>` turned into line breaks, entities decoded, whitespace collapsed.
/// Text without any tag keeps its own line breaks.
pub fn html_to_text(html: &str) -> String {
    let has_markup = contains_tag(html);
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    // Once no `>` is left, no later `<` can open a tag: remembering it keeps text full of
    // stray `<` linear instead of quadratic.
    let mut tags_possible = true;
    while let Some(c) = rest.chars().next() {
        if c == '<' && has_markup {
            if let Some(after) = rest.strip_prefix("<!--") {
                rest = after.find("-->").map_or("", |end| &after[end + 3..]);
                continue;
            }
            if let Some(after) = rest.strip_prefix("<![CDATA[") {
                let end = after.find("]]>").unwrap_or(after.len());
                out.push_str(&after[..end]);
                rest = after.get(end + 3..).unwrap_or("");
                continue;
            }
            let is_tag = rest[1..]
                .chars()
                .next()
                .is_some_and(|n| n.is_ascii_alphabetic() || n == '/' || n == '!' || n == '?');
            let end = if is_tag && tags_possible {
                rest.find('>')
            } else {
                None
            };
            tags_possible &= end.is_some() || !is_tag;
            if let Some(end) = end {
                let tag = &rest[1..end];
                let closing = tag.starts_with('/');
                let name: String = tag
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase();
                rest = &rest[end + 1..];
                if !closing && matches!(name.as_str(), "script" | "style" | "head" | "template") {
                    let close = format!("</{name}");
                    rest = find_ascii_case_insensitive(rest, &close).map_or("", |at| &rest[at..]);
                    continue;
                }
                match name.as_str() {
                    "br" | "p" | "div" | "li" | "ul" | "ol" | "tr" | "table" | "blockquote"
                    | "section" | "article" | "header" | "footer" | "pre" | "hr" | "dd" | "dt"
                    | "figure" | "figcaption" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                        out.push('\n')
                    }
                    "td" | "th" => out.push(' '),
                    _ => {}
                }
                continue;
            }
            out.push('<');
            rest = &rest[1..];
        } else if c == '&' {
            let (decoded, used) = decode_entity(rest);
            out.push_str(&decoded);
            rest = &rest[used..];
        } else if has_markup && (c == '\n' || c == '\r' || c == '\t') {
            out.push(' ');
            rest = &rest[1..];
        } else {
            // Plain text up to the next byte that means something, copied at once.
            let special =
                |b: u8| b == b'&' || (has_markup && matches!(b, b'<' | b'\n' | b'\r' | b'\t'));
            let run = rest
                .bytes()
                .skip(1)
                .position(special)
                .map_or(rest.len(), |i| i + 1);
            out.push_str(&rest[..run]);
            rest = &rest[run..];
        }
    }
    collapse_whitespace(&out)
}

/// Runs of white space (and no-break spaces) within a line become one space; blank lines
/// and the space at either end of a line go.
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        let mut words = line.split(is_space).filter(|w| !w.is_empty());
        if let Some(first) = words.next() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(first);
            for word in words {
                out.push(' ');
                out.push_str(word);
            }
        }
    }
    out
}

/// White space or a no-break space, with a fast answer for ASCII and Cyrillic (nearly all
/// of the text; the general lookup dominated this function's profile).
fn is_space(c: char) -> bool {
    match c {
        '\u{a0}' => true,
        _ if c.is_ascii() => c.is_ascii_whitespace() || c == '\x0b',
        '\u{0400}'..='\u{04FF}' => false,
        _ => c.is_whitespace(),
    }
}

fn contains_tag(s: &str) -> bool {
    s.match_indices('<').any(|(at, _)| {
        s[at + 1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!')
    })
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Decode the entity at the start of `s` (which starts with `&`); returns the text and the
/// number of bytes used. An unknown entity is kept as a literal `&`.
fn decode_entity(s: &str) -> (String, usize) {
    let Some(end) = s[1..].find(';').map(|e| e + 1).filter(|e| *e <= 32) else {
        return ("&".into(), 1);
    };
    let name = &s[1..end];
    let decoded = if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse::<u32>().ok(),
        };
        code.and_then(char::from_u32).map(String::from)
    } else {
        named_entity(name).map(String::from)
    };
    match decoded {
        Some(text) => (text, end + 1),
        None => ("&".into(), 1),
    }
}

fn named_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        "nbsp" | "ensp" | "emsp" | "thinsp" => " ",
        "shy" | "zwnj" | "zwj" => "",
        "laquo" => "«",
        "raquo" => "»",
        "ldquo" => "“",
        "rdquo" => "”",
        "bdquo" => "„",
        "lsquo" => "‘",
        "rsquo" => "’",
        "sbquo" => "‚",
        "mdash" => "—",
        "ndash" => "–",
        "minus" => "−",
        "hellip" => "…",
        "copy" => "©",
        "reg" => "®",
        "trade" => "™",
        "deg" => "°",
        "plusmn" => "±",
        "times" => "×",
        "divide" => "÷",
        "middot" => "·",
        "bull" => "•",
        "sect" => "§",
        "para" => "¶",
        "numero" => "№",
        "euro" => "€",
        "frac12" => "½",
        "frac14" => "¼",
        "frac34" => "¾",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const MSK: Tz = chrono_tz::Europe::Moscow;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn the_fast_space_test_agrees_with_unicode() {
        for c in ('\u{0}'..='\u{3000}').chain(['\u{FEFF}', '中']) {
            assert_eq!(is_space(c), c.is_whitespace() || c == '\u{a0}', "{c:?}");
        }
    }

    #[test]
    fn russian_and_sloppy_dates_are_read_in_the_feed_time_zone() {
        let cases = [
            ("26 ноября 2026, 14:05", utc(2026, 11, 26, 11, 5)),
            ("26 ноября 2026 г. в 14:05", utc(2026, 11, 26, 11, 5)),
            ("26.11.2026 14:05", utc(2026, 11, 26, 11, 5)),
            ("26.11.26 14:05", utc(2026, 11, 26, 11, 5)),
            ("2026-11-26 14:05:00", utc(2026, 11, 26, 11, 5)),
            ("1 мая 2026", utc(2026, 4, 30, 21, 0)),
            ("Thu, 26 Nov 2026 14:05:00 +0300", utc(2026, 11, 26, 11, 5)),
            // Wrong weekday, long month name, "UTC".
            (
                "Mon, 26 November 2026 11:05:00 UTC",
                utc(2026, 11, 26, 11, 5),
            ),
            ("Fri, 26 Nov 2026 11:05:00 GMT", utc(2026, 11, 26, 11, 5)),
            ("2026-11-26T14:05:00+03:00", utc(2026, 11, 26, 11, 5)),
            ("26 Nov 2026 14:05 +03:00", utc(2026, 11, 26, 11, 5)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_feed_date(text, MSK), Some(expected), "{text}");
        }
        assert_eq!(parse_feed_date("вчера", MSK), None);
        assert_eq!(parse_feed_date("31.02.2026 10:00", MSK), None);
        assert_eq!(parse_feed_date("", MSK), None);
    }

    #[test]
    fn html_becomes_plain_text_with_paragraphs() {
        let html = "<p>Во дворе&nbsp;на <b>Кирова,&#160;12</b> яма &laquo;как&raquo; озеро &amp; лужа.</p>\n\
                    <p>Вторая<br/>строка &#x2014; тоже</p><script>alert(1)</script><!-- x -->";
        assert_eq!(
            html_to_text(html),
            "Во дворе на Кирова, 12 яма «как» озеро & лужа.\nВторая\nстрока — тоже"
        );
        // Plain text keeps its own line breaks and stray ampersands and angle brackets.
        assert_eq!(html_to_text("A & B < C\nвторая"), "A & B < C\nвторая");
        // Stray `<` in a large text cost linear time, not quadratic.
        let stray = "<b ".repeat(400_000);
        let started = std::time::Instant::now();
        assert_eq!(html_to_text(&stray).len(), stray.len() - 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn links_lose_volatile_parameters_only() {
        assert_eq!(
            normalize_link("https://ex.ru/news/1?utm_source=rss&id=5&utm_medium=x#top"),
            "https://ex.ru/news/1?id=5"
        );
        assert_eq!(
            normalize_link("https://ex.ru/news/1?utm=123"),
            "https://ex.ru/news/1?utm=123"
        );
        assert_eq!(
            normalize_link("https://ex.ru/a?_=1700000"),
            "https://ex.ru/a"
        );
    }

    #[test]
    fn encodings_are_detected_from_bom_declaration_and_header() {
        let text = "<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss>Шопша</rss>";
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        let decoded = to_utf8(&cp1251, None);
        assert!(decoded.contains("Шопша"), "{decoded}");
        assert!(decoded.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));

        let bare = "<rss>Великое</rss>";
        let (koi8, _, _) = encoding_rs::KOI8_R.encode(bare);
        assert_eq!(
            to_utf8(&koi8, Some("application/rss+xml; charset=KOI8-R")),
            bare
        );

        // Labelled UTF-8 in the declaration, windows-1251 in the header and in fact.
        let (mislabelled, _, _) = encoding_rs::WINDOWS_1251
            .encode("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss>Ильинское-Урусово</rss>");
        assert!(
            to_utf8(&mislabelled, Some("text/xml; charset=windows-1251"))
                .contains("Ильинское-Урусово")
        );

        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "<rss>Щекотово</rss>".encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(to_utf8(&utf16, None), "<rss>Щекотово</rss>");

        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice("<?xml version='1.0'?><rss>Митино</rss>".as_bytes());
        assert_eq!(
            to_utf8(&bom, Some("text/xml; charset=windows-1251")),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss>Митино</rss>"
        );
    }

    #[test]
    fn rss_without_version_is_parsed_as_rss_2() {
        let xml = r#"<?xml version="1.0"?><rss xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title>
            <item><title>Нет воды</title><link>https://x.ru/1</link><description>Текст</description></item>
            </channel></rss>"#;
        let feed = parse_feed(xml.as_bytes(), None, None, MSK).unwrap();
        assert_eq!(feed.items.len(), 1);
        assert_eq!(feed.items[0].title.as_deref(), Some("Нет воды"));
    }

    #[test]
    fn json_feed_is_read_too() {
        let json = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "Митино онлайн",
            "items": [{"id": "j1", "url": "https://m.example/1", "content_html": "<p>Нет света</p>",
            "date_published": "2026-11-26T09:40:00+03:00"}]}"#;
        let feed = parse_feed(json.as_bytes(), Some("application/feed+json"), None, MSK).unwrap();
        assert_eq!(feed.title.as_deref(), Some("Митино онлайн"));
        assert_eq!(feed.items[0].id, "j1");
        assert_eq!(feed.items[0].text, "Нет света");
    }

    #[test]
    fn yandex_full_text_replaces_the_teaser() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
            <rss version="2.0" xmlns:yandex="http://news.yandex.ru"><channel><title>T</title>
            <item><title>A</title><guid>a1</guid><description>Коротко</description>
            <yandex:full-text>Полный &lt;b&gt;текст&lt;/b&gt; новости &amp; подробности</yandex:full-text></item>
            <item><title>B</title><guid>b1</guid><description>Только анонс</description></item>
            </channel></rss>"#;
        let feed = parse_feed(xml.as_bytes(), None, None, MSK).unwrap();
        assert_eq!(feed.items[0].text, "Полный текст новости & подробности");
        assert_eq!(feed.items[1].text, "Только анонс");
    }

    #[test]
    fn feed_rs_alone_does_not_expand_a_billion_laughs() {
        // What the DOCTYPE refusal protects against, checked on the parser itself: quick-xml
        // keeps unknown entity references as text, so even unrefused the output is small.
        let bomb = billion_laughs();
        let feed = feed_rs::parser::parse(bomb.as_bytes()).unwrap();
        let title = feed.entries[0].title.as_ref().unwrap().content.clone();
        assert!(title.len() < 100, "{title}");
        assert!(matches!(
            parse_feed(bomb.as_bytes(), None, None, MSK),
            Err(FeedError::EntityDeclarations(_))
        ));
    }

    fn billion_laughs() -> String {
        let mut doctype = String::from("<!DOCTYPE rss [\n<!ENTITY lol \"lol\">\n");
        for level in 1..=9 {
            let previous = if level == 1 {
                "lol".to_string()
            } else {
                format!("lol{}", level - 1)
            };
            let body = format!("&{previous};").repeat(10);
            doctype.push_str(&format!("<!ENTITY lol{level} \"{body}\">\n"));
        }
        doctype.push_str("]>");
        format!(
            "<?xml version=\"1.0\"?>{doctype}<rss version=\"2.0\"><channel><title>x</title>\
             <item><title>&lol9;</title><guid>1</guid></item></channel></rss>"
        )
    }

    #[test]
    fn truncated_and_malformed_documents_are_refused() {
        let full = r#"<rss version="2.0"><channel><title>T</title><item><title>A</title><guid>1</guid></item></channel></rss>"#;
        assert!(parse_feed(full.as_bytes(), None, None, MSK).is_ok());
        let cut = &full[..full.len() - 20];
        assert!(matches!(
            parse_feed(cut.as_bytes(), None, None, MSK),
            Err(FeedError::Truncated(root)) if root == "rss"
        ));
        let broken = full.replace("</item>", "</itme>");
        assert!(matches!(
            parse_feed(broken.as_bytes(), None, None, MSK),
            Err(FeedError::Malformed(_))
        ));
        assert!(matches!(
            parse_feed(b"<html><body>Not found</body></html>", None, None, MSK),
            Err(FeedError::NotAFeed(_))
        ));
        assert!(matches!(
            parse_feed(b"  ", None, None, MSK),
            Err(FeedError::Empty)
        ));
        // A comment after the root (WordPress caches add one) is not truncation.
        let with_comment = format!("{full}\n<!-- generated in 0.1 s -->\n");
        assert!(parse_feed(with_comment.as_bytes(), None, None, MSK).is_ok());
    }

    #[test]
    fn items_without_guid_get_ids_that_survive_volatile_links() {
        let feed = |token: &str| {
            format!(
                r#"<rss version="2.0"><channel><title>T</title>
                <item><title>A</title><link>https://x.ru/p/1?utm_source=rss&amp;utm_campaign={token}</link></item>
                <item><title>B</title><pubDate>26.11.2026 14:05</pubDate></item>
                </channel></rss>"#
            )
        };
        let a = parse_feed(feed("one").as_bytes(), None, None, MSK).unwrap();
        let b = parse_feed(feed("two").as_bytes(), None, None, MSK).unwrap();
        assert_eq!(a.items[0].id, b.items[0].id);
        assert!(a.items[0].id.starts_with("link:"));
        assert_eq!(a.items[1].id, b.items[1].id);
        assert!(a.items[1].id.starts_with("title:"));
        assert_ne!(a.items[0].id, a.items[1].id);
        assert_eq!(a.items[1].published, Some(utc(2026, 11, 26, 11, 5)));
    }
}
