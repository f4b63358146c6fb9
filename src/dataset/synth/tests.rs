//! End-to-end checks of written datasets: determinism, text extraction, sizes, scans.

use std::path::Path;
use std::process::Command;

use super::*;
use crate::dataset::load_manifest;

/// Korean fonts are a system dependency; tests that write PDFs skip (loudly) without them.
fn fonts_installed() -> bool {
    let ok = Path::new(DEFAULT_FONT_DIR)
        .join(FontFamily::NanumGothic.regular_file())
        .exists();
    if !ok {
        eprintln!("skipped: Korean fonts missing; run bash scripts/setup.sh");
    }
    ok
}

/// Every whitespace run becomes one space (the project's N1 normalisation, minus NFC).
fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn pdftotext(pdf: &Path) -> Option<String> {
    let out = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn extracted_text_equals_the_ground_truth() {
    if !fonts_installed() {
        return;
    }
    if Command::new("pdftotext").arg("-v").output().is_err() {
        eprintln!("skipped: pdftotext not installed (apt-get install poppler-utils)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Enough seeds to meet every font family, both rule styles and the hand face.
    for t in DocType::ALL {
        for seed in 0..8 {
            let doc = document(t, seed);
            let path = dir.path().join(format!("{t}-{seed}.pdf"));
            std::fs::write(&path, pdf_bytes(&doc, Path::new(DEFAULT_FONT_DIR)).unwrap()).unwrap();
            let got = pdftotext(&path).expect("pdftotext runs");
            assert_eq!(
                normalise(&got),
                normalise(&doc.text),
                "{t} seed {seed} ({:?})",
                doc.style.family
            );
            // Page breaks land where the layout put them.
            assert_eq!(
                got.matches('\u{c}').count(),
                doc.page_count(),
                "{t} seed {seed}"
            );
        }
    }
}

#[test]
fn same_seed_gives_byte_identical_files() {
    if !fonts_installed() {
        return;
    }
    let opts = GenOptions {
        count_per_type: 2,
        seed: 7,
        ..GenOptions::default()
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sa = generate(&opts, a.path(), None).unwrap();
    generate(&opts, b.path(), None).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(a.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 11, "10 PDFs and the manifest");
    for name in names {
        let (x, y) = (
            std::fs::read(a.path().join(&name)).unwrap(),
            std::fs::read(b.path().join(&name)).unwrap(),
        );
        assert!(x == y, "{name:?} differs between runs");
    }
    // The manifest reads back cleanly, with the ids we promise.
    let ds = load_manifest(a.path()).unwrap();
    assert!(ds.issues.is_empty(), "{:?}", ds.issues);
    assert_eq!(ds.documents.len(), 10);
    assert_eq!(ds.documents[0].id, "prescription-000");
    assert_eq!(ds.documents, sa.documents);
    assert!(ds
        .documents
        .iter()
        .all(|d| d.is_pdf() && a.path().join(&d.source).exists()));
}

#[test]
fn pdfs_are_small_because_fonts_are_subset() {
    if !fonts_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let opts = GenOptions {
        count_per_type: 4,
        seed: 1,
        ..GenOptions::default()
    };
    let summary = generate(&opts, dir.path(), None).unwrap();
    // A whole NanumGothic is 4 MB; a subset of a few hundred syllables is tens of KB.
    for d in &summary.documents {
        let size = std::fs::metadata(dir.path().join(&d.source)).unwrap().len();
        assert!(size < 200_000, "{}: {size} bytes", d.id);
    }
    assert!(
        summary.bytes < 3_000_000,
        "20 documents take {} bytes",
        summary.bytes
    );
}

#[test]
fn scans_are_written_for_single_page_documents_only() {
    if !fonts_installed() {
        return;
    }
    // A stand-in rasteriser: an A4 page with a dark band, at the asked DPI.
    let raster = |_: &Path, dpi: f32| -> Result<Vec<image::GrayImage>, String> {
        let (w, h) = ((8.27 * dpi) as u32, (11.69 * dpi) as u32);
        Ok(vec![image::GrayImage::from_fn(w, h, |_, y| {
            image::Luma([if y % 40 < 8 { 20 } else { 250 }])
        })])
    };
    let dir = tempfile::tempdir().unwrap();
    let opts = GenOptions {
        count_per_type: 2,
        types: vec![DocType::Prescription, DocType::DischargeSummary],
        scans: true,
        scan_dpi: 100.0,
        ..GenOptions::default()
    };
    let s = generate(&opts, dir.path(), Some(&raster)).unwrap();
    let scans: Vec<&Document> = s.documents.iter().filter(|d| !d.is_pdf()).collect();
    let single_page = ["prescription-000", "prescription-001"]
        .iter()
        .filter(|id| {
            document(
                DocType::Prescription,
                document_seed(0, DocType::Prescription, id.ends_with('1') as usize),
            )
            .page_count()
                == 1
        })
        .count();
    assert_eq!(scans.len(), single_page);
    assert_eq!(s.scans, scans.len());
    for d in scans {
        assert!(d.id.ends_with("-scan") && d.dpi == Some(100.0));
        assert_eq!(d.doc_type, DocType::Prescription);
        let img = image::open(dir.path().join(&d.source)).unwrap();
        assert_eq!(img.width(), (8.27f32 * 100.0) as u32);
    }
}

#[test]
fn bad_options_and_missing_fonts_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let err = generate(
        &GenOptions {
            scans: true,
            ..GenOptions::default()
        },
        dir.path(),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("rasteriser"), "{err}");
    let err = generate(
        &GenOptions {
            font_dir: dir.path().join("no-fonts"),
            count_per_type: 1,
            ..GenOptions::default()
        },
        dir.path(),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, GenError::FontMissing { .. }));
    assert!(err.to_string().contains("scripts/setup.sh"), "{err}");
}

/// Writes a sample dataset, scans included (rendered with pdftoppm), for eyeballing:
/// `cargo test --release --lib dataset::synth::tests::write_sample -- --ignored`.
/// Folder: MEDOCR_SYNTH_SAMPLE (default target/synth-sample); count per type:
/// MEDOCR_SYNTH_COUNT (default 4).
#[test]
#[ignore]
fn write_sample() {
    let dir = std::env::var_os("MEDOCR_SYNTH_SAMPLE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/synth-sample"));
    // Scans through pdftoppm here; the CLI passes pdfium's renderer instead.
    let raster = |pdf: &Path, dpi: f32| -> Result<Vec<image::GrayImage>, String> {
        let prefix = pdf.with_extension("raster");
        let out = Command::new("pdftoppm")
            .args(["-r", &dpi.to_string(), "-gray", "-png", "-singlefile"])
            .arg(pdf)
            .arg(&prefix)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let png = std::path::PathBuf::from(format!("{}.png", prefix.display()));
        let img = image::open(&png).map_err(|e| e.to_string())?.to_luma8();
        std::fs::remove_file(png).map_err(|e| e.to_string())?;
        Ok(vec![img])
    };
    let count = std::env::var("MEDOCR_SYNTH_COUNT").map_or(4, |c| c.parse().unwrap());
    let opts = GenOptions {
        count_per_type: count,
        scans: true,
        ..GenOptions::default()
    };
    let s = generate(&opts, &dir, Some(&raster)).unwrap();
    eprintln!(
        "{} PDFs, {} pages, {} scans, {} bytes in {}",
        s.pdfs,
        s.pages,
        s.scans,
        s.bytes,
        dir.display()
    );
}
