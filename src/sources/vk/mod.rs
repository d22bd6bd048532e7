//! VK (vk.com) through its API (`reference/wire-formats.md` §1).
//!
//! - [`VkWallSource`]: one community's (or person's) wall, read with `wall.get`, newest
//!   first, page by page until it reaches the newest post seen before. The pinned post
//!   (served first whatever its age) never stops the paging; posts that shift between pages
//!   are dropped by id, and a deletion steps the offset back. A wall further behind than
//!   `max_pages` keeps a backlog in its cursor, read on the next polls from where the
//!   previous one stopped.
//! - [`VkSearchSource`]: one `newsfeed.search` query over all open walls, in time windows
//!   read with `start_time`/`end_time` and paged with `start_from`/`next_from`.
//! - [`VkClient::comments`] / [`comments_of_posts`]: comments of posts that became incidents
//!   (`wall.getComments`), read by the comment follower (`sources::comments`).
//!
//! Every source using one token shares one [`VkClient`] (built by [`VkClients`]), so they
//! share its request budget (3 per second by default) and stop together when VK refuses it.
//!
//! **Batching.** With a user or community token (VK refuses `execute` to a service token):
//! - the wall pages after the first one are fetched in one `execute` of up to 4 pages;
//! - [`comments_of_posts`] asks for the first comment page of up to 25 posts in one `execute`;
//! - calls of different sources that wait for the token's budget at the same moment (first
//!   wall pages, `groups.getById`, searches, comment pages) are sent together: whoever gets
//!   the next slot sends all that wait, up to 25, as one `execute` ([`VkClient::call`]).
//!   A lone call goes as itself, so a quiet token sends no `execute` at all.
//!
//! A call that fails inside an `execute` fails alone, with its own code and policy.
//!
//! **Errors** follow the table of §1.5 ([`Policy`]); a source turns them into the
//! [`SourceError`] the poller acts on, with a reason in Russian and the VK code.

pub mod client;
pub mod wire;

pub use client::{Policy, RateBudget, VkCall, VkClient, VkError};

use super::{Batch, BoxFuture, Cursor, Source, SourceError};
use crate::config::{PollSettings, VkCommunityConfig, VkSearchConfig, VkSettings};
use crate::model::{AuthorKind, Platform, Post, PostKey};
use crate::sources::http::HttpClient;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use wire::{Group, ItemsPage, Profile, WallComment, WallPost};

/// Wall pages fetched together in one `execute` after the first page.
const EXECUTE_PAGES: usize = 4;

/// How far back each search window reaches into the previous one: VK's search index lags a
/// little behind the walls.
const SEARCH_OVERLAP_SECS: i64 = 10 * 60;

/// Post ids a search cursor remembers, to recognise the overlap.
const SEARCH_SEEN_KEPT: usize = 2000;

/// Comment pages read per post and call of [`VkClient::comments`].
const COMMENT_MAX_PAGES: u32 = 5;

/// The clients of the configured tokens, one per distinct token value.
#[derive(Clone, Debug, Default)]
pub struct VkClients {
    by_name: HashMap<String, VkClient>,
}

impl VkClients {
    /// Build a client per token of `settings`; tokens with the same value (two names for one
    /// key) share one client and so one budget, with the kind and rate of the first of them.
    /// Token values come from the environment variable named by `env`, or from `token`.
    pub fn new(settings: &VkSettings, http: &HttpClient) -> VkClients {
        let mut by_value: HashMap<String, VkClient> = HashMap::new();
        let mut by_name = HashMap::new();
        for t in &settings.tokens {
            let value = match (&t.env, &t.token) {
                (Some(var), _) => std::env::var(var).ok().filter(|v| !v.trim().is_empty()),
                (None, Some(secret)) => Some(secret.0.clone()),
                (None, None) => None,
            };
            if value.is_none() {
                tracing::error!(token = %t.name, env = ?t.env, "vk token is not set; its sources are disabled");
            }
            // Unset tokens never share: each says which variable is missing.
            let key = value
                .clone()
                .unwrap_or_else(|| format!("\0unset:{}", t.name));
            let client = by_value
                .entry(key)
                .or_insert_with(|| {
                    VkClient::new(
                        http.clone(),
                        &settings.api_url,
                        &settings.api_version,
                        &t.name,
                        value,
                        t.kind,
                        t.requests_per_second,
                    )
                })
                .clone();
            by_name.insert(t.name.clone(), client);
        }
        VkClients { by_name }
    }

    /// The client of the token called `name`, or of the only token when `name` is `None`.
    pub fn get(&self, name: Option<&str>) -> Option<&VkClient> {
        match name {
            Some(name) => self.by_name.get(name),
            None if self.by_name.len() == 1 => self.by_name.values().next(),
            None => None,
        }
    }
}

/// Daily quota of `wall.get` per token (vkrss README; more gives code 29).
pub const WALL_GET_PER_DAY: u64 = 5000;

