//! The browser shell: the wasm-bindgen API the page's worker calls. It holds
//! no logic of its own; every call goes to the same library functions the
//! CLI uses, and errors cross as `{code, message}` objects the page can act on.

mod dashboard;
mod screen;
mod tables;
#[cfg(target_feature = "atomics")]
mod threads;
mod vision;

use serde::Serialize;
use wasm_bindgen::prelude::*;
use web_time::Instant;

use crate::asr::whisper_gpu::{GpuEncoder, GpuWithFallback};
use crate::asr::{load_transcriber, DecodingOptions};
use crate::cache::{FeatureCache, JournalStore};
use crate::classify::training::segments_for_texts;
use crate::classify::{Classifier, Head, SegmentDictionary};
use crate::creative::{Creative, DEFAULT_MAX_SECONDS};
use crate::error::Error;
use crate::media::{decode_audio, demux_audio, to_whisper_input, Audio, DecodedAudio};
use crate::models::manifest::{sha256_hex, Manifest};
use crate::models::WHISPER_GGUF;
use crate::message::Message;
use crate::pipeline::{notes, verdict_with_vision, vision_outcome_async, Engine, Features, Report, VisionOutcome};
use crate::screen::{ScreenMode, ScreenText};
use crate::pipeline::training::{self, HeardExample, LabelledCreative, ScreenExamples, TrainingOptions};
use crate::table::{read_labelled_texts, Label, LabelledTexts, RowProblem, Table};
use crate::text::TextEncoder;
use crate::vision::classify::VisionExample;
use crate::vision::{VisionBranch, VisionModel};

pub use tables::{answer_table, plan_table, results_table};
pub use screen::{ocr_settings, screen_decode_plan, ScreenFrames};
pub use vision::{bench_xclip, decode_plan, import_xclip, yuv_to_rgb, FrameSet};

/// The model files the page loads, by role, and those earlier versions
/// cached under other names: the names the CLI's `models fetch` writes.
#[wasm_bindgen(js_name = modelFiles)]
pub fn model_files() -> Result<JsValue, JsValue> {
    use crate::models::e5s1::{E5_GGUF_FILE, E5_TOKENIZER_FILE};
    use crate::models::{SUPERSEDED, TESSDATA_ENG, TESSDATA_RUS, WHISPER_TOKENIZER, XCLIP_GGUF, XCLIP_TOKENIZER};
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Files {
        whisper: &'static str,
        whisper_tokenizer: &'static str,
        e5: &'static str,
        e5_tokenizer: &'static str,
        vision: &'static str,
        vision_tokenizer: &'static str,
        /// Tesseract's traineddata, fetched when a creative's picture is first read.
        ocr: [&'static str; 2],
        superseded: &'static [&'static str],
    }
    to_js(&Files {
        whisper: WHISPER_GGUF,
        whisper_tokenizer: WHISPER_TOKENIZER,
        e5: E5_GGUF_FILE,
        e5_tokenizer: E5_TOKENIZER_FILE,
        vision: XCLIP_GGUF,
        vision_tokenizer: XCLIP_TOKENIZER,
        ocr: [TESSDATA_RUS, TESSDATA_ENG],
        superseded: &SUPERSEDED,
    })
}

/// Set by the panic hook: after a panic (a trap) the module's state can no
/// longer be trusted (a value may stay borrowed forever), even where the
/// worker's JavaScript caught the error to try another decoder.
static PANICKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The threads the kernels run on: the pool's size in the threaded module, 1
/// in the portable one (rayon's pool is then the calling thread).
#[wasm_bindgen(js_name = threadCount)]
pub fn thread_count() -> usize {
    rayon::current_num_threads()
}

#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        PANICKED.store(true, std::sync::atomic::Ordering::SeqCst);
        // The panic reaches the console with its message instead of "unreachable".
        console_error_panic_hook::hook(info);
    }));
}

/// Panics on purpose: the page's test that a panicking file fails alone
/// and the worker is replaced (tests/browser/hostile.mjs).
#[wasm_bindgen(js_name = panicForTest)]
pub fn panic_for_test() {
    panic!("a deliberate panic, to test the page's recovery");
}

/// Whether this instance has panicked: the worker is then replaced before
/// the next file.
#[wasm_bindgen(js_name = hasPanicked)]
pub fn has_panicked() -> bool {
    PANICKED.load(std::sync::atomic::Ordering::SeqCst)
}

/// JS values from serde, with maps as plain objects and bytes (fields
/// serialized with `serialize_bytes`) as `Uint8Array`s, which WebCodecs and
/// `Response` take (json_compatible alone makes them arrays of numbers).
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible().serialize_bytes_as_arrays(false);
    value.serialize(&serializer).map_err(|e| fail("internal", e.to_string()))
}

fn fail(code: &str, message: String) -> JsValue {
    failure(code, message, None)
}

fn failure(code: &str, message: String, said: Option<Message>) -> JsValue {
    #[derive(Serialize)]
    struct Failure<'a> {
        code: &'a str,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        said: Option<Message>,
    }
    // Plain objects, not Maps, for the message's params.
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    Failure { code, message, said }.serialize(&serializer).unwrap_or_else(|_| JsValue::from_str("error"))
}

