//! Quality and speed of the understanding step on the development corpus.
//!
//! Both are `#[ignore]`d: the corpus lives outside the repository (`OTKLIK_CORPUS`, by default
//! `/work/shared/corpus/dev.jsonl`) and the speed figure means something only in release:
//! `cargo test --release --test understand_eval -- --ignored --nocapture`.

use otklik::eval::evaluate;
use otklik::model::{AuthorKind, Platform};
use otklik::understand::{Knowledge, PostView, understand};
use std::path::PathBuf;
use std::time::Instant;

fn corpus() -> PathBuf {
    std::env::var_os("OTKLIK_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/corpus/dev.jsonl"))
}

#[test]
#[ignore]
fn dev_corpus_meets_the_targets() {
    let k = Knowledge::embedded();
    let r = evaluate(&corpus(), &k).unwrap();
    println!("{r}");
    assert!(r.incident.f1 >= 0.92, "incident F1 {}", r.incident.f1);
    assert!(
        r.group_macro_f1 >= 0.85,
        "group macro-F1 {}",
        r.group_macro_f1
    );
    assert!(
        r.territory_accuracy >= 0.95,
        "territory accuracy {}",
        r.territory_accuracy
    );
    assert!(r.cluster.f1 >= 0.85, "cluster F1 {}", r.cluster.f1);
    assert!(r.urgent_recall >= 0.9, "urgent recall {}", r.urgent_recall);
}

#[test]
#[ignore]
fn speed_of_understanding() {
    let k = Knowledge::embedded();
    let texts: Vec<String> = std::fs::read_to_string(corpus())
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let now = chrono::Utc::now();
    let rounds = 50;
    let start = Instant::now();
    let mut incidents = 0usize;
    for _ in 0..rounds {
        for t in &texts {
            let post = PostView {
                platform: Platform::Vk,
                is_comment: false,
                text: t,
                community: "Подслушано Гаврилов-Ям",
                community_territory: Some("gavrilov-yam"),
                author_kind: AuthorKind::Resident,
                published: now,
            };
            incidents += usize::from(understand(&post, &k).incident);
        }
    }
    let elapsed = start.elapsed();
    let n = rounds * texts.len();
    let rate = n as f64 / elapsed.as_secs_f64();
    println!(
        "understood {n} posts in {elapsed:?}: {rate:.0} posts/s on one core ({incidents} incidents)"
    );
    assert!(incidents > 0);
}
