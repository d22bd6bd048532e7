//! The index schema and the Russian analyzer.

use crate::store::StoredPost;
use std::path::Path;
use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, Field, IndexRecordOption, NumericOptions, STORED, STRING,
    Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, StopWordFilter, TextAnalyzer, Token, TokenFilter,
    TokenStream, Tokenizer,
};
use tantivy::{DateTime, Index, TantivyDocument};

/// Name of the analyzer for Russian text: lowercasing, stop words, Snowball stemming (which
/// also folds ё into е).
pub const RU_ANALYZER: &str = "ru_stem";

/// The fields of the index, resolved once.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    /// `platform:native_id`, unique.
    pub uid: Field,
    pub seq: Field,
    pub platform: Field,
    pub source: Field,
    pub community: Field,
    pub url: Field,
    pub published: Field,
    pub title: Field,
    pub text: Field,
    pub incident: Field,
    pub is_incident: Field,
    pub group: Field,
    pub topic: Field,
    pub territory: Field,
    pub place: Field,
    pub lang: Field,
    pub urgent: Field,
}

fn build_schema() -> Schema {
    let mut b = Schema::builder();
    let ru_text = TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(RU_ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let keyword = STRING | STORED;
    // Fields the search page counts hits by (facets): a fast column makes that one pass.
    let facet = STRING | STORED | FAST;
    b.add_text_field("uid", keyword.clone());
    b.add_u64_field(
        "seq",
        NumericOptions::default()
            .set_indexed()
            .set_stored()
            .set_fast(),
    );
    b.add_text_field("platform", facet.clone());
    b.add_text_field("source", facet.clone());
    b.add_text_field("community", ru_text.clone());
    b.add_text_field("url", STORED);
    b.add_date_field(
        "published",
        DateOptions::default()
            .set_indexed()
            .set_stored()
            .set_fast()
            .set_precision(DateTimePrecision::Seconds),
    );
    b.add_text_field("title", ru_text.clone());
    b.add_text_field("text", ru_text);
    b.add_u64_field(
        "incident",
        NumericOptions::default().set_indexed().set_stored(),
    );
    b.add_text_field("is_incident", keyword.clone());
    b.add_text_field("group", facet.clone());
    b.add_text_field("topic", STORED);
    b.add_text_field("territory", facet);
    b.add_text_field("place", STORED);
    b.add_text_field("lang", keyword.clone());
    b.add_text_field("urgent", keyword);
    b.build()
}

impl Fields {
    pub fn of(schema: &Schema) -> Fields {
        let f = |name: &str| {
            schema
                .get_field(name)
                .expect("the index schema has every field")
        };
        Fields {
            uid: f("uid"),
            seq: f("seq"),
            platform: f("platform"),
            source: f("source"),
            community: f("community"),
            url: f("url"),
            published: f("published"),
            title: f("title"),
            text: f("text"),
            incident: f("incident"),
            is_incident: f("is_incident"),
            group: f("group"),
            topic: f("topic"),
            territory: f("territory"),
            place: f("place"),
            lang: f("lang"),
            urgent: f("urgent"),
        }
    }
}

/// The analyzer for Russian text. Registered on every opened index: tantivy does not persist
/// tokenizers, only their names.
pub fn ru_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordTokenizer)
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(StopWordFilter::new(Language::Russian).expect("tantivy ships Russian stop words"))
        .filter(RuStemmer)
        .build()
}

pub fn register_analyzers(index: &Index) {
    index.tokenizers().register(RU_ANALYZER, ru_analyzer());
}

/// Open the index in `dir`, creating it when absent.
pub fn open_or_create(dir: &Path) -> tantivy::Result<Index> {
    std::fs::create_dir_all(dir)?;
    let index = if dir.join("meta.json").exists() {
        Index::open_in_dir(dir)?
    } else {
        Index::create_in_dir(dir, build_schema())?
    };
    register_analyzers(&index);
    Ok(index)
}

/// The index document for a stored post.
pub fn document_for(fields: &Fields, stored: &StoredPost) -> TantivyDocument {
    let post = &stored.post;
    let u = &stored.understanding;
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.uid, post.key.uid());
    doc.add_u64(fields.seq, stored.seq);
    doc.add_text(fields.platform, post.key.platform.as_str());
    doc.add_text(fields.source, &post.source);
    doc.add_text(fields.community, &post.community);
    if let Some(url) = &post.url {
        doc.add_text(fields.url, url);
    }
    doc.add_date(
        fields.published,
        DateTime::from_timestamp_secs(post.published.timestamp()),
    );
    if let Some(title) = &post.title {
        doc.add_text(fields.title, title);
    }
    doc.add_text(fields.text, &post.text);
    if let Some(id) = stored.incident {
        doc.add_u64(fields.incident, id);
    }
    doc.add_text(fields.is_incident, if u.incident { "yes" } else { "no" });
    if let Some(group) = &u.group {
        doc.add_text(fields.group, group);
    }
    if let Some(topic) = &u.topic {
        doc.add_text(fields.topic, topic);
    }
    if let Some(territory) = &u.territory {
        doc.add_text(fields.territory, territory);
    }
    if let Some(place) = &u.place {
        doc.add_text(fields.place, place);
    }
    doc.add_text(fields.lang, &u.lang);
    doc.add_text(fields.urgent, if u.urgent { "yes" } else { "no" });
    doc
}

