//! `bench.md`: the report to read — settings, engines, the engine-comparison table, per
//! measurement statistics with intervals, outliers and warnings, throughput and resources,
//! load and soak figures, and the harness overhead. Every table goes through the report
//! table model, so its cells are escaped like every other Markdown report's.

use crate::bench::goodput::NO_GROUND_TRUTH;
use crate::bench::{compare_engines, BatchMode, BenchReport, Measurement, MetricStats};
use crate::report::table::{Cell, Table};
use crate::report::{Exporter, ReportError};
use std::fmt::Write;

/// `bench.md`.
pub struct BenchMarkdown;

impl Exporter<BenchReport> for BenchMarkdown {
    fn file_name(&self) -> String {
        "bench.md".into()
    }

    fn render(&self, report: &BenchReport) -> Result<Vec<u8>, ReportError> {
        Ok(render(report).into_bytes())
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), fmt_ms)
}

/// Milliseconds with precision that suits the magnitude.
pub fn fmt_ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.digits$}"))
}

pub fn mode_name(m: BatchMode) -> &'static str {
    match m {
        BatchMode::Unbatched => "one request per call",
        BatchMode::Native => "native batch",
        BatchMode::Sequential => "sequential (engine cannot batch)",
    }
}

fn ci(c: &Option<crate::stats::ConfidenceInterval>) -> String {
    c.as_ref().map_or_else(String::new, |c| {
        format!(" [{}, {}]", fmt_ms(c.lower), fmt_ms(c.upper))
    })
}

/// The whole report.
pub fn render(r: &BenchReport) -> String {
    let mut o = String::new();
    intro(&mut o, r);
    let _ = write!(o, "## Engines\n\n{}", engines(r).markdown());
    let _ = write!(o, "\n## Engine comparison\n\n{}", comparison(r).markdown());
    let _ = write!(
        o,
        "\n## Throughput and resources\n\n{}",
        throughput(r).markdown()
    );
    if let Some(note) = r
        .measurements
        .iter()
        .find_map(|m| m.resources.gpu.note.as_ref())
    {
        let _ = writeln!(o, "\nGPU: {note}.");
    }
    load(&mut o, r);
    correct_goodput(&mut o, r);
    if !r.soak_drift.is_empty() {
        let _ = write!(
            o,
            "\n## Soak drift (last window vs first)\n\n{}",
            soak(r).markdown()
        );
    }
    super::prefix::section(&mut o, r);
    overhead(&mut o, r);
    o.push_str("\n## Statistics per measurement\n\n");
    for m in &r.measurements {
        measurement_stats(&mut o, m);
    }
    o
}

/// Title, interruption, settings, machine, how to read the figures, notes.
fn intro(o: &mut String, r: &BenchReport) {
    let s = &r.settings;
    let _ = writeln!(o, "# medocr bench `{}` — {}\n", r.run_id, r.scenario);
    if r.interrupted {
        o.push_str(
            "**Interrupted (Ctrl-C / SIGTERM): a partial report.** It holds only the \
             measurements that ran before the stop; one marked partial was cut short.\n\n",
        );
    }
    // `load` counts requests per rate and warms up each worker, not `--iterations`.
    let repeats = match &s.load {
        Some(l) => format!(
            "{} warm-up per worker + {} requests per rate",
            l.warmup, l.requests
        ),
        None => format!(
            "{} warm-up + {} measured iterations",
            s.repeats.warmup, s.repeats.iterations
        ),
    };
    let _ = writeln!(
        o,
        "Started {}. Dataset `{}` ({} documents, manifest sha256 {}…), DPI {}, {repeats}.",
        r.started,
        s.dataset,
        s.documents.len(),
        &s.manifest_sha256[..12.min(s.manifest_sha256.len())],
        s.dpis
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    );
    let e = &r.environment;
    let _ = writeln!(
        o,
        "Machine: {} ({} logical cores{}), {}{}.\n",
        e.cpu,
        e.cores,
        e.memory_gib
            .map_or_else(String::new, |g| format!(", {g} GiB")),
        e.os,
        e.gpu
            .as_ref()
            .map_or_else(String::new, |g| format!(", GPU {g}"))
    );
    let _ = writeln!(
        o,
        "Latencies are in ms from the engine call (load: from the scheduled send time); pages \
         were rendered before timing. std is the sample standard deviation (n − 1); \
         percentiles interpolate linearly (numpy's default); TLR = p99/p50; intervals are \
         95% percentile-bootstrap intervals (2,000 resamples); outliers have a median/MAD \
         modified z-score above 3.5. See docs/bench.md.\n"
    );
    if !r.notes.is_empty() {
        o.push_str("## Notes\n\n");
        for n in &r.notes {
            let _ = writeln!(o, "- {n}");
        }
        o.push('\n');
    }
}

