//! Per-pair scores, the statistics of [`super`]'s module docs and their paired bootstrap.

use super::gate::{judge, Direction, Margins, Verdict};
use super::load::PredictionRecord;
use crate::dataset::{DocType, Document};
use crate::score::{score_with, DocumentScore, FieldType, Knowledge, ScoreOptions, Severity};
use crate::stats::{
    bootstrap_ci, percentile, percentile_low_sample, BootstrapConfig, ConfidenceInterval,
    SampleSize, StatsError,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

const FIELD_TYPES: usize = FieldType::ALL.len();

fn field_index(t: FieldType) -> usize {
    FieldType::ALL
        .iter()
        .position(|&x| x == t)
        .expect("ALL lists every field type")
}

/// One side's numbers for one document at one DPI.
#[derive(Debug, Clone, PartialEq)]
pub struct SideScore {
    pub dpi: f32,
    /// S + D + I over grapheme clusters (N1) and over words.
    pub cer_edits: usize,
    pub wer_edits: usize,
    /// Per field type (index in [`FieldType::ALL`]): correct and located fields.
    pub field_correct: [usize; FIELD_TYPES],
    pub field_located: [usize; FIELD_TYPES],
    /// Located fields whose error is critical.
    pub critical: usize,
    /// The engine failed on the document (scored as an empty output).
    pub failed: bool,
    pub e2e_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
}

impl SideScore {
    pub fn from_score(score: &DocumentScore, record: &PredictionRecord) -> SideScore {
        let mut field_correct = [0; FIELD_TYPES];
        let mut field_located = [0; FIELD_TYPES];
        let mut critical = 0;
        for f in score.fields.iter().filter(|f| f.located) {
            let i = field_index(f.field_type);
            field_located[i] += 1;
            field_correct[i] += usize::from(f.correct);
            if f.error
                .as_ref()
                .is_some_and(|e| e.severity == Severity::Critical)
            {
                critical += 1;
            }
        }
        SideScore {
            dpi: record.dpi,
            cer_edits: score.cer.edits(),
            wer_edits: score.wer.edits(),
            field_correct,
            field_located,
            critical,
            failed: record.error.is_some(),
            e2e_ms: record.e2e_ms,
            ttft_ms: record.ttft_ms,
        }
    }
}

/// A document scored on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct PairScore {
    pub id: String,
    pub doc_type: DocType,
    /// Reference length N in clusters and in words (the same for both sides).
    pub cer_n: usize,
    pub wer_n: usize,
    pub baseline: SideScore,
    pub candidate: SideScore,
}

impl PairScore {
    /// Scores both predictions against `doc` with the same options and knowledge.
    pub fn score(
        doc: &Document,
        baseline: &PredictionRecord,
        candidate: &PredictionRecord,
        opts: &ScoreOptions,
        knowledge: &Knowledge,
    ) -> PairScore {
        let b = score_with(doc, &baseline.text, opts, knowledge);
        let c = score_with(doc, &candidate.text, opts, knowledge);
        PairScore {
            id: doc.id.clone(),
            doc_type: doc.doc_type,
            cer_n: b.cer.ref_len,
            wer_n: b.wer.ref_len,
            baseline: SideScore::from_score(&b, baseline),
            candidate: SideScore::from_score(&c, candidate),
        }
    }

    /// Same edits, field results and critical errors on both sides (timing aside).
    pub fn identical(&self) -> bool {
        let (b, c) = (&self.baseline, &self.candidate);
        b.cer_edits == c.cer_edits
            && b.wer_edits == c.wer_edits
            && b.field_correct == c.field_correct
            && b.field_located == c.field_located
            && b.critical == c.critical
            && b.failed == c.failed
    }

    fn side(&self, side: Side) -> &SideScore {
        match side {
            Side::Baseline => &self.baseline,
            Side::Candidate => &self.candidate,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Baseline,
    Candidate,
}

/// The compared statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKind {
    Cer,
    Wer,
    FieldAccuracy(FieldType),
    CriticalPerDocument,
    E2eP50,
    E2eP95,
    TtftP50,
    TtftP95,
}

impl MetricKind {
    /// The key in `compare.json` (`cer`, `field_accuracy.drug_name`, `e2e_p95_ms`, …).
    pub fn key(self) -> String {
        match self {
            MetricKind::Cer => "cer".into(),
            MetricKind::Wer => "wer".into(),
            MetricKind::FieldAccuracy(t) => format!("field_accuracy.{}", t.as_str()),
            MetricKind::CriticalPerDocument => "critical_per_document".into(),
            MetricKind::E2eP50 => "e2e_p50_ms".into(),
            MetricKind::E2eP95 => "e2e_p95_ms".into(),
            MetricKind::TtftP50 => "ttft_p50_ms".into(),
            MetricKind::TtftP95 => "ttft_p95_ms".into(),
        }
    }