/// Daily quota of `newsfeed.search` per token.
pub const NEWSFEED_SEARCH_PER_DAY: u64 = 1000;

/// Every enabled VK source of `settings`, sharing one client per token. `poll` is the
/// `[poll]` section, used by sources without their own: when the shortest intervals would
/// spend a token's daily quota of `wall.get` or `newsfeed.search`, a warning says so (the
/// quota then stops the method until the next day, code 29).
pub fn enabled_sources(
    settings: &VkSettings,
    poll: &PollSettings,
    http: &HttpClient,
) -> Vec<Box<dyn Source>> {
    sources_and_clients(settings, poll, http).0
}

/// [`enabled_sources`] and the token clients they use. Whatever else calls VK with the same
/// tokens (the incident queue fetching comments) must use these clients, so that it draws on
/// the same budgets and sees the same stopped tokens.
pub fn sources_and_clients(
    settings: &VkSettings,
    poll: &PollSettings,
    http: &HttpClient,
) -> (Vec<Box<dyn Source>>, VkClients) {
    warn_about_quotas(settings, poll);
    let clients = VkClients::new(settings, http);
    let official: Arc<HashSet<i64>> =
        Arc::new(settings.official_owner_ids.iter().copied().collect());
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    for c in settings.communities.iter().filter(|c| c.enabled) {
        match clients.get(c.token.as_deref()) {
            Some(client) => sources.push(Box::new(VkWallSource::new(
                c,
                client.clone(),
                official.clone(),
            ))),
            None => tracing::error!(source = %c.name, "vk source names no known token; skipped"),
        }
    }
    for s in settings.searches.iter().filter(|s| s.enabled) {
        match clients.get(s.token.as_deref()) {
            Some(client) => sources.push(Box::new(VkSearchSource::new(
                s,
                client.clone(),
                official.clone(),
            ))),
            None => tracing::error!(source = %s.name, "vk source names no known token; skipped"),
        }
    }
    (sources, clients)
}

