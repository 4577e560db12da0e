//! `creative-filter bench classify`: the trained head on e5 embeddings (and
//! character and word n-grams unless --no-ngrams),
//! cross-validated on labelled texts, beside a TF-IDF + logistic-regression
//! peer (bench/classify_peer.py) scored on the same folds.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use web_time::Instant;

use super::bench::{header, row};
use super::common::CacheArgs;
use creative_filter::classify::classifier::cross_validate;
use creative_filter::classify::metrics::{classification_report, Fold};
use creative_filter::classify::{stratified_k_fold, Head, LogRegParams, NgramParams, SegmentDictionary};
use creative_filter::pipeline::{embed_cached_with_progress, prototype_embeddings};
use creative_filter::table::{read_labelled_texts, read_table_file};
use creative_filter::text::TextEncoder;
use creative_filter::{Error, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Labelled texts (.jsonl/.csv/.xlsx with `text` and `label`).
    #[arg(long)]
    data: PathBuf,
    /// Only write the folds (for the peer) to this file and stop.
    #[arg(long)]
    write_folds: Option<PathBuf>,
    /// Folds written earlier with --write-folds (default: made from --k, --seed).
    #[arg(long)]
    folds: Option<PathBuf>,
    #[arg(long, default_value_t = 5)]
    k: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The peer's results (bench/classify_peer.py).
    #[arg(long)]
    peer: Option<PathBuf>,
    /// Inverse L2 regularisation strength of the head.
    #[arg(long, default_value_t = creative_filter::classify::training::DEFAULT_C)]
    c: f64,
    /// Gradient tolerance of the fit (largest component).
    #[arg(long, default_value_t = LogRegParams::default().tol)]
    tol: f64,
    /// Correction pairs L-BFGS keeps.
    #[arg(long, default_value_t = LogRegParams::default().history)]
    history: usize,
    /// Shortest character n-gram.
    #[arg(long, default_value_t = NgramParams::default().min_n)]
    ngram_min: usize,
    /// 2^N hash buckets of the character n-grams.
    #[arg(long, default_value_t = NgramParams::default().buckets_log2)]
    ngram_buckets_log2: u32,
    /// Longest word n-gram beside the character n-grams (0: none).
    #[arg(long, default_value_t = NgramParams::default().word_max_n, conflicts_with = "no_ngrams")]
    word_ngrams: usize,
    /// Iteration limit of the fit.
    #[arg(long, default_value_t = LogRegParams::default().max_iter)]
    max_iter: usize,
    /// Noisy copies of each training text for the n-grams (classify::asr_noise).
    #[arg(long, default_value_t = NgramParams::default().noisy_copies, conflicts_with = "no_ngrams")]
    noisy_copies: usize,
    /// The head on the embeddings alone, without n-grams.
    #[arg(long)]
    no_ngrams: bool,
    /// The head on the sentence embedding alone, without the pooled intermediate layer.
    #[arg(long)]
    sentence_only: bool,
    /// Weight of the character n-gram features beside the embedding.
    #[arg(long, default_value_t = NgramParams::default().weight, conflicts_with = "no_ngrams")]
    ngram_weight: f32,
    /// Texts embedded afresh (not from the cache) to measure throughput.
    #[arg(long, default_value_t = 300)]
    throughput_texts: usize,
}

#[derive(Serialize, Deserialize)]
struct FoldsFile {
    k: usize,
    seed: u64,
    labels: Vec<String>,
    /// Test fold of each sample.
    fold_of: Vec<usize>,
}

#[derive(Deserialize)]
struct Peer {
    peer: String,
    macro_f1: f64,
    accuracy: f64,
    fit_seconds_per_fold: f64,
    texts_per_second: f64,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read { path: path.into(), source })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
}

