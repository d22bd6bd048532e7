//! Benchmarks behind `otklik-bench`: synthetic but realistic posts, the whole write path,
//! and same-run baselines.

use crate::config::IndexSettings;
use crate::index::{IndexWriterHandle, document_for, open_or_create};
use crate::model::{AuthorKind, Platform, Post, PostKey};
use crate::pipeline::{Pipeline, Understood, understand_all};
use crate::store::{Store, StoredPost};
use crate::text::html_escape;
use crate::understand::{Knowledge, PostView, Understanding, understand};
use chrono::{Duration, TimeZone, Utc};
use serde::Serialize;
use std::fmt;
use std::time::Instant;

/// Posts per generated feed document.
const FEED_ITEMS: usize = 500;

const COMPLAINTS: &[&str] = &[
    "на улице {street} огромная яма, машины бьют колёса, когда уже отремонтируют дорогу",
    "третий день нет воды в {place}, куда звонить, никто ничего не объясняет",
    "не вывозят мусор с площадки у дома, контейнеры переполнены, крысы бегают",
    "на {street} не горят фонари, вечером идти страшно, дети ходят из школы в темноте",
    "стая бездомных собак у магазина в {place}, кидаются на людей, примите меры",
    "дорогу в {place} не чистят от снега, автобус не может проехать, люди опаздывают на работу",
    "отключили свет в {place} и не говорят когда включат, холодильники текут",
    "в подъезде на {street} течёт крыша, управляющая компания не отвечает на звонки",
    "автобус до {place} опять не пришёл, ждали час на остановке на морозе",
    "в поликлинике невозможно записаться к врачу, телефон регистратуры не отвечает",
    "батареи еле тёплые, в квартире 16 градусов, когда дадут нормальное отопление",
    "на детской площадке на {street} сломаны качели, торчат острые железки",
];

const OTHERS: &[&str] = &[
    "поздравляем всех жителей с праздником, желаем здоровья и благополучия",
    "продаю дрова колотые берёза с доставкой по району, звоните",
    "спасибо коммунальщикам за быстрый ремонт водопровода в {place}",
    "найдена собака рыжая у магазина на {street}, ищем хозяев",
    "в доме культуры в субботу концерт народного хора, вход свободный",
    "администрация информирует о плановом отключении электроэнергии в {place} в четверг",
    "отличная погода сегодня, ходили на Которосль с детьми",
];

const PLACES: &[&str] = &[
    "Шопше",
    "Великом",
    "Митине",
    "Заячьем-Холме",
    "Гаврилов-Яме",
    "Петраково",
    "Ильинском-Урусове",
];
const STREETS: &[&str] = &[
    "Советской",
    "Кирова",
    "Менжинского",
    "Клубной",
    "Северной",
    "Победы",
    "Строителей",
];
const FILLER: &[&str] = &[
    "уже",
    "опять",
    "вчера",
    "сегодня",
    "люди",
    "жители",
    "пожалуйста",
    "администрация",
    "очень",
    "неделю",
    "давно",
    "написали",
    "обращались",
    "ответа",
    "нет",
    "соседи",
    "говорят",
    "вообще",
    "никто",
    "сделайте",
];

/// Deterministic synthetic posts: a mix of complaints and other chatter, with filler words so
/// that lengths and vocabularies vary.
pub fn synthetic_posts(n: usize) -> Vec<Post> {
    let mut rng = fastrand::Rng::with_seed(20261126);
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 6, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let template = if rng.u8(0..100) < 40 {
                COMPLAINTS[rng.usize(0..COMPLAINTS.len())]
            } else {
                OTHERS[rng.usize(0..OTHERS.len())]
            };
            let mut text = template
                .replace("{street}", STREETS[rng.usize(0..STREETS.len())])
                .replace("{place}", PLACES[rng.usize(0..PLACES.len())]);
            for _ in 0..rng.usize(5..40) {
                text.push(' ');
                text.push_str(FILLER[rng.usize(0..FILLER.len())]);
            }
            let published = start + Duration::seconds(i as i64 * 13);
            Post {
                key: PostKey::new(Platform::Rss, format!("bench:{i}")),
                source: "bench".into(),
                url: Some(format!("https://news.example/{i}")),
                community: "Новости округа".into(),
                community_territory: None,
                author: Some(format!("Автор {}", rng.u32(0..5000))),
                author_url: None,
                author_kind: AuthorKind::Resident,
                published,
                fetched: published,
                title: None,
                text,
                parent: None,
            }
        })
        .collect()
}

