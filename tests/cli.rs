//! The `medocr` binary, run for real on generated documents.

use std::path::Path;

mod common;
use common::{gen, medocr, predictions, predictions_from_entry, read_json, snapshot, text};

#[test]
fn gen_then_score_perfect_and_damaged_predictions() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = tmp.path().join("data");
    gen(root, &data, 1, "prescription,diagnosis", 5);
    assert!(data.join("manifest.jsonl").is_file());
    assert!(data.join("prescription-000.pdf").is_file());

    let perfect = tmp.path().join("perfect.jsonl");
    predictions(&data, &perfect, |t| t.to_string());
    let reports = tmp.path().join("reports");
    let o = medocr(
        &[
            "score",
            "--dataset",
            data.to_str().unwrap(),
            "--predictions",
            perfect.to_str().unwrap(),
            "--out",
            reports.to_str().unwrap(),
            "--run-id",
            "perfect",
            "--quiet",
        ],
        root,
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("PASS (insufficient sample: 1 < 50 documents)  prescription"),
        "{out}"
    );
    for f in [
        "summary.json",
        "documents.csv",
        "report.md",
        "predictions.jsonl",
    ] {
        assert!(reports.join("perfect").join(f).is_file(), "missing {f}");
    }
    let summary = read_json(&reports.join("perfect/summary.json"));
    assert_eq!(summary["totals"]["cer"]["rate"], 0.0);
    // Reports carry numbers and ids, never the documents' text or the patients' names.
    let first = &common::manifest(&data)[0];
    let name = first["fields"]["patient_name"].as_str().unwrap();
    for f in ["summary.json", "documents.csv", "report.md"] {
        let body = std::fs::read_to_string(reports.join("perfect").join(f)).unwrap();
        assert!(!body.contains(name), "{f} leaks the patient name");
    }

    // Every other line dropped: CER far above every profile's limit.
    let damaged = tmp.path().join("damaged.jsonl");
    predictions(&data, &damaged, |t| {
        t.lines().step_by(2).collect::<Vec<_>>().join("\n")
    });
    let o = medocr(
        &[
            "score",
            "--dataset",
            data.to_str().unwrap(),
            "--predictions",
            damaged.to_str().unwrap(),
            "--out",
            reports.to_str().unwrap(),
            "--run-id",
            "damaged",
            "--quiet",
        ],
        root,
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL (insufficient sample: 1 < 50 documents)  prescription"),
        "{out}"
    );
}

#[test]
fn clinical_errors_are_reported_with_patient_names_masked() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = tmp.path().join("data");
    gen(root, &data, 2, "prescription", 11);
    // Each prescription: the patient's name misread by one syllable, and the first drug
    // read as a look-alike product (잔탁 for whatever was prescribed).
    let misread = |name: &str| {
        let mut c: Vec<char> = name.chars().collect();
        let last = c.len() - 1;
        c[last] = char::from_u32(c[last] as u32 + 1).unwrap();
        c.into_iter().collect::<String>()
    };
    let preds = tmp.path().join("clinical.jsonl");
    predictions_from_entry(&data, &preds, |v| {
        let name = v["fields"]["patient_name"].as_str().unwrap();
        let drug = v["fields"]["drugs"][0]["name"].as_str().unwrap();
        v["text"]
            .as_str()
            .unwrap()
            .replace(name, &misread(name))
            .replacen(drug, "잔탁정150밀리그램", 1)
    });
    let reports = tmp.path().join("reports");
    let score = |run_id: &str, extra: &[&str]| {
        let mut args = vec![
            "score",
            "--dataset",
            data.to_str().unwrap(),
            "--predictions",
            preds.to_str().unwrap(),
            "--out",
            reports.to_str().unwrap(),
            "--run-id",
            run_id,
            "--quiet",
        ];
        args.extend_from_slice(extra);
        medocr(&args, root)
    };
    let o = score("masked", &[]);
    // A critical error fails the prescription profile (max_critical_errors = 0).
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let md = std::fs::read_to_string(reports.join("masked/report.md")).unwrap();
    let summary = std::fs::read_to_string(reports.join("masked/summary.json")).unwrap();
    assert!(
        md.contains("drug.look_alike") && md.contains("name.value"),
        "{md}"
    );
    assert!(md.contains("critical field errors ≤ 0"), "{md}");
    for v in common::manifest(&data) {
        let name = v["fields"]["patient_name"].as_str().unwrap();
        for (f, body) in [("report.md", &md), ("summary.json", &summary)] {
            assert!(!body.contains(name), "{f} leaks the patient name");
            assert!(!body.contains(&misread(name)), "{f} leaks the misread name");
        }
    }
    let o = score("shown", &["--show-phi"]);
    assert_eq!(o.status.code(), Some(1));
    let md = std::fs::read_to_string(reports.join("shown/report.md")).unwrap();
    assert!(md.contains("Patient identifiers are shown"), "{md}");
    assert!(md.contains("잔탁정150밀리그램"), "{md}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = medocr(&["run", "--dpi=-5"], root);
    assert_eq!(o.status.code(), Some(2));
    // clap names the flag, the value and the limit.
    let out = text(&o);
    assert!(
        out.contains("'-5' for '--dpi") && out.contains("up to 2400"),
        "{out}"
    );

    let profiles = tmp.path().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    std::fs::write(
        profiles.join("diagnosis.toml"),
        "doc_type = \"diagnosis\"\n[accuracy]\nmax_cerr = 0.1\n",
    )
    .unwrap();
    let preds = tmp.path().join("p.jsonl");
    std::fs::write(&preds, "").unwrap();
    let o = medocr(
        &[
            "score",
            "--predictions",
            preds.to_str().unwrap(),
            "--profiles",
            profiles.to_str().unwrap(),
        ],
        root,
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("diagnosis.toml") && out.contains("max_cerr"),
        "{out}"
    );
}

