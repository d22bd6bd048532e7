//! Bursts: many different people writing about one kind of problem in one territory within a
//! few hours, against how often that pair is usually written about. A burst makes an incident
//! resonant.
//!
//! Pure state, no clock of its own: the caller passes the time of each post, so the same
//! detector works live and in replays.

use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, VecDeque};

/// Settings of a [`BurstDetector`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurstSettings {
    /// Length of the window in which authors are counted.
    pub window: Duration,
    /// Fewest distinct authors in the window for a burst, whatever the usual rate.
    pub min_authors: usize,
    /// How many times the usual number of authors per window makes a burst.
    pub factor: f64,
    /// How long the usual rate remembers: the weight of the past halves over this time.
    pub half_life: Duration,
}

impl Default for BurstSettings {
    fn default() -> BurstSettings {
        BurstSettings {
            window: Duration::hours(6),
            min_authors: 4,
            factor: 3.0,
            half_life: Duration::days(14),
        }
    }
}

#[derive(Debug, Default)]
struct PairState {
    /// Posts in the window: (time, author hash), oldest first.
    recent: VecDeque<(DateTime<Utc>, u64)>,
    /// Decayed count of posts seen before the window.
    history: f64,
    /// When `history` was last decayed, and when the pair was first seen.
    history_at: Option<DateTime<Utc>>,
    first_seen: Option<DateTime<Utc>>,
}

/// Counts distinct authors per (group, territory) and tells when they burst.
#[derive(Debug, Default)]
pub struct BurstDetector {
    settings: BurstSettings,
    pairs: HashMap<(String, String), PairState>,
}

fn author_hash(author: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    author.hash(&mut h);
    h.finish()
}

impl BurstDetector {
    pub fn new(settings: BurstSettings) -> BurstDetector {
        BurstDetector {
            settings,
            pairs: HashMap::new(),
        }
    }

    /// Record a post by `author` about `group` in `territory` at `time`; true when the pair
    /// is bursting now (posts should come in time order; a late one counts where it falls).
    pub fn observe(
        &mut self,
        group: &str,
        territory: &str,
        author: &str,
        time: DateTime<Utc>,
    ) -> bool {
        let s = self.settings;
        let state = self
            .pairs
            .entry((group.to_string(), territory.to_string()))
            .or_default();
        state.first_seen.get_or_insert(time);
        // Posts that left the window go to the decayed history.
        while let Some(&(t, _)) = state.recent.front() {
            if time - t <= s.window {
                break;
            }
            state.recent.pop_front();
            decay(state, t, s.half_life);
            state.history += 1.0;
        }
        state.recent.push_back((time, author_hash(author)));
        let mut authors: Vec<u64> = state.recent.iter().map(|&(_, a)| a).collect();
        authors.sort_unstable();
        authors.dedup();
        let distinct = authors.len();
        // Usual posts per window, over the time the pair has been watched (at least a week,
        // so that a new pair does not look quiet).
        decay(state, time, s.half_life);
        let watched = (time - state.first_seen.unwrap_or(time)).max(Duration::days(7));
        let windows = watched.num_seconds() as f64 / s.window.num_seconds().max(1) as f64;
        let usual = state.history / windows.max(1.0);
        distinct >= s.min_authors && distinct as f64 >= s.factor * usual.max(1.0)
    }

    /// Distinct authors about `group` in `territory` in the current window.
    pub fn authors_in_window(&self, group: &str, territory: &str) -> usize {
        self.pairs
            .get(&(group.to_string(), territory.to_string()))
            .map(|s| {
                let mut a: Vec<u64> = s.recent.iter().map(|&(_, a)| a).collect();
                a.sort_unstable();
                a.dedup();
                a.len()
            })
            .unwrap_or(0)
    }
}

fn decay(state: &mut PairState, to: DateTime<Utc>, half_life: Duration) {
    if let Some(at) = state.history_at
        && to > at
    {
        let halves = (to - at).num_seconds() as f64 / half_life.num_seconds().max(1) as f64;
        state.history *= 0.5f64.powf(halves);
    }
    if state.history_at.is_none_or(|at| to > at) {
        state.history_at = Some(to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600 + h * 3600, 0).unwrap()
    }

    #[test]
    fn many_distinct_authors_within_hours_burst() {
        let mut d = BurstDetector::default();
        assert!(!d.observe("zhkh", "shopsha", "a", at(0)));
        assert!(!d.observe("zhkh", "shopsha", "b", at(1)));
        assert!(!d.observe("zhkh", "shopsha", "c", at(1)));
        assert!(d.observe("zhkh", "shopsha", "d", at(2)));
        assert_eq!(d.authors_in_window("zhkh", "shopsha"), 4);
    }

    #[test]
    fn one_author_repeating_is_not_a_burst() {
        let mut d = BurstDetector::default();
        for h in 0..10 {
            assert!(!d.observe("zhkh", "shopsha", "same", at(h / 3)));
        }
    }

    #[test]
    fn spread_over_days_is_not_a_burst() {
        let mut d = BurstDetector::default();
        for (i, a) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            assert!(!d.observe("dorogi", "mitino", a, at(i as i64 * 24)));
        }
    }

    #[test]
    fn pairs_are_separate() {
        let mut d = BurstDetector::default();
        assert!(!d.observe("zhkh", "shopsha", "a", at(0)));
        assert!(!d.observe("zhkh", "mitino", "b", at(0)));
        assert!(!d.observe("dorogi", "shopsha", "c", at(0)));
        assert!(!d.observe("zhkh", "shopsha", "d", at(0)));
    }

    #[test]
    fn a_busy_pair_needs_more_than_its_usual_rate() {
        let settings = BurstSettings::default();
        let mut d = BurstDetector::new(settings);
        // Three weeks of 4 authors every 6 hours: normal for this pair.
        let mut n = 0;
        for w in 0..(21 * 4) {
            for a in 0..4 {
                d.observe(
                    "othody",
                    "gavrilov-yam",
                    &format!("u{n}"),
                    at(w * 6) + Duration::minutes(a),
                );
                n += 1;
            }
        }
        // Four more in one window is the usual rate, not a burst.
        let t = at(21 * 24 + 100);
        let mut burst = false;
        for a in 0..4 {
            burst |= d.observe(
                "othody",
                "gavrilov-yam",
                &format!("x{a}"),
                t + Duration::minutes(a),
            );
        }
        assert!(!burst);
        // Fifteen distinct authors is.
        let mut burst = false;
        for a in 4..15 {
            burst |= d.observe(
                "othody",
                "gavrilov-yam",
                &format!("x{a}"),
                t + Duration::minutes(a),
            );
        }
        assert!(burst);
    }
}
