//! `--export-json FILE|-` and `--junit FILE`: a command's result model for a CI system,
//! in a file (written atomically) or, for JSON, on standard output. With `-`, standard
//! output carries the JSON alone and the console tables go to standard error.

use super::out;
use anyhow::Context;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where `--export-json` sends the JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonTarget {
    Stdout,
    File(PathBuf),
}

impl std::str::FromStr for JsonTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" => Err("expected a file path, or - for standard output".into()),
            "-" => Ok(JsonTarget::Stdout),
            p => Ok(JsonTarget::File(PathBuf::from(p))),
        }
    }
}

impl JsonTarget {
    /// Whether the console tables must move to standard error.
    pub fn takes_stdout(target: Option<&JsonTarget>) -> bool {
        target == Some(&JsonTarget::Stdout)
    }

    /// Writes `value` as pretty JSON with a trailing newline.
    pub fn write<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let mut json = serde_json::to_string_pretty(value).context("encoding --export-json")?;
        json.push('\n');
        match self {
            JsonTarget::Stdout => out::write(format_args!("{json}")),
            JsonTarget::File(p) => write_file("--export-json", p, json.as_bytes()),
        }
    }
}

/// Writes an export file atomically (a CI step never reads half a file), creating its
/// folder; errors name the flag.
pub fn write_file(flag: &str, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{flag}: creating {}", dir.display()))?;
    }
    medocr::report::write_atomic(path, bytes)
        .with_context(|| format!("{flag}: writing {}", path.display()))
}
