//! AVI (RIFF `AVI `): the stream headers of `hdrl` and the chunks of every
//! `movi` list, including the `AVIX` extensions OpenDML writes past 1 GB.
//! Audio becomes an [`AudioIndex`] for symphonia's decoders; video a
//! [`VideoTrack`], with H.264 turned from the start-code form AVI stores
//! into the length-prefixed form and `avcC` record the decoders here and
//! WebCodecs take.
//!
//! Written here rather than taken from a crate: the AVI crates found either
//! belong to another media framework or read video only.

use std::ops::Range;

use symphonia::core::codecs::{
    CodecParameters, CodecType, CODEC_TYPE_MP3, CODEC_TYPE_PCM_ALAW, CODEC_TYPE_PCM_F32LE, CODEC_TYPE_PCM_F64LE,
    CODEC_TYPE_PCM_MULAW, CODEC_TYPE_PCM_S16LE, CODEC_TYPE_PCM_S24LE, CODEC_TYPE_PCM_S32LE, CODEC_TYPE_PCM_U8,
};
use symphonia::core::units::TimeBase;

use super::h264;
use super::indexed::{aac_params, channels, AudioIndex, IndexedPacket};
use super::video_demux::{SampleData, VideoSample, VideoTrack};
use crate::error::{Error, Result};

/// A stream's `strh` and `strf`.
#[derive(Debug)]
struct Stream {
    kind: [u8; 4],
    handler: [u8; 4],
    scale: u32,
    rate: u32,
    start: u32,
    sample_size: u32,
    format: Vec<u8>,
}

impl Stream {
    /// Seconds per chunk (video frame, or audio block when `sample_size` is 0).
    fn chunk_seconds(&self) -> f64 {
        if self.rate == 0 {
            0.0
        } else {
            self.scale as f64 / self.rate as f64
        }
    }

    /// How long a chunk of `len` bytes of this stream plays: a frame or block,
    /// or, for a stream of fixed-size samples, `len / sample_size` of them.
    fn chunk_duration(&self, len: usize) -> f64 {
        if self.sample_size == 0 || &self.kind != b"auds" {
            self.chunk_seconds()
        } else {
            len as f64 / self.sample_size as f64 * self.chunk_seconds()
        }
    }
}

/// One `movi` chunk: its stream and its payload.
#[derive(Debug)]
struct Chunk {
    stream: usize,
    data: Range<usize>,
}

#[derive(Debug)]
struct Avi {
    streams: Vec<Stream>,
    chunks: Vec<Chunk>,
    /// Seconds of each stream among `chunks`.
    elapsed: Vec<f64>,
}

impl Avi {
    /// Whether every audio and video stream has reached `cap_s`: the walk
    /// stops there, so a long file's chunk headers past the analysed stretch
    /// are never touched.
    fn past(&self, cap_s: f64) -> bool {
        self.streams.iter().zip(&self.elapsed).all(|(s, &t)| !matches!(&s.kind, b"auds" | b"vids") || t > cap_s)
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2).map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn fourcc(b: &[u8], at: usize) -> [u8; 4] {
    b.get(at..at + 4).and_then(|s| s.try_into().ok()).unwrap_or([0; 4])
}

/// RIFF chunks of `bytes[range]`: (id, payload). A chunk that claims more
/// than the file holds is cut at its end (a truncated download).
fn chunks(bytes: &[u8], range: Range<usize>) -> impl Iterator<Item = ([u8; 4], Range<usize>)> + '_ {
    let end = range.end.min(bytes.len());
    let mut pos = range.start;
    std::iter::from_fn(move || {
        if pos.checked_add(8)? > end {
            return None;
        }
        let id = fourcc(bytes, pos);
        let size = le32(bytes, pos + 4) as usize;
        let start = pos + 8;
        let claimed = start.saturating_add(size);
        if claimed <= end {
            // Chunks are padded to an even size.
            pos = claimed.saturating_add(size & 1);
            return Some((id, start..claimed));
        }
        // A size past its parent: a damaged header, or a file cut short. As
        // ffmpeg does, the chunk ends where the next plausible one starts
        // (else at the end), so the chunks after it are not read as its data.
        // Lists hold chunks: theirs is the file cut short.
        let stop = if matches!(&id, b"RIFF" | b"LIST") { end } else { resync(bytes, start, end).unwrap_or(end) };
        pos = stop;
        Some((id, start..stop))
    })
}

