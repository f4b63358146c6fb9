//! Fonts for the Chromium printouts: the pool's families of one role, their faces loaded
//! with ttf-parser (weights, PostScript names, advances, glyph coverage), CSS font stacks
//! that cover a document's characters, and the fontconfig file that keeps Chromium to
//! exactly those files.
//!
//! Chromium picks fonts through fontconfig and falls back to any installed family for a
//! missing glyph, which could print a reserved family. Two guards: the generated
//! `fonts.conf` accepts only the role's pool files and rejects every other font file (the
//! reserved ones explicitly, by file and by family), and every stack is checked here to
//! cover every character it prints, so fallback is never needed. The PDF's embedded fonts
//! are checked afterwards (`truth.rs`).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use super::PrintError;
use crate::dataset::font_pool::{self, is_reserved_family, is_reserved_file, PoolFont, Role};

/// Which of the pool's families a printout is set in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FontChoice {
    /// Never trained on: validation sets and the bundled sample.
    #[default]
    HeldOut,
    /// The training families (for training pages).
    Training,
}

impl FontChoice {
    pub fn role(self) -> Role {
        match self {
            FontChoice::HeldOut => Role::HeldOut,
            FontChoice::Training => Role::Training,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FontChoice::HeldOut => "held-out",
            FontChoice::Training => "training",
        }
    }
}

impl std::fmt::Display for FontChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FontChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "held-out" | "heldout" => Ok(FontChoice::HeldOut),
            "training" | "train" => Ok(FontChoice::Training),
            other => Err(format!(
                "unknown font choice '{other}': choose held-out or training"
            )),
        }
    }
}

/// Handwriting-like families: used for hand-written notes, never for the printed body.
const HAND_FAMILIES: &[&str] = &[
    "Nanum Pen Script",
    "Nanum Brush Script",
    "NanumBarunpen",
    "UnPen",
    "UnPenheulim",
    "UnPilgi",
    "UnPilgia",
    "Bangwool",
    "Bandal",
    "Guseul",
    "Eunjin Nakseo",
];

/// Whether a family is handwriting-like.
pub fn is_hand_family(family: &str) -> bool {
    HAND_FAMILIES.contains(&family)
}

/// One face of a pool font file.
pub struct Face {
    pub family: &'static str,
    /// As in the pool (relative to the font folder).
    pub file: &'static str,
    pub path: PathBuf,
    /// Face index inside a collection (`.ttc`).
    pub index: u32,
    /// OS/2 weight class (400 regular, 700 bold).
    pub weight: u16,
    /// PostScript name: what a PDF names the embedded font (after a subset tag).
    pub ps_name: String,
    /// Style name (`Regular`, `Bold`, `ExtraBold`, …): typographic if present, else legacy.
    pub style: String,
    units_per_em: f32,
    data: Vec<u8>,
    advances: Mutex<HashMap<char, Option<f32>>>,
}

impl std::fmt::Debug for Face {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Face")
            .field("family", &self.family)
            .field("file", &self.file)
            .field("weight", &self.weight)
            .field("ps_name", &self.ps_name)
            .finish()
    }
}

impl Face {
    fn load(font_dir: &Path, font: &PoolFont) -> Result<Face, PrintError> {
        let path = font_dir.join(font.file);
        let bad = |reason: String| PrintError::Font {
            path: path.clone(),
            reason,
        };
        let data = std::fs::read(&path).map_err(|e| {
            bad(format!(
                "{e}; install the Korean font packages with `bash scripts/setup.sh`"
            ))
        })?;
        let count = ttf_parser::fonts_in_collection(&data).unwrap_or(1);
        // In a collection, the face whose family name is the pool's.
        let mut chosen = None;
        for index in 0..count {
            let face = ttf_parser::Face::parse(&data, index)
                .map_err(|e| bad(format!("not a usable font: {e}")))?;
            let family_names: Vec<String> = face
                .names()
                .into_iter()
                .filter(|n| n.name_id == 1 || n.name_id == 16)
                .filter_map(|n| n.to_string())
                .collect();
            if count == 1 || family_names.iter().any(|n| n == font.family) {
                let name = |id: u16| {
                    face.names()
                        .into_iter()
                        .filter(|n| n.name_id == id)
                        .find_map(|n| n.to_string())
                };
                let ps_name =
                    name(6).ok_or_else(|| bad("the font has no PostScript name".into()))?;
                let style = name(17).or_else(|| name(2)).unwrap_or_default();
                chosen = Some((
                    index,
                    face.weight().to_number(),
                    ps_name,
                    style,
                    f32::from(face.units_per_em()),
                ));
                break;
            }
        }
        let (index, weight, ps_name, style, units_per_em) = chosen.ok_or_else(|| {
            bad(format!(
                "no face of family '{}' in the collection",
                font.family
            ))
        })?;
        Ok(Face {
            family: font.family,
            file: font.file,
            path,
            index,
            weight,
            ps_name,
            style,
            units_per_em,
            data,
            advances: Mutex::new(HashMap::new()),
        })
    }

