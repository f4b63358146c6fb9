//! `POST /v1/chat/completions`: read the body within its deadline and the memory budget,
//! check the request and its images before decoding them, queue it for the model, and
//! answer as a Server-Sent-Events stream or one JSON completion.

use super::api::{self, ChatRequest, ChunkChoice, ChunkOut, Completion, Delta, ImageError, Usage};
use super::batcher::{Event, Job, Prompt};
use super::limits::Reservation;
use super::metrics::{Finish, Refusal};
use super::{error, AppState};
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// A refused request: its answer, and why (for `medocr:requests_refused_total`).
struct Refused {
    /// Boxed: the refusal travels through every step's `Result`, which stays small.
    response: Box<Response>,
}

fn refuse(
    state: &AppState,
    reason: Refusal,
    status: StatusCode,
    message: &str,
    code: &str,
) -> Refused {
    state.metrics.refused(reason);
    let mut response = error(status, message, code);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // Overload passes: the queue drains in about a batch.
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    Refused {
        response: Box::new(response),
    }
}

/// How much of an oversized body is read and thrown away before the 413 is sent, so the
/// client reads the answer instead of a reset (a client that sent `Expect: 100-continue`
/// sends no body and needs none of this).
const DRAIN_BYTES: u64 = 256 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(5);

pub(super) async fn chat(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Response {
    match answer(&state, request).await {
        Ok(r) => r,
        Err(Refused { response }) => *response,
    }
}

async fn answer(
    state: &Arc<AppState>,
    request: axum::extract::Request,
) -> Result<Response, Refused> {
    let headers = request.headers().clone();
    let declared: Option<u64> = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let mut body = request.into_body();
    refuse_declared_oversize(state, &headers, declared, &mut body).await?;
    let (bytes, body_memory) = read_body(state, body, declared).await?;
    let received = Instant::now();

    let request = parse_request(state, &bytes)?;
    drop(bytes);
    let max_tokens = check_request(state, &request)?;
    let images = inspect_images(state, &request)?;
    let reply = Reply::new(state, &request);
    let (stream, dpi) = (request.stream, request.dpi);
    drop(request);
    if images.is_empty() {
        // Nothing to read: an empty transcription at once, so readiness probes and
        // text-only load tools get a well-formed answer.
        let (tx, rx) = unbounded_channel();
        let _ = tx.send(Event::Done {
            prompt: Prompt::default(),
            completion_tokens: 0,
            finish: Finish::stop,
        });
        return Ok(respond(state, reply, stream, rx, 1, received).await);
    }

    // The decoded pages: reserved before decoding, held until the request's batch is done.
    let pixels: u64 = images.iter().map(api::EncodedImage::pixels).sum();
    let mut pages_memory = state.budget.empty();
    if !pages_memory.grow(pixels) {
        return Err(over_budget(state));
    }
    let pages = decode_pages(state, images, dpi).await?;
    drop(body_memory);

    let (tx, mut rx) = unbounded_channel();
    submit(
        state,
        Job {
            pages,
            events: tx,
            max_tokens,
            memory: pages_memory,
        },
    )?;
    // Wait for the batch to start: its size goes into a response header.
    let batch_size = match rx.recv().await {
        Some(Event::Started { batch_size }) => batch_size,
        // Its pages failed before it started (continuous batching prepares them first).
        Some(Event::Failed(e)) => {
            return Ok(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &e,
                "internal_error",
            ))
        }
        _ => {
            return Ok(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the model thread is gone",
                "internal_error",
            ))
        }
    };
    Ok(respond(state, reply, stream, rx, batch_size, received).await)
}

/// Refuses a body whose declared length is over the limit before reading it (draining it
/// unless the client waits for `100-continue`), and closes the connection.
async fn refuse_declared_oversize(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    declared: Option<u64>,
    body: &mut Body,
) -> Result<(), Refused> {
    let max_body = state.config.max_body_bytes as u64;
    if declared.is_none_or(|n| n <= max_body) {
        return Ok(());
    }
    let expects = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if !expects {
        drain(body).await;
    }
    let mut r = refuse(
        state,
        Refusal::body_too_large,
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "the body is {} bytes, over the limit of {max_body} (--max-body-mib)",
            declared.unwrap_or(0)
        ),
        "request_too_large",
    );
    r.response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    Err(r)
}

