//! The heat map: incidents by topic group × territory for a period, with the share that
//! missed a deadline and the change against the period of the same length just before.

use super::coverage::{self, TerritoryCoverage};
use super::doc::{self, Cell, Document, bold, link, text};
use super::{ListFilter, Period, ReportContext, UNKNOWN_TERRITORY};
use crate::store::Incident;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// A row or column of the map.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Axis {
    pub id: String,
    pub name: String,
    /// Incidents in the period along this row or column.
    pub count: u32,
    pub previous: u32,
}

/// One cell: a topic group in a territory.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeatCell {
    pub group: String,
    pub territory: String,
    pub count: u32,
    /// Of `count`, incidents that missed a deadline (late answers, or past due now).
    pub overdue: u32,
    pub overdue_share: Option<f64>,
    /// Incidents in the previous period.
    pub previous: u32,
    pub change: i64,
    /// Change in percent of the previous period; `None` when it had none.
    pub change_percent: Option<f64>,
    /// The incidents behind the figure.
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Heatmap {
    pub period: Period,
    pub previous_period: Period,
    pub computed_at: DateTime<Utc>,
    pub total: u32,
    pub previous_total: u32,
    pub overdue: u32,
    pub groups: Vec<Axis>,
    pub territories: Vec<Axis>,
    /// Cells with incidents in either period, by group then territory.
    pub cells: Vec<HeatCell>,
    pub coverage: Vec<TerritoryCoverage>,
}

#[derive(Default, Clone, Copy)]
struct Tally {
    count: u32,
    overdue: u32,
    previous: u32,
}

/// The heat map of `period` (the previous period is the one of the same length before it).
pub fn compute(incidents: &[Incident], period: Period, ctx: &ReportContext<'_>) -> Heatmap {
    let previous = period.previous();
    let mut cells: HashMap<(&str, &str), Tally> = HashMap::new();
    for i in incidents.iter().filter(|i| super::counts(i)) {
        let current = period.contains(i.opened);
        if !current && !previous.contains(i.opened) {
            continue;
        }
        let tally = cells
            .entry((i.group.as_str(), super::territory_key(i)))
            .or_default();
        if current {
            tally.count += 1;
            if super::missed_deadline(i, ctx.now) {
                tally.overdue += 1;
            }
        } else {
            tally.previous += 1;
        }
    }

    // Rows in the taxonomy's order, then groups it does not know; columns in the org
    // chart's order (every territory, even without incidents: "no complaints" is news),
    // then the district as a whole, outside, unknown.
    let mut group_ids: Vec<String> = ctx
        .taxonomy
        .groups
        .iter()
        .filter(|g| cells.keys().any(|(cg, _)| *cg == g.id))
        .map(|g| g.id.clone())
        .collect();
    let mut extra: Vec<String> = cells
        .keys()
        .map(|(g, _)| g.to_string())
        .filter(|g| ctx.taxonomy.group(g).is_none())
        .collect();
    extra.sort();
    extra.dedup();
    group_ids.extend(extra);
    let mut territory_ids = ctx.org.territory_ids();
    for special in ["district", "outside", UNKNOWN_TERRITORY] {
        if cells.keys().any(|(_, t)| *t == special) {
            territory_ids.push(special.to_string());
        }
    }
    let mut extra: Vec<String> = cells
        .keys()
        .map(|(_, t)| t.to_string())
        .filter(|t| !territory_ids.contains(t))
        .collect();
    extra.sort();
    extra.dedup();
    territory_ids.extend(extra);

    let axis = |id: &String, name: String, pick: &dyn Fn(&(&str, &str)) -> bool| {
        let (count, previous) = cells
            .iter()
            .filter(|(k, _)| pick(k))
            .fold((0, 0), |(c, p), (_, t)| (c + t.count, p + t.previous));
        Axis {
            id: id.clone(),
            name,
            count,
            previous,
        }
    };
    let groups: Vec<Axis> = group_ids
        .iter()
        .map(|g| axis(g, ctx.group_name(g), &|k| k.0 == g))
        .collect();
    let territories: Vec<Axis> = territory_ids
        .iter()
        .map(|t| axis(t, ctx.territory_name(t), &|k| k.1 == t))
        .collect();

    let mut out_cells = Vec::new();
    for g in &group_ids {
        for t in &territory_ids {
            let Some(tally) = cells.get(&(g.as_str(), t.as_str())) else {
                continue;
            };
            out_cells.push(HeatCell {
                group: g.clone(),
                territory: t.clone(),
                count: tally.count,
                overdue: tally.overdue,
                overdue_share: (tally.count > 0)
                    .then(|| f64::from(tally.overdue) / f64::from(tally.count)),
                previous: tally.previous,
                change: i64::from(tally.count) - i64::from(tally.previous),
                change_percent: (tally.previous > 0).then(|| {
                    (f64::from(tally.count) - f64::from(tally.previous)) * 100.0
                        / f64::from(tally.previous)
                }),
                url: ctx.settings.list_url(&ListFilter {
                    period,
                    group: Some(g),
                    territory: Some(t),
                    ..ListFilter::default()
                }),
            });
        }
    }
    let mut coverage =
        coverage::coverage(&ctx.org.territory_ids(), ctx.sources, ctx.health, &period);
    coverage::with_incidents(&mut coverage, |t| {
        territories.iter().any(|a| a.id == t && a.count > 0)
    });
    Heatmap {
        period,
        previous_period: previous,
        computed_at: ctx.now,
        total: out_cells.iter().map(|c| c.count).sum(),
        previous_total: out_cells.iter().map(|c| c.previous).sum(),
        overdue: out_cells.iter().map(|c| c.overdue).sum(),
        groups,
        territories,
        cells: out_cells,
        coverage,
    }
}

