//! What the browser's WebCodecs `VideoDecoder` must decode to give the
//! sampled frames of a creative: the track's codec string and decoder
//! configuration, and for each group of frames that share a key frame, the
//! encoded chunks from that key frame to the last wanted frame. The frames
//! chosen are the native decoder's ([`super::frames::pick_frames`]); the
//! page turns the pictures into RGB and the same resize makes them frames.

use serde::Serialize;

use super::frames::{is_still, pick_frames, FrameCount, MAX_SIDE};
use super::h264::{parse_avcc, parse_sps};
use super::video_demux::{demux_video, sniff_container, VideoTrack};
use super::EncodedPacket;
use crate::error::{Error, Result};

/// Encoded video and what to keep of it once decoded.
#[derive(Debug, Serialize)]
pub struct VideoDecodePlan {
    /// The WebCodecs codec string ("avc1.64001f", "vp8", "vp09.00.10.08", …).
    pub codec: String,
    /// The short name reports use ("h264", "vp9", …).
    pub codec_name: String,
    /// The decoder configuration record (avcC for H.264), when the codec has one.
    #[serde(serialize_with = "super::demux::as_optional_bytes")]
    pub description: Option<Vec<u8>>,
    /// Decoding runs, each starting at a key frame; the decoder is flushed after each.
    pub runs: Vec<DecodeRun>,
    /// For each sampled frame in time order, the timestamp of the picture to keep.
    pub wanted_us: Vec<i64>,
    /// The same, in seconds from the first frame.
    pub times_s: Vec<f64>,
    /// The YUV → RGB matrix ("bt601", "bt709", "bt2020-ncl") and range the
    /// stream itself declares (H.264's SPS), which natively decoded pictures
    /// use too; None where the browser's reading of the stream is taken.
    pub matrix: Option<&'static str>,
    pub full_range: Option<bool>,
}

/// Chunks in decode order from a key frame; `packets[0]` is the key frame.
#[derive(Debug, Serialize)]
pub struct DecodeRun {
    pub packets: Vec<EncodedPacket>,
}

/// The plan for `n` frames of a video, or None for a still image (which
/// [`super::sample_frames`] reads itself on every target).
pub fn video_decode_plan(bytes: &[u8], n: usize) -> Result<Option<VideoDecodePlan>> {
    video_decode_plan_as(bytes, FrameCount::Exactly(n))
}

/// [`video_decode_plan`] with the count chosen by the caller (on-screen
/// text samples one frame a second).
pub fn video_decode_plan_as(bytes: &[u8], count: FrameCount) -> Result<Option<VideoDecodePlan>> {
    if bytes.is_empty() {
        return Err(Error::EmptyInput);
    }
    if matches!(count, FrameCount::Exactly(0)) {
        return Err(Error::Invalid("cannot sample 0 frames".into()));
    }
    if is_still(bytes) {
        return Ok(None);
    }
    let Some(container) = sniff_container(bytes) else {
        return Err(super::frames::not_video(bytes));
    };
    let track = demux_video(bytes, container)?;
    let (codec, description, colour) = webcodecs_config(&track, bytes)?;
    let us = |s: f64| (s * 1e6).round() as i64;
    let (_, picks) = pick_frames(&track, count.for_duration(track.duration_s));
    let mut runs: Vec<(usize, usize)> = Vec::new(); // (key, last target) in decode order
    for p in &picks {
        match runs.last_mut() {
            Some((key, last)) if *key == p.key => *last = (*last).max(p.target),
            _ => runs.push((p.key, p.target)),
        }
    }
    let runs = runs
        .into_iter()
        .map(|(key, last)| DecodeRun {
            packets: (key..=last)
                .map(|i| EncodedPacket {
                    timestamp_us: us(track.samples[i].pts_s),
                    duration_us: 0,
                    key: i == key,
                    data: track.sample_bytes(bytes, i).into_owned(),
                })
                .collect(),
        })
        .collect();
    Ok(Some(VideoDecodePlan {
        codec,
        codec_name: track.codec.clone(),
        description,
        runs,
        wanted_us: picks.iter().map(|p| us(track.samples[p.target].pts_s)).collect(),
        times_s: picks.iter().map(|p| track.samples[p.target].pts_s).collect(),
        matrix: colour.map(|(m, _)| m),
        full_range: colour.map(|(_, f)| f),
    }))
}

