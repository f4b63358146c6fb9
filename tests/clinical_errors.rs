//! Clinical errors injected into generated documents are detected and classified at the
//! right severity; a perfect transcription has no field error (property tests).

use medocr::dataset::synth::document;
use medocr::dataset::DocType;
use medocr::score::{
    normalize, score_document, DocumentScore, FieldResult, FieldType, NormOptions, ScoreOptions,
    Severity,
};
use proptest::prelude::*;
use unicode_segmentation::UnicodeSegmentation;

const N1: NormOptions = NormOptions {
    fold_fullwidth: false,
};

fn score(doc: &medocr::dataset::synth::SynthDocument, hypothesis: &str) -> DocumentScore {
    let reference = medocr::score::Reference {
        text: &doc.text,
        fields: &doc.fields,
    };
    score_document(reference, hypothesis, &ScoreOptions::default())
}

/// The N1 reference with the grapheme span of `field` replaced.
fn inject(doc: &medocr::dataset::synth::SynthDocument, field: &FieldResult, with: &str) -> String {
    let r = normalize(&doc.text, &N1);
    let g: Vec<&str> = r.graphemes(true).collect();
    let span = field.span.expect("located");
    format!(
        "{}{}{}",
        g[..span.ref_start].concat(),
        with,
        g[span.ref_end..].concat()
    )
}

fn field(s: &DocumentScore, t: FieldType) -> &FieldResult {
    s.fields
        .iter()
        .find(|f| f.field_type == t && f.located)
        .unwrap_or_else(|| panic!("no located {t}"))
}

/// The only wrong field of `s`, with its severity and rule.
fn only_error(s: &DocumentScore) -> (&FieldResult, Severity, &str) {
    let wrong: Vec<&FieldResult> = s
        .fields
        .iter()
        .filter(|f| f.located && !f.correct)
        .collect();
    assert_eq!(
        wrong.len(),
        1,
        "expected exactly one wrong field: {wrong:#?}"
    );
    let e = wrong[0].error.as_ref().expect("a wrong field has an error");
    (wrong[0], e.severity, e.rule.as_str())
}

#[test]
fn tenfold_dose_is_critical() {
    for seed in 0..20 {
        let doc = document(DocType::Prescription, seed);
        let perfect = score(&doc, &doc.text);
        let dose = field(&perfect, FieldType::Dose);
        // `1` → `10`, `0.5` → `5`, `1.00` → `10.0`: a shifted decimal point.
        let shifted = match dose.expected.split_once('.') {
            Some(("0", f)) => f.trim_end_matches('0').to_string(),
            Some((i, f)) => format!("{i}{}.{}", &f[..1], &f[1..])
                .trim_end_matches('.')
                .to_string(),
            None => {
                let digits = dose
                    .expected
                    .trim_end_matches(|c: char| !c.is_ascii_digit());
                format!("{digits}0{}", &dose.expected[digits.len()..])
            }
        };
        let s = score(&doc, &inject(&doc, dose, &shifted));
        let (f, severity, rule) = only_error(&s);
        assert_eq!(f.key, dose.key, "seed {seed}");
        assert_eq!(
            (severity, rule),
            (Severity::Critical, "dose.tenfold"),
            "seed {seed}: {} → {shifted}",
            dose.expected
        );
    }
}

#[test]
fn shifted_lab_value_is_critical_and_a_lost_digit_of_precision_is_minor() {
    for seed in 0..20 {
        let doc = document(DocType::LabResult, seed);
        let perfect = score(&doc, &doc.text);
        let value = s_first_numeric_lab(&perfect);
        let bumped: String = {
            // Change the last digit: a different value of the same shape.
            let mut c: Vec<char> = value.expected.chars().collect();
            let i = c.iter().rposition(|c| c.is_ascii_digit()).unwrap();
            c[i] = if c[i] == '9' {
                '8'
            } else {
                (c[i] as u8 + 1) as char
            };
            c.into_iter().collect()
        };
        let s = score(&doc, &inject(&doc, value, &bumped));
        let (f, severity, rule) = only_error(&s);
        assert_eq!(f.key, value.key);
        assert_eq!(
            (severity, rule),
            (Severity::Critical, "lab.value"),
            "seed {seed}"
        );
        if value.expected.contains('.') {
            let padded = format!("{}0", value.expected);
            let s = score(&doc, &inject(&doc, value, &padded));
            let (_, severity, rule) = only_error(&s);
            assert_eq!((severity, rule), (Severity::Minor, "lab.precision_loss"));
        }
    }
}

