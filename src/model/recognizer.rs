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
use super::generate::Generator;
use super::kv_cache::pad_positions;
use super::line_model::{Decoding, LineDecoder, LineModel};
use super::prefix_cache::{CacheStats, Encoding, PrefixCache};
use crate::render::Page;
use crate::stream::{Stage, TokenSink};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use super::builtin_lines::{max_tokens, MIN_CHAR_ASPECT};
pub use super::splitter::{
    default_piece_width, Part, Splitter, DEFAULT_PIECE_WIDTH, SPACE_MIN_HEIGHTS,
    SPACE_VS_MEDIAN_GAP, WHOLE_WORD_SLACK,
};

/// One unit of recognition, in reading order.
pub(super) struct Piece<I> {
    /// Which of the documents recognised together this piece belongs to.
    pub doc: usize,
    pub page: usize,
    pub line: usize,
    /// Part of a segment that was too wide and split; `glue_to_prev` = split inside a word.
    pub glue_to_prev: bool,
    pub input: I,
}

/// Counts of one request (also reported to the sink as stages / input tokens).
#[derive(Debug, Clone, Default)]
pub struct RecognizeStats {
    pub lines: usize,
    pub segments: usize,
    pub batches: usize,
    pub output_tokens: usize,
    pub input_tokens: usize,
    /// Input tokens whose encoding came from the prefix cache.
    pub cached_tokens: usize,
    pub unknown_tokens: usize,
    /// Pieces whose reading was dropped: low confidence or longer than the crop can hold.
    pub rejected_pieces: usize,
}

/// What one document has put out so far.
#[derive(Default)]
pub(super) struct DocOut {
    pub stats: RecognizeStats,
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
pub(super) struct LineOut<T> {
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
    /// Encodings of crops read before; `None`: every crop is encoded.
    cache: Option<Mutex<PrefixCache<B>>>,
    /// Threads that run encoder batches side by side (1: one after another). On the CPU the
    /// backend runs a pass on one core, and encoding is most of a page's time.
    pub encode_threads: usize,
    /// Crops per encoder pass; `None`: `batch_size`.
    pub encode_batch_size: Option<usize>,
}

/// Crops per encoder pass on the CPU: small enough that a page's 30–60 crops make several
/// batches to share between threads, and no slower on one thread than 32 (a 150 DPI
/// prescription page, 2 cores: encode 626 ms at 16 against 673 ms at 32 on one thread,
/// 387 ms against 431 ms on two). Fixed, not derived from the thread count: the last bits
/// of an encoding depend on its batch-mates, so the batches, and hence the text, must be
/// the same on every machine.
pub const CPU_ENCODE_BATCH: usize = 16;

impl<B: Backend, M: LineModel<B>> Recognizer<B, M> {
    pub fn new(model: M, device: B::Device, batch_size: usize) -> Self {
        Recognizer {
            model,
            device,
            batch_size,
            detect: DetectOptions::default(),
            cache: None,
            encode_threads: 1,
            encode_batch_size: None,
        }
    }

    /// Encodes on the CPU: [`CPU_ENCODE_BATCH`] crops per pass, the passes spread over the
    /// cores this process may use ([`super::device::cpu_threads`]).
    pub fn on_cpu(mut self) -> Self {
        self.encode_batch_size = Some(CPU_ENCODE_BATCH);
        self.encode_threads = super::device::cpu_threads();
        self
    }

    /// Keeps up to `budget_bytes` of crop encodings for reuse (0 turns the cache off). The
    /// text read is the same with and without it.
    pub fn set_prefix_cache(&mut self, budget_bytes: usize) {
        self.cache = (budget_bytes > 0).then(|| Mutex::new(PrefixCache::new(budget_bytes)));
    }

    /// Whether crop encodings are kept for reuse.
    pub fn has_prefix_cache(&self) -> bool {
        self.cache.is_some()
    }

