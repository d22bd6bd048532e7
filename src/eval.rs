//! `otklik classify`, `otklik eval` and `otklik explain`: the understanding step run over
//! labelled posts (the corpus format of `corpus/README.md`), its quality measured, and one
//! decision explained.
//!
//! Clusters are made the way the daemon makes incidents: posts in time order, each incident
//! compared with [`same_problem`] against the problems still open, attached to the first that
//! matches or opening a new one.

use crate::model::{AuthorKind, Platform};
use crate::understand::{Knowledge, PostView, ProblemRef, Understanding, same_problem};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::{BufRead, Write};
use std::path::Path;

/// What a labelled (or predicted) post says, in the corpus format.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub incident: bool,
    pub group: Option<String>,
    pub topic: Option<String>,
    pub territory: Option<String>,
    pub place: Option<String>,
    pub cluster: Option<String>,
    pub urgent: bool,
}

/// The `predicted` object written by [`classify`]: a [`Label`] plus score and reasons.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    #[serde(flatten)]
    pub label: Label,
    pub score: f32,
    pub reasons: Vec<String>,
}

#[derive(Deserialize)]
struct CorpusPost {
    #[serde(default)]
    id: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    community: String,
    #[serde(default)]
    community_territory: Option<String>,
    published: DateTime<chrono::FixedOffset>,
    #[serde(default)]
    author_kind: AuthorKind,
    text: String,
    #[serde(default)]
    label: Option<Label>,
}

fn platform_of(source: &str) -> (Platform, bool) {
    let (base, comment) = match source.strip_suffix("_comment") {
        Some(b) => (b, true),
        None => (source, false),
    };
    (Platform::parse(base).unwrap_or(Platform::Ingest), comment)
}

fn view(p: &CorpusPost) -> PostView<'_> {
    let (platform, is_comment) = platform_of(&p.source);
    PostView {
        platform,
        is_comment,
        text: &p.text,
        community: &p.community,
        community_territory: p.community_territory.as_deref(),
        author_kind: p.author_kind,
        published: p.published.with_timezone(&Utc),
    }
}

/// An open problem while clustering a stream.
struct OpenProblem {
    id: String,
    group: Option<String>,
    topic: Option<String>,
    territory: Option<String>,
    place: Option<String>,
    last_seen: DateTime<Utc>,
    fingerprint: Vec<u32>,
}

/// Most stems a problem's fingerprint keeps as posts join it.
const PROBLEM_FINGERPRINT_MAX: usize = 256;

/// How far back a follow-up comment looks for the problem it follows.
pub const FOLLOW_UP_HOURS: i64 = 6;

/// In-memory incident detector: the rule the daemon applies against its open incidents.
#[derive(Default)]
pub struct Clusterer {
    open: Vec<OpenProblem>,
    next: usize,
}

impl Clusterer {
    /// The cluster id for an understood post seen at `time`, or `None` when it is no incident.
    /// A comment that only follows up («у нас тоже», «поддерживаю») joins the problem last
    /// mentioned in its territory within [`FOLLOW_UP_HOURS`] (the daemon knows the parent post
    /// and uses its incident instead).
    pub fn assign(
        &mut self,
        u: &Understanding,
        time: DateTime<Utc>,
        is_comment: bool,
    ) -> Option<String> {
        if !u.incident {
            return None;
        }
        if is_comment && u.follow_up {
            let latest = self
                .open
                .iter_mut()
                .filter(|o| {
                    o.territory == u.territory
                        && (time - o.last_seen).num_minutes().abs() <= FOLLOW_UP_HOURS * 60
                })
                .max_by_key(|o| o.last_seen);
            if let Some(o) = latest {
                o.last_seen = o.last_seen.max(time);
                return Some(o.id.clone());
            }
        }
        let post = ProblemRef {
            group: u.group.as_deref(),
            topic: u.topic.as_deref(),
            territory: u.territory.as_deref(),
            place: u.place.as_deref(),
            last_seen: time,
            fingerprint: &u.fingerprint,
        };
        let found = self.open.iter_mut().find(|o| {
            same_problem(
                &post,
                &ProblemRef {
                    group: o.group.as_deref(),
                    topic: o.topic.as_deref(),
                    territory: o.territory.as_deref(),
                    place: o.place.as_deref(),
                    last_seen: o.last_seen,
                    fingerprint: &o.fingerprint,
                },
            )
        });
        if let Some(o) = found {
            o.last_seen = o.last_seen.max(time);
            if o.place.is_none() {
                o.place = u.place.clone();
            }
            if o.fingerprint.len() < PROBLEM_FINGERPRINT_MAX {
                o.fingerprint.extend_from_slice(&u.fingerprint);
                o.fingerprint.sort_unstable();
                o.fingerprint.dedup();
            }
            return Some(o.id.clone());
        }
        self.next += 1;
        let id = format!("p{:04}", self.next);
        self.open.push(OpenProblem {
            id: id.clone(),
            group: u.group.clone(),
            topic: u.topic.clone(),
            territory: u.territory.clone(),
            place: u.place.clone(),
            last_seen: time,
            fingerprint: u.fingerprint.clone(),
        });
        Some(id)
    }
}

