//! `medocr serve`: an engine (the built-in model) behind an OpenAI-compatible HTTP API, so
//! it can be deployed like a production VLM and so the `openai` engine can be tested
//! end-to-end against a real server.
//!
//! - `POST /v1/chat/completions`: the images of the user messages are the pages of one
//!   document; streaming (SSE: role chunk, one content chunk per generated token, finish
//!   chunk, usage chunk when asked, `[DONE]`) or one JSON answer (`chat`).
//! - `GET /v1/models`, `GET /health`, `GET /metrics` (Prometheus text) and
//!   `GET /metrics.json` ([`metrics`]).
//!
//! HTTP/1.1 is hyper's (framing, `Expect: 100-continue`, the header read deadline), routed
//! by axum, on a small tokio runtime; one model thread behind a bounded queue
//! ([`batcher`]): requests that arrive while the model is busy run together in one batched
//! call. What a client may hold is bounded: connections, the time to send a request, the
//! time a stalled client may block a write, the images and pixels of one request, and the
//! memory of all bodies and pages in flight ([`limits`]); docs/serve.md lists the limits.

pub mod api;
pub mod batcher;
mod chat;
mod continuous;
pub mod limits;
pub mod metrics;

use crate::engine::Engine;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use limits::Budget;
use metrics::ServeMetrics;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The name in `/v1/models`; requests must name it.
    pub model_name: String,
    /// DPI of images that carry none (PNG `pHYs`) and whose request gives none.
    pub default_dpi: f32,
    /// Continuous (requests join the running decode batch between steps) or static.
    pub batching: batcher::Batching,
    /// Most requests run together in one batch (static) or in flight (continuous).
    pub max_batch: usize,
    /// Continuous batching: pieces decoded together, and encoder tokens admitted per step.
    pub step: crate::engine::StepLimits,
    /// Most requests waiting for the model; one more is answered 503 with `Retry-After`.
    pub max_queue: usize,
    /// Largest image accepted, in pixels (checked before decoding).
    pub max_pixels: u64,
    /// Most images in one request.
    pub max_images: usize,
    /// Most pixels of all images of one request together (checked before decoding).
    pub max_request_pixels: u64,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Bytes of request bodies being read plus decoded pages (one byte per pixel) waiting
    /// for or in the model, over all requests: the memory a client can make the server hold.
    pub memory_budget_bytes: u64,
    /// Most open connections; one more is answered 503 and closed at once.
    pub max_connections: usize,
    /// Time to send a request's head (request line and headers); also how long a kept-alive
    /// connection may stay idle.
    pub header_timeout: Duration,
    /// Time to send a request's body, from the end of its head.
    pub body_timeout: Duration,
    /// How long one write to a client may stall (a client that stops reading its stream).
    pub write_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            model_name: "medocr-builtin".into(),
            default_dpi: 300.0,
            batching: batcher::Batching::Static,
            max_batch: 8,
            step: crate::engine::StepLimits {
                rows: 32,
                step_tokens: DEFAULT_STEP_TOKENS,
            },
            max_queue: 64,
            max_pixels: 120_000_000,
            max_images: 64,
            max_request_pixels: 240_000_000,
            max_body_bytes: 64 << 20,
            memory_budget_bytes: 2 << 30,
            max_connections: 1024,
            header_timeout: Duration::from_secs(20),
            body_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("accepting connections: {0}")]
    Accept(std::io::Error),
    #[error("starting the server's runtime: {0}")]
    Runtime(std::io::Error),
}

/// What every request handler shares.
struct AppState {
    config: ServeConfig,
    queue: batcher::Queue,
    budget: Budget,
    metrics: ServeMetrics,
    /// Decodes run on the blocking pool, at most this many at once: each holds up to
    /// `max_pixels` × 4 bytes beside the budget while it decodes.
    decoders: Semaphore,
    next_id: AtomicU64,
    created: i64,
}

/// Encoder tokens encoded per continuous-batching step: about 500 pieces of the built-in
/// model, a 150 DPI page or more. Fewer make a step shorter (a request that arrives waits
/// less for its first encode) but encode in smaller width-sorted batches that pad more:
/// measured on 8 requests at 2 req/s, 1024 cost 23% more CPU than static batching, 8192 6%.
pub const DEFAULT_STEP_TOKENS: usize = 8192;

/// Images decoded at once (docs/serve.md: part of the memory ceiling).
const DECODERS: usize = 2;

