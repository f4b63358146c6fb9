//! Reliability (docs/reliability.md): broken inputs are clear per-document errors and the
//! run goes on; engine faults (timeout, crash, garbage, failure) are recorded errors that
//! fail the SLA; an interrupted run (SIGKILL or SIGINT) resumes to the same result as an
//! uninterrupted one; the same inputs give the same summary.json.
//!
//! Engine faults and interruptions use a fake `tesseract` (a shell script passed with
//! `--tesseract-bin`) whose behaviour per page is scripted, so the tests are fast and
//! deterministic; determinism is also checked with the real Tesseract.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::text;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bundled() -> PathBuf {
    root().join("datasets/bundled")
}

/// The first bundled manifest entry of `id`, as JSON.
fn bundled_entry(id: &str) -> Value {
    let manifest = std::fs::read_to_string(bundled().join("manifest.jsonl")).unwrap();
    manifest
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in the bundled manifest"))
}

/// A fake Tesseract: answers `--version` and `--list-langs`, then reads the page and
/// acts by the mode of this call (`FAKE_MODES`, comma-separated, counted in `FAKE_STATE`):
/// ok (print `FAKE_TEXT`), hang, crash, garbage, nul, fail.
/// With `FAKE_GATE`, calls from number `FAKE_GATE_AFTER` on (counting from 0) create
/// `FAKE_GATE.waiting` and wait until `FAKE_GATE` exists (60 s at most), so a test can stop
/// a run at a known document whatever the machine's speed.
const FAKE_TESSERACT: &str = r#"#!/bin/sh
case "$1" in
  --version) echo "tesseract 5.3.0-fake"; exit 0;;
  --list-langs) printf 'List of available languages in "/fake/" (2):\neng\nkor\n'; exit 0;;
esac
cat > /dev/null
n=0
if [ -n "$FAKE_STATE" ]; then
  n=$(cat "$FAKE_STATE" 2>/dev/null || echo 0)
  echo $((n + 1)) > "$FAKE_STATE"
fi
mode=$(echo "${FAKE_MODES:-ok}" | cut -d, -f$((n + 1)))
if [ -n "$FAKE_GATE" ] && [ "$n" -ge "${FAKE_GATE_AFTER:-0}" ]; then
  : > "$FAKE_GATE.waiting"
  i=0
  while [ ! -e "$FAKE_GATE" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
fi
case "$mode" in
  hang) exec sleep 60;;
  crash) ulimit -c 0; kill -SEGV $$;;
  garbage) printf '\377\376abc'; exit 0;;
  nul) printf 'abc\000def'; exit 0;;
  fail) echo "Error in pixReadMem: cannot read the image" >&2; exit 1;;
esac
printf '%s\n' "${FAKE_TEXT:-처 방 전}"
"#;

struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let fake = tmp.path().join("fake-tesseract");
        std::fs::write(&fake, FAKE_TESSERACT).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(tmp.path().join("profiles")).unwrap();
        Fixture { tmp }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    fn s(&self, p: &str) -> String {
        self.path(p).display().to_string()
    }

    /// Accuracy-only profiles (latency limits would make results timing-dependent).
    fn profiles(&self, types: &[&str]) {
        for t in types {
            std::fs::write(
                self.path(&format!("profiles/{t}.toml")),
                format!("doc_type = \"{t}\"\n[accuracy]\nmax_cer = 0.5\n"),
            )
            .unwrap();
        }
    }

    /// A dataset of `n` copies of the bundled one-page prescription, each its own document.
    fn prescriptions(&self, name: &str, n: usize) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(
            bundled().join("prescription-000.pdf"),
            dir.join("prescription-000.pdf"),
        )
        .unwrap();
        let base = bundled_entry("prescription-000");
        let mut lines = String::new();
        for i in 0..n {
            let mut e = base.clone();
            e["id"] = Value::from(format!("p{i}"));
            lines.push_str(&e.to_string());
            lines.push('\n');
        }
        std::fs::write(dir.join("manifest.jsonl"), lines).unwrap();
        dir
    }

    /// `medocr run` with the fake Tesseract, at 72 DPI, into `<tmp>/reports/<run_id>`.
    fn run_cmd(&self, dataset: &Path, run_id: &str, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_medocr"));
        c.current_dir(root())
            .args(["run", "--engine", "tesseract", "--tesseract-bin"])
            .arg(self.path("fake-tesseract"))
            .args(["--dpi", "72", "--quiet", "--dataset"])
            .arg(dataset)
            .arg("--profiles")
            .arg(self.path("profiles"))
            .arg("--out")
            .arg(self.path("reports"))
            .args(["--run-id", run_id])
            .args(extra)
            .env("FAKE_STATE", self.path(&format!("state-{run_id}")))
            .env(
                "FAKE_TEXT",
                bundled_entry("prescription-000")["text"].as_str().unwrap(),
            )
            .stdin(Stdio::null());
        c
    }

    /// `medocr run --resume <tmp>/reports/<run_id>` with the fake Tesseract's settings.
    fn resume_cmd(&self, run_id: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_medocr"));
        c.args(["run", "--quiet", "--resume"])
            .arg(self.path(&format!("reports/{run_id}")))
            .env("FAKE_STATE", self.path(&format!("state-{run_id}")))
            .env(
                "FAKE_TEXT",
                bundled_entry("prescription-000")["text"].as_str().unwrap(),
            )
            .stdin(Stdio::null());
        c
    }

    fn summary(&self, run_id: &str) -> Value {
        let p = self.path(&format!("reports/{run_id}/summary.json"));
        serde_json::from_str(
            &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
        .unwrap()
    }
}

