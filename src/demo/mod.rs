//! The demonstration: a bundled set of local posts and a loopback server that publishes them
//! as RSS and Atom feeds over a few minutes, so the whole daemon can be watched at work
//! without touching any real site.
//!
//! - [`dataset`]: the bundled feeds and posts (`demo/feeds.toml`, `demo/posts.jsonl`).
//! - [`feeds`]: the loopback feed server that releases them on a schedule.
//! - [`mail_sink`]: the SMTP server the demo's alerts are delivered to, one file per message.

pub mod dataset;
pub mod feeds;

pub mod mail_sink;
pub mod narrate;
pub mod ok_mock;
pub mod telegram_mock;
pub mod vk_mock;

use crate::config::{Loaded, PollSettings};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A loopback HTTP server of the demo (and of the tests that reuse its peers): serves a
/// router on an already bound 127.0.0.1 listener until stopped or dropped.
pub struct Loopback {
    shutdown: tokio_util::sync::CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Loopback {
    /// Serve `router` on `listener`; `what` names the server in the log if it fails.
    pub fn spawn(
        listener: tokio::net::TcpListener,
        router: axum::Router,
        what: &'static str,
    ) -> Loopback {
        Loopback::spawn_task(move |stop| async move {
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
            {
                tracing::warn!(%error, what, "loopback server stopped with an error");
            }
        })
    }

    /// Run a server task of any protocol; it is handed the token that tells it to stop.
    pub fn spawn_task<F, Fut>(serve: F) -> Loopback
    where
        F: FnOnce(tokio_util::sync::CancellationToken) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(serve(shutdown.clone()));
        Loopback {
            shutdown,
            task: Some(task),
        }
    }

    /// Cancelled when the server stops: tasks that publish into it stop with it.
    pub fn shutdown_token(&self) -> tokio_util::sync::CancellationToken {
        self.shutdown.clone()
    }

