//! A loopback feed server for the demonstration: serves each feed of a [`Dataset`] at
//! `http://127.0.0.1:<port>/feeds/<name>` with the posts whose time has come.
//!
//! It behaves like the sites it stands for, so the real [`RssSource`] reads it unchanged:
//! RSS 2.0 or Atom, UTF-8, windows-1251 or KOI8-R, dates in RFC 2822 or the way village
//! sites write them by hand, feeds without guids whose links carry a per-request tracking
//! parameter, and `ETag` / `Last-Modified` with 304 answers.
//!
//! Time is simulated: with [`FeedServer::start`] a post appears when `speed × elapsed real
//! time` reaches its offset; with [`FeedServer::start_manual`] posts appear only when
//! [`FeedServer::release_until`] or [`FeedServer::release_all`] say so.
//!
//! [`RssSource`]: crate::sources::rss::RssSource

use super::dataset::{Dataset, DateStyle, DemoPost, FeedFormat, FeedSpec};
use crate::config::RssSourceConfig;
use crate::model::AuthorKind;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration as TimeDelta, SecondsFormat, SubsecRound, Utc};
use chrono_tz::Tz;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Time zone the invented sites write their dates in.
const SITE_TZ: Tz = chrono_tz::Europe::Moscow;

/// A running loopback feed server.
pub struct FeedServer {
    /// Where it listens (127.0.0.1, an ephemeral port).
    pub addr: SocketAddr,
    /// The feeds it serves, with what a source configuration needs.
    pub feeds: Vec<DemoFeed>,
    state: Arc<ServerState>,
    server: super::Loopback,
}

/// One served feed, described the way an [`RssSourceConfig`] needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoFeed {
    /// Source name (also the last segment of the URL).
    pub name: String,
    pub url: String,
    pub territory: Option<String>,
    pub community: String,
    pub author_kind: AuthorKind,
}

impl DemoFeed {
    /// A source configuration that reads this feed.
    pub fn source_config(&self) -> RssSourceConfig {
        RssSourceConfig {
            name: self.name.clone(),
            url: self.url.clone(),
            territory: self.territory.clone(),
            community: Some(self.community.clone()),
            author_kind: self.author_kind,
            poll: None,
            enabled: true,
            timezone: SITE_TZ,
        }
    }
}

struct ServerState {
    dataset: Dataset,
    pace: Mutex<Pace>,
    /// Publication time of offset zero.
    anchor: DateTime<Utc>,
    /// Simulated seconds per real second (publication times are spread accordingly).
    speed: f64,
    /// Numbers the tracking parameter of feeds that have one.
    requests: AtomicU64,
}

/// How far into the dataset the server has got.
#[derive(Clone, Copy, Debug)]
enum Pace {
    /// Simulated time runs at `speed` from `started`.
    Running { started: Instant, speed: f64 },
    /// Simulated time stands at this many seconds.
    Held { at_secs: u64 },
}

impl ServerState {
    fn simulated_secs(&self) -> u64 {
        match *self.pace.lock().expect("pace lock") {
            Pace::Running { started, speed } => (started.elapsed().as_secs_f64() * speed) as u64,
            Pace::Held { at_secs } => at_secs,
        }
    }

    fn published(&self, post: &DemoPost) -> DateTime<Utc> {
        let real_secs = post.offset_secs as f64 / self.speed;
        self.anchor + TimeDelta::milliseconds((real_secs * 1000.0) as i64)
    }
}

impl FeedServer {
    /// Serve `dataset` with simulated time running `speed` times faster than real time
    /// (1.0 = the posts appear over the dataset's span; 10.0 = ten times faster).
    pub async fn start(dataset: Dataset, speed: f64) -> std::io::Result<FeedServer> {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        let pace = Pace::Running {
            started: Instant::now(),
            speed,
        };
        FeedServer::serve(dataset, pace, Utc::now().trunc_subsecs(0), speed).await
    }

    /// Serve `dataset` with simulated time standing at zero until released. Publication
    /// times are laid out so that the whole dataset ends now.
    pub async fn start_manual(dataset: Dataset) -> std::io::Result<FeedServer> {
        let span = TimeDelta::from_std(dataset.span()).unwrap_or_default();
        FeedServer::serve(
            dataset,
            Pace::Held { at_secs: 0 },
            Utc::now().trunc_subsecs(0) - span,
            1.0,
        )
        .await
    }

