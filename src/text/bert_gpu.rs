//! BERT's (e5's) encoder layers on the GPU: the same post-norm layers as
//! [`super::bert`], with the GPU backend's kernels, one window of text at a
//! time (no padding, so no mask). The token embeddings stay on the CPU (a
//! table look-up); the layers go to the GPU in one submission, or one per
//! stretch of layers up to each layer whose states are pooled.

use std::sync::{Arc, Mutex};

use candle_core::quantized::QTensor;

use super::bert::BertConfig;
use crate::error::{Error, Result};
use crate::gpu::kernels::Activation;
use crate::gpu::{Gpu, GpuMatrix, GpuNorm};
use crate::kernels::math::LayerNorm;

/// A matrix and its bias.
pub(super) type Dense = (QTensor, Vec<f32>);

/// One layer's weights, as [`super::bert`] reads them.
pub(super) struct LayerWeights {
    pub qkv: [Dense; 3],
    pub attn_out: Dense,
    pub attn_norm: LayerNorm,
    pub ffn_in: Dense,
    pub ffn_out: Dense,
    pub out_norm: LayerNorm,
}

struct Layer {
    qkv: GpuMatrix,
    attn_out: GpuMatrix,
    attn_norm: GpuNorm,
    ffn_in: GpuMatrix,
    ffn_out: GpuMatrix,
    out_norm: GpuNorm,
}

/// Buffers for the longest window, kept across windows and texts.
struct Scratch {
    x: wgpu::Buffer,
    qkv: wgpu::Buffer,
    ctx: wgpu::Buffer,
    attended: wgpu::Buffer,
    normed: wgpu::Buffer,
    mid: wgpu::Buffer,
}

pub struct GpuBert {
    gpu: Arc<Gpu>,
    hidden: usize,
    heads: usize,
    max_len: usize,
    intermediate: usize,
    layers: Vec<Layer>,
    scratch: Mutex<Option<Scratch>>,
}

impl GpuBert {
    /// Uploads the layers (once per run). Only the exact GELU is a GPU
    /// kernel: models with another activation stay on the CPU.
    pub(super) fn load(gpu: Arc<Gpu>, cfg: &BertConfig, layers: &[LayerWeights]) -> Result<Self> {
        if cfg.hidden_act != super::bert::HiddenAct::Gelu {
            return Err(Error::Invalid(format!("{:?} has no GPU kernel (only the exact GELU)", cfg.hidden_act)));
        }
        if cfg.head_dim() % 4 != 0 {
            return Err(Error::Invalid(format!("heads of {} values (the GPU's attention takes multiples of 4)", cfg.head_dim())));
        }
        let g = &gpu;
        let matrix = |(q, bias): &Dense| GpuMatrix::from_qtensor(g, q, Some(bias));
        let layers = layers
            .iter()
            .map(|w| {
                Ok(Layer {
                    qkv: GpuMatrix::fused(g, &w.qkv.each_ref().map(|(q, b)| (q, Some(b.as_slice()))))?,
                    attn_out: matrix(&w.attn_out)?,
                    attn_norm: GpuNorm::new(g, &w.attn_norm),
                    ffn_in: matrix(&w.ffn_in)?,
                    ffn_out: matrix(&w.ffn_out)?,
                    out_norm: GpuNorm::new(g, &w.out_norm),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            hidden: cfg.hidden_size,
            heads: cfg.num_attention_heads,
            max_len: cfg.max_positions(),
            intermediate: cfg.intermediate_size,
            layers,
            gpu,
            scratch: Mutex::new(None),
        })
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// `x`: one window's embedded rows [len, hidden] (after the embedding
    /// LayerNorm); the states [len, hidden] after each of `layers`
    /// (1-based, ascending).
    pub async fn forward_layers(&self, x: &[f32], len: usize, layers: &[usize]) -> Result<Vec<Vec<f32>>> {
        let h = self.hidden;
        if x.len() != len * h || len == 0 || len > self.max_len {
            return Err(Error::Invalid(format!("{} values for a window of {len} tokens of {h}", x.len())));
        }
        let taken = self.scratch.lock().unwrap_or_else(|e| e.into_inner()).take();
        let s = taken.unwrap_or_else(|| self.scratch());
        let mut states = Vec::with_capacity(layers.len());
        let mut done = 0;
        let mut outcome = Ok(());
        for &upto in layers {
            let run = self
                .gpu
                .run_async(
                    |r| {
                        if done == 0 {
                            r.write(&s.x, x);
                        }
                        for layer in &self.layers[done..upto] {
                            r.matmul(&s.x, &layer.qkv, len, Activation::None, None, &s.qkv);
                            r.attention(&s.qkv, len, h, self.heads, &s.ctx);
                            r.matmul(&s.ctx, &layer.attn_out, len, Activation::None, Some(&s.x), &s.attended);
                            r.layer_norm(&s.attended, &layer.attn_norm, len, &s.normed);
                            r.matmul(&s.normed, &layer.ffn_in, len, Activation::GeluErf, None, &s.mid);
                            r.matmul(&s.mid, &layer.ffn_out, len, Activation::None, Some(&s.normed), &s.attended);
                            r.layer_norm(&s.attended, &layer.out_norm, len, &s.x);
                        }
                    },
                    &s.x,
                    len * h,
                )
                .await;
            match run {
                Ok(v) => states.push(v),
                Err(e) => {
                    outcome = Err(e.into());
                    break;
                }
            }
            done = upto;
        }
        *self.scratch.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
        outcome.map(|()| states)
    }

    fn scratch(&self) -> Scratch {
        let (g, rows, h) = (&*self.gpu, self.max_len, self.hidden);
        Scratch {
            x: g.scratch(rows * h, "text states"),
            qkv: g.scratch(rows * 3 * h, "text qkv"),
            ctx: g.scratch(rows * h, "text attention"),
            attended: g.scratch(rows * h, "text residual"),
            normed: g.scratch(rows * h, "text normed"),
            mid: g.scratch(rows * self.intermediate, "text mlp"),
        }
    }
}
