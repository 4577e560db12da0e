//! X-CLIP's tensors: which ones the forward pass reads and their shapes,
//! read from safetensors or GGUF, generated at random for tests and
//! benchmarks, written as GGUF.

use std::collections::HashMap;
use std::io::{Seek, Write};

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};

use crate::classify::metrics::SplitMix64;
use crate::kernels::linear::copy_qtensor;
use crate::text::WeightFormat;
use crate::{Error, Result};

use super::config::*;

/// How a tensor is initialised by [`XClipWeights::random`], which also says
/// whether it is a matmul weight that Q8_0 applies to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Init {
    /// A linear layer's weight [out, in] in a transformer block.
    Matmul,
    /// Other matrices multiplied by activations (projections, patches), kept f32.
    Projection,
    Bias,
    NormWeight,
    Embedding,
    Const(f32),
}

struct Spec {
    name: String,
    shape: Vec<usize>,
    init: Init,
}

#[derive(Default)]
struct Specs(Vec<Spec>);

impl Specs {
    fn add(&mut self, name: impl Into<String>, shape: &[usize], init: Init) {
        self.0.push(Spec { name: name.into(), shape: shape.to_vec(), init });
    }
    fn linear(&mut self, p: &str, out: usize, inp: usize, bias: bool) {
        self.add(format!("{p}.weight"), &[out, inp], Init::Matmul);
        if bias {
            self.add(format!("{p}.bias"), &[out], Init::Bias);
        }
    }
    fn norm(&mut self, p: &str, n: usize) {
        self.add(format!("{p}.weight"), &[n], Init::NormWeight);
        self.add(format!("{p}.bias"), &[n], Init::Bias);
    }
    fn attention(&mut self, p: &str, h: usize) {
        for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            self.linear(&format!("{p}.{proj}"), h, h, true);
        }
    }
    fn encoder_layer(&mut self, p: &str, h: usize, ff: usize) {
        self.attention(&format!("{p}.self_attn"), h);
        self.norm(&format!("{p}.layer_norm1"), h);
        self.linear(&format!("{p}.mlp.fc1"), ff, h, true);
        self.linear(&format!("{p}.mlp.fc2"), h, ff, true);
        self.norm(&format!("{p}.layer_norm2"), h);
    }
}

/// Every tensor the forward pass reads, with its shape under `cfg`.
fn specs(cfg: &XClipConfig) -> Vec<Spec> {
    let mut s = Specs::default();
    let (t, v, d) = (&cfg.text_config, &cfg.vision_config, cfg.projection_dim);

    let (ht, hv) = (t.hidden_size, v.hidden_size);
    s.add("text_model.embeddings.token_embedding.weight", &[t.vocab_size, ht], Init::Embedding);
    s.add("text_model.embeddings.position_embedding.weight", &[t.max_position_embeddings, ht], Init::Embedding);
    for i in 0..t.num_hidden_layers {
        s.encoder_layer(&format!("text_model.encoder.layers.{i}"), ht, t.intermediate_size);
    }
    s.norm("text_model.final_layer_norm", ht);
    s.add("text_projection.weight", &[d, ht], Init::Projection);

    let p = v.patch_size;
    s.add("vision_model.embeddings.class_embedding", &[hv], Init::Embedding);
    s.add("vision_model.embeddings.patch_embedding.weight", &[hv, v.num_channels, p, p], Init::Projection);
    s.add("vision_model.embeddings.position_embedding.weight", &[v.num_patches() + 1, hv], Init::Embedding);
    s.norm("vision_model.pre_layernorm", hv);
    for i in 0..v.num_hidden_layers {
        let l = format!("vision_model.encoder.layers.{i}");
        s.linear(&format!("{l}.message_fc"), hv, hv, true);
        s.norm(&format!("{l}.message_ln"), hv);
        s.attention(&format!("{l}.message_attn"), hv);
        s.encoder_layer(&l, hv, v.intermediate_size);
    }
    s.norm("vision_model.post_layernorm", hv);
    s.add("visual_projection.weight", &[d, hv], Init::Projection);

    s.add("mit.position_embedding", &[1, v.num_frames, v.mit_hidden_size], Init::Embedding);
    for i in 0..v.mit_num_hidden_layers {
        s.encoder_layer(&format!("mit.encoder.layers.{i}"), v.mit_hidden_size, v.mit_intermediate_size);
    }

    s.norm("prompts_visual_layernorm", hv);
    s.add("prompts_visual_projection", &[hv, d], Init::Projection);
    s.norm("prompts_generator.layernorm", d);
    for i in 0..cfg.prompt_layers {
        let l = format!("prompts_generator.decoder.{i}");
        for proj in ["q_proj", "k_proj", "v_proj"] {
            s.linear(&format!("{l}.cross_attn.{proj}"), d, d, false);
        }
        s.linear(&format!("{l}.cross_attn.proj"), d, d, true);
        s.norm(&format!("{l}.norm1"), d);
        s.norm(&format!("{l}.norm3"), d);
        s.linear(&format!("{l}.mlp.0"), 4 * d, d, true);
        s.linear(&format!("{l}.mlp.3"), d, 4 * d, true);
    }
    s.add("prompts_generator.alpha", &[d], Init::Const(cfg.prompt_alpha as f32));
    // A 0-d tensor in Hugging Face checkpoints; kept as [1] (GGUF has no scalars).
    s.add("logit_scale", &[1], Init::Const(cfg.logit_scale_init_value as f32));
    s.0
}