/// The body, within its deadline and the memory budget. It is counted twice: its bytes
/// and the parsed request that copies its strings. The reservation comes back with it.
async fn read_body(
    state: &AppState,
    mut body: Body,
    declared: Option<u64>,
) -> Result<(Vec<u8>, Reservation), Refused> {
    let config = &state.config;
    let max_body = config.max_body_bytes as u64;
    let deadline = tokio::time::Instant::now() + config.body_timeout;
    let mut body_memory = state.budget.empty();
    if let Some(n) = declared {
        if !body_memory.grow(2 * n) {
            return Err(over_budget(state));
        }
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0) as usize);
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(body_timeout(state)),
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(refuse(
                    state,
                    Refusal::invalid,
                    StatusCode::BAD_REQUEST,
                    &format!("reading the body: {e}"),
                    "bad_body",
                ))
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if bytes.len() as u64 + data.len() as u64 > max_body {
            return Err(refuse(
                state,
                Refusal::body_too_large,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is over the limit of {max_body} bytes (--max-body-mib)"),
                "request_too_large",
            ));
        }
        let more = (bytes.len() + data.len()) as u64 * 2;
        if more > body_memory.bytes() && !body_memory.grow(more - body_memory.bytes()) {
            return Err(over_budget(state));
        }
        bytes.extend_from_slice(&data);
    }
    Ok((bytes, body_memory))
}

/// The body did not arrive in time: 408, and the connection is closed.
fn body_timeout(state: &AppState) -> Refused {
    let mut r = refuse(
        state,
        Refusal::body_timeout,
        StatusCode::REQUEST_TIMEOUT,
        &format!(
            "the body did not arrive within {} s",
            state.config.body_timeout.as_secs_f64()
        ),
        "timeout",
    );
    r.response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

fn over_budget(state: &AppState) -> Refused {
    refuse(
        state,
        Refusal::memory_budget,
        StatusCode::SERVICE_UNAVAILABLE,
        "the server holds as many requests as its memory budget allows; retry shortly",
        "overloaded",
    )
}

fn invalid(state: &AppState, status: StatusCode, message: &str, code: &str) -> Refused {
    refuse(state, Refusal::invalid, status, message, code)
}

fn parse_request(state: &AppState, bytes: &[u8]) -> Result<ChatRequest, Refused> {
    serde_json::from_slice(bytes).map_err(|e| {
        invalid(
            state,
            StatusCode::BAD_REQUEST,
            &format!("not a chat completion request: {e}"),
            "invalid_json",
        )
    })
}

/// Checks the model name and the parameters; returns the token limit.
fn check_request(state: &AppState, request: &ChatRequest) -> Result<Option<usize>, Refused> {
    let config = &state.config;
    if request.model != config.model_name {
        let message = format!(
            "The model `{}` does not exist; this server serves `{}`.",
            request.model, config.model_name
        );
        return Err(invalid(
            state,
            StatusCode::NOT_FOUND,
            &message,
            "model_not_found",
        ));
    }
    if request.response_format.is_some() {
        return Err(invalid(
            state,
            StatusCode::BAD_REQUEST,
            "response_format is not supported: the built-in model transcribes and cannot follow a JSON schema; send the prompt alone",
            "unsupported_parameter",
        ));
    }
    request
        .token_limit()
        .map_err(|e| invalid(state, StatusCode::BAD_REQUEST, &e, "invalid_value"))
}

/// The request's images, checked against the limits before any is decoded.
fn inspect_images(
    state: &AppState,
    request: &ChatRequest,
) -> Result<Vec<api::EncodedImage>, Refused> {
    let config = &state.config;
    let limits = api::ImageLimits {
        max_pixels: config.max_pixels,
        max_images: config.max_images,
        max_request_pixels: config.max_request_pixels,
    };
    api::inspect(request, &limits).map_err(|e| match e {
        ImageError::Invalid(m) => invalid(state, StatusCode::BAD_REQUEST, &m, "invalid_image"),
        ImageError::TooLarge(m) => refuse(
            state,
            Refusal::too_many_pixels,
            StatusCode::PAYLOAD_TOO_LARGE,
            &m,
            "request_too_large",
        ),
    })
}

/// Decodes the pages on a blocking thread, as many at once as the decoder permits allow.
async fn decode_pages(
    state: &AppState,
    images: Vec<api::EncodedImage>,
    dpi: Option<f32>,
) -> Result<Vec<crate::render::Page>, Refused> {
    let _decoder = state
        .decoders
        .acquire()
        .await
        .expect("the semaphore is never closed");
    let default_dpi = state.config.default_dpi;
    tokio::task::spawn_blocking(move || api::decode(images, dpi, default_dpi))
        .await
        .map_err(|_| "the image decoder panicked".to_string())
        .and_then(|r| r)
        .map_err(|m| invalid(state, StatusCode::BAD_REQUEST, &m, "invalid_image"))
}

/// Queues the job for the model, or refuses it when the queue is full.
fn submit(state: &AppState, job: Job) -> Result<(), Refused> {
    if state.queue.submit(job).is_err() {
        return Err(refuse(
            state,
            Refusal::queue_full,
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "{} requests are waiting for the model (--max-queue); retry shortly",
                state.config.max_queue
            ),
            "overloaded",
        ));
    }
    Ok(())
}

