//! X-CLIP (Hugging Face `XCLIPModel`, the architecture of
//! microsoft/xclip-base-patch32) on candle: a CLIP vision tower whose frames
//! exchange cross-frame message tokens, a multi-frame integration transformer
//! (MIT) pooling the frames into one video embedding, a CLIP text tower, and
//! a prompt generator that conditions each text embedding on the video's
//! patch features. Tensor names are Hugging Face's, so a `model.safetensors`
//! of a real checkpoint loads unchanged.

mod config;
pub mod gpu;
mod weights;

pub use config::{Activation, XClipConfig, XClipTextConfig, XClipVisionConfig};
pub use weights::XClipWeights;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor, D};

use crate::kernels::math::Act;
use crate::kernels::linear::{self, Fallback};
use crate::text::WeightFormat;
use crate::{Error, Result};

/// y = act(x Wᵀ + b) over the last dimension of a tensor.
struct Linear(linear::Linear);

impl Linear {
    fn new(weight: QTensor, bias: Option<Vec<f32>>) -> Result<Self> {
        Ok(Self(linear::Linear::new(weight, bias, Fallback::Quantized)?))
    }

    fn load(w: &XClipWeights, prefix: &str, bias: bool) -> Result<Self> {
        let b = if bias { Some(w.vec(&format!("{prefix}.bias"))?) } else { None };
        Self::new(w.qcopy(&format!("{prefix}.weight"))?, b)
    }

    /// Several projections of the same input as one matmul.
    fn fused(w: &XClipWeights, prefixes: &[String], bias: bool) -> Result<Self> {
        let parts = prefixes
            .iter()
            .map(|p| Ok((w.qcopy(&format!("{p}.weight"))?, if bias { Some(w.vec(&format!("{p}.bias"))?) } else { None })))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self(linear::Linear::fused(parts, Fallback::Quantized)?))
    }

    fn forward(&self, x: &Tensor, act: Option<Activation>) -> Result<Tensor> {
        let mut dims = x.dims().to_vec();
        let m = x.elem_count() / self.0.in_features();
        let mut y = self.0.forward(&x.flatten_all()?.to_vec1::<f32>()?, m, Act::None, None)?;
        if let Some(a) = act {
            a.apply(&mut y);
        }
        *dims.last_mut().unwrap() = self.0.out_features();
        Ok(Tensor::from_vec(y, dims, &Device::Cpu)?)
    }
}

/// LayerNorm over the last dimension.
struct Norm {
    gamma: Tensor,
    beta: Tensor,
    eps: f32,
}

impl Norm {
    fn load(w: &XClipWeights, prefix: &str, eps: f64) -> Result<Self> {
        Ok(Self { gamma: w.f32(&format!("{prefix}.weight"))?, beta: w.f32(&format!("{prefix}.bias"))?, eps: eps as f32 })
    }
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::layer_norm(&x.contiguous()?, &self.gamma, &self.beta, self.eps)?)
    }
}

/// softmax(q kᵀ / √d + bias) v per head. q: [B, Lq, H], k, v: [B, Lk, H];
/// bias broadcasts to [B, heads, Lq, Lk].
fn attend(q: &Tensor, k: &Tensor, v: &Tensor, heads: usize, bias: Option<&Tensor>) -> Result<Tensor> {
    let (b, lq, h) = q.dims3()?;
    let lk = k.dim(1)?;
    let hd = h / heads;
    let split = |t: &Tensor, l: usize| -> Result<Tensor> {
        Ok(t.reshape((b, l, heads, hd))?.transpose(1, 2)?.contiguous()?)
    };
    let (q, k, v) = (split(q, lq)?, split(k, lk)?, split(v, lk)?);
    let mut s = (q.matmul(&k.t()?)? * (1.0 / (hd as f64).sqrt()))?;
    if let Some(bias) = bias {
        s = s.broadcast_add(bias)?;
    }
    let p = candle_nn::ops::softmax_last_dim(&s)?;
    Ok(p.matmul(&v)?.transpose(1, 2)?.reshape((b, lq, h))?)
}

/// Hugging Face `XCLIPAttention`: self-attention with biased projections.
struct SelfAttention {
    qkv: Linear,
    out: Linear,
    heads: usize,
}

