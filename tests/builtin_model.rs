//! The shipped checkpoint of the built-in model, run through the real pipeline on freshly
//! generated pages (a seed not used in training).

use medocr::dataset::synth::{generate, GenOptions};
use medocr::dataset::{load_manifest, DocType, Document};
use medocr::engine::builtin::BuiltinEngine;
use medocr::engine::Engine;
use medocr::pipeline::{run, RunOptions};

#[test]
fn shipped_checkpoint_reads_generated_pages_and_streams_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenOptions {
        count_per_type: 1,
        types: vec![DocType::Prescription],
        seed: 424_242,
        ..GenOptions::default()
    };
    generate(&opts, dir.path(), None).unwrap();
    let dataset = load_manifest(dir.path()).unwrap();
    let docs: Vec<&Document> = dataset.documents.iter().collect();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/builtin");
    let mut engine = BuiltinEngine::load(&model, "cpu".parse().unwrap()).unwrap();
    assert!(engine.info().checkpoint_sha256.is_some());
    let options = RunOptions {
        dpis: vec![300.0],
        ..RunOptions::default()
    };
    let results = run(&dataset, &docs, &mut engine, &options, &mut |_| {});
    let r = &results[0];
    assert!(r.error.is_none(), "{:?}", r.error);
    let cer = r.score.cer.rate.unwrap();
    eprintln!("built-in model CER on {}: {:.2}%", r.id, cer * 100.0);
    // The shipped checkpoint (fine-tune `ft-1130`) reads this page at 0.52% and the bundled
    // set at 0.63% (300 DPI); the step-4,500 checkpoint read it at 4.3%. Tighten this bound
    // with every better checkpoint.
    assert!(cer < 0.02, "CER {cer}");
    // Per-token streaming: TTFT before E2E, TPOT defined, one event per token.
    let t = &r.timing;
    assert!(t.ttft_ms.unwrap() < t.e2e_ms.unwrap());
    assert!(t.tpot_ms.is_some());
    assert_eq!(t.events, t.output_tokens);
    assert!(t.input_tokens.unwrap() > 0);
}
