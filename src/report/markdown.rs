//! `report.md`: the run summary, the SLA table per document type, accuracy, fields,
//! latency and the environment, readable on any Git host.

use super::console::{latency_row, measured, ms, pct};
use super::{GroupResult, RunSummary};
use crate::score::{FieldAggregate, SetScore};
use crate::sla::Status;
use std::fmt::Write;

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
    let overall = if s.any_failed() { "FAIL" } else { "PASS" };
    let _ = writeln!(o, "**Overall: {overall}**\n");

    let _ = writeln!(o, "## SLA per document type\n");
    let _ = writeln!(
        o,
        "| DPI | type | status | limit | measured | samples | note |"
    );
    let _ = writeln!(o, "|---:|---|---|---|---:|---:|---|");
    for gv in &s.verdicts {
        for chk in &gv.verdict.checks {
            let measured = measured(chk);
            let status = match chk.status {
                Status::Pass => "PASS",
                Status::Fail => "**FAIL**",
                Status::NotMeasured => "n/a",
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} |",
                gv.dpi,
                gv.verdict.doc_type,
                status,
                chk.limit,
                measured,
                chk.samples,
                chk.note.clone().unwrap_or_default()
            );
        }
    }

    errors(&mut o, s);

    dpi_study(&mut o, s);

    let _ = writeln!(o, "\n## Accuracy\n");
    let _ = writeln!(
        o,
        "Micro averages over documents: (S + D + I) / N. Failed documents count as empty output.\n"
    );
    let _ = writeln!(
        o,
        "| DPI | type | docs | failed | CER | CER (no spaces) | jamo CER | WER | CER (any order) | reading order | N chars |"
    );
    let _ = writeln!(o, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for g in &s.groups {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            g.dpi,
            g.doc_type,
            g.documents,
            g.failed,
            pct(g.cer.rate),
            pct(g.cer_no_space.rate),
            pct(g.cer_jamo.rate),
            pct(g.wer.rate),
            pct(g.cer_unordered()),
            pct(g.reading_order()),
            g.cer.reference_units
        );
    }

    if s.groups.iter().any(|g| g.tables.is_some()) {
        let _ = writeln!(o, "\n## Tables\n");
        let _ = writeln!(
            o,
            "Documents whose answer holds tables (Markdown or HTML): TEDS (tree-edit-distance similarity, mean over reference tables) and cell accuracy (reference cells read right at their row and column).\n"
        );
        let _ = writeln!(
            o,
            "| DPI | type | reference tables | answer tables | TEDS | cell accuracy | cells |"
        );
        let _ = writeln!(o, "|---:|---|---:|---:|---:|---:|---:|");
        for g in &s.groups {
            if let Some(t) = &g.tables {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    g.dpi,
                    g.doc_type,
                    t.reference_tables,
                    t.answer_tables,
                    pct(t.teds),
                    pct(t.cell_accuracy),
                    t.cells
                );
            }
        }
    }

    let _ = writeln!(o, "\n## Fields\n");
    let _ = writeln!(o, "Each field type, projected through the character alignment and judged by its clinical matcher. Accuracy = recall = correct / located; precision = correct / read (located and not empty).\n");
    let _ = writeln!(
        o,
        "| DPI | type | field | correct | read | located | accuracy | precision | F1 |"
    );
    let _ = writeln!(o, "|---:|---|---|---:|---:|---:|---:|---:|---:|");
    for g in &s.groups {
        for f in &g.fields {
            field_row(&mut o, g, f);
        }
    }

    clinical(&mut o, s);
    extraction(&mut o, s);

    let _ = writeln!(o, "\n## Latency\n");
    let _ = writeln!(o, "Per document, from request start (rendering included). Percentiles interpolate linearly between order statistics; n is the sample count.\n");
    let _ = writeln!(o, "| DPI | type | n | p50 E2E | p95 E2E | p99 E2E | p50 TTFT | p50 TPOT | pages/s | tokens/s | note |");
    let _ = writeln!(o, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for g in &s.groups {
        let _ = writeln!(o, "| {} |", latency_row(g).join(" | "));
    }

    let e = &s.environment;
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
    o
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
    let _ = writeln!(o, "| document | type | DPI | kind | error |");
    let _ = writeln!(o, "|---|---|---:|---|---|");
    for e in &s.errors {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            e.id,
            e.doc_type,
            e.dpi,
            e.kind.as_str(),
            e.message.replace('|', "\\|").replace('\n', " ")
        );
    }
}

