//! `--export-json FILE|-`: a command's result model as JSON for a CI system, in a file
//! (written atomically) or on standard output. With `-`, standard output carries the JSON
//! alone and the console tables go to standard error.

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
            JsonTarget::File(p) => write_file(p, json.as_bytes()),
        }
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--export-json: creating {}", dir.display()))?;
    }
    medocr::report::write_atomic(path, bytes)
        .with_context(|| format!("--export-json: writing {}", path.display()))
}
