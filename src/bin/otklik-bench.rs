//! Benchmarks that print figures (release build):
//!
//! `cargo run --release --bin otklik-bench -- ingest --posts 200000 --json`
//! `cargo run --release --bin otklik-bench -- understand --posts 200000 --json`
//! `cargo run --release --bin otklik-bench -- reports --incidents 500000 --store`
//! `cargo run --release --bin otklik-bench -- search-api --posts 1000000 --requests 2000`
//! `cargo run --release --bin otklik-bench -- queue --incidents 100000 --json`
//! `cargo run --release --bin otklik-bench -- queue-page --incidents 10000 --requests 300`
//!
//! Each measures a baseline in the same run, so the figures compare on any machine.

use clap::{Parser, Subcommand};
use otklik::bench::{IngestFigures, UnderstandFigures, ingest, understand_only};

#[derive(Parser)]
#[command(
    name = "otklik-bench",
    about = "otklik benchmarks: printed figures with a same-run baseline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse → understand → store → index (committed), against plain tantivy indexing of the
    /// same texts with the same analyzer.
    Ingest {
        #[arg(long, default_value_t = 200_000)]
        posts: usize,
        #[arg(long)]
        json: bool,
    },
    /// The heat map, ratings and weekly note over a year of a region-sized queue, against one
    /// plain counting pass; `--store` also writes and reads the incidents through the store.
    Reports {
        #[arg(long, default_value_t = 500_000)]
        incidents: usize,
        #[arg(long)]
        store: bool,
        #[arg(long)]
        json: bool,
    },
    /// Search through the HTTP API over many indexed posts: p50 and p99, with an in-process
    /// and an HTTP-floor baseline.
    SearchApi {
        #[arg(long, default_value_t = 1_000_000)]
        posts: usize,
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        #[arg(long)]
        json: bool,
    },
    /// The queue page over HTTP (server-rendered HTML) with many open incidents.
    QueuePage {
        #[arg(long, default_value_t = 10_000)]
        incidents: usize,
        #[arg(long, default_value_t = 300)]
        requests: usize,
        #[arg(long)]
        json: bool,
    },
    /// The incident queue: start over many open incidents, one durable action, a timer tick.
    Queue {
        #[arg(long, default_value_t = 100_000)]
        incidents: usize,
        #[arg(long)]
        json: bool,
    },
    /// The understanding step alone, on one core.
    Understand {
        #[arg(long, default_value_t = 200_000)]
        posts: usize,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> anyhow::Result<()> {
    otklik::allocator::tune();
    match Cli::parse().command {
        Command::Ingest { posts, json } => {
            let figures: IngestFigures = ingest(posts)?;
            print(&figures, json)?;
        }
        Command::Reports {
            incidents,
            store,
            json,
        } => {
            let figures = otklik::reports::bench::run(incidents, store)?;
            print(&figures, json)?;
        }
        Command::SearchApi {
            posts,
            requests,
            json,
        } => {
            let figures = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(otklik::bench::search_api(posts, requests))?;
            print(&figures, json)?;
        }
        Command::QueuePage {
            incidents,
            requests,
            json,
        } => {
            let figures = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(otklik::bench::queue_page(incidents, requests))?;
            print(&figures, json)?;
        }
        Command::Queue { incidents, json } => {
            let figures = otklik::incidents::bench::queue(incidents)?;
            print(&figures, json)?;
        }
        Command::Understand { posts, json } => {
            let figures: UnderstandFigures = understand_only(posts);
            print(&figures, json)?;
        }
    }
    Ok(())
}

/// Print figures as a table, or as JSON with `--json`.
fn print<T: serde::Serialize + std::fmt::Display>(figures: &T, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(figures)?);
    } else {
        println!("{figures}");
    }
    Ok(())
}

/// The same allocator as the daemon, so the figures are the daemon's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
