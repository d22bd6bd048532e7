//! Reading the queue: filters, order, and the Russian text of an incident and its timeline,
//! shared by the HTTP API, the web pages and the CLI.

use crate::incidents::calendar::WorkCalendar;
use crate::incidents::clock::format_local;
use crate::model::IncidentId;
use crate::org::Org;
use crate::store::{EventKind, Incident, IncidentEvent, IncidentStatus, Store, StoreError};
use crate::understand::Taxonomy;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Which incidents to list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListFilter {
    /// Status ids (`moderation`, `routed`, `in_work`, `answered`, `closed`); empty: all open.
    pub status: Vec<String>,
    /// Owner id (department or territory).
    pub owner: Option<String>,
    pub territory: Option<String>,
    pub group: Option<String>,
    /// Only incidents past their deadline.
    pub overdue: bool,
    /// Only urgent or resonant ones.
    pub urgent: bool,
    /// Only resonant ones.
    pub resonant: bool,
    /// Only incidents opened in `[from, to)`. With either bound, closed incidents are listed
    /// too (unless `status` says otherwise), except those closed as not an incident or as a
    /// duplicate: the incidents the reports count, so that a report's figure and the list
    /// behind its link agree.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// `deadline` (soonest first, the default), `newest`, `oldest`.
    pub sort: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

impl ListFilter {
    /// Checks the values, naming the wrong one.
    pub fn validate(&self) -> Result<(), String> {
        for s in &self.status {
            if IncidentStatus::from_id(s).is_none() {
                return Err(format!(
                    "unknown status `{s}`; expected one of: {}",
                    IncidentStatus::ALL.map(|s| s.id()).join(", ")
                ));
            }
        }
        if let Some(sort) = &self.sort
            && !["deadline", "newest", "oldest"].contains(&sort.as_str())
        {
            return Err(format!(
                "unknown sort `{sort}`; expected deadline, newest or oldest"
            ));
        }
        Ok(())
    }

    /// Whether a period is asked for.
    pub fn has_period(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }

    fn matches(&self, i: &Incident, now: DateTime<Utc>) -> bool {
        let status_ok = if !self.status.is_empty() {
            self.status.iter().any(|s| s == i.status.id())
        } else if self.has_period() {
            crate::reports::counts(i)
        } else {
            i.status.is_open()
        };
        let period_ok =
            self.from.is_none_or(|from| i.opened >= from) && self.to.is_none_or(|to| i.opened < to);
        status_ok
            && period_ok
            && (!self.resonant || i.resonant)
            && self
                .owner
                .as_deref()
                .is_none_or(|o| i.owner.as_ref().is_some_and(|x| x.id() == o))
            && self
                .territory
                .as_deref()
                .is_none_or(|t| i.territory.as_deref() == Some(t))
            && self.group.as_deref().is_none_or(|g| i.group == g)
            && (!self.overdue || i.is_overdue(now))
            && (!self.urgent || i.urgent || i.resonant)
    }
}

/// The open incidents in memory, kept current by the pipeline thread after each commit: the
/// queue page and the API list read them without touching the store.
#[derive(Clone, Default)]
pub struct OpenIncidents(Arc<RwLock<HashMap<IncidentId, Arc<Incident>>>>);

impl OpenIncidents {
    /// Every open incident in the store.
    pub fn load(store: &Store) -> Result<OpenIncidents, StoreError> {
        let open = OpenIncidents::default();
        {
            let mut map = open.0.write().expect("not poisoned");
            for incident in store.incidents_without_fingerprints() {
                let incident = incident?;
                if incident.status.is_open() {
                    map.insert(incident.id, Arc::new(incident));
                }
            }
        }
        Ok(open)
    }

    /// Take in changed incidents: open ones are (re)placed, closed ones leave.
    pub fn update<'a>(&self, incidents: impl IntoIterator<Item = &'a Incident>) {
        let mut map = self.0.write().expect("not poisoned");
        for incident in incidents {
            if incident.status.is_open() {
                let mut light = incident.clone();
                light.fingerprint = Vec::new();
                map.insert(incident.id, Arc::new(light));
            } else {
                map.remove(&incident.id);
            }
        }
    }

    fn matching(&self, filter: &ListFilter, now: DateTime<Utc>) -> Vec<Incident> {
        self.0
            .read()
            .expect("not poisoned")
            .values()
            .filter(|i| filter.matches(i, now))
            .map(|i| (**i).clone())
            .collect()
    }
}

/// A page of the queue.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ListPage {
    /// How many incidents match, before the limit.
    pub total: usize,
    pub incidents: Vec<Incident>,
}

