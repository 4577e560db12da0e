//! The whole chain for one creative, as the CLI and the browser run it:
//! bytes → audio → transcript → embedding → segment, with the slow stages
//! cached by content hash. [`training`] is the same for labelled creatives
//! and texts: examples in, a trained head and its report out.

mod export;
mod report;
pub mod training;

pub use export::{answer_table, results_table, table_files, Export, RowAnswer, SEGMENT_NUM_COLUMN};
pub use report::{EncoderPartsMs, Report, StageMs};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::asr::whisper_gpu::GpuWithFallback;
use crate::asr::{TranscribeOptions, Transcriber};
use crate::cache::FeatureCache;
use crate::classify::fusion::{self, Basis, FusionParams, SpeechAmount};
use crate::classify::{Classifier, Decision, Evidence, Head, SegmentDictionary};
use crate::screen::{ScreenMode, ScreenReader, ScreenText, SCREEN_POLICY};
use crate::creative::{hear, hear_on, listen_on, Creative, Heard, MediaIndex, StageTimings};
use crate::media::{DecodedAudio, MediaBytes};
use crate::asr::Transcript;
use crate::error::{Error, Result};
use crate::table::{is_blank, Table};
use crate::text::TextEncoder;
use crate::message::Message;
use crate::vision::VisionBranch;

/// Bumped whenever a change to decoding or hallucination filtering changes
/// transcripts, so cached ones from older builds are not reused.
pub const TRANSCRIPT_POLICY: u32 = 4;

/// Which signal a decision rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Modality {
    /// The transcript of the creative's speech.
    Speech,
    /// Nothing was said (music, silence); there is no text to classify.
    NoSpeech,
    /// The video alone (no speech, or the speech branch had no answer).
    Vision,
    /// The text on screen (no speech), read from the picture.
    Screen,
    /// Speech and video together, weighted by how much was said.
    Fused,
}

impl Modality {
    /// As the report writes it.
    pub fn name(self) -> &'static str {
        match self {
            Modality::Speech => "speech",
            Modality::NoSpeech => "no-speech",
            Modality::Vision => "vision",
            Modality::Screen => "screen",
            Modality::Fused => "fused",
        }
    }
}

impl From<Basis> for Modality {
    fn from(b: Basis) -> Self {
        match b {
            Basis::Speech => Modality::Speech,
            Basis::Vision => Modality::Vision,
            Basis::Fused => Modality::Fused,
        }
    }
}

/// One branch's own top segment, reported beside the decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BranchTop {
    pub segment_id: u32,
    pub segment_name: String,
    pub confidence: f32,
}

impl From<(u32, String, f32)> for BranchTop {
    fn from((segment_id, segment_name, confidence): (u32, String, f32)) -> Self {
        BranchTop { segment_id, segment_name, confidence }
    }
}

/// What the vision branch said of one creative: its probabilities in the
/// speech classifier's dictionary order, or why it said nothing (branch
/// off, frames unreadable, …).
pub type VisionOutcome = std::result::Result<Vec<f32>, Message>;

/// The text read from a creative's picture, and its embedding when it had
/// enough words to classify.
#[derive(Debug, Clone)]
pub struct ScreenFeatures {
    pub text: ScreenText,
    pub embedding: Option<Vec<f32>>,
}

/// What the slow stages produced for one creative.
#[derive(Debug, Clone)]
pub struct Features {
    pub heard: Heard,
    /// The transcript's embedding, when there was speech.
    pub embedding: Option<Vec<f32>>,
    /// True when the transcript came from the cache.
    pub cached: bool,
    pub embed_ms: f64,
    /// The on-screen text, when the picture was read ([`Engine::read_screen`]).
    pub screen: Option<ScreenFeatures>,
    /// Why the picture was not read or could not be (None when it was, or
    /// when nothing asked for it).
    pub screen_note: Option<Message>,
}

impl Features {
    /// A creative with no sound track at all (a silent video, a still
    /// image): nothing was heard, so the vision branch alone can decide.
    pub fn soundless() -> Features {
        let transcript = Transcript {
            text: String::new(),
            speech: false,
            no_speech_prob: 1.0,
            language: String::new(),
            spans: vec![],
            rejected: vec![],
            windows: 0,
            timings: Default::default(),
        };
        let heard = Heard { duration_s: 0.0, codec: "none".into(), truncated: false, incomplete: false, transcript, timings: Default::default() };
        Features { heard, embedding: None, cached: false, embed_ms: 0.0, screen: None, screen_note: None }
    }

