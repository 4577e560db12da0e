//! What the slow stages learnt about a creative, kept by content hash.
//!
//! Transcribing is by far the slowest step, and users retrain and
//! re-evaluate on the same files again and again. A transcript is stored
//! under the SHA-256 of the file's bytes (renaming or moving a file does not
//! lose it) together with the settings that shaped it; an embedding under
//! the SHA-256 of its text and the embedding model's id. A different model or
//! setting simply misses the cache, so stale entries are never read.
//!
//! The storage is a trait: a folder on disk for the CLI, memory (or the
//! browser's storage) elsewhere.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::creative::Heard;
use crate::error::Result;
use crate::models::manifest::sha256_hex;

/// A key → bytes store. Keys are `kind/namespace/hex`, safe as relative paths.
pub trait Store: Send + Sync {
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    fn put(&self, key: &str, value: &[u8]) -> Result<()>;
}

/// Keeps entries for the life of the process.
#[derive(Default)]
pub struct MemoryStore(Mutex<HashMap<String, Vec<u8>>>);

impl Store for MemoryStore {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0.lock().ok()?.get(key).cloned()
    }
    fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        if let Ok(mut m) = self.0.lock() {
            m.insert(key.to_string(), value.to_vec());
        }
        Ok(())
    }
}

/// Memory that remembers which entries are new: the page loads what the
/// browser kept at start ([`JournalStore::restore`]) and, after each file,
/// copies what was added ([`JournalStore::take_new`]) back to the browser's
/// storage, which only JavaScript can reach and only asynchronously.
#[derive(Default)]
pub struct JournalStore {
    entries: MemoryStore,
    new: Mutex<Vec<String>>,
}

impl JournalStore {
    /// An entry kept from an earlier visit; not new.
    pub fn restore(&self, key: &str, value: &[u8]) {
        let _ = self.entries.put(key, value);
    }

    /// The entries added since the last call, each once.
    pub fn take_new(&self) -> Vec<(String, Vec<u8>)> {
        let keys = self.new.lock().map(|mut k| std::mem::take(&mut *k)).unwrap_or_default();
        keys.into_iter().filter_map(|k| self.entries.get(&k).map(|v| (k, v))).collect()
    }
}

impl Store for JournalStore {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.entries.get(key)
    }
    fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        self.entries.put(key, value)?;
        if let Ok(mut keys) = self.new.lock() {
            if !keys.iter().any(|k| k == key) {
                keys.push(key.to_string());
            }
        }
        Ok(())
    }
}

/// A store shared with whoever else needs it (the page's session keeps a
/// handle on its [`JournalStore`]).
impl<S: Store> Store for std::sync::Arc<S> {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        (**self).get(key)
    }
    fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        (**self).put(key, value)
    }
}

/// One file per entry under a folder; written to a temporary name and
/// renamed, so an interrupted run never leaves a half entry behind.
#[cfg(not(target_arch = "wasm32"))]
pub struct DirStore {
    root: std::path::PathBuf,
}

#[cfg(not(target_arch = "wasm32"))]
impl DirStore {
    pub fn new(root: impl Into<std::path::PathBuf>) -> Self {
        DirStore { root: root.into() }
    }

    /// `$CREATIVE_FILTER_CACHE`, else `$XDG_CACHE_HOME/creative-filter`, else
    /// `~/.cache/creative-filter`, else a folder in the system temp dir.
    pub fn default_root() -> std::path::PathBuf {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(std::path::PathBuf::from);
        env("CREATIVE_FILTER_CACHE")
            .or_else(|| env("XDG_CACHE_HOME").map(|p| p.join("creative-filter")))
            .or_else(|| env("HOME").map(|p| p.join(".cache/creative-filter")))
            .unwrap_or_else(|| std::env::temp_dir().join("creative-filter-cache"))
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Store for DirStore {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root.join(key)).ok()
    }
    fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        let path = self.root.join(key);
        if let Some(dir) = path.parent() {
            crate::error::create_dir(dir)?;
        }
        let tmp = path.with_extension(format!("part{}", std::process::id()));
        crate::error::write_file(&tmp, value)?;
        std::fs::rename(&tmp, &path).map_err(|source| crate::Error::Write { path: path.clone(), source })?;
        Ok(())
    }
}