/// The posts as RSS 2.0 documents of [`FEED_ITEMS`] items, the wire form parsing starts from:
/// a news site's feed with a guid, a link, a date, an author and the text of each item.
pub fn as_feeds(posts: &[Post]) -> Vec<Vec<u8>> {
    posts
        .chunks(FEED_ITEMS)
        .map(|chunk| {
            let mut xml = String::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>Новости округа</title><link>https://news.example/</link>\n",
            );
            for post in chunk {
                xml.push_str(&format!(
                    "<item><guid>{}</guid><link>{}</link><pubDate>{}</pubDate><dc:creator>{}</dc:creator><description>{}</description></item>\n",
                    post.key.native_id,
                    post.url.as_deref().unwrap_or_default(),
                    post.published.to_rfc2822(),
                    html_escape(post.author.as_deref().unwrap_or_default()),
                    html_escape(&post.text)
                ));
            }
            xml.push_str("</channel></rss>\n");
            xml.into_bytes()
        })
        .collect()
}

/// The configuration of the benchmark's feed.
fn bench_feed() -> crate::config::RssSourceConfig {
    crate::config::RssSourceConfig {
        name: "bench".into(),
        url: "https://news.example/rss".into(),
        territory: None,
        community: None,
        author_kind: AuthorKind::Resident,
        poll: None,
        enabled: true,
        timezone: chrono_tz::Europe::Moscow,
    }
}

/// Parse one generated feed into posts the way the RSS source does (transcoding and checks
/// of the raw bytes, feed-rs, plain text of the HTML, stable ids).
fn parse_feed(cfg: &crate::config::RssSourceConfig, bytes: &[u8]) -> anyhow::Result<Vec<Post>> {
    let parsed = crate::sources::rss::parse_feed(
        bytes,
        Some("application/rss+xml; charset=utf-8"),
        Some("https://news.example/rss"),
        cfg.timezone,
    )?;
    let community = parsed.title.as_deref().unwrap_or(&cfg.name);
    let now = Utc::now();
    Ok(parsed
        .items
        .iter()
        .map(|item| crate::sources::rss::post_of(cfg, item, community, now))
        .collect())
}

/// CPU time this process has used so far, user and system, in seconds (Linux).
fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces) start at field 3.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15, in clock ticks of 1/100 s on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

#[derive(Debug, Serialize)]
pub struct IngestFigures {
    pub posts: usize,
    pub pipeline_seconds: f64,
    pub pipeline_posts_per_sec: f64,
    /// CPU time of the whole process during the pipeline run (all threads).
    pub pipeline_cpu_seconds: f64,
    pub raw_index_seconds: f64,
    pub raw_index_cpu_seconds: f64,
    pub raw_index_docs_per_sec: f64,
    pub ratio: f64,
    pub incidents_opened: usize,
    pub posts_attached: usize,
    pub store_bytes: u64,
    pub index_bytes: u64,
    pub writer_threads: usize,
}

impl fmt::Display for IngestFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "posts:                 {}", self.posts)?;
        writeln!(
            f,
            "pipeline:              {:.0} posts/s ({:.2} s, {:.2} s of CPU)",
            self.pipeline_posts_per_sec, self.pipeline_seconds, self.pipeline_cpu_seconds
        )?;
        writeln!(
            f,
            "raw tantivy indexing:  {:.0} docs/s ({:.2} s, {:.2} s of CPU)",
            self.raw_index_docs_per_sec, self.raw_index_seconds, self.raw_index_cpu_seconds
        )?;
        writeln!(f, "ratio:                 {:.2}", self.ratio)?;
        writeln!(
            f,
            "incidents opened:      {} (posts attached: {})",
            self.incidents_opened, self.posts_attached
        )?;
        write!(
            f,
            "on disk:               store {} MiB, index {} MiB",
            self.store_bytes >> 20,
            self.index_bytes >> 20
        )
    }
}