/// Understand every post of `posts`, with reasons, in input order.
fn understand_posts(posts: &[CorpusPost], k: &Knowledge) -> Vec<Understanding> {
    posts
        .iter()
        .map(|p| crate::understand::explain(&view(p), k))
        .collect()
}

/// Understand every post of `posts` and cluster them in time order; predictions in input order.
fn predict(posts: &[CorpusPost], k: &Knowledge) -> Vec<Prediction> {
    predict_from(posts, understand_posts(posts, k))
}

/// Cluster understood posts in time order; predictions in input order.
fn predict_from(posts: &[CorpusPost], understood: Vec<Understanding>) -> Vec<Prediction> {
    let mut order: Vec<usize> = (0..posts.len()).collect();
    order.sort_by_key(|&i| posts[i].published);
    let mut clusters = vec![None; posts.len()];
    let mut clusterer = Clusterer::default();
    for i in order {
        let (_, is_comment) = platform_of(&posts[i].source);
        clusters[i] = clusterer.assign(
            &understood[i],
            posts[i].published.with_timezone(&Utc),
            is_comment,
        );
    }
    // Urgency belongs to the incident: one urgent post makes all of its posts urgent.
    let urgent_clusters: BTreeSet<&String> = clusters
        .iter()
        .zip(&understood)
        .filter(|(c, u)| c.is_some() && u.urgent)
        .filter_map(|(c, _)| c.as_ref())
        .collect();
    let urgent: Vec<bool> = clusters
        .iter()
        .zip(&understood)
        .map(|(c, u)| u.urgent || c.as_ref().is_some_and(|c| urgent_clusters.contains(c)))
        .collect();
    understood
        .into_iter()
        .zip(clusters.clone())
        .zip(urgent)
        .map(|((u, cluster), urgent)| Prediction {
            label: Label {
                incident: u.incident,
                group: if u.incident { u.group } else { None },
                topic: if u.incident { u.topic } else { None },
                territory: u.territory,
                place: u.place,
                cluster,
                urgent,
            },
            score: u.score,
            reasons: u.reasons,
        })
        .collect()
}

fn read_corpus(input: impl BufRead) -> anyhow::Result<Vec<(serde_json::Value, CorpusPost)>> {
    let mut out = Vec::new();
    for (n, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("line {}: not JSON", n + 1))?;
        let post: CorpusPost = serde_json::from_value(value.clone())
            .with_context(|| format!("line {}: not a post in the corpus format", n + 1))?;
        out.push((value, post));
    }
    Ok(out)
}

/// Read JSON lines in the corpus format from `input` and write each object back to `output`
/// with a `predicted` field (shaped like `label`, plus `score` and `reasons`).
pub fn classify(input: impl BufRead, mut output: impl Write, k: &Knowledge) -> anyhow::Result<()> {
    let rows = read_corpus(input)?;
    let posts: Vec<CorpusPost> = rows.iter().map(|(_, p)| clone_post(p)).collect();
    let predictions = predict(&posts, k);
    for ((mut value, _), prediction) in rows.into_iter().zip(predictions) {
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("predicted".into(), serde_json::to_value(&prediction)?);
        }
        serde_json::to_writer(&mut output, &value)?;
        output.write_all(b"\n")?;
    }
    output.flush()?;
    Ok(())
}

