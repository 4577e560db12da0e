//! Whisper's audio encoder on the GPU: the same layers as
//! [`super::whisper::Encoder`], as WGSL kernels in one submission per
//! window. The matrices stay Q8_0 (dequantised inside the matmul kernel), the
//! activations f32; the stem's convolutions are im2col and an f32 matmul.
//! The same pass makes the decoder's cross-attention keys and values, one
//! product of the audio states a layer, so the CPU's decoder starts each
//! window with them made.

use std::sync::{Arc, Mutex};

use candle_core::Tensor;
use web_time::Instant;

use super::config::Config;
use super::whisper::{Encoded, Encoder, EncoderParts, Weights};
use crate::error::{Error, Result};
use crate::gpu::kernels::Activation;
use crate::gpu::{Failures, Gpu, GpuMatrix, GpuNorm};

struct Layer {
    attn_ln: GpuNorm,
    /// Query, key and value projections as one [3d, d] matrix.
    qkv: GpuMatrix,
    out: GpuMatrix,
    mlp_ln: GpuNorm,
    fc1: GpuMatrix,
    fc2: GpuMatrix,
}

/// Intermediate buffers for one window size, kept across windows and creatives.
struct Scratch {
    frames: usize,
    mel: wgpu::Buffer,
    col1: wgpu::Buffer,
    conv1: wgpu::Buffer,
    col2: wgpu::Buffer,
    /// The residual stream, and its value halfway through a layer.
    x: [wgpu::Buffer; 2],
    h: wgpu::Buffer,
    qkv: wgpu::Buffer,
    ctx: wgpu::Buffer,
    mid: wgpu::Buffer,
    /// One decoder layer's keys and values [t, 2d], before they join the result.
    kv: wgpu::Buffer,
    /// What is read back: the audio states [t, d], then each decoder
    /// layer's keys and values.
    result: wgpu::Buffer,
}

pub struct GpuEncoder {
    gpu: Arc<Gpu>,
    n_mels: usize,
    d: usize,
    heads: usize,
    /// Positions the embedding covers.
    positions_len: usize,
    conv1: GpuMatrix,
    conv2: GpuMatrix,
    positions: wgpu::Buffer,
    layers: Vec<Layer>,
    ln_post: GpuNorm,
    /// Each decoder layer's cross-attention key and value projections as
    /// one [2d, d] matrix (the keys have no bias), as the CPU's decoder fuses them.
    cross_kv: Vec<GpuMatrix>,
    mlp_width: usize,
    scratch: Mutex<Option<Scratch>>,
}