/// Transcripts and embeddings in a [`Store`].
pub struct FeatureCache {
    store: Box<dyn Store>,
}

impl FeatureCache {
    pub fn new(store: Box<dyn Store>) -> Self {
        FeatureCache { store }
    }

    /// A cache that forgets everything at exit.
    pub fn in_memory() -> Self {
        Self::new(Box::<MemoryStore>::default())
    }

    fn heard_key(content_hash: &str, settings: &str) -> String {
        format!("heard/{}/{content_hash}.json", sha256_hex(settings.as_bytes()))
    }

    fn embedding_key(model_id: &str, text: &str) -> String {
        format!("embedding/{}/{}.f32", sanitize(model_id), sha256_hex(text.as_bytes()))
    }

    /// The transcript of a file with this content hash, made with these settings.
    pub fn heard(&self, content_hash: &str, settings: &str) -> Option<Heard> {
        let bytes = self.store.get(&Self::heard_key(content_hash, settings))?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn put_heard(&self, content_hash: &str, settings: &str, heard: &Heard) -> Result<()> {
        let bytes = serde_json::to_vec(heard).map_err(|e| crate::Error::Invalid(e.to_string()))?;
        self.store.put(&Self::heard_key(content_hash, settings), &bytes)
    }

    fn screen_key(content_hash: &str, settings: &str) -> String {
        format!("screen/{}/{content_hash}.json", sha256_hex(settings.as_bytes()))
    }

    /// The on-screen text of a file with this content hash, read with these settings.
    pub fn screen(&self, content_hash: &str, settings: &str) -> Option<crate::screen::ScreenText> {
        let bytes = self.store.get(&Self::screen_key(content_hash, settings))?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn put_screen(&self, content_hash: &str, settings: &str, text: &crate::screen::ScreenText) -> Result<()> {
        let bytes = serde_json::to_vec(text).map_err(|e| crate::Error::Invalid(e.to_string()))?;
        self.store.put(&Self::screen_key(content_hash, settings), &bytes)
    }

    fn vector(&self, key: &str) -> Option<Vec<f32>> {
        let bytes = self.store.get(key)?;
        if bytes.is_empty() || bytes.len() % 4 != 0 {
            return None;
        }
        Some(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    fn put_vector(&self, key: &str, v: &[f32]) -> Result<()> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.store.put(key, &bytes)
    }

    pub fn embedding(&self, model_id: &str, text: &str) -> Option<Vec<f32>> {
        self.vector(&Self::embedding_key(model_id, text))
    }

    pub fn put_embedding(&self, model_id: &str, text: &str, v: &[f32]) -> Result<()> {
        self.put_vector(&Self::embedding_key(model_id, text), v)
    }

    fn video_key(kind: &str, id: &str, content_hash: &str) -> String {
        format!("{kind}/{}/{}.f32", sha256_hex(id.as_bytes()), sanitize(content_hash))
    }

    /// The video embedding of a file with this content hash, made as `id`
    /// names (the video model, how its frames were sampled).
    pub fn video(&self, id: &str, content_hash: &str) -> Option<Vec<f32>> {
        self.vector(&Self::video_key("video", id, content_hash))
    }

    pub fn put_video(&self, id: &str, content_hash: &str, embedding: &[f32]) -> Result<()> {
        self.put_vector(&Self::video_key("video", id, content_hash), embedding)
    }

    /// A file's zero-shot segment probabilities from its video, against the
    /// prompts `id` names (they cannot be made from the embedding alone).
    pub fn video_probs(&self, id: &str, content_hash: &str) -> Option<Vec<f32>> {
        self.vector(&Self::video_key("video-probs", id, content_hash))
    }

    pub fn put_video_probs(&self, id: &str, content_hash: &str, probs: &[f32]) -> Result<()> {
        self.put_vector(&Self::video_key("video-probs", id, content_hash), probs)
    }

    /// Embeddings of `texts` from the cache, computing and storing only the
    /// missing ones, a chunk at a time (an interrupted run keeps what it
    /// finished). `progress(done, missing)` is called after each chunk.
    /// Returns the vectors and how many came from the cache. Async because
    /// the page's `compute` awaits its WebGPU.
    pub async fn embed(
        &self,
        model_id: &str,
        texts: &[&str],
        mut compute: impl AsyncFnMut(&[&str]) -> Result<Vec<Vec<f32>>>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<(Vec<Vec<f32>>, usize)> {
        const CHUNK: usize = 256;
        let mut out: Vec<Option<Vec<f32>>> = texts.iter().map(|t| self.embedding(model_id, t)).collect();
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| out[i].is_none()).collect();
        let hits = texts.len() - missing.len();
        for (c, chunk) in missing.chunks(CHUNK).enumerate() {
            let todo: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            let fresh = compute(&todo).await?;
            for (&i, v) in chunk.iter().zip(fresh) {
                self.put_embedding(model_id, texts[i], &v)?;
                out[i] = Some(v);
            }
            progress((c * CHUNK + chunk.len()).min(missing.len()), missing.len());
        }
        Ok((out.into_iter().map(|v| v.unwrap_or_default()).collect(), hits))
    }
}

/// Model ids become folder names.
fn sanitize(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.@".contains(c) { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_computed_once_per_text_and_model() {
        let cache = FeatureCache::in_memory();
        let calls = std::cell::Cell::new(0);
        let compute = |t: &[&str]| {
            calls.set(calls.get() + t.len());
            Ok(t.iter().map(|s| vec![s.len() as f32, 1.5]).collect())
        };
        let embed = |model: &str, texts: &[&str]| crate::task::now(cache.embed(model, texts, async |t| compute(t), |_, _| {})).unwrap();
        let (v, hits) = embed("m1", &["ab", "abc"]);
        assert_eq!((v, hits, calls.get()), (vec![vec![2.0, 1.5], vec![3.0, 1.5]], 0, 2));
        let (v, hits) = embed("m1", &["abc", "abcd"]);
        assert_eq!((v, hits, calls.get()), (vec![vec![3.0, 1.5], vec![4.0, 1.5]], 1, 3));
        // Another model's vectors are not reused.
        let (_, hits) = embed("m2", &["abc"]);
        assert_eq!((hits, calls.get()), (0, 4));
    }

    #[test]
    fn a_journal_hands_over_each_new_entry_once_and_not_the_restored_ones() {
        let journal = std::sync::Arc::new(JournalStore::default());
        journal.restore("embedding/m/old.f32", &[1, 2]);
        let cache = FeatureCache::new(Box::new(journal.clone()));
        assert_eq!(cache.embedding("m", "x"), None);
        cache.put_embedding("m", "x", &[0.5]).unwrap();
        cache.put_embedding("m", "x", &[0.5]).unwrap();
        cache.put_embedding("m", "y", &[2.0]).unwrap();
        let new = journal.take_new();
        assert_eq!(new.len(), 2, "{new:?}");
        assert_eq!(new[0].1, 0.5f32.to_le_bytes());
        assert!(new.iter().all(|(k, _)| k.starts_with("embedding/m/") && k != "embedding/m/old.f32"));
        assert!(journal.take_new().is_empty());
        // What the page restores answers as if it had been computed here.
        let later = std::sync::Arc::new(JournalStore::default());
        for (k, v) in &new {
            later.restore(k, v);
        }
        assert_eq!(FeatureCache::new(Box::new(later.clone())).embedding("m", "y"), Some(vec![2.0]));
        assert!(later.take_new().is_empty());
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn folder_store_survives_a_new_process_view() {
        let dir = std::env::temp_dir().join(format!("cf-cache-test-{}", std::process::id()));
        let a = FeatureCache::new(Box::new(DirStore::new(&dir)));
        a.put_embedding("multilingual-e5/small q4", "привет", &[0.25, -1.0]).unwrap();
        let b = FeatureCache::new(Box::new(DirStore::new(&dir)));
        assert_eq!(b.embedding("multilingual-e5/small q4", "привет"), Some(vec![0.25, -1.0]));
        assert_eq!(b.embedding("multilingual-e5/small q4", "пока"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
