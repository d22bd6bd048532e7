//! Tells the person watching `otklik demo` what the daemon is doing, in Russian.

use crate::org::Org;
use crate::pipeline::Activity;
use crate::store::Incident;
use crate::understand::Knowledge;
use std::io::Write;
use std::sync::Arc;
use tokio::sync::broadcast;

/// What the narrator needs to name things.
pub struct Narrator {
    pub org: Arc<Org>,
    pub knowledge: Arc<Knowledge>,
    /// The service's clock: narration times are the service's times.
    pub clock: crate::time::Clock,
}

/// The service's time of day, as each narrated line starts.
pub fn stamp(clock: crate::time::Clock) -> String {
    clock
        .now()
        .with_timezone(&chrono_tz::Europe::Moscow)
        .format("%H:%M:%S")
        .to_string()
}

impl Narrator {
    /// Print every activity until the channel closes.
    pub async fn run(self, mut activity: broadcast::Receiver<Activity>) {
        loop {
            match activity.recv().await {
                Ok(event) => {
                    let text = self.describe(&event);
                    if !text.is_empty() {
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "{text}");
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    println!("   … пропущено событий: {missed}");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }

    /// One activity as the lines a person reads.
    pub fn describe(&self, event: &Activity) -> String {
        let now = stamp(self.clock);
        match event {
            Activity::PostStored { post } => {
                let kind = if post.understanding.incident {
                    "жалоба/вопрос"
                } else {
                    "не инцидент"
                };
                format!(
                    "{now}  ← {} · {}: «{}» [{kind}]",
                    post.post.key.platform,
                    post.post.community,
                    crate::incidents::detect::excerpt(&post.post.text, 90)
                )
            }
            Activity::IncidentOpened { incident } => {
                let mut lines = vec![format!(
                    "{now}  ● Открыт инцидент №{}: {}",
                    incident.id,
                    self.topic_line(incident)
                )];
                lines.push(format!(
                    "            территория: {}",
                    self.place_line(incident)
                ));
                let owner = incident.owner.as_ref().map_or_else(
                    || "не определён — нужна модерация".to_string(),
                    |o| self.org.owner_name(o),
                );
                lines.push(format!("            ответственный: {owner}"));
                let mut status = format!("            статус: {}", incident.status.label_ru());
                if incident.urgent {
                    status.push_str(" · СРОЧНО");
                }
                if let Some(c) = &incident.clock
                    && let Some(due) = c.clock.due()
                {
                    status.push_str(&format!(
                        " · {} до {}",
                        c.stage.label_ru(),
                        due.with_timezone(&chrono_tz::Europe::Moscow)
                            .format("%d.%m %H:%M")
                    ));
                }
                lines.push(status);
                lines.join("\n")
            }
            Activity::PostAttached { incident, .. } => format!(
                "{now}  + К инциденту №{} добавлено сообщение: упоминаний {}, авторов {}",
                incident.id, incident.mentions, incident.authors
            ),
            Activity::IncidentResonant { incident } => format!(
                "{now}  ‼ Инцидент №{} стал резонансным: {} авторов за короткое время",
                incident.id, incident.authors
            ),
            Activity::IncidentChanged { incident } => {
                let mut line = format!(
                    "{now}  ◆ Инцидент №{}: {}",
                    incident.id,
                    incident.status.label_ru()
                );
                if let Some(r) = incident.resolution {
                    line.push_str(&format!(" ({})", r.label_ru()));
                }
                if let Some(body) = &incident.waiting_for {
                    line.push_str(&format!(" · ожидается ответ: {body}"));
                }
                line
            }
            Activity::Alert { alert } => format!("{now}  ✉ В очередь оповещений: {}", alert.title),
            Activity::SourceHealth {
                source,
                state,
                error,
            } => format!(
                "{now}  ⚠ Источник «{source}»: {}{}",
                state.label_ru(),
                error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ),
        }
    }

    fn topic_line(&self, incident: &Incident) -> String {
        let group = self
            .knowledge
            .taxonomy
            .group(&incident.group)
            .map_or(incident.group.as_str(), |g| g.name.as_str());
        match &incident.topic {
            Some(topic) => format!("{group} / {topic}"),
            None => group.to_string(),
        }
    }

    fn place_line(&self, incident: &Incident) -> String {
        let territory = incident.territory.as_deref().map_or_else(
            || "не определена".to_string(),
            |t| self.org.territory_name(t),
        );
        match &incident.place {
            Some(place) => format!("{territory} ({place})"),
            None => territory,
        }
    }
}