/// Warn when polling at the shortest intervals would spend a token's daily quotas.
fn warn_about_quotas(settings: &VkSettings, poll: &PollSettings) {
    let per_day =
        |p: &Option<PollSettings>| 86_400 / p.as_ref().unwrap_or(poll).min_interval_secs.max(1);
    let token_of = |t: &Option<String>| {
        t.clone()
            .or_else(|| settings.tokens.first().map(|t| t.name.clone()))
            .unwrap_or_default()
    };
    let mut walls: HashMap<String, u64> = HashMap::new();
    let mut searches: HashMap<String, u64> = HashMap::new();
    for c in settings.communities.iter().filter(|c| c.enabled) {
        *walls.entry(token_of(&c.token)).or_default() += per_day(&c.poll);
    }
    for q in settings.searches.iter().filter(|q| q.enabled) {
        *searches.entry(token_of(&q.token)).or_default() += per_day(&q.poll);
    }
    for (method, calls, quota) in walls
        .into_iter()
        .map(|(t, n)| ("wall.get", (t, n), WALL_GET_PER_DAY))
        .chain(
            searches
                .into_iter()
                .map(|(t, n)| ("newsfeed.search", (t, n), NEWSFEED_SEARCH_PER_DAY)),
        )
    {
        let (token, n) = calls;
        if n > quota {
            tracing::warn!(
                token = %token,
                method,
                calls_per_day = n,
                quota,
                "vk sources polled at their shortest intervals would spend the daily quota; \
                 raise poll.min_interval_secs or spread them over more tokens"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Turning wire posts into domain posts

/// Names and links of the authors an extended reply carries.
#[derive(Default)]
struct People {
    profiles: HashMap<i64, Profile>,
    groups: HashMap<i64, Group>,
}

impl People {
    fn from(profiles: Vec<Profile>, groups: Vec<Group>) -> People {
        People {
            profiles: profiles.into_iter().map(|p| (p.id, p)).collect(),
            groups: groups.into_iter().map(|g| (g.id, g)).collect(),
        }
    }

    /// Display name and profile link of the owner `id` (negative for a community).
    fn name_and_url(&self, id: i64) -> (Option<String>, Option<String>) {
        if id > 0 {
            let name = self
                .profiles
                .get(&id)
                .map(|p| {
                    format!("{} {}", p.first_name, p.last_name)
                        .trim()
                        .to_string()
                })
                .filter(|n| !n.is_empty());
            (name, Some(format!("https://vk.com/id{id}")))
        } else if id < 0 {
            let group = self.groups.get(&-id);
            let url = match group.and_then(|g| g.screen_name.as_deref()) {
                Some(screen) if !screen.is_empty() => format!("https://vk.com/{screen}"),
                _ => format!("https://vk.com/club{}", -id),
            };
            (
                group.map(|g| g.name.clone()).filter(|n| !n.is_empty()),
                Some(url),
            )
        } else {
            (None, None)
        }
    }
}

/// What a post conversion needs besides the post.
struct PostContext<'a> {
    source: &'a str,
    /// The community name; `None` takes the wall owner's name from the reply.
    community: Option<&'a str>,
    territory: Option<&'a str>,
    official: &'a HashSet<i64>,
    fetched: DateTime<Utc>,
}

fn timestamp(unix: i64, fallback: DateTime<Utc>) -> DateTime<Utc> {
    if unix <= 0 {
        return fallback;
    }
    Utc.timestamp_opt(unix, 0).single().unwrap_or(fallback)
}

/// The text a post stands for: its own words and, for a repost, the original's (the last
/// of `copy_history`), since a repost of a complaint is the complaint.
pub fn post_text(post: &WallPost) -> String {
    let own = post.text.trim();
    let original = post
        .copy_history
        .last()
        .filter(|o| !(o.from_id == 0 && o.date == 0))
        .map(|o| o.text.trim())
        .filter(|t| !t.is_empty());
    match original {
        Some(original) if own.is_empty() => original.to_string(),
        Some(original) => format!("{own}\n\n{original}"),
        None => own.to_string(),
    }
}

fn to_post(post: &WallPost, people: &People, cx: &PostContext<'_>) -> Post {
    let native = format!("{}_{}", post.owner_id, post.id);
    // A community post signed by a person is that person's.
    let author_id = match post.signer_id {
        Some(signer) if signer > 0 && post.from_id < 0 => signer,
        _ => post.from_id,
    };
    let (author, author_url) = people.name_and_url(author_id);
    let official = cx.official.contains(&post.from_id) || cx.official.contains(&author_id);
    let community = cx
        .community
        .map(str::to_string)
        .or_else(|| people.name_and_url(post.owner_id).0)
        .unwrap_or_else(|| format!("VK {}", post.owner_id));
    Post {
        key: PostKey::new(Platform::Vk, native.clone()),
        source: cx.source.to_string(),
        url: Some(format!("https://vk.com/wall{native}")),
        community,
        community_territory: cx.territory.map(str::to_string),
        author,
        author_url,
        author_kind: if official {
            AuthorKind::Official
        } else {
            AuthorKind::Resident
        },
        published: timestamp(post.date, cx.fetched),
        fetched: cx.fetched,
        title: None,
        text: post_text(post),
        parent: None,
    }
}

/// Items of a page that parse as posts; one broken item does not lose the page.
fn parse_items<T: serde::de::DeserializeOwned>(source: &str, items: Vec<Value>) -> Vec<T> {
    items
        .into_iter()
        .filter_map(|item| match serde_json::from_value(item) {
            Ok(parsed) => Some(parsed),
            Err(error) => {
                tracing::warn!(source, %error, "vk item skipped: not a readable post or comment");
                None
            }
        })
        .collect()
}

fn parse_page(source: &str, method: &str, value: Value) -> Result<ItemsPage, SourceError> {
    serde_json::from_value(value).map_err(|e| {
        SourceError::Transient(format!(
            "источник {source}: ответ ВКонтакте на {method} не разобран, повторим позже / \
             unreadable {method} reply: {e}"
        ))
    })
}

// ---------------------------------------------------------------------------------------
// Walls

/// One wall read with `wall.get`.
pub struct VkWallSource {
    cfg: VkCommunityConfig,
    client: VkClient,
    official: Arc<HashSet<i64>>,
}

/// What a wall source remembers between polls.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WallCursor {
    /// The wall's owner id, once known (resolved from `domain` by `groups.getById`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<i64>,
    /// The `domain` the owner id was resolved from; a changed domain is resolved again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The community's VK name, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<String>,
    /// The newest post id delivered. Post ids grow with time on a wall, so every post with a
    /// larger id is new (a pinned post included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_id: Option<i64>,
    /// Posts not read yet because a poll ran out of pages before reaching `last_id` of the
    /// poll before it (many posts while the daemon was stopped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backlog: Option<WallBacklog>,
}

/// Unread posts of a wall: ids between `above` and `below` (both excluded).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WallBacklog {
    /// Every post up to this id was delivered.
    pub above: i64,
    /// Every post from this id up to the cursor's `last_id` was delivered.
    pub below: i64,
    /// How many wall positions those delivered posts took, counted from the newest: where
    /// to jump to on the next poll instead of reading them again.
    pub skip: u64,
}

/// What a pass over the wall does with a post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Deliver it.
    Take,
    /// Pass over it and read on.
    Skip,
    /// The pass is done.
    Stop,
}

/// How a pass over the wall ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PassEnd {
    /// A post said stop; `at` is its position on the wall.
    Stopped { at: u64 },
    /// The wall has no more posts (or a page was closed to us).
    End,
    /// The poll's pages are spent; the next unread position is `offset`.
    OutOfPages { offset: u64 },
}