/// An error as `{code, message, said}`: the code says which recovery
/// applies (e.g. "unsupported-codec" → try the browser's decoder), `said`
/// is the message for the page to word in the user's language.
pub(crate) fn error(e: Error) -> JsValue {
    let code = match &e {
        Error::EmptyInput => "empty",
        Error::NotMedia(_) => "not-media",
        Error::UnsupportedCodec { .. } => "unsupported-codec",
        Error::NoAudioTrack => "no-audio",
        Error::Decode(_) | Error::OverBudget { .. } => "decode",
        Error::ModelMissing { .. } | Error::ModelCorrupt { .. } | Error::ModelConfig(_) => "model",
        Error::EmbeddingModelMismatch { .. } => "head-mismatch",
        Error::Table { .. } | Error::MissingColumn { .. } | Error::DuplicateSegmentId { .. } => "table",
        Error::NoVideoTrack => "no-video",
        Error::UnsupportedVideoCodec { .. } | Error::VideoDecode(_) => "video",
        _ => "internal",
    };
    failure(code, e.to_string(), Some(e.message()))
}

/// The SHA-256 of a file's bytes, the key its transcript is cached under.
#[wasm_bindgen(js_name = contentHash)]
pub fn content_hash(bytes: &[u8]) -> String {
    sha256_hex(bytes)
}

/// The int8 kernel path this module runs, for the page's status line:
/// `wasm-relaxed-simd (u8·i8 dot)` (the fast module, with the form of dot
/// product this engine computes exactly) or `wasm-simd128` (the portable one).
#[wasm_bindgen(js_name = kernelPath)]
pub fn kernel_path() -> String {
    crate::kernels::int8::path_name()
}

/// Every int8 kernel path this browser runs, against the independent
/// reference on odd shapes (tests/browser/e2e.mjs runs it in both modules):
/// the paths checked, or the first difference as an error.
#[wasm_bindgen(js_name = kernelSelfTest)]
pub fn kernel_self_test() -> Result<Vec<String>, JsValue> {
    crate::kernels::int8::self_test().map_err(|e| fail("internal", e))
}

/// The int8 kernels timed side by side in this module: `[[path, ms], …]`
/// for one [m, k] × [n, k]ᵀ product (bench/web.mjs).
#[wasm_bindgen(js_name = benchInt8)]
pub fn bench_int8(m: usize, n: usize, k: usize, runs: usize) -> Result<JsValue, JsValue> {
    to_js(&crate::kernels::int8::bench_paths(m, n, k, runs).map_err(|e| fail("internal", e))?)
}

/// The encoded audio packets of a file whose codec has no decoder in this
/// module, for the browser's `AudioDecoder`: `{codec, sample_rate, channels,
/// description, packets: [{timestamp_us, duration_us, data}], truncated,
/// incomplete}`.
#[wasm_bindgen]
pub fn demux(file_name: &str, bytes: Vec<u8>) -> Result<JsValue, JsValue> {
    let creative = Creative::from_file_name(file_name);
    to_js(&demux_audio(bytes, creative.extension.as_deref(), DEFAULT_MAX_SECONDS).map_err(error)?)
}

/// What the speech branch hears of a file: its audio as 16 kHz mono, from
/// the Rust decoders as `classifyFile` decodes it. For checking the page's
/// decoding against a reference decoder (tests/browser/formats.mjs).
#[wasm_bindgen(js_name = whisperInput)]
pub fn whisper_input(file_name: &str, bytes: Vec<u8>) -> Result<Vec<f32>, JsValue> {
    let creative = Creative::from_file_name(file_name);
    let decoded = decode_audio(bytes, creative.extension.as_deref(), DEFAULT_MAX_SECONDS).map_err(error)?;
    to_whisper_input(&decoded.audio).map_err(error)
}

/// A file's audio decoded by the Rust decoders exactly as `classifyFile`
/// decodes it (mono at the source rate, the analysed length), so that the
/// page's reader worker can decode the next creative of a batch while the
/// models work on this one; `Session::classifyRead` takes it from there.
#[wasm_bindgen]
pub struct ReadAudio {
    samples: Vec<f32>,
    #[wasm_bindgen(readonly, js_name = sampleRate)]
    pub sample_rate: u32,
    codec: String,
    #[wasm_bindgen(readonly)]
    pub truncated: bool,
    /// The file ends before its container says it does.
    #[wasm_bindgen(readonly)]
    pub incomplete: bool,
    #[wasm_bindgen(readonly, js_name = decodeMs)]
    pub decode_ms: f64,
}

