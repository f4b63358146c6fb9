//! One model worker behind a queue. Requests that arrive while the model is busy wait in
//! the queue; when it is free, the worker takes everything queued (up to `max_batch`) and
//! runs it through one [`Engine::recognize_batch`] call, so an engine that batches natively
//! (the built-in model) shares its forward passes among them. Each request's tokens go to
//! its own channel as they are produced.

use crate::engine::{Engine, Request, Stage, TokenSink};
use crate::render::Page;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a request's connection receives from the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The request's batch started; `batch_size` requests share it.
    Started {
        batch_size: usize,
    },
    Token(String),
    Done {
        prompt_tokens: usize,
        completion_tokens: usize,
    },
    Failed(String),
}

/// A request waiting for the model.
pub struct Job {
    pub pages: Vec<Page>,
    pub events: Sender<Event>,
}

/// Counters exposed on `GET /metrics`.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Metrics {
    /// Connections accepted (a client that keeps its connection sends many requests on one).
    pub connections: usize,
    pub requests: usize,
    pub batches: usize,
    pub failed: usize,
    /// Requests whose client went away before their batch finished.
    pub disconnected: usize,
    /// batch size -> number of batches of that size
    pub batch_sizes: std::collections::BTreeMap<usize, usize>,
}

/// Starts the worker thread; it ends when every sender of the returned queue is dropped.
pub fn spawn(
    mut engine: Box<dyn Engine>,
    max_batch: usize,
    metrics: Arc<Mutex<Metrics>>,
) -> Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("medocr-model".into())
        .spawn(move || worker(&mut *engine, &rx, max_batch.max(1), &metrics))
        .expect("spawning the model thread");
    tx
}

fn worker(
    engine: &mut dyn Engine,
    queue: &Receiver<Job>,
    max_batch: usize,
    metrics: &Mutex<Metrics>,
) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        while jobs.len() < max_batch {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let size = jobs.len();
        // A client that already left is not worth a slot in the batch.
        jobs.retain(|j| j.events.send(Event::Started { batch_size: size }).is_ok());
        {
            let mut m = metrics.lock().unwrap_or_else(|e| e.into_inner());
            m.requests += jobs.len();
            if !jobs.is_empty() {
                m.batches += 1;
                *m.batch_sizes.entry(jobs.len()).or_default() += 1;
            }
        }
        if jobs.is_empty() {
            continue;
        }
        run_batch(engine, &jobs, metrics);
    }
}

fn run_batch(engine: &mut dyn Engine, jobs: &[Job], metrics: &Mutex<Metrics>) {
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
        .map(|j| ChannelSink {
            events: j.events.clone(),
            alive: true,
            prompt_tokens: 0,
            completion_tokens: 0,
            reported_tokens: None,
        })
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
    let mut m = metrics.lock().unwrap_or_else(|e| e.into_inner());
    for sink in sinks {
        if !sink.alive {
            m.disconnected += 1;
            continue;
        }
        let event = match &error {
            Some(e) => {
                m.failed += 1;
                Event::Failed(e.clone())
            }
            None => Event::Done {
                prompt_tokens: sink.prompt_tokens,
                completion_tokens: sink.reported_tokens.unwrap_or(sink.completion_tokens),
            },
        };
        let _ = sink.events.send(event);
    }
}

/// Forwards one request's tokens to its connection. Once the connection is gone the tokens
/// are dropped: the batch goes on for the others.
struct ChannelSink {
    events: Sender<Event>,
    alive: bool,
    prompt_tokens: usize,
    /// `token` calls.
    completion_tokens: usize,
    /// What the engine reported, for engines whose events are not single tokens.
    reported_tokens: Option<usize>,
}

impl TokenSink for ChannelSink {
    fn token(&mut self, text: &str) {
        self.completion_tokens += 1;
        if self.alive {
            self.alive = self.events.send(Event::Token(text.to_string())).is_ok();
        }
    }
    fn stage(&mut self, _stage: Stage, _elapsed: Duration) {}
    fn input_tokens(&mut self, count: usize) {
        self.prompt_tokens += count;
    }
    fn output_tokens(&mut self, count: usize) {
        *self.reported_tokens.get_or_insert(0) += count;
    }
}
