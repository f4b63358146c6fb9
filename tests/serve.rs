//! `medocr serve` and the `openai` engine, end to end on loopback: the real binary serving the
//! built-in model, `medocr run --engine openai` and `medocr bench --scenario load` against
//! it, and fake servers that fail or answer at once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{medocr, summary, text, ServeProcess};

fn start_serve(root: &Path) -> ServeProcess {
    common::start_serve(root, &[])
}

fn get(addr: &str, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn gen(root: &Path, out: &Path, types: &str) {
    let o = medocr(
        &[
            "gen",
            "--out",
            out.to_str().unwrap(),
            "--count",
            "1",
            "--types",
            types,
            "--seed",
            "7",
        ],
        root,
    );
    assert!(o.status.success(), "{}", text(&o));
}

/// `medocr run` with `extra` flags; returns the run folder.
fn run(root: &Path, data: &Path, reports: &Path, id: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "run",
        "--dataset",
        data.to_str().unwrap(),
        "--out",
        reports.to_str().unwrap(),
        "--run-id",
        id,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    medocr(&args, root)
}

/// (id, ok, cer, S, D, I, N, output tokens, input tokens) per document from documents.csv.
fn scores(run_dir: &Path) -> Vec<Vec<String>> {
    let csv = std::fs::read_to_string(run_dir.join("documents.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    // Token counts too: the server's usage reports the built-in model's own counts.
    let cols = [
        "id",
        "ok",
        "cer",
        "char_s",
        "char_d",
        "char_i",
        "char_n",
        "output_tokens",
        "input_tokens",
    ]
    .map(col);
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            cols.iter().map(|&c| f[c].to_string()).collect()
        })
        .collect()
}

/// A counter from the JSON body of a raw `GET /metrics.json` response.
fn metric(response: &str, key: &str) -> u64 {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str::<serde_json::Value>(body).unwrap()[key]
        .as_u64()
        .unwrap()
}

#[test]
fn openai_engine_through_medocr_serve_scores_like_the_builtin_engine() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    gen(root, &data, "prescription");
    let reports = tmp.path().join("reports");
    let server = start_serve(root);
    let addr = server.url.trim_start_matches("http://").to_string();
    assert!(get(&addr, "/v1/models").contains("medocr-builtin"));
    let before = get(&addr, "/metrics.json");

    // `medocr run` through the server into run folder `id`.
    let through_server = |id: &str| {
        let args = [
            "--engine",
            "openai",
            "--base-url",
            &server.url,
            "--dpi",
            "150",
        ];
        run(root, &data, &reports, id, &args)
    };
    let o = through_server("openai");
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let o = run(
        root,
        &data,
        &reports,
        "builtin",
        &["--engine", "builtin", "--dpi", "150"],
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));

    let (via_server, in_process) = (
        scores(&reports.join("openai")),
        scores(&reports.join("builtin")),
    );
    assert_eq!(via_server.len(), 1);
    assert_eq!(via_server[0][1], "true", "{via_server:?}");
    // Same pixels (lossless PNG, DPI in pHYs), same model, same batch: same text and scores.
    assert_eq!(via_server, in_process);
    let p = |id: &str| std::fs::read_to_string(reports.join(id).join("predictions.jsonl")).unwrap();
    assert_eq!(p("openai"), p("builtin"));

    let s = summary(&reports.join("openai"));
    assert_eq!(s["config"]["engine"]["name"], "openai");
    assert_eq!(s["config"]["engine"]["streaming"], "chunks");
    let metrics = get(&addr, "/metrics.json");
    assert!(metrics.contains("\"requests\":1"), "{metrics}");
    // One connection for the whole run: the engine asked for the model and sent its page
    // on the same kept-alive connection (the other is this /metrics request).
    let connections = metric(&metrics, "connections") - metric(&before, "connections");
    assert_eq!(connections, 2, "{before}\n{metrics}");
    let b = summary(&reports.join("builtin"));
    assert_eq!(
        s["totals"]["cer"], b["totals"]["cer"],
        "corpus CER differs: {} vs {}",
        s["totals"]["cer"], b["totals"]["cer"]
    );

    // The page again: the server's prefix cache serves every line crop, the text is the same.
    let first_hits = metric(&metrics, "prefix_cache_hits");
    let o = through_server("again");
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    assert_eq!(p("again"), p("openai"));
    let input_tokens: u64 = via_server[0][8].parse().unwrap();
    let after = get(&addr, "/metrics.json");
    assert_eq!(
        metric(&after, "prefix_cache_hits") - first_hits,
        input_tokens,
        "{after}"
    );
    assert_eq!(metric(&after, "prefix_cache_queries"), 2 * input_tokens);
}