/// The whole write path on `n` posts, then plain tantivy on the same texts.
pub fn ingest(n: usize) -> anyhow::Result<IngestFigures> {
    let posts = synthetic_posts(n);
    let feeds = as_feeds(&posts);
    let settings = IndexSettings {
        commit_interval_secs: 10,
        ..IndexSettings::default()
    };

    let dir = tempfile_dir("otklik-bench-pipeline")?;
    let started = Instant::now();
    let cpu_started = process_cpu_seconds();
    let store = Store::open(&dir.join("store"))?;
    let index = IndexWriterHandle::start(&dir.join("search"), store.clone(), &settings)?;
    let (activity, _) = tokio::sync::broadcast::channel(1);
    let loaded = crate::config::Loaded::embedded(dir.clone());
    let mut pipeline = Pipeline::new(
        &loaded,
        store.clone(),
        index.sender(),
        activity,
        crate::time::Clock::system(),
    )?;
    // As in the daemon, parsing happens on the sources' side, concurrently with the pipeline
    // thread, and reaches it through a bounded channel.
    // Understanding, pure and CPU-bound, happens there too, as the pollers do it.
    let (parsed_tx, parsed_rx) = std::sync::mpsc::sync_channel::<Vec<Understood>>(4);
    let knowledge = pipeline.knowledge.clone();
    let parser = std::thread::spawn(move || -> anyhow::Result<()> {
        let cfg = bench_feed();
        for feed in &feeds {
            if parsed_tx
                .send(understand_all(parse_feed(&cfg, feed)?, &knowledge))
                .is_err()
            {
                break;
            }
        }
        Ok(())
    });
    let (mut opened, mut attached) = (0, 0);
    for posts in parsed_rx {
        let report = pipeline.ingest_understood(posts)?;
        opened += report.incidents_opened;
        attached += report.posts_attached;
    }
    parser.join().expect("the parser thread does not panic")?;
    drop(pipeline);
    let committed = index.finish();
    anyhow::ensure!(
        committed == n as u64,
        "index committed {committed} of {n} posts"
    );
    let pipeline_seconds = started.elapsed().as_secs_f64();
    let pipeline_cpu_seconds = process_cpu_seconds() - cpu_started;
    let store_bytes = dir_size(&dir.join("store"));
    let index_bytes = dir_size(&dir.join("search"));
    drop(store);

    let raw_dir = tempfile_dir("otklik-bench-raw")?;
    let started = Instant::now();
    let cpu_started = process_cpu_seconds();
    let raw = open_or_create(&raw_dir)?;
    let fields = crate::index::Fields::of(&raw.schema());
    let mut writer: tantivy::IndexWriter = raw.writer_with_num_threads(
        settings.writer_threads,
        settings.writer_memory_mb * 1024 * 1024,
    )?;
    for (seq, post) in posts.into_iter().enumerate() {
        let stored = StoredPost {
            seq: seq as u64 + 1,
            post,
            understanding: Understanding::default(),
            incident: None,
        };
        writer.add_document(document_for(&fields, &stored))?;
    }
    writer.commit()?;
    writer.wait_merging_threads()?;
    let raw_seconds = started.elapsed().as_secs_f64();
    let raw_index_cpu_seconds = process_cpu_seconds() - cpu_started;

    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&raw_dir);
    let pipeline_rate = n as f64 / pipeline_seconds;
    let raw_rate = n as f64 / raw_seconds;
    Ok(IngestFigures {
        posts: n,
        pipeline_seconds,
        pipeline_posts_per_sec: pipeline_rate,
        pipeline_cpu_seconds,
        raw_index_seconds: raw_seconds,
        raw_index_cpu_seconds,
        raw_index_docs_per_sec: raw_rate,
        ratio: pipeline_rate / raw_rate,
        incidents_opened: opened,
        posts_attached: attached,
        store_bytes,
        index_bytes,
        writer_threads: settings.writer_threads,
    })
}

