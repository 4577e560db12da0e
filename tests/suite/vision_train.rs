//! `creative-filter train` on labelled creatives with an X-CLIP model
//! imported (the tiny random fixture): beside the speech head it trains a
//! vision head on every creative whose frames it reads — with speech or
//! without — cross-validates it, calibrates the fusion weights on the
//! creatives both branches answered out of fold, and stores both in the head
//! file; `classify --head` then decides silent videos with that vision head.


use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::media;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cf-vision-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cli(models: &Path, cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_creative-filter"));
    c.arg("--models").arg(models).arg("--cache").arg(cache);
    c
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("ffmpeg is needed to make the labelled creatives ({e}); run scripts/test.sh"));
    assert!(out.status.success(), "ffmpeg {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

/// The prepared speech models, linked, with the tiny X-CLIP imported beside them.
fn models_with_xclip(dir: &Path) -> PathBuf {
    let models = dir.join("models");
    std::fs::create_dir_all(&models).unwrap();
    let prepared = creative_filter::models::default_dir();
    for f in ["whisper-base.gguf", "whisper-tokenizer.json.gz", "e5-small.gguf", "e5-tokenizer.json.gz"] {
        let from = prepared.join(f);
        assert!(from.is_file(), "{}: run scripts/prepare.sh (or scripts/test.sh)", from.display());
        std::fs::hard_link(&from, models.join(f)).or_else(|_| std::fs::copy(&from, models.join(f)).map(|_| ())).unwrap();
    }
    std::fs::copy(prepared.join("manifest.json"), models.join("manifest.json")).unwrap();
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-xclip");
    let out = cli(&models, &dir.join("cache")).args(["models", "import", "xclip"]).arg(fixture).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    models
}

/// A 4-s creative: dark or bright pictures, with or without a voice-over.
fn creative(path: &Path, bright: bool, variant: usize, voice: Option<&Path>) {
    let video = if bright {
        format!("testsrc2=size=160x120:rate=10:duration=4,hue=h={}", variant * 40)
    } else {
        format!("color=c=0x{:02x}1020:size=160x120:rate=10:duration=4", 8 + variant * 6)
    };
    let mut args: Vec<String> = vec!["-f".into(), "lavfi".into(), "-i".into(), video];
    if let Some(v) = voice {
        args.extend(["-i".into(), v.to_string_lossy().into_owned(), "-t".into(), "4".into(), "-c:a".into(), "aac".into()]);
    }
    args.extend(["-c:v", "libx264", "-pix_fmt", "yuv420p"].map(String::from));
    args.push(path.to_string_lossy().into_owned());
    ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn training_on_creatives_learns_a_vision_head_and_calibrates_fusion() {
    let dir = scratch("train");
    let models = models_with_xclip(&dir);
    let cache = dir.join("cache");
    let folder = dir.join("creatives");
    std::fs::create_dir_all(&folder).unwrap();
    // Segment 12 (credit cards): dark pictures, the credit-card voice-over or
    // none; segment 15: bright test patterns, a telephone-menu voice or none.
    let mut labels = String::from("Advertisement ID,Segment_num\n");
    for i in 0..3 {
        creative(&folder.join(format!("{}.mp4", 100 + i)), false, i, Some(&media("voice.wav")));
        creative(&folder.join(format!("{}.mp4", 200 + i)), true, i, Some(&media("long_speech.wav")));
        creative(&folder.join(format!("{}.mp4", 300 + i)), false, i + 3, None);
        creative(&folder.join(format!("{}.mp4", 400 + i)), true, i + 3, None);
        for (id, segment) in [(100 + i, 12), (200 + i, 15), (300 + i, 12), (400 + i, 15)] {
            labels.push_str(&format!("{id},{segment}\n"));
        }
    }
    std::fs::write(dir.join("labels.csv"), labels).unwrap();

    let head = dir.join("head.json");
    let out = cli(&models, &cache)
        .args(["train", "--cv", "3", "--labels"])
        .arg(dir.join("labels.csv"))
        .arg("--media")
        .arg(&folder)
        .arg("--out")
        .arg(&head)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("3-fold cross-validation on 6 examples"), "the speech head learns from the 6 with speech:\n{stdout}");
    assert!(stdout.contains("vision head, 3-fold cross-validation on 12 creatives"), "the vision head learns from all 12:\n{stdout}");
    assert!(stderr.contains("fusion calibrated on 6 creatives both branches answered"), "{stderr}");
    assert!(stderr.contains("ID 300: used for the vision head only: no speech"), "{stderr}");

    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&head).unwrap()).unwrap();
    let vision = &saved["vision"];
    assert!(vision["head"]["embedding_model"].as_str().unwrap().starts_with("xclip.gguf@"), "{vision}");
    assert_eq!(vision["head"]["examples"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).sum::<u64>(), 12);
    for p in ["bias", "per_log_word", "no_speech"] {
        assert!(vision["fusion"][p].as_f64().is_some_and(f64::is_finite), "fusion.{p}: {vision}");
    }

    // New silent creatives: the trained vision head tells dark from bright.
    let dark = dir.join("dark.mp4");
    let bright = dir.join("bright.mp4");
    creative(&dark, false, 7, None);
    creative(&bright, true, 7, None);
    let out = cli(&models, &cache).arg("classify").arg("--head").arg(&head).arg(&dark).arg(&bright).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for (row, want) in rows.iter().zip([12, 15]) {
        assert_eq!(row["modality"], "vision", "{row}");
        assert_eq!(row["segment_id"].as_u64(), Some(want), "{row}");
        assert_eq!(row["vision_segment"]["segment_id"].as_u64(), Some(want), "{row}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
