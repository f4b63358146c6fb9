//! A bench from validated settings to its report: pages rendered once per DPI, the
//! scenario's measurements for every engine in turn, then the notes, load capacity, soak
//! drift and harness overhead of `bench.json`. Progress goes through [`BenchProgress`], so
//! the library never prints.

use super::goodput::{self, GroundTruth};
use super::warmup;
use super::{
    batch, load, long, overhead, prefix, single, single_pages, soak, sweep, BenchError,
    BenchReport, BenchSettings, Control, EngineEntry, LoadConfig, Measurement, PreparedDoc,
    Repeats, Sample, Scenario, BENCH_SCHEMA_VERSION,
};
use crate::dataset::{Dataset, Document};
use crate::engine::Engine;
use crate::pipeline::{render_timed, Environment, RunOptions};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// What a bench measures and how often.
#[derive(Debug, Clone)]
pub struct Plan {
    pub scenario: Scenario,
    /// Every DPI given; `sweep` measures each, the other scenarios the first.
    pub dpis: Vec<f32>,
    pub repeats: Repeats,
    /// `batch` and `sweep`.
    pub batch_sizes: Vec<usize>,
    /// Pages per document of `long` and `sweep`.
    pub pages: Vec<usize>,
    pub load: LoadConfig,
    /// `soak`'s length and reporting window.
    pub duration: Duration,
    pub window: Duration,
    /// Largest page in pixels rendering may produce.
    pub max_pixels: u64,
}

/// How a bench reports its progress; the CLI prints lines and draws bars.
pub trait BenchProgress: Sync {
    /// A measurement finished (one stopped before its first request is not reported).
    fn measured(&self, m: &Measurement);
    /// A long measurement starts: `what` names it (`load builtin 0.5 req/s`, `soak
    /// builtin`), `len` is its requests (`load`) or milliseconds (`soak`).
    fn begin(&self, scenario: Scenario, what: &str, len: u64);
    /// A request of the long measurement finished.
    fn tick(&self, scenario: Scenario, what: &str, tick: Tick<'_>);
    /// The long measurement is over.
    fn end(&self);
}

/// Where a long measurement stands after one request.
pub struct Tick<'a> {
    pub sample: &'a Sample,
    /// Requests finished so far, this one included.
    pub done: usize,
    /// Of which failed.
    pub failed: usize,
}

/// What the scenario loop produced.
pub struct Measured {
    pub measurements: Vec<Measurement>,
    /// Mean render time per page at each DPI rendered.
    pub render_ms_per_page: BTreeMap<String, f64>,
    /// Stopped by the stop flag before the plan's end.
    pub interrupted: bool,
}

/// Where the pages come from and who measures them.
pub struct Bench<'a> {
    pub dataset: &'a Dataset,
    pub docs: &'a [&'a Document],
    /// One pool of instances per engine (`load`: one per worker), in report order.
    pub engines: &'a mut [Vec<Box<dyn Engine>>],
    pub entries: &'a [EngineEntry],
    /// How `load` scores answers for correct-and-on-time goodput.
    pub scoring: &'a goodput::Scoring,
}

/// Renders `docs` at `dpi` for a bench (before any timing), each with its render time.
pub fn prepare(
    dataset: &Dataset,
    docs: &[&Document],
    dpi: f32,
    max_pixels: u64,
) -> Result<Vec<PreparedDoc>, BenchError> {
    let options = RunOptions {
        max_pixels,
        ..RunOptions::default()
    };
    docs.iter()
        .map(|d| {
            let r = render_timed(dataset, d, dpi, &options);
            let pages = r.pages.map_err(|message| BenchError::Render {
                id: d.id.clone(),
                dpi,
                message,
            })?;
            Ok(PreparedDoc {
                id: d.id.clone(),
                pages,
                render_ms: r.elapsed.as_secs_f64() * 1e3,
            })
        })
        .collect()
}

