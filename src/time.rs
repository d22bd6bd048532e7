//! What time it is for the daemon.
//!
//! The system clock in production. Tests and the demo may shift and speed it up with
//! `OTKLIK_CLOCK=START[@ANCHOR][xSPEED]`: the daemon's time is `START` at the real Unix time
//! `ANCHOR` (default: when the process started) and runs `SPEED` times faster (default 1).
//! So a restart test passes the same value to both runs and the clock goes on where it was;
//! the demo shows a working day of deadlines in minutes. Nothing else changes with it.

use chrono::{DateTime, TimeDelta, Utc};

/// The environment variable that shifts the clock (tests and demos only).
pub const CLOCK_ENV: &str = "OTKLIK_CLOCK";

/// A clock: the system's, or a shifted and scaled one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clock {
    shift: Option<Shift>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Shift {
    start: DateTime<Utc>,
    anchor: DateTime<Utc>,
    speed: f64,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl Clock {
    pub fn system() -> Clock {
        Clock { shift: None }
    }

    /// A clock that reads `start` now and runs `speed` times faster than real time.
    pub fn shifted(start: DateTime<Utc>, speed: f64) -> Clock {
        Clock {
            shift: Some(Shift {
                start,
                anchor: Utc::now(),
                speed,
            }),
        }
    }

    /// A clock stopped at `at` (tests).
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock {
            shift: Some(Shift {
                start: at,
                anchor: Utc::now(),
                speed: 0.0,
            }),
        }
    }

    /// The clock `OTKLIK_CLOCK` asks for, or the system clock when it is not set.
    pub fn from_env() -> Result<Clock, String> {
        match std::env::var(CLOCK_ENV) {
            Ok(value) if !value.trim().is_empty() => Clock::parse(value.trim()),
            _ => Ok(Clock::system()),
        }
    }

    /// Reads `START[@ANCHOR][xSPEED]` (RFC 3339 start, anchor in Unix seconds).
    pub fn parse(value: &str) -> Result<Clock, String> {
        let bad = || {
            format!(
                "{CLOCK_ENV}={value}: expected START[@ANCHOR][xSPEED], e.g. 2026-11-24T09:00:00+03:00@1795500000x60"
            )
        };
        let (rest, speed) = match value.rsplit_once('x') {
            Some((rest, speed)) if !speed.contains(':') => {
                (rest, speed.parse::<f64>().map_err(|_| bad())?)
            }
            _ => (value, 1.0),
        };
        if !(speed.is_finite() && speed > 0.0) {
            return Err(bad());
        }
        let (start, anchor) = match rest.split_once('@') {
            Some((start, anchor)) => {
                let secs = anchor.parse::<i64>().map_err(|_| bad())?;
                (
                    start,
                    DateTime::<Utc>::from_timestamp(secs, 0).ok_or_else(bad)?,
                )
            }
            None => (rest, Utc::now()),
        };
        let start = DateTime::parse_from_rfc3339(start)
            .map_err(|_| bad())?
            .with_timezone(&Utc);
        Ok(Clock {
            shift: Some(Shift {
                start,
                anchor,
                speed,
            }),
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self.shift {
            None => Utc::now(),
            Some(s) => {
                let real = (Utc::now() - s.anchor).num_milliseconds() as f64;
                s.start + TimeDelta::milliseconds((real * s.speed) as i64)
            }
        }
    }

    /// How long to sleep in real time until the clock reads `at`.
    pub fn real_wait_until(&self, at: DateTime<Utc>) -> std::time::Duration {
        let ahead = (at - self.now()).num_milliseconds().max(0) as f64;
        let speed = self.shift.map_or(1.0, |s| s.speed);
        if speed <= 0.0 {
            // A stopped clock never gets there: look again later.
            return std::time::Duration::from_secs(3600);
        }
        std::time::Duration::from_millis((ahead / speed).ceil() as u64)
    }
}

/// An instant as links and query strings carry it: `2026-11-15T21:00:00Z`.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Serialize an instant exactly as chrono's `Serialize` does (RFC 3339, `Z`, the fraction in
/// 3, 6 or 9 digits or none), without its formatting machinery: a stored post has two of
/// them, and chrono's way took about a tenth of the store thread's JSON work. Years outside
/// 0–9999 and leap seconds go to chrono.
pub fn serialize_instant<S: serde::Serializer>(
    t: &chrono::DateTime<chrono::Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    let nano = t.nanosecond();
    if !(0..=9999).contains(&year) || nano >= 1_000_000_000 {
        return serde::Serialize::serialize(t, serializer);
    }
    let fraction = if nano == 0 {
        None
    } else if nano.is_multiple_of(1_000_000) {
        Some((nano / 1_000_000, 3))
    } else if nano.is_multiple_of(1_000) {
        Some((nano / 1_000, 6))
    } else {
        Some((nano, 9))
    };
    // YYYY-MM-DDTHH:MM:SS[.fff[fff[fff]]]Z
    let mut text = [0u8; 30];
    let mut len = 0;
    let mut put = |value: u32, width: u32, then: u8| {
        for i in (0..width).rev() {
            text[len] = b'0' + (value / 10u32.pow(i) % 10) as u8;
            len += 1;
        }
        text[len] = then;
        len += 1;
    };
    put(year as u32, 4, b'-');
    put(t.month(), 2, b'-');
    put(t.day(), 2, b'T');
    put(t.hour(), 2, b':');
    put(t.minute(), 2, b':');
    match fraction {
        None => put(t.second(), 2, b'Z'),
        Some((value, width)) => {
            put(t.second(), 2, b'.');
            put(value, width, b'Z');
        }
    }
    serializer.serialize_str(std::str::from_utf8(&text[..len]).expect("ASCII digits"))
}

/// A moment given on the command line: a date (`2026-11-20`, midnight in Moscow) or an RFC 3339
/// instant.
pub fn parse_moment(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("expected a date like 2026-11-20 or an RFC 3339 time, found `{s}`"))?;
    let local = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    use chrono::TimeZone;
    chrono_tz::Europe::Moscow
        .from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or_else(|| format!("`{s}` is not a valid local date"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_start_anchor_and_speed() {
        let c = Clock::parse("2026-11-24T09:00:00+03:00@0x60").unwrap();
        let s = c.shift.unwrap();
        assert_eq!(s.start.to_rfc3339(), "2026-11-24T06:00:00+00:00");
        assert_eq!(s.anchor.timestamp(), 0);
        assert_eq!(s.speed, 60.0);
        let c = Clock::parse("2026-11-24T09:00:00Z").unwrap();
        assert_eq!(c.shift.unwrap().speed, 1.0);
        assert!(c.now() >= "2026-11-24T09:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert!(Clock::parse("tomorrow").is_err());
        assert!(Clock::parse("2026-11-24T09:00:00Zx0").is_err());
    }

    #[test]
    fn waits_are_scaled() {
        let c = Clock::shifted("2026-11-24T09:00:00Z".parse().unwrap(), 60.0);
        let wait = c.real_wait_until(c.now() + TimeDelta::minutes(60));
        assert!(wait <= std::time::Duration::from_secs(60), "{wait:?}");
        assert!(wait >= std::time::Duration::from_secs(59), "{wait:?}");
    }

    #[test]
    fn instants_serialize_exactly_as_chrono_does() {
        #[derive(serde::Serialize)]
        struct Fast(#[serde(serialize_with = "super::serialize_instant")] DateTime<Utc>);
        let mut rng = fastrand::Rng::with_seed(7);
        let mut instants: Vec<DateTime<Utc>> = (0..20_000)
            .map(|i| {
                let nanos = match i % 4 {
                    0 => 0,
                    1 => rng.u32(0..1000) * 1_000_000,
                    2 => rng.u32(0..1_000_000) * 1000,
                    _ => rng.u32(0..1_000_000_000),
                };
                DateTime::from_timestamp(rng.i64(-62_167_219_200..253_402_300_800), nanos).unwrap()
            })
            .collect();
        let edge = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        instants.extend([
            edge("0000-01-01T00:00:00Z"),
            edge("9999-12-31T23:59:59.999999999Z"),
            edge("-0001-12-31T23:59:59Z"),
            edge("+10000-01-01T00:00:00Z"),
            // A leap second: chrono keeps it in the nanoseconds.
            edge("2016-12-31T23:59:60.5Z"),
        ]);
        for t in instants {
            assert_eq!(
                serde_json::to_string(&Fast(t)).unwrap(),
                serde_json::to_string(&t).unwrap()
            );
        }
    }
}
