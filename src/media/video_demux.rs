//! Video tracks out of MP4/MOV/M4V (re_mp4), Matroska/WebM
//! (matroska-demuxer), AVI and FLV (`avi`, `flv`): the samples' timing,
//! key-frame flags and bytes, without decoding. Pure Rust, so it builds for
//! wasm32 as well.

use std::borrow::Cow;
use std::io::Cursor;
use std::ops::Range;

use crate::error::{Error, Result};

/// Where a sample's bytes are.
#[derive(Debug, Clone)]
pub(super) enum SampleData {
    /// A range of the input (MP4 samples sit in `mdat`).
    Range(Range<usize>),
    /// Copied out of a Matroska block.
    Owned(Vec<u8>),
    /// A range of the input holding an H.264 access unit with start codes
    /// (AVI), read as a length-prefixed one.
    AnnexB(Range<usize>),
}

/// One coded picture, in decode order.
#[derive(Debug, Clone)]
pub(super) struct VideoSample {
    /// Presentation time in seconds from the first displayed frame.
    pub pts_s: f64,
    pub is_key: bool,
    pub data: SampleData,
}

/// The first video track of a container.
#[derive(Debug)]
pub(super) struct VideoTrack {
    /// Short codec name: "h264", "hevc", "vp9", …
    pub codec: String,
    /// The decoder configuration record (avcC for H.264).
    pub config: Option<Vec<u8>>,
    /// Samples in decode order.
    pub samples: Vec<VideoSample>,
    /// Seconds from the first frame's start to the last frame's end.
    pub duration_s: f64,
}

impl VideoTrack {
    /// Sample `i` as the decoders take it (length-prefixed for H.264).
    pub fn sample_bytes<'a>(&'a self, input: &'a [u8], i: usize) -> Cow<'a, [u8]> {
        match &self.samples[i].data {
            SampleData::Range(r) => Cow::Borrowed(input.get(r.clone()).unwrap_or(&[])),
            SampleData::Owned(v) => Cow::Borrowed(v),
            SampleData::AnnexB(r) => Cow::Owned(super::avi::annexb_to_avcc(input.get(r.clone()).unwrap_or(&[]))),
        }
    }
}

/// Container families recognised from their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Container {
    Mp4,
    Matroska,
    Avi,
    Flv,
}

pub(super) fn sniff_container(bytes: &[u8]) -> Option<Container> {
    if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some(Container::Matroska);
    }
    if super::avi::is_avi(bytes) {
        return Some(Container::Avi);
    }
    if super::flv::is_flv(bytes) {
        return Some(Container::Flv);
    }
    let fourcc = bytes.get(4..8)?;
    matches!(fourcc, b"ftyp" | b"moov" | b"mdat" | b"free" | b"wide" | b"skip" | b"pnot").then_some(Container::Mp4)
}

pub(super) fn demux_video(bytes: &[u8], container: Container) -> Result<VideoTrack> {
    let mut track = super::guarded("container structure", || match container {
        Container::Mp4 => demux_mp4(bytes),
        Container::Matroska => demux_matroska(bytes),
        Container::Avi => super::avi::video_track(bytes),
        Container::Flv => super::flv::video_track(bytes),
    })?;
    // Frames are sampled from the analysed stretch only, as the audio is.
    let cap = super::MAX_ANALYSED_SECONDS;
    if track.duration_s > cap {
        track.samples.retain(|s| s.pts_s < cap);
        track.duration_s = cap;
    }
    if track.samples.is_empty() {
        return Err(Error::VideoDecode(format!("the {} track holds no frames", track.codec)));
    }
    Ok(track)
}

// ------------------------------------------------------------------ MP4

