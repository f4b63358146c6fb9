//! Training loop: Burn autodiff on Flex (CPU), AdamW with warm-up and cosine decay,
//! decoder cross-entropy + auxiliary CTC loss, on lines rendered on the fly. Reports progress
//! through a callback (the library never prints) and appends every event to `<run>/log.jsonl`.
//! Resumes from the run folder's latest checkpoint; stop it gracefully by creating
//! `<run>/STOP` (it checkpoints and returns).

use super::checkpoint::{self, TrainState, ValPoint};
use super::config::ModelConfig;
use super::data::{to_batch, BankIndex, DataGen, LineSample};
use super::error::ModelError;
use super::eval::{evaluate, EvalReport};
use super::ocr::OcrModel;
use super::page_crops::CropBank;
use super::tokenizer::Tokenizer;
use super::weights;
use super::TrainBackend;
use burn::module::{AutodiffModule, Module};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::Backend;
use burn::tensor::ElementConversion;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Run folder: checkpoints, log.jsonl, export/ (latest validated weights), best/.
    pub run_dir: PathBuf,
    pub seed: u64,
    /// Total optimizer steps of the schedule (the run stops there).
    pub steps: usize,
    pub batch_size: usize,
    pub peak_lr: f64,
    pub warmup_steps: usize,
    /// Final learning rate as a fraction of the peak.
    pub min_lr_ratio: f64,
    pub weight_decay: f32,
    /// Weight of the auxiliary CTC loss.
    pub ctc_weight: f32,
    pub log_every: usize,
    pub eval_every: usize,
    pub checkpoint_every: usize,
    pub val_lines: usize,
    /// Stop (with a checkpoint) after this much wall time in this invocation.
    pub max_minutes: Option<f64>,
    /// Architecture for a new run (ignored when resuming: the checkpoint's config wins).
    pub config: Option<ModelConfig>,
    /// Fine-tuning: a new run starts from this model folder's weights and config (with a
    /// fresh optimizer and schedule) instead of a random initialisation. Ignored when resuming.
    pub init_from: Option<PathBuf>,
    /// Debugging aid: train on the first batch over and over (the losses must go to ~0).
    pub overfit_one_batch: bool,
    /// A bank of crops cut from whole pages (`medocr crops`) to mix into the rendered lines.
    /// Recorded in the run's state: a resumed run keeps its bank.
    pub page_crops: Option<PathBuf>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            run_dir: PathBuf::from("checkpoints/builtin-v1"),
            seed: 20_240_917,
            steps: 30_000,
            batch_size: 32,
            peak_lr: 8e-4,
            warmup_steps: 300,
            min_lr_ratio: 0.05,
            weight_decay: 0.01,
            ctc_weight: 0.5,
            log_every: 10,
            eval_every: 250,
            checkpoint_every: 100,
            val_lines: 192,
            max_minutes: None,
            config: None,
            init_from: None,
            overfit_one_batch: false,
            page_crops: None,
        }
    }
}

/// Progress reports.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TrainEvent {
    Started {
        step: usize,
        resumed: bool,
        params: usize,
        config: ModelConfig,
    },
    Step {
        step: usize,
        loss: f64,
        decoder_loss: f64,
        ctc_loss: f64,
        lr: f64,
        secs_per_step: f64,
        /// Time spent waiting for the data thread, per step.
        data_wait_s: f64,
        elapsed_s: f64,
    },
    Validation {
        step: usize,
        cer: f64,
        best_cer: f64,
        lines: usize,
        secs: f64,
        examples: Vec<(String, String)>,
    },
    Checkpoint {
        step: usize,
        path: PathBuf,
    },
    Stopped {
        step: usize,
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    pub steps_done: usize,
    pub last_cer: Option<f64>,
    pub best_cer: Option<f64>,
    pub run_dir: PathBuf,
}

