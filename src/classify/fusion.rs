//! One decision per creative from what was said and what was shown.
//!
//! The picture's branch is the video (X-CLIP), the on-screen text, or both.
//! Without speech the picture decides; without a picture the speech
//! decides. With both, the probabilities are mixed log-linearly,
//! `log p ∝ w·log p_text + (1 − w)·log p_picture`, with the speech weight
//! `w = σ(bias + per_log_word·ln(1 + words) − no_speech·p_no_speech)`: a few
//! words of doubtful speech count little, a long clear voice-over dominates.
//! [`calibrate`] picks the three parameters on the users' labelled data.

use serde::{Deserialize, Serialize};

use crate::classify::head::Decision;
use crate::classify::segments::SegmentDictionary;
use crate::error::{Error, Result};

/// Probabilities below this are floored before taking logs, so one branch's
/// hard zero cannot veto the other's answer.
const FLOOR: f32 = 1e-6;

/// How much speech a creative had.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeechAmount {
    /// Words in the transcript (0 when nothing was said).
    pub words: usize,
    /// Whisper's probability that there was no speech at all.
    pub no_speech_prob: f32,
}

impl SpeechAmount {
    pub fn of(transcript: &str, no_speech_prob: f32) -> SpeechAmount {
        SpeechAmount { words: transcript.split_whitespace().count(), no_speech_prob }
    }
}

/// Parameters of the speech weight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FusionParams {
    pub bias: f32,
    pub per_log_word: f32,
    pub no_speech: f32,
}

impl Default for FusionParams {
    /// Before any training: 3 clear words weigh about as much as the video
    /// (w ≈ 0.45), 20 words ≈ 0.88, 50 words ≈ 0.96; a no-speech probability
    /// of 0.5 takes 1.5 off the logit.
    fn default() -> Self {
        FusionParams { bias: -2.0, per_log_word: 1.3, no_speech: 3.0 }
    }
}

impl FusionParams {
    /// The speech branch's weight in 0..1.
    pub fn text_weight(&self, s: SpeechAmount) -> f32 {
        let z = self.bias + self.per_log_word * (1.0 + s.words as f32).ln() - self.no_speech * s.no_speech_prob;
        1.0 / (1.0 + (-z).exp())
    }
}

/// Which branch a decision rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    Speech,
    Vision,
    Fused,
}

/// `exp(w·ln a + (1 − w)·ln b)`, renormalised.
pub fn log_linear(text: &[f32], vision: &[f32], w: f32) -> Vec<f32> {
    let z: Vec<f32> =
        text.iter().zip(vision).map(|(a, b)| w * a.max(FLOOR).ln() + (1.0 - w) * b.max(FLOOR).ln()).collect();
    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut p: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
    let sum: f32 = p.iter().sum();
    p.iter_mut().for_each(|v| *v /= sum);
    p
}

/// The mixed probabilities, what they rest on and the speech weight used
/// (None unless both branches answered); None when neither did.
pub fn fuse(
    text: Option<&[f32]>,
    vision: Option<&[f32]>,
    speech: SpeechAmount,
    params: &FusionParams,
) -> Result<Option<(Vec<f32>, Basis, Option<f32>)>> {
    Ok(match (text, vision) {
        (None, None) => None,
        (Some(t), None) => Some((t.to_vec(), Basis::Speech, None)),
        (None, Some(v)) => Some((v.to_vec(), Basis::Vision, None)),
        (Some(t), Some(v)) => {
            if t.len() != v.len() {
                return Err(Error::Invalid(format!(
                    "the speech branch scores {} segments and the vision branch {}; both must use one dictionary",
                    t.len(),
                    v.len()
                )));
            }
            let w = params.text_weight(speech);
            Some((log_linear(t, v, w), Basis::Fused, Some(w)))
        }
    })
}

/// One creative's decision with both branches' own answers beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FusedDecision {
    pub decision: Decision,
    pub basis: Basis,
    /// The speech branch's weight, when both branches answered.
    pub text_weight: Option<f32>,
    /// Each branch's top segment on its own: (id, name, probability).
    pub speech_top: Option<(u32, String, f32)>,
    pub vision_top: Option<(u32, String, f32)>,
}

/// [`fuse`] as a decision over `segments` (both probability vectors in its order).
pub fn decide(
    segments: &SegmentDictionary,
    text: Option<&[f32]>,
    vision: Option<&[f32]>,
    speech: SpeechAmount,
    params: &FusionParams,
) -> Result<Option<FusedDecision>> {
    let top = |p: Option<&[f32]>| -> Result<Option<(u32, String, f32)>> {
        p.map(|p| Decision::from_probs(segments, p).map(|d| (d.segment_id, d.segment_name, d.confidence))).transpose()
    };
    let (speech_top, vision_top) = (top(text)?, top(vision)?);
    let Some((probs, basis, text_weight)) = fuse(text, vision, speech, params)? else {
        return Ok(None);
    };
    Ok(Some(FusedDecision { decision: Decision::from_probs(segments, &probs)?, basis, text_weight, speech_top, vision_top }))
}

/// The grid [`calibrate`] searches, small enough to be exhaustive.
const BIASES: [f32; 9] = [-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0];
const PER_LOG_WORD: [f32; 6] = [0.0, 0.5, 1.0, 1.3, 2.0, 3.0];
const NO_SPEECH: [f32; 3] = [0.0, 3.0, 6.0];

/// One labelled creative for calibration: out-of-fold probabilities of
/// its speech and its picture (video or on-screen text; dictionary order),
/// its speech amount, and the column of its true segment.
pub struct CalibrationSample<'a> {
    pub text: &'a [f32],
    pub picture: &'a [f32],
    pub speech: SpeechAmount,
    pub truth: usize,
}

/// The parameters with the highest mean log-likelihood of the true segments
/// over the samples where both branches answered (the only ones the weight
/// affects). Deterministic: ties keep the earlier grid point, and the
/// defaults stand when there is nothing to calibrate on.
pub fn calibrate(samples: &[CalibrationSample]) -> Result<FusionParams> {
    if samples.is_empty() {
        return Ok(FusionParams::default());
    }
    for s in samples {
        if s.text.len() != s.picture.len() || s.truth >= s.text.len() {
            return Err(Error::Invalid("calibration needs both branches' probabilities over one dictionary and a true segment in it".into()));
        }
    }
    let loglik = |p: &FusionParams| -> f64 {
        samples
            .iter()
            .map(|s| (log_linear(s.text, s.picture, p.text_weight(s.speech))[s.truth].max(1e-30) as f64).ln())
            .sum()
    };
    let mut best = (FusionParams::default(), loglik(&FusionParams::default()));
    for &bias in &BIASES {
        for &per_log_word in &PER_LOG_WORD {
            for &no_speech in &NO_SPEECH {
                let p = FusionParams { bias, per_log_word, no_speech };
                let l = loglik(&p);
                if l > best.1 + 1e-9 {
                    best = (p, l);
                }
            }
        }
    }
    Ok(best.0)
}
