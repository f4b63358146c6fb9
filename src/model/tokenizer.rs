//! Character tokenizer: one token per character. The vocabulary is fixed at model creation
//! and shipped as `tokenizer.json`: 4 specials, the line break, printable ASCII, the 2,350
//! KS X 1001 Hangul syllables, Hangul compatibility jamo and the symbols of medical documents.
//! A character outside the vocabulary becomes `<unk>` and is counted, never an error.

use super::error::ModelError;
use crate::dataset::synth::ksx1001::HANGUL as KSX1001_HANGUL;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use unicode_normalization::UnicodeNormalization;

/// Padding; also the CTC blank.
pub const PAD: u32 = 0;
pub const BOS: u32 = 1;
pub const EOS: u32 = 2;
pub const UNK: u32 = 3;
const SPECIALS: [&str; 4] = ["<pad>", "<bos>", "<eos>", "<unk>"];

/// Symbols seen on Korean medical documents (units, bullets, brackets, circled numbers…).
const SYMBOLS: &str = "℃°μµ㎎㎍㎏㎖㎕㎗㎘ℓ㎜㎝㎞㎠㎡㎥㏄㎚㎛㎳㎲㎐㎑㎾×÷·±≤≥≠≒∼～※→←↑↓↔⇒▲▼△▽■□▶▷◀◁●○◎◇◆★☆♥✓✔\
①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩⅰⅱⅲⅳⅴⅵⅶⅷⅸⅹ「」『』【】〈〉《》〔〕‘’“”…‥•‧―–—\
⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻₀₁₂₃₄₅₆₇₈₉‰§®™αβγδεθκλπσωΔΩ㉠㉡㉢㉣㉤㉥㉦㉧㉮㉯㉰㉱㉲㉳％＃＆＊＋，－．／：；＜＝＞？（）［］";

/// Text → ids, with the number of characters that fell back to `<unk>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoding {
    pub ids: Vec<u32>,
    pub unknown: usize,
}

#[derive(Debug, Clone)]
pub struct Tokenizer {
    tokens: Vec<String>,
    index: HashMap<char, u32>,
}

#[derive(Serialize, Deserialize)]
struct TokenizerFile {
    format: String,
    /// All tokens in id order, specials first.
    tokens: Vec<String>,
}

const FORMAT: &str = "medocr-char-v1";

impl Tokenizer {
    /// The built-in vocabulary (about 2,600 tokens).
    pub fn korean_medical() -> Self {
        let mut tokens: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
        let push = |c: char, tokens: &mut Vec<String>| {
            let s = c.to_string();
            if !tokens.contains(&s) {
                tokens.push(s);
            }
        };
        push('\n', &mut tokens);
        for c in ' '..='~' {
            push(c, &mut tokens);
        }
        for c in KSX1001_HANGUL.chars() {
            push(c, &mut tokens);
        }
        for c in '\u{3131}'..='\u{318E}' {
            push(c, &mut tokens);
        }
        for c in SYMBOLS.chars() {
            push(c, &mut tokens);
        }
        Self::from_tokens(tokens).expect("built-in vocabulary is valid")
    }

    /// Builds a tokenizer from its token list (specials first, then one character per token).
    pub fn from_tokens(tokens: Vec<String>) -> Result<Self, String> {
        if tokens.len() < SPECIALS.len() || tokens[..4] != SPECIALS.map(String::from) {
            return Err(format!("the first tokens must be {SPECIALS:?}"));
        }
        let mut index = HashMap::new();
        for (i, t) in tokens.iter().enumerate().skip(SPECIALS.len()) {
            let mut chars = t.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return Err(format!("token {i} ({t:?}) is not one character"));
            };
            if index.insert(c, i as u32).is_some() {
                return Err(format!("token {i} ({t:?}) is duplicated"));
            }
        }
        Ok(Tokenizer { tokens, index })
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Whether a character has its own token.
    pub fn contains(&self, c: char) -> bool {
        self.index.contains_key(&c)
    }

    /// Encodes NFC-normalised text (decomposed jamo sequences compose to syllables first).
    pub fn encode(&self, text: &str) -> Encoding {
        let mut unknown = 0;
        let ids = text
            .nfc()
            .map(|c| match self.index.get(&c) {
                Some(&id) => id,
                None => {
                    unknown += 1;
                    UNK
                }
            })
            .collect();
        Encoding { ids, unknown }
    }

    /// The text of one token: specials decode to nothing except `<unk>`, which decodes to U+FFFD.
    pub fn token_text(&self, id: u32) -> &str {
        match id {
            PAD | BOS | EOS => "",
            UNK => "\u{FFFD}",
            _ => self
                .tokens
                .get(id as usize)
                .map(String::as_str)
                .unwrap_or("\u{FFFD}"),
        }
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter().map(|&id| self.token_text(id)).collect()
    }

    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let file = TokenizerFile {
            format: FORMAT.to_string(),
            tokens: self.tokens.clone(),
        };
        let json = serde_json::to_string(&file).expect("tokenizer serialises");
        std::fs::write(path, json).map_err(|e| ModelError::io(path, e))
    }

    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let bad = |message: String| ModelError::TokenizerFile {
            path: path.to_path_buf(),
            message,
        };
        let file: TokenizerFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if file.format != FORMAT {
            return Err(bad(format!("format '{}' is not '{FORMAT}'", file.format)));
        }
        Self::from_tokens(file.tokens).map_err(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_unknown_counting() {
        let t = Tokenizer::korean_medical();
        assert!(t.len() > 2_350 + 95, "vocab {}", t.len());
        let text = "처방전 아목시실린 500㎎ 1일 3회 × 5일, 체온 38.2℃ (μg/mL)\n똠";
        let enc = t.encode(text);
        // 똠 is not in KS X 1001: one <unk>, everything else round-trips.
        assert_eq!(enc.unknown, 1);
        assert_eq!(t.decode(&enc.ids), text.replace('똠', "\u{FFFD}"));
        let all: String = KSX1001_HANGUL.chars().collect();
        let enc = t.encode(&all);
        assert_eq!(enc.unknown, 0);
        assert_eq!(t.decode(&enc.ids), all);
    }

    #[test]
    fn file_round_trip() {
        let t = Tokenizer::korean_medical();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokenizer.json");
        t.save(&p).unwrap();
        let u = Tokenizer::load(&p).unwrap();
        assert_eq!(t.tokens(), u.tokens());
    }

    #[test]
    fn decomposed_jamo_compose() {
        let t = Tokenizer::korean_medical();
        let nfd: String = "한글".nfd().collect();
        assert_eq!(t.decode(&t.encode(&nfd).ids), "한글");
    }
}
