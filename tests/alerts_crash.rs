//! Invariant 6 under SIGKILL: the real binary delivers outbox alerts to a slow webhook and is
//! killed at random moments. After a clean final run every alert was delivered; a repeat is
//! possible only for a send the kill interrupted, and then it carries the same idempotency key.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::*;
use hmac::{Hmac, Mac};
use otklik::store::{Alert, AlertKind, DeliveryState, Store, WriteBatch};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "crash-test-webhook-secret";
const PERSONS: usize = 32;

type Seen = Arc<Mutex<Vec<(String, Vec<u64>)>>>;

async fn receive(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(header("x-otklik-timestamp").as_bytes());
    mac.update(b".");
    mac.update(&body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if header("x-otklik-signature") != format!("sha256={hex}") {
        return StatusCode::UNAUTHORIZED;
    }
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let alerts = json["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    seen.lock()
        .unwrap()
        .push((header("idempotency-key").to_string(), alerts));
    // Taken in, but answered slowly: a kill meanwhile leaves the sender not knowing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    StatusCode::OK
}

/// The receiver on its own runtime thread; returns its address.
fn start_receiver(seen: Seen) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new()
                .route("/hook", axum::routing::post(receive))
                .with_state(seen);
            axum::serve(listener, app).await.unwrap();
        });
    });
    addr
}

#[test]
fn sigkill_during_delivery_loses_no_alert_and_repeats_keep_their_key() {
    let seen: Seen = Default::default();
    let addr = start_receiver(seen.clone());
    let dir = tempfile::tempdir().unwrap();
    let people = dir.path().join("people.toml");
    let mut text = String::new();
    for i in 0..PERSONS {
        text.push_str(&format!(
            "[[person]]\nid = \"p{i:02}\"\nname = \"Сотрудник {i}\"\nroles = []\nwebhook = \"hook\"\n\n"
        ));
    }
    std::fs::write(&people, text).unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("otklik.toml");
    let extra = format!(
        "[alerts]\ngroup_wait_secs = 0\nquiet_from = \"\"\nquiet_until = \"\"\nretry_initial_secs = 1\nretry_max_secs = 1\nconcurrency = 4\n\n[[alerts.webhooks]]\nname = \"hook\"\nurl = \"http://{addr}/hook\"\nsecret = \"{SECRET}\"\n"
    );
    let text = config_text(&data, &extra).replace(
        &repo_config().join("people.toml").display().to_string(),
        &people.display().to_string(),
    );
    std::fs::write(&config, text).unwrap();

    // The alerts, written as business logic writes them, before the daemon first starts.
    {
        let store = Store::open(&data.join("store")).unwrap();
        for i in 0..PERSONS {
            let mut batch = WriteBatch::default();
            let id = store.reserve_alert_id(&mut batch, &mut None).unwrap();
            batch.put_alert(&Alert {
                id,
                at: chrono::Utc::now(),
                kind: AlertKind::Reminder,
                incident: Some(i as u64 + 1),
                roles: vec![],
                persons: vec![format!("p{i:02}")],
                urgent: false,
                title: format!("Напоминание {i}"),
                body: String::new(),
            });
            store.commit(batch).unwrap();
        }
    }

    let log = dir.path().join("daemon.log");
    let mut rng = fastrand::Rng::with_seed(6);
    for round in 0..8 {
        let mut daemon = spawn_daemon(&config, &log);
        std::thread::sleep(Duration::from_millis(rng.u64(400..1400)));
        daemon.kill().unwrap(); // SIGKILL
        daemon.wait().unwrap();
        eprintln!(
            "round {round}: killed with {} requests received",
            seen.lock().unwrap().len()
        );
    }

    let mut daemon = spawn_daemon(&config, &log);
    let expected: BTreeSet<u64> = (1..=PERSONS as u64).collect();
    let all = wait_until(Duration::from_secs(60), || {
        let got: BTreeSet<u64> = seen
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, a)| a.clone())
            .collect();
        got == expected
    });
    if !all {
        let _ = daemon.kill();
        panic!(
            "not every alert delivered; daemon log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    // Let the worker record the last answers before stopping.
    std::thread::sleep(Duration::from_secs(2));
    send_signal(&daemon, "TERM");
    assert!(daemon.wait().unwrap().success());

    let seen = seen.lock().unwrap().clone();
    let mut keys: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for (key, alerts) in &seen {
        for a in alerts {
            keys.entry(*a).or_default().insert(key.clone());
        }
    }
    for (alert, keys) in &keys {
        assert_eq!(
            keys.len(),
            1,
            "alert {alert} came with different keys: {keys:?}"
        );
    }
    eprintln!(
        "{} requests for {} alerts ({} repeats of interrupted sends)",
        seen.len(),
        PERSONS,
        seen.len() - PERSONS
    );
    let store = Store::open(&data.join("store")).unwrap();
    assert_eq!(store.delivery_count(DeliveryState::Pending), 0);
    assert_eq!(store.delivery_count(DeliveryState::Dead), 0);
    let delivered: BTreeSet<u64> = store
        .deliveries(DeliveryState::Delivered)
        .unwrap()
        .iter()
        .flat_map(|d| d.alerts.clone())
        .collect();
    assert_eq!(delivered, expected);
}
