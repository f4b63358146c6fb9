//! The release preset of `medocr gen` (`--preset release`): a dataset large enough for
//! release figures, over both document sources, in one folder with one manifest.
//!
//! Per document type it holds [`RELEASE_PDF_PER_TYPE`] documents from the built-in PDF
//! writer (`pdf/`) and [`RELEASE_PRINTED_PER_TYPE`] Chromium printouts (`printed/`) with
//! different content (the printouts draw from a salted seed), each printout also as a
//! fax, a phone photo and a scan ([`RELEASE_VARIANTS`]). That is 50 distinct documents
//! per type, the seed's minimum ([`crate::stats::MIN_DOCUMENTS_PER_TYPE`]), and 125
//! manifest entries per type, so a run's p99 latency (which needs 100 samples, see
//! [`crate::stats::sample`]) is not marked as resting on too few. Ids carry their source:
//! `pdf-prescription-000`, `printed-prescription-000`, `printed-prescription-000-fax`.

use super::print::{self, FontChoice, PrintError, PrintOptions};
use super::synth::rng::mix;
use super::synth::{self, GenError, GenOptions, Rasteriser};
use super::variants::VariantKind;
use super::{DocType, Document};
use std::path::{Path, PathBuf};

/// Documents per type from the built-in PDF writer.
pub const RELEASE_PDF_PER_TYPE: usize = 25;
/// Chromium printouts per type (each also as every variant).
pub const RELEASE_PRINTED_PER_TYPE: usize = 25;
/// The image variants of every printout.
pub const RELEASE_VARIANTS: [VariantKind; 3] =
    [VariantKind::Fax, VariantKind::Photo, VariantKind::Scan];

/// Salt that gives the printouts other content than the PDF documents of the same seed.
const PRINTED_SALT: u64 = 0x9E1E_A5E5;

/// What a release dataset holds; [`ReleaseOptions::release`] fixes the preset's counts.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseOptions {
    pub types: Vec<DocType>,
    pub seed: u64,
    pub pdf_per_type: usize,
    pub printed_per_type: usize,
    /// Fonts of the printouts (held out from training by default).
    pub fonts: FontChoice,
    pub font_dir: PathBuf,
    /// Browsers printing at once.
    pub jobs: usize,
}

impl ReleaseOptions {
    /// The preset: [`RELEASE_PDF_PER_TYPE`] and [`RELEASE_PRINTED_PER_TYPE`] per type.
    pub fn release(types: Vec<DocType>, seed: u64) -> ReleaseOptions {
        ReleaseOptions {
            types,
            seed,
            pdf_per_type: RELEASE_PDF_PER_TYPE,
            printed_per_type: RELEASE_PRINTED_PER_TYPE,
            fonts: FontChoice::HeldOut,
            font_dir: PathBuf::from(synth::DEFAULT_FONT_DIR),
            jobs: 2,
        }
    }

    /// The manifest entries the options make, per type and source, without rendering.
    pub fn plan(&self) -> Vec<PlannedEntries> {
        let mut out = Vec::new();
        for &doc_type in &unique(&self.types) {
            out.push(PlannedEntries {
                doc_type,
                source: "pdf".into(),
                entries: self.pdf_per_type,
            });
            out.push(PlannedEntries {
                doc_type,
                source: "printed".into(),
                entries: self.printed_per_type,
            });
            for v in RELEASE_VARIANTS {
                out.push(PlannedEntries {
                    doc_type,
                    source: format!("printed-{v}"),
                    entries: self.printed_per_type,
                });
            }
        }
        out
    }

    /// Distinct documents (different content) per type: PDF documents plus printouts.
    pub fn distinct_per_type(&self) -> usize {
        self.pdf_per_type + self.printed_per_type
    }
}

/// How many manifest entries of one type one source contributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEntries {
    pub doc_type: DocType,
    /// `pdf`, `printed`, or `printed-<variant>`.
    pub source: String,
    pub entries: usize,
}

