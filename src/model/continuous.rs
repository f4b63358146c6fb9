//! Continuous (iteration-level) batching for any [`LineModel`], as `medocr serve` runs the
//! built-in model. A document is a few hundred short pieces (line crops), each its own
//! decode; the scheduler keeps one decode batch of at most `rows` pieces running and, before
//! every step, fills the rows that finished pieces left with pieces of any document in
//! flight, a newly admitted one included. So a request that arrives while others decode gets
//! rows at the next step instead of waiting for their whole batch.
//!
//! A document comes in prepared: [`Continuous::prepare`] detects its lines and cuts them
//! into pieces. That reads the recogniser only, so `medocr serve` runs it on a thread of its
//! own beside the steps, and [`Continuous::admit`] just queues the pieces.
//!
//! Each step:
//! 1. **Encode** (the prefill): pieces of the oldest documents first, with the first pieces
//!    of a just-admitted one ahead of them (`pick`); at most `step_tokens` encoder
//!    positions, so one step's encoder work stays bounded. A document's pieces go in
//!    `encode_order`.
//! 2. **Join**: encoded pieces take the free rows, in the same order ([`Generator::join`]:
//!    they start at their own position 0).
//! 3. **Decode** one token for every row.
//! 4. **Stream**: each document puts out its pieces in reading order as they become final,
//!    exactly as [`Recognizer::recognize_until`] does; a document whose last piece is out is
//!    done and leaves at once.
//!
//! Encoding, joining and dropping finished rows from the batch tensors each cost a copy of
//! the batch, so they are done in waves rather than every step (as
//! [`Compaction::QuarterDone`] does for one batch): encoding once a quarter of the rows'
//! worth of encoded pieces is left, joining once a quarter of the rows are free. A document
//! that has no piece running yet (one just admitted) is encoded and joined at the next step
//! regardless, so its first tokens never wait for a wave. Measured on a lone two-page
//! request, joining and compacting every step made it 25% slower than static batching; and
//! on 8 requests at 2 req/s, encoding at most a batch of rows per step cost 35% more CPU
//! than static batching, 1024 tokens per step 23%, 8192 tokens per step 6% (the default,
//! `medocr serve --max-step-tokens`).
//!
//! A document's text is the text it gets alone: its pieces see only their own crop, and rows
//! that joined late see only their own positions.

use super::generate::Generator;
use super::line_model::{Compaction, Decoding, LineModel};
use super::prefix_cache::Encoding;
use super::recognizer::{stack_encodings, DocOut, LineOut, Piece, RecognizeStats, Recognizer};
use crate::render::Page;
use crate::stream::{Sinks, Stage, TokenSink};
use burn::tensor::backend::Backend;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A document detected and cut into pieces by [`Continuous::prepare`], ready to be
/// admitted.
pub struct Prepared<I> {
    pieces: Vec<Piece<I>>,
    out: DocOut,
}

/// How much work one step may take on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepLimits {
    /// Pieces decoded together (rows of the decode batch).
    pub rows: usize,
    /// Encoder positions (input tokens) encoded per step for pieces about to join.
    pub step_tokens: usize,
}

/// A finished piece's reading, kept once its generator line is given back.
struct Final {
    ids: Vec<u32>,
    hit_limit: bool,
    confidence: f32,
}

enum State<B: Backend> {
    Waiting,
    Encoded(Encoding<B>),
    /// Decoding on this generator line.
    Running(usize),
    Done(Final),
}

struct Doc<B: Backend, M: LineModel<B>> {
    ticket: u64,
    pieces: Vec<Piece<M::Input>>,
    state: Vec<State<B>>,
    /// The order its pieces are encoded and join the batch in (see [`encode_order`]).
    order: Vec<usize>,
    /// How far along `order` pieces have been encoded, and have joined.
    to_encode: usize,
    to_join: usize,
    /// Next piece to put out.
    cursor: usize,
    lines: Vec<LineOut<M::Text>>,
    out: DocOut,
}

/// The scheduler; documents come in with [`Continuous::admit`] and go out of
/// [`Continuous::step`] once read.
pub struct Continuous<'r, B: Backend, M: LineModel<B>> {
    rec: &'r Recognizer<B, M>,
    limits: StepLimits,
    decoding: Decoding,
    gen: Option<Generator<'r, B, M::Decoder>>,
    /// In arrival order.
    docs: Vec<Doc<B, M>>,
    /// Generator line → (document ticket, piece).
    owners: HashMap<usize, (u64, usize)>,
    /// Finished lines still in the batch tensors, given back once they leave.
    retiring: Vec<usize>,
}

