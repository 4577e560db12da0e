//! The budgets a creative must fit, stated once. Header fields (sample rate,
//! channels) are checked against them before anything is allocated from
//! them, so a few hostile bytes cannot make the tool allocate gigabytes: the
//! file fails alone, with a message naming the field.

use std::ops::RangeInclusive;

use crate::error::{Error, Result};

/// Audio sample rates a creative can have: from FLV's 5.5 kHz and telephone
/// recordings well below, to studio masters at 384 kHz.
pub const SAMPLE_RATES: RangeInclusive<u32> = 1_000..=384_000;

/// Channels of one audio stream (ambisonic masters have a few dozen).
pub const MAX_CHANNELS: usize = 64;

/// The largest file read natively. Larger ones are not creatives (a 10-min
/// 4K master is a few GB) and would only be read for their first minutes.
pub const MAX_FILE_BYTES: u64 = 16 << 30;

/// Checks a sample rate stated by a file (or found by its decoder).
pub fn check_sample_rate(rate: u32) -> Result<u32> {
    if SAMPLE_RATES.contains(&rate) {
        Ok(rate)
    } else {
        Err(budget("sample rate", format!("{rate} Hz"), format!("{}–{} Hz", SAMPLE_RATES.start(), SAMPLE_RATES.end())))
    }
}

/// Checks a channel count stated by a file (or found by its decoder).
pub fn check_channels(channels: usize) -> Result<usize> {
    if (1..=MAX_CHANNELS).contains(&channels) {
        Ok(channels)
    } else {
        Err(budget("channel count", channels.to_string(), format!("1–{MAX_CHANNELS}")))
    }
}

/// A WAV file's format chunk, checked before symphonia's reader sees it: it
/// panics on a sample rate of 0 (fuzzing found it) and sizes buffers by the
/// channel count.
pub fn check_wav_format(bytes: &[u8]) -> Result<()> {
    if !(bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WAVE")) {
        return Ok(());
    }
    let mut at = 12;
    while let Some(header) = bytes.get(at..at + 8) {
        let size = u32::from_le_bytes(header[4..8].try_into().unwrap()) as usize;
        if &header[..4] == b"fmt " {
            let field = |from: usize, len: usize| bytes.get(at + 8 + from..at + 8 + from + len);
            if let Some(channels) = field(2, 2) {
                check_channels(u16::from_le_bytes(channels.try_into().unwrap()).into())?;
            }
            if let Some(rate) = field(4, 4) {
                check_sample_rate(u32::from_le_bytes(rate.try_into().unwrap()))?;
            }
            return Ok(());
        }
        // Chunks are padded to an even size.
        at = at.saturating_add(8).saturating_add(size).saturating_add(size & 1);
    }
    Ok(())
}

/// How far symphonia's probe looks for a container's marker.
const PROBE_SEARCH_BYTES: usize = 1 << 20;

/// FLAC metadata that symphonia reads by the lengths it states, allocating
/// first: a picture's media type, description and data, and each Vorbis
/// comment. A damaged length (fuzzing found a 4 GB picture in a 113-byte
/// file) must fail the file, not abort the process, so each must fit in its
/// block. Checked for the first `fLaC` the probe would find.
pub fn check_flac_metadata(bytes: &[u8]) -> Result<()> {
    let head = &bytes[..bytes.len().min(PROBE_SEARCH_BYTES)];
    let Some(marker) = memchr::memmem::find(head, b"fLaC") else { return Ok(()) };
    let be32 = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_be_bytes(b.try_into().unwrap()) as usize);
    let le32 = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize);
    let damaged = |what: &str| Error::NotMedia(format!("the FLAC {what} claims more bytes than its metadata block holds: the file is damaged"));
    let mut at = marker + 4;
    while let Some(header) = bytes.get(at..at + 4) {
        let (last, kind) = (header[0] & 0x80 != 0, header[0] & 0x7f);
        let end = (at + 4 + (usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]))).min(bytes.len());
        // Each length field read at `field` must leave room for what it
        // announces (checked sums: a stated 4 GB overflows wasm32's usize).
        let fits = |field: usize, len: usize| field.checked_add(4).and_then(|f| f.checked_add(len)).is_some_and(|e| e <= end);
        match kind {
            6 => {
                let mut field = at + 8; // after the picture type
                for what in ["picture's media type", "picture's description"] {
                    let Some(len) = be32(field) else { break };
                    if !fits(field, len) {
                        return Err(damaged(what));
                    }
                    field += 4 + len;
                }
                let data = field + 16; // width, height, depth, colours
                if be32(data).is_some_and(|len| !fits(data, len)) {
                    return Err(damaged("picture"));
                }
            }
            4 => {
                let vendor = at + 4;
                let Some(vendor_len) = le32(vendor) else { break };
                if !fits(vendor, vendor_len) {
                    return Err(damaged("vendor string"));
                }
                let count_at = vendor + 4 + vendor_len;
                let mut field = count_at + 4;
                for _ in 0..le32(count_at).unwrap_or(0) {
                    let Some(len) = le32(field) else { break };
                    if !fits(field, len) {
                        return Err(damaged("comment"));
                    }
                    field += 4 + len;
                }
            }
            _ => {}
        }
        if last {
            break;
        }
        at = end;
    }
    Ok(())
}

