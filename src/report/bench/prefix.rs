//! `bench.md`'s prefix-sharing section: per group the prefix-cache hit rates (from the
//! answers' usage and from the server's counters) beside TTFT and throughput against the
//! group that shares nothing, then every request's cached tokens.

use super::markdown::{fmt_ms, per_measurement};
use crate::bench::prefix::PrefixStats;
use crate::bench::{BenchReport, Measurement};
use crate::report::table::Table;
use std::fmt::Write;

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{:.1}%", v * 100.0))
}

fn ratio(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.2}×"))
}

/// The section, when the report has prefix measurements.
pub fn section(o: &mut String, r: &BenchReport) {
    let Some(groups) = groups(&r.measurements) else {
        return;
    };
    let ms: Vec<(&Measurement, &PrefixStats)> = r
        .measurements
        .iter()
        .filter_map(|m| Some((m, m.prefix.as_ref()?)))
        .collect();
    let _ = write!(
        o,
        "\n## Prefix sharing\n\nHit rate = cached / prompt tokens: from each answer's \
         `usage.prompt_tokens_details` (usage), and from the server's prefix-cache counters \
         scraped before and after the group (server). Ratios divide the group's figure by \
         the no-sharing group's (below 1× TTFT: faster).\n\n{}",
        groups.markdown()
    );
    let mut named = std::collections::BTreeSet::new();
    for (m, p) in &ms {
        if let Some(s) = &p.server {
            if let Some(c) = s.counters.as_ref().filter(|_| named.insert(&m.engine)) {
                let _ = writeln!(o, "\n{}: server counters `{c}`.", m.engine);
            }
            if let Some(g) = s.sglang_cache_hit_rate {
                let _ = writeln!(
                    o,
                    "\n{} {}: `sglang:cache_hit_rate` after the group: {} (SGLang's own window).",
                    m.engine,
                    m.label,
                    pct(Some(g))
                );
            }
        }
    }
    let _ = write!(o, "\n### Requests\n\n{}", requests(&ms).markdown());
}

fn groups(measurements: &[Measurement]) -> Option<Table> {
    let columns = [
        "engine",
        "group",
        "shares",
        "n",
        "hit rate (usage)",
        "cached / prompt tokens",
        "hit rate (server)",
        "p50 TTFT",
        "p95 TTFT",
        "TTFT p50 vs none",
        "req/s",
        "tokens/s",
        "req/s vs none",
    ];
    per_measurement(
        measurements,
        |m| m.prefix.as_ref(),
        columns,
        |m, p| {
            let ttft = m.latency.ttft_ms.as_ref().map(|s| &s.summary);
            let server = p.server.as_ref().map_or_else(
                || "— (in process)".into(),
                |s| {
                    if s.hit_rate.is_some() {
                        pct(s.hit_rate)
                    } else {
                        s.note.clone().unwrap_or_else(|| "n/a".into())
                    }
                },
            );
            let vs = p.vs_no_sharing.as_ref();
            vec![
                m.engine.clone(),
                m.label.clone(),
                p.shared.clone(),
                format!(
                    "{}{}",
                    m.samples.len(),
                    if m.partial { " (partial)" } else { "" }
                ),
                pct(p.hit_rate),
                format!(
                    "{} / {} ({} reported)",
                    p.cached_tokens, p.prompt_tokens, p.reported
                ),
                server,
                ttft.map_or_else(|| "—".into(), |s| fmt_ms(s.p50)),
                ttft.map_or_else(|| "—".into(), |s| fmt_ms(s.p95)),
                ratio(vs.and_then(|v| v.ttft_p50_ratio)),
                format!("{:.3}", m.throughput.requests_per_s),
                format!("{:.1}", m.throughput.tokens_per_s),
                ratio(vs.and_then(|v| v.requests_per_s_ratio)),
            ]
        },
    )
}

fn requests(ms: &[(&Measurement, &PrefixStats)]) -> Table {
    let mut t = Table::left([
        "engine",
        "group",
        "#",
        "page",
        "prompt tokens",
        "cached",
        "hit rate",
        "TTFT",
    ]);
    let opt = |v: Option<usize>| v.map_or_else(|| "—".into(), |v| v.to_string());
    for (m, p) in ms {
        for r in &p.requests {
            let ttft = m.samples.get(r.index).and_then(|s| s.timing.ttft_ms);
            t.row([
                m.engine.clone(),
                p.group.name().to_string(),
                r.index.to_string(),
                r.doc_id.clone(),
                opt(r.prompt_tokens),
                opt(r.cached_tokens),
                pct(r.hit_rate),
                ttft.map_or_else(|| "—".into(), fmt_ms),
            ]);
        }
    }
    t
}
