//! Sharded evaluation (issue 8, item 3): `medocr run --shard i/n` on three shards, put
//! back together by `medocr merge`, equals the unsharded run: the same summary.json apart
//! from timings, the same documents.csv rows and predictions, and latency percentiles
//! computed from the pooled per-document samples. Merging refuses overlapping, missing,
//! unfinished and mismatched shards, naming what is wrong.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::text;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    /// A generated dataset of six one-page documents (three types) and accuracy-only
    /// profiles (latency limits would make verdicts timing-dependent).
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let fx = Fixture { tmp };
        let o = fx.medocr(&[
            "gen",
            "--out",
            &fx.s("data"),
            "--count",
            "2",
            "--types",
            "prescription,lab_result,diagnosis",
            "--seed",
            "23",
        ]);
        assert!(o.status.success(), "{}", text(&o));
        std::fs::create_dir(fx.path("profiles")).unwrap();
        for t in ["prescription", "lab_result", "diagnosis"] {
            std::fs::write(
                fx.path(&format!("profiles/{t}.toml")),
                format!("doc_type = \"{t}\"\n[accuracy]\nmax_cer = 0.3\n"),
            )
            .unwrap();
        }
        fx
    }

    fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    fn s(&self, p: &str) -> String {
        self.path(p).display().to_string()
    }

    fn medocr(&self, args: &[&str]) -> Output {
        common::medocr(args, root())
    }

    /// `medocr run` into `<tmp>/reports/<id>` with the given engine flags.
    fn run(&self, id: &str, extra: &[&str]) -> Output {
        let (data, profiles, out) = (self.s("data"), self.s("profiles"), self.s("reports"));
        let mut args = vec![
            "run",
            "--quiet",
            "--dataset",
            &data,
            "--profiles",
            &profiles,
            "--out",
            &out,
            "--run-id",
            id,
        ];
        args.extend_from_slice(extra);
        self.medocr(&args)
    }

    fn merge(&self, shards: &[&str], out: &str) -> Output {
        let dirs: Vec<String> = shards
            .iter()
            .map(|s| self.s(&format!("reports/{s}")))
            .collect();
        let out = self.s(&format!("reports/{out}"));
        let mut args = vec!["merge"];
        args.extend(dirs.iter().map(String::as_str));
        args.extend(["--out", &out]);
        self.medocr(&args)
    }

    fn summary(&self, id: &str) -> Value {
        let p = self.path(&format!("reports/{id}/summary.json"));
        serde_json::from_str(
            &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
        .unwrap()
    }

    fn file(&self, id: &str, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("reports/{id}/{name}"))).unwrap()
    }
}

/// summary.json without what differs between runs (as in tests/reliability.rs), and
/// without the merged run's list of its shards.
fn scrub(v: &Value) -> Value {
    common::scrub(v, &["merged_from"])
}

/// documents.csv as rows of named cells.
fn csv_rows(body: &str) -> Vec<Vec<(String, String)>> {
    let mut lines = body.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| {
            // Ids and numbers only: no quoted commas in these runs (every document reads).
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

fn without_timings(rows: &[Vec<(String, String)>]) -> Vec<Vec<(String, String)>> {
    rows.iter()
        .map(|r| {
            r.iter()
                .filter(|(k, _)| !k.ends_with("_ms") && k != "peak_rss_mib")
                .cloned()
                .collect()
        })
        .collect()
}

fn cell<'a>(row: &'a [(String, String)], key: &str) -> &'a str {
    &row.iter().find(|(k, _)| k == key).unwrap().1
}

