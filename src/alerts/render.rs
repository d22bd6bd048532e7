//! What an alert says: subject, plain text, HTML for e-mail and Telegram's HTML subset.
//! Officials read it: Russian, complete enough to act without opening anything.

use crate::store::{Alert, AlertKind};
use crate::text::html_escape;

/// What is known about an alert's incident when the message is written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IncidentContext {
    pub topic: Option<String>,
    pub territory: Option<String>,
    pub place: Option<String>,
    /// The deadline of the running stage, in local time, as users read it.
    pub due: Option<String>,
    pub excerpt: Option<String>,
    /// The original post.
    pub post_url: Option<String>,
    /// The incident's page.
    pub page_url: Option<String>,
}

/// One alert as a message gets it.
#[derive(Clone, Debug)]
pub struct Item {
    pub alert: Alert,
    pub incident: IncidentContext,
}

/// A rendered message.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub telegram: String,
}

/// Render one alert, or several as a digest. `acting_for`: the name of the person the
/// recipient substitutes for.
pub fn render(items: &[Item], acting_for: Option<&str>, key: &str) -> Message {
    let subject = match items {
        [one] => format!("[Отклик] {}", one.alert.title),
        _ => format!(
            "[Отклик] Сводка: {} {}",
            items.len(),
            plural(items.len(), "уведомление", "уведомления", "уведомлений")
        ),
    };
    let urgent = items.iter().any(|i| i.alert.urgent);
    let mut text = String::new();
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"ru\"><head><meta charset=\"utf-8\"></head><body>\n",
    );
    let mut tg = String::new();
    if let Some(name) = acting_for {
        let line = format!("Вы получили это уведомление как исполняющий обязанности: {name}.");
        text.push_str(&line);
        text.push_str("\n\n");
        html.push_str(&format!("<p><i>{}</i></p>\n", html_escape(&line)));
        tg.push_str(&format!("<i>{}</i>\n\n", html_escape(&line)));
    }
    if items.len() > 1 {
        let line = format!(
            "За последнее время накопилось {} {}{}.",
            items.len(),
            plural(items.len(), "уведомление", "уведомления", "уведомлений"),
            if urgent {
                ", среди них срочные"
            } else {
                ""
            }
        );
        text.push_str(&line);
        text.push_str("\n\n");
        html.push_str(&format!("<p>{}</p>\n", html_escape(&line)));
        tg.push_str(&format!("<b>{}</b>\n\n", html_escape(&line)));
    }
    for (n, item) in items.iter().enumerate() {
        let a = &item.alert;
        let mark = if a.urgent { "СРОЧНО. " } else { "" };
        let number = if items.len() > 1 {
            format!("{}. ", n + 1)
        } else {
            String::new()
        };
        text.push_str(&format!("{number}{mark}{}\n", a.title));
        html.push_str(&format!(
            "<h3>{}{}{}</h3>\n",
            number,
            html_escape(mark),
            html_escape(&a.title)
        ));
        tg.push_str(&format!(
            "<b>{}{}{}</b>\n",
            number,
            html_escape(mark),
            html_escape(&a.title)
        ));
        if !a.body.is_empty() {
            text.push_str(&a.body);
            text.push('\n');
            html.push_str(&format!(
                "<p>{}</p>\n",
                html_escape(&a.body).replace('\n', "<br>\n")
            ));
            tg.push_str(&html_escape(&a.body));
            tg.push('\n');
        }
        let c = &item.incident;
        let mut rows: Vec<(&str, String)> = Vec::new();
        if let Some(id) = a.incident {
            rows.push(("Инцидент", format!("№ {id}")));
        }
        for (label, value) in [
            ("Тема", &c.topic),
            ("Территория", &c.territory),
            ("Место", &c.place),
            ("Срок", &c.due),
        ] {
            if let Some(v) = value {
                rows.push((label, v.clone()));
            }
        }
        if let Some(ex) = &c.excerpt {
            rows.push(("Фрагмент", format!("«{ex}»")));
        }
        if !rows.is_empty() {
            html.push_str("<table>\n");
        }
        for (label, value) in &rows {
            text.push_str(&format!("{label}: {value}\n"));
            html.push_str(&format!(
                "<tr><th align=\"left\">{}</th><td>{}</td></tr>\n",
                label,
                html_escape(value)
            ));
            tg.push_str(&format!("{}: {}\n", label, html_escape(value)));
        }
        if !rows.is_empty() {
            html.push_str("</table>\n");
        }
        for (label, url) in [
            ("Исходное сообщение", &c.post_url),
            ("Карточка инцидента", &c.page_url),
        ] {
            if let Some(url) = url {
                text.push_str(&format!("{label}: {url}\n"));
                html.push_str(&format!(
                    "<p><a href=\"{}\">{}</a></p>\n",
                    html_escape(url),
                    label
                ));
                tg.push_str(&format!("<a href=\"{}\">{}</a>\n", html_escape(url), label));
            }
        }
        text.push('\n');
        tg.push('\n');
    }
    let footer =
        format!("Автоматическое уведомление системы «Отклик». Идентификатор сообщения: {key}.");
    text.push_str("-- \n");
    text.push_str(&footer);
    text.push('\n');
    html.push_str(&format!(
        "<hr><p><small>{}</small></p>\n</body></html>\n",
        html_escape(&footer)
    ));
    Message {
        subject,
        text,
        html,
        telegram: tg.trim_end().to_string(),
    }
}

