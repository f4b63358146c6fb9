//! `medocr serve`: an engine (the built-in model) behind an OpenAI-compatible HTTP API, so
//! it can be deployed like a production VLM and so the `openai` engine can be tested
//! end-to-end against a real server.
//!
//! - `POST /v1/chat/completions`: the images of the user messages are the pages of one
//!   document; streaming (SSE: role chunk, one content chunk per generated token, finish
//!   chunk, usage chunk when asked, `[DONE]`) or one JSON answer.
//! - `GET /v1/models`, `GET /health`, `GET /metrics` (connection, request and batch-size
//!   counters).
//!
//! One thread per connection, one model thread behind a queue ([`batcher`]): requests
//! that arrive while the model is busy run together in one batched call.

pub mod api;
pub mod batcher;
pub mod http;

use crate::engine::Engine;
use api::{ChatRequest, ChunkChoice, ChunkOut, Completion, Delta, Usage};
use batcher::{Event, Job, Metrics};
use http::EventStream;
use std::io::BufReader;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The name in `/v1/models`; requests must name it.
    pub model_name: String,
    /// DPI of images that carry none (PNG `pHYs`) and whose request gives none.
    pub default_dpi: f32,
    /// Most requests run together in one batch.
    pub max_batch: usize,
    /// Largest image accepted, in pixels (checked before decoding).
    pub max_pixels: u64,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            model_name: "medocr-builtin".into(),
            default_dpi: 300.0,
            max_batch: 8,
            max_pixels: 120_000_000,
            max_body_bytes: 256 << 20,
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
}

struct State {
    config: ServeConfig,
    queue: Mutex<Sender<Job>>,
    metrics: Arc<Mutex<Metrics>>,
    next_id: AtomicU64,
    created: i64,
}