/// What one poll of a wall has read so far.
struct WallRead {
    owner: i64,
    pages_left: usize,
    /// Post ids seen in this poll: a post shifted onto the next page is not taken twice.
    seen_ids: HashSet<i64>,
    posts: Vec<(WallPost, usize)>,
    /// Authors of each page read, indexed from `posts`.
    people: Vec<People>,
    /// Wall position of the first post that is not pinned, from the first page.
    first_regular: Option<u64>,
    /// Id of the first post that is not pinned of the latest pass.
    first_regular_of_pass: Option<i64>,
    /// Smallest id of the posts that are not pinned the latest pass went over (taken or
    /// not): a pass goes over consecutive positions, so when it started among delivered
    /// posts, every post from there down to this one is delivered.
    lowest_of_pass: Option<i64>,
}

impl VkWallSource {
    pub fn new(cfg: &VkCommunityConfig, client: VkClient, official: Arc<HashSet<i64>>) -> Self {
        VkWallSource {
            cfg: cfg.clone(),
            client,
            official,
        }
    }

    /// The token client this source uses.
    pub fn client(&self) -> &VkClient {
        &self.client
    }

    async fn call(&self, call: &VkCall) -> Result<Value, SourceError> {
        self.client
            .call(&self.cfg.name, call)
            .await
            .map_err(|e| e.to_source_error(&self.cfg.name))
    }

    /// The owner id and VK name: from the configuration, the cursor, or `groups.getById`.
    async fn resolve(&self, cursor: &WallCursor) -> Result<(i64, Option<String>), SourceError> {
        let name = self.cfg.name.as_str();
        let remembered = cursor.owner_id.filter(|_| cursor.domain == self.cfg.domain);
        let known = self.cfg.owner_id.or(remembered);
        let community = self
            .cfg
            .community
            .clone()
            .or(cursor.community.clone().filter(|_| remembered == known));
        if let (Some(owner), Some(community)) = (known, &community) {
            return Ok((owner, Some(community.clone())));
        }
        if let Some(owner) = known
            && owner > 0
        {
            // A person's wall: the name comes with the first extended wall.get.
            return Ok((owner, community));
        }
        let group_ids = match (known, &self.cfg.domain) {
            (Some(owner), _) => (-owner).to_string(),
            (None, Some(domain)) => domain.clone(),
            (None, None) => {
                return Err(SourceError::Disabled(format!(
                    "источник {name}: не указан ни owner_id, ни domain / neither owner_id nor domain"
                )));
            }
        };
        let reply = self
            .call(&VkCall::new("groups.getById").param("group_ids", group_ids.clone()))
            .await?;
        let Some(group) = wire::groups_of(&reply).into_iter().next() else {
            return Err(SourceError::Disabled(format!(
                "источник {name}: ВКонтакте не знает сообщества «{group_ids}»; проверьте \
                 domain/owner_id / no such VK community"
            )));
        };
        if let Some(why) = &group.deactivated {
            return Err(SourceError::Disabled(format!(
                "источник {name}: сообщество ВКонтакте «{}» {} ({why}); источник отключён \
                 / VK community is {why}",
                group.name,
                if why == "banned" {
                    "заблокировано"
                } else {
                    "удалено"
                }
            )));
        }
        let owner = known.unwrap_or(-group.id);
        Ok((
            owner,
            community.or(Some(group.name)).filter(|n| !n.is_empty()),
        ))
    }

    fn page_call(&self, owner: i64, offset: u64) -> VkCall {
        VkCall::new("wall.get")
            .param("owner_id", owner)
            .param("offset", offset)
            .param("count", self.cfg.page_size)
            .param("extended", 1)
    }

