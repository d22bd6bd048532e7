//! Text normalization: one pass over the raw text that produces the lower-cased token stream
//! every later step reads.
//!
//! What it removes or repairs: VK mentions (`[id1|Имя]` keeps `Имя`), links, emoji and other
//! symbols, hashtags (`#ГавриловЯм` → `гаврилов ям`, `#нет_воды` → `нет воды`), repeated
//! punctuation, `ё` (→ `е`) and Latin look-alike letters inside Cyrillic words (`вoдa` with
//! Latin `o`/`a` → `вода`).

/// One word of the normalized text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// Byte range in [`Normalized::text`].
    pub start: u32,
    pub end: u32,
    /// Where the word starts in [`Normalized::narrow`].
    pub narrow_start: u32,
    /// The word began with a capital letter in the original.
    pub capital: bool,
    /// The word opens a sentence (or the post).
    pub sentence_start: bool,
    /// The word came from a hashtag.
    pub hashtag: bool,
    /// The word is the display name of a VK mention (`[club1|Администрация округа]`): it
    /// names a page, not a place or a problem.
    pub mention: bool,
    /// The word stands inside quotation marks: a citation or irony («отремонтировали»).
    pub quoted: bool,
}

/// The normalized text: words in lower case, separated by single spaces, with a space before
/// the first and after the last word (so ` слово` marks a word start and `слово ` a word end).
#[derive(Clone, Debug, Default)]
pub struct Normalized {
    pub text: String,
    /// The same text one byte per character ([`narrow`]): what the matcher scans, half the
    /// bytes of UTF-8 Cyrillic.
    pub narrow: Vec<u8>,
    pub tokens: Vec<Token>,
    /// Question marks in the original (runs count once).
    pub questions: u32,
    /// Exclamation marks in the original (runs count once).
    pub exclamations: u32,
    /// Words of five letters or more written in capitals (shouting; shorter ones are
    /// abbreviations: ЕГЭ, ЦРБ, ЛЭП).
    pub shouted: u32,
    /// Laughing emoji and `))` smileys: a joke, rarely a complaint.
    pub laughs: u32,
    /// Cyrillic letters in the original.
    pub cyrillic: u32,
    /// Latin letters in the original.
    pub latin: u32,
    /// Letters of other scripts.
    pub other_letters: u32,
    /// Letters not in Russian of Ukrainian (і ї є ґ; і is Belarusian too).
    pub ukrainian: u32,
    /// Belarusian-only letters (ў).
    pub belarusian: u32,
}

impl Normalized {
    pub fn word(&self, i: usize) -> &str {
        let t = &self.tokens[i];
        &self.text[t.start as usize..t.end as usize]
    }

    /// Index of the token that starts at byte `pos` of [`Normalized::narrow`] (or contains it).
    pub fn token_at(&self, pos: usize) -> usize {
        match self
            .tokens
            .binary_search_by(|t| (t.narrow_start as usize).cmp(&pos))
        {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }
}

/// `char::is_alphanumeric` with a fast path for ASCII and basic Cyrillic, which is nearly
/// all of the text (the general lookup dominated the profile).
#[inline]
fn is_word_char(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' | '\u{0400}'..='\u{045F}' => true,
        _ if c.is_ascii() => false,
        _ => c.is_alphanumeric(),
    }
}

/// Lower case of a letter, `ё` folded to `е`, with the same fast path.
#[inline]
fn lower(c: char) -> Option<char> {
    Some(match c {
        'a'..='z' | 'а'..='я' | '0'..='9' => c,
        'A'..='Z' => c.to_ascii_lowercase(),
        'А'..='Я' => char::from_u32(c as u32 + 0x20)?,
        'ё' | 'Ё' => 'е',
        _ => return None,
    })
}

