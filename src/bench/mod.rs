//! `medocr bench`: latency, throughput and load scenarios on any engine, with the
//! statistics of [`crate::stats`] and the process's resource use (see `docs/bench.md`).
//!
//! Every scenario produces [`Measurement`]s: one group of timed requests under one setting
//! (a batch size, a DPI, a request rate, a document length, a time window). A measurement
//! keeps every per-request [`Sample`] and derives its statistics from them, so a report can
//! always be recomputed from the raw numbers.
//!
//! Requests are timed by the pipeline's [`Recorder`](crate::pipeline::Recorder), so TTFT,
//! TPOT and ITL mean exactly what they mean in `medocr run`. Pages are rendered once before
//! any timing: a bench request starts when the engine is called (load: when it was
//! scheduled), and rendering is reported on its own (`PreparedDoc::render_ms`).

pub mod batch;
pub mod comparison;
pub mod goodput;
pub mod gpu_state;
pub mod load;
pub mod long;
pub mod overhead;
pub mod plan;
pub mod prefix;
pub mod resources;
pub mod server_cache;
pub mod single;
pub mod soak;
pub mod sweep;
pub mod warmup;

mod measure;

pub use comparison::{compare_engines, ComparisonRow};
pub use load::{arrival_times, Arrival, LoadConfig, Slo};
pub use measure::{answered_request, measure, timed_request, MeasureInput};
pub use plan::{BenchProgress, Plan};
pub use resources::{GpuStats, ResourceMonitor, Resources};

use crate::engine::{EngineInfo, Stage};
use crate::render::Page;
use crate::report::{Environment, Timing};
use crate::stats::{ConfidenceInterval, Summary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Version of `bench.json`'s layout.
pub const BENCH_SCHEMA_VERSION: u32 = 1;

/// Which scenario a measurement belongs to.
/// The variants' comments are `medocr bench --scenario`'s help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Warm-up runs, then --iterations runs of one page: TTFT, TPOT, ITL, E2E statistics.
    Single,
    /// --batch-sizes pages in one batched call each: throughput and peak memory per size.
    Batch,
    /// Batch size × input size grid: --dpi list × --pages list × --batch-sizes.
    Sweep,
    /// Open-loop arrivals at --rates (fixed or Poisson), latency from the scheduled send.
    Load,
    /// TTFT and memory as the document grows (--pages, default 1,2,4,8).
    Long,
    /// Requests back to back for --duration, reported per --window.
    Soak,
    /// Prefix sharing: --iterations requests each of the same instruction, the same page and
    /// one form template, against as many sharing nothing; prefix-cache hit rate, TTFT,
    /// throughput.
    Prefix,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Single => "single",
            Scenario::Batch => "batch",
            Scenario::Sweep => "sweep",
            Scenario::Load => "load",
            Scenario::Long => "long",
            Scenario::Soak => "soak",
            Scenario::Prefix => "prefix",
        }
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a caller follows and stops a running scenario. The stop flag is checked between
/// requests, so a stop takes effect once the requests in flight have finished; the scenario
/// then returns what it measured, the measurement it was in marked `partial`.
#[derive(Clone, Copy, Default)]
pub struct Control<'a> {
    /// Set (by a Ctrl-C handler) to stop early.
    pub stop: Option<&'a AtomicBool>,
    /// Called after each measured request; in `load` from the worker threads.
    pub on_request: Option<&'a (dyn Fn(&Sample) + Sync)>,
}

impl Control<'_> {
    pub fn stopped(&self) -> bool {
        self.stop.is_some_and(|s| s.load(Ordering::SeqCst))
    }

    pub(crate) fn finished(&self, s: &Sample) {
        if let Some(f) = self.on_request {
            f(s);
        }
    }

    /// Sleeps until `deadline`, waking early when stopped (a slow arrival rate can leave
    /// seconds between sends).
    pub(crate) fn sleep_until(&self, deadline: Instant) {
        let slice = if self.stop.is_some() {
            Duration::from_millis(50)
        } else {
            Duration::MAX
        };
        loop {
            let now = Instant::now();
            if now >= deadline || self.stopped() {
                return;
            }
            std::thread::sleep((deadline - now).min(slice));
        }
    }
}

