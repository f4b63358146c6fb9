//! Renders one text line with ab_glyph into an ink-coverage canvas (0 = paper, 1 = ink) at a
//! given pixel size, like a PDF rasteriser would at `pt · dpi / 72` pixels per em.

use ab_glyph::{point, Font, FontArc, PxScale, ScaleFont};

/// A rendered line: coverage in `[0, 1]`, row-major, plus where a Hangul-height band sits.
pub struct Coverage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
    /// Top and bottom rows of a reference Hangul syllable on the same baseline: the vertical
    /// extent a line detector sees on a line that contains Hangul.
    pub band: (f32, f32),
}

impl Coverage {
    pub fn get(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }
}

/// Layout knobs (jittered by the augmentation).
#[derive(Debug, Clone, Copy)]
pub struct LayoutStyle {
    /// Extra space after every glyph, in em.
    pub tracking: f32,
    /// Multiplier of the space advance (wide gaps between table cells / justified text).
    pub space_scale: f32,
}

/// Renders `text` at `px` pixels per em with a 1-em margin all round.
pub fn render_line(font: &FontArc, text: &str, px: f32, style: LayoutStyle) -> Coverage {
    let scale = PxScale::from(px);
    let sf = font.as_scaled(scale);
    let margin = px.ceil();
    let ascent = sf.ascent();
    let descent = sf.descent(); // negative
    let baseline = margin + ascent;

    // Layout.
    let mut x = margin;
    let mut glyphs = Vec::new();
    let mut prev = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = prev {
            x += sf.kern(p, id);
        }
        if c != ' ' {
            glyphs.push(id.with_scale_and_position(scale, point(x, baseline)));
        }
        let adv = sf.h_advance(id);
        x += if c == ' ' {
            adv * style.space_scale
        } else {
            adv
        } + style.tracking * px;
        prev = Some(id);
    }
    let width = (x + margin).ceil().max(1.0) as usize;
    let height = (baseline - descent + margin).ceil().max(1.0) as usize;
    let mut data = vec![0f32; width * height];
    for g in glyphs {
        if let Some(og) = font.outline_glyph(g) {
            let b = og.px_bounds();
            og.draw(|gx, gy, c| {
                let px_ = b.min.x as i64 + gx as i64;
                let py_ = b.min.y as i64 + gy as i64;
                if px_ >= 0 && py_ >= 0 && (px_ as usize) < width && (py_ as usize) < height {
                    let i = py_ as usize * width + px_ as usize;
                    data[i] = (data[i] + c).min(1.0);
                }
            });
        }
    }
    // Reference band: the bounds of a typical syllable on this baseline.
    let refg = font
        .glyph_id('한')
        .with_scale_and_position(scale, point(margin, baseline));
    let band = match font.outline_glyph(refg) {
        Some(og) => {
            let b = og.px_bounds();
            (b.min.y, b.max.y)
        }
        None => (baseline - ascent * 0.85, baseline + descent.abs() * 0.3),
    };
    Coverage {
        width,
        height,
        data,
        band,
    }
}
