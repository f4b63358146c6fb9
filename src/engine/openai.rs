//! The `openai` engine: a page image sent to an OpenAI-compatible chat-completions server
//! (vLLM, SGLang, TGI, `medocr serve`) and the answer read as a Server-Sent-Events stream.
//!
//! One request per page (`stream: true`, `stream_options.include_usage`), the page as a
//! base64 PNG data URL that also carries the page's DPI (the PNG `pHYs` chunk, which other
//! servers ignore). Every non-empty content delta is one `token` event, so the pipeline's
//! clock stamps chunks as they arrive: TTFT is the first chunk with text (the role-only
//! first chunk does not count) and gaps are chunk gaps. Token counts come from the server's
//! `usage`; for a page answered without one, output tokens are its chunk count and the page
//! is flagged ([`TokenSink::page_without_usage`]), so every report says which documents'
//! token counts are the client's estimate.

use super::extract::ExtractSpec;
use super::http::{self, BaseUrl, Client, ClientOptions, HttpError};
use super::sse::SseParser;
use super::{Engine, EngineError, EngineInfo, Request, Stage, Streaming, TokenSink};
use crate::render::Page;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The default instruction: transcribe exactly, line by line, nothing else.
pub const DEFAULT_PROMPT: &str = "이 의료 문서 이미지의 모든 텍스트를 읽기 순서대로 한 줄씩 정확히 옮겨 적으세요. 설명이나 서식 없이 원문만 출력하세요.\nTranscribe all text in this medical document image exactly, line by line in reading order. Output only the text, without comments or formatting.";

/// Where the API key is read from unless `--api-key-env` names another variable.
pub const DEFAULT_API_KEY_ENV: &str = "OPENAI_API_KEY";

/// Error bodies and model lists are read up to this size.
const MAX_SMALL_BODY: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// `http[s]://host[:port][/prefix]` (a trailing `/v1` is accepted).
    pub base_url: String,
    /// PEM file of a private CA that signed the server's certificate (`--ca-cert`).
    pub ca_cert: Option<PathBuf>,
    /// Extra headers for every request (`--header K:V`, e.g. a gateway's routing or key
    /// header); their values are never written to a report.
    pub headers: Vec<(String, String)>,
    /// The served model name; `None` asks the server (`GET /v1/models`, first entry).
    pub model: Option<String>,
    pub prompt: String,
    /// Name of the environment variable holding the API key (the key itself never leaves
    /// this engine: not in settings, errors or logs).
    pub api_key_env: String,
    /// Limit for one page's whole exchange (connect, upload, stream).
    pub request_timeout: Duration,
    /// `max_tokens` of each request; `None` leaves it to the server.
    pub max_tokens: Option<u32>,
    /// How `--task extract` asks for the answer's shape.
    pub response_format: ResponseFormat,
}

/// How an extraction request asks for its JSON (`--response-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ResponseFormat {
    /// `response_format: {"type": "json_schema", …}` with the document type's schema: vLLM
    /// and SGLang constrain decoding to it (guided JSON). A server that refuses the field
    /// (HTTP 400/422 naming it) is asked again with the prompt alone, and the run's engine
    /// settings say so.
    #[default]
    JsonSchema,
    /// The prompt alone.
    None,
}

impl OpenAiConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        OpenAiConfig {
            base_url: base_url.into(),
            ca_cert: None,
            headers: Vec::new(),
            model: None,
            prompt: DEFAULT_PROMPT.to_string(),
            api_key_env: DEFAULT_API_KEY_ENV.to_string(),
            request_timeout: Duration::from_secs(300),
            max_tokens: None,
            response_format: ResponseFormat::default(),
        }
    }
}

pub struct OpenAiEngine {
    /// The server, its pooled kept-alive connections, TLS and proxy: neither a DNS lookup
    /// nor a TCP or TLS handshake inside every page's TTFT.
    client: Client,
    model: String,
    prompt: String,
    api_key: Option<String>,
    timeout: Duration,
    max_tokens: Option<u32>,
    /// `JsonSchema` until the server refuses it once.
    response_format: ResponseFormat,
    /// Text sent ahead of the page ([`Engine::set_prompt_salt`]).
    salt: Option<String>,
    info: EngineInfo,
}