    /// The speech features of a creative, or [`Features::soundless`] when
    /// it has no sound track, or is not audio at all (a still image) but the
    /// vision branch read its frames; any other failure stands.
    pub fn or_soundless(result: Result<Features>, seen: &VisionOutcome) -> Result<Features> {
        match result {
            Err(Error::NoAudioTrack) => Ok(Features::soundless()),
            Err(Error::NotMedia(_)) if seen.is_ok() => Ok(Features::soundless()),
            other => other,
        }
    }

    pub fn modality(&self) -> Modality {
        if self.embedding.is_some() {
            Modality::Speech
        } else {
            Modality::NoSpeech
        }
    }
}

/// The answer for one creative, as reported to users.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub id: String,
    pub file: String,
    pub modality: Modality,
    /// The transcript was speech (it was embedded and classified).
    pub speech: bool,
    /// The words that weighed most for the decision (trained heads), from
    /// the transcript and the screen text where each took part.
    pub evidence: Vec<Evidence>,
    /// None when there was nothing to decide from (no speech).
    pub decision: Option<Decision>,
    pub transcript: String,
    pub no_speech_prob: f32,
    pub duration_s: f64,
    /// The file was cut short; its beginning was heard.
    pub incomplete: bool,
    pub cached: bool,
    /// Milliseconds per stage (of the run that made the transcript, when cached).
    pub timings: StageTimings,
    pub embed_ms: f64,
    /// Why no decision was made: the first message, then its reasons
    /// (empty when decided).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub note: Vec<Message>,
    /// The speech branch's own top segment, when it answered.
    pub speech_top: Option<BranchTop>,
    /// The vision branch's own top segment, when it answered.
    pub vision_top: Option<BranchTop>,
    /// The on-screen text, when the picture was read.
    pub screen: Option<ScreenText>,
    /// Its own top segment, when it had words to classify.
    pub screen_top: Option<BranchTop>,
    /// Why the picture was not read, when it was asked for.
    pub screen_note: Option<Message>,
    /// Why the vision branch did not answer (off, no frames, …).
    pub vision_note: Option<Message>,
    /// The speech branch's weight in a fused decision.
    pub text_weight: Option<f32>,
}

/// Said of creatives with no speech that the vision branch did not decide.
pub const NO_SPEECH_NOTE: &str = "no speech in the creative; it cannot be classified from its sound";

/// Said when the picture should have been read but no OCR engine is here.
pub const SCREEN_OFF_NOTE: &str = "on-screen text is not read: this build has no OCR engine";

/// What is said of a creative's branches, as [`Message`]s.
pub mod notes {
    use super::{NO_SPEECH_NOTE, SCREEN_OFF_NOTE};
    use crate::message::Message;

    pub fn no_speech() -> Message {
        Message::new("no-speech", NO_SPEECH_NOTE)
    }
    pub fn screen_off() -> Message {
        Message::new("screen-off", SCREEN_OFF_NOTE)
    }
    pub fn vision_off() -> Message {
        Message::new("vision-off", crate::vision::VISION_OFF_NOTE)
    }
    pub fn no_screen_text() -> Message {
        Message::new("no-screen-text", "no text on screen")
    }
    pub fn little_screen_text() -> Message {
        Message::new("little-screen-text", "too little text on screen to classify")
    }
    pub fn audio_only() -> Message {
        Message::new("audio-only", "no picture: the file is audio only")
    }
    pub fn picture_unreadable(cause: Message) -> Message {
        Message::because("picture-unreadable", "the picture could not be read", cause)
    }
    pub fn no_video_frames(cause: Message) -> Message {
        Message::because("no-video-frames", "no video frames", cause)
    }
    pub fn video_unclassified(cause: Message) -> Message {
        Message::because("video-unclassified", "the video could not be classified", cause)
    }
    pub fn vision_other_segments() -> Message {
        Message::new("vision-other-segments", "the vision branch decides among other segments than the speech branch; give both the same dictionary")
    }
}

