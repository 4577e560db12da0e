//! `creative-filter bench asr`: this product against faster-whisper on the
//! same clips and the same weights, printed side by side.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use web_time::Instant;

use super::common::{load_whisper, peak_rss_mb, read_input, DecodingArgs};
use creative_filter::asr::wer::{char_errors, word_errors};
use creative_filter::asr::{DecodingOptions, TranscribeOptions};
use creative_filter::creative::{listen, Creative, DEFAULT_MAX_SECONDS};
use creative_filter::models::WHISPER_GGUF;
use creative_filter::{Error, Result};

#[derive(Subcommand)]
pub enum What {
    /// Cross-validated macro-F1, training time and embedding throughput
    /// against a TF-IDF + logistic-regression peer on the same folds.
    Classify(super::bench_classify::Args),
    /// On-screen text: character error rate, segments right and time per
    /// creative on a set with known text (scripts/make-screen-set.py).
    Screen(super::bench_screen::Args),
    /// Rows per second reading and summing a generated spend file (see bench/dashboard.sh).
    Dashboard {
        /// Rows of generated spend.
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
    },
    /// X-CLIP time per creative (8 frames, base-patch32 dimensions, random
    /// weights), model build time and peak memory.
    Xclip {
        /// f32 weights instead of Q8_0.
        #[arg(long)]
        f32: bool,
        /// Timed runs after one warm-up.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Segment prompts each creative is scored against.
        #[arg(long, default_value_t = 18)]
        prompts: usize,
    },
    /// Milliseconds per int8 matrix product on every kernel path this CPU
    /// runs (random Q8_0 weights; JSON: `[[path, ms], …]`, best of `runs`).
    Kernels {
        /// Tokens (rows of the input).
        #[arg(long, default_value_t = 1500)]
        m: usize,
        /// Output features.
        #[arg(long, default_value_t = 2048)]
        n: usize,
        /// Input features (a multiple of 32).
        #[arg(long, default_value_t = 512)]
        k: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Whisper's encoder alone on the first 30-s window of FILE, timed by
    /// part, with the int8 layers' own split (JSON; the page's
    /// `benchEncoder` prints beside it in bench/web.mjs).
    Encoder {
        file: PathBuf,
        /// Timed runs after one warm-up (the fastest is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Whisper's decoder alone on the first 30-s window of FILE (encoded
    /// once), timed by part over the window's steps (JSON; the page's
    /// `benchDecoder` prints beside it in bench/web.mjs).
    Decoder {
        file: PathBuf,
        /// Timed runs after one warm-up (the fastest is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[command(flatten)]
        decoding: DecodingArgs,
    },
    /// The Russian/English e5 vocabulary against the whole one (prepared
    /// with `models fetch --full-vocabulary` into FULL): tokens and sentence
    /// embeddings of the texts in DATA, compared text by text.
    Vocab {
        /// The models folder holding the full-vocabulary e5.
        #[arg(long)]
        full: PathBuf,
        /// Texts (.jsonl/.csv/.xlsx with a `text` column).
        #[arg(long)]
        data: PathBuf,
        /// Compare an even sample of this many texts (0: all).
        #[arg(long, default_value_t = 2000)]
        sample: usize,
    },
    /// Each GPU kernel on Whisper-base's encoder shapes beside the CPU
    /// kernels, then with FILE Whisper's encoder on its first window and the
    /// whole file transcribed, on the GPU and on the CPU. The GPU is used
    /// whatever the adapter: on a CPU emulation (lavapipe) the figures show
    /// the backend's overhead, not a GPU's speed.
    Gpu {
        file: Option<PathBuf>,
        /// Timed runs after one warm-up (the fastest is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Word error rate, time per 30-s window and memory against faster-whisper.
    Asr {
        /// Clip list: `path<TAB>reference text`, paths relative to the list.
        #[arg(long)]
        clips: PathBuf,
        /// faster-whisper's results on the same clips (bench/faster_whisper_peer.py).
        #[arg(long)]
        peer: Option<PathBuf>,
        #[command(flatten)]
        decoding: DecodingArgs,
    },
}

/// FILE's audio as Whisper reads it (16 kHz mono).
fn whisper_input(file: &Path) -> Result<Vec<f32>> {
    let creative = Creative::from_file_name(&file.to_string_lossy());
    let decoded = creative_filter::media::decode_audio(read_input(file)?.bytes, creative.extension.as_deref(), DEFAULT_MAX_SECONDS)?;
    creative_filter::media::to_whisper_input(&decoded.audio)
}

pub fn run(what: What, models: &Path, cache: &super::common::CacheArgs) -> Result<i32> {
    match what {
        What::Asr { clips, peer, decoding } => asr(&clips, peer.as_deref(), &decoding.options(), models),
        What::Encoder { file, runs } => {
            let transcriber = load_whisper(models)?;
            println!("{}", serde_json::json!(transcriber.bench_encoder(&whisper_input(&file)?, runs)?));
            Ok(0)
        }
        What::Decoder { file, runs, decoding } => {
            let transcriber = load_whisper(models)?;
            let opts = TranscribeOptions { decoding: decoding.options(), ..Default::default() };
            println!("{}", serde_json::json!(transcriber.bench_decoder(&whisper_input(&file)?, runs, &opts)?));
            Ok(0)
        }
        What::Gpu { file, runs } => gpu(file.as_deref(), runs, models),
        What::Classify(args) => super::bench_classify::run(args, models, cache),
        What::Screen(args) => super::bench_screen::run(args, models, cache),
        What::Vocab { full, data, sample } => vocab(models, &full, &data, sample),
        What::Dashboard { rows } => dashboard(rows),
        What::Xclip { f32, runs, prompts } => xclip(f32, runs, prompts),
        What::Kernels { m, n, k, runs } => {
            if k == 0 || k % 32 != 0 {
                return Err(creative_filter::Error::Invalid(format!("--k {k}: the input width must be a positive multiple of 32")));
            }
            let times = creative_filter::kernels::int8::bench_paths(m, n, k, runs).map_err(creative_filter::Error::Invalid)?;
            println!("{}", serde_json::json!(times));
            Ok(0)
        }
    }
}

fn gpu(file: Option<&Path>, runs: usize, models: &Path) -> Result<i32> {
    use creative_filter::gpu::{bench, DeviceChoice, Gpu};
    let gpu = Gpu::select(DeviceChoice::Gpu)?.ok_or_else(|| Error::Invalid("no GPU was opened".into()))?;
    let adapter = gpu.adapter().clone();
    println!(
        "GPU: {adapter}; CPU: {} threads, int8 kernels {}",
        rayon::current_num_threads(),
        creative_filter::kernels::int8::path_name()
    );
    if adapter.software {
        println!("(a CPU emulation of a GPU: its figures show the backend's overhead, not a GPU's speed)");
    }
    println!("{:<42} {:<40} {:>10} {:>9} {:>10} {:>9} {:>8}", "kernel", "shape", "GPU ms", "GFLOP/s", "CPU ms", "GFLOP/s", "GPU/CPU");
    for k in bench::kernels(&gpu, runs)? {
        println!(
            "{:<42} {:<40} {:>10.2} {:>9.1} {:>10.2} {:>9.1} {:>8.2}",
            k.kernel,
            k.shape,
            k.gpu_ms,
            k.gpu_gflops(),
            k.cpu_ms,
            k.cpu_gflops(),
            k.gpu_ms / k.cpu_ms
        );
    }
    xclip_on_gpu(&gpu, runs)?;
    let Some(file) = file else { return Ok(0) };
    let samples = whisper_input(file)?;
    let (on_gpu, _) = super::common::load_whisper_on(models, Some(gpu.clone()))?;
    let (on_cpu, _) = super::common::load_whisper_on(models, None)?;
    let mel = on_cpu.first_window_mel(&samples)?;
    let time = |t: &creative_filter::asr::Transcriber| -> Result<(f64, Vec<f32>)> {
        let mut best = f64::INFINITY;
        let mut out = Vec::new();
        for _ in 0..=runs.max(1) {
            let start = Instant::now();
            let encoded = t.model().encode(&mel)?;
            best = best.min(start.elapsed().as_secs_f64() * 1e3);
            out = encoded.audio.flatten_all()?.to_vec1::<f32>()?;
        }
        Ok((best, out))
    };
    let ((gpu_ms, a), (cpu_ms, b)) = (time(&on_gpu)?, time(&on_cpu)?);
    let d = on_cpu.model().config.d_model;
    let least = creative_filter::kernels::math::least_row_cosine(&a, &b, d);
    println!("Whisper encoder, one 30-s window: GPU {gpu_ms:.1} ms, CPU {cpu_ms:.1} ms, GPU/CPU {:.2}; least cosine of a position's state {least:.6}", gpu_ms / cpu_ms);
    let opts = TranscribeOptions::default();
    let transcribe = |t: &creative_filter::asr::Transcriber| -> Result<(f64, String)> {
        let start = Instant::now();
        let text = t.transcribe(&samples, &opts)?.text;
        Ok((start.elapsed().as_secs_f64() * 1e3, text))
    };
    let ((gpu_ms, gpu_text), (cpu_ms, cpu_text)) = (transcribe(&on_gpu)?, transcribe(&on_cpu)?);
    println!(
        "{}, {:.1} s, transcribed: GPU {gpu_ms:.0} ms, CPU {cpu_ms:.0} ms, GPU/CPU {:.2}; transcripts {}",
        file.display(),
        samples.len() as f64 / 16_000.0,
        gpu_ms / cpu_ms,
        if gpu_text == cpu_text { "equal" } else { "differ" }
    );
    if gpu_text != cpu_text {
        println!("  GPU: {gpu_text}\n  CPU: {cpu_text}");
    }
    // e5 on the transcript, as a creative's classification embeds it.
    use creative_filter::text::TextEncoder;
    let (e5_gpu, e5_cpu) = (TextEncoder::load_default_on(models, Some(gpu))?, TextEncoder::load_default(models)?);
    let embed = |e: &TextEncoder| -> Result<(f64, Vec<f32>)> {
        let mut best = (f64::INFINITY, Vec::new());
        for _ in 0..=runs.max(1) {
            let start = Instant::now();
            let v = e.embed(&[cpu_text.as_str()])?.remove(0);
            best = (best.0.min(start.elapsed().as_secs_f64() * 1e3), v);
        }
        Ok(best)
    };
    let ((gpu_ms, a), (cpu_ms, b)) = (embed(&e5_gpu)?, embed(&e5_cpu)?);
    // Each block of the vector is unit length.
    let cosine = a.iter().zip(&b).map(|(x, y)| x * y).sum::<f32>() / (e5_cpu.dim() / e5_cpu.sentence_dim()) as f32;
    println!(
        "e5 on the transcript ({} tokens): GPU {gpu_ms:.1} ms, CPU {cpu_ms:.1} ms, GPU/CPU {:.2}; cosine {cosine:.6}",
        e5_cpu.windows(&cpu_text)?.iter().map(Vec::len).sum::<usize>(),
        gpu_ms / cpu_ms
    );
    Ok(0)
}

/// X-CLIP's video features (base/32's shapes, random Q8_0 weights) with the
/// vision tower on the GPU and on the CPU.
fn xclip_on_gpu(gpu: &std::sync::Arc<creative_filter::gpu::Gpu>, runs: usize) -> Result<()> {
    use creative_filter::vision::{XClipConfig, XClipModel, XClipWeights};
    let config = XClipConfig::base_patch32();
    let w = XClipWeights::random(&config, 0x5eed, creative_filter::text::WeightFormat::Q8_0)?;
    let (on_gpu, on_cpu) = (XClipModel::new_on(&w, Some(gpu.clone()))?, XClipModel::new(&w)?);
    if !on_gpu.on_gpu() {
        return Err(Error::Invalid("X-CLIP's vision tower did not load onto the GPU".into()));
    }
    let v = &config.vision_config;
    let pixels = creative_filter::gpu::bench::values(v.num_frames * 3 * v.image_size * v.image_size, 1, 2.0);
    let frames = candle_core::Tensor::from_vec(pixels, (1, v.num_frames, 3, v.image_size, v.image_size), &candle_core::Device::Cpu)?;
    let time = |m: &XClipModel| -> Result<(f64, Vec<f32>)> {
        let mut best = (f64::INFINITY, Vec::new());
        for _ in 0..=runs.max(1) {
            let start = Instant::now();
            let e = m.video_features(&frames)?.embeds.flatten_all()?.to_vec1::<f32>()?;
            best = (best.0.min(start.elapsed().as_secs_f64() * 1e3), e);
        }
        Ok(best)
    };
    let ((gpu_ms, a), (cpu_ms, b)) = (time(&on_gpu)?, time(&on_cpu)?);
    let cosine = creative_filter::kernels::math::least_row_cosine(&a, &b, a.len());
    println!(
        "X-CLIP video features ({} frames, base/32 shapes, random Q8_0 weights): GPU {gpu_ms:.1} ms, CPU {cpu_ms:.1} ms, GPU/CPU {:.2}; cosine {cosine:.6}",
        v.num_frames,
        gpu_ms / cpu_ms
    );
    Ok(())
}

fn vocab(models: &Path, full: &Path, data: &Path, sample: usize) -> Result<i32> {
    use creative_filter::text::TextEncoder;
    let table = creative_filter::table::read_table_file(data)?;
    let column = table.require_column(&data.to_string_lossy(), "the text", creative_filter::table::TEXT_COLUMN_NAMES)?;
    let texts: Vec<&str> = table.rows.iter().filter_map(|r| r.get(column)).map(|t| t.trim()).filter(|t| !t.is_empty()).collect();
    let step = if sample == 0 { 1 } else { (texts.len() / sample).max(1) };
    let texts: Vec<&str> = texts.into_iter().step_by(step).take(if sample == 0 { usize::MAX } else { sample }).collect();
    let (pruned, whole) = (TextEncoder::load_default(models)?, TextEncoder::load_default(full)?);
    let (mut same_tokens, mut tokens_pruned, mut tokens_whole) = (0, 0, 0);
    for t in &texts {
        let (a, b) = (pruned.windows(t)?.concat(), whole.windows(t)?.concat());
        same_tokens += usize::from(a.len() == b.len() && pruned.tokenizer().pieces(&a) == whole.tokenizer().pieces(&b));
        tokens_pruned += a.len();
        tokens_whole += b.len();
    }
    let (a, b) = (pruned.embed(&texts)?, whole.embed(&texts)?);
    let dim = pruned.sentence_dim();
    let mut cosines: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(x, y)| {
            let (x, y) = (&x[..dim], &y[..dim]);
            let dot = |p: &[f32], q: &[f32]| p.iter().zip(q).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>();
            dot(x, y) / (dot(x, x) * dot(y, y)).sqrt()
        })
        .collect();
    cosines.sort_by(f64::total_cmp);
    let n = texts.len();
    println!(
        "e5 vocabulary: {} pieces kept of {}; {n} texts of {}",
        pruned.tokenizer().vocab_size(),
        whole.tokenizer().vocab_size(),
        data.display()
    );
    println!("texts tokenized identically       {:>8.2} %", 100.0 * same_tokens as f64 / n as f64);
    println!("tokens per text (kept / whole)    {:>8.1} / {:.1}", tokens_pruned as f64 / n as f64, tokens_whole as f64 / n as f64);
    println!("sentence embedding cosine: mean   {:>8.5}", cosines.iter().sum::<f64>() / n as f64);
    println!("                           1st percentile {:.5}, least {:.5}", cosines[n / 100], cosines[0]);
    println!("texts below 0.99                  {:>8}", cosines.iter().filter(|&&c| c < 0.99).count());
    Ok(0)
}

/// Random weights of the real model's shape: the timings do not depend on
/// the weights' values, and no checkpoint has to be imported to measure.
fn xclip(f32: bool, runs: usize, prompts: usize) -> Result<i32> {
    use creative_filter::text::WeightFormat;
    use creative_filter::vision::{bench, XClipConfig};
    let config = XClipConfig::base_patch32();
    let format = if f32 { WeightFormat::F32 } else { WeightFormat::Q8_0 };
    let r = bench(&config, format, prompts, runs)?;
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let out = serde_json::json!({
        "model": "xclip-base-patch32 (random weights)",
        "weights": if f32 { "f32" } else { "q8_0" },
        "frames": config.vision_config.num_frames,
        "image_size": config.vision_config.image_size,
        "prompts": r.prompts,
        "runs": r.runs,
        "threads": threads,
        "model_build_s": r.load_s,
        "text_per_prompt_s": r.text_per_prompt_s,
        "per_creative_s": r.per_creative_s,
        "per_creative_min_s": r.per_creative_min_s,
        "peak_rss_mb": peak_rss_mb(),
    });
    println!("{out}");
    Ok(0)
}

/// Parse + sum duplicates, then join and aggregate, timed separately; the
/// sample is generated before the clock starts.
fn dashboard(rows: usize) -> Result<i32> {
    use creative_filter::dashboard::{read_spend, sample, Dashboard, Filter, Lang};
    let s = sample::generate(rows, sample::SAMPLE_SEED);
    let t = Instant::now();
    let data = read_spend(sample::SAMPLE_FILE_NAME, &s.csv)?;
    let parse_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut d = Dashboard::new(data);
    d.set_labels(s.labels());
    let o = d.overview(&Filter::default(), Lang::Ru);
    let aggregate_s = t.elapsed().as_secs_f64();
    let out = serde_json::json!({
        "rows": d.data().rows,
        "bytes": s.csv.len(),
        "bad_rows": d.data().bad.count,
        "lines": d.data().lines.len(),
        "total_kopecks": o.kpi.total,
        "parse_s": parse_s,
        "aggregate_s": aggregate_s,
        "rows_per_s": d.data().rows as f64 / (parse_s + aggregate_s),
        "peak_rss_mb": peak_rss_mb(),
    });
    println!("{out}");
    Ok(0)
}

struct Side {
    errors: (usize, usize),
    chars: (usize, usize),
    seconds: f64,
    windows: usize,
}

impl Side {
    fn new() -> Self {
        Self { errors: (0, 0), chars: (0, 0), seconds: 0.0, windows: 0 }
    }
    fn add(&mut self, reference: &str, hyp: &str, seconds: f64, windows: usize) {
        let (e, n) = word_errors(reference, hyp);
        let (ce, cn) = char_errors(reference, hyp);
        self.errors = (self.errors.0 + e, self.errors.1 + n);
        self.chars = (self.chars.0 + ce, self.chars.1 + cn);
        self.seconds += seconds;
        self.windows += windows;
    }
    fn wer(&self) -> f64 {
        self.errors.0 as f64 / self.errors.1.max(1) as f64
    }
    fn cer(&self) -> f64 {
        self.chars.0 as f64 / self.chars.1.max(1) as f64
    }
    fn per_window(&self) -> f64 {
        self.seconds / self.windows.max(1) as f64
    }
}

fn asr(clips: &Path, peer: Option<&Path>, decoding: &DecodingOptions, models: &Path) -> Result<i32> {
    let list = std::fs::read_to_string(clips).map_err(|source| Error::Read { path: clips.into(), source })?;
    let base = clips.parent().unwrap_or(Path::new("."));
    let entries: Vec<(&str, &str)> = list.lines().filter_map(|l| l.split_once('\t')).collect();
    if entries.is_empty() {
        return Err(Error::Invalid(format!("{}: no `path<TAB>reference` lines", clips.display())));
    }
    let peer_rows = match peer {
        Some(p) => Some(read_peer(p)?),
        None => None,
    };

    let t = Instant::now();
    let transcriber = load_whisper(models)?;
    let load_s = t.elapsed().as_secs_f64();
    let opts = TranscribeOptions { decoding: decoding.clone(), ..Default::default() };
    let mut ours = Side::new();
    let mut theirs = Side::new();
    let mut audio_s = 0.0;
    for (file, reference) in &entries {
        let path = base.join(file);
        let creative = Creative::from_file_name(file);
        let t = Instant::now();
        let heard = listen(read_input(&path)?.bytes, &creative, &transcriber, &opts, DEFAULT_MAX_SECONDS)?;
        let secs = t.elapsed().as_secs_f64();
        audio_s += heard.duration_s;
        // Both sides pad every clip to whole 30-s windows.
        let windows = (heard.duration_s / 30.0).ceil().max(1.0) as usize;
        ours.add(reference, &heard.transcript.text, secs, windows);
        if let Some(rows) = &peer_rows {
            let row = rows.clips.get(*file).ok_or_else(|| {
                Error::Invalid(format!("the peer results have no line for {file}: run the peer on the same clip list"))
            })?;
            theirs.add(reference, &row.0, row.1, windows);
        }
        eprintln!("{file}: {:.2} s | {}", secs, heard.transcript.text);
    }
    let model_mb = std::fs::metadata(models.join(WHISPER_GGUF)).map(|m| m.len() as f64 / 1e6).unwrap_or(0.0);
    let rss = peak_rss_mb().unwrap_or(f64::NAN);
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| {
        std::thread::available_parallelism().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
    });
    println!(
        "ASR benchmark: {} clips, {:.1} s of audio, whisper-base, {}, language ru, {threads} threads, int8 kernels: {}",
        entries.len(),
        audio_s,
        decoding.describe(),
        creative_filter::kernels::int8::path_name()
    );
    header("faster-whisper");
    let p = peer_rows.as_ref();
    row("WER", ours.wer(), p.map(|_| theirs.wer()), 3);
    row("CER", ours.cer(), p.map(|_| theirs.cer()), 3);
    row("seconds per 30-s window", ours.per_window(), p.map(|_| theirs.per_window()), 2);
    row("model load (s)", load_s, p.and_then(|r| r.load_s), 2);
    row("peak RSS (MB)", rss, p.and_then(|r| r.peak_rss_mb), 0);
    row("runtime model (MB)", model_mb, None, 1);
    Ok(0)
}

/// Column heads of a side-by-side table.
pub(super) fn header(peer: &str) {
    println!("{:<34}{:>18}{:>18}{:>10}", "", "creative-filter", peer, "ratio");
}

/// One figure of ours beside the peer's, with their ratio.
pub(super) fn row(name: &str, ours: f64, peer: Option<f64>, prec: usize) {
    let (b_s, r_s) = match peer {
        Some(b) => (format!("{b:.prec$}"), format!("{:.2}", ours / b)),
        None => ("-".into(), "-".into()),
    };
    println!("{name:<34}{:>18}{b_s:>18}{r_s:>10}", format!("{ours:.prec$}"));
}

struct PeerResults {
    clips: HashMap<String, (String, f64)>,
    load_s: Option<f64>,
    peak_rss_mb: Option<f64>,
}

fn read_peer(path: &Path) -> Result<PeerResults> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.into(), source })?;
    let mut out = PeerResults { clips: HashMap::new(), load_s: None, peak_rss_mb: None };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        if v.get("summary").is_some() {
            out.load_s = v["load_seconds"].as_f64();
            out.peak_rss_mb = v["peak_rss_mb"].as_f64();
        } else if let (Some(f), Some(t), Some(s)) = (v["file"].as_str(), v["text"].as_str(), v["seconds"].as_f64()) {
            out.clips.insert(f.to_string(), (t.to_string(), s));
        }
    }
    Ok(out)
}
