//! Shared by the integration tests: where the prepared models and the
//! generated test data live. Both are made by the README's test command
//! (`scripts/test.sh`); a test that finds them missing fails with the command
//! to run instead of passing silently.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use creative_filter::asr::{load_transcriber, Transcriber};
use creative_filter::models::{self, WHISPER_GGUF, WHISPER_TOKENIZER};

/// ffmpeg's output for `args` (quiet, no stdin): the reference decoder, and
/// the maker of the fixtures that tests generate themselves.
pub fn ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("ffmpeg is needed by this test ({e}); install it (apt-get install ffmpeg) or run scripts/test.sh"));
    assert!(out.status.success(), "ffmpeg {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    out.stdout
}

pub fn data_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    assert!(
        dir.join("media/manifest.tsv").is_file() && dir.join("asterisk/sample12.tsv").is_file(),
        "test data missing in {}: run scripts/fetch-test-data.sh (or scripts/test.sh)",
        dir.display()
    );
    dir
}

pub fn media(name: &str) -> PathBuf {
    data_dir().join("media").join(name)
}

pub fn model_file(name: &str) -> Vec<u8> {
    let path = models::default_dir().join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `creative-filter models fetch` (or scripts/test.sh)", path.display()))
}

/// One Whisper for the whole test binary.
pub fn transcriber() -> &'static Transcriber {
    static T: OnceLock<Transcriber> = OnceLock::new();
    T.get_or_init(|| load_transcriber(&model_file(WHISPER_GGUF), &model_file(WHISPER_TOKENIZER)).expect("whisper loads"))
}

/// `path<TAB>text` lines of a clip list, paths made absolute.
pub fn clip_list(tsv: &str) -> Vec<(PathBuf, String)> {
    let path = data_dir().join(tsv);
    let base = path.parent().unwrap().to_path_buf();
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(f, t)| (base.join(f), t.to_string()))
        .collect()
}
