//! `--task extract`: fields asked for as JSON and judged by the clinical matchers, against
//! a local OpenAI-compatible server (a real TCP server speaking the chat-completions API)
//! and replayed from the fixture `tests/data/vlm/json_fields.jsonl`.

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

mod common;
use common::{bundled_document, medocr, read_request, scrub, summary, text};

/// How the test server answers extraction requests.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// The ground-truth fields.
    Perfect,
    /// The ground truth with the second drug's dose ten times too high.
    Tenfold,
    /// HTTP 400 to any request with `response_format` (a server without guided decoding);
    /// the ground truth to the prompt alone, cut off halfway (as `max_tokens` would).
    RefuseSchemaAndTruncate,
}

/// Serves `GET /v1/models` and `POST /v1/chat/completions` on a free port until the process
/// ends: transcription requests (`stream: true`) get `transcript` as one JSON completion,
/// extraction requests (`stream: false`) get `fields` as `mode` says. Returns the base URL
/// and every request body it received.
fn serve(
    transcript: String,
    fields: serde_json::Value,
    mode: Mode,
) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(tcp) = stream else { continue };
            let (log, transcript, fields) = (log.clone(), transcript.clone(), fields.clone());
            std::thread::spawn(move || {
                let mut conn = BufReader::new(tcp);
                while let Some((head, body)) = read_request(&mut conn) {
                    let (status, answer) = if head.starts_with("GET /v1/models") {
                        (
                            200,
                            serde_json::json!({"object": "list", "data": [{"id": "vlm-under-test"}]}),
                        )
                    } else {
                        let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        log.lock().unwrap().push(request.clone());
                        let extraction = request["stream"] == false;
                        let content = if !extraction {
                            transcript.clone()
                        } else {
                            let mut f = fields.clone();
                            if mode == Mode::Tenfold {
                                f["drugs"][1]["dose"] = "5".into();
                            }
                            f.to_string()
                        };
                        if mode == Mode::RefuseSchemaAndTruncate
                            && request.get("response_format").is_some()
                        {
                            (
                                400,
                                serde_json::json!({"object": "error", "type": "BadRequestError", "message": "response_format is not supported by this server", "code": 400}),
                            )
                        } else {
                            let (content, finish) =
                                if extraction && mode == Mode::RefuseSchemaAndTruncate {
                                    (content[..content.len() / 2].to_string(), "length")
                                } else {
                                    (content, "stop")
                                };
                            (
                                200,
                                serde_json::json!({
                                    "id": "cmpl-1", "object": "chat.completion", "model": "vlm-under-test",
                                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
                                    "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500}
                                }),
                            )
                        }
                    };
                    let body = answer.to_string();
                    let reply = format!(
                        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        if status == 200 { "OK" } else { "Bad Request" },
                        body.len()
                    );
                    let tcp = conn.get_mut();
                    if tcp.write_all(reply.as_bytes()).is_err() || tcp.flush().is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

#[test]
fn extraction_against_an_openai_compatible_server() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (data, entry) = bundled_document(tmp.path(), "prescription");
    let reports = tmp.path().join("reports");
    let run = |url: &str, id: &str| {
        medocr(
            &[
                "run",
                "--engine",
                "openai",
                "--base-url",
                url,
                "--task",
                "extract",
                "--dataset",
                data.to_str().unwrap(),
                "--out",
                reports.to_str().unwrap(),
                "--run-id",
                id,
                "--dpi",
                "72",
                "--quiet",
                "--request-timeout",
                "30",
            ],
            root,
        )
    };
    let fields_n = 1 + 3 * 5 + 2 + 1;

    // Perfect JSON: every field right, asked with the prescription's schema.
    let (url, seen) = serve(
        entry["text"].as_str().unwrap().into(),
        entry["fields"].clone(),
        Mode::Perfect,
    );
    let o = run(&url, "perfect");
    assert!(o.status.success(), "{}", text(&o));
    let s = summary(&reports.join("perfect"));
    let x = &s["groups"][0]["extraction"];
    assert_eq!(x["right"], fields_n, "{x:#}");
    assert_eq!(x["total"], fields_n);
    assert_eq!(x["clinical"]["critical"], 0);
    assert_eq!(s["config"]["extract"]["prompts"], "bundled");
    let bodies = seen.lock().unwrap().clone();
    let ask = bodies
        .iter()
        .find(|b| b["stream"] == false)
        .expect("an extraction request");
    let schema = &ask["response_format"]["json_schema"]["schema"];
    assert_eq!(ask["response_format"]["type"], "json_schema");
    assert!(
        schema["properties"]["drugs"]["items"]["properties"]["dose"].is_object(),
        "{ask:#}"
    );
    let prompt = ask["messages"][0]["content"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(prompt.contains("JSON"), "{prompt}");
    // The transcription beside it is scored as before.
    assert_eq!(s["groups"][0]["cer"]["rate"], 0.0);
    let csv = std::fs::read_to_string(reports.join("perfect/documents.csv")).unwrap();
    let (head, row) = csv.split_once('\n').unwrap();
    let col = |name: &str| {
        head.split(',')
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let cells: Vec<&str> = row.trim_end().split(',').collect();
    assert_eq!(cells[col("extract_fields_right")], fields_n.to_string());
    assert_eq!(cells[col("extract_critical_errors")], "0");
    let md = std::fs::read_to_string(reports.join("perfect/report.md")).unwrap();
    assert!(md.contains("## Structured extraction"), "{md}");
    let predictions = std::fs::read_to_string(reports.join("perfect/predictions.jsonl")).unwrap();
    let p: serde_json::Value = serde_json::from_str(predictions.lines().next().unwrap()).unwrap();
    assert_eq!(p["fields"], entry["fields"]);

    // A tenfold dose: one critical error, and the SLA (max_critical_errors = 0) fails.
    let (url, _) = serve(
        entry["text"].as_str().unwrap().into(),
        entry["fields"].clone(),
        Mode::Tenfold,
    );
    let o = run(&url, "tenfold");
    let s = summary(&reports.join("tenfold"));
    let x = &s["groups"][0]["extraction"];
    assert_eq!(x["right"], fields_n - 1, "{x:#}");
    assert_eq!(x["clinical"]["critical"], 1);
    assert_eq!(x["clinical"]["examples"][0]["rule"], "dose.tenfold");
    assert_eq!(x["clinical"]["examples"][0]["key"], "drugs[1].dose");
    let html = std::fs::read_to_string(reports.join("tenfold/report.html")).unwrap();
    assert!(html.contains("Structured extraction") && html.contains("dose.tenfold"));
    assert!(
        !html.contains(entry["fields"]["patient_name"].as_str().unwrap()),
        "the name is masked"
    );
    let _ = o;

    // A server without guided decoding: asked again without response_format; its answer
    // is cut off, which is a truncated_json error counted against the error rate.
    let (url, seen) = serve(
        entry["text"].as_str().unwrap().into(),
        entry["fields"].clone(),
        Mode::RefuseSchemaAndTruncate,
    );
    let o = run(&url, "refused");
    assert_eq!(o.status.code(), Some(1), "an SLA failure: {}", text(&o));
    let s = summary(&reports.join("refused"));
    assert!(
        s["config"]["engine"]["settings"]["response_format"]
            .as_str()
            .unwrap()
            .contains("refused by the server"),
        "{:#}",
        s["config"]["engine"]["settings"]
    );
    let asked: Vec<bool> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|b| b["stream"] == false)
        .map(|b| b.get("response_format").is_some())
        .collect();
    assert_eq!(asked, vec![true, false]);
    assert_eq!(
        s["errors"][0]["kind"], "truncated_json",
        "{:#}",
        s["errors"]
    );
    assert_eq!(s["totals"]["failed"], 1);
    assert_eq!(s["groups"][0]["extraction"]["right"], 0);
    let verdict = &s["verdicts"][0]["verdict"];
    assert_eq!(verdict["status"], "fail");
    assert!(text(&o).contains("truncated_json"), "{}", text(&o));
}

#[test]
fn replayed_fields_fixture_and_bad_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("tests/data/vlm");
    let out = tmp.path().join("reports");
    let score = |predictions: &Path, id: &str, extra: &[&str]| {
        let mut args = vec![
            "score",
            "--dataset",
            data.to_str().unwrap(),
            "--predictions",
            predictions.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--run-id",
            id,
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let o = medocr(&args, root);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
        (summary(&out.join(id)), o)
    };
    let fixture = data.join("json_fields.jsonl");
    let (s, _) = score(&fixture, "fixture", &["--task", "extract"]);
    let group = |t: &str| {
        s["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["doc_type"] == t)
            .unwrap()
            .clone()
    };
    // The prescription's answer (fenced JSON, numbers as numbers) has one wrong dose:
    // 가스모틴정 0.50 given as 5, tenfold, critical. Everything else is right.
    let rx = group("prescription")["extraction"].clone();
    assert_eq!(
        (rx["right"].as_u64(), rx["total"].as_u64()),
        (Some(18), Some(19)),
        "{rx:#}"
    );
    assert_eq!(rx["clinical"]["critical"], 1);
    assert_eq!(rx["clinical"]["examples"][0]["rule"], "dose.tenfold");
    let lab = group("lab_result")["extraction"].clone();
    assert_eq!(lab["right"], lab["total"], "{lab:#}");
    assert_eq!(lab["failed"], 0);
    // The transcription (the ground truth itself) scores perfectly beside it.
    assert_eq!(s["totals"]["cer"]["rate"], 0.0);

    // A run's predictions.jsonl replays to the same verdicts.
    let (again, _) = score(
        &out.join("fixture/predictions.jsonl"),
        "again",
        &["--task", "extract"],
    );
    assert!(
        scrub(&again["groups"], &[]) == scrub(&s["groups"], &[]),
        "replay changed the verdicts"
    );

    // Not JSON, and cut-off JSON: their own error kinds, no field right.
    let bad = tmp.path().join("bad.jsonl");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&fixture)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut a = lines[0].clone();
    a["extraction"] = "처방전의 약은 가스터정입니다.".into();
    let mut b = lines[1].clone();
    b.as_object_mut().unwrap().remove("fields");
    b["extraction"] = r#"{"patient_name": "조열철", "labs": [{"item": "White Blood"#.into();
    std::fs::write(&bad, format!("{a}\n{b}\n")).unwrap();
    let (s, o) = score(&bad, "bad", &["--task", "extract"]);
    let kinds: Vec<&str> = s["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["invalid_json", "truncated_json"], "{}", text(&o));
    assert_eq!(s["totals"]["failed"], 2);
    assert!(s["groups"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["extraction"]["right"] == 0));

    // Engines that only transcribe are refused up front, with what to use instead.
    let o = medocr(
        &[
            "run",
            "--engine",
            "tesseract",
            "--task",
            "extract",
            "--dataset",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        root,
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("only transcribes"), "{}", text(&o));
}