fn output(mut c: Command) -> Output {
    c.output().expect("run medocr")
}

fn scrub(v: &Value) -> Value {
    common::scrub(v, &[])
}

/// documents.csv without the timing and memory columns.
fn csv_without_timings(path: &Path) -> String {
    let body = std::fs::read_to_string(path).unwrap();
    let mut lines = body.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !header[i].ends_with("_ms") && header[i] != "peak_rss_mib")
        .collect();
    let mut out = String::new();
    for line in body.lines() {
        // No quoted commas in these ids and messages-free rows.
        let cells: Vec<&str> = line.split(',').collect();
        out.push_str(
            &keep
                .iter()
                .map(|&i| cells.get(i).copied().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

/// A PDF with the given objects (numbered from 1) and exact xref offsets.
fn pdf(objects: &[&str], trailer: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R {trailer} >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header claims `w`×`h` pixels (a decompression bomb's shape) with a valid
/// IHDR checksum and no real image data.
fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let chunk = |out: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Every broken input of the catalogue in one dataset next to one good document: each
/// broken one is a recorded `input` error naming its file and saying what to do, bad
/// manifest lines are skipped with their line number, and the good document is scored.
#[test]
fn broken_inputs_are_recorded_errors_and_the_run_goes_on() {
    let fx = Fixture::new();
    fx.profiles(&["prescription"]);
    let data = fx.path("broken");
    std::fs::create_dir(&data).unwrap();
    let good_pdf = std::fs::read(bundled().join("prescription-000.pdf")).unwrap();
    let scan = std::fs::read(bundled().join("prescription-000-scan.jpg")).unwrap();
    let page = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>";
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("good.pdf", good_pdf.clone()),
        ("corrupt.pdf", b"%PDF-1.4\n\x00\x13garbage that is no PDF at all".to_vec()),
        ("truncated.pdf", good_pdf[..200].to_vec()),
        (
            "encrypted.pdf",
            pdf(
                &[
                    "<< /Type /Catalog /Pages 2 0 R >>",
                    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                    page,
                    "<< /Filter /Standard /V 1 /R 2 /P -44 /O <3fa7c1b2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f> /U <0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef> >>",
                ],
                "/Encrypt 4 0 R /ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>]",
            ),
        ),
        (
            "zero-pages.pdf",
            pdf(
                &[
                    "<< /Type /Catalog /Pages 2 0 R >>",
                    "<< /Type /Pages /Kids [] /Count 0 >>",
                ],
                "",
            ),
        ),
        (
            "huge-page.pdf",
            pdf(
                &[
                    "<< /Type /Catalog /Pages 2 0 R >>",
                    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] >>",
                ],
                "",
            ),
        ),
        ("not-an-image.png", b"this is a text file, not a PNG".to_vec()),
        ("truncated.jpg", scan[..scan.len() / 3].to_vec()),
        ("truncated.png", {
            let img = image::GrayImage::from_fn(400, 300, |x, y| {
                image::Luma([((x * 7 + y * 13) % 251) as u8])
            });
            let mut png = Vec::new();
            img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .unwrap();
            png.truncate(png.len() / 2);
            png
        }),
        ("bomb.png", bomb_png(100_000, 100_000)),
    ];
    for (name, bytes) in &files {
        std::fs::write(data.join(name), bytes).unwrap();
    }
    let base = bundled_entry("prescription-000");
    let entry = |id: &str, source: &str, dpi: Option<f64>| {
        let mut e = base.clone();
        e["id"] = Value::from(id);
        e["source"] = Value::from(source);
        if let Some(d) = dpi {
            e["dpi"] = Value::from(d);
        }
        e.to_string()
    };
    let lines = [
        entry("good", "good.pdf", None),
        entry("corrupt", "corrupt.pdf", None),
        entry("truncated-pdf", "truncated.pdf", None),
        entry("encrypted", "encrypted.pdf", None),
        entry("zero-pages", "zero-pages.pdf", None),
        entry("huge-page", "huge-page.pdf", None),
        entry("missing", "missing.pdf", None),
        entry("not-an-image", "not-an-image.png", Some(300.0)),
        entry("truncated-scan", "truncated.jpg", Some(300.0)),
        entry("truncated-png", "truncated.png", Some(300.0)),
        entry("bomb", "bomb.png", Some(300.0)),
        entry("no-dpi", "truncated.jpg", None),
        // Manifest lines 13–15: not JSON, unknown type, impossible date.
        "{\"id\": \"broken-json\", ".to_string(),
        entry("unknown-type", "good.pdf", None).replace("\"prescription\"", "\"x_ray\""),
        {
            let mut e = base.clone();
            e["id"] = Value::from("bad-date");
            e["fields"]["dates"]["issued"] = Value::from("2023-02-30");
            e.to_string()
        },
    ];
    std::fs::write(data.join("manifest.jsonl"), lines.join("\n") + "\n").unwrap();

    let o = output(fx.run_cmd(&data, "broken", &[]));
    let out = text(&o);
    // Errors fail the SLA (max_error_rate = 0 by default): exit 1, not a crash (2).
    assert_eq!(o.status.code(), Some(1), "{out}");
    for (line, what) in [
        (13, "not a valid document entry"),
        (14, "unknown variant `x_ray`"),
        (15, "fields.dates.issued"),
    ] {
        assert!(
            out.contains(&format!("manifest.jsonl:{line}: ")) && out.contains(what),
            "line {line}: {what}\n{out}"
        );
    }
    let s = fx.summary("broken");
    assert_eq!(s["totals"]["documents"], 12, "{out}");
    assert_eq!(s["totals"]["failed"], 11, "{out}");
    assert_eq!(s["totals"]["errors_by_kind"]["input"], 11);
    let errors = s["errors"].as_array().unwrap();
    let message = |id: &str| {
        errors
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("no error for {id}: {s:#}"))["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for (id, file, expected) in [
        (
            "corrupt",
            "corrupt.pdf",
            "not a valid PDF (corrupt or truncated); re-export",
        ),
        (
            "truncated-pdf",
            "truncated.pdf",
            "not a valid PDF (corrupt or truncated)",
        ),
        (
            "encrypted",
            "encrypted.pdf",
            "encrypted (password protected); decrypt it",
        ),
        ("zero-pages", "zero-pages.pdf", "no pages"),
        (
            "huge-page",
            "huge-page.pdf",
            "over the budget of 120000000; lower the DPI or raise --max-pixels",
        ),
        ("missing", "missing.pdf", "file not found"),
        (
            "not-an-image",
            "not-an-image.png",
            "convert it to PNG, JPEG, TIFF or BMP",
        ),
        (
            "truncated-scan",
            "truncated.jpg",
            "truncated JPEG (no end-of-image marker)",
        ),
        (
            "truncated-png",
            "truncated.png",
            "unsupported or truncated image",
        ),
        ("bomb", "bomb.png", "= 10000000000 pixels, over the budget"),
        ("no-dpi", "truncated.jpg", "needs its scan DPI"),
    ] {
        let m = message(id);
        assert!(m.contains(file) && m.contains(expected), "{id}: {m}");
    }
    // The good document was read and scored; the error kinds reach every report.
    let good = s["groups"][0]["documents"].as_u64().unwrap();
    assert_eq!(good, 12);
    assert!(!errors.iter().any(|e| e["id"] == "good"));
    let md = std::fs::read_to_string(fx.path("reports/broken/report.md")).unwrap();
    assert!(
        md.contains("## Errors") && md.contains("11 of 12 documents failed"),
        "{md}"
    );
    assert!(out.contains("errors: 11 of 12 (91.67%): input 11"), "{out}");
    let html = std::fs::read_to_string(fx.path("reports/broken/report.html")).unwrap();
    assert!(
        html.contains(r#"<section id="errors">"#) && html.contains("11 failed document(s)"),
        "report.html lists no errors"
    );
    let csv = std::fs::read_to_string(fx.path("reports/broken/documents.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains("error_kind"));
    let verdict = &s["verdicts"][0]["verdict"]["checks"][0];
    assert_eq!(verdict["key"], "max_error_rate");
    assert_eq!(verdict["status"], "fail");

    // The budget is configurable: a small one rejects the good page too.
    let o = output(fx.run_cmd(&data, "tiny", &["--max-pixels", "1000", "--limit", "1"]));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let s = fx.summary("tiny");
    let m = s["errors"][0]["message"].as_str().unwrap();
    assert!(m.contains("over the budget of 1000"), "{m}");
}

/// Sources that are no document file: `/dev/zero` (which never ends), FIFOs (which block
/// whoever opens them), a folder named like a PDF and a file over the source size limit.
/// Each is refused from its metadata before it is opened, as that document's `input` error
/// naming the path and what it is, and the run goes on to score the good documents. A
/// watchdog kills the run if it hangs.
#[cfg(unix)]
#[test]
fn sources_that_never_end_are_refused_before_they_are_opened() {
    let fx = Fixture::new();
    fx.profiles(&["prescription"]);
    let data = fx.path("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(
        bundled().join("prescription-000.pdf"),
        data.join("good.pdf"),
    )
    .unwrap();
    for fifo in ["pipe.png", "pipe.pdf"] {
        let made = Command::new("mkfifo")
            .arg(data.join(fifo))
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo {fifo}");
    }
    std::fs::create_dir(data.join("folder.pdf")).unwrap();
    // Sparse: a byte over the limit without using the disk.
    std::fs::File::create(data.join("huge.pdf"))
        .unwrap()
        .set_len(medocr::render::MAX_SOURCE_BYTES + 1)
        .unwrap();
    let base = bundled_entry("prescription-000");
    let entry = |id: &str, source: &str, dpi: Option<f64>| {
        let mut e = base.clone();
        e["id"] = Value::from(id);
        e["source"] = Value::from(source);
        if let Some(d) = dpi {
            e["dpi"] = Value::from(d);
        }
        e.to_string()
    };
    let lines = [
        entry("good", "good.pdf", None),
        entry("zero", "/dev/zero", Some(300.0)),
        entry("zero-no-dpi", "/dev/zero", None),
        entry("fifo-scan", "pipe.png", Some(300.0)),
        entry("fifo-no-dpi", "pipe.png", None),
        entry("fifo-pdf", "pipe.pdf", None),
        entry("folder-pdf", "folder.pdf", None),
        entry("huge", "huge.pdf", None),
        entry("good-last", "good.pdf", None),
    ];
    std::fs::write(data.join("manifest.jsonl"), lines.join("\n") + "\n").unwrap();

    let mut cmd = fx.run_cmd(&data, "sources", &["--timeout-per-page", "5"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let o = child.wait_with_output().unwrap();
            panic!("the run hung on a source and was killed:\n{}", text(&o));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let s = fx.summary("sources");
    assert_eq!(s["totals"]["documents"], 9, "{out}");
    assert_eq!(s["totals"]["failed"], 7, "{out}");
    assert_eq!(s["totals"]["errors_by_kind"]["input"], 7, "{out}");
    let errors = s["errors"].as_array().unwrap();
    for (id, path, what) in [
        ("zero", "/dev/zero".to_string(), "a character device"),
        ("zero-no-dpi", "/dev/zero".to_string(), "a character device"),
        ("fifo-scan", fx.s("data/pipe.png"), "a FIFO"),
        ("fifo-no-dpi", fx.s("data/pipe.png"), "a FIFO"),
        ("fifo-pdf", fx.s("data/pipe.pdf"), "a FIFO"),
        ("folder-pdf", fx.s("data/folder.pdf"), "a directory"),
        (
            "huge",
            fx.s("data/huge.pdf"),
            "larger than the 512 MiB source limit",
        ),
    ] {
        let e = errors
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("no error for {id}: {out}"));
        assert_eq!(e["kind"], "input", "{id}");
        let m = e["message"].as_str().unwrap();
        assert!(
            m.starts_with(&format!("{path}: ")) && m.contains(what),
            "{id}: {m}"
        );
        let hint = if id == "huge" {
            "split the document"
        } else {
            "not a regular file"
        };
        assert!(m.contains(hint), "{id}: {m}");
    }
    // The good documents on either side were read and scored.
    assert!(!errors
        .iter()
        .any(|e| e["id"] == "good" || e["id"] == "good-last"));
    let csv = std::fs::read_to_string(fx.path("reports/sources/documents.csv")).unwrap();
    assert!(csv.lines().any(|l| l.starts_with("good-last,")), "{csv}");
}

/// A hanging, crashing, garbage-returning and failing engine: each page's fault becomes
/// that document's recorded error of the right kind; the others are scored.
#[test]
fn engine_faults_are_recorded_per_document() {
    let fx = Fixture::new();
    fx.profiles(&["prescription"]);
    let data = fx.prescriptions("data", 6);
    let mut cmd = fx.run_cmd(&data, "faults", &["--timeout-per-page", "2"]);
    cmd.env("FAKE_MODES", "ok,hang,crash,garbage,nul,fail");
    let t0 = Instant::now();
    let o = output(cmd);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        t0.elapsed() < Duration::from_secs(40),
        "the hanging page was not killed"
    );
    let s = fx.summary("faults");
    assert_eq!(s["totals"]["documents"], 6);
    assert_eq!(s["totals"]["failed"], 5);
    let kinds: Vec<(String, String)> = s["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("p1", "timeout"),
        ("p2", "crash"),
        ("p3", "garbage"),
        ("p4", "garbage"),
        ("p5", "engine"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(kinds, expected, "{out}");
    let msg = |i: usize| s["errors"][i]["message"].as_str().unwrap().to_string();
    assert!(
        msg(0).contains("timed out on p1 (page 1) after 2 s"),
        "{}",
        msg(0)
    );
    assert!(msg(0).contains("--timeout-per-page"), "{}", msg(0));
    assert!(msg(1).contains("killed by signal 11"), "{}", msg(1));
    assert!(msg(2).contains("not UTF-8"), "{}", msg(2));
    assert!(msg(3).contains("NUL"), "{}", msg(3));
    assert!(msg(4).contains("cannot read the image"), "{}", msg(4));
    assert!(out.contains("timeout  p1 @ 72 DPI"), "{out}");
    // The one good document is scored; the failed ones count as empty output.
    let cer = &s["totals"]["cer"];
    assert!(cer["deletions"].as_u64().unwrap() > 0);
}

/// The built-in model runs in-process and cannot be killed: it checks the per-page limit
/// between pages and forward passes. A limit that has passed before the first forward pass
/// makes every document a timeout (exit 1); a generous one changes nothing.
#[test]
fn builtin_engine_stops_at_the_page_timeout() {
    let fx = Fixture::new();
    fx.profiles(&["prescription"]);
    let data = fx.prescriptions("data", 2);
    let run = |run_id: &str, extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_medocr"));
        c.current_dir(root())
            .args(["run", "--engine", "builtin", "--dpi", "100", "--quiet"])
            .arg("--dataset")
            .arg(&data)
            .arg("--profiles")
            .arg(fx.path("profiles"))
            .arg("--out")
            .arg(fx.path("reports"))
            .args(["--run-id", run_id])
            .args(extra)
            .stdin(Stdio::null());
        output(c)
    };

    let o = run("tiny", &["--timeout-per-page", "0.001"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let s = fx.summary("tiny");
    assert_eq!(s["totals"]["failed"], 2, "{out}");
    for (i, id) in ["p0", "p1"].iter().enumerate() {
        let e = &s["errors"][i];
        assert_eq!(e["id"], *id);
        assert_eq!(e["kind"], "timeout");
        let msg = e["message"].as_str().unwrap();
        assert!(
            msg.contains(&format!("builtin timed out on {id} (page 1) after 0.001 s"))
                && msg.contains("--timeout-per-page"),
            "{msg}"
        );
    }

    // The default limit and a much larger one give the same run.
    let o = run("default", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run("long", &["--timeout-per-page", "100000"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        scrub(&fx.summary("default")),
        scrub(&fx.summary("long")),
        "a limit that is not reached changed the results"
    );
    let predictions = |run_id: &str| {
        std::fs::read_to_string(fx.path(&format!("reports/{run_id}/predictions.jsonl"))).unwrap()
    };
    assert_eq!(predictions("default"), predictions("long"));
    assert!(!predictions("default").is_empty());
}

/// Runs until the journal holds `results` results, then sends `signal` to the process.
/// Runs `cmd` (a run through the fake engine) until its journal holds `results` results,
/// sends `signal`, then lets the engine go on. The engine's call number `results` waits on a
/// gate file until after the signal, so the run is always stopped at the same document,
/// however fast or loaded the machine is.
fn interrupt(mut cmd: Command, journal: &Path, results: usize, signal: &str) -> Output {
    // Beside the run's folder, not in it: the folders are compared file by file.
    let gate = journal.parent().unwrap().with_extension("gate");
    let waiting = gate.with_extension("gate.waiting");
    cmd.env("FAKE_GATE", &gate)
        .env("FAKE_GATE_AFTER", results.to_string());
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // The journal's first line is its header.
        let lines = std::fs::read_to_string(journal)
            .map(|s| s.lines().count())
            .unwrap_or(0);
        assert!(lines <= results + 1, "the run went past the gate");
        // The next call has counted itself and is waiting: nothing moves until the gate.
        if lines == results + 1 && waiting.exists() {
            break;
        }
        assert!(Instant::now() < deadline, "the journal never grew");
        std::thread::sleep(Duration::from_millis(20));
    }
    let ok = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
    std::fs::write(&gate, "").unwrap();
    child.wait_with_output().unwrap()
}

/// SIGKILL part-way, then `--resume`: the same summary, per-document table and
/// predictions as a run that was never interrupted, and the finished documents are not
/// read again. A fresh run into the unfinished folder is refused.
#[test]
fn killed_run_resumes_to_the_uninterrupted_result() {
    let fx = Fixture::new();
    fx.profiles(&["prescription"]);
    let data = fx.prescriptions("data", 6);
    // The failing call is the first: a call lost to the kill can only shift later ones.
    let modes = ["FAKE_MODES", "fail,ok,ok,ok,ok,ok"];
    let mut full = fx.run_cmd(&data, "full", &[]);
    full.env(modes[0], modes[1]);
    let o = output(full);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    let mut cut = fx.run_cmd(&data, "cut", &[]);
    cut.env(modes[0], modes[1]);
    let journal = fx.path("reports/cut/journal.jsonl");
    let o = interrupt(cut, &journal, 2, "KILL");
    assert_eq!(o.status.code(), None, "killed by the signal");
    assert!(!fx.path("reports/cut/summary.json").exists());
    let calls_before: usize = std::fs::read_to_string(fx.path("state-cut"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let mut again = fx.run_cmd(&data, "cut", &[]);
    again.env(modes[0], modes[1]);
    let o = output(again);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("holds an unfinished run"), "{}", text(&o));

    let o = output({
        let mut c = fx.resume_cmd("cut");
        c.env(modes[0], modes[1]);
        c
    });
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("resuming"), "{out}");
    let calls_after: usize = std::fs::read_to_string(fx.path("state-cut"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let journaled = std::fs::read_to_string(&journal).unwrap().lines().count() - 1;
    assert_eq!(journaled, 6);
    assert!(
        calls_after - calls_before <= 6 - 2,
        "finished documents were read again ({calls_before} → {calls_after})"
    );
    assert_same_run(&fx, "full", "cut");
}

/// Ctrl-C (SIGINT) stops after the current document with a message saying how to resume
/// and exit code 130; the resumed run equals an uninterrupted one.
#[test]
fn ctrl_c_stops_cleanly_and_resumes() {
    let fx = Fixture::new();
    fx.profiles(&["prescription"]);
    let data = fx.prescriptions("data", 5);
    let o = output(fx.run_cmd(&data, "full", &[]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let cut = fx.run_cmd(&data, "cut", &[]);
    let o = interrupt(cut, &fx.path("reports/cut/journal.jsonl"), 1, "INT");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(130), "{out}");
    assert!(out.contains("interrupted:"), "{out}");
    let hint = format!("medocr run --resume {}", fx.s("reports/cut"));
    assert!(out.contains(&hint), "{out}");
    assert!(!fx.path("reports/cut/summary.json").exists());

    let o = output(fx.resume_cmd("cut"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_same_run(&fx, "full", "cut");

    // Resuming a finished run only rewrites its reports.
    let o = output(fx.resume_cmd("cut"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_same_run(&fx, "full", "cut");
    // Nothing to resume in a folder without a journal.
    let o = output({
        let mut c = Command::new(env!("CARGO_BIN_EXE_medocr"));
        c.args(["run", "--resume"]).arg(fx.path("data"));
        c
    });
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("not a run folder"), "{}", text(&o));
}

/// A `dpi-sweep` killed part-way and copied elsewhere, one folder per engine: resuming one
/// copy finishes both copies (the sibling is found by its run id next to it) and leaves the
/// original folders byte for byte as they were. A renamed engine folder is refused: its
/// siblings would be found by name, possibly the original run's.
#[test]
fn a_copied_sweep_resumes_into_the_copies_only() {
    let fx = Fixture::new();
    fx.profiles(&["prescription"]);
    let data = fx.prescriptions("data", 2);
    let preds = fx.path("preds.jsonl");
    common::predictions(&data, &preds, |t| t.to_string());
    let env = |c: &mut Command| {
        c.env("FAKE_STATE", fx.path("state-sweep"))
            .env(
                "FAKE_TEXT",
                bundled_entry("prescription-000")["text"].as_str().unwrap(),
            )
            .stdin(Stdio::null());
    };
    let mut sweep = Command::new(env!("CARGO_BIN_EXE_medocr"));
    sweep
        .current_dir(root())
        .args([
            "dpi-sweep",
            "--engines",
            "tesseract,replay",
            "--tesseract-bin",
        ])
        .arg(fx.path("fake-tesseract"))
        .args(["--dpi", "72,100", "--quiet", "--dataset"])
        .arg(&data)
        .arg("--predictions")
        .arg(&preds)
        .arg("--profiles")
        .arg(fx.path("profiles"))
        .arg("--out")
        .arg(fx.path("reports"))
        .args(["--run-id", "sw"]);
    env(&mut sweep);
    let o = interrupt(
        sweep,
        &fx.path("reports/sw-tesseract/journal.jsonl"),
        2,
        "KILL",
    );
    assert_eq!(o.status.code(), None, "killed by the signal");

    std::fs::create_dir(fx.path("copy")).unwrap();
    for engine in ["tesseract", "replay"] {
        let o = Command::new("cp")
            .arg("-a")
            .arg(fx.path(&format!("reports/sw-{engine}")))
            .arg(fx.path("copy"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    let originals =
        || ["tesseract", "replay"].map(|e| common::snapshot(&fx.path(&format!("reports/sw-{e}"))));
    let before = originals();
    let mut resume = Command::new(env!("CARGO_BIN_EXE_medocr"));
    resume
        .args(["run", "--quiet", "--resume"])
        .arg(fx.path("copy/sw-replay"));
    env(&mut resume);
    let o = output(resume);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(originals() == before, "an original folder was changed");
    for engine in ["tesseract", "replay"] {
        let dir = fx.path(&format!("copy/sw-{engine}"));
        assert!(dir.join("summary.json").is_file(), "{engine}: {out}");
        let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
        assert_eq!(journal.lines().count(), 1 + 4, "{engine}");
    }

    let o = Command::new("cp")
        .arg("-a")
        .arg(fx.path("copy/sw-replay"))
        .arg(fx.path("copy/renamed"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let mut resume = Command::new(env!("CARGO_BIN_EXE_medocr"));
    resume
        .args(["run", "--quiet", "--resume"])
        .arg(fx.path("copy/renamed"));
    env(&mut resume);
    let o = output(resume);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("name it sw-replay again"), "{out}");
}

fn assert_same_run(fx: &Fixture, a: &str, b: &str) {
    assert_eq!(
        serde_json::to_string_pretty(&scrub(&fx.summary(a))).unwrap(),
        serde_json::to_string_pretty(&scrub(&fx.summary(b))).unwrap(),
        "summary.json differs beyond timings"
    );
    assert_eq!(
        std::fs::read_to_string(fx.path(&format!("reports/{a}/predictions.jsonl"))).unwrap(),
        std::fs::read_to_string(fx.path(&format!("reports/{b}/predictions.jsonl"))).unwrap()
    );
    let csv = |r: &str| csv_without_timings(&fx.path(&format!("reports/{r}/documents.csv")));
    assert_eq!(csv(a), csv(b));
}

/// The same inputs give the same summary.json apart from timings and timestamps: the
/// real Tesseract on generated documents, and the replay engine.
#[test]
fn same_inputs_give_the_same_summary() {
    let fx = Fixture::new();
    fx.profiles(&["prescription", "lab_result"]);
    let data = fx.path("data");
    let o = common::medocr(
        &[
            "gen",
            "--out",
            data.to_str().unwrap(),
            "--count",
            "1",
            "--types",
            "prescription,lab_result",
            "--seed",
            "17",
        ],
        root(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let run = |id: &str| {
        let o = common::medocr(
            &[
                "run",
                "--engine",
                "tesseract",
                "--dpi",
                "72,150",
                "--quiet",
                "--dataset",
                data.to_str().unwrap(),
                "--out",
                fx.s("reports").as_str(),
                "--profiles",
                fx.s("profiles").as_str(),
                "--run-id",
                id,
            ],
            root(),
        );
        assert!(o.status.code().unwrap_or(9) <= 1, "{}", text(&o));
    };
    run("t1");
    run("t2");
    let raw =
        |id: &str| std::fs::read_to_string(fx.path(&format!("reports/{id}/summary.json"))).unwrap();
    // Byte-identical once the volatile fields are gone (key order is the struct's).
    let bytes = |id: &str| {
        let v: Value = serde_json::from_str(&raw(id)).unwrap();
        serde_json::to_string_pretty(&scrub(&v)).unwrap()
    };
    assert_eq!(bytes("t1"), bytes("t2"));
    assert!(raw("t1").contains("\"dpi_study\""));

    let preds = fx.path("preds.jsonl");
    common::predictions(&data, &preds, |t| t.replace('처', "저"));
    for id in ["r1", "r2"] {
        let o = common::medocr(
            &[
                "score",
                "--quiet",
                "--dataset",
                data.to_str().unwrap(),
                "--predictions",
                preds.to_str().unwrap(),
                "--profiles",
                fx.s("profiles").as_str(),
                "--out",
                fx.s("reports").as_str(),
                "--run-id",
                id,
            ],
            root(),
        );
        assert!(o.status.code().unwrap_or(9) <= 1, "{}", text(&o));
    }
    assert_eq!(bytes("r1"), bytes("r2"));
}

/// Setup and argument problems are exit code 2 with a message naming the flag, file or
/// key and what to do.
#[test]
fn bad_arguments_profiles_and_setup_are_clear_errors() {
    let fx = Fixture::new();
    fx.profiles(&["prescription"]);
    let data = fx.prescriptions("data", 1);
    for (args, expected) in [
        (
            vec!["--dpi", "0"],
            "'0' for '--dpi <DPI>': a DPI must be a positive number",
        ),
        (vec!["--dpi", "99999"], "up to 2400"),
        (vec!["--dpi", "300,300"], "--dpi: 300 is given twice"),
        (vec!["--max-pixels", "0"], "--max-pixels must be positive"),
        (vec!["--timeout-per-page", "0"], "--timeout-per-page 0"),
    ] {
        let mut c = fx.run_cmd(&data, "bad", &[]);
        c.args(&args);
        let o = output(c);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}");
        assert!(out.contains(expected), "{args:?}: {out}");
    }
    let o = common::medocr(
        &[
            "run",
            "--engine",
            "tesseract",
            "--tesseract-bin",
            "/nonexistent/tesseract",
            "--dataset",
            data.to_str().unwrap(),
            "--profiles",
            fx.s("profiles").as_str(),
            "--out",
            fx.s("reports").as_str(),
        ],
        root(),
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("tesseract is not installed") && out.contains("bash scripts/setup.sh"),
        "{out}"
    );

    for (body, expected) in [
        ("[accuracy]\nmax_cerr = 0.1\n", "max_cerr"),
        ("[accuracy]\nmax_cer = \"low\"\n", "max_cer"),
        (
            "[latency]\nmax_e2e_ms = 100\nmax_ttft_ms = 500\n",
            "latency.max_ttft_ms",
        ),
        ("[accuracy.fields]\ndrug = 0.9\n", "accuracy.fields.drug"),
    ] {
        std::fs::write(
            fx.path("profiles/prescription.toml"),
            format!("doc_type = \"prescription\"\n{body}"),
        )
        .unwrap();
        let o = output(fx.run_cmd(&data, "bad", &[]));
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{body}: {out}");
        assert!(
            out.contains("prescription.toml") && out.contains(expected),
            "{body}: {out}"
        );
    }
    std::fs::remove_file(fx.path("profiles/prescription.toml")).unwrap();
    let o = output(fx.run_cmd(&data, "bad", &[]));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no SLA profile"), "{}", text(&o));
}