    /// A short human label (`CER`, `acc drug_name`, `p95 E2E`, …).
    pub fn label(self) -> String {
        match self {
            MetricKind::Cer => "CER".into(),
            MetricKind::Wer => "WER".into(),
            MetricKind::FieldAccuracy(t) => format!("acc {}", t.as_str()),
            MetricKind::CriticalPerDocument => "critical/doc".into(),
            MetricKind::E2eP50 => "p50 E2E".into(),
            MetricKind::E2eP95 => "p95 E2E".into(),
            MetricKind::TtftP50 => "p50 TTFT".into(),
            MetricKind::TtftP95 => "p95 TTFT".into(),
        }
    }

    pub fn direction(self) -> Direction {
        match self {
            MetricKind::FieldAccuracy(_) => Direction::LowerIsWorse,
            _ => Direction::HigherIsWorse,
        }
    }

    /// A rate in [0, 1] (shown in percent, differences in points).
    pub fn is_rate(self) -> bool {
        matches!(
            self,
            MetricKind::Cer | MetricKind::Wer | MetricKind::FieldAccuracy(_)
        )
    }

    pub fn is_latency(self) -> bool {
        self.latency().is_some()
    }

    /// (E2E?, percentile) of a latency metric.
    /// Whether the statistic is defined on a unit of pairs: `N > 0` for CER and WER, a
    /// located field of the type for field accuracy (latency is filtered per pair).
    fn defined_on(self, pairs: &[PairScore], unit: &[usize]) -> bool {
        let each = || unit.iter().map(|&i| &pairs[i]);
        match self {
            MetricKind::Cer => each().any(|p| p.cer_n > 0),
            MetricKind::Wer => each().any(|p| p.wer_n > 0),
            MetricKind::FieldAccuracy(t) => {
                let k = field_index(t);
                each().any(|p| p.baseline.field_located[k] + p.candidate.field_located[k] > 0)
            }
            _ => true,
        }
    }

    fn latency(self) -> Option<(bool, f64)> {
        match self {
            MetricKind::E2eP50 => Some((true, 50.0)),
            MetricKind::E2eP95 => Some((true, 95.0)),
            MetricKind::TtftP50 => Some((false, 50.0)),
            MetricKind::TtftP95 => Some((false, 95.0)),
            _ => None,
        }
    }

    fn from_key(key: &str) -> Option<MetricKind> {
        Some(match key {
            "cer" => MetricKind::Cer,
            "wer" => MetricKind::Wer,
            "critical_per_document" => MetricKind::CriticalPerDocument,
            "e2e_p50_ms" => MetricKind::E2eP50,
            "e2e_p95_ms" => MetricKind::E2eP95,
            "ttft_p50_ms" => MetricKind::TtftP50,
            "ttft_p95_ms" => MetricKind::TtftP95,
            k => {
                let t = k.strip_prefix("field_accuracy.")?;
                MetricKind::FieldAccuracy(*FieldType::ALL.iter().find(|f| f.as_str() == t)?)
            }
        })
    }

    /// The absolute margin on the harm side, in the metric's units (`None`: not gated).
    /// Latency margins are relative to the baseline's estimate.
    fn margin(self, m: &Margins, baseline: Option<f64>) -> Option<f64> {
        match self {
            MetricKind::Cer => Some(m.cer / 100.0),
            MetricKind::Wer => Some(m.wer / 100.0),
            MetricKind::FieldAccuracy(_) => Some(m.field_accuracy / 100.0),
            MetricKind::CriticalPerDocument => Some(m.critical_per_document),
            MetricKind::E2eP95 => baseline.map(|b| m.p95_e2e / 100.0 * b),
            MetricKind::TtftP95 => baseline.map(|b| m.p95_ttft / 100.0 * b),
            MetricKind::E2eP50 | MetricKind::TtftP50 => None,
        }
    }