    async fn serve(
        dataset: Dataset,
        pace: Pace,
        anchor: DateTime<Utc>,
        speed: f64,
    ) -> std::io::Result<FeedServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let feeds = dataset
            .feeds
            .iter()
            .map(|spec| DemoFeed {
                name: spec.name.clone(),
                url: format!("http://{addr}/feeds/{}", spec.name),
                territory: spec.territory.clone(),
                community: spec.title.clone(),
                author_kind: spec.author_kind,
            })
            .collect();
        let state = Arc::new(ServerState {
            dataset,
            pace: Mutex::new(pace),
            anchor,
            speed,
            requests: AtomicU64::new(0),
        });
        let router = Router::new()
            .route("/feeds/{name}", get(serve_feed))
            .with_state(state.clone());
        let server =
            super::Loopback::spawn(listener, router, "demo feed server stopped with an error");
        tracing::info!(%addr, "demo feed server listening");
        Ok(FeedServer {
            addr,
            feeds,
            state,
            server,
        })
    }

    /// The URL of the feed called `name`.
    pub fn feed_url(&self, name: &str) -> Option<&str> {
        self.feeds
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.url.as_str())
    }

    /// Stop the clock at `offset` of simulated time: posts up to it are served, later ones
    /// not until released.
    pub fn release_until(&self, offset: Duration) {
        *self.state.pace.lock().expect("pace lock") = Pace::Held {
            at_secs: offset.as_secs(),
        };
    }

    /// Serve every post from now on.
    pub fn release_all(&self) {
        self.release_until(self.state.dataset.span());
    }

    /// How many posts are being served now.
    pub fn released(&self) -> usize {
        let now = self.state.simulated_secs();
        self.state
            .dataset
            .posts
            .iter()
            .filter(|p| p.offset_secs <= now)
            .count()
    }

    /// Whether every post is being served.
    pub fn all_released(&self) -> bool {
        self.released() == self.state.dataset.posts.len()
    }

    /// Stop accepting requests, let those in flight finish, and wait for the server task.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

async fn serve_feed(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(spec) = state.dataset.feed(&name) else {
        return (StatusCode::NOT_FOUND, "no such feed\n").into_response();
    };
    let now = state.simulated_secs();
    let mut posts: Vec<&DemoPost> = state
        .dataset
        .posts_of(&name)
        .filter(|p| p.offset_secs <= now)
        .collect();
    posts.reverse();

    let etag = format!("\"{}-{}\"", spec.name, posts.len());
    let modified = posts.first().map_or(state.anchor, |p| state.published(p));
    let last_modified = http_date(modified);
    if not_modified(&headers, &etag, modified) {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::LAST_MODIFIED, last_modified)],
        )
            .into_response();
    }

    let request = state.requests.fetch_add(1, Ordering::Relaxed);
    let xml = match spec.format {
        FeedFormat::Rss => render_rss(spec, &posts, &state, request),
        FeedFormat::Atom => render_atom(spec, &posts, &state, modified),
    };
    let (body, _, _) = spec.encoding.encoding().encode(&xml);
    let content_type = match spec.format {
        FeedFormat::Rss => format!("application/rss+xml; charset={}", spec.encoding.label()),
        FeedFormat::Atom => format!("application/atom+xml; charset={}", spec.encoding.label()),
    };
    let mut response = (StatusCode::OK, body.into_owned()).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::ETAG, etag),
        (header::LAST_MODIFIED, last_modified),
        (header::CACHE_CONTROL, "no-cache".to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

/// RFC 9110 §13.2.2: `If-None-Match` decides when present, else `If-Modified-Since`.
fn not_modified(headers: &HeaderMap, etag: &str, modified: DateTime<Utc>) -> bool {
    if let Some(tags) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return tags
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag);
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .is_some_and(|since| modified.timestamp() <= since.timestamp())
}

fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The date as the site writes it: standard RFC 2822 for news sites, by hand for villages.
fn site_date(spec: &FeedSpec, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&SITE_TZ);
    match spec.dates {
        DateStyle::Rfc2822 => local.to_rfc2822(),
        DateStyle::Numeric => local.format("%d.%m.%Y %H:%M").to_string(),
        DateStyle::Russian => {
            use chrono::Datelike;
            const MONTHS: [&str; 12] = [
                "января",
                "февраля",
                "марта",
                "апреля",
                "мая",
                "июня",
                "июля",
                "августа",
                "сентября",
                "октября",
                "ноября",
                "декабря",
            ];
            format!(
                "{} {} {}, {}",
                local.day(),
                MONTHS[local.month0() as usize],
                local.year(),
                local.format("%H:%M")
            )
        }
    }
}

fn render_rss(spec: &FeedSpec, posts: &[&DemoPost], state: &ServerState, request: u64) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"{}\"?>\n\
         <rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
         xmlns:yandex=\"http://news.yandex.ru\">\n<channel>\n\
         <title>{}</title>\n<link>{}</link>\n<description>{}</description>\n<language>ru</language>\n",
        spec.encoding.label(),
        crate::text::html_escape(&spec.title),
        crate::text::html_escape(&spec.site),
        crate::text::html_escape(&spec.description),
    );
    for post in posts {
        let link = if spec.tracking {
            format!("{}?utm_source=rss&utm_content={request}", post.link)
        } else {
            post.link.clone()
        };
        xml.push_str("<item>\n");
        if let Some(title) = &post.title {
            xml.push_str(&format!(
                "  <title>{}</title>\n",
                crate::text::html_escape(title)
            ));
        }
        xml.push_str(&format!(
            "  <link>{}</link>\n",
            crate::text::html_escape(&link)
        ));
        if spec.guids {
            xml.push_str(&format!(
                "  <guid isPermaLink=\"false\">{}</guid>\n",
                crate::text::html_escape(&post.id)
            ));
        }
        xml.push_str(&format!(
            "  <pubDate>{}</pubDate>\n  <dc:creator>{}</dc:creator>\n",
            site_date(spec, state.published(post)),
            crate::text::html_escape(&post.author)
        ));
        if spec.full_text {
            xml.push_str(&format!(
                "  <description>{}</description>\n  <yandex:full-text>{}</yandex:full-text>\n",
                crate::text::html_escape(&teaser(&post.text)),
                crate::text::html_escape(&post.text)
            ));
        } else {
            xml.push_str(&format!(
                "  <description>{}</description>\n",
                crate::text::html_escape(&as_html(&post.text))
            ));
        }
        xml.push_str("</item>\n");
    }
    xml.push_str("</channel>\n</rss>\n");
    xml
}

