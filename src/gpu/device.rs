//! Finding an adapter and opening a device.
//!
//! wgpu looks at every backend this build has (Vulkan, Metal, DX12, GL; `WGPU_BACKEND` narrows
//! them) and takes the best adapter it finds, a software one (lavapipe, SwiftShader) included.
//! When there is none the caller gets [`GpuErrorKind::NoAdapter`] with the backends that were
//! searched and how to install a software driver: pff never falls back to the CPU on its own,
//! since a run that silently took 100× longer would be worse than an error.

#[cfg(not(target_arch = "wasm32"))]
use crate::blocking::block_on;
use std::fmt;
use std::future::Future;

/// What kind of GPU failure an error is: the part a program may act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuErrorKind {
    /// No adapter on any backend this build searched.
    NoAdapter,
    /// An adapter was found but refused to open a device (limits, features, driver error).
    NoDevice,
    /// A kernel failed to compile or a pipeline failed validation (a bug in pff).
    Shader,
    /// Reading a buffer back failed (device lost, mapping refused).
    Readback,
    /// Operands of the wrong shape (a bug in the caller).
    Shape,
    /// Training produced a NaN or infinity (the non-finite guard tripped).
    NonFinite,
}

impl GpuErrorKind {
    /// The stable name of the kind (`no-adapter`, …), as [`crate::ErrorKind::as_str`] names its own.
    pub fn as_str(self) -> &'static str {
        match self {
            GpuErrorKind::NoAdapter => "no-adapter",
            GpuErrorKind::NoDevice => "no-device",
            GpuErrorKind::Shader => "shader",
            GpuErrorKind::Readback => "readback",
            GpuErrorKind::Shape => "shape",
            GpuErrorKind::NonFinite => "non-finite",
        }
    }
}

/// A GPU failure: a [`GpuErrorKind`] to act on and a message for a person to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuError {
    pub kind: GpuErrorKind,
    pub message: String,
}

impl GpuError {
    pub fn new(kind: GpuErrorKind, message: impl Into<String>) -> Self {
        GpuError { kind, message: message.into() }
    }
}

impl fmt::Display for GpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GPU ({}): {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for GpuError {}

impl From<GpuError> for crate::PffError {
    fn from(e: GpuError) -> Self {
        match e.kind {
            GpuErrorKind::NonFinite => crate::PffError::NonFinite(e.message),
            _ => crate::PffError::Device(e.to_string()),
        }
    }
}

/// An open device and its queue, with what the adapter said about itself.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
}

