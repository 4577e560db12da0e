//! `creative-filter train` and `creative-filter eval`: labelled creatives (a
//! `train_segments.csv` and their media folder) or labelled texts become
//! embeddings, a head is trained or judged, and the users' report printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use web_time::Instant;

use super::common::{
    isolated, load_dictionary, load_encoder, load_engine, load_head, read_input, AsrArgs, CacheArgs, MediaFolder, ScreenArgs,
};
use creative_filter::cache::FeatureCache;
use creative_filter::classify::training::{segments_for_texts, Examples, DEFAULT_C};
use creative_filter::classify::{Classifier, LogRegParams, NgramParams, SegmentDictionary};
use creative_filter::creative::Creative;
use creative_filter::screen::ScreenMode;
use creative_filter::media::sample_frames;
use creative_filter::pipeline::training::{
    self, creative_examples, embed_examples, HeardExample, LabelledCreative, ScreenExamples, ScreenPair, Training,
    TrainingOptions, TrainingReport,
};
use creative_filter::pipeline::{classifier_for, Features};
use creative_filter::table::{read_labelled_texts, read_labels, read_table_file, LabelledTexts, RowProblem};
use creative_filter::text::TextEncoder;
use creative_filter::vision::classify::VisionExample;
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
    /// Noisy copies of each text the n-grams also learn from: the letters
    /// and words Whisper mishears (classify::asr_noise). An experiment: on
    /// bench/spoken.sh's 300 posts it did not raise accuracy on speech.
    #[arg(long, default_value_t = NgramParams::default().noisy_copies, conflicts_with = "no_ngrams")]
    noisy_copies: usize,
    /// Also write the training report (the page's) as JSON: figures, rows not used and why.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Which creatives' on-screen text is read and learnt from, as when classifying.
    #[command(flatten)]
    screen: ScreenArgs,
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

/// Reads and embeds the examples. `fixed` is the segment list labels must
/// belong to (a head's); otherwise the user's dictionary, the default one, or
/// (for texts labelled with words) a dictionary made from the labels.
/// `vision`: the X-CLIP model whose video embeddings are gathered too
/// (labelled creatives only), returned with the vision head's examples;
/// `screen`: which creatives' on-screen text is read and learnt from.
fn load_examples(
    data: &Data,
    fixed: Option<&SegmentDictionary>,
    encoder: &Arc<TextEncoder>,
    cache: &CacheArgs,
    models: &Path,
    vision: Option<VisionModel>,
    screen: ScreenMode,
) -> Result<Loaded> {
    let dictionary = load_dictionary(data.segments.as_deref())?;
    if let Some(path) = &data.texts {
        let cache = cache.open();
        let file = path.to_string_lossy().to_string();
        let rows = read_labelled_texts(&file, &read_table_file(path)?)?;
        let segments = segments_for_texts(&rows, fixed, dictionary)?;
        let ex = embed_with_progress(encoder, &cache, segments, &rows, vec![])?;
        return Ok(Loaded { ex, cache, vision: None, screen_texts: 0, screen_pairs: vec![] });
    }

    let (labels_path, media) = (data.labels.as_deref().expect("clap"), data.media.as_deref().expect("clap"));
    let segments = fixed.cloned().or(dictionary).unwrap_or_else(SegmentDictionary::default_ru);
    let file = labels_path.to_string_lossy().to_string();
    let labels = read_labels(&file, &read_table_file(labels_path)?, Some(&segments.ids()))?;
    let folder = MediaFolder::scan(media)?;
    let engine = load_engine(models, Arc::clone(encoder), &data.asr, screen, cache)?;
    let mut problems = labels.problems;
    let mut creatives = Vec::with_capacity(labels.labels.len());
    let total = labels.labels.len();
    let started = Instant::now();
    for (n, label) in labels.labels.into_iter().enumerate() {
        let found = folder.find(&label.id).and_then(|path| read_input(path).map(|m| (path, m)).map_err(|e| e.message()));
        let (creative, media) = match found {
            Ok((path, media)) => (Creative::from_file_name(&path.to_string_lossy()), media),
            Err(reason) => {
                problems.push(label.problem(reason));
                continue;
            }
        };
        let video = vision.as_ref().map(|v| {
            isolated(|| {
                let frames = sample_frames(&media.bytes, v.frames(), v.image_size())?;
                v.embedding(&v.video(&frames.rgb, frames.size)?)
            })
            .map_err(|e| e.message())
        });
        let heard = match isolated(|| engine.features(&creative, media.clone())) {
            Err(Error::NoAudioTrack) => Ok(Features::soundless()),
            other => other,
        };
        // The picture is read where classifying would read it.
        let heard = heard.and_then(|mut f| isolated(|| engine.read_screen(&media.sha256, &media.bytes, &mut f)).map(|()| f));
        let screen = heard.as_ref().ok().and_then(|f| f.screen.as_ref()).map(|s| s.text.text());
        let heard = heard.map_err(|e| e.message()).map(|f| HeardExample {
            speech: f.embedding.is_some(),
            transcript: f.heard.transcript.text,
            no_speech_prob: f.heard.transcript.no_speech_prob,
        });
        creatives.push(LabelledCreative { label, heard, video, screen });
        if (n + 1) % 25 == 0 {
            eprintln!("{}/{total} creatives read ({:.0} s)", n + 1, started.elapsed().as_secs_f64());
        }
    }
    let sorted = creative_examples(&creatives, problems);
    let ex = embed_with_progress(encoder, &engine.cache, segments, &sorted.texts, sorted.problems)?;
    let (screen_texts, screen_pairs) = (sorted.screen_texts, sorted.screen_pairs);
    Ok(Loaded { ex, cache: engine.cache, vision: vision.map(|v| (v, sorted.vision)), screen_texts, screen_pairs })
}