/// ISO BMFF boxes of `bytes[range]`: (fourcc, whole box range, payload start).
fn boxes(bytes: &[u8], range: Range<usize>) -> impl Iterator<Item = ([u8; 4], Range<usize>, usize)> + '_ {
    let mut pos = range.start;
    let end = range.end.min(bytes.len());
    std::iter::from_fn(move || {
        if pos + 8 > end {
            return None;
        }
        let size32 = u32::from_be_bytes(bytes[pos..pos + 4].try_into().ok()?) as u64;
        let name: [u8; 4] = bytes[pos + 4..pos + 8].try_into().ok()?;
        let (size, header) = match size32 {
            0 => ((end - pos) as u64, 8),
            1 => (u64::from_be_bytes(bytes.get(pos + 8..pos + 16)?.try_into().ok()?), 16),
            s => (s, 8),
        };
        if size < header as u64 || size > (end - pos) as u64 {
            return None;
        }
        let whole = pos..pos + size as usize;
        pos += size as usize;
        Some((name, whole.clone(), whole.start + header))
    })
}

fn child(bytes: &[u8], parent: (Range<usize>, usize), name: &[u8; 4]) -> Option<(Range<usize>, usize)> {
    boxes(bytes, parent.1..parent.0.end).find(|(n, _, _)| n == name).map(|(_, r, p)| (r, p))
}

/// Checks that every sample table of every track holds as many entries as
/// it claims: symphonia's MP4 reader allocates a table by its stated count
/// before reading it, and a damaged count (fuzzing found 33 GB) aborts the
/// process instead of failing the file. A track must also state a
/// timescale (0 divides by zero in the reader) and no more samples in
/// `stsz` than its timing table `stts` has (2^32−1 samples of a constant
/// size once read as a fraction of a second of silence).
pub(super) fn mp4_tables_fit(bytes: &[u8]) -> Result<()> {
    let be32 = |at: usize| bytes.get(at..at + 4).map_or(0, |b| u32::from_be_bytes(b.try_into().unwrap()) as u64);
    let damaged = |name: &[u8; 4]| Error::NotMedia(format!("the MP4 sample table '{}' claims more entries than it holds", String::from_utf8_lossy(name)));
    for (name, moov, payload) in boxes(bytes, 0..bytes.len()) {
        if &name != b"moov" {
            continue;
        }
        for (name, trak, tpayload) in boxes(bytes, payload..moov.end) {
            if &name != b"trak" {
                continue;
            }
            let mdia = child(bytes, (trak, tpayload), b"mdia");
            if let Some((_, p)) = mdia.clone().and_then(|m| child(bytes, m, b"mdhd")) {
                let timescale_at = if bytes.get(p) == Some(&1) { p + 20 } else { p + 12 };
                if be32(timescale_at) == 0 {
                    return Err(Error::NotMedia("an MP4 track states a timescale of 0 (its header 'mdhd' is damaged)".into()));
                }
            }
            let stbl = mdia.and_then(|m| child(bytes, m, b"minf")).and_then(|m| child(bytes, m, b"stbl"));
            let Some((stbl, spayload)) = stbl else { continue };
            let timed = child(bytes, (stbl.clone(), spayload), b"stts").map(|(t, p)| {
                let entries = be32(p + 4).min((t.end.saturating_sub(p + 8) / 8) as u64) as usize;
                (0..entries).map(|i| be32(p + 8 + 8 * i)).sum::<u64>()
            });
            let sized = child(bytes, (stbl.clone(), spayload), b"stsz").map(|(_, p)| be32(p + 8));
            if let (Some(timed), Some(sized)) = (timed, sized) {
                if sized > timed {
                    return Err(Error::NotMedia(format!(
                        "the MP4 sample table 'stsz' claims {sized} samples where 'stts' times {timed}: the file is damaged"
                    )));
                }
            }
            for (name, table, p) in boxes(bytes, spayload..stbl.end) {
                let Some((count_at, entry)) = counted_table(bytes, &name, p) else { continue };
                let room = table.end.saturating_sub(count_at + 4) as u64;
                if be32(count_at).saturating_mul(entry) > room {
                    return Err(damaged(&name));
                }
            }
        }
    }
    stray_sample_tables_fit(bytes)
}

