//! The command-line tool as batch users run it.


use std::process::Command;

use crate::common::media;

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_creative-filter"))
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out).lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect()
}

#[test]
fn a_broken_file_fails_alone_and_the_batch_goes_on() {
    let files = ["empty.wav", "random.mp4", "voice.ogg", "notes.txt", "truncated.mp3"].map(media);
    let missing = media("does-not-exist.wav");
    let out = cli().arg("transcribe").args(&files).arg(&missing).output().unwrap();
    assert!(out.status.success(), "one file succeeded, so the exit code is 0: {}", String::from_utf8_lossy(&out.stderr));
    let rows = json_lines(&out.stdout);
    assert_eq!(rows.len(), 6, "every input gets a row");
    let by_id = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap_or_else(|| panic!("no row for {id}"));
    assert!(by_id("empty")["error"].as_str().unwrap().contains("empty"));
    assert!(by_id("random")["error"].as_str().unwrap().contains("not a media file"));
    assert!(by_id("notes")["error"].as_str().unwrap().contains("not a media file"));
    assert!(by_id("does-not-exist")["error"].as_str().unwrap().contains("cannot read"));
    let voice = by_id("voice");
    assert_eq!(voice["speech"], true);
    assert!(voice["text"].as_str().unwrap().to_lowercase().contains("карт"));
    for key in ["no_speech_prob", "language", "duration_s", "timings_ms"] {
        assert!(!voice[key].is_null(), "missing {key}");
    }
    // The truncated MP3 keeps the part that decodes.
    assert!(by_id("truncated")["duration_s"].as_f64().unwrap() > 1.0);
}

#[test]
fn exit_code_is_nonzero_only_when_every_file_failed() {
    let out = cli().arg("transcribe").arg(media("empty.wav")).arg(media("notes.txt")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out.stdout).len(), 2);
}

#[test]
fn missing_models_give_one_clear_line() {
    let empty = std::env::temp_dir().join(format!("cf-no-models-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = cli().arg("--models").arg(&empty).arg("transcribe").arg(media("voice.wav")).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("models fetch"), "{stderr}");
    std::fs::remove_dir_all(&empty).unwrap();
}