pub fn run(args: Args, models: &Path, cache: &CacheArgs) -> Result<i32> {
    let file = args.data.to_string_lossy().to_string();
    let rows = read_labelled_texts(&file, &read_table_file(&args.data)?)?;
    if !rows.problems.is_empty() {
        return Err(Error::Invalid(format!("{file}: {} rows without text or label", rows.problems.len())));
    }
    let labels: Vec<String> = rows.rows.iter().map(|r| r.label.clone()).collect();
    let segments = SegmentDictionary::from_label_names(labels.iter().map(String::as_str));
    let y: Vec<u32> = labels.iter().map(|l| segments.resolve_label(l).expect("made from these labels")).collect();

    let folds: Vec<Fold> = match &args.folds {
        Some(path) => {
            let f: FoldsFile = read_json(path)?;
            if f.labels != labels {
                return Err(Error::Invalid(format!("{}: the folds were made for another data file", path.display())));
            }
            (0..f.k)
                .map(|k| Fold {
                    train: (0..y.len()).filter(|&i| f.fold_of[i] != k).collect(),
                    test: (0..y.len()).filter(|&i| f.fold_of[i] == k).collect(),
                })
                .collect()
        }
        None => stratified_k_fold(&y, args.k, args.seed)?,
    };
    if let Some(path) = &args.write_folds {
        let mut fold_of = vec![0; y.len()];
        for (k, f) in folds.iter().enumerate() {
            f.test.iter().for_each(|&i| fold_of[i] = k);
        }
        let out = FoldsFile { k: folds.len(), seed: args.seed, labels, fold_of };
        creative_filter::error::write_file(path, serde_json::to_vec(&out).map_err(|e| Error::Invalid(e.to_string()))?)?;
        eprintln!("{} folds of {} samples written to {}", folds.len(), y.len(), path.display());
        return Ok(0);
    }
    let peer: Option<Peer> = args.peer.as_deref().map(read_json).transpose()?;

    let t = Instant::now();
    let encoder = TextEncoder::load_default(models)?;
    let load_s = t.elapsed().as_secs_f64();
    let model_id = if args.sentence_only { encoder.model_id() } else { encoder.embedding_id() };
    let cache = cache.open();
    let texts: Vec<&str> = rows.rows.iter().map(|r| r.text.as_str()).collect();
    let t = Instant::now();
    let vectors = embed_cached_with_progress(&encoder, &cache, &texts, |done, total| {
        eprintln!("{done}/{total} texts embedded ({:.0} s)", t.elapsed().as_secs_f64())
    })?;
    let dim = if args.sentence_only { encoder.sentence_dim() } else { encoder.dim() };
    let x: Vec<f32> = vectors.iter().flat_map(|v| &v[..dim]).copied().collect();

    // Throughput: an even sample of the texts, embedded afresh.
    let step = (texts.len() / args.throughput_texts.max(1)).max(1);
    let sample: Vec<&str> = texts.iter().step_by(step).take(args.throughput_texts).copied().collect();
    let t = Instant::now();
    if args.throughput_texts > 0 {
        encoder.embed(&sample)?;
    }
    let texts_per_s = sample.len() as f64 / t.elapsed().as_secs_f64();

    let params = LogRegParams { c: args.c, tol: args.tol, max_iter: args.max_iter, history: args.history, ..Default::default() };
    let ngrams = (!args.no_ngrams).then(|| NgramParams { weight: args.ngram_weight, min_n: args.ngram_min, buckets_log2: args.ngram_buckets_log2, word_max_n: args.word_ngrams, noisy_copies: args.noisy_copies, ..Default::default() });
    let prototypes = prototype_embeddings(&encoder, &cache, &segments)?;
    let cv = cross_validate(&segments, &model_id, &texts, &x, dim, &y, &folds, &params, ngrams.as_ref(), &prototypes)?;
    let report = classification_report(&cv.y_true, &cv.y_pred, None)?.with_segments(&segments);
    let t = Instant::now();
    let (_, fit) = Head::train(segments.clone(), &model_id, &texts, &x, dim, &y, &params, ngrams.as_ref())?;
    let train_s = t.elapsed().as_secs_f64();

    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    let features = match &ngrams {
        Some(p) => format!(
            "{model_id} + char_wb {}-{}-grams{} in 2^{} buckets (weight {})",
            p.min_n,
            p.max_n,
            match p.word_max_n {
                0 => String::new(),
                1 => " + words".into(),
                n => format!(" + word 1-{n}-grams"),
            },
            p.buckets_log2,
            p.weight
        ),
        None => model_id.clone(),
    };
    println!(
        "classifier benchmark: {} texts, {} labels, {}-fold cross-validation, {features}, C = {}, {threads} threads",
        y.len(),
        segments.len(),
        folds.len(),
        args.c
    );
    println!("{}", report.to_text(4));
    header("TF-IDF+LR peer");
    let p = peer.as_ref();
    row("macro-F1 (out of fold)", report.macro_avg.f1, p.map(|p| p.macro_f1), 4);
    row("accuracy (out of fold)", report.accuracy, p.map(|p| p.accuracy), 4);
    row("training, one fold (s)", cv.fit_seconds / folds.len() as f64, p.map(|p| p.fit_seconds_per_fold), 2);
    row(&format!("training, all {} texts (s)", y.len()), train_s, None, 2);
    row("texts per second (inference)", texts_per_s, p.map(|p| p.texts_per_second), 1);
    row("text model load (s)", load_s, None, 2);
    if let Some(p) = p {
        println!("\npeer: {}", p.peer);
        println!("macro-F1 gain over the peer: {:+.4}", report.macro_avg.f1 - p.macro_f1);
    }
    eprintln!("final fit: {} iterations, {} evaluations, converged: {}", fit.iterations, fit.evaluations, fit.converged);
    Ok(0)
}