/// Learning rate at `step`: linear warm-up, then cosine decay to `min_lr_ratio · peak`.
pub fn learning_rate(o: &TrainOptions, step: usize) -> f64 {
    if step < o.warmup_steps {
        return o.peak_lr * (step + 1) as f64 / o.warmup_steps as f64;
    }
    let t = ((step - o.warmup_steps) as f64
        / (o.steps.saturating_sub(o.warmup_steps)).max(1) as f64)
        .min(1.0);
    let min = o.peak_lr * o.min_lr_ratio;
    min + (o.peak_lr - min) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
}

type Tb = TrainBackend;
type Device = burn::backend::flex::FlexDevice;
type Batches = Receiver<(usize, Vec<LineSample>)>;

/// Trains (or resumes) the run in `o.run_dir` until the schedule ends, a `STOP` file appears
/// or the time limit passes, then checkpoints and returns.
pub fn run(
    o: &TrainOptions,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainSummary, ModelError> {
    let mut log = EventLog::open(&o.run_dir, on_event)?;
    let device = Device::default();
    let tokenizer = Tokenizer::korean_medical();
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    let resume_dir = checkpoint::latest(&o.run_dir)?;
    let init = match (&resume_dir, &o.init_from) {
        (None, Some(dir)) => Some(weights::load::<Tb>(dir, &device)?),
        _ => None,
    };
    let mut state = match &resume_dir {
        Some(d) => checkpoint::read_state(d)?,
        None => fresh_state(o, init.as_ref().map(|l| &l.config), &tokenizer),
    };
    check_page_crops(o, &state, resume_dir.is_some())?;
    let config = state.config.clone();
    check_config(&config, &tokenizer)?;
    <Tb as Backend>::seed(&device, state.seed);
    let init = init.map(|l| l.model);
    let (model, optim) =
        model_and_optimizer(o, &config, init, resume_dir.as_deref(), &recorder, &device)?;
    log.emit(TrainEvent::Started {
        step: state.step,
        resumed: resume_dir.is_some(),
        params: model.num_params(),
        config: config.clone(),
    });

    let gen = Arc::new(data_gen(&tokenizer, &config, state.page_crops.as_deref())?);
    let val: Vec<LineSample> = gen.validation(state.seed, o.val_lines);
    let ctx = Ctx {
        o,
        device,
        tokenizer,
        recorder,
        config,
        val,
    };
    let (batches, producer) = spawn_batches(gen, state.seed, o, state.step);
    let (model, optim, stop_reason) =
        train_loop(&ctx, &mut state, &mut log, model, optim, &batches)?;
    drop(batches);
    let _ = producer.join();
    if state.step % o.checkpoint_every != 0 {
        let path = save_checkpoint(&ctx, &model, &OptimBox(&optim, &ctx.recorder), &state)?;
        log.emit(TrainEvent::Checkpoint {
            step: state.step,
            path,
        });
    }
    log.emit(TrainEvent::Stopped {
        step: state.step,
        reason: stop_reason,
    });
    Ok(TrainSummary {
        steps_done: state.step,
        // Every validation appends to the history: its last point is the last CER.
        last_cer: state.history.last().map(|v| v.cer),
        best_cer: state.best_cer,
        run_dir: o.run_dir.clone(),
    })
}

/// What the training loop works with once the run is set up.
struct Ctx<'a> {
    o: &'a TrainOptions,
    device: Device,
    tokenizer: Tokenizer,
    recorder: NamedMpkFileRecorder<FullPrecisionSettings>,
    config: ModelConfig,
    val: Vec<LineSample>,
}

/// Events go to `<run>/log.jsonl` and to the caller's callback.
struct EventLog<'a> {
    file: std::fs::File,
    on_event: &'a mut dyn FnMut(&TrainEvent),
}

impl<'a> EventLog<'a> {
    /// Creates the run folder and opens its log for appending.
    fn open(
        run_dir: &Path,
        on_event: &'a mut dyn FnMut(&TrainEvent),
    ) -> Result<EventLog<'a>, ModelError> {
        std::fs::create_dir_all(run_dir).map_err(|e| ModelError::io(run_dir, e))?;
        let path = run_dir.join("log.jsonl");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| ModelError::io(&path, e))?;
        Ok(EventLog { file, on_event })
    }

    fn emit(&mut self, ev: TrainEvent) {
        if let Ok(line) = serde_json::to_string(&ev) {
            let _ = writeln!(self.file, "{line}");
        }
        (self.on_event)(&ev);
    }
}

