//! The queue and an incident's page as HTML (the body inside the web layer's page frame), and
//! the reading of the action forms. Everything from outside is escaped; every form carries the
//! session's CSRF token; actions are offered only when the viewer may act and the incident's
//! state allows them.

use super::queue::Action;
use super::view::{Detail, ListFilter, ListPage, Names};
use crate::store::{Incident, IncidentStatus, Resolution};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

fn esc(text: &str) -> String {
    crate::text::html_escape(text).replace('\'', "&#39;")
}

/// Extra styles of the queue pages, appended to the layout's stylesheet.
pub const CSS: &str = "\
.queue-form{display:flex;flex-wrap:wrap;gap:.6rem;align-items:flex-end;margin-bottom:1rem}\
.queue-form select{max-width:16rem}\
@media (max-width:760px){.queue-form>div{flex:1 1 100%}.queue-form select{width:100%;max-width:100%}}\
.incident{background:#fff;border:1px solid #dde2ea;border-left:4px solid #5b7db1;border-radius:6px;padding:.6rem .9rem;margin-bottom:.6rem}\
.incident.overdue{border-left-color:#a11d1d}.incident.urgent{border-left-color:#d97706}\
.incident .head{display:flex;flex-wrap:wrap;gap:.3rem .9rem;align-items:baseline}\
.incident .num{font-weight:700}.incident .meta{font-size:.85rem;color:#5a6578}\
.badge{display:inline-block;font-size:.78rem;padding:.05rem .45rem;border-radius:999px;background:#e8eef7;color:#1f3a5f}\
.badge.red{background:#fde8e8;color:#7a1c1c}.badge.amber{background:#fff1d6;color:#7a4a00}.badge.green{background:#e3f4e8;color:#16602b}\
.due{font-weight:600}.due.late{color:#a11d1d}\
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0 0 1rem}\
.facts dt{color:#5a6578}.facts dd{margin:0}\
@media (max-width:760px){.facts{grid-template-columns:1fr}.facts dd{margin-bottom:.4rem}}\
.posts article{background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:.6rem .9rem;margin-bottom:.5rem;overflow-wrap:anywhere}\
.posts .why{margin-top:.4rem;color:#4a5568;font-size:.9em}.posts .why ul{margin:.3rem 0 0;padding-left:1.2rem}\
.timeline{list-style:none;padding:0;margin:0}.timeline li{padding:.35rem 0;border-bottom:1px solid #e3e7ee;overflow-wrap:anywhere}\
.timeline time{color:#5a6578;font-size:.85rem;margin-right:.5rem}\
.actions{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:.8rem}\
.actions form{background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:.6rem .8rem;display:flex;flex-direction:column;gap:.4rem}\
.actions textarea{font:inherit;padding:.4rem;border:1px solid #b8c0cc;border-radius:4px;min-height:3.5rem}\
.actions h3{margin:0;font-size:1rem}";

/// "осталось 3 ч 20 мин" / "просрочено на 45 мин".
pub fn countdown(due: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (due - now).num_minutes();
    let span = |m: i64| {
        let m = m.abs();
        let (d, h, mm) = (m / 1440, (m % 1440) / 60, m % 60);
        match (d, h) {
            (0, 0) => format!("{mm} мин"),
            (0, _) => format!("{h} ч {mm} мин"),
            _ => format!("{d} дн {h} ч"),
        }
    };
    if minutes >= 0 {
        format!("осталось {}", span(minutes))
    } else {
        format!("просрочено на {}", span(minutes))
    }
}