    /// θ_side over the pairs of `units` (see the module docs of [`super`]); `None` when
    /// undefined.
    fn value(self, pairs: &[PairScore], units: &[&[usize]], side: Side) -> Option<f64> {
        let each = || units.iter().flat_map(|u| u.iter()).map(|&i| &pairs[i]);
        let ratio = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
        match self {
            MetricKind::Cer => ratio(
                each().map(|p| p.side(side).cer_edits).sum(),
                each().map(|p| p.cer_n).sum(),
            ),
            MetricKind::Wer => ratio(
                each().map(|p| p.side(side).wer_edits).sum(),
                each().map(|p| p.wer_n).sum(),
            ),
            MetricKind::FieldAccuracy(t) => {
                let k = field_index(t);
                ratio(
                    each().map(|p| p.side(side).field_correct[k]).sum(),
                    each().map(|p| p.side(side).field_located[k]).sum(),
                )
            }
            MetricKind::CriticalPerDocument => {
                ratio(each().map(|p| p.side(side).critical).sum(), each().count())
            }
            _ => {
                let (e2e, q) = self.latency().expect("latency metric");
                let values: Vec<f64> = each().filter_map(|p| latency(p.side(side), e2e)).collect();
                if values.is_empty() {
                    None
                } else {
                    percentile(&values, q).ok()
                }
            }
        }
    }
}

fn latency(s: &SideScore, e2e: bool) -> Option<f64> {
    if e2e {
        s.e2e_ms
    } else {
        s.ttft_ms
    }
}

impl Serialize for MetricKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.key())
    }
}

impl<'de> Deserialize<'de> for MetricKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let key = String::deserialize(d)?;
        MetricKind::from_key(&key)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown metric `{key}`")))
    }
}

/// One metric of one group: both sides, the difference and its interval, the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    pub metric: MetricKind,
    pub direction: Direction,
    pub baseline: Option<f64>,
    pub candidate: Option<f64>,
    /// `candidate − baseline`.
    pub delta: Option<f64>,
    /// Paired bootstrap interval of `delta`.
    pub ci: Option<ConfidenceInterval>,
    /// The largest tolerated harm, absolute in the metric's units (`None`: not gated).
    pub margin: Option<f64>,
    /// Documents (units) in the bootstrap sample.
    pub samples: usize,
    /// A latency percentile resting on too few pairs (`stats::sample`'s rule: p95 needs
    /// 20); reports mark both sides' values with †. Always `false` for other metrics.
    #[serde(default)]
    pub low_sample: bool,
    pub verdict: Verdict,
}

/// The metrics of one group of documents (`all` or one document type).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupComparison {
    /// `all` or the document type.
    pub group: String,
    pub doc_type: Option<DocType>,
    /// Paired documents and document × DPI pairs.
    pub documents: usize,
    pub pairs: usize,
    /// A document type's paired documents against the runs' minimum per type
    /// (`super::sample`); absent for `all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<SampleSize>,
    pub metrics: Vec<MetricComparison>,
}

/// The groups `all` and one per document type, each with every defined metric.
pub fn compare_groups(
    pairs: &[PairScore],
    cfg: &BootstrapConfig,
    margins: &Margins,
) -> Result<Vec<GroupComparison>, StatsError> {
    // Units: a document with its pairs (several when pairing by id and DPI).
    let mut by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in pairs.iter().enumerate() {
        by_id.entry(p.id.as_str()).or_default().push(i);
    }
    let units: Vec<&[usize]> = by_id.values().map(Vec::as_slice).collect();
    let mut groups = vec![group(pairs, "all".into(), None, &units, cfg, margins)?];
    for t in DocType::ALL {
        let sub: Vec<&[usize]> = units
            .iter()
            .copied()
            .filter(|u| pairs[u[0]].doc_type == t)
            .collect();
        if !sub.is_empty() {
            groups.push(group(pairs, t.to_string(), Some(t), &sub, cfg, margins)?);
        }
    }
    Ok(groups)
}

