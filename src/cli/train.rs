//! `medocr train`: trains the built-in model on line images rendered on the fly from the
//! generator's text. Re-running the same command resumes from the last checkpoint.

use anyhow::Context;
use clap::Args;
use medocr::model::train::{run, TrainEvent, TrainOptions};
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
            println!(
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
            println!(
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
        } => println!(
            "{} validation at step {step}: CER {:.2}% (best {:.2}%) on {lines} lines",
            now(),
            cer * 100.0,
            best_cer * 100.0
        ),
        TrainEvent::Checkpoint { step, path } => {
            println!("{} checkpoint at step {step}: {}", now(), path.display())
        }
        TrainEvent::Stopped { step, reason } => {
            println!("{} stopped at step {step}: {reason}", now())
        }
    })
    .with_context(|| format!("training in {}", args.run.display()))?;
    println!("done: {}", serde_json::to_string(&summary)?);
    Ok(ExitCode::SUCCESS)
}
