//! X-CLIP's vision tower on the GPU: the patch embedding and the vision
//! layers of [`super::XClipModel`], cross-frame messages included, as the GPU
//! backend's kernels in one submission per batch of videos. The patches are
//! cut on the CPU; what follows the layers (the class tokens' projection,
//! the MIT, the prompt generator's patch features) is a few rows a frame and
//! stays on the CPU.
//!
//! Each frame's rows are its L tokens (class, then patches) and one more,
//! the slot its message joins for the self-attention, as the CPU path
//! appends it. That slot goes through the MLP too (rows are independent
//! there) and is overwritten by the next layer's message.

use std::sync::{Arc, Mutex};

use super::config::{Activation, XClipVisionConfig};
use super::weights::XClipWeights;
use crate::error::{Error, Result};
use crate::gpu::kernels::Activation as GpuActivation;
use crate::gpu::{Gpu, GpuMatrix, GpuNorm};
use crate::kernels::math::LayerNorm;

/// Query, key and value as one [3h, h] matrix, and the output projection.
struct Attention {
    qkv: GpuMatrix,
    out: GpuMatrix,
}

struct Layer {
    message_fc: GpuMatrix,
    message_ln: GpuNorm,
    message_attn: Attention,
    ln1: GpuNorm,
    attn: Attention,
    ln2: GpuNorm,
    fc1: GpuMatrix,
    fc2: GpuMatrix,
}

/// Buffers for one number of videos, kept across videos.
struct Scratch {
    videos: usize,
    patches: wgpu::Buffer,
    /// The class token and positions of every frame's rows (zero for the
    /// message slot), added to the patch product.
    embedding: wgpu::Buffer,
    /// The residual stream, and its value halfway through a layer.
    x: [wgpu::Buffer; 2],
    h: wgpu::Buffer,
    qkv: wgpu::Buffer,
    ctx: wgpu::Buffer,
    mid: wgpu::Buffer,
    /// The frames' class tokens, then their messages before and after the
    /// messages' attention.
    class: wgpu::Buffer,
    message: [wgpu::Buffer; 2],
    message_h: wgpu::Buffer,
    message_qkv: wgpu::Buffer,
    message_ctx: wgpu::Buffer,
}

pub struct GpuVisionTower {
    gpu: Arc<Gpu>,
    hidden: usize,
    heads: usize,
    frames: usize,
    /// Tokens of a frame: the class token and the patches.
    tokens: usize,
    /// Values of one patch (channels × patch × patch).
    patch_len: usize,
    act: GpuActivation,
    patch: GpuMatrix,
    /// [tokens + 1, hidden]: the class embedding plus position 0, the
    /// positions of the patches, zeros for the message slot.
    embedding: Vec<f32>,
    pre_norm: GpuNorm,
    layers: Vec<Layer>,
    intermediate: usize,
    scratch: Mutex<Option<Scratch>>,
}

