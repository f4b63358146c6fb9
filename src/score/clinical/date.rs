//! Dates: the printed Korean formats (`2024-03-05`, `2024.03.05`, `2024/03/05`,
//! `2024년 3월 5일`, `24.03.05`, …) parsed to ISO, and the date matcher. An impossible
//! calendar date (`2024-02-30`) is not a date.

use super::finding::{Judgement, Severity};

/// The printed forms of an ISO date searched in the reference: `2024-03-05`,
/// `2024.03.05`, `2024/03/05`, `2024년 3월 5일`, `2024년 03월 05일` (also without spaces),
/// `24.03.05`, and the unpadded numeric forms `2024.3.5`, `2024-3-5`, `2024/3/5`.
pub fn printed_dates(iso: &str) -> Vec<String> {
    let Some((y, m, d)) = split_iso(iso) else {
        return Vec::new();
    };
    let mut v = vec![
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{y:04}.{m:02}.{d:02}"),
        format!("{y:04}/{m:02}/{d:02}"),
        format!("{y:04}년 {m}월 {d}일"),
        format!("{y:04}년 {m:02}월 {d:02}일"),
        format!("{y:04}년{m}월{d}일"),
        format!("{y:04}년{m:02}월{d:02}일"),
        format!("{:02}.{m:02}.{d:02}", y % 100),
        format!("{y:04}.{m}.{d}"),
        format!("{y:04}-{m}-{d}"),
        format!("{y:04}/{m}/{d}"),
    ];
    v.sort();
    v.dedup();
    v
}

fn split_iso(iso: &str) -> Option<(u32, u32, u32)> {
    let d = parse_date(iso)?;
    let y = d[0..4].parse().ok()?;
    let m = d[5..7].parse().ok()?;
    let dd = d[8..10].parse().ok()?;
    Some((y, m, dd))
}

/// Parses a printed date to ISO `YYYY-MM-DD`: three digit groups separated by `-`, `.`
/// or `/` (spaces around them and a trailing `.` allowed; a two-digit year means 20YY),
/// or `YYYY년 M월 D일` (spaces optional). Returns `None` for anything else or an
/// impossible calendar date.
pub fn parse_date(text: &str) -> Option<String> {
    let t = text.trim().trim_end_matches('.').trim_end();
    let mut nums = Vec::with_capacity(3);
    let mut seps = Vec::with_capacity(3);
    let mut rest = t;
    while !rest.is_empty() {
        let d = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if d == 0 || nums.len() == 3 {
            return None;
        }
        nums.push(&rest[..d]);
        rest = &rest[d..];
        if rest.is_empty() {
            break;
        }
        let s = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        seps.push(rest[..s].trim());
        rest = &rest[s..];
    }
    if nums.len() != 3 {
        return None;
    }
    let korean = seps == ["년", "월", "일"];
    let numeric = seps.len() == 2 && seps.iter().all(|s| matches!(*s, "-" | "." | "/"));
    let year: u32 = match (nums[0].len(), numeric) {
        (4, _) if korean || numeric => nums[0].parse().ok()?,
        (2, true) => 2000 + nums[0].parse::<u32>().ok()?,
        _ => return None,
    };
    if nums[1].len() > 2 || nums[2].len() > 2 {
        return None;
    }
    let month: u32 = nums[1].parse().ok()?;
    let day: u32 = nums[2].parse().ok()?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days_in_month {
        return None;
    }
    Some(format!("{year:04}-{month:02}-{day:02}"))
}

/// Judges a recognised date against the ISO ground truth: empty → Major `date.missing`;
/// not a valid date in any known format → Major `date.invalid`; a different date →
/// Major `date.value` (a wrong date misleads, but rarely changes treatment by itself).
pub fn judge_date(expected_iso: &str, found: &str) -> Judgement {
    if found.trim().is_empty() {
        return Judgement::wrong(Severity::Major, "date.missing", "no date read");
    }
    match parse_date(found) {
        None => Judgement::wrong(
            Severity::Major,
            "date.invalid",
            format!("'{found}' is not a valid date"),
        ),
        Some(d) if parse_date(expected_iso).as_deref() == Some(d.as_str()) => Judgement::correct(),
        Some(d) => Judgement::wrong(
            Severity::Major,
            "date.value",
            format!("read {d}, expected {expected_iso}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_printed_date_format_parses() {
        for s in [
            "2024-03-05",
            "2024.03.05",
            "2024/03/05",
            "2024년 3월 5일",
            "2024년 03월 05일",
            "2024년3월5일",
            "24.03.05",
            "2024. 3. 5.",
        ] {
            assert_eq!(parse_date(s).as_deref(), Some("2024-03-05"), "{s}");
        }
        for s in [
            "2024-02-30",
            "2024-13-01",
            "24년 3월 5일",
            "2024-03",
            "x2024-03-05",
            "2024-03-05-01",
        ] {
            assert_eq!(parse_date(s), None, "{s}");
        }
        assert_eq!(parse_date("2024-02-29").as_deref(), Some("2024-02-29"));
        assert_eq!(parse_date("2023-02-29"), None);
        let p = printed_dates("2024-03-05");
        assert!(p.contains(&"24.03.05".to_string()) && p.contains(&"2024년 3월 5일".to_string()));
    }

    #[test]
    fn date_judgements() {
        assert!(judge_date("2024-03-05", "24.03.05").correct);
        assert_eq!(
            judge_date("2024-03-05", "2024-02-30").error.unwrap().rule,
            "date.invalid"
        );
        assert_eq!(
            judge_date("2024-03-05", "2024-03-06").error.unwrap().rule,
            "date.value"
        );
        assert_eq!(
            judge_date("2024-03-05", "").error.unwrap().rule,
            "date.missing"
        );
    }
}
