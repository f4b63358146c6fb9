//! The pipeline's token sink: stamps every event with a monotonic clock and derives the
//! per-request timing metrics (DESIGN.md "Timing metrics").

use crate::engine::{Stage, Streaming, TokenSink};
use crate::report::Timing;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Records one request. The request starts when the recorder is created (before rendering,
/// so TTFT and E2E include it; the render stage is also reported on its own).
pub struct Recorder {
    start: Instant,
    /// (time since start, whether the event carried text)
    events: Vec<(Duration, bool)>,
    text: String,
    stages: BTreeMap<Stage, Duration>,
    input_tokens: Option<usize>,
    cached_tokens: Option<usize>,
    output_tokens: Option<usize>,
    pages_without_usage: usize,
}

impl Recorder {
    pub fn start() -> Self {
        Recorder::start_at(Instant::now())
    }

    /// A request that started at `start` (e.g. when its pages began rendering).
    pub fn start_at(start: Instant) -> Self {
        Recorder {
            start,
            events: Vec::new(),
            text: String::new(),
            stages: BTreeMap::new(),
            input_tokens: None,
            cached_tokens: None,
            output_tokens: None,
            pages_without_usage: 0,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Timing of the finished request. `end` is when the engine returned (used for E2E when
    /// no token arrived).
    pub fn timing(&self, streaming: Streaming, end: Instant) -> Timing {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let stages_ms = self.stages.iter().map(|(k, v)| (*k, ms(*v))).collect();
        if streaming == Streaming::Untimed {
            return Timing {
                timed: false,
                output_tokens: self.output_tokens.unwrap_or(self.events.len()),
                input_tokens: self.input_tokens,
                cached_tokens: self.cached_tokens,
                events: self.events.len(),
                stages_ms,
                pages_without_usage: self.pages_without_usage,
                ..Timing::default()
            };
        }
        // TTFT: the first event with visible text (a role-only or empty chunk does not count).
        let ttft = self
            .events
            .iter()
            .find(|(_, has_text)| *has_text)
            .map(|(t, _)| ms(*t));
        let e2e = self
            .events
            .last()
            .map(|(t, _)| ms(*t))
            .unwrap_or_else(|| ms(end - self.start));
        let n_out = self.output_tokens.unwrap_or(self.events.len());
        let streams = matches!(streaming, Streaming::PerToken | Streaming::Chunks);
        let tpot = match ttft {
            Some(ttft) if streams && n_out >= 2 => Some((e2e - ttft) / (n_out - 1) as f64),
            _ => None,
        };
        let itl_ms = if streams {
            self.events
                .windows(2)
                .map(|w| ms(w[1].0 - w[0].0))
                .collect()
        } else {
            Vec::new()
        };
        Timing {
            timed: true,
            ttft_ms: ttft.or(Some(e2e)),
            e2e_ms: Some(e2e),
            tpot_ms: tpot,
            itl_ms,
            output_tokens: n_out,
            input_tokens: self.input_tokens,
            cached_tokens: self.cached_tokens,
            events: self.events.len(),
            stages_ms,
            pages_without_usage: self.pages_without_usage,
        }
    }
}

impl TokenSink for Recorder {
    fn token(&mut self, text: &str) {
        let t = self.start.elapsed();
        self.events.push((t, !text.trim().is_empty()));
        self.text.push_str(text);
    }

    fn stage(&mut self, stage: Stage, elapsed: Duration) {
        *self.stages.entry(stage).or_default() += elapsed;
    }

    fn input_tokens(&mut self, count: usize) {
        *self.input_tokens.get_or_insert(0) += count;
    }

    fn cached_tokens(&mut self, count: usize) {
        *self.cached_tokens.get_or_insert(0) += count;
    }

    fn output_tokens(&mut self, count: usize) {
        *self.output_tokens.get_or_insert(0) += count;
    }

    fn page_without_usage(&mut self) {
        self.pages_without_usage += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttft_skips_empty_events_and_tpot_uses_token_count() {
        let mut r = Recorder::start();
        let base = r.start;
        r.events = vec![
            (Duration::from_millis(5), false),
            (Duration::from_millis(10), true),
            (Duration::from_millis(20), true),
            (Duration::from_millis(40), true),
        ];
        let t = r.timing(Streaming::PerToken, base + Duration::from_millis(50));
        assert_eq!(t.ttft_ms, Some(10.0));
        assert_eq!(t.e2e_ms, Some(40.0));
        // (40 − 10) / (4 − 1) = 10
        assert!((t.tpot_ms.unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(t.itl_ms.len(), 3);
    }

    #[test]
    fn whole_text_engines_have_ttft_equal_to_e2e() {
        let mut r = Recorder::start();
        r.events = vec![(Duration::from_millis(30), true)];
        r.output_tokens = Some(12);
        let t = r.timing(Streaming::WholeText, r.start + Duration::from_millis(31));
        assert_eq!(t.ttft_ms, t.e2e_ms);
        assert_eq!(t.tpot_ms, None);
        assert!(t.itl_ms.is_empty());
        assert_eq!(t.output_tokens, 12);
    }
}