impl<'r, B: Backend, M: LineModel<B>> Continuous<'r, B, M> {
    pub fn new(rec: &'r Recognizer<B, M>, limits: StepLimits) -> Self {
        let decoding = Decoding {
            compaction: Compaction::QuarterDone,
            ..rec.model.decoding()
        };
        Continuous {
            rec,
            limits: StepLimits {
                rows: limits.rows.max(1),
                step_tokens: limits.step_tokens.max(1),
            },
            decoding,
            gen: None,
            docs: Vec::new(),
            owners: HashMap::new(),
            retiring: Vec::new(),
        }
    }

    /// Pieces a just-admitted document gets ahead of the others, for its first tokens.
    fn head(&self) -> usize {
        self.limits.rows.div_ceil(4)
    }

    /// Drops a document: it is not read further. Its pieces still decoding finish their
    /// current line (a few steps) unread; their rows are then given back.
    pub fn cancel(&mut self, ticket: u64) {
        self.docs.retain(|d| d.ticket != ticket);
    }

    /// Documents in flight.
    pub fn in_flight(&self) -> usize {
        self.docs.len()
    }

    /// Detects and cuts up a document's pages (reported to `sink` as detection and
    /// preprocessing, with its input tokens). It reads the recogniser only, so it can run on
    /// another thread while the scheduler steps: line detection (~160 ms a page) then no
    /// longer stalls the documents decoding.
    pub fn prepare(
        rec: &Recognizer<B, M>,
        pages: &[Page],
        sink: &mut dyn TokenSink,
    ) -> Prepared<M::Input> {
        let mut out = [DocOut::default()];
        let pieces = rec
            .prepare_pages(&[pages], &mut [&mut *sink], &mut out, None)
            .expect("no deadline, no deadline error");
        let [mut out] = out;
        out.stats.input_tokens = pieces
            .iter()
            .map(|p| rec.model.input_tokens(&p.input))
            .sum();
        sink.input_tokens(out.stats.input_tokens);
        Prepared { pieces, out }
    }

    /// Takes in a prepared document; its pieces start joining at the next step.
    pub fn admit(&mut self, ticket: u64, doc: Prepared<M::Input>) {
        let Prepared { pieces, out } = doc;
        let order = encode_order(&pieces, self.limits.rows, |input| {
            self.rec.model.input_width(input)
        });
        self.docs.push(Doc {
            ticket,
            order,
            state: pieces.iter().map(|_| State::Waiting).collect(),
            lines: pieces.iter().map(|_| LineOut::default()).collect(),
            pieces,
            to_encode: 0,
            to_join: 0,
            cursor: 0,
            out,
        });
    }

    /// Forgets every document and the decode batch, as a fresh scheduler (after a panic
    /// left them in an unknown state).
    pub fn reset(&mut self) {
        self.gen = None;
        self.docs.clear();
        self.owners.clear();
        self.retiring.clear();
    }

    /// One step (encode, join, decode, stream). Returns the documents read to the end: their
    /// counts, or the model's error turning ids into text (that document ends there).
    #[allow(clippy::type_complexity)]
    pub fn step(&mut self, sinks: &mut dyn Sinks) -> Vec<(u64, Result<RecognizeStats, M::Error>)> {
        let t = Instant::now();
        let mut prefilled = self.encode(sinks);
        prefilled.extend(self.join());
        let prefill = t.elapsed();
        let mut decoding: Vec<u64> = self.owners.values().map(|&(d, _)| d).collect();
        decoding.sort_unstable();
        decoding.dedup();
        let t = Instant::now();
        if let Some(gen) = &mut self.gen {
            // Reading the chosen ids back synchronises the device: the step is final here.
            gen.step();
        }
        let decode = t.elapsed();
        for doc in &self.docs {
            let sink = sinks.sink(doc.ticket);
            if prefilled.contains(&doc.ticket) {
                sink.stage(Stage::Encode, prefill);
            }
            if decoding.binary_search(&doc.ticket).is_ok() {
                sink.stage(Stage::Decode, decode);
            }
        }
        self.collect_finished();
        self.stream(sinks)
    }

