//! `load`: an open-loop arrival process. Send times are scheduled up front (fixed rate or
//! Poisson, seeded); a dispatcher thread hands each request to a queue at its scheduled
//! time whatever the engines are doing, and a pool of workers (one engine instance each,
//! the concurrency limit) takes requests from the queue in order.
//!
//! Every latency is measured from the **scheduled** send time, so time spent waiting for a
//! free worker is part of TTFT and E2E (no coordinated omission: a slow engine cannot
//! slow the arrivals down and hide its queue). `queue_ms` = engine start − scheduled time.
//!
//! Arrival times (seconds after the first request, which is sent at 0):
//! - fixed: `t_i = i / λ`;
//! - Poisson: `t_i = t_{i−1} + E_i`, `E_i = −ln(1 − U_i) / λ`, `U_i` uniform in [0, 1)
//!   from ChaCha8 seeded with `seed`. The same seed gives the same `U_i` at every rate, so
//!   rates are compared on the same pattern of bursts (common random numbers).

use super::goodput::{self, GroundTruth};
use super::measure::{answered_request, measure, ms_between, timed_request, MeasureInput};
use super::warmup::{timed, warm_up, Warmup, WarmupRule};
use super::{
    BatchMode, BenchError, Control, LoadCapacity, LoadStats, Measurement, Params, PreparedDoc,
    Repeats, ResourceMonitor, Sample, Scenario,
};
use crate::engine::{Engine, Streaming};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How send times are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Evenly spaced sends, 1/rate apart.
    Fixed,
    /// Exponential gaps of mean 1/rate (a Poisson process), seeded by --seed.
    Poisson,
}

/// Service-level limits a request must meet to count towards goodput (`None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    pub ttft_ms: Option<f64>,
    pub tpot_ms: Option<f64>,
    pub e2e_ms: Option<f64>,
}

impl Slo {
    /// Whether a successful request meets every limit given. A TPOT limit is met by a
    /// request without TPOT (fewer than two tokens, or a whole-text engine).
    pub fn met(&self, s: &Sample) -> bool {
        let t = &s.timing;
        let within = |limit: Option<f64>, v: Option<f64>| match (limit, v) {
            (Some(l), Some(v)) => v <= l,
            (Some(_), None) => false,
            (None, _) => true,
        };
        s.error.is_none()
            && within(self.ttft_ms, t.ttft_ms)
            && within(self.e2e_ms, t.e2e_ms)
            && (self.tpot_ms.is_none() || t.tpot_ms.is_none() || within(self.tpot_ms, t.tpot_ms))
    }
}

/// Settings of the load scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadConfig {
    pub arrival: Arrival,
    /// Requested rates, requests per second.
    pub rates: Vec<f64>,
    pub seed: u64,
    /// Workers (engine instances) serving the queue.
    pub concurrency: usize,
    /// Requests sent per rate.
    pub requests: usize,
    /// Unmeasured requests per worker before each rate: at least this many, more until
    /// its latency is stable (`warmup` module).
    pub warmup: usize,
    /// At most this many warm-up requests per worker (0 in files written before the
    /// stability rule).
    #[serde(default)]
    pub warmup_max: usize,
    pub slo: Slo,
    /// p99 E2E limit for the highest-rate search.
    pub p99_limit_ms: Option<f64>,
    /// Share of requests that must count toward goodput (latency-only, and correct and on
    /// time) for a rate to meet the target (`goodput::capacity`).
    #[serde(default = "default_goodput_target")]
    pub goodput_target: f64,
}

fn default_goodput_target() -> f64 {
    goodput::DEFAULT_TARGET
}

impl LoadConfig {
    /// Each worker's warm-up rule.
    pub fn warmup_rule(&self) -> WarmupRule {
        WarmupRule::new(self.warmup, self.warmup_max)
    }

