//! Searching the index: tantivy query syntax, filters, newest or best first, snippets.
//!
//! Opens the index read-only, so it works in another process while the daemon writes.

use super::schema::{Fields, register_analyzers};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::agg_result::AggregationResults;
use tantivy::aggregation::{AggContextParams, AggregationCollector};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Index, IndexReader, Order, ReloadPolicy, TantivyDocument, Term};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("no search index in {0} yet: start the daemon (or run `otklik reindex`) first")]
    Missing(PathBuf),
    #[error("the query cannot be understood: {0}")]
    Query(String),
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
}

/// How to order hits.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Most recently published first.
    #[default]
    Newest,
    /// Most relevant first.
    Best,
}

/// What to search for.
#[derive(Clone, Debug, Default)]
pub struct SearchRequest {
    /// tantivy query syntax: words, "phrases", AND/OR/NOT, field:value. Empty: everything.
    pub query: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// A platform (`vk`, `rss` …) or a configured source name.
    pub source: Option<String>,
    pub territory: Option<String>,
    pub group: Option<String>,
    /// Only posts judged to be incidents.
    pub incidents_only: bool,
    pub limit: usize,
    /// Hits to skip (pagination).
    pub offset: usize,
    pub sort: SortOrder,
    /// Count the matches by source, platform, territory and group, and by day.
    pub facets: bool,
}

/// One found post.
#[derive(Clone, Debug, Serialize)]
pub struct Hit {
    pub platform: String,
    pub id: String,
    pub uid: String,
    pub url: Option<String>,
    pub community: String,
    pub published: DateTime<Utc>,
    pub title: Option<String>,
    pub text: String,
    /// The best fragment, HTML-escaped, matches wrapped in `<b>`.
    pub snippet: String,
    /// Byte ranges of the matches within `snippet_text`.
    #[serde(skip)]
    pub highlights: Vec<std::ops::Range<usize>>,
    /// The fragment as plain text.
    #[serde(skip)]
    pub snippet_text: String,
    pub incident: Option<u64>,
    pub is_incident: bool,
    pub group: Option<String>,
    pub topic: Option<String>,
    pub territory: Option<String>,
    pub place: Option<String>,
    pub score: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct SearchResults {
    /// How many posts match in all.
    pub total: usize,
    pub hits: Vec<Hit>,
    /// When asked for and the index has the columns for them (an index built before facets
    /// existed has not: `otklik reindex` rebuilds it).
    pub facets: Option<Facets>,
}

/// How the matching posts divide, each list by count, largest first.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Facets {
    pub source: Vec<FacetCount>,
    pub platform: Vec<FacetCount>,
    pub territory: Vec<FacetCount>,
    pub group: Vec<FacetCount>,
    /// Matching posts per day (Moscow time), oldest first, days without posts included.
    pub histogram: Vec<DayCount>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DayCount {
    pub day: chrono::NaiveDate,
    pub count: u64,
}

/// Most values listed per facet.
const FACET_SIZE: u32 = 50;
/// Fields counted as facets; each must be a fast column.
const FACET_FIELDS: [&str; 4] = ["source", "platform", "territory", "group"];

/// A read-only view of the index.
pub struct Searcher {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

const SNIPPET_CHARS: usize = 220;

impl Searcher {
    /// Open the index in `dir` for reading.
    pub fn open(dir: &Path) -> Result<Searcher, SearchError> {
        if !dir.join("meta.json").exists() {
            return Err(SearchError::Missing(dir.to_path_buf()));
        }
        let index = Index::open_in_dir(dir)?;
        register_analyzers(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Searcher::from_reader(index, reader))
    }

