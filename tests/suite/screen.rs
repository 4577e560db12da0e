//! On-screen text: the generated creatives with known text
//! (scripts/make-screen-set.py, run by scripts/fetch-test-data.sh) read
//! with Tesseract and the prepared traineddata, and classified by the CLI.

use std::path::PathBuf;
use std::process::Command;

use creative_filter::asr::wer::char_errors;
use creative_filter::media::{sample_frames_as, FrameCount, FrameSize};
use creative_filter::models::{self, TESSDATA_RUS};
use creative_filter::screen::{read_screen, tesseract::Tesseract, FRAME_SIZE, SAMPLED, TESSERACT};
use creative_filter::Error;

use crate::common::{data_dir, ffmpeg, media};

#[derive(serde::Deserialize)]
struct Item {
    file: String,
    segment: u32,
    background: String,
    width: u32,
    lines: Vec<String>,
}

fn set() -> (PathBuf, Vec<Item>) {
    let dir = data_dir().join("screen");
    let manifest = std::fs::read_to_string(dir.join("manifest.jsonl"))
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/fetch-test-data.sh", dir.display()));
    (dir, manifest.lines().map(|l| serde_json::from_str(l).unwrap()).collect())
}

fn engine() -> Tesseract {
    let dir = models::default_dir();
    assert!(dir.join(TESSDATA_RUS).is_file(), "{}: no traineddata; run `creative-filter models fetch`", dir.display());
    Tesseract::new(&dir, TESSERACT.languages).expect("Tesseract loads the prepared traineddata")
}

#[test]
fn slides_over_plain_backgrounds_are_read_almost_exactly() {
    let (dir, items) = set();
    let mut tesseract = engine();
    let (mut errors, mut chars) = (0, 0);
    let plain: Vec<&Item> = items.iter().filter(|i| ["colour", "gradient", "colour-light"].contains(&i.background.as_str())).collect();
    assert!(plain.len() >= 6, "the set has plain backgrounds");
    for item in plain {
        let read = read_screen(&mut tesseract, &std::fs::read(dir.join(&item.file)).unwrap()).unwrap();
        let (e, n) = char_errors(&item.lines.join("\n"), &read.text());
        (errors, chars) = (errors + e, chars + n);
        // Each slide is read once, not once per frame it stays on screen.
        assert!(read.lines.len() <= item.lines.len() + 1, "{}: {:?}", item.file, read.lines);
        assert!(read.frames_read < read.frames_sampled, "{}: held slides are read once", item.file);
        // Plain slides finish well within every time limit: read whole.
        assert!(!read.cut_short && read.frames_read == read.frames_chosen, "{}: cut short, {} of {} frames", item.file, read.frames_read, read.frames_chosen);
    }
    let cer = errors as f64 / chars as f64;
    assert!(cer <= 0.03, "CER {cer:.3} on plain backgrounds");
}

#[test]
fn the_whole_set_is_read_with_few_errors_and_little_noise() {
    let (dir, items) = set();
    let mut tesseract = engine();
    let (mut errors, mut chars) = (0, 0);
    for item in &items {
        let read = read_screen(&mut tesseract, &std::fs::read(dir.join(&item.file)).unwrap()).unwrap();
        let (e, n) = char_errors(&item.lines.join("\n"), &read.text());
        (errors, chars) = (errors + e, chars + n);
    }
    // bench/screen.sh measured 0.14 (text over a cell pattern is the
    // miss); noise let through, or a reading lost, would push it past 0.25.
    let cer = errors as f64 / chars as f64;
    assert!(cer <= 0.25, "CER {cer:.3} over {} creatives", items.len());
}

#[test]
fn frames_for_reading_keep_the_picture_proportions_and_come_once_a_second() {
    let (dir, items) = set();
    let hd = items.iter().find(|i| i.width == 1920).expect("a 1080p creative");
    let frames = sample_frames_as(&std::fs::read(dir.join(&hd.file)).unwrap(), SAMPLED, FRAME_SIZE).unwrap();
    assert_eq!((frames.frame_width, frames.frame_height), (1280, 720));
    // The set's creatives last 7 to 10.5 s: one frame a second.
    assert!((7..=11).contains(&frames.rgb.len()), "{} frames", frames.rgb.len());
    assert!(frames.rgb.iter().all(|f| f.len() == 1280 * 720 * 3));
    let small = items.iter().find(|i| i.width == 640).expect("a 640×360 creative");
    let frames = sample_frames_as(&std::fs::read(dir.join(&small.file)).unwrap(), FrameCount::Exactly(2), FrameSize::Fit(1280)).unwrap();
    assert_eq!((frames.frame_width, frames.frame_height, frames.rgb.len()), (640, 360, 2), "never enlarged");
}

