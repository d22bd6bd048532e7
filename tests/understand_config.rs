//! Loading the knowledge from files, as the daemon does at start.

use otklik::understand::{Knowledge, KnowledgeFiles};
use std::path::Path;

fn files(dir: &Path) -> KnowledgeFiles {
    KnowledgeFiles {
        taxonomy: dir.join("taxonomy.tsv"),
        lexicon: dir.join("lexicon.toml"),
        gazetteer: dir.join("gazetteer.tsv"),
        streets: dir.join("streets.tsv"),
    }
}

fn territories() -> Vec<String> {
    otklik::understand::EMBEDDED_TERRITORIES
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn copy_config(dir: &Path) {
    for f in [
        "taxonomy.tsv",
        "lexicon.toml",
        "gazetteer.tsv",
        "streets.tsv",
    ] {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config").join(f),
            dir.join(f),
        )
        .unwrap();
    }
}

#[test]
fn shipped_config_loads_from_files() {
    let dir = tempfile::tempdir().unwrap();
    copy_config(dir.path());
    let k = Knowledge::load(&files(dir.path()), &territories()).unwrap();
    assert_eq!(k.taxonomy.groups.len(), 26);
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    copy_config(dir.path());
    std::fs::remove_file(dir.path().join("streets.tsv")).unwrap();
    let e = Knowledge::load(&files(dir.path()), &territories()).unwrap_err();
    assert_eq!(e.file, dir.path().join("streets.tsv"));
    assert!(e.problem.contains("cannot read"), "{e}");
}

#[test]
fn a_territory_missing_from_the_org_chart_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    copy_config(dir.path());
    // An org chart without Mitino: the gazetteer still places villages there.
    let fewer: Vec<String> = territories()
        .into_iter()
        .filter(|t| t != "mitino")
        .collect();
    let e = Knowledge::load(&files(dir.path()), &fewer).unwrap_err();
    assert_eq!(e.file, dir.path().join("gazetteer.tsv"));
    assert!(
        e.key.starts_with("line ") && e.problem.contains("mitino"),
        "{e}"
    );
}

#[test]
fn an_unknown_topic_in_the_lexicon_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    copy_config(dir.path());
    let lexicon = std::fs::read_to_string(dir.path().join("lexicon.toml")).unwrap();
    let broken = lexicon.replacen("topic = \"Ямы во дворах\"", "topic = \"Ямы в огороде\"", 1);
    assert_ne!(lexicon, broken);
    std::fs::write(dir.path().join("lexicon.toml"), broken).unwrap();
    let e = Knowledge::load(&files(dir.path()), &territories()).unwrap_err();
    assert!(
        e.key.starts_with("topic[") && e.key.ends_with("].topic"),
        "{e}"
    );
    assert!(e.problem.contains("Ямы в огороде"), "{e}");
}