/// The first offset after `from` (at an even distance) where a chunk that
/// fits before `end` starts: a stream's data (`01wb`, `00dc`, …) or a list.
fn resync(bytes: &[u8], from: usize, end: usize) -> Option<usize> {
    let plausible = |at: usize| {
        let id = fourcc(bytes, at);
        let known = matches!(&id, b"LIST" | b"JUNK" | b"idx1")
            || (id[0].is_ascii_digit() && id[1].is_ascii_digit() && matches!(&id[2..], b"wb" | b"dc" | b"db" | b"pc" | b"tx"));
        known && (at + 8).saturating_add(le32(bytes, at + 4) as usize) <= end
    };
    (from..end.checked_sub(8)?).step_by(2).find(|&at| plausible(at))
}

/// The list type and the children's range of a `LIST` payload.
fn list(bytes: &[u8], payload: &Range<usize>) -> Option<([u8; 4], Range<usize>)> {
    (payload.len() >= 4).then(|| (fourcc(bytes, payload.start), payload.start + 4..payload.end))
}

pub(super) fn is_avi(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"AVI "
}

/// The file's streams and their chunks up to `cap_s` seconds (and a couple
/// more, for the audio decoder's and the video's reordering slack).
fn parse(bytes: &[u8], cap_s: f64) -> Result<Avi> {
    if !is_avi(bytes) {
        return Err(Error::NotMedia("not an AVI file".into()));
    }
    let mut avi = Avi { streams: Vec::new(), chunks: Vec::new(), elapsed: Vec::new() };
    let mut movi_lists = Vec::new();
    // The first RIFF is `AVI `; OpenDML continues in `AVIX` RIFFs after it.
    for (id, riff) in chunks(bytes, 0..bytes.len()) {
        if &id != b"RIFF" || riff.len() < 4 {
            break;
        }
        for (id, payload) in chunks(bytes, riff.start + 4..riff.end) {
            let Some((kind, children)) = (&id == b"LIST").then(|| list(bytes, &payload)).flatten() else {
                continue;
            };
            match &kind {
                b"hdrl" if avi.streams.is_empty() => avi.streams = streams(bytes, children),
                b"movi" => movi_lists.push(children),
                _ => {}
            }
        }
    }
    if avi.streams.is_empty() {
        return Err(Error::NotMedia("the AVI file has no stream headers (hdrl)".into()));
    }
    avi.elapsed = vec![0.0; avi.streams.len()];
    for movi in movi_lists {
        if collect_chunks(bytes, movi, &mut avi, false, cap_s + 2.0) {
            break;
        }
    }
    Ok(avi)
}

fn streams(bytes: &[u8], hdrl: Range<usize>) -> Vec<Stream> {
    let mut out = Vec::new();
    for (id, payload) in chunks(bytes, hdrl) {
        let Some((kind, children)) = (&id == b"LIST").then(|| list(bytes, &payload)).flatten() else {
            continue;
        };
        if &kind != b"strl" {
            continue;
        }
        let mut header = None;
        let mut format = Vec::new();
        for (id, p) in chunks(bytes, children) {
            match &id {
                b"strh" => header = Some(p),
                b"strf" => format = bytes[p].to_vec(),
                _ => {}
            }
        }
        // Streams are numbered by their place, so one without a header still counts.
        let h = header.map(|r| &bytes[r]).unwrap_or(&[]);
        out.push(Stream {
            kind: fourcc(h, 0),
            handler: fourcc(h, 4),
            scale: le32(h, 20),
            rate: le32(h, 24),
            start: le32(h, 28),
            sample_size: le32(h, 44),
            format,
        });
    }
    out
}

