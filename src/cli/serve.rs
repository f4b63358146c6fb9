//! `medocr serve`: the built-in model behind an OpenAI-compatible API.

use super::out::outln;
use anyhow::Context;
use clap::Args;
use medocr::engine::spec::check_batch;
use medocr::engine::EngineSpec;
use medocr::render::Dpi;
use medocr::serve::batcher::Batching;
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
    /// Model folder (default: $MEDOCR_MODEL, else models/builtin here, in the data folder or beside the binary; `medocr doctor` shows where).
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
    #[arg(long, default_value = "300")]
    pub dpi: Dpi,
    /// Most requests in flight together (continuous batching), or run as one batch (static:
    /// those queued while the model was busy).
    #[arg(long, default_value_t = 8)]
    pub max_batch: usize,
    /// Line segments per batched forward pass of the model.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// MiB of line-crop encodings kept for reuse: a crop seen before (a page sent again, the
    /// labels of one form template) skips the encoder. Reported as usage
    /// `prompt_tokens_details.cached_tokens` and `medocr:prefix_cache_*` in /metrics. 0 turns
    /// it off.
    #[arg(long, default_value_t = 256)]
    pub prefix_cache_mib: usize,
    /// static: a batch of requests runs to its end before the next starts (best end-to-end
    /// latency on a CPU); continuous: requests join the running decode batch at the next
    /// step and leave when read (iteration-level batching: first tokens sooner for a request
    /// that arrives during a long batch; docs/serve.md has the measured trade-off).
    #[arg(long, value_enum, default_value = "static")]
    pub batching: Batching,
    /// Continuous batching: most encoder tokens (line-crop positions) encoded per decode step
    /// for pieces about to join, bounding how long one step can take.
    #[arg(long, default_value_t = medocr::serve::DEFAULT_STEP_TOKENS)]
    pub max_step_tokens: usize,
    /// Largest image accepted, in pixels (checked before decoding).
    #[arg(long, default_value_t = 120_000_000)]
    pub max_pixels: u64,
    /// Most images (pages) in one request.
    #[arg(long, default_value_t = 64)]
    pub max_images: usize,
    /// Most pixels of all images of one request together (checked before decoding; the
    /// default holds 27 A4 pages at 300 DPI).
    #[arg(long, default_value_t = 240_000_000)]
    pub max_request_pixels: u64,
    /// Largest request body, in MiB.
    #[arg(long, default_value_t = 64)]
    pub max_body_mib: u64,
    /// Memory for request bodies being read and decoded pages in flight, over all
    /// requests, in MiB; a request that would go over it is answered 503 + Retry-After.
    #[arg(long, default_value_t = 2048)]
    pub memory_budget_mib: u64,
    /// Most requests waiting for the model; more are answered 503 + Retry-After.
    #[arg(long, default_value_t = 64)]
    pub max_queue: usize,
    /// Most open connections; more are answered 503 and closed.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds a client has to send a request's head; also how long a kept-alive
    /// connection may stay idle.
    #[arg(long, default_value_t = 20.0)]
    pub header_timeout: f64,
    /// Seconds a client has to send a request's body.
    #[arg(long, default_value_t = 60.0)]
    pub body_timeout: f64,
    /// Seconds one write may stall on a client that does not read (its connection is then
    /// closed and its request dropped from the batch).
    #[arg(long, default_value_t = 30.0)]
    pub write_timeout: f64,
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    check_batch(args.batch)?;
    if !(1..=256).contains(&args.max_batch) {
        anyhow::bail!(
            "--max-batch {}: must be from 1 to 256 requests in flight (continuous) or per batch (static) (default 8)",
            args.max_batch
        );
    }
    for (flag, v) in [
        ("--max-images", args.max_images as u64),
        ("--max-request-pixels", args.max_request_pixels),
        ("--max-pixels", args.max_pixels),
        ("--max-body-mib", args.max_body_mib),
        ("--memory-budget-mib", args.memory_budget_mib),
        ("--max-queue", args.max_queue as u64),
        ("--max-connections", args.max_connections as u64),
        ("--max-step-tokens", args.max_step_tokens as u64),
    ] {
        if v == 0 {
            anyhow::bail!("{flag} must be at least 1");
        }
    }
    if args.memory_budget_mib < 2 * args.max_body_mib {
        anyhow::bail!(
            "--memory-budget-mib {} is below twice --max-body-mib {}: a body counts twice (its bytes and the parsed request), so no request of the largest size could be read",
            args.memory_budget_mib,
            args.max_body_mib
        );
    }
    let seconds = |flag: &str, v: f64| {
        if v.is_finite() && v > 0.0 && v <= 86_400.0 {
            Ok(std::time::Duration::from_secs_f64(v))
        } else {
            Err(anyhow::anyhow!(
                "{flag} {v}: must be a positive number of seconds (at most 86400)"
            ))
        }
    };
    let mut spec = EngineSpec::builtin(args.model, args.device, args.batch);
    spec.prefix_cache_mib = args.prefix_cache_mib;
    let engine = spec.builtin_engine()?;
    let config = ServeConfig {
        model_name: args.served_model_name,
        default_dpi: args.dpi.get(),
        batching: args.batching,
        max_batch: args.max_batch,
        step: medocr::engine::StepLimits {
            rows: args.batch,
            step_tokens: args.max_step_tokens,
        },
        max_pixels: args.max_pixels,
        max_images: args.max_images,
        max_request_pixels: args.max_request_pixels,
        max_body_bytes: usize::try_from(args.max_body_mib << 20).context("--max-body-mib")?,
        memory_budget_bytes: args.memory_budget_mib << 20,
        max_queue: args.max_queue,
        max_connections: args.max_connections,
        header_timeout: seconds("--header-timeout", args.header_timeout)?,
        body_timeout: seconds("--body-timeout", args.body_timeout)?,
        write_timeout: seconds("--write-timeout", args.write_timeout)?,
    };
    let server = Server::bind((args.host.as_str(), args.port), Box::new(engine), config)?;
    // Scripts and tests read this line to learn the port.
    outln!("listening on http://{}", server.local_addr());
    std::io::stdout().flush()?;
    server.run()?;
    Ok(ExitCode::SUCCESS)
}
