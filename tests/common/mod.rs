//! Shared helpers for the end-to-end tests: a configuration in a temporary directory that
//! uses the shipped district data, and the real binary.

#![allow(dead_code)]

pub mod desk;
pub mod webdriver;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn repo_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

/// `otklik.toml` text pointing at the shipped data files, with `extra` appended.
pub fn config_text(data_dir: &Path, extra: &str) -> String {
    let c = repo_config();
    format!(
        r#"[daemon]
data_dir = "{data}"
shutdown_timeout_secs = 5

[files]
org = "{c}/org.toml"
taxonomy = "{c}/taxonomy.tsv"
lexicon = "{c}/lexicon.toml"
gazetteer = "{c}/gazetteer.tsv"
streets = "{c}/streets.tsv"
calendar_dir = "{c}"
people = "{c}/people.toml"

[index]
commit_interval_secs = 1

[api]
listen = "127.0.0.1:0"

{extra}
"#,
        data = data_dir.display(),
        c = c.display(),
    )
}

pub fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("otklik.toml");
    std::fs::write(&path, config_text(&dir.join("data"), extra)).unwrap();
    path
}

pub fn otklik() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otklik"));
    cmd.env_remove("OTKLIK_CONFIG").env("OTKLIK_LOG", "info");
    for (key, _) in std::env::vars() {
        if key.starts_with("OTKLIK__") {
            cmd.env_remove(key);
        }
    }
    cmd
}

pub fn run(args: &[&str]) -> Output {
    otklik().args(args).output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Start `otklik run` with `config`, stderr captured to `log`.
pub fn spawn_daemon(config: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    otklik()
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Wait until `cond` holds, polling; panics with `what` after `limit`.
pub fn wait_for(limit: Duration, what: &str, cond: impl FnMut() -> bool) {
    assert!(wait_until(limit, cond), "timed out waiting for {what}");
}

/// Wait until `cond` holds or `limit` passes; whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

pub fn send_signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
pub mod feed;

/// Keys (`platform:native_id`) of every searchable post in `data`, through the real binary;
/// empty while there is no index yet.
pub fn search_ids(data: &Path) -> Vec<String> {
    let out = run(&[
        "search",
        "",
        "--data-dir",
        &data.to_string_lossy(),
        "--limit",
        "100000",
        "--json",
    ]);
    if !out.status.success() {
        return Vec::new();
    }
    stdout(&out)
        .lines()
        .map(|line| {
            let hit: serde_json::Value = serde_json::from_str(line).unwrap();
            hit["uid"].as_str().unwrap().to_string()
        })
        .collect()
}

/// A pipeline over a fresh (or existing) store and index in `dir`, without sources.
pub fn pipeline(
    dir: &Path,
    index: &otklik::config::IndexSettings,
) -> (
    otklik::pipeline::Pipeline,
    otklik::index::IndexWriterHandle,
    otklik::store::Store,
) {
    let store = otklik::store::Store::open(&dir.join("store")).unwrap();
    let writer =
        otklik::index::IndexWriterHandle::start(&dir.join("search"), store.clone(), index).unwrap();
    let (activity, _) = tokio::sync::broadcast::channel(16);
    let loaded = otklik::config::Loaded::embedded(dir.to_path_buf());
    let pipeline = otklik::pipeline::Pipeline::new(
        &loaded,
        store.clone(),
        writer.sender(),
        activity,
        otklik::time::Clock::system(),
    )
    .unwrap();
    (pipeline, writer, store)
}
