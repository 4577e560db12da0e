//! The imported X-CLIP model as the product runs it: weights (GGUF) and
//! tokenizer from the models folder, frames in, a video embedding and
//! zero-shot segment probabilities out.

use candle_core::Tensor;

use super::{video_tensor, ClipTokenizer, VideoFeatures, XClipModel};
use crate::classify::logreg::softmax_in_place;
use crate::{Error, Result};

/// What reports say while no X-CLIP model is imported.
pub const VISION_OFF_NOTE: &str =
    "vision branch off: import an X-CLIP checkpoint with `creative-filter models import xclip DIR`";

/// The video model and its prompt tokenizer.
pub struct VisionModel {
    model: XClipModel,
    tokenizer: ClipTokenizer,
    id: String,
}

impl VisionModel {
    /// From the runtime files' bytes; `id` names the model in heads and
    /// cache keys (e.g. [`crate::models::manifest::Manifest::file_id`]).
    pub fn from_bytes(gguf: &[u8], tokenizer_json: &[u8], id: &str) -> Result<VisionModel> {
        Self::from_bytes_on(gguf, tokenizer_json, id, None)
    }

    /// [`VisionModel::from_bytes`] with the vision tower also on `gpu`.
    pub fn from_bytes_on(gguf: &[u8], tokenizer_json: &[u8], id: &str, gpu: Option<std::sync::Arc<crate::gpu::Gpu>>) -> Result<VisionModel> {
        let model = XClipModel::new_on(&super::XClipWeights::from_gguf(gguf)?, gpu)?;
        let tokenizer =
            ClipTokenizer::from_tokenizer_json(tokenizer_json, model.config().text_config.max_position_embeddings)?;
        Ok(VisionModel { model, tokenizer, id: id.to_string() })
    }

    /// The imported model in `dir`, or None when none was imported (the
    /// vision branch is off). Files listed in the manifest but missing or
    /// damaged are an error, not a silent "off".
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(dir: &std::path::Path) -> Result<Option<VisionModel>> {
        Self::load_on(dir, None)
    }

    /// [`VisionModel::load`] with the vision tower also on `gpu`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_on(dir: &std::path::Path, gpu: Option<std::sync::Arc<crate::gpu::Gpu>>) -> Result<Option<VisionModel>> {
        use crate::models::manifest::{Manifest, MANIFEST_FILE};
        use crate::models::{read_model_file, XCLIP_GGUF, XCLIP_MODEL_NAME, XCLIP_TOKENIZER};
        let manifest = match std::fs::read(dir.join(MANIFEST_FILE)) {
            Ok(bytes) => Manifest::from_json(&bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Read { path: dir.join(MANIFEST_FILE), source: e }),
        };
        if manifest.get(XCLIP_GGUF).is_none() {
            return Ok(None);
        }
        // Checked against the manifest by the read itself; an imported model
        // is repaired by importing it again, not by `models fetch`.
        let gguf = read_model_file(dir, XCLIP_GGUF, XCLIP_MODEL_NAME).map_err(|e| match e {
            Error::ModelCorrupt { name, reason } => Error::ModelCorrupt { name, reason: format!("{reason} (import the checkpoint again)") },
            e => e,
        })?;
        let tokenizer = read_model_file(dir, XCLIP_TOKENIZER, XCLIP_MODEL_NAME)?;
        Self::from_bytes_on(&gguf, &tokenizer, &Manifest::file_id(Some(&manifest), XCLIP_GGUF), gpu).map(Some)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn model(&self) -> &XClipModel {
        &self.model
    }

    /// Frames per video the model takes.
    pub fn frames(&self) -> usize {
        self.model.config().vision_config.num_frames
    }

    /// Side of the square frames, in pixels.
    pub fn image_size(&self) -> usize {
        self.model.config().vision_config.image_size
    }

    /// The video features of one creative from its frames (`size`×`size`
    /// RGB bytes each, in time order). Any number of frames is accepted:
    /// evenly spaced ones are taken (repeated when there are too few), as
    /// the model is trained on a fixed count.
    pub fn video(&self, rgb_frames: &[Vec<u8>], size: usize) -> Result<VideoFeatures> {
        self.model.video_features(&self.frames_tensor(rgb_frames, size)?)
    }

    /// The model's input from the frames (see [`VisionModel::video`]).
    fn frames_tensor(&self, rgb_frames: &[Vec<u8>], size: usize) -> Result<Tensor> {
        if rgb_frames.is_empty() {
            return Err(Error::Invalid("no video frames to look at".into()));
        }
        if size != self.image_size() {
            return Err(Error::Invalid(format!(
                "frames are {size}×{size} pixels; the video model takes {0}×{0}",
                self.image_size()
            )));
        }
        let t = self.frames();
        let picked: Vec<&[u8]> =
            (0..t).map(|i| rgb_frames[(i * rgb_frames.len() + rgb_frames.len() / 2) / t].as_slice()).collect();
        video_tensor(&picked, size)
    }

    /// [`VisionModel::video`] with the vision tower on the GPU where one is
    /// in use, awaited (the page's WebGPU).
    pub async fn video_async(&self, rgb_frames: &[Vec<u8>], size: usize) -> Result<VideoFeatures> {
        self.model.video_features_async(&self.frames_tensor(rgb_frames, size)?).await
    }

    /// Leaves the GPU (see [`XClipModel::leave_gpu`]).
    pub fn leave_gpu(&mut self) {
        self.model.leave_gpu();
    }

    /// The unit-length video embedding (what a trained vision head reads).
    pub fn embedding(&self, video: &VideoFeatures) -> Result<Vec<f32>> {
        let mut e = video.embeds.get(0)?.to_vec1::<f32>()?;
        let norm = e.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            return Err(Error::Invalid("the video embedding is zero or not finite".into()));
        }
        e.iter_mut().for_each(|x| *x /= norm);
        Ok(e)
    }

    /// Text features [K, D] of the prompts (not conditioned on any video;
    /// computed once per prompt set).
    pub fn prompt_features(&self, prompts: &[&str]) -> Result<Tensor> {
        if prompts.is_empty() {
            return Err(Error::Invalid("no prompts to score the video against".into()));
        }
        let batch = self.tokenizer.encode_batch(prompts)?;
        self.model.text_features(&batch.ids, &batch.mask)
    }

    /// Softmax over X-CLIP's `logits_per_video` of one video against the
    /// prompts: the text embeddings are conditioned on this video by the
    /// prompt generator, as in the model's own zero-shot use.
    pub fn zero_shot_probs(&self, video: &VideoFeatures, prompts: &Tensor) -> Result<Vec<f32>> {
        let mut z = self.model.logits_per_video(video, prompts)?.logits_per_video.get(0)?.to_vec1::<f32>()?;
        softmax_in_place(&mut z);
        Ok(z)
    }
}