/// What went wrong making a release dataset.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("the PDF documents (pdf/): {0}")]
    Pdf(#[from] GenError),
    #[error("the Chromium printouts (printed/): {0}")]
    Printed(#[from] PrintError),
    #[error(
        "cannot write {path}: {source}. Check that the output folder is writable and has space"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What [`generate`] wrote.
#[derive(Debug, Clone)]
pub struct ReleaseSummary {
    pub manifest: PathBuf,
    /// The combined manifest's entries, in file order.
    pub documents: Vec<Document>,
    pub pages: usize,
    pub bytes: u64,
}

/// Writes a release dataset into `out_dir`: `pdf/` and `printed/` (each a dataset of its
/// own) and `manifest.jsonl` over both, sources relative to `out_dir`. `rasterise`
/// renders the printouts' pages for their variants (the CLI passes pdfium).
pub fn generate(
    opts: &ReleaseOptions,
    out_dir: &Path,
    rasterise: Rasteriser,
) -> Result<ReleaseSummary, ReleaseError> {
    let types = unique(&opts.types);
    let pdf = synth::generate(
        &GenOptions {
            count_per_type: opts.pdf_per_type,
            types: types.clone(),
            seed: opts.seed,
            scans: false,
            font_dir: opts.font_dir.clone(),
            ..GenOptions::default()
        },
        &out_dir.join("pdf"),
        None,
    )?;
    let printed = print::generate(
        &PrintOptions {
            count_per_type: opts.printed_per_type,
            types,
            seed: mix(opts.seed, PRINTED_SALT),
            fonts: opts.fonts,
            variants: RELEASE_VARIANTS.to_vec(),
            font_dir: opts.font_dir.clone(),
            jobs: opts.jobs,
        },
        &out_dir.join("printed"),
        Some(rasterise),
    )?;
    let mut documents: Vec<Document> = Vec::new();
    documents.extend(pdf.documents.into_iter().map(|d| within("pdf", d)));
    documents.extend(printed.documents.into_iter().map(|d| within("printed", d)));
    let manifest = out_dir.join("manifest.jsonl");
    let mut text = String::new();
    for d in &documents {
        let line = serde_json::to_string(d).map_err(|e| ReleaseError::Write {
            path: manifest.clone(),
            source: std::io::Error::other(e),
        })?;
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(&manifest, &text).map_err(|source| ReleaseError::Write {
        path: manifest.clone(),
        source,
    })?;
    Ok(ReleaseSummary {
        manifest,
        documents,
        pages: pdf.pages + printed.pages,
        bytes: pdf.bytes + printed.bytes + text.len() as u64,
    })
}

/// A sub-dataset's entry as an entry of the combined manifest: id prefixed with the
/// source, path prefixed with its folder.
fn within(folder: &str, mut d: Document) -> Document {
    d.id = format!("{folder}-{}", d.id);
    d.source = Path::new(folder).join(&d.source);
    d
}

/// `items` without repeats, in first-seen order.
fn unique(items: &[DocType]) -> Vec<DocType> {
    let mut out: Vec<DocType> = Vec::new();
    for t in items {
        if !out.contains(t) {
            out.push(*t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::MIN_DOCUMENTS_PER_TYPE;

    #[test]
    fn the_preset_plans_enough_documents_per_type_from_both_sources() {
        let opts = ReleaseOptions::release(DocType::ALL.to_vec(), 0);
        assert!(opts.distinct_per_type() >= MIN_DOCUMENTS_PER_TYPE);
        let plan = opts.plan();
        for t in DocType::ALL {
            let rows: Vec<_> = plan.iter().filter(|p| p.doc_type == t).collect();
            let entries: usize = rows.iter().map(|p| p.entries).sum();
            let of = |s: &str| rows.iter().find(|p| p.source == s).map(|p| p.entries);
            assert_eq!(of("pdf"), Some(RELEASE_PDF_PER_TYPE), "{t}");
            assert_eq!(of("printed"), Some(RELEASE_PRINTED_PER_TYPE), "{t}");
            for v in ["fax", "photo", "scan"] {
                assert_eq!(of(&format!("printed-{v}")), Some(RELEASE_PRINTED_PER_TYPE));
            }
            // 125 entries: enough for an unmarked p99 (100 samples).
            assert_eq!(entries, 125, "{t}");
            assert!(!crate::stats::percentile_low_sample(99.0, entries));
        }
        // Repeated types are planned once.
        let twice = ReleaseOptions::release(vec![DocType::Diagnosis, DocType::Diagnosis], 0);
        assert_eq!(twice.plan().len(), 5);
    }

    #[test]
    fn entries_move_into_their_folder() {
        let d: Document = serde_json::from_str(
            r#"{"id":"diagnosis-000-fax","doc_type":"diagnosis","source":"diagnosis-000-fax.png","text":"x","dpi":200}"#,
        )
        .unwrap();
        let d = within("printed", d);
        assert_eq!(d.id, "printed-diagnosis-000-fax");
        assert_eq!(d.source, Path::new("printed/diagnosis-000-fax.png"));
    }
}