fn engines(r: &BenchReport) -> Table {
    let mut t = Table::left(["engine", "version", "token unit", "batching"]);
    for e in &r.engines {
        t.row([
            e.info.name.clone(),
            e.info.version.clone(),
            e.info.token_unit.clone(),
            if e.batches_natively {
                "native (shared forward passes)"
            } else {
                "none: batches run sequentially"
            }
            .into(),
        ]);
    }
    t
}

fn comparison(r: &BenchReport) -> Table {
    let mut t = Table::left([
        "setting",
        "engine",
        "n",
        "p50 E2E",
        "p99 E2E",
        "p50 TTFT",
        "p50 TPOT",
        "tokens/s",
        "pages/s",
        "peak RSS MiB",
    ]);
    for c in compare_engines(r) {
        let sequential = c.batch_mode == BatchMode::Sequential;
        t.row([
            c.label,
            format!(
                "{}{}",
                c.engine,
                if sequential { " (sequential)" } else { "" }
            ),
            format!(
                "{}{}{}",
                c.n,
                if c.failed > 0 {
                    format!(" ({} failed)", c.failed)
                } else {
                    String::new()
                },
                if c.partial { " (partial)" } else { "" }
            ),
            ms(c.e2e_p50_ms),
            ms(c.e2e_p99_ms),
            ms(c.ttft_p50_ms),
            ms(c.tpot_p50_ms),
            format!("{:.1}", c.tokens_per_s),
            format!("{:.3}", c.pages_per_s),
            num(c.peak_rss_mib, 0),
        ]);
    }
    t
}

fn throughput(r: &BenchReport) -> Table {
    let mut t = Table::left([
        "engine",
        "setting",
        "batching",
        "wall s",
        "requests",
        "tokens/s",
        "decode tokens/s",
        "pages/s",
        "peak RSS MiB",
        "CPU cores busy",
        "GPU",
    ]);
    for m in &r.measurements {
        let th = &m.throughput;
        let g = &m.resources.gpu;
        let gpu = if g.available {
            format!(
                "{} MiB peak, {}% util, {} W",
                num(g.memory_used_peak_mib, 0),
                num(g.utilisation_mean_pct, 0),
                num(g.power_mean_w, 0)
            )
        } else {
            "—".into()
        };
        t.row([
            m.engine.clone(),
            m.label.clone(),
            mode_name(m.batch_mode).into(),
            format!("{:.2}", th.wall_s),
            th.requests.to_string(),
            format!("{:.1}", th.tokens_per_s),
            num(th.decode_tokens_per_s, 1),
            format!("{:.3}", th.pages_per_s),
            num(m.resources.peak_rss_mib, 0),
            num(m.resources.cpu_cores_busy, 2),
            gpu,
        ]);
    }
    t
}

