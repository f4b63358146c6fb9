//! Correct-and-on-time goodput of `bench --scenario load` through `--engine openai` (the
//! engine a user brings for vLLM, SGLang …), against the real `medocr serve` on loopback:
//! the served answers are scored from ground truth exactly as `medocr run --engine openai`
//! scores the documents, a two-page document's pages read together; the figure never
//! exceeds latency-only goodput; and profiles no answer can meet make it 0 while
//! latency-only goodput stays above 0.

use std::path::Path;

mod common;
use common::{gen, journal_cers, medocr, read_json, start_serve, text};

/// Requests per rate: two whole passes over the pool's 3 pages.
const REQUESTS: u64 = 6;

/// The arguments of `bench` and `run` naming the server, the dataset and the DPI.
fn through<'a>(url: &'a str, data: &'a Path) -> [&'a str; 6] {
    [
        "--base-url",
        url,
        "--dataset",
        data.to_str().unwrap(),
        "--dpi",
        "150",
    ]
}

/// `bench --scenario load --engines openai` at 1 req/s into `out/load`; bench.json and the
/// console.
fn load(
    root: &Path,
    data: &Path,
    url: &str,
    out: &Path,
    extra: &[&str],
) -> (serde_json::Value, String) {
    let requests = REQUESTS.to_string();
    let mut args = vec!["bench", "--out", out.to_str().unwrap(), "--run-id", "load"];
    args.extend(through(url, data));
    args.extend([
        "--scenario",
        "load",
        "--engines",
        "openai",
        "--rates",
        "1",
        "--arrival",
        "fixed",
        "--requests",
        &requests,
        "--concurrency",
        "1",
        "--warmup",
        "0",
        "--slo-e2e",
        "60s",
        "--no-overhead",
        "--quiet",
    ]);
    args.extend_from_slice(extra);
    let o = medocr(&args, root);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    (read_json(&out.join("load/bench.json")), t)
}

/// Each document's CER as `medocr run --engine openai` scores it.
fn run_cers(root: &Path, data: &Path, url: &str, out: &Path) -> Vec<(String, f64)> {
    let mut args = vec!["run", "--engine", "openai", "--out", out.to_str().unwrap()];
    args.extend(through(url, data));
    args.extend(["--run-id", "r", "--quiet"]);
    let o = medocr(&args, root);
    let cers = journal_cers(&out.join("r"));
    assert_eq!(cers.len(), 2, "{}", text(&o));
    cers
}

/// The bundled profiles with every `max_cer` set to 0: no answer with an error meets them.
fn strict_profiles(root: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for e in std::fs::read_dir(root.join("profiles")).unwrap() {
        let path = e.unwrap().path();
        let toml: String = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| {
                if l.starts_with("max_cer") {
                    "max_cer = 0.0"
                } else {
                    l
                }
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(dir.join(path.file_name().unwrap()), toml).unwrap();
    }
}

#[test]
fn correct_goodput_through_medocr_serve() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // A one-page prescription and a two-page lab result: a pool of 3 pages.
    gen(root, &data, 1, "prescription,lab_result", 3);
    let server = start_serve(root, &[]);
    let run = run_cers(root, &data, &server.url, &tmp.path().join("run"));

    let (v, console) = load(root, &data, &server.url, &tmp.path().join("bundled"), &[]);
    let m = &v["measurements"][0];
    assert_eq!(
        (m["engine"].as_str(), m["scenario"].as_str()),
        (Some("openai"), Some("load"))
    );
    let (l, g) = (&m["load"], &m["load"]["correct"]);
    assert_eq!(
        (g["scored"].as_u64(), g["unscored"].as_u64()),
        (Some(REQUESTS), Some(0)),
        "{g}"
    );
    let rps = g["goodput_rps"]
        .as_f64()
        .unwrap_or_else(|| panic!("n/a: {g}"));
    assert!(rps <= l["goodput_rps"].as_f64().unwrap() + 1e-12, "{l}");
    for r in g["requests"].as_array().unwrap() {
        // Scored as `run` scores the document, the lab result's two pages read together.
        let reference = r["reference"].as_str().unwrap();
        let (_, cer) = run.iter().find(|(id, _)| id == reference).unwrap();
        assert_eq!(r["cer"].as_f64(), Some(*cer), "{r}");
        let right = r["within_cer"] == true && r["critical_errors"] == 0;
        assert_eq!(r["counted"], right && r["on_time"] == true, "{r}");
    }
    // Both documents read within their profiles' limits at 150 DPI: the figure is not a
    // trivial 0.
    assert_eq!(g["counted"].as_u64(), Some(REQUESTS), "{g}");
    assert_eq!(v["settings"]["profiles"]["origin"], "bundled");
    assert!(
        !console.contains(medocr::bench::goodput::NO_GROUND_TRUTH),
        "{console}"
    );

    let strict = tmp.path().join("strict");
    strict_profiles(root, &strict);
    let out = tmp.path().join("strict-run");
    let (v, _) = load(
        root,
        &data,
        &server.url,
        &out,
        &["--profiles", strict.to_str().unwrap()],
    );
    let (l, g) = (
        &v["measurements"][0]["load"],
        &v["measurements"][0]["load"]["correct"],
    );
    assert!(l["goodput_rps"].as_f64().unwrap() > 0.0, "{l}");
    assert_eq!(l["slo_attainment"].as_f64(), Some(1.0), "{l}");
    assert_eq!(g["scored"].as_u64(), Some(REQUESTS), "{g}");
    assert_eq!(
        (g["goodput_rps"].as_f64(), g["attainment"].as_f64()),
        (Some(0.0), Some(0.0)),
        "{g}"
    );
    let cap = &v["goodput_capacity"][0];
    assert_eq!(cap["latency_max_rate"].as_f64(), Some(1.0), "{cap}");
    assert!(cap["correct_max_rate"].is_null(), "{cap}");
    let md = std::fs::read_to_string(out.join("load/bench.md")).unwrap();
    assert!(md.contains(&format!("| 0 / {REQUESTS} (0%) |")), "{md}");
    // The header counts what `load` ran, not `--iterations`.
    assert!(
        md.contains(&format!("+ {REQUESTS} requests per rate.")),
        "{md}"
    );
}
