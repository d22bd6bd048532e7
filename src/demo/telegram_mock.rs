//! A loopback stand-in for `t.me`: serves public channel previews at
//! `http://127.0.0.1:<port>/s/<channel>` in the markup of the real pages (fixture E of
//! reference/wire-formats.md §3.4: channel header, `rel="prev"` link, "load more" anchor,
//! message wraps with `data-post`, views, `edited` meta, `<time datetime>`), so the real
//! [`TelegramSource`] reads it unchanged.
//!
//! Like t.me it pages with `?before=<id>` / `?after=<id>` (20 messages a page, oldest first),
//! writes `&` in link addresses as `&amp;amp;`, and answers a channel it does not know with a
//! 302 to `/<name>`, the channel's non-preview page.
//!
//! Tests script it to misbehave ([`PageFault`]); the demo starts it with
//! [`TelegramMock::start_demo`], which publishes a district channel's messages over time.
//!
//! In `otklik demo` (`demo::run`), next to the feed server:
//!
//! ```text
//! let telegram = telegram_mock::TelegramMock::start_demo(Duration::from_secs_f64(20.0 / speed)).await?;
//! loaded.settings.sources.telegram = telegram.source_configs(Some("gavrilov-yam"));
//! for c in &mut loaded.settings.sources.telegram { c.poll = Some(quick.clone()); }
//! // … after the daemon stops:
//! telegram.stop().await;
//! ```
//!
//! [`TelegramSource`]: crate::sources::telegram::TelegramSource

use crate::model::AuthorKind;
use crate::sources::telegram::TelegramSourceConfig;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration as TimeDelta, SubsecRound, Utc};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Messages on one preview page, as on t.me.
pub const PAGE_SIZE: usize = 20;

/// One message of a mock channel.
#[derive(Clone, Debug, PartialEq)]
pub struct MockMessage {
    pub id: u64,
    pub published: DateTime<Utc>,
    /// The inner HTML of `.tgme_widget_message_text`, as t.me would write it.
    pub html: String,
    pub views: u64,
    pub edited: bool,
    /// The signature of a signed post.
    pub author: Option<String>,
    /// Whether the message carries a photo (rendered as t.me's photo wrap).
    pub photo: bool,
}

impl MockMessage {
    /// A message with plain `text` rendered the way t.me renders it: line breaks as `<br/>`,
    /// `#tags` as search links, addresses as links whose `&` is written `&amp;amp;`.
    pub fn plain(id: u64, published: DateTime<Utc>, text: &str) -> MockMessage {
        MockMessage {
            id,
            published,
            html: render_plain(text),
            views: 100 + id * 37 % 5000,
            edited: false,
            author: None,
            photo: false,
        }
    }
}

/// One channel the mock serves.
#[derive(Clone, Debug, PartialEq)]
pub struct MockChannel {
    /// Username, as in `t.me/<username>`.
    pub username: String,
    pub title: String,
    pub description: String,
    /// Subscribers as displayed ("12.4K").
    pub subscribers: String,
    pub messages: Vec<MockMessage>,
}

impl MockChannel {
    pub fn new(username: &str, title: &str) -> MockChannel {
        MockChannel {
            username: username.to_string(),
            title: title.to_string(),
            description: String::new(),
            subscribers: "1.2K".to_string(),
            messages: Vec::new(),
        }
    }
}

/// A way for the mock to misbehave on every preview request until cleared.
#[derive(Clone, Debug, PartialEq)]
pub enum PageFault {
    /// Answer with this status and a short body.
    Status(u16),
    /// Wait this long before answering.
    Slow(Duration),
    /// The page cut in half (a complete HTTP reply with half a document).
    Truncated,
    /// The page with inline closing tags dropped, junk markup between messages and a
    /// message whose id is not a number.
    Malformed,
    /// An endless-looking page of this many bytes, streamed without a length.
    Huge(u64),
    /// A 200 page that is not a channel preview (a block or captcha page).
    NotAPreview,
}

struct MockState {
    channels: Mutex<BTreeMap<String, MockChannel>>,
    fault: Mutex<Option<PageFault>>,
    requests: Mutex<Vec<String>>,
    huge_sent: Arc<AtomicU64>,
}

