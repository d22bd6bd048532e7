//! "No complaints from X" or "no data from X": which territories the sources covered in a
//! period.
//!
//! A source covers the territory of its configuration (`territory = "shopsha"`); a source
//! with `territory = "district"` or none (searches, feeds of the whole district) covers every
//! territory. A source is *silent* for a period when its health record says it has not
//! succeeded since before the period began (never polled, failing, disabled), or when it is
//! disabled in the configuration. A territory has:
//! - **no data** when every source covering it was silent, or when none covers it;
//! - **partial** data when some were silent, or a covering source is failing now;
//! - otherwise **ok**.
//!
//! The health record keeps only the latest state, so an outage inside a past period that
//! has since recovered is not seen; the note says so.

use super::Period;
use crate::config::Settings;
use crate::sources::HealthState;
use crate::store::SourceHealth;
use serde::Serialize;

/// A configured source and the territory it covers (`None`: the whole district).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoverageSource {
    pub name: String,
    pub territory: Option<String>,
    pub enabled: bool,
}

impl CoverageSource {
    fn covers(&self, territory: &str) -> bool {
        match self.territory.as_deref() {
            None | Some("district") => true,
            Some(t) => t == territory,
        }
    }

    /// Every source of a configuration.
    pub fn from_settings(settings: &Settings) -> Vec<CoverageSource> {
        let s = &settings.sources;
        let mut out = Vec::new();
        let mut add = |name: &str, territory: &Option<String>, enabled: bool| {
            out.push(CoverageSource {
                name: name.to_string(),
                territory: territory.clone(),
                enabled,
            })
        };
        for c in &s.rss {
            add(&c.name, &c.territory, c.enabled);
        }
        for c in &s.telegram {
            add(&c.name, &c.territory, c.enabled);
        }
        for g in s.ok.iter().flat_map(|ok| ok.groups.iter()) {
            add(&g.name, &g.territory, g.enabled);
        }
        for c in &s.vk.communities {
            add(&c.name, &c.territory, c.enabled);
        }
        for c in &s.vk.searches {
            add(&c.name, &c.territory, c.enabled);
        }
        for c in &settings.api.ingest {
            add(&c.name, &c.territory, true);
        }
        out
    }
}

/// How well a territory was covered in a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageState {
    Ok,
    Partial,
    /// Every source covering it was silent.
    NoData,
    /// No configured source covers it at all.
    NoSources,
}

impl CoverageState {
    pub fn label_ru(self) -> &'static str {
        match self {
            CoverageState::Ok => "источники работали",
            CoverageState::Partial => "данные неполные: часть источников не работала",
            CoverageState::NoData => "нет данных: источники не работали",
            CoverageState::NoSources => "нет данных: территория не охвачена источниками",
        }
    }

    /// Nothing was heard from the territory: its silence says nothing about its problems.
    pub fn is_blind(self) -> bool {
        matches!(self, CoverageState::NoData | CoverageState::NoSources)
    }
}

/// The coverage of one territory in a period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TerritoryCoverage {
    pub territory: String,
    pub state: CoverageState,
    /// Covering sources that delivered.
    pub working: Vec<String>,
    /// Covering sources that were silent, failing or disabled.
    pub silent: Vec<String>,
}

/// Whether `source` delivered in `period`, by its health record.
fn delivered(source: &CoverageSource, health: &[SourceHealth], period: &Period) -> (bool, bool) {
    if !source.enabled {
        return (false, false);
    }
    let Some(h) = health.iter().find(|h| h.source == source.name) else {
        return (false, false);
    };
    let since_start = h.last_success.is_some_and(|t| t >= period.from);
    let failing_now = matches!(h.state, HealthState::Failing | HealthState::Disabled);
    (since_start, failing_now)
}

/// The coverage of each of `territories` in `period`.
pub fn coverage(
    territories: &[String],
    sources: &[CoverageSource],
    health: &[SourceHealth],
    period: &Period,
) -> Vec<TerritoryCoverage> {
    territories
        .iter()
        .map(|t| {
            let mut working = Vec::new();
            let mut silent = Vec::new();
            let mut failing = false;
            for s in sources.iter().filter(|s| s.covers(t)) {
                let (ok, failing_now) = delivered(s, health, period);
                failing |= failing_now;
                if ok {
                    working.push(s.name.clone());
                } else {
                    silent.push(s.name.clone());
                }
            }
            let state = if working.is_empty() && silent.is_empty() {
                CoverageState::NoSources
            } else if working.is_empty() {
                CoverageState::NoData
            } else if !silent.is_empty() || failing {
                CoverageState::Partial
            } else {
                CoverageState::Ok
            };
            TerritoryCoverage {
                territory: t.clone(),
                state,
                working,
                silent,
            }
        })
        .collect()
}

/// A territory with incidents in the period plainly had data: at worst it was partly
/// covered.
pub fn with_incidents(coverage: &mut [TerritoryCoverage], has_incidents: impl Fn(&str) -> bool) {
    for c in coverage {
        if c.state.is_blind() && has_incidents(&c.territory) {
            c.state = CoverageState::Partial;
        }
    }
}