#[test]
fn a_still_image_is_read_too_and_audio_has_no_picture() {
    let (dir, items) = set();
    let item = items.iter().find(|i| i.background == "colour").unwrap();
    let png = ffmpeg(&["-ss", "1", "-i", &dir.join(&item.file).to_string_lossy(), "-frames:v", "1", "-c:v", "png", "-f", "image2pipe", "-"]);
    let read = read_screen(&mut engine(), &png).unwrap();
    assert_eq!((read.frames_sampled, read.frames_read), (1, 1));
    let first_slide = item.lines[0].to_lowercase();
    assert!(read.text().to_lowercase().contains(&first_slide), "{first_slide:?} in {:?}", read.text());
    let audio = std::fs::read(media("voice.wav")).unwrap();
    assert!(matches!(read_screen(&mut engine(), &audio), Err(Error::NoVideoTrack)));
}

fn classify(args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_creative-filter")).arg("--no-cache").arg("classify").args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_creative_with_its_message_only_on_screen_gets_its_segment() {
    let (dir, items) = set();
    let item = items.iter().find(|i| i.background == "colour" && i.segment == 12).expect("a credit-card creative");
    let path = dir.join(&item.file).to_string_lossy().into_owned();
    let rows = classify(&[&path]);
    let r = &rows[0];
    assert_eq!(r["modality"], "screen", "{r}");
    assert_eq!(r["segment_id"], 12, "{r}");
    assert_eq!(r["screen_segment"]["segment_id"], 12);
    assert!(r["screen_text"].as_str().unwrap().contains(&item.lines[0]), "{r}");
    assert!(r["timings_ms"]["screen"].as_f64().unwrap() > 0.0);
    // Turned off, the same creative has no speech and no answer, and says so.
    let off = classify(&["--screen-text", "off", &path]);
    assert!(off[0]["segment_id"].is_null() && off[0]["screen_text"].is_null(), "{}", off[0]);
    assert!(off[0]["note"].as_str().unwrap().starts_with("no speech"));
    // Asked of an audio file, the picture's absence is a note, not a failure.
    let voice = media("voice.wav").to_string_lossy().into_owned();
    let audio = classify(&["--screen-text", "always", &voice]);
    assert_eq!(audio[0]["screen_note"], "no picture: the file is audio only", "{}", audio[0]);
    assert!(audio[0]["segment_id"].is_number());
}

/// `train` on labelled creatives reads their screens as `classify` would:
/// the slides of silent creatives teach the text head, and creatives with a
/// little speech and a slide calibrate the speech-against-screen weight.
#[test]
fn training_learns_from_the_text_on_screen() {
    let (dir, items) = set();
    let scratch = std::env::temp_dir().join(format!("cf-screen-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let folder = scratch.join("creatives");
    std::fs::create_dir_all(&folder).unwrap();
    let plain: Vec<&Item> = items.iter().filter(|i| ["colour", "gradient", "colour-light"].contains(&i.background.as_str())).collect();
    let mut labels = String::from("Advertisement ID,Segment_num\n");
    for (n, item) in plain.iter().enumerate() {
        let from = dir.join(&item.file);
        let id = 100 + n;
        if n < 3 {
            // The same slides with ten words of voice-over under them.
            let to = folder.join(format!("{id}.mp4"));
            let (from, voice, to) = (from.to_string_lossy(), media("voice.wav"), to.to_string_lossy().into_owned());
            ffmpeg(&["-y", "-i", &from, "-i", &voice.to_string_lossy(), "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", &to]);
        } else {
            std::fs::copy(&from, folder.join(format!("{id}.mp4"))).unwrap();
        }
        labels.push_str(&format!("{id},{}\n", item.segment));
    }
    std::fs::write(scratch.join("labels.csv"), labels).unwrap();
    let (head, report) = (scratch.join("head.json"), scratch.join("report.json"));
    let out = Command::new(env!("CARGO_BIN_EXE_creative-filter"))
        .arg("--cache")
        .arg(scratch.join("cache"))
        .args(["train", "--cv", "3", "--labels"])
        .arg(scratch.join("labels.csv"))
        .arg("--media")
        .arg(&folder)
        .arg("--out")
        .arg(&head)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    // Every plain slide is read with words enough; the voiced ones also by their transcript.
    assert_eq!(report["screen"]["examples"].as_u64(), Some(plain.len() as u64), "{report}\n{stderr}");
    assert_eq!(report["examples"].as_u64(), Some(plain.len() as u64 + 3), "{report}");
    assert!(report["problems"].as_array().unwrap().is_empty(), "{report}");
    assert_eq!(report["screen"]["calibrated_on"].as_u64(), Some(3), "{report}");
    assert!(stderr.contains("calibrated on 3 creatives with both"), "{stderr}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&head).unwrap()).unwrap();
    assert_eq!(saved["screen_fusion"], report["screen"]["fusion"], "the head keeps the calibrated weight");
    // The trained head decides a silent slide creative from its screen.
    let item = items.iter().find(|i| i.background == "colour" && i.segment == 12).expect("a credit-card creative");
    let rows = classify(&["--head", &head.to_string_lossy(), &dir.join(&item.file).to_string_lossy()]);
    assert_eq!((rows[0]["modality"].as_str(), rows[0]["segment_id"].as_u64()), (Some("screen"), Some(12)), "{}", rows[0]);
    std::fs::remove_dir_all(&scratch).unwrap();
}
