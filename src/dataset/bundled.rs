//! The bundled dataset (the repository's `datasets/bundled/`: two documents of each type,
//! PDFs and scans, with ground truth), built into the binary so `medocr run` works from any
//! folder. Renderers read files, so it is unpacked once into the cache folder
//! ([`crate::paths::cache_dir`]), under a name made from its content hash: a new binary
//! with other documents never reads an old copy.

use super::DatasetError;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What a run records as its dataset when it used the built-in copy.
pub const BUNDLED: &str = "bundled";

macro_rules! file {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("../../datasets/bundled/", $name)).as_slice(),
        )
    };
}

/// Every file of `datasets/bundled/` (a test checks the list against the folder).
const FILES: [(&str, &[u8]); 15] = [
    file!("diagnosis-000-scan.jpg"),
    file!("diagnosis-000.pdf"),
    file!("diagnosis-001-scan.jpg"),
    file!("diagnosis-001.pdf"),
    file!("discharge_summary-000.pdf"),
    file!("discharge_summary-001.pdf"),
    file!("lab_result-000.pdf"),
    file!("lab_result-001.pdf"),
    file!("manifest.jsonl"),
    file!("medical_record-000.pdf"),
    file!("medical_record-001.pdf"),
    file!("prescription-000-scan.jpg"),
    file!("prescription-000.pdf"),
    file!("prescription-001-scan.jpg"),
    file!("prescription-001.pdf"),
];

/// Unpacks the bundled dataset if needed and returns its folder (holding manifest.jsonl).
pub fn unpack() -> Result<PathBuf, DatasetError> {
    unpack_into(&crate::paths::cache_dir().join("datasets"))
}

fn unpack_into(parent: &Path) -> Result<PathBuf, DatasetError> {
    let dir = parent.join(format!("bundled-{}", &content_hash()[..16]));
    if is_complete(&dir) {
        return Ok(dir);
    }
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DatasetError::Unpack { path, source }
    };
    std::fs::create_dir_all(parent).map_err(err(parent))?;
    // Written aside and renamed into place, so a reader never sees half a dataset.
    let tmp = parent.join(format!(".bundled-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(err(&tmp))?;
    for (name, bytes) in FILES {
        let path = tmp.join(name);
        std::fs::write(&path, bytes).map_err(err(&path))?;
    }
    if dir.exists() {
        // A damaged copy (a file deleted or cut short): replaced whole.
        let _ = std::fs::remove_dir_all(&dir);
    }
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        // Another process unpacked it at the same moment.
        Err(_) if is_complete(&dir) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(source) => Err(DatasetError::Unpack { path: dir, source }),
    }
}

/// Whether `dir` holds every file with its length (the name carries the content hash).
fn is_complete(dir: &Path) -> bool {
    FILES.iter().all(|(name, bytes)| {
        std::fs::metadata(dir.join(name))
            .is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64)
    })
}

fn content_hash() -> String {
    let mut h = Sha256::new();
    for (name, bytes) in FILES {
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    format!("{:x}", h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_file_of_the_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/bundled");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let listed: Vec<&str> = FILES.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, listed);
    }

    #[test]
    fn unpacks_once_and_repairs_a_damaged_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = unpack_into(tmp.path()).unwrap();
        let dataset = crate::dataset::load_manifest(&dir).unwrap();
        let repo = crate::dataset::load_manifest(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/bundled"),
        )
        .unwrap();
        assert_eq!(dataset.documents.len(), repo.documents.len());
        assert_eq!(dataset.manifest_sha256, repo.manifest_sha256);
        let manifest = std::fs::read(dir.join("manifest.jsonl")).unwrap();
        std::fs::remove_file(dir.join("prescription-000.pdf")).unwrap();
        assert_eq!(unpack_into(tmp.path()).unwrap(), dir);
        assert!(dir.join("prescription-000.pdf").is_file());
        assert_eq!(std::fs::read(dir.join("manifest.jsonl")).unwrap(), manifest);
        // Nothing left beside it.
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
