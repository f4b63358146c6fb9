//! The one result model of a run. Every export format (JSON, CSV, Markdown, console) is
//! written from these structs; nothing else is computed in the exporters.

use crate::dataset::{DocType, ManifestIssue};
use crate::engine::{EngineInfo, Stage};
use crate::score::{
    Confusion, DocumentScore, FieldAggregate, FieldContext, FieldResult, FieldType, SetScore,
    Severity,
};
use crate::sla::Verdict;
use crate::stats::Summary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped when a field changes meaning, so old runs are not misread.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a run produced; serialised as `summary.json` (without the per-document text).
#[derive(schemars::JsonSchema, Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    pub schema_version: u32,
    pub run_id: String,
    /// RFC 3339 start time.
    pub started: String,
    pub config: RunConfig,
    pub environment: Environment,
    /// One group per (DPI, document type), sorted.
    pub groups: Vec<GroupResult>,
    /// One verdict per group that has a profile.
    pub verdicts: Vec<GroupVerdict>,
    /// Per document type across the run's DPIs: the trade-off, the lowest DPI meeting the
    /// SLA and the accuracy/latency Pareto front. Empty for a single-DPI run.
    #[serde(default)]
    pub dpi_study: Vec<DpiStudy>,
    pub totals: Totals,
    /// Manifest lines that were rejected or carried unknown keys.
    pub manifest_issues: Vec<ManifestIssue>,
    /// Every failed document with its error, in run order.
    #[serde(default)]
    pub errors: Vec<DocumentError>,
    /// The shards a `medocr merge` run was made from (empty for a run of its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedShard>,
}

/// A run of `--shard i/n`: which slice of which selection it holds.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// 1-based.
    pub index: usize,
    pub count: usize,
    /// Documents selected before sharding (after `--types` and `--limit`).
    pub selected_documents: usize,
    /// SHA-256 over the selected ids in order: equal for every shard of one evaluation.
    pub selection_sha256: String,
}

/// One shard of a merged run.
#[derive(schemars::JsonSchema, Debug, Clone, Serialize, Deserialize)]
pub struct MergedShard {
    pub run_id: String,
    /// The shard's run folder as given to `medocr merge`.
    pub dir: String,
    /// Its shard index (1-based).
    pub index: usize,
    pub started: String,
    pub wall_time_s: f64,
    /// Results it contributed (documents × DPIs).
    pub results: usize,
    /// The machine it ran on.
    pub environment: Environment,
}

/// One failed document of a run.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentError {
    pub id: String,
    pub doc_type: DocType,
    pub dpi: f32,
    pub kind: ErrorKind,
    pub message: String,
}

impl RunSummary {
    /// `true` when any SLA limit failed: the process exit code follows this.
    pub fn any_failed(&self) -> bool {
        self.verdicts
            .iter()
            .any(|v| v.verdict.status == crate::sla::Status::Fail)
    }

    /// `true` when any group has fewer documents than its minimum.
    pub fn any_insufficient_sample(&self) -> bool {
        self.groups
            .iter()
            .any(|g| g.sample.is_some_and(|s| s.insufficient))
    }

    /// Whether the run fails under `policy`: a failed limit, or (with
    /// [`SamplePolicy::Fail`](crate::sla::SamplePolicy)) a type on too few documents.
    pub fn fails(&self, policy: crate::sla::SamplePolicy) -> bool {
        policy.run_fails(self.any_failed(), self.any_insufficient_sample())
    }
}

/// What makes a run reproducible.
#[derive(schemars::JsonSchema, Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    pub dataset: String,
    pub manifest_sha256: String,
    pub dpis: Vec<f32>,
    pub max_pixels: u64,
    pub engine: EngineInfo,
    pub profiles: String,
    /// SHA-256 over the profile files used, in doc-type order.
    pub profiles_sha256: String,
    /// Full-width ASCII folded before scoring.
    pub fold_width: bool,
    /// Drug formulary and diagnosis-code list of the clinical matchers (`bundled` or a path).
    pub formulary: String,
    pub codes: String,
    /// Error examples quote patient identifiers (`--show-phi`).
    pub phi_shown: bool,
    /// How the engine's answers were read before scoring (`text`, `markdown`, `html`,
    /// `auto`); absent in runs written before `--output-format` (they were read as text).
    #[serde(default = "text_format")]
    pub output_format: crate::score::OutputFormat,
    /// The extraction prompts and schemas of a `--task extract` run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<ExtractConfig>,
    /// Set when the run holds one shard of the selected documents (`--shard i/n`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
}

/// Where a `--task extract` run's prompts and schemas came from.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractConfig {
    /// `bundled`, or the `--extract-prompts` folder.
    pub prompts: String,
    /// SHA-256 over the prompt files used, in document-type order.
    pub sha256: String,
}