    /// Encodes waiting pieces within the step's budget; returns the documents that had
    /// pieces encoded (cached input tokens are reported to them).
    fn encode(&mut self, sinks: &mut dyn Sinks) -> Vec<u64> {
        let waiting: usize = self.docs.iter().map(|d| d.to_encode - d.to_join).sum();
        let new_doc = self
            .docs
            .iter()
            .any(|d| d.to_encode == 0 && !d.pieces.is_empty());
        if waiting > self.limits.rows / 4 && !new_doc {
            return Vec::new();
        }
        // Bounded by the token budget alone: the more pieces one encoder call sees, the less
        // its width-sorted batches pad.
        let room = usize::MAX;
        let mut budget = self.limits.step_tokens;
        let head = self.head();
        let picked = pick(
            &mut self.docs,
            room,
            head,
            |d| d.to_encode == 0,
            |doc| {
                let j = *doc.order.get(doc.to_encode)?;
                let input = &doc.pieces[j].input;
                let tokens = self.rec.model.input_tokens(input);
                // At least one piece per step, however long.
                if tokens > budget && budget < self.limits.step_tokens {
                    return None;
                }
                budget = budget.saturating_sub(tokens);
                doc.to_encode += 1;
                Some(j)
            },
        );
        if picked.is_empty() {
            return Vec::new();
        }
        let pieces: Vec<&Piece<M::Input>> = picked
            .iter()
            .map(|&(d, j)| &self.docs[d].pieces[j])
            .collect();
        let (encoded, reused) = self
            .rec
            .encode_pieces(&pieces, true, None)
            .expect("no deadline, no deadline error");
        let mut touched = Vec::new();
        for ((&(d, j), e), reused) in picked.iter().zip(encoded).zip(reused) {
            let doc = &mut self.docs[d];
            if self.rec.has_prefix_cache() {
                // 0 too, so a client can tell "no hit" from "no cache".
                let n = if reused {
                    self.rec.model.input_tokens(&doc.pieces[j].input)
                } else {
                    0
                };
                doc.out.stats.cached_tokens += n;
                sinks.sink(doc.ticket).cached_tokens(n);
            }
            doc.state[j] = State::Encoded(e);
            touched.push(doc.ticket);
        }
        touched.dedup();
        touched
    }

    /// Gives the free rows to encoded pieces; returns the documents that joined pieces.
    fn join(&mut self) -> Vec<u64> {
        let running = self.gen.as_ref().map_or(0, |g| g.active().len());
        let room = self.limits.rows.saturating_sub(running);
        let new_doc = self.docs.iter().any(|d| {
            d.to_join == 0
                && matches!(
                    d.order.first().map(|&j| &d.state[j]),
                    Some(State::Encoded(_))
                )
        });
        if room == 0 || (running > 0 && room < self.limits.rows.div_ceil(4) && !new_doc) {
            return Vec::new();
        }
        let head = self.head();
        let picked = pick(
            &mut self.docs,
            room,
            head,
            |d| d.to_join == 0,
            |doc| {
                let j = *doc.order.get(doc.to_join)?;
                if !matches!(doc.state[j], State::Encoded(_)) {
                    return None;
                }
                doc.to_join += 1;
                Some(j)
            },
        );
        if picked.is_empty() {
            return Vec::new();
        }
        let mut encodings = Vec::with_capacity(picked.len());
        let mut limits = Vec::with_capacity(picked.len());
        for &(d, j) in &picked {
            let doc = &mut self.docs[d];
            let State::Encoded(e) = std::mem::replace(&mut doc.state[j], State::Waiting) else {
                unreachable!("picked pieces are encoded")
            };
            encodings.push(e);
            limits.push(self.rec.model.token_limit(&doc.pieces[j].input));
        }
        let (cross, lengths) = stack_encodings(&encodings);
        let lines = match &mut self.gen {
            Some(gen) => gen.join(cross, lengths, limits),
            None => {
                let gen = Generator::joinable(
                    self.rec.model.decoder(),
                    cross,
                    lengths,
                    self.decoding.clone(),
                )
                .with_limits(limits);
                self.gen = Some(gen);
                (0..picked.len()).collect()
            }
        };
        let mut joined = Vec::new();
        for (&(d, j), line) in picked.iter().zip(lines) {
            let doc = &mut self.docs[d];
            doc.state[j] = State::Running(line);
            doc.out.stats.batches += usize::from(joined.last() != Some(&doc.ticket));
            self.owners.insert(line, (doc.ticket, j));
            joined.push(doc.ticket);
        }
        joined.dedup();
        joined
    }

    /// Takes the readings of lines that finished, and gives back the lines that have left
    /// the batch tensors.
    fn collect_finished(&mut self) {
        let Some(gen) = &mut self.gen else { return };
        let done: Vec<usize> = self
            .owners
            .keys()
            .copied()
            .filter(|&line| gen.finished()[line])
            .collect();
        for line in done {
            let (ticket, j) = self.owners.remove(&line).expect("an owned line");
            let reading = Final {
                ids: gen.outputs()[line].clone(),
                hit_limit: gen.hit_limit(line),
                confidence: gen.confidence(line),
            };
            if let Some(doc) = self.docs.iter_mut().find(|d| d.ticket == ticket) {
                doc.state[j] = State::Done(reading);
            }
            self.retiring.push(line);
        }
        self.retiring.retain(|&line| {
            let left = !gen.active().contains(&line);
            if left {
                gen.release(line);
            }
            !left
        });
        if gen.active().is_empty() {
            // Nothing running: the next piece starts a fresh batch.
            self.gen = None;
            self.retiring.clear();
        }
    }