impl SelfAttention {
    fn load(w: &XClipWeights, p: &str, heads: usize) -> Result<Self> {
        let names: Vec<String> = ["q_proj", "k_proj", "v_proj"].iter().map(|n| format!("{p}.{n}")).collect();
        Ok(Self { qkv: Linear::fused(w, &names, true)?, out: Linear::load(w, &format!("{p}.out_proj"), true)?, heads })
    }

    fn forward(&self, x: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let h = x.dim(D::Minus1)?;
        let qkv = self.qkv.forward(x, None)?;
        let part = |i: usize| qkv.narrow(D::Minus1, i * h, h);
        let ctx = attend(&part(0)?, &part(1)?, &part(2)?, self.heads, bias)?;
        self.out.forward(&ctx, None)
    }
}

/// Hugging Face `XCLIPEncoderLayer`: pre-LayerNorm attention and MLP blocks.
struct EncoderLayer {
    ln1: Norm,
    attn: SelfAttention,
    ln2: Norm,
    fc1: Linear,
    fc2: Linear,
    act: Activation,
}

impl EncoderLayer {
    fn load(w: &XClipWeights, p: &str, heads: usize, act: Activation, eps: f64) -> Result<Self> {
        Ok(Self {
            ln1: Norm::load(w, &format!("{p}.layer_norm1"), eps)?,
            attn: SelfAttention::load(w, &format!("{p}.self_attn"), heads)?,
            ln2: Norm::load(w, &format!("{p}.layer_norm2"), eps)?,
            fc1: Linear::load(w, &format!("{p}.mlp.fc1"), true)?,
            fc2: Linear::load(w, &format!("{p}.mlp.fc2"), true)?,
            act,
        })
    }

    fn attention_block(&self, x: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        Ok((x + self.attn.forward(&self.ln1.forward(x)?, bias)?)?)
    }

    fn mlp_block(&self, x: &Tensor) -> Result<Tensor> {
        let mid = self.fc1.forward(&self.ln2.forward(x)?, Some(self.act))?;
        Ok((x + self.fc2.forward(&mid, None)?)?)
    }

    fn forward(&self, x: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        self.mlp_block(&self.attention_block(x, bias)?)
    }
}

/// Hugging Face `XCLIPVisionEncoderLayer`: each frame's class token becomes
/// a message; the messages of a video attend to each other and join their
/// frames' sequences for the self-attention only.
struct VisionLayer {
    message_fc: Linear,
    message_ln: Norm,
    message_attn: SelfAttention,
    body: EncoderLayer,
}

impl VisionLayer {
    /// x: [B·T, L, H] → [B·T, L, H].
    fn forward(&self, x: &Tensor, frames: usize) -> Result<Tensor> {
        let (bt, l, h) = x.dims3()?;
        let msg = self.message_fc.forward(&x.narrow(1, 0, 1)?, None)?.reshape((bt / frames, frames, h))?;
        let msg = (&msg + self.message_attn.forward(&self.message_ln.forward(&msg)?, None)?)?;
        let x = Tensor::cat(&[x, &msg.reshape((bt, 1, h))?], 1)?;
        let x = self.body.attention_block(&x, None)?.narrow(1, 0, l)?;
        self.body.mlp_block(&x)
    }
}

/// Hugging Face `PromptGeneratorLayer`: text queries attend to the video's
/// patch features.
struct PromptLayer {
    norm1: Norm,
    q: Linear,
    kv: Linear,
    proj: Linear,
    norm3: Norm,
    fc1: Linear,
    fc2: Linear,
}

impl PromptLayer {
    fn forward(&self, x: &Tensor, visual: &Tensor, heads: usize, act: Activation) -> Result<Tensor> {
        let d = x.dim(D::Minus1)?;
        let q = self.q.forward(&self.norm1.forward(x)?, None)?;
        let kv = self.kv.forward(visual, None)?;
        let ctx = attend(&q, &kv.narrow(D::Minus1, 0, d)?, &kv.narrow(D::Minus1, d, d)?, heads, None)?;
        let x = (x + self.proj.forward(&ctx, None)?)?;
        let mid = self.fc1.forward(&self.norm3.forward(&x)?, Some(act))?;
        Ok((&x + self.fc2.forward(&mid, None)?)?)
    }
}

