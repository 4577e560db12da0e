//! `models/manifest.json`: every runtime file with its size, sha256, licence
//! and source. The browser verifies downloads against it; `models fetch`
//! uses it to know what is already prepared.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const MANIFEST_FILE: &str = "manifest.json";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// File name inside the models folder.
    pub file: String,
    /// Which model the file belongs to (`whisper-base`, `e5-small`, …).
    pub model: String,
    pub bytes: u64,
    pub sha256: String,
    pub licence: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub files: Vec<ModelFile>,
}

impl Default for Manifest {
    fn default() -> Self {
        Self { version: FORMAT_VERSION, files: Vec::new() }
    }
}

impl Manifest {
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| Error::ModelCorrupt {
            name: MANIFEST_FILE.into(),
            reason: format!("not a valid manifest: {e}"),
        })?;
        if m.version != FORMAT_VERSION {
            return Err(Error::ModelCorrupt {
                name: MANIFEST_FILE.into(),
                reason: format!("manifest version {} is not {FORMAT_VERSION}", m.version),
            });
        }
        Ok(m)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("manifest serialises")
    }

    pub fn get(&self, file: &str) -> Option<&ModelFile> {
        self.files.iter().find(|f| f.file == file)
    }

    /// `file@sha256-prefix`: names a model file in cache keys, so a rebuilt
    /// model misses entries made with the old one.
    pub fn file_id(manifest: Option<&Manifest>, file: &str) -> String {
        let hash = manifest.and_then(|m| m.get(file)).map(|f| f.sha256[..16.min(f.sha256.len())].to_string());
        format!("{file}@{}", hash.unwrap_or_else(|| "unknown".into()))
    }

    /// Adds or replaces the entry for `entry.file`.
    pub fn upsert(&mut self, entry: ModelFile) {
        match self.files.iter_mut().find(|f| f.file == entry.file) {
            Some(slot) => *slot = entry,
            None => self.files.push(entry),
        }
    }
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