fn badges(i: &Incident, now: DateTime<Utc>) -> String {
    let mut out = format!("<span class=\"badge\">{}</span>", esc(i.status.label_ru()));
    if let Some(r) = i.resolution {
        out.push_str(&format!(
            " <span class=\"badge green\">{}</span>",
            esc(r.label_ru())
        ));
    }
    if i.urgent {
        out.push_str(" <span class=\"badge amber\">срочно</span>");
    }
    if i.resonant {
        out.push_str(" <span class=\"badge amber\">резонанс</span>");
    }
    if i.is_overdue(now) {
        out.push_str(" <span class=\"badge red\">просрочен</span>");
    }
    if i.waiting_for.is_some() {
        out.push_str(" <span class=\"badge\">ожидание другой организации</span>");
    }
    if i.pending_answer.is_some() {
        out.push_str(" <span class=\"badge amber\">ответ ждёт подтверждения</span>");
    }
    out
}

fn due_line(i: &Incident, names: &Names, now: DateTime<Utc>) -> String {
    match (&i.clock, i.due()) {
        (Some(c), Some(due)) => format!(
            "<span class=\"due{}\">{}: до {} — {}</span>",
            if now >= due { " late" } else { "" },
            esc(c.stage.label_ru()),
            esc(&names.time(due)),
            esc(&countdown(due, now))
        ),
        (Some(c), None) => format!(
            "<span class=\"due\">{}: срок приостановлен</span>",
            esc(c.stage.label_ru())
        ),
        _ => String::new(),
    }
}

/// The owners (departments, then territories) as `<option>`s, `selected` marked.
fn owner_options(names: &Names, selected: Option<&str>) -> String {
    let mut out = String::new();
    let mut option = |id: &str, label: &str| {
        out.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            esc(id),
            if selected == Some(id) {
                " selected"
            } else {
                ""
            },
            esc(label)
        ));
    };
    for d in &names.org.departments {
        option(&d.id, &d.name);
    }
    for t in &names.org.territories {
        option(&t.id, &t.name);
    }
    out
}

