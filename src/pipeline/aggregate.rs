//! From per-document results to per-(DPI, document type) groups, totals and SLA verdicts.

use super::clinical::{summarize_clinical, summarize_verdicts, Privacy};
use crate::dataset::DocType;
use crate::report::{
    DocumentError, DocumentResult, ErrorKind, Extraction, ExtractionGroup, GroupResult,
    GroupVerdict, LatencyAggregate, Rate, Resources, Throughput, Totals,
};
use crate::score::{
    aggregate_fields, aggregate_sets, confusion, OrderScore, SetKind, TableScore, TextScore,
};
use crate::sla::{check, Measured, Profile};
use crate::stats::Summary;
use crate::stats::{SampleSize, MIN_DOCUMENTS_PER_TYPE};
use std::collections::BTreeMap;

/// Groups, verdicts and totals of a run. `wall_time_s` is the run's wall-clock time.
pub fn summarize(
    results: &[DocumentResult],
    profiles: &BTreeMap<DocType, Profile>,
    wall_time_s: f64,
    privacy: Privacy,
) -> (Vec<GroupResult>, Vec<GroupVerdict>, Totals) {
    // f32 DPIs are keyed by their bit pattern: they come from the same parsed list.
    let mut by_group: BTreeMap<(u32, DocType), Vec<&DocumentResult>> = BTreeMap::new();
    for r in results {
        by_group
            .entry((r.dpi.to_bits(), r.doc_type))
            .or_default()
            .push(r);
    }
    let mut groups: Vec<GroupResult> = by_group.values().map(|docs| group(docs, privacy)).collect();
    for g in &mut groups {
        let minimum = profiles
            .get(&g.doc_type)
            .map_or(MIN_DOCUMENTS_PER_TYPE, |p| p.min_documents);
        g.sample = Some(SampleSize::new(g.documents, minimum));
    }
    groups.sort_by(|a, b| a.dpi.total_cmp(&b.dpi).then(a.doc_type.cmp(&b.doc_type)));

    let verdicts = groups
        .iter()
        .filter_map(|g| {
            let profile = profiles.get(&g.doc_type)?;
            let docs = &by_group[&(g.dpi.to_bits(), g.doc_type)];
            Some(GroupVerdict {
                dpi: g.dpi,
                verdict: check(profile, &measured(g, docs)),
            })
        })
        .collect();

    let mut totals = Totals {
        wall_time_s,
        ..Totals::default()
    };
    let mut output_tokens = 0usize;
    for r in results {
        totals.documents += 1;
        totals.failed += usize::from(r.failed());
        for (kind, _) in errors_of(r) {
            *totals.errors_by_kind.entry(kind).or_default() += 1;
        }
        totals.pages += r.pages;
        add(&mut totals.cer, &r.score.cer);
        add(&mut totals.wer, &r.score.wer);
        output_tokens += r.timing.output_tokens;
        totals.documents_without_usage += usize::from(r.timing.pages_without_usage > 0);
    }
    totals.error_rate = rate_of(totals.failed, totals.documents);
    if wall_time_s > 0.0 {
        totals.pages_per_s = Some(totals.pages as f64 / wall_time_s);
        totals.output_tokens_per_s = Some(output_tokens as f64 / wall_time_s);
    }
    (groups, verdicts, totals)
}

/// Every failed request (transcription, then extraction) with its error kind and message,
/// in run order.
pub fn document_errors(results: &[DocumentResult]) -> Vec<DocumentError> {
    results
        .iter()
        .flat_map(|r| {
            errors_of(r).map(|(kind, message)| DocumentError {
                id: r.id.clone(),
                doc_type: r.doc_type,
                dpi: r.dpi,
                kind,
                message: message.to_string(),
            })
        })
        .collect()
}