/// A running mock t.me.
pub struct TelegramMock {
    /// Where it listens (127.0.0.1, an ephemeral port).
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`, the `base_url` of a source reading it.
    pub base_url: String,
    state: Arc<MockState>,
    server: super::Loopback,
}

impl TelegramMock {
    /// Serve `channels` on an ephemeral loopback port.
    pub async fn start(channels: Vec<MockChannel>) -> std::io::Result<TelegramMock> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(MockState {
            channels: Mutex::new(
                channels
                    .into_iter()
                    .map(|c| (c.username.to_ascii_lowercase(), c))
                    .collect(),
            ),
            fault: Mutex::new(None),
            requests: Mutex::new(Vec::new()),
            huge_sent: Arc::new(AtomicU64::new(0)),
        });
        let router = Router::new()
            .route("/s/{channel}", get(preview))
            .route("/{channel}", get(channel_page))
            .route("/", get(main_page))
            .with_state(state.clone());
        let server = super::Loopback::spawn(listener, router, "mock t.me stopped with an error");
        Ok(TelegramMock {
            addr,
            base_url: format!("http://{addr}"),
            state,
            server,
        })
    }

    /// The demo: the channels of [`demo_channels`], with a third of their messages out at
    /// once and the rest published one by one, `interval` apart.
    pub async fn start_demo(interval: Duration) -> std::io::Result<TelegramMock> {
        let full = demo_channels(Utc::now());
        let mut initial = full.clone();
        let mut pending = Vec::new();
        for channel in &mut initial {
            let keep = channel.messages.len() / 3;
            for message in channel.messages.split_off(keep) {
                pending.push((channel.username.clone(), message));
            }
        }
        pending.sort_by_key(|(_, m)| m.published);
        let mock = TelegramMock::start(initial).await?;
        let state = mock.state.clone();
        let stop = mock.server.shutdown_token();
        tokio::spawn(async move {
            for (channel, mut message) in pending {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(interval) => {}
                }
                message.published = Utc::now().trunc_subsecs(0);
                publish(&state, &channel, message);
            }
        });
        Ok(mock)
    }

    /// Configurations of sources reading every channel served now.
    pub fn source_configs(&self, territory: Option<&str>) -> Vec<TelegramSourceConfig> {
        self.state
            .channels
            .lock()
            .expect("channels lock")
            .values()
            .map(|c| {
                let mut cfg = TelegramSourceConfig::new(format!("tg-{}", c.username), &c.username);
                cfg.base_url = self.base_url.clone();
                cfg.territory = territory.map(str::to_string);
                cfg.author_kind = AuthorKind::Resident;
                cfg
            })
            .collect()
    }

    /// Add `message` to `channel` (created empty if unknown).
    pub fn publish(&self, channel: &str, message: MockMessage) {
        publish(&self.state, channel, message);
    }

    /// Replace the text of message `id` and mark it edited.
    pub fn edit(&self, channel: &str, id: u64, text: &str) {
        let mut channels = self.state.channels.lock().expect("channels lock");
        if let Some(m) = channels
            .get_mut(&channel.to_ascii_lowercase())
            .and_then(|c| c.messages.iter_mut().find(|m| m.id == id))
        {
            m.html = render_plain(text);
            m.edited = true;
        }
    }

    /// Misbehave on every preview request from now on (`None`: behave again).
    pub fn set_fault(&self, fault: Option<PageFault>) {
        *self.state.fault.lock().expect("fault lock") = fault;
    }

    /// Paths and queries of the requests served so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().expect("requests lock").clone()
    }

    /// Forget the requests served so far.
    pub fn clear_requests(&self) {
        self.state.requests.lock().expect("requests lock").clear();
    }

    /// Bytes of a [`PageFault::Huge`] body written so far.
    pub fn huge_bytes_sent(&self) -> u64 {
        self.state.huge_sent.load(Ordering::Relaxed)
    }

    /// Stop accepting requests and wait for the server task.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

fn publish(state: &MockState, channel: &str, message: MockMessage) {
    let mut channels = state.channels.lock().expect("channels lock");
    let entry = channels
        .entry(channel.to_ascii_lowercase())
        .or_insert_with(|| MockChannel::new(channel, channel));
    entry.messages.retain(|m| m.id != message.id);
    entry.messages.push(message);
    entry.messages.sort_by_key(|m| m.id);
}

async fn preview(
    State(state): State<Arc<MockState>>,
    Path(channel): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut line = format!("/s/{channel}");
    for key in ["before", "after"] {
        if let Some(v) = query.get(key) {
            let _ = write!(line, "?{key}={v}");
        }
    }
    state.requests.lock().expect("requests lock").push(line);
    let fault = state.fault.lock().expect("fault lock").clone();
    if let Some(PageFault::Slow(delay)) = &fault {
        tokio::time::sleep(*delay).await;
    }
    match &fault {
        Some(PageFault::Status(code)) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, "error\n").into_response();
        }
        Some(PageFault::Huge(bytes)) => return huge_page(*bytes, state.huge_sent.clone()),
        Some(PageFault::NotAPreview) => {
            return html(
                "<!DOCTYPE html><html><head><title>Telegram</title></head><body>\
                 <div class=\"tgme_page\">Please verify you are a human</div></body></html>"
                    .to_string(),
            );
        }
        _ => {}
    }
    let page = {
        let channels = state.channels.lock().expect("channels lock");
        let Some(found) = channels.get(&channel.to_ascii_lowercase()) else {
            return redirect(&format!("/{channel}"));
        };
        let number = |k: &str| query.get(k).and_then(|v| v.parse::<u64>().ok());
        render_page(found, number("before"), number("after"))
    };
    match fault {
        Some(PageFault::Truncated) => {
            let mut cut = page.len() / 2;
            while !page.is_char_boundary(cut) {
                cut -= 1;
            }
            html(page[..cut].to_string())
        }
        Some(PageFault::Malformed) => html(
            page.replace("</a>", "")
                .replace("</span>", "")
                .replace(
                    " <div class=\"tgme_widget_message_wrap",
                    "<p>&& <<>> </b></i><div class=\"tgme_widget_message_wrap",
                )
                .replace(
                    "</section>",
                    "<div class=\"tgme_widget_message\" data-post=\"x/abc\"></section>",
                )
                .replace("data-view=\"", "data-view=\"\"\"<"),
        ),
        _ => html(page),
    }
}

async fn channel_page(Path(channel): Path<String>) -> Response {
    html(format!(
        "<!DOCTYPE html><html><head><meta property=\"og:title\" content=\"{name}\"></head>\
         <body><div class=\"tgme_page\"><div class=\"tgme_page_title\">{name}</div>\
         <a class=\"tgme_action_button_new\" href=\"tg://resolve?domain={name}\">View in \
         Telegram</a></div></body></html>",
        name = crate::text::html_escape(&channel)
    ))
}

async fn main_page() -> Response {
    html(
        "<!DOCTYPE html><html><head><title>Telegram Messenger</title></head><body>\
          <div class=\"tgme_page\">a new era of messaging</div></body></html>"
            .to_string(),
    )
}

fn html(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())], "").into_response()
}

fn huge_page(bytes: u64, sent: Arc<AtomicU64>) -> Response {
    const CHUNK: usize = 64 * 1024;
    let filler = "<div class=\"tgme_widget_message_wrap\">".repeat(CHUNK / 38 + 1);
    let chunk = bytes::Bytes::from(filler.as_bytes()[..CHUNK].to_vec());
    let count = bytes.div_ceil(CHUNK as u64);
    let stream = ChunkStream::counted(chunk, count, sent);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// A streamed body: `count` copies of a chunk, counting the bytes handed out; the producer
/// stops as soon as the client stops reading.
pub(crate) struct ChunkStream(tokio::sync::mpsc::Receiver<bytes::Bytes>);

impl ChunkStream {
    pub(crate) fn counted(chunk: bytes::Bytes, count: u64, sent: Arc<AtomicU64>) -> ChunkStream {
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        tokio::spawn(async move {
            for _ in 0..count {
                sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                if tx.send(chunk.clone()).await.is_err() {
                    return;
                }
            }
        });
        ChunkStream(rx)
    }
}

impl futures_core::Stream for ChunkStream {
    type Item = Result<bytes::Bytes, std::io::Error>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.get_mut().0.poll_recv(cx).map(|c| c.map(Ok))
    }
}

/// The preview page of `channel`: the latest [`PAGE_SIZE`] messages, or those before or
/// after an id, oldest first, in t.me's markup.
pub fn render_page(channel: &MockChannel, before: Option<u64>, after: Option<u64>) -> String {
    let all = &channel.messages;
    let shown: Vec<&MockMessage> = match (before, after) {
        (_, Some(after)) => all
            .iter()
            .filter(|m| m.id > after)
            .take(PAGE_SIZE)
            .collect(),
        (Some(before), None) => {
            let older: Vec<&MockMessage> = all.iter().filter(|m| m.id < before).collect();
            older[older.len().saturating_sub(PAGE_SIZE)..].to_vec()
        }
        (None, None) => all[all.len().saturating_sub(PAGE_SIZE)..].iter().collect(),
    };
    let name = crate::text::html_escape(&channel.username);
    let first = shown.first().map(|m| m.id);
    let last = shown.last().map(|m| m.id);
    let has_older = first.is_some_and(|f| all.iter().any(|m| m.id < f));
    let has_newer = last.is_some_and(|l| all.iter().any(|m| m.id > l));
    let title = crate::text::html_escape(&channel.title);
    let mut out = String::with_capacity(4096 + shown.len() * 2048);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n\
         <title>{title} – Telegram</title>\n\
         <meta property=\"og:title\" content=\"{title}\">\n\
         <meta property=\"og:description\" content=\"{desc}\">\n",
        desc = crate::text::html_escape(&channel.description)
    );
    let prev = if has_older {
        first.map(|f| f.to_string()).unwrap_or_default()
    } else {
        String::new()
    };
    let _ = writeln!(out, "<link rel=\"prev\" href=\"/s/{name}?before={prev}\">");
    if has_newer {
        let _ = writeln!(
            out,
            "<link rel=\"next\" href=\"/s/{name}?after={}\">",
            last.unwrap_or_default()
        );
    }
    let _ = write!(
        out,
        "<link rel=\"canonical\" href=\"/s/{name}\">\n</head>\
         <body class=\"widget_frame_base tgme_widget emoji_image thin_box_shadow no_transitions\">\n\
         <header class=\"tgme_header search_collapsed\"><div class=\"tgme_container\"><div class=\"tgme_header_right_column\">\n\
         <section class=\"tgme_right_column\"><div class=\"tgme_channel_info\"><div class=\"tgme_channel_info_header\">\n\
         <div class=\"tgme_channel_info_header_title\"><span dir=\"auto\">{title}</span></div>\n\
         <div class=\"tgme_channel_info_header_username\"><a href=\"https://t.me/{name}\">@{name}</a></div></div>\n\
         <div class=\"tgme_channel_info_counters\"><div class=\"tgme_channel_info_counter\"><span class=\"counter_value\">{subs}</span> <span class=\"counter_type\">subscribers</span></div></div>\n\
         <div class=\"tgme_channel_info_description\">{desc}</div></div></section></div></div></header>\n\
         <main class=\"tgme_main\" data-url=\"/{name}\"><div class=\"tgme_container\">\n\
         <section class=\"tgme_channel_history js-message_history\">\n",
        subs = crate::text::html_escape(&channel.subscribers),
        desc = crate::text::html_escape(&channel.description),
    );
    if has_older && let Some(first) = first {
        let _ = writeln!(
            out,
            " <a href=\"/s/{name}?before={first}\" class=\"tme_messages_more js-messages_more\" data-before=\"{first}\"></a>"
        );
    }
    for m in shown {
        render_message(&mut out, channel, m);
    }
    out.push_str("</section></div></main></body></html>\n");
    out
}

fn render_message(out: &mut String, channel: &MockChannel, m: &MockMessage) {
    let name = crate::text::html_escape(&channel.username);
    let id = m.id;
    let time = m
        .published
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let local = m
        .published
        .with_timezone(&chrono_tz::Europe::Moscow)
        .format("%H:%M");
    let _ = write!(
        out,
        " <div class=\"tgme_widget_message_wrap js-widget_message_wrap\">\n  \
         <div class=\"tgme_widget_message text_not_supported_wrap js-widget_message\" data-post=\"{name}/{id}\" data-view=\"eyJjIjotMTE3OTkzMzcwNH0\">\n   \
         <div class=\"tgme_widget_message_bubble\">\n    \
         <div class=\"message_media_not_supported_wrap\"><div class=\"message_media_not_supported\"><div class=\"message_media_not_supported_label\">Please open Telegram to view this post</div></div></div>\n    \
         <div class=\"tgme_widget_message_author accent_color\"><a class=\"tgme_widget_message_owner_name\" href=\"https://t.me/{name}\"><span dir=\"auto\">{title}</span></a></div>\n",
        title = crate::text::html_escape(&channel.title)
    );
    if m.photo {
        let _ = writeln!(
            out,
            "    <a class=\"tgme_widget_message_photo_wrap\" href=\"https://t.me/{name}/{id}\" style=\"width:800px;background-image:url('https://cdn4.telesco.pe/file/{id}.jpg')\"><div class=\"tgme_widget_message_photo\"></div></a>"
        );
    }
    if !m.html.is_empty() {
        let _ = writeln!(
            out,
            "    <div class=\"tgme_widget_message_text js-message_text\" dir=\"auto\">{}</div>",
            m.html
        );
    }
    let _ = write!(
        out,
        "    <div class=\"tgme_widget_message_footer compact js-message_footer\"><div class=\"tgme_widget_message_info short js-message_info\">\n     \
         <span class=\"tgme_widget_message_views\">{views}</span><span class=\"copyonly\"> views</span>",
        views = display_views(m.views)
    );
    if let Some(author) = &m.author {
        let _ = write!(
            out,
            "<span class=\"tgme_widget_message_from_author\" dir=\"auto\">{}</span>",
            crate::text::html_escape(author)
        );
    }
    let _ = write!(
        out,
        "<span class=\"tgme_widget_message_meta\">{edited}<a class=\"tgme_widget_message_date\" href=\"https://t.me/{name}/{id}\"><time datetime=\"{time}\" class=\"time\">{local}</time></a></span>\n    \
         </div></div></div></div></div>\n",
        edited = if m.edited { "edited " } else { "" }
    );
}

/// Views the way t.me shows them: 830, 4.4K, 1.2M.
pub fn display_views(views: u64) -> String {
    match views {
        0..1_000 => views.to_string(),
        1_000..1_000_000 => trim_decimal(views as f64 / 1e3, "K"),
        _ => trim_decimal(views as f64 / 1e6, "M"),
    }
}

fn trim_decimal(value: f64, unit: &str) -> String {
    let shown = format!("{:.1}", (value * 10.0).floor() / 10.0);
    format!("{}{unit}", shown.trim_end_matches(".0"))
}

/// Plain text as t.me writes it in a message: escaped, `<br/>` for line breaks, `#tags` as
/// search links, addresses as links with `&` written `&amp;amp;`.
pub fn render_plain(text: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push_str("<br/>");
        }
        for (j, word) in line.split(' ').enumerate() {
            if j > 0 {
                out.push(' ');
            }
            if word.starts_with("http://") || word.starts_with("https://") {
                let href = crate::text::html_escape(word).replace("&amp;", "&amp;amp;");
                let _ = write!(
                    out,
                    "<a href=\"{href}\" target=\"_blank\" rel=\"noopener\" onclick=\"return confirm('Open this link?')\">{}</a>",
                    crate::text::html_escape(word)
                );
            } else if let Some(tag) = word.strip_prefix('#')
                && !tag.is_empty()
            {
                let _ = write!(
                    out,
                    "<a href=\"?q=%23{0}\">#{0}</a>",
                    crate::text::html_escape(tag)
                );
            } else {
                out.push_str(&crate::text::html_escape(word));
            }
        }
    }
    out
}

