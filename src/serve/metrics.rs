//! What `medocr serve` counts: Prometheus text at `GET /metrics` (names after vLLM's where
//! vLLM has one, under the `medocr:` prefix: `medocr:num_requests_running`,
//! `medocr:request_success_total`, `medocr:e2e_request_latency_seconds` …) and the same
//! counters as JSON at `GET /metrics.json`.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;

/// Why a request was refused (the `reason` label of `medocr:requests_refused_total`).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Refusal {
    /// The body is over `--max-body-mib` (413).
    body_too_large,
    /// Too many images or pixels in one request (413).
    too_many_pixels,
    /// The body did not arrive within the request deadline (408).
    body_timeout,
    /// The requests waiting for the model fill the queue (503).
    queue_full,
    /// Bodies being read and pages in flight use the whole memory budget (503).
    memory_budget,
    /// Not a valid request (400, 404, 405).
    invalid,
}

impl Refusal {
    pub const ALL: [Refusal; 6] = [
        Refusal::body_too_large,
        Refusal::too_many_pixels,
        Refusal::body_timeout,
        Refusal::queue_full,
        Refusal::memory_budget,
        Refusal::invalid,
    ];
}

/// How a request that reached the model ended (vLLM's `finished_reason`).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Finish {
    stop,
    length,
    error,
    /// The client left before its answer was whole.
    abort,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: Refusal,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FinishLabel {
    finished_reason: Finish,
}

/// Every counter of the server; cheap to clone (the metrics are shared handles).
#[derive(Debug, Clone)]
pub struct ServeMetrics {
    pub connections: Counter,
    pub connections_refused: Counter,
    pub open_connections: Gauge,
    pub running: Gauge,
    pub waiting: Gauge,
    pub batches: Counter,
    pub prompt_tokens: Counter,
    pub generation_tokens: Counter,
    /// Input tokens looked up in the prefix cache, and those found (vLLM's
    /// `prefix_cache_queries` / `prefix_cache_hits`, in tokens); 0 with the cache off.
    pub prefix_cache_queries: Counter,
    pub prefix_cache_hits: Counter,
    pub batch_size: Histogram,
    pub e2e_seconds: Histogram,
    pub ttft_seconds: Histogram,
    /// Bytes of request bodies and decoded pages held now (the memory budget in use).
    pub budget_bytes: Gauge,
    refused: Family<ReasonLabel, Counter>,
    finished: Family<FinishLabel, Counter>,
    /// Batch sizes seen, for the JSON view (the histogram cannot be read back).
    batch_sizes: std::sync::Arc<std::sync::Mutex<BTreeMap<usize, usize>>>,
}

impl Default for ServeMetrics {
    fn default() -> Self {
        ServeMetrics {
            connections: Counter::default(),
            connections_refused: Counter::default(),
            open_connections: Gauge::default(),
            running: Gauge::default(),
            waiting: Gauge::default(),
            batches: Counter::default(),
            prompt_tokens: Counter::default(),
            generation_tokens: Counter::default(),
            prefix_cache_queries: Counter::default(),
            prefix_cache_hits: Counter::default(),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 8)),
            e2e_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 16)),
            ttft_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            budget_bytes: Gauge::default(),
            refused: Family::default(),
            finished: Family::default(),
            batch_sizes: Default::default(),
        }
    }
}

impl ServeMetrics {
    pub fn refused(&self, reason: Refusal) {
        self.refused.get_or_create(&ReasonLabel { reason }).inc();
    }

    pub fn finished(&self, finished_reason: Finish) {
        self.finished
            .get_or_create(&FinishLabel { finished_reason })
            .inc();
    }

    pub fn batch(&self, size: usize) {
        self.batches.inc();
        self.batch_size.observe(size as f64);
        *self
            .batch_sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(size)
            .or_default() += 1;
    }

