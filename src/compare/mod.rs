//! `medocr compare`: the release gate. Two run folders (a baseline and a candidate) are
//! re-scored against the same dataset with the same scorer, paired document by document,
//! and every headline metric's difference gets a paired bootstrap confidence interval
//! that is checked against a non-inferiority margin.
//!
//! # Inputs
//!
//! A run folder `reports/<run-id>/` as written by `medocr run` / `medocr score`:
//! `summary.json` (dataset path, manifest SHA-256, engine), `predictions.jsonl`
//! (`{"id", "dpi", "text", "error"}` per document × DPI) and `documents.csv` (timing:
//! `e2e_ms`, `ttft_ms`). Runs whose manifests differ (different SHA-256) are refused:
//! they did not read the same documents. The dataset is the baseline's `config.dataset`
//! unless overridden, and must have the runs' manifest SHA-256.
//!
//! # Re-scoring
//!
//! Both runs' texts are scored again with [`crate::score::score_with`] under one
//! [`ScoreOptions`] and one [`Knowledge`], so both sides are measured identically
//! whatever scorer version or formulary the runs were made with. A prediction whose
//! `error` is set is scored as an empty output (as a run does).
//!
//! # Pairing
//!
//! When each run (after `--baseline-dpi` / `--candidate-dpi`) has a single DPI,
//! documents pair by id across DPIs (300 vs 72 DPI is a valid comparison). When the runs
//! have several DPIs, those DPI sets must be equal and documents pair by (id, DPI). A
//! *unit* is one document with all its pairs; the bootstrap resamples units. Documents on
//! one side only are listed and left out: the comparison is over the intersection.
//!
//! # Statistics
//!
//! For a side `s` (b = baseline, c = candidate) and a multiset `U` of units (the pairs
//! `i` they hold), with `E_s,i = S + D + I` and `N_i` the reference length of pair `i`:
//!
//! - `CER_s(U) = Σ_{i∈U} E_s,i / Σ_{i∈U} N_i` over grapheme clusters after N1 (the
//!   corpus micro average of `docs/metrics.md`); `WER_s(U)` the same over words;
//! - `Acc_s,t(U) = Σ correct_s,i,t / Σ located_s,i,t`, accuracy of field type `t`;
//! - `Crit_s(U) = Σ critical_s,i / |U|`, critical field errors (a located field whose
//!   error has severity `critical`) per document, `|U|` counting pairs;
//! - `P_q,s(U)` = the `q`-th percentile ([`crate::stats::percentile()`], numpy linear) of
//!   E2E or TTFT over the pairs of `U` timed on *both* sides; `q ∈ {50, 95}`;
//! - `Δ(U) = θ_c(U) − θ_b(U)` for each statistic `θ`.
//!
//! Each statistic is computed over the units on which it is defined, `P_θ`: units with
//! `N > 0` for CER/WER, units with a located field of type `t` for `Acc_t` (so a
//! prescription-only field is not diluted by lab results), every unit for `Crit`, and for
//! latency the pairs timed on both sides. The point estimate is `Δ(P_θ)`. The **paired
//! bootstrap** ([`crate::stats::bootstrap_ci`], percentile method): `B` resamples
//! `U*_1 … U*_B` of `|P_θ|` units drawn from `P_θ` with replacement by a ChaCha8
//! generator seeded with `--seed` (the same units for both sides, and, with the same seed
//! and sample size, the same draws for every metric); the interval is the `α/2` and
//! `1 − α/2` percentiles of `Δ(U*_k)`, `α = 1 − confidence`. A metric with an empty
//! `P_θ` is not measured; a resample on which a statistic is still undefined (not
//! possible with the filters above) would contribute `Δ = 0`.
//!
//! # Gate
//!
//! With `h = Δ` for metrics where higher is worse (CER, WER, critical errors, latency)
//! and `h = −Δ` where lower is worse (field accuracy), `[h_lo, h_hi]` the interval of
//! `h` and `m ≥ 0` the margin ([`Margins`]), the verdict is (see [`judge`]):
//!
//! - `FAIL` when `h_hi > m`: non-inferiority is not shown (this includes an interval
//!   that straddles the margin);
//! - `better` when `h_hi < 0`: the interval lies entirely on the better side;
//! - `same` when `h_lo ≤ 0 ≤ h_hi ≤ m`;
//! - `worse-within-margin` when `0 < h_lo ≤ h_hi ≤ m`.
//!
//! This is a one-sided non-inferiority test at level `α/2` (2.5 % with the default 95 %
//! interval). Latency margins are relative: `m = pct / 100 · P95_b(P)`. Metrics without a
//! margin (p50 latency) are informational: `better`, `same` or `worse`. Latency is
//! `not-measured` (not failed) when a side has no timing (replayed or re-scored runs).
//!
//! # Sample size
//!
//! As in a run's reports (`crate::stats::sample`, docs/metrics.md "Sample size"): a
//! document type paired on fewer documents than the runs' minimum per type (their
//! profiles' `min_documents`, default 50) carries `sample` with `insufficient: true` and
//! is marked "insufficient sample: 2 < 50 documents"; a latency percentile over fewer
//! pairs than its rule needs (p50 2, p95 20) is `low_sample` and marked †. The gate still
//! passes or fails on its margins; `--insufficient-sample fail` also makes the exit code 1.
//!
//! # Regressions
//!
//! The documents with the largest `(E_c,i − E_b,i) / N_i > 0`, each with its worst
//! lines: the reference line (N1) and what the baseline and the candidate read there,
//! attributed through the cluster alignment, lines ranked by the candidate's extra
//! edits. Patient identifiers are masked with [`crate::report::redact::Redactor`] unless
//! asked otherwise.

