//! The DPI trade-off of a multi-DPI run, per document type: accuracy, latency and cost at
//! each DPI, the lowest DPI that meets the type's SLA (the recommended operating point),
//! and the Pareto front of (CER, p95 E2E): the DPIs no other DPI beats on both.

use crate::report::{DpiPoint, DpiStudy, GroupResult, GroupVerdict};
use crate::sla::Status;

/// The study of every document type present at more than one DPI.
pub fn dpi_study(groups: &[GroupResult], verdicts: &[GroupVerdict]) -> Vec<DpiStudy> {
    let mut types: Vec<_> = groups.iter().map(|g| g.doc_type).collect();
    types.sort();
    types.dedup();
    types
        .into_iter()
        .filter_map(|t| {
            let mut of_type: Vec<&GroupResult> =
                groups.iter().filter(|g| g.doc_type == t).collect();
            if of_type.len() < 2 {
                return None;
            }
            of_type.sort_by(|a, b| a.dpi.total_cmp(&b.dpi));
            let mut points: Vec<DpiPoint> = of_type.iter().map(|g| point(g, verdicts)).collect();
            mark_pareto(&mut points);
            let recommended_dpi = points
                .iter()
                .find(|p| p.sla == Some(Status::Pass))
                .map(|p| p.dpi);
            Some(DpiStudy {
                doc_type: t,
                points,
                recommended_dpi,
                sample: of_type[0].sample,
            })
        })
        .collect()
}

fn point(g: &GroupResult, verdicts: &[GroupVerdict]) -> DpiPoint {
    let e2e = g.latency.e2e_ms.as_ref();
    DpiPoint {
        dpi: g.dpi,
        cer: g.cer.rate,
        worst_field_accuracy: g
            .fields
            .iter()
            .filter_map(|f| f.accuracy)
            .min_by(f64::total_cmp),
        critical_errors: g.clinical.critical,
        p50_e2e_ms: e2e.map(|s| s.p50),
        p95_e2e_ms: e2e.map(|s| s.p95),
        p50_ttft_ms: g.latency.ttft_ms.as_ref().map(|s| s.p50),
        p50_e2e_low_sample: e2e.is_some_and(|s| s.p50_low_sample),
        p95_e2e_low_sample: e2e.is_some_and(|s| s.p95_low_sample),
        p50_ttft_low_sample: g.latency.ttft_ms.as_ref().is_some_and(|s| s.p50_low_sample),
        resources: g.resources.clone(),
        sla: verdicts
            .iter()
            .find(|v| v.dpi == g.dpi && v.verdict.doc_type == g.doc_type)
            .map(|v| v.verdict.status),
        pareto: false,
    }
}

/// Marks the points no other point dominates in (CER, p95 E2E), both to be minimised.
/// Without latency (untimed engines) the front is on CER alone.
fn mark_pareto(points: &mut [DpiPoint]) {
    let key = |p: &DpiPoint| (p.cer.unwrap_or(f64::INFINITY), p.p95_e2e_ms.unwrap_or(0.0));
    let keys: Vec<(f64, f64)> = points.iter().map(key).collect();
    for (i, p) in points.iter_mut().enumerate() {
        let (c, l) = keys[i];
        p.pareto = !keys
            .iter()
            .enumerate()
            .any(|(j, &(cj, lj))| j != i && cj <= c && lj <= l && (cj < c || lj < l));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Resources;

    fn p(dpi: f32, cer: f64, p95: f64, sla: Status) -> DpiPoint {
        DpiPoint {
            dpi,
            cer: Some(cer),
            worst_field_accuracy: None,
            critical_errors: 0,
            p50_e2e_ms: None,
            p95_e2e_ms: Some(p95),
            p50_ttft_ms: None,
            p50_e2e_low_sample: false,
            p95_e2e_low_sample: false,
            p50_ttft_low_sample: false,
            resources: Resources::default(),
            sla: Some(sla),
            pareto: false,
        }
    }

    #[test]
    fn pareto_front_keeps_the_undominated_dpis() {
        // 72: fast but bad; 150: better and still fast; 300: best CER, slower; 600: worse
        // CER than 300 and slower: dominated.
        let mut pts = vec![
            p(72.0, 0.20, 100.0, Status::Fail),
            p(150.0, 0.03, 150.0, Status::Fail),
            p(300.0, 0.01, 300.0, Status::Pass),
            p(600.0, 0.012, 900.0, Status::Pass),
        ];
        mark_pareto(&mut pts);
        let front: Vec<f32> = pts.iter().filter(|p| p.pareto).map(|p| p.dpi).collect();
        assert_eq!(front, [72.0, 150.0, 300.0]);
    }
}
