//! `medocr run` and `medocr score`.

use super::export::JsonTarget;
use super::out::console;
use anyhow::{anyhow, bail, Context};
use clap::{Args, Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use medocr::dataset::{load_manifest, DocType, Document};
use medocr::engine::builtin::BuiltinEngine;
use medocr::engine::extract::ExtractSpecs;
use medocr::engine::replay::Replay;
use medocr::engine::tesseract::{Tesseract, TesseractConfig};
use medocr::engine::Engine;
use medocr::pipeline::journal::{JournalEntry, JOURNAL_VERSION};
use medocr::pipeline::{
    self, Environment, Journal, JournalHeader, Privacy, RunControl, RunOptions,
};
use medocr::report::{self, DocumentResult, ExtractConfig, RunConfig, RunSummary, SCHEMA_VERSION};
use medocr::score::FormatChoice;
use medocr::score::{Knowledge, NormOptions, ScoreOptions};
use medocr::sla::{ProfileSet, Status};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exit code of a run stopped by Ctrl-C / SIGTERM (128 + SIGINT, the shell convention).
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EngineKind {
    /// The built-in Burn OCR model (models/builtin, or --model).
    Builtin,
    /// Tesseract 5 (`kor+eng`), the baseline.
    Tesseract,
    /// Predictions from a JSONL file (needs --predictions).
    Replay,
    /// An OpenAI-compatible server (vLLM, SGLang, TGI, `medocr serve`; needs --base-url).
    Openai,
    /// A Hugging Face TrOCR-family checkpoint (VisionEncoderDecoder) run in Burn (needs --model).
    Hf,
}

/// Options shared by `run` and `score`.
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// Dataset folder (holding manifest.jsonl) or manifest path [default: the bundled
    /// dataset built into the binary, two documents per type].
    #[arg(long, env = "MEDOCR_DATASET")]
    pub dataset: Option<PathBuf>,
    /// Folder of SLA profiles (<doc_type>.toml) [default: the bundled profiles built into
    /// the binary, the repository's profiles/].
    #[arg(long, env = "MEDOCR_PROFILES")]
    pub profiles: Option<PathBuf>,
    /// Folder that receives the run folder <out>/<run-id>/.
    #[arg(long, env = "MEDOCR_OUT", default_value = "reports")]
    pub out: PathBuf,
    /// Name of the run folder (default: <UTC time>-<engine>).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Only these document types (comma-separated: prescription, lab_result, diagnosis,
    /// discharge_summary, medical_record).
    #[arg(long, value_delimiter = ',')]
    pub types: Vec<DocType>,
    /// Only the first N documents (after --types).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Fold full-width ASCII (ＡＢＣ１２３) to ASCII before scoring.
    #[arg(long)]
    pub fold_width: bool,
    /// How engine answers are read before scoring: text, markdown, html or auto (tables
    /// become lines of cells; headings, emphasis and tags are dropped; docs/metrics.md), for
    /// every engine, or ENGINE=FORMAT for one (comma-separated). Default: auto for openai and
    /// hf (VLMs), text for the others.
    #[arg(long, value_delimiter = ',', value_name = "FORMAT")]
    pub output_format: Vec<String>,
    /// Drug formulary CSV (edi_code,product,ingredient,strength,unit,form), e.g. the
    /// national drug master file; default: the bundled sample.
    #[arg(long, env = "MEDOCR_FORMULARY")]
    pub formulary: Option<PathBuf>,
    /// Diagnosis code list CSV (code,name), e.g. the full KCD; default: the bundled sample.
    #[arg(long, env = "MEDOCR_CODES")]
    pub codes: Option<PathBuf>,
    /// Quote patient names and identifiers in error examples instead of masking them.
    #[arg(long)]
    pub show_phi: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Finish an interrupted run: the run folder holding its journal.jsonl. Finished
    /// documents are not run again; every setting comes from the journal (other flags but
    /// --quiet are ignored).
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    /// Evaluate only shard I of N (1-based): the selected documents (after --types and
    /// --limit) at positions p with p % N == I - 1. Run every shard, possibly on several
    /// machines, then combine the run folders with `medocr merge` (docs/scale-out.md).
    /// `auto` takes I and N from a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with
    /// --shards) or a Slurm job array (SLURM_ARRAY_TASK_ID, _MIN, _COUNT, _STEP).
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<pipeline::ShardSpec>,
    /// With --shard auto: the number of shards, the Indexed Job's spec.completions
    /// (Kubernetes sets no variable with it); under Slurm it must equal the array's size.
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    /// transcribe: read each document's text. extract: also ask the engine for the
    /// document's fields as JSON (a second request per document) and score them with the
    /// clinical matchers beside the transcription's (docs/metrics.md, "Structured
    /// extraction").
    #[arg(long, value_enum, default_value = "transcribe")]
    pub task: Task,
    /// Folder of extraction prompts and schemas, <doc_type>.toml, replacing the bundled
    /// ones (prompts/extract/) for the types it has.
    #[arg(long, value_name = "DIR")]
    pub extract_prompts: Option<PathBuf>,
    /// Also write every SLA check as a JUnit test case to FILE (a failed limit is a failed
    /// test with the measured value and the limit), for CI systems' test reports.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write the run's summary.json to FILE, or to standard output with `-` (the
    /// console tables then go to standard error); an array of summaries for several
    /// engines. Schema: docs/summary.schema.json.
    #[arg(long, value_name = "FILE|-")]
    pub export_json: Option<JsonTarget>,
}

