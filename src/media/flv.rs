//! FLV (Flash Video): the tags of the file, audio as an [`AudioIndex`] for
//! symphonia's decoders (AAC, MP3, PCM, G.711), video as a [`VideoTrack`]
//! (H.264, whose samples and avcC record FLV already stores in MP4's form),
//! both legacy and "enhanced" (FourCC) tag headers.
//!
//! Written here rather than taken from a crate: the FLV crates found are
//! built for live streaming and re-parse the codec records into structures,
//! where the decoders want the bytes as stored.

use std::ops::Range;

use symphonia::core::codecs::{CodecParameters, CodecType, CODEC_TYPE_MP3, CODEC_TYPE_PCM_ALAW, CODEC_TYPE_PCM_MULAW, CODEC_TYPE_PCM_S16LE, CODEC_TYPE_PCM_U8};
use symphonia::core::units::TimeBase;

use super::indexed::{aac_params, channels, AudioIndex, IndexedPacket};
use super::video_demux::{SampleData, VideoSample, VideoTrack};
use crate::error::{Error, Result};

const AUDIO: u8 = 8;
const VIDEO: u8 = 9;

/// One tag: its type, time in milliseconds and payload.
#[derive(Debug)]
struct Tag {
    kind: u8,
    ms: i64,
    data: Range<usize>,
}

pub(super) fn is_flv(bytes: &[u8]) -> bool {
    bytes.len() >= 9 && &bytes[..3] == b"FLV" && bytes[3] == 1
}

/// Every complete tag up to `cap_s` seconds (and two more), in file order; a
/// truncated last tag is left out. A long file's tags past the analysed
/// stretch are never touched.
fn tags(bytes: &[u8], cap_s: f64) -> Result<Vec<Tag>> {
    if !is_flv(bytes) {
        return Err(Error::NotMedia("not an FLV file".into()));
    }
    let header = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) as usize;
    let mut pos = header.max(9).saturating_add(4); // PreviousTagSize0
    let mut out = Vec::new();
    while let Some(head) = bytes.get(pos..pos + 11) {
        let size = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
        let ms = (u32::from_be_bytes([head[7], head[4], head[5], head[6]]) as i32) as i64;
        let start = pos + 11;
        if start + size > bytes.len() || ms as f64 > (cap_s + 2.0) * 1e3 {
            break;
        }
        // Bit 5 marks an encrypted tag: nothing here can read it.
        if head[0] & 0x20 == 0 {
            out.push(Tag { kind: head[0] & 0x1f, ms, data: start..start + size });
        }
        pos = start + size + 4;
    }
    Ok(out)
}

// ------------------------------------------------------------------ audio

/// What the first byte of an audio tag says, as symphonia codec parameters;
/// AAC's come from its sequence header instead.
fn legacy_audio(flags: u8) -> Result<Option<(CodecParameters, &'static str)>> {
    let format = flags >> 4;
    let rate = [5_512, 11_025, 22_050, 44_100][((flags >> 2) & 3) as usize];
    let bits = if flags & 2 != 0 { 16 } else { 8 };
    let count = if flags & 1 != 0 { 2 } else { 1 };
    let unsupported = |name: &str| Error::UnsupportedCodec { codec: name.to_string(), hint: "this FLV audio codec has no decoder here".into() };
    let plain = |codec: CodecType, rate: u32, bits: Option<u32>| {
        let mut p = CodecParameters::new();
        p.for_codec(codec).with_sample_rate(rate).with_channels(channels(count).expect("1 or 2")).with_time_base(TimeBase::new(1, 1000));
        if let Some(b) = bits {
            p.with_bits_per_sample(b).with_bits_per_coded_sample(b);
        }
        p
    };
    Ok(Some(match format {
        10 => return Ok(None),
        2 => (plain(CODEC_TYPE_MP3, rate, None), "mp3"),
        14 => (plain(CODEC_TYPE_MP3, 8_000, None), "mp3"),
        0 | 3 if bits == 16 => (plain(CODEC_TYPE_PCM_S16LE, rate, Some(16)), "pcm_s16le"),
        0 | 3 => (plain(CODEC_TYPE_PCM_U8, rate, Some(8)), "pcm_u8"),
        7 => (plain(CODEC_TYPE_PCM_ALAW, 8_000, None), "pcm_alaw"),
        8 => (plain(CODEC_TYPE_PCM_MULAW, 8_000, None), "pcm_mulaw"),
        1 => return Err(unsupported("flash adpcm")),
        4..=6 => return Err(unsupported("nellymoser")),
        11 => return Err(unsupported("speex")),
        9 => return Err(unsupported("enhanced FLV audio")),
        f => return Err(unsupported(&format!("FLV sound format {f}"))),
    }))
}

