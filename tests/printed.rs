//! The Chromium toolchain end to end: real headless Chromium prints two generated
//! documents (one of them two pages), their text layers equal the ground truth, no
//! reserved (or other foreign) font is embedded, and every image variant loads through the
//! pipeline's loader. Needs `bash scripts/setup.sh` (Chromium, poppler-utils, the fonts,
//! libpdfium); a missing piece fails the test with the installer's name, never skips it.

use std::path::Path;

use medocr::dataset::font_pool::Role;
use medocr::dataset::print::{self, truth, Chromium, FontChoice, FontLibrary, PrintOptions};
use medocr::dataset::synth::DEFAULT_FONT_DIR;
use medocr::dataset::variants::VariantKind;
use medocr::dataset::{load_manifest, DocType};
use medocr::pipeline::render_document;
use medocr::render::{rasterise, PdfRenderer, RenderConfig};

#[test]
fn chromium_printouts_match_their_ground_truth_and_variants_load() {
    Chromium::find().unwrap_or_else(|e| panic!("{e}"));
    let t0 = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let opts = PrintOptions {
        count_per_type: 1,
        types: vec![DocType::Prescription, DocType::DischargeSummary],
        seed: 3,
        fonts: FontChoice::HeldOut,
        variants: VariantKind::ALL.to_vec(),
        jobs: 2,
        ..PrintOptions::default()
    };
    let summary = print::generate(&opts, dir.path(), Some(&rasterise))
        .unwrap_or_else(|e| panic!("printing failed: {e}"));
    assert_eq!(summary.pdfs, 2);
    assert_eq!(summary.documents.len(), 2 * 4);

    let dataset = load_manifest(dir.path()).unwrap();
    assert!(dataset.issues.is_empty(), "{:?}", dataset.issues);
    let allowed = FontLibrary::load(Path::new(DEFAULT_FONT_DIR), Role::HeldOut)
        .unwrap()
        .ps_names();
    let renderer = PdfRenderer::global().unwrap_or_else(|e| panic!("{e}"));
    for doc in dataset.documents.iter().filter(|d| d.is_pdf()) {
        let pdf = dataset.source_path(doc);
        // The text layer, independently of the generator's own check.
        let layer = truth::text_layer(&pdf).unwrap();
        let found: Vec<String> = layer
            .iter()
            .flatten()
            .map(|l| truth::normalise(l))
            .filter(|l| !l.is_empty())
            .collect();
        let expected: Vec<String> = doc.text.lines().map(truth::normalise).collect();
        assert_eq!(found, expected, "{}: text layer vs ground truth", doc.id);
        let pages = renderer.page_count(&pdf).unwrap();
        if doc.doc_type == DocType::DischargeSummary {
            assert!(pages >= 2, "a discharge summary spans two pages");
        }
        // Fonts: every one named, embedded, held out, none reserved.
        let fonts = truth::fonts(&pdf).unwrap();
        assert!(!fonts.is_empty());
        for f in &fonts {
            assert!(f.embedded, "{}: {} not embedded", doc.id, f.name);
            assert!(
                !print::fonts::is_reserved_ps_name(&f.name),
                "{}: reserved font {} embedded",
                doc.id,
                f.name
            );
            assert!(
                allowed.contains(&f.name),
                "{}: {} ({}) is not a held-out face",
                doc.id,
                f.name,
                f.kind
            );
        }
        // Every variant loads through the pipeline's loader, one image per page.
        for kind in VariantKind::ALL {
            let id = format!("{}-{kind}", doc.id);
            let v = dataset
                .documents
                .iter()
                .find(|d| d.id == id)
                .unwrap_or_else(|| panic!("{id} missing"));
            assert_eq!(v.text, doc.text);
            assert_eq!(v.fields, doc.fields);
            let dpi = v.dpi.expect("image sources carry their DPI");
            let config = RenderConfig {
                dpi: 150.0,
                ..RenderConfig::default()
            };
            let loaded =
                render_document(&dataset, v, &config).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(loaded.len(), pages, "{id}: one image per page");
            for p in &loaded {
                // A4 at 150 DPI is 1240 px wide; photos add the desk around the page.
                let w = p.image.width();
                assert!((1200..=1600).contains(&w), "{id}: {w} px wide at 150 DPI");
            }
            match kind {
                VariantKind::Fax => {
                    assert_eq!(dpi, 200.0);
                    let raw = image::open(if pages > 1 {
                        dataset.source_path(v).join("page-01.png")
                    } else {
                        dataset.source_path(v)
                    })
                    .unwrap()
                    .into_luma8();
                    assert!(raw.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255), "{id}");
                }
                VariantKind::Scan => assert_eq!(dpi, 300.0),
                VariantKind::Photo => assert!((170.0..=230.0).contains(&dpi), "{id}: {dpi}"),
            }
        }
    }
    eprintln!(
        "printed and checked 2 documents with variants in {:.1} s (Chromium {:?})",
        t0.elapsed().as_secs_f64(),
        summary
            .chromium
            .iter()
            .map(|(id, p, t)| format!("{id}: {p} pages, {:.2} s", t.as_secs_f64()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_reserved_family_asked_for_by_name_is_never_embedded() {
    // Even HTML that names reserved families falls back to a held-out face: the generated
    // fontconfig file hides every font outside the role.
    let browser = Chromium::find().unwrap_or_else(|e| panic!("{e}"));
    let lib = FontLibrary::load(Path::new(DEFAULT_FONT_DIR), Role::HeldOut).unwrap();
    let fc = print::FontConfig::new(&lib).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("reserved.html");
    std::fs::write(
        &html,
        "<!DOCTYPE html><html lang=\"ko\"><head><meta charset=\"utf-8\"></head><body>\
         <p style=\"font-family: 'UnShinmun'\">은 신문 글꼴 시험</p>\
         <p style=\"font-family: 'NanumGothicCoding'\">나눔고딕코딩 시험 0O1l</p>\
         <p style=\"font-family: 'Noto Sans CJK KR'\">노토 산스 시험</p>\
         <p style=\"font-family: 'Eunjin'\">은진 시험</p>\
         <p style=\"font-family: 'DejaVu Sans', sans-serif\">Latin fallback</p>\
         </body></html>",
    )
    .unwrap();
    let pdf = dir.path().join("reserved.pdf");
    browser.print(&html, &pdf, &fc.file).unwrap();
    let fonts = truth::fonts(&pdf).unwrap();
    assert!(!fonts.is_empty());
    let allowed = lib.ps_names();
    for f in &fonts {
        assert!(
            !print::fonts::is_reserved_ps_name(&f.name),
            "{} embedded",
            f.name
        );
        assert!(
            allowed.contains(&f.name),
            "{} is outside the held-out pool",
            f.name
        );
    }
}

#[test]
fn gen_flags_are_validated_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let gen = |args: &[&str], env: Option<(&str, &str)>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_medocr"));
        cmd.args(["gen", "--out", out]).args(args);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let o = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&o.stderr).to_string();
        (o.status.success(), text)
    };
    for (args, env, expect) in [
        (
            vec!["--toolchain", "latex"],
            None,
            "possible values: pdf, chromium",
        ),
        (
            vec!["--toolchain", "chromium", "--variants", "fax,telex"],
            None,
            "choose from fax, photo, scan",
        ),
        (
            vec!["--toolchain", "chromium", "--fonts", "serif"],
            None,
            "choose held-out or training",
        ),
        (
            vec!["--variants", "fax"],
            None,
            "belong to --toolchain chromium",
        ),
        (
            vec!["--toolchain", "chromium", "--scans"],
            None,
            "belong to --toolchain pdf",
        ),
        (
            vec!["--toolchain", "chromium", "--count", "1"],
            Some(("MEDOCR_CHROMIUM", "/nonexistent/chromium")),
            "bash scripts/setup.sh",
        ),
    ] {
        let (ok, text) = gen(&args, env);
        assert!(!ok, "{args:?} should fail");
        assert!(text.contains(expect), "{args:?}: {text}");
    }
    assert!(!Path::new(out).exists(), "nothing is written on a bad flag");
}
