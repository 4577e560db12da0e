//! Sampled video frames for the vision branch: `n` frames evenly spaced over
//! a creative, RGB, squashed to `size`×`size`.
//!
//! Containers (MP4/MOV/M4V, Matroska/WebM, AVI, FLV) and stills (JPEG, PNG) are read in
//! pure Rust on every target; H.264 is decoded natively with OpenH264. In the
//! browser, WebCodecs decodes video instead, so there `sample_frames` only
//! handles stills.

use image::imageops::FilterType;
use image::RgbImage;

use super::h264::Matrix;
use super::video_demux::{demux_video, sniff_container, VideoTrack};
use crate::error::{Error, Result};

/// The size frames are delivered at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameSize {
    /// Squashed to `n`×`n` (the vision model's input).
    Square(usize),
    /// The picture's own proportions, shrunk (never enlarged) so that its
    /// longer side is at most `n` (for reading on-screen text).
    Fit(u32),
}

impl FrameSize {
    /// The delivered width and height of a `width`×`height` picture.
    pub fn of(self, width: u32, height: u32) -> (u32, u32) {
        match self {
            FrameSize::Square(n) => (n as u32, n as u32),
            FrameSize::Fit(n) => {
                let long = width.max(height).max(1);
                if long <= n {
                    (width, height)
                } else {
                    let scale = |v: u32| ((v as u64 * n as u64 + long as u64 / 2) / long as u64).max(1) as u32;
                    (scale(width), scale(height))
                }
            }
        }
    }

    /// A `width`×`height` RGB picture at this size.
    pub fn resize(self, rgb: &[u8], width: u32, height: u32) -> Vec<u8> {
        match self {
            FrameSize::Square(n) => resize_rgb(rgb, width, height, n),
            FrameSize::Fit(_) => {
                let (w, h) = self.of(width, height);
                if (w, h) == (width, height) {
                    return rgb.to_vec();
                }
                match RgbImage::from_raw(width, height, rgb.to_vec()) {
                    Some(picture) => image::imageops::resize(&picture, w, h, FilterType::Triangle).into_raw(),
                    None => vec![0; w as usize * h as usize * 3],
                }
            }
        }
    }
}

/// How many frames to sample from a video of a given duration (seconds).
#[derive(Debug, Clone, Copy)]
pub enum FrameCount {
    /// Exactly this many, evenly spaced.
    Exactly(usize),
    /// This many per second, at least one and at most `max`.
    PerSecond { rate: f64, max: usize },
}

impl FrameCount {
    pub(super) fn for_duration(self, duration_s: f64) -> usize {
        match self {
            FrameCount::Exactly(n) => n,
            FrameCount::PerSecond { rate, max } => ((duration_s.max(0.0) * rate).ceil() as usize).clamp(1, max.max(1)),
        }
    }
}

/// Frames sampled from a creative.
#[derive(Debug, Clone)]
pub struct Frames {
    /// Side of each frame when squashed square ([`FrameSize::Square`]), else 0.
    pub size: usize,
    /// Width and height of each delivered frame.
    pub frame_width: u32,
    pub frame_height: u32,
    /// `frame_width*frame_height*3` bytes per frame, rows of RGB pixels (HWC).
    pub rgb: Vec<Vec<u8>>,
    /// Presentation time of each frame, seconds from the first frame (0 for a still).
    pub times_s: Vec<f64>,
    /// Visible size of the source picture.
    pub width: u32,
    pub height: u32,
    /// "h264", "jpeg", "png".
    pub codec: String,
}

/// Largest picture side accepted (8K is 7680); bounds the memory of a frame.
pub const MAX_SIDE: u32 = 16_384;

/// `n` frames at the centres of `n` equal segments of the creative, each
/// decoded from the nearest preceding key frame; a still image gives one frame.
pub fn sample_frames(bytes: &[u8], n: usize, size: usize) -> Result<Frames> {
    sample_frames_as(bytes, FrameCount::Exactly(n), FrameSize::Square(size))
}

