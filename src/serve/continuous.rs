//! The continuous-batching worker ([`super::batcher::Batching::Continuous`]): between two
//! decode steps it admits what is queued, up to `max_batch` requests in flight, steps the
//! engine's [`Stepper`] once, and ends the requests that are read to the end, or whose client
//! left or whose `max_tokens` is reached (their pieces leave the batch).

use super::batcher::{ChannelSink, Event, Job, Schedule};
use super::limits::Reservation;
use super::metrics::{Finish, ServeMetrics};
use crate::engine::{Engine, Sinks, Stepper, TokenSink};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::Receiver;

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

/// Serves the queue until every sender is gone. `false`: the engine cannot step, and the
/// caller batches statically instead.
pub(super) fn worker(
    engine: &mut dyn Engine,
    queue: &Receiver<Job>,
    schedule: &Schedule,
    prefix_cache: bool,
    metrics: &ServeMetrics,
) -> bool {
    let mut next_ticket = 0;
    loop {
        let Some(mut stepper) = engine.stepper(schedule.step) else {
            return false;
        };
        let mut w = Worker {
            stepper: &mut *stepper,
            flights: InFlight::default(),
            next_ticket: &mut next_ticket,
            max_batch: schedule.max_batch.max(1),
            prefix_cache,
            metrics,
        };
        match catch_unwind(AssertUnwindSafe(|| w.serve(queue))) {
            Ok(()) => return true,
            // The scheduler's state is lost with the panic: its requests fail, and a fresh one
            // serves the queue.
            Err(_) => w.fail_all("the model panicked on this batch"),
        }
    }
}

struct Worker<'a> {
    stepper: &'a mut dyn Stepper,
    flights: InFlight,
    next_ticket: &'a mut u64,
    max_batch: usize,
    prefix_cache: bool,
    metrics: &'a ServeMetrics,
}

impl Worker<'_> {
    fn serve(&mut self, queue: &Receiver<Job>) {
        loop {
            if self.flights.0.is_empty() {
                self.metrics.running.set(0);
                // Idle: wait for a request.
                match queue.recv() {
                    Ok(job) => self.admit(job),
                    Err(_) => return,
                }
            }
            while self.flights.0.len() < self.max_batch {
                match queue.try_recv() {
                    Ok(job) => self.admit(job),
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
                    f.sink
                        .finish(error.as_deref(), self.prefix_cache, self.metrics);
                }
            }
            self.drop_unwanted();
        }
    }

    fn admit(&mut self, job: Job) {
        self.metrics.waiting.dec();
        let ticket = *self.next_ticket;
        *self.next_ticket += 1;
        let batch_size = self.flights.0.len() + 1;
        // A client that already left is not worth admitting.
        if job.events.send(Event::Started { batch_size }).is_err() {
            self.metrics.finished(Finish::abort);
            return;
        }
        let sink = ChannelSink::new(&job);
        let Job { pages, memory, .. } = job;
        self.flights.0.insert(
            ticket,
            Flight {
                sink,
                _memory: memory,
            },
        );
        self.stepper.admit(ticket, &pages, &mut self.flights);
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
            f.sink.finish(None, self.prefix_cache, self.metrics);
        }
    }

    fn fail_all(&mut self, message: &str) {
        for (_, f) in self.flights.0.drain() {
            f.sink
                .finish(Some(message), self.prefix_cache, self.metrics);
        }
        self.metrics.running.set(0);
    }
}
