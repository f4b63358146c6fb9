//! `medocr gen`: a synthetic dataset of Korean medical documents.

use anyhow::Context;
use clap::Args;
use medocr::dataset::synth::{generate, GenOptions};
use medocr::dataset::DocType;
use medocr::render::{PdfRenderer, RenderConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct GenArgs {
    /// Output folder (created); receives <id>.pdf, scans and manifest.jsonl.
    #[arg(long)]
    pub out: PathBuf,
    /// Documents per type.
    #[arg(long, default_value_t = 4)]
    pub count: usize,
    /// Document types (comma-separated; default: all five).
    #[arg(long, value_delimiter = ',')]
    pub types: Vec<DocType>,
    /// Seed: the same seed gives byte-identical files.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write a degraded JPEG "scan" (skew, blur, noise, JPEG) of every one-page document.
    #[arg(long)]
    pub scans: bool,
    /// Resolution of the scans.
    #[arg(long, default_value_t = 200.0)]
    pub scan_dpi: f32,
    /// Folder searched for the Korean fonts (Debian's fonts-nanum, fonts-unfonts-core, fonts-baekmuk).
    #[arg(long, default_value = "/usr/share/fonts/truetype")]
    pub font_dir: PathBuf,
}

pub fn gen(args: GenArgs) -> anyhow::Result<ExitCode> {
    let opts = GenOptions {
        count_per_type: args.count,
        types: if args.types.is_empty() {
            DocType::ALL.to_vec()
        } else {
            args.types.clone()
        },
        seed: args.seed,
        scans: args.scans,
        scan_dpi: args.scan_dpi,
        font_dir: args.font_dir.clone(),
    };
    let rasterise = |path: &Path, dpi: f32| -> Result<Vec<image::GrayImage>, String> {
        let renderer = PdfRenderer::global().map_err(|e| e.to_string())?;
        let config = RenderConfig {
            dpi,
            ..RenderConfig::default()
        };
        renderer
            .render(path, &config)
            .map(|pages| pages.into_iter().map(|p| p.image).collect())
            .map_err(|e| e.to_string())
    };
    let summary = generate(&opts, &args.out, args.scans.then_some(&rasterise as _))
        .with_context(|| format!("generating into {}", args.out.display()))?;
    println!(
        "wrote {} documents ({} PDFs, {} scans, {} pages, {:.1} MB) and {}",
        summary.documents.len(),
        summary.pdfs,
        summary.scans,
        summary.pages,
        summary.bytes as f64 / 1e6,
        summary.manifest.display()
    );
    Ok(ExitCode::SUCCESS)
}