/// Data chunks are named `NNxx`: stream number NN in decimal, then the type.
fn stream_of(id: &[u8; 4]) -> Option<usize> {
    let digit = |b: u8| b.is_ascii_digit().then(|| (b - b'0') as usize);
    Some(digit(id[0])? * 10 + digit(id[1])?)
}

/// Appends the chunks of a `movi` list; true once past `cap_s`. `rec `
/// lists group chunks one level below `movi`; they do not nest.
fn collect_chunks(bytes: &[u8], movi: Range<usize>, avi: &mut Avi, in_rec: bool, cap_s: f64) -> bool {
    for (id, payload) in chunks(bytes, movi) {
        if &id == b"LIST" {
            if let Some((_, children)) = list(bytes, &payload).filter(|(kind, _)| kind == b"rec " && !in_rec) {
                if collect_chunks(bytes, children, avi, true, cap_s) {
                    return true;
                }
            }
            continue;
        }
        if let Some(stream) = stream_of(&id).filter(|&s| s < avi.streams.len()) {
            // `pc` chunks change a palette; they carry no samples.
            if &id[2..] != b"pc" {
                avi.elapsed[stream] += avi.streams[stream].chunk_duration(payload.len());
                avi.chunks.push(Chunk { stream, data: payload });
                if avi.past(cap_s) {
                    return true;
                }
            }
        }
    }
    false
}

// ------------------------------------------------------------------ audio

/// `WAVEFORMATEX`: the codec, and what its decoder needs.
fn audio_params(stream: &Stream, codec_hint: &mut String) -> Result<(CodecParameters, u32)> {
    let f = &stream.format;
    let mut tag = le16(f, 0);
    let (count, rate, block_align, bits) = (le16(f, 2) as u32, le32(f, 4), le16(f, 12) as u32, le16(f, 14) as u32);
    let extra = f.get(18..18 + le16(f, 16) as usize).unwrap_or(&[]);
    if tag == 0xFFFE {
        // WAVE_FORMAT_EXTENSIBLE: the real tag leads the sub-format GUID.
        tag = le16(f, 24);
    }
    let unsupported = |name: &str| Error::UnsupportedCodec { codec: name.to_string(), hint: "this AVI audio codec has no decoder here".into() };
    if rate == 0 {
        return Err(Error::Decode("the AVI audio stream states no sample rate".into()));
    }
    let chans = channels(count).ok_or_else(|| Error::Decode(format!("the AVI audio stream states {count} channels")))?;
    let time_base = TimeBase::new(1, rate);
    let pcm = |codec: CodecType, name: &str, codec_hint: &mut String| {
        *codec_hint = name.to_string();
        let mut p = CodecParameters::new();
        p.for_codec(codec).with_sample_rate(rate).with_channels(chans).with_time_base(time_base).with_bits_per_sample(bits).with_bits_per_coded_sample(bits);
        p
    };
    let params = match (tag, bits) {
        (0x0001, 8) => pcm(CODEC_TYPE_PCM_U8, "pcm_u8", codec_hint),
        (0x0001, 16) => pcm(CODEC_TYPE_PCM_S16LE, "pcm_s16le", codec_hint),
        (0x0001, 24) => pcm(CODEC_TYPE_PCM_S24LE, "pcm_s24le", codec_hint),
        (0x0001, 32) => pcm(CODEC_TYPE_PCM_S32LE, "pcm_s32le", codec_hint),
        (0x0003, 32) => pcm(CODEC_TYPE_PCM_F32LE, "pcm_f32le", codec_hint),
        (0x0003, 64) => pcm(CODEC_TYPE_PCM_F64LE, "pcm_f64le", codec_hint),
        (0x0006, _) => pcm(CODEC_TYPE_PCM_ALAW, "pcm_alaw", codec_hint),
        (0x0007, _) => pcm(CODEC_TYPE_PCM_MULAW, "pcm_mulaw", codec_hint),
        (0x0055, _) => {
            *codec_hint = "mp3".into();
            let mut p = CodecParameters::new();
            p.for_codec(CODEC_TYPE_MP3).with_sample_rate(rate).with_channels(chans).with_time_base(time_base);
            p
        }
        (0x00FF | 0x1600 | 0x706D, _) => {
            *codec_hint = "aac".into();
            aac_params(extra, time_base).ok_or_else(|| Error::Decode("the AVI AAC stream has no usable AudioSpecificConfig".into()))?
        }
        (0x0001 | 0x0003, b) => return Err(unsupported(&format!("{b}-bit pcm"))),
        (0x0050, _) => return Err(unsupported("mp2")),
        (0x0002 | 0x0011, _) => return Err(unsupported("adpcm")),
        (0x2000, _) => return Err(unsupported("ac3")),
        (t, _) => return Err(unsupported(&format!("WAVE format 0x{t:04x}"))),
    };
    Ok((params, block_align))
}

