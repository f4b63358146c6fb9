//! Korean fonts for rendering training lines (Debian packages fonts-nanum, fonts-unfonts-core,
//! fonts-baekmuk): the families the evaluation documents use, plus bold cuts. They are read
//! from `$MEDOCR_FONT_DIR`, else from Debian's `/usr/share/fonts/truetype`.

use super::error::ModelError;
use ab_glyph::{Font, FontArc};
use std::path::PathBuf;

/// The folder the font files are read from: `$MEDOCR_FONT_DIR`, else Debian's.
pub fn font_dir() -> PathBuf {
    std::env::var_os("MEDOCR_FONT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(crate::dataset::synth::DEFAULT_FONT_DIR))
}

/// (family, file relative to [`font_dir`], sampling weight)
const FONT_FILES: &[(&str, &str, u32)] = &[
    ("NanumGothic", "nanum/NanumGothic.ttf", 6),
    ("NanumGothic", "nanum/NanumGothicBold.ttf", 2),
    ("NanumMyeongjo", "nanum/NanumMyeongjo.ttf", 6),
    ("NanumMyeongjo", "nanum/NanumMyeongjoBold.ttf", 2),
    ("NanumBarunGothic", "nanum/NanumBarunGothic.ttf", 5),
    ("NanumBarunGothic", "nanum/NanumBarunGothicBold.ttf", 1),
    ("NanumSquare", "nanum/NanumSquareR.ttf", 5),
    ("NanumSquare", "nanum/NanumSquareB.ttf", 1),
    ("NanumPen", "nanum/NanumPen.ttf", 2),
    ("UnBatang", "unfonts-core/UnBatang.ttf", 4),
    ("UnDotum", "unfonts-core/UnDotum.ttf", 4),
    ("UnDotum", "unfonts-core/UnDotumBold.ttf", 1),
    ("Baekmuk Batang", "baekmuk/batang.ttf", 4),
    ("Baekmuk Dotum", "baekmuk/dotum.ttf", 4),
    ("Baekmuk Gulim", "baekmuk/gulim.ttf", 4),
];

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
    /// Loads the installed fonts; at least 4 families are required.
    pub fn system() -> Result<Self, ModelError> {
        let dir = font_dir();
        let mut fonts = Vec::new();
        for &(family, file, weight) in FONT_FILES {
            let path = dir.join(file);
            if !path.exists() {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| ModelError::io(&path, e))?;
            if let Ok(font) = FontArc::try_from_vec(bytes) {
                fonts.push(LoadedFont {
                    family: family.to_string(),
                    path: path.display().to_string(),
                    font,
                    weight,
                });
            }
        }
        let mut families: Vec<&str> = fonts.iter().map(|f| f.family.as_str()).collect();
        families.dedup();
        if families.len() < 4 {
            return Err(ModelError::NoFonts(format!(
                "found {} of the 4 Korean font families needed ({families:?}) in {}; run bash scripts/setup.sh (installs fonts-nanum, fonts-unfonts-core, fonts-baekmuk), or point MEDOCR_FONT_DIR at a folder holding them (nanum/NanumGothic.ttf, …)",
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
