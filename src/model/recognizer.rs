//! Page recognition for any [`LineModel`] (the built-in model, Hugging Face TrOCR checkpoints):
//! detect lines and segments, prepare every segment crop, then recognise
//! them in real batches (many segments per forward pass) and stream the tokens in reading
//! order. The encoder runs over width-sorted batches (little padding); the decoder runs over
//! reading-order batches of the segments' features (padded and masked), so streaming follows
//! the page. A piece's tokens go to the sink once the piece has finished decoding and been
//! accepted (not cut off by its length bound, not below the confidence threshold) and
//! everything before it in reading order is out.
//!
//! Separators are tokens of their own, emitted just before the first token of the next
//! non-empty segment: `" "` between segments on one visual line (table cells), `"\n"` between
//! lines and between pages. Both are vocabulary tokens, so token counts stay tokenizer counts.

use super::detect::{crop, detect_lines, DetectOptions};
use super::encoder::{padding_bias, Encoded};
use super::generate::Generator;
use super::line_model::{Decoding, LineModel};
use crate::render::Page;
use crate::stream::{Stage, TokenSink};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use std::time::{Duration, Instant};

pub use super::builtin_lines::{max_tokens, MIN_CHAR_ASPECT};
pub use super::splitter::{
    default_piece_width, Part, Splitter, DEFAULT_PIECE_WIDTH, SPACE_MIN_HEIGHTS,
    SPACE_VS_MEDIAN_GAP, WHOLE_WORD_SLACK,
};

/// One unit of recognition, in reading order.
struct Piece<I> {
    /// Which of the documents recognised together this piece belongs to.
    doc: usize,
    page: usize,
    line: usize,
    /// Part of a segment that was too wide and split; `glue_to_prev` = split inside a word.
    glue_to_prev: bool,
    input: I,
}

/// Counts of one request (also reported to the sink as stages / input tokens).
#[derive(Debug, Clone, Default)]
pub struct RecognizeStats {
    pub lines: usize,
    pub segments: usize,
    pub batches: usize,
    pub output_tokens: usize,
    pub input_tokens: usize,
    pub unknown_tokens: usize,
    /// Pieces whose reading was dropped: low confidence or longer than the crop can hold.
    pub rejected_pieces: usize,
}

/// What one document has put out so far.
#[derive(Default)]
struct DocOut {
    stats: RecognizeStats,
    /// Page and line of the last piece that put out text (where the next separator is read).
    last: Option<(usize, usize)>,
}

/// One document's part of a decode batch: pieces `cursor..end` are still to go out.
struct DocRange {
    doc: usize,
    cursor: usize,
    end: usize,
}

/// How far one piece of a decode batch has gone out.
#[derive(Default)]
struct LineOut<T> {
    text: T,
    /// Ids already turned into text.
    emitted: usize,
    /// Whether the piece's separator has gone out.
    started: bool,
}

/// Why [`Recognizer::recognize_until`] stopped before the end.
#[derive(Debug)]
pub enum Stopped<E> {
    Deadline(DeadlinePassed),
    /// The model could not turn ids into text.
    Failed(E),
}

pub struct Recognizer<B: Backend, M: LineModel<B>> {
    pub model: M,
    pub device: B::Device,
    /// Segments per forward pass.
    pub batch_size: usize,
    pub detect: DetectOptions,
}

impl<B: Backend, M: LineModel<B>> Recognizer<B, M> {
    pub fn new(model: M, device: B::Device, batch_size: usize) -> Self {
        Recognizer {
            model,
            device,
            batch_size,
            detect: DetectOptions::default(),
        }
    }

    fn sync(&self) {
        let _ = B::sync(&self.device);
    }

