//! `medocr bench` as a CI gate, run for real: its exit codes (0 pass, 1 failed requests or
//! a missed p99 limit, 2 usage, 130 interrupted with a partial report), `--export-json`,
//! and a reader that closes standard output early.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{medocr, read_json, text};

/// Flags of a short run on one prescription page at 72 DPI, reports in `out/<id>`.
fn quick(scenario: &str, engines: &str, out: &Path, id: &str) -> Vec<String> {
    [
        "bench",
        "--scenario",
        scenario,
        "--engines",
        engines,
        "--types",
        "prescription",
        "--limit",
        "1",
        "--dpi",
        "72",
        "--warmup",
        "0",
        "--no-overhead",
        "--out",
        out.to_str().unwrap(),
        "--run-id",
        id,
    ]
    .map(String::from)
    .to_vec()
}

fn run(args: &[String]) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    medocr(&args.iter().map(String::as_str).collect::<Vec<_>>(), root)
}

/// Waits for `child` at most `limit`, killing it past that.
fn wait_for(child: &mut Child, limit: Duration) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("medocr bench still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_passing_bench_exits_0_and_exports_its_json_on_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("reports");
    let mut args = quick("single", "tesseract", &out, "pass");
    args.extend(["--iterations", "2", "--export-json", "-", "--quiet"].map(String::from));
    let o = run(&args);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    // Standard output is the JSON alone, the same as bench.json.
    let exported: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {t}"));
    assert_eq!(exported, read_json(&out.join("pass/bench.json")));
    assert_eq!(exported["interrupted"], false);
    assert_eq!(exported["measurements"][0]["failed"], 0);
    assert_eq!(
        exported["measurements"][0]["samples"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The console summary moved to standard error; --quiet hid the progress.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bench: pass") && err.contains("reports:"),
        "{err}"
    );
    assert!(
        !err.contains("measuring") && !err.contains("bench single"),
        "{err}"
    );
}

#[test]
fn failed_requests_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("reports");
    // A port nothing listens on: every request is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let export = tmp.path().join("ci/bench.json");
    let mut args = quick("single", "openai", &out, "refused");
    args.extend(
        [
            "--base-url",
            &format!("http://127.0.0.1:{port}"),
            // Without a model name the engine would ask the server for one at setup.
            "--model-name",
            "m",
            "--iterations",
            "2",
            "--export-json",
            export.to_str().unwrap(),
        ]
        .map(String::from),
    );
    let o = run(&args);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    let v = read_json(&export);
    assert_eq!(v, read_json(&out.join("refused/bench.json")));
    assert_eq!(v["measurements"][0]["failed"], 2, "{t}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("bench: FAIL") && stdout.contains("2 request(s) failed"),
        "{t}"
    );
}

#[test]
fn a_p99_limit_met_at_no_rate_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("reports");
    let mut args = quick("load", "tesseract", &out, "limit");
    args.extend(
        [
            "--rates",
            "4",
            "--arrival",
            "fixed",
            "--requests",
            "2",
            "--p99-limit",
            "1ms",
        ]
        .map(String::from),
    );
    let o = run(&args);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    let v = read_json(&out.join("limit/bench.json"));
    // Every request succeeded: the limit alone failed the gate.
    assert_eq!(v["measurements"][0]["failed"], 0, "{t}");
    assert!(v["load_capacity"][0]["max_rate"].is_null(), "{t}");
    assert!(
        t.contains("bench: FAIL — tesseract: no tested rate has p99 E2E ≤ 1.0 ms"),
        "{t}"
    );
}

#[test]
fn limits_outside_load_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("reports");
    let mut args = quick("single", "tesseract", &out, "usage");
    args.extend(["--p99-limit", "1s"].map(String::from));
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--p99-limit applies to --scenario load only"));
    assert!(!out.join("usage").exists());
}

#[test]
fn sigint_during_a_soak_keeps_a_partial_report_and_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("reports");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = quick("soak", "tesseract", &out, "soak");
    args.extend(["--duration", "120s", "--window", "1s"].map(String::from));
    let mut child = Command::new(env!("CARGO_BIN_EXE_medocr"))
        .args(&args)
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in stderr.lines() {
            let line = line.unwrap();
            if line.contains("measuring") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the soak never started measuring");
    // Long enough for a few 1 s windows to finish.
    std::thread::sleep(Duration::from_millis(3500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // The request in flight finishes, then the report is written.
    let status = wait_for(&mut child, Duration::from_secs(60));
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted:"), "{err}");

    let v = read_json(&out.join("soak/bench.json"));
    assert_eq!(v["interrupted"], true);
    let ms = v["measurements"].as_array().unwrap();
    assert!(!ms.is_empty() && ms.len() < 120, "{} windows", ms.len());
    for (i, m) in ms.iter().enumerate() {
        assert_eq!(m["scenario"], "soak");
        assert!(!m["samples"].as_array().unwrap().is_empty());
        // Only the window the stop cut short may be partial: the last.
        if m["partial"] == true {
            assert_eq!(i, ms.len() - 1);
        }
    }
    let md = std::fs::read_to_string(out.join("soak/bench.md")).unwrap();
    assert!(md.contains("Interrupted (Ctrl-C / SIGTERM)"), "{md}");
    let csv = std::fs::read_to_string(out.join("soak/bench.csv")).unwrap();
    let samples: usize = ms
        .iter()
        .map(|m| m["samples"].as_array().unwrap().len())
        .sum();
    assert_eq!(csv.lines().count(), 1 + samples);
}

#[test]
fn a_closed_standard_output_ends_the_bench_with_0() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("reports");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = quick("single", "tesseract", &out, "pipe");
    args.extend(["--iterations", "1"].map(String::from));
    // `medocr bench … | head -1` where the reader is gone before the summary is printed:
    // every write to standard output meets a closed pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_medocr"))
        .args(&args)
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("error:"),
        "{err}"
    );
    // The reports were written before anything was printed.
    assert!(out.join("pipe/bench.json").is_file());
}