/// Where a sample table box (payload at `p`) keeps its entry count, after
/// version and flags, and the bytes of one entry; None for other boxes and
/// for an `stsz` of constant sample size (no per-sample entries).
fn counted_table(bytes: &[u8], name: &[u8; 4], p: usize) -> Option<(usize, u64)> {
    match name {
        b"stts" | b"ctts" => Some((p + 4, 8)),
        b"stsc" => Some((p + 4, 12)),
        b"stco" | b"stss" => Some((p + 4, 4)),
        b"co64" => Some((p + 4, 8)),
        b"stsz" if bytes.get(p + 4..p + 8).is_some_and(|c| c != [0; 4]) => None,
        b"stsz" => Some((p + 8, 4)),
        _ => None,
    }
}

/// The walk above follows the nesting a file states, but symphonia's reader
/// also reads a sample table whose parent box claims more bytes than its own
/// parent holds (fuzzing found an `mdia` of 197 kB in a 1.4 kB `moov`, and a
/// 20 GB `stsc`). So every `stbl` anywhere in the file is walked as well, and
/// each of its tables must fit in the bytes the file has after its count.
fn stray_sample_tables_fit(bytes: &[u8]) -> Result<()> {
    let be32 = |at: usize| bytes.get(at..at + 4).map_or(0, |b| u32::from_be_bytes(b.try_into().unwrap()) as u64);
    for name_at in memchr::memmem::find_iter(bytes, b"stbl") {
        let Some(start) = name_at.checked_sub(4) else { continue };
        let end = (start as u64).saturating_add(be32(start)).min(bytes.len() as u64) as usize;
        for (name, p) in boxes_to_the_overrun(bytes, name_at + 4..end) {
            let Some((count_at, entry)) = counted_table(bytes, &name, p) else { continue };
            if be32(count_at).saturating_mul(entry) > bytes.len().saturating_sub(count_at + 4) as u64 {
                return Err(Error::NotMedia(format!(
                    "the MP4 sample table '{}' claims more entries than the file holds",
                    String::from_utf8_lossy(&name)
                )));
            }
        }
    }
    Ok(())
}

/// The boxes of `bytes[range]` as symphonia reads them: (fourcc, payload
/// start), including a last one that claims more than the range holds
/// (fuzzing found a cut file whose `stts` claims 440 MB and 1.8 G entries;
/// [`boxes`] stops before such a box, symphonia reads it).
fn boxes_to_the_overrun(bytes: &[u8], range: Range<usize>) -> impl Iterator<Item = ([u8; 4], usize)> + '_ {
    let mut pos = range.start;
    let end = range.end.min(bytes.len());
    std::iter::from_fn(move || {
        if pos + 8 > end {
            return None;
        }
        let size = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let name: [u8; 4] = bytes[pos + 4..pos + 8].try_into().unwrap();
        let payload = pos + 8;
        // 0 (to the end), 1 (a 64-bit size) and sizes past the range end the walk after this box.
        pos = if size < 8 || size > end - pos { end } else { pos + size };
        Some((name, payload))
    })
}

/// The first edit of an MP4 audio track: where its media starts (the
/// encoder's priming, which players skip) and how long it plays, both in
/// seconds. Symphonia's MP4 reader does not apply edit lists.
pub(super) fn mp4_audio_edit(bytes: &[u8]) -> Option<(f64, Option<f64>)> {
    let be32 = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_be_bytes(b.try_into().unwrap()) as u64);
    let be64 = |at: usize| bytes.get(at..at + 8).map(|b| u64::from_be_bytes(b.try_into().unwrap()));
    // mvhd and mdhd keep their timescale after version/flags and two dates.
    let timescale = |payload: usize| -> Option<u64> {
        let at = if bytes.get(payload)? == &1 { payload + 20 } else { payload + 12 };
        be32(at).filter(|&t| t > 0)
    };
    let (_, moov, moov_payload) = boxes(bytes, 0..bytes.len()).find(|(n, _, _)| n == b"moov")?;
    let moov = (moov, moov_payload);
    let movie_scale = timescale(child(bytes, moov.clone(), b"mvhd")?.1)?;
    for (name, trak, payload) in boxes(bytes, moov.1..moov.0.end) {
        if &name != b"trak" {
            continue;
        }
        let trak = (trak, payload);
        let Some(mdia) = child(bytes, trak.clone(), b"mdia") else { continue };
        if child(bytes, mdia.clone(), b"hdlr").and_then(|(_, p)| bytes.get(p + 8..p + 12)) != Some(b"soun") {
            continue;
        }
        let media_scale = timescale(child(bytes, mdia, b"mdhd")?.1)?;
        let (_, elst) = child(bytes, child(bytes, trak, b"edts")?, b"elst")?;
        let v1 = bytes.get(elst)? == &1;
        if be32(elst + 4)? == 0 {
            return None;
        }
        let entry = elst + 8;
        let (duration, media_time) =
            if v1 { (be64(entry)?, be64(entry + 8)? as i64) } else { (be32(entry)?, be32(entry + 4)? as u32 as i32 as i64) };
        // media_time −1 is an empty edit (a delay), not a skip.
        let skip_s = if media_time > 0 { media_time as f64 / media_scale as f64 } else { 0.0 };
        let plays_s = (duration > 0).then(|| duration as f64 / movie_scale as f64);
        return Some((skip_s, plays_s));
    }
    None
}