/// Set scores, clinical error counts, examples and character confusions.
/// One row of a field-type table: `| DPI | type | field | correct | read | scored | accuracy
/// | precision | F1 |`.
fn field_row(o: &mut String, g: &GroupResult, f: &FieldAggregate) {
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        g.dpi,
        g.doc_type,
        f.field_type.as_str(),
        f.correct,
        f.read,
        f.scored,
        pct(f.accuracy),
        pct(f.precision),
        pct(f.f1)
    );
}

/// One row of a set-score table: `| DPI | type | set | TP | FP | FN | precision | recall | F1 |`.
fn set_row(o: &mut String, g: &GroupResult, set: &SetScore) {
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        g.dpi,
        g.doc_type,
        set.set.as_str(),
        set.true_positives,
        set.false_positives,
        set.false_negatives,
        pct(set.precision),
        pct(set.recall),
        pct(set.f1)
    );
}

/// `--task extract`: the fields the engine answered as JSON, judged directly.
fn extraction(o: &mut String, s: &RunSummary) {
    if !s.groups.iter().any(|g| g.extraction.is_some()) {
        return;
    }
    let _ = writeln!(o, "\n## Structured extraction\n");
    let _ = writeln!(o, "The engine was asked for each document's fields as JSON (`--task extract`, prompts `{}`), and every ground-truth field was judged against its answer by the clinical matchers, beside the transcription's field scores above. An answer that is not valid JSON (`invalid_json`) or is cut off (`truncated_json`) is a failed request and gets no field right.\n", s.config.extract.as_ref().map_or("bundled", |x| x.prompts.as_str()));
    let _ = writeln!(o, "| DPI | type | docs | failed | fields right | accuracy | critical | major | minor | p50 E2E |");
    let _ = writeln!(o, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for g in &s.groups {
        let Some(x) = &g.extraction else { continue };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} / {} | {} | {} | {} | {} | {} |",
            g.dpi,
            g.doc_type,
            x.documents,
            x.failed,
            x.right,
            x.total,
            pct(x.accuracy),
            x.clinical.critical,
            x.clinical.major,
            x.clinical.minor,
            ms(x.e2e_ms.as_ref().map(|l| l.p50))
        );
    }
    let _ = writeln!(
        o,
        "\n| DPI | type | field | correct | answered | total | accuracy | precision | F1 |"
    );
    let _ = writeln!(o, "|---:|---|---|---:|---:|---:|---:|---:|---:|");
    for g in &s.groups {
        let Some(x) = &g.extraction else { continue };
        for f in &x.fields {
            field_row(o, g, f);
        }
    }
    let _ = writeln!(
        o,
        "\nAs sets (extracted entries with no ground-truth partner are false positives):\n"
    );
    let _ = writeln!(
        o,
        "| DPI | type | set | TP | FP | FN | precision | recall | F1 |"
    );
    let _ = writeln!(o, "|---:|---|---|---:|---:|---:|---:|---:|---:|");
    for g in &s.groups {
        let Some(x) = &g.extraction else { continue };
        for set in &x.field_sets {
            set_row(o, g, set);
        }
    }
    let examples: Vec<_> = s
        .groups
        .iter()
        .filter_map(|g| Some((g, g.extraction.as_ref()?)))
        .flat_map(|(g, x)| x.clinical.examples.iter().map(move |e| (g, e)))
        .collect();
    if !examples.is_empty() {
        let _ = writeln!(o, "\n### Extraction error examples\n");
        let _ = writeln!(
            o,
            "| DPI | document | field | severity | rule | expected | extracted |"
        );
        let _ = writeln!(o, "|---:|---|---|---|---|---|---|");
        for (g, e) in examples {
            let _ = writeln!(
                o,
                "| {} | {} | `{}` | {} | `{}` | {} | {} |",
                g.dpi,
                e.document,
                e.key,
                e.severity,
                e.rule,
                cell(&e.expected),
                cell(&e.found)
            );
        }
    }
}

