//! `--shard i/n`: a deterministic slice of a run's documents, so one evaluation can be
//! spread over several machines and put back together with `medocr merge`.
//!
//! Shard `i` of `n` holds the documents whose position in the selected list (manifest
//! order, after `--types` and `--limit`) satisfies `position % n == i − 1`. Positions,
//! not a hash of the id: every shard gets ⌊N/n⌋ or ⌈N/n⌉ documents (a hash leaves small
//! datasets lopsided), shards interleave so each one sees every document type of a
//! manifest grouped by type, and the merged order is the unsharded run's order. A
//! position only means something for one manifest and one selection, so each shard
//! records the manifest hash and a hash of the selected ids, and `merge` refuses shards
//! that disagree on either.
//!
//! `--shard auto` reads the shard from the batch scheduler that started the process: a
//! Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, with the count from `--shards`, since
//! Kubernetes sets no count variable) or a Slurm job array (`SLURM_ARRAY_TASK_*`).
//! [`resolve`] takes the environment as a lookup function, so it is tested without
//! touching the process's own.

use crate::dataset::Document;
use crate::report::ShardInfo;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Kubernetes Indexed Job: the pod's completion index, 0-based.
pub const K8S_INDEX: &str = "JOB_COMPLETION_INDEX";
/// Slurm job array: this task's id (`sbatch --array`).
pub const SLURM_TASK_ID: &str = "SLURM_ARRAY_TASK_ID";
/// Slurm job array: the lowest task id.
pub const SLURM_TASK_MIN: &str = "SLURM_ARRAY_TASK_MIN";
/// Slurm job array: the number of tasks.
pub const SLURM_TASK_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
/// Slurm job array: the step between task ids (`--array=0-15:4`), when not 1.
pub const SLURM_TASK_STEP: &str = "SLURM_ARRAY_TASK_STEP";

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("'{0}' is not a shard: write I/N, the 1-based shard index and the number of shards (e.g. 2/3), or auto to take it from a Kubernetes Indexed Job or a Slurm job array")]
    Syntax(String),
    #[error("shard count 0 in '{0}': there must be at least one shard (e.g. 1/3)")]
    NoShards(String),
    #[error("shard index 0 in '{0}': shards are numbered from 1 (1/{1} … {1}/{1})")]
    ZeroIndex(String, usize),
    #[error("shard {0}/{1}: the index must be at most the number of shards ({1})")]
    IndexTooLarge(usize, usize),
    #[error("shard {index}/{count} is empty: only {documents} document(s) are selected, so use at most {documents} shard(s)")]
    Empty {
        index: usize,
        count: usize,
        documents: usize,
    },
    #[error("--shards {0} goes with --shard auto only (the shard count of a Kubernetes Indexed Job); with --shard I/N the count is N, and without --shard the run is not sharded")]
    ShardsWithoutAuto(usize),
    #[error("--shards 0: there must be at least one shard; give the Job's spec.completions")]
    ZeroShards,
    #[error("--shard auto: neither {K8S_INDEX} (a Kubernetes Indexed Job) nor {SLURM_TASK_ID} (a Slurm job array) is set; run medocr as one of those jobs (deploy/ has both) or name the shard with --shard I/N")]
    NoScheduler,
    #[error("--shard auto: both {K8S_INDEX}={k8s:?} (Kubernetes) and {SLURM_TASK_ID}={slurm:?} (Slurm) are set, so the shard is ambiguous; unset the variable of the scheduler this job does not run under, or name the shard with --shard I/N")]
    BothSchedulers { k8s: String, slurm: String },
    #[error("--shard auto: {var}={value:?} is not a whole number ≥ 0; the scheduler sets it so, so fix or unset it, or name the shard with --shard I/N")]
    NotANumber { var: &'static str, value: String },
    #[error("--shard auto: {SLURM_TASK_ID} is set but {0} is not; a Slurm job array (sbatch --array) sets both, so set them together or name the shard with --shard I/N")]
    SlurmMissing(&'static str),
    #[error("--shard auto in a Kubernetes Indexed Job ({K8S_INDEX}={0}) needs --shards N, the Job's spec.completions: Kubernetes sets no variable with the count")]
    NeedShards(usize),
    #[error("--shard auto: {K8S_INDEX}={index} is out of range for --shards {shards} (indexes 0 to {}); set --shards to the Job's spec.completions", .shards - 1)]
    IndexOutOfRange { index: usize, shards: usize },
    #[error("--shard auto: {SLURM_TASK_STEP}=0; the step between task ids must be at least 1")]
    ZeroStep,
    #[error("--shard auto: {SLURM_TASK_ID}={id} is not {SLURM_TASK_MIN}={min} plus a multiple of {SLURM_TASK_STEP}={step}; submit the array as one range, e.g. sbatch --array=0-3")]
    OffStep { id: usize, min: usize, step: usize },
    #[error("--shard auto: {SLURM_TASK_ID}={id} is not among the {SLURM_TASK_COUNT}={count} tasks from {SLURM_TASK_MIN}={min} in steps of {step}; submit the array as one range (e.g. sbatch --array=0-{}), not a list of ids", .count.saturating_sub(1))]
    TaskOutOfRange {
        id: usize,
        min: usize,
        step: usize,
        count: usize,
    },
    #[error("--shard auto: --shards {shards} disagrees with {SLURM_TASK_COUNT}={count}, the tasks of this job array; drop --shards (Slurm gives the count) or submit the array with {shards} tasks")]
    ShardsDisagree { shards: usize, count: usize },
}

/// What `--shard` names: one shard, or `auto` for the one the scheduler's environment
/// gives this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSpec {
    Fixed(Shard),
    Auto,
}

