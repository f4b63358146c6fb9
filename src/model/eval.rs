//! Validation: greedy decoding of held-out rendered lines and their corpus CER. Uses the same
//! generation loop as the engine, so the number reflects what inference produces.

use super::data::DataGen;
use super::data::LineSample;
use super::error::ModelError;
use super::generate::Generator;
use super::ocr::OcrModel;
use super::preprocess::{batch_tensor, LineInput};
use super::tokenizer::Tokenizer;
use super::weights;
use burn::tensor::backend::Backend;
use serde::Serialize;
use std::path::Path;

/// Corpus CER of (reference, hypothesis) pairs over Unicode scalar values (a Hangul
/// syllable is one), unnormalised: total edits / total reference characters, with the
/// scorer's edit distance.
pub fn corpus_cer<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> f64 {
    let scalars = |s: &str| s.chars().map(u32::from).collect::<Vec<_>>();
    let (mut edits, mut n) = (0usize, 0usize);
    for (r, h) in pairs {
        let r = scalars(r);
        edits += crate::score::distance(&r, &scalars(h));
        n += r.len();
    }
    edits as f64 / n.max(1) as f64
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub lines: usize,
    pub cer: f64,
    /// A few (reference, hypothesis) pairs for the log.
    pub examples: Vec<(String, String)>,
}

/// Recognises each sample's input and scores it against its text.
pub fn evaluate<B: Backend>(
    model: &OcrModel<B>,
    tokenizer: &Tokenizer,
    samples: &[LineSample],
    batch_size: usize,
    max_len: usize,
    device: &B::Device,
) -> EvalReport {
    let inputs: Vec<&LineInput> = samples.iter().map(|s| &s.input).collect();
    let hyps = recognize_lines(model, tokenizer, &inputs, batch_size, max_len, device);
    let cer = corpus_cer(
        samples
            .iter()
            .zip(&hyps)
            .map(|(s, h)| (s.text.as_str(), h.as_str())),
    );
    EvalReport {
        lines: samples.len(),
        cer,
        examples: samples
            .iter()
            .zip(&hyps)
            .take(4)
            .map(|(s, h)| (s.text.clone(), h.clone()))
            .collect(),
    }
}

/// Batched greedy recognition of prepared lines (in order). Lines are grouped by width to
/// limit padding; results come back in input order.
pub fn recognize_lines<B: Backend>(
    model: &OcrModel<B>,
    tokenizer: &Tokenizer,
    inputs: &[&LineInput],
    batch_size: usize,
    max_len: usize,
    device: &B::Device,
) -> Vec<String> {
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_by_key(|&i| inputs[i].width);
    let mut out = vec![String::new(); inputs.len()];
    for chunk in order.chunks(batch_size.max(1)) {
        let lines: Vec<&LineInput> = chunk.iter().map(|&i| inputs[i]).collect();
        let (images, widths) = batch_tensor::<B>(&lines, device);
        let enc = model.encode(images, &widths);
        let ids = Generator::new(model, &enc, max_len).run();
        for (&i, ids) in chunk.iter().zip(ids) {
            out[i] = tokenizer.decode(&ids);
        }
    }
    out
}

/// What [`evaluate_dir`] renders.
#[derive(Debug, Clone)]
pub struct HeldOutOptions {
    pub lines: usize,
    /// Seed of the held-out stream (training uses its own seed's validation stream).
    pub seed: u64,
    /// `None`: the training mix of 72–600 DPI; `Some(d)`: every line at `d` DPI.
    pub dpi: Option<f32>,
    pub batch_size: usize,
}

impl Default for HeldOutOptions {
    fn default() -> Self {
        HeldOutOptions {
            lines: 256,
            seed: 7_777,
            dpi: None,
            batch_size: 64,
        }
    }
}

/// Evaluation hook: loads a model folder and reports its CER on freshly rendered held-out lines
/// (CPU backend).
pub fn evaluate_dir(dir: &Path, o: &HeldOutOptions) -> Result<EvalReport, ModelError> {
    let device = Default::default();
    let loaded = weights::load::<super::CpuBackend>(dir, &device)?;
    let mut gen = DataGen::new(
        loaded.tokenizer.clone(),
        loaded.config.line_height,
        loaded.config.max_line_width,
    )?;
    gen.fixed_dpi = o.dpi;
    let samples = gen.validation(o.seed, o.lines);
    Ok(evaluate(
        &loaded.model,
        &loaded.tokenizer,
        &samples,
        o.batch_size,
        loaded.config.max_target_len,
        &device,
    ))
}

#[cfg(test)]
mod tests {
    use super::corpus_cer;

    #[test]
    fn corpus_cer_counts_scalars() {
        assert_eq!(corpus_cer([("처방전", "처방전")]), 0.0);
        assert!((corpus_cer([("처방전", "처반전")]) - 1.0 / 3.0).abs() < 1e-12);
        // Summed over lines, not averaged: 1 edit in 4 + 3 edits in 3 = 4 / 7.
        assert!((corpus_cer([("abcd", "abxd"), ("abc", "")]) - 4.0 / 7.0).abs() < 1e-12);
    }
}
