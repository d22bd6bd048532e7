//! The comment follower: reads the comments of posts that became incidents, so that
//! residents' follow-ups («у нас тоже») join the incident and the administration's answers
//! are stored next to the complaint.
//!
//! Every `comments.interval_secs` a round lists the incidents whose last mention is less than
//! `comments.follow_days` old (open or already closed), takes their VK and OK posts (not the
//! comments among them) and reads what is new under each:
//!
//! - **VK** with the token client of the source that delivered the post — the same client
//!   as the wall sources', so one request budget per token. With a user or community token
//!   the first comment page of up to 25 posts goes in one `execute`
//!   ([`vk::comments_of_posts`]); a post whose new comments may not fit that page is read
//!   again on its own ([`VkClient::comments`], up to five pages). A service token reads one
//!   post after the other.
//! - **OK** with `discussions.getComments` from the anchor where the previous round stopped.
//! - **Telegram** channel previews (t.me/s) show no comments: nothing to read.
//!
//! The comments go through the same queue as the pollers' posts (understood first, on this
//! side of it), and each post's cursor — stored as `comments:<platform>:<native id>` — is
//! saved only once its comments are durable (invariant 2).
//!
//! Errors: a post whose comments are closed (VK 210–212) or that VK no longer shows is
//! passed over and the others are read; a refused token (VK 5, 14, 17, 27) or an OK
//! application that may not read stops that platform's round with the reason in its health
//! record (`comments:vk`, `comments:ok`); anything transient is retried next round. An OK
//! topic deleted since (error 300) is not followed any more.
//!
//! Limits: a VK post's cursor is its newest top-level comment, so a reply added later in the
//! thread of a comment read before is not seen, and a round reads at most 500 new top-level
//! comments per post (five pages). OK comments are all taken as residents' (OK has no list of
//! the administration's pages yet).

use super::http::HttpClient;
use super::ok::{OkApi, OkSettings, OkSource};
use super::vk::{self, CommentBatch, CommentContext, CommentCursor, Policy, VkClient, VkClients};
use super::{HealthState, SourceError};
use crate::config::{CommentSettings, VkSettings};
use crate::model::{Platform, Post, PostKey};
use crate::pipeline::{Activity, IngestJob};
use crate::store::{SourceHealth, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Prefix of the cursor keys and health records of the follower; no source may be named so.
pub const CURSOR_PREFIX: &str = "comments:";

/// Posts whose first comment page goes in one `execute` (VK runs at most 25 calls in one).
const VK_CHUNK: usize = 25;

/// VK's comment page size: a first page reaching this many ids past the cursor may have
/// left new comments on the next pages.
const VK_PAGE: i64 = 100;

/// Comment pages of one OK topic read per round.
const OK_MAX_PAGES: u32 = 5;

/// Comments asked for per OK page.
const OK_PAGE: u32 = 100;

/// Consecutive failed rounds after which a platform counts as failing.
const FAILING_AFTER: u32 = 3;

/// The cursor key of the comments of `post`: `comments:vk:-1_10`.
pub fn cursor_key(post: &PostKey) -> String {
    format!("{CURSOR_PREFIX}{}", post.uid())
}

/// The health record name of a platform's comment reading: `comments:vk`.
pub fn health_name(platform: Platform) -> String {
    format!("{CURSOR_PREFIX}{platform}")
}

/// How far the comments of one post have been read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FollowCursor {
    /// VK: the newest top-level comment id delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_id: Option<i64>,
    /// OK: the anchor to read on from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
    /// Why the post is not followed any more (OK: the topic was deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gone: Option<String>,
}

/// What reads comments, built from the same configuration as the sources.
#[derive(Default)]
pub struct CommentReaders {
    vk: Option<VkReaders>,
    /// OK groups by source name.
    ok: HashMap<String, OkSource>,
}