/// The Russian plural form for `n`.
pub fn plural<'a>(n: usize, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    let (d10, d100) = (n % 10, n % 100);
    if d10 == 1 && d100 != 11 {
        one
    } else if (2..=4).contains(&d10) && !(12..=14).contains(&d100) {
        few
    } else {
        many
    }
}

/// How the kind of an alert is named to users.
pub fn kind_label(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::NewIncident => "новый инцидент",
        AlertKind::Moderation => "на модерации",
        AlertKind::Routed => "направлено исполнителю",
        AlertKind::Reminder => "напоминание",
        AlertKind::Escalation => "эскалация",
        AlertKind::Overdue => "просрочка",
        AlertKind::Resonance => "резонанс",
        AlertKind::AnswerDetected => "найден ответ",
        AlertKind::Reopened => "инцидент возобновлён",
        AlertKind::SourceFailing => "сбой источника",
        AlertKind::SourceRecovered => "источник восстановлен",
        AlertKind::Digest => "сводка",
        AlertKind::WeeklyNote => "еженедельная справка",
        AlertKind::Test => "проверка",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: u64, title: &str) -> Item {
        Item {
            alert: Alert {
                id,
                at: "2026-11-26T10:00:00Z".parse().unwrap(),
                kind: AlertKind::NewIncident,
                incident: Some(42),
                roles: vec![],
                persons: vec![],
                urgent: false,
                title: title.into(),
                body: "Жители сообщают <о проблеме> & просят помочь".into(),
            },
            incident: IncidentContext {
                topic: Some("Уличное освещение".into()),
                territory: Some("Гаврилов-Ям".into()),
                place: Some("ул. Кирова".into()),
                due: Some("2026-11-27 17:00 (пт), Europe/Moscow".into()),
                excerpt: Some("не горят фонари".into()),
                post_url: Some("https://vk.com/wall-1_2".into()),
                page_url: Some("http://otklik.local/incidents/42".into()),
            },
        }
    }

    #[test]
    fn one_alert_has_every_detail_and_escapes_html() {
        let m = render(&[item(1, "Новый инцидент № 42")], None, "otklik-alert-1.p");
        assert_eq!(m.subject, "[Отклик] Новый инцидент № 42");
        for part in [
            "Тема: Уличное освещение",
            "Территория: Гаврилов-Ям",
            "Место: ул. Кирова",
            "Срок: 2026-11-27 17:00",
            "«не горят фонари»",
            "https://vk.com/wall-1_2",
            "http://otklik.local/incidents/42",
            "otklik-alert-1.p",
        ] {
            assert!(m.text.contains(part), "{part} in {}", m.text);
        }
        assert!(
            m.html.contains("&lt;о проблеме&gt; &amp; просят"),
            "{}",
            m.html
        );
        assert!(m.telegram.contains("&lt;о проблеме&gt; &amp; просят"));
        assert!(!m.telegram.contains("<table"), "Telegram has no tables");
    }

    #[test]
    fn several_alerts_make_a_digest() {
        let items: Vec<Item> = (1..=22).map(|i| item(i, &format!("Алерт {i}"))).collect();
        let m = render(&items, Some("Петров П. П."), "k");
        assert_eq!(m.subject, "[Отклик] Сводка: 22 уведомления");
        assert!(m.text.contains("22. Алерт 22"));
        assert!(m.text.contains("исполняющий обязанности: Петров П. П."));
    }

    #[test]
    fn plurals() {
        let p = |n| plural(n, "уведомление", "уведомления", "уведомлений");
        assert_eq!(p(1), "уведомление");
        assert_eq!(p(3), "уведомления");
        assert_eq!(p(11), "уведомлений");
        assert_eq!(p(21), "уведомление");
        assert_eq!(p(50), "уведомлений");
    }
}