/// What a video contributes to every comparison with text.
#[derive(Debug, Clone)]
pub struct VideoFeatures {
    /// [B, D]: the MIT's pooled output (`get_video_features`), not normalised.
    pub embeds: Tensor,
    /// [B, patches, D]: frame-averaged projected patch features, the prompt
    /// generator's keys and values.
    pub prompt_visual: Tensor,
}

/// Video-text similarity, as Hugging Face's `XCLIPOutput`.
#[derive(Debug, Clone)]
pub struct XClipOutput {
    /// [B, D], L2-normalised.
    pub video_embeds: Tensor,
    /// [B, K, D]: the K texts conditioned on each video, L2-normalised.
    pub text_embeds: Tensor,
    /// [B, K]: logit_scale.exp() · cosine.
    pub logits_per_video: Tensor,
}

pub struct XClipModel {
    config: XClipConfig,
    token_embedding: Tensor,
    text_position: Tensor,
    text_layers: Vec<EncoderLayer>,
    final_norm: Norm,
    text_projection: Linear,
    class_embedding: Tensor,
    /// The patch convolution as a [hidden, channels·p·p] matmul.
    patch: Linear,
    vision_position: Tensor,
    pre_norm: Norm,
    vision_layers: Vec<VisionLayer>,
    post_norm: Norm,
    visual_projection: Linear,
    mit_position: Tensor,
    mit_layers: Vec<EncoderLayer>,
    prompts_visual_norm: Norm,
    prompts_visual_projection: Tensor,
    prompt_norm: Norm,
    prompt_layers: Vec<PromptLayer>,
    alpha: Tensor,
    logit_scale: f32,
    /// The vision tower's copy on a GPU, where one was chosen.
    gpu: Option<OnGpu>,
}

/// The vision tower on the GPU, and whether it has failed.
struct OnGpu {
    tower: gpu::GpuVisionTower,
    failures: crate::gpu::Failures,
}

const MASKED: f32 = -1e30;

impl XClipModel {
    pub fn new(w: &XClipWeights) -> Result<Self> {
        Self::new_on(w, None)
    }

