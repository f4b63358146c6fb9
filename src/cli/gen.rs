//! `medocr gen`: a synthetic dataset of Korean medical documents, from the built-in PDF
//! writer (`--toolchain pdf`) or as HTML printouts through headless Chromium
//! (`--toolchain chromium`).

use super::out::outln;
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use medocr::dataset::print::{self, FontChoice, PrintOptions};
use medocr::dataset::synth::{generate, GenOptions};
use medocr::dataset::variants::VariantKind;
use medocr::dataset::DocType;
use medocr::render::rasterise;
use std::path::PathBuf;
use std::process::ExitCode;

/// Which document toolchain writes the PDFs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Toolchain {
    /// The built-in PDF writer (forms laid out by medocr; byte-identical per seed).
    Pdf,
    /// HTML + CSS hospital printouts printed by headless Chromium, with image variants.
    Chromium,
}

#[derive(Args, Debug)]
pub struct GenArgs {
    /// Output folder (created); receives <id>.pdf, scans or variants, and manifest.jsonl.
    #[arg(long)]
    pub out: PathBuf,
    /// Documents per type.
    #[arg(long, default_value_t = 4)]
    pub count: usize,
    /// Document types (comma-separated; default: all five).
    #[arg(long, value_delimiter = ',')]
    pub types: Vec<DocType>,
    /// Seed: the same seed gives the same documents (with --toolchain pdf, byte-identical files).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The document toolchain.
    #[arg(long, value_enum, default_value_t = Toolchain::Pdf)]
    pub toolchain: Toolchain,
    /// (pdf) Also write a degraded JPEG "scan" (skew, blur, noise, JPEG) of every one-page document.
    #[arg(long)]
    pub scans: bool,
    /// (pdf) Resolution of the scans.
    #[arg(long)]
    pub scan_dpi: Option<f32>,
    /// (chromium) Image variants of every page, comma-separated: fax, photo, scan.
    #[arg(long, value_delimiter = ',')]
    pub variants: Vec<VariantKind>,
    /// (chromium) Font families: held-out (never trained on) or training.
    #[arg(long)]
    pub fonts: Option<FontChoice>,
    /// (chromium) Browsers printing at once.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Folder searched for the Korean fonts (Debian's fonts-nanum, fonts-unfonts-core, fonts-baekmuk, ...).
    #[arg(long, default_value = "/usr/share/fonts/truetype")]
    pub font_dir: PathBuf,
}

pub fn gen(args: GenArgs) -> anyhow::Result<ExitCode> {
    let types = if args.types.is_empty() {
        DocType::ALL.to_vec()
    } else {
        args.types.clone()
    };
    match args.toolchain {
        Toolchain::Pdf => {
            if !args.variants.is_empty() || args.fonts.is_some() {
                bail!("--variants and --fonts belong to --toolchain chromium; the pdf toolchain has --scans");
            }
            let opts = GenOptions {
                count_per_type: args.count,
                types,
                seed: args.seed,
                scans: args.scans,
                scan_dpi: args.scan_dpi.unwrap_or(200.0),
                font_dir: args.font_dir.clone(),
            };
            let summary = generate(&opts, &args.out, args.scans.then_some(&rasterise as _))
                .with_context(|| format!("generating into {}", args.out.display()))?;
            outln!(
                "wrote {} documents ({} PDFs, {} scans, {} pages, {:.1} MB) and {}",
                summary.documents.len(),
                summary.pdfs,
                summary.scans,
                summary.pages,
                summary.bytes as f64 / 1e6,
                summary.manifest.display()
            );
        }
        Toolchain::Chromium => {
            if args.scans || args.scan_dpi.is_some() {
                bail!("--scans and --scan-dpi belong to --toolchain pdf; with chromium ask for --variants scan (300 DPI)");
            }
            let opts = PrintOptions {
                count_per_type: args.count,
                types,
                seed: args.seed,
                fonts: args.fonts.unwrap_or_default(),
                variants: args.variants.clone(),
                font_dir: args.font_dir.clone(),
                jobs: args.jobs,
            };
            let want_pages = !opts.variants.is_empty();
            let summary = print::generate(&opts, &args.out, want_pages.then_some(&rasterise as _))
                .with_context(|| format!("printing into {}", args.out.display()))?;
            let secs: Vec<f64> = summary.chromium.iter().map(|c| c.2.as_secs_f64()).collect();
            let mean = secs.iter().sum::<f64>() / secs.len().max(1) as f64;
            let max = secs.iter().cloned().fold(0.0, f64::max);
            outln!(
                "wrote {} documents ({} PDFs in {} fonts, {} pages, {} variant images, {:.1} MB) and {}",
                summary.documents.len(),
                summary.pdfs,
                opts.fonts,
                summary.pages,
                summary.variant_files,
                summary.bytes as f64 / 1e6,
                summary.manifest.display()
            );
            outln!(
                "Chromium: {mean:.2} s per document on average ({max:.2} s at most, {} at a time); every PDF's text layer matches its ground truth and embeds only the printout's fonts",
                opts.jobs
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
