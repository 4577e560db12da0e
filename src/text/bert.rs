//! A BERT encoder (post-LayerNorm, absolute positions) on candle whose linear
//! layers run as quantized matmuls (Q4_0/Q8_0) or plain f32 matmuls, loaded
//! either from the product's GGUF or from a Hugging Face checkpoint.

use std::collections::HashMap;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor, D};
use serde::{Deserialize, Serialize};

use crate::kernels::attention::{attention, Heads, Shape};
use crate::kernels::linear::{copy_qtensor, Fallback, Linear};
use crate::kernels::math::{Act, LayerNorm};
use crate::{Error, Result};

/// Activation of the feed-forward block, named as in Hugging Face configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum HiddenAct {
    /// BERT's exact erf GELU.
    #[serde(rename = "gelu")]
    Gelu,
    /// The tanh approximation.
    #[serde(rename = "gelu_new", alias = "gelu_pytorch_tanh", alias = "gelu_fast")]
    GeluApproximate,
    #[serde(rename = "relu")]
    Relu,
}

impl HiddenAct {
    fn name(self) -> &'static str {
        match self {
            Self::Gelu => "gelu",
            Self::GeluApproximate => "gelu_new",
            Self::Relu => "relu",
        }
    }
    #[cfg(test)]
    fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::Gelu => x.gelu_erf(),
            Self::GeluApproximate => x.gelu(),
            Self::Relu => x.relu(),
        }
    }

    /// The kernels' equivalent (vectorised erf/tanh approximations).
    fn kernel_act(self) -> Act {
        match self {
            Self::Gelu => Act::GeluErf,
            Self::GeluApproximate => Act::GeluTanh,
            Self::Relu => Act::Relu,
        }
    }
}

fn default_act() -> HiddenAct {
    HiddenAct::Gelu
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}

/// The fields of a Hugging Face `config.json` (BertModel and relatives) that
/// the forward pass needs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: HiddenAct,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: usize,
    /// Only "absolute" (or absent) is supported.
    #[serde(default)]
    pub position_embedding_type: Option<String>,
    #[serde(default)]
    pub model_type: Option<String>,
}

/// Longest input a model sees in one pass, special tokens included.
pub const MAX_SEQUENCE_TOKENS: usize = 512;

// GGUF metadata keys (llama.cpp's names for BERT where one exists).
const KEY_ARCH: &str = "general.architecture";
const KEY_NAME: &str = "general.name";
const KEY_VOCAB: &str = "bert.vocab_size";
const KEY_HIDDEN: &str = "bert.embedding_length";
const KEY_LAYERS: &str = "bert.block_count";
const KEY_HEADS: &str = "bert.attention.head_count";
const KEY_FFN: &str = "bert.feed_forward_length";
const KEY_CONTEXT: &str = "bert.context_length";
const KEY_EPS: &str = "bert.attention.layer_norm_epsilon";
const KEY_TYPES: &str = "bert.token_type_count";
const KEY_ACT: &str = "bert.hidden_act";
const KEY_POS_OFFSET: &str = "bert.position_offset";
const KEY_PAD: &str = "tokenizer.ggml.padding_token_id";
pub(crate) const KEY_MODEL_ID: &str = "creative_filter.model_id";
pub(crate) const KEY_PREFIX: &str = "creative_filter.text_prefix";