fn clone_post(p: &CorpusPost) -> CorpusPost {
    CorpusPost {
        id: p.id.clone(),
        source: p.source.clone(),
        community: p.community.clone(),
        community_territory: p.community_territory.clone(),
        published: p.published,
        author_kind: p.author_kind,
        text: p.text.clone(),
        label: p.label.clone(),
    }
}

/// Precision, recall and F1 of one decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
}

impl Prf {
    pub fn from_counts(tp: usize, fp: usize, fn_: usize) -> Prf {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Prf {
            precision,
            recall,
            f1,
            true_positives: tp,
            false_positives: fp,
            false_negatives: fn_,
        }
    }
}

/// The quality of the understanding step on a labelled corpus.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub posts: usize,
    pub incident: Prf,
    /// Over the true incidents: share whose predicted group is the labelled one.
    pub group_accuracy: f64,
    /// Over the true incidents: mean F1 of the groups (labelled or predicted).
    pub group_macro_f1: f64,
    /// Over the true incidents: share whose predicted topic is the labelled one.
    pub topic_accuracy: f64,
    /// Over all posts: share whose predicted territory is the labelled one.
    pub territory_accuracy: f64,
    /// Pairs of posts put in one cluster, against the labelled clusters.
    pub cluster: Prf,
    /// Share of the urgent posts predicted urgent.
    pub urgent_recall: f64,
    pub urgent_total: usize,
    /// Posts predicted urgent that are not labelled urgent.
    pub urgent_false_alarms: usize,
    /// Ids of the posts where the incident decision is wrong (`+id`: false alarm, `-id`: missed).
    pub incident_errors: Vec<String>,
    /// `id: labelled → predicted` for the group mistakes on true incidents.
    pub group_errors: Vec<String>,
    /// `id: labelled → predicted` for the territory mistakes.
    pub territory_errors: Vec<String>,
    /// Ids of urgent posts not predicted urgent.
    pub urgent_missed: Vec<String>,
}

/// Understand and cluster the labelled posts of `corpus` (JSON lines) and measure the result.
pub fn evaluate(corpus: &Path, k: &Knowledge) -> anyhow::Result<EvalReport> {
    let file =
        std::fs::File::open(corpus).with_context(|| format!("opening {}", corpus.display()))?;
    let rows = read_corpus(std::io::BufReader::new(file))?;
    let posts: Vec<CorpusPost> = rows.into_iter().map(|(_, p)| p).collect();
    Ok(evaluate_posts(&posts, k))
}

fn evaluate_posts(posts: &[CorpusPost], k: &Knowledge) -> EvalReport {
    // The topic classifier is judged on the raw understanding as well as on the predictions.
    let understood = understand_posts(posts, k);
    let predictions = predict_from(posts, understood.clone());
    let mut r = EvalReport {
        posts: posts.len(),
        ..EvalReport::default()
    };
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    let mut true_incidents = 0usize;
    let (mut group_ok, mut topic_ok, mut territory_ok) = (0usize, 0usize, 0usize);
    // Per group: (true positives, false positives, false negatives) over true incidents.
    let mut groups: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let (mut urgent_total, mut urgent_hit) = (0usize, 0usize);
    for ((post, pred), u) in posts.iter().zip(&predictions).zip(&understood) {
        let Some(label) = &post.label else { continue };
        let p = &pred.label;
        match (label.incident, p.incident) {
            (true, true) => tp += 1,
            (false, true) => {
                fp += 1;
                r.incident_errors.push(format!("+{}", post.id));
            }
            (true, false) => {
                fn_ += 1;
                r.incident_errors.push(format!("-{}", post.id));
            }
            (false, false) => {}
        }
        if label.territory == p.territory {
            territory_ok += 1;
        } else {
            r.territory_errors.push(format!(
                "{}: {} → {}",
                post.id,
                label.territory.as_deref().unwrap_or("—"),
                p.territory.as_deref().unwrap_or("—")
            ));
        }
        if label.incident {
            true_incidents += 1;
            // The topic classifier is judged on its own: the group it finds even when the
            // incident decision says no.
            let predicted = u.group.clone().unwrap_or_else(|| "—".into());
            let labelled = label.group.clone().unwrap_or_else(|| "—".into());
            if predicted == labelled {
                group_ok += 1;
                groups.entry(labelled).or_default().0 += 1;
            } else {
                groups.entry(labelled.clone()).or_default().2 += 1;
                groups.entry(predicted.clone()).or_default().1 += 1;
                r.group_errors
                    .push(format!("{}: {} → {}", post.id, labelled, predicted));
            }
            if u.topic == label.topic {
                topic_ok += 1;
            }
        }
        if label.urgent {
            urgent_total += 1;
            if p.urgent {
                urgent_hit += 1;
            } else {
                r.urgent_missed.push(post.id.clone());
            }
        } else if p.urgent {
            r.urgent_false_alarms += 1;
        }
    }
    r.incident = Prf::from_counts(tp, fp, fn_);
    let share = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    r.group_accuracy = share(group_ok, true_incidents);
    r.topic_accuracy = share(topic_ok, true_incidents);
    r.territory_accuracy = share(
        territory_ok,
        posts.iter().filter(|p| p.label.is_some()).count(),
    );
    groups.remove("—");
    let f1s: Vec<f64> = groups
        .values()
        .map(|&(a, b, c)| Prf::from_counts(a, b, c).f1)
        .collect();
    r.group_macro_f1 = if f1s.is_empty() {
        0.0
    } else {
        f1s.iter().sum::<f64>() / f1s.len() as f64
    };
    r.urgent_total = urgent_total;
    r.urgent_recall = share(urgent_hit, urgent_total);
    r.cluster = pairwise(
        &posts
            .iter()
            .map(|p| p.label.as_ref().and_then(|l| l.cluster.clone()))
            .collect::<Vec<_>>(),
        &predictions
            .iter()
            .map(|p| p.label.cluster.clone())
            .collect::<Vec<_>>(),
    );
    r
}

