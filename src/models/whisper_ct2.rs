//! Converts a CTranslate2 Whisper (`model.bin` + `config.json`) into the
//! runtime GGUF: Hugging Face tensor names, Q8_0 matrices, f32 norms/biases.

use std::io::{Seek, Write};

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use serde::Deserialize;

use super::ct2::Ct2Model;
use crate::asr::config::Config;
use crate::error::{Error, Result};

/// The parts of CTranslate2's Whisper `config.json` the runtime needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Ct2WhisperConfig {
    #[serde(default)]
    pub suppress_ids: Vec<u32>,
    #[serde(default)]
    pub suppress_ids_begin: Vec<u32>,
    #[serde(default)]
    pub lang_ids: Vec<u32>,
}

/// How the large matrices are stored: the projections of every layer and the
/// token embedding (also the output projection). The runtime runs them all as
/// Q8_0 (see `Weights::from_gguf`), so this sets the download's size and the
/// accuracy, not the speed. Fewer bits cost word errors here (README,
/// "Models"; `examples/whisper_quantisation.rs` writes the variants).
#[derive(Debug, Clone, Copy)]
pub struct Quantisation {
    pub projections: GgmlDType,
    pub embedding: GgmlDType,
}

impl Quantisation {
    /// What `models fetch` ships: the only plan measured to leave the word
    /// error rate where it was.
    pub const SHIPPED: Self = Self { projections: GgmlDType::Q8_0, embedding: GgmlDType::Q8_0 };

    /// For the manifest's record of how the file was made.
    pub fn describe(&self) -> String {
        format!("{:?} projections, {:?} token embedding, f32 norms and biases", self.projections, self.embedding)
    }
}

/// How a tensor is stored in the runtime file.
#[derive(Clone, Copy)]
enum Storage {
    /// A layer's projection matrix.
    Projection,
    /// The token embedding table.
    Embedding,
    /// Small tensors whose precision matters more than their size.
    F32,
    /// Convolution kernels (their last dimension, 3, cannot be blocked for
    /// Q8_0) and position tables, published as f16 already.
    F16,
}

struct Writer {
    tensors: Vec<(String, QTensor)>,
    plan: Quantisation,
}

impl Writer {
    fn put(&mut self, name: String, values: Vec<f32>, shape: &[usize], storage: Storage) -> Result<()> {
        let dtype = match storage {
            Storage::Projection => self.plan.projections,
            Storage::Embedding => self.plan.embedding,
            Storage::F32 => GgmlDType::F32,
            Storage::F16 => GgmlDType::F16,
        };
        self.tensors.push((name, QTensor::quantize(&Tensor::from_vec(values, shape, &Device::Cpu)?, dtype)?));
        Ok(())
    }
}

fn ct2_err(e: Error) -> Error {
    Error::Prepare(format!("unexpected Whisper layout in CTranslate2 model: {e}"))
}

