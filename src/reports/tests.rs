//! Golden figures on the dataset of [`super::golden`] (the figures are worked out there).

use super::coverage::{CoverageSource, CoverageState};
use super::golden::{self, dataset, msk};
use super::*;

pub(crate) struct Fixture {
    pub org: Org,
    pub knowledge: crate::understand::Knowledge,
    pub calendar: WorkCalendar,
    pub settings: ReportSettings,
    pub sources: Vec<CoverageSource>,
    pub health: Vec<SourceHealth>,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture {
            org: Org::embedded(),
            knowledge: crate::understand::Knowledge::embedded(),
            calendar: WorkCalendar::embedded(),
            settings: ReportSettings::default(),
            sources: golden::sources(),
            health: golden::health(),
        }
    }

    pub fn ctx(&self) -> ReportContext<'_> {
        ReportContext {
            org: &self.org,
            taxonomy: &self.knowledge.taxonomy,
            calendar: &self.calendar,
            settings: &self.settings,
            sources: &self.sources,
            health: &self.health,
            now: golden::now(),
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-4 * b.abs().max(1e-9) + 1e-9
}

fn w47(f: &Fixture) -> Period {
    parse_week("2026-W47", &f.calendar).unwrap()
}

#[test]
fn iso_week_is_moscow_monday_to_monday() {
    let f = Fixture::new();
    let p = w47(&f);
    assert_eq!(p.from, msk(2026, 11, 16, 0));
    assert_eq!(p.to, msk(2026, 11, 23, 0));
    assert_eq!(p.label_ru(&f.calendar), "16.11.2026 — 22.11.2026");
    assert!(parse_week("2026-47", &f.calendar).is_err());
    assert!(parse_week("2026-W54", &f.calendar).is_err());
}

#[test]
fn poisson_tail_matches_hand_computed_values() {
    use weekly::poisson_upper_tail as p;
    assert!(close(p(9, 2.5), 0.001_140_252_8));
    assert!(close(p(5, 0.5), 0.000_172_115_6));
    assert!(close(p(3, 1.0), 0.080_301_397));
    assert!(close(p(11, 2.5), 6.162_691e-5));
    assert!(close(p(2, 1.0), 0.264_241_118));
    assert_eq!(p(0, 3.0), 1.0);
    // Far tails of large means stay finite and tiny, not NaN.
    let tail = p(2000, 1000.0);
    assert!(tail > 0.0 && tail < 1e-100, "{tail}");
}

#[test]
fn heatmap_golden() {
    let f = Fixture::new();
    let data = dataset();
    let map = heatmap::compute(&data, w47(&f), &f.ctx());
    assert_eq!(map.total, 18);
    assert_eq!(map.previous_total, 3 + 1);
    let cell = |g: &str, t: &str| {
        map.cells
            .iter()
            .find(|c| c.group == g && c.territory == t)
            .unwrap_or_else(|| panic!("no cell {g} × {t}"))
    };
    let roads = cell("dorogi", "gavrilov-yam");
    assert_eq!((roads.count, roads.previous, roads.change), (9, 3, 6));
    assert_eq!(roads.overdue, 2);
    assert!(close(roads.overdue_share.unwrap(), 2.0 / 9.0));
    assert!(close(roads.change_percent.unwrap(), 200.0));
    let shopsha = cell("zhkh", "shopsha");
    // The W46 one is past due now: it counts as overdue, but it is in the previous period.
    assert_eq!(
        (shopsha.count, shopsha.previous, shopsha.overdue),
        (2, 1, 0)
    );
    let velikoe = cell("blagoustroystvo", "velikoe");
    assert_eq!((velikoe.count, velikoe.previous), (5, 0));
    assert_eq!(velikoe.change_percent, None);
    assert!(velikoe.url.contains("group=blagoustroystvo"));
    assert!(velikoe.url.contains("territory=velikoe"));
    assert_eq!(map.groups[0].id, "blagoustroystvo", "taxonomy order");
    let coverage = |t: &str| {
        map.coverage
            .iter()
            .find(|c| c.territory == t)
            .unwrap()
            .state
    };
    assert_eq!(coverage("gavrilov-yam"), CoverageState::Partial);
    // Its only sources are silent, but it has incidents: data came from somewhere.
    assert_eq!(coverage("velikoe"), CoverageState::Partial);
    assert_eq!(coverage("mitino"), CoverageState::NoData);
    let csv = heatmap::to_csv(&map, &f.ctx());
    assert!(csv.starts_with("\u{feff}Код группы,Группа тем"));
    assert!(
        csv.contains(
            "dorogi,Дороги,gavrilov-yam,городское поселение Гаврилов-Ям,9,2,22.2,3,6,200.0"
        )
    );
    let html = doc::to_html(&heatmap::document(&map, &f.ctx()));
    assert!(html.contains("нет данных"));
    assert!(html.contains(&format!("background:#{}", heatmap::SCALE[4])));
}

