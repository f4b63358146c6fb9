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
use medocr::sla::{load_profiles, Status};
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
    #[command(flatten)]
    pub engine_args: EngineArgs,
    /// Render DPIs (comma-separated). Any positive value within the pixel budget.
    #[arg(long, value_delimiter = ',', default_value = "300")]
    pub dpi: Vec<f32>,
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// OCR engines (comma-separated); every page is rendered once per DPI and read by each.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "builtin")]
    pub engines: Vec<EngineKind>,
    #[command(flatten)]
    pub engine_args: EngineArgs,
    /// Render DPIs (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "72,150,300,600")]
    pub dpi: Vec<f32>,
}

/// How engines are set up (shared by `run` and `dpi-sweep`).
#[derive(Args, Debug)]
pub struct EngineArgs {
    /// Model folder for the built-in engine (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Device for the built-in model: cpu, or cuda[:N] (needs a build with --features cuda).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Line segments per batched forward pass of the built-in model.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Predictions file for the replay engine.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
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
    validate_dpis(&args.dpi)?;
    let engine = build_engine(args.engine, &args.engine_args)?;
    let options = RunOptions {
        dpis: args.dpi.clone(),
        max_pixels: args.engine_args.max_pixels,
        score: score_options(&args.common),
        knowledge: knowledge(&args.common)?,
    };
    let summaries = execute(&args.common, vec![engine], &options)?;
    Ok(exit_code(summaries.iter().any(RunSummary::any_failed)))
}

/// `dpi-sweep`: every engine at every DPI on identical renders; the exit code says
/// whether every document type found a DPI that meets its SLA.
pub fn dpi_sweep(args: SweepArgs) -> anyhow::Result<ExitCode> {
    validate_dpis(&args.dpi)?;
    if args.dpi.len() < 2 {
        bail!("--dpi needs at least two DPIs for a sweep (default 72,150,300,600)");
    }
    let engines = args
        .engines
        .iter()
        .map(|&k| build_engine(k, &args.engine_args))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let options = RunOptions {
        dpis: args.dpi.clone(),
        max_pixels: args.engine_args.max_pixels,
        score: score_options(&args.common),
        knowledge: knowledge(&args.common)?,
    };
    let summaries = execute(&args.common, engines, &options)?;
    let unmet = summaries.iter().any(|s| {
        s.dpi_study.iter().any(|t| t.recommended_dpi.is_none())
            && s.verdicts
                .iter()
                .any(|v| v.verdict.status != Status::NotMeasured)
    });
    Ok(exit_code(unmet))
}

fn exit_code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn validate_dpis(dpis: &[f32]) -> anyhow::Result<()> {
    for &d in dpis {
        if !(d.is_finite() && d > 0.0 && d <= 2400.0) {
            bail!("--dpi {d}: a DPI must be a positive number up to 2400 (72, 150, 300, 600 are typical)");
        }
    }
    Ok(())
}

fn build_engine(kind: EngineKind, args: &EngineArgs) -> anyhow::Result<Box<dyn Engine>> {
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        bail!(
            "--timeout {}: must be a positive number of seconds",
            args.timeout
        );
    }
    Ok(match kind {
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
    })
}

pub fn score(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    let engine: Box<dyn Engine> = Box::new(Replay::open(&args.predictions)?);
    let options = RunOptions {
        score: score_options(&args.common),
        knowledge: knowledge(&args.common)?,
        ..RunOptions::default()
    };
    let summaries = execute(&args.common, vec![engine], &options)?;
    Ok(exit_code(summaries.iter().any(RunSummary::any_failed)))
}

/// The shared body of `run`, `score` and `dpi-sweep`: load, run every engine with a
/// progress bar, then one run folder, console table and verdict per engine.
fn execute(
    common: &CommonArgs,
    mut engines: Vec<Box<dyn Engine>>,
    options: &RunOptions,
) -> anyhow::Result<Vec<RunSummary>> {
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
    let infos: Vec<_> = engines.iter().map(|e| e.info()).collect();
    let started = chrono::Utc::now();
    let base_id = common
        .run_id
        .clone()
        .unwrap_or_else(|| started.format("%Y%m%dT%H%M%SZ").to_string());

    let total = (docs.len() * options.dpis.len() * engines.len()) as u64;
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
    let n_engines = engines.len();
    let mut refs: Vec<&mut dyn Engine> = engines
        .iter_mut()
        .map(|e| -> &mut dyn Engine { e.as_mut() })
        .collect();
    let results = pipeline::run_engines(&dataset, &docs, &mut refs, options, &mut |i, r| {
        bar.set_message(format!("{} {} @ {} DPI", infos[i].name, r.id, r.dpi));
        if let Some(e) = &r.error {
            bar.suspend(|| eprintln!("error: {} on {}: {e}", infos[i].name, r.id));
        }
        bar.inc(1);
    });
    bar.finish_and_clear();
    // With several engines sharing the clock, each engine's wall time is its own busy time.
    let wall = t0.elapsed().as_secs_f64();

    let privacy = if common.show_phi {
        Privacy::ShowPhi
    } else {
        Privacy::Redacted
    };
    let profiles_sha256 = profiles_hash(&common.profiles, profiles.keys().copied())?;
    let mut summaries = Vec::new();
    for (info, results) in infos.into_iter().zip(results) {
        let run_id = match (&common.run_id, n_engines) {
            (Some(id), 1) => id.clone(),
            _ => format!("{base_id}-{}", info.name),
        };
        let run_dir = common.out.join(&run_id);
        let wall_s = if n_engines == 1 {
            wall
        } else {
            results.iter().filter_map(|r| r.timing.e2e_ms).sum::<f64>() / 1e3
        };
        let (groups, verdicts, totals) = pipeline::summarize(&results, &profiles, wall_s, privacy);
        let dpi_study = pipeline::dpi_study(&groups, &verdicts);
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
                profiles_sha256: profiles_sha256.clone(),
                fold_width: options.score.norm.fold_fullwidth,
                formulary: source_name(common.formulary.as_deref()),
                codes: source_name(common.codes.as_deref()),
                phi_shown: common.show_phi,
            },
            environment: Environment::detect(None),
            groups,
            verdicts,
            dpi_study,
            totals,
            manifest_issues: dataset.issues.clone(),
        };
        report::write_run(&run_dir, &summary, &results)?;
        if n_engines > 1 {
            println!("\n== {}", summary.config.engine.name);
        }
        print!("{}", report::console::table(&summary));
        if !summary.dpi_study.is_empty() {
            print!("\n{}", report::console::dpi_study(&summary));
        }
        println!("reports: {}", run_dir.display());
        summaries.push(summary);
    }
    Ok(summaries)
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