impl GpuVisionTower {
    /// Uploads the vision tower (once per run). Only the quick and the exact
    /// GELU are GPU kernels: models with another activation stay on the CPU.
    pub fn load(gpu: Arc<Gpu>, w: &XClipWeights) -> Result<Self> {
        let v: &XClipVisionConfig = &w.config.vision_config;
        let act = match v.hidden_act {
            Activation::QuickGelu => GpuActivation::QuickGelu,
            Activation::Gelu => GpuActivation::GeluErf,
            other => return Err(Error::Invalid(format!("{other:?} has no GPU kernel (quick or exact GELU)"))),
        };
        let h = v.hidden_size;
        if h % v.num_attention_heads != 0 || (h / v.num_attention_heads) % 4 != 0 {
            return Err(Error::Invalid(format!("heads of {} values (the GPU's attention takes multiples of 4)", h / v.num_attention_heads)));
        }
        let g = &gpu;
        let eps = v.layer_norm_eps as f32;
        let norm = |prefix: &str| -> Result<GpuNorm> {
            let ln = LayerNorm { gamma: w.vec(&format!("{prefix}.weight"))?, beta: w.vec(&format!("{prefix}.bias"))?, eps };
            Ok(GpuNorm::new(g, &ln))
        };
        let matrix = |prefix: &str| -> Result<GpuMatrix> {
            GpuMatrix::from_qtensor(g, w.get(&format!("{prefix}.weight"))?, Some(&w.vec(&format!("{prefix}.bias"))?))
        };
        let attention = |prefix: &str| -> Result<Attention> {
            let parts = ["q_proj", "k_proj", "v_proj"]
                .iter()
                .map(|n| Ok((w.get(&format!("{prefix}.{n}.weight"))?, w.vec(&format!("{prefix}.{n}.bias"))?)))
                .collect::<Result<Vec<_>>>()?;
            let parts: Vec<_> = parts.iter().map(|(q, b)| (*q, Some(b.as_slice()))).collect();
            Ok(Attention { qkv: GpuMatrix::fused(g, &parts)?, out: matrix(&format!("{prefix}.out_proj"))? })
        };
        let layers = (0..v.num_hidden_layers)
            .map(|i| {
                let p = format!("vision_model.encoder.layers.{i}");
                Ok(Layer {
                    message_fc: matrix(&format!("{p}.message_fc"))?,
                    message_ln: norm(&format!("{p}.message_ln"))?,
                    message_attn: attention(&format!("{p}.message_attn"))?,
                    ln1: norm(&format!("{p}.layer_norm1"))?,
                    attn: attention(&format!("{p}.self_attn"))?,
                    ln2: norm(&format!("{p}.layer_norm2"))?,
                    fc1: matrix(&format!("{p}.mlp.fc1"))?,
                    fc2: matrix(&format!("{p}.mlp.fc2"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let tokens = v.num_patches() + 1;
        let patch_len = v.num_channels * v.patch_size * v.patch_size;
        let patch = GpuMatrix::f32(g, &w.vec("vision_model.embeddings.patch_embedding.weight")?, h, patch_len, None)?;
        let class = w.vec("vision_model.embeddings.class_embedding")?;
        let mut embedding = w.vec("vision_model.embeddings.position_embedding.weight")?;
        if embedding.len() != tokens * h || class.len() != h {
            return Err(Error::ModelConfig(format!("X-CLIP's position embedding has {} values for {tokens} tokens of {h}", embedding.len())));
        }
        embedding.iter_mut().zip(&class).for_each(|(p, c)| *p += c);
        embedding.resize((tokens + 1) * h, 0.0);
        Ok(Self {
            hidden: h,
            heads: v.num_attention_heads,
            frames: v.num_frames,
            tokens,
            patch_len,
            act,
            patch,
            embedding,
            pre_norm: norm("vision_model.pre_layernorm")?,
            layers,
            intermediate: v.intermediate_size,
            gpu,
            scratch: Mutex::new(None),
        })
    }

    /// `patches`: `videos` × frames × patches rows of [`Self::patch_len`]
    /// pixels, as the CPU path cuts them. Returns the last layer's states,
    /// frame by frame: [videos · frames, tokens, hidden] (the message slots
    /// dropped). Natively it is ready when returned.
    pub async fn forward(&self, patches: &[f32], videos: usize) -> Result<Vec<f32>> {
        let (h, l, n) = (self.hidden, self.tokens, videos * self.frames);
        let per_frame = (l - 1) * self.patch_len;
        if patches.len() != n * per_frame || videos == 0 {
            return Err(Error::Invalid(format!("{} patch values for {videos} videos of {} frames", patches.len(), self.frames)));
        }
        // Each frame's rows: a zero row where the class token goes, its
        // patches, a zero row for the message slot.
        let rows = n * (l + 1);
        let mut padded = vec![0f32; rows * self.patch_len];
        for (f, frame) in patches.chunks_exact(per_frame).enumerate() {
            padded[(f * (l + 1) + 1) * self.patch_len..][..per_frame].copy_from_slice(frame);
        }
        let taken = self.scratch.lock().unwrap_or_else(|e| e.into_inner()).take();
        let (s, fresh) = match taken {
            Some(s) if s.videos == videos => (s, false),
            _ => (self.scratch(videos), true),
        };
        let heads = self.heads;
        // Written once per scratch, with its first pass, so that a lost
        // device fails the pass, not the process.
        let embedding: Option<Vec<f32>> = fresh.then(|| self.embedding.iter().copied().cycle().take(rows * h).collect());
        let out = self
            .gpu
            .run_async(
                |r| {
                    r.write(&s.patches, &padded);
                    if let Some(e) = &embedding {
                        r.write(&s.embedding, e);
                    }
                    r.matmul(&s.patches, &self.patch, rows, GpuActivation::None, Some(&s.embedding), &s.x[1]);
                    r.layer_norm(&s.x[1], &self.pre_norm, rows, &s.x[0]);
                    // Each layer reads x[0], writes x + attention to x[1]
                    // and that + MLP back to x[0].
                    let [x, next] = &s.x;
                    for layer in &self.layers {
                        for f in 0..n {
                            r.copy(x, f * (l + 1) * h, &s.class, f * h, h);
                        }
                        r.matmul(&s.class, &layer.message_fc, n, GpuActivation::None, None, &s.message[0]);
                        r.layer_norm(&s.message[0], &layer.message_ln, n, &s.message_h);
                        r.matmul(&s.message_h, &layer.message_attn.qkv, n, GpuActivation::None, None, &s.message_qkv);
                        r.attention_each(&s.message_qkv, videos, self.frames, h, heads, &s.message_ctx);
                        r.matmul(&s.message_ctx, &layer.message_attn.out, n, GpuActivation::None, Some(&s.message[0]), &s.message[1]);
                        for f in 0..n {
                            r.copy(&s.message[1], f * h, x, (f * (l + 1) + l) * h, h);
                        }
                        r.layer_norm(x, &layer.ln1, rows, &s.h);
                        r.matmul(&s.h, &layer.attn.qkv, rows, GpuActivation::None, None, &s.qkv);
                        r.attention_each(&s.qkv, n, l + 1, h, heads, &s.ctx);
                        r.matmul(&s.ctx, &layer.attn.out, rows, GpuActivation::None, Some(x), next);
                        r.layer_norm(next, &layer.ln2, rows, &s.h);
                        r.matmul(&s.h, &layer.fc1, rows, self.act, None, &s.mid);
                        r.matmul(&s.mid, &layer.fc2, rows, GpuActivation::None, Some(next), x);
                    }
                },
                &s.x[0],
                rows * h,
            )
            .await;
        *self.scratch.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
        let out = out?;
        Ok(out.chunks_exact((l + 1) * h).flat_map(|frame| frame[..l * h].iter().copied()).collect())
    }

    fn scratch(&self, videos: usize) -> Scratch {
        let (g, h) = (&*self.gpu, self.hidden);
        let n = videos * self.frames;
        let rows = n * (self.tokens + 1);
        Scratch {
            videos,
            patches: g.scratch(rows * self.patch_len, "patches"),
            embedding: g.scratch(rows * h, "class and positions"),
            x: [g.scratch(rows * h, "frame states"), g.scratch(rows * h, "frame states'")],
            h: g.scratch(rows * h, "frame states normed"),
            qkv: g.scratch(rows * 3 * h, "frame qkv"),
            ctx: g.scratch(rows * h, "frame attention"),
            mid: g.scratch(rows * self.intermediate, "frame mlp"),
            class: g.scratch(n * h, "class tokens"),
            message: [g.scratch(n * h, "messages"), g.scratch(n * h, "messages'")],
            message_h: g.scratch(n * h, "messages normed"),
            message_qkv: g.scratch(n * 3 * h, "message qkv"),
            message_ctx: g.scratch(n * h, "message attention"),
        }
    }
}