/// The file's boxes without their media data (`mdat`), every non-video
/// `trak` renamed `free`: what the MP4 parser needs to build the video's
/// sample tables, and no copy of the pictures and sound (the samples are
/// then read from the file itself, whose offsets the tables keep). Only
/// video tables are built because re_mp4 expands a constant-size table (PCM
/// audio, or a damaged header claiming billions of samples) into one entry
/// per sample; a video table is checked against the file's size for the
/// same reason.
fn video_only_copy(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut copy = Vec::new();
    let mut video_tracks = 0;
    for (name, whole, payload) in boxes(bytes, 0..bytes.len()) {
        if &name == b"mdat" {
            continue;
        }
        let at = copy.len();
        copy.extend_from_slice(&bytes[whole.clone()]);
        if &name != b"moov" {
            continue;
        }
        let moov = whole.start;
        for (name, trak, tpayload) in boxes(bytes, payload..whole.end) {
            if &name != b"trak" {
                continue;
            }
            let trak_at = at + (trak.start - moov);
            let trak = (trak, tpayload);
            let mdia = child(bytes, trak.clone(), b"mdia");
            let handler = mdia
                .clone()
                .and_then(|m| child(bytes, m, b"hdlr"))
                .and_then(|(_, p)| bytes.get(p + 8..p + 12));
            if handler != Some(b"vide") {
                copy[trak_at + 4..trak_at + 8].copy_from_slice(b"free");
                continue;
            }
            let stsz = mdia
                .and_then(|m| child(bytes, m, b"minf"))
                .and_then(|m| child(bytes, m, b"stbl"))
                .and_then(|s| child(bytes, s, b"stsz"));
            if let Some((_, p)) = stsz {
                let field = |o: usize| bytes.get(p + o..p + o + 4).map(|b| u32::from_be_bytes(b.try_into().unwrap()) as u64);
                let (size, count) = (field(4).unwrap_or(0), field(8).unwrap_or(0));
                if count.saturating_mul(size.max(1)) > bytes.len() as u64 {
                    return Err(Error::NotMedia(format!(
                        "the video track claims {count} frames, more than a file of {} bytes can hold",
                        bytes.len()
                    )));
                }
            }
            video_tracks += 1;
        }
    }
    if video_tracks == 0 {
        return Err(Error::NoVideoTrack);
    }
    let len = copy.len();
    strip_and_check(&mut copy, 0..len, 0)?;
    Ok(copy)
}

