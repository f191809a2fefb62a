//! Small raster charts for the reports (`pff report`): line charts and scatter plots written as
//! PNG with no font dependency (a built-in 5×7 bitmap font for tick labels, axis names and
//! legends; captions live in the Markdown that embeds them), plus a 2-D PCA.

use crate::error::{PffError, Result};

/// Okabe–Ito palette (colour-blind safe), then two extra greys.
pub const PALETTE: [[u8; 3]; 10] =
    [[0, 114, 178], [230, 159, 0], [0, 158, 115], [204, 121, 167], [86, 180, 233], [213, 94, 0], [240, 228, 66], [0, 0, 0], [120, 120, 120], [170, 68, 153]];

/// One line of a chart: its (x, y) points and its colour.
pub type Series = (Vec<(f64, f64)>, [u8; 3]);

/// 5×7 glyphs (one row per byte, bit 4 = leftmost column) for the characters charts need.
fn glyph(ch: char) -> Option<[u8; 7]> {
    Some(match ch {
        '0' => [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
        '1' => [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
        '2' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
        '3' => [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
        '4' => [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
        '5' => [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
        '6' => [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
        '7' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
        '9' => [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
        '.' => [0, 0, 0, 0, 0, 0x0c, 0x0c],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        '-' => [0, 0, 0, 0x1f, 0, 0, 0],
        ' ' => [0; 7],
        'a' => [0, 0, 0x0e, 0x01, 0x0f, 0x11, 0x0f],
        'c' => [0, 0, 0x0e, 0x10, 0x10, 0x11, 0x0e],
        'd' => [0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f],
        'e' => [0, 0, 0x0e, 0x11, 0x1f, 0x10, 0x0e],
        'h' => [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11],
        'l' => [0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
        'o' => [0, 0, 0x0e, 0x11, 0x11, 0x11, 0x0e],
        'p' => [0, 0, 0x1e, 0x11, 0x1e, 0x10, 0x10],
        'r' => [0, 0, 0x16, 0x19, 0x10, 0x10, 0x10],
        's' => [0, 0, 0x0e, 0x10, 0x0e, 0x01, 0x1e],
        't' => [0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06],
        'u' => [0, 0, 0x11, 0x11, 0x11, 0x13, 0x0d],
        'v' => [0, 0, 0x11, 0x11, 0x11, 0x0a, 0x04],
        'y' => [0, 0, 0x11, 0x11, 0x0f, 0x01, 0x0e],
        _ => return None,
    })
}

/// Pixel width of `text` drawn at `scale` (6 columns per character including the gap).
fn text_width(text: &str, scale: i64) -> i64 {
    text.chars().count() as i64 * 6 * scale - scale
}

/// A "nice" tick step (1, 2 or 5 × 10ⁿ) giving at most `max_ticks` ticks over `span`.
fn tick_step(span: f64, max_ticks: usize) -> f64 {
    let raw = span / max_ticks.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|&s| s >= raw).unwrap_or(10.0 * mag)
}

struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Canvas { w, h, px: vec![255; w * h * 3] }
    }
    fn put(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }
    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: [u8; 3], thick: i64) {
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()) as usize).max(1);
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let (x, y) = ((x0 + (x1 - x0) * t).round() as i64, (y0 + (y1 - y0) * t).round() as i64);
            for dx in -thick / 2..=thick / 2 {
                for dy in -thick / 2..=thick / 2 {
                    self.put(x + dx, y + dy, c);
                }
            }
        }
    }
    /// Draws `text` with its top-left corner at (x, y); characters without a glyph are skipped.
    fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, c: [u8; 3]) {
        for (i, ch) in text.chars().enumerate() {
            let Some(g) = glyph(ch) else { continue };
            let x0 = x + i as i64 * 6 * scale;
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        for dy in 0..scale {
                            for dx in 0..scale {
                                self.put(x0 + col * scale + dx, y + row as i64 * scale + dy, c);
                            }
                        }
                    }
                }
            }
        }
    }
    fn png(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.w as u32, self.h as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut wr = enc.write_header().map_err(|e| PffError::Input(format!("png: {e}")))?;
            wr.write_image_data(&self.px).map_err(|e| PffError::Input(format!("png: {e}")))?;
        }
        Ok(out)
    }
}