    /// Read pages from wall position `start`, newest first, judging each post not seen yet
    /// in this poll, until a post says stop, the wall ends, or the poll's pages are spent.
    /// With a user or community token the pages after the first of a pass go in one
    /// `execute` of up to four.
    async fn read_pass(
        &self,
        read: &mut WallRead,
        start: u64,
        judge: impl Fn(&WallPost) -> Step,
    ) -> Result<PassEnd, SourceError> {
        let name = self.cfg.name.as_str();
        let page_size = u64::from(self.cfg.page_size);
        let batch_pages = if self.client.kind().can_execute() {
            EXECUTE_PAGES
        } else {
            1
        };
        read.first_regular_of_pass = None;
        read.lowest_of_pass = None;
        let mut offset = start;
        let mut total: Option<u64> = None;
        let mut first = true;
        'paging: while read.pages_left > 0 {
            let n = if first {
                1
            } else {
                batch_pages.min(read.pages_left)
            };
            first = false;
            // The pages of one execute are read at one moment and cannot drift apart.
            let calls: Vec<VkCall> = (0..n)
                .map(|i| self.page_call(read.owner, offset + i as u64 * page_size))
                .collect();
            let batch_start = offset;
            let replies = self.client.batch(name, &calls).await;
            for (i, reply) in replies.into_iter().enumerate() {
                read.pages_left -= 1;
                let page_offset = batch_start + i as u64 * page_size;
                let value = match reply {
                    Ok(value) => value,
                    Err(error) if error.is_skip() => {
                        tracing::warn!(source = name, %error, "vk wall page skipped");
                        return Ok(PassEnd::End);
                    }
                    Err(error) => return Err(error.to_source_error(name)),
                };
                let page = parse_page(name, "wall.get", value)?;
                // Offset drift. Posts deleted since the previous page moved older posts
                // towards the start, past this page's offset: step back by as many and read
                // again (what repeats is dropped by id). Posts added moved them towards the
                // end: this page starts with repeats, dropped by id below.
                if let Some(before) = total
                    && page.count < before
                {
                    offset = page_offset.saturating_sub(before - page.count);
                    total = Some(page.count);
                    continue 'paging;
                }
                total = Some(page.count);
                let items: Vec<WallPost> = parse_items(name, page.items);
                let got = items.len() as u64;
                offset = page_offset + got;
                let index = read.people.len();
                read.people.push(People::from(page.profiles, page.groups));
                for (position, item) in (page_offset..).zip(items) {
                    if !item.is_pinned {
                        if read.first_regular.is_none() && page_offset == 0 {
                            read.first_regular = Some(position);
                        }
                        read.first_regular_of_pass.get_or_insert(item.id);
                        read.lowest_of_pass =
                            Some(read.lowest_of_pass.map_or(item.id, |l| l.min(item.id)));
                    }
                    if !read.seen_ids.insert(item.id) {
                        continue;
                    }
                    match judge(&item) {
                        Step::Take => read.posts.push((item, index)),
                        Step::Skip => {}
                        Step::Stop => return Ok(PassEnd::Stopped { at: position }),
                    }
                }
                if got == 0 || offset >= page.count {
                    return Ok(PassEnd::End);
                }
            }
        }
        Ok(PassEnd::OutOfPages { offset })
    }

    async fn poll(&self, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        let name = self.cfg.name.as_str();
        let previous: WallCursor = cursor
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default();
        let (owner, mut community) = self.resolve(&previous).await?;
        // The configuration now names another wall: what was seen on the old one says
        // nothing about this one.
        let previous = if previous.owner_id.is_some_and(|o| o != owner) {
            tracing::info!(
                source = name,
                owner_id = owner,
                "vk wall changed in the configuration, reading it afresh"
            );
            WallCursor::default()
        } else {
            previous
        };
        let fetched = Utc::now();
        let page_limit = if previous.last_id.is_some() {
            self.cfg.max_pages
        } else {
            self.cfg.first_poll_pages
        } as usize;
        let mut read = WallRead {
            owner,
            pages_left: page_limit,
            seen_ids: HashSet::new(),
            posts: Vec::new(),
            people: Vec::new(),
            first_regular: None,
            first_regular_of_pass: None,
            lowest_of_pass: None,
        };

        // The top pass: new posts, newest first, down to the newest one delivered before.
        let last = previous.last_id;
        let top = self
            .read_pass(&mut read, 0, |post| match last {
                Some(last) if post.id <= last => {
                    if post.is_pinned {
                        Step::Skip
                    } else {
                        Step::Stop
                    }
                }
                _ => Step::Take,
            })
            .await?;
        let newest = read.posts.iter().map(|(p, _)| p.id).chain(last).max();
        let newest_at = read.first_regular.unwrap_or(0);
        let mut backlog = match (last, &top) {
            // Out of pages before reaching what was seen: the rest is a backlog, read
            // on the next polls (an older backlog merges into it).
            (Some(last), PassEnd::OutOfPages { offset }) => {
                let below = read.lowest_of_pass.unwrap_or(i64::MAX);
                Some(WallBacklog {
                    above: previous
                        .backlog
                        .as_ref()
                        .map_or(last, |b| b.above.min(last)),
                    below,
                    skip: offset.saturating_sub(newest_at),
                })
            }
            _ => previous.backlog.clone(),
        };

        // The backlog pass: posts of an earlier poll's backlog, from where that poll stopped.
        if let (PassEnd::Stopped { at }, Some(b)) = (&top, previous.backlog.as_ref())
            && read.pages_left > 0
        {
            let page_size = u64::from(self.cfg.page_size);
            // Step back a page: posts deleted since then moved the rest towards the start.
            let jump = at + b.skip.saturating_sub(page_size);
            let judge = |post: &WallPost| {
                if post.is_pinned || post.id >= b.below {
                    Step::Skip
                } else if post.id > b.above {
                    Step::Take
                } else {
                    Step::Stop
                }
            };
            let mut end = self.read_pass(&mut read, jump, judge).await?;
            // The jump must land among delivered posts. If the first post there is older,
            // more posts were deleted than stepped back over, and some unread ones may lie
            // before it: read again from the boundary.
            let mut contiguous =
                jump == *at || read.first_regular_of_pass.is_some_and(|id| id >= b.below);
            if !contiguous && jump > *at && read.pages_left > 0 {
                tracing::debug!(
                    source = name,
                    "vk backlog jump overshot, reading from the boundary"
                );
                end = self.read_pass(&mut read, *at, judge).await?;
                contiguous = true;
            }
            backlog = match end {
                PassEnd::OutOfPages { offset } if contiguous => Some(WallBacklog {
                    above: b.above,
                    below: read.lowest_of_pass.unwrap_or(b.below).min(b.below),
                    skip: offset.saturating_sub(newest_at),
                }),
                // Nothing certain about where delivered posts end: the next poll reads
                // from the boundary (what it took now is delivered again, harmlessly).
                PassEnd::OutOfPages { .. } => Some(WallBacklog {
                    skip: 0,
                    ..b.clone()
                }),
                _ => None,
            };
        }
        if let Some(b) = &backlog {
            tracing::info!(
                source = name,
                above = b.above,
                below = b.below,
                "more new vk posts than max_pages reach in one poll; the rest follows on the next polls"
            );
        }
        let WallRead {
            posts: wall_posts,
            people,
            pages_left,
            ..
        } = read;
        let pages_read = page_limit;
        if community.is_none() {
            community = people.iter().find_map(|p| p.name_and_url(owner).0);
        }
        let cx = PostContext {
            source: name,
            community: community.as_deref(),
            territory: self.cfg.territory.as_deref(),
            official: &self.official,
            fetched,
        };
        let posts: Vec<Post> = wall_posts
            .iter()
            .map(|(post, index)| to_post(post, &people[*index], &cx))
            .collect();
        let next = WallCursor {
            owner_id: Some(owner),
            domain: self.cfg.domain.clone(),
            community: community.clone(),
            last_id: newest,
            backlog,
        };
        tracing::debug!(
            source = name,
            owner_id = owner,
            pages = pages_read - pages_left,
            new = posts.len(),
            "vk wall read"
        );
        Ok(Batch::new(posts, &next))
    }
}