struct VkReaders {
    clients: VkClients,
    /// The token name of each VK source (`None`: the only token).
    token_of: HashMap<String, Option<String>>,
    /// For posts of a source no longer configured.
    fallback_token: Option<String>,
    official: HashSet<i64>,
}

impl CommentReaders {
    /// Readers for the VK tokens of `vk` (with their `clients`, those of the wall sources)
    /// and the enabled groups of `ok`.
    pub fn new(
        vk: &VkSettings,
        clients: VkClients,
        ok: Option<&OkSettings>,
        http: &HttpClient,
    ) -> CommentReaders {
        let vk_readers = (!vk.tokens.is_empty()).then(|| {
            let token_of = vk
                .communities
                .iter()
                .map(|c| (c.name.clone(), c.token.clone()))
                .chain(
                    vk.searches
                        .iter()
                        .map(|s| (s.name.clone(), s.token.clone())),
                )
                .collect();
            VkReaders {
                clients,
                token_of,
                fallback_token: vk.tokens.first().map(|t| t.name.clone()),
                official: vk.official_owner_ids.iter().copied().collect(),
            }
        });
        let ok_readers = match ok {
            Some(settings) => {
                let api = OkApi::new(settings, http.clone());
                settings
                    .groups
                    .iter()
                    .filter(|g| g.enabled)
                    .map(|g| (g.name.clone(), OkSource::new(settings, g, api.clone())))
                    .collect()
            }
            None => HashMap::new(),
        };
        CommentReaders {
            vk: vk_readers,
            ok: ok_readers,
        }
    }

    /// Whether no platform that has comments is configured.
    pub fn is_empty(&self) -> bool {
        self.vk.is_none() && self.ok.is_empty()
    }

    fn vk_client(&self, source: &str) -> Option<&VkClient> {
        let vk = self.vk.as_ref()?;
        let token = match vk.token_of.get(source) {
            Some(token) => token.clone(),
            None => vk.fallback_token.clone(),
        };
        vk.clients
            .get(token.as_deref())
            .or_else(|| vk.clients.get(vk.fallback_token.as_deref()))
    }

    /// The OK group that published `key` (`ok:<group>_<topic>`) and the topic id.
    fn ok_topic(&self, source: &str, key: &PostKey) -> Option<(&OkSource, String)> {
        let (_, topic) = key.native_id.split_once('_')?;
        let matches = |s: &&OkSource| s.topic_key(topic) == *key;
        let group = self
            .ok
            .get(source)
            .filter(matches)
            .or_else(|| self.ok.values().find(matches))?;
        Some((group, topic.to_string()))
    }
}

/// A post whose comments are followed.
#[derive(Clone, Debug)]
struct Followed {
    parent: Post,
    cursor: FollowCursor,
}

impl Followed {
    fn key(&self) -> &PostKey {
        &self.parent.key
    }

    /// Owner and post id of a VK post (`-1_10`).
    fn vk_ids(&self) -> Option<(i64, i64)> {
        let (owner, post) = self.key().native_id.split_once('_')?;
        Some((owner.parse().ok()?, post.parse().ok()?))
    }

    /// A comment as the parent's source delivered it: same source, community and territory.
    fn adopt(&self, mut comment: Post) -> Post {
        comment.source.clone_from(&self.parent.source);
        comment.community.clone_from(&self.parent.community);
        comment
            .community_territory
            .clone_from(&self.parent.community_territory);
        comment
    }
}