/// The queue: a filter form and the incidents as cards.
pub fn queue_page(
    page: &ListPage,
    filter: &ListFilter,
    names: &Names,
    now: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    let status = filter.status.first().map(String::as_str).unwrap_or("");
    let period = filter.has_period();
    let mut status_options = format!(
        "<option value=\"\">{}</option>",
        if period {
            "все, кроме снятых и дубликатов"
        } else {
            "все открытые"
        }
    );
    for s in IncidentStatus::ALL {
        status_options.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            s.id(),
            if status == s.id() { " selected" } else { "" },
            esc(s.label_ru())
        ));
    }
    let mut territory_options = String::from("<option value=\"\">все</option>");
    for t in &names.org.territories {
        territory_options.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            esc(&t.id),
            if filter.territory.as_deref() == Some(t.id.as_str()) {
                " selected"
            } else {
                ""
            },
            esc(&t.name)
        ));
    }
    let mut group_options = String::from("<option value=\"\">все</option>");
    for g in &names.taxonomy.groups {
        group_options.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            esc(&g.id),
            if filter.group.as_deref() == Some(g.id.as_str()) {
                " selected"
            } else {
                ""
            },
            esc(&g.name)
        ));
    }
    let sort = filter.sort.as_deref().unwrap_or("deadline");
    let sort_option = |value: &str, label: &str| {
        format!(
            "<option value=\"{value}\"{}>{label}</option>",
            if sort == value { " selected" } else { "" }
        )
    };
    // A report's link narrows the list to a period (and to resonant incidents): said above the
    // form and kept through it, until reset.
    let mut kept = String::new();
    if period || filter.resonant {
        let mut what = Vec::new();
        if period {
            let at = |t: Option<DateTime<Utc>>| {
                t.map(|t| crate::incidents::clock::format_local(t, names.calendar))
            };
            what.push(match (at(filter.from), at(filter.to)) {
                (Some(f), Some(t)) => format!("открытые с {f} до {t}, включая закрытые"),
                (Some(f), None) => format!("открытые с {f}, включая закрытые"),
                (None, Some(t)) => format!("открытые до {t}, включая закрытые"),
                (None, None) => unreachable!("a period has a bound"),
            });
        }
        if filter.resonant {
            what.push("только резонансные".into());
        }
        out.push_str(&format!(
            "<p class=\"meta\">Отбор из отчёта: {}. <a href=\"/incidents\">Сбросить</a></p>",
            esc(&what.join("; "))
        ));
        for (name, value) in [
            ("from", filter.from.map(crate::time::rfc3339)),
            ("to", filter.to.map(crate::time::rfc3339)),
            ("resonant", filter.resonant.then(|| "true".to_string())),
        ] {
            if let Some(value) = value {
                kept.push_str(&format!(
                    "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                    esc(&value)
                ));
            }
        }
    }
    out.push_str(&format!(
        "<form class=\"queue-form\" method=\"get\" action=\"/incidents\">{kept}\
         <div><label for=\"f-status\">Статус</label><select id=\"f-status\" name=\"status\">{status_options}</select></div>\
         <div><label for=\"f-owner\">Исполнитель</label><select id=\"f-owner\" name=\"owner\"><option value=\"\">все</option>{}</select></div>\
         <div><label for=\"f-territory\">Территория</label><select id=\"f-territory\" name=\"territory\">{territory_options}</select></div>\
         <div><label for=\"f-group\">Тема</label><select id=\"f-group\" name=\"group\">{group_options}</select></div>\
         <div><label><input type=\"checkbox\" name=\"overdue\" value=\"true\"{}> только просроченные</label>\
         <label><input type=\"checkbox\" name=\"urgent\" value=\"true\"{}> срочные и резонансные</label></div>\
         <div><label for=\"f-sort\">Порядок</label><select id=\"f-sort\" name=\"sort\">{}{}{}</select></div>\
         <div><button type=\"submit\">Показать</button></div></form>",
        owner_options(names, filter.owner.as_deref()),
        if filter.overdue { " checked" } else { "" },
        if filter.urgent { " checked" } else { "" },
        sort_option("deadline", "ближайший срок"),
        sort_option("newest", "сначала новые"),
        sort_option("oldest", "сначала старые"),
    ));
    out.push_str(&format!(
        "<p class=\"meta\">Показано {} из {}.</p>",
        page.incidents.len(),
        page.total
    ));
    if page.incidents.is_empty() {
        out.push_str("<p>Инцидентов с такими условиями нет.</p>");
    }
    for i in &page.incidents {
        let class = if i.is_overdue(now) {
            "incident overdue"
        } else if i.urgent || i.resonant {
            "incident urgent"
        } else {
            "incident"
        };
        out.push_str(&format!(
            "<article class=\"{class}\" data-id=\"{id}\"><div class=\"head\"><a class=\"num\" href=\"/incidents/{id}\">№ {id}</a> {badges} {due}</div>\
             <div class=\"meta\">{topic} · {territory} · {owner}</div><div>{summary}</div></article>",
            id = i.id,
            badges = badges(i, now),
            due = due_line(i, names, now),
            topic = esc(&names.group(&i.group)),
            territory = esc(&i
                .territory
                .as_deref()
                .map_or("территория не определена".to_string(), |t| names.org.territory_name(t))),
            owner = esc(&names.owner(i.owner.as_ref())),
            summary = esc(&i.summary),
        ));
    }
    out
}

