//! Command-line definitions (clap) and the dispatch to each command.

pub(crate) mod out;

mod bench;
mod compare;
mod doctor;
mod export;
mod gen;
mod merge;
mod progress;
mod roofline;
mod run;
mod serve;
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
    /// DPI trade-off study: every engine at every DPI (default 72,150,300,600) on pages
    /// rendered once; per document type the lowest DPI meeting the SLA and the Pareto front
    /// (exit code 1 when a type has no DPI meeting its SLA).
    DpiSweep(run::SweepArgs),
    /// Generate a synthetic dataset of Korean medical documents with exact ground truth.
    Gen(gen::GenArgs),
    /// Train the built-in OCR model (resumes from the last checkpoint of --run).
    Train(train::TrainArgs),
    /// Cut labelled training crops from a generated dataset's PDFs the way the page
    /// pipeline cuts them (as PDF renders, faxes, photos, scans): a bank for `train
    /// --page-crops`.
    Crops(train::CropsArgs),
    /// Release gate: compare a candidate run with a baseline run on the same documents
    /// (paired bootstrap CIs, non-inferiority margins; exit code 1 when a gate fails).
    Compare(compare::CompareArgs),
    /// Roofline estimates: arithmetic intensity, bound and decode/prefill tokens/s per
    /// device preset, precision and batch size (KV-cache traffic included).
    Roofline(roofline::RoofArgs),
    /// Benchmark scenarios on real engines: single, batch, sweep, load (open-loop arrivals),
    /// long (growing documents), soak; writes reports/<run-id>/bench.{json,csv,md} + SVGs
    /// (exit code 1 when a request failed or --p99-limit was met at no rate, 130 when
    /// interrupted: the partial report is kept).
    Bench(bench::BenchArgs),
    /// Serve the built-in model behind an OpenAI-compatible API (/v1/chat/completions with
    /// streaming, /v1/models, /health), batching concurrent requests.
    Serve(serve::ServeArgs),
    /// Combine the run folders of `medocr run --shard I/N` into one run folder whose
    /// reports equal an unsharded run's (exit code 1 when any SLA limit fails).
    Merge(merge::MergeArgs),
    /// Check the tools and files medocr uses (model, libpdfium, Tesseract, fonts, Chromium,
    /// GPU) and print the command that installs each missing one (exit code 1 when the
    /// default run cannot work).
    Doctor(doctor::DoctorArgs),
}

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Score(args) => run::score(args),
        Command::DpiSweep(args) => run::dpi_sweep(args),
        Command::Gen(args) => gen::gen(args),
        Command::Train(args) => train::train(args),
        Command::Crops(args) => train::crops(args),
        Command::Compare(args) => compare::compare(args),
        Command::Roofline(args) => roofline::roofline(args),
        Command::Bench(args) => bench::bench(args),
        Command::Serve(args) => serve::serve(args),
        Command::Merge(args) => merge::merge(args),
        Command::Doctor(args) => doctor::doctor(args),
    }
}
