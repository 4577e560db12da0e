//! Every container × codec pair the users' folders hold
//! (`tests/fixtures/formats.json`), generated here with ffmpeg: the audio decoded natively matches ffmpeg's decode of the same
//! file (SNR after both are resampled to 16 kHz mono), the video says what it
//! is, and damaged copies fail alone, quickly, with a reason. The frames of
//! the H.264 files are checked against ffmpeg in `tests/suite/frames.rs`; the same
//! files in the browser in `tests/browser/formats.mjs`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use creative_filter::media::{decode_audio, sample_frames, to_whisper_input, video_decode_plan};
use creative_filter::Error;

use crate::common::ffmpeg;

/// One fixture of `tests/fixtures/formats.json`.
#[derive(serde::Deserialize)]
struct Case {
    file: String,
    args: Vec<String>,
    /// The audio codec as reports name it; None for a picture.
    audio: Option<String>,
    /// The video codec as errors and plans name it; None for audio only.
    video: Option<String>,
    /// Another video source than the shared one.
    source: Option<String>,
}

#[derive(serde::Deserialize)]
struct Recipe {
    audio: String,
    video: String,
    cases: Vec<Case>,
}

fn recipe() -> &'static Recipe {
    static R: OnceLock<Recipe> = OnceLock::new();
    R.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats.json");
        serde_json::from_slice(&std::fs::read(path).unwrap()).expect("formats.json parses")
    })
}

/// The fixtures, made once per test run.
fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("format-fixtures");
        std::fs::create_dir_all(&dir).unwrap();
        let r = recipe();
        for case in &r.cases {
            let out = dir.join(&case.file);
            if out.exists() {
                continue;
            }
            let tmp = dir.join(format!("part.{}", case.file)).to_string_lossy().into_owned();
            let mut all: Vec<&str> = Vec::new();
            if case.audio.is_some() {
                all.extend(["-f", "lavfi", "-i", &r.audio]);
            }
            if case.video.is_some() {
                all.extend(["-f", "lavfi", "-i", case.source.as_deref().unwrap_or(&r.video)]);
            }
            all.extend(case.args.iter().map(String::as_str));
            all.extend(["-shortest", "-y", &tmp]);
            ffmpeg(&all);
            std::fs::rename(&tmp, &out).unwrap();
        }
        dir
    })
}

fn read(case: &Case) -> Vec<u8> {
    std::fs::read(fixtures().join(&case.file)).unwrap()
}

