//! The engine-comparison table of a bench: per setting, one row of headline figures per
//! engine. Computed here, in the bench library, so the exporters and the console only
//! format it.

use super::{BatchMode, BenchReport, Measurement};
use serde::Serialize;

/// One engine's figures at one setting: a row of the engine-comparison table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonRow {
    pub label: String,
    pub engine: String,
    pub batch_mode: BatchMode,
    pub n: usize,
    pub failed: usize,
    /// The measurement was stopped before all its requests ran.
    pub partial: bool,
    pub e2e_p50_ms: Option<f64>,
    pub e2e_p99_ms: Option<f64>,
    pub ttft_p50_ms: Option<f64>,
    pub tpot_p50_ms: Option<f64>,
    pub tokens_per_s: f64,
    pub pages_per_s: f64,
    pub peak_rss_mib: Option<f64>,
}

impl ComparisonRow {
    fn of(m: &Measurement) -> Self {
        let p = |s: &Option<super::MetricStats>, f: fn(&crate::stats::Summary) -> f64| {
            s.as_ref().map(|s| f(&s.summary))
        };
        ComparisonRow {
            label: m.label.clone(),
            engine: m.engine.clone(),
            batch_mode: m.batch_mode,
            n: m.samples.len() - m.failed,
            failed: m.failed,
            partial: m.partial,
            e2e_p50_ms: p(&m.latency.e2e_ms, |s| s.p50),
            e2e_p99_ms: p(&m.latency.e2e_ms, |s| s.p99),
            ttft_p50_ms: p(&m.latency.ttft_ms, |s| s.p50),
            tpot_p50_ms: p(&m.latency.tpot_ms, |s| s.p50),
            tokens_per_s: m.throughput.tokens_per_s,
            pages_per_s: m.throughput.pages_per_s,
            peak_rss_mib: m.resources.peak_rss_mib,
        }
    }
}

/// The engine-comparison table: for each setting (in first-seen order), one row per engine
/// measured at it, engines in the report's order.
pub fn compare_engines(report: &BenchReport) -> Vec<ComparisonRow> {
    let mut labels: Vec<&str> = Vec::new();
    for m in &report.measurements {
        if !labels.contains(&m.label.as_str()) {
            labels.push(&m.label);
        }
    }
    let mut rows = Vec::new();
    for label in labels {
        for e in &report.engines {
            if let Some(m) = report
                .measurements
                .iter()
                .find(|m| m.label == label && m.engine == e.info.name)
            {
                rows.push(ComparisonRow::of(m));
            }
        }
    }
    rows
}
