//! What `GET /api/v1/reports/{weekly|heatmap|ratings|export}` needs (the handler is in
//! `web::reports`, behind the same sign-in and roles as the pages): the running daemon holds
//! the store, and the CLI comes here when the store is locked.
//!
//! Query: `format` (as the CLI's `--format`), and either `week=2026-W47` or
//! `from`/`to` (a date or an RFC 3339 instant; a date `to` is inclusive), optional `now`
//! (RFC 3339) to judge overdue at another instant. Without a period: the last full week.
//!
//! The reports quote residents' posts: they are for the administrator, the coordinator and
//! the head (a user's session or token), and for the daemon's control token.

use super::service::{Format, ReportKind, ReportRequest};
use crate::config::Loaded;
use crate::store::Store;
use serde::Deserialize;
use std::sync::Arc;

/// What the report endpoints need.
#[derive(Clone)]
pub struct ReportsState {
    pub store: Store,
    pub loaded: Arc<Loaded>,
    pub clock: crate::time::Clock,
    /// SHA-256 of the control token; `None`: every request is refused.
    pub control_token_sha: Option<String>,
}

/// The query of a report request (also what the CLI sends).
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
pub struct ReportQuery {
    pub format: Option<Format>,
    pub week: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub now: Option<String>,
    /// Ratings: `owner` (default) or `territory`.
    pub by: Option<super::ratings::RatingBy>,
}

impl ReportQuery {
    /// The request this query asks for, judged at `now` unless it names another instant.
    pub fn request(
        &self,
        kind: ReportKind,
        loaded: &Loaded,
        now: chrono::DateTime<chrono::Utc>,
        command: String,
    ) -> Result<ReportRequest, String> {
        let cal = &loaded.calendar;
        let now = match &self.now {
            Some(t) => super::parse_instant(t, cal)?,
            None => now,
        };
        let period = match (&self.week, &self.from, &self.to) {
            (Some(w), None, None) => super::parse_week(w, cal)?,
            (Some(_), _, _) => return Err("give either a week or from/to, not both".into()),
            (None, None, None) => super::weekly::previous_week(now, cal),
            (None, from, to) => {
                let to = match to {
                    Some(t) => parse_end(t, cal)?,
                    None => now,
                };
                let from = match from {
                    Some(f) => super::parse_instant(f, cal)?,
                    None => return Err("`to` needs `from`".into()),
                };
                super::Period { from, to }
            }
        };
        Ok(ReportRequest {
            kind,
            format: self.format.unwrap_or(kind.formats()[0]),
            period,
            now,
            command,
            rating_by: self.by.unwrap_or_default(),
        })
    }
}

/// The end of a period: a date means the end of that day; an instant is taken as is.
pub fn parse_end(
    text: &str,
    cal: &crate::incidents::calendar::WorkCalendar,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        return Ok(cal.local_midnight(date + chrono::TimeDelta::days(1)));
    }
    super::parse_instant(text, cal)
}
