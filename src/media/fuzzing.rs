//! What the fuzz targets (`fuzz/`) and the corpus replay test drive: every
//! reader of this module over the same bytes. Any panic or hang here is a
//! bug; errors are the expected answer to most inputs.

use std::sync::OnceLock;

use super::{decode_audio, demux_audio, sample_frames, to_whisper_input, video_decode_plan, DecodedAudio};
use crate::asr::mel::LogMel;

/// Under a fuzzer every panic aborts. A panic inside a dependency (a
/// demuxer or decoder crate tripping over a damaged header) is caught by
/// [`super::guarded`] and becomes that file's error, so it is let through
/// (the patched symphonia-core in `vendor/` is a dependency too);
/// one in this crate's own code is a bug and still aborts.
fn abort_on_own_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_dependency = info.location().is_some_and(|l| {
                let file = l.file();
                file.contains(".cargo/registry") || file.contains("/rustc/") || file.contains("vendor/symphonia-core/")
            });
            if !in_dependency {
                fuzzer_hook(info);
            }
        }));
    });
}

/// The fuzz targets, by name (the folders of `fuzz/corpus`).
pub const TARGETS: [&str; 6] = ["avi", "flv", "mp4", "matroska", "probe", "audio_front_end"];

/// Runs fuzz target `target` on `data`. The container targets put their
/// container's magic in front, so that every input reaches that demuxer.
pub fn fuzz_target(target: &str, data: &[u8]) {
    abort_on_own_panics();
    if target == "audio_front_end" {
        return fuzz_front_end(data);
    }
    read_everything(&with_magic(target, data));
}

/// A demuxer target's input as the file it stands for: the container's
/// magic in front (and the RIFF size made to match).
pub fn with_magic(target: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = match target {
        "avi" => b"RIFF\0\0\0\0AVI ".to_vec(),
        "flv" => b"FLV\x01\x05\0\0\0\x09".to_vec(),
        "mp4" => b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec(),
        "matroska" => vec![0x1A, 0x45, 0xDF, 0xA3],
        // The input as it is: what symphonia's probe recognises (WAV, Ogg, MP3, FLAC, …).
        "probe" => Vec::new(),
        other => panic!("no demuxer fuzz target {other}"),
    };
    bytes.extend_from_slice(data);
    if target == "avi" {
        let size = (bytes.len() - 8) as u32;
        bytes[4..8].copy_from_slice(&size.to_le_bytes());
    }
    bytes
}

/// Audio decode, the WebCodecs hand-over, native frames and the browser's
/// decode plan, each on `bytes`.
pub fn read_everything(bytes: &[u8]) {
    if let Ok(decoded) = decode_audio(bytes.to_vec(), None, 30.0) {
        let _ = to_whisper_input(&decoded.audio);
    }
    let _ = demux_audio(bytes.to_vec(), None, 30.0);
    let _ = sample_frames(bytes, 4, 32);
    let _ = video_decode_plan(bytes, 4);
}

/// `data` read as a channel count, a sample rate and 16-bit samples, through
/// the mixdown, the cap, the resampler and the log-mel spectrogram.
fn fuzz_front_end(data: &[u8]) {
    static MEL: OnceLock<LogMel> = OnceLock::new();
    let [channels, r0, r1, r2, rest @ ..] = data else { return };
    let channels = (*channels as usize % 8) + 1;
    let rate = 1_000 + u32::from_le_bytes([*r0, *r1, *r2, 0]) % 191_000;
    let samples: Vec<f32> = rest.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0).collect();
    let Ok(decoded) = DecodedAudio::from_interleaved(&samples, channels, rate, "pcm", 30.0) else { return };
    if let Ok(input) = to_whisper_input(&decoded.audio) {
        let mel = MEL.get_or_init(|| LogMel::new(80)).compute(&input);
        assert!(mel.iter().all(|v| v.is_finite()), "a log-mel value is not finite");
    }
}
