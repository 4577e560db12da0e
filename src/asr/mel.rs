//! Whisper's log-mel front end: 16 kHz, 25 ms Hann window (n_fft 400),
//! 10 ms hop, 80 Slaney mel bands, log10 with an 8-decade dynamic range.

use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

pub const SAMPLE_RATE: usize = 16_000;
pub const N_FFT: usize = 400;
pub const HOP_LENGTH: usize = 160;
pub const N_FREQS: usize = N_FFT / 2 + 1;
/// Samples in one 30-s window.
pub const WINDOW_SAMPLES: usize = 30 * SAMPLE_RATE;
/// Mel frames in one 30-s window.
pub const WINDOW_FRAMES: usize = WINDOW_SAMPLES / HOP_LENGTH;

fn hz_to_mel(hz: f64) -> f64 {
    // Slaney: linear below 1 kHz, logarithmic above.
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let logstep = (6.4f64).ln() / 27.0;
    if hz >= min_log_hz {
        min_log_mel + (hz / min_log_hz).ln() / logstep
    } else {
        hz / f_sp
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let logstep = (6.4f64).ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hz * (logstep * (mel - min_log_mel)).exp()
    } else {
        f_sp * mel
    }
}

/// The Slaney-normalised triangular filterbank, `n_mels × N_FREQS`, row-major,
/// identical to librosa's `filters.mel(sr=16000, n_fft=400, n_mels=n_mels)`.
pub fn mel_filterbank(n_mels: usize) -> Vec<f32> {
    let fft_freqs: Vec<f64> = (0..N_FREQS).map(|i| i as f64 * SAMPLE_RATE as f64 / N_FFT as f64).collect();
    let (min_mel, max_mel) = (hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE as f64 / 2.0));
    let mel_points: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(min_mel + (max_mel - min_mel) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut weights = vec![0f32; n_mels * N_FREQS];
    for m in 0..n_mels {
        let (lo, center, hi) = (mel_points[m], mel_points[m + 1], mel_points[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - lo) / (center - lo);
            let upper = (hi - f) / (hi - center);
            weights[m * N_FREQS + k] = (lower.min(upper).max(0.0) * enorm) as f32;
        }
    }
    weights
}

/// One mel filter: its weights from the first to the last non-zero one.
/// The rest are exact zeros, whose products add nothing to the band's sum,
/// so skipping them gives the same numbers at a twentieth of the work.
struct Band {
    start: usize,
    weights: Vec<f32>,
}

/// Computes log-mel spectrograms; holds the FFT plan and filterbank so a
/// batch of creatives pays for them once.
pub struct LogMel {
    bands: Vec<Band>,
    window: Vec<f32>,
    fft: Arc<dyn Fft<f32>>,
}

/// Frames per work item of [`LogMel::compute`].
const FRAMES_PER_ITEM: usize = 250;

impl LogMel {
    pub fn new(n_mels: usize) -> Self {
        // Periodic Hann, as torch.hann_window(400).
        let window = (0..N_FFT)
            .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos()) as f32)
            .collect();
        let fft = FftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        let filters = mel_filterbank(n_mels);
        let bands = filters
            .chunks_exact(N_FREQS)
            .map(|row| {
                let start = row.iter().position(|&w| w != 0.0).unwrap_or(0);
                let end = row.iter().rposition(|&w| w != 0.0).map_or(start, |e| e + 1);
                Band { start, weights: row[start..end].to_vec() }
            })
            .collect();
        Self { bands, window, fft }
    }

    pub fn n_mels(&self) -> usize {
        self.bands.len()
    }

    /// Log-mel of `samples` (16 kHz mono) as `n_mels × n_frames`, row-major,
    /// where `n_frames = samples.len() / HOP_LENGTH` (Whisper drops the last
    /// STFT frame). Frames are centred with reflect padding, as `torch.stft`.
    /// The dynamic-range clamp is taken over this whole array, so callers pass
    /// a whole window's worth of samples (zero padded) like Whisper does.
    pub fn compute(&self, samples: &[f32]) -> Vec<f32> {
        let n_frames = samples.len() / HOP_LENGTH;
        let n_mels = self.n_mels();
        let padded = reflect_pad(samples, N_FFT / 2);
        // Frames are independent: blocks of them on the thread pool, each
        // with its own buffers, written frame-major, then laid out by band.
        let blocks = crate::kernels::par_map(n_frames.div_ceil(FRAMES_PER_ITEM), |b| {
            let frames = b * FRAMES_PER_ITEM..((b + 1) * FRAMES_PER_ITEM).min(n_frames);
            let mut power = vec![0f32; N_FREQS];
            let mut buf = vec![Complex32::new(0.0, 0.0); N_FFT];
            let mut scratch = vec![Complex32::new(0.0, 0.0); self.fft.get_inplace_scratch_len()];
            let mut out = Vec::with_capacity(frames.len() * n_mels);
            for t in frames {
                let start = t * HOP_LENGTH;
                for i in 0..N_FFT {
                    buf[i] = Complex32::new(padded[start + i] * self.window[i], 0.0);
                }
                self.fft.process_with_scratch(&mut buf, &mut scratch);
                for (p, c) in power.iter_mut().zip(&buf[..N_FREQS]) {
                    *p = c.norm_sqr();
                }
                out.extend(self.bands.iter().map(|band| {
                    let e: f32 = band.weights.iter().zip(&power[band.start..]).map(|(w, p)| w * p).sum();
                    e.max(1e-10).log10()
                }));
            }
            out
        });
        let mut mel = vec![0f32; n_mels * n_frames];
        for (t, frame) in blocks.iter().flat_map(|b| b.chunks_exact(n_mels)).enumerate() {
            for (m, &v) in frame.iter().enumerate() {
                mel[m * n_frames + t] = v;
            }
        }
        let max = mel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for v in mel.iter_mut() {
            *v = (v.max(max - 8.0) + 4.0) / 4.0;
        }
        mel
    }
}

