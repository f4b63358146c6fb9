//! `medocr bench --scenario prefix` for real: against `medocr serve` on loopback (the
//! `openai` engine, hit rates from the answers' usage and from the server's `/metrics`) and
//! on the in-process built-in model with its prefix cache on. A page sent again is served
//! from the cache; distinct pages are not.

use std::path::Path;

mod common;
use common::{medocr, read_json, text};

/// The measurement of `engine` whose prefix group is `group`.
fn group<'a>(v: &'a serde_json::Value, engine: &str, group: &str) -> &'a serde_json::Value {
    v["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["engine"] == engine && m["prefix"]["group"] == group)
        .unwrap_or_else(|| panic!("no {engine} {group} measurement"))
}

#[test]
fn prefix_hits_when_a_page_repeats_and_not_for_distinct_pages() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Two documents of each type: the template group takes both prescriptions, the other
    // groups the diagnoses' and lab results' pages.
    common::gen(root, &data, 2, "prescription,diagnosis,lab_result", 7);
    let server = common::start_serve(root, &[]);
    let out = tmp.path().join("reports");
    let o = medocr(
        &[
            "bench",
            "--scenario",
            "prefix",
            "--engines",
            "openai,builtin",
            "--base-url",
            &server.url,
            "--prefix-cache-mib",
            "64",
            "--dataset",
            data.to_str().unwrap(),
            "--dpi",
            "100",
            "--iterations",
            "2",
            "--warmup",
            "1",
            "--warmup-max",
            "1",
            "--no-overhead",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "--run-id",
            "prefix",
        ],
        root,
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("prefix openai same page ×2: hit rate"), "{t}");
    let dir = out.join("prefix");
    let v = read_json(&dir.join("bench.json"));
    assert_eq!(v["scenario"], "prefix");
    assert_eq!(v["measurements"].as_array().unwrap().len(), 8, "{t}");

    for engine in ["openai", "builtin"] {
        let same = &group(&v, engine, "same_page")["prefix"];
        let none = &group(&v, engine, "no_sharing")["prefix"];
        // The first request fills the cache, the second is served from it whole.
        let r = &same["requests"];
        assert_eq!(r[0]["cached_tokens"], 0, "{engine}: {same}");
        assert!(
            r[1]["prompt_tokens"].as_u64().unwrap() > 0,
            "{engine}: {same}"
        );
        assert_eq!(
            r[1]["cached_tokens"], r[1]["prompt_tokens"],
            "{engine}: {same}"
        );
        assert!(same["hit_rate"].as_f64().unwrap() > 0.4, "{engine}: {same}");
        assert_eq!(none["hit_rate"].as_f64(), Some(0.0), "{engine}: {none}");
        assert_eq!(none["reported"], 2, "{engine}: {none}");
        // Every sharing group is compared with the one that shares nothing.
        assert!(same["vs_no_sharing"]["ttft_p50_ratio"].as_f64().unwrap() > 0.0);
        assert!(none.get("vs_no_sharing").is_none());
    }
    // The server's own counters agree: hits for the repeated page, none for distinct pages.
    let same = &group(&v, "openai", "same_page")["prefix"]["server"];
    let none = &group(&v, "openai", "no_sharing")["prefix"]["server"];
    assert_eq!(
        same["counters"],
        "medocr:prefix_cache_queries_total, medocr:prefix_cache_hits_total"
    );
    assert!(same["hit_rate"].as_f64().unwrap() > 0.4, "{same}");
    assert!(none["queries"].as_f64().unwrap() > 0.0, "{none}");
    assert_eq!(none["hit_rate"].as_f64(), Some(0.0), "{none}");
    let usage = &group(&v, "openai", "same_page")["prefix"];
    assert_eq!(same["hits"].as_f64(), usage["cached_tokens"].as_f64());
    // The in-process engine has no server to scrape.
    assert!(group(&v, "builtin", "same_page")["prefix"]
        .get("server")
        .is_none());

    let md = std::fs::read_to_string(dir.join("bench.md")).unwrap();
    assert!(md.contains("## Prefix sharing"), "{md}");
    assert!(md.contains("same template (prescription) ×2"), "{md}");
    let csv = std::fs::read_to_string(dir.join("bench.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains(",cached_tokens,"));
}

#[test]
fn prefix_names_the_flag_when_the_dataset_is_too_small() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let o = medocr(
        &[
            "bench",
            "--scenario",
            "prefix",
            "--types",
            "prescription",
            "--limit",
            "1",
            "--iterations",
            "3",
            "--dpi",
            "72",
            "--warmup",
            "0",
            "--no-overhead",
            "--out",
            tmp.path().to_str().unwrap(),
        ],
        root,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("--iterations 3") && t.contains("medocr gen"),
        "{t}"
    );
}
