//! A server's own prefix-cache figures, read from its Prometheus text (`GET /metrics`)
//! before and after each `prefix` measurement (docs/bench.md, "Prefix sharing").
//!
//! Counters are in tokens and summed over their label sets (vLLM labels them by
//! `model_name` and `engine`); the first family found is used:
//! - `vllm:prefix_cache_queries` / `vllm:prefix_cache_hits` (vLLM V1 from 0.10, rendered
//!   with `_total`),
//! - `vllm:gpu_prefix_cache_queries` / `vllm:gpu_prefix_cache_hits` (vLLM V1 before 0.10;
//!   deprecated, later hidden),
//! - `medocr:prefix_cache_queries` / `medocr:prefix_cache_hits` (`medocr serve`).
//!
//! SGLang has no such counters, only the gauge `sglang:cache_hit_rate` over its own recent
//! window: it is reported as read after the measurement, not as the measurement's rate.

use serde::{Deserialize, Serialize};

/// (family, queries counter, hits counter), in order of preference.
const COUNTERS: [(&str, &str, &str); 3] = [
    (
        "vllm",
        "vllm:prefix_cache_queries",
        "vllm:prefix_cache_hits",
    ),
    (
        "vllm (before 0.10)",
        "vllm:gpu_prefix_cache_queries",
        "vllm:gpu_prefix_cache_hits",
    ),
    (
        "medocr",
        "medocr:prefix_cache_queries",
        "medocr:prefix_cache_hits",
    ),
];

/// SGLang's hit-rate gauge.
const SGLANG_HIT_RATE: &str = "sglang:cache_hit_rate";

/// The prefix-cache figures of one scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The counters found: (their names as exposed, queries, hits).
    pub counters: Option<(String, f64, f64)>,
    pub sglang_hit_rate: Option<f64>,
}

impl Snapshot {
    /// Reads the known prefix-cache metrics out of Prometheus text exposition format.
    pub fn parse(text: &str) -> Snapshot {
        let counters = COUNTERS.iter().find_map(|(_, q, h)| {
            let (q_name, queries) = counter(text, q)?;
            let (h_name, hits) = counter(text, h)?;
            Some((format!("{q_name}, {h_name}"), queries, hits))
        });
        Snapshot {
            counters,
            sglang_hit_rate: sample_sum(text, SGLANG_HIT_RATE),
        }
    }
}

/// What the server's metrics say of one measurement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerCache {
    /// The counters read, as the server names them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<String>,
    /// Input tokens looked up in the cache during the measurement (after − before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queries: Option<f64>,
    /// Of them, found in the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hits: Option<f64>,
    /// hits / queries; absent without counters or without queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hit_rate: Option<f64>,
    /// `sglang:cache_hit_rate` after the measurement (SGLang's own window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sglang_cache_hit_rate: Option<f64>,
    /// Why a figure is missing ("n/a": no /metrics, no prefix-cache metric in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ServerCache {
    /// The figures of a measurement from the scrapes before and after it; a failed scrape
    /// gives a note, never an error.
    pub fn between(
        before: &Result<Snapshot, String>,
        after: &Result<Snapshot, String>,
    ) -> ServerCache {
        let (before, after) = match (before, after) {
            (Ok(b), Ok(a)) => (b, a),
            (Err(e), _) | (_, Err(e)) => {
                return ServerCache {
                    note: Some(format!("n/a: {e}")),
                    ..ServerCache::default()
                }
            }
        };
        let mut out = ServerCache {
            sglang_cache_hit_rate: after.sglang_hit_rate,
            ..ServerCache::default()
        };
        match (&before.counters, &after.counters) {
            (Some((names, q0, h0)), Some((_, q1, h1))) => {
                let (queries, hits) = (q1 - q0, h1 - h0);
                out.counters = Some(names.clone());
                out.queries = Some(queries);
                out.hits = Some(hits);
                out.hit_rate = (queries > 0.0).then(|| hits / queries);
                if queries < 0.0 || hits < 0.0 {
                    out.note = Some("n/a: the counters went down (the server restarted)".into());
                    out.hit_rate = None;
                }
            }
            _ if out.sglang_cache_hit_rate.is_some() => {}
            _ => {
                let names: Vec<String> = COUNTERS
                    .iter()
                    .map(|(_, q, h)| format!("{q}, {h}"))
                    .chain([SGLANG_HIT_RATE.to_string()])
                    .collect();
                out.note = Some(format!(
                    "n/a: /metrics has no prefix-cache metric (looked for {})",
                    names.join("; ")
                ));
            }
        }
        out
    }
}

/// A counter by its name with or without the `_total` suffix Prometheus clients add:
/// the name found and the sum of its samples.
fn counter(text: &str, name: &str) -> Option<(String, f64)> {
    let total = format!("{name}_total");
    let found = [total.as_str(), name]
        .into_iter()
        .find_map(|n| sample_sum(text, n).map(|v| (n.to_string(), v)));
    found
}

/// The sum of every sample named exactly `name` (all label sets); `None` when none.
pub fn sample_sum(text: &str, name: &str) -> Option<f64> {
    let mut sum = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((n, v)) = sample(line) {
            if n == name {
                *sum.get_or_insert(0.0) += v;
            }
        }
    }
    sum
}

/// One sample line, `name{label="value",…} value [timestamp]`: its name and value.
fn sample(line: &str) -> Option<(&str, f64)> {
    let end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = &line[..end];
    let mut rest = &line[end..];
    if rest.starts_with('{') {
        rest = &rest[labels_end(rest)?..];
    }
    let value = rest.split_whitespace().next()?;
    Some((name, parse_value(value)?))
}