mod gate;
mod lines;
mod load;
mod metrics;
mod render;
mod sample;
#[cfg(test)]
mod tests;

pub use gate::{judge, Direction, Margins, MarginsError, Verdict};
pub use lines::{LineView, Regression};
pub use load::{LoadedRun, PredictionRecord};
pub use metrics::{GroupComparison, MetricComparison, MetricKind, PairScore, SideScore};
pub use render::{console, junit, markdown, CompareJson, CompareMarkdown};

use crate::dataset::{load_manifest, Dataset, DatasetError, Document};
use crate::report::ReportError;
use crate::score::{Knowledge, ScoreOptions};
use crate::stats::{BootstrapConfig, StatsError};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Bumped when a field of `compare.json` changes meaning.
pub const COMPARE_SCHEMA_VERSION: u32 = 1;

/// Why two runs could not be compared. Every message names the file or flag to fix.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{path} is not a run folder (no summary.json): pass a folder written by `medocr run` or `medocr score`, e.g. reports/<run-id>/")]
    NotARun { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("the runs read different datasets: {baseline} has manifest sha256 {baseline_sha256} and {candidate} has {candidate_sha256}; compare only runs of the same manifest (re-run one of them on the other's dataset)")]
    DifferentData {
        baseline: PathBuf,
        candidate: PathBuf,
        baseline_sha256: String,
        candidate_sha256: String,
    },
    #[error("dataset {dataset}: {source}. Pass the dataset the runs were made on with --dataset")]
    Dataset {
        dataset: PathBuf,
        source: DatasetError,
    },
    #[error("dataset {dataset} has manifest sha256 {found}, but the runs were made on a manifest with sha256 {expected}; pass the dataset the runs were made on with --dataset")]
    WrongDataset {
        dataset: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{0}")]
    Dpi(String),
    #[error("the runs have no document in common ({baseline_only} only in the baseline, {candidate_only} only in the candidate, {not_in_dataset} not in the dataset); compare runs of the same documents")]
    NoCommonDocuments {
        baseline_only: usize,
        candidate_only: usize,
        not_in_dataset: usize,
    },
    #[error(transparent)]
    Margins(#[from] MarginsError),
    #[error("bootstrap: {0}; check --resamples (≥ 1) and --confidence (between 0 and 1)")]
    Bootstrap(#[from] StatsError),
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// Settings of a comparison.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Dataset folder or manifest; default: the baseline's `config.dataset`.
    pub dataset: Option<PathBuf>,
    /// Use only this DPI of the baseline / candidate run.
    pub baseline_dpi: Option<f32>,
    pub candidate_dpi: Option<f32>,
    pub score: ScoreOptions,
    pub knowledge: Knowledge,
    /// Names of the formulary and code list (`bundled` or a path), for the report.
    pub formulary: String,
    pub codes: String,
    pub bootstrap: BootstrapConfig,
    pub margins: Margins,
    /// Quote patient identifiers in the regression examples.
    pub show_phi: bool,
    /// How many regressed documents to show.
    pub top: usize,
    /// Read both runs' answers again in this format (`--output-format`); `None` scores the
    /// texts each run scored.
    pub output_format: Option<crate::score::OutputFormat>,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            dataset: None,
            baseline_dpi: None,
            candidate_dpi: None,
            score: ScoreOptions::default(),
            knowledge: Knowledge::bundled().clone(),
            formulary: "bundled".into(),
            codes: "bundled".into(),
            bootstrap: BootstrapConfig::default(),
            margins: Margins::default(),
            show_phi: false,
            top: 5,
            output_format: None,
        }
    }
}

