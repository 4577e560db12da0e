//! The whole chain for one creative, as the CLI and the browser run it:
//! bytes → audio → transcript → embedding → segment, with the slow stages
//! cached by content hash. [`training`] is the same for labelled creatives
//! and texts: examples in, a trained head and its report out.

mod report;
pub mod training;

pub use report::{EncoderPartsMs, Report, StageMs};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::asr::{TranscribeOptions, Transcriber};
use crate::cache::FeatureCache;
use crate::classify::fusion::{self, Basis, FusionParams, SpeechAmount};
use crate::classify::{Classifier, Decision, Head, SegmentDictionary};
use crate::creative::{hear, listen, Creative, Heard, MediaIndex, StageTimings};
use crate::media::{DecodedAudio, MediaBytes};
use crate::asr::Transcript;
use crate::error::{Error, Result};
use crate::table::{is_blank, Table};
use crate::text::TextEncoder;
use crate::vision::{VisionBranch, VISION_OFF_NOTE};

/// Bumped whenever a change to decoding or hallucination filtering changes
/// transcripts, so cached ones from older builds are not reused.
pub const TRANSCRIPT_POLICY: u32 = 3;

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
pub type VisionOutcome = std::result::Result<Vec<f32>, String>;

/// What the slow stages produced for one creative.
#[derive(Debug, Clone)]
pub struct Features {
    pub heard: Heard,
    /// The transcript's embedding, when there was speech.
    pub embedding: Option<Vec<f32>>,
    /// True when the transcript came from the cache.
    pub cached: bool,
    pub embed_ms: f64,
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
        Features { heard, embedding: None, cached: false, embed_ms: 0.0 }
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
    /// Why no decision was made, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The speech branch's own top segment, when it answered.
    pub speech_top: Option<BranchTop>,
    /// The vision branch's own top segment, when it answered.
    pub vision_top: Option<BranchTop>,
    /// Why the vision branch did not answer (off, no frames, …).
    pub vision_note: Option<String>,
    /// The speech branch's weight in a fused decision.
    pub text_weight: Option<f32>,
}

/// Said of creatives with no speech that the vision branch did not decide.
pub const NO_SPEECH_NOTE: &str = "no speech in the creative; it cannot be classified from its sound";

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
}

impl Engine {
    /// Everything that shapes a transcript, as a cache key part.
    fn transcript_settings(&self) -> String {
        format!(
            "{}|policy {TRANSCRIPT_POLICY}|language {:?}|max {}s",
            self.asr_model_id, self.asr.language, self.max_seconds
        )
    }

    /// Transcript (cached by content hash) and embedding (cached by text).
    pub fn features(&self, creative: &Creative, media: impl Into<MediaBytes>) -> Result<Features> {
        let MediaBytes { bytes, sha256 } = media.into();
        self.features_hashed(creative, &sha256, bytes)
    }

    /// [`Engine::features`] when the caller already has the content hash.
    pub fn features_hashed(&self, creative: &Creative, content_hash: &str, bytes: impl Into<Bytes>) -> Result<Features> {
        self.features_with(content_hash, || listen(bytes, creative, &self.transcriber, &self.asr, self.max_seconds))
    }

    /// [`Engine::features`] for audio the browser decoded; `content_hash`
    /// is the SHA-256 of the file's bytes, so both paths share cache entries.
    pub fn features_of_decoded(&self, content_hash: &str, decoded: DecodedAudio, decode_ms: f64) -> Result<Features> {
        self.features_with(content_hash, || hear(decoded, decode_ms, &self.transcriber, &self.asr))
    }

