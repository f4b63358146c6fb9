//! The Korean font families the generator prints with, and loading them from disk.
//!
//! Families are plain data (file names), so content generation can pick one without
//! touching the disk; [`FontBook`] loads the files only when a PDF is written.

use super::error::GenError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where Debian installs TrueType fonts; the file names below are relative to it.
pub const DEFAULT_FONT_DIR: &str = "/usr/share/fonts/truetype";

/// A font family used for a whole document (body, tables, headings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FontFamily {
    NanumGothic,
    NanumMyeongjo,
    NanumBarunGothic,
    NanumSquare,
    UnDotum,
    UnBatang,
    BaekmukGulim,
    BaekmukBatang,
}

impl FontFamily {
    pub const ALL: [FontFamily; 8] = [
        FontFamily::NanumGothic,
        FontFamily::NanumMyeongjo,
        FontFamily::NanumBarunGothic,
        FontFamily::NanumSquare,
        FontFamily::UnDotum,
        FontFamily::UnBatang,
        FontFamily::BaekmukGulim,
        FontFamily::BaekmukBatang,
    ];

    /// Regular face, relative to the font directory.
    pub fn regular_file(self) -> &'static str {
        match self {
            FontFamily::NanumGothic => "nanum/NanumGothic.ttf",
            FontFamily::NanumMyeongjo => "nanum/NanumMyeongjo.ttf",
            FontFamily::NanumBarunGothic => "nanum/NanumBarunGothic.ttf",
            FontFamily::NanumSquare => "nanum/NanumSquareR.ttf",
            FontFamily::UnDotum => "unfonts-core/UnDotum.ttf",
            FontFamily::UnBatang => "unfonts-core/UnBatang.ttf",
            FontFamily::BaekmukGulim => "baekmuk/gulim.ttf",
            FontFamily::BaekmukBatang => "baekmuk/batang.ttf",
        }
    }

    /// Bold face, if the family ships one (otherwise bold is drawn by stroking the outline).
    pub fn bold_file(self) -> Option<&'static str> {
        match self {
            FontFamily::NanumGothic => Some("nanum/NanumGothicBold.ttf"),
            FontFamily::NanumMyeongjo => Some("nanum/NanumMyeongjoBold.ttf"),
            FontFamily::NanumBarunGothic => Some("nanum/NanumBarunGothicBold.ttf"),
            FontFamily::NanumSquare => Some("nanum/NanumSquareB.ttf"),
            FontFamily::UnDotum => Some("unfonts-core/UnDotumBold.ttf"),
            FontFamily::UnBatang => Some("unfonts-core/UnBatangBold.ttf"),
            FontFamily::BaekmukGulim | FontFamily::BaekmukBatang => None,
        }
    }

    /// Serif (명조/바탕) rather than sans (고딕/돋움/굴림).
    pub fn is_serif(self) -> bool {
        matches!(
            self,
            FontFamily::NanumMyeongjo | FontFamily::UnBatang | FontFamily::BaekmukBatang
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            FontFamily::NanumGothic => "NanumGothic",
            FontFamily::NanumMyeongjo => "NanumMyeongjo",
            FontFamily::NanumBarunGothic => "NanumBarunGothic",
            FontFamily::NanumSquare => "NanumSquare",
            FontFamily::UnDotum => "UnDotum",
            FontFamily::UnBatang => "UnBatang",
            FontFamily::BaekmukGulim => "Baekmuk Gulim",
            FontFamily::BaekmukBatang => "Baekmuk Batang",
        }
    }
}

/// The handwriting-like face used for hand-written notes in 의무기록.
pub const HAND_FILE: &str = "nanum/NanumPen.ttf";

/// One font file read into memory, with the metrics the PDF needs (in font units).
pub struct LoadedFont {
    pub path: PathBuf,
    pub data: Vec<u8>,
    pub units_per_em: f32,
    pub ascent: f32,
    pub descent: f32,
    pub cap_height: f32,
    pub bbox: [f32; 4],
    /// PostScript name, used in the PDF's `/BaseFont` (ASCII, no spaces).
    pub postscript_name: String,
    /// `char` → (glyph id, advance in font units), for every char looked up so far.
    glyphs: BTreeMap<char, Option<(u16, u16)>>,
}