/// Labelled examples read and embedded, with what the vision head and the
/// screen weight learn from.
struct Loaded {
    ex: Examples,
    cache: FeatureCache,
    vision: Option<(VisionModel, Vec<VisionExample>)>,
    screen_texts: usize,
    screen_pairs: Vec<ScreenPair>,
}

fn embed_with_progress(
    encoder: &TextEncoder,
    cache: &FeatureCache,
    segments: SegmentDictionary,
    rows: &LabelledTexts,
    problems: Vec<RowProblem>,
) -> Result<Examples> {
    let t = Instant::now();
    let ex = creative_filter::task::now(embed_examples(encoder, cache, segments, rows, problems, |done, total| {
        eprintln!("{done}/{total} texts embedded ({:.0} s)", t.elapsed().as_secs_f64())
    }))?;
    eprintln!("{} texts embedded in {:.1} s", ex.y.len(), t.elapsed().as_secs_f64());
    Ok(ex)
}

fn print_problems(problems: &[RowProblem]) {
    if !problems.is_empty() {
        eprintln!("{} rows not used (or used by one head only):", problems.len());
    }
    for p in problems {
        eprintln!("  {p}");
    }
}

pub fn train(args: TrainArgs, models: &Path, cache: &CacheArgs) -> Result<i32> {
    let encoder = load_encoder(models)?;
    let vision = match args.data.labels {
        Some(_) => VisionModel::load_on(models, super::common::gpu()?)?,
        None => None,
    };
    let Loaded { ex, cache, vision, screen_texts, screen_pairs } =
        load_examples(&args.data, None, &encoder, cache, models, vision, args.screen.screen_text)?;
    print_problems(&ex.problems);
    let options = TrainingOptions {
        params: LogRegParams { c: args.c, ..Default::default() },
        ngrams: (!args.no_ngrams).then(|| NgramParams {
            weight: args.ngram_weight,
            word_max_n: args.word_ngrams,
            noisy_copies: args.noisy_copies,
            ..Default::default()
        }),
        folds: args.cv,
        seed: args.seed,
    };
    let vision_examples = vision.as_ref().map(|(model, rows)| (model, rows.as_slice()));
    let screen = ScreenExamples { texts: screen_texts, pairs: &screen_pairs };
    let Training { head, report } = training::train(&encoder, &cache, &ex, vision_examples, Some(screen), &options)?;
    if let Some(text) = &report.text {
        println!("{}-fold cross-validation on {} examples:\n{text}", args.cv.min(ex.group_count()), ex.y.len());
    }
    if let Some((model, rows)) = &vision {
        print_vision(&report, model, rows.len(), args.cv);
    }
    print_screen(&report);
    head.save(&args.out)?;
    eprintln!(
        "trained on {} examples of {} segments ({}) in {:.2} s ({} iterations{}); head written to {}",
        report.examples,
        report.segments,
        report.features,
        report.seconds,
        report.iterations,
        if report.converged { "" } else { ", stopped before full convergence" },
        args.out.display()
    );
    if let Some(path) = &args.report {
        write_json(path, &report)?;
    }
    Ok(0)
}