    /// Advance width of `c` in em, or `None` when the face has no glyph for it.
    pub fn advance(&self, c: char) -> Option<f32> {
        let mut cache = self.advances.lock().unwrap_or_else(|e| e.into_inner());
        *cache.entry(c).or_insert_with(|| {
            let face = ttf_parser::Face::parse(&self.data, self.index).ok()?;
            let gid = face.glyph_index(c).filter(|g| g.0 != 0)?;
            let adv = face.glyph_hor_advance(gid)?;
            Some(f32::from(adv) / self.units_per_em)
        })
    }

    pub fn covers(&self, c: char) -> bool {
        // Controls and plain spaces are never drawn from a glyph that matters.
        c == ' ' || self.advance(c).is_some()
    }
}

/// The faces of one role, loaded from the font folder: per family one regular face and at
/// most one bold face. Only these are shown to Chromium (see [`fontconfig`]), so its font
/// matching has nothing to choose between: fontconfig's idea of a face's weight (which
/// may come from its style name) cannot differ from ours.
#[derive(Debug)]
pub struct FontLibrary {
    pub role: Role,
    pub font_dir: PathBuf,
    /// The faces used: each family's regular face, then its bold face if any.
    pub faces: Vec<Face>,
    /// Per family (pool order): index of the regular face and of the bold face in `faces`.
    families: Vec<(&'static str, usize, Option<usize>)>,
}

impl FontLibrary {
    /// Loads every pool file of `role` (an error names a missing or broken file).
    pub fn load(font_dir: &Path, role: Role) -> Result<FontLibrary, PrintError> {
        let mut all: Vec<Face> = Vec::new();
        for f in font_pool::fonts(role) {
            if is_reserved_family(f.family) || is_reserved_file(f.file) {
                return Err(PrintError::Font {
                    path: font_dir.join(f.file),
                    reason: "reserved font in the pool".into(),
                });
            }
            all.push(Face::load(font_dir, f)?);
        }
        let mut all: Vec<Option<Face>> = all.into_iter().map(Some).collect();
        let weight = |all: &[Option<Face>], i: usize| all[i].as_ref().map_or(0, |f| f.weight);
        let mut faces = Vec::new();
        let mut families = Vec::new();
        for family in font_pool::families(role) {
            let mine: Vec<usize> = (0..all.len())
                .filter(|&i| all[i].as_ref().is_some_and(|f| f.family == family))
                .collect();
            // Regular: the weight nearest 400 (ties: the lighter face).
            let Some(r) = mine.iter().copied().min_by_key(|&i| {
                (i32::from(weight(&all, i)) - 400).unsigned_abs() * 2
                    + u32::from(weight(&all, i) > 400)
            }) else {
                continue;
            };
            // Bold: the face styled plain "Bold", else the weight nearest 700 from 600 up.
            let b = mine
                .iter()
                .copied()
                .filter(|&i| i != r)
                .find(|&i| {
                    all[i]
                        .as_ref()
                        .is_some_and(|f| f.style.eq_ignore_ascii_case("bold"))
                })
                .or_else(|| {
                    mine.iter()
                        .copied()
                        .filter(|&i| i != r && weight(&all, i) >= 600)
                        .min_by_key(|&i| (i32::from(weight(&all, i)) - 700).unsigned_abs())
                });
            faces.push(all[r].take().expect("each face is taken once"));
            let ri = faces.len() - 1;
            let bi = b.map(|b| {
                faces.push(all[b].take().expect("each face is taken once"));
                faces.len() - 1
            });
            families.push((family, ri, bi));
        }
        Ok(FontLibrary {
            role,
            font_dir: font_dir.to_path_buf(),
            faces,
            families,
        })
    }

