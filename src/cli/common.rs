//! Pieces the commands share: loading models from the models folder,
//! reading creatives, and isolating one file's failure from the batch.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use web_time::Instant;

use creative_filter::asr::{load_transcriber, load_transcriber_on, DecodingOptions, TranscribeOptions, Transcriber};
use creative_filter::gpu::{DeviceChoice, Gpu, GpuError};
use creative_filter::cache::{DirStore, FeatureCache};
use creative_filter::classify::{Head, SegmentDictionary};
use creative_filter::creative::MediaIndex;
use creative_filter::models::{
    read_model_file, read_verified_model_file, TESSDATA_ENG, TESSDATA_MODEL_NAME, TESSDATA_RUS, WHISPER_GGUF, WHISPER_TOKENIZER,
};
use creative_filter::screen::{ScreenMode, ScreenReader, TesseractReader};
use creative_filter::pipeline::{media_for_rows, Engine};
use creative_filter::message::Message;
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
    #[command(flatten)]
    pub decoding: DecodingArgs,
    /// Words to expect in the speech — brand and product names, the
    /// segments' vocabulary — given to Whisper before each 30-s window to
    /// bias its spelling toward them (faster-whisper's `hotwords`; its first
    /// 223 tokens are used).
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,
}

/// How Whisper chooses its tokens.
#[derive(clap::Args, Clone)]
pub struct DecodingArgs {
    /// Hypotheses of the beam search (1: greedy decoding, the fastest).
    #[arg(long, default_value_t = DecodingOptions::default().beam_size, value_parser = parse_beam_size)]
    pub beam_size: usize,
    /// No sampling at rising temperatures when a window's text looks like a
    /// repetition loop or the decoder was unsure of it.
    #[arg(long)]
    pub no_fallback: bool,
}

fn parse_beam_size(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 1..=16) => Ok(n),
        _ => Err(format!("`{s}` is not a beam size from 1 to 16")),
    }
}

impl DecodingArgs {
    pub fn options(&self) -> DecodingOptions {
        let mut d = DecodingOptions { beam_size: self.beam_size, ..Default::default() };
        if self.no_fallback {
            d.temperatures = vec![0.0];
        }
        d
    }
}

/// For the commands that classify creatives.
#[derive(clap::Args, Clone)]
pub struct ScreenArgs {
    /// When to read the text on screen: `auto` for creatives with no or
    /// little speech (under 20 words), `always`, or `off`.
    #[arg(long, default_value = "auto", value_parser = parse_screen_mode)]
    pub screen_text: ScreenMode,
}

fn parse_screen_mode(s: &str) -> std::result::Result<ScreenMode, String> {
    match s {
        "auto" => Ok(ScreenMode::Auto),
        "always" => Ok(ScreenMode::Always),
        "off" => Ok(ScreenMode::Off),
        _ => Err(format!("`{s}` is not one of auto, always, off")),
    }
}

