//! Ratings of the owners (departments and territory administrations) over a period
//! (§3.2 б of the regulation): how many incidents, the share answered on time, the median
//! first-response time in working hours, the share answered on the merits, the share
//! reopened and the residents' satisfaction where known.
//!
//! Fairness: every share is shrunk toward the average of all owners,
//! `(k + m·p̄) / (n + m)` (empirical Bayes with a beta prior of strength `m`), so that one
//! lucky answer out of one does not top the table; owners with fewer than
//! `rating_min_incidents` incidents are listed without a place («недостаточно данных»).
//! The index is the weighted mean of the shrunk shares, 0 to 100.

use super::doc::{Cell, Document, bold, text};
use super::{ListFilter, Period, ReportContext};
use crate::store::Incident;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// Weights of the shrunk shares in the index (satisfaction is left out, and the others
/// scaled up, while no owner has any known).
pub const WEIGHTS: Weights = Weights {
    on_time: 0.4,
    merits: 0.3,
    not_reopened: 0.2,
    satisfied: 0.1,
};

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Weights {
    pub on_time: f64,
    pub merits: f64,
    pub not_reopened: f64,
    pub satisfied: f64,
}

/// `k` of `n`, raw and shrunk toward the average.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Share {
    pub k: u32,
    pub n: u32,
    pub raw: Option<f64>,
    pub adjusted: Option<f64>,
}

impl Share {
    fn add(&mut self, hit: bool) {
        self.n += 1;
        self.k += u32::from(hit);
    }