    /// Puts out every document's final pieces in reading order; removes the documents read
    /// to the end.
    #[allow(clippy::type_complexity)]
    fn stream(&mut self, sinks: &mut dyn Sinks) -> Vec<(u64, Result<RecognizeStats, M::Error>)> {
        let mut finished = Vec::new();
        let mut k = 0;
        while k < self.docs.len() {
            let ticket = self.docs[k].ticket;
            let sink = sinks.sink(ticket);
            let outcome = self.put_out(k, sink);
            let doc = &self.docs[k];
            match outcome {
                Ok(()) if doc.cursor < doc.pieces.len() => k += 1,
                Ok(()) => {
                    sink.stage(Stage::Postprocess, Duration::ZERO);
                    let doc = self.docs.remove(k);
                    finished.push((ticket, Ok(doc.out.stats)));
                }
                Err(e) => {
                    // Its running pieces decode on; their lines are given back when they
                    // stop ([`Continuous::collect_finished`] finds no document for them).
                    self.docs.remove(k);
                    finished.push((ticket, Err(e)));
                }
            }
        }
        finished
    }

    /// One document's pieces that are final, in reading order, as
    /// [`Recognizer::recognize_until`] puts them out.
    fn put_out(&mut self, k: usize, sink: &mut dyn TokenSink) -> Result<(), M::Error> {
        let doc = &mut self.docs[k];
        while doc.cursor < doc.pieces.len() {
            let c = doc.cursor;
            match (&doc.state[c], self.rec.model.min_confidence()) {
                (State::Done(f), Some(min)) => {
                    doc.cursor += 1;
                    if f.ids.is_empty() {
                        continue;
                    }
                    if f.hit_limit || f.confidence < min {
                        doc.out.stats.rejected_pieces += 1;
                        continue;
                    }
                    let p = &doc.pieces[c];
                    let line = &mut doc.lines[c];
                    self.rec
                        .emit(p, line, &f.ids, &self.decoding, true, sink, &mut doc.out)?;
                }
                (State::Done(f), None) => {
                    doc.cursor += 1;
                    let p = &doc.pieces[c];
                    let line = &mut doc.lines[c];
                    self.rec
                        .emit(p, line, &f.ids, &self.decoding, true, sink, &mut doc.out)?;
                }
                (State::Running(line), None) => {
                    // Streamed as decoded, up to the first piece still decoding.
                    let gen = self.gen.as_ref().expect("a running piece has a generator");
                    let ids = &gen.outputs()[*line];
                    let (p, out) = (&doc.pieces[c], &mut doc.lines[c]);
                    self.rec
                        .emit(p, out, ids, &self.decoding, false, sink, &mut doc.out)?;
                    break;
                }
                _ => break,
            }
        }
        Ok(())
    }
}

/// The order a document's pieces are encoded and decoded in: its first `rows` pieces in
/// reading order, so its first tokens come with the first wave, then the rest by width, so
/// an encoder batch pads little (a batch of pieces in reading order mixes one-word pieces
/// with full-width ones: measured, encoding in reading order made a lone two-page request
/// take 3.4 s against 2.5 s). Tokens still go out in reading order.
fn encode_order<I>(pieces: &[Piece<I>], rows: usize, width: impl Fn(&I) -> usize) -> Vec<usize> {
    let head = rows.min(pieces.len());
    let mut order: Vec<usize> = (0..pieces.len()).collect();
    order[head..].sort_by_key(|&j| width(&pieces[j].input));
    order
}

/// Picks up to `room` pieces: first up to `head` from each document that has had none
/// (`is_new`), so a request that just came gets its first tokens within a few steps; then
/// the rest in arrival order, oldest first, so requests finish in the order they came (each
/// sharing every row equally, as round robin would, makes them all finish late). `offer`
/// gives a document's next piece (advancing its own cursor), or `None`. Returns (document
/// index, piece) pairs.
fn pick<B: Backend, M: LineModel<B>>(
    docs: &mut [Doc<B, M>],
    room: usize,
    head: usize,
    is_new: impl Fn(&Doc<B, M>) -> bool,
    mut offer: impl FnMut(&mut Doc<B, M>) -> Option<usize>,
) -> Vec<(usize, usize)> {
    let mut picked = Vec::new();
    let fresh: Vec<bool> = docs.iter().map(&is_new).collect();
    for (d, doc) in docs.iter_mut().enumerate().filter(|(d, _)| fresh[*d]) {
        for _ in 0..head.min(room - picked.len()) {
            match offer(doc) {
                Some(j) => picked.push((d, j)),
                None => break,
            }
        }
    }
    for (d, doc) in docs.iter_mut().enumerate() {
        while picked.len() < room {
            match offer(doc) {
                Some(j) => picked.push((d, j)),
                None => break,
            }
        }
    }
    picked
}
