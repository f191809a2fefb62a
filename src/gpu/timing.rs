//! GPU-side timing with timestamp queries, where the adapter has them (`TIMESTAMP_QUERY`;
//! lavapipe and SwiftShader do). A timestamp pair brackets one compute pass, so the time is
//! the kernel's, without the submission, launch and readback that wall-clock timing includes.

use super::device::Gpu;
#[cfg(not(target_arch = "wasm32"))]
use {super::device::GpuError, super::matrix::read_buffers, crate::blocking::block_on};

/// Two timestamps (a pass's start and end) and the buffer they resolve into.
pub struct PassTimer {
    set: wgpu::QuerySet,
    resolved: wgpu::Buffer,
}

impl PassTimer {
    /// A timer, or `None` when the device was opened without timestamp queries.
    pub fn new(gpu: &Gpu) -> Option<PassTimer> {
        if !gpu.has_timestamps() {
            return None;
        }
        let set = gpu.device.create_query_set(&wgpu::QuerySetDescriptor { label: Some("pff pass timer"), ty: wgpu::QueryType::Timestamp, count: 2 });
        let resolved = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("pff pass timer"),
            size: 16,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        Some(PassTimer { set, resolved })
    }

    /// What a compute pass writes to be timed.
    pub fn writes(&self) -> wgpu::ComputePassTimestampWrites<'_> {
        wgpu::ComputePassTimestampWrites { query_set: &self.set, beginning_of_pass_write_index: Some(0), end_of_pass_write_index: Some(1) }
    }

    /// Records the resolution of the two timestamps (after the timed pass).
    pub fn encode_resolve(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.resolve_query_set(&self.set, 0..2, &self.resolved, 0);
    }

    /// The timed pass's duration in seconds (reads back 16 bytes; call after the submission).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn seconds(&self, gpu: &Gpu) -> Result<f64, GpuError> {
        let w = block_on(read_buffers(gpu, &[(&self.resolved, 16)]))?.pop().expect("one buffer");
        let (start, end) = (u64::from(w[0]) | u64::from(w[1]) << 32, u64::from(w[2]) | u64::from(w[3]) << 32);
        Ok(end.saturating_sub(start) as f64 * f64::from(gpu.queue.get_timestamp_period()) * 1e-9)
    }
}