/// The demo's channels: a «Подслушано»-style channel of residents' messages and the
/// administration's channel, their messages dated up to `now`.
pub fn demo_channels(now: DateTime<Utc>) -> Vec<MockChannel> {
    let texts_residents = [
        "Подслушано: на улице Кирова, 12 третий день нет холодной воды. Куда звонить?",
        "Во дворе дома 5 на Чапаева не вывозят мусор уже неделю, контейнеры переполнены",
        "На перекрёстке Советской и Менжинского не работает светофор, чуть не столкнулись",
        "Яма на дороге у школы №1 стала ещё глубже, вчера пробил колесо #дороги",
        "Кто знает, когда дадут отопление на Шишкина? В квартире +15",
        "Спасибо коммунальщикам, быстро убрали упавшее дерево на Северной",
        "В Великом опять отключили свет, уже третий раз за неделю",
        "Фонари на Юбилейном проезде не горят, вечером идти страшно",
        "Продам диван, недорого, самовывоз",
        "На остановке у рынка разбито стекло, осколки на тротуаре",
        "Из люка на Луговой идёт пар, запах канализации по всей улице",
        "Бездомные собаки у детского сада на Кирова бросаются на детей",
        "Подскажите, где в городе можно сдать батарейки?",
        "Во дворе на Строителей прорвало трубу, вода идёт по дороге",
        "Снег с крыши дома 3 на Красноармейской не убирают, сосульки над входом",
        "На площади поставили новую ёлку, красиво!",
        "Карта отключений воды: https://gavyam.example/map?street=kirova&day=today",
        "Автобус №2 опять не пришёл утром, люди опаздывают на работу",
        "Горит трава у реки за Ямской, дым идёт на дома",
        "У поликлиники нет пандуса, с коляской не подняться",
        "Тротуар на Пушкина не чистят, все ходят по проезжей части",
        "Не работает лифт в доме 14 на Менжинского уже две недели",
        "В Шопше на колонке нет воды, бабушкам носить за километр",
        "Благодарим администрацию за новую детскую площадку!",
        "Сломана лавочка в сквере у Дома культуры",
        "На Клубной сорвало провод, висит низко над дорогой",
    ];
    let texts_admin = [
        "Уважаемые жители! 20 ноября с 9:00 до 17:00 плановое отключение воды на ул. Кирова",
        "Администрация района приглашает на приём граждан в четверг",
        "Работы по ремонту дороги на ул. Советской завершены",
        "Информация об отключениях электроэнергии: https://gavyam.example/news?id=15&lang=ru",
        "Отвечаем на обращение жителей улицы Луговой: аварийная бригада направлена",
    ];
    let spread = |count: usize, i: usize| now - TimeDelta::minutes(((count - i) * 37) as i64);
    let mut residents = MockChannel::new("podslushano_gy", "Подслушано Гаврилов-Ям");
    residents.description = "Пишите в предложку, публикуем анонимно".into();
    residents.subscribers = "6.1K".into();
    residents.messages = texts_residents
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut m =
                MockMessage::plain(1200 + i as u64 * 2, spread(texts_residents.len(), i), t);
            m.photo = i % 4 == 1;
            m
        })
        .collect();
    let mut admin = MockChannel::new("gavyam_adm", "Администрация Гаврилов-Ямского района");
    admin.description = "Официальный канал".into();
    admin.subscribers = "2.3K".into();
    admin.messages = texts_admin
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut m = MockMessage::plain(300 + i as u64, spread(texts_admin.len(), i), t);
            m.author = Some("Пресс-служба".into());
            m.edited = i == 0;
            m
        })
        .collect();
    vec![residents, admin]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::telegram::{parse_page, parse_views};

    #[test]
    fn views_display_and_read_back() {
        for (views, shown) in [(830, "830"), (4_450, "4.4K"), (1_234_567, "1.2M")] {
            assert_eq!(display_views(views), shown);
        }
        assert_eq!(parse_views(&display_views(12_000)), Some(12_000));
    }

    #[test]
    fn rendered_pages_parse_as_real_ones() {
        let channels = demo_channels(Utc::now());
        let page = render_page(&channels[0], None, None);
        let parsed = parse_page(&page).unwrap();
        assert_eq!(parsed.title.as_deref(), Some("Подслушано Гаврилов-Ям"));
        assert_eq!(parsed.messages.len(), PAGE_SIZE);
        let first = parsed.messages[0].id;
        assert_eq!(parsed.before, Some(first));
        let older = parse_page(&render_page(&channels[0], Some(first), None)).unwrap();
        assert!(older.messages.iter().all(|m| m.id < first));
        assert_eq!(older.before, None, "the first page has an empty prev link");
        let with_link = parsed
            .messages
            .iter()
            .find(|m| m.text.contains("Карта"))
            .unwrap();
        assert_eq!(
            with_link.links,
            vec!["https://gavyam.example/map?street=kirova&day=today"]
        );
    }
}