/// `run`, `dpi-sweep`, `bench` and `serve` parse `--dpi` alike: one limit, and a DPI
/// listed twice is refused by every command that takes a list.
#[test]
fn every_command_checks_dpis_the_same_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for args in [
        &["run", "--dpi", "150,150"][..],
        &["dpi-sweep", "--dpi", "150,300,150"],
        &["bench", "--scenario", "single", "--dpi", "150,150"],
    ] {
        let o = medocr(args, root);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}");
        assert!(out.contains("--dpi: 150 is given twice"), "{args:?}: {out}");
    }
    for args in [
        &["run", "--dpi", "2401"][..],
        &["bench", "--scenario", "single", "--dpi", "2401"],
        &["serve", "--dpi", "2401"],
    ] {
        let o = medocr(args, root);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}");
        assert!(
            out.contains("'2401' for '--dpi") && out.contains("up to 2400"),
            "{args:?}: {out}"
        );
    }
}

#[test]
fn model_knobs_out_of_range_are_refused_with_the_range() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for px in ["0", "1", "5000"] {
        let o = medocr(
            &[
                "run",
                "--engine",
                "builtin",
                "--piece-width",
                px,
                "--limit",
                "1",
            ],
            root,
        );
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{out}");
        assert!(
            out.contains(&format!("--piece-width {px}")) && out.contains("from 64 to 800"),
            "{out}"
        );
    }
    for (command, flag, value, range) in [
        ("run", "--batch", "0", "from 1 to 1024"),
        ("run", "--batch", "100000", "from 1 to 1024"),
        ("serve", "--max-batch", "0", "from 1 to 256"),
        ("serve", "--max-queue", "0", "at least 1"),
    ] {
        let o = medocr(
            &[command, flag, value, "--limit", "1"][..if command == "run" { 5 } else { 3 }],
            root,
        );
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{out}");
        assert!(out.contains(flag) && out.contains(range), "{out}");
    }
}

#[test]
fn sources_that_are_not_images_are_named_as_such_not_as_missing_dpi() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("empty-folder")).unwrap();
    std::fs::write(data.join("notes.txt"), "처방전\n").unwrap();
    std::fs::write(
        data.join("manifest.jsonl"),
        concat!(
            r#"{"id":"a","doc_type":"prescription","source":"notes.txt","text":"처방전"}"#,
            "\n",
            r#"{"id":"b","doc_type":"prescription","source":"empty-folder","text":"처방전"}"#,
            "\n"
        ),
    )
    .unwrap();
    let reports = tmp.path().join("reports");
    let o = medocr(
        &[
            "run",
            "--engine",
            "tesseract",
            "--dataset",
            data.to_str().unwrap(),
            "--out",
            reports.to_str().unwrap(),
            "--run-id",
            "r",
            "--quiet",
        ],
        root,
    );
    let out = text(&o);
    let summary = std::fs::read_to_string(reports.join("r/summary.json")).unwrap_or_default();
    for (needle, why) in [
        (
            "notes.txt: cannot read image: neither an image nor a PDF",
            "text file",
        ),
        (
            "empty-folder: cannot read image: a folder without page images",
            "empty folder",
        ),
    ] {
        assert!(summary.contains(needle), "{why}: {out}\n{summary}");
    }
    assert!(!summary.contains("needs its scan DPI"), "{summary}");
}

/// Run folders keep raw patient text: the folder is its owner's only, and so are the
/// predictions and the journal.
#[cfg(unix)]
#[test]
fn run_folders_and_raw_text_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("datasets/bundled");
    let preds = tmp.path().join("p.jsonl");
    predictions(&data, &preds, |t| t.to_string());
    let reports = tmp.path().join("reports");
    let o = medocr(
        &[
            "score",
            "--dataset",
            data.to_str().unwrap(),
            "--predictions",
            preds.to_str().unwrap(),
            "--out",
            reports.to_str().unwrap(),
            "--run-id",
            "private",
            "--quiet",
        ],
        root,
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = reports.join("private");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("predictions.jsonl")), 0o600);
    assert_eq!(mode(&dir.join("journal.jsonl")), 0o600);
}