/// The VK and OK posts of the incidents mentioned since `since` (comments among them left
/// out), with their comment cursors, ordered by key. Blocking: reads the store.
fn followed_posts(store: &Store, since: DateTime<Utc>) -> Result<Vec<Followed>, StoreError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for incident in store.incidents() {
        let incident = incident?;
        if incident.last_mention < since {
            continue;
        }
        for uid in store.incident_posts(incident.id)? {
            let Some(key) = PostKey::parse_uid(&uid) else {
                continue;
            };
            if !matches!(key.platform, Platform::Vk | Platform::Ok) || !seen.insert(uid) {
                continue;
            }
            let Some(stored) = store.post_by_key(&key)? else {
                continue;
            };
            if stored.post.parent.is_some() {
                continue;
            }
            let cursor: FollowCursor = store
                .cursor(&cursor_key(&key))?
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            if cursor.gone.is_some() {
                continue;
            }
            out.push(Followed {
                parent: stored.post,
                cursor,
            });
        }
    }
    out.sort_by(|a, b| a.key().cmp(b.key()));
    Ok(out)
}

/// Comments read and the cursors to save once they are durable.
#[derive(Default)]
struct Delivery {
    posts: Vec<Post>,
    cursors: Vec<(String, FollowCursor)>,
}

impl Delivery {
    fn is_empty(&self) -> bool {
        self.posts.is_empty() && self.cursors.is_empty()
    }
}

/// How a platform's part of a round ended.
#[derive(Debug, PartialEq)]
enum PlatformEnd {
    /// Every post was read (some perhaps passed over); this many comments were new.
    Done { stored: usize },
    /// Stopped early; the posts not read are read next round.
    Failed(String),
    /// Stopped early: retrying cannot help until the configuration changes.
    Refused(String),
    /// The daemon is stopping.
    Stopped,
}

/// What a VK error means for the rest of a round.
#[derive(Debug, PartialEq)]
enum VkFailure {
    /// Only this post: pass over it.
    Post,
    /// The token is refused: stop its round.
    Token,
    /// Try again next round.
    Transient,
}

fn vk_failure(error: &vk::VkError) -> VkFailure {
    match error {
        vk::VkError::TokenStopped(_) => VkFailure::Token,
        vk::VkError::Transport(_, vk::client::TransportKind::Disabled) => VkFailure::Token,
        _ => match error.policy() {
            Some(Policy::StopToken) => VkFailure::Token,
            Some(Policy::DisableSource | Policy::SkipObject) => VkFailure::Post,
            _ => VkFailure::Transient,
        },
    }
}

/// Whether the OK error says the topic itself is gone (300 NOT_FOUND), not the group or the
/// application.
fn ok_topic_gone(error: &SourceError) -> bool {
    matches!(error, SourceError::Disabled(m) if m.contains("answered error 300 "))
}

/// Whether a first comment page may have left new comments on the next pages: it held new
/// comments only, as many as a page holds (ids grow, so that many new ones span at least
/// [`VK_PAGE`] ids past the cursor).
fn vk_may_have_more(before: Option<i64>, after: Option<i64>) -> bool {
    match (before, after) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(b), Some(a)) => a - b >= VK_PAGE,
    }
}

/// The task that follows the comments of incidents' posts.
pub struct CommentFollower {
    pub settings: CommentSettings,
    pub readers: CommentReaders,
    pub store: Store,
    pub jobs: mpsc::Sender<IngestJob>,
    pub knowledge: Arc<crate::understand::Knowledge>,
    pub activity: broadcast::Sender<Activity>,
}