#[derive(Debug, Serialize)]
pub struct UnderstandFigures {
    pub posts: usize,
    pub seconds: f64,
    pub posts_per_sec: f64,
    pub incidents: usize,
    /// Baseline in the same run: lowercasing every text, the least any text step does.
    pub lowercase_posts_per_sec: f64,
}

impl fmt::Display for UnderstandFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "posts:          {}", self.posts)?;
        writeln!(
            f,
            "understanding:  {:.0} posts/s on one core ({:.2} s)",
            self.posts_per_sec, self.seconds
        )?;
        writeln!(
            f,
            "baseline:       {:.0} posts/s (lowercasing only)",
            self.lowercase_posts_per_sec
        )?;
        write!(f, "incidents:      {}", self.incidents)
    }
}

/// The understanding step alone, single-threaded.
pub fn understand_only(n: usize) -> UnderstandFigures {
    let posts = synthetic_posts(n);
    let knowledge = Knowledge::embedded();
    let started = Instant::now();
    let mut incidents = 0;
    for post in &posts {
        let u = understand(&PostView::of(post, &post.text), &knowledge);
        incidents += usize::from(u.incident);
    }
    let seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut total = 0usize;
    for post in &posts {
        total += std::hint::black_box(post.text.to_lowercase()).len();
    }
    std::hint::black_box(total);
    let baseline = started.elapsed().as_secs_f64();
    UnderstandFigures {
        posts: n,
        seconds,
        posts_per_sec: n as f64 / seconds,
        incidents,
        lowercase_posts_per_sec: n as f64 / baseline,
    }
}

fn tempfile_dir(prefix: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Search through the HTTP API (`GET /api/v1/search`, facets and histogram included) over
/// `n` indexed posts, against two baselines measured in the same run: the same queries
/// through [`crate::index::Searcher`] in-process without facets, and `GET /healthz` (the
/// floor of one HTTP round trip).
#[derive(Debug, Serialize)]
pub struct SearchApiFigures {
    pub posts: usize,
    pub index_seconds: f64,
    pub index_bytes: u64,
    pub requests: usize,
    pub api_p50_ms: f64,
    pub api_p99_ms: f64,
    pub api_max_ms: f64,
    pub in_process_p50_ms: f64,
    pub in_process_p99_ms: f64,
    pub healthz_p50_ms: f64,
    pub healthz_p99_ms: f64,
    /// Each query's median through the API, slowest first.
    pub per_query_p50_ms: Vec<(String, f64)>,
}

impl fmt::Display for SearchApiFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "posts indexed:         {}", self.posts)?;
        writeln!(
            f,
            "index built in:        {:.1} s ({} MiB)",
            self.index_seconds,
            self.index_bytes >> 20
        )?;
        writeln!(f, "requests:              {}", self.requests)?;
        writeln!(
            f,
            "GET /api/v1/search:    p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (facets and histogram included)",
            self.api_p50_ms, self.api_p99_ms, self.api_max_ms
        )?;
        writeln!(
            f,
            "baseline, in-process:  p50 {:.2} ms, p99 {:.2} ms (same queries, no HTTP, no facets)",
            self.in_process_p50_ms, self.in_process_p99_ms
        )?;
        writeln!(
            f,
            "baseline, GET /healthz: p50 {:.2} ms, p99 {:.2} ms",
            self.healthz_p50_ms, self.healthz_p99_ms
        )?;
        write!(f, "median by query, slowest first:")?;
        for (query, ms) in &self.per_query_p50_ms {
            write!(f, "\n  {ms:>8.2} ms  {query}")?;
        }
        Ok(())
    }
}

