//! `models import xclip DIR`: a user-supplied Hugging Face X-CLIP checkpoint
//! folder, checked and converted to the runtime format (GGUF, Q8_0 unless
//! asked for f32) with its tokenizer as one `tokenizer.json`, recorded in
//! the manifest like the fetched models.

use std::fs;
use std::path::Path;

use super::manifest::{sha256_hex, ModelFile, MANIFEST_FILE};
use super::{XCLIP_GGUF, XCLIP_MODEL_NAME, XCLIP_TOKENIZER};
use crate::text::WeightFormat;
use crate::vision::{ClipTokenizer, XClipConfig, XClipWeights};
use crate::{Error, Result};

/// The licence recorded for imported checkpoints: the user brought them.
pub const IMPORTED_LICENCE: &str = "as supplied by the user";

/// What an import did.
#[derive(Debug)]
pub struct ImportReport {
    /// The manifest entries of the runtime files.
    pub files: Vec<ModelFile>,
    /// True when the files were already there, identical.
    pub unchanged: bool,
}

fn bad(dir: &Path, what: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{}: {what}", dir.display()))
}

fn read(dir: &Path, file: &str, why: &str) -> Result<Vec<u8>> {
    let path = dir.join(file);
    fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => bad(dir, format!("no {file}: {why}")),
        _ => Error::Read { path, source: e },
    })
}

/// The checkpoint's tokenizer: `tokenizer.json`, else `vocab.json` + `merges.txt`.
fn tokenizer(dir: &Path, max_len: usize) -> Result<ClipTokenizer> {
    if dir.join("tokenizer.json").is_file() {
        return ClipTokenizer::from_tokenizer_json(&read(dir, "tokenizer.json", "")?, max_len).map_err(|e| bad(dir, e));
    }
    if !dir.join("vocab.json").is_file() || !dir.join("merges.txt").is_file() {
        return Err(bad(dir, "no tokenizer: the folder needs tokenizer.json, or vocab.json and merges.txt"));
    }
    let merges = String::from_utf8(read(dir, "merges.txt", "")?).map_err(|_| bad(dir, "merges.txt is not UTF-8 text"))?;
    ClipTokenizer::from_vocab_merges(&read(dir, "vocab.json", "")?, &merges, max_len).map_err(|e| bad(dir, e))
}

/// Imports the checkpoint in `src` into `models_dir`. Idempotent: the same
/// checkpoint gives the same files and the same manifest entries.
pub fn import(src: &Path, models_dir: &Path, format: WeightFormat) -> Result<ImportReport> {
    if !src.is_dir() {
        return Err(bad(src, "not a folder; give the folder of a Hugging Face X-CLIP checkpoint"));
    }
    let config = XClipConfig::from_json(&read(src, "config.json", "not a Hugging Face checkpoint folder")?)
        .map_err(|e| bad(src, format!("config.json: {e}")))?;
    if config.model_type.as_deref() != Some("xclip") {
        return Err(bad(src, "config.json: model_type is not \"xclip\"; this is not an X-CLIP checkpoint"));
    }
    let weights = read(src, "model.safetensors", "the weights must be in safetensors format")?;
    let weights = XClipWeights::from_safetensors(&weights, &config, format).map_err(|e| bad(src, e))?;
    let tokenizer = tokenizer(src, config.text_config.max_position_embeddings)?;
    if tokenizer.vocab_size() > config.text_config.vocab_size {
        return Err(bad(src, format!(
            "the tokenizer has {} tokens but the model only {}: they do not belong together",
            tokenizer.vocab_size(),
            config.text_config.vocab_size
        )));
    }
    let mut gguf = std::io::Cursor::new(Vec::new());
    let name = src.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| XCLIP_MODEL_NAME.into());
    weights.write_gguf(&name, &mut gguf)?;
    let outputs = [(XCLIP_GGUF, gguf.into_inner()), (XCLIP_TOKENIZER, tokenizer.to_json()?.into_bytes())];

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