/// Problems that stop a bench before or while it measures (an engine failing on one
/// request is not one: that request's sample carries the error).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid bench setting: {0}")]
    Config(String),
    /// A flag out of its range, named in the message.
    #[error("{0}")]
    Flag(String),
    #[error("no pages to benchmark: {0}")]
    NoPages(String),
    #[error("cannot parse duration `{0}` (examples: 500ms, 2s, 1.5m, 30m, 1h)")]
    Duration(String),
    #[error("load scenario needs one engine per worker, got {0}")]
    NoWorkers(usize),
    #[error("rendering {id} at {dpi} DPI: {message}")]
    Render {
        id: String,
        dpi: f32,
        message: String,
    },
}

/// A document ready for an engine: its pages rendered once, before any timing.
#[derive(Debug, Clone)]
pub struct PreparedDoc {
    pub id: String,
    pub pages: Vec<Page>,
    /// Wall time of rendering these pages (not part of any bench latency).
    pub render_ms: f64,
}

impl PreparedDoc {
    /// One page of a prepared document as a document of its own (`<id>#p<n>`).
    pub fn page(&self, index: usize) -> PreparedDoc {
        let page = self.pages[index].clone();
        PreparedDoc {
            id: format!("{}#p{}", self.id, index + 1),
            render_ms: self.render_ms / self.pages.len().max(1) as f64,
            pages: vec![Page { index: 0, ..page }],
        }
    }

    /// A document of `n` pages made by concatenating `pool`'s pages in order, cycling when
    /// the pool has fewer (the `long` scenario's growing documents).
    pub fn concatenated(pool: &[PreparedDoc], n: usize) -> Result<PreparedDoc, BenchError> {
        let pages: Vec<&Page> = pool.iter().flat_map(|d| d.pages.iter()).collect();
        if pages.is_empty() {
            return Err(BenchError::NoPages("the dataset rendered no page".into()));
        }
        let render_per_page = pool.iter().map(|d| d.render_ms).sum::<f64>() / pages.len() as f64;
        Ok(PreparedDoc {
            id: format!("concat-{n}p"),
            pages: (0..n)
                .map(|i| Page {
                    index: i,
                    ..pages[i % pages.len()].clone()
                })
                .collect(),
            render_ms: render_per_page * n as f64,
        })
    }
}

/// Splits prepared documents into single pages (the unit of `single`, `batch` and `load`).
pub fn single_pages(pool: &[PreparedDoc]) -> Vec<PreparedDoc> {
    pool.iter()
        .flat_map(|d| (0..d.pages.len()).map(move |i| d.page(i)))
        .collect()
}

/// Warm-up and measured repetitions of a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repeats {
    /// Runs before measuring, excluded from every figure (caches, allocator, lazy init):
    /// at least this many, more until the latency is stable (`warmup` module).
    pub warmup: usize,
    /// Measured runs.
    pub iterations: usize,
    /// At most this many warm-up runs while waiting for stable latency (0 in files
    /// written before the stability rule: they warmed up exactly `warmup` times).
    #[serde(default)]
    pub warmup_max: usize,
}

impl Repeats {
    /// The warm-up rule of these repeats.
    pub fn warmup_rule(&self) -> warmup::WarmupRule {
        warmup::WarmupRule::new(self.warmup, self.warmup_max)
    }
}

/// How a batch was executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchMode {
    /// One request per call.
    Unbatched,
    /// The engine ran the requests through shared batched forward passes.
    Native,
    /// The engine has no batching: `recognize_batch` read the requests one after another.
    Sequential,
}

/// The setting a measurement was taken under; fields a scenario does not vary are `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub dpi: f32,
    /// Requests per `recognize_batch` call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Pages per request.
    pub pages_per_request: usize,
    /// Requested arrival rate (requests/s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Soak window index (0-based) and its bounds in seconds since the soak started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<(usize, f64, f64)>,
}

/// One timed request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// Order within the measurement.
    pub index: usize,
    /// Which repetition (batch call, load request) it belonged to.
    pub iteration: usize,
    pub doc_id: String,
    pub pages: usize,
    /// Request start (load: its scheduled send time) in ms since the measurement began.
    pub start_ms: f64,
    /// Load only: actual send time − scheduled send time (the dispatcher's own lateness).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lag_ms: Option<f64>,
    /// Load only: engine start − scheduled send time (waiting for a free worker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_ms: Option<f64>,
    /// Load only: the worker (engine instance) that served it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// TTFT, TPOT, ITL, E2E, tokens and stages, exactly as `medocr run` records them.
    pub timing: Timing,
}

