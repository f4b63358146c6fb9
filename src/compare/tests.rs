//! Gate logic and the paired bootstrap on synthetic per-document numbers.

use super::gate::{judge, Direction, Margins, Verdict};
use super::lines::{line_edits, worst_lines};
use super::metrics::{compare_groups, metric, MetricKind, PairScore, SideScore};
use crate::dataset::DocType;
use crate::score::{FieldType, NormOptions};
use crate::stats::{percentile_sorted, BootstrapConfig, ConfidenceInterval};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn ci(lower: f64, upper: f64) -> ConfidenceInterval {
    ConfidenceInterval {
        estimate: (lower + upper) / 2.0,
        lower,
        upper,
        confidence: 0.95,
        resamples: 2000,
    }
}

fn side(cer_edits: usize) -> SideScore {
    SideScore {
        dpi: 300.0,
        cer_edits,
        wer_edits: cer_edits / 4,
        field_correct: [0; FieldType::ALL.len()],
        field_located: [0; FieldType::ALL.len()],
        critical: 0,
        failed: false,
        e2e_ms: None,
        ttft_ms: None,
    }
}

/// Documents of N = 1000 clusters with the given baseline and candidate edits.
fn pairs(edits: &[(usize, usize)]) -> Vec<PairScore> {
    edits
        .iter()
        .enumerate()
        .map(|(i, &(b, c))| PairScore {
            id: format!("doc-{i:03}"),
            doc_type: if i % 2 == 0 {
                DocType::Prescription
            } else {
                DocType::LabResult
            },
            cer_n: 1000,
            wer_n: 250,
            baseline: side(b),
            candidate: side(c),
        })
        .collect()
}

fn units(n: usize) -> Vec<Vec<usize>> {
    (0..n).map(|i| vec![i]).collect()
}

fn run(kind: MetricKind, pairs: &[PairScore], margins: &Margins) -> super::MetricComparison {
    let u = units(pairs.len());
    let refs: Vec<&[usize]> = u.iter().map(Vec::as_slice).collect();
    metric(kind, pairs, &refs, &BootstrapConfig::default(), margins).unwrap()
}

#[test]
fn verdicts_follow_the_interval_and_the_margin() {
    let up = Direction::HigherIsWorse;
    let m = Some(0.002);
    assert_eq!(judge(&ci(-0.01, -0.001), up, m), Verdict::Better);
    assert_eq!(judge(&ci(-0.001, 0.001), up, m), Verdict::Same);
    assert_eq!(judge(&ci(0.0, 0.0), up, m), Verdict::Same);
    assert_eq!(
        judge(&ci(0.0005, 0.0015), up, m),
        Verdict::WorseWithinMargin
    );
    assert_eq!(judge(&ci(0.0005, 0.002), up, m), Verdict::WorseWithinMargin);
    // Straddling the margin: non-inferiority not shown.
    assert_eq!(judge(&ci(0.001, 0.003), up, m), Verdict::Fail);
    assert_eq!(judge(&ci(-0.001, 0.003), up, m), Verdict::Fail);
    assert_eq!(judge(&ci(0.003, 0.004), up, m), Verdict::Fail);
    // Accuracy: a fall is the harm.
    let down = Direction::LowerIsWorse;
    let m = Some(0.01);
    assert_eq!(judge(&ci(0.001, 0.01), down, m), Verdict::Better);
    assert_eq!(
        judge(&ci(-0.008, -0.002), down, m),
        Verdict::WorseWithinMargin
    );
    assert_eq!(judge(&ci(-0.02, -0.005), down, m), Verdict::Fail);
    assert_eq!(judge(&ci(-0.005, 0.02), down, m), Verdict::Same);
    // Critical errors with a zero margin: any possible rise fails.
    assert_eq!(judge(&ci(0.0, 0.0), up, Some(0.0)), Verdict::Same);
    assert_eq!(judge(&ci(0.0, 0.1), up, Some(0.0)), Verdict::Fail);
    assert_eq!(judge(&ci(-0.2, -0.1), up, Some(0.0)), Verdict::Better);
    // No margin: informational.
    assert_eq!(judge(&ci(0.1, 0.2), up, None), Verdict::Worse);
}

#[test]
fn identical_runs_give_a_zero_interval() {
    let p = pairs(&[(10, 10), (50, 50), (0, 0), (7, 7)]);
    for kind in [
        MetricKind::Cer,
        MetricKind::Wer,
        MetricKind::CriticalPerDocument,
    ] {
        let m = run(kind, &p, &Margins::default());
        let ci = m.ci.unwrap();
        assert_eq!(
            (ci.lower, ci.upper, m.delta),
            (0.0, 0.0, Some(0.0)),
            "{kind:?}"
        );
        assert_eq!(m.verdict, Verdict::Same, "{kind:?}");
    }
    // Untimed runs: latency is not measured, not failed.
    let m = run(MetricKind::E2eP95, &p, &Margins::default());
    assert_eq!(m.verdict, Verdict::NotMeasured);
    assert_eq!((m.baseline, m.ci), (None, None));
    let groups = compare_groups(&p, &BootstrapConfig::default(), &Margins::default()).unwrap();
    assert_eq!(groups[0].group, "all");
    assert_eq!(groups.len(), 3);
    assert!(groups
        .iter()
        .flat_map(|g| &g.metrics)
        .all(|m| m.verdict != Verdict::Fail));
}

