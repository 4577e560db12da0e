//! Errors a user can act on. Every variant's message names the file or model
//! concerned and says what to do about it.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The text a caught panic carries ("unknown" when it is not text).
pub fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown".into())
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot read the file: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a regular file (a folder, pipe or device); only files are read")]
    NotRegularFile { path: PathBuf },
    #[error("{path}: {bytes} bytes is more than a creative can have ({limit} bytes at most)")]
    FileTooLarge { path: PathBuf, bytes: u64, limit: u64 },
    #[error("the file is empty (0 bytes)")]
    EmptyInput,
    #[error("not a media file this tool can read ({0})")]
    NotMedia(String),
    #[error("unsupported codec {codec}: {hint}")]
    UnsupportedCodec { codec: String, hint: String },
    #[error("the file has no audio track")]
    NoAudioTrack,
    #[error("the audio could not be decoded: {0}")]
    Decode(String),
    #[error("the file states a {field} of {value}, outside what a creative can have ({limit}): it is damaged or not a creative")]
    OverBudget { field: String, value: String, limit: String },
    #[error("the file has no video track (frames need a video or a JPEG/PNG image)")]
    NoVideoTrack,
    #[error("unsupported video codec {codec} in this file (frames are read from H.264, and in the browser from VP8, VP9 and AV1 too); re-encode it to H.264 for the video branch")]
    UnsupportedVideoCodec { codec: String },
    #[error("the video could not be decoded: {0}")]
    VideoDecode(String),
    #[error("the on-screen text could not be read: {0}")]
    Ocr(String),
    #[error("model {name} is missing: run `creative-filter models fetch` first (looked in {dir})")]
    ModelMissing { name: String, dir: PathBuf },
    #[error("model {name} is damaged: {reason}; run `creative-filter models fetch` again to rebuild it")]
    ModelCorrupt { name: String, reason: String },
    #[error("unsupported model: {0}")]
    ModelConfig(String),
    #[error("model preparation failed: {0}")]
    Prepare(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("inference failed: {0}")]
    Inference(#[from] candle_core::Error),
    /// Answered by computing on the CPU (see [`crate::gpu`]).
    #[error("{0}")]
    Gpu(#[from] crate::gpu::GpuError),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{file}: no column for {wanted} (looked for {tried}; the table has: {found})")]
    MissingColumn {
        file: String,
        wanted: String,
        tried: String,
        found: String,
    },
    #[error("{file}: cannot read the table: {reason}")]
    Table { file: String, reason: String },
    #[error("segment id {id} appears twice in the segment dictionary ({first:?} and {second:?}); give each segment its own id")]
    DuplicateSegmentId {
        id: u32,
        first: String,
        second: String,
    },
    #[error("the classifier head was trained on embeddings from {head_model}, but the embedding model in use is {in_use}; retrain the head with {in_use} or switch back to {head_model}")]
    EmbeddingModelMismatch { head_model: String, in_use: String },
}

/// Writes a whole file; a failure names the path and says it could not be
/// written.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_file(path: &std::path::Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    std::fs::write(path, bytes).map_err(|source| Error::Write { path: path.to_path_buf(), source })
}

/// Creates a folder and its parents; a failure names the folder.
#[cfg(not(target_arch = "wasm32"))]
pub fn create_dir(path: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|source| Error::Write { path: path.to_path_buf(), source })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    #[test]
    fn a_failed_write_names_the_path_and_says_it_is_a_write() {
        let path = std::env::temp_dir().join(format!("cf-no-such-dir-{}", std::process::id())).join("head.json");
        let e = super::write_file(&path, b"{}").unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: cannot write: ", path.display())), "{e}");
        let blocked = std::env::temp_dir().join(format!("cf-a-file-{}", std::process::id()));
        std::fs::write(&blocked, b"x").unwrap();
        let e = super::create_dir(&blocked.join("sub")).unwrap_err().to_string();
        assert!(e.contains("cf-a-file-") && e.contains("cannot write"), "{e}");
        std::fs::remove_file(&blocked).unwrap();
    }
}
