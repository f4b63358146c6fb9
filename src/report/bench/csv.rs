//! `bench.csv`: one row per request of every measurement, with the measurement's setting
//! repeated on each row so the file can be filtered and pivoted on its own. Empty cells are
//! metrics the request does not have (TPOT of a whole-text engine, queue time outside
//! `load`).

use crate::bench::{BenchReport, Sample};
use crate::engine::Stage;
use crate::report::{Exporter, ReportError};

pub const HEADER: [&str; 30] = [
    "engine",
    "scenario",
    "label",
    "batch_mode",
    "dpi",
    "batch_size",
    "pages_per_request",
    "rate",
    "window",
    "index",
    "iteration",
    "doc_id",
    "pages",
    "start_ms",
    "queue_ms",
    "ttft_ms",
    "tpot_ms",
    "e2e_ms",
    "itl_count",
    "itl_mean_ms",
    "output_tokens",
    "input_tokens",
    "cached_tokens",
    "decode_ms",
    "error",
    // load: the request's document scored (correct-and-on-time goodput); empty: unscored.
    "reference",
    "cer",
    "max_cer",
    "critical_errors",
    "counted",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn row(m: &crate::bench::Measurement, s: &Sample) -> Vec<String> {
    let t = &s.timing;
    let itl_mean =
        (!t.itl_ms.is_empty()).then(|| t.itl_ms.iter().sum::<f64>() / t.itl_ms.len() as f64);
    let mut row = vec![
        m.engine.clone(),
        m.scenario.to_string(),
        m.label.clone(),
        serde_json::to_value(m.batch_mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        m.params.dpi.to_string(),
        opt(m.params.batch_size),
        m.params.pages_per_request.to_string(),
        opt(m.params.rate),
        opt(m.params.window.map(|w| w.0)),
        s.index.to_string(),
        s.iteration.to_string(),
        s.doc_id.clone(),
        s.pages.to_string(),
        format!("{:.3}", s.start_ms),
        opt(s.queue_ms.map(|v| format!("{v:.3}"))),
        opt(t.ttft_ms.map(|v| format!("{v:.3}"))),
        opt(t.tpot_ms.map(|v| format!("{v:.4}"))),
        opt(t.e2e_ms.map(|v| format!("{v:.3}"))),
        t.itl_ms.len().to_string(),
        opt(itl_mean.map(|v| format!("{v:.4}"))),
        t.output_tokens.to_string(),
        opt(t.input_tokens),
        opt(t.cached_tokens),
        opt(s.stage_ms(Stage::Decode).map(|v| format!("{v:.3}"))),
        s.error.clone().unwrap_or_default(),
    ];
    let verdict = m
        .load
        .as_ref()
        .and_then(|l| l.correct.requests.iter().find(|v| v.index == s.index));
    row.extend(match verdict {
        Some(v) => [
            v.accuracy.reference.clone(),
            opt(v.accuracy.cer.map(|c| format!("{c:.6}"))),
            opt(v.accuracy.max_cer),
            v.accuracy.critical_errors.to_string(),
            v.counted.to_string(),
        ],
        None => Default::default(),
    });
    row
}

/// `bench.csv`.
pub struct BenchCsv;

impl Exporter<BenchReport> for BenchCsv {
    fn file_name(&self) -> String {
        "bench.csv".into()
    }

    fn render(&self, report: &BenchReport) -> Result<Vec<u8>, ReportError> {
        let err = |e: &dyn std::fmt::Display| ReportError::Encode {
            what: "bench.csv".into(),
            message: e.to_string(),
        };
        let mut w = ::csv::Writer::from_writer(Vec::new());
        w.write_record(HEADER).map_err(|e| err(&e))?;
        for m in &report.measurements {
            for s in &m.samples {
                w.write_record(row(m, s)).map_err(|e| err(&e))?;
            }
        }
        w.into_inner().map_err(|e| err(e.error()))
    }
}
