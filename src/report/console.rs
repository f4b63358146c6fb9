//! The console table: one row per (DPI, document type) and one PASS/FAIL line per type.
//! Returns a string; the CLI prints it.

use super::table::{Align, Table};
use super::{GroupResult, RunSummary};
use crate::sla::{Check, Status};
use std::fmt::Write;

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
/// p50/p95/p99 E2E, p50 TTFT, p50 TPOT, pages/s, tokens/s and a note that warns when the
/// p99 rests on fewer than 100 samples.
pub(crate) fn latency_row(g: &GroupResult) -> [String; 11] {
    let e = g.latency.e2e_ms.as_ref();
    let mut note = g.latency.note.clone().unwrap_or_default();
    if e.is_some_and(|e| e.count < 100) {
        if !note.is_empty() {
            note.push_str("; ");
        }
        note.push_str("p99 from < 100 samples");
    }
    [
        g.dpi.to_string(),
        g.doc_type.to_string(),
        e.map_or(0, |e| e.count).to_string(),
        ms(e.map(|e| e.p50)),
        ms(e.map(|e| e.p95)),
        ms(e.map(|e| e.p99)),
        ms(g.latency.ttft_ms.as_ref().map(|x| x.p50)),
        ms(g.latency.tpot_ms.as_ref().map(|x| x.p50)),
        g.throughput
            .pages_per_s
            .map_or("—".into(), |v| format!("{v:.2}")),
        g.throughput
            .tokens_per_s
            .map_or("—".into(), |v| format!("{v:.1}")),
        note,
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

/// The console report: one row per group, a PASS/FAIL line per verdict, the totals,
/// extraction and errors.
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
            ms(e2e.map(|s| s.p50)),
            ms(e2e.map(|s| s.p95)),
            ms(g.latency.ttft_ms.as_ref().map(|s| s.p50)),
        ]);
    }
    let mut out = t.console(true);
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
            v.status.label(),
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
                ms(p.p50_e2e_ms),
                ms(p.p95_e2e_ms),
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
    for t in &summary.dpi_study {
        let _ = writeln!(
            out,
            "{:<18} recommended DPI: {}",
            t.doc_type.to_string(),
            t.recommended_dpi
                .map_or("none meets the SLA".to_string(), |d| d.to_string())
        );
    }
    out
}