/// What a run asks the engine for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Task {
    Transcribe,
    Extract,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// OCR engine.
    #[arg(long, value_enum, default_value = "builtin")]
    pub engine: EngineKind,
    #[command(flatten)]
    pub engine_args: EngineArgs,
    /// Render DPIs (comma-separated). Any positive value within the pixel budget.
    #[arg(long, value_delimiter = ',', default_value = "300")]
    pub dpi: Vec<f32>,
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// OCR engines (comma-separated); every page is rendered once per DPI and read by each.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "builtin")]
    pub engines: Vec<EngineKind>,
    #[command(flatten)]
    pub engine_args: EngineArgs,
    /// Render DPIs (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "72,150,300,600")]
    pub dpi: Vec<f32>,
}

/// How engines are set up (shared by `run` and `dpi-sweep`).
#[derive(Args, Debug)]
pub struct EngineArgs {
    /// Model folder for the built-in engine (config.json, model.safetensors, tokenizer.json),
    /// or the Hugging Face checkpoint folder of the hf engine. The built-in engine's default:
    /// $MEDOCR_MODEL, else models/builtin here, in the data folder
    /// ($XDG_DATA_HOME/medocr) or beside the binary (`medocr doctor` shows where).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Device for the built-in model: cpu, or cuda[:N] (needs a build with --features cuda).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Line segments per batched forward pass of the built-in and hf models.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Widest piece the built-in model reads, in pixels at its 32 px line height; wider
    /// segments are split at column gaps (default: the model's tuned width, 160).
    #[arg(long)]
    pub piece_width: Option<usize>,
    /// Drop pieces the built-in model reads with a lower mean token log-probability (≤ 0) as
    /// non-text; default: the threshold calibrated for the checkpoint (its config.json);
    /// -inf keeps everything.
    #[arg(long, allow_negative_numbers = true)]
    pub min_confidence: Option<f32>,
    /// Predictions file for the replay engine.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Largest page in pixels (width × height) rendering may produce; checked before
    /// rasterising or decoding, so no PDF, image or DPI can exhaust memory.
    #[arg(long, default_value_t = 120_000_000)]
    pub max_pixels: u64,
    /// Per-page time limit in seconds (fractions allowed): a page that takes longer is
    /// stopped (Tesseract is killed; the built-in model checks between forward passes) and
    /// its document recorded as a timeout error.
    #[arg(long = "timeout-per-page", alias = "timeout", default_value_t = 120.0)]
    pub timeout_per_page: f64,
    /// The Tesseract executable (a name on PATH or a path).
    #[arg(long, default_value = "tesseract")]
    pub tesseract_bin: String,
    /// Tesseract language packs.
    #[arg(long, default_value = "kor+eng")]
    pub tesseract_langs: String,
    /// Tesseract page segmentation mode (4 reads these forms best; see docs/engines.md).
    #[arg(long, default_value_t = 4)]
    pub tesseract_psm: u32,
    /// Server of the openai engine: http://host:port or https://host[/path] (vLLM, SGLang,
    /// TGI, `medocr serve`, a hosted endpoint). Proxies come from HTTPS_PROXY / HTTP_PROXY /
    /// ALL_PROXY, minus NO_PROXY.
    #[arg(long)]
    pub base_url: Option<String>,
    /// PEM file of the CA that signed the openai server's certificate (a private CA),
    /// trusted instead of the bundled Mozilla roots.
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// Extra header for every openai request, `Name: value` (repeatable), e.g. a gateway's
    /// routing header; values never reach a report. `Name: env:VAR` reads the value from
    /// the environment variable VAR, keeping a secret out of the command line (which the
    /// run's journal records for --resume).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Model name sent to the openai server (default: the first entry of its /v1/models).
    #[arg(long)]
    pub model_name: Option<String>,
    /// Instruction sent with each page to the openai server (default: transcribe exactly,
    /// line by line, in Korean and English).
    #[arg(long)]
    pub prompt: Option<String>,
    /// Environment variable holding the openai server's API key (sent as a bearer token,
    /// never written anywhere).
    #[arg(long, default_value = medocr::engine::openai::DEFAULT_API_KEY_ENV)]
    pub api_key_env: String,
    /// Time limit for one page's request to the openai server, in seconds.
    #[arg(long, default_value_t = 300.0)]
    pub request_timeout: f64,
    /// How --task extract asks the openai server for JSON: json-schema sends the type's
    /// schema as response_format (vLLM/SGLang guided decoding; a server that refuses it is
    /// asked again with the prompt alone), none sends the prompt alone.
    #[arg(long, value_enum, default_value = "json-schema")]
    pub response_format: ResponseFormatArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ResponseFormatArg {
    JsonSchema,
    None,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// JSONL of {"id": ..., "text": ...} predictions (e.g. a run's predictions.jsonl).
    #[arg(long)]
    pub predictions: PathBuf,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.common.resume {
        return resume(dir, args.common.quiet);
    }
    run_with(args, None)
}

fn run_with(args: RunArgs, resume: Option<Resume>) -> anyhow::Result<ExitCode> {
    validate_dpis(&args.dpi)?;
    let engine = build_engine(args.engine, &args.engine_args)?;
    let options = RunOptions {
        dpis: args.dpi.clone(),
        max_pixels: args.engine_args.max_pixels,
        score: score_options(&args.common),
        knowledge: knowledge(&args.common)?,
        output_format: output_format(&args.common)?,
        extract: extract_specs(&args.common)?,
    };
    let Executed::Done(summaries) = execute(&args.common, vec![engine], &options, resume)? else {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    };
    Ok(exit_code(summaries.iter().any(RunSummary::any_failed)))
}

/// `dpi-sweep`: every engine at every DPI on identical renders; the exit code says
/// whether every document type found a DPI that meets its SLA.
pub fn dpi_sweep(args: SweepArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.common.resume {
        return resume(dir, args.common.quiet);
    }
    dpi_sweep_with(args, None)
}

fn dpi_sweep_with(args: SweepArgs, resume: Option<Resume>) -> anyhow::Result<ExitCode> {
    validate_dpis(&args.dpi)?;
    if args.dpi.len() < 2 {
        bail!("--dpi needs at least two DPIs for a sweep (default 72,150,300,600)");
    }
    let engines = args
        .engines
        .iter()
        .map(|&k| build_engine(k, &args.engine_args))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let options = RunOptions {
        dpis: args.dpi.clone(),
        max_pixels: args.engine_args.max_pixels,
        score: score_options(&args.common),
        knowledge: knowledge(&args.common)?,
        output_format: output_format(&args.common)?,
        extract: extract_specs(&args.common)?,
    };
    let Executed::Done(summaries) = execute(&args.common, engines, &options, resume)? else {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    };
    let unmet = summaries.iter().any(|s| {
        s.dpi_study.iter().any(|t| t.recommended_dpi.is_none())
            && s.verdicts
                .iter()
                .any(|v| v.verdict.status != Status::NotMeasured)
    });
    Ok(exit_code(unmet))
}

fn exit_code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn validate_dpis(dpis: &[f32]) -> anyhow::Result<()> {
    for (i, &d) in dpis.iter().enumerate() {
        if !(d.is_finite() && d > 0.0 && d <= 2400.0) {
            bail!("--dpi {d}: a DPI must be a positive number up to 2400 (72, 150, 300, 600 are typical)");
        }
        if dpis[..i].contains(&d) {
            bail!("--dpi {d} is given twice; list each DPI once");
        }
    }
    Ok(())
}

pub(crate) fn build_engine(kind: EngineKind, args: &EngineArgs) -> anyhow::Result<Box<dyn Engine>> {
    if !(args.timeout_per_page > 0.0 && args.timeout_per_page <= 1e9) {
        bail!(
            "--timeout-per-page {}: must be a positive number of seconds (at most 1e9)",
            args.timeout_per_page
        );
    }
    if args.max_pixels == 0 {
        bail!("--max-pixels must be positive (default 120000000: A4 at 1200 DPI is 139 MP, at 300 DPI 8.7 MP)");
    }
    Ok(match kind {
        EngineKind::Builtin => {
            let dir = BuiltinEngine::locate(args.model.as_deref())?;
            let device = args.device.parse().context("--device")?;
            if let Some(px) = args.piece_width {
                // Narrower than a character (a quarter of the 32 px line height) reads
                // nothing whole: 45 % CER at 1 px.
                if !(MIN_PIECE_WIDTH..=MAX_PIECE_WIDTH).contains(&px) {
                    bail!(
                        "--piece-width {px}: must be from {MIN_PIECE_WIDTH} to {MAX_PIECE_WIDTH} pixels at the model's 32 px line height (default 160)"
                    );
                }
            }
            check_batch(args.batch)?;
            let mut engine = BuiltinEngine::load(&dir, device)
                .with_context(|| format!("loading the built-in model from {}", dir.display()))?;
            engine.set_batch_size(args.batch);
            engine.set_timeout_per_page(Some(Duration::from_secs_f64(args.timeout_per_page)));
            if let Some(px) = args.piece_width {
                engine.set_piece_width(px);
            }
            if let Some(c) = args.min_confidence {
                if c.is_nan() || c > 0.0 {
                    bail!("--min-confidence is a mean log-probability: a number ≤ 0 (got {c})");
                }
                engine.set_min_confidence(c);
            }
            Box::new(engine)
        }
        EngineKind::Hf => {
            let Some(dir) = &args.model else {
                bail!("--engine hf needs --model <folder> (a Hugging Face VisionEncoderDecoder checkpoint: config.json, model.safetensors, tokenizer.json, preprocessor_config.json)");
            };
            let device = args.device.parse().context("--device")?;
            check_batch(args.batch)?;
            let mut engine =
                medocr::engine::hf::HfEngine::load(dir, device).with_context(|| {
                    format!("loading the Hugging Face checkpoint from {}", dir.display())
                })?;
            engine.set_batch_size(args.batch);
            engine.set_timeout_per_page(Some(Duration::from_secs_f64(args.timeout_per_page)));
            Box::new(engine)
        }
        EngineKind::Tesseract => Box::new(
            Tesseract::new(TesseractConfig {
                languages: args.tesseract_langs.clone(),
                psm: args.tesseract_psm,
                timeout: Duration::from_secs_f64(args.timeout_per_page),
                binary: args.tesseract_bin.clone(),
            })
            .context("starting the tesseract engine")?,
        ),
        EngineKind::Replay => {
            let Some(p) = &args.predictions else {
                bail!("--engine replay needs --predictions <file.jsonl>");
            };
            Box::new(Replay::open(p)?)
        }
        EngineKind::Openai => {
            let Some(url) = &args.base_url else {
                bail!("--engine openai needs --base-url http://host:port (e.g. a vLLM server, or `medocr serve`)");
            };
            if !(args.request_timeout.is_finite() && args.request_timeout > 0.0) {
                bail!(
                    "--request-timeout {}: must be a positive number of seconds",
                    args.request_timeout
                );
            }
            let mut config = medocr::engine::openai::OpenAiConfig::new(url.clone());
            config.ca_cert = args.ca_cert.clone();
            for h in &args.headers {
                let Some((name, value)) = h.split_once(':') else {
                    bail!("--header: expected 'Name: value' (a header without ':')");
                };
                let name = name.trim();
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
                {
                    bail!("--header: '{name}' is not a header name (letters, digits, '-' and '_')");
                }
                let value = value.trim();
                let value = match value.strip_prefix("env:") {
                    Some(var) => std::env::var(var).with_context(|| {
                        format!("--header {name}: env:{var}: the variable is not set")
                    })?,
                    None => value.to_string(),
                };
                config.headers.push((name.to_string(), value));
            }
            config.response_format = match args.response_format {
                ResponseFormatArg::JsonSchema => medocr::engine::openai::ResponseFormat::JsonSchema,
                ResponseFormatArg::None => medocr::engine::openai::ResponseFormat::None,
            };
            config.model = args.model_name.clone();
            config.api_key_env = args.api_key_env.clone();
            config.request_timeout = Duration::from_secs_f64(args.request_timeout);
            if let Some(p) = &args.prompt {
                config.prompt = p.clone();
            }
            Box::new(
                medocr::engine::openai::OpenAiEngine::new(config)
                    .context("setting up the openai engine")?,
            )
        }
    })
}

pub fn score(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.common.resume {
        return resume(dir, args.common.quiet);
    }
    score_with(args, None)
}

fn score_with(args: ScoreArgs, resume: Option<Resume>) -> anyhow::Result<ExitCode> {
    let engine: Box<dyn Engine> = Box::new(Replay::open(&args.predictions)?);
    let options = RunOptions {
        score: score_options(&args.common),
        knowledge: knowledge(&args.common)?,
        output_format: output_format(&args.common)?,
        extract: extract_specs(&args.common)?,
        ..RunOptions::default()
    };
    let Executed::Done(summaries) = execute(&args.common, vec![engine], &options, resume)? else {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    };
    Ok(exit_code(summaries.iter().any(RunSummary::any_failed)))
}

/// An interrupted run being finished: where it is and what its journal says.
struct Resume {
    /// The run folder given to --resume (one engine's folder of a sweep).
    dir: PathBuf,
    header: JournalHeader,
}

/// `--resume <dir>`: repeats the interrupted command from its journal, in the folder it
/// was started from, skipping every document the journal already holds. The results go to
/// `dir` wherever it is now (a copied or moved run folder), never to the `--out` the
/// command line names.
fn resume(dir: &Path, quiet: bool) -> anyhow::Result<ExitCode> {
    // Resolved before the working directory changes: a relative DIR is the user's.
    let dir = dir
        .canonicalize()
        .with_context(|| format!("--resume {}: no such run folder", dir.display()))?;
    let header = Journal::read_header(&dir).context("--resume")?;
    if !header.cwd.is_dir() {
        bail!(
            "cannot resume {}: the run was started in {}, which no longer exists, and relative paths in its command line (--dataset, --profiles, --predictions, …) refer to it; recreate that folder (or the paths it held), or start a new run",
            dir.display(),
            header.cwd.display()
        );
    }
    std::env::set_current_dir(&header.cwd).with_context(|| {
        format!(
            "cannot resume {}: the run was started in {}, which cannot be entered now; relative paths in its command line refer to it",
            dir.display(),
            header.cwd.display()
        )
    })?;
    let cli = super::Cli::try_parse_from(&header.argv).map_err(|e| {
        anyhow!(
            "{}: the interrupted command line no longer parses with this medocr ({e}); start a new run",
            Journal::path_in(&dir).display()
        )
    })?;
    let state = Some(Resume { dir, header });
    match cli.command {
        super::Command::Run(mut a) => {
            a.common.quiet |= quiet;
            run_with(a, state)
        }
        super::Command::Score(mut a) => {
            a.common.quiet |= quiet;
            score_with(a, state)
        }
        super::Command::DpiSweep(mut a) => {
            a.common.quiet |= quiet;
            dpi_sweep_with(a, state)
        }
        other => bail!("the journal's command ({other:?}) cannot be resumed"),
    }
}

/// The run folder of each engine: `<--out>/<run id>` for a new run. On resume, the folder
/// given to --resume for the engine whose journal it holds, and for the other engines of a
/// `dpi-sweep` the folders named by their run ids next to it; the `--out` recorded in the
/// command line is not used, so a copied folder never writes into the original.
fn run_dirs(
    common: &CommonArgs,
    run_ids: &[String],
    resume: Option<&Resume>,
) -> anyhow::Result<Vec<PathBuf>> {
    let Some(r) = resume else {
        return Ok(run_ids.iter().map(|id| common.out.join(id)).collect());
    };
    if !run_ids.contains(&r.header.run_id) {
        bail!(
            "cannot resume {}: its journal is for run {}, which its command line no longer makes (it makes {}); start a new run",
            r.dir.display(),
            r.header.run_id,
            run_ids.join(", ")
        );
    }
    let name = r.dir.file_name().and_then(|n| n.to_str());
    if run_ids.len() > 1 && name != Some(r.header.run_id.as_str()) {
        // The siblings are found by name: next to a renamed copy they could be the
        // original run's folders.
        bail!(
            "cannot resume {}: it is one engine's folder of a {}-engine run, whose folders are found by their run ids ({}) next to each other; name it {} again (move or copy all of them together)",
            r.dir.display(),
            run_ids.len(),
            run_ids.join(", "),
            r.header.run_id
        );
    }
    let parent = r.dir.parent().unwrap_or(Path::new("/"));
    Ok(run_ids
        .iter()
        .map(|id| {
            if *id == r.header.run_id {
                r.dir.clone()
            } else {
                parent.join(id)
            }
        })
        .collect())
}

/// How [`execute`] ended.
enum Executed {
    Done(Vec<RunSummary>),
    /// Stopped by a signal; the journals hold what finished.
    Interrupted,
}

/// The journal of one engine's run folder, with what an earlier attempt finished.
struct EngineJournal {
    journal: Journal,
    done: HashMap<(String, u32), DocumentResult>,
    /// Wall time of the earlier attempts, in seconds.
    prior_wall_s: f64,
}

/// Opens (resume) or starts the journal of one engine's run folder.
fn open_journal(
    run_dir: &Path,
    header: JournalHeader,
    resume: Option<&Resume>,
) -> anyhow::Result<EngineJournal> {
    let path = Journal::path_in(run_dir);
    if resume.is_none() {
        if path.is_file() && !run_dir.join("summary.json").is_file() {
            bail!(
                "{} holds an unfinished run: finish it with `medocr run --resume {}`, or pick another --run-id",
                run_dir.display(),
                run_dir.display()
            );
        }
        return Ok(EngineJournal {
            journal: Journal::create(run_dir, &header)?,
            done: HashMap::new(),
            prior_wall_s: 0.0,
        });
    }
    let (journal, old, entries) = Journal::resume(run_dir)?;
    // A sibling folder of a sweep must hold the same run, not another one of that name.
    if (&old.run_id, &old.base_id, &old.started)
        != (&header.run_id, &header.base_id, &header.started)
    {
        bail!(
            "cannot resume {}: it holds run {} started {}, not run {} started {}; resume each run from its own folder",
            run_dir.display(),
            old.run_id,
            old.started,
            header.run_id,
            header.started
        );
    }
    let changed = |what: &str, was: String, now: String| {
        anyhow!(
            "cannot resume {}: {what} changed since the run started (was {was}, now {now}); results would mix two setups. Start a new run instead",
            run_dir.display()
        )
    };
    if old.manifest_sha256 != header.manifest_sha256 {
        return Err(changed(
            "the dataset manifest",
            format!("sha256 {}", old.manifest_sha256),
            format!("sha256 {}", header.manifest_sha256),
        ));
    }
    let engine_id = |e: &medocr::engine::EngineInfo| {
        format!(
            "{} {} {}",
            e.name,
            e.version,
            e.checkpoint_sha256.as_deref().unwrap_or("")
        )
        .trim()
        .to_string()
    };
    if engine_id(&old.engine) != engine_id(&header.engine) {
        return Err(changed(
            "the engine",
            engine_id(&old.engine),
            engine_id(&header.engine),
        ));
    }
    // `--shard auto` resolves again on resume: only the same scheduler slot may finish it.
    if let Some(was) = old.shard.filter(|&s| Some(s) != header.shard) {
        let now = header
            .shard
            .map_or("no shard".to_string(), |s| format!("shard {s}"));
        bail!(
            "cannot resume {}: it runs shard {was}, but its command line now gives {now} (--shard auto reads JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_*); resume it with the scheduler variables it started with, as a restarted pod or requeued array task has them",
            run_dir.display()
        );
    }
    let prior_wall_s = entries.iter().map(|e| e.wall_s).fold(0.0, f64::max);
    let done = entries
        .into_iter()
        .map(|JournalEntry { result, .. }| ((result.id.clone(), result.dpi.to_bits()), result))
        .collect();
    Ok(EngineJournal {
        journal,
        done,
        prior_wall_s,
    })
}

/// A flag set by the first Ctrl-C or SIGTERM; a second one exits at once.
pub(crate) fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag the earlier signal set.
        signal_hook::flag::register_conditional_shutdown(
            sig,
            i32::from(EXIT_INTERRUPTED),
            Arc::clone(&stop),
        )
        .context("installing the Ctrl-C handler")?;
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing the Ctrl-C handler")?;
    }
    Ok(stop)
}