/// The first audio stream of an AVI file as symphonia tracks and packets,
/// up to `cap_s` seconds.
pub(super) fn audio_index(bytes: &[u8], cap_s: f64) -> Result<AudioIndex> {
    let avi = parse(bytes, cap_s)?;
    let Some((number, stream)) = avi.streams.iter().enumerate().find(|(_, s)| &s.kind == b"auds") else {
        return Err(Error::NoAudioTrack);
    };
    let mut codec = String::new();
    let (mut params, block_align) = audio_params(stream, &mut codec)?;
    let rate = params.sample_rate.unwrap_or(1) as f64;
    let is_pcm = params.codec != CODEC_TYPE_MP3 && params.extra_data.is_none();
    let mut index = AudioIndex::default();
    let mut ts = (stream.start as f64 * stream.chunk_seconds() * rate) as u64;
    let mut max_frames = 0u64;
    for chunk in avi.chunks.iter().filter(|c| c.stream == number && !c.data.is_empty()) {
        let dur = if is_pcm {
            let frames = chunk.data.len() as u64 / block_align.max(1) as u64;
            max_frames = max_frames.max(frames);
            frames
        } else if stream.sample_size == 0 {
            // One coded block per chunk, each lasting scale/rate seconds.
            (stream.chunk_seconds() * rate).round() as u64
        } else {
            // A byte stream at the average rate the format states.
            let per_second = le32(&stream.format, 8).max(1) as f64;
            (chunk.data.len() as f64 / per_second * rate).round() as u64
        };
        index.packets.push(IndexedPacket { track: 0, ts, dur, data: chunk.data.clone() });
        ts += dur;
    }
    if index.packets.is_empty() {
        return Err(Error::Decode(format!("the AVI {codec} stream holds no audio")));
    }
    if is_pcm {
        params.with_max_frames_per_packet(max_frames.max(1));
    }
    index.tracks.push(params);
    Ok(index)
}

// ------------------------------------------------------------------ video

fn video_codec(stream: &Stream) -> String {
    // The format's biCompression is the authority; the stream handler is a hint.
    let compression = fourcc(&stream.format, 16);
    let name = |mut cc: [u8; 4]| -> Option<&'static str> {
        cc.make_ascii_uppercase();
        Some(match &cc {
            b"H264" | b"X264" | b"AVC1" | b"DAVC" | b"VSSH" => "h264",
            b"HEVC" | b"H265" | b"HVC1" | b"HEV1" => "hevc",
            b"FMP4" | b"XVID" | b"DIVX" | b"DX50" | b"MP4V" | b"M4S2" => "mpeg4",
            b"MJPG" => "mjpeg",
            b"VP80" => "vp8",
            b"VP90" => "vp9",
            b"AV01" => "av1",
            _ => return None,
        })
    };
    name(compression)
        .or_else(|| name(stream.handler))
        .map(str::to_string)
        .unwrap_or_else(|| format!("'{}'", String::from_utf8_lossy(&compression).trim_end_matches('\0')))
}