/// `medocr score` of the first 3 bundled documents with perfect replay predictions into
/// `<out>/<run_id>`, run in `cwd`; returns the run folder.
fn score_bundled(tmp: &Path, cwd: &Path, out: &Path, run_id: &str) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let preds = tmp.join("perfect.jsonl");
    predictions(&root.join("datasets/bundled"), &preds, |t| t.to_string());
    let o = medocr(
        &[
            "score",
            "--quiet",
            "--limit",
            "3",
            "--dataset",
            root.join("datasets/bundled").to_str().unwrap(),
            "--profiles",
            root.join("profiles").to_str().unwrap(),
            "--predictions",
            preds.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--run-id",
            run_id,
        ],
        cwd,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    out.join(run_id)
}

/// Leaves `dir` as a SIGKILL after the first result would: the journal's header and first
/// result, the second result cut short mid-line, and no reports (they are written only at
/// the end). The replay engine is too fast to be stopped at a known document.
fn cut_after_first_result(dir: &Path) {
    let journal = dir.join("journal.jsonl");
    let body = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 4, "a header and 3 results");
    let (half, _) = lines[2].char_indices().nth(40).unwrap();
    let cut = format!("{}\n{}\n{}", lines[0], lines[1], &lines[2][..half]);
    std::fs::write(&journal, cut).unwrap();
    for f in [
        "summary.json",
        "documents.csv",
        "predictions.jsonl",
        "report.md",
        "report.html",
    ] {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
}

fn summary_without_volatile(dir: &Path) -> serde_json::Value {
    common::scrub(&common::summary(dir), &[])
}

/// `--resume DIR` writes DIR, wherever it is now: a copy of an interrupted run folder
/// finishes in the copy and leaves the original byte for byte as it was, and the copy's
/// reports equal an uninterrupted run's.
#[test]
fn resume_of_a_copied_run_folder_writes_the_copy_only() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reports = tmp.path().join("reports");
    let full = score_bundled(tmp.path(), root, &reports, "full");
    let orig = score_bundled(tmp.path(), root, &reports, "orig");
    cut_after_first_result(&orig);
    // Next to the original, and in another folder.
    let copies = [reports.join("copy"), tmp.path().join("elsewhere/copy")];
    std::fs::create_dir(tmp.path().join("elsewhere")).unwrap();
    for copy in &copies {
        let o = std::process::Command::new("cp")
            .arg("-a")
            .arg(&orig)
            .arg(copy)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    let before = snapshot(&orig);
    for copy in &copies {
        let o = medocr(
            &["run", "--quiet", "--resume", copy.to_str().unwrap()],
            root,
        );
        let out = text(&o);
        assert_eq!(o.status.code(), Some(0), "{out}");
        assert!(
            out.contains(&format!("reports: {}", copy.display())),
            "{out}"
        );
        assert_eq!(snapshot(&orig), before, "the original folder was changed");
        let journal = std::fs::read_to_string(copy.join("journal.jsonl")).unwrap();
        assert_eq!(journal.lines().count(), 4, "{journal}");
        assert_eq!(
            summary_without_volatile(copy),
            summary_without_volatile(&full)
        );
    }
    assert!(!orig.join("summary.json").exists());
}

/// A moved run folder (another parent and name, the original path gone) resumes and
/// finishes in its new place without bringing the old one back.
#[test]
fn resume_of_a_moved_run_folder_finishes_where_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reports = tmp.path().join("reports");
    let full = score_bundled(tmp.path(), root, &reports, "full");
    let orig = score_bundled(tmp.path(), root, &reports, "orig");
    cut_after_first_result(&orig);
    let moved = tmp.path().join("archive/renamed");
    std::fs::create_dir(tmp.path().join("archive")).unwrap();
    std::fs::rename(&orig, &moved).unwrap();
    // A relative DIR is the caller's, not the run's recorded working directory.
    let o = medocr(
        &["run", "--quiet", "--resume", "archive/renamed"],
        tmp.path(),
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(!orig.exists(), "the old path was written: {out}");
    let journal = std::fs::read_to_string(moved.join("journal.jsonl")).unwrap();
    assert_eq!(journal.lines().count(), 4, "{journal}");
    assert!(moved.join("report.md").is_file());
    assert_eq!(
        summary_without_volatile(&moved),
        summary_without_volatile(&full)
    );
}

/// Relative paths of the recorded command line refer to the working directory it was
/// started in: when that is gone, resuming says so instead of guessing.
#[test]
fn resume_without_the_recorded_working_directory_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cwd = tmp.path().join("started-here");
    std::fs::create_dir(&cwd).unwrap();
    let run = score_bundled(tmp.path(), &cwd, &tmp.path().join("reports"), "r");
    cut_after_first_result(&run);
    std::fs::remove_dir(&cwd).unwrap();
    let o = medocr(&["run", "--quiet", "--resume", run.to_str().unwrap()], root);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains(&format!("{}, which no longer exists", cwd.display()))
            && out.contains("relative paths in its command line"),
        "{out}"
    );
    assert!(!run.join("summary.json").exists());
}
