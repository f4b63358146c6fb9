//! `batch`: B requests in ONE `recognize_batch` call, for each B. An engine that batches
//! natively (the built-in model) runs them through shared forward passes; any other engine
//! reads them one after another, and the measurement says so (`BatchMode::Sequential`).
//!
//! Every request of a call is timed from the call's start, so a request's E2E includes
//! waiting for the batch; throughput is requests' output tokens (pages) over the calls'
//! wall time.

use super::measure::{measure, MeasureInput};
use super::warmup::{timed, warm_up};
use super::{
    BatchMode, Control, Measurement, Params, PreparedDoc, Repeats, ResourceMonitor, Sample,
    Scenario,
};
use crate::engine::{Engine, Request, TokenSink};
use crate::pipeline::Recorder;
use std::time::Instant;

/// `size` requests taken from `pool` in order, cycling when it is shorter.
pub fn pick(pool: &[PreparedDoc], size: usize) -> Vec<&PreparedDoc> {
    (0..size).map(|i| &pool[i % pool.len()]).collect()
}

/// One batched call of `docs`, every request timed from the call's start.
pub fn timed_batch(
    engine: &mut dyn Engine,
    docs: &[&PreparedDoc],
    origin: Instant,
    iteration: usize,
) -> Vec<Sample> {
    let streaming = engine.info().streaming;
    let requests: Vec<Request<'_>> = docs
        .iter()
        .map(|d| Request {
            id: &d.id,
            pages: &d.pages,
        })
        .collect();
    let start = Instant::now();
    let mut recorders: Vec<Recorder> = docs.iter().map(|_| Recorder::start_at(start)).collect();
    let result = {
        let mut sinks: Vec<&mut dyn TokenSink> = recorders
            .iter_mut()
            .map(|r| r as &mut dyn TokenSink)
            .collect();
        engine.recognize_batch(&requests, &mut sinks)
    };
    let end = Instant::now();
    // One failure fails the call: every request of it carries the error.
    let error = result.err().map(|e| e.to_string());
    docs.iter()
        .zip(&recorders)
        .map(|(d, r)| Sample {
            index: 0,
            iteration,
            doc_id: d.id.clone(),
            pages: d.pages.len(),
            start_ms: super::measure::ms_between(origin, start),
            send_lag_ms: None,
            queue_ms: None,
            worker: None,
            error: error.clone(),
            timing: r.timing(streaming, end),
        })
        .collect()
}

/// Measures one batch size on `pool` (`scenario` is `Batch` or `Sweep`); `control` is
/// checked between calls.
pub fn run_batch(
    engine: &mut dyn Engine,
    pool: &[PreparedDoc],
    size: usize,
    dpi: f32,
    repeats: Repeats,
    scenario: Scenario,
    control: Control<'_>,
) -> Measurement {
    let info = engine.info();
    let gpu = super::resources::gpu_index(&info);
    let mode = if engine.batches_natively() {
        BatchMode::Native
    } else {
        BatchMode::Sequential
    };
    let docs = pick(pool, size.max(1));
    let warmup = warm_up(repeats.warmup_rule(), control, Some(gpu), || {
        timed(|| drop(timed_batch(engine, &docs, Instant::now(), 0)))
    });
    let monitor = ResourceMonitor::start(gpu);
    let origin = Instant::now();
    let mut samples = Vec::new();
    let mut calls = 0;
    for i in 0..repeats.iterations {
        if control.stopped() {
            break;
        }
        let call = timed_batch(engine, &docs, origin, i);
        call.iter().for_each(|s| control.finished(s));
        samples.extend(call);
        calls += 1;
    }
    let wall_s = origin.elapsed().as_secs_f64();
    let pages_per_request = docs.iter().map(|d| d.pages.len()).max().unwrap_or(0);
    let label = if scenario == Scenario::Sweep {
        format!("{dpi} DPI × {pages_per_request} p × B={size}")
    } else {
        format!("B={size}")
    };
    let mut m = measure(
        MeasureInput {
            engine: info.name,
            scenario,
            label,
            params: Params {
                dpi,
                batch_size: Some(size),
                pages_per_request,
                ..Params::default()
            },
            batch_mode: mode,
            repeats,
            wall_s,
            resources: monitor.stop(),
            load: None,
        },
        samples,
    );
    m.partial = calls < repeats.iterations;
    m.warmup = warmup;
    m
}