fn text_format() -> crate::score::OutputFormat {
    crate::score::OutputFormat::Text
}

/// The machine and build a run ran on.
#[derive(schemars::JsonSchema, Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    pub tool_version: String,
    pub git_commit: Option<String>,
    pub os: String,
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: Option<f64>,
    pub gpu: Option<String>,
}

/// The result for one document at one DPI.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentResult {
    pub id: String,
    pub doc_type: DocType,
    pub dpi: f32,
    /// `pdf` or `scan`.
    pub source_kind: String,
    pub pages: usize,
    /// Pixels of all pages together (the input size the engine saw).
    pub pixels: u64,
    /// Peak resident memory of the process while this document ran, in MiB (Linux).
    #[serde(default)]
    pub peak_rss_mib: Option<f64>,
    /// `None` when the document was read; otherwise what went wrong. A failed document is
    /// scored as an empty output and counts against the error-rate limit.
    pub error: Option<String>,
    /// What kind of failure `error` is (absent in runs written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    /// The engine's output as scored: its canonical text under the run's output format
    /// (kept out of `summary.json`; written to `predictions.jsonl`).
    #[serde(skip)]
    pub text: String,
    /// The engine's answer as it came, when the output format changed it (Markdown, HTML):
    /// written to `predictions.jsonl` as `raw`, which replay reads first.
    #[serde(skip)]
    pub raw: Option<String>,
    pub score: DocumentScore,
    pub timing: Timing,
    /// The document's fields asked for as JSON (`--task extract`) and judged; absent for
    /// a transcription-only run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extraction: Option<Extraction>,
}

impl DocumentResult {
    /// Whether a request of this document failed: the transcription, or the extraction
    /// (including an answer that is not valid JSON). Counted against the error rate.
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.extraction.as_ref().is_some_and(|e| e.error.is_some())
    }
}

/// One document's extraction (`--task extract`): its JSON answer read as fields and judged
/// field by field with the clinical matchers (`score::extract`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Extraction {
    /// `None` when the answer was read; otherwise why not. The fields are then judged
    /// against nothing, so every one of them counts as missed.
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    /// One verdict per ground-truth field.
    pub fields: Vec<FieldResult>,
    /// Drug names and diagnosis codes as sets: extracted extras are false positives.
    pub field_sets: Vec<SetScore>,
    /// Wall time of the extraction request, ms (`None` for untimed engines).
    pub e2e_ms: Option<f64>,
    pub output_tokens: usize,
    /// The answer as it came: written to `predictions.jsonl` as `extraction`.
    #[serde(skip)]
    pub answer: String,
    /// The fields read from it: written to `predictions.jsonl` as `fields`.
    #[serde(skip)]
    pub parsed: Option<crate::dataset::Fields>,
}

impl Extraction {
    /// Ground-truth fields extracted right, and fields in all.
    pub fn right_of_total(&self) -> (usize, usize) {
        let right = self.fields.iter().filter(|f| f.correct).count();
        (right, self.fields.len())
    }

    /// Critical errors among the extracted fields.
    pub fn critical(&self) -> usize {
        self.fields
            .iter()
            .filter(|f| {
                f.error
                    .as_ref()
                    .is_some_and(|e| e.severity == Severity::Critical)
            })
            .count()
    }
}

/// Why a document has no result: the error catalogue of `docs/reliability.md`.
#[derive(
    schemars::JsonSchema,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The source could not be rendered: missing, corrupt, truncated, encrypted or
    /// zero-page PDF, unreadable image, page over the pixel budget.
    Input,
    /// The engine ran past the per-page time limit and was killed.
    Timeout,
    /// The engine died: killed by a signal, or panicked.
    Crash,
    /// The engine returned something that is not text.
    Garbage,
    /// Any other engine failure (non-zero exit, missing prediction, I/O).
    Engine,
    /// An extraction answer (`--task extract`) that is not JSON, or JSON of the wrong shape.
    InvalidJson,
    /// An extraction answer whose JSON stops before its end (cut off, e.g. by `max_tokens`).
    TruncatedJson,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Input => "input",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Crash => "crash",
            ErrorKind::Garbage => "garbage",
            ErrorKind::Engine => "engine",
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::TruncatedJson => "truncated_json",
        }
    }
}