/// What became of the vision head, as the CLI says it.
fn print_vision(report: &TrainingReport, model: &VisionModel, creatives: usize, cv: usize) {
    let Some(v) = &report.vision else {
        eprintln!("vision head not trained: {creatives} creatives with readable frames");
        return;
    };
    if let Some(text) = &v.text {
        println!("vision head, {}-fold cross-validation on {} creatives:\n{text}", cv.min(v.examples), v.examples);
    }
    let f = &v.fusion;
    if v.calibrated_on > 0 {
        eprintln!(
            "fusion calibrated on {} creatives both branches answered: speech weight σ({:.2} + {:.2}·ln(1+words) − {:.2}·no_speech_prob)",
            v.calibrated_on, f.bias, f.per_log_word, f.no_speech
        );
    } else {
        eprintln!("fusion weights left at their defaults (nothing to calibrate on without cross-validation and creatives with both speech and frames)");
    }
    eprintln!("vision head trained on {} creatives ({})", v.examples, model.id());
}

/// What the text head learnt from the screens, as the CLI says it.
fn print_screen(report: &TrainingReport) {
    let Some(s) = &report.screen else { return };
    let f = &s.fusion;
    let weight = if s.calibrated_on > 0 {
        format!(
            "speech weight against the screen calibrated on {} creatives with both: σ({:.2} + {:.2}·ln(1+words) − {:.2}·no_speech_prob)",
            s.calibrated_on, f.bias, f.per_log_word, f.no_speech
        )
    } else {
        "speech weight against the screen left at its defaults (nothing to calibrate on without cross-validation and creatives with both speech and text on screen)".to_string()
    };
    eprintln!("{} of the examples are on-screen texts; {weight}", s.examples);
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| Error::Invalid(e.to_string()))?;
    creative_filter::error::write_file(path, json)
}

pub fn eval(args: EvalArgs, models: &Path, cache: &CacheArgs) -> Result<i32> {
    let encoder = load_encoder(models)?;
    let head = load_head(args.head.as_deref(), &encoder)?;
    let dictionary = load_dictionary(args.data.segments.as_deref())?;
    let fixed = head.as_ref().map(|h| Classifier::segments_for(dictionary.as_ref(), Some(h)));
    // The text classifier is judged on the transcripts.
    let Loaded { ex, cache, .. } = load_examples(&args.data, fixed.as_ref(), &encoder, cache, models, None, ScreenMode::Off)?;
    print_problems(&ex.problems);
    let clf = classifier_for(&encoder, &cache, Some(&ex.segments), head)?;
    let eval = training::evaluate(&clf, &ex)?;
    println!("{} classifier on {} examples:\n{}", clf.mode(), ex.y.len(), eval.to_text());
    if let Some(path) = args.json {
        write_json(&path, &eval)?;
    }
    Ok(0)
}