/// Splits text into words like tantivy's `SimpleTokenizer`, except that a hyphen between two
/// letters or digits keeps the word whole. Place names are hyphenated (Гаврилов-Ям,
/// Заячий-Холм, Ильинское-Урусово); split, «Гаврилов-Ям» would answer every search for «яма».
#[derive(Clone, Copy, Debug, Default)]
pub struct WordTokenizer;

pub struct WordStream<'a> {
    text: &'a str,
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    token: Token,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream<'a> {
        WordStream {
            text,
            chars: text.char_indices().peekable(),
            token: Token::default(),
        }
    }
}

impl TokenStream for WordStream<'_> {
    fn advance(&mut self) -> bool {
        self.token.text.clear();
        self.token.position = self.token.position.wrapping_add(1);
        let start = loop {
            match self.chars.next() {
                Some((at, c)) if is_word_char(c) => break at,
                Some(_) => continue,
                None => return false,
            }
        };
        let mut end = self.text.len();
        while let Some(&(at, c)) = self.chars.peek() {
            if is_word_char(c) {
                self.chars.next();
                continue;
            }
            if c == '-' {
                let rest = &self.text[at + 1..];
                if rest.chars().next().is_some_and(is_word_char) {
                    self.chars.next();
                    continue;
                }
            }
            end = at;
            break;
        }
        self.token.offset_from = start;
        self.token.offset_to = end;
        self.token.text.push_str(&self.text[start..end]);
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// A letter or digit. Cyrillic is checked by range first: `char::is_alphanumeric` takes a slow
/// table lookup for every non-ASCII character, which showed as the top cost of indexing.
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    if ('\u{0400}'..='\u{04FF}').contains(&c) {
        // U+0482..U+0489 are signs and combining marks, the rest of the block letters.
        return !('\u{0482}'..='\u{0489}').contains(&c);
    }
    c.is_alphanumeric()
}

/// Russian Snowball stemming, part by part for hyphenated words: stemmed whole, «гаврилов-ям»
/// loses «ям» as if it were a plural ending, while «гаврилов-яме» keeps it.
#[derive(Clone, Copy, Debug, Default)]
pub struct RuStemmer;

impl TokenFilter for RuStemmer {
    type Tokenizer<T: Tokenizer> = RuStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, inner: T) -> RuStemmerFilter<T> {
        RuStemmerFilter(inner)
    }
}

#[derive(Clone)]
pub struct RuStemmerFilter<T>(T);

impl<T: Tokenizer> Tokenizer for RuStemmerFilter<T> {
    type TokenStream<'a> = RuStemmerStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        RuStemmerStream {
            tail: self.0.token_stream(text),
            stemmer: frostem::Stemmer::new(frostem::Algorithm::Russian),
            buffer: String::new(),
        }
    }
}

pub struct RuStemmerStream<T> {
    tail: T,
    stemmer: frostem::Stemmer,
    buffer: String,
}

impl<T: TokenStream> TokenStream for RuStemmerStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        self.buffer.clear();
        for (i, part) in token.text.split('-').enumerate() {
            if i > 0 {
                self.buffer.push('-');
            }
            self.buffer.push_str(&self.stemmer.stem(part));
        }
        std::mem::swap(&mut token.text, &mut self.buffer);
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        let mut analyzer = ru_analyzer();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(t) = stream.next() {
            out.push(t.text.clone());
        }
        out
    }

    #[test]
    fn inflected_forms_share_a_stem() {
        let stems = tokens("ямы яма ямой ямами");
        assert!(stems.iter().all(|s| s == &stems[0]), "{stems:?}");
    }

    #[test]
    fn hyphenated_place_names_stay_whole_and_do_not_answer_for_yama() {
        assert_eq!(tokens("в Гаврилов-Яме"), tokens("Гаврилов-Ям"));
        assert!(!tokens("Гаврилов-Ям").contains(&tokens("яма")[0]));
        assert_eq!(tokens("яма - беда").len(), 2);
        assert_eq!(tokens("-край-").len(), 1);
    }

    #[test]
    fn yo_is_folded_and_stop_words_dropped() {
        assert_eq!(tokens("мёрзнут"), tokens("мерзнут"));
        assert!(tokens("и в на").is_empty());
    }
}