    /// Recognises several documents together: the segments of all of them share the encoder
    /// and decoder batches, and `sinks[d]` receives document `d`'s tokens in its own reading
    /// order (one document never waits for another's tokens, only for the shared batches).
    /// Every stage a document took part in is reported to its sink with its full duration.
    ///
    /// Gives up once `deadline` has passed. An in-process model cannot be killed, so it checks
    /// the clock itself: after each page's detection and before each forward pass (encoder
    /// batch, decode step). The sinks then hold a partial output.
    pub fn recognize_until(
        &self,
        docs: &[&[Page]],
        sinks: &mut [&mut dyn TokenSink],
        deadline: Option<Instant>,
    ) -> Result<Vec<RecognizeStats>, Stopped<M::Error>> {
        assert_eq!(docs.len(), sinks.len(), "one sink per document");
        let mut out: Vec<DocOut> = docs.iter().map(|_| DocOut::default()).collect();
        // Detection and preprocessing of every page first: the batches then span pages.
        let pieces = self
            .prepare_pages(docs, sinks, &mut out, deadline)
            .map_err(Stopped::Deadline)?;
        for p in &pieces {
            out[p.doc].stats.input_tokens += self.model.input_tokens(&p.input);
        }
        for (d, sink) in sinks.iter_mut().enumerate() {
            sink.input_tokens(out[d].stats.input_tokens);
        }
        let memories = if self.model.encode_ahead() {
            let t = Instant::now();
            let memories = self
                .encode_sorted(&pieces, deadline)
                .map_err(Stopped::Deadline)?;
            self.sync();
            let elapsed = t.elapsed();
            for sink in sinks.iter_mut() {
                sink.stage(Stage::Encode, elapsed);
            }
            Some(memories)
        } else {
            None
        };
        // Decode in reading-order batches so tokens can stream in order.
        let batch = self.batch_size.max(1);
        for (k, chunk) in pieces.chunks(batch).enumerate() {
            let memory = memories
                .as_ref()
                .map(|m| &m[k * batch..k * batch + chunk.len()]);
            self.decode_batch(chunk, memory, sinks, &mut out, deadline)?;
        }
        for sink in sinks.iter_mut() {
            sink.stage(Stage::Postprocess, Duration::ZERO);
        }
        Ok(out.into_iter().map(|o| o.stats).collect())
    }

    /// Detects the lines of every page and prepares their segments, in reading order.
    fn prepare_pages(
        &self,
        docs: &[&[Page]],
        sinks: &mut [&mut dyn TokenSink],
        out: &mut [DocOut],
        deadline: Option<Instant>,
    ) -> Result<Vec<Piece<M::Input>>, DeadlinePassed> {
        let mut pieces = Vec::new();
        for (d, pages) in docs.iter().enumerate() {
            let sink = &mut *sinks[d];
            let stats = &mut out[d].stats;
            for page in pages.iter() {
                let t = Instant::now();
                let det = detect_lines(&page.image, page.dpi, &self.detect);
                sink.stage(Stage::Detect, t.elapsed());
                if passed(deadline) {
                    return Err(DeadlinePassed {
                        doc: d,
                        page: page.index,
                    });
                }
                let t = Instant::now();
                for (li, line) in det.lines.iter().enumerate() {
                    stats.lines += 1;
                    for seg in &line.segments {
                        stats.segments += 1;
                        let parts = self.model.prepare(crop(&det.image, seg));
                        pieces.extend(parts.into_iter().map(|(input, glue)| Piece {
                            doc: d,
                            page: page.index,
                            line: li,
                            glue_to_prev: glue,
                            input,
                        }));
                    }
                }
                sink.stage(Stage::Preprocess, t.elapsed());
            }
        }
        Ok(pieces)
    }

