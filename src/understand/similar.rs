//! Near-duplicate signatures: the same problem told again, on another platform, in other words.
//!
//! A fingerprint is the sorted set of hashed word stems (the first five letters of each
//! content word), so «порыв водопровода на Кирова» and «на Кирова прорвало водопровод» share
//! most of it. Similarity is the share of the shorter post's stems found in the other, so a
//! one-line comment can join a long news item.

use super::normalize::Normalized;

/// Letters kept of each word: a crude, fast stemmer that is right for most Russian endings.
const STEM_CHARS: usize = 5;

/// Function words and the vocabulary of every complaint, which say nothing about which one.
const STOP: &[&str] = &[
    "когда",
    "котор",
    "котор",
    "этого",
    "этому",
    "этот",
    "чтобы",
    "потом",
    "после",
    "перед",
    "всего",
    "всех",
    "всем",
    "очень",
    "опять",
    "снова",
    "уже",
    "даже",
    "только",
    "тоже",
    "также",
    "почему",
    "сколь",
    "можно",
    "нужно",
    "надо",
    "есть",
    "было",
    "были",
    "будет",
    "будут",
    "сегод",
    "вчера",
    "завтр",
    "здесь",
    "там",
    "тут",
    "какой",
    "какая",
    "каки",
    "кто-н",
    "никто",
    "ничег",
    "никак",
    "нибуд",
    "вообщ",
    "просто",
    "пожал",
    "здрав",
    "добры",
    "жител",
    "людей",
    "люди",
    "говор",
    "сказа",
    "обеща",
    "админ",
    "ответ",
    "пишут",
    "писал",
    "жалую",
    "жалоб",
    "просим",
    "прошу",
    "прося",
    "нашем",
    "наших",
    "наши",
    "своих",
    "свой",
    "своем",
    "улиц",
    "улице",
    "улицы",
    "район",
    "сейча",
    "снова",
];

/// The stop words by their FNV-1a hash, sorted: a lookup is a binary search on the hash
/// (the word's hash is computed for the fingerprint anyway) and one string comparison.
fn stop_words() -> &'static [(u32, &'static str)] {
    static STOP_SET: std::sync::LazyLock<Vec<(u32, &'static str)>> =
        std::sync::LazyLock::new(|| {
            let mut set: Vec<(u32, &'static str)> = STOP.iter().map(|w| (fnv1a(w), *w)).collect();
            set.sort_unstable();
            set.dedup();
            set
        });
    &STOP_SET
}

fn is_stop(hash: u32, word: &str) -> bool {
    let set = stop_words();
    let from = set.partition_point(|(h, _)| *h < hash);
    set[from..]
        .iter()
        .take_while(|(h, _)| *h == hash)
        .any(|(_, w)| *w == word)
}

fn fnv1a(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The fingerprint of a normalized post.
pub fn fingerprint(n: &Normalized) -> Vec<u32> {
    let mut out = Vec::with_capacity(n.tokens.len());
    for i in 0..n.tokens.len() {
        let w = n.word(i);
        let chars = w.chars().count();
        let numeric = w.starts_with(|c: char| c.is_ascii_digit());
        if numeric {
            // House numbers tell buildings apart; longer numbers are dates and sums.
            if w.len() <= 3 {
                out.push(fnv1a(w));
            }
            continue;
        }
        if chars < 4 {
            continue;
        }
        let stem = match w.char_indices().nth(STEM_CHARS) {
            Some((end, _)) => &w[..end],
            None => w,
        };
        let hash = fnv1a(stem);
        if is_stop(hash, stem) || (stem.len() < w.len() && is_stop(fnv1a(w), w)) {
            continue;
        }
        out.push(hash);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Share of the smaller fingerprint found in the other, 0..1 (0 when either is empty).
pub fn similarity(a: &[u32], b: &[u32]) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f32 / a.len().min(b.len()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::understand::normalize::normalize;

    fn fp(s: &str) -> Vec<u32> {
        fingerprint(&normalize(s))
    }

    #[test]
    fn same_problem_in_other_words_is_similar() {
        let a = fp("Порыв водопровода на Кирова, вода заливает дорогу");
        let b = fp("На Кирова прорвало водопровод, вода по всей дороге");
        let c = fp("Продам коляску, самовывоз с Шишкина");
        assert!(similarity(&a, &b) >= 0.5, "{}", similarity(&a, &b));
        assert!(similarity(&a, &c) < 0.2);
        assert_eq!(similarity(&a, &[]), 0.0);
        assert!((similarity(&a, &a) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn house_numbers_count_dates_do_not() {
        assert_ne!(fp("Строителей 12"), fp("Строителей 14"));
        assert_eq!(fp("с 2024 года"), fp("с 2025 года"));
    }
}
