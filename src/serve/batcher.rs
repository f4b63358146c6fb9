//! One model worker behind a bounded queue. Requests wait in the queue (at most
//! `max_queue`: a full queue is answered 503 by the caller) until the worker takes them.
//!
//! - **Continuous** ([`Batching::Continuous`], for an engine with an [`Engine::stepping`]: the
//!   built-in model): a preparing thread detects the lines of queued requests beside the
//!   decode steps, and the worker admits them between two steps, up to
//!   `max_batch` in flight, and their line pieces join the running decode batch at the next
//!   step; a request leaves as soon as its last piece is out.
//! - **Static** ([`Batching::Static`], and any other engine): when the model is free, the
//!   worker takes everything queued (up to `max_batch`) and runs it through one
//!   [`Engine::recognize_batch`] call, so an engine that batches natively shares its forward
//!   passes among them; a request that comes meanwhile waits for the whole call.
//!
//! Each request's tokens go to its own channel as they are produced; a request stops
//! receiving tokens at its `max_tokens`.

use super::limits::Reservation;
use super::metrics::{Finish, ServeMetrics};
use crate::engine::{Engine, Request, Stage, StepLimits, TokenSink};
use crate::render::Page;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// A request's input tokens so far, and how many of them the prefix cache served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub tokens: usize,
    pub cached: usize,
}

/// What a request's connection receives from the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The request's batch started; `batch_size` requests share it.
    Started {
        batch_size: usize,
    },
    /// One output token, with the input tokens counted so far (for per-chunk usage).
    Token {
        text: String,
        prompt: Prompt,
    },
    /// The answer is whole (`Stop`) or reached the request's `max_tokens` (`Length`).
    Done {
        prompt: Prompt,
        completion_tokens: usize,
        finish: Finish,
    },
    Failed(String),
}

/// A request waiting for the model.
pub struct Job {
    pub pages: Vec<Page>,
    pub events: UnboundedSender<Event>,
    /// Output tokens after which the answer ends with `finish_reason: "length"`.
    pub max_tokens: Option<usize>,
    /// The request's share of the memory budget, held until its batch is done.
    pub memory: Reservation,
}

/// How the worker batches requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Batching {
    /// Requests join the running decode batch at the next step (iteration-level).
    Continuous,
    /// A batch runs to its end before the next one starts.
    Static,
}

/// How the worker schedules requests on the model.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub batching: Batching,
    /// Most requests in one batch (static) or in flight (continuous).
    pub max_batch: usize,
    pub max_queue: usize,
    /// Continuous batching's rows per decode step and encoder tokens per step.
    pub step: StepLimits,
}

/// The sending side of the queue.
#[derive(Clone)]
pub struct Queue {
    tx: SyncSender<Job>,
    metrics: ServeMetrics,
}

impl Queue {
    /// Queues a job; `Err` gives it back when the queue is full (or the worker is gone).
    pub fn submit(&self, job: Job) -> Result<(), Job> {
        self.metrics.waiting.inc();
        match self.tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                self.metrics.waiting.dec();
                Err(job)
            }
        }
    }
}

/// Starts the worker thread; it ends when every [`Queue`] is dropped.
pub fn spawn(mut engine: Box<dyn Engine>, schedule: Schedule, metrics: ServeMetrics) -> Queue {
    let (tx, rx) = mpsc::sync_channel::<Job>(schedule.max_queue.max(1));
    let m = metrics.clone();
    // Lookups are counted only where there is a cache, as vLLM does.
    let prefix_cache = engine.has_prefix_cache();
    let max_batch = schedule.max_batch.max(1);
    std::thread::Builder::new()
        .name("medocr-model".into())
        .spawn(move || {
            if schedule.batching == Batching::Continuous {
                if let Some(stepping) = engine.stepping(schedule.step) {
                    return super::continuous::worker(stepping, rx, max_batch, prefix_cache, &m);
                }
            }
            worker(&mut *engine, &rx, max_batch, prefix_cache, &m)
        })
        .expect("spawning the model thread");
    Queue { tx, metrics }
}

fn worker(
    engine: &mut dyn Engine,
    queue: &Receiver<Job>,
    max_batch: usize,
    prefix_cache: bool,
    metrics: &ServeMetrics,
) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        while jobs.len() < max_batch {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        metrics.waiting.dec_by(jobs.len() as i64);
        let size = jobs.len();
        // A client that already left is not worth a slot in the batch.
        jobs.retain(|j| {
            let alive = j.events.send(Event::Started { batch_size: size }).is_ok();
            if !alive {
                metrics.finished(Finish::abort);
            }
            alive
        });
        if jobs.is_empty() {
            continue;
        }
        metrics.batch(jobs.len());
        metrics.running.set(jobs.len() as i64);
        run_batch(engine, &jobs, prefix_cache, metrics);
        metrics.running.set(0);
        // Dropping the jobs here returns their memory to the budget.
    }
}

