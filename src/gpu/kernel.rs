//! [`Kernel`]: one compiled WGSL entry point and how to dispatch it.
//!
//! Every kernel of the engine binds its buffers in group 0, in order: bindings 0, 1, 2, … are the
//! buffers passed to [`Kernel::encode`] (a uniform block of parameters first, by convention).
//! The pipeline layout is derived from the WGSL, so the Rust side states no layout of its own
//! that could drift from the kernel's.

use super::device::{Gpu, GpuError};

/// The workgroup row sum (`kernels/rowsum.wgsl`: `WG`, `workgroup_sum`) prepended to `source`,
/// for the kernels that run one workgroup per row.
pub fn with_rowsum(source: &str) -> String {
    format!("{}\n{source}", include_str!("kernels/rowsum.wgsl"))
}

/// A compiled compute pipeline.
pub struct Kernel {
    label: &'static str,
    pipeline: wgpu::ComputePipeline,
}

impl Kernel {
    /// Compiles `entry` of the WGSL `source`; a compile or validation error is returned, not
    /// raised.
    pub fn new(gpu: &Gpu, label: &'static str, source: &str, entry: &str) -> Result<Kernel, GpuError> {
        let pipeline = gpu.checked(&format!("compiling {label}"), |d| {
            let module = d.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(label), source: wgpu::ShaderSource::Wgsl(source.into()) });
            d.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(label),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        })?;
        Ok(Kernel { label, pipeline })
    }

    /// Records one dispatch of `groups` workgroups with `buffers` bound to 0, 1, 2, … of group 0.
    pub fn encode(&self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, buffers: &[&wgpu::Buffer], groups: [u32; 3]) {
        self.encode_timed(gpu, encoder, buffers, groups, None)
    }

    /// [`Kernel::encode`] in a pass that writes `timestamps` (see `timing::PassTimer`).
    pub fn encode_timed(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        buffers: &[&wgpu::Buffer],
        groups: [u32; 3],
        timestamps: Option<wgpu::ComputePassTimestampWrites<'_>>,
    ) {
        let layout = self.pipeline.get_bind_group_layout(0);
        let entries: Vec<_> = buffers.iter().enumerate().map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() }).collect();
        let bind = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some(self.label), layout: &layout, entries: &entries });
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(self.label), timestamp_writes: timestamps });
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &bind, &[]);
        let [x, y, z] = groups;
        pass.dispatch_workgroups(x, y, z);
    }
}

/// A uniform buffer holding `words` (u32s, or f32s as their bits). Uniform blocks are padded to
/// 16 bytes, so kernels declare their parameter structs in multiples of four words.
pub fn uniform(gpu: &Gpu, words: &[u32]) -> wgpu::Buffer {
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    bytes.resize(bytes.len().div_ceil(16).max(1) * 16, 0);
    let buf = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("pff params"),
        size: bytes.len() as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    gpu.queue.write_buffer(&buf, 0, &bytes);
    buf
}
