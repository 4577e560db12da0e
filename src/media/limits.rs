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
}