/// The errors of a document's transcription and extraction requests.
fn errors_of(r: &DocumentResult) -> impl Iterator<Item = (ErrorKind, &str)> {
    let transcription = r
        .error
        .as_deref()
        .map(|m| (r.error_kind.unwrap_or(ErrorKind::Engine), m));
    let extraction = r.extraction.as_ref().and_then(|e| {
        let m = e.error.as_deref()?;
        Some((e.error_kind.unwrap_or(ErrorKind::Engine), m))
    });
    transcription.into_iter().chain(extraction)
}

fn rate_of(failed: usize, documents: usize) -> Option<f64> {
    (documents > 0).then(|| failed as f64 / documents as f64)
}

fn add(rate: &mut Rate, s: &TextScore) {
    rate.add(s.substitutions, s.deletions, s.insertions, s.ref_len);
}

/// Confusion pairs kept per group.
const TOP_CONFUSIONS: usize = 20;

fn group(docs: &[&DocumentResult], privacy: Privacy) -> GroupResult {
    let first = docs[0];
    let mut g = GroupResult {
        doc_type: first.doc_type,
        dpi: first.dpi,
        documents: docs.len(),
        sample: None,
        failed: 0,
        error_rate: None,
        pages: 0,
        cer: Rate::default(),
        cer_no_space: Rate::default(),
        cer_jamo: Rate::default(),
        wer: Rate::default(),
        order: order_sum(docs),
        tables: {
            let t: Vec<TableScore> = docs.iter().filter_map(|r| r.score.tables).collect();
            (!t.is_empty()).then(|| TableScore::sum(&t))
        },
        fields: aggregate_fields(docs.iter().flat_map(|r| &r.score.fields)),
        field_sets: aggregate_sets(docs.iter().flat_map(|r| &r.score.field_sets)),
        clinical: summarize_clinical(docs, privacy),
        confusions: confusion::merge(
            docs.iter().map(|r| r.score.confusions.as_slice()),
            TOP_CONFUSIONS,
        ),
        latency: LatencyAggregate::default(),
        throughput: Throughput::default(),
        resources: resources(docs),
        extraction: extraction_group(docs, privacy),
    };
    let mut e2e = Vec::new();
    let mut ttft = Vec::new();
    let mut tpot = Vec::new();
    let mut itl = Vec::new();
    let mut stage_sums: BTreeMap<_, f64> = BTreeMap::new();
    let mut tokens = 0usize;
    let mut timed_pages = 0usize;
    for r in docs {
        g.failed += usize::from(r.failed());
        g.pages += r.pages;
        add(&mut g.cer, &r.score.cer);
        add(&mut g.cer_no_space, &r.score.cer_no_space);
        add(&mut g.cer_jamo, &r.score.cer_jamo);
        add(&mut g.wer, &r.score.wer);
        // Latency statistics describe successful requests; failures are counted separately.
        if r.error.is_none() && r.timing.timed {
            e2e.extend(r.timing.e2e_ms);
            ttft.extend(r.timing.ttft_ms);
            tpot.extend(r.timing.tpot_ms);
            itl.extend_from_slice(&r.timing.itl_ms);
            tokens += r.timing.output_tokens;
            timed_pages += r.pages;
            for (stage, ms) in &r.timing.stages_ms {
                *stage_sums.entry(*stage).or_default() += ms;
            }
        }
    }
    g.error_rate = rate_of(g.failed, g.documents);
    let n_timed = e2e.len();
    g.latency = LatencyAggregate {
        e2e_ms: Summary::from_values(&e2e),
        ttft_ms: Summary::from_values(&ttft),
        tpot_ms: Summary::from_values(&tpot),
        itl_ms: Summary::from_values(&itl),
        stages_mean_ms: stage_sums
            .into_iter()
            .map(|(k, v)| (k, v / n_timed.max(1) as f64))
            .collect(),
        note: None,
    };
    if n_timed > 0 && tpot.is_empty() {
        g.latency.note =
            Some("the engine does not stream: TTFT equals E2E, TPOT/ITL undefined".into());
    }
    let busy_s: f64 = e2e.iter().sum::<f64>() / 1e3;
    if busy_s > 0.0 {
        g.throughput = Throughput {
            tokens_per_s: Some(tokens as f64 / busy_s),
            pages_per_s: Some(timed_pages as f64 / busy_s),
        };
    }
    g
}