    /// Decodes one reading-order batch, streaming every document's final tokens after each
    /// step. `memory`: the pieces' encoded features when they were encoded ahead.
    fn decode_batch(
        &self,
        chunk: &[Piece<M::Input>],
        memory: Option<&[Tensor<B, 3>]>,
        sinks: &mut [&mut dyn TokenSink],
        out: &mut [DocOut],
        deadline: Option<Instant>,
    ) -> Result<(), Stopped<M::Error>> {
        let mut ranges = doc_ranges(chunk);
        for r in &ranges {
            out[r.doc].stats.batches += 1;
        }
        let deadline_at = |c: usize| {
            Stopped::Deadline(DeadlinePassed {
                doc: chunk[c].doc,
                page: chunk[c].page,
            })
        };
        if memory.is_none() && passed(deadline) {
            return Err(deadline_at(0));
        }
        let t = Instant::now();
        let enc = match memory {
            Some(m) => stack_memories(m),
            None => {
                let inputs: Vec<&M::Input> = chunk.iter().map(|p| &p.input).collect();
                self.model.encode(&inputs, &self.device)
            }
        };
        let limits = chunk
            .iter()
            .map(|p| self.model.token_limit(&p.input))
            .collect();
        let decoding = self.model.decoding();
        let mut gen =
            Generator::start(self.model.decoder(), &enc, decoding.clone()).with_limits(limits);
        self.sync();
        let elapsed = t.elapsed();
        for r in &ranges {
            sinks[r.doc].stage(Stage::Encode, elapsed);
        }
        let mut lines: Vec<LineOut<M::Text>> = chunk.iter().map(|_| LineOut::default()).collect();
        loop {
            if passed(deadline) {
                let c = (0..chunk.len()).find(|&c| !gen.finished()[c]).unwrap_or(0);
                return Err(deadline_at(c));
            }
            let t = Instant::now();
            let all_done = gen.step().is_none();
            let elapsed = t.elapsed();
            for r in ranges.iter_mut().filter(|r| r.cursor < r.end) {
                // This document's part of the batch is not out yet.
                let sink = &mut *sinks[r.doc];
                sink.stage(Stage::Decode, elapsed);
                let flush = Flush {
                    chunk,
                    gen: &gen,
                    decoding: &decoding,
                    all_done,
                };
                self.flush(&flush, r, &mut lines, sink, &mut out[r.doc])
                    .map_err(Stopped::Failed)?;
            }
            if all_done {
                return Ok(());
            }
        }
    }

    /// Puts out every piece of one document's range that is final, in reading order. With a
    /// confidence threshold a piece is held until it has finished, so a piece that turns out
    /// to be garbage (a runaway decode, or low confidence) is dropped whole; pieces are a few
    /// tokens long, so the hold costs a few steps of TTFT. Without one, tokens stream as they
    /// come, up to the first piece still decoding.
    fn flush(
        &self,
        f: &Flush<'_, B, M>,
        r: &mut DocRange,
        lines: &mut [LineOut<M::Text>],
        sink: &mut dyn TokenSink,
        out: &mut DocOut,
    ) -> Result<(), M::Error> {
        while r.cursor < r.end {
            let c = r.cursor;
            let done = f.gen.finished()[c] || f.all_done;
            let ids = &f.gen.outputs()[c];
            match self.model.min_confidence() {
                Some(_) if !done => break,
                Some(min) => {
                    r.cursor += 1;
                    if ids.is_empty() {
                        continue;
                    }
                    if f.gen.hit_limit(c) || f.gen.confidence(c) < min {
                        out.stats.rejected_pieces += 1;
                        continue;
                    }
                    self.emit(&f.chunk[c], &mut lines[c], ids, f.decoding, true, sink, out)?;
                }
                None => {
                    self.emit(&f.chunk[c], &mut lines[c], ids, f.decoding, done, sink, out)?;
                    if !done {
                        break;
                    }
                    r.cursor += 1;
                }
            }
        }
        Ok(())
    }

