//! Places: the gazetteer (settlements, districts, other towns) and the street list, the word
//! forms a place name takes in Russian, and the territory a post is about.

use super::matcher::{MatcherBuilder, Owner, TermHit};
use super::normalize::{Normalized, normalize};

/// What kind of place an entry is, which decides how it counts for the territory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaceClass {
    /// The town that is the centre of its territory (`город`).
    Town,
    /// A village (`село`, `деревня`, `посёлок`, …).
    Village,
    /// A street or square of a town.
    Street,
    /// A landmark: an enterprise, a museum, a river, a hospital…
    Landmark,
    /// The district as a whole.
    District,
    /// Another town, district or region.
    Outside,
}

/// One entry of the gazetteer or the street list.
#[derive(Clone, Debug)]
pub struct Place {
    pub name: String,
    pub kind: String,
    /// Territory id, `district` or `outside`.
    pub territory: String,
    pub class: PlaceClass,
    /// The name is also an ordinary word («Великое спасибо», «День Победы»): count it only
    /// when written with a capital after a preposition or a place word.
    pub strict: bool,
    /// A generic landmark («стадион», «Дом культуры», «в городе»): it places a post in its
    /// territory only when nothing else does (no other place, no community territory).
    pub weak: bool,
}

impl Place {
    /// How the place is shown: «с. Великое», «д. Поляна», «Гаврилов-Ям».
    pub fn label(&self) -> String {
        let abbr = match self.kind.as_str() {
            "село" => "с. ",
            "деревня" => "д. ",
            "посёлок" | "поселок" => "п. ",
            "улица" => "ул. ",
            "переулок" => "пер. ",
            "проспект" => "пр-т ",
            _ => "",
        };
        format!("{abbr}{}", self.name)
    }
}

/// Word forms of a Russian place name in the nominative, one list per word.
///
/// The declension is guessed from the ending, which is right for the names of this part of
/// Russia (Великое → Великом, Великого; Митино → Митине; Шопша → Шопше; Заячий Холм → Заячьем
/// Холме). Indeclinable names keep their nominative among the forms.
pub fn word_forms(word: &str) -> Vec<String> {
    let w = word.to_lowercase().replace('ё', "е");
    let strip = |n: usize| {
        w.chars()
            .take(w.chars().count().saturating_sub(n))
            .collect::<String>()
    };
    let with = |stem: &str, ends: &[&str]| {
        ends.iter()
            .map(|e| format!("{stem}{e}"))
            .collect::<Vec<_>>()
    };
    let mut forms = if w.ends_with("ое") || w.ends_with("ее") {
        with(
            &strip(2),
            &["ое", "ого", "ом", "ому", "им", "ее", "его", "ем", "ему"],
        )
    } else if w.ends_with("ий") || w.ends_with("ый") {
        let s = strip(2);
        let mut f = with(
            &s,
            &["ий", "ый", "ого", "ом", "ому", "им", "его", "ем", "ему"],
        );
        f.extend(with(&s, &["ьего", "ьем", "ьему", "ьим", "ье", "ья", "ьей"]));
        f
    } else if w.ends_with("ая") || w.ends_with("яя") {
        with(&strip(2), &["ая", "ой", "ую", "ою", "яя", "ей", "юю"])
    } else if w.ends_with("ые") || w.ends_with("ие") {
        with(
            &strip(2),
            &["ые", "ие", "ых", "их", "ым", "им", "ыми", "ими"],
        )
    } else if w.ends_with('о') {
        with(&strip(1), &["о", "а", "у", "ом", "е"])
    } else if w.ends_with('а') {
        with(&strip(1), &["а", "ы", "и", "е", "у", "ой", "ою"])
    } else if w.ends_with('я') {
        with(&strip(1), &["я", "и", "е", "ю", "ей", "ью"])
    } else if w.ends_with('ь') {
        with(&strip(1), &["ь", "я", "и", "е", "ю", "ем", "ью"])
    } else if w.ends_with('й') {
        with(&strip(1), &["й", "я", "е", "ю", "ем"])
    } else if w.ends_with(|c: char| "бвгджзклмнпрстфхцчшщ".contains(c)) {
        with(&w, &["", "а", "е", "у", "ом", "ы", "ам", "ах"])
    } else {
        vec![w.clone()]
    };
    forms.sort();
    forms.dedup();
    forms
}

