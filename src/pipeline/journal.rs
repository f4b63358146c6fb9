//! The run journal, `journal.jsonl` in the run folder: nothing a run measured is lost to a
//! crash, a kill or a Ctrl-C.
//!
//! Line 1 is `{"header": {...}}`: the command line that started the run and what the
//! results depend on (manifest hash, engine, DPIs). Every later line is one finished
//! document at one DPI, appended and fsync'd as soon as it completes:
//! `{"wall_s": 12.5, "text": "...", "result": {...}}` (`result` as in `documents.csv`'s
//! source, `text` the engine's output, `wall_s` the run's wall time so far). A kill can
//! only cut the last line short; [`Journal::resume`] drops such a tail.

use crate::engine::EngineInfo;
use crate::report::DocumentResult;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The journal's file name inside a run folder.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// Bumped when the line format changes.
pub const JOURNAL_VERSION: u32 = 1;

/// What a run was started with; enough to repeat it (`argv`, `cwd`) and to refuse a resume
/// whose inputs changed (`manifest_sha256`, `engine`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalHeader {
    pub journal_version: u32,
    /// The command line (program name first) that started the run.
    pub argv: Vec<String>,
    /// The working directory it was started in (relative paths in `argv` refer to it).
    pub cwd: PathBuf,
    /// Run id before the engine suffix (equal to `run_id` for a one-engine run).
    pub base_id: String,
    pub run_id: String,
    /// RFC 3339 start time of the first attempt, kept by every resume.
    pub started: String,
    pub engine: EngineInfo,
    pub manifest_sha256: String,
    pub dpis: Vec<f32>,
    /// Results the run will have when finished (documents × DPIs).
    pub planned: usize,
    /// The shard it runs (`--shard`), as resolved when it started: a resume whose
    /// `--shard auto` resolves to another one is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::pipeline::Shard>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    header: Option<JournalHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wall_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    /// The engine's answer as it came, when `--output-format` changed it into `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    raw: Option<String>,
    /// The extraction answer as it came (`--task extract`) and the fields read from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extraction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fields: Option<crate::dataset::Fields>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<DocumentResult>,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} not found: {dir} is not a run folder started by this version of medocr (nothing to resume)")]
    Missing { path: PathBuf, dir: PathBuf },
    #[error("{path}:{line}: {message}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// One finished document read back from a journal.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    /// The result, `text` included.
    pub result: DocumentResult,
    /// The run's wall time when it was written, in seconds.
    pub wall_s: f64,
}