#[wasm_bindgen]
impl ReadAudio {
    #[wasm_bindgen(getter)]
    pub fn samples(&self) -> Vec<f32> {
        self.samples.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn codec(&self) -> String {
        self.codec.clone()
    }
}

/// See [`ReadAudio`]; fails as `classifyFile` would (e.g. "unsupported-codec").
#[wasm_bindgen(js_name = readAudio)]
pub fn read_audio(file_name: &str, bytes: Vec<u8>) -> Result<ReadAudio, JsValue> {
    let creative = Creative::from_file_name(file_name);
    let t = Instant::now();
    let d = decode_audio(bytes, creative.extension.as_deref(), DEFAULT_MAX_SECONDS).map_err(error)?;
    let decode_ms = t.elapsed().as_secs_f64() * 1e3;
    Ok(ReadAudio { samples: d.audio.samples, sample_rate: d.audio.sample_rate, codec: d.codec, truncated: d.truncated, incomplete: d.incomplete, decode_ms })
}

/// The same for audio the browser decoded (interleaved frames), mixed down
/// and resampled as `classifyDecoded` does.
#[wasm_bindgen(js_name = whisperInputOf)]
pub fn whisper_input_of(interleaved: &[f32], channels: usize, sample_rate: u32, codec: &str) -> Result<Vec<f32>, JsValue> {
    let decoded = DecodedAudio::from_interleaved(interleaved, channels, sample_rate, codec, DEFAULT_MAX_SECONDS).map_err(error)?;
    to_whisper_input(&decoded.audio).map_err(error)
}

/// Loaded models, the user's segments and head, and the session's cache.
#[wasm_bindgen]
pub struct Session {
    engine: Engine,
    dictionary: Option<SegmentDictionary>,
    head: Option<Head>,
    classifier: Classifier,
    /// The X-CLIP branch, once a model is loaded (off until then).
    vision: Option<VisionBranch>,
    /// Why the head's trained vision part is not used, if it is not.
    vision_warning: Option<Message>,
    /// Video embeddings of the creatives classified so far, by content hash,
    /// for training a vision head on labelled ones.
    video_embeddings: std::collections::HashMap<String, Vec<f32>>,
    /// The cache's entries, which the page keeps in the browser's storage.
    journal: std::sync::Arc<JournalStore>,
    /// Names the page's OCR engine and its models in cache keys; None where
    /// the site has none.
    screen_reader: Option<String>,
    /// The creative whose picture the page is reading.
    pending_screen: Option<screen::PendingScreen>,
    /// Whisper's encoder on WebGPU, where the page chose a GPU (e5's layers
    /// and the vision tower go onto the same device) ([`Session::use_device`]);
    /// the CPU otherwise.
    gpu: Option<GpuWithFallback>,
    /// Why the device chosen is not in use, if it is not.
    gpu_problem: Option<String>,
}

/// The device the encoder runs on, as the status line shows it.
#[derive(Serialize)]
struct DeviceState {
    /// "auto", "cpu" or "gpu": what was asked for.
    choice: crate::gpu::DeviceChoice,
    /// "gpu: <adapter> (webgpu, …)" or "cpu (<kernel>)", as in each report.
    device: String,
    /// Why the GPU is not in use when it was asked for, or was given up.
    problem: Option<String>,
    /// Whether e5 embeds the transcripts there too (and has not failed there).
    text_gpu: bool,
}

/// A cache over a fresh journal, and the journal.
fn journaled_cache() -> (FeatureCache, std::sync::Arc<JournalStore>) {
    let journal = std::sync::Arc::new(JournalStore::default());
    (FeatureCache::new(Box::new(journal.clone())), journal)
}

#[wasm_bindgen]
impl Session {
    /// Loads the models from the bytes the page fetched (and verified
    /// against `manifest.json`, whose text is passed for cache keys).
    #[wasm_bindgen(constructor)]
    pub fn new(
        manifest_json: &[u8],
        whisper_gguf: &[u8],
        whisper_tokenizer: &[u8],
        e5_gguf: &[u8],
        e5_tokenizer: &[u8],
    ) -> Result<Session, JsValue> {
        let manifest = Manifest::from_json(manifest_json).map_err(error)?;
        let model_error = |name: &str| {
            let name = name.to_string();
            move |e: Error| match e {
                Error::Inference(e) => error(Error::ModelCorrupt { name: name.clone(), reason: e.to_string() }),
                e => error(e),
            }
        };
        let transcriber = load_transcriber(whisper_gguf, whisper_tokenizer).map_err(model_error(WHISPER_GGUF))?;
        let encoder = TextEncoder::from_gguf(e5_gguf, e5_tokenizer).map_err(model_error("e5-small"))?;
        let (cache, journal) = journaled_cache();
        // The engine never leaves the worker's thread, and e5's WebGPU
        // handles cannot: the Arc is the CLI's, for sharing the encoder.
        #[allow(clippy::arc_with_non_send_sync)]
        let encoder = std::sync::Arc::new(encoder);
        let engine = Engine {
            transcriber,
            encoder,
            cache,
            asr: Default::default(),
            max_seconds: DEFAULT_MAX_SECONDS,
            asr_model_id: Manifest::file_id(Some(&manifest), WHISPER_GGUF),
            // The page reads the picture itself, asynchronously (see
            // `setScreenReading`, `finishScreen`).
            screen: None,
            screen_mode: ScreenMode::Off,
        };
        let classifier = engine.classifier(None, None).map_err(error)?;
        Ok(Session {
            engine,
            dictionary: None,
            head: None,
            classifier,
            vision: None,
            vision_warning: None,
            video_embeddings: Default::default(),
            journal,
            screen_reader: None,
            pending_screen: None,
            gpu: None,
            gpu_problem: None,
        })
    }