    fn finish(&mut self, average: Option<f64>, m: f64) {
        self.raw = (self.n > 0).then(|| f64::from(self.k) / f64::from(self.n));
        self.adjusted = average.map(|p| (f64::from(self.k) + m * p) / (f64::from(self.n) + m));
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RatingRow {
    /// `department:zhkh`, `territory:shopsha` (by territory: always `territory:…`).
    pub owner: String,
    pub name: String,
    pub incidents: u32,
    /// First response on time, of the incidents whose first response is given or overdue.
    pub on_time: Share,
    /// Answered on the merits, of the incidents with a first response.
    pub merits: Share,
    /// Reopened, of the incidents answered or closed.
    pub reopened: Share,
    /// Satisfied, of the incidents where the resident's view is known.
    pub satisfied: Share,
    /// Median working hours from detection to the first response.
    pub median_first_response_hours: Option<f64>,
    pub index: Option<f64>,
    /// Place in the table; `None`: too few incidents.
    pub rank: Option<u32>,
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ratings {
    pub by: RatingBy,
    pub period: Period,
    pub computed_at: DateTime<Utc>,
    pub min_incidents: u32,
    pub prior_strength: f64,
    pub weights: Weights,
    /// The averages the shares are shrunk toward (all owners pooled).
    pub average_on_time: Option<f64>,
    pub average_merits: Option<f64>,
    pub average_reopened: Option<f64>,
    pub average_satisfied: Option<f64>,
    /// Ranked owners first, by index; then the owners with too few incidents.
    pub rows: Vec<RatingRow>,
}

struct Acc {
    row: RatingRow,
    hours: Vec<f64>,
}

fn pooled(rows: &[Acc], pick: impl Fn(&RatingRow) -> Share) -> Option<f64> {
    let (k, n) = rows.iter().fold((0u64, 0u64), |(k, n), a| {
        let s = pick(&a.row);
        (k + u64::from(s.k), n + u64::from(s.n))
    });
    (n > 0).then(|| k as f64 / n as f64)
}

/// What the rows of a rating are.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum RatingBy {
    /// The owners: departments and territory administrations (§3.2 б).
    #[default]
    Owner,
    /// The territories where the problems are, whoever owns them.
    Territory,
}

/// The ratings of every owner with incidents in `period`.
pub fn compute(incidents: &[Incident], period: Period, ctx: &ReportContext<'_>) -> Ratings {
    compute_by(incidents, period, ctx, RatingBy::Owner)
}

/// The ratings of every owner, or every territory of the org chart, with incidents in
/// `period`.
pub fn compute_by(
    incidents: &[Incident],
    period: Period,
    ctx: &ReportContext<'_>,
    by: RatingBy,
) -> Ratings {
    let mut slots: HashMap<String, usize> = HashMap::new();
    let mut acc: Vec<Acc> = Vec::new();
    for i in incidents
        .iter()
        .filter(|i| super::counts(i) && period.contains(i.opened))
    {
        let key = match by {
            RatingBy::Owner => match &i.owner {
                Some(owner) => super::owner_key(owner),
                None => continue,
            },
            RatingBy::Territory => match &i.territory {
                Some(t) if ctx.org.territory(t).is_some() => format!("territory:{t}"),
                _ => continue,
            },
        };
        let slot = match slots.get(&key) {
            Some(slot) => *slot,
            None => {
                let (name, filter) = match (by, &i.owner) {
                    (RatingBy::Owner, Some(owner)) => (
                        ctx.owner_name(owner),
                        ListFilter {
                            period,
                            owner: Some(owner.id()),
                            ..ListFilter::default()
                        },
                    ),
                    _ => {
                        let t = super::territory_key(i);
                        (
                            ctx.territory_name(t),
                            ListFilter {
                                period,
                                territory: Some(t),
                                ..ListFilter::default()
                            },
                        )
                    }
                };
                acc.push(Acc {
                    row: RatingRow {
                        url: ctx.settings.list_url(&filter),
                        owner: key.clone(),
                        name,
                        incidents: 0,
                        on_time: Share::default(),
                        merits: Share::default(),
                        reopened: Share::default(),
                        satisfied: Share::default(),
                        median_first_response_hours: None,
                        index: None,
                        rank: None,
                    },
                    hours: Vec::new(),
                });
                slots.insert(key, acc.len() - 1);
                acc.len() - 1
            }
        };
        let a = &mut acc[slot];
        let m = &i.milestones;
        a.row.incidents += 1;
        match m.first_response_on_time {
            Some(on_time) => a.row.on_time.add(on_time),
            None if m.first_response_at.is_none() && i.is_overdue(ctx.now) => {
                a.row.on_time.add(false)
            }
            None => {}
        }
        if m.first_response_at.is_some() {
            a.row.merits.add(m.answered_at.is_some());
        }
        if m.answered_at.is_some() || m.closed_at.is_some() {
            a.row.reopened.add(m.reopened > 0);
        }
        if let Some(s) = m.satisfied {
            a.row.satisfied.add(s);
        }
        if let Some(secs) = m.first_response_working_secs {
            a.hours.push(secs as f64 / 3600.0);
        }
    }

    let p_on_time = pooled(&acc, |r| r.on_time);
    let p_merits = pooled(&acc, |r| r.merits);
    let p_reopened = pooled(&acc, |r| r.reopened);
    let p_satisfied = pooled(&acc, |r| r.satisfied);
    let m = ctx.settings.rating_prior_strength;
    let min = ctx.settings.rating_min_incidents;
    for a in &mut acc {
        let r = &mut a.row;
        r.on_time.finish(p_on_time, m);
        r.merits.finish(p_merits, m);
        r.reopened.finish(p_reopened, m);
        r.satisfied.finish(p_satisfied, m);
        r.median_first_response_hours = super::median(&mut a.hours);
        let parts = [
            (WEIGHTS.on_time, r.on_time.adjusted),
            (WEIGHTS.merits, r.merits.adjusted),
            (WEIGHTS.not_reopened, r.reopened.adjusted.map(|p| 1.0 - p)),
            (WEIGHTS.satisfied, r.satisfied.adjusted),
        ];
        let (sum, weight) = parts
            .iter()
            .filter_map(|(w, v)| v.map(|v| (w * v, *w)))
            .fold((0.0, 0.0), |(s, ws), (v, w)| (s + v, ws + w));
        r.index = (weight > 0.0).then(|| 100.0 * sum / weight);
    }
    let mut rows: Vec<RatingRow> = acc.into_iter().map(|a| a.row).collect();
    rows.sort_by(|a, b| {
        let enough = |r: &RatingRow| r.incidents >= min;
        // Ranked rows by index; the rest, whose index is not shown, by incidents.
        let by_index = if enough(a) && enough(b) {
            b.index.unwrap_or(-1.0).total_cmp(&a.index.unwrap_or(-1.0))
        } else {
            std::cmp::Ordering::Equal
        };
        enough(b)
            .cmp(&enough(a))
            .then(by_index)
            .then(b.incidents.cmp(&a.incidents))
            .then(a.name.cmp(&b.name))
    });
    let mut place = 0;
    for r in &mut rows {
        if r.incidents >= min && r.index.is_some() {
            place += 1;
            r.rank = Some(place);
        }
    }
    Ratings {
        by,
        period,
        computed_at: ctx.now,
        min_incidents: min,
        prior_strength: m,
        weights: WEIGHTS,
        average_on_time: p_on_time,
        average_merits: p_merits,
        average_reopened: p_reopened,
        average_satisfied: p_satisfied,
        rows,
    }
}

fn share_cell(s: &Share) -> Cell {
    match (s.raw, s.adjusted) {
        (Some(_), Some(adj)) => {
            Cell::number(format!("{} ({} из {})", super::percent(adj), s.k, s.n))
        }
        _ => Cell::number("—"),
    }
}

/// The rating table with the formula explained.
pub fn document(r: &Ratings, ctx: &ReportContext<'_>) -> Document {
    let mut d = Document::new(format!(
        "{}: {}",
        match r.by {
            RatingBy::Owner => "Рейтинг исполнителей",
            RatingBy::Territory => "Рейтинг территорий по месту проблемы",
        },
        r.period.label_ru(ctx.calendar)
    ));
    if r.by == RatingBy::Territory {
        d.text("Инциденты отнесены к территории, где возникла проблема, независимо от того, какое подразделение или администрация за неё отвечает.");
    }
    let header = vec![
        "Место",
        match r.by {
            RatingBy::Owner => "Исполнитель",
            RatingBy::Territory => "Территория",
        },
        "Инцидентов",
        "Первый ответ в срок",
        "Медиана первого ответа, рабочих часов",
        "Ответ по существу",
        "Возобновлено",
        "Удовлетворённость",
        "Индекс",
    ];
    let rows = r
        .rows
        .iter()
        .map(|row| {
            vec![
                Cell::number(row.rank.map_or("—".into(), |p| p.to_string())),
                Cell::text(row.name.clone()),
                Cell::link(row.incidents.to_string(), row.url.clone()),
                share_cell(&row.on_time),
                Cell::number(
                    row.median_first_response_hours
                        .map_or("—".into(), super::hours_ru),
                ),
                share_cell(&row.merits),
                share_cell(&row.reopened),
                share_cell(&row.satisfied),
                Cell::number(match (row.rank, row.index) {
                    (Some(_), Some(i)) => format!("{i:.1}").replace('.', ","),
                    _ => "недостаточно данных".into(),
                }),
            ]
        })
        .collect();
    d.table(header, rows);
    d.text("В ячейках долей — доля, сглаженная к среднему (см. ниже), в скобках — фактические числа: сколько раз да из скольких учтённых инцидентов.");
    let avg = |p: Option<f64>| p.map_or("нет данных".into(), super::percent);
    d.heading(2, "Как рассчитан рейтинг");
    d.list(vec![
        vec![
            bold("Первый ответ в срок"),
            text(" — доля инцидентов, на которые первый ответ (принято в работу или решение) дан в установленный срок, среди инцидентов, по которым ответ дан или срок уже истёк."),
        ],
        vec![
            bold("Медиана первого ответа"),
            text(" — середина ряда времён от обнаружения сообщения до первого ответа в рабочих часах по производственному календарю (без перерывов и времени ожидания ответа других органов)."),
        ],
        vec![
            bold("Ответ по существу"),
            text(" — доля инцидентов, по которым дан ответ по существу, а не только «принято в работу», среди инцидентов с первым ответом."),
        ],
        vec![
            bold("Возобновлено"),
            text(" — доля инцидентов, которые пришлось открыть повторно (проблема вернулась), среди отвеченных и закрытых; чем меньше, тем лучше."),
        ],
        vec![
            bold("Удовлетворённость"),
            text(" — доля жителей, удовлетворённых ответом, где это известно."),
        ],
    ]);
    d.para(vec![
        text("Чтобы один удачный ответ не выводил исполнителя на первое место, каждая доля сглаживается к среднему по всем исполнителям: "),
        bold("(k + m·p̄) / (n + m)"),
        text(format!(
            ", где k — число «успехов», n — число учтённых инцидентов исполнителя, p̄ — средняя доля по всем исполнителям, m = {} — вес среднего. Чем больше у исполнителя инцидентов, тем ближе сглаженная доля к его собственной.",
            format!("{}", r.prior_strength).replace('.', ",")
        )),
    ]);
    d.para(vec![text(format!(
        "Средние за период: первый ответ в срок — {}, ответ по существу — {}, возобновлено — {}, удовлетворённость — {}.",
        avg(r.average_on_time),
        avg(r.average_merits),
        avg(r.average_reopened),
        avg(r.average_satisfied)
    ))]);
    d.para(vec![text(format!(
        "Индекс (0–100) — взвешенное среднее сглаженных долей: первый ответ в срок × {w1}, ответ по существу × {w2}, (1 − доля возобновлённых) × {w3}, удовлетворённость × {w4}; показатель, по которому нет данных ни у одного исполнителя, не учитывается, а веса остальных пересчитываются. Исполнители, у которых за период меньше {min} инцидентов, места не получают: «недостаточно данных».",
        w1 = r.weights.on_time,
        w2 = r.weights.merits,
        w3 = r.weights.not_reopened,
        w4 = r.weights.satisfied,
        min = r.min_incidents,
    ).replace("0.", "0,"))]);
    d.text(format!(
        "Учитываются инциденты, первая публикация о которых пришлась на период; закрытые как «не инцидент» и дубликаты не учитываются. Рассчитано {}.",
        super::local_time(r.computed_at, ctx.calendar)
    ));
    d
}

/// One CSV row per owner.
pub fn to_csv(r: &Ratings) -> String {
    let share = |s: &Share| {
        [
            s.k.to_string(),
            s.n.to_string(),
            s.adjusted
                .map_or(String::new(), |p| format!("{:.1}", p * 100.0)),
        ]
    };
    super::doc::to_csv(
        &[
            "Место",
            "Код",
            "Исполнитель",
            "Инцидентов",
            "Ответ в срок: да",
            "Ответ в срок: учтено",
            "Ответ в срок, % (сглаж.)",
            "Медиана первого ответа, раб. ч",
            "По существу: да",
            "По существу: учтено",
            "По существу, % (сглаж.)",
            "Возобновлено: да",
            "Возобновлено: учтено",
            "Возобновлено, % (сглаж.)",
            "Удовлетворены: да",
            "Удовлетворённость: учтено",
            "Удовлетворённость, % (сглаж.)",
            "Индекс",
        ],
        r.rows.iter().map(|row| {
            let mut v = vec![
                row.rank.map_or(String::new(), |p| p.to_string()),
                row.owner.clone(),
                row.name.clone(),
                row.incidents.to_string(),
            ];
            v.extend(share(&row.on_time));
            v.push(
                row.median_first_response_hours
                    .map_or(String::new(), |h| format!("{h:.2}")),
            );
            v.extend(share(&row.merits));
            v.extend(share(&row.reopened));
            v.extend(share(&row.satisfied));
            v.push(match (row.rank, row.index) {
                (Some(_), Some(i)) => format!("{i:.1}"),
                _ => "недостаточно данных".into(),
            });
            v
        }),
    )
}