impl OpenAiEngine {
    /// Checks the URL, reads the API key and, without `config.model`, asks the server for
    /// its model (which also proves it is reachable before a run starts).
    pub fn new(config: OpenAiConfig) -> Result<Self, EngineError> {
        let base = BaseUrl::parse(&config.base_url).map_err(EngineError::Config)?;
        if config.request_timeout.is_zero() {
            return Err(EngineError::Config(
                "the request timeout must be positive".into(),
            ));
        }
        let api_key = std::env::var(&config.api_key_env)
            .ok()
            .filter(|k| !k.trim().is_empty());
        let client = Client::new(
            base,
            &ClientOptions {
                ca_cert: config.ca_cert.clone(),
                headers: config.headers.clone(),
            },
        )
        .map_err(EngineError::Config)?;
        let model = match config.model {
            Some(m) => m,
            None => first_model(&client, api_key.as_deref(), config.request_timeout)?,
        };
        let mut settings = BTreeMap::new();
        settings.insert("base_url".into(), client.base().url(""));
        if let Some(p) = client.proxy() {
            settings.insert("proxy".into(), p.to_string());
        }
        if let Some(ca) = &config.ca_cert {
            settings.insert("ca_cert".into(), ca.display().to_string());
        }
        if !config.headers.is_empty() {
            // Names only: a gateway header may carry a key.
            let names: Vec<&str> = config.headers.iter().map(|(k, _)| k.as_str()).collect();
            settings.insert("headers".into(), names.join(", "));
        }
        settings.insert("model".into(), model.clone());
        settings.insert("prompt".into(), config.prompt.clone());
        settings.insert(
            "request_timeout_s".into(),
            config.request_timeout.as_secs_f64().to_string(),
        );
        // The variable's name and whether it was set; never its value.
        settings.insert(
            "api_key".into(),
            format!(
                "${} ({})",
                config.api_key_env,
                if api_key.is_some() { "set" } else { "not set" }
            ),
        );
        settings.insert(
            "output_tokens".into(),
            "usage.completion_tokens; chunks counted (input_tokens empty, page flagged in pages_without_usage) for pages answered without usage".into(),
        );
        if let Some(n) = config.max_tokens {
            settings.insert("max_tokens".into(), n.to_string());
        }
        settings.insert(
            "response_format".into(),
            match config.response_format {
                ResponseFormat::JsonSchema => "json_schema (--task extract)",
                ResponseFormat::None => "none (--task extract: prompt only)",
            }
            .into(),
        );
        Ok(OpenAiEngine {
            client,
            info: EngineInfo {
                name: "openai".into(),
                version: model.clone(),
                checkpoint_sha256: None,
                streaming: Streaming::Chunks,
                token_unit: "server token (usage); events are SSE chunks".into(),
                settings,
            },
            model,
            prompt: config.prompt,
            api_key,
            timeout: config.request_timeout,
            max_tokens: config.max_tokens,
            response_format: config.response_format,
            salt: None,
        })
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("Content-Type", "application/json".to_string()),
            ("Accept", "text/event-stream".to_string()),
        ];
        if let Some(k) = &self.api_key {
            h.push(("Authorization", format!("Bearer {k}")));
        }
        h
    }

    /// One page: request, stream, token events. `emitted` says whether an earlier page of
    /// the document produced text (then a `"\n"` separator precedes this page's first chunk).
    fn read_page(
        &self,
        id: &str,
        page: &Page,
        emitted: &mut bool,
        sink: &mut dyn TokenSink,
    ) -> Result<(), EngineError> {
        let errors = PageErrors {
            id,
            page: page.index + 1,
            seconds: self.timeout.as_secs_f64(),
        };
        let t = Instant::now();
        let body = self.request_body(page).map_err(|m| errors.failed(m))?;
        sink.stage(Stage::Preprocess, t.elapsed());

        let headers = self.headers();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let path = "/v1/chat/completions";
        let response = self
            .client
            .send("POST", path, &headers, &body, self.timeout)
            .map_err(|e| errors.http(e))?;
        if response.status != 200 {
            let status = response.status;
            let text = response.read_to_string(MAX_SMALL_BODY).unwrap_or_default();
            return Err(errors.failed(format!(
                "HTTP {status} from {}: {}",
                self.client.base().url(path),
                error_message(&text)
            )));
        }
        let is_sse = response
            .content_type()
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_sse {
            // A server that ignores `stream`: one JSON answer, one event.
            let text = response
                .read_to_string(64 << 20)
                .map_err(|e| errors.http(e))?;
            let (content, usage) = whole_answer(&text).map_err(|m| errors.garbage(m))?;
            let chunks = usize::from(!content.is_empty());
            if !content.is_empty() {
                if *emitted {
                    sink.token("\n");
                }
                sink.token(&content);
                *emitted = true;
            }
            self.report_usage(usage, chunks, sink);
            return Ok(());
        }

        let mut body = response.body;
        let stream = read_stream(&mut body, &errors, emitted, sink)?;
        // After `[DONE]` the server still ends the HTTP body; reading that end lets the
        // connection serve the next page. It comes after the last token, so no timing
        // moves (a stream that does not end is cut at the request's deadline).
        let _ = std::io::copy(&mut (&mut body).take(1 << 20), &mut std::io::sink());
        self.report_usage(stream.usage, stream.chunks, sink);
        Ok(())
    }

    fn report_usage(&self, usage: Option<Usage>, chunks: usize, sink: &mut dyn TokenSink) {
        let cached = usage.as_ref().and_then(Usage::cached_tokens);
        match usage.and_then(|u| Some((u.completion_tokens?, u.prompt_tokens))) {
            Some((completion, prompt)) => {
                sink.output_tokens(completion);
                if let Some(p) = prompt {
                    sink.input_tokens(p);
                }
                // Zero included: "nothing cached" differs from a server that does not say.
                if let Some(c) = cached {
                    sink.cached_tokens(c);
                }
            }
            None => {
                sink.output_tokens(chunks);
                sink.page_without_usage();
            }
        }
    }

    /// `--task extract`: one request with every page of the document and the type's
    /// prompt, answered whole (`stream: false`: the fields are used once complete, so there
    /// is no first token to time). A `finish_reason` of `length` leaves cut JSON, which the
    /// scorer reports as truncated.
    fn read_fields(
        &mut self,
        request: &Request<'_>,
        spec: &ExtractSpec,
        sink: &mut dyn TokenSink,
    ) -> Result<(), EngineError> {
        let id = request.id;
        let failed = |message: String| EngineError::Failed {
            engine: "openai".into(),
            id: id.to_string(),
            message,
        };
        let timeout = self
            .timeout
            .saturating_mul(request.pages.len().max(1) as u32);
        let http_err = |e: HttpError| match e {
            HttpError::Timeout => EngineError::Timeout {
                engine: "openai".into(),
                id: id.to_string(),
                page: request.pages.len(),
                seconds: timeout.as_secs_f64(),
            },
            other => failed(other.to_string()),
        };
        let headers = self.headers();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let path = "/v1/chat/completions";
        loop {
            let t = Instant::now();
            let schema = self.response_format == ResponseFormat::JsonSchema;
            let body = self.extract_body(request, spec, schema).map_err(&failed)?;
            sink.stage(Stage::Preprocess, t.elapsed());
            let response = self
                .client
                .send("POST", path, &headers, &body, timeout)
                .map_err(&http_err)?;
            let status = response.status;
            let text = response.read_to_string(64 << 20).map_err(&http_err)?;
            if status != 200 {
                let message = error_message(&text);
                if schema && matches!(status, 400 | 422) && message.contains("response_format") {
                    // Asked once more without it, for this and every later document.
                    self.response_format = ResponseFormat::None;
                    self.info.settings.insert(
                        "response_format".into(),
                        format!("refused by the server (HTTP {status}: {message}); prompt only"),
                    );
                    continue;
                }
                return Err(failed(format!(
                    "HTTP {status} from {}: {message}",
                    self.client.base().url(path)
                )));
            }
            let (content, usage) = whole_answer(&text).map_err(|message| EngineError::Garbage {
                engine: "openai".into(),
                id: id.to_string(),
                message,
            })?;
            if !content.is_empty() {
                sink.token(&content);
            }
            self.report_usage(usage, usize::from(!content.is_empty()), sink);
            return Ok(());
        }
    }

    /// The JSON body of an extraction request: every page, then the prompt.
    fn extract_body(
        &self,
        request: &Request<'_>,
        spec: &ExtractSpec,
        schema: bool,
    ) -> Result<Vec<u8>, String> {
        let mut content: Vec<serde_json::Value> = request
            .pages
            .iter()
            .map(|p| {
                let url = format!(
                    "data:image/png;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(encode_png(p))
                );
                serde_json::json!({"type": "image_url", "image_url": {"url": url}})
            })
            .collect();
        content.push(serde_json::json!({"type": "text", "text": spec.prompt}));
        let mut body = serde_json::json!({
            "model": self.model,
            "messages": [{"role": "user", "content": content}],
            "stream": false,
            "temperature": 0.0,
        });
        if let Some(n) = self.max_tokens {
            body["max_tokens"] = n.into();
        }
        if schema {
            body["response_format"] = serde_json::json!({
                "type": "json_schema",
                "json_schema": {"name": "medocr_fields", "schema": spec.schema, "strict": true},
            });
        }
        serde_json::to_vec(&body).map_err(|e| e.to_string())
    }

    /// The JSON body of one page's request.
    fn request_body(&self, page: &Page) -> Result<Vec<u8>, String> {
        let png = encode_png(page);
        let request = ChatRequest {
            model: &self.model,
            messages: [Message {
                role: "user",
                content: self
                    .salt
                    .iter()
                    .map(|salt| Part::Text { text: salt })
                    .chain([
                        Part::ImageUrl {
                            image_url: ImageUrl { url: "" },
                        },
                        Part::Text { text: &self.prompt },
                    ])
                    .collect(),
            }],
            stream: true,
            stream_options: StreamOptions {
                include_usage: true,
            },
            temperature: 0.0,
            max_tokens: self.max_tokens,
        };
        let json = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
        splice_data_url(&json, &png)
    }
}