    /// Stop accepting requests and wait for the server task.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// How much faster than real time the demo's clock runs.
const DEMO_CLOCK_SPEED: f64 = 60.0;

/// Marks a data directory as the demo's own, so that the next demo may clear it.
const DEMO_MARKER: &str = ".otklik-demo";

/// `otklik demo`: serve the bundled posts from loopback feeds, run the daemon against them
/// with data in `data_dir`, narrate what happens, and keep running until Ctrl-C.
pub async fn run(data_dir: PathBuf, speed: f64) -> anyhow::Result<()> {
    prepare_data_dir(&data_dir)?;
    let server = feeds::FeedServer::start(dataset::Dataset::bundled(), speed)
        .await
        .context("starting the demo feed server on 127.0.0.1")?;
    let mut loaded = Loaded::embedded(data_dir.clone());
    // Deadlines and escalation in minutes rather than hours: the demo's clock starts at the
    // next working moment and runs sixty times faster.
    let now = chrono::Utc::now();
    let opening = loaded
        .calendar
        .add_working_minutes(now, 1)
        .map(|t| t - chrono::Duration::minutes(1))
        .unwrap_or(now);
    loaded.clock = crate::time::Clock::shifted(opening, DEMO_CLOCK_SPEED);
    loaded.settings.index.commit_interval_secs = 1;
    // Comments of incidents' posts are read every 20 s instead of every 5 minutes.
    loaded.settings.comments.interval_secs = 20;
    // The usual port, so the address is the one the README shows; any free port when a real
    // daemon (or another demo) holds it.
    loaded.settings.api.listen = if std::net::TcpListener::bind(DEMO_LISTEN).is_ok() {
        DEMO_LISTEN.into()
    } else {
        "127.0.0.1:0".into()
    };
    let quick = PollSettings {
        min_interval_secs: 2,
        max_interval_secs: 5,
        backoff_initial_secs: 2,
        backoff_max_secs: 10,
        failing_after: 3,
    };
    loaded.settings.sources.rss = server
        .feeds
        .iter()
        .map(|feed| {
            let mut config = feed.source_config();
            config.poll = Some(quick.clone());
            config
        })
        .collect();
    let telegram = telegram_mock::TelegramMock::start_demo(Duration::from_secs_f64(20.0 / speed))
        .await
        .context("starting the demo t.me server on 127.0.0.1")?;
    loaded.settings.sources.telegram = telegram.source_configs(Some("gavrilov-yam"));
    for config in &mut loaded.settings.sources.telegram {
        config.poll = Some(quick.clone());
    }
    let ok = ok_mock::OkMock::start_demo(Duration::from_secs_f64(30.0 / speed))
        .await
        .context("starting the demo OK API server on 127.0.0.1")?;
    let mut ok_settings = ok.settings(Some("gavrilov-yam"));
    ok_settings.poll = Some(quick.clone());
    loaded.settings.sources.ok = Some(ok_settings);
    let vk = vk_mock::VkMock::start_demo(speed)
        .await
        .context("starting the demo VK API server on 127.0.0.1")?;
    loaded.settings.sources.vk = vk.demo_settings();
    for community in &mut loaded.settings.sources.vk.communities {
        community.poll = Some(quick.clone());
    }
    // Alerts go by e-mail to a mail server of the demo's own, which keeps each message as a
    // file: the outbox delivers as it would for real, and nothing leaves this computer.
    let clock = loaded.clock;
    let mail = mail_sink::MailSink::start(data_dir.join("mail"), move |message| {
        println!(
            "{}  ✉ Письмо доставлено: {} — «{}» ({})",
            narrate::stamp(clock),
            message.recipients.join(", "),
            message.subject,
            message.file.display()
        );
    })
    .await
    .context("starting the demo mail server on 127.0.0.1")?;
    loaded.settings.alerts.email = mail.email_settings();
    let sources = crate::sources::build(&loaded)?;
    let (activity, narration) = tokio::sync::broadcast::channel(4096);
    let narrator = narrate::Narrator {
        org: Arc::new(loaded.org.clone()),
        knowledge: Arc::new(loaded.knowledge.clone()),
        clock: loaded.clock,
    };
    let posts = dataset::Dataset::bundled().posts.len();
    println!("otklik — демонстрация на встроенных данных (без токенов и без интернета)");
    println!();
    println!(
        "Время службы в демонстрации: с {} идёт в {} раз быстрее — сроки, напоминания и эскалация видны через минуты.",
        crate::incidents::clock::format_local(loaded.clock.now(), &loaded.calendar),
        DEMO_CLOCK_SPEED as u32
    );
    println!();
    println!("Учебные источники запущены на этом компьютере:");
    for feed in &server.feeds {
        println!("  • RSS: {} — {}", feed.community, feed.url);
    }
    for community in &loaded.settings.sources.vk.communities {
        println!(
            "  • ВКонтакте: {} — {}",
            community.community.as_deref().unwrap_or(&community.name),
            loaded.settings.sources.vk.api_url
        );
    }
    for channel in &loaded.settings.sources.telegram {
        println!(
            "  • Telegram: канал {} — http://{}/s/{}",
            channel.channel, telegram.addr, channel.channel
        );
    }
    if let Some(ok_settings) = &loaded.settings.sources.ok {
        for group in &ok_settings.groups {
            println!(
                "  • Одноклассники: группа {} — {}",
                group.name, ok_settings.api_url
            );
        }
    }
    println!(
        "В течение нескольких минут в них появятся сообщения жителей, СМИ и администрации (в лентах — {posts})."
    );
    println!(
        "Оповещения должностным лицам уходят по электронной почте на учебный почтовый сервер {}: письма сохраняются в {} (файлы .eml открываются любой почтовой программой).",
        mail.addr,
        mail.dir.display()
    );
    println!("Данные сохраняются в {}.", data_dir.display());
    println!();
    println!("Поиск из другого окна, пока идёт демонстрация:");
    println!(
        "  cargo run --release -- search \"нет воды\" --data-dir {}",
        data_dir.display()
    );
    println!("Остановка: Ctrl+C.");
    println!();
    let org = loaded.org.clone();
    let result = crate::daemon::run(loaded, sources, activity, move |running| {
        // The address and the sign-in come first; the story of the posts (buffered in the
        // channel meanwhile) follows.
        if let Some(addr) = running.api_addr {
            match add_demo_user(&running.store, &org) {
                Ok(password) => {
                    println!("Рабочее место координатора: http://{addr}/");
                    println!("  вход: {DEMO_LOGIN}, пароль: {password} (роль — координатор)");
                }
                Err(error) => println!("Учётная запись демонстрации не создана: {error}"),
            }
            println!("API: http://{addr}/api/v1/openapi.json; метрики: http://{addr}/metrics");
            println!();
        }
        tokio::spawn(narrator.run(narration));
    })
    .await;
    server.stop().await;
    mail.stop().await;
    telegram.stop().await;
    ok.stop().await;
    vk.stop().await;
    result
}

/// Where the demo's web interface listens when the port is free.
const DEMO_LISTEN: &str = "127.0.0.1:8440";
/// The demo's coordinator account.
pub const DEMO_LOGIN: &str = "demo";

/// Create the demo's coordinator account with a fresh random password, and return it.
fn add_demo_user(store: &crate::store::Store, org: &crate::org::Org) -> anyhow::Result<String> {
    let password: String = crate::web::auth::new_secret().chars().take(12).collect();
    crate::web::accounts::add_user(
        store,
        org,
        &crate::web::accounts::NewUser {
            login: DEMO_LOGIN,
            name: Some("Демо-координатор"),
            role: crate::store::Role::Coordinator,
            owner: None,
            password: &password,
        },
    )?;
    Ok(password)
}

/// Use `dir` for the demo: create it, or clear what an earlier demo left there. A directory
/// with other data in it is refused, never cleared.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    let marker = dir.join(DEMO_MARKER);
    if crate::daemon::is_data_dir(dir) {
        anyhow::ensure!(
            marker.exists(),
            "{} holds data that is not the demo's; give the demo another directory with --data-dir",
            dir.display()
        );
        for sub in [crate::daemon::STORE_DIR, crate::index::INDEX_DIR] {
            let path = dir.join(sub);
            if path.exists() {
                std::fs::remove_dir_all(&path)
                    .with_context(|| format!("clearing {}", path.display()))?;
            }
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        &marker,
        "data of `otklik demo`; the next demo clears this directory\n",
    )
    .with_context(|| format!("writing {}", marker.display()))?;
    Ok(())
}