impl CommentFollower {
    /// Run rounds until `stop` is cancelled. A delivery already handed to the pipeline when
    /// the stop comes is seen through (its cursors saved) before returning.
    pub async fn run(self, stop: CancellationToken) {
        if self.readers.is_empty() || self.settings.max_posts_per_round == 0 {
            return;
        }
        let interval = Duration::from_secs(self.settings.interval_secs.max(1));
        let mut health: HashMap<Platform, SourceHealth> = HashMap::new();
        for platform in [Platform::Vk, Platform::Ok] {
            let name = health_name(platform);
            let store = self.store.clone();
            let known = tokio::task::spawn_blocking(move || store.health(&name))
                .await
                .ok()
                .and_then(Result::ok)
                .flatten();
            health.insert(
                platform,
                known.unwrap_or_else(|| SourceHealth {
                    source: health_name(platform),
                    platform,
                    state: HealthState::Ok,
                    last_success: None,
                    last_error: None,
                    last_error_at: None,
                    consecutive_failures: 0,
                    posts_stored: 0,
                    interval_secs: interval.as_secs(),
                }),
            );
        }
        // Posts beyond max_posts_per_round wait for the next rounds, in turn.
        let mut turn = 0usize;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            let since = Utc::now() - chrono::Duration::days(i64::from(self.settings.follow_days));
            let store = self.store.clone();
            let followed = match tokio::task::spawn_blocking(move || followed_posts(&store, since))
                .await
            {
                Ok(Ok(followed)) => followed,
                Ok(Err(error)) => {
                    tracing::error!(%error, "listing the posts whose comments are followed failed");
                    continue;
                }
                Err(error) => {
                    tracing::error!(%error, "listing the posts whose comments are followed failed");
                    continue;
                }
            };
            let round = take_turn(followed, &mut turn, self.settings.max_posts_per_round);
            let (vk_posts, ok_posts): (Vec<Followed>, Vec<Followed>) = round
                .into_iter()
                .partition(|f| f.key().platform == Platform::Vk);
            tracing::debug!(vk = vk_posts.len(), ok = ok_posts.len(), "reading comments");
            if self.readers.vk.is_some() && !vk_posts.is_empty() {
                let end = self.vk_round(vk_posts, &stop).await;
                if end == PlatformEnd::Stopped {
                    return;
                }
                self.record(health.get_mut(&Platform::Vk).expect("vk health"), end)
                    .await;
            }
            if !self.readers.ok.is_empty() && !ok_posts.is_empty() {
                let end = self.ok_round(ok_posts, &stop).await;
                if end == PlatformEnd::Stopped {
                    return;
                }
                self.record(health.get_mut(&Platform::Ok).expect("ok health"), end)
                    .await;
            }
        }
    }

    /// Read the comments of VK posts, token by token.
    async fn vk_round(&self, posts: Vec<Followed>, stop: &CancellationToken) -> PlatformEnd {
        let Some(vk) = &self.readers.vk else {
            return PlatformEnd::Done { stored: 0 };
        };
        let mut by_token: Vec<(VkClient, Vec<Followed>)> = Vec::new();
        for post in posts {
            let Some(client) = self.readers.vk_client(&post.parent.source) else {
                tracing::warn!(post = %post.key(), "no vk token to read the comments of this post with");
                continue;
            };
            match by_token.iter_mut().find(|(c, _)| c.same_token(client)) {
                Some((_, list)) => list.push(post),
                None => by_token.push((client.clone(), vec![post])),
            }
        }
        let label = health_name(Platform::Vk);
        let cx = CommentContext {
            source: &label,
            community: "",
            territory: None,
            official: &vk.official,
        };
        let mut stored = 0;
        let mut trouble: Option<PlatformEnd> = None;
        for (client, posts) in by_token {
            if let Some(reason) = client.stopped() {
                trouble = Some(PlatformEnd::Refused(reason));
                continue;
            }
            for chunk in posts.chunks(VK_CHUNK) {
                let read = tokio::select! {
                    read = self.vk_chunk(&client, &cx, chunk) => read,
                    _ = stop.cancelled() => return PlatformEnd::Stopped,
                };
                let (delivery, end) = read;
                match self.deliver(&label, delivery).await {
                    Ok(n) => stored += n,
                    Err(end) => return end,
                }
                if let Some(end) = end {
                    tracing::warn!(token = %client.token_name(), reason = ?end, "vk comments: the rest of this token's posts wait for the next round");
                    trouble = Some(end);
                    break;
                }
            }
        }
        trouble.unwrap_or(PlatformEnd::Done { stored })
    }

    /// Read the comments of up to 25 VK posts of one token; what was read, and why the
    /// token's round stops, if it does.
    async fn vk_chunk(
        &self,
        client: &VkClient,
        cx: &CommentContext<'_>,
        chunk: &[Followed],
    ) -> (Delivery, Option<PlatformEnd>) {
        let ids: Vec<Option<(i64, i64)>> = chunk.iter().map(Followed::vk_ids).collect();
        let mut results: Vec<Option<Result<CommentBatch, vk::VkError>>> = vec![None; chunk.len()];
        if client.kind().can_execute() {
            // Posts with a readable id, by their place in the chunk.
            let mut asked = Vec::new();
            let mut triples = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                if let Some((owner, post)) = id {
                    let cursor = CommentCursor {
                        last_id: chunk[i].cursor.last_id,
                    };
                    asked.push(i);
                    triples.push((*owner, *post, Some(cursor)));
                }
            }
            let replies = vk::comments_of_posts(client, cx, &triples).await;
            for (i, reply) in asked.into_iter().zip(replies) {
                results[i] = Some(reply);
            }
        }
        let mut delivery = Delivery::default();
        for (i, followed) in chunk.iter().enumerate() {
            let Some((owner, post)) = ids[i] else {
                tracing::warn!(post = %followed.key(), "not a vk wall post id; comments not read");
                continue;
            };
            let before = followed.cursor.last_id;
            let cursor = CommentCursor { last_id: before };
            let result = match results[i].take() {
                Some(Ok(batch))
                    if batch.skipped.is_none()
                        && vk_may_have_more(before, batch.cursor.last_id) =>
                {
                    client.comments(cx, owner, post, Some(&cursor)).await
                }
                Some(result) => result,
                None => client.comments(cx, owner, post, Some(&cursor)).await,
            };
            match result {
                Ok(batch) => {
                    if let Some(why) = &batch.skipped {
                        tracing::debug!(post = %followed.key(), reason = %why, "vk comments closed; passed over");
                        continue;
                    }
                    delivery
                        .posts
                        .extend(batch.posts.into_iter().map(|c| followed.adopt(c)));
                    if batch.cursor.last_id != before {
                        let next = FollowCursor {
                            last_id: batch.cursor.last_id,
                            ..followed.cursor.clone()
                        };
                        delivery.cursors.push((cursor_key(followed.key()), next));
                    }
                }
                Err(error) => match vk_failure(&error) {
                    VkFailure::Post => {
                        tracing::warn!(post = %followed.key(), %error, "vk comments of this post cannot be read; passed over");
                    }
                    VkFailure::Token => {
                        let reason = error.to_source_error(cx.source).to_string();
                        return (delivery, Some(PlatformEnd::Refused(reason)));
                    }
                    VkFailure::Transient => {
                        let reason = error.to_source_error(cx.source).to_string();
                        return (delivery, Some(PlatformEnd::Failed(reason)));
                    }
                },
            }
        }
        (delivery, None)
    }

    /// Read the comments of OK topics.
    async fn ok_round(&self, posts: Vec<Followed>, stop: &CancellationToken) -> PlatformEnd {
        let label = health_name(Platform::Ok);
        let mut stored = 0;
        for followed in &posts {
            let Some((group, topic)) = self
                .readers
                .ok_topic(&followed.parent.source, followed.key())
            else {
                tracing::debug!(post = %followed.key(), "no configured ok group for this topic; comments not read");
                continue;
            };
            let read = tokio::select! {
                read = ok_topic_comments(group, &topic, followed) => read,
                _ = stop.cancelled() => return PlatformEnd::Stopped,
            };
            let (delivery, end) = read;
            match self.deliver(&label, delivery).await {
                Ok(n) => stored += n,
                Err(end) => return end,
            }
            if let Some(end) = end {
                return end;
            }
        }
        PlatformEnd::Done { stored }
    }

    /// Make the comments durable through the pipeline, then save the cursors. Returns how
    /// many comments were new; an error ends the platform's round.
    async fn deliver(&self, label: &str, delivery: Delivery) -> Result<usize, PlatformEnd> {
        if delivery.is_empty() {
            return Ok(0);
        }
        let Delivery { posts, cursors } = delivery;
        let mut stored = 0;
        if !posts.is_empty() {
            let knowledge = self.knowledge.clone();
            let posts = tokio::task::spawn_blocking(move || {
                crate::pipeline::understand_all(posts, &knowledge)
            })
            .await
            .map_err(|e| PlatformEnd::Failed(format!("разбор комментариев: {e}")))?;
            let (done, durable) = oneshot::channel();
            let job = IngestJob {
                source: label.to_string(),
                posts,
                done,
            };
            if self.jobs.send(job).await.is_err() {
                return Err(PlatformEnd::Stopped);
            }
            match durable.await {
                Ok(Ok(report)) => {
                    stored = report.stored;
                    if report.stored > 0 {
                        tracing::info!(
                            source = label,
                            stored = report.stored,
                            joined = report.posts_attached,
                            "comments stored"
                        );
                    }
                }
                Ok(Err(error)) => {
                    return Err(PlatformEnd::Failed(format!(
                        "запись комментариев в хранилище: {error}"
                    )));
                }
                Err(_) => return Err(PlatformEnd::Stopped),
            }
        }
        // Only now, with the comments durable, may the cursors move past them.
        let store = self.store.clone();
        let saved = tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            for (key, cursor) in &cursors {
                let value = serde_json::to_value(cursor).expect("comment cursor serializes");
                store.save_cursor(key, &value)?;
            }
            Ok(())
        })
        .await;
        match saved {
            Ok(Ok(())) => Ok(stored),
            Ok(Err(e)) => Err(PlatformEnd::Failed(format!(
                "сохранение курсора комментариев: {e}"
            ))),
            Err(e) => Err(PlatformEnd::Failed(format!(
                "сохранение курсора комментариев: {e}"
            ))),
        }
    }

    /// Keep a platform's health record as the pollers keep theirs.
    async fn record(&self, health: &mut SourceHealth, end: PlatformEnd) {
        let was = health.state;
        let now = Utc::now();
        match end {
            PlatformEnd::Done { stored } => {
                health.state = HealthState::Ok;
                health.consecutive_failures = 0;
                health.last_success = Some(now);
                health.posts_stored += stored as u64;
                if was != HealthState::Ok {
                    tracing::info!(source = %health.source, "reading comments works again");
                }
            }
            PlatformEnd::Failed(reason) => {
                health.consecutive_failures += 1;
                health.state = if health.consecutive_failures >= FAILING_AFTER {
                    HealthState::Failing
                } else {
                    HealthState::Degraded
                };
                tracing::warn!(source = %health.source, reason = %reason, "reading comments failed; retried next round");
                health.last_error = Some(reason);
                health.last_error_at = Some(now);
            }
            PlatformEnd::Refused(reason) => {
                if was != HealthState::Disabled || health.last_error.as_ref() != Some(&reason) {
                    tracing::error!(source = %health.source, reason = %reason, "comments cannot be read: the platform refuses us");
                }
                health.consecutive_failures += 1;
                health.state = HealthState::Disabled;
                health.last_error = Some(reason);
                health.last_error_at = Some(now);
            }
            PlatformEnd::Stopped => return,
        }
        if health.state != was {
            crate::sources::poller::announce(&self.store, &self.activity, health, was);
        }
        let store = self.store.clone();
        let record = health.clone();
        let saved = tokio::task::spawn_blocking(move || store.save_health(&record)).await;
        if let Ok(Err(error)) = saved {
            tracing::warn!(source = %health.source, %error, "saving the health of comment reading failed");
        }
    }
}