/// List incidents: open ones from memory when `open` is given and the filter asks for open
/// statuses only, otherwise from the store.
pub fn list(
    store: &Store,
    open: Option<&OpenIncidents>,
    filter: &ListFilter,
    now: DateTime<Utc>,
) -> Result<ListPage, StoreError> {
    let only_open = if filter.status.is_empty() {
        !filter.has_period()
    } else {
        filter
            .status
            .iter()
            .all(|s| IncidentStatus::from_id(s).is_some_and(IncidentStatus::is_open))
    };
    let mut found = Vec::new();
    match open {
        Some(open) if only_open => found = open.matching(filter, now),
        _ => {
            for incident in store.incidents_without_fingerprints() {
                let incident = incident?;
                if filter.matches(&incident, now) {
                    found.push(incident);
                }
            }
        }
    }
    match filter.sort.as_deref().unwrap_or("deadline") {
        "newest" => found.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id))),
        "oldest" => found.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id))),
        _ => found.sort_by_key(|i| (i.due().unwrap_or(DateTime::<Utc>::MAX_UTC), i.id)),
    }
    let total = found.len();
    let offset = filter.offset.unwrap_or(0).min(total);
    let limit = filter.limit.unwrap_or(100);
    let incidents = found.into_iter().skip(offset).take(limit).collect();
    Ok(ListPage { total, incidents })
}

/// An incident with its timeline and posts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Detail {
    pub incident: Incident,
    pub events: Vec<IncidentEvent>,
    pub posts: Vec<PostSummary>,
}

/// A post of an incident, as the queue shows it. Author fields are personal data: filled
/// only for callers allowed to see them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PostSummary {
    pub key: String,
    pub url: Option<String>,
    pub community: String,
    pub published: DateTime<Utc>,
    pub text: String,
    pub author: Option<String>,
    pub author_url: Option<String>,
    /// Why the understanding step takes this post for what it is («инцидент», the words that
    /// named the topic and the place), in Russian: worked out again from the text with the
    /// dictionaries loaded now, so after a dictionary change it may differ from the verdict
    /// the post got on arrival.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// Read an incident with its timeline and posts; `personal` decides whether authors are shown.
/// With `knowledge`, each post says why it was taken for a complaint ([`PostSummary::reasons`]).
pub fn detail(
    store: &Store,
    id: IncidentId,
    personal: bool,
    knowledge: Option<&crate::understand::Knowledge>,
) -> Result<Option<Detail>, StoreError> {
    let Some(incident) = store.incident(id)? else {
        return Ok(None);
    };
    let events = store.events(id)?;
    let mut posts = Vec::new();
    let keys = store.incident_posts(id)?;
    for key in keys {
        let Some(parsed) = crate::model::PostKey::parse(&key) else {
            continue;
        };
        if let Some(stored) = store.post_by_key(&parsed)? {
            if stored.incident != Some(id) {
                continue;
            }
            let text = stored.post.full_text();
            let reasons = knowledge.map_or_else(Vec::new, |k| {
                let view = crate::understand::PostView::of(&stored.post, &text);
                crate::understand::explain(&view, k).reasons
            });
            posts.push(PostSummary {
                key,
                url: stored.post.url.clone(),
                community: stored.post.community.clone(),
                published: stored.post.published,
                text,
                author: stored.post.author.clone().filter(|_| personal),
                author_url: stored.post.author_url.clone().filter(|_| personal),
                reasons,
            });
        }
    }
    Ok(Some(Detail {
        incident,
        events,
        posts,
    }))
}

/// Names for the text: the org chart, the taxonomy and the calendar.
pub struct Names<'a> {
    pub org: &'a Org,
    pub taxonomy: &'a Taxonomy,
    pub calendar: &'a WorkCalendar,
}