/// Screen text with fewer words than this is kept and shown, not classified:
/// a lone word (a logo, a price) says too little about a segment.
pub const MIN_SCREEN_WORDS: usize = 2;

/// Everything that shapes a reading of the picture, as a cache key part.
fn screen_settings(reader_id: &str) -> String {
    format!("{reader_id}|policy {SCREEN_POLICY}")
}

/// The loaded models, settings and cache.
pub struct Engine {
    pub transcriber: Transcriber,
    /// Shared, so a command that also embeds texts on its own loads it once.
    pub encoder: std::sync::Arc<TextEncoder>,
    pub cache: FeatureCache,
    pub asr: TranscribeOptions,
    pub max_seconds: f64,
    /// Identifies the ASR model (e.g. its file hash) in cache keys.
    pub asr_model_id: String,
    /// Reads on-screen text (None: no OCR engine here).
    pub screen: Option<Box<dyn ScreenReader>>,
    /// When to read it.
    pub screen_mode: ScreenMode,
}

impl Engine {
    /// Everything that shapes a transcript, as a cache key part.
    fn transcript_settings(&self) -> String {
        let mut settings = format!(
            "{}|policy {TRANSCRIPT_POLICY}|language {:?}|max {}s|{}",
            self.asr_model_id,
            self.asr.language,
            self.max_seconds,
            self.asr.decoding.id()
        );
        // Only with a prompt, so that transcripts made without one stay found.
        if let Some(prompt) = &self.asr.prompt {
            settings.push_str(&format!("|prompt {prompt:?}"));
        }
        settings
    }

    /// Transcript (cached by content hash) and embedding (cached by text).
    pub fn features(&self, creative: &Creative, media: impl Into<MediaBytes>) -> Result<Features> {
        let MediaBytes { bytes, sha256 } = media.into();
        self.features_hashed(creative, &sha256, bytes)
    }

    /// [`Engine::features`] when the caller already has the content hash.
    pub fn features_hashed(&self, creative: &Creative, content_hash: &str, bytes: impl Into<Bytes>) -> Result<Features> {
        crate::task::now(self.features_hashed_on(creative, content_hash, bytes, None))
    }

    /// [`Engine::features_hashed`] with Whisper's encoder on `gpu` (the page's WebGPU).
    pub async fn features_hashed_on(
        &self,
        creative: &Creative,
        content_hash: &str,
        bytes: impl Into<Bytes>,
        gpu: Option<&GpuWithFallback>,
    ) -> Result<Features> {
        self.features_with(content_hash, listen_on(bytes, creative, &self.transcriber, &self.asr, self.max_seconds, gpu)).await
    }

    /// [`Engine::features`] for audio the browser decoded; `content_hash`
    /// is the SHA-256 of the file's bytes, so both paths share cache entries.
    pub fn features_of_decoded(&self, content_hash: &str, decoded: DecodedAudio, decode_ms: f64) -> Result<Features> {
        crate::task::now(self.features_of_decoded_on(content_hash, decoded, decode_ms, None))
    }

    /// [`Engine::features_of_decoded`] with Whisper's encoder on `gpu`.
    pub async fn features_of_decoded_on(
        &self,
        content_hash: &str,
        decoded: DecodedAudio,
        decode_ms: f64,
        gpu: Option<&GpuWithFallback>,
    ) -> Result<Features> {
        self.features_with(content_hash, hear_on(decoded, decode_ms, &self.transcriber, &self.asr, gpu)).await
    }

    /// `listen` runs only when the transcript is not in the cache.
    async fn features_with(&self, content_hash: &str, listen: impl std::future::Future<Output = Result<Heard>>) -> Result<Features> {
        let settings = self.transcript_settings();
        let (heard, cached) = match self.cache.heard(content_hash, &settings) {
            Some(h) => (h, true),
            None => {
                let h = listen.await?;
                self.cache.put_heard(content_hash, &settings, &h)?;
                (h, false)
            }
        };
        let t = Instant::now();
        let embedding = if heard.transcript.speech {
            Some(self.embed_async(&[heard.transcript.text.as_str()]).await?.remove(0))
        } else {
            None
        };
        Ok(Features { heard, embedding, cached, embed_ms: t.elapsed().as_secs_f64() * 1e3, screen: None, screen_note: None })
    }

