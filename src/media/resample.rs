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
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    if from == 0 || to == 0 {
        return Err(Error::Invalid(format!("cannot resample from {from} Hz to {to} Hz")));
    }
    let err = |e: &dyn std::fmt::Display| Error::Decode(format!("resampling {from} Hz → {to} Hz failed: {e}"));
    let chunk = 1024;
    let mut resampler = FftFixedIn::<f32>::new(from as usize, to as usize, chunk, 2, 1).map_err(|e| err(&e))?;
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
