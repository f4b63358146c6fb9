//! Reading a run folder: `summary.json` (only the fields a comparison needs, so runs of
//! older or newer minor layouts still load), `predictions.jsonl` and the timing columns
//! of `documents.csv`.

use super::CompareError;
use crate::dataset::DocType;
use crate::engine::EngineInfo;
use crate::report::SCHEMA_VERSION;
use crate::stats::SampleSize;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// One prediction of a run (one document at one DPI) with its timing.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRecord {
    pub id: String,
    pub dpi: f32,
    /// The engine's output as the run scored it; empty when `error` is set.
    pub text: String,
    /// The answer before the run's output format made it `text` (absent when equal).
    pub raw: Option<String>,
    pub error: Option<String>,
    pub e2e_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
}

/// A run folder, loaded.
#[derive(Debug, Clone)]
pub struct LoadedRun {
    pub dir: PathBuf,
    pub run_id: String,
    /// `config.dataset` as recorded.
    pub dataset: String,
    pub manifest_sha256: String,
    pub engine: EngineInfo,
    pub records: Vec<PredictionRecord>,
    /// The minimum documents per type the run was checked against (its groups'
    /// `sample.minimum`; empty for runs written before the sample marks).
    pub min_documents: BTreeMap<DocType, usize>,
}

#[derive(Deserialize)]
struct SummaryView {
    schema_version: u32,
    run_id: String,
    config: ConfigView,
    #[serde(default)]
    groups: Vec<GroupView>,
}

#[derive(Deserialize)]
struct GroupView {
    doc_type: DocType,
    #[serde(default)]
    sample: Option<SampleSize>,
}

#[derive(Deserialize)]
struct ConfigView {
    dataset: String,
    manifest_sha256: String,
    #[serde(default)]
    dpis: Vec<f32>,
    engine: EngineInfo,
}

#[derive(Deserialize)]
struct PredictionLine {
    id: String,
    #[serde(default)]
    dpi: Option<f32>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    raw: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

impl LoadedRun {
    /// Reads every answer again in `format` (from `raw` where the run kept it), instead of
    /// the text the run scored: compares runs made with different `--output-format`s.
    pub fn reread(&mut self, format: crate::score::OutputFormat) {
        for r in &mut self.records {
            let answer = r.raw.as_deref().unwrap_or(&r.text);
            r.text = crate::score::canonicalize(answer, format).text;
        }
    }

    pub fn load(dir: &Path) -> Result<LoadedRun, CompareError> {
        let summary_path = dir.join("summary.json");
        if !summary_path.is_file() {
            return Err(CompareError::NotARun {
                path: dir.to_path_buf(),
            });
        }
        let bytes = read(&summary_path)?;
        let summary: SummaryView =
            serde_json::from_slice(&bytes).map_err(|e| CompareError::Parse {
                path: summary_path.clone(),
                line: None,
                message: format!("not a run summary ({e}); was it written by medocr run or score?"),
            })?;
        if summary.schema_version > SCHEMA_VERSION {
            return Err(CompareError::Parse {
                path: summary_path,
                line: None,
                message: format!(
                    "schema_version {} is newer than this medocr understands ({SCHEMA_VERSION}); use the medocr that wrote the run",
                    summary.schema_version
                ),
            });
        }
        let timing = read_timing(&dir.join("documents.csv"))?;
        let pred_path = dir.join("predictions.jsonl");
        let text = String::from_utf8(read(&pred_path)?).map_err(|_| CompareError::Parse {
            path: pred_path.clone(),
            line: None,
            message: "predictions must be UTF-8".into(),
        })?;
        let single_dpi = (summary.config.dpis.len() == 1).then(|| summary.config.dpis[0]);
        let mut records = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parse_err = |message: String| CompareError::Parse {
                path: pred_path.clone(),
                line: Some(i + 1),
                message,
            };
            let p: PredictionLine = serde_json::from_str(line).map_err(|e| {
                parse_err(format!(
                    "not a prediction ({e}); each line must be {{\"id\", \"dpi\", \"text\", \"error\"}}"
                ))
            })?;
            let dpi = p.dpi.or(single_dpi).ok_or_else(|| {
                parse_err(format!(
                    "prediction '{}' has no dpi and the run has several DPIs",
                    p.id
                ))
            })?;
            if !seen.insert((p.id.clone(), dpi.to_bits())) {
                return Err(parse_err(format!(
                    "duplicate prediction for '{}' at {dpi} DPI",
                    p.id
                )));
            }
            let (e2e_ms, ttft_ms) = timing
                .get(&(p.id.clone(), dpi.to_bits()))
                .copied()
                .unwrap_or((None, None));
            records.push(PredictionRecord {
                text: if p.error.is_some() {
                    String::new()
                } else {
                    p.text
                },
                raw: p.raw.filter(|_| p.error.is_none()),
                id: p.id,
                dpi,
                error: p.error,
                e2e_ms,
                ttft_ms,
            });
        }
        Ok(LoadedRun {
            dir: dir.to_path_buf(),
            run_id: summary.run_id,
            dataset: summary.config.dataset,
            manifest_sha256: summary.config.manifest_sha256,
            engine: summary.config.engine,
            records,
            min_documents: summary
                .groups
                .iter()
                .filter_map(|g| Some((g.doc_type, g.sample?.minimum)))
                .collect(),
        })
    }

