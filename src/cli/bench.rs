//! `medocr bench`: latency, throughput, load, long-document and soak scenarios on real
//! engines; writes reports/<run-id>/bench.{json,csv,md} and SVG charts (docs/bench.md).
//! Exit codes: 0 pass, 1 a request failed or `--p99-limit` was missed, 2 usage or setup
//! error, 130 interrupted (the partial report is written).

use super::export::JsonTarget;
use super::out::console;
use super::run::{build_engine, stop_flag, EngineArgs, EngineKind, EXIT_INTERRUPTED};
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use medocr::bench::{
    self, batch, load, long, overhead, single, soak, sweep, Arrival, BenchReport, BenchSettings,
    Control, EngineEntry, LoadConfig, Measurement, PreparedDoc, Repeats, Sample, Scenario, Slo,
};
use medocr::dataset::{load_manifest, DocType, Document};
use medocr::engine::Engine;
use medocr::pipeline::{render_timed, Environment, RunOptions};
use medocr::report::bench as export;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Exit code of a bench whose gate failed: a request failed or `--p99-limit` was missed.
const EXIT_GATE_FAILED: u8 = 1;

const EXIT_CODES: &str = "Exit codes: 0 = every request succeeded and, in `load`, every engine \
met --p99-limit at some tested rate; 1 = a request failed (an engine error in any \
measurement) or an engine met --p99-limit at no tested rate; 2 = usage or setup error; \
130 = interrupted by Ctrl-C / SIGTERM (the partial report is written, marked \
\"interrupted\"; a second Ctrl-C exits at once).";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScenarioArg {
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
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ArrivalArg {
    /// Evenly spaced sends, 1/rate apart.
    Fixed,
    /// Exponential gaps (a Poisson process), seeded by --seed.
    Poisson,
}

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct BenchArgs {
    /// Which scenario to run.
    #[arg(long, value_enum)]
    pub scenario: ScenarioArg,
    /// Engines (comma-separated), each run on the same rendered pages in turn.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "builtin")]
    pub engines: Vec<EngineKind>,
    #[command(flatten)]
    pub engine_args: EngineArgs,
    /// Dataset folder (holding manifest.jsonl) or manifest path [default: the bundled
    /// dataset built into the binary].
    #[arg(long, env = "MEDOCR_DATASET")]
    pub dataset: Option<PathBuf>,
    /// Only these document types (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub types: Vec<DocType>,
    /// The document of the `single` scenario (default: the first selected; its first page).
    #[arg(long)]
    pub doc: Option<String>,
    /// Only the first N documents (after --types).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Render DPI; `sweep` takes a list (the input-size axis), the others use the first.
    #[arg(long, value_delimiter = ',', default_value = "150")]
    pub dpi: Vec<f32>,
    /// Unmeasured runs before each measurement (per load worker before each rate).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Measured runs per setting (single, long: requests; batch, sweep: batched calls).
    #[arg(long, default_value_t = 20)]
    pub iterations: usize,
    /// Batch sizes for `batch` and `sweep`.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub batch_sizes: Vec<usize>,
    /// Pages per document: `long` (default 1,2,4,8) and `sweep` (default 1).
    #[arg(long, value_delimiter = ',')]
    pub pages: Vec<usize>,
    /// Request rates (requests/s) for `load`.
    #[arg(long, value_delimiter = ',', default_value = "0.2,0.5")]
    pub rates: Vec<f64>,
    /// Arrival process for `load`.
    #[arg(long, value_enum, default_value = "poisson")]
    pub arrival: ArrivalArg,
    /// Seed of the Poisson arrivals.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Load workers, each with its own engine instance (the concurrency limit).
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Requests sent per rate in `load`.
    #[arg(long, default_value_t = 20)]
    pub requests: usize,
    /// `load`: SLO on TTFT for goodput (e.g. 2s, 800ms); a measure, not a gate.
    #[arg(long)]
    pub slo_ttft: Option<String>,
    /// `load`: SLO on TPOT for goodput (e.g. 50ms); a measure, not a gate.
    #[arg(long)]
    pub slo_tpot: Option<String>,
    /// `load`: SLO on E2E for goodput (e.g. 10s); a measure, not a gate.
    #[arg(long)]
    pub slo_e2e: Option<String>,
    /// `load`: p99 E2E limit; the report names the highest tested rate that meets it, and
    /// the exit code is 1 when an engine meets it at no tested rate.
    #[arg(long)]
    pub p99_limit: Option<String>,
    /// Length of `soak` (e.g. 30m, 90s).
    #[arg(long, default_value = "30m")]
    pub duration: String,
    /// Reporting window of `soak`.
    #[arg(long, default_value = "1m")]
    pub window: String,
    /// Folder that receives <out>/<run-id>/.
    #[arg(long, env = "MEDOCR_OUT", default_value = "reports")]
    pub out: PathBuf,
    /// Name of the run folder (default: <UTC time>-bench-<scenario>).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Skip measuring the harness's own overhead (about half a second).
    #[arg(long)]
    pub no_overhead: bool,
    /// Hide the progress on standard error (the bar of `load` and `soak`, a line per
    /// finished measurement).
    #[arg(long)]
    pub quiet: bool,
    /// Also write bench.json's content to FILE, or with `-` to standard output (the
    /// console summary then goes to standard error).
    #[arg(long, value_name = "FILE|-")]
    pub export_json: Option<JsonTarget>,
}

fn ms_opt(flag: &str, v: &Option<String>) -> anyhow::Result<Option<f64>> {
    v.as_deref()
        .map(|s| {
            bench::parse_duration(s)
                .map(|d| d.as_secs_f64() * 1e3)
                .with_context(|| format!("--{flag}"))
        })
        .transpose()
}

pub fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let scenario = match args.scenario {
        ScenarioArg::Single => Scenario::Single,
        ScenarioArg::Batch => Scenario::Batch,
        ScenarioArg::Sweep => Scenario::Sweep,
        ScenarioArg::Load => Scenario::Load,
        ScenarioArg::Long => Scenario::Long,
        ScenarioArg::Soak => Scenario::Soak,
    };
    if args.engines.is_empty() {
        bail!("--engines needs at least one engine (builtin, tesseract)");
    }
    if args.engines.iter().any(|e| matches!(e, EngineKind::Replay)) {
        bail!("--engines replay: replayed predictions have no timing to benchmark; use builtin or tesseract");
    }
    for &d in &args.dpi {
        if !(d.is_finite() && d > 0.0 && d <= 2400.0) {
            bail!("--dpi {d}: a DPI must be a positive number up to 2400");
        }
    }
    if args.dpi.is_empty() {
        bail!("--dpi needs at least one DPI");
    }
    if args.iterations == 0 {
        bail!("--iterations must be at least 1");
    }
    if args.batch_sizes.is_empty() || args.batch_sizes.contains(&0) {
        bail!("--batch-sizes needs positive batch sizes, e.g. 1,2,4,8");
    }
    if args.pages.contains(&0) {
        bail!("--pages needs positive page counts");
    }
    if scenario != Scenario::Load {
        // Silently ignoring a limit would let a CI gate pass that never ran.
        for (flag, v) in [
            ("--p99-limit", &args.p99_limit),
            ("--slo-ttft", &args.slo_ttft),
            ("--slo-tpot", &args.slo_tpot),
            ("--slo-e2e", &args.slo_e2e),
        ] {
            if v.is_some() {
                bail!("{flag} applies to --scenario load only");
            }
        }
    }
    let repeats = Repeats {
        warmup: args.warmup,
        iterations: args.iterations,
    };
    let slo = Slo {
        ttft_ms: ms_opt("slo-ttft", &args.slo_ttft)?,
        tpot_ms: ms_opt("slo-tpot", &args.slo_tpot)?,
        e2e_ms: ms_opt("slo-e2e", &args.slo_e2e)?,
    };
    let load_cfg = LoadConfig {
        arrival: match args.arrival {
            ArrivalArg::Fixed => Arrival::Fixed,
            ArrivalArg::Poisson => Arrival::Poisson,
        },
        rates: args.rates.clone(),
        seed: args.seed,
        concurrency: args.concurrency,
        requests: args.requests,
        warmup: args.warmup,
        slo,
        p99_limit_ms: ms_opt("p99-limit", &args.p99_limit)?,
    };
    if scenario == Scenario::Load {
        load_cfg.validate()?;
    }
    let duration = bench::parse_duration(&args.duration).context("--duration")?;
    let window = bench::parse_duration(&args.window).context("--window")?;
    if scenario == Scenario::Soak && (window.is_zero() || window > duration) {
        bail!("--window must be positive and no longer than --duration");
    }
    let pages = if !args.pages.is_empty() {
        args.pages.clone()
    } else if scenario == Scenario::Long {
        vec![1, 2, 4, 8]
    } else {
        vec![1]
    };

    let (dataset_dir, dataset_label) = super::run::dataset_source(args.dataset.as_deref())?;
    let dataset = load_manifest(&dataset_dir)?;
    let mut docs: Vec<&Document> = dataset
        .documents
        .iter()
        .filter(|d| args.types.is_empty() || args.types.contains(&d.doc_type))
        .filter(|d| args.doc.as_ref().is_none_or(|id| &d.id == id))
        .collect();
    if let Some(n) = args.limit {
        docs.truncate(n);
    }
    if scenario == Scenario::Single {
        docs.truncate(1);
    }
    if docs.is_empty() {
        bail!(
            "no document selected in {} (check --types, --doc, --limit)",
            dataset.manifest.display()
        );
    }
    let options = RunOptions {
        max_pixels: args.engine_args.max_pixels,
        ..RunOptions::default()
    };
    let render = |dpi: f32| -> anyhow::Result<Vec<PreparedDoc>> {
        docs.iter()
            .map(|d| {
                let r = render_timed(&dataset, d, dpi, &options);
                let pages = r
                    .pages
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("rendering {} at {dpi} DPI", d.id))?;
                Ok(PreparedDoc {
                    id: d.id.clone(),
                    pages,
                    render_ms: r.elapsed.as_secs_f64() * 1e3,
                })
            })
            .collect()
    };

    // Engines are built once (load: once per worker) and reused by every measurement.
    let workers = if scenario == Scenario::Load {
        args.concurrency
    } else {
        1
    };
    let mut engines: Vec<Vec<Box<dyn Engine>>> = Vec::new();
    for &kind in &args.engines {
        let pool = (0..workers)
            .map(|_| build_engine(kind, &args.engine_args))
            .collect::<anyhow::Result<Vec<_>>>()?;
        engines.push(pool);
    }
    let entries: Vec<EngineEntry> = engines
        .iter()
        .map(|e| EngineEntry {
            info: e[0].info(),
            batches_natively: e[0].batches_natively(),
        })
        .collect();

    let started = chrono::Utc::now();
    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| format!("{}-bench-{scenario}", started.format("%Y%m%dT%H%M%SZ")));
    let mut measurements: Vec<Measurement> = Vec::new();
    let mut render_ms_per_page = BTreeMap::new();
    let quiet = args.quiet;
    let show = |m: Measurement, out: &mut Vec<Measurement>| {
        // A measurement stopped before its first request has nothing to report.
        if m.samples.is_empty() {
            return;
        }
        if !quiet {
            eprintln!("{}", progress_line(&m));
        }
        out.push(m);
    };
    let dpi = args.dpi[0];
    let dpis: Vec<f32> = if scenario == Scenario::Sweep {
        args.dpi.clone()
    } else {
        vec![dpi]
    };
    // Installed only now, so a Ctrl-C while engines load still ends the process at once.
    let stop = stop_flag()?;
    let stopped = || stop.load(Ordering::SeqCst);
    let control = Control {
        stop: Some(&stop),
        on_request: None,
    };
    if !quiet {
        eprintln!("bench {scenario}: measuring; Ctrl-C stops and writes what finished");
    }
    'measure: for &d in &dpis {
        let pool = render(d)?;
        let n_pages: usize = pool.iter().map(|p| p.pages.len()).sum();
        render_ms_per_page.insert(
            d.to_string(),
            pool.iter().map(|p| p.render_ms).sum::<f64>() / n_pages.max(1) as f64,
        );
        let singles = bench::single_pages(&pool);
        for (engine_pool, entry) in engines.iter_mut().zip(&entries) {
            let name = entry.info.name.as_str();
            match scenario {
                Scenario::Single => show(
                    single::run_single(engine_pool[0].as_mut(), &singles[0], d, repeats, control),
                    &mut measurements,
                ),
                Scenario::Batch => {
                    for &b in &args.batch_sizes {
                        if stopped() {
                            break;
                        }
                        let m = batch::run_batch(
                            engine_pool[0].as_mut(),
                            &singles,
                            b,
                            d,
                            repeats,
                            Scenario::Batch,
                            control,
                        );
                        show(m, &mut measurements);
                    }
                }
                Scenario::Sweep => {
                    for m in sweep::run_sweep_at_dpi(
                        engine_pool[0].as_mut(),
                        &pool,
                        d,
                        &pages,
                        &args.batch_sizes,
                        repeats,
                        control,
                    ) {
                        show(m, &mut measurements);
                    }
                }
                Scenario::Load => {
                    for &rate in &load_cfg.rates {
                        if stopped() {
                            break;
                        }
                        let what = format!("load {name} {rate} req/s");
                        let bar = progress_bar(
                            quiet,
                            load_cfg.requests as u64,
                            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
                            &what,
                        );
                        let failed = AtomicUsize::new(0);
                        let on_request = |s: &Sample| {
                            if s.error.is_some() {
                                let f = failed.fetch_add(1, Ordering::Relaxed) + 1;
                                bar.set_message(format!("{what}, {f} failed"));
                            }
                            bar.inc(1);
                        };
                        let m = load::run_load(
                            engine_pool,
                            &singles,
                            rate,
                            d,
                            &load_cfg,
                            Control {
                                on_request: Some(&on_request),
                                ..control
                            },
                        );
                        bar.finish_and_clear();
                        show(m?, &mut measurements);
                    }
                }
                Scenario::Long => {
                    for m in
                        long::run_long(engine_pool[0].as_mut(), &pool, d, &pages, repeats, control)?
                    {
                        show(m, &mut measurements);
                    }
                }
                Scenario::Soak => {
                    let what = format!("soak {name}");
                    let total_ms = (duration.as_millis() as u64).max(1);
                    let bar = progress_bar(
                        quiet,
                        total_ms,
                        "{spinner} [{elapsed_precise}] {bar:30} {percent}% {msg}",
                        &what,
                    );
                    let (done, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
                    let on_request = |s: &Sample| {
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        let bad = usize::from(s.error.is_some());
                        let f = failed.fetch_add(bad, Ordering::Relaxed) + bad;
                        // start_ms counts from the soak's start, warm-up excluded.
                        bar.set_position((s.start_ms.max(0.0) as u64).min(total_ms));
                        bar.set_message(format!("{what}: {n} requests, {f} failed"));
                    };
                    let windows = soak::run_soak(
                        engine_pool[0].as_mut(),
                        &singles,
                        d,
                        duration,
                        window,
                        args.warmup,
                        Control {
                            on_request: Some(&on_request),
                            ..control
                        },
                    );
                    bar.finish_and_clear();
                    for m in windows? {
                        show(m, &mut measurements);
                    }
                }
            }
            if stopped() {
                break 'measure;
            }
        }
    }
    let interrupted = stopped();
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
    let failed: usize = measurements.iter().map(|m| m.failed).sum();
    if failed > 0 {
        notes.push(format!(
            "{failed} request(s) failed; their samples keep the error and are excluded from the statistics"
        ));
    }
    let load_capacity = match load_cfg.p99_limit_ms {
        Some(limit) if scenario == Scenario::Load => entries
            .iter()
            .map(|e| load::capacity(&measurements, &e.info.name, limit))
            .collect(),
        _ => Vec::new(),
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
    // Not after a Ctrl-C: whoever pressed it wants the run to end now.
    let overhead = (!args.no_overhead && !interrupted)
        .then(|| overhead::shares(overhead::measure_harness(), &measurements));
    let gpu = measurements
        .iter()
        .find_map(|m| m.resources.gpu.device.clone());
    let report = BenchReport {
        schema_version: bench::BENCH_SCHEMA_VERSION,
        run_id: run_id.clone(),
        started: started.to_rfc3339(),
        scenario,
        interrupted,
        settings: BenchSettings {
            dataset: dataset_label,
            manifest_sha256: dataset.manifest_sha256.clone(),
            documents: docs.iter().map(|d| d.id.clone()).collect(),
            dpis,
            repeats,
            batch_sizes: if matches!(scenario, Scenario::Batch | Scenario::Sweep) {
                args.batch_sizes.clone()
            } else {
                Vec::new()
            },
            pages: if matches!(scenario, Scenario::Long | Scenario::Sweep) {
                pages
            } else {
                Vec::new()
            },
            load: (scenario == Scenario::Load).then_some(load_cfg),
            duration_s: (scenario == Scenario::Soak).then_some(duration.as_secs_f64()),
            window_s: (scenario == Scenario::Soak).then_some(window.as_secs_f64()),
            render_ms_per_page,
        },
        environment: Environment::detect(gpu),
        engines: entries,
        measurements,
        load_capacity,
        soak_drift,
        overhead,
        notes,
    };
    let dir = args.out.join(&run_id);
    export::write_all(&dir, &report)
        .with_context(|| format!("writing the bench reports to {}", dir.display()))?;
    if let Some(target) = &args.export_json {
        target.write(&report)?;
    }
    let gate = gate_failures(&report);
    let mut text = console_summary(&report);
    if !interrupted {
        if gate.is_empty() {
            text.push_str("bench: pass\n");
        } else {
            text.push_str(&format!("bench: FAIL — {}\n", gate.join("; ")));
        }
    }
    text.push_str(&format!("reports: {}\n", dir.display()));
    console(&text, JsonTarget::takes_stdout(args.export_json.as_ref()))?;
    if interrupted {
        eprintln!(
            "interrupted: the {} measurement(s) that ran are saved in {} (marked \"interrupted\"; the last may be partial)",
            report.measurements.len(),
            dir.display()
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(if gate.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_GATE_FAILED)
    })
}

