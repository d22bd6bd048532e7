//! Understanding a post: language, incident or not, topic, territory and place, and a
//! fingerprint for near-duplicate detection.
//!
//! Everything here is a pure function of the text and the loaded [`Knowledge`]: no I/O, so
//! the same code serves the daemon, `otklik classify`, the tests and the benchmarks.

pub mod burst;
mod knowledge;
pub mod language;
mod matcher;
pub mod normalize;
mod place;
pub mod similar;

pub use knowledge::{Cue, EMBEDDED_TERRITORIES, Knowledge, SPECIAL_TERRITORIES};
pub use similar::{fingerprint, similarity};

use crate::model::{AuthorKind, Platform, Post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Files the knowledge is loaded from.
#[derive(Clone, Debug)]
pub struct KnowledgeFiles {
    pub taxonomy: PathBuf,
    pub lexicon: PathBuf,
    pub gazetteer: PathBuf,
    pub streets: PathBuf,
}

/// One topic group of the ИМ taxonomy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicGroup {
    pub id: String,
    pub name: String,
    pub topics: Vec<Topic>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    /// Department that owns this topic by default (org chart id).
    pub department: String,
}

/// The ИМ topic classifier: groups and their topics with default owners.
#[derive(Clone, Debug, Default)]
pub struct Taxonomy {
    pub groups: Vec<TopicGroup>,
}

impl Taxonomy {
    pub fn group(&self, id: &str) -> Option<&TopicGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// The department that owns `topic` of `group` by default; the group's most common owner
    /// when the topic is unknown.
    pub fn default_department(&self, group: &str, topic: Option<&str>) -> Option<&str> {
        let group = self.group(group)?;
        if let Some(topic) = topic
            && let Some(t) = group.topics.iter().find(|t| t.name == topic)
        {
            return Some(&t.department);
        }
        group.topics.first().map(|t| t.department.as_str())
    }
}

/// What the understanding step reads of a post.
#[derive(Clone, Copy, Debug)]
pub struct PostView<'a> {
    pub platform: Platform,
    /// A comment under a post rather than a post of its own.
    pub is_comment: bool,
    pub text: &'a str,
    pub community: &'a str,
    pub community_territory: Option<&'a str>,
    pub author_kind: AuthorKind,
    pub published: DateTime<Utc>,
}

impl<'a> PostView<'a> {
    pub fn of(post: &'a Post, text: &'a str) -> PostView<'a> {
        PostView {
            platform: post.key.platform,
            is_comment: post.parent.is_some(),
            text,
            community: &post.community,
            community_territory: post.community_territory.as_deref(),
            author_kind: post.author_kind,
            published: post.published,
        }
    }
}

/// The decision about one post, with the evidence for it. Stored with each post as JSON, without
/// what is absent or recomputed (see the fields).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Understanding {
    /// ISO 639-1 code of the language (`ru`, `uk`, `en`, …).
    pub lang: String,
    /// A local problem reported, or a request or question to the authorities.
    pub incident: bool,
    /// Confidence that it is an incident, 0..1; 0.5 is the decision threshold (a post above it
    /// can still be no incident when it names no topic or is about another district).
    pub score: f32,
    /// Threat to life or health, an emergency, a mass outage.
    pub urgent: bool,
    /// Topic group id from the taxonomy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Topic name from the taxonomy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Territory id, `district`, `outside`, or `None` when it cannot be told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub territory: Option<String>,
    /// The most precise place named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// Evidence, in Russian, for the coordinator ("why is this mine?"): `otklik eval` and the
    /// corpus tests print it. Filled by [`explain`] only; [`understand`], the daemon's call,
    /// leaves it empty. Not stored with the post: it was a quarter of a stored post's size and
    /// nothing read it back.
    #[serde(default, skip_serializing)]
    pub reasons: Vec<String>,
    /// Hashed content stems, for near-duplicate comparison. Not stored with the post: the
    /// detector uses it on arrival and the incident keeps its own; anything later recomputes
    /// it from the text (it is a third of a stored post's size).
    #[serde(default, skip_serializing)]
    pub fingerprint: Vec<u32>,
    /// The post adds to one said before («у нас тоже», «поддерживаю»): a comment like this
    /// belongs to the incident of the post it answers, whatever its own words.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub follow_up: bool,
}

