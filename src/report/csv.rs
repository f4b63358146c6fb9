//! `documents.csv`: one row per document × DPI, numbers only (no text, no identifiers
//! beyond the document id). Each row also carries its (DPI, type) group's sample size
//! against its minimum, so a spreadsheet shows which rows come from too few documents.

use super::{DocumentResult, Exporter, GroupResult, ReportError, Run};
use crate::engine::Stage;

const STAGES: [Stage; 6] = [
    Stage::Render,
    Stage::Preprocess,
    Stage::Detect,
    Stage::Encode,
    Stage::Decode,
    Stage::Postprocess,
];

/// `documents.csv`.
pub struct DocumentsCsv;

impl Exporter<Run<'_>> for DocumentsCsv {
    fn file_name(&self) -> String {
        "documents.csv".into()
    }

    fn render(&self, run: &Run) -> Result<Vec<u8>, ReportError> {
        documents(run.documents, &run.summary.groups)
    }
}

/// The rows of `documents`, each with the sample columns of its group in `groups`.
pub fn documents(
    documents: &[DocumentResult],
    groups: &[GroupResult],
) -> Result<Vec<u8>, ReportError> {
    let enc = |e: csv::Error| ReportError::Encode {
        what: "documents.csv".into(),
        message: e.to_string(),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header()).map_err(enc)?;
    for d in documents {
        let group = groups
            .iter()
            .find(|g| g.doc_type == d.doc_type && g.dpi == d.dpi);
        let mut cells = row(d);
        cells.extend(sample_cells(group));
        w.write_record(cells).map_err(enc)?;
    }
    w.into_inner().map_err(|e| ReportError::Encode {
        what: "documents.csv".into(),
        message: e.to_string(),
    })
}

/// The column names: identity, scores, timing, one column per stage, clinical and
/// extraction figures.
fn header() -> Vec<String> {
    let mut header: Vec<String> = [
        "id",
        "doc_type",
        "dpi",
        "source_kind",
        "pages",
        "pixels",
        "ok",
        "error",
        "error_kind",
        "cer",
        "cer_no_space",
        "cer_jamo",
        "wer",
        "char_s",
        "char_d",
        "char_i",
        "char_n",
        "word_s",
        "word_d",
        "word_i",
        "word_n",
        "fields_total",
        "fields_correct",
        "ttft_ms",
        "e2e_ms",
        "tpot_ms",
        "output_tokens",
        "input_tokens",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(STAGES.iter().map(|s| format!("{}_ms", serde_plain(s))));
    header.extend(
        [
            "critical_errors",
            "peak_rss_mib",
            "pages_without_usage",
            "cer_unordered",
            "reading_order",
            "extract_fields_right",
            "extract_fields_total",
            "extract_critical_errors",
            "extract_error_kind",
            "extract_e2e_ms",
            "type_documents",
            "type_min_documents",
            "insufficient_sample",
        ]
        .map(String::from),
    );
    header
}

/// The group's documents, their minimum and whether they are too few (empty without a
/// group, as for a run written before the mark existed).
fn sample_cells(group: Option<&GroupResult>) -> [String; 3] {
    match group.and_then(|g| g.sample) {
        Some(s) => [
            s.documents.to_string(),
            s.minimum.to_string(),
            s.insufficient.to_string(),
        ],
        None => Default::default(),
    }
}

/// A number with six decimals, empty when absent.
fn opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.6}")).unwrap_or_default()
}

/// One document × DPI, in [`header`]'s order.
fn row(d: &DocumentResult) -> Vec<String> {
    let s = &d.score;
    let located: Vec<_> = s.fields.iter().filter(|f| f.located).collect();
    let mut row = vec![
        d.id.clone(),
        d.doc_type.to_string(),
        format!("{}", d.dpi),
        d.source_kind.clone(),
        d.pages.to_string(),
        d.pixels.to_string(),
        d.error.is_none().to_string(),
        d.error.clone().unwrap_or_default(),
        d.error_kind
            .map(|k| k.as_str())
            .unwrap_or_default()
            .to_string(),
        opt(s.cer.rate),
        opt(s.cer_no_space.rate),
        opt(s.cer_jamo.rate),
        opt(s.wer.rate),
        s.cer.substitutions.to_string(),
        s.cer.deletions.to_string(),
        s.cer.insertions.to_string(),
        s.cer.ref_len.to_string(),
        s.wer.substitutions.to_string(),
        s.wer.deletions.to_string(),
        s.wer.insertions.to_string(),
        s.wer.ref_len.to_string(),
        located.len().to_string(),
        located.iter().filter(|f| f.correct).count().to_string(),
        opt(d.timing.ttft_ms),
        opt(d.timing.e2e_ms),
        opt(d.timing.tpot_ms),
        d.timing.output_tokens.to_string(),
        d.timing
            .input_tokens
            .map(|n| n.to_string())
            .unwrap_or_default(),
    ];
    row.extend(
        STAGES
            .iter()
            .map(|st| opt(d.timing.stages_ms.get(st).copied())),
    );
    let critical = s
        .fields
        .iter()
        .filter_map(|f| f.error.as_ref())
        .filter(|e| e.severity == crate::score::Severity::Critical)
        .count();
    row.push(critical.to_string());
    row.push(opt(d.peak_rss_mib));
    row.push(d.timing.pages_without_usage.to_string());
    row.push(opt(s.order.and_then(|o| o.rate)));
    row.push(opt(s.order.and_then(|o| o.reading_order)));
    // Extraction columns stay empty for a transcription-only run.
    match &d.extraction {
        Some(e) => {
            let (right, total) = e.right_of_total();
            row.push(right.to_string());
            row.push(total.to_string());
            row.push(e.critical().to_string());
            row.push(e.error_kind.map(|k| k.as_str()).unwrap_or_default().into());
            row.push(opt(e.e2e_ms));
        }
        None => row.extend(std::iter::repeat_n(String::new(), 5)),
    }
    row
}

/// The serde name of a unit enum variant (`Stage::Render` → `render`).
fn serde_plain(stage: &Stage) -> String {
    serde_json::to_value(stage)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
