//! `creative-filter train` and `creative-filter eval`: labelled creatives (a
//! `train_segments.csv` and their media folder) or labelled texts become
//! embeddings, a head is trained or judged, and the users' report printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use web_time::Instant;

use super::common::{
    isolated, load_dictionary, load_encoder, load_engine, load_head, read_input, AsrArgs, CacheArgs, MediaFolder,
};
use creative_filter::cache::FeatureCache;
use creative_filter::classify::logreg::argmax;
use creative_filter::classify::metrics::Evaluation;
use creative_filter::classify::training::{self, resolve_texts, segments_for_texts, Examples, Trained, DEFAULT_C};
use creative_filter::classify::{Classifier, LogRegParams, NgramParams, SegmentDictionary, SpeechAmount, VisionHead};
use creative_filter::creative::Creative;
use creative_filter::media::sample_frames;
use creative_filter::pipeline::{classifier_for, embed_cached_with_progress, prototype_embeddings, Features};
use creative_filter::table::{read_labelled_texts, read_labels, read_table_file, RowProblem};
use creative_filter::text::TextEncoder;
use creative_filter::vision::classify::{train_with_fusion, VisionExample};
use creative_filter::vision::VisionModel;
use creative_filter::{Error, Result};

/// Where labelled examples come from.
#[derive(clap::Args)]
pub struct Data {
    /// Labels table (`Advertisement ID`, `Segment_num`; .csv or .xlsx), with --media.
    #[arg(long, requires = "media", conflicts_with = "texts")]
    labels: Option<PathBuf>,
    /// Folder of the labelled creatives, named `<Advertisement ID>.<ext>`.
    #[arg(long, requires = "labels")]
    media: Option<PathBuf>,
    /// Labelled texts instead of media: .jsonl, .csv or .xlsx with `text` and `label` columns.
    #[arg(long, required_unless_present = "labels")]
    texts: Option<PathBuf>,
    /// Segment dictionary (.xlsx/.csv: id, name[, description]); default: the 18 segments in use.
    #[arg(long)]
    segments: Option<PathBuf>,
    #[command(flatten)]
    asr: AsrArgs,
}

#[derive(clap::Args)]
pub struct TrainArgs {
    #[command(flatten)]
    data: Data,
    /// Where to write the trained head.
    #[arg(long, short, default_value = "head.json")]
    out: PathBuf,
    /// Also report k-fold cross-validated figures (0 = skip).
    #[arg(long, default_value_t = 5)]
    cv: usize,
    /// Seed of the cross-validation folds.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Inverse L2 regularisation strength of the logistic regression.
    #[arg(long, default_value_t = DEFAULT_C)]
    c: f64,
    /// Train on the embeddings alone, without the transcripts' character and word n-grams.
    #[arg(long)]
    no_ngrams: bool,
    /// Weight of the n-gram features beside the embedding.
    #[arg(long, default_value_t = NgramParams::default().weight, conflicts_with = "no_ngrams")]
    ngram_weight: f32,
    /// Longest word n-gram among the n-gram features (0: characters only).
    #[arg(long, default_value_t = NgramParams::default().word_max_n, conflicts_with = "no_ngrams")]
    word_ngrams: usize,
}

