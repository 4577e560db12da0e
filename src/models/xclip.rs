//! A user-supplied Hugging Face X-CLIP checkpoint, checked and converted to
//! the runtime format (GGUF, Q8_0 unless asked for f32) with its tokenizer
//! as one `tokenizer.json`: from a folder by `models import xclip DIR`
//! (recorded in the manifest like the fetched models), or from the files
//! the user picks in the page (cached by the browser).

#[cfg(feature = "cli")]
use std::fs;
#[cfg(feature = "cli")]
use std::path::Path;

#[cfg(feature = "cli")]
use super::manifest::{sha256_hex, ModelFile, MANIFEST_FILE};
#[cfg(feature = "cli")]
use super::{XCLIP_GGUF, XCLIP_MODEL_NAME, XCLIP_TOKENIZER};
use crate::text::WeightFormat;
use crate::vision::{ClipTokenizer, XClipConfig, XClipWeights};
use crate::{Error, Result};

/// The licence recorded for imported checkpoints: the user brought them.
pub const IMPORTED_LICENCE: &str = "as supplied by the user";

/// What an import did.
#[cfg(feature = "cli")]
#[derive(Debug)]
pub struct ImportReport {
    /// The manifest entries of the runtime files.
    pub files: Vec<ModelFile>,
    /// True when the files were already there, identical.
    pub unchanged: bool,
}

#[cfg(feature = "cli")]
fn bad(dir: &Path, what: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{}: {what}", dir.display()))
}

#[cfg(feature = "cli")]
fn read(dir: &Path, file: &str, why: &str) -> Result<Vec<u8>> {
    let path = dir.join(file);
    fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => bad(dir, format!("no {file}: {why}")),
        _ => Error::Read { path, source: e },
    })
}

/// The runtime files of a converted checkpoint.
pub struct Converted {
    pub gguf: Vec<u8>,
    pub tokenizer_json: Vec<u8>,
}

/// Checks and converts a checkpoint from its files' bytes (the CLI reads
/// them from a folder, the page from the files the user picked). `name`
/// is recorded in the GGUF.
pub fn convert(
    config_json: &[u8],
    safetensors: &[u8],
    tokenizer: &TokenizerFiles,
    name: &str,
    format: WeightFormat,
) -> Result<Converted> {
    let invalid = |what: String| Error::Invalid(what);
    let config = XClipConfig::from_json(config_json).map_err(|e| invalid(format!("config.json: {e}")))?;
    if config.model_type.as_deref() != Some("xclip") {
        return Err(invalid("config.json: model_type is not \"xclip\"; this is not an X-CLIP checkpoint".into()));
    }
    let weights = XClipWeights::from_safetensors(safetensors, &config, format).map_err(|e| invalid(format!("model.safetensors: {e}")))?;
    let max_len = config.text_config.max_position_embeddings;
    let tokenizer = match tokenizer {
        TokenizerFiles::Json(json) => ClipTokenizer::from_tokenizer_json(json, max_len),
        TokenizerFiles::VocabMerges { vocab, merges } => {
            let merges = std::str::from_utf8(merges).map_err(|_| invalid("merges.txt is not UTF-8 text".into()))?;
            ClipTokenizer::from_vocab_merges(vocab, merges, max_len)
        }
    }
    .map_err(|e| invalid(format!("tokenizer: {e}")))?;
    if tokenizer.vocab_size() > config.text_config.vocab_size {
        return Err(invalid(format!(
            "the tokenizer has {} tokens but the model only {}: they do not belong together",
            tokenizer.vocab_size(),
            config.text_config.vocab_size
        )));
    }
    let mut gguf = std::io::Cursor::new(Vec::new());
    weights.write_gguf(name, &mut gguf)?;
    Ok(Converted { gguf: gguf.into_inner(), tokenizer_json: tokenizer.to_json()?.into_bytes() })
}

/// A checkpoint's tokenizer files: `tokenizer.json`, or `vocab.json` + `merges.txt`.
pub enum TokenizerFiles {
    Json(Vec<u8>),
    VocabMerges { vocab: Vec<u8>, merges: Vec<u8> },
}

#[cfg(feature = "cli")]
fn tokenizer_files(dir: &Path) -> Result<TokenizerFiles> {
    if dir.join("tokenizer.json").is_file() {
        return Ok(TokenizerFiles::Json(read(dir, "tokenizer.json", "")?));
    }
    if !dir.join("vocab.json").is_file() || !dir.join("merges.txt").is_file() {
        return Err(bad(dir, "no tokenizer: the folder needs tokenizer.json, or vocab.json and merges.txt"));
    }
    Ok(TokenizerFiles::VocabMerges { vocab: read(dir, "vocab.json", "")?, merges: read(dir, "merges.txt", "")? })
}

/// Imports the checkpoint in `src` into `models_dir`. Idempotent: the same
/// checkpoint gives the same files and the same manifest entries.
#[cfg(feature = "cli")]
pub fn import(src: &Path, models_dir: &Path, format: WeightFormat) -> Result<ImportReport> {
    if !src.is_dir() {
        return Err(bad(src, "not a folder; give the folder of a Hugging Face X-CLIP checkpoint"));
    }
    let config = read(src, "config.json", "not a Hugging Face checkpoint folder")?;
    let weights = read(src, "model.safetensors", "the weights must be in safetensors format")?;
    let name = src.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| XCLIP_MODEL_NAME.into());
    let converted = convert(&config, &weights, &tokenizer_files(src)?, &name, format).map_err(|e| match e {
        Error::Invalid(what) => bad(src, what),
        e => e,
    })?;
    let outputs = [(XCLIP_GGUF, converted.gguf), (XCLIP_TOKENIZER, converted.tokenizer_json)];

    fs::create_dir_all(models_dir).map_err(|e| Error::Prepare(format!("creating {}: {e}", models_dir.display())))?;
    let mut manifest = super::prepare::read_manifest(models_dir)?;
    let source = src.canonicalize().unwrap_or_else(|_| src.to_path_buf()).display().to_string();
    let mut unchanged = true;
    let mut files = Vec::new();
    for (file, bytes) in &outputs {
        let entry = ModelFile {
            file: file.to_string(),
            model: XCLIP_MODEL_NAME.into(),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            licence: IMPORTED_LICENCE.into(),
            source: source.clone(),
        };
        let on_disk = fs::read(models_dir.join(file)).is_ok_and(|b| sha256_hex(&b) == entry.sha256);
        if !(on_disk && manifest.get(file) == Some(&entry)) {
            unchanged = false;
            super::prepare::write_atomically(&models_dir.join(file), bytes)?;
        }
        manifest.upsert(entry.clone());
        files.push(entry);
    }
    if !unchanged {
        super::prepare::write_atomically(&models_dir.join(MANIFEST_FILE), manifest.to_json().as_bytes())?;
    }
    Ok(ImportReport { files, unchanged })
}