    /// The role's families in pool order.
    pub fn families(&self) -> Vec<&'static str> {
        self.families.iter().map(|f| f.0).collect()
    }

    /// The face of `family` Chromium uses at `weight`: the regular face below 600, the
    /// bold face from 600 up (`None` when the family has none: bold text is then set in
    /// the regular weight, never synthesised).
    pub fn face(&self, family: &str, weight: u16) -> Option<&Face> {
        let &(_, r, b) = self.families.iter().find(|(f, _, _)| *f == family)?;
        if weight < 600 {
            Some(&self.faces[r])
        } else {
            b.map(|b| &self.faces[b])
        }
    }

    /// Whether `family` has a real bold face (so Chromium need not synthesise one, which
    /// it prints as unnamed Type 3 fonts).
    pub fn has_bold(&self, family: &str) -> bool {
        self.face(family, 700).is_some()
    }

    /// The PostScript names of every face of the role: what may be embedded.
    pub fn ps_names(&self) -> BTreeSet<String> {
        self.faces.iter().map(|f| f.ps_name.clone()).collect()
    }

    /// A stack for `chars` at `weight`: `primary` first, then families of the role that
    /// cover what it lacks (print faces before hand faces; for bold, only real bold
    /// faces). `None` when the role cannot cover every character.
    pub fn stack(
        &self,
        primary: &'static str,
        weight: u16,
        chars: &BTreeSet<char>,
    ) -> Option<Stack<'_>> {
        let usable = |family: &str| self.face(family, weight);
        let mut faces = vec![usable(primary)?];
        let mut missing: BTreeSet<char> = chars
            .iter()
            .copied()
            .filter(|&c| !faces[0].covers(c))
            .collect();
        let mut candidates: Vec<&'static str> = self.families();
        // Print faces first: a hand face in a table looks wrong.
        candidates.sort_by_key(|f| is_hand_family(f) && !is_hand_family(primary));
        while !missing.is_empty() {
            let best = candidates
                .iter()
                .filter(|f| !faces.iter().any(|x| x.family == **f))
                .filter_map(|f| usable(f))
                .map(|face| (missing.iter().filter(|&&c| face.covers(c)).count(), face))
                .filter(|(n, _)| *n > 0)
                .max_by_key(|(n, _)| *n)?;
            missing.retain(|&c| !best.1.covers(c));
            faces.push(best.1);
        }
        Some(Stack { faces })
    }
}

/// Faces a CSS `font-family` list resolves to, in order, at one weight.
#[derive(Debug, Clone)]
pub struct Stack<'a> {
    pub faces: Vec<&'a Face>,
}

impl Stack<'_> {
    /// The CSS `font-family` value.
    pub fn css(&self) -> String {
        self.faces
            .iter()
            .map(|f| format!("\"{}\"", f.family))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Width of `text` at `size` points, as Chromium lays it out with kerning and
    /// ligatures off: the sum of advances, each from the first face that has the glyph.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| {
                self.faces
                    .iter()
                    .find_map(|f| f.advance(c))
                    .unwrap_or(if c == ' ' { 0.3 } else { 1.0 })
            })
            .sum::<f32>()
            * size
    }

    pub fn primary(&self) -> &str {
        self.faces[0].family
    }
}