fn reflect_pad(samples: &[f32], pad: usize) -> Vec<f32> {
    let n = samples.len();
    let mut out = Vec::with_capacity(n + 2 * pad);
    // Reflection needs at least pad+1 samples; shorter input is zero padded.
    let at = |i: isize| -> f32 {
        if n == 0 {
            return 0.0;
        }
        let mut i = i;
        let last = n as isize - 1;
        if last == 0 {
            return samples[0];
        }
        while i < 0 || i > last {
            if i < 0 {
                i = -i;
            }
            if i > last {
                i = 2 * last - i;
            }
        }
        samples[i as usize]
    };
    for i in 0..(n + 2 * pad) {
        out.push(at(i as isize - pad as isize));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// librosa/numpy reference made by scripts/reference/mel_reference.py.
    fn reference() -> serde_json::Value {
        serde_json::from_str(include_str!("../../tests/fixtures/mel_reference.json")).unwrap()
    }

    fn test_signal(n: usize) -> Vec<f32> {
        use std::f64::consts::PI;
        (0..n)
            .map(|i| {
                let t = i as f64 / 16000.0;
                (0.5 * (2.0 * PI * 440.0 * t).sin()
                    + 0.25 * (2.0 * PI * 3000.0 * t).sin()
                    + 0.1 * (2.0 * PI * (200.0 + 2000.0 * t) * t).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn filterbank_matches_librosa() {
        let r = reference();
        let fb = mel_filterbank(80);
        let mut expected = vec![0f32; 80 * N_FREQS];
        for e in r["filterbank_nonzero"].as_array().unwrap() {
            let (row, col, v) = (e[0].as_u64().unwrap() as usize, e[1].as_u64().unwrap() as usize, e[2].as_f64().unwrap());
            expected[row * N_FREQS + col] = v as f32;
        }
        for (i, (a, b)) in fb.iter().zip(&expected).enumerate() {
            assert!((a - b).abs() <= 1e-6 + 1e-5 * b.abs(), "entry {i}: {a} vs {b}");
        }
    }

    /// The banded, threaded computation against the dense filterbank on
    /// one thread (as before the bands): the same bits, frame by frame.
    #[test]
    fn bands_give_the_dense_filterbanks_numbers() {
        let signal = test_signal(16_000 * 7 + 123);
        let mel = LogMel::new(80);
        let fb = mel_filterbank(80);
        let padded = reflect_pad(&signal, N_FFT / 2);
        let n_frames = signal.len() / HOP_LENGTH;
        let mut want = vec![0f32; 80 * n_frames];
        let mut buf = vec![Complex32::new(0.0, 0.0); N_FFT];
        for t in 0..n_frames {
            for i in 0..N_FFT {
                buf[i] = Complex32::new(padded[t * HOP_LENGTH + i] * mel.window[i], 0.0);
            }
            mel.fft.process(&mut buf);
            let power: Vec<f32> = buf[..N_FREQS].iter().map(|c| c.norm_sqr()).collect();
            for m in 0..80 {
                let e: f32 = fb[m * N_FREQS..(m + 1) * N_FREQS].iter().zip(&power).map(|(w, p)| w * p).sum();
                want[m * n_frames + t] = e.max(1e-10).log10();
            }
        }
        let max = want.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        want.iter_mut().for_each(|v| *v = (v.max(max - 8.0) + 4.0) / 4.0);
        assert!(mel.bands.iter().all(|b| b.weights.len() < N_FREQS / 4), "the bands are not narrow");
        assert_eq!(mel.compute(&signal), want);
    }

    #[test]
    fn log_mel_matches_reference() {
        let r = reference();
        let signal = test_signal(r["signal"]["n_samples"].as_u64().unwrap() as usize);
        for (a, b) in signal.iter().zip(r["signal_first_10"].as_array().unwrap()) {
            assert!((a - b.as_f64().unwrap() as f32).abs() < 1e-7);
        }
        let mel = LogMel::new(80).compute(&signal);
        let expected: Vec<f32> = r["log_mel"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32))
            .collect();
        assert_eq!(mel.len(), expected.len());
        let max_diff = mel.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(max_diff < 2e-4, "max |diff| {max_diff}");
    }
}