    pub fn validate(&self) -> Result<(), BenchError> {
        if self.rates.is_empty() || self.rates.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
            return Err(BenchError::Config(
                "--rates needs positive request rates (requests/s), e.g. 0.2,0.5,1".into(),
            ));
        }
        if self.requests < 2 {
            return Err(BenchError::Config(
                "--requests must be at least 2 to measure an arrival rate".into(),
            ));
        }
        if self.concurrency == 0 {
            return Err(BenchError::Config(
                "--concurrency must be at least 1".into(),
            ));
        }
        let t = self.goodput_target;
        if !(t.is_finite() && t > 0.0 && t <= 1.0) {
            return Err(BenchError::Config(format!(
                "--goodput-target {t} must be a share of requests in (0, 1], e.g. 0.9"
            )));
        }
        Ok(())
    }
}

/// Scheduled send times in seconds after the first (see module docs).
pub fn arrival_times(arrival: Arrival, rate: f64, n: usize, seed: u64) -> Vec<f64> {
    match arrival {
        Arrival::Fixed => (0..n).map(|i| i as f64 / rate).collect(),
        Arrival::Poisson => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut t = 0.0;
            (0..n)
                .map(|i| {
                    if i > 0 {
                        let u: f64 = rng.random();
                        t += -(1.0 - u).ln() / rate;
                    }
                    t
                })
                .collect()
        }
    }
}

/// `(n − 1) / (last − first)` of ascending times in seconds.
fn rate_of(times: &[f64]) -> f64 {
    match (times.first(), times.last()) {
        (Some(a), Some(b)) if times.len() >= 2 && b > a => (times.len() - 1) as f64 / (b - a),
        _ => 0.0,
    }
}

/// One request handed to the workers.
struct Job {
    index: usize,
    scheduled: Instant,
    sent: Instant,
}

/// Runs `cfg.requests` requests at `rate` on `workers` (one engine instance per worker),
/// cycling through `pool`. Returns the rate's measurement, its answers scored against
/// `truth` after the last response. Once `control` is stopped no request is sent or
/// started; the requests in flight finish.
pub fn run_load(
    workers: &mut [Box<dyn Engine>],
    pool: &[PreparedDoc],
    truth: &GroundTruth<'_>,
    rate: f64,
    dpi: f32,
    cfg: &LoadConfig,
    control: Control<'_>,
) -> Result<Measurement, BenchError> {
    cfg.validate()?;
    if workers.is_empty() {
        return Err(BenchError::NoWorkers(0));
    }
    if pool.is_empty() {
        return Err(BenchError::NoPages(
            "the load scenario has no request".into(),
        ));
    }
    truth.check(pool.len())?;
    let info = workers[0].info();
    let gpu = super::resources::gpu_index(&info);
    let default_format = workers[0].default_output_format();
    let warmups: Vec<Warmup> = workers
        .iter_mut()
        .filter_map(|w| {
            warm_up(cfg.warmup_rule(), control, Some(gpu), || {
                let t = Instant::now();
                timed(|| drop(timed_request(w.as_mut(), info.streaming, &pool[0], t, t)))
            })
        })
        .collect();
    let schedule = arrival_times(cfg.arrival, rate, cfg.requests, cfg.seed);
    let monitor = ResourceMonitor::start(gpu);
    // A short lead so every worker is waiting on the queue before the first send.
    let t0 = Instant::now() + Duration::from_millis(20);
    let (served, sent_at) = send_and_serve(workers, info.streaming, pool, &schedule, t0, control);
    let wall_s = t0.elapsed().as_secs_f64();
    let resources = monitor.stop();
    let (samples, answers) = in_request_order(served);
    // After the last response: no latency, arrival or resource figure includes it.
    let correct = goodput::assess(
        truth,
        &samples,
        &answers,
        (&info.name, default_format),
        &cfg.slo,
        wall_s,
    );
    let met = samples.iter().filter(|s| cfg.slo.met(s)).count();
    let max_send_lag_ms = samples
        .iter()
        .filter_map(|s| s.send_lag_ms)
        .fold(0.0, f64::max);
    let load = LoadStats {
        arrival: cfg.arrival,
        requested_rate: rate,
        scheduled_rate: rate_of(&schedule),
        achieved_rate: rate_of(&sent_at),
        concurrency: workers.len(),
        goodput_rps: met as f64 / wall_s,
        slo_attainment: met as f64 / samples.len().max(1) as f64,
        slo: cfg.slo,
        max_send_lag_ms,
        correct,
    };
    let partial = samples.len() < cfg.requests;
    let mut m = measure(
        MeasureInput {
            engine: info.name,
            scenario: Scenario::Load,
            label: format!("{rate} req/s"),
            params: Params {
                dpi,
                pages_per_request: pool[0].pages.len(),
                rate: Some(rate),
                ..Params::default()
            },
            batch_mode: BatchMode::Unbatched,
            repeats: Repeats {
                warmup: cfg.warmup,
                iterations: cfg.requests,
                warmup_max: cfg.warmup_max,
            },
            wall_s,
            resources,
            load: Some(load),
        },
        samples,
    );
    m.partial = partial;
    m.warmup = Warmup::together(warmups);
    Ok(m)
}