/// The table of a section about one part of a measurement (its load, its prefix groups):
/// `columns`, then a row made by `row` for each measurement that has the part (`part`), in
/// report order; `None` when none has it, and the section is left out.
pub fn per_measurement<'m, P: 'm, const N: usize>(
    measurements: &'m [Measurement],
    part: impl Fn(&'m Measurement) -> Option<&'m P>,
    columns: [&str; N],
    row: impl Fn(&'m Measurement, &'m P) -> Vec<String>,
) -> Option<Table> {
    let mut t = Table::left(columns);
    for m in measurements {
        if let Some(p) = part(m) {
            t.row(row(m, p));
        }
    }
    (!t.is_empty()).then_some(t)
}

/// The open-loop load table and each engine's capacity under the p99 limit.
fn load(o: &mut String, r: &BenchReport) {
    let columns = [
        "engine",
        "requested req/s",
        "scheduled",
        "achieved",
        "workers",
        "p50 E2E",
        "p99 E2E",
        "p50 queue",
        "p99 queue",
        "goodput req/s",
        "SLO met",
        "max send lag ms",
    ];
    let p = |s: &Option<MetricStats>, q: fn(&crate::stats::Summary) -> f64| {
        ms(s.as_ref().map(|s| q(&s.summary)))
    };
    let Some(t) = per_measurement(
        &r.measurements,
        |m| m.load.as_ref(),
        columns,
        |m, l| {
            vec![
                m.engine.clone(),
                l.requested_rate.to_string(),
                format!("{:.3}", l.scheduled_rate),
                format!("{:.3}", l.achieved_rate),
                l.concurrency.to_string(),
                p(&m.latency.e2e_ms, |s| s.p50),
                p(&m.latency.e2e_ms, |s| s.p99),
                p(&m.latency.queue_ms, |s| s.p50),
                p(&m.latency.queue_ms, |s| s.p99),
                format!("{:.3}", l.goodput_rps),
                format!("{:.0}%", l.slo_attainment * 100.0),
                format!("{:.2}", l.max_send_lag_ms),
            ]
        },
    ) else {
        return;
    };
    let _ = write!(o, "\n## Load\n\n{}", t.markdown());
    for c in &r.load_capacity {
        let _ = writeln!(
            o,
            "\n**{}**: highest tested rate with p99 E2E ≤ {} ms: {}.",
            c.engine,
            fmt_ms(c.p99_limit_ms),
            c.max_rate
                .map_or_else(|| "none".into(), |r| format!("{r} req/s"))
        );
    }
}

/// Correct-and-on-time goodput beside latency-only goodput, per rate, and the highest rates
/// meeting the goodput target.
fn correct_goodput(o: &mut String, r: &BenchReport) {
    let columns = [
        "engine",
        "requested req/s",
        "latency-only goodput req/s",
        "SLO met",
        "correct-and-on-time goodput req/s",
        "counted / scored",
        "correct (CER, no critical error)",
        "without ground truth",
        "scoring ms",
    ];
    let Some(t) = per_measurement(
        &r.measurements,
        |m| m.load.as_ref(),
        columns,
        |m, l| {
            let g = &l.correct;
            let (rps, share) = match (g.goodput_rps, g.attainment) {
                (Some(rps), Some(a)) => (
                    format!("{rps:.3}"),
                    format!("{} / {} ({:.0}%)", g.counted, g.scored, a * 100.0),
                ),
                _ => (NO_GROUND_TRUTH.to_string(), NO_GROUND_TRUTH.to_string()),
            };
            vec![
                m.engine.clone(),
                l.requested_rate.to_string(),
                format!("{:.3}", l.goodput_rps),
                format!("{:.0}%", l.slo_attainment * 100.0),
                rps,
                share,
                g.correct.to_string(),
                g.unscored.to_string(),
                format!("{:.0}", g.scoring_ms),
            ]
        },
    ) else {
        return;
    };
    let _ = write!(
        o,
        "\n## Goodput: correct and on time\n\nA request counts when it meets the latency \
         SLOs, its document's CER is within its type's profile limit (`accuracy.max_cer`) \
         and it has no critical field error; answers are scored after the rate's last \
         response (docs/bench.md).\n\n{}",
        t.markdown()
    );
    let rate = |v: Option<f64>| v.map_or_else(|| "none".into(), |r| format!("{r} req/s"));
    for c in &r.goodput_capacity {
        let correct = if c.scored {
            rate(c.correct_max_rate)
        } else {
            NO_GROUND_TRUTH.to_string()
        };
        let _ = writeln!(
            o,
            "\n**{}**: highest tested rate with ≥ {:.0}% of requests counted: latency-only \
             goodput {}, correct-and-on-time goodput {}.",
            c.engine,
            c.target * 100.0,
            rate(c.latency_max_rate),
            correct
        );
    }
}

fn soak(r: &BenchReport) -> Table {
    let mut t = Table::left([
        "engine",
        "windows",
        "p50 E2E first → last",
        "change",
        "p99 E2E first → last",
        "change",
        "peak RSS MiB first → last",
    ]);
    let pct = |v: Option<f64>| v.map_or_else(|| "—".into(), |v| format!("{:+.1}%", v * 100.0));
    for d in &r.soak_drift {
        t.row([
            d.engine.clone(),
            d.windows.to_string(),
            format!("{} → {}", ms(d.p50_first_ms), ms(d.p50_last_ms)),
            pct(d.p50_change),
            format!("{} → {}", ms(d.p99_first_ms), ms(d.p99_last_ms)),
            pct(d.p99_change),
            format!(
                "{} → {}",
                num(d.peak_rss_first_mib, 0),
                num(d.peak_rss_last_mib, 0)
            ),
        ]);
    }
    t
}

/// What the harness itself costs, against each measurement's E2E.
fn overhead(o: &mut String, r: &BenchReport) {
    let Some(h) = &r.overhead else { return };
    let _ = writeln!(
        o,
        "\n## Harness overhead\n\nMeasured with a null engine in this process: {:.0} ns per token event, {:.2} µs per request (target: under {}% of E2E).\n",
        h.cost.per_token_ns, h.cost.per_request_us, h.target_percent
    );
    let mut t = Table::left([
        "engine",
        "measurement",
        "token events/request",
        "p50 E2E ms",
        "overhead ms",
        "% of E2E",
    ]);
    for s in &h.shares {
        t.row([
            s.engine.clone(),
            s.measurement.clone(),
            format!("{:.0}", s.tokens_per_request),
            fmt_ms(s.e2e_p50_ms),
            format!("{:.4}", s.overhead_ms),
            format!("{:.4}%", s.percent_of_e2e),
        ]);
    }
    o.push_str(&t.markdown());
}

fn metric_row(name: &str, s: &MetricStats) -> Vec<Cell> {
    let m = &s.summary;
    [
        name.to_string(),
        m.count.to_string(),
        fmt_ms(m.mean),
        m.std.map_or_else(|| "—".into(), fmt_ms),
        fmt_ms(m.min),
        format!("{}{}", fmt_ms(m.p50), ci(&s.p50_ci)),
        fmt_ms(m.p90),
        format!("{}{}", fmt_ms(m.p95), ci(&s.p95_ci)),
        fmt_ms(m.p99),
        fmt_ms(m.max),
        num(m.tlr, 2),
        s.outliers.len().to_string(),
    ]
    .map(Cell::from)
    .into()
}

fn measurement_stats(o: &mut String, m: &Measurement) {
    let _ = writeln!(
        o,
        "### {} — {} ({}, {} warm-up, {} measured{}{})\n",
        m.engine,
        m.label,
        mode_name(m.batch_mode),
        m.repeats.warmup,
        m.samples.len(),
        if m.failed > 0 {
            format!(", **{} failed**", m.failed)
        } else {
            String::new()
        },
        if m.partial {
            ", **partial: interrupted**"
        } else {
            ""
        }
    );
    if let Some(g) = m.warmup.as_ref().and_then(|w| w.gpu.as_ref()) {
        let _ = writeln!(
            o,
            "GPU around warm-up: {}{}.\n",
            g.describe(),
            if g.throttled {
                " — **throttled**"
            } else {
                ""
            }
        );
    }
    let mut t = Table::left([
        "metric (ms)",
        "n",
        "mean",
        "std",
        "min",
        "p50 [95% CI]",
        "p90",
        "p95 [95% CI]",
        "p99",
        "max",
        "TLR",
        "outliers",
    ]);
    let l = &m.latency;
    // Each distinct warning once, with the metrics it applies to.
    let mut warnings: Vec<(String, Vec<&str>)> = Vec::new();
    for (name, s) in [
        ("TTFT", &l.ttft_ms),
        ("TPOT", &l.tpot_ms),
        ("ITL (pooled)", &l.itl_ms),
        ("E2E", &l.e2e_ms),
        ("queue", &l.queue_ms),
    ] {
        if let Some(s) = s {
            t.row(metric_row(name, s));
            for w in &s.warnings {
                match warnings.iter_mut().find(|(t, _)| t == w) {
                    Some((_, names)) => names.push(name),
                    None => warnings.push((w.clone(), vec![name])),
                }
            }
        }
    }
    o.push_str(&t.markdown());
    for (w, names) in warnings {
        let _ = writeln!(o, "\n> {w} ({})", names.join(", "));
    }
    o.push('\n');
}
