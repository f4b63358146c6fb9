//! `report.md`: the run summary, the SLA table per document type, accuracy, fields,
//! latency and the environment, readable on any Git host. Every table goes through the
//! report table model ([`super::table`]), which escapes its cells.

use super::console::{
    latency_row, measured, overall, pct, pct_ms, pms, sample_mark, study_mark, Pct,
    LOW_SAMPLE_LEGEND,
};
use super::escape;
use super::table::{Align, Cell, Table};
use super::{Exporter, GroupResult, ReportError, Run, RunSummary};
use crate::score::{FieldAggregate, SetScore};
use crate::sla::Status;
use std::fmt::Write;
use Align::{Left as L, Right as R};

/// `report.md`.
pub struct ReportMarkdown;

impl Exporter<Run<'_>> for ReportMarkdown {
    fn file_name(&self) -> String {
        "report.md".into()
    }

    fn render(&self, run: &Run) -> Result<Vec<u8>, ReportError> {
        Ok(report(run.summary).into_bytes())
    }
}

/// The whole report.
pub fn report(s: &RunSummary) -> String {
    let mut o = String::new();
    let c = &s.config;
    let _ = writeln!(o, "# medocr run `{}`\n", s.run_id);
    let _ = writeln!(
        o,
        "Engine **{}** ({}), dataset `{}`, DPI {}, started {}.\n",
        c.engine.name,
        c.engine.version,
        c.dataset,
        c.dpis
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        s.started
    );
    provenance(&mut o, s);
    let _ = writeln!(o, "**Overall: {}**\n", overall(s));
    let _ = write!(o, "## SLA per document type\n\n{}", sla(s).markdown());
    verdicts(&mut o, s);
    errors(&mut o, s);
    dpi_study(&mut o, s);
    accuracy(&mut o, s);
    fields(&mut o, s);
    clinical(&mut o, s);
    extraction(&mut o, s);
    latency(&mut o, s);
    reproducibility(&mut o, s);
    o
}

/// A table of `columns`, given as (name, alignment).
fn table<const N: usize>(columns: [(&str, Align); N]) -> Table {
    Table::new(columns)
}

fn sla(s: &RunSummary) -> Table {
    let mut t = table([
        ("DPI", R),
        ("type", L),
        ("status", L),
        ("limit", L),
        ("measured", R),
        ("samples", R),
        ("note", L),
    ]);
    for gv in &s.verdicts {
        for chk in &gv.verdict.checks {
            let status = match chk.status {
                Status::Pass => "PASS",
                Status::Fail => "**FAIL**",
                Status::NotMeasured => "n/a",
            };
            t.row([
                gv.dpi.to_string(),
                gv.verdict.doc_type.to_string(),
                status.to_string(),
                chk.limit.clone(),
                measured(chk),
                chk.samples.to_string(),
                chk.note.clone().unwrap_or_default(),
            ]);
        }
    }
    t
}

/// One line per verdict with its label, which says "insufficient sample" on too few
/// documents.
fn verdicts(o: &mut String, s: &RunSummary) {
    if s.verdicts.is_empty() {
        return;
    }
    o.push('\n');
    for gv in &s.verdicts {
        let v = &gv.verdict;
        let _ = writeln!(o, "- {} @ {} DPI: **{}**", v.doc_type, gv.dpi, v.label());
    }
}

/// Accuracy per group, and table scores where answers hold tables.
fn accuracy(o: &mut String, s: &RunSummary) {
    let _ = writeln!(o, "\n## Accuracy\n");
    let _ = writeln!(
        o,
        "Micro averages over documents: (S + D + I) / N. Failed documents count as empty output.\n"
    );
    let mut t = table([
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
            g.doc_type.to_string(),
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
    o.push_str(&t.markdown());
    if !s.groups.iter().any(|g| g.tables.is_some()) {
        return;
    }
    let _ = writeln!(o, "\n## Tables\n");
    let _ = writeln!(
        o,
        "Documents whose answer holds tables (Markdown or HTML): TEDS (tree-edit-distance similarity, mean over reference tables) and cell accuracy (reference cells read right at their row and column).\n"
    );
    let mut t = table([
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
                g.doc_type.to_string(),
                x.reference_tables.to_string(),
                x.answer_tables.to_string(),
                pct(x.teds),
                pct(x.cell_accuracy),
                x.cells.to_string(),
            ]);
        }
    }
    o.push_str(&t.markdown());
}

