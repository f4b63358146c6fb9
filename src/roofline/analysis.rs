//! FLOPs and bytes per step, arithmetic intensity, attainable FLOP/s and tokens/s.
//!
//! Decode step (B sequences, one new token each, `ctx` cached tokens, L layers,
//! hidden d, KV width d_kv = kv_heads · head_dim):
//! - FLOPs = 2·P·B + 4·B·L·ctx·d (QKᵀ and AV);
//! - bytes = P·b_w + 2·L·ctx·d_kv·b_kv·B (K and V reads) + 2·L·d_kv·b_kv·B (writes).
//!
//! Prefill step (B sequences of `ctx` prompt tokens, causal attention):
//! - FLOPs = 2·P·B·ctx + 2·B·L·d·ctx·(ctx+1);
//! - bytes = P·b_w + 2·L·ctx·d_kv·b_kv·B (KV writes); activations are not counted.
//!
//! AI = FLOPs / bytes; attainable = min(peak, AI·BW); step time = FLOPs / attainable
//! (= max(FLOPs/peak, bytes/BW)); tokens/s = B / step (decode) or B·ctx / step (prefill).

use super::hardware::Hardware;
use super::spec::{ModelSpec, Precision};
use super::RooflineError;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Prefill,
    Decode,
}

/// `decode` or `prefill`, any case (the `--phase` flag).
impl std::str::FromStr for Phase {
    type Err = RooflineError;

    fn from_str(s: &str) -> Result<Phase, RooflineError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "decode" => Ok(Phase::Decode),
            "prefill" => Ok(Phase::Prefill),
            other => Err(RooflineError::UnknownPhase(other.to_string())),
        }
    }
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Prefill => "prefill",
            Phase::Decode => "decode",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    Memory,
    Compute,
}

/// One step to price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Workload {
    pub phase: Phase,
    pub precision: Precision,
    pub batch: usize,
    /// Cached tokens (decode) or prompt length (prefill).
    pub context: usize,
    /// Count attention FLOPs and KV-cache traffic (false: weights only, as the seed does).
    pub kv: bool,
}

/// FLOPs and bytes moved by one step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StepCost {
    pub flops: f64,
    pub bytes: f64,
    /// Tokens produced (decode) or consumed (prefill) by the step.
    pub tokens: f64,
}

impl StepCost {
    pub fn of(spec: &ModelSpec, w: &Workload) -> Self {
        let b = w.batch as f64;
        let ctx = w.context as f64;
        let l = spec.layers as f64;
        let d = spec.hidden as f64;
        let dkv = spec.kv_dim() as f64;
        let weights = spec.step_params * w.precision.bytes_per_param();
        let kv_per_token = 2.0 * l * dkv * w.precision.kv_bytes();
        match w.phase {
            Phase::Decode => {
                let mut flops = 2.0 * spec.step_params * b;
                let mut bytes = weights;
                if w.kv {
                    flops += 4.0 * b * l * ctx * d;
                    bytes += kv_per_token * ctx * b + kv_per_token * b;
                }
                StepCost {
                    flops,
                    bytes,
                    tokens: b,
                }
            }
            Phase::Prefill => {
                let mut flops = 2.0 * spec.params * b * ctx;
                let mut bytes = spec.params * w.precision.bytes_per_param();
                if w.kv {
                    flops += 2.0 * b * l * d * ctx * (ctx + 1.0);
                    bytes += kv_per_token * ctx * b;
                }
                StepCost {
                    flops,
                    bytes,
                    tokens: b * ctx,
                }
            }
        }
    }

    /// Arithmetic intensity, FLOP/byte.
    pub fn intensity(&self) -> f64 {
        self.flops / self.bytes
    }
}

/// One line of the roofline table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoofRow {
    pub hardware: String,
    pub precision: Precision,
    pub phase: Phase,
    pub batch: usize,
    pub context: usize,
    pub flops: f64,
    pub bytes: f64,
    /// FLOP/byte.
    pub intensity: f64,
    pub ridge_point: f64,
    pub attainable_tflops: f64,
    pub bound: Bound,
    pub tokens_per_s: f64,
    pub step_ms: f64,
}

/// Every combination of device, precision, phase and batch size, in that nesting order, at
/// one context length (`kv`: attention and the KV cache counted).
pub fn analyze_grid(
    hardware: &[Hardware],
    spec: &ModelSpec,
    precisions: &[Precision],
    phases: &[Phase],
    batches: &[usize],
    context: usize,
    kv: bool,
) -> Vec<RoofRow> {
    let mut rows = Vec::new();
    for hw in hardware {
        for &precision in precisions {
            for &phase in phases {
                for &batch in batches {
                    let w = Workload {
                        phase,
                        precision,
                        batch,
                        context,
                        kv,
                    };
                    rows.push(analyze(hw, spec, &w));
                }
            }
        }
    }
    rows
}

/// Prices one step of `w` on `hw`.
pub fn analyze(hw: &Hardware, spec: &ModelSpec, w: &Workload) -> RoofRow {
    let cost = StepCost::of(spec, w);
    let ai = cost.intensity();
    let attainable = hw.peak_flops().min(ai * hw.bandwidth_bytes());
    let step = cost.flops / attainable;
    RoofRow {
        hardware: hw.key.clone(),
        precision: w.precision,
        phase: w.phase,
        batch: w.batch,
        context: w.context,
        flops: cost.flops,
        bytes: cost.bytes,
        intensity: ai,
        ridge_point: hw.ridge_point(),
        attainable_tflops: attainable / 1e12,
        bound: if ai < hw.ridge_point() {
            Bound::Memory
        } else {
            Bound::Compute
        },
        tokens_per_s: cost.tokens / step,
        step_ms: step * 1e3,
    }
}