impl FromStr for ShardSpec {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().eq_ignore_ascii_case("auto") {
            return Ok(ShardSpec::Auto);
        }
        s.parse().map(ShardSpec::Fixed)
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardSpec::Fixed(s) => s.fmt(f),
            ShardSpec::Auto => f.write_str("auto"),
        }
    }
}

/// A resolved `--shard`: which shard, and for `auto` the variables it was read from
/// (e.g. `JOB_COMPLETION_INDEX=1`), for the run's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedShard {
    pub shard: Shard,
    pub from_env: Option<String>,
}

/// The shard of a run given `--shard` and `--shards`, reading the scheduler's variables
/// through `env` (the CLI passes the process environment). `None`: the run is not sharded.
pub fn resolve(
    spec: Option<ShardSpec>,
    shards: Option<usize>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<ResolvedShard>, ShardError> {
    match (spec, shards) {
        (None, None) => Ok(None),
        (Some(ShardSpec::Fixed(shard)), None) => Ok(Some(ResolvedShard {
            shard,
            from_env: None,
        })),
        (None | Some(ShardSpec::Fixed(_)), Some(n)) => Err(ShardError::ShardsWithoutAuto(n)),
        (Some(ShardSpec::Auto), shards) => from_scheduler(shards, &env).map(Some),
    }
}

fn from_scheduler(
    shards: Option<usize>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<ResolvedShard, ShardError> {
    if shards == Some(0) {
        return Err(ShardError::ZeroShards);
    }
    let number = |var: &'static str, value: &str| {
        // Digits only: `usize::from_str` would take "+1", which no scheduler writes.
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ShardError::NotANumber {
                var,
                value: value.to_string(),
            });
        }
        value.parse::<usize>().map_err(|_| ShardError::NotANumber {
            var,
            value: value.to_string(),
        })
    };
    match (env(K8S_INDEX), env(SLURM_TASK_ID)) {
        (None, None) => Err(ShardError::NoScheduler),
        (Some(k8s), Some(slurm)) => Err(ShardError::BothSchedulers { k8s, slurm }),
        (Some(raw), None) => {
            let index = number(K8S_INDEX, &raw)?;
            let shards = shards.ok_or(ShardError::NeedShards(index))?;
            if index >= shards {
                return Err(ShardError::IndexOutOfRange { index, shards });
            }
            Ok(ResolvedShard {
                shard: Shard {
                    index: index + 1,
                    count: shards,
                },
                from_env: Some(format!("{K8S_INDEX}={index}, --shards {shards}")),
            })
        }
        (None, Some(raw)) => {
            let var = |name: &'static str| {
                let v = env(name).ok_or(ShardError::SlurmMissing(name))?;
                number(name, &v)
            };
            let id = number(SLURM_TASK_ID, &raw)?;
            let min = var(SLURM_TASK_MIN)?;
            let count = var(SLURM_TASK_COUNT)?;
            if let Some(n) = shards.filter(|&n| n != count) {
                return Err(ShardError::ShardsDisagree { shards: n, count });
            }
            // Older Slurm leaves it unset for a step of 1.
            let step = match env(SLURM_TASK_STEP) {
                Some(v) => number(SLURM_TASK_STEP, &v)?,
                None => 1,
            };
            if step == 0 {
                return Err(ShardError::ZeroStep);
            }
            let out_of_range = ShardError::TaskOutOfRange {
                id,
                min,
                step,
                count,
            };
            let offset = id.checked_sub(min).ok_or(out_of_range.clone())?;
            if offset % step != 0 {
                return Err(ShardError::OffStep { id, min, step });
            }
            let index = offset / step;
            if index >= count {
                return Err(out_of_range);
            }
            Ok(ResolvedShard {
                shard: Shard {
                    index: index + 1,
                    count,
                },
                from_env: Some(format!(
                    "{SLURM_TASK_ID}={id}, {SLURM_TASK_MIN}={min}, {SLURM_TASK_STEP}={step}, {SLURM_TASK_COUNT}={count}"
                )),
            })
        }
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || ShardError::Syntax(s.to_string());
        let (i, n) = s.trim().split_once('/').ok_or_else(syntax)?;
        let number = |v: &str| {
            let v = v.trim();
            // `usize::from_str` accepts a leading '+'; a shard spec has digits only.
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            v.parse::<usize>().map_err(|_| syntax())
        };
        let (index, count) = (number(i)?, number(n)?);
        if count == 0 {
            return Err(ShardError::NoShards(s.to_string()));
        }
        if index == 0 {
            return Err(ShardError::ZeroIndex(s.to_string(), count));
        }
        if index > count {
            return Err(ShardError::IndexTooLarge(index, count));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the document at `position` (0-based, in the selected list) is in this shard.
    pub fn contains(&self, position: usize) -> bool {
        position % self.count == self.index - 1
    }

    /// This shard's documents out of the whole selection, and the record that goes into
    /// the run's summary. An empty shard is an error (its run would have nothing to
    /// report, and a merge would wait for it forever).
    pub fn select<'a>(
        &self,
        selected: &[&'a Document],
    ) -> Result<(Vec<&'a Document>, ShardInfo), ShardError> {
        let mine: Vec<&Document> = selected
            .iter()
            .enumerate()
            .filter(|(p, _)| self.contains(*p))
            .map(|(_, d)| *d)
            .collect();
        if mine.is_empty() {
            return Err(ShardError::Empty {
                index: self.index,
                count: self.count,
                documents: selected.len(),
            });
        }
        let info = ShardInfo {
            index: self.index,
            count: self.count,
            selected_documents: selected.len(),
            selection_sha256: selection_sha256(selected.iter().map(|d| d.id.as_str())),
        };
        Ok((mine, info))
    }
}