/// The colour scale: from white to deep orange in five steps of the largest cell.
pub const SCALE: [&str; 5] = ["FFFFFF", "FDE4C8", "F9C08A", "F28E4F", "D9532B"];

/// The fill of a cell with `count` incidents when the largest cell has `max`.
pub fn fill(count: u32, max: u32) -> &'static str {
    if count == 0 || max == 0 {
        return SCALE[0];
    }
    let step = (f64::from(count) / f64::from(max) * 4.0).ceil() as usize;
    SCALE[step.clamp(1, 4)]
}

const NO_DATA_FILL: &str = "D9D9D9";

fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

/// The page: the map with its legend, then coverage.
pub fn document(map: &Heatmap, ctx: &ReportContext<'_>) -> Document {
    let mut d = Document::new(format!(
        "Тепловая карта обращений: {}",
        map.period.label_ru(ctx.calendar)
    ));
    d.para(vec![
        text("Инцидентов за период: "),
        bold(map.total.to_string()),
        text(format!(
            " (за предыдущий период {}: {}, изменение {}); с нарушением срока: {}.",
            map.previous_period.label_ru(ctx.calendar),
            map.previous_total,
            signed(i64::from(map.total) - i64::from(map.previous_total)),
            map.overdue
        )),
    ]);
    d.text(
        "В ячейке: число инцидентов (ссылка ведёт к их списку), в скобках — изменение к \
         предыдущему периоду той же длины, ниже — доля инцидентов с нарушением срока \
         (первый ответ или ответ по существу дан позже срока либо срок истёк сейчас). \
         Учитываются инциденты по дате первой публикации; закрытые как «не инцидент» и \
         объединённые дубликаты не учитываются.",
    );
    let max = map.cells.iter().map(|c| c.count).max().unwrap_or(0);
    let mut legend_header: Vec<String> = SCALE
        .iter()
        .enumerate()
        .map(|(i, _)| match i {
            0 => "0".to_string(),
            _ => {
                let low = ((max as f64) * (i - 1) as f64 / 4.0).floor() as u32 + 1;
                let high = ((max as f64) * i as f64 / 4.0).floor() as u32;
                match low.cmp(&high) {
                    std::cmp::Ordering::Less => format!("{low}–{high}"),
                    std::cmp::Ordering::Equal => format!("{high}"),
                    std::cmp::Ordering::Greater => "—".to_string(),
                }
            }
        })
        .collect();
    legend_header.push("нет данных".into());
    let mut legend_row: Vec<Cell> = SCALE
        .iter()
        .map(|c| Cell::text(" ").with_fill(Some(c.to_string())))
        .collect();
    legend_row.push(Cell::text(" ").with_fill(Some(NO_DATA_FILL.into())));
    d.text("Шкала цвета (число инцидентов в ячейке); серый — нет данных: источники по территории не работали.");
    d.blocks.push(doc::Block::Table {
        header: legend_header,
        rows: vec![legend_row],
    });

    let no_data = |t: &str| {
        map.coverage
            .iter()
            .any(|c| c.territory == t && c.state.is_blind())
    };
    let mut header: Vec<String> = vec!["Группа тем".into()];
    header.extend(map.territories.iter().map(|t| t.name.clone()));
    header.push("Итого".into());
    let mut rows = Vec::new();
    for g in &map.groups {
        let mut row = vec![Cell::text(g.name.clone())];
        for t in &map.territories {
            let cell = map
                .cells
                .iter()
                .find(|c| c.group == g.id && c.territory == t.id);
            row.push(match cell {
                Some(c) if c.count > 0 => {
                    let mut content = vec![
                        link(c.count.to_string(), c.url.clone()),
                        text(format!(" ({})", signed(c.change))),
                    ];
                    if let Some(share) = c.overdue_share.filter(|s| *s > 0.0) {
                        content.push(text(format!(" · срок нарушен {}", super::percent(share))));
                    }
                    Cell {
                        content,
                        fill: Some(fill(c.count, max).to_string()),
                        numeric: true,
                    }
                }
                Some(c) => Cell::number(format!("0 ({})", signed(c.change)))
                    .with_fill(no_data(&t.id).then(|| NO_DATA_FILL.to_string())),
                None if no_data(&t.id) => {
                    Cell::number("нет данных").with_fill(Some(NO_DATA_FILL.into()))
                }
                None => Cell::number("0"),
            });
        }
        row.push(Cell::number(format!(
            "{} ({})",
            g.count,
            signed(i64::from(g.count) - i64::from(g.previous))
        )));
        rows.push(row);
    }
    let mut total = vec![Cell::inlines(vec![bold("Итого")])];
    for t in &map.territories {
        total.push(Cell::number(format!(
            "{} ({})",
            t.count,
            signed(i64::from(t.count) - i64::from(t.previous))
        )));
    }
    total.push(Cell::number(map.total.to_string()));
    rows.push(total);
    d.blocks.push(doc::Block::Table { header, rows });

    coverage_section(&mut d, &map.coverage, ctx);
    d.text(format!(
        "Рассчитано {} по данным otklik {}.",
        super::local_time(map.computed_at, ctx.calendar),
        env!("CARGO_PKG_VERSION")
    ));
    d
}