/// Prepares the copy for re_mp4, which allocates many boxes' contents by
/// their stated size before reading them (fuzzing found a 3.2 GB `meta`
/// child): metadata boxes (`udta`, `meta`), which the video does not need,
/// are renamed `free` so re_mp4 skips them, and every box it will read must
/// end inside the copy. Children are walked within their parent, as re_mp4
/// reads them; one may overrun its parent, but not the copy, so no
/// allocation is larger than the copy itself.
fn strip_and_check(copy: &mut [u8], range: Range<usize>, depth: usize) -> Result<()> {
    let mut pos = range.start;
    while pos + 8 <= range.end && depth < 12 {
        let size32 = u32::from_be_bytes(copy[pos..pos + 4].try_into().unwrap()) as u64;
        let name: [u8; 4] = copy[pos + 4..pos + 8].try_into().unwrap();
        let (size, header): (u64, usize) = match size32 {
            0 => ((range.end - pos) as u64, 8),
            1 => match copy.get(pos + 8..pos + 16) {
                Some(b) => (u64::from_be_bytes(b.try_into().unwrap()), 16),
                None => return Ok(()),
            },
            s => (s, 8),
        };
        if size < header as u64 {
            return Ok(());
        }
        if (pos as u64).saturating_add(size) > copy.len() as u64 {
            return Err(Error::NotMedia(format!(
                "the MP4 box '{}' claims {size} bytes, more than the file holds: the file is damaged",
                String::from_utf8_lossy(&name)
            )));
        }
        let end = pos + size as usize;
        // Where a container's children start, after its own fields.
        let children = match &name {
            _ if depth == 0 && &name != b"moov" => None,
            b"udta" | b"meta" => {
                copy[pos + 4..pos + 8].copy_from_slice(b"free");
                None
            }
            b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"dinf" | b"edts" | b"mvex" => Some(pos + header),
            b"stsd" => Some(pos + header + 8),
            // Visual sample entries: 78 bytes of fields before their boxes.
            b"avc1" | b"avc3" | b"hev1" | b"hvc1" | b"vp08" | b"vp09" | b"av01" => Some(pos + header + 78),
            _ => None,
        };
        if let Some(start) = children {
            strip_and_check(copy, start..end, depth + 1)?;
        }
        pos = end;
    }
    Ok(())
}

fn demux_mp4(bytes: &[u8]) -> Result<VideoTrack> {
    use re_mp4::{StsdBoxContent, TrackKind};
    mp4_tables_fit(bytes)?;
    let copy = video_only_copy(bytes)?;
    let budgeted = super::budget::Budgeted::new(Cursor::new(&copy[..]), copy.len() as u64);
    let mp4 = re_mp4::Mp4::read(budgeted, copy.len() as u64).map_err(|e| Error::NotMedia(format!("MP4/MOV: {e}")))?;
    let track = mp4.tracks().values().find(|t| t.kind == Some(TrackKind::Video)).ok_or(Error::NoVideoTrack)?;
    let stsd = &track.trak(&mp4).mdia.minf.stbl.stsd.contents;
    let codec = match stsd {
        StsdBoxContent::Avc1(_) => "h264".to_string(),
        StsdBoxContent::Hev1(_) | StsdBoxContent::Hvc1(_) => "hevc".into(),
        StsdBoxContent::Vp08(_) => "vp8".into(),
        StsdBoxContent::Vp09(_) => "vp9".into(),
        StsdBoxContent::Av01(_) => "av1".into(),
        StsdBoxContent::Unknown(fourcc) => match &fourcc.value {
            b"mp4v" => "mpeg4".into(),
            b"avc3" | b"avc2" | b"avc4" => "h264 (in-band parameter sets, avc3)".into(),
            v => format!("'{}'", String::from_utf8_lossy(v)),
        },
        other => format!("{other:?}").chars().take(16).collect(),
    };
    let config = track.raw_codec_config(&mp4).map(|raw| {
        // Some versions keep the box header in front of the record.
        if raw.get(4..8) == Some(b"avcC") {
            raw[8..].to_vec()
        } else {
            raw
        }
    });
    let timescale = track.timescale.max(1) as f64;
    let mut samples = Vec::with_capacity(track.samples.len());
    let mut end_s: f64 = 0.0;
    for s in &track.samples {
        let start = s.offset as usize;
        let Some(end) = start.checked_add(s.size as usize).filter(|&e| e <= bytes.len()) else {
            // A truncated file: the rest of the samples lie past its end.
            break;
        };
        let pts_s = s.composition_timestamp as f64 / timescale;
        end_s = end_s.max(pts_s + s.duration as f64 / timescale);
        samples.push(VideoSample { pts_s, is_key: s.is_sync, data: SampleData::Range(start..end) });
    }
    Ok(VideoTrack {
        codec,
        config,
        samples,
        duration_s: end_s,
    })
}