/// The byte after the `}` closing a label set that starts `s`; quoted values may hold
/// `}` and escaped quotes.
fn labels_end(s: &str) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// A Prometheus value: a float, `NaN`, `+Inf`, `-Inf`.
fn parse_value(v: &str) -> Option<f64> {
    match v {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => v.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// vLLM 0.10's exposition: the new counters with `_total`, `_created` gauges beside
    /// them, the deprecated `gpu_` names, two engines of one model.
    const VLLM: &str = r#"# HELP vllm:gpu_prefix_cache_queries_total GPU prefix cache queries. DEPRECATED: Use vllm:prefix_cache_queries instead.
# TYPE vllm:gpu_prefix_cache_queries_total counter
vllm:gpu_prefix_cache_queries_total{engine="0",model_name="Qwen/Qwen2.5-VL-7B-Instruct"} 999.0
vllm:gpu_prefix_cache_hits_total{engine="0",model_name="Qwen/Qwen2.5-VL-7B-Instruct"} 1.0
# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="Qwen/Qwen2.5-VL-7B-Instruct"} 1200.0
vllm:prefix_cache_queries_total{engine="1",model_name="Qwen/Qwen2.5-VL-7B-Instruct"} 800.0
vllm:prefix_cache_queries_created{engine="0",model_name="Qwen/Qwen2.5-VL-7B-Instruct"} 1.7537953269352946e+09
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="Qwen/Qwen2.5-VL-7B-Instruct"} 600.0
vllm:prefix_cache_hits_total{engine="1",model_name="Qwen/Qwen2.5-VL-7B-Instruct"} 200.0
"#;

    #[test]
    fn vllm_counters_with_total_and_labels_are_summed() {
        let s = Snapshot::parse(VLLM);
        let (names, q, h) = s.counters.unwrap();
        assert_eq!(
            names,
            "vllm:prefix_cache_queries_total, vllm:prefix_cache_hits_total"
        );
        assert_eq!((q, h), (2000.0, 800.0));
        assert_eq!(s.sglang_hit_rate, None);
        // The `_created` sample is another metric, not a sample of the counter.
        assert_eq!(
            sample_sum(VLLM, "vllm:prefix_cache_queries_created"),
            Some(1.7537953269352946e9)
        );
    }

    #[test]
    fn older_names_names_without_total_and_medocr() {
        let old = "vllm:gpu_prefix_cache_queries_total{model_name=\"m\"} 10\nvllm:gpu_prefix_cache_hits_total{model_name=\"m\"} 4\n";
        assert_eq!(Snapshot::parse(old).counters.unwrap().1, 10.0);
        let bare = "vllm:prefix_cache_queries 7\nvllm:prefix_cache_hits 3 1700000000000\n";
        let (names, q, h) = Snapshot::parse(bare).counters.unwrap();
        assert_eq!(names, "vllm:prefix_cache_queries, vllm:prefix_cache_hits");
        assert_eq!((q, h), (7.0, 3.0));
        let medocr =
            "# TYPE medocr:prefix_cache_hits counter\nmedocr:prefix_cache_queries_total 40\nmedocr:prefix_cache_hits_total 30\n";
        assert_eq!(Snapshot::parse(medocr).counters.unwrap().2, 30.0);
    }

    #[test]
    fn label_values_may_hold_braces_quotes_and_spaces() {
        let text = r#"sglang:cache_hit_rate{model_name="a } \"b\" c"} 0.25
sglang:cache_hit_rate{model_name="d"} NaN
"#;
        assert!(sample_sum(text, SGLANG_HIT_RATE).unwrap().is_nan());
        let one = r#"sglang:cache_hit_rate{model_name="a } \"b\" c"} 0.25"#;
        assert_eq!(Snapshot::parse(one).sglang_hit_rate, Some(0.25));
        assert_eq!(sample_sum("x{a=\"1\"} +Inf", "x"), Some(f64::INFINITY));
        // A cut line is skipped, not misread.
        assert_eq!(sample_sum("x{a=\"1\" 5", "x"), None);
    }

    #[test]
    fn deltas_hit_rates_and_missing_metrics() {
        let at = |q: f64, h: f64| {
            Ok(Snapshot {
                counters: Some(("q, h".into(), q, h)),
                sglang_hit_rate: None,
            })
        };
        let c = ServerCache::between(&at(100.0, 10.0), &at(300.0, 160.0));
        assert_eq!(
            (c.queries, c.hits, c.hit_rate),
            (Some(200.0), Some(150.0), Some(0.75))
        );
        assert_eq!(c.note, None);
        // No query in between: no rate, not a rate of 0.
        assert_eq!(
            ServerCache::between(&at(1.0, 1.0), &at(1.0, 1.0)).hit_rate,
            None
        );
        let restarted = ServerCache::between(&at(100.0, 50.0), &at(10.0, 0.0));
        assert!(restarted.hit_rate.is_none() && restarted.note.is_some());
        let none = Ok(Snapshot::parse("# nothing\nother_metric 1\n"));
        let c = ServerCache::between(&none, &none);
        assert!(c.hit_rate.is_none());
        assert!(c.note.unwrap().contains("medocr:prefix_cache_hits"));
        let failed = ServerCache::between(&Err("GET http://h/metrics: HTTP 404".into()), &none);
        assert_eq!(failed.note.unwrap(), "n/a: GET http://h/metrics: HTTP 404");
        let sglang = Ok(Snapshot::parse(
            "sglang:cache_hit_rate{model_name=\"m\"} 0.5\n",
        ));
        let c = ServerCache::between(&sglang, &sglang);
        assert_eq!((c.sglang_cache_hit_rate, c.note), (Some(0.5), None));
    }
}