/// Field accuracy per group and field type.
fn fields(o: &mut String, s: &RunSummary) {
    let _ = writeln!(o, "\n## Fields\n");
    let _ = writeln!(o, "Each field type, projected through the character alignment and judged by its clinical matcher. Accuracy = recall = correct / located; precision = correct / read (located and not empty).\n");
    let mut t = field_table("read", "located");
    for g in &s.groups {
        for f in &g.fields {
            t.row(field_row(g, f));
        }
    }
    o.push_str(&t.markdown());
}

/// Per group, the latency percentiles and throughput.
fn latency(o: &mut String, s: &RunSummary) {
    let _ = writeln!(o, "\n## Latency\n");
    let _ = writeln!(o, "Per document, from request start (rendering included). Percentiles interpolate linearly between order statistics; n is the sample count.\n");
    let mut t = latency_table();
    for g in &s.groups {
        t.row(latency_row(g));
    }
    o.push_str(&t.markdown());
    let _ = writeln!(o, "\n{LOW_SAMPLE_LEGEND}");
}

/// The columns of [`latency_row`]: DPI, type, the figures, a note.
pub(crate) fn latency_table() -> Table {
    table([
        ("DPI", R),
        ("type", L),
        ("n", R),
        ("p50 E2E", R),
        ("p95 E2E", R),
        ("p99 E2E", R),
        ("p50 TTFT", R),
        ("p50 TPOT", R),
        ("pages/s", R),
        ("tokens/s", R),
        ("note", L),
    ])
}

/// Tool, engine, checkpoint, dataset, profiles and machine; manifest issues.
fn reproducibility(o: &mut String, s: &RunSummary) {
    let (c, e) = (&s.config, &s.environment);
    let _ = writeln!(o, "\n## Reproducibility\n");
    let _ = writeln!(
        o,
        "- medocr {} (commit {})",
        e.tool_version,
        e.git_commit.as_deref().unwrap_or("unknown")
    );
    let _ = writeln!(
        o,
        "- engine: {} {} ({}; token unit: {})",
        c.engine.name,
        c.engine.version,
        serde_json::to_string(&c.engine.streaming).unwrap_or_default(),
        c.engine.token_unit
    );
    if let Some(h) = &c.engine.checkpoint_sha256 {
        let _ = writeln!(o, "- checkpoint sha256: `{h}`");
    }
    let _ = writeln!(o, "- dataset manifest sha256: `{}`", c.manifest_sha256);
    let _ = writeln!(
        o,
        "- profiles: `{}` (sha256 `{}`)",
        c.profiles, c.profiles_sha256
    );
    let _ = writeln!(
        o,
        "- machine: {} — {}, {} cores, {} GiB{}",
        e.os,
        e.cpu,
        e.cores,
        e.memory_gib.map_or("?".into(), |m| m.to_string()),
        e.gpu
            .as_ref()
            .map_or(String::new(), |g| format!(", GPU {g}"))
    );
    let _ = writeln!(
        o,
        "- formulary: `{}`, diagnosis codes: `{}`",
        c.formulary, c.codes
    );
    if !s.manifest_issues.is_empty() {
        let _ = writeln!(o, "\n## Manifest issues\n");
        for i in &s.manifest_issues {
            let _ = writeln!(o, "- {}{}", if i.rejected { "rejected: " } else { "" }, i);
        }
    }
}

/// Failed documents: counted in the error rate and scored as empty output, never dropped.
fn errors(o: &mut String, s: &RunSummary) {
    let t = &s.totals;
    let _ = writeln!(o, "\n## Errors\n");
    if s.errors.is_empty() {
        let _ = writeln!(o, "No document failed ({} read).", t.documents);
        return;
    }
    let kinds: Vec<String> = t
        .errors_by_kind
        .iter()
        .map(|(k, n)| format!("{} {n}", k.as_str()))
        .collect();
    let _ = writeln!(
        o,
        "{} of {} documents failed ({}): {}. Each is a failed request: it counts against `max_error_rate` and is scored as an empty output. What each kind means and what to do: docs/reliability.md.\n",
        t.failed,
        t.documents,
        pct(t.error_rate),
        kinds.join(", ")
    );
    let mut list = table([
        ("document", L),
        ("type", L),
        ("DPI", R),
        ("kind", L),
        ("error", L),
    ]);
    for e in &s.errors {
        list.row([
            e.id.clone(),
            e.doc_type.to_string(),
            e.dpi.to_string(),
            e.kind.as_str().to_string(),
            e.message.clone(),
        ]);
    }
    o.push_str(&list.markdown());
}

