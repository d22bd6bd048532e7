//! The deadline policy: how long each stage of an incident may take.
//!
//! Defaults (ours, from the regional norms in `shared/domain/deadlines.md`): routing within 60
//! working minutes; first response within 8 working hours and never later than 24 calendar
//! hours; an urgent or resonant incident gets its first response within 4 calendar hours, day or
//! night; the final answer within 7 working days after an interim one. Every number can be
//! overridden per topic group (`[deadlines.groups.zhkh]`).

use super::calendar::WorkCalendar;
use super::clock::{ClockError, ResponseClock};
use crate::config::ConfigError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Deadlines: the `[deadlines]` section of `otklik.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlineSettings {
    /// Routing (moderation): a found message must reach the responsible body within this many
    /// working minutes.
    pub routing_working_minutes: u32,
    /// First response (accepted for work, or the solution) within this many working hours.
    pub first_response_working_hours: u32,
    /// …and never later than this many calendar hours, whatever the working hours say;
    /// 0 means no calendar cap.
    pub first_response_max_calendar_hours: u32,
    /// First response to an urgent or resonant incident (or a burst) within this many calendar
    /// hours, day or night, holidays included.
    pub urgent_calendar_hours: u32,
    /// Final answer within this many working days after an interim one: due at the close of the
    /// Nth working day after the day of the interim answer.
    pub final_answer_working_days: u32,
    /// Overrides per topic group id (as in the taxonomy), e.g.
    /// `[deadlines.groups.zhkh] first_response_working_hours = 4`.
    pub groups: BTreeMap<String, DeadlineOverrides>,
}

impl Default for DeadlineSettings {
    fn default() -> DeadlineSettings {
        DeadlineSettings {
            routing_working_minutes: 60,
            first_response_working_hours: 8,
            first_response_max_calendar_hours: 24,
            urgent_calendar_hours: 4,
            final_answer_working_days: 7,
            groups: BTreeMap::new(),
        }
    }
}

/// Deadlines of one topic group; what is left out is taken from `[deadlines]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlineOverrides {
    /// Overrides `routing_working_minutes`.
    pub routing_working_minutes: Option<u32>,
    /// Overrides `first_response_working_hours`.
    pub first_response_working_hours: Option<u32>,
    /// Overrides `first_response_max_calendar_hours` (0: no cap).
    pub first_response_max_calendar_hours: Option<u32>,
    /// Overrides `urgent_calendar_hours`.
    pub urgent_calendar_hours: Option<u32>,
    /// Overrides `final_answer_working_days`.
    pub final_answer_working_days: Option<u32>,
}

/// The deadlines that apply to one topic group, overrides resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupDeadlines {
    pub routing_working_minutes: u32,
    pub first_response_working_hours: u32,
    pub first_response_max_calendar_hours: u32,
    pub urgent_calendar_hours: u32,
    pub final_answer_working_days: u32,
}

impl DeadlineSettings {
    /// Checks the settings; `file` is where they came from, for the error message. Whether each
    /// group id exists in the taxonomy is for the caller to check (see [`Self::group_ids`]).
    pub fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        let check = |key: String, value: Option<u32>| match value {
            Some(0) => Err(ConfigError::new(
                file,
                key,
                "must be at least 1 (a zero deadline is always missed)",
            )),
            _ => Ok(()),
        };
        check(
            "deadlines.routing_working_minutes".into(),
            Some(self.routing_working_minutes),
        )?;
        check(
            "deadlines.first_response_working_hours".into(),
            Some(self.first_response_working_hours),
        )?;
        check(
            "deadlines.urgent_calendar_hours".into(),
            Some(self.urgent_calendar_hours),
        )?;
        check(
            "deadlines.final_answer_working_days".into(),
            Some(self.final_answer_working_days),
        )?;
        for (id, o) in &self.groups {
            let key = |name: &str| format!("deadlines.groups.{id}.{name}");
            check(key("routing_working_minutes"), o.routing_working_minutes)?;
            check(
                key("first_response_working_hours"),
                o.first_response_working_hours,
            )?;
            check(key("urgent_calendar_hours"), o.urgent_calendar_hours)?;
            check(
                key("final_answer_working_days"),
                o.final_answer_working_days,
            )?;
        }
        Ok(())
    }

    /// The topic group ids that have overrides.
    pub fn group_ids(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }

    /// The deadlines for a topic group (`None` or an unknown id: the general ones).
    pub fn for_group(&self, group: Option<&str>) -> GroupDeadlines {
        let o = group
            .and_then(|g| self.groups.get(g))
            .cloned()
            .unwrap_or_default();
        GroupDeadlines {
            routing_working_minutes: o
                .routing_working_minutes
                .unwrap_or(self.routing_working_minutes),
            first_response_working_hours: o
                .first_response_working_hours
                .unwrap_or(self.first_response_working_hours),
            first_response_max_calendar_hours: o
                .first_response_max_calendar_hours
                .unwrap_or(self.first_response_max_calendar_hours),
            urgent_calendar_hours: o
                .urgent_calendar_hours
                .unwrap_or(self.urgent_calendar_hours),
            final_answer_working_days: o
                .final_answer_working_days
                .unwrap_or(self.final_answer_working_days),
        }
    }
}

