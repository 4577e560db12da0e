//! The vision branch in the page: checkpoint import from the files the
//! user picked, the decode plan handed to WebCodecs, the decoded pictures
//! gathered as frames, and the base-size benchmark run in the worker.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::{error, to_js};
use crate::error::Error;
use crate::media::{frame_from_rgba, resize_rgb, rgb_from_yuv, video_decode_plan, FrameSize};
use crate::models::manifest::sha256_hex;
use crate::models::xclip::{convert, TokenizerFiles};
use crate::text::WeightFormat;
use crate::vision::{bench, XClipConfig};

/// Converts a Hugging Face X-CLIP checkpoint from the bytes of its files
/// (`tokenizer.json`, or `vocab.json` + `merges.txt`) to the runtime files,
/// Q8_0 as natively: `{gguf, tokenizer, gguf_sha256, tokenizer_sha256}`.
#[wasm_bindgen(js_name = importXclip)]
pub fn import_xclip(
    name: &str,
    config_json: &[u8],
    safetensors: &[u8],
    tokenizer_json: Option<Vec<u8>>,
    vocab_json: Option<Vec<u8>>,
    merges_txt: Option<Vec<u8>>,
) -> Result<JsValue, JsValue> {
    let tokenizer = match (tokenizer_json, vocab_json, merges_txt) {
        (Some(json), _, _) => TokenizerFiles::Json(json),
        (None, Some(vocab), Some(merges)) => TokenizerFiles::VocabMerges { vocab, merges },
        _ => {
            return Err(error(Error::Invalid(
                "no tokenizer: pick tokenizer.json, or vocab.json and merges.txt, with the checkpoint".into(),
            )))
        }
    };
    let converted = convert(config_json, safetensors, &tokenizer, name, WeightFormat::Q8_0).map_err(error)?;
    #[derive(Serialize)]
    struct Imported {
        #[serde(serialize_with = "crate::media::as_bytes")]
        gguf: Vec<u8>,
        #[serde(serialize_with = "crate::media::as_bytes")]
        tokenizer: Vec<u8>,
        gguf_sha256: String,
        tokenizer_sha256: String,
    }
    to_js(&Imported {
        gguf_sha256: sha256_hex(&converted.gguf),
        tokenizer_sha256: sha256_hex(&converted.tokenizer_json),
        gguf: converted.gguf,
        tokenizer: converted.tokenizer_json,
    })
}

/// What the page's `VideoDecoder` must decode for `frames` sampled frames
/// (see [`crate::media::VideoDecodePlan`]), or null for a still image,
/// which Rust decodes itself.
#[wasm_bindgen(js_name = videoDecodePlan)]
pub fn decode_plan(bytes: &[u8], frames: usize) -> Result<JsValue, JsValue> {
    match video_decode_plan(bytes, frames).map_err(error)? {
        Some(plan) => to_js(&plan),
        None => Ok(JsValue::NULL),
    }
}

/// What page reports say while no X-CLIP model is loaded.
pub const VISION_OFF_IN_PAGE: &str =
    "vision branch off: load an X-CLIP checkpoint under Segments → Video model to classify creatives without speech from their pictures";

/// Frames the page decoded for one creative, already at the model's size;
/// or why there are none.
#[wasm_bindgen]
pub struct FrameSet {
    pub(super) size: usize,
    pub(super) rgb: Vec<Vec<u8>>,
    pub(super) failure: Option<String>,
}

#[wasm_bindgen]
impl FrameSet {
    /// Adds one decoded picture (RGBA rows from a canvas).
    pub fn push(&mut self, rgba: &[u8], width: u32, height: u32) -> Result<(), JsValue> {
        self.rgb.push(frame_from_rgba(rgba, width, height, FrameSize::Square(self.size)).map_err(error)?);
        Ok(())
    }

    /// Adds one decoded picture already as RGB rows (see [`yuv_to_rgb`]).
    #[wasm_bindgen(js_name = pushRgb)]
    pub fn push_rgb(&mut self, rgb: &[u8], width: u32, height: u32) -> Result<(), JsValue> {
        if rgb.len() != width as usize * height as usize * 3 {
            return Err(error(Error::VideoDecode(format!("a {width}×{height} picture cannot have {} bytes of RGB", rgb.len()))));
        }
        self.rgb.push(resize_rgb(rgb, width, height, self.size));
        Ok(())
    }

    /// Records why the browser could not give the frames; the report says it.
    pub fn fail(&mut self, message: &str) {
        self.failure = Some(message.to_string());
    }
}

impl FrameSet {
    pub(super) fn new(size: usize) -> FrameSet {
        FrameSet { size, rgb: Vec::new(), failure: None }
    }

    /// Nothing decoded and nothing failed: a still image, or no vision branch.
    pub(super) fn is_empty(&self) -> bool {
        self.rgb.is_empty() && self.failure.is_none()
    }

    /// The frames the page decoded, or why it could not; with neither (a
    /// still image) they are read from the file's bytes here.
    pub(super) fn frames(&self, bytes: &[u8], count: usize) -> crate::Result<(Vec<Vec<u8>>, usize)> {
        match &self.failure {
            Some(why) => Err(Error::VideoDecode(why.clone())),
            None if self.rgb.is_empty() => crate::media::sample_frames(bytes, count, self.size).map(|f| (f.rgb, f.size)),
            None => Ok((self.rgb.clone(), self.size)),
        }
    }
}

/// A decoded picture in WebCodecs' layout as full-size RGB (see
/// [`rgb_from_yuv`]): converted as natively decoded ones are.
#[allow(clippy::too_many_arguments)]
#[wasm_bindgen(js_name = yuvToRgb)]
pub fn yuv_to_rgb(
    format: &str,
    data: &[u8],
    offsets: Vec<usize>,
    strides: Vec<usize>,
    width: u32,
    height: u32,
    matrix: &str,
    full_range: bool,
) -> Result<Vec<u8>, JsValue> {
    rgb_from_yuv(format, data, &offsets, &strides, width, height, matrix, full_range).map_err(error)
}

/// `creative-filter bench xclip` in the worker: base-patch32 dimensions,
/// random Q8_0 weights generated here, one creative of 8 frames against
/// `prompts` prompts, `runs` times.
#[wasm_bindgen(js_name = benchXclip)]
pub fn bench_xclip(prompts: usize, runs: usize) -> Result<JsValue, JsValue> {
    let config = XClipConfig::base_patch32();
    let r = bench(&config, WeightFormat::Q8_0, prompts, runs).map_err(error)?;
    #[derive(Serialize)]
    struct Report {
        format: &'static str,
        frames: usize,
        image_size: usize,
        prompts: usize,
        runs: usize,
        load_s: f64,
        text_per_prompt_s: f64,
        per_creative_s: f64,
        per_creative_min_s: f64,
    }
    to_js(&Report {
        format: "q8_0",
        frames: config.vision_config.num_frames,
        image_size: config.vision_config.image_size,
        prompts: r.prompts,
        runs: r.runs,
        load_s: r.load_s,
        text_per_prompt_s: r.text_per_prompt_s,
        per_creative_s: r.per_creative_s,
        per_creative_min_s: r.per_creative_min_s,
    })
}
