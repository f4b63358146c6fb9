//! Unit canonicalisation: dose and strength units (밀리그램 → mg, μg/mcg/마이크로그램 → mcg,
//! 밀리리터 → mL, …) with their power-of-ten scale, and lab-unit synonyms
//! (IU/L = U/L, ×10³/μL = 10^3/uL = K/uL, …).

use super::decimal::Decimal;

/// What a dose unit measures. Doses in different dimensions cannot be compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// Base unit mcg.
    Mass,
    /// Base unit mL.
    Volume,
    /// International units.
    Activity,
    /// Dosage-form units: tablets, capsules, packets (정, 캡슐, T, 포 …).
    Count,
}

/// A canonical dose/strength unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DoseUnit {
    /// Canonical spelling: `mcg`, `mg`, `g`, `mL`, `L`, `IU`, or the count form.
    pub canonical: &'static str,
    pub dimension: Dimension,
    /// `value × 10^pow10` is the amount in the dimension's base unit.
    pub pow10: i32,
}

const fn u(canonical: &'static str, dimension: Dimension, pow10: i32) -> DoseUnit {
    DoseUnit {
        canonical,
        dimension,
        pow10,
    }
}

/// Spellings found on Korean prescriptions, longest first so that prefixes do not win.
const DOSE_UNITS: &[(&str, DoseUnit)] = &[
    ("마이크로그램", u("mcg", Dimension::Mass, 0)),
    ("밀리그램", u("mg", Dimension::Mass, 3)),
    ("밀리그람", u("mg", Dimension::Mass, 3)),
    ("밀리리터", u("mL", Dimension::Volume, 0)),
    ("밀리리트", u("mL", Dimension::Volume, 0)),
    ("그램", u("g", Dimension::Mass, 6)),
    ("그람", u("g", Dimension::Mass, 6)),
    ("리터", u("L", Dimension::Volume, 3)),
    ("단위", u("IU", Dimension::Activity, 0)),
    ("캡슐", u("캡슐", Dimension::Count, 0)),
    ("mcg", u("mcg", Dimension::Mass, 0)),
    ("μg", u("mcg", Dimension::Mass, 0)),
    ("µg", u("mcg", Dimension::Mass, 0)),
    ("ug", u("mcg", Dimension::Mass, 0)),
    ("㎍", u("mcg", Dimension::Mass, 0)),
    ("mg", u("mg", Dimension::Mass, 3)),
    ("㎎", u("mg", Dimension::Mass, 3)),
    ("mL", u("mL", Dimension::Volume, 0)),
    ("ml", u("mL", Dimension::Volume, 0)),
    ("㎖", u("mL", Dimension::Volume, 0)),
    ("cc", u("mL", Dimension::Volume, 0)),
    ("IU", u("IU", Dimension::Activity, 0)),
    ("g", u("g", Dimension::Mass, 6)),
    ("㎏", u("kg", Dimension::Mass, 9)),
    ("kg", u("kg", Dimension::Mass, 9)),
    ("L", u("L", Dimension::Volume, 3)),
    ("ℓ", u("L", Dimension::Volume, 3)),
    ("정", u("정", Dimension::Count, 0)),
    ("T", u("정", Dimension::Count, 0)),
    ("tab", u("정", Dimension::Count, 0)),
    ("cap", u("캡슐", Dimension::Count, 0)),
    ("포", u("포", Dimension::Count, 0)),
    ("개", u("개", Dimension::Count, 0)),
    ("매", u("매", Dimension::Count, 0)),
];

/// The canonical unit of a printed unit (`밀리그램`, `㎎`, `mg` → mg), ignoring spaces.
pub fn dose_unit(text: &str) -> Option<DoseUnit> {
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    DOSE_UNITS
        .iter()
        .find(|(s, _)| *s == t)
        .map(|&(_, unit)| unit)
}

/// An amount with an optional unit, e.g. `500밀리그램`, `0.5 mg`, `1정`, `10mL`, `1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    pub value: Decimal,
    pub unit: Option<DoseUnit>,
}

impl Amount {
    /// Parses a number followed by an optional known unit. An unknown unit is `None`
    /// (the text is not an amount this module understands).
    pub fn parse(text: &str) -> Option<Amount> {
        let t = text.trim();
        let end = t
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_digit() || matches!(c, '.' | ',' | '-' | '+')))
            .map_or(t.len(), |(i, _)| i);
        let value = Decimal::parse(&t[..end])?;
        let rest = t[end..].trim();
        let unit = if rest.is_empty() {
            None
        } else {
            Some(dose_unit(rest)?)
        };
        Some(Amount { value, unit })
    }

    /// The amount in the dimension's base unit (mcg, mL), exact.
    pub fn in_base(&self) -> Option<(Dimension, Decimal)> {
        let unit = self.unit?;
        Some((unit.dimension, self.value.shift(unit.pow10)))
    }

    /// Same quantity: same value and unit, or convertible units giving the same base
    /// amount (`0.25 mg` = `250 mcg`). Without units on either side, values must agree.
    pub fn same_quantity(&self, other: &Amount) -> bool {
        match (self.unit, other.unit) {
            (None, None) => self.value.value_eq(&other.value),
            (Some(a), Some(b)) if a.dimension == b.dimension => {
                let (_, x) = self.in_base().expect("unit present");
                let (_, y) = other.in_base().expect("unit present");
                x.value_eq(&y) && (a.dimension != Dimension::Count || a == b)
            }
            _ => false,
        }
    }
}

