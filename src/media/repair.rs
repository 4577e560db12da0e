//! Files cut short (an interrupted download, a copy that ran out of disk)
//! made readable to the demuxers, so that the audio that is there is heard,
//! as ffmpeg does. Nothing is copied: a few bytes are overlaid on the file
//! as it is read.
//!
//! - MP4 with its index (`moov`) in front: the media box (`mdat`) claims
//!   more bytes than the file has, and symphonia's reader, skipping past it
//!   to look for more boxes, fails the whole file. Its size is overlaid
//!   with what is there.
//! - Matroska/WebM: the index at the front (`SeekHead`) points at elements
//!   past the end (`Cues`), and symphonia's reader panics seeking to them.
//!   Those entries are overlaid with an id that names nothing, so they are
//!   skipped.

use std::io::{self, Read, Seek, SeekFrom};

use bytes::Bytes;
use symphonia::core::io::MediaSource;

use super::video_demux::Container;

/// Bytes to overlay on a file: (offset, replacement).
pub(super) type Patches = Vec<(usize, Vec<u8>)>;

/// What makes `bytes`, cut short, readable; empty when it is whole (or
/// nothing can help).
pub(super) fn patches(bytes: &[u8], container: Option<Container>) -> Patches {
    match container {
        Some(Container::Mp4) => mp4(bytes),
        Some(Container::Matroska) => matroska(bytes),
        _ => Vec::new(),
    }
}

/// Whether the file ends before its container says it does (MP4,
/// Matroska/WebM, and RIFF: AVI and WAV). Ogg, FLV and bare streams do not
/// state their length.
pub(super) fn cut_short(bytes: &[u8], container: Option<Container>) -> bool {
    let len = bytes.len() as u64;
    match container {
        Some(Container::Mp4) => top_level_boxes(bytes).last().is_some_and(|b| b.end > len),
        Some(Container::Matroska) => segment(bytes).is_some_and(|(_, end)| end > len),
        _ => bytes.starts_with(b"RIFF") && bytes.get(4..8).is_some_and(|s| u32::from_le_bytes(s.try_into().unwrap()) as u64 + 8 > len),
    }
}

struct Mp4Box {
    name: [u8; 4],
    start: usize,
    /// Where its size is written: 4 bytes, or 8 after `size = 1`.
    size_at: usize,
    wide: bool,
    end: u64,
}

/// The top-level boxes, the last one possibly running past the end.
fn top_level_boxes(bytes: &[u8]) -> Vec<Mp4Box> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= bytes.len() {
        let size32 = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as u64;
        let name: [u8; 4] = bytes[pos + 4..pos + 8].try_into().unwrap();
        let (size, size_at, wide) = match size32 {
            0 => ((bytes.len() - pos) as u64, pos, false),
            1 => match bytes.get(pos + 8..pos + 16) {
                Some(b) => (u64::from_be_bytes(b.try_into().unwrap()), pos + 8, true),
                None => break,
            },
            s => (s, pos, false),
        };
        if size < 8 {
            break;
        }
        let end = pos as u64 + size;
        out.push(Mp4Box { name, start: pos, size_at, wide, end });
        if end >= bytes.len() as u64 {
            break;
        }
        pos = end as usize;
    }
    out
}

fn mp4(bytes: &[u8]) -> Patches {
    let boxes = top_level_boxes(bytes);
    let Some(last) = boxes.last() else { return Vec::new() };
    let index_before = boxes.iter().any(|b| &b.name == b"moov" && b.end <= bytes.len() as u64);
    if &last.name != b"mdat" || last.end <= bytes.len() as u64 || !index_before {
        return Vec::new();
    }
    let size = (bytes.len() - last.start) as u64;
    let written = if last.wide { size.to_be_bytes().to_vec() } else { (size as u32).to_be_bytes().to_vec() };
    vec![(last.size_at, written)]
}

/// An EBML element id (marker bits kept) and its length.
fn ebml_id(bytes: &[u8], at: usize) -> Option<(u32, usize)> {
    let first = *bytes.get(at)?;
    let len = first.leading_zeros() as usize + 1;
    if len > 4 {
        return None;
    }
    let id = bytes.get(at..at + len)?.iter().fold(0u32, |v, &b| v << 8 | b as u32);
    Some((id, len))
}

/// An EBML size (marker bit removed; all ones = unknown) and its length.
fn ebml_size(bytes: &[u8], at: usize) -> Option<(Option<u64>, usize)> {
    let first = *bytes.get(at)?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 {
        return None;
    }
    let mut v = (first as u64) & (0xFF >> len);
    for &b in bytes.get(at + 1..at + len)? {
        v = v << 8 | b as u64;
    }
    let unknown = v == (1u64 << (7 * len)) - 1;
    Some(((!unknown).then_some(v), len))
}

/// Element at `at`: (id, data start, data end as declared; None = unknown size).
fn element(bytes: &[u8], at: usize) -> Option<(u32, usize, Option<u64>)> {
    let (id, id_len) = ebml_id(bytes, at)?;
    let (size, size_len) = ebml_size(bytes, at + id_len)?;
    let data = at + id_len + size_len;
    Some((id, data, size.map(|s| data as u64 + s)))
}

