//! The built-in Burn OCR model as an [`Engine`]: line detection, batched line recognition and
//! per-token streaming (see `model::recognizer` for the token order and separators).
//! Flex on the CPU by default; `DeviceChoice::Cuda` with the `cuda` feature.

use super::{
    batch_deadline, deadline_error, Engine, EngineError, EngineInfo, Prepared, Preparer, Request,
    Stepper, Stepping, Streaming, TokenSink,
};
use crate::model::builtin_lines::BuiltinLines;
use crate::model::continuous::{self, Continuous, StepLimits};
use crate::model::device::{self, DeviceChoice};
use crate::model::preprocess::LineInput;
use crate::model::recognizer::{Recognizer, Stopped};
use crate::model::weights::{self, LoadedModel};
use crate::model::ModelError;
use crate::render::Page;
use crate::stream::Sinks;
use burn::tensor::backend::Backend;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Segments per forward pass by default.
pub const DEFAULT_BATCH: usize = 32;

/// Where `medocr run` looks for the shipped checkpoint.
pub const DEFAULT_MODEL_DIR: &str = "models/builtin";

enum Runner {
    Cpu(Recognizer<burn::backend::Flex, BuiltinLines<burn::backend::Flex>>),
    #[cfg(feature = "cuda")]
    Cuda(Recognizer<burn::backend::Cuda, BuiltinLines<burn::backend::Cuda>>),
}

pub struct BuiltinEngine {
    runner: Runner,
    info: EngineInfo,
    /// Per-page time limit (`--timeout-per-page`); `None` runs without one.
    timeout: Option<Duration>,
}

impl BuiltinEngine {
    /// Loads `model.safetensors` + `config.json` + `tokenizer.json` from `dir` onto `device`.
    pub fn load(dir: &Path, device: DeviceChoice) -> Result<Self, ModelError> {
        device::check(device)?;
        let (runner, sha, config, params) = match device {
            DeviceChoice::Cpu => {
                let dev = Default::default();
                let loaded: LoadedModel<burn::backend::Flex> = weights::load(dir, &dev)?;
                let (sha, config) = (loaded.sha256.clone(), loaded.config.clone());
                let params = burn::module::Module::num_params(&loaded.model);
                (
                    Runner::Cpu(
                        Recognizer::new(BuiltinLines::new(loaded), dev, DEFAULT_BATCH).on_cpu(),
                    ),
                    sha,
                    config,
                    params,
                )
            }
            #[cfg(feature = "cuda")]
            DeviceChoice::Cuda(i) => {
                let dev = burn::backend::cuda::CudaDevice::new(i);
                let loaded: LoadedModel<burn::backend::Cuda> = weights::load(dir, &dev)?;
                let (sha, config) = (loaded.sha256.clone(), loaded.config.clone());
                let params = burn::module::Module::num_params(&loaded.model);
                (
                    Runner::Cuda(Recognizer::new(
                        BuiltinLines::new(loaded),
                        dev,
                        DEFAULT_BATCH,
                    )),
                    sha,
                    config,
                    params,
                )
            }
            #[cfg(not(feature = "cuda"))]
            DeviceChoice::Cuda(_) => return Err(ModelError::CudaNotCompiled),
        };
        let mut settings = BTreeMap::new();
        settings.insert("device".into(), device.to_string());
        settings.insert("model_dir".into(), dir.display().to_string());
        settings.insert("parameters".into(), params.to_string());
        settings.insert(
            "architecture".into(),
            format!(
                "{} d={} enc={} dec={} heads={} line_height={}",
                config.architecture,
                config.d_model,
                config.encoder_layers,
                config.decoder_layers,
                config.n_heads,
                config.line_height
            ),
        );
        settings.insert("batch_size".into(), DEFAULT_BATCH.to_string());
        settings.insert(
            "piece_width".into(),
            crate::model::recognizer::default_piece_width(&config).to_string(),
        );
        if let Some(c) = config.min_confidence {
            settings.insert("min_confidence".into(), c.to_string());
        }
        let version = format!(
            "{}@{}",
            dir.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("builtin"),
            &sha[..12.min(sha.len())]
        );
        Ok(BuiltinEngine {
            runner,
            timeout: None,
            info: EngineInfo {
                name: "builtin".into(),
                version,
                checkpoint_sha256: Some(sha),
                streaming: Streaming::PerToken,
                token_unit: "character".into(),
                settings,
            },
        })
    }

