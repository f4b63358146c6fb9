//! The harness's own cost, measured in this process with a null engine that emits tokens
//! as fast as it can:
//!
//! - **per token event**: (time of N token calls into the pipeline's recorder − time of the
//!   same N calls into a sink that does nothing) / N, N = 200,000, best of 5 rounds. This is
//!   the clock read and bookkeeping the recorder adds to every token an engine streams.
//! - **per request**: (time of [`timed_request`] with a null engine emitting no token −
//!   time of the bare engine call) averaged over 20,000 requests: creating the recorder,
//!   deriving TTFT/TPOT/ITL/E2E and building the sample.
//!
//! For each engine measured, the overhead of its typical request (its mean output tokens)
//! is `per_request + tokens × per_token`, reported as a share of its median E2E. Statistics
//! are computed after the measurement, outside every timed path, and are not counted.

use super::measure::timed_request;
use super::{Measurement, PreparedDoc};
use crate::engine::{Engine, EngineError, EngineInfo, Request, Stage, Streaming, TokenSink};
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The target the issue sets: the harness costs under 1% of the built-in model's E2E.
pub const TARGET_PERCENT: f64 = 1.0;

/// What the harness costs per token and per request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HarnessCost {
    pub per_token_ns: f64,
    pub per_request_us: f64,
    pub token_events_timed: usize,
    pub requests_timed: usize,
}

/// The cost relative to one engine's measured requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverheadShare {
    pub engine: String,
    /// The measurement the share refers to.
    pub measurement: String,
    pub tokens_per_request: f64,
    pub e2e_p50_ms: f64,
    pub overhead_ms: f64,
    pub percent_of_e2e: f64,
}

/// The harness cost and its share of each engine's E2E.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HarnessOverhead {
    pub cost: HarnessCost,
    pub target_percent: f64,
    pub shares: Vec<OverheadShare>,
}

/// Emits `tokens` one-character tokens, nothing else: only the harness is left to time.
pub struct NullEngine {
    pub tokens: usize,
}

impl Engine for NullEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            name: "null".into(),
            version: "0".into(),
            checkpoint_sha256: None,
            streaming: Streaming::PerToken,
            token_unit: "character".into(),
            settings: Default::default(),
        }
    }

    fn needs_pages(&self) -> bool {
        false
    }

    fn recognize(
        &mut self,
        _request: &Request<'_>,
        sink: &mut dyn TokenSink,
    ) -> Result<(), EngineError> {
        for _ in 0..self.tokens {
            sink.token(black_box("가"));
        }
        Ok(())
    }
}

/// A sink that does nothing but keep the text alive: the baseline of a token call.
struct NoopSink;

impl TokenSink for NoopSink {
    fn token(&mut self, text: &str) {
        black_box(text);
    }
    fn stage(&mut self, _stage: Stage, _elapsed: Duration) {}
}