#[test]
fn ratings_golden() {
    let f = Fixture::new();
    let data = dataset();
    let r = ratings::compute(&data, w47(&f), &f.ctx());
    assert!(close(r.average_on_time.unwrap(), 0.875));
    assert!(close(r.average_merits.unwrap(), 0.75));
    assert!(close(r.average_reopened.unwrap(), 1.0 / 12.0));
    assert!(close(r.average_satisfied.unwrap(), 1.0));
    let names: Vec<&str> = r.rows.iter().map(|r| r.owner.as_str()).collect();
    assert_eq!(
        names,
        [
            "territory:velikoe",
            "department:zhkh",
            "territory:shopsha",
            "department:education"
        ]
    );
    let z = &r.rows[1];
    assert_eq!(z.rank, Some(2));
    assert_eq!(z.incidents, 10);
    assert_eq!((z.on_time.k, z.on_time.n), (8, 10));
    assert_eq!((z.merits.k, z.merits.n), (6, 10));
    assert_eq!((z.reopened.k, z.reopened.n), (1, 6));
    assert_eq!((z.satisfied.k, z.satisfied.n), (2, 2));
    assert!(close(z.median_first_response_hours.unwrap(), 5.5));
    assert!(close(z.on_time.adjusted.unwrap(), 0.8375));
    assert!(close(z.merits.adjusted.unwrap(), 0.675));
    assert!(close(z.reopened.adjusted.unwrap(), 0.114_583_33));
    assert!(close(z.index.unwrap(), 81.458_333));
    let v = &r.rows[0];
    assert_eq!(v.rank, Some(1));
    assert!(close(v.median_first_response_hours.unwrap(), 2.0));
    assert!(close(v.index.unwrap(), 90.555_556));
    // One perfect answer out of one does not top the table.
    let e = &r.rows[3];
    assert_eq!(e.rank, None);
    assert_eq!(e.on_time.raw, Some(1.0));
    let html = doc::to_html(&ratings::document(&r, &f.ctx()));
    assert!(html.contains("недостаточно данных"));
    assert!(html.contains("(k + m·p̄) / (n + m)"));
    let csv = ratings::to_csv(&r);
    assert!(csv.contains("2,department:zhkh,"));
}