    /// The records at `dpi` (all when `None`); an error names the run's DPIs and `flag`.
    pub fn select_dpi(
        &self,
        dpi: Option<f32>,
        side: &str,
        flag: &str,
    ) -> Result<Vec<&PredictionRecord>, CompareError> {
        let out: Vec<&PredictionRecord> = self
            .records
            .iter()
            .filter(|r| dpi.is_none_or(|d| r.dpi == d))
            .collect();
        if out.is_empty() {
            let mut dpis: Vec<f32> = self.records.iter().map(|r| r.dpi).collect();
            dpis.sort_by(f32::total_cmp);
            dpis.dedup();
            let list = dpis
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(CompareError::Dpi(match dpi {
                Some(d) => format!(
                    "{flag} {d}: the {side} run {} has predictions at {list} DPI only",
                    self.dir.display()
                ),
                None => format!(
                    "the {side} run {} has no prediction: {} is empty",
                    self.dir.display(),
                    self.dir.join("predictions.jsonl").display()
                ),
            }));
        }
        Ok(out)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CompareError> {
    std::fs::read(path).map_err(|source| CompareError::Read {
        path: path.to_path_buf(),
        source,
    })
}

type TimingMap = HashMap<(String, u32), (Option<f64>, Option<f64>)>;

/// `(id, dpi bits) → (e2e_ms, ttft_ms)` from `documents.csv`; empty cells are `None`.
fn read_timing(path: &Path) -> Result<TimingMap, CompareError> {
    let bytes = read(path)?;
    let err = |line: Option<usize>, message: String| CompareError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    let headers = r
        .headers()
        .map_err(|e| err(Some(1), e.to_string()))?
        .clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            err(
                Some(1),
                format!(
                    "no `{name}` column; documents.csv of a run has id, dpi, e2e_ms and ttft_ms"
                ),
            )
        })
    };
    let (id, dpi, e2e, ttft) = (col("id")?, col("dpi")?, col("e2e_ms")?, col("ttft_ms")?);
    let mut out = HashMap::new();
    for (i, rec) in r.records().enumerate() {
        let line = Some(i + 2);
        let rec = rec.map_err(|e| err(line, e.to_string()))?;
        let field = |c: usize| rec.get(c).unwrap_or("").trim();
        let d: f32 = field(dpi)
            .parse()
            .map_err(|_| err(line, format!("dpi `{}` is not a number", field(dpi))))?;
        let ms = |c: usize, name: &str| -> Result<Option<f64>, CompareError> {
            let v = field(c);
            if v.is_empty() {
                return Ok(None);
            }
            let x: f64 = v
                .parse()
                .map_err(|_| err(line, format!("{name} `{v}` is not a number")))?;
            Ok(x.is_finite().then_some(x))
        };
        out.insert(
            (field(id).to_string(), d.to_bits()),
            (ms(e2e, "e2e_ms")?, ms(ttft, "ttft_ms")?),
        );
    }
    Ok(out)
}