/// All lexicon terms that name `name` in its word forms (a name already written as a pattern,
/// with `*`, is taken as it is).
pub fn name_terms(name: &str) -> Vec<String> {
    if name.contains('*') {
        return vec![name.to_string()];
    }
    let n = normalize(name);
    let mut terms = vec![String::new()];
    for i in 0..n.tokens.len() {
        let w = n.word(i);
        let forms = if w.chars().all(|c| c.is_ascii_digit()) || w.chars().count() < 3 {
            vec![w.to_string()]
        } else {
            word_forms(w)
        };
        let mut next = Vec::with_capacity(terms.len() * forms.len());
        for t in &terms {
            for f in &forms {
                next.push(if t.is_empty() {
                    f.clone()
                } else {
                    format!("{t} {f}")
                });
            }
        }
        terms = next;
    }
    terms.retain(|t| !t.is_empty());
    terms
}

/// Register every name and alias of `places` with the matcher.
pub fn register(
    places: &[(Place, Vec<String>)],
    b: &mut MatcherBuilder,
) -> Result<(), (usize, String)> {
    for (i, (place, aliases)) in places.iter().enumerate() {
        for name in std::iter::once(&place.name).chain(aliases) {
            for term in name_terms(name) {
                b.add(&term, Owner::Place(i as u32), 1.0, 0)
                    .map_err(|e| (i, e))?;
            }
        }
    }
    Ok(())
}

/// Words after which a capitalised word is a place name rather than an ordinary word.
const PLACE_CONTEXT: &[&str] = &[
    "в",
    "во",
    "из",
    "до",
    "у",
    "под",
    "от",
    "около",
    "возле",
    "за",
    "через",
    "по",
    "на",
    "с",
    "со",
    "к",
    "ко",
    "между",
    "близ",
    "над",
    "село",
    "селе",
    "села",
    "селу",
    "деревня",
    "деревне",
    "деревни",
    "деревню",
    "поселок",
    "поселке",
    "поселка",
    "д",
    "п",
    "пос",
    "г",
    "город",
    "городе",
    "города",
    "жители",
    "жителей",
    "жителям",
    "улица",
    "улице",
    "улицы",
    "улицу",
    "улицах",
    "улицам",
    "ул",
    "пр",
    "проспект",
    "пер",
    "переулок",
    "переулке",
    "площадь",
    "площади",
    "проезд",
    "районе",
    "угол",
    "углу",
    "перекресток",
    "перекрестке",
    "напротив",
    "нас",
    "вдоль",
    "мимо",
    "and",
];

/// Words after which a capitalised word is a street name.
const STREET_CONTEXT: &[&str] = &[
    "на",
    "по",
    "с",
    "со",
    "от",
    "до",
    "у",
    "около",
    "возле",
    "вдоль",
    "районе",
    "угол",
    "углу",
    "перекресток",
    "перекрестке",
    "напротив",
    "улица",
    "улице",
    "улицы",
    "улицу",
    "улицей",
    "улицах",
    "улицам",
    "ул",
    "пр",
    "проспект",
    "проспекте",
    "пер",
    "переулок",
    "переулке",
    "площадь",
    "площади",
    "мимо",
    "за",
    "к",
];

/// A place named in a post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaceHit {
    pub place: u32,
    pub first: u32,
    pub last: u32,
    /// An outside place in the locative («в Ярославле»): the post is about it, not a trip to it.
    pub located: bool,
}

