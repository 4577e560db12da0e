//! Prepared model files checked against the sha256 that `manifest.json`
//! records, natively, before they are used. A damaged file (a flipped byte
//! loads fine and answers wrong segments) is refused with the repair to run.
//! Hashing ~150 MB at every start is wasted work, so what was verified is
//! remembered per file by size and modification time (`verified.json` in
//! the models folder): a changed file is hashed again.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::manifest::{sha256_hex, Manifest, MANIFEST_FILE};
use crate::error::{Error, Result};

/// The memo of files already verified, beside the manifest.
pub const VERIFIED_FILE: &str = "verified.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Verified {
    bytes: u64,
    modified_ns: u128,
    sha256: String,
}

/// The sha256 of `file`'s `bytes`, checked against the manifest in `dir`.
/// Without a manifest (or an entry for the file) nothing can be checked: a
/// warning says so once per folder, and the hash returned is the file's own.
pub fn verify(dir: &Path, file: &str, bytes: &[u8]) -> Result<String> {
    let manifest = match std::fs::read(dir.join(MANIFEST_FILE)) {
        Ok(b) => Some(Manifest::from_json(&b)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(Error::Read { path: dir.join(MANIFEST_FILE), source }),
    };
    let Some(expected) = manifest.as_ref().and_then(|m| m.get(file)).map(|e| e.sha256.clone()) else {
        warn_unchecked(dir, file);
        return Ok(sha256_hex(bytes));
    };
    let stamp = stamp(&dir.join(file), bytes.len() as u64);
    let mut memo = read_memo(dir);
    if let (Some(stamp), Some(seen)) = (&stamp, memo.get(file)) {
        if seen.bytes == stamp.0 && seen.modified_ns == stamp.1 && seen.sha256 == expected {
            return Ok(expected);
        }
    }
    let actual = sha256_hex(bytes);
    if actual != expected {
        return Err(Error::ModelCorrupt {
            name: file.into(),
            reason: format!("{} has sha256 {}…, the manifest says {}…", dir.join(file).display(), &actual[..12], &expected[..12.min(expected.len())]),
        });
    }
    if let Some((bytes, modified_ns)) = stamp {
        memo.insert(file.to_string(), Verified { bytes, modified_ns, sha256: actual.clone() });
        // A read-only models folder only costs the hashing next time.
        let _ = std::fs::write(dir.join(VERIFIED_FILE), serde_json::to_vec_pretty(&memo).unwrap_or_default());
    }
    Ok(actual)
}

/// Size and modification time of the file as read, if the file system has them.
fn stamp(path: &Path, len: u64) -> Option<(u64, u128)> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?.as_nanos();
    (meta.len() == len).then_some((len, modified))
}

fn read_memo(dir: &Path) -> BTreeMap<String, Verified> {
    std::fs::read(dir.join(VERIFIED_FILE)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

fn warn_unchecked(dir: &Path, file: &str) {
    static WARNED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let key = dir.display().to_string();
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if !warned.contains(&key) {
        eprintln!(
            "warning: {} lists no sha256 for {file}: the model files there cannot be checked for damage (`creative-filter models fetch` writes it)",
            dir.join(MANIFEST_FILE).display()
        );
        warned.push(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::manifest::ModelFile;

    fn folder(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("cf-integrity-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write_manifest(dir: &Path, file: &str, bytes: &[u8]) {
        let mut m = Manifest::default();
        m.upsert(ModelFile {
            file: file.into(),
            model: "test".into(),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            licence: "MIT".into(),
            source: "test".into(),
        });
        std::fs::write(dir.join(MANIFEST_FILE), m.to_json()).unwrap();
    }

    #[test]
    fn a_flipped_byte_is_refused_and_remembered_files_are_not_rehashed_wrongly() {
        let dir = folder("flip");
        let good = vec![7u8; 4096];
        std::fs::write(dir.join("m.gguf"), &good).unwrap();
        write_manifest(&dir, "m.gguf", &good);
        assert_eq!(verify(&dir, "m.gguf", &good).unwrap(), sha256_hex(&good));
        assert!(dir.join(VERIFIED_FILE).exists());
        // Damaged on disk: a new modification time, so it is hashed again and refused.
        let mut bad = good.clone();
        bad[100] ^= 1;
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.join("m.gguf"), &bad).unwrap();
        let e = verify(&dir, "m.gguf", &bad).unwrap_err().to_string();
        assert!(e.contains("damaged") && e.contains("models fetch"), "{e}");
        // Repaired: accepted again.
        std::fs::write(dir.join("m.gguf"), &good).unwrap();
        assert!(verify(&dir, "m.gguf", &good).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn without_a_manifest_the_files_own_hash_is_returned() {
        let dir = folder("bare");
        std::fs::write(dir.join("m.gguf"), b"abc").unwrap();
        assert_eq!(verify(&dir, "m.gguf", b"abc").unwrap(), sha256_hex(b"abc"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