/// One side of the comparison, as recorded in `compare.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub dir: String,
    pub engine: String,
    pub engine_version: String,
    /// The DPIs compared (after `--*-dpi`).
    pub dpis: Vec<f32>,
    /// Predictions of the run at those DPIs.
    pub predictions: usize,
    /// Whether any compared prediction has an E2E time.
    pub timed: bool,
}

/// How documents were paired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Pairing {
    /// One DPI per side: by document id, across DPIs.
    Id {
        baseline_dpi: f32,
        candidate_dpi: f32,
    },
    /// Several DPIs, the same on both sides: by (id, DPI).
    IdAndDpi { dpis: Vec<f32> },
}

/// The comparison's settings, recorded so it can be reproduced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub resamples: usize,
    pub confidence: f64,
    pub seed: u64,
    pub margins: Margins,
    pub fold_width: bool,
    pub formulary: String,
    pub codes: String,
    pub phi_shown: bool,
}

/// Documents that could not be paired (`id` or `id@dpi`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Unmatched {
    pub baseline_only: Vec<String>,
    pub candidate_only: Vec<String>,
    /// In a run but not in the dataset.
    pub not_in_dataset: Vec<String>,
}

/// Everything `medocr compare` found; serialised as `compare.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    pub schema_version: u32,
    pub baseline: RunInfo,
    pub candidate: RunInfo,
    pub dataset: String,
    pub manifest_sha256: String,
    pub pairing: Pairing,
    pub settings: Settings,
    pub unmatched: Unmatched,
    /// Paired documents (units) and document × DPI pairs.
    pub documents: usize,
    pub pairs: usize,
    /// Every pair has the same edits, field results and critical errors on both sides.
    pub identical_scores: bool,
    /// `all` first, then one group per document type.
    pub groups: Vec<GroupComparison>,
    /// The documents that regressed most, worst first.
    pub regressions: Vec<Regression>,
    /// No gated metric failed.
    pub passed: bool,
}

impl Comparison {
    /// Every failed gate as (group, metric).
    pub fn failures(&self) -> Vec<(&GroupComparison, &MetricComparison)> {
        self.groups
            .iter()
            .flat_map(|g| {
                g.metrics
                    .iter()
                    .filter(|m| m.verdict == Verdict::Fail)
                    .map(move |m| (g, m))
            })
            .collect()
    }
}