impl Names<'_> {
    pub fn group(&self, id: &str) -> String {
        self.taxonomy
            .group(id)
            .map_or(id.to_string(), |g| g.name.clone())
    }

    pub fn owner(&self, owner: Option<&crate::org::Owner>) -> String {
        owner.map_or("не назначен".to_string(), |o| {
            self.org.owner_name(o)
        })
    }

    /// A time as users read it in lists: `26.11.2026 17:15` (local).
    pub fn time(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.calendar.timezone())
            .format("%d.%m.%Y %H:%M")
            .to_string()
    }

    /// A time in full: date, time, weekday and zone.
    pub fn time_full(&self, t: DateTime<Utc>) -> String {
        format_local(t, self.calendar)
    }

    /// One line of the queue.
    pub fn line(&self, i: &Incident, now: DateTime<Utc>) -> String {
        let due = match (i.due(), &i.clock) {
            (Some(due), _) if now >= due => format!("ПРОСРОЧЕН с {}", self.time(due)),
            (Some(due), _) => format!("до {}", self.time(due)),
            (None, Some(_)) => "срок приостановлен".to_string(),
            (None, None) => "—".to_string(),
        };
        let mut marks = String::new();
        if i.urgent {
            marks.push_str(" [срочно]");
        }
        if i.resonant {
            marks.push_str(" [резонанс]");
        }
        format!(
            "№{:<6} {:<24} {:<28} {} · {} · {}{}\n        {}",
            i.id,
            i.status.label_ru(),
            due,
            self.group(&i.group),
            i.territory.as_deref().map_or(
                "территория не определена".to_string(),
                |t| self.org.territory_name(t)
            ),
            self.owner(i.owner.as_ref()),
            marks,
            i.summary
        )
    }

    /// What an event says, in Russian.
    pub fn event(&self, e: &IncidentEvent) -> String {
        let text = match &e.kind {
            EventKind::Created {
                post,
                status,
                owner,
            } => format!(
                "создан по сообщению {post}; {}; исполнитель: {}",
                status.label_ru(),
                self.owner(owner.as_ref())
            ),
            EventKind::PostAttached { post } => format!("добавлено сообщение {post}"),
            EventKind::MarkedResonant { authors } => {
                format!("отмечен как резонансный: {authors} авторов за короткое время")
            }
            EventKind::Routed { owner, previous } => match previous {
                Some(p) if p != owner => format!(
                    "перенаправлен: {} → {}",
                    self.org.owner_name(p),
                    self.org.owner_name(owner)
                ),
                _ => format!("направлен исполнителю: {}", self.org.owner_name(owner)),
            },
            EventKind::Reclassified {
                group,
                topic,
                territory,
            } => format!(
                "уточнена классификация: {}{}; территория: {}",
                self.group(group),
                topic
                    .as_deref()
                    .map(|t| format!(" / {t}"))
                    .unwrap_or_default(),
                territory
                    .as_deref()
                    .map_or("не определена".to_string(), |t| self
                        .org
                        .territory_name(t))
            ),
            EventKind::ClockStarted { stage, due } => {
                format!("срок «{}»: {}", stage.label_ru(), self.time(*due))
            }
            EventKind::Accepted { text, post } => format!(
                "принят в работу (первый ответ){}{}",
                post.as_deref()
                    .map(|p| format!(", комментарий {p}"))
                    .unwrap_or_default(),
                text.as_deref()
                    .map(|t| format!(": {t}"))
                    .unwrap_or_default()
            ),
            EventKind::Answered { text, post } => format!(
                "дан ответ по существу{}{}",
                post.as_deref()
                    .map(|p| format!(", комментарий {p}"))
                    .unwrap_or_default(),
                text.as_deref()
                    .map(|t| format!(": {t}"))
                    .unwrap_or_default()
            ),
            EventKind::AnswerDetected { post, text, merits } => format!(
                "найден ответ официального аккаунта ({post}), прочитан как {}: {}",
                if *merits {
                    "ответ по существу"
                } else {
                    "промежуточный ответ"
                },
                crate::incidents::detect::excerpt(text, 300)
            ),
            EventKind::AnswerConfirmed { post } => format!("прочтение ответа {post} подтверждено"),
            EventKind::AnswerRejected { post } => {
                format!("прочтение ответа {post} отклонено; срок идёт снова")
            }
            EventKind::WaitingStarted { body } => {
                format!("ожидается ответ другой организации ({body}); срок приостановлен")
            }
            EventKind::WaitingEnded { body } => {
                format!("получен ответ другой организации ({body}); срок идёт снова")
            }
            EventKind::Closed { resolution } => format!("закрыт: {}", resolution.label_ru()),
            EventKind::Reopened { post } => match post {
                Some(p) => format!("открыт заново: проблема повторилась (сообщение {p})"),
                None => "открыт заново".to_string(),
            },
            EventKind::MergedInto { into } => format!("объединён с инцидентом №{into}"),
            EventKind::MergedFrom { from, posts } => {
                format!("присоединён инцидент №{from} ({} сообщ.)", posts.len())
            }
            EventKind::PostDetached { post, to } => {
                format!("сообщение {post} перенесено в инцидент №{to}")
            }
            EventKind::Escalated {
                stage,
                roles,
                due,
                overdue,
                ..
            } => format!(
                "{}: «{}», срок {}; уведомлены роли: {}",
                if *overdue {
                    "эскалация"
                } else {
                    "напоминание"
                },
                stage.label_ru(),
                self.time(*due),
                roles.join(", ")
            ),
            EventKind::SatisfactionRecorded { satisfied } => format!(
                "оценка жителя: {}",
                if *satisfied {
                    "удовлетворён"
                } else {
                    "не удовлетворён"
                }
            ),
            EventKind::Commented => "комментарий".to_string(),
        };
        let comment = e
            .comment
            .as_deref()
            .map(|c| format!(" — «{c}»"))
            .unwrap_or_default();
        format!("{}  {}: {text}{comment}", self.time(e.at), e.actor)
    }
}