/// The state of a new run: step 0, the options' seed and page crops, and the architecture of
/// the model it fine-tunes, else the options' config, else the default small model.
fn fresh_state(o: &TrainOptions, init: Option<&ModelConfig>, tokenizer: &Tokenizer) -> TrainState {
    TrainState {
        step: 0,
        seed: o.seed,
        config: match init {
            Some(config) => config.clone(),
            None => o
                .config
                .clone()
                .unwrap_or_else(|| ModelConfig::small(tokenizer.len())),
        },
        elapsed_s: 0.0,
        history: Vec::new(),
        best_cer: None,
        page_crops: o.page_crops.clone(),
    }
}

/// A resumed run keeps the page-crop bank it started with (its data stream depends on it).
fn check_page_crops(o: &TrainOptions, state: &TrainState, resumed: bool) -> Result<(), ModelError> {
    let run_dir = &o.run_dir;
    if let (Some(given), Some(kept)) = (&o.page_crops, &state.page_crops) {
        if given != kept {
            return Err(ModelError::Train(format!(
                "{} was started with page crops {}; resume it without --page-crops or with the same folder, or start a new run folder",
                run_dir.display(),
                kept.display()
            )));
        }
    }
    if state.page_crops.is_none() && o.page_crops.is_some() && resumed {
        return Err(ModelError::Train(format!(
            "{} was started without page crops; adding them would change the data stream of a resumed run: start a new run folder (with --init to keep the weights)",
            run_dir.display()
        )));
    }
    Ok(())
}

fn check_config(config: &ModelConfig, tokenizer: &Tokenizer) -> Result<(), ModelError> {
    config.validate()?;
    if config.vocab_size != tokenizer.len() {
        return Err(ModelError::VocabMismatch {
            config: config.vocab_size,
            tokenizer: tokenizer.len(),
        });
    }
    Ok(())
}

/// The model (fine-tuned from `init`, else freshly initialised) and its AdamW optimizer, both
/// loaded from `resume_dir` when resuming.
fn model_and_optimizer(
    o: &TrainOptions,
    config: &ModelConfig,
    init: Option<OcrModel<Tb>>,
    resume_dir: Option<&Path>,
    recorder: &NamedMpkFileRecorder<FullPrecisionSettings>,
    device: &Device,
) -> Result<(OcrModel<Tb>, impl Optimizer<OcrModel<Tb>, Tb>), ModelError> {
    let mut model = init.unwrap_or_else(|| OcrModel::<Tb>::new(config, device));
    let mut optim = AdamWConfig::new()
        .with_weight_decay(o.weight_decay)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init::<Tb, OcrModel<Tb>>();
    if let Some(d) = resume_dir {
        let ck = |e: burn::record::RecorderError| ModelError::Checkpoint {
            path: d.to_path_buf(),
            message: e.to_string(),
        };
        model = model
            .load_file(d.join(checkpoint::MODEL), recorder, device)
            .map_err(ck)?;
        let rec = recorder
            .load(d.join(checkpoint::OPTIM), device)
            .map_err(ck)?;
        optim = optim.load_record(rec);
    }
    Ok((model, optim))
}

fn data_gen(
    tokenizer: &Tokenizer,
    config: &ModelConfig,
    page_crops: Option<&Path>,
) -> Result<DataGen, ModelError> {
    let mut gen = DataGen::new(tokenizer.clone(), config.line_height, config.max_line_width)?;
    if let Some(dir) = page_crops {
        gen.bank = Some(BankIndex::new(CropBank::open(dir)?));
    }
    Ok(gen)
}