fn s_first_numeric_lab(s: &DocumentScore) -> &FieldResult {
    s.fields
        .iter()
        .find(|f| {
            f.field_type == FieldType::LabValue
                && f.located
                && f.expected.chars().all(|c| c.is_ascii_digit() || c == '.')
        })
        .expect("a numeric lab value")
}

#[test]
fn a_different_valid_code_is_critical_and_an_invalid_one_major() {
    let codes = &medocr::score::Knowledge::bundled().codes;
    for seed in 0..20 {
        let doc = document(DocType::Diagnosis, seed);
        let perfect = score(&doc, &doc.text);
        let code = field(&perfect, FieldType::DiagnosisCode);
        let other = ["J06.9", "I10", "K29.7"]
            .into_iter()
            .find(|c| c[..3] != code.expected[..3])
            .unwrap();
        assert!(codes.contains(other));
        let s = score(&doc, &inject(&doc, code, other));
        let wrong: Vec<_> = s.fields.iter().filter(|f| f.key == code.key).collect();
        let e = wrong[0].error.as_ref().expect("wrong code detected");
        assert_eq!(
            (e.severity, e.rule.as_str()),
            (Severity::Critical, "code.substituted")
        );
        let s = score(&doc, &inject(&doc, code, "Q99.99"));
        let e = s
            .fields
            .iter()
            .find(|f| f.key == code.key)
            .unwrap()
            .error
            .clone()
            .unwrap();
        assert_eq!(
            (e.severity, e.rule.as_str()),
            (Severity::Major, "code.invalid")
        );
    }
}

#[test]
fn a_substituted_drug_is_a_critical_look_alike() {
    let formulary = &medocr::score::Knowledge::bundled().formulary;
    for seed in 0..20 {
        let doc = document(DocType::Prescription, seed);
        let perfect = score(&doc, &doc.text);
        let name = field(&perfect, FieldType::DrugName);
        let other = formulary
            .entries()
            .iter()
            .map(|e| e.printed_name())
            .find(|n| !n.starts_with(&name.expected[..6]) && !doc.text.contains(n.as_str()))
            .unwrap();
        let s = score(&doc, &inject(&doc, name, &other));
        let e = s
            .fields
            .iter()
            .find(|f| f.key == name.key)
            .and_then(|f| f.error.clone())
            .expect("substitution detected");
        assert_eq!(
            (e.severity, e.rule.as_str()),
            (Severity::Critical, "drug.look_alike"),
            "{} → {other}",
            name.expected
        );
    }
}

fn doc_type() -> impl Strategy<Value = DocType> {
    prop_oneof![
        Just(DocType::Prescription),
        Just(DocType::LabResult),
        Just(DocType::Diagnosis),
        Just(DocType::DischargeSummary),
        Just(DocType::MedicalRecord),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn a_perfect_transcription_scores_every_field_right(t in doc_type(), seed in 0u64..1_000_000) {
        let doc = document(t, seed);
        let s = score(&doc, &doc.text);
        for f in &s.fields {
            prop_assert!(f.located && f.correct && f.error.is_none(), "{t} seed {seed}: {f:#?}");
        }
        for set in &s.field_sets {
            prop_assert_eq!(set.false_positives + set.false_negatives, 0, "{:?}", set);
        }
    }

    #[test]
    fn one_changed_digit_in_a_dose_is_always_detected(
        seed in 0u64..1_000_000,
        pick in 0usize..100,
        digit in 0u8..10,
    ) {
        let doc = document(DocType::Prescription, seed);
        let perfect = score(&doc, &doc.text);
        let doses: Vec<&FieldResult> = perfect
            .fields
            .iter()
            .filter(|f| f.field_type == FieldType::Dose && f.located)
            .collect();
        let dose = doses[pick % doses.len()];
        let mut chars: Vec<char> = dose.expected.chars().collect();
        let positions: Vec<usize> = (0..chars.len()).filter(|&i| chars[i].is_ascii_digit()).collect();
        let i = positions[pick % positions.len()];
        let new = (b'0' + digit) as char;
        prop_assume!(chars[i] != new);
        chars[i] = new;
        let changed: String = chars.into_iter().collect();
        // `1.00` → `1.01` changes the value; `1.00` → `1.000`-like no-ops cannot happen here.
        let s = score(&doc, &inject(&doc, dose, &changed));
        let f = s.fields.iter().find(|f| f.key == dose.key).unwrap();
        prop_assert!(!f.correct, "{} → {} not detected", dose.expected, changed);
        prop_assert!(f.error.is_some());
    }
}