fn group(
    pairs: &[PairScore],
    name: String,
    doc_type: Option<DocType>,
    units: &[&[usize]],
    cfg: &BootstrapConfig,
    margins: &Margins,
) -> Result<GroupComparison, StatsError> {
    let each = || units.iter().flat_map(|u| u.iter()).map(|&i| &pairs[i]);
    let mut kinds = Vec::new();
    if each().any(|p| p.cer_n > 0) {
        kinds.push(MetricKind::Cer);
    }
    if each().any(|p| p.wer_n > 0) {
        kinds.push(MetricKind::Wer);
    }
    for t in FieldType::ALL {
        let k = field_index(t);
        if each().any(|p| p.baseline.field_located[k] + p.candidate.field_located[k] > 0) {
            kinds.push(MetricKind::FieldAccuracy(t));
        }
    }
    kinds.extend([
        MetricKind::CriticalPerDocument,
        MetricKind::E2eP50,
        MetricKind::E2eP95,
        MetricKind::TtftP50,
        MetricKind::TtftP95,
    ]);
    let metrics = kinds
        .into_iter()
        .map(|k| metric(k, pairs, units, cfg, margins))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(GroupComparison {
        group: name,
        doc_type,
        documents: units.len(),
        pairs: each().count(),
        sample: None,
        metrics,
    })
}

/// One metric over `units`, with its paired bootstrap interval and verdict.
pub(super) fn metric(
    kind: MetricKind,
    pairs: &[PairScore],
    units: &[&[usize]],
    cfg: &BootstrapConfig,
    margins: &Margins,
) -> Result<MetricComparison, StatsError> {
    // Latency: only the pairs timed on both sides.
    let timed: Vec<Vec<usize>> = match kind.latency() {
        Some((e2e, _)) => units
            .iter()
            .map(|u| {
                u.iter()
                    .copied()
                    .filter(|&i| {
                        latency(&pairs[i].baseline, e2e).is_some()
                            && latency(&pairs[i].candidate, e2e).is_some()
                    })
                    .collect::<Vec<usize>>()
            })
            .filter(|u| !u.is_empty())
            .collect(),
        None => Vec::new(),
    };
    // Every other metric: the units on which it is defined.
    let sample: Vec<&[usize]> = if kind.is_latency() {
        timed.iter().map(Vec::as_slice).collect()
    } else {
        units
            .iter()
            .copied()
            .filter(|u| kind.defined_on(pairs, u))
            .collect()
    };
    let (baseline, candidate) = if sample.is_empty() {
        // Not measured on both sides: show what each side has on its own.
        (
            kind.value(pairs, units, Side::Baseline),
            kind.value(pairs, units, Side::Candidate),
        )
    } else {
        (
            kind.value(pairs, &sample, Side::Baseline),
            kind.value(pairs, &sample, Side::Candidate),
        )
    };
    let not_measured = MetricComparison {
        metric: kind,
        direction: kind.direction(),
        baseline,
        candidate,
        delta: None,
        ci: None,
        margin: kind.margin(margins, baseline),
        samples: sample.len(),
        low_sample: low_sample(kind, pairs, units, &sample),
        verdict: Verdict::NotMeasured,
    };
    let (Some(b), Some(c)) = (baseline, candidate) else {
        return Ok(not_measured);
    };
    if sample.is_empty() {
        return Ok(not_measured);
    }
    let ci = bootstrap_ci(
        &sample,
        |res| match (
            kind.value(pairs, res, Side::Baseline),
            kind.value(pairs, res, Side::Candidate),
        ) {
            (Some(b), Some(c)) => c - b,
            _ => 0.0,
        },
        cfg,
    )?;
    let margin = kind.margin(margins, Some(b));
    Ok(MetricComparison {
        metric: kind,
        direction: kind.direction(),
        baseline: Some(b),
        candidate: Some(c),
        delta: Some(c - b),
        ci: Some(ci),
        margin,
        samples: sample.len(),
        low_sample: low_sample(kind, pairs, units, &sample),
        verdict: judge(&ci, kind.direction(), margin),
    })
}

/// Whether a latency percentile rests on too few pairs: those timed on both sides, or,
/// when none is (each side's value is then its own), those timed on either side. No
/// timing at all is "not measured", not low-sample.
fn low_sample(
    kind: MetricKind,
    pairs: &[PairScore],
    units: &[&[usize]],
    sample: &[&[usize]],
) -> bool {
    let Some((e2e, q)) = kind.latency() else {
        return false;
    };
    let n = if sample.is_empty() {
        units
            .iter()
            .flat_map(|u| u.iter())
            .filter(|&&i| {
                latency(&pairs[i].baseline, e2e).is_some()
                    || latency(&pairs[i].candidate, e2e).is_some()
            })
            .count()
    } else {
        sample.iter().map(|u| u.len()).sum()
    };
    n > 0 && percentile_low_sample(q, n)
}