/// The columns of a field-type table; `read` and `scored` name the two counts.
fn field_table(read: &str, scored: &str) -> Table {
    table([
        ("DPI", R),
        ("type", L),
        ("field", L),
        ("correct", R),
        (read, R),
        (scored, R),
        ("accuracy", R),
        ("precision", R),
        ("F1", R),
    ])
}

/// One row of a field-type table.
fn field_row(g: &GroupResult, f: &FieldAggregate) -> [String; 9] {
    [
        g.dpi.to_string(),
        g.doc_type.to_string(),
        f.field_type.as_str().to_string(),
        f.correct.to_string(),
        f.read.to_string(),
        f.scored.to_string(),
        pct(f.accuracy),
        pct(f.precision),
        pct(f.f1),
    ]
}

/// The columns of a set-score table.
fn set_table() -> Table {
    table([
        ("DPI", R),
        ("type", L),
        ("set", L),
        ("TP", R),
        ("FP", R),
        ("FN", R),
        ("precision", R),
        ("recall", R),
        ("F1", R),
    ])
}

/// One row of a set-score table.
fn set_row(g: &GroupResult, set: &SetScore) -> [String; 9] {
    [
        g.dpi.to_string(),
        g.doc_type.to_string(),
        set.set.as_str().to_string(),
        set.true_positives.to_string(),
        set.false_positives.to_string(),
        set.false_negatives.to_string(),
        pct(set.precision),
        pct(set.recall),
        pct(set.f1),
    ]
}

/// `--task extract`: the fields the engine answered as JSON, judged directly.
fn extraction(o: &mut String, s: &RunSummary) {
    if !s.groups.iter().any(|g| g.extraction.is_some()) {
        return;
    }
    let _ = writeln!(o, "\n## Structured extraction\n");
    let _ = writeln!(o, "The engine was asked for each document's fields as JSON (`--task extract`, prompts `{}`), and every ground-truth field was judged against its answer by the clinical matchers, beside the transcription's field scores above. An answer that is not valid JSON (`invalid_json`) or is cut off (`truncated_json`) is a failed request and gets no field right.\n", s.config.extract.as_ref().map_or("bundled", |x| x.prompts.as_str()));
    let mut t = table([
        ("DPI", R),
        ("type", L),
        ("docs", R),
        ("failed", R),
        ("fields right", R),
        ("accuracy", R),
        ("critical", R),
        ("major", R),
        ("minor", R),
        ("p50 E2E", R),
    ]);
    let (mut fields, mut sets) = (field_table("answered", "total"), set_table());
    for g in &s.groups {
        let Some(x) = &g.extraction else { continue };
        t.row([
            g.dpi.to_string(),
            g.doc_type.to_string(),
            x.documents.to_string(),
            x.failed.to_string(),
            format!("{} / {}", x.right, x.total),
            pct(x.accuracy),
            x.clinical.critical.to_string(),
            x.clinical.major.to_string(),
            x.clinical.minor.to_string(),
            pct_ms(x.e2e_ms.as_ref(), Pct::P50),
        ]);
        for f in &x.fields {
            fields.row(field_row(g, f));
        }
        for set in &x.field_sets {
            sets.row(set_row(g, set));
        }
    }
    let _ = write!(o, "{}\n{}", t.markdown(), fields.markdown());
    let _ = writeln!(
        o,
        "\nAs sets (extracted entries with no ground-truth partner are false positives):\n"
    );
    o.push_str(&sets.markdown());
    extraction_examples(o, s);
}

fn extraction_examples(o: &mut String, s: &RunSummary) {
    let mut t = table([
        ("DPI", R),
        ("document", L),
        ("field", L),
        ("severity", L),
        ("rule", L),
        ("expected", L),
        ("extracted", L),
    ]);
    for g in &s.groups {
        let Some(x) = &g.extraction else { continue };
        for e in &x.clinical.examples {
            t.row([
                g.dpi.to_string().into(),
                e.document.clone().into(),
                Cell::code(e.key.clone()),
                e.severity.to_string().into(),
                Cell::code(e.rule.clone()),
                e.expected.clone().into(),
                e.found.clone().into(),
            ]);
        }
    }
    if !t.is_empty() {
        let _ = write!(o, "\n### Extraction error examples\n\n{}", t.markdown());
    }
}

