//! The parts every scenario shares: timing one request with the pipeline's recorder, and
//! turning a list of samples into a [`Measurement`] with its statistics.

use super::{
    BatchMode, LatencyStats, LoadStats, Measurement, MetricStats, Params, PreparedDoc, Repeats,
    Resources, Sample, Scenario, Throughput,
};
use crate::engine::{Engine, Request, Stage, Streaming};
use crate::pipeline::Recorder;
use crate::stats::{bootstrap_ci, mad_outliers, percentile, summarize, BootstrapConfig};
use std::time::Instant;

/// Runs one request through `engine`, timed from `start` (the call itself, or a load
/// request's scheduled send time). `origin` is the measurement's start, for `start_ms`.
pub fn timed_request(
    engine: &mut dyn Engine,
    streaming: Streaming,
    doc: &PreparedDoc,
    start: Instant,
    origin: Instant,
) -> Sample {
    run_request(engine, streaming, doc, start, origin).0
}

/// [`timed_request`] that also returns the engine's answer, copied after the clock stopped
/// (`load` scores it later for correct-and-on-time goodput).
pub fn answered_request(
    engine: &mut dyn Engine,
    streaming: Streaming,
    doc: &PreparedDoc,
    start: Instant,
    origin: Instant,
) -> (Sample, String) {
    let (sample, recorder) = run_request(engine, streaming, doc, start, origin);
    (sample, recorder.text().to_string())
}

fn run_request(
    engine: &mut dyn Engine,
    streaming: Streaming,
    doc: &PreparedDoc,
    start: Instant,
    origin: Instant,
) -> (Sample, Recorder) {
    let mut recorder = Recorder::start_at(start);
    let request = Request {
        id: &doc.id,
        pages: &doc.pages,
    };
    let error = engine
        .recognize(&request, &mut recorder)
        .err()
        .map(|e| e.to_string());
    let timing = recorder.timing(streaming, Instant::now());
    let sample = Sample {
        index: 0,
        iteration: 0,
        doc_id: doc.id.clone(),
        pages: doc.pages.len(),
        start_ms: ms_between(origin, start),
        send_lag_ms: None,
        queue_ms: None,
        worker: None,
        error,
        timing,
    };
    (sample, recorder)
}

/// Signed milliseconds from `a` to `b`.
pub(crate) fn ms_between(a: Instant, b: Instant) -> f64 {
    if b >= a {
        (b - a).as_secs_f64() * 1e3
    } else {
        -((a - b).as_secs_f64() * 1e3)
    }
}

/// What [`measure`] needs besides the samples.
pub struct MeasureInput {
    pub engine: String,
    pub scenario: Scenario,
    pub label: String,
    pub params: Params,
    pub batch_mode: BatchMode,
    pub repeats: Repeats,
    /// Wall time of the measured part.
    pub wall_s: f64,
    pub resources: Resources,
    pub load: Option<LoadStats>,
}

/// Builds a measurement: numbers the samples, computes per-metric statistics over the
/// successful ones, and the throughput over `wall_s`.
pub fn measure(input: MeasureInput, mut samples: Vec<Sample>) -> Measurement {
    for (i, s) in samples.iter_mut().enumerate() {
        s.index = i;
    }
    let ok: Vec<&Sample> = samples.iter().filter(|s| s.error.is_none()).collect();
    let timed: Vec<&Sample> = ok.iter().copied().filter(|s| s.timing.timed).collect();
    let collect = |f: &dyn Fn(&Sample) -> Option<f64>| -> Vec<f64> {
        timed.iter().filter_map(|s| f(s)).collect()
    };
    let itl: Vec<f64> = timed
        .iter()
        .flat_map(|s| s.timing.itl_ms.iter().copied())
        .collect();
    let latency = LatencyStats {
        ttft_ms: metric_stats(&collect(&|s| s.timing.ttft_ms), true),
        tpot_ms: metric_stats(&collect(&|s| s.timing.tpot_ms), true),
        itl_ms: metric_stats(&itl, false),
        e2e_ms: metric_stats(&collect(&|s| s.timing.e2e_ms), true),
        queue_ms: metric_stats(&collect(&|s| s.queue_ms), true),
    };
    let throughput = throughput(&ok, input.wall_s);
    Measurement {
        engine: input.engine,
        scenario: input.scenario,
        label: input.label,
        params: input.params,
        batch_mode: input.batch_mode,
        repeats: input.repeats,
        failed: samples.len() - ok.len(),
        partial: false,
        samples,
        latency,
        throughput,
        resources: input.resources,
        load: input.load,
        warmup: None,
        prefix: None,
    }
}

fn throughput(ok: &[&Sample], wall_s: f64) -> Throughput {
    let output_tokens: usize = ok.iter().map(|s| s.timing.output_tokens).sum();
    let pages: usize = ok.iter().map(|s| s.pages).sum();
    let per_s = |x: f64| if wall_s > 0.0 { x / wall_s } else { 0.0 };
    // Decode time: the requests' decode stages summed. In a natively batched call a step
    // shared by several requests is reported to each of them, so the sum counts it more
    // than once and the rate is a lower bound; the built-in model batches lines in chunks
    // that mostly belong to one page, so few steps are shared. (Taking the longest request
    // instead would miss the chunks the others ran alone.)
    let decode: Vec<f64> = ok
        .iter()
        .filter_map(|s| s.stage_ms(Stage::Decode))
        .collect();
    let decode_s = decode.iter().sum::<f64>() / 1e3;
    Throughput {
        wall_s,
        requests: ok.len(),
        pages,
        output_tokens,
        tokens_per_s: per_s(output_tokens as f64),
        pages_per_s: per_s(pages as f64),
        requests_per_s: per_s(ok.len() as f64),
        decode_tokens_per_s: (!decode.is_empty() && decode_s > 0.0)
            .then(|| output_tokens as f64 / decode_s),
    }
}