/// Data thread: renders the batches of steps `start..o.steps` while the model trains.
fn spawn_batches(
    gen: Arc<DataGen>,
    seed: u64,
    o: &TrainOptions,
    start: usize,
) -> (Batches, JoinHandle<()>) {
    let (tx, rx) = sync_channel::<(usize, Vec<LineSample>)>(2);
    let (bs, end, overfit) = (o.batch_size, o.steps, o.overfit_one_batch);
    let producer = std::thread::spawn(move || {
        for step in start..end {
            let data_step = if overfit { 0 } else { step as u64 };
            if tx.send((step, gen.batch(seed, data_step, bs))).is_err() {
                break;
            }
        }
    });
    (rx, producer)
}

/// Trains step by step, logging, validating and checkpointing on schedule, until a reason to
/// stop; returns the model, its optimizer and that reason.
fn train_loop<O: Optimizer<OcrModel<Tb>, Tb>>(
    ctx: &Ctx,
    state: &mut TrainState,
    log: &mut EventLog,
    mut model: OcrModel<Tb>,
    mut optim: O,
    batches: &Batches,
) -> Result<(OcrModel<Tb>, O, String), ModelError> {
    let o = ctx.o;
    let t0 = Instant::now();
    let elapsed0 = state.elapsed_s;
    let mut window = Window::new();
    let mut last_loss = f64::NAN;
    loop {
        if let Some(reason) = stop_reason(o, state.step, t0) {
            return Ok((model, optim, reason.to_string()));
        }
        let tw = Instant::now();
        let (step, samples) = batches
            .recv()
            .map_err(|_| ModelError::Train("data thread stopped".into()))?;
        let wait = tw.elapsed().as_secs_f64();
        debug_assert_eq!(step, state.step);
        let lr = learning_rate(o, state.step);
        let (next, dec, ctc) = train_step(ctx, model, &mut optim, &samples, lr);
        model = next;
        window.add(dec, ctc, dec + o.ctc_weight as f64 * ctc, wait);
        state.step += 1;
        state.elapsed_s = elapsed0 + t0.elapsed().as_secs_f64();

        if state.step % o.log_every == 0 {
            last_loss = window.mean_loss();
            log.emit(window.take(state.step, lr, state.elapsed_s));
        }
        if state.step % o.eval_every == 0 {
            log.emit(validate(ctx, state, &model, last_loss)?);
            // Validation time is not training time.
            window.restart_clock();
        }
        if state.step % o.checkpoint_every == 0 {
            let path = save_checkpoint(ctx, &model, &OptimBox(&optim, &ctx.recorder), state)?;
            log.emit(TrainEvent::Checkpoint {
                step: state.step,
                path,
            });
        }
    }
}

/// Why the run stops before training step `step`, if it does.
fn stop_reason(o: &TrainOptions, step: usize, t0: Instant) -> Option<&'static str> {
    if step >= o.steps {
        Some("schedule complete")
    } else if o.run_dir.join("STOP").exists() {
        Some("STOP file")
    } else if o
        .max_minutes
        .is_some_and(|m| t0.elapsed().as_secs_f64() > m * 60.0)
    {
        Some("time limit")
    } else {
        None
    }
}

/// One optimizer step on a batch; returns the updated model and its decoder and CTC losses.
fn train_step<O: Optimizer<OcrModel<Tb>, Tb>>(
    ctx: &Ctx,
    model: OcrModel<Tb>,
    optim: &mut O,
    samples: &[LineSample],
    lr: f64,
) -> (OcrModel<Tb>, f64, f64) {
    let batch = to_batch::<Tb>(samples, &ctx.tokenizer, &ctx.device);
    let losses = model.losses(&batch);
    let loss = losses.decoder.clone() + losses.ctc.clone().mul_scalar(ctx.o.ctc_weight);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = optim.step(lr, model, grads);
    let dec: f64 = losses.decoder.into_scalar().elem::<f64>();
    let ctc: f64 = losses.ctc.into_scalar().elem::<f64>();
    (model, dec, ctc)
}

/// Losses and timings accumulated since the last progress report.
struct Window {
    loss: f64,
    dec: f64,
    ctc: f64,
    wait: f64,
    n: usize,
    started: Instant,
}

impl Window {
    fn new() -> Window {
        Window {
            loss: 0.0,
            dec: 0.0,
            ctc: 0.0,
            wait: 0.0,
            n: 0,
            started: Instant::now(),
        }
    }

