//! `medocr train`: trains the built-in model on line images rendered on the fly from the
//! generator's text. Re-running the same command resumes from the last checkpoint.

use super::out::{outln, progressln};
use anyhow::{bail, Context};
use clap::Args;
use medocr::dataset::load_manifest;
use medocr::model::page_crops::{build_bank, CropSource, LABELS};
use medocr::model::recognizer::{default_piece_width, Splitter};
use medocr::model::train::{run, TrainEvent, TrainOptions};
use medocr::model::weights::load_config;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Run folder: checkpoints, train log (log.jsonl), exported weights.
    #[arg(long, default_value = "checkpoints/builtin-v1")]
    pub run: PathBuf,
    /// Seed of the data stream and initialisation (a resumed run keeps its own).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Total optimizer steps of the learning-rate schedule.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Line images per step.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Peak learning rate (AdamW, linear warm-up then cosine decay).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Validate on held-out rendered lines every N steps.
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Write a resumable checkpoint every N steps.
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Fine-tune: start a new run from this model folder (e.g. models/builtin) instead of
    /// random weights. Ignored when the run folder already holds a checkpoint.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Linear warm-up steps of the learning-rate schedule.
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Stop cleanly (with a checkpoint) after this many minutes.
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Mix in crops cut from whole pages by the page pipeline (a bank from `medocr crops`)
    /// for 40 % of the lines. A resumed run keeps the bank it started with.
    #[arg(long)]
    pub page_crops: Option<PathBuf>,
}

pub fn train(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let d = TrainOptions::default();
    let options = TrainOptions {
        run_dir: args.run.clone(),
        seed: args.seed.unwrap_or(d.seed),
        steps: args.steps.unwrap_or(d.steps),
        batch_size: args.batch.unwrap_or(d.batch_size),
        peak_lr: args.lr.unwrap_or(d.peak_lr),
        eval_every: args.eval_every.unwrap_or(d.eval_every),
        checkpoint_every: args.checkpoint_every.unwrap_or(d.checkpoint_every),
        max_minutes: args.max_minutes.or(d.max_minutes),
        warmup_steps: args.warmup.unwrap_or(d.warmup_steps),
        init_from: args.init.clone(),
        page_crops: args.page_crops.clone(),
        ..d
    };
    let now = || chrono::Utc::now().format("%Y-%m-%d %H:%M:%S");
    let summary = run(&options, &mut |ev| match ev {
        TrainEvent::Started {
            step,
            resumed,
            params,
            ..
        } => {
            progressln!(
                "{} started at step {step} (resumed: {resumed}), {params} parameters",
                now()
            )
        }
        TrainEvent::Step {
            step,
            loss,
            lr,
            secs_per_step,
            ..
        } => {
            progressln!(
                "{} step {step:6} loss {loss:.4} lr {lr:.2e} {secs_per_step:.2} s/step",
                now()
            )
        }
        TrainEvent::Validation {
            step,
            cer,
            best_cer,
            lines,
            ..
        } => progressln!(
            "{} validation at step {step}: CER {:.2}% (best {:.2}%) on {lines} lines",
            now(),
            cer * 100.0,
            best_cer * 100.0
        ),
        TrainEvent::Checkpoint { step, path } => {
            progressln!("{} checkpoint at step {step}: {}", now(), path.display())
        }
        TrainEvent::Stopped { step, reason } => {
            progressln!("{} stopped at step {step}: {reason}", now())
        }
    })
    .with_context(|| format!("training in {}", args.run.display()))?;
    outln!("done: {}", serde_json::to_string(&summary)?);
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct CropsArgs {
    /// A generated dataset whose documents are PDFs with a text layer (e.g. `medocr gen
    /// --toolchain chromium --fonts training`): the text layer labels the crops.
    #[arg(long)]
    pub dataset: PathBuf,
    /// Bank folder to write: crops/*.png and labels.jsonl.
    #[arg(long)]
    pub out: PathBuf,
    /// Page sources, comma-separated: pdf<DPI> (the PDF rendered at that DPI), fax, photo,
    /// scan.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "pdf150,pdf300,fax,photo,scan"
    )]
    pub sources: Vec<CropSource>,
    /// Seed of the image variants.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The model whose input the crops are cut for (its line height and piece width);
    /// default: the built-in model (models/builtin, or MEDOCR_MODEL_DIR), as `medocr run`.
    #[arg(long)]
    pub model: Option<PathBuf>,
}

pub fn crops(args: CropsArgs) -> anyhow::Result<ExitCode> {
    let manifest = args.dataset.join("manifest.jsonl");
    let dataset = load_manifest(&manifest)
        .with_context(|| format!("--dataset {}: reading its manifest", args.dataset.display()))?;
    let pdfs: Vec<(String, PathBuf)> = dataset
        .documents
        .iter()
        .filter(|d| d.is_pdf())
        .map(|d| (d.id.clone(), dataset.source_path(d)))
        .collect();
    if pdfs.is_empty() {
        bail!(
            "--dataset {}: no PDF documents (the crops are labelled from a PDF's text layer); generate one with `medocr gen --toolchain chromium --fonts training`",
            args.dataset.display()
        );
    }
    if args.out.join(LABELS).exists() {
        bail!(
            "--out {} already holds a bank; choose a new folder",
            args.out.display()
        );
    }
    let model = args
        .model
        .clone()
        .unwrap_or_else(medocr::engine::builtin::BuiltinEngine::default_dir);
    let config = load_config(&model.join("config.json"))
        .with_context(|| format!("--model {}", model.display()))?;
    let splitter = Splitter {
        max_piece_width: default_piece_width(&config),
        line_height: config.line_height,
    };
    let summary = build_bank(
        &pdfs,
        &args.sources,
        args.seed,
        &splitter,
        &args.out,
        &mut |id, s| {
            progressln!(
                "{id}: {} pieces, {} with text, {} empty, {} ambiguous (skipped)",
                s.pieces, s.text, s.empty, s.ambiguous
            )
        },
    )
    .with_context(|| format!("cutting crops into {}", args.out.display()))?;
    let s = summary.stats;
    outln!(
        "{} crops from {} pages ({} documents) in {}: {} with text, {} empty, {} ambiguous pieces skipped ({:.1} %)",
        summary.crops,
        summary.pages,
        pdfs.len(),
        args.out.display(),
        s.text,
        s.empty,
        s.ambiguous,
        100.0 * s.ambiguous as f64 / s.pieces.max(1) as f64
    );
    Ok(ExitCode::SUCCESS)
}