    /// [`XClipModel::new`] with the vision tower also on `gpu`, unless its
    /// kernels do not cover the model or the GPU refuses it: then it stays
    /// on the CPU.
    pub fn new_on(w: &XClipWeights, gpu: Option<std::sync::Arc<crate::gpu::Gpu>>) -> Result<Self> {
        let cfg = w.config.clone();
        let (t, v) = (&cfg.text_config, &cfg.vision_config);
        let text_layers = (0..t.num_hidden_layers)
            .map(|i| {
                let p = format!("text_model.encoder.layers.{i}");
                EncoderLayer::load(w, &p, t.num_attention_heads, t.hidden_act, t.layer_norm_eps)
            })
            .collect::<Result<Vec<_>>>()?;
        let vision_layers = (0..v.num_hidden_layers)
            .map(|i| {
                let p = format!("vision_model.encoder.layers.{i}");
                Ok(VisionLayer {
                    message_fc: Linear::load(w, &format!("{p}.message_fc"), true)?,
                    message_ln: Norm::load(w, &format!("{p}.message_ln"), v.layer_norm_eps)?,
                    message_attn: SelfAttention::load(w, &format!("{p}.message_attn"), v.num_attention_heads)?,
                    body: EncoderLayer::load(w, &p, v.num_attention_heads, v.hidden_act, v.layer_norm_eps)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // The MIT is built from a copy of the vision config: same act and eps.
        let mit_layers = (0..v.mit_num_hidden_layers)
            .map(|i| {
                let p = format!("mit.encoder.layers.{i}");
                EncoderLayer::load(w, &p, v.mit_num_attention_heads, v.hidden_act, v.layer_norm_eps)
            })
            .collect::<Result<Vec<_>>>()?;
        let prompt_layers = (0..cfg.prompt_layers)
            .map(|i| {
                let p = format!("prompts_generator.decoder.{i}");
                let ca = |n: &str| format!("{p}.cross_attn.{n}");
                Ok(PromptLayer {
                    norm1: Norm::load(w, &format!("{p}.norm1"), t.layer_norm_eps)?,
                    q: Linear::load(w, &ca("q_proj"), false)?,
                    kv: Linear::fused(w, &[ca("k_proj"), ca("v_proj")], false)?,
                    proj: Linear::load(w, &ca("proj"), true)?,
                    norm3: Norm::load(w, &format!("{p}.norm3"), t.layer_norm_eps)?,
                    fc1: Linear::load(w, &format!("{p}.mlp.0"), true)?,
                    fc2: Linear::load(w, &format!("{p}.mlp.3"), true)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let patch_w = w.f32("vision_model.embeddings.patch_embedding.weight")?;
        let patch_w = patch_w.reshape((v.hidden_size, ()))?;
        Ok(Self {
            token_embedding: w.f32("text_model.embeddings.token_embedding.weight")?,
            text_position: w.f32("text_model.embeddings.position_embedding.weight")?,
            text_layers,
            final_norm: Norm::load(w, "text_model.final_layer_norm", t.layer_norm_eps)?,
            text_projection: Linear::load(w, "text_projection", false)?,
            class_embedding: w.f32("vision_model.embeddings.class_embedding")?,
            patch: Linear::new(QTensor::quantize(&patch_w, GgmlDType::F32)?, None)?,
            vision_position: w.f32("vision_model.embeddings.position_embedding.weight")?,
            pre_norm: Norm::load(w, "vision_model.pre_layernorm", v.layer_norm_eps)?,
            vision_layers,
            post_norm: Norm::load(w, "vision_model.post_layernorm", v.layer_norm_eps)?,
            visual_projection: Linear::load(w, "visual_projection", false)?,
            mit_position: w.f32("mit.position_embedding")?,
            mit_layers,
            prompts_visual_norm: Norm::load(w, "prompts_visual_layernorm", v.layer_norm_eps)?,
            prompts_visual_projection: w.f32("prompts_visual_projection")?,
            prompt_norm: Norm::load(w, "prompts_generator.layernorm", v.layer_norm_eps)?,
            prompt_layers,
            alpha: w.f32("prompts_generator.alpha")?,
            logit_scale: w.vec("logit_scale")?[0],
            config: cfg,
            gpu: gpu.and_then(|g| Some(OnGpu { tower: gpu::GpuVisionTower::load(g, w).ok()?, failures: Default::default() })),
        })
    }

    /// Whether the vision tower runs on a GPU that has not failed.
    pub fn on_gpu(&self) -> bool {
        self.gpu.as_ref().is_some_and(|g| g.failures.failed().is_none())
    }

    /// Leaves the GPU: the vision tower runs on the CPU from now on (the
    /// page's device changed).
    pub fn leave_gpu(&mut self) {
        self.gpu = None;
    }

    /// A Hugging Face checkpoint: `model.safetensors` bytes and its config.
    pub fn from_safetensors(bytes: &[u8], config: &XClipConfig, format: WeightFormat) -> Result<Self> {
        Self::new(&XClipWeights::from_safetensors(bytes, config, format)?)
    }

    /// The product's GGUF (see [`XClipWeights::write_gguf`]).
    pub fn from_gguf(bytes: &[u8]) -> Result<Self> {
        Self::new(&XClipWeights::from_gguf(bytes)?)
    }

    pub fn config(&self) -> &XClipConfig {
        &self.config
    }

    /// frames: [B, T, C, H, W] f32, CLIP-normalised (see [`super::clip_normalise`]).
    /// Natively the vision tower runs on the GPU where one is in use; in the
    /// page only [`XClipModel::video_features_async`] can wait for WebGPU,
    /// so this computes on the CPU there.
    pub fn video_features(&self, frames: &Tensor) -> Result<VideoFeatures> {
        crate::task::now(self.features(frames, cfg!(not(target_arch = "wasm32"))))
    }

    /// [`XClipModel::video_features`] with the vision tower on the GPU where
    /// one is in use, awaited (the page's WebGPU).
    pub async fn video_features_async(&self, frames: &Tensor) -> Result<VideoFeatures> {
        self.features(frames, true).await
    }

    async fn features(&self, frames: &Tensor, may_use_gpu: bool) -> Result<VideoFeatures> {
        let v = &self.config.vision_config;
        let (b, t, c, hh, ww) = frames.dims5()?;
        if t != v.num_frames || c != v.num_channels || hh != v.image_size || ww != v.image_size {
            return Err(Error::Invalid(format!(
                "X-CLIP takes videos of {} frames of {}×{}×{} (frames × channels × height × width), got {t}×{c}×{hh}×{ww}",
                v.num_frames, v.num_channels, v.image_size, v.image_size
            )));
        }
        let (p, g, hv) = (v.patch_size, v.grid(), v.hidden_size);
        let n = b * t;
        // Non-overlapping patches, each flattened in the conv weight's (c, y, x) order.
        let px = frames.flatten_all()?.to_vec1::<f32>()?;
        let per_patch = c * p * p;
        let mut patches = vec![0f32; n * g * g * per_patch];
        for f in 0..n {
            for (gy, gx) in (0..g).flat_map(|y| (0..g).map(move |x| (y, x))) {
                let dst = &mut patches[((f * g + gy) * g + gx) * per_patch..][..per_patch];
                for ch in 0..c {
                    for y in 0..p {
                        let src = ((f * c + ch) * hh + gy * p + y) * ww + gx * p;
                        dst[(ch * p + y) * p..][..p].copy_from_slice(&px[src..src + p]);
                    }
                }
            }
        }
        let on_gpu = match &self.gpu {
            Some(g) if may_use_gpu => g.failures.attempt(g.tower.forward(&patches, b)).await?,
            _ => None,
        };
        let x = match on_gpu {
            Some(states) => Tensor::from_vec(states, (n, g * g + 1, hv), &Device::Cpu)?,
            None => {
                let patches = Tensor::from_vec(patches, (n, g * g, per_patch), &Device::Cpu)?;
                let patches = self.patch.forward(&patches, None)?;
                let cls = self.class_embedding.reshape((1, 1, hv))?.repeat((n, 1, 1))?;
                let x = Tensor::cat(&[&cls, &patches], 1)?.broadcast_add(&self.vision_position)?;
                let mut x = self.pre_norm.forward(&x)?;
                for layer in &self.vision_layers {
                    x = layer.forward(&x, t)?;
                }
                x
            }
        };
        // Frame embeddings → MIT → one embedding per video.
        let cls = self.post_norm.forward(&x.narrow(1, 0, 1)?)?;
        let frames_emb = self.visual_projection.forward(&cls, None)?.reshape((b, t, ()))?;
        let mut m = frames_emb.broadcast_add(&self.mit_position)?;
        for layer in &self.mit_layers {
            m = layer.forward(&m, None)?;
        }
        let embeds = (m + &frames_emb)?.mean(1)?;
        // Patch features for the prompt generator, averaged over frames.
        let patches = self.prompts_visual_norm.forward(&x.narrow(1, 1, g * g)?)?;
        let d = self.config.projection_dim;
        let proj = patches.reshape((n * g * g, hv))?.matmul(&self.prompts_visual_projection)?;
        let prompt_visual = proj.reshape((b, t, g * g, d))?.mean(1)?;
        Ok(VideoFeatures { embeds, prompt_visual })
    }

    /// ids: [K, L] u32, mask: [K, L] (1 = token, 0 = padding), as from
    /// [`super::ClipTokenizer`]. Returns the projected text embeddings [K, D]
    /// (`get_text_features`, before any conditioning on a video).
    pub fn text_features(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let tc = &self.config.text_config;
        let (k, l) = ids.dims2()?;
        if l > tc.max_position_embeddings {
            return Err(Error::Invalid(format!(
                "{l} tokens exceed X-CLIP's {} text positions",
                tc.max_position_embeddings
            )));
        }
        let id_rows = ids.to_dtype(DType::U32)?.to_vec2::<u32>()?;
        if let Some(bad) = id_rows.iter().flatten().find(|&&i| i as usize >= tc.vocab_size) {
            return Err(Error::Invalid(format!(
                "token id {bad} is outside X-CLIP's vocabulary of {}: the tokenizer does not belong to this model",
                tc.vocab_size
            )));
        }
        let mask_rows = mask.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        if mask_rows.len() != k || mask_rows.iter().any(|r| r.len() != l) {
            return Err(Error::Invalid("the attention mask's shape differs from the ids'".into()));
        }
        let flat = ids.to_dtype(DType::U32)?.flatten_all()?;
        let x = self.token_embedding.index_select(&flat, 0)?.reshape((k, l, ()))?;
        let mut x = x.broadcast_add(&self.text_position.narrow(0, 0, l)?)?;
        // Causal mask plus padding keys, added to the scores.
        let mut bias = vec![0f32; k * l * l];
        for (s, m) in mask_rows.iter().enumerate() {
            for i in 0..l {
                for j in 0..l {
                    let v = if j > i { MASKED } else { 0.0 } + if m[j] == 0.0 { MASKED } else { 0.0 };
                    bias[(s * l + i) * l + j] = v;
                }
            }
        }
        let bias = Tensor::from_vec(bias, (k, 1, l, l), &Device::Cpu)?;
        for layer in &self.text_layers {
            x = layer.forward(&x, Some(&bias))?;
        }
        let x = self.final_norm.forward(&x)?;
        // Pooled at the highest id (CLIP's end token), its first occurrence, as Hugging Face does.
        let rows = id_rows
            .iter()
            .enumerate()
            .map(|(s, r)| {
                let max = *r.iter().max().unwrap_or(&0);
                (s * l + r.iter().position(|&i| i == max).unwrap_or(0)) as u32
            })
            .collect::<Vec<_>>();
        let rows = Tensor::from_vec(rows, k, &Device::Cpu)?;
        let pooled = x.reshape((k * l, ()))?.index_select(&rows, 0)?;
        self.text_projection.forward(&pooled, None)
    }

    /// Text embeddings [K, D] conditioned on each video: [B, K, D], not normalised.
    pub fn conditioned_text_embeds(&self, video: &VideoFeatures, text: &Tensor) -> Result<Tensor> {
        let (b, d) = video.embeds.dims2()?;
        let (k, dt) = text.dims2()?;
        if dt != d {
            return Err(Error::Invalid(format!("text embeddings have width {dt}, video embeddings {d}")));
        }
        let visual = self.prompt_norm.forward(&video.prompt_visual)?;
        let text = text.unsqueeze(0)?.repeat((b, 1, 1))?;
        let heads = self.config.prompt_num_attention_heads;
        let mut x = text.clone();
        for layer in &self.prompt_layers {
            x = layer.forward(&x, &visual, heads, self.config.prompt_hidden_act)?;
        }
        debug_assert_eq!(x.dims(), &[b, k, d]);
        Ok((text + x.broadcast_mul(&self.alpha)?)?)
    }

    /// Normalised embeddings and logits of B videos against K texts.
    pub fn logits_per_video(&self, video: &VideoFeatures, text: &Tensor) -> Result<XClipOutput> {
        let normalise = |t: &Tensor| -> Result<Tensor> {
            Ok(t.broadcast_div(&t.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?)?)
        };
        let video_embeds = normalise(&video.embeds)?;
        let text_embeds = normalise(&self.conditioned_text_embeds(video, text)?)?;
        let logits = text_embeds.matmul(&video_embeds.unsqueeze(2)?)?.squeeze(2)?;
        let logits_per_video = (logits * (self.logit_scale as f64).exp())?;
        Ok(XClipOutput { video_embeds, text_embeds, logits_per_video })
    }

    /// Hugging Face's `XCLIPModel.forward` (frames [B, T, C, H, W], ids and mask [K, L]).
    pub fn forward(&self, frames: &Tensor, ids: &Tensor, mask: &Tensor) -> Result<XClipOutput> {
        let video = self.video_features(frames)?;
        let text = self.text_features(ids, mask)?;
        self.logits_per_video(&video, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> XClipConfig {
        let mut c = XClipConfig::default();
        c.text_config = XClipTextConfig {
            vocab_size: 50,
            hidden_size: 32,
            intermediate_size: 64,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            max_position_embeddings: 8,
            ..Default::default()
        };
        c.vision_config = XClipVisionConfig {
            hidden_size: 32,
            intermediate_size: 64,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            mit_hidden_size: 32,
            mit_intermediate_size: 64,
            mit_num_attention_heads: 2,
            image_size: 16,
            patch_size: 8,
            num_frames: 2,
            ..Default::default()
        };
        c.projection_dim = 32;
        c.prompt_layers = 1;
        c.prompt_num_attention_heads = 2;
        c
    }

    #[test]
    fn defaults_are_base_patch32() {
        let c = XClipConfig::from_json(br#"{"model_type": "xclip"}"#).unwrap();
        assert_eq!(c, XClipConfig::base_patch32());
        assert_eq!((c.vision_config.num_patches(), c.text_config.max_position_embeddings), (49, 77));
        assert_eq!(c.vision_config.hidden_act, Activation::QuickGelu);
    }

    #[test]
    fn legacy_config_dicts_take_precedence() {
        let c = XClipConfig::from_json(
            br#"{"text_config": {"hidden_size": 512}, "text_config_dict": {"hidden_size": 256, "num_attention_heads": 4}}"#,
        )
        .unwrap();
        assert_eq!((c.text_config.hidden_size, c.text_config.num_attention_heads), (256, 4));
        let c = XClipConfig::from_json(br#"{"vision_config": null, "vision_config_dict": {"patch_size": 16}}"#).unwrap();
        assert_eq!((c.vision_config.patch_size, c.vision_config.num_patches()), (16, 196));
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        let err = |j: &str| XClipConfig::from_json(j.as_bytes()).unwrap_err().to_string();
        assert!(err(r#"{"projection_dim": 256}"#).contains("mit_hidden_size"));
        assert!(err(r#"{"vision_config": {"image_size": 100}}"#).contains("patch_size"));
        assert!(err(r#"{"text_config": {"num_attention_heads": 7}}"#).contains("multiple"));
        assert!(err(r#"{"text_config": {"hidden_act": "swish"}}"#).contains("swish"));
        assert!(err(r#"{"model_type": "clip"}"#).contains("xclip"));
        assert!(err("not json").contains("not JSON"));
    }

    #[test]
    fn activations_match_their_definitions() {
        let xs: Vec<f32> = (-400..400).map(|i| i as f32 / 50.0).collect();
        let mut q = xs.clone();
        Activation::QuickGelu.apply(&mut q);
        for (x, y) in xs.iter().zip(&q) {
            let want = *x as f64 / (1.0 + (-1.702 * *x as f64).exp());
            assert!((*y as f64 - want).abs() < 1e-6, "quick_gelu({x}) = {y}, want {want}");
        }
    }

    #[test]
    fn random_models_are_deterministic_and_quantized() {
        let c = tiny();
        let a = XClipWeights::random(&c, 7, WeightFormat::Q8_0).unwrap();
        let b = XClipWeights::random(&c, 7, WeightFormat::Q8_0).unwrap();
        let name = "vision_model.encoder.layers.0.mlp.fc1.weight";
        assert_eq!(a.get(name).unwrap().dtype(), GgmlDType::Q8_0);
        assert_eq!(a.get(name).unwrap().data().unwrap(), b.get(name).unwrap().data().unwrap());
        assert_eq!(a.get("visual_projection.weight").unwrap().dtype(), GgmlDType::F32);
        let m = XClipModel::new(&a).unwrap();
        let frames = Tensor::ones((1, 2, 3, 16, 16), DType::F32, &Device::Cpu).unwrap();
        let v = m.video_features(&frames).unwrap();
        assert_eq!(v.embeds.dims(), &[1, 32]);
        assert_eq!(v.prompt_visual.dims(), &[1, 4, 32]);
        let ids = Tensor::new(&[[3u32, 5, 49, 49], [3, 49, 49, 49]], &Device::Cpu).unwrap();
        let mask = Tensor::new(&[[1f32, 1., 1., 0.], [1., 1., 0., 0.]], &Device::Cpu).unwrap();
        let out = m.logits_per_video(&v, &m.text_features(&ids, &mask).unwrap()).unwrap();
        let logits = out.logits_per_video.to_vec2::<f32>().unwrap();
        assert!(logits[0].iter().all(|x| x.is_finite() && x.abs() <= 14.3), "{logits:?}");
    }

    /// Two videos of three frames through two layers, so that the messages
    /// cross frames and the frames of one video do not see the other's.
    fn tiny_videos() -> (XClipConfig, Tensor) {
        let mut c = tiny();
        c.vision_config.num_frames = 3;
        c.vision_config.num_hidden_layers = 2;
        let frames = crate::gpu::bench::values(2 * 3 * 3 * 16 * 16, 5, 2.0);
        (c, Tensor::from_vec(frames, (2, 3, 3, 16, 16), &Device::Cpu).unwrap())
    }

    /// The least cosine between the two paths' video embeddings and patch features.
    fn least_cosine(a: &VideoFeatures, b: &VideoFeatures) -> f64 {
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let d = a.embeds.dim(1).unwrap();
        let embeds = crate::kernels::math::least_row_cosine(&flat(&a.embeds), &flat(&b.embeds), d);
        embeds.min(crate::kernels::math::least_row_cosine(&flat(&a.prompt_visual), &flat(&b.prompt_visual), d))
    }

    /// The vision tower on the GPU (lavapipe where there is none) against
    /// the CPU path on the same random weights: f32 weights, where only the
    /// order of the sums differs, and Q8_0 ones, where the CPU's int8
    /// kernels also quantise the activations.
    #[test]
    fn the_vision_tower_on_the_gpu_matches_the_cpu() {
        let gpu = crate::gpu::tests::gpu();
        let (c, frames) = tiny_videos();
        for (format, least) in [(WeightFormat::F32, 0.99999), (WeightFormat::Q8_0, 0.999)] {
            let w = XClipWeights::random(&c, 11, format).unwrap();
            let (on_gpu, on_cpu) = (XClipModel::new_on(&w, Some(gpu.clone())).unwrap(), XClipModel::new(&w).unwrap());
            assert!(on_gpu.on_gpu(), "{format:?}: the tower is on the GPU");
            let (g, cpu) = (on_gpu.video_features(&frames).unwrap(), on_cpu.video_features(&frames).unwrap());
            assert!(on_gpu.on_gpu(), "{format:?}: the GPU did not fail");
            // Again, on the buffers the first pass left.
            let again = on_gpu.video_features(&frames).unwrap();
            assert_eq!(again.embeds.to_vec2::<f32>().unwrap(), g.embeds.to_vec2::<f32>().unwrap(), "{format:?}: a second video");
            let cosine = least_cosine(&g, &cpu);
            eprintln!("{format:?}: least cosine GPU against CPU {cosine:.6}");
            assert!(cosine >= least, "{format:?}: {cosine}");
        }
    }

    /// A device lost after the tower went onto it leaves the videos to the
    /// CPU, with the CPU's numbers.
    #[test]
    fn a_lost_gpu_leaves_the_videos_to_the_cpu() {
        let gpu = std::sync::Arc::new(crate::gpu::Gpu::open().unwrap());
        let (c, frames) = tiny_videos();
        let w = XClipWeights::random(&c, 3, WeightFormat::Q8_0).unwrap();
        let on_gpu = XClipModel::new_on(&w, Some(gpu.clone())).unwrap();
        gpu.destroy();
        let got = on_gpu.video_features(&frames).unwrap();
        assert!(!on_gpu.on_gpu(), "the failure is kept");
        let want = XClipModel::new(&w).unwrap().video_features(&frames).unwrap();
        assert_eq!(got.embeds.to_vec2::<f32>().unwrap(), want.embeds.to_vec2::<f32>().unwrap());
    }

    #[test]
    fn wrong_inputs_are_errors() {
        let m = XClipModel::new(&XClipWeights::random(&tiny(), 1, WeightFormat::F32).unwrap()).unwrap();
        let frames = Tensor::zeros((1, 3, 3, 16, 16), DType::F32, &Device::Cpu).unwrap();
        assert!(m.video_features(&frames).unwrap_err().to_string().contains("2 frames"));
        let ids = Tensor::new(&[[3u32, 50]], &Device::Cpu).unwrap();
        let mask = Tensor::new(&[[1f32, 1.]], &Device::Cpu).unwrap();
        assert!(m.text_features(&ids, &mask).unwrap_err().to_string().contains("vocabulary"));
    }
}
