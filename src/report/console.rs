//! The console table: one row per (DPI, document type) and one PASS/FAIL line per type.
//! Returns a string; the CLI prints it.

use super::table::{Align, Table};
use super::{GroupResult, RunSummary};
use crate::sla::{Check, Status};
use crate::stats::Summary;
use std::fmt::Write;

/// Marks a percentile that rests on too few samples (`stats::sample`'s rule).
pub(crate) const LOW_SAMPLE_MARK: &str = "†";

/// The legend of [`LOW_SAMPLE_MARK`], shown under every table of percentiles.
pub(crate) const LOW_SAMPLE_LEGEND: &str = "† percentile from too few samples: pNN needs n ≥ ⌈1 / (1 − NN/100)⌉ (p50 2, p90 10, p95 20, p99 100).";

/// A percentile in ms, followed by [`LOW_SAMPLE_MARK`] when it rests on too few samples.
pub(crate) fn pms(v: Option<f64>, low_sample: bool) -> String {
    match v {
        Some(_) if low_sample => format!("{}{LOW_SAMPLE_MARK}", ms(v)),
        _ => ms(v),
    }
}

/// Which percentile of a [`Summary`] a cell shows.
#[derive(Clone, Copy)]
pub(crate) enum Pct {
    P50,
    P95,
    P99,
}

/// One percentile of a summary in ms, marked when it rests on too few samples.
pub(crate) fn pct_ms(s: Option<&Summary>, which: Pct) -> String {
    let Some(s) = s else { return ms(None) };
    let (v, low) = match which {
        Pct::P50 => (s.p50, s.p50_low_sample),
        Pct::P95 => (s.p95, s.p95_low_sample),
        Pct::P99 => (s.p99, s.p99_low_sample),
    };
    pms(Some(v), low)
}

/// A group's "insufficient sample" mark, or an empty string.
pub(crate) fn sample_mark(g: &GroupResult) -> String {
    g.sample.and_then(|s| s.mark()).unwrap_or_default()
}

/// The run's overall status as the reports headline it: `PASS`, `FAIL`, and
/// ` (insufficient sample)` when a type has fewer documents than its minimum.
pub(crate) fn overall(s: &RunSummary) -> String {
    let status = if s.any_failed() { "FAIL" } else { "PASS" };
    if s.any_insufficient_sample() {
        format!("{status} (insufficient sample)")
    } else {
        status.to_string()
    }
}

pub(crate) fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.2}%", v * 100.0))
        .unwrap_or_else(|| "—".into())
}

pub(crate) fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 10_000.0 => format!("{:.1} s", v / 1e3),
        Some(v) => format!("{v:.0} ms"),
        None => "—".into(),
    }
}

/// A check's measured value in the limit's unit: ms, a count, or a percentage.
pub(crate) fn measured(c: &Check) -> String {
    match c.measured {
        None => "—".into(),
        Some(m) if c.key.starts_with("latency") => ms(Some(m)),
        Some(m) if c.key == "accuracy.max_critical_errors" => format!("{m:.0}"),
        Some(m) => pct(Some(m)),
    }
}

/// The cells of one row of the latency table (report.md and report.html): DPI, type, n,
/// p50/p95/p99 E2E, p50 TTFT, p50 TPOT (each marked † on too few samples), pages/s,
/// tokens/s and a note: the engine's, and the group's "insufficient sample" mark.
pub(crate) fn latency_row(g: &GroupResult) -> [String; 11] {
    let e = g.latency.e2e_ms.as_ref();
    let note: Vec<String> = [g.latency.note.clone().unwrap_or_default(), sample_mark(g)]
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect();
    [
        g.dpi.to_string(),
        g.doc_type.to_string(),
        e.map_or(0, |e| e.count).to_string(),
        pct_ms(e, Pct::P50),
        pct_ms(e, Pct::P95),
        pct_ms(e, Pct::P99),
        pct_ms(g.latency.ttft_ms.as_ref(), Pct::P50),
        pct_ms(g.latency.tpot_ms.as_ref(), Pct::P50),
        g.throughput
            .pages_per_s
            .map_or("—".into(), |v| format!("{v:.2}")),
        g.throughput
            .tokens_per_s
            .map_or("—".into(), |v| format!("{v:.1}")),
        note.join("; "),
    ]
}

