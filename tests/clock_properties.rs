//! Properties of working-time arithmetic over the whole of 2026 (embedded calendar).
//!
//! Starts are drawn from 1 Jan to 30 Nov 2026 at any second, amounts up to ten working days,
//! so no computation leaves the loaded year.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use otklik::incidents::calendar::WorkCalendar;
use otklik::incidents::clock::ResponseClock;
use proptest::prelude::*;
use std::sync::LazyLock;

static CAL: LazyLock<WorkCalendar> = LazyLock::new(WorkCalendar::embedded);

fn start() -> impl Strategy<Value = DateTime<Utc>> {
    // 2025-12-31 21:00 UTC is 2026-01-01 00:00 in Moscow; 334 days later is 30 Nov.
    let origin = Utc.with_ymd_and_hms(2025, 12, 31, 21, 0, 0).unwrap();
    (0i64..334 * 86_400).prop_map(move |s| origin + TimeDelta::seconds(s))
}

fn minutes() -> impl Strategy<Value = u32> {
    1u32..=10 * 8 * 60
}

/// Working time, or exactly the closing instant of a period (the documented convention).
fn working_or_period_end(t: DateTime<Utc>) -> bool {
    CAL.is_working_time(t).unwrap()
        || CAL
            .periods(CAL.local_date(t))
            .unwrap()
            .iter()
            .any(|(_, end)| *end == t)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn working_deadline_is_never_in_non_working_time(from in start(), n in minutes()) {
        let due = CAL.add_working_minutes(from, n).unwrap();
        prop_assert!(due > from);
        prop_assert!(working_or_period_end(due), "{from} + {n} min = {due}");
    }

    #[test]
    fn counted_time_is_exactly_the_amount(from in start(), n in minutes()) {
        let due = CAL.add_working_minutes(from, n).unwrap();
        prop_assert_eq!(
            CAL.working_time_between(from, due).unwrap(),
            TimeDelta::minutes(i64::from(n))
        );
        // …and `due` is the earliest such instant.
        prop_assert!(
            CAL.working_time_between(from, due - TimeDelta::seconds(1)).unwrap()
                < TimeDelta::minutes(i64::from(n))
        );
    }

    #[test]
    fn more_time_never_gives_an_earlier_deadline(
        from in start(), n in minutes(), extra in 0u32..600, later in 0i64..200_000
    ) {
        let due = CAL.add_working_minutes(from, n).unwrap();
        prop_assert!(CAL.add_working_minutes(from, n + extra).unwrap() >= due);
        let later_from = from + TimeDelta::seconds(later);
        prop_assert!(CAL.add_working_minutes(later_from, n).unwrap() >= due);
    }

    #[test]
    fn adding_in_two_steps_is_adding_once(from in start(), a in minutes(), b in minutes()) {
        let once = CAL.add_working_minutes(from, a + b).unwrap();
        let mid = CAL.add_working_minutes(from, a).unwrap();
        prop_assert_eq!(CAL.add_working_minutes(mid, b).unwrap(), once);
    }

    #[test]
    fn working_days_end_at_a_close_and_grow(from in start(), n in 0u32..10) {
        let due = CAL.add_working_days(from, n).unwrap();
        prop_assert!(due > from);
        let periods = CAL.periods(CAL.local_date(due)).unwrap();
        prop_assert_eq!(periods.last().map(|(_, end)| *end), Some(due));
        // Zero days at or after a close already means the next working day, same as one day.
        let next = CAL.add_working_days(from, n + 1).unwrap();
        prop_assert!(next > due || (n == 0 && next == due));
        // Exactly n working days lie strictly between the date of `from` and the due date.
        let mut date = CAL.local_date(from).succ_opt().unwrap();
        let mut count = 0;
        while date < CAL.local_date(due) {
            count += u32::from(CAL.is_working_day(date).unwrap());
            date = date.succ_opt().unwrap();
        }
        prop_assert_eq!(count + 1, n.max(1));
    }

    #[test]
    fn pause_moves_due_by_exactly_the_working_time_paused(
        from in start(), n in minutes(), pause_at in 0i64..200_000, pause_len in 0i64..400_000
    ) {
        let due = CAL.add_working_minutes(from, n).unwrap();
        let mut clock = ResponseClock::new(from, Some(due), None);
        let paused = from + TimeDelta::seconds(pause_at);
        let resumed = paused + TimeDelta::seconds(pause_len);
        clock.pause(paused).unwrap();
        clock.resume(resumed, &CAL).unwrap();
        let new_due = clock.due().unwrap();
        if paused < due {
            // The working time that was left at the pause is what is left at the resumption.
            let left = CAL.working_time_between(paused, due).unwrap();
            prop_assert_eq!(CAL.add_working(resumed, left).unwrap(), new_due);
            prop_assert!(new_due >= due);
        } else {
            prop_assert_eq!(new_due, due);
        }
    }
}
