//! `medocr gen`: a synthetic dataset of Korean medical documents, from the built-in PDF
//! writer (`--toolchain pdf`) or as HTML printouts through headless Chromium
//! (`--toolchain chromium`), or both at release size (`--preset release`).

use super::out::outln;
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use medocr::dataset::print::{self, FontChoice, PrintOptions};
use medocr::dataset::release::{self, ReleaseOptions};
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

/// A fixed recipe for a whole dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// ≥ 50 documents per type over both toolchains: per type 25 PDF documents and 25
    /// Chromium printouts, each printout also as fax, photo and scan (125 manifest entries).
    Release,
}

#[derive(Args, Debug)]
pub struct GenArgs {
    /// Output folder (created); receives <id>.pdf, scans or variants, and manifest.jsonl.
    #[arg(long)]
    pub out: PathBuf,
    /// A fixed recipe: `release` makes 50 distinct documents per type from both
    /// toolchains into one manifest (docs/generator.md). It fixes --count, --toolchain,
    /// --scans and --variants; --types, --seed, --fonts, --jobs and --font-dir still apply.
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Documents per type [default: 4].
    #[arg(long)]
    pub count: Option<usize>,
    /// Document types (comma-separated; default: all five).
    #[arg(long, value_delimiter = ',')]
    pub types: Vec<DocType>,
    /// Seed: the same seed gives the same documents (with --toolchain pdf, byte-identical files).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The document toolchain [default: pdf].
    #[arg(long, value_enum)]
    pub toolchain: Option<Toolchain>,
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

/// Documents per type without --count.
const DEFAULT_COUNT: usize = 4;

pub fn gen(args: GenArgs) -> anyhow::Result<ExitCode> {
    let types = if args.types.is_empty() {
        DocType::ALL.to_vec()
    } else {
        args.types.clone()
    };
    if let Some(Preset::Release) = args.preset {
        return gen_release(&args, types);
    }
    let count = args.count.unwrap_or(DEFAULT_COUNT);
    match args.toolchain.unwrap_or(Toolchain::Pdf) {
        Toolchain::Pdf => {
            if !args.variants.is_empty() || args.fonts.is_some() {
                bail!("--variants and --fonts belong to --toolchain chromium; the pdf toolchain has --scans");
            }
            let opts = GenOptions {
                count_per_type: count,
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
                count_per_type: count,
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

/// `--preset release`: refuses the flags the preset fixes, then writes both sources and
/// one manifest.
fn gen_release(args: &GenArgs, types: Vec<DocType>) -> anyhow::Result<ExitCode> {
    let fixed = [
        ("--count", args.count.is_some()),
        ("--toolchain", args.toolchain.is_some()),
        ("--scans", args.scans),
        ("--scan-dpi", args.scan_dpi.is_some()),
        ("--variants", !args.variants.is_empty()),
    ];
    let given: Vec<&str> = fixed.iter().filter(|f| f.1).map(|f| f.0).collect();
    if !given.is_empty() {
        bail!(
            "{} cannot be combined with --preset release: the preset fixes them ({} PDF documents and {} Chromium printouts per type, each printout also as fax, photo and scan); drop them, or drop --preset for a custom dataset",
            given.join(", "),
            release::RELEASE_PDF_PER_TYPE,
            release::RELEASE_PRINTED_PER_TYPE
        );
    }
    let opts = ReleaseOptions {
        fonts: args.fonts.unwrap_or_default(),
        font_dir: args.font_dir.clone(),
        jobs: args.jobs,
        ..ReleaseOptions::release(types, args.seed)
    };
    let t0 = std::time::Instant::now();
    let summary = release::generate(&opts, &args.out, &rasterise)
        .with_context(|| format!("generating the release dataset into {}", args.out.display()))?;
    outln!(
        "wrote {} manifest entries ({} distinct documents per type over pdf/ and printed/, {} pages, {:.1} MB) in {:.0} s and {}",
        summary.documents.len(),
        opts.distinct_per_type(),
        summary.pages,
        summary.bytes as f64 / 1e6,
        t0.elapsed().as_secs_f64(),
        summary.manifest.display()
    );
    Ok(ExitCode::SUCCESS)
}