    /// The Prometheus (OpenMetrics) text of every metric.
    pub fn prometheus(&self) -> String {
        let mut r = Registry::with_prefix("medocr");
        r.register(
            "connections",
            "Connections accepted",
            self.connections.clone(),
        );
        r.register(
            "connections_refused",
            "Connections closed at once because --max-connections were open",
            self.connections_refused.clone(),
        );
        r.register(
            "open_connections",
            "Connections open now",
            self.open_connections.clone(),
        );
        r.register(
            "num_requests_running",
            "Requests in the model's current batch",
            self.running.clone(),
        );
        r.register(
            "num_requests_waiting",
            "Requests queued for the model",
            self.waiting.clone(),
        );
        r.register(
            "request_success",
            "Requests that reached the model, by how they ended",
            self.finished.clone(),
        );
        r.register(
            "requests_refused",
            "Requests refused before the model, by reason",
            self.refused.clone(),
        );
        r.register("batches", "Batched model calls", self.batches.clone());
        r.register(
            "prompt_tokens",
            "Input tokens (image patches) processed",
            self.prompt_tokens.clone(),
        );
        r.register(
            "generation_tokens",
            "Output tokens generated",
            self.generation_tokens.clone(),
        );
        r.register(
            "prefix_cache_queries",
            "Input tokens looked up in the prefix cache",
            self.prefix_cache_queries.clone(),
        );
        r.register(
            "prefix_cache_hits",
            "Input tokens whose line-crop encodings the prefix cache served",
            self.prefix_cache_hits.clone(),
        );
        r.register(
            "batch_size",
            "Requests per batched model call",
            self.batch_size.clone(),
        );
        r.register(
            "e2e_request_latency_seconds",
            "From the whole request received to the last token",
            self.e2e_seconds.clone(),
        );
        r.register(
            "time_to_first_token_seconds",
            "From the whole request received to the first token",
            self.ttft_seconds.clone(),
        );
        r.register(
            "memory_budget_used_bytes",
            "Request bodies and decoded pages held now",
            self.budget_bytes.clone(),
        );
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &r).expect("writing to a String");
        // The `medocr_` prefix of the registry becomes the `medocr:` namespace vLLM uses.
        out.replace("medocr_", "medocr:")
    }

    /// The counters as JSON (`GET /metrics.json`).
    pub fn json(&self) -> serde_json::Value {
        let refused: BTreeMap<String, u64> = Refusal::ALL
            .iter()
            .map(|&reason| {
                let n = self.refused.get_or_create(&ReasonLabel { reason }).get();
                (format!("{reason:?}"), n)
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        let finished = |f| {
            self.finished
                .get_or_create(&FinishLabel { finished_reason: f })
                .get()
        };
        let sizes = self
            .batch_sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        serde_json::json!({
            "connections": self.connections.get(),
            "connections_refused": self.connections_refused.get(),
            "open_connections": self.open_connections.get(),
            "running": self.running.get(),
            "waiting": self.waiting.get(),
            "requests": finished(Finish::stop) + finished(Finish::length) + finished(Finish::error) + finished(Finish::abort),
            "failed": finished(Finish::error),
            "disconnected": finished(Finish::abort),
            "truncated": finished(Finish::length),
            "batches": self.batches.get(),
            "batch_sizes": sizes,
            "prefix_cache_queries": self.prefix_cache_queries.get(),
            "prefix_cache_hits": self.prefix_cache_hits.get(),
            "refused": refused,
            "memory_budget_used_bytes": self.budget_bytes.get(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_uses_the_medocr_namespace_and_json_agrees() {
        let m = ServeMetrics::default();
        m.connections.inc();
        m.batch(3);
        m.finished(Finish::stop);
        m.finished(Finish::length);
        m.refused(Refusal::queue_full);
        m.e2e_seconds.observe(0.5);
        m.prefix_cache_queries.inc_by(40);
        m.prefix_cache_hits.inc_by(30);
        let text = m.prometheus();
        for line in [
            "medocr:connections_total 1",
            "medocr:request_success_total{finished_reason=\"stop\"} 1",
            "medocr:requests_refused_total{reason=\"queue_full\"} 1",
            "# TYPE medocr:e2e_request_latency_seconds histogram",
            "medocr:num_requests_waiting 0",
            "medocr:prefix_cache_queries_total 40",
            "medocr:prefix_cache_hits_total 30",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        let j = m.json();
        assert_eq!(j["requests"], 2);
        assert_eq!(j["truncated"], 1);
        assert_eq!(j["batch_sizes"]["3"], 1);
        assert_eq!(j["refused"]["queue_full"], 1);
        assert_eq!(j["prefix_cache_hits"], 30);
    }
}