// ------------------------------------------------------------- Matroska

fn matroska_codec(codec_id: &str) -> String {
    match codec_id {
        "V_MPEG4/ISO/AVC" => "h264".into(),
        "V_MPEGH/ISO/HEVC" => "hevc".into(),
        "V_VP8" => "vp8".into(),
        "V_VP9" => "vp9".into(),
        "V_AV1" => "av1".into(),
        id if id.starts_with("V_MPEG4/ISO/") => "mpeg4".into(),
        id => id.trim_start_matches("V_").to_lowercase(),
    }
}

fn demux_matroska(bytes: &[u8]) -> Result<VideoTrack> {
    use matroska_demuxer::{Frame, MatroskaFile, TrackType};
    let bad = |e: matroska_demuxer::DemuxError| Error::NotMedia(format!("Matroska/WebM: {e}"));
    let mut mkv = MatroskaFile::open(super::budget::Budgeted::new(Cursor::new(bytes), bytes.len() as u64)).map_err(bad)?;
    let track = mkv.tracks().iter().find(|t| t.track_type() == TrackType::Video).ok_or(Error::NoVideoTrack)?;
    let number = track.track_number().get();
    let codec = matroska_codec(track.codec_id());
    let config = track.codec_private().map(|c| c.to_vec());
    let frame_dur_ns = track.default_duration().map(|d| d.get() as f64);
    let scale_ns = mkv.info().timestamp_scale().get() as f64;
    let info_duration_s = mkv.info().duration().map(|d| d * scale_ns / 1e9);
    let mut samples = Vec::new();
    let mut frame = Frame::default();
    let mut end_ns: f64 = 0.0;
    let mut copied = 0usize;
    loop {
        match mkv.next_frame(&mut frame) {
            Ok(true) => {}
            Ok(false) => break,
            // A truncated file: keep what came before the damage.
            Err(_) if !samples.is_empty() => break,
            Err(e) => return Err(bad(e)),
        }
        if frame.track != number {
            continue;
        }
        // Blocks are copied: past the analysed stretch (and the few frames
        // B-frame reordering may still need) none is kept.
        if frame.timestamp as f64 * scale_ns / 1e9 > super::MAX_ANALYSED_SECONDS + 2.0 {
            break;
        }
        // Frames are copies of the file's blocks: never more than the file.
        copied += frame.data.len();
        if copied > bytes.len() {
            break;
        }
        let ts_ns = frame.timestamp as f64 * scale_ns;
        let dur_ns = frame.duration.map(|d| d as f64 * scale_ns).or(frame_dur_ns).unwrap_or(0.0);
        end_ns = end_ns.max(ts_ns + dur_ns);
        let is_key = frame.is_keyframe.unwrap_or_else(|| codec == "h264" && super::h264::has_idr(&frame.data, config.as_deref()));
        samples.push(VideoSample { pts_s: ts_ns / 1e9, is_key, data: SampleData::Owned(std::mem::take(&mut frame.data)) });
    }
    // Times stay on the segment's timeline, which starts at 0 for every
    // track: video that starts after the audio (B-frame delay) keeps its
    // offset, as players and ffmpeg show it.
    let mut duration_s = end_ns / 1e9;
    if let Some(d) = info_duration_s.filter(|d| d.is_finite() && *d > 0.0) {
        // The segment's duration covers the last frame when blocks carry no
        // durations; a truncated file's frames end earlier than it states.
        if duration_s <= samples.last().map(|s| s.pts_s).unwrap_or(0.0) {
            duration_s = d.min(samples.last().map(|s| s.pts_s + 1.0).unwrap_or(d));
        }
    }
    Ok(VideoTrack { codec, config, samples, duration_s })
}