/// The queries the benchmark cycles through: words, phrases, boolean queries, filters, dates,
/// the empty query (every post), and deep pages.
const BENCH_QUERIES: &[&str] = &[
    "q=яма",
    "q=нет+воды",
    "q=%22нет+воды%22",
    "q=мусор+OR+контейнеры",
    "q=фонари+AND+Кирова",
    "q=автобус&territory=shopsha",
    "q=отопление&group=zhkh",
    "q=",
    "q=собаки&sort=best",
    "q=свет&since=2026-03-01&until=2026-03-31",
    "q=дорогу+NOT+снега",
    "q=концерт&page=5",
    "q=&source=rss&incidents=true",
];

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    if sorted_ms.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_ms.len() as f64).ceil() as usize;
    sorted_ms[rank.clamp(1, sorted_ms.len()) - 1]
}

/// Build an index of `n` synthetic posts, start the daemon's HTTP interface on it, and time
/// `requests` searches.
pub async fn search_api(n: usize, requests: usize) -> anyhow::Result<SearchApiFigures> {
    let dir = tempfile_dir("otklik-bench-search")?;
    let data = crate::daemon::DataDir::new(&dir);
    let started = Instant::now();
    let index_dir = data.index();
    let index_bytes =
        tokio::task::spawn_blocking(move || build_search_index(&index_dir, n)).await??;
    let index_seconds = started.elapsed().as_secs_f64();

    let mut loaded = crate::config::Loaded::embedded(dir.clone());
    loaded.settings.api.listen = "127.0.0.1:0".into();
    let (activity, _) = tokio::sync::broadcast::channel(16);
    let running = crate::daemon::start(&loaded, Vec::new(), activity).await?;
    let store = running.store.clone();
    let org = loaded.org.clone();
    let token = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        crate::web::accounts::add_user(
            &store,
            &org,
            &crate::web::accounts::NewUser {
                login: "bench",
                name: None,
                role: crate::store::Role::Head,
                owner: None,
                password: "bench-password",
            },
        )?;
        Ok(crate::web::accounts::issue_token(&store, "bench", None)?)
    })
    .await??;
    let base = format!("http://{}", running.api_addr.expect("the API listens"));
    let client = reqwest::Client::new();

    let time = |path: String| {
        let request = client.get(format!("{base}{path}")).bearer_auth(&token);
        async move {
            let started = Instant::now();
            let reply = request.send().await?;
            anyhow::ensure!(reply.status().is_success(), "{path}: {}", reply.status());
            reply.bytes().await?;
            Ok::<f64, anyhow::Error>(started.elapsed().as_secs_f64() * 1000.0)
        }
    };
    // Warm up: first searches open the index and fault its files in.
    for q in BENCH_QUERIES.iter().cycle().take(BENCH_QUERIES.len() * 3) {
        time(format!("/api/v1/search?{q}")).await?;
    }
    let mut api = Vec::with_capacity(requests);
    let mut by_query: Vec<Vec<f64>> = vec![Vec::new(); BENCH_QUERIES.len()];
    for (i, q) in BENCH_QUERIES.iter().enumerate().cycle().take(requests) {
        let ms = time(format!("/api/v1/search?{q}")).await?;
        api.push(ms);
        by_query[i].push(ms);
    }
    let mut per_query_p50_ms: Vec<(String, f64)> = BENCH_QUERIES
        .iter()
        .zip(by_query.iter_mut())
        .map(|(q, times)| {
            times.sort_by(f64::total_cmp);
            (q.to_string(), percentile(times, 50.0))
        })
        .collect();
    per_query_p50_ms.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut healthz = Vec::with_capacity(requests);
    for _ in 0..requests {
        healthz.push(time("/healthz".into()).await?);
    }

    let index_dir = data.index();
    let in_process = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<f64>> {
        let searcher = crate::index::Searcher::open(&index_dir)?;
        let mut times = Vec::with_capacity(requests);
        for q in BENCH_QUERIES.iter().cycle().take(requests) {
            let params: crate::web::search::SearchParams = serde_urlencoded::from_str(q)?;
            let mut checked = params
                .check()
                .map_err(|b| anyhow::anyhow!("{}: {}", b.param, b.detail))?;
            checked.request.facets = false;
            let started = Instant::now();
            std::hint::black_box(searcher.search(&checked.request)?);
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(times)
    })
    .await??;
    running.shutdown(std::time::Duration::from_secs(10)).await?;
    let _ = std::fs::remove_dir_all(&dir);

    for v in [&mut api, &mut healthz] {
        v.sort_by(f64::total_cmp);
    }
    let mut in_process = in_process;
    in_process.sort_by(f64::total_cmp);
    Ok(SearchApiFigures {
        posts: n,
        index_seconds,
        index_bytes,
        requests,
        api_p50_ms: percentile(&api, 50.0),
        api_p99_ms: percentile(&api, 99.0),
        api_max_ms: api.last().copied().unwrap_or_default(),
        in_process_p50_ms: percentile(&in_process, 50.0),
        in_process_p99_ms: percentile(&in_process, 99.0),
        healthz_p50_ms: percentile(&healthz, 50.0),
        healthz_p99_ms: percentile(&healthz, 99.0),
        per_query_p50_ms,
    })
}

