//! `medocr merge`: the run folders of `medocr run --shard i/n` put back together as one run.
//!
//! Nothing is averaged across shards. Each shard's `journal.jsonl` holds every
//! per-document result (edit counts S/D/I/N, field judgements, raw latency samples), so
//! the merged run is computed exactly as an unsharded run is: the same
//! [`summarize`] over the same results in the same order, giving micro
//! averages from summed counts, percentiles from the pooled samples and SLA verdicts from
//! the profiles. Shards must agree on everything a result depends on, and all `n` of them
//! must be there, finished, each once.

use super::journal::{Journal, JournalError, JournalHeader};
use super::{document_errors, dpi_study, summarize, Privacy};
use crate::dataset::{DocType, ManifestIssue};
use crate::engine::EngineInfo;
use crate::report::{
    DocumentResult, Environment, MergedShard, RunConfig, RunSummary, ShardInfo, SCHEMA_VERSION,
};
use crate::sla::Profile;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Engine settings allowed to differ between shards: where the server is. Shards on
/// several machines may each talk to their own replica of the same model.
const PER_MACHINE_SETTINGS: [&str; 1] = ["base_url"];

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{dir}: no summary.json, so not a finished run{hint}")]
    NotARun { dir: PathBuf, hint: String },
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{dir} is not a shard: it was run without --shard (merge combines the run folders of `medocr run --shard I/N`)")]
    NotSharded { dir: PathBuf },
    #[error("the shards disagree on {what}: {a} has {a_value}, {b} has {b_value}. Shards of one evaluation must be run with the same command apart from --shard (and --run-id, --out)")]
    Mismatch {
        what: String,
        a: PathBuf,
        a_value: String,
        b: PathBuf,
        b_value: String,
    },
    #[error(
        "{a} and {b} are both shard {index}/{count}: their documents overlap. Pass each shard once"
    )]
    DuplicateShard {
        a: PathBuf,
        b: PathBuf,
        index: usize,
        count: usize,
    },
    #[error("missing shard(s) {} of {count} (given: {}); run them with `medocr run --shard I/{count}` and merge all {count}", list(.missing), list(.given))]
    MissingShards {
        missing: Vec<usize>,
        given: Vec<usize>,
        count: usize,
    },
    #[error("document(s) {} are in both {a} and {b}: shards must not overlap", .ids.join(", "))]
    OverlappingDocuments {
        ids: Vec<String>,
        a: PathBuf,
        b: PathBuf,
    },
    #[error("{dir}: shard {shard} should hold {expected} result(s) ({documents} document(s) × {dpis} DPI(s)) but its journal has {found}; was the run folder changed after it finished?")]
    Incomplete {
        dir: PathBuf,
        shard: String,
        documents: usize,
        dpis: usize,
        expected: usize,
        found: usize,
    },
}

fn list(v: &[usize]) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One finished shard run folder, read (nothing in it is changed).
#[derive(Debug, Clone)]
pub struct ShardRun {
    pub dir: PathBuf,
    pub summary: RunSummary,
    pub shard: ShardInfo,
    pub header: JournalHeader,
    /// Every result, `text` included, in the shard's run order.
    pub results: Vec<DocumentResult>,
}

