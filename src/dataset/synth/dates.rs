//! How dates are printed on the documents. Fields always store ISO `YYYY-MM-DD`; the
//! printed form varies per document, as it does between real hospitals' systems.

use chrono::{Datelike, NaiveDate};

/// The printed date styles seen on Korean medical documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateFormat {
    /// `2024-03-05`
    Iso,
    /// `2024.03.05`
    Dot,
    /// `2024/03/05`
    Slash,
    /// `2024년 3월 5일`
    Korean,
    /// `2024년 03월 05일`
    KoreanPadded,
    /// `24.03.05`
    ShortDot,
}

impl DateFormat {
    pub const ALL: [DateFormat; 6] = [
        DateFormat::Iso,
        DateFormat::Dot,
        DateFormat::Slash,
        DateFormat::Korean,
        DateFormat::KoreanPadded,
        DateFormat::ShortDot,
    ];

    /// The date as printed in this style.
    pub fn format(self, d: NaiveDate) -> String {
        let (y, m, day) = (d.year(), d.month(), d.day());
        match self {
            DateFormat::Iso => format!("{y:04}-{m:02}-{day:02}"),
            DateFormat::Dot => format!("{y:04}.{m:02}.{day:02}"),
            DateFormat::Slash => format!("{y:04}/{m:02}/{day:02}"),
            DateFormat::Korean => format!("{y}년 {m}월 {day}일"),
            DateFormat::KoreanPadded => format!("{y}년 {m:02}월 {day:02}일"),
            DateFormat::ShortDot => format!("{:02}.{m:02}.{day:02}", y % 100),
        }
    }
}

/// The ISO form stored in `Fields::dates`.
pub fn iso(d: NaiveDate) -> String {
    DateFormat::Iso.format(d)
}

/// Parses any of the printed styles back to a date (two-digit years are 20xx).
/// Used by the tests to check that every printed date reads back as its field.
pub fn parse(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let nums: Vec<u32> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [y, m, d] = nums[..] else { return None };
    let y = if y < 100 { 2000 + y } else { y };
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_parses_back() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 5).unwrap();
        let printed: Vec<String> = DateFormat::ALL.iter().map(|f| f.format(d)).collect();
        assert_eq!(
            printed,
            [
                "2024-03-05",
                "2024.03.05",
                "2024/03/05",
                "2024년 3월 5일",
                "2024년 03월 05일",
                "24.03.05"
            ]
        );
        for p in printed {
            assert_eq!(parse(&p), Some(d), "{p}");
        }
        assert_eq!(parse("2024.13.01"), None);
    }
}