/// Most line segments per forward pass: beyond this a batch only costs memory (the
/// encoder's activations grow with it) without running faster on any device we measured.
pub(crate) const MAX_BATCH: usize = 1024;

/// `--batch` in its valid range.
pub(crate) fn check_batch(batch: usize) -> anyhow::Result<()> {
    if !(1..=MAX_BATCH).contains(&batch) {
        bail!("--batch {batch}: must be from 1 to {MAX_BATCH} line segments per forward pass (default 32)");
    }
    Ok(())
}

/// The `--piece-width` range: at least two Hangul syllables at the 32 px line height, at
/// most the widest line the model was trained on.
const MIN_PIECE_WIDTH: usize = 64;
const MAX_PIECE_WIDTH: usize = 800;

/// `--task` and `--extract-prompts` as settings: the prompts and schemas, or `None` for a
/// transcription-only run.
fn extract_specs(common: &CommonArgs) -> anyhow::Result<Option<ExtractSpecs>> {
    match common.task {
        Task::Transcribe => {
            if common.extract_prompts.is_some() {
                bail!("--extract-prompts is used by --task extract only");
            }
            Ok(None)
        }
        Task::Extract => Ok(Some(ExtractSpecs::load(common.extract_prompts.as_deref())?)),
    }
}

/// `--output-format` as settings.
pub(crate) fn output_format(common: &CommonArgs) -> anyhow::Result<FormatChoice> {
    FormatChoice::parse(&common.output_format).map_err(|e| anyhow!("--output-format: {e}"))
}