#[test]
fn weekly_golden() {
    let f = Fixture::new();
    let data = dataset();
    let note = weekly::compute(
        &data,
        w47(&f),
        &f.ctx(),
        weekly::Reproducibility::new("test", None, "test"),
    );
    assert_eq!(note.week, "2026-W47");
    let t = &note.totals;
    assert_eq!((t.incidents, t.previous_week, t.change), (18, 4, 14));
    assert!(close(t.baseline_mean, (20.0 + 8.0) / 8.0));
    // 7 of 9 roads, the zhkh one, 5 velikoe, 1 education on time; shopsha's undecided.
    assert_eq!((t.on_time, t.on_time_decided), (14, 16));
    assert_eq!(t.overdue_now, 1);
    assert_eq!(t.resonant, 1);
    let counts: Vec<u32> = note.trend.iter().map(|w| w.count).collect();
    assert_eq!(counts, [3, 4, 3, 4, 3, 4, 3, 4, 18]);
    let growth = |id: &str| note.growth.iter().find(|g| g.id == id).unwrap();
    let roads = growth("dorogi");
    assert!(roads.significant);
    assert!(close(roads.p_value, 0.001_140_252_8));
    assert!(close(roads.baseline_mean, 2.5));
    assert!(growth("blagoustroystvo").significant);
    assert!(close(growth("blagoustroystvo").p_value, 0.000_172_115_6));
    assert!(!growth("zhkh").significant);
    assert!(close(growth("zhkh").p_value, 0.080_301_397));
    assert!(
        !growth("obrazovanie").significant,
        "one incident is not growth"
    );
    assert!(growth("gavrilov-yam").significant);
    assert!(close(growth("gavrilov-yam").p_value, 6.162_691e-5));
    assert!(growth("velikoe").significant);
    assert!(!growth("shopsha").significant);
    let significant: Vec<&str> = note
        .growth
        .iter()
        .filter(|g| g.significant)
        .map(|g| g.id.as_str())
        .collect();
    assert_eq!(
        significant,
        ["gavrilov-yam", "blagoustroystvo", "velikoe", "dorogi"]
    );
    assert_eq!(note.problems[0].group, "dorogi");
    assert_eq!(note.problems[0].examples[0].mentions, 12);
    assert_eq!(note.overdue_by_owner.len(), 1);
    assert_eq!(note.overdue_by_owner[0].owner, "territory:shopsha");
    assert_eq!(note.resonant.len(), 1);
    assert_eq!(note.reproducibility.calendar_years, [2026]);
    assert_eq!(note.reproducibility.timezone, "Europe/Moscow");
    let no_data: Vec<&str> = note
        .coverage
        .iter()
        .filter(|c| c.state.is_blind())
        .map(|c| c.territory.as_str())
        .collect();
    assert_eq!(no_data, ["mitino", "zayachiy-kholm"]);
    let d = weekly::document(&note, &f.ctx());
    let md = doc::to_markdown(&d);
    assert!(md.contains("## 3. Значимый рост обращений"), "{md}");
    assert!(md.contains("[18](/incidents?from="));
    assert!(md.contains("Нет данных по территориям: Митинское сельское поселение"));
    let html = doc::to_html(&d);
    assert!(html.contains("<a href=\"/incidents/"));
}

#[test]
fn export_columns_and_place_split() {
    let f = Fixture::new();
    let mut data = dataset();
    data[0].place = Some("Гаврилов-Ям, ул. Кирова, д. 20".into());
    data[0].topic = Some("Ямы на дорогах".into());
    let period = Period {
        from: msk(2026, 9, 1, 0),
        to: msk(2026, 12, 1, 0),
    };
    let rows = export::rows(&data, period, &f.ctx());
    assert_eq!(rows.len(), data.len());
    assert_eq!(rows[0].len(), export::COLUMNS.len());
    assert_eq!(rows[0][0], "1");
    assert_eq!(rows[0][3], "Дороги");
    assert_eq!(rows[0][4], "Ямы на дорогах");
    assert_eq!(rows[0][5], "Гаврилов-Ямский муниципальный округ");
    assert_eq!(&rows[0][6..9], ["Гаврилов-Ям", "ул. Кирова", "20"]);
    assert_eq!(
        rows[0][11],
        "Управление ЖКХ, капитального строительства и природопользования"
    );
    assert_eq!(
        export::split_place("с. Великое"),
        ("с. Великое".into(), String::new(), String::new())
    );
    let csv = export::to_csv(rows.clone());
    assert!(csv.starts_with("\u{feff}Номер,Дата создания,Дата закрытия,Группа тем,Тема,Муниципалитет,Населённый пункт,Улица,Дом,Текст,Время первого ответа,Исполнитель,Итог\r\n"));
    let xlsx = export::to_xlsx(&rows);
    assert_eq!(&xlsx[..2], b"PK");
}