/// The fontconfig file Chromium runs with: the system configuration, then only the
/// role's pool files accepted and every other font file rejected, the reserved files and
/// families named explicitly as well.
pub fn fontconfig(lib: &FontLibrary, system_fonts: &Path) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut out = String::from(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE fontconfig SYSTEM \"urn:fontconfig:fonts.dtd\">\n\
         <!-- Written by medocr for Chromium printouts: only the pool's fonts of one role. -->\n\
         <fontconfig>\n  <include ignore_missing=\"yes\">/etc/fonts/fonts.conf</include>\n  <selectfont>\n    <acceptfont>\n",
    );
    for f in &lib.faces {
        out.push_str(&format!(
            "      <glob>{}</glob>\n",
            esc(&f.path.display().to_string())
        ));
    }
    out.push_str("    </acceptfont>\n    <rejectfont>\n");
    // Globs on file names only: a glob that matched a folder would hide the whole folder,
    // accepted files included.
    for ext in [
        "ttf", "TTF", "ttc", "TTC", "otf", "OTF", "otc", "pfb", "pfa", "pcf", "pcf.gz", "bdf",
        "woff", "woff2", "t1",
    ] {
        out.push_str(&format!("      <glob>*.{ext}</glob>\n"));
    }
    for path in reserved_files(system_fonts) {
        out.push_str(&format!(
            "      <glob>{}</glob>\n",
            esc(&path.display().to_string())
        ));
    }
    for family in reserved_family_names() {
        out.push_str(&format!(
            "      <pattern><patelt name=\"family\"><string>{}</string></patelt></pattern>\n",
            esc(&family)
        ));
    }
    out.push_str("    </rejectfont>\n  </selectfont>\n</fontconfig>\n");
    out
}

/// Reserved family names as fontconfig spells them (the CJK prefixes with their regions).
fn reserved_family_names() -> Vec<String> {
    let mut out = Vec::new();
    for r in font_pool::RESERVED_FAMILIES {
        out.push(r.to_string());
        if r.contains("CJK") {
            for region in ["KR", "JP", "SC", "TC", "HK"] {
                out.push(format!("{r} {region}"));
            }
        }
    }
    out
}

/// Reserved font files installed under `dir` (searched recursively).
pub fn reserved_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if is_reserved_file(&p.display().to_string()) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Whether an embedded font's PostScript name (subset tag removed) belongs to a reserved
/// family: its name without spaces starts with a reserved family's (the `Eunjin` family
/// only by its exact name, so that `EunjinNakseo` stays allowed).
pub fn is_reserved_ps_name(name: &str) -> bool {
    let squash = |s: &str| {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let base = name.split('-').next().unwrap_or(name);
    let n = squash(name);
    font_pool::RESERVED_FAMILIES.iter().any(|r| {
        let r = squash(r);
        if r == "eunjin" {
            squash(base) == "eunjin"
        } else {
            n.starts_with(&r)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ps_names() {
        for n in [
            "NotoSansCJKkr-Regular",
            "NotoSerifCJKkr-Bold",
            "UnShinmun",
            "UnGraphicBold",
            "NanumGothicCoding",
            "Eunjin",
            "UnJamoDotum",
            "LexiGulim",
        ] {
            assert!(is_reserved_ps_name(n), "{n}");
        }
        for n in [
            "EunjinNakseo",
            "NanumGothic",
            "UnJamoNovel",
            "NanumSquare_acR",
            "UnVada",
        ] {
            assert!(!is_reserved_ps_name(n), "{n}");
        }
    }

    #[test]
    fn font_choice_parses() {
        assert_eq!(
            "held-out".parse::<FontChoice>().unwrap(),
            FontChoice::HeldOut
        );
        assert_eq!(
            "training".parse::<FontChoice>().unwrap(),
            FontChoice::Training
        );
        assert!("serif"
            .parse::<FontChoice>()
            .unwrap_err()
            .contains("held-out or training"));
    }

    #[test]
    fn fontconfig_accepts_the_role_and_rejects_the_rest() {
        let lib = FontLibrary {
            role: Role::HeldOut,
            font_dir: PathBuf::from("/f"),
            faces: Vec::new(),
            families: Vec::new(),
        };
        let conf = fontconfig(&lib, Path::new("/nonexistent"));
        assert!(conf.contains("<glob>*.ttf</glob>"));
        assert!(conf.contains("<string>UnShinmun</string>"));
        assert!(conf.contains("<string>Noto Sans CJK KR</string>"));
        assert!(
            !conf.contains("<glob>*</glob>"),
            "a bare * would hide folders"
        );
    }
}