/// Answers each connection in turn with the next canned response, after reading the whole
/// request; returns the requests it read.
fn fake_server(responses: Vec<Vec<u8>>) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for response in responses {
            let (s, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let mut s = s;
            s.write_all(&response).unwrap();
            requests.push(head);
        }
        requests
    });
    (url, handle)
}

#[test]
fn server_errors_are_recorded_per_document_and_the_key_stays_secret() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    gen(root, &data, "prescription,diagnosis");
    let error_500 = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 41\r\nConnection: close\r\n\r\n{\"error\":{\"message\":\"engine overloaded\"}}".to_vec();
    let malformed = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\ndata: {not json\n\n".to_vec();
    let (url, server) = fake_server(vec![error_500, malformed]);
    let reports = tmp.path().join("reports");
    let secret = "sk-medocr-test-do-not-leak";
    let o = Command::new(env!("CARGO_BIN_EXE_medocr"))
        .args([
            "run",
            "--dataset",
            data.to_str().unwrap(),
            "--out",
            reports.to_str().unwrap(),
            "--run-id",
            "fail",
            "--quiet",
            "--engine",
            "openai",
            "--base-url",
            &url,
            "--model-name",
            "some-vlm",
            "--api-key-env",
            "MEDOCR_SERVE_TEST_KEY",
            "--dpi",
            "72",
        ])
        .env("MEDOCR_SERVE_TEST_KEY", secret)
        .current_dir(root)
        .output()
        .unwrap();
    let out = text(&o);
    // Failed requests count against the SLA (error rate): exit code 1, not a crash.
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("HTTP 500") && out.contains("engine overloaded"),
        "{out}"
    );
    assert!(out.contains("malformed stream event"), "{out}");
    let docs = scores(&reports.join("fail"));
    assert_eq!(docs.len(), 2);
    assert!(docs.iter().all(|d| d[1] == "false"), "{docs:?}");
    let requests = server.join().unwrap();
    // Header names are case-insensitive (the client sends them in lower case).
    assert!(requests[0]
        .to_ascii_lowercase()
        .contains(&format!("authorization: bearer {secret}")));
    assert!(!out.contains(secret));
    for entry in std::fs::read_dir(reports.join("fail")).unwrap() {
        let path = entry.unwrap().path();
        if let Ok(body) = std::fs::read_to_string(&path) {
            assert!(
                !body.contains(secret),
                "{} holds the API key",
                path.display()
            );
        }
    }
}

