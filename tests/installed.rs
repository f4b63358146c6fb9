//! medocr as a user who installed it has it: the binary copied into an empty folder with no
//! checkout around it, libpdfium in the data folder (as `medocr doctor` says), and nothing
//! else. `gen`, `run` (Tesseract, and the bundled dataset and profiles built into the
//! binary), `score` and `compare` must all work there.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Installed {
    _tmp: tempfile::TempDir,
    bin: PathBuf,
    home: PathBuf,
    work: PathBuf,
}

impl Installed {
    fn new() -> Installed {
        let tmp = tempfile::tempdir().unwrap();
        let bin_dir = tmp.path().join("bin");
        let home = tmp.path().join("home");
        let work = tmp.path().join("work");
        for d in [&bin_dir, &home, &work] {
            std::fs::create_dir_all(d).unwrap();
        }
        let bin = bin_dir.join("medocr");
        std::fs::copy(env!("CARGO_BIN_EXE_medocr"), &bin).unwrap();
        // What doctor tells a user to do: libpdfium into the data folder.
        let lib = home.join(".local/share/medocr/lib");
        std::fs::create_dir_all(&lib).unwrap();
        let pdfium = medocr::render::find_pdfium().expect("libpdfium (bash scripts/setup.sh)");
        std::fs::copy(pdfium, lib.join("libpdfium.so")).unwrap();
        Installed {
            _tmp: tmp,
            bin,
            home,
            work,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).current_dir(&self.work).env_clear();
        // Only what a login shell has: no MEDOCR_* settings, no checkout paths.
        for var in ["PATH", "LANG", "LC_ALL"] {
            if let Some(v) = std::env::var_os(var) {
                cmd.env(var, v);
            }
        }
        cmd.env("HOME", &self.home);
        cmd.output().unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn summary(dir: &Path) -> serde_json::Value {
    let path = dir.join("summary.json");
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

#[test]
fn runs_from_an_empty_folder_without_a_checkout() {
    let m = Installed::new();

    // gen: a small dataset of its own.
    let o = m.run(&[
        "gen",
        "--out",
        "ds",
        "--count",
        "1",
        "--types",
        "prescription,diagnosis",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(m.work.join("ds/manifest.jsonl").is_file());

    // run with Tesseract on the generated dataset, checked against the bundled profiles.
    let o = m.run(&[
        "run",
        "--engine",
        "tesseract",
        "--dataset",
        "ds",
        "--dpi",
        "150",
        "--run-id",
        "base",
        "--quiet",
        "--junit",
        "base.xml",
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let s = summary(&m.work.join("reports/base"));
    assert_eq!(s["config"]["profiles"], "bundled");
    assert_eq!(s["config"]["dataset"], "ds");
    assert_eq!(s["groups"].as_array().unwrap().len(), 2);
    assert!(m.work.join("base.xml").is_file());

    // score its predictions again: the same documents, another run to compare with.
    let o = m.run(&[
        "score",
        "--dataset",
        "ds",
        "--predictions",
        "reports/base/predictions.jsonl",
        "--run-id",
        "rescored",
        "--quiet",
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    assert_eq!(
        summary(&m.work.join("reports/rescored"))["config"]["profiles"],
        "bundled"
    );

    // compare: the gate between them, found by run id under reports/.
    let o = m.run(&[
        "compare",
        "base",
        "rescored",
        "--out",
        "gate",
        "--resamples",
        "200",
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    assert!(m.work.join("gate/compare.json").is_file(), "{}", text(&o));

    // The default dataset is the one built into the binary, unpacked under the cache.
    let o = m.run(&[
        "run",
        "--engine",
        "tesseract",
        "--types",
        "diagnosis",
        "--limit",
        "1",
        "--dpi",
        "150",
        "--run-id",
        "bundled",
        "--quiet",
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let s = summary(&m.work.join("reports/bundled"));
    assert_eq!(s["config"]["dataset"], "bundled");
    assert_eq!(s["totals"]["documents"], 1);
    assert!(m.home.join(".cache/medocr/datasets").is_dir());
    // Nothing was written beside the binary, and the folder has only what was asked for.
    assert_eq!(
        std::fs::read_dir(m.bin.parent().unwrap()).unwrap().count(),
        1
    );
}

#[test]
fn doctor_names_what_is_missing_and_how_to_install_it() {
    let m = Installed::new();
    let o = m.run(&["doctor"]);
    let out = String::from_utf8_lossy(&o.stdout);
    // No model anywhere it looks: the default run cannot work.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(out.contains("MISSING  built-in model"), "{out}");
    assert!(out.contains("cp -r models/builtin"), "{out}");
    assert!(
        out.contains(
            &m.home
                .join(".local/share/medocr/models")
                .display()
                .to_string()
        ),
        "{out}"
    );
    assert!(out.contains("ok       libpdfium"), "{out}");

    // The model in the data folder, as the message says: found, and the run works.
    let models = m.home.join(".local/share/medocr/models/builtin");
    std::fs::create_dir_all(&models).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/builtin");
    for e in std::fs::read_dir(&repo).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), models.join(e.file_name())).unwrap();
        }
    }
    let o = m.run(&["doctor"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("ok       built-in model"));

    // Without it, `run` says where it looked and what to do.
    std::fs::remove_dir_all(&models).unwrap();
    let o = m.run(&["run", "--limit", "1", "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("the built-in model was not found"), "{err}");
    assert!(err.contains("MEDOCR_MODEL"), "{err}");
}