    /// Chooses where Whisper's encoder and e5's layers run: `choice` is
    /// "auto" (a real GPU whose self-test against the CPU kernel passes; CPU
    /// emulations such as SwiftShader are passed over), "gpu" (any adapter)
    /// or "cpu". `whisper_gguf` and `e5_gguf` are the model files again,
    /// whose weights are uploaded to the GPU in their quantised form; they
    /// stay in JavaScript's memory unless a GPU passed its self-test, since
    /// wasm memory never shrinks and most visits (no GPU, or only an
    /// emulation) do not need them. Never fails for want of a GPU: the
    /// answer says which device runs and why not the GPU.
    #[wasm_bindgen(js_name = useDevice)]
    pub async fn use_device(&mut self, choice: String, whisper_gguf: js_sys::Uint8Array, e5_gguf: js_sys::Uint8Array) -> Result<JsValue, JsValue> {
        let choice = crate::gpu::DeviceChoice::from_name(&choice)
            .ok_or_else(|| error(Error::Invalid(format!("no device {choice:?} (auto, cpu or gpu)"))))?;
        self.gpu = None;
        self.gpu_problem = None;
        // The page sets the vision model again for the new device.
        if let Some(b) = &mut self.vision {
            b.model.leave_gpu();
        }
        let opened = match crate::gpu::Gpu::select_async(choice).await {
            Ok(Some(gpu)) => crate::asr::whisper::Weights::from_gguf(&whisper_gguf.to_vec(), &candle_core::Device::Cpu)
                .and_then(|(weights, config)| GpuEncoder::load(gpu, &weights, &config))
                .map(|encoder| Some(GpuWithFallback::new(encoder))),
            Ok(None) => Ok(None),
            Err(e) => Err(Error::from(e)),
        };
        match opened {
            Ok(gpu) => {
                if gpu.is_none() && choice == crate::gpu::DeviceChoice::Auto {
                    self.gpu_problem = Some("no GPU here is faster than the CPU kernels".into());
                }
                self.gpu = gpu;
            }
            Err(e) => self.gpu_problem = Some(e.to_string()),
        }
        // e5 follows Whisper's encoder; failing there leaves it on the CPU.
        let gpu = self.gpu.as_ref().map(|g| g.gpu().clone());
        let e5 = if gpu.is_some() { e5_gguf.to_vec() } else { Vec::new() };
        let moved = match std::sync::Arc::get_mut(&mut self.engine.encoder) {
            Some(encoder) => encoder.use_gpu(&e5, gpu),
            None => Err(Error::Invalid("the text encoder is in use elsewhere".into())),
        };
        if let (Err(e), Some(_)) = (moved, &self.gpu) {
            self.gpu_problem = Some(format!("e5 stays on the CPU: {e}"));
        }
        to_js(&self.device_state(choice))
    }

    fn device_state(&self, choice: crate::gpu::DeviceChoice) -> DeviceState {
        let device = self.gpu.as_ref().map_or_else(crate::asr::whisper::cpu_device, GpuWithFallback::device);
        DeviceState { choice, device, problem: self.gpu_problem.clone(), text_gpu: self.engine.encoder.on_gpu() }
    }

    /// Ends the GPU's device as a driver reset would (the browser tests'
    /// forced device loss): the next window falls back to the CPU.
    #[wasm_bindgen(js_name = loseGpuForTest)]
    pub fn lose_gpu_for_test(&self) -> bool {
        self.gpu.as_ref().map(|g| g.gpu().destroy()).is_some()
    }

    /// When creatives' on-screen text is read (`mode`: "auto", "always" or
    /// "off", as the CLI's `--screen-text`) and by which engine: `reader`
    /// names the page's OCR engine and its models in cache keys; null where
    /// the site has none (creatives that want their picture read say so).
    #[wasm_bindgen(js_name = setScreenReading)]
    pub fn set_screen_reading(&mut self, mode: &str, reader: Option<String>) -> Result<(), JsValue> {
        self.engine.screen_mode = serde_json::from_value(serde_json::Value::String(mode.to_string()))
            .map_err(|_| error(Error::Invalid(format!("on-screen text mode {mode:?}: auto, always or off"))))?;
        self.screen_reader = reader;
        Ok(())
    }

    /// How Whisper chooses its tokens: `beam` 5 (the default, as the CLI's)
    /// is the beam search with the temperature fallback, 1 greedy decoding
    /// (the CLI's `--beam-size 1 --no-fallback`), faster and less accurate.
    #[wasm_bindgen(js_name = setDecoding)]
    pub fn set_decoding(&mut self, beam: usize) -> Result<(), JsValue> {
        self.engine.asr.decoding = match beam {
            1 => DecodingOptions::greedy(),
            2..=16 => DecodingOptions { beam_size: beam, ..Default::default() },
            _ => return Err(error(Error::Invalid(format!("beam size {beam}: 1 to 16")))),
        };
        Ok(())
    }

    /// Words to expect in the speech (brand and product names), given to
    /// Whisper before each window as the CLI's `--prompt`; empty: none.
    #[wasm_bindgen(js_name = setSpeechPrompt)]
    pub fn set_speech_prompt(&mut self, prompt: &str) {
        self.engine.asr.prompt = Some(prompt.trim().to_string()).filter(|p| !p.is_empty());
    }

    #[wasm_bindgen(js_name = speechPrompt)]
    pub fn speech_prompt(&self) -> String {
        self.engine.asr.prompt.clone().unwrap_or_default()
    }

    /// Hypotheses of the beam search in use (1: greedy).
    #[wasm_bindgen(js_name = beamSize)]
    pub fn beam_size(&self) -> usize {
        self.engine.asr.decoding.beam_size
    }

