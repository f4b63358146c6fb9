//! SVG charts of a bench, drawn with the report's chart primitives and made standalone
//! ([`super::standalone`]) so each opens on its own:
//!
//! - `latency_cdf.svg`: empirical CDF of E2E per measurement (every scenario);
//! - `throughput_vs_batch.svg`: output tokens/s against batch size (`batch`, `sweep`);
//! - `latency_vs_rate.svg`: p50 and p99 E2E against the requested rate (`load`);
//! - `long_context.svg`: p50 TTFT and E2E against pages per document (`long`);
//! - `soak.svg`: p50 and p99 E2E per time window (`soak`);

use super::{color, standalone, Axis, LineChart, Point, Rule, Series, Style, Unit, PALETTE};
use crate::bench::{BenchReport, Measurement, Scenario};
use crate::report::{Exporter, ReportError};

/// Every x and every y of the series' points: the data the axes are fitted to.
fn coordinates(series: &[Series]) -> (Vec<f64>, Vec<f64>) {
    let points = || series.iter().flat_map(|s| s.points.iter());
    (
        points().map(|p| p.x).collect(),
        points().map(|p| p.y).collect(),
    )
}

fn p(m: &Measurement, q: fn(&crate::stats::Summary) -> f64) -> Option<f64> {
    m.latency.e2e_ms.as_ref().map(|s| q(&s.summary))
}

/// One chart file of a bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchChart {
    LatencyCdf,
    ThroughputVsBatch,
    LatencyVsRate,
    LongContext,
    Soak,
}

impl BenchChart {
    /// Every chart, in the order they are written.
    pub const ALL: [BenchChart; 5] = [
        BenchChart::LatencyCdf,
        BenchChart::ThroughputVsBatch,
        BenchChart::LatencyVsRate,
        BenchChart::LongContext,
        BenchChart::Soak,
    ];

    /// The chart, or `None` when the report has no data for it.
    fn chart(self, r: &BenchReport) -> Option<LineChart> {
        match self {
            BenchChart::LatencyCdf => latency_cdf(r),
            BenchChart::ThroughputVsBatch => Some(throughput_vs_batch(r)),
            BenchChart::LatencyVsRate => Some(latency_vs_rate(r)),
            BenchChart::LongContext => Some(long_context(r)),
            BenchChart::Soak => Some(soak(r)),
        }
    }
}

impl Exporter<BenchReport> for BenchChart {
    fn file_name(&self) -> String {
        match self {
            BenchChart::LatencyCdf => "latency_cdf.svg",
            BenchChart::ThroughputVsBatch => "throughput_vs_batch.svg",
            BenchChart::LatencyVsRate => "latency_vs_rate.svg",
            BenchChart::LongContext => "long_context.svg",
            BenchChart::Soak => "soak.svg",
        }
        .into()
    }

    /// The CDF needs a timed measurement; the others their scenario.
    fn applies(&self, r: &BenchReport) -> bool {
        let by = |s: Scenario| r.measurements.iter().any(|m| m.scenario == s);
        match self {
            BenchChart::LatencyCdf => r.measurements.iter().any(|m| m.latency.e2e_ms.is_some()),
            BenchChart::ThroughputVsBatch => by(Scenario::Batch) || by(Scenario::Sweep),
            BenchChart::LatencyVsRate => by(Scenario::Load),
            BenchChart::LongContext => by(Scenario::Long),
            BenchChart::Soak => by(Scenario::Soak),
        }
    }

    fn render(&self, r: &BenchReport) -> Result<Vec<u8>, ReportError> {
        Ok(self
            .chart(r)
            .map(|c| standalone(&c.render()))
            .unwrap_or_default()
            .into_bytes())
    }
}

