//! The search behind both the page and `GET /api/v1/search`: parameters read and checked the
//! same way, authors added only for roles that may see them (and each view logged).

use super::auth::{Principal, log_personal_data_views, sees_personal_data};
use crate::api::AppState;
use crate::index::{Facets, Hit, SearchError, SearchRequest, SortOrder};
use crate::model::PostKey;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Longest query accepted, characters.
pub const MAX_QUERY_CHARS: usize = 1000;
/// Most hits on one page.
pub const MAX_PER_PAGE: usize = 100;
/// Deepest page: beyond it, narrow the query.
pub const MAX_OFFSET: usize = 10_000;
pub const DEFAULT_PER_PAGE: usize = 20;

/// Query-string parameters, as strings so that a bad value gets a message naming it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct SearchParams {
    /// tantivy query syntax.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub territory: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    /// `YYYY-MM-DD` (Moscow day, inclusive) or RFC 3339.
    #[serde(default)]
    pub since: Option<String>,
    /// `YYYY-MM-DD` (Moscow day, inclusive) or RFC 3339 (exclusive).
    #[serde(default)]
    pub until: Option<String>,
    /// `1`/`true`: only posts judged to be incidents.
    #[serde(default)]
    pub incidents: Option<String>,
    /// `newest` (default) or `best`.
    #[serde(default)]
    pub sort: Option<String>,
    /// 1-based.
    #[serde(default)]
    pub page: Option<String>,
    #[serde(default)]
    pub per_page: Option<String>,
}

/// A parameter that does not fit: which one and why (English for the API; the page words
/// its own message from the same fields).
#[derive(Debug, Clone, PartialEq)]
pub struct BadParam {
    pub param: &'static str,
    pub detail: String,
}

/// Why a search gave no results.
#[derive(Debug)]
pub enum SearchFailure {
    /// The query is not valid tantivy syntax.
    Query(String),
    /// No index yet.
    NoIndex,
    Internal(String),
}

impl From<SearchError> for SearchFailure {
    fn from(e: SearchError) -> SearchFailure {
        match e {
            SearchError::Query(why) => SearchFailure::Query(why),
            SearchError::Missing(_) => SearchFailure::NoIndex,
            e => SearchFailure::Internal(e.to_string()),
        }
    }
}

/// A checked request plus the page asked for.
#[derive(Debug)]
pub struct Checked {
    pub request: SearchRequest,
    pub page: usize,
    pub per_page: usize,
}

impl SearchParams {
    pub fn check(&self) -> Result<Checked, BadParam> {
        let bad = |param, detail: String| BadParam { param, detail };
        let query = self.q.clone().unwrap_or_default();
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(bad(
                "q",
                format!("longer than {MAX_QUERY_CHARS} characters"),
            ));
        }
        let filter = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let number = |param, v: &Option<String>, default: usize| match v.as_deref() {
            None | Some("") => Ok(default),
            Some(s) => s
                .parse::<usize>()
                .map_err(|_| bad(param, format!("expected a whole number, found `{s}`"))),
        };
        let page = number("page", &self.page, 1)?;
        if page == 0 {
            return Err(bad("page", "pages are numbered from 1".into()));
        }
        let per_page = number("per_page", &self.per_page, DEFAULT_PER_PAGE)?;
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(bad(
                "per_page",
                format!("expected 1 to {MAX_PER_PAGE}, found {per_page}"),
            ));
        }
        let offset = (page - 1).saturating_mul(per_page);
        if offset > MAX_OFFSET {
            return Err(bad(
                "page",
                format!("at most {MAX_OFFSET} hits can be paged through; narrow the query"),
            ));
        }
        let sort = match self.sort.as_deref() {
            None | Some("") | Some("newest") => SortOrder::Newest,
            Some("best") => SortOrder::Best,
            Some(s) => return Err(bad("sort", format!("expected newest or best, found `{s}`"))),
        };
        let incidents_only = match self.incidents.as_deref() {
            None | Some("") | Some("0") | Some("false") => false,
            Some("1") | Some("true") | Some("on") => true,
            Some(s) => {
                return Err(bad(
                    "incidents",
                    format!("expected true or false, found `{s}`"),
                ));
            }
        };
        let since = match filter(&self.since) {
            Some(s) => Some(parse_time(&s, false).map_err(|d| bad("since", d))?),
            None => None,
        };
        let until = match filter(&self.until) {
            Some(s) => Some(parse_time(&s, true).map_err(|d| bad("until", d))?),
            None => None,
        };
        Ok(Checked {
            request: SearchRequest {
                query,
                since,
                until,
                source: filter(&self.source),
                territory: filter(&self.territory),
                group: filter(&self.group),
                incidents_only,
                limit: per_page,
                offset,
                sort,
                facets: true,
            },
            page,
            per_page,
        })
    }
}

