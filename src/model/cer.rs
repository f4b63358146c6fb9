//! Character error rate for validation: Levenshtein distance over Unicode scalar values
//! (Hangul syllables are single scalars), summed over lines / summed reference lengths.

/// Edit distance between two character sequences.
pub fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Corpus CER of (reference, hypothesis) pairs: total edits / total reference characters.
pub fn corpus_cer<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> f64 {
    let (mut edits, mut n) = (0usize, 0usize);
    for (r, h) in pairs {
        let r: Vec<char> = r.chars().collect();
        let h: Vec<char> = h.chars().collect();
        edits += edit_distance(&r, &h);
        n += r.len();
    }
    edits as f64 / n.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn distances() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(edit_distance(&c("처방전"), &c("처방전")), 0);
        assert_eq!(edit_distance(&c("처방전"), &c("처반전")), 1);
        assert_eq!(edit_distance(&c(""), &c("abc")), 3);
        assert!((corpus_cer([("abcd", "abxd")]) - 0.25).abs() < 1e-12);
    }
}
