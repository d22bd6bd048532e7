//! Escalation: at configured points of a response clock, tell the executor, then the head of
//! the owner, then the centre's head, then the curator.
//!
//! A step fires either when a share of the stage's time has passed (`elapsed_percent = 50`:
//! half the time left; `100`: due) or some hours after the due time (`overdue_hours`, counted
//! in working hours — calendar hours for an urgent incident, whose clock runs day and night).
//! The steps of a stage fire in order, each once; the next one is armed as a timer in the
//! store, so a restart neither loses nor repeats one (invariant 5).

use super::calendar::WorkCalendar;
use super::clock::ClockError;
use crate::config::ConfigError;
use crate::store::{AlertKind, Stage, StageClock};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One `[[escalation]]` step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    /// Fire when this share of the stage's time has passed, percent (1–100).
    #[serde(default)]
    pub elapsed_percent: Option<u32>,
    /// Fire this many hours after the due time (working hours; calendar hours for urgent
    /// incidents).
    #[serde(default)]
    pub overdue_hours: Option<u32>,
    /// Roles to tell: `executor` and `head` (of the incident's owner; for an incident still
    /// in moderation, `im-coordinator` and `mcu-head`), or `im-coordinator`, `mcu-head`,
    /// `curator`.
    pub notify: Vec<String>,
    /// Stages it applies to (`routing`, `first_response`, `final_answer`); empty: all.
    #[serde(default)]
    pub stages: Vec<Stage>,
}

/// The `[[escalation]]` steps of `otklik.toml`; the defaults of [`default_steps`] when none
/// are given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EscalationSettings(pub Vec<EscalationStep>);

impl Default for EscalationSettings {
    fn default() -> EscalationSettings {
        EscalationSettings(default_steps())
    }
}

/// Roles a step may name besides the fixed ones.
pub const RELATIVE_ROLES: [&str; 2] = ["executor", "head"];

/// The default steps: a reminder to the executor at half time, the executor and the head at
/// the deadline, the centre's head four working hours later, the curator a working day later.
pub fn default_steps() -> Vec<EscalationStep> {
    let step = |percent: Option<u32>, overdue: Option<u32>, notify: &[&str]| EscalationStep {
        elapsed_percent: percent,
        overdue_hours: overdue,
        notify: notify.iter().map(|s| s.to_string()).collect(),
        stages: Vec::new(),
    };
    vec![
        step(Some(50), None, &["executor"]),
        step(Some(100), None, &["executor", "head"]),
        step(None, Some(4), &["mcu-head"]),
        step(None, Some(8), &["curator"]),
    ]
}