    /// Search through a reader the caller keeps fresh (the daemon's, reloaded after commits).
    pub fn from_reader(index: Index, reader: IndexReader) -> Searcher {
        let fields = Fields::of(&index.schema());
        Searcher {
            index,
            reader,
            fields,
        }
    }

    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults, SearchError> {
        let f = self.fields;
        let mut parser = QueryParser::for_index(&self.index, vec![f.text, f.title, f.community]);
        parser.set_conjunction_by_default();
        let text_query: Box<dyn Query> = if request.query.trim().is_empty() {
            Box::new(AllQuery)
        } else {
            let parsed = match parser.parse_query(&request.query) {
                // `NOT x` alone: everything but x.
                Err(tantivy::query::QueryParserError::AllButQueryForbidden) => {
                    parser.parse_query(&format!("* AND ({})", request.query))
                }
                other => other,
            }
            .map_err(|e| SearchError::Query(e.to_string()))?;
            lift_negations(parsed)
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text_query.box_clone())];
        let term = |field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        if let Some(source) = &request.source {
            let field = if crate::model::Platform::parse(source).is_some() {
                f.platform
            } else {
                f.source
            };
            clauses.push((Occur::Must, term(field, source)));
        }
        if let Some(territory) = &request.territory {
            clauses.push((Occur::Must, term(f.territory, territory)));
        }
        if let Some(group) = &request.group {
            clauses.push((Occur::Must, term(f.group, group)));
        }
        if request.incidents_only {
            clauses.push((Occur::Must, term(f.is_incident, "yes")));
        }
        if request.since.is_some() || request.until.is_some() {
            let bound = |t: Option<DateTime<Utc>>, inclusive: bool| match t {
                Some(t) => {
                    let term = Term::from_field_date(
                        f.published,
                        tantivy::DateTime::from_timestamp_secs(t.timestamp()),
                    );
                    if inclusive {
                        Bound::Included(term)
                    } else {
                        Bound::Excluded(term)
                    }
                }
                None => Bound::Unbounded,
            };
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    bound(request.since, true),
                    bound(request.until, false),
                )),
            ));
        }
        let query = BooleanQuery::new(clauses);

        let searcher = self.reader.searcher();
        let limit = request.limit.max(1);
        let offset = request.offset;
        // Over the whole index the term counts are the terms' document frequencies: read from
        // the dictionary instead of counted post by post (exact while nothing is deleted, and
        // the index never deletes). Only the histogram then needs a pass over the posts.
        let whole_index = request.query.trim().is_empty()
            && request.source.is_none()
            && request.territory.is_none()
            && request.group.is_none()
            && !request.incidents_only
            && request.since.is_none()
            && request.until.is_none()
            && searcher
                .segment_readers()
                .iter()
                .all(|s| s.num_deleted_docs() == 0);
        let aggregations = if request.facets && self.has_facet_columns() {
            Some(AggregationCollector::from_aggs(
                facet_request(!whole_index),
                AggContextParams::default(),
            ))
        } else {
            None
        };
        let (addresses, total, aggregated): (Vec<(f32, DocAddress)>, usize, _) = match request.sort
        {
            SortOrder::Best => searcher.search(
                &query,
                &(
                    TopDocs::with_limit(limit)
                        .and_offset(offset)
                        .order_by_score(),
                    Count,
                    aggregations,
                ),
            )?,
            SortOrder::Newest => {
                let (top, total, aggregated) = searcher.search(
                    &query,
                    &(
                        TopDocs::with_limit(limit)
                            .and_offset(offset)
                            .order_by_fast_field::<tantivy::DateTime>("published", Order::Desc),
                        Count,
                        aggregations,
                    ),
                )?;
                (
                    top.into_iter().map(|(_, address)| (0.0, address)).collect(),
                    total,
                    aggregated,
                )
            }
        };
        let mut facets = aggregated.map(facets_from);
        if whole_index && let Some(facets) = &mut facets {
            self.dictionary_counts(&searcher, facets)?;
        }
        let mut snippets = SnippetGenerator::create(&searcher, &*text_query, f.text)?;
        snippets.set_max_num_chars(SNIPPET_CHARS);

        let mut hits = Vec::with_capacity(addresses.len());
        for (score, address) in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            hits.push(self.hit(&doc, score, &snippets));
        }
        Ok(SearchResults {
            total,
            hits,
            facets,
        })
    }

    /// Term facets of the whole index from the term dictionaries' document frequencies.
    fn dictionary_counts(
        &self,
        searcher: &tantivy::Searcher,
        facets: &mut Facets,
    ) -> Result<(), SearchError> {
        let f = self.fields;
        for (field, out) in [
            (f.source, &mut facets.source),
            (f.platform, &mut facets.platform),
            (f.territory, &mut facets.territory),
            (f.group, &mut facets.group),
        ] {
            let mut counts: std::collections::HashMap<String, u64> = Default::default();
            for segment in searcher.segment_readers() {
                let inverted = segment.inverted_index(field)?;
                let mut stream = inverted
                    .terms()
                    .stream()
                    .map_err(|e| SearchError::Index(e.into()))?;
                while stream.advance() {
                    let value = String::from_utf8_lossy(stream.key()).into_owned();
                    *counts.entry(value).or_default() += u64::from(stream.value().doc_freq);
                }
            }
            let mut list: Vec<FacetCount> = counts
                .into_iter()
                .map(|(value, count)| FacetCount { value, count })
                .collect();
            list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            list.truncate(FACET_SIZE as usize);
            *out = list;
        }
        Ok(())
    }

    /// Whether the index was built with the facet columns.
    fn has_facet_columns(&self) -> bool {
        let schema = self.index.schema();
        FACET_FIELDS.iter().all(|name| {
            schema
                .get_field(name)
                .is_ok_and(|f| schema.get_field_entry(f).is_fast())
        })
    }

    /// Pick up the newest commit (the daemon's writer commits on a timer).
    pub fn reload(&self) -> Result<(), SearchError> {
        self.reader.reload()?;
        Ok(())
    }

    fn hit(&self, doc: &TantivyDocument, score: f32, snippets: &SnippetGenerator) -> Hit {
        let f = self.fields;
        let text_of = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let uid = text_of(f.uid).unwrap_or_default();
        let (platform, id) = uid
            .split_once(':')
            .map_or((String::new(), uid.clone()), |(p, i)| {
                (p.to_string(), i.to_string())
            });
        let text = text_of(f.text).unwrap_or_default();
        let snippet = snippets.snippet(&text);
        let (snippet_html, snippet_text, highlights) = if snippet.fragment().is_empty() {
            let head: String = text.chars().take(SNIPPET_CHARS).collect();
            (crate::text::html_escape(&head), head, Vec::new())
        } else {
            (
                snippet.to_html(),
                snippet.fragment().to_string(),
                snippet.highlighted().to_vec(),
            )
        };
        let published = doc
            .get_first(f.published)
            .and_then(|v| v.as_datetime())
            .and_then(|d| DateTime::from_timestamp(d.into_timestamp_secs(), 0))
            .unwrap_or_default();
        Hit {
            platform,
            id,
            uid,
            url: text_of(f.url),
            community: text_of(f.community).unwrap_or_default(),
            published,
            title: text_of(f.title),
            text,
            snippet: snippet_html,
            highlights,
            snippet_text,
            incident: doc.get_first(f.incident).and_then(|v| v.as_u64()),
            is_incident: text_of(f.is_incident).as_deref() == Some("yes"),
            group: text_of(f.group),
            topic: text_of(f.topic),
            territory: text_of(f.territory),
            place: text_of(f.place),
            score,
        }
    }
}

