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
use std::path::PathBuf;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
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

pub fn run(
    o: &TrainOptions,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainSummary, ModelError> {
    let run_dir = o.run_dir.clone();
    std::fs::create_dir_all(&run_dir).map_err(|e| ModelError::io(&run_dir, e))?;
    let log_path = run_dir.join("log.jsonl");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| ModelError::io(&log_path, e))?;
    let mut emit = |ev: TrainEvent, on_event: &mut dyn FnMut(&TrainEvent)| {
        if let Ok(line) = serde_json::to_string(&ev) {
            let _ = writeln!(log, "{line}");
        }
        on_event(&ev);
    };

    let device: burn::backend::flex::FlexDevice = Default::default();
    let tokenizer = Tokenizer::korean_medical();
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    let resume_dir = checkpoint::latest(&run_dir)?;
    let init = match (&resume_dir, &o.init_from) {
        (None, Some(dir)) => Some(weights::load::<Tb>(dir, &device)?),
        _ => None,
    };
    let mut state = match &resume_dir {
        Some(d) => checkpoint::read_state(d)?,
        None => TrainState {
            step: 0,
            seed: o.seed,
            config: match &init {
                Some(loaded) => loaded.config.clone(),
                None => o
                    .config
                    .clone()
                    .unwrap_or_else(|| ModelConfig::small(tokenizer.len())),
            },
            elapsed_s: 0.0,
            history: Vec::new(),
            best_cer: None,
            page_crops: o.page_crops.clone(),
        },
    };
    if let (Some(given), Some(kept)) = (&o.page_crops, &state.page_crops) {
        if given != kept {
            return Err(ModelError::Train(format!(
                "{} was started with page crops {}; resume it without --page-crops or with the same folder, or start a new run folder",
                run_dir.display(),
                kept.display()
            )));
        }
    }
    if state.page_crops.is_none() && o.page_crops.is_some() && resume_dir.is_some() {
        return Err(ModelError::Train(format!(
            "{} was started without page crops; adding them would change the data stream of a resumed run: start a new run folder (with --init to keep the weights)",
            run_dir.display()
        )));
    }
    let config = state.config.clone();
    config.validate()?;
    if config.vocab_size != tokenizer.len() {
        return Err(ModelError::VocabMismatch {
            config: config.vocab_size,
            tokenizer: tokenizer.len(),
        });
    }
    <Tb as Backend>::seed(&device, state.seed);
    let mut model = match init {
        Some(loaded) => loaded.model,
        None => OcrModel::<Tb>::new(&config, &device),
    };
    let mut optim = AdamWConfig::new()
        .with_weight_decay(o.weight_decay)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init::<Tb, OcrModel<Tb>>();
    if let Some(d) = &resume_dir {
        let ck = |e: burn::record::RecorderError| ModelError::Checkpoint {
            path: d.clone(),
            message: e.to_string(),
        };
        model = model
            .load_file(d.join(checkpoint::MODEL), &recorder, &device)
            .map_err(ck)?;
        let rec = recorder
            .load(d.join(checkpoint::OPTIM), &device)
            .map_err(ck)?;
        optim = optim.load_record(rec);
    }
    emit(
        TrainEvent::Started {
            step: state.step,
            resumed: resume_dir.is_some(),
            params: model.num_params(),
            config: config.clone(),
        },
        on_event,
    );

    let mut gen = DataGen::new(tokenizer.clone(), config.line_height, config.max_line_width)?;
    if let Some(dir) = &state.page_crops {
        gen.bank = Some(BankIndex::new(CropBank::open(dir)?));
    }
    let gen = Arc::new(gen);
    let val: Vec<LineSample> = gen.validation(state.seed, o.val_lines);

    // Data thread: renders upcoming batches while the model trains.
    let (tx, rx) = sync_channel::<(usize, Vec<LineSample>)>(2);
    let (g, seed, bs, start, end) = (gen.clone(), state.seed, o.batch_size, state.step, o.steps);
    let overfit = o.overfit_one_batch;
    let producer = std::thread::spawn(move || {
        for step in start..end {
            let data_step = if overfit { 0 } else { step as u64 };
            if tx.send((step, g.batch(seed, data_step, bs))).is_err() {
                break;
            }
        }
    });

    let t0 = Instant::now();
    let elapsed0 = state.elapsed_s;
    let (mut acc_loss, mut acc_dec, mut acc_ctc, mut acc_n, mut acc_wait) =
        (0.0, 0.0, 0.0, 0usize, 0.0);
    let mut t_window = Instant::now();
    let mut last_loss = f64::NAN;
    let mut last_cer = state.history.last().map(|v| v.cer);
    let save = |model: &OcrModel<Tb>,
                optim: &dyn OptimRecord,
                state: &TrainState|
     -> Result<PathBuf, ModelError> {
        let dir = checkpoint::dir_for(&run_dir, state.step);
        std::fs::create_dir_all(&dir).map_err(|e| ModelError::io(&dir, e))?;
        let ck = |e: burn::record::RecorderError| ModelError::Checkpoint {
            path: dir.clone(),
            message: e.to_string(),
        };
        model
            .clone()
            .save_file(dir.join(checkpoint::MODEL), &recorder)
            .map_err(ck)?;
        optim.save(&dir.join(checkpoint::OPTIM))?;
        checkpoint::write_state(&dir, state)?;
        checkpoint::commit(&run_dir, &dir, 2)?;
        Ok(dir)
    };

    let stop_reason;
    loop {
        if state.step >= o.steps {
            stop_reason = "schedule complete".to_string();
            break;
        }
        if run_dir.join("STOP").exists() {
            stop_reason = "STOP file".to_string();
            break;
        }
        if o.max_minutes
            .is_some_and(|m| t0.elapsed().as_secs_f64() > m * 60.0)
        {
            stop_reason = "time limit".to_string();
            break;
        }
        let tw = Instant::now();
        let (step, samples) = rx
            .recv()
            .map_err(|_| ModelError::Train("data thread stopped".into()))?;
        acc_wait += tw.elapsed().as_secs_f64();
        debug_assert_eq!(step, state.step);
        let batch = to_batch::<Tb>(&samples, &tokenizer, &device);
        let losses = model.losses(&batch);
        let loss = losses.decoder.clone() + losses.ctc.clone().mul_scalar(o.ctc_weight);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = learning_rate(o, state.step);
        model = optim.step(lr, model, grads);
        let dec: f64 = losses.decoder.into_scalar().elem::<f64>();
        let ctc: f64 = losses.ctc.into_scalar().elem::<f64>();
        let total = dec + o.ctc_weight as f64 * ctc;
        acc_loss += total;
        acc_dec += dec;
        acc_ctc += ctc;
        acc_n += 1;
        state.step += 1;
        state.elapsed_s = elapsed0 + t0.elapsed().as_secs_f64();

        if state.step % o.log_every == 0 {
            last_loss = acc_loss / acc_n as f64;
            emit(
                TrainEvent::Step {
                    step: state.step,
                    loss: last_loss,
                    decoder_loss: acc_dec / acc_n as f64,
                    ctc_loss: acc_ctc / acc_n as f64,
                    lr,
                    secs_per_step: t_window.elapsed().as_secs_f64() / acc_n as f64,
                    data_wait_s: acc_wait / acc_n as f64,
                    elapsed_s: state.elapsed_s,
                },
                on_event,
            );
            (acc_loss, acc_dec, acc_ctc, acc_n, acc_wait) = (0.0, 0.0, 0.0, 0, 0.0);
            t_window = Instant::now();
        }
        if state.step % o.eval_every == 0 {
            let tv = Instant::now();
            let valid = model.valid();
            let r: EvalReport =
                evaluate(&valid, &tokenizer, &val, 64, config.max_target_len, &device);
            let best = state.best_cer.map_or(r.cer, |b| b.min(r.cer));
            weights::save(&valid, &config, &tokenizer, &run_dir.join("export"))?;
            if state.best_cer.is_none_or(|b| r.cer < b) {
                weights::save(&valid, &config, &tokenizer, &run_dir.join("best"))?;
            }
            state.best_cer = Some(best);
            state.history.push(ValPoint {
                step: state.step,
                cer: r.cer,
                train_loss: last_loss,
                elapsed_s: state.elapsed_s,
            });
            last_cer = Some(r.cer);
            emit(
                TrainEvent::Validation {
                    step: state.step,
                    cer: r.cer,
                    best_cer: best,
                    lines: r.lines,
                    secs: tv.elapsed().as_secs_f64(),
                    examples: r.examples,
                },
                on_event,
            );
            t_window = Instant::now();
        }
        if state.step % o.checkpoint_every == 0 {
            let path = save(&model, &OptimBox(&optim, &recorder), &state)?;
            emit(
                TrainEvent::Checkpoint {
                    step: state.step,
                    path,
                },
                on_event,
            );
        }
    }
    drop(rx);
    let _ = producer.join();
    if state.step % o.checkpoint_every != 0 {
        let path = save(&model, &OptimBox(&optim, &recorder), &state)?;
        emit(
            TrainEvent::Checkpoint {
                step: state.step,
                path,
            },
            on_event,
        );
    }
    emit(
        TrainEvent::Stopped {
            step: state.step,
            reason: stop_reason,
        },
        on_event,
    );
    Ok(TrainSummary {
        steps_done: state.step,
        last_cer,
        best_cer: state.best_cer,
        run_dir,
    })
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