/// The shared body of `run`, `score` and `dpi-sweep`: load, run every engine with a
/// progress bar and a journal per run folder, then one run folder, console table and
/// verdict per engine. Stops cleanly after the current document on Ctrl-C.
fn execute(
    common: &CommonArgs,
    mut engines: Vec<Box<dyn Engine>>,
    options: &RunOptions,
    resume: Option<Resume>,
) -> anyhow::Result<Executed> {
    // Resolved first, so a job started with the wrong variables fails before any work; a
    // resume re-reads them, in the restarted pod or requeued task that kept them.
    let resolved = pipeline::shard::resolve(common.shard, common.shards, |k| {
        std::env::var_os(k).map(|v| v.to_string_lossy().into_owned())
    })?;
    if let Some(pipeline::ResolvedShard {
        shard,
        from_env: Some(from),
    }) = &resolved
    {
        eprintln!("--shard auto: shard {shard} ({from})");
    }
    let profile_set = ProfileSet::load(common.profiles.as_deref())?;
    let profiles = &profile_set.profiles;
    if profiles.is_empty() {
        bail!(
            "{}: no SLA profile (<doc_type>.toml) found; point --profiles at a folder of profiles such as the repository's profiles/, or leave it out for the bundled ones",
            profile_set.origin
        );
    }
    let (dataset_dir, dataset_label) = dataset_source(common.dataset.as_deref())?;
    let dataset = load_manifest(&dataset_dir)?;
    for issue in &dataset.issues {
        eprintln!(
            "{}: {issue}",
            if issue.rejected { "skipped" } else { "warning" }
        );
    }
    let mut docs: Vec<&Document> = dataset
        .documents
        .iter()
        .filter(|d| common.types.is_empty() || common.types.contains(&d.doc_type))
        .collect();
    if let Some(n) = common.limit {
        docs.truncate(n);
    }
    if docs.is_empty() {
        bail!(
            "no document of the requested types in {}",
            dataset.manifest.display()
        );
    }
    let shard = match &resolved {
        Some(s) => {
            let (mine, info) = s.shard.select(&docs).context("--shard")?;
            docs = mine;
            Some(info)
        }
        None => None,
    };
    let mut missing: Vec<DocType> = docs
        .iter()
        .map(|d| d.doc_type)
        .filter(|t| !profiles.contains_key(t))
        .collect();
    missing.sort();
    missing.dedup();
    for t in missing {
        eprintln!(
            "warning: no SLA profile for {t} in {}: its documents are scored but not checked",
            profile_set.origin
        );
    }
    if options.extract.is_some() {
        if let Some(e) = engines.iter().find(|e| !e.extracts()) {
            bail!(
                "--task extract: the {} engine only transcribes; use an engine that answers in JSON (--engine openai, or replay of predictions with \"fields\")",
                e.info().name
            );
        }
    }
    if engines.iter().any(|e| e.needs_pages()) {
        pipeline::check_renderer(&docs)?;
    }
    let infos: Vec<_> = engines.iter().map(|e| e.info()).collect();
    let formats: Vec<_> = engines
        .iter()
        .map(|e| pipeline::output_format(options, e.as_ref()))
        .collect();
    let now = chrono::Utc::now().to_rfc3339();
    let (started, base_id) = match &resume {
        Some(r) => (r.header.started.clone(), r.header.base_id.clone()),
        None => (
            now,
            common
                .run_id
                .clone()
                .unwrap_or_else(|| chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()),
        ),
    };
    let n_engines = engines.len();
    let run_ids: Vec<String> = infos
        .iter()
        .map(|info| match (&common.run_id, n_engines) {
            (Some(id), 1) => id.clone(),
            _ => format!("{base_id}-{}", info.name),
        })
        .collect();
    let planned = docs.len() * options.dpis.len();
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let run_dirs = run_dirs(common, &run_ids, resume.as_ref())?;
    let mut journals = Vec::with_capacity(n_engines);
    for ((info, run_id), run_dir) in infos.iter().zip(&run_ids).zip(&run_dirs) {
        let header = match &resume {
            Some(r) => JournalHeader {
                engine: info.clone(),
                manifest_sha256: dataset.manifest_sha256.clone(),
                run_id: run_id.clone(),
                shard: resolved.as_ref().map(|s| s.shard),
                ..r.header.clone()
            },
            None => JournalHeader {
                journal_version: JOURNAL_VERSION,
                argv: argv.clone(),
                cwd: cwd.clone(),
                base_id: base_id.clone(),
                run_id: run_id.clone(),
                started: started.clone(),
                engine: info.clone(),
                manifest_sha256: dataset.manifest_sha256.clone(),
                dpis: options.dpis.clone(),
                planned,
                shard: resolved.as_ref().map(|s| s.shard),
            },
        };
        journals.push(open_journal(run_dir, header, resume.as_ref())?);
    }
    if let Some(r) = &resume {
        let done: usize = journals.iter().map(|j| j.done.len()).sum();
        eprintln!(
            "resuming {}: {done} of {} results already in the journal",
            r.dir.display(),
            planned * n_engines
        );
    }

    // Split so the done maps can be read while the journals are appended to.
    let mut files = Vec::with_capacity(n_engines);
    let mut done_maps = Vec::with_capacity(n_engines);
    let mut prior_wall = Vec::with_capacity(n_engines);
    for j in journals {
        files.push(j.journal);
        done_maps.push(j.done);
        prior_wall.push(j.prior_wall_s);
    }
    let already: usize = done_maps.iter().map(HashMap::len).sum();

    let total = (planned * n_engines) as u64;
    let bar = if common.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    bar.set_position(already as u64);
    let stop = stop_flag()?;
    let t0 = Instant::now();
    let mut refs: Vec<&mut dyn Engine> = engines
        .iter_mut()
        .map(|e| -> &mut dyn Engine { e.as_mut() })
        .collect();
    let lookup =
        |i: usize, id: &str, dpi: f32| done_maps[i].get(&(id.to_string(), dpi.to_bits())).cloned();
    let control = RunControl {
        stop: Some(&stop),
        done: Some(&lookup),
    };
    let mut journal_error: Option<anyhow::Error> = None;
    let mut finished = already;
    let outcome = pipeline::run_engines_controlled(
        &dataset,
        &docs,
        &mut refs,
        options,
        control,
        &mut |i, r| {
            bar.set_message(format!("{} {} @ {} DPI", infos[i].name, r.id, r.dpi));
            if let Some(e) = &r.error {
                bar.suspend(|| {
                    eprintln!("error: {} on {} @ {} DPI: {e}", infos[i].name, r.id, r.dpi)
                });
            }
            let wall_s = prior_wall[i] + t0.elapsed().as_secs_f64();
            if let Err(e) = files[i].append(r, wall_s) {
                // Without the journal nothing would survive a crash: stop now.
                journal_error.get_or_insert_with(|| anyhow!(e).context("writing the run journal"));
                stop.store(true, Ordering::SeqCst);
            } else {
                finished += 1;
            }
            bar.inc(1);
        },
    );
    bar.finish_and_clear();
    drop(refs);
    // What the engines say of themselves now: a setting can change during the run (a
    // server that refused `response_format` is asked without it from then on).
    let infos: Vec<_> = engines.iter().map(|e| e.info()).collect();
    if let Some(e) = journal_error {
        return Err(e);
    }
    if outcome.stopped {
        let dir = &run_dirs[0];
        eprintln!(
            "interrupted: {finished} of {} results are saved in {}; finish the run with:\n  medocr run --resume {}",
            planned * n_engines,
            if n_engines == 1 {
                Journal::path_in(dir).display().to_string()
            } else {
                format!("the journal.jsonl of each of {}", run_ids.join(", "))
            },
            dir.display()
        );
        return Ok(Executed::Interrupted);
    }
    // With several engines sharing the clock, each engine's wall time is its own busy time.
    let wall = t0.elapsed().as_secs_f64();

    let to_stderr = JsonTarget::takes_stdout(common.export_json.as_ref());
    let privacy = if common.show_phi {
        Privacy::ShowPhi
    } else {
        Privacy::Redacted
    };
    let mut summaries = Vec::new();
    for (((((info, results), run_id), run_dir), prior), output_format) in infos
        .into_iter()
        .zip(outcome.results)
        .zip(run_ids)
        .zip(run_dirs)
        .zip(prior_wall)
        .zip(formats)
    {
        let wall_s = if n_engines == 1 {
            prior + wall
        } else {
            results.iter().filter_map(|r| r.timing.e2e_ms).sum::<f64>() / 1e3
        };
        let (groups, verdicts, totals) = pipeline::summarize(&results, profiles, wall_s, privacy);
        let dpi_study = pipeline::dpi_study(&groups, &verdicts);
        let summary = RunSummary {
            schema_version: SCHEMA_VERSION,
            run_id: run_id.clone(),
            started: started.clone(),
            config: RunConfig {
                dataset: dataset_label.clone(),
                manifest_sha256: dataset.manifest_sha256.clone(),
                dpis: options.dpis.clone(),
                max_pixels: options.max_pixels,
                engine: info,
                profiles: profile_set.origin.clone(),
                profiles_sha256: profile_set.sha256.clone(),
                fold_width: options.score.norm.fold_fullwidth,
                formulary: source_name(common.formulary.as_deref()),
                codes: source_name(common.codes.as_deref()),
                phi_shown: common.show_phi,
                output_format,
                extract: options.extract.as_ref().map(|x| ExtractConfig {
                    prompts: x.origin.clone(),
                    sha256: x.sha256.clone(),
                }),
                shard: shard.clone(),
            },
            environment: Environment::detect(None),
            groups,
            verdicts,
            dpi_study,
            totals,
            manifest_issues: dataset.issues.clone(),
            errors: pipeline::document_errors(&results),
            merged_from: Vec::new(),
        };
        report::write_run(&run_dir, &summary, &results)?;
        let mut text = String::new();
        if n_engines > 1 {
            text += &format!("\n== {}\n", summary.config.engine.name);
        }
        text += &report::console::table(&summary);
        if !summary.dpi_study.is_empty() {
            text += &format!("\n{}", report::console::dpi_study(&summary));
        }
        text += &format!("reports: {}\n", run_dir.display());
        console(&text, to_stderr)?;
        summaries.push(summary);
    }
    export(common, &summaries)?;
    Ok(Executed::Done(summaries))
}

