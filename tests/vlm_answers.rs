//! VLM answers as they really come (Markdown, HTML, LaTeX-ish units, another reading
//! order), replayed through the `medocr` binary with `--output-format`.

use std::path::Path;

mod common;
use common::{medocr, predictions_from_entry, text};

/// Scores `predictions` against `dataset` (only `doc_type`) and returns summary.json.
fn score(
    root: &Path,
    dataset: &Path,
    predictions: &Path,
    out: &Path,
    run_id: &str,
    extra: &[&str],
) -> serde_json::Value {
    let mut args = vec![
        "score",
        "--dataset",
        dataset.to_str().unwrap(),
        "--predictions",
        predictions.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--run-id",
        run_id,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let o = medocr(&args, root);
    // Exit code 1 is an SLA failure, which some answers here are meant to cause.
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "medocr score failed: {}",
        text(&o)
    );
    let path = out.join(run_id).join("summary.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn total_cer(summary: &serde_json::Value) -> f64 {
    summary["totals"]["cer"]["rate"].as_f64().unwrap()
}

/// One ground-truth line as a Markdown table row: its words as cells, the first in bold,
/// padded to `width` cells.
fn row(line: &str, width: usize) -> String {
    let esc = |w: &str| {
        w.replace('\\', "\\\\")
            .replace('|', "\\|")
            .replace('*', "\\*")
            .replace('_', "\\_")
    };
    let mut cells: Vec<String> = line.split(' ').map(esc).collect();
    cells[0] = format!("**{}**", cells[0]);
    cells.resize(width, String::new());
    format!("| {} |", cells.join(" | "))
}

/// The ground truth written as a VLM would: the first line a heading, the rest one pipe
/// table (every line a row of its words).
fn as_markdown(truth: &str) -> String {
    let mut lines = truth.lines();
    let title = lines.next().unwrap_or("");
    let rest: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    let width = rest.iter().map(|l| l.split(' ').count()).max().unwrap_or(1);
    let mut md = format!("# {title}\n\n");
    if let Some((head, body)) = rest.split_first() {
        md.push_str(&row(head, width));
        md.push('\n');
        md.push_str(&format!("|{}\n", "---|".repeat(width)));
        for l in body {
            md.push_str(&row(l, width));
            md.push('\n');
        }
    }
    md
}

#[test]
fn ground_truth_as_markdown_tables_scores_as_the_ground_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("datasets/bundled");
    let md = tmp.path().join("markdown.jsonl");
    predictions_from_entry(&data, &md, |v| as_markdown(v["text"].as_str().unwrap()));
    let out = tmp.path().join("reports");

    let read = score(
        root,
        &data,
        &md,
        &out,
        "md",
        &["--output-format", "markdown"],
    );
    let cer = total_cer(&read);
    assert!(cer < 0.005, "Markdown read as Markdown: CER {cer}");
    assert_eq!(read["config"]["output_format"], "markdown");
    let auto = score(root, &data, &md, &out, "auto", &["--output-format", "auto"]);
    assert_eq!(total_cer(&auto), cer, "auto detects Markdown");
    let plain = score(root, &data, &md, &out, "plain", &[]);
    assert!(
        total_cer(&plain) > 0.2,
        "read as text, the markup counts as errors: CER {}",
        total_cer(&plain)
    );

    // predictions.jsonl keeps the answer as it came (`raw`) beside the text scored, and
    // replaying it under the same format scores the same.
    let written = out.join("md/predictions.jsonl");
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&written)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert!(first["raw"].as_str().unwrap().starts_with("# "), "{first}");
    assert!(!first["text"].as_str().unwrap().contains("| "), "{first}");
    let again = score(
        root,
        &data,
        &written,
        &out,
        "again",
        &["--output-format", "markdown"],
    );
    assert_eq!(total_cer(&again), cer);
}

