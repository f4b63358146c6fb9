//! Scoring (DESIGN.md, "Text metrics" and "Field metrics"): N1 normalisation, bit-parallel
//! edit distance and alignment, CER/WER variants, and critical fields projected through
//! the grapheme alignment.
//!
//! [`score_document`] normalises both texts once, aligns their grapheme clusters once,
//! and reuses that alignment for CER and for field projection.

pub mod clinical;
pub mod confusion;
pub mod diff;
pub mod distance;
pub mod extract;
mod field_type;
pub mod fields;
pub mod markup;
pub mod normalize;
pub mod order;
pub mod table;
pub mod text;

use serde::{Deserialize, Serialize};

use crate::dataset::{Document, Fields};

pub use clinical::{FieldError, Judgement, Knowledge, Severity};
pub use confusion::Confusion;
pub use diff::{aligned_diff, aligned_diff_with, DiffKind, DiffSegment};
pub use distance::{align, distance, Alignment, EditCounts, Op, OpKind};
pub use fields::{
    aggregate_fields, aggregate_sets, FieldAggregate, FieldContext, FieldResult, FieldSpan,
    FieldType, SetKind, SetScore,
};
pub use markup::{canonicalize, Canonical, FormatChoice, OutputFormat, Table};
pub use normalize::{normalize, NormOptions};
pub use order::{order_score, OrderScore};
pub use table::{table_score, TableScore};
pub use text::{cer, cer_jamo, cer_no_space, micro_average, wer, TextScore};

/// Options of a scoring run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreOptions {
    /// Normalisation applied to both sides (and to ground-truth field values).
    #[serde(default)]
    pub norm: NormOptions,
}

/// What a hypothesis is scored against: the reference transcription and its fields.
#[derive(Debug, Clone, Copy)]
pub struct Reference<'a> {
    pub text: &'a str,
    pub fields: &'a Fields,
}

impl<'a> From<&'a Document> for Reference<'a> {
    fn from(doc: &'a Document) -> Self {
        Reference {
            text: &doc.text,
            fields: &doc.fields,
        }
    }
}

/// Every accuracy figure of one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentScore {
    /// Grapheme clusters, spaces counted (the headline CER).
    pub cer: TextScore,
    pub cer_no_space: TextScore,
    pub cer_jamo: TextScore,
    pub wer: TextScore,
    /// One result per ground-truth field.
    pub fields: Vec<FieldResult>,
    /// Micro set counts for diagnosis codes and drug names.
    pub field_sets: Vec<SetScore>,
    /// Character confusions of the CER alignment, most frequent first.
    #[serde(default)]
    pub confusions: Vec<Confusion>,
    /// Order-independent CER and reading order (`order`); `None` for runs written before
    /// it existed, and for answers of more than `order::MAX_LINES` lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderScore>,
    /// TEDS and cell accuracy (`table`), when the answer and the reference both have
    /// tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<TableScore>,
}

/// Scores `hypothesis` against a reference (a [`Document`] or a [`Reference`]), with
/// the bundled formulary and code list.
pub fn score_document<'a>(
    reference: impl Into<Reference<'a>>,
    hypothesis: &str,
    opts: &ScoreOptions,
) -> DocumentScore {
    score_with(reference, hypothesis, opts, Knowledge::bundled())
}

/// [`score_document`] with the user's formulary and code list.
pub fn score_with<'a>(
    reference: impl Into<Reference<'a>>,
    hypothesis: &str,
    opts: &ScoreOptions,
    knowledge: &Knowledge,
) -> DocumentScore {
    let reference = reference.into();
    let r = normalize(reference.text, &opts.norm);
    let h = normalize(hypothesis, &opts.norm);
    let (rg, hg) = (text::graphemes(&r), text::graphemes(&h));
    let mut interner = text::Interner::default();
    let a = text::grapheme_symbols(&rg, &mut interner);
    let b = text::grapheme_symbols(&hg, &mut interner);
    let (cer, alignment) = text::score_symbols(&a, &b);

    let cer_no_space = text::score_symbols(&text::without_spaces(&a), &text::without_spaces(&b)).0;
    let cer_jamo = text::score_symbols(&text::jamo_symbols(&a), &text::jamo_symbols(&b)).0;
    let mut words = text::Interner::default();
    let wer = text::score_symbols(
        &text::word_symbols(&r, &mut words),
        &text::word_symbols(&h, &mut words),
    )
    .0;

    let projection = fields::Projection::new(&r, &rg, &h, &hg, &alignment);
    let field_results = fields::score_fields(&projection, reference.fields, &opts.norm, knowledge);
    let confusions = confusion::confusions(&rg, &hg, &alignment);
    let field_sets = fields::set_scores(&r, &h, reference.fields, &opts.norm);
    let order = order::order_score(reference.text, hypothesis, &opts.norm);
    DocumentScore {
        cer,
        cer_no_space,
        cer_jamo,
        wer,
        fields: field_results,
        field_sets,
        confusions,
        order,
        tables: None,
    }
}

/// Scores an answer read in its output format (`markup::canonicalize`): the text and field
/// metrics on its canonical text, the table metrics on its tables.
pub fn score_answer(
    reference: &Document,
    answer: &Canonical,
    opts: &ScoreOptions,
    knowledge: &Knowledge,
) -> DocumentScore {
    let mut score = score_with(reference, &answer.text, opts, knowledge);
    score.tables = table::table_score(&reference.tables, &answer.tables, &opts.norm);
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_score_agrees_with_the_single_metric_functions() {
        let fields = Fields {
            patient_name: Some("홍길동".into()),
            diagnosis_codes: vec!["I10".into()],
            ..Default::default()
        };
        let r = "진 단 서\n성명: 홍길동\n병명: 본태성 고혈압 (I10)\n";
        let h = "진 단 서 성명: 홍길농\n병명: 본태성고혈압 (l10)";
        let opts = ScoreOptions::default();
        let s = score_document(
            Reference {
                text: r,
                fields: &fields,
            },
            h,
            &opts,
        );
        assert_eq!(s.cer, cer(r, h, &opts.norm));
        assert_eq!(s.cer_no_space, cer_no_space(r, h, &opts.norm));
        assert_eq!(s.cer_jamo, cer_jamo(r, h, &opts.norm));
        assert_eq!(s.wer, wer(r, h, &opts.norm));
        assert_eq!(s.cer.edits(), 3);
        assert_eq!(s.fields.len(), 2);
        assert!(s.fields.iter().all(|f| f.located && !f.correct));
        let back: DocumentScore =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
