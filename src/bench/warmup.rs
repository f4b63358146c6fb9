//! Warm-up until latency is stable, as the seed's procedure asks, not only a fixed count.
//!
//! Criterion: after at least `min` unmeasured requests, warm-up ends as soon as the last
//! [`WINDOW`] latencies lie within [`TOLERANCE`] of their median,
//! `(max − min) / median ≤ 0.10`. Caches, lazy initialisation and allocator growth make
//! the first requests slow and uneven; three in a row within 10 % is the sign they are
//! over. Warm-up stops at `max` requests even when not stable; the measurement then
//! records `stable: false` and the bench notes it, since its first samples may still be
//! cold. `min = 0` turns warm-up off.
//!
//! On a GPU (NVML present) the device's clocks, temperature and slowdown reasons are read
//! before the first and after the last warm-up request (`gpu_state`): latency can settle
//! while the device is still heating towards a power or thermal limit, and a warm-up that
//! ends throttled is flagged in the report.

use super::gpu_state::WarmupGpu;
use super::resources::gpu_state;
use super::Control;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Latencies compared by the stability test.
pub const WINDOW: usize = 3;
/// Largest spread of the window, relative to its median, that counts as stable.
pub const TOLERANCE: f64 = 0.10;

/// How a setting is warmed up: at least `min`, at most `max` requests (`max ≥ min`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmupRule {
    min: usize,
    max: usize,
}

impl WarmupRule {
    /// At least `min` requests, at most `max`, raised to `min` when below it.
    pub fn new(min: usize, max: usize) -> WarmupRule {
        WarmupRule {
            min,
            max: max.max(min),
        }
    }

    pub fn min(&self) -> usize {
        self.min
    }

    pub fn max(&self) -> usize {
        self.max
    }
}

/// What a warm-up did, kept with the measurement it preceded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warmup {
    pub requests: usize,
    /// Whether the last [`WINDOW`] latencies met the criterion before `max`.
    pub stable: bool,
    /// Wall time of each warm-up request, in order.
    pub latencies_ms: Vec<f64>,
    /// The GPU before and after, when NVML could read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<WarmupGpu>,
}

impl Warmup {
    /// Several workers' warm-ups as one record: every request, in worker order, stable
    /// only when each worker's was; the GPU as the first worker found it and the last left
    /// it, throttled when any ended throttled. `None` when there were none.
    pub fn together(warmups: Vec<Warmup>) -> Option<Warmup> {
        let stable = warmups.iter().all(|w| w.stable);
        let gpus: Vec<&WarmupGpu> = warmups.iter().filter_map(|w| w.gpu.as_ref()).collect();
        let gpu = match (gpus.first(), gpus.last()) {
            (Some(first), Some(last)) => Some(WarmupGpu {
                before: first.before.clone(),
                after: last.after.clone(),
                throttled: gpus.iter().any(|g| g.throttled),
            }),
            _ => None,
        };
        let latencies_ms: Vec<f64> = warmups.into_iter().flat_map(|w| w.latencies_ms).collect();
        if latencies_ms.is_empty() {
            return None;
        }
        Some(Warmup {
            requests: latencies_ms.len(),
            stable,
            latencies_ms,
            gpu,
        })
    }
}

/// Whether the last [`WINDOW`] latencies lie within [`TOLERANCE`] of their median.
pub fn is_stable(latencies_ms: &[f64]) -> bool {
    if latencies_ms.len() < WINDOW {
        return false;
    }
    let mut last = latencies_ms[latencies_ms.len() - WINDOW..].to_vec();
    last.sort_by(f64::total_cmp);
    let median = last[WINDOW / 2];
    median > 0.0 && (last[WINDOW - 1] - last[0]) / median <= TOLERANCE
}

