//! End to end with real components: generated PDFs → pdfium at 72 and 300 DPI → the real
//! Tesseract binary → scores. Needs `bash scripts/setup.sh` (CI runs it).

use medocr::dataset::synth::{generate, GenOptions};
use medocr::dataset::{load_manifest, DocType, Document};
use medocr::engine::tesseract::{Tesseract, TesseractConfig};
use medocr::pipeline::{run, summarize, Privacy, RunOptions};
use std::collections::BTreeMap;

#[test]
fn tesseract_reads_300_dpi_well_and_72_dpi_worse() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenOptions {
        count_per_type: 1,
        types: vec![
            DocType::Prescription,
            DocType::LabResult,
            DocType::Diagnosis,
        ],
        seed: 9_001,
        ..GenOptions::default()
    };
    generate(&opts, dir.path(), None).unwrap();
    let dataset = load_manifest(dir.path()).unwrap();
    let docs: Vec<&Document> = dataset.documents.iter().collect();
    let mut engine = Tesseract::new(TesseractConfig::default())
        .expect("tesseract installed by scripts/setup.sh");
    let options = RunOptions {
        dpis: vec![72.0, 300.0],
        ..RunOptions::default()
    };
    let results = run(&dataset, &docs, &mut engine, &options, &mut |_| {});
    for r in &results {
        assert!(r.error.is_none(), "{}: {:?}", r.id, r.error);
        assert!(r.pages >= 1);
        assert!(r.timing.e2e_ms.unwrap() > 0.0);
        assert_eq!(
            r.timing.ttft_ms, r.timing.e2e_ms,
            "tesseract does not stream"
        );
    }
    let (groups, _, totals) = summarize(&results, &BTreeMap::new(), 1.0, Privacy::Redacted);
    let cer_at = |dpi: f32| {
        let (edits, n) = groups
            .iter()
            .filter(|g| g.dpi == dpi)
            .fold((0, 0), |(e, n), g| {
                (e + g.cer.edits(), n + g.cer.reference_units)
            });
        edits as f64 / n as f64
    };
    let (low, high) = (cer_at(72.0), cer_at(300.0));
    eprintln!(
        "tesseract CER: {:.2}% at 72 DPI, {:.2}% at 300 DPI",
        low * 100.0,
        high * 100.0
    );
    assert!(
        high < 0.15,
        "CER at 300 DPI should be below 15%, got {high}"
    );
    assert!(
        low > high,
        "72 DPI ({low}) should read worse than 300 DPI ({high})"
    );
    assert_eq!(totals.documents, 6);
}