impl Sample {
    /// Milliseconds the engine spent in `stage` for this request.
    pub fn stage_ms(&self, stage: Stage) -> Option<f64> {
        self.timing.stages_ms.get(&stage).copied()
    }

    /// A one-page request of document `d`, started at 0, with `timing` (unit tests' fixture).
    #[cfg(test)]
    pub(crate) fn for_tests(index: usize, iteration: usize, timing: Timing) -> Sample {
        Sample {
            index,
            iteration,
            doc_id: "d".into(),
            pages: 1,
            start_ms: 0.0,
            send_lag_ms: None,
            queue_ms: None,
            worker: None,
            error: None,
            timing,
        }
    }
}

/// Statistics of one timing metric over a measurement's samples.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricStats {
    /// Count, mean, std, min/max, p50/p90/p95/p99 (numpy linear), TLR = p99/p50.
    pub summary: Summary,
    /// Which standard deviation `summary.std` is.
    pub std_kind: String,
    /// Percentile-bootstrap 95% intervals (not for ITL: gaps within a request are not
    /// independent draws, so an i.i.d. bootstrap would understate their spread).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ci: Option<ConfidenceInterval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ci: Option<ConfidenceInterval>,
    /// Indices (into the metric's values, i.e. the successful samples in order) of the
    /// values flagged by the median/MAD modified z-score (|M| > 3.5).
    pub outliers: Vec<usize>,
    /// e.g. "p99 from 20 samples (< 100): it is close to the maximum".
    pub warnings: Vec<String>,
}

/// Per-metric statistics of a measurement.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LatencyStats {
    pub ttft_ms: Option<MetricStats>,
    pub tpot_ms: Option<MetricStats>,
    /// All inter-token gaps of all requests, pooled.
    pub itl_ms: Option<MetricStats>,
    pub e2e_ms: Option<MetricStats>,
    /// Load only: waiting time before a worker took the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_ms: Option<MetricStats>,
}

/// Work done per unit of wall time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Wall time of the measured part (warm-up excluded).
    pub wall_s: f64,
    pub requests: usize,
    pub pages: usize,
    pub output_tokens: usize,
    pub tokens_per_s: f64,
    pub pages_per_s: f64,
    pub requests_per_s: f64,
    /// Output tokens / the requests' decode-stage times summed, where the engine reports a
    /// decode stage: the rate the roofline compares with (a lower bound for a native batch,
    /// whose shared steps are reported to every request in them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_tokens_per_s: Option<f64>,
}

/// Load-scenario figures of one request rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadStats {
    pub arrival: Arrival,
    pub requested_rate: f64,
    /// (n − 1) / (last scheduled − first scheduled): the schedule's own rate (for Poisson
    /// arrivals it differs from the requested one by chance).
    pub scheduled_rate: f64,
    /// (n − 1) / (last actual send − first actual send).
    pub achieved_rate: f64,
    pub concurrency: usize,
    /// Requests meeting every SLO limit given, per second of wall time.
    pub goodput_rps: f64,
    /// Fraction of requests meeting every SLO limit given (1 when none is given).
    pub slo_attainment: f64,
    pub slo: Slo,
    /// Worst dispatcher lateness (actual − scheduled send).
    pub max_send_lag_ms: f64,
    /// Correct-and-on-time goodput: requests also within their type's CER limit and
    /// without a critical field error (`goodput` module); absent in older files (n/a).
    #[serde(default)]
    pub correct: goodput::CorrectGoodput,
}

/// One group of timed requests under one setting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    pub engine: String,
    pub scenario: Scenario,
    /// Human label of the setting ("B=4", "150 DPI × B=2", "0.5 req/s", "window 3").
    pub label: String,
    pub params: Params,
    pub batch_mode: BatchMode,
    pub repeats: Repeats,
    /// Requests that failed (excluded from the latency statistics, kept as samples).
    pub failed: usize,
    /// Stopped (Ctrl-C) before every request `repeats` asks for had run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    pub samples: Vec<Sample>,
    pub latency: LatencyStats,
    pub throughput: Throughput,
    pub resources: Resources,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadStats>,
    /// The warm-up before this measurement (for `load`, every worker's together); absent
    /// when warm-up was off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<warmup::Warmup>,
    /// `prefix` only: what the requests shared and the prefix-cache hit rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<prefix::PrefixStats>,
}