/// The seed's simplified memory-bound decode throughput, `B·BW / (2·P·b_w)`. Its bytes
/// term counts the weights twice (2·P·b_w per step where one read is P·b_w), so it gives
/// half of what [`analyze`] gives with `kv: false`; kept to pin the seed's example.
pub fn seed_decode_throughput(bandwidth_bytes: f64, params: f64, bpp: f64, batch: usize) -> f64 {
    batch as f64 * bandwidth_bytes / (2.0 * params * bpp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roofline::hardware::preset;

    fn llama7b() -> ModelSpec {
        ModelSpec::generic(7e9, 32, 4096, 32, 32, 32000).unwrap()
    }

    fn decode(precision: Precision, batch: usize, context: usize, kv: bool) -> Workload {
        Workload {
            phase: Phase::Decode,
            precision,
            batch,
            context,
            kv,
        }
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        ((a - b) / b).abs() < rel
    }

    #[test]
    fn roofline_seed_example_2286_tokens_per_s() {
        // Seed: A100 at 2.0 TB/s, 7B FP16, B = 32 -> 32·2e12 / (2·7e9·2) ≈ 2286.
        let t = seed_decode_throughput(2.0e12, 7e9, 2.0, 32);
        assert!((t - 2285.7).abs() < 0.1, "{t}");
        // Same numbers through analyze (weights only, no KV): one weight read per step,
        // so exactly twice the seed's figure.
        let mut hw = preset("a100-80gb").unwrap();
        hw.bandwidth_gbs = 2000.0;
        let r = analyze(&hw, &llama7b(), &decode(Precision::Fp16, 32, 0, false));
        assert!(close(r.tokens_per_s, 2.0 * t, 1e-9), "{}", r.tokens_per_s);
        // At the datasheet 2,039 GB/s: 2039e9 / 14e9 = 145.6 steps/s × 32 = 4,661 tok/s.
        let r = analyze(
            &preset("a100-80gb").unwrap(),
            &llama7b(),
            &decode(Precision::Fp16, 32, 0, false),
        );
        assert!(close(r.tokens_per_s, 2039e9 / 14e9 * 32.0, 1e-9));
        assert_eq!(r.bound, Bound::Memory);
        assert!(close(r.intensity, 32.0, 1e-12)); // 2·P·B / (2·P) = B
    }

    #[test]
    fn roofline_formulas_by_hand() {
        // Tiny model: P = 1000, L = 2, d = 8, 2 heads, 1 KV head (d_kv = 4).
        let spec = ModelSpec::generic(1000.0, 2, 8, 2, 1, 10).unwrap();
        let c = StepCost::of(&spec, &decode(Precision::Int8, 3, 5, true));
        // 2·1000·3 + 4·3·2·5·8 = 6000 + 960
        assert_eq!(c.flops, 6960.0);
        // 1000·1 + 2·2·4·2·5·3 (reads) + 2·2·4·2·3 (writes) = 1000 + 480 + 96
        assert_eq!(c.bytes, 1576.0);
        let p = StepCost::of(
            &spec,
            &Workload {
                phase: Phase::Prefill,
                ..decode(Precision::Int4, 3, 5, true)
            },
        );
        // 2·1000·3·5 + 2·3·2·8·5·6 = 30000 + 2880; 1000·0.5 + 2·2·4·2·5·3 = 500 + 480
        assert_eq!((p.flops, p.bytes, p.tokens), (32880.0, 980.0, 15.0));
    }

    #[test]
    fn roofline_kv_traffic_lowers_long_context_throughput() {
        let hw = preset("a100-80gb").unwrap();
        let spec = llama7b();
        let no_kv = analyze(&hw, &spec, &decode(Precision::Fp16, 32, 4096, false));
        let kv = analyze(&hw, &spec, &decode(Precision::Fp16, 32, 4096, true));
        // KV reads: 2·32·4096·4096·2·32 = 68.7 GB per step, ~5x the 14 GB of weights.
        assert!(kv.bytes > 5.0 * 14e9);
        assert!(kv.tokens_per_s < no_kv.tokens_per_s / 4.0);
        assert!(kv.intensity < 8.0 && kv.bound == Bound::Memory);
        let short = analyze(&hw, &spec, &decode(Precision::Fp16, 32, 512, true));
        assert!(short.tokens_per_s > kv.tokens_per_s);
    }

    #[test]
    fn roofline_int4_doubles_int8_weight_bound_decode() {
        let hw = preset("rtx-3060").unwrap();
        let spec = llama7b();
        let i8 = analyze(&hw, &spec, &decode(Precision::Int8, 1, 0, false));
        let i4 = analyze(&hw, &spec, &decode(Precision::Int4, 1, 0, false));
        assert!(close(i4.tokens_per_s, 2.0 * i8.tokens_per_s, 1e-9));
        assert_eq!(i4.bytes, 3.5e9);
    }

    #[test]
    fn roofline_large_prefill_is_compute_bound() {
        let hw = preset("h100-sxm").unwrap();
        let w = Workload {
            phase: Phase::Prefill,
            precision: Precision::Fp16,
            batch: 1,
            context: 2048,
            kv: true,
        };
        let r = analyze(&hw, &llama7b(), &w);
        assert_eq!(r.bound, Bound::Compute);
        assert!(close(r.attainable_tflops, 989.0, 1e-9));
    }
}
