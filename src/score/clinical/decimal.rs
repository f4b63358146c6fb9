//! Exact decimals for doses, strengths and lab values. Floats would make `0.1 + 0.2`
//! questions out of a pharmacist's `0.125 mg`; here a value is `mantissa × 10^−scale`
//! with the printed number of decimals kept, so `13.5` and `13.50` are equal in value
//! but differ in precision.

/// A parsed decimal number as printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    /// All printed digits, e.g. `1350` for `13.50`.
    mantissa: u128,
    /// Printed decimals, e.g. 2 for `13.50`.
    scale: u32,
    /// Printed without a digit before the point (`.5`): an ISMP error-prone form.
    naked: bool,
}

/// Digits beyond this are not a dose or lab value; refusing them keeps arithmetic exact.
const MAX_DIGITS: usize = 30;

impl Decimal {
    /// Parses `12`, `0.5`, `.5`, `1,000`, `1,000.25`, `-3`, `+2.0`. Thousands separators
    /// must group three digits. Returns `None` for anything else (`1.2.3`, `5O0`, ``).
    pub fn parse(text: &str) -> Option<Decimal> {
        let t = text.trim();
        let (negative, t) = match t.as_bytes().first()? {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        let (int, frac) = match t.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (t, None),
        };
        let int_digits: String = if int.contains(',') {
            let groups: Vec<&str> = int.split(',').collect();
            let ok = !groups[0].is_empty()
                && groups[0].len() <= 3
                && groups[1..].iter().all(|g| g.len() == 3);
            if !ok {
                return None;
            }
            groups.concat()
        } else {
            int.to_string()
        };
        let frac = frac.unwrap_or("");
        if int_digits.is_empty() && frac.is_empty() {
            return None;
        }
        if !int_digits
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        if t.ends_with('.') || int_digits.len() + frac.len() > MAX_DIGITS {
            return None;
        }
        let mantissa = format!("{int_digits}{frac}").parse().ok()?;
        Some(Decimal {
            negative: negative && mantissa != 0,
            mantissa,
            scale: frac.len() as u32,
            naked: int_digits.is_empty(),
        })
    }

    /// Printed decimals (`13.50` → 2).
    pub fn decimals(&self) -> u32 {
        self.scale
    }

    /// A decimal part ending in 0 (`1.0`, `2.50`): ISMP's "trailing zero" error-prone
    /// form, which is misread as tenfold (`1.0` → `10`).
    pub fn trailing_zero(&self) -> bool {
        self.scale > 0 && self.mantissa % 10 == 0
    }

    /// No digit before the point (`.5`), misread as `5`.
    pub fn naked(&self) -> bool {
        self.naked
    }

    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Multiplies by `10^k` exactly (unit conversion between mg, mcg and g).
    pub fn shift(&self, k: i32) -> Decimal {
        let mut d = *self;
        if k >= 0 {
            // Prefer dropping scale to growing the mantissa.
            let from_scale = (k as u32).min(d.scale);
            d.scale -= from_scale;
            let rest = k as u32 - from_scale;
            d.mantissa = d.mantissa.saturating_mul(10u128.saturating_pow(rest));
        } else {
            d.scale += k.unsigned_abs();
        }
        d
    }

    /// Mantissas of both at a common scale.
    fn aligned(&self, other: &Decimal) -> (i128, i128) {
        let s = self.scale.max(other.scale);
        let widen = |d: &Decimal| {
            let m = d
                .mantissa
                .saturating_mul(10u128.saturating_pow(s - d.scale)) as i128;
            if d.negative {
                -m
            } else {
                m
            }
        };
        (widen(self), widen(other))
    }

    /// Equal in value, whatever the printed precision (`13.5` = `13.50`).
    pub fn value_eq(&self, other: &Decimal) -> bool {
        let (a, b) = self.aligned(other);
        a == b
    }

    /// `max(|a|,|b|) ≥ factor × min(|a|,|b|)` with both non-zero and of the same sign, or
    /// exactly one of them zero: the discrepancy is at least `factor`-fold.
    pub fn fold_at_least(&self, other: &Decimal, factor: u32) -> bool {
        let (a, b) = self.aligned(other);
        if (a == 0) != (b == 0) {
            return true;
        }
        if a == 0 || (a < 0) != (b < 0) {
            return false;
        }
        let (lo, hi) = (a.abs().min(b.abs()), a.abs().max(b.abs()));
        hi >= lo.saturating_mul(factor as i128)
    }

    /// Canonical text: trailing zeros and a leading `+` dropped, a naked point given its
    /// zero (`.50` → `0.5`, `1,000` → `1000`).
    pub fn canonical(&self) -> String {
        let mut m = self.mantissa;
        let mut s = self.scale;
        while s > 0 && m % 10 == 0 {
            m /= 10;
            s -= 1;
        }
        let digits = format!("{m:0>width$}", width = s as usize + 1);
        let (int, frac) = digits.split_at(digits.len() - s as usize);
        let sign = if self.negative { "-" } else { "" };
        if frac.is_empty() {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac}")
        }
    }
}

impl std::fmt::Display for Decimal {
    /// As printed, minus thousands separators (`13.50` stays `13.50`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = format!(
            "{:0>width$}",
            self.mantissa,
            width = self.scale as usize + 1
        );
        let (int, frac) = digits.split_at(digits.len() - self.scale as usize);
        let int = if self.naked { "" } else { int };
        let sign = if self.negative { "-" } else { "" };
        if frac.is_empty() {
            write!(f, "{sign}{int}")
        } else {
            write!(f, "{sign}{int}.{frac}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn parses_printed_forms_and_rejects_garbage() {
        assert_eq!(d("13.50").decimals(), 2);
        assert!(d(".5").naked());
        assert!(d("1.0").trailing_zero());
        assert!(!d("1.05").trailing_zero());
        assert_eq!(d("1,000.25").canonical(), "1000.25");
        assert_eq!(d("+2.0").canonical(), "2");
        assert_eq!(d("-0").canonical(), "0");
        for bad in [
            "", ".", "1.", "1.2.3", "5O0", "1,00", ",100", "1 000", "-", "12a",
        ] {
            assert!(Decimal::parse(bad).is_none(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn value_equality_ignores_precision_but_display_keeps_it() {
        assert!(d("13.5").value_eq(&d("13.50")));
        assert!(d(".5").value_eq(&d("0.5")));
        assert!(!d("0.5").value_eq(&d("5")));
        assert!(!d("-1").value_eq(&d("1")));
        assert_eq!(d("13.50").to_string(), "13.50");
        assert_eq!(d(".5").to_string(), ".5");
        assert_eq!(d("0.125").canonical(), "0.125");
    }

    #[test]
    fn unit_shifts_are_exact() {
        assert_eq!(d("0.25").shift(3).canonical(), "250");
        assert_eq!(d("250").shift(-3).canonical(), "0.25");
        assert!(d("0.125").shift(3).value_eq(&d("125")));
    }

    #[test]
    fn tenfold_detection() {
        assert!(d("1.0").fold_at_least(&d("10"), 10));
        assert!(d("5000").fold_at_least(&d("500"), 10));
        assert!(d(".5").fold_at_least(&d("5"), 10));
        assert!(!d("2").fold_at_least(&d("1"), 10));
        assert!(d("0").fold_at_least(&d("1"), 10));
        assert!(!d("0").fold_at_least(&d("0"), 10));
        assert!(!d("9.99").fold_at_least(&d("1"), 10));
    }
}