    /// The model folder: `explicit` (`--model`) when given, else the first folder holding
    /// a `config.json` among [`BuiltinEngine::search_path`].
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, ModelError> {
        if let Some(dir) = explicit {
            return Ok(dir.to_path_buf());
        }
        let searched = Self::search_path();
        searched
            .iter()
            .find(|d| d.join("config.json").is_file())
            .cloned()
            .ok_or_else(|| ModelError::NotFound {
                searched: searched
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                install: crate::paths::data_dir().map_or_else(
                    || "$XDG_DATA_HOME/medocr/models/builtin".to_string(),
                    |d| d.join("models/builtin").display().to_string(),
                ),
            })
    }

    /// Where the built-in model is looked for, in order: `$MEDOCR_MODEL` (when set, nowhere
    /// else), `models/builtin` in the working folder (a checkout), the data folder
    /// (`$XDG_DATA_HOME/medocr/models/builtin`), and beside the binary
    /// (`<bin>/models/builtin`, `<bin>/../share/medocr/models/builtin`).
    pub fn search_path() -> Vec<PathBuf> {
        if let Some(p) = std::env::var_os("MEDOCR_MODEL") {
            // An explicit choice: falling back to another copy would hide a wrong setting.
            return vec![PathBuf::from(p)];
        }
        let mut out = vec![PathBuf::from(DEFAULT_MODEL_DIR)];
        out.extend(crate::paths::data_dir().map(|d| d.join(DEFAULT_MODEL_DIR)));
        out.extend(
            crate::paths::beside_binary()
                .into_iter()
                .map(|d| d.join(DEFAULT_MODEL_DIR)),
        );
        out
    }

    /// Widest piece the model reads, in pixels at its line height (default
    /// [`crate::model::recognizer::DEFAULT_PIECE_WIDTH`]); wider segments are split at
    /// column gaps.
    pub fn set_piece_width(&mut self, px: usize) {
        let px = px.max(16);
        match &mut self.runner {
            Runner::Cpu(r) => r.model.max_piece_width = px,
            #[cfg(feature = "cuda")]
            Runner::Cuda(r) => r.model.max_piece_width = px,
        }
        self.info
            .settings
            .insert("piece_width".into(), px.to_string());
    }

    /// Drops pieces whose greedy tokens average a lower log-probability than `logp` (the
    /// checkpoint's calibrated value by default; `f32::NEG_INFINITY` keeps everything).
    pub fn set_min_confidence(&mut self, logp: f32) {
        match &mut self.runner {
            Runner::Cpu(r) => r.model.min_confidence = logp,
            #[cfg(feature = "cuda")]
            Runner::Cuda(r) => r.model.min_confidence = logp,
        }
        self.info
            .settings
            .insert("min_confidence".into(), logp.to_string());
    }

    /// Keeps up to `bytes` of line-crop encodings for reuse (0: off); see
    /// [`crate::model::prefix_cache`].
    pub fn set_prefix_cache(&mut self, bytes: usize) {
        match &mut self.runner {
            Runner::Cpu(r) => r.set_prefix_cache(bytes),
            #[cfg(feature = "cuda")]
            Runner::Cuda(r) => r.set_prefix_cache(bytes),
        }
        if bytes > 0 {
            self.info
                .settings
                .insert("prefix_cache_mib".into(), (bytes >> 20).to_string());
        } else {
            self.info.settings.remove("prefix_cache_mib");
        }
    }