/// Writes the GGUF for a CTranslate2 Whisper model and returns its config.
pub fn convert(
    model: &Ct2Model,
    ct2_config: &Ct2WhisperConfig,
    plan: Quantisation,
    out: &mut (impl Write + Seek),
) -> Result<Config> {
    if model.spec != "WhisperSpec" {
        return Err(Error::Prepare(format!("expected a WhisperSpec CTranslate2 model, found {}", model.spec)));
    }
    let get = |n: &str| model.get(n).map_err(ct2_err);
    let count = |prefix: &str| (0..).take_while(|i| model.get(&format!("{prefix}/layer_{i}/ffn/linear_0/weight")).is_ok()).count();
    let emb = get("decoder/embeddings/weight")?;
    let conv1 = get("encoder/conv1/weight")?;
    let d_model = emb.shape[1];
    let heads = |n: &str| -> Result<usize> {
        get(n)?.scalar_i64().map(|h| h as usize).ok_or_else(|| Error::Prepare(format!("{n} is not a scalar")))
    };
    let config = Config {
        num_mel_bins: conv1.shape[1],
        d_model,
        encoder_layers: count("encoder"),
        encoder_attention_heads: heads("encoder/num_heads")?,
        decoder_layers: count("decoder"),
        decoder_attention_heads: heads("decoder/num_heads")?,
        encoder_ffn_dim: get("encoder/layer_0/ffn/linear_0/weight")?.shape[0],
        decoder_ffn_dim: get("decoder/layer_0/ffn/linear_0/weight")?.shape[0],
        max_source_positions: get("encoder/position_encodings/encodings")?.shape[0],
        max_target_positions: get("decoder/position_encodings/encodings")?.shape[0],
        vocab_size: emb.shape[0],
        suppress_tokens: ct2_config.suppress_ids.clone(),
        begin_suppress_tokens: ct2_config.suppress_ids_begin.clone(),
    };

    let mut w = Writer { tensors: Vec::new(), plan };
    // A plain tensor copied under a new name.
    let copy = |w: &mut Writer, from: &str, to: String, storage: Storage| -> Result<()> {
        let v = get(from)?;
        w.put(to, v.to_f32(), &v.shape, storage)
    };
    // A fused projection split into equal row blocks (CTranslate2 fuses q,k,v
    // and the cross-attention k,v).
    let split = |w: &mut Writer, from: &str, to: &[String]| -> Result<()> {
        let weight = get(&format!("{from}/weight"))?;
        let bias = get(&format!("{from}/bias"))?;
        let (rows, cols) = (weight.shape[0] / to.len(), weight.shape[1]);
        let (wv, bv) = (weight.to_f32(), bias.to_f32());
        for (i, name) in to.iter().enumerate() {
            w.put(format!("{name}.weight"), wv[i * rows * cols..(i + 1) * rows * cols].to_vec(), &[rows, cols], Storage::Projection)?;
            // Whisper's k projection has no bias; CTranslate2 stores zeros for it.
            if !name.ends_with("k_proj") {
                w.put(format!("{name}.bias"), bv[i * rows..(i + 1) * rows].to_vec(), &[rows], Storage::F32)?;
            }
        }
        Ok(())
    };
    let linear = |w: &mut Writer, from: &str, to: &str| -> Result<()> {
        let weight = get(&format!("{from}/weight"))?;
        w.put(format!("{to}.weight"), weight.to_f32(), &weight.shape, Storage::Projection)?;
        let bias = get(&format!("{from}/bias"))?;
        w.put(format!("{to}.bias"), bias.to_f32(), &bias.shape, Storage::F32)
    };
    let norm = |w: &mut Writer, from: &str, to: &str| -> Result<()> {
        let gamma = get(&format!("{from}/gamma"))?;
        w.put(format!("{to}.weight"), gamma.to_f32(), &gamma.shape, Storage::F32)?;
        let beta = get(&format!("{from}/beta"))?;
        w.put(format!("{to}.bias"), beta.to_f32(), &beta.shape, Storage::F32)
    };
    // The parts every encoder and decoder layer has.
    let self_attention_and_ffn = |w: &mut Writer, src: &str, dst: &str| -> Result<()> {
        let qkv = ["q_proj", "k_proj", "v_proj"].map(|p| format!("{dst}.self_attn.{p}"));
        split(w, &format!("{src}/self_attention/linear_0"), &qkv)?;
        linear(w, &format!("{src}/self_attention/linear_1"), &format!("{dst}.self_attn.out_proj"))?;
        norm(w, &format!("{src}/self_attention/layer_norm"), &format!("{dst}.self_attn_layer_norm"))?;
        linear(w, &format!("{src}/ffn/linear_0"), &format!("{dst}.fc1"))?;
        linear(w, &format!("{src}/ffn/linear_1"), &format!("{dst}.fc2"))?;
        norm(w, &format!("{src}/ffn/layer_norm"), &format!("{dst}.final_layer_norm"))
    };

    let e = "model.encoder";
    for conv in ["conv1", "conv2"] {
        copy(&mut w, &format!("encoder/{conv}/weight"), format!("{e}.{conv}.weight"), Storage::F16)?;
        copy(&mut w, &format!("encoder/{conv}/bias"), format!("{e}.{conv}.bias"), Storage::F32)?;
    }
    copy(&mut w, "encoder/position_encodings/encodings", format!("{e}.embed_positions.weight"), Storage::F16)?;
    for i in 0..config.encoder_layers {
        self_attention_and_ffn(&mut w, &format!("encoder/layer_{i}"), &format!("{e}.layers.{i}"))?;
    }
    norm(&mut w, "encoder/layer_norm", &format!("{e}.layer_norm"))?;

    let d = "model.decoder";
    copy(&mut w, "decoder/embeddings/weight", format!("{d}.embed_tokens.weight"), Storage::Embedding)?;
    copy(&mut w, "decoder/position_encodings/encodings", format!("{d}.embed_positions.weight"), Storage::F16)?;
    for i in 0..config.decoder_layers {
        let (src, dst) = (format!("decoder/layer_{i}"), format!("{d}.layers.{i}"));
        self_attention_and_ffn(&mut w, &src, &dst)?;
        linear(&mut w, &format!("{src}/attention/linear_0"), &format!("{dst}.encoder_attn.q_proj"))?;
        let kv = ["k_proj", "v_proj"].map(|p| format!("{dst}.encoder_attn.{p}"));
        split(&mut w, &format!("{src}/attention/linear_1"), &kv)?;
        linear(&mut w, &format!("{src}/attention/linear_2"), &format!("{dst}.encoder_attn.out_proj"))?;
        norm(&mut w, &format!("{src}/attention/layer_norm"), &format!("{dst}.encoder_attn_layer_norm"))?;
    }
    norm(&mut w, "decoder/layer_norm", &format!("{d}.layer_norm"))?;

    let mut metadata: Vec<(String, gguf_file::Value)> = vec![
        ("general.architecture".into(), gguf_file::Value::String("whisper".into())),
        (
            "whisper.lang_ids".into(),
            gguf_file::Value::Array(ct2_config.lang_ids.iter().map(|&t| gguf_file::Value::U32(t)).collect()),
        ),
    ];
    metadata.extend(config.to_gguf());
    let metadata: Vec<(&str, &gguf_file::Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = w.tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(out, &metadata, &tensors)?;
    Ok(config)
}