/// A bound server; [`Server::run`] serves until the process ends.
pub struct Server {
    listener: std::net::TcpListener,
    state: Arc<AppState>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) and starts the model thread.
    pub fn bind(
        addr: impl ToSocketAddrs + std::fmt::Debug,
        engine: Box<dyn Engine>,
        config: ServeConfig,
    ) -> Result<Server, ServeError> {
        let bind_err = |source| ServeError::Bind {
            addr: format!("{addr:?}"),
            source,
        };
        let listener = std::net::TcpListener::bind(&addr).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let metrics = ServeMetrics::default();
        let schedule = batcher::Schedule {
            batching: config.batching,
            max_batch: config.max_batch,
            max_queue: config.max_queue,
            step: config.step,
        };
        let queue = batcher::spawn(engine, schedule, metrics.clone());
        Ok(Server {
            listener,
            state: Arc::new(AppState {
                budget: Budget::new(config.memory_budget_bytes, metrics.budget_bytes.clone()),
                config,
                queue,
                metrics,
                decoders: Semaphore::new(DECODERS),
                next_id: AtomicU64::new(0),
                created: chrono::Utc::now().timestamp(),
            }),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The counters, as `GET /metrics.json` shows them.
    pub fn metrics(&self) -> serde_json::Value {
        self.state.metrics.json()
    }

    /// Accepts and serves connections until the process ends.
    pub fn run(self) -> Result<(), ServeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(DECODERS + 2)
            .thread_name("medocr-http")
            .enable_all()
            .build()
            .map_err(ServeError::Runtime)?;
        runtime.block_on(accept(self.listener, self.state))
    }
}

async fn accept(listener: std::net::TcpListener, state: Arc<AppState>) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::from_std(listener).map_err(ServeError::Accept)?;
    let slots = Arc::new(Semaphore::new(state.config.max_connections));
    let app = router(state.clone());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            // Out of file descriptors or a client that vanished during the handshake: the
            // server goes on (after a pause, so an fd shortage does not spin).
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        state.metrics.connections.inc();
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            state.metrics.connections_refused.inc();
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (app, state) = (app.clone(), state.clone());
        tokio::spawn(async move {
            state.metrics.open_connections.inc();
            // A write that cannot proceed (a client that stopped reading) ends the
            // connection after `write_timeout`; reads are bounded by hyper's header
            // deadline and the body deadline of the handler.
            let mut io = tokio_io_timeout::TimeoutStream::new(stream);
            io.set_write_timeout(Some(state.config.write_timeout));
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(state.config.header_timeout)
                .serve_connection(TokioIo::new(Box::pin(io)), service)
                .await;
            state.metrics.open_connections.dec();
            drop(slot);
        });
    }
}

/// Answers a connection over the cap with 503 and closes it, without reading it.
async fn refuse(mut stream: tokio::net::TcpStream) {
    let body = api::error_body(
        "too many open connections; retry shortly",
        503,
        "too_many_connections",
    );
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(response.as_bytes()).await?;
        // Read what the client sent before closing: a socket closed with unread input is
        // reset, and a reset can destroy the answer before the client reads it.
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async { json(StatusCode::OK, r#"{"status":"ok"}"#.into()) }),
        )
        .route("/v1/models", get(models))
        .route("/metrics", get(prometheus))
        .route("/metrics.json", get(metrics_json))
        .route("/v1/chat/completions", post(chat::chat))
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed",
                "method_not_allowed",
            )
        })
        .fallback(|uri: axum::http::Uri| async move {
            error(
                StatusCode::NOT_FOUND,
                &format!("no route {}", uri.path()),
                "not_found",
            )
        })
        .with_state(state)
}

async fn models(State(state): State<Arc<AppState>>) -> Response {
    let body = serde_json::json!({"object": "list", "data": [{
        "id": state.config.model_name, "object": "model",
        "created": state.created, "owned_by": "medocr"}]});
    json(StatusCode::OK, body.to_string())
}

async fn prometheus(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.prometheus(),
    )
        .into_response()
}