impl ShardRun {
    /// Reads `dir`'s `summary.json` (what the shard was run with) and `journal.jsonl` (its
    /// results).
    pub fn load(dir: &Path) -> Result<ShardRun, MergeError> {
        let path = dir.join("summary.json");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let hint = if Journal::path_in(dir).is_file() {
                    format!(
                        ": its journal.jsonl says the run was interrupted; finish it first with `medocr run --resume {}`",
                        dir.display()
                    )
                } else {
                    " (give the run folders that `medocr run --shard` wrote)".into()
                };
                return Err(MergeError::NotARun {
                    dir: dir.to_path_buf(),
                    hint,
                });
            }
            Err(e) => {
                return Err(MergeError::Read {
                    path,
                    message: e.to_string(),
                })
            }
        };
        let summary: RunSummary = serde_json::from_slice(&bytes).map_err(|e| MergeError::Read {
            path: path.clone(),
            message: format!("not a run summary ({e})"),
        })?;
        if summary.schema_version != SCHEMA_VERSION {
            return Err(MergeError::Read {
                path,
                message: format!(
                    "schema version {} but this medocr writes {SCHEMA_VERSION}; merge with the medocr that ran the shards",
                    summary.schema_version
                ),
            });
        }
        let shard = summary
            .config
            .shard
            .clone()
            .ok_or_else(|| MergeError::NotSharded {
                dir: dir.to_path_buf(),
            })?;
        let (header, entries) = Journal::read(dir)?;
        Ok(ShardRun {
            dir: dir.to_path_buf(),
            summary,
            shard,
            header,
            results: entries.into_iter().map(|e| e.result).collect(),
        })
    }
}

/// Shards checked against each other and put back into the unsharded run's order.
#[derive(Debug, Clone)]
pub struct Combined {
    /// The shards' common configuration, `shard` cleared.
    pub config: RunConfig,
    /// The earliest start of any shard.
    pub started: String,
    /// The first shard's machine (each shard's is in `sources`).
    pub environment: Environment,
    pub manifest_issues: Vec<ManifestIssue>,
    /// Every result, in the order an unsharded run produces them.
    pub results: Vec<DocumentResult>,
    /// Sum of the shards' wall times: the machine time the evaluation took.
    pub wall_time_s: f64,
    pub sources: Vec<MergedShard>,
    /// The first shard's journal header (engine, manifest, DPIs), for the merged journal.
    pub header: JournalHeader,
}