impl Gpu {
    /// [`Gpu::request`], waited for (native builds; the page awaits `request`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new() -> Result<Gpu, GpuError> {
        block_on(Gpu::request())
    }

    /// The best adapter on any backend this build has (natively narrowed by `WGPU_BACKEND` when
    /// set; in the page, the browser's WebGPU), with the WebGPU default limits. A software
    /// adapter is accepted: it is how the tests run.
    pub async fn request() -> Result<Gpu, GpuError> {
        let desc = instance_descriptor();
        let searched = desc.backends & wgpu::Instance::enabled_backend_features();
        let instance = wgpu::Instance::new(desc);
        let options = wgpu::RequestAdapterOptions { power_preference: wgpu::PowerPreference::HighPerformance, ..Default::default() };
        let adapter = instance.request_adapter(&options).await.map_err(|e| no_adapter(searched, &e.to_string()))?;
        let info = adapter.get_info();
        // timestamp queries where the adapter has them (for `pff bench`), nothing else optional
        let required_features = adapter.features() & wgpu::Features::TIMESTAMP_QUERY;
        let desc = wgpu::DeviceDescriptor { label: Some("pff"), required_features, ..Default::default() };
        let (device, queue) = adapter
            .request_device(&desc)
            .await
            .map_err(|e| GpuError::new(GpuErrorKind::NoDevice, format!("the adapter {} ({:?}) refused a device: {e}", info.name, info.backend)))?;
        Ok(Gpu { device, queue, info })
    }

    /// Whether the device can time passes with timestamp queries ([`super::timing::PassTimer`]).
    pub fn has_timestamps(&self) -> bool {
        self.device.features().contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// One line naming the adapter, its backend and driver (for logs and `bench`).
    pub fn describe(&self) -> String {
        let i = &self.info;
        format!("{} ({:?}, {:?}, driver {} {})", i.name, i.backend, i.device_type, i.driver, i.driver_info)
    }

    /// Natively, blocks until all submitted work has finished. In the page this returns at once
    /// (WebGPU has no blocking wait; a readback awaits the browser instead).
    pub fn wait(&self) -> Result<(), GpuError> {
        self.device.poll(wgpu::PollType::wait_indefinitely()).map(drop).map_err(|e| GpuError::new(GpuErrorKind::Readback, format!("waiting for the GPU: {e}")))
    }

    /// Runs `make` under a validation error scope: a kernel that fails to compile or a pipeline
    /// that fails validation becomes a [`GpuErrorKind::Shader`] error instead of a panic.
    ///
    /// In the page an error scope can only be awaited, so there `make` runs unchecked and the
    /// caller checks everything it built at once with [`Gpu::validated`].
    pub fn checked<R>(&self, what: &str, make: impl FnOnce(&wgpu::Device) -> R) -> Result<R, GpuError> {
        #[cfg(target_arch = "wasm32")]
        let _ = what;
        #[cfg(target_arch = "wasm32")]
        return Ok(make(&self.device));
        #[cfg(not(target_arch = "wasm32"))]
        block_on(self.validated(what, async { make(&self.device) }))
    }

    /// Awaits `build` under a validation error scope: whatever it compiles or creates that fails
    /// validation becomes a [`GpuErrorKind::Shader`] error naming `what`.
    pub async fn validated<R>(&self, what: &str, build: impl Future<Output = R>) -> Result<R, GpuError> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = build.await;
        match scope.pop().await {
            None => Ok(out),
            Some(e) => Err(GpuError::new(GpuErrorKind::Shader, format!("{what}: {e}"))),
        }
    }
}

/// Where wgpu looks: natively every backend this build has, narrowed by `WGPU_BACKEND`; in the
/// page, the browser's WebGPU.
fn instance_descriptor() -> wgpu::InstanceDescriptor {
    #[cfg(not(target_arch = "wasm32"))]
    return wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    #[cfg(target_arch = "wasm32")]
    wgpu::InstanceDescriptor { backends: wgpu::Backends::BROWSER_WEBGPU, ..wgpu::InstanceDescriptor::new_without_display_handle() }
}

/// The error for "no adapter": what was searched and how to get a software driver.
#[cfg(target_arch = "wasm32")]
fn no_adapter(_: wgpu::Backends, detail: &str) -> GpuError {
    GpuError::new(GpuErrorKind::NoAdapter, format!("this browser offers no WebGPU adapter ({detail})"))
}

/// The error for "no adapter": what was searched and how to get a software driver.
#[cfg(not(target_arch = "wasm32"))]
fn no_adapter(searched: wgpu::Backends, detail: &str) -> GpuError {
    let names: Vec<&str> = [(wgpu::Backends::VULKAN, "Vulkan"), (wgpu::Backends::METAL, "Metal"), (wgpu::Backends::DX12, "DX12"), (wgpu::Backends::GL, "GL")]
        .into_iter()
        .filter(|(b, _)| searched.contains(*b))
        .map(|(_, n)| n)
        .collect();
    let message = format!(
        "no GPU adapter found (searched: {}; wgpu said: {detail}). Install a GPU driver, or for a \
         software one (slow, for tests) Mesa's lavapipe: `apt-get install mesa-vulkan-drivers` on \
         Debian/Ubuntu. WGPU_BACKEND narrows the search (vulkan, metal, dx12, gl).",
        if names.is_empty() { "no backend (WGPU_BACKEND names none this build has)".to_string() } else { names.join(", ") }
    );
    GpuError::new(GpuErrorKind::NoAdapter, message)
}
