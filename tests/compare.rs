//! `medocr compare`, run for real: identical runs pass with zero-width intervals; a
//! candidate that reads the same documents at 72 instead of 300 DPI fails the CER gate.

use std::path::Path;

mod common;
use common::{medocr, predictions, text};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn gen(data: &Path, types: &str, count: &str, seed: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = medocr(
        &[
            "gen",
            "--out",
            s(data),
            "--count",
            count,
            "--types",
            types,
            "--seed",
            seed,
        ],
        root,
    );
    assert!(o.status.success(), "{}", text(&o));
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn identical_runs_pass_with_no_difference() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = tmp.path().join("data");
    gen(&data, "prescription,lab_result", "3", "21");

    // Perfect predictions: the manifest's own text.
    let pred = tmp.path().join("perfect.jsonl");
    predictions(&data, &pred, |t| t.to_string());
    let reports = tmp.path().join("reports");
    for id in ["a", "b"] {
        let o = medocr(
            &[
                "score",
                "--dataset",
                s(&data),
                "--predictions",
                s(&pred),
                "--out",
                s(&reports),
                "--run-id",
                id,
                "--quiet",
            ],
            root,
        );
        assert!(
            reports.join(id).join("summary.json").is_file(),
            "{}",
            text(&o)
        );
    }

    let out = tmp.path().join("cmp");
    // Run ids are looked up under --reports.
    let o = medocr(
        &[
            "compare",
            "a",
            "b",
            "--reports",
            s(&reports),
            "--out",
            s(&out),
        ],
        root,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("no difference"), "{t}");
    assert!(t.contains("GATE PASS"), "{t}");
    assert!(!t.contains("FAIL  "), "{t}");

    let c = read_json(&out.join("compare.json"));
    assert_eq!(c["passed"], true);
    assert_eq!(c["identical_scores"], true);
    assert_eq!(c["documents"], 6);
    let groups = c["groups"].as_array().unwrap();
    let names: Vec<&str> = groups
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["all", "prescription", "lab_result"]);
    let mut intervals = 0;
    for g in groups {
        for m in g["metrics"].as_array().unwrap() {
            let key = m["metric"].as_str().unwrap();
            if key.ends_with("_ms") {
                // `score` runs are untimed: latency is not measured, not failed.
                assert_eq!(m["verdict"], "not-measured", "{key}");
                continue;
            }
            let ci = &m["ci"];
            let (lo, hi) = (ci["lower"].as_f64().unwrap(), ci["upper"].as_f64().unwrap());
            assert!(lo <= 0.0 && 0.0 <= hi, "{key}: [{lo}, {hi}] must cover 0");
            assert_eq!(m["delta"], 0.0, "{key}");
            assert_eq!(m["verdict"], "same", "{key}");
            intervals += 1;
        }
    }
    assert!(intervals > 10, "{intervals}");
    assert!(c["regressions"].as_array().unwrap().is_empty());
    assert!(out.join("compare.md").is_file());

    // Runs of different manifests are refused (exit code 2) with a message saying why.
    let other = tmp.path().join("other");
    gen(&other, "prescription", "1", "22");
    let o = medocr(
        &[
            "score",
            "--dataset",
            s(&other),
            "--predictions",
            s(&pred),
            "--out",
            s(&reports),
            "--run-id",
            "other",
            "--quiet",
        ],
        root,
    );
    assert!(reports.join("other/summary.json").is_file(), "{}", text(&o));
    let o = medocr(
        &[
            "compare",
            s(&reports.join("a")),
            s(&reports.join("other")),
            "--out",
            s(&out),
        ],
        root,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("different datasets"), "{t}");

    // A margins file with an unknown key is an input error naming the key.
    let margins = tmp.path().join("margins.toml");
    std::fs::write(&margins, "cer = 0.5\ncer_margin = 1\n").unwrap();
    let o = medocr(
        &[
            "compare",
            s(&reports.join("a")),
            s(&reports.join("b")),
            "--margins",
            s(&margins),
            "--out",
            s(&out),
        ],
        root,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("cer_margin"), "{t}");
}

#[test]
fn a_degraded_candidate_fails_the_cer_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = tmp.path().join("data");
    gen(&data, "prescription", "2", "23");
    let reports = tmp.path().join("reports");
    for (id, dpi) in [("hi", "300"), ("lo", "72")] {
        let o = medocr(
            &[
                "run",
                "--engine",
                "tesseract",
                "--dataset",
                s(&data),
                "--types",
                "prescription",
                "--limit",
                "2",
                "--dpi",
                dpi,
                "--out",
                s(&reports),
                "--run-id",
                id,
                "--quiet",
            ],
            root,
        );
        assert!(
            reports.join(id).join("summary.json").is_file(),
            "{}",
            text(&o)
        );
    }
    let out = tmp.path().join("cmp");
    let o = medocr(
        &[
            "compare",
            s(&reports.join("hi")),
            s(&reports.join("lo")),
            "--out",
            s(&out),
        ],
        root,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("GATE FAIL"), "{t}");
    let c = read_json(&out.join("compare.json"));
    assert_eq!(c["passed"], false);
    assert_eq!(c["pairing"]["by"], "id");
    assert_eq!(c["pairing"]["baseline_dpi"], 300.0);
    assert_eq!(c["pairing"]["candidate_dpi"], 72.0);
    let all = &c["groups"][0];
    assert_eq!(all["group"], "all");
    let cer = all["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "cer")
        .unwrap();
    assert_eq!(cer["verdict"], "FAIL", "{cer}");
    assert!(cer["delta"].as_f64().unwrap() > 0.002, "{cer}");
    assert!(cer["ci"]["upper"].as_f64().unwrap() > 0.002, "{cer}");
    // Tesseract is timed: latency is measured on both sides.
    let e2e = all["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "e2e_p95_ms")
        .unwrap();
    assert_ne!(e2e["verdict"], "not-measured", "{e2e}");
    // The regressed documents come with aligned lines, the patient's name masked.
    let regressions = c["regressions"].as_array().unwrap();
    assert!(!regressions.is_empty());
    assert!(!regressions[0]["lines"].as_array().unwrap().is_empty());
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    let manifest = std::fs::read_to_string(data.join("manifest.jsonl")).unwrap();
    for line in manifest.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let name = v["fields"]["patient_name"].as_str().unwrap();
        assert!(!md.contains(name), "compare.md leaks {name}");
    }
    assert!(t.contains("FAIL  all"), "{t}");
}
