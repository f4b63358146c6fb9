//! The console table, `compare.md` and `compare.json` of a comparison, through the
//! report layer: exporters ([`CompareJson`], [`CompareMarkdown`]), its table model and its
//! Markdown escaper (strings; the CLI prints).

use super::gate::{Direction, Margins, Verdict};
use super::metrics::{GroupComparison, MetricComparison, MetricKind};
use super::{Comparison, Pairing, RunInfo};
use crate::report::console::{LOW_SAMPLE_LEGEND, LOW_SAMPLE_MARK};
use crate::report::escape;
use crate::report::export::pretty_json;
use crate::report::table::{Align, Cell, Table};
use crate::report::{Exporter, ReportError};
use crate::sla::SamplePolicy;
use crate::stats::ConfidenceInterval;
use std::fmt::Write;

/// `compare.json`: the whole comparison.
pub struct CompareJson;

impl Exporter<Comparison> for CompareJson {
    fn file_name(&self) -> String {
        "compare.json".into()
    }

    fn render(&self, c: &Comparison) -> Result<Vec<u8>, ReportError> {
        pretty_json("compare.json", c)
    }
}

/// `compare.md`.
pub struct CompareMarkdown;

impl Exporter<Comparison> for CompareMarkdown {
    fn file_name(&self) -> String {
        "compare.md".into()
    }

    fn render(&self, c: &Comparison) -> Result<Vec<u8>, ReportError> {
        Ok(markdown(c).into_bytes())
    }
}

fn value(kind: MetricKind, v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if kind.is_rate() => format!("{:.2}%", v * 100.0),
        Some(v) if kind.is_latency() => format!("{v:.0} ms"),
        Some(v) => format!("{v:.3}"),
    }
}

/// One side's value, marked † when it is a percentile of too few pairs.
fn side_value(m: &MetricComparison, v: Option<f64>) -> String {
    match v {
        Some(_) if m.low_sample => format!("{}{LOW_SAMPLE_MARK}", value(m.metric, v)),
        _ => value(m.metric, v),
    }
}

/// Whether any shown value of `groups` carries the † (then the legend goes under it).
fn any_low_sample<'a>(groups: impl IntoIterator<Item = &'a GroupComparison>) -> bool {
    groups
        .into_iter()
        .flat_map(|g| &g.metrics)
        .any(|m| m.low_sample && (m.baseline.is_some() || m.candidate.is_some()))
}

fn signed(kind: MetricKind, v: f64) -> String {
    if kind.is_rate() {
        format!("{:+.2}", v * 100.0)
    } else if kind.is_latency() {
        format!("{v:+.0}")
    } else {
        format!("{v:+.3}")
    }
}

fn unit(kind: MetricKind) -> &'static str {
    if kind.is_rate() {
        " pp"
    } else if kind.is_latency() {
        " ms"
    } else {
        ""
    }
}

fn delta(kind: MetricKind, d: Option<f64>) -> String {
    d.map(|d| format!("{}{}", signed(kind, d), unit(kind)))
        .unwrap_or_else(|| "—".into())
}

fn interval(kind: MetricKind, ci: Option<&ConfidenceInterval>) -> String {
    ci.map(|ci| {
        format!(
            "[{}, {}]{}",
            signed(kind, ci.lower),
            signed(kind, ci.upper),
            unit(kind)
        )
    })
    .unwrap_or_else(|| "—".into())
}

/// The tolerated change: `≤ +0.20 pp`, `≥ -1.00 pp`, `≤ +10% (+268 ms)`.
fn margin(m: &MetricComparison, margins: &Margins) -> String {
    let Some(abs) = m.margin else {
        return "—".into();
    };
    let harm = match m.direction {
        Direction::HigherIsWorse => format!("≤ {}", signed(m.metric, abs)),
        Direction::LowerIsWorse => format!("≥ {}", signed(m.metric, -abs)),
    };
    let pct = match m.metric {
        MetricKind::E2eP95 => Some(margins.p95_e2e),
        MetricKind::TtftP95 => Some(margins.p95_ttft),
        _ => None,
    };
    match pct {
        Some(p) => format!("≤ +{p}% ({}{})", signed(m.metric, abs), unit(m.metric)),
        None => format!("{harm}{}", unit(m.metric)),
    }
}