/// ffmpeg's decode as 16 kHz mono, the channels averaged as ours are.
fn ffmpeg_16k(file: &Path) -> Vec<f32> {
    let out = ffmpeg(&["-i", &file.to_string_lossy(), "-af", "pan=mono|c0=0.5*c0+0.5*c1", "-ar", "16000", "-f", "f32le", "-"]);
    out.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// SNR of `ours` against `reference` at the lag (within ±150 ms: encoder
/// delays that decoders trim differently) where they agree best.
fn aligned_snr(ours: &[f32], reference: &[f32]) -> (f64, i64) {
    let score = |lag: i64| -> f64 {
        let (a, b) = if lag >= 0 { (&ours[lag as usize..], reference) } else { (ours, &reference[(-lag) as usize..]) };
        let n = a.len().min(b.len());
        // The edges hold the codecs' priming and padding: compare the middle.
        let (start, end) = (n / 20, n - n / 20);
        let (mut sig, mut err) = (0f64, 0f64);
        for i in start..end {
            sig += (b[i] as f64).powi(2);
            err += (a[i] as f64 - b[i] as f64).powi(2);
        }
        10.0 * (sig / err.max(1e-20)).log10()
    };
    // Coarse steps first, then every sample around the best.
    let coarse = (-2400..=2400).step_by(16).max_by(|&x, &y| score(x).total_cmp(&score(y))).unwrap();
    let lag = (coarse - 16..=coarse + 16).max_by(|&x, &y| score(x).total_cmp(&score(y))).unwrap();
    (score(lag), lag)
}

#[test]
fn every_container_and_codec_decodes_like_ffmpeg() {
    let mut failures = Vec::new();
    println!("{:<22} {:<10} {:>9} {:>9}", "file", "codec", "SNR (dB)", "lag (ms)");
    for case in &recipe().cases {
        let (name, Some(codec)) = (&case.file, &case.audio) else { continue };
        let path = fixtures().join(name);
        let decoded = match decode_audio(read(case), None, 600.0) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let ours = to_whisper_input(&decoded.audio).unwrap();
        let reference = ffmpeg_16k(&path);
        let (snr, lag) = aligned_snr(&ours, &reference);
        println!("{name:<22} {:<10} {snr:>9.1} {:>9.1}", decoded.codec, lag as f64 / 16.0);
        if &decoded.codec != codec {
            failures.push(format!("{name}: codec {} (expected {codec})", decoded.codec));
        }
        let length_gap_s = (ours.len() as f64 - reference.len() as f64).abs() / 16_000.0;
        if length_gap_s > 0.1 {
            failures.push(format!("{name}: {:.2} s of audio, ffmpeg {:.2} s", ours.len() as f64 / 16e3, reference.len() as f64 / 16e3));
        }
        if snr < 30.0 {
            failures.push(format!("{name}: SNR {snr:.1} dB against ffmpeg"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn video_tracks_are_named_and_h264_is_sampled() {
    for case in &recipe().cases {
        let (name, bytes) = (&case.file, read(case));
        match case.video.as_deref() {
            None => assert!(matches!(sample_frames(&bytes, 8, 224), Err(Error::NoVideoTrack)), "{name}"),
            Some("jpeg") => {
                let still = sample_frames(&bytes, 8, 224).unwrap();
                assert_eq!((still.rgb.len(), still.codec.as_str(), still.width), (1, "jpeg", 400), "{name}");
            }
            Some("h264") => {
                let frames = sample_frames(&bytes, 8, 224).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!((frames.rgb.len(), frames.width, frames.height), (8, 320, 240), "{name}");
                let plan = video_decode_plan(&bytes, 8).unwrap().unwrap();
                assert_eq!(plan.times_s, frames.times_s, "{name}: the browser is asked for the native frames");
            }
            Some(codec) => {
                let err = sample_frames(&bytes, 8, 224).unwrap_err();
                assert!(matches!(&err, Error::UnsupportedVideoCodec { codec: c } if c == codec), "{name}: {err}");
                // The browser decodes VP8/VP9 itself; other codecs are named for it too.
                match video_decode_plan(&bytes, 8) {
                    Ok(Some(plan)) => assert!(codec.starts_with("vp"), "{name}: planned {}", plan.codec),
                    Ok(None) => panic!("{name}: not a still"),
                    Err(e) => assert!(matches!(&e, Error::UnsupportedVideoCodec { codec: c } if c == codec), "{name}: {e}"),
                }
            }
        }
    }
}

/// A damaged copy decodes what it can or fails with a reason: never a
/// panic, never a hang.
fn survives(label: &str, bytes: Vec<u8>, extension: Option<&str>) -> Result<(), Error> {
    let started = Instant::now();
    let result = std::panic::catch_unwind(move || {
        let audio = decode_audio(bytes.clone(), extension, 600.0).map(|_| ());
        let _ = sample_frames(&bytes, 8, 64);
        let _ = video_decode_plan(&bytes, 8);
        audio
    })
    .unwrap_or_else(|_| panic!("{label}: panicked"));
    assert!(started.elapsed() < Duration::from_secs(10), "{label}: took {:.1?}", started.elapsed());
    if let Err(e) = &result {
        assert!(!e.to_string().is_empty(), "{label}: an error without a reason");
    }
    result
}

#[test]
fn truncated_random_and_misnamed_files_fail_alone_with_a_reason() {
    let mut state = 0x853c_49e6_748f_ea9bu64;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    for case in &recipe().cases {
        let (name, bytes) = (&case.file, read(case));
        // Ten random cut points.
        let mut kept_audio = 0;
        for _ in 0..10 {
            let cut = next() % bytes.len();
            if survives(&format!("{name} cut at {cut} of {}", bytes.len()), bytes[..cut].to_vec(), None).is_ok() {
                kept_audio += 1;
            }
        }
        // Headers and packets overwritten at random places.
        for round in 0..20 {
            let mut damaged = bytes.clone();
            for _ in 0..8 {
                let at = next() % damaged.len();
                damaged[at] = next() as u8;
            }
            let _ = survives(&format!("{name} damaged #{round}"), damaged, None);
        }
        // The wrong extension changes nothing: the bytes decide.
        if case.audio.is_some() {
            assert!(survives(&format!("{name} named .jpg"), bytes.clone(), Some("jpg")).is_ok(), "{name} named .jpg");
        }
        println!("{name}: {kept_audio} of 10 truncated copies still gave audio");
    }
    for (label, bytes) in [("empty", Vec::new()), ("random", (0..65_536).map(|_| next() as u8).collect()), ("text", "Заметки к креативу".as_bytes().to_vec())] {
        let err = survives(label, bytes, Some("mp4")).unwrap_err();
        assert!(matches!(err, Error::EmptyInput | Error::NotMedia(_)), "{label}: {err}");
    }
    // A bare header of each family with nothing after it.
    for (label, bytes) in [("AVI header", b"RIFF\x04\0\0\0AVI ".to_vec()), ("FLV header", b"FLV\x01\x05\0\0\0\x09\0\0\0\0".to_vec())] {
        assert!(survives(label, bytes, None).is_err(), "{label}");
    }
}

/// ffmpeg's decode of a damaged file as 16 kHz mono samples, or None where
/// ffmpeg reads nothing either.
fn ffmpeg_16k_lenient(file: &Path) -> Option<usize> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "quiet", "-nostdin", "-i", &file.to_string_lossy(), "-ac", "1", "-ar", "16000", "-f", "f32le", "-"])
        .output()
        .expect("ffmpeg is needed by this test");
    (out.stdout.len() >= 4 * 1600).then_some(out.stdout.len() / 4)
}

#[test]
fn files_cut_short_give_the_audio_ffmpeg_gives() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cut-short");
    std::fs::create_dir_all(&dir).unwrap();
    // The MP4 fixtures keep their index at the end (nothing to recover once
    // cut, for ffmpeg too); downloads usually have it in front.
    let faststart = dir.join("faststart.mp4");
    ffmpeg(&["-i", &fixtures().join("mp4_aac_h264.mp4").to_string_lossy(), "-c", "copy", "-movflags", "+faststart", "-y", &faststart.to_string_lossy()]);
    let mut files: Vec<(String, Vec<u8>)> =
        recipe().cases.iter().filter(|c| c.audio.is_some()).map(|c| (c.file.clone(), read(c))).collect();
    files.push(("faststart.mp4".into(), std::fs::read(&faststart).unwrap()));
    let mut failures = Vec::new();
    for (name, bytes) in &files {
        for percent in [50, 75, 95] {
            let cut = &bytes[..bytes.len() * percent / 100];
            let path = dir.join(format!("{percent}-{name}"));
            std::fs::write(&path, cut).unwrap();
            let Some(reference) = ffmpeg_16k_lenient(&path) else { continue };
            let label = format!("{name} cut at {percent} %");
            match survives(&label, cut.to_vec(), None) {
                Err(e) => failures.push(format!("{label}: ffmpeg hears {:.2} s, we fail: {e}", reference as f64 / 16e3)),
                Ok(()) => {
                    let decoded = decode_audio(cut.to_vec(), None, 600.0).unwrap();
                    let ours = to_whisper_input(&decoded.audio).unwrap().len();
                    let gap_s = (ours as f64 - reference as f64).abs() / 16e3;
                    println!("{label:<32} ours {:>5.2} s, ffmpeg {:>5.2} s, incomplete {}", ours as f64 / 16e3, reference as f64 / 16e3, decoded.incomplete);
                    if gap_s > 0.15 {
                        failures.push(format!("{label}: {:.2} s of audio, ffmpeg {:.2} s", ours as f64 / 16e3, reference as f64 / 16e3));
                    }
                    let says_so = [".mp4", ".mov", ".m4a", ".mkv", ".webm", ".avi", ".wav"].iter().any(|e| name.ends_with(e));
                    if says_so && !decoded.incomplete {
                        failures.push(format!("{label}: not marked incomplete"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
