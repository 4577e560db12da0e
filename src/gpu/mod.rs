//! The GPU backend: WebGPU's API through wgpu (natively over Vulkan, Metal
//! or DX12) and WGSL kernels for the encoders' heavy parts — the Q8_0
//! matmul with its weights dequantised inside the shader, LayerNorm, fused
//! attention with a stable softmax and the convolution stem's im2col
//! ([`kernels`]). Weights are uploaded once, in their quantised form; a
//! model's forward pass records all its kernels into one submission and reads
//! back only its result.
//!
//! The GPU is used only when asked for or when it is a real one (`auto`
//! passes over CPU emulations such as lavapipe, which are slower than the
//! CPU kernels) and only after a self-test against the CPU kernel passes.
//! Any GPU failure is a [`GpuError`]; the callers then compute on the CPU,
//! so no file fails because of the GPU.

#[cfg(not(target_arch = "wasm32"))]
pub mod bench;
pub mod kernels;
#[cfg(test)]
pub(crate) mod tests;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use kernels::{GpuMatrix, GpuNorm, Recorder};

/// Where the encoders run (`--device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A real GPU if one passes the self-test, else the CPU.
    #[default]
    Auto,
    Cpu,
    /// The GPU, whatever the adapter (CPU emulations included, as the tests
    /// use); no adapter is an error.
    Gpu,
}

impl DeviceChoice {
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim() {
            "auto" => Some(Self::Auto),
            "cpu" => Some(Self::Cpu),
            "gpu" => Some(Self::Gpu),
            _ => None,
        }
    }
}

/// What went wrong on the GPU. Each is answered by computing on the CPU.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU adapter was found ({0})")]
    NoAdapter(String),
    #[error("the GPU adapter {adapter} refused a device: {reason}")]
    Device { adapter: String, reason: String },
    #[error("the GPU ran out of memory: {0}")]
    OutOfMemory(String),
    #[error("the GPU rejected a kernel: {0}")]
    Validation(String),
    #[error("the GPU failed: {0}")]
    Internal(String),
    #[error("the GPU device was lost: {0}")]
    Lost(String),
    #[error("the GPU did not finish within {0} s")]
    Timeout(u64),
    #[error("the GPU's self-test against the CPU kernel failed: {0}")]
    SelfTest(String),
}

/// The adapter in use, as the reports and the status line name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adapter {
    pub name: String,
    /// Vulkan, Metal, DX12 or WebGPU.
    pub backend: String,
    /// "discrete GPU", "integrated GPU", "virtual GPU", "CPU emulation" or "other".
    pub kind: String,
    /// A CPU emulation of a GPU (lavapipe, SwiftShader, WARP).
    pub software: bool,
}

impl std::fmt::Display for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {})", self.name, self.backend, self.kind)
    }
}

impl Adapter {
    fn from_info(info: &wgpu::AdapterInfo) -> Self {
        let kind = match info.device_type {
            wgpu::DeviceType::DiscreteGpu => "discrete GPU",
            wgpu::DeviceType::IntegratedGpu => "integrated GPU",
            wgpu::DeviceType::VirtualGpu => "virtual GPU",
            wgpu::DeviceType::Cpu => "CPU emulation",
            wgpu::DeviceType::Other => "other",
        };
        Self {
            // The browser may withhold it.
            name: if info.name.is_empty() { "unnamed adapter".into() } else { info.name.clone() },
            backend: info.backend.to_string(),
            kind: kind.into(),
            software: info.device_type == wgpu::DeviceType::Cpu,
        }
    }
}

/// How long one forward pass may take on a GPU before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(120);
/// The same on a CPU emulation (lavapipe, SwiftShader), which takes
/// minutes over a window of Whisper and is only used when asked for; still
/// within the page's limit for a whole file (10 minutes).
const SOFTWARE_TIMEOUT: Duration = Duration::from_secs(480);

/// An open GPU device with the kernels' pipelines.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: Adapter,
    kernels: kernels::Pipelines,
    /// Why the device was lost, once it is.
    lost: Arc<Mutex<Option<String>>>,
}