/// Pairwise precision and recall of a clustering against the labelled one; posts without a
/// cluster are in no pair.
fn pairwise(labelled: &[Option<String>], predicted: &[Option<String>]) -> Prf {
    let pairs = |ids: &[Option<String>]| -> BTreeSet<(usize, usize)> {
        let mut by: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, id) in ids.iter().enumerate() {
            if let Some(id) = id {
                by.entry(id).or_default().push(i);
            }
        }
        let mut out = BTreeSet::new();
        for members in by.values() {
            for (a, &i) in members.iter().enumerate() {
                for &j in &members[a + 1..] {
                    out.insert((i, j));
                }
            }
        }
        out
    };
    let gold = pairs(labelled);
    let pred = pairs(predicted);
    let tp = gold.intersection(&pred).count();
    Prf::from_counts(tp, pred.len() - tp, gold.len() - tp)
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prf = |p: &Prf| {
            format!(
                "precision {:.3}  recall {:.3}  F1 {:.3}  (tp {}, fp {}, fn {})",
                p.precision, p.recall, p.f1, p.true_positives, p.false_positives, p.false_negatives
            )
        };
        writeln!(f, "posts                {}", self.posts)?;
        writeln!(f, "incident             {}", prf(&self.incident))?;
        writeln!(
            f,
            "group accuracy       {:.3}  (over true incidents)",
            self.group_accuracy
        )?;
        writeln!(f, "group macro-F1       {:.3}", self.group_macro_f1)?;
        writeln!(f, "topic accuracy       {:.3}", self.topic_accuracy)?;
        writeln!(f, "territory accuracy   {:.3}", self.territory_accuracy)?;
        writeln!(f, "cluster pairs        {}", prf(&self.cluster))?;
        writeln!(
            f,
            "urgent recall        {:.3}  ({} urgent, {} false alarms)",
            self.urgent_recall, self.urgent_total, self.urgent_false_alarms
        )?;
        let list = |v: &[String]| {
            if v.is_empty() {
                "—".to_string()
            } else {
                v.join(", ")
            }
        };
        writeln!(f, "incident errors      {}", list(&self.incident_errors))?;
        writeln!(f, "group errors         {}", list(&self.group_errors))?;
        writeln!(f, "territory errors     {}", list(&self.territory_errors))?;
        writeln!(f, "urgent missed        {}", list(&self.urgent_missed))
    }
}