/// E2E empirical CDF, one step series per measurement (the first eight).
fn latency_cdf(r: &BenchReport) -> Option<LineChart> {
    let mut series = Vec::new();
    let mut all = Vec::new();
    for (i, m) in r
        .measurements
        .iter()
        .filter(|m| m.latency.e2e_ms.is_some())
        .take(PALETTE.len())
        .enumerate()
    {
        let mut v: Vec<f64> = m
            .samples
            .iter()
            .filter(|s| s.error.is_none())
            .filter_map(|s| s.timing.e2e_ms)
            .collect();
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        all.extend(v.iter().copied());
        series.push(Series {
            name: format!("{} {}", m.engine, m.label),
            color: color(i),
            style: Style::Step,
            dashed: false,
            points: v
                .iter()
                .enumerate()
                .map(|(k, &x)| Point {
                    x,
                    y: (k + 1) as f64 / n,
                    tip: format!("{x:.1} ms: {:.0}% of requests", 100.0 * (k + 1) as f64 / n),
                })
                .collect(),
        });
    }
    if series.is_empty() {
        return None;
    }
    Some(LineChart {
        title: "E2E latency CDF".into(),
        x: Axis::linear("E2E latency (ms)", all, true, 1.0, Unit::Plain),
        y: Axis::percent("requests at or below"),
        series,
        rules: Vec::new(),
    })
}

/// Groups measurements into series by `key`, points from `point`.
fn grouped(
    r: &BenchReport,
    filter: impl Fn(&Measurement) -> bool,
    key: impl Fn(&Measurement) -> String,
    point: impl Fn(&Measurement) -> Option<Point>,
    dashed: bool,
    color_offset: usize,
) -> Vec<Series> {
    let mut series: Vec<Series> = Vec::new();
    for m in r.measurements.iter().filter(|m| filter(m)) {
        let Some(pt) = point(m) else { continue };
        let k = key(m);
        match series.iter_mut().find(|s| s.name == k) {
            Some(s) => s.points.push(pt),
            None => {
                let c = color(series.len() + color_offset);
                series.push(Series {
                    name: k,
                    color: c,
                    style: Style::Line,
                    dashed,
                    points: vec![pt],
                })
            }
        }
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.x.total_cmp(&b.x));
    }
    series
}

fn throughput_vs_batch(r: &BenchReport) -> LineChart {
    let series = grouped(
        r,
        |m| matches!(m.scenario, Scenario::Batch | Scenario::Sweep),
        |m| {
            if m.scenario == Scenario::Sweep {
                format!(
                    "{} {} DPI {}p",
                    m.engine, m.params.dpi, m.params.pages_per_request
                )
            } else {
                m.engine.clone()
            }
        },
        |m| {
            let b = m.params.batch_size? as f64;
            Some(Point {
                x: b,
                y: m.throughput.tokens_per_s,
                tip: format!(
                    "{} {}: {:.1} tokens/s, {:.3} pages/s",
                    m.engine, m.label, m.throughput.tokens_per_s, m.throughput.pages_per_s
                ),
            })
        },
        false,
        0,
    );
    let (xs, ys) = coordinates(&series);
    LineChart {
        title: "Throughput vs batch size".into(),
        x: Axis::log_at("batch size (requests per call)", &xs),
        y: Axis::linear("output tokens/s", ys, true, 1.0, Unit::Plain),
        series,
        rules: Vec::new(),
    }
}