/// An incident's page: facts, posts with links to the originals, the timeline, and the
/// actions the viewer may take now.
pub fn incident_page(
    detail: &Detail,
    names: &Names,
    now: DateTime<Utc>,
    csrf: &str,
    can_act: bool,
) -> String {
    let i = &detail.incident;
    let mut out = String::new();
    out.push_str(&format!("<p>{}</p>", badges(i, now)));
    let topic = match &i.topic {
        Some(t) => format!("{} / {t}", names.group(&i.group)),
        None => names.group(&i.group),
    };
    let mut facts = vec![
        ("Тема", esc(&topic)),
        (
            "Территория",
            esc(&i
                .territory
                .as_deref()
                .map_or("не определена".to_string(), |t| {
                    names.org.territory_name(t)
                })),
        ),
    ];
    if let Some(p) = &i.place {
        facts.push(("Место", esc(p)));
    }
    facts.push(("Исполнитель", esc(&names.owner(i.owner.as_ref()))));
    let due = due_line(i, names, now);
    if !due.is_empty() {
        facts.push(("Срок", due));
    }
    if let Some(body) = &i.waiting_for {
        facts.push(("Ожидается ответ", esc(body)));
    }
    if let Some(into) = i.merged_into {
        facts.push((
            "Объединён с",
            format!("<a href=\"/incidents/{into}\">инцидентом № {into}</a>"),
        ));
    }
    facts.push(("Обнаружен", esc(&names.time(i.created))));
    facts.push((
        "Сообщений / авторов",
        format!("{} / {}", i.mentions, i.authors),
    ));
    if i.milestones.reopened > 0 {
        facts.push((
            "Открывался заново",
            format!("{} раз", i.milestones.reopened),
        ));
    }
    out.push_str("<dl class=\"facts\">");
    for (k, v) in facts {
        out.push_str(&format!("<dt>{k}</dt><dd>{v}</dd>"));
    }
    out.push_str("</dl>");

    if let Some(p) = &i.pending_answer
        && can_act
    {
        out.push_str(&format!(
            "<p class=\"notice\">Комментарий официального аккаунта {} прочитан как {}. Подтвердите или отклоните это прочтение.</p><div class=\"actions\">{}{}</div>",
            esc(&p.post),
            if p.merits { "ответ по существу" } else { "промежуточный ответ" },
            form(i.id, csrf, "confirm_answer", "Подтвердить прочтение", ""),
            form(i.id, csrf, "reject_answer", "Отклонить: это не ответ", ""),
        ));
    }

    out.push_str("<h2>Сообщения</h2><div class=\"posts\">");
    for p in &detail.posts {
        let link = p.url.as_deref().map_or(String::new(), |u| {
            format!(
                " · <a href=\"{}\" rel=\"noopener noreferrer\" target=\"_blank\">оригинал</a>",
                esc(u)
            )
        });
        let author = p.author.as_deref().map_or(String::new(), |a| {
            let profile = p.author_url.as_deref().map_or(String::new(), |u| {
                format!(
                    " (<a href=\"{}\" rel=\"noopener noreferrer\" target=\"_blank\">профиль</a>)",
                    esc(u)
                )
            });
            format!("<div class=\"author\">Автор: {}{profile}</div>", esc(a))
        });
        let why = if p.reasons.is_empty() {
            String::new()
        } else {
            let items: String = p
                .reasons
                .iter()
                .map(|r| format!("<li>{}</li>", esc(r)))
                .collect();
            format!(
                "<details class=\"why\"><summary>Почему отнесено (по действующим словарям)</summary><ul>{items}</ul></details>"
            )
        };
        out.push_str(&format!(
            "<article><div class=\"meta\">{} · {} · {}{link}</div>{author}<div>{}</div>{why}</article>",
            esc(&names.time(p.published)),
            esc(&p.community),
            esc(&p.key),
            esc(&p.text)
        ));
    }
    out.push_str("</div>");

    if can_act {
        let actions = actions(i, names, csrf);
        if !actions.is_empty() {
            out.push_str("<h2>Действия</h2><div class=\"actions\">");
            out.push_str(&actions);
            out.push_str("</div>");
        }
    }

    out.push_str("<h2>Хронология</h2><ol class=\"timeline\">");
    for e in &detail.events {
        let text = names.event(e);
        // `Names::event` starts with the time: show it apart.
        let (time, rest) = text.split_once("  ").unwrap_or(("", &text));
        out.push_str(&format!("<li><time>{}</time>{}</li>", esc(time), esc(rest)));
    }
    out.push_str("</ol>");
    out
}

fn form(id: u64, csrf: &str, action: &str, title: &str, fields: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/incidents/{id}/actions\" data-action=\"{action}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"action\" value=\"{action}\">\
         <h3>{}</h3>{fields}<button type=\"submit\">{}</button></form>",
        esc(csrf),
        esc(title),
        esc(title),
    )
}

