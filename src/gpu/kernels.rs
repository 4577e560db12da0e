//! The WGSL kernels and how a forward pass records them: weights on the GPU
//! ([`GpuMatrix`], [`GpuNorm`]) and one [`Recorder`] per submission.

use std::collections::HashMap;
use std::sync::Mutex;

use candle_core::quantized::{GgmlDType, QTensor};

use super::Gpu;
use crate::error::{Error, Result};

const MATMUL: &str = include_str!("shaders/matmul.wgsl");
const LAYER_NORM: &str = include_str!("shaders/layer_norm.wgsl");
const ATTENTION: &str = include_str!("shaders/attention.wgsl");
const IM2COL: &str = include_str!("shaders/im2col.wgsl");

/// The matmul's output tile (`BM`, `BN` in matmul.wgsl).
const TILE: usize = 64;
/// Queries per attention workgroup (`BQ` in attention.wgsl).
const QUERIES: usize = 64;
/// WebGPU's guaranteed workgroups per grid dimension.
const MAX_GRID: usize = 65_535;

/// What happens to a product's output before the residual is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    None = 0,
    /// The exact (erf) GELU.
    GeluErf = 1,
    /// CLIP's x · sigmoid(1.702 x).
    QuickGelu = 2,
}

/// The compiled kernels of one device.
pub(super) struct Pipelines {
    matmul_q8: wgpu::ComputePipeline,
    matmul_f32: wgpu::ComputePipeline,
    layer_norm: wgpu::ComputePipeline,
    im2col: wgpu::ComputePipeline,
    /// By head width in vec4s (the kernel keeps a query's row in registers).
    attention: Mutex<HashMap<usize, wgpu::ComputePipeline>>,
    /// Bound where a kernel's optional input (bias, residual) is absent.
    absent: wgpu::Buffer,
}

fn pipeline(device: &wgpu::Device, source: &str, entry: &str) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(entry),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    })
}

impl Pipelines {
    pub(super) fn new(device: &wgpu::Device) -> Self {
        Self {
            matmul_q8: pipeline(device, MATMUL, "matmul_q8"),
            matmul_f32: pipeline(device, MATMUL, "matmul_f32"),
            layer_norm: pipeline(device, LAYER_NORM, "layer_norm"),
            im2col: pipeline(device, IM2COL, "im2col"),
            attention: Mutex::new(HashMap::new()),
            absent: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("absent input"),
                size: 16,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            }),
        }
    }

    fn attention(&self, device: &wgpu::Device, head_vec4s: usize) -> wgpu::ComputePipeline {
        let mut cache = self.attention.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(head_vec4s)
            .or_insert_with(|| pipeline(device, &ATTENTION.replace("{HV}", &head_vec4s.to_string()), "attention"))
            .clone()
    }
}

enum Weights {
    /// The int8 values four to a word, and one scale per 32 values of a row.
    Q8 { words: wgpu::Buffer, scales: wgpu::Buffer },
    F32(wgpu::Buffer),
}

/// A weight matrix [n, k] and its bias on the GPU.
pub struct GpuMatrix {
    n: usize,
    k: usize,
    weights: Weights,
    bias: Option<wgpu::Buffer>,
}

/// Bytes of one Q8_0 block: an f16 scale and 32 int8 values.
const Q8_0_BLOCK: usize = 34;
/// Bytes of one Q4_0 block: an f16 scale and 32 4-bit values, the first 16
/// in the low nibbles and the last 16 in the high ones, offset by 8.
const Q4_0_BLOCK: usize = 18;

/// A quantised matrix's ggml blocks as Q8_0: Q8_0 as stored; Q4_0 widened
/// exactly, each value (nibble − 8) with its block's scale. The GPU has one
/// quantised matmul kernel, and 4-bit weights lose nothing in it.
pub fn q8_0_blocks(q: &QTensor) -> Result<Vec<u8>> {
    let data = q.data()?;
    match q.dtype() {
        GgmlDType::Q8_0 => Ok(data.to_vec()),
        GgmlDType::Q4_0 => Ok(data
            .chunks_exact(Q4_0_BLOCK)
            .flat_map(|b| {
                let (scale, nibbles) = b.split_at(2);
                let low = nibbles.iter().map(|n| ((n & 0x0f) as i8 - 8) as u8);
                let high = nibbles.iter().map(|n| ((n >> 4) as i8 - 8) as u8);
                scale.iter().copied().chain(low).chain(high).collect::<Vec<u8>>()
            })
            .collect()),
        other => Err(Error::Invalid(format!("a {other:?} matrix on the GPU (Q8_0, Q4_0 or f32 expected)"))),
    }
}

