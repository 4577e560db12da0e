//! Sampled video frames against ffmpeg's decode of the same files. The
//! fixtures are generated here with ffmpeg (installed by scripts/test.sh);
//! without it the tests fail and say so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use creative_filter::media::{resize_rgb, rgb_from_yuv, sample_frames, video_decode_plan, Frames};
use creative_filter::Error;

use crate::common::ffmpeg;

const SIZE: usize = 224;
const FPS: f64 = 25.0;

/// The fixtures, made once per test run.
fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("frames-fixtures");
        std::fs::create_dir_all(&dir).unwrap();
        let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let src = "testsrc2=size=320x240:rate=25";
        let tone = "sine=frequency=440:sample_rate=44100";
        // Moving, detailed content with a key frame every 12 frames and the
        // x264 defaults (High profile, CABAC, B-frames).
        let h264 = ["-c:v", "libx264", "-g", "12", "-pix_fmt", "yuv420p"];
        let cases: Vec<(String, Vec<String>)> = vec![
            (p("gop.mp4"), ["-f", "lavfi", "-i", &format!("{src}:duration=4"), "-f", "lavfi", "-i", &format!("{tone}:duration=4")].into_iter().chain(h264).chain(["-c:a", "aac", "-shortest"]).map(String::from).collect()),
            (p("faststart.mp4"), ["-f", "lavfi", "-i", &format!("{src}:duration=4")].into_iter().chain(h264).chain(["-movflags", "+faststart"]).map(String::from).collect()),
            (p("odd.mp4"), ["-f", "lavfi", "-i", "mandelbrot=size=426x240:rate=25", "-t", "2"].into_iter().chain(h264).map(String::from).collect()),
            (p("hd.mp4"), ["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25:duration=1", "-c:v", "libx264", "-preset", "ultrafast", "-g", "12", "-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"].into_iter().map(String::from).collect()),
            (p("clip.mov"), ["-f", "lavfi", "-i", &format!("{src}:duration=3")].into_iter().chain(h264).map(String::from).collect()),
            (p("clip.mkv"), ["-f", "lavfi", "-i", &format!("{src}:duration=3"), "-f", "lavfi", "-i", &format!("{tone}:duration=3")].into_iter().chain(h264).chain(["-c:a", "aac", "-shortest"]).map(String::from).collect()),
            // FLV stores H.264 as MP4 does (avcC, length prefixes, B-frames timed by composition offsets).
            (p("clip.flv"), ["-f", "lavfi", "-i", &format!("{src}:duration=3"), "-f", "lavfi", "-i", &format!("{tone}:duration=3")].into_iter().chain(h264).chain(["-c:a", "aac", "-shortest"]).map(String::from).collect()),
            // AVI stores H.264 with start codes and no times but the frame
            // rate: written without B-frames, as H.264-in-AVI writers do.
            (p("clip.avi"), ["-f", "lavfi", "-i", &format!("{src}:duration=3"), "-f", "lavfi", "-i", &format!("{tone}:duration=3")].into_iter().chain(h264).chain(["-bf", "0", "-c:a", "libmp3lame", "-shortest"]).map(String::from).collect()),
            (p("mpeg4.avi"), ["-f", "lavfi", "-i", &format!("{src}:duration=1"), "-c:v", "mpeg4", "-q:v", "5"].into_iter().map(String::from).collect()),
            // Eleven minutes: longer than the analysed stretch.
            (p("long.mkv"), ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=2:duration=660", "-c:v", "libx264", "-preset", "ultrafast", "-g", "20", "-pix_fmt", "yuv420p"].into_iter().map(String::from).collect()),
            (p("clip.webm"), ["-f", "lavfi", "-i", &format!("{src}:duration=1"), "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"].into_iter().map(String::from).collect()),
            (p("still.jpg"), ["-f", "lavfi", "-i", "testsrc2=size=400x300", "-frames:v", "1", "-q:v", "2"].into_iter().map(String::from).collect()),
            (p("still.png"), ["-f", "lavfi", "-i", "testsrc2=size=400x300", "-frames:v", "1"].into_iter().map(String::from).collect()),
            (p("audio.m4a"), ["-f", "lavfi", "-i", &format!("{tone}:duration=2"), "-c:a", "aac"].into_iter().map(String::from).collect()),
            (p("audio.wav"), ["-f", "lavfi", "-i", &format!("{tone}:duration=1")].into_iter().map(String::from).collect()),
        ];
        for (out, args) in cases {
            if !Path::new(&out).exists() {
                let tmp = format!("{out}.part{}", Path::new(&out).extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default());
                let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
                all.extend(["-y", &tmp]);
                ffmpeg(&all);
                std::fs::rename(&tmp, &out).unwrap();
            }
        }
        dir
    })
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap()
}

