//! Pieces the commands share: loading models from the models folder,
//! reading creatives, and isolating one file's failure from the batch.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use web_time::Instant;

use creative_filter::asr::{load_transcriber, TranscribeOptions, Transcriber};
use creative_filter::cache::{DirStore, FeatureCache};
use creative_filter::classify::{Head, SegmentDictionary};
use creative_filter::creative::MediaIndex;
use creative_filter::models::manifest::{Manifest, MANIFEST_FILE};
use creative_filter::models::{read_model_file, WHISPER_GGUF, WHISPER_TOKENIZER};
use creative_filter::pipeline::{media_for_rows, Engine};
use creative_filter::table::Table;
use creative_filter::text::TextEncoder;
use creative_filter::{Error, Result};

/// Options every command that reads creatives shares.
#[derive(clap::Args, Clone)]
pub struct AsrArgs {
    /// Language code to force, or "auto" to detect it.
    #[arg(long, default_value = "ru")]
    pub language: String,
    /// Seconds of audio analysed per creative at most.
    #[arg(long, default_value_t = creative_filter::creative::DEFAULT_MAX_SECONDS)]
    pub max_seconds: f64,
}

impl AsrArgs {
    pub fn options(&self) -> TranscribeOptions {
        TranscribeOptions { language: (self.language != "auto").then(|| self.language.clone()), ..Default::default() }
    }
}

/// Where transcripts and embeddings are kept between runs.
#[derive(clap::Args, Clone)]
pub struct CacheArgs {
    /// Cache folder (default: $CREATIVE_FILTER_CACHE, else ~/.cache/creative-filter).
    #[arg(long, global = true)]
    pub cache: Option<PathBuf>,
    /// Keep nothing between runs.
    #[arg(long, global = true)]
    pub no_cache: bool,
}

impl CacheArgs {
    pub fn open(&self) -> FeatureCache {
        if self.no_cache {
            return FeatureCache::in_memory();
        }
        FeatureCache::new(Box::new(DirStore::new(self.cache.clone().unwrap_or_else(DirStore::default_root))))
    }
}

/// The text model, loaded once per command.
pub fn load_encoder(models: &Path) -> Result<Arc<TextEncoder>> {
    Ok(Arc::new(TextEncoder::load_default(models)?))
}

/// Models, settings and cache for commands that go from media to segments.
pub fn load_engine(models: &Path, encoder: Arc<TextEncoder>, asr: &AsrArgs, cache: &CacheArgs) -> Result<Engine> {
    let t = Instant::now();
    let transcriber = load_whisper(models)?;
    eprintln!("whisper loaded in {:.1} s", t.elapsed().as_secs_f64());
    Ok(Engine {
        transcriber,
        encoder,
        cache: cache.open(),
        asr: asr.options(),
        max_seconds: asr.max_seconds,
        asr_model_id: model_file_id(models, WHISPER_GGUF),
    })
}

/// `file@sha256-prefix` from the manifest, so a rebuilt model misses old cache entries.
fn model_file_id(models: &Path, file: &str) -> String {
    let manifest = std::fs::read(models.join(MANIFEST_FILE)).ok().and_then(|b| Manifest::from_json(&b).ok());
    Manifest::file_id(manifest.as_ref(), file)
}

/// The user's segment dictionary (`.xlsx`/`.csv`), if one was given.
pub fn load_dictionary(path: Option<&Path>) -> Result<Option<SegmentDictionary>> {
    path.map(|p| SegmentDictionary::from_file_bytes(&p.to_string_lossy(), &read_input(p)?.bytes)).transpose()
}

pub fn load_head(path: Option<&Path>, encoder: &TextEncoder) -> Result<Option<Head>> {
    path.map(|p| Head::load(p, &encoder.embedding_id())).transpose()
}

/// The creatives of a media folder by Advertisement ID (file stem).
pub struct MediaFolder {
    pub dir: PathBuf,
    index: MediaIndex<PathBuf>,
}

impl MediaFolder {
    pub fn scan(dir: &Path) -> Result<MediaFolder> {
        let entries = std::fs::read_dir(dir).map_err(|source| Error::Read { path: dir.to_path_buf(), source })?;
        let files = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .map(|p| (p.file_name().unwrap_or_default().to_string_lossy().to_string(), p));
        Ok(MediaFolder { dir: dir.to_path_buf(), index: MediaIndex::new(files) })
    }

    /// The file for an ID; several files with one ID is the user's to resolve.
    pub fn find(&self, id: &str) -> std::result::Result<&Path, String> {
        self.index.find(id, &self.dir.display().to_string()).map(PathBuf::as_path)
    }

    /// The file named by each row of `table` (ID in column `id_col`), or why there is none.
    pub fn for_rows(&self, table: &Table, id_col: usize) -> Vec<std::result::Result<&PathBuf, String>> {
        media_for_rows(table, id_col, &self.index, &self.dir.display().to_string())
    }
}

pub fn load_whisper(dir: &Path) -> Result<Transcriber> {
    let gguf = read_model_file(dir, WHISPER_GGUF, "whisper-base")?;
    let tokenizer = read_model_file(dir, WHISPER_TOKENIZER, "whisper-base")?;
    load_transcriber(&gguf, &tokenizer)
}

pub fn read_input(path: &Path) -> Result<creative_filter::media::MediaBytes> {
    creative_filter::media::read_file(path)
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
