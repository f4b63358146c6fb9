//! `medocr dpi-sweep` run for real: Tesseract and the built-in model on the bundled
//! prescriptions at two DPIs, pages rendered once and read by both engines.

use std::path::Path;
use std::process::Command;

#[test]
fn sweep_recommends_the_lowest_dpi_that_meets_the_sla() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    // A profile only a readable page meets: Tesseract reads these at ~40% CER at 72 DPI
    // and ~5% at 150.
    let profiles = tmp.path().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    std::fs::write(
        profiles.join("prescription.toml"),
        "doc_type = \"prescription\"\n[accuracy]\nmax_cer = 0.2\n",
    )
    .unwrap();
    let out = tmp.path().join("reports");
    let o = Command::new(env!("CARGO_BIN_EXE_medocr"))
        .args([
            "dpi-sweep",
            "--engines",
            "tesseract,builtin",
            "--dpi",
            "72,150",
            "--types",
            "prescription",
            "--limit",
            "1",
            "--profiles",
            profiles.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--run-id",
            "sweep",
            "--quiet",
        ])
        .current_dir(root)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.code().is_some(), "{text}");
    assert!(text.contains("DPI study (tesseract)"), "{text}");

    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("sweep-tesseract/summary.json")).unwrap(),
    )
    .unwrap();
    let study = &summary["dpi_study"][0];
    assert_eq!(study["doc_type"], "prescription");
    let points = study["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    let cer = |i: usize| points[i]["cer"].as_f64().unwrap();
    assert!(
        cer(0) > 0.2 && cer(1) < 0.2,
        "CER 72: {}, 150: {}",
        cer(0),
        cer(1)
    );
    assert_eq!(points[0]["sla"], "fail");
    assert_eq!(points[1]["sla"], "pass");
    assert_eq!(study["recommended_dpi"], 150.0);
    // Cost grows with DPI: 72 DPI has about a quarter of the pixels of 150.
    let px = |i: usize| points[i]["resources"]["pixels_per_page"].as_f64().unwrap();
    let ratio = px(1) / px(0);
    assert!((4.0..4.7).contains(&ratio), "pixel ratio {ratio}");
    assert!(points[1]["resources"]["peak_rss_mib"].as_f64().unwrap() > 10.0);

    // The built-in model read the very same pages: its own run folder and study.
    let builtin: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("sweep-builtin/summary.json")).unwrap(),
    )
    .unwrap();
    let bp = builtin["dpi_study"][0]["points"].as_array().unwrap();
    assert_eq!(bp.len(), 2);
    assert!(
        bp[0]["resources"]["image_tokens_per_page"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    for (a, b) in points.iter().zip(bp) {
        assert_eq!(
            a["resources"]["pixels_per_page"],
            b["resources"]["pixels_per_page"]
        );
    }
    let md = std::fs::read_to_string(out.join("sweep-tesseract/report.md")).unwrap();
    assert!(
        md.contains("## DPI trade-off") && md.contains("**150** (recommended)"),
        "{md}"
    );
}