fn run_batch(engine: &mut dyn Engine, jobs: &[Job], prefix_cache: bool, metrics: &ServeMetrics) {
    let ids: Vec<String> = (0..jobs.len()).map(|i| format!("request-{i}")).collect();
    let requests: Vec<Request<'_>> = jobs
        .iter()
        .zip(&ids)
        .map(|(j, id)| Request {
            id,
            pages: &j.pages,
        })
        .collect();
    let mut sinks: Vec<ChannelSink> = jobs
        .iter()
        .map(|j| ChannelSink::new(j, prefix_cache))
        .collect();
    let outcome = {
        let mut refs: Vec<&mut dyn TokenSink> =
            sinks.iter_mut().map(|s| s as &mut dyn TokenSink).collect();
        // A panicking model fails this batch, not the server.
        catch_unwind(AssertUnwindSafe(|| {
            engine.recognize_batch(&requests, &mut refs)
        }))
    };
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("the model panicked on this batch".to_string()),
    };
    for sink in sinks {
        sink.finish(error.as_deref(), metrics);
    }
}

/// Forwards one request's tokens to its connection. Once the connection is gone, or the
/// request's `max_tokens` is reached, the tokens are dropped: the batch goes on for the
/// others.
pub(super) struct ChannelSink {
    events: UnboundedSender<Event>,
    alive: bool,
    limit: Option<usize>,
    /// Whether the engine keeps a prefix cache (lookups are counted only then, as vLLM does).
    prefix_cache: bool,
    prompt: Prompt,
    /// `token` calls forwarded.
    completion_tokens: usize,
    /// What the engine reported, for engines whose events are not single tokens.
    reported_tokens: Option<usize>,
}

impl ChannelSink {
    /// `prefix_cache`: the engine keeps one, so the request's input tokens count as lookups.
    pub(super) fn new(job: &Job, prefix_cache: bool) -> Self {
        ChannelSink {
            prefix_cache,
            events: job.events.clone(),
            alive: true,
            limit: job.max_tokens,
            prompt: Prompt::default(),
            completion_tokens: 0,
            reported_tokens: None,
        }
    }

    /// Tells the connection its request started, with `batch_size` requests in its batch;
    /// `false`: the client left.
    pub(super) fn start(&self, batch_size: usize) -> bool {
        self.events.send(Event::Started { batch_size }).is_ok()
    }

    fn reached_limit(&self) -> bool {
        self.limit.is_some_and(|l| self.completion_tokens >= l)
    }

    /// Whether the request still wants tokens (its client is there, its limit not reached).
    pub(super) fn wants_more(&self) -> bool {
        self.alive && !self.reached_limit()
    }

    /// Ends the request: counts it, and sends its `Done` (or `Failed` with `error`) unless
    /// its answer already ended at its limit or its client left.
    pub(super) fn finish(self, error: Option<&str>, metrics: &ServeMetrics) {
        metrics.prompt_tokens.inc_by(self.prompt.tokens as u64);
        if self.prefix_cache {
            metrics
                .prefix_cache_queries
                .inc_by(self.prompt.tokens as u64);
            metrics.prefix_cache_hits.inc_by(self.prompt.cached as u64);
        }
        if self.reached_limit() {
            // Its answer already ended at the limit.
            metrics
                .generation_tokens
                .inc_by(self.completion_tokens as u64);
            metrics.finished(Finish::length);
            return;
        }
        if !self.alive {
            metrics.finished(Finish::abort);
            return;
        }
        let event = match error {
            Some(e) => {
                metrics.finished(Finish::error);
                Event::Failed(e.to_string())
            }
            None => {
                let completion = self.reported_tokens.unwrap_or(self.completion_tokens);
                metrics.generation_tokens.inc_by(completion as u64);
                metrics.finished(Finish::stop);
                Event::Done {
                    prompt: self.prompt,
                    completion_tokens: completion,
                    finish: Finish::stop,
                }
            }
        };
        let _ = self.events.send(event);
    }
}

impl TokenSink for ChannelSink {
    fn token(&mut self, text: &str) {
        if !self.alive || self.reached_limit() {
            return;
        }
        self.completion_tokens += 1;
        self.alive = self
            .events
            .send(Event::Token {
                text: text.to_string(),
                prompt: self.prompt,
            })
            .is_ok();
        if self.alive && self.reached_limit() {
            // The answer ends here, while the batch goes on.
            let _ = self.events.send(Event::Done {
                prompt: self.prompt,
                completion_tokens: self.completion_tokens,
                finish: Finish::length,
            });
        }
    }
    fn stage(&mut self, _stage: Stage, _elapsed: Duration) {}
    fn input_tokens(&mut self, count: usize) {
        self.prompt.tokens += count;
    }
    fn cached_tokens(&mut self, count: usize) {
        self.prompt.cached += count;
    }
    fn output_tokens(&mut self, count: usize) {
        *self.reported_tokens.get_or_insert(0) += count;
    }
}
