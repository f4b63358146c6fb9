//! Warm-up until latency is stable, as the seed's procedure asks, not only a fixed count.
//!
//! Criterion: after at least `min` unmeasured requests, warm-up ends as soon as the last
//! [`WINDOW`] latencies lie within [`TOLERANCE`] of their median,
//! `(max − min) / median ≤ 0.10`. Caches, lazy initialisation and allocator growth make
//! the first requests slow and uneven; three in a row within 10 % is the sign they are
//! over. Warm-up stops at `max` requests even when not stable; the measurement then
//! records `stable: false` and the bench notes it, since its first samples may still be
//! cold. `min = 0` turns warm-up off.

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
}

impl Warmup {
    /// Several workers' warm-ups as one record: every request, in worker order, stable
    /// only when each worker's was. `None` when there were none.
    pub fn together(warmups: Vec<Warmup>) -> Option<Warmup> {
        let stable = warmups.iter().all(|w| w.stable);
        let latencies_ms: Vec<f64> = warmups.into_iter().flat_map(|w| w.latencies_ms).collect();
        if latencies_ms.is_empty() {
            return None;
        }
        Some(Warmup {
            requests: latencies_ms.len(),
            stable,
            latencies_ms,
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
/// stops early when `control` says so. `None` when warm-up is off.
pub fn warm_up(
    rule: WarmupRule,
    control: Control<'_>,
    mut request: impl FnMut() -> f64,
) -> Option<Warmup> {
    if rule.min == 0 {
        return None;
    }
    let mut latencies_ms = Vec::new();
    let mut stable = false;
    while latencies_ms.len() < rule.max && !control.stopped() {
        latencies_ms.push(request());
        stable = is_stable(&latencies_ms);
        if stable && latencies_ms.len() >= rule.min {
            break;
        }
    }
    Some(Warmup {
        requests: latencies_ms.len(),
        stable,
        latencies_ms,
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
        let off = warm_up(WarmupRule::new(0, 10), control, || panic!("no warm-up"));
        assert_eq!(off, None);

        // Slow first request, then steady: stable after four.
        let w = warm_up(
            WarmupRule::new(2, 20),
            control,
            paced(&[120.0, 30.0, 31.0, 30.0]),
        )
        .unwrap();
        assert!(w.stable, "{w:?}");
        assert_eq!(w.requests, 4);

        // A cap below the minimum is raised to it.
        assert_eq!(WarmupRule::new(5, 2).max(), 5);

        // Steady from the start, but `min` asks for six.
        let w = warm_up(WarmupRule::new(6, 20), control, paced(&[30.0])).unwrap();
        assert_eq!(w.requests, 6);

        // Never steady: capped at `max`, recorded as not stable.
        let w = warm_up(WarmupRule::new(1, 4), control, paced(&[10.0, 60.0])).unwrap();
        assert_eq!((w.requests, w.stable), (4, false));
    }
}