#[test]
fn column_names() {
    assert_eq!(ooxml::column_name(0), "A");
    assert_eq!(ooxml::column_name(12), "M");
    assert_eq!(ooxml::column_name(25), "Z");
    assert_eq!(ooxml::column_name(26), "AA");
    assert_eq!(ooxml::column_name(27), "AB");
}

#[test]
fn settings_validation_names_the_key() {
    let mut s = ReportSettings::default();
    assert!(s.validate(std::path::Path::new("x.toml")).is_ok());
    s.weekly_day = "понедельник".into();
    let e = s.validate(std::path::Path::new("x.toml")).unwrap_err();
    assert_eq!(e.key, "reports.weekly_day");
    let s = ReportSettings {
        public_url: "otklik.example".into(),
        ..ReportSettings::default()
    };
    assert_eq!(
        s.validate(std::path::Path::new("x.toml")).unwrap_err().key,
        "reports.public_url"
    );
}

#[test]
fn the_shipped_configuration_documents_the_reports_section_with_its_defaults() {
    let text = include_str!("../../config/otklik.toml");
    let shipped: crate::config::Settings = toml::from_str(text).unwrap();
    assert!(text.contains("\n[reports]\n"));
    assert_eq!(shipped.reports, ReportSettings::default());
}

#[test]
fn csv_fields_are_quoted_and_never_formulas() {
    assert_eq!(doc::csv_field("просто"), "просто");
    assert_eq!(doc::csv_field("a,b"), "\"a,b\"");
    assert_eq!(doc::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(
        doc::csv_field("=HYPERLINK(\"x\")"),
        "\"'=HYPERLINK(\"\"x\"\")\""
    );
    assert_eq!(doc::csv_field("-6"), "-6");
    assert_eq!(doc::csv_field("-cmd"), "'-cmd");
    assert_eq!(doc::csv_field("@SUM(A1)"), "'@SUM(A1)");
}

#[test]
fn a_territory_no_source_covers_is_told_apart_from_one_whose_sources_failed() {
    use super::coverage::coverage;
    let f = Fixture::new();
    let only_town = vec![CoverageSource {
        name: "gy-news".into(),
        territory: Some("gavrilov-yam".into()),
        enabled: true,
    }];
    let c = coverage(
        &["gavrilov-yam".into(), "mitino".into()],
        &only_town,
        &f.health,
        &w47(&f),
    );
    assert_eq!(c[0].state, CoverageState::Ok);
    assert_eq!(c[0].working, ["gy-news"]);
    assert_eq!(c[1].state, CoverageState::NoSources);
    let c = coverage(&["mitino".into()], &f.sources, &f.health, &w47(&f));
    assert_eq!(c[0].state, CoverageState::NoData);
    assert_eq!(c[0].silent, ["search"]);
    // A source switched off in the configuration is silent whatever its record says.
    let mut off = only_town.clone();
    off[0].enabled = false;
    let c = coverage(&["gavrilov-yam".into()], &off, &f.health, &w47(&f));
    assert_eq!(c[0].state, CoverageState::NoData);
}

#[test]
fn ratings_by_territory_count_where_the_problems_are() {
    let f = Fixture::new();
    let r = ratings::compute_by(&dataset(), w47(&f), &f.ctx(), ratings::RatingBy::Territory);
    let row = |key: &str| r.rows.iter().find(|r| r.owner == key).unwrap();
    let gy = row("territory:gavrilov-yam");
    // 9 roads, 1 zhkh, 1 education.
    assert_eq!(gy.incidents, 11);
    assert_eq!((gy.on_time.k, gy.on_time.n), (9, 11));
    assert_eq!((gy.merits.k, gy.merits.n), (7, 11));
    // 1, 1, 2, …, 9, 10 working hours.
    assert!(close(gy.median_first_response_hours.unwrap(), 5.0));
    assert!(gy.url.contains("territory=gavrilov-yam"));
    assert_eq!(row("territory:velikoe").incidents, 5);
    assert_eq!(row("territory:shopsha").rank, None);
    assert_eq!(r.rows.len(), 3);
    let html = doc::to_html(&ratings::document(&r, &f.ctx()));
    assert!(html.contains("Рейтинг территорий по месту проблемы"));
}

#[test]
fn the_store_filter_changes_no_figure() {
    use service::{Format, ReportKind, ReportRequest, needed};
    let f = Fixture::new();
    let data = dataset();
    // Incidents far outside any window: a year earlier, closed.
    let mut all = data.clone();
    for mut old in data.iter().cloned() {
        old.id += 1000;
        old.opened -= TimeDelta::days(365);
        old.last_mention = old.opened;
        old.created = old.opened;
        old.clock = None;
        all.push(old);
    }
    for kind in [
        ReportKind::Weekly,
        ReportKind::Heatmap,
        ReportKind::Ratings,
        ReportKind::Export,
    ] {
        let request = ReportRequest {
            kind,
            format: Format::Json,
            period: w47(&f),
            now: golden::now(),
            command: String::new(),
            rating_by: ratings::RatingBy::Owner,
        };
        let kept: Vec<Incident> = all
            .iter()
            .filter(|i| needed(i, &request, &f.settings))
            .cloned()
            .collect();
        assert!(kept.len() < all.len(), "{kind:?} kept everything");
        let ctx = f.ctx();
        let (a, b) = match kind {
            ReportKind::Weekly => {
                let r = || weekly::Reproducibility::new("t", None, "t");
                let mut x = weekly::compute(&all, request.period, &ctx, r());
                let mut y = weekly::compute(&kept, request.period, &ctx, r());
                x.reproducibility.incidents_read = 0;
                y.reproducibility.incidents_read = 0;
                (serde_json::to_value(x), serde_json::to_value(y))
            }
            ReportKind::Heatmap => (
                serde_json::to_value(heatmap::compute(&all, request.period, &ctx)),
                serde_json::to_value(heatmap::compute(&kept, request.period, &ctx)),
            ),
            ReportKind::Ratings => (
                serde_json::to_value(ratings::compute(&all, request.period, &ctx)),
                serde_json::to_value(ratings::compute(&kept, request.period, &ctx)),
            ),
            ReportKind::Export => (
                serde_json::to_value(export::rows(&all, request.period, &ctx)),
                serde_json::to_value(export::rows(&kept, request.period, &ctx)),
            ),
        };
        assert_eq!(a.unwrap(), b.unwrap(), "{kind:?}");
    }
}

#[test]
fn a_list_link_names_the_bounds_of_its_period_and_leaves_out_an_open_end() {
    let settings = ReportSettings::default();
    use chrono::TimeZone;
    let from = Utc.with_ymd_and_hms(2026, 11, 15, 21, 0, 0).unwrap();
    let to = Utc.with_ymd_and_hms(2026, 11, 22, 21, 0, 0).unwrap();
    let week = settings.list_url(&ListFilter {
        period: Period { from, to },
        resonant: true,
        ..ListFilter::default()
    });
    assert!(
        week.ends_with(
            "/incidents?from=2026-11-15T21%3A00%3A00Z&to=2026-11-22T21%3A00%3A00Z&resonant=true"
        ),
        "{week}"
    );
    let overdue = settings.list_url(&ListFilter {
        period: Period {
            from: DateTime::<Utc>::MIN_UTC,
            to,
        },
        owner: Some("zhkh"),
        overdue: true,
        ..ListFilter::default()
    });
    assert!(
        overdue.ends_with("/incidents?to=2026-11-22T21%3A00%3A00Z&owner=zhkh&overdue=true"),
        "{overdue}"
    );
}
