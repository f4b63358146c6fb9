//! The continuous-batching worker ([`super::batcher::Batching::Continuous`]). Two threads:
//!
//! - **Preparing** (`medocr-prepare`): takes requests off the queue and detects and cuts up
//!   their pages (the engine's [`Preparer`]), one at a time, handing each to the model
//!   thread. Line detection (~160 ms a page on the CPU) so runs beside the decode steps
//!   instead of stalling every request decoding.
//! - **Model** (`medocr-model`): between two decode steps it admits what is prepared, up to
//!   `max_batch` requests in flight, steps the engine's [`Stepper`] once, and ends the
//!   requests that are read to the end, or whose client left or whose `max_tokens` is
//!   reached (their pieces leave the batch).
//!
//! The hand-off holds no request: the preparing thread takes the next request off the queue
//! once the model thread took the last, so the queue's bound (`--max-queue`) still says how
//! many wait.

use super::batcher::{ChannelSink, Job};
use super::limits::Reservation;
use super::metrics::{Finish, ServeMetrics};
use crate::engine::{Prepared, Preparer, Sinks, Stepper, Stepping, TokenSink};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender};

/// A request whose pages are prepared, waiting for a place in the batch.
struct Ready {
    sink: ChannelSink,
    memory: Reservation,
    doc: Prepared,
}

/// A request in flight: its sink, and its share of the memory budget until it ends.
struct Flight {
    sink: ChannelSink,
    _memory: Reservation,
}

#[derive(Default)]
struct InFlight(HashMap<u64, Flight>);

impl Sinks for InFlight {
    fn sink(&mut self, ticket: u64) -> &mut dyn TokenSink {
        &mut self.0.get_mut(&ticket).expect("a request in flight").sink
    }
}

/// Serves the queue until every sender is gone.
pub(super) fn worker(
    stepping: Stepping<'_>,
    queue: Receiver<Job>,
    max_batch: usize,
    prefix_cache: bool,
    metrics: &ServeMetrics,
) {
    let Stepping {
        mut stepper,
        preparer,
    } = stepping;
    // A rendezvous channel: a prepared request waits in the preparing thread's `send`.
    let (handoff, ready) = mpsc::sync_channel::<Ready>(0);
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("medocr-prepare".into())
            .spawn_scoped(s, move || {
                prepare_all(&*preparer, queue, handoff, prefix_cache, metrics)
            })
            .expect("spawning the preparing thread");
        let mut w = Worker {
            stepper: &mut *stepper,
            flights: InFlight::default(),
            next_ticket: 0,
            max_batch: max_batch.max(1),
            metrics,
        };
        while catch_unwind(AssertUnwindSafe(|| w.serve(&ready))).is_err() {
            // The scheduler's state is lost with the panic: its requests fail, and it starts
            // afresh on the queue.
            w.fail_all("the model panicked on this batch");
            w.stepper.reset();
        }
    });
}

/// The preparing thread: ends when the queue's senders or the model thread are gone.
fn prepare_all(
    preparer: &dyn Preparer,
    queue: Receiver<Job>,
    handoff: SyncSender<Ready>,
    prefix_cache: bool,
    metrics: &ServeMetrics,
) {
    for job in queue {
        let mut sink = ChannelSink::new(&job, prefix_cache);
        let Job { pages, memory, .. } = job;
        match catch_unwind(AssertUnwindSafe(|| preparer.prepare(&pages, &mut sink))) {
            Ok(doc) => {
                drop(pages); // the pieces hold what is needed
                if handoff.send(Ready { sink, memory, doc }).is_err() {
                    return;
                }
            }
            Err(_) => {
                // Only this request's pages are at fault.
                metrics.waiting.dec();
                sink.finish(
                    Some("line detection panicked on this request's pages"),
                    metrics,
                );
            }
        }
    }
}

struct Worker<'a> {
    stepper: &'a mut dyn Stepper,
    flights: InFlight,
    next_ticket: u64,
    max_batch: usize,
    metrics: &'a ServeMetrics,
}

impl Worker<'_> {
    fn serve(&mut self, ready: &Receiver<Ready>) {
        loop {
            if self.flights.0.is_empty() {
                self.metrics.running.set(0);
                // Idle: wait for a request.
                match ready.recv() {
                    Ok(r) => self.admit(r),
                    Err(_) => return,
                }
            }
            while self.flights.0.len() < self.max_batch {
                match ready.try_recv() {
                    Ok(r) => self.admit(r),
                    Err(_) => break,
                }
            }
            if self.flights.0.is_empty() {
                continue;
            }
            self.metrics.running.set(self.flights.0.len() as i64);
            self.metrics.batch(self.flights.0.len());
            for (ticket, result) in self.stepper.step(&mut self.flights) {
                if let Some(f) = self.flights.0.remove(&ticket) {
                    let error = result.err().map(|e| e.to_string());
                    f.sink.finish(error.as_deref(), self.metrics);
                }
            }
            self.drop_unwanted();
        }
    }

    fn admit(&mut self, r: Ready) {
        self.metrics.waiting.dec();
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        // A client that already left is not worth admitting.
        if !r.sink.start(self.flights.0.len() + 1) {
            self.metrics.finished(Finish::abort);
            return;
        }
        let Ready { sink, memory, doc } = r;
        self.flights.0.insert(
            ticket,
            Flight {
                sink,
                _memory: memory,
            },
        );
        self.stepper.admit(ticket, doc);
    }

    /// Requests whose client left or whose `max_tokens` is reached leave the batch.
    fn drop_unwanted(&mut self) {
        let gone: Vec<u64> = (self.flights.0.iter())
            .filter(|(_, f)| !f.sink.wants_more())
            .map(|(&t, _)| t)
            .collect();
        for ticket in gone {
            self.stepper.cancel(ticket);
            let f = self.flights.0.remove(&ticket).expect("in flight");
            f.sink.finish(None, self.metrics);
        }
    }

    fn fail_all(&mut self, message: &str) {
        for (_, f) in self.flights.0.drain() {
            f.sink.finish(Some(message), self.metrics);
        }
        self.metrics.running.set(0);
    }
}