/// New comments of one OK topic, up to [`OK_MAX_PAGES`] pages from the cursor's anchor.
async fn ok_topic_comments(
    group: &OkSource,
    topic: &str,
    followed: &Followed,
) -> (Delivery, Option<PlatformEnd>) {
    let mut delivery = Delivery::default();
    let mut anchor = followed.cursor.anchor.clone();
    let mut trouble = None;
    for _ in 0..OK_MAX_PAGES {
        match group.comments(topic, anchor.as_deref(), OK_PAGE).await {
            Ok(page) => {
                delivery
                    .posts
                    .extend(page.comments.into_iter().map(|c| followed.adopt(c)));
                if page.anchor.is_some() {
                    anchor = page.anchor;
                }
                if !page.has_more {
                    break;
                }
            }
            Err(error) if ok_topic_gone(&error) => {
                tracing::info!(post = %followed.key(), %error, "ok topic deleted; its comments are not followed any more");
                let gone = FollowCursor {
                    anchor: anchor.clone(),
                    gone: Some(error.to_string()),
                    ..followed.cursor.clone()
                };
                delivery.cursors.push((cursor_key(followed.key()), gone));
                return (delivery, None);
            }
            Err(SourceError::Disabled(reason)) => {
                trouble = Some(PlatformEnd::Refused(reason));
                break;
            }
            Err(error) => {
                trouble = Some(PlatformEnd::Failed(error.to_string()));
                break;
            }
        }
    }
    if anchor != followed.cursor.anchor {
        let next = FollowCursor {
            anchor,
            ..followed.cursor.clone()
        };
        delivery.cursors.push((cursor_key(followed.key()), next));
    }
    (delivery, trouble)
}