/// Summary, bootstrap CIs of p50 and p95 (when `ci`), MAD outliers and sample-size
/// warnings; `None` for an empty metric.
pub(crate) fn metric_stats(values: &[f64], ci: bool) -> Option<MetricStats> {
    let summary = summarize(values)?;
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = summary.count;
    let cfg = BootstrapConfig::default();
    let pct = |q: f64| move |x: &[f64]| percentile(x, q).unwrap_or(f64::NAN);
    let (p50_ci, p95_ci) = if ci && n >= 2 {
        (
            bootstrap_ci(&finite, pct(50.0), &cfg).ok(),
            bootstrap_ci(&finite, pct(95.0), &cfg).ok(),
        )
    } else {
        (None, None)
    };
    let outliers = mad_outliers(&finite)
        .map(|r| r.outlier_indices())
        .unwrap_or_default();
    let mut warnings = Vec::new();
    if summary.p99_low_sample {
        warnings.push(format!(
            "p99 from {n} samples (< 100): it is interpolated between the largest values"
        ));
    }
    if summary.p95_low_sample {
        warnings.push(format!("p95 from {n} samples (< 20)"));
    }
    if ci && n < 10 {
        warnings.push(format!(
            "bootstrap intervals from {n} samples (< 10) are too narrow to trust"
        ));
    }
    Some(MetricStats {
        summary,
        std_kind: "sample (n − 1)".into(),
        p50_ci,
        p95_ci,
        outliers,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Timing;

    fn sample(iteration: usize, e2e: f64, decode: f64, tokens: usize) -> Sample {
        let mut timing = Timing {
            timed: true,
            e2e_ms: Some(e2e),
            ttft_ms: Some(e2e / 2.0),
            output_tokens: tokens,
            itl_ms: vec![1.0, 2.0],
            ..Timing::default()
        };
        timing.stages_ms.insert(Stage::Decode, decode);
        Sample::for_tests(9, iteration, timing)
    }

    fn input(mode: BatchMode, wall_s: f64) -> MeasureInput {
        MeasureInput {
            engine: "e".into(),
            scenario: Scenario::Batch,
            label: "B=2".into(),
            params: Params::default(),
            batch_mode: mode,
            repeats: Repeats {
                warmup: 0,
                iterations: 1,
                warmup_max: 0,
            },
            wall_s,
            resources: Resources::default(),
            load: None,
        }
    }

    #[test]
    fn throughput_and_decode_rate() {
        let samples = vec![sample(0, 10.0, 500.0, 50), sample(0, 12.0, 400.0, 50)];
        let m = measure(input(BatchMode::Native, 2.0), samples);
        assert_eq!(m.throughput.tokens_per_s, 50.0);
        assert_eq!(m.throughput.pages_per_s, 1.0);
        assert_eq!(m.samples[1].index, 1);
        // 100 tokens over 500 + 400 ms of decode.
        assert!((m.throughput.decode_tokens_per_s.unwrap() - 100.0 / 0.9).abs() < 1e-9);
        let e2e = m.latency.e2e_ms.unwrap();
        assert_eq!(e2e.summary.count, 2);
        assert_eq!(e2e.summary.p50, 11.0);
        assert!(e2e.warnings.iter().any(|w| w.contains("p99 from 2")));
        assert_eq!(m.latency.itl_ms.unwrap().summary.count, 4);
        assert!(m.latency.queue_ms.is_none());
    }

    #[test]
    fn failed_requests_are_kept_but_not_timed() {
        let mut bad = sample(1, 1e6, 1.0, 3);
        bad.error = Some("boom".into());
        let m = measure(
            input(BatchMode::Unbatched, 1.0),
            vec![sample(0, 10.0, 5.0, 3), bad],
        );
        assert_eq!(m.failed, 1);
        assert_eq!(m.samples.len(), 2);
        assert_eq!(m.latency.e2e_ms.unwrap().summary.max, 10.0);
        assert_eq!(m.throughput.requests, 1);
    }

    #[test]
    fn metric_stats_flags_an_outlier_and_gives_intervals() {
        let mut v: Vec<f64> = (0..30).map(|i| 100.0 + (i % 5) as f64).collect();
        v.push(1000.0);
        let s = metric_stats(&v, true).unwrap();
        assert_eq!(s.outliers, vec![30]);
        let ci = s.p50_ci.unwrap();
        assert!(ci.lower <= s.summary.p50 && s.summary.p50 <= ci.upper);
        assert!(s.p95_ci.is_some());
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings); // only the p99 one
        assert!(metric_stats(&[], true).is_none());
        assert!(metric_stats(&[1.0, 2.0], false).unwrap().p50_ci.is_none());
    }
}