    /// What the prefix cache has done so far; `None` when it is off.
    pub fn prefix_cache_stats(&self) -> Option<CacheStats> {
        self.cache
            .as_ref()
            .map(|c| c.lock().unwrap_or_else(|e| e.into_inner()).stats())
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
        let encodings = if self.model.encode_ahead() {
            let t = Instant::now();
            let all: Vec<&Piece<M::Input>> = pieces.iter().collect();
            let encodings = self
                .encode_reporting(&all, true, sinks, &mut out, deadline)
                .map_err(Stopped::Deadline)?;
            self.sync();
            let elapsed = t.elapsed();
            for sink in sinks.iter_mut() {
                sink.stage(Stage::Encode, elapsed);
            }
            Some(encodings)
        } else {
            None
        };
        // Decode in reading-order batches so tokens can stream in order.
        let batch = self.batch_size.max(1);
        for (k, chunk) in pieces.chunks(batch).enumerate() {
            let encoded = encodings
                .as_ref()
                .map(|e| &e[k * batch..k * batch + chunk.len()]);
            self.decode_batch(chunk, encoded, sinks, &mut out, deadline)?;
        }
        for sink in sinks.iter_mut() {
            sink.stage(Stage::Postprocess, Duration::ZERO);
        }
        Ok(out.into_iter().map(|o| o.stats).collect())
    }

