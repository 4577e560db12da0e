#!/usr/bin/env python3
"""Writes tests/fixtures/mel_reference.json: reference values for the Whisper
log-mel front end (filterbank, test signal, log-mel spectrogram).

    .venv-ref/bin/python scripts/reference/mel_reference.py [--out PATH]

The log-mel follows openai-whisper's whisper/audio.py log_mel_spectrogram:
    stft = torch.stft(audio, 400, 160, window=hann_window(400), center=True,
                      pad_mode="reflect", return_complex=True)
    magnitudes = stft[..., :-1].abs() ** 2          # last frame dropped
    mel = filters @ magnitudes                      # librosa mel(16000, 400, 80)
    log_spec = clamp(mel, min=1e-10).log10()
    log_spec = maximum(log_spec, log_spec.max() - 8.0)
    log_spec = (log_spec + 4.0) / 4.0
reimplemented in numpy (float64 arithmetic on the float32 signal), WITHOUT the
padding to 30 s that whisper applies before the STFT, so the max-8 floor is
taken over these frames only. The numpy STFT is checked against librosa.stft;
the filterbank equals whisper's own assets/mel_filters.npz (mel_80) bit for bit
(checked with --whisper-filters).
"""
import argparse
import json
import os
import sys

import librosa
import numpy as np

SR = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
SECONDS = 1.0

SIGNAL_FORMULA = (
    "x[n] = f32( 0.5*sin(2*pi*440*n/16000) + 0.25*sin(2*pi*3000*n/16000)"
    " + 0.1*sin(2*pi*(200 + 2000*n/16000)*n/16000) ), n = 0..15999,"
    " evaluated in float64 (pi = f64 pi) and cast to float32"
)


def make_signal():
    n = np.arange(int(SR * SECONDS), dtype=np.float64)
    x = (0.5 * np.sin(2 * np.pi * 440 * n / 16000)
         + 0.25 * np.sin(2 * np.pi * 3000 * n / 16000)
         + 0.1 * np.sin(2 * np.pi * (200 + 2000 * n / 16000) * n / 16000))
    return x.astype(np.float32)


def periodic_hann(n):
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n, dtype=np.float64) / n)


def stft_numpy(x):
    """torch.stft(center=True, pad_mode='reflect', periodic hann) -> [freq, frame]."""
    xp = np.pad(x.astype(np.float64), N_FFT // 2, mode="reflect")
    n_frames = 1 + (len(xp) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    frames = xp[idx] * periodic_hann(N_FFT)[None, :]
    return np.fft.rfft(frames, axis=1).T  # [201, n_frames]


def log_mel(x, filters):
    spec = stft_numpy(x)
    power = np.abs(spec[:, :-1]) ** 2
    mel = filters.astype(np.float64) @ power
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


def f32_repr(v):
    # shortest decimal that parses back to the same float32
    return float(str(np.float32(v)))


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(root, "tests", "fixtures", "mel_reference.json"))
    ap.add_argument("--whisper-filters", metavar="NPZ",
                    help="optional: whisper/assets/mel_filters.npz from the openai-whisper "
                         "source package; the filterbank must equal its mel_80")
    args = ap.parse_args()

    filters = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, dtype=np.float32)
    assert filters.shape == (N_MELS, N_FFT // 2 + 1), filters.shape
    rows, cols = np.nonzero(filters)
    if args.whisper_filters:
        shipped = np.load(args.whisper_filters)["mel_80"]
        assert np.array_equal(shipped, filters), "filterbank differs from whisper's mel_filters.npz"
    nonzero = [[int(r), int(c), f32_repr(filters[r, c])] for r, c in zip(rows, cols)]

    x = make_signal()

    # The numpy STFT must agree with librosa's (an independent implementation).
    ours = np.abs(stft_numpy(x))
    for y in (x, x.astype(np.float64)):
        ref = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT,
                                  window="hann", center=True, pad_mode="reflect"))
        assert ref.shape == ours.shape, (ref.shape, ours.shape)
        err = np.max(np.abs(ours - ref)) / np.max(ref)
        assert err < 1e-5, f"numpy STFT differs from librosa.stft ({y.dtype}): rel err {err:.2e}"

    lm = log_mel(x, filters)
    n_frames = lm.shape[1]
    assert lm.shape == (N_MELS, 100), lm.shape

    fixture = {
        "description": "Whisper log-mel front end reference (see scripts/reference/mel_reference.py)",
        "generator": {"numpy": np.__version__, "librosa": librosa.__version__},
        "sample_rate": SR,
        "n_fft": N_FFT,
        "hop_length": HOP,
        "n_mels": N_MELS,
        "filterbank": "librosa.filters.mel(sr=16000, n_fft=400, n_mels=80) (Slaney scale, slaney norm), float32",
        "filterbank_shape": [N_MELS, N_FFT // 2 + 1],
        "filterbank_nonzero": nonzero,
        "signal": {
            "formula": SIGNAL_FORMULA,
            "sample_rate": SR,
            "n_samples": int(len(x)),
            "dtype": "float32",
        },
        "signal_first_10": [f32_repr(v) for v in x[:10]],
        "signal_sum": float(np.sum(x.astype(np.float64))),
        "log_mel_method": (
            "reflect-pad 200 samples each side (center=True), periodic Hann window 400, hop 160, "
            "rFFT, drop last frame, |X|^2, filterbank @ power, log10(max(x, 1e-10)), "
            "max(x, max(x) - 8), (x + 4) / 4; float64 arithmetic on the float32 signal; "
            "no padding to 30 s; values rounded to 6 decimals"
        ),
        "n_frames": int(n_frames),
        "log_mel_shape": [N_MELS, int(n_frames)],
        "log_mel_layout": "row-major [mel][frame]",
        "log_mel": [[round(float(v), 6) for v in row] for row in lm],
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    text = json.dumps(fixture, separators=(",", ":"))
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    size = len(text) + 1
    if size >= 150_000:
        sys.exit(f"mel_reference: {args.out} is {size} bytes (limit 150000)")
    print(f"mel_reference: wrote {args.out} ({size} bytes, {len(nonzero)} filterbank entries, "
          f"{N_MELS}x{n_frames} log-mel, range {lm.min():.4f}..{lm.max():.4f})")


if __name__ == "__main__":
    main()
