//! On-screen text in the page. The core's steps are the CLI's (which frames
//! to read, the cleaning, the decision); the page's part is where the frames
//! and the readings come from: WebCodecs decodes the frames the plan names,
//! and tesseract.js reads them in a worker of its own (www/js/ocr.js), with
//! the same traineddata and [`TESSERACT`] settings as libtesseract natively.
//!
//! A creative whose speech leaves its picture to be read is held by the
//! session ([`PendingScreen`]) while the page reads it; `finishScreen` then
//! decides it.

use wasm_bindgen::prelude::*;

use super::{error, to_js};
use crate::creative::Creative;
use crate::error::Error;
use crate::media::{frame_from_rgba, sample_frames_as, video_decode_plan_as, MAX_FRAME_SIDE};
use crate::pipeline::{Features, VisionOutcome};
use crate::screen::{choose_frames, ppm, reading_order, Thumbnail, FRAME_SIZE, MAX_READ_FRAMES, SAMPLED, TESSERACT};

/// A creative decided but for its on-screen text, which the page is reading.
pub(super) struct PendingScreen {
    pub creative: Creative,
    pub content_hash: String,
    pub features: Features,
    pub seen: VisionOutcome,
}

/// What the page's OCR worker needs to read as the CLI does: `{languages,
/// engine_mode, page_segmentation, thresholdings, source_ppi,
/// reading_deadline_ms, creative_budget_s}`.
#[wasm_bindgen(js_name = ocrSettings)]
pub fn ocr_settings() -> Result<JsValue, JsValue> {
    to_js(&TESSERACT)
}

/// What the page's `VideoDecoder` must decode for the on-screen text's
/// frames (one a second), or null for a still image.
#[wasm_bindgen(js_name = screenDecodePlan)]
pub fn screen_decode_plan(bytes: &[u8]) -> Result<JsValue, JsValue> {
    match video_decode_plan_as(bytes, SAMPLED).map_err(error)? {
        Some(plan) => to_js(&plan),
        None => Ok(JsValue::NULL),
    }
}

/// The frames sampled for reading one creative's picture. Each frame comes
/// back at once as the image file the OCR worker reads (at the size the
/// engine reads, [`FRAME_SIZE`]); only its thumbnail stays, to choose which
/// frames are read, so the module's memory does not grow by the frames.
#[wasm_bindgen]
#[derive(Default)]
pub struct ScreenFrames {
    thumbs: Vec<Thumbnail>,
}

#[wasm_bindgen]
impl ScreenFrames {
    #[wasm_bindgen(constructor)]
    pub fn new() -> ScreenFrames {
        ScreenFrames::default()
    }

    /// Adds one decoded picture given as RGB rows (see `yuvToRgb`).
    #[wasm_bindgen(js_name = pushRgb)]
    pub fn push_rgb(&mut self, rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, JsValue> {
        picture_size(rgb.len(), width, height)?;
        Ok(self.add(&FRAME_SIZE.resize(rgb, width, height), FRAME_SIZE.of(width, height)))
    }

    /// Adds one decoded picture given as RGBA rows (from a canvas).
    pub fn push(&mut self, rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, JsValue> {
        let rgb = frame_from_rgba(rgba, width, height, FRAME_SIZE).map_err(error)?;
        Ok(self.add(&rgb, FRAME_SIZE.of(width, height)))
    }

    /// Adds a still image's one frame, decoded here from the file's bytes.
    #[wasm_bindgen(js_name = addStill)]
    pub fn add_still(&mut self, bytes: &[u8]) -> Result<Vec<u8>, JsValue> {
        let frames = sample_frames_as(bytes, SAMPLED, FRAME_SIZE).map_err(error)?;
        let rgb = frames.rgb.first().ok_or_else(|| error(Error::VideoDecode("the image has no picture".into())))?;
        Ok(self.add(rgb, (frames.frame_width, frames.frame_height)))
    }

    fn add(&mut self, rgb: &[u8], (width, height): (u32, u32)) -> Vec<u8> {
        let (w, h) = (width as usize, height as usize);
        self.thumbs.push(Thumbnail::of(rgb, w, h));
        ppm(rgb, w, h)
    }

    /// How many frames were sampled.
    #[wasm_bindgen(getter)]
    pub fn sampled(&self) -> usize {
        self.thumbs.len()
    }

    /// The frames to read, in the order to read them (a held picture once;
    /// see [`choose_frames`] and [`reading_order`]).
    pub fn chosen(&self) -> Vec<usize> {
        reading_order(&choose_frames(&self.thumbs, MAX_READ_FRAMES))
    }
}

/// Checks that `len` bytes are a `width`×`height` RGB picture.
fn picture_size(len: usize, width: u32, height: u32) -> Result<(), JsValue> {
    let fits = width > 0 && height > 0 && width <= MAX_FRAME_SIDE && height <= MAX_FRAME_SIDE;
    if !fits || len != width as usize * height as usize * 3 {
        return Err(error(Error::VideoDecode(format!("a {width}×{height} picture cannot have {len} bytes of RGB"))));
    }
    Ok(())
}
