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

/// Writes predictions (`{"id", "text"}` per line) for every manifest entry of `dataset`,
/// the text made by `f` from the whole entry (text and fields).
pub fn predictions_from_entry(
    dataset: &Path,
    out: &Path,
    f: impl Fn(&serde_json::Value) -> String,
) {
    let manifest = std::fs::read_to_string(dataset.join("manifest.jsonl")).unwrap();
    let mut lines = String::new();
    for line in manifest.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
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
