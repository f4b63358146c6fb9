//! `medocr roofline`: roofline estimates of decode/prefill throughput per device,
//! precision and batch size.

use super::out::outln;
use anyhow::{bail, Context};
use clap::Args;
use medocr::bench::BenchReport;
use medocr::report::bench as export;
use medocr::report::chart::roofline as roof_chart;
use medocr::roofline::{self, Hardware, MeasuredPoint, ModelSpec, Phase, Precision, RoofRow};
use std::path::{Path, PathBuf};
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
    /// Cached tokens per sequence (decode) or prompt length (prefill) [default: 512; for
    /// --bench points 16, about half a text line of the built-in model].
    #[arg(long)]
    pub context: Option<usize>,
    /// Weight precisions, comma-separated (fp16, bf16, int8 = 1 B, int4 = 0.5 B per
    /// parameter; the KV cache stays 2 B).
    #[arg(long, default_value = "fp16,int8,int4", value_delimiter = ',')]
    pub precision: Vec<Precision>,
    /// Phases, comma-separated: decode, prefill.
    #[arg(long, default_value = "decode", value_delimiter = ',')]
    pub phase: Vec<Phase>,
    /// Ignore attention FLOPs and KV-cache traffic (weights only).
    #[arg(long)]
    pub no_kv: bool,
    /// Also measure this machine's CPU (f32 GEMM and array copy, about 1–2 s).
    #[arg(long)]
    pub measure_cpu: bool,
    /// Write the hardware, model and rows as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// A `medocr bench` result (bench.json): place its measurements on the roofline
    /// (achieved FLOP/s and bandwidth as fractions of the bound). A CPU bench is placed on
    /// this machine's measured CPU (--measure-cpu implied), a GPU bench on --hardware.
    #[arg(long)]
    pub bench: Option<PathBuf>,
    /// Decode batch of the bench points [default: the engine's line batch setting].
    #[arg(long, requires = "bench")]
    pub decode_batch: Option<usize>,
    /// Where the roofline chart with the bench points goes [default: roofline.svg next to
    /// bench.json].
    #[arg(long, requires = "bench")]
    pub svg: Option<PathBuf>,
}