impl Plan {
    /// Checks the settings the scenario uses.
    pub fn validate(&self) -> Result<(), BenchError> {
        let config = |m: &str| Err(BenchError::Flag(m.into()));
        if self.dpis.is_empty() {
            return config("--dpi needs at least one DPI");
        }
        if self.repeats.iterations == 0 {
            return config("--iterations must be at least 1");
        }
        if self.batch_sizes.is_empty() || self.batch_sizes.contains(&0) {
            return config("--batch-sizes needs positive batch sizes, e.g. 1,2,4,8");
        }
        if self.pages.contains(&0) {
            return config("--pages needs positive page counts");
        }
        if self.scenario == Scenario::Load {
            self.load.validate()?;
        }
        if self.scenario == Scenario::Soak && (self.window.is_zero() || self.window > self.duration)
        {
            return config("--window must be positive and no longer than --duration");
        }
        Ok(())
    }

    /// Engine instances per engine: `load` runs one per worker.
    pub fn workers(&self) -> usize {
        if self.scenario == Scenario::Load {
            self.load.concurrency
        } else {
            1
        }
    }

    /// The DPIs measured: all of them for `sweep`, else the first.
    pub fn measured_dpis(&self) -> Vec<f32> {
        if self.scenario == Scenario::Sweep {
            self.dpis.clone()
        } else {
            self.dpis[..1].to_vec()
        }
    }

    /// Renders the pages at each measured DPI and runs the scenario on every engine in
    /// turn; once `stop` is set no new measurement starts and what ran is returned.
    pub fn run(
        &self,
        bench: &mut Bench<'_>,
        stop: &AtomicBool,
        progress: &dyn BenchProgress,
    ) -> Result<Measured, BenchError> {
        let control = Control {
            stop: Some(stop),
            on_request: None,
        };
        let mut measurements = Vec::new();
        let mut render_ms_per_page = BTreeMap::new();
        'measure: for d in self.measured_dpis() {
            let pool = prepare(bench.dataset, bench.docs, d, self.max_pixels)?;
            let n_pages: usize = pool.iter().map(|p| p.pages.len()).sum();
            render_ms_per_page.insert(
                d.to_string(),
                pool.iter().map(|p| p.render_ms).sum::<f64>() / n_pages.max(1) as f64,
            );
            let at = AtDpi {
                singles: single_pages(&pool),
                types: bench.docs.iter().map(|d| d.doc_type).collect(),
                truth: GroundTruth::of_pages(bench.docs, &pool, bench.scoring),
                pool,
                dpi: d,
            };
            for (engine_pool, entry) in bench.engines.iter_mut().zip(bench.entries) {
                let name = entry.info.name.as_str();
                let mut show = |m: Measurement| {
                    // A measurement stopped before its first request has nothing to report.
                    if !m.samples.is_empty() {
                        progress.measured(&m);
                        measurements.push(m);
                    }
                };
                self.measure_engine(engine_pool, name, &at, control, progress, &mut show)?;
                if control.stopped() {
                    break 'measure;
                }
            }
        }
        Ok(Measured {
            measurements,
            render_ms_per_page,
            interrupted: control.stopped(),
        })
    }

    /// The scenario's measurements of one engine at one DPI, each handed to `show`.
    fn measure_engine(
        &self,
        engines: &mut [Box<dyn Engine>],
        name: &str,
        at: &AtDpi,
        control: Control<'_>,
        progress: &dyn BenchProgress,
        show: &mut dyn FnMut(Measurement),
    ) -> Result<(), BenchError> {
        let (d, repeats) = (at.dpi, self.repeats);
        let engine = engines[0].as_mut();
        match self.scenario {
            Scenario::Single => show(single::run_single(
                engine,
                &at.singles[0],
                d,
                repeats,
                control,
            )),
            Scenario::Batch => {
                for &b in &self.batch_sizes {
                    if control.stopped() {
                        break;
                    }
                    let s = &at.singles;
                    show(batch::run_batch(
                        engine,
                        s,
                        b,
                        d,
                        repeats,
                        Scenario::Batch,
                        control,
                    ));
                }
            }
            Scenario::Sweep => {
                let (pages, sizes) = (&self.pages, &self.batch_sizes);
                sweep::run_sweep_at_dpi(engine, &at.pool, d, pages, sizes, repeats, control)
                    .into_iter()
                    .for_each(&mut *show);
            }
            Scenario::Load => self.load_rates(engines, name, at, control, progress, show)?,
            Scenario::Long => long::run_long(engine, &at.pool, d, &self.pages, repeats, control)?
                .into_iter()
                .for_each(&mut *show),
            Scenario::Soak => self.soak(engine, name, at, control, progress, show)?,
            Scenario::Prefix => {
                let typed: Vec<_> = at.types.iter().copied().zip(at.pool.clone()).collect();
                let tag = prefix::run_tag();
                prefix::run_prefix(engine, &typed, d, repeats, &tag, control)?
                    .into_iter()
                    .for_each(&mut *show)
            }
        }
        Ok(())
    }

    /// `load`: one measurement per rate, a progress bar of requests each.
    fn load_rates(
        &self,
        workers: &mut [Box<dyn Engine>],
        name: &str,
        at: &AtDpi,
        control: Control<'_>,
        progress: &dyn BenchProgress,
        show: &mut dyn FnMut(Measurement),
    ) -> Result<(), BenchError> {
        for &rate in &self.load.rates {
            if control.stopped() {
                break;
            }
            let what = format!("load {name} {rate} req/s");
            let len = self.load.requests as u64;
            let m = followed(progress, Scenario::Load, &what, len, |on_request| {
                let control = Control {
                    on_request: Some(on_request),
                    ..control
                };
                let (pages, truth) = (&at.singles, &at.truth);
                load::run_load(workers, pages, truth, rate, at.dpi, &self.load, control)
            });
            show(m?);
        }
        Ok(())
    }

    /// `soak`: one measurement per window, a progress bar of the duration.
    fn soak(
        &self,
        engine: &mut dyn Engine,
        name: &str,
        at: &AtDpi,
        control: Control<'_>,
        progress: &dyn BenchProgress,
        show: &mut dyn FnMut(Measurement),
    ) -> Result<(), BenchError> {
        let what = format!("soak {name}");
        let total_ms = (self.duration.as_millis() as u64).max(1);
        let windows = followed(progress, Scenario::Soak, &what, total_ms, |on_request| {
            let control = Control {
                on_request: Some(on_request),
                ..control
            };
            let (duration, window) = (self.duration, self.window);
            let warmup = self.repeats.warmup_rule();
            soak::run_soak(
                engine,
                &at.singles,
                at.dpi,
                duration,
                window,
                warmup,
                control,
            )
        });
        windows?.into_iter().for_each(show);
        Ok(())
    }
}