/// The audio of an FLV file as one symphonia track, up to `cap_s` seconds.
pub(super) fn audio_index(bytes: &[u8], cap_s: f64) -> Result<AudioIndex> {
    let tags = tags(bytes, cap_s)?;
    let audio: Vec<&Tag> = tags.iter().filter(|t| t.kind == AUDIO && t.data.len() > 1).collect();
    let first = audio.first().ok_or(Error::NoAudioTrack)?;
    let flags = bytes[first.data.start];
    let (mut params, payload_at) = match legacy_audio(flags)? {
        Some((params, _)) => (params, 1),
        None => {
            // AAC: packet type 0 carries the AudioSpecificConfig, 1 raw frames.
            let config = audio
                .iter()
                .find(|t| bytes.get(t.data.start + 1) == Some(&0))
                .ok_or_else(|| Error::Decode("the FLV AAC stream has no sequence header".into()))?;
            let asc = &bytes[config.data.start + 2..config.data.end];
            let params = aac_params(asc, TimeBase::new(1, 1000)).ok_or_else(|| Error::Decode("the FLV AAC sequence header is damaged".into()))?;
            (params, 2)
        }
    };
    let is_aac = payload_at == 2;
    let frames: Vec<&&Tag> = audio
        .iter()
        .filter(|t| bytes[t.data.start] >> 4 == flags >> 4 && (!is_aac || bytes.get(t.data.start + 1) == Some(&1)))
        .filter(|t| t.data.len() > payload_at)
        .collect();
    let mut index = AudioIndex::default();
    let origin = frames.first().map_or(0, |t| t.ms);
    for (i, t) in frames.iter().enumerate() {
        let ts = (t.ms - origin).max(0) as u64;
        let next = frames.get(i + 1).map(|n| (n.ms - origin).max(0) as u64);
        let dur = next.map(|n| n.saturating_sub(ts)).unwrap_or_else(|| index.packets.last().map_or(0, |p: &IndexedPacket| p.dur));
        index.packets.push(IndexedPacket { track: 0, ts, dur, data: t.data.start + payload_at..t.data.end });
    }
    if index.packets.is_empty() {
        return Err(Error::Decode("the FLV audio stream holds no frames".into()));
    }
    if params.bits_per_sample.is_some() || matches!(params.codec, CODEC_TYPE_PCM_ALAW | CODEC_TYPE_PCM_MULAW) {
        let frame_bytes = (params.bits_per_sample.unwrap_or(8) / 8).max(1) as usize * params.channels.map_or(1, |c| c.count());
        let most = index.packets.iter().map(|p| p.data.len() / frame_bytes).max().unwrap_or(1);
        params.with_max_frames_per_packet(most.max(1) as u64);
    }
    index.tracks.push(params);
    Ok(index)
}

// ------------------------------------------------------------------ video

