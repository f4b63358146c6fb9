//! docs/summary.schema.json is the JSON Schema of summary.json (and of `--export-json`),
//! derived from the result model: this test fails when the two differ, and validates real
//! summaries against it: the committed example reports and a fresh `score` run.
//!
//! After changing the result model: `MEDOCR_UPDATE_SCHEMA=1 cargo test --release --test
//! summary_schema` rewrites the file.

mod common;

use std::path::Path;

fn schema_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/summary.schema.json")
}

fn generated() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(medocr::report::RunSummary)).unwrap()
}

#[test]
fn the_documented_schema_is_the_result_model() {
    let now = generated();
    if std::env::var_os("MEDOCR_UPDATE_SCHEMA").is_some() {
        let text = serde_json::to_string_pretty(&now).unwrap() + "\n";
        std::fs::write(schema_path(), text).unwrap();
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(schema_path()).expect("docs/summary.schema.json"))
            .unwrap();
    assert!(
        doc == now,
        "docs/summary.schema.json differs from the result model; regenerate it with MEDOCR_UPDATE_SCHEMA=1 cargo test --release --test summary_schema"
    );
}

fn validate(summary: &serde_json::Value, what: &str) {
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(schema_path()).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(summary)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {}", errors.join("\n"));
}

#[test]
fn real_summaries_validate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["example-builtin", "example-tesseract"] {
        let path = root.join("reports").join(name).join("summary.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        validate(&v, &path.display().to_string());
    }

    // A fresh run with an error, a field miss and --export-json on standard output.
    let tmp = tempfile::tempdir().unwrap();
    let preds = tmp.path().join("p.jsonl");
    let dataset = root.join("datasets/bundled");
    common::predictions(&dataset, &preds, |t| t.replacen("정", "점", 3));
    let o = common::medocr(
        &[
            "score",
            "--dataset",
            dataset.to_str().unwrap(),
            "--predictions",
            preds.to_str().unwrap(),
            "--out",
            tmp.path().to_str().unwrap(),
            "--run-id",
            "s",
            "--export-json",
            "-",
        ],
        tmp.path(),
    );
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        common::text(&o)
    );
    let exported: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON alone ({e}): {}", common::text(&o)));
    let written = common::summary(&tmp.path().join("s"));
    assert_eq!(exported, written, "--export-json - is summary.json");
    validate(&exported, "score --export-json -");

    // The schema is not vacuous: a summary without its verdicts or with a wrong type fails.
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(schema_path()).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut broken = written.clone();
    broken.as_object_mut().unwrap().remove("verdicts");
    assert!(!validator.is_valid(&broken));
    let mut broken = written;
    broken["totals"]["documents"] = serde_json::json!("fourteen");
    assert!(!validator.is_valid(&broken));
}