/// Loads both runs, re-scores them and compares them. Prints nothing.
pub fn compare(
    baseline_dir: &Path,
    candidate_dir: &Path,
    opts: &CompareOptions,
) -> Result<Comparison, CompareError> {
    opts.margins.validate()?;
    let (baseline, candidate) = load_runs(baseline_dir, candidate_dir, opts)?;
    let (dataset_path, dataset) = load_dataset(&baseline, opts)?;
    let docs: HashMap<&str, &Document> = dataset
        .documents
        .iter()
        .map(|d| (d.id.as_str(), d))
        .collect();

    let b_records = baseline.select_dpi(opts.baseline_dpi, "baseline", "--baseline-dpi")?;
    let c_records = candidate.select_dpi(opts.candidate_dpi, "candidate", "--candidate-dpi")?;
    let (b_dpis, c_dpis) = (dpis_of(&b_records), dpis_of(&c_records));
    let pairing = pairing_of(&b_dpis, &c_dpis)?;
    let by_dpi = matches!(pairing, Pairing::IdAndDpi { .. });
    let (matched, unmatched) = match_records(&b_records, &c_records, by_dpi, &docs)?;

    let pairs: Vec<PairScore> = matched
        .par_iter()
        .map(|(doc, b, c)| PairScore::score(doc, b, c, &opts.score, &opts.knowledge))
        .collect();
    let identical_scores = pairs.iter().all(PairScore::identical);
    let mut groups = metrics::compare_groups(&pairs, &opts.bootstrap, &opts.margins)?;
    sample::mark(
        &mut groups,
        &[&baseline.min_documents, &candidate.min_documents],
    );
    let regressions = lines::regressions(&pairs, &matched, opts);
    let passed = groups
        .iter()
        .all(|g| g.metrics.iter().all(|m| m.verdict != Verdict::Fail));
    let units: BTreeSet<&str> = pairs.iter().map(|p| p.id.as_str()).collect();
    Ok(Comparison {
        schema_version: COMPARE_SCHEMA_VERSION,
        baseline: run_info(&baseline, &b_records, b_dpis),
        candidate: run_info(&candidate, &c_records, c_dpis),
        dataset: match &opts.dataset {
            None if baseline.dataset == crate::dataset::bundled::BUNDLED => {
                baseline.dataset.clone()
            }
            _ => dataset_path.display().to_string(),
        },
        manifest_sha256: baseline.manifest_sha256.clone(),
        pairing,
        settings: settings_of(opts),
        unmatched,
        documents: units.len(),
        pairs: pairs.len(),
        identical_scores,
        groups,
        regressions,
        passed,
    })
}

/// Writes `compare.json` and `compare.md` into `dir` (created) atomically; returns the
/// paths.
pub fn write_comparison(dir: &Path, comparison: &Comparison) -> Result<Vec<PathBuf>, ReportError> {
    crate::report::atomic::create_dir(dir)?;
    crate::report::export::write_all(dir, comparison, &[&CompareJson, &CompareMarkdown])
}

fn dpis_of(records: &[&PredictionRecord]) -> Vec<f32> {
    let mut d: Vec<f32> = records.iter().map(|r| r.dpi).collect();
    d.sort_by(f32::total_cmp);
    d.dedup();
    d
}

fn dpi_list(dpis: &[f32]) -> String {
    dpis.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Both runs, their answers read again when asked; refused unless they read the same
/// manifest.
fn load_runs(
    baseline_dir: &Path,
    candidate_dir: &Path,
    opts: &CompareOptions,
) -> Result<(LoadedRun, LoadedRun), CompareError> {
    let mut baseline = LoadedRun::load(baseline_dir)?;
    let mut candidate = LoadedRun::load(candidate_dir)?;
    if let Some(format) = opts.output_format {
        baseline.reread(format);
        candidate.reread(format);
    }
    if baseline.manifest_sha256 != candidate.manifest_sha256 {
        return Err(CompareError::DifferentData {
            baseline: baseline.dir.clone(),
            candidate: candidate.dir.clone(),
            baseline_sha256: baseline.manifest_sha256.clone(),
            candidate_sha256: candidate.manifest_sha256.clone(),
        });
    }
    Ok((baseline, candidate))
}

/// The dataset (`--dataset`, else the baseline's) and its path, checked to have the runs'
/// manifest SHA-256.
fn load_dataset(
    baseline: &LoadedRun,
    opts: &CompareOptions,
) -> Result<(PathBuf, Dataset), CompareError> {
    let dataset_path = match &opts.dataset {
        Some(p) => p.clone(),
        // A run of the dataset built into the binary: this binary's copy, whose manifest
        // hash is checked below like any other.
        None if baseline.dataset == crate::dataset::bundled::BUNDLED => {
            crate::dataset::bundled::unpack().map_err(|source| CompareError::Dataset {
                dataset: PathBuf::from(&baseline.dataset),
                source,
            })?
        }
        None => PathBuf::from(&baseline.dataset),
    };
    let dataset = load_manifest(&dataset_path).map_err(|source| CompareError::Dataset {
        dataset: dataset_path.clone(),
        source,
    })?;
    if dataset.manifest_sha256 != baseline.manifest_sha256 {
        return Err(CompareError::WrongDataset {
            dataset: dataset_path,
            expected: baseline.manifest_sha256.clone(),
            found: dataset.manifest_sha256,
        });
    }
    Ok((dataset_path, dataset))
}

/// By id when each side has one DPI, by (id, DPI) when both have the same several.
fn pairing_of(b_dpis: &[f32], c_dpis: &[f32]) -> Result<Pairing, CompareError> {
    if b_dpis.len() == 1 && c_dpis.len() == 1 {
        Ok(Pairing::Id {
            baseline_dpi: b_dpis[0],
            candidate_dpi: c_dpis[0],
        })
    } else if b_dpis == c_dpis {
        Ok(Pairing::IdAndDpi {
            dpis: b_dpis.to_vec(),
        })
    } else {
        Err(CompareError::Dpi(format!(
            "the baseline has DPIs {} and the candidate {}: pick one DPI of each with --baseline-dpi and --candidate-dpi, or compare runs made at the same DPIs",
            dpi_list(b_dpis),
            dpi_list(c_dpis)
        )))
    }
}

/// A document with its baseline and candidate predictions.
type Matched<'a> = (&'a Document, &'a PredictionRecord, &'a PredictionRecord);

