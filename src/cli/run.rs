//! `medocr run` and `medocr score`.

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use medocr::dataset::{load_manifest, DocType, Document};
use medocr::engine::builtin::BuiltinEngine;
use medocr::engine::replay::Replay;
use medocr::engine::tesseract::{Tesseract, TesseractConfig};
use medocr::engine::Engine;
use medocr::pipeline::{self, Environment, Privacy, RunOptions};
use medocr::report::{self, RunConfig, RunSummary, SCHEMA_VERSION};
use medocr::score::{Knowledge, NormOptions, ScoreOptions};
use medocr::sla::load_profiles;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EngineKind {
    /// The built-in Burn OCR model (models/builtin, or --model).
    Builtin,
    /// Tesseract 5 (`kor+eng`), the baseline.
    Tesseract,
    /// Predictions from a JSONL file (needs --predictions).
    Replay,
}

/// Options shared by `run` and `score`.
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// Dataset folder (holding manifest.jsonl) or manifest path.
    #[arg(long, default_value = "datasets/bundled")]
    pub dataset: PathBuf,
    /// Folder of SLA profiles (<doc_type>.toml).
    #[arg(long, default_value = "profiles")]
    pub profiles: PathBuf,
    /// Folder that receives the run folder <out>/<run-id>/.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Name of the run folder (default: <UTC time>-<engine>).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Only these document types (comma-separated: prescription, lab_result, diagnosis,
    /// discharge_summary, medical_record).
    #[arg(long, value_delimiter = ',')]
    pub types: Vec<DocType>,
    /// Only the first N documents (after --types).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Fold full-width ASCII (ＡＢＣ１２３) to ASCII before scoring.
    #[arg(long)]
    pub fold_width: bool,
    /// Drug formulary CSV (edi_code,product,ingredient,strength,unit,form), e.g. the
    /// national drug master file; default: the bundled sample.
    #[arg(long)]
    pub formulary: Option<PathBuf>,
    /// Diagnosis code list CSV (code,name), e.g. the full KCD; default: the bundled sample.
    #[arg(long)]
    pub codes: Option<PathBuf>,
    /// Quote patient names and identifiers in error examples instead of masking them.
    #[arg(long)]
    pub show_phi: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// OCR engine.
    #[arg(long, value_enum, default_value = "builtin")]
    pub engine: EngineKind,
    /// Model folder for --engine builtin (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Device for the built-in model: cpu, or cuda[:N] (needs a build with --features cuda).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Line segments per batched forward pass of the built-in model.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Predictions file for --engine replay.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Render DPIs (comma-separated). Any positive value within the pixel budget.
    #[arg(long, value_delimiter = ',', default_value = "300")]
    pub dpi: Vec<f32>,
    /// Largest page in pixels (width × height) rendering may produce.
    #[arg(long, default_value_t = 120_000_000)]
    pub max_pixels: u64,
    /// Per-page time limit for external engines, in seconds.
    #[arg(long, default_value_t = 120.0)]
    pub timeout: f64,
    /// Tesseract language packs.
    #[arg(long, default_value = "kor+eng")]
    pub tesseract_langs: String,
    /// Tesseract page segmentation mode (4 reads these forms best; see docs/engines.md).
    #[arg(long, default_value_t = 4)]
    pub tesseract_psm: u32,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// JSONL of {"id": ..., "text": ...} predictions (e.g. a run's predictions.jsonl).
    #[arg(long)]
    pub predictions: PathBuf,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    for &d in &args.dpi {
        if !(d.is_finite() && d > 0.0 && d <= 2400.0) {
            bail!("--dpi {d}: a DPI must be a positive number up to 2400 (72, 150, 300, 600 are typical)");
        }
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        bail!(
            "--timeout {}: must be a positive number of seconds",
            args.timeout
        );
    }
    let mut engine: Box<dyn Engine> = match args.engine {
        EngineKind::Builtin => {
            let dir = args
                .model
                .clone()
                .unwrap_or_else(BuiltinEngine::default_dir);
            let device = args.device.parse().context("--device")?;
            if args.batch == 0 {
                bail!("--batch must be at least 1");
            }
            let mut engine = BuiltinEngine::load(&dir, device)
                .with_context(|| format!("loading the built-in model from {}", dir.display()))?;
            engine.set_batch_size(args.batch);
            Box::new(engine)
        }
        EngineKind::Tesseract => Box::new(
            Tesseract::new(TesseractConfig {
                languages: args.tesseract_langs.clone(),
                psm: args.tesseract_psm,
                timeout: Duration::from_secs_f64(args.timeout),
                ..TesseractConfig::default()
            })
            .context("starting the tesseract engine")?,
        ),
        EngineKind::Replay => {
            let Some(p) = &args.predictions else {
                bail!("--engine replay needs --predictions <file.jsonl>");
            };
            Box::new(Replay::open(p)?)
        }
    };
    let options = RunOptions {
        dpis: args.dpi.clone(),
        max_pixels: args.max_pixels,
        score: score_options(&args.common),
        knowledge: knowledge(&args.common)?,
    };
    execute(&args.common, engine.as_mut(), &options)
}