/// Lowest accuracy over the group's field types, with its name.
pub(crate) fn worst_field(g: &GroupResult) -> String {
    g.fields
        .iter()
        .filter_map(|f| f.accuracy.map(|a| (f.field_type.as_str(), a)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(k, a)| format!("{:.1}% {k}", a * 100.0))
        .unwrap_or_else(|| "—".into())
}

/// The console report: one row per group, a PASS/FAIL line per verdict (marked
/// "insufficient sample" on too few documents), the totals, extraction and errors.
pub fn table(summary: &RunSummary) -> String {
    use Align::{Left as L, Right as R};
    let mut t = Table::new([
        ("DPI", R),
        ("type", L),
        ("docs", R),
        ("fail", R),
        ("CER", R),
        ("WER", R),
        ("any-order", R),
        ("order", R),
        ("worst field", L),
        ("critical", R),
        ("p50 E2E", R),
        ("p95 E2E", R),
        ("p50 TTFT", R),
    ]);
    for g in &summary.groups {
        let e2e = g.latency.e2e_ms.as_ref();
        t.row([
            format!("{}", g.dpi),
            g.doc_type.to_string(),
            g.documents.to_string(),
            g.failed.to_string(),
            pct(g.cer.rate),
            pct(g.wer.rate),
            pct(g.cer_unordered()),
            pct(g.reading_order()),
            worst_field(g),
            g.clinical.critical.to_string(),
            pct_ms(e2e, Pct::P50),
            pct_ms(e2e, Pct::P95),
            pct_ms(g.latency.ttft_ms.as_ref(), Pct::P50),
        ]);
    }
    let mut out = t.console(true);
    let _ = writeln!(out, "{LOW_SAMPLE_LEGEND}");
    for g in summary.groups.iter().filter(|g| !sample_mark(g).is_empty()) {
        let _ = writeln!(out, "{} @ {} DPI: {}", g.doc_type, g.dpi, sample_mark(g));
    }
    out.push('\n');
    for gv in &summary.verdicts {
        let v = &gv.verdict;
        let failed: Vec<String> = v
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| format!("{} (got {})", c.limit, measured(c)))
            .collect();
        let _ = writeln!(
            out,
            "{}  {:<18} @ {} DPI{}",
            v.label(),
            v.doc_type.to_string(),
            gv.dpi,
            if failed.is_empty() {
                String::new()
            } else {
                format!("  — {}", failed.join("; "))
            }
        );
    }
    let t = &summary.totals;
    let _ = writeln!(
        out,
        "\n{} documents ({} failed), {} pages in {:.1} s; corpus CER {}, WER {}",
        t.documents,
        t.failed,
        t.pages,
        t.wall_time_s,
        pct(t.cer.rate),
        pct(t.wer.rate)
    );
    extraction(&mut out, summary);
    errors(&mut out, summary);
    out
}

/// `--task extract`: one line per group.
fn extraction(out: &mut String, summary: &RunSummary) {
    for g in &summary.groups {
        let Some(x) = &g.extraction else { continue };
        let _ = writeln!(
            out,
            "extraction {:<18} @ {} DPI: {} / {} fields right ({}), {} critical, {} of {} answers unreadable",
            g.doc_type.to_string(),
            g.dpi,
            x.right,
            x.total,
            pct(x.accuracy),
            x.clinical.critical,
            x.failed,
            x.documents
        );
    }
}

/// Errors shown on the console before the rest are left to report.md.
const CONSOLE_ERRORS: usize = 10;

/// The error rate by kind and the first failed documents with their messages.
fn errors(out: &mut String, summary: &RunSummary) {
    let t = &summary.totals;
    if t.failed == 0 {
        return;
    }
    let kinds: Vec<String> = t
        .errors_by_kind
        .iter()
        .map(|(k, n)| format!("{} {n}", k.as_str()))
        .collect();
    let _ = writeln!(
        out,
        "errors: {} of {} ({}): {} — each counts as a failed request",
        t.failed,
        t.documents,
        pct(t.error_rate),
        kinds.join(", ")
    );
    for e in summary.errors.iter().take(CONSOLE_ERRORS) {
        let _ = writeln!(
            out,
            "  {:<8} {} @ {} DPI: {}",
            e.kind.as_str(),
            e.id,
            e.dpi,
            e.message
        );
    }
    if summary.errors.len() > CONSOLE_ERRORS {
        let _ = writeln!(
            out,
            "  … {} more in report.md",
            summary.errors.len() - CONSOLE_ERRORS
        );
    }
}

/// The DPI study of a multi-DPI run: one row per (type, DPI), the recommended DPI per type.
pub fn dpi_study(summary: &RunSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "DPI study ({}): * = Pareto front of (CER, p95 E2E), => = lowest DPI meeting the SLA",
        summary.config.engine.name
    );
    let mut table = Table::new(
        [
            "type",
            "DPI",
            "CER",
            "worst field",
            "critical",
            "p50 E2E",
            "p95 E2E",
            "peak RSS",
            "px/page",
            "tokens/page",
            "SLA",
        ]
        .into_iter()
        .enumerate()
        .map(|(i, name)| (name, if i == 0 { Align::Left } else { Align::Right })),
    );
    for t in &summary.dpi_study {
        for p in &t.points {
            let mark = if Some(p.dpi) == t.recommended_dpi {
                "=>"
            } else {
                ""
            };
            table.row([
                t.doc_type.to_string(),
                format!("{mark}{}{}", p.dpi, if p.pareto { "*" } else { "" }),
                pct(p.cer),
                pct(p.worst_field_accuracy),
                p.critical_errors.to_string(),
                pms(p.p50_e2e_ms, p.p50_e2e_low_sample),
                pms(p.p95_e2e_ms, p.p95_e2e_low_sample),
                p.resources
                    .peak_rss_mib
                    .map_or("—".into(), |m| format!("{m:.0} MiB")),
                p.resources
                    .pixels_per_page
                    .map_or("—".into(), |v| format!("{:.1} MP", v / 1e6)),
                p.resources
                    .image_tokens_per_page
                    .map_or("—".into(), |v| format!("{v:.0}")),
                p.sla.map_or("—", |s| s.label()).to_string(),
            ]);
        }
    }
    out.push_str(&table.console(false));
    let _ = writeln!(out, "{LOW_SAMPLE_LEGEND}");
    for t in &summary.dpi_study {
        let _ = writeln!(
            out,
            "{:<18} recommended DPI: {}{}",
            t.doc_type.to_string(),
            t.recommended_dpi
                .map_or("none meets the SLA".to_string(), |d| d.to_string()),
            study_mark(t)
        );
    }
    out
}

/// A DPI study's "insufficient sample" mark as a suffix (` (insufficient sample: …)`).
pub(crate) fn study_mark(t: &super::DpiStudy) -> String {
    t.sample
        .and_then(|s| s.mark())
        .map(|m| format!(" ({m})"))
        .unwrap_or_default()
}