/// The WebCodecs codec string and description of a track, and the colour
/// matrix and range it declares; or why the browser cannot be asked to
/// decode it.
fn webcodecs_config(track: &VideoTrack, bytes: &[u8]) -> Result<(String, Option<Vec<u8>>, Option<(&'static str, bool)>)> {
    match track.codec.as_str() {
        "h264" => {
            let record = track.config.clone().ok_or_else(|| Error::VideoDecode("the H.264 track has no avcC configuration".into()))?;
            let avcc = parse_avcc(&record)?;
            let info = avcc.sps.iter().find_map(|s| parse_sps(s));
            if let Some(info) = info {
                if info.width > MAX_SIDE || info.height > MAX_SIDE {
                    return Err(Error::VideoDecode(format!("unsupported picture size {}×{}", info.width, info.height)));
                }
            }
            let colour = info.map(|i| (i.matrix.webcodecs_name(), i.full_range));
            // avc1.PPCCLL: profile, constraint flags and level from the record.
            Ok((format!("avc1.{:02x}{:02x}{:02x}", record[1], record[2], record[3]), Some(record), colour))
        }
        // VP8 has one colour space, BT.601 (RFC 6386, 9.2), in studio range.
        "vp8" => Ok(("vp8".into(), None, Some(("bt601", false)))),
        // Profile 0, level 1.0, 8 bits: the decoder reads the real values from
        // the stream; the string only has to name the codec family.
        "vp9" => Ok(("vp09.00.10.08".into(), None, vp9_colour(track, bytes))),
        "av1" => Ok(("av01.0.08M.08".into(), None, None)),
        other => Err(Error::UnsupportedVideoCodec { codec: other.to_string() }),
    }
}

/// The colour space a VP9 key frame declares (VP9 bitstream spec, 6.2 and
/// 7.2.2): "unknown", like untagged H.264, is read as BT.601, as ffmpeg and
/// the native path read it, rather than as the browser's guess; RGB has none.
fn vp9_colour(track: &VideoTrack, bytes: &[u8]) -> Option<(&'static str, bool)> {
    let key = track.samples.iter().position(|s| s.is_key)?;
    let frame = track.sample_bytes(bytes, key);
    // `n` bits from bit `at`, most significant first.
    let bits = |at: usize, n: usize| (at..at + n).try_fold(0u32, |v, i| Some((v << 1) | ((*frame.get(i / 8)? >> (7 - i % 8)) & 1) as u32));
    if bits(0, 2)? != 0b10 {
        return None; // not a frame marker
    }
    let profile = bits(2, 1)? | (bits(3, 1)? << 1);
    let at = 4 + usize::from(profile == 3);
    // show_existing_frame 0, frame_type 0 (a key frame), then show_frame and
    // error_resilient_mode, then the sync code.
    if bits(at, 2)? != 0 || bits(at + 4, 24)? != 0x49_83_42 {
        return None;
    }
    let at = at + 28 + usize::from(profile >= 2); // ten_or_twelve_bit
    let matrix = match bits(at, 3)? {
        2 => "bt709",
        5 => "bt2020-ncl",
        7 => return None, // RGB
        _ => "bt601",
    };
    Some((matrix, bits(at + 3, 1)? == 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stills_are_left_to_the_rust_decoder() {
        let mut png = Vec::new();
        image::RgbImage::new(4, 4).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        assert!(video_decode_plan(&png, 8).unwrap().is_none());
    }

    #[test]
    fn bad_input_is_an_error_not_a_plan() {
        assert!(matches!(video_decode_plan(&[], 8), Err(Error::EmptyInput)));
        assert!(video_decode_plan(b"hello, this is plain text and no video", 8).is_err());
    }
}