/// The decision about `text` (a resident's post with no community) and its evidence, for a
/// person: Russian labels, one fact per line.
pub fn explain(text: &str, k: &Knowledge) -> String {
    let post = PostView {
        platform: Platform::Ingest,
        is_comment: false,
        text,
        community: "",
        community_territory: None,
        author_kind: AuthorKind::Resident,
        published: Utc::now(),
    };
    let u = crate::understand::explain(&post, k);
    let yes_no = |b: bool| if b { "да" } else { "нет" };
    let mut out = String::new();
    out.push_str(&format!(
        "Инцидент: {} (уверенность {:.2})\n",
        yes_no(u.incident),
        u.score
    ));
    out.push_str(&format!("Срочно: {}\n", yes_no(u.urgent)));
    if let Some(g) = u.group.as_deref().and_then(|g| k.taxonomy.group(g)) {
        out.push_str(&format!("Группа: {} ({})\n", g.name, g.id));
        if let Some(t) = &u.topic {
            out.push_str(&format!("Тема: {t}\n"));
            if let Some(d) = k.taxonomy.default_department(&g.id, Some(t)) {
                out.push_str(&format!("Ответственный по умолчанию: {d}\n"));
            }
        }
    } else {
        out.push_str("Тема: не определена\n");
    }
    out.push_str(&format!(
        "Территория: {}\n",
        u.territory.as_deref().unwrap_or("не определена")
    ));
    if let Some(p) = &u.place {
        out.push_str(&format!("Место: {p}\n"));
    }
    out.push_str(&format!("Язык: {}\n", u.lang));
    out.push_str("Почему:\n");
    for r in &u.reasons {
        out.push_str(&format!("  • {r}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_counts_pairs() {
        let s = |v: &[Option<&str>]| v.iter().map(|x| x.map(str::to_string)).collect::<Vec<_>>();
        let gold = s(&[Some("a"), Some("a"), Some("a"), None, Some("b"), Some("b")]);
        let pred = s(&[
            Some("x"),
            Some("x"),
            Some("y"),
            Some("y"),
            Some("z"),
            Some("z"),
        ]);
        let p = pairwise(&gold, &pred);
        // Gold pairs: (0,1) (0,2) (1,2) (4,5); predicted: (0,1) (2,3) (4,5).
        assert_eq!(
            (p.true_positives, p.false_positives, p.false_negatives),
            (2, 1, 2)
        );
    }

    #[test]
    fn classify_adds_predictions_and_keeps_the_rest() {
        let input = r#"{"id":"t1","source":"vk","community":"Подслушано","community_territory":"shopsha","published":"2026-03-01T10:00:00+03:00","author_kind":"resident","text":"В Шопше третий день нет воды! Когда дадут?","extra":7}
{"id":"t2","source":"vk_comment","community":"Подслушано","community_territory":"shopsha","published":"2026-03-01T11:00:00+03:00","author_kind":"resident","text":"у нас тоже нет воды в Шопше, третий день сидим"}
{"id":"t3","source":"vk","community":"Подслушано","community_territory":"shopsha","published":"2026-03-01T12:00:00+03:00","author_kind":"resident","text":"Продам коляску, недорого"}
"#;
        let k = Knowledge::embedded();
        let mut out = Vec::new();
        classify(input.as_bytes(), &mut out, &k).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["extra"], 7);
        assert_eq!(lines[0]["predicted"]["incident"], true);
        assert_eq!(lines[0]["predicted"]["group"], "zhkh");
        assert_eq!(lines[0]["predicted"]["territory"], "shopsha");
        assert!(lines[0]["predicted"]["cluster"].is_string());
        assert_eq!(
            lines[0]["predicted"]["cluster"],
            lines[1]["predicted"]["cluster"]
        );
        assert_eq!(lines[2]["predicted"]["incident"], false);
        assert!(lines[2]["predicted"]["cluster"].is_null());
        assert!(lines[2]["predicted"]["reasons"].as_array().unwrap().len() > 1);
    }

    #[test]
    fn explain_reads_in_russian() {
        let k = Knowledge::embedded();
        let e = explain("На Советской огромная яма, когда заделают?", &k);
        assert!(e.contains("Инцидент: да"), "{e}");
        assert!(e.contains("Дороги"), "{e}");
        assert!(e.contains("«яма»"), "{e}");
        let e = explain("Поздравляем всех с Новым годом!", &k);
        assert!(e.contains("Инцидент: нет"), "{e}");
        assert!(e.contains("поздравление"), "{e}");
    }
}
