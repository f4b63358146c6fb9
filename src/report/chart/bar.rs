//! Grouped horizontal bars on a 0–100 % axis (field accuracy), with limit ticks.

use super::{esc, legend, open_svg, Axis, RIGHT, TOP, W};
use std::fmt::Write;

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
    use crate::report::chart::PALETTE;

    #[test]
    fn bars_draw_values_limits_and_missing_marks() {
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
}