/// [`sample_frames`] with the count and size chosen by the caller.
pub fn sample_frames_as(bytes: &[u8], count: FrameCount, shape: FrameSize) -> Result<Frames> {
    if bytes.is_empty() {
        return Err(Error::EmptyInput);
    }
    let side = match shape {
        FrameSize::Square(n) => n as u64,
        FrameSize::Fit(n) => n as u64,
    };
    if matches!(count, FrameCount::Exactly(0)) || side == 0 || side > MAX_SIDE as u64 {
        return Err(Error::Invalid(format!("cannot sample {count:?} frames of {shape:?}")));
    }
    if let Some(format) = still_format(bytes) {
        return still(bytes, format, shape);
    }
    let Some(container) = sniff_container(bytes) else {
        return Err(not_video(bytes));
    };
    let track = demux_video(bytes, container)?;
    if track.codec != "h264" {
        return Err(Error::UnsupportedVideoCodec { codec: track.codec });
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        native::sample_h264(bytes, &track, count, shape)
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = track;
        Err(Error::UnsupportedVideoCodec { codec: "h264 (the web build decodes video with the browser's WebCodecs)".into() })
    }
}

/// JPEG or PNG, the stills read as one-frame creatives.
fn still_format(bytes: &[u8]) -> Option<image::ImageFormat> {
    image::guess_format(bytes).ok().filter(|f| matches!(f, image::ImageFormat::Jpeg | image::ImageFormat::Png))
}

pub(super) fn is_still(bytes: &[u8]) -> bool {
    still_format(bytes).is_some()
}

/// Why bytes that are neither a still nor a known video container fail.
pub(super) fn not_video(bytes: &[u8]) -> Error {
    // An audio file the audio decoder recognises has, by definition, no
    // picture; its first megabytes are enough to recognise it.
    // Guarded like every other reader: symphonia's probe can panic on a
    // damaged header (fuzzing found an ADTS stream that divides by zero).
    let head = bytes::Bytes::copy_from_slice(&bytes[..bytes.len().min(4 << 20)]);
    match super::guarded("audio stream", || super::decode::open_first_audio_track(head, None, super::MAX_ANALYSED_SECONDS).map(|_| ())) {
        Ok(_) => Error::NoVideoTrack,
        Err(_) => Error::NotMedia("no video container or still image recognised".into()),
    }
}

fn still(bytes: &[u8], format: image::ImageFormat, shape: FrameSize) -> Result<Frames> {
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let picture = reader.decode().map_err(|e| Error::NotMedia(format!("the image cannot be decoded: {e}")))?.to_rgb8();
    let (width, height) = picture.dimensions();
    let codec = if format == image::ImageFormat::Jpeg { "jpeg" } else { "png" };
    let (frame_width, frame_height) = shape.of(width, height);
    Ok(Frames {
        size: square_side(shape),
        frame_width,
        frame_height,
        rgb: vec![shape.resize(picture.as_raw(), width, height)],
        times_s: vec![0.0],
        width,
        height,
        codec: codec.into(),
    })
}

fn square_side(shape: FrameSize) -> usize {
    match shape {
        FrameSize::Square(n) => n,
        FrameSize::Fit(_) => 0,
    }
}

/// Squashes a `width`×`height` RGB picture to `size`×`size`.
///
/// `image`'s separable Catmull-Rom (bicubic) resize: the crate is already
/// here for the stills, builds for wasm32, and widens its kernel by the
/// scale factor when shrinking, so a 1080p frame is averaged rather than
/// aliased (X-CLIP's own preprocessing resizes bicubically too).
pub fn resize_rgb(rgb: &[u8], width: u32, height: u32, size: usize) -> Vec<u8> {
    let side = size as u32;
    let Some(picture) = RgbImage::from_raw(width, height, rgb.to_vec()) else {
        return vec![0; size * size * 3];
    };
    if (width, height) == (side, side) {
        return picture.into_raw();
    }
    image::imageops::resize(&picture, side, side, FilterType::CatmullRom).into_raw()
}

/// A picture the browser decoded (RGBA rows, as a canvas gives them) as a
/// frame of `shape`: the alpha dropped, then the same resize as natively
/// decoded ones.
pub fn frame_from_rgba(rgba: &[u8], width: u32, height: u32, shape: FrameSize) -> Result<Vec<u8>> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE || rgba.len() != width as usize * height as usize * 4 {
        return Err(Error::VideoDecode(format!("a {width}×{height} picture cannot have {} bytes of RGBA", rgba.len())));
    }
    let rgb: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    Ok(shape.resize(&rgb, width, height))
}

