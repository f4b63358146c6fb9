//! `medocr doctor`: what this machine has of the tools and files medocr uses, and the
//! command that installs what is missing. Each check finds things the way the command that
//! needs them does (the same lookups), so a check that passes means the command will find
//! it.

use crate::dataset::print::Chromium;
use crate::dataset::synth::{FontFamily, DEFAULT_FONT_DIR};
use crate::engine::builtin::BuiltinEngine;
use crate::engine::tesseract::{Tesseract, TesseractConfig};
use crate::engine::Engine;
use crate::render::PdfRenderer;
use std::path::Path;
use std::time::Duration;

/// How a missing item affects medocr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The default run (`medocr run` on the bundled dataset) cannot work without it.
    Required,
    /// Only the commands or flags named in [`Check::used_by`] need it.
    Optional,
}

/// One item checked.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub need: Need,
    /// What uses it.
    pub used_by: &'static str,
    /// Found: where and which version. Missing: why.
    pub result: Result<String, String>,
    /// What installs it (shown when it is missing).
    pub fix: String,
}

impl Check {
    pub fn ok(&self) -> bool {
        self.result.is_ok()
    }
}

/// Debian packages of the fonts `medocr gen` prints with.
const FONT_PACKAGES: &str = "fonts-nanum fonts-nanum-extra fonts-unfonts-core fonts-baekmuk";

/// Runs every check, in the order a user installs things.
pub fn run() -> Vec<Check> {
    vec![model(), pdfium(), tesseract(), fonts(), chromium(), gpu()]
}

fn model() -> Check {
    let result = BuiltinEngine::locate(None)
        .map_err(|e| e.to_string())
        .and_then(|dir| {
            crate::model::weights::load_config(&dir.join("config.json"))
                .map(|c| {
                    format!(
                        "{} ({}, d={}, {}+{} layers)",
                        dir.display(),
                        c.architecture,
                        c.d_model,
                        c.encoder_layers,
                        c.decoder_layers
                    )
                })
                .map_err(|e| e.to_string())
        });
    let target = crate::paths::data_dir().map_or_else(
        || "$XDG_DATA_HOME/medocr/models".to_string(),
        |d| d.join("models").display().to_string(),
    );
    Check {
        name: "built-in model",
        need: Need::Required,
        used_by: "--engine builtin (the default), serve, roofline",
        result,
        fix: format!(
            "from a medocr checkout: mkdir -p {target} && cp -r models/builtin {target}/ (or set MEDOCR_MODEL, or pass --model)"
        ),
    }
}

fn pdfium() -> Check {
    let result = PdfRenderer::global()
        .map(|r| r.library().display().to_string())
        .map_err(|e| e.to_string());
    let lib = crate::paths::data_dir().map_or_else(
        || "$XDG_DATA_HOME/medocr/lib".to_string(),
        |d| d.join("lib").display().to_string(),
    );
    Check {
        name: "libpdfium",
        need: Need::Required,
        used_by: "rendering PDF documents (every dataset with PDFs, the bundled one too)",
        result,
        fix: format!(
            "in a checkout: bash scripts/setup.sh; elsewhere: python3 -m pip download --no-deps --only-binary=:all: pypdfium2 && mkdir -p {lib} && unzip -j pypdfium2-*.whl pypdfium2_raw/libpdfium.so -d {lib}"
        ),
    }
}

fn tesseract() -> Check {
    let result = Tesseract::new(TesseractConfig {
        timeout: Duration::from_secs(10),
        ..TesseractConfig::default()
    })
    .map(|t| format!("{} with kor+eng", t.info().version))
    .map_err(|e| e.to_string());
    Check {
        name: "tesseract (kor+eng)",
        need: Need::Optional,
        used_by: "--engine tesseract (the baseline)",
        result,
        fix: "sudo apt-get install tesseract-ocr tesseract-ocr-kor".into(),
    }
}

fn fonts() -> Check {
    let dir = Path::new(DEFAULT_FONT_DIR);
    let missing: Vec<&str> = FontFamily::ALL
        .iter()
        .map(|f| f.regular_file())
        .filter(|f| !dir.join(f).is_file())
        .collect();
    let result = if missing.is_empty() {
        Ok(format!(
            "{} families in {}",
            FontFamily::ALL.len(),
            dir.display()
        ))
    } else {
        Err(format!(
            "{} of {} families missing in {}: {}",
            missing.len(),
            FontFamily::ALL.len(),
            dir.display(),
            missing.join(", ")
        ))
    };
    Check {
        name: "Korean fonts",
        need: Need::Optional,
        used_by: "medocr gen (synthetic documents)",
        result,
        fix: format!("sudo apt-get install {FONT_PACKAGES}"),
    }
}

fn chromium() -> Check {
    let result = Chromium::find()
        .map(|c| match c.version() {
            Some(v) => format!("{} ({v})", c.binary.display()),
            None => c.binary.display().to_string(),
        })
        .map_err(|e| e.to_string());
    Check {
        name: "chromium",
        need: Need::Optional,
        used_by: "medocr gen --toolchain chromium (HTML printouts)",
        result,
        fix: "sudo apt-get install chromium (or set MEDOCR_CHROMIUM)".into(),
    }
}

fn gpu() -> Check {
    let compiled = cfg!(feature = "cuda");
    let result = crate::bench::resources::gpu_name(0).and_then(|name| {
        if compiled {
            Ok(format!("{name}; this build has CUDA"))
        } else {
            Err(format!(
                "{name} found, but this build has no CUDA (--device cuda needs --features cuda)"
            ))
        }
    });
    Check {
        name: "GPU",
        need: Need::Optional,
        used_by: "--device cuda, GPU memory and power in bench",
        result,
        fix: "an NVIDIA driver (libnvidia-ml.so.1) and a build with `cargo install --path . --features cuda`".into(),
    }
}