/// The encoding a tensor is kept in under `format`: Q8_0 only for transformer
/// matmul weights whose rows are whole Q8_0 blocks.
fn target_dtype(spec: &Spec, format: WeightFormat) -> GgmlDType {
    let whole_blocks = spec.shape.last().is_some_and(|c| c % GgmlDType::Q8_0.block_size() == 0);
    match (format, spec.init) {
        (WeightFormat::Q8_0, Init::Matmul) if whole_blocks => GgmlDType::Q8_0,
        _ => GgmlDType::F32,
    }
}


// GGUF metadata keys.
const KEY_ARCH: &str = "general.architecture";
const KEY_NAME: &str = "general.name";
const KEY_CONFIG: &str = "xclip.config_json";
const ARCH: &str = "xclip";

/// Every tensor of an X-CLIP model, checked against its config, in the
/// encoding it will run in: the in-between form of loading, converting to
/// GGUF and generating random models.
pub struct XClipWeights {
    pub(super) config: XClipConfig,
    tensors: HashMap<String, QTensor>,
}

impl XClipWeights {
    fn missing(name: &str) -> Error {
        Error::ModelConfig(format!(
            "the X-CLIP checkpoint has no tensor {name}: it is incomplete or not an XCLIPModel (with this config)"
        ))
    }

    fn check_shape(name: &str, got: &[usize], want: &[usize]) -> Result<()> {
        if got != want {
            return Err(Error::ModelConfig(format!(
                "X-CLIP tensor {name} has shape {got:?}, the config implies {want:?}: config.json and the weights do not belong together"
            )));
        }
        Ok(())
    }

    /// From a Hugging Face `model.safetensors` (f32, f16 or bf16) and its
    /// config; tensors the forward pass does not use are ignored.
    pub fn from_safetensors(bytes: &[u8], config: &XClipConfig, format: WeightFormat) -> Result<Self> {
        config.validate()?;
        let mut raw = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
        let mut tensors = HashMap::new();
        for spec in specs(config) {
            let t = raw.remove(&spec.name).ok_or_else(|| Self::missing(&spec.name))?;
            let t = t.to_dtype(DType::F32)?;
            let t = if spec.name == "logit_scale" && t.rank() == 0 { t.reshape(1)? } else { t };
            Self::check_shape(&spec.name, t.dims(), &spec.shape)?;
            tensors.insert(spec.name.clone(), QTensor::quantize(&t, target_dtype(&spec, format))?);
        }
        Ok(Self { config: config.clone(), tensors })
    }

