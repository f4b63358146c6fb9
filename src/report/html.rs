//! `report.html`: one self-contained page (inline CSS, inline SVG charts from [`super::chart`],
//! no scripts, no external resources) with the run summary, the SLA table per document
//! type, DPI trade-off charts, latency CDFs, field accuracy, clinical errors, character
//! confusions, error examples as aligned diffs and the environment.
//!
//! Like `report.md` it is written from the result model only; the per-document results
//! supply the latency samples of the CDFs. Every text is escaped. Error examples arrive
//! already redacted unless the run was asked to show patient data.

use super::chart::{
    Axis, Bar, BarChart, BarRow, LineChart, Point, Rule, Series, Style, Unit, PALETTE,
};
use super::console::{
    latency_row, measured, ms, overall, pct, pct_ms, pms, sample_mark, study_mark, Pct,
    LOW_SAMPLE_LEGEND,
};
use super::escape::html as esc;
use super::markdown::latency_table;
use super::table::{Align, Cell, Table};
use super::{DocumentResult, Exporter, GroupResult, ReportError, Run, RunSummary};
use crate::dataset::DocType;
use crate::score::{aligned_diff, DiffKind, FieldType};
use crate::sla::{Check, Status, Verdict};
use std::fmt::Write;

const CSS: &str = r#"
:root{--pass:#1a7f37;--fail:#cf222e;--na:#6e7781;--line:#d0d7de;--muted:#57606a}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI","NanumGothic","Malgun Gothic","Apple SD Gothic Neo",sans-serif;color:#1f2328;background:#f6f8fa}
main{max-width:1200px;margin:0 auto;padding:24px}
header.run{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;display:flex;gap:20px;align-items:center;flex-wrap:wrap}
header.run h1{font-size:20px;margin:0 0 4px}
.badge{display:inline-block;padding:2px 10px;border-radius:999px;font-weight:700;color:#fff;letter-spacing:.03em}
.badge.big{font-size:26px;padding:6px 18px;border-radius:8px}
.pass{background:var(--pass)}.fail{background:var(--fail)}.na{background:var(--na)}
.meta{margin:0;display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;color:var(--muted)}
.meta dt{font-weight:600}.meta dd{margin:0;color:#1f2328}
nav.toc{margin:12px 0;display:flex;flex-wrap:wrap;gap:6px 14px;font-size:13px}
nav.toc a{color:#0969da;text-decoration:none}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 20px 16px;margin:16px 0}
h2{font-size:17px;border-bottom:1px solid var(--line);padding-bottom:6px}
h3{font-size:15px;margin:18px 0 6px}
p.note,p.nodata{color:var(--muted);margin:6px 0}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.st{font-weight:700;text-align:center;color:#fff}
tr.is-fail{background:#fff8f8}tr.is-fail td.measured{color:var(--fail);font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:6px;background:#fff}
figcaption{font-size:13px;font-weight:600;margin:0 0 2px 4px}
svg.chart{display:block;max-width:100%;height:auto;font-size:11px;fill:#444}
svg .tick{fill:#57606a}svg .axis-label{fill:#1f2328;font-size:12px}
code,.mono{font-family:ui-monospace,"D2Coding",monospace;font-size:12px}
.sev{display:inline-block;border-radius:4px;padding:0 6px;font-size:12px;font-weight:600;color:#fff}
.sev.critical{background:var(--fail)}.sev.major{background:#bc4c00}.sev.minor{background:#6e7781}
.chip{display:inline-block;border:1px solid var(--line);border-radius:4px;padding:0 5px;margin:1px 2px;font-size:12px;white-space:nowrap}
.example{border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:10px 0}
.example .head{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:baseline;margin-bottom:6px}
.diff{display:flex;flex-wrap:wrap;align-items:stretch;font-size:15px;row-gap:6px}
.seg{display:inline-flex;flex-direction:column}
.seg>span{display:block;white-space:pre;min-height:1.5em;padding:0 1px}
.seg.lbl>span{color:var(--muted);font-size:11px;padding-right:8px;line-height:1.5em;min-height:1.5em;font-family:system-ui,sans-serif}
.seg.sub>span{background:#fff1b8}.seg.sub>span.h{background:#ffd8a8}
.seg.del>span.r{background:#ffd7d5;text-decoration:line-through}
.seg.ins>span.h{background:#ccf0d0}
.key .swatch{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-2px;margin:0 3px 0 10px}
details summary{cursor:pointer;color:#0969da;margin:6px 0}
footer{color:var(--muted);font-size:12px;text-align:center;margin:24px 0}
@media print{body{background:#fff}section,header.run{break-inside:avoid-page;border:none}nav.toc{display:none}}
"#;

/// `report.html`.
pub struct ReportHtml;

impl Exporter<Run<'_>> for ReportHtml {
    fn file_name(&self) -> String {
        "report.html".into()
    }

    fn render(&self, run: &Run) -> Result<Vec<u8>, ReportError> {
        Ok(report(run.summary, run.documents).into_bytes())
    }
}

/// The whole page.
pub fn report(s: &RunSummary, docs: &[DocumentResult]) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let title = format!("medocr run {}", s.run_id);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"ko\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body><main>\n",
        esc(&title)
    );
    header(&mut o, s);
    sla(&mut o, s);
    errors(&mut o, s);
    accuracy(&mut o, s);
    tradeoff(&mut o, s);
    latency(&mut o, s, docs);
    fields(&mut o, s);
    clinical(&mut o, s);
    extraction(&mut o, s);
    confusions(&mut o, s);
    examples(&mut o, s);
    environment(&mut o, s);
    let _ = write!(
        o,
        "<footer>Written by medocr {} from run <code>{}</code>. Self-contained: no scripts, no external resources.</footer>\n</main></body></html>\n",
        esc(&s.environment.tool_version),
        esc(&s.run_id)
    );
    o
}

/// Failed documents: each is a failed request in the SLA, so they are listed, not hidden.
fn errors(o: &mut String, s: &RunSummary) {
    if s.errors.is_empty() {
        return;
    }
    let _ = write!(
        o,
        r#"<section id="errors"><h2>Errors</h2><p class="note">{} failed document(s), error rate {}. Each counts as a failed request against the SLA; <code>medocr run --resume</code> does not retry them.</p><table><tr><th>document</th><th>type</th><th>DPI</th><th>kind</th><th>message</th></tr>"#,
        s.errors.len(),
        pct(s.totals.error_rate)
    );
    for e in &s.errors {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.id),
            esc(e.doc_type.as_str()),
            e.dpi,
            e.kind.as_str(),
            esc(&e.message)
        );
    }
    o.push_str("</table></section>\n");
}

/// The run's document types, in report order.
fn doc_types(s: &RunSummary) -> Vec<DocType> {
    let mut t: Vec<DocType> = s.groups.iter().map(|g| g.doc_type).collect();
    t.extend(s.verdicts.iter().map(|v| v.verdict.doc_type));
    t.sort();
    t.dedup();
    t
}

/// The run's DPIs, ascending.
fn dpis(s: &RunSummary) -> Vec<f32> {
    let mut d: Vec<f32> = s.config.dpis.clone();
    d.extend(s.groups.iter().map(|g| g.dpi));
    d.retain(|v| v.is_finite());
    d.sort_by(f32::total_cmp);
    d.dedup();
    d
}

fn groups_of(s: &RunSummary, t: DocType) -> impl Iterator<Item = &GroupResult> {
    s.groups.iter().filter(move |g| g.doc_type == t)
}

/// A type's profile check `key` (limits are per type, the same at every DPI).
fn limit(s: &RunSummary, t: DocType, key: &str) -> Option<Check> {
    s.verdicts
        .iter()
        .filter(|v| v.verdict.doc_type == t)
        .flat_map(|v| &v.verdict.checks)
        .find(|c| c.key == key)
        .cloned()
}

/// Colour of the `i`-th DPI of the run (stable across charts).
fn dpi_color(all: &[f32], dpi: f32) -> &'static str {
    let i = all.iter().position(|d| *d == dpi).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

fn status_class(st: Status) -> &'static str {
    match st {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::NotMeasured => "na",
    }
}

fn anchor(t: DocType) -> String {
    format!("type-{}", t.as_str())
}

fn type_name(t: DocType) -> String {
    format!("{} ({})", t.as_str(), t.korean())
}

fn header(o: &mut String, s: &RunSummary) {
    let c = &s.config;
    let (label, class) = if s.verdicts.is_empty() {
        ("NO SLA".to_string(), "na")
    } else if s.any_failed() {
        (overall(s), "fail")
    } else {
        (overall(s), "pass")
    };
    let dpi_text: Vec<String> = dpis(s).iter().map(|d| d.to_string()).collect();
    let t = &s.totals;
    let _ = write!(
        o,
        r#"<header class="run"><div><span class="badge big {class}" id="overall">{label}</span></div><div><h1>medocr run <code>{}</code></h1><dl class="meta">"#,
        esc(&s.run_id)
    );
    let meta = [
        ("engine", format!("{} {}", c.engine.name, c.engine.version)),
        ("dataset", c.dataset.clone()),
        ("DPI", dpi_text.join(", ")),
        ("started", s.started.clone()),
        (
            "documents",
            format!(
                "{} ({} failed), {} pages in {:.1} s",
                t.documents, t.failed, t.pages, t.wall_time_s
            ),
        ),
        (
            "corpus",
            format!("CER {}, WER {}", pct(t.cer.rate), pct(t.wer.rate)),
        ),
        ("identifiers", phi_note(s).to_string()),
    ];
    for (k, v) in meta {
        let _ = write!(o, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
    }
    o.push_str("</dl></div></header>\n");

    // A verdict matrix: one chip per (type, DPI).
    let all = dpis(s);
    if !s.verdicts.is_empty() {
        o.push_str(r#"<section id="verdicts"><h2>Verdicts</h2><table><tr><th>type</th>"#);
        for d in &all {
            let _ = write!(o, "<th>{d} DPI</th>");
        }
        o.push_str("</tr>");
        for t in doc_types(s) {
            let _ = write!(o, "<tr><td>{}</td>", esc(&type_name(t)));
            for d in &all {
                match verdict(s, t, *d) {
                    Some(v) => {
                        let failed = v.checks.iter().filter(|c| c.status == Status::Fail).count();
                        let _ = write!(
                            o,
                            r##"<td class="st {}"><a style="color:#fff" href="#{}">{}</a>{}</td>"##,
                            status_class(v.status),
                            anchor(t),
                            esc(&v.label()),
                            if failed > 0 {
                                format!(" <small>({failed} of {})</small>", v.checks.len())
                            } else {
                                String::new()
                            }
                        );
                    }
                    None => o.push_str("<td>—</td>"),
                }
            }
            o.push_str("</tr>");
        }
        o.push_str("</table></section>\n");
    }
    o.push_str(
        r##"<nav class="toc"><a href="#sla">SLA</a><a href="#accuracy">Accuracy</a><a href="#tradeoff">DPI trade-off</a><a href="#latency">Latency</a><a href="#fields">Fields</a><a href="#clinical">Clinical errors</a><a href="#confusions">Confusions</a><a href="#examples">Error examples</a><a href="#environment">Environment</a></nav>"##,
    );
}

fn verdict(s: &RunSummary, t: DocType, dpi: f32) -> Option<&Verdict> {
    s.verdicts
        .iter()
        .find(|v| v.dpi == dpi && v.verdict.doc_type == t)
        .map(|v| &v.verdict)
}

fn phi_note(s: &RunSummary) -> &'static str {
    if s.config.phi_shown {
        "shown (--show-phi): error examples quote patient names and identifier numbers"
    } else {
        "masked: patient names and identifier numbers in error examples are redacted"
    }
}

fn sla(o: &mut String, s: &RunSummary) {
    o.push_str(r#"<section id="sla"><h2>SLA per document type</h2>"#);
    if s.verdicts.is_empty() {
        o.push_str(
            r#"<p class="nodata">No SLA profile matched the run's document types.</p></section>"#,
        );
        return;
    }
    o.push_str(r#"<p class="note">Each limit of <code>profiles/&lt;type&gt;.toml</code> against what the run measured at each DPI. N/A: not measurable in this run (untimed engine, no such field).</p>"#);
    o.push_str(r#"<table id="sla-table"><thead><tr><th>type</th><th>DPI</th><th>verdict</th><th>check</th><th>limit</th><th>measured</th><th>samples</th><th>status</th><th>note</th></tr></thead><tbody>"#);
    let mut ordered: Vec<_> = s.verdicts.iter().collect();
    ordered.sort_by(|a, b| {
        a.verdict
            .doc_type
            .cmp(&b.verdict.doc_type)
            .then(a.dpi.total_cmp(&b.dpi))
    });
    let mut last_type = None;
    for gv in ordered {
        let v = &gv.verdict;
        let n = v.checks.len().max(1);
        for (i, c) in v.checks.iter().enumerate() {
            let _ = write!(o, r#"<tr class="check is-{}">"#, status_class(c.status));
            if i == 0 {
                let id = if last_type != Some(v.doc_type) {
                    format!(r#" id="{}""#, anchor(v.doc_type))
                } else {
                    String::new()
                };
                let _ = write!(
                    o,
                    r#"<td rowspan="{n}"{id}>{}</td><td class="num" rowspan="{n}">{}</td><td class="st {}" rowspan="{n}">{}</td>"#,
                    esc(&type_name(v.doc_type)),
                    gv.dpi,
                    status_class(v.status),
                    esc(&v.label())
                );
                last_type = Some(v.doc_type);
            }
            let _ = write!(
                o,
                r#"<td><code>{}</code></td><td>{}</td><td class="num measured">{}</td><td class="num">{}</td><td class="st {}">{}</td><td>{}</td></tr>"#,
                esc(&c.key),
                esc(&c.limit),
                esc(&measured(c)),
                c.samples,
                status_class(c.status),
                c.status.label(),
                esc(c.note.as_deref().unwrap_or(""))
            );
        }
    }
    o.push_str("</tbody></table></section>\n");
}

fn accuracy(o: &mut String, s: &RunSummary) {
    use Align::{Left as L, Right as R};
    o.push_str(r#"<section id="accuracy"><h2>Accuracy</h2><p class="note">Micro averages over documents: (S + D + I) / N. Failed documents count as empty output.</p>"#);
    let mut t = Table::new([
        ("DPI", R),
        ("type", L),
        ("docs", R),
        ("sample", L),
        ("failed", R),
        ("CER", R),
        ("CER (no spaces)", R),
        ("jamo CER", R),
        ("WER", R),
        ("CER (any order)", R),
        ("reading order", R),
        ("N chars", R),
    ]);
    for g in &s.groups {
        t.row([
            g.dpi.to_string(),
            g.doc_type.as_str().to_string(),
            g.documents.to_string(),
            sample_mark(g),
            g.failed.to_string(),
            pct(g.cer.rate),
            pct(g.cer_no_space.rate),
            pct(g.cer_jamo.rate),
            pct(g.wer.rate),
            pct(g.cer_unordered()),
            pct(g.reading_order()),
            g.cer.reference_units.to_string(),
        ]);
    }
    o.push_str(&t.html());
    if s.groups.iter().any(|g| g.tables.is_some()) {
        o.push_str(r#"<h3>Tables</h3><p class="note">Documents whose answer holds tables (Markdown or HTML): TEDS (tree-edit-distance similarity, mean over reference tables) and cell accuracy (reference cells read right at their row and column).</p>"#);
        let mut t = Table::new([
            ("DPI", R),
            ("type", L),
            ("reference tables", R),
            ("answer tables", R),
            ("TEDS", R),
            ("cell accuracy", R),
            ("cells", R),
        ]);
        for g in &s.groups {
            if let Some(x) = &g.tables {
                t.row([
                    g.dpi.to_string(),
                    g.doc_type.as_str().to_string(),
                    x.reference_tables.to_string(),
                    x.answer_tables.to_string(),
                    pct(x.teds),
                    pct(x.cell_accuracy),
                    x.cells.to_string(),
                ]);
            }
        }
        o.push_str(&t.html());
    }
    o.push_str("</section>\n");
}

fn figure(o: &mut String, caption: &str, svg: &str) {
    let _ = write!(
        o,
        "<figure><figcaption>{}</figcaption>{svg}</figure>",
        esc(caption)
    );
}

fn nodata(o: &mut String, caption: &str, why: &str) {
    let _ = write!(
        o,
        r#"<figure><figcaption>{}</figcaption><p class="nodata">{}</p></figure>"#,
        esc(caption),
        esc(why)
    );
}

/// CER and E2E latency against DPI, per document type.
fn tradeoff(o: &mut String, s: &RunSummary) {
    let all: Vec<f64> = dpis(s).iter().map(|d| f64::from(*d)).collect();
    o.push_str(r#"<section id="tradeoff"><h2>DPI trade-off</h2><p class="note">Per document type: CER and end-to-end latency at each DPI of the run (log-scaled DPI axis). Dashed red lines are the type's SLA limits.</p>"#);
    for t in doc_types(s) {
        let gs: Vec<&GroupResult> = groups_of(s, t).collect();
        if gs.is_empty() {
            continue;
        }
        let _ = write!(o, "<h3>{}</h3><div class=\"charts\">", esc(&type_name(t)));
        let x = Axis::log_at("DPI", &all);
        cer_vs_dpi(o, s, t, &gs, x.clone());
        e2e_vs_dpi(o, s, t, &gs, x);
        o.push_str("</div>");
        study_table(o, s, t);
    }
    o.push_str("</section>\n");
}

/// A group's figure at its DPI, with a tooltip: the group's "insufficient sample" mark
/// as the accuracy table's *sample* column has it, then `shown` as the tables show it (so
/// a percentile on too few samples ends with †).
fn dpi_point(g: &GroupResult, v: f64, what: &str, shown: String) -> Point {
    Point {
        x: f64::from(g.dpi),
        y: v,
        tip: format!(
            "{} DPI, {} docs{}: {what} {shown}",
            g.dpi,
            g.documents,
            sample_suffix(g)
        ),
    }
}

/// ` (insufficient sample: 2 < 50 documents)` for a group below its minimum, else empty.
fn sample_suffix(g: &GroupResult) -> String {
    g.sample
        .and_then(|s| s.mark())
        .map(|m| format!(" ({m})"))
        .unwrap_or_default()
}

/// CER and CER without spaces against DPI, with the type's CER limit.
fn cer_vs_dpi(o: &mut String, s: &RunSummary, t: DocType, gs: &[&GroupResult], x: Axis) {
    let cer: Vec<Point> = gs
        .iter()
        .filter_map(|g| g.cer.rate.map(|v| dpi_point(g, v, "CER", pct(Some(v)))))
        .collect();
    let cer_ns: Vec<Point> = gs
        .iter()
        .filter_map(|g| {
            g.cer_no_space
                .rate
                .map(|v| dpi_point(g, v, "CER (no spaces)", pct(Some(v))))
        })
        .collect();
    let cer_limit = limit(s, t, "accuracy.max_cer");
    if cer.is_empty() {
        nodata(o, "CER vs DPI", "No reference text to score.");
    } else {
        let values = cer
            .iter()
            .chain(&cer_ns)
            .map(|p| p.y)
            .chain(cer_limit.as_ref().map(|c| c.threshold));
        let chart = LineChart {
            title: format!("{}: CER vs DPI", t.as_str()),
            x,
            y: Axis::linear("CER", values, true, 0.01, Unit::Percent),
            series: vec![
                Series {
                    name: "CER".into(),
                    color: PALETTE[0],
                    style: Style::Line,
                    dashed: false,
                    points: cer,
                },
                Series {
                    name: "CER (no spaces)".into(),
                    color: PALETTE[2],
                    style: Style::Line,
                    dashed: true,
                    points: cer_ns,
                },
            ],
            rules: cer_limit
                .iter()
                .map(|c| Rule {
                    value: c.threshold,
                    vertical: false,
                    label: c.limit.clone(),
                })
                .collect(),
        };
        figure(o, "CER vs DPI", &chart.render());
    }
}

/// p50 and p95 E2E latency against DPI, with the type's E2E limit.
fn e2e_vs_dpi(o: &mut String, s: &RunSummary, t: DocType, gs: &[&GroupResult], x: Axis) {
    let p = |which: Pct, what: &str| -> Vec<Point> {
        gs.iter()
            .filter_map(|g| {
                let e = g.latency.e2e_ms.as_ref()?;
                let v = match which {
                    Pct::P50 => e.p50,
                    Pct::P95 => e.p95,
                    Pct::P99 => e.p99,
                };
                Some(dpi_point(g, v, what, pct_ms(Some(e), which)))
            })
            .collect()
    };
    let (p50, p95) = (p(Pct::P50, "p50 E2E"), p(Pct::P95, "p95 E2E"));
    let e2e_limit = limit(s, t, "latency.max_e2e_ms");
    if p50.is_empty() {
        nodata(
            o,
            "E2E latency vs DPI",
            "Not timed: the engine's output carries no timing (replayed predictions).",
        );
    } else {
        let values = p50
            .iter()
            .chain(&p95)
            .map(|p| p.y)
            .chain(e2e_limit.as_ref().map(|c| c.threshold));
        let chart = LineChart {
            title: format!("{}: E2E latency vs DPI", t.as_str()),
            x,
            y: Axis::linear("E2E latency (ms)", values, true, 10.0, Unit::Plain),
            series: vec![
                Series {
                    name: "p50 E2E".into(),
                    color: PALETTE[0],
                    style: Style::Line,
                    dashed: false,
                    points: p50,
                },
                Series {
                    name: "p95 E2E".into(),
                    color: PALETTE[1],
                    style: Style::Line,
                    dashed: false,
                    points: p95,
                },
            ],
            rules: e2e_limit
                .iter()
                .map(|c| Rule {
                    value: c.threshold,
                    vertical: false,
                    label: c.limit.clone(),
                })
                .collect(),
        };
        figure(o, "E2E latency (p50, p95) vs DPI", &chart.render());
    }
}

/// The DPI study of one type (multi-DPI runs): every DPI with its cost, the recommended
/// operating point and the Pareto front.
fn study_table(o: &mut String, s: &RunSummary, t: DocType) {
    let Some(study) = s.dpi_study.iter().find(|d| d.doc_type == t) else {
        return;
    };
    let recommended = study
        .recommended_dpi
        .map_or("no DPI meets the SLA".to_string(), |d| format!("{d} DPI"));
    let _ = write!(
        o,
        "<p><b>Recommended: {}</b>{} (the lowest DPI whose SLA verdict passes). ◆ marks the Pareto front of CER and p95 E2E.</p>\
         <table><tr><th>DPI</th><th>CER</th><th>worst field</th><th>critical</th><th>p50 E2E</th><th>p95 E2E</th><th>p50 TTFT</th><th>peak RSS</th><th>MP/page</th><th>tokens/page</th><th>SLA</th></tr>",
        esc(&recommended),
        esc(&study_mark(study))
    );
    for p in &study.points {
        let r = &p.resources;
        let sla = p.sla.map_or(String::from("—"), |st| {
            format!(
                "<span class=\"badge {}\">{}</span>",
                status_class(st),
                st.label()
            )
        });
        let _ = write!(
            o,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            p.dpi,
            if p.pareto { " ◆" } else { "" },
            pct(p.cer),
            pct(p.worst_field_accuracy),
            p.critical_errors,
            pms(p.p50_e2e_ms, p.p50_e2e_low_sample),
            pms(p.p95_e2e_ms, p.p95_e2e_low_sample),
            pms(p.p50_ttft_ms, p.p50_ttft_low_sample),
            r.peak_rss_mib.map_or("—".into(), |m| format!("{m:.0} MiB")),
            r.pixels_per_page.map_or("—".into(), |v| format!("{:.2}", v / 1e6)),
            r.image_tokens_per_page.map_or("—".into(), |v| format!("{v:.0}")),
            sla
        );
    }
    o.push_str("</table>");
    let _ = write!(o, r#"<p class="note">{}</p>"#, esc(LOW_SAMPLE_LEGEND));
}

/// Empirical CDFs of per-document E2E latency (one line per DPI) and the latency table.
fn latency(o: &mut String, s: &RunSummary, docs: &[DocumentResult]) {
    let all = dpis(s);
    o.push_str(r#"<section id="latency"><h2>Latency</h2><p class="note">Per document, from request start (rendering included). The CDF gives, for each latency, the share of documents read at least that fast; the dashed red line is the type's E2E limit (at its percentile).</p><div class="charts">"#);
    for t in doc_types(s) {
        if groups_of(s, t).next().is_none() {
            continue;
        }
        let caption = format!("{}: E2E latency CDF", type_name(t));
        let mut series = Vec::new();
        for &d in &all {
            let mut v: Vec<(f64, &str)> = docs
                .iter()
                .filter(|r| r.doc_type == t && r.dpi == d && r.error.is_none())
                .filter_map(|r| {
                    r.timing
                        .e2e_ms
                        .filter(|x| x.is_finite())
                        .map(|x| (x, r.id.as_str()))
                })
                .collect();
            if v.is_empty() {
                continue;
            }
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            let n = v.len();
            series.push(Series {
                name: format!("{d} DPI (n={n})"),
                color: dpi_color(&all, d),
                style: Style::Step,
                dashed: false,
                points: v
                    .iter()
                    .enumerate()
                    .map(|(i, (x, id))| Point {
                        x: *x,
                        y: (i + 1) as f64 / n as f64,
                        tip: format!("{id} @ {d} DPI: {} ({} of {n})", ms(Some(*x)), i + 1),
                    })
                    .collect(),
            });
        }
        if series.is_empty() {
            nodata(
                o,
                &caption,
                "Not timed: the engine's output carries no timing (replayed predictions).",
            );
            continue;
        }
        let e2e_limit = limit(s, t, "latency.max_e2e_ms");
        let xs = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.x))
            .chain(e2e_limit.as_ref().map(|c| c.threshold));
        let chart = LineChart {
            title: caption.clone(),
            x: Axis::linear("E2E latency (ms)", xs, false, 10.0, Unit::Plain),
            y: Axis::percent("documents ≤ x"),
            series,
            rules: e2e_limit
                .iter()
                .map(|c| Rule {
                    value: c.threshold,
                    vertical: true,
                    label: c.limit.clone(),
                })
                .collect(),
        };
        figure(o, &caption, &chart.render());
    }
    o.push_str("</div>");

    let mut t = latency_table();
    for g in &s.groups {
        t.row(latency_row(g));
    }
    o.push_str(&t.html());
    let _ = write!(o, r#"<p class="note">{}</p>"#, esc(LOW_SAMPLE_LEGEND));
    o.push_str("</section>\n");
}

/// Field accuracy per type (bars per DPI, SLA minimum ticks) and the exact numbers.
fn fields(o: &mut String, s: &RunSummary) {
    let all = dpis(s);
    o.push_str(r#"<section id="fields"><h2>Field accuracy</h2><p class="note">Each field type, projected through the character alignment and judged by its clinical matcher. Accuracy = correct / located; precision = correct / read. Red ticks are the profile's minimums.</p><div class="charts">"#);
    for t in doc_types(s) {
        let gs: Vec<&GroupResult> = groups_of(s, t).collect();
        let types: Vec<FieldType> = FieldType::ALL
            .into_iter()
            .filter(|f| {
                gs.iter()
                    .any(|g| g.fields.iter().any(|a| a.field_type == *f))
            })
            .collect();
        if !types.is_empty() {
            field_chart(o, s, t, &gs, &types, &all);
        }
    }
    o.push_str("</div><details><summary>Field and set tables</summary>");
    field_tables(o, s);
    o.push_str("</details></section>\n");
}

/// One type's field accuracy: a row of bars (one per DPI) per field type.
fn field_chart(
    o: &mut String,
    s: &RunSummary,
    t: DocType,
    gs: &[&GroupResult],
    types: &[FieldType],
    all: &[f32],
) {
    let rows = types
        .iter()
        .map(|f| BarRow {
            label: f.as_str().to_string(),
            limit: limit(s, t, &format!("accuracy.fields.{}", f.as_str())).map(|c| c.threshold),
            bars: gs
                .iter()
                .map(|g| {
                    let a = g.fields.iter().find(|a| a.field_type == *f);
                    Bar {
                        value: a.and_then(|a| a.accuracy),
                        color: dpi_color(all, g.dpi),
                        tip: match a {
                            Some(a) => format!(
                                "{} @ {} DPI{}: {} ({} of {} located correct, {} read)",
                                f.as_str(),
                                g.dpi,
                                sample_suffix(g),
                                pct(a.accuracy),
                                a.correct,
                                a.scored,
                                a.read
                            ),
                            None => {
                                format!("{} @ {} DPI: not in these documents", f.as_str(), g.dpi)
                            }
                        },
                    }
                })
                .collect(),
        })
        .collect();
    let chart = BarChart {
        title: format!("{}: field accuracy", t.as_str()),
        axis_label: "accuracy (correct / located)".into(),
        legend: gs
            .iter()
            .map(|g| (format!("{} DPI", g.dpi), dpi_color(all, g.dpi)))
            .collect(),
        rows,
    };
    figure(
        o,
        &format!("{}: field accuracy", type_name(t)),
        &chart.render(),
    );
}

/// The field-type and set-score tables behind the charts.
fn field_tables(o: &mut String, s: &RunSummary) {
    use Align::{Left as L, Right as R};
    let mut fields = Table::new([
        ("DPI", R),
        ("type", L),
        ("field", L),
        ("correct", R),
        ("read", R),
        ("located", R),
        ("accuracy", R),
        ("precision", R),
        ("F1", R),
    ]);
    for g in &s.groups {
        for f in &g.fields {
            fields.row([
                g.dpi.to_string().into(),
                g.doc_type.as_str().into(),
                Cell::code(f.field_type.as_str()),
                f.correct.to_string().into(),
                f.read.to_string().into(),
                f.scored.to_string().into(),
                pct(f.accuracy).into(),
                pct(f.precision).into(),
                pct(f.f1).into(),
            ]);
        }
    }
    o.push_str(&fields.html());
    o.push_str(r#"<p class="note">Diagnosis codes and drug names as sets per document (micro over documents); <code>diagnosis_category</code> gives partial credit to the right 3-character category.</p>"#);
    let mut sets = Table::new([
        ("DPI", R),
        ("type", L),
        ("set", L),
        ("TP", R),
        ("FP", R),
        ("FN", R),
        ("precision", R),
        ("recall", R),
        ("F1", R),
    ]);
    for g in &s.groups {
        for set in g
            .field_sets
            .iter()
            .filter(|x| x.true_positives + x.false_negatives > 0)
        {
            sets.row([
                g.dpi.to_string().into(),
                g.doc_type.as_str().into(),
                Cell::code(set.set.as_str()),
                set.true_positives.to_string().into(),
                set.false_positives.to_string().into(),
                set.false_negatives.to_string().into(),
                pct(set.precision).into(),
                pct(set.recall).into(),
                pct(set.f1).into(),
            ]);
        }
    }
    o.push_str(&sets.html());
}

fn clinical(o: &mut String, s: &RunSummary) {
    o.push_str(r#"<section id="clinical"><h2>Clinical errors</h2><p class="note">Every wrong field carries a severity (critical: harmful if acted on unnoticed; major: wrong but noticeable; minor: meaning survives) and the rule that assigned it (docs/metrics.md lists the rules).</p>"#);
    o.push_str(r#"<table><tr><th>DPI</th><th>type</th><th>docs</th><th>critical</th><th>major</th><th>minor</th><th>critical / 1,000 docs</th><th>most frequent rules</th></tr>"#);
    for g in &s.groups {
        let c = &g.clinical;
        let rules: String = c
            .rules
            .iter()
            .take(5)
            .map(|r| {
                format!(
                    r#"<span class="chip"><span class="sev {sev}">{sev}</span> <code>{}</code> ×{}</span>"#,
                    esc(&r.rule),
                    r.count,
                    sev = r.severity.as_str()
                )
            })
            .collect();
        let crit_style = if c.critical > 0 {
            r#" style="color:var(--fail);font-weight:700""#
        } else {
            ""
        };
        let _ = write!(
            o,
            r#"<tr><td class="num">{}</td><td>{}</td><td class="num">{}</td><td class="num"{crit_style}>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{rules}</td></tr>"#,
            g.dpi,
            esc(g.doc_type.as_str()),
            g.documents,
            c.critical,
            c.major,
            c.minor,
            c.critical_per_1000_docs
                .map_or("—".into(), |v| format!("{v:.0}")),
        );
    }
    o.push_str("</table>");
    let noted: Vec<&GroupResult> = s
        .groups
        .iter()
        .filter(|g| !g.clinical.notes.is_empty())
        .collect();
    o.push_str("<h3>Matcher notes</h3>");
    if noted.is_empty() {
        o.push_str(r#"<p class="nodata">None.</p>"#);
    } else {
        o.push_str(r#"<p class="note">Not errors by themselves: glyph confusions behind wrong codes, error-prone dose notation such as trailing zeros.</p><ul>"#);
        for g in noted {
            let notes: String = g
                .clinical
                .notes
                .iter()
                .take(8)
                .map(|n| {
                    format!(
                        r#"<span class="chip"><code>{}</code> ×{}</span>"#,
                        esc(&n.note),
                        n.count
                    )
                })
                .collect();
            let _ = write!(
                o,
                "<li>{} DPI {}: {notes}</li>",
                g.dpi,
                esc(g.doc_type.as_str())
            );
        }
        o.push_str("</ul>");
    }
    o.push_str("</section>\n");
}

/// `--task extract`: the fields answered as JSON and judged directly, per group and per
/// field type, with redacted examples.
fn extraction(o: &mut String, s: &RunSummary) {
    if !s.groups.iter().any(|g| g.extraction.is_some()) {
        return;
    }
    let _ = write!(
        o,
        r#"<section id="extraction"><h2>Structured extraction</h2><p class="note">The engine was asked for each document's fields as JSON (<code>--task extract</code>, prompts <code>{}</code>); every ground-truth field was judged against the answer by the clinical matchers. An answer that is not valid JSON (<code>invalid_json</code>) or is cut off (<code>truncated_json</code>) is a failed request and gets no field right.</p>"#,
        esc(s
            .config
            .extract
            .as_ref()
            .map_or("bundled", |x| x.prompts.as_str()))
    );
    o.push_str(r#"<table><tr><th>DPI</th><th>type</th><th>docs</th><th>failed</th><th>fields right</th><th>accuracy</th><th>critical</th><th>major</th><th>minor</th><th>p50 E2E</th><th>per field type</th></tr>"#);
    for g in &s.groups {
        let Some(x) = &g.extraction else { continue };
        let per_type: String = x
            .fields
            .iter()
            .map(|f| {
                format!(
                    r#"<span class="chip"><code>{}</code> {}</span>"#,
                    f.field_type.as_str(),
                    pct(f.accuracy)
                )
            })
            .collect();
        let crit_style = if x.clinical.critical > 0 {
            r#" style="color:var(--fail);font-weight:700""#
        } else {
            ""
        };
        let _ = write!(
            o,
            r#"<tr><td class="num">{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{} / {}</td><td class="num">{}</td><td class="num"{crit_style}>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{per_type}</td></tr>"#,
            g.dpi,
            esc(g.doc_type.as_str()),
            x.documents,
            x.failed,
            x.right,
            x.total,
            pct(x.accuracy),
            x.clinical.critical,
            x.clinical.major,
            x.clinical.minor,
            pct_ms(x.e2e_ms.as_ref(), Pct::P50),
        );
    }
    o.push_str("</table>");
    let examples: Vec<_> = s
        .groups
        .iter()
        .filter_map(|g| Some((g, g.extraction.as_ref()?)))
        .flat_map(|(g, x)| x.clinical.examples.iter().map(move |e| (g, e)))
        .collect();
    if !examples.is_empty() {
        let _ = write!(
            o,
            r#"<h3>Extraction error examples</h3><p class="note">Patient identifiers are {}.</p><table><tr><th>DPI</th><th>document</th><th>field</th><th>severity</th><th>rule</th><th>expected</th><th>extracted</th></tr>"#,
            if s.config.phi_shown {
                "shown (<code>--show-phi</code>)"
            } else {
                "masked"
            }
        );
        for (g, e) in examples {
            let _ = write!(
                o,
                r#"<tr><td class="num">{}</td><td>{}</td><td><code>{}</code></td><td><span class="sev {sev}">{sev}</span></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>"#,
                g.dpi,
                esc(&e.document),
                esc(&e.key),
                esc(&e.rule),
                esc(&e.expected),
                esc(&e.found),
                sev = e.severity.as_str()
            );
        }
        o.push_str("</table>");
    }
    o.push_str("</section>\n");
}

/// A grapheme as shown in a confusion: `∅` for nothing, `␣` for a space (U+2423, in
/// common fonts, unlike `␠`).
fn show_char(t: &str) -> String {
    match t {
        "" => "∅".into(),
        " " => "␣".into(),
        t => esc(t),
    }
}

fn confusions(o: &mut String, s: &RunSummary) {
    o.push_str(r#"<section id="confusions"><h2>Character confusions</h2><p class="note">Most frequent reference → recognised pairs of the CER alignment (∅: nothing, ␣: a space).</p><table><tr><th>DPI</th><th>type</th><th>confusions</th></tr>"#);
    for g in &s.groups {
        let pairs: String = g
            .confusions
            .iter()
            .take(12)
            .map(|c| {
                format!(
                    r#"<span class="chip"><span class="mono">{}→{}</span> ×{}</span>"#,
                    show_char(&c.reference),
                    show_char(&c.recognised),
                    c.count
                )
            })
            .collect();
        let _ = write!(
            o,
            r#"<tr><td class="num">{}</td><td>{}</td><td>{}</td></tr>"#,
            g.dpi,
            esc(g.doc_type.as_str()),
            if pairs.is_empty() {
                "—".to_string()
            } else {
                pairs
            }
        );
    }
    o.push_str("</table></section>\n");
}

/// Reference and recognised line as aligned runs: equal text plain, substitutions,
/// deletions and insertions highlighted, each run's two sides stacked in one column.
pub fn diff_html(reference: &str, recognised: &str) -> String {
    let mut o = String::from(
        r#"<div class="diff mono"><span class="seg lbl"><span>ref</span><span>read</span></span>"#,
    );
    // A run of spaces alone would be invisible: shown as `␣`.
    let visible = |t: &str| {
        if !t.is_empty() && t.chars().all(|c| c == ' ') {
            "␣".repeat(t.chars().count())
        } else {
            esc(t)
        }
    };
    for seg in aligned_diff(reference, recognised) {
        match seg.kind {
            DiffKind::Equal => {
                // Split at spaces so long equal runs can wrap.
                for word in seg.reference.split_inclusive(' ') {
                    let w = esc(word);
                    let _ = write!(
                        o,
                        r#"<span class="seg eq"><span class="r">{w}</span><span class="h">{w}</span></span>"#
                    );
                }
            }
            kind => {
                let class = match kind {
                    DiffKind::Sub => "sub",
                    DiffKind::Del => "del",
                    _ => "ins",
                };
                let _ = write!(
                    o,
                    r#"<span class="seg {class}"><span class="r">{}</span><span class="h">{}</span></span>"#,
                    visible(&seg.reference),
                    visible(&seg.hypothesis)
                );
            }
        }
    }
    o.push_str("</div>");
    o
}

fn examples(o: &mut String, s: &RunSummary) {
    let list: Vec<_> = s
        .groups
        .iter()
        .flat_map(|g| g.clinical.examples.iter().map(move |e| (g, e)))
        .collect();
    let _ = write!(
        o,
        r#"<section id="examples"><h2>Error examples</h2><p class="note" id="phi-note">Patient identifiers are {}.</p>"#,
        esc(phi_note(s))
    );
    if list.is_empty() {
        o.push_str(r#"<p class="nodata">No field errors.</p></section>"#);
        return;
    }
    o.push_str(r#"<p class="key note">Aligned line, reference above, recognised below:<span class="swatch" style="background:#fff1b8"></span>substituted<span class="swatch" style="background:#ffd7d5"></span>missing<span class="swatch" style="background:#ccf0d0"></span>inserted</p>"#);
    for (g, e) in list {
        let _ = write!(
            o,
            r#"<div class="example"><div class="head"><span class="sev {sev}">{sev}</span><code>{}</code><span>{} @ {} DPI</span><code>{}</code><span>{}</span></div><div>expected <span class="chip mono">{}</span> read <span class="chip mono">{}</span></div>"#,
            esc(&e.rule),
            esc(&e.document),
            g.dpi,
            esc(&e.key),
            esc(&e.detail),
            esc(&e.expected),
            esc(&e.found),
            sev = e.severity.as_str()
        );
        if let Some(c) = &e.context {
            o.push_str(&diff_html(&c.reference, &c.recognised));
        }
        o.push_str("</div>");
    }
    o.push_str("</section>\n");
}

fn environment(o: &mut String, s: &RunSummary) {
    let (c, e) = (&s.config, &s.environment);
    let streaming = serde_json::to_string(&c.engine.streaming)
        .unwrap_or_default()
        .trim_matches('"')
        .to_string();
    let mut rows: Vec<(&str, String)> = vec![
        (
            "medocr",
            format!(
                "{} (commit {})",
                e.tool_version,
                e.git_commit.as_deref().unwrap_or("unknown")
            ),
        ),
        (
            "engine / model",
            format!(
                "{} {} ({streaming}; token unit: {})",
                c.engine.name, c.engine.version, c.engine.token_unit
            ),
        ),
        (
            "checkpoint sha256",
            c.engine
                .checkpoint_sha256
                .clone()
                .unwrap_or_else(|| "—".into()),
        ),
    ];
    for (k, v) in &c.engine.settings {
        rows.push(("engine setting", format!("{k} = {v}")));
    }
    rows.extend([
        ("dataset", c.dataset.clone()),
        ("dataset manifest sha256", c.manifest_sha256.clone()),
        (
            "profiles",
            format!("{} (sha256 {})", c.profiles, c.profiles_sha256),
        ),
        (
            "formulary / codes",
            format!("{} / {}", c.formulary, c.codes),
        ),
        (
            "DPI, pixel budget",
            format!(
                "{}; at most {} pixels per page; full-width folding {}",
                dpis(s)
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                c.max_pixels,
                if c.fold_width { "on" } else { "off" }
            ),
        ),
        ("machine", format!("{}; {}, {} cores", e.os, e.cpu, e.cores)),
        (
            "memory",
            e.memory_gib.map_or("—".into(), |m| format!("{m:.1} GiB")),
        ),
        ("GPU", e.gpu.clone().unwrap_or_else(|| "none".into())),
        ("patient identifiers", phi_note(s).to_string()),
    ]);
    o.push_str(r#"<section id="environment"><h2>Environment and reproducibility</h2><table>"#);
    for (k, v) in rows {
        let _ = write!(
            o,
            r#"<tr><th>{}</th><td class="mono">{}</td></tr>"#,
            esc(k),
            esc(&v)
        );
    }
    o.push_str("</table>");
    if !s.manifest_issues.is_empty() {
        o.push_str("<h3>Manifest issues</h3><ul>");
        for i in &s.manifest_issues {
            let _ = write!(
                o,
                "<li>{}{}</li>",
                if i.rejected { "rejected: " } else { "" },
                esc(&i.to_string())
            );
        }
        o.push_str("</ul>");
    }
    o.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Document;
    use crate::engine::{EngineInfo, Streaming};
    use crate::pipeline::{summarize, Privacy};
    use crate::report::{Environment, Timing, SCHEMA_VERSION};
    use crate::score::{score_document, ScoreOptions};
    use std::path::Path;

    fn bundled() -> Vec<Document> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(root.join("datasets/bundled/manifest.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Every other line dropped at low DPI, one digit changed everywhere.
    fn damage(text: &str, dpi: f32) -> String {
        let kept: Vec<&str> = if dpi < 200.0 {
            text.lines().step_by(2).collect()
        } else {
            text.lines().collect()
        };
        kept.join("\n").replacen('1', "7", 2)
    }

    /// A run over the bundled dataset at `dpis`, with made-up timing when `timed`.
    fn run(dpis: &[f32], timed: bool, run_id: &str) -> (RunSummary, Vec<DocumentResult>) {
        let docs = bundled();
        let mut results = Vec::new();
        for &dpi in dpis {
            for (i, d) in docs.iter().enumerate() {
                let text = damage(&d.text, dpi);
                let e2e = f64::from(dpi) * 8.0 + 137.0 * i as f64;
                // Through serde, so fields added to the model later default.
                let timing = Timing {
                    timed,
                    ttft_ms: timed.then_some(e2e),
                    e2e_ms: timed.then_some(e2e),
                    ..Timing::default()
                };
                let mut r: DocumentResult = serde_json::from_value(serde_json::json!({
                    "id": d.id,
                    "doc_type": d.doc_type,
                    "dpi": dpi,
                    "source_kind": "pdf",
                    "pages": 1,
                    "pixels": 1000,
                    "error": null,
                    "score": score_document(d, &text, &ScoreOptions::default()),
                    "timing": timing,
                }))
                .unwrap();
                r.text = text;
                results.push(r);
            }
        }
        let profiles =
            crate::sla::load_profiles(&Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles"))
                .unwrap();
        let (groups, verdicts, totals) = summarize(&results, &profiles, 12.5, Privacy::Redacted);
        let engine = EngineInfo {
            name: "replay".into(),
            version: "test".into(),
            checkpoint_sha256: Some("cd34".repeat(16)),
            streaming: if timed {
                Streaming::WholeText
            } else {
                Streaming::Untimed
            },
            token_unit: "chunk".into(),
            settings: Default::default(),
        };
        let environment = Environment {
            tool_version: "0.1.0".into(),
            git_commit: None,
            os: "linux".into(),
            cpu: "test cpu".into(),
            cores: 2,
            memory_gib: Some(8.0),
            gpu: Some("Test GPU <80GB>".into()),
        };
        // Through serde, so fields added to the model later default.
        let summary: RunSummary = serde_json::from_value(serde_json::json!({
            "schema_version": SCHEMA_VERSION,
            "run_id": run_id,
            "started": "2026-01-02T03:04:05+00:00",
            "config": {
                "dataset": "datasets/bundled",
                "manifest_sha256": "ab12".repeat(16),
                "dpis": dpis,
                "max_pixels": 40_000_000,
                "engine": engine,
                "profiles": "profiles",
                "profiles_sha256": "ef56".repeat(16),
                "fold_width": false,
                "formulary": "bundled",
                "codes": "bundled",
                "phi_shown": false,
            },
            "environment": environment,
            "groups": groups,
            "verdicts": verdicts,
            "totals": totals,
            "manifest_issues": [],
        }))
        .unwrap();
        (summary, results)
    }

    /// The page's font stacks name no family reserved for the built-in engine's
    /// acceptance test (nor Noto's Korean web cut of the same design).
    #[test]
    fn css_names_no_reserved_font() {
        let families: Vec<&str> = CSS.split('"').skip(1).step_by(2).collect();
        assert!(families.contains(&"NanumGothic"), "{families:?}");
        for f in families {
            assert!(
                !crate::dataset::font_pool::is_reserved_family(f) && !f.starts_with("Noto"),
                "{f}"
            );
        }
    }

    #[test]
    fn page_has_every_section_and_charts() {
        let (s, docs) = run(&[150.0, 300.0], true, "multi");
        let html = report(&s, &docs);
        if let Ok(path) = std::env::var("MEDOCR_HTML_PREVIEW") {
            std::fs::write(path, &html).unwrap();
        }
        for id in [
            "overall",
            "verdicts",
            "sla-table",
            "accuracy",
            "tradeoff",
            "latency",
            "fields",
            "clinical",
            "confusions",
            "examples",
            "environment",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "missing #{id}");
        }
        let checks: usize = s.verdicts.iter().map(|v| v.verdict.checks.len()).sum();
        assert!(checks > 0);
        assert_eq!(html.matches("<tr class=\"check ").count(), checks);
        // Per type: CER, latency, CDF and field charts.
        let types = doc_types(&s).len();
        assert!(html.matches("<svg").count() >= 4 * types, "too few charts");
        assert!(
            html.contains("<polyline")
                && html.contains("<circle")
                && html.contains("class=\"bar\"")
        );
        assert!(html.contains("E2E latency CDF"));
        assert!(html.contains("Test GPU &lt;80GB&gt;"));
        assert!(html.contains(&"cd34".repeat(16)) && html.contains(&"ab12".repeat(16)));
        assert!(html.contains("class=\"seg sub\"") || html.contains("class=\"seg del\""));
        // Self-contained: no scripts, no external references.
        for bad in [
            "<script", "http://", "https://", "src=", "url(", "@import", "<link",
        ] {
            assert!(!html.contains(bad), "found {bad}");
        }
        // No patient name of the dataset.
        for d in bundled() {
            if let Some(name) = &d.fields.patient_name {
                assert!(!html.contains(name.as_str()), "leaks {name}");
            }
        }
        assert!(html.contains("masked"));
    }

    /// The bundled dataset has 2–4 documents per type: every per-type point and bar
    /// tooltip names the mark, and a p95 (needs 20 samples) ends with † as its table cell
    /// does, while a p50 of 2 or more does not.
    #[test]
    fn chart_tooltips_carry_the_sample_marks() {
        let (s, docs) = run(&[150.0, 300.0], true, "small");
        let html = report(&s, &docs);
        let titles: Vec<&str> = html
            .split("<title>")
            .skip(1)
            .filter_map(|t| t.split("</title>").next())
            .collect();
        // Points' tooltips (chart titles such as "prescription: CER vs DPI" aside).
        let tips = |what: &str| -> Vec<&str> {
            titles
                .iter()
                .copied()
                .filter(|t| t.contains(what) && t.contains(" DPI"))
                .filter(|t| !t.ends_with(" vs DPI"))
                .collect()
        };
        let (p95, p50, cer) = (tips(": p95 E2E "), tips(": p50 E2E "), tips(": CER "));
        assert!(!p95.is_empty() && !p50.is_empty() && !cer.is_empty());
        for t in p95.iter().chain(&p50).chain(&cer) {
            assert!(t.contains("docs (insufficient sample: "), "{t}");
        }
        assert!(p95.iter().all(|t| t.ends_with(" ms†")), "{p95:?}");
        assert!(p50.iter().all(|t| t.ends_with(" ms")), "{p50:?}");
        let bars = tips(" located correct, ");
        assert!(!bars.is_empty());
        assert!(
            bars.iter()
                .all(|t| t.contains(" DPI (insufficient sample: ")),
            "{bars:?}"
        );
    }

    #[test]
    fn untimed_single_dpi_run_still_plots_points() {
        let (s, docs) = run(&[300.0], false, "<script>alert('x')</script>");
        let html = report(&s, &docs);
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(!html.contains("<script"));
        // CER vs DPI and field charts; latency charts say why they are missing.
        assert!(html.matches("<svg").count() >= 2 * doc_types(&s).len());
        assert!(html.contains("<circle"));
        assert!(html.contains("Not timed"));
    }

    #[test]
    fn diffs_highlight_the_differing_characters() {
        let d = diff_html("타이레놀정 500mg <b>", "타이레늘정 5000mg <b>");
        assert!(
            d.contains(
                r#"<span class="seg sub"><span class="r">놀</span><span class="h">늘</span></span>"#
            ),
            "{d}"
        );
        assert!(
            d.contains(
                r#"<span class="seg ins"><span class="r"></span><span class="h">0</span></span>"#
            ),
            "{d}"
        );
        assert!(d.contains("&lt;b&gt;") && !d.contains("<b>"));
        let d = diff_html("a b", "ab");
        assert!(
            d.contains(r#"<span class="seg del"><span class="r">␣</span>"#),
            "{d}"
        );
    }
}
