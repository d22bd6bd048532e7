//! A loopback RSS server whose feed grows: posts appear at a steady rate, every released
//! post stays in the feed (so whatever is missing later is the reader's fault, not the feed's).

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct GrowingFeed {
    pub addr: SocketAddr,
    pub total: usize,
    started: Instant,
    per_post: Duration,
    _runtime: tokio::runtime::Runtime,
}

struct Shared {
    started: Instant,
    per_post: Duration,
    total: usize,
}

impl GrowingFeed {
    /// Serve `total` posts, one every `per_post`, on a runtime of its own.
    pub fn start(total: usize, per_post: Duration) -> GrowingFeed {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let started = Instant::now();
        let shared = Arc::new(Shared {
            started,
            per_post,
            total,
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/rss", get(feed)).with_state(shared);
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        GrowingFeed {
            addr,
            total,
            started,
            per_post,
            _runtime: runtime,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/rss", self.addr)
    }

    pub fn released(&self) -> usize {
        released(self.started, self.per_post, self.total)
    }
}

fn released(started: Instant, per_post: Duration, total: usize) -> usize {
    ((started.elapsed().as_millis() / per_post.as_millis().max(1)) as usize + 1).min(total)
}

/// The guid of post `i`.
pub fn guid(i: usize) -> String {
    format!("crash-{i:05}")
}

async fn feed(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let n = released(shared.started, shared.per_post, shared.total);
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Тестовая лента</title><link>http://test/</link>",
    );
    for i in (0..n).rev() {
        xml.push_str(&format!(
            "<item><guid>{}</guid><title>Сообщение {i}</title><link>http://test/{i}</link><pubDate>Thu, 26 Nov 2026 10:{:02}:{:02} +0300</pubDate><description>На улице Советской опять яма номер {i}, жители просят отремонтировать дорогу</description></item>",
            guid(i),
            (i / 60) % 60,
            i % 60
        ));
    }
    xml.push_str("</channel></rss>");
    (
        [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
        xml,
    )
}