    /// Adds the creative's on-screen text to `f` when the engine's mode asks
    /// for it given the speech heard: read (or recalled by content hash),
    /// cleaned and embedded. A picture that cannot be read is noted in
    /// `f.screen_note`, never fatal: the speech still decides.
    pub fn read_screen(&self, content_hash: &str, bytes: &[u8], f: &mut Features) -> Result<()> {
        if !self.wants_screen(f) {
            return Ok(());
        }
        let Some(reader) = &self.screen else {
            f.screen_note = Some(notes::screen_off());
            return Ok(());
        };
        let read = match self.recall_screen(content_hash, reader.id()) {
            Some(t) => Ok(t),
            None => {
                let read = reader.read(bytes);
                if let Ok(t) = &read {
                    self.remember_screen(content_hash, reader.id(), t)?;
                }
                read
            }
        };
        // Natively only: the page has no reader here (it reads the picture
        // itself and awaits `add_screen`).
        crate::task::now(self.add_screen(f, read))
    }

    /// Whether the mode asks for the picture's text given the speech in `f`.
    pub fn wants_screen(&self, f: &Features) -> bool {
        let words = if f.heard.transcript.speech { f.heard.transcript.text.split_whitespace().count() } else { 0 };
        self.screen_mode.wants(words)
    }

    /// The on-screen text read earlier from the file with this content hash
    /// by the engine `reader_id` names (the page's and the CLI's differ).
    pub fn recall_screen(&self, content_hash: &str, reader_id: &str) -> Option<ScreenText> {
        self.cache.screen(content_hash, &screen_settings(reader_id))
    }

    /// Keeps a reading for the next time the file is seen, unless it was
    /// cut short by a time limit: a quieter moment may read more.
    pub fn remember_screen(&self, content_hash: &str, reader_id: &str, text: &ScreenText) -> Result<()> {
        if text.cut_short {
            return Ok(());
        }
        self.cache.put_screen(content_hash, &screen_settings(reader_id), text)
    }

    /// Adds what reading the picture gave to `f`: the text, embedded when it
    /// has words enough to classify, or why there is none.
    pub async fn add_screen(&self, f: &mut Features, read: Result<ScreenText>) -> Result<()> {
        let text = match read {
            Ok(t) => t,
            Err(e) => {
                f.screen_note = Some(match e {
                    Error::NoVideoTrack => notes::audio_only(),
                    e @ Error::Ocr(_) => e.message(),
                    e => notes::picture_unreadable(e.message()),
                });
                return Ok(());
            }
        };
        let embedding = match text.words() >= MIN_SCREEN_WORDS {
            true => Some(self.embed_async(&[text.text().as_str()]).await?.remove(0)),
            false => None,
        };
        f.screen = Some(ScreenFeatures { text, embedding });
        Ok(())
    }

    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        embed_cached(&self.encoder, &self.cache, texts)
    }

    /// [`Engine::embed`] on the GPU wherever one is in use.
    pub async fn embed_async(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        embed_cached_async(&self.encoder, &self.cache, texts, |_, _| {}).await
    }

    pub fn classifier(&self, dictionary: Option<&SegmentDictionary>, head: Option<Head>) -> Result<Classifier> {
        classifier_for(&self.encoder, &self.cache, dictionary, head)
    }

    /// Transcribes (or recalls) and decides one creative.
    pub fn classify(&self, classifier: &Classifier, creative: &Creative, media: impl Into<MediaBytes>) -> Result<Verdict> {
        let media: MediaBytes = media.into();
        let mut f = self.features(creative, media.clone())?;
        self.read_screen(&media.sha256, &media.bytes, &mut f)?;
        verdict(classifier, creative, &f)
    }

    /// [`Engine::classify`] with the vision branch (None: off). `frames`
    /// reads the creative's frames from its bytes (n frames of size×size
    /// RGB → frames, size); its failure is reported, never fatal.
    pub fn classify_with_vision(
        &self,
        classifier: &Classifier,
        vision: Option<&VisionBranch>,
        creative: &Creative,
        media: impl Into<MediaBytes>,
        frames: impl FnOnce(&[u8], usize, usize) -> Result<(Vec<Vec<u8>>, usize)>,
    ) -> Result<Verdict> {
        let media: MediaBytes = media.into();
        let (seen, _) = vision_outcome(vision, classifier.segments(), &self.cache, &media.sha256, || {
            let b = vision.expect("only called with a branch");
            frames(&media.bytes, b.model.frames(), b.model.image_size())
        });
        let mut f = Features::or_soundless(self.features(creative, media.clone()), &seen)?;
        self.read_screen(&media.sha256, &media.bytes, &mut f)?;
        let fusion = vision.map(|b| b.fusion).unwrap_or_default();
        verdict_with_vision(classifier, creative, &f, seen, &fusion)
    }

    /// [`Engine::classify_with_vision`] for a creative already read and
    /// decoded by [`read_ahead`] (on another thread, while the models were
    /// busy with the one before): the same steps, the same verdict.
    pub fn classify_read_ahead(&self, classifier: &Classifier, vision: Option<&VisionBranch>, ahead: ReadAhead) -> Result<Verdict> {
        let ReadAhead { creative, media, audio, frames } = ahead;
        let (seen, _) = vision_outcome(vision, classifier.segments(), &self.cache, &media.sha256, || {
            frames.unwrap_or_else(|| Err(Error::Invalid("the frames were not read ahead".into())))
        });
        let listened = crate::task::now(self.features_with(&media.sha256, async {
            let (decoded, decode_ms) = audio?;
            hear(decoded, decode_ms, &self.transcriber, &self.asr)
        }));
        let mut f = Features::or_soundless(listened, &seen)?;
        self.read_screen(&media.sha256, &media.bytes, &mut f)?;
        let fusion = vision.map(|b| b.fusion).unwrap_or_default();
        verdict_with_vision(classifier, &creative, &f, seen, &fusion)
    }

    /// The unit-length video embedding of a creative's frames (what a
    /// vision head is trained on).
    pub fn vision_embedding(&self, vision: &VisionBranch, rgb_frames: &[Vec<u8>], size: usize) -> Result<Vec<f32>> {
        vision.model.embedding(&vision.model.video(rgb_frames, size)?)
    }
}