/// What a fixture of tests/data/vlm must score.
struct Expected {
    name: &'static str,
    doc_type: &'static str,
    /// Order-sensitive CER, order-independent CER, reading order.
    cer: f64,
    cer_unordered: f64,
    reading_order: f64,
    /// TEDS and cell accuracy, `None` when the answer has no table.
    tables: Option<(f64, f64)>,
}

/// Measured once and checked by hand (N: the prescription has 594 graphemes, 573 within
/// its 22 lines; the lab result 1,336 and 1,286 in 51 lines).
const FIXTURES: [Expected; 4] = [
    // Markdown: headings, bold labels, the label/value rows as a two-column pipe table, the
    // drug table as a pipe table with one dose written `0.5` for `0.50` (1 edit; the drug
    // table's 25 nodes lose 1/4 of a rename: TEDS 0.99; 19 of 20 cells right).
    Expected {
        name: "markdown_tables",
        doc_type: "prescription",
        cer: 1.0 / 594.0,
        cer_unordered: 1.0 / 573.0,
        reading_order: 1.0,
        tables: Some((0.99, 19.0 / 20.0)),
    },
    // HTML tables with <th>, entities, a <br>; the thyroid table without its empty 판정
    // column: `판정` missing (3 edits with its space), 4 of its 25 nodes deleted (TEDS
    // (3 + 0.84) / 4), 148 of 149 non-empty cells right.
    Expected {
        name: "html_tables",
        doc_type: "lab_result",
        cer: 3.0 / 1336.0,
        cer_unordered: 3.0 / 1286.0,
        reading_order: 1.0,
        tables: Some((0.96, 148.0 / 149.0)),
    },
    // Units as LaTeX (`$10^{3}/\mu L$`, `$\%$`) found by `auto`: μ for the printed u in
    // 4 units, nothing else.
    Expected {
        name: "latex_units",
        doc_type: "lab_result",
        cer: 4.0 / 1336.0,
        cer_unordered: 4.0 / 1286.0,
        reading_order: 1.0,
        tables: None,
    },
    // The label/value block read column by column: every word right (order-independent
    // CER 0) but 118 edits in order, and 10 of 351 pairs of matched lines inverted.
    Expected {
        name: "two_column",
        doc_type: "prescription",
        cer: 118.0 / 594.0,
        cer_unordered: 0.0,
        reading_order: 1.0 - 10.0 / 351.0,
        tables: None,
    },
];

#[test]
fn vlm_answer_fixtures_score_as_expected() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("tests/data/vlm");
    let out = tmp.path().join("reports");
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    for e in FIXTURES {
        let s = score(
            root,
            &data,
            &data.join(format!("{}.jsonl", e.name)),
            &out,
            e.name,
            &["--output-format", "auto", "--types", e.doc_type],
        );
        let g = &s["groups"][0];
        let got = (
            g["cer"]["rate"].as_f64().unwrap(),
            g["order"]["rate"].as_f64().unwrap(),
            g["order"]["reading_order"].as_f64().unwrap(),
        );
        assert!(
            close(got.0, e.cer) && close(got.1, e.cer_unordered) && close(got.2, e.reading_order),
            "{}: CER / any-order CER / reading order = {got:?}",
            e.name
        );
        let tables = g["tables"].as_object().map(|t| {
            (
                t["teds"].as_f64().unwrap(),
                t["cell_accuracy"].as_f64().unwrap(),
            )
        });
        match (tables, e.tables) {
            (Some(t), Some(want)) => assert!(
                close(t.0, want.0) && close(t.1, want.1),
                "{}: TEDS / cell accuracy = {t:?}",
                e.name
            ),
            (None, None) => {}
            (t, want) => panic!("{}: tables {t:?}, expected {want:?}", e.name),
        }
    }
    // The Markdown and HTML reports show the table section.
    let md = std::fs::read_to_string(out.join("html_tables/report.md")).unwrap();
    assert!(md.contains("## Tables") && md.contains("96.00%"), "{md}");
    assert!(md.contains("CER (any order)"), "{md}");
}