fn latency_vs_rate(r: &BenchReport) -> LineChart {
    let is_load = |m: &Measurement| m.scenario == Scenario::Load;
    let pt = |q: fn(&crate::stats::Summary) -> f64, name: &'static str| {
        move |m: &Measurement| {
            let y = p(m, q)?;
            Some(Point {
                x: m.params.rate?,
                y,
                tip: format!(
                    "{} at {} req/s: {name} E2E {y:.0} ms",
                    m.engine, m.params.rate?
                ),
            })
        }
    };
    let mut series = grouped(
        r,
        is_load,
        |m| format!("{} p50", m.engine),
        pt(|s| s.p50, "p50"),
        false,
        0,
    );
    let n = series.len();
    series.extend(grouped(
        r,
        is_load,
        |m| format!("{} p99", m.engine),
        pt(|s| s.p99, "p99"),
        true,
        0,
    ));
    // The p99 series share their engine's colour.
    for (k, s) in series.iter_mut().skip(n).enumerate() {
        s.color = color(k);
    }
    let (xs, ys) = coordinates(&series);
    let mut rules = Vec::new();
    if let Some(c) = r.load_capacity.first() {
        rules.push(Rule {
            value: c.p99_limit_ms,
            vertical: false,
            label: format!("p99 limit {:.0} ms", c.p99_limit_ms),
        });
    }
    LineChart {
        title: "E2E latency vs request rate (from scheduled send)".into(),
        x: Axis::linear("requested rate (req/s)", xs, true, 0.1, Unit::Plain),
        y: Axis::linear(
            "E2E latency (ms)",
            ys.into_iter().chain(rules.iter().map(|r| r.value)),
            true,
            1.0,
            Unit::Plain,
        ),
        series,
        rules,
    }
}

fn long_context(r: &BenchReport) -> LineChart {
    let is_long = |m: &Measurement| m.scenario == Scenario::Long;
    let at = |name: &'static str, f: fn(&Measurement) -> Option<f64>| {
        move |m: &Measurement| {
            let y = f(m)?;
            Some(Point {
                x: m.params.pages_per_request as f64,
                y,
                tip: format!(
                    "{} {}: {name} {y:.0} ms, peak RSS {:.0} MiB",
                    m.engine,
                    m.label,
                    m.resources.peak_rss_mib.unwrap_or(f64::NAN)
                ),
            })
        }
    };
    let mut series = grouped(
        r,
        is_long,
        |m| format!("{} TTFT p50", m.engine),
        at("TTFT p50", |m| {
            m.latency.ttft_ms.as_ref().map(|s| s.summary.p50)
        }),
        false,
        0,
    );
    let n = series.len();
    series.extend(grouped(
        r,
        is_long,
        |m| format!("{} E2E p50", m.engine),
        at("E2E p50", |m| p(m, |s| s.p50)),
        true,
        0,
    ));
    for (k, s) in series.iter_mut().skip(n).enumerate() {
        s.color = color(k);
    }
    let (xs, ys) = coordinates(&series);
    LineChart {
        title: "Latency vs document length".into(),
        x: Axis::log_at("pages per document", &xs),
        y: Axis::linear("latency (ms)", ys, true, 1.0, Unit::Plain),
        series,
        rules: Vec::new(),
    }
}

fn soak(r: &BenchReport) -> LineChart {
    let is_soak = |m: &Measurement| m.scenario == Scenario::Soak;
    let at = |q: fn(&crate::stats::Summary) -> f64| {
        move |m: &Measurement| {
            let (_, a, b) = m.params.window?;
            let y = p(m, q)?;
            Some(Point {
                x: (a + b) / 2.0,
                y,
                tip: format!("{} {}: {y:.0} ms", m.engine, m.label),
            })
        }
    };
    let mut series = grouped(
        r,
        is_soak,
        |m| format!("{} p50", m.engine),
        at(|s| s.p50),
        false,
        0,
    );
    let n = series.len();
    series.extend(grouped(
        r,
        is_soak,
        |m| format!("{} p99", m.engine),
        at(|s| s.p99),
        true,
        0,
    ));
    for (k, s) in series.iter_mut().skip(n).enumerate() {
        s.color = color(k);
    }
    let (xs, ys) = coordinates(&series);
    LineChart {
        title: "E2E latency drift over the soak".into(),
        x: Axis::linear(
            "time since start (s, window middle)",
            xs,
            true,
            1.0,
            Unit::Plain,
        ),
        y: Axis::linear("E2E latency (ms)", ys, true, 1.0, Unit::Plain),
        series,
        rules: Vec::new(),
    }
}
