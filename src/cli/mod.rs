//! Command-line definitions (clap) and the dispatch to each command.

mod gen;
mod run;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Validate OCR model releases on Korean medical documents: accuracy (CER, WER, critical
/// fields), latency (TTFT, TPOT, E2E) and an SLA verdict per document type.
#[derive(Parser, Debug)]
#[command(name = "medocr", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run an engine over a dataset at one or more DPIs, score it, check the SLA profiles
    /// and write reports/<run-id>/ (exit code 1 when any SLA limit fails).
    Run(run::RunArgs),
    /// Score predictions produced elsewhere (a JSONL of {"id", "text"}) against a dataset.
    Score(run::ScoreArgs),
    /// Generate a synthetic dataset of Korean medical documents with exact ground truth.
    Gen(gen::GenArgs),
    /// Train the built-in OCR model (resumes from the last checkpoint of --run).
    Train(train::TrainArgs),
}

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Score(args) => run::score(args),
        Command::Gen(args) => gen::gen(args),
        Command::Train(args) => train::train(args),
    }
}
