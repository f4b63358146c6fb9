//! The reports of the bundled dataset, frozen: a committed run of the built-in model
//! (`tests/snapshots/bundled-builtin/`) guards every refactor of the recognition core, the
//! scorer and the exporters.
//!
//! - The exporters write exactly the committed files from the committed results.
//! - A fresh run reads exactly the committed texts and scores, apart from timings, memory
//!   and run ids (`common::scrub`).
//!
//! After a change that is meant to alter the reports, regenerate with
//! `MEDOCR_UPDATE_SNAPSHOT=1 cargo test --release --test snapshot` and review the diff.

mod common;

use medocr::pipeline::Journal;
use medocr::report::{self, RunSummary};
use std::path::{Path, PathBuf};

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/bundled-builtin")
}

/// Files of a run folder compared byte for byte (the journal has wall times).
const FILES: [&str; 5] = [
    "summary.json",
    "documents.csv",
    "predictions.jsonl",
    "report.md",
    "report.html",
];

/// A fresh run of the built-in model on the bundled dataset at 300 DPI (the main job).
fn fresh_run(out: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = common::medocr(
        &[
            "run",
            "--out",
            out.to_str().unwrap(),
            "--run-id",
            "bundled-builtin",
            "--quiet",
        ],
        root,
    );
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        common::text(&o)
    );
    out.join("bundled-builtin")
}

#[test]
fn exporters_write_the_committed_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for f in ["journal.jsonl", "summary.json"] {
        std::fs::copy(snapshot_dir().join(f), copy.join(f)).unwrap();
    }
    let (_, _, entries) = Journal::resume(&copy).unwrap();
    let results: Vec<_> = entries.into_iter().map(|e| e.result).collect();
    let summary: RunSummary =
        serde_json::from_slice(&std::fs::read(copy.join("summary.json")).unwrap()).unwrap();
    let out = tmp.path().join("out");
    report::write_run(&out, &summary, &results).unwrap();
    for f in FILES {
        let want = std::fs::read(snapshot_dir().join(f)).unwrap();
        let got = std::fs::read(out.join(f)).unwrap();
        assert!(
            want == got,
            "{f} differs from tests/snapshots/bundled-builtin/{f} (first difference at byte {})",
            want.iter()
                .zip(&got)
                .position(|(a, b)| a != b)
                .unwrap_or(want.len().min(got.len()))
        );
    }
}

/// The latency limits' measured values and outcomes (and so each verdict's overall
/// status) depend on the machine's load; every accuracy check is still compared.
fn without_latency_verdicts(mut v: serde_json::Value) -> serde_json::Value {
    for gv in v["verdicts"].as_array_mut().unwrap() {
        let verdict = gv["verdict"].as_object_mut().unwrap();
        verdict.remove("status");
        for c in verdict["checks"].as_array_mut().unwrap() {
            if c["key"].as_str().unwrap().starts_with("latency.") {
                let c = c.as_object_mut().unwrap();
                c.remove("measured");
                c.remove("status");
            }
        }
    }
    v
}

#[test]
fn a_fresh_run_reads_and_scores_as_the_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let run = fresh_run(tmp.path());
    if std::env::var_os("MEDOCR_UPDATE_SNAPSHOT").is_some() {
        std::fs::create_dir_all(snapshot_dir()).unwrap();
        for f in FILES.iter().chain(&["journal.jsonl"]) {
            std::fs::copy(run.join(f), snapshot_dir().join(f)).unwrap();
        }
    }
    let scrubbed = |dir: &Path| without_latency_verdicts(common::scrub(&common::summary(dir), &[]));
    assert_eq!(
        scrubbed(&run),
        scrubbed(&snapshot_dir()),
        "summary.json apart from timings"
    );
    let texts = |dir: &Path| -> Vec<(String, String)> {
        std::fs::read_to_string(dir.join("predictions.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["id"].to_string(), v["text"].to_string())
            })
            .collect()
    };
    assert_eq!(texts(&run), texts(&snapshot_dir()), "the model's texts");
}
