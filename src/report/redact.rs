//! Redaction of patient identifiers in report text (error examples). Reports keep numbers
//! and ids; where they quote document text, the patient's name and identifier-shaped
//! digit runs are masked unless the user asks otherwise (`--show-phi`).
//!
//! Masked: the patient's name (and any same-length Hangul run differing from it in one
//! syllable, which is how a misread name looks), resident registration numbers
//! (`######-#######`), phone numbers (`0##-####-####`), and runs of seven or more digits
//! (registration and chart numbers). Dates, doses and codes are kept: they are what the
//! report is about.

/// Masks identifiers of one document's patient.
#[derive(Debug, Clone)]
pub struct Redactor {
    name: Option<Vec<char>>,
}

/// What a masked name reads as.
pub const NAME_MASK: &str = "[이름]";

impl Redactor {
    pub fn new(patient_name: Option<&str>) -> Self {
        let name: Option<Vec<char>> = patient_name
            .map(|n| n.chars().filter(|c| !c.is_whitespace()).collect())
            .filter(|n: &Vec<char>| n.len() >= 2);
        Redactor { name }
    }

    /// `text` with the identifiers masked.
    pub fn redact(&self, text: &str) -> String {
        let masked_name = self.mask_name(text);
        mask_digit_runs(&masked_name)
    }

    fn mask_name(&self, text: &str) -> String {
        let Some(name) = &self.name else {
            return text.to_string();
        };
        let chars: Vec<char> = text.chars().collect();
        let n = name.len();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < chars.len() {
            if i + n <= chars.len() && name_like(&chars[i..i + n], name) {
                out.push_str(NAME_MASK);
                i += n;
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        out
    }
}

/// The name itself, or a same-length Hangul run that differs in exactly one syllable and
/// shares the surname or the given name (so `홍길농` is masked, `투약량` is not).
fn name_like(window: &[char], name: &[char]) -> bool {
    let hangul = |c: &char| ('\u{AC00}'..='\u{D7A3}').contains(c);
    if !window.iter().all(hangul) {
        return window == name;
    }
    let diff = window.iter().zip(name).filter(|(a, b)| a != b).count();
    diff == 0 || (diff == 1 && name.len() >= 3)
}

/// Masks phone numbers, registration numbers and long digit runs digit by digit, keeping
/// separators so the shape stays readable (`010-****-****`).
fn mask_digit_runs(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<char> = chars.clone();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        // A run of digit groups joined by single hyphens.
        let mut j = i;
        let mut groups = Vec::new();
        loop {
            let s = j;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            groups.push(j - s);
            if j + 1 < chars.len() && chars[j] == '-' && chars[j + 1].is_ascii_digit() {
                j += 1;
            } else {
                break;
            }
        }
        let digits: usize = groups.iter().sum();
        let phone = groups.len() == 3 && chars[i] == '0' && groups[0] <= 3 && groups[2] == 4;
        let rrn = groups.len() == 2 && groups == [6, 7];
        let long = groups.iter().any(|&g| g >= 7);
        if phone || rrn || long || (groups.len() >= 2 && digits >= 10) {
            for c in out.iter_mut().take(j).skip(i) {
                if c.is_ascii_digit() {
                    *c = '*';
                }
            }
            // Keep a phone's area code: it is not identifying.
            if phone {
                out[i..i + groups[0]].copy_from_slice(&chars[i..i + groups[0]]);
            }
        }
        i = j.max(i + 1);
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_names_and_misread_names_but_not_words() {
        let r = Redactor::new(Some("홍길동"));
        assert_eq!(r.redact("성명: 홍길동 (남)"), "성명: [이름] (남)");
        assert_eq!(r.redact("성명: 홍길농"), "성명: [이름]");
        assert_eq!(r.redact("1회 투약량 1"), "1회 투약량 1");
        let none = Redactor::new(None);
        assert_eq!(none.redact("홍길동"), "홍길동");
    }

    #[test]
    fn masks_identifier_digits_but_keeps_clinical_numbers() {
        let r = Redactor::new(None);
        assert_eq!(r.redact("010-2777-9883"), "010-****-****");
        assert_eq!(
            r.redact("주민번호 900101-1234567"),
            "주민번호 ******-*******"
        );
        assert_eq!(r.redact("등록번호 12345678"), "등록번호 ********");
        let clinical = "2024-03-05 타이레놀정500밀리그램 1 3 7 E11.9 13.5 3.5-5.1";
        assert_eq!(r.redact(clinical), clinical);
    }
}