/// Pairs the predictions by key (`id`, or `id@dpi` when `by_dpi`) in key order, and lists
/// those left unpaired; refused when nothing pairs.
fn match_records<'a>(
    b_records: &[&'a PredictionRecord],
    c_records: &[&'a PredictionRecord],
    by_dpi: bool,
    docs: &HashMap<&str, &'a Document>,
) -> Result<(Vec<Matched<'a>>, Unmatched), CompareError> {
    let key = |r: &PredictionRecord| {
        if by_dpi {
            format!("{}@{}", r.id, r.dpi)
        } else {
            r.id.clone()
        }
    };
    let b_map: BTreeMap<String, &PredictionRecord> =
        b_records.iter().map(|r| (key(r), *r)).collect();
    let c_map: BTreeMap<String, &PredictionRecord> =
        c_records.iter().map(|r| (key(r), *r)).collect();
    let mut unmatched = Unmatched::default();
    let mut matched: Vec<Matched<'a>> = Vec::new();
    for (k, b) in &b_map {
        match c_map.get(k) {
            None => unmatched.baseline_only.push(k.clone()),
            Some(c) => match docs.get(b.id.as_str()) {
                None => unmatched.not_in_dataset.push(k.clone()),
                Some(d) => matched.push((d, b, c)),
            },
        }
    }
    unmatched.candidate_only = c_map
        .keys()
        .filter(|k| !b_map.contains_key(*k))
        .cloned()
        .collect();
    if matched.is_empty() {
        return Err(CompareError::NoCommonDocuments {
            baseline_only: unmatched.baseline_only.len(),
            candidate_only: unmatched.candidate_only.len(),
            not_in_dataset: unmatched.not_in_dataset.len(),
        });
    }
    Ok((matched, unmatched))
}

fn run_info(run: &LoadedRun, records: &[&PredictionRecord], dpis: Vec<f32>) -> RunInfo {
    RunInfo {
        run_id: run.run_id.clone(),
        dir: run.dir.display().to_string(),
        engine: run.engine.name.clone(),
        engine_version: run.engine.version.clone(),
        dpis,
        predictions: records.len(),
        timed: records.iter().any(|r| r.e2e_ms.is_some()),
    }
}

fn settings_of(opts: &CompareOptions) -> Settings {
    Settings {
        resamples: opts.bootstrap.resamples,
        confidence: opts.bootstrap.confidence,
        seed: opts.bootstrap.seed,
        margins: opts.margins.clone(),
        fold_width: opts.score.norm.fold_fullwidth,
        formulary: opts.formulary.clone(),
        codes: opts.codes.clone(),
        phi_shown: opts.show_phi,
    }
}
