//! Korean fonts for rendering training and validation lines: the project's font pool
//! (`dataset::font_pool`), training families for training and held-out families for
//! validation, never a reserved family. They are read from `$MEDOCR_FONT_DIR`, else from
//! Debian's `/usr/share/fonts/truetype`.

use super::error::ModelError;
use crate::dataset::font_pool::{self, Role};
use ab_glyph::{Font, FontArc};
use std::path::PathBuf;

/// The folder the font files are read from: `$MEDOCR_FONT_DIR`, else Debian's.
pub fn font_dir() -> PathBuf {
    std::env::var_os("MEDOCR_FONT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(crate::dataset::synth::DEFAULT_FONT_DIR))
}

pub struct LoadedFont {
    pub family: String,
    pub path: String,
    pub font: FontArc,
    pub weight: u32,
}

impl LoadedFont {
    /// Whether the font has a glyph for every non-space character of `text`.
    pub fn covers(&self, text: &str) -> bool {
        text.chars()
            .all(|c| c.is_whitespace() || self.font.glyph_id(c).0 != 0)
    }
}

pub struct FontSet {
    pub fonts: Vec<LoadedFont>,
}

impl FontSet {
    /// The installed training fonts; at least 4 families are required.
    pub fn system() -> Result<Self, ModelError> {
        Self::load(Role::Training, 4)
    }

    /// The installed held-out fonts (validation and checkpoint selection); at least 2 families.
    pub fn held_out() -> Result<Self, ModelError> {
        Self::load(Role::HeldOut, 2)
    }

    fn load(role: Role, min_families: usize) -> Result<Self, ModelError> {
        let dir = font_dir();
        let mut fonts = Vec::new();
        for f in font_pool::fonts(role) {
            let path = dir.join(f.file);
            if !path.exists() {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| ModelError::io(&path, e))?;
            if let Ok(font) = FontArc::try_from_vec(bytes) {
                fonts.push(LoadedFont {
                    family: f.family.to_string(),
                    path: path.display().to_string(),
                    font,
                    weight: f.weight,
                });
            }
        }
        let mut families: Vec<&str> = fonts.iter().map(|f| f.family.as_str()).collect();
        families.dedup();
        if families.len() < min_families {
            return Err(ModelError::NoFonts(format!(
                "found {} of the {min_families} Korean font families needed ({families:?}) in {}; run bash scripts/setup.sh (installs fonts-nanum, fonts-nanum-eco, fonts-unfonts-core, fonts-unfonts-extra, fonts-baekmuk, fonts-alee, fonts-wqy-zenhei), or point MEDOCR_FONT_DIR at a folder holding them (nanum/NanumGothic.ttf, …)",
                families.len(),
                dir.display()
            )));
        }
        Ok(FontSet { fonts })
    }

    /// Picks a font by weight among those covering `text` (any font if none covers it).
    pub fn pick(&self, text: &str, r: f64) -> &LoadedFont {
        let covering: Vec<&LoadedFont> = self.fonts.iter().filter(|f| f.covers(text)).collect();
        let pool = if covering.is_empty() {
            self.fonts.iter().collect()
        } else {
            covering
        };
        let total: u32 = pool.iter().map(|f| f.weight).sum();
        let mut x = (r * total as f64) as u32;
        for f in &pool {
            if x < f.weight {
                return f;
            }
            x -= f.weight;
        }
        pool[pool.len() - 1]
    }
}