impl GpuEncoder {
    /// Uploads the encoder's weights (once per run).
    pub fn load(gpu: Arc<Gpu>, w: &Weights, cfg: &Config) -> Result<Self> {
        let p = "model.encoder";
        let g = &gpu;
        let conv = |name: &str| -> Result<GpuMatrix> {
            let weight = w.f32(&format!("{p}.{name}.weight"))?;
            let (out, inp, kernel) = weight.dims3()?;
            if kernel != 3 {
                return Err(Error::ModelConfig(format!("a convolution of kernel {kernel} in Whisper's stem (3 expected)")));
            }
            GpuMatrix::f32(g, &weight.flatten_all()?.to_vec1::<f32>()?, out, inp * 3, Some(&w.vector(&format!("{p}.{name}.bias"))?))
        };
        let matrix = |prefix: &str| -> Result<GpuMatrix> {
            let (q, bias) = w.matrix_and_bias(prefix)?;
            GpuMatrix::from_qtensor(g, &q, bias.as_deref())
        };
        let norm = |prefix: &str| -> Result<GpuNorm> { Ok(GpuNorm::new(g, &w.norm(prefix)?)) };
        let layers = (0..cfg.encoder_layers)
            .map(|i| {
                let l = format!("{p}.layers.{i}");
                let parts = ["q_proj", "k_proj", "v_proj"]
                    .iter()
                    .map(|n| w.matrix_and_bias(&format!("{l}.self_attn.{n}")))
                    .collect::<Result<Vec<_>>>()?;
                let parts: Vec<_> = parts.iter().map(|(q, b)| (q, b.as_deref())).collect();
                Ok(Layer {
                    attn_ln: norm(&format!("{l}.self_attn_layer_norm"))?,
                    qkv: GpuMatrix::fused(g, &parts)?,
                    out: matrix(&format!("{l}.self_attn.out_proj"))?,
                    mlp_ln: norm(&format!("{l}.final_layer_norm"))?,
                    fc1: matrix(&format!("{l}.fc1"))?,
                    fc2: matrix(&format!("{l}.fc2"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let cross_kv = (0..cfg.decoder_layers)
            .map(|i| {
                let a = format!("model.decoder.layers.{i}.encoder_attn");
                let (k, kb) = w.matrix_and_bias(&format!("{a}.k_proj"))?;
                let (v, vb) = w.matrix_and_bias(&format!("{a}.v_proj"))?;
                GpuMatrix::fused(g, &[(&k, kb.as_deref()), (&v, vb.as_deref())])
            })
            .collect::<Result<Vec<_>>>()?;
        let conv1 = conv("conv1")?;
        let conv2 = conv("conv2")?;
        let positions = w.vector(&format!("{p}.embed_positions.weight"))?;
        let d = conv2.out_features();
        let mlp_width = layers.first().map_or(4 * d, |l| l.fc1.out_features());
        Ok(Self {
            n_mels: conv1.in_features() / 3,
            d,
            heads: cfg.encoder_attention_heads,
            positions_len: positions.len() / d,
            positions: gpu.upload(&positions, "positions"),
            conv1,
            conv2,
            layers,
            ln_post: norm(&format!("{p}.layer_norm"))?,
            cross_kv,
            mlp_width,
            gpu,
            scratch: Mutex::new(None),
        })
    }

    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.gpu
    }

    /// `mel`: (1, n_mels, frames) → (1, frames / 2, d_model), as
    /// [`super::whisper::Encoder::forward`], and the decoder's
    /// cross-attention keys and values. Natively it is ready when returned;
    /// in the page it waits on WebGPU.
    pub async fn forward(&self, mel: &Tensor) -> Result<Encoded> {
        let (_, mels, frames) = mel.dims3()?;
        if mels != self.n_mels {
            return Err(Error::Invalid(format!("{mels} mel bands for an encoder of {}", self.n_mels)));
        }
        let (t1, t) = (frames, frames.div_ceil(2));
        if t > self.positions_len {
            return Err(Error::Invalid(format!("{t} audio positions exceed the encoder's {}", self.positions_len)));
        }
        // The stem works on time-major rows: [frames][mels] in, [t][d] out.
        let mel = mel.get(0)?.t()?.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        // Taken out for the pass (a window at a time, so never contended).
        let taken = self.scratch.lock().unwrap_or_else(|e| e.into_inner()).take();
        let s = match taken {
            Some(s) if s.frames == frames => s,
            _ => self.scratch(frames),
        };
        let (d, gpu) = (self.d, &*self.gpu);
        let kv_len = t * 2 * d;
        let out = gpu.run_async(
            |r| {
                r.write(&s.mel, &mel);
                r.im2col(&s.mel, frames, self.n_mels, 1, t1, &s.col1);
                r.matmul(&s.col1, &self.conv1, t1, Activation::GeluErf, None, &s.conv1);
                r.im2col(&s.conv1, t1, d, 2, t, &s.col2);
                r.matmul(&s.col2, &self.conv2, t, Activation::GeluErf, Some(&self.positions), &s.x[0]);
                // Each layer reads x[0], writes x + attention to x[1] and
                // that + MLP back to x[0].
                let [x, next] = &s.x;
                for layer in &self.layers {
                    r.layer_norm(x, &layer.attn_ln, t, &s.h);
                    r.matmul(&s.h, &layer.qkv, t, Activation::None, None, &s.qkv);
                    r.attention(&s.qkv, t, d, self.heads, &s.ctx);
                    r.matmul(&s.ctx, &layer.out, t, Activation::None, Some(x), next);
                    r.layer_norm(next, &layer.mlp_ln, t, &s.h);
                    r.matmul(&s.h, &layer.fc1, t, Activation::GeluErf, None, &s.mid);
                    r.matmul(&s.mid, &layer.fc2, t, Activation::None, Some(next), x);
                }
                r.layer_norm(x, &self.ln_post, t, &s.result);
                for (i, kv) in self.cross_kv.iter().enumerate() {
                    r.matmul(&s.result, kv, t, Activation::None, None, &s.kv);
                    r.copy(&s.kv, 0, &s.result, t * d + i * kv_len, kv_len);
                }
            },
            &s.result,
            t * d + self.cross_kv.len() * kv_len,
        )
        .await;
        *self.scratch.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
        let mut out = out?;
        let cross_kv = out[t * d..].chunks_exact(kv_len).map(<[f32]>::to_vec).collect();
        out.truncate(t * d);
        let audio = Tensor::from_vec(out, (1, t, d), &candle_core::Device::Cpu)?;
        Ok(Encoded { audio, cross_kv: Some(cross_kv), parts: EncoderParts::default() })
    }

    fn scratch(&self, frames: usize) -> Scratch {
        let (gpu, d) = (&*self.gpu, self.d);
        let t = frames.div_ceil(2);
        Scratch {
            frames,
            mel: gpu.scratch(frames * self.n_mels, "mel"),
            col1: gpu.scratch(frames * self.n_mels * 3, "conv1 columns"),
            conv1: gpu.scratch(frames * d, "conv1"),
            col2: gpu.scratch(t * d * 3, "conv2 columns"),
            x: [gpu.scratch(t * d, "x"), gpu.scratch(t * d, "x'")],
            h: gpu.scratch(t * d, "normed"),
            qkv: gpu.scratch(t * 3 * d, "qkv"),
            ctx: gpu.scratch(t * d, "attention"),
            mid: gpu.scratch(t * self.mlp_width, "mlp"),
            kv: gpu.scratch(t * 2 * d, "cross-attention keys and values"),
            result: gpu.scratch(t * d * (1 + 2 * self.cross_kv.len()), "audio states, keys and values"),
        }
    }
}

/// Whisper's encoder on the GPU, with the CPU's in reserve: a GPU failure
/// sends that window, and every later one, to the CPU, so no file fails
/// because of the GPU. The CLI and the page encode through it alike.
pub struct GpuWithFallback {
    gpu: GpuEncoder,
    failures: Failures,
}

impl GpuWithFallback {
    pub fn new(gpu: GpuEncoder) -> Self {
        Self { gpu, failures: Failures::default() }
    }

    pub fn gpu(&self) -> &Arc<Gpu> {
        self.gpu.gpu()
    }

    /// One window, on the GPU while it works, else on `cpu`.
    pub async fn encode(&self, cpu: &Encoder, mel: &Tensor) -> Result<Encoded> {
        let t = Instant::now();
        match self.failures.attempt(self.gpu.forward(mel)).await? {
            Some(mut encoded) => {
                encoded.parts.gpu_ms = t.elapsed().as_secs_f64() * 1e3;
                Ok(encoded)
            }
            None => cpu.encode(mel),
        }
    }

    /// Where the windows go, as the reports name it: the GPU's adapter, or
    /// the CPU and why the GPU was given up.
    pub fn device(&self) -> String {
        match self.failures.failed() {
            Some(why) => format!("{}, after {why}", super::whisper::cpu_device()),
            None => format!("gpu: {}", self.gpu().adapter()),
        }
    }
}