/// ffmpeg's full-size RGB frame shown at `t` (every frame decoded, none
/// dropped or repeated, each with its presentation time), squashed by the
/// same resizer, so that only the decoding is compared.
fn reference(file: &Path, t: f64, width: u32, height: u32) -> Vec<u8> {
    let f = file.to_string_lossy();
    let times = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time", "-of", "csv=p=0", &f])
        .output()
        .expect("ffprobe comes with ffmpeg");
    let times: Vec<f64> = String::from_utf8_lossy(&times.stdout).lines().filter_map(|l| l.trim().trim_end_matches(',').parse().ok()).collect();
    let rgb = ffmpeg(&["-i", &f, "-map", "0:v:0", "-fps_mode", "passthrough", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"]);
    let size = (width * height * 3) as usize;
    assert_eq!(rgb.len(), size * times.len(), "{f}: ffmpeg's frames and their times disagree");
    // The frame on screen at t: the last one shown at or before it.
    let shown = times.iter().rposition(|&s| s <= t + 1e-6).unwrap_or(0);
    resize_rgb(&rgb[shown * size..(shown + 1) * size], width, height, SIZE)
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse = a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum::<f64>() / a.len() as f64;
    10.0 * (255.0f64.powi(2) / mse.max(1e-10)).log10()
}

/// Samples `name` and checks every frame against ffmpeg; returns the PSNRs.
fn check_against_ffmpeg(name: &str, width: u32, height: u32, duration_s: f64) -> (Frames, Vec<f64>) {
    let path = fixtures().join(name);
    let started = Instant::now();
    let frames = sample_frames(&read(name), 8, SIZE).unwrap_or_else(|e| panic!("{name}: {e}"));
    let elapsed = started.elapsed();
    assert_eq!((frames.width, frames.height, frames.codec.as_str()), (width, height, "h264"), "{name}");
    assert_eq!((frames.rgb.len(), frames.times_s.len(), frames.size), (8, 8, SIZE), "{name}");
    // Where the video starts on the file's timeline (Matroska keeps the
    // B-frame delay: the first frame is shown at 23 ms).
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=start_time", "-of", "csv=p=0"])
        .arg(&path)
        .output()
        .expect("ffprobe comes with ffmpeg");
    let start_s: f64 = String::from_utf8_lossy(&probe.stdout).trim().parse().unwrap_or(0.0);
    let mut psnrs = Vec::new();
    for (i, (rgb, &t)) in frames.rgb.iter().zip(&frames.times_s).enumerate() {
        assert_eq!(rgb.len(), SIZE * SIZE * 3);
        // The frame shown at the centre of segment i.
        let centre = (i as f64 + 0.5) * (start_s + duration_s) / 8.0;
        let expected = start_s + ((centre - start_s) * FPS + 1e-6).floor().max(0.0) / FPS;
        assert!((t - expected).abs() < 1e-3, "{name}: frame {i} at {t} s, expected the frame at {expected} s");
        let db = psnr(rgb, &reference(&path, t, width, height));
        assert!(db >= 30.0, "{name}: frame {i} at {t:.2} s: PSNR {db:.1} dB against ffmpeg");
        psnrs.push(db);
    }
    let shown: Vec<String> = psnrs.iter().map(|d| format!("{d:.1}")).collect();
    println!("{name}: {width}x{height}, video from {start_s} s, decoded in {elapsed:.2?}, PSNR against ffmpeg (dB): {}", shown.join(" "));
    (frames, psnrs)
}

#[test]
fn mp4_frames_match_ffmpeg_and_land_between_key_frames() {
    let (frames, psnrs) = check_against_ffmpeg("gop.mp4", 320, 240, 4.0);
    // With a key frame every 12 frames, most chosen frames need decoding
    // forward from one.
    let between = frames.times_s.iter().filter(|t| ((*t * FPS).round() as i64) % 12 != 0).count();
    assert!(between >= 6, "{:?}", frames.times_s);
    // The comparison would catch a frame off by one: the neighbours of the
    // right frame are clearly further from what was decoded.
    let path = fixtures().join("gop.mp4");
    for (i, (rgb, &t)) in frames.rgb.iter().zip(&frames.times_s).enumerate() {
        for dt in [-1.0 / FPS, 1.0 / FPS] {
            let neighbour = psnr(rgb, &reference(&path, t + dt, 320, 240));
            assert!(neighbour < psnrs[i] - 3.0, "frame {i} at {t}: {neighbour:.1} dB against the frame at {:.2} s vs {:.1} dB", t + dt, psnrs[i]);
        }
    }
}

#[test]
fn other_h264_files_match_ffmpeg() {
    check_against_ffmpeg("faststart.mp4", 320, 240, 4.0);
    // 426 is not a multiple of 16: the coded picture is cropped to it.
    check_against_ffmpeg("odd.mp4", 426, 240, 2.0);
    // Coded 1920x1088, shown 1920x1080, tagged BT.709.
    check_against_ffmpeg("hd.mp4", 1920, 1080, 1.0);
    check_against_ffmpeg("clip.mov", 320, 240, 3.0);
    check_against_ffmpeg("clip.mkv", 320, 240, 3.0);
    check_against_ffmpeg("clip.flv", 320, 240, 3.0);
    // ffmpeg's AVI muxer writes the second picture's chunk empty (a dropped
    // frame: the first stays on screen), so 75 pictures end at 3.04 s.
    check_against_ffmpeg("clip.avi", 320, 240, 3.04);
}

#[test]
fn frames_come_from_the_analysed_stretch_of_a_long_video() {
    let frames = sample_frames(&read("long.mkv"), 8, SIZE).unwrap();
    let cap = creative_filter::media::MAX_ANALYSED_SECONDS;
    // The centres of eight equal parts of the first ten minutes, not of all eleven.
    let expected: Vec<f64> = (0..8).map(|i| (i as f64 + 0.5) * cap / 8.0).collect();
    for (t, e) in frames.times_s.iter().zip(&expected) {
        assert!((t - e).abs() <= 0.5 + 1e-6, "frame at {t} s, expected the one shown at {e} s: {:?}", frames.times_s);
    }
}

#[test]
fn stills_are_one_frame_creatives() {
    for (name, codec) in [("still.jpg", "jpeg"), ("still.png", "png")] {
        let frames = sample_frames(&read(name), 8, SIZE).unwrap();
        assert_eq!((frames.rgb.len(), frames.width, frames.height, frames.codec.as_str()), (1, 400, 300, codec));
        assert_eq!(frames.times_s, [0.0]);
        let reference = ffmpeg(&["-i", &fixtures().join(name).to_string_lossy(), "-pix_fmt", "rgb24", "-f", "rawvideo", "-"]);
        let db = psnr(&frames.rgb[0], &resize_rgb(&reference, 400, 300, SIZE));
        println!("{name}: PSNR against ffmpeg {db:.1} dB");
        assert!(db >= 30.0, "{name}: PSNR {db:.1} dB");
    }
}

#[test]
fn files_without_h264_video_say_why() {
    let err = sample_frames(&read("clip.webm"), 8, SIZE).unwrap_err();
    assert!(matches!(&err, Error::UnsupportedVideoCodec { codec } if codec == "vp9"), "{err}");
    assert!(err.to_string().contains("unsupported video codec vp9"), "{err}");
    // MPEG-4 Part 2 in AVI (XviD/DivX): named, natively and for the browser.
    let err = sample_frames(&read("mpeg4.avi"), 8, SIZE).unwrap_err();
    assert!(matches!(&err, Error::UnsupportedVideoCodec { codec } if codec == "mpeg4"), "{err}");
    let err = video_decode_plan(&read("mpeg4.avi"), 8).unwrap_err();
    assert!(matches!(&err, Error::UnsupportedVideoCodec { codec } if codec == "mpeg4"), "{err}");
    for audio in ["audio.m4a", "audio.wav"] {
        let err = sample_frames(&read(audio), 8, SIZE).unwrap_err();
        assert!(matches!(err, Error::NoVideoTrack), "{audio}: {err}");
    }
    assert!(matches!(sample_frames(&[], 8, SIZE), Err(Error::EmptyInput)));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let random: Vec<u8> = (0..100_000).map(|_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    }).collect();
    let err = sample_frames(&random, 8, SIZE).unwrap_err();
    assert!(matches!(err, Error::NotMedia(_)), "{err}");
}

/// Every damaged variant fails or succeeds quickly, never panics.
fn survives(name: &str, bytes: &[u8]) -> Result<Frames, Error> {
    let started = Instant::now();
    let result = std::panic::catch_unwind(|| sample_frames(bytes, 8, SIZE)).unwrap_or_else(|_| panic!("{name}: panicked"));
    assert!(started.elapsed() < Duration::from_secs(10), "{name}: took {:.1?}", started.elapsed());
    result
}

#[test]
fn truncated_and_damaged_files_fail_cleanly() {
    for name in ["gop.mp4", "faststart.mp4", "clip.mkv", "clip.mov", "clip.flv", "clip.avi"] {
        let bytes = read(name);
        for percent in [1, 5, 20, 50, 80, 95, 99] {
            let cut = bytes.len() * percent / 100;
            match survives(&format!("{name} cut at {percent}%"), &bytes[..cut]) {
                Ok(f) => assert!(!f.rgb.is_empty() && f.rgb.iter().all(|r| r.len() == SIZE * SIZE * 3)),
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
        // Corrupted headers: bytes of the first 4 KiB (ftyp/moov or the EBML
        // header and tracks) overwritten, one pattern at a time.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..60 {
            let mut damaged = bytes.clone();
            for _ in 0..4 {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let at = (state >> 33) as usize % damaged.len().min(4096);
                damaged[at] = [0xff, 0x00, 0x7f, (state >> 20) as u8][round % 4];
            }
            let _ = survives(&format!("{name} damaged #{round}"), &damaged);
        }
    }
}

/// The page's decode plan asks WebCodecs for the very frames the native
/// decoder picks: runs start at key frames, hold each wanted picture, and
/// the wanted times are the native frames' times.
#[test]
fn browser_decode_plan_wants_the_native_frames() {
    for name in ["gop.mp4", "clip.mkv", "clip.mov", "clip.flv", "clip.avi"] {
        let bytes = read(name);
        let plan = video_decode_plan(&bytes, 8).unwrap().expect("a video, not a still");
        assert!(plan.codec.starts_with("avc1.") && plan.codec.len() == 11, "{name}: {}", plan.codec);
        assert_eq!(plan.description.as_ref().map(|d| d[0]), Some(1), "{name}: the avcC record (version 1)");
        let native = sample_frames(&bytes, 8, SIZE).unwrap();
        assert_eq!(plan.times_s, native.times_s, "{name}");
        assert_eq!(plan.wanted_us.len(), 8);
        let mut runs_holding = 0;
        for run in &plan.runs {
            assert!(run.packets[0].key, "{name}: a run starts at a key frame");
            assert!(run.packets[1..].iter().all(|p| !p.key), "{name}: one key frame per run");
            runs_holding += 1;
        }
        for w in &plan.wanted_us {
            assert!(plan.runs.iter().any(|r| r.packets.iter().any(|p| p.timestamp_us == *w)), "{name}: {w} µs is decoded");
        }
        // A 4-s file with a key frame every 12 frames: 8 picks over ≥ 4 GOPs.
        assert!(runs_holding >= 3 && runs_holding <= 8, "{name}: {runs_holding} runs");
    }
    let vp9 = video_decode_plan(&read("clip.webm"), 8).unwrap().unwrap();
    assert_eq!((vp9.codec.as_str(), vp9.codec_name.as_str(), vp9.description.is_none()), ("vp09.00.10.08", "vp9", true));
    // libvpx writes "unknown" in the key frame's colour config: read as BT.601, as ffmpeg reads it.
    assert_eq!((vp9.matrix, vp9.full_range), (Some("bt601"), Some(false)));
    assert!(video_decode_plan(&read("still.png"), 8).unwrap().is_none(), "stills are read in Rust");
    assert!(matches!(video_decode_plan(&read("audio.m4a"), 8), Err(Error::NoVideoTrack)));
}

/// The page converts the pictures WebCodecs decodes with the native code:
/// I420 and NV12 layouts of one picture (as `VideoFrame.copyTo` gives them)
/// become the same RGB, and that RGB is ffmpeg's own conversion.
#[test]
fn browser_yuv_layouts_convert_like_ffmpeg() {
    let file = fixtures().join("gop.mp4");
    let file = file.to_string_lossy();
    let grab = |pix_fmt: &str| ffmpeg(&["-i", &file, "-frames:v", "1", "-pix_fmt", pix_fmt, "-f", "rawvideo", "-"]);
    let (w, h) = (320usize, 240usize);
    let (i420, nv12, rgb) = (grab("yuv420p"), grab("nv12"), grab("rgb24"));
    let from_i420 = rgb_from_yuv("I420", &i420, &[0, w * h, w * h * 5 / 4], &[w, w / 2, w / 2], w as u32, h as u32, "", false).unwrap();
    let from_nv12 = rgb_from_yuv("NV12", &nv12, &[0, w * h], &[w, w], w as u32, h as u32, "", false).unwrap();
    assert_eq!(from_i420, from_nv12, "both layouts give the same picture");
    let db = psnr(&from_i420, &rgb);
    println!("I420/NV12 → RGB against ffmpeg's rgb24: PSNR {db:.1} dB");
    assert!(db >= 40.0, "PSNR {db:.1} dB against ffmpeg");
    // Short or missing planes are errors, not panics.
    assert!(rgb_from_yuv("I420", &i420[..100], &[0, w * h, w * h * 5 / 4], &[w, w / 2, w / 2], w as u32, h as u32, "", false).is_err());
    assert!(rgb_from_yuv("NV12", &nv12, &[0], &[w], w as u32, h as u32, "", false).is_err());
    assert!(rgb_from_yuv("RGBA", &nv12, &[0], &[w], w as u32, h as u32, "", false).is_err());
}