/// SHA-256 over the selected ids in order, one per line: equal for every shard of the same
/// selection, different when `--types`, `--limit` or the manifest differ.
pub fn selection_sha256<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for id in ids {
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    format!("{:x}", h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{DocType, Fields};

    fn doc(id: &str) -> Document {
        Document {
            id: id.into(),
            doc_type: DocType::Prescription,
            source: format!("{id}.pdf").into(),
            text: String::new(),
            fields: Fields::default(),
            dpi: None,
            tables: Vec::new(),
            extra: Default::default(),
        }
    }

    #[test]
    fn parses_i_of_n_and_names_what_is_wrong() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(" 1 / 1 ".parse(), Ok(Shard { index: 1, count: 1 }));
        let err = |s: &str| s.parse::<Shard>().unwrap_err();
        assert!(matches!(err("0/3"), ShardError::ZeroIndex(_, 3)));
        assert_eq!(err("4/3"), ShardError::IndexTooLarge(4, 3));
        assert!(matches!(err("1/0"), ShardError::NoShards(_)));
        for garbage in ["", "3", "a/b", "1/3/5", "-1/3", "+1/3", "1.5/3", "/3", "1/"] {
            assert!(
                matches!(err(garbage), ShardError::Syntax(_)),
                "{garbage}: {}",
                err(garbage)
            );
        }
        assert!(err("0/3").to_string().contains("numbered from 1"));
        assert!(err("4/3").to_string().contains("at most"));
        assert_eq!("2/3".parse::<Shard>().unwrap().to_string(), "2/3");
    }

    #[test]
    fn shards_partition_the_selection_in_balanced_interleaved_slices() {
        let docs: Vec<Document> = (0..10).map(|i| doc(&format!("d{i}"))).collect();
        let refs: Vec<&Document> = docs.iter().collect();
        let mut seen = Vec::new();
        let mut hashes = Vec::new();
        for index in 1..=3 {
            let (mine, info) = Shard { index, count: 3 }.select(&refs).unwrap();
            assert!(mine.len() == 3 || mine.len() == 4, "{}", mine.len());
            assert_eq!(mine[0].id, format!("d{}", index - 1));
            assert_eq!(
                (info.index, info.count, info.selected_documents),
                (index, 3, 10)
            );
            hashes.push(info.selection_sha256);
            seen.extend(mine.iter().map(|d| d.id.clone()));
        }
        seen.sort();
        let mut all: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
        all.sort();
        assert_eq!(seen, all, "every document in exactly one shard");
        assert!(hashes.windows(2).all(|w| w[0] == w[1]));
        // A different selection has a different hash.
        let (_, other) = Shard { index: 1, count: 3 }.select(&refs[..9]).unwrap();
        assert_ne!(other.selection_sha256, hashes[0]);
        let err = Shard { index: 4, count: 4 }.select(&refs[..3]).unwrap_err();
        assert!(err.to_string().contains("at most 3 shard"), "{err}");
    }

    /// `resolve` over a fixed set of variables instead of the process environment.
    fn auto(vars: &[(&str, &str)], shards: Option<usize>) -> Result<Shard, ShardError> {
        let env: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(Some(ShardSpec::Auto), shards, |k| env.get(k).cloned())
            .map(|r| r.expect("auto always gives a shard").shard)
    }

    fn shard(index: usize, count: usize) -> Shard {
        Shard { index, count }
    }

    #[test]
    fn spec_parses_auto_or_i_of_n() {
        assert_eq!("auto".parse(), Ok(ShardSpec::Auto));
        assert_eq!(" AUTO ".parse(), Ok(ShardSpec::Auto));
        assert_eq!("2/3".parse(), Ok(ShardSpec::Fixed(shard(2, 3))));
        let err = "automatic".parse::<ShardSpec>().unwrap_err();
        assert!(matches!(err, ShardError::Syntax(_)), "{err}");
        assert!(err.to_string().contains("or auto"), "{err}");
        assert_eq!(ShardSpec::Auto.to_string(), "auto");
    }

    #[test]
    fn fixed_or_no_shard_ignores_the_environment() {
        let env = |_: &str| -> Option<String> { panic!("the environment is not read") };
        assert_eq!(resolve(None, None, env), Ok(None));
        let r = resolve(Some(ShardSpec::Fixed(shard(2, 3))), None, env)
            .unwrap()
            .unwrap();
        assert_eq!((r.shard, r.from_env), (shard(2, 3), None));
        // --shards belongs to auto alone.
        for spec in [None, Some(ShardSpec::Fixed(shard(2, 3)))] {
            let err = resolve(spec, Some(3), env).unwrap_err();
            assert_eq!(err, ShardError::ShardsWithoutAuto(3));
            assert!(err.to_string().contains("--shard auto only"), "{err}");
        }
    }

    #[test]
    fn kubernetes_index_is_zero_based_with_the_count_from_shards() {
        fn k(i: &str) -> [(&str, &str); 1] {
            [(K8S_INDEX, i)]
        }
        assert_eq!(auto(&k("0"), Some(3)), Ok(shard(1, 3)));
        assert_eq!(auto(&k("2"), Some(3)), Ok(shard(3, 3)));
        let r = resolve(Some(ShardSpec::Auto), Some(3), |v| {
            (v == K8S_INDEX).then(|| "1".to_string())
        })
        .unwrap()
        .unwrap();
        assert_eq!(
            r.from_env.as_deref(),
            Some("JOB_COMPLETION_INDEX=1, --shards 3")
        );
        let err = auto(&k("1"), None).unwrap_err();
        assert_eq!(err, ShardError::NeedShards(1));
        assert!(err.to_string().contains("spec.completions"), "{err}");
        let err = auto(&k("3"), Some(3)).unwrap_err();
        assert_eq!(
            err,
            ShardError::IndexOutOfRange {
                index: 3,
                shards: 3
            }
        );
        assert!(err.to_string().contains("indexes 0 to 2"), "{err}");
        assert_eq!(auto(&k("0"), Some(0)), Err(ShardError::ZeroShards));
        for bad in ["", "x", "-1", "+1", "1.0", " 1"] {
            let err = auto(&k(bad), Some(3)).unwrap_err();
            assert_eq!(
                err,
                ShardError::NotANumber {
                    var: K8S_INDEX,
                    value: bad.into()
                }
            );
            assert!(err.to_string().contains("JOB_COMPLETION_INDEX="), "{err}");
        }
    }

    #[test]
    fn slurm_task_ids_count_from_min_in_steps() {
        let slurm = |id: &str, min: &str, count: &str, step: Option<&str>| {
            let mut v = vec![
                (SLURM_TASK_ID, id.to_string()),
                (SLURM_TASK_MIN, min.to_string()),
                (SLURM_TASK_COUNT, count.to_string()),
            ];
            if let Some(s) = step {
                v.push((SLURM_TASK_STEP, s.to_string()));
            }
            v
        };
        let run = |v: Vec<(&str, String)>, shards| {
            let pairs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
            auto(&pairs, shards)
        };
        // --array=0-3
        assert_eq!(run(slurm("0", "0", "4", Some("1")), None), Ok(shard(1, 4)));
        assert_eq!(run(slurm("3", "0", "4", Some("1")), None), Ok(shard(4, 4)));
        // --array=1-3, STEP unset (older Slurm)
        assert_eq!(run(slurm("2", "1", "3", None), None), Ok(shard(2, 3)));
        // --array=0-15:4 is 0, 4, 8, 12
        assert_eq!(run(slurm("8", "0", "4", Some("4")), None), Ok(shard(3, 4)));
        assert_eq!(
            run(slurm("12", "0", "4", Some("4")), Some(4)),
            Ok(shard(4, 4))
        );
        assert_eq!(
            run(slurm("5", "0", "4", Some("4")), None),
            Err(ShardError::OffStep {
                id: 5,
                min: 0,
                step: 4
            })
        );
        assert_eq!(
            run(slurm("1", "0", "4", Some("0")), None),
            Err(ShardError::ZeroStep)
        );
        // A list such as --array=1,5,9: ids beyond MIN + COUNT × STEP.
        let err = run(slurm("9", "1", "3", Some("1")), None).unwrap_err();
        assert!(
            matches!(err, ShardError::TaskOutOfRange { id: 9, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("--array=0-2"), "{err}");
        assert!(matches!(
            run(slurm("0", "1", "3", None), None),
            Err(ShardError::TaskOutOfRange { id: 0, .. })
        ));
        let err = run(slurm("0", "0", "4", None), Some(3)).unwrap_err();
        assert_eq!(
            err,
            ShardError::ShardsDisagree {
                shards: 3,
                count: 4
            }
        );
        assert!(
            err.to_string().contains("SLURM_ARRAY_TASK_COUNT=4"),
            "{err}"
        );
        let err = run(slurm("0", "0", "four", None), None).unwrap_err();
        assert!(
            matches!(
                err,
                ShardError::NotANumber {
                    var: SLURM_TASK_COUNT,
                    ..
                }
            ),
            "{err}"
        );
        let err = auto(&[(SLURM_TASK_ID, "0"), (SLURM_TASK_COUNT, "2")], None).unwrap_err();
        assert_eq!(err, ShardError::SlurmMissing(SLURM_TASK_MIN));
        assert!(
            err.to_string().contains("SLURM_ARRAY_TASK_MIN is not"),
            "{err}"
        );
    }

    #[test]
    fn auto_without_or_with_both_schedulers_is_refused() {
        let err = auto(&[("HOME", "/root")], Some(3)).unwrap_err();
        assert_eq!(err, ShardError::NoScheduler);
        assert!(
            err.to_string().contains("JOB_COMPLETION_INDEX")
                && err.to_string().contains("SLURM_ARRAY_TASK_ID"),
            "{err}"
        );
        let err = auto(
            &[
                (K8S_INDEX, "0"),
                (SLURM_TASK_ID, "0"),
                (SLURM_TASK_MIN, "0"),
                (SLURM_TASK_COUNT, "2"),
            ],
            Some(2),
        )
        .unwrap_err();
        assert!(matches!(err, ShardError::BothSchedulers { .. }), "{err}");
        assert!(err.to_string().contains("ambiguous"), "{err}");
    }
}
