//! Ground-truth rules, checked over many seeds of every type.

use super::document;
use crate::dataset::synth::dates::{self, DateFormat};
use crate::dataset::synth::ksx1001;
use crate::dataset::synth::lines::LineKind;
use crate::dataset::DocType;

const SEEDS: u64 = 60;

fn all_docs() -> impl Iterator<Item = crate::dataset::synth::SynthDocument> {
    DocType::ALL
        .into_iter()
        .flat_map(|t| (0..SEEDS).map(move |s| document(t, s)))
}

#[test]
fn same_seed_same_document() {
    for t in DocType::ALL {
        let (a, b) = (document(t, 42), document(t, 42));
        assert_eq!(a.text, b.text);
        assert_eq!(a.fields, b.fields);
        assert_ne!(a.text, document(t, 43).text, "{t}: seeds should differ");
    }
}

#[test]
fn text_is_the_laid_out_lines() {
    for doc in all_docs() {
        let joined: Vec<String> = doc.lines.iter().map(|l| l.text()).collect();
        assert_eq!(doc.text, joined.join("\n"));
        let placed: usize = doc.pages.iter().map(|p| p.lines.len()).sum();
        assert_eq!(placed, doc.lines.len());
        for line in doc.text.lines() {
            assert!(!line.trim().is_empty(), "{}: empty line", doc.doc_type);
            assert_eq!(line, line.trim(), "{}: padded line {line:?}", doc.doc_type);
            assert!(
                !line.contains("  "),
                "{}: double space in {line:?}",
                doc.doc_type
            );
        }
    }
}

#[test]
fn every_field_value_appears_verbatim_on_one_line() {
    for doc in all_docs() {
        let f = &doc.fields;
        let mut values: Vec<&str> = Vec::new();
        values.extend(f.patient_name.as_deref());
        values.extend(f.diagnosis_codes.iter().map(String::as_str));
        for d in &f.drugs {
            values.push(&d.name);
            for v in [&d.dose, &d.frequency, &d.days, &d.route]
                .into_iter()
                .flatten()
            {
                values.push(v);
            }
        }
        for l in &f.labs {
            values.push(&l.item);
            values.push(&l.value);
            for v in [&l.unit, &l.reference_range, &l.flag].into_iter().flatten() {
                values.push(v);
            }
        }
        assert!(f.patient_name.is_some(), "{}: no patient", doc.doc_type);
        for v in values {
            assert!(
                doc.text.lines().any(|l| l.contains(v)),
                "{} seed {}: field value {v:?} not in text:\n{}",
                doc.doc_type,
                doc.seed,
                doc.text
            );
        }
        // Drug and lab rows are table rows: each row's cells are exactly its values.
        for d in &f.drugs {
            assert!(doc
                .lines
                .iter()
                .any(|l| l.kind == LineKind::TableRow && l.cells[0] == d.name));
        }
    }
}

#[test]
fn dates_are_iso_and_printed_in_a_parseable_format() {
    for doc in all_docs() {
        assert!(!doc.fields.dates.is_empty(), "{}: no dates", doc.doc_type);
        for (key, iso) in &doc.fields.dates {
            let d = chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
                .unwrap_or_else(|_| panic!("{key}={iso} is not ISO"));
            let printed = DateFormat::ALL
                .iter()
                .map(|f| f.format(d))
                .find(|p| doc.text.contains(p.as_str()));
            let printed = printed.unwrap_or_else(|| {
                panic!(
                    "{} seed {}: date {key}={iso} not printed:\n{}",
                    doc.doc_type, doc.seed, doc.text
                )
            });
            assert_eq!(dates::parse(&printed), Some(d));
        }
    }
}

#[test]
fn only_common_hangul_ascii_and_listed_symbols() {
    for doc in all_docs() {
        let bad: String = doc
            .text
            .chars()
            .filter(|c| *c != '\n' && !ksx1001::is_allowed(*c))
            .collect();
        assert!(
            bad.is_empty(),
            "{} seed {}: {bad:?}",
            doc.doc_type,
            doc.seed
        );
    }
}

#[test]
fn discharge_summaries_run_over_a_page() {
    for s in 0..SEEDS {
        let doc = document(DocType::DischargeSummary, s);
        assert!(
            doc.page_count() >= 2,
            "seed {s}: {} page(s)",
            doc.page_count()
        );
    }
}

/// Output sizes follow the seed's token table (about 2.5 Korean characters per token).
#[test]
fn sizes_follow_the_seed_table() {
    for t in DocType::ALL {
        let lens: Vec<usize> = (0..SEEDS)
            .map(|s| document(t, s).text.chars().count())
            .collect();
        let mean = lens.iter().sum::<usize>() / lens.len();
        let (lo, hi) = match t {
            DocType::Prescription => (450, 1100),
            DocType::LabResult => (700, 1700),
            DocType::Diagnosis => (500, 1300),
            DocType::DischargeSummary => (1250, 3800),
            DocType::MedicalRecord => (900, 2600),
        };
        assert!(
            (lo..=hi).contains(&mean),
            "{t}: mean {mean} chars not in {lo}..{hi}"
        );
    }
}

#[test]
fn medical_records_have_hand_written_lines() {
    let with_hand = (0..SEEDS)
        .filter(|&s| {
            document(DocType::MedicalRecord, s)
                .lines
                .iter()
                .any(|l| l.kind == LineKind::Handwritten)
        })
        .count();
    assert_eq!(with_hand, SEEDS as usize);
}

#[test]
fn particles_follow_the_final_consonant() {
    use super::josa;
    assert_eq!(josa("폐렴", "으로", "로"), "폐렴으로");
    assert_eq!(josa("요통", "으로", "로"), "요통으로");
    assert_eq!(josa("허리 통증", "으로", "로"), "허리 통증으로");
    assert_eq!(josa("대상포진", "이", "가"), "대상포진이");
    assert_eq!(josa("물리치료", "을", "를"), "물리치료를");
    assert_eq!(josa("아래허리통증", "으로", "로"), "아래허리통증으로");
    assert_eq!(josa("만성 신장병(3기)", "으로", "로"), "만성 신장병(3기)로");
    assert_eq!(josa("서울", "으로", "로"), "서울로");
}
