//! The one-pass matcher behind topics, cues and place names.
//!
//! Every word pattern of the lexicon and the gazetteer becomes one Aho-Corasick pattern over
//! the normalized text (` слово ` for a whole word, ` стем` for a word start), so a post is
//! scanned once whatever the size of the lexicon. Phrases (words in order, a few words apart
//! at most) and conjunctions (`A & B`: both anywhere in the post) are then checked on the
//! handful of words that matched.

use super::normalize::{Normalized, narrow, normalize};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::collections::HashMap;

/// Who a term belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    /// Index into the flat topic list of the knowledge.
    Topic(u32),
    /// Index into the cue list.
    Cue(u32),
    /// Index into the place list.
    Place(u32),
}

#[derive(Clone, Debug)]
struct Phrase {
    atoms: Vec<u32>,
    max_gap: u8,
}

/// One term: a conjunction of phrases, owned by a topic, a cue or a place.
#[derive(Clone, Debug)]
pub struct Term {
    phrases: Vec<u32>,
    pub owner: Owner,
    pub weight: f32,
    /// The term names a thing («~фонар*», «~почт*»), not a problem: it tells the topic, not
    /// that something is wrong.
    pub neutral: bool,
    /// The term as written in the configuration (without the `~`).
    pub source: String,
}

/// Where a phrase was found: token range, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhraseHit {
    pub phrase: u32,
    pub first: u32,
    pub last: u32,
}

/// A matched term and where its first phrase was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TermHit {
    pub term: u32,
    pub first: u32,
    pub last: u32,
}

/// Collects terms, then compiles them into a [`Matcher`].
#[derive(Default)]
pub struct MatcherBuilder {
    atom_ids: HashMap<(String, bool), u32>,
    atoms: Vec<(String, bool)>,
    phrase_ids: HashMap<(Vec<u32>, u8), u32>,
    phrases: Vec<Phrase>,
    terms: Vec<Term>,
    /// Terms already added, so that a term written twice for one owner counts once.
    seen: std::collections::HashSet<(Owner, Vec<u32>)>,
}

impl MatcherBuilder {
    fn atom(&mut self, word: String, prefix: bool) -> u32 {
        let key = (word, prefix);
        if let Some(&id) = self.atom_ids.get(&key) {
            return id;
        }
        let id = self.atoms.len() as u32;
        self.atoms.push(key.clone());
        self.atom_ids.insert(key, id);
        id
    }

    /// Add a term written in the lexicon syntax: words separated by spaces, `*` at the end of
    /// a word for "any ending", `&` between phrases that must all occur. `max_gap` is how many
    /// other words may stand between two words of a phrase. A leading `~` marks the term
    /// neutral (see [`Term::neutral`]).
    pub fn add(
        &mut self,
        source: &str,
        owner: Owner,
        weight: f32,
        max_gap: u8,
    ) -> Result<(), String> {
        let (source, neutral) = match source.trim_start().strip_prefix('~') {
            Some(rest) => (rest, true),
            None => (source, false),
        };
        let mut phrases = Vec::new();
        for part in source.split('&') {
            let mut atoms = Vec::new();
            for raw_word in part.split_whitespace() {
                let prefix = raw_word.ends_with('*');
                let body = raw_word.trim_end_matches('*');
                if body.contains('*') {
                    return Err(format!(
                        "«{raw_word}»: «*» is allowed only at the end of a word"
                    ));
                }
                let n = normalize(body);
                let count = n.tokens.len();
                if count == 0 {
                    return Err(format!("«{raw_word}»: no letters or digits"));
                }
                for i in 0..count {
                    let w = n.word(i).to_string();
                    let p = prefix && i + 1 == count;
                    if p && w.chars().count() < 2 {
                        return Err(format!("«{raw_word}»: a stem needs at least 2 letters"));
                    }
                    atoms.push(self.atom(w, p));
                }
            }
            if atoms.is_empty() {
                return Err("an empty phrase (check «&»)".to_string());
            }
            let key = (atoms, max_gap);
            let id = match self.phrase_ids.get(&key) {
                Some(&id) => id,
                None => {
                    let id = self.phrases.len() as u32;
                    self.phrases.push(Phrase {
                        atoms: key.0.clone(),
                        max_gap,
                    });
                    self.phrase_ids.insert(key, id);
                    id
                }
            };
            phrases.push(id);
        }
        let mut key = phrases.clone();
        key.sort_unstable();
        if !self.seen.insert((owner, key)) {
            return Ok(());
        }
        self.terms.push(Term {
            phrases,
            owner,
            weight,
            neutral,
            source: source.trim().to_string(),
        });
        Ok(())
    }