impl Engine for OpenAiEngine {
    /// VLM answers come in Markdown or HTML as often as plain text.
    fn default_output_format(&self) -> crate::score::OutputFormat {
        crate::score::OutputFormat::Auto
    }

    fn info(&self) -> EngineInfo {
        self.info.clone()
    }

    fn recognize(
        &mut self,
        request: &Request<'_>,
        sink: &mut dyn TokenSink,
    ) -> Result<(), EngineError> {
        let mut emitted = false;
        for page in request.pages {
            self.read_page(request.id, page, &mut emitted, sink)?;
        }
        Ok(())
    }

    fn extracts(&self) -> bool {
        true
    }

    fn extract(
        &mut self,
        request: &Request<'_>,
        spec: &ExtractSpec,
        sink: &mut dyn TokenSink,
    ) -> Result<(), EngineError> {
        self.read_fields(request, spec, sink)
    }

    /// The salt goes first, before the page: a prefix cache keyed on the token sequence
    /// (vLLM's block hashes, SGLang's radix tree) then shares nothing across salts.
    fn set_prompt_salt(&mut self, salt: Option<&str>) -> bool {
        self.salt = salt.map(str::to_string);
        true
    }

    /// `GET /metrics` at the base URL (its `/v1` dropped: where vLLM and SGLang serve it),
    /// through the engine's own client.
    fn server_metrics(&self) -> Option<Result<String, String>> {
        Some(self.metrics_text())
    }
}