/// Per-request timing (DESIGN.md "Timing metrics"); all in milliseconds from request start.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Timing {
    /// `false` for untimed engines (replay).
    pub timed: bool,
    pub ttft_ms: Option<f64>,
    pub e2e_ms: Option<f64>,
    /// (E2E − TTFT) / (N_out − 1), only for streaming engines with N_out ≥ 2.
    pub tpot_ms: Option<f64>,
    /// Gaps between consecutive token events (or chunks), in ms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub itl_ms: Vec<f64>,
    pub output_tokens: usize,
    pub input_tokens: Option<usize>,
    /// Of `input_tokens`, those served from a prefix cache (the server's
    /// `usage.prompt_tokens_details.cached_tokens`, the built-in model's reused crop
    /// encodings); absent where the engine does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<usize>,
    /// Number of token events the engine emitted.
    pub events: usize,
    /// Pages answered without the server's `usage` (the openai engine): for them
    /// `output_tokens` counts stream chunks, not the server's tokens, and `input_tokens`
    /// is missing. A flagged fallback, never silent.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pages_without_usage: usize,
    pub stages_ms: BTreeMap<Stage, f64>,
}

/// Aggregates for one (DPI, document type).
#[derive(schemars::JsonSchema, Debug, Clone, Serialize, Deserialize)]
pub struct GroupResult {
    pub doc_type: DocType,
    pub dpi: f32,
    pub documents: usize,
    /// The documents against the minimum per type (the profile's `min_documents`, else
    /// the seed's 50): marked "insufficient sample" in every report when fewer (absent in
    /// runs written before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<crate::stats::SampleSize>,
    pub failed: usize,
    /// failed / documents.
    #[serde(default)]
    pub error_rate: Option<f64>,
    pub pages: usize,
    /// Micro averages with their counts, so groups can be re-aggregated.
    pub cer: Rate,
    pub cer_no_space: Rate,
    pub cer_jamo: Rate,
    pub wer: Rate,
    /// Order-independent CER and reading order over the group (`score::order`, micro sums);
    /// absent for runs written before them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<crate::score::OrderScore>,
    /// TEDS and cell accuracy over the documents whose answer and reference have tables
    /// (`score::table`); absent when none had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<crate::score::TableScore>,
    /// Per field type: accuracy over located fields.
    pub fields: Vec<FieldAggregate>,
    /// Micro set P/R/F1: diagnosis codes, their 3-character categories, drug names.
    pub field_sets: Vec<SetScore>,
    /// Field errors by clinical severity and rule, with redacted examples.
    pub clinical: ClinicalSummary,
    /// The most frequent character confusions (reference → recognised).
    pub confusions: Vec<Confusion>,
    pub latency: LatencyAggregate,
    pub throughput: Throughput,
    pub resources: Resources,
    /// Extraction over the group (`--task extract`); absent for transcription-only runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extraction: Option<ExtractionGroup>,
}

/// The extractions of a group: accuracy over every ground-truth field, per field type, as
/// sets, by clinical severity, and how many answers could not be read.
#[derive(schemars::JsonSchema, Debug, Clone, Serialize, Deserialize)]
pub struct ExtractionGroup {
    pub documents: usize,
    /// Documents whose extraction failed (engine error, invalid or truncated JSON).
    pub failed: usize,
    /// Ground-truth fields extracted right, and in all: `accuracy = right / total`.
    pub right: usize,
    pub total: usize,
    pub accuracy: Option<f64>,
    pub fields: Vec<FieldAggregate>,
    pub field_sets: Vec<SetScore>,
    pub clinical: ClinicalSummary,
    /// Wall time of the extraction requests that succeeded.
    pub e2e_ms: Option<Summary>,
}

impl GroupResult {
    /// Order-independent corpus CER (`None` for runs without order scores).
    pub fn cer_unordered(&self) -> Option<f64> {
        self.order.and_then(|o| o.rate)
    }

    /// Reading-order score of the matched lines.
    pub fn reading_order(&self) -> Option<f64> {
        self.order.and_then(|o| o.reading_order)
    }
}

/// What a group's pages cost in memory and input size.
#[derive(schemars::JsonSchema, Debug, Clone, Default, Serialize, Deserialize)]
pub struct Resources {
    /// Largest per-document peak resident memory of the process, MiB (Linux).
    pub peak_rss_mib: Option<f64>,
    /// Mean rendered pixels per page.
    pub pixels_per_page: Option<f64>,
    /// Mean engine input tokens per page (the built-in model's encoder positions).
    pub image_tokens_per_page: Option<f64>,
}

/// One document type across DPIs.
#[derive(schemars::JsonSchema, Debug, Clone, Serialize, Deserialize)]
pub struct DpiStudy {
    pub doc_type: DocType,
    /// One point per DPI, ascending.
    pub points: Vec<DpiPoint>,
    /// The lowest DPI whose SLA verdict passes: the recommended operating point.
    pub recommended_dpi: Option<f32>,
    /// The type's documents against its minimum (the same at every DPI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<crate::stats::SampleSize>,
}