/// One byte for a character of normalized text: ASCII as it is, `а`..`я` as 0xC0..0xDF (as in
/// windows-1251), anything else 0x80, which no pattern of the lexicon contains.
#[inline]
pub fn narrow(c: char) -> u8 {
    match c {
        '\0'..='\u{7F}' => c as u8,
        'а'..='я' => (c as u32 - 'а' as u32) as u8 + 0xC0,
        _ => 0x80,
    }
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}')
}

/// The Cyrillic letter a Latin look-alike stands for (after lower-casing).
fn cyrillic_lookalike(c: char) -> Option<char> {
    Some(match c {
        'a' => 'а',
        'b' => 'в',
        'c' => 'с',
        'e' => 'е',
        'h' => 'н',
        'k' => 'к',
        'm' => 'м',
        'o' => 'о',
        'p' => 'р',
        't' => 'т',
        'x' => 'х',
        'y' => 'у',
        _ => return None,
    })
}

struct Builder {
    out: Normalized,
    /// A word is open: its letters, lower-cased, are being written to `out` from
    /// `word_start` (in `text`) and `word_narrow_start` (in `narrow`).
    in_word: bool,
    word_start: usize,
    word_narrow_start: usize,
    word_cyr: bool,
    word_latin: bool,
    word_upper: u32,
    word_letters: u32,
    capital: bool,
    sentence_start: bool,
    hashtag: bool,
    mention: bool,
    quoted: bool,
}

impl Builder {
    fn push_char(&mut self, c: char) {
        // Most of any text: a lower-case Russian letter.
        if let 'а'..='я' = c {
            if !self.in_word {
                self.open_word(false);
            }
            self.word_letters += 1;
            self.word_cyr = true;
            self.out.cyrillic += 1;
            self.put(c);
            return;
        }
        let fast = lower(c);
        let upper = match fast {
            Some(l) => l != c && c != 'ё',
            None => c.is_uppercase(),
        };
        if !self.in_word {
            self.open_word(upper);
        }
        if !c.is_ascii_digit() && (fast.is_some() || c.is_alphabetic()) {
            self.word_letters += 1;
            if upper {
                self.word_upper += 1;
            }
            if is_cyrillic(c) {
                self.word_cyr = true;
                self.out.cyrillic += 1;
                match c {
                    'і' | 'ї' | 'є' | 'ґ' | 'І' | 'Ї' | 'Є' | 'Ґ' => {
                        self.out.ukrainian += 1
                    }
                    'ў' | 'Ў' => self.out.belarusian += 1,
                    _ => {}
                }
            } else if c.is_ascii_alphabetic() {
                self.word_latin = true;
                self.out.latin += 1;
            } else {
                self.out.other_letters += 1;
            }
        }
        match fast {
            Some(l) => self.put(l),
            None => {
                for l in c.to_lowercase() {
                    self.put(if l == 'ё' { 'е' } else { l });
                }
            }
        }
    }

    fn open_word(&mut self, capital: bool) {
        self.in_word = true;
        self.word_start = self.out.text.len();
        self.word_narrow_start = self.out.narrow.len();
        self.capital = capital;
    }

    /// Write one lower-cased letter of the open word straight to the output.
    #[inline]
    fn put(&mut self, l: char) {
        self.out.text.push(l);
        self.out.narrow.push(narrow(l));
    }

    fn end_word(&mut self) {
        if !self.in_word {
            return;
        }
        if self.word_letters >= 5 && self.word_upper == self.word_letters {
            self.out.shouted += 1;
        }
        let start = self.word_start;
        let narrow_start = self.word_narrow_start;
        if self.word_cyr && self.word_latin {
            // Rare: Latin look-alikes inside a Cyrillic word. Write the word again, mapped.
            let word = self.out.text.split_off(start);
            self.out.narrow.truncate(narrow_start);
            for c in word.chars() {
                self.put(cyrillic_lookalike(c).unwrap_or(c));
            }
        }
        let end = self.out.text.len();
        self.out.text.push(' ');
        self.out.narrow.push(b' ');
        self.out.tokens.push(Token {
            start: start as u32,
            end: end as u32,
            narrow_start: narrow_start as u32,
            capital: self.capital,
            sentence_start: self.sentence_start,
            hashtag: self.hashtag,
            mention: self.mention,
            quoted: self.quoted,
        });
        self.in_word = false;
        self.word_cyr = false;
        self.word_latin = false;
        self.word_upper = 0;
        self.word_letters = 0;
        self.sentence_start = false;
    }
}