/// An open journal, appending.
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// The journal path of a run folder.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(JOURNAL_FILE)
    }

    /// Starts a new journal in `dir` (created if needed), replacing any old one.
    pub fn create(dir: &Path, header: &JournalHeader) -> Result<Journal, JournalError> {
        let path = Self::path_in(dir);
        let io = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        // Raw patient text: the folder and the journal are readable by their owner only.
        crate::report::create_private_dir(dir).map_err(io)?;
        let file = crate::report::create_private_file(&path).map_err(io)?;
        let mut journal = Journal {
            file,
            path: path.clone(),
        };
        journal.write_line(&Line {
            header: Some(header.clone()),
            wall_s: None,
            text: None,
            raw: None,
            extraction: None,
            fields: None,
            result: None,
        })?;
        // The new directory entry must survive a crash too.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(journal)
    }

    /// Reads only the header of the journal in `dir`.
    pub fn read_header(dir: &Path) -> Result<JournalHeader, JournalError> {
        let path = Self::path_in(dir);
        let text = read(&path, dir)?;
        let first = text.lines().next().unwrap_or("");
        parse_header(first, &path)
    }

    /// Opens the journal in `dir` for appending after an interruption: returns its header
    /// and finished results. A last line cut short by a kill is dropped (and truncated
    /// away so new lines start clean); damage anywhere else is an error naming the line.
    pub fn resume(dir: &Path) -> Result<(Journal, JournalHeader, Vec<JournalEntry>), JournalError> {
        let path = Self::path_in(dir);
        let text = read(&path, dir)?;
        let (header, entries, good_len) = parse(&text, &path)?;
        let io = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new().write(true).open(&path).map_err(io)?;
        file.set_len(good_len as u64).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        let file = OpenOptions::new().append(true).open(&path).map_err(io)?;
        // A journal written by an older version may be world-readable: narrow it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
            crate::report::create_private_dir(dir).map_err(io)?;
        }
        Ok((Journal { file, path }, header, entries))
    }

    /// Reads the journal of a finished run without changing it (`medocr merge`): its header
    /// and results. A last line cut short is an error here: the run never finished.
    pub fn read(dir: &Path) -> Result<(JournalHeader, Vec<JournalEntry>), JournalError> {
        let path = Self::path_in(dir);
        let text = read(&path, dir)?;
        let (header, entries, good_len) = parse(&text, &path)?;
        if good_len != text.len() {
            return Err(JournalError::Corrupt {
                line: text.lines().count(),
                message: format!(
                    "the last line is incomplete: the run did not finish; finish it with `medocr run --resume {}`",
                    dir.display()
                ),
                path,
            });
        }
        Ok((header, entries))
    }

    /// Appends one finished document and syncs it to disk before returning.
    pub fn append(&mut self, result: &DocumentResult, wall_s: f64) -> Result<(), JournalError> {
        self.write_line(&Line {
            header: None,
            wall_s: Some(wall_s),
            text: Some(result.text.clone()),
            raw: result.raw.clone(),
            extraction: result.extraction.as_ref().map(|e| e.answer.clone()),
            fields: result.extraction.as_ref().and_then(|e| e.parsed.clone()),
            result: Some(result.clone()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_line(&mut self, line: &Line) -> Result<(), JournalError> {
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        let mut bytes = serde_json::to_vec(line).map_err(|e| io(std::io::Error::other(e)))?;
        bytes.push(b'\n');
        // One write per line, then fsync: a crash leaves whole lines and at most one
        // partial last line.
        self.file.write_all(&bytes).map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

fn read(path: &Path, dir: &Path) -> Result<String, JournalError> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|e| JournalError::Corrupt {
            path: path.to_path_buf(),
            line: 0,
            message: format!("not UTF-8 ({e})"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(JournalError::Missing {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        }),
        Err(source) => Err(JournalError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The header and results of a journal's text, and the length of its whole lines (a cut
/// last line is left out; damage anywhere else is an error naming the line).
fn parse(
    text: &str,
    path: &Path,
) -> Result<(JournalHeader, Vec<JournalEntry>, usize), JournalError> {
    let path = path.to_path_buf();
    let mut lines = text.split_inclusive('\n').enumerate().peekable();
    let header = parse_header(lines.next().map_or("", |(_, l)| l), &path)?;
    let mut good_len = text.split_inclusive('\n').next().map_or(0, str::len);
    let mut entries = Vec::new();
    while let Some((i, line)) = lines.next() {
        let last = lines.peek().is_none();
        let parsed = if line.ends_with('\n') {
            serde_json::from_str::<Line>(line).map_err(|e| e.to_string())
        } else {
            Err("the line is incomplete".to_string())
        };
        match parsed {
            Ok(Line {
                result: Some(mut result),
                text,
                raw,
                extraction,
                fields,
                wall_s,
                ..
            }) => {
                result.text = text.unwrap_or_default();
                result.raw = raw;
                if let Some(e) = &mut result.extraction {
                    e.answer = extraction.unwrap_or_default();
                    e.parsed = fields;
                }
                entries.push(JournalEntry {
                    result,
                    wall_s: wall_s.unwrap_or(0.0),
                });
                good_len += line.len();
            }
            Ok(_) if !last => {
                return Err(JournalError::Corrupt {
                    path,
                    line: i + 1,
                    message: "a journal line without a result".into(),
                })
            }
            Err(message) if !last => {
                return Err(JournalError::Corrupt {
                    path,
                    line: i + 1,
                    message: format!(
                        "{message}; the journal is damaged: delete the line (or the run folder) and resume"
                    ),
                })
            }
            // The run was killed while writing this line: it never finished.
            _ => {}
        }
    }
    Ok((header, entries, good_len))
}

fn parse_header(line: &str, path: &Path) -> Result<JournalHeader, JournalError> {
    let corrupt = |message: String| JournalError::Corrupt {
        path: path.to_path_buf(),
        line: 1,
        message,
    };
    let parsed: Line =
        serde_json::from_str(line).map_err(|e| corrupt(format!("not a journal header ({e})")))?;
    let header = parsed
        .header
        .ok_or_else(|| corrupt("the first line must be the journal header".into()))?;
    if header.journal_version > JOURNAL_VERSION {
        return Err(corrupt(format!(
            "journal version {} is newer than this medocr understands ({JOURNAL_VERSION}); use a newer medocr",
            header.journal_version
        )));
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::DocType;
    use crate::engine::Streaming;
    use crate::report::Timing;

    fn header() -> JournalHeader {
        JournalHeader {
            journal_version: JOURNAL_VERSION,
            argv: vec!["medocr".into(), "run".into()],
            cwd: "/".into(),
            base_id: "r".into(),
            run_id: "r".into(),
            started: "2024-01-01T00:00:00Z".into(),
            engine: EngineInfo {
                name: "replay".into(),
                version: "1".into(),
                checkpoint_sha256: None,
                streaming: Streaming::Untimed,
                token_unit: "none".into(),
                settings: Default::default(),
            },
            manifest_sha256: "abc".into(),
            dpis: vec![300.0],
            planned: 2,
            shard: None,
        }
    }

    fn result(id: &str) -> DocumentResult {
        let doc = crate::dataset::Document {
            id: id.into(),
            doc_type: DocType::Diagnosis,
            source: "x.pdf".into(),
            text: "진단서 I10".into(),
            fields: Default::default(),
            dpi: None,
            tables: Vec::new(),
            extra: Default::default(),
        };
        let score = crate::score::score_document(&doc, "진단서 I1O", &Default::default());
        DocumentResult {
            id: id.into(),
            doc_type: DocType::Diagnosis,
            dpi: 300.0,
            source_kind: "pdf".into(),
            pages: 1,
            pixels: 10,
            peak_rss_mib: Some(1.5),
            error: None,
            error_kind: None,
            text: "진단서 I1O".into(),
            raw: Some("**진단서** I1O".into()),
            score,
            timing: Timing {
                timed: true,
                e2e_ms: Some(0.1 + 0.2),
                ..Timing::default()
            },
            extraction: None,
        }
    }

    #[test]
    fn results_round_trip_and_a_cut_last_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(dir.path(), &header()).unwrap();
        j.append(&result("a"), 1.25).unwrap();
        drop(j);
        // A kill in the middle of the second line.
        let path = Journal::path_in(dir.path());
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"wall_s\":2.0,\"text\":\"\xec\xb2\x98")
            .unwrap();
        drop(f);
        // Reading (merge) refuses the unfinished journal and leaves it as it is.
        let len = std::fs::metadata(&path).unwrap().len();
        let err = Journal::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("did not finish"), "{err}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
        let (mut j, h, entries) = Journal::resume(dir.path()).unwrap();
        assert_eq!(h, header());
        assert_eq!(entries.len(), 1);
        let r = &entries[0].result;
        assert_eq!(r.text, "진단서 I1O");
        assert_eq!(r.score, result("a").score);
        assert_eq!(
            r.timing.e2e_ms,
            Some(0.1 + 0.2),
            "floats round-trip exactly"
        );
        assert_eq!(entries[0].wall_s, 1.25);
        j.append(&result("b"), 2.5).unwrap();
        drop(j);
        let (_, _, entries) = Journal::resume(dir.path()).unwrap();
        let ids: Vec<_> = entries.iter().map(|e| e.result.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        let (h, read) = Journal::read(dir.path()).unwrap();
        assert_eq!((h, read.len()), (header(), 2));
        assert_eq!(Journal::read_header(dir.path()).unwrap().run_id, "r");
    }

    #[test]
    fn damage_before_the_last_line_and_a_missing_journal_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = Journal::resume(dir.path()).err().unwrap();
        assert!(matches!(err, JournalError::Missing { .. }), "{err}");
        let mut j = Journal::create(dir.path(), &header()).unwrap();
        j.append(&result("a"), 1.0).unwrap();
        drop(j);
        let path = Journal::path_in(dir.path());
        let body = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = body.lines().collect();
        lines.insert(1, "{oops");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let err = Journal::resume(dir.path()).err().unwrap().to_string();
        assert!(err.contains("journal.jsonl:2"), "{err}");
    }
}