pub fn score(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    let mut engine = Replay::open(&args.predictions)?;
    let options = RunOptions {
        score: score_options(&args.common),
        knowledge: knowledge(&args.common)?,
        ..RunOptions::default()
    };
    execute(&args.common, &mut engine, &options)
}

/// The shared body of `run` and `score`: load, run with a progress bar, report, verdict.
fn execute(
    common: &CommonArgs,
    engine: &mut dyn Engine,
    options: &RunOptions,
) -> anyhow::Result<ExitCode> {
    let profiles = load_profiles(&common.profiles)?;
    let dataset = load_manifest(&common.dataset)?;
    for issue in &dataset.issues {
        eprintln!(
            "{}: {issue}",
            if issue.rejected { "skipped" } else { "warning" }
        );
    }
    let mut docs: Vec<&Document> = dataset
        .documents
        .iter()
        .filter(|d| common.types.is_empty() || common.types.contains(&d.doc_type))
        .collect();
    if let Some(n) = common.limit {
        docs.truncate(n);
    }
    if docs.is_empty() {
        bail!(
            "no document of the requested types in {}",
            dataset.manifest.display()
        );
    }
    let info = engine.info();
    let started = chrono::Utc::now();
    let run_id = common
        .run_id
        .clone()
        .unwrap_or_else(|| format!("{}-{}", started.format("%Y%m%dT%H%M%SZ"), info.name));
    let run_dir = common.out.join(&run_id);

    let total = (docs.len() * options.dpis.len()) as u64;
    let bar = if common.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    let t0 = Instant::now();
    let results = pipeline::run(&dataset, &docs, engine, options, &mut |r| {
        bar.set_message(format!("{} @ {} DPI", r.id, r.dpi));
        if let Some(e) = &r.error {
            bar.suspend(|| eprintln!("error: {}: {e}", r.id));
        }
        bar.inc(1);
    });
    bar.finish_and_clear();
    let wall = t0.elapsed().as_secs_f64();

    let privacy = if common.show_phi {
        Privacy::ShowPhi
    } else {
        Privacy::Redacted
    };
    let (groups, verdicts, totals) = pipeline::summarize(&results, &profiles, wall, privacy);
    let summary = RunSummary {
        schema_version: SCHEMA_VERSION,
        run_id: run_id.clone(),
        started: started.to_rfc3339(),
        config: RunConfig {
            dataset: common.dataset.display().to_string(),
            manifest_sha256: dataset.manifest_sha256.clone(),
            dpis: options.dpis.clone(),
            max_pixels: options.max_pixels,
            engine: info,
            profiles: common.profiles.display().to_string(),
            profiles_sha256: profiles_hash(&common.profiles, profiles.keys().copied())?,
            fold_width: options.score.norm.fold_fullwidth,
            formulary: source_name(common.formulary.as_deref()),
            codes: source_name(common.codes.as_deref()),
            phi_shown: common.show_phi,
        },
        environment: Environment::detect(None),
        groups,
        verdicts,
        totals,
        manifest_issues: dataset.issues.clone(),
    };
    report::write_run(&run_dir, &summary, &results)?;
    print!("{}", report::console::table(&summary));
    println!("reports: {}", run_dir.display());
    Ok(if summary.any_failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn knowledge(common: &CommonArgs) -> anyhow::Result<Knowledge> {
    Ok(Knowledge::load(
        common.formulary.as_deref(),
        common.codes.as_deref(),
    )?)
}

fn source_name(path: Option<&Path>) -> String {
    path.map_or_else(|| "bundled".to_string(), |p| p.display().to_string())
}

fn score_options(common: &CommonArgs) -> ScoreOptions {
    ScoreOptions {
        norm: NormOptions {
            fold_fullwidth: common.fold_width,
        },
    }
}

fn profiles_hash(dir: &Path, types: impl Iterator<Item = DocType>) -> anyhow::Result<String> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for t in types {
        let p = dir.join(format!("{t}.toml"));
        h.update(std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?);
    }
    Ok(format!("{:x}", h.finalize()))
}