    /// Random weights (seeded, deterministic) with the scales of a trained
    /// model, for benchmarks and memory checks: activations stay O(1).
    pub fn random(config: &XClipConfig, seed: u64, format: WeightFormat) -> Result<Self> {
        config.validate()?;
        let mut rng = SplitMix64(seed);
        let mut tensors = HashMap::new();
        for spec in specs(config) {
            let n: usize = spec.shape.iter().product();
            let fan_in: usize = spec.shape[1..].iter().product::<usize>().max(1);
            let (centre, spread) = match spec.init {
                Init::Matmul | Init::Projection => (0.0, (3.0 / fan_in as f32).sqrt()),
                Init::Bias => (0.0, 0.02),
                Init::NormWeight => (1.0, 0.1),
                Init::Embedding => (0.0, 0.035),
                Init::Const(c) => (c, 0.0),
            };
            let data: Vec<f32> = (0..n).map(|_| centre + spread * rng.symmetric_f32()).collect();
            let t = Tensor::from_vec(data, spec.shape.as_slice(), &Device::Cpu)?;
            tensors.insert(spec.name.clone(), QTensor::quantize(&t, target_dtype(&spec, format))?);
        }
        Ok(Self { config: config.clone(), tensors })
    }

    /// From a GGUF written by [`XClipWeights::write_gguf`].
    pub fn from_gguf(bytes: &[u8]) -> Result<Self> {
        let mut reader = std::io::Cursor::new(bytes);
        let content = gguf_file::Content::read(&mut reader)
            .map_err(|e| Error::ModelConfig(format!("not a GGUF file: {e}")))?;
        let get = |k: &str| -> Result<String> {
            let v = content.metadata.get(k).ok_or_else(|| Error::ModelConfig(format!("GGUF metadata lacks {k}")))?;
            Ok(v.to_string()?.clone())
        };
        let arch = get(KEY_ARCH)?;
        if arch != ARCH {
            return Err(Error::ModelConfig(format!("the GGUF holds a {arch} model, not X-CLIP")));
        }
        let config = XClipConfig::from_json(get(KEY_CONFIG)?.as_bytes())?;
        let mut tensors = HashMap::new();
        for spec in specs(&config) {
            if !content.tensor_infos.contains_key(&spec.name) {
                return Err(Self::missing(&spec.name));
            }
            let q = content.tensor(&mut reader, &spec.name, &Device::Cpu)?;
            Self::check_shape(&spec.name, q.shape().dims(), &spec.shape)?;
            tensors.insert(spec.name, q);
        }
        Ok(Self { config, tensors })
    }

    /// The product's runtime format: the tensors as they are (f32 or Q8_0)
    /// and the config as JSON metadata.
    pub fn write_gguf<W: Write + Seek>(&self, name: &str, out: &mut W) -> Result<()> {
        use gguf_file::Value as V;
        let meta = [
            (KEY_ARCH, V::String(ARCH.into())),
            (KEY_NAME, V::String(name.into())),
            (KEY_CONFIG, V::String(self.config.to_json())),
        ];
        let meta: Vec<(&str, &V)> = meta.iter().map(|(k, v)| (*k, v)).collect();
        let names: Vec<String> = specs(&self.config).into_iter().map(|s| s.name).collect();
        let tensors: Vec<(&str, &QTensor)> = names.iter().map(|n| (n.as_str(), &self.tensors[n])).collect();
        gguf_file::write(out, &meta, &tensors)?;
        Ok(())
    }

    pub fn config(&self) -> &XClipConfig {
        &self.config
    }

    pub(super) fn get(&self, name: &str) -> Result<&QTensor> {
        self.tensors.get(name).ok_or_else(|| Self::missing(name))
    }

    pub(super) fn f32(&self, name: &str) -> Result<Tensor> {
        Ok(self.get(name)?.dequantize(&Device::Cpu)?)
    }

    pub(super) fn vec(&self, name: &str) -> Result<Vec<f32>> {
        Ok(self.f32(name)?.flatten_all()?.to_vec1()?)
    }

    pub(super) fn qcopy(&self, name: &str) -> Result<QTensor> {
        copy_qtensor(self.get(name)?)
    }
}