impl LoadedFont {
    fn load(path: &Path) -> Result<LoadedFont, GenError> {
        let data = std::fs::read(path).map_err(|e| GenError::FontMissing {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let face = ttf_parser::Face::parse(&data, 0).map_err(|e| GenError::FontInvalid {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let b = face.global_bounding_box();
        let postscript_name = face
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            .find_map(|n| n.to_string())
            .unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let font = LoadedFont {
            path: path.to_path_buf(),
            units_per_em: f32::from(face.units_per_em()),
            ascent: f32::from(face.ascender()),
            descent: f32::from(face.descender()),
            cap_height: f32::from(face.capital_height().unwrap_or(face.ascender())),
            bbox: [
                b.x_min.into(),
                b.y_min.into(),
                b.x_max.into(),
                b.y_max.into(),
            ],
            postscript_name,
            glyphs: BTreeMap::new(),
            data: Vec::new(),
        };
        Ok(LoadedFont { data, ..font })
    }

    /// Glyph id and advance (font units) for `c`, or `None` if the font lacks it.
    pub fn glyph(&mut self, c: char) -> Option<(u16, u16)> {
        if let Some(g) = self.glyphs.get(&c) {
            return *g;
        }
        // Parsing the table directory again is cheap, and keeps this struct free of
        // self-borrows; results are cached per char.
        let g = ttf_parser::Face::parse(&self.data, 0)
            .ok()
            .and_then(|face| {
                let id = face.glyph_index(c)?;
                // Fonts map an unknown char to .notdef (id 0) on some platforms: treat as missing.
                if id.0 == 0 {
                    return None;
                }
                Some((id.0, face.glyph_hor_advance(id).unwrap_or(0)))
            });
        self.glyphs.insert(c, g);
        g
    }

    /// Width of `text` at `size` points, or the first char the font lacks.
    #[cfg(test)]
    pub fn width(&mut self, text: &str, size: f32) -> Result<f32, char> {
        let mut units = 0.0;
        for c in text.chars() {
            let (_, adv) = self.glyph(c).ok_or(c)?;
            units += f32::from(adv);
        }
        Ok(units * size / self.units_per_em)
    }

    /// Whether every char of `text` has a glyph.
    pub fn covers(&mut self, text: &str) -> bool {
        text.chars().all(|c| self.glyph(c).is_some())
    }
}

/// Font files loaded once per generation run, keyed by their path relative to the font dir.
pub struct FontBook {
    dir: PathBuf,
    fonts: BTreeMap<&'static str, LoadedFont>,
}

impl FontBook {
    pub fn new(dir: &Path) -> FontBook {
        FontBook {
            dir: dir.to_path_buf(),
            fonts: BTreeMap::new(),
        }
    }

    /// The font at `rel` (e.g. `nanum/NanumGothic.ttf`), read on first use.
    pub fn get(&mut self, rel: &'static str) -> Result<&mut LoadedFont, GenError> {
        if !self.fonts.contains_key(rel) {
            let font = LoadedFont::load(&self.dir.join(rel))?;
            self.fonts.insert(rel, font);
        }
        Ok(self.fonts.get_mut(rel).expect("inserted above"))
    }

    /// Checks that the files of `families` (and the hand face) exist, so a run fails
    /// before writing anything rather than halfway.
    pub fn check(&mut self, families: &[FontFamily], hand: bool) -> Result<(), GenError> {
        for f in families {
            self.get(f.regular_file())?;
            if let Some(b) = f.bold_file() {
                self.get(b)?;
            }
        }
        if hand {
            self.get(HAND_FILE)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::SETUP_HINT;
    use super::super::ksx1001;
    use super::*;

    fn book() -> Option<FontBook> {
        let dir = Path::new(DEFAULT_FONT_DIR);
        dir.join(FontFamily::NanumGothic.regular_file())
            .exists()
            .then(|| FontBook::new(dir))
    }

    /// Every family must print every char the generator may emit (the hand face may
    /// lack symbols: the PDF writer falls back to the regular face for such lines).
    #[test]
    fn families_cover_the_generator_charset() {
        let Some(mut book) = book() else {
            eprintln!("skipped: Korean fonts not installed ({SETUP_HINT})");
            return;
        };
        let charset: String = (' '..='~')
            .chain(ksx1001::HANGUL.chars())
            .chain(ksx1001::SYMBOLS.chars())
            .collect();
        for fam in FontFamily::ALL {
            for rel in std::iter::once(fam.regular_file()).chain(fam.bold_file()) {
                let font = book.get(rel).unwrap();
                let missing: String = charset
                    .chars()
                    .filter(|c| font.glyph(*c).is_none())
                    .collect();
                assert!(missing.is_empty(), "{rel} lacks {missing:?}");
            }
        }
        let hand = book.get(HAND_FILE).unwrap();
        assert!(hand.covers(ksx1001::HANGUL));
    }
}

#[cfg(test)]
mod calibration {
    use super::super::error::SETUP_HINT;
    use super::super::ksx1001;
    use super::super::widths::{Widths, HAND};
    use super::*;

    /// The layout's width tables must hold for the installed fonts: a run is then never
    /// wider on paper than the layout measured it.
    #[test]
    fn width_tables_match_the_installed_fonts() {
        let dir = Path::new(DEFAULT_FONT_DIR);
        if !dir.join(FontFamily::NanumGothic.regular_file()).exists() {
            eprintln!("skipped: Korean fonts not installed ({SETUP_HINT})");
            return;
        }
        let mut book = FontBook::new(dir);
        let charset: Vec<char> = (' '..='~')
            .chain(ksx1001::HANGUL.chars())
            .chain(ksx1001::SYMBOLS.chars())
            .collect();
        let mut faces: Vec<(&str, &Widths)> = Vec::new();
        for fam in FontFamily::ALL {
            faces.push((fam.regular_file(), Widths::of(fam)));
            faces.extend(fam.bold_file().map(|b| (b, Widths::of(fam))));
        }
        faces.push((HAND_FILE, &HAND));
        for (rel, table) in faces {
            let font = book.get(rel).unwrap();
            for &c in &charset {
                let Ok(real) = font.width(&c.to_string(), 1000.0) else {
                    continue;
                };
                let measured = table.em(c) * 1000.0;
                assert!(
                    real <= measured + 0.5,
                    "{rel}: {c:?} is {real} units, table says {measured}"
                );
            }
        }
    }
}

#[cfg(test)]
mod width_table_gen {
    use super::*;
    #[test]
    #[ignore]
    fn print_width_table() {
        let mut book = FontBook::new(Path::new(DEFAULT_FONT_DIR));
        let ascii: Vec<char> = (' '..='~').collect();
        let symbols: Vec<char> = super::super::ksx1001::SYMBOLS.chars().collect();
        let mut out = String::new();
        let mut faces: Vec<(String, Vec<&'static str>)> = FontFamily::ALL
            .iter()
            .map(|f| {
                (
                    format!("{f:?}"),
                    std::iter::once(f.regular_file())
                        .chain(f.bold_file())
                        .collect(),
                )
            })
            .collect();
        faces.push(("Hand".into(), vec![HAND_FILE]));
        for (name, files) in faces {
            let mut max = |chars: &mut dyn Iterator<Item = char>| -> u32 {
                let mut m = 0.0f32;
                for c in chars {
                    for rel in &files {
                        let f = book.get(rel).unwrap();
                        if let Ok(w) = f.width(&c.to_string(), 1000.0) {
                            m = m.max(w);
                        }
                    }
                }
                m.ceil() as u32
            };
            let hangul = max(&mut super::super::ksx1001::HANGUL.chars());
            let a: Vec<String> = ascii
                .iter()
                .map(|c| max(&mut std::iter::once(*c)).to_string())
                .collect();
            let s: Vec<String> = symbols
                .iter()
                .map(|c| max(&mut std::iter::once(*c)).to_string())
                .collect();
            out.push_str(&format!(
                "{name}: hangul {hangul}\nascii [{}]\nsymbols [{}]\n",
                a.join(", "),
                s.join(", ")
            ));
        }
        eprintln!("{out}");
    }
}
