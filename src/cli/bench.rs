//! `medocr bench`: latency, throughput, load, long-document and soak scenarios on real
//! engines; writes reports/<run-id>/bench.{json,csv,md} and SVG charts (docs/bench.md).
//! Exit codes: 0 pass, 1 a request failed or `--p99-limit` was missed, 2 usage or setup
//! error, 130 interrupted (the partial report is written).

use super::export::JsonTarget;
use super::out::console;
use super::progress::{progress_bar, stop_flag, EXIT_INTERRUPTED};
use super::run::EngineArgs;
use anyhow::{bail, Context};
use clap::Args;
use indicatif::ProgressBar;
use medocr::bench::plan::{Bench, BenchDataset, Header, Tick};
use medocr::bench::{
    self, Arrival, BenchProgress, BenchReport, EngineEntry, LoadConfig, Measurement, Plan, Repeats,
    Scenario, Slo,
};
use medocr::dataset::{load_manifest, Dataset, DocType, Document};
use medocr::engine::{Engine, EngineKind};
use medocr::pipeline::plan::dataset_source;
use medocr::render::Dpi;
use medocr::report::bench as export;
use medocr::sla::ProfileSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

/// Exit code of a bench whose gate failed: a request failed or `--p99-limit` was missed.
const EXIT_GATE_FAILED: u8 = 1;

const EXIT_CODES: &str = "Exit codes: 0 = every request succeeded and, in `load`, every engine \
met --p99-limit at some tested rate; 1 = a request failed (an engine error in any \
measurement) or an engine met --p99-limit at no tested rate; 2 = usage or setup error; \
130 = interrupted by Ctrl-C / SIGTERM (the partial report is written, marked \
\"interrupted\"; a second Ctrl-C exits at once).";

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct BenchArgs {
    /// Which scenario to run.
    #[arg(long, value_enum)]
    pub scenario: Scenario,
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
    pub dpi: Vec<Dpi>,
    /// Unmeasured runs before each measurement (per load worker before each rate): at
    /// least this many, more until the last 3 latencies lie within 10% of their median
    /// (0 turns warm-up off).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// At most this many warm-up runs while waiting for stable latency (never fewer than
    /// --warmup); a warm-up that reaches it unsettled is noted in the report.
    #[arg(long, default_value_t = 10)]
    pub warmup_max: usize,
    /// Measured runs per setting (single, long: requests; batch, sweep: batched calls;
    /// prefix: requests per group).
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
    pub arrival: Arrival,
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
    /// `load`: share of requests (0–1] that must count toward goodput; the report names
    /// the highest tested rate meeting it, latency-only and correct-and-on-time (a
    /// measure, not a gate).
    #[arg(long, default_value_t = medocr::bench::goodput::DEFAULT_TARGET)]
    pub goodput_target: f64,
    /// `load`: folder of SLA profiles (<doc_type>.toml) whose `accuracy.max_cer` limits
    /// correct-and-on-time goodput [default: the bundled profiles, as `medocr run`].
    #[arg(long, env = "MEDOCR_PROFILES")]
    pub profiles: Option<PathBuf>,
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
    let plan = plan(&args)?;
    let (dataset_dir, dataset_label) = dataset_source(args.dataset.as_deref())?;
    let dataset = load_manifest(&dataset_dir)?;
    let docs = select(&args, &dataset)?;
    // Only `load` scores; the other scenarios never read the profiles.
    let profiles = match args.scenario {
        Scenario::Load => ProfileSet::load(args.profiles.as_deref()).context("--profiles")?,
        _ => ProfileSet::bundled(),
    };
    let scoring = bench::goodput::Scoring::with_profiles(profiles);

    // Engines are built once (load: once per worker) and reused by every measurement.
    let spec = args.engine_args.spec();
    let mut engines: Vec<Vec<Box<dyn Engine>>> = Vec::new();
    for &kind in &args.engines {
        let pool = (0..plan.workers())
            .map(|_| spec.build(kind))
            .collect::<Result<Vec<_>, _>>()?;
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
    let run_id = args.run_id.clone().unwrap_or_else(|| {
        format!(
            "{}-bench-{}",
            started.format("%Y%m%dT%H%M%SZ"),
            plan.scenario
        )
    });
    // Installed only now, so a Ctrl-C while engines load still ends the process at once.
    let stop = stop_flag()?;
    if !args.quiet {
        eprintln!(
            "bench {}: measuring; Ctrl-C stops and writes what finished",
            plan.scenario
        );
    }
    let mut bench = Bench {
        dataset: &dataset,
        docs: &docs,
        engines: &mut engines,
        entries: &entries,
        scoring: &scoring,
    };
    let measured = plan.run(&mut bench, &stop, &LineProgress::new(args.quiet))?;
    let header = Header {
        run_id,
        started: started.to_rfc3339(),
        dataset: BenchDataset {
            label: dataset_label,
            manifest_sha256: dataset.manifest_sha256.clone(),
            documents: docs.iter().map(|d| d.id.clone()).collect(),
            profiles: Some(scoring.profiles_used()),
        },
    };
    let report = plan.report(header, entries, measured, !args.no_overhead);
    finish(&args, &report)
}

/// The flags as a validated [`Plan`].
fn plan(args: &BenchArgs) -> anyhow::Result<Plan> {
    let scenario = args.scenario;
    if args.engines.is_empty() {
        bail!("--engines needs at least one engine (builtin, tesseract)");
    }
    if args.engines.contains(&EngineKind::Replay) {
        bail!("--engines replay: replayed predictions have no timing to benchmark; use builtin or tesseract");
    }
    let dpis = Dpi::distinct(&args.dpi).context("--dpi")?;
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
    let slo = Slo {
        ttft_ms: ms_opt("slo-ttft", &args.slo_ttft)?,
        tpot_ms: ms_opt("slo-tpot", &args.slo_tpot)?,
        e2e_ms: ms_opt("slo-e2e", &args.slo_e2e)?,
    };
    let repeats = Repeats {
        warmup: args.warmup,
        iterations: args.iterations,
        warmup_max: args.warmup_max,
    };
    let load = LoadConfig {
        arrival: args.arrival,
        rates: args.rates.clone(),
        seed: args.seed,
        concurrency: args.concurrency,
        requests: args.requests,
        warmup: args.warmup,
        warmup_max: args.warmup_max,
        slo,
        p99_limit_ms: ms_opt("p99-limit", &args.p99_limit)?,
        goodput_target: args.goodput_target,
    };
    let pages = if !args.pages.is_empty() {
        args.pages.clone()
    } else if scenario == Scenario::Long {
        vec![1, 2, 4, 8]
    } else {
        vec![1]
    };
    let plan = Plan {
        scenario,
        dpis,
        repeats,
        batch_sizes: args.batch_sizes.clone(),
        pages,
        load,
        duration: bench::parse_duration(&args.duration).context("--duration")?,
        window: bench::parse_duration(&args.window).context("--window")?,
        max_pixels: args.engine_args.max_pixels,
    };
    plan.validate()?;
    Ok(plan)
}

/// The documents `--types`, `--doc` and `--limit` select (`single`: the first).
fn select<'d>(args: &BenchArgs, dataset: &'d Dataset) -> anyhow::Result<Vec<&'d Document>> {
    let mut docs: Vec<&Document> = dataset
        .documents
        .iter()
        .filter(|d| args.types.is_empty() || args.types.contains(&d.doc_type))
        .filter(|d| args.doc.as_ref().is_none_or(|id| &d.id == id))
        .collect();
    if let Some(n) = args.limit {
        docs.truncate(n);
    }
    if args.scenario == Scenario::Single {
        docs.truncate(1);
    }
    if docs.is_empty() {
        bail!(
            "no document selected in {} (check --types, --doc, --limit)",
            dataset.manifest.display()
        );
    }
    Ok(docs)
}