/// Index `n` synthetic posts straight into tantivy (the store is not needed to search).
/// Understanding every post would dominate the build, so a sample of 5 000 is understood and
/// their results reused in turn: the facets then have a realistic spread.
fn build_search_index(dir: &std::path::Path, n: usize) -> anyhow::Result<u64> {
    const SAMPLE: usize = 5_000;
    const CHUNK: usize = 100_000;
    let knowledge = Knowledge::embedded();
    let sample: Vec<Understanding> = synthetic_posts(SAMPLE.min(n.max(1)))
        .iter()
        .map(|p| understand(&PostView::of(p, &p.text), &knowledge))
        .collect();
    let index = open_or_create(dir)?;
    let fields = crate::index::Fields::of(&index.schema());
    let settings = IndexSettings::default();
    let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(
        settings.writer_threads,
        settings.writer_memory_mb * 1024 * 1024,
    )?;
    let all = synthetic_posts(n);
    for (chunk_no, chunk) in all.chunks(CHUNK).enumerate() {
        for (i, post) in chunk.iter().enumerate() {
            let seq = (chunk_no * CHUNK + i) as u64 + 1;
            let mut post = post.clone();
            post.key = PostKey::new(Platform::ALL[(seq % 4) as usize], format!("bench:{seq}"));
            let stored = StoredPost {
                seq,
                post,
                understanding: sample[seq as usize % sample.len()].clone(),
                incident: None,
            };
            writer.add_document(document_for(&fields, &stored))?;
        }
    }
    writer.commit()?;
    writer.wait_merging_threads()?;
    Ok(dir_size(dir))
}

/// The queue page (`GET /incidents`, server-rendered HTML, signed in as the coordinator) over
/// `n` open incidents, against the same listing in-process without HTTP or HTML.
#[derive(Debug, Serialize)]
pub struct QueuePageFigures {
    pub incidents: usize,
    pub requests: usize,
    pub page_bytes: usize,
    pub page_p50_ms: f64,
    pub page_p99_ms: f64,
    pub in_process_p50_ms: f64,
    pub in_process_p99_ms: f64,
}

impl fmt::Display for QueuePageFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "open incidents:        {}", self.incidents)?;
        writeln!(f, "requests:              {}", self.requests)?;
        writeln!(
            f,
            "GET /incidents:        p50 {:.2} ms, p99 {:.2} ms ({} KiB of HTML, 200 incidents shown)",
            self.page_p50_ms,
            self.page_p99_ms,
            self.page_bytes >> 10
        )?;
        write!(
            f,
            "baseline, in-process:  p50 {:.2} ms, p99 {:.2} ms (the same listing, no HTTP, no HTML)",
            self.in_process_p50_ms, self.in_process_p99_ms
        )
    }
}