/// Up to `max` posts of `all`, starting where the previous round's turn ended.
fn take_turn(all: Vec<Followed>, turn: &mut usize, max: usize) -> Vec<Followed> {
    if all.len() <= max {
        *turn = 0;
        return all;
    }
    let start = *turn % all.len();
    *turn = start + max;
    all.into_iter().cycle().skip(start).take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_keys_name_the_platform_and_the_post() {
        let key = PostKey::new(Platform::Vk, "-1_10");
        assert_eq!(cursor_key(&key), "comments:vk:-1_10");
        assert_eq!(health_name(Platform::Ok), "comments:ok");
    }

    #[test]
    fn a_full_first_page_is_read_again_on_its_own() {
        assert!(vk_may_have_more(None, Some(5)));
        assert!(vk_may_have_more(Some(100), Some(200)));
        assert!(!vk_may_have_more(Some(100), Some(199)));
        assert!(!vk_may_have_more(Some(100), None));
        assert!(!vk_may_have_more(None, None));
    }

    #[test]
    fn vk_errors_stop_a_post_a_token_or_the_round() {
        let api = |code| vk::VkError::Api {
            method: "wall.getComments".into(),
            code,
            message: "x".into(),
        };
        assert_eq!(vk_failure(&api(212)), VkFailure::Post);
        assert_eq!(vk_failure(&api(15)), VkFailure::Post);
        assert_eq!(vk_failure(&api(5)), VkFailure::Token);
        assert_eq!(vk_failure(&api(17)), VkFailure::Token);
        assert_eq!(
            vk_failure(&vk::VkError::TokenStopped("x".into())),
            VkFailure::Token
        );
        assert_eq!(vk_failure(&api(6)), VkFailure::Transient);
        assert_eq!(vk_failure(&api(29)), VkFailure::Transient);
    }

    #[test]
    fn an_ok_topic_not_found_is_told_from_a_refused_application() {
        let error = |code| {
            crate::sources::ok::OkError {
                code,
                name: "X".into(),
                message: "X : y".into(),
                data: None,
            }
            .to_source_error("ok-gy", "discussions.getComments")
        };
        assert!(ok_topic_gone(&error(300)));
        assert!(!ok_topic_gone(&error(104)));
        assert!(!ok_topic_gone(&error(3000)));
    }

    fn comment_of(parent: &PostKey, id: i64) -> Post {
        Post {
            key: PostKey::new(Platform::Vk, format!("{}_c{id}", parent.native_id)),
            source: "vk-podslushano".into(),
            url: None,
            community: "Подслушано".into(),
            community_territory: Some("gavrilov-yam".into()),
            author: Some("Олег".into()),
            author_url: None,
            author_kind: Default::default(),
            published: Utc::now(),
            fetched: Utc::now(),
            title: None,
            text: "У нас тоже нет воды".into(),
            parent: Some(parent.clone()),
        }
    }

    #[tokio::test]
    async fn a_cursor_moves_only_once_the_pipeline_says_its_comments_are_durable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (jobs, mut queue) = mpsc::channel(1);
        let follower = Arc::new(CommentFollower {
            settings: CommentSettings::default(),
            readers: CommentReaders::default(),
            store: store.clone(),
            jobs,
            knowledge: Arc::new(crate::understand::Knowledge::embedded()),
            activity: broadcast::channel(4).0,
        });
        let parent = PostKey::new(Platform::Vk, "-1_10");
        let key = cursor_key(&parent);
        let delivery = || Delivery {
            posts: vec![comment_of(&parent, 5)],
            cursors: vec![(
                key.clone(),
                FollowCursor {
                    last_id: Some(5),
                    ..FollowCursor::default()
                },
            )],
        };
        let deliver = |delivery: Delivery| {
            let follower = follower.clone();
            tokio::spawn(async move { follower.deliver("comments:vk", delivery).await })
        };

        // The pipeline could not store them: the cursor stays where it was.
        let task = deliver(delivery());
        let job = queue.recv().await.unwrap();
        assert_eq!(job.posts.len(), 1);
        assert_eq!(store.cursor(&key).unwrap(), None, "moved before the reply");
        job.done.send(Err("диск заполнен".into())).unwrap();
        assert!(matches!(task.await.unwrap(), Err(PlatformEnd::Failed(_))));
        assert_eq!(store.cursor(&key).unwrap(), None);

        // Durable: now it moves.
        let task = deliver(delivery());
        let job = queue.recv().await.unwrap();
        assert_eq!(store.cursor(&key).unwrap(), None, "moved before the reply");
        let report = crate::pipeline::IngestReport {
            stored: 1,
            ..Default::default()
        };
        job.done.send(Ok(report)).unwrap();
        assert_eq!(task.await.unwrap().ok(), Some(1));
        let saved: FollowCursor =
            serde_json::from_value(store.cursor(&key).unwrap().unwrap()).unwrap();
        assert_eq!(saved.last_id, Some(5));
    }

    #[test]
    fn rounds_take_turns_over_many_posts() {
        let post = |i: usize| Followed {
            parent: Post {
                key: PostKey::new(Platform::Vk, format!("-1_{i}")),
                source: "s".into(),
                url: None,
                community: "c".into(),
                community_territory: None,
                author: None,
                author_url: None,
                author_kind: Default::default(),
                published: Utc::now(),
                fetched: Utc::now(),
                title: None,
                text: String::new(),
                parent: None,
            },
            cursor: FollowCursor::default(),
        };
        let all: Vec<Followed> = (0..5).map(post).collect();
        let ids = |v: Vec<Followed>| -> Vec<String> {
            v.into_iter().map(|f| f.parent.key.native_id).collect()
        };
        let mut turn = 0;
        assert_eq!(ids(take_turn(all.clone(), &mut turn, 2)), ["-1_0", "-1_1"]);
        assert_eq!(ids(take_turn(all.clone(), &mut turn, 2)), ["-1_2", "-1_3"]);
        assert_eq!(ids(take_turn(all.clone(), &mut turn, 2)), ["-1_4", "-1_0"]);
        assert_eq!(ids(take_turn(all, &mut turn, 10)).len(), 5);
    }
}
