//! Small raster charts for the reports (`pff report`): line charts and scatter plots written as
//! PNG with no font dependency (captions live in the Markdown that embeds them), plus a 2-D PCA.

use crate::error::{PffError, Result};
use ndarray::{Array2, ArrayView2};

/// Okabe–Ito palette (colour-blind safe), then two extra greys.
pub const PALETTE: [[u8; 3]; 10] = [
    [0, 114, 178],
    [230, 159, 0],
    [0, 158, 115],
    [204, 121, 167],
    [86, 180, 233],
    [213, 94, 0],
    [240, 228, 66],
    [0, 0, 0],
    [120, 120, 120],
    [170, 68, 153],
];

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

/// A line chart of several series over a shared x range. Light grid lines at `y_grid` steps.
pub fn line_chart(series: &[(Vec<(f64, f64)>, [u8; 3])], y_range: (f64, f64), y_grid: f64, w: usize, h: usize) -> Result<Vec<u8>> {
    let mut c = Canvas::new(w, h);
    let (m, (y0, y1)) = (30.0, y_range);
    let xs: Vec<f64> = series.iter().flat_map(|(s, _)| s.iter().map(|p| p.0)).collect();
    let (x0, x1) = (xs.iter().cloned().fold(f64::INFINITY, f64::min), xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    let map = |x: f64, y: f64| (m + (x - x0) / (x1 - x0) * (w as f64 - 2.0 * m), h as f64 - m - (y.clamp(y0, y1) - y0) / (y1 - y0) * (h as f64 - 2.0 * m));
    if y_grid > 0.0 {
        let mut g = (y0 / y_grid).ceil() * y_grid;
        while g <= y1 {
            let (_, y) = map(x0, g);
            c.line((m, y), (w as f64 - m, y), [225, 225, 225], 1);
            g += y_grid;
        }
    }
    c.line((m, h as f64 - m), (w as f64 - m, h as f64 - m), [0, 0, 0], 1);
    c.line((m, m), (m, h as f64 - m), [0, 0, 0], 1);
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

/// A scatter plot of labelled 2-D points, coloured by label with [`PALETTE`].
pub fn scatter(points: &[(f64, f64, usize)], w: usize, h: usize) -> Result<Vec<u8>> {
    let mut c = Canvas::new(w, h);
    let m = 10.0;
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
        let py = h as f64 - m - (y - y0) / sy * (h as f64 - 2.0 * m);
        c.line((px - 1.0, py), (px + 1.0, py), PALETTE[l % PALETTE.len()], 3);
    }
    c.png()
}

/// Projection of the rows of `x` on their top two principal components.
pub fn pca2(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let mean = x.mean_axis(ndarray::Axis(0)).expect("non-empty");
    let xc = &x - &mean;
    let cov = xc.t().dot(&xc) / x.nrows().max(1) as f64;
    let d = cov.nrows();
    let mut comps: Vec<ndarray::Array1<f64>> = Vec::new();
    for k in 0..2 {
        let mut v = ndarray::Array1::from_shape_fn(d, |i| 1.0 + (i * (k + 3)) as f64 % 7.0);
        for _ in 0..200 {
            let mut nv = cov.dot(&v);
            for c in &comps {
                let p = nv.dot(c);
                nv.scaled_add(-p, c);
            }
            let n = nv.dot(&nv).sqrt();
            if n == 0.0 {
                break;
            }
            v = nv / n;
        }
        comps.push(v);
    }
    let mut out = Array2::zeros((x.nrows(), 2));
    for (k, c) in comps.iter().enumerate() {
        out.column_mut(k).assign(&xc.dot(c));
    }
    out
}