/// An engine as the bench saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineEntry {
    pub info: EngineInfo,
    pub batches_natively: bool,
}

/// The highest tested rate whose p99 E2E stays within a limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadCapacity {
    pub engine: String,
    pub p99_limit_ms: f64,
    /// `None` when no tested rate met the limit.
    pub max_rate: Option<f64>,
    /// Rates tested, ascending, with their p99 E2E (`None`: no successful request).
    pub tested: Vec<(f64, Option<f64>)>,
}

/// Drift of a soak run: its last window against its first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoakDrift {
    pub engine: String,
    pub windows: usize,
    pub p50_first_ms: Option<f64>,
    pub p50_last_ms: Option<f64>,
    pub p99_first_ms: Option<f64>,
    pub p99_last_ms: Option<f64>,
    /// (last − first) / first, as a fraction.
    pub p50_change: Option<f64>,
    pub p99_change: Option<f64>,
    pub peak_rss_first_mib: Option<f64>,
    pub peak_rss_last_mib: Option<f64>,
}

/// The bench's settings, recorded for reproducibility.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchSettings {
    pub dataset: String,
    pub manifest_sha256: String,
    /// Documents whose pages were used.
    pub documents: Vec<String>,
    pub dpis: Vec<f32>,
    pub repeats: Repeats,
    #[serde(default)]
    pub batch_sizes: Vec<usize>,
    #[serde(default)]
    pub pages: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_s: Option<f64>,
    /// Mean render time per page at each DPI (pdfium; not part of any latency here).
    #[serde(default)]
    pub render_ms_per_page: BTreeMap<String, f64>,
    /// `load`: the SLA profiles correct-and-on-time goodput was scored against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<goodput::ProfilesUsed>,
}

/// Everything a bench run measured: `bench.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    pub schema_version: u32,
    pub run_id: String,
    pub started: String,
    pub scenario: Scenario,
    /// Stopped by Ctrl-C / SIGTERM: the report holds only the measurements that ran.
    #[serde(default)]
    pub interrupted: bool,
    pub settings: BenchSettings,
    pub environment: Environment,
    pub engines: Vec<EngineEntry>,
    pub measurements: Vec<Measurement>,
    #[serde(default)]
    pub load_capacity: Vec<LoadCapacity>,
    #[serde(default)]
    pub soak_drift: Vec<SoakDrift>,
    /// `load`: per engine, the highest tested rates whose latency-only and
    /// correct-and-on-time goodput meet `--goodput-target`.
    #[serde(default)]
    pub goodput_capacity: Vec<goodput::GoodputCapacity>,
    /// The harness's own cost, measured with a null engine in this process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead: Option<overhead::HarnessOverhead>,
    /// Notes a reader must see (sequential batches, NVML absent, low sample counts …).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl BenchReport {
    /// The measurements of one engine, in order.
    pub fn of_engine<'a>(&'a self, engine: &'a str) -> impl Iterator<Item = &'a Measurement> {
        self.measurements.iter().filter(move |m| m.engine == engine)
    }
}

/// Parses `500ms`, `2s`, `1.5m`, `30m`, `1h` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, BenchError> {
    let t = s.trim();
    let err = || BenchError::Duration(s.to_string());
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num.trim().parse().map_err(|_| err())?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(v * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5m").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn concatenated_documents_cycle_pages() {
        let page = |v: u8| Page {
            image: image::GrayImage::from_pixel(2, 2, image::Luma([v])),
            dpi: 72.0,
            index: 0,
        };
        let pool = vec![PreparedDoc {
            id: "a".into(),
            pages: vec![page(1), page(2)],
            render_ms: 4.0,
        }];
        let d = PreparedDoc::concatenated(&pool, 5).unwrap();
        assert_eq!(d.pages.len(), 5);
        let idx: Vec<usize> = d.pages.iter().map(|p| p.index).collect();
        assert_eq!(idx, [0, 1, 2, 3, 4]);
        assert_eq!(d.pages[2].image.get_pixel(0, 0).0[0], 1);
        assert_eq!(d.pages[3].image.get_pixel(0, 0).0[0], 2);
        assert!((d.render_ms - 10.0).abs() < 1e-9);
        let singles = single_pages(&pool);
        assert_eq!(singles.len(), 2);
        assert_eq!(singles[1].id, "a#p2");
        assert!(PreparedDoc::concatenated(&[], 1).is_err());
    }
}
