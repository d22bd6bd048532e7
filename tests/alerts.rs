//! Alerts end to end: the outbox worker against a real SMTP server (aiosmtpd, installed by
//! `scripts/test`), a Telegram Bot API mock with the real response shapes, and a webhook
//! receiver that verifies the signature as the documentation tells receivers to.

mod common;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use otklik::alerts::{AlertSettings, Outbox, WebhookSettings};
use otklik::org::Org;
use otklik::people::People;
use otklik::store::{Alert, AlertKind, DeliveryState, Store, WriteBatch};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "webhook-secret-for-tests";

const PEOPLE: &str = r#"
[[person]]
id = "petrov"
name = "Петров Пётр Петрович, начальник управления ЖКХ"
roles = ["head:zhkh"]
email = "petrov@gavyam.example"
telegram_chat_id = 1001
webhook = "hook"

[[person]]
id = "silent"
name = "Без контактов"
roles = ["admin"]
"#;

/// Settings for tests: no quiet hours (tests run at any hour), short waits.
fn settings() -> AlertSettings {
    AlertSettings {
        public_url: "http://otklik.test".into(),
        group_wait_secs: 0,
        quiet_from: String::new(),
        quiet_until: String::new(),
        retry_initial_secs: 1,
        retry_max_secs: 2,
        ..AlertSettings::default()
    }
}

fn webhook(addr: SocketAddr) -> Vec<WebhookSettings> {
    vec![WebhookSettings {
        name: "hook".into(),
        url: format!("http://{addr}/hook"),
        secret: SECRET.into(),
        timeout_secs: 5,
    }]
}

struct Worker {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    store: Store,
    _dir: tempfile::TempDir,
}

impl Worker {
    fn start(settings: AlertSettings) -> Worker {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        Worker::start_on(store, dir, settings)
    }

    fn start_on(store: Store, dir: tempfile::TempDir, settings: AlertSettings) -> Worker {
        let org = Org::embedded();
        // A person's webhook must be configured (check-config says so): without one in these
        // settings, petrov has none.
        let text = if settings.webhooks.is_empty() {
            PEOPLE.replace("webhook = \"hook\"\n", "")
        } else {
            PEOPLE.to_string()
        };
        let people = People::parse(Path::new("people.toml"), &text, &org).unwrap();
        settings
            .validate(Path::new("otklik.toml"), &org, &people)
            .unwrap();
        let outbox = Outbox::new(
            store.clone(),
            settings,
            people,
            org,
            Arc::new(otklik::incidents::calendar::WorkCalendar::embedded()),
        );
        let stop = CancellationToken::new();
        let task = tokio::spawn(outbox.run(stop.clone()));
        Worker {
            stop,
            task,
            store,
            _dir: dir,
        }
    }

    async fn stop(self) -> (Store, tempfile::TempDir) {
        self.stop.cancel();
        self.task.await.unwrap();
        (self.store, self._dir)
    }
}

/// Write an alert as business logic does: reserve an id, put it in a batch, commit.
fn put_alert(store: &Store, kind: AlertKind, persons: &[&str], title: &str) -> u64 {
    let mut batch = WriteBatch::default();
    let id = store.reserve_alert_id(&mut batch, &mut None).unwrap();
    batch.put_alert(&Alert {
        id,
        at: chrono::Utc::now(),
        kind,
        incident: Some(7),
        roles: vec![],
        persons: persons.iter().map(|p| p.to_string()).collect(),
        urgent: false,
        title: title.into(),
        body: "Жители сообщают, что на улице Кирова не горят фонари.".into(),
    });
    store.commit(batch).unwrap();
    id
}

async fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------- SMTP (aiosmtpd)