/// Reads and discards an oversized body, within [`DRAIN_BYTES`] and [`DRAIN_TIME`].
async fn drain(body: &mut Body) {
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    let mut read = 0u64;
    while read < DRAIN_BYTES {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => read += frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => break,
        }
    }
}

/// What every chunk of one answer shares.
struct Reply {
    id: String,
    model: String,
    include_usage: bool,
    /// vLLM's `continuous_usage_stats`: every content chunk carries the usage so far.
    continuous_usage: bool,
}

impl Reply {
    /// A fresh completion id, and the usage the request's stream options ask for.
    fn new(state: &AppState, request: &ChatRequest) -> Reply {
        let options = request.stream_options.as_ref();
        Reply {
            id: format!(
                "chatcmpl-medocr-{}",
                state.next_id.fetch_add(1, Ordering::Relaxed)
            ),
            model: state.config.model_name.clone(),
            include_usage: options.is_some_and(|o| o.include_usage),
            continuous_usage: options.is_some_and(|o| o.continuous_usage_stats),
        }
    }

    fn chunk(
        &self,
        delta: Delta<'_>,
        finish: Option<&'static str>,
        usage: Option<Usage>,
        choices: bool,
    ) -> String {
        serde_json::to_string(&ChunkOut {
            id: &self.id,
            object: "chat.completion.chunk",
            created: chrono::Utc::now().timestamp(),
            model: &self.model,
            // The usage chunk has no choices, as in vLLM.
            choices: if choices {
                vec![ChunkChoice {
                    index: 0,
                    delta,
                    finish_reason: finish,
                }]
            } else {
                Vec::new()
            },
            usage,
        })
        .expect("serialisable chunk")
    }
}

