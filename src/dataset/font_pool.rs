//! Which Korean font families the project may print, train and validate with.
//!
//! One list for the whole project, so the trainer, both document generators and the tests
//! cannot disagree:
//! - **reserved** families belong to an independent acceptance test of the built-in engine and
//!   are never used anywhere in the project (training, validation, bundled data, tests);
//! - **training** families render the model's training lines and pages;
//! - **held-out** families are never trained on: checkpoints are chosen on them and the
//!   second-toolchain validation set is printed in them.
//!
//! Files are relative to Debian's `/usr/share/fonts/truetype` (packages fonts-nanum,
//! fonts-nanum-extra, fonts-nanum-eco, fonts-unfonts-core, fonts-unfonts-extra, fonts-baekmuk,
//! fonts-alee, fonts-wqy-zenhei).

/// Families reserved for the independent acceptance test, as fontconfig names them (and
/// prefixes of their file names). Never render, train or validate with these.
pub const RESERVED_FAMILIES: &[&str] = &[
    "Noto Sans CJK",
    "Noto Serif CJK",
    "Noto Sans Mono CJK",
    "UnShinmun",
    "UnGraphic",
    "LexiGulim",
    "LexiSaebom",
    "UnJamoDotum",
    "NanumGothicCoding",
    "Eunjin",
];

/// File-name stems of the reserved families (Debian's file names), for checks on paths.
const RESERVED_FILE_STEMS: &[&str] = &[
    "NotoSansCJK",
    "NotoSerifCJK",
    "NotoSansMonoCJK",
    "UnShinmun",
    "UnGraphic",
    "LexiGulim",
    "LexiSaebom",
    "UnJamoDotum",
    "NanumGothicCoding",
    "Eunjin.ttf",
];

/// Whether a family name (fontconfig's, any case) is reserved. `Eunjin Nakseo` is not: only
/// the `Eunjin` family itself is.
pub fn is_reserved_family(family: &str) -> bool {
    let f = family.trim().to_ascii_lowercase();
    RESERVED_FAMILIES.iter().any(|r| {
        let r = r.to_ascii_lowercase();
        if r == "eunjin" {
            f == "eunjin"
        } else {
            f.starts_with(&r)
        }
    })
}

/// Whether a font file path belongs to a reserved family.
pub fn is_reserved_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    RESERVED_FILE_STEMS.iter().any(|s| {
        if *s == "Eunjin.ttf" {
            name == "Eunjin.ttf"
        } else {
            name.starts_with(s)
        }
    })
}

/// What a family is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Training,
    HeldOut,
}

/// One font file of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolFont {
    /// fontconfig family name (what CSS `font-family` asks for).
    pub family: &'static str,
    /// Relative to `/usr/share/fonts/truetype`.
    pub file: &'static str,
    /// Sampling weight for training lines.
    pub weight: u32,
    pub role: Role,
    /// Has a real bold face in the pool (otherwise Chromium synthesises one).
    pub bold: bool,
}

const fn t(family: &'static str, file: &'static str, weight: u32) -> PoolFont {
    PoolFont {
        family,
        file,
        weight,
        role: Role::Training,
        bold: false,
    }
}

const fn h(family: &'static str, file: &'static str) -> PoolFont {
    PoolFont {
        family,
        file,
        weight: 1,
        role: Role::HeldOut,
        bold: false,
    }
}

const fn bold(mut f: PoolFont) -> PoolFont {
    f.bold = true;
    f
}

