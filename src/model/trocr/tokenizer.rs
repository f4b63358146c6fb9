//! `tokenizer.json` through the Hugging Face `tokenizers` crate, and streaming decoding: one
//! text piece per generated token whose concatenation is the decoded line.
//!
//! Byte-level BPE splits a Hangul syllable (3 UTF-8 bytes) over several tokens, so a token
//! alone may not decode to text: a piece is held back while the decoded text ends in an
//! incomplete character (U+FFFD) and released with the token that completes it; the last
//! token of a line releases whatever remains.

use super::error::HfError;
use std::path::Path;

pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
}

impl HfTokenizer {
    pub fn load(path: &Path) -> Result<Self, HfError> {
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| HfError::Tokenizer {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(HfTokenizer { inner })
    }

    /// Tokens, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Text of `ids`, special tokens skipped (as `skip_special_tokens=True`).
    pub fn decode(&self, ids: &[u32]) -> Result<String, HfError> {
        self.inner
            .decode(ids, true)
            .map_err(|e| HfError::Decode(e.to_string()))
    }

    /// Ids of `text` without added special tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, HfError> {
        self.inner
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| HfError::Decode(e.to_string()))
    }

    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
}

/// Streaming decoder state of one line.
#[derive(Debug, Default, Clone)]
pub struct LineStream {
    ids: Vec<u32>,
    /// Bytes of the decoded text already handed out.
    emitted: String,
}

impl LineStream {
    /// Adds one token; returns the text it releases (possibly empty). With `last`, releases
    /// everything that remains.
    pub fn push(&mut self, tok: &HfTokenizer, id: u32, last: bool) -> Result<String, HfError> {
        self.ids.push(id);
        let full = tok.decode(&self.ids)?;
        if !last && full.ends_with('\u{FFFD}') {
            return Ok(String::new());
        }
        // Decoders are prefix-stable in practice; if one is not, keep what was streamed.
        match full.strip_prefix(self.emitted.as_str()) {
            Some(rest) => {
                let piece = rest.to_string();
                self.emitted = full;
                Ok(piece)
            }
            None => Ok(String::new()),
        }
    }

    /// Everything released so far.
    pub fn text(&self) -> &str {
        &self.emitted
    }
}