/// Set scores of codes and drugs, clinical error counts, examples and confusions.
fn clinical(o: &mut String, s: &RunSummary) {
    let _ = writeln!(o, "\n## Diagnosis codes and drug names\n");
    let _ = writeln!(o, "Micro set scores over documents; `diagnosis_category` gives partial credit to the right 3-character category.\n");
    let mut t = set_table();
    for g in &s.groups {
        for set in g
            .field_sets
            .iter()
            .filter(|x| x.true_positives + x.false_negatives > 0)
        {
            t.row(set_row(g, set));
        }
    }
    o.push_str(&t.markdown());
    clinical_errors(o, s);
    clinical_examples(o, s);
    confusions(o, s);
}

/// Severity counts and the most frequent rules per group, then the matcher notes.
fn clinical_errors(o: &mut String, s: &RunSummary) {
    let _ = writeln!(o, "\n## Clinical errors\n");
    let _ = writeln!(o, "Every wrong field carries a severity and the rule that assigned it (docs/metrics.md lists the rules).\n");
    let mut t = table([
        ("DPI", R),
        ("type", L),
        ("docs", R),
        ("critical", R),
        ("major", R),
        ("minor", R),
        ("critical / 1,000 docs", R),
        ("most frequent rules", L),
    ]);
    for g in &s.groups {
        let c = &g.clinical;
        let rules: Vec<String> = c
            .rules
            .iter()
            .take(4)
            .map(|r| format!("`{}` ×{}", escape::markdown_code(&r.rule), r.count))
            .collect();
        t.row([
            g.dpi.to_string().into(),
            g.doc_type.to_string().into(),
            g.documents.to_string().into(),
            c.critical.to_string().into(),
            c.major.to_string().into(),
            c.minor.to_string().into(),
            c.critical_per_1000_docs
                .map_or("—".into(), |v| format!("{v:.0}"))
                .into(),
            Cell::Raw(rules.join(", ")),
        ]);
    }
    o.push_str(&t.markdown());
    let noted: Vec<String> = s
        .groups
        .iter()
        .filter(|g| !g.clinical.notes.is_empty())
        .map(|g| {
            let notes: Vec<String> = g
                .clinical
                .notes
                .iter()
                .take(6)
                .map(|n| format!("`{}` ×{}", n.note, n.count))
                .collect();
            format!("- {} DPI {}: {}", g.dpi, g.doc_type, notes.join(", "))
        })
        .collect();
    if !noted.is_empty() {
        let _ = writeln!(o, "\nMatcher notes (not errors by themselves: glyph confusions behind wrong codes, error-prone dose notation such as trailing zeros):\n\n{}", noted.join("\n"));
    }
}

/// Redacted error examples with the aligned line they came from.
fn clinical_examples(o: &mut String, s: &RunSummary) {
    let mut t = table([
        ("DPI", R),
        ("document", L),
        ("field", L),
        ("severity", L),
        ("rule", L),
        ("expected", L),
        ("read", L),
        ("line (reference / read)", L),
    ]);
    for g in &s.groups {
        for e in &g.clinical.examples {
            let line = e.context.as_ref().map_or(String::new(), |c| {
                format!(
                    "{}<br>{}",
                    escape::markdown(&c.reference),
                    escape::markdown(&c.recognised)
                )
            });
            t.row([
                g.dpi.to_string().into(),
                e.document.clone().into(),
                Cell::code(e.key.clone()),
                e.severity.to_string().into(),
                Cell::code(e.rule.clone()),
                e.expected.clone().into(),
                e.found.clone().into(),
                Cell::Raw(line),
            ]);
        }
    }
    if t.is_empty() {
        return;
    }
    let redacted = if s.config.phi_shown {
        "Patient identifiers are shown (`--show-phi`)."
    } else {
        "Patient names and identifier numbers are masked."
    };
    let _ = write!(o, "\n### Error examples\n\n{redacted}\n\n{}", t.markdown());
}

