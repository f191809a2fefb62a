//! PNG grids of 28×28 images, for `pff sample` and the reports.

use crate::error::{PffError, Result};
use ndarray::ArrayView2;

/// Encodes rows of `side×side` grey images (values in [0, 1]) as a PNG grid with `cols`
/// columns, a 2-pixel dark gap, each image scaled up by `scale`.
pub fn grid_png(images: ArrayView2<'_, f32>, side: usize, cols: usize, scale: usize) -> Result<Vec<u8>> {
    let n = images.nrows();
    if images.ncols() != side * side || n == 0 || cols == 0 {
        return Err(PffError::Input(format!("cannot draw {n} images of {} pixels as {side}×{side}", images.ncols())));
    }
    let rows = n.div_ceil(cols);
    let gap = 2;
    let cell = side * scale + gap;
    let (w, h) = (cols * cell + gap, rows * cell + gap);
    let mut buf = vec![40u8; w * h];
    for (i, img) in images.rows().into_iter().enumerate() {
        let (gx, gy) = (gap + (i % cols) * cell, gap + (i / cols) * cell);
        for y in 0..side * scale {
            for x in 0..side * scale {
                let v = img[(y / scale) * side + x / scale].clamp(0.0, 1.0);
                buf[(gy + y) * w + gx + x] = (v * 255.0).round() as u8;
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().map_err(|e| PffError::Input(format!("png: {e}")))?;
        wr.write_image_data(&buf).map_err(|e| PffError::Input(format!("png: {e}")))?;
    }
    Ok(out)
}
