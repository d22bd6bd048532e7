//! The `otklik` command: parse arguments, load configuration, call the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use otklik::config::{self, EXIT_CONFIG, LogFormat};
use otklik::index::{SearchRequest, Searcher, SortOrder};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "otklik",
    version,
    about = "Находит сообщения жителей в открытых источниках и следит, чтобы на каждое был дан ответ в срок"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: poll the sources, store, understand and index posts, open incidents.
    Run {
        /// Configuration file.
        #[arg(long, env = "OTKLIK_CONFIG", default_value = "config/otklik.toml")]
        config: PathBuf,
    },
    /// The main job on an embedded default: loopback sources with bundled posts, no tokens,
    /// no internet. Runs until Ctrl-C.
    Demo {
        /// Data directory for the demo (cleared at start if an earlier demo left it).
        #[arg(long, default_value = "index")]
        data_dir: PathBuf,
        /// How fast the bundled posts arrive: 1.0 spreads them over about three minutes.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
    /// Validate the configuration and every file it names; exit 0 when fine, 78 when not.
    CheckConfig {
        #[arg(long, env = "OTKLIK_CONFIG", default_value = "config/otklik.toml")]
        config: PathBuf,
    },
    /// Search the stored posts (tantivy query syntax); works while the daemon runs.
    Search(SearchArgs),
    /// The incident queue: list, show, and every action of the coordinator; works while the
    /// daemon runs (through its HTTP API) and without it.
    Incidents {
        #[command(flatten)]
        target: otklik::incidents::cli::Target,
        #[command(subcommand)]
        command: otklik::incidents::cli::Command,
    },
    /// Read posts as JSON lines (corpus format) on stdin; write each with a `predicted` field.
    Classify {
        /// Use this configuration's lexicon, gazetteer and taxonomy instead of the shipped ones.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Measure the understanding step against a labelled corpus.
    Eval {
        /// JSON lines in the corpus format, each with a `label`.
        #[arg(long)]
        corpus: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show how a text is understood, with the evidence for each decision.
    Explain {
        /// The text of a post.
        text: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Show each source's health: from the running daemon, or from the store when it is stopped.
    Sources {
        #[arg(long, env = "OTKLIK_CONFIG", default_value = "config/otklik.toml")]
        config: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Manage the accounts of the web interface and the API (through the daemon while it runs).
    User {
        #[arg(
            long,
            env = "OTKLIK_CONFIG",
            default_value = "config/otklik.toml",
            global = true
        )]
        config: PathBuf,
        #[command(subcommand)]
        action: UserAction,
    },
    /// Make a token for a collector that pushes posts to `POST /api/v1/ingest`.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Print when a deadline falls: a start time plus working or calendar time.
    Deadline(DeadlineArgs),
    /// Reports for the Head and the regional centre: weekly note, heat map, ratings, export.
    /// Reads the data directory, or asks the running daemon when it holds the store.
    Report(ReportArgs),
    /// Rebuild the search index from the store (stop the daemon first).
    Reindex {
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Alerts to officials.
    Alert {
        #[command(subcommand)]
        action: AlertAction,
    },
    /// The outbox: deliveries waiting or retried, and dead letters with their reasons; works
    /// while the daemon runs (through its control file) and when it is stopped.
    Outbox(OutboxArgs),
}

#[derive(Subcommand)]
enum AlertAction {
    /// Send a test message to a person (id in people.toml) or to today's holders of a role,
    /// by every channel configured for them, and show what each channel answered.
    Test {
        /// A person id or a role (`admin`, `head:zhkh` …).
        #[arg(long)]
        to: String,
        #[arg(long, env = "OTKLIK_CONFIG", default_value = "config/otklik.toml")]
        config: PathBuf,
    },
}

#[derive(clap::Args)]
struct OutboxArgs {
    #[command(subcommand)]
    action: Option<OutboxAction>,
    /// Data directory (the store and the index).
    #[arg(long, default_value = "index", global = true)]
    data_dir: PathBuf,
    /// Only the dead letters.
    #[arg(long)]
    dead: bool,
    /// Delivered messages too.
    #[arg(long, conflicts_with = "dead")]
    all: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum OutboxAction {
    /// Put a dead letter back in the queue: the daemon tries it again when it next runs.
    Retry {
        /// The delivery number (first column of `otklik outbox`).
        id: u64,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Print a new random token and the configuration lines that allow it.
    New {
        /// Name of the collector (no spaces).
        name: String,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create an account; the password is read from the terminal, or from stdin with
    /// --password-stdin.
    Add {
        login: String,
        /// admin, coordinator, official or head.
        #[arg(long, value_parser = parse_role)]
        role: otklik::store::Role,
        /// For an official: the department or territory id (org.toml) whose incidents they work.
        #[arg(long)]
        owner: Option<String>,
        /// Name and position as shown in the interface («Иванова А. С., отдел ЖКХ»).
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (also enables a disabled account); ends its sessions.
    Passwd {
        login: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an account: its sessions end and its API tokens stop working.
    Disable { login: String },
    /// List the accounts.
    List,
    /// Print a new API token for scripts (`Authorization: Bearer …`).
    Token {
        login: String,
        /// What the token is for.
        #[arg(long)]
        note: Option<String>,
    },
}

fn parse_role(s: &str) -> Result<otklik::store::Role, String> {
    otklik::store::Role::from_id(s)
        .ok_or_else(|| format!("expected admin, coordinator, official or head, found `{s}`"))
}

#[derive(clap::Args)]
struct DeadlineArgs {
    /// Start: `2026-11-26 16:30` (Moscow time) or RFC 3339.
    #[arg(long)]
    from: String,
    #[command(flatten)]
    span: DeadlineSpan,
    /// Take the office hours and calendars from this configuration file.
    #[arg(long, conflicts_with = "calendar_dir")]
    config: Option<PathBuf>,
    /// Directory of `calendar-YYYY.toml` files, with the default office hours.
    #[arg(long, default_value = "config")]
    calendar_dir: PathBuf,
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct DeadlineSpan {
    /// Working hours to add.
    #[arg(long)]
    working_hours: Option<u32>,
    /// Working minutes to add.
    #[arg(long)]
    working_minutes: Option<u32>,
    /// Working days to add (due at the close of the Nth working day after the start's date).
    #[arg(long)]
    working_days: Option<u32>,
    /// Calendar hours to add, day or night.
    #[arg(long)]
    hours: Option<u32>,
}

impl DeadlineSpan {
    fn span(&self) -> otklik::incidents::clock::Span {
        use otklik::incidents::clock::Span;
        match (
            self.working_hours,
            self.working_minutes,
            self.working_days,
            self.hours,
        ) {
            (Some(n), ..) => Span::WorkingHours(n),
            (_, Some(n), ..) => Span::WorkingMinutes(n),
            (_, _, Some(n), _) => Span::WorkingDays(n),
            (.., Some(n)) => Span::CalendarHours(n),
            _ => unreachable!("clap requires exactly one span"),
        }
    }
}

#[derive(clap::Args)]
struct ReportArgs {
    /// Which report: weekly (analytical note), heatmap, ratings or export (for the ЦУР).
    #[arg(value_enum)]
    kind: otklik::reports::service::ReportKind,
    #[arg(long, env = "OTKLIK_CONFIG", default_value = "config/otklik.toml")]
    config: PathBuf,
    /// Data directory; `daemon.data_dir` of the configuration when absent.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// ISO week, e.g. 2026-W47. Without a week or --from: the last full week.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    week: Option<String>,
    /// First day (2026-11-01, local midnight) or an RFC 3339 instant.
    #[arg(long)]
    from: Option<String>,
    /// Last day, inclusive (2026-11-30), or an RFC 3339 instant (exclusive); default: now.
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// weekly: html, docx, md, json; heatmap: html, json, csv; ratings: html, md, json, csv;
    /// export: csv, xlsx, json. Default: the first of these.
    #[arg(long, value_enum)]
    format: Option<otklik::reports::service::Format>,
    /// Write here instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Judge "overdue" at this RFC 3339 instant instead of now (to reproduce a note).
    #[arg(long)]
    now: Option<String>,
    /// Ratings: rows by owner (departments and territory administrations) or by the
    /// territory where the problems are.
    #[arg(long, value_enum)]
    by: Option<otklik::reports::ratings::RatingBy>,
}

#[derive(clap::Args)]
struct DataDirArg {
    /// Data directory (the store and the index).
    #[arg(long, default_value = "index")]
    data_dir: PathBuf,
}

#[derive(clap::Args)]
struct SearchArgs {
    /// Words, "phrases", AND/OR/NOT, field:value (fields: text, title, community, platform,
    /// source, group, territory, is_incident, lang, urgent). Empty: every post.
    #[arg(default_value = "")]
    query: String,
    #[command(flatten)]
    data: DataDirArg,
    /// Published at or after: `2026-11-20` (Moscow midnight) or RFC 3339.
    #[arg(long, value_parser = otklik::time::parse_moment)]
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Published before: `2026-11-27` or RFC 3339.
    #[arg(long, value_parser = otklik::time::parse_moment)]
    until: Option<chrono::DateTime<chrono::Utc>>,
    /// A platform (vk, ok, telegram, rss, ingest) or a configured source name.
    #[arg(long)]
    source: Option<String>,
    /// Territory id (gavrilov-yam, shopsha …, district, outside).
    #[arg(long)]
    territory: Option<String>,
    /// Topic group id (dorogi, zhkh …).
    #[arg(long)]
    group: Option<String>,
    /// Only posts judged to be incidents.
    #[arg(long)]
    incidents: bool,
    #[arg(long, default_value_t = 20)]
    limit: usize,
    #[arg(long, value_enum, default_value_t = SortOrder::Newest)]
    sort: SortOrder,
    /// One JSON object per hit.
    #[arg(long)]
    json: bool,
}

/// `println!` that returns an error instead of panicking when stdout is gone (a closed pipe
/// ends the command quietly, as `main` maps broken pipes to success).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

fn main() -> ExitCode {
    otklik::allocator::tune();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            if let Some(config_error) = error.downcast_ref::<config::ConfigError>() {
                eprintln!("otklik: ошибка конфигурации: {config_error}");
                return ExitCode::from(EXIT_CONFIG);
            }
            eprintln!("otklik: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Logs go to stderr (the journal under systemd); `OTKLIK_LOG` sets the filter.
fn init_logging(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OTKLIK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

const DAEMON_LOG: &str = "info,tantivy=warn,sled=warn";

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run { config } => {
            let loaded = config::load(&config)?;
            init_logging(loaded.settings.daemon.log_format, DAEMON_LOG);
            runtime()?.block_on(async {
                let sources = otklik::sources::build(&loaded)?;
                let (activity, _) = tokio::sync::broadcast::channel(1024);
                otklik::daemon::run(loaded, sources, activity, |_| {}).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { data_dir, speed } => {
            anyhow::ensure!(
                speed > 0.0 && speed.is_finite(),
                "--speed must be a positive number"
            );
            // The narration tells the story; logs only speak up about trouble.
            // (The demo polls every few seconds on purpose: the VK quota warning does not apply.)
            init_logging(
                LogFormat::Text,
                "warn,tantivy=error,sled=error,otklik::sources::vk=error",
            );
            runtime()?.block_on(otklik::demo::run(data_dir, speed))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { config } => {
            let loaded = config::load(&config)?;
            out!(
                "{}: конфигурация в порядке — источников: {}, территорий: {}, подразделений: {}, групп тем: {}; данные: {}",
                config.display(),
                loaded.settings.sources.enabled_count(),
                loaded.org.territories.len(),
                loaded.org.departments.len(),
                loaded.knowledge.taxonomy.groups.len(),
                loaded.data_dir.display()
            );
            let today = loaded.calendar.local_date(loaded.clock.now());
            if let Some(missing) = loaded.calendar.production().missing_next_year(today) {
                out!("Внимание: {}", missing.message_ru());
            }
            let alerts = &loaded.settings.alerts;
            let on = |yes: bool, done: &'static str, not_done: &'static str| {
                if yes { done } else { not_done }
            };
            let unreachable: Vec<&str> = loaded
                .people
                .persons
                .iter()
                .filter(|p| otklik::alerts::route::channels(p, alerts).is_empty())
                .map(|p| p.id.as_str())
                .collect();
            out!(
                "Уведомления: почта SMTP {}, бот Telegram {}, вебхуков: {}; сотрудников без канала доставки: {} из {}{}",
                on(alerts.email.enabled(), "настроена", "не настроена"),
                on(alerts.telegram.enabled(), "настроен", "не настроен"),
                alerts.webhooks.len(),
                unreachable.len(),
                loaded.people.persons.len(),
                if unreachable.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({}{})",
                        unreachable[..unreachable.len().min(5)].join(", "),
                        if unreachable.len() > 5 { ", …" } else { "" }
                    )
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Search(args) => search(args),
        Command::User { config, action } => user_command(&config, action),
        Command::Incidents { target, command } => otklik::incidents::cli::run(&target, command),
        Command::Sources { config, json } => {
            let loaded = config::load(&config)?;
            let health = runtime()?.block_on(source_health(&loaded))?;
            if json {
                out!("{}", serde_json::to_string_pretty(&health)?);
                return Ok(ExitCode::SUCCESS);
            }
            print_health(&loaded, &health)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            action: TokenAction::New { name },
        } => {
            anyhow::ensure!(
                !name.is_empty() && !name.contains(char::is_whitespace) && !name.contains(':'),
                "the name must have no spaces or colons"
            );
            let token = otklik::api::new_token()?;
            out!("Токен (передайте сборщику, повторно показан не будет):\n  {token}\n");
            out!("Строки для otklik.toml:\n");
            out!(
                "[[api.ingest]]\nname = \"{name}\"\ntoken_sha256 = \"{}\"",
                otklik::api::token_hash(&token)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Classify { config } => {
            let knowledge = knowledge(config.as_deref())?;
            let stdin = std::io::stdin();
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            otklik::eval::classify(stdin.lock(), &mut out, &knowledge)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval {
            corpus,
            config,
            json,
        } => {
            let knowledge = knowledge(config.as_deref())?;
            let report = otklik::eval::evaluate(&corpus, &knowledge)?;
            if json {
                out!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                out!("{report}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain { text, config } => {
            let knowledge = knowledge(config.as_deref())?;
            out!("{}", otklik::eval::explain(&text, &knowledge));
            Ok(ExitCode::SUCCESS)
        }
        Command::Deadline(args) => {
            use otklik::incidents::calendar::{WorkCalendar, WorktimeSettings};
            let calendar = match &args.config {
                Some(path) => config::load(path)?.calendar,
                None => {
                    let settings = WorktimeSettings::default();
                    let hours = settings.validate(&args.calendar_dir)?;
                    std::sync::Arc::new(WorkCalendar::load_dir(&args.calendar_dir, hours)?)
                }
            };
            out!(
                "{}",
                otklik::incidents::clock::deadline_report(&args.from, args.span.span(), &calendar)?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Report(args) => report(args),
        Command::Alert {
            action: AlertAction::Test { to, config },
        } => {
            let loaded = config::load(&config)?;
            let results = runtime()?.block_on(otklik::alerts::admin::send_test(
                &loaded.settings.alerts,
                &loaded.people,
                loaded.calendar.timezone(),
                &to,
            ));
            let results = match results {
                Ok(r) => r,
                Err(problem) => {
                    eprintln!("otklik: {problem}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let mut failed = false;
            for r in &results {
                let channel = r.channel.map_or("—", |c| c.id());
                match &r.result {
                    Ok(sent) => out!(
                        "{} ({}), {}: доставлено — {}",
                        r.person,
                        r.name,
                        channel,
                        sent.answer
                    ),
                    Err(e) => {
                        failed = true;
                        out!(
                            "{} ({}), {}: ОШИБКА — {}",
                            r.person,
                            r.name,
                            channel,
                            e.message
                        )
                    }
                }
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Outbox(args) => outbox(args),
        Command::Reindex { data } => {
            init_logging(LogFormat::Text, DAEMON_LOG);
            let report = otklik::reindex::reindex(&data.data_dir)?;
            out!(
                "индекс перестроен: {} сообщений за {:.1} с ({})",
                report.posts,
                report.elapsed.as_secs_f64(),
                data.data_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `otklik outbox`: list deliveries, or re-queue a dead letter; from the store of a stopped
/// daemon, or through the running daemon's control file.
fn outbox(args: OutboxArgs) -> anyhow::Result<ExitCode> {
    use otklik::alerts::admin::{self, Show};
    use otklik::control::Access;
    use otklik::store::DeliveryState;
    let show = if args.dead {
        Show::Dead
    } else if args.all {
        Show::All
    } else {
        Show::Open
    };
    let access = otklik::control::open(&args.data_dir)?;
    if let Some(OutboxAction::Retry { id }) = args.action {
        let d = match access {
            Access::Direct(store) => admin::retry(&store, id)?,
            Access::Daemon(client) => {
                runtime()?.block_on(client.post::<_, otklik::store::Delivery>(
                    &format!("/api/v1/outbox/{id}/retry"),
                    &serde_json::json!({}),
                ))?
            }
        };
        out!(
            "доставка № {} ({}) снова в очереди на отправку",
            d.id,
            d.person
        );
        return Ok(ExitCode::SUCCESS);
    }
    let report = match access {
        Access::Direct(store) => admin::report(&store, show)?,
        Access::Daemon(client) => {
            let show = serde_json::to_value(show)?;
            runtime()?.block_on(client.get::<admin::OutboxReport>(&format!(
                "/api/v1/outbox?show={}",
                show.as_str().unwrap_or("open")
            )))?
        }
    };
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let list = &report.deliveries;
    let moscow = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&chrono_tz::Europe::Moscow)
            .format("%d.%m %H:%M:%S")
            .to_string()
    };
    out!(
        "Ожидают отправки: {}, доставлено: {}, недоставлено: {}, уведомлений в очереди группировки: {}",
        report.pending,
        report.delivered,
        report.dead,
        report.queued
    );
    if list.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    out!(
        "\n{:>6}  {:<12} {:<20} {:<9} {:>7}  {:<15} Тема; ответ или причина",
        "№",
        "Состояние",
        "Кому",
        "Канал",
        "Попыток",
        "Когда"
    );
    for d in list {
        let (state, when, note) = match d.state {
            DeliveryState::Pending => (
                if d.attempts == 0 {
                    "ожидает"
                } else {
                    "повтор"
                },
                moscow(d.next_try),
                d.last_error.clone().unwrap_or_default(),
            ),
            DeliveryState::Delivered => (
                "доставлено",
                d.delivered_at.map(moscow).unwrap_or_default(),
                d.answer.clone().unwrap_or_default(),
            ),
            DeliveryState::Dead => (
                "недоставлено",
                d.last_try.map(moscow).unwrap_or_else(|| moscow(d.created)),
                d.last_error.clone().unwrap_or_default(),
            ),
        };
        out!(
            "{:>6}  {:<12} {:<20} {:<9} {:>7}  {:<15} {}; {}",
            d.id,
            state,
            d.person,
            d.channel.map_or("—", |c| c.id()),
            d.attempts,
            when,
            d.subject,
            note
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Source health from the running daemon's API, or from the store when no daemon answers.
async fn source_health(
    loaded: &config::Loaded,
) -> anyhow::Result<Vec<otklik::store::SourceHealth>> {
    #[derive(serde::Deserialize)]
    struct Reply {
        sources: Vec<otklik::store::SourceHealth>,
    }
    // A running daemon leaves its address and control token in the data directory.
    if let Ok(Some(control)) = otklik::control::read(&loaded.data_dir) {
        let url = format!("{}/api/v1/sources", control.url);
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?;
        match client.get(&url).bearer_auth(&control.token).send().await {
            Ok(reply) => {
                let reply: Reply = reply.error_for_status()?.json().await?;
                return Ok(reply.sources);
            }
            Err(error) if error.is_connect() => {}
            Err(error) => return Err(error.into()),
        }
    }
    let store =
        otklik::store::Store::open(&otklik::daemon::DataDir::new(&loaded.data_dir).store())?;
    Ok(store.all_health()?)
}

fn print_health(
    loaded: &config::Loaded,
    health: &[otklik::store::SourceHealth],
) -> anyhow::Result<()> {
    let moscow = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&chrono_tz::Europe::Moscow)
            .format("%d.%m %H:%M")
            .to_string()
    };
    out!(
        "{:<24} {:<9} {:<12} {:>9}  {:<12} Последняя ошибка",
        "Источник",
        "Платформа",
        "Состояние",
        "Сообщений",
        "Успех"
    );
    for h in health {
        out!(
            "{:<24} {:<9} {:<12} {:>9}  {:<12} {}",
            h.source,
            h.platform.as_str(),
            h.state.label_ru(),
            h.posts_stored,
            h.last_success.map(moscow).unwrap_or_else(|| "—".into()),
            match (&h.last_error, h.last_error_at) {
                (Some(e), Some(at)) if h.state != otklik::sources::HealthState::Ok =>
                    format!("{} ({})", e, moscow(at)),
                _ => String::new(),
            }
        );
    }
    let configured = loaded.settings.sources.enabled_count();
    if health.len() < configured {
        out!(
            "\nЕщё не опрошено источников: {}",
            configured - health.len()
        );
    }
    Ok(())
}

/// A report from the data directory, or from the running daemon's API when it holds the
/// store.
fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    use otklik::reports::http::ReportQuery;
    let mut loaded = config::load(&args.config)?;
    if let Some(dir) = &args.data_dir {
        loaded.data_dir = dir.clone();
    }
    let query = ReportQuery {
        format: args.format,
        week: args.week.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        now: args.now.clone(),
        by: args.by,
    };
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let request = query
        .request(
            args.kind,
            &loaded,
            otklik::time::Clock::from_env()
                .map_err(anyhow::Error::msg)?
                .now(),
            command,
        )
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        otklik::daemon::DataDir::new(&loaded.data_dir)
            .store()
            .exists(),
        "no store in {} (is --data-dir right?)",
        loaded.data_dir.display()
    );
    let bytes = match otklik::control::open(&loaded.data_dir)? {
        otklik::control::Access::Direct(store) => {
            otklik::reports::service::from_store(&store, &loaded, &request)?.bytes
        }
        otklik::control::Access::Daemon(client) => {
            // The daemon computes it from the same request: the period and instant resolved
            // here, so both paths give the same report.
            let query = ReportQuery {
                format: Some(request.format),
                week: None,
                from: Some(request.period.from.to_rfc3339()),
                to: Some(request.period.to.to_rfc3339()),
                now: Some(request.now.to_rfc3339()),
                by: Some(request.rating_by),
            };
            let path = format!(
                "/api/v1/reports/{}?{}",
                serde_json::to_value(args.kind)?
                    .as_str()
                    .unwrap_or_default(),
                serde_urlencoded::to_string(&query)?
            );
            runtime()?.block_on(client.get_bytes(&path))?
        }
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The configured knowledge, or the shipped one.
fn knowledge(config: Option<&std::path::Path>) -> anyhow::Result<otklik::understand::Knowledge> {
    Ok(match config {
        Some(path) => config::load(path)?.knowledge,
        None => otklik::understand::Knowledge::embedded(),
    })
}

fn search(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let dir = otklik::daemon::DataDir::new(&args.data.data_dir).index();
    let searcher = Searcher::open(&dir)?;
    let request = SearchRequest {
        query: args.query,
        since: args.since,
        until: args.until,
        source: args.source,
        territory: args.territory,
        group: args.group,
        incidents_only: args.incidents,
        limit: args.limit,
        sort: args.sort,
        ..SearchRequest::default()
    };
    let results = searcher.search(&request)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        for hit in &results.hits {
            serde_json::to_writer(&mut out, hit)?;
            writeln!(out)?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let color = std::io::stdout().is_terminal();
    writeln!(
        out,
        "Найдено: {} (показано {})",
        results.total,
        results.hits.len()
    )?;
    for hit in &results.hits {
        let local = hit.published.with_timezone(&chrono_tz::Europe::Moscow);
        let mut tags = vec![hit.platform.clone(), hit.community.clone()];
        if let Some(id) = hit.incident {
            tags.push(format!("инцидент №{id}"));
        }
        tags.extend(hit.group.clone());
        tags.extend(hit.territory.clone());
        writeln!(
            out,
            "\n{}  {}",
            local.format("%Y-%m-%d %H:%M"),
            tags.join(" · ")
        )?;
        writeln!(
            out,
            "  {}",
            highlight(&hit.snippet_text, &hit.highlights, color)
        )?;
        if let Some(url) = &hit.url {
            writeln!(out, "  {url}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Marks the matched ranges: bold on a terminal, «» otherwise.
fn highlight(text: &str, ranges: &[std::ops::Range<usize>], color: bool) -> String {
    let (open, close) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("«", "»")
    };
    let mut out = String::with_capacity(text.len() + ranges.len() * 8);
    let mut at = 0;
    for r in ranges {
        if r.start < at
            || r.end > text.len()
            || !text.is_char_boundary(r.start)
            || !text.is_char_boundary(r.end)
        {
            continue;
        }
        out.push_str(&text[at..r.start]);
        out.push_str(open);
        out.push_str(&text[r.clone()]);
        out.push_str(close);
        at = r.end;
    }
    out.push_str(&text[at..]);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A password from stdin (one line) or typed at the terminal without echo.
fn read_password(from_stdin: bool, confirm: bool) -> anyhow::Result<String> {
    use std::io::BufRead;
    let read_line = || -> anyhow::Result<String> {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\n', '\r']).to_string())
    };
    if from_stdin || !std::io::stdin().is_terminal() {
        return read_line();
    }
    let echo = |on: bool| {
        let _ = std::process::Command::new("stty")
            .arg(if on { "echo" } else { "-echo" })
            .stdin(
                std::fs::File::open("/dev/tty")
                    .map_or_else(|_| std::process::Stdio::inherit(), Into::into),
            )
            .status();
    };
    eprint!("Пароль: ");
    echo(false);
    let first = read_line();
    eprintln!();
    let second = if confirm {
        eprint!("Пароль ещё раз: ");
        let second = read_line();
        eprintln!();
        Some(second)
    } else {
        None
    };
    echo(true);
    let first = first?;
    if let Some(second) = second {
        anyhow::ensure!(first == second?, "the passwords differ");
    }
    Ok(first)
}

fn user_command(config: &std::path::Path, action: UserAction) -> anyhow::Result<ExitCode> {
    use otklik::api::users::NewUserRequest;
    let loaded = config::load(config)?;
    let accounts = Accounts::open(&loaded)?;
    match action {
        UserAction::Add {
            login,
            role,
            owner,
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin, true)?;
            let user = accounts.add(NewUserRequest {
                login,
                role,
                owner,
                name,
                password,
            })?;
            out!(
                "Пользователь {} создан: {}{}",
                user.login,
                user.role.label_ru(),
                user.owner
                    .as_ref()
                    .map(|o| format!(" ({})", loaded.org.owner_name(o)))
                    .unwrap_or_default()
            );
        }
        UserAction::Passwd {
            login,
            password_stdin,
        } => {
            let password = read_password(password_stdin, true)?;
            accounts.passwd(&login, password)?;
            out!("Пароль пользователя {login} изменён; его прежние сеансы завершены.");
        }
        UserAction::Disable { login } => {
            accounts.disable(&login)?;
            out!("Пользователь {login} отключён; его сеансы и токены больше не действуют.");
        }
        UserAction::List => {
            out!("{:<20} {:<14} {:<10} Имя", "Логин", "Роль", "Состояние");
            for u in accounts.list()? {
                out!(
                    "{:<20} {:<14} {:<10} {}{}",
                    u.login,
                    u.role.label_ru(),
                    if u.disabled {
                        "отключён"
                    } else {
                        "активен"
                    },
                    u.name,
                    u.owner
                        .as_ref()
                        .map(|o| format!(" — {}", loaded.org.owner_name(o)))
                        .unwrap_or_default()
                );
            }
        }
        UserAction::Token { login, note } => {
            let token = accounts.token(&login, note)?;
            out!(
                "Токен для {login} (показан один раз; передавайте как Authorization: Bearer …):\n  {token}"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Where `otklik user` finds the accounts: in the store, or, while the daemon holds the store,
/// through the daemon's API with the control token of `daemon.json`.
enum Accounts<'a> {
    Store(otklik::store::Store, &'a otklik::org::Org),
    Daemon(otklik::control::Client, tokio::runtime::Runtime),
}

impl Accounts<'_> {
    fn open(loaded: &otklik::config::Loaded) -> anyhow::Result<Accounts<'_>> {
        Ok(match otklik::control::open(&loaded.data_dir)? {
            otklik::control::Access::Direct(store) => Accounts::Store(store, &loaded.org),
            otklik::control::Access::Daemon(client) => Accounts::Daemon(client, runtime()?),
        })
    }

    fn add(
        &self,
        new: otklik::api::users::NewUserRequest,
    ) -> anyhow::Result<otklik::api::users::UserSummary> {
        use otklik::web::accounts;
        Ok(match self {
            Accounts::Store(store, org) => {
                let user = accounts::add_user(
                    store,
                    org,
                    &accounts::NewUser {
                        login: &new.login,
                        name: new.name.as_deref(),
                        role: new.role,
                        owner: new.owner.as_deref(),
                        password: &new.password,
                    },
                )?;
                (&user).into()
            }
            Accounts::Daemon(client, rt) => rt.block_on(client.post("/api/v1/users", &new))?,
        })
    }

    fn passwd(&self, login: &str, password: String) -> anyhow::Result<()> {
        match self {
            Accounts::Store(store, _) => {
                otklik::web::accounts::set_password(store, login, &password)?
            }
            Accounts::Daemon(client, rt) => {
                let request = otklik::api::users::PasswordRequest {
                    login: login.to_string(),
                    password,
                };
                rt.block_on(client.post::<_, otklik::api::users::UserSummary>(
                    "/api/v1/users/password",
                    &request,
                ))?;
            }
        }
        Ok(())
    }

    fn disable(&self, login: &str) -> anyhow::Result<()> {
        match self {
            Accounts::Store(store, _) => otklik::web::accounts::disable(store, login)?,
            Accounts::Daemon(client, rt) => {
                let request = otklik::api::users::LoginRequest {
                    login: login.to_string(),
                };
                rt.block_on(client.post::<_, otklik::api::users::UserSummary>(
                    "/api/v1/users/disable",
                    &request,
                ))?;
            }
        }
        Ok(())
    }

    fn list(&self) -> anyhow::Result<Vec<otklik::api::users::UserSummary>> {
        Ok(match self {
            Accounts::Store(store, _) => store.users()?.iter().map(Into::into).collect(),
            Accounts::Daemon(client, rt) => rt.block_on(client.get("/api/v1/users"))?,
        })
    }

    fn token(&self, login: &str, note: Option<String>) -> anyhow::Result<String> {
        Ok(match self {
            Accounts::Store(store, _) => {
                otklik::web::accounts::issue_token(store, login, note.as_deref())?
            }
            Accounts::Daemon(client, rt) => {
                let request = otklik::api::users::TokenRequest {
                    login: login.to_string(),
                    note,
                };
                rt.block_on(
                    client.post::<_, otklik::api::users::IssuedToken>(
                        "/api/v1/users/tokens",
                        &request,
                    ),
                )?
                .token
            }
        })
    }
}

/// mimalloc: sled and tantivy allocate heavily; with the system allocator the ingest
/// benchmark ran at 12.8k posts/s, with mimalloc at 23k (`otklik-bench ingest`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
