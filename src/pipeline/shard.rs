//! `--shard i/n`: a deterministic slice of a run's documents, so one evaluation can be
//! spread over several machines and put back together with `medocr merge`.
//!
//! Shard `i` of `n` holds the documents whose position in the selected list (manifest
//! order, after `--types` and `--limit`) satisfies `position % n == i − 1`. Positions,
//! not a hash of the id: every shard gets ⌊N/n⌋ or ⌈N/n⌉ documents (a hash leaves small
//! datasets lopsided), shards interleave so each one sees every document type of a
//! manifest grouped by type, and the merged order is the unsharded run's order. A
//! position only means something for one manifest and one selection, so each shard
//! records the manifest hash and a hash of the selected ids, and `merge` refuses shards
//! that disagree on either.

use crate::dataset::Document;
use crate::report::ShardInfo;
use std::fmt;
use std::str::FromStr;

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("'{0}' is not a shard: write I/N, the 1-based shard index and the number of shards (e.g. 2/3)")]
    Syntax(String),
    #[error("shard count 0 in '{0}': there must be at least one shard (e.g. 1/3)")]
    NoShards(String),
    #[error("shard index 0 in '{0}': shards are numbered from 1 (1/{1} … {1}/{1})")]
    ZeroIndex(String, usize),
    #[error("shard {0}/{1}: the index must be at most the number of shards ({1})")]
    IndexTooLarge(usize, usize),
    #[error("shard {index}/{count} is empty: only {documents} document(s) are selected, so use at most {documents} shard(s)")]
    Empty {
        index: usize,
        count: usize,
        documents: usize,
    },
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || ShardError::Syntax(s.to_string());
        let (i, n) = s.trim().split_once('/').ok_or_else(syntax)?;
        let number = |v: &str| {
            let v = v.trim();
            // `usize::from_str` accepts a leading '+'; a shard spec has digits only.
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            v.parse::<usize>().map_err(|_| syntax())
        };
        let (index, count) = (number(i)?, number(n)?);
        if count == 0 {
            return Err(ShardError::NoShards(s.to_string()));
        }
        if index == 0 {
            return Err(ShardError::ZeroIndex(s.to_string(), count));
        }
        if index > count {
            return Err(ShardError::IndexTooLarge(index, count));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the document at `position` (0-based, in the selected list) is in this shard.
    pub fn contains(&self, position: usize) -> bool {
        position % self.count == self.index - 1
    }

    /// This shard's documents out of the whole selection, and the record that goes into
    /// the run's summary. An empty shard is an error (its run would have nothing to
    /// report, and a merge would wait for it forever).
    pub fn select<'a>(
        &self,
        selected: &[&'a Document],
    ) -> Result<(Vec<&'a Document>, ShardInfo), ShardError> {
        let mine: Vec<&Document> = selected
            .iter()
            .enumerate()
            .filter(|(p, _)| self.contains(*p))
            .map(|(_, d)| *d)
            .collect();
        if mine.is_empty() {
            return Err(ShardError::Empty {
                index: self.index,
                count: self.count,
                documents: selected.len(),
            });
        }
        let info = ShardInfo {
            index: self.index,
            count: self.count,
            selected_documents: selected.len(),
            selection_sha256: selection_sha256(selected.iter().map(|d| d.id.as_str())),
        };
        Ok((mine, info))
    }
}

/// SHA-256 over the selected ids in order, one per line: equal for every shard of the same
/// selection, different when `--types`, `--limit` or the manifest differ.
pub fn selection_sha256<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for id in ids {
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    format!("{:x}", h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{DocType, Fields};

    fn doc(id: &str) -> Document {
        Document {
            id: id.into(),
            doc_type: DocType::Prescription,
            source: format!("{id}.pdf").into(),
            text: String::new(),
            fields: Fields::default(),
            dpi: None,
            tables: Vec::new(),
            extra: Default::default(),
        }
    }

    #[test]
    fn parses_i_of_n_and_names_what_is_wrong() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(" 1 / 1 ".parse(), Ok(Shard { index: 1, count: 1 }));
        let err = |s: &str| s.parse::<Shard>().unwrap_err();
        assert!(matches!(err("0/3"), ShardError::ZeroIndex(_, 3)));
        assert_eq!(err("4/3"), ShardError::IndexTooLarge(4, 3));
        assert!(matches!(err("1/0"), ShardError::NoShards(_)));
        for garbage in ["", "3", "a/b", "1/3/5", "-1/3", "+1/3", "1.5/3", "/3", "1/"] {
            assert!(
                matches!(err(garbage), ShardError::Syntax(_)),
                "{garbage}: {}",
                err(garbage)
            );
        }
        assert!(err("0/3").to_string().contains("numbered from 1"));
        assert!(err("4/3").to_string().contains("at most"));
        assert_eq!("2/3".parse::<Shard>().unwrap().to_string(), "2/3");
    }

    #[test]
    fn shards_partition_the_selection_in_balanced_interleaved_slices() {
        let docs: Vec<Document> = (0..10).map(|i| doc(&format!("d{i}"))).collect();
        let refs: Vec<&Document> = docs.iter().collect();
        let mut seen = Vec::new();
        let mut hashes = Vec::new();
        for index in 1..=3 {
            let (mine, info) = Shard { index, count: 3 }.select(&refs).unwrap();
            assert!(mine.len() == 3 || mine.len() == 4, "{}", mine.len());
            assert_eq!(mine[0].id, format!("d{}", index - 1));
            assert_eq!(
                (info.index, info.count, info.selected_documents),
                (index, 3, 10)
            );
            hashes.push(info.selection_sha256);
            seen.extend(mine.iter().map(|d| d.id.clone()));
        }
        seen.sort();
        let mut all: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
        all.sort();
        assert_eq!(seen, all, "every document in exactly one shard");
        assert!(hashes.windows(2).all(|w| w[0] == w[1]));
        // A different selection has a different hash.
        let (_, other) = Shard { index: 1, count: 3 }.select(&refs[..9]).unwrap();
        assert_ne!(other.selection_sha256, hashes[0]);
        let err = Shard { index: 4, count: 4 }.select(&refs[..3]).unwrap_err();
        assert!(err.to_string().contains("at most 3 shard"), "{err}");
    }
}