/// A creative read, its audio decoded and (for the vision branch) its frames
/// sampled, before the models see it: the part of a creative's work that a
/// batch overlaps with the previous creative's transcription.
pub struct ReadAhead {
    pub creative: Creative,
    pub media: MediaBytes,
    audio: Result<(DecodedAudio, f64)>,
    frames: Option<Result<(Vec<Vec<u8>>, usize)>>,
}

/// Decodes `media`'s audio (the first `max_seconds`) and, when `frames` is
/// given, samples its frames, needing no model: safe on a reader thread.
pub fn read_ahead(
    creative: Creative,
    media: MediaBytes,
    max_seconds: f64,
    frames: Option<impl FnOnce(&[u8]) -> Result<(Vec<Vec<u8>>, usize)>>,
) -> ReadAhead {
    let frames = frames.map(|f| f(&media.bytes));
    let t = Instant::now();
    let audio = crate::media::decode_audio(media.bytes.clone(), creative.extension.as_deref(), max_seconds)
        .map(|d| (d, t.elapsed().as_secs_f64() * 1e3));
    ReadAhead { creative, media, audio, frames }
}

/// The vision branch's answer for one creative, in `segments`' order, and
/// its video embedding when the frames were read; recalled from `cache` by
/// the file's content hash when it was seen before (the frames are then not
/// looked at), kept there otherwise. Every failure becomes the reason it has
/// no answer.
pub fn vision_outcome(
    vision: Option<&VisionBranch>,
    segments: &SegmentDictionary,
    cache: &FeatureCache,
    content_hash: &str,
    frames: impl FnOnce() -> Result<(Vec<Vec<u8>>, usize)>,
) -> (VisionOutcome, Option<Vec<f32>>) {
    // Ready at once natively; the page awaits `vision_outcome_async`.
    crate::task::now(vision_outcome_async(vision, segments, cache, content_hash, frames))
}