fn clinical(o: &mut String, s: &RunSummary) {
    let _ = writeln!(o, "\n## Diagnosis codes and drug names\n");
    let _ = writeln!(o, "Micro set scores over documents; `diagnosis_category` gives partial credit to the right 3-character category.\n");
    let _ = writeln!(
        o,
        "| DPI | type | set | TP | FP | FN | precision | recall | F1 |"
    );
    let _ = writeln!(o, "|---:|---|---|---:|---:|---:|---:|---:|---:|");
    for g in &s.groups {
        for set in g
            .field_sets
            .iter()
            .filter(|x| x.true_positives + x.false_negatives > 0)
        {
            set_row(o, g, set);
        }
    }

    let _ = writeln!(o, "\n## Clinical errors\n");
    let _ = writeln!(o, "Every wrong field carries a severity and the rule that assigned it (docs/metrics.md lists the rules).\n");
    let _ = writeln!(o, "| DPI | type | docs | critical | major | minor | critical / 1,000 docs | most frequent rules |");
    let _ = writeln!(o, "|---:|---|---:|---:|---:|---:|---:|---|");
    for g in &s.groups {
        let c = &g.clinical;
        let rules: Vec<String> = c
            .rules
            .iter()
            .take(4)
            .map(|r| format!("`{}` ×{}", r.rule, r.count))
            .collect();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            g.dpi,
            g.doc_type,
            g.documents,
            c.critical,
            c.major,
            c.minor,
            c.critical_per_1000_docs
                .map_or("—".into(), |v| format!("{v:.0}")),
            rules.join(", ")
        );
    }
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
    let examples: Vec<_> = s
        .groups
        .iter()
        .flat_map(|g| g.clinical.examples.iter().map(move |e| (g, e)))
        .collect();
    if !examples.is_empty() {
        let redacted = if s.config.phi_shown {
            "Patient identifiers are shown (`--show-phi`)."
        } else {
            "Patient names and identifier numbers are masked."
        };
        let _ = writeln!(o, "\n### Error examples\n\n{redacted}\n");
        let _ = writeln!(o, "| DPI | document | field | severity | rule | expected | read | line (reference / read) |");
        let _ = writeln!(o, "|---:|---|---|---|---|---|---|---|");
        for (g, e) in examples {
            let line = e.context.as_ref().map_or(String::new(), |c| {
                format!("{}<br>{}", cell(&c.reference), cell(&c.recognised))
            });
            let _ = writeln!(
                o,
                "| {} | {} | `{}` | {} | `{}` | {} | {} | {} |",
                g.dpi,
                e.document,
                e.key,
                e.severity,
                e.rule,
                cell(&e.expected),
                cell(&e.found),
                line
            );
        }
    }

    let _ = writeln!(o, "\n## Character confusions\n");
    let _ = writeln!(
        o,
        "Most frequent reference → recognised pairs of the CER alignment (∅: nothing).\n"
    );
    let _ = writeln!(o, "| DPI | type | confusions |");
    let _ = writeln!(o, "|---:|---|---|");
    for g in &s.groups {
        let pairs: Vec<String> = g
            .confusions
            .iter()
            .take(10)
            .map(|c| {
                let show = |t: &str| {
                    if t.is_empty() {
                        "∅".to_string()
                    } else if t == " " {
                        "␠".to_string()
                    } else {
                        cell(t)
                    }
                };
                format!(
                    "{}→{} ×{}",
                    show(&c.reference),
                    show(&c.recognised),
                    c.count
                )
            })
            .collect();
        let _ = writeln!(o, "| {} | {} | {} |", g.dpi, g.doc_type, pairs.join(", "));
    }
}

/// Text made safe for a Markdown table cell.
fn cell(t: &str) -> String {
    t.replace('|', "\\|").replace('\n', " ")
}

/// The DPI trade-off of a multi-DPI run.
fn dpi_study(o: &mut String, s: &RunSummary) {
    if s.dpi_study.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n## DPI trade-off\n");
    let _ = writeln!(o, "Per document type and DPI. **Recommended** is the lowest DPI whose SLA verdict passes; *Pareto* marks the DPIs no other DPI beats on both CER and p95 E2E. Peak RSS is the whole process while a document ran.\n");
    let _ = writeln!(o, "| type | DPI | CER | worst field | critical | p50 E2E | p95 E2E | p50 TTFT | peak RSS | MP/page | tokens/page | SLA | Pareto |");
    let _ = writeln!(
        o,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
    );
    for t in &s.dpi_study {
        for p in &t.points {
            let dpi = if Some(p.dpi) == t.recommended_dpi {
                format!("**{}** (recommended)", p.dpi)
            } else {
                p.dpi.to_string()
            };
            let r = &p.resources;
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                t.doc_type,
                dpi,
                pct(p.cer),
                pct(p.worst_field_accuracy),
                p.critical_errors,
                ms(p.p50_e2e_ms),
                ms(p.p95_e2e_ms),
                ms(p.p50_ttft_ms),
                r.peak_rss_mib.map_or("—".into(), |m| format!("{m:.0} MiB")),
                r.pixels_per_page
                    .map_or("—".into(), |v| format!("{:.2}", v / 1e6)),
                r.image_tokens_per_page
                    .map_or("—".into(), |v| format!("{v:.0}")),
                p.sla.map_or("—", |st| st.label()),
                if p.pareto { "yes" } else { "" }
            );
        }
    }
    for t in &s.dpi_study {
        let _ = writeln!(
            o,
            "\n- {}: recommended DPI {}",
            t.doc_type,
            t.recommended_dpi
                .map_or("— none meets the SLA".to_string(), |d| d.to_string())
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