fn run_line(r: &RunInfo) -> String {
    let dpis = r
        .dpis
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let engine = if r.engine_version.starts_with(&r.engine) {
        r.engine_version.clone()
    } else {
        format!("{} {}", r.engine, r.engine_version)
    };
    format!(
        "{} ({engine}, {} DPI{})",
        r.run_id,
        dpis,
        if r.timed { "" } else { ", untimed" }
    )
}

fn pairing_line(c: &Comparison) -> String {
    match &c.pairing {
        Pairing::Id {
            baseline_dpi,
            candidate_dpi,
        } => format!(
            "{} documents paired by id ({baseline_dpi} DPI vs {candidate_dpi} DPI)",
            c.documents
        ),
        Pairing::IdAndDpi { dpis } => format!(
            "{} documents paired by id and DPI ({} pairs at {} DPI)",
            c.documents,
            c.pairs,
            dpis.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn margins_line(m: &Margins) -> String {
    format!(
        "CER +{} pp, WER +{} pp, field accuracy -{} pp, critical/doc +{}, p95 E2E +{}%, p95 TTFT +{}%",
        m.cer, m.wer, m.field_accuracy, m.critical_per_document, m.p95_e2e, m.p95_ttft
    )
}

fn row(g: &GroupComparison, m: &MetricComparison, margins: &Margins) -> [String; 8] {
    [
        g.group.clone(),
        m.metric.label(),
        side_value(m, m.baseline),
        side_value(m, m.candidate),
        delta(m.metric, m.delta),
        interval(m.metric, m.ci.as_ref()),
        margin(m, margins),
        m.verdict.to_string(),
    ]
}

const HEADER: [&str; 8] = [
    "group",
    "metric",
    "baseline",
    "candidate",
    "Δ",
    "95% CI of Δ",
    "margin",
    "verdict",
];

/// Counts of the gated metrics' verdicts: (gated, better, same, worse within, FAIL) and
/// the metrics not measured.
fn tally(c: &Comparison) -> ([usize; 5], usize) {
    let mut t = [0; 5];
    let mut not_measured = 0;
    for m in c.groups.iter().flat_map(|g| &g.metrics) {
        if m.verdict == Verdict::NotMeasured {
            not_measured += 1;
            continue;
        }
        if m.margin.is_none() {
            continue;
        }
        t[0] += 1;
        match m.verdict {
            Verdict::Better => t[1] += 1,
            Verdict::Same => t[2] += 1,
            Verdict::WorseWithinMargin => t[3] += 1,
            Verdict::Fail => t[4] += 1,
            Verdict::Worse | Verdict::NotMeasured => {}
        }
    }
    (t, not_measured)
}

/// `PASS` or `FAIL`, with ` (insufficient sample)` when a document type has too few
/// documents (as a run's overall status reads).
fn status(c: &Comparison) -> String {
    let status = if c.passed { "PASS" } else { "FAIL" };
    if c.any_insufficient_sample() {
        format!("{status} (insufficient sample)")
    } else {
        status.to_string()
    }
}

fn gate_line(c: &Comparison) -> String {
    let ([gated, better, same, within, fail], not_measured) = tally(c);
    format!(
        "GATE {}: {gated} gated metrics, {fail} FAIL ({better} better, {same} same, {within} worse within margin){}",
        status(c),
        if not_measured > 0 {
            format!("; {not_measured} not measured")
        } else {
            String::new()
        }
    )
}

fn failure_line(g: &GroupComparison, m: &MetricComparison, margins: &Margins) -> String {
    format!(
        "FAIL  {} {}: Δ {}, {}% CI {} crosses the margin {}",
        g.group,
        m.metric.label(),
        delta(m.metric, m.delta),
        m.ci.map(|ci| format!("{:.0}", ci.confidence * 100.0))
            .unwrap_or_default(),
        interval(m.metric, m.ci.as_ref()),
        margin(m, margins)
    )
}

fn no_difference_line(c: &Comparison) -> Option<String> {
    c.identical_scores.then(|| {
        format!(
            "no difference in accuracy: all {} paired documents score identically in both runs",
            c.documents
        )
    })
}

/// The console report: settings, one table of metrics, failures, regressions, verdict.
pub fn console(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "baseline   {}", run_line(&c.baseline));
    let _ = writeln!(out, "candidate  {}", run_line(&c.candidate));
    let _ = writeln!(out, "dataset    {} — {}", c.dataset, pairing_line(c));
    let _ = writeln!(
        out,
        "bootstrap  {} paired resamples over documents, {:.0}% CI, seed {}; margins: {}",
        c.settings.resamples,
        c.settings.confidence * 100.0,
        c.settings.seed,
        margins_line(&c.settings.margins)
    );
    out.push('\n');
    out.push_str(&console_table(c).console(true));
    if any_low_sample(&c.groups) {
        let _ = writeln!(out, "{LOW_SAMPLE_LEGEND}");
    }
    out.push('\n');
    console_verdicts(&mut out, c);
    out
}

/// The metrics the console shows: every metric of `all`; per document type (when there
/// are several) only the latencies measured and the field accuracies that got worse.
fn console_table(c: &Comparison) -> Table {
    use Align::{Left as L, Right as R};
    let align = [L, L, R, R, R, R, R, L];
    let mut t = Table::new(HEADER.into_iter().zip(align));
    let types = c.groups.iter().filter(|g| g.doc_type.is_some()).count();
    for g in &c.groups {
        if g.doc_type.is_some() && types == 1 {
            continue; // the same documents as `all`
        }
        for m in &g.metrics {
            let shown = g.doc_type.is_none()
                || !matches!(m.metric, MetricKind::FieldAccuracy(_))
                || matches!(
                    m.verdict,
                    Verdict::Fail | Verdict::WorseWithinMargin | Verdict::Worse
                );
            let latency_unmeasured =
                g.doc_type.is_some() && m.metric.is_latency() && m.verdict == Verdict::NotMeasured;
            if shown && !latency_unmeasured {
                t.row(row(g, m, &c.settings.margins));
            }
        }
    }
    t
}

/// Unpaired documents, failed gates per group, the most regressed documents and the gate.
fn console_verdicts(out: &mut String, c: &Comparison) {
    let u = &c.unmatched;
    for (what, ids) in [
        ("only in the baseline", &u.baseline_only),
        ("only in the candidate", &u.candidate_only),
        ("not in the dataset", &u.not_in_dataset),
    ] {
        if !ids.is_empty() {
            let _ = writeln!(out, "{} {what} (left out): {}", ids.len(), list_ids(ids, 8));
        }
    }
    for g in &c.groups {
        let failed: Vec<String> = g
            .metrics
            .iter()
            .filter(|m| m.verdict == Verdict::Fail)
            .map(|m| m.metric.label())
            .collect();
        if !failed.is_empty() {
            let _ = writeln!(out, "FAIL  {:<18} {}", g.group, failed.join(", "));
        }
    }
    for g in &c.groups {
        if let Some(mark) = g.sample_mark() {
            let _ = writeln!(out, "{}: {mark}", g.group);
        }
    }
    if !c.regressions.is_empty() {
        let list: Vec<String> = c
            .regressions
            .iter()
            .map(|r| {
                format!(
                    "{} ({:.2}% → {:.2}%)",
                    r.id,
                    r.baseline_cer * 100.0,
                    r.candidate_cer * 100.0
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "most regressed (CER): {} — aligned lines in compare.md",
            list.join(", ")
        );
    }
    if let Some(l) = no_difference_line(c) {
        let _ = writeln!(out, "{l}");
    }
    let _ = writeln!(out, "{}", gate_line(c));
}

fn list_ids(ids: &[String], max: usize) -> String {
    let mut s = ids.iter().take(max).cloned().collect::<Vec<_>>().join(", ");
    if ids.len() > max {
        let _ = write!(s, ", … ({} more)", ids.len() - max);
    }
    s
}

/// `compare.md`: everything of `compare.json`, for a reviewer.
pub fn markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Release gate: {} vs {} — {}\n",
        c.baseline.run_id,
        c.candidate.run_id,
        status(c)
    );
    let _ = writeln!(out, "{}", settings(c).markdown());
    let _ = writeln!(out, "{}\n", gate_line(c));
    if let Some(l) = no_difference_line(c) {
        let _ = writeln!(out, "{l}.\n");
    }
    let failures = c.failures();
    if !failures.is_empty() {
        let _ = writeln!(out, "## Failed gates\n");
        for (g, m) in failures {
            let _ = writeln!(out, "- `{}`", failure_line(g, m, &c.settings.margins));
        }
        out.push('\n');
    }
    unpaired(&mut out, c);
    metrics(&mut out, c);
    regressions(&mut out, c);
    out
}

/// The two runs, the dataset, pairing, scoring, bootstrap and margins.
fn settings(c: &Comparison) -> Table {
    let code = |s: &str| format!("`{}`", escape::markdown_code(s));
    let mut t = Table::left(["", ""]);
    t.row(["baseline".into(), Cell::from(run_line(&c.baseline))]);
    t.row(["candidate".into(), Cell::from(run_line(&c.candidate))]);
    t.row([
        "dataset".into(),
        Cell::Raw(format!(
            "{} (manifest sha256 {})",
            code(&c.dataset),
            code(&c.manifest_sha256)
        )),
    ]);
    t.row(["pairing".into(), Cell::from(pairing_line(c))]);
    t.row([
        "scoring".into(),
        Cell::Raw(format!(
            "both runs re-scored; fold width: {}; formulary: {}; codes: {}",
            c.settings.fold_width,
            code(&c.settings.formulary),
            code(&c.settings.codes)
        )),
    ]);
    t.row([
        "bootstrap".into(),
        Cell::from(format!(
            "{} paired resamples over documents, {:.0}% percentile interval, ChaCha8 seed {}",
            c.settings.resamples,
            c.settings.confidence * 100.0,
            c.settings.seed
        )),
    ]);
    t.row([
        "margins".into(),
        Cell::from(margins_line(&c.settings.margins)),
    ]);
    t
}

/// Documents left out because only one side (or neither dataset) has them.
fn unpaired(out: &mut String, c: &Comparison) {
    let u = &c.unmatched;
    if u.baseline_only.is_empty() && u.candidate_only.is_empty() && u.not_in_dataset.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Unpaired documents (left out)\n");
    for (what, ids) in [
        ("only in the baseline", &u.baseline_only),
        ("only in the candidate", &u.candidate_only),
        ("not in the dataset", &u.not_in_dataset),
    ] {
        if !ids.is_empty() {
            let _ = writeln!(out, "- {what} ({}): {}", ids.len(), list_ids(ids, 50));
        }
    }
    out.push('\n');
}

/// One table of every metric per group.
fn metrics(out: &mut String, c: &Comparison) {
    use Align::{Left as L, Right as R};
    let _ = writeln!(
        out,
        "## Metrics\n\nΔ = candidate − baseline; rates in percent, differences in percentage points (pp).\n"
    );
    let align = [L, R, R, R, R, R, L];
    for g in &c.groups {
        let _ = writeln!(
            out,
            "### {} ({} documents, {} pairs){}\n",
            g.group,
            g.documents,
            g.pairs,
            g.sample_mark()
                .map(|m| format!(" — {m}"))
                .unwrap_or_default()
        );
        let mut t = Table::new(HEADER[1..].iter().copied().zip(align));
        for m in &g.metrics {
            t.row(row(g, m, &c.settings.margins).into_iter().skip(1));
        }
        let _ = writeln!(out, "{}", t.markdown());
        if any_low_sample([g]) {
            let _ = writeln!(out, "{LOW_SAMPLE_LEGEND}\n");
        }
    }
}

/// The documents that regressed most, with their most changed lines aligned.
fn regressions(out: &mut String, c: &Comparison) {
    if c.regressions.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Documents that regressed most\n\nRanked by Δ edits / N of the CER; per document the lines where the candidate made the most extra edits ({}).\n",
        if c.settings.phi_shown {
            "patient identifiers shown (--show-phi)"
        } else {
            "patient identifiers masked"
        }
    );
    for r in &c.regressions {
        let _ = writeln!(
            out,
            "### {} ({}, {} → {} DPI): CER {:.2}% → {:.2}% ({:+.2} pp)\n",
            r.id,
            r.doc_type,
            r.baseline_dpi,
            r.candidate_dpi,
            r.baseline_cer * 100.0,
            r.candidate_cer * 100.0,
            r.delta * 100.0
        );
        if let Some(e) = &r.candidate_error {
            let _ = writeln!(out, "The candidate failed on it: {}\n", escape::markdown(e));
        }
        if r.lines.is_empty() {
            continue;
        }
        let _ = writeln!(out, "~~~text");
        for l in &r.lines {
            let _ = writeln!(out, "reference  {}", l.reference);
            let _ = writeln!(
                out,
                "baseline   {}   [{} edits]",
                l.baseline, l.baseline_edits
            );
            let _ = writeln!(
                out,
                "candidate  {}   [{} edits]\n",
                l.candidate, l.candidate_edits
            );
        }
        let _ = writeln!(out, "~~~\n");
    }
}

/// The gates as JUnit XML (`compare --junit`): one test suite per group (`all`, then each
/// document type), one test case per metric. A failed gate is a failure whose message has
/// both sides, the difference, its interval and the margin; a metric without a margin
/// passes (it is shown, never gated) and an unmeasured one is skipped. Each document
/// type's suite also has a `sample.min_documents` case, as a run's JUnit has: skipped on
/// too few documents under `policy` warn, failed under fail.
pub fn junit(c: &Comparison, policy: SamplePolicy) -> Result<String, crate::report::ReportError> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let margins = &c.settings.margins;
    let mut report = Report::new("medocr compare");
    for g in &c.groups {
        let mut suite = TestSuite::new(format!("compare: {}", g.group));
        suite.add_property(("baseline", c.baseline.run_id.as_str()));
        suite.add_property(("candidate", c.candidate.run_id.as_str()));
        for m in &g.metrics {
            let k = m.metric;
            let text = format!(
                "{}: baseline {}, candidate {}, Δ {} {}, margin {}",
                k.key(),
                side_value(m, m.baseline),
                side_value(m, m.candidate),
                delta(k, m.delta),
                interval(k, m.ci.as_ref()),
                margin(m, margins)
            );
            let status = match m.verdict {
                Verdict::Fail => {
                    let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    st.set_type("non-inferiority").set_message(text.clone());
                    st
                }
                Verdict::NotMeasured => {
                    let mut st = TestCaseStatus::skipped();
                    st.set_message(format!("{}: not measured on one side", k.key()));
                    st
                }
                _ => TestCaseStatus::success(),
            };
            let mut case = TestCase::new(k.key(), status);
            case.set_classname(format!("compare.{}", g.group));
            // Passing cases carry their numbers too (CI UIs show system-out).
            case.set_system_out(format!("{text} ({})", m.verdict.as_str()));
            suite.add_test_case(case);
        }
        if let Some(sample) = g.sample {
            suite.add_test_case(crate::report::junit::min_documents_case(
                sample,
                policy,
                &format!("compare.{}", g.group),
                "the runs' minimum per type (min_documents of their profiles)",
            ));
        }
        report.add_test_suite(suite);
    }
    crate::report::junit::to_string(&report)
}