    fn features_with(&self, content_hash: &str, listen: impl FnOnce() -> Result<Heard>) -> Result<Features> {
        let settings = self.transcript_settings();
        let (heard, cached) = match self.cache.heard(content_hash, &settings) {
            Some(h) => (h, true),
            None => {
                let h = listen()?;
                self.cache.put_heard(content_hash, &settings, &h)?;
                (h, false)
            }
        };
        let t = Instant::now();
        let embedding = if heard.transcript.speech {
            Some(self.embed(&[heard.transcript.text.as_str()])?.remove(0))
        } else {
            None
        };
        Ok(Features { heard, embedding, cached, embed_ms: t.elapsed().as_secs_f64() * 1e3 })
    }

    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        embed_cached(&self.encoder, &self.cache, texts)
    }

    pub fn classifier(&self, dictionary: Option<&SegmentDictionary>, head: Option<Head>) -> Result<Classifier> {
        classifier_for(&self.encoder, &self.cache, dictionary, head)
    }

    /// Transcribes (or recalls) and decides one creative.
    pub fn classify(&self, classifier: &Classifier, creative: &Creative, media: impl Into<MediaBytes>) -> Result<Verdict> {
        let f = self.features(creative, media)?;
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
        let (seen, _) = vision_outcome(vision, classifier.segments(), || {
            let b = vision.expect("only called with a branch");
            frames(&media.bytes, b.model.frames(), b.model.image_size())
        });
        let f = Features::or_soundless(self.features(creative, media), &seen)?;
        let fusion = vision.map(|b| b.fusion).unwrap_or_default();
        verdict_with_vision(classifier, creative, &f, seen, &fusion)
    }

    /// [`Engine::classify_with_vision`] for a creative already read and
    /// decoded by [`read_ahead`] (on another thread, while the models were
    /// busy with the one before): the same steps, the same verdict.
    pub fn classify_read_ahead(&self, classifier: &Classifier, vision: Option<&VisionBranch>, ahead: ReadAhead) -> Result<Verdict> {
        let ReadAhead { creative, media, audio, frames } = ahead;
        let (seen, _) = vision_outcome(vision, classifier.segments(), || {
            frames.unwrap_or_else(|| Err(Error::Invalid("the frames were not read ahead".into())))
        });
        let listened = self.features_with(&media.sha256, || {
            let (decoded, decode_ms) = audio?;
            hear(decoded, decode_ms, &self.transcriber, &self.asr)
        });
        let f = Features::or_soundless(listened, &seen)?;
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
/// its video embedding when the frames were read. Every failure becomes the
/// reason it has no answer.
pub fn vision_outcome(
    vision: Option<&VisionBranch>,
    segments: &SegmentDictionary,
    frames: impl FnOnce() -> Result<(Vec<Vec<u8>>, usize)>,
) -> (VisionOutcome, Option<Vec<f32>>) {
    let Some(b) = vision else {
        return (Err(VISION_OFF_NOTE.to_string()), None);
    };
    if b.classifier.segments().ids() != segments.ids() {
        let why = "the vision branch decides among other segments than the speech branch; give both the same dictionary";
        return (Err(why.into()), None);
    }
    let (rgb, size) = match frames() {
        Ok(f) => f,
        Err(e) => return (Err(format!("no video frames: {e}")), None),
    };
    match b.look(&rgb, size) {
        Ok((probs, embedding)) => (Ok(probs), Some(embedding)),
        Err(e) => (Err(format!("the video could not be classified: {e}")), None),
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
    Ok(cache.embed(&encoder.cache_id(), texts, |t| encoder.embed(t), progress)?.0)
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
    verdict_with_vision(classifier, creative, f, Err(VISION_OFF_NOTE.to_string()), &FusionParams::default())
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
    let speech = SpeechAmount::of(text, f.heard.transcript.no_speech_prob);
    let fused =
        fusion::decide(classifier.segments(), text_probs.as_deref(), vision_probs.as_deref(), speech, params)?;
    let (decision, modality, text_weight, speech_top, vision_top) = match fused {
        Some(d) => (Some(d.decision), d.basis.into(), d.text_weight, d.speech_top.map(Into::into), d.vision_top.map(Into::into)),
        None => (None, f.modality(), None, None, None),
    };
    Ok(Verdict {
        id: creative.id.clone(),
        file: creative.file.clone(),
        modality,
        speech: f.embedding.is_some(),
        note: decision.is_none().then(|| match &vision_note {
            Some(v) => format!("{NO_SPEECH_NOTE} ({v})"),
            None => NO_SPEECH_NOTE.to_string(),
        }),
        speech_top,
        vision_top,
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

/// Column names of the answer table (beside the users' own columns).
pub const SEGMENT_NUM_COLUMN: &str = "Segment_num";
pub const SEGMENT_NAME_COLUMN: &str = "Segment";
pub const CONFIDENCE_COLUMN: &str = "Confidence";
pub const STATUS_COLUMN: &str = "Status";

/// What one row of the answer table says.
#[derive(Debug, Clone, PartialEq)]
pub enum RowAnswer {
    Decided { segment_id: u32, segment_name: String, confidence: f32 },
    /// No segment, and why in words (no speech, no media file, …).
    Undecided(String),
}

impl From<&std::result::Result<Verdict, String>> for RowAnswer {
    fn from(outcome: &std::result::Result<Verdict, String>) -> Self {
        match outcome {
            Ok(Verdict { decision: Some(d), .. }) => RowAnswer::Decided {
                segment_id: d.segment_id,
                segment_name: d.segment_name.clone(),
                confidence: d.confidence,
            },
            Ok(v) => RowAnswer::Undecided(v.note.clone().unwrap_or_default()),
            Err(problem) => RowAnswer::Undecided(problem.clone()),
        }
    }
}

impl RowAnswer {
    /// Reads back a [`Report`].
    pub fn from_report(report: &Report) -> RowAnswer {
        match report.segment_id {
            Some(segment_id) => RowAnswer::Decided {
                segment_id,
                segment_name: report.segment_name.clone().unwrap_or_default(),
                confidence: report.confidence.unwrap_or_default(),
            },
            None => RowAnswer::Undecided(report.error.clone().or_else(|| report.note.clone()).unwrap_or_default()),
        }
    }
}

/// For each row of the users' table, the creative it names or why there is
/// none. `place` names where the files were looked for.
pub fn media_for_rows<'a, T>(
    table: &Table,
    id_col: usize,
    index: &'a MediaIndex<T>,
    place: &str,
) -> Vec<std::result::Result<&'a T, String>> {
    table
        .rows
        .iter()
        .map(|row| {
            let id = row.get(id_col).map(|s| s.trim()).unwrap_or_default();
            if is_blank(row) || id.is_empty() {
                Err("no Advertisement ID in this row".to_string())
            } else {
                index.find(id, place)
            }
        })
        .collect()
}

/// The users' batch answer: their table as it came, with the segment number
/// (in an existing `Segment_num` column if there is one), segment name,
/// confidence and a status for every row. `answers[i]` belongs to
/// `input.rows[i]`.
pub fn answer_table(input: &Table, answers: &[RowAnswer]) -> Table {
    let mut headers = input.headers.clone();
    let col = |name: &str, headers: &mut Vec<String>| {
        let probe = Table::new(headers.clone());
        probe.find_column(&[name]).unwrap_or_else(|| {
            headers.push(name.to_string());
            headers.len() - 1
        })
    };
    let num = col(SEGMENT_NUM_COLUMN, &mut headers);
    let name = col(SEGMENT_NAME_COLUMN, &mut headers);
    let conf = col(CONFIDENCE_COLUMN, &mut headers);
    let status = col(STATUS_COLUMN, &mut headers);
    let mut out = Table::new(headers);
    for (row, answer) in input.rows.iter().zip(answers) {
        let mut r = row.clone();
        r.resize(out.headers.len(), String::new());
        match answer {
            RowAnswer::Decided { segment_id, segment_name, confidence } => {
                r[num] = segment_id.to_string();
                r[name] = segment_name.clone();
                r[conf] = format!("{confidence:.3}");
                r[status] = "ok".into();
            }
            RowAnswer::Undecided(why) => {
                r[num].clear();
                r[status] = why.clone();
            }
        }
        out.push_row(r);
    }
    out
}

/// Columns of the results table (the page's table and its export).
/// The branch columns come last so the older ones keep their places.
pub const RESULT_COLUMNS: [&str; 13] = [
    "Advertisement ID",
    "File",
    SEGMENT_NUM_COLUMN,
    SEGMENT_NAME_COLUMN,
    CONFIDENCE_COLUMN,
    "Top 3",
    "Modality",
    "Transcript",
    "Seconds",
    STATUS_COLUMN,
    "Speech segment",
    "Video segment",
    "Video note",
];

/// One row per [`Report`].
pub fn results_table(reports: &[Report]) -> Table {
    let mut table = Table::new(RESULT_COLUMNS.iter().map(|s| s.to_string()).collect());
    let branch = |t: &BranchTop| format!("{} {} ({:.2})", t.segment_id, t.segment_name, t.confidence);
    for r in reports {
        let (num, name, conf, status) = match RowAnswer::from_report(r) {
            RowAnswer::Decided { segment_id, segment_name, confidence } => {
                (segment_id.to_string(), segment_name, format!("{confidence:.3}"), "ok".to_string())
            }
            RowAnswer::Undecided(why) => (String::new(), String::new(), String::new(), why),
        };
        table.push_row(vec![
            r.id.clone(),
            r.file.clone(),
            num,
            name,
            conf,
            r.top.iter().map(branch).collect::<Vec<_>>().join("; "),
            r.modality.filter(|_| r.error.is_none()).map(|m| m.name().to_string()).unwrap_or_default(),
            r.transcript.clone().unwrap_or_default(),
            r.seconds().map(|s| format!("{s:.1}")).unwrap_or_default(),
            status,
            r.speech_segment.as_ref().map(branch).unwrap_or_default(),
            r.vision_segment.as_ref().map(branch).unwrap_or_default(),
            r.vision_note.clone().unwrap_or_default(),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(decision: Option<Decision>) -> Verdict {
        Verdict {
            id: "7".into(),
            file: "7.wav".into(),
            modality: if decision.is_some() { Modality::Speech } else { Modality::NoSpeech },
            speech: decision.is_some(),
            note: decision.is_none().then(|| NO_SPEECH_NOTE.to_string()),
            decision,
            transcript: String::new(),
            no_speech_prob: 0.0,
            duration_s: 1.0,
            incomplete: false,
            cached: false,
            timings: StageTimings::default(),
            embed_ms: 0.0,
            speech_top: None,
            vision_top: None,
            vision_note: Some(VISION_OFF_NOTE.into()),
            text_weight: None,
        }
    }

    #[test]
    fn the_answer_table_keeps_every_row_and_fills_an_existing_segment_column() {
        let mut input = Table::new(vec!["Advertisement ID".into(), "segment_num".into(), "Brand".into()]);
        for id in ["1", "2", "3"] {
            input.push_row(vec![id.into(), "old".into(), "b".into()]);
        }
        let decided = Decision {
            segment_id: 15,
            segment_name: "Музыка".into(),
            confidence: 0.8765,
            top: vec![(15, "Музыка".into(), 0.8765)],
        };
        let outcomes = [Ok(verdict(Some(decided))), Ok(verdict(None)), Err("no media file".into())];
        let answers: Vec<RowAnswer> = outcomes.iter().map(RowAnswer::from).collect();
        let out = answer_table(&input, &answers);
        // The page hands the same outcomes back as report records.
        let mode = "zero-shot";
        let reports: Vec<Report> = outcomes
            .iter()
            .map(|o| match o {
                Ok(v) => v.report(mode),
                Err(e) => Report::failure(&Creative::from_file_name("3.mp4"), e),
            })
            .collect();
        assert_eq!(reports.iter().map(RowAnswer::from_report).collect::<Vec<_>>(), answers);
        let results = results_table(&reports);
        assert_eq!(results.rows[0][2..5], ["15", "Музыка", "0.877"]);
        assert_eq!(results.rows[0][5], "15 Музыка (0.88)");
        assert_eq!(results.rows[2][9], "no media file");
        assert_eq!(results.headers[10..], ["Speech segment", "Video segment", "Video note"]);
        assert_eq!(results.rows[1][12], VISION_OFF_NOTE, "an undecided row says the vision branch is off");
        assert_eq!(results.rows[2][12], "", "a failed row has no vision note");
        assert_eq!(out.headers, vec!["Advertisement ID", "segment_num", "Brand", "Segment", "Confidence", "Status"]);
        assert_eq!(out.rows[0], vec!["1", "15", "b", "Музыка", "0.877", "ok"]);
        assert_eq!(out.rows[1][1], "", "no stale segment is left behind");
        assert_eq!(out.rows[1][5], NO_SPEECH_NOTE);
        assert_eq!(out.rows[2][5], "no media file");
    }
}