/// "No complaints" versus "no data", territory by territory.
pub fn coverage_section(d: &mut Document, coverage: &[TerritoryCoverage], ctx: &ReportContext<'_>) {
    d.heading(2, "Охват территорий источниками");
    d.text(
        "«Нет данных» — все источники, охватывающие территорию (её сообщества и \
         источники по всему округу), за период не работали или отключены: отсутствие \
         обращений в этом случае не означает отсутствия проблем. Сведения о работе \
         источников берутся из их текущего состояния: перебой внутри прошедшего периода, \
         после которого источник восстановился, здесь не виден.",
    );
    let rows = coverage
        .iter()
        .map(|c| {
            vec![
                Cell::text(ctx.territory_name(&c.territory)),
                Cell::text(c.state.label_ru())
                    .with_fill((c.state.is_blind()).then(|| NO_DATA_FILL.to_string())),
                Cell::text(if c.silent.is_empty() {
                    "—".to_string()
                } else {
                    c.silent.join(", ")
                }),
            ]
        })
        .collect();
    d.table(vec!["Территория", "Состояние", "Не работали"], rows);
}

/// One CSV row per cell.
pub fn to_csv(map: &Heatmap, ctx: &ReportContext<'_>) -> String {
    let state = |t: &str| {
        map.coverage
            .iter()
            .find(|c| c.territory == t)
            .map_or("", |c| c.state.label_ru())
    };
    doc::to_csv(
        &[
            "Код группы",
            "Группа тем",
            "Код территории",
            "Территория",
            "Инцидентов",
            "С нарушением срока",
            "Доля с нарушением срока, %",
            "За предыдущий период",
            "Изменение",
            "Изменение, %",
            "Охват источниками",
            "Ссылка",
        ],
        map.cells.iter().map(|c| {
            vec![
                c.group.clone(),
                ctx.group_name(&c.group),
                c.territory.clone(),
                ctx.territory_name(&c.territory),
                c.count.to_string(),
                c.overdue.to_string(),
                c.overdue_share
                    .map_or(String::new(), |s| format!("{:.1}", s * 100.0)),
                c.previous.to_string(),
                c.change.to_string(),
                c.change_percent
                    .map_or(String::new(), |p| format!("{p:.1}")),
                state(&c.territory).to_string(),
                c.url.clone(),
            ]
        }),
    )
}
