//! What can go wrong while generating a dataset, with what to do about it.

use std::path::PathBuf;

/// What to run when a font is missing.
pub const SETUP_HINT: &str =
    "run bash scripts/setup.sh (installs fonts-nanum, fonts-nanum-extra, fonts-unfonts-core, fonts-baekmuk)";

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("font {path} cannot be read ({reason}); {SETUP_HINT}, or pass --font-dir a folder that holds it")]
    FontMissing { path: PathBuf, reason: String },
    #[error("font {path} is not a usable TrueType font ({reason}); reinstall it: {SETUP_HINT}")]
    FontInvalid { path: PathBuf, reason: String },
    #[error("font {path} has no glyph for {ch:?} (U+{code:04X}); use another font family or reinstall: {SETUP_HINT}", code = *ch as u32)]
    GlyphMissing { path: PathBuf, ch: char },
    #[error("cannot subset font {path}: {reason}")]
    Subset { path: PathBuf, reason: String },
    #[error(
        "cannot write {path}: {source}. Check that the output folder is writable and has space"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot rasterise {path} for its scan: {reason}")]
    Rasterise { path: PathBuf, reason: String },
    #[error("cannot encode scan {path}: {reason}")]
    Encode { path: PathBuf, reason: String },
    #[error("invalid generator options: {0}")]
    Options(String),
}