/// Start-code (Annex B) NAL units of `data`.
fn annexb_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let ends: Vec<usize> = starts.iter().skip(1).map(|&s| s - 3).chain(std::iter::once(data.len())).collect();
    starts.into_iter().zip(ends).map(move |(s, e)| {
        // A four-byte start code leaves a zero at the end of the unit before.
        let mut e = e;
        while e > s && data[e - 1] == 0 {
            e -= 1;
        }
        &data[s..e]
    })
}

/// The avcC record for parameter sets found in the stream.
fn avcc_record(sps: &[Vec<u8>], pps: &[Vec<u8>]) -> Option<Vec<u8>> {
    let first = sps.first().filter(|s| s.len() >= 4)?;
    if pps.is_empty() {
        return None;
    }
    let mut r = vec![1, first[1], first[2], first[3], 0xFF, 0xE0 | sps.len().min(31) as u8];
    for s in sps.iter().take(31) {
        r.extend_from_slice(&(s.len() as u16).to_be_bytes());
        r.extend_from_slice(s);
    }
    r.push(pps.len().min(255) as u8);
    for p in pps.iter().take(255) {
        r.extend_from_slice(&(p.len() as u16).to_be_bytes());
        r.extend_from_slice(p);
    }
    Some(r)
}

/// Start-code H.264 access units as they are, marked key where they hold an
/// IDR slice, with the stream's parameter sets gathered into an avcC record;
/// they are made length-prefixed one at a time when read
/// ([`VideoTrack::sample_bytes`]), so nothing is copied here.
fn h264_from_annexb(bytes: &[u8], samples: &mut [VideoSample], extradata: &[u8]) -> Option<Vec<u8>> {
    let (mut sps, mut pps) = (Vec::new(), Vec::new());
    let mut note = |nal: &[u8]| match nal.first().map(|b| b & 0x1f) {
        Some(7) if !sps.iter().any(|s: &Vec<u8>| s == nal) => sps.push(nal.to_vec()),
        Some(8) if !pps.iter().any(|p: &Vec<u8>| p == nal) => pps.push(nal.to_vec()),
        _ => {}
    };
    annexb_units(extradata).for_each(&mut note);
    for sample in samples.iter_mut() {
        let SampleData::Range(range) = &sample.data else { continue };
        let mut idr = false;
        for nal in annexb_units(&bytes[range.clone()]) {
            idr |= nal.first().map(|b| b & 0x1f) == Some(5);
            note(nal);
        }
        sample.is_key = idr;
        sample.data = SampleData::AnnexB(range.clone());
    }
    avcc_record(&sps, &pps)
}

/// An Annex B access unit with 4-byte lengths instead of start codes.
pub(super) fn annexb_to_avcc(unit: &[u8]) -> Vec<u8> {
    let mut avcc = Vec::with_capacity(unit.len() + 16);
    for nal in annexb_units(unit).filter(|n| !n.is_empty()) {
        avcc.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        avcc.extend_from_slice(nal);
    }
    avcc
}

