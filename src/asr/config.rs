//! Whisper's hyper-parameters, named as in Hugging Face's `config.json`, so a
//! user's own checkpoint configures the same model code.

use candle_core::quantized::gguf_file::Value;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub num_mel_bins: usize,
    pub d_model: usize,
    pub encoder_layers: usize,
    pub encoder_attention_heads: usize,
    pub decoder_layers: usize,
    pub decoder_attention_heads: usize,
    pub encoder_ffn_dim: usize,
    pub decoder_ffn_dim: usize,
    pub max_source_positions: usize,
    pub max_target_positions: usize,
    pub vocab_size: usize,
    /// Tokens never emitted (non-speech symbols, task tokens).
    #[serde(default)]
    pub suppress_tokens: Vec<u32>,
    /// Tokens not allowed as the first sampled token (blank, end of text).
    #[serde(default)]
    pub begin_suppress_tokens: Vec<u32>,
}

const PREFIX: &str = "whisper.";

impl Config {
    /// GGUF metadata entries that describe this config.
    pub fn to_gguf(&self) -> Vec<(String, Value)> {
        let u = |v: usize| Value::U32(v as u32);
        let list = |v: &[u32]| Value::Array(v.iter().map(|&t| Value::U32(t)).collect());
        vec![
            ("num_mel_bins", u(self.num_mel_bins)),
            ("d_model", u(self.d_model)),
            ("encoder_layers", u(self.encoder_layers)),
            ("encoder_attention_heads", u(self.encoder_attention_heads)),
            ("decoder_layers", u(self.decoder_layers)),
            ("decoder_attention_heads", u(self.decoder_attention_heads)),
            ("encoder_ffn_dim", u(self.encoder_ffn_dim)),
            ("decoder_ffn_dim", u(self.decoder_ffn_dim)),
            ("max_source_positions", u(self.max_source_positions)),
            ("max_target_positions", u(self.max_target_positions)),
            ("vocab_size", u(self.vocab_size)),
            ("suppress_tokens", list(&self.suppress_tokens)),
            ("begin_suppress_tokens", list(&self.begin_suppress_tokens)),
        ]
        .into_iter()
        .map(|(k, v)| (format!("{PREFIX}{k}"), v))
        .collect()
    }

    pub fn from_gguf(meta: &HashMap<String, Value>) -> Result<Self> {
        let bad = |k: &str| Error::ModelCorrupt {
            name: "whisper".into(),
            reason: format!("metadata {PREFIX}{k} is missing or not a number"),
        };
        let get = |k: &str| -> Result<usize> {
            meta.get(&format!("{PREFIX}{k}")).and_then(|v| v.to_u32().ok()).map(|v| v as usize).ok_or_else(|| bad(k))
        };
        let list = |k: &str| -> Vec<u32> {
            match meta.get(&format!("{PREFIX}{k}")) {
                Some(Value::Array(v)) => v.iter().filter_map(|x| x.to_u32().ok()).collect(),
                _ => Vec::new(),
            }
        };
        Ok(Self {
            num_mel_bins: get("num_mel_bins")?,
            d_model: get("d_model")?,
            encoder_layers: get("encoder_layers")?,
            encoder_attention_heads: get("encoder_attention_heads")?,
            decoder_layers: get("decoder_layers")?,
            decoder_attention_heads: get("decoder_attention_heads")?,
            encoder_ffn_dim: get("encoder_ffn_dim")?,
            decoder_ffn_dim: get("decoder_ffn_dim")?,
            max_source_positions: get("max_source_positions")?,
            max_target_positions: get("max_target_positions")?,
            vocab_size: get("vocab_size")?,
            suppress_tokens: list("suppress_tokens"),
            begin_suppress_tokens: list("begin_suppress_tokens"),
        })
    }
}