/// [`vision_outcome`] as the page awaits it: the vision tower's answer may
/// come from WebGPU. Natively its future is ready at once.
pub async fn vision_outcome_async(
    vision: Option<&VisionBranch>,
    segments: &SegmentDictionary,
    cache: &FeatureCache,
    content_hash: &str,
    frames: impl FnOnce() -> Result<(Vec<Vec<u8>>, usize)>,
) -> (VisionOutcome, Option<Vec<f32>>) {
    let Some(b) = vision else {
        return (Err(notes::vision_off()), None);
    };
    if b.classifier.segments().ids() != segments.ids() {
        return (Err(notes::vision_other_segments()), None);
    }
    if let Some((probs, embedding)) = b.recall(cache, content_hash) {
        return (Ok(probs), Some(embedding));
    }
    let (rgb, size) = match frames() {
        Ok(f) => f,
        Err(e) => return (Err(notes::no_video_frames(e.message())), None),
    };
    match b.look(&rgb, size).await {
        Ok((probs, embedding)) => {
            // A cache that cannot be written costs time next run, not this answer.
            let _ = b.remember(cache, content_hash, &probs, &embedding);
            (Ok(probs), Some(embedding))
        }
        Err(e) => (Err(notes::video_unclassified(e.message())), None),
    }
}

/// Embeddings of texts, through the cache.
pub fn embed_cached(encoder: &TextEncoder, cache: &FeatureCache, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
    embed_cached_with_progress(encoder, cache, texts, |_, _| {})
}

/// [`embed_cached`], calling `progress(done, to_compute)` as chunks finish.
pub fn embed_cached_with_progress(
    encoder: &TextEncoder,
    cache: &FeatureCache,
    texts: &[&str],
    progress: impl FnMut(usize, usize),
) -> Result<Vec<Vec<f32>>> {
    Ok(crate::task::now(cache.embed(&encoder.cache_id(), texts, async |t| encoder.embed(t), progress))?.0)
}

/// [`embed_cached_with_progress`] on the GPU wherever one is in use (the
/// page's WebGPU is awaited; see [`TextEncoder::embed_async`]).
pub async fn embed_cached_async(
    encoder: &TextEncoder,
    cache: &FeatureCache,
    texts: &[&str],
    progress: impl FnMut(usize, usize),
) -> Result<Vec<Vec<f32>>> {
    Ok(cache.embed(&encoder.cache_id(), texts, async |t| encoder.embed_async(t).await, progress).await?.0)
}

/// A classifier over `encoder`'s embeddings: the head (if any) plus the
/// dictionary's prototypes, embedded through the cache.
pub fn classifier_for(
    encoder: &TextEncoder,
    cache: &FeatureCache,
    dictionary: Option<&SegmentDictionary>,
    head: Option<Head>,
) -> Result<Classifier> {
    let segments = Classifier::segments_for(dictionary, head.as_ref());
    Classifier::new(dictionary, head, &prototype_embeddings(encoder, cache, &segments)?)
}

/// The sentence embeddings of the segments' names and descriptions
/// (zero-shot compares them with the leading part of a creative's vector).
pub fn prototype_embeddings(encoder: &TextEncoder, cache: &FeatureCache, segments: &SegmentDictionary) -> Result<Vec<Vec<f32>>> {
    let texts = segments.prototype_texts();
    let mut vectors = embed_cached(encoder, cache, &texts.iter().map(String::as_str).collect::<Vec<_>>())?;
    vectors.iter_mut().for_each(|v| v.truncate(encoder.sentence_dim()));
    Ok(vectors)
}

/// The verdict for features already extracted, from speech alone.
pub fn verdict(classifier: &Classifier, creative: &Creative, f: &Features) -> Result<Verdict> {
    verdict_with_vision(classifier, creative, f, Err(notes::vision_off()), &FusionParams::default())
}