/// One (document type, DPI) of the study.
#[derive(schemars::JsonSchema, Debug, Clone, Serialize, Deserialize)]
pub struct DpiPoint {
    pub dpi: f32,
    pub cer: Option<f64>,
    /// Lowest accuracy over the type's field types.
    pub worst_field_accuracy: Option<f64>,
    pub critical_errors: usize,
    pub p50_e2e_ms: Option<f64>,
    pub p95_e2e_ms: Option<f64>,
    pub p50_ttft_ms: Option<f64>,
    /// Those percentiles rest on too few samples (`stats::sample`; absent in runs written
    /// before them).
    #[serde(default)]
    pub p50_e2e_low_sample: bool,
    #[serde(default)]
    pub p95_e2e_low_sample: bool,
    #[serde(default)]
    pub p50_ttft_low_sample: bool,
    pub resources: Resources,
    /// The SLA verdict at this DPI (`None` without a profile).
    pub sla: Option<crate::sla::Status>,
    /// Not dominated in (CER, p95 E2E): no other DPI is at least as good on both and
    /// better on one.
    pub pareto: bool,
}

/// Field errors of a group by severity.
#[derive(schemars::JsonSchema, Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClinicalSummary {
    pub critical: usize,
    pub major: usize,
    pub minor: usize,
    /// Critical field errors per 1,000 documents; `None` for an empty group.
    pub critical_per_1000_docs: Option<f64>,
    /// Error count per rule, most frequent first.
    pub rules: Vec<RuleCount>,
    /// Matcher notes (glyph confusions such as `code.glyph_confusion: I→1`, error-prone
    /// dose notation), most frequent first.
    pub notes: Vec<NoteCount>,
    /// A few errors with their line, most severe first; redacted unless the run was
    /// asked to show patient data.
    pub examples: Vec<ErrorExample>,
}

#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCount {
    pub rule: String,
    pub severity: Severity,
    pub count: usize,
}

#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteCount {
    pub note: String,
    pub count: usize,
}

/// One field error, quoted for a reviewer.
#[derive(schemars::JsonSchema, Debug, Clone, Serialize, Deserialize)]
pub struct ErrorExample {
    pub document: String,
    pub key: String,
    pub field_type: FieldType,
    pub severity: Severity,
    pub rule: String,
    pub detail: String,
    pub expected: String,
    pub found: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<FieldContext>,
}

/// A micro-averaged error rate: (S + D + I) / N.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    pub reference_units: usize,
    /// `None` when N = 0.
    pub rate: Option<f64>,
}

impl Rate {
    pub fn edits(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    /// Adds another rate's counts and recomputes the ratio.
    pub fn add(&mut self, s: usize, d: usize, i: usize, n: usize) {
        self.substitutions += s;
        self.deletions += d;
        self.insertions += i;
        self.reference_units += n;
        self.rate =
            (self.reference_units > 0).then(|| self.edits() as f64 / self.reference_units as f64);
    }
}

#[derive(schemars::JsonSchema, Debug, Clone, Default, Serialize, Deserialize)]
pub struct LatencyAggregate {
    pub e2e_ms: Option<Summary>,
    pub ttft_ms: Option<Summary>,
    pub tpot_ms: Option<Summary>,
    pub itl_ms: Option<Summary>,
    /// Mean time per stage across documents.
    pub stages_mean_ms: BTreeMap<Stage, f64>,
    /// Set when TTFT equals E2E because the engine does not stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(schemars::JsonSchema, Debug, Clone, Default, Serialize, Deserialize)]
pub struct Throughput {
    /// Output tokens / summed E2E time of the group's documents (documents run one at a time).
    pub tokens_per_s: Option<f64>,
    pub pages_per_s: Option<f64>,
}

#[derive(schemars::JsonSchema, Debug, Clone, Serialize, Deserialize)]
pub struct GroupVerdict {
    pub dpi: f32,
    pub verdict: Verdict,
}

#[derive(schemars::JsonSchema, Debug, Clone, Default, Serialize, Deserialize)]
pub struct Totals {
    pub documents: usize,
    pub failed: usize,
    /// failed / documents: every failed document is a failed request.
    #[serde(default)]
    pub error_rate: Option<f64>,
    /// Failed documents by kind.
    #[serde(default)]
    pub errors_by_kind: BTreeMap<ErrorKind, usize>,
    pub pages: usize,
    pub cer: Rate,
    pub wer: Rate,
    pub wall_time_s: f64,
    /// Documents with a page answered without the server's `usage`: their output token
    /// counts are chunk counts ([`Timing::pages_without_usage`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub documents_without_usage: usize,
    /// Pages / wall time of the whole run.
    pub pages_per_s: Option<f64>,
    pub output_tokens_per_s: Option<f64>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
