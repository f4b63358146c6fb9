//! Document sources are checked before anything opens them, and read with a size limit: a
//! manifest may name any path, and `/dev/zero` never ends while opening a FIFO blocks until
//! a writer comes, before any page timeout has started.

use super::RenderError;
use std::fs::{File, FileType, Metadata};
use std::io::Read;
use std::path::Path;

/// Largest source file medocr reads, in bytes (512 MiB): one PDF or one page image (a
/// folder of page images is read a page at a time, each within the limit). Far above a
/// real medical document (a page scanned at 300 DPI is a few MiB at most), and low enough
/// that reading a source whole cannot exhaust memory. A bigger source is the document's
/// `input` error (docs/reliability.md).
pub const MAX_SOURCE_BYTES: u64 = 512 << 20;

/// What a source path holds, by its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A regular file within [`MAX_SOURCE_BYTES`].
    File,
    /// A folder: a multi-page scan when it holds page images.
    Dir,
}

/// Checks what is at `path` without opening it (`std::fs::metadata`, which follows
/// symlinks): a regular file within [`MAX_SOURCE_BYTES`], or a folder. A device, a FIFO or
/// a socket is [`RenderError::NotAFile`], a bigger file [`RenderError::TooLarge`]; `io`
/// words an unreadable path (missing, no permission) as the caller's loader would.
pub fn check_source(
    path: &Path,
    io: impl FnOnce(std::io::Error) -> RenderError,
) -> Result<SourceKind, RenderError> {
    let meta = std::fs::metadata(path).map_err(io)?;
    check_metadata(path, &meta)
}

fn check_metadata(path: &Path, meta: &Metadata) -> Result<SourceKind, RenderError> {
    let name = || path.display().to_string();
    let kind = meta.file_type();
    if kind.is_dir() {
        return Ok(SourceKind::Dir);
    }
    if !kind.is_file() {
        return Err(RenderError::NotAFile {
            path: name(),
            what: describe(kind),
        });
    }
    if meta.len() > MAX_SOURCE_BYTES {
        return Err(RenderError::TooLarge {
            path: name(),
            size: meta.len(),
        });
    }
    Ok(SourceKind::File)
}

/// Reads a source file whole after [`check_source`]; a folder is
/// [`RenderError::NotAFile`] here. `io` words an I/O error as the caller's loader would.
pub(crate) fn read_source(
    path: &Path,
    io: impl Fn(std::io::Error) -> RenderError,
) -> Result<Vec<u8>, RenderError> {
    let not_a_file = || RenderError::NotAFile {
        path: path.display().to_string(),
        what: "a directory",
    };
    if check_source(path, &io)? == SourceKind::Dir {
        return Err(not_a_file());
    }
    let file = File::open(path).map_err(&io)?;
    // The path may have been replaced since the check: what was opened is checked again.
    let meta = file.metadata().map_err(&io)?;
    if check_metadata(path, &meta)? == SourceKind::Dir {
        return Err(not_a_file());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // A file that grows while it is read still stops at the limit.
    file.take(MAX_SOURCE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(&io)?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(RenderError::TooLarge {
            path: path.display().to_string(),
            size: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

/// What a path that is neither a regular file nor a folder is, for the error message.
fn describe(kind: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    let _ = kind;
    "not a regular file"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(e: std::io::Error) -> RenderError {
        RenderError::Image {
            path: "x".into(),
            message: e.to_string(),
        }
    }

    #[cfg(unix)]
    #[test]
    fn devices_fifos_and_folders_are_refused_before_opening() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.pdf");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Opening the FIFO would block this test forever: it must not be opened.
        for (path, what) in [
            (Path::new("/dev/zero"), "a character device"),
            (fifo.as_path(), "a FIFO (named pipe)"),
            (dir.path(), "a directory"),
        ] {
            let e = read_source(path, io).unwrap_err();
            assert!(
                matches!(&e, RenderError::NotAFile { what: w, .. } if *w == what),
                "{e}"
            );
            let m = e.to_string();
            assert!(m.starts_with(&path.display().to_string()), "{m}");
            assert!(m.contains("not a regular file"), "{m}");
        }
        assert_eq!(check_source(dir.path(), io).unwrap(), SourceKind::Dir);
        // A symlink is what it points to.
        let link = dir.path().join("zero.png");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let m = check_source(&link, io).unwrap_err().to_string();
        assert!(m.contains("a character device"), "{m}");
    }

    #[test]
    fn files_over_the_limit_are_refused_and_others_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("a.png");
        std::fs::write(&small, b"abc").unwrap();
        assert_eq!(read_source(&small, io).unwrap(), b"abc");
        // Sparse: no disk space is used.
        let big = dir.path().join("big.pdf");
        File::create(&big)
            .unwrap()
            .set_len(MAX_SOURCE_BYTES + 1)
            .unwrap();
        let m = read_source(&big, io).unwrap_err().to_string();
        assert!(m.contains("larger than the 512 MiB source limit"), "{m}");
        let at_limit = dir.path().join("limit.pdf");
        File::create(&at_limit)
            .unwrap()
            .set_len(MAX_SOURCE_BYTES)
            .unwrap();
        assert_eq!(check_source(&at_limit, io).unwrap(), SourceKind::File);
        let missing = read_source(&dir.path().join("missing.png"), io).unwrap_err();
        assert!(matches!(missing, RenderError::Image { .. }), "{missing}");
    }
}
