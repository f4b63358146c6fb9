//! A run from settings to summaries: the documents it selects, the shard it takes, the run
//! folder and journal of each engine (new or resumed), the evaluation itself and each
//! engine's summary. `run`, `score` and `dpi-sweep` are this plan with different engines;
//! progress and warnings go through [`RunProgress`], so the library never prints.

use super::resume::{open_journal, run_dirs, EngineJournal, ResumeError, ResumeFrom};
use super::shard::{resolve, ResolvedShard, ShardError, ShardSpec};
use super::{
    document_errors, dpi_study, output_format, run_engines_controlled, summarize, Environment,
    Journal, JournalError, JournalHeader, Privacy, RunControl, RunOptions,
};
use crate::dataset::{load_manifest, Dataset, DatasetError, DocType, Document};
use crate::engine::{Engine, EngineInfo};
use crate::render::RenderError;
use crate::report::{
    DocumentResult, ExtractConfig, RunConfig, RunSummary, ShardInfo, SCHEMA_VERSION,
};
use crate::score::OutputFormat;
use crate::sla::{ProfileError, ProfileSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// What a run evaluates, how, and where it writes (the flags of `run`, `score` and
/// `dpi-sweep` that are not the engines').
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Dataset folder or manifest; `None`: the bundled dataset.
    pub dataset: Option<PathBuf>,
    /// Folder of SLA profiles; `None`: the bundled ones.
    pub profiles: Option<PathBuf>,
    /// Folder that receives `<out>/<run id>/`.
    pub out: PathBuf,
    pub run_id: Option<String>,
    /// Only these document types (empty: all).
    pub types: Vec<DocType>,
    /// Only the first N documents (after `types`).
    pub limit: Option<usize>,
    pub shard: Option<ShardSpec>,
    pub shards: Option<usize>,
    /// The formulary and code list files, for the report's config (`None`: bundled).
    pub formulary: Option<PathBuf>,
    pub codes: Option<PathBuf>,
    pub privacy: Privacy,
    pub options: RunOptions,
}

/// How a run reports what it does; the CLI draws a progress bar and prints the notices.
pub trait RunProgress {
    /// A line for the operator: a warning, a skipped manifest entry, the shard or resume
    /// being taken up.
    fn notice(&mut self, line: &str);
    /// Evaluation starts: `total` results planned, `done` of them from the journals.
    fn started(&mut self, total: u64, done: u64);
    /// One new result of the engine named `engine`.
    fn result(&mut self, engine: &str, result: &DocumentResult);
    /// Evaluation is over (finished or stopped).
    fn finished(&mut self);
}

