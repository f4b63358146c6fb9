//! `report.html` of a real `medocr score` run, opened in headless Chromium: it must render
//! (a screenshot that is not one flat colour), hold the SLA table and the charts, log no
//! script or console error, load nothing from outside, and quote no patient name.
//!
//! Needs `chromium` on PATH (`bash scripts/setup.sh` installs it); without it the test
//! fails rather than skipping.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{medocr, text};

/// The Chromium binary on PATH.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "headless Chromium is needed to check report.html, and `chromium` is not on PATH: \
         `bash scripts/setup.sh` installs it (Debian package `chromium`)"
    );
}

/// Runs headless Chromium on `url` with `extra` flags; kills it after two minutes.
fn headless(url: &str, profile: &Path, extra: &[&str]) -> Output {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,4000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    // Read the pipes on threads so a chatty browser cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut b).ok();
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut b).ok();
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for chromium") {
            break st;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Script errors and console messages in Chromium's log (the page has no script, so any
/// console line, e.g. a blocked external load, is a fault).
fn console_errors(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.contains("Uncaught") || l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect()
}

/// Every other line dropped and the first digit of the text changed.
fn damage(text: &str) -> String {
    let mut t = text.lines().step_by(2).collect::<Vec<_>>().join("\n");
    if let Some((i, c)) = t.char_indices().find(|(_, c)| c.is_ascii_digit()) {
        let d = (c.to_digit(10).unwrap() + 3) % 10;
        t.replace_range(i..i + 1, &d.to_string());
    }
    t
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let browser = chromium();
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = tmp.path().join("data");
    common::gen(root, &data, 2, "prescription,lab_result", 3);

    let entries = common::manifest(&data);
    let predictions = tmp.path().join("damaged.jsonl");
    common::predictions(&data, &predictions, damage);

    let reports = tmp.path().join("reports");
    let o = medocr(
        &[
            "score",
            "--dataset",
            data.to_str().unwrap(),
            "--predictions",
            predictions.to_str().unwrap(),
            "--out",
            reports.to_str().unwrap(),
            "--run-id",
            "r",
            "--quiet",
        ],
        root,
    );
    assert_eq!(o.status.code(), Some(1), "limits must fail: {}", text(&o));

    let html_path = reports.join("r/report.html");
    assert!(html_path.is_file(), "no report.html in the run folder");
    let html = std::fs::read_to_string(&html_path).unwrap();
    for v in &entries {
        let name = v["fields"]["patient_name"].as_str().unwrap();
        assert!(
            !html.contains(name),
            "report.html quotes patient name {name}"
        );
    }
    for bad in ["<script", "http://", "https://", "<link", "@import", "url("] {
        assert!(
            !html.contains(bad),
            "report.html is not self-contained: {bad}"
        );
    }
    assert!(html.contains("masked"), "no note on identifier masking");

    let url = format!("file://{}", html_path.canonicalize().unwrap().display());
    let profile = tmp.path().join("chromium-profile");

    // Screenshot: a rendered page, not a blank or single-colour one.
    let shot = tmp.path().join("shot.png");
    let o = headless(
        &url,
        &profile,
        &[&format!("--screenshot={}", shot.display())],
    );
    assert!(
        shot.is_file(),
        "{} wrote no screenshot: {}",
        browser.display(),
        text(&o)
    );
    let errors = console_errors(&o.stderr);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let img = image::open(&shot).expect("decode screenshot").to_rgb8();
    assert!(
        img.width() >= 800 && img.height() >= 1000,
        "{:?}",
        img.dimensions()
    );
    let first = img.get_pixel(0, 0);
    let differing = img.pixels().filter(|p| *p != first).count();
    assert!(
        differing > (img.width() * img.height()) as usize / 100,
        "the screenshot is (almost) one flat colour"
    );
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 50, "only {} colours", colours.len());
    // The FAIL badge and failed checks (#cf222e) were painted.
    let red = img
        .pixels()
        .filter(|p| p.0[0] > 180 && p.0[1] < 70 && p.0[2] < 80)
        .count();
    assert!(red > 500, "no FAIL red on the page ({red} pixels)");

    // The DOM as rendered: SLA rows and charts with plotted marks.
    let o = headless(&url, &profile, &["--dump-dom"]);
    assert!(o.status.success(), "dump-dom failed: {}", text(&o));
    let errors = console_errors(&o.stderr);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let dom = String::from_utf8_lossy(&o.stdout);
    let summary = common::summary(&reports.join("r"));
    let checks: usize = summary["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["verdict"]["checks"].as_array().unwrap().len())
        .sum();
    assert!(checks > 0);
    assert_eq!(
        dom.matches("<tr class=\"check ").count(),
        checks,
        "one SLA table row per check"
    );
    assert!(dom.contains("id=\"sla-table\""));
    assert!(dom.contains(">FAIL<") && dom.contains("is-fail"));
    for t in ["prescription", "lab_result"] {
        assert!(
            dom.contains(&format!("id=\"type-{t}\"")),
            "no SLA rows for {t}"
        );
    }
    let charts = dom.matches("<svg").count();
    assert!(charts >= 4, "only {charts} charts");
    assert!(dom.matches("<circle").count() >= 2, "no plotted points");
    assert!(dom.contains("class=\"bar\""), "no field accuracy bars");
    for section in [
        "tradeoff",
        "latency",
        "fields",
        "clinical",
        "confusions",
        "examples",
        "environment",
    ] {
        assert!(dom.contains(&format!("id=\"{section}\"")), "no #{section}");
    }
    // The damaged lines show up as aligned diffs.
    assert!(dom.contains("class=\"seg del\"") || dom.contains("class=\"seg sub\""));
}