/// Why the bench fails as a release gate (empty: it passes): failed requests, and engines
/// that met `--p99-limit` at no tested rate. SLOs only weigh goodput: with no required
/// share of requests within them, no figure of theirs can be "missed".
fn gate_failures(r: &BenchReport) -> Vec<String> {
    let mut out = Vec::new();
    let failed: usize = r.measurements.iter().map(|m| m.failed).sum();
    if failed > 0 {
        out.push(format!("{failed} request(s) failed"));
    }
    for c in r.load_capacity.iter().filter(|c| c.max_rate.is_none()) {
        out.push(format!(
            "{}: no tested rate has p99 E2E ≤ {} ms",
            c.engine,
            export::markdown::fmt_ms(c.p99_limit_ms)
        ));
    }
    out
}

/// A progress bar on standard error (drawn only on a terminal), hidden by --quiet.
fn progress_bar(quiet: bool, len: u64, template: &str, msg: &str) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len)
    };
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar.set_message(msg.to_string());
    // Redraws the spinner and clock while a long request runs.
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), export::markdown::fmt_ms)
}

fn progress_line(m: &Measurement) -> String {
    let e2e = m.latency.e2e_ms.as_ref().map(|s| &s.summary);
    format!(
        "bench {} {:<10} {:<28} n={:<4} p50 E2E {:>8} ms  p99 {:>8} ms  {:>8.1} tokens/s{}",
        m.scenario,
        m.engine,
        m.label,
        m.samples.len(),
        fmt(e2e.map(|s| s.p50)),
        fmt(e2e.map(|s| s.p99)),
        m.throughput.tokens_per_s,
        if m.failed > 0 {
            format!("  ({} failed)", m.failed)
        } else {
            String::new()
        }
    )
}

