//! `medocr compare`: the release gate between a baseline run and a candidate run.

use super::export::JsonTarget;
use super::out::console;
use anyhow::Context;
use clap::Args;
use medocr::compare::{self, CompareOptions, Margins};
use medocr::score::{Knowledge, NormOptions, ScoreOptions};
use medocr::sla::SamplePolicy;
use medocr::stats::BootstrapConfig;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The baseline run: a run folder (reports/<run-id>/) or a run id under --reports.
    pub baseline: PathBuf,
    /// The candidate run: a run folder or a run id under --reports.
    pub candidate: PathBuf,
    /// Folder where run ids are looked up (`run`'s --out).
    #[arg(long, env = "MEDOCR_OUT", default_value = "reports")]
    pub reports: PathBuf,
    /// Dataset folder or manifest (default: the baseline's config.dataset); its manifest
    /// must be the one both runs were made on.
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Compare only this DPI of the baseline run.
    #[arg(long)]
    pub baseline_dpi: Option<f32>,
    /// Compare only this DPI of the candidate run.
    #[arg(long)]
    pub candidate_dpi: Option<f32>,
    /// Fold full-width ASCII (ＡＢＣ１２３) to ASCII before scoring both runs.
    #[arg(long)]
    pub fold_width: bool,
    /// Drug formulary CSV for re-scoring both runs (default: the bundled sample).
    #[arg(long)]
    pub formulary: Option<PathBuf>,
    /// Diagnosis code list CSV for re-scoring both runs (default: the bundled sample).
    #[arg(long)]
    pub codes: Option<PathBuf>,
    /// Paired bootstrap resamples over documents.
    #[arg(long, default_value_t = 2000)]
    pub resamples: usize,
    /// Two-sided confidence level of the intervals.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    /// ChaCha8 seed of the bootstrap (the same runs and seed give the same intervals).
    #[arg(long, default_value_t = BootstrapConfig::default().seed)]
    pub seed: u64,
    /// TOML file of margins (keys: cer, wer, field_accuracy, critical_per_document,
    /// p95_e2e, p95_ttft); flags below override it.
    #[arg(long)]
    pub margins: Option<PathBuf>,
    /// Largest tolerated CER rise, in percentage points [default: 0.2].
    #[arg(long, value_name = "POINTS")]
    pub margin_cer: Option<f64>,
    /// Largest tolerated WER rise, in percentage points [default: 0.2].
    #[arg(long, value_name = "POINTS")]
    pub margin_wer: Option<f64>,
    /// Largest tolerated fall of any field type's accuracy, in percentage points
    /// [default: 1].
    #[arg(long, value_name = "POINTS")]
    pub margin_field_accuracy: Option<f64>,
    /// Largest tolerated rise of critical field errors per document [default: 0].
    #[arg(long, value_name = "PER_DOC")]
    pub margin_critical: Option<f64>,
    /// Largest tolerated p95 E2E rise, in percent of the baseline's p95 [default: 10].
    #[arg(long, value_name = "PERCENT")]
    pub margin_p95_e2e: Option<f64>,
    /// Largest tolerated p95 TTFT rise, in percent of the baseline's p95 [default: 10].
    #[arg(long, value_name = "PERCENT")]
    pub margin_p95_ttft: Option<f64>,
    /// How many of the most regressed documents to show with their worst lines.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Read both runs' answers again as text, markdown, html or auto (from the `raw`
    /// answers their predictions.jsonl kept) instead of comparing the texts each run
    /// scored; docs/metrics.md, "Answer formats".
    #[arg(long, value_name = "FORMAT")]
    pub output_format: Option<medocr::score::OutputFormat>,
    /// Quote patient names and identifiers in the regression examples instead of masking.
    #[arg(long)]
    pub show_phi: bool,
    /// Output folder for compare.json and compare.md
    /// (default: reports/compare-<baseline-id>-vs-<candidate-id>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write every gate as a JUnit test case to FILE (a failed gate is a failed test
    /// with both sides, the difference, its interval and the margin).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write compare.json to FILE, or to standard output with `-` (the console table
    /// then goes to standard error).
    #[arg(long, value_name = "FILE|-")]
    pub export_json: Option<JsonTarget>,
    /// What a document type paired on fewer documents than the runs' min_documents
    /// (default 50) does to the exit code. Either way every output marks it "insufficient
    /// sample" (and each latency percentile on too few pairs with †). warn: the exit code
    /// follows the gate alone. fail: exit 1 as for a failed gate.
    #[arg(long, value_enum, default_value = "warn", value_name = "POLICY")]
    pub insufficient_sample: SamplePolicy,
}

/// A run folder as given, or `<reports>/<id>` when only that exists.
fn run_dir(arg: &Path, reports: &Path) -> PathBuf {
    let under = reports.join(arg);
    if !arg.join("summary.json").is_file() && under.join("summary.json").is_file() {
        under
    } else {
        arg.to_path_buf()
    }
}

pub fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let mut margins = match &args.margins {
        Some(p) => Margins::from_toml_file(p)?,
        None => Margins::default(),
    };
    let flags = [
        (&mut margins.cer, args.margin_cer),
        (&mut margins.wer, args.margin_wer),
        (&mut margins.field_accuracy, args.margin_field_accuracy),
        (&mut margins.critical_per_document, args.margin_critical),
        (&mut margins.p95_e2e, args.margin_p95_e2e),
        (&mut margins.p95_ttft, args.margin_p95_ttft),
    ];
    for (slot, flag) in flags {
        if let Some(v) = flag {
            *slot = v;
        }
    }
    let knowledge = Knowledge::load(args.formulary.as_deref(), args.codes.as_deref())?;
    let source = |p: &Option<PathBuf>| {
        p.as_ref()
            .map_or_else(|| "bundled".to_string(), |p| p.display().to_string())
    };
    let opts = CompareOptions {
        dataset: args.dataset.clone(),
        baseline_dpi: args.baseline_dpi,
        candidate_dpi: args.candidate_dpi,
        score: ScoreOptions {
            norm: NormOptions {
                fold_fullwidth: args.fold_width,
            },
        },
        knowledge,
        formulary: source(&args.formulary),
        codes: source(&args.codes),
        bootstrap: BootstrapConfig {
            resamples: args.resamples,
            confidence: args.confidence,
            seed: args.seed,
        },
        margins,
        show_phi: args.show_phi,
        top: args.top,
        output_format: args.output_format,
    };
    let baseline = run_dir(&args.baseline, &args.reports);
    let candidate = run_dir(&args.candidate, &args.reports);
    let comparison = compare::compare(&baseline, &candidate, &opts)?;
    let out = args.out.clone().unwrap_or_else(|| {
        args.reports.join(format!(
            "compare-{}-vs-{}",
            comparison.baseline.run_id, comparison.candidate.run_id
        ))
    });
    compare::write_comparison(&out, &comparison)
        .with_context(|| format!("writing the comparison to {}", out.display()))?;
    if let Some(path) = &args.junit {
        let xml = compare::junit(&comparison, args.insufficient_sample)?;
        super::export::write_file("--junit", path, xml.as_bytes())?;
    }
    let to_stderr = JsonTarget::takes_stdout(args.export_json.as_ref());
    console(
        &format!(
            "{}reports: {}\n",
            compare::console(&comparison),
            out.display()
        ),
        to_stderr,
    )?;
    if let Some(t) = &args.export_json {
        t.write(&comparison)?;
    }
    Ok(if comparison.fails(args.insufficient_sample) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
