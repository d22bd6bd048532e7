//! The RSS/Atom source against loopback peers: the demo feed server (real feeds of every
//! flavour the source must read) and small purpose-built servers for each way a feed can
//! go wrong.

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use otklik::config::{HttpSettings, RssSourceConfig};
use otklik::demo::dataset::Dataset;
use otklik::demo::feeds::FeedServer;
use otklik::model::{AuthorKind, Platform, Post};
use otklik::sources::http::HttpClient;
use otklik::sources::rss::RssSource;
use otklik::sources::{Batch, Cursor, Source, SourceError};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn client_with(settings: HttpSettings) -> HttpClient {
    HttpClient::new(&settings).expect("client builds")
}

fn client() -> HttpClient {
    client_with(HttpSettings {
        timeout_secs: 5,
        connect_timeout_secs: 2,
        ..HttpSettings::default()
    })
}

fn feed_config(name: &str, url: String) -> RssSourceConfig {
    RssSourceConfig {
        name: name.to_string(),
        url,
        territory: Some("velikoe".into()),
        community: None,
        author_kind: AuthorKind::Media,
        poll: None,
        enabled: true,
        timezone: chrono_tz::Europe::Moscow,
    }
}

async fn fetch(source: &mut RssSource, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
    tokio::time::timeout(Duration::from_secs(20), source.fetch(cursor))
        .await
        .expect("fetch finishes")
}