/// The served requests in sending order, numbered as [`measure`] numbers them, and their
/// answers beside them.
fn in_request_order(mut served: Vec<(Sample, String)>) -> (Vec<Sample>, Vec<String>) {
    served.sort_by_key(|(s, _)| s.iteration);
    let (mut samples, answers): (Vec<Sample>, Vec<String>) = served.into_iter().unzip();
    for (i, s) in samples.iter_mut().enumerate() {
        s.index = i;
    }
    (samples, answers)
}

/// Sends the requests at their `schedule`d times (seconds after `t0`) into a queue that
/// `workers` serve, each with its own engine; returns the samples (in finishing order per
/// worker) with their answers, and the actual send times. Stopped, no request is sent or
/// started.
fn send_and_serve(
    workers: &mut [Box<dyn Engine>],
    streaming: Streaming,
    pool: &[PreparedDoc],
    schedule: &[f64],
    t0: Instant,
    control: Control<'_>,
) -> (Vec<(Sample, String)>, Vec<f64>) {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Mutex::new(rx);
    let mut sent_at: Vec<f64> = Vec::with_capacity(schedule.len());
    let samples = std::thread::scope(|scope| {
        let handles: Vec<_> = workers
            .iter_mut()
            .enumerate()
            .map(|(w, engine)| {
                let rx = &rx;
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match rx.lock().map(|r| r.recv()) {
                            Ok(Ok(job)) => job,
                            _ => break,
                        };
                        if control.stopped() {
                            // Drain the queue without serving it.
                            continue;
                        }
                        let doc = &pool[job.index % pool.len()];
                        let began = Instant::now();
                        let (mut s, answer) =
                            answered_request(engine.as_mut(), streaming, doc, job.scheduled, t0);
                        s.iteration = job.index;
                        s.worker = Some(w);
                        s.queue_ms = Some(ms_between(job.scheduled, began));
                        s.send_lag_ms = Some(ms_between(job.scheduled, job.sent));
                        control.finished(&s);
                        done.push((s, answer));
                    }
                    done
                })
            })
            .collect();
        for (index, &t) in schedule.iter().enumerate() {
            let scheduled = t0 + Duration::from_secs_f64(t);
            control.sleep_until(scheduled);
            if control.stopped() {
                break;
            }
            let sent = Instant::now();
            sent_at.push((sent - t0).as_secs_f64());
            // Workers only stop after the sender is dropped, so the send cannot fail.
            let _ = tx.send(Job {
                index,
                scheduled,
                sent,
            });
        }
        drop(tx);
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    (samples, sent_at)
}

