//! Language of a post, decided by script first.
//!
//! whatlang is unreliable on short Russian posts (it answers Bulgarian or Ukrainian), so a
//! Cyrillic post is decided by its letters: і ї є ґ mean Ukrainian, ў Belarusian, anything
//! else Russian. whatlang is asked only when the post is mostly in another script, which also
//! keeps the common case fast.

use super::normalize::Normalized;

/// ISO 639-1 code of the language of a normalized post (`ru` for a post without letters).
pub fn detect(n: &Normalized, raw: &str) -> String {
    let letters = n.cyrillic + n.latin + n.other_letters;
    if letters == 0 {
        return "ru".into();
    }
    if n.cyrillic * 2 >= letters {
        // A couple of Ukrainian letters in a long Russian post is a quote or a typo.
        let threshold = 1 + n.cyrillic / 200;
        // ў exists only in Belarusian (which shares і with Ukrainian).
        if n.belarusian >= threshold {
            return "be".into();
        }
        if n.ukrainian >= threshold {
            return "uk".into();
        }
        return "ru".into();
    }
    match whatlang::detect_lang(raw) {
        Some(lang) => iso639_1(lang).into(),
        None => "und".into(),
    }
}

fn iso639_1(lang: whatlang::Lang) -> &'static str {
    use whatlang::Lang::*;
    match lang {
        Eng => "en",
        Deu => "de",
        Fra => "fr",
        Spa => "es",
        Ita => "it",
        Por => "pt",
        Pol => "pl",
        Ces => "cs",
        Tur => "tr",
        Uzb => "uz",
        Aze => "az",
        Kat => "ka",
        Hye => "hy",
        Ara => "ar",
        Heb => "he",
        Cmn => "zh",
        Jpn => "ja",
        Kor => "ko",
        Rus => "ru",
        Ukr => "uk",
        Bel => "be",
        Bul => "bg",
        Srp => "sr",
        Mkd => "mk",
        Fin => "fi",
        Est => "et",
        Lav => "lv",
        Lit => "lt",
        Nld => "nl",
        Swe => "sv",
        Dan => "da",
        Nob => "no",
        Hin => "hi",
        Tgl => "tl",
        Vie => "vi",
        other => other.code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::understand::normalize::normalize;

    fn lang(s: &str) -> String {
        detect(&normalize(s), s)
    }

    #[test]
    fn short_russian_is_russian() {
        // whatlang tends to call these Bulgarian or Ukrainian.
        assert_eq!(lang("Нет воды"), "ru");
        assert_eq!(lang("Когда починят?"), "ru");
        assert_eq!(lang("а у нас на Поляне колонка перемерзла"), "ru");
    }

    #[test]
    fn ukrainian_and_belarusian_by_letters() {
        assert_eq!(
            lang("Коли відремонтують дорогу? Її вже рік не чинять"),
            "uk"
        );
        assert_eq!(lang("Калі ўжо адрамантуюць дарогу"), "be");
    }

    #[test]
    fn other_scripts_ask_whatlang() {
        assert_eq!(
            lang("The road to the village has not been cleared for two weeks and nobody answers"),
            "en"
        );
        assert_eq!(lang("12:00 — 14:00"), "ru");
    }
}
