//! Hardware presets and a short CPU probe.
//!
//! Peaks are **dense** FP16/BF16 tensor-core throughput (no 2:4 sparsity); bandwidths are
//! the datasheet memory bandwidths. Sources are listed in `docs/roofline.md`.

use super::RooflineError;
use rayon::prelude::*;
use serde::Serialize;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// A device's roofline: compute peak and memory bandwidth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hardware {
    /// Preset key (`a100-80gb`) or `cpu` for the measured machine.
    pub key: String,
    pub name: String,
    /// Dense FP16/BF16 tensor peak (FP32 for the CPU probe), TFLOP/s.
    pub peak_tflops: f64,
    /// Memory bandwidth, GB/s (10⁹ bytes/s).
    pub bandwidth_gbs: f64,
    /// Where the numbers come from.
    pub source: String,
}

impl Hardware {
    pub fn peak_flops(&self) -> f64 {
        self.peak_tflops * 1e12
    }

    pub fn bandwidth_bytes(&self) -> f64 {
        self.bandwidth_gbs * 1e9
    }

    /// Arithmetic intensity (FLOP/byte) where the memory roof meets the compute roof.
    pub fn ridge_point(&self) -> f64 {
        self.peak_flops() / self.bandwidth_bytes()
    }
}

/// (key, name, dense FP16 TFLOP/s, GB/s, source)
const PRESETS: &[(&str, &str, f64, f64, &str)] = &[
    (
        "a100-80gb",
        "NVIDIA A100 80GB SXM",
        312.0,
        2039.0,
        "NVIDIA A100 datasheet: FP16 tensor 312 TF dense (624 sparse), 2,039 GB/s",
    ),
    (
        "h100-sxm",
        "NVIDIA H100 SXM",
        989.0,
        3350.0,
        "NVIDIA H100 datasheet: FP16 tensor 1,979 TF with sparsity = 989 dense, 3.35 TB/s",
    ),
    (
        "h200",
        "NVIDIA H200 SXM",
        989.0,
        4800.0,
        "NVIDIA H200 datasheet: FP16 tensor 1,979 TF with sparsity = 989 dense, 4.8 TB/s",
    ),
    (
        "l40s",
        "NVIDIA L40S",
        362.0,
        864.0,
        "NVIDIA L40S datasheet: FP16/BF16 tensor 362.05 TF dense (733 sparse), 864 GB/s",
    ),
    (
        "rtx-4090",
        "NVIDIA GeForce RTX 4090",
        165.0,
        1008.0,
        "Ada whitepaper: FP16 tensor w/ FP16 acc 330.3 dense (660.6 sparse); 165.2 with FP32 acc; 1,008 GB/s",
    ),
    (
        "rtx-3090",
        "NVIDIA GeForce RTX 3090",
        71.0,
        936.0,
        "Ampere GA102 whitepaper: FP16 tensor w/ FP32 acc 71 dense (142 w/ FP16 acc); 936 GB/s",
    ),
    (
        "rtx-3060",
        "NVIDIA GeForce RTX 3060 12GB",
        25.0,
        360.0,
        "Ampere GA106 (GA102 whitepaper scaling): FP16 tensor w/ FP32 acc ~25.5 dense; 360 GB/s",
    ),
];

/// All built-in presets, in table order.
pub fn presets() -> Vec<Hardware> {
    PRESETS
        .iter()
        .map(|&(key, name, tf, bw, src)| Hardware {
            key: key.to_string(),
            name: name.to_string(),
            peak_tflops: tf,
            bandwidth_gbs: bw,
            source: src.to_string(),
        })
        .collect()
}

/// One preset by key (case-insensitive; `_` and `-` are interchangeable).
pub fn preset(key: &str) -> Result<Hardware, RooflineError> {
    let want = key.trim().to_ascii_lowercase().replace('_', "-");
    presets()
        .into_iter()
        .find(|h| h.key == want)
        .ok_or_else(|| {
            let known: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
            RooflineError::UnknownHardware(key.to_string(), known.join(", "))
        })
}

/// Measures this machine's CPU: f32 GEMM FLOP/s on all rayon threads and memory
/// bandwidth from a large array copy (read + write counted), each for about `budget`.
pub fn measure_cpu(budget: Duration) -> Hardware {
    let flops = gemm_probe(256, budget);
    let bw = copy_probe(32 << 20, budget);
    Hardware {
        key: "cpu".to_string(),
        name: format!("this CPU ({} threads)", rayon::current_num_threads()),
        peak_tflops: flops / 1e12,
        bandwidth_gbs: bw / 1e9,
        source: "measured: blocked f32 GEMM (all threads) and 128 MiB array copy".to_string(),
    }
}

/// FLOP/s of an `n`×`n` f32 matmul (i-k-j loop, rows split over threads), best pass.
fn gemm_probe(n: usize, budget: Duration) -> f64 {
    let a: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 * 0.25).collect();
    let b: Vec<f32> = (0..n * n).map(|i| (i % 5) as f32 * 0.5).collect();
    let mut c = vec![0.0f32; n * n];
    let start = Instant::now();
    let mut best = f64::INFINITY;
    while start.elapsed() < budget || best.is_infinite() {
        let t = Instant::now();
        c.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
            row.iter_mut().for_each(|x| *x = 0.0);
            for k in 0..n {
                let aik = a[i * n + k];
                let brow = &b[k * n..(k + 1) * n];
                for (x, &bv) in row.iter_mut().zip(brow) {
                    *x += aik * bv;
                }
            }
        });
        black_box(&c);
        best = best.min(t.elapsed().as_secs_f64());
    }
    2.0 * (n as f64).powi(3) / best.max(1e-9)
}

/// Bytes/s of copying `len` f32 (counts the read and the write), best pass.
fn copy_probe(len: usize, budget: Duration) -> f64 {
    let src: Vec<f32> = (0..len).map(|i| i as f32).collect();
    let mut dst = vec![0.0f32; len];
    let chunk = (len / rayon::current_num_threads().max(1)).max(1 << 16);
    let start = Instant::now();
    let mut best = f64::INFINITY;
    while start.elapsed() < budget || best.is_infinite() {
        let t = Instant::now();
        dst.par_chunks_mut(chunk)
            .zip(src.par_chunks(chunk))
            .for_each(|(d, s)| d.copy_from_slice(s));
        black_box(&dst);
        best = best.min(t.elapsed().as_secs_f64());
    }
    2.0 * (len * 4) as f64 / best.max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roofline_presets_are_dense_figures() {
        let a100 = preset("A100_80GB").unwrap();
        assert_eq!((a100.peak_tflops, a100.bandwidth_gbs), (312.0, 2039.0));
        assert_eq!(preset("h100-sxm").unwrap().peak_tflops, 989.0);
        assert_eq!(preset("h200").unwrap().bandwidth_gbs, 4800.0);
        assert_eq!(preset("rtx-4090").unwrap().peak_tflops, 165.0);
        assert!((a100.ridge_point() - 312e12 / 2039e9).abs() < 1e-9);
        assert!(matches!(
            preset("tpu"),
            Err(RooflineError::UnknownHardware(..))
        ));
        assert_eq!(presets().len(), 7);
    }

    #[test]
    fn roofline_cpu_probe_returns_positive_numbers() {
        let h = measure_cpu(Duration::from_millis(50));
        assert!(h.peak_tflops > 0.0 && h.bandwidth_gbs > 0.0);
        assert_eq!(h.key, "cpu");
    }
}