/// `--junit` and `--export-json`, after the run folders are written.
fn export(common: &CommonArgs, summaries: &[RunSummary]) -> anyhow::Result<()> {
    if let Some(path) = &common.junit {
        let xml = report::junit::sla(summaries)?;
        super::export::write_file("--junit", path, xml.as_bytes())?;
    }
    match (&common.export_json, summaries) {
        (None, _) => Ok(()),
        (Some(t), [one]) => t.write(one),
        (Some(t), all) => t.write(all),
    }
}

fn knowledge(common: &CommonArgs) -> anyhow::Result<Knowledge> {
    Ok(Knowledge::load(
        common.formulary.as_deref(),
        common.codes.as_deref(),
    )?)
}

fn source_name(path: Option<&Path>) -> String {
    path.map_or_else(|| "bundled".to_string(), |p| p.display().to_string())
}

fn score_options(common: &CommonArgs) -> ScoreOptions {
    ScoreOptions {
        norm: NormOptions {
            fold_fullwidth: common.fold_width,
        },
    }
}

/// `--dataset` as a folder to load and the name a report gives it: the path as given, or
/// the bundled dataset (unpacked into the cache folder) when none is given.
pub(crate) fn dataset_source(dataset: Option<&Path>) -> anyhow::Result<(PathBuf, String)> {
    Ok(match dataset {
        Some(p) => (p.to_path_buf(), p.display().to_string()),
        None => (
            medocr::dataset::bundled::unpack()?,
            medocr::dataset::bundled::BUNDLED.to_string(),
        ),
    })
}