/// Pages rendered at one DPI: whole documents and their single pages.
struct AtDpi<'a> {
    pool: Vec<PreparedDoc>,
    singles: Vec<PreparedDoc>,
    /// The document type of each of `pool`.
    types: Vec<crate::dataset::DocType>,
    /// The singles' ground truth (`load`'s correct-and-on-time goodput).
    truth: GroundTruth<'a>,
    dpi: f32,
}

/// Runs `body` with a per-request callback that counts requests and failures into
/// `progress`'s ticks, between its `begin` and `end`.
fn followed<T>(
    progress: &dyn BenchProgress,
    scenario: Scenario,
    what: &str,
    len: u64,
    body: impl FnOnce(&(dyn Fn(&Sample) + Sync)) -> T,
) -> T {
    progress.begin(scenario, what, len);
    let (done, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let on_request = |s: &Sample| {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        let bad = usize::from(s.error.is_some());
        let f = failed.fetch_add(bad, Ordering::Relaxed) + bad;
        let tick = Tick {
            sample: s,
            done: n,
            failed: f,
        };
        progress.tick(scenario, what, tick);
    };
    let out = body(&on_request);
    progress.end();
    out
}

/// Which run the bench is and what it read, for its report.
pub struct Header {
    pub run_id: String,
    pub started: String,
    pub dataset: BenchDataset,
}

/// The dataset a bench read: its name, manifest hash and the documents used.
pub struct BenchDataset {
    pub label: String,
    pub manifest_sha256: String,
    pub documents: Vec<String>,
    /// The SLA profiles `load` scores against (`None` for the other scenarios).
    pub profiles: Option<goodput::ProfilesUsed>,
}

impl Plan {
    /// `bench.json`'s content: the measurements with their notes, each engine's load
    /// capacity (`--p99-limit`) or soak drift, and the harness overhead unless skipped (or
    /// interrupted: whoever pressed Ctrl-C wants the run to end now).
    pub fn report(
        &self,
        header: Header,
        entries: Vec<EngineEntry>,
        measured: Measured,
        with_overhead: bool,
    ) -> BenchReport {
        let scenario = self.scenario;
        let measurements = measured.measurements;
        let notes = notes(scenario, &entries, &measurements);
        let load_capacity = match self.load.p99_limit_ms {
            Some(limit) if scenario == Scenario::Load => entries
                .iter()
                .map(|e| load::capacity(&measurements, &e.info.name, limit))
                .collect(),
            _ => Vec::new(),
        };
        let goodput_capacity = if scenario == Scenario::Load {
            let target = self.load.goodput_target;
            entries
                .iter()
                .map(|e| goodput::capacity(&measurements, &e.info.name, target))
                .collect()
        } else {
            Vec::new()
        };
        let soak_drift = if scenario == Scenario::Soak {
            entries
                .iter()
                .filter_map(|e| {
                    let w: Vec<Measurement> = measurements
                        .iter()
                        .filter(|m| m.engine == e.info.name)
                        .cloned()
                        .collect();
                    soak::drift(&w)
                })
                .collect()
        } else {
            Vec::new()
        };
        let overhead = (with_overhead && !measured.interrupted)
            .then(|| overhead::shares(overhead::measure_harness(), &measurements));
        let gpu = measurements
            .iter()
            .find_map(|m| m.resources.gpu.device.clone());
        BenchReport {
            schema_version: BENCH_SCHEMA_VERSION,
            run_id: header.run_id,
            started: header.started,
            scenario,
            interrupted: measured.interrupted,
            settings: self.settings(header.dataset, measured.render_ms_per_page),
            environment: Environment::detect(gpu),
            engines: entries,
            measurements,
            load_capacity,
            soak_drift,
            goodput_capacity,
            overhead,
            notes,
        }
    }

    /// The settings the scenario used, for the report.
    fn settings(
        &self,
        dataset: BenchDataset,
        render_ms_per_page: BTreeMap<String, f64>,
    ) -> BenchSettings {
        let scenario = self.scenario;
        let soak = scenario == Scenario::Soak;
        BenchSettings {
            profiles: dataset.profiles.filter(|_| scenario == Scenario::Load),
            dataset: dataset.label,
            manifest_sha256: dataset.manifest_sha256,
            documents: dataset.documents,
            dpis: self.measured_dpis(),
            repeats: self.repeats,
            batch_sizes: if matches!(scenario, Scenario::Batch | Scenario::Sweep) {
                self.batch_sizes.clone()
            } else {
                Vec::new()
            },
            pages: if matches!(scenario, Scenario::Long | Scenario::Sweep) {
                self.pages.clone()
            } else {
                Vec::new()
            },
            load: (scenario == Scenario::Load).then(|| self.load.clone()),
            duration_s: soak.then_some(self.duration.as_secs_f64()),
            window_s: soak.then_some(self.window.as_secs_f64()),
            render_ms_per_page,
        }
    }
}

/// A measurement whose GPU was throttled (`gpu_state::SLOWDOWNS`) as its warm-up ended or
/// while it was measured: its latencies include slowed clocks.
fn gpu_notes(measurements: &[Measurement]) -> Vec<String> {
    let mut notes = Vec::new();
    for m in measurements {
        if let Some(g) = m.warmup.as_ref().and_then(|w| w.gpu.as_ref()) {
            if g.throttled {
                notes.push(format!(
                    "{} {}: the GPU was throttled when warm-up ended ({}); let it cool or \
                     check its power limit before trusting these latencies",
                    m.engine,
                    m.label,
                    g.describe()
                ));
            }
        }
        let gpu = &m.resources.gpu;
        if gpu.slowdown_samples > 0 {
            notes.push(format!(
                "{} {}: the GPU was throttled ({}) in {} of {} samples while measured (SM clock \
                 down to {}, up to {})",
                m.engine,
                m.label,
                gpu.slowdown.join(", "),
                gpu.slowdown_samples,
                gpu.samples,
                gpu.sm_clock_min_mhz
                    .map_or_else(|| "n/a".into(), |c| format!("{c} MHz")),
                gpu.temperature_max_c
                    .map_or_else(|| "n/a".into(), |t| format!("{t} °C")),
            ));
        }
    }
    notes
}

/// What a reader of the report must know: engines that cannot batch, a GPU not measured,
/// Tesseract's memory outside the process, failed requests.
fn notes(scenario: Scenario, entries: &[EngineEntry], measurements: &[Measurement]) -> Vec<String> {
    let mut notes = Vec::new();
    if matches!(scenario, Scenario::Batch | Scenario::Sweep) {
        for e in entries.iter().filter(|e| !e.batches_natively) {
            notes.push(format!(
                "{} cannot batch: its \"batches\" ran the requests one after another in one call \
                 (batch_mode = sequential), so its throughput does not grow with B",
                e.info.name
            ));
        }
    }
    if let Some(note) = measurements
        .iter()
        .find_map(|m| m.resources.gpu.note.clone())
    {
        notes.push(note);
    }
    if entries.iter().any(|e| e.info.name == "tesseract") {
        notes.push(
            "tesseract runs as a child process: its CPU time is counted (children), its memory \
             is not in peak RSS"
                .into(),
        );
    }
    for m in measurements {
        if let Some(w) = m.warmup.as_ref().filter(|w| !w.stable) {
            notes.push(format!(
                "{} {}: latency did not settle in {} warm-up requests (last {} within {:.0}% of \
                 their median); its first samples may still be cold — raise --warmup-max",
                m.engine,
                m.label,
                w.requests,
                warmup::WINDOW,
                warmup::TOLERANCE * 100.0
            ));
        }
    }
    notes.extend(gpu_notes(measurements));
    if scenario == Scenario::Prefix {
        notes.extend(prefix::notes(measurements));
    }
    let failed: usize = measurements.iter().map(|m| m.failed).sum();
    if failed > 0 {
        notes.push(format!(
            "{failed} request(s) failed; their samples keep the error and are excluded from the statistics"
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::gpu_state::{GpuState, WarmupGpu};
    use crate::bench::warmup::Warmup;
    use crate::bench::{measure, BatchMode, GpuStats, MeasureInput, Params, Resources};

    fn measured(warm: Option<WarmupGpu>, gpu: GpuStats) -> Measurement {
        let input = MeasureInput {
            engine: "builtin".into(),
            scenario: Scenario::Single,
            label: "rx @ 150 DPI".into(),
            params: Params::default(),
            batch_mode: BatchMode::Unbatched,
            repeats: Repeats {
                warmup: 2,
                iterations: 0,
                warmup_max: 10,
            },
            wall_s: 1.0,
            resources: Resources {
                gpu,
                ..Resources::default()
            },
            load: None,
        };
        let mut m = measure(input, Vec::new());
        m.warmup = Some(Warmup {
            requests: 3,
            stable: true,
            latencies_ms: vec![9.0, 5.0, 5.0],
            gpu: warm,
        });
        m
    }

    #[test]
    fn a_gpu_throttled_after_warm_up_or_while_measured_is_noted() {
        let state = |clock, temp, slowdown: &[&str]| GpuState {
            sm_clock_mhz: Some(clock),
            sm_clock_max_mhz: Some(1980),
            memory_clock_mhz: None,
            temperature_c: Some(temp),
            slowdown: slowdown.iter().map(|s| s.to_string()).collect(),
        };
        let calm = measured(
            Some(WarmupGpu::new(state(1410, 35, &[]), state(1980, 52, &[]))),
            GpuStats::default(),
        );
        assert!(gpu_notes(&[calm]).is_empty());

        let hot = measured(
            Some(WarmupGpu::new(
                state(1980, 40, &[]),
                state(1700, 84, &["sw_thermal_slowdown"]),
            )),
            GpuStats {
                available: true,
                samples: 10,
                sm_clock_min_mhz: Some(1650),
                temperature_max_c: Some(86),
                slowdown: vec!["sw_thermal_slowdown".into()],
                slowdown_samples: 4,
                ..GpuStats::default()
            },
        );
        let notes = gpu_notes(&[hot]);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].contains("throttled when warm-up ended"),
            "{notes:?}"
        );
        assert!(
            notes[0].contains("after 1700/1980 MHz SM, 84 °C"),
            "{notes:?}"
        );
        assert!(
            notes[1].contains("(sw_thermal_slowdown) in 4 of 10 samples"),
            "{notes:?}"
        );
        assert!(notes[1].contains("1650 MHz, up to 86 °C"), "{notes:?}");
    }
}
