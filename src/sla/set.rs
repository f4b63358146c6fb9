//! The profiles a run is checked against: a folder of `<doc_type>.toml` files, or the
//! copies built into the binary (the repository's `profiles/`), so `medocr` runs from any
//! folder. Either way the set carries the sha256 a report records and `merge` compares.

use super::profile::{read_profiles, Profile, ProfileError};
use crate::dataset::DocType;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// What [`ProfileSet::origin`] says of the built-in profiles.
pub const BUNDLED: &str = "bundled";

/// The repository's `profiles/`, as built into the binary.
const BUNDLED_FILES: [(DocType, &str); 5] = [
    (
        DocType::Diagnosis,
        include_str!("../../profiles/diagnosis.toml"),
    ),
    (
        DocType::DischargeSummary,
        include_str!("../../profiles/discharge_summary.toml"),
    ),
    (
        DocType::LabResult,
        include_str!("../../profiles/lab_result.toml"),
    ),
    (
        DocType::MedicalRecord,
        include_str!("../../profiles/medical_record.toml"),
    ),
    (
        DocType::Prescription,
        include_str!("../../profiles/prescription.toml"),
    ),
];

/// SLA profiles with where they came from.
#[derive(Debug, Clone)]
pub struct ProfileSet {
    pub profiles: BTreeMap<DocType, Profile>,
    /// The folder's path as given, or [`BUNDLED`].
    pub origin: String,
    /// sha256 over the profile files' bytes in document-type order.
    pub sha256: String,
}

impl ProfileSet {
    /// The profiles of `dir`, or the built-in ones when `dir` is `None`.
    pub fn load(dir: Option<&Path>) -> Result<ProfileSet, ProfileError> {
        match dir {
            Some(dir) => Self::from_folder(dir),
            None => Ok(Self::bundled()),
        }
    }

    /// The built-in copies of the repository's `profiles/`.
    pub fn bundled() -> ProfileSet {
        let mut profiles = BTreeMap::new();
        let mut texts = BTreeMap::new();
        for (doc_type, text) in BUNDLED_FILES {
            let path = Path::new("profiles").join(format!("{doc_type}.toml"));
            let profile = Profile::parse(text, &path).expect("the bundled profiles are valid");
            profiles.insert(doc_type, profile);
            texts.insert(doc_type, text.as_bytes());
        }
        ProfileSet {
            profiles,
            origin: BUNDLED.to_string(),
            sha256: hash(texts.into_values()),
        }
    }

    fn from_folder(dir: &Path) -> Result<ProfileSet, ProfileError> {
        let read = read_profiles(dir)?;
        Ok(ProfileSet {
            sha256: hash(read.values().map(|(_, text)| text.as_bytes())),
            profiles: read.into_iter().map(|(t, (p, _))| (t, p)).collect(),
            origin: dir.display().to_string(),
        })
    }
}

/// sha256 over the profile files' bytes, in document-type order.
fn hash<'a>(texts: impl Iterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    for t in texts {
        h.update(t);
    }
    format!("{:x}", h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_equals_the_repository_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        let folder = ProfileSet::load(Some(&dir)).unwrap();
        let bundled = ProfileSet::bundled();
        assert_eq!(bundled.profiles, folder.profiles);
        assert_eq!(bundled.sha256, folder.sha256);
        assert_eq!(bundled.origin, BUNDLED);
        // Every file of the folder is built in.
        let files = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(files, BUNDLED_FILES.len());
    }
}
