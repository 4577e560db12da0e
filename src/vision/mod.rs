//! Video features: X-CLIP (microsoft/xclip-base-patch32 architecture) scores
//! a creative's frames against text prompts.
//!
//! Frames arrive as RGB bytes already resized to the model's image size;
//! [`clip_normalise`] turns them into the model's input. Prompts go through
//! [`ClipTokenizer`]; their embeddings ([`XClipModel::text_features`]) do not
//! depend on the video and can be computed once per prompt set.

pub mod classify;
pub mod model;
pub mod tokenizer;
pub mod xclip;

use candle_core::{Device, Tensor};

pub use classify::{VisionBranch, VisionClassifier};
pub use model::{VisionModel, VISION_OFF_NOTE};
pub use tokenizer::{ClipTokenizer, PromptBatch};
pub use xclip::{
    Activation, VideoFeatures, XClipConfig, XClipModel, XClipOutput, XClipTextConfig, XClipVisionConfig,
    XClipWeights,
};

use crate::text::WeightFormat;
use crate::{Error, Result};

/// CLIP's per-channel pixel mean and standard deviation (RGB, on 0..1).
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// One frame of `size`×`size` interleaved RGB bytes → [3, size, size]
/// channel-first floats, scaled to 0..1 and normalised as CLIP's image
/// processor does.
pub fn clip_normalise(rgb: &[u8], size: usize) -> Result<Vec<f32>> {
    let n = size * size;
    if rgb.len() != 3 * n {
        return Err(Error::Invalid(format!(
            "a frame of {size}×{size} RGB pixels has {} bytes, got {}",
            3 * n,
            rgb.len()
        )));
    }
    let mut out = vec![0f32; 3 * n];
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * n + i] = (px[c] as f32 / 255.0 - CLIP_MEAN[c]) / CLIP_STD[c];
        }
    }
    Ok(out)
}

/// The model input [1, T, 3, size, size] of one video from its T frames
/// (RGB bytes, `size`×`size` each).
pub fn video_tensor(frames: &[&[u8]], size: usize) -> Result<Tensor> {
    let mut data = Vec::with_capacity(frames.len() * 3 * size * size);
    for f in frames {
        data.extend(clip_normalise(f, size)?);
    }
    Ok(Tensor::from_vec(data, (1, frames.len(), 3, size, size), &Device::Cpu)?)
}

/// Timings of one model on one machine, in seconds.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Generating the random weights and preparing the model.
    pub load_s: f64,
    /// Text features of one prompt (done once per prompt set).
    pub text_per_prompt_s: f64,
    /// One creative: video features plus its logits against every prompt (mean over runs).
    pub per_creative_s: f64,
    /// The fastest run.
    pub per_creative_min_s: f64,
    pub prompts: usize,
    pub runs: usize,
}

/// Times `config` with random weights in `format`: one creative (B = 1, the
/// config's frames at its image size) against `prompts` prompts of full
/// length, `runs` times after a warm-up. Threads: candle's and rayon's
/// defaults (`RAYON_NUM_THREADS`).
pub fn bench(config: &XClipConfig, format: WeightFormat, prompts: usize, runs: usize) -> Result<BenchReport> {
    let now = web_time::Instant::now;
    let t = now();
    let model = XClipModel::new(&XClipWeights::random(config, 0x5eed, format)?)?;
    let load_s = t.elapsed().as_secs_f64();

    let (tc, vc) = (&config.text_config, &config.vision_config);
    let (l, k) = (tc.max_position_embeddings, prompts.max(1));
    // Full-length prompts: the end token (highest id) last.
    let ids: Vec<u32> = (0..k * l)
        .map(|i| if i % l == l - 1 { tc.vocab_size as u32 - 1 } else { (i * 7919 % (tc.vocab_size - 1)) as u32 })
        .collect();
    let ids = Tensor::from_vec(ids, (k, l), &Device::Cpu)?;
    let mask = Tensor::ones((k, l), candle_core::DType::F32, &Device::Cpu)?;
    let t = now();
    let text = model.text_features(&ids, &mask)?;
    let text_per_prompt_s = t.elapsed().as_secs_f64() / k as f64;

    let s = vc.image_size;
    let frame: Vec<u8> = (0..3 * s * s).map(|i| (i * 31 % 251) as u8).collect();
    let frames: Vec<&[u8]> = (0..vc.num_frames).map(|_| frame.as_slice()).collect();
    let video = video_tensor(&frames, s)?;
    let run = || -> Result<f64> {
        let t = now();
        let v = model.video_features(&video)?;
        model.logits_per_video(&v, &text)?.logits_per_video.to_vec2::<f32>()?;
        Ok(t.elapsed().as_secs_f64())
    };
    run()?;
    let times = (0..runs.max(1)).map(|_| run()).collect::<Result<Vec<_>>>()?;
    Ok(BenchReport {
        load_s,
        text_per_prompt_s,
        per_creative_s: times.iter().sum::<f64>() / times.len() as f64,
        per_creative_min_s: times.iter().cloned().fold(f64::INFINITY, f64::min),
        prompts: k,
        runs: times.len(),
    })
}