impl OpenAiEngine {
    fn metrics_text(&self) -> Result<String, String> {
        let mut headers = vec![("Accept", "text/plain".to_string())];
        if let Some(k) = &self.api_key {
            headers.push(("Authorization", format!("Bearer {k}")));
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let timeout = self.timeout.min(Duration::from_secs(30));
        let url = self.client.base().url("/metrics");
        let response = self
            .client
            .send("GET", "/metrics", &headers, &[], timeout)
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status;
        let text = response
            .read_to_string(16 << 20)
            .map_err(|e| format!("GET {url}: {e}"))?;
        if status != 200 {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        Ok(text)
    }
}

/// The page as a lossless grayscale PNG with its DPI in `pHYs`: [`page_png`](super::page_png)'s fast
/// encoder, on every core, because encoding is on each request's critical path (docs/serve.md,
/// "Client overhead").
pub fn encode_png(page: &Page) -> Vec<u8> {
    super::page_png::encode(&page.image, page.dpi, 0)
}

/// `json` (a request serialised with an empty image URL) with the PNG's base64 data URL
/// written into that URL. Base64 needs no JSON escaping, so the encoder writes straight into
/// the body instead of serde scanning and copying a string of a few hundred kilobytes.
pub fn splice_data_url(json: &[u8], png: &[u8]) -> Result<Vec<u8>, String> {
    // Unescaped quotes: only the key itself can match, never text inside the prompt.
    const SLOT: &[u8] = br#""url":"""#;
    const PREFIX: &[u8] = b"data:image/png;base64,";
    let at = json
        .windows(SLOT.len())
        .position(|w| w == SLOT)
        .ok_or("the request has no image URL to fill")?
        + SLOT.len()
        - 1;
    let b64 = base64::encoded_len(png.len(), true).ok_or("the page image is too large")?;
    let mut body = Vec::with_capacity(json.len() + PREFIX.len() + b64);
    body.extend_from_slice(&json[..at]);
    body.extend_from_slice(PREFIX);
    let start = body.len();
    body.resize(start + b64, 0);
    base64::engine::general_purpose::STANDARD
        .encode_slice(png, &mut body[start..])
        .map_err(|e| e.to_string())?;
    body.extend_from_slice(&json[at..]);
    Ok(body)
}

/// The errors of one page request, naming its document and page.
struct PageErrors<'a> {
    id: &'a str,
    /// 1-based.
    page: usize,
    /// The request's deadline.
    seconds: f64,
}

impl PageErrors<'_> {
    fn failed(&self, message: String) -> EngineError {
        EngineError::Failed {
            engine: "openai".into(),
            id: self.id.to_string(),
            message,
        }
    }