#[derive(clap::Args)]
pub struct EvalArgs {
    /// The trained head to judge (omit to judge zero-shot).
    #[arg(long)]
    head: Option<PathBuf>,
    #[command(flatten)]
    data: Data,
    /// Also write the figures as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// What the vision branch learns from: the labelled creatives whose frames
/// could be read, with or without speech.
struct VisionData {
    model: VisionModel,
    rows: Vec<VisionExample>,
    problems: Vec<String>,
}

/// Reads and embeds the examples. `fixed` is the segment list labels must
/// belong to (a head's); otherwise the user's dictionary, the default one, or
/// (for texts labelled with words) a dictionary made from the labels.
/// `vision`: the X-CLIP model whose video embeddings are gathered too
/// (labelled creatives only).
fn load_examples(
    data: &Data,
    fixed: Option<&SegmentDictionary>,
    encoder: &Arc<TextEncoder>,
    cache: &CacheArgs,
    models: &Path,
    vision: Option<VisionModel>,
) -> Result<(Examples, FeatureCache, Option<VisionData>)> {
    let dictionary = load_dictionary(data.segments.as_deref())?;
    if let Some(path) = &data.texts {
        let cache = cache.open();
        let file = path.to_string_lossy().to_string();
        let rows = read_labelled_texts(&file, &read_table_file(path)?)?;
        let segments = segments_for_texts(&rows, fixed, dictionary)?;
        let (texts, y, problems) = resolve_texts(&rows, &segments);
        let t = Instant::now();
        let vectors = embed_cached_with_progress(encoder, &cache, &texts, |done, total| {
            eprintln!("{done}/{total} texts embedded ({:.0} s)", t.elapsed().as_secs_f64())
        })?;
        eprintln!("{} texts embedded in {:.1} s", texts.len(), t.elapsed().as_secs_f64());
        let texts = texts.into_iter().map(String::from).collect();
        return Ok((Examples::new(segments, texts, vectors, y, problems, encoder.dim()), cache, None));
    }

    let (labels_path, media) = (data.labels.as_deref().expect("clap"), data.media.as_deref().expect("clap"));
    let segments = fixed.cloned().or(dictionary).unwrap_or_else(SegmentDictionary::default_ru);
    let file = labels_path.to_string_lossy().to_string();
    let labels = read_labels(&file, &read_table_file(labels_path)?, Some(&segments.ids()))?;
    let folder = MediaFolder::scan(media)?;
    let engine = load_engine(models, Arc::clone(encoder), &data.asr, cache)?;
    let mut problems: Vec<String> = labels.problems.iter().map(RowProblem::to_string).collect();
    let (mut texts, mut vectors, mut y) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = vision.map(|model| VisionData { model, rows: vec![], problems: vec![] });
    let total = labels.labels.len();
    let started = Instant::now();
    for (n, (id, segment)) in labels.labels.iter().enumerate() {
        let row_problem = |reason: String| format!("ID {id}: {reason}");
        let path = match folder.find(id) {
            Ok(p) => p,
            Err(reason) => {
                problems.push(row_problem(reason));
                continue;
            }
        };
        let creative = Creative::from_file_name(&path.to_string_lossy());
        let media = match read_input(path) {
            Ok(b) => b,
            Err(e) => {
                problems.push(row_problem(e.to_string()));
                continue;
            }
        };
        let video = seen.as_ref().map(|v| {
            isolated(|| {
                let frames = sample_frames(&media.bytes, v.model.frames(), v.model.image_size())?;
                v.model.embedding(&v.model.video(&frames.rgb, frames.size)?)
            })
        });
        let heard = match isolated(|| engine.features(&creative, media)) {
            Err(Error::NoAudioTrack) => Ok(Features::soundless()),
            other => other,
        };
        let speech = heard.as_ref().ok().map(|f| SpeechAmount::of(&f.heard.transcript.text, f.heard.transcript.no_speech_prob));
        let mut text_row = None;
        match heard {
            Ok(f) => match f.embedding {
                Some(e) => {
                    text_row = Some(y.len());
                    texts.push(f.heard.transcript.text);
                    vectors.push(e);
                    y.push(*segment);
                }
                None => problems.push(row_problem("no speech; not used for the speech head".into())),
            },
            Err(e) => problems.push(row_problem(e.to_string())),
        }
        if let (Some(v), Some(video)) = (seen.as_mut(), video) {
            match (video, speech) {
                (Ok(embedding), Some(speech)) => v.rows.push(VisionExample { embedding, segment: *segment, speech, text_row }),
                (Ok(_), None) => v.problems.push(row_problem("its sound could not be read; not used for the vision head".into())),
                (Err(e), _) => v.problems.push(row_problem(format!("no video frames ({e}); not used for the vision head"))),
            }
        }
        if (n + 1) % 25 == 0 {
            eprintln!("{}/{total} creatives read ({:.0} s)", n + 1, started.elapsed().as_secs_f64());
        }
    }
    let dim = engine.encoder.dim();
    Ok((Examples::new(segments, texts, vectors, y, problems, dim), engine.cache, seen))
}

fn print_problems(problems: &[String]) {
    if !problems.is_empty() {
        eprintln!("{} rows not used:", problems.len());
    }
    for p in problems {
        eprintln!("  {p}");
    }
}

pub fn train(args: TrainArgs, models: &Path, cache: &CacheArgs) -> Result<i32> {
    let encoder = load_encoder(models)?;
    let vision = match args.data.labels {
        Some(_) => VisionModel::load(models)?,
        None => None,
    };
    let (ex, cache, seen) = load_examples(&args.data, None, &encoder, cache, models, vision)?;
    print_problems(&ex.problems);
    if ex.y.is_empty() {
        return Err(Error::Invalid("no usable training examples (the speech head needs creatives with speech)".into()));
    }
    let params = LogRegParams { c: args.c, ..Default::default() };
    let ngrams = (!args.no_ngrams).then(|| NgramParams { weight: args.ngram_weight, word_max_n: args.word_ngrams, ..Default::default() });
    let prototypes = prototype_embeddings(&encoder, &cache, &ex.segments)?;
    let trained = training::train(&ex, &encoder.embedding_id(), &params, ngrams.as_ref(), &prototypes, args.cv, args.seed)?;
    if let Some(eval) = &trained.cross_validation {
        println!("{}-fold cross-validation on {} examples:\n{}", args.cv.min(ex.y.len()), ex.y.len(), eval.to_text());
    }
    let mut head = trained.head.clone();
    if let Some(v) = seen {
        head.vision = train_vision(&v, &ex, &trained, &args)?;
    }
    head.save(&args.out)?;
    eprintln!(
        "trained on {} examples of {} segments{} in {:.2} s ({} iterations{}); head written to {}",
        ex.y.len(),
        head.examples.iter().filter(|&&n| n > 0).count(),
        match &head.ngrams {
            Some(v) if v.word_max_n > 0 => " (embeddings + character and word n-grams)",
            Some(_) => " (embeddings + character n-grams)",
            None => " (embeddings only)",
        },
        trained.seconds,
        trained.fit.iterations,
        if trained.fit.converged { "" } else { ", stopped before full convergence" },
        args.out.display()
    );
    Ok(0)
}

/// The vision head on the creatives' video embeddings, cross-validated like
/// the speech head, and the fusion weights calibrated on the creatives both
/// branches answered out of fold. None (said) when there is too little.
fn train_vision(v: &VisionData, ex: &Examples, text: &Trained, args: &TrainArgs) -> Result<Option<VisionHead>> {
    print_problems(&v.problems);
    let params = LogRegParams { c: args.c, ..Default::default() };
    let oof = text.out_of_fold.as_deref();
    let Some(t) = train_with_fusion(&v.model, &ex.segments, &v.rows, oof, &params, args.cv, args.seed)? else {
        eprintln!("vision head not trained: {} creatives with readable frames", v.rows.len());
        return Ok(None);
    };
    if let Some(eval) = &t.trained.cross_validation {
        println!("vision head, {}-fold cross-validation on {} creatives:\n{}", args.cv.min(v.rows.len()), v.rows.len(), eval.to_text());
    }
    let f = &t.head.fusion;
    if t.calibrated_on > 0 {
        eprintln!(
            "fusion calibrated on {} creatives both branches answered: speech weight σ({:.2} + {:.2}·ln(1+words) − {:.2}·no_speech_prob)",
            t.calibrated_on, f.bias, f.per_log_word, f.no_speech
        );
    } else {
        eprintln!("fusion weights left at their defaults (nothing to calibrate on without cross-validation and creatives with both speech and frames)");
    }
    eprintln!("vision head trained on {} creatives ({})", v.rows.len(), v.model.id());
    Ok(Some(t.head))
}

pub fn eval(args: EvalArgs, models: &Path, cache: &CacheArgs) -> Result<i32> {
    let encoder = load_encoder(models)?;
    let head = load_head(args.head.as_deref(), &encoder)?;
    let dictionary = load_dictionary(args.data.segments.as_deref())?;
    let fixed = head.as_ref().map(|h| Classifier::segments_for(dictionary.as_ref(), Some(h)));
    let (ex, cache, _) = load_examples(&args.data, fixed.as_ref(), &encoder, cache, models, None)?;
    print_problems(&ex.problems);
    if ex.y.is_empty() {
        return Err(Error::Invalid("no usable examples to evaluate on".into()));
    }
    let clf = classifier_for(&encoder, &cache, Some(&ex.segments), head)?;
    let k = clf.segments().len();
    let mut proba = Vec::with_capacity(ex.y.len() * k);
    let mut y_pred = Vec::with_capacity(ex.y.len());
    for (text, row) in ex.texts.iter().zip(ex.x.chunks_exact(ex.dim)) {
        let p = clf.probs(text, row)?;
        y_pred.push(clf.segments().segments()[argmax(&p)].id);
        proba.extend(p);
    }
    let eval = Evaluation::new(clf.segments(), &ex.y, &y_pred, &proba)?;
    println!("{} classifier on {} examples:\n{}", clf.mode(), ex.y.len(), eval.to_text());
    if let Some(path) = args.json {
        let json = serde_json::to_vec_pretty(&eval).map_err(|e| Error::Invalid(e.to_string()))?;
        std::fs::write(&path, json)?;
    }
    Ok(0)
}
