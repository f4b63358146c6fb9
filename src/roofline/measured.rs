//! Measured points on the roofline: a `medocr bench` measurement's decode throughput turned
//! into achieved FLOP/s and bytes/s with the same step costs the estimates use.
//!
//! For a decode throughput T (output tokens/s) at decode batch B and context `ctx`:
//! one step costs `StepCost::of(spec, decode, B, ctx)` (FLOPs F, bytes M, B tokens), so
//! steps/s = T / B, achieved FLOP/s = T/B · F, achieved bytes/s = T/B · M, the point's
//! arithmetic intensity is F / M and its bound is `min(peak, AI · BW)`. The fractions say
//! how far the engine is from the roof: of the bound at its intensity, of the compute
//! peak and of the memory bandwidth.
//!
//! T is the decode-stage rate where the engine reports a decode stage (output tokens /
//! time in decode steps; a lower bound for a native batch, whose shared steps are reported
//! to every request in them), else output tokens over wall time (which also counts
//! detection and encoding, so the point sits lower than the decode steps alone would).

use super::analysis::{Bound, Phase, StepCost, Workload};
use super::hardware::Hardware;
use super::spec::{ModelSpec, Precision};
use crate::bench::Measurement;
use serde::Serialize;

/// One measurement on one device's roofline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasuredPoint {
    pub engine: String,
    pub scenario: String,
    pub label: String,
    pub hardware: String,
    /// Output tokens/s the point is computed from.
    pub tokens_per_s: f64,
    /// `decode stage` or `end to end` (see module docs).
    pub rate_source: String,
    pub decode_batch: usize,
    pub context: usize,
    pub precision: Precision,
    /// FLOP/byte of the decode step.
    pub intensity: f64,
    pub achieved_tflops: f64,
    pub achieved_gbs: f64,
    pub attainable_tflops: f64,
    pub bound: Bound,
    /// Achieved FLOP/s / attainable FLOP/s at this intensity.
    pub fraction_of_bound: f64,
    pub fraction_of_peak_flops: f64,
    pub fraction_of_bandwidth: f64,
}

/// The numbers of a point: (intensity, achieved FLOP/s, achieved bytes/s, attainable FLOP/s).
pub fn place(
    hw: &Hardware,
    spec: &ModelSpec,
    w: &Workload,
    tokens_per_s: f64,
) -> (f64, f64, f64, f64) {
    let cost = StepCost::of(spec, w);
    let steps_per_s = tokens_per_s / cost.tokens;
    let ai = cost.intensity();
    (
        ai,
        steps_per_s * cost.flops,
        steps_per_s * cost.bytes,
        hw.peak_flops().min(ai * hw.bandwidth_bytes()),
    )
}

/// Places a bench measurement's decode throughput; `None` when it produced no tokens.
pub fn place_measurement(
    hw: &Hardware,
    spec: &ModelSpec,
    m: &Measurement,
    decode_batch: usize,
    context: usize,
    precision: Precision,
) -> Option<MeasuredPoint> {
    let (tokens_per_s, rate_source) = match m.throughput.decode_tokens_per_s {
        Some(t) if t > 0.0 => (t, "decode stage"),
        _ if m.throughput.tokens_per_s > 0.0 => (m.throughput.tokens_per_s, "end to end"),
        _ => return None,
    };
    let w = Workload {
        phase: Phase::Decode,
        precision,
        batch: decode_batch.max(1),
        context,
        kv: true,
    };
    let (ai, flops, bytes, attainable) = place(hw, spec, &w, tokens_per_s);
    Some(MeasuredPoint {
        engine: m.engine.clone(),
        scenario: m.scenario.to_string(),
        label: m.label.clone(),
        hardware: hw.key.clone(),
        tokens_per_s,
        rate_source: rate_source.into(),
        decode_batch: w.batch,
        context,
        precision,
        intensity: ai,
        achieved_tflops: flops / 1e12,
        achieved_gbs: bytes / 1e9,
        attainable_tflops: attainable / 1e12,
        bound: if ai < hw.ridge_point() {
            Bound::Memory
        } else {
            Bound::Compute
        },
        fraction_of_bound: flops / attainable,
        fraction_of_peak_flops: flops / hw.peak_flops(),
        fraction_of_bandwidth: bytes / hw.bandwidth_bytes(),
    })
}

/// A bench's measurements placed on the roofline of the devices they ran on (a CPU bench
/// on `hardware`'s `cpu`, a GPU bench on the others), at FP32 (the built-in model computes
/// in FP32 on both backends). An engine is priced with `spec` when given, else with its
/// checkpoint's shape; those with neither (Tesseract) are returned by name, unplaced.
pub fn place_bench(
    bench: &crate::bench::BenchReport,
    spec: Option<&ModelSpec>,
    hardware: &[Hardware],
    decode_batch: Option<usize>,
    context: usize,
) -> (Vec<MeasuredPoint>, Vec<String>) {
    let mut points = Vec::new();
    let mut skipped = Vec::new();
    for entry in &bench.engines {
        let settings = &entry.info.settings;
        let spec = match spec {
            Some(s) => Some(s.clone()),
            None => settings
                .get("model_dir")
                .and_then(|d| ModelSpec::from_checkpoint(std::path::Path::new(d)).ok()),
        };
        let Some(spec) = spec else {
            skipped.push(entry.info.name.clone());
            continue;
        };
        let on_cpu = settings.get("device").is_none_or(|d| d == "cpu");
        let decode_batch = decode_batch
            .or_else(|| settings.get("batch_size").and_then(|b| b.parse().ok()))
            .unwrap_or(1);
        for hw in hardware.iter().filter(|h| (h.key == "cpu") == on_cpu) {
            points.extend(bench.of_engine(&entry.info.name).filter_map(|m| {
                place_measurement(hw, &spec, m, decode_batch, context, Precision::Fp32)
            }));
        }
    }
    (points, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_point_by_hand() {
        // P = 1000 FP32 params, L = 2, d = 8, 2 heads / 1 KV head (d_kv = 4), B = 2, ctx 5:
        // F = 2·1000·2 + 4·2·2·5·8 = 4000 + 640 = 4640;
        // M = 1000·4 + 2·2·4·4·5·2 (reads) + 2·2·4·4·2 (writes) = 4000 + 640 + 128 = 4768.
        let spec = ModelSpec::generic(1000.0, 2, 8, 2, 1, 10).unwrap();
        let hw = Hardware {
            key: "toy".into(),
            name: "toy".into(),
            peak_tflops: 1e-6,   // 1 MFLOP/s
            bandwidth_gbs: 1e-5, // 10 kB/s
            source: "test".into(),
        };
        let w = Workload {
            phase: Phase::Decode,
            precision: Precision::Fp32,
            batch: 2,
            context: 5,
            kv: true,
        };
        // 100 tokens/s = 50 steps/s.
        let (ai, flops, bytes, att) = place(&hw, &spec, &w, 100.0);
        assert!((ai - 4640.0 / 4768.0).abs() < 1e-12);
        assert!((flops - 50.0 * 4640.0).abs() < 1e-6);
        assert!((bytes - 50.0 * 4768.0).abs() < 1e-6);
        // Memory-bound: attainable = AI · 10 kB/s = 9731.5 FLOP/s < 1 MFLOP/s.
        assert!((att - ai * 1e4).abs() < 1e-6);
        // At that rate the engine moves 238,400 B/s, over the 10 kB/s bandwidth: a
        // fraction above 1 says the step model (or the decode batch) is wrong.
        assert!(bytes / 1e4 > 1.0);
    }
}