/// What a video tag holds, read from its header.
enum VideoPacket<'a> {
    /// The decoder configuration (avcC for H.264).
    Config(&'a [u8]),
    /// A coded picture, shown `cts_ms` after its decode time.
    Frame { key: bool, cts_ms: i64, data: &'a [u8] },
    /// Commands, sequence ends, metadata: nothing to decode.
    Other,
}

fn si24(b: &[u8]) -> i64 {
    ((i32::from_be_bytes([b[0], b[1], b[2], 0])) >> 8) as i64
}

/// The codec of a video tag and its packet.
fn video_packet(tag: &[u8]) -> (String, VideoPacket<'_>) {
    let Some(&first) = tag.first() else { return (String::new(), VideoPacket::Other) };
    let frame_type = (first >> 4) & 7;
    let key = frame_type == 1 || frame_type == 4;
    if first & 0x80 != 0 {
        // Enhanced RTMP/FLV: packet type in the low bits, then a FourCC.
        let Some(cc) = tag.get(1..5) else { return (String::new(), VideoPacket::Other) };
        let codec = match cc {
            b"avc1" => "h264".to_string(),
            b"hvc1" => "hevc".into(),
            b"av01" => "av1".into(),
            b"vp09" => "vp9".into(),
            other => format!("'{}'", String::from_utf8_lossy(other)),
        };
        let body = &tag[5..];
        let packet = match first & 0x0f {
            _ if frame_type == 5 => VideoPacket::Other,
            0 => VideoPacket::Config(body),
            1 if codec == "h264" || codec == "hevc" => match body.get(..3) {
                Some(c) => VideoPacket::Frame { key, cts_ms: si24(c), data: &body[3..] },
                None => VideoPacket::Other,
            },
            1 | 3 => VideoPacket::Frame { key, cts_ms: 0, data: body },
            _ => VideoPacket::Other,
        };
        return (codec, packet);
    }
    let codec = match first & 0x0f {
        7 => "h264".to_string(),
        12 => "hevc".into(),
        2 => "flv1 (Sorenson H.263)".into(),
        4 | 5 => "vp6".into(),
        3 | 6 => "flash screen video".into(),
        c => format!("FLV video codec {c}"),
    };
    if frame_type == 5 {
        return (codec, VideoPacket::Other);
    }
    let packet = if matches!(first & 0x0f, 7 | 12) {
        match (tag.get(1), tag.get(2..5)) {
            (Some(0), Some(_)) => VideoPacket::Config(&tag[5..]),
            (Some(1), Some(c)) => VideoPacket::Frame { key, cts_ms: si24(c), data: &tag[5..] },
            _ => VideoPacket::Other,
        }
    } else {
        VideoPacket::Frame { key, cts_ms: 0, data: &tag[1..] }
    };
    (codec, packet)
}

/// The video of an FLV file.
pub(super) fn video_track(bytes: &[u8]) -> Result<VideoTrack> {
    let tags = tags(bytes, super::MAX_ANALYSED_SECONDS)?;
    let mut codec = None;
    let mut config = None;
    let mut samples = Vec::new();
    for tag in tags.iter().filter(|t| t.kind == VIDEO) {
        let (name, packet) = video_packet(&bytes[tag.data.clone()]);
        if name.is_empty() || codec.as_ref().is_some_and(|c| *c != name) {
            continue;
        }
        codec.get_or_insert(name);
        match packet {
            VideoPacket::Config(record) if config.is_none() => config = Some(record.to_vec()),
            VideoPacket::Frame { key, cts_ms, data } if !data.is_empty() => {
                let start = data.as_ptr() as usize - bytes.as_ptr() as usize;
                samples.push(VideoSample { pts_s: (tag.ms + cts_ms) as f64 / 1e3, is_key: key, data: SampleData::Range(start..start + data.len()) });
            }
            _ => {}
        }
    }
    let codec = codec.ok_or(Error::NoVideoTrack)?;
    if codec == "h264" && config.is_none() {
        return Err(Error::VideoDecode("the FLV H.264 stream has no sequence header (avcC)".into()));
    }
    // The last frame lasts as long as the shortest gap between frames.
    let mut shown: Vec<f64> = samples.iter().map(|s| s.pts_s).collect();
    shown.sort_by(f64::total_cmp);
    let gap = shown.windows(2).map(|w| w[1] - w[0]).filter(|&d| d > 0.0).fold(f64::INFINITY, f64::min);
    let duration_s = shown.last().map_or(0.0, |&l| l + if gap.is_finite() { gap } else { 0.04 });
    Ok(VideoTrack { codec, config, samples, duration_s })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(kind: u8, ms: u32, data: &[u8]) -> Vec<u8> {
        let mut t = vec![kind];
        t.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
        t.extend_from_slice(&ms.to_be_bytes()[1..]);
        t.push((ms >> 24) as u8);
        t.extend_from_slice(&[0, 0, 0]);
        t.extend_from_slice(data);
        t.extend_from_slice(&(11 + data.len() as u32).to_be_bytes());
        t
    }

    fn file(tags: &[Vec<u8>]) -> Vec<u8> {
        let mut f = b"FLV\x01\x05\0\0\0\x09\0\0\0\0".to_vec();
        tags.iter().for_each(|t| f.extend_from_slice(t));
        f
    }

    #[test]
    fn tags_are_read_and_a_cut_last_tag_is_dropped() {
        let mut f = file(&[tag(AUDIO, 0, &[0x2f, 1, 2]), tag(VIDEO, 40, &[0x17, 1, 0, 0, 0, 9]), tag(AUDIO, 0x0100_0000, &[0x2f])]);
        let all = tags(&f, 1e9).unwrap();
        assert_eq!(all.iter().map(|t| (t.kind, t.ms)).collect::<Vec<_>>(), vec![(8, 0), (9, 40), (8, 0x0100_0000)]);
        f.truncate(f.len() - 6);
        assert_eq!(tags(&f, 1e9).unwrap().len(), 2);
        assert_eq!(tags(&f, 1.0).unwrap().len(), 2, "tags past the cap are not read");
        assert!(tags(b"FLV", 1e9).is_err());
    }

    #[test]
    fn composition_offsets_are_signed() {
        assert_eq!(si24(&[0, 0, 40]), 40);
        assert_eq!(si24(&[0xff, 0xff, 0xd8]), -40);
    }

    #[test]
    fn h264_pictures_are_timed_by_decode_time_plus_offset() {
        let record = [1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 2, 0x67, 0x42, 1, 0, 1, 0x68];
        let mut seq = vec![0x17, 0, 0, 0, 0];
        seq.extend_from_slice(&record);
        let f = file(&[tag(VIDEO, 0, &seq), tag(VIDEO, 0, &[0x17, 1, 0, 0, 80, 0, 0, 0, 1, 0x65]), tag(VIDEO, 40, &[0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41])]);
        let track = video_track(&f).unwrap();
        assert_eq!((track.codec.as_str(), track.config.as_deref()), ("h264", Some(&record[..])));
        assert_eq!(track.samples.iter().map(|s| (s.pts_s, s.is_key)).collect::<Vec<_>>(), vec![(0.08, true), (0.04, false)]);
        assert!((track.duration_s - 0.12).abs() < 1e-9);
    }

    #[test]
    fn codecs_without_a_decoder_say_which() {
        let f = file(&[tag(AUDIO, 0, &[0x6f, 1, 2, 3])]);
        let err = audio_index(&f, 600.0).unwrap_err().to_string();
        assert!(err.contains("nellymoser"), "{err}");
        assert!(matches!(audio_index(&file(&[]), 600.0), Err(Error::NoAudioTrack)));
    }
}