/// The Segment's data start and declared end (the file's end for an unknown size).
fn segment(bytes: &[u8]) -> Option<(usize, u64)> {
    const EBML: u32 = 0x1A45_DFA3;
    const SEGMENT: u32 = 0x1853_8067;
    let (id, _, end) = element(bytes, 0)?;
    if id != EBML {
        return None;
    }
    let (id, data, end) = element(bytes, usize::try_from(end?).ok()?)?;
    (id == SEGMENT).then(|| (data, end.unwrap_or(bytes.len() as u64)))
}

fn matroska(bytes: &[u8]) -> Patches {
    const SEEK_HEAD: u32 = 0x114D_9B74;
    const SEEK: u32 = 0x4DBB;
    const SEEK_ID: u32 = 0x53AB;
    const SEEK_POSITION: u32 = 0x53AC;
    let len = bytes.len() as u64;
    let Some((segment_data, segment_end)) = segment(bytes) else { return Vec::new() };
    if segment_end <= len {
        return Vec::new();
    }
    // The children of an element: (id, data start, data end), within the file.
    let children = |start: usize, end: u64| {
        let end = end.min(len) as usize;
        let mut pos = start;
        std::iter::from_fn(move || {
            let (id, data, stop) = element(bytes, pos).filter(|_| pos < end)?;
            let stop = stop.map_or(end, |s| s.min(end as u64) as usize);
            pos = stop;
            Some((id, data, stop))
        })
    };
    let mut patches = Vec::new();
    // The index is at the front: the first few elements are enough.
    for (id, data, stop) in children(segment_data, segment_end).take(8) {
        if id != SEEK_HEAD {
            continue;
        }
        for (id, data, stop) in children(data, stop as u64) {
            if id != SEEK {
                continue;
            }
            let (mut id_at, mut position) = (None, None);
            for (id, data, stop) in children(data, stop as u64) {
                match id {
                    SEEK_ID => id_at = Some((data, stop)),
                    SEEK_POSITION if stop - data <= 8 => {
                        position = Some(bytes[data..stop].iter().fold(0u64, |v, &b| v << 8 | b as u64))
                    }
                    _ => {}
                }
            }
            if let (Some((from, to)), Some(position)) = (id_at, position) {
                if segment_data as u64 + position >= len {
                    patches.push((from, vec![0; to - from]));
                }
            }
        }
    }
    patches
}

/// A file's bytes with patches overlaid, as symphonia's media source.
pub(super) struct Patched {
    bytes: Bytes,
    patches: Patches,
    pos: u64,
}

impl Patched {
    pub fn new(bytes: Bytes, patches: Patches) -> Self {
        Patched { bytes, patches, pos: 0 }
    }
}

impl Read for Patched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let start = (self.pos as usize).min(self.bytes.len());
        let n = buf.len().min(self.bytes.len() - start);
        buf[..n].copy_from_slice(&self.bytes[start..start + n]);
        for (at, with) in &self.patches {
            let (lo, hi) = ((*at).max(start), (at + with.len()).min(start + n));
            if lo < hi {
                buf[lo - start..hi - start].copy_from_slice(&with[lo - at..hi - at]);
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Patched {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => (self.bytes.len() as u64).checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

impl MediaSource for Patched {
    fn is_seekable(&self) -> bool {
        true
    }
    fn byte_len(&self) -> Option<u64> {
        Some(self.bytes.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_mdat_after_its_index_is_sized_to_what_is_there() {
        let mut file = [&24u32.to_be_bytes()[..], b"ftypisom", &[0; 12]].concat();
        file.extend_from_slice(&[&16u32.to_be_bytes()[..], b"moov", &[0; 8]].concat());
        let mdat_at = file.len();
        file.extend_from_slice(&[&1000u32.to_be_bytes()[..], b"mdat", &[5; 20]].concat());
        assert!(cut_short(&file, Some(Container::Mp4)));
        let p = patches(&file, Some(Container::Mp4));
        assert_eq!(p, vec![(mdat_at, 28u32.to_be_bytes().to_vec())]);
        let mut read = Vec::new();
        Patched::new(Bytes::from(file.clone()), p).read_to_end(&mut read).unwrap();
        assert_eq!(&read[mdat_at..mdat_at + 4], &28u32.to_be_bytes());
        assert_eq!(read.len(), file.len());
        // Without its index in front, nothing can be read: nothing is patched.
        let no_index = [&24u32.to_be_bytes()[..], b"ftypisom", &[0; 12], &1000u32.to_be_bytes(), b"mdat", &[5; 20]].concat();
        assert!(patches(&no_index, Some(Container::Mp4)).is_empty());
    }

    #[test]
    fn reads_overlay_patches_across_buffer_edges() {
        let mut source = Patched::new(Bytes::from((0u8..32).collect::<Vec<_>>()), vec![(6, vec![90, 91, 92, 93])]);
        let mut a = [0u8; 8];
        source.read_exact(&mut a).unwrap();
        assert_eq!(a, [0, 1, 2, 3, 4, 5, 90, 91]);
        source.read_exact(&mut a).unwrap();
        assert_eq!(a, [92, 93, 10, 11, 12, 13, 14, 15]);
        source.seek(SeekFrom::Start(30)).unwrap();
        let mut rest = Vec::new();
        source.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, vec![30, 31]);
    }
}
