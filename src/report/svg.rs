//! Small inline-SVG chart primitives for `report.html`: linear and log scales, "nice"
//! ticks, axes with grid lines, line/step series with point markers, horizontal limit
//! rules, grouped horizontal bars and legends. Every mark carries a `<title>` tooltip.
//!
//! The output is plain SVG markup meant to sit inside HTML: no `xmlns`, no scripts, no
//! external references, every text escaped.

use std::fmt::Write;

/// Series colours, picked in order (readable on white, distinct in greyscale order).
pub const PALETTE: [&str; 8] = [
    "#1f6feb", "#d97706", "#059669", "#9333ea", "#dc2626", "#0891b2", "#65a30d", "#db2777",
];

/// Escapes text for HTML and SVG content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// The "nice" number (1, 2 or 5 × 10ⁿ) nearest to `raw` (Heckbert's rounding: mantissa
/// below 1.5 → 1, below 3 → 2, below 7 → 5, else 10): the tick step for a raw step.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let exp = raw.log10().floor() as i32;
    let base = 10f64.powi(exp);
    let f = raw / base;
    let nice = if f < 1.5 {
        1.0
    } else if f < 3.0 {
        2.0
    } else if f < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * base
}

/// About `target` evenly spaced nice ticks whose first and last enclose `[lo, hi]`.
/// A span narrower than `min_span` is widened (upwards from `lo`), so a constant or a
/// single value still gets an axis.
pub fn nice_ticks(lo: f64, hi: f64, target: usize, min_span: f64) -> Vec<f64> {
    let (mut lo, mut hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if !(lo.is_finite() && hi.is_finite()) {
        return vec![0.0, 1.0];
    }
    if hi - lo < min_span || hi == lo {
        // Widen a degenerate span: by `min_span`, else by a fifth of the value, else 1.
        let span = if min_span > 0.0 {
            min_span
        } else if lo != 0.0 {
            lo.abs() * 0.2
        } else {
            1.0
        };
        if lo == 0.0 || hi > lo {
            hi = lo + span;
        } else {
            lo -= span / 2.0;
            hi += span / 2.0;
        }
    }
    let step = nice_step((hi - lo) / (target.max(2) - 1) as f64);
    let start = (lo / step + 1e-9).floor();
    let end = (hi / step - 1e-9).ceil();
    let n = (end - start).round().max(1.0) as usize;
    (0..=n)
        .map(|i| {
            let v = (start + i as f64) * step;
            if v.abs() < step * 1e-9 {
                0.0
            } else {
                v
            }
        })
        .collect()
}

/// Decimals needed to print multiples of `step` exactly (steps are 1, 2 or 5 × 10ⁿ).
pub fn decimals(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) || step >= 1.0 {
        0
    } else {
        (-step.log10() - 1e-6).ceil() as usize
    }
}

/// How tick values print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A plain number (`300`, `2500`).
    Plain,
    /// A fraction printed as a percentage (`0.05` → `5%`).
    Percent,
}

/// One chart axis: its domain, scale kind, ticks and label.
#[derive(Debug, Clone)]
pub struct Axis {
    pub label: String,
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    pub ticks: Vec<f64>,
    pub unit: Unit,
}