/// Skip a link starting at `i` (`http://`, `https://`, `www.`, `vk.com/`, `t.me/`); returns the
/// index after it, or `None` when no link starts there.
fn skip_link(chars: &[char], i: usize) -> Option<usize> {
    const STARTS: [&str; 5] = ["http://", "https://", "www.", "vk.com/", "t.me/"];
    if !matches!(chars[i], 'h' | 'H' | 'w' | 'W' | 'v' | 'V' | 't' | 'T')
        || (i > 0 && is_word_char(chars[i - 1]))
    {
        return None;
    }
    for s in STARTS {
        let n = s.chars().count();
        if i + n <= chars.len()
            && chars[i..i + n]
                .iter()
                .zip(s.chars())
                .all(|(a, b)| a.to_ascii_lowercase() == b)
        {
            let mut j = i + n;
            while j < chars.len() && !chars[j].is_whitespace() {
                j += 1;
            }
            return Some(j);
        }
    }
    None
}

/// Normalize `raw` (see the module documentation).
pub fn normalize(raw: &str) -> Normalized {
    let chars: Vec<char> = raw.chars().collect();
    let mut b = Builder {
        out: Normalized {
            text: String::with_capacity(raw.len() + 2),
            narrow: Vec::with_capacity(raw.len() + 2),
            tokens: Vec::with_capacity(raw.len() / 6 + 1),
            ..Normalized::default()
        },
        in_word: false,
        word_start: 0,
        word_narrow_start: 0,
        word_cyr: false,
        word_latin: false,
        word_upper: 0,
        word_letters: 0,
        capital: false,
        sentence_start: true,
        hashtag: false,
        mention: false,
        quoted: false,
    };
    b.out.text.push(' ');
    b.out.narrow.push(b' ');
    let mut i = 0;
    let mut prev_punct = '\0';
    while i < chars.len() {
        let c = chars[i];
        if let Some(j) = skip_link(&chars, i) {
            b.end_word();
            i = j;
            continue;
        }
        // VK mention: [id123|Name] or [club123|Name]; keep the name only.
        if c == '['
            && let Some(bar) = chars[i + 1..].iter().take(40).position(|&x| x == '|')
        {
            let bar = i + 1 + bar;
            let id = &chars[i + 1..bar];
            if !id.is_empty() && id.iter().all(|x| x.is_ascii_alphanumeric() || *x == '_') {
                b.end_word();
                b.mention = true;
                i = bar + 1;
                continue;
            }
        }
        if c == '#' && i + 1 < chars.len() && is_word_char(chars[i + 1]) {
            b.end_word();
            b.hashtag = true;
            i += 1;
            let mut prev_lower = false;
            while i < chars.len() && (is_word_char(chars[i]) || chars[i] == '_') {
                let h = chars[i];
                if h == '_' || (prev_lower && h.is_uppercase()) {
                    b.end_word();
                }
                if h != '_' {
                    b.push_char(h);
                }
                prev_lower = h.is_lowercase();
                i += 1;
            }
            b.end_word();
            b.hashtag = false;
            continue;
        }
        if c == ']' && b.mention {
            b.end_word();
            b.mention = false;
        } else if is_word_char(c) {
            b.push_char(c);
        } else if c == '\u{0301}' {
            // A combining stress mark inside a word: drop it, keep the word whole.
        } else {
            b.end_word();
            match c {
                '😂' | '🤣' | '😅' | '😆' | '😁' | '😄' | '😃' | '🙈' | '😜' | '😉' => {
                    b.out.laughs += 1
                }
                ')' if prev_punct == ')' => b.out.laughs += 1,
                '«' | '“' | '„' => b.quoted = true,
                '»' | '”' => b.quoted = false,
                '"' => b.quoted = !b.quoted,
                '.' | '!' | '?' | '…' | '\n' => {
                    b.sentence_start = true;
                    if c == '?' && prev_punct != '?' {
                        b.out.questions += 1;
                    }
                    if c == '!' && prev_punct != '!' {
                        b.out.exclamations += 1;
                    }
                }
                _ => {}
            }
        }
        prev_punct = c;
        i += 1;
    }
    b.end_word();
    if b.out.text.len() == 1 {
        b.out.text.push(' ');
        b.out.narrow.push(b' ');
    }
    b.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: &Normalized) -> Vec<&str> {
        (0..n.tokens.len()).map(|i| n.word(i)).collect()
    }

    #[test]
    fn vk_markup_links_emoji_and_hashtags() {
        let n = normalize(
            "[club190421775|Администрация], когда ямочный ремонт??? https://vk.com/wall-1_2 😡 #ГавриловЯм #нет_воды",
        );
        assert_eq!(
            words(&n),
            [
                "администрация",
                "когда",
                "ямочный",
                "ремонт",
                "гаврилов",
                "ям",
                "нет",
                "воды"
            ]
        );
        assert_eq!(n.questions, 1);
        assert!(n.tokens[4].hashtag && !n.tokens[1].hashtag);
        assert!(n.tokens[0].mention && !n.tokens[1].mention);
        assert_eq!(
            n.text,
            " администрация когда ямочный ремонт гаврилов ям нет воды "
        );
    }

    #[test]
    fn yo_and_latin_lookalikes() {
        // "вoдa" written with Latin o and a; "ёлки" with ё.
        let n = normalize("Нет вoдa, ёлки ТРЕТИЙ день!!! ЕГЭ");
        assert_eq!(words(&n), ["нет", "вода", "елки", "третий", "день", "егэ"]);
        assert_eq!(n.shouted, 1);
        assert_eq!(n.exclamations, 1);
        // A purely Latin word is left alone.
        assert_eq!(words(&normalize("Wi-Fi")), ["wi", "fi"]);
    }

    #[test]
    fn capitals_and_sentence_starts() {
        let n = normalize("Великое спасибо. А в Великом нет света");
        assert!(n.tokens[0].capital && n.tokens[0].sentence_start);
        assert!(n.tokens[2].sentence_start);
        assert!(n.tokens[4].capital && !n.tokens[4].sentence_start);
        assert_eq!(n.token_at(n.tokens[4].narrow_start as usize), 4);
        assert_eq!(n.narrow.len(), n.text.chars().count());
    }

    #[test]
    fn quotes_mark_irony() {
        let n = normalize("мост «отремонтировали» — кинули \"пару\" досок");
        let q: Vec<bool> = n.tokens.iter().map(|t| t.quoted).collect();
        assert_eq!(q, [false, true, false, true, false]);
    }

    #[test]
    fn fast_paths_agree_with_unicode() {
        for c in ('\u{0}'..='\u{052F}').chain(['ß', 'İ', 'Ω', '٣', '中']) {
            assert_eq!(is_word_char(c), c.is_alphanumeric(), "{c:?}");
            if let Some(l) = lower(c) {
                let std: String = c.to_lowercase().collect();
                assert_eq!(l.to_string(), std.replace('ё', "е"), "{c:?}");
            }
        }
    }

    #[test]
    fn laughs_are_counted() {
        assert_eq!(normalize("Гаврилов-Пляж 😂😂").laughs, 2);
        assert_eq!(normalize("ну вы даёте)))").laughs, 2);
        assert_eq!(normalize("(см. фото)").laughs, 0);
    }

    #[test]
    fn empty_text() {
        let n = normalize("  🙂 !!! ");
        assert!(n.tokens.is_empty());
        assert_eq!(n.text, "  ");
    }
}
