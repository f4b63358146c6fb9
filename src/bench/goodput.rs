//! Correct-and-on-time goodput of the `load` scenario (issue 21, item 5). A request counts
//! only if (a) it meets the latency SLOs that latency-only goodput uses ([`Slo::met`]),
//! (b) its CER is within its document type's SLA profile limit (`accuracy.max_cer`), and
//! (c) it has no critical field error — (b) and (c) scored by `medocr run`'s scorer
//! ([`score_answer`] on the [`canonicalize`]d answer), never a second CER.
//!
//! `load` sends single pages. A page has no ground truth of its own, its document has: the
//! pages of one document sent in the same pass over the page pool are read together, as
//! `run` reads the document, and each inherits that document's (b) and (c). A document cut
//! by the end of the requests, or a page without a dataset document, is unscored.
//!
//! Scoring runs after the rate's last response, outside every latency and the arrival
//! schedule; its wall time is recorded (`scoring_ms`).

use super::{BenchError, Measurement, PreparedDoc, Sample, Scenario, Slo};
use crate::dataset::Document;
use crate::pipeline::MAX_OUTPUT_CHARS_PER_PAGE;
use crate::score::{canonicalize, score_answer, FormatChoice, Knowledge, OutputFormat};
use crate::score::{ScoreOptions, Severity};
use crate::sla::ProfileSet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

/// What reports print instead of a number when no request had ground truth.
pub const NO_GROUND_TRUTH: &str = "n/a (no ground truth)";

/// The default share of requests that must count for a rate to meet the target.
pub const DEFAULT_TARGET: f64 = 0.9;

/// How answers are scored: `medocr run`'s scoring settings and the SLA profiles.
#[derive(Debug, Clone)]
pub struct Scoring {
    pub score: ScoreOptions,
    pub knowledge: Knowledge,
    pub output_format: FormatChoice,
    pub profiles: ProfileSet,
}

impl Scoring {
    /// `run`'s defaults with the given profiles.
    pub fn with_profiles(profiles: ProfileSet) -> Scoring {
        Scoring {
            score: ScoreOptions::default(),
            knowledge: Knowledge::bundled().clone(),
            output_format: FormatChoice::default(),
            profiles,
        }
    }

    /// `run`'s defaults with the bundled profiles.
    pub fn bundled() -> Scoring {
        Scoring::with_profiles(ProfileSet::bundled())
    }

    /// Where the profiles came from, for the report.
    pub fn profiles_used(&self) -> ProfilesUsed {
        ProfilesUsed {
            origin: self.profiles.origin.clone(),
            sha256: self.profiles.sha256.clone(),
        }
    }
}

/// The SLA profiles a bench scored against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfilesUsed {
    /// The folder given (`--profiles`), or `bundled`.
    pub origin: String,
    pub sha256: String,
}

/// A page of the pool: its document and which of its pages it is.
#[derive(Debug, Clone, Copy)]
struct PageOf<'a> {
    doc: &'a Document,
    page: usize,
    pages: usize,
}

/// The ground truth of a page pool, entry by entry.
pub struct GroundTruth<'a> {
    pages: Vec<Option<PageOf<'a>>>,
    scoring: Option<&'a Scoring>,
}

impl<'a> GroundTruth<'a> {
    /// No ground truth: every request is unscored.
    pub fn none() -> GroundTruth<'a> {
        GroundTruth {
            pages: Vec::new(),
            scoring: None,
        }
    }

    /// The single pages of `pool` (rendered `docs`, in order), as
    /// [`single_pages`](super::single_pages) lists them, each with its document.
    pub fn of_pages(
        docs: &[&'a Document],
        pool: &[PreparedDoc],
        scoring: &'a Scoring,
    ) -> GroundTruth<'a> {
        let pages = pool
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                let n = p.pages.len();
                let doc = docs.get(i).copied().filter(|d| d.id == p.id);
                (0..n).map(move |page| {
                    doc.map(|doc| PageOf {
                        doc,
                        page,
                        pages: n,
                    })
                })
            })
            .collect();
        GroundTruth {
            pages,
            scoring: Some(scoring),
        }
    }
}