/// Serve `router` on an ephemeral loopback port.
async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// Serve one fixed reply (status, content type, body) at `/feed`.
async fn serve_fixed(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> String {
    let router = Router::new().route(
        "/feed",
        get(move || {
            let body = body.clone();
            async move { (status, [(header::CONTENT_TYPE, content_type)], body) }
        }),
    );
    format!("http://{}/feed", serve(router).await)
}

fn texts(posts: &[Post]) -> BTreeSet<String> {
    posts.iter().map(|p| p.text.clone()).collect()
}

// ---------------------------------------------------------------------------------------
// The demo server: every flavour of feed, read right

#[tokio::test]
async fn every_demo_feed_is_read_with_its_texts_intact() {
    let dataset = Dataset::bundled();
    let server = FeedServer::start_manual(dataset.clone()).await.unwrap();
    server.release_all();
    let configs: Vec<RssSourceConfig> = server.feeds.iter().map(|f| f.source_config()).collect();
    let mut with_one_disabled = configs.clone();
    with_one_disabled[0].enabled = false;
    let sources = otklik::sources::rss::enabled_sources(&with_one_disabled, &client());
    assert_eq!(sources.len(), dataset.feeds.len() - 1);
    assert!(sources.iter().all(|s| s.name() != configs[0].name));
    assert!(sources.iter().all(|s| s.platform() == Platform::Rss));
    for feed in &server.feeds {
        let spec = dataset.feed(&feed.name).unwrap();
        let mut source = RssSource::new(&feed.source_config(), client());
        let batch = fetch(&mut source, None).await.unwrap_or_else(|e| {
            panic!(
                "{} ({:?}, {:?}): {e}",
                feed.name, spec.format, spec.encoding
            )
        });
        let expected: BTreeSet<String> = dataset
            .posts_of(&feed.name)
            .map(|p| p.text.clone())
            .collect();
        // Byte-exact Cyrillic through RSS and Atom, UTF-8, windows-1251 and KOI8-R,
        // HTML descriptions and yandex:full-text.
        assert_eq!(texts(&batch.posts), expected, "feed {}", feed.name);
        assert!(batch.changed);
        for post in &batch.posts {
            assert_eq!(post.key.platform, Platform::Rss);
            assert!(post.key.native_id.starts_with(&format!("{}:", feed.name)));
            assert_eq!(post.source, feed.name);
            assert_eq!(post.community, spec.title);
            assert_eq!(post.community_territory, spec.territory);
            assert_eq!(post.author_kind, spec.author_kind);
            assert!(post.url.as_deref().unwrap().contains(".example/"));
            assert!(post.author.is_some(), "{}: no author", feed.name);
            // The date came from the feed (hand-written village dates included), not from
            // the fallback to the fetch time.
            assert_ne!(
                post.published, post.fetched,
                "{}: date not parsed",
                feed.name
            );
            assert!(post.published <= post.fetched + chrono::Duration::seconds(1));
            assert!(post.published > post.fetched - chrono::Duration::minutes(10));
        }
        let titled = dataset
            .posts_of(&feed.name)
            .filter(|p| p.title.is_some())
            .count();
        assert_eq!(
            batch.posts.iter().filter(|p| p.title.is_some()).count(),
            titled,
            "feed {}",
            feed.name
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn unchanged_feed_costs_a_304_and_new_posts_arrive_once() {
    let dataset = Dataset::bundled();
    let server = FeedServer::start_manual(dataset.clone()).await.unwrap();
    let name = "podslushano-gy";
    let offsets: Vec<u64> = dataset.posts_of(name).map(|p| p.offset_secs).collect();
    let half = offsets[offsets.len() / 2];
    server.release_until(Duration::from_secs(half));
    let feed = server.feeds.iter().find(|f| f.name == name).unwrap();
    let mut source = RssSource::new(&feed.source_config(), client());

    let first = fetch(&mut source, None).await.unwrap();
    let released = offsets.iter().filter(|o| **o <= half).count();
    assert_eq!(first.posts.len(), released);
    let cursor = first.cursor.expect("a full response yields a cursor");
    assert!(cursor["etag"].is_string() && cursor["last_modified"].is_string());

    // Same feed again: the server answers 304, which alone leaves the cursor untouched.
    let second = fetch(&mut source, Some(&cursor)).await.unwrap();
    assert!(second.posts.is_empty());
    assert!(!second.changed);
    assert!(second.cursor.is_none(), "a 304 keeps the previous cursor");

    server.release_all();
    let third = fetch(&mut source, Some(&cursor)).await.unwrap();
    assert!(third.changed);
    assert_eq!(third.posts.len(), offsets.len() - released);
    let earlier: BTreeSet<_> = first.posts.iter().map(|p| p.key.clone()).collect();
    assert!(third.posts.iter().all(|p| !earlier.contains(&p.key)));
    server.stop().await;
}

#[tokio::test]
async fn a_server_with_only_last_modified_gets_if_modified_since() {
    const STAMP: &str = "Thu, 26 Nov 2026 10:00:00 GMT";
    let not_modified = Arc::new(AtomicU64::new(0));
    let counter = not_modified.clone();
    let router = Router::new().route(
        "/feed",
        get(move |headers: axum::http::HeaderMap| {
            let counter = counter.clone();
            async move {
                assert!(headers.get(header::IF_NONE_MATCH).is_none());
                let accept = headers.get(header::ACCEPT).unwrap().to_str().unwrap();
                assert!(accept.starts_with("application/rss+xml"), "{accept}");
                let agent = headers.get(header::USER_AGENT).unwrap().to_str().unwrap();
                assert!(agent.starts_with("otklik/"), "{agent}");
                if headers
                    .get(header::IF_MODIFIED_SINCE)
                    .and_then(|v| v.to_str().ok())
                    == Some(STAMP)
                {
                    counter.fetch_add(1, Ordering::Relaxed);
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                (
                    [
                        (header::LAST_MODIFIED, STAMP),
                        (header::CONTENT_TYPE, "application/rss+xml"),
                    ],
                    CYRILLIC_FEED,
                )
                    .into_response()
            }
        }),
    );
    let url = format!("http://{}/feed", serve(router).await);
    let mut source = RssSource::new(&feed_config("lm-only", url), client());
    let first = fetch(&mut source, None).await.unwrap();
    assert_eq!(first.posts.len(), 1);
    let cursor = first.cursor.unwrap();
    let second = fetch(&mut source, Some(&cursor)).await.unwrap();
    assert!(second.posts.is_empty() && !second.changed && second.cursor.is_none());
    assert_eq!(not_modified.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn items_without_guid_keep_their_ids_despite_tracking_parameters() {
    let server = FeedServer::start_manual(Dataset::bundled()).await.unwrap();
    server.release_all();
    let feed = server
        .feeds
        .iter()
        .find(|f| f.name == "podslushano-gy")
        .unwrap();
    let mut source = RssSource::new(&feed.source_config(), client());
    // Two independent first reads: the server writes a different utm_content each time.
    let a = fetch(&mut source, None).await.unwrap().posts;
    let b = fetch(&mut source, None).await.unwrap().posts;
    let urls = |posts: &[Post]| posts.iter().map(|p| p.url.clone()).collect::<BTreeSet<_>>();
    assert_ne!(urls(&a), urls(&b), "the links are volatile");
    assert!(a[0].url.as_deref().unwrap().contains("utm_content="));
    let keys = |posts: &[Post]| posts.iter().map(|p| p.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&a), keys(&b));
    assert_eq!(
        keys(&a).into_iter().collect::<BTreeSet<_>>().len(),
        a.len(),
        "ids are distinct"
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Encodings the headers and declarations disagree about

const CYRILLIC_FEED: &str = "<rss version=\"2.0\"><channel><title>Заячий-Холм онлайн</title>\
    <item><guid>z1</guid><title>Собаки у магазина</title>\
    <description>Стая бродячих собак у магазина в Заячьем-Холме, «опасно» — пишите!</description>\
    <pubDate>26 ноября 2026, 14:05</pubDate></item></channel></rss>";

async fn read_single(name: &str, url: String) -> Post {
    let mut source = RssSource::new(&feed_config(name, url), client());
    let mut batch = fetch(&mut source, None).await.unwrap();
    assert_eq!(batch.posts.len(), 1);
    batch.posts.remove(0)
}

fn assert_cyrillic_intact(post: &Post) {
    assert_eq!(post.community, "Заячий-Холм онлайн");
    assert_eq!(post.title.as_deref(), Some("Собаки у магазина"));
    assert_eq!(
        post.text,
        "Стая бродячих собак у магазина в Заячьем-Холме, «опасно» — пишите!"
    );
    assert_eq!(post.published.to_rfc3339(), "2026-11-26T11:05:00+00:00");
}

#[tokio::test]
async fn windows_1251_declared_only_in_the_xml_is_decoded() {
    let xml = format!("<?xml version=\"1.0\" encoding=\"windows-1251\"?>\n{CYRILLIC_FEED}");
    let (body, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&xml);
    assert!(!unmappable);
    // The server claims UTF-8 (a common nginx default): the document knows better.
    let url = serve_fixed(StatusCode::OK, "text/xml; charset=utf-8", body.into_owned()).await;
    assert_cyrillic_intact(&read_single("cp1251", url).await);
}

#[tokio::test]
async fn koi8_r_named_only_by_the_content_type_is_decoded() {
    // KOI8-R has no «» or —: the encoder writes them as character references, as sites do.
    let (body, _, _) = encoding_rs::KOI8_R.encode(CYRILLIC_FEED);
    assert!(body.windows(6).any(|w| w == b"&#171;"));
    let url = serve_fixed(
        StatusCode::OK,
        "application/rss+xml; charset=KOI8-R",
        body.into_owned(),
    )
    .await;
    assert_cyrillic_intact(&read_single("koi8", url).await);
}

#[tokio::test]
async fn a_utf8_bom_wins_over_a_wrong_header() {
    let mut body = vec![0xEF, 0xBB, 0xBF];
    body.extend_from_slice(format!("<?xml version=\"1.0\"?>{CYRILLIC_FEED}").as_bytes());
    let url = serve_fixed(StatusCode::OK, "text/xml; charset=windows-1251", body).await;
    assert_cyrillic_intact(&read_single("bom", url).await);
}

#[tokio::test]
async fn a_hand_made_village_feed_is_read_as_well_as_it_can_be() {
    // No version on <rss>, an item repeated, an item without a date, HTML with entities.
    let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss><channel><title>Митино онлайн</title>\
        <item><guid>m1</guid><description>&lt;p&gt;Света нет с ночи,&amp;nbsp;мороз&lt;/p&gt;&lt;p&gt;Когда дадут?&lt;/p&gt;</description>\
        <pubDate>26.11.2026 09:40</pubDate></item>\
        <item><guid>m1</guid><description>&lt;p&gt;Света нет с ночи&lt;/p&gt;</description></item>\
        <item><guid>m2</guid><description>Спасибо энергетикам!</description></item>\
        </channel></rss>";
    let url = serve_fixed(StatusCode::OK, "application/xml", xml.as_bytes().to_vec()).await;
    let mut source = RssSource::new(&feed_config("mitino", url), client());
    let batch = fetch(&mut source, None).await.unwrap();
    assert_eq!(batch.posts.len(), 2, "a repeated item is delivered once");
    let first = &batch.posts[0];
    assert_eq!(first.key.native_id, "mitino:m1");
    assert_eq!(first.community, "Митино онлайн");
    assert_eq!(first.text, "Света нет с ночи, мороз\nКогда дадут?");
    assert_eq!(first.published.to_rfc3339(), "2026-11-26T06:40:00+00:00");
    assert_eq!(batch.posts[1].published, batch.posts[1].fetched);
    let cursor = batch.cursor.unwrap();
    assert_eq!(cursor["seen"], serde_json::json!(["m1", "m2"]));
}

// ---------------------------------------------------------------------------------------
// Broken, hostile and oversized replies

fn transient(result: Result<Batch, SourceError>) -> String {
    match result {
        Err(SourceError::Transient(message)) => message,
        other => panic!("expected a transient error, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_xml_is_a_transient_error_naming_the_source() {
    let url = serve_fixed(
        StatusCode::OK,
        "application/rss+xml",
        b"<rss version=\"2.0\"><channel><title>x</title><item><title>a</itme></channel></rss>"
            .to_vec(),
    )
    .await;
    let mut source = RssSource::new(&feed_config("broken-feed", url.clone()), client());
    let message = transient(fetch(&mut source, None).await);
    assert!(
        message.contains("broken-feed") && message.contains(&url),
        "{message}"
    );
    assert!(message.contains("not well-formed"), "{message}");
}

#[tokio::test]
async fn an_html_page_instead_of_a_feed_is_refused() {
    let url = serve_fixed(
        StatusCode::OK,
        "text/html; charset=utf-8",
        b"<!DOCTYPE html><html><body><h1>Site under maintenance</h1></body></html>".to_vec(),
    )
    .await;
    let mut source = RssSource::new(&feed_config("html-feed", url), client());
    let message = transient(fetch(&mut source, None).await);
    assert!(message.contains("neither RSS nor Atom"), "{message}");
}

#[tokio::test]
async fn a_document_cut_short_is_refused_as_truncated() {
    let full = "<rss version=\"2.0\"><channel><title>x</title>\
                <item><guid>1</guid><title>Нет воды на Менжинского</title></item>\
                <item><guid>2</guid><title>Яма у автовокзала</title></item></channel></rss>";
    // Cut right after the second item's guid: every tag so far is complete.
    let cut = full.as_bytes()[..full.find("<item><guid>2</guid>").unwrap() + 20].to_vec();
    let url = serve_fixed(StatusCode::OK, "application/rss+xml", cut).await;
    let mut source = RssSource::new(&feed_config("cut-feed", url), client());
    let message = transient(fetch(&mut source, None).await);
    assert!(
        message.contains("truncated") && message.contains("cut-feed"),
        "{message}"
    );
}

#[tokio::test]
async fn a_connection_closed_mid_body_is_transient() {
    // A raw peer: promises 5000 bytes, sends a few hundred, hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let partial = "<rss version=\"2.0\"><channel><title>x</title><item><title>Обры";
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\
                        Content-Length: 5000\r\nConnection: close\r\n\r\n";
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(partial.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    let url = format!("http://{addr}/feed");
    let mut source = RssSource::new(&feed_config("hangup-feed", url.clone()), client());
    let message = transient(fetch(&mut source, None).await);
    assert!(
        message.contains("hangup-feed") && message.contains(&url),
        "{message}"
    );
    assert!(message.contains("broke off"), "{message}");
}

/// A 50 MB feed produced chunk by chunk, counting what was actually produced.
fn huge_stream(produced: Arc<AtomicU64>) -> Body {
    const TOTAL: u64 = 50 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let head = bytes::Bytes::from_static(b"<rss version=\"2.0\"><channel><title>x</title>");
    let filler = bytes::Bytes::from(vec![b' '; CHUNK]);
    let chunks =
        std::iter::once(head).chain(std::iter::repeat_n(filler, (TOTAL / CHUNK as u64) as usize));
    let stream = futures_util::stream::iter(chunks).map(move |chunk| {
        produced.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        Ok::<_, std::io::Error>(chunk)
    });
    Body::from_stream(stream)
}

use futures_util::StreamExt;

#[tokio::test]
async fn a_body_over_the_size_limit_is_refused_while_streaming() {
    let produced = Arc::new(AtomicU64::new(0));
    let counter = produced.clone();
    let router = Router::new().route(
        "/feed",
        get(move || {
            let counter = counter.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, "application/rss+xml")],
                    huge_stream(counter),
                )
            }
        }),
    );
    let url = format!("http://{}/feed", serve(router).await);
    let limit = 1024 * 1024;
    let http = client_with(HttpSettings {
        max_body_bytes: limit,
        timeout_secs: 10,
        ..HttpSettings::default()
    });
    let mut source = RssSource::new(&feed_config("huge-feed", url), http);
    let message = transient(fetch(&mut source, None).await);
    assert!(
        message.contains(&format!("limit of {limit} bytes")),
        "{message}"
    );
    assert!(message.contains("huge-feed"), "{message}");
    // The reader stopped early; back-pressure kept the peer from producing the rest.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = produced.load(Ordering::Relaxed);
    assert!(sent < 20 * 1024 * 1024, "the peer produced {sent} bytes");
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_reading() {
    let produced = Arc::new(AtomicU64::new(0));
    let counter = produced.clone();
    let router = Router::new().route(
        "/feed",
        get(move || {
            let counter = counter.clone();
            async move {
                (
                    [
                        (header::CONTENT_TYPE, "application/rss+xml".to_string()),
                        (header::CONTENT_LENGTH, (50 * 1024 * 1024 + 45).to_string()),
                    ],
                    huge_stream(counter),
                )
                    .into_response()
            }
        }),
    );
    let url = format!("http://{}/feed", serve(router).await);
    let mut source = RssSource::new(&feed_config("declared-huge", url), client());
    let message = transient(fetch(&mut source, None).await);
    assert!(message.contains("declares 52428845 bytes"), "{message}");
    assert!(message.contains("limit of 8388608 bytes"), "{message}");
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_at_the_limit_of_the_decompressed_size() {
    use std::io::Write;
    // 50 MB of feed that compresses to about 50 KB.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(b"<rss version=\"2.0\"><channel><title>x</title>")
        .unwrap();
    let filler = vec![b' '; 1024 * 1024];
    for _ in 0..50 {
        encoder.write_all(&filler).unwrap();
    }
    let compressed = encoder.finish().unwrap();
    assert!(compressed.len() < 1024 * 1024);
    let router = Router::new().route(
        "/feed",
        get(move || {
            let compressed = compressed.clone();
            async move {
                (
                    [
                        (header::CONTENT_TYPE, "application/rss+xml"),
                        (header::CONTENT_ENCODING, "gzip"),
                    ],
                    compressed,
                )
            }
        }),
    );
    let url = format!("http://{}/feed", serve(router).await);
    let limit = 2 * 1024 * 1024;
    let http = client_with(HttpSettings {
        max_body_bytes: limit,
        ..HttpSettings::default()
    });
    let mut source = RssSource::new(&feed_config("gzip-bomb", url), http);
    let message = transient(fetch(&mut source, None).await);
    assert!(
        message.contains(&format!("limit of {limit} bytes")),
        "{message}"
    );
}

#[tokio::test]
async fn an_xml_bomb_is_refused_quickly_and_harmlessly() {
    let mut doctype = String::from("<!DOCTYPE rss [<!ENTITY lol \"lol\">");
    for level in 1..=9 {
        let previous = if level == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", level - 1)
        };
        doctype.push_str(&format!(
            "<!ENTITY lol{level} \"{}\">",
            format!("&{previous};").repeat(10)
        ));
    }
    doctype.push_str("<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>");
    let body = format!(
        "<?xml version=\"1.0\"?>{doctype}<rss version=\"2.0\"><channel><title>&xxe;</title>\
         <item><guid>1</guid><title>&lol9;</title></item></channel></rss>"
    );
    let url = serve_fixed(StatusCode::OK, "application/rss+xml", body.into_bytes()).await;
    let mut source = RssSource::new(&feed_config("bomb-feed", url), client());
    let started = Instant::now();
    let message = transient(fetch(&mut source, None).await);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        message.contains("bomb-feed") && message.contains("entities"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------------
// What the server says, classified for the poller

#[tokio::test]
async fn a_slow_server_hits_the_timeout() {
    let router = Router::new().route(
        "/feed",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            "<rss version=\"2.0\"><channel><title>x</title></channel></rss>"
        }),
    );
    let url = format!("http://{}/feed", serve(router).await);
    let http = client_with(HttpSettings {
        timeout_secs: 1,
        ..HttpSettings::default()
    });
    let mut source = RssSource::new(&feed_config("slow-feed", url), http);
    let started = Instant::now();
    let message = transient(fetch(&mut source, None).await);
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(
        message.contains("no complete reply") && message.contains("within 1 s"),
        "{message}"
    );
}

#[tokio::test]
async fn statuses_map_to_what_the_poller_should_do() {
    let router = Router::new()
        .route("/gone", get(|| async { StatusCode::NOT_FOUND }))
        .route("/forbidden", get(|| async { StatusCode::FORBIDDEN }))
        .route("/down", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route(
            "/busy",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "120")],
                )
            }),
        );
    let addr = serve(router).await;
    let mut results = HashMap::new();
    for path in ["gone", "forbidden", "down", "busy"] {
        let url = format!("http://{addr}/{path}");
        let mut source = RssSource::new(&feed_config(&format!("feed-{path}"), url), client());
        results.insert(path, fetch(&mut source, None).await.unwrap_err());
    }
    match &results["gone"] {
        SourceError::Disabled(m) => {
            assert!(
                m.contains("404") && m.contains("feed-gone") && m.contains("/gone"),
                "{m}"
            )
        }
        other => panic!("404: {other:?}"),
    }
    assert!(matches!(&results["forbidden"], SourceError::Disabled(m) if m.contains("403")));
    assert!(matches!(&results["down"], SourceError::Transient(m) if m.contains("503")));
    match &results["busy"] {
        SourceError::RetryAfter {
            retry_after,
            message,
        } => {
            assert_eq!(*retry_after, Duration::from_secs(120));
            assert!(message.contains("429"), "{message}");
        }
        other => panic!("429: {other:?}"),
    }
}

#[tokio::test]
async fn nobody_listening_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut source = RssSource::new(
        &feed_config("dead-feed", format!("http://{addr}/")),
        client(),
    );
    let message = transient(fetch(&mut source, None).await);
    assert!(message.contains("cannot connect"), "{message}");
}

#[test]
fn the_feed_time_zone_is_configured_by_its_iana_name() {
    let parse = |extra: &str| {
        toml::from_str::<RssSourceConfig>(&format!(
            "name = \"f\"\nurl = \"https://f.example/rss\"\n{extra}"
        ))
    };
    assert_eq!(parse("").unwrap().timezone, chrono_tz::Europe::Moscow);
    assert_eq!(
        parse("timezone = \"Asia/Yekaterinburg\"").unwrap().timezone,
        chrono_tz::Asia::Yekaterinburg
    );
    let error = parse("timezone = \"Mars/Olympus\"")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("unknown time zone \"Mars/Olympus\""),
        "{error}"
    );
}

#[tokio::test]
async fn an_unusable_url_disables_the_source() {
    for url in ["ftp://files.example/rss.xml", "not a url at all"] {
        let mut source = RssSource::new(&feed_config("bad-url", url.to_string()), client());
        match fetch(&mut source, None).await {
            Err(SourceError::Disabled(m)) => {
                assert!(m.contains("bad-url") && m.contains(url), "{m}")
            }
            other => panic!("{url}: {other:?}"),
        }
    }
}