/// Lab-unit synonyms, compared after [`lab_unit_key`] has simplified spelling.
const LAB_SYNONYMS: &[(&str, &str)] = &[
    ("iu/l", "u/l"),
    ("k/ul", "10^3/ul"),
    ("x10^3/ul", "10^3/ul"),
    ("10^3/mm^3", "10^3/ul"),
    ("x10^3/mm^3", "10^3/ul"),
    ("m/ul", "10^6/ul"),
    ("x10^6/ul", "10^6/ul"),
    ("10^6/mm^3", "10^6/ul"),
    ("x10^6/mm^3", "10^6/ul"),
    ("uiu/ml", "miu/l"),
    ("meq/l", "mmol/l"),
    ("ml/min/1.73m^2", "ml/min/1.73m2"),
];

/// A comparison key for a lab unit: case folded, spaces removed, micro signs and
/// compatibility characters spelled out (`μ`/`µ` → `u`, `㎎` → `mg`, `㎕` → `ul`),
/// superscripts and `×` written as `^` and `x` (`×10³` → `x10^3`), then mapped through
/// the synonym table. `μIU/mL` and `mIU/L` are the same quantity; so are mEq/L and
/// mmol/L for the monovalent ions reported by Korean labs (Na, K, Cl).
pub fn lab_unit_key(unit: &str) -> String {
    let mut s = String::with_capacity(unit.len());
    for c in unit.chars() {
        match c {
            c if c.is_whitespace() => {}
            'μ' | 'µ' => s.push('u'),
            '×' | '*' => s.push('x'),
            '³' => s.push_str("^3"),
            '⁶' => s.push_str("^6"),
            '²' => s.push_str("^2"),
            '㎎' => s.push_str("mg"),
            '㎍' => s.push_str("ug"),
            '㎗' => s.push_str("dl"),
            '㎖' => s.push_str("ml"),
            '㎕' => s.push_str("ul"),
            'ℓ' => s.push('l'),
            '㎜' => s.push_str("mm"),
            c => s.extend(c.to_lowercase()),
        }
    }
    let s = s.replace("mm3", "mm^3");
    LAB_SYNONYMS
        .iter()
        .find(|(from, _)| *from == s)
        .map_or(s, |(_, to)| to.to_string())
}

/// Whether two printed lab units mean the same unit.
pub fn same_lab_unit(a: &str, b: &str) -> bool {
    lab_unit_key(a) == lab_unit_key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Amount {
        Amount::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn korean_and_symbol_units_canonicalise() {
        for (t, c) in [
            ("밀리그램", "mg"),
            ("밀리그람", "mg"),
            ("㎎", "mg"),
            ("마이크로그램", "mcg"),
            ("μg", "mcg"),
            ("그램", "g"),
            ("밀리리터", "mL"),
            ("ml", "mL"),
        ] {
            assert_eq!(dose_unit(t).map(|u| u.canonical), Some(c), "{t}");
        }
        assert!(dose_unit("밀리").is_none());
    }

    #[test]
    fn amounts_convert_exactly() {
        assert!(a("0.25mg").same_quantity(&a("250 mcg")));
        assert!(a("1g").same_quantity(&a("1000밀리그램")));
        assert!(a("500㎎").same_quantity(&a("500 mg")));
        assert!(!a("500mg").same_quantity(&a("500mcg")));
        assert!(!a("5mL").same_quantity(&a("5mg")));
        assert!(!a("1정").same_quantity(&a("1캡슐")));
        assert!(a("1.00").same_quantity(&a("1")));
        assert!(Amount::parse("5 furlongs").is_none());
        assert!(Amount::parse("mg").is_none());
    }

    #[test]
    fn lab_unit_synonyms() {
        assert!(same_lab_unit("U/L", "IU/L"));
        assert!(same_lab_unit("×10³/μL", "10^3/uL"));
        assert!(same_lab_unit("x10^3/uL", "K/uL"));
        assert!(same_lab_unit("×10^6/μL", "10^6/uL"));
        assert!(same_lab_unit("μIU/mL", "uIU/mL"));
        assert!(same_lab_unit("㎎/㎗", "mg/dL"));
        assert!(!same_lab_unit("mg/dL", "g/dL"));
        assert!(!same_lab_unit("ng/mL", "pg/mL"));
    }
}