/// The group's extractions; `None` unless the run extracted (`--task extract`).
fn extraction_group(docs: &[&DocumentResult], privacy: Privacy) -> Option<ExtractionGroup> {
    let ex: Vec<&Extraction> = docs.iter().filter_map(|r| r.extraction.as_ref()).collect();
    if ex.is_empty() {
        return None;
    }
    let (right, total) = ex.iter().fold((0, 0), |(r, t), e| {
        let (er, et) = e.right_of_total();
        (r + er, t + et)
    });
    let with: Vec<&DocumentResult> = docs
        .iter()
        .copied()
        .filter(|r| r.extraction.is_some())
        .collect();
    let e2e: Vec<f64> = ex
        .iter()
        .filter(|e| e.error.is_none())
        .filter_map(|e| e.e2e_ms)
        .collect();
    Some(ExtractionGroup {
        documents: ex.len(),
        failed: ex.iter().filter(|e| e.error.is_some()).count(),
        right,
        total,
        accuracy: rate_of(right, total),
        fields: aggregate_fields(ex.iter().flat_map(|e| &e.fields)),
        field_sets: aggregate_sets(ex.iter().flat_map(|e| &e.field_sets)),
        clinical: summarize_verdicts(
            &with,
            |r| r.extraction.as_ref().map_or(&[], |e| e.fields.as_slice()),
            privacy,
        ),
        e2e_ms: Summary::from_values(&e2e),
    })
}

/// The group's order scores summed; `None` unless every document has one (a run written
/// before them, or an answer too long to match line by line, leaves the sum undefined).
fn order_sum(docs: &[&DocumentResult]) -> Option<OrderScore> {
    let scores: Option<Vec<OrderScore>> = docs.iter().map(|r| r.score.order).collect();
    scores.map(|s| OrderScore::sum(&s))
}

fn resources(docs: &[&DocumentResult]) -> Resources {
    let ok: Vec<&&DocumentResult> = docs.iter().filter(|r| r.error.is_none()).collect();
    let pages: usize = ok.iter().map(|r| r.pages).sum();
    let per_page = |total: Option<f64>| total.filter(|_| pages > 0).map(|t| t / pages as f64);
    let pixels = ok.iter().map(|r| r.pixels as f64).sum::<f64>();
    let tokens: Option<f64> = ok
        .iter()
        .map(|r| r.timing.input_tokens.map(|n| n as f64))
        .sum();
    Resources {
        peak_rss_mib: docs
            .iter()
            .filter_map(|r| r.peak_rss_mib)
            .max_by(f64::total_cmp),
        pixels_per_page: per_page(Some(pixels)),
        image_tokens_per_page: per_page(tokens),
    }
}

fn measured(g: &GroupResult, docs: &[&DocumentResult]) -> Measured {
    let ok = || docs.iter().filter(|r| r.error.is_none() && r.timing.timed);
    Measured {
        documents: g.documents,
        failed: g.failed,
        cer: g.cer.rate,
        wer: g.wer.rate,
        cer_unordered: g.order.and_then(|o| o.rate),
        reading_order: g.order.and_then(|o| o.reading_order),
        field_accuracy: g
            .fields
            .iter()
            .map(|f| (f.field_type.as_str().to_string(), f.accuracy))
            .collect(),
        e2e_ms: ok().filter_map(|r| r.timing.e2e_ms).collect(),
        ttft_ms: ok().filter_map(|r| r.timing.ttft_ms).collect(),
        timed: docs.iter().any(|r| r.timing.timed),
        code_f1: g
            .field_sets
            .iter()
            .find(|s| s.set == SetKind::DiagnosisCode)
            .and_then(|s| s.f1),
        critical_errors: g.clinical.critical,
        extraction_accuracy: g.extraction.as_ref().and_then(|e| e.accuracy),
        extraction_critical_errors: g.extraction.as_ref().map(|e| e.clinical.critical),
    }
}
