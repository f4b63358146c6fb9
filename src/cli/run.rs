//! `medocr run`, `medocr score` and `medocr dpi-sweep`: flags into a [`RunPlan`], its
//! results into run folders, console tables and exports.

use super::export::JsonTarget;
use super::out::console;
use super::progress::{stop_flag, BarProgress, EXIT_INTERRUPTED};
use anyhow::{anyhow, bail, Context};
use clap::{Args, Parser};
use medocr::dataset::DocType;
use medocr::engine::extract::ExtractSpecs;
use medocr::engine::openai::ResponseFormat;
use medocr::engine::replay::Replay;
use medocr::engine::{Engine, EngineKind, EngineSpec};
use medocr::pipeline::plan::{EngineRun, Executed};
use medocr::pipeline::{self, Journal, Privacy, ResumeFrom, RunOptions, RunPlan, RunSettings};
use medocr::render::Dpi;
use medocr::report::{self, RunSummary};
use medocr::score::{FormatChoice, Knowledge, NormOptions, ScoreOptions};
use medocr::sla::{SamplePolicy, Status};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    /// What a document type with fewer documents than its profile's min_documents (default
    /// 50, the seed's minimum) does to the exit code. Either way every report marks it
    /// "insufficient sample" (and marks each percentile resting on too few samples with †).
    /// warn: the exit code follows PASS/FAIL alone. fail: exit 1 as for a failed limit, so
    /// a release gate cannot pass on a small sample (docs/metrics.md, "Sample size").
    #[arg(long, value_enum, default_value = "warn", value_name = "POLICY")]
    pub insufficient_sample: SamplePolicy,
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
    /// Render DPIs (comma-separated). Any positive value up to 2400 within the pixel budget.
    #[arg(long, value_delimiter = ',', default_value = "300")]
    pub dpi: Vec<Dpi>,
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
    pub dpi: Vec<Dpi>,
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
    /// MiB of line-crop encodings the built-in model keeps and reuses when a pixel-identical
    /// crop comes again (a page sent twice, the labels of one form template); least recently
    /// used first out. 0 (the default here) encodes every crop.
    #[arg(long, default_value_t = 0)]
    pub prefix_cache_mib: usize,
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
    pub response_format: ResponseFormat,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// JSONL of {"id": ..., "text": ...} predictions (e.g. a run's predictions.jsonl).
    #[arg(long)]
    pub predictions: PathBuf,
}