/// What the client adds to TTFT, measured against an in-process server that answers at once:
/// request building (PNG + base64 + JSON), connect and upload, and the path from the server's
/// write of the first content chunk to the sink's `token` call (loopback, HTTP, SSE, JSON).
/// `cargo test --release --test serve -- --ignored --nocapture client_overhead`
#[test]
#[ignore = "a measurement for docs/serve.md, not a check"]
fn client_overhead_on_loopback() {
    use medocr::engine::openai::{OpenAiConfig, OpenAiEngine};
    use medocr::engine::{Engine, Request, Stage, TokenSink};
    use std::sync::mpsc;

    let tmp = tempfile::tempdir().unwrap();
    let opts = medocr::dataset::synth::GenOptions {
        count_per_type: 1,
        types: vec![medocr::dataset::DocType::Prescription],
        seed: 7,
        ..Default::default()
    };
    medocr::dataset::synth::generate(&opts, tmp.path(), None).unwrap();
    let dataset = medocr::dataset::load_manifest(tmp.path()).unwrap();
    let page_at = |dpi: f32| {
        medocr::pipeline::render_timed(
            &dataset,
            &dataset.documents[0],
            dpi,
            &medocr::pipeline::RunOptions::default(),
        )
        .pages
        .unwrap()
    };
    let pages = [page_at(150.0), page_at(300.0)];
    // Request building, every encoder variant side by side, at 150 and 300 DPI.
    for page in &pages {
        for c in medocr::bench::overhead::request_build_costs(&page[0], 40) {
            eprintln!(
                "{} DPI {}x{} {:32} PNG {:7} B: PNG p50 {:.3} ms, whole body p50 {:.3} ms",
                page[0].dpi, c.width, c.height, c.variant, c.png_bytes, c.png_p50_ms, c.body_p50_ms
            );
        }
    }

    // Requests alternate between the two DPIs, so a busy moment hits both alike.
    const N: usize = 600;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel::<Instant>();
    // Like vLLM: one kept-alive connection, each answer a chunked event stream.
    std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let mut s = s;
        let chunk = |event: &str| format!("{:x}\r\n{event}\r\n", event.len());
        for _ in 0..N {
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
            let role = chunk("data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n");
            s.write_all(format!("{head}{role}").as_bytes()).unwrap();
            let first = chunk("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"처\"},\"finish_reason\":null}]}\n\n");
            let t0 = Instant::now();
            s.write_all(first.as_bytes()).unwrap();
            tx.send(t0).unwrap();
            let rest = chunk("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n");
            s.write_all(format!("{rest}0\r\n\r\n").as_bytes()).unwrap();
        }
    });

    struct Sink {
        start: Instant,
        first: Option<Instant>,
        preprocess: Duration,
    }
    impl TokenSink for Sink {
        fn token(&mut self, _: &str) {
            self.first.get_or_insert_with(Instant::now);
        }
        fn stage(&mut self, stage: Stage, elapsed: Duration) {
            if stage == Stage::Preprocess {
                self.preprocess += elapsed;
            }
        }
    }
    let mut config = OpenAiConfig::new(url);
    config.model = Some("m".into());
    let mut engine = OpenAiEngine::new(config).unwrap();
    let mut samples: [[Vec<f64>; 3]; 2] = Default::default();
    for i in 0..N {
        let mut sink = Sink {
            start: Instant::now(),
            first: None,
            preprocess: Duration::ZERO,
        };
        let request = Request {
            id: "d",
            pages: &pages[i % 2],
        };
        engine.recognize(&request, &mut sink).unwrap();
        let t0 = rx.recv().unwrap();
        let first = sink.first.unwrap();
        let [ttft, build, receive] = &mut samples[i % 2];
        ttft.push((first - sink.start).as_secs_f64() * 1e3);
        build.push(sink.preprocess.as_secs_f64() * 1e3);
        receive.push((first - t0).as_secs_f64() * 1e3);
    }
    let p = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[((v.len() - 1) as f64 * q).round() as usize]
    };
    for (page, [ttft, build, receive]) in pages.iter().zip(&mut samples) {
        let (w, h) = page[0].image.dimensions();
        eprintln!("page {w}x{h} at {} DPI, {} requests", page[0].dpi, N / 2);
        for (name, v) in [
            ("client TTFT against an instant server", ttft),
            ("  request building (PNG + base64 + JSON)", build),
            ("  first chunk: server write -> sink.token", receive),
        ] {
            eprintln!("{name}: p50 {:.3} ms, p95 {:.3} ms", p(v, 0.5), p(v, 0.95));
        }
    }
}

