//! [`GpuMatrix`]: a row-major f32 matrix in a GPU storage buffer.
//!
//! Matrices stay on the GPU for a whole run; [`GpuMatrix::upload`] and [`GpuMatrix::download`]
//! are for the edges (batches in, checkpoints and tests out), never for the inner loop.

use super::device::{Gpu, GpuError, GpuErrorKind};
use ndarray::{Array2, ArrayView2};
use std::sync::mpsc;

/// A rows×cols f32 matrix, row-major, in a storage buffer that kernels read and write.
pub struct GpuMatrix {
    pub buffer: wgpu::Buffer,
    pub rows: usize,
    pub cols: usize,
}

const F32: u64 = std::mem::size_of::<f32>() as u64;

impl GpuMatrix {
    /// An uninitialised-to-zero rows×cols matrix (wgpu zero-fills new buffers).
    pub fn zeros(gpu: &Gpu, rows: usize, cols: usize) -> GpuMatrix {
        let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("pff matrix"),
            // wgpu refuses empty bindings: a 0-element matrix still gets one element of storage.
            size: ((rows * cols).max(1) as u64) * F32,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        GpuMatrix { buffer, rows, cols }
    }

    /// A copy of `a` on the GPU (any layout; written row-major).
    pub fn upload(gpu: &Gpu, a: ArrayView2<'_, f32>) -> GpuMatrix {
        let m = GpuMatrix::zeros(gpu, a.nrows(), a.ncols());
        m.write(gpu, a);
        m
    }

    /// Overwrites the matrix with `a`, which must have its shape.
    pub fn write(&self, gpu: &Gpu, a: ArrayView2<'_, f32>) {
        assert_eq!(a.dim(), (self.rows, self.cols), "GpuMatrix::write: shape differs");
        if a.is_empty() {
            return;
        }
        let bytes: Vec<u8> = a.iter().flat_map(|v| v.to_le_bytes()).collect();
        gpu.queue.write_buffer(&self.buffer, 0, &bytes);
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size of the data in bytes (without the one-element padding of an empty matrix).
    pub fn bytes(&self) -> u64 {
        self.len() as u64 * F32
    }

    /// Reads the matrix back, waiting for all submitted work first.
    pub fn download(&self, gpu: &Gpu) -> Result<Array2<f32>, GpuError> {
        let data = read_buffer(gpu, &self.buffer, self.bytes())?;
        Ok(Array2::from_shape_vec((self.rows, self.cols), data).expect("buffer holds rows×cols values"))
    }

    /// Reads the matrix back as raw 32-bit words (for kernels that store integers).
    pub fn download_bits(&self, gpu: &Gpu) -> Result<Vec<u32>, GpuError> {
        read_words(gpu, &self.buffer, self.bytes())
    }
}

/// The first `bytes` bytes of a buffer (usage COPY_SRC) as f32 values, through a staging buffer.
pub(crate) fn read_buffer(gpu: &Gpu, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<f32>, GpuError> {
    read_words(gpu, buffer, bytes).map(|w| w.into_iter().map(f32::from_bits).collect())
}

/// The first `bytes` bytes of a buffer (usage COPY_SRC) as u32 words, through a staging buffer.
pub(crate) fn read_words(gpu: &Gpu, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u32>, GpuError> {
    if bytes == 0 {
        return Ok(Vec::new());
    }
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("pff readback"),
        size: bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("pff readback") });
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
    gpu.queue.submit([encoder.finish()]);
    let (tx, rx) = mpsc::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |r| drop(tx.send(r)));
    gpu.wait()?;
    let failed = |e: String| GpuError::new(GpuErrorKind::Readback, format!("reading {bytes} bytes back: {e}"));
    rx.recv().map_err(|e| failed(e.to_string()))?.map_err(|e| failed(e.to_string()))?;
    let words = {
        let view = staging.get_mapped_range(..).map_err(|e| failed(e.to_string()))?;
        view.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    };
    staging.unmap();
    Ok(words)
}
