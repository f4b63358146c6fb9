//! Korean fonts for rendering training lines (Debian packages fonts-nanum, fonts-unfonts-core,
//! fonts-baekmuk): the families the evaluation documents use, plus bold cuts.

use super::error::ModelError;
use ab_glyph::{Font, FontArc};
use std::path::Path;

/// (family, file, sampling weight)
const FONT_FILES: &[(&str, &str, u32)] = &[
    (
        "NanumGothic",
        "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
        6,
    ),
    (
        "NanumGothic",
        "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf",
        2,
    ),
    (
        "NanumMyeongjo",
        "/usr/share/fonts/truetype/nanum/NanumMyeongjo.ttf",
        6,
    ),
    (
        "NanumMyeongjo",
        "/usr/share/fonts/truetype/nanum/NanumMyeongjoBold.ttf",
        2,
    ),
    (
        "NanumBarunGothic",
        "/usr/share/fonts/truetype/nanum/NanumBarunGothic.ttf",
        5,
    ),
    (
        "NanumBarunGothic",
        "/usr/share/fonts/truetype/nanum/NanumBarunGothicBold.ttf",
        1,
    ),
    (
        "NanumSquare",
        "/usr/share/fonts/truetype/nanum/NanumSquareR.ttf",
        5,
    ),
    (
        "NanumSquare",
        "/usr/share/fonts/truetype/nanum/NanumSquareB.ttf",
        1,
    ),
    (
        "NanumPen",
        "/usr/share/fonts/truetype/nanum/NanumPen.ttf",
        2,
    ),
    (
        "UnBatang",
        "/usr/share/fonts/truetype/unfonts-core/UnBatang.ttf",
        4,
    ),
    (
        "UnDotum",
        "/usr/share/fonts/truetype/unfonts-core/UnDotum.ttf",
        4,
    ),
    (
        "UnDotum",
        "/usr/share/fonts/truetype/unfonts-core/UnDotumBold.ttf",
        1,
    ),
    (
        "Baekmuk Batang",
        "/usr/share/fonts/truetype/baekmuk/batang.ttf",
        4,
    ),
    (
        "Baekmuk Dotum",
        "/usr/share/fonts/truetype/baekmuk/dotum.ttf",
        4,
    ),
    (
        "Baekmuk Gulim",
        "/usr/share/fonts/truetype/baekmuk/gulim.ttf",
        4,
    ),
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
        let mut fonts = Vec::new();
        for &(family, path, weight) in FONT_FILES {
            if !Path::new(path).exists() {
                continue;
            }
            let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
            if let Ok(font) = FontArc::try_from_vec(bytes) {
                fonts.push(LoadedFont {
                    family: family.to_string(),
                    path: path.to_string(),
                    font,
                    weight,
                });
            }
        }
        let mut families: Vec<&str> = fonts.iter().map(|f| f.family.as_str()).collect();
        families.dedup();
        if families.len() < 4 {
            return Err(ModelError::NoFonts(format!(
                "found {} font families ({families:?}); install fonts-nanum, fonts-unfonts-core and fonts-baekmuk",
                families.len()
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
