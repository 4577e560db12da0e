//! A symphonia [`FormatReader`] over a container that has been indexed up
//! front (AVI, FLV): the audio tracks' codec parameters and where each of
//! their packets lies in the file. Symphonia has no reader for these two
//! containers; with this one its decoders (MP3, AAC, PCM, ADPCM) and
//! everything built on them (`decode_audio`, `demux_audio`) read them too.

use std::io::{Cursor, Read};
use std::ops::Range;

use bytes::Bytes;

use symphonia::core::audio::Channels;
use symphonia::core::codecs::{CodecParameters, CODEC_TYPE_AAC};
use symphonia::core::errors::{Error as SymphoniaError, Result as SymphoniaResult};
use symphonia::core::formats::{Cue, FormatOptions, FormatReader, Packet, SeekMode, SeekTo, SeekedTo, Track};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::{Metadata, MetadataLog};
use symphonia::core::units::TimeBase;

use super::video_demux::{sniff_container, Container};

/// One audio packet: its time in the track's time base and its bytes.
#[derive(Debug, Clone)]
pub(super) struct IndexedPacket {
    pub track: u32,
    pub ts: u64,
    pub dur: u64,
    pub data: Range<usize>,
}

/// The audio of an indexed container, packets in file order.
#[derive(Debug, Default)]
pub(super) struct AudioIndex {
    pub tracks: Vec<CodecParameters>,
    pub packets: Vec<IndexedPacket>,
}

pub(super) struct IndexedReader {
    bytes: Bytes,
    tracks: Vec<Track>,
    packets: std::vec::IntoIter<IndexedPacket>,
    metadata: MetadataLog,
}

impl IndexedReader {
    /// The reader for an AVI or FLV file, its packets up to `max_seconds`.
    pub fn open(bytes: Bytes, container: Container, max_seconds: f64) -> crate::error::Result<IndexedReader> {
        let index = match container {
            Container::Avi => super::avi::audio_index(&bytes, max_seconds)?,
            Container::Flv => super::flv::audio_index(&bytes, max_seconds)?,
            other => return Err(crate::error::Error::Invalid(format!("{other:?} is read by symphonia, not indexed"))),
        };
        Ok(Self::new(bytes, index))
    }

    fn new(bytes: Bytes, index: AudioIndex) -> Self {
        let tracks = index.tracks.into_iter().enumerate().map(|(id, params)| Track::new(id as u32, params)).collect();
        IndexedReader { bytes, tracks, packets: index.packets.into_iter(), metadata: MetadataLog::default() }
    }
}

impl FormatReader for IndexedReader {
    fn try_new(mut source: MediaSourceStream, _options: &FormatOptions) -> SymphoniaResult<Self> {
        let mut bytes = Vec::new();
        source.read_to_end(&mut bytes)?;
        match sniff_container(&bytes).filter(|c| matches!(c, Container::Avi | Container::Flv)) {
            Some(container) => Self::open(bytes.into(), container, f64::INFINITY)
                .map_err(|_| SymphoniaError::DecodeError("damaged AVI/FLV headers")),
            None => Err(SymphoniaError::Unsupported("neither AVI nor FLV")),
        }
    }

    fn cues(&self) -> &[Cue] {
        &[]
    }

    fn metadata(&mut self) -> Metadata<'_> {
        self.metadata.metadata()
    }

    fn seek(&mut self, _mode: SeekMode, _to: SeekTo) -> SymphoniaResult<SeekedTo> {
        // Creatives are read from the start; nothing here seeks.
        Err(SymphoniaError::Unsupported("seeking in AVI/FLV audio"))
    }

    fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    fn next_packet(&mut self) -> SymphoniaResult<Packet> {
        let p = self
            .packets
            .next()
            .ok_or_else(|| SymphoniaError::IoError(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "end of stream")))?;
        // The index was built against these bytes, so the range is inside them.
        Ok(Packet::new_from_slice(p.track, p.ts, p.dur, &self.bytes[p.data]))
    }

    fn into_inner(self: Box<Self>) -> MediaSourceStream {
        MediaSourceStream::new(Box::new(Cursor::new(self.bytes)), Default::default())
    }
}

/// The first `count` channels in WAVE order (mono is front-left alone).
pub(super) fn channels(count: u32) -> Option<Channels> {
    (1..=18).contains(&count).then(|| Channels::from_bits_truncate((1u32 << count) - 1))
}

/// Sample rate and channel count from an AAC AudioSpecificConfig
/// (ISO/IEC 14496-3, 1.6.2.1), which the FLV and AVI headers may contradict.
pub(super) fn aac_config(asc: &[u8]) -> Option<(u32, u32)> {
    const RATES: [u32; 13] = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
    if asc.len() < 2 {
        return None;
    }
    let bits = asc.iter().take(8).fold(0u64, |v, &b| (v << 8) | b as u64) << (8 * (8 - asc.len().min(8)));
    let mut pos = 0;
    let mut take = |n: u32| {
        let v = (bits >> (64 - pos - n)) & ((1 << n) - 1);
        pos += n;
        v as u32
    };
    if take(5) == 31 {
        take(6);
    }
    let index = take(4);
    let rate = if index == 15 { take(24) } else { *RATES.get(index as usize)? };
    let channel_config = take(4);
    let channels = match channel_config {
        0 => return None,
        7 => 8,
        c @ 1..=6 => c,
        _ => return None,
    };
    (rate > 0).then_some((rate, channels))
}

/// Codec parameters for AAC given its AudioSpecificConfig.
pub(super) fn aac_params(asc: &[u8], time_base: TimeBase) -> Option<CodecParameters> {
    let (rate, count) = aac_config(asc)?;
    let mut params = CodecParameters::new();
    params
        .for_codec(CODEC_TYPE_AAC)
        .with_sample_rate(rate)
        .with_channels(channels(count)?)
        .with_time_base(time_base)
        .with_extra_data(asc.to_vec().into_boxed_slice());
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_specific_config_is_read() {
        // AAC-LC, 44.1 kHz, stereo (ffmpeg's usual 0x12 0x10).
        assert_eq!(aac_config(&[0x12, 0x10]), Some((44_100, 2)));
        // AAC-LC, 16 kHz, mono.
        assert_eq!(aac_config(&[0x14, 0x08]), Some((16_000, 1)));
        assert_eq!(aac_config(&[0x12]), None);
        assert_eq!(aac_config(&[]), None);
        assert_eq!(aac_config(&[0x17, 0x80]), None, "sampling index 15 needs 24 more bits");
    }

    #[test]
    fn channel_masks_count_channels() {
        assert_eq!(channels(1).unwrap().count(), 1);
        assert_eq!(channels(6).unwrap().count(), 6);
        assert!(channels(0).is_none());
    }
}