/// The deadline settings applied to a working calendar: computes when each stage is due.
#[derive(Clone, Debug)]
pub struct DeadlinePolicy {
    settings: DeadlineSettings,
    calendar: Arc<WorkCalendar>,
}

impl DeadlinePolicy {
    pub fn new(settings: DeadlineSettings, calendar: Arc<WorkCalendar>) -> DeadlinePolicy {
        DeadlinePolicy { settings, calendar }
    }

    pub fn settings(&self) -> &DeadlineSettings {
        &self.settings
    }

    pub fn calendar(&self) -> &WorkCalendar {
        &self.calendar
    }

    /// The clock for routing an incident opened at `opened`.
    pub fn routing_clock(
        &self,
        opened: DateTime<Utc>,
        group: Option<&str>,
    ) -> Result<ResponseClock, ClockError> {
        let d = self.settings.for_group(group);
        let due = self
            .calendar
            .add_working_minutes(opened, d.routing_working_minutes)?;
        Ok(ResponseClock::new(opened, Some(due), None))
    }

    /// When routing is due for an incident opened at `opened`.
    pub fn routing_due(
        &self,
        opened: DateTime<Utc>,
        group: Option<&str>,
    ) -> Result<DateTime<Utc>, ClockError> {
        Ok(self.routing_clock(opened, group)?.started_due())
    }

    /// The clock for the first response. An ordinary incident: the working-hours limit and the
    /// calendar cap, whichever comes first. An urgent one: the urgent calendar limit as well,
    /// so it is never later than an ordinary one would be.
    pub fn first_response_clock(
        &self,
        opened: DateTime<Utc>,
        urgent: bool,
        group: Option<&str>,
    ) -> Result<ResponseClock, ClockError> {
        let d = self.settings.for_group(group);
        let working = self
            .calendar
            .add_working_hours(opened, d.first_response_working_hours)?;
        let mut calendar = (d.first_response_max_calendar_hours > 0).then(|| {
            self.calendar
                .add_calendar_hours(opened, d.first_response_max_calendar_hours)
        });
        if urgent {
            let urgent_due = self
                .calendar
                .add_calendar_hours(opened, d.urgent_calendar_hours);
            calendar = Some(calendar.map_or(urgent_due, |c| c.min(urgent_due)));
        }
        Ok(ResponseClock::new(opened, Some(working), calendar))
    }

    /// When the first response is due for an incident opened at `opened`.
    pub fn first_response_due(
        &self,
        opened: DateTime<Utc>,
        urgent: bool,
        group: Option<&str>,
    ) -> Result<DateTime<Utc>, ClockError> {
        Ok(self
            .first_response_clock(opened, urgent, group)?
            .started_due())
    }

    /// The clock for the final answer after an interim answer given at `interim_at`.
    pub fn final_answer_clock(
        &self,
        interim_at: DateTime<Utc>,
        group: Option<&str>,
    ) -> Result<ResponseClock, ClockError> {
        let d = self.settings.for_group(group);
        let due = self
            .calendar
            .add_working_days(interim_at, d.final_answer_working_days)?;
        Ok(ResponseClock::new(interim_at, Some(due), None))
    }

    /// When the final answer is due after an interim answer given at `interim_at`.
    pub fn final_answer_due(
        &self,
        interim_at: DateTime<Utc>,
        group: Option<&str>,
    ) -> Result<DateTime<Utc>, ClockError> {
        Ok(self.final_answer_clock(interim_at, group)?.started_due())
    }
}

impl ResponseClock {
    /// The due time of a clock just made by the policy (running, with at least one limit).
    fn started_due(&self) -> DateTime<Utc> {
        self.due().expect("a new policy clock runs and has a limit")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_with_group_overrides() {
        let s: DeadlineSettings = toml::from_str(
            "first_response_working_hours = 9\n[groups.zhkh]\nfirst_response_working_hours = 4\n",
        )
        .unwrap();
        assert_eq!(s.for_group(None).first_response_working_hours, 9);
        assert_eq!(s.for_group(Some("zhkh")).first_response_working_hours, 4);
        assert_eq!(s.for_group(Some("zhkh")).routing_working_minutes, 60);
        assert_eq!(s.for_group(Some("dorogi")).first_response_working_hours, 9);
        assert!(toml::from_str::<DeadlineSettings>("first_answer = 3").is_err());
        assert!(toml::from_str::<DeadlineSettings>("[groups.zhkh]\nfoo = 3").is_err());
    }

    #[test]
    fn zero_deadline_is_rejected_with_key() {
        let mut s = DeadlineSettings::default();
        s.groups.insert(
            "zhkh".into(),
            DeadlineOverrides {
                final_answer_working_days: Some(0),
                ..Default::default()
            },
        );
        let err = s.validate(Path::new("otklik.toml")).unwrap_err();
        assert_eq!(err.key, "deadlines.groups.zhkh.final_answer_working_days");
        assert!(DeadlineSettings::default().validate(Path::new("x")).is_ok());
    }
}