impl EngineArgs {
    /// The flags as the library's engine settings.
    pub fn spec(&self) -> EngineSpec {
        EngineSpec {
            model: self.model.clone(),
            device: self.device.clone(),
            batch: self.batch,
            piece_width: self.piece_width,
            min_confidence: self.min_confidence,
            prefix_cache_mib: self.prefix_cache_mib,
            predictions: self.predictions.clone(),
            max_pixels: self.max_pixels,
            timeout_per_page: Some(self.timeout_per_page),
            tesseract_bin: self.tesseract_bin.clone(),
            tesseract_langs: self.tesseract_langs.clone(),
            tesseract_psm: self.tesseract_psm,
            base_url: self.base_url.clone(),
            ca_cert: self.ca_cert.clone(),
            headers: self.headers.clone(),
            model_name: self.model_name.clone(),
            prompt: self.prompt.clone(),
            api_key_env: self.api_key_env.clone(),
            request_timeout: self.request_timeout,
            response_format: self.response_format,
        }
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.common.resume {
        return resume(dir, args.common.quiet);
    }
    run_with(args, None)
}

fn run_with(args: RunArgs, resume: Option<ResumeFrom>) -> anyhow::Result<ExitCode> {
    let dpis = Dpi::distinct(&args.dpi).context("--dpi")?;
    let engine = args.engine_args.spec().build(args.engine)?;
    let options = RunOptions {
        dpis,
        max_pixels: args.engine_args.max_pixels,
        ..run_options(&args.common)?
    };
    let Some(summaries) = execute(&args.common, vec![engine], options, resume)? else {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    };
    let policy = args.common.insufficient_sample;
    Ok(exit_code(summaries.iter().any(|s| s.fails(policy))))
}

/// `dpi-sweep`: every engine at every DPI on identical renders; the exit code says
/// whether every document type found a DPI that meets its SLA.
pub fn dpi_sweep(args: SweepArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.common.resume {
        return resume(dir, args.common.quiet);
    }
    dpi_sweep_with(args, None)
}

fn dpi_sweep_with(args: SweepArgs, resume: Option<ResumeFrom>) -> anyhow::Result<ExitCode> {
    let dpis = Dpi::distinct(&args.dpi).context("--dpi")?;
    if dpis.len() < 2 {
        bail!("--dpi needs at least two DPIs for a sweep (default 72,150,300,600)");
    }
    let spec = args.engine_args.spec();
    let engines = args
        .engines
        .iter()
        .map(|&k| spec.build(k))
        .collect::<Result<Vec<_>, _>>()?;
    let options = RunOptions {
        dpis,
        max_pixels: args.engine_args.max_pixels,
        ..run_options(&args.common)?
    };
    let Some(summaries) = execute(&args.common, engines, options, resume)? else {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    };
    let unmet = summaries.iter().any(|s| {
        s.dpi_study.iter().any(|t| t.recommended_dpi.is_none())
            && s.verdicts
                .iter()
                .any(|v| v.verdict.status != Status::NotMeasured)
    });
    let policy = args.common.insufficient_sample;
    let small = summaries
        .iter()
        .any(|s| policy.run_fails(false, s.any_insufficient_sample()));
    Ok(exit_code(unmet || small))
}

pub fn score(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.common.resume {
        return resume(dir, args.common.quiet);
    }
    score_with(args, None)
}

fn score_with(args: ScoreArgs, resume: Option<ResumeFrom>) -> anyhow::Result<ExitCode> {
    let engine: Box<dyn Engine> = Box::new(Replay::open(&args.predictions)?);
    let options = run_options(&args.common)?;
    let Some(summaries) = execute(&args.common, vec![engine], options, resume)? else {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    };
    let policy = args.common.insufficient_sample;
    Ok(exit_code(summaries.iter().any(|s| s.fails(policy))))
}

fn exit_code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The scoring settings of `run`, `score` and `dpi-sweep` (DPIs and pixel budget at their
/// defaults, which `run` and `dpi-sweep` replace).
fn run_options(common: &CommonArgs) -> anyhow::Result<RunOptions> {
    Ok(RunOptions {
        score: ScoreOptions {
            norm: NormOptions {
                fold_fullwidth: common.fold_width,
            },
        },
        knowledge: Knowledge::load(common.formulary.as_deref(), common.codes.as_deref())?,
        output_format: output_format(common)?,
        extract: extract_specs(common)?,
        ..RunOptions::default()
    })
}

/// `--resume <dir>`: repeats the interrupted command from its journal, in the folder it
/// was started from, skipping every document the journal already holds. The results go to
/// `dir` wherever it is now (a copied or moved run folder), never to the `--out` the
/// command line names.
fn resume(dir: &Path, quiet: bool) -> anyhow::Result<ExitCode> {
    let from = ResumeFrom::open(dir)?;
    std::env::set_current_dir(&from.header.cwd).with_context(|| {
        format!(
            "cannot resume {}: the run was started in {}, which cannot be entered now; relative paths in its command line refer to it",
            from.dir.display(),
            from.header.cwd.display()
        )
    })?;
    let cli = super::Cli::try_parse_from(&from.header.argv).map_err(|e| {
        anyhow!(
            "{}: the interrupted command line no longer parses with this medocr ({e}); start a new run",
            Journal::path_in(&from.dir).display()
        )
    })?;
    let state = Some(from);
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
fn output_format(common: &CommonArgs) -> anyhow::Result<FormatChoice> {
    FormatChoice::parse(&common.output_format).map_err(|e| anyhow!("--output-format: {e}"))
}

/// The flags of `run`, `score` and `dpi-sweep` that say what to evaluate and where.
fn settings(common: &CommonArgs, options: RunOptions) -> RunSettings {
    RunSettings {
        dataset: common.dataset.clone(),
        profiles: common.profiles.clone(),
        out: common.out.clone(),
        run_id: common.run_id.clone(),
        types: common.types.clone(),
        limit: common.limit,
        shard: common.shard,
        shards: common.shards,
        formulary: common.formulary.clone(),
        codes: common.codes.clone(),
        privacy: if common.show_phi {
            Privacy::ShowPhi
        } else {
            Privacy::Redacted
        },
        options,
    }
}

/// The shared body of `run`, `score` and `dpi-sweep`: plans the run, evaluates it with a
/// progress bar, then writes one run folder, console table and verdict per engine.
/// `None`: stopped by Ctrl-C after the current document, the journals keeping what ran.
fn execute(
    common: &CommonArgs,
    mut engines: Vec<Box<dyn Engine>>,
    options: RunOptions,
    resume: Option<ResumeFrom>,
) -> anyhow::Result<Option<Vec<RunSummary>>> {
    let mut progress = BarProgress::new(common.quiet);
    let plan = RunPlan::prepare(
        settings(common, options),
        &engines,
        resume.as_ref(),
        |k| std::env::var_os(k).map(|v| v.to_string_lossy().into_owned()),
        &mut progress,
    )?;
    let stop = stop_flag()?;
    let runs = match plan.execute(&mut engines, &stop, &mut progress)? {
        Executed::Done(runs) => runs,
        Executed::Interrupted(what) => {
            eprintln!("{what}");
            return Ok(None);
        }
    };
    let to_stderr = JsonTarget::takes_stdout(common.export_json.as_ref());
    let several = runs.len() > 1;
    let mut summaries = Vec::with_capacity(runs.len());
    for run in runs {
        write_run(&run, several, to_stderr)?;
        summaries.push(run.summary);
    }
    export(common, &summaries)?;
    Ok(Some(summaries))
}

/// One engine's run folder and console table.
fn write_run(run: &EngineRun, several: bool, to_stderr: bool) -> anyhow::Result<()> {
    let summary = &run.summary;
    report::write_run(&run.dir, summary, &run.results)?;
    let mut text = String::new();
    if several {
        text += &format!("\n== {}\n", summary.config.engine.name);
    }
    text += &report::console::table(summary);
    if !summary.dpi_study.is_empty() {
        text += &format!("\n{}", report::console::dpi_study(summary));
    }
    text += &format!("reports: {}\n", run.dir.display());
    console(&text, to_stderr)
}

/// `--junit` and `--export-json`, after the run folders are written.
fn export(common: &CommonArgs, summaries: &[RunSummary]) -> anyhow::Result<()> {
    if let Some(path) = &common.junit {
        let xml = report::junit::sla(summaries, common.insufficient_sample)?;
        super::export::write_file("--junit", path, xml.as_bytes())?;
    }
    match (&common.export_json, summaries) {
        (None, _) => Ok(()),
        (Some(t), [one]) => t.write(one),
        (Some(t), all) => t.write(all),
    }
}
