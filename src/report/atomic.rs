//! The one file writer of every report the tool writes (run, bench and compare folders,
//! `--junit`, `--export-json`, charts): a temporary file in the same folder, fsync'd, then
//! renamed, so a crash or a CI step never sees half a file. Also the owner-only folder and
//! file modes for raw patient text.

use super::ReportError;
use std::io::Write;
use std::path::Path;

/// Creates a run folder (and its parents) readable by its owner only (0700 on Unix): it
/// holds raw patient text. An existing folder is narrowed to 0700 too.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Opens `path` for writing (created or truncated), readable by its owner only (0600 on
/// Unix): for files that keep raw patient text.
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Files of a run that keep raw (unredacted) text: created 0600.
const RAW_TEXT_FILES: [&str; 1] = ["predictions.jsonl"];

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync'd, then
/// renamed, so a crash never leaves a half-written report. Files named in
/// `RAW_TEXT_FILES` are readable by their owner only.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let err = |source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    {
        let private = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| RAW_TEXT_FILES.contains(&n));
        let mut f = if private {
            create_private_file(&tmp)
        } else {
            std::fs::File::create(&tmp)
        }
        .map_err(err)?;
        f.write_all(bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)
}

/// Creates `dir` and its parents (normal permissions), naming it in the error.
pub fn create_dir(dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_the_file_and_leave_no_temporary() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("bench.md");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn raw_text_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("predictions.jsonl");
        write_atomic(&path, b"{}\n").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
