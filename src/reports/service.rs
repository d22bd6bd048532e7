//! One entry point for every report in every format, shared by the CLI, the HTTP API and
//! the daemon's weekly task: a request in, bytes and a content type out.

use super::coverage::CoverageSource;
use super::{Period, ReportContext, doc, export, heatmap, ratings, weekly};
use crate::config::Loaded;
use crate::store::{Incident, SourceHealth, Store};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    Weekly,
    Heatmap,
    Ratings,
    Export,
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Html,
    Md,
    Docx,
    Json,
    Csv,
    Xlsx,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Md => "text/markdown; charset=utf-8",
            Format::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Md => "md",
            Format::Docx => "docx",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

impl ReportKind {
    /// The formats a report comes in; the first is the default.
    pub fn formats(self) -> &'static [Format] {
        match self {
            ReportKind::Weekly => &[Format::Html, Format::Docx, Format::Md, Format::Json],
            ReportKind::Heatmap => &[Format::Html, Format::Json, Format::Csv],
            ReportKind::Ratings => &[Format::Html, Format::Md, Format::Json, Format::Csv],
            ReportKind::Export => &[Format::Csv, Format::Xlsx, Format::Json],
        }
    }
}

/// What to compute.
#[derive(Clone, Debug)]
pub struct ReportRequest {
    pub kind: ReportKind,
    pub format: Format,
    pub period: Period,
    /// What "overdue" is judged against.
    pub now: DateTime<Utc>,
    /// How the report was asked for, recorded in the weekly note.
    pub command: String,
    /// Rows of the ratings.
    pub rating_by: ratings::RatingBy,
}

/// A rendered report.
pub struct Rendered {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// A request the report cannot serve.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

/// SHA-256 of the configuration file's text, when it can be read.
pub(crate) fn config_digest(loaded: &Loaded) -> Option<String> {
    use sha2::Digest;
    let text = std::fs::read(&loaded.path).ok()?;
    Some(
        sha2::Sha256::digest(&text)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Compute and render a report from incidents and source health already read.
pub fn render(
    loaded: &Loaded,
    incidents: &[Incident],
    health: &[SourceHealth],
    request: &ReportRequest,
) -> Result<Rendered, BadRequest> {
    if !request.kind.formats().contains(&request.format) {
        return Err(BadRequest(format!(
            "the {:?} report comes as {}, not {:?}",
            request.kind,
            request
                .kind
                .formats()
                .iter()
                .map(|f| f.extension())
                .collect::<Vec<_>>()
                .join(", "),
            request.format
        )));
    }
    if request.period.to <= request.period.from {
        return Err(BadRequest("the period ends before it begins".into()));
    }
    let sources = CoverageSource::from_settings(&loaded.settings);
    let ctx = ReportContext {
        org: &loaded.org,
        taxonomy: &loaded.knowledge.taxonomy,
        calendar: &loaded.calendar,
        settings: &loaded.settings.reports,
        sources: &sources,
        health,
        now: request.now,
    };
    let json = |v: &dyn erased::Json| v.to_json();
    let text = |s: String| s.into_bytes();
    let bytes = match request.kind {
        ReportKind::Heatmap => {
            let map = heatmap::compute(incidents, request.period, &ctx);
            match request.format {
                Format::Json => json(&map),
                Format::Csv => text(heatmap::to_csv(&map, &ctx)),
                _ => text(doc::to_html(&heatmap::document(&map, &ctx))),
            }
        }
        ReportKind::Ratings => {
            let r = ratings::compute_by(incidents, request.period, &ctx, request.rating_by);
            match request.format {
                Format::Json => json(&r),
                Format::Csv => text(ratings::to_csv(&r)),
                Format::Md => text(doc::to_markdown(&ratings::document(&r, &ctx))),
                _ => text(doc::to_html(&ratings::document(&r, &ctx))),
            }
        }
        ReportKind::Weekly => {
            let repro = weekly::Reproducibility::new(
                &loaded.path.display().to_string(),
                config_digest(loaded),
                &request.command,
            );
            let note = weekly::compute(incidents, request.period, &ctx, repro);
            match request.format {
                Format::Json => json(&note),
                Format::Md => text(doc::to_markdown(&weekly::document(&note, &ctx))),
                Format::Docx => super::ooxml::docx(&weekly::document(&note, &ctx)),
                _ => text(doc::to_html(&weekly::document(&note, &ctx))),
            }
        }
        ReportKind::Export => {
            let rows = export::rows(incidents, request.period, &ctx);
            match request.format {
                Format::Xlsx => export::to_xlsx(&rows),
                Format::Json => {
                    let objects: Vec<serde_json::Map<String, serde_json::Value>> = rows
                        .into_iter()
                        .map(|row| {
                            export::COLUMNS
                                .iter()
                                .zip(row)
                                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
                                .collect()
                        })
                        .collect();
                    json(&objects)
                }
                _ => text(export::to_csv(rows)),
            }
        }
    };
    Ok(Rendered {
        content_type: request.format.content_type(),
        bytes,
    })
}

/// Read what a report needs from the store and render it.
pub fn from_store(
    store: &Store,
    loaded: &Loaded,
    request: &ReportRequest,
) -> anyhow::Result<Rendered> {
    let mut incidents = Vec::new();
    for incident in store.incidents_without_fingerprints() {
        let incident = incident?;
        if needed(&incident, request, &loaded.settings.reports) {
            incidents.push(incident);
        }
    }
    let health = store.all_health()?;
    Ok(render(loaded, &incidents, &health, request)?)
}

/// Whether a report can use an incident at all: keeps a year of a region's queue out of
/// memory when a week is asked for. (The figures are the same with or without this filter.)
pub fn needed(i: &Incident, request: &ReportRequest, settings: &super::ReportSettings) -> bool {
    let p = request.period;
    match request.kind {
        ReportKind::Heatmap => i.opened >= p.previous().from && i.opened < p.to,
        ReportKind::Ratings => p.contains(i.opened),
        ReportKind::Export => p.contains(i.created),
        ReportKind::Weekly => {
            let baseline_from = p.from - p.length() * settings.baseline_weeks as i32;
            (i.opened >= baseline_from && i.opened < p.to)
                || i.status.is_open()
                || i.milestones.closed_at.is_some_and(|t| p.contains(t))
                || p.contains(i.last_mention)
        }
    }
}

/// JSON for any serializable report without making `render` generic per branch.
mod erased {
    pub trait Json {
        fn to_json(&self) -> Vec<u8>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> Vec<u8> {
            let mut out = serde_json::to_vec_pretty(self).expect("reports serialize to JSON");
            out.push(b'\n');
            out
        }
    }
}
