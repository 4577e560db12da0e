//! H.264 bitstream plumbing: the avcC record, AVCC → Annex B, the parts of
//! the sequence parameter set that say how to show a decoded picture.
// The web build only demuxes (WebCodecs decodes): most of this is native-only.
#![cfg_attr(target_arch = "wasm32", allow(dead_code))]

use crate::error::{Error, Result};

/// The decoder configuration record of an MP4 `avcC` box or a Matroska
/// CodecPrivate (ISO/IEC 14496-15, 5.3.3.1).
#[derive(Debug, Clone)]
pub(super) struct AvcConfig {
    /// Bytes in each NAL unit's length prefix (1, 2 or 4).
    pub length_size: usize,
    pub sps: Vec<Vec<u8>>,
    pub pps: Vec<Vec<u8>>,
}

pub(super) fn parse_avcc(record: &[u8]) -> Result<AvcConfig> {
    let bad = || Error::VideoDecode("the H.264 configuration record (avcC) is damaged".into());
    if record.len() < 7 || record[0] != 1 {
        return Err(bad());
    }
    let length_size = (record[4] & 3) as usize + 1;
    if length_size == 3 {
        return Err(bad());
    }
    let mut pos = 5;
    let mut take_sets = |count_mask: u8| -> Result<Vec<Vec<u8>>> {
        let count = (*record.get(pos).ok_or_else(bad)? & count_mask) as usize;
        pos += 1;
        let mut sets = Vec::with_capacity(count);
        for _ in 0..count {
            let len = u16::from_be_bytes([*record.get(pos).ok_or_else(bad)?, *record.get(pos + 1).ok_or_else(bad)?]) as usize;
            sets.push(record.get(pos + 2..pos + 2 + len).ok_or_else(bad)?.to_vec());
            pos += 2 + len;
        }
        Ok(sets)
    };
    let sps = take_sets(0x1f)?;
    let pps = take_sets(0xff)?;
    if sps.is_empty() || pps.is_empty() {
        return Err(bad());
    }
    Ok(AvcConfig { length_size, sps, pps })
}

/// The NAL units of a length-prefixed (AVCC) sample; stops at the first
/// length that runs past the sample (a truncated file).
pub(super) fn nal_units(sample: &[u8], length_size: usize) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let head = sample.get(pos..pos + length_size)?;
        let len = head.iter().fold(0usize, |n, &b| (n << 8) | b as usize);
        let nal = sample.get(pos + length_size..(pos + length_size).checked_add(len)?)?;
        pos += length_size + len;
        Some(nal)
    })
}

/// Appends `sample` to `out` as Annex B (start codes instead of lengths).
pub(super) fn append_annexb(out: &mut Vec<u8>, sample: &[u8], length_size: usize) {
    for nal in nal_units(sample, length_size) {
        if !nal.is_empty() {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal);
        }
    }
}

/// Whether a sample holds an IDR slice (for containers that do not flag key frames).
pub(super) fn has_idr(sample: &[u8], avcc: Option<&[u8]>) -> bool {
    let length_size = avcc.and_then(|r| parse_avcc(r).ok()).map(|c| c.length_size).unwrap_or(4);
    nal_units(sample, length_size).any(|n| n.first().map(|b| b & 0x1f) == Some(5))
}

/// YUV → RGB matrix of the stream (H.273 matrix_coefficients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matrix {
    Bt601,
    Bt709,
    Bt2020,
}

impl Matrix {
    /// As WebCodecs' `VideoColorSpace.matrix` names it (and
    /// [`super::rgb_from_yuv`] reads it).
    pub fn webcodecs_name(self) -> &'static str {
        match self {
            Matrix::Bt601 => "bt601",
            Matrix::Bt709 => "bt709",
            Matrix::Bt2020 => "bt2020-ncl",
        }
    }
}

