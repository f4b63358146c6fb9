//! Hugging Face TrOCR-family checkpoints (`VisionEncoderDecoderModel`, see `model::trocr`)
//! as an [`Engine`]: `--engine hf --model <folder>`. TrOCR models read one text line at a
//! time, so pages go through the shared page loop (`model::recognizer`, the one the built-in
//! engine uses): line detection, then the line segments of all requests read in batches (one
//! encoder pass and one greedy decode per batch), every generated token streamed after the
//! device is synchronised.
//!
//! Separators, as for the built-in engine: `" "` between segments of one visual line, `"\n"`
//! between lines and pages, each a token event of its own before the next segment's first
//! token. A token that ends inside a multi-byte character streams as an empty event and its
//! text comes with the token that completes it.

use super::{
    batch_deadline, deadline_error, Engine, EngineError, EngineInfo, Request, Streaming, TokenSink,
};
use crate::model::device::{self, DeviceChoice};
use crate::model::recognizer::{Recognizer, Stopped};
use crate::model::trocr::{self, HfError, LoadedHf};
use crate::model::ModelError;
use crate::render::Page;
use burn::tensor::backend::Backend;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Line segments per forward pass by default.
pub const DEFAULT_BATCH: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum HfEngineError {
    #[error(transparent)]
    Load(#[from] HfError),
    #[error(transparent)]
    Device(#[from] ModelError),
}

/// Batched line recognition with one loaded checkpoint: the shared page loop.
type HfRecognizer<B> = Recognizer<B, LoadedHf<B>>;

enum Runner {
    Cpu(HfRecognizer<burn::backend::Flex>),
    #[cfg(feature = "cuda")]
    Cuda(HfRecognizer<burn::backend::Cuda>),
}

pub struct HfEngine {
    runner: Runner,
    info: EngineInfo,
    /// Per-page time limit (`--timeout-per-page`); `None` runs without one.
    timeout: Option<Duration>,
}

fn describe<B: Backend>(l: &LoadedHf<B>, dir: &Path, dev: DeviceChoice) -> EngineInfo {
    let c = &l.config;
    let mut s = BTreeMap::new();
    s.insert("device".into(), dev.to_string());
    s.insert("model_dir".into(), dir.display().to_string());
    s.insert(
        "parameters".into(),
        burn::module::Module::num_params(&l.model).to_string(),
    );
    s.insert(
        "architecture".into(),
        format!(
            "{:?} {}x{} patch {}x{} d={} layers={} + trocr d={} layers={} heads={} vocab={}",
            c.encoder.kind,
            c.encoder.image_size[0],
            c.encoder.image_size[1],
            c.encoder.patch_size[0],
            c.encoder.patch_size[1],
            c.encoder.hidden_size,
            c.encoder.num_layers,
            c.decoder.d_model,
            c.decoder.num_layers,
            c.decoder.num_heads,
            c.decoder.vocab_size
        ),
    );
    s.insert(
        "weight_dtypes".into(),
        l.weight_dtypes
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(","),
    );
    let g = &l.generation;
    s.insert(
        "decoding".into(),
        format!(
            "greedy, start={} eos={:?} max_length={} (from {})",
            g.decoder_start_token_id,
            g.eos_token_ids,
            g.max_length,
            g.source.display()
        ),
    );
    if !g.ignored.is_empty() {
        s.insert("not_applied".into(), g.ignored.join(" "));
    }
    s.insert("batch_size".into(), DEFAULT_BATCH.to_string());
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("hf")
        .to_string();
    EngineInfo {
        name: "hf".into(),
        version: format!("{name}@{}", &l.sha256[..12.min(l.sha256.len())]),
        checkpoint_sha256: Some(l.sha256.clone()),
        streaming: Streaming::PerToken,
        token_unit: "tokenizer token".into(),
        settings: s,
    }
}

impl HfEngine {
    /// Loads a checkpoint folder onto `device`.
    pub fn load(dir: &Path, device: DeviceChoice) -> Result<Self, HfEngineError> {
        device::check(device)?;
        let (runner, info) = match device {
            DeviceChoice::Cpu => {
                let dev = Default::default();
                let l = trocr::load::<burn::backend::Flex>(dir, &dev)?;
                let info = describe(&l, dir, device);
                let rec = Recognizer::new(l, dev, DEFAULT_BATCH).on_cpu();
                (Runner::Cpu(rec), info)
            }
            #[cfg(feature = "cuda")]
            DeviceChoice::Cuda(i) => {
                let dev = burn::backend::cuda::CudaDevice::new(i);
                let l = trocr::load::<burn::backend::Cuda>(dir, &dev)?;
                let info = describe(&l, dir, device);
                (Runner::Cuda(Recognizer::new(l, dev, DEFAULT_BATCH)), info)
            }
            #[cfg(not(feature = "cuda"))]
            DeviceChoice::Cuda(_) => return Err(ModelError::CudaNotCompiled.into()),
        };
        Ok(HfEngine {
            runner,
            info,
            timeout: None,
        })
    }

    /// Line segments per forward pass (default [`DEFAULT_BATCH`]).
    pub fn set_batch_size(&mut self, n: usize) {
        let n = n.max(1);
        match &mut self.runner {
            Runner::Cpu(r) => r.batch_size = n,
            #[cfg(feature = "cuda")]
            Runner::Cuda(r) => r.batch_size = n,
        }
        self.info
            .settings
            .insert("batch_size".into(), n.to_string());
    }

    /// Per-page time limit; a request of n pages gets n × the limit (its pages share
    /// forward passes).
    pub fn set_timeout_per_page(&mut self, limit: Option<Duration>) {
        self.timeout = limit;
    }

    fn run(
        &self,
        requests: &[Request<'_>],
        sinks: &mut [&mut dyn TokenSink],
    ) -> Result<(), EngineError> {
        let docs: Vec<&[Page]> = requests.iter().map(|r| r.pages).collect();
        let deadline = batch_deadline(self.timeout, requests);
        let outcome = match &self.runner {
            Runner::Cpu(r) => r.recognize_until(&docs, sinks, deadline),
            #[cfg(feature = "cuda")]
            Runner::Cuda(r) => r.recognize_until(&docs, sinks, deadline),
        };
        match outcome {
            Ok(_) => Ok(()),
            Err(Stopped::Deadline(passed)) => Err(deadline_error(
                &self.info.name,
                requests,
                passed,
                self.timeout,
            )),
            Err(Stopped::Failed(e)) => Err(EngineError::Failed {
                engine: "hf".into(),
                id: requests.iter().map(|r| r.id).collect::<Vec<_>>().join(","),
                message: e.to_string(),
            }),
        }
    }
}

impl Engine for HfEngine {
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
        self.run(std::slice::from_ref(request), &mut [sink])
    }

    fn batches_natively(&self) -> bool {
        true
    }

    fn recognize_batch(
        &mut self,
        requests: &[Request<'_>],
        sinks: &mut [&mut dyn TokenSink],
    ) -> Result<(), EngineError> {
        self.run(requests, sinks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Stage, TextSink};
    use image::{GrayImage, Luma};

    use crate::engine::RecordingSink as Recorder;

    /// A page with dark bars where text lines would be.
    fn page(rows: &[&[(u32, u32)]], index: usize) -> Page {
        let mut img = GrayImage::from_pixel(900, 400, Luma([255]));
        for (r, cells) in rows.iter().enumerate() {
            let y0 = 50 + r as u32 * 80;
            for &(x0, x1) in *cells {
                for y in y0..y0 + 24 {
                    for x in x0..x1 {
                        if (x / 7 + y / 5) % 3 != 0 {
                            img.put_pixel(x, y, Luma([20]));
                        }
                    }
                }
            }
        }
        Page {
            image: img,
            dpi: 200.0,
            index,
        }
    }

    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hf/vit-learned-f32")
    }

    /// Plumbing on a real (tiny, random) checkpoint: stages, input tokens, streaming equals
    /// the whole text, batching across documents gives each document its own tokens.
    /// A limit that passes before the first forward pass is a timeout on page 1; a generous
    /// one changes nothing.
    #[test]
    fn stops_at_the_page_timeout() {
        let mut engine = HfEngine::load(&fixture(), DeviceChoice::Cpu).unwrap();
        let pages = [page(&[&[(60, 300), (500, 700)]], 0)];
        let request = Request {
            id: "a",
            pages: &pages,
        };
        let mut unlimited = TextSink::default();
        engine.recognize(&request, &mut unlimited).unwrap();
        engine.set_timeout_per_page(Some(Duration::from_secs(3600)));
        let mut limited = TextSink::default();
        engine.recognize(&request, &mut limited).unwrap();
        assert_eq!(limited.text, unlimited.text);
        engine.set_timeout_per_page(Some(Duration::from_nanos(1)));
        let err = engine
            .recognize(&request, &mut TextSink::default())
            .unwrap_err();
        assert!(matches!(err, EngineError::Timeout { page: 1, .. }), "{err}");
    }

    #[test]
    fn streams_tokens_and_batches() {
        let mut engine = HfEngine::load(&fixture(), DeviceChoice::Cpu).unwrap();
        let info = engine.info();
        assert_eq!(info.name, "hf");
        assert_eq!(info.streaming, Streaming::PerToken);
        assert!(info.settings["decoding"].contains("max_length=24"));
        let pages = [
            page(&[&[(60, 300), (500, 700)], &[(60, 400)]], 0),
            page(&[&[(80, 500)]], 1),
        ];
        let mut rec = Recorder::default();
        engine
            .recognize(
                &Request {
                    id: "a",
                    pages: &pages,
                },
                &mut rec,
            )
            .unwrap();
        for s in [
            Stage::Detect,
            Stage::Preprocess,
            Stage::Encode,
            Stage::Decode,
        ] {
            assert!(rec.stages.contains(&s), "{s:?} missing");
        }
        assert!(rec.input > 0);
        assert!(!rec.tokens.is_empty());
        let mut sink = TextSink::default();
        engine
            .recognize(
                &Request {
                    id: "a",
                    pages: &pages,
                },
                &mut sink,
            )
            .unwrap();
        assert_eq!(sink.text, rec.tokens.concat());

        engine.set_batch_size(2);
        let other = [page(&[&[(100, 600)], &[(100, 250), (400, 800)]], 0)];
        let requests = [
            Request {
                id: "a",
                pages: &pages,
            },
            Request {
                id: "b",
                pages: &other,
            },
        ];
        let (mut a, mut b) = (Recorder::default(), Recorder::default());
        engine
            .recognize_batch(&requests, &mut [&mut a, &mut b])
            .unwrap();
        for (req, batched) in requests.iter().zip([&a, &b]) {
            let mut alone = Recorder::default();
            engine.recognize(req, &mut alone).unwrap();
            assert_eq!(batched.tokens.concat(), alone.tokens.concat(), "{}", req.id);
            assert_eq!(batched.input, alone.input);
        }
    }

    #[test]
    fn load_errors_are_clear() {
        let e = HfEngine::load(Path::new("/nonexistent/ckpt"), DeviceChoice::Cpu)
            .err()
            .unwrap();
        assert!(e.to_string().contains("/nonexistent/ckpt"), "{e}");
    }
}