/// The interval equals a hand-rolled paired bootstrap: the same ChaCha8 draws of
/// document indices for both runs, the micro-averaged Δ per resample, numpy percentiles.
#[test]
fn interval_is_the_paired_percentile_bootstrap_of_the_micro_average() {
    let edits: Vec<(usize, usize)> = (0..30)
        .map(|i| (20 + (i * 7) % 13, 22 + (i * 11) % 17))
        .collect();
    let p = pairs(&edits);
    let m = run(MetricKind::Cer, &p, &Margins::default());
    let cfg = BootstrapConfig::default();
    let n = p.len();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut stats = Vec::new();
    for _ in 0..cfg.resamples {
        let (mut eb, mut ec, mut nn) = (0usize, 0usize, 0usize);
        for _ in 0..n {
            let i = rng.random_range(0..n);
            eb += p[i].baseline.cer_edits;
            ec += p[i].candidate.cer_edits;
            nn += p[i].cer_n;
        }
        stats.push(ec as f64 / nn as f64 - eb as f64 / nn as f64);
    }
    stats.sort_by(f64::total_cmp);
    let ci = m.ci.unwrap();
    let alpha = 1.0 - cfg.confidence;
    assert_eq!(
        ci.lower,
        percentile_sorted(&stats, 100.0 * alpha / 2.0).unwrap()
    );
    assert_eq!(
        ci.upper,
        percentile_sorted(&stats, 100.0 * (1.0 - alpha / 2.0)).unwrap()
    );
    let (eb, ec): (usize, usize) = edits.iter().fold((0, 0), |a, e| (a.0 + e.0, a.1 + e.1));
    let expected = (ec as f64 - eb as f64) / (n as f64 * 1000.0);
    assert!((m.delta.unwrap() - expected).abs() < 1e-15);
    assert!(ci.lower < m.delta.unwrap() && m.delta.unwrap() < ci.upper);
    // Same seed, same interval.
    assert_eq!(run(MetricKind::Cer, &p, &Margins::default()).ci, m.ci);
}

#[test]
fn a_uniform_rise_fails_and_a_straddling_interval_fails_too() {
    // Every document +10 edits per 1000 clusters: Δ = +1.0 pp on every resample.
    let p = pairs(&[(50, 60); 12]);
    let m = run(MetricKind::Cer, &p, &Margins::default());
    let ci = m.ci.unwrap();
    assert!((ci.lower - 0.01).abs() < 1e-12 && (ci.upper - 0.01).abs() < 1e-12);
    assert_eq!(m.margin, Some(0.002));
    assert_eq!(m.verdict, Verdict::Fail);

    // 8 of 20 documents +4 edits per 1000, the rest unchanged: Δ = +0.16 pp, inside the
    // 0.2 pp margin, but the interval reaches beyond it.
    let edits: Vec<(usize, usize)> = (0..20)
        .map(|i| if i % 5 < 2 { (30, 34) } else { (30, 30) })
        .collect();
    let p = pairs(&edits);
    let m = run(MetricKind::Cer, &p, &Margins::default());
    let ci = m.ci.unwrap();
    let d = m.delta.unwrap();
    assert!((d - 0.0016).abs() < 1e-12, "{d}");
    assert!(
        ci.lower > 0.0 && ci.lower < 0.002 && ci.upper > 0.002,
        "{ci:?}"
    );
    assert_eq!(m.verdict, Verdict::Fail);
    // A wider margin accepts it as worse within the margin.
    let wide = Margins {
        cer: 0.5,
        ..Margins::default()
    };
    assert_eq!(
        run(MetricKind::Cer, &p, &wide).verdict,
        Verdict::WorseWithinMargin
    );
    // The mirror image is better.
    let better: Vec<(usize, usize)> = edits.iter().map(|&(b, c)| (c, b)).collect();
    assert_eq!(
        run(MetricKind::Cer, &pairs(&better), &Margins::default()).verdict,
        Verdict::Better
    );
}