/// The first video stream of an AVI file.
pub(super) fn video_track(bytes: &[u8]) -> Result<VideoTrack> {
    let avi = parse(bytes, super::MAX_ANALYSED_SECONDS)?;
    let Some((number, stream)) = avi.streams.iter().enumerate().find(|(_, s)| &s.kind == b"vids") else {
        return Err(Error::NoVideoTrack);
    };
    let codec = video_codec(stream);
    let frame_s = stream.chunk_seconds();
    if !(frame_s > 0.0 && frame_s.is_finite()) {
        return Err(Error::NotMedia("the AVI video stream states no frame rate".into()));
    }
    let extradata = stream.format.get((le32(&stream.format, 0) as usize).max(40)..).unwrap_or(&[]);
    let mut samples = Vec::new();
    let mut frame = stream.start as u64;
    for chunk in avi.chunks.iter().filter(|c| c.stream == number) {
        // An empty chunk is a dropped frame: the picture before stays on screen.
        if !chunk.data.is_empty() {
            samples.push(VideoSample { pts_s: frame as f64 * frame_s, is_key: samples.is_empty(), data: SampleData::Range(chunk.data.clone()) });
        }
        frame += 1;
    }
    let duration_s = frame as f64 * frame_s;
    let config = if codec != "h264" {
        None
    } else if extradata.first() == Some(&1) {
        // Some muxers store MP4-style samples with an avcC record.
        for s in samples.iter_mut() {
            if let SampleData::Range(r) = &s.data {
                s.is_key = h264::has_idr(&bytes[r.clone()], Some(extradata));
            }
        }
        Some(extradata.to_vec())
    } else {
        h264_from_annexb(bytes, &mut samples, extradata)
    };
    if codec == "h264" && config.is_none() {
        return Err(Error::VideoDecode("the AVI H.264 stream carries no parameter sets (SPS/PPS)".into()));
    }
    Ok(VideoTrack { codec, config, samples, duration_s })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_codes_of_either_length_split_units() {
        let data = [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5];
        let units: Vec<&[u8]> = annexb_units(&data).collect();
        assert_eq!(units, vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4, 5][..]]);
        assert_eq!(annexb_units(&[1, 2, 3]).count(), 0);
    }

    #[test]
    fn parameter_sets_become_an_avcc_record() {
        let sps = vec![0x67, 0x42, 0xC0, 0x1E, 0xAA];
        let pps = vec![0x68, 0xCE];
        let record = avcc_record(&[sps.clone()], &[pps.clone()]).unwrap();
        let parsed = h264::parse_avcc(&record).unwrap();
        assert_eq!((parsed.length_size, parsed.sps, parsed.pps), (4, vec![sps], vec![pps]));
        assert!(avcc_record(&[], &[vec![0x68]]).is_none());
    }

    #[test]
    fn chunk_ids_name_their_stream() {
        assert_eq!(stream_of(b"00dc"), Some(0));
        assert_eq!(stream_of(b"01wb"), Some(1));
        assert_eq!(stream_of(b"12dc"), Some(12));
        assert_eq!(stream_of(b"ix00"), None);
        assert_eq!(stream_of(b"JUNK"), None);
    }

    #[test]
    fn chunk_walk_stops_at_the_end_of_a_truncated_file() {
        // A chunk claiming 100 bytes in a 12-byte file is cut, not overrun.
        let mut bytes = b"00dc".to_vec();
        bytes.extend_from_slice(&100u32.to_le_bytes());
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        let all: Vec<_> = chunks(&bytes, 0..bytes.len()).collect();
        assert_eq!(all, vec![(*b"00dc", 8..12)]);
        assert!(parse(b"RIFF\x04\0\0\0AVI ", 600.0).is_err());
    }

    #[test]
    fn a_chunk_claiming_too_much_ends_where_the_next_one_starts() {
        let chunk = |id: &[u8; 4], size: u32, data: &[u8]| [&id[..], &size.to_le_bytes(), data].concat();
        let bytes = [chunk(b"01wb", 0xFFFF_FFF0, &[7; 6]), chunk(b"00dc", 2, &[1, 2]), chunk(b"01wb", 4, &[3; 4])].concat();
        let all: Vec<_> = chunks(&bytes, 0..bytes.len()).collect();
        assert_eq!(all, vec![(*b"01wb", 8..14), (*b"00dc", 22..24), (*b"01wb", 32..36)]);
        // A list cut short keeps its children.
        let list = [&b"LIST"[..], &1000u32.to_le_bytes(), b"movi", &chunk(b"01wb", 2, &[9, 9])].concat();
        assert_eq!(chunks(&list, 0..list.len()).collect::<Vec<_>>(), vec![(*b"LIST", 8..list.len())]);
    }
}