impl AsrArgs {
    pub fn options(&self) -> TranscribeOptions {
        TranscribeOptions {
            language: (self.language != "auto").then(|| self.language.clone()),
            decoding: self.decoding.options(),
            prompt: self.prompt.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(String::from),
            ..Default::default()
        }
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
    Ok(Arc::new(TextEncoder::load_default_on(models, gpu()?)?))
}

/// Models, settings and cache for commands that go from media to segments;
/// Tesseract only when the screen is to be read.
pub fn load_engine(models: &Path, encoder: Arc<TextEncoder>, asr: &AsrArgs, screen: ScreenMode, cache: &CacheArgs) -> Result<Engine> {
    let t = Instant::now();
    let (transcriber, asr_model_id) = load_whisper_with_id(models)?;
    eprintln!("whisper loaded in {:.1} s", t.elapsed().as_secs_f64());
    Ok(Engine {
        transcriber,
        encoder,
        cache: cache.open(),
        asr: asr.options(),
        max_seconds: asr.max_seconds,
        asr_model_id,
        screen: load_screen_reader(models, screen)?,
        screen_mode: screen,
    })
}

/// Tesseract with the prepared traineddata, unless the screen is not to be
/// read. Models missing or damaged: said once, and the speech decides alone.
fn load_screen_reader(models: &Path, mode: ScreenMode) -> Result<Option<Box<dyn ScreenReader>>> {
    if mode == ScreenMode::Off {
        return Ok(None);
    }
    let mut ids = Vec::new();
    for file in [TESSDATA_RUS, TESSDATA_ENG] {
        match read_verified_model_file(models, file, TESSDATA_MODEL_NAME) {
            Ok((_, sha256)) => ids.push(format!("{file}@{}", &sha256[..16])),
            Err(e) => {
                eprintln!("on-screen text will not be read: {e}");
                return Ok(None);
            }
        }
    }
    Ok(Some(Box::new(TesseractReader::new(models, ids.join(" "))?)))
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
    pub fn find(&self, id: &str) -> std::result::Result<&Path, Message> {
        self.index.find(id, &self.dir.display().to_string()).map(PathBuf::as_path)
    }

    /// The file named by each row of `table` (ID in column `id_col`), or why there is none.
    pub fn for_rows(&self, table: &Table, id_col: usize) -> Vec<std::result::Result<&PathBuf, Message>> {
        media_for_rows(table, id_col, &self.index, &self.dir.display().to_string())
    }
}

pub fn load_whisper(dir: &Path) -> Result<Transcriber> {
    load_whisper_with_id(dir).map(|(t, _)| t)
}

static DEVICE: std::sync::OnceLock<DeviceChoice> = std::sync::OnceLock::new();

/// `--device`, for the models loaded later.
pub fn set_device(choice: DeviceChoice) {
    let _ = DEVICE.set(choice);
}

/// The GPU `--device` chose, opened and self-tested once per run.
pub fn gpu() -> Result<Option<Arc<Gpu>>> {
    static GPU: std::sync::OnceLock<std::result::Result<Option<Arc<Gpu>>, GpuError>> = std::sync::OnceLock::new();
    let choice = DEVICE.get().copied().unwrap_or_default();
    Ok(GPU.get_or_init(|| Gpu::select(choice)).clone()?)
}

/// Whisper and `file@sha256-prefix` of its verified weights, which keys the
/// transcript cache: a repaired or rebuilt model never reuses old answers.
fn load_whisper_with_id(dir: &Path) -> Result<(Transcriber, String)> {
    load_whisper_on(dir, gpu()?)
}

/// Whisper with its encoder on `gpu`, or on the CPU.
pub fn load_whisper_on(dir: &Path, gpu: Option<Arc<Gpu>>) -> Result<(Transcriber, String)> {
    let (gguf, sha256) = read_verified_model_file(dir, WHISPER_GGUF, "whisper-base")?;
    let tokenizer = read_model_file(dir, WHISPER_TOKENIZER, "whisper-base")?;
    let transcriber = match gpu {
        Some(gpu) => load_transcriber_on(&gguf, &tokenizer, gpu)?,
        None => load_transcriber(&gguf, &tokenizer)?,
    };
    Ok((transcriber, format!("{WHISPER_GGUF}@{}", &sha256[..16])))
}

pub fn read_input(path: &Path) -> Result<creative_filter::media::MediaBytes> {
    creative_filter::media::read_file(path)
}

/// Where the last panic happened: the hook records it instead of printing
/// it, so that a panic caught and turned into one file's error (a damaged
/// file tripping a decoder crate) prints no "thread panicked" text and no
/// backtrace, and one that is not caught is still reported with its place.
static LAST_PANIC_AT: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Replaces the default panic output (set `RUST_BACKTRACE=1` to see it).
pub fn record_panics_quietly() {
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
        if let Ok(mut last) = LAST_PANIC_AT.lock() {
            *last = at;
        }
    }));
}

/// A caught panic's message and, when known, where it happened.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let msg = creative_filter::error::panic_text(panic);
    match LAST_PANIC_AT.lock().ok().and_then(|mut l| l.take()) {
        Some(at) => format!("{msg}, at {at}"),
        None => msg,
    }
}

/// Runs one file's work so that a panic deep in a decoder becomes that
/// file's error instead of ending the batch.
pub fn isolated<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic_message(panic.as_ref());
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