/// Every font file the project may use. Print faces carry more weight than script faces:
/// hospital printouts are set in 고딕/명조, handwriting faces only appear in notes.
pub const POOL: &[PoolFont] = &[
    // Training: the generator's own eight families (the built-in model reads them at 0.6 %) ...
    bold(t("NanumGothic", "nanum/NanumGothic.ttf", 6)),
    t("NanumGothic", "nanum/NanumGothicBold.ttf", 2),
    t("NanumGothic", "nanum/NanumGothicLight.ttf", 1),
    t("NanumGothic", "nanum/NanumGothicExtraBold.ttf", 1),
    bold(t("NanumMyeongjo", "nanum/NanumMyeongjo.ttf", 6)),
    t("NanumMyeongjo", "nanum/NanumMyeongjoBold.ttf", 2),
    t("NanumMyeongjo", "nanum/NanumMyeongjoExtraBold.ttf", 1),
    bold(t("NanumBarunGothic", "nanum/NanumBarunGothic.ttf", 5)),
    t("NanumBarunGothic", "nanum/NanumBarunGothicBold.ttf", 1),
    t("NanumBarunGothic", "nanum/NanumBarunGothicLight.ttf", 1),
    bold(t("NanumSquare", "nanum/NanumSquareR.ttf", 4)),
    t("NanumSquare", "nanum/NanumSquareB.ttf", 1),
    t("Nanum Pen Script", "nanum/NanumPen.ttf", 2),
    bold(t("UnBatang", "unfonts-core/UnBatang.ttf", 4)),
    t("UnBatang", "unfonts-core/UnBatangBold.ttf", 1),
    bold(t("UnDotum", "unfonts-core/UnDotum.ttf", 4)),
    t("UnDotum", "unfonts-core/UnDotumBold.ttf", 1),
    t("Baekmuk Batang", "baekmuk/batang.ttf", 3),
    t("Baekmuk Dotum", "baekmuk/dotum.ttf", 3),
    t("Baekmuk Gulim", "baekmuk/gulim.ttf", 3),
    // ... and the other families Debian ships.
    bold(t("NanumSquareRound", "nanum/NanumSquareRoundR.ttf", 3)),
    t("NanumSquareRound", "nanum/NanumSquareRoundB.ttf", 1),
    bold(t("NanumGothic Eco", "nanum/NanumGothicEcoR.ttf", 3)),
    t("NanumGothic Eco", "nanum/NanumGothicEcoBold.ttf", 1),
    bold(t("NanumBarunpen", "nanum/NanumBarunpenR.ttf", 2)),
    t("Nanum Brush Script", "nanum/NanumBrush.ttf", 1),
    bold(t("UnDinaru", "unfonts-core/UnDinaru.ttf", 3)),
    t("UnDinaru", "unfonts-core/UnDinaruLight.ttf", 1),
    t("UnGungseo", "unfonts-core/UnGungseo.ttf", 2),
    bold(t("UnPilgi", "unfonts-core/UnPilgi.ttf", 2)),
    t("UnJamoBatang", "unfonts-extra/UnJamoBatang.ttf", 3),
    t("UnJamoSora", "unfonts-extra/UnJamoSora.ttf", 3),
    t("UnTaza", "unfonts-extra/UnTaza.ttf", 2),
    t("UnPenheulim", "unfonts-extra/UnPenheulim.ttf", 1),
    t("UnPilgia", "unfonts-extra/UnPilgia.ttf", 1),
    t("UnYetgul", "unfonts-extra/UnYetgul.ttf", 2),
    t("Baekmuk Headline", "baekmuk/hline.ttf", 1),
    t("WenQuanYi Zen Hei", "wqy/wqy-zenhei.ttc", 3),
    t("Bandal", "alee/Bandal.ttf", 1),
    t("Guseul", "alee/Guseul.ttf", 1),
    t("Eunjin Nakseo", "alee/EunjinNakseo.ttf", 1),
    // Held out: never trained on; checkpoints are chosen on these, and the second-toolchain
    // validation set is printed in them (sans, serif, rounded and pen faces, like the
    // acceptance test's mix).
    bold(h("NanumSquare_ac", "nanum/NanumSquare_acR.ttf")),
    h("NanumSquare_ac", "nanum/NanumSquare_acB.ttf"),
    bold(h("NanumMyeongjo Eco", "nanum/NanumMyeongjoEcoR.ttf")),
    h("NanumMyeongjo Eco", "nanum/NanumMyeongjoEcoBold.ttf"),
    h("UnJamoNovel", "unfonts-extra/UnJamoNovel.ttf"),
    h("UnVada", "unfonts-extra/UnVada.ttf"),
    h("UnPen", "unfonts-extra/UnPen.ttf"),
    h("Bangwool", "alee/Bangwool.ttf"),
];

/// The pool's fonts with one role.
pub fn fonts(role: Role) -> impl Iterator<Item = &'static PoolFont> {
    POOL.iter().filter(move |f| f.role == role)
}

/// The distinct family names with one role, in pool order.
pub fn families(role: Role) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for f in fonts(role) {
        if !out.contains(&f.family) {
            out.push(f.family);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_reserved_font_in_the_pool() {
        for f in POOL {
            assert!(!is_reserved_family(f.family), "{} is reserved", f.family);
            assert!(!is_reserved_file(f.file), "{} is reserved", f.file);
        }
    }

    #[test]
    fn reserved_names_are_recognised() {
        for name in [
            "Noto Sans CJK KR",
            "noto serif cjk kr",
            "UnShinmun",
            "UnGraphic",
            "LexiGulim",
            "LexiSaebom",
            "UnJamoDotum",
            "NanumGothicCoding",
            "Eunjin",
        ] {
            assert!(is_reserved_family(name), "{name}");
        }
        assert!(!is_reserved_family("Eunjin Nakseo"));
        assert!(!is_reserved_family("NanumGothic"));
        assert!(is_reserved_file("unfonts-extra/UnShinmun.ttf"));
        assert!(is_reserved_file(
            "/usr/share/fonts/truetype/alee/Eunjin.ttf"
        ));
        assert!(!is_reserved_file("alee/EunjinNakseo.ttf"));
        assert!(is_reserved_file("nanum/NanumGothicCodingBold.ttf"));
    }

    #[test]
    fn roles_do_not_share_a_family() {
        let train = families(Role::Training);
        for f in families(Role::HeldOut) {
            assert!(!train.contains(&f), "{f} is both trained on and held out");
        }
        assert!(families(Role::HeldOut).len() >= 5);
        assert!(families(Role::Training).len() >= 20);
    }
}