/// Runs `request` (which returns its latency in ms, e.g. through [`timed`]) until the
/// latency is stable (see the module notes), between `rule.min` and `rule.max` times;
/// stops early when `control` says so. With `gpu` (a CUDA ordinal, see
/// `resources::gpu_index`) the device's state is read before and after. `None` when
/// warm-up is off.
pub fn warm_up(
    rule: WarmupRule,
    control: Control<'_>,
    gpu: Option<u32>,
    mut request: impl FnMut() -> f64,
) -> Option<Warmup> {
    if rule.min == 0 {
        return None;
    }
    let before = gpu.and_then(gpu_state);
    let mut latencies_ms = Vec::new();
    let mut stable = false;
    while latencies_ms.len() < rule.max && !control.stopped() {
        latencies_ms.push(request());
        stable = is_stable(&latencies_ms);
        if stable && latencies_ms.len() >= rule.min {
            break;
        }
    }
    let after = gpu.and_then(gpu_state);
    Some(Warmup {
        requests: latencies_ms.len(),
        stable,
        latencies_ms,
        gpu: before.zip(after).map(|(b, a)| WarmupGpu::new(b, a)),
    })
}

/// The wall time of `f`, in ms.
pub fn timed(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_when_the_last_three_lie_within_ten_percent_of_their_median() {
        assert!(!is_stable(&[100.0, 101.0]));
        assert!(is_stable(&[900.0, 100.0, 105.0, 109.0]));
        assert!(!is_stable(&[100.0, 105.0, 112.0]));
        assert!(!is_stable(&[0.0, 0.0, 0.0]));
    }

    /// Requests whose latencies follow `ms`, over and over.
    fn paced(ms: &'static [f64]) -> impl FnMut() -> f64 {
        let mut i = 0;
        move || {
            i += 1;
            ms[(i - 1) % ms.len()]
        }
    }

    #[test]
    fn stops_once_stable_but_not_before_min_and_never_past_max() {
        let control = Control::default();
        let off = warm_up(WarmupRule::new(0, 10), control, None, || {
            panic!("no warm-up")
        });
        assert_eq!(off, None);

        // Slow first request, then steady: stable after four.
        let w = warm_up(
            WarmupRule::new(2, 20),
            control,
            None,
            paced(&[120.0, 30.0, 31.0, 30.0]),
        )
        .unwrap();
        assert!(w.stable, "{w:?}");
        assert_eq!(w.requests, 4);

        // A cap below the minimum is raised to it.
        assert_eq!(WarmupRule::new(5, 2).max(), 5);

        // Steady from the start, but `min` asks for six.
        let w = warm_up(WarmupRule::new(6, 20), control, None, paced(&[30.0])).unwrap();
        assert_eq!(w.requests, 6);

        // Never steady: capped at `max`, recorded as not stable.
        let w = warm_up(WarmupRule::new(1, 4), control, None, paced(&[10.0, 60.0])).unwrap();
        assert_eq!((w.requests, w.stable), (4, false));
    }

    #[test]
    fn the_gpu_is_read_around_warm_up_when_nvml_can() {
        let control = Control::default();
        let w = warm_up(WarmupRule::new(1, 3), control, Some(0), paced(&[30.0])).unwrap();
        // Without an NVIDIA driver (these test machines) there is no record, and no error.
        assert_eq!(w.gpu.is_some(), gpu_state(0).is_some());
        let w = warm_up(WarmupRule::new(1, 3), control, None, paced(&[30.0])).unwrap();
        assert_eq!(w.gpu, None);
    }

    #[test]
    fn workers_warm_ups_keep_the_first_before_the_last_after_and_any_throttle() {
        use crate::bench::gpu_state::GpuState;
        let at = |t| GpuState {
            temperature_c: Some(t),
            ..GpuState::default()
        };
        let worker = |before, after, throttled| Warmup {
            requests: 1,
            stable: true,
            latencies_ms: vec![5.0],
            gpu: Some(WarmupGpu {
                before: at(before),
                after: at(after),
                throttled,
            }),
        };
        let w = Warmup::together(vec![worker(40, 60, true), worker(60, 70, false)]).unwrap();
        let g = w.gpu.unwrap();
        assert_eq!((g.before, g.after, g.throttled), (at(40), at(70), true));
        assert_eq!(w.requests, 2);
    }
}