impl GpuMatrix {
    /// A Q8_0 matrix [n, k] as ggml's blocks, row by row.
    pub fn q8_0(gpu: &Gpu, blocks: &[u8], n: usize, k: usize, bias: Option<&[f32]>) -> Result<Self> {
        if k % 32 != 0 || blocks.len() != n * k / 32 * Q8_0_BLOCK {
            return Err(Error::Invalid(format!("{} bytes are not a Q8_0 matrix of [{n}, {k}]", blocks.len())));
        }
        let mut words = Vec::with_capacity(n * k);
        let mut scales = Vec::with_capacity(n * k / 32);
        for block in blocks.chunks_exact(Q8_0_BLOCK) {
            scales.push(half::f16::from_le_bytes([block[0], block[1]]).to_f32());
            words.extend_from_slice(&block[2..]);
        }
        Ok(Self {
            n,
            k,
            weights: Weights::Q8 { words: gpu.upload_bytes(&words, "Q8_0 values"), scales: gpu.upload(&scales, "Q8_0 scales") },
            bias: Self::bias(gpu, bias, n)?,
        })
    }

    /// A stored matrix: Q8_0 as it is, Q4_0 widened to Q8_0 exactly, f32
    /// as f32 (other types are refused).
    pub fn from_qtensor(gpu: &Gpu, q: &QTensor, bias: Option<&[f32]>) -> Result<Self> {
        Self::fused(gpu, &[(q, bias)])
    }

    /// Several matrices of the same width and type as one, their rows in
    /// order (e.g. the query, key and value projections); a missing bias is
    /// zeros. Quantised ones become Q8_0 (see [`q8_0_blocks`]).
    pub fn fused(gpu: &Gpu, parts: &[(&QTensor, Option<&[f32]>)]) -> Result<Self> {
        let dense = parts.iter().all(|(q, _)| q.dtype() == GgmlDType::F32);
        let (mut blocks, mut values, mut bias) = (Vec::new(), Vec::new(), Vec::new());
        let mut k0 = None;
        for (q, b) in parts {
            let (n, k) = q.shape().dims2()?;
            if *k0.get_or_insert(k) != k {
                return Err(Error::Invalid(format!("fusing a [{n}, {k}] matrix with ones of width {}", k0.unwrap_or(k))));
            }
            if dense {
                values.extend(q.dequantize(&candle_core::Device::Cpu)?.flatten_all()?.to_vec1::<f32>()?);
            } else {
                blocks.extend(q8_0_blocks(q)?);
            }
            match b {
                Some(b) => bias.extend_from_slice(b),
                None => bias.resize(bias.len() + n, 0.0),
            }
        }
        let k = k0.unwrap_or(32);
        match dense {
            true => Self::f32(gpu, &values, bias.len(), k, Some(&bias)),
            false => Self::q8_0(gpu, &blocks, bias.len(), k, Some(&bias)),
        }
    }

    /// An f32 matrix [n, k].
    pub fn f32(gpu: &Gpu, data: &[f32], n: usize, k: usize, bias: Option<&[f32]>) -> Result<Self> {
        if data.len() != n * k {
            return Err(Error::Invalid(format!("{} values are not a matrix of [{n}, {k}]", data.len())));
        }
        Ok(Self { n, k, weights: Weights::F32(gpu.upload(data, "f32 weights")), bias: Self::bias(gpu, bias, n)? })
    }

    fn bias(gpu: &Gpu, bias: Option<&[f32]>, n: usize) -> Result<Option<wgpu::Buffer>> {
        match bias {
            Some(b) if b.len() != n => Err(Error::Invalid(format!("a bias of {} for {n} outputs", b.len()))),
            Some(b) => Ok(Some(gpu.upload(b, "bias"))),
            None => Ok(None),
        }
    }

    pub fn out_features(&self) -> usize {
        self.n
    }

    pub fn in_features(&self) -> usize {
        self.k
    }
}

/// LayerNorm's parameters on the GPU.
pub struct GpuNorm {
    n: usize,
    gamma: wgpu::Buffer,
    beta: wgpu::Buffer,
    eps: f32,
}

impl GpuNorm {
    pub fn new(gpu: &Gpu, norm: &crate::kernels::math::LayerNorm) -> Self {
        Self { n: norm.gamma.len(), gamma: gpu.upload(&norm.gamma, "gamma"), beta: gpu.upload(&norm.beta, "beta"), eps: norm.eps }
    }
}

/// The kernels of one submission, recorded in order (WebGPU orders the
/// dispatches' reads after the writes before them).
pub struct Recorder<'a> {
    gpu: &'a Gpu,
    encoder: wgpu::CommandEncoder,
}

fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A grid of `groups` workgroups: one line of up to 65,535, or several.
fn grid(groups: usize) -> (u32, u32) {
    let lines = groups.div_ceil(MAX_GRID).max(1);
    (groups.div_ceil(lines) as u32, lines as u32)
}

impl<'a> Recorder<'a> {
    /// Replaces the start of `buffer` with `data` before this submission's
    /// kernels run (here, so that a lost device fails the pass, not the
    /// process).
    pub fn write(&mut self, buffer: &wgpu::Buffer, data: &[f32]) {
        self.gpu.write(buffer, data);
    }