/// The engine-comparison table, load and overhead lines.
fn console_summary(r: &BenchReport) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\n{:<30} {:<22} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "setting",
        "engine",
        "n",
        "p50 E2E",
        "p99 E2E",
        "p50 TTFT",
        "p50 TPOT",
        "tokens/s",
        "pages/s",
        "RSS MiB"
    );
    for c in bench::compare_engines(r) {
        let mut engine = if c.batch_mode == bench::BatchMode::Sequential {
            format!("{} (sequential)", c.engine)
        } else {
            c.engine.clone()
        };
        if c.partial {
            engine.push_str(" (partial)");
        }
        let _ = writeln!(
            o,
            "{:<30} {:<22} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9.1} {:>8.3} {:>8}",
            c.label,
            engine,
            c.n,
            fmt(c.e2e_p50_ms),
            fmt(c.e2e_p99_ms),
            fmt(c.ttft_p50_ms),
            fmt(c.tpot_p50_ms),
            c.tokens_per_s,
            c.pages_per_s,
            c.peak_rss_mib
                .map_or_else(|| "—".into(), |v| format!("{v:.0}"))
        );
    }
    for m in r.measurements.iter().filter(|m| m.load.is_some()) {
        let l = m.load.as_ref().expect("filtered");
        let q = m.latency.queue_ms.as_ref().map(|s| s.summary.p99);
        let _ = writeln!(
            o,
            "load {} {} req/s: achieved {:.3} req/s, goodput {:.3} req/s ({:.0}% within SLO), p99 queue {} ms",
            m.engine,
            l.requested_rate,
            l.achieved_rate,
            l.goodput_rps,
            l.slo_attainment * 100.0,
            fmt(q)
        );
    }
    for c in &r.load_capacity {
        let _ = writeln!(
            o,
            "{}: highest tested rate with p99 E2E ≤ {} ms: {}",
            c.engine,
            export::markdown::fmt_ms(c.p99_limit_ms),
            c.max_rate
                .map_or_else(|| "none".into(), |v| format!("{v} req/s"))
        );
    }
    for d in &r.soak_drift {
        let _ = writeln!(
            o,
            "soak {}: p50 E2E {} → {} ms, p99 {} → {} ms over {} windows",
            d.engine,
            fmt(d.p50_first_ms),
            fmt(d.p50_last_ms),
            fmt(d.p99_first_ms),
            fmt(d.p99_last_ms),
            d.windows
        );
    }
    if let Some(h) = &r.overhead {
        for s in &h.shares {
            let _ = writeln!(
                o,
                "harness overhead {}: {:.0} ns/token event + {:.2} µs/request = {:.4}% of p50 E2E (target < {}%)",
                s.engine, h.cost.per_token_ns, h.cost.per_request_us, s.percent_of_e2e, h.target_percent
            );
        }
    }
    for n in &r.notes {
        let _ = writeln!(o, "note: {n}");
    }
    o
}