    fn garbage(&self, message: String) -> EngineError {
        EngineError::Garbage {
            engine: "openai".into(),
            id: self.id.to_string(),
            message,
        }
    }

    fn timeout(&self) -> EngineError {
        EngineError::Timeout {
            engine: "openai".into(),
            id: self.id.to_string(),
            page: self.page,
            seconds: self.seconds,
        }
    }

    fn http(&self, e: HttpError) -> EngineError {
        match e {
            HttpError::Timeout => self.timeout(),
            other => self.failed(other.to_string()),
        }
    }
}

/// What a page's event stream delivered so far.
#[derive(Default)]
struct PageStream {
    usage: Option<Usage>,
    /// Content chunks passed on as tokens.
    chunks: usize,
    /// A choice carried a finish reason.
    finished: bool,
}

/// Reads a page's event stream to `[DONE]` (or to its end after a finish reason), passing
/// each content chunk to `sink`.
fn read_stream(
    body: &mut impl Read,
    errors: &PageErrors<'_>,
    emitted: &mut bool,
    sink: &mut dyn TokenSink,
) -> Result<PageStream, EngineError> {
    let mut parser = SseParser::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut stream = PageStream::default();
    loop {
        let n = match body.read(&mut buf) {
            Ok(n) => n,
            Err(e) => match http::map_io(e) {
                HttpError::Timeout => return Err(errors.timeout()),
                other => {
                    return Err(errors.failed(format!(
                        "{other} after {} chunks (the server dropped the stream)",
                        stream.chunks
                    )))
                }
            },
        };
        if n == 0 {
            // Some servers end without `[DONE]`; a finish reason says the answer is whole.
            if stream.finished && !parser.has_pending() {
                return Ok(stream);
            }
            return Err(errors.failed(format!(
                "the server closed the connection mid-stream after {} chunks",
                stream.chunks
            )));
        }
        let events = parser
            .feed(&buf[..n])
            .map_err(|e| errors.garbage(format!("malformed event stream: {e}")))?;
        for event in events {
            if event.data.trim() == "[DONE]" {
                return Ok(stream);
            }
            stream.take(&event.data, errors, emitted, sink)?;
        }
    }
}

impl PageStream {
    /// One stream event: its usage kept, the first choice's content passed on.
    fn take(
        &mut self,
        data: &str,
        errors: &PageErrors<'_>,
        emitted: &mut bool,
        sink: &mut dyn TokenSink,
    ) -> Result<(), EngineError> {
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
            errors.garbage(format!("malformed stream event ({e}): {}", excerpt(data)))
        })?;
        if let Some(err) = chunk.error {
            return Err(errors.failed(format!(
                "the server reported an error mid-stream: {}",
                error_message(&err.to_string())
            )));
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            let content = choice.delta.as_ref().and_then(|d| d.content.as_deref());
            if let Some(text) = content.filter(|t| !t.is_empty()) {
                if *emitted && self.chunks == 0 {
                    sink.token("\n");
                }
                sink.token(text);
                self.chunks += 1;
                *emitted = true;
            }
            self.finished |= choice.finish_reason.is_some();
        }
        Ok(())
    }
}

/// The text and usage of a whole (non-streamed) chat completion.
fn whole_answer(text: &str) -> Result<(String, Option<Usage>), String> {
    let answer: Completion = serde_json::from_str(text)
        .map_err(|e| format!("not a chat completion ({e}): {}", excerpt(text)))?;
    let content = answer
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message.content)
        .unwrap_or_default();
    Ok((content, answer.usage))
}

