//! The whole chain for one creative, as the CLI and the browser run it:
//! bytes → audio → transcript → embedding → segment, with the slow stages
//! cached by content hash.

use serde::Serialize;

use crate::asr::{TranscribeOptions, Transcriber};
use crate::cache::FeatureCache;
use crate::classify::{Classifier, Decision, Head, SegmentDictionary};
use crate::creative::{listen, Creative, Heard};
use crate::error::Result;
use crate::models::manifest::sha256_hex;
use crate::table::Table;
use crate::text::TextEncoder;

/// Bumped whenever a change to decoding or hallucination filtering changes
/// transcripts, so cached ones from older builds are not reused.
pub const TRANSCRIPT_POLICY: u32 = 1;

/// Which signal a decision rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Modality {
    /// The transcript of the creative's speech.
    Speech,
    /// Nothing was said (music, silence); there is no text to classify.
    NoSpeech,
}

/// What the slow stages produced for one creative.
#[derive(Debug, Clone)]
pub struct Features {
    pub heard: Heard,
    /// The transcript's embedding, when there was speech.
    pub embedding: Option<Vec<f32>>,
    /// True when the transcript came from the cache.
    pub cached: bool,
}

impl Features {
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
    /// None when there was nothing to decide from (no speech).
    pub decision: Option<Decision>,
    pub transcript: String,
    pub no_speech_prob: f32,
    pub duration_s: f64,
    pub cached: bool,
    /// Why no decision was made, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Said of creatives with no speech until the video fallback exists.
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
    pub fn features(&self, creative: &Creative, bytes: Vec<u8>) -> Result<Features> {
        let hash = sha256_hex(&bytes);
        let settings = self.transcript_settings();
        let (heard, cached) = match self.cache.heard(&hash, &settings) {
            Some(h) => (h, true),
            None => {
                let h = listen(bytes, creative, &self.transcriber, &self.asr, self.max_seconds)?;
                self.cache.put_heard(&hash, &settings, &h)?;
                (h, false)
            }
        };
        let embedding = if heard.transcript.speech {
            Some(self.embed(&[heard.transcript.text.as_str()])?.remove(0))
        } else {
            None
        };
        Ok(Features { heard, embedding, cached })
    }

    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        embed_cached(&self.encoder, &self.cache, texts)
    }

    pub fn classifier(&self, dictionary: Option<&SegmentDictionary>, head: Option<Head>) -> Result<Classifier> {
        classifier_for(&self.encoder, &self.cache, dictionary, head)
    }

    /// Transcribes (or recalls) and decides one creative.
    pub fn classify(&self, classifier: &Classifier, creative: &Creative, bytes: Vec<u8>) -> Result<Verdict> {
        let f = self.features(creative, bytes)?;
        verdict(classifier, creative, &f)
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
    Ok(cache.embed(&encoder.model_id(), texts, |t| encoder.embed(t), progress)?.0)
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
    let texts = segments.prototype_texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    Classifier::new(dictionary, head, &embed_cached(encoder, cache, &refs)?)
}

/// The verdict for features already extracted.
pub fn verdict(classifier: &Classifier, creative: &Creative, f: &Features) -> Result<Verdict> {
    let decision = f.embedding.as_deref().map(|e| classifier.decide(e)).transpose()?;
    Ok(Verdict {
        id: creative.id.clone(),
        file: creative.file.clone(),
        modality: f.modality(),
        note: decision.is_none().then(|| NO_SPEECH_NOTE.to_string()),
        decision,
        transcript: f.heard.transcript.text.clone(),
        no_speech_prob: f.heard.transcript.no_speech_prob,
        duration_s: f.heard.duration_s,
        cached: f.cached,
    })
}

/// Column names of the answer table (beside the users' own columns).
pub const SEGMENT_NUM_COLUMN: &str = "Segment_num";
pub const SEGMENT_NAME_COLUMN: &str = "Segment";
pub const CONFIDENCE_COLUMN: &str = "Confidence";
pub const STATUS_COLUMN: &str = "Status";

/// The users' batch answer: their table as it came, with the segment number
/// (in an existing `Segment_num` column if there is one), segment name,
/// confidence and a status for every row. `outcomes[i]` belongs to
/// `input.rows[i]`; an `Err` is that row's problem in words.
pub fn answer_table(input: &Table, outcomes: &[std::result::Result<Verdict, String>]) -> Table {
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
    for (row, outcome) in input.rows.iter().zip(outcomes) {
        let mut r = row.clone();
        r.resize(out.headers.len(), String::new());
        match outcome {
            Ok(v) => match &v.decision {
                Some(d) => {
                    r[num] = d.segment_id.to_string();
                    r[name] = d.segment_name.clone();
                    r[conf] = format!("{:.3}", d.confidence);
                    r[status] = "ok".into();
                }
                None => {
                    r[num].clear();
                    r[status] = v.note.clone().unwrap_or_default();
                }
            },
            Err(problem) => {
                r[num].clear();
                r[status] = problem.clone();
            }
        }
        out.push_row(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(decision: Option<Decision>) -> Verdict {
        Verdict {
            id: "7".into(),
            file: "7.wav".into(),
            modality: if decision.is_some() { Modality::Speech } else { Modality::NoSpeech },
            note: decision.is_none().then(|| NO_SPEECH_NOTE.to_string()),
            decision,
            transcript: String::new(),
            no_speech_prob: 0.0,
            duration_s: 1.0,
            cached: false,
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
        let out = answer_table(&input, &[Ok(verdict(Some(decided))), Ok(verdict(None)), Err("no media file".into())]);
        assert_eq!(out.headers, vec!["Advertisement ID", "segment_num", "Brand", "Segment", "Confidence", "Status"]);
        assert_eq!(out.rows[0], vec!["1", "15", "b", "Музыка", "0.877", "ok"]);
        assert_eq!(out.rows[1][1], "", "no stale segment is left behind");
        assert_eq!(out.rows[1][5], NO_SPEECH_NOTE);
        assert_eq!(out.rows[2][5], "no media file");
    }
}