pub(crate) fn budget(field: &str, value: String, limit: String) -> Error {
    Error::OverBudget { field: field.into(), value, limit }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_header_values_are_refused_by_name() {
        assert_eq!(check_sample_rate(44_100).unwrap(), 44_100);
        assert_eq!(check_sample_rate(5_512).unwrap(), 5_512);
        for rate in [0, 999, 384_001, 10_000_019, u32::MAX] {
            let e = check_sample_rate(rate).unwrap_err().to_string();
            assert!(e.contains("sample rate") && e.contains(&rate.to_string()), "{e}");
        }
        assert!(check_channels(0).is_err());
        assert!(check_channels(65).unwrap_err().to_string().contains("channel count"));
        assert_eq!(check_channels(6).unwrap(), 6);
    }

    /// `fLaC`, a STREAMINFO block, then `last` as the final block.
    fn flac(last: (u8, Vec<u8>)) -> Vec<u8> {
        let mut f = b"fLaC".to_vec();
        f.extend([0, 0, 0, 34]);
        f.extend([0; 34]);
        let (kind, body) = last;
        f.push(0x80 | kind);
        f.extend(&(body.len() as u32).to_be_bytes()[1..]);
        f.extend(body);
        f
    }

    fn picture(data_len: u32, data: &[u8]) -> Vec<u8> {
        let mut p = 3u32.to_be_bytes().to_vec(); // front cover
        for s in ["image/png", "cover"] {
            p.extend((s.len() as u32).to_be_bytes());
            p.extend(s.as_bytes());
        }
        p.extend([0; 16]);
        p.extend(data_len.to_be_bytes());
        p.extend(data);
        p
    }

    fn comments(lens: &[u32]) -> Vec<u8> {
        let mut c = 6u32.to_le_bytes().to_vec();
        c.extend(b"vendor");
        c.extend((lens.len() as u32).to_le_bytes());
        for &len in lens {
            c.extend(len.to_le_bytes());
            c.extend(std::iter::repeat_n(b'a', len.min(8) as usize));
        }
        c
    }

    #[test]
    fn a_wav_format_chunk_is_checked_before_symphonia_reads_it() {
        let wav = |channels: u16, rate: u32| {
            let mut w = b"RIFF\0\0\0\0WAVELIST\x04\0\0\0INFOfmt \x10\0\0\0\x01\0".to_vec();
            w.extend(channels.to_le_bytes());
            w.extend(rate.to_le_bytes());
            w.extend([0; 8]);
            w
        };
        check_wav_format(&wav(2, 44_100)).unwrap();
        assert!(check_wav_format(&wav(1, 0)).unwrap_err().to_string().contains("sample rate"));
        assert!(check_wav_format(&wav(0, 16_000)).unwrap_err().to_string().contains("channel count"));
        check_wav_format(b"RIFF\0\0\0\0AVI LIST").unwrap();
    }

    #[test]
    fn flac_metadata_must_fit_its_blocks() {
        check_flac_metadata(&flac((6, picture(4, b"\x89PNG")))).unwrap();
        check_flac_metadata(&flac((4, comments(&[3, 8])))).unwrap();
        check_flac_metadata(b"RIFF....WAVEfmt no flac here").unwrap();
        let e = check_flac_metadata(&flac((6, picture(0xF000_0000, b"\x89PNG")))).unwrap_err().to_string();
        assert!(e.contains("FLAC picture claims more bytes"), "{e}");
        let mut long_type = picture(4, b"\x89PNG");
        long_type[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(check_flac_metadata(&flac((6, long_type))).unwrap_err().to_string().contains("media type"));
        let e = check_flac_metadata(&flac((4, comments(&[3, 0xF000_0000])))).unwrap_err().to_string();
        assert!(e.contains("FLAC comment"), "{e}");
        // Junk before the marker, as the probe skips it.
        let mut junk = b"\xff\xd8\xffRI".to_vec();
        junk.extend(flac((6, picture(0xF000_0000, b""))));
        assert!(check_flac_metadata(&junk).is_err());
    }
}