/// Checks the steps: each has exactly one trigger, known roles, and they come in time order.
pub fn validate(steps: &[EscalationStep], file: &Path) -> Result<(), ConfigError> {
    let mut last: Option<(u32, u32)> = None;
    for (i, s) in steps.iter().enumerate() {
        let key = |k: &str| format!("escalation[{i}].{k}");
        let order = match (s.elapsed_percent, s.overdue_hours) {
            (Some(p), None) if (1..=100).contains(&p) => (0, p),
            (Some(_), None) => {
                return Err(ConfigError::new(
                    file,
                    key("elapsed_percent"),
                    "must be between 1 and 100",
                ));
            }
            (None, Some(h)) => (1, h),
            _ => {
                return Err(ConfigError::new(
                    file,
                    format!("escalation[{i}]"),
                    "give exactly one of elapsed_percent or overdue_hours",
                ));
            }
        };
        if last.is_some_and(|l| order < l) {
            return Err(ConfigError::new(
                file,
                format!("escalation[{i}]"),
                "steps must come in time order: elapsed_percent ascending, then overdue_hours ascending",
            ));
        }
        last = Some(order);
        if s.notify.is_empty() {
            return Err(ConfigError::new(
                file,
                key("notify"),
                "name at least one role to tell",
            ));
        }
        for (j, role) in s.notify.iter().enumerate() {
            let known = RELATIVE_ROLES.contains(&role.as_str())
                || ["im-coordinator", "mcu-head", "curator", "pos-coordinator"]
                    .contains(&role.as_str());
            if !known {
                return Err(ConfigError::new(
                    file,
                    format!("escalation[{i}].notify[{j}]"),
                    format!(
                        "unknown role `{role}`; expected executor, head, im-coordinator, mcu-head, curator or pos-coordinator"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The steps that apply to a stage, in order.
pub fn steps_for(steps: &[EscalationStep], stage: Stage) -> Vec<&EscalationStep> {
    steps
        .iter()
        .filter(|s| s.stages.is_empty() || s.stages.contains(&stage))
        .collect()
}

/// What kind of alert a step sends.
pub fn alert_kind(step: &EscalationStep) -> AlertKind {
    match (step.elapsed_percent, step.overdue_hours) {
        (Some(p), _) if p < 100 => AlertKind::Reminder,
        (Some(_), _) => AlertKind::Overdue,
        _ => AlertKind::Escalation,
    }
}

/// When `step` fires for a running clock; `None` while the clock is paused or has no limit.
pub fn fire_time(
    step: &EscalationStep,
    clock: &StageClock,
    urgent: bool,
    cal: &WorkCalendar,
) -> Result<Option<DateTime<Utc>>, ClockError> {
    let c = &clock.clock;
    let Some(due) = c.due() else {
        return Ok(None);
    };
    if let Some(hours) = step.overdue_hours {
        return Ok(Some(if urgent || c.working_due.is_none() {
            due + TimeDelta::hours(hours.into())
        } else {
            cal.add_working_hours(due, hours)?
        }));
    }
    let percent = i64::from(step.elapsed_percent.unwrap_or(100));
    if percent >= 100 {
        return Ok(Some(due));
    }
    let mut at: Option<DateTime<Utc>> = None;
    if let Some(working_due) = c.working_due {
        let total = cal.working_time_between(c.started, working_due)?;
        let part = TimeDelta::seconds(total.num_seconds() * percent / 100);
        at = Some(cal.add_working(c.started, part)?);
    }
    if let Some(calendar_due) = c.calendar_due {
        let part = TimeDelta::seconds((calendar_due - c.started).num_seconds() * percent / 100);
        let t = c.started + part;
        at = Some(at.map_or(t, |a| a.min(t)));
    }
    // A point before the clock's own start (a clock resumed late) fires at once.
    Ok(at.map(|a| a.min(due)))
}

/// The next step of a clock to fire, with its time: the first unfired step.
pub fn next_timer<'a>(
    steps: &'a [EscalationStep],
    clock: &StageClock,
    urgent: bool,
    cal: &WorkCalendar,
) -> Result<Option<(DateTime<Utc>, &'a EscalationStep)>, ClockError> {
    let applicable = steps_for(steps, clock.stage);
    let Some(step) = applicable.get(usize::from(clock.escalations)) else {
        return Ok(None);
    };
    Ok(fire_time(step, clock, urgent, cal)?.map(|t| (t, *step)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::clock::{ResponseClock, parse_time};

    fn clock(cal: &WorkCalendar, from: &str, working_hours: u32) -> StageClock {
        let started = parse_time(from, cal).unwrap();
        let due = cal.add_working_hours(started, working_hours).unwrap();
        StageClock {
            stage: Stage::FirstResponse,
            clock: ResponseClock::new(started, Some(due), None),
            escalations: 0,
            timer: None,
        }
    }

    #[test]
    fn half_time_due_and_overdue_points_on_working_time() {
        let cal = WorkCalendar::embedded();
        let steps = default_steps();
        // Tuesday 24 November 2026, 16:00: 1:15 to the 17:15 close, then Wednesday 08:00–12:00
        // and 13:00–15:45 make 8 working hours; half of them (4:00) is Wednesday 10:45.
        let mut c = clock(&cal, "2026-11-24 16:00", 8);
        let t = |s: &str| parse_time(s, &cal).unwrap();
        assert_eq!(c.clock.due(), Some(t("2026-11-25 15:45")));
        let (at, _) = next_timer(&steps, &c, false, &cal).unwrap().unwrap();
        assert_eq!(at, t("2026-11-25 10:45"));
        c.escalations = 1;
        assert_eq!(
            next_timer(&steps, &c, false, &cal).unwrap().unwrap().0,
            t("2026-11-25 15:45")
        );
        c.escalations = 2;
        // Four working hours after 15:45 Wednesday: 1:30 to the close, Thursday 08:00 + 2:30.
        assert_eq!(
            next_timer(&steps, &c, false, &cal).unwrap().unwrap().0,
            t("2026-11-26 10:30")
        );
        // Urgent: four calendar hours after the deadline.
        assert_eq!(
            next_timer(&steps, &c, true, &cal).unwrap().unwrap().0,
            t("2026-11-25 19:45")
        );
        c.escalations = 4;
        assert!(next_timer(&steps, &c, false, &cal).unwrap().is_none());
    }

    #[test]
    fn paused_clock_arms_nothing() {
        let cal = WorkCalendar::embedded();
        let mut c = clock(&cal, "2026-11-24 09:00", 8);
        c.clock
            .pause(parse_time("2026-11-24 10:00", &cal).unwrap())
            .unwrap();
        assert!(
            next_timer(&default_steps(), &c, false, &cal)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn steps_are_validated_with_their_key() {
        let f = Path::new("otklik.toml");
        assert!(validate(&default_steps(), f).is_ok());
        let mut s = default_steps();
        s.swap(0, 1);
        assert_eq!(validate(&s, f).unwrap_err().key, "escalation[1]");
        let mut s = default_steps();
        s[2].notify = vec!["mayor".into()];
        assert_eq!(validate(&s, f).unwrap_err().key, "escalation[2].notify[0]");
        let mut s = default_steps();
        s[0].overdue_hours = Some(1);
        assert_eq!(validate(&s, f).unwrap_err().key, "escalation[0]");
    }
}
