//! JUnit XML of a run's SLA verdicts, the format every CI system reads (GitHub Actions
//! through a reporter action, GitLab's `artifacts:reports:junit`, Jenkins): one test suite
//! per document type and DPI, one test case per limit of its profile. A limit the run
//! missed is a failure whose message holds the limit and the measured value; a limit that
//! could not be measured (no timing, no such field) is skipped, with the reason. Each suite
//! also has a `sample.min_documents` case: on fewer documents than the profile's minimum
//! it is skipped ("insufficient sample: 3 < 50 documents") under
//! `--insufficient-sample warn` and failed under `fail`. A passed check with a note (a
//! percentile from too few samples) keeps the note as its system-out.

use super::console::measured;
use super::{ReportError, RunSummary};
use crate::sla::{SamplePolicy, Status, Verdict};
use crate::stats::SampleSize;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// The SLA checks of `summaries` (one per engine) as a JUnit report; `policy` says whether
/// too few documents is a failure or a skip.
pub fn sla(summaries: &[RunSummary], policy: SamplePolicy) -> Result<String, ReportError> {
    let mut report = Report::new("medocr SLA");
    for s in summaries {
        for gv in &s.verdicts {
            let v = &gv.verdict;
            let mut suite = TestSuite::new(format!(
                "{} @ {} DPI ({})",
                v.doc_type, gv.dpi, s.config.engine.name
            ));
            suite.add_property(("run_id", s.run_id.as_str()));
            suite.add_property(("engine", s.config.engine.version.as_str()));
            suite.add_property(("profiles_sha256", s.config.profiles_sha256.as_str()));
            let classname = format!("sla.{}.{}dpi", v.doc_type, gv.dpi);
            for c in &v.checks {
                let text = format!("{} (got {})", c.limit, measured(c));
                let status = match c.status {
                    Status::Pass => TestCaseStatus::success(),
                    Status::Fail => {
                        let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        st.set_type("sla")
                            .set_message(text.clone())
                            .set_description(format!(
                                "{text}; key {} of profiles/{}.toml, threshold {}, {} samples",
                                c.key, v.doc_type, c.threshold, c.samples
                            ));
                        st
                    }
                    Status::NotMeasured => {
                        let mut st = TestCaseStatus::skipped();
                        st.set_message(c.note.clone().unwrap_or_else(|| "not measured".into()));
                        st
                    }
                };
                let mut case = TestCase::new(format!("{}: {}", c.key, c.limit), status);
                case.set_classname(classname.clone());
                if let (Status::Pass, Some(note)) = (c.status, &c.note) {
                    case.set_system_out(note.as_str());
                }
                suite.add_test_case(case);
            }
            if let Some(case) = sample_case(v, policy, &classname) {
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
    }
    to_string(&report)
}

/// The suite's `sample.min_documents` case (none for a verdict written before the mark).
fn sample_case(v: &Verdict, policy: SamplePolicy, classname: &str) -> Option<TestCase> {
    let source = format!("key min_documents of profiles/{}.toml", v.doc_type);
    Some(min_documents_case(v.sample?, policy, classname, &source))
}

/// A `sample.min_documents` test case (shared with `compare`'s gates): passed on enough
/// documents, else skipped with the mark under `warn` and failed under `fail`; `source`
/// says where the minimum comes from.
pub(crate) fn min_documents_case(
    sample: SampleSize,
    policy: SamplePolicy,
    classname: &str,
    source: &str,
) -> TestCase {
    let status = match (sample.mark(), policy) {
        (None, _) => TestCaseStatus::success(),
        (Some(mark), SamplePolicy::Warn) => {
            let mut st = TestCaseStatus::skipped();
            st.set_message(mark);
            st
        }
        (Some(mark), SamplePolicy::Fail) => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_type("sample")
                .set_message(mark.clone())
                .set_description(format!("{mark}; {source} (--insufficient-sample fail)"));
            st
        }
    };
    let name = format!("sample.min_documents: documents ≥ {}", sample.minimum);
    let mut case = TestCase::new(name, status);
    case.set_classname(classname.to_string());
    case
}

/// Serialises a report (shared with `compare`'s gates).
pub fn to_string(report: &Report) -> Result<String, ReportError> {
    report.to_string().map_err(|e| ReportError::Encode {
        what: "JUnit XML".into(),
        message: e.to_string(),
    })
}
