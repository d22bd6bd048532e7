//! `otklik incidents …`: the queue from the command line, the same operations as the web UI.
//!
//! With the daemon running, commands go through its HTTP API (see [`crate::control`]); with
//! it stopped, they open the data directory themselves and apply the action through the same
//! pipeline code, durably, before returning.

use crate::config::Loaded;
use crate::control::{Access, Client};
use crate::incidents::queue::{Action, Request};
use crate::incidents::view::{self, Detail, ListFilter, ListPage, Names};
use crate::model::IncidentId;
use crate::store::{Incident, Resolution};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Target {
    /// Configuration file (org chart, people, deadlines, data directory).
    #[arg(long, env = "OTKLIK_CONFIG", default_value = "config/otklik.toml")]
    pub config: PathBuf,
    /// Data directory; by default the configuration's `daemon.data_dir`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// The queue: open incidents, the soonest deadline first.
    List {
        /// Status: moderation, routed, in_work, answered, closed (repeat or comma-separate).
        #[arg(long, value_delimiter = ',')]
        status: Vec<String>,
        /// Every incident, closed ones too.
        #[arg(long, conflicts_with = "status")]
        all: bool,
        /// Department or territory id.
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        territory: Option<String>,
        /// Topic group id.
        #[arg(long)]
        group: Option<String>,
        /// Only past their deadline.
        #[arg(long)]
        overdue: bool,
        /// Only urgent or resonant.
        #[arg(long)]
        urgent: bool,
        /// Only resonant.
        #[arg(long)]
        resonant: bool,
        /// Only opened at or after: `2026-11-16` (Moscow midnight) or RFC 3339. With --from or
        /// --to, closed incidents are listed too, except the rejected and duplicates (what the
        /// reports count).
        #[arg(long, value_parser = crate::time::parse_moment)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Only opened before: `2026-11-23` or RFC 3339.
        #[arg(long, value_parser = crate::time::parse_moment)]
        to: Option<chrono::DateTime<chrono::Utc>>,
        /// deadline, newest or oldest.
        #[arg(long, default_value = "deadline")]
        sort: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// An incident with its posts and timeline.
    Show {
        id: IncidentId,
        #[arg(long)]
        json: bool,
    },
    /// Route (or reroute) to a department or territory; correct the classification first if
    /// given. Without --owner the routing rules decide.
    Route {
        id: IncidentId,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        topic: Option<String>,
        #[arg(long)]
        territory: Option<String>,
        #[command(flatten)]
        note: Note,
    },
    /// Record the first response: accepted for work (an interim answer).
    Accept {
        id: IncidentId,
        /// The text of the answer as published.
        #[arg(long)]
        text: Option<String>,
        #[command(flatten)]
        note: Note,
    },
    /// Record the answer on the merits (--interim: an interim answer, same as `accept`).
    Answer {
        id: IncidentId,
        #[arg(long)]
        text: Option<String>,
        #[arg(long)]
        interim: bool,
        #[command(flatten)]
        note: Note,
    },
    /// Waiting for another body (an outside organisation): the clock pauses.
    Wait {
        id: IncidentId,
        /// Which organisation.
        #[arg(long)]
        body: String,
        #[command(flatten)]
        note: Note,
    },
    /// The other body answered: the clock runs again.
    Resume {
        id: IncidentId,
        #[command(flatten)]
        note: Note,
    },
    /// Close: solved, not_confirmed or not_incident (duplicates are merged).
    Close {
        id: IncidentId,
        #[arg(long, value_parser = parse_resolution)]
        resolution: Resolution,
        #[command(flatten)]
        note: Note,
    },
    /// Reopen a closed or answered incident.
    Reopen {
        id: IncidentId,
        #[command(flatten)]
        note: Note,
    },
    /// Merge the incident into another one (it closes as a duplicate).
    Merge {
        id: IncidentId,
        #[arg(long)]
        into: IncidentId,
        #[command(flatten)]
        note: Note,
    },
    /// Take a post out of the incident into a new incident.
    Split {
        id: IncidentId,
        /// The post's key, e.g. vk:-123_456.
        #[arg(long)]
        post: String,
        #[command(flatten)]
        note: Note,
    },
    /// Attach a post to the incident.
    Attach {
        id: IncidentId,
        #[arg(long)]
        post: String,
        #[command(flatten)]
        note: Note,
    },
    /// Confirm that an official's comment was read right as the answer.
    ConfirmAnswer {
        id: IncidentId,
        #[command(flatten)]
        note: Note,
    },
    /// Reject that reading: the incident returns to where it was.
    RejectAnswer {
        id: IncidentId,
        #[command(flatten)]
        note: Note,
    },
    /// Record whether the resident was satisfied with the answer.
    Satisfaction {
        id: IncidentId,
        #[arg(long, action = clap::ArgAction::Set)]
        satisfied: bool,
        #[command(flatten)]
        note: Note,
    },
    /// Add a comment to the timeline.
    Comment {
        id: IncidentId,
        #[arg(long)]
        comment: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct Note {
    /// Why: written into the timeline.
    #[arg(long)]
    comment: Option<String>,
}

fn parse_resolution(s: &str) -> Result<Resolution, String> {
    Resolution::from_id(s).ok_or_else(|| {
        format!(
            "expected one of: {}",
            Resolution::ALL.map(|r| r.id()).join(", ")
        )
    })
}

impl Command {
    /// The action this command asks for, with its incident and comment.
    fn action(self) -> Option<(IncidentId, Action, Option<String>)> {
        Some(match self {
            Command::List { .. } | Command::Show { .. } => return None,
            Command::Route {
                id,
                owner,
                group,
                topic,
                territory,
                note,
            } => (
                id,
                Action::Route {
                    owner,
                    group,
                    topic,
                    territory,
                },
                note.comment,
            ),
            Command::Accept { id, text, note } => (id, Action::Accept { text }, note.comment),
            Command::Answer {
                id,
                text,
                interim,
                note,
            } => (
                id,
                if interim {
                    Action::Accept { text }
                } else {
                    Action::Answer { text }
                },
                note.comment,
            ),
            Command::Wait { id, body, note } => (id, Action::Wait { body }, note.comment),
            Command::Resume { id, note } => (id, Action::Resume, note.comment),
            Command::Close {
                id,
                resolution,
                note,
            } => (id, Action::Close { resolution }, note.comment),
            Command::Reopen { id, note } => (id, Action::Reopen, note.comment),
            Command::Merge { id, into, note } => (id, Action::Merge { into }, note.comment),
            Command::Split { id, post, note } => (id, Action::Split { post }, note.comment),
            Command::Attach { id, post, note } => (id, Action::Attach { post }, note.comment),
            Command::ConfirmAnswer { id, note } => (id, Action::ConfirmAnswer, note.comment),
            Command::RejectAnswer { id, note } => (id, Action::RejectAnswer, note.comment),
            Command::Satisfaction {
                id,
                satisfied,
                note,
            } => (id, Action::Satisfaction { satisfied }, note.comment),
            Command::Comment { id, comment } => (id, Action::Comment, Some(comment)),
        })
    }
}

/// Run an `otklik incidents` command; the exit code says whether it was refused.
pub fn run(target: &Target, command: Command) -> anyhow::Result<std::process::ExitCode> {
    let mut loaded = crate::config::load(&target.config)?;
    if let Some(dir) = &target.data_dir {
        loaded.data_dir = dir.clone();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let access = crate::control::open(&loaded.data_dir)
        .with_context(|| format!("data directory {}", loaded.data_dir.display()))?;
    let names = Names {
        org: &loaded.org,
        taxonomy: &loaded.knowledge.taxonomy,
        calendar: &loaded.calendar,
    };
    let clock = loaded.clock;
    let mut out = std::io::stdout().lock();
    match command {
        Command::List {
            status,
            all,
            owner,
            territory,
            group,
            overdue,
            urgent,
            resonant,
            from,
            to,
            sort,
            limit,
            json,
        } => {
            let status = if all {
                crate::store::IncidentStatus::ALL
                    .map(|s| s.id().to_string())
                    .to_vec()
            } else {
                status
            };
            let filter = ListFilter {
                status,
                owner,
                territory,
                group,
                overdue,
                urgent,
                resonant,
                from,
                to,
                sort: Some(sort),
                limit: Some(limit),
                offset: None,
            };
            filter.validate().map_err(anyhow::Error::msg)?;
            let page: ListPage = match &access {
                Access::Direct(store) => view::list(store, None, &filter, clock.now())?,
                Access::Daemon(client) => rt.block_on(client.get(&list_path(&filter)))?,
            };
            if json {
                for i in &page.incidents {
                    writeln!(out, "{}", serde_json::to_string(i)?)?;
                }
            } else {
                let now = clock.now();
                for i in &page.incidents {
                    writeln!(out, "{}", names.line(i, now))?;
                }
                writeln!(out, "Показано {} из {}.", page.incidents.len(), page.total)?;
            }
        }
        Command::Show { id, json } => {
            let detail: Option<Detail> = match &access {
                Access::Direct(store) => view::detail(store, id, true, Some(&loaded.knowledge))?,
                Access::Daemon(client) => {
                    match rt.block_on(client.get(&format!("/api/v1/incidents/{id}"))) {
                        Ok(d) => Some(d),
                        Err(e) if e.to_string().contains("404") => None,
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            let Some(detail) = detail else {
                eprintln!("otklik: инцидент № {id} не найден");
                return Ok(std::process::ExitCode::from(2));
            };
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&detail)?)?;
            } else {
                print_detail(&mut out, &names, &detail, clock.now())?;
            }
        }
        other => {
            let (id, action, comment) = other.action().expect("not a read command");
            let request = Request {
                incident: id,
                actor: crate::control::unix_user(),
                comment,
                action,
            };
            let result: Result<Incident, String> = match access {
                Access::Direct(store) => act_directly(&loaded, store, &request, clock)?,
                Access::Daemon(client) => rt.block_on(act_remotely(&client, &request))?,
            };
            match result {
                Ok(incident) => {
                    writeln!(out, "{}", names.line(&incident, clock.now()))?;
                }
                Err(refusal) => {
                    eprintln!("otklik: отказано: {refusal}");
                    return Ok(std::process::ExitCode::from(2));
                }
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn list_path(f: &ListFilter) -> String {
    let mut q = vec![];
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    if !f.status.is_empty() {
        q.push(format!("status={}", enc(&f.status.join(","))));
    }
    for (k, v) in [
        ("owner", &f.owner),
        ("territory", &f.territory),
        ("group", &f.group),
        ("sort", &f.sort),
    ] {
        if let Some(v) = v {
            q.push(format!("{k}={}", enc(v)));
        }
    }
    if f.overdue {
        q.push("overdue=true".into());
    }
    if f.urgent {
        q.push("urgent=true".into());
    }
    if f.resonant {
        q.push("resonant=true".into());
    }
    for (k, t) in [("from", f.from), ("to", f.to)] {
        if let Some(t) = t {
            q.push(format!("{k}={}", enc(&crate::time::rfc3339(t))));
        }
    }
    if let Some(l) = f.limit {
        q.push(format!("limit={l}"));
    }
    format!("/api/v1/incidents?{}", q.join("&"))
}

/// Apply an action with the daemon stopped: the same pipeline code, on this process.
fn act_directly(
    loaded: &Loaded,
    store: crate::store::Store,
    request: &Request,
    clock: crate::time::Clock,
) -> anyhow::Result<Result<Incident, String>> {
    let data = crate::daemon::DataDir::new(&loaded.data_dir);
    let index = crate::index::IndexWriterHandle::start(
        &data.index(),
        store.clone(),
        &loaded.settings.index,
    )
    .context("opening the search index")?;
    let (activity, _) = tokio::sync::broadcast::channel(1);
    let mut pipeline =
        crate::pipeline::Pipeline::new(loaded, store.clone(), index.sender(), activity, clock)?;
    let result = pipeline.act(request);
    drop(pipeline);
    index.finish();
    store.flush()?;
    match result {
        Ok(incident) => Ok(Ok(incident)),
        Err(e) if e.refused => Ok(Err(e.message)),
        Err(e) => Err(anyhow::anyhow!(e.message)),
    }
}

async fn act_remotely(
    client: &Client,
    request: &Request,
) -> anyhow::Result<Result<Incident, String>> {
    let mut body = serde_json::to_value(&request.action)?;
    if let Some(c) = &request.comment {
        body["comment"] = serde_json::Value::String(c.clone());
    }
    match client
        .post::<_, Incident>(
            &format!("/api/v1/incidents/{}/actions", request.incident),
            &body,
        )
        .await
    {
        Ok(incident) => Ok(Ok(incident)),
        Err(crate::control::AccessError::Daemon { problem, .. })
            if problem.starts_with("409") || problem.starts_with("404") =>
        {
            Ok(Err(problem
                .split_once(": ")
                .map_or(problem.clone(), |(_, m)| m.to_string())))
        }
        Err(e) => Err(e.into()),
    }
}

fn print_detail(
    out: &mut impl Write,
    names: &Names,
    d: &Detail,
    now: chrono::DateTime<chrono::Utc>,
) -> std::io::Result<()> {
    let i = &d.incident;
    writeln!(out, "Инцидент № {} — {}", i.id, i.status.label_ru())?;
    if let Some(r) = i.resolution {
        writeln!(out, "Итог: {}", r.label_ru())?;
    }
    if let Some(into) = i.merged_into {
        writeln!(out, "Объединён с инцидентом № {into}")?;
    }
    let topic = match &i.topic {
        Some(t) => format!("{} / {t}", names.group(&i.group)),
        None => names.group(&i.group),
    };
    writeln!(out, "Тема: {topic}")?;
    writeln!(
        out,
        "Территория: {}{}",
        i.territory
            .as_deref()
            .map_or("не определена".to_string(), |t| names
                .org
                .territory_name(t)),
        i.place
            .as_deref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default()
    )?;
    writeln!(out, "Исполнитель: {}", names.owner(i.owner.as_ref()))?;
    if let Some(c) = &i.clock {
        match c.clock.due() {
            Some(due) => writeln!(
                out,
                "Срок ({}): {}{}",
                c.stage.label_ru(),
                names.time_full(due),
                if now >= due {
                    " — ПРОСРОЧЕН"
                } else {
                    ""
                }
            )?,
            None => writeln!(out, "Срок ({}): приостановлен", c.stage.label_ru())?,
        }
    }
    if let Some(body) = &i.waiting_for {
        writeln!(out, "Ожидается ответ: {body}")?;
    }
    if let Some(p) = &i.pending_answer {
        writeln!(
            out,
            "Ответ официального аккаунта {} ждёт подтверждения координатора",
            p.post
        )?;
    }
    writeln!(
        out,
        "Сообщений: {}, авторов: {}{}{}",
        i.mentions,
        i.authors,
        if i.urgent { ", срочный" } else { "" },
        if i.resonant {
            ", резонансный"
        } else {
            ""
        }
    )?;
    writeln!(out, "\nСообщения:")?;
    for p in &d.posts {
        writeln!(
            out,
            "  {} · {} · {}{}",
            names.time(p.published),
            p.community,
            p.key,
            p.url
                .as_deref()
                .map(|u| format!(" · {u}"))
                .unwrap_or_default()
        )?;
        if let Some(a) = &p.author {
            writeln!(out, "    автор: {a}")?;
        }
        writeln!(
            out,
            "    {}",
            crate::incidents::detect::excerpt(&p.text, 300)
        )?;
        if !p.reasons.is_empty() {
            writeln!(out, "    почему: {}", p.reasons.join("; "))?;
        }
    }
    writeln!(out, "\nХронология:")?;
    for e in &d.events {
        writeln!(out, "  {}", names.event(e))?;
    }
    Ok(())
}