    fn add(&mut self, dec: f64, ctc: f64, total: f64, wait: f64) {
        self.loss += total;
        self.dec += dec;
        self.ctc += ctc;
        self.n += 1;
        self.wait += wait;
    }

    fn restart_clock(&mut self) {
        self.started = Instant::now();
    }

    fn mean_loss(&self) -> f64 {
        self.loss / self.n as f64
    }

    /// The progress report of the window, which starts over.
    fn take(&mut self, step: usize, lr: f64, elapsed_s: f64) -> TrainEvent {
        let n = self.n as f64;
        let ev = TrainEvent::Step {
            step,
            loss: self.mean_loss(),
            decoder_loss: self.dec / n,
            ctc_loss: self.ctc / n,
            lr,
            secs_per_step: self.started.elapsed().as_secs_f64() / n,
            data_wait_s: self.wait / n,
            elapsed_s,
        };
        *self = Window::new();
        ev
    }
}

/// Measures CER on the validation lines, exports the weights (and keeps the best), and
/// records the point in the run's history.
fn validate(
    ctx: &Ctx,
    state: &mut TrainState,
    model: &OcrModel<Tb>,
    last_loss: f64,
) -> Result<TrainEvent, ModelError> {
    let tv = Instant::now();
    let (config, tokenizer, run_dir) = (&ctx.config, &ctx.tokenizer, &ctx.o.run_dir);
    let valid = model.valid();
    let r: EvalReport = evaluate(
        &valid,
        tokenizer,
        &ctx.val,
        64,
        config.max_target_len,
        &ctx.device,
    );
    let best = state.best_cer.map_or(r.cer, |b| b.min(r.cer));
    weights::save(&valid, config, tokenizer, &run_dir.join("export"))?;
    if state.best_cer.is_none_or(|b| r.cer < b) {
        weights::save(&valid, config, tokenizer, &run_dir.join("best"))?;
    }
    state.best_cer = Some(best);
    state.history.push(ValPoint {
        step: state.step,
        cer: r.cer,
        train_loss: last_loss,
        elapsed_s: state.elapsed_s,
    });
    Ok(TrainEvent::Validation {
        step: state.step,
        cer: r.cer,
        best_cer: best,
        lines: r.lines,
        secs: tv.elapsed().as_secs_f64(),
        examples: r.examples,
    })
}

/// Writes model, optimizer and state to the step's checkpoint folder and makes it the latest
/// (keeping two).
fn save_checkpoint(
    ctx: &Ctx,
    model: &OcrModel<Tb>,
    optim: &dyn OptimRecord,
    state: &TrainState,
) -> Result<PathBuf, ModelError> {
    let run_dir = &ctx.o.run_dir;
    let dir = checkpoint::dir_for(run_dir, state.step);
    std::fs::create_dir_all(&dir).map_err(|e| ModelError::io(&dir, e))?;
    let ck = |e: burn::record::RecorderError| ModelError::Checkpoint {
        path: dir.clone(),
        message: e.to_string(),
    };
    model
        .clone()
        .save_file(dir.join(checkpoint::MODEL), &ctx.recorder)
        .map_err(ck)?;
    optim.save(&dir.join(checkpoint::OPTIM))?;
    checkpoint::write_state(&dir, state)?;
    checkpoint::commit(run_dir, &dir, 2)?;
    Ok(dir)
}

/// Type-erased optimizer saving (the optimizer's concrete type is long).
trait OptimRecord {
    fn save(&self, path: &std::path::Path) -> Result<(), ModelError>;
}

struct OptimBox<'a, O>(&'a O, &'a NamedMpkFileRecorder<FullPrecisionSettings>);

impl<O: Optimizer<OcrModel<Tb>, Tb>> OptimRecord for OptimBox<'_, O> {
    fn save(&self, path: &std::path::Path) -> Result<(), ModelError> {
        Recorder::<Tb>::record(self.1, self.0.to_record(), path.to_path_buf())
            .map(|_| ())
            .map_err(|e| ModelError::Checkpoint {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
    }
}
