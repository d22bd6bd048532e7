//! Loading and validating the knowledge files: taxonomy, lexicon, gazetteer, streets.

use super::matcher::{Matcher, MatcherBuilder, Owner};
use super::place::{self, Place, PlaceClass};
use super::{KnowledgeFiles, Taxonomy, Topic, TopicGroup};
use crate::config::ConfigError;
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// A signal in the wording that a post is (positive weight) or is not (negative weight) a
/// report of a problem, or that it is urgent.
#[derive(Clone, Debug)]
pub struct Cue {
    pub name: String,
    /// Shown to the official: «жалоба», «благодарность», «объявление»…
    pub reason: String,
    pub weight: f32,
    pub urgent: bool,
    /// The post adds to one said before («у нас тоже», «поддерживаю»).
    pub follow_up: bool,
}

/// Everything the understanding step knows about the district and its topics.
#[derive(Clone, Debug)]
pub struct Knowledge {
    pub taxonomy: Taxonomy,
    /// Flat topic list: (group index, topic index) into the taxonomy.
    pub(crate) topics: Vec<(u16, u16)>,
    pub(crate) cues: Vec<Cue>,
    pub(crate) places: Vec<Place>,
    pub(crate) matcher: Arc<Matcher>,
}

impl Default for Knowledge {
    fn default() -> Knowledge {
        Knowledge {
            taxonomy: Taxonomy::default(),
            topics: Vec::new(),
            cues: Vec::new(),
            places: Vec::new(),
            matcher: Arc::new(MatcherBuilder::default().build()),
        }
    }
}

/// Territory ids that are not settlements but always valid in the gazetteer.
pub const SPECIAL_TERRITORIES: [&str; 2] = ["district", "outside"];

const EMBEDDED_TAXONOMY: &str = include_str!("../../config/taxonomy.tsv");
const EMBEDDED_LEXICON: &str = include_str!("../../config/lexicon.toml");
const EMBEDDED_GAZETTEER: &str = include_str!("../../config/gazetteer.tsv");
const EMBEDDED_STREETS: &str = include_str!("../../config/streets.tsv");

/// Territory ids of the shipped org chart.
pub const EMBEDDED_TERRITORIES: [&str; 5] = [
    "gavrilov-yam",
    "shopsha",
    "velikoe",
    "mitino",
    "zayachiy-kholm",
];

impl Knowledge {
    /// Load and validate the knowledge files; `territories` are the territory ids of the org
    /// chart, which the gazetteer must refer to.
    pub fn load(files: &KnowledgeFiles, territories: &[String]) -> Result<Knowledge, ConfigError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p)
                .map_err(|e| ConfigError::new(p, "file", format!("cannot read the file: {e}")))
        };
        Knowledge::from_texts(
            (&files.taxonomy, &read(&files.taxonomy)?),
            (&files.lexicon, &read(&files.lexicon)?),
            (&files.gazetteer, &read(&files.gazetteer)?),
            (&files.streets, &read(&files.streets)?),
            territories,
        )
    }

    /// The knowledge shipped in `config/`, compiled into the binary (demo, tests, benchmarks).
    pub fn embedded() -> Knowledge {
        let territories: Vec<String> = EMBEDDED_TERRITORIES.iter().map(|s| s.to_string()).collect();
        Knowledge::from_texts(
            (Path::new("config/taxonomy.tsv"), EMBEDDED_TAXONOMY),
            (Path::new("config/lexicon.toml"), EMBEDDED_LEXICON),
            (Path::new("config/gazetteer.tsv"), EMBEDDED_GAZETTEER),
            (Path::new("config/streets.tsv"), EMBEDDED_STREETS),
            &territories,
        )
        .expect("the embedded knowledge files are valid (checked by tests)")
    }

    /// Build the knowledge from file contents; the paths only name the files in errors.
    pub fn from_texts(
        taxonomy: (&Path, &str),
        lexicon: (&Path, &str),
        gazetteer: (&Path, &str),
        streets: (&Path, &str),
        territories: &[String],
    ) -> Result<Knowledge, ConfigError> {
        let taxonomy = parse_taxonomy(taxonomy.0, taxonomy.1)?;
        let mut topics = Vec::new();
        for (g, group) in taxonomy.groups.iter().enumerate() {
            for t in 0..group.topics.len() {
                topics.push((g as u16, t as u16));
            }
        }
        let mut builder = MatcherBuilder::default();
        let cues = parse_lexicon(lexicon.0, lexicon.1, &taxonomy, &topics, &mut builder)?;
        let mut entries = parse_places(gazetteer.0, gazetteer.1, territories, false)?;
        entries.extend(parse_places(streets.0, streets.1, territories, true)?);
        if let Err((i, e)) = place::register(&entries, &mut builder) {
            let file = if i < entries.len()
                && matches!(
                    entries[i].0.class,
                    PlaceClass::Street | PlaceClass::Landmark
                ) {
                streets.0
            } else {
                gazetteer.0
            };
            return Err(ConfigError::new(
                file,
                entries[i].0.name.clone(),
                format!("a name that cannot be matched: {e}"),
            ));
        }
        Ok(Knowledge {
            taxonomy,
            topics,
            cues,
            places: entries.into_iter().map(|(p, _)| p).collect(),
            matcher: Arc::new(builder.build()),
        })
    }

    /// The group id and topic name of a flat topic index.
    pub(crate) fn topic(&self, i: u32) -> (&TopicGroup, &Topic) {
        let (g, t) = self.topics[i as usize];
        let group = &self.taxonomy.groups[g as usize];
        (group, &group.topics[t as usize])
    }

    /// Owner of a matcher term.
    pub(crate) fn owner(&self, term: u32) -> Owner {
        self.matcher.term(term).owner
    }
}

fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
}

fn parse_taxonomy(file: &Path, text: &str) -> Result<Taxonomy, ConfigError> {
    let mut groups: Vec<TopicGroup> = Vec::new();
    let mut lines = data_lines(text);
    match lines.next() {
        Some((_, h))
            if h.split('\t')
                .take(4)
                .eq(["group_id", "group", "topic", "department"]) => {}
        Some((n, _)) => {
            return Err(ConfigError::new(
                file,
                format!("line {n}"),
                "expected the header «group_id<TAB>group<TAB>topic<TAB>department»",
            ));
        }
        None => {
            return Err(ConfigError::new(
                file,
                "file",
                "no topics: expected a header and one line per topic",
            ));
        }
    }
    for (n, line) in lines {
        let f: Vec<&str> = line.split('\t').map(str::trim).collect();
        if f.len() < 4 || f[..4].iter().any(|x| x.is_empty()) {
            return Err(ConfigError::new(
                file,
                format!("line {n}"),
                "expected four non-empty fields separated by tabs: group_id, group, topic, department",
            ));
        }
        let group = match groups.iter_mut().position(|g| g.id == f[0]) {
            Some(i) => &mut groups[i],
            None => {
                groups.push(TopicGroup {
                    id: f[0].to_string(),
                    name: f[1].to_string(),
                    topics: Vec::new(),
                });
                groups.last_mut().expect("just pushed")
            }
        };
        if group.topics.iter().any(|t| t.name == f[2]) {
            return Err(ConfigError::new(
                file,
                format!("line {n}"),
                format!("topic «{}» appears twice in group {}", f[2], f[0]),
            ));
        }
        group.topics.push(Topic {
            name: f[2].to_string(),
            department: f[3].to_string(),
        });
    }
    if groups.is_empty() {
        return Err(ConfigError::new(
            file,
            "file",
            "no topics: expected one line per topic after the header",
        ));
    }
    Ok(Taxonomy { groups })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LexiconFile {
    #[serde(default)]
    cue: Vec<CueSpec>,
    #[serde(default)]
    topic: Vec<TopicSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CueSpec {
    name: String,
    reason: String,
    weight: f32,
    #[serde(default)]
    urgent: bool,
    #[serde(default)]
    follow_up: bool,
    terms: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicSpec {
    group: String,
    topic: String,
    #[serde(default = "one")]
    weight: f32,
    terms: Vec<String>,
}

fn one() -> f32 {
    1.0
}

/// Weight of a term: a longer phrase is more specific, up to a point; each further part of
/// a conjunction adds a little.
fn term_weight(base: f32, term: &str) -> f32 {
    let term = term.trim_start().trim_start_matches('~');
    let parts: Vec<usize> = term
        .split('&')
        .map(|p| p.split_whitespace().count())
        .collect();
    let longest = parts.iter().copied().max().unwrap_or(1).max(1);
    let phrase = (1.0 + 0.25 * (longest as f32 - 1.0)).min(1.75);
    base * (phrase + 0.25 * (parts.len() as f32 - 1.0))
}

fn parse_lexicon(
    file: &Path,
    text: &str,
    taxonomy: &Taxonomy,
    topics: &[(u16, u16)],
    builder: &mut MatcherBuilder,
) -> Result<Vec<Cue>, ConfigError> {
    let lex: LexiconFile = toml::from_str(text).map_err(|e| {
        let key = match e.span() {
            Some(span) => format!(
                "line {}",
                text[..span.start.min(text.len())].lines().count().max(1)
            ),
            None => "file".to_string(),
        };
        ConfigError::new(file, key, format!("not a valid lexicon: {}", e.message()))
    })?;
    let mut cues = Vec::new();
    for (i, c) in lex.cue.iter().enumerate() {
        if c.terms.is_empty() {
            return Err(ConfigError::new(
                file,
                format!("cue[{i}] ({}).terms", c.name),
                "expected at least one term",
            ));
        }
        if !c.weight.is_finite() {
            return Err(ConfigError::new(
                file,
                format!("cue[{i}] ({}).weight", c.name),
                "expected a number",
            ));
        }
        for (j, t) in c.terms.iter().enumerate() {
            builder
                .add(t, Owner::Cue(i as u32), term_weight(c.weight, t), 1)
                .map_err(|e| {
                    ConfigError::new(file, format!("cue[{i}] ({}).terms[{j}]", c.name), e)
                })?;
        }
        cues.push(Cue {
            name: c.name.clone(),
            reason: c.reason.clone(),
            weight: c.weight,
            urgent: c.urgent,
            follow_up: c.follow_up,
        });
    }
    for (i, spec) in lex.topic.iter().enumerate() {
        let key = format!("topic[{i}]");
        let Some(g) = taxonomy.groups.iter().position(|g| g.id == spec.group) else {
            return Err(ConfigError::new(
                file,
                format!("{key}.group"),
                format!("«{}» is not a group_id of the taxonomy", spec.group),
            ));
        };
        let Some(t) = taxonomy.groups[g]
            .topics
            .iter()
            .position(|t| t.name == spec.topic)
        else {
            return Err(ConfigError::new(
                file,
                format!("{key}.topic"),
                format!(
                    "«{}» is not a topic of group {} in the taxonomy",
                    spec.topic, spec.group
                ),
            ));
        };
        if spec.terms.is_empty() {
            return Err(ConfigError::new(
                file,
                format!("{key}.terms"),
                "expected at least one term",
            ));
        }
        let flat = topics
            .iter()
            .position(|&x| x == (g as u16, t as u16))
            .expect("every taxonomy topic is in the flat list");
        for (j, term) in spec.terms.iter().enumerate() {
            builder
                .add(
                    term,
                    Owner::Topic(flat as u32),
                    term_weight(spec.weight, term),
                    1,
                )
                .map_err(|e| ConfigError::new(file, format!("{key}.terms[{j}]"), e))?;
        }
    }
    Ok(cues)
}

/// Parse the gazetteer (`streets == false`: name, kind, territory, lat, lon, population,
/// status, aliases, strict) or the street list (name, kind, territory, status, aliases,
/// strict). Lines without a territory are places not yet placed: kept out.
fn parse_places(
    file: &Path,
    text: &str,
    territories: &[String],
    streets: bool,
) -> Result<Vec<(Place, Vec<String>)>, ConfigError> {
    let (header, aliases_col, strict_col): (&[&str], usize, usize) = if streets {
        (
            &["name", "kind", "territory", "status", "aliases", "strict"],
            4,
            5,
        )
    } else {
        (
            &[
                "name",
                "kind",
                "territory",
                "lat",
                "lon",
                "population",
                "status",
                "aliases",
                "strict",
            ],
            7,
            8,
        )
    };
    let mut lines = data_lines(text);
    match lines.next() {
        Some((_, h)) if h.split('\t').map(str::trim).eq(header.iter().copied()) => {}
        Some((n, _)) => {
            return Err(ConfigError::new(
                file,
                format!("line {n}"),
                format!("expected the header «{}» (tab-separated)", header.join(" ")),
            ));
        }
        None => {
            return Err(ConfigError::new(
                file,
                "file",
                "empty: expected a header and one line per place",
            ));
        }
    }
    let mut out = Vec::new();
    for (n, line) in lines {
        let f: Vec<&str> = line.split('\t').map(str::trim).collect();
        let get = |i: usize| f.get(i).copied().unwrap_or("");
        let (name, kind, territory) = (get(0), get(1), get(2));
        if name.is_empty() || kind.is_empty() {
            return Err(ConfigError::new(
                file,
                format!("line {n}"),
                "expected a name and a kind",
            ));
        }
        if territory.is_empty() {
            continue;
        }
        if !territories.iter().any(|t| t == territory) && !SPECIAL_TERRITORIES.contains(&territory)
        {
            return Err(ConfigError::new(
                file,
                format!("line {n} ({name})"),
                format!(
                    "territory «{territory}» is not a territory of the org chart ({}) nor «district» or «outside»",
                    territories.join(", ")
                ),
            ));
        }
        let (strict, weak) = match get(strict_col) {
            "" | "no" | "нет" => (false, false),
            "yes" | "да" => (true, false),
            "weak" => (false, true),
            other => {
                return Err(ConfigError::new(
                    file,
                    format!("line {n} ({name}).strict"),
                    format!("expected «yes», «no» or «weak», found «{other}»"),
                ));
            }
        };
        let class = match (territory, kind) {
            ("outside", _) => PlaceClass::Outside,
            ("district", _) => PlaceClass::District,
            (_, "город") => PlaceClass::Town,
            (
                _,
                "улица" | "площадь" | "переулок" | "проспект" | "проезд" | "шоссе" | "микрорайон",
            ) => PlaceClass::Street,
            _ if streets => PlaceClass::Landmark,
            _ => PlaceClass::Village,
        };
        let aliases = get(aliases_col)
            .split(';')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        out.push((
            Place {
                name: name.to_string(),
                kind: kind.to_string(),
                territory: territory.to_string(),
                class,
                strict,
                weak,
            },
            aliases,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn territories() -> Vec<String> {
        EMBEDDED_TERRITORIES.iter().map(|s| s.to_string()).collect()
    }

    fn load(tax: &str, lex: &str, gaz: &str, streets: &str) -> Result<Knowledge, ConfigError> {
        Knowledge::from_texts(
            (Path::new("taxonomy.tsv"), tax),
            (Path::new("lexicon.toml"), lex),
            (Path::new("gazetteer.tsv"), gaz),
            (Path::new("streets.tsv"), streets),
            &territories(),
        )
    }

    const TAX: &str = "group_id\tgroup\ttopic\tdepartment\ndorogi\tДороги\tЯмы\tzhkh\n";
    const GAZ: &str = "name\tkind\tterritory\tlat\tlon\tpopulation\tstatus\taliases\tstrict\nШопша\tсело\tshopsha\t\t\t\tv\t\t\n";
    const STREETS: &str =
        "name\tkind\tterritory\tstatus\taliases\tstrict\nКирова\tулица\tgavrilov-yam\tu\t\t\n";

    #[test]
    fn embedded_knowledge_is_valid() {
        let k = Knowledge::embedded();
        assert_eq!(k.taxonomy.groups.len(), 26);
        assert_eq!(k.topics.len(), 247);
        assert!(!k.cues.is_empty());
        assert!(k.places.iter().any(|p| p.class == PlaceClass::Outside));
    }

    #[test]
    fn valid_small_files_load() {
        let k = load(
            TAX,
            "[[topic]]\ngroup = \"dorogi\"\ntopic = \"Ямы\"\nterms = [\"ям*\"]\n",
            GAZ,
            STREETS,
        )
        .unwrap();
        assert_eq!(k.places.len(), 2);
        assert_eq!(
            k.taxonomy.default_department("dorogi", Some("Ямы")),
            Some("zhkh")
        );
    }

    #[test]
    fn errors_name_file_key_and_expectation() {
        let e = load(
            "group_id\tgroup\ttopic\tdepartment\ndorogi\tДороги\tЯмы\t\n",
            "",
            GAZ,
            STREETS,
        )
        .unwrap_err();
        assert_eq!(
            (e.file.to_str().unwrap(), e.key.as_str()),
            ("taxonomy.tsv", "line 2")
        );
        assert!(e.problem.contains("department"));

        let e = load(
            TAX,
            "[[topic]]\ngroup = \"dorogi\"\ntopic = \"Нет такой\"\nterms = [\"ям*\"]\n",
            GAZ,
            STREETS,
        )
        .unwrap_err();
        assert_eq!(
            (e.file.to_str().unwrap(), e.key.as_str()),
            ("lexicon.toml", "topic[0].topic")
        );

        let e = load(
            TAX,
            "[[topic]]\ngroup = \"nope\"\ntopic = \"Ямы\"\nterms = [\"ям*\"]\n",
            GAZ,
            STREETS,
        )
        .unwrap_err();
        assert_eq!(e.key, "topic[0].group");

        let e = load(
            TAX,
            "[[topic]]\ngroup = \"dorogi\"\ntopic = \"Ямы\"\nterms = [\"я*\"]\n",
            GAZ,
            STREETS,
        )
        .unwrap_err();
        assert_eq!(e.key, "topic[0].terms[0]");

        let e = load(TAX, "[[topic]]\ngroup = \"dorogi\"\n", GAZ, STREETS).unwrap_err();
        assert_eq!(e.file.to_str().unwrap(), "lexicon.toml");
        assert!(e.key.starts_with("line"), "{e}");

        let bad_gaz = GAZ.replace("shopsha", "atlantis");
        let e = load(TAX, "", &bad_gaz, STREETS).unwrap_err();
        assert_eq!(
            (e.file.to_str().unwrap(), e.key.as_str()),
            ("gazetteer.tsv", "line 2 (Шопша)")
        );
        assert!(e.problem.contains("atlantis"));

        let e = load(TAX, "", GAZ, "name\tkind\n").unwrap_err();
        assert_eq!(
            (e.file.to_str().unwrap(), e.key.as_str()),
            ("streets.tsv", "line 1")
        );
    }
}