    /// Whisper's encoder alone on the first window of `samples` (16 kHz
    /// mono), timed by part: the page's side of `creative-filter bench
    /// encoder` (bench/web.mjs).
    #[wasm_bindgen(js_name = benchEncoder)]
    pub fn bench_encoder(&self, samples: Vec<f32>, runs: usize) -> Result<JsValue, JsValue> {
        to_js(&self.engine.transcriber.bench_encoder(&samples, runs).map_err(error)?)
    }

    /// Whisper's decoder alone on the first window of `samples`, with the
    /// decoding in use, timed by part: the page's side of `creative-filter
    /// bench decoder` (bench/web.mjs).
    #[wasm_bindgen(js_name = benchDecoder)]
    pub fn bench_decoder(&self, samples: Vec<f32>, runs: usize) -> Result<JsValue, JsValue> {
        to_js(&self.engine.transcriber.bench_decoder(&samples, runs, &self.engine.asr).map_err(error)?)
    }

    /// "zero-shot" or "trained".
    #[wasm_bindgen(getter, js_name = classifierMode)]
    pub fn classifier_mode(&self) -> String {
        self.classifier.mode().to_string()
    }

    /// The segments decisions are made among: `[{id, name, description}]`.
    pub fn segments(&self) -> Result<JsValue, JsValue> {
        to_js(self.classifier.segments().segments())
    }

    fn rebuild(&mut self) -> Result<(), JsValue> {
        self.classifier = self.engine.classifier(self.dictionary.as_ref(), self.head.clone()).map_err(error)?;
        if let Some(branch) = self.vision.take() {
            self.vision = Some(self.vision_branch(branch.model)?);
        }
        Ok(())
    }

    /// The vision branch over the speech classifier's segments, with the
    /// head's trained vision part when it has one for this model.
    fn vision_branch(&mut self, model: VisionModel) -> Result<VisionBranch, JsValue> {
        let (branch, warning) = VisionBranch::new(model, self.classifier.segments(), self.head.as_ref()).map_err(error)?;
        self.vision_warning = warning;
        Ok(branch)
    }

    /// Turns the vision branch on with an X-CLIP model's runtime files
    /// (from the site's models or the user's import); `id` names it in
    /// cache keys. Returns [`Session::vision`].
    #[wasm_bindgen(js_name = setVisionModel)]
    pub fn set_vision_model(&mut self, gguf: &[u8], tokenizer_json: &[u8], id: &str) -> Result<JsValue, JsValue> {
        // The vision tower goes onto the GPU Whisper's encoder uses, if any.
        let gpu = self.gpu.as_ref().map(|g| g.gpu().clone());
        let model = VisionModel::from_bytes_on(gguf, tokenizer_json, id, gpu).map_err(|e| match e {
            Error::Inference(e) => error(Error::ModelCorrupt { name: "X-CLIP".into(), reason: e.to_string() }),
            e => error(e),
        })?;
        self.vision = Some(self.vision_branch(model)?);
        self.vision()
    }

    /// Turns the vision branch off.
    #[wasm_bindgen(js_name = clearVisionModel)]
    pub fn clear_vision_model(&mut self) {
        self.vision = None;
        self.vision_warning = None;
    }

    /// `{id, frames, image_size, mode, warning}` of the vision branch, or
    /// null when it is off.
    pub fn vision(&self) -> Result<JsValue, JsValue> {
        #[derive(Serialize)]
        struct Info<'a> {
            id: &'a str,
            frames: usize,
            image_size: usize,
            mode: &'a str,
            warning: Option<&'a Message>,
            /// Whether the vision tower runs on the GPU (and has not failed there).
            gpu: bool,
        }
        match &self.vision {
            None => Ok(JsValue::NULL),
            Some(b) => to_js(&Info {
                id: b.model.id(),
                frames: b.model.frames(),
                image_size: b.model.image_size(),
                mode: b.classifier.mode(),
                warning: self.vision_warning.as_ref(),
                gpu: b.model.model().on_gpu(),
            }),
        }
    }

    /// An empty set for the frames the page decodes for one creative.
    #[wasm_bindgen(js_name = frameSet)]
    pub fn frame_set(&self) -> FrameSet {
        FrameSet::new(self.vision.as_ref().map_or(0, |b| b.model.image_size()))
    }

    /// The vision branch's answer for a creative, from the frames the page
    /// decoded (see [`FrameSet`]); its video embedding is kept for training.
    async fn seen(&mut self, content_hash: &str, bytes: &[u8], frames: &FrameSet) -> VisionOutcome {
        let Some(branch) = self.vision.as_ref() else {
            return Err(Message::new("vision-off-in-page", vision::VISION_OFF_IN_PAGE));
        };
        let count = branch.model.frames();
        let read = || frames.frames(bytes, count);
        let (outcome, embedding) = vision_outcome_async(Some(branch), self.classifier.segments(), &self.engine.cache, content_hash, read).await;
        if let Some(e) = embedding {
            self.video_embeddings.insert(content_hash.to_string(), e);
        }
        outcome
    }

    /// The report, with the file's content hash (what training refers to it by).
    fn decide(&self, creative: &Creative, content_hash: &str, f: &Features, seen: VisionOutcome) -> Result<JsValue, JsValue> {
        let fusion = self.vision.as_ref().map(|b| b.fusion).unwrap_or_default();
        let v = verdict_with_vision(&self.classifier, creative, f, seen, &fusion).map_err(error)?;
        let report = Report { content_hash: Some(content_hash.to_string()), ..v.report(self.classifier.mode()) };
        to_js(&report)
    }

