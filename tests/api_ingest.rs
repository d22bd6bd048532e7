//! The ingest endpoint over real HTTP: tokens, sizes, malformed bodies, durability,
//! deduplication, and the health and metrics endpoints.

use otklik::api::{IngestClient, IngestReply, token_hash};
use otklik::config::Loaded;
use std::time::Duration;

const TOKEN: &str = "test-token-0123456789";

async fn daemon(dir: &std::path::Path) -> otklik::daemon::Running {
    let mut loaded = Loaded::embedded(dir.to_path_buf());
    loaded.settings.index.commit_interval_secs = 1;
    loaded.settings.api.listen = "127.0.0.1:0".into();
    loaded.settings.api.max_body_bytes = 64 * 1024;
    loaded.settings.api.ingest = vec![IngestClient {
        name: "export".into(),
        token_sha256: token_hash(TOKEN),
        territory: Some("shopsha".into()),
    }];
    let (activity, _) = tokio::sync::broadcast::channel(16);
    otklik::daemon::start(&loaded, Vec::new(), activity)
        .await
        .unwrap()
}

fn post(id: &str, text: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "text": text, "published": "2026-11-26T09:15:00+03:00", "author": format!("Житель {id}")})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_posts_are_stored_once_and_refusals_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let running = daemon(dir.path()).await;
    let base = format!("http://{}", running.api_addr.unwrap());
    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/ingest");

    // No token, a wrong token.
    let r = client
        .post(&url)
        .json(&post("1", "текст"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Bearer"));
    let r = client
        .post(&url)
        .bearer_auth("nope")
        .json(&post("1", "текст"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Malformed JSON, a missing field, an unknown platform, a huge body.
    let r = client
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{\"id\": \"1\", \"text\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&serde_json::json!([post("1", "текст"), {"id": "2", "published": "2026-11-26T09:15:00Z"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("post 1") && text.contains("text"), "{text}");
    let mut bad = post("3", "текст");
    bad["platform"] = "facebook".into();
    let r = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("facebook"));
    let huge = post("4", &"яма ".repeat(40_000));
    let r = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        running.store.post_count(),
        0,
        "nothing is stored from refused requests"
    );

    // A good batch, then the same again.
    let batch = serde_json::json!([
        post("10", "В Шопше третий день нет воды, когда дадут?"),
        post("11", "Поздравляем всех с праздником!"),
    ]);
    let r = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let reply: IngestReply = r.json().await.unwrap();
    assert_eq!(
        reply,
        IngestReply {
            received: 2,
            stored: 2,
            duplicates: 0
        }
    );
    let r = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&batch)
        .send()
        .await
        .unwrap();
    let reply: IngestReply = r.json().await.unwrap();
    assert_eq!(
        reply,
        IngestReply {
            received: 2,
            stored: 0,
            duplicates: 2
        }
    );

    // Durable when answered; keyed under the collector; its home territory applied.
    let stored = running
        .store
        .post_by_key(&otklik::model::PostKey::new(
            otklik::model::Platform::Ingest,
            "export:10",
        ))
        .unwrap()
        .expect("stored under the collector's name");
    assert_eq!(stored.post.community_territory.as_deref(), Some("shopsha"));
    assert!(stored.understanding.incident);
    assert!(stored.incident.is_some(), "a complaint opens an incident");

    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("otklik_ingest_posts_stored_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("otklik_ingest_rejected_total 6"),
        "{metrics}"
    );
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The daemon's own command-line tools read source health with its control token.
    let control = otklik::control::read(dir.path()).unwrap().unwrap();
    let sources: serde_json::Value = client
        .get(format!("{base}/api/v1/sources"))
        .bearer_auth(&control.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(sources["sources"].is_array());

    tokio::time::timeout(
        Duration::from_secs(10),
        running.shutdown(Duration::from_secs(5)),
    )
    .await
    .expect("shutdown within 10 s")
    .unwrap();
}