/// Why a run cannot start or finish.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{origin}: no SLA profile (<doc_type>.toml) found; point --profiles at a folder of profiles such as the repository's profiles/, or leave it out for the bundled ones")]
    NoProfiles { origin: String },
    #[error("no document of the requested types in {}", manifest.display())]
    NoDocuments { manifest: PathBuf },
    #[error("--task extract: the {engine} engine only transcribes; use an engine that answers in JSON (--engine openai, or replay of predictions with \"fields\")")]
    CannotExtract { engine: String },
    #[error("--shard")]
    Select(#[source] ShardError),
    #[error("reading the working directory")]
    Cwd(#[source] std::io::Error),
    #[error("writing the run journal")]
    JournalWrite(#[source] JournalError),
    #[error(transparent)]
    Shard(#[from] ShardError),
    #[error(transparent)]
    Profiles(#[from] ProfileError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Resume(#[from] ResumeError),
}

/// One engine's finished run: its folder, summary and per-document results.
pub struct EngineRun {
    pub dir: PathBuf,
    pub summary: RunSummary,
    pub results: Vec<DocumentResult>,
}

/// How [`RunPlan::execute`] ended.
pub enum Executed {
    Done(Vec<EngineRun>),
    /// Stopped by the stop flag; the journals hold what finished.
    Interrupted(Interruption),
}

/// What a stopped run saved, and how to finish it.
pub struct Interruption {
    pub finished: usize,
    pub total: usize,
    run_ids: Vec<String>,
    first_dir: PathBuf,
}

impl std::fmt::Display for Interruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "interrupted: {} of {} results are saved in {}; finish the run with:\n  medocr run --resume {}",
            self.finished,
            self.total,
            if self.run_ids.len() == 1 {
                Journal::path_in(&self.first_dir).display().to_string()
            } else {
                format!("the journal.jsonl of each of {}", self.run_ids.join(", "))
            },
            self.first_dir.display()
        )
    }
}

/// `dataset` as a folder to load and the name a report gives it: the path as given, or
/// the bundled dataset (unpacked into the cache folder) when none is given.
pub fn dataset_source(dataset: Option<&Path>) -> Result<(PathBuf, String), DatasetError> {
    Ok(match dataset {
        Some(p) => (p.to_path_buf(), p.display().to_string()),
        None => (
            crate::dataset::bundled::unpack()?,
            crate::dataset::bundled::BUNDLED.to_string(),
        ),
    })
}

/// The command line and working directory of this process, which a journal records so
/// that `--resume` can repeat the command.
pub fn invocation() -> Result<(Vec<String>, PathBuf), PlanError> {
    let argv = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cwd = std::env::current_dir().map_err(PlanError::Cwd)?;
    Ok((argv, cwd))
}

/// A run ready to evaluate: its documents chosen and every engine's journal open.
pub struct RunPlan {
    settings: RunSettings,
    dataset: Dataset,
    dataset_label: String,
    /// Indices into `dataset.documents`, in run order.
    docs: Vec<usize>,
    profile_set: ProfileSet,
    shard: Option<ShardInfo>,
    started: String,
    run_ids: Vec<String>,
    run_dirs: Vec<PathBuf>,
    journals: Vec<EngineJournal>,
    /// Results per engine: documents × DPIs.
    planned: usize,
}

/// The documents a run selects, before sharding.
struct Selection {
    dataset: Dataset,
    label: String,
    docs: Vec<usize>,
    shard: Option<ShardInfo>,
}

impl RunPlan {
    /// Resolves the shard (reading the scheduler's variables through `env`), loads the
    /// profiles and dataset, selects the documents, checks that the engines can do the
    /// task, and opens a journal per engine (resumed from `resume`'s folder when given).
    pub fn prepare(
        settings: RunSettings,
        engines: &[Box<dyn Engine>],
        resume: Option<&ResumeFrom>,
        env: impl Fn(&str) -> Option<String>,
        progress: &mut dyn RunProgress,
    ) -> Result<RunPlan, PlanError> {
        // Resolved first, so a job started with the wrong variables fails before any work;
        // a resume re-reads them, in the restarted pod or requeued task that kept them.
        let resolved = resolve(settings.shard, settings.shards, env)?;
        if let Some(ResolvedShard {
            shard,
            from_env: Some(from),
        }) = &resolved
        {
            progress.notice(&format!("--shard auto: shard {shard} ({from})"));
        }
        let profile_set = ProfileSet::load(settings.profiles.as_deref())?;
        if profile_set.profiles.is_empty() {
            return Err(PlanError::NoProfiles {
                origin: profile_set.origin,
            });
        }
        let selection = select(&settings, resolved.as_ref(), progress)?;
        warn_unprofiled(&selection, &profile_set, progress);
        check_engines(&settings.options, engines, &selection)?;
        let infos: Vec<EngineInfo> = engines.iter().map(|e| e.info()).collect();
        let (started, base_id) = match resume {
            Some(r) => (r.header.started.clone(), r.header.base_id.clone()),
            None => (
                chrono::Utc::now().to_rfc3339(),
                settings
                    .run_id
                    .clone()
                    .unwrap_or_else(|| chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()),
            ),
        };
        let run_ids = run_ids(settings.run_id.as_ref(), &base_id, &infos);
        let planned = selection.docs.len() * settings.options.dpis.len();
        let run_dirs = run_dirs(&settings.out, &run_ids, resume)?;
        let template = JournalTemplate {
            base_id,
            started: started.clone(),
            manifest_sha256: selection.dataset.manifest_sha256.clone(),
            dpis: settings.options.dpis.clone(),
            planned,
            shard: resolved.as_ref().map(|s| s.shard),
        };
        let journals = open_journals(&template, &infos, &run_ids, &run_dirs, resume)?;
        if let Some(r) = resume {
            let done: usize = journals.iter().map(|j| j.done.len()).sum();
            progress.notice(&format!(
                "resuming {}: {done} of {} results already in the journal",
                r.dir.display(),
                planned * engines.len()
            ));
        }
        Ok(RunPlan {
            settings,
            dataset: selection.dataset,
            dataset_label: selection.label,
            docs: selection.docs,
            profile_set,
            shard: selection.shard,
            started,
            run_ids,
            run_dirs,
            journals,
            planned,
        })
    }

    /// Evaluates every document at every DPI with every engine, skipping what the journals
    /// hold and appending each new result to its engine's journal; stops after the
    /// current document once `stop` is set. Then summarises each engine's run.
    pub fn execute(
        mut self,
        engines: &mut [Box<dyn Engine>],
        stop: &AtomicBool,
        progress: &mut dyn RunProgress,
    ) -> Result<Executed, PlanError> {
        let n_engines = engines.len();
        let formats: Vec<OutputFormat> = engines
            .iter()
            .map(|e| output_format(&self.settings.options, e.as_ref()))
            .collect();
        // Split so the done maps can be read while the journals are appended to.
        let mut files = Vec::with_capacity(n_engines);
        let mut done_maps = Vec::with_capacity(n_engines);
        let mut prior_wall = Vec::with_capacity(n_engines);
        for j in std::mem::take(&mut self.journals) {
            files.push(j.journal);
            done_maps.push(j.done);
            prior_wall.push(j.prior_wall_s);
        }
        let already: usize = done_maps.iter().map(|m| m.len()).sum();
        let total = self.planned * n_engines;
        progress.started(total as u64, already as u64);
        let names: Vec<String> = engines.iter().map(|e| e.info().name).collect();
        let docs: Vec<&Document> = self
            .docs
            .iter()
            .map(|&i| &self.dataset.documents[i])
            .collect();
        let t0 = Instant::now();
        let lookup = |i: usize, id: &str, dpi: f32| {
            done_maps[i].get(&(id.to_string(), dpi.to_bits())).cloned()
        };
        let mut journal_error: Option<JournalError> = None;
        let mut finished = already;
        let mut refs: Vec<&mut dyn Engine> = engines
            .iter_mut()
            .map(|e| -> &mut dyn Engine { e.as_mut() })
            .collect();
        let outcome = run_engines_controlled(
            &self.dataset,
            &docs,
            &mut refs,
            &self.settings.options,
            RunControl {
                stop: Some(stop),
                done: Some(&lookup),
            },
            &mut |i, r| {
                progress.result(&names[i], r);
                let wall_s = prior_wall[i] + t0.elapsed().as_secs_f64();
                if let Err(e) = files[i].append(r, wall_s) {
                    // Without the journal nothing would survive a crash: stop now.
                    journal_error.get_or_insert(e);
                    stop.store(true, Ordering::SeqCst);
                } else {
                    finished += 1;
                }
            },
        );
        progress.finished();
        drop(refs);
        if let Some(e) = journal_error {
            return Err(PlanError::JournalWrite(e));
        }
        if outcome.stopped {
            return Ok(Executed::Interrupted(Interruption {
                finished,
                total,
                first_dir: self.run_dirs[0].clone(),
                run_ids: self.run_ids.clone(),
            }));
        }
        let wall = t0.elapsed().as_secs_f64();
        Ok(Executed::Done(self.summarize(
            engines,
            outcome.results,
            prior_wall,
            formats,
            wall,
        )))
    }

    /// Each engine's summary. With several engines sharing the clock, each engine's wall
    /// time is its own busy time; one engine's adds the earlier attempts'.
    fn summarize(
        self,
        engines: &[Box<dyn Engine>],
        results: Vec<Vec<DocumentResult>>,
        prior_wall: Vec<f64>,
        formats: Vec<OutputFormat>,
        wall: f64,
    ) -> Vec<EngineRun> {
        let n_engines = engines.len();
        let summarizer = Summarizer {
            plan: &self.settings,
            dataset: &self.dataset,
            dataset_label: &self.dataset_label,
            profile_set: &self.profile_set,
            shard: &self.shard,
            started: &self.started,
        };
        // What the engines say of themselves now: a setting can change during the run (a
        // server that refused `response_format` is asked without it from then on).
        engines
            .iter()
            .zip(results)
            .zip(self.run_ids)
            .zip(self.run_dirs)
            .zip(prior_wall)
            .zip(formats)
            .map(|(((((engine, results), run_id), dir), prior), format)| {
                let wall_s = if n_engines == 1 {
                    prior + wall
                } else {
                    results.iter().filter_map(|r| r.timing.e2e_ms).sum::<f64>() / 1e3
                };
                let summary = summarizer.summary(engine.info(), run_id, format, &results, wall_s);
                EngineRun {
                    dir,
                    summary,
                    results,
                }
            })
            .collect()
    }
}

/// Loads the dataset and picks the run's documents: `types`, then `limit`, then the shard.
fn select(
    settings: &RunSettings,
    resolved: Option<&ResolvedShard>,
    progress: &mut dyn RunProgress,
) -> Result<Selection, PlanError> {
    let (dataset_dir, label) = dataset_source(settings.dataset.as_deref())?;
    let dataset = load_manifest(&dataset_dir)?;
    for issue in &dataset.issues {
        let what = if issue.rejected { "skipped" } else { "warning" };
        progress.notice(&format!("{what}: {issue}"));
    }
    // Positions in the manifest's list, so the selection can move with the dataset.
    let mut docs: Vec<usize> = (0..dataset.documents.len())
        .filter(|&i| {
            settings.types.is_empty() || settings.types.contains(&dataset.documents[i].doc_type)
        })
        .collect();
    if let Some(n) = settings.limit {
        docs.truncate(n);
    }
    if docs.is_empty() {
        return Err(PlanError::NoDocuments {
            manifest: dataset.manifest.clone(),
        });
    }
    let shard = match resolved {
        Some(s) => {
            let selected: Vec<&Document> = docs.iter().map(|&i| &dataset.documents[i]).collect();
            let (_, info) = s.shard.select(&selected).map_err(PlanError::Select)?;
            docs = docs
                .into_iter()
                .enumerate()
                .filter(|&(p, _)| s.shard.contains(p))
                .map(|(_, i)| i)
                .collect();
            Some(info)
        }
        None => None,
    };
    Ok(Selection {
        dataset,
        label,
        docs,
        shard,
    })
}

/// Warns once per document type that no profile checks.
fn warn_unprofiled(s: &Selection, profile_set: &ProfileSet, progress: &mut dyn RunProgress) {
    let mut missing: Vec<DocType> = s
        .docs
        .iter()
        .map(|&i| s.dataset.documents[i].doc_type)
        .filter(|t| !profile_set.profiles.contains_key(t))
        .collect();
    missing.sort();
    missing.dedup();
    for t in missing {
        progress.notice(&format!(
            "warning: no SLA profile for {t} in {}: its documents are scored but not checked",
            profile_set.origin
        ));
    }
}

/// Refuses engines that cannot do the task, and binds the renderer when an engine reads
/// pages (a missing libpdfium is one setup error, not one failed document per PDF).
fn check_engines(
    options: &RunOptions,
    engines: &[Box<dyn Engine>],
    s: &Selection,
) -> Result<(), PlanError> {
    if options.extract.is_some() {
        if let Some(e) = engines.iter().find(|e| !e.extracts()) {
            return Err(PlanError::CannotExtract {
                engine: e.info().name,
            });
        }
    }
    if engines.iter().any(|e| e.needs_pages()) {
        let docs: Vec<&Document> = s.docs.iter().map(|&i| &s.dataset.documents[i]).collect();
        super::check_renderer(&docs)?;
    }
    Ok(())
}

/// The run id of each engine: `--run-id` itself for one engine, else `<base>-<engine>`.
fn run_ids(run_id: Option<&String>, base_id: &str, infos: &[EngineInfo]) -> Vec<String> {
    infos
        .iter()
        .map(|info| match (run_id, infos.len()) {
            (Some(id), 1) => id.clone(),
            _ => format!("{base_id}-{}", info.name),
        })
        .collect()
}

/// What every engine's journal header shares.
struct JournalTemplate {
    base_id: String,
    started: String,
    manifest_sha256: String,
    dpis: Vec<f32>,
    planned: usize,
    shard: Option<super::Shard>,
}

/// Starts (or, resuming, reopens) the journal of each engine's run folder. A resumed
/// header keeps the first attempt's command line and start.
fn open_journals(
    t: &JournalTemplate,
    infos: &[EngineInfo],
    run_ids: &[String],
    run_dirs: &[PathBuf],
    resume: Option<&ResumeFrom>,
) -> Result<Vec<EngineJournal>, PlanError> {
    let (argv, cwd) = invocation()?;
    let mut journals = Vec::with_capacity(infos.len());
    for ((info, run_id), run_dir) in infos.iter().zip(run_ids).zip(run_dirs) {
        let header = match resume {
            Some(r) => JournalHeader {
                engine: info.clone(),
                manifest_sha256: t.manifest_sha256.clone(),
                run_id: run_id.clone(),
                shard: t.shard,
                ..r.header.clone()
            },
            None => JournalHeader {
                journal_version: super::journal::JOURNAL_VERSION,
                argv: argv.clone(),
                cwd: cwd.clone(),
                base_id: t.base_id.clone(),
                run_id: run_id.clone(),
                started: t.started.clone(),
                engine: info.clone(),
                manifest_sha256: t.manifest_sha256.clone(),
                dpis: t.dpis.clone(),
                planned: t.planned,
                shard: t.shard,
            },
        };
        journals.push(open_journal(run_dir, header, resume.is_some())?);
    }
    Ok(journals)
}

/// Builds each engine's [`RunSummary`] from its results.
struct Summarizer<'a> {
    plan: &'a RunSettings,
    dataset: &'a Dataset,
    dataset_label: &'a str,
    profile_set: &'a ProfileSet,
    shard: &'a Option<ShardInfo>,
    started: &'a str,
}

