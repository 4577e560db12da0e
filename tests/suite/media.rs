//! Audio decoding of generated fixtures against ffmpeg's decode of the same files.


use std::process::Command;

use crate::common::media;
use creative_filter::media::{decode_audio, to_whisper_input, DecodedAudio};

/// ffmpeg's decode of `file` as 16 kHz mono f32 (the reference).
fn ffmpeg_16k(file: &std::path::Path) -> Vec<f32> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-f", "f32le", "-ac", "1", "-ar", "16000", "-"])
        .output()
        .expect("ffmpeg is installed by scripts/test.sh");
    assert!(out.status.success(), "ffmpeg failed on {}", file.display());
    out.stdout.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// Energy envelopes in 20-ms frames: robust to the encoder delay and phase
/// differences of lossy codecs, sensitive to missing or garbled audio.
fn envelope(x: &[f32]) -> Vec<f64> {
    x.chunks(320).map(|c| (c.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / c.len() as f64).sqrt()).collect()
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ma, mb) = (a.iter().sum::<f64>() / n as f64, b.iter().sum::<f64>() / n as f64);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
fn every_audio_container_matches_ffmpeg() {
    for file in ["voice.wav", "voice.mp3", "voice.m4a", "voice.ogg", "voice.flac", "voice.mp4", "voice.webm", "voice.avi", "misnamed.wbm", "music.wav"] {
        let path = media(file);
        let ext = path.extension().map(|e| e.to_string_lossy().to_string());
        let decoded = decode_audio(std::fs::read(&path).unwrap(), ext.as_deref(), 600.0).unwrap();
        let ours = to_whisper_input(&decoded.audio).unwrap();
        let reference = ffmpeg_16k(&path);
        let len_diff = (ours.len() as f64 - reference.len() as f64).abs() / 16_000.0;
        assert!(len_diff < 0.1, "{file}: {} vs {} samples", ours.len(), reference.len());
        // AAC and MP3 start with encoder priming that decoders trim
        // differently: allow the envelopes to line up within 100 ms.
        let (a, b) = (envelope(&ours), envelope(&reference));
        let (lag, r) = (-5i32..=5)
            .map(|lag| {
                let (x, y) = if lag >= 0 { (&a[lag as usize..], &b[..]) } else { (&a[..], &b[(-lag) as usize..]) };
                (lag, correlation(x, y))
            })
            .max_by(|p, q| p.1.total_cmp(&q.1))
            .unwrap();
        assert!(r > 0.98, "{file}: envelope correlation {r:.4} at a lag of {} ms", lag * 20);
        if file.ends_with(".wav") || file.ends_with(".flac") {
            // Lossless: the samples themselves agree up to the resamplers' differences.
            let n = ours.len().min(reference.len());
            let err: f64 = ours[..n].iter().zip(&reference[..n]).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
            let sig: f64 = reference[..n].iter().map(|b| (*b as f64).powi(2)).sum();
            let snr = 10.0 * (sig / err).log10();
            assert!(snr > 30.0, "{file}: SNR {snr:.1} dB against ffmpeg");
        }
    }
}

#[test]
fn broken_inputs_fail_with_a_reason() {
    let cases = [
        ("empty.wav", "empty"),
        ("random.mp4", "not a media file"),
        ("notes.txt", "not a media file"),
    ];
    for (file, expected) in cases {
        let err = decode_audio(std::fs::read(media(file)).unwrap(), Some("x"), 600.0).unwrap_err().to_string();
        assert!(err.contains(expected), "{file}: {err}");
    }
    // A truncated file keeps what could be decoded.
    let part = decode_audio(std::fs::read(media("truncated.mp3")).unwrap(), Some("mp3"), 600.0).unwrap();
    assert!(part.audio.duration_s() > 1.0 && part.audio.duration_s() < 4.0, "{} s", part.audio.duration_s());
}

#[test]
fn long_input_is_capped() {
    let d = decode_audio(std::fs::read(media("long_speech.wav")).unwrap(), Some("wav"), 20.0).unwrap();
    assert!(d.truncated);
    assert!((d.audio.duration_s() - 20.0).abs() < 0.01);
}

#[test]
fn opus_tracks_are_demuxed_for_the_browsers_decoder() {
    use creative_filter::media::demux_audio;
    let webm = demux_audio(std::fs::read(media("voice.webm")).unwrap(), Some("webm"), 600.0).unwrap();
    assert_eq!((webm.codec.as_str(), webm.sample_rate), ("opus", 48_000));
    assert!(webm.description.as_deref().unwrap().starts_with(b"OpusHead"));
    let end_s = webm.packets.last().map(|p| (p.timestamp_us + p.duration_us) as f64 / 1e6).unwrap();
    let reference_s = ffmpeg_16k(&media("voice.webm")).len() as f64 / 16_000.0;
    assert!((end_s - reference_s).abs() < 0.1, "packets end at {end_s:.2} s, ffmpeg decodes {reference_s:.2} s");
    assert!(webm.packets.windows(2).all(|w| w[0].timestamp_us < w[1].timestamp_us));
    let capped = demux_audio(std::fs::read(media("voice.webm")).unwrap(), Some("webm"), 1.0).unwrap();
    assert!(capped.truncated && capped.packets.last().unwrap().timestamp_us < 1_000_000);
    // Codecs decoded natively are not handed over.
    let wav = demux_audio(std::fs::read(media("voice.wav")).unwrap(), Some("wav"), 600.0);
    assert!(matches!(wav, Err(creative_filter::Error::UnsupportedCodec { .. })));
}

#[test]
fn audio_decoded_elsewhere_is_mixed_and_capped_like_native() {
    let path = media("voice.wav");
    let native = decode_audio(std::fs::read(&path).unwrap(), Some("wav"), 2.0).unwrap();
    // The same mono samples handed over as two identical channels.
    let stereo: Vec<f32> = native.audio.samples.iter().flat_map(|&s| [s, s]).collect();
    let handed = DecodedAudio::from_interleaved(&stereo, 2, native.audio.sample_rate, "pcm", 1.0).unwrap();
    assert!(handed.truncated);
    assert_eq!(handed.audio.samples.len(), native.audio.sample_rate as usize);
    assert_eq!(handed.audio.samples[..], native.audio.samples[..native.audio.sample_rate as usize]);
    assert!(DecodedAudio::from_interleaved(&[], 2, 48_000, "opus", 600.0).is_err());
}
