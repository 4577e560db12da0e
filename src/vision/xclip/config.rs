//! X-CLIP's configuration, mirroring Hugging Face's `config.json` of an
//! `XCLIPModel` (text, vision and prompt-generator parts).

use serde::{Deserialize, Serialize};

use crate::kernels::math::Act;
use crate::{Error, Result};

/// Activation of the feed-forward blocks, named as in Hugging Face configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Activation {
    /// CLIP's x·σ(1.702x).
    #[serde(rename = "quick_gelu")]
    QuickGelu,
    #[serde(rename = "gelu")]
    Gelu,
    #[serde(rename = "gelu_new", alias = "gelu_pytorch_tanh", alias = "gelu_fast")]
    GeluTanh,
    #[serde(rename = "relu")]
    Relu,
}

impl Activation {
    pub(super) fn apply(self, xs: &mut [f32]) {
        match self {
            Self::QuickGelu => xs.iter_mut().for_each(|x| *x /= 1.0 + (-1.702 * *x).exp()),
            Self::Gelu => Act::GeluErf.apply_slice(xs),
            Self::GeluTanh => Act::GeluTanh.apply_slice(xs),
            Self::Relu => Act::Relu.apply_slice(xs),
        }
    }
}

/// `text_config` of an X-CLIP `config.json` (defaults: Hugging Face's).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct XClipTextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
}

impl Default for XClipTextConfig {
    fn default() -> Self {
        Self {
            vocab_size: 49408,
            hidden_size: 512,
            intermediate_size: 2048,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            max_position_embeddings: 77,
            hidden_act: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
        }
    }
}

/// `vision_config` of an X-CLIP `config.json`, MIT sizes included.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct XClipVisionConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub mit_hidden_size: usize,
    pub mit_intermediate_size: usize,
    pub mit_num_hidden_layers: usize,
    pub mit_num_attention_heads: usize,
    pub num_channels: usize,
    pub image_size: usize,
    pub patch_size: usize,
    pub num_frames: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
}

impl Default for XClipVisionConfig {
    fn default() -> Self {
        Self {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            mit_hidden_size: 512,
            mit_intermediate_size: 2048,
            mit_num_hidden_layers: 1,
            mit_num_attention_heads: 8,
            num_channels: 3,
            image_size: 224,
            patch_size: 32,
            num_frames: 8,
            hidden_act: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
        }
    }
}

impl XClipVisionConfig {
    /// Patches per side of a frame.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }
    pub fn num_patches(&self) -> usize {
        self.grid() * self.grid()
    }
}

/// An X-CLIP `config.json` (the fields the forward pass needs).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct XClipConfig {
    pub text_config: XClipTextConfig,
    pub vision_config: XClipVisionConfig,
    pub projection_dim: usize,
    pub prompt_layers: usize,
    pub prompt_alpha: f64,
    pub prompt_hidden_act: Activation,
    pub prompt_num_attention_heads: usize,
    pub logit_scale_init_value: f64,
    pub model_type: Option<String>,
}

impl Default for XClipConfig {
    fn default() -> Self {
        Self {
            text_config: XClipTextConfig::default(),
            vision_config: XClipVisionConfig::default(),
            projection_dim: 512,
            prompt_layers: 2,
            prompt_alpha: 0.1,
            prompt_hidden_act: Activation::QuickGelu,
            prompt_num_attention_heads: 8,
            logit_scale_init_value: 2.6592,
            model_type: Some("xclip".into()),
        }
    }
}

fn config_err(msg: impl Into<String>) -> Error {
    Error::ModelConfig(format!("X-CLIP config: {}", msg.into()))
}

impl XClipConfig {
    /// The dimensions of microsoft/xclip-base-patch32 (8 frames of 224×224).
    pub fn base_patch32() -> Self {
        Self::default()
    }

    /// Parses a Hugging Face `config.json`. Older checkpoints also carry
    /// `text_config_dict`/`vision_config_dict`, which take precedence there.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let mut v: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| config_err(format!("config.json is not JSON: {e}")))?;
        if let Some(obj) = v.as_object_mut() {
            for part in ["text_config", "vision_config"] {
                let over = obj.get(&format!("{part}_dict")).and_then(|d| d.as_object()).cloned();
                let base = obj.entry(part).or_insert_with(|| serde_json::json!({}));
                // null means "defaults" to Hugging Face.
                if base.is_null() {
                    *base = serde_json::json!({});
                }
                if let (Some(base), Some(over)) = (base.as_object_mut(), over) {
                    base.extend(over);
                }
            }
        }
        let cfg: Self = serde_json::from_value(v).map_err(|e| config_err(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("the config serialises")
    }

    pub fn validate(&self) -> Result<()> {
        if let Some(t) = self.model_type.as_deref() {
            if t != "xclip" {
                return Err(config_err(format!("model_type is \"{t}\", not \"xclip\"")));
            }
        }
        let (t, v) = (&self.text_config, &self.vision_config);
        let heads = [
            ("text_config", t.hidden_size, t.num_attention_heads),
            ("vision_config", v.hidden_size, v.num_attention_heads),
            ("vision_config.mit", v.mit_hidden_size, v.mit_num_attention_heads),
            ("prompt", self.projection_dim, self.prompt_num_attention_heads),
        ];
        for (part, width, n) in heads {
            if n == 0 || width == 0 || width % n != 0 {
                return Err(config_err(format!(
                    "{part}: hidden size {width} is not a multiple of its {n} attention heads"
                )));
            }
        }
        if v.mit_hidden_size != self.projection_dim {
            return Err(config_err(format!(
                "vision_config.mit_hidden_size {} must equal projection_dim {} (the MIT runs on projected frame embeddings)",
                v.mit_hidden_size, self.projection_dim
            )));
        }
        if v.patch_size == 0 || v.image_size < v.patch_size || v.image_size % v.patch_size != 0 {
            return Err(config_err(format!(
                "vision_config.image_size {} is not a multiple of patch_size {}",
                v.image_size, v.patch_size
            )));
        }
        if v.num_frames == 0 || v.num_channels == 0 {
            return Err(config_err("vision_config.num_frames and num_channels must be at least 1"));
        }
        if t.vocab_size == 0 || t.max_position_embeddings == 0 {
            return Err(config_err("text_config.vocab_size and max_position_embeddings must be at least 1"));
        }
        for (name, x) in [("text_config.layer_norm_eps", t.layer_norm_eps), ("vision_config.layer_norm_eps", v.layer_norm_eps)] {
            if !(x > 0.0 && x.is_finite()) {
                return Err(config_err(format!("{name} must be a small positive number, got {x}")));
            }
        }
        Ok(())
    }
}