fn comment_field() -> &'static str {
    "<label>Комментарий для хронологии<textarea name=\"comment\"></textarea></label>"
}

/// The action forms that fit the incident's state.
fn actions(i: &Incident, names: &Names, csrf: &str) -> String {
    let mut out = String::new();
    let open = i.status.is_open();
    if matches!(
        i.status,
        IncidentStatus::Moderation | IncidentStatus::Routed | IncidentStatus::InWork
    ) {
        let mut groups = String::from("<option value=\"\">не менять</option>");
        for g in &names.taxonomy.groups {
            groups.push_str(&format!(
                "<option value=\"{}\">{}</option>",
                esc(&g.id),
                esc(&g.name)
            ));
        }
        out.push_str(&form(
            i.id,
            csrf,
            "route",
            if i.status == IncidentStatus::Moderation {
                "Направить исполнителю"
            } else {
                "Перенаправить"
            },
            &format!(
                "<label>Исполнитель<select name=\"owner\"><option value=\"\">по правилам маршрутизации</option>{}</select></label>\
                 <label>Группа тем<select name=\"group\">{groups}</select></label>{}",
                owner_options(names, None),
                comment_field()
            ),
        ));
    }
    if i.status == IncidentStatus::Routed {
        out.push_str(&form(
            i.id,
            csrf,
            "accept",
            "Принято в работу (первый ответ)",
            &format!(
                "<label>Текст ответа<textarea name=\"text\"></textarea></label>{}",
                comment_field()
            ),
        ));
    }
    if matches!(i.status, IncidentStatus::Routed | IncidentStatus::InWork) {
        out.push_str(&form(
            i.id,
            csrf,
            "answer",
            "Дан ответ по существу",
            &format!(
                "<label>Текст ответа<textarea name=\"text\"></textarea></label>{}",
                comment_field()
            ),
        ));
    }
    if open && i.clock.is_some() && i.waiting_for.is_none() {
        out.push_str(&form(
            i.id,
            csrf,
            "wait",
            "Ожидание ответа другой организации",
            &format!(
                "<label>Организация<input name=\"body\" required></label>{}",
                comment_field()
            ),
        ));
    }
    if i.waiting_for.is_some() {
        out.push_str(&form(
            i.id,
            csrf,
            "resume",
            "Ответ организации получен",
            comment_field(),
        ));
    }
    if open {
        let mut resolutions = String::new();
        for r in Resolution::ALL
            .into_iter()
            .filter(|r| *r != Resolution::Duplicate)
        {
            resolutions.push_str(&format!(
                "<option value=\"{}\">{}</option>",
                r.id(),
                esc(r.label_ru())
            ));
        }
        out.push_str(&form(
            i.id,
            csrf,
            "close",
            "Закрыть",
            &format!(
                "<label>Итог<select name=\"resolution\">{resolutions}</select></label>{}",
                comment_field()
            ),
        ));
        out.push_str(&form(
            i.id,
            csrf,
            "merge",
            "Объединить (дубликат)",
            &format!(
                "<label>С инцидентом №<input name=\"into\" inputmode=\"numeric\" required></label>{}",
                comment_field()
            ),
        ));
        out.push_str(&form(
            i.id,
            csrf,
            "split",
            "Вынести сообщение в новый инцидент",
            &format!(
                "<label>Сообщение (например, vk:-1_2)<input name=\"post\" required></label>{}",
                comment_field()
            ),
        ));
        out.push_str(&form(
            i.id,
            csrf,
            "attach",
            "Добавить сообщение",
            &format!(
                "<label>Сообщение<input name=\"post\" required></label>{}",
                comment_field()
            ),
        ));
    }
    if matches!(i.status, IncidentStatus::Closed | IncidentStatus::Answered) {
        out.push_str(&form(
            i.id,
            csrf,
            "reopen",
            "Открыть заново",
            comment_field(),
        ));
    }
    if matches!(i.status, IncidentStatus::Answered | IncidentStatus::Closed) {
        out.push_str(&form(
            i.id,
            csrf,
            "satisfaction",
            "Оценка жителя",
            &format!(
                "<label>Житель<select name=\"satisfied\"><option value=\"true\">удовлетворён</option><option value=\"false\">не удовлетворён</option></select></label>{}",
                comment_field()
            ),
        ));
    }
    out.push_str(&form(
        i.id,
        csrf,
        "comment",
        "Комментарий",
        "<label>Текст<textarea name=\"comment\" required></textarea></label>",
    ));
    out
}