/// A bound server; [`Server::run`] serves until the process ends.
pub struct Server {
    listener: TcpListener,
    state: Arc<State>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) and starts the model thread.
    pub fn bind(
        addr: impl ToSocketAddrs + std::fmt::Debug,
        engine: Box<dyn Engine>,
        config: ServeConfig,
    ) -> Result<Server, ServeError> {
        let listener = TcpListener::bind(&addr).map_err(|source| ServeError::Bind {
            addr: format!("{addr:?}"),
            source,
        })?;
        let metrics = Arc::new(Mutex::new(Metrics::default()));
        let queue = batcher::spawn(engine, config.max_batch, metrics.clone());
        Ok(Server {
            listener,
            state: Arc::new(State {
                config,
                queue: Mutex::new(queue),
                metrics,
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

    /// A snapshot of the counters.
    pub fn metrics(&self) -> Metrics {
        self.state
            .metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Accepts connections, one thread each, until the process ends.
    pub fn run(self) -> Result<(), ServeError> {
        for stream in self.listener.incoming() {
            match stream {
                Ok(stream) => {
                    self.state
                        .metrics
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .connections += 1;
                    let state = self.state.clone();
                    std::thread::spawn(move || handle(stream, &state));
                }
                // A client that vanished during the handshake is not the server's problem.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => {}
                Err(e) => return Err(ServeError::Accept(e)),
            }
        }
        Ok(())
    }
}

/// How long a kept-alive connection may wait for its next request before it is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves one connection: requests one after another while the client keeps it and each
/// response was written whole. Write errors mean the client left: the request's channel is
/// dropped and the model thread stops sending to it.
fn handle(stream: TcpStream, state: &State) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let mut conn = http::Conn::new(stream);
    loop {
        let request = match http::read_request(&mut reader, state.config.max_body_bytes) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                conn.keep_alive = false;
                let _ = http::write_json(
                    &mut conn,
                    e.status,
                    &api::error_body(&e.message, "invalid_request_error", e.status),
                );
                return;
            }
        };
        conn.keep_alive = request.keep_alive;
        let written = respond(&mut conn, state, &request);
        if written.is_err() || !conn.complete || !conn.keep_alive {
            return;
        }
    }
}

/// Answers one request on `conn`.
fn respond(
    conn: &mut http::Conn,
    state: &State,
    request: &http::HttpRequest,
) -> std::io::Result<()> {
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/health") => http::write_json(conn, 200, r#"{"status":"ok"}"#),
        ("GET", "/v1/models") => {
            let body = serde_json::json!({"object": "list", "data": [{
                "id": state.config.model_name, "object": "model",
                "created": state.created, "owned_by": "medocr"}]});
            http::write_json(conn, 200, &body.to_string())
        }
        ("GET", "/metrics") => {
            let m = state
                .metrics
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let body = serde_json::to_string(&m).unwrap_or_default();
            http::write_json(conn, 200, &body)
        }
        ("POST", "/v1/chat/completions") => chat(conn, state, &request.body),
        (_, "/health" | "/v1/models" | "/metrics" | "/v1/chat/completions") => http::write_json(
            conn,
            405,
            &api::error_body("method not allowed", "invalid_request_error", 405),
        ),
        (_, path) => http::write_json(
            conn,
            404,
            &api::error_body(&format!("no route {path}"), "invalid_request_error", 404),
        ),
    }
}

fn chat(conn: &mut http::Conn, state: &State, body: &[u8]) -> std::io::Result<()> {
    let invalid = |conn: &mut http::Conn, status: u16, message: &str| {
        let kind = if status == 404 {
            "NotFoundError"
        } else {
            "invalid_request_error"
        };
        http::write_json(conn, status, &api::error_body(message, kind, status))
    };
    let request: ChatRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return invalid(conn, 400, &format!("not a chat completion request: {e}")),
    };
    let config = &state.config;
    if request.model != config.model_name {
        let message = format!(
            "The model `{}` does not exist; this server serves `{}`.",
            request.model, config.model_name
        );
        return invalid(conn, 404, &message);
    }
    let pages = match api::pages(&request, config.default_dpi, config.max_pixels) {
        Ok(p) => p,
        Err(e) => return invalid(conn, 400, &e),
    };
    let (tx, events) = mpsc::channel();
    let queued = state
        .queue
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(Job { pages, events: tx });
    // Wait for the batch to start: its size goes into a response header.
    let batch_size = match (queued, events.recv()) {
        (Ok(()), Ok(Event::Started { batch_size })) => batch_size,
        _ => {
            let body = api::error_body("the model thread is gone", "InternalServerError", 503);
            return http::write_json(conn, 503, &body);
        }
    };
    let id = format!(
        "chatcmpl-medocr-{}",
        state.next_id.fetch_add(1, Ordering::Relaxed)
    );
    let model = config.model_name.as_str();
    let chunk = |delta: Delta<'_>, finish: Option<&'static str>, usage: Option<Usage>| {
        let choices = if usage.is_some() {
            Vec::new() // the usage chunk has no choices, as in vLLM
        } else {
            vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish,
            }]
        };
        serde_json::to_string(&ChunkOut {
            id: &id,
            object: "chat.completion.chunk",
            created: chrono::Utc::now().timestamp(),
            model,
            choices,
            usage,
        })
        .expect("serialisable chunk")
    };

    if !request.stream {
        let mut text = String::new();
        for event in events.iter() {
            match event {
                Event::Token(t) => text.push_str(&t),
                Event::Done {
                    prompt_tokens,
                    completion_tokens,
                } => {
                    let body = Completion {
                        id: &id,
                        object: "chat.completion",
                        created: chrono::Utc::now().timestamp(),
                        model,
                        choices: [api::CompletionChoice {
                            index: 0,
                            message: api::AssistantMessage {
                                role: "assistant",
                                content: &text,
                            },
                            finish_reason: "stop",
                        }],
                        usage: Usage::new(prompt_tokens, completion_tokens),
                    };
                    let body = serde_json::to_string(&body).expect("serialisable completion");
                    return http::write_json(conn, 200, &body);
                }
                Event::Failed(e) => {
                    let body = api::error_body(&e, "InternalServerError", 500);
                    return http::write_json(conn, 500, &body);
                }
                Event::Started { .. } => {}
            }
        }
        return http::write_json(
            conn,
            500,
            &api::error_body("the model thread stopped", "InternalServerError", 500),
        );
    }

    let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
    let mut sse = EventStream::start(conn, &[("X-Medocr-Batch-Size", batch_size.to_string())])?;
    sse.data(&chunk(
        Delta {
            role: Some("assistant"),
            content: Some(""),
        },
        None,
        None,
    ))?;
    for event in events.iter() {
        match event {
            Event::Token(t) => sse.data(&chunk(
                Delta {
                    role: None,
                    content: Some(&t),
                },
                None,
                None,
            ))?,
            Event::Done {
                prompt_tokens,
                completion_tokens,
            } => {
                sse.data(&chunk(Delta::default(), Some("stop"), None))?;
                if include_usage {
                    let usage = Usage::new(prompt_tokens, completion_tokens);
                    sse.data(&chunk(Delta::default(), None, Some(usage)))?;
                }
                sse.data("[DONE]")?;
                return sse.finish();
            }
            Event::Failed(e) => {
                // As vLLM does: an error event, and no [DONE].
                sse.data(&api::error_body(&e, "InternalServerError", 500))?;
                return sse.finish();
            }
            Event::Started { .. } => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EngineError, EngineInfo, Request, Streaming, TokenSink};
    use std::io::{Read, Write};

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
                s.input_tokens(7);
                s.token("p");
                s.token(&r.pages.len().to_string());
            }
            Ok(())
        }
    }

    fn start(pause_ms: u64) -> (SocketAddr, Arc<Mutex<Vec<usize>>>) {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let engine = Slow {
            batches: batches.clone(),
            pause: Duration::from_millis(pause_ms),
        };
        let config = ServeConfig {
            model_name: "m".into(),
            ..ServeConfig::default()
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
        assert!(r.contains("Transfer-Encoding: chunked"), "{r}");
        assert!(r.contains("\"role\":\"assistant\""));
        assert!(r.contains("\"content\":\"p\"") && r.contains("\"content\":\"1\""));
        assert!(r.contains("\"finish_reason\":\"stop\""));
        assert!(r.contains(
            "\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9}"
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
    fn requests_queued_while_busy_run_as_one_batch() {
        let (addr, batches) = start(400);
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
        assert!(first.join().unwrap().contains("X-Medocr-Batch-Size: 1"));
        for o in others {
            let r = o.join().unwrap();
            assert!(
                r.contains("X-Medocr-Batch-Size: 3") && r.contains("[DONE]"),
                "{r}"
            );
        }
        assert_eq!(*batches.lock().unwrap(), [1, 3]);
        let m = call(addr, "GET", "/metrics", "");
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
}
