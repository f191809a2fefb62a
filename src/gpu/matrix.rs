//! [`GpuMatrix`]: a row-major f32 matrix in a GPU storage buffer.
//!
//! Matrices stay on the GPU for a whole run; [`GpuMatrix::upload`] and [`GpuMatrix::read`] are
//! for the edges (batches in, losses, checkpoints and tests out), never for the inner loop. A
//! readback is async ([`read_words`]): in the page the browser completes it.

use super::device::{Gpu, GpuError, GpuErrorKind};
use ndarray::{Array2, ArrayView2};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

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

    /// The matrix read back once all submitted work has finished.
    pub async fn read(&self, gpu: &Gpu) -> Result<Array2<f32>, GpuError> {
        let data = read_all(gpu, &[self]).await?.pop().expect("one matrix");
        Ok(Array2::from_shape_vec((self.rows, self.cols), data).expect("buffer holds rows×cols values"))
    }

    /// [`GpuMatrix::read`], waited for (native builds: checkpoints and tests).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn download(&self, gpu: &Gpu) -> Result<Array2<f32>, GpuError> {
        crate::blocking::block_on(self.read(gpu))
    }

    /// The matrix read back as raw 32-bit words (for kernels that store integers).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn download_bits(&self, gpu: &Gpu) -> Result<Vec<u32>, GpuError> {
        Ok(crate::blocking::block_on(read_words(gpu, &[self]))?.pop().expect("one matrix"))
    }
}

/// Several matrices read back as f32 values in one readback.
pub async fn read_all(gpu: &Gpu, matrices: &[&GpuMatrix]) -> Result<Vec<Vec<f32>>, GpuError> {
    Ok(read_words(gpu, matrices).await?.into_iter().map(|w| w.into_iter().map(f32::from_bits).collect()).collect())
}

/// The contents of several matrices as raw 32-bit words, copied into one staging buffer and
/// read back with one mapping: in the browser every mapping costs milliseconds, so the engine
/// gathers what it needs into one.
pub async fn read_words(gpu: &Gpu, matrices: &[&GpuMatrix]) -> Result<Vec<Vec<u32>>, GpuError> {
    let parts: Vec<(&wgpu::Buffer, u64)> = matrices.iter().map(|m| (&m.buffer, m.bytes())).collect();
    read_buffers(gpu, &parts).await
}

/// The first `bytes` bytes of each buffer (usage COPY_SRC) as u32 words, through one staging
/// buffer.
pub(crate) async fn read_buffers(gpu: &Gpu, parts: &[(&wgpu::Buffer, u64)]) -> Result<Vec<Vec<u32>>, GpuError> {
    let total: u64 = parts.iter().map(|&(_, b)| b).sum();
    if total == 0 {
        return Ok(parts.iter().map(|_| Vec::new()).collect());
    }
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("pff readback"),
        size: total,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("pff readback") });
    let mut offset = 0;
    for &(buffer, bytes) in parts.iter().filter(|&&(_, b)| b > 0) {
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, offset, bytes);
        offset += bytes;
    }
    gpu.queue.submit([encoder.finish()]);
    let failed = |e: String| GpuError::new(GpuErrorKind::Readback, format!("reading {total} bytes back: {e}"));
    let mapped = Oneshot::default();
    let sender = mapped.clone();
    staging.map_async(wgpu::MapMode::Read, .., move |r| sender.send(r));
    gpu.wait()?; // natively this runs the callback; in the page the browser will
    mapped.await.map_err(|e| failed(e.to_string()))?;
    let words = {
        let view = staging.get_mapped_range(..).map_err(|e| failed(e.to_string()))?;
        let mut rest: &[u8] = &view;
        parts
            .iter()
            .map(|&(_, bytes)| {
                let (mine, after) = rest.split_at(bytes as usize);
                rest = after;
                mine.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
            })
            .collect()
    };
    staging.unmap();
    Ok(words)
}

/// A value handed from a wgpu callback to the future that awaits it.
struct Oneshot<T>(Arc<Mutex<(Option<T>, Option<Waker>)>>);

impl<T> Clone for Oneshot<T> {
    fn clone(&self) -> Self {
        Oneshot(Arc::clone(&self.0))
    }
}

impl<T> Default for Oneshot<T> {
    fn default() -> Self {
        Oneshot(Arc::new(Mutex::new((None, None))))
    }
}

impl<T> Oneshot<T> {
    fn send(&self, value: T) {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.0 = Some(value);
        if let Some(w) = slot.1.take() {
            w.wake();
        }
    }
}

impl<T> Future for Oneshot<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match slot.0.take() {
            Some(v) => Poll::Ready(v),
            None => {
                slot.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