/// `medocr bench --scenario load` through `medocr serve`: concurrent workers send real
/// concurrent requests (each worker keeps its own connection), every request is answered,
/// and the server's token counts equal the in-process model's on the same page.
#[test]
fn bench_load_through_medocr_serve() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    gen(root, &data, "prescription");
    let out = tmp.path().join("reports");
    let server = start_serve(root);
    let addr = server.url.trim_start_matches("http://").to_string();
    let before = get(&addr, "/metrics.json");
    let bench = |engine: &str, id: &str, extra: &[&str]| {
        let mut args = vec![
            "bench",
            "--engines",
            engine,
            "--dataset",
            data.to_str().unwrap(),
            "--dpi",
            "150",
            "--warmup",
            "0",
            "--no-overhead",
            "--out",
            out.to_str().unwrap(),
            "--run-id",
            id,
        ];
        args.extend_from_slice(extra);
        let o = medocr(&args, root);
        assert!(o.status.success(), "{}", text(&o));
        let json = std::fs::read_to_string(out.join(id).join("bench.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&json).unwrap()["measurements"][0].clone()
    };
    let load = bench(
        "openai",
        "load",
        &[
            "--base-url",
            &server.url,
            "--scenario",
            "load",
            "--rates",
            "4",
            "--arrival",
            "fixed",
            "--requests",
            "4",
            "--concurrency",
            "2",
            "--slo-e2e",
            "120s",
            "--p99-limit",
            "120s",
        ],
    );
    let single = bench(
        "builtin",
        "single",
        &["--scenario", "single", "--iterations", "1"],
    );

    let samples = load["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 4);
    let workers: std::collections::BTreeSet<_> = samples
        .iter()
        .map(|s| s["worker"].as_u64().unwrap())
        .collect();
    assert_eq!(workers.len(), 2, "both workers sent requests: {samples:?}");
    let in_process = &single["samples"][0]["timing"];
    for s in samples {
        assert!(s["error"].is_null(), "{s}");
        assert!(s["timing"]["ttft_ms"].as_f64().unwrap() > 0.0, "{s}");
        // The server reports the model's own token counts in `usage`.
        assert_eq!(
            s["timing"]["output_tokens"], in_process["output_tokens"],
            "{s}"
        );
        assert_eq!(
            s["timing"]["input_tokens"], in_process["input_tokens"],
            "{s}"
        );
    }
    let after = get(&addr, "/metrics.json");
    assert_eq!(
        metric(&after, "requests") - metric(&before, "requests"),
        4,
        "{after}"
    );
    // Kept connections: fewer connections than requests (each worker asks for the model
    // and sends its requests on one connection; the /metrics call is one more).
    let connections = metric(&after, "connections") - metric(&before, "connections");
    assert!(
        connections < 4,
        "{connections} connections for 4 requests: {after}"
    );
}

/// A server that sends no `usage` (issue 8: "a flagged fallback"): that document's output
/// tokens are its chunk count, and the document, documents.csv, summary.json and report.md
/// all say so; a document answered with usage keeps the server's counts.
#[test]
fn a_page_answered_without_usage_is_flagged_per_document() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    gen(root, &data, "prescription,diagnosis");
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
    let chunk = |t: &str| {
        format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{t}\"}}}}]}}\n\n")
    };
    let with_usage = format!(
        "{head}{}{}data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":500,\"completion_tokens\":7}}}}\n\ndata: [DONE]\n\n",
        chunk("처방"),
        chunk("전")
    );
    // Three chunks, a finish reason, no usage event (as servers without stream usage send).
    let without_usage = format!(
        "{head}{}{}{}data: {{\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\ndata: [DONE]\n\n",
        chunk("진"),
        chunk("단"),
        chunk("서")
    );
    let (url, _server) = fake_server(vec![with_usage.into_bytes(), without_usage.into_bytes()]);
    let reports = tmp.path().join("reports");
    let o = run(
        root,
        &data,
        &reports,
        "nousage",
        &[
            "--engine",
            "openai",
            "--base-url",
            &url,
            "--model-name",
            "some-vlm",
            "--dpi",
            "72",
        ],
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let dir = reports.join("nousage");
    let csv = std::fs::read_to_string(dir.join("documents.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    let cells = |r: &Vec<String>| {
        (
            r[col("ok")].clone(),
            r[col("output_tokens")].clone(),
            r[col("input_tokens")].clone(),
            r[col("pages_without_usage")].clone(),
        )
    };
    let got: Vec<_> = rows.iter().map(cells).collect();
    let s = |v: &str| v.to_string();
    assert_eq!(
        got,
        [
            (s("true"), s("7"), s("500"), s("0")),
            (s("true"), s("3"), s(""), s("1"))
        ],
        "{csv}"
    );
    let summary = summary(&dir);
    assert_eq!(summary["totals"]["documents_without_usage"], 1);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("1 of 2 documents were answered without the server's `usage`"),
        "{report}"
    );
}
