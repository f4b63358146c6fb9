//! Chart axes: linear and logarithmic scales, "nice" ticks and tick labels.

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
}