/// A picture as WebCodecs' `VideoFrame.copyTo` lays it out ("I420",
/// "I420A" or "NV12": plane `offsets` and `strides` into `data`), visible
/// size `width`×`height`, as RGB at that size — converted by the same code
/// as natively decoded pictures, with the frame's `matrix` ("bt709",
/// "bt2020-ncl"; anything else is BT.601) and range.
#[allow(clippy::too_many_arguments)]
pub fn rgb_from_yuv(
    format: &str,
    data: &[u8],
    offsets: &[usize],
    strides: &[usize],
    width: u32,
    height: u32,
    matrix: &str,
    full_range: bool,
) -> Result<Vec<u8>> {
    let bad = |why: &str| Error::VideoDecode(format!("a {format} picture of {width}×{height}: {why}"));
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(bad("unsupported size"));
    }
    let plane = |i: usize| -> Result<&[u8]> {
        let (offset, stride) = (*offsets.get(i).ok_or_else(|| bad("a plane is missing"))?, *strides.get(i).ok_or_else(|| bad("a plane is missing"))?);
        data.get(offset..).filter(|_| stride > 0).ok_or_else(|| bad("a plane lies outside the data"))
    };
    let matrix = [Matrix::Bt709, Matrix::Bt2020].into_iter().find(|m| m.webcodecs_name() == matrix).unwrap_or(Matrix::Bt601);
    let (w, h) = (width as usize, height as usize);
    let rgb = match format {
        "I420" | "I420A" => i420_to_rgb((plane(0)?, plane(1)?, plane(2)?), (strides[0], strides[1]), (0, 0), (w, h), matrix, full_range),
        "NV12" => {
            let (uv, uv_stride) = (plane(1)?, strides[1]);
            let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
            let (mut u, mut v) = (vec![128u8; cw * ch], vec![128u8; cw * ch]);
            for row in 0..ch {
                for col in 0..cw {
                    let at = row * uv_stride + 2 * col;
                    if let (Some(&cb), Some(&cr)) = (uv.get(at), uv.get(at + 1)) {
                        (u[row * cw + col], v[row * cw + col]) = (cb, cr);
                    }
                }
            }
            i420_to_rgb((plane(0)?, &u, &v), (strides[0], cw), (0, 0), (w, h), matrix, full_range)
        }
        other => return Err(Error::VideoDecode(format!("pictures in {other} format are not read; the canvas path takes them"))),
    };
    Ok(rgb)
}

