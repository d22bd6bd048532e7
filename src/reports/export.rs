//! The export for the regional centre: incidents with the columns of the «Инцидент
//! Менеджмент» export, as CSV or XLSX.

use super::{Period, ReportContext};
use crate::store::Incident;

/// The columns, in the ИМ export's order.
pub const COLUMNS: [&str; 13] = [
    "Номер",
    "Дата создания",
    "Дата закрытия",
    "Группа тем",
    "Тема",
    "Муниципалитет",
    "Населённый пункт",
    "Улица",
    "Дом",
    "Текст",
    "Время первого ответа",
    "Исполнитель",
    "Итог",
];

/// A place as the detector writes it («Гаврилов-Ям, ул. Кирова, д. 20») split into
/// settlement, street and house.
pub fn split_place(place: &str) -> (String, String, String) {
    let (mut settlement, mut street, mut house) = (Vec::new(), String::new(), String::new());
    for part in place.split(", ") {
        if ["ул. ", "пер. ", "пр-т ", "пл. ", "ш. "]
            .iter()
            .any(|p| part.starts_with(p))
        {
            street = part.to_string();
        } else if let Some(h) = part
            .strip_prefix("д. ")
            .filter(|h| h.chars().next().is_some_and(|c| c.is_ascii_digit()))
        {
            house = h.to_string();
        } else {
            settlement.push(part);
        }
    }
    (settlement.join(", "), street, house)
}

/// One row of the export.
pub fn row(i: &Incident, ctx: &ReportContext<'_>) -> Vec<String> {
    let t = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or(String::new(), |t| super::local_time(t, ctx.calendar))
    };
    let (mut settlement, street, house) = i.place.as_deref().map(split_place).unwrap_or_default();
    if settlement.is_empty()
        && let Some(territory) = &i.territory
        && let Some(tr) = ctx.org.territory(territory)
    {
        settlement = tr.centre.clone().unwrap_or_default();
    }
    let outcome = match i.resolution {
        Some(r) => r.label_ru().to_string(),
        None => i.status.label_ru().to_string(),
    };
    vec![
        i.id.to_string(),
        super::local_time(i.created, ctx.calendar),
        t(i.milestones.closed_at),
        ctx.group_name(&i.group),
        i.topic.clone().unwrap_or_default(),
        ctx.settings.municipality.clone(),
        settlement,
        street,
        house,
        i.summary.clone(),
        t(i.milestones.first_response_at),
        i.owner
            .as_ref()
            .map_or(String::new(), |o| ctx.owner_name(o)),
        outcome,
    ]
}

/// The rows of incidents created in `period` (every incident, duplicates and
/// non-incidents included: the regional centre reconciles by number), by number.
pub fn rows(incidents: &[Incident], period: Period, ctx: &ReportContext<'_>) -> Vec<Vec<String>> {
    let mut selected: Vec<&Incident> = incidents
        .iter()
        .filter(|i| period.contains(i.created))
        .collect();
    selected.sort_by_key(|i| i.id);
    selected.into_iter().map(|i| row(i, ctx)).collect()
}

pub fn to_csv(rows: Vec<Vec<String>>) -> String {
    super::doc::to_csv(&COLUMNS, rows)
}

pub fn to_xlsx(rows: &[Vec<String>]) -> Vec<u8> {
    super::ooxml::xlsx("Инциденты", &COLUMNS, rows)
}