/// The system Python, which has the Debian aiosmtpd package.
fn python() -> PathBuf {
    let system = PathBuf::from("/usr/bin/python3");
    if system.exists() {
        system
    } else {
        PathBuf::from("python3")
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real SMTP server on loopback that stores every message in a maildir.
struct SmtpServer {
    child: Child,
    maildir: PathBuf,
}

impl SmtpServer {
    /// `dir` holds the maildir (`dir/maildir`, created by the server).
    async fn start(port: u16, dir: &Path) -> SmtpServer {
        SmtpServer::start_with(port, dir, &[]).await
    }

    /// With more options of aiosmtpd (TLS certificates).
    async fn start_with(port: u16, dir: &Path, args: &[String]) -> SmtpServer {
        let maildir = &dir.join("maildir");
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd (Debian package python3-aiosmtpd; scripts/test installs it)");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "aiosmtpd did not start (is python3-aiosmtpd installed?)"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        SmtpServer {
            child,
            maildir: maildir.to_path_buf(),
        }
    }

    fn messages(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        out.sort();
        out
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stored message as Python's `email` package reads it: an independent parser.
fn parse_mail(path: &Path) -> serde_json::Value {
    let script = r#"
import email, email.header, email.policy, json, sys
raw = open(sys.argv[1], 'rb').read()
m = email.message_from_bytes(raw, policy=email.policy.default)
parts = [{"type": p.get_content_type(), "text": p.get_content()}
         for p in m.walk() if not p.is_multipart()]
raw_subject = [l for l in raw.decode('ascii', 'replace').splitlines() if l.startswith('Subject:')][0]
print(json.dumps({"subject": str(m["Subject"]), "raw_subject": raw_subject,
                  "to": str(m["To"]), "from": str(m["From"]), "message_id": str(m["Message-ID"]),
                  "date": str(m["Date"]), "auto": str(m["Auto-Submitted"]), "key": str(m["X-Otklik-Key"]),
                  "type": m.get_content_type(), "parts": parts}))
"#;
    let out = Command::new(python())
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn smtp_settings(port: u16) -> AlertSettings {
    let mut s = settings();
    s.email.host = "127.0.0.1".into();
    s.email.port = port;
    s.email.security = otklik::alerts::SmtpSecurity::Plain;
    s.email.from = "Отклик <otklik@gavyam.example>".into();
    s.email.timeout_secs = 5;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_reaches_a_real_smtp_server_with_russian_subject_and_both_parts() {
    let mail = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, mail.path()).await;
    let worker = Worker::start(smtp_settings(port));
    let id = put_alert(
        &worker.store,
        AlertKind::NewIncident,
        &["petrov"],
        "Новый инцидент № 7: не горят фонари",
    );
    wait_until("the message", Duration::from_secs(20), || {
        smtp.messages().len() == 1
    })
    .await;
    let m = parse_mail(&smtp.messages()[0]);
    assert_eq!(m["subject"], "[Отклик] Новый инцидент № 7: не горят фонари");
    let raw_subject = m["raw_subject"].as_str().unwrap();
    assert!(
        raw_subject.to_ascii_lowercase().contains("=?utf-8?"),
        "the subject is RFC 2047-encoded: {raw_subject}"
    );
    assert!(m["to"].as_str().unwrap().contains("petrov@gavyam.example"));
    assert!(m["to"].as_str().unwrap().contains("Петров"));
    assert_eq!(m["from"], "Отклик <otklik@gavyam.example>");
    assert!(
        m["message_id"]
            .as_str()
            .unwrap()
            .contains(&format!("otklik-alert-{id}.petrov")),
        "{}",
        m["message_id"]
    );
    assert_eq!(m["key"], format!("otklik-alert-{id}.petrov"));
    assert_eq!(m["auto"], "auto-generated");
    assert!(m["date"].as_str().unwrap().contains("20"), "{}", m["date"]);
    assert_eq!(m["type"], "multipart/alternative");
    let parts = m["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!(parts[0]["type"], "text/plain");
    assert_eq!(parts[1]["type"], "text/html");
    let text = parts[0]["text"].as_str().unwrap();
    assert!(text.contains("не горят фонари"), "{text}");
    assert!(
        text.contains("Карточка инцидента: http://otklik.test/incidents/7"),
        "{text}"
    );
    assert!(
        parts[1]["text"]
            .as_str()
            .unwrap()
            .contains("<a href=\"http://otklik.test/incidents/7\">")
    );
    // Recorded as delivered with the server's answer.
    let store = worker.store.clone();
    wait_until("the record", Duration::from_secs(5), || {
        store.delivery_count(DeliveryState::Delivered) == 1
    })
    .await;
    let d = &store.deliveries(DeliveryState::Delivered).unwrap()[0];
    assert!(
        d.answer.as_deref().unwrap().starts_with("SMTP 250"),
        "{d:?}"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_for_a_while_then_delivered_once() {
    let mail = tempfile::tempdir().unwrap();
    let port = free_port();
    let worker = Worker::start(smtp_settings(port));
    put_alert(
        &worker.store,
        AlertKind::Overdue,
        &["petrov"],
        "Просрочен ответ",
    );
    let store = worker.store.clone();
    wait_until("two failed attempts", Duration::from_secs(20), || {
        store
            .deliveries(DeliveryState::Pending)
            .unwrap()
            .first()
            .is_some_and(|d| d.attempts >= 2)
    })
    .await;
    let pending = &store.deliveries(DeliveryState::Pending).unwrap()[0];
    assert!(
        pending.last_error.as_deref().unwrap().contains("SMTP"),
        "{pending:?}"
    );
    let smtp = SmtpServer::start(port, mail.path()).await;
    wait_until(
        "delivery after the server is back",
        Duration::from_secs(20),
        || store.delivery_count(DeliveryState::Delivered) == 1,
    )
    .await;
    // Some time for a duplicate to show up, were there one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(store.delivery_count(DeliveryState::Pending), 0);
    worker.stop().await;
}

// ---------------------------------------------------------------- Telegram Bot API mock

#[derive(Clone, Default)]
struct TelegramMock {
    /// Requests seen: when, and the JSON body.
    seen: Arc<Mutex<Vec<(Instant, serde_json::Value)>>>,
    /// How many requests to answer 429 first.
    too_many: Arc<Mutex<u32>>,
}

async fn telegram_send(
    State(mock): State<TelegramMock>,
    axum::extract::Path(bot): axum::extract::Path<String>,
    body: Bytes,
) -> Response {
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    mock.seen
        .lock()
        .unwrap()
        .push((Instant::now(), json.clone()));
    if bot != "bot123:TEST" {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                serde_json::json!({"ok": false, "error_code": 401, "description": "Unauthorized"}),
            ),
        )
            .into_response();
    }
    {
        let mut n = mock.too_many.lock().unwrap();
        if *n > 0 {
            *n -= 1;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(serde_json::json!({
                    "ok": false, "error_code": 429,
                    "description": "Too Many Requests: retry after 3",
                    "parameters": {"retry_after": 3}
                })),
            )
                .into_response();
        }
    }
    axum::Json(serde_json::json!({
        "ok": true,
        "result": {
            "message_id": 77, "date": 1764151200,
            "chat": {"id": json["chat_id"], "type": "private"},
            "text": json["text"]
        }
    }))
    .into_response()
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_429_retry_after_is_honoured() {
    let mock = TelegramMock::default();
    *mock.too_many.lock().unwrap() = 1;
    let addr = serve(
        Router::new()
            .route("/{bot}/sendMessage", axum::routing::post(telegram_send))
            .with_state(mock.clone()),
    )
    .await;
    let mut s = settings();
    s.telegram.api_url = format!("http://{addr}");
    s.telegram.token = "123:TEST".into();
    let worker = Worker::start(s);
    put_alert(
        &worker.store,
        AlertKind::Escalation,
        &["petrov"],
        "Эскалация: <нет ответа> & срок истёк",
    );
    let store = worker.store.clone();
    wait_until("delivery", Duration::from_secs(20), || {
        store.delivery_count(DeliveryState::Delivered) == 1
    })
    .await;
    let seen = mock.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one 429, then the message");
    let gap = seen[1].0 - seen[0].0;
    // retry_initial_secs is 1: only the channel's retry_after explains a 3 s wait.
    assert!(gap >= Duration::from_secs(3), "retried after {gap:?}");
    let body = &seen[1].1;
    assert_eq!(body["chat_id"], 1001);
    assert_eq!(body["parse_mode"], "HTML");
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("&lt;нет ответа&gt; &amp; срок"), "{text}");
    let d = &store.deliveries(DeliveryState::Delivered).unwrap()[0];
    assert_eq!(d.attempts, 1);
    assert_eq!(d.answer.as_deref(), Some("Telegram: message_id 77"));
    worker.stop().await;
}

// ---------------------------------------------------------------- webhook receiver

#[derive(Clone, Default)]
struct Receiver {
    /// Verified requests: idempotency key and body.
    got: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    /// Requests whose signature did not verify.
    forged: Arc<Mutex<u32>>,
    /// Statuses to answer first (then 200).
    answers: Arc<Mutex<VecDeque<StatusCode>>>,
}

/// Verify as a receiver would, from the documentation: HMAC-SHA256 of `{timestamp}.{body}`.
async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let timestamp = header("x-otklik-timestamp");
    let signature = header("x-otklik-signature");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    if signature != format!("sha256={expected}") || !fresh {
        *r.forged.lock().unwrap() += 1;
        return StatusCode::UNAUTHORIZED;
    }
    r.got.lock().unwrap().push((
        header("idempotency-key").to_string(),
        serde_json::from_slice(&body).unwrap(),
    ));
    r.answers
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(StatusCode::OK)
}

async fn receiver() -> (Receiver, SocketAddr) {
    let r = Receiver::default();
    let addr = serve(
        Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(r.clone()),
    )
    .await;
    (r, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_is_signed_and_the_receiver_verifies_it() {
    let (r, addr) = receiver().await;
    let mut s = settings();
    s.webhooks = webhook(addr);
    let worker = Worker::start(s);
    let id = put_alert(&worker.store, AlertKind::Resonance, &["petrov"], "Резонанс");
    let store = worker.store.clone();
    wait_until("delivery", Duration::from_secs(20), || {
        store.delivery_count(DeliveryState::Delivered) == 1
    })
    .await;
    assert_eq!(*r.forged.lock().unwrap(), 0);
    let got = r.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, format!("otklik-alert-{id}.petrov"));
    assert_eq!(got[0].1["key"], got[0].0);
    assert_eq!(got[0].1["alerts"], serde_json::json!([id]));
    assert_eq!(got[0].1["subject"], "[Отклик] Резонанс");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_keeps_failing_becomes_a_dead_letter_with_the_same_key() {
    let (r, addr) = receiver().await;
    r.answers
        .lock()
        .unwrap()
        .extend([StatusCode::INTERNAL_SERVER_ERROR; 10]);
    let mut s = settings();
    s.webhooks = webhook(addr);
    s.max_attempts = 3;
    let worker = Worker::start(s);
    put_alert(&worker.store, AlertKind::Overdue, &["petrov"], "Просрочка");
    let store = worker.store.clone();
    wait_until("the dead letter", Duration::from_secs(30), || {
        store.delivery_count(DeliveryState::Dead) == 1
    })
    .await;
    let dead = &store.deliveries(DeliveryState::Dead).unwrap()[0];
    assert_eq!(dead.attempts, 3);
    assert!(
        dead.last_error.as_deref().unwrap().contains("HTTP 500"),
        "{dead:?}"
    );
    let got = r.got.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    assert!(
        got.iter().all(|(k, _)| *k == got[0].0),
        "one key for every attempt"
    );
    assert_eq!(store.delivery_count(DeliveryState::Pending), 0);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_fifty_alerts_for_one_official_becomes_one_digest() {
    let (r, addr) = receiver().await;
    let mut s = settings();
    s.webhooks = webhook(addr);
    s.group_wait_secs = 5;
    let worker = Worker::start(s);
    let ids: Vec<u64> = (1..=50)
        .map(|i| {
            put_alert(
                &worker.store,
                AlertKind::NewIncident,
                &["petrov"],
                &format!("Новый инцидент {i}"),
            )
        })
        .collect();
    let store = worker.store.clone();
    wait_until("the digest", Duration::from_secs(30), || {
        store.delivery_count(DeliveryState::Delivered) >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = r.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "one message for the burst");
    assert_eq!(got[0].1["alerts"], serde_json::json!(ids));
    assert_eq!(got[0].1["subject"], "[Отклик] Сводка: 50 уведомлений");
    assert!(
        got[0].1["text"]
            .as_str()
            .unwrap()
            .contains("50. Новый инцидент 50")
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_alert_within_the_repeat_interval_goes_once() {
    let (r, addr) = receiver().await;
    let mut s = settings();
    s.webhooks = webhook(addr);
    let worker = Worker::start(s);
    put_alert(
        &worker.store,
        AlertKind::Reminder,
        &["petrov"],
        "Напоминание",
    );
    let store = worker.store.clone();
    wait_until("delivery", Duration::from_secs(20), || {
        store.delivery_count(DeliveryState::Delivered) == 1
    })
    .await;
    put_alert(
        &worker.store,
        AlertKind::Reminder,
        &["petrov"],
        "Напоминание",
    );
    put_alert(
        &worker.store,
        AlertKind::Reminder,
        &["petrov"],
        "Другое напоминание",
    );
    wait_until("the second delivery", Duration::from_secs(20), || {
        store.delivery_count(DeliveryState::Delivered) == 2
    })
    .await;
    wait_until("everything routed", Duration::from_secs(5), || {
        store.outbox_cursor().unwrap() == 3
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = r.got.lock().unwrap().clone();
    let subjects: Vec<&str> = got
        .iter()
        .map(|g| g.1["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        ["[Отклик] Напоминание", "[Отклик] Другое напоминание"]
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_without_channels_gets_a_visible_dead_letter_and_source_notices_reach_admin() {
    let worker = Worker::start(settings());
    // A notice from a poller: its alert goes to the `admin` role (held by "silent").
    worker
        .store
        .push_notice(&otklik::store::AdminNotice {
            at: chrono::Utc::now(),
            source: "vk-main".into(),
            platform: otklik::model::Platform::Vk,
            state: otklik::sources::HealthState::Failing,
            error: Some("HTTP 503".into()),
            consecutive_failures: 3,
        })
        .unwrap();
    assert_eq!(worker.store.notices().unwrap().len(), 1);
    let alert = worker.store.alerts_after(0).next().unwrap().unwrap();
    assert_eq!(alert.kind, AlertKind::SourceFailing);
    assert_eq!(alert.roles, ["admin"]);
    let store = worker.store.clone();
    wait_until("the dead letter", Duration::from_secs(20), || {
        store.delivery_count(DeliveryState::Dead) == 1
    })
    .await;
    let dead = &store.deliveries(DeliveryState::Dead).unwrap()[0];
    assert_eq!(dead.person, "silent");
    assert!(
        dead.last_error
            .as_deref()
            .unwrap()
            .contains("нет канала доставки"),
        "{dead:?}"
    );
    assert!(dead.subject.contains("vk-main"), "{}", dead.subject);
    worker.stop().await;
}

// ---------------------------------------------------------------- configuration

#[test]
fn the_shipped_configuration_documents_the_alerts_section_with_its_defaults() {
    let text = std::fs::read_to_string(common::repo_config().join("otklik.toml")).unwrap();
    let shipped: otklik::config::Settings = toml::from_str(&text).unwrap();
    assert!(text.contains("\n[alerts]\n"));
    assert_eq!(shipped.alerts, AlertSettings::default());
}

#[test]
fn check_config_names_the_bad_alerts_key() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, key) in [
        (
            "[alerts.routes]\nnew_incident = [\"executor\", \"head:nowhere\"]\n",
            "alerts.routes.new_incident[1]",
        ),
        (
            "[alerts.routes]\nnonsense = [\"admin\"]\n",
            "alerts.routes.nonsense",
        ),
        ("[alerts]\nquiet_from = \"25:00\"\n", "alerts.quiet_from"),
        (
            "[alerts.email]\nhost = \"smtp.example.org\"\nfrom = \"not an address\"\n",
            "alerts.email.from",
        ),
        (
            "[[alerts.webhooks]]\nname = \"h\"\nurl = \"ftp://x\"\nsecret = \"0123456789abcdef\"\n",
            "alerts.webhooks[0].url",
        ),
    ] {
        let path = common::write_config(dir.path(), extra);
        let e = otklik::config::load(&path).unwrap_err();
        assert_eq!(e.key, key, "{e}");
        let out = common::otklik()
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(78), "{extra}");
    }
}

#[test]
fn alert_test_reports_what_each_channel_answered() {
    // No channel configured: the command says so for each holder of the role and fails.
    let dir = tempfile::tempdir().unwrap();
    let path = common::write_config(dir.path(), "");
    let out = common::otklik()
        .args(["alert", "test", "--to", "admin", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("im-coordinator"), "{stdout}");
    assert!(stdout.contains("нет канала доставки"), "{stdout}");
    let out = common::otklik()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("почта SMTP не настроена")
            && stdout.contains("сотрудников без канала доставки"),
        "{stdout}"
    );
    let out = common::otklik()
        .args(["alert", "test", "--to", "nobody", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_test_sends_through_a_real_smtp_server() {
    let mail = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start(port, mail.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = common::write_config(
        dir.path(),
        &format!(
            "[alerts.email]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\nfrom = \"Отклик <otklik@gavyam.example>\"\n"
        ),
    );
    let out = common::otklik()
        .args(["alert", "test", "--to", "zhkh-head", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("email: доставлено — SMTP 250"), "{stdout}");
    assert_eq!(smtp.messages().len(), 1);
    let m = parse_mail(&smtp.messages()[0]);
    assert_eq!(m["subject"], "[Отклик] Проверка канала уведомлений");
}

#[test]
fn otklik_outbox_lists_dead_letters_while_the_daemon_runs_and_after() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::write_config(
        dir.path(),
        "[alerts]\ngroup_wait_secs = 0\nquiet_from = \"\"\nquiet_until = \"\"\n",
    );
    let data = dir.path().join("data");
    {
        let store = Store::open(&data.join("store")).unwrap();
        put_alert(
            &store,
            AlertKind::Overdue,
            &["zhkh-head"],
            "Просрочен ответ",
        );
    }
    let log = dir.path().join("daemon.log");
    let mut daemon = common::spawn_daemon(&config, &log);
    let data_arg = data.to_string_lossy().to_string();
    // The shipped people have e-mail, but no e-mail server is configured here.
    let dead = common::wait_until(Duration::from_secs(30), || {
        let out = common::run(&["outbox", "--data-dir", &data_arg, "--dead", "--json"]);
        out.status.success()
            && serde_json::from_slice::<serde_json::Value>(&out.stdout)
                .is_ok_and(|r| r["dead"] == 1)
    });
    if !dead {
        let out = common::run(&["outbox", "--data-dir", &data_arg, "--all"]);
        let _ = daemon.kill();
        panic!(
            "no dead letter: {} {}\ndaemon log:\n{}",
            common::stdout(&out),
            common::stderr(&out),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    let out = common::run(&["outbox", "--data-dir", &data_arg]);
    let text = common::stdout(&out);
    assert!(text.contains("недоставлено: 1"), "{text}");
    assert!(text.contains("zhkh-head"), "{text}");
    assert!(text.contains("нет канала доставки"), "{text}");
    // Re-queued through the daemon: with still no channel it comes back dead, tried once more.
    let out = common::run(&["outbox", "--data-dir", &data_arg, "retry", "1"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    common::wait_for(Duration::from_secs(30), "the retried dead letter", || {
        let out = common::run(&["outbox", "--data-dir", &data_arg, "--dead", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .is_ok_and(|r| r["deliveries"][0]["attempts"] == 1)
    });
    common::send_signal(&daemon, "TERM");
    assert!(daemon.wait().unwrap().success());
    // Stopped: read from the store directly.
    let out = common::run(&["outbox", "--data-dir", &data_arg, "--dead"]);
    assert!(common::stdout(&out).contains("недоставлено: 1"));
    let out = common::run(&["outbox", "--data-dir", &data_arg, "retry", "99"]);
    assert!(!out.status.success());
}

/// A self-signed certificate for 127.0.0.1: (certificate, key).
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success());
    (cert, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_over_starttls_and_implicit_tls_with_a_private_ca() {
    for security in [
        otklik::alerts::SmtpSecurity::Starttls,
        otklik::alerts::SmtpSecurity::Tls,
    ] {
        let mail = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(mail.path());
        let port = free_port();
        let tls_args: Vec<String> = match security {
            otklik::alerts::SmtpSecurity::Tls => vec![
                "--smtpscert".into(),
                cert.display().to_string(),
                "--smtpskey".into(),
                key.display().to_string(),
            ],
            _ => vec![
                "--tlscert".into(),
                cert.display().to_string(),
                "--tlskey".into(),
                key.display().to_string(),
            ],
        };
        let smtp = SmtpServer::start_with(port, mail.path(), &tls_args).await;
        let mut s = smtp_settings(port);
        s.email.security = security;
        s.email.ca_file = cert.display().to_string();
        let worker = Worker::start(s);
        put_alert(
            &worker.store,
            AlertKind::Overdue,
            &["petrov"],
            "Просрочен ответ",
        );
        let store = worker.store.clone();
        let start = Instant::now();
        while smtp.messages().len() != 1 {
            let errors: Vec<Option<String>> = [DeliveryState::Pending, DeliveryState::Dead]
                .iter()
                .flat_map(|s| store.deliveries(*s).unwrap())
                .map(|d| d.last_error)
                .collect();
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{security:?}: no message; {errors:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let m = parse_mail(&smtp.messages()[0]);
        assert_eq!(m["subject"], "[Отклик] Просрочен ответ", "{security:?}");
        worker.stop().await;
    }
}

/// aiosmtpd with authentication required (its `Controller` with an authenticator: the CLI
/// has no option for it). Accepts login `otklik` with password `пароль-123`.
async fn start_smtp_with_auth(port: u16, dir: &Path) -> SmtpServer {
    let script = r#"
import sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
def auth(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == b'otklik' \
        and data.password == 'пароль-123'.encode()
    return AuthResult(success=ok)
c = Controller(Mailbox(sys.argv[2]), hostname='127.0.0.1', port=int(sys.argv[1]),
               authenticator=auth, auth_required=True, auth_require_tls=False)
c.start()
while True:
    time.sleep(3600)
"#;
    let maildir = dir.join("maildir");
    let child = Command::new(python())
        .args(["-c", script])
        .arg(port.to_string())
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "aiosmtpd did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    SmtpServer { child, maildir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_authentication_with_login_and_password() {
    let mail = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = start_smtp_with_auth(port, mail.path()).await;
    let mut s = smtp_settings(port);
    s.email.username = "otklik".into();
    s.email.password = "пароль-123".into();
    let worker = Worker::start(s.clone());
    put_alert(&worker.store, AlertKind::Overdue, &["petrov"], "С паролем");
    wait_until("the authenticated message", Duration::from_secs(20), || {
        smtp.messages().len() == 1
    })
    .await;
    let store = worker.store.clone();
    wait_until("the record", Duration::from_secs(5), || {
        store.delivery_count(DeliveryState::Delivered) == 1
    })
    .await;
    worker.stop().await;
}

/// From business logic to the official: a post opens an incident through the pipeline, the
/// queue writes its alert into the outbox, the worker delivers it with the incident's details.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_incident_reaches_its_executor_with_topic_place_deadline_and_links() {
    use chrono::TimeZone;
    let (r, addr) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let loaded = otklik::config::Loaded::embedded(dir.path().to_path_buf());
    let store = Store::open(&dir.path().join("store")).unwrap();
    let index = otklik::index::IndexWriterHandle::start(
        &dir.path().join("search"),
        store.clone(),
        &otklik::config::IndexSettings::default(),
    )
    .unwrap();
    let (activity, _) = tokio::sync::broadcast::channel(16);
    // Tuesday 24 November 2026, 10:00 in Moscow.
    let tuesday = chrono::Utc.with_ymd_and_hms(2026, 11, 24, 7, 0, 0).unwrap();
    let mut pipeline = otklik::pipeline::Pipeline::new(
        &loaded,
        store.clone(),
        index.sender(),
        activity,
        otklik::time::Clock::fixed(tuesday),
    )
    .unwrap();
    let key = otklik::model::PostKey::new(otklik::model::Platform::Vk, "-1_1");
    tokio::task::block_in_place(|| {
        pipeline
            .ingest(vec![otklik::model::Post {
                key,
                source: "test".into(),
                url: Some("https://vk.com/wall-1_1".into()),
                community: "Подслушано Гаврилов-Ям".into(),
                community_territory: Some("gavrilov-yam".into()),
                author: Some("Анна".into()),
                author_url: None,
                author_kind: otklik::model::AuthorKind::Resident,
                published: tuesday,
                fetched: tuesday,
                title: None,
                text: "На улице Кирова в Гаврилов-Яме нет воды с утра, когда дадут воду? Дети без воды".into(),
                parent: None,
            }])
            .unwrap()
    });
    let alert = store.alerts_after(0).next().unwrap().unwrap();
    assert_eq!(alert.kind, AlertKind::NewIncident);

    let org = Org::embedded();
    let people = People::parse(
        Path::new("people.toml"),
        "[[person]]\nid = \"ivanova\"\nname = \"Иванова И. И.\"\nroles = [\"executor:zhkh\"]\nwebhook = \"hook\"\n",
        &org,
    )
    .unwrap();
    let mut s = settings();
    s.webhooks = webhook(addr);
    let stop = CancellationToken::new();
    let task = tokio::spawn(
        Outbox::new(store.clone(), s, people, org, loaded.calendar.clone()).run(stop.clone()),
    );
    wait_until("delivery", Duration::from_secs(20), || {
        store.delivery_count(DeliveryState::Delivered) == 1
    })
    .await;
    stop.cancel();
    task.await.unwrap();
    let got = r.got.lock().unwrap().clone();
    assert_eq!(got[0].1["person"], "ivanova");
    let text = got[0].1["text"].as_str().unwrap();
    for part in [
        "Инцидент: № 1",
        "Срок: 2026-11-25 09:45",
        "Исходное сообщение: https://vk.com/wall-1_1",
        "Карточка инцидента: http://otklik.test/incidents/1",
        "нет воды",
    ] {
        assert!(text.contains(part), "{part:?} in:\n{text}");
    }
    assert!(
        text.contains("Тема: ") && text.contains("Территория: "),
        "{text}"
    );
}