/// The verdict from the speech features and the vision branch's outcome:
/// the video decides when nothing was said, the two are mixed when both
/// answered ([`fusion`]).
pub fn verdict_with_vision(
    classifier: &Classifier,
    creative: &Creative,
    f: &Features,
    vision: VisionOutcome,
    params: &FusionParams,
) -> Result<Verdict> {
    let text = &f.heard.transcript.text;
    let text_probs = f.embedding.as_deref().map(|e| classifier.probs(text, e)).transpose()?;
    let (vision_probs, vision_note) = match vision {
        Ok(p) => (Some(p), None),
        Err(why) => (None, Some(why)),
    };
    let screen_text = f.screen.as_ref().map(|s| s.text.text());
    let screen_probs = match (&f.screen, &screen_text) {
        (Some(ScreenFeatures { embedding: Some(e), .. }), Some(t)) => Some(classifier.probs(t, e)?),
        _ => None,
    };
    // What the picture says: its text and, with a video model, the video,
    // the two weighed equally; then mixed with the speech by how much was
    // said, by the weight trained for that picture (the screen's when it is
    // the text alone, the video's otherwise).
    let picture = match (&screen_probs, &vision_probs) {
        (Some(s), Some(v)) => Some(fusion::log_linear(s, v, 0.5)),
        (s, v) => s.clone().or_else(|| v.clone()),
    };
    let screen_fusion = classifier.head().and_then(|h| h.screen_fusion);
    let params = match (&screen_probs, &vision_probs, &screen_fusion) {
        (Some(_), None, Some(screen)) => screen,
        _ => params,
    };
    let speech = SpeechAmount::of(text, f.heard.transcript.no_speech_prob);
    let fused = fusion::decide(classifier.segments(), text_probs.as_deref(), picture.as_deref(), speech, params)?;
    let top = |p: &Option<Vec<f32>>| -> Result<Option<BranchTop>> {
        p.as_deref()
            .map(|p| Decision::from_probs(classifier.segments(), p).map(|d| BranchTop::from((d.segment_id, d.segment_name, d.confidence))))
            .transpose()
    };
    let (decision, modality, text_weight, speech_top) = match fused {
        Some(d) => {
            let modality = match d.basis {
                Basis::Vision if vision_probs.is_none() => Modality::Screen,
                b => b.into(),
            };
            (Some(d.decision), modality, d.text_weight, d.speech_top.map(Into::into))
        }
        None => (None, f.modality(), None, None),
    };
    // Which words weighed most, from each text that took part in the answer.
    let evidence = match &decision {
        Some(d) => {
            let spoken = matches!(modality, Modality::Speech | Modality::Fused).then_some(text.as_str());
            let shown = screen_probs.as_ref().and(screen_text.as_deref()).filter(|_| modality != Modality::Speech);
            let both: Vec<&str> = spoken.into_iter().chain(shown).collect();
            if both.is_empty() { vec![] } else { classifier.evidence(&both.join("\n"), d.segment_id) }
        }
        None => vec![],
    };
    Ok(Verdict {
        id: creative.id.clone(),
        file: creative.file.clone(),
        modality,
        speech: f.embedding.is_some(),
        evidence,
        note: if decision.is_some() {
            vec![]
        } else {
            let screen_why = match (&f.screen, &f.screen_note) {
                (Some(s), _) if s.text.lines.is_empty() => Some(notes::no_screen_text()),
                (Some(_), _) => Some(notes::little_screen_text()),
                (None, note) => note.clone(),
            };
            std::iter::once(notes::no_speech()).chain(vision_note.clone()).chain(screen_why).collect()
        },
        speech_top,
        vision_top: top(&vision_probs)?,
        screen_top: top(&screen_probs)?,
        screen: f.screen.as_ref().map(|s| s.text.clone()),
        screen_note: f.screen_note.clone(),
        vision_note,
        text_weight,
        decision,
        transcript: f.heard.transcript.text.clone(),
        no_speech_prob: f.heard.transcript.no_speech_prob,
        duration_s: f.heard.duration_s,
        incomplete: f.heard.incomplete,
        cached: f.cached,
        timings: f.heard.timings.clone(),
        embed_ms: f.embed_ms,
    })
}

/// For each row of the users' table, the creative it names or why there is
/// none. `place` names where the files were looked for.
pub fn media_for_rows<'a, T>(
    table: &Table,
    id_col: usize,
    index: &'a MediaIndex<T>,
    place: &str,
) -> Vec<std::result::Result<&'a T, Message>> {
    table
        .rows
        .iter()
        .map(|row| {
            let id = row.get(id_col).map(|s| s.trim()).unwrap_or_default();
            if is_blank(row) || id.is_empty() {
                Err(Message::new("row-without-id", "no Advertisement ID in this row"))
            } else {
                index.find(id, place)
            }
        })
        .collect()
}