/// Fill a store with `n` open incidents through the queue, start the daemon on it (its clock
/// fixed at the end of the synthetic week), and time the queue page.
pub async fn queue_page(n: usize, requests: usize) -> anyhow::Result<QueuePageFigures> {
    let dir = tempfile_dir("otklik-bench-queue-page")?;
    let mut loaded = crate::config::Loaded::embedded(dir.clone());
    let end = chrono_tz::Europe::Moscow
        .with_ymd_and_hms(2026, 11, 27, 16, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    loaded.clock = crate::time::Clock::fixed(end);
    loaded.settings.api.listen = "127.0.0.1:0".into();
    {
        let loaded = loaded.clone();
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let store = Store::open(&crate::daemon::DataDir::new(&dir).store())?;
            let rules = std::sync::Arc::new(crate::incidents::queue::Rules::from_loaded(&loaded));
            let queue = crate::incidents::queue::Queue::new(rules);
            let span = Duration::days(4).num_seconds();
            let mut id = 0u64;
            while (id as usize) < n {
                let mut tx = crate::incidents::queue::Tx::new(&store, end);
                for _ in 0..1000.min(n - id as usize) {
                    id += 1;
                    let created = end - Duration::seconds(span * (n as i64 - id as i64) / n as i64);
                    let mut incident = crate::incidents::bench::synthetic(id, created, &loaded);
                    tx.now = created;
                    queue.opened(&mut incident, &mut tx)?;
                    tx.put(incident);
                }
                let mut batch = std::mem::take(&mut tx.batch);
                batch.put_next_incident(id + 1);
                store.commit(batch)?;
            }
            Ok(())
        })
        .await??;
    }
    let (activity, _) = tokio::sync::broadcast::channel(16);
    let running = crate::daemon::start(&loaded, Vec::new(), activity).await?;
    let store = running.store.clone();
    let org = loaded.org.clone();
    let session = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        crate::web::accounts::add_user(
            &store,
            &org,
            &crate::web::accounts::NewUser {
                login: "bench",
                name: None,
                role: crate::store::Role::Coordinator,
                owner: None,
                password: "bench-password",
            },
        )?;
        Ok(crate::web::auth::start_session(&store, "bench", 1)?)
    })
    .await??;
    // Let the timers due at start fire before measuring.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let base = format!("http://{}", running.api_addr.expect("the API listens"));
    let client = reqwest::Client::new();
    let mut times = Vec::with_capacity(requests);
    let mut page_bytes = 0;
    for i in 0..requests + 10 {
        let started = Instant::now();
        let reply = client
            .get(format!("{base}/incidents"))
            .header("cookie", format!("otklik_session={session}"))
            .send()
            .await?;
        anyhow::ensure!(
            reply.status().is_success(),
            "/incidents: {}",
            reply.status()
        );
        page_bytes = reply.bytes().await?.len();
        if i >= 10 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let store = running.store.clone();
    let open = running.open_incidents.clone();
    let in_process = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<f64>> {
        let filter = crate::incidents::view::ListFilter {
            limit: Some(200),
            ..Default::default()
        };
        let mut times = Vec::with_capacity(requests);
        for _ in 0..requests {
            let started = Instant::now();
            std::hint::black_box(crate::incidents::view::list(
                &store,
                Some(&open),
                &filter,
                end,
            )?);
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(times)
    })
    .await??;
    running.shutdown(std::time::Duration::from_secs(10)).await?;
    let _ = std::fs::remove_dir_all(&dir);
    times.sort_by(f64::total_cmp);
    let mut in_process = in_process;
    in_process.sort_by(f64::total_cmp);
    Ok(QueuePageFigures {
        incidents: n,
        requests,
        page_bytes,
        page_p50_ms: percentile(&times, 50.0),
        page_p99_ms: percentile(&times, 99.0),
        in_process_p50_ms: percentile(&in_process, 50.0),
        in_process_p99_ms: percentile(&in_process, 99.0),
    })
}