pub fn roofline(args: RoofArgs) -> anyhow::Result<ExitCode> {
    let mut hardware = presets(&args.hardware)?;
    let bench = match &args.bench {
        Some(path) => Some(read_bench(path)?),
        None => None,
    };
    let bench_on_cpu = bench.as_ref().is_some_and(|b| {
        b.engines
            .iter()
            .any(|e| e.info.settings.get("device").is_none_or(|d| d == "cpu"))
    });
    if args.measure_cpu || bench_on_cpu {
        hardware.push(roofline::measure_cpu(Duration::from_millis(600)));
    }
    if hardware.is_empty() {
        bail!("no hardware: give --hardware or --measure-cpu");
    }
    let spec = model_spec(&args)?;
    if args.batch.is_empty() || args.batch.contains(&0) {
        bail!("--batch needs positive batch sizes");
    }
    let context = args.context.unwrap_or(512);
    let rows = roofline::analyze_grid(
        &hardware,
        &spec,
        &args.precision,
        &args.phase,
        &args.batch,
        context,
        !args.no_kv,
    );
    print_estimates(&spec, &hardware, &rows, context, args.no_kv)?;
    let measured = match (&bench, &args.bench) {
        (Some(b), Some(path)) => place_bench(b, path, &args, &spec, &hardware)?,
        _ => Vec::new(),
    };
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "model": spec,
            "hardware": hardware,
            "context": context,
            "kv": !args.no_kv,
            "rows": rows,
            "measured": measured,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
        outln!("\nwrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `--hardware`: preset keys, or `all`.
fn presets(keys: &[String]) -> anyhow::Result<Vec<Hardware>> {
    let mut hardware = Vec::new();
    for key in keys {
        if key.trim().eq_ignore_ascii_case("all") {
            hardware.extend(roofline::presets());
        } else if !key.trim().is_empty() {
            hardware.push(roofline::preset(key)?);
        }
    }
    Ok(hardware)
}

fn read_bench(path: &Path) -> anyhow::Result<BenchReport> {
    std::fs::read_to_string(path)
        .map_err(anyhow::Error::from)
        .and_then(|t| Ok(export::json::from_str(&t)?))
        .with_context(|| format!("reading the bench result {}", path.display()))
}

/// The model's shape: the generic model of `--params`, or a checkpoint's.
fn model_spec(args: &RoofArgs) -> anyhow::Result<ModelSpec> {
    Ok(match (args.params, &args.model) {
        (Some(p), _) => ModelSpec::generic(
            p,
            args.layers,
            args.hidden,
            args.heads,
            args.kv_heads.unwrap_or(args.heads),
            args.vocab,
        )?,
        (None, model) => {
            let path = medocr::engine::builtin::BuiltinEngine::locate(model.as_deref())?;
            ModelSpec::from_checkpoint(&path)
                .with_context(|| format!("reading the model spec from {}", path.display()))?
        }
    })
}

/// The model, the devices and the table of estimates.
fn print_estimates(
    spec: &ModelSpec,
    hardware: &[Hardware],
    rows: &[RoofRow],
    context: usize,
    no_kv: bool,
) -> anyhow::Result<()> {
    outln!(
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
    for hw in hardware {
        outln!(
            "{:<10} {}: {:.3} TFLOP/s, {:.0} GB/s, ridge {:.1} FLOP/B ({})",
            hw.key,
            hw.name,
            hw.peak_tflops,
            hw.bandwidth_gbs,
            hw.ridge_point(),
            hw.source
        );
    }
    outln!(
        "context {} tokens, KV traffic {}\n",
        context,
        if no_kv { "ignored" } else { "counted" }
    );
    outln!(
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
    for r in rows {
        outln!(
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
    Ok(())
}

/// Places every measurement of a bench on the roofline of the device it ran on, prints the
/// table and writes the chart; returns the points.
fn place_bench(
    bench: &BenchReport,
    bench_path: &Path,
    args: &RoofArgs,
    default_spec: &ModelSpec,
    hardware: &[Hardware],
) -> anyhow::Result<Vec<MeasuredPoint>> {
    let context = args.context.unwrap_or(16);
    // Only engines whose model shape is known can be priced (not Tesseract).
    let given = (args.model.is_some() || args.params.is_some()).then_some(default_spec);
    let (points, skipped) =
        roofline::place_bench(bench, given, hardware, args.decode_batch, context);
    print_points(&points, &skipped, bench_path, context)?;
    if points.is_empty() {
        return Ok(points);
    }
    let svg_path = args.svg.clone().unwrap_or_else(|| {
        bench_path
            .parent()
            .unwrap_or(Path::new("."))
            .join("roofline.svg")
    });
    write_chart(&points, hardware, &svg_path)?;
    Ok(points)
}

fn print_points(
    points: &[MeasuredPoint],
    skipped: &[String],
    bench_path: &Path,
    context: usize,
) -> anyhow::Result<()> {
    outln!(
        "\nmeasured points from {} (decode step at FP32, context {context}; see docs/roofline.md)",
        bench_path.display()
    );
    outln!(
        "{:<10} {:<28} {:<9} {:>3} {:>10} {:>9} {:>11} {:>10} {:>8} {:>8} {:>8}",
        "engine",
        "measurement",
        "hardware",
        "B",
        "tokens/s",
        "AI FLOP/B",
        "achv GFLOP/s",
        "achv GB/s",
        "% bound",
        "% peak",
        "% BW"
    );
    for p in points {
        outln!(
            "{:<10} {:<28} {:<9} {:>3} {:>10.1} {:>9.2} {:>11.3} {:>10.3} {:>7.2}% {:>7.2}% {:>7.2}%",
            p.engine,
            p.label,
            p.hardware,
            p.decode_batch,
            p.tokens_per_s,
            p.intensity,
            p.achieved_tflops * 1e3,
            p.achieved_gbs,
            p.fraction_of_bound * 100.0,
            p.fraction_of_peak_flops * 100.0,
            p.fraction_of_bandwidth * 100.0
        );
    }
    for name in skipped {
        outln!("{name}: no model spec (not a transformer checkpoint), not placed");
    }
    Ok(())
}

/// One chart, on the device of the first point.
fn write_chart(
    points: &[MeasuredPoint],
    hardware: &[Hardware],
    svg_path: &Path,
) -> anyhow::Result<()> {
    let hw = hardware
        .iter()
        .find(|h| h.key == points[0].hardware)
        .expect("points come from these devices");
    let marks: Vec<roof_chart::RoofPoint> = points
        .iter()
        .filter(|p| p.hardware == hw.key)
        // The legend has room for about seven series besides the roof.
        .take(7)
        .map(|p| roof_chart::RoofPoint {
            label: format!("{} {}", p.engine, p.label),
            intensity: p.intensity,
            flops_per_s: p.achieved_tflops * 1e12,
        })
        .collect();
    let chart = roof_chart::roofline(
        &format!("Roofline of {} with measured decode points", hw.name),
        hw.peak_flops(),
        hw.bandwidth_bytes(),
        &marks,
    );
    medocr::report::write_atomic(svg_path, chart.as_bytes())
        .with_context(|| format!("writing {}", svg_path.display()))?;
    outln!("wrote {}", svg_path.display());
    Ok(())
}