fn render_atom(
    spec: &FeedSpec,
    posts: &[&DemoPost],
    state: &ServerState,
    updated: DateTime<Utc>,
) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"{}\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"ru\">\n\
         <title>{}</title>\n<subtitle>{}</subtitle>\n<link href=\"{}\"/>\n\
         <id>{}</id>\n<updated>{}</updated>\n",
        spec.encoding.label(),
        crate::text::html_escape(&spec.title),
        crate::text::html_escape(&spec.description),
        crate::text::html_escape(&spec.site),
        crate::text::html_escape(&spec.site),
        updated.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    for post in posts {
        let published = state
            .published(post)
            .with_timezone(&SITE_TZ)
            .to_rfc3339_opts(SecondsFormat::Secs, false);
        xml.push_str(&format!(
            "<entry>\n  <id>tag:{},2026:{}</id>\n  <title>{}</title>\n  <link rel=\"alternate\" href=\"{}\"/>\n  \
             <published>{published}</published>\n  <updated>{published}</updated>\n  \
             <author><name>{}</name></author>\n  <content type=\"html\">{}</content>\n</entry>\n",
            crate::text::html_escape(host_of(&spec.site)),
            crate::text::html_escape(&post.id),
            crate::text::html_escape(post.title.as_deref().unwrap_or("")),
            crate::text::html_escape(&post.link),
            crate::text::html_escape(&post.author),
            crate::text::html_escape(&as_html(&post.text)),
        ));
    }
    xml.push_str("</feed>\n");
    xml
}

/// `admin-gy.example` of `https://admin-gy.example/`, the authority of a tag URI.
fn host_of(site: &str) -> &str {
    let rest = site.split_once("://").map_or(site, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// The first sentence, as news sites put in `<description>` next to the full text.
fn teaser(text: &str) -> String {
    match text.find(". ") {
        Some(end) => format!("{}.", &text[..end]),
        None => text.to_string(),
    }
}

/// Plain text as the simple HTML a site would publish.
fn as_html(text: &str) -> String {
    text.split('\n')
        .map(|p| format!("<p>{}</p>", crate::text::html_escape(p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn posts_appear_as_simulated_time_passes() {
        let data = Dataset::bundled();
        let total = data.posts.len();
        let manual = FeedServer::start_manual(data.clone()).await.unwrap();
        let at_start = manual.released();
        assert!(at_start < total);
        manual.release_until(Duration::from_secs(90));
        let halfway = manual.released();
        assert!(
            at_start < halfway && halfway < total,
            "{at_start} {halfway}"
        );
        manual.release_all();
        assert!(manual.all_released());
        manual.stop().await;

        // Five hundred simulated seconds per real second: the ~3 minutes pass in 0.36 s.
        let running = FeedServer::start(data, 500.0).await.unwrap();
        assert!(!running.all_released());
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert!(running.all_released());
        running.stop().await;
    }

    #[test]
    fn village_sites_write_dates_by_hand() {
        let data = Dataset::bundled();
        let at = DateTime::parse_from_rfc3339("2026-11-26T11:05:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let date = |name: &str| site_date(data.feed(name).unwrap(), at);
        assert_eq!(date("velikoe-selo"), "26.11.2026 14:05");
        assert_eq!(date("shopsha-okrestnosti"), "26 ноября 2026, 14:05");
        assert_eq!(date("podslushano-gy"), "Thu, 26 Nov 2026 14:05:00 +0300");
    }

    #[test]
    fn validators_decide_not_modified() {
        let modified = DateTime::parse_from_rfc3339("2026-11-26T11:05:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut headers = HeaderMap::new();
        assert!(!not_modified(&headers, "\"a-1\"", modified));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"a-1\""));
        assert!(not_modified(&headers, "\"a-1\"", modified));
        assert!(!not_modified(&headers, "\"a-2\"", modified));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_str(&http_date(modified)).unwrap(),
        );
        assert!(not_modified(&headers, "\"a-1\"", modified));
        assert!(!not_modified(
            &headers,
            "\"a-1\"",
            modified + TimeDelta::seconds(1)
        ));
    }
}
