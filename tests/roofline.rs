//! `medocr roofline` run for real on the built-in model and on a generic 7B model.

use std::path::Path;

mod common;
use common::{medocr, text};

#[test]
fn roofline_builtin_model_table_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let json = tmp.path().join("roof.json");
    let out = medocr(
        &[
            "roofline",
            "--hardware",
            "a100-80gb,rtx-3060",
            "--model",
            root.join("models/builtin").to_str().unwrap(),
            "--batch",
            "1,8,32",
            "--context",
            "96",
            "--precision",
            "fp16,int8,int4",
            "--json",
            json.to_str().unwrap(),
        ],
        tmp.path(),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("2 layers, hidden 192, 6 heads / 6 KV heads, vocab 2742"),
        "{t}"
    );
    assert!(t.contains("est tokens/s") && t.contains("bound"), "{t}");
    assert!(t.contains("a100-80gb  int4  decode"), "{t}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2 * 3 * 3);
    assert_eq!(v["model"]["layers"], 2);
    for r in rows {
        assert_eq!(r["phase"], "decode");
        assert!(r["tokens_per_s"].as_f64().unwrap() > 0.0);
        let bound = r["bound"].as_str().unwrap();
        let ai = r["intensity"].as_f64().unwrap();
        let ridge = r["ridge_point"].as_f64().unwrap();
        assert_eq!(bound == "memory", ai < ridge, "{r}");
    }
}

#[test]
fn roofline_generic_7b_on_a100_weights_only() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("r.json");
    let out = medocr(
        &[
            "roofline",
            "--hardware",
            "a100-80gb",
            "--params",
            "7e9",
            "--layers",
            "32",
            "--hidden",
            "4096",
            "--heads",
            "32",
            "--kv-heads",
            "32",
            "--batch",
            "32",
            "--precision",
            "fp16",
            "--no-kv",
            "--json",
            json.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let r = &v["rows"][0];
    // 2039e9 B/s / 14e9 B per step × 32 sequences = 4,661 tokens/s (the seed's 2,286 counts
    // the weights twice and uses 2.0 TB/s).
    let tps = r["tokens_per_s"].as_f64().unwrap();
    assert!((tps - 2039e9 / 14e9 * 32.0).abs() < 1e-6, "{tps}");
    assert_eq!(r["bound"], "memory");
    // Unknown preset: an error naming the known ones, non-zero exit.
    let bad = medocr(&["roofline", "--hardware", "tpu-v9"], tmp.path());
    assert!(!bad.status.success());
    assert!(text(&bad).contains("h100-sxm"), "{}", text(&bad));
}

#[test]
fn roofline_places_bench_measurements() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tmp.path().join("reports");
    let o = medocr(
        &[
            "bench",
            "--scenario",
            "single",
            "--engines",
            "builtin",
            "--types",
            "prescription",
            "--limit",
            "1",
            "--dpi",
            "72",
            "--warmup",
            "0",
            "--iterations",
            "2",
            "--no-overhead",
            "--out",
            out.to_str().unwrap(),
            "--run-id",
            "b",
        ],
        root,
    );
    assert!(o.status.success(), "{}", text(&o));
    let bench = out.join("b/bench.json");
    let json = tmp.path().join("roof.json");
    let o = medocr(
        &[
            "roofline",
            "--bench",
            bench.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        root,
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("measured points from"), "{t}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let points = v["measured"].as_array().unwrap();
    assert_eq!(points.len(), 1, "{t}");
    let p = &points[0];
    // A CPU bench is placed on the measured CPU, at FP32 and the engine's line batch.
    assert_eq!(p["hardware"], "cpu");
    assert_eq!(p["precision"], "fp32");
    assert_eq!(p["decode_batch"], 32);
    assert_eq!(p["rate_source"], "decode stage");
    let f = p["fraction_of_bound"].as_f64().unwrap();
    assert!(f > 0.0 && f.is_finite(), "{p}");
    let svg = std::fs::read_to_string(out.join("b/roofline.svg")).unwrap();
    assert!(
        svg.contains("<svg xmlns") && svg.contains("builtin"),
        "{svg}"
    );
}