/// Terms on each facet field (unless `with_terms` is false) and a histogram by Moscow day, in
/// the Elasticsearch-style form tantivy's aggregations take.
fn facet_request(with_terms: bool) -> Aggregations {
    let mut request = serde_json::Map::new();
    for field in FACET_FIELDS.iter().filter(|_| with_terms) {
        request.insert(
            field.to_string(),
            serde_json::json!({ "terms": { "field": field, "size": FACET_SIZE } }),
        );
    }
    request.insert(
        "histogram".into(),
        // Moscow is UTC+3 all year: days start at 21:00 UTC.
        serde_json::json!({ "date_histogram": {
            "field": "published", "fixed_interval": "1d", "offset": "-3h", "min_doc_count": 0
        } }),
    );
    serde_json::from_value(serde_json::Value::Object(request))
        .expect("the facet request is well-formed")
}

/// Read tantivy's aggregation results (through their JSON form, which is the stable one).
fn facets_from(results: AggregationResults) -> Facets {
    let json = serde_json::to_value(&results).unwrap_or_default();
    let buckets = |name: &str| -> Vec<serde_json::Value> {
        json.get(name)
            .and_then(|agg| agg.get("buckets"))
            .and_then(|b| b.as_array())
            .cloned()
            .unwrap_or_default()
    };
    let terms = |name: &str| -> Vec<FacetCount> {
        let mut counts: Vec<FacetCount> = buckets(name)
            .iter()
            .filter_map(|b| {
                Some(FacetCount {
                    value: b.get("key")?.as_str()?.to_string(),
                    count: b.get("doc_count")?.as_u64()?,
                })
            })
            .collect();
        counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        counts
    };
    let histogram = buckets("histogram")
        .iter()
        .filter_map(|b| {
            let ms = b.get("key")?.as_f64()? as i64;
            // The key is the bucket's start, 21:00 UTC: the Moscow day is three hours on.
            let day = DateTime::<Utc>::from_timestamp_millis(ms + 3 * 3600 * 1000)?.date_naive();
            Some(DayCount {
                day,
                count: b.get("doc_count")?.as_u64()?,
            })
        })
        .collect();
    Facets {
        source: terms("source"),
        platform: terms("platform"),
        territory: terms("territory"),
        group: terms("group"),
        histogram,
    }
}

/// tantivy parses `a AND NOT b` as `+a +(-b)`, and a clause made only of negations matches
/// nothing, so the whole query would find nothing. Lift such negations into the enclosing
/// query (`+a -b`), and give a query of negations alone something to subtract from.
fn lift_negations(query: Box<dyn Query>) -> Box<dyn Query> {
    let Some(boolean) = query.downcast_ref::<BooleanQuery>() else {
        return query;
    };
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (occur, sub) in boolean.clauses() {
        let sub = lift_negations(sub.box_clone());
        let only_negations = sub.downcast_ref::<BooleanQuery>().is_some_and(|b| {
            !b.clauses().is_empty() && b.clauses().iter().all(|(o, _)| *o == Occur::MustNot)
        });
        if *occur == Occur::Must && only_negations {
            let inner = sub.downcast_ref::<BooleanQuery>().expect("checked above");
            clauses.extend(inner.clauses().iter().map(|(o, q)| (*o, q.box_clone())));
        } else {
            clauses.push((*occur, sub));
        }
    }
    if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    Box::new(BooleanQuery::new(clauses))
}
