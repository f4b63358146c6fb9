//! `medocr serve`: the built-in model behind an OpenAI-compatible API.

use anyhow::Context;
use clap::Args;
use medocr::engine::builtin::BuiltinEngine;
use medocr::serve::{ServeConfig, Server};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (0.0.0.0 for every interface).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Model folder (default: $MEDOCR_MODEL_DIR, else models/builtin).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Device: cpu, or cuda[:N] (needs a build with --features cuda).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// The model name in /v1/models; requests must use it.
    #[arg(long, default_value = "medocr-builtin")]
    pub served_model_name: String,
    /// DPI of images that carry none (the openai engine sends it in the PNG's pHYs chunk;
    /// a request may also give a top-level "dpi").
    #[arg(long, default_value_t = 300.0)]
    pub dpi: f32,
    /// Most requests run together in one batch (those queued while the model was busy).
    #[arg(long, default_value_t = 8)]
    pub max_batch: usize,
    /// Line segments per batched forward pass of the model.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Largest image accepted, in pixels (checked before decoding).
    #[arg(long, default_value_t = 120_000_000)]
    pub max_pixels: u64,
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if !(args.dpi.is_finite() && args.dpi > 0.0 && args.dpi <= 2400.0) {
        anyhow::bail!(
            "--dpi {}: a DPI must be a positive number up to 2400",
            args.dpi
        );
    }
    if args.max_batch == 0 || args.batch == 0 {
        anyhow::bail!("--max-batch and --batch must be at least 1");
    }
    let dir = args.model.unwrap_or_else(BuiltinEngine::default_dir);
    let device = args.device.parse().context("--device")?;
    let mut engine = BuiltinEngine::load(&dir, device)
        .with_context(|| format!("loading the built-in model from {}", dir.display()))?;
    engine.set_batch_size(args.batch);
    let config = ServeConfig {
        model_name: args.served_model_name,
        default_dpi: args.dpi,
        max_batch: args.max_batch,
        max_pixels: args.max_pixels,
        ..ServeConfig::default()
    };
    let server = Server::bind((args.host.as_str(), args.port), Box::new(engine), config)?;
    // Scripts and tests read this line to learn the port.
    println!("listening on http://{}", server.local_addr());
    std::io::stdout().flush()?;
    server.run()?;
    Ok(ExitCode::SUCCESS)
}
