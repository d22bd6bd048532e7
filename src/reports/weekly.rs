//! The weekly analytical note for the Head of the district (§3.2 а of the regulation):
//! totals and trend, the main problems with examples, significant growth, overdue incidents
//! by owner, resonant events, coverage and a draft of recommendations. It records the
//! calendar and the configuration it was computed with, so that it can be reproduced.
//!
//! Significant growth («значимый рост») of a topic group or a territory: at least
//! `growth_min_count` incidents in the week, and the probability of that many or more under
//! a Poisson law with the usual level λ (the mean over the `baseline_weeks` weeks before,
//! at least 0.5) below `growth_p_value`.

use super::coverage::{self, CoverageState, TerritoryCoverage};
use super::doc::{Cell, Document, bold, link, text};
use super::{ListFilter, Period, ReportContext};
use crate::store::Incident;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// The usual level is never taken below this, so that a first appearance after weeks of
/// silence needs a few incidents to count as growth.
pub const MIN_BASELINE: f64 = 0.5;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeeklyNote {
    /// `2026-W47`.
    pub week: String,
    pub period: Period,
    pub computed_at: DateTime<Utc>,
    pub totals: Totals,
    /// Incidents per week: the baseline weeks, then the reported one.
    pub trend: Vec<WeekCount>,
    /// Topic groups with the most incidents this week, with examples.
    pub problems: Vec<Problem>,
    /// Topic groups and territories tested for growth, significant first.
    pub growth: Vec<Growth>,
    /// Open incidents past their deadline now, by owner.
    pub overdue_by_owner: Vec<OwnerOverdue>,
    pub resonant: Vec<Example>,
    pub coverage: Vec<TerritoryCoverage>,
    pub recommendations: Vec<String>,
    pub reproducibility: Reproducibility,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Totals {
    pub incidents: u32,
    pub previous_week: u32,
    pub change: i64,
    pub change_percent: Option<f64>,
    /// Usual level: mean incidents per week over the baseline weeks.
    pub baseline_mean: f64,
    /// Of this week's incidents: first response given on time, of those decided.
    pub on_time: u32,
    pub on_time_decided: u32,
    /// Closed in the week as solved.
    pub solved: u32,
    /// Open and past due now (whenever opened).
    pub overdue_now: u32,
    pub resonant: u32,
    /// This week's incidents.
    pub url: String,
    /// The incidents past due now.
    pub overdue_url: String,
    /// This week's resonant incidents.
    pub resonant_url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeekCount {
    pub week: String,
    pub period: Period,
    pub count: u32,
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Example {
    pub id: u64,
    pub summary: String,
    pub group: String,
    pub territory: Option<String>,
    pub place: Option<String>,
    pub mentions: u32,
    pub authors: u32,
    pub opened: DateTime<Utc>,
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    pub group: String,
    pub name: String,
    pub count: u32,
    pub previous_week: u32,
    pub examples: Vec<Example>,
    pub url: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrowthKind {
    Group,
    Territory,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Growth {
    pub kind: GrowthKind,
    pub id: String,
    pub name: String,
    pub count: u32,
    /// Mean per week over the baseline weeks.
    pub baseline_mean: f64,
    /// P(X ≥ count) for X ~ Poisson(max(baseline_mean, 0.5)).
    pub p_value: f64,
    pub significant: bool,
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OwnerOverdue {
    /// `department:zhkh`; `none` for incidents without an owner.
    pub owner: String,
    pub name: String,
    pub count: u32,
    /// The longest overdue first.
    pub examples: Vec<Example>,
    pub url: String,
}

/// What the note was computed with.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reproducibility {
    pub otklik_version: String,
    /// The configuration file, with the SHA-256 of its text when it was read from disk.
    pub config_path: String,
    pub config_sha256: Option<String>,
    pub timezone: String,
    /// Years of the production calendar loaded.
    pub calendar_years: Vec<i32>,
    pub settings: super::ReportSettings,
    /// Incidents read (all, before any filter).
    pub incidents_read: usize,
    pub command: String,
}

/// Upper tail of the Poisson law: P(X ≥ x) for mean `lambda` > 0.
pub fn poisson_upper_tail(x: u32, lambda: f64) -> f64 {
    if x == 0 {
        return 1.0;
    }
    let ln_fact = |n: u32| (1..=n).map(|k| f64::from(k).ln()).sum::<f64>();
    let term = |j: u32| (-lambda + f64::from(j) * lambda.ln() - ln_fact(j)).exp();
    if f64::from(x) <= lambda {
        // Many terms below x: the lower sum is large, no cancellation to fear.
        let mut t = (-lambda).exp();
        let mut cdf = 0.0;
        for j in 0..x {
            if j > 0 {
                t *= lambda / f64::from(j);
            }
            cdf += t;
        }
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    // Beyond the mean the terms fall: sum them upward until they no longer matter.
    let mut t = term(x);
    let mut sum = 0.0;
    let mut j = x;
    while t > sum * 1e-15 && j < x + 100_000 {
        sum += t;
        j += 1;
        t *= lambda / f64::from(j);
    }
    sum.clamp(0.0, 1.0)
}

fn example(i: &Incident, ctx: &ReportContext<'_>) -> Example {
    Example {
        id: i.id,
        summary: i.summary.clone(),
        group: i.group.clone(),
        territory: i.territory.clone(),
        place: i.place.clone(),
        mentions: i.mentions,
        authors: i.authors,
        opened: i.opened,
        url: ctx.settings.incident_url(i.id),
    }
}

/// The note for `period` (normally an ISO week). `repro` is filled in by the caller
/// (configuration path and digest, command); the calendar and settings are taken here.
pub fn compute(
    incidents: &[Incident],
    period: Period,
    ctx: &ReportContext<'_>,
    mut repro: Reproducibility,
) -> WeeklyNote {
    let s = ctx.settings;
    let n_base = s.baseline_weeks as usize;
    // Week boundaries: baseline weeks oldest first, then the reported week.
    let len = period.length();
    let weeks: Vec<Period> = (0..=n_base)
        .rev()
        .map(|back| Period {
            from: period.from - len * back as i32,
            to: period.to - len * back as i32,
        })
        .collect();
    let start = weeks[0].from;
    let week_of = |t: DateTime<Utc>| -> Option<usize> {
        if t < start || t >= period.to {
            return None;
        }
        let idx = ((t - start).num_seconds() / len.num_seconds().max(1)) as usize;
        Some(idx.min(n_base))
    };

    let mut per_week = vec![0u32; n_base + 1];
    let mut groups: HashMap<&str, Vec<u32>> = HashMap::new();
    let mut territories: HashMap<&str, Vec<u32>> = HashMap::new();
    let mut this_week: Vec<&Incident> = Vec::new();
    let mut on_time = (0, 0);
    let mut solved = 0;
    let mut overdue_now: HashMap<String, Vec<&Incident>> = HashMap::new();
    for i in incidents.iter().filter(|i| super::counts(i)) {
        if i.status.is_open() && i.is_overdue(ctx.now) {
            let key = i.owner.as_ref().map_or("none".into(), super::owner_key);
            overdue_now.entry(key).or_default().push(i);
        }
        if i.milestones.closed_at.is_some_and(|t| period.contains(t))
            && i.resolution == Some(crate::store::Resolution::Solved)
        {
            solved += 1;
        }
        let Some(w) = week_of(i.opened) else { continue };
        per_week[w] += 1;
        groups
            .entry(&i.group)
            .or_insert_with(|| vec![0; n_base + 1])[w] += 1;
        territories
            .entry(super::territory_key(i))
            .or_insert_with(|| vec![0; n_base + 1])[w] += 1;
        if w == n_base {
            this_week.push(i);
            if let Some(ok) = i.milestones.first_response_on_time {
                on_time.1 += 1;
                on_time.0 += u32::from(ok);
            } else if i.milestones.first_response_at.is_none() && i.is_overdue(ctx.now) {
                on_time.1 += 1;
            }
        }
    }

    let total = per_week[n_base];
    let previous = if n_base > 0 { per_week[n_base - 1] } else { 0 };
    let baseline_mean = if n_base > 0 {
        f64::from(per_week[..n_base].iter().sum::<u32>()) / n_base as f64
    } else {
        0.0
    };
    let list = |f: ListFilter<'_>| s.list_url(&f);
    let trend = weeks
        .iter()
        .zip(&per_week)
        .map(|(p, c)| WeekCount {
            week: Period::week_label(p.from, ctx.calendar),
            period: *p,
            count: *c,
            url: list(ListFilter {
                period: *p,
                ..ListFilter::default()
            }),
        })
        .collect();

    let mut growth = Vec::new();
    let mut test = |kind: GrowthKind, id: &str, counts: &[u32]| {
        let count = counts[n_base];
        let mean = if n_base > 0 {
            f64::from(counts[..n_base].iter().sum::<u32>()) / n_base as f64
        } else {
            0.0
        };
        if count == 0 || f64::from(count) <= mean {
            return;
        }
        let p = poisson_upper_tail(count, mean.max(MIN_BASELINE));
        let (name, filter) = match kind {
            GrowthKind::Group => (
                ctx.group_name(id),
                ListFilter {
                    period,
                    group: Some(id),
                    ..ListFilter::default()
                },
            ),
            GrowthKind::Territory => (
                ctx.territory_name(id),
                ListFilter {
                    period,
                    territory: Some(id),
                    ..ListFilter::default()
                },
            ),
        };
        growth.push(Growth {
            kind,
            id: id.to_string(),
            name,
            count,
            baseline_mean: mean,
            p_value: p,
            significant: count >= s.growth_min_count && p < s.growth_p_value,
            url: list(filter),
        });
    };
    for (id, counts) in &groups {
        test(GrowthKind::Group, id, counts);
    }
    for (id, counts) in &territories {
        test(GrowthKind::Territory, id, counts);
    }
    growth.sort_by(|a, b| {
        b.significant
            .cmp(&a.significant)
            .then(a.p_value.total_cmp(&b.p_value))
            .then(a.id.cmp(&b.id))
    });

    let by_importance = |a: &&Incident, b: &&Incident| {
        b.mentions
            .cmp(&a.mentions)
            .then(b.authors.cmp(&a.authors))
            .then(a.id.cmp(&b.id))
    };
    let mut problems: Vec<Problem> = groups
        .iter()
        .filter(|(_, c)| c[n_base] > 0)
        .map(|(id, c)| {
            let mut of_group: Vec<&Incident> = this_week
                .iter()
                .copied()
                .filter(|i| i.group == *id)
                .collect();
            of_group.sort_by(by_importance);
            Problem {
                group: id.to_string(),
                name: ctx.group_name(id),
                count: c[n_base],
                previous_week: if n_base > 0 { c[n_base - 1] } else { 0 },
                examples: of_group
                    .iter()
                    .take(s.examples)
                    .map(|i| example(i, ctx))
                    .collect(),
                url: list(ListFilter {
                    period,
                    group: Some(id),
                    ..ListFilter::default()
                }),
            }
        })
        .collect();
    problems.sort_by(|a, b| b.count.cmp(&a.count).then(a.group.cmp(&b.group)));
    problems.truncate(5);

    let mut overdue_by_owner: Vec<OwnerOverdue> = overdue_now
        .into_iter()
        .map(|(key, mut list_)| {
            list_.sort_by_key(|i| (i.due(), i.id));
            let name = list_[0]
                .owner
                .as_ref()
                .map_or("исполнитель не назначен".into(), |o| {
                    ctx.owner_name(o)
                });
            OwnerOverdue {
                url: s.list_url(&ListFilter {
                    period: Period {
                        from: DateTime::<Utc>::MIN_UTC,
                        to: ctx.now,
                    },
                    owner: Some(key.split_once(':').map_or(key.as_str(), |(_, id)| id)),
                    overdue: true,
                    ..ListFilter::default()
                }),
                owner: key,
                name,
                count: list_.len() as u32,
                examples: list_
                    .iter()
                    .take(s.examples)
                    .map(|i| example(i, ctx))
                    .collect(),
            }
        })
        .collect();
    overdue_by_owner.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    let overdue_total = overdue_by_owner.iter().map(|o| o.count).sum();

    let mut resonant: Vec<&Incident> = incidents
        .iter()
        .filter(|i| {
            super::counts(i)
                && i.resonant
                && (period.contains(i.opened) || period.contains(i.last_mention))
        })
        .collect();
    resonant.sort_by(by_importance);
    let resonant_count = this_week.iter().filter(|i| i.resonant).count() as u32;

    let mut coverage =
        coverage::coverage(&ctx.org.territory_ids(), ctx.sources, ctx.health, &period);
    coverage::with_incidents(&mut coverage, |t| {
        territories.get(t).is_some_and(|c| c[n_base] > 0)
    });

    let mut recommendations = Vec::new();
    for g in growth.iter().filter(|g| g.significant) {
        recommendations.push(format!(
            "Выяснить причины роста обращений: {} «{}» — {} за неделю при обычном уровне {} в неделю; при необходимости подготовить план устранения причин.",
            match g.kind {
                GrowthKind::Group => "группа тем",
                GrowthKind::Territory => "территория",
            },
            g.name,
            g.count,
            format!("{:.1}", g.baseline_mean).replace('.', ",")
        ));
    }
    for o in overdue_by_owner.iter().take(3) {
        recommendations.push(format!(
            "Рассмотреть с руководителем («{}») {} инцидент(ов) с истёкшим сроком ответа.",
            o.name, o.count
        ));
    }
    for c in coverage.iter().filter(|c| c.state.is_blind()) {
        recommendations.push(format!(
            "{} «{}»: обращения жителей могли остаться незамеченными.",
            if c.state == CoverageState::NoSources {
                "Подключить к мониторингу источники (сообщества, каналы, СМИ) территории"
            } else {
                "Восстановить мониторинг территории"
            },
            ctx.territory_name(&c.territory)
        ));
    }

    repro.otklik_version = env!("CARGO_PKG_VERSION").to_string();
    repro.timezone = ctx.calendar.timezone().name().to_string();
    repro.calendar_years = ctx.calendar.production().years().collect();
    repro.settings = s.clone();
    repro.incidents_read = incidents.len();

    WeeklyNote {
        week: Period::week_label(period.from, ctx.calendar),
        period,
        computed_at: ctx.now,
        totals: Totals {
            incidents: total,
            previous_week: previous,
            change: i64::from(total) - i64::from(previous),
            change_percent: (previous > 0)
                .then(|| (f64::from(total) - f64::from(previous)) * 100.0 / f64::from(previous)),
            baseline_mean,
            on_time: on_time.0,
            on_time_decided: on_time.1,
            solved,
            overdue_now: overdue_total,
            resonant: resonant_count,
            url: list(ListFilter {
                period,
                ..ListFilter::default()
            }),
            overdue_url: list(ListFilter {
                period: Period {
                    from: DateTime::<Utc>::MIN_UTC,
                    to: ctx.now,
                },
                overdue: true,
                ..ListFilter::default()
            }),
            resonant_url: list(ListFilter {
                period,
                resonant: true,
                ..ListFilter::default()
            }),
        },
        trend,
        problems,
        growth,
        overdue_by_owner,
        resonant: resonant.iter().take(10).map(|i| example(i, ctx)).collect(),
        coverage,
        recommendations,
        reproducibility: repro,
    }
}

impl Reproducibility {
    /// Filled in by [`compute`] except what only the caller knows.
    pub fn new(config_path: &str, config_sha256: Option<String>, command: &str) -> Reproducibility {
        Reproducibility {
            otklik_version: String::new(),
            config_path: config_path.to_string(),
            config_sha256,
            timezone: String::new(),
            calendar_years: Vec::new(),
            settings: super::ReportSettings::default(),
            incidents_read: 0,
            command: command.to_string(),
        }
    }
}

/// A small probability as officials read it: «0,11 %», «менее 0,01 %».
pub fn probability_ru(p: f64) -> String {
    if p < 0.0001 {
        "менее 0,01 %".into()
    } else {
        format!("{:.2} %", p * 100.0).replace('.', ",")
    }
}

fn example_line(e: &Example, ctx: &ReportContext<'_>) -> Vec<super::doc::Inline> {
    let mut where_ = Vec::new();
    if let Some(t) = &e.territory {
        where_.push(ctx.territory_name(t));
    }
    if let Some(p) = &e.place {
        where_.push(p.clone());
    }
    vec![
        link(format!("№{}", e.id), e.url.clone()),
        text(format!(
            " ({}{}; сообщений: {}, авторов: {}): {}",
            super::local_time(e.opened, ctx.calendar),
            if where_.is_empty() {
                String::new()
            } else {
                format!(", {}", where_.join(", "))
            },
            e.mentions,
            e.authors,
            e.summary
        )),
    ]
}

/// The note as a document (for HTML, Markdown and DOCX).
pub fn document(note: &WeeklyNote, ctx: &ReportContext<'_>) -> Document {
    let t = &note.totals;
    let mut d = Document::new(format!(
        "Еженедельная аналитическая записка: {} ({})",
        note.period.label_ru(ctx.calendar),
        note.week
    ));
    d.text(format!(
        "{}. Подготовлена МЦУ по данным мониторинга открытых источников (социальные сети, мессенджеры, СМИ). Сформирована {}.",
        ctx.settings.addressee,
        super::local_time(note.computed_at, ctx.calendar)
    ));

    d.heading(2, "1. Итоги недели");
    let signed = |n: i64| {
        if n > 0 {
            format!("+{n}")
        } else {
            n.to_string()
        }
    };
    d.list(vec![
        vec![
            text("Выявлено инцидентов: "),
            link(t.incidents.to_string(), t.url.clone()),
            text(format!(
                " (предыдущая неделя: {}, изменение {}{}; обычный уровень — {} в неделю).",
                t.previous_week,
                signed(t.change),
                t.change_percent
                    .map_or(String::new(), |p| format!(", {:+.0} %", p)),
                format!("{:.1}", t.baseline_mean).replace('.', ",")
            )),
        ],
        vec![text(format!(
            "Первый ответ дан в срок: {} из {}{}.",
            t.on_time,
            t.on_time_decided,
            if t.on_time_decided > 0 {
                format!(
                    " ({})",
                    super::percent(f64::from(t.on_time) / f64::from(t.on_time_decided))
                )
            } else {
                String::new()
            }
        ))],
        vec![text(format!("Решено и закрыто за неделю: {}.", t.solved))],
        vec![
            text("Инцидентов с истёкшим сроком ответа на момент подготовки записки: "),
            link(t.overdue_now.to_string(), t.overdue_url.clone()),
            text("."),
        ],
        vec![
            text("Резонансных инцидентов: "),
            link(t.resonant.to_string(), t.resonant_url.clone()),
            text("."),
        ],
    ]);
    d.heading(3, "Динамика по неделям");
    d.table(
        vec!["Неделя", "Период", "Инцидентов"],
        note.trend
            .iter()
            .map(|w| {
                vec![
                    Cell::text(w.week.clone()),
                    Cell::text(w.period.label_ru(ctx.calendar)),
                    Cell::link(w.count.to_string(), w.url.clone()),
                ]
            })
            .collect(),
    );

    d.heading(2, "2. Основные проблемы");
    if note.problems.is_empty() {
        d.text("Инцидентов за неделю не выявлено.");
    }
    for p in &note.problems {
        d.para(vec![
            bold(p.name.clone()),
            text(" — "),
            link(p.count.to_string(), p.url.clone()),
            text(format!(
                " (предыдущая неделя: {}). Примеры:",
                p.previous_week
            )),
        ]);
        d.list(p.examples.iter().map(|e| example_line(e, ctx)).collect());
    }

    d.heading(2, "3. Значимый рост обращений");
    d.text(format!(
        "Рост считается значимым, если за неделю выявлено не менее {} инцидентов и вероятность получить столько или больше при обычном уровне (среднее за {} предыдущих недель, но не менее {}) по закону Пуассона меньше {} %.",
        ctx.settings.growth_min_count,
        ctx.settings.baseline_weeks,
        format!("{MIN_BASELINE}").replace('.', ","),
        format!("{}", ctx.settings.growth_p_value * 100.0).replace('.', ",")
    ));
    let significant: Vec<&Growth> = note.growth.iter().filter(|g| g.significant).collect();
    if significant.is_empty() {
        d.text("Значимого роста по группам тем и территориям не выявлено.");
    } else {
        d.table(
            vec![
                "Что",
                "За неделю",
                "Обычный уровень в неделю",
                "Вероятность",
            ],
            significant
                .iter()
                .map(|g| {
                    vec![
                        Cell::text(format!(
                            "{}: {}",
                            match g.kind {
                                GrowthKind::Group => "группа тем",
                                GrowthKind::Territory => "территория",
                            },
                            g.name
                        )),
                        Cell::link(g.count.to_string(), g.url.clone()),
                        Cell::number(format!("{:.1}", g.baseline_mean).replace('.', ",")),
                        Cell::number(probability_ru(g.p_value)),
                    ]
                })
                .collect(),
        );
    }

    d.heading(2, "4. Просроченные инциденты по исполнителям");
    if note.overdue_by_owner.is_empty() {
        d.text("Инцидентов с истёкшим сроком ответа нет.");
    } else {
        d.table(
            vec!["Исполнитель", "Просрочено", "Давно просроченные"],
            note.overdue_by_owner
                .iter()
                .map(|o| {
                    let mut ex = Vec::new();
                    for (n, e) in o.examples.iter().enumerate() {
                        if n > 0 {
                            ex.push(text(", "));
                        }
                        ex.push(link(format!("№{}", e.id), e.url.clone()));
                    }
                    vec![
                        Cell::text(o.name.clone()),
                        Cell::link(o.count.to_string(), o.url.clone()),
                        Cell::inlines(ex),
                    ]
                })
                .collect(),
        );
    }

    d.heading(2, "5. Резонансные события");
    if note.resonant.is_empty() {
        d.text("Резонансных инцидентов за неделю не было.");
    } else {
        d.list(note.resonant.iter().map(|e| example_line(e, ctx)).collect());
    }

    d.heading(2, "6. Охват мониторинга");
    let no_data: Vec<String> = note
        .coverage
        .iter()
        .filter(|c| c.state.is_blind())
        .map(|c| ctx.territory_name(&c.territory))
        .collect();
    d.text(if no_data.is_empty() {
        "По всем территориям источники работали: отсутствие обращений с территории означает, что жители о проблемах не писали.".to_string()
    } else {
        format!(
            "Нет данных по территориям: {} — источники не работали, отсутствие обращений не означает отсутствия проблем.",
            no_data.join(", ")
        )
    });
    super::heatmap::coverage_section(&mut d, &note.coverage, ctx);

    d.heading(2, "7. Предложения");
    d.text("Проект, подготовленный автоматически по данным недели; дополняется и уточняется руководителем МЦУ.");
    if note.recommendations.is_empty() {
        d.text("Особых мер по итогам недели не требуется.");
    }
    d.list(
        note.recommendations
            .iter()
            .map(|r| vec![text(r.clone())])
            .collect(),
    );

    let r = &note.reproducibility;
    d.heading(2, "Сведения для воспроизведения");
    d.list(vec![
        vec![text(format!("Версия otklik: {}.", r.otklik_version))],
        vec![text(format!(
            "Конфигурация: {}{}.",
            r.config_path,
            r.config_sha256
                .as_ref()
                .map_or(String::new(), |h| format!(", SHA-256 {h}"))
        ))],
        vec![text(format!(
            "Календарь: часовой пояс {}, производственные календари на {} год(ы).",
            r.timezone,
            r.calendar_years
                .iter()
                .map(|y| y.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))],
        vec![text(format!(
            "Параметры: обычный уровень — {} недель, значимый рост — не менее {} инцидентов и p < {}; прочитано инцидентов: {}.",
            r.settings.baseline_weeks,
            r.settings.growth_min_count,
            r.settings.growth_p_value,
            r.incidents_read
        ))],
        vec![text(format!("Команда: {}", r.command))],
    ]);
    d
}

/// Start of the week before the one containing `now` (for the schedule).
pub fn previous_week(
    now: DateTime<Utc>,
    calendar: &crate::incidents::calendar::WorkCalendar,
) -> Period {
    let today = calendar.local_date(now);
    let monday = today
        - TimeDelta::days(i64::from(
            chrono::Datelike::weekday(&today).num_days_from_monday(),
        ));
    Period::local_days(monday - TimeDelta::days(7), 7, calendar)
}