/// A line chart of several series over a shared x range, with light grid lines at `y_grid`
/// steps, tick labels on both axes (y as percentages when `y_percent`) and the axis names.
#[allow(clippy::too_many_arguments)]
pub fn line_chart(series: &[Series], y_range: (f64, f64), y_grid: f64, y_percent: bool, (x_name, y_name): (&str, &str), w: usize, h: usize) -> Result<Vec<u8>> {
    const INK: [u8; 3] = [60, 60, 60];
    let mut c = Canvas::new(w, h);
    let (left, right, top, bottom) = (64.0, 20.0, 34.0, 44.0);
    let (y0, y1) = y_range;
    let xs: Vec<f64> = series.iter().flat_map(|(s, _)| s.iter().map(|p| p.0)).collect();
    let (x0, x1) = (xs.iter().cloned().fold(f64::INFINITY, f64::min), xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    let (pw, ph) = (w as f64 - left - right, h as f64 - top - bottom);
    let map = |x: f64, y: f64| (left + (x - x0) / (x1 - x0) * pw, top + ph - (y.clamp(y0, y1) - y0) / (y1 - y0) * ph);
    let label = |v: f64, step: f64, percent: bool| {
        let (v, step) = if percent { (100.0 * v, 100.0 * step) } else { (v, step) };
        let digits = if step >= 1.0 { 0 } else { (-step.log10()).ceil() as usize };
        format!("{v:.digits$}{}", if percent { "%" } else { "" })
    };
    if y_grid > 0.0 {
        let lines = ((y1 - y0) / y_grid).round() as usize;
        let every = tick_step(lines as f64, 6).max(1.0) as usize;
        for i in 0..=lines {
            let g = y0 + i as f64 * y_grid;
            if g > y1 + 1e-9 {
                break;
            }
            let (_, y) = map(x0, g);
            c.line((left, y), (left + pw, y), [225, 225, 225], 1);
            if i % every == 0 {
                let t = label(g, y_grid * every as f64, y_percent);
                c.text(left as i64 - 8 - text_width(&t, 1), y as i64 - 3, &t, 1, INK);
                c.line((left - 4.0, y), (left, y), INK, 1);
            }
        }
    }
    let step = tick_step(x1 - x0, 10).max(1.0);
    let mut t = (x0 / step).ceil() * step;
    while t <= x1 + 1e-9 {
        let (x, _) = map(t, y0);
        c.line((x, top + ph), (x, top + ph + 4.0), INK, 1);
        let s = label(t, step, false);
        c.text(x as i64 - text_width(&s, 1) / 2, (top + ph) as i64 + 8, &s, 1, INK);
        t += step;
    }
    c.line((left, top + ph), (left + pw, top + ph), [0, 0, 0], 1);
    c.line((left, top), (left, top + ph), [0, 0, 0], 1);
    c.text((left + pw) as i64 - text_width(x_name, 2), h as i64 - 18, x_name, 2, INK);
    c.text(8, 8, y_name, 2, INK);
    for (s, col) in series {
        for p in s.windows(2) {
            c.line(map(p[0].0, p[0].1), map(p[1].0, p[1].1), *col, 2);
        }
        for p in s {
            let (x, y) = map(p.0, p.1);
            c.line((x - 2.0, y), (x + 2.0, y), *col, 3);
        }
    }
    c.png()
}

/// A scatter plot of labelled 2-D points, coloured by label with [`PALETTE`], with a legend
/// strip of the labels along the top.
pub fn scatter(points: &[(f64, f64, usize)], w: usize, h: usize) -> Result<Vec<u8>> {
    let mut c = Canvas::new(w, h);
    let (m, top) = (10.0, 34.0);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y, _) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let (sx, sy) = ((x1 - x0).max(1e-12), (y1 - y0).max(1e-12));
    for &(x, y, l) in points {
        let px = m + (x - x0) / sx * (w as f64 - 2.0 * m);
        let py = h as f64 - m - (y - y0) / sy * (h as f64 - m - top);
        c.line((px - 1.0, py), (px + 1.0, py), PALETTE[l % PALETTE.len()], 3);
    }
    let mut labels: Vec<usize> = points.iter().map(|p| p.2).collect();
    labels.sort_unstable();
    labels.dedup();
    let mut x = 10;
    for l in labels {
        let col = PALETTE[l % PALETTE.len()];
        for d in 0..10 {
            c.line((x as f64, 10.0 + d as f64), (x as f64 + 9.0, 10.0 + d as f64), col, 1);
        }
        let t = l.to_string();
        c.text(x + 14, 8, &t, 2, [60, 60, 60]);
        x += 14 + text_width(&t, 2) + 14;
    }
    c.png()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_character_has_a_glyph_and_ticks_are_nice() {
        for ch in "0123456789.%- epoch dev accuracy".chars() {
            assert!(glyph(ch).is_some(), "{ch:?}");
        }
        assert_eq!(tick_step(60.0, 10), 10.0);
        assert_eq!(tick_step(9.0, 10), 1.0);
        assert_eq!(tick_step(0.1, 6), 0.02);
    }
}