/// The answer: an event stream, or one completion once the model is done.
async fn respond(
    state: &Arc<AppState>,
    reply: Reply,
    stream: bool,
    mut rx: UnboundedReceiver<Event>,
    batch_size: usize,
    received: Instant,
) -> Response {
    let metrics = state.metrics.clone();
    if !stream {
        let mut text = String::new();
        let mut first = true;
        while let Some(event) = rx.recv().await {
            match event {
                Event::Token { text: t, .. } => {
                    if std::mem::take(&mut first) {
                        metrics
                            .ttft_seconds
                            .observe(received.elapsed().as_secs_f64());
                    }
                    text.push_str(&t);
                }
                Event::Done {
                    prompt,
                    completion_tokens,
                    finish,
                } => {
                    metrics
                        .e2e_seconds
                        .observe(received.elapsed().as_secs_f64());
                    let body = Completion {
                        id: &reply.id,
                        object: "chat.completion",
                        created: chrono::Utc::now().timestamp(),
                        model: &reply.model,
                        choices: [api::CompletionChoice {
                            index: 0,
                            message: api::AssistantMessage {
                                role: "assistant",
                                content: &text,
                            },
                            finish_reason: finish_name(finish),
                        }],
                        usage: Usage::new(prompt, completion_tokens),
                    };
                    let body = serde_json::to_string(&body).expect("serialisable completion");
                    let mut r = super::json(StatusCode::OK, body);
                    r.headers_mut()
                        .insert("x-medocr-batch-size", batch_size.into());
                    return r;
                }
                Event::Failed(e) => {
                    return error(StatusCode::INTERNAL_SERVER_ERROR, &e, "internal_error")
                }
                Event::Started { .. } => {}
            }
        }
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the model thread stopped",
            "internal_error",
        );
    }

    let events = Sse {
        reply,
        rx,
        started: false,
        finished: false,
        completion_tokens: 0,
        received,
        metrics,
    };
    let body = futures_util::stream::unfold(events, |mut s| async move {
        let data = s.next().await?;
        Some((Ok::<_, std::convert::Infallible>(data), s))
    });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::HeaderName::from_static("x-medocr-batch-size"),
                HeaderValue::from(batch_size),
            ),
        ],
        Body::from_stream(body.boxed()),
    )
        .into_response()
}

fn finish_name(f: Finish) -> &'static str {
    match f {
        Finish::length => "length",
        _ => "stop",
    }
}

/// The event stream of one answer: role chunk, a content chunk per token, finish chunk,
/// usage chunk when asked, `[DONE]`; an error event (and no `[DONE]`) if the model fails,
/// as vLLM does.
struct Sse {
    reply: Reply,
    rx: UnboundedReceiver<Event>,
    started: bool,
    finished: bool,
    completion_tokens: usize,
    received: Instant,
    metrics: super::metrics::ServeMetrics,
}

impl Sse {
    async fn next(&mut self) -> Option<String> {
        let event = |data: &str| format!("data: {data}\n\n");
        if !std::mem::replace(&mut self.started, true) {
            let role = Delta {
                role: Some("assistant"),
                content: Some(""),
            };
            return Some(event(&self.reply.chunk(role, None, None, true)));
        }
        if self.finished {
            return None;
        }
        loop {
            let Some(e) = self.rx.recv().await else {
                self.finished = true;
                return None;
            };
            match e {
                Event::Token { text, prompt } => {
                    if self.completion_tokens == 0 {
                        self.metrics
                            .ttft_seconds
                            .observe(self.received.elapsed().as_secs_f64());
                    }
                    self.completion_tokens += 1;
                    let usage = self
                        .reply
                        .continuous_usage
                        .then(|| Usage::new(prompt, self.completion_tokens));
                    let delta = Delta {
                        role: None,
                        content: Some(&text),
                    };
                    return Some(event(&self.reply.chunk(delta, None, usage, true)));
                }
                Event::Done {
                    prompt,
                    completion_tokens,
                    finish,
                } => {
                    self.finished = true;
                    self.metrics
                        .e2e_seconds
                        .observe(self.received.elapsed().as_secs_f64());
                    let usage = Usage::new(prompt, completion_tokens);
                    let continuous = self.reply.continuous_usage.then_some(usage);
                    let mut out = event(&self.reply.chunk(
                        Delta::default(),
                        Some(finish_name(finish)),
                        continuous,
                        true,
                    ));
                    if self.reply.include_usage {
                        out.push_str(&event(&self.reply.chunk(
                            Delta::default(),
                            None,
                            Some(usage),
                            false,
                        )));
                    }
                    out.push_str(&event("[DONE]"));
                    return Some(out);
                }
                Event::Failed(e) => {
                    self.finished = true;
                    return Some(event(&api::error_body(&e, 500, "internal_error")));
                }
                Event::Started { .. } => {}
            }
        }
    }
}