/// Checks that `shards` are all the shards of one evaluation, each once and finished, and
/// interleaves their results back into manifest order.
pub fn combine(mut shards: Vec<ShardRun>) -> Result<Combined, MergeError> {
    assert!(
        !shards.is_empty(),
        "the CLI requires at least one run folder"
    );
    for s in &shards[1..] {
        check_same(&shards[0], s)?;
    }
    shards.sort_by_key(|s| s.shard.index);
    check_all_once(&shards)?;
    let results = interleave(&shards)?;

    let first = &shards[0];
    let mut config = first.summary.config.clone();
    config.shard = None;
    let started = shards
        .iter()
        .map(|s| s.summary.started.clone())
        .min_by(|a, b| match (parse_time(a), parse_time(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => a.cmp(b),
        })
        .unwrap_or_default();
    let sources = shards
        .iter()
        .map(|s| MergedShard {
            run_id: s.summary.run_id.clone(),
            dir: s.dir.display().to_string(),
            index: s.shard.index,
            started: s.summary.started.clone(),
            wall_time_s: s.summary.totals.wall_time_s,
            results: s.results.len(),
            environment: s.summary.environment.clone(),
        })
        .collect();
    Ok(Combined {
        config,
        started,
        environment: first.summary.environment.clone(),
        manifest_issues: first.summary.manifest_issues.clone(),
        results,
        wall_time_s: shards.iter().map(|s| s.summary.totals.wall_time_s).sum(),
        sources,
        header: first.header.clone(),
    })
}

/// Each shard index of the count once, none missing (`shards` sorted by index).
fn check_all_once(shards: &[ShardRun]) -> Result<(), MergeError> {
    for w in shards.windows(2) {
        if w[0].shard.index == w[1].shard.index {
            return Err(MergeError::DuplicateShard {
                a: w[0].dir.clone(),
                b: w[1].dir.clone(),
                index: w[0].shard.index,
                count: w[0].shard.count,
            });
        }
    }
    let count = shards[0].shard.count;
    let given: BTreeSet<usize> = shards.iter().map(|s| s.shard.index).collect();
    let missing: Vec<usize> = (1..=count).filter(|i| !given.contains(i)).collect();
    if !missing.is_empty() {
        return Err(MergeError::MissingShards {
            missing,
            given: given.into_iter().collect(),
            count,
        });
    }
    Ok(())
}

/// The shards' results in the unsharded run's order, after checking that each shard holds
/// every result of its documents and no document is in two shards.
fn interleave(shards: &[ShardRun]) -> Result<Vec<DocumentResult>, MergeError> {
    let count = shards[0].shard.count;
    let selected = shards[0].shard.selected_documents;
    let dpis = shards[0].summary.config.dpis.len();
    let mut owner: HashMap<String, usize> = HashMap::new();
    let mut per_shard: Vec<Vec<Vec<DocumentResult>>> = Vec::with_capacity(count);
    for (k, s) in shards.iter().enumerate() {
        // Positions p with p % count == index − 1, p < selected.
        let documents = (selected + count - s.shard.index) / count;
        let docs = by_document(&s.results);
        if s.results.len() != documents * dpis
            || docs.len() != documents
            || docs.iter().any(|d| d.len() != dpis)
        {
            return Err(MergeError::Incomplete {
                dir: s.dir.clone(),
                shard: format!("{}/{}", s.shard.index, count),
                documents,
                dpis,
                expected: documents * dpis,
                found: s.results.len(),
            });
        }
        let mut overlap: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for d in &docs {
            if let Some(&other) = owner.get(&d[0].id) {
                overlap.entry(other).or_default().push(d[0].id.clone());
            } else {
                owner.insert(d[0].id.clone(), k);
            }
        }
        if let Some((other, ids)) = overlap.into_iter().next() {
            return Err(MergeError::OverlappingDocuments {
                ids,
                a: shards[other].dir.clone(),
                b: s.dir.clone(),
            });
        }
        per_shard.push(docs);
    }
    let mut results = Vec::with_capacity(selected * dpis);
    let mut iters: Vec<_> = per_shard.into_iter().map(Vec::into_iter).collect();
    for p in 0..selected {
        results.extend(iters[p % count].next().expect("counted above"));
    }
    Ok(results)
}

/// Writes the merged folder's journal like a run's, every per-document result in it, under
/// a header naming this command (`argv` and `cwd` as [`super::plan::invocation`] reads
/// them) and the whole selection rather than the first shard's slice.
pub fn write_journal(
    out: &Path,
    combined: &Combined,
    run_id: &str,
    started: &str,
    (argv, cwd): (Vec<String>, PathBuf),
) -> Result<(), JournalError> {
    let header = JournalHeader {
        journal_version: super::journal::JOURNAL_VERSION,
        argv,
        cwd,
        base_id: run_id.to_string(),
        run_id: run_id.to_string(),
        started: started.to_string(),
        planned: combined.results.len(),
        shard: None,
        ..combined.header.clone()
    };
    let mut journal = Journal::create(out, &header)?;
    for r in &combined.results {
        journal.append(r, combined.wall_time_s)?;
    }
    Ok(())
}

/// The merged run's summary, computed as an unsharded run's is; `profiles` must be the
/// profiles the shards were checked with (their hash is `config.profiles_sha256`).
pub fn merged_summary(
    combined: &Combined,
    run_id: &str,
    profiles: &BTreeMap<DocType, Profile>,
) -> RunSummary {
    let privacy = if combined.config.phi_shown {
        Privacy::ShowPhi
    } else {
        Privacy::Redacted
    };
    let (groups, verdicts, totals) =
        summarize(&combined.results, profiles, combined.wall_time_s, privacy);
    let dpi_study = dpi_study(&groups, &verdicts);
    RunSummary {
        schema_version: SCHEMA_VERSION,
        run_id: run_id.to_string(),
        started: combined.started.clone(),
        config: combined.config.clone(),
        environment: combined.environment.clone(),
        groups,
        verdicts,
        dpi_study,
        totals,
        manifest_issues: combined.manifest_issues.clone(),
        errors: document_errors(&combined.results),
        merged_from: combined.sources.clone(),
    }
}

fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

/// Consecutive results of the same document (one per DPI).
fn by_document(results: &[DocumentResult]) -> Vec<Vec<DocumentResult>> {
    let mut out: Vec<Vec<DocumentResult>> = Vec::new();
    for r in results {
        match out.last_mut() {
            Some(d) if d[0].id == r.id => d.push(r.clone()),
            _ => out.push(vec![r.clone()]),
        }
    }
    out
}

/// The first setting `b` does not share with `a`.
fn check_same(a: &ShardRun, b: &ShardRun) -> Result<(), MergeError> {
    let (ca, cb) = (&a.summary.config, &b.summary.config);
    let mut pairs: Vec<(String, String, String)> = vec![
        (
            "the dataset manifest (sha256)".into(),
            ca.manifest_sha256.clone(),
            cb.manifest_sha256.clone(),
        ),
        (
            "the number of shards".into(),
            a.shard.count.to_string(),
            b.shard.count.to_string(),
        ),
        (
            "the documents selected before sharding (--types, --limit)".into(),
            format!(
                "{} documents (ids sha256 {})",
                a.shard.selected_documents, a.shard.selection_sha256
            ),
            format!(
                "{} documents (ids sha256 {})",
                b.shard.selected_documents, b.shard.selection_sha256
            ),
        ),
        ("the DPI list".into(), dpis(&ca.dpis), dpis(&cb.dpis)),
        (
            "the pixel budget (--max-pixels)".into(),
            ca.max_pixels.to_string(),
            cb.max_pixels.to_string(),
        ),
    ];
    pairs.extend(engine_pairs(&ca.engine, &cb.engine));
    pairs.extend([
        (
            "the SLA profiles (sha256 of the profile files)".into(),
            ca.profiles_sha256.clone(),
            cb.profiles_sha256.clone(),
        ),
        (
            "--fold-width".into(),
            ca.fold_width.to_string(),
            cb.fold_width.to_string(),
        ),
        (
            "the formulary (--formulary)".into(),
            ca.formulary.clone(),
            cb.formulary.clone(),
        ),
        (
            "the code list (--codes)".into(),
            ca.codes.clone(),
            cb.codes.clone(),
        ),
        (
            "--show-phi".into(),
            ca.phi_shown.to_string(),
            cb.phi_shown.to_string(),
        ),
    ]);
    match pairs.into_iter().find(|(_, x, y)| x != y) {
        Some((what, a_value, b_value)) => Err(MergeError::Mismatch {
            what,
            a: a.dir.clone(),
            a_value,
            b: b.dir.clone(),
            b_value,
        }),
        None => Ok(()),
    }
}

fn dpis(d: &[f32]) -> String {
    d.iter().map(f32::to_string).collect::<Vec<_>>().join(",")
}

fn engine_pairs(a: &EngineInfo, b: &EngineInfo) -> Vec<(String, String, String)> {
    let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "none".into());
    let mut pairs = vec![
        ("the engine".to_string(), a.name.clone(), b.name.clone()),
        (
            "the engine version / served model".into(),
            a.version.clone(),
            b.version.clone(),
        ),
        (
            "the model checkpoint or predictions file (sha256)".into(),
            opt(&a.checkpoint_sha256),
            opt(&b.checkpoint_sha256),
        ),
        (
            "the engine's streaming mode".into(),
            format!("{:?}", a.streaming),
            format!("{:?}", b.streaming),
        ),
        (
            "the engine's token unit".into(),
            a.token_unit.clone(),
            b.token_unit.clone(),
        ),
    ];
    let keys: BTreeSet<&String> = a.settings.keys().chain(b.settings.keys()).collect();
    for k in keys {
        if PER_MACHINE_SETTINGS.contains(&k.as_str()) {
            continue;
        }
        let get =
            |s: &BTreeMap<String, String>| s.get(k).cloned().unwrap_or_else(|| "(not set)".into());
        pairs.push((
            format!("the engine setting `{k}`"),
            get(&a.settings),
            get(&b.settings),
        ));
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Streaming;
    use crate::report::{Timing, Totals};

    fn result(id: &str, dpi: f32) -> DocumentResult {
        let doc = crate::dataset::Document {
            id: id.into(),
            doc_type: DocType::Diagnosis,
            source: "x.pdf".into(),
            text: "진단서 I10".into(),
            fields: Default::default(),
            dpi: None,
            tables: Vec::new(),
            extra: Default::default(),
        };
        DocumentResult {
            id: id.into(),
            doc_type: DocType::Diagnosis,
            dpi,
            source_kind: "pdf".into(),
            pages: 1,
            pixels: 10,
            peak_rss_mib: None,
            error: None,
            error_kind: None,
            text: "진단서 I1O".into(),
            raw: None,
            score: crate::score::score_document(&doc, "진단서 I1O", &Default::default()),
            timing: Timing {
                timed: true,
                e2e_ms: Some(dpi as f64),
                ..Timing::default()
            },
            extraction: None,
        }
    }

    fn engine() -> EngineInfo {
        EngineInfo {
            name: "openai".into(),
            version: "m".into(),
            checkpoint_sha256: None,
            streaming: Streaming::Chunks,
            token_unit: "chunk".into(),
            settings: Default::default(),
        }
    }

    /// Shard `index` of `count` over documents d0…d{selected−1}, as `run --shard` writes it.
    fn shard(index: usize, count: usize, selected: usize, dpis: &[f32]) -> ShardRun {
        let ids: Vec<String> = (0..selected).map(|i| format!("d{i}")).collect();
        let info = ShardInfo {
            index,
            count,
            selected_documents: selected,
            selection_sha256: crate::pipeline::shard::selection_sha256(
                ids.iter().map(String::as_str),
            ),
        };
        let results: Vec<DocumentResult> = ids
            .iter()
            .enumerate()
            .filter(|(p, _)| p % count == index - 1)
            .flat_map(|(_, id)| dpis.iter().map(move |&d| result(id, d)))
            .collect();
        let mut engine = engine();
        engine
            .settings
            .insert("base_url".into(), format!("http://node{index}:8000"));
        let config = RunConfig {
            dataset: "data".into(),
            manifest_sha256: "abc".into(),
            dpis: dpis.to_vec(),
            max_pixels: 1,
            engine: engine.clone(),
            profiles: "profiles".into(),
            profiles_sha256: "def".into(),
            fold_width: false,
            formulary: "bundled".into(),
            codes: "bundled".into(),
            phi_shown: false,
            output_format: crate::score::OutputFormat::Text,
            extract: None,
            shard: Some(info.clone()),
        };
        let summary = RunSummary {
            schema_version: SCHEMA_VERSION,
            run_id: format!("s{index}"),
            started: format!("2024-01-01T00:00:0{index}+00:00"),
            config,
            environment: crate::pipeline::Environment::detect(None),
            groups: vec![],
            verdicts: vec![],
            dpi_study: vec![],
            totals: Totals {
                wall_time_s: index as f64,
                ..Totals::default()
            },
            manifest_issues: vec![],
            errors: vec![],
            merged_from: vec![],
        };
        let header = JournalHeader {
            journal_version: super::super::journal::JOURNAL_VERSION,
            argv: vec![],
            cwd: "/".into(),
            base_id: summary.run_id.clone(),
            run_id: summary.run_id.clone(),
            started: summary.started.clone(),
            engine,
            manifest_sha256: "abc".into(),
            dpis: dpis.to_vec(),
            planned: results.len(),
            shard: None,
        };
        ShardRun {
            dir: PathBuf::from(format!("reports/s{index}")),
            summary,
            shard: info,
            header,
            results,
        }
    }

    #[test]
    fn shards_interleave_back_into_the_unsharded_order() {
        let dpis = [72.0, 150.0];
        // Given out of order; shard 1 has three documents, shards 2 and 3 two.
        let shards = vec![
            shard(3, 3, 7, &dpis),
            shard(1, 3, 7, &dpis),
            shard(2, 3, 7, &dpis),
        ];
        let c = combine(shards).unwrap();
        let order: Vec<(String, f32)> = c.results.iter().map(|r| (r.id.clone(), r.dpi)).collect();
        let want: Vec<(String, f32)> = (0..7)
            .flat_map(|i| dpis.map(|d| (format!("d{i}"), d)))
            .collect();
        assert_eq!(order, want);
        assert_eq!(c.wall_time_s, 6.0, "the shards' summed wall time");
        assert_eq!(c.started, "2024-01-01T00:00:01+00:00");
        assert!(c.config.shard.is_none());
        let idx: Vec<usize> = c.sources.iter().map(|s| s.index).collect();
        assert_eq!(idx, [1, 2, 3]);

        // Recomputed from the pooled samples: e2e = DPI, so p50 of 72 DPI is 72 over all 7.
        let s = merged_summary(&c, "m", &BTreeMap::new());
        assert_eq!(s.totals.documents, 14);
        let g = &s.groups[0];
        assert_eq!((g.dpi, g.documents), (72.0, 7));
        assert_eq!(g.latency.e2e_ms.as_ref().unwrap().count, 7);
        assert_eq!(s.merged_from.len(), 3);
    }

    #[test]
    fn duplicate_missing_overlapping_incomplete_and_mismatched_shards_are_refused() {
        let d = [300.0];
        let err = combine(vec![
            shard(1, 3, 6, &d),
            shard(2, 3, 6, &d),
            shard(2, 3, 6, &d),
        ])
        .unwrap_err();
        assert!(
            matches!(err, MergeError::DuplicateShard { index: 2, .. }),
            "{err}"
        );
        let err = combine(vec![shard(1, 3, 6, &d), shard(3, 3, 6, &d)]).unwrap_err();
        assert!(err.to_string().contains("missing shard(s) 2 of 3"), "{err}");

        let mut other = shard(2, 3, 6, &d);
        other.summary.config.dpis = vec![150.0];
        let err = combine(vec![shard(1, 3, 6, &d), other, shard(3, 3, 6, &d)]).unwrap_err();
        assert!(err.to_string().contains("the DPI list"), "{err}");
        assert!(err.to_string().contains("300") && err.to_string().contains("150"));

        let mut other = shard(2, 3, 6, &d);
        other.summary.config.engine.checkpoint_sha256 = Some("f00".into());
        let err = combine(vec![shard(1, 3, 6, &d), other, shard(3, 3, 6, &d)]).unwrap_err();
        assert!(err.to_string().contains("(sha256)"), "{err}");

        let mut other = shard(2, 3, 6, &d);
        other
            .summary
            .config
            .engine
            .settings
            .insert("prompt".into(), "another".into());
        let err = combine(vec![shard(1, 3, 6, &d), other, shard(3, 3, 6, &d)]).unwrap_err();
        assert!(err.to_string().contains("setting `prompt`"), "{err}");

        // A shard holding a document of another.
        let mut other = shard(2, 3, 6, &d);
        other.results[0] = result("d0", 300.0);
        let err = combine(vec![shard(1, 3, 6, &d), other, shard(3, 3, 6, &d)]).unwrap_err();
        assert!(
            matches!(&err, MergeError::OverlappingDocuments { ids, .. } if ids == &["d0"]),
            "{err}"
        );

        let mut short = shard(2, 3, 6, &d);
        short.results.pop();
        let err = combine(vec![shard(1, 3, 6, &d), short, shard(3, 3, 6, &d)]).unwrap_err();
        assert!(
            matches!(
                err,
                MergeError::Incomplete {
                    expected: 2,
                    found: 1,
                    ..
                }
            ),
            "{err}"
        );
    }
}
