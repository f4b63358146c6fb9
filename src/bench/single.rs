//! `single`: warm-up runs until latency is stable (excluded), then N iterations of one page, one request at a time.

use super::measure::{measure, timed_request, MeasureInput};
use super::warmup::{timed, warm_up};
use super::{
    BatchMode, Control, Measurement, Params, PreparedDoc, Repeats, ResourceMonitor, Scenario,
};
use crate::engine::Engine;
use std::time::Instant;

/// Runs `doc` `repeats.warmup` times unmeasured, then `repeats.iterations` times measured
/// (fewer when `control` stops it).
pub fn run_single(
    engine: &mut dyn Engine,
    doc: &PreparedDoc,
    dpi: f32,
    repeats: Repeats,
    control: Control<'_>,
) -> Measurement {
    let info = engine.info();
    let gpu = super::resources::gpu_index(&info);
    let warmup = warm_up(repeats.warmup_rule(), control, Some(gpu), || {
        let t = Instant::now();
        timed(|| drop(timed_request(engine, info.streaming, doc, t, t)))
    });
    let monitor = ResourceMonitor::start(gpu);
    let origin = Instant::now();
    let mut samples = Vec::with_capacity(repeats.iterations);
    for i in 0..repeats.iterations {
        if control.stopped() {
            break;
        }
        let mut s = timed_request(engine, info.streaming, doc, Instant::now(), origin);
        s.iteration = i;
        control.finished(&s);
        samples.push(s);
    }
    let wall_s = origin.elapsed().as_secs_f64();
    let partial = samples.len() < repeats.iterations;
    let mut m = measure(
        MeasureInput {
            engine: info.name,
            scenario: Scenario::Single,
            label: format!("{} @ {dpi} DPI", doc.id),
            params: Params {
                dpi,
                pages_per_request: doc.pages.len(),
                ..Params::default()
            },
            batch_mode: BatchMode::Unbatched,
            repeats,
            wall_s,
            resources: monitor.stop(),
            load: None,
        },
        samples,
    );
    m.partial = partial;
    m.warmup = warmup;
    m
}
