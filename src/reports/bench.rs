//! The reports benchmark: a year of a region-sized queue (500 000 incidents by default) —
//! the heat map over the year, the ratings over the year, the weekly note of the last week
//! with its eight-week baseline — against a same-run baseline: one plain pass counting
//! incidents per (group, territory), the least work any heat map needs. With `store`, the
//! incidents are also written to a temporary store and read back the way the CLI reads
//! them (JSON records from sled).

use super::coverage::CoverageSource;
use super::{Period, ReportContext, ReportSettings, doc, heatmap, ratings, weekly};
use crate::incidents::calendar::WorkCalendar;
use crate::org::{Org, Owner};
use crate::store::{Incident, IncidentStatus, Milestones, Resolution, Store, WriteBatch};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::time::Instant;

#[derive(Debug, Serialize)]
pub struct ReportFigures {
    pub incidents: usize,
    pub baseline_count_secs: f64,
    pub heatmap_year_secs: f64,
    pub heatmap_html_bytes: usize,
    pub ratings_year_secs: f64,
    pub weekly_secs: f64,
    pub weekly_docx_bytes: usize,
    /// With `store`: writing the incidents, and reading them back as the CLI does.
    pub store_write_secs: Option<f64>,
    pub store_read_secs: Option<f64>,
}

impl std::fmt::Display for ReportFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "incidents:              {}", self.incidents)?;
        writeln!(
            f,
            "baseline (count pass):  {:.3} s",
            self.baseline_count_secs
        )?;
        writeln!(
            f,
            "heat map, a year:       {:.3} s (+ HTML {} KB)",
            self.heatmap_year_secs,
            self.heatmap_html_bytes / 1024
        )?;
        writeln!(f, "ratings, a year:        {:.3} s", self.ratings_year_secs)?;
        writeln!(
            f,
            "weekly note (+DOCX):    {:.3} s ({} KB)",
            self.weekly_secs,
            self.weekly_docx_bytes / 1024
        )?;
        if let (Some(w), Some(r)) = (self.store_write_secs, self.store_read_secs) {
            writeln!(f, "store: write {w:.1} s, read all back {r:.1} s")?;
        }
        Ok(())
    }
}

/// `n` incidents spread over 2026 (weeks 1 to 52), across every group, territory and a
/// quarter of them with each kind of outcome.
pub fn synthetic_incidents(n: usize, org: &Org, groups: &[String]) -> Vec<Incident> {
    let mut rng = fastrand::Rng::with_seed(538);
    let start = Utc.with_ymd_and_hms(2025, 12, 28, 21, 0, 0).unwrap();
    let span = 52 * 7 * 24 * 3600;
    let territories = org.territory_ids();
    (1..=n as u64)
        .map(|id| {
            let opened = start + TimeDelta::seconds(rng.i64(0..span));
            let group = groups[rng.usize(..groups.len())].clone();
            let territory = territories[rng.usize(..territories.len())].clone();
            let owner = if rng.bool() {
                Owner::Territory(territory.clone())
            } else {
                Owner::Department(
                    org.departments[rng.usize(..org.departments.len())]
                        .id
                        .clone(),
                )
            };
            let mut m = Milestones::default();
            let outcome = rng.u8(0..4);
            if outcome > 0 {
                let secs = rng.i64(600..40 * 3600);
                m.first_response_at = Some(opened + TimeDelta::seconds(secs));
                m.first_response_working_secs = Some(secs / 2);
                m.first_response_on_time = Some(rng.u8(0..10) < 8);
            }
            if outcome > 1 {
                m.answered_at = m.first_response_at;
                m.answer_on_time = Some(true);
                m.reopened = u32::from(rng.u8(0..20) == 0);
                m.satisfied = (rng.u8(0..3) == 0).then(|| rng.bool());
            }
            if outcome > 2 {
                m.closed_at = m.answered_at.map(|t| t + TimeDelta::days(1));
            }
            Incident {
                id,
                status: match outcome {
                    0 => IncidentStatus::Routed,
                    1 => IncidentStatus::InWork,
                    2 => IncidentStatus::Answered,
                    _ => IncidentStatus::Closed,
                },
                opened,
                last_mention: opened,
                created: opened + TimeDelta::minutes(3),
                group,
                topic: None,
                territory: Some(territory),
                place: None,
                owner: Some(owner),
                urgent: false,
                resonant: rng.u16(0..500) == 0,
                first_post: format!("vk:-1_{id}"),
                mentions: 1 + rng.u32(0..5),
                authors: 1,
                summary: "Яма на дороге у дома, третью неделю никто не отвечает".into(),
                fingerprint: Vec::new(),
                events: 3,
                resolution: (outcome == 3).then_some(Resolution::Solved),
                merged_into: None,
                waiting_for: None,
                clock: None,
                milestones: m,
                pending_answer: None,
            }
        })
        .collect()
}

fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

/// Run the benchmark over `n` incidents.
pub fn run(n: usize, with_store: bool) -> anyhow::Result<ReportFigures> {
    let org = Org::embedded();
    let knowledge = crate::understand::Knowledge::embedded();
    let calendar = WorkCalendar::embedded();
    let settings = ReportSettings::default();
    let groups: Vec<String> = knowledge
        .taxonomy
        .groups
        .iter()
        .map(|g| g.id.clone())
        .collect();
    let incidents = synthetic_incidents(n, &org, &groups);
    let sources: Vec<CoverageSource> = Vec::new();
    let now: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 12, 28, 6, 0, 0).unwrap();
    let ctx = ReportContext {
        org: &org,
        taxonomy: &knowledge.taxonomy,
        calendar: &calendar,
        settings: &settings,
        sources: &sources,
        health: &[],
        now,
    };
    let year = Period {
        from: Utc.with_ymd_and_hms(2025, 12, 28, 21, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2026, 12, 27, 21, 0, 0).unwrap(),
    };

    // The counting pass, best of three (the first also warms the caches for what follows).
    let mut baseline = f64::MAX;
    let mut counts: HashMap<(&str, &str), u32> = HashMap::new();
    for _ in 0..3 {
        let t = Instant::now();
        counts.clear();
        for i in &incidents {
            if year.contains(i.opened) {
                *counts
                    .entry((i.group.as_str(), super::territory_key(i)))
                    .or_default() += 1;
            }
        }
        baseline = baseline.min(secs(t));
        std::hint::black_box(&counts);
    }

    let t = Instant::now();
    let map = heatmap::compute(&incidents, year, &ctx);
    let html = doc::to_html(&heatmap::document(&map, &ctx));
    let heatmap_secs = secs(t);
    assert_eq!(map.total as usize, counts.values().sum::<u32>() as usize);

    let t = Instant::now();
    let r = ratings::compute(&incidents, year, &ctx);
    std::hint::black_box(&r);
    let ratings_secs = secs(t);

    let t = Instant::now();
    let week = super::parse_week("2026-W51", &calendar).map_err(anyhow::Error::msg)?;
    let note = weekly::compute(
        &incidents,
        week,
        &ctx,
        weekly::Reproducibility::new("bench", None, "otklik-bench reports"),
    );
    let docx = super::ooxml::docx(&weekly::document(&note, &ctx));
    let weekly_secs = secs(t);

    let (mut store_write, mut store_read) = (None, None);
    if with_store {
        let dir = tempfile_dir()?;
        let store = Store::open(&dir.join("store"))?;
        let t = Instant::now();
        for chunk in incidents.chunks(10_000) {
            let mut batch = WriteBatch::default();
            for i in chunk {
                batch.put_incident(i);
            }
            store.commit(batch)?;
        }
        store_write = Some(secs(t));
        let t = Instant::now();
        let read: Vec<Incident> = store
            .incidents_without_fingerprints()
            .collect::<Result<_, _>>()?;
        let map2 = heatmap::compute(&read, year, &ctx);
        store_read = Some(secs(t));
        assert_eq!(map2.total, map.total);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(ReportFigures {
        incidents: n,
        baseline_count_secs: baseline,
        heatmap_year_secs: heatmap_secs,
        heatmap_html_bytes: html.len(),
        ratings_year_secs: ratings_secs,
        weekly_secs,
        weekly_docx_bytes: docx.len(),
        store_write_secs: store_write,
        store_read_secs: store_read,
    })
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("otklik-bench-reports-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
