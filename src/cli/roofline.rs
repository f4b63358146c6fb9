//! `medocr roofline`: roofline estimates of decode/prefill throughput per device,
//! precision and batch size.

use anyhow::{bail, Context};
use clap::Args;
use medocr::roofline::{self, Hardware, ModelSpec, Phase, Precision, RoofRow, Workload};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct RoofArgs {
    /// Hardware presets, comma-separated, or `all` (a100-80gb, h100-sxm, h200, l40s,
    /// rtx-4090, rtx-3090, rtx-3060). Peaks are dense FP16/BF16 tensor TFLOP/s.
    #[arg(long, default_value = "a100-80gb", value_delimiter = ',')]
    pub hardware: Vec<String>,
    /// Checkpoint folder (or config.json) to read the model shape from [default:
    /// models/builtin unless --params is given].
    #[arg(long, conflicts_with = "params")]
    pub model: Option<PathBuf>,
    /// Generic decoder-only model: total parameters (e.g. 7e9).
    #[arg(long)]
    pub params: Option<f64>,
    /// Generic model: decoder layers.
    #[arg(long, default_value_t = 32, requires = "params")]
    pub layers: usize,
    /// Generic model: hidden size.
    #[arg(long, default_value_t = 4096, requires = "params")]
    pub hidden: usize,
    /// Generic model: attention heads.
    #[arg(long, default_value_t = 32, requires = "params")]
    pub heads: usize,
    /// Generic model: KV heads [default: --heads].
    #[arg(long, requires = "params")]
    pub kv_heads: Option<usize>,
    /// Generic model: vocabulary size.
    #[arg(long, default_value_t = 32000, requires = "params")]
    pub vocab: usize,
    /// Batch sizes, comma-separated.
    #[arg(long, default_value = "1,8,32", value_delimiter = ',')]
    pub batch: Vec<usize>,
    /// Cached tokens per sequence (decode) or prompt length (prefill).
    #[arg(long, default_value_t = 512)]
    pub context: usize,
    /// Weight precisions, comma-separated (fp16, bf16, int8 = 1 B, int4 = 0.5 B per
    /// parameter; the KV cache stays 2 B).
    #[arg(long, default_value = "fp16,int8,int4", value_delimiter = ',')]
    pub precision: Vec<String>,
    /// Phases, comma-separated: decode, prefill.
    #[arg(long, default_value = "decode", value_delimiter = ',')]
    pub phase: Vec<String>,
    /// Ignore attention FLOPs and KV-cache traffic (weights only).
    #[arg(long)]
    pub no_kv: bool,
    /// Also measure this machine's CPU (f32 GEMM and array copy, about 1–2 s).
    #[arg(long)]
    pub measure_cpu: bool,
    /// Write the hardware, model and rows as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn roofline(args: RoofArgs) -> anyhow::Result<ExitCode> {
    let mut hardware: Vec<Hardware> = Vec::new();
    for key in &args.hardware {
        if key.trim().eq_ignore_ascii_case("all") {
            hardware.extend(roofline::presets());
        } else if !key.trim().is_empty() {
            hardware.push(roofline::preset(key)?);
        }
    }
    if args.measure_cpu {
        hardware.push(roofline::measure_cpu(Duration::from_millis(600)));
    }
    if hardware.is_empty() {
        bail!("no hardware: give --hardware or --measure-cpu");
    }
    let spec = match (args.params, &args.model) {
        (Some(p), _) => ModelSpec::generic(
            p,
            args.layers,
            args.hidden,
            args.heads,
            args.kv_heads.unwrap_or(args.heads),
            args.vocab,
        )?,
        (None, model) => {
            let path = model
                .clone()
                .unwrap_or_else(|| PathBuf::from("models/builtin"));
            ModelSpec::from_checkpoint(&path)
                .with_context(|| format!("reading the model spec from {}", path.display()))?
        }
    };
    let precisions = args
        .precision
        .iter()
        .map(|p| Precision::parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut phases = Vec::new();
    for p in &args.phase {
        phases.push(match p.trim().to_ascii_lowercase().as_str() {
            "decode" => Phase::Decode,
            "prefill" => Phase::Prefill,
            other => bail!("unknown phase `{other}` (known: decode, prefill)"),
        });
    }
    if args.batch.is_empty() || args.batch.contains(&0) {
        bail!("--batch needs positive batch sizes");
    }

    let mut rows: Vec<RoofRow> = Vec::new();
    for hw in &hardware {
        for &precision in &precisions {
            for &phase in &phases {
                for &batch in &args.batch {
                    let w = Workload {
                        phase,
                        precision,
                        batch,
                        context: args.context,
                        kv: !args.no_kv,
                    };
                    rows.push(roofline::analyze(hw, &spec, &w));
                }
            }
        }
    }

    println!(
        "model {}: {:.4} B params ({:.4} B per decode step), {} layers, hidden {}, {} heads / {} KV heads, vocab {}",
        spec.name,
        spec.params / 1e9,
        spec.step_params / 1e9,
        spec.layers,
        spec.hidden,
        spec.heads,
        spec.kv_heads,
        spec.vocab
    );
    for hw in &hardware {
        println!(
            "{:<10} {}: {:.3} TFLOP/s, {:.0} GB/s, ridge {:.1} FLOP/B ({})",
            hw.key,
            hw.name,
            hw.peak_tflops,
            hw.bandwidth_gbs,
            hw.ridge_point(),
            hw.source
        );
    }
    println!(
        "context {} tokens, KV traffic {}\n",
        args.context,
        if args.no_kv { "ignored" } else { "counted" }
    );
    println!(
        "{:<10} {:<5} {:<7} {:>5} {:>10} {:>11} {:<7} {:>13} {:>11}",
        "hardware",
        "prec",
        "phase",
        "B",
        "AI FLOP/B",
        "att TFLOP/s",
        "bound",
        "est tokens/s",
        "step ms"
    );
    for r in &rows {
        println!(
            "{:<10} {:<5} {:<7} {:>5} {:>10.2} {:>11.3} {:<7} {:>13.1} {:>11.4}",
            r.hardware,
            r.precision.name(),
            r.phase.name(),
            r.batch,
            r.intensity,
            r.attainable_tflops,
            match r.bound {
                roofline::Bound::Memory => "memory",
                roofline::Bound::Compute => "compute",
            },
            r.tokens_per_s,
            r.step_ms
        );
    }
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "model": spec,
            "hardware": hardware,
            "context": args.context,
            "kv": !args.no_kv,
            "rows": rows,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("\nwrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