    /// Detects the lines of every page and prepares their segments, in reading order.
    pub(super) fn prepare_pages(
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
    /// step. `encoded`: the pieces' encodings when they were encoded ahead.
    fn decode_batch(
        &self,
        chunk: &[Piece<M::Input>],
        encoded: Option<&[Encoding<B>]>,
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
        let t = Instant::now();
        let fresh;
        let encoded = match encoded {
            Some(e) => e,
            None => {
                let all: Vec<&Piece<M::Input>> = chunk.iter().collect();
                fresh = self
                    .encode_reporting(&all, false, sinks, out, deadline)
                    .map_err(Stopped::Deadline)?;
                &fresh[..]
            }
        };
        let (cross, lengths) = stack_encodings(encoded);
        let limits = chunk
            .iter()
            .map(|p| self.model.token_limit(&p.input))
            .collect();
        let decoding = self.model.decoding();
        let mut gen = Generator::from_cross(self.model.decoder(), cross, lengths, decoding.clone())
            .with_limits(limits);
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
    pub(super) fn emit(
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

    /// [`Recognizer::encode_pieces`], reporting the cached input tokens to the pieces' sinks.
    fn encode_reporting(
        &self,
        pieces: &[&Piece<M::Input>],
        sorted: bool,
        sinks: &mut [&mut dyn TokenSink],
        out: &mut [DocOut],
        deadline: Option<Instant>,
    ) -> Result<Vec<Encoding<B>>, DeadlinePassed> {
        let (encoded, reused) = self.encode_pieces(pieces, sorted, deadline)?;
        if self.cache.is_none() {
            return Ok(encoded);
        }
        // With the cache on, every document of the batch hears how much it served, 0 too.
        let mut cached: Vec<Option<usize>> = vec![None; sinks.len()];
        for (p, &r) in pieces.iter().zip(&reused) {
            let n = if r {
                self.model.input_tokens(&p.input)
            } else {
                0
            };
            *cached[p.doc].get_or_insert(0) += n;
        }
        for (d, n) in cached.into_iter().enumerate() {
            if let Some(n) = n {
                out[d].stats.cached_tokens += n;
                sinks[d].cached_tokens(n);
            }
        }
        Ok(encoded)
    }

    /// Each piece's [`Encoding`], in the given order, and whether it was reused: from the
    /// prefix cache where a pixel-identical crop was encoded before, else from the encoder, in
    /// batches of `encode_batch_size` (width-sorted when `sorted`, so batches pad little),
    /// spread over `encode_threads`. A crop that occurs twice among the misses is encoded
    /// once (the second copy counts as reused). Checks the deadline before each batch.
    #[allow(clippy::type_complexity)]
    pub(super) fn encode_pieces(
        &self,
        pieces: &[&Piece<M::Input>],
        sorted: bool,
        deadline: Option<Instant>,
    ) -> Result<(Vec<Encoding<B>>, Vec<bool>), DeadlinePassed> {
        let mut found: Vec<Option<Encoding<B>>> = vec![None; pieces.len()];
        let keys = self.lookup(pieces, &mut found);
        // The first piece of each distinct missing crop is encoded; the others copy it.
        let mut first_of: std::collections::HashMap<_, usize> = Default::default();
        let mut misses: Vec<usize> = Vec::new();
        for i in (0..pieces.len()).filter(|&i| found[i].is_none()) {
            match keys.as_ref().map(|k| k[i]) {
                Some(key) if first_of.contains_key(&key) => {}
                Some(key) => {
                    first_of.insert(key, i);
                    misses.push(i);
                }
                None => misses.push(i),
            }
        }
        if sorted {
            misses.sort_by_key(|&i| self.model.input_width(&pieces[i].input));
        }
        let batches: Vec<&[usize]> = misses
            .chunks(self.encode_batch_size.unwrap_or(self.batch_size).max(1))
            .collect();
        for (batch, encoded) in batches
            .iter()
            .zip(self.encode_batches(pieces, &batches, deadline)?)
        {
            for (&i, e) in batch.iter().zip(encoded) {
                found[i] = Some(e);
            }
        }
        let mut reused = vec![false; pieces.len()];
        if let Some(keys) = &keys {
            for i in 0..pieces.len() {
                match first_of.get(&keys[i]).copied() {
                    Some(f) if f != i => {
                        found[i] = found[f].clone();
                        reused[i] = true;
                    }
                    Some(_) => {}
                    None => reused[i] = true,
                }
            }
        }
        self.store(&first_of, &found);
        let encoded = found
            .into_iter()
            .map(|e| e.expect("every piece encoded"))
            .collect();
        Ok((encoded, reused))
    }

    /// With the cache on: every piece's fingerprint, and the encodings already stored.
    fn lookup(
        &self,
        pieces: &[&Piece<M::Input>],
        found: &mut [Option<Encoding<B>>],
    ) -> Option<Vec<super::prefix_cache::Fingerprint>> {
        let mut cache = self
            .cache
            .as_ref()?
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let keys: Vec<_> = pieces
            .iter()
            .map(|p| self.model.fingerprint(&p.input))
            .collect();
        for (slot, key) in found.iter_mut().zip(&keys) {
            *slot = cache.get(key);
        }
        Some(keys)
    }

    /// Stores the freshly encoded crops (`first_of`: fingerprint → the piece encoded for it).
    fn store(
        &self,
        first_of: &std::collections::HashMap<super::prefix_cache::Fingerprint, usize>,
        found: &[Option<Encoding<B>>],
    ) {
        let Some(cache) = &self.cache else { return };
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        for (key, &i) in first_of {
            if let Some(e) = &found[i] {
                cache.put(*key, e.clone());
            }
        }
    }

    /// Encodes `batches` (indices into `pieces`), in order, on up to
    /// [`Recognizer::encode_threads`] threads that each take the next batch not yet taken.
    /// Checks the deadline before each batch.
    fn encode_batches(
        &self,
        pieces: &[&Piece<M::Input>],
        batches: &[&[usize]],
        deadline: Option<Instant>,
    ) -> Result<Vec<Vec<Encoding<B>>>, DeadlinePassed> {
        let encode = |batch: &[usize]| {
            if passed(deadline) {
                let p = pieces[batch[0]];
                return Err(DeadlinePassed {
                    doc: p.doc,
                    page: p.page,
                });
            }
            let inputs: Vec<&M::Input> = batch.iter().map(|&i| &pieces[i].input).collect();
            Ok(self.encode_batch(&inputs))
        };
        let threads = self.encode_threads.clamp(1, batches.len().max(1));
        if threads == 1 {
            return batches.iter().map(|b| encode(b)).collect();
        }
        let next = AtomicUsize::new(0);
        // (batch index, its encodings), in the order the threads finished them.
        let mut done: Vec<(usize, _)> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let k = next.fetch_add(1, Ordering::Relaxed);
                            let Some(batch) = batches.get(k) else { break };
                            mine.push((k, encode(batch)));
                        }
                        mine
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        done.sort_by_key(|(k, _)| *k);
        done.into_iter().map(|(_, e)| e).collect()
    }

    /// Runs the encoder over one batch and projects it to every decoder layer's
    /// cross-attention keys/values; returns each input's valid part.
    fn encode_batch(&self, inputs: &[&M::Input]) -> Vec<Encoding<B>> {
        let enc = self.model.encode(inputs, &self.device);
        let cross = self.model.decoder().cross_keys_values(&enc.memory);
        enc.lengths
            .iter()
            .enumerate()
            .map(|(j, &len)| Encoding {
                len,
                cross: cross
                    .iter()
                    .map(|(k, v)| (row(k, j, len), row(v, j, len)))
                    .collect(),
            })
            .collect()
    }
}

/// Row `j`'s first `len` positions of `[b, h, s, dh]` keys or values.
fn row<B: Backend>(t: &Tensor<B, 4>, j: usize, len: usize) -> Tensor<B, 4> {
    let [_, h, _, dh] = t.dims();
    t.clone().slice([j..j + 1, 0..h, 0..len, 0..dh])
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

/// Stacks per-piece cross-attention keys/values into one batch, each padded with zeros to
/// the longest; returns them with each piece's valid length.
#[allow(clippy::type_complexity)]
pub(super) fn stack_encodings<B: Backend>(
    encoded: &[Encoding<B>],
) -> (Vec<(Tensor<B, 4>, Tensor<B, 4>)>, Vec<usize>) {
    let lengths: Vec<usize> = encoded.iter().map(|e| e.len).collect();
    let s = lengths.iter().copied().max().unwrap_or(1);
    let layers = encoded[0].cross.len();
    let cross = (0..layers)
        .map(|layer| {
            let pad = |t: &Tensor<B, 4>| pad_positions(t.clone(), s);
            let ks = encoded.iter().map(|e| pad(&e.cross[layer].0)).collect();
            let vs = encoded.iter().map(|e| pad(&e.cross[layer].1)).collect();
            (Tensor::cat(ks, 0), Tensor::cat(vs, 0))
        })
        .collect();
    (cross, lengths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::builtin_lines::BuiltinLines;
    use crate::model::fonts::FontSet;
    use crate::model::line_render::{render_line, LayoutStyle};
    use crate::model::{weights, ModelConfig, OcrModel, Tokenizer};
    use burn::backend::Flex;
    use image::{GrayImage, Luma};

    fn line(text: &str) -> GrayImage {
        let fonts = FontSet::system().unwrap();
        let style = LayoutStyle {
            tracking: 0.0,
            space_scale: 1.0,
        };
        let cov = render_line(&fonts.fonts[0].font, text, 30.0, style);
        GrayImage::from_fn(cov.width as u32, cov.height as u32, |x, y| {
            Luma([(255.0 * (1.0 - cov.get(x as usize, y as usize))) as u8])
        })
    }

    /// Encoder batches spread over threads give every crop exactly the encoding it gets on
    /// one thread with the same batches, in its place (crops of different widths, so a
    /// mix-up shows).
    #[test]
    fn threads_encode_every_crop_as_one_thread_does() {
        let dir = tempfile::tempdir().unwrap();
        let tok = Tokenizer::korean_medical();
        let c = ModelConfig::tiny_for_tests(tok.len(), 1, 6);
        let dev = Default::default();
        weights::save(&OcrModel::<Flex>::new(&c, &dev), &c, &tok, dir.path()).unwrap();
        let lines = BuiltinLines::new(weights::load::<Flex>(dir.path(), &dev).unwrap());
        let mut rec = Recognizer::new(lines, dev, 32);
        rec.encode_batch_size = Some(4);
        let texts = [
            "처방전",
            "성명 홍길동",
            "1일 3회",
            "WBC 5.7",
            "2023.08.01",
            "진단서",
            "K21.0",
            "아목시실린",
            "검사결과지",
            "퇴원요약서",
            "Hb 13.2 g/dL",
            "의무기록",
            "식후 30분",
            "주민등록번호",
            "병원",
            "1정",
            "PLT 250",
            "발행일",
            "환자",
            "서울",
        ];
        let pieces: Vec<Piece<_>> = texts
            .iter()
            .enumerate()
            .flat_map(|(li, t)| {
                rec.model
                    .prepare(line(t))
                    .into_iter()
                    .map(move |(input, glue)| Piece {
                        doc: 0,
                        page: 0,
                        line: li,
                        glue_to_prev: glue,
                        input,
                    })
            })
            .collect();
        let refs: Vec<&Piece<_>> = pieces.iter().collect();
        let (one, _) = rec.encode_pieces(&refs, true, None).unwrap();
        rec.encode_threads = 3;
        assert!(refs.len() > 3 * 4, "more batches than threads");
        let (three, _) = rec.encode_pieces(&refs, true, None).unwrap();
        assert_eq!(one.len(), three.len());
        for (a, b) in one.iter().zip(&three) {
            assert_eq!(a.len, b.len);
            for ((ka, va), (kb, vb)) in a.cross.iter().zip(&b.cross) {
                assert_eq!(ka.to_data(), kb.to_data());
                assert_eq!(va.to_data(), vb.to_data());
            }
        }
    }
}