impl Axis {
    /// A linear axis with nice ticks covering `values` (and zero when `include_zero`).
    pub fn linear(
        label: &str,
        values: impl IntoIterator<Item = f64>,
        include_zero: bool,
        min_span: f64,
        unit: Unit,
    ) -> Axis {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            (lo, hi) = (0.0, 0.0);
        }
        if include_zero {
            lo = lo.min(0.0);
            hi = hi.max(0.0);
        }
        let ticks = nice_ticks(lo, hi, 5, min_span);
        Axis {
            label: label.to_string(),
            lo: ticks[0],
            hi: *ticks.last().expect("at least two ticks"),
            log: false,
            ticks,
            unit,
        }
    }

    /// A fixed 0–100 % axis.
    pub fn percent(label: &str) -> Axis {
        Axis {
            label: label.to_string(),
            lo: 0.0,
            hi: 1.0,
            log: false,
            ticks: vec![0.0, 0.25, 0.5, 0.75, 1.0],
            unit: Unit::Percent,
        }
    }

    /// A logarithmic axis ticked at exactly `ticks` (e.g. the run's DPIs), padded by a
    /// quarter of an octave each side; one tick still gets a domain around it.
    pub fn log_at(label: &str, ticks: &[f64]) -> Axis {
        let mut t: Vec<f64> = ticks
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        t.sort_by(f64::total_cmp);
        t.dedup();
        if t.is_empty() {
            t.push(1.0);
        }
        let (lo, hi) = (t[0], t[t.len() - 1]);
        let pad = if t.len() == 1 {
            2f64.powf(0.75)
        } else {
            2f64.powf(0.25)
        };
        Axis {
            label: label.to_string(),
            lo: lo / pad,
            hi: hi * pad,
            log: true,
            ticks: t,
            unit: Unit::Plain,
        }
    }

    /// Position of `v` on a pixel range `[r0, r1]` (values outside the domain are clamped
    /// half a range beyond it, so a stray point stays visible as off-scale).
    pub fn map(&self, v: f64, r0: f64, r1: f64) -> f64 {
        let t = if self.log {
            let (lo, hi) = (self.lo.max(1e-12).ln(), self.hi.max(1e-12).ln());
            (v.max(1e-12).ln() - lo) / (hi - lo)
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        let t = if t.is_finite() {
            t.clamp(-0.05, 1.05)
        } else {
            0.5
        };
        r0 + t * (r1 - r0)
    }

    /// A tick label in the axis unit, with as many decimals as the tick step needs.
    pub fn format(&self, v: f64) -> String {
        let step = if self.log || self.ticks.len() < 2 {
            1.0
        } else {
            self.ticks[1] - self.ticks[0]
        };
        match self.unit {
            Unit::Plain => format!("{v:.*}", decimals(step)),
            Unit::Percent => format!("{:.*}%", decimals(step * 100.0), v * 100.0),
        }
    }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Straight segments between points, with markers.
    Line,
    /// A right-continuous step function (an empirical CDF), markers on the steps.
    Step,
}

#[derive(Debug, Clone)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    /// Tooltip text.
    pub tip: String,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub style: Style,
    pub dashed: bool,
    pub points: Vec<Point>,
}

/// A reference line (an SLA limit): horizontal at `value` on the y axis, or vertical at
/// `value` on the x axis.
#[derive(Debug, Clone)]
pub struct Rule {
    pub value: f64,
    pub vertical: bool,
    pub label: String,
}

/// An x/y chart of line or step series.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub rules: Vec<Rule>,
}

const W: f64 = 440.0;
const H: f64 = 270.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;

fn open_svg(o: &mut String, w: f64, h: f64, title: &str) {
    let _ = write!(
        o,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = esc(title)
    );
}

