//! Quality of the understanding step on the development corpus, which lives beside the
//! repository in `../shared/corpus/dev.jsonl` (or where `OTKLIK_CORPUS` says). Speed is measured
//! by `otklik-bench understand`, not here.

use otklik::eval::evaluate;
use otklik::understand::Knowledge;
use std::path::PathBuf;

fn corpus() -> PathBuf {
    std::env::var_os("OTKLIK_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/dev.jsonl")
        })
}

#[test]
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