    pub fn build(self) -> Matcher {
        let patterns: Vec<Vec<u8>> = self
            .atoms
            .iter()
            .map(|(w, prefix)| {
                let p = if *prefix {
                    format!(" {w}")
                } else {
                    format!(" {w} ")
                };
                p.chars().map(narrow).collect()
            })
            .collect();
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .or_else(|_| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)
            })
            .expect("patterns of bounded size always compile");
        let mut by_first_atom = vec![Vec::new(); self.atoms.len()];
        for (i, p) in self.phrases.iter().enumerate() {
            by_first_atom[p.atoms[0] as usize].push(i as u32);
        }
        let mut by_phrase = vec![Vec::new(); self.phrases.len()];
        for (i, t) in self.terms.iter().enumerate() {
            for &p in &t.phrases {
                if !by_phrase[p as usize].contains(&(i as u32)) {
                    by_phrase[p as usize].push(i as u32);
                }
            }
        }
        Matcher {
            ac,
            phrases: self.phrases,
            by_first_atom,
            terms: self.terms,
            by_phrase,
        }
    }
}

/// The compiled matcher.
#[derive(Clone, Debug)]
pub struct Matcher {
    ac: AhoCorasick,
    phrases: Vec<Phrase>,
    by_first_atom: Vec<Vec<u32>>,
    terms: Vec<Term>,
    by_phrase: Vec<Vec<u32>>,
}

impl Matcher {
    pub fn term(&self, id: u32) -> &Term {
        &self.terms[id as usize]
    }

