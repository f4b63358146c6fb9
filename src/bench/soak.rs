//! `soak`: requests back to back (closed loop, cycling through the pages) until a duration
//! has passed, reported per time window: p50/p99 latency and peak RSS of each window, and
//! the drift of the last window against the first.
//!
//! A request belongs to the window in which it started; the run stops starting requests at
//! the duration, so the last request may end a little after it. Stopped early (Ctrl-C), the
//! windows that ran are returned, the last one `partial` and cut at the stop.

use super::measure::{measure, timed_request, MeasureInput};
use super::warmup::{timed, warm_up, WarmupRule};
use super::{
    BatchMode, BenchError, Control, Measurement, Params, PreparedDoc, Repeats, ResourceMonitor,
    Scenario, SoakDrift,
};
use crate::engine::Engine;
use std::time::{Duration, Instant};

/// Runs for `duration`, one measurement per `window`.
pub fn run_soak(
    engine: &mut dyn Engine,
    pool: &[PreparedDoc],
    dpi: f32,
    duration: Duration,
    window: Duration,
    warmup: WarmupRule,
    control: Control<'_>,
) -> Result<Vec<Measurement>, BenchError> {
    if pool.is_empty() {
        return Err(BenchError::NoPages(
            "the soak scenario has no request".into(),
        ));
    }
    if window.is_zero() || duration.is_zero() || window > duration {
        return Err(BenchError::Config(
            "--window must be positive and no longer than --duration".into(),
        ));
    }
    let info = engine.info();
    let gpu = super::resources::gpu_index(&info);
    // Warmed on one page, so that the stability test compares like with like.
    let mut warmup_done = warm_up(warmup, control, Some(gpu), || {
        let t = Instant::now();
        timed(|| drop(timed_request(engine, info.streaming, &pool[0], t, t)))
    });
    let origin = Instant::now();
    let n_windows = (duration.as_secs_f64() / window.as_secs_f64()).ceil() as usize;
    let mut out = Vec::with_capacity(n_windows);
    let mut next = 0usize;
    for w in 0..n_windows {
        let w_start = origin + window * w as u32;
        let mut w_end = (origin + window * (w as u32 + 1)).min(origin + duration);
        let monitor = ResourceMonitor::start(gpu);
        let began = Instant::now();
        let mut samples = Vec::new();
        while Instant::now() < w_end {
            if control.stopped() {
                break;
            }
            let doc = &pool[next % pool.len()];
            let mut s = timed_request(engine, info.streaming, doc, Instant::now(), origin);
            s.iteration = next;
            next += 1;
            control.finished(&s);
            samples.push(s);
        }
        let now = Instant::now();
        let partial = control.stopped() && now < w_end;
        if partial {
            if samples.is_empty() {
                break;
            }
            w_end = now;
        }
        let wall_s = began.elapsed().as_secs_f64();
        let (a, b) = (
            (w_start - origin).as_secs_f64(),
            (w_end - origin).as_secs_f64(),
        );
        let mut m = measure(
            MeasureInput {
                engine: info.name.clone(),
                scenario: Scenario::Soak,
                label: format!("window {} ({a:.0}–{b:.0} s)", w + 1),
                params: Params {
                    dpi,
                    pages_per_request: pool[0].pages.len(),
                    window: Some((w, a, b)),
                    ..Params::default()
                },
                batch_mode: BatchMode::Unbatched,
                repeats: Repeats {
                    warmup: if w == 0 { warmup.min() } else { 0 },
                    iterations: samples.len(),
                    warmup_max: if w == 0 { warmup.max() } else { 0 },
                },
                wall_s,
                resources: monitor.stop(),
                load: None,
            },
            samples,
        );
        m.partial = partial;
        m.warmup = warmup_done.take();
        out.push(m);
        if partial {
            break;
        }
    }
    Ok(out)
}

/// The last window against the first, for one engine's soak measurements.
pub fn drift(windows: &[Measurement]) -> Option<SoakDrift> {
    let first = windows.first()?;
    let last = windows.last()?;
    let p = |m: &Measurement, q: fn(&crate::stats::Summary) -> f64| {
        m.latency.e2e_ms.as_ref().map(|s| q(&s.summary))
    };
    let change = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if a > 0.0 => Some((b - a) / a),
        _ => None,
    };
    let (p50a, p50b) = (p(first, |s| s.p50), p(last, |s| s.p50));
    let (p99a, p99b) = (p(first, |s| s.p99), p(last, |s| s.p99));
    Some(SoakDrift {
        engine: first.engine.clone(),
        windows: windows.len(),
        p50_first_ms: p50a,
        p50_last_ms: p50b,
        p99_first_ms: p99a,
        p99_last_ms: p99b,
        p50_change: change(p50a, p50b),
        p99_change: change(p99a, p99b),
        peak_rss_first_mib: first.resources.peak_rss_mib,
        peak_rss_last_mib: last.resources.peak_rss_mib,
    })
}
