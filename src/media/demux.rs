//! Demuxing without decoding: the encoded packets of a creative's first audio
//! track, for decoders outside this crate (the browser's WebCodecs
//! `AudioDecoder` decodes codecs that have no Rust decoder here, like Opus).

use serde::Serialize;
use symphonia::core::codecs::{CodecParameters, CODEC_TYPE_AAC, CODEC_TYPE_MP3, CODEC_TYPE_OPUS};
use symphonia::core::errors::Error as SymphoniaError;

use super::decode::{open_first_audio_track, OpenedTrack};
use crate::error::{Error, Result};

/// One compressed packet (audio, or video for the page's frames), timed in
/// microseconds as WebCodecs wants.
#[derive(Debug, Clone, Serialize)]
pub struct EncodedPacket {
    pub timestamp_us: i64,
    pub duration_us: i64,
    /// Decodable on its own (every audio packet here; video key frames).
    pub key: bool,
    #[serde(serialize_with = "as_bytes")]
    pub data: Vec<u8>,
}

/// An audio track ready for a WebCodecs `AudioDecoder`.
#[derive(Debug, Clone, Serialize)]
pub struct EncodedTrack {
    /// WebCodecs codec string, e.g. "opus", "mp4a.40.2", "mp3".
    pub codec: String,
    /// The short codec name used in reports ("opus", "aac", …).
    pub codec_name: String,
    pub sample_rate: u32,
    pub channels: u32,
    /// The decoder's out-of-band set-up (OpusHead, AudioSpecificConfig).
    #[serde(serialize_with = "as_optional_bytes")]
    pub description: Option<Vec<u8>>,
    pub packets: Vec<EncodedPacket>,
    /// True when packets beyond `max_seconds` were left out.
    pub truncated: bool,
    /// The file ends before its container says it does (a cut download).
    pub incomplete: bool,
}

/// Bytes as bytes, not as a list of numbers: a `Uint8Array` in the browser.
pub(super) fn as_optional_bytes<S: serde::Serializer>(bytes: &Option<Vec<u8>>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match bytes {
        Some(b) => s.serialize_bytes(b),
        None => s.serialize_none(),
    }
}

pub(crate) fn as_bytes<S: serde::Serializer>(bytes: &[u8], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_bytes(bytes)
}

/// The WebCodecs name of a codec this module can hand over, or why not.
fn webcodecs_codec(params: &CodecParameters, codec_name: &str) -> Result<String> {
    let unsupported = |hint: &str| Error::UnsupportedCodec { codec: codec_name.to_string(), hint: hint.to_string() };
    match params.codec {
        CODEC_TYPE_OPUS => Ok("opus".into()),
        CODEC_TYPE_MP3 => Ok("mp3".into()),
        CODEC_TYPE_AAC => {
            // The audio object type is the first 5 bits of the AudioSpecificConfig.
            let aot = params.extra_data.as_deref().and_then(|d| d.first()).map(|b| b >> 3).unwrap_or(2);
            Ok(format!("mp4a.40.{aot}"))
        }
        _ => Err(unsupported("no WebCodecs hand-over for this codec; it is decoded natively")),
    }
}

/// The encoded packets of the first audio track, up to `max_seconds`.
pub fn demux_audio(bytes: impl Into<bytes::Bytes>, extension: Option<&str>, max_seconds: f64) -> Result<EncodedTrack> {
    let bytes = bytes.into();
    super::guarded("audio stream", || demux_guarded(bytes, extension, max_seconds))
}

fn demux_guarded(bytes: bytes::Bytes, extension: Option<&str>, max_seconds: f64) -> Result<EncodedTrack> {
    let OpenedTrack { mut format, track_id, params, codec_name, incomplete, .. } = open_first_audio_track(bytes, extension, max_seconds)?;
    let codec = webcodecs_codec(&params, &codec_name)?;
    // Opus tracks come out of `open_first_audio_track` at 48 kHz with their channel count.
    let sample_rate = params.sample_rate.ok_or_else(|| Error::Decode("the stream does not state its sample rate".into()))?;
    let channels = params.channels.map_or(2, |c| c.count() as u32);
    let (numer, denom) = params.time_base.map(|tb| (tb.numer as i64, tb.denom as i64)).unwrap_or((1, sample_rate as i64));
    let to_us = |t: u64| (t as i64).saturating_mul(1_000_000).saturating_mul(numer) / denom.max(1);
    let cap_us = (max_seconds * 1e6) as i64;
    let mut packets = Vec::new();
    let mut truncated = false;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymphoniaError::ResetRequired) => break,
            Err(_) if !packets.is_empty() => break,
            Err(e) => return Err(Error::Decode(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let timestamp_us = to_us(packet.ts());
        if timestamp_us >= cap_us {
            truncated = true;
            break;
        }
        packets.push(EncodedPacket { timestamp_us, duration_us: to_us(packet.dur()), key: true, data: packet.data.to_vec() });
    }
    if packets.is_empty() {
        return Err(Error::Decode(format!("the {codec_name} track holds no packets")));
    }
    Ok(EncodedTrack { codec, codec_name, sample_rate, channels, description: params.extra_data.map(|d| d.to_vec()), packets, truncated, incomplete })
}
