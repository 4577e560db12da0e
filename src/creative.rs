//! A creative as the users know it (a file named `<Advertisement ID>.<ext>`)
//! and the first half of the pipeline: bytes → audio → transcript.

use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::asr::{TranscribeOptions, Transcriber, Transcript};
use crate::error::Result;
use crate::media;

/// Audio beyond this is not analysed: an advertisement says what it sells
/// long before, and the cap bounds time and memory on hour-long files.
pub const DEFAULT_MAX_SECONDS: f64 = 600.0;

/// One advertising creative, identified as in the users' tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Creative {
    /// `Advertisement ID`: the file name without its extension.
    pub id: String,
    pub file: String,
    pub extension: Option<String>,
}

impl Creative {
    pub fn from_file_name(name: &str) -> Self {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let (id, extension) = match base.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem.to_string(), Some(ext.to_ascii_lowercase())),
            _ => (base.to_string(), None),
        };
        Self { id, file: name.to_string(), extension }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageTimings {
    pub decode_ms: f64,
    pub resample_ms: f64,
    pub mel_ms: f64,
    pub encoder_ms: f64,
    pub decoder_ms: f64,
}

/// What the ASR half of the pipeline learnt about a creative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heard {
    pub duration_s: f64,
    pub codec: String,
    /// True when only the first `max_seconds` were analysed.
    pub truncated: bool,
    pub transcript: Transcript,
    pub timings: StageTimings,
}

/// Decodes, resamples and transcribes one creative's bytes.
pub fn listen(
    bytes: Vec<u8>,
    creative: &Creative,
    transcriber: &Transcriber,
    opts: &TranscribeOptions,
    max_seconds: f64,
) -> Result<Heard> {
    let t = Instant::now();
    let decoded = media::decode_audio(bytes, creative.extension.as_deref(), max_seconds)?;
    let decode_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let samples = media::to_whisper_input(&decoded.audio)?;
    let resample_ms = t.elapsed().as_secs_f64() * 1e3;
    let transcript = transcriber.transcribe(&samples, opts)?;
    let a = &transcript.timings;
    Ok(Heard {
        duration_s: decoded.audio.duration_s(),
        codec: decoded.codec,
        truncated: decoded.truncated,
        timings: StageTimings { decode_ms, resample_ms, mel_ms: a.mel_ms, encoder_ms: a.encoder_ms, decoder_ms: a.decoder_ms },
        transcript,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_the_file_stem() {
        let c = Creative::from_file_name("data/000123.MP4");
        assert_eq!((c.id.as_str(), c.extension.as_deref()), ("000123", Some("mp4")));
        assert_eq!(Creative::from_file_name("a.b.wbm").id, "a.b");
        assert_eq!(Creative::from_file_name("noext").extension, None);
        assert_eq!(Creative::from_file_name(".hidden").id, ".hidden");
    }
}
