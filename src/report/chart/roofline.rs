//! The roofline of a device with measured points (`medocr roofline --bench`).

use super::{color, standalone, Axis, LineChart, Point, Series, Style, Unit};

/// A measured point on a roofline: arithmetic intensity (FLOP/byte), achieved FLOP/s.
pub struct RoofPoint {
    pub label: String,
    pub intensity: f64,
    pub flops_per_s: f64,
}

/// The roofline of a device (`min(peak, AI × bandwidth)`, log–log, GFLOP/s) with measured
/// points, as a standalone SVG.
pub fn roofline(title: &str, peak_flops: f64, bandwidth: f64, points: &[RoofPoint]) -> String {
    let ridge = peak_flops / bandwidth;
    let ais: Vec<f64> = points
        .iter()
        .map(|p| p.intensity)
        .chain([ridge])
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let lo = ais.iter().copied().fold(f64::INFINITY, f64::min) / 4.0;
    let hi = ais.iter().copied().fold(0.0, f64::max) * 4.0;
    let decades = |lo: f64, hi: f64| -> Vec<f64> {
        let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        (a..=b)
            .map(|e| 10f64.powi(e))
            .filter(|&t| t >= lo && t <= hi && t >= 1.0)
            .collect()
    };
    let g = |f: f64| f / 1e9;
    let ys: Vec<f64> = points
        .iter()
        .map(|p| g(p.flops_per_s))
        .chain([g(peak_flops), g(lo * bandwidth)])
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let ylo = ys.iter().copied().fold(f64::INFINITY, f64::min) / 2.0;
    let yhi = ys.iter().copied().fold(0.0, f64::max) * 2.0;
    let roof = Series {
        name: "roof".into(),
        color: "#555",
        style: Style::Line,
        dashed: false,
        points: [lo, ridge, hi]
            .iter()
            .map(|&x| Point {
                x,
                y: g((x * bandwidth).min(peak_flops)),
                tip: format!(
                    "AI {x:.2} FLOP/B: attainable {:.1} GFLOP/s",
                    g((x * bandwidth).min(peak_flops))
                ),
            })
            .collect(),
    };
    let mut series = vec![roof];
    for (i, pt) in points.iter().enumerate() {
        series.push(Series {
            name: pt.label.clone(),
            color: color(i),
            style: Style::Line,
            dashed: false,
            points: vec![Point {
                x: pt.intensity,
                y: g(pt.flops_per_s),
                tip: format!(
                    "{}: AI {:.2} FLOP/B, {:.2} GFLOP/s = {:.1}% of the bound",
                    pt.label,
                    pt.intensity,
                    g(pt.flops_per_s),
                    100.0 * pt.flops_per_s / (pt.intensity * bandwidth).min(peak_flops)
                ),
            }],
        });
    }
    let chart = LineChart {
        title: title.to_string(),
        x: Axis {
            label: "arithmetic intensity (FLOP/byte)".into(),
            lo,
            hi,
            log: true,
            ticks: decades(lo, hi),
            unit: Unit::Plain,
        },
        y: Axis {
            label: "GFLOP/s".into(),
            lo: ylo,
            hi: yhi,
            log: true,
            ticks: decades(ylo, yhi),
            unit: Unit::Plain,
        },
        series,
        rules: Vec::new(),
    };
    standalone(&chart.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roofline_chart_is_standalone_svg_with_points() {
        let svg = roofline(
            "cpu",
            100e9,
            10e9,
            &[RoofPoint {
                label: "builtin B=1".into(),
                intensity: 0.5,
                flops_per_s: 1e9,
            }],
        );
        assert!(svg.contains(r#"xmlns="http://www.w3.org/2000/svg""#));
        assert!(svg.contains("builtin B=1"));
        // 1 GFLOP/s against a bound of 0.5 × 10 GB/s = 5 GFLOP/s.
        assert!(svg.contains("20.0% of the bound"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