/// The place hits among `terms` that pass the context rules.
pub fn accept(
    places: &[Place],
    n: &Normalized,
    terms: &[TermHit],
    owner_of: impl Fn(u32) -> Owner,
) -> Vec<PlaceHit> {
    let mut out: Vec<PlaceHit> = Vec::new();
    for t in terms {
        let Owner::Place(p) = owner_of(t.term) else {
            continue;
        };
        let place = &places[p as usize];
        let first = &n.tokens[t.first as usize];
        if first.mention {
            continue;
        }
        let prev = (t.first > 0).then(|| n.word(t.first as usize - 1));
        let next_is_number = (t.last as usize + 1) < n.tokens.len()
            && n.word(t.last as usize + 1)
                .starts_with(|c: char| c.is_ascii_digit());
        let ok = match place.class {
            PlaceClass::Street => {
                first.capital
                    && (prev.is_some_and(|w| STREET_CONTEXT.contains(&w)) || next_is_number)
                    || prev.is_some_and(|w| {
                        matches!(w, "ул" | "улица" | "улице" | "улицы" | "улицу" | "улицах")
                    })
            }
            _ if place.strict => {
                (first.capital || first.hashtag)
                    && (!first.sentence_start && !first.hashtag && prev.is_none_or(|w| w != "с")
                        || prev.is_some_and(|w| PLACE_CONTEXT.contains(&w)))
            }
            _ => true,
        };
        if !ok {
            continue;
        }
        let located = place.class == PlaceClass::Outside
            && prev.is_some_and(|w| matches!(w, "в" | "во" | "под"))
            && n.word(t.last as usize).ends_with(['е', 'и']);
        // A longer name covering a shorter one wins («Ростовский район» over «Ростов»).
        if out.iter().any(|o| {
            o.first <= t.first && o.last >= t.last && (o.last - o.first) > (t.last - t.first)
        }) {
            continue;
        }
        out.retain(|o| {
            !(t.first <= o.first && t.last >= o.last && (t.last - t.first) > (o.last - o.first))
        });
        out.push(PlaceHit {
            place: p,
            first: t.first,
            last: t.last,
            located,
        });
    }
    out.sort_by_key(|h| h.first);
    out
}

/// The territory of a post and the most precise place named, with the reason.
pub struct Located {
    pub territory: Option<String>,
    pub place: Option<String>,
    pub reason: String,
}

