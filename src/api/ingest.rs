//! `POST /api/v1/ingest`: posts pushed by another collector or an export, for platforms
//! otklik cannot read itself (X, Facebook and Instagram are blocked in Russia or paid).
//!
//! The body is one post or an array of posts (at most [`MAX_BATCH`]):
//!
//! ```json
//! {"id": "12345", "text": "…", "published": "2026-11-26T09:15:00+03:00",
//!  "platform": "ingest", "url": "https://…", "community": "…",
//!  "community_territory": "shopsha", "author": "…", "author_url": "…",
//!  "author_kind": "resident", "title": "…", "parent": "12300"}
//! ```
//!
//! Required: `id`, `text`, `published`. `platform` is `ingest` by default (the post is then
//! keyed under the collector's name); a collector exporting VK, OK, Telegram or RSS posts
//! names that platform and the platform's own id, so they meet the same posts read directly.
//! The request waits until the posts are durable and answers how many were new.

use super::{ApiError, AppState, platform_of, token_hash};
use crate::model::{AuthorKind, Platform, Post, PostKey};
use crate::pipeline::{IngestJob, understand_all};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;

/// Most posts in one request.
pub const MAX_BATCH: usize = 1000;

/// One pushed post, as documented above.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IngestPost {
    pub id: String,
    pub text: String,
    pub published: DateTime<Utc>,
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub community: Option<String>,
    #[serde(default)]
    pub community_territory: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub author_url: Option<String>,
    #[serde(default)]
    pub author_kind: Option<AuthorKind>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub parent: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Body {
    One(Box<IngestPost>),
    Many(Vec<IngestPost>),
}

/// What became of the pushed posts.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct IngestReply {
    pub received: usize,
    pub stored: usize,
    pub duplicates: usize,
}

pub(crate) async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<IngestReply>, ApiError> {
    state
        .counters
        .ingest_requests
        .fetch_add(1, Ordering::Relaxed);
    let result = handle(&state, &headers, body).await;
    if result.is_err() {
        state
            .counters
            .ingest_rejected
            .fetch_add(1, Ordering::Relaxed);
    }
    result
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<IngestReply>, ApiError> {
    let client = authenticate(state, headers)?;
    let Json(value) =
        body.map_err(|rejection| ApiError(rejection.status(), rejection.body_text()))?;
    let posts = match serde_json::from_value::<Body>(value.clone()) {
        Ok(Body::One(post)) => vec![*post],
        Ok(Body::Many(posts)) => posts,
        Err(_) => return Err(explain_bad_body(&value)),
    };
    if posts.is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "no posts in the request".into(),
        ));
    }
    if posts.len() > MAX_BATCH {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{} posts in one request; at most {MAX_BATCH}", posts.len()),
        ));
    }
    let now = Utc::now();
    let mut converted = Vec::with_capacity(posts.len());
    for (i, p) in posts.into_iter().enumerate() {
        converted.push(to_post(i, p, &client, now)?);
    }
    let received = converted.len();
    let knowledge = state.knowledge.clone();
    let understood = tokio::task::spawn_blocking(move || understand_all(converted, &knowledge))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let (done, durable) = tokio::sync::oneshot::channel();
    let job = IngestJob {
        source: format!("ingest:{}", client.name),
        posts: understood,
        done,
    };
    state.jobs.send(job).await.map_err(|_| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the daemon is stopping; send again later".into(),
        )
    })?;
    let report = durable
        .await
        .map_err(|_| {
            ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "the daemon is stopping; send again later".into(),
            )
        })?
        .map_err(|e| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("storing failed: {e}"),
            )
        })?;
    state
        .counters
        .ingest_posts_stored
        .fetch_add(report.stored as u64, Ordering::Relaxed);
    Ok(Json(IngestReply {
        received,
        stored: report.stored,
        duplicates: report.duplicates,
    }))
}

fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<super::IngestClient, ApiError> {
    let unauthorized = |why: &str| ApiError(StatusCode::UNAUTHORIZED, why.to_string());
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <token>"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("expected Authorization: Bearer <token>"))?;
    let hash = token_hash(token.trim());
    state
        .settings
        .ingest
        .iter()
        .find(|c| constant_time_eq(c.token_sha256.as_bytes(), hash.as_bytes()))
        .cloned()
        .ok_or_else(|| unauthorized("unknown token"))
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Name the first post and field that does not fit, instead of serde's untagged shrug.
fn explain_bad_body(value: &serde_json::Value) -> ApiError {
    let items: Vec<&serde_json::Value> = match value {
        serde_json::Value::Array(items) => items.iter().collect(),
        serde_json::Value::Object(_) => vec![value],
        _ => {
            return ApiError(
                StatusCode::BAD_REQUEST,
                "expected a post object or an array of posts".into(),
            );
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        if let Err(e) = serde_json::from_value::<IngestPost>(item.clone()) {
            return ApiError(StatusCode::BAD_REQUEST, format!("post {i}: {e}"));
        }
    }
    ApiError(
        StatusCode::BAD_REQUEST,
        "expected a post object or an array of posts".into(),
    )
}

fn to_post(
    i: usize,
    p: IngestPost,
    client: &super::IngestClient,
    now: DateTime<Utc>,
) -> Result<Post, ApiError> {
    let bad = |field: &str, why: String| {
        ApiError(StatusCode::BAD_REQUEST, format!("post {i}: {field}: {why}"))
    };
    if p.id.trim().is_empty() {
        return Err(bad("id", "must not be empty".into()));
    }
    if p.text.trim().is_empty() {
        return Err(bad("text", "must not be empty".into()));
    }
    let platform = match p.platform.as_deref() {
        None => Platform::Ingest,
        Some(name) => platform_of(name).ok_or_else(|| {
            bad(
                "platform",
                format!("unknown `{name}`; expected vk, ok, telegram, rss or ingest"),
            )
        })?,
    };
    let native = |id: &str| match platform {
        Platform::Ingest => format!("{}:{id}", client.name),
        _ => id.to_string(),
    };
    Ok(Post {
        key: PostKey::new(platform, native(&p.id)),
        source: format!("ingest:{}", client.name),
        url: p.url,
        community: p.community.unwrap_or_else(|| client.name.clone()),
        community_territory: p.community_territory.or_else(|| client.territory.clone()),
        author: p.author,
        author_url: p.author_url,
        author_kind: p.author_kind.unwrap_or_default(),
        published: p.published,
        fetched: now,
        title: p.title,
        text: p.text,
        parent: p.parent.map(|id| PostKey::new(platform, native(&id))),
    })
}