/// Confidence above which a post counts as an incident (on the raw, pre-sigmoid score).
const INCIDENT_THRESHOLD: f32 = 0.5;
/// Without any topic a post needs this much wording evidence to count.
const TOPICLESS_THRESHOLD: f32 = 2.5;

/// `«a», «b»`: the evidence words of one reason.
fn guillemets(words: &[String]) -> String {
    words
        .iter()
        .map(|e| format!("«{e}»"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn quote(n: &normalize::Normalized, first: u32, last: u32) -> String {
    (first..=last)
        .map(|i| n.word(i as usize))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The evidence behind a verdict, collected only when someone will read it: the daemon
/// stores no reasons, and building them (quoting the words, formatting) was 9 % of the
/// understanding's instructions.
struct Notes {
    wanted: bool,
    reasons: Vec<String>,
}

impl Notes {
    fn push(&mut self, reason: impl FnOnce() -> String) {
        if self.wanted {
            self.reasons.push(reason());
        }
    }

    /// The words of a match, quoted for a reason; nothing when no reason is written.
    fn quote(&self, n: &normalize::Normalized, first: u32, last: u32) -> String {
        if self.wanted {
            quote(n, first, last)
        } else {
            String::new()
        }
    }
}

/// Understand one post: the verdict, without the reasons (see [`explain`]).
pub fn understand(post: &PostView<'_>, knowledge: &Knowledge) -> Understanding {
    understand_with(post, knowledge, false)
}

/// Understand one post and say why, in [`Understanding::reasons`]: for `otklik eval`, the
/// corpus tests and anyone asking «why is this mine?».
pub fn explain(post: &PostView<'_>, knowledge: &Knowledge) -> Understanding {
    understand_with(post, knowledge, true)
}

fn understand_with(post: &PostView<'_>, knowledge: &Knowledge, explain: bool) -> Understanding {
    let n = normalize::normalize(post.text);
    let lang = language::detect(&n, post.text);
    let hits = knowledge.matcher.phrases(&n);
    let all_terms = knowledge.matcher.terms(&hits, |_, _| false);
    let places = place::accept(&knowledge.places, &n, &all_terms, |t| knowledge.owner(t));
    // Place names are no topic words («Гаврилов-Ям» is no «яма»); landmarks are («автостанция»).
    let masked = |f: u32, l: u32| {
        places.iter().any(|p| {
            f <= p.last
                && l >= p.first
                && knowledge.places[p.place as usize].class != place::PlaceClass::Landmark
        })
    };
    let terms = knowledge.matcher.terms(&hits, masked);
    let mut notes = Notes {
        wanted: explain,
        reasons: Vec::new(),
    };

    // Topic: the best-scoring topic, its group winning ties by the group's other evidence.
    // Per topic: the strongest term plus half of the others (synonyms confirm, not multiply).
    let mut topic_score: Vec<(u32, f32, Vec<String>)> = Vec::new();
    let mut topic_max: Vec<(u32, f32)> = Vec::new();
    // Topic words that describe something wrong («ямы», «прорвало»), not just name a thing.
    let mut problem_weight: f32 = 0.0;
    let mut cue_hits: Vec<(u32, f32, Vec<String>)> = Vec::new();
    for h in &terms {
        let term = knowledge.matcher.term(h.term);
        let (list, id) = match term.owner {
            matcher::Owner::Topic(t) => (&mut topic_score, t),
            matcher::Owner::Cue(c) => {
                let cue = &knowledge.cues[c as usize];
                // «не починили» is no news that a thing was fixed.
                let negated = h.first > 0 && matches!(n.word(h.first as usize - 1), "не" | "ни");
                // «не горит» is no fire.
                if (cue.weight < 0.0 || cue.urgent) && negated && !term.source.starts_with("не ")
                {
                    continue;
                }
                // «планируется ли…?» asks, it does not announce.
                let asked =
                    (h.last as usize + 1) < n.tokens.len() && n.word(h.last as usize + 1) == "ли";
                if cue.weight < 0.0 && asked {
                    continue;
                }
                // «отремонтировали» in quotes is irony, not news of a repair.
                if cue.weight < 0.0 && n.tokens[h.first as usize].quoted {
                    continue;
                }
                (&mut cue_hits, c)
            }
            matcher::Owner::Place(_) => continue,
        };
        let words = notes.quote(&n, h.first, h.last);
        if matches!(term.owner, matcher::Owner::Topic(_)) && !term.neutral {
            problem_weight += term.weight;
        }
        if matches!(term.owner, matcher::Owner::Topic(_)) {
            match topic_max.iter_mut().find(|(i, _)| *i == id) {
                Some((_, m)) => *m = m.max(term.weight),
                None => topic_max.push((id, term.weight)),
            }
        }
        match list.iter_mut().find(|(i, _, _)| *i == id) {
            Some((_, w, ev)) => {
                *w += term.weight;
                if !ev.contains(&words) {
                    ev.push(words);
                }
            }
            None => list.push((id, term.weight, vec![words])),
        }
    }
    for (t, w, _) in topic_score.iter_mut() {
        let max = topic_max
            .iter()
            .find(|(i, _)| i == t)
            .map_or(*w, |(_, m)| *m);
        *w = max + 0.5 * (*w - max);
    }
    let group_total = |g: u16| -> f32 {
        topic_score
            .iter()
            .filter(|(t, _, _)| knowledge.topics[*t as usize].0 == g)
            .map(|(_, w, _)| *w)
            .sum()
    };
    let best = topic_score
        .iter()
        .map(|(t, w, ev)| {
            let g = knowledge.topics[*t as usize].0;
            (*t, w + 0.25 * (group_total(g) - w), ev)
        })
        .fold(None::<(u32, f32, &Vec<String>)>, |acc, x| match acc {
            Some(a) if a.1 >= x.1 => Some(a),
            _ => Some(x),
        });

    // Incident or not.
    let mut score: f32 = -0.5;
    let mut urgent_cue = None;
    let mut follow_up = false;
    for (c, w, ev) in &cue_hits {
        let cue = &knowledge.cues[*c as usize];
        // Synonyms of one cue add up, but only so far.
        let w = if cue.weight >= 0.0 {
            w.min(cue.weight * 2.0)
        } else {
            w.max(cue.weight * 2.0)
        };
        score += w;
        notes.push(|| format!("{}: {}", cue.reason, guillemets(ev)));
        follow_up |= cue.follow_up;
        if cue.urgent && urgent_cue.is_none() {
            urgent_cue = Some(cue.reason.clone());
        }
    }
    // Words that describe a problem weigh in fully; a thing merely named («почта», «фонари»)
    // makes a post about a topic, not a complaint.
    if problem_weight > 0.0 {
        score += 0.7 + problem_weight.min(3.0) * 0.3;
    } else if best.is_some() {
        score += 0.3;
    }
    if n.questions > 0 {
        score += 0.4;
        notes.push(|| "вопрос в тексте".into());
    }
    if n.laughs > 0 {
        score -= 1.0;
        notes.push(|| "шутливый тон (смеющиеся смайлы)".into());
    }
    if n.exclamations >= 2 || n.shouted >= 1 {
        score += 0.3;
        notes.push(|| "эмоциональный тон (!!!, заглавные)".into());
    }
    match post.author_kind {
        AuthorKind::Official => {
            score -= 5.0;
            notes.push(|| {
                "автор — официальный аккаунт: ответы и объявления власти не инцидент".into()
            });
        }
        AuthorKind::Business => {
            score -= 3.0;
            notes.push(|| "автор — организация (реклама услуг)".into());
        }
        AuthorKind::Media | AuthorKind::Resident => {}
    }

    let speaks_for_district = post.community_territory.is_none()
        && matches!(post.author_kind, AuthorKind::Official | AuthorKind::Media);
    let located = place::locate(
        &knowledge.places,
        &n,
        &places,
        post.community_territory,
        speaks_for_district,
    );
    // A problem of another town or district is not ours, however it is worded.
    let outside = located.territory.as_deref() == Some("outside");
    if outside {
        score = score.min(-2.0);
        notes.push(|| "проблема за пределами округа".into());
    }
    notes.push(|| located.reason);

    let incident =
        !outside && score >= INCIDENT_THRESHOLD && (best.is_some() || score >= TOPICLESS_THRESHOLD);
    let (group, topic) = match best {
        Some((t, _, ev)) => {
            let (g, topic) = knowledge.topic(t);
            notes.push(|| format!("тема: {} / {}: {}", g.name, topic.name, guillemets(ev)));
            (Some(g.id.clone()), Some(topic.name.clone()))
        }
        None => {
            notes.push(|| "тема не определена".into());
            (None, None)
        }
    };
    let urgent = incident && urgent_cue.is_some();
    if notes.wanted {
        notes.reasons.insert(
            0,
            if incident {
                if urgent {
                    "инцидент, СРОЧНО".to_string()
                } else {
                    "инцидент".to_string()
                }
            } else {
                "не инцидент".to_string()
            },
        );
    }
    Understanding {
        lang,
        incident,
        // Calibrated so that 0.5 is the decision threshold.
        score: 1.0 / (1.0 + (INCIDENT_THRESHOLD - score).exp()),
        urgent,
        group,
        topic,
        territory: located.territory,
        place: located.place,
        reasons: notes.reasons,
        fingerprint: similar::fingerprint(&n),
        follow_up,
    }
}

/// An open problem the detector compares a new post against.
#[derive(Clone, Copy, Debug)]
pub struct ProblemRef<'a> {
    pub group: Option<&'a str>,
    pub topic: Option<&'a str>,
    pub territory: Option<&'a str>,
    pub place: Option<&'a str>,
    /// When the problem was last mentioned.
    pub last_seen: DateTime<Utc>,
    pub fingerprint: &'a [u32],
}

/// How long a problem stays open to new mentions after the last one.
pub const SAME_PROBLEM_HOURS: i64 = 72;
/// Same topic at the same named place: the problem stays open this long.
pub const SAME_PLACE_HOURS: i64 = 7 * 24;
/// Within this many hours, same group and territory with a few words in common is enough.
pub const CLOSE_IN_TIME_HOURS: i64 = 4;

/// The street part of a place («Гаврилов-Ям, ул. Кирова, д. 20» → «ул. Кирова»), if any.
fn street_of(place: &str) -> Option<&str> {
    place
        .split(", ")
        .find(|p| p.starts_with("ул. ") || p.starts_with("пер. ") || p.starts_with("пр-т "))
}

/// Whether a new post (`post`) is about the same real-world problem as `open`: same group and
/// territory, not at two different named streets, and then by topic, place, time and words:
/// the same topic within [`SAME_PROBLEM_HOURS`] (a week at the same named place), or another
/// topic of the group with words in common (few needed within [`CLOSE_IN_TIME_HOURS`]).
pub fn same_problem(post: &ProblemRef<'_>, open: &ProblemRef<'_>) -> bool {
    if post.group.is_none() || post.group != open.group || post.territory != open.territory {
        return false;
    }
    let hours = (post.last_seen - open.last_seen).num_minutes().abs() as f64 / 60.0;
    let (a, b) = (
        post.place.and_then(street_of),
        open.place.and_then(street_of),
    );
    if let (Some(a), Some(b)) = (a, b)
        && a != b
    {
        return false;
    }
    let same_place = a.is_some() && a == b || post.place.is_some() && post.place == open.place;
    let same_topic = post.topic.is_some() && post.topic == open.topic;
    let sim = similarity(post.fingerprint, open.fingerprint);
    if same_topic && same_place {
        return hours <= SAME_PLACE_HOURS as f64;
    }
    if hours > SAME_PROBLEM_HOURS as f64 {
        return false;
    }
    if same_topic {
        return true;
    }
    if hours <= CLOSE_IN_TIME_HOURS as f64 {
        return sim >= 0.08 || same_place;
    }
    sim >= if same_place { 0.15 } else { 0.3 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600 + h * 3600, 0).unwrap()
    }

    fn problem<'a>(
        topic: &'a str,
        place: Option<&'a str>,
        hours: i64,
        fp: &'a [u32],
    ) -> ProblemRef<'a> {
        ProblemRef {
            group: Some("zhkh"),
            topic: Some(topic),
            territory: Some("gavrilov-yam"),
            place,
            last_seen: at(hours),
            fingerprint: fp,
        }
    }

    const KIROVA: Option<&str> = Some("Гаврилов-Ям, ул. Кирова, д. 20");
    const KIROVA_BARE: Option<&str> = Some("Гаврилов-Ям, ул. Кирова");
    const SEDOVA: Option<&str> = Some("Гаврилов-Ям, ул. Седова");

    #[test]
    fn same_topic_and_street_within_a_week() {
        let fp = [1, 2, 3];
        let open = problem("Аварии", KIROVA, 0, &fp);
        assert!(same_problem(
            &problem("Аварии", KIROVA_BARE, 100, &[9]),
            &open
        ));
        assert!(!same_problem(
            &problem("Аварии", KIROVA_BARE, 200, &[9]),
            &open
        ));
    }

    #[test]
    fn different_streets_or_groups_or_territories_are_different_problems() {
        let fp = [1, 2, 3];
        let open = problem("Аварии", KIROVA, 0, &fp);
        assert!(!same_problem(&problem("Аварии", SEDOVA, 1, &fp), &open));
        let mut other_group = problem("Аварии", KIROVA, 1, &fp);
        other_group.group = Some("dorogi");
        assert!(!same_problem(&other_group, &open));
        let mut other_territory = problem("Аварии", KIROVA, 1, &fp);
        other_territory.territory = Some("shopsha");
        assert!(!same_problem(&other_territory, &open));
        let mut no_group = problem("Аварии", KIROVA, 1, &fp);
        no_group.group = None;
        let mut open_no_group = open;
        open_no_group.group = None;
        assert!(!same_problem(&no_group, &open_no_group));
    }

    #[test]
    fn other_topic_of_the_group_needs_words_in_common() {
        let open_fp = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        let open = problem("Аварии", None, 0, &open_fp);
        // Within a few hours, a few shared words suffice.
        assert!(same_problem(
            &problem("Нет воды", None, 2, &[1, 50, 51, 52, 53]),
            &open
        ));
        assert!(!same_problem(
            &problem("Нет воды", None, 2, &[40, 50, 51, 52, 53]),
            &open
        ));
        // A day later, more must be shared.
        assert!(!same_problem(
            &problem("Нет воды", None, 24, &[1, 50, 51, 52, 53]),
            &open
        ));
        assert!(same_problem(
            &problem("Нет воды", None, 24, &[1, 2, 3, 52, 53]),
            &open
        ));
        // Same topic, no place named: within three days.
        assert!(same_problem(&problem("Аварии", None, 70, &[99]), &open));
        assert!(!same_problem(&problem("Аварии", None, 80, &[99]), &open));
        assert!(same_problem(&problem("Аварии", None, -2, &[1, 50]), &open));
    }

    #[test]
    fn understanding_keeps_its_evidence() {
        let k = Knowledge::embedded();
        let post = PostView {
            platform: Platform::Vk,
            is_comment: false,
            text: "На Кирова у 20-го дома прорвало трубу, вода хлещет на дорогу!!!",
            community: "Подслушано",
            community_territory: Some("gavrilov-yam"),
            author_kind: AuthorKind::Resident,
            published: at(0),
        };
        let u = explain(&post, &k);
        assert!(u.incident && u.urgent && u.score > 0.5);
        assert_eq!(u.group.as_deref(), Some("zhkh"));
        assert_eq!(u.place.as_deref(), Some("Гаврилов-Ям, ул. Кирова"));
        assert!(
            u.reasons.iter().any(|r| r.contains("«прорвало»")),
            "{:?}",
            u.reasons
        );
        assert!(!u.fingerprint.is_empty());
        // The same words from the administration are an answer, not a complaint.
        let official = PostView {
            author_kind: AuthorKind::Official,
            ..post
        };
        let u = explain(&official, &k);
        assert!(!u.incident && u.score < 0.5);
        assert!(u.reasons.iter().any(|r| r.contains("официальный")));
    }
}