/// The most frequent character confusions per group.
fn confusions(o: &mut String, s: &RunSummary) {
    let _ = writeln!(o, "\n## Character confusions\n");
    let _ = writeln!(
        o,
        "Most frequent reference → recognised pairs of the CER alignment (∅: nothing).\n"
    );
    let mut t = table([("DPI", R), ("type", L), ("confusions", L)]);
    for g in &s.groups {
        let pairs: Vec<String> = g
            .confusions
            .iter()
            .take(10)
            .map(|c| {
                format!(
                    "{}→{} ×{}",
                    show(&c.reference),
                    show(&c.recognised),
                    c.count
                )
            })
            .collect();
        t.row([g.dpi.to_string(), g.doc_type.to_string(), pairs.join(", ")]);
    }
    o.push_str(&t.markdown());
}

/// A grapheme as a confusion shows it: `∅` for nothing, `␠` for a space.
fn show(t: &str) -> &str {
    match t {
        "" => "∅",
        " " => "␠",
        t => t,
    }
}

/// The DPI trade-off of a multi-DPI run.
fn dpi_study(o: &mut String, s: &RunSummary) {
    if s.dpi_study.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n## DPI trade-off\n");
    let _ = writeln!(o, "Per document type and DPI. **Recommended** is the lowest DPI whose SLA verdict passes; *Pareto* marks the DPIs no other DPI beats on both CER and p95 E2E. Peak RSS is the whole process while a document ran.\n");
    let mut t = table([
        ("type", L),
        ("DPI", R),
        ("CER", R),
        ("worst field", R),
        ("critical", R),
        ("p50 E2E", R),
        ("p95 E2E", R),
        ("p50 TTFT", R),
        ("peak RSS", R),
        ("MP/page", R),
        ("tokens/page", R),
        ("SLA", L),
        ("Pareto", L),
    ]);
    for st in &s.dpi_study {
        for p in &st.points {
            let dpi = if Some(p.dpi) == st.recommended_dpi {
                format!("**{}** (recommended)", p.dpi)
            } else {
                p.dpi.to_string()
            };
            let r = &p.resources;
            t.row([
                st.doc_type.to_string(),
                dpi,
                pct(p.cer),
                pct(p.worst_field_accuracy),
                p.critical_errors.to_string(),
                pms(p.p50_e2e_ms, p.p50_e2e_low_sample),
                pms(p.p95_e2e_ms, p.p95_e2e_low_sample),
                pms(p.p50_ttft_ms, p.p50_ttft_low_sample),
                r.peak_rss_mib.map_or("—".into(), |m| format!("{m:.0} MiB")),
                r.pixels_per_page
                    .map_or("—".into(), |v| format!("{:.2}", v / 1e6)),
                r.image_tokens_per_page
                    .map_or("—".into(), |v| format!("{v:.0}")),
                p.sla.map_or("—", |x| x.label()).to_string(),
                if p.pareto { "yes" } else { "" }.to_string(),
            ]);
        }
    }
    o.push_str(&t.markdown());
    let _ = writeln!(o, "\n{LOW_SAMPLE_LEGEND}");
    for st in &s.dpi_study {
        let _ = writeln!(
            o,
            "\n- {}: recommended DPI {}{}",
            st.doc_type,
            st.recommended_dpi
                .map_or("— none meets the SLA".to_string(), |d| d.to_string()),
            study_mark(st)
        );
    }
}

/// Shard and merge provenance, and the token-count fallback, stated before any number.
fn provenance(o: &mut String, s: &RunSummary) {
    if let Some(sh) = &s.config.shard {
        let _ = writeln!(
            o,
            "Shard {}/{} of {} selected documents: this report covers only this shard; combine all {} with `medocr merge`.\n",
            sh.index, sh.count, sh.selected_documents, sh.count
        );
    }
    if !s.merged_from.is_empty() {
        let ids: Vec<String> = s
            .merged_from
            .iter()
            .map(|m| format!("{}/{} `{}`", m.index, s.merged_from.len(), m.run_id))
            .collect();
        let _ = writeln!(
            o,
            "Merged from {} shards ({}): every figure is recomputed from their per-document results; wall time and pages/s are over the shards' summed wall time.\n",
            s.merged_from.len(),
            ids.join(", ")
        );
    }
    let n = s.totals.documents_without_usage;
    if n > 0 {
        let _ = writeln!(
            o,
            "Note: {n} of {} documents were answered without the server's `usage`: their output tokens are stream chunks counted by the client, not server tokens (tokens/s and TPOT use chunks for them; see `pages_without_usage` in documents.csv).\n",
            s.totals.documents
        );
    }
}
