//! The record of one creative as users get it: a line of `classify`'s
//! output, a row of the page's results table, the source of the exported
//! tables and of the embedding API's answer. One type, serialised by serde
//! everywhere; `www/js/report.d.ts` describes it to the page's JavaScript
//! (a test keeps the two in step).

use serde::{Deserialize, Serialize};

use super::{BranchTop, Modality, Verdict};
use crate::classify::Evidence;
use crate::creative::Creative;
use crate::message::{joined, Message};

/// Milliseconds per stage of the run that made the transcript.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StageMs {
    pub decode: f64,
    pub resample: f64,
    pub mel: f64,
    pub encoder: f64,
    pub decoder: f64,
    pub embed: f64,
    /// Sampling the frames and reading their text (0 when not read).
    pub screen: f64,
}

/// Milliseconds of Whisper's encoder by kind of work.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EncoderPartsMs {
    pub conv: f64,
    pub matmul: f64,
    pub attention: f64,
    pub other: f64,
    /// The whole encoder on the GPU (its parts are not timed apart).
    pub gpu: f64,
}

/// How much of the picture was read: frames sampled, chosen (a held
/// picture once) and read, and whether a time limit stopped the reading.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScreenFramesRead {
    pub sampled: usize,
    pub chosen: usize,
    pub read: usize,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cut_short: bool,
}

/// One creative's record. A creative that could not be read has `error`
/// and nothing but its name; one without a decision has `note`; a decided
/// one has the segment fields. Fields that do not apply are left out of the
/// JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    pub file: String,
    pub id: String,
    /// Why the creative could not be read; nothing else is then set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modality: Option<Modality>,
    /// Whether the transcript was speech, classified from its text (the
    /// creatives that can teach the speech head).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speech: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_speech_prob: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// The transcript came from the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings_ms: Option<StageMs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoder_parts_ms: Option<EncoderPartsMs>,
    /// Where Whisper's encoder ran: "gpu: <adapter>" or "cpu (<int8 kernels>)".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The classifier that decided ("zero-shot", "trained").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// The most likely segments, best first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<BranchTop>,
    /// Why no segment was decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The speech branch's own top segment, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speech_segment: Option<BranchTop>,
    /// The vision branch's own top segment, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vision_segment: Option<BranchTop>,
    /// Why the vision branch did not answer (off, no frames, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vision_note: Option<String>,
    /// The text read from the picture, a line each, when it was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_text: Option<String>,
    /// The screen text's own top segment, when it had words to classify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_segment: Option<BranchTop>,
    /// Why the picture was not read, when it was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_note: Option<String>,
    /// How much of the picture was read, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_frames: Option<ScreenFramesRead>,
    /// The speech branch's weight in a fused decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speech_weight: Option<f32>,
    /// The transcript's words that weighed most for the segment, strongest
    /// first (a trained head's n-gram weights).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// The file was cut short; its beginning was heard.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
    /// The file's content hash, in the page (what training refers to it by).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// `error` and the notes as codes with values, for the page to word in
    /// the user's language.
    #[serde(skip_serializing_if = "Said::is_empty")]
    pub said: Said,
}

/// What a report's `error`, `note`, `vision_note` and `screen_note` say, as
/// [`Message`]s (`note`: the first message, then its reasons).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Said {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Message>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub note: Vec<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vision_note: Option<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_note: Option<Message>,
}

impl Said {
    pub fn is_empty(&self) -> bool {
        *self == Said::default()
    }
}

impl Report {
    /// The record of a creative that could not be read: it is reported, not dropped.
    pub fn failure(creative: &Creative, error: &Message) -> Report {
        Report {
            file: creative.file.clone(),
            id: creative.id.clone(),
            error: Some(error.text.clone()),
            said: Said { error: Some(error.clone()), ..Default::default() },
            ..Default::default()
        }
    }

