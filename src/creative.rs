//! A creative as the users know it (a file named `<Advertisement ID>.<ext>`)
//! and the first half of the pipeline: bytes → audio → transcript.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::asr::whisper_gpu::GpuWithFallback;
use crate::asr::{EncoderParts, TranscribeOptions, Transcriber, Transcript};
use crate::error::Result;
use crate::media::{self, DecodedAudio};
use crate::message::Message;

/// Audio beyond this is not analysed (nor video: see [`media::MAX_ANALYSED_SECONDS`]).
pub const DEFAULT_MAX_SECONDS: f64 = media::MAX_ANALYSED_SECONDS;

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
        let base = base_name(name);
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
    /// Where `encoder_ms` went.
    #[serde(default)]
    pub encoder_parts: EncoderParts,
    pub decoder_ms: f64,
    /// Where the encoder ran ("gpu: …" or "cpu (…)").
    #[serde(default)]
    pub encoder_device: String,
}

/// What the ASR half of the pipeline learnt about a creative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heard {
    pub duration_s: f64,
    pub codec: String,
    /// True when only the first `max_seconds` were analysed.
    pub truncated: bool,
    /// True when the file was cut short (its beginning was heard).
    #[serde(default)]
    pub incomplete: bool,
    pub transcript: Transcript,
    pub timings: StageTimings,
}

/// Decodes, resamples and transcribes one creative's bytes.
pub fn listen(
    bytes: impl Into<bytes::Bytes>,
    creative: &Creative,
    transcriber: &Transcriber,
    opts: &TranscribeOptions,
    max_seconds: f64,
) -> Result<Heard> {
    crate::task::now(listen_on(bytes, creative, transcriber, opts, max_seconds, None))
}

/// [`listen`] with Whisper's encoder on `gpu` (see [`Transcriber::transcribe_on`]).
pub async fn listen_on(
    bytes: impl Into<bytes::Bytes>,
    creative: &Creative,
    transcriber: &Transcriber,
    opts: &TranscribeOptions,
    max_seconds: f64,
    gpu: Option<&GpuWithFallback>,
) -> Result<Heard> {
    let t = Instant::now();
    let decoded = media::decode_audio(bytes, creative.extension.as_deref(), max_seconds)?;
    hear_on(decoded, t.elapsed().as_secs_f64() * 1e3, transcriber, opts, gpu).await
}

/// Resamples and transcribes audio decoded by [`media::decode_audio`] or by
/// the browser; `decode_ms` is what decoding took.
pub fn hear(decoded: DecodedAudio, decode_ms: f64, transcriber: &Transcriber, opts: &TranscribeOptions) -> Result<Heard> {
    crate::task::now(hear_on(decoded, decode_ms, transcriber, opts, None))
}

/// [`hear`] with Whisper's encoder on `gpu`.
pub async fn hear_on(
    decoded: DecodedAudio,
    decode_ms: f64,
    transcriber: &Transcriber,
    opts: &TranscribeOptions,
    gpu: Option<&GpuWithFallback>,
) -> Result<Heard> {
    let t = Instant::now();
    let samples = media::to_whisper_input(&decoded.audio)?;
    let resample_ms = t.elapsed().as_secs_f64() * 1e3;
    let transcript = transcriber.transcribe_on(&samples, opts, gpu).await?;
    let a = &transcript.timings;
    Ok(Heard {
        duration_s: decoded.audio.duration_s(),
        codec: decoded.codec,
        truncated: decoded.truncated,
        incomplete: decoded.incomplete,
        timings: StageTimings {
            decode_ms,
            resample_ms,
            mel_ms: a.mel_ms,
            encoder_ms: a.encoder_ms,
            encoder_parts: a.encoder_parts,
            decoder_ms: a.decoder_ms,
            encoder_device: a.encoder_device.clone(),
        },
        transcript,
    })
}

/// Creatives by Advertisement ID (file stem), as users name them in a folder.
/// `T` is whatever finds the file again: a path natively, an index into the
/// dropped files in the browser.
pub struct MediaIndex<T> {
    by_id: BTreeMap<String, Vec<(String, T)>>,
}

impl<T> MediaIndex<T> {
    /// Indexes `(file name, handle)` pairs.
    pub fn new(files: impl IntoIterator<Item = (String, T)>) -> Self {
        let mut by_id: BTreeMap<String, Vec<(String, T)>> = BTreeMap::new();
        for (name, handle) in files {
            by_id.entry(Creative::from_file_name(&name).id).or_default().push((name, handle));
        }
        for files in by_id.values_mut() {
            files.sort_by(|a, b| a.0.cmp(&b.0));
        }
        MediaIndex { by_id }
    }

    /// The file for an ID; several files with one ID is the user's to
    /// resolve. `place` names where the files were looked for.
    pub fn find(&self, id: &str, place: &str) -> std::result::Result<&T, Message> {
        let id = id.trim();
        match self.by_id.get(id).map(Vec::as_slice) {
            None | Some([]) => {
                Err(Message::new("no-media-file", format!("no media file named {id}.* in {place}")).with("id", id).with("place", place))
            }
            Some([(_, one)]) => Ok(one),
            Some(many) => {
                let names = many.iter().map(|(name, _)| base_name(name)).collect::<Vec<_>>().join(", ");
                let text = format!("{} files share this ID ({names}); keep one", many.len());
                Err(Message::new("media-ambiguous", text).with("count", many.len()).with("names", names))
            }
        }
    }
}

fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
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

    #[test]
    fn media_is_found_by_id_and_ambiguity_is_reported() {
        let index = MediaIndex::new(["dir/001.mp4", "002.wav", "002.mp3"].iter().enumerate().map(|(i, n)| (n.to_string(), i)));
        assert_eq!(index.find(" 001 ", "the folder"), Ok(&0));
        assert_eq!(index.find("003", "the folder").unwrap_err().text, "no media file named 003.* in the folder");
        let many = index.find("002", "x").unwrap_err();
        assert_eq!(many.text, "2 files share this ID (002.mp3, 002.wav); keep one");
        assert_eq!((many.code.as_str(), many.params["count"].as_str()), ("media-ambiguous", "2"));
    }
}