impl Source for VkWallSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn platform(&self) -> Platform {
        Platform::Vk
    }

    fn poll_settings(&self) -> Option<crate::config::PollSettings> {
        self.cfg.poll.clone()
    }

    fn fetch<'a>(
        &'a mut self,
        cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<Batch, SourceError>> {
        Box::pin(self.poll(cursor))
    }
}

// ---------------------------------------------------------------------------------------
// Searches

/// One `newsfeed.search` query.
pub struct VkSearchSource {
    cfg: VkSearchConfig,
    client: VkClient,
    official: Arc<HashSet<i64>>,
}

/// What a search source remembers between polls.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchCursor {
    /// Start of the current window, unixtime.
    pub start_time: i64,
    /// End of a window that is still being read (`next_from` says where), unixtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    /// Where the unread rest of the window starts, as VK gave it (opaque).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_from: Option<String>,
    /// Posts already delivered from the window (`<owner>_<id>`), to skip the overlap.
    #[serde(default)]
    pub seen: Vec<String>,
}

impl VkSearchSource {
    pub fn new(cfg: &VkSearchConfig, client: VkClient, official: Arc<HashSet<i64>>) -> Self {
        VkSearchSource {
            cfg: cfg.clone(),
            client,
            official,
        }
    }

    async fn poll(&self, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        let name = self.cfg.name.as_str();
        let fetched = Utc::now();
        let now = fetched.timestamp();
        let previous: Option<SearchCursor> =
            cursor.and_then(|c| serde_json::from_value(c.clone()).ok());
        let (start_time, end_time, mut start_from, seen_before) = match previous {
            Some(SearchCursor {
                start_time,
                end_time: Some(end),
                next_from: Some(from),
                seen,
            }) => (start_time, end, Some(from), seen),
            Some(c) => (c.start_time, now, None, c.seen),
            None => (
                now - i64::from(self.cfg.lookback_hours) * 3600,
                now,
                None,
                Vec::new(),
            ),
        };
        let mut seen: HashSet<String> = seen_before.iter().cloned().collect();
        let mut kept: Vec<String> = Vec::new();
        let mut posts = Vec::new();
        let mut pages = 0;
        let mut complete = false;
        while pages < self.cfg.max_pages {
            let mut call = VkCall::new("newsfeed.search")
                .param("q", self.cfg.query.clone())
                .param("count", self.cfg.page_size)
                .param("extended", 1)
                .param("start_time", start_time)
                .param("end_time", end_time);
            if let Some(from) = &start_from {
                call = call.param("start_from", from.clone());
            }
            let value = self
                .client
                .call(name, &call)
                .await
                .map_err(|e| e.to_source_error(name))?;
            pages += 1;
            let page = parse_page(name, "newsfeed.search", value)?;
            let people = People::from(page.profiles, page.groups);
            let cx = PostContext {
                source: name,
                community: None,
                territory: self.cfg.territory.as_deref(),
                official: &self.official,
                fetched,
            };
            for item in parse_items::<WallPost>(name, page.items) {
                let key = format!("{}_{}", item.owner_id, item.id);
                kept.push(key.clone());
                if seen.insert(key) {
                    posts.push(to_post(&item, &people, &cx));
                }
            }
            match page.next_from {
                Some(next) => start_from = Some(next),
                None => {
                    complete = true;
                    break;
                }
            }
        }
        // Ids worth remembering: this window's, then the previous ones, bounded.
        let mut remembered: Vec<String> = Vec::new();
        let mut unique = HashSet::new();
        for key in kept.into_iter().chain(seen_before) {
            if unique.insert(key.clone()) {
                remembered.push(key);
            }
            if remembered.len() >= SEARCH_SEEN_KEPT {
                break;
            }
        }
        let next = if complete {
            SearchCursor {
                start_time: (end_time - SEARCH_OVERLAP_SECS).max(start_time),
                end_time: None,
                next_from: None,
                seen: remembered,
            }
        } else {
            // The rest of this window is read first on the next poll.
            SearchCursor {
                start_time,
                end_time: Some(end_time),
                next_from: start_from,
                seen: remembered,
            }
        };
        tracing::debug!(
            source = name,
            pages,
            new = posts.len(),
            complete,
            "vk search read"
        );
        Ok(Batch::new(posts, &next))
    }
}