/// Asks the server which model it serves.
fn first_model(
    client: &Client,
    api_key: Option<&str>,
    timeout: Duration,
) -> Result<String, EngineError> {
    let auth = api_key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("Accept", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let url = client.base().url("/v1/models");
    let fail = |why: String| {
        EngineError::Config(format!(
            "asking {url} for the served model: {why}; is the server up? (--model-name skips this)"
        ))
    };
    let response = client
        .send(
            "GET",
            "/v1/models",
            &headers,
            &[],
            timeout.min(Duration::from_secs(30)),
        )
        .map_err(|e| fail(e.to_string()))?;
    let status = response.status;
    let text = response
        .read_to_string(MAX_SMALL_BODY)
        .map_err(|e| fail(e.to_string()))?;
    if status != 200 {
        return Err(fail(format!("HTTP {status}: {}", error_message(&text))));
    }
    let list: ModelList =
        serde_json::from_str(&text).map_err(|e| fail(format!("not a model list ({e})")))?;
    list.data
        .into_iter()
        .next()
        .map(|m| m.id)
        .ok_or_else(|| fail("the server lists no model".into()))
}

/// The message of an OpenAI-style error body (`{"error": {"message"}}`, vLLM's
/// `{"message"}`), else an excerpt of the body.
fn error_message(body: &str) -> String {
    let v: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let msg = v.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("error"))
            .and_then(|m| m.as_str())
    });
    match msg {
        Some(m) => excerpt(m),
        None if body.trim().is_empty() => "(empty body)".into(),
        None => excerpt(body),
    }
}

