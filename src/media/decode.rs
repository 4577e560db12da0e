//! Audio decoding with symphonia. The container is recognised from the bytes
//! (the extension is only a hint), so misnamed files still decode. AVI and
//! FLV, which symphonia does not read, come through [`IndexedReader`]; Opus,
//! which it does not decode, through libopus natively (the browser hands
//! Opus to WebCodecs instead).

use std::io::Cursor;

use bytes::Bytes;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CodecParameters, CodecRegistry, DecoderOptions, CODEC_TYPE_NULL, CODEC_TYPE_OPUS};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::indexed::{channels, IndexedReader};
use super::video_demux::{mp4_audio_edit, mp4_tables_fit, sniff_container, Container};
use super::Audio;
use crate::error::{Error, Result};

/// Symphonia's decoders, and natively libopus for Opus.
fn codecs() -> &'static CodecRegistry {
    static CODECS: std::sync::OnceLock<CodecRegistry> = std::sync::OnceLock::new();
    CODECS.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        #[cfg(not(target_arch = "wasm32"))]
        registry.register_all::<symphonia_adapter_libopus::OpusDecoder>();
        registry
    })
}

/// Decoded audio and what it was decoded from.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    /// Mono mix at the source sample rate.
    pub audio: Audio,
    pub codec: String,
    /// True when the creative was longer than the analysis cap and was cut.
    pub truncated: bool,
    /// True when the file ends before its container says it does (an
    /// interrupted download): what is there was decoded.
    pub incomplete: bool,
    /// Packets that failed to decode and were skipped (damaged streams).
    pub skipped_packets: usize,
}

/// A container opened on its first audio track.
pub(super) struct OpenedTrack {
    pub format: Box<dyn FormatReader>,
    pub track_id: u32,
    pub params: CodecParameters,
    /// Short codec name, e.g. "aac", "vorbis", "opus".
    pub codec_name: String,
    /// An MP4's audio edit: seconds of priming to skip, seconds to play.
    pub edit: Option<(f64, Option<f64>)>,
    /// The file ends before its container says it does.
    pub incomplete: bool,
}

/// Recognises the container from the bytes (the extension is only a hint)
/// and picks the first audio track.
pub(super) fn open_first_audio_track(bytes: Bytes, extension: Option<&str>, max_seconds: f64) -> Result<OpenedTrack> {
    if bytes.is_empty() {
        return Err(Error::EmptyInput);
    }
    let container = sniff_container(&bytes);
    super::limits::check_flac_metadata(&bytes)?;
    super::limits::check_wav_format(&bytes)?;
    let incomplete = super::repair::cut_short(&bytes, container);
    let mut edit = None;
    let format: Box<dyn FormatReader> = match container {
        Some(c @ (Container::Avi | Container::Flv)) => Box::new(IndexedReader::open(bytes, c, max_seconds)?),
        Some(Container::Mp4) => {
            mp4_tables_fit(&bytes)?;
            edit = mp4_audio_edit(&bytes);
            probe(bytes, extension, container)?
        }
        _ => probe(bytes, extension, container)?,
    };
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL && t.codec_params.sample_rate.is_some())
        .or_else(|| format.tracks().iter().find(|t| t.codec_params.codec != CODEC_TYPE_NULL))
        .ok_or(Error::NoAudioTrack)?;
    let track_id = track.id;
    let mut params = track.codec_params.clone();
    if params.codec == CODEC_TYPE_OPUS {
        // Opus always decodes at 48 kHz; the rate a container states for it
        // is the encoder's input rate, informational only (RFC 7845, 5.1).
        params.sample_rate = Some(48_000);
        if params.channels.is_none() && params.channel_layout.is_none() {
            // OpusHead byte 9 is the channel count.
            params.channels = channels(params.extra_data.as_deref().and_then(|d| d.get(9)).map_or(2, |&c| c as u32));
        }
    }
    // Decoders and the resampler size their buffers from these.
    if let Some(rate) = params.sample_rate {
        super::limits::check_sample_rate(rate)?;
    }
    if let Some(channels) = params.channels {
        super::limits::check_channels(channels.count())?;
    }
    let codec_name = codec_short_name(&params);
    Ok(OpenedTrack { format, track_id, params, codec_name, edit, incomplete })
}

/// Symphonia's own containers, recognised by its probe. A file cut short
/// is read through the patches that make its beginning readable.
fn probe(bytes: Bytes, extension: Option<&str>, container: Option<Container>) -> Result<Box<dyn FormatReader>> {
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let patches = super::repair::patches(&bytes, container);
    let source: Box<dyn symphonia::core::io::MediaSource> =
        if patches.is_empty() { Box::new(Cursor::new(bytes)) } else { Box::new(super::repair::Patched::new(bytes, patches)) };
    let stream = MediaSourceStream::new(source, Default::default());
    let probed = symphonia::default::get_probe()
        .format(&hint, stream, &FormatOptions { enable_gapless: true, ..Default::default() }, &MetadataOptions::default())
        .map_err(|e| match e {
            SymphoniaError::Unsupported(_) => Error::NotMedia("unrecognised container".into()),
            other => Error::NotMedia(other.to_string()),
        })?;
    Ok(probed.format)
}