/// Read an action form (`action` and its fields, `comment`) into an [`Action`]; the message
/// says, in Russian, what is missing or wrong.
pub fn action_from_form(
    fields: &HashMap<String, String>,
) -> Result<(Action, Option<String>), String> {
    let get = |k: &str| {
        fields
            .get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let need = |k: &str, what: &str| get(k).ok_or_else(|| format!("не заполнено поле «{what}»"));
    let comment = get("comment");
    let action = match get("action").as_deref() {
        Some("route") => Action::Route {
            owner: get("owner"),
            group: get("group"),
            topic: get("topic"),
            territory: get("territory"),
        },
        Some("accept") => Action::Accept { text: get("text") },
        Some("answer") => Action::Answer { text: get("text") },
        Some("wait") => Action::Wait {
            body: need("body", "Организация")?,
        },
        Some("resume") => Action::Resume,
        Some("close") => Action::Close {
            resolution: Resolution::from_id(&need("resolution", "Итог")?)
                .ok_or("неизвестный итог")?,
        },
        Some("reopen") => Action::Reopen,
        Some("merge") => Action::Merge {
            into: need("into", "С инцидентом №")?
                .trim_start_matches('№')
                .trim()
                .parse()
                .map_err(|_| "номер инцидента — целое число".to_string())?,
        },
        Some("split") => Action::Split {
            post: need("post", "Сообщение")?,
        },
        Some("attach") => Action::Attach {
            post: need("post", "Сообщение")?,
        },
        Some("confirm_answer") => Action::ConfirmAnswer,
        Some("reject_answer") => Action::RejectAnswer,
        Some("satisfaction") => Action::Satisfaction {
            satisfied: need("satisfied", "Житель")? == "true",
        },
        Some("comment") => Action::Comment,
        Some(other) => return Err(format!("неизвестное действие «{other}»")),
        None => return Err("не указано действие".into()),
    };
    Ok((action, comment))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn forms_read_into_actions_or_say_what_is_missing() {
        let (a, c) = action_from_form(&form(&[
            ("action", "route"),
            ("owner", "zhkh"),
            ("group", ""),
            ("comment", " ведёт ЖКХ "),
        ]))
        .unwrap();
        assert_eq!(
            a,
            Action::Route {
                owner: Some("zhkh".into()),
                group: None,
                topic: None,
                territory: None
            }
        );
        assert_eq!(c.as_deref(), Some("ведёт ЖКХ"));
        assert_eq!(
            action_from_form(&form(&[("action", "merge"), ("into", "№ 12")]))
                .unwrap()
                .0,
            Action::Merge { into: 12 }
        );
        assert_eq!(
            action_from_form(&form(&[("action", "wait")])).unwrap_err(),
            "не заполнено поле «Организация»"
        );
        assert!(action_from_form(&form(&[("action", "merge"), ("into", "двенадцать")])).is_err());
        assert!(action_from_form(&form(&[("action", "drop_table")])).is_err());
    }

    #[test]
    fn countdown_reads_naturally() {
        let t = |m: i64| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(m);
        assert_eq!(countdown(t(200), t(0)), "осталось 3 ч 20 мин");
        assert_eq!(countdown(t(0), t(45)), "просрочено на 45 мин");
        assert_eq!(countdown(t(3000), t(0)), "осталось 2 дн 2 ч");
    }
}