/// numpy's default (linear) percentile, written out independently of medocr's.
fn percentile(mut v: Vec<f64>, q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let h = (v.len() - 1) as f64 * q / 100.0;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

#[test]
fn three_shards_merged_equal_the_unsharded_run() {
    let fx = Fixture::new();
    let engine = ["--engine", "tesseract", "--dpi", "72,100"];
    let full = fx.run("full", &engine);
    let code = full.status.code();
    assert!(matches!(code, Some(0 | 1)), "{}", text(&full));
    for i in 1..=3 {
        let shard = format!("{i}/3");
        let mut args = engine.to_vec();
        args.extend(["--shard", &shard]);
        let o = fx.run(&format!("s{i}"), &args);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
        let s = fx.summary(&format!("s{i}"));
        assert_eq!(s["config"]["shard"]["index"], i);
        assert_eq!(s["config"]["shard"]["count"], 3);
        assert_eq!(s["config"]["shard"]["selected_documents"], 6);
        // Positions i−1 and i+2 of the manifest, at both DPIs.
        assert_eq!(s["totals"]["documents"], 4);
    }
    // Shards in any order.
    let o = fx.merge(&["s3", "s1", "s2"], "merged");
    assert_eq!(o.status.code(), code, "{}", text(&o));
    assert!(text(&o).contains("merged 3 shards"), "{}", text(&o));

    let (a, b) = (fx.summary("full"), fx.summary("merged"));
    assert_eq!(
        serde_json::to_string_pretty(&scrub(&a)).unwrap(),
        serde_json::to_string_pretty(&scrub(&b)).unwrap(),
        "the merged summary.json differs from the unsharded run beyond timings"
    );
    assert!(b["config"].get("shard").is_none());
    assert_eq!(b["merged_from"].as_array().unwrap().len(), 3);
    let wall: f64 = (1..=3)
        .map(|i| {
            fx.summary(&format!("s{i}"))["totals"]["wall_time_s"]
                .as_f64()
                .unwrap()
        })
        .sum();
    assert!((b["totals"]["wall_time_s"].as_f64().unwrap() - wall).abs() < 1e-9);

    let (rows_full, rows_merged) = (
        csv_rows(&fx.file("full", "documents.csv")),
        csv_rows(&fx.file("merged", "documents.csv")),
    );
    assert_eq!(rows_full.len(), 12);
    assert_eq!(without_timings(&rows_full), without_timings(&rows_merged));
    assert_eq!(
        fx.file("full", "predictions.jsonl"),
        fx.file("merged", "predictions.jsonl")
    );
    assert_eq!(
        fx.file("full", "journal.jsonl").lines().count(),
        fx.file("merged", "journal.jsonl").lines().count()
    );

    // Latency percentiles come from the pooled per-document samples of the shards, not
    // from the shards' own percentiles.
    let shard_rows: Vec<Vec<(String, String)>> = (1..=3)
        .flat_map(|i| csv_rows(&fx.file(&format!("s{i}"), "documents.csv")))
        .collect();
    assert_eq!(shard_rows.len(), 12);
    for g in b["groups"].as_array().unwrap() {
        let dpi = g["dpi"].as_f64().unwrap();
        let samples: Vec<f64> = shard_rows
            .iter()
            .filter(|r| {
                cell(r, "doc_type") == g["doc_type"].as_str().unwrap()
                    && cell(r, "dpi").parse::<f64>().unwrap() == dpi
                    && cell(r, "ok") == "true"
            })
            .map(|r| cell(r, "e2e_ms").parse().unwrap())
            .collect();
        let e2e = &g["latency"]["e2e_ms"];
        assert_eq!(e2e["count"].as_u64().unwrap() as usize, samples.len());
        for (q, key) in [(50.0, "p50"), (95.0, "p95"), (99.0, "p99")] {
            let want = percentile(samples.clone(), q);
            let got = e2e[key].as_f64().unwrap();
            // documents.csv keeps 6 decimals.
            assert!((got - want).abs() < 1e-5, "{key} {got} vs {want}");
        }
    }

    let report = fx.file("merged", "report.md");
    assert!(report.contains("Merged from 3 shards"), "{report}");
}

#[test]
fn merge_refuses_overlapping_missing_unfinished_and_mismatched_shards() {
    let fx = Fixture::new();
    let preds = fx.s("preds.jsonl");
    common::predictions(&fx.path("data"), &fx.path("preds.jsonl"), |t| t.to_string());
    common::predictions(&fx.path("data"), &fx.path("other.jsonl"), |t| {
        t.replace('0', "O")
    });
    let replay = |id: &str, shard: Option<&str>, extra: &[&str]| {
        let mut args = vec![
            "--engine",
            "replay",
            "--predictions",
            &preds,
            "--dpi",
            "300",
        ];
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        }
        args.extend_from_slice(extra);
        let o = fx.run(id, &args);
        assert_eq!(o.status.code(), Some(0), "{id}: {}", text(&o));
    };
    replay("full", None, &[]);
    replay("r1", Some("1/3"), &[]);
    replay("r2", Some("2/3"), &[]);
    replay("r3", Some("3/3"), &[]);

    let refused = |shards: &[&str], out: &str, needles: &[&str]| {
        let summary = fx.path(&format!("reports/{out}/summary.json"));
        let before = std::fs::read(&summary).ok();
        let o = fx.merge(shards, out);
        let msg = text(&o);
        assert_eq!(o.status.code(), Some(2), "{msg}");
        for n in needles {
            assert!(msg.contains(n), "expected `{n}` in: {msg}");
        }
        // Nothing written (and an existing run left alone).
        assert_eq!(std::fs::read(&summary).ok(), before);
    };
    // The same shard twice: its documents would count twice.
    replay("r2again", Some("2/3"), &[]);
    refused(
        &["r1", "r2", "r2again", "r3"],
        "m1",
        &["both shard 2/3", "overlap", "r2again"],
    );
    refused(
        &["r1", "r3"],
        "m2",
        &["missing shard(s) 2 of 3", "given: 1, 3"],
    );
    // Different settings, each named with both values.
    replay("r2dpi", Some("2/3"), &["--dpi", "150"]);
    refused(
        &["r1", "r2dpi", "r3"],
        "m3",
        &["the DPI list", "300", "150", "r2dpi"],
    );
    // The same predictions path with other contents: the file's hash tells them apart.
    let original = std::fs::read(fx.path("preds.jsonl")).unwrap();
    std::fs::copy(fx.path("other.jsonl"), fx.path("preds.jsonl")).unwrap();
    replay("r2pred", Some("2/3"), &[]);
    std::fs::write(fx.path("preds.jsonl"), original).unwrap();
    refused(
        &["r1", "r2pred", "r3"],
        "m4",
        &["predictions file (sha256)"],
    );
    replay("r2limit", Some("2/3"), &["--limit", "5"]);
    refused(
        &["r1", "r2limit", "r3"],
        "m5",
        &["selected before sharding", "5 documents", "6 documents"],
    );
    replay("r2of2", Some("2/2"), &[]);
    refused(&["r1", "r2of2", "r3"], "m6", &["the number of shards"]);
    // An unsharded run and an unfinished shard.
    refused(&["r1", "full", "r3"], "m7", &["is not a shard"]);
    std::fs::remove_file(fx.path("reports/r2again/summary.json")).unwrap();
    refused(&["r1", "r2again", "r3"], "m8", &["medocr run --resume"]);

    // All three, once each: the same as the unsharded run (replay is untimed, so exactly).
    let o = fx.merge(&["r1", "r2", "r3"], "merged");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(scrub(&fx.summary("full")), scrub(&fx.summary("merged")));
    let csv = |id: &str| without_timings(&csv_rows(&fx.file(id, "documents.csv")));
    assert_eq!(csv("full"), csv("merged"));
    // The merged folder is a run: merging into it again is refused.
    refused(&["r1", "r2", "r3"], "merged", &["already holds a run"]);
}

#[test]
fn bad_shard_specs_are_rejected_with_the_reason() {
    let fx = Fixture::new();
    let preds = fx.s("preds.jsonl");
    common::predictions(&fx.path("data"), &fx.path("preds.jsonl"), |t| t.to_string());
    for (spec, reason) in [
        ("0/3", "numbered from 1"),
        ("4/3", "at most the number of shards"),
        ("1/0", "at least one shard"),
        ("abc", "write I/N"),
        ("1/2/3", "write I/N"),
        ("7/7", "use at most 6 shard"),
    ] {
        let o = fx.run(
            "bad",
            &[
                "--engine",
                "replay",
                "--predictions",
                &preds,
                "--shard",
                spec,
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{spec}: {}", text(&o));
        assert!(text(&o).contains(reason), "{spec}: {}", text(&o));
    }
}