    /// Per-page time limit. The model runs in this process and cannot be killed, so the
    /// recogniser checks the clock between pages and forward passes and gives up with
    /// [`EngineError::Timeout`]. The pages of a request share their forward passes, so a
    /// request of n pages gets n times the limit in all.
    pub fn set_timeout_per_page(&mut self, limit: Option<Duration>) {
        self.timeout = limit;
    }

    /// Segments recognised per forward pass (default 32).
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
}

impl Engine for BuiltinEngine {
    fn info(&self) -> EngineInfo {
        self.info.clone()
    }

    fn recognize(
        &mut self,
        request: &Request<'_>,
        sink: &mut dyn TokenSink,
    ) -> Result<(), EngineError> {
        self.recognize_batch(std::slice::from_ref(request), &mut [sink])
    }

    fn batches_natively(&self) -> bool {
        true
    }

    fn has_prefix_cache(&self) -> bool {
        match &self.runner {
            Runner::Cpu(r) => r.has_prefix_cache(),
            #[cfg(feature = "cuda")]
            Runner::Cuda(r) => r.has_prefix_cache(),
        }
    }

    fn recognize_batch(
        &mut self,
        requests: &[Request<'_>],
        sinks: &mut [&mut dyn TokenSink],
    ) -> Result<(), EngineError> {
        let docs: Vec<&[crate::render::Page]> = requests.iter().map(|r| r.pages).collect();
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
            Err(Stopped::Failed(never)) => match never {},
        }
    }

    fn stepping(&self, limits: StepLimits) -> Option<Stepping<'_>> {
        // The per-page time limit is not applied here: `medocr serve`, the one caller, runs
        // without one.
        Some(match &self.runner {
            Runner::Cpu(r) => Stepping {
                stepper: Box::new(BuiltinStepper(Continuous::new(r, limits))),
                preparer: Box::new(BuiltinPreparer(r)),
            },
            #[cfg(feature = "cuda")]
            Runner::Cuda(r) => Stepping {
                stepper: Box::new(BuiltinStepper(Continuous::new(r, limits))),
                preparer: Box::new(BuiltinPreparer(r)),
            },
        })
    }
}

/// The built-in model's line detection for continuous batching, beside its steps.
struct BuiltinPreparer<'r, B: Backend>(&'r Recognizer<B, BuiltinLines<B>>);

impl<B: Backend> Preparer for BuiltinPreparer<'_, B> {
    fn prepare(&self, pages: &[Page], sink: &mut dyn TokenSink) -> Prepared {
        Prepared(Box::new(Continuous::prepare(self.0, pages, sink)))
    }
}

/// The built-in model's continuous batching (its text never fails to decode).
struct BuiltinStepper<'r, B: Backend>(Continuous<'r, B, BuiltinLines<B>>);