/// `YYYY-MM-DD` as the start of that Moscow day (or, for an end, of the next one), or RFC 3339.
fn parse_time(s: &str, end: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("expected a date like 2026-11-20 or an RFC 3339 time, found `{s}`"))?;
    let date = if end {
        date.succ_opt()
            .ok_or_else(|| format!("`{s}` is out of range"))?
    } else {
        date
    };
    chrono_tz::Europe::Moscow
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("`{s}` is not a valid date"))
}

/// One hit as shown: the indexed post, and its author when the caller may see it.
#[derive(Clone, Debug, Serialize)]
pub struct ShownHit {
    #[serde(flatten)]
    pub hit: Hit,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_url: Option<String>,
}

/// A page of results.
#[derive(Clone, Debug, Serialize)]
pub struct Found {
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    pub hits: Vec<ShownHit>,
    pub facets: Option<Facets>,
}

/// Run a checked search for `user`, off the async threads.
pub(crate) async fn run(
    state: &AppState,
    checked: Checked,
    user: &Principal,
    ip: Option<IpAddr>,
) -> Result<Found, SearchFailure> {
    let committed = (state.committed_seq)();
    let web = state.web.clone();
    let store = state.store.clone();
    let authors = sees_personal_data(user, None);
    let user = user.clone();
    tokio::task::spawn_blocking(move || {
        let searcher = web.searcher(committed)?;
        let results = searcher.search(&checked.request)?;
        let mut hits = Vec::with_capacity(results.hits.len());
        let mut viewed = Vec::new();
        for hit in results.hits {
            let (mut author, mut author_url) = (None, None);
            if authors
                && let Some(key) = PostKey::parse_uid(&hit.uid)
                && let Ok(Some(stored)) = store.post_by_key(&key)
            {
                author = stored.post.author;
                author_url = stored.post.author_url;
                if author.is_some() || author_url.is_some() {
                    viewed.push(hit.uid.clone());
                }
            }
            hits.push(ShownHit {
                hit,
                author,
                author_url,
            });
        }
        log_personal_data_views(&store, &user, &viewed, ip);
        Ok(Found {
            total: results.total,
            page: checked.page,
            per_page: checked.per_page,
            hits,
            facets: results.facets,
        })
    })
    .await
    .map_err(|e| SearchFailure::Internal(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> SearchParams {
        let query = serde_urlencoded::to_string(pairs).unwrap();
        serde_urlencoded::from_str(&query).unwrap()
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (pairs, param) in [
            (vec![("page", "0")], "page"),
            (vec![("page", "abc")], "page"),
            (vec![("per_page", "1000")], "per_page"),
            (vec![("sort", "random")], "sort"),
            (vec![("since", "вчера")], "since"),
            (vec![("incidents", "maybe")], "incidents"),
            (vec![("page", "100000")], "page"),
        ] {
            assert_eq!(
                params(&pairs).check().unwrap_err().param,
                param,
                "{pairs:?}"
            );
        }
        let long = "я".repeat(MAX_QUERY_CHARS + 1);
        assert_eq!(params(&[("q", &long)]).check().unwrap_err().param, "q");
    }

    #[test]
    fn days_are_moscow_days_and_until_is_inclusive() {
        let c = params(&[
            ("since", "2026-11-20"),
            ("until", "2026-11-20"),
            ("page", "3"),
        ])
        .check()
        .unwrap();
        assert_eq!(
            c.request.since.unwrap().to_rfc3339(),
            "2026-11-19T21:00:00+00:00"
        );
        assert_eq!(
            c.request.until.unwrap().to_rfc3339(),
            "2026-11-20T21:00:00+00:00"
        );
        assert_eq!(c.request.offset, 2 * DEFAULT_PER_PAGE);
    }
}
