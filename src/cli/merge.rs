//! `medocr merge`: the run folders of `medocr run --shard i/n` into one run folder.

use super::out::{out, outln};
use anyhow::{bail, Context};
use clap::Args;
use medocr::pipeline::merge::{combine, merged_summary, write_journal, ShardRun};
use medocr::pipeline::plan::invocation;
use medocr::pipeline::Journal;
use medocr::report;
use medocr::sla::{ProfileSet, SamplePolicy};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The run folders of every shard (`medocr run --shard I/N`), in any order.
    #[arg(required = true, value_name = "RUN_DIR")]
    pub shards: Vec<PathBuf>,
    /// The merged run folder to write (must not hold a run yet); its name is the run id.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Folder of SLA profiles to check the merged run with; it must hold the same profiles
    /// the shards were run with (default: the shards' --profiles, from where they ran).
    #[arg(long)]
    pub profiles: Option<PathBuf>,
    /// What a document type with fewer documents than its profile's min_documents (default
    /// 50) does to the merged run's exit code, as for `run`: warn follows PASS/FAIL alone,
    /// fail exits 1 as for a failed limit (docs/metrics.md, "Sample size").
    #[arg(long, value_enum, default_value = "warn", value_name = "POLICY")]
    pub insufficient_sample: SamplePolicy,
}

pub fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let out = &args.out;
    if out.join("summary.json").exists() || Journal::path_in(out).exists() {
        bail!(
            "--out {} already holds a run; choose a new folder for the merged run",
            out.display()
        );
    }
    let run_id = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != "..")
        .with_context(|| format!("--out {}: needs a folder name (the run id)", out.display()))?;
    let shards = args
        .shards
        .iter()
        .map(|d| ShardRun::load(d))
        .collect::<Result<Vec<_>, _>>()?;
    let combined = combine(shards)?;

    // The shards' profiles, from where the first shard ran unless told otherwise.
    let profiles_dir = match &args.profiles {
        Some(p) => Some(p.clone()),
        None if combined.config.profiles == medocr::sla::BUNDLED => None,
        None => Some(resolve(
            &combined.header.cwd,
            Path::new(&combined.config.profiles),
        )),
    };
    let set = ProfileSet::load(profiles_dir.as_deref()).with_context(|| {
        format!(
            "loading the SLA profiles (pass --profiles DIR if the shards' {} is not here)",
            combined.config.profiles
        )
    })?;
    if set.sha256 != combined.config.profiles_sha256 {
        bail!(
            "the profiles in {} (sha256 {}) are not the ones the shards were checked with (sha256 {}); pass --profiles with the same profile files",
            set.origin,
            set.sha256,
            combined.config.profiles_sha256
        );
    }
    let mut summary = merged_summary(&combined, &run_id, &set.profiles);
    if args.profiles.is_some() {
        summary.config.profiles = set.origin.clone();
    }

    // A journal like a run's: the merged folder holds every per-document result too.
    write_journal(out, &combined, &run_id, &summary.started, invocation()?)?;
    report::write_run(out, &summary, &combined.results)?;

    let shards: Vec<String> = summary
        .merged_from
        .iter()
        .map(|s| format!("{} ({}/{})", s.run_id, s.index, summary.merged_from.len()))
        .collect();
    outln!(
        "merged {} shards: {}; {} results",
        shards.len(),
        shards.join(", "),
        combined.results.len()
    );
    out!("{}", report::console::table(&summary));
    if !summary.dpi_study.is_empty() {
        out!("\n{}", report::console::dpi_study(&summary));
    }
    outln!("reports: {}", out.display());
    Ok(if summary.fails(args.insufficient_sample) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn resolve(cwd: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}
