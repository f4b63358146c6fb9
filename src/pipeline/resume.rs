//! Finishing an interrupted run: its folder and journal header, the run folder of each
//! engine, and each engine's journal with what an earlier attempt finished.

use super::journal::JournalEntry;
use super::{Journal, JournalError, JournalHeader};
use crate::engine::EngineInfo;
use crate::report::DocumentResult;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why a run cannot start or be resumed in its folder.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("--resume {}: no such run folder", dir.display())]
    NoFolder {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--resume")]
    Header(#[source] JournalError),
    #[error("cannot resume {}: the run was started in {}, which no longer exists, and relative paths in its command line (--dataset, --profiles, --predictions, …) refer to it; recreate that folder (or the paths it held), or start a new run", dir.display(), cwd.display())]
    CwdGone { dir: PathBuf, cwd: PathBuf },
    #[error("{} holds an unfinished run: finish it with `medocr run --resume {}`, or pick another --run-id", dir.display(), dir.display())]
    Unfinished { dir: PathBuf },
    #[error("cannot resume {}: {why}", dir.display())]
    Refused { dir: PathBuf, why: String },
    #[error("cannot resume {}: {what} changed since the run started (was {was}, now {now}); results would mix two setups. Start a new run instead", dir.display())]
    Changed {
        dir: PathBuf,
        what: &'static str,
        was: String,
        now: String,
    },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// An interrupted run being finished: where it is and what its journal says.
#[derive(Debug, Clone)]
pub struct ResumeFrom {
    /// The run folder given to --resume (one engine's folder of a sweep).
    pub dir: PathBuf,
    pub header: JournalHeader,
}

impl ResumeFrom {
    /// Reads the journal header of `dir` (made absolute first: a relative folder is the
    /// caller's, not the one the run started in) and checks that the folder the run
    /// started in, which relative paths of its command line refer to, still exists.
    pub fn open(dir: &Path) -> Result<ResumeFrom, ResumeError> {
        let dir = dir.canonicalize().map_err(|source| ResumeError::NoFolder {
            dir: dir.to_path_buf(),
            source,
        })?;
        let header = Journal::read_header(&dir).map_err(ResumeError::Header)?;
        if !header.cwd.is_dir() {
            return Err(ResumeError::CwdGone {
                dir,
                cwd: header.cwd,
            });
        }
        Ok(ResumeFrom { dir, header })
    }

    fn refused(&self, why: String) -> ResumeError {
        ResumeError::Refused {
            dir: self.dir.clone(),
            why,
        }
    }
}

/// The run folder of each engine: `<out>/<run id>` for a new run. On resume, the folder
/// given to --resume for the engine whose journal it holds, and for the other engines of a
/// `dpi-sweep` the folders named by their run ids next to it; the `--out` recorded in the
/// command line is not used, so a copied folder never writes into the original.
pub fn run_dirs(
    out: &Path,
    run_ids: &[String],
    resume: Option<&ResumeFrom>,
) -> Result<Vec<PathBuf>, ResumeError> {
    let Some(r) = resume else {
        return Ok(run_ids.iter().map(|id| out.join(id)).collect());
    };
    if !run_ids.contains(&r.header.run_id) {
        return Err(r.refused(format!(
            "its journal is for run {}, which its command line no longer makes (it makes {}); start a new run",
            r.header.run_id,
            run_ids.join(", ")
        )));
    }
    let name = r.dir.file_name().and_then(|n| n.to_str());
    if run_ids.len() > 1 && name != Some(r.header.run_id.as_str()) {
        // The siblings are found by name: next to a renamed copy they could be the
        // original run's folders.
        return Err(r.refused(format!(
            "it is one engine's folder of a {}-engine run, whose folders are found by their run ids ({}) next to each other; name it {} again (move or copy all of them together)",
            run_ids.len(),
            run_ids.join(", "),
            r.header.run_id
        )));
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

/// The journal of one engine's run folder, with what an earlier attempt finished.
pub struct EngineJournal {
    pub journal: Journal,
    /// Finished results by (document id, DPI bits).
    pub done: HashMap<(String, u32), DocumentResult>,
    /// Wall time of the earlier attempts, in seconds.
    pub prior_wall_s: f64,
}

/// Opens (resume) or starts the journal of one engine's run folder.
pub fn open_journal(
    run_dir: &Path,
    header: JournalHeader,
    resuming: bool,
) -> Result<EngineJournal, ResumeError> {
    let path = Journal::path_in(run_dir);
    if !resuming {
        if path.is_file() && !run_dir.join("summary.json").is_file() {
            return Err(ResumeError::Unfinished {
                dir: run_dir.to_path_buf(),
            });
        }
        return Ok(EngineJournal {
            journal: Journal::create(run_dir, &header)?,
            done: HashMap::new(),
            prior_wall_s: 0.0,
        });
    }
    let (journal, old, entries) = Journal::resume(run_dir)?;
    check_same_run(run_dir, &old, &header)?;
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

/// Refuses to resume a journal whose run, dataset, engine or shard is not the one the
/// command line makes now.
fn check_same_run(
    run_dir: &Path,
    old: &JournalHeader,
    header: &JournalHeader,
) -> Result<(), ResumeError> {
    let refused = |why: String| ResumeError::Refused {
        dir: run_dir.to_path_buf(),
        why,
    };
    // A sibling folder of a sweep must hold the same run, not another one of that name.
    if (&old.run_id, &old.base_id, &old.started)
        != (&header.run_id, &header.base_id, &header.started)
    {
        return Err(refused(format!(
            "it holds run {} started {}, not run {} started {}; resume each run from its own folder",
            old.run_id, old.started, header.run_id, header.started
        )));
    }
    let changed = |what, was, now| ResumeError::Changed {
        dir: run_dir.to_path_buf(),
        what,
        was,
        now,
    };
    if old.manifest_sha256 != header.manifest_sha256 {
        return Err(changed(
            "the dataset manifest",
            format!("sha256 {}", old.manifest_sha256),
            format!("sha256 {}", header.manifest_sha256),
        ));
    }
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
        return Err(refused(format!(
            "it runs shard {was}, but its command line now gives {now} (--shard auto reads JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_*); resume it with the scheduler variables it started with, as a restarted pod or requeued array task has them"
        )));
    }
    Ok(())
}

fn engine_id(e: &EngineInfo) -> String {
    format!(
        "{} {} {}",
        e.name,
        e.version,
        e.checkpoint_sha256.as_deref().unwrap_or("")
    )
    .trim()
    .to_string()
}