/// A legend row above the plot area: a swatch and a name per entry.
fn legend(o: &mut String, entries: &[(&str, &str, bool)], x0: f64, y: f64) {
    let mut x = x0;
    for (name, color, dashed) in entries {
        let dash = if *dashed {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        let _ = write!(
            o,
            r#"<g class="legend"><line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="2.5"{dash}/><text x="{:.1}" y="{:.1}">{}</text></g>"#,
            x + 16.0,
            x + 20.0,
            y + 4.0,
            esc(name)
        );
        x += 32.0 + 6.5 * name.chars().count() as f64;
    }
}

impl LineChart {
    pub fn render(&self) -> String {
        let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
        let mut o = String::new();
        open_svg(&mut o, W, H, &self.title);
        let _ = write!(
            o,
            r##"<rect class="plot" x="{x0}" y="{y1}" width="{:.1}" height="{:.1}" fill="#fff" stroke="#bbb"/>"##,
            x1 - x0,
            y0 - y1
        );
        for &t in &self.y.ticks {
            let y = self.y.map(t, y0, y1);
            let _ = write!(
                o,
                r##"<line class="grid" x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#e5e5e5"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                x0 - 6.0,
                y + 4.0,
                esc(&self.y.format(t))
            );
        }
        for &t in &self.x.ticks {
            let x = self.x.map(t, x0, x1);
            let _ = write!(
                o,
                r##"<line class="grid" x1="{x:.1}" y1="{y1}" x2="{x:.1}" y2="{y0}" stroke="#e5e5e5"/><line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{:.1}" stroke="#888"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                y0 + 4.0,
                y0 + 16.0,
                esc(&self.x.format(t))
            );
        }
        let _ = write!(
            o,
            r#"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="axis-label" transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            (x0 + x1) / 2.0,
            H - 8.0,
            esc(&self.x.label),
            (y0 + y1) / 2.0,
            esc(&self.y.label)
        );
        for r in &self.rules {
            // Line ends, then the label's anchor: left of a vertical rule's top, above a
            // horizontal rule's left end.
            let (ax, ay, bx, by, tx, ty, anchor) = if r.vertical {
                let x = self.x.map(r.value, x0, x1);
                (x, y0, x, y1, x - 4.0, y1 + 12.0, "end")
            } else {
                let y = self.y.map(r.value, y0, y1);
                (x0, y, x1, y, x0 + 4.0, y - 4.0, "start")
            };
            let _ = write!(
                o,
                r##"<g class="rule"><title>{l}</title><line x1="{ax:.1}" y1="{ay:.1}" x2="{bx:.1}" y2="{by:.1}" stroke="#cf222e" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="{anchor}" fill="#cf222e">{l}</text></g>"##,
                l = esc(&r.label)
            );
        }
        for s in &self.series {
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|p| (self.x.map(p.x, x0, x1), self.y.map(p.y, y0, y1)))
                .collect();
            let path: Vec<(f64, f64)> = match s.style {
                Style::Line => pts.clone(),
                Style::Step => {
                    // From zero at the first sample, up one step at each sample.
                    let mut v = Vec::with_capacity(pts.len() * 2 + 1);
                    let base = self.y.map(0.0, y0, y1);
                    let mut prev = base;
                    for &(x, y) in &pts {
                        v.push((x, prev));
                        v.push((x, y));
                        prev = y;
                    }
                    if let Some(&(_, y)) = pts.last() {
                        v.push((x1, y));
                    }
                    v
                }
            };
            let dash = if s.dashed {
                r#" stroke-dasharray="5 3""#
            } else {
                ""
            };
            let _ = write!(o, r#"<g class="series"><title>{}</title>"#, esc(&s.name));
            if path.len() > 1 {
                let coords: Vec<String> =
                    path.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let _ = write!(
                    o,
                    r#"<polyline fill="none" stroke="{}" stroke-width="2"{dash} points="{}"/>"#,
                    s.color,
                    coords.join(" ")
                );
            }
            let radius = if s.style == Style::Step { 2.5 } else { 4.0 };
            for (p, (x, y)) in s.points.iter().zip(&pts) {
                let _ = write!(
                    o,
                    r##"<circle cx="{x:.1}" cy="{y:.1}" r="{radius}" fill="{}" stroke="#fff"><title>{}</title></circle>"##,
                    s.color,
                    esc(&p.tip)
                );
            }
            o.push_str("</g>");
        }
        let entries: Vec<(&str, &str, bool)> = self
            .series
            .iter()
            .map(|s| (s.name.as_str(), s.color, s.dashed))
            .collect();
        legend(&mut o, &entries, x0, 16.0);
        o.push_str("</svg>");
        o
    }
}

/// One bar of a [`BarChart`] row; `None` draws a "no data" mark.
#[derive(Debug, Clone)]
pub struct Bar {
    pub value: Option<f64>,
    pub color: &'static str,
    pub tip: String,
}

/// One category of a [`BarChart`]: its bars and an optional limit tick.
#[derive(Debug, Clone)]
pub struct BarRow {
    pub label: String,
    pub bars: Vec<Bar>,
    pub limit: Option<f64>,
}

/// Grouped horizontal bars on a 0–100 % axis (field accuracy).
#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    pub axis_label: String,
    pub legend: Vec<(String, &'static str)>,
    pub rows: Vec<BarRow>,
}

impl BarChart {
    pub fn render(&self) -> String {
        const BAR: f64 = 12.0;
        const GAP: f64 = 8.0;
        let left = 150.0;
        let (x0, x1) = (left, W - RIGHT - 10.0);
        let plot_h: f64 = self
            .rows
            .iter()
            .map(|r| r.bars.len().max(1) as f64 * BAR + GAP)
            .sum::<f64>()
            + GAP;
        let (top, bottom) = (TOP, 40.0);
        let h = top + plot_h + bottom;
        let y_end = top + plot_h;
        let axis = Axis::percent(&self.axis_label);
        let mut o = String::new();
        open_svg(&mut o, W, h, &self.title);
        for &t in &axis.ticks {
            let x = axis.map(t, x0, x1);
            let _ = write!(
                o,
                r##"<line class="grid" x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{y_end:.1}" stroke="#e5e5e5"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                y_end + 14.0,
                esc(&axis.format(t))
            );
        }
        let _ = write!(
            o,
            r#"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            (x0 + x1) / 2.0,
            h - 8.0,
            esc(&axis.label)
        );
        let mut y = top + GAP;
        for row in &self.rows {
            let n = row.bars.len().max(1) as f64;
            let _ = write!(
                o,
                r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                x0 - 6.0,
                y + n * BAR / 2.0 + 4.0,
                esc(&row.label)
            );
            for (i, b) in row.bars.iter().enumerate() {
                let by = y + i as f64 * BAR;
                match b.value {
                    Some(v) => {
                        let w = (axis.map(v, x0, x1) - x0).max(1.0);
                        let _ = write!(
                            o,
                            r#"<rect class="bar" x="{x0}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{}"><title>{}</title></rect>"#,
                            by + 1.0,
                            BAR - 2.0,
                            b.color,
                            esc(&b.tip)
                        );
                    }
                    None => {
                        let _ = write!(
                            o,
                            r##"<text class="nodata" x="{:.1}" y="{:.1}" fill="#888">—<title>{}</title></text>"##,
                            x0 + 4.0,
                            by + BAR - 2.0,
                            esc(&b.tip)
                        );
                    }
                }
            }
            if let Some(l) = row.limit {
                let x = axis.map(l, x0, x1);
                let _ = write!(
                    o,
                    r##"<line class="limit" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#cf222e" stroke-width="2"><title>limit {}</title></line>"##,
                    y - 2.0,
                    y + n * BAR + 2.0,
                    esc(&axis.format(l))
                );
            }
            y += n * BAR + GAP;
        }
        let _ = write!(
            o,
            r##"<line x1="{x0}" y1="{top}" x2="{x0}" y2="{y_end:.1}" stroke="#888"/>"##
        );
        let entries: Vec<(&str, &str, bool)> = self
            .legend
            .iter()
            .map(|(n, c)| (n.as_str(), *c, false))
            .chain(self.rows.iter().any(|r| r.limit.is_some()).then_some((
                "SLA minimum",
                "#cf222e",
                false,
            )))
            .collect();
        legend(&mut o, &entries, x0, 16.0);
        o.push_str("</svg>");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
    }

    #[test]
    fn nice_steps_are_1_2_5() {
        assert_eq!(nice_step(0.8), 1.0);
        assert_eq!(nice_step(0.6), 0.5);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(1.3), 1.0);
        assert_eq!(nice_step(1.6), 2.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert!((nice_step(0.016) - 0.02).abs() < 1e-12);
        assert_eq!(nice_step(240.0), 200.0);
        assert_eq!(nice_step(400.0), 500.0);
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(nice_step(f64::NAN), 1.0);
    }

    #[test]
    fn ticks_enclose_the_data() {
        let t = nice_ticks(0.0, 0.0645, 5, 0.0);
        assert!(close(&t, &[0.0, 0.02, 0.04, 0.06, 0.08]), "{t:?}");
        let t = nice_ticks(2677.0, 3500.0, 5, 0.0);
        assert!(
            close(&t, &[2600.0, 2800.0, 3000.0, 3200.0, 3400.0, 3600.0]),
            "{t:?}"
        );
        // Exact bounds are not extended by a step.
        let t = nice_ticks(0.0, 100.0, 5, 0.0);
        assert!(close(&t, &[0.0, 20.0, 40.0, 60.0, 80.0, 100.0]), "{t:?}");
        // Reversed input is sorted.
        assert_eq!(nice_ticks(10.0, 0.0, 3, 0.0), nice_ticks(0.0, 10.0, 3, 0.0));
        for (lo, hi) in [(0.0, 1e-6), (-3.2, 7.9), (123.0, 124.0), (1e5, 3e6)] {
            let t = nice_ticks(lo, hi, 5, 0.0);
            assert!(t[0] <= lo && *t.last().unwrap() >= hi, "{lo} {hi} {t:?}");
            assert!((2..=12).contains(&t.len()), "{lo} {hi} {t:?}");
        }
    }

    #[test]
    fn degenerate_ranges_still_get_an_axis() {
        // All CERs zero: 0 .. min_span.
        let t = nice_ticks(0.0, 0.0, 5, 0.01);
        assert_eq!(t[0], 0.0);
        assert!((t.last().unwrap() - 0.01).abs() < 1e-12, "{t:?}");
        // One latency value: centred, non-empty span.
        let t = nice_ticks(3000.0, 3000.0, 5, 0.0);
        assert!(t[0] < 3000.0 && *t.last().unwrap() > 3000.0, "{t:?}");
        assert_eq!(nice_ticks(f64::NAN, 1.0, 5, 0.0), vec![0.0, 1.0]);
    }

    #[test]
    fn tick_labels_use_the_step_precision() {
        assert_eq!(decimals(1.0), 0);
        assert_eq!(decimals(500.0), 0);
        assert_eq!(decimals(0.5), 1);
        assert_eq!(decimals(0.2), 1);
        assert_eq!(decimals(0.05), 2);
        assert_eq!(decimals(0.001), 3);
        let a = Axis::linear("CER", [0.0, 0.0645], true, 0.0, Unit::Percent);
        assert_eq!(a.format(0.04), "4%");
        let a = Axis::linear("CER", [0.001, 0.004], true, 0.0, Unit::Percent);
        assert_eq!(a.format(0.001), "0.1%");
        let a = Axis::linear("ms", [2677.0, 3500.0], false, 0.0, Unit::Plain);
        assert_eq!(a.format(2800.0), "2800");
    }

    #[test]
    fn scales_map_domains_onto_pixels() {
        let a = Axis::linear("y", [0.0, 10.0], true, 0.0, Unit::Plain);
        assert_eq!(a.map(a.lo, 200.0, 0.0), 200.0);
        assert_eq!(a.map(a.hi, 200.0, 0.0), 0.0);
        assert_eq!(a.map((a.lo + a.hi) / 2.0, 0.0, 100.0), 50.0);
        // Off-scale values are clamped just outside the plot.
        assert!((a.map(1e9, 0.0, 100.0) - 105.0).abs() < 1e-9);
        // Log axis: 150 lies halfway between 75 and 300.
        let d = Axis::log_at("DPI", &[300.0, 75.0, 150.0, 150.0]);
        assert_eq!(d.ticks, vec![75.0, 150.0, 300.0]);
        let (x75, x150, x300) = (
            d.map(75.0, 0.0, 100.0),
            d.map(150.0, 0.0, 100.0),
            d.map(300.0, 0.0, 100.0),
        );
        assert!((x150 - x75 - (x300 - x150)).abs() < 1e-9);
        assert!(x75 > 0.0 && x300 < 100.0);
        // One DPI sits in the middle.
        let one = Axis::log_at("DPI", &[300.0]);
        assert!((one.map(300.0, 0.0, 100.0) - 50.0).abs() < 1e-9);
        assert_eq!(one.format(300.0), "300");
    }

    #[test]
    fn charts_escape_text_and_draw_marks() {
        let chart = LineChart {
            title: "a <b> & \"c\"".into(),
            x: Axis::log_at("DPI", &[150.0, 300.0]),
            y: Axis::linear("CER", [0.01, 0.05], true, 0.0, Unit::Percent),
            series: vec![Series {
                name: "CER <x>".into(),
                color: PALETTE[0],
                style: Style::Line,
                dashed: false,
                points: vec![
                    Point {
                        x: 150.0,
                        y: 0.05,
                        tip: "150 DPI: 5%".into(),
                    },
                    Point {
                        x: 300.0,
                        y: 0.01,
                        tip: "300 DPI: 1%".into(),
                    },
                ],
            }],
            rules: vec![Rule {
                value: 0.02,
                vertical: false,
                label: "limit 2%".into(),
            }],
        };
        let svg = chart.render();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("a &lt;b&gt; &amp; &quot;c&quot;"));
        assert!(svg.contains("CER &lt;x&gt;"));
        assert!(!svg.contains("<b>") && !svg.contains("<x>"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains("limit 2%"));
        assert!(!svg.contains("http"));

        let bars = BarChart {
            title: "fields".into(),
            axis_label: "accuracy".into(),
            legend: vec![("300 DPI".into(), PALETTE[0])],
            rows: vec![
                BarRow {
                    label: "dose".into(),
                    bars: vec![Bar {
                        value: Some(0.5),
                        color: PALETTE[0],
                        tip: "50%".into(),
                    }],
                    limit: Some(0.95),
                },
                BarRow {
                    label: "route".into(),
                    bars: vec![Bar {
                        value: None,
                        color: PALETTE[0],
                        tip: "not located".into(),
                    }],
                    limit: None,
                },
            ],
        };
        let svg = bars.render();
        assert_eq!(svg.matches(r#"class="bar""#).count(), 1);
        assert!(svg.contains("SLA minimum") && svg.contains("not located"));
    }

    #[test]
    fn escaping() {
        assert_eq!(esc(r#"<a href='x'>&"#), "&lt;a href=&#39;x&#39;&gt;&amp;");
        assert_eq!(esc("처방전"), "처방전");
    }
}