impl GroundTruth<'_> {
    /// Ground truth given for a pool of another size would score the wrong pages.
    pub(crate) fn check(&self, pool_len: usize) -> Result<(), BenchError> {
        if self.pages.is_empty() || self.pages.len() == pool_len {
            Ok(())
        } else {
            Err(BenchError::Config(format!(
                "ground truth for {} pages, but the load pool has {pool_len}",
                self.pages.len()
            )))
        }
    }
}

/// What the scorer found for one request's document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    /// The document scored (the request's page read together with its other pages).
    pub reference: String,
    /// CER of that document (`None`: empty reference, non-empty answer).
    pub cer: Option<f64>,
    /// Its type's `accuracy.max_cer` (`None`: the profile sets none).
    pub max_cer: Option<f64>,
    /// Field errors of severity critical.
    pub critical_errors: usize,
}

impl Accuracy {
    /// Condition (b): the CER is within the limit (no limit: met).
    pub fn within_cer(&self) -> bool {
        match (self.max_cer, self.cer) {
            (None, _) => true,
            (Some(limit), Some(cer)) => cer <= limit,
            (Some(_), None) => false,
        }
    }
}

/// One scored request's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestVerdict {
    /// The sample's index in its measurement.
    pub index: usize,
    #[serde(flatten)]
    pub accuracy: Accuracy,
    /// (b)
    pub within_cer: bool,
    /// (a): the latency SLOs met (and no error).
    pub on_time: bool,
    /// (a), (b) and (c): counts toward correct-and-on-time goodput.
    pub counted: bool,
}

/// Correct-and-on-time goodput of one rate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorrectGoodput {
    /// Requests with ground truth; 0 means the figures are n/a.
    pub scored: usize,
    /// Requests without (a page whose document the requests cut, or no dataset document).
    pub unscored: usize,
    /// Scored requests meeting (b) and (c), on time or not.
    pub correct: usize,
    /// Scored requests meeting (a), (b) and (c).
    pub counted: usize,
    /// `counted / wall_s`; `None` without ground truth.
    pub goodput_rps: Option<f64>,
    /// `counted / scored`; `None` without ground truth.
    pub attainment: Option<f64>,
    /// Wall time of scoring the rate's answers, after its last response.
    pub scoring_ms: f64,
    /// Per scored request.
    pub requests: Vec<RequestVerdict>,
}

/// Goodput from the samples and their accuracy (`None`: unscored), aligned by position.
pub fn correct_goodput(
    samples: &[Sample],
    accuracy: Vec<Option<Accuracy>>,
    slo: &Slo,
    wall_s: f64,
) -> CorrectGoodput {
    let requests: Vec<RequestVerdict> = samples
        .iter()
        .zip(accuracy)
        .filter_map(|(s, a)| {
            let a = a?;
            let within_cer = a.within_cer();
            let on_time = slo.met(s);
            let counted = on_time && within_cer && a.critical_errors == 0;
            Some(RequestVerdict {
                index: s.index,
                accuracy: a,
                within_cer,
                on_time,
                counted,
            })
        })
        .collect();
    let scored = requests.len();
    let counted = requests.iter().filter(|r| r.counted).count();
    let correct = requests
        .iter()
        .filter(|r| r.within_cer && r.accuracy.critical_errors == 0)
        .count();
    let known = scored > 0;
    CorrectGoodput {
        scored,
        unscored: samples.len() - scored,
        correct,
        counted,
        goodput_rps: known.then(|| {
            if wall_s > 0.0 {
                counted as f64 / wall_s
            } else {
                0.0
            }
        }),
        attainment: known.then(|| counted as f64 / scored as f64),
        scoring_ms: 0.0,
        requests,
    }
}