/// Writes the reports, prints the summary and the gate, and picks the exit code.
fn finish(args: &BenchArgs, report: &BenchReport) -> anyhow::Result<ExitCode> {
    let dir = args.out.join(&report.run_id);
    export::write_all(&dir, report)
        .with_context(|| format!("writing the bench reports to {}", dir.display()))?;
    if let Some(target) = &args.export_json {
        target.write(report)?;
    }
    let gate = gate_failures(report);
    let mut text = console_summary(report);
    if !report.interrupted {
        if gate.is_empty() {
            text.push_str("bench: pass\n");
        } else {
            text.push_str(&format!("bench: FAIL — {}\n", gate.join("; ")));
        }
    }
    text.push_str(&format!("reports: {}\n", dir.display()));
    console(&text, JsonTarget::takes_stdout(args.export_json.as_ref()))?;
    if report.interrupted {
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

/// The bench's progress on standard error: a line per measurement, a bar per load rate
/// or soak; nothing with --quiet.
struct LineProgress {
    quiet: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl LineProgress {
    fn new(quiet: bool) -> LineProgress {
        LineProgress {
            quiet,
            bar: Mutex::new(None),
        }
    }

    fn with_bar(&self, f: impl FnOnce(&ProgressBar)) {
        if let Some(bar) = self.bar.lock().expect("progress lock").as_ref() {
            f(bar);
        }
    }
}

impl BenchProgress for LineProgress {
    fn measured(&self, m: &Measurement) {
        if !self.quiet {
            eprintln!("{}", progress_line(m));
        }
    }

    fn begin(&self, scenario: Scenario, what: &str, len: u64) {
        let template = if scenario == Scenario::Soak {
            "{spinner} [{elapsed_precise}] {bar:30} {percent}% {msg}"
        } else {
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}"
        };
        let bar = progress_bar(self.quiet, len, template, what);
        *self.bar.lock().expect("progress lock") = Some(bar);
    }

    fn tick(&self, scenario: Scenario, what: &str, t: Tick<'_>) {
        self.with_bar(|bar| {
            if scenario == Scenario::Soak {
                // start_ms counts from the soak's start, warm-up excluded.
                let len = bar.length().unwrap_or(u64::MAX);
                bar.set_position((t.sample.start_ms.max(0.0) as u64).min(len));
                bar.set_message(format!("{what}: {} requests, {} failed", t.done, t.failed));
            } else {
                if t.sample.error.is_some() {
                    bar.set_message(format!("{what}, {} failed", t.failed));
                }
                bar.inc(1);
            }
        });
    }

    fn end(&self) {
        if let Some(bar) = self.bar.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
    }
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
    load_lines(&mut o, r);
    prefix_lines(&mut o, r);
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

/// `0.123 req/s (80% of 19 scored; scoring 240 ms)`, or n/a without ground truth.
fn correct_goodput(g: &bench::goodput::CorrectGoodput) -> String {
    match (g.goodput_rps, g.attainment) {
        (Some(rps), Some(share)) => format!(
            "{rps:.3} req/s ({:.0}% of {} scored{}; scoring {:.0} ms after the run)",
            share * 100.0,
            g.scored,
            if g.unscored > 0 {
                format!(", {} without ground truth", g.unscored)
            } else {
                String::new()
            },
            g.scoring_ms
        ),
        _ => bench::goodput::NO_GROUND_TRUTH.into(),
    }
}

/// The highest tested rates meeting --goodput-target, latency-only and correct-and-on-time.
fn goodput_capacity_line(c: &bench::goodput::GoodputCapacity) -> String {
    let rate = |r: Option<f64>| r.map_or_else(|| "none".into(), |v| format!("{v} req/s"));
    let correct = if c.scored {
        rate(c.correct_max_rate)
    } else {
        bench::goodput::NO_GROUND_TRUTH.into()
    };
    format!(
        "{}: highest tested rate with ≥ {:.0}% of requests counted: latency-only goodput {}, correct-and-on-time goodput {}",
        c.engine,
        c.target * 100.0,
        rate(c.latency_max_rate),
        correct
    )
}

/// Per load rate: arrivals, latency-only and correct-and-on-time goodput, queueing; then
/// the highest rates meeting --goodput-target.
fn load_lines(o: &mut String, r: &BenchReport) {
    use std::fmt::Write;
    for m in r.measurements.iter().filter(|m| m.load.is_some()) {
        let l = m.load.as_ref().expect("filtered");
        let q = m.latency.queue_ms.as_ref().map(|s| s.summary.p99);
        let _ = writeln!(
            o,
            "load {} {} req/s: achieved {:.3} req/s, goodput {:.3} req/s ({:.0}% within SLO), \
             correct-and-on-time goodput {}, p99 queue {} ms",
            m.engine,
            l.requested_rate,
            l.achieved_rate,
            l.goodput_rps,
            l.slo_attainment * 100.0,
            correct_goodput(&l.correct),
            fmt(q)
        );
    }
    for c in &r.goodput_capacity {
        let _ = writeln!(o, "{}", goodput_capacity_line(c));
    }
}

/// One line per prefix measurement: its hit rates and TTFT against no sharing.
fn prefix_lines(o: &mut String, r: &BenchReport) {
    use std::fmt::Write;
    for m in &r.measurements {
        let Some(p) = &m.prefix else { continue };
        let pct = |v: Option<f64>| v.map_or_else(|| "n/a".into(), |v| format!("{:.1}%", v * 100.0));
        let server = p
            .server
            .as_ref()
            .map_or_else(|| "none (in process)".into(), |s| pct(s.hit_rate));
        let vs = p
            .vs_no_sharing
            .as_ref()
            .and_then(|v| v.ttft_p50_ratio)
            .map_or_else(String::new, |v| format!(" ({v:.2}× no sharing)"));
        let _ = writeln!(
            o,
            "prefix {} {}: hit rate {} (usage), server /metrics {}; p50 TTFT {} ms{vs}",
            m.engine,
            m.label,
            pct(p.hit_rate),
            server,
            fmt(m.latency.ttft_ms.as_ref().map(|s| s.summary.p50)),
        );
    }
}
