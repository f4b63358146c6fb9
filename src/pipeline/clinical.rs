//! The clinical side of a group: field errors counted by severity and rule, and a few
//! redacted examples a reviewer can read.

use crate::report::redact::Redactor;
use crate::report::{ClinicalSummary, DocumentResult, ErrorExample, NoteCount, RuleCount};
use crate::score::{FieldError, FieldResult, FieldType, Severity};
use std::collections::HashMap;

/// Whether report text may quote patient identifiers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Privacy {
    /// Names and identifier digits masked (the default).
    #[default]
    Redacted,
    /// Quoted as read (`--show-phi`), for reviewers entitled to see them.
    ShowPhi,
}

/// Examples kept per group.
const EXAMPLES: usize = 8;

/// The clinical summary of the transcription-based field verdicts.
pub fn summarize_clinical(docs: &[&DocumentResult], privacy: Privacy) -> ClinicalSummary {
    summarize_verdicts(docs, |d| &d.score.fields, privacy)
}

/// The clinical summary of the field verdicts `verdicts` picks from each document (the
/// transcription's, or the extraction's).
pub fn summarize_verdicts<'d>(
    docs: &[&'d DocumentResult],
    verdicts: impl Fn(&'d DocumentResult) -> &'d [FieldResult],
    privacy: Privacy,
) -> ClinicalSummary {
    let mut s = ClinicalSummary::default();
    let mut rules: HashMap<(&str, Severity), usize> = HashMap::new();
    let mut candidates = Vec::new();
    let mut notes: HashMap<&str, usize> = HashMap::new();
    for doc in docs {
        for f in verdicts(doc) {
            for n in &f.notes {
                *notes.entry(n.as_str()).or_default() += 1;
            }
            let Some(e) = &f.error else { continue };
            match e.severity {
                Severity::Critical => s.critical += 1,
                Severity::Major => s.major += 1,
                Severity::Minor => s.minor += 1,
            }
            *rules.entry((e.rule.as_str(), e.severity)).or_default() += 1;
            candidates.push((*doc, f, e));
        }
    }
    if !docs.is_empty() {
        s.critical_per_1000_docs = Some(s.critical as f64 * 1000.0 / docs.len() as f64);
    }
    s.rules = rule_counts(rules);
    s.notes = note_counts(notes);
    s.examples = rank_examples(candidates)
        .into_iter()
        .take(EXAMPLES)
        .map(|(doc, f, e)| example(doc, f, e, privacy))
        .collect();
    s
}

/// A field error with its document: a candidate example.
type Candidate<'d> = (&'d DocumentResult, &'d FieldResult, &'d FieldError);

/// Errors per (rule, severity), most frequent first.
fn rule_counts(rules: HashMap<(&str, Severity), usize>) -> Vec<RuleCount> {
    let mut out: Vec<RuleCount> = rules
        .into_iter()
        .map(|((rule, severity), count)| RuleCount {
            rule: rule.to_string(),
            severity,
            count,
        })
        .collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.severity.cmp(&a.severity))
            .then_with(|| a.rule.cmp(&b.rule))
    });
    out
}

/// Matcher notes by count, most frequent first.
fn note_counts(notes: HashMap<&str, usize>) -> Vec<NoteCount> {
    let mut out: Vec<NoteCount> = notes
        .into_iter()
        .map(|(note, count)| NoteCount {
            note: note.to_string(),
            count,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.note.cmp(&b.note)));
    out
}

/// Most severe first; within a severity, one example per rule before repeats.
fn rank_examples(candidates: Vec<Candidate<'_>>) -> Vec<Candidate<'_>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut ranked: Vec<_> = candidates
        .into_iter()
        .map(|c| {
            let n = seen.entry(c.2.rule.as_str()).or_default();
            *n += 1;
            ((std::cmp::Reverse(c.2.severity), *n), c)
        })
        .collect();
    ranked.sort_by_key(|(rank, _)| *rank);
    ranked.into_iter().map(|(_, c)| c).collect()
}

/// One error as a reviewer reads it, patient identifiers masked unless `privacy` shows them.
fn example(
    doc: &DocumentResult,
    f: &FieldResult,
    e: &FieldError,
    privacy: Privacy,
) -> ErrorExample {
    let name = doc
        .score
        .fields
        .iter()
        .find(|f| f.field_type == FieldType::PatientName)
        .map(|f| f.expected.as_str());
    let redactor = Redactor::new(name);
    let quote = |t: &str| match privacy {
        Privacy::ShowPhi => t.to_string(),
        Privacy::Redacted => redactor.redact(t),
    };
    let is_name = f.field_type == FieldType::PatientName;
    let value = |t: &str| {
        if is_name && privacy == Privacy::Redacted {
            crate::report::redact::NAME_MASK.to_string()
        } else {
            quote(t)
        }
    };
    ErrorExample {
        document: doc.id.clone(),
        key: f.key.clone(),
        field_type: f.field_type,
        severity: e.severity,
        rule: e.rule.clone(),
        detail: quote(&e.detail),
        expected: value(&f.expected),
        found: value(f.found.as_deref().unwrap_or("")),
        // A misread name's line is the name: left out when redacting.
        context: f
            .context
            .as_ref()
            .filter(|_| !(is_name && privacy == Privacy::Redacted))
            .map(|c| crate::score::FieldContext {
                reference: quote(&c.reference),
                recognised: quote(&c.recognised),
            }),
    }
}