/// Scores the answers of a rate's requests (`samples` in request order, `answers` beside
/// them) and computes its correct-and-on-time goodput, timing the scoring.
pub fn assess(
    truth: &GroundTruth<'_>,
    samples: &[Sample],
    answers: &[String],
    engine: (&str, OutputFormat),
    slo: &Slo,
    wall_s: f64,
) -> CorrectGoodput {
    let t = Instant::now();
    let accuracy = match truth.scoring {
        Some(scoring) => score_requests(truth, scoring, samples, answers, engine),
        None => vec![None; samples.len()],
    };
    let mut g = correct_goodput(samples, accuracy, slo, wall_s);
    g.scoring_ms = t.elapsed().as_secs_f64() * 1e3;
    g
}

/// Each request's document score: requests grouped by (document, pass over the pool), a
/// complete group's answers joined in page order and scored once.
fn score_requests(
    truth: &GroundTruth<'_>,
    scoring: &Scoring,
    samples: &[Sample],
    answers: &[String],
    (engine, default_format): (&str, OutputFormat),
) -> Vec<Option<Accuracy>> {
    let n = truth.pages.len();
    let mut groups: BTreeMap<(usize, usize), Vec<(usize, usize)>> = BTreeMap::new();
    for (pos, s) in samples.iter().enumerate() {
        if n == 0 {
            break;
        }
        let entry = s.iteration % n;
        if let Some(p) = truth.pages[entry] {
            let key = (entry - p.page, s.iteration / n);
            groups.entry(key).or_default().push((p.page, pos));
        }
    }
    let format = scoring.output_format.for_engine(engine, default_format);
    let mut out = vec![None; samples.len()];
    for ((first, _), mut members) in groups {
        let Some(p) = truth.pages[first] else {
            continue;
        };
        if members.len() != p.pages {
            continue;
        }
        members.sort_unstable();
        let pages: Vec<(&Sample, &str)> = members
            .iter()
            .map(|&(_, pos)| (&samples[pos], answers[pos].as_str()))
            .collect();
        let answer = document_answer(&pages);
        let canonical = canonicalize(&answer, format);
        let score = score_answer(p.doc, &canonical, &scoring.score, &scoring.knowledge);
        let accuracy = Accuracy {
            reference: p.doc.id.clone(),
            cer: score.cer.rate,
            max_cer: scoring
                .profiles
                .profiles
                .get(&p.doc.doc_type)
                .and_then(|pr| pr.accuracy.max_cer),
            critical_errors: score
                .fields
                .iter()
                .filter(|f| {
                    f.error
                        .as_ref()
                        .is_some_and(|e| e.severity == Severity::Critical)
                })
                .count(),
        };
        for (_, pos) in members {
            out[pos] = Some(accuracy.clone());
        }
    }
    out
}

/// The answer `run` would score for a document read page by page (`pages` in page order):
/// the pages' texts joined as the engines join them (a `"\n"` between pages with text: an
/// empty page adds no line), or nothing when a page failed or the whole is a runaway (NUL
/// bytes, more than [`MAX_OUTPUT_CHARS_PER_PAGE`] per page), as `run` scores a document
/// whose engine call failed.
fn document_answer(pages: &[(&Sample, &str)]) -> String {
    if pages.iter().any(|(s, _)| s.error.is_some()) {
        return String::new();
    }
    let answer = pages
        .iter()
        .map(|&(_, a)| a)
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let limit = MAX_OUTPUT_CHARS_PER_PAGE * pages.len().max(1);
    let runaway = answer.contains('\0') || (answer.len() > limit && answer.chars().count() > limit);
    if runaway {
        String::new()
    } else {
        answer
    }
}

/// One tested rate of [`GoodputCapacity`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoodputPoint {
    pub rate: f64,
    /// Latency-only: share of requests within the SLOs.
    pub slo_attainment: f64,
    /// Correct and on time; `None` without ground truth.
    pub correct_attainment: Option<f64>,
}