#[test]
fn field_accuracy_critical_errors_and_latency() {
    let k = FieldType::ALL
        .iter()
        .position(|&t| t == FieldType::Dose)
        .unwrap();
    let mut p = pairs(&[(10, 10); 10]);
    for (i, pair) in p.iter_mut().enumerate() {
        pair.baseline.field_located[k] = 10;
        pair.candidate.field_located[k] = 10;
        pair.baseline.field_correct[k] = 10;
        // Three documents lose 2 of 10 doses, one of them critically.
        pair.candidate.field_correct[k] = if i < 3 { 8 } else { 10 };
        pair.candidate.critical = usize::from(i == 0);
        pair.baseline.e2e_ms = Some(1000.0 + i as f64 * 10.0);
        pair.candidate.e2e_ms = Some(1000.0 + i as f64 * 10.0 + 30.0);
    }
    let margins = Margins::default();
    let acc = run(MetricKind::FieldAccuracy(FieldType::Dose), &p, &margins);
    assert!((acc.delta.unwrap() + 0.06).abs() < 1e-12);
    assert_eq!(acc.direction, Direction::LowerIsWorse);
    assert_eq!(acc.verdict, Verdict::Fail);
    let crit = run(MetricKind::CriticalPerDocument, &p, &margins);
    assert!((crit.delta.unwrap() - 0.1).abs() < 1e-12);
    assert_eq!(crit.verdict, Verdict::Fail);
    // +30 ms on a p95 of ~1086 ms: inside the 10 % margin, but consistently worse.
    let e2e = run(MetricKind::E2eP95, &p, &margins);
    let base = e2e.baseline.unwrap();
    assert!((e2e.margin.unwrap() - 0.1 * base).abs() < 1e-9);
    assert_eq!(e2e.verdict, Verdict::WorseWithinMargin);
    let p50 = run(MetricKind::E2eP50, &p, &margins);
    assert_eq!((p50.margin, p50.verdict), (None, Verdict::Worse));
    let tight = Margins {
        p95_e2e: 1.0,
        ..margins
    };
    assert_eq!(run(MetricKind::E2eP95, &p, &tight).verdict, Verdict::Fail);
}

#[test]
fn margins_file_overrides_defaults_and_names_bad_keys() {
    let m = Margins::from_toml_str("cer = 0.5\np95_e2e = 20\n").unwrap();
    assert_eq!(m.cer, 0.5);
    assert_eq!(m.p95_e2e, 20.0);
    assert_eq!(m.wer, Margins::default().wer);
    let err = Margins::from_toml_str("cer_points = 0.5\n").unwrap_err();
    assert!(err.contains("cer_points"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("margins.toml");
    std::fs::write(&f, "field_accuracy = -1\n").unwrap();
    let err = Margins::from_toml_file(&f).unwrap_err().to_string();
    assert!(
        err.contains("field_accuracy") && err.contains("margins.toml"),
        "{err}"
    );
    std::fs::write(&f, "wer = 0.3\nbogus = 1\n").unwrap();
    let err = Margins::from_toml_file(&f).unwrap_err().to_string();
    assert!(
        err.contains("bogus") && err.contains("margins.toml"),
        "{err}"
    );
}

#[test]
fn metric_keys_round_trip() {
    for kind in [
        MetricKind::Cer,
        MetricKind::FieldAccuracy(FieldType::LabReferenceRange),
        MetricKind::TtftP95,
    ] {
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(serde_json::from_str::<MetricKind>(&json).unwrap(), kind);
    }
    assert_eq!(
        serde_json::to_string(&Verdict::WorseWithinMargin).unwrap(),
        "\"worse-within-margin\""
    );
}

#[test]
fn lines_attribute_edits_through_the_alignment() {
    let reference = "처 방 전\n환자 성명  홍길동\n타이레놀정 500mg 1 3 7\n";
    let norm = NormOptions::default();
    let perfect = line_edits(reference, reference, &norm);
    assert_eq!(perfect.len(), 3);
    assert!(perfect.iter().all(|(r, h, e)| r == h && *e == 0));
    let misread = "처 방 전 환자 성명 홍길동 타이레놀정 5000mg 1 3 7";
    let l = line_edits(reference, misread, &norm);
    assert_eq!(l[2].1, "타이레놀정 5000mg 1 3 7");
    assert_eq!((l[0].2, l[1].2, l[2].2), (0, 0, 1));
    let worst = worst_lines(reference, reference, misread, &norm);
    assert_eq!(worst.len(), 1);
    assert_eq!(worst[0].reference, "타이레놀정 500mg 1 3 7");
    assert_eq!((worst[0].baseline_edits, worst[0].candidate_edits), (0, 1));
    assert!(worst_lines(reference, misread, misread, &norm).is_empty());
}

/// A latency percentile is `low_sample` by `stats::sample`'s rule over the pairs timed
/// on both sides (p95 needs 20, p50 2); untimed pairs are "not measured", not low-sample.
#[test]
fn latency_percentiles_on_too_few_pairs_are_low_sample() {
    let timed = |n: usize| {
        let mut p = pairs(&vec![(10, 10); n]);
        for (i, x) in p.iter_mut().enumerate() {
            x.baseline.e2e_ms = Some(100.0 + i as f64);
            x.candidate.e2e_ms = Some(100.0 + i as f64);
        }
        p
    };
    let m = Margins::default();
    let low = |kind, p: &[PairScore]| run(kind, p, &m).low_sample;
    assert!(low(MetricKind::E2eP95, &timed(19)));
    assert!(!low(MetricKind::E2eP95, &timed(20)));
    assert!(low(MetricKind::E2eP50, &timed(1)));
    assert!(!low(MetricKind::E2eP50, &timed(2)));
    assert!(!low(MetricKind::Cer, &timed(1)));
    assert!(!low(MetricKind::E2eP95, &pairs(&[(1, 1), (2, 2)])));
}