/// What the SPS says about the picture's display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PictureInfo {
    /// Visible size after the SPS's frame cropping.
    pub width: u32,
    pub height: u32,
    pub crop_left: u32,
    pub crop_top: u32,
    pub matrix: Matrix,
    pub full_range: bool,
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(b as u32)
    }
    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |v, _| Some((v << 1) | self.bit()?))
    }
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some(((1u64 << zeros) - 1 + self.bits(zeros)? as u64).min(u32::MAX as u64) as u32)
    }
    fn se(&mut self) -> Option<i32> {
        let k = self.ue()? as i64;
        Some(if k % 2 == 1 { ((k + 1) / 2) as i32 } else { (-(k / 2)) as i32 })
    }
}

/// Parses the display-relevant fields of an SPS NAL unit (with its header byte).
pub(super) fn parse_sps(nal: &[u8]) -> Option<PictureInfo> {
    // Emulation prevention: 00 00 03 → 00 00.
    let mut rbsp = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal.get(1..)? {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        rbsp.push(b);
    }
    let mut r = Bits { data: &rbsp, pos: 0 };
    let profile = r.bits(8)?;
    r.bits(16)?; // constraint flags, level
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format = 1;
    if matches!(profile, 100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135) {
        chroma_format = r.ue()?;
        if chroma_format == 3 {
            r.bit()?;
        }
        r.ue()?;
        r.ue()?; // bit depths
        r.bit()?; // qpprime_y_zero_transform_bypass
        if r.bit()? == 1 {
            for i in 0..if chroma_format == 3 { 12 } else { 8 } {
                if r.bit()? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i32, 8i32);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()? + 256) % 256;
                        }
                        last = if next == 0 { last } else { next };
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?;
        }
        1 => {
            r.bit()?;
            r.se()?;
            r.se()?;
            let n = r.ue()?;
            if n > 255 {
                return None;
            }
            for _ in 0..n {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?; // gaps_in_frame_num_value_allowed
    let width_mbs = r.ue()?.checked_add(1)?;
    let height_units = r.ue()?.checked_add(1)?;
    let frame_mbs_only = r.bit()?;
    if frame_mbs_only == 0 {
        r.bit()?;
    }
    r.bit()?; // direct_8x8_inference
    let (mut cl, mut cr, mut ct, mut cb) = (0, 0, 0, 0);
    if r.bit()? == 1 {
        (cl, cr, ct, cb) = (r.ue()?, r.ue()?, r.ue()?, r.ue()?);
    }
    let (sub_w, sub_h) = match chroma_format {
        0 | 3 => (1, 1),
        1 => (2, 2),
        _ => (2, 1),
    };
    let crop_x = if chroma_format == 0 { 1 } else { sub_w };
    let crop_y = (if chroma_format == 0 { 1 } else { sub_h }) * (2 - frame_mbs_only);
    let coded_w = width_mbs.checked_mul(16)?;
    let coded_h = height_units.checked_mul(16 * (2 - frame_mbs_only))?;
    let width = coded_w.checked_sub(cl.checked_add(cr)?.checked_mul(crop_x)?)?;
    let height = coded_h.checked_sub(ct.checked_add(cb)?.checked_mul(crop_y)?)?;
    let (mut matrix, mut full_range) = (Matrix::Bt601, false);
    if r.bit() == Some(1) {
        // VUI
        if r.bit()? == 1 && r.bits(8)? == 255 {
            r.bits(32)?; // sar
        }
        if r.bit()? == 1 {
            r.bit()?; // overscan_appropriate
        }
        if r.bit()? == 1 {
            r.bits(3)?; // video_format
            full_range = r.bit()? == 1;
            if r.bit()? == 1 {
                r.bits(16)?; // primaries, transfer
                // Unspecified and the rest fall back to BT.601, as ffmpeg's
                // swscale does for untagged streams.
                matrix = match r.bits(8)? {
                    1 => Matrix::Bt709,
                    9 | 10 => Matrix::Bt2020,
                    _ => Matrix::Bt601,
                };
            }
        }
    }
    Some(PictureInfo { width, height, crop_left: cl * crop_x, crop_top: ct * crop_y, matrix, full_range })
}