/// Measures the harness (about half a second).
pub fn measure_harness() -> HarnessCost {
    const TOKENS: usize = 200_000;
    const ROUNDS: usize = 5;
    const REQUESTS: usize = 20_000;
    let empty = PreparedDoc {
        id: "null".into(),
        pages: Vec::new(),
        render_ms: 0.0,
    };
    let request = Request {
        id: "null",
        pages: &[],
    };

    let mut engine = NullEngine { tokens: TOKENS };
    let best = |f: &mut dyn FnMut()| -> f64 {
        (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let bare = best(&mut || {
        let _ = engine.recognize(&request, &mut NoopSink);
    });
    let recorded = best(&mut || {
        let t = Instant::now();
        black_box(timed_request(
            &mut engine,
            Streaming::PerToken,
            &empty,
            t,
            t,
        ));
    });
    let per_token_ns = ((recorded - bare) / TOKENS as f64 * 1e9).max(0.0);

    let mut engine = NullEngine { tokens: 0 };
    let bare = best(&mut || {
        for _ in 0..REQUESTS {
            let _ = engine.recognize(&request, &mut NoopSink);
        }
    });
    let recorded = best(&mut || {
        for _ in 0..REQUESTS {
            let t = Instant::now();
            black_box(timed_request(
                &mut engine,
                Streaming::PerToken,
                &empty,
                t,
                t,
            ));
        }
    });
    HarnessCost {
        per_token_ns,
        per_request_us: ((recorded - bare) / REQUESTS as f64 * 1e6).max(0.0),
        token_events_timed: TOKENS * ROUNDS,
        requests_timed: REQUESTS * ROUNDS,
    }
}

/// The harness cost as a share of each engine's median E2E (its first measurement with
/// timed requests).
pub fn shares(cost: HarnessCost, measurements: &[Measurement]) -> HarnessOverhead {
    let mut out: Vec<OverheadShare> = Vec::new();
    for m in measurements {
        if out.iter().any(|s| s.engine == m.engine) {
            continue;
        }
        let Some(e2e) = &m.latency.e2e_ms else {
            continue;
        };
        let ok = m
            .samples
            .iter()
            .filter(|s| s.error.is_none())
            .count()
            .max(1);
        let tokens = m
            .samples
            .iter()
            .filter(|s| s.error.is_none())
            .map(|s| s.timing.events)
            .sum::<usize>() as f64
            / ok as f64;
        let overhead_ms = (cost.per_request_us * 1e3 + tokens * cost.per_token_ns) / 1e6;
        out.push(OverheadShare {
            engine: m.engine.clone(),
            measurement: m.label.clone(),
            tokens_per_request: tokens,
            e2e_p50_ms: e2e.summary.p50,
            overhead_ms,
            percent_of_e2e: 100.0 * overhead_ms / e2e.summary.p50,
        });
    }
    HarnessOverhead {
        cost,
        target_percent: TARGET_PERCENT,
        shares: out,
    }
}

/// What building one page's request body costs the client (PNG, base64, JSON), one way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestBuildCost {
    pub variant: String,
    pub width: u32,
    pub height: u32,
    pub png_bytes: usize,
    /// Median over the rounds of the PNG encoding alone.
    pub png_p50_ms: f64,
    /// Median over the rounds of the whole body (PNG + base64 + JSON).
    pub body_p50_ms: f64,
}

/// How the page was encoded in one variant of [`request_build_costs`].
#[derive(Clone, Copy)]
enum Encoder {
    /// The png crate's fast preset with this row filter.
    PngCrate(png::Filter),
    /// medocr's own encoder ([`page_png`](crate::engine::page_png)) on this many threads
    /// (0: every core).
    PagePng(usize),
}

impl Encoder {
    fn encode(self, page: &crate::render::Page) -> Vec<u8> {
        match self {
            Encoder::PngCrate(filter) => png_crate(page, filter),
            Encoder::PagePng(threads) => {
                crate::engine::page_png::encode(&page.image, page.dpi, threads)
            }
        }
    }
}

/// The page through the png crate (what the openai engine used before `page_png`).
fn png_crate(page: &crate::render::Page, filter: png::Filter) -> Vec<u8> {
    let (w, h) = page.image.dimensions();
    let mut out = Vec::with_capacity((w * h / 4) as usize);
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    enc.set_filter(filter);
    let mut writer = enc.write_header().expect("a grey page has a valid header");
    writer
        .write_image_data(page.image.as_raw())
        .expect("a page encodes");
    writer.finish().expect("a page encodes");
    out
}

/// The openai engine's request building for `page`, measured `rounds` times each way, side
/// by side: the png crate with its adaptive row filter and the data URL escaped by serde
/// (the first version), the png crate with the `Sub` filter and the base64 spliced into the
/// JSON (the second), and medocr's own encoder on one thread and on every core (now).
pub fn request_build_costs(page: &crate::render::Page, rounds: usize) -> Vec<RequestBuildCost> {
    use crate::engine::openai::{splice_data_url, DEFAULT_PROMPT};
    use base64::Engine as _;
    let template = serde_json::to_vec(&serde_json::json!({
        "model": "m",
        "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": ""}},
            {"type": "text", "text": DEFAULT_PROMPT}]}],
        "stream": true,
    }))
    .expect("a JSON value serialises");
    // The body as the engine first built it: a data-URL string that serde escapes and copies.
    let through_serde = |png: &[u8]| {
        let mut url = String::from("data:image/png;base64,");
        base64::engine::general_purpose::STANDARD.encode_string(png, &mut url);
        serde_json::to_vec(&serde_json::json!({
            "model": "m",
            "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": url}},
                {"type": "text", "text": DEFAULT_PROMPT}]}],
            "stream": true,
        }))
        .expect("a JSON value serialises")
    };
    let spliced = |png: &[u8]| splice_data_url(&template, png).expect("the template has a url");
    type Body<'a> = &'a dyn Fn(&[u8]) -> Vec<u8>;
    let variants: [(&str, Encoder, Body<'_>); 4] = [
        (
            "png crate, adaptive filter, serde",
            Encoder::PngCrate(png::Filter::Adaptive),
            &through_serde,
        ),
        (
            "png crate, sub filter, spliced",
            Encoder::PngCrate(png::Filter::Sub),
            &spliced,
        ),
        ("page_png, 1 thread, spliced", Encoder::PagePng(1), &spliced),
        (
            "now: page_png, all cores, spliced",
            Encoder::PagePng(0),
            &spliced,
        ),
    ];
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        crate::stats::percentile::percentile_sorted(&v, 50.0).unwrap_or(f64::NAN)
    };
    let (width, height) = page.image.dimensions();
    let mut times: Vec<(Vec<f64>, Vec<f64>, usize)> = variants
        .iter()
        .map(|_| (Vec::new(), Vec::new(), 0))
        .collect();
    // Interleaved rounds, so a busy moment of the machine hits every variant alike.
    for _ in 0..rounds.max(1) {
        for ((_, encoder, body), (png_ms, body_ms, bytes)) in variants.iter().zip(&mut times) {
            let t = Instant::now();
            let png = encoder.encode(page);
            png_ms.push(t.elapsed().as_secs_f64() * 1e3);
            black_box(body(&png));
            body_ms.push(t.elapsed().as_secs_f64() * 1e3);
            *bytes = png.len();
        }
    }
    variants
        .iter()
        .zip(times)
        .map(
            |((name, _, _), (png_ms, body_ms, png_bytes))| RequestBuildCost {
                variant: name.to_string(),
                width,
                height,
                png_bytes,
                png_p50_ms: median(png_ms),
                body_p50_ms: median(body_ms),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harness_cost_is_small_and_positive() {
        let c = measure_harness();
        // A clock read and two pushes: well under 10 µs even on a loaded test machine.
        assert!(c.per_token_ns < 10_000.0, "{c:?}");
        assert!(c.per_request_us < 1_000.0, "{c:?}");
        assert!(c.per_token_ns > 0.0, "{c:?}");
    }
}

#[cfg(test)]
mod request_build_tests {
    use super::*;

    #[test]
    fn every_variant_is_measured_on_the_same_page() {
        let page = crate::render::Page {
            image: image::GrayImage::from_fn(300, 200, |x, y| {
                image::Luma([if (x / 7 + y / 5) % 4 == 0 { 20 } else { 255 }])
            }),
            dpi: 150.0,
            index: 0,
        };
        let costs = request_build_costs(&page, 3);
        assert_eq!(costs.len(), 4);
        for c in &costs {
            assert!(c.png_p50_ms > 0.0 && c.body_p50_ms >= c.png_p50_ms, "{c:?}");
            assert!(c.png_bytes > 0 && c.png_bytes < 300 * 200, "{c:?}");
            assert_eq!((c.width, c.height), (300, 200));
        }
    }
}