impl Summarizer<'_> {
    fn summary(
        &self,
        engine: EngineInfo,
        run_id: String,
        output_format: OutputFormat,
        results: &[DocumentResult],
        wall_s: f64,
    ) -> RunSummary {
        let options = &self.plan.options;
        let (groups, verdicts, totals) = summarize(
            results,
            &self.profile_set.profiles,
            wall_s,
            self.plan.privacy,
        );
        let dpi_study = dpi_study(&groups, &verdicts);
        RunSummary {
            schema_version: SCHEMA_VERSION,
            run_id,
            started: self.started.to_string(),
            config: RunConfig {
                dataset: self.dataset_label.to_string(),
                manifest_sha256: self.dataset.manifest_sha256.clone(),
                dpis: options.dpis.clone(),
                max_pixels: options.max_pixels,
                engine,
                profiles: self.profile_set.origin.clone(),
                profiles_sha256: self.profile_set.sha256.clone(),
                fold_width: options.score.norm.fold_fullwidth,
                formulary: source_name(self.plan.formulary.as_deref()),
                codes: source_name(self.plan.codes.as_deref()),
                phi_shown: self.plan.privacy == Privacy::ShowPhi,
                output_format,
                extract: options.extract.as_ref().map(|x| ExtractConfig {
                    prompts: x.origin.clone(),
                    sha256: x.sha256.clone(),
                }),
                shard: self.shard.clone(),
            },
            environment: Environment::detect(None),
            groups,
            verdicts,
            dpi_study,
            totals,
            manifest_issues: self.dataset.issues.clone(),
            errors: document_errors(results),
            merged_from: Vec::new(),
        }
    }
}

fn source_name(path: Option<&Path>) -> String {
    path.map_or_else(|| "bundled".to_string(), |p| p.display().to_string())
}