    /// Decides a creative, unless its speech leaves its picture to be read
    /// and no reading is cached: then it is held, and the answer is
    /// `{screen_wanted: true}`; the page reads the picture and calls
    /// `finishScreen` (or `finishScreenFailed`).
    async fn conclude(&mut self, creative: Creative, content_hash: &str, mut f: Features, seen: VisionOutcome) -> Result<JsValue, JsValue> {
        if self.engine.wants_screen(&f) {
            match &self.screen_reader {
                None => f.screen_note = Some(notes::screen_off()),
                Some(reader) => match self.engine.recall_screen(content_hash, reader) {
                    Some(text) => self.engine.add_screen(&mut f, Ok(text)).await.map_err(error)?,
                    None => {
                        let content_hash = content_hash.to_string();
                        self.pending_screen = Some(screen::PendingScreen { creative, content_hash, features: f, seen });
                        #[derive(Serialize)]
                        struct Wanted {
                            screen_wanted: bool,
                        }
                        return to_js(&Wanted { screen_wanted: true });
                    }
                },
            }
        }
        self.decide(&creative, content_hash, &f, seen)
    }

    /// Decides the held creative with the text the page read from its
    /// frames: `readings` are the TSV of each reading of the frames read,
    /// in the order `frames.chosen()` gave them; `cut_short` says a time
    /// limit stopped the reading; `frames_ms` and `ocr_ms` are the time
    /// decoding and reading.
    #[wasm_bindgen(js_name = finishScreen)]
    pub async fn finish_screen(&mut self, frames: &ScreenFrames, readings: Vec<String>, cut_short: bool, frames_ms: f64, ocr_ms: f64) -> Result<JsValue, JsValue> {
        let mut text = ScreenText::from_readings(&frames.chosen(), &readings, frames.sampled(), cut_short);
        (text.frames_ms, text.ocr_ms) = (frames_ms, ocr_ms);
        let pending = self.take_pending_screen()?;
        if let Some(reader) = &self.screen_reader {
            self.engine.remember_screen(&pending.content_hash, reader, &text).map_err(error)?;
        }
        self.finish_pending(pending, Ok(text)).await
    }

    /// Decides the held creative without its picture: `failure` is the
    /// `{code, message}` reading it failed with ("no-video": the file has
    /// no picture); the report says why.
    #[wasm_bindgen(js_name = finishScreenFailed)]
    pub async fn finish_screen_failed(&mut self, failure: JsValue) -> Result<JsValue, JsValue> {
        let field = |name: &str| js_sys::Reflect::get(&failure, &name.into()).ok().and_then(|v| v.as_string());
        let message = field("message").or_else(|| failure.as_string()).unwrap_or_else(|| "unknown error".into());
        let e = match field("code").as_deref() {
            Some("no-video") => Error::NoVideoTrack,
            Some("ocr") => Error::Ocr(message),
            _ => Error::VideoDecode(message),
        };
        let pending = self.take_pending_screen()?;
        self.finish_pending(pending, Err(e)).await
    }

    fn take_pending_screen(&mut self) -> Result<screen::PendingScreen, JsValue> {
        self.pending_screen.take().ok_or_else(|| error(Error::Invalid("no creative is waiting for its on-screen text".into())))
    }

    async fn finish_pending(&mut self, pending: screen::PendingScreen, read: crate::Result<ScreenText>) -> Result<JsValue, JsValue> {
        let screen::PendingScreen { creative, content_hash, mut features, seen } = pending;
        self.engine.add_screen(&mut features, read).await.map_err(error)?;
        self.decide(&creative, &content_hash, &features, seen)
    }

    /// Uses the user's `segment_dict.xlsx`/`.csv` instead of the built-in segments.
    #[wasm_bindgen(js_name = setDictionary)]
    pub fn set_dictionary(&mut self, file_name: &str, bytes: &[u8]) -> Result<JsValue, JsValue> {
        self.dictionary = Some(SegmentDictionary::from_file_bytes(file_name, bytes).map_err(error)?);
        self.rebuild()?;
        self.segments()
    }

    #[wasm_bindgen(js_name = resetDictionary)]
    pub fn reset_dictionary(&mut self) -> Result<(), JsValue> {
        self.dictionary = None;
        self.rebuild()
    }

    /// Uses a saved head file (from this page or `creative-filter train`).
    #[wasm_bindgen(js_name = loadHead)]
    pub fn load_head(&mut self, bytes: &[u8]) -> Result<(), JsValue> {
        self.head = Some(Head::from_json(bytes, &self.engine.encoder.embedding_id()).map_err(error)?);
        self.rebuild()
    }

    /// The head in use as a file, if one is.
    #[wasm_bindgen(js_name = headFile)]
    pub fn head_file(&self) -> Result<Option<Vec<u8>>, JsValue> {
        self.head.as_ref().map(|h| h.to_json().map_err(error)).transpose()
    }

    #[wasm_bindgen(js_name = clearHead)]
    pub fn clear_head(&mut self) -> Result<(), JsValue> {
        self.head = None;
        self.rebuild()
    }