impl Source for VkSearchSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn platform(&self) -> Platform {
        Platform::Vk
    }

    fn poll_settings(&self) -> Option<crate::config::PollSettings> {
        self.cfg.poll.clone()
    }

    fn fetch<'a>(
        &'a mut self,
        cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<Batch, SourceError>> {
        Box::pin(self.poll(cursor))
    }
}

// ---------------------------------------------------------------------------------------
// Comments

/// How far the comments of one post have been read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CommentCursor {
    /// The newest top-level comment id delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_id: Option<i64>,
}

/// Comments of one post, as posts whose `parent` is the commented post.
#[derive(Clone, Debug, Default)]
pub struct CommentBatch {
    pub posts: Vec<Post>,
    /// The cursor to keep once `posts` are durable.
    pub cursor: CommentCursor,
    /// Set when VK closes this post's comments (codes 210–212): nothing to read, carry on.
    pub skipped: Option<String>,
}

/// Where the comments are published, for the posts made of them.
#[derive(Clone, Debug)]
pub struct CommentContext<'a> {
    /// The source name recorded on each comment.
    pub source: &'a str,
    pub community: &'a str,
    pub territory: Option<&'a str>,
    /// Owner ids of the administration's pages (its answers are official).
    pub official: &'a HashSet<i64>,
}

impl VkClient {
    /// New comments (and replies in their threads) of the post `owner_id`_`post_id` since
    /// `cursor`, newest first, up to five pages of 100. A post whose comments are closed
    /// gives an empty batch with `skipped` set, not an error.
    pub async fn comments(
        &self,
        cx: &CommentContext<'_>,
        owner_id: i64,
        post_id: i64,
        cursor: Option<&CommentCursor>,
    ) -> Result<CommentBatch, VkError> {
        let last = cursor.and_then(|c| c.last_id);
        let mut collected = Vec::new();
        let mut newest = last;
        let mut offset = 0u64;
        for _ in 0..COMMENT_MAX_PAGES {
            let value = match self
                .call(cx.source, &comments_call(owner_id, post_id, offset))
                .await
            {
                Ok(v) => v,
                Err(e) if e.is_skip() => return Ok(skipped(cursor, &e)),
                Err(e) => return Err(e),
            };
            let page: ItemsPage = serde_json::from_value(value).unwrap_or_default();
            let done = read_comment_page(
                cx,
                owner_id,
                post_id,
                page,
                last,
                &mut newest,
                &mut collected,
                &mut offset,
            );
            if done {
                break;
            }
        }
        Ok(CommentBatch {
            posts: collected,
            cursor: CommentCursor { last_id: newest },
            skipped: None,
        })
    }
}

/// The first comment page of each post of `posts` (owner id, post id, cursor), with one
/// `execute` per 25 posts when the token allows it. One result per post, in order: a post
/// whose comments are closed is skipped alone (an empty batch with `skipped` set).
pub async fn comments_of_posts(
    client: &VkClient,
    cx: &CommentContext<'_>,
    posts: &[(i64, i64, Option<CommentCursor>)],
) -> Vec<Result<CommentBatch, VkError>> {
    let calls: Vec<VkCall> = posts
        .iter()
        .map(|(owner, post, _)| comments_call(*owner, *post, 0))
        .collect();
    let replies = client.batch(cx.source, &calls).await;
    posts
        .iter()
        .zip(replies)
        .map(|((owner, post, cursor), reply)| match reply {
            Err(e) if e.is_skip() => Ok(skipped(cursor.as_ref(), &e)),
            Err(e) => Err(e),
            Ok(value) => {
                let page: ItemsPage = serde_json::from_value(value).unwrap_or_default();
                let last = cursor.as_ref().and_then(|c| c.last_id);
                let mut newest = last;
                let mut collected = Vec::new();
                let mut offset = 0;
                read_comment_page(
                    cx,
                    *owner,
                    *post,
                    page,
                    last,
                    &mut newest,
                    &mut collected,
                    &mut offset,
                );
                Ok(CommentBatch {
                    posts: collected,
                    cursor: CommentCursor { last_id: newest },
                    skipped: None,
                })
            }
        })
        .collect()
}