impl Gpu {
    /// Opens the preferred adapter (high performance) of any native backend.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn open() -> Result<Self, GpuError> {
        crate::task::now(Self::open_async(true))
    }

    /// `software`: whether a CPU emulation will do. Natively any of Vulkan,
    /// Metal or DX12; in the page the browser's WebGPU (`navigator.gpu`,
    /// also inside a worker).
    async fn open_async(software: bool) -> Result<Self, GpuError> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = if cfg!(target_arch = "wasm32") { wgpu::Backends::BROWSER_WEBGPU } else { wgpu::Backends::PRIMARY };
        let instance = wgpu::Instance::new(desc);
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let info = Adapter::from_info(&adapter.get_info());
        if info.software && !software {
            return Err(GpuError::NoAdapter(format!("only {info}, slower than the CPU kernels")));
        }
        // What the kernels need is within WebGPU's defaults, except buffer
        // sizes: ask for what the adapter has.
        let mut limits = wgpu::Limits::default();
        let have = adapter.limits();
        limits.max_storage_buffer_binding_size = have.max_storage_buffer_binding_size;
        limits.max_buffer_size = have.max_buffer_size;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("creative-filter"),
                required_features: wgpu::Features::empty(),
                required_limits: limits,
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| GpuError::Device { adapter: info.to_string(), reason: e.to_string() })?;
        let lost = Arc::new(Mutex::new(None));
        let on_lost = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            let why = if message.is_empty() { format!("{reason:?}") } else { format!("{reason:?}: {message}") };
            *on_lost.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
        });
        let kernels = Self::checked(&device, || kernels::Pipelines::new(&device)).await?;
        Ok(Self { device, queue, adapter: info, kernels, lost })
    }

    /// Opens the GPU for `choice` and proves it against the CPU kernel:
    /// `None` where the encoders should run on the CPU. Only an explicit
    /// `gpu` makes a missing or failing GPU an error.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn select(choice: DeviceChoice) -> Result<Option<Arc<Self>>, GpuError> {
        crate::task::now(Self::select_async(choice))
    }

    /// [`Gpu::select`] for the page, which must await the browser's GPU.
    pub async fn select_async(choice: DeviceChoice) -> Result<Option<Arc<Self>>, GpuError> {
        if choice == DeviceChoice::Cpu {
            return Ok(None);
        }
        let opened = match Self::open_async(choice == DeviceChoice::Gpu).await {
            Ok(gpu) => gpu.self_test_async().await.map(|()| Arc::new(gpu)),
            Err(e) => Err(e),
        };
        match (opened, choice) {
            (Ok(gpu), _) => Ok(Some(gpu)),
            (Err(_), DeviceChoice::Auto) => Ok(None),
            (Err(e), _) => Err(e),
        }
    }

    /// Ends the device as a driver reset or a removed GPU would: every later
    /// use fails with a [`GpuError`] (how the tests make the GPU fail).
    pub fn destroy(&self) {
        self.device.destroy();
    }

    pub fn adapter(&self) -> &Adapter {
        &self.adapter
    }

    /// A Q8_0 product with bias, GELU and residual on odd shapes, against the
    /// CPU's int8 kernel (which also quantises the activations, hence the
    /// tolerance).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn self_test(&self) -> Result<(), GpuError> {
        crate::task::now(self.self_test_async())
    }

    async fn self_test_async(&self) -> Result<(), GpuError> {
        let (m, n, k) = (7, 37, 96);
        let x: Vec<f32> = (0..m * k).map(|i| ((i * 7919 % 263) as f32 / 131.0 - 1.0) * 0.8).collect();
        let w: Vec<f32> = (0..n * k).map(|i| ((i * 104_729 % 311) as f32 / 155.0 - 1.0) * 0.3).collect();
        let bias: Vec<f32> = (0..n).map(|i| i as f32 * 0.01 - 0.1).collect();
        let residual: Vec<f32> = (0..m * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let fail = |e: crate::Error| GpuError::SelfTest(e.to_string());
        let q = crate::kernels::linear::quantize_q8_0(&w, n, k).map_err(fail)?;
        let matrix = GpuMatrix::from_qtensor(self, &q, Some(&bias)).map_err(fail)?;
        let cpu = crate::kernels::linear::Linear::new(q, Some(bias.clone()), crate::kernels::linear::Fallback::Dense).map_err(fail)?;
        let want = cpu.forward(&x, m, crate::kernels::math::Act::GeluErf, Some(&residual)).map_err(fail)?;
        let (xb, rb) = (self.upload(&x, "self-test x"), self.upload(&residual, "self-test residual"));
        let yb = self.scratch(m * n, "self-test y");
        let got = self.run_async(|r| r.matmul(&xb, &matrix, m, kernels::Activation::GeluErf, Some(&rb), &yb), &yb, m * n).await?;
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        let scale = want.iter().fold(0.0f32, |s, v| s.max(v.abs()));
        if !(worst <= 0.02 * scale.max(1.0)) {
            return Err(GpuError::SelfTest(format!(
                "{} differs from the CPU by up to {worst} (outputs up to {scale}) on a [{m}, {k}] × [{n}, {k}]ᵀ product",
                self.adapter
            )));
        }
        Ok(())
    }

    /// A storage buffer holding `data`.
    pub fn upload(&self, data: &[f32], label: &str) -> wgpu::Buffer {
        self.upload_bytes(f32_bytes(data).as_slice(), label)
    }

    pub(crate) fn upload_bytes(&self, bytes: &[u8], label: &str) -> wgpu::Buffer {
        self.buffer_with(bytes, wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC, label)
    }

    /// A buffer holding `bytes`, written through the queue: wgpu's
    /// `create_buffer_init` panics on a lost device, where this fails as
    /// every other call does, through the error scopes.
    pub(crate) fn buffer_with(&self, bytes: &[u8], usage: wgpu::BufferUsages, label: &str) -> wgpu::Buffer {
        // A binding may not be empty, and writes come in words.
        let size = bytes.len().max(4).next_multiple_of(4);
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: size as u64,
            usage: usage | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut padded = bytes.to_vec();
        padded.resize(size, 0);
        self.queue.write_buffer(&buffer, 0, &padded);
        buffer
    }

    /// A storage buffer of `len` f32s for intermediate results.
    pub fn scratch(&self, len: usize, label: &str) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (len.max(1) * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    }

    /// Replaces the start of `buffer` with `data` (see [`Recorder::write`]).
    fn write(&self, buffer: &wgpu::Buffer, data: &[f32]) {
        self.queue.write_buffer(buffer, 0, f32_bytes(data).as_slice());
    }

    /// Records `work` into one submission, runs it and reads back the first
    /// `len` f32s of `result`. Errors of any kind inside (validation, out of
    /// memory, a lost device, a hang) come back as a [`GpuError`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run(&self, work: impl FnOnce(&mut Recorder), result: &wgpu::Buffer, len: usize) -> Result<Vec<f32>, GpuError> {
        // wgpu panics on some misuse and on some calls to a lost device:
        // those, too, are this call's error, not the process's.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| crate::task::now(self.run_unguarded(work, result, len))))
            .unwrap_or_else(|panic| Err(GpuError::Internal(crate::error::panic_text(panic.as_ref()))))
    }

    /// [`Gpu::run`] where the result must be awaited: in the page, WebGPU
    /// hands it back through the browser's event loop. Natively it is ready
    /// when returned.
    pub async fn run_async(&self, work: impl FnOnce(&mut Recorder), result: &wgpu::Buffer, len: usize) -> Result<Vec<f32>, GpuError> {
        #[cfg(not(target_arch = "wasm32"))]
        return self.run(work, result, len);
        #[cfg(target_arch = "wasm32")]
        self.run_unguarded(work, result, len).await
    }

    async fn run_unguarded(&self, work: impl FnOnce(&mut Recorder), result: &wgpu::Buffer, len: usize) -> Result<Vec<f32>, GpuError> {
        // Lets a loss reported since the last call reach its callback.
        let _ = self.device.poll(wgpu::PollType::Poll);
        self.check_lost()?;
        let staging = Self::checked(&self.device, || {
            let mut recorder = Recorder::new(self);
            work(&mut recorder);
            let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("read-back"),
                size: (len.max(1) * 4) as u64,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut encoder = recorder.finish();
            encoder.copy_buffer_to_buffer(result, 0, &staging, 0, (len * 4) as u64);
            self.queue.submit([encoder.finish()]);
            staging
        })
        .await?;
        self.read_back(&staging, len).await
    }

    fn timeout(&self) -> Duration {
        if self.adapter.software { SOFTWARE_TIMEOUT } else { TIMEOUT }
    }

    async fn read_back(&self, staging: &wgpu::Buffer, len: usize) -> Result<Vec<f32>, GpuError> {
        let limit = self.timeout();
        let mapped = crate::task::Slot::default();
        let on_mapped = mapped.clone();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| on_mapped.put(r));
        // Natively the mapping completes inside this wait; in the page the
        // browser completes it while this future waits, and a timer bounds
        // the wait instead.
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::Wait { submission_index: None, timeout: Some(limit) })
            .map_err(|e| match e {
                wgpu::PollError::Timeout => GpuError::Timeout(limit.as_secs()),
                other => GpuError::Internal(other.to_string()),
            })?;
        let outcome = within(limit, mapped.take()).await;
        self.check_lost()?;
        match outcome {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(GpuError::Internal(format!("reading the result back: {e}"))),
            None => return Err(GpuError::Timeout(limit.as_secs())),
        }
        let view = staging.slice(..).get_mapped_range().map_err(|e| GpuError::Internal(e.to_string()))?;
        let out = view[..len * 4].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        drop(view);
        staging.unmap();
        Ok(out)
    }

    fn check_lost(&self) -> Result<(), GpuError> {
        match self.lost.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            Some(reason) => Err(GpuError::Lost(reason)),
            None => Ok(()),
        }
    }

    /// `f` inside error scopes: what the device reports while it runs is
    /// this call's error.
    async fn checked<T>(device: &wgpu::Device, f: impl FnOnce() -> T) -> Result<T, GpuError> {
        let scopes = [wgpu::ErrorFilter::Internal, wgpu::ErrorFilter::OutOfMemory, wgpu::ErrorFilter::Validation]
            .map(|filter| device.push_error_scope(filter));
        let out = f();
        // Popped innermost first.
        let mut first = None;
        for scope in scopes.into_iter().rev() {
            if let Some(e) = scope.pop().await {
                first.get_or_insert(match e {
                    wgpu::Error::OutOfMemory { .. } => GpuError::OutOfMemory(e.to_string()),
                    wgpu::Error::Validation { description, .. } => GpuError::Validation(description),
                    wgpu::Error::Internal { description, .. } => GpuError::Internal(description),
                });
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

/// `future`'s output, or None when it is not ready within `limit`. Natively
/// the GPU's own wait is bounded (see [`Gpu::read_back`]), so this only
/// takes what is ready.
#[cfg(not(target_arch = "wasm32"))]
async fn within<T>(_limit: Duration, future: impl Future<Output = T>) -> Option<T> {
    crate::task::ready(future)
}

#[cfg(target_arch = "wasm32")]
async fn within<T>(limit: Duration, future: impl Future<Output = T>) -> Option<T> {
    let mut future = std::pin::pin!(future);
    let mut timer = std::pin::pin!(crate::task::sleep(limit));
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(v));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// Whether the GPU has failed in this run: after a failure the work goes to
/// the CPU for the rest of it, and the reports say why.
#[derive(Debug, Default)]
pub struct Failures(Mutex<Option<String>>);

impl Failures {
    /// Why the GPU was given up, once it was.
    pub fn failed(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What `on_gpu` computes, or None where the GPU has failed, before or
    /// now (that failure is kept): the caller then computes on the CPU.
    /// Errors other than the GPU's are the caller's.
    pub async fn attempt<T>(&self, on_gpu: impl Future<Output = crate::Result<T>>) -> crate::Result<Option<T>> {
        if self.failed().is_some() {
            return Ok(None);
        }
        match on_gpu.await {
            Ok(v) => Ok(Some(v)),
            Err(e @ crate::Error::Gpu(_)) => {
                *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

fn f32_bytes(data: &[f32]) -> Vec<u8> {
    data.iter().flat_map(|v| v.to_le_bytes()).collect()
}