    /// Every phrase occurrence in `n`, in token order.
    pub fn phrases(&self, n: &Normalized) -> Vec<PhraseHit> {
        let ntok = n.tokens.len();
        // (token, atom) pairs; the matcher reports them in order of match end, so sort.
        let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(16);
        for m in self.ac.find_overlapping_iter(n.narrow.as_slice()) {
            let tok = n.token_at(m.start() + 1) as u32;
            pairs.push((tok, m.pattern().as_u32()));
        }
        if pairs.is_empty() {
            return Vec::new();
        }
        pairs.sort_unstable();
        pairs.dedup();
        // offsets[t]..offsets[t + 1] are the pairs of token t.
        let mut offsets = vec![0u32; ntok + 1];
        for &(t, _) in &pairs {
            offsets[t as usize + 1] += 1;
        }
        for t in 0..ntok {
            offsets[t + 1] += offsets[t];
        }
        let has = |t: usize, atom: u32| {
            pairs[offsets[t] as usize..offsets[t + 1] as usize]
                .iter()
                .any(|&(_, a)| a == atom)
        };
        let mut hits = Vec::new();
        for &(tok, atom) in &pairs {
            'phrase: for &p in &self.by_first_atom[atom as usize] {
                let phrase = &self.phrases[p as usize];
                let mut at = tok as usize;
                for &next in &phrase.atoms[1..] {
                    let from = at + 1;
                    let to = (at + 1 + phrase.max_gap as usize).min(ntok.saturating_sub(1));
                    match (from..=to).find(|&t| t < ntok && has(t, next)) {
                        Some(t) => at = t,
                        None => continue 'phrase,
                    }
                }
                hits.push(PhraseHit {
                    phrase: p,
                    first: tok,
                    last: at as u32,
                });
            }
        }
        hits
    }

    /// The terms whose phrases all occur among `hits`, ignoring phrase hits that touch a
    /// token for which `masked` is true. Each term is reported once, at its first occurrence.
    pub fn terms(&self, hits: &[PhraseHit], masked: impl Fn(u32, u32) -> bool) -> Vec<TermHit> {
        let live: Vec<&PhraseHit> = hits.iter().filter(|h| !masked(h.first, h.last)).collect();
        let mut out: Vec<TermHit> = Vec::new();
        for h in &live {
            for &t in &self.by_phrase[h.phrase as usize] {
                if out.iter().any(|o| o.term == t) {
                    continue;
                }
                let term = &self.terms[t as usize];
                if term
                    .phrases
                    .iter()
                    .all(|&p| p == h.phrase || live.iter().any(|l| l.phrase == p))
                {
                    out.push(TermHit {
                        term: t,
                        first: h.first,
                        last: h.last,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(terms: &[&str]) -> Matcher {
        let mut b = MatcherBuilder::default();
        for (i, t) in terms.iter().enumerate() {
            b.add(t, Owner::Topic(i as u32), 1.0, 1).unwrap();
        }
        b.build()
    }

    fn found(m: &Matcher, text: &str) -> Vec<u32> {
        let n = normalize(text);
        let mut v: Vec<u32> = m
            .terms(&m.phrases(&n), |_, _| false)
            .iter()
            .map(|h| match m.term(h.term).owner {
                Owner::Topic(i) => i,
                _ => unreachable!(),
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn stems_whole_words_phrases_and_conjunctions() {
        let m = matcher(&["ям", "выбоин*", "нет вод*", "контейнер* & не вывоз*"]);
        assert_eq!(found(&m, "Одни ямы и выбоины"), [1]); // «ям» is a whole word, not a stem
        assert_eq!(found(&m, "сплошные ям на дороге"), [0]);
        assert_eq!(found(&m, "Нет холодной воды"), [2]); // one word in between is allowed
        assert_eq!(found(&m, "нет у нас в доме воды"), Vec::<u32>::new());
        assert_eq!(found(&m, "Контейнеры полные, мусор не вывозят"), [3]);
        assert_eq!(found(&m, "Контейнеры новые поставили"), Vec::<u32>::new());
    }

    #[test]
    fn masked_tokens_do_not_count() {
        let m = matcher(&["ям"]);
        let n = normalize("#ГавриловЯм ям");
        let hits = m.phrases(&n);
        assert_eq!(hits.len(), 2);
        assert_eq!(m.terms(&hits, |f, l| f <= 1 && l >= 1).len(), 1);
        assert_eq!(m.terms(&hits, |_, _| true).len(), 0);
    }

    #[test]
    fn neutral_terms_are_marked() {
        let mut b = MatcherBuilder::default();
        b.add("~фонар*", Owner::Topic(0), 1.0, 1).unwrap();
        b.add("не горят фонар*", Owner::Topic(0), 1.0, 1).unwrap();
        let m = b.build();
        let n = normalize("фонари");
        let hits = m.terms(&m.phrases(&n), |_, _| false);
        assert_eq!(hits.len(), 1);
        assert!(m.term(hits[0].term).neutral);
        assert_eq!(m.term(hits[0].term).source, "фонар*");
        assert!(!m.term(1).neutral);
    }

    #[test]
    fn a_term_written_twice_counts_once() {
        let m = matcher(&["ям", "ям"]);
        let mut b = MatcherBuilder::default();
        b.add("ям", Owner::Topic(0), 1.0, 1).unwrap();
        b.add("ям", Owner::Topic(0), 1.0, 1).unwrap();
        b.add("ям", Owner::Topic(1), 1.0, 1).unwrap();
        let dedup = b.build();
        assert_eq!(dedup.terms.len(), 2);
        assert_eq!(m.terms.len(), 2); // different owners in `matcher`: both kept
    }

    #[test]
    fn bad_terms_are_rejected() {
        let mut b = MatcherBuilder::default();
        assert!(b.add("в*ода", Owner::Topic(0), 1.0, 1).is_err());
        assert!(b.add("я*", Owner::Topic(0), 1.0, 1).is_err());
        assert!(b.add("вода & ", Owner::Topic(0), 1.0, 1).is_err());
    }
}