fn comments_call(owner_id: i64, post_id: i64, offset: u64) -> VkCall {
    VkCall::new("wall.getComments")
        .param("owner_id", owner_id)
        .param("post_id", post_id)
        .param("offset", offset)
        .param("count", 100)
        .param("sort", "desc")
        .param("preview_length", 0)
        .param("thread_items_count", 10)
        .param("extended", 1)
}

fn skipped(cursor: Option<&CommentCursor>, error: &VkError) -> CommentBatch {
    tracing::info!(%error, "vk comments closed; post skipped");
    CommentBatch {
        posts: Vec::new(),
        cursor: cursor.cloned().unwrap_or_default(),
        skipped: Some(error.to_string()),
    }
}

/// Take the new comments of one page; `true` when there is nothing more to read.
#[allow(clippy::too_many_arguments)]
fn read_comment_page(
    cx: &CommentContext<'_>,
    owner_id: i64,
    post_id: i64,
    page: ItemsPage,
    last: Option<i64>,
    newest: &mut Option<i64>,
    out: &mut Vec<Post>,
    offset: &mut u64,
) -> bool {
    let people = People::from(page.profiles, page.groups);
    let items: Vec<WallComment> = parse_items(cx.source, page.items);
    let got = items.len() as u64;
    *offset += got;
    let fetched = Utc::now();
    let parent = PostKey::new(Platform::Vk, format!("{owner_id}_{post_id}"));
    for comment in items {
        if last.is_some_and(|l| comment.id <= l) {
            return true;
        }
        *newest = Some(newest.map_or(comment.id, |n| n.max(comment.id)));
        let replies: Vec<WallComment> = comment
            .thread
            .as_ref()
            .map(|t| parse_items(cx.source, t.items.clone()))
            .unwrap_or_default();
        for c in std::iter::once(&comment).chain(replies.iter()) {
            if c.deleted || c.text.trim().is_empty() {
                continue;
            }
            let (author, author_url) = people.name_and_url(c.from_id);
            out.push(Post {
                key: PostKey::new(Platform::Vk, format!("{owner_id}_{post_id}_c{}", c.id)),
                source: cx.source.to_string(),
                url: Some(format!(
                    "https://vk.com/wall{owner_id}_{post_id}?reply={}",
                    c.id
                )),
                community: cx.community.to_string(),
                community_territory: cx.territory.map(str::to_string),
                author,
                author_url,
                author_kind: if cx.official.contains(&c.from_id) {
                    AuthorKind::Official
                } else {
                    AuthorKind::Resident
                },
                published: timestamp(c.date, fetched),
                fetched,
                title: None,
                text: c.text.trim().to_string(),
                parent: Some(parent.clone()),
            });
        }
    }
    got == 0 || *offset >= page.count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(json: &str) -> WallPost {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_repost_carries_the_original_text() {
        let p = post(
            r#"{"id":10230,"owner_id":-1,"from_id":-1,"date":1,"text":"Репост",
            "copy_history":[{"id":555,"owner_id":-3,"from_id":-3,"date":1,"text":"Плановое отключение горячей воды"}]}"#,
        );
        assert_eq!(post_text(&p), "Репост\n\nПлановое отключение горячей воды");
        let removed = post(
            r#"{"id":1,"owner_id":-1,"text":"","copy_history":[{"id":2,"owner_id":-3,"from_id":0,"date":0,"text":""}]}"#,
        );
        assert_eq!(post_text(&removed), "");
    }

    #[test]
    fn posts_get_vk_keys_links_authors_and_official_marks() {
        let p = post(
            r#"{"id":7,"owner_id":-200,"from_id":-300,"date":1718802000,"text":"Ответ администрации"}"#,
        );
        let people = People::from(
            vec![],
            vec![Group {
                id: 300,
                name: "Администрация".into(),
                screen_name: Some("adm".into()),
                is_closed: 0,
                deactivated: None,
            }],
        );
        let official: HashSet<i64> = [-300].into();
        let cx = PostContext {
            source: "s",
            community: Some("Подслушано"),
            territory: Some("gavrilov-yam"),
            official: &official,
            fetched: Utc::now(),
        };
        let out = to_post(&p, &people, &cx);
        assert_eq!(out.key, PostKey::new(Platform::Vk, "-200_7"));
        assert_eq!(out.url.as_deref(), Some("https://vk.com/wall-200_7"));
        assert_eq!(out.author.as_deref(), Some("Администрация"));
        assert_eq!(out.author_url.as_deref(), Some("https://vk.com/adm"));
        assert_eq!(out.author_kind, AuthorKind::Official);
        assert_eq!(out.community_territory.as_deref(), Some("gavrilov-yam"));
        assert_eq!(out.published.timestamp(), 1718802000);
    }
}
