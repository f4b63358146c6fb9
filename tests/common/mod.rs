//! Helpers shared by the tests that run the `medocr` binary.

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary built for these tests in `cwd`.
pub fn medocr(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medocr"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run medocr")
}

/// stdout and stderr together, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `medocr gen --out OUT --count COUNT --types TYPES --seed SEED` run in `root`; fails the
/// test with the binary's output when it fails.
pub fn gen(root: &Path, out: &Path, count: usize, types: &str, seed: u64) {
    let (count, seed) = (count.to_string(), seed.to_string());
    let o = medocr(
        &[
            "gen",
            "--out",
            out.to_str().unwrap(),
            "--count",
            &count,
            "--types",
            types,
            "--seed",
            &seed,
        ],
        root,
    );
    assert!(o.status.success(), "{}", text(&o));
}

/// A JSON file (bench.json, summary.json …).
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Each scored document's id and CER, from a run folder's journal.jsonl, in journal order
/// (none without a journal: the caller's assertion shows why).
pub fn journal_cers(run_dir: &Path) -> Vec<(String, f64)> {
    std::fs::read_to_string(run_dir.join("journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|d| {
            let r = &d["result"];
            Some((
                r["id"].as_str()?.to_string(),
                r["score"]["cer"]["rate"].as_f64()?,
            ))
        })
        .collect()
}

/// The manifest entries of `dataset`, in order.
pub fn manifest(dataset: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dataset.join("manifest.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Writes predictions (`{"id", "text"}` per line) for every manifest entry of `dataset`,
/// the text made by `f` from the whole entry (text and fields).
pub fn predictions_from_entry(
    dataset: &Path,
    out: &Path,
    f: impl Fn(&serde_json::Value) -> String,
) {
    let mut lines = String::new();
    for v in manifest(dataset) {
        let p = serde_json::json!({"id": v["id"], "text": f(&v)});
        lines.push_str(&p.to_string());
        lines.push('\n');
    }
    std::fs::write(out, lines).unwrap();
}

/// [`predictions_from_entry`] from each entry's text alone.
pub fn predictions(dataset: &Path, out: &Path, f: impl Fn(&str) -> String) {
    predictions_from_entry(dataset, out, |v| f(v["text"].as_str().unwrap()))
}

/// summary.json without what legitimately changes between two runs of the same inputs: the
/// run id, timestamps, the machine, every timing or memory figure, and the `extra` keys.
pub fn scrub(v: &serde_json::Value, extra: &[&str]) -> serde_json::Value {
    use serde_json::Value;
    const VOLATILE: [&str; 14] = [
        "run_id",
        "started",
        "environment",
        "wall_time_s",
        "pages_per_s",
        "output_tokens_per_s",
        "latency",
        "throughput",
        "peak_rss_mib",
        "tokens_per_s",
        "p50_e2e_ms",
        "p95_e2e_ms",
        "p50_ttft_ms",
        // The (CER, p95 E2E) front depends on measured latency.
        "pareto",
    ];
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !VOLATILE.contains(&k.as_str()) && !extra.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), scrub(v, extra)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| scrub(v, extra)).collect()),
        other => other.clone(),
    }
}

/// One HTTP/1.1 request read from a kept-alive connection: the head (request line and
/// headers) and the body (by Content-Length); `None` when the client closed it. The reader
/// is kept across requests, so bytes it buffered belong to the next one.
pub fn read_request(reader: &mut impl std::io::BufRead) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// A `medocr serve` process on a free loopback port, killed when dropped (also on a failed
/// assertion).
pub struct ServeProcess {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl ServeProcess {
    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `medocr serve --port 0` (plus `extra` flags) with the built-in model and waits
/// until `/health` answers.
pub fn start_serve(root: &Path, extra: &[&str]) -> ServeProcess {
    use std::io::{BufRead, Read, Write};
    let mut child = Command::new(env!("CARGO_BIN_EXE_medocr"))
        .args(["serve", "--host", "127.0.0.1", "--port", "0"])
        .args(extra)
        .current_dir(root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start medocr serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    let server = ServeProcess { child, url };
    let t0 = std::time::Instant::now();
    loop {
        let mut out = String::new();
        if let Ok(mut s) = std::net::TcpStream::connect(server.addr()) {
            let _ = write!(
                s,
                "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            );
            let _ = s.read_to_string(&mut out);
        }
        if out.contains("\"ok\"") {
            return server;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(60),
            "no /health"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Every file of a folder (not recursive) and its bytes, sorted by name.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// A run folder's summary.json.
pub fn summary(run_dir: &Path) -> serde_json::Value {
    read_json(&run_dir.join("summary.json"))
}

/// A one-document dataset in `dir/data`: the bundled set's first document of `doc_type`,
/// its source made absolute. Returns the folder and the manifest entry.
pub fn bundled_document(dir: &Path, doc_type: &str) -> (std::path::PathBuf, serde_json::Value) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("datasets/bundled/manifest.jsonl")).unwrap();
    let mut entry: serde_json::Value = manifest
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|d| d["doc_type"] == doc_type)
        .unwrap();
    let source = root
        .join("datasets/bundled")
        .join(entry["source"].as_str().unwrap());
    entry["source"] = source.display().to_string().into();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("manifest.jsonl"), format!("{entry}\n")).unwrap();
    (data, entry)
}