impl<B: Backend> Stepper for BuiltinStepper<'_, B> {
    fn admit(&mut self, ticket: u64, doc: Prepared) {
        let doc = doc
            .0
            .downcast::<continuous::Prepared<LineInput>>()
            .expect("a document prepared by this engine's preparer");
        self.0.admit(ticket, *doc);
    }

    fn step(&mut self, sinks: &mut dyn Sinks) -> Vec<(u64, Result<(), EngineError>)> {
        self.0
            .step(sinks)
            .into_iter()
            .map(|(ticket, r)| match r {
                Ok(_) => (ticket, Ok(())),
                Err(never) => match never {},
            })
            .collect()
    }

    fn cancel(&mut self, ticket: u64) {
        self.0.cancel(ticket);
    }

    fn in_flight(&self) -> usize {
        self.0.in_flight()
    }

    fn reset(&mut self) {
        self.0.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Stage;
    use crate::model::fonts::FontSet;
    use crate::model::line_render::{render_line, LayoutStyle};
    use crate::model::{ModelConfig, OcrModel, Tokenizer};
    use crate::render::Page;
    use image::{GrayImage, Luma};
    use std::time::Duration;

    use crate::engine::RecordingSink as Recorder;

    fn page(rows: &[&[&str]], index: usize) -> Page {
        let fonts = FontSet::system().unwrap();
        let mut img = GrayImage::from_pixel(1000, 500, Luma([255]));
        let mut y = 60;
        for cells in rows {
            let mut x = 60;
            for cell in *cells {
                let cov = render_line(
                    &fonts.fonts[0].font,
                    cell,
                    30.0,
                    LayoutStyle {
                        tracking: 0.0,
                        space_scale: 1.0,
                    },
                );
                for yy in 0..cov.height {
                    for xx in 0..cov.width {
                        if x + xx < 1000 && y + yy < 500 && cov.get(xx, yy) > 0.0 {
                            img.put_pixel(
                                (x + xx) as u32,
                                (y + yy) as u32,
                                Luma([(255.0 * (1.0 - cov.get(xx, yy))) as u8]),
                            );
                        }
                    }
                }
                x += cov.width + 200;
            }
            y += 90;
        }
        Page {
            image: img,
            dpi: 200.0,
            index,
        }
    }

    /// Plumbing with an untrained tiny model: the tokens concatenate to the text, stages and
    /// input tokens are reported, and loading checks the folder.
    #[test]
    fn streams_tokens_and_stages() {
        let dir = tempfile::tempdir().unwrap();
        let tok = Tokenizer::korean_medical();
        let c = ModelConfig::tiny_for_tests(tok.len(), 1, 6);
        let m = OcrModel::<burn::backend::Flex>::new(&c, &Default::default());
        crate::model::weights::save(&m, &c, &tok, dir.path()).unwrap();
        let mut engine = BuiltinEngine::load(dir.path(), DeviceChoice::Cpu).unwrap();
        assert_eq!(engine.info().streaming, Streaming::PerToken);
        let pages = [
            page(&[&["처방전"], &["성명", "홍길동"]], 0),
            page(&[&["1일 3회"]], 1),
        ];
        streams_one_document(&mut engine, &pages);
        batches_documents(&mut engine, &pages);
        joins_a_running_batch(&mut engine, &pages);
        stops_at_the_page_timeout(&mut engine, &pages);

        assert!(BuiltinEngine::load(&dir.path().join("missing"), DeviceChoice::Cpu).is_err());
        #[cfg(not(feature = "cuda"))]
        assert!(matches!(
            BuiltinEngine::load(dir.path(), DeviceChoice::Cuda(0)),
            Err(ModelError::CudaNotCompiled)
        ));
    }

    /// The tokens concatenate to the text; stages and input tokens are reported.
    fn streams_one_document(engine: &mut BuiltinEngine, pages: &[Page]) {
        let mut rec = Recorder::default();
        engine
            .recognize(&Request { id: "t", pages }, &mut rec)
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
        let mut sink = crate::engine::TextSink::default();
        engine
            .recognize(&Request { id: "t", pages }, &mut sink)
            .unwrap();
        assert_eq!(sink.text, rec.tokens.concat());
        assert_eq!(sink.tokens, rec.tokens.len());
        // 4 segments, each at most 6 tokens, plus at most 3 separators.
        assert!(rec.tokens.len() <= 4 * 6 + 3);
    }

    /// Continuous batching: a document admitted while another decodes joins its batch (rows
    /// at other positions, a KV cache rebased on the way), and each gets exactly the tokens
    /// it gets alone; a cancelled document never finishes and disturbs nobody.
    fn joins_a_running_batch(engine: &mut BuiltinEngine, pages: &[Page]) {
        use crate::engine::{Sinks, StepLimits};
        use std::collections::HashMap;
        #[derive(Default)]
        struct Set(HashMap<u64, Recorder>);
        impl Sinks for Set {
            fn sink(&mut self, ticket: u64) -> &mut dyn TokenSink {
                self.0.entry(ticket).or_default()
            }
        }
        let other = [page(&[&["검사결과지", "2023.08.01"], &["WBC 5.7"]], 0)];
        let docs: [&[Page]; 3] = [pages, &other, pages];
        let alone: Vec<Recorder> = docs
            .iter()
            .map(|p| {
                let mut r = Recorder::default();
                engine
                    .recognize(&Request { id: "a", pages: p }, &mut r)
                    .unwrap();
                r
            })
            .collect();
        let limits = StepLimits {
            rows: 2,
            step_tokens: 64,
        };
        let Stepping {
            mut stepper,
            preparer,
        } = engine.stepping(limits).unwrap();
        let mut set = Set::default();
        let admit = |stepper: &mut dyn Stepper, set: &mut Set, ticket: u64| {
            let doc = preparer.prepare(docs[ticket as usize], set.sink(ticket));
            stepper.admit(ticket, doc);
        };
        admit(&mut *stepper, &mut set, 0);
        let mut finished = Vec::new();
        for step in 0..10_000 {
            if step == 2 {
                admit(&mut *stepper, &mut set, 1);
                admit(&mut *stepper, &mut set, 2);
                assert_eq!(stepper.in_flight(), 3);
                stepper.cancel(2);
            }
            finished.extend(stepper.step(&mut set).into_iter().map(|(t, r)| {
                r.unwrap();
                t
            }));
            if stepper.in_flight() == 0 {
                break;
            }
        }
        finished.sort_unstable();
        assert_eq!(finished, [0, 1]);
        // A reset in the middle of a document (as after a panic) leaves a scheduler that
        // reads the next one as a fresh one would.
        admit(&mut *stepper, &mut set, 2);
        stepper.step(&mut set);
        stepper.reset();
        assert_eq!(stepper.in_flight(), 0);
        assert!(stepper.step(&mut set).is_empty());
        set.0.remove(&0);
        admit(&mut *stepper, &mut set, 0);
        while stepper.in_flight() > 0 {
            stepper.step(&mut set);
        }
        for (d, want) in alone.iter().enumerate().take(2) {
            let got = &set.0[&(d as u64)];
            assert_eq!(got.tokens, want.tokens, "document {d}");
            assert_eq!(got.input, want.input, "document {d}");
        }
    }

    /// Two documents in one batched call (batches of 3 segments span both documents): each
    /// gets exactly the tokens it gets alone.
    fn batches_documents(engine: &mut BuiltinEngine, pages: &[Page]) {
        engine.set_batch_size(3);
        let other = [page(&[&["검사결과지", "2023.08.01"], &["WBC 5.7"]], 0)];
        let requests = [
            Request { id: "a", pages },
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
            assert_eq!(batched.tokens, alone.tokens, "document {}", req.id);
            assert_eq!(batched.input, alone.input);
        }
        assert!(engine.batches_natively());
    }

    /// The per-page limit: a generous one changes nothing; one that has passed before the
    /// first forward pass stops the request as a timeout on its first page.
    fn stops_at_the_page_timeout(engine: &mut BuiltinEngine, pages: &[Page]) {
        engine.set_batch_size(32);
        let request = Request { id: "t", pages };
        let mut unlimited = Recorder::default();
        engine.recognize(&request, &mut unlimited).unwrap();
        engine.set_timeout_per_page(Some(Duration::from_secs(3600)));
        let mut limited = Recorder::default();
        engine.recognize(&request, &mut limited).unwrap();
        assert_eq!(limited.tokens, unlimited.tokens);
        engine.set_timeout_per_page(Some(Duration::from_nanos(1)));
        let err = engine
            .recognize(&request, &mut Recorder::default())
            .unwrap_err();
        assert!(
            matches!(&err, EngineError::Timeout { id, page: 1, .. } if id == "t"),
            "{err}"
        );
        assert!(err.to_string().contains("--timeout-per-page"), "{err}");
        let other = [page(&[&["WBC 5.7"]], 0)];
        let requests = [
            request,
            Request {
                id: "b",
                pages: &other,
            },
        ];
        let err = engine
            .recognize_batch(
                &requests,
                &mut [&mut Recorder::default(), &mut Recorder::default()],
            )
            .unwrap_err();
        assert!(matches!(err, EngineError::Timeout { .. }), "{err}");
        engine.set_timeout_per_page(None);
    }
}