fn excerpt(s: &str) -> String {
    const MAX: usize = 200;
    let s = s.trim();
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

// The wire format: only the fields this client sends or reads.

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: [Message<'a>; 1],
    stream: bool,
    stream_options: StreamOptions,
    temperature: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'a str,
    /// [salt], page, instruction.
    content: Vec<Part<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part<'a> {
    ImageUrl { image_url: ImageUrl<'a> },
    Text { text: &'a str },
}

#[derive(Serialize)]
struct ImageUrl<'a> {
    url: &'a str,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<Usage>,
    /// vLLM and SGLang report a failure inside the stream as an `error` object.
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<usize>,
    #[serde(default)]
    completion_tokens: Option<usize>,
    /// vLLM sends it with `--enable-prompt-tokens-details`, SGLang and `medocr serve`
    /// always; `null` or absent elsewhere.
    #[serde(default)]
    prompt_tokens_details: Option<PromptTokensDetails>,
}

impl Usage {
    /// Input tokens the server's prefix cache served.
    fn cached_tokens(&self) -> Option<usize> {
        self.prompt_tokens_details.as_ref()?.cached_tokens
    }
}

#[derive(Deserialize)]
struct PromptTokensDetails {
    #[serde(default)]
    cached_tokens: Option<usize>,
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<CompletionChoice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct CompletionChoice {
    message: CompletionMessage,
}

#[derive(Deserialize)]
struct CompletionMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct ModelList {
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::TextSink;
    use image::GrayImage;
    use std::io::Write;
    use std::net::TcpListener;

    /// A one-shot server: answers the first connection with `response` (split into the
    /// given pieces, each flushed separately) and returns the request it read.
    fn serve_once(pieces: Vec<Vec<u8>>) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 65536];
            // Read the head, then the body by Content-Length.
            loop {
                let n = s.read(&mut buf).unwrap();
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let len: usize = text
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length").then_some(v)
                        })
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if req.len() >= i + 4 + len {
                        break;
                    }
                }
            }
            for p in pieces {
                s.write_all(&p).unwrap();
                s.flush().unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
            String::from_utf8_lossy(&req).to_string()
        });
        (url, handle)
    }

    fn sse_head() -> Vec<u8> {
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n".to_vec()
    }

    fn page() -> Page {
        Page {
            image: GrayImage::from_pixel(40, 20, image::Luma([255])),
            dpi: 150.0,
            index: 0,
        }
    }

    fn engine(url: &str) -> OpenAiEngine {
        let mut c = OpenAiConfig::new(url);
        c.model = Some("m".into());
        c.request_timeout = Duration::from_secs(5);
        OpenAiEngine::new(c).unwrap()
    }

    #[derive(Default)]
    struct Events {
        tokens: Vec<String>,
        output: Option<usize>,
        input: Option<usize>,
        cached: Option<usize>,
        pages_without_usage: usize,
    }
    impl TokenSink for Events {
        fn token(&mut self, text: &str) {
            self.tokens.push(text.into());
        }
        fn stage(&mut self, _: Stage, _: Duration) {}
        fn input_tokens(&mut self, n: usize) {
            self.input = Some(n);
        }
        fn output_tokens(&mut self, n: usize) {
            self.output = Some(n);
        }
        fn cached_tokens(&mut self, n: usize) {
            self.cached = Some(n);
        }
        fn page_without_usage(&mut self) {
            self.pages_without_usage += 1;
        }
    }

    #[test]
    fn streams_chunks_with_split_utf8_and_reads_usage() {
        let stream = concat!(
            ": keep-alive\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"처방\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"전 500mg\"},\"finish_reason\":\"stop\"}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":321,\"completion_tokens\":6}}\n\n",
            "data: [DONE]\n\n"
        )
        .as_bytes();
        // Cut in the middle of '처' so one read ends inside a UTF-8 sequence.
        let cut = stream
            .windows(3)
            .position(|w| w == "처".as_bytes())
            .unwrap()
            + 1;
        let pieces = vec![sse_head(), stream[..cut].to_vec(), stream[cut..].to_vec()];
        let (url, server) = serve_once(pieces);
        let mut e = engine(&url);
        let mut sink = Events::default();
        let req = Request {
            id: "d",
            pages: &[page()],
        };
        e.recognize(&req, &mut sink).unwrap();
        assert_eq!(sink.tokens, ["처방", "전 500mg"]);
        assert_eq!((sink.output, sink.input), (Some(6), Some(321)));
        // No prompt_tokens_details: the server did not say, which is not "0 cached".
        assert_eq!(sink.cached, None);
        assert_eq!(sink.pages_without_usage, 0);
        let request = server.join().unwrap();
        assert!(request.starts_with("POST /v1/chat/completions HTTP/1.1"));
        assert!(request.contains("\"stream\":true"));
        assert!(request.contains("\"include_usage\":true"));
        assert!(request.contains("data:image/png;base64,"));
    }

    #[test]
    fn usage_details_give_cached_tokens_and_a_salt_leads_the_request() {
        // vLLM with --enable-prompt-tokens-details, medocr serve: the details; vLLM without
        // them sends `null`.
        for (details, want) in [
            (
                r#","prompt_tokens_details":{"cached_tokens":288}"#,
                Some(288),
            ),
            (r#","prompt_tokens_details":{"cached_tokens":0}"#, Some(0)),
            (r#","prompt_tokens_details":null"#, None),
        ] {
            let stream = format!(
                "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"a\"}},\"finish_reason\":\"stop\"}}]}}\n\n\
                 data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":300,\"completion_tokens\":1{details}}}}}\n\n\
                 data: [DONE]\n\n"
            );
            let (url, server) = serve_once(vec![sse_head(), stream.into_bytes()]);
            let mut e = engine(&url);
            assert!(e.set_prompt_salt(Some("run 7 request 3")));
            let mut sink = Events::default();
            let req = Request {
                id: "d",
                pages: &[page()],
            };
            e.recognize(&req, &mut sink).unwrap();
            assert_eq!((sink.input, sink.cached), (Some(300), want), "{details}");
            let request = server.join().unwrap();
            let body = &request[request.find("\r\n\r\n").unwrap() + 4..];
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            let parts = &v["messages"][0]["content"];
            assert_eq!(parts[0]["text"], "run 7 request 3");
            assert_eq!(parts[1]["type"], "image_url");
            assert_eq!(parts[2]["text"], DEFAULT_PROMPT);
        }
        // A whole (non-streamed) answer carries the same usage.
        let (_, usage) = whole_answer(
            r#"{"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":9,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":8}}}"#,
        )
        .unwrap();
        assert_eq!(usage.unwrap().cached_tokens(), Some(8));
    }

    #[test]
    fn metrics_are_read_from_the_server_root() {
        let body = "# TYPE vllm:prefix_cache_hits counter\nvllm:prefix_cache_hits_total 5\n";
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let (url, server) = serve_once(vec![answer.into_bytes()]);
        let e = engine(&format!("{url}/v1"));
        assert_eq!(e.server_metrics(), Some(Ok(body.to_string())));
        assert!(server.join().unwrap().starts_with("GET /metrics HTTP/1.1"));
        let (url, _server) = serve_once(vec![
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
        ]);
        let err = engine(&url).server_metrics().unwrap().unwrap_err();
        assert!(err.contains("HTTP 404"), "{err}");
    }

    #[test]
    fn chunked_body_without_usage_counts_chunks() {
        let events = [
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"bc\"}}]}\n\n",
            "data: [DONE]\n\n",
        ];
        let mut pieces = vec![b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()];
        for e in events {
            pieces.push(format!("{:x}\r\n{e}\r\n", e.len()).into_bytes());
        }
        pieces.push(b"0\r\n\r\n".to_vec());
        let (url, _server) = serve_once(pieces);
        let mut e = engine(&url);
        let mut sink = Events::default();
        e.recognize(
            &Request {
                id: "d",
                pages: &[page()],
            },
            &mut sink,
        )
        .unwrap();
        assert_eq!(sink.tokens, ["a", "bc"]);
        assert_eq!((sink.output, sink.input), (Some(2), None));
        assert_eq!(sink.pages_without_usage, 1);
    }

    #[test]
    fn http_errors_malformed_events_and_cut_streams_are_errors() {
        let (url, _s) = serve_once(vec![b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 44\r\n\r\n{\"error\":{\"message\":\"CUDA out of memory!!\"}}".to_vec()]);
        let err = engine(&url)
            .recognize(
                &Request {
                    id: "d",
                    pages: &[page()],
                },
                &mut TextSink::default(),
            )
            .unwrap_err();
        assert!(matches!(err, EngineError::Failed { .. }), "{err}");
        assert!(
            err.to_string().contains("HTTP 500") && err.to_string().contains("CUDA out of memory")
        );

        let mut bad = sse_head();
        bad.extend_from_slice(b"data: {\"choices\":[{\"delta\": nope}\n\n");
        let (url, _s) = serve_once(vec![bad]);
        let err = engine(&url)
            .recognize(
                &Request {
                    id: "d",
                    pages: &[page()],
                },
                &mut TextSink::default(),
            )
            .unwrap_err();
        assert!(matches!(err, EngineError::Garbage { .. }), "{err}");

        let mut cut = sse_head();
        cut.extend_from_slice(
            b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
        );
        let (url, _s) = serve_once(vec![cut]);
        let err = engine(&url)
            .recognize(
                &Request {
                    id: "d",
                    pages: &[page()],
                },
                &mut TextSink::default(),
            )
            .unwrap_err();
        assert!(err.to_string().contains("mid-stream"), "{err}");
    }

    #[test]
    fn timeout_is_a_timeout_error() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        // Accepts (through the backlog) and never answers.
        let mut c = OpenAiConfig::new(&url);
        c.model = Some("m".into());
        c.request_timeout = Duration::from_millis(300);
        let mut e = OpenAiEngine::new(c).unwrap();
        let err = e
            .recognize(
                &Request {
                    id: "d",
                    pages: &[page()],
                },
                &mut TextSink::default(),
            )
            .unwrap_err();
        assert!(matches!(err, EngineError::Timeout { page: 1, .. }), "{err}");
        drop(listener);
    }

    #[test]
    fn api_key_is_sent_but_never_in_settings() {
        let var = "MEDOCR_TEST_OPENAI_KEY_8";
        std::env::set_var(var, "sk-secret-123");
        let (url, server) = serve_once(vec![{
            let mut r = sse_head();
            r.extend_from_slice(b"data: [DONE]\n\n");
            r
        }]);
        let mut c = OpenAiConfig::new(&url);
        c.model = Some("m".into());
        c.api_key_env = var.into();
        let mut e = OpenAiEngine::new(c).unwrap();
        let info = serde_json::to_string(&e.info()).unwrap();
        assert!(!info.contains("sk-secret"), "{info}");
        assert!(info.contains(var));
        e.recognize(
            &Request {
                id: "d",
                pages: &[page()],
            },
            &mut TextSink::default(),
        )
        .unwrap();
        // Header names are case-insensitive (ureq sends them in lower case).
        assert!(server
            .join()
            .unwrap()
            .to_ascii_lowercase()
            .contains("authorization: bearer sk-secret-123"));
    }

    #[test]
    fn the_data_url_is_spliced_into_valid_json() {
        let mut e = engine("http://127.0.0.1:9");
        // A prompt quoting the slot itself must not be mistaken for it.
        e.prompt = r#"say "url":"" and 처방전"#.into();
        let body = e.request_body(&page()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let url = v["messages"][0]["content"][0]["image_url"]["url"]
            .as_str()
            .unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(url.strip_prefix("data:image/png;base64,").unwrap())
            .unwrap();
        assert_eq!(png, encode_png(&page()));
        assert_eq!(v["messages"][0]["content"][1]["text"], e.prompt);
        assert_eq!(v["stream"], true);
    }

    #[test]
    fn png_carries_the_dpi() {
        let png = encode_png(&page());
        let dec = png::Decoder::new(std::io::Cursor::new(png));
        let reader = dec.read_info().unwrap();
        let dims = reader.info().pixel_dims.unwrap();
        assert!((dims.xppu as f64 * 0.0254 - 150.0).abs() < 0.05);
    }
}