/// The highest tested rates at which goodput still meets the target share of requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoodputCapacity {
    pub engine: String,
    /// `--goodput-target`.
    pub target: f64,
    /// Highest rate with latency-only SLO attainment ≥ target (`None`: none).
    pub latency_max_rate: Option<f64>,
    /// Highest rate with correct-and-on-time attainment ≥ target (`None`: none, or no
    /// ground truth: see `scored`).
    pub correct_max_rate: Option<f64>,
    /// Whether any tested rate had ground truth.
    pub scored: bool,
    /// Rates tested, ascending.
    pub tested: Vec<GoodputPoint>,
}

/// `engine`'s goodput capacity over its load measurements.
pub fn capacity(measurements: &[Measurement], engine: &str, target: f64) -> GoodputCapacity {
    let mut tested: Vec<GoodputPoint> = measurements
        .iter()
        .filter(|m| m.engine == engine && m.scenario == Scenario::Load)
        .filter_map(|m| {
            let l = m.load.as_ref()?;
            Some(GoodputPoint {
                rate: l.requested_rate,
                slo_attainment: l.slo_attainment,
                correct_attainment: l.correct.attainment,
            })
        })
        .collect();
    tested.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let highest = |f: &dyn Fn(&GoodputPoint) -> Option<f64>| {
        tested
            .iter()
            .filter(|p| f(p).is_some_and(|a| a >= target))
            .map(|p| p.rate)
            .reduce(f64::max)
    };
    GoodputCapacity {
        engine: engine.to_string(),
        target,
        latency_max_rate: highest(&|p| Some(p.slo_attainment)),
        correct_max_rate: highest(&|p| p.correct_attainment),
        scored: tested.iter().any(|p| p.correct_attainment.is_some()),
        tested,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{measure, BatchMode, LoadStats, MeasureInput, Params, Repeats};
    use crate::dataset::DocType;
    use crate::render::Page;

    fn sample(iteration: usize, e2e_ms: f64) -> Sample {
        let timing = crate::report::Timing {
            timed: true,
            ttft_ms: Some(e2e_ms / 2.0),
            e2e_ms: Some(e2e_ms),
            ..Default::default()
        };
        Sample::for_tests(iteration, iteration, timing)
    }

    fn accuracy(cer: f64, critical_errors: usize) -> Option<Accuracy> {
        Some(Accuracy {
            reference: "d".into(),
            cer: Some(cer),
            max_cer: Some(0.01),
            critical_errors,
        })
    }

    const SLO: Slo = Slo {
        ttft_ms: None,
        tpot_ms: None,
        e2e_ms: Some(1000.0),
    };

    #[test]
    fn a_request_counts_only_when_on_time_within_cer_and_without_critical_errors() {
        let mut failed = sample(5, 100.0);
        failed.error = Some("boom".into());
        let samples = vec![
            sample(0, 100.0),  // fast and right: counts
            sample(1, 100.0),  // fast but CER over the limit
            sample(2, 5000.0), // right but slow
            sample(3, 100.0),  // fast, CER fine, a critical field error
            sample(4, 100.0),  // no ground truth
            failed,            // failed: not on time, whatever its score
        ];
        let acc = vec![
            accuracy(0.005, 0),
            accuracy(0.2, 0),
            accuracy(0.0, 0),
            accuracy(0.0, 1),
            None,
            accuracy(0.0, 0),
        ];
        let g = correct_goodput(&samples, acc, &SLO, 2.0);
        assert_eq!((g.scored, g.unscored, g.counted), (5, 1, 1));
        // Right, whether on time or not: 0, 2 and the failed one (scored as read).
        assert_eq!(g.correct, 3);
        assert_eq!(g.goodput_rps, Some(0.5));
        assert_eq!(g.attainment, Some(0.2));
        let counted: Vec<usize> = g
            .requests
            .iter()
            .filter(|r| r.counted)
            .map(|r| r.index)
            .collect();
        assert_eq!(counted, [0]);
        let r = |i: usize| g.requests.iter().find(|r| r.index == i).unwrap();
        assert!(!r(1).within_cer && r(1).on_time);
        assert!(r(2).within_cer && !r(2).on_time);
        assert!(r(3).within_cer && r(3).on_time && !r(3).counted);
        assert!(!r(5).on_time);
        // Latency-only goodput would have counted 1, 3 and 4 too.
        assert_eq!(samples.iter().filter(|s| SLO.met(s)).count(), 4);
    }

    #[test]
    fn cer_limits_and_no_ground_truth() {
        let mut a = accuracy(0.5, 0).unwrap();
        a.max_cer = None; // the profile sets no CER limit
        assert!(a.within_cer());
        a.max_cer = Some(0.5);
        assert!(a.within_cer()); // at the limit is within it
        a.cer = None; // an answer to an empty reference has no CER
        assert!(!a.within_cer());
        let g = correct_goodput(&[sample(0, 1.0)], vec![None], &SLO, 1.0);
        assert_eq!((g.scored, g.unscored), (0, 1));
        assert!(g.goodput_rps.is_none() && g.attainment.is_none());
    }

    fn doc(id: &str, text: &str) -> Document {
        Document {
            id: id.into(),
            doc_type: DocType::Prescription,
            source: format!("{id}.pdf").into(),
            text: text.into(),
            fields: Default::default(),
            dpi: None,
            tables: Vec::new(),
            extra: Default::default(),
        }
    }

    fn prepared(id: &str, pages: usize) -> PreparedDoc {
        let page = |index| Page {
            image: image::GrayImage::new(1, 1),
            dpi: 72.0,
            index,
        };
        PreparedDoc {
            id: id.into(),
            pages: (0..pages).map(page).collect(),
            render_ms: 0.0,
        }
    }

    #[test]
    fn pages_of_a_document_are_scored_together_per_pass() {
        let (a, b) = (doc("a", "처방전 첫 줄\n둘째 줄"), doc("b", "진료비 영수증"));
        let scoring = Scoring::bundled();
        let truth =
            GroundTruth::of_pages(&[&a, &b], &[prepared("a", 2), prepared("b", 1)], &scoring);
        assert!(truth.check(3).is_ok() && truth.check(4).is_err());
        // Pool [a p1, a p2, b p1]; 7 requests: two full passes and a cut one.
        let answers: Vec<String> = [
            "처방전 첫 줄",
            "둘째 줄",
            "진료비 영수증", // right
            "처방전 첫 줄",
            "둘째 줄",
            "진료비 엉수증", // b misread
            "처방전 첫 줄",  // a cut by the end: unscored
        ]
        .map(String::from)
        .to_vec();
        let samples: Vec<Sample> = (0..7).map(|i| sample(i, 10.0)).collect();
        let g = assess(
            &truth,
            &samples,
            &answers,
            ("e", OutputFormat::Text),
            &SLO,
            1.0,
        );
        assert_eq!((g.scored, g.unscored, g.counted), (6, 1, 5));
        let cer = |i: usize| g.requests.iter().find(|r| r.index == i).unwrap();
        assert_eq!(cer(0).accuracy.cer, Some(0.0));
        assert_eq!(cer(1).accuracy.reference, "a");
        assert_eq!(cer(5).accuracy.cer, Some(1.0 / 7.0));
        assert_eq!(cer(5).accuracy.max_cer, Some(0.01)); // the bundled prescription profile
        assert!(!cer(5).counted);
        // Without ground truth nothing is scored.
        let none = assess(
            &GroundTruth::none(),
            &samples,
            &answers,
            ("e", OutputFormat::Text),
            &SLO,
            1.0,
        );
        assert_eq!((none.scored, none.unscored), (0, 7));
    }

    #[test]
    fn a_document_reads_as_run_reads_it() {
        let ok = sample(0, 1.0);
        let mut failed = sample(1, 1.0);
        failed.error = Some("HTTP 500".into());
        // An empty page adds no line, as the engines join pages.
        assert_eq!(
            document_answer(&[(&ok, "가"), (&ok, ""), (&ok, "나")]),
            "가\n나"
        );
        // One failed page empties the document, as `run` scores a failed engine call.
        assert_eq!(document_answer(&[(&ok, "가"), (&failed, "나")]), "");
        assert_eq!(document_answer(&[(&ok, "가\0")]), "");
        // The runaway limit is per page of the document.
        let long = "가".repeat(MAX_OUTPUT_CHARS_PER_PAGE + 1);
        assert_eq!(document_answer(&[(&ok, &long)]), "");
        assert_eq!(document_answer(&[(&ok, &long), (&ok, "")]), long);
    }

    #[test]
    fn a_vlm_answer_is_scored_on_its_text_not_its_markdown() {
        let a = doc("a", "처방전 첫 줄\n둘째 줄");
        let scoring = Scoring::bundled();
        let truth = GroundTruth::of_pages(&[&a], &[prepared("a", 2)], &scoring);
        let answers = ["# 처방전 첫 줄", "**둘째 줄**"].map(String::from);
        let samples: Vec<Sample> = (0..2).map(|i| sample(i, 10.0)).collect();
        let cer = |format| {
            let g = assess(&truth, &samples, &answers, ("openai", format), &SLO, 1.0);
            g.requests[0].accuracy.cer.unwrap()
        };
        // `openai`'s default (auto) reads the pages joined as Markdown, as `run` does.
        assert_eq!(cer(OutputFormat::Auto), 0.0);
        assert!(cer(OutputFormat::Text) > 0.0);
    }

    fn load_measurement(rate: f64, slo_attainment: f64, correct: Option<f64>) -> Measurement {
        let load = LoadStats {
            arrival: super::super::Arrival::Fixed,
            requested_rate: rate,
            scheduled_rate: rate,
            achieved_rate: rate,
            concurrency: 1,
            goodput_rps: rate * slo_attainment,
            slo_attainment,
            slo: SLO,
            max_send_lag_ms: 0.0,
            correct: CorrectGoodput {
                scored: usize::from(correct.is_some()),
                attainment: correct,
                ..Default::default()
            },
        };
        let input = MeasureInput {
            engine: "e".into(),
            scenario: Scenario::Load,
            label: format!("{rate} req/s"),
            params: Params::default(),
            batch_mode: BatchMode::Unbatched,
            repeats: Repeats {
                warmup: 0,
                iterations: 1,
                warmup_max: 0,
            },
            wall_s: 1.0,
            resources: Default::default(),
            load: Some(load),
        };
        measure(input, vec![sample(0, 1.0)])
    }

    #[test]
    fn faster_but_reading_worse_does_not_raise_the_correct_capacity() {
        // At 2 req/s every request is on time, but half read wrong.
        let ms = [
            load_measurement(2.0, 1.0, Some(0.5)),
            load_measurement(1.0, 1.0, Some(0.95)),
            load_measurement(4.0, 0.5, Some(0.5)),
        ];
        let c = capacity(&ms, "e", 0.9);
        assert_eq!(c.latency_max_rate, Some(2.0));
        assert_eq!(c.correct_max_rate, Some(1.0));
        assert!(c.scored);
        let rates: Vec<f64> = c.tested.iter().map(|p| p.rate).collect();
        assert_eq!(rates, [1.0, 2.0, 4.0]);
        let c = capacity(&[load_measurement(1.0, 1.0, None)], "e", 0.9);
        assert_eq!((c.correct_max_rate, c.scored), (None, false));
    }
}
