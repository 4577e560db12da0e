//! Pieces the commands share: loading models from the models folder,
//! reading creatives, and isolating one file's failure from the batch.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use creative_filter::asr::{load_transcriber, Transcriber};
use creative_filter::models::{WHISPER_GGUF, WHISPER_TOKENIZER};
use creative_filter::{Error, Result};

pub fn read_model_file(dir: &Path, file: &str, model: &str) -> Result<Vec<u8>> {
    let path = dir.join(file);
    std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::ModelMissing { name: model.into(), dir: dir.to_path_buf() },
        _ => Error::Read { path, source: e },
    })
}

pub fn load_whisper(dir: &Path) -> Result<Transcriber> {
    let gguf = read_model_file(dir, WHISPER_GGUF, "whisper-base")?;
    let tokenizer = read_model_file(dir, WHISPER_TOKENIZER, "whisper-base")?;
    load_transcriber(&gguf, &tokenizer)
}

pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })
}

/// Runs one file's work so that a panic deep in a decoder becomes that
/// file's error instead of ending the batch.
pub fn isolated<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            Err(Error::Invalid(format!("internal error while processing this file ({msg}); please report it")))
        }
    }
}

/// Peak resident memory of this process in MB (Linux), if known.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