    /// Decodes (in Rust, as natively), transcribes and classifies one file;
    /// `frames` are its video frames the page decoded (vision branch on).
    /// Fails with code "unsupported-codec" or "not-media" when the browser's
    /// own decoders should be tried instead.
    #[wasm_bindgen(js_name = classifyFile)]
    pub async fn classify_file(&mut self, file_name: &str, bytes: Vec<u8>, frames: &FrameSet) -> Result<JsValue, JsValue> {
        let creative = Creative::from_file_name(file_name);
        let hash = sha256_hex(&bytes);
        // A still image is read from the file's own bytes.
        let still = (self.vision.is_some() && frames.is_empty()).then(|| bytes.clone());
        // Audio errors go back first: the browser's decoders may do better
        // (then `classifyWithoutSound` if none can).
        let f = self.engine.features_hashed_on(&creative, &hash, bytes, self.gpu.as_ref()).await.map_err(error)?;
        let seen = self.seen(&hash, still.as_deref().unwrap_or_default(), frames).await;
        self.conclude(creative, &hash, f, seen).await
    }

    /// `classifyFile` for a creative whose audio the reader worker already
    /// decoded ([`read_audio`]'s fields): the same steps from there on.
    #[wasm_bindgen(js_name = classifyRead)]
    #[allow(clippy::too_many_arguments)]
    pub async fn classify_read(
        &mut self,
        file_name: &str,
        content_hash: &str,
        samples: Vec<f32>,
        sample_rate: u32,
        codec: String,
        truncated: bool,
        incomplete: bool,
        decode_ms: f64,
        bytes: &[u8],
        frames: &FrameSet,
    ) -> Result<JsValue, JsValue> {
        let creative = Creative::from_file_name(file_name);
        let decoded = DecodedAudio { audio: Audio { samples, sample_rate }, codec, truncated, incomplete, skipped_packets: 0 };
        let f = self.engine.features_of_decoded_on(content_hash, decoded, decode_ms, self.gpu.as_ref()).await.map_err(error)?;
        let still = if self.vision.is_some() && frames.is_empty() { bytes } else { &[] };
        let seen = self.seen(content_hash, still, frames).await;
        self.conclude(creative, content_hash, f, seen).await
    }

    /// A creative no decoder found sound in (`audio_error`, the `{code,
    /// message}` the decoding failed with): "no speech" when it has no audio
    /// track or the vision branch read its frames, so the video can decide;
    /// otherwise that failure stands.
    #[wasm_bindgen(js_name = classifyWithoutSound)]
    pub async fn classify_without_sound(&mut self, file_name: &str, bytes: &[u8], frames: &FrameSet, audio_error: JsValue) -> Result<JsValue, JsValue> {
        let creative = Creative::from_file_name(file_name);
        let hash = sha256_hex(bytes);
        let seen = self.seen(&hash, bytes, frames).await;
        let no_track = js_sys::Reflect::get(&audio_error, &"code".into()).ok().and_then(|c| c.as_string()).as_deref() == Some("no-audio");
        if !no_track && seen.is_err() {
            return Err(audio_error);
        }
        self.conclude(creative, &hash, Features::soundless(), seen).await
    }

    /// Transcribes and classifies audio the browser decoded: interleaved
    /// frames of `channels` at `sample_rate`; `content_hash` is
    /// [`content_hash`] of the file's bytes; `incomplete` is [`demux`]'s
    /// (false where the browser demuxed).
    #[wasm_bindgen(js_name = classifyDecoded)]
    #[allow(clippy::too_many_arguments)]
    pub async fn classify_decoded(
        &mut self,
        file_name: &str,
        content_hash: &str,
        interleaved: &[f32],
        channels: usize,
        sample_rate: u32,
        codec: &str,
        incomplete: bool,
        decode_ms: f64,
        bytes: &[u8],
        frames: &FrameSet,
    ) -> Result<JsValue, JsValue> {
        let creative = Creative::from_file_name(file_name);
        let seen = self.seen(content_hash, bytes, frames).await;
        let t = Instant::now();
        let mut decoded = DecodedAudio::from_interleaved(interleaved, channels, sample_rate, codec, self.engine.max_seconds)
            .map_err(error)?;
        decoded.incomplete = incomplete;
        let decode_ms = decode_ms + t.elapsed().as_secs_f64() * 1e3;
        let f = self.engine.features_of_decoded_on(content_hash, decoded, decode_ms, self.gpu.as_ref()).await.map_err(error)?;
        self.conclude(creative, content_hash, f, seen).await
    }

    /// Trains a head on a file of labelled texts (.csv/.xlsx/.jsonl with
    /// `text` and `label` columns), uses it, and returns the
    /// [`TrainingReport`].
    #[wasm_bindgen(js_name = trainTextsFile)]
    pub async fn train_texts_file(&mut self, file_name: &str, bytes: &[u8], folds: usize, progress: &js_sys::Function) -> Result<JsValue, JsValue> {
        let table = Table::from_bytes(file_name, bytes).map_err(error)?;
        let rows = read_labelled_texts(file_name, &table).map_err(error)?;
        let segments = segments_for_texts(&rows, None, self.dictionary.clone()).map_err(error)?;
        self.train(segments, &rows, vec![], None, None, folds, progress).await
    }

