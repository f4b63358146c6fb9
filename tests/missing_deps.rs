//! Missing system dependencies (docs/reliability.md, "Setup errors"): with libpdfium, the
//! Korean fonts or Tesseract made unavailable, the real binary stops before it runs
//! anything, with exit code 2 and a message naming what is missing and how to install it
//! (`bash scripts/setup.sh`).
//!
//! Each dependency is hidden through the knob the code uses to find it: `MEDOCR_PDFIUM`,
//! `medocr gen --font-dir`, `MEDOCR_FONT_DIR` (the model's line renderer), and `PATH` or
//! `--tesseract-bin` for Tesseract.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::text;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary folder with an empty `empty/`, one profile and a one-document dataset of
/// the bundled prescription PDF.
struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path();
        std::fs::create_dir_all(p.join("empty")).unwrap();
        std::fs::create_dir_all(p.join("profiles")).unwrap();
        std::fs::write(
            p.join("profiles/prescription.toml"),
            "doc_type = \"prescription\"\n[accuracy]\nmax_cer = 0.5\n",
        )
        .unwrap();
        std::fs::create_dir_all(p.join("data")).unwrap();
        let bundled = root().join("datasets/bundled");
        std::fs::copy(
            bundled.join("prescription-000.pdf"),
            p.join("data/prescription-000.pdf"),
        )
        .unwrap();
        let manifest = std::fs::read_to_string(bundled.join("manifest.jsonl")).unwrap();
        let line = manifest
            .lines()
            .find(|l| l.contains("\"prescription-000\""))
            .expect("prescription-000 in the bundled manifest");
        std::fs::write(p.join("data/manifest.jsonl"), format!("{line}\n")).unwrap();
        Fixture { tmp }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    /// A `tesseract` stand-in that answers `--version` and lists `langs` (the language
    /// check runs before any page is read).
    fn fake_tesseract(&self, langs: &[&str]) -> PathBuf {
        let path = self.path("fake-tesseract");
        let body = format!(
            "#!/bin/sh\ncase \"$1\" in\n  --version) echo 'tesseract 5.3.0-fake'; exit 0;;\n  --list-langs) printf 'List of available languages:\\n{}'; exit 0;;\nesac\nexit 1\n",
            langs.iter().map(|l| format!("{l}\\n")).collect::<String>()
        );
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// `medocr run` on the one-document dataset with `engine_args`.
    fn run(&self, engine_args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_medocr"));
        c.current_dir(self.tmp.path())
            .args(["run", "--quiet", "--dpi", "72"])
            .args(engine_args)
            .arg("--dataset")
            .arg(self.path("data"))
            .arg("--profiles")
            .arg(self.path("profiles"))
            .arg("--out")
            .arg(self.path("reports"))
            .stdin(Stdio::null());
        c
    }
}

/// Exit code 2 and a message holding every one of `expected`.
fn assert_setup_error(o: &Output, expected: &[&str]) -> String {
    let out = text(o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    for e in expected {
        assert!(out.contains(e), "missing {e:?} in: {out}");
    }
    out
}

#[test]
fn missing_libpdfium_is_a_setup_error() {
    let fx = Fixture::new();
    let fake = fx.fake_tesseract(&["eng", "kor"]);
    let empty = fx.path("empty");

    // MEDOCR_PDFIUM pointing at a folder without the library: no other copy is used.
    let mut c = fx.run(&[
        "--engine",
        "tesseract",
        "--tesseract-bin",
        fake.to_str().unwrap(),
    ]);
    c.env("MEDOCR_PDFIUM", &empty);
    let out = assert_setup_error(
        &c.output().unwrap(),
        &[
            "libpdfium not found",
            &empty.join("libpdfium.so").display().to_string(),
            "bash scripts/setup.sh",
            "MEDOCR_PDFIUM",
        ],
    );
    assert!(
        !fx.path("reports").exists() || std::fs::read_dir(fx.path("reports")).unwrap().count() == 0,
        "a run folder was started: {out}"
    );

    // A file that is not a shared library.
    let bogus = fx.path("libpdfium.so");
    std::fs::write(&bogus, b"not a library").unwrap();
    let mut c = fx.run(&[
        "--engine",
        "tesseract",
        "--tesseract-bin",
        fake.to_str().unwrap(),
    ]);
    c.env("MEDOCR_PDFIUM", &bogus);
    assert_setup_error(
        &c.output().unwrap(),
        &[
            "cannot load libpdfium from",
            &bogus.display().to_string(),
            "bash scripts/setup.sh",
            "MEDOCR_PDFIUM",
        ],
    );

    // `medocr gen --scans` rasterises its PDFs with pdfium too.
    let o = Command::new(env!("CARGO_BIN_EXE_medocr"))
        .current_dir(fx.tmp.path())
        .args([
            "gen",
            "--count",
            "1",
            "--types",
            "prescription",
            "--scans",
            "--out",
        ])
        .arg(fx.path("gen"))
        .env("MEDOCR_PDFIUM", &empty)
        .output()
        .unwrap();
    assert_setup_error(&o, &["libpdfium not found", "bash scripts/setup.sh"]);
}

#[test]
fn missing_tesseract_or_language_pack_is_a_setup_error() {
    let fx = Fixture::new();
    // No tesseract on PATH (the default --tesseract-bin is looked up there).
    let mut c = fx.run(&["--engine", "tesseract"]);
    c.env("PATH", fx.path("empty"));
    assert_setup_error(
        &c.output().unwrap(),
        &[
            "tesseract is not installed",
            "cannot run 'tesseract'",
            "bash scripts/setup.sh",
            "tesseract-ocr-kor",
        ],
    );

    // Tesseract without the Korean language pack.
    let fake = fx.fake_tesseract(&["eng", "osd"]);
    let mut c = fx.run(&[
        "--engine",
        "tesseract",
        "--tesseract-bin",
        fake.to_str().unwrap(),
    ]);
    assert_setup_error(
        &c.output().unwrap(),
        &[
            "language pack 'kor' is missing",
            "Debian package tesseract-ocr-kor",
            "--list-langs",
            "bash scripts/setup.sh",
        ],
    );
}

#[test]
fn missing_fonts_are_a_setup_error() {
    let fx = Fixture::new();
    let empty = fx.path("empty");

    // The generator: the first font file it needs, under the folder it was given.
    let o = Command::new(env!("CARGO_BIN_EXE_medocr"))
        .current_dir(fx.tmp.path())
        .args(["gen", "--count", "1", "--types", "prescription", "--out"])
        .arg(fx.path("gen"))
        .arg("--font-dir")
        .arg(&empty)
        .output()
        .unwrap();
    let out = assert_setup_error(
        &o,
        &[
            &format!("font {}", empty.display()),
            "cannot be read",
            "bash scripts/setup.sh",
            "fonts-nanum",
            "--font-dir",
        ],
    );
    assert!(out.contains(".ttf"), "{out}");

    // The built-in model's line renderer (training): MEDOCR_FONT_DIR without fonts.
    let o = Command::new(env!("CARGO_BIN_EXE_medocr"))
        .current_dir(fx.tmp.path())
        .args(["train", "--steps", "1", "--run"])
        .arg(fx.path("train-run"))
        .env("MEDOCR_FONT_DIR", &empty)
        .output()
        .unwrap();
    assert_setup_error(
        &o,
        &[
            "no usable fonts",
            "found 0 of the 4 Korean font families",
            &empty.display().to_string(),
            "bash scripts/setup.sh",
            "MEDOCR_FONT_DIR",
        ],
    );
}
