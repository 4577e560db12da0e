//! Down-mixing and band-limited resampling to Whisper's 16 kHz.

use rubato::{FftFixedIn, Resampler};

use super::{Audio, TARGET_SAMPLE_RATE};
use crate::error::{Error, Result};


/// Appends the channel average of interleaved frames to `out`.
pub(crate) fn mix_interleaved_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels == 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() * scale));
}

/// Channel average of interleaved frames.
pub fn mix_to_mono(interleaved: &[f32], channels: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(interleaved.len() / channels.max(1));
    mix_interleaved_into(interleaved, channels.max(1), &mut out);
    out
}

/// Resamples mono audio with rubato's FFT resampler (a proper anti-aliasing
/// low-pass), compensating its delay so the output is time-aligned with the
/// input and has exactly `len * to / from` samples.
///
/// The FFT sizes are chosen so that the output block is even: rubato's
/// filter delay is half a block, so an odd one (48 kHz → 16 kHz with 1024-
/// sample chunks gives 171) leaves a fraction of a sample that no whole-
/// sample compensation removes.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    // The FFT block grows with the rates' ratio: out-of-budget rates would
    // ask for gigabytes.
    super::limits::check_sample_rate(from)?;
    super::limits::check_sample_rate(to)?;
    let err = |e: &dyn std::fmt::Display| Error::Decode(format!("resampling {from} Hz → {to} Hz failed: {e}"));
    let gcd = {
        let (mut a, mut b) = (from, to);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a as usize
    };
    // About 512 input samples per FFT block, in an even number of the
    // smallest blocks that map whole input samples to whole output ones.
    let unit = from as usize / gcd;
    let chunk = 2 * 256usize.div_ceil(unit) * unit;
    let mut resampler = FftFixedIn::<f32>::new(from as usize, to as usize, chunk, 1, 1).map_err(|e| err(&e))?;
    let delay = resampler.output_delay();
    let expected = (samples.len() as u64 * to as u64 / from as u64) as usize;
    let mut out = Vec::with_capacity(expected + delay + 2 * chunk);
    let mut buffer = resampler.output_buffer_allocate(true);
    let mut pos = 0;
    while samples.len() - pos >= resampler.input_frames_next() {
        let n = resampler.input_frames_next();
        let (_, written) =
            resampler.process_into_buffer(&[&samples[pos..pos + n]], &mut buffer, None).map_err(|e| err(&e))?;
        out.extend_from_slice(&buffer[0][..written]);
        pos += n;
    }
    if pos < samples.len() {
        let (_, written) = resampler
            .process_partial_into_buffer(Some(&[&samples[pos..]]), &mut buffer, None)
            .map_err(|e| err(&e))?;
        out.extend_from_slice(&buffer[0][..written]);
    }
    // Flush the filter's tail so the last samples come out too.
    while out.len() < expected + delay {
        let (_, written) = resampler
            .process_partial_into_buffer(None::<&[&[f32]]>, &mut buffer, None)
            .map_err(|e| err(&e))?;
        if written == 0 {
            break;
        }
        out.extend_from_slice(&buffer[0][..written]);
    }
    out.drain(..delay.min(out.len()));
    out.truncate(expected);
    Ok(out)
}

/// Mono audio at any rate → 16 kHz mono, the input of the ASR front end.
pub fn to_whisper_input(audio: &Audio) -> Result<Vec<f32>> {
    resample(&audio.samples, audio.sample_rate, TARGET_SAMPLE_RATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let n = (rate as f64 * seconds) as usize;
        (0..n).map(|i| (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin() as f32 * 0.5).collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn in_band_tone_is_preserved_and_aligned() {
        for from in [8_000, 11_025, 12_000, 22_050, 24_000, 32_000, 44_100, 48_000, 96_000] {
            let out = resample(&tone(2_000.0, from, 1.0), from, 16_000).unwrap();
            assert_eq!(out.len(), 16_000, "{from} Hz");
            // Least-squares fit of a 2 kHz sinusoid; skip the edges, where
            // the filter sees the signal start and stop.
            let w = 2.0 * std::f64::consts::PI * 2_000.0 / 16_000.0;
            let range = 400..15_600;
            let (mut ss, mut sc, mut cc, mut ys, mut yc) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for n in range.clone() {
                let (s, c, y) = ((w * n as f64).sin(), (w * n as f64).cos(), out[n] as f64);
                ss += s * s;
                sc += s * c;
                cc += c * c;
                ys += y * s;
                yc += y * c;
            }
            let det = ss * cc - sc * sc;
            let (a, b) = ((ys * cc - yc * sc) / det, (yc * ss - ys * sc) / det);
            let amplitude = (a * a + b * b).sqrt();
            let delay_samples = (-b).atan2(a) / w;
            let residual: Vec<f32> =
                range.clone().map(|n| out[n] - (a * (w * n as f64).sin() + b * (w * n as f64).cos()) as f32).collect();
            let snr = 20.0 * (amplitude / std::f64::consts::SQRT_2 / rms(&residual)).log10();
            assert!((amplitude - 0.5).abs() < 0.005, "{from} Hz: amplitude {amplitude}");
            // A third of a sample (what an odd FFT block left at 48 kHz)
            // is a 0.5 rad phase error at 2 kHz: aligned means far less.
            assert!(delay_samples.abs() < 0.01, "{from} Hz: output lags by {delay_samples:.3} samples");
            assert!(snr > 60.0, "{from} Hz → 16 kHz: SNR {snr:.1} dB");
        }
    }

    #[test]
    fn tones_above_the_new_nyquist_are_removed() {
        // 10 kHz cannot exist at 16 kHz; a naive decimator would fold it to 6 kHz.
        let input = tone(10_000.0, 48_000, 1.0);
        let out = resample(&input, 48_000, 16_000).unwrap();
        let attenuation = 20.0 * (rms(&input) / rms(&out[400..15_600])).log10();
        assert!(attenuation > 60.0, "only {attenuation:.1} dB of attenuation");
    }

    #[test]
    fn mixes_channels() {
        assert_eq!(mix_to_mono(&[1.0, 0.0, 0.5, 0.5], 2), vec![0.5, 0.5]);
        assert_eq!(resample(&[], 8_000, 16_000).unwrap(), Vec::<f32>::new());
    }
}