    /// Trains on labelled creatives the page has read, in label order:
    /// `[{row, id, segment, text, speech, no_speech_prob, hash, screen}]`
    /// (row: the labels table's, from [`Session::plan_training`]; hash:
    /// [`content_hash`] of the file; screen: the text read from its picture,
    /// when it was read), or `{row, id, segment, error}` for one that could not be
    /// read (`error`: a message, `{code, text, …}`). `set_aside`: the plan's
    /// problems. The same rules as the CLI's `train`
    /// ([`training::creative_examples`]).
    #[wasm_bindgen(js_name = trainCreatives)]
    pub async fn train_creatives(&mut self, creatives: JsValue, set_aside: JsValue, folds: usize, progress: &js_sys::Function) -> Result<JsValue, JsValue> {
        #[derive(serde::Deserialize)]
        struct ReadCreative {
            row: usize,
            id: String,
            segment: u32,
            #[serde(default)]
            text: String,
            #[serde(default)]
            speech: bool,
            #[serde(default)]
            no_speech_prob: f32,
            #[serde(default)]
            hash: String,
            #[serde(default)]
            screen: Option<String>,
            error: Option<Message>,
        }
        let invalid = |e: serde_wasm_bindgen::Error| error(Error::Invalid(e.to_string()));
        let read: Vec<ReadCreative> = serde_wasm_bindgen::from_value(creatives).map_err(invalid)?;
        let set_aside: Vec<RowProblem> = serde_wasm_bindgen::from_value(set_aside).map_err(invalid)?;
        let creatives: Vec<LabelledCreative> = read
            .into_iter()
            .map(|c| LabelledCreative {
                video: self.vision.as_ref().map(|_| match &c.error {
                    None => self.video_embeddings.get(&c.hash).cloned().ok_or_else(|| Message::new("frames-unread", "its frames could not be read")),
                    Some(_) => Err(Message::new("file-unread", "the file could not be read")),
                }),
                heard: match c.error {
                    Some(e) => Err(e),
                    None => Ok(HeardExample { transcript: c.text, no_speech_prob: c.no_speech_prob, speech: c.speech }),
                },
                label: Label { row: c.row, id: c.id, segment: c.segment },
                screen: c.screen,
            })
            .collect();
        let sorted = training::creative_examples(&creatives, set_aside);
        let vision = Some(&sorted.vision[..]).filter(|_| self.vision.is_some());
        self.train(self.training_segments(), &sorted.texts, sorted.problems.clone(), vision, Some(sorted.screen()), folds, progress).await
    }

    /// The segments labelled creatives are trained on: the user's dictionary
    /// or the default one (as the CLI's `train`).
    fn training_segments(&self) -> SegmentDictionary {
        self.dictionary.clone().unwrap_or_else(SegmentDictionary::default_ru)
    }

    /// Embeds, cross-validates, trains, switches to the new head and
    /// returns the [`TrainingReport`].
    #[allow(clippy::too_many_arguments)]
    async fn train(
        &mut self,
        segments: SegmentDictionary,
        rows: &LabelledTexts,
        problems: Vec<RowProblem>,
        vision_rows: Option<&[VisionExample]>,
        screen: Option<ScreenExamples<'_>>,
        folds: usize,
        progress: &js_sys::Function,
    ) -> Result<JsValue, JsValue> {
        let (encoder, cache) = (&self.engine.encoder, &self.engine.cache);
        let ex = training::embed_examples(encoder, cache, segments, rows, problems, |done, total| {
            let _ = progress.call2(&JsValue::NULL, &(done as f64).into(), &(total as f64).into());
        })
        .await
        .map_err(error)?;
        let options = TrainingOptions { folds, ..Default::default() };
        let vision = self.vision.as_ref().zip(vision_rows).map(|(branch, rows)| (&branch.model, rows));
        let trained = training::train(encoder, cache, &ex, vision, screen, &options).map_err(error)?;
        let report = to_js(&trained.report)?;
        self.head = Some(trained.head);
        self.rebuild()?;
        Ok(report)
    }

    /// Which dropped file each labelled row of `train_segments.csv` names:
    /// `{rows: [{row, id, segment, media}], problems: [..]}`; labels must be
    /// segments the training will use.
    #[wasm_bindgen(js_name = planTraining)]
    pub fn plan_training(&self, file_name: &str, bytes: &[u8], media_names: Vec<String>) -> Result<JsValue, JsValue> {
        tables::plan_training(file_name, bytes, media_names, &self.training_segments().ids())
    }

    /// Forgets the transcripts and embeddings seen so far (the page keeps
    /// them across visits so that re-classifying or training reuses them).
    #[wasm_bindgen(js_name = clearCache)]
    pub fn clear_cache(&mut self) {
        (self.engine.cache, self.journal) = journaled_cache();
        self.video_embeddings.clear();
    }

    /// A cache entry the browser kept from an earlier visit (see
    /// [`Session::take_new_cache_entries`]).
    #[wasm_bindgen(js_name = restoreCacheEntry)]
    pub fn restore_cache_entry(&self, key: &str, value: &[u8]) {
        self.journal.restore(key, value);
    }

    /// The cache entries added since the last call, `[[key, bytes], …]`, for
    /// the page to keep in the browser's storage.
    #[wasm_bindgen(js_name = takeNewCacheEntries)]
    pub fn take_new_cache_entries(&self) -> js_sys::Array {
        self.journal
            .take_new()
            .into_iter()
            .map(|(key, value)| js_sys::Array::of2(&JsValue::from(key), &js_sys::Uint8Array::from(value.as_slice())))
            .collect()
    }

}