async fn metrics_json(State(state): State<Arc<AppState>>) -> Response {
    json(StatusCode::OK, state.metrics.json().to_string())
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// An OpenAI-style error answer.
fn error(status: StatusCode, message: &str, code: &str) -> Response {
    json(status, api::error_body(message, status.as_u16(), code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{
        EngineError, EngineInfo, Prepared, Preparer, Request, Sinks, Stepper, Stepping, Streaming,
        TokenSink,
    };
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::sync::Mutex;

    /// Emits "p<pages>" per request after a pause, and records the batch sizes it ran.
    struct Slow {
        batches: Arc<Mutex<Vec<usize>>>,
        pause: Duration,
    }

    impl Engine for Slow {
        fn info(&self) -> EngineInfo {
            EngineInfo {
                name: "slow".into(),
                version: "0".into(),
                checkpoint_sha256: None,
                streaming: Streaming::PerToken,
                token_unit: "char".into(),
                settings: Default::default(),
            }
        }
        fn recognize(
            &mut self,
            request: &Request<'_>,
            sink: &mut dyn TokenSink,
        ) -> Result<(), EngineError> {
            self.recognize_batch(std::slice::from_ref(request), &mut [sink])
        }
        fn batches_natively(&self) -> bool {
            true
        }
        fn recognize_batch(
            &mut self,
            requests: &[Request<'_>],
            sinks: &mut [&mut dyn TokenSink],
        ) -> Result<(), EngineError> {
            self.batches.lock().unwrap().push(requests.len());
            std::thread::sleep(self.pause);
            for (r, s) in requests.iter().zip(sinks.iter_mut()) {
                if r.pages[0].dpi == 13.0 {
                    panic!("boom");
                }
                if r.pages[0].dpi == 7.0 {
                    // 32 MB of answer: more than loopback's socket buffers hold.
                    let chunk = "x".repeat(8 << 10);
                    for _ in 0..4000 {
                        s.token(&chunk);
                    }
                }
                s.input_tokens(7);
                s.token("p");
                s.token(&r.pages.len().to_string());
            }
            Ok(())
        }
        fn stepping(&self, _limits: crate::engine::StepLimits) -> Option<Stepping<'_>> {
            Some(Stepping {
                stepper: Box::new(SlowSteps(Vec::new())),
                preparer: Box::new(SlowPrep),
            })
        }
    }

    /// [`Slow`]'s continuous batching: preparing panics on pages at 11 DPI, a step on pages
    /// at 13 DPI; a document reads "p<pages>" at its first step.
    struct SlowPrep;
    struct SlowSteps(Vec<(u64, (usize, f32))>);

    impl Preparer for SlowPrep {
        fn prepare(&self, pages: &[crate::render::Page], sink: &mut dyn TokenSink) -> Prepared {
            assert!(pages[0].dpi != 11.0, "boom");
            sink.input_tokens(7);
            Prepared(Box::new((pages.len(), pages[0].dpi)))
        }
    }

    impl Stepper for SlowSteps {
        fn admit(&mut self, ticket: u64, doc: Prepared) {
            self.0.push((ticket, *doc.0.downcast().unwrap()));
        }
        fn step(&mut self, sinks: &mut dyn Sinks) -> Vec<(u64, Result<(), EngineError>)> {
            let mut done = Vec::new();
            for (ticket, (pages, dpi)) in self.0.drain(..) {
                assert!(dpi != 13.0, "boom");
                sinks.sink(ticket).token("p");
                sinks.sink(ticket).token(&pages.to_string());
                done.push((ticket, Ok(())));
            }
            done
        }
        fn cancel(&mut self, ticket: u64) {
            self.0.retain(|(t, _)| *t != ticket);
        }
        fn in_flight(&self) -> usize {
            self.0.len()
        }
        fn reset(&mut self) {
            self.0.clear();
        }
    }

    fn start(pause_ms: u64) -> (SocketAddr, Arc<Mutex<Vec<usize>>>) {
        start_with(
            pause_ms,
            ServeConfig {
                model_name: "m".into(),
                ..ServeConfig::default()
            },
        )
    }

    fn start_with(pause_ms: u64, config: ServeConfig) -> (SocketAddr, Arc<Mutex<Vec<usize>>>) {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let engine = Slow {
            batches: batches.clone(),
            pause: Duration::from_millis(pause_ms),
        };
        let server = Server::bind("127.0.0.1:0", Box::new(engine), config).unwrap();
        let addr = server.local_addr();
        std::thread::spawn(move || server.run());
        (addr, batches)
    }

    fn body(stream: bool, dpi: f32) -> String {
        let page = crate::render::Page {
            image: image::GrayImage::from_pixel(8, 8, image::Luma([0])),
            dpi,
            index: 0,
        };
        let png = crate::engine::openai::encode_png(&page);
        use base64::Engine as _;
        let url = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        );
        serde_json::json!({"model": "m", "stream": stream,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": url}},
                {"type": "text", "text": "read"}]}]})
        .to_string()
    }

    fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn streaming_non_streaming_and_routes() {
        let (addr, _) = start(0);
        assert!(call(addr, "GET", "/health", "").contains("\"ok\""));
        assert!(call(addr, "GET", "/v1/models", "").contains("\"id\":\"m\""));
        assert!(call(addr, "GET", "/nope", "").starts_with("HTTP/1.1 404"));
        let r = call(addr, "POST", "/v1/chat/completions", &body(true, 150.0));
        assert!(r.contains("transfer-encoding: chunked"), "{r}");
        assert!(r.contains("\"role\":\"assistant\""));
        assert!(r.contains("\"content\":\"p\"") && r.contains("\"content\":\"1\""));
        assert!(r.contains("\"finish_reason\":\"stop\""));
        assert!(r.contains(
            "\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9,"
        ));
        assert!(r.contains("data: [DONE]"));
        let r = call(addr, "POST", "/v1/chat/completions", &body(false, 150.0));
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(r.contains("\"content\":\"p1\""), "{r}");
        let r = call(
            addr,
            "POST",
            "/v1/chat/completions",
            &body(false, 150.0).replace("\"m\"", "\"x\""),
        );
        assert!(r.starts_with("HTTP/1.1 404"), "{r}");
        let r = call(addr, "POST", "/v1/chat/completions", "{");
        assert!(r.starts_with("HTTP/1.1 400"), "{r}");
        // A panicking model fails its request; the server goes on.
        let r = call(addr, "POST", "/v1/chat/completions", &body(true, 13.0));
        assert!(r.contains("\"error\"") && !r.contains("[DONE]"), "{r}");
        assert!(call(addr, "POST", "/v1/chat/completions", &body(false, 150.0)).contains("p1"));
    }

    #[test]
    fn continuous_batching_fails_only_the_requests_that_panic() {
        let (addr, _) = start_with(
            0,
            ServeConfig {
                model_name: "m".into(),
                batching: batcher::Batching::Continuous,
                ..ServeConfig::default()
            },
        );
        let read = |dpi| call(addr, "POST", "/v1/chat/completions", &body(false, dpi));
        let r = read(150.0);
        assert!(r.contains("\"content\":\"p1\"") && r.contains("\"prompt_tokens\":7"));
        // Preparing panics: that request fails with the reason, before it started.
        let r = read(11.0);
        assert!(r.starts_with("HTTP/1.1 500"), "{r}");
        assert!(r.contains("line detection panicked"), "{r}");
        assert!(read(150.0).contains("\"content\":\"p1\""));
        // A step panics: the scheduler starts afresh and serves the next request.
        let r = read(13.0);
        assert!(r.contains("the model panicked on this batch"), "{r}");
        assert!(read(150.0).contains("\"content\":\"p1\""));
        let m = call(addr, "GET", "/metrics.json", "");
        assert!(m.contains("\"waiting\":0"), "{m}");
    }

    #[test]
    fn requests_queued_while_busy_run_as_one_batch() {
        // The first batch lasts 1 s: time enough for the other three to queue on a busy
        // machine.
        let (addr, batches) = start(1000);
        let first = std::thread::spawn(move || {
            call(addr, "POST", "/v1/chat/completions", &body(true, 150.0))
        });
        std::thread::sleep(Duration::from_millis(100));
        let others: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(move || {
                    call(addr, "POST", "/v1/chat/completions", &body(true, 150.0))
                })
            })
            .collect();
        assert!(first.join().unwrap().contains("x-medocr-batch-size: 1"));
        for o in others {
            let r = o.join().unwrap();
            assert!(
                r.contains("x-medocr-batch-size: 3") && r.contains("[DONE]"),
                "{r}"
            );
        }
        assert_eq!(*batches.lock().unwrap(), [1, 3]);
        let m = call(addr, "GET", "/metrics.json", "");
        assert!(m.contains("\"batch_sizes\":{\"1\":1,\"3\":1}"), "{m}");
    }

    #[test]
    fn a_client_that_leaves_does_not_stop_the_worker() {
        let (addr, _) = start(200);
        let mut s = TcpStream::connect(addr).unwrap();
        let b = body(true, 150.0);
        write!(
            s,
            "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )
        .unwrap();
        drop(s);
        std::thread::sleep(Duration::from_millis(50));
        let r = call(addr, "POST", "/v1/chat/completions", &body(false, 150.0));
        assert!(r.contains("p1"), "{r}");
    }

    #[test]
    fn a_client_that_stops_reading_is_cut_at_the_write_deadline() {
        let (addr, _) = start_with(
            0,
            ServeConfig {
                model_name: "m".into(),
                write_timeout: Duration::from_millis(300),
                ..ServeConfig::default()
            },
        );
        let mut s = TcpStream::connect(addr).unwrap();
        let b = body(true, 7.0);
        write!(
            s,
            "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )
        .unwrap();
        // Never read: the server's writes stall once the socket buffers are full.
        std::thread::sleep(Duration::from_millis(2000));
        let m = call(addr, "GET", "/metrics.json", "");
        assert!(
            m.contains("\"open_connections\":1,"),
            "only this /metrics call is open: {m}"
        );
        assert!(call(addr, "POST", "/v1/chat/completions", &body(false, 150.0)).contains("p1"));
        drop(s);
    }
}