    /// Seconds the stages took, when the creative was read.
    pub fn seconds(&self) -> Option<f64> {
        self.timings_ms.as_ref().map(|t| (t.decode + t.resample + t.mel + t.encoder + t.decoder + t.embed + t.screen) / 1e3)
    }
}

impl Verdict {
    /// The record users get for this creative.
    pub fn report(&self, classifier_mode: &str) -> Report {
        let t = &self.timings;
        let decision = self.decision.as_ref();
        Report {
            file: self.file.clone(),
            id: self.id.clone(),
            error: None,
            modality: Some(self.modality),
            speech: Some(self.speech),
            transcript: Some(self.transcript.clone()),
            no_speech_prob: Some(self.no_speech_prob),
            duration_s: Some(self.duration_s),
            cached: Some(self.cached),
            timings_ms: Some(StageMs {
                decode: t.decode_ms,
                resample: t.resample_ms,
                mel: t.mel_ms,
                encoder: t.encoder_ms,
                decoder: t.decoder_ms,
                embed: self.embed_ms,
                screen: self.screen.as_ref().map_or(0.0, |s| s.frames_ms + s.ocr_ms),
            }),
            encoder_parts_ms: Some(EncoderPartsMs {
                conv: t.encoder_parts.conv_ms,
                matmul: t.encoder_parts.matmul_ms,
                attention: t.encoder_parts.attention_ms,
                other: t.encoder_parts.other_ms,
                gpu: t.encoder_parts.gpu_ms,
            }),
            device: Some(t.encoder_device.clone()).filter(|d| !d.is_empty()),
            classifier: decision.map(|_| classifier_mode.to_string()),
            segment_id: decision.map(|d| d.segment_id),
            segment_name: decision.map(|d| d.segment_name.clone()),
            confidence: decision.map(|d| d.confidence),
            top: decision.map(|d| d.top.iter().cloned().map(BranchTop::from).collect()).unwrap_or_default(),
            note: joined(&self.note),
            speech_segment: self.speech_top.clone(),
            vision_segment: self.vision_top.clone(),
            vision_note: self.vision_note.as_ref().map(|m| m.text.clone()),
            screen_text: self.screen.as_ref().map(|s| s.text()),
            screen_segment: self.screen_top.clone(),
            screen_note: self.screen_note.as_ref().map(|m| m.text.clone()),
            screen_frames: self.screen.as_ref().map(|s| ScreenFramesRead {
                sampled: s.frames_sampled,
                chosen: s.frames_chosen,
                read: s.frames_read,
                cut_short: s.cut_short,
            }),
            speech_weight: self.text_weight,
            evidence: self.evidence.clone(),
            incomplete: self.incomplete,
            content_hash: None,
            said: Said {
                error: None,
                note: self.note.clone(),
                vision_note: self.vision_note.clone(),
                screen_note: self.screen_note.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of the report, as `www/js/report.d.ts` declares them to
    /// the page: a field renamed or added here must be declared there.
    #[test]
    fn the_page_declares_every_field_of_the_report() {
        let declared = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/www/js/report.d.ts")).unwrap();
        let full = Report {
            error: Some(String::new()),
            modality: Some(Modality::Fused),
            speech: Some(true),
            transcript: Some(String::new()),
            no_speech_prob: Some(0.0),
            duration_s: Some(0.0),
            cached: Some(false),
            timings_ms: Some(StageMs::default()),
            encoder_parts_ms: Some(EncoderPartsMs::default()),
            device: Some(String::new()),
            classifier: Some(String::new()),
            segment_id: Some(1),
            segment_name: Some(String::new()),
            confidence: Some(0.0),
            top: vec![BranchTop { segment_id: 1, segment_name: String::new(), confidence: 0.0 }],
            note: Some(String::new()),
            speech_segment: Some(BranchTop { segment_id: 1, segment_name: String::new(), confidence: 0.0 }),
            vision_segment: Some(BranchTop { segment_id: 2, segment_name: String::new(), confidence: 0.0 }),
            vision_note: Some(String::new()),
            screen_text: Some(String::new()),
            screen_segment: Some(BranchTop { segment_id: 3, segment_name: String::new(), confidence: 0.0 }),
            screen_note: Some(String::new()),
            screen_frames: Some(ScreenFramesRead { sampled: 9, chosen: 4, read: 3, cut_short: true }),
            speech_weight: Some(0.5),
            evidence: vec![Evidence { word: "карта".into(), weight: 0.4 }],
            incomplete: true,
            content_hash: Some(String::new()),
            ..Report::failure(&Creative::from_file_name("1.mp4"), &Message::new("empty", ""))
        };
        let serde_json::Value::Object(fields) = serde_json::to_value(&full).unwrap() else { panic!("an object") };
        let block = |name: &str| {
            let start = declared.find(&format!("interface {name} {{")).unwrap_or_else(|| panic!("report.d.ts declares {name}"));
            let body = &declared[start..];
            body[..body.find("\n}").unwrap()].to_string()
        };
        let report = block("Report");
        for key in fields.keys() {
            assert!(report.contains(&format!("\n  {key}")), "report.d.ts's Report lacks `{key}`");
        }
        let (stages, parts, evidence) = (block("StageMs"), block("EncoderPartsMs"), block("Evidence"));
        for k in ["word", "weight"] {
            assert!(evidence.contains(&format!("\n  {k}")), "Evidence lacks `{k}`");
        }
        let frames = block("ScreenFramesRead");
        let serde_json::Value::Object(f) = serde_json::to_value(full.screen_frames.as_ref().unwrap()).unwrap() else { panic!() };
        f.keys().for_each(|k| assert!(frames.contains(&format!("\n  {k}")), "ScreenFramesRead lacks `{k}`"));
        let (said, message) = (block("Said"), block("Message"));
        for k in ["error", "note", "vision_note", "screen_note"] {
            assert!(said.contains(&format!("\n  {k}?:")), "Said lacks `{k}`");
        }
        let m = crate::message::Message::because("a", "b", crate::Error::EmptyInput.message()).with("x", 1);
        let serde_json::Value::Object(m) = serde_json::to_value(m).unwrap() else { panic!() };
        m.keys().for_each(|k| assert!(message.contains(&format!("\n  {k}")), "Message lacks `{k}`"));
        let serde_json::Value::Object(t) = serde_json::to_value(StageMs::default()).unwrap() else { panic!() };
        t.keys().for_each(|k| assert!(stages.contains(&format!("\n  {k}:")), "StageMs lacks `{k}`"));
        let serde_json::Value::Object(p) = serde_json::to_value(EncoderPartsMs::default()).unwrap() else { panic!() };
        p.keys().for_each(|k| assert!(parts.contains(&format!("\n  {k}:")), "EncoderPartsMs lacks `{k}`"));
        // And nothing is declared that the core does not send (besides the page's own timings).
        let page_only = ["frames_ms", "wall_ms", "wasm_memory_mb"];
        for line in report.lines().skip(1).map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("/")) {
            let key = line.split(['?', ':']).next().unwrap();
            assert!(
                fields.contains_key(key) || page_only.contains(&key),
                "report.d.ts declares `{key}`, which the core's Report does not have"
            );
        }
    }

    #[test]
    fn a_failure_is_its_name_and_its_reason() {
        let r = Report::failure(&Creative::from_file_name("17.mp4"), &crate::Error::EmptyInput.message());
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"file":"17.mp4","id":"17","error":"the file is empty (0 bytes)","said":{"error":{"code":"empty","text":"the file is empty (0 bytes)"}}}"#
        );
        let back: Report = serde_json::from_str(r#"{"file":"17.mp4","id":"17","error":"x","wall_ms":3}"#).unwrap();
        assert_eq!(back.error.as_deref(), Some("x"));
    }
}