/// The highest tested rate of `engine` whose p99 E2E is within `limit_ms`.
pub fn capacity(measurements: &[Measurement], engine: &str, limit_ms: f64) -> LoadCapacity {
    let mut tested: Vec<(f64, Option<f64>)> = measurements
        .iter()
        .filter(|m| m.engine == engine && m.scenario == Scenario::Load)
        .filter_map(|m| {
            let p99 = m.latency.e2e_ms.as_ref().map(|s| s.summary.p99);
            // A rate where a request failed does not meet the limit.
            let p99 = if m.failed > 0 { None } else { p99 };
            Some((m.params.rate?, p99))
        })
        .collect();
    tested.sort_by(|a, b| a.0.total_cmp(&b.0));
    let max_rate = tested
        .iter()
        .filter(|(_, p)| p.is_some_and(|p| p <= limit_ms))
        .map(|(r, _)| *r)
        .fold(None, |acc: Option<f64>, r| {
            Some(acc.map_or(r, |a| a.max(r)))
        });
    LoadCapacity {
        engine: engine.to_string(),
        p99_limit_ms: limit_ms,
        max_rate,
        tested,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_arrivals_are_evenly_spaced() {
        let t = arrival_times(Arrival::Fixed, 4.0, 5, 1);
        assert_eq!(t, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(rate_of(&t), 4.0);
    }

    #[test]
    fn poisson_arrivals_have_the_requested_mean_rate_and_are_seeded() {
        let t = arrival_times(Arrival::Poisson, 2.0, 20_001, 7);
        // 20,000 exponential gaps of mean 0.5 s: the rate's relative standard error is
        // 1/√20000 ≈ 0.7%, so 3% is a > 4σ bound.
        assert!((rate_of(&t) - 2.0).abs() < 0.06, "{}", rate_of(&t));
        assert!(t.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(t, arrival_times(Arrival::Poisson, 2.0, 20_001, 7));
        assert_ne!(t, arrival_times(Arrival::Poisson, 2.0, 20_001, 8));
        // Coefficient of variation of exponential gaps is 1.
        let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        assert!((var.sqrt() / mean - 1.0).abs() < 0.05);
        // Same uniforms at another rate: the pattern scales.
        let u = arrival_times(Arrival::Poisson, 4.0, 100, 7);
        let v = arrival_times(Arrival::Poisson, 2.0, 100, 7);
        assert!(u.iter().zip(&v).all(|(a, b)| (2.0 * a - b).abs() < 1e-9));
    }

    #[test]
    fn slo_checks_each_limit() {
        let timing = crate::report::Timing {
            timed: true,
            ttft_ms: Some(100.0),
            e2e_ms: Some(900.0),
            tpot_ms: Some(5.0),
            ..Default::default()
        };
        let mut s = Sample::for_tests(0, 0, timing);
        assert!(Slo::default().met(&s));
        let slo = Slo {
            ttft_ms: Some(200.0),
            tpot_ms: Some(10.0),
            e2e_ms: Some(1000.0),
        };
        assert!(slo.met(&s));
        s.timing.e2e_ms = Some(1500.0);
        assert!(!slo.met(&s));
        s.timing.e2e_ms = Some(900.0);
        s.timing.tpot_ms = None; // whole-text engine: TPOT not defined, not held against it
        assert!(slo.met(&s));
        s.error = Some("x".into());
        assert!(!slo.met(&s));
    }

    #[test]
    fn validation_names_the_flag() {
        let cfg = LoadConfig {
            arrival: Arrival::Fixed,
            rates: vec![0.0],
            seed: 1,
            concurrency: 1,
            requests: 5,
            warmup: 0,
            warmup_max: 0,
            slo: Slo::default(),
            p99_limit_ms: None,
            goodput_target: 0.9,
        };
        assert!(cfg.validate().unwrap_err().to_string().contains("--rates"));
        let cfg = LoadConfig {
            rates: vec![1.0],
            requests: 1,
            ..cfg
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--requests"));
        for t in [0.0, 1.5, f64::NAN] {
            let cfg = LoadConfig {
                requests: 5,
                goodput_target: t,
                ..cfg.clone()
            };
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains("--goodput-target"), "{e}");
        }
    }
}