fn codec_short_name(params: &CodecParameters) -> String {
    if params.codec == CODEC_TYPE_OPUS {
        return "opus".into();
    }
    codecs()
        .get_codec(params.codec)
        .map(|d| d.short_name.to_string())
        .unwrap_or_else(|| format!("{:?}", params.codec))
}

/// Decodes the first audio track of `bytes`, mixed down to mono, keeping at
/// most `max_seconds` of it (a creative's message is in its first minutes;
/// the cap keeps memory bounded for hour-long files).
pub fn decode_audio(bytes: impl Into<Bytes>, extension: Option<&str>, max_seconds: f64) -> Result<DecodedAudio> {
    let bytes = bytes.into();
    super::guarded("audio stream", || decode_guarded(bytes, extension, max_seconds))
}

fn decode_guarded(bytes: Bytes, extension: Option<&str>, max_seconds: f64) -> Result<DecodedAudio> {
    let OpenedTrack { mut format, track_id, params, codec_name, edit, incomplete } = open_first_audio_track(bytes, extension, max_seconds)?;
    let mut decoder = codecs().make(&params, &DecoderOptions::default()).map_err(|e| Error::UnsupportedCodec {
        codec: codec_name.clone(),
        hint: match e {
            SymphoniaError::Unsupported(why) => format!("no decoder for it here ({why})"),
            other => other.to_string(),
        },
    })?;

    let mut samples: Vec<f32> = Vec::new();
    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let mut truncated = false;
    let mut skipped_packets = 0usize;
    let mut decoded_packets = 0usize;
    let mut interleaved: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymphoniaError::ResetRequired) => break,
            // A damaged container tail: keep what was decoded so far.
            Err(_) if decoded_packets > 0 => break,
            Err(e) => return Err(Error::Decode(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let buffer = match decoder.decode(&packet) {
            Ok(b) => b,
            Err(SymphoniaError::DecodeError(_)) | Err(SymphoniaError::IoError(_)) => {
                skipped_packets += 1;
                continue;
            }
            Err(e) => return Err(Error::Decode(e.to_string())),
        };
        decoded_packets += 1;
        let spec = *buffer.spec();
        sample_rate = super::limits::check_sample_rate(spec.rate)?;
        let channels = super::limits::check_channels(spec.channels.count())?;
        let frames = buffer.frames();
        let needed = buffer.capacity() as u64;
        let sb = match &mut interleaved {
            Some(sb) if sb.capacity() as u64 >= needed * channels as u64 => sb,
            slot => slot.insert(SampleBuffer::<f32>::new(needed, spec)),
        };
        sb.copy_interleaved_ref(buffer);
        super::resample::mix_interleaved_into(&sb.samples()[..frames * channels], channels, &mut samples);
        if sample_rate > 0 && samples.len() as f64 >= max_seconds * sample_rate as f64 {
            samples.truncate((max_seconds * sample_rate as f64) as usize);
            truncated = true;
            break;
        }
    }
    if decoded_packets == 0 {
        return Err(Error::Decode(format!("no {codec_name} packet could be decoded")));
    }
    if sample_rate == 0 {
        return Err(Error::Decode("the stream does not state its sample rate".into()));
    }
    if let Some((skip_s, plays_s)) = edit {
        // Play what the edit list says: without the encoder's priming (and,
        // for a whole file, without its padding), as players and ffmpeg do.
        let skip = ((skip_s * sample_rate as f64).round() as usize).min(samples.len());
        samples.drain(..skip);
        if let Some(plays) = plays_s.filter(|_| !truncated) {
            samples.truncate((plays * sample_rate as f64).round() as usize);
        }
    }
    Ok(DecodedAudio { audio: Audio { samples, sample_rate }, codec: codec_name, truncated, incomplete, skipped_packets })
}

impl DecodedAudio {
    /// Audio decoded elsewhere (the browser's WebCodecs or Web Audio), as
    /// interleaved frames: mixed down and capped exactly as [`decode_audio`] does.
    pub fn from_interleaved(
        interleaved: &[f32],
        channels: usize,
        sample_rate: u32,
        codec: &str,
        max_seconds: f64,
    ) -> Result<DecodedAudio> {
        super::limits::check_sample_rate(sample_rate)?;
        super::limits::check_channels(channels)?;
        if interleaved.is_empty() {
            return Err(Error::Decode(format!("no {codec} audio could be decoded")));
        }
        let cap = (max_seconds * sample_rate as f64) as usize;
        let frames = interleaved.len() / channels;
        let kept = frames.min(cap);
        let mut samples = Vec::with_capacity(kept);
        super::resample::mix_interleaved_into(&interleaved[..kept * channels], channels, &mut samples);
        Ok(DecodedAudio {
            audio: Audio { samples, sample_rate },
            codec: codec.to_string(),
            truncated: frames > cap,
            incomplete: false,
            skipped_packets: 0,
        })
    }
}