impl BertConfig {
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let cfg: Self = serde_json::from_slice(bytes)
            .map_err(|e| Error::ModelConfig(format!("config.json is not a BERT config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
        if self.num_attention_heads == 0 || self.hidden_size % self.num_attention_heads != 0 {
            return Err(Error::ModelConfig(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            )));
        }
        match self.position_embedding_type.as_deref() {
            None | Some("absolute") => {}
            Some(other) => {
                return Err(Error::ModelConfig(format!(
                    "position_embedding_type \"{other}\" is not supported (only \"absolute\")"
                )))
            }
        }
        if self.max_positions() < 3 {
            return Err(Error::ModelConfig("max_position_embeddings is too small".into()));
        }
        Ok(())
    }

    /// First position id. RoBERTa-family models (XLM-R) number positions from
    /// `pad_token_id + 1`; BERT (and the e5 checkpoint, see e5.c) from 0.
    pub fn position_offset(&self) -> usize {
        match self.model_type.as_deref() {
            Some("roberta" | "xlm-roberta" | "camembert") => self.pad_token_id + 1,
            _ => 0,
        }
    }

    /// Tokens per forward pass, special tokens included.
    pub fn max_positions(&self) -> usize {
        self.max_position_embeddings.saturating_sub(self.position_offset()).min(MAX_SEQUENCE_TOKENS)
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    pub fn to_gguf_metadata(
        &self,
        name: &str,
        model_id: &str,
        text_prefix: &str,
    ) -> Vec<(String, gguf_file::Value)> {
        use gguf_file::Value as V;
        let u = |v: usize| V::U32(v as u32);
        vec![
            (KEY_ARCH.into(), V::String("bert".into())),
            (KEY_NAME.into(), V::String(name.into())),
            (KEY_VOCAB.into(), u(self.vocab_size)),
            (KEY_HIDDEN.into(), u(self.hidden_size)),
            (KEY_LAYERS.into(), u(self.num_hidden_layers)),
            (KEY_HEADS.into(), u(self.num_attention_heads)),
            (KEY_FFN.into(), u(self.intermediate_size)),
            (KEY_CONTEXT.into(), u(self.max_position_embeddings)),
            (KEY_EPS.into(), V::F32(self.layer_norm_eps as f32)),
            (KEY_TYPES.into(), u(self.type_vocab_size)),
            (KEY_ACT.into(), V::String(self.hidden_act.name().into())),
            (KEY_POS_OFFSET.into(), u(self.position_offset())),
            (KEY_PAD.into(), u(self.pad_token_id)),
            (KEY_MODEL_ID.into(), V::String(model_id.into())),
            (KEY_PREFIX.into(), V::String(text_prefix.into())),
        ]
    }

    pub fn from_gguf_metadata(meta: &HashMap<String, gguf_file::Value>) -> Result<Self> {
        let get = |k: &str| {
            meta.get(k).ok_or_else(|| Error::ModelConfig(format!("GGUF metadata lacks {k}")))
        };
        let num = |k: &str| -> Result<usize> { Ok(get(k)?.to_u32()? as usize) };
        let arch = get(KEY_ARCH)?.to_string()?;
        if arch != "bert" {
            return Err(Error::ModelConfig(format!("GGUF holds a {arch} model, not a BERT")));
        }
        let act = match meta.get(KEY_ACT) {
            Some(v) => serde_json::from_value(serde_json::Value::String(v.to_string()?.clone()))
                .map_err(|e| Error::ModelConfig(format!("{KEY_ACT}: {e}")))?,
            None => HiddenAct::Gelu,
        };
        let pad = num(KEY_PAD)?;
        let offset = match meta.get(KEY_POS_OFFSET) {
            Some(v) => v.to_u32()? as usize,
            None => 0,
        };
        // The offset is stored explicitly; map it back onto a model type that implies it.
        let model_type = match offset {
            0 => "bert",
            o if o == pad + 1 => "xlm-roberta",
            o => {
                return Err(Error::ModelConfig(format!("unsupported position offset {o}")));
            }
        };
        let cfg = Self {
            vocab_size: num(KEY_VOCAB)?,
            hidden_size: num(KEY_HIDDEN)?,
            num_hidden_layers: num(KEY_LAYERS)?,
            num_attention_heads: num(KEY_HEADS)?,
            intermediate_size: num(KEY_FFN)?,
            hidden_act: act,
            max_position_embeddings: num(KEY_CONTEXT)?,
            type_vocab_size: num(KEY_TYPES)?,
            layer_norm_eps: get(KEY_EPS)?.to_f32()? as f64,
            pad_token_id: pad,
            position_embedding_type: None,
            model_type: Some(model_type.into()),
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// How the linear layers of a Hugging Face checkpoint are kept in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightFormat {
    /// Plain f32 matmuls: exact.
    #[default]
    F32,
    /// Quantized to Q8_0 at load (4x smaller, faster). A matrix whose input
    /// width is not a multiple of 32 (e.g. hidden 312) stays f32.
    Q8_0,
}

/// Where the weights come from: GGUF tensors or Hugging Face tensors.
enum Source {
    Gguf(HashMap<String, QTensor>),
    Hf { tensors: HashMap<String, Tensor>, prefix: String, format: WeightFormat },
}

impl Source {
    fn missing(name: &str) -> Error {
        Error::ModelConfig(format!("the checkpoint has no tensor {name}"))
    }

    fn f32(&self, name: &str) -> Result<Tensor> {
        match self {
            Self::Gguf(t) => {
                Ok(t.get(name).ok_or_else(|| Self::missing(name))?.dequantize(&Device::Cpu)?)
            }
            Self::Hf { tensors, prefix, .. } => Ok(tensors
                .get(&format!("{prefix}{name}"))
                .ok_or_else(|| Self::missing(name))?
                .to_dtype(DType::F32)?),
        }
    }

    fn check_shape(name: &str, got: &[usize], want: &[usize]) -> Result<()> {
        if got != want {
            return Err(Error::ModelConfig(format!(
                "tensor {name} has shape {got:?}, the config implies {want:?}"
            )));
        }
        Ok(())
    }

    fn vector(&self, name: &str, len: usize) -> Result<Tensor> {
        let t = self.f32(name)?;
        Self::check_shape(name, t.dims(), &[len])?;
        Ok(t)
    }

    fn matrix_f32(&self, name: &str, rows: usize, cols: usize) -> Result<Tensor> {
        let t = self.f32(name)?;
        Self::check_shape(name, t.dims(), &[rows, cols])?;
        Ok(t)
    }

    /// A weight matrix [rows, cols] as it will be multiplied: quantized
    /// blocks stay quantized, f32/f16 become f32 (or Q8_0 on request).
    fn qmatrix(&self, name: &str, rows: usize, cols: usize) -> Result<QTensor> {
        match self {
            Self::Gguf(t) => {
                let q = t.get(name).ok_or_else(|| Self::missing(name))?;
                Self::check_shape(name, q.shape().dims(), &[rows, cols])?;
                match q.dtype() {
                    GgmlDType::F16 | GgmlDType::BF16 => {
                        Ok(QTensor::quantize(&q.dequantize(&Device::Cpu)?, GgmlDType::F32)?)
                    }
                    _ => copy_qtensor(q),
                }
            }
            Self::Hf { format, .. } => {
                let t = self.matrix_f32(name, rows, cols)?;
                let dtype = match format {
                    WeightFormat::Q8_0 if cols % GgmlDType::Q8_0.block_size() == 0 => {
                        GgmlDType::Q8_0
                    }
                    _ => GgmlDType::F32,
                };
                Ok(QTensor::quantize(&t, dtype)?)
            }
        }
    }
}

/// A linear layer of the encoder, loaded by name.
fn linear(src: &Source, prefix: &str, out: usize, inp: usize) -> Result<Linear> {
    let bias = src.vector(&format!("{prefix}.bias"), out)?.to_vec1::<f32>()?;
    Linear::new(src.qmatrix(&format!("{prefix}.weight"), out, inp)?, Some(bias), Fallback::Quantized)
}

/// A LayerNorm of the encoder, loaded by name.
fn norm(src: &Source, prefix: &str, size: usize, eps: f64) -> Result<LayerNorm> {
    Ok(LayerNorm {
        gamma: src.vector(&format!("{prefix}.weight"), size)?.to_vec1()?,
        beta: src.vector(&format!("{prefix}.bias"), size)?.to_vec1()?,
        eps: eps as f32,
    })
}

struct Layer {
    /// Query, key and value projections fused into one [3H, H] matmul.
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    ffn_in: Linear,
    ffn_out: Linear,
    out_norm: LayerNorm,
}

impl Layer {
    fn load(src: &Source, cfg: &BertConfig, i: usize) -> Result<Self> {
        let (h, ff, eps) = (cfg.hidden_size, cfg.intermediate_size, cfg.layer_norm_eps);
        let p = format!("encoder.layer.{i}");
        let q = |n: &str| src.qmatrix(&format!("{p}.attention.self.{n}.weight"), h, h);
        let b = |n: &str| src.vector(&format!("{p}.attention.self.{n}.bias"), h);
        let qkv = ["query", "key", "value"].iter().map(|n| Ok((q(n)?, Some(b(n)?.to_vec1::<f32>()?)))).collect::<Result<Vec<_>>>()?;
        Ok(Self {
            qkv: Linear::fused(qkv, Fallback::Quantized)?,
            attn_out: linear(src, &format!("{p}.attention.output.dense"), h, h)?,
            attn_norm: norm(src, &format!("{p}.attention.output.LayerNorm"), h, eps)?,
            ffn_in: linear(src, &format!("{p}.intermediate.dense"), ff, h)?,
            ffn_out: linear(src, &format!("{p}.output.dense"), h, ff)?,
            out_norm: norm(src, &format!("{p}.output.LayerNorm"), h, eps)?,
        })
    }

    /// x: [B*L, H] rows of B sequences of length L; mask: [B, L] (0 = padding).
    fn forward(&self, x: &[f32], mask: &[f32], (b, l): (usize, usize), cfg: &BertConfig) -> Result<Vec<f32>> {
        let (h, nh, hd) = (cfg.hidden_size, cfg.num_attention_heads, cfg.head_dim());
        let m = b * l;
        let qkv = self.qkv.forward(x, m, Act::None, None)?;
        let head = |i: usize| Heads { data: &qkv, stride: 3 * h, offset: i * h };
        let shape = Shape { batch: b, len: l, heads: nh, head_dim: hd };
        let ctx = attention(head(0), head(1), head(2), shape, 1.0 / (hd as f32).sqrt(), Some(mask));
        drop(qkv);
        let mut x = self.attn_out.forward(&ctx, m, Act::None, Some(x))?;
        self.attn_norm.apply(&mut x);
        let mid = self.ffn_in.forward(&x, m, cfg.hidden_act.kernel_act(), None)?;
        let mut y = self.ffn_out.forward(&mid, m, Act::None, Some(&x))?;
        self.out_norm.apply(&mut y);
        Ok(y)
    }
}

/// Layer `i`'s weights for the GPU, read as [`Layer::load`] reads them.
fn gpu_layer(src: &Source, cfg: &BertConfig, i: usize) -> Result<super::bert_gpu::LayerWeights> {
    let (h, ff, eps) = (cfg.hidden_size, cfg.intermediate_size, cfg.layer_norm_eps);
    let p = format!("encoder.layer.{i}");
    let dense = |prefix: &str, out: usize, inp: usize| -> Result<super::bert_gpu::Dense> {
        Ok((src.qmatrix(&format!("{prefix}.weight"), out, inp)?, src.vector(&format!("{prefix}.bias"), out)?.to_vec1()?))
    };
    let q = |n: &str| dense(&format!("{p}.attention.self.{n}"), h, h);
    Ok(super::bert_gpu::LayerWeights {
        qkv: [q("query")?, q("key")?, q("value")?],
        attn_out: dense(&format!("{p}.attention.output.dense"), h, h)?,
        attn_norm: norm(src, &format!("{p}.attention.output.LayerNorm"), h, eps)?,
        ffn_in: dense(&format!("{p}.intermediate.dense"), ff, h)?,
        ffn_out: dense(&format!("{p}.output.dense"), h, ff)?,
        out_norm: norm(src, &format!("{p}.output.LayerNorm"), h, eps)?,
    })
}

/// The layers' copy on the GPU, and whether it has failed.
struct OnGpu {
    layers: super::bert_gpu::GpuBert,
    failures: crate::gpu::Failures,
}

impl OnGpu {
    /// Uploads the layers `src` holds. A model the GPU's kernels do not
    /// cover (another activation, odd head widths) is refused.
    fn load(src: &Source, config: &BertConfig, gpu: std::sync::Arc<crate::gpu::Gpu>) -> Result<Self> {
        let weights = (0..config.num_hidden_layers).map(|i| gpu_layer(src, config, i)).collect::<Result<Vec<_>>>()?;
        let layers = super::bert_gpu::GpuBert::load(gpu, config, &weights)?;
        Ok(OnGpu { layers, failures: Default::default() })
    }
}

enum WordEmbeddings {
    Quantized(QTensor),
    Dense(Tensor),
}

/// BERT encoder returning the last hidden state.
pub struct BertModel {
    config: BertConfig,
    word: WordEmbeddings,
    position: Tensor,
    token_type0: Tensor,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
    /// Where a GPU was chosen, the layers' copy there.
    gpu: Option<OnGpu>,
}

/// The GPU a model's layers are also loaded onto, where one was chosen.
pub type GpuChoice = Option<std::sync::Arc<crate::gpu::Gpu>>;

impl BertModel {
    fn load(src: Source, config: BertConfig, gpu: GpuChoice) -> Result<Self> {
        let (h, eps) = (config.hidden_size, config.layer_norm_eps);
        let word_name = "embeddings.word_embeddings.weight";
        let word = match &src {
            Source::Gguf(t) => {
                let q = t.get(word_name).ok_or_else(|| Source::missing(word_name))?;
                Source::check_shape(word_name, q.shape().dims(), &[config.vocab_size, h])?;
                if q.dtype().block_size() > 1 {
                    WordEmbeddings::Quantized(copy_qtensor(q)?)
                } else {
                    WordEmbeddings::Dense(q.dequantize(&Device::Cpu)?)
                }
            }
            Source::Hf { .. } => {
                WordEmbeddings::Dense(src.matrix_f32(word_name, config.vocab_size, h)?)
            }
        };
        let position = src.matrix_f32(
            "embeddings.position_embeddings.weight",
            config.max_position_embeddings,
            h,
        )?;
        // Every input is a single segment, so only token type 0 is ever used.
        let token_type0 = src
            .matrix_f32("embeddings.token_type_embeddings.weight", config.type_vocab_size, h)?
            .narrow(0, 0, 1)?;
        let emb_norm = norm(&src, "embeddings.LayerNorm", h, eps)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::load(&src, &config, i))
            .collect::<Result<Vec<_>>>()?;
        // A model the GPU refuses stays on the CPU.
        let gpu = gpu.and_then(|gpu| OnGpu::load(&src, &config, gpu).ok());
        Ok(Self { config, word, position, token_type0, emb_norm, layers, gpu })
    }

    /// Whether the layers run on a GPU that has not failed: then windows
    /// go one at a time (no padding).
    pub fn on_gpu(&self) -> bool {
        self.gpu.as_ref().is_some_and(|g| g.failures.failed().is_none())
    }

    /// Puts the layers onto `gpu` (or, with None, takes them off), reading
    /// them again from the GGUF this model was loaded from: the page's
    /// Compute setting changes the device of a model already loaded, and
    /// its CPU copy of the layers is repacked for the CPU's kernels. Only
    /// the layers' tensors are read, not the vocabulary's embeddings.
    pub fn use_gpu(&mut self, gguf: &[u8], gpu: GpuChoice) -> Result<()> {
        self.gpu = None;
        let Some(gpu) = gpu else { return Ok(()) };
        let content = gguf_file::Content::read(&mut std::io::Cursor::new(gguf))?;
        let config = BertConfig::from_gguf_metadata(&content.metadata)?;
        if config != self.config {
            return Err(Error::ModelConfig("the GGUF given for the GPU is not the model loaded".into()));
        }
        let mut reader = std::io::Cursor::new(gguf);
        let mut tensors = HashMap::new();
        for name in content.tensor_infos.keys().filter(|n| n.starts_with("encoder.layer.")) {
            tensors.insert(name.clone(), content.tensor(&mut reader, name, &Device::Cpu)?);
        }
        self.gpu = Some(OnGpu::load(&Source::Gguf(tensors), &self.config, gpu)?);
        Ok(())
    }

    /// Loads a GGUF written by the product's converter (from bytes), with
    /// its layers also on `gpu` where one is given.
    pub fn from_gguf(content: &gguf_file::Content, bytes: &[u8], gpu: GpuChoice) -> Result<Self> {
        let config = BertConfig::from_gguf_metadata(&content.metadata)?;
        let mut reader = std::io::Cursor::new(bytes);
        let mut tensors = HashMap::with_capacity(content.tensor_infos.len());
        for name in content.tensor_infos.keys() {
            tensors.insert(name.clone(), content.tensor(&mut reader, name, &Device::Cpu)?);
        }
        Self::load(Source::Gguf(tensors), config, gpu)
    }

    /// Loads a Hugging Face checkpoint: `model.safetensors` bytes and the
    /// parsed `config.json`. Tensor names may carry a `bert.` (or similar)
    /// prefix, as in checkpoints saved from task heads.
    pub fn from_safetensors(bytes: &[u8], config: BertConfig, format: WeightFormat, gpu: GpuChoice) -> Result<Self> {
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
        let prefix = ["", "bert.", "roberta.", "model."]
            .into_iter()
            .find(|p| tensors.contains_key(&format!("{p}embeddings.word_embeddings.weight")))
            .ok_or_else(|| {
                Error::ModelConfig(
                    "model.safetensors has no embeddings.word_embeddings.weight: not a BERT checkpoint"
                        .into(),
                )
            })?
            .to_string();
        Self::load(Source::Hf { tensors, prefix, format }, config, gpu)
    }

    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// Whether the linear layers run quantized.
    pub fn weight_dtype(&self) -> GgmlDType {
        self.layers.first().map_or(GgmlDType::F32, |l| l.ffn_in.dtype())
    }

    /// ids: [B, L] u32; mask: [B, L] f32 (1 = token, 0 = padding).
    /// Returns the last hidden state [B, L, H].
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        Ok(self.forward_layers(ids, mask, &[self.config.num_hidden_layers])?.remove(0))
    }

    /// The hidden states [B, L, H] after each of `layers` (1-based; the
    /// last is `num_hidden_layers`), from one pass. Natively the GPU's work
    /// is waited for on this thread; the page cannot wait synchronously, so
    /// there this computes on the CPU ([`Self::forward_layers_on`] with
    /// `may_wait` uses its WebGPU).
    pub fn forward_layers(&self, ids: &Tensor, mask: &Tensor, layers: &[usize]) -> Result<Vec<Tensor>> {
        crate::task::now(self.forward_layers_on(ids, mask, layers, cfg!(not(target_arch = "wasm32"))))
    }

    /// [`Self::forward_layers`]; `may_wait`: whether the GPU may be used
    /// (its answer is awaited).
    pub async fn forward_layers_on(&self, ids: &Tensor, mask: &Tensor, layers: &[usize], may_wait: bool) -> Result<Vec<Tensor>> {
        let n = self.config.num_hidden_layers;
        if let Some(bad) = layers.iter().find(|&&k| k == 0 || k > n) {
            return Err(Error::Invalid(format!("layer {bad} does not exist: the model has layers 1 to {n}")));
        }
        let (b, l) = ids.dims2()?;
        let cfg = &self.config;
        let off = cfg.position_offset();
        if off + l > cfg.max_position_embeddings {
            return Err(Error::Invalid(format!(
                "{l} tokens exceed the model's {} positions",
                cfg.max_position_embeddings
            )));
        }
        let flat = ids.flatten_all()?;
        let word = match &self.word {
            WordEmbeddings::Quantized(q) => q.embedding(&flat)?,
            WordEmbeddings::Dense(t) => t.index_select(&flat, 0)?,
        };
        let pos = self.position.narrow(0, off, l)?.repeat((b, 1))?;
        let x = (word + pos)?.broadcast_add(&self.token_type0)?;
        let mut x = x.flatten_all()?.to_vec1::<f32>()?;
        self.emb_norm.apply(&mut x);
        // Padding keys are left out of every query's softmax.
        let mask = mask.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        if let (Some(gpu), 1, true, true) = (&self.gpu, b, mask.iter().all(|&m| m == 1.0), may_wait) {
            // One window, unpadded: the GPU's attention takes no mask.
            let mut wanted: Vec<usize> = layers.to_vec();
            wanted.sort_unstable();
            wanted.dedup();
            let on_gpu = gpu.layers.forward_layers(&x, l, &wanted);
            if let Some(states) = gpu.failures.attempt(on_gpu).await? {
                return layers
                    .iter()
                    .map(|k| {
                        let state = &states[wanted.binary_search(k).expect("every layer asked for was computed")];
                        Ok(Tensor::from_slice(state, (1, l, cfg.hidden_size), &Device::Cpu)?)
                    })
                    .collect();
            }
        }
        let mut taken = vec![None; layers.len()];
        let last = layers.iter().copied().max().unwrap_or(0);
        for (k, layer) in self.layers.iter().enumerate().take(last) {
            x = layer.forward(&x, &mask, (b, l), cfg)?;
            for (slot, _) in taken.iter_mut().zip(layers).filter(|(_, &want)| want == k + 1) {
                *slot = Some(Tensor::from_slice(&x, (b, l, cfg.hidden_size), &Device::Cpu)?);
            }
        }
        Ok(taken.into_iter().map(|t| t.expect("every layer was checked to exist")).collect())
    }
}

/// Mean of the hidden states over the unmasked tokens: [B, L, H] → [B, H].
pub fn mean_pool(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?;
    let sum = hidden.broadcast_mul(&mask)?.sum(1)?;
    let count = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    Ok(sum.broadcast_div(&count)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 20}"#;

    #[test]
    fn config_defaults_follow_hugging_face() {
        let c = BertConfig::from_json(MINIMAL.as_bytes()).unwrap();
        assert_eq!(c.hidden_act, HiddenAct::Gelu);
        assert_eq!((c.type_vocab_size, c.layer_norm_eps, c.pad_token_id), (2, 1e-12, 0));
        assert_eq!((c.position_offset(), c.max_positions(), c.head_dim()), (0, 20, 4));
    }

    #[test]
    fn xlm_roberta_positions_start_after_padding() {
        let mut v: serde_json::Value = serde_json::from_str(MINIMAL).unwrap();
        v["model_type"] = "xlm-roberta".into();
        v["pad_token_id"] = 1.into();
        v["max_position_embeddings"] = 514.into();
        v["hidden_act"] = "gelu_pytorch_tanh".into();
        let c = BertConfig::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!((c.position_offset(), c.max_positions()), (2, 512));
        assert_eq!(c.hidden_act, HiddenAct::GeluApproximate);
    }

    #[test]
    fn unsupported_configs_say_why() {
        let mut v: serde_json::Value = serde_json::from_str(MINIMAL).unwrap();
        v["position_embedding_type"] = "relative_key".into();
        let err = BertConfig::from_json(v.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("relative_key"), "{err}");
        v["position_embedding_type"] = "absolute".into();
        v["num_attention_heads"] = 3.into();
        let err = BertConfig::from_json(v.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("multiple"), "{err}");
        let err = BertConfig::from_json(b"{\"hidden_size\": 8}").unwrap_err();
        assert!(matches!(err, Error::ModelConfig(_)), "{err}");
    }

    #[test]
    fn gguf_metadata_round_trips() {
        let mut c = BertConfig::from_json(MINIMAL.as_bytes()).unwrap();
        for (model_type, pad) in [("bert", 0), ("xlm-roberta", 1)] {
            c.model_type = Some(model_type.into());
            c.pad_token_id = pad;
            let meta: HashMap<_, _> = c.to_gguf_metadata("m", "m-q4_0", "query: ").into_iter().collect();
            let back = BertConfig::from_gguf_metadata(&meta).unwrap();
            assert_eq!(back.position_offset(), c.position_offset());
            assert_eq!((back.hidden_size, back.pad_token_id), (8, pad));
            assert_eq!(meta[KEY_PREFIX].to_string().unwrap(), "query: ");
        }
    }

    #[test]
    fn fast_gelu_matches_candle() {
        let xs: Vec<f32> = (-2000..2000).map(|i| i as f32 / 200.0).collect();
        for act in [HiddenAct::Gelu, HiddenAct::GeluApproximate, HiddenAct::Relu] {
            let want = act.apply(&Tensor::new(xs.as_slice(), &Device::Cpu).unwrap()).unwrap().to_vec1::<f32>().unwrap();
            let mut got = xs.clone();
            act.kernel_act().apply_slice(&mut got);
            for ((x, g), w) in xs.iter().zip(&got).zip(&want) {
                assert!((g - w).abs() <= 1e-6 * (1.0 + x.abs()), "{act:?}({x}) = {g}, candle {w}");
            }
        }
    }

    #[test]
    fn mean_pool_ignores_padding() {
        let h = Tensor::new(&[[[1f32, 2.], [3., 4.], [100., 100.]]], &Device::Cpu).unwrap();
        let m = Tensor::new(&[[1f32, 1., 0.]], &Device::Cpu).unwrap();
        assert_eq!(mean_pool(&h, &m).unwrap().to_vec2::<f32>().unwrap(), vec![vec![2f32, 3.]]);
    }
}