    pub(super) fn new(gpu: &'a Gpu) -> Self {
        let encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("forward pass") });
        Self { gpu, encoder }
    }

    pub(super) fn finish(self) -> wgpu::CommandEncoder {
        self.encoder
    }

    /// One dispatch with `buffers` bound at 1, 2, … after the parameters at 0.
    fn dispatch(&mut self, pipeline: &wgpu::ComputePipeline, params: &[u32], buffers: &[&wgpu::Buffer], groups: (u32, u32, u32)) {
        let numbered: Vec<(u32, &wgpu::Buffer)> = buffers.iter().enumerate().map(|(i, b)| (i as u32 + 1, *b)).collect();
        self.dispatch_at(pipeline, params, &numbered, groups)
    }

    /// y [m, w.n] = act(x [m, w.k] · Wᵀ + bias) + residual [m, w.n].
    pub fn matmul(
        &mut self,
        x: &wgpu::Buffer,
        w: &GpuMatrix,
        m: usize,
        act: Activation,
        residual: Option<&wgpu::Buffer>,
        y: &wgpu::Buffer,
    ) {
        let gpu = self.gpu;
        let p = &gpu.kernels;
        let params = [m, w.n, w.k, act as usize, w.bias.is_some() as usize, residual.is_some() as usize, 0, 0].map(|v| v as u32);
        let bias = w.bias.as_ref().unwrap_or(&p.absent);
        let residual = residual.unwrap_or(&p.absent);
        let groups = (w.n.div_ceil(TILE) as u32, m.div_ceil(TILE) as u32, 1);
        // Bindings 1..=7 as the shader numbers them; each entry point binds
        // only the weights it reads.
        match &w.weights {
            Weights::Q8 { words, scales } => {
                self.dispatch_at(&p.matmul_q8, &params, &[(1, x), (2, words), (3, scales), (5, bias), (6, residual), (7, y)], groups)
            }
            Weights::F32(wf) => self.dispatch_at(&p.matmul_f32, &params, &[(1, x), (4, wf), (5, bias), (6, residual), (7, y)], groups),
        }
    }

    fn dispatch_at(&mut self, pipeline: &wgpu::ComputePipeline, params: &[u32], buffers: &[(u32, &wgpu::Buffer)], groups: (u32, u32, u32)) {
        let device = &self.gpu.device;
        let uniform = self.gpu.buffer_with(&words(params), wgpu::BufferUsages::UNIFORM, "params");
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() }];
        entries.extend(buffers.iter().map(|(i, b)| wgpu::BindGroupEntry { binding: *i, resource: b.as_entire_binding() }));
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut pass = self.encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups.0, groups.1, groups.2);
    }

    /// Copies `len` f32s of `src` from f32 `from` on into `dst` from f32 `at` on.
    pub fn copy(&mut self, src: &wgpu::Buffer, from: usize, dst: &wgpu::Buffer, at: usize, len: usize) {
        self.encoder.copy_buffer_to_buffer(src, (from * 4) as u64, dst, (at * 4) as u64, (len * 4) as u64);
    }

    /// y = LayerNorm(x) row by row, x [rows, norm.n].
    pub fn layer_norm(&mut self, x: &wgpu::Buffer, norm: &GpuNorm, rows: usize, y: &wgpu::Buffer) {
        let (per_line, lines) = grid(rows);
        let params = [rows as u32, norm.n as u32, norm.eps.to_bits(), per_line];
        let gpu = self.gpu;
        self.dispatch(&gpu.kernels.layer_norm, &params, &[x, &norm.gamma, &norm.beta, y], (per_line, lines, 1));
    }

    /// Self-attention of every head over `t` positions without a mask: qkv
    /// [t, 3d] (queries, keys, values), ctx [t, d].
    pub fn attention(&mut self, qkv: &wgpu::Buffer, t: usize, d: usize, heads: usize, ctx: &wgpu::Buffer) {
        self.attention_each(qkv, 1, t, d, heads, ctx)
    }

    /// [`Recorder::attention`] over `sequences` of `t` positions each, one
    /// after another in qkv [sequences·t, 3d] and ctx [sequences·t, d],
    /// none attending to another.
    pub fn attention_each(&mut self, qkv: &wgpu::Buffer, sequences: usize, t: usize, d: usize, heads: usize, ctx: &wgpu::Buffer) {
        let head_dim = d / heads;
        debug_assert!(head_dim % 4 == 0 && d % heads == 0);
        let scale = 1.0 / (head_dim as f32).sqrt();
        let params = [t as u32, (d / 4) as u32, scale.to_bits(), 0];
        let pipeline = self.gpu.kernels.attention(&self.gpu.device, head_dim / 4);
        self.dispatch(&pipeline, &params, &[qkv, ctx], (t.div_ceil(QUERIES) as u32, heads as u32, sequences as u32));
    }

    /// col [t_out, 3c] from x [t_in, c] for a kernel-3, padding-1
    /// convolution with `stride`.
    pub fn im2col(&mut self, x: &wgpu::Buffer, t_in: usize, c: usize, stride: usize, t_out: usize, col: &wgpu::Buffer) {
        let (per_line, lines) = grid((t_out * c * 3).div_ceil(256));
        let params = [t_in, t_out, c, stride, per_line as usize * 256, 0, 0, 0].map(|v| v as u32);
        let gpu = self.gpu;
        self.dispatch(&gpu.kernels.im2col, &params, &[x, col], (per_line, lines, 1));
    }
}
