//! `medocr bench` run for real: the load scenario on Tesseract (arrival rate), a slow real
//! engine under open-loop load (queueing visible, no coordinated omission), and the
//! single and batch scenarios with their reports.

use medocr::bench::goodput::GroundTruth;
use medocr::bench::{load::run_load, Arrival, Control, LoadConfig, PreparedDoc, Slo};
use medocr::engine::replay::Replay;
use medocr::engine::{Engine, EngineError, EngineInfo, Request, Streaming, TokenSink};
use std::path::Path;
use std::time::Duration;

mod common;
use common::{medocr, read_json, text};

#[test]
fn bench_load_keeps_the_requested_arrival_rate_and_scores_goodput() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tmp.path().join("reports");
    let o = medocr(
        &[
            "bench",
            "--scenario",
            "load",
            "--engines",
            "tesseract,builtin",
            // One two-page document: its pages are scored together.
            "--types",
            "lab_result",
            "--limit",
            "1",
            "--dpi",
            "72",
            "--rates",
            "4",
            "--arrival",
            "fixed",
            "--requests",
            "9",
            "--concurrency",
            "2",
            "--warmup",
            "0",
            "--slo-e2e",
            "60s",
            "--p99-limit",
            "60s",
            "--no-overhead",
            "--out",
            out.to_str().unwrap(),
            "--run-id",
            "load",
        ],
        root,
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let dir = out.join("load");
    for f in [
        "bench.json",
        "bench.csv",
        "bench.md",
        "latency_cdf.svg",
        "latency_vs_rate.svg",
    ] {
        assert!(dir.join(f).is_file(), "missing {f}: {t}");
    }
    let v = read_json(&dir.join("bench.json"));
    let m = &v["measurements"][0];
    assert_eq!(m["scenario"], "load");
    let load = &m["load"];
    let achieved = load["achieved_rate"].as_f64().unwrap();
    assert!(
        (achieved - 4.0).abs() / 4.0 < 0.02,
        "achieved {achieved} req/s for 4 requested"
    );
    assert_eq!(load["concurrency"], 2);
    assert_eq!(m["samples"].as_array().unwrap().len(), 9);
    // Two workers served the requests, each sample carries its queueing time.
    for s in m["samples"].as_array().unwrap() {
        assert!(s["queue_ms"].as_f64().unwrap() >= 0.0, "{s}");
        assert!(s["error"].is_null(), "{s}");
    }
    assert_eq!(v["load_capacity"][0]["engine"], "tesseract");
    let csv = std::fs::read_to_string(dir.join("bench.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 9);
    assert!(t.contains("achieved"), "{t}");
    check_correct_goodput(&v, &dir, &t, root);
}

/// The built-in engine's correct-and-on-time goodput of that run: 9 requests over the two
/// pages of lab_result-000 make 4 complete passes and a cut one, each scored exactly as
/// `medocr run` scores the document.
fn check_correct_goodput(v: &serde_json::Value, dir: &Path, console: &str, root: &Path) {
    let m = &v["measurements"][1];
    assert_eq!(m["engine"], "builtin");
    let (l, g) = (&m["load"], &m["load"]["correct"]);
    assert_eq!(
        (g["scored"].as_u64(), g["unscored"].as_u64()),
        (Some(8), Some(1)),
        "{g}"
    );
    let counted = g["counted"].as_u64().unwrap();
    assert!(counted <= g["correct"].as_u64().unwrap(), "{g}");
    let rps = g["goodput_rps"].as_f64().unwrap();
    assert!(rps <= l["goodput_rps"].as_f64().unwrap() + 1e-12, "{l}");
    assert_eq!(g["attainment"].as_f64().unwrap(), counted as f64 / 8.0);
    let requests = g["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 8);
    // Every request read lab_result-000 against the lab_result profile's max_cer.
    let cer = requests[0]["cer"].as_f64().unwrap();
    for r in requests {
        assert_eq!(r["reference"], "lab_result-000", "{r}");
        assert_eq!(r["max_cer"].as_f64(), Some(0.005), "{r}");
        let right = r["cer"].as_f64().unwrap() <= 0.005 && r["critical_errors"] == 0;
        assert_eq!(r["counted"], right && r["on_time"] == true, "{r}");
    }
    assert_eq!(v["settings"]["profiles"]["origin"], "bundled");
    let cap = &v["goodput_capacity"][1];
    assert_eq!(
        (cap["engine"].as_str(), cap["target"].as_f64()),
        (Some("builtin"), Some(0.9))
    );
    assert_eq!(cap["scored"], true);
    let md = std::fs::read_to_string(dir.join("bench.md")).unwrap();
    assert!(md.contains("## Goodput: correct and on time"), "{md}");
    assert!(console.contains("correct-and-on-time goodput"), "{console}");
    // The same document through `medocr run` gets the same CER.
    let out = dir.join("run");
    let o = medocr(
        &[
            "run",
            "--engine",
            "builtin",
            "--types",
            "lab_result",
            "--limit",
            "1",
            "--dpi",
            "72",
            "--out",
            out.to_str().unwrap(),
            "--run-id",
            "r",
            "--quiet",
        ],
        root,
    );
    // (Its exit code may be 1: the document's CER against the profile is not the point.)
    let run = common::journal_cers(&out.join("r"));
    assert_eq!(run, [("lab_result-000".to_string(), cer)], "{}", text(&o));
}

/// A real engine made slow: Replay answers instantly, this wrapper sleeps first, so its
/// capacity is 1 / `delay` requests per second per worker.
struct Slow {
    inner: Replay,
    delay: Duration,
}

impl Engine for Slow {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            name: "slow-replay".into(),
            // Replay is untimed; the sleep makes it a whole-text engine with a latency.
            streaming: Streaming::WholeText,
            ..self.inner.info()
        }
    }
    fn needs_pages(&self) -> bool {
        false
    }
    fn recognize(
        &mut self,
        request: &Request<'_>,
        sink: &mut dyn TokenSink,
    ) -> Result<(), EngineError> {
        std::thread::sleep(self.delay);
        self.inner.recognize(request, sink)
    }
}

#[test]
fn bench_load_shows_queueing_when_the_rate_exceeds_capacity() {
    let tmp = tempfile::tempdir().unwrap();
    let preds = tmp.path().join("p.jsonl");
    std::fs::write(&preds, "{\"id\": \"doc\", \"text\": \"처방전 1일 3회\"}\n").unwrap();
    let pool = vec![PreparedDoc {
        id: "doc".into(),
        pages: Vec::new(),
        render_ms: 0.0,
    }];
    let mut workers: Vec<Box<dyn Engine>> = vec![Box::new(Slow {
        inner: Replay::open(&preds).unwrap(),
        delay: Duration::from_millis(100),
    })];
    let cfg = |requests| LoadConfig {
        arrival: Arrival::Fixed,
        rates: vec![5.0, 25.0],
        seed: 1,
        concurrency: 1,
        requests,
        warmup: 0,
        warmup_max: 0,
        slo: Slo {
            e2e_ms: Some(300.0),
            ..Slo::default()
        },
        p99_limit_ms: Some(300.0),
        goodput_target: 0.9,
    };
    let none = GroundTruth::none();
    // Capacity 10 req/s. At 5 req/s requests find the worker free.
    let under = run_load(
        &mut workers,
        &pool,
        &none,
        5.0,
        72.0,
        &cfg(10),
        Control::default(),
    )
    .unwrap();
    // At 25 req/s, 20 requests arrive within 0.76 s but take 2 s to serve: the queue grows
    // by 60 ms per request, and latency from the scheduled send shows it.
    let over = run_load(
        &mut workers,
        &pool,
        &none,
        25.0,
        72.0,
        &cfg(20),
        Control::default(),
    )
    .unwrap();
    let lu = under.load.as_ref().unwrap();
    let lo = over.load.as_ref().unwrap();
    assert!((lo.achieved_rate - 25.0).abs() / 25.0 < 0.02, "{lo:?}");
    assert!((lu.achieved_rate - 5.0).abs() / 5.0 < 0.02, "{lu:?}");
    let q_under = under.latency.queue_ms.as_ref().unwrap().summary.p99;
    assert!(q_under < 60.0, "queue at 5 req/s: {q_under} ms");
    let queue: Vec<f64> = over.samples.iter().map(|s| s.queue_ms.unwrap()).collect();
    let first: f64 = queue[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = queue[15..].iter().sum::<f64>() / 5.0;
    // Expected ≈ 120 ms vs ≈ 1,020 ms; the bound leaves room for a loaded machine.
    assert!(
        last > first + 500.0,
        "queue first {first} ms, last {last} ms"
    );
    assert!(queue[19] > 800.0, "{queue:?}");
    let e2e_over = over.latency.e2e_ms.as_ref().unwrap().summary.p99;
    let e2e_under = under.latency.e2e_ms.as_ref().unwrap().summary.p99;
    assert!(e2e_over > 5.0 * e2e_under, "{e2e_over} vs {e2e_under}");
    // Goodput under a 300 ms E2E SLO collapses once the queue builds.
    assert_eq!(lu.slo_attainment, 1.0);
    assert!(lo.slo_attainment < 0.5, "{lo:?}");
    // Without ground truth correct-and-on-time goodput is n/a, not a number.
    assert_eq!(lu.correct.scored, 0);
    assert!(lu.correct.goodput_rps.is_none() && lu.correct.attainment.is_none());
    let measured = [under, over];
    let g = medocr::bench::goodput::capacity(&measured, "slow-replay", 0.9);
    assert_eq!(
        (g.latency_max_rate, g.correct_max_rate, g.scored),
        (Some(5.0), None, false)
    );
    let cap = medocr::bench::load::capacity(&measured, "slow-replay", 300.0);
    assert_eq!(cap.max_rate, Some(5.0));
}

#[test]
fn bench_single_and_batch_on_real_engines() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tmp.path().join("reports");
    let common = |scenario: &str, id: &str| -> Vec<String> {
        [
            "bench",
            "--scenario",
            scenario,
            "--types",
            "prescription",
            "--limit",
            "1",
            "--dpi",
            "72",
            "--warmup",
            "1",
            "--out",
            out.to_str().unwrap(),
            "--run-id",
            id,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let mut args = common("single", "single");
    args.extend(
        [
            "--engines",
            "builtin",
            "--iterations",
            "4",
            "--warmup-max",
            "6",
        ]
        .map(String::from),
    );
    let o = medocr(&args.iter().map(String::as_str).collect::<Vec<_>>(), root);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let v = read_json(&out.join("single/bench.json"));
    let m = &v["measurements"][0];
    assert_eq!(m["scenario"], "single");
    assert_eq!(m["samples"].as_array().unwrap().len(), 4);
    let e2e = &m["latency"]["e2e_ms"];
    assert_eq!(e2e["summary"]["count"], 4);
    assert_eq!(e2e["std_kind"], "sample (n − 1)");
    assert!(e2e["p50_ci"]["lower"].as_f64().unwrap() <= e2e["summary"]["p50"].as_f64().unwrap());
    assert!(e2e["warnings"].as_array().unwrap().len() >= 2); // p99 and p95 from 4 samples
    assert!(m["latency"]["ttft_ms"]["summary"]["p50"].as_f64().unwrap() > 0.0);
    assert!(m["latency"]["itl_ms"]["summary"]["count"].as_u64().unwrap() > 4);
    assert!(m["resources"]["peak_rss_mib"].as_f64().unwrap() > 10.0);
    let share = &v["overhead"]["shares"][0];
    assert_eq!(share["engine"], "builtin");
    // The harness must cost under 1% of the built-in model's E2E.
    assert!(share["percent_of_e2e"].as_f64().unwrap() < 1.0, "{share}");
    let md = std::fs::read_to_string(out.join("single/bench.md")).unwrap();
    assert!(
        md.contains("## Harness overhead") && md.contains("p50 [95% CI]"),
        "{md}"
    );
    // Warm-up runs until the last 3 latencies lie within 10% of their median, at most 6.
    let w = &m["warmup"];
    let lat: Vec<f64> = w["latencies_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(w["requests"].as_u64().unwrap() as usize, lat.len(), "{w}");
    assert!((1..=6).contains(&lat.len()), "{w}");
    if w["stable"].as_bool().unwrap() {
        assert!(medocr::bench::warmup::is_stable(&lat), "{w}");
        assert!(!md.contains("did not settle"), "{md}");
    } else {
        assert_eq!(lat.len(), 6, "{w}");
        assert!(md.contains("did not settle in 6 warm-up requests"), "{md}");
    }

    let mut args = common("batch", "batch");
    args.extend(
        [
            "--engines",
            "builtin,tesseract",
            "--batch-sizes",
            "1,2",
            "--iterations",
            "1",
            "--warmup-max",
            "1",
            "--no-overhead",
        ]
        .map(String::from),
    );
    let o = medocr(&args.iter().map(String::as_str).collect::<Vec<_>>(), root);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let v = read_json(&out.join("batch/bench.json"));
    let ms = v["measurements"].as_array().unwrap();
    assert_eq!(ms.len(), 4);
    for e in v["engines"].as_array().unwrap() {
        let name = e["info"]["name"].as_str().unwrap();
        let expected = if e["batches_natively"].as_bool().unwrap() {
            "native"
        } else {
            "sequential"
        };
        for m in ms.iter().filter(|m| m["engine"] == name) {
            assert_eq!(m["batch_mode"], expected, "{name}");
            let b = m["params"]["batch_size"].as_u64().unwrap() as usize;
            assert_eq!(m["samples"].as_array().unwrap().len(), b);
            assert!(m["throughput"]["pages_per_s"].as_f64().unwrap() > 0.0);
        }
    }
    // Tesseract has no batching, and the report says so.
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().starts_with("tesseract cannot batch")),
        "{}",
        v["notes"]
    );
    assert!(out.join("batch/throughput_vs_batch.svg").is_file());
    assert!(t.contains("tesseract (sequential)"), "{t}");
}

#[test]
fn bench_rejects_replay_and_bad_flags() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = medocr(
        &["bench", "--scenario", "single", "--engines", "replay"],
        root,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no timing"), "{}", text(&o));
    let o = medocr(
        &[
            "bench",
            "--scenario",
            "load",
            "--engines",
            "tesseract",
            "--rates",
            "0",
        ],
        root,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--rates"), "{}", text(&o));
    let o = medocr(
        &[
            "bench",
            "--scenario",
            "soak",
            "--duration",
            "1s",
            "--window",
            "5s",
        ],
        root,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--window"), "{}", text(&o));
}