    /// Turns the piece's ids not yet out into token events. A piece's separator goes out just
    /// before its first text: a held piece's before its first token, a streamed piece's with
    /// its first non-empty text (a byte-level token may release nothing yet).
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        p: &Piece<M::Input>,
        line: &mut LineOut<M::Text>,
        ids: &[u32],
        decoding: &Decoding,
        done: bool,
        sink: &mut dyn TokenSink,
        out: &mut DocOut,
    ) -> Result<(), M::Error> {
        let whole = self.model.min_confidence().is_some();
        while line.emitted < ids.len() {
            let id = ids[line.emitted];
            line.emitted += 1;
            let last = done && line.emitted == ids.len();
            let stop = decoding.stop.contains(&id);
            let text = self.model.token_text(&mut line.text, id, last || stop)?;
            if stop && text.is_empty() {
                continue;
            }
            if !line.started && (whole || !text.is_empty()) {
                line.started = true;
                let sep = match out.last {
                    None => "",
                    Some(_) if p.glue_to_prev => "",
                    Some((pg, ln)) if pg == p.page && ln == p.line => " ",
                    Some(_) => "\n",
                };
                if !sep.is_empty() {
                    sink.token(sep);
                    out.stats.output_tokens += 1;
                }
                out.last = Some((p.page, p.line));
            }
            sink.token(&text);
            out.stats.output_tokens += 1;
            out.stats.unknown_tokens += usize::from(self.model.is_unknown(id));
        }
        Ok(())
    }

    /// Runs the encoder over all pieces in width-sorted batches; returns each piece's valid
    /// features `[1, len, d]` in the original order.
    fn encode_sorted(
        &self,
        pieces: &[Piece<M::Input>],
        deadline: Option<Instant>,
    ) -> Result<Vec<Tensor<B, 3>>, DeadlinePassed> {
        let mut order: Vec<usize> = (0..pieces.len()).collect();
        order.sort_by_key(|&i| self.model.input_width(&pieces[i].input));
        let mut out: Vec<Option<Tensor<B, 3>>> = vec![None; pieces.len()];
        for chunk in order.chunks(self.batch_size.max(1)) {
            if passed(deadline) {
                let p = &pieces[chunk[0]];
                return Err(DeadlinePassed {
                    doc: p.doc,
                    page: p.page,
                });
            }
            let inputs: Vec<&M::Input> = chunk.iter().map(|&i| &pieces[i].input).collect();
            let enc = self.model.encode(&inputs, &self.device);
            let d = enc.memory.dims()[2];
            for (j, &i) in chunk.iter().enumerate() {
                let len = enc.lengths[j];
                out[i] = Some(enc.memory.clone().slice([j..j + 1, 0..len, 0..d]));
            }
        }
        Ok(out
            .into_iter()
            .map(|m| m.expect("every piece encoded"))
            .collect())
    }
}

/// One decode step's view, shared by the documents of the batch.
struct Flush<'a, B: Backend, M: LineModel<B>> {
    chunk: &'a [Piece<M::Input>],
    gen: &'a Generator<'a, B, M::Decoder>,
    decoding: &'a Decoding,
    /// The generator has stopped: every piece is final.
    all_done: bool,
}

/// The documents of a batch, as contiguous ranges of it.
fn doc_ranges<I>(chunk: &[Piece<I>]) -> Vec<DocRange> {
    let mut ranges: Vec<DocRange> = Vec::new();
    for (i, p) in chunk.iter().enumerate() {
        match ranges.last_mut() {
            Some(r) if r.doc == p.doc => r.end = i + 1,
            _ => ranges.push(DocRange {
                doc: p.doc,
                cursor: i,
                end: i + 1,
            }),
        }
    }
    ranges
}

/// [`Recognizer::recognize_until`] stopped: its deadline passed while it worked on this
/// document (index into the batch) and 0-based page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlinePassed {
    pub doc: usize,
    pub page: usize,
}

/// Whether `deadline` (if any) has passed: the check an in-process engine makes between
/// forward passes.
pub(crate) fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// Pads per-segment features to a common length and stacks them, with the padding mask.
fn stack_memories<B: Backend>(memories: &[Tensor<B, 3>]) -> Encoded<B> {
    let lengths: Vec<usize> = memories.iter().map(|m| m.dims()[1]).collect();
    let s = lengths.iter().copied().max().unwrap_or(1);
    let d = memories.first().map(|m| m.dims()[2]).unwrap_or(1);
    let device = memories[0].device();
    let padded: Vec<Tensor<B, 3>> = memories
        .iter()
        .map(|m| {
            let l = m.dims()[1];
            if l == s {
                m.clone()
            } else {
                Tensor::cat(vec![m.clone(), Tensor::zeros([1, s - l, d], &device)], 1)
            }
        })
        .collect();
    Encoded {
        memory: Tensor::cat(padded, 0),
        key_bias: padding_bias::<B>(&lengths, s, &device),
        lengths,
    }
}