/// I420 planes → interleaved RGB, limited or full range. Chroma is repeated
/// over each 2×2 block, as ffmpeg's own unscaled yuv420p → rgb24 path does.
pub(super) fn i420_to_rgb(
    (y, u, v): (&[u8], &[u8], &[u8]),
    (y_stride, uv_stride): (usize, usize),
    (left, top): (usize, usize),
    (width, height): (usize, usize),
    matrix: Matrix,
    full_range: bool,
) -> Vec<u8> {
    let (kr, kb) = match matrix {
        Matrix::Bt601 => (0.299, 0.114),
        Matrix::Bt709 => (0.2126, 0.0722),
        Matrix::Bt2020 => (0.2627, 0.0593),
    };
    let kg = 1.0 - kr - kb;
    let (y_scale, c_scale, y_off) = if full_range { (1.0, 1.0, 0.0) } else { (255.0 / 219.0, 255.0 / 224.0, 16.0) };
    let (rv, gu, gv, bu) = (2.0 * (1.0 - kr), 2.0 * kb * (1.0 - kb) / kg, 2.0 * kr * (1.0 - kr) / kg, 2.0 * (1.0 - kb));
    let mut out = vec![0u8; width * height * 3];
    for row in 0..height {
        let (sy, cy) = (top + row, (top + row) / 2);
        for col in 0..width {
            let (sx, cx) = (left + col, (left + col) / 2);
            let luma = y.get(sy * y_stride + sx).copied().unwrap_or(16) as f32;
            let cb = u.get(cy * uv_stride + cx).copied().unwrap_or(128) as f32;
            let cr = v.get(cy * uv_stride + cx).copied().unwrap_or(128) as f32;
            let l = (luma - y_off) * y_scale;
            let (cb, cr) = ((cb - 128.0) * c_scale, (cr - 128.0) * c_scale);
            let px = &mut out[(row * width + col) * 3..][..3];
            px[0] = (l + rv * cr).round().clamp(0.0, 255.0) as u8;
            px[1] = (l - gu * cb - gv * cr).round().clamp(0.0, 255.0) as u8;
            px[2] = (l + bu * cb).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Centres of `n` equal segments of `[0, duration)`.
fn sample_times(duration_s: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| (i as f64 + 0.5) * duration_s / n as f64).collect()
}

/// The frame on screen at one sample time and where decoding it starts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pick {
    /// The sample time, seconds.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub time_s: f64,
    /// The sample shown at that time (decode order index).
    pub target: usize,
    /// The key frame before it in decode order.
    pub key: usize,
}

/// Presentation order of a track's samples (`samples[order[k]]` is the
/// k-th frame shown) and the frames at `n` evenly spaced times: what the
/// native decoder and the browser's are asked for alike.
pub(super) fn pick_frames(track: &VideoTrack, n: usize) -> (Vec<usize>, Vec<Pick>) {
    let samples = &track.samples;
    let mut order: Vec<usize> = (0..samples.len()).collect();
    order.sort_by(|&a, &b| samples[a].pts_s.total_cmp(&samples[b].pts_s).then(a.cmp(&b)));
    let last_pts = order.last().map_or(0.0, |&i| samples[i].pts_s);
    let duration_s = if track.duration_s > last_pts { track.duration_s } else { last_pts };
    let picks = sample_times(duration_s, n)
        .into_iter()
        .map(|t| {
            // The frame on screen at t: the last one shown at or before it.
            let shown_at = order.partition_point(|&i| samples[i].pts_s <= t + 1e-9).saturating_sub(1);
            let target = order[shown_at];
            let key = (0..=target).rev().find(|&i| samples[i].is_key).unwrap_or(0);
            Pick { time_s: t, target, key }
        })
        .collect();
    (order, picks)
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use openh264::decoder::{DecodeOptions, Decoder, DecoderConfig, Flush};
    use openh264::formats::YUVSource;
    use openh264::OpenH264API;

    use super::super::h264::{append_annexb, parse_avcc, parse_sps, AvcConfig, PictureInfo};
    use super::*;

    /// How far past the wanted frame (in decode order) its picture may still
    /// be held back by B-frame reordering before the decoder is flushed.
    const REORDER_SLACK: usize = 32;

    /// A decoder that has been fed samples `key..next` of the track.
    struct Position {
        decoder: Decoder,
        key: usize,
        next: usize,
        /// Pictures it has put out so far, in presentation order.
        shown: usize,
        /// True once flushed: it cannot be fed further.
        flushed: bool,
    }

    /// A decoded picture copied out of the decoder's buffers.
    struct Picture {
        y: Vec<u8>,
        u: Vec<u8>,
        v: Vec<u8>,
        y_stride: usize,
        uv_stride: usize,
        width: usize,
        height: usize,
    }

    impl Picture {
        fn copy(yuv: &impl YUVSource) -> Self {
            let (width, height) = yuv.dimensions();
            let (y_stride, uv_stride, _) = yuv.strides();
            Picture { y: yuv.y().to_vec(), u: yuv.u().to_vec(), v: yuv.v().to_vec(), y_stride, uv_stride, width, height }
        }

        /// The visible rectangle as RGB. OpenH264 normally applies the SPS
        /// cropping itself (1920×1088 coded → 1920×1080 out); if a picture
        /// comes out at the coded size, the crop is done here.
        fn to_rgb(&self, info: &PictureInfo) -> (Vec<u8>, u32, u32) {
            let (w, h) = (info.width as usize, info.height as usize);
            let (left, top) = (info.crop_left as usize, info.crop_top as usize);
            let (left, top, w, h) = if self.width >= left + w && self.height >= top + h && (self.width, self.height) != (w, h) {
                (left, top, w, h)
            } else {
                (0, 0, self.width, self.height)
            };
            let rgb = i420_to_rgb((&self.y, &self.u, &self.v), (self.y_stride, self.uv_stride), (left, top), (w, h), info.matrix, info.full_range);
            (rgb, w as u32, h as u32)
        }
    }

    fn new_decoder(key: usize) -> Result<Position> {
        // No flush after each packet: a flush would hand out a picture before
        // the B-frames that precede it in presentation order were decoded.
        let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
        let decoder = Decoder::with_api_config(OpenH264API::from_source(), config).map_err(|e| Error::VideoDecode(format!("cannot start the H.264 decoder: {e}")))?;
        Ok(Position { decoder, key, next: key, shown: 0, flushed: false })
    }

    /// Counts one picture out of the decoder: the one wanted (number `rank`)
    /// is returned, earlier ones are kept in `last` as the fallback.
    fn shown(count: &mut usize, yuv: &impl YUVSource, rank: usize, last: &mut Option<Picture>) -> Option<Picture> {
        let this = *count;
        *count += 1;
        if this == rank {
            return Some(Picture::copy(yuv));
        }
        if this < rank {
            *last = Some(Picture::copy(yuv));
        }
        None
    }

    /// Feeds samples until picture number `rank` (counted from the key frame)
    /// comes out, feeding no further than sample `limit`; then flushes.
    /// Falls back to the last picture shown before it when the stream ends
    /// early or a sample is damaged.
    fn decode_until(p: &mut Position, bytes: &[u8], track: &VideoTrack, avcc: &AvcConfig, rank: usize, limit: usize) -> Result<Option<Picture>> {
        let mut last = None;
        let mut packet = Vec::new();
        let mut errors = Vec::new();
        while !p.flushed && p.next < track.samples.len().min(limit) {
            packet.clear();
            if p.next == p.key {
                // Parameter sets live out of band in avcC; the decoder wants them in-band.
                for set in avcc.sps.iter().chain(&avcc.pps) {
                    packet.extend_from_slice(&[0, 0, 0, 1]);
                    packet.extend_from_slice(set);
                }
            }
            append_annexb(&mut packet, &track.sample_bytes(bytes, p.next), avcc.length_size);
            p.next += 1;
            match p.decoder.decode_with_options(&packet, DecodeOptions::new().flush_after_decode(Flush::NoFlush)) {
                Ok(Some(yuv)) => {
                    if let Some(hit) = shown(&mut p.shown, &yuv, rank, &mut last) {
                        return Ok(Some(hit));
                    }
                }
                Ok(None) => {}
                Err(e) => errors.push(e.to_string()),
            }
        }
        if !p.flushed {
            p.flushed = true;
            for yuv in p.decoder.flush_remaining().unwrap_or_default() {
                if let Some(hit) = shown(&mut p.shown, &yuv, rank, &mut last) {
                    return Ok(Some(hit));
                }
            }
        }
        if last.is_none() && !errors.is_empty() {
            return Err(Error::VideoDecode(format!("H.264: {}", errors[0])));
        }
        Ok(last)
    }

    pub(super) fn sample_h264(bytes: &[u8], track: &VideoTrack, count: FrameCount, shape: FrameSize) -> Result<Frames> {
        let record = track.config.as_deref().ok_or_else(|| Error::VideoDecode("the H.264 track has no avcC configuration".into()))?;
        let avcc = parse_avcc(record)?;
        let info = avcc
            .sps
            .iter()
            .find_map(|s| parse_sps(s))
            .ok_or_else(|| Error::VideoDecode("the H.264 sequence parameter set is damaged".into()))?;
        if info.width == 0 || info.height == 0 || info.width > MAX_SIDE || info.height > MAX_SIDE {
            return Err(Error::VideoDecode(format!("unsupported picture size {}×{}", info.width, info.height)));
        }
        let samples = &track.samples;
        let n = count.for_duration(track.duration_s);
        let (_, picks) = pick_frames(track, n);
        let (frame_width, frame_height) = shape.of(info.width, info.height);
        let mut frames = Frames {
            size: square_side(shape),
            frame_width,
            frame_height,
            rgb: Vec::with_capacity(n),
            times_s: Vec::with_capacity(n),
            width: info.width,
            height: info.height,
            codec: "h264".into(),
        };
        let mut position: Option<Position> = None;
        for Pick { time_s: t, target, key } in picks {
            // Its rank among the pictures put out after `key` (a closed GOP
            // shows nothing from before its key frame).
            let key_pts = samples[key].pts_s;
            let limit = samples.len().min(target + REORDER_SLACK);
            let rank = (key..limit)
                .filter(|&i| samples[i].pts_s >= key_pts && (samples[i].pts_s, i) < (samples[target].pts_s, target))
                .count();
            // Successive frames in one GOP continue from where the last stopped.
            let reusable = matches!(&position, Some(p) if p.key == key && p.shown <= rank && !p.flushed);
            if !reusable {
                position = Some(new_decoder(key)?);
            }
            let p = position.as_mut().expect("set above");
            let picture = decode_until(p, bytes, track, &avcc, rank, limit)?
                .ok_or_else(|| Error::VideoDecode(format!("no picture could be decoded near {t:.2} s")))?;
            let (rgb, w, h) = picture.to_rgb(&info);
            frames.width = w;
            frames.height = h;
            (frames.frame_width, frames.frame_height) = shape.of(w, h);
            frames.rgb.push(shape.resize(&rgb, w, h));
            frames.times_s.push(samples[target].pts_s);
        }
        Ok(frames)
    }
}