/// Decide the territory from the accepted place hits and the community's home territory.
/// `speaks_for_district`: an official or media account without a home territory, whose posts
/// that name no place are about the whole district.
pub fn locate(
    places: &[Place],
    n: &Normalized,
    hits: &[PlaceHit],
    community_territory: Option<&str>,
    speaks_for_district: bool,
) -> Located {
    let class = |h: &PlaceHit| places[h.place as usize].class;
    let quote = |h: &PlaceHit| {
        (h.first..=h.last)
            .map(|i| n.word(i as usize))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let is_local = |h: &&PlaceHit| {
        matches!(
            class(h),
            PlaceClass::Village | PlaceClass::Town | PlaceClass::Street | PlaceClass::Landmark
        )
    };
    let strong: Vec<&PlaceHit> = hits
        .iter()
        .filter(is_local)
        .filter(|h| !places[h.place as usize].weak)
        .collect();
    let weak: Vec<&PlaceHit> = hits
        .iter()
        .filter(is_local)
        .filter(|h| places[h.place as usize].weak)
        .collect();
    let outside = hits.iter().find(|h| class(h) == PlaceClass::Outside);
    let located_outside = hits
        .iter()
        .find(|h| class(h) == PlaceClass::Outside && h.located);
    let district = hits.iter().find(|h| class(h) == PlaceClass::District);
    let out = |h: &PlaceHit| Located {
        territory: Some("outside".into()),
        place: Some(places[h.place as usize].name.clone()),
        reason: format!(
            "место: за пределами округа — {} («{}»)",
            places[h.place as usize].name,
            quote(h)
        ),
    };
    let whole = |h: &PlaceHit| Located {
        territory: Some("district".into()),
        place: None,
        reason: format!("место: весь округ («{}»)", quote(h)),
    };
    // «В Угличе на улице Ленина»: the street is in the other town.
    if let Some(o) = located_outside
        && !strong.iter().any(|h| {
            matches!(class(h), PlaceClass::Village | PlaceClass::Town) || h.first < o.first
        })
    {
        return out(o);
    }
    if let Some(d) = district {
        let mut territories: Vec<&str> = strong
            .iter()
            .map(|h| places[h.place as usize].territory.as_str())
            .collect();
        territories.sort_unstable();
        territories.dedup();
        let only_landmarks = strong.iter().all(|h| class(h) == PlaceClass::Landmark);
        if territories.len() >= 2 || strong.len() >= 3 || only_landmarks {
            return whole(d);
        }
    }
    if !strong.is_empty() {
        return local(places, n, &strong);
    }
    if let Some(t) = community_territory {
        return Located {
            territory: Some(t.to_string()),
            place: None,
            reason: format!("место не названо: территория сообщества ({t})"),
        };
    }
    if !weak.is_empty() {
        return local(places, n, &weak);
    }
    if let Some(o) = outside {
        return out(o);
    }
    if speaks_for_district {
        return Located {
            territory: Some("district".into()),
            place: None,
            reason: "место не названо: официальный или новостной источник округа".into(),
        };
    }
    Located {
        territory: None,
        place: None,
        reason: "место не названо, сообщество без территории".into(),
    }
}

fn local(places: &[Place], n: &Normalized, hits: &[&PlaceHit]) -> Located {
    let rank = |h: &&&PlaceHit| match places[h.place as usize].class {
        PlaceClass::Village => 0,
        _ => 1,
    };
    let best = hits
        .iter()
        .min_by_key(|h| (rank(h), h.first))
        .expect("hits are not empty");
    let territory = places[best.place as usize].territory.clone();
    let place = most_precise(places, n, hits, &territory);
    let words: Vec<&str> = (best.first..=best.last)
        .map(|i| n.word(i as usize))
        .collect();
    Located {
        reason: format!("место: {} («{}»)", place, words.join(" ")),
        territory: Some(territory),
        place: Some(place),
    }
}

fn most_precise(places: &[Place], n: &Normalized, local: &[&PlaceHit], territory: &str) -> String {
    let precision = |c: PlaceClass| match c {
        PlaceClass::Street => 0,
        PlaceClass::Landmark => 1,
        PlaceClass::Village => 2,
        _ => 3,
    };
    let best = local
        .iter()
        .filter(|h| places[h.place as usize].territory == territory)
        .min_by_key(|h| (precision(places[h.place as usize].class), h.first))
        .expect("the territory comes from one of the hits");
    let place = &places[best.place as usize];
    match place.class {
        PlaceClass::Street | PlaceClass::Landmark => {
            let town = places
                .iter()
                .find(|p| p.class == PlaceClass::Town && p.territory == territory)
                .map(|p| p.name.as_str());
            let mut label = match town {
                Some(town) => format!("{town}, {}", place.label()),
                None => place.label(),
            };
            let next = best.last as usize + 1;
            if place.class == PlaceClass::Street && next < n.tokens.len() {
                let w = n.word(next);
                let unit = next + 1 < n.tokens.len()
                    && matches!(
                        n.word(next + 1),
                        "руб"
                            | "рублей"
                            | "р"
                            | "км"
                            | "м"
                            | "метров"
                            | "минут"
                            | "человек"
                            | "тысяч"
                            | "градусов"
                    );
                if w.starts_with(|c: char| c.is_ascii_digit()) && w.len() <= 4 && !unit {
                    label.push_str(&format!(", д. {w}"));
                }
            }
            label
        }
        _ => place.label(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_local_names() {
        assert!(word_forms("Великое").contains(&"великом".to_string()));
        assert!(word_forms("Великое").contains(&"великого".to_string()));
        assert!(word_forms("Митино").contains(&"митине".to_string()));
        assert!(word_forms("Шопша").contains(&"шопше".to_string()));
        assert!(word_forms("Заячий").contains(&"заячьем".to_string()));
        assert!(word_forms("Холм").contains(&"холме".to_string()));
        assert!(word_forms("Ярославль").contains(&"ярославле".to_string()));
        assert!(word_forms("Советская").contains(&"советской".to_string()));
        let t = name_terms("Ильинское-Урусово");
        assert!(t.contains(&"ильинском урусове".to_string()));
        assert_eq!(name_terms("заячье-холмск*"), ["заячье-холмск*"]);
    }
}
