//! Training and evaluation as the users run them, from the page or the CLI:
//! labelled creatives (or texts) in, a head and the report out. The shells
//! read the files and run each creative through the pipeline; everything
//! from there on — which creatives teach which head, the messages about
//! those that cannot, embedding, cross-validation, the vision head and its
//! fusion calibration — is here, once.

use serde::Serialize;

use super::{embed_cached_async, notes, prototype_embeddings, MIN_SCREEN_WORDS};
use crate::cache::FeatureCache;
use crate::classify::fusion::{calibrate, CalibrationSample, FusionParams, SpeechAmount};
use crate::classify::logreg::argmax;
use crate::classify::metrics::Evaluation;
use crate::classify::training::{self, resolve_texts, Examples, Trained};
use crate::classify::{Classifier, Head, LogRegParams, NgramParams, SegmentDictionary};
use crate::message::Message;
use crate::table::{Label, LabelledText, LabelledTexts, RowProblem};
use crate::text::TextEncoder;
use crate::vision::classify::{train_with_fusion, VisionExample};
use crate::vision::VisionModel;
use crate::{Error, Result};

/// What the pipeline made of one labelled creative's sound.
#[derive(Debug, Clone)]
pub struct HeardExample {
    pub transcript: String,
    pub no_speech_prob: f32,
    /// Whether the transcript was speech (it was embedded); creatives
    /// without speech teach the text head only by their on-screen text.
    pub speech: bool,
}

/// A labelled creative after the pipeline has read it.
#[derive(Debug, Clone)]
pub struct LabelledCreative {
    pub label: Label,
    /// Its sound, or why it could not be read.
    pub heard: std::result::Result<HeardExample, Message>,
    /// Its video embedding, or why there is none; `None` with the vision
    /// branch off.
    pub video: Option<std::result::Result<Vec<f32>, Message>>,
    /// The text read from its picture, when the screen was read (the
    /// classification's screen mode decides, as for any creative).
    pub screen: Option<String>,
}

/// A creative that taught the text head twice, by its transcript and by its
/// on-screen text: what the speech-against-screen weight is calibrated on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScreenPair {
    /// Rows of the transcript and of the screen text in [`CreativeExamples::texts`].
    pub speech_row: usize,
    pub screen_row: usize,
    pub speech: SpeechAmount,
    pub segment: u32,
}

/// The examples each head learns from, and why the other creatives teach
/// nothing (or only one head).
#[derive(Debug, Clone, Default)]
pub struct CreativeExamples {
    /// What the text head learns from, in label order: each creative's
    /// transcript when it had speech, and its on-screen text when that had
    /// words enough to classify. Both rows of one creative carry its label
    /// row, so cross-validation keeps them in one fold.
    pub texts: LabelledTexts,
    /// How many of `texts` are on-screen texts.
    pub screen_texts: usize,
    /// The creatives with both a transcript and a screen text among `texts`.
    pub screen_pairs: Vec<ScreenPair>,
    /// Every creative whose frames and sound were read, for the vision head
    /// (`text_row` points into `texts`, at its transcript).
    pub vision: Vec<VisionExample>,
    pub problems: Vec<RowProblem>,
}

/// Sorts labelled creatives into the heads' examples. `problems` are those
/// already found (label rows that were refused, IDs with no file), kept first.
pub fn creative_examples(creatives: &[LabelledCreative], problems: Vec<RowProblem>) -> CreativeExamples {
    let mut out = CreativeExamples { problems, ..Default::default() };
    for c in creatives {
        let vision_on = c.video.is_some();
        let problem = |reason: Message| c.label.problem(reason);
        let heard = match &c.heard {
            Ok(h) => h,
            Err(e) if vision_on => {
                out.problems.push(problem(Message::because("unused-by-both-heads", "not used for either head", e.clone())));
                continue;
            }
            Err(e) => {
                out.problems.push(problem(e.clone()));
                continue;
            }
        };
        let mut add_text = |text: &str| {
            out.texts.rows.push(LabelledText { row: c.label.row, text: text.to_string(), label: c.label.segment.to_string() });
            out.texts.rows.len() - 1
        };
        let text_row = heard.speech.then(|| add_text(&heard.transcript));
        let shown = c.screen.as_deref().filter(|t| t.split_whitespace().count() >= MIN_SCREEN_WORDS);
        let screen_row = shown.map(&mut add_text);
        let speech = SpeechAmount::of(if heard.speech { &heard.transcript } else { "" }, heard.no_speech_prob);
        if let Some(screen_row) = screen_row {
            out.screen_texts += 1;
            if let Some(speech_row) = text_row {
                out.screen_pairs.push(ScreenPair { speech_row, screen_row, speech, segment: c.label.segment });
            }
        }
        // Without speech, the text on screen teaches the text head instead.
        let read = heard.speech || screen_row.is_some();
        let untaught = || match c.screen {
            Some(_) => Message::new("nothing-said-little-text", "no speech and too little text on screen"),
            None => Message::new("nothing-said", "no speech"),
        };
        let reason = match &c.video {
            Some(Ok(embedding)) => {
                out.vision.push(VisionExample { embedding: embedding.clone(), segment: c.label.segment, speech, text_row });
                (!read).then(|| Message::because("vision-head-only", "used for the vision head only", untaught()))
            }
            Some(Err(e)) if read => Some(Message::because("text-head-only", "used for the text head only", notes::no_video_frames(e.clone()))),
            Some(Err(e)) => {
                let neither = match c.screen {
                    Some(_) => Message::because("little-text-no-frames", "no speech, too little text on screen and no video frames", e.clone()),
                    None => Message::because("nothing-said-no-frames", "no speech and no video frames", e.clone()),
                };
                Some(Message::because("not-used", "not used", neither))
            }
            None if !read => Some(Message::because("text-head-unused", "not used for the text head", untaught())),
            None => None,
        };
        out.problems.extend(reason.map(problem));
    }
    out
}

/// How heads are trained: the same defaults in the page and the CLI.
#[derive(Debug, Clone)]
pub struct TrainingOptions {
    pub params: LogRegParams,
    /// The transcripts' n-grams beside the embeddings (None: embeddings only).
    pub ngrams: Option<NgramParams>,
    /// Cross-validation folds (< 2: none).
    pub folds: usize,
    pub seed: u64,
}

impl Default for TrainingOptions {
    fn default() -> Self {
        TrainingOptions {
            params: LogRegParams { c: training::DEFAULT_C, ..Default::default() },
            ngrams: Some(NgramParams::default()),
            folds: 5,
            seed: 42,
        }
    }
}

/// The vision head's part of a training report.
#[derive(Debug, Clone, Serialize)]
pub struct VisionTrainingReport {
    pub evaluation: Option<Evaluation>,
    /// The evaluation as the CLI prints it.
    pub text: Option<String>,
    pub examples: usize,
    /// Creatives both branches answered out of fold, which the fusion was
    /// calibrated on (0: the defaults were kept).
    pub calibrated_on: usize,
    pub fusion: FusionParams,
    pub model: String,
}

/// The on-screen texts' part of a training report.
#[derive(Debug, Clone, Serialize)]
pub struct ScreenTrainingReport {
    /// Screen texts among the text head's examples.
    pub examples: usize,
    /// Creatives with speech and screen text, out of fold, that the
    /// speech-against-screen weight was calibrated on (0: defaults kept).
    pub calibrated_on: usize,
    pub fusion: FusionParams,
}

/// What the users see after training, in the page and from the CLI
/// (`train --report`).
#[derive(Debug, Clone, Serialize)]
pub struct TrainingReport {
    /// Cross-validated figures of the text head, when there were folds.
    pub evaluation: Option<Evaluation>,
    /// The evaluation as the CLI prints it.
    pub text: Option<String>,
    /// Examples the text head learnt from (transcripts and screen texts).
    pub examples: usize,
    /// Segments with at least one example.
    pub segments: usize,
    /// The rows not used (or used by one head only), and why.
    pub problems: Vec<RowProblem>,
    /// Seconds the final fit took.
    pub seconds: f64,
    pub iterations: usize,
    pub converged: bool,
    /// Which features the head has beside the embeddings.
    pub features: &'static str,
    pub vision: Option<VisionTrainingReport>,
    /// Present when screen texts were among the examples.
    pub screen: Option<ScreenTrainingReport>,
}

/// A trained head and its report.
pub struct Training {
    pub head: Head,
    pub report: TrainingReport,
}

/// Embeds `rows` (through the cache) and resolves their labels among
/// `segments`: the examples a head learns from or is judged on, grouped by
/// their label row (a creative's transcript and screen text share one).
/// Async because the page awaits its WebGPU.
pub async fn embed_examples(
    encoder: &TextEncoder,
    cache: &FeatureCache,
    segments: SegmentDictionary,
    rows: &LabelledTexts,
    mut problems: Vec<RowProblem>,
    progress: impl FnMut(usize, usize),
) -> Result<Examples> {
    let (texts, y, unresolved) = resolve_texts(rows, &segments);
    // The rows resolve_texts kept, in its order.
    let groups = rows.rows.iter().filter(|r| segments.resolve_label(&r.label).is_some()).map(|r| r.row).collect();
    problems.extend(unresolved);
    let vectors = embed_cached_async(encoder, cache, &texts, progress).await?;
    let texts = texts.into_iter().map(String::from).collect();
    Examples::new(segments, texts, vectors, y, problems, encoder.dim()).grouped(groups)
}

/// Trains the text head on labelled texts (or the transcripts and screen
/// texts of labelled creatives); given `vision` (its model and examples),
/// the vision head with its fusion calibrated on the creatives both
/// branches answered; given `screen` pairs, the speech-against-screen
/// weight calibrated on them.
pub fn train(
    encoder: &TextEncoder,
    cache: &FeatureCache,
    ex: &Examples,
    vision: Option<(&VisionModel, &[VisionExample])>,
    screen: Option<ScreenExamples>,
    options: &TrainingOptions,
) -> Result<Training> {
    if ex.y.is_empty() {
        return Err(Error::Invalid(match vision {
            Some(_) => "no usable training examples: the text head needs creatives with speech or text on screen".into(),
            None => "no usable training examples".into(),
        }));
    }
    let prototypes = prototype_embeddings(encoder, cache, &ex.segments)?;
    let o = options;
    let trained = training::train(ex, &encoder.embedding_id(), &o.params, o.ngrams.as_ref(), &prototypes, o.folds, o.seed)?;
    let mut head = trained.head.clone();
    let vision = match vision {
        Some((model, rows)) => train_vision(model, ex, rows, &trained, options)?.map(|(v, report)| {
            head.vision = Some(v);
            report
        }),
        None => None,
    };
    let screen = match screen.filter(|s| s.texts > 0) {
        Some(s) => {
            let report = calibrate_screen(&ex.segments, trained.out_of_fold.as_deref(), &s)?;
            head.screen_fusion = (report.calibrated_on > 0).then_some(report.fusion);
            Some(report)
        }
        None => None,
    };
    let report = TrainingReport {
        text: trained.cross_validation.as_ref().map(Evaluation::to_text),
        evaluation: trained.cross_validation,
        examples: ex.y.len(),
        segments: head.examples.iter().filter(|&&n| n > 0).count(),
        problems: ex.problems.clone(),
        seconds: trained.seconds,
        iterations: trained.fit.iterations,
        converged: trained.fit.converged,
        features: match &head.ngrams {
            Some(v) if v.word_max_n > 0 => "embeddings + character and word n-grams",
            Some(_) => "embeddings + character n-grams",
            None => "embeddings only",
        },
        vision,
        screen,
    };
    Ok(Training { head, report })
}

/// What the text head learnt from creatives' screens: how many of its
/// examples are screen texts, and the creatives that had speech too.
#[derive(Debug, Clone, Copy)]
pub struct ScreenExamples<'a> {
    pub texts: usize,
    pub pairs: &'a [ScreenPair],
}

impl CreativeExamples {
    pub fn screen(&self) -> ScreenExamples<'_> {
        ScreenExamples { texts: self.screen_texts, pairs: &self.screen_pairs }
    }
}

/// The speech-against-screen weight with the highest likelihood of the true
/// segments, from the text head's out-of-fold answers to each creative's
/// transcript and screen text (the defaults without cross-validation or
/// creatives with both).
fn calibrate_screen(segments: &SegmentDictionary, out_of_fold: Option<&[f32]>, screen: &ScreenExamples) -> Result<ScreenTrainingReport> {
    let k = segments.len();
    let ids = segments.ids();
    let samples: Vec<CalibrationSample> = match out_of_fold {
        Some(oof) => screen
            .pairs
            .iter()
            .filter_map(|p| {
                Some(CalibrationSample {
                    text: oof.get(p.speech_row * k..(p.speech_row + 1) * k)?,
                    picture: oof.get(p.screen_row * k..(p.screen_row + 1) * k)?,
                    speech: p.speech,
                    truth: ids.iter().position(|&id| id == p.segment)?,
                })
            })
            .collect(),
        None => vec![],
    };
    Ok(ScreenTrainingReport { examples: screen.texts, calibrated_on: samples.len(), fusion: calibrate(&samples)? })
}

/// The vision head, cross-validated like the text head, with its fusion
/// calibrated on the text head's out-of-fold answers to the transcripts. None when there are
/// fewer than two creatives to learn from.
fn train_vision(
    model: &VisionModel,
    ex: &Examples,
    rows: &[VisionExample],
    text: &Trained,
    o: &TrainingOptions,
) -> Result<Option<(crate::classify::VisionHead, VisionTrainingReport)>> {
    let oof = text.out_of_fold.as_deref();
    let Some(t) = train_with_fusion(model, &ex.segments, rows, oof, &o.params, o.folds, o.seed)? else {
        return Ok(None);
    };
    let report = VisionTrainingReport {
        text: t.trained.cross_validation.as_ref().map(Evaluation::to_text),
        evaluation: t.trained.cross_validation,
        examples: rows.len(),
        calibrated_on: t.calibrated_on,
        fusion: t.head.fusion,
        model: model.id().to_string(),
    };
    Ok(Some((t.head, report)))
}

/// Judges a classifier on embedded, labelled examples.
pub fn evaluate(classifier: &Classifier, ex: &Examples) -> Result<Evaluation> {
    if ex.y.is_empty() {
        return Err(Error::Invalid("no usable examples to evaluate on".into()));
    }
    let k = classifier.segments().len();
    let mut proba = Vec::with_capacity(ex.y.len() * k);
    let mut y_pred = Vec::with_capacity(ex.y.len());
    for (text, row) in ex.texts.iter().zip(ex.x.chunks_exact(ex.dim)) {
        let p = classifier.probs(text, row)?;
        y_pred.push(classifier.segments().segments()[argmax(&p)].id);
        proba.extend(p);
    }
    Evaluation::new(classifier.segments(), &ex.y, &y_pred, &proba)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creative(row: usize, id: &str, heard: std::result::Result<(&str, bool), &str>, video: Option<bool>) -> LabelledCreative {
        LabelledCreative {
            label: Label { row, id: id.into(), segment: 12 },
            heard: heard
                .map(|(t, speech)| HeardExample { transcript: t.into(), no_speech_prob: if speech { 0.1 } else { 0.9 }, speech })
                .map_err(|e| Message::new("decode", e)),
            video: video.map(|ok| if ok { Ok(vec![1.0, 0.0]) } else { Err(Message::new("no-video", "no video track")) }),
            screen: None,
        }
    }

    fn shown(c: LabelledCreative, text: &str) -> LabelledCreative {
        LabelledCreative { screen: Some(text.into()), ..c }
    }

    #[test]
    fn each_creative_teaches_the_heads_it_can_and_the_rest_are_named_by_row() {
        let creatives = [
            creative(3, "a", Ok(("оформите карту", true)), Some(true)),
            creative(5, "b", Ok(("", false)), Some(true)),
            creative(6, "c", Err("could not be decoded"), Some(true)),
            creative(7, "d", Ok(("карта с кэшбэком", true)), Some(false)),
            creative(9, "e", Ok(("", false)), Some(false)),
        ];
        let refused = RowProblem::of_id(2, "z", Message::new("no-segment-number", "no segment number"));
        let ex = creative_examples(&creatives, vec![refused]);
        let rows: Vec<(usize, &str)> = ex.texts.rows.iter().map(|r| (r.row, r.text.as_str())).collect();
        assert_eq!(rows, vec![(3, "оформите карту"), (7, "карта с кэшбэком")]);
        assert!(ex.texts.rows.iter().all(|r| r.label == "12"));
        assert_eq!((ex.screen_texts, ex.screen_pairs.len()), (0, 0));
        let vision: Vec<(Option<usize>, usize)> = ex.vision.iter().map(|v| (v.text_row, v.speech.words)).collect();
        assert_eq!(vision, vec![(Some(0), 2), (None, 0)]);
        let said = |ex: &CreativeExamples| ex.problems.iter().map(RowProblem::to_string).collect::<Vec<_>>();
        assert_eq!(
            said(&ex),
            vec![
                "row 2: ID z: no segment number",
                "row 5: ID b: used for the vision head only: no speech",
                "row 6: ID c: not used for either head: could not be decoded",
                "row 7: ID d: used for the text head only: no video frames: no video track",
                "row 9: ID e: not used: no speech and no video frames: no video track",
            ]
        );
        // Each with its code, for the page to word in its language.
        let codes: Vec<&str> = ex.problems.iter().map(|p| p.reason.code.as_str()).collect();
        assert_eq!(codes, ["no-segment-number", "vision-head-only", "unused-by-both-heads", "text-head-only", "not-used"]);
        // With the vision branch off, only the text head is spoken of.
        let off: Vec<LabelledCreative> = creatives.iter().cloned().map(|c| LabelledCreative { video: None, ..c }).collect();
        let ex = creative_examples(&off, vec![]);
        assert_eq!(ex.texts.rows.len(), 2);
        assert!(ex.vision.is_empty());
        assert_eq!(
            said(&ex),
            vec![
                "row 5: ID b: not used for the text head: no speech",
                "row 6: ID c: could not be decoded",
                "row 9: ID e: not used for the text head: no speech",
            ]
        );
    }

    #[test]
    fn text_on_screen_teaches_the_text_head_beside_the_transcript() {
        let creatives = [
            // Speech and a slide: two examples of one creative, paired for calibration.
            shown(creative(3, "a", Ok(("оформите карту", true)), None), "Кредитная карта\n120 дней без процентов"),
            // No speech: the slide alone teaches.
            shown(creative(4, "b", Ok(("", false)), Some(true)), "Кредитный лимит до 500 000 рублей"),
            // One word on screen is too little, as when classifying.
            shown(creative(5, "c", Ok(("", false)), None), "Карта"),
            shown(creative(6, "d", Ok(("", false)), Some(true)), "Карта"),
            creative(7, "e", Ok(("карта с кэшбэком", true)), None),
        ];
        let ex = creative_examples(&creatives, vec![]);
        let rows: Vec<(usize, &str)> = ex.texts.rows.iter().map(|r| (r.row, r.text.as_str())).collect();
        assert_eq!(
            rows,
            vec![
                (3, "оформите карту"),
                (3, "Кредитная карта\n120 дней без процентов"),
                (4, "Кредитный лимит до 500 000 рублей"),
                (7, "карта с кэшбэком"),
            ]
        );
        assert_eq!(ex.screen_texts, 2);
        assert_eq!(
            ex.screen_pairs,
            vec![ScreenPair { speech_row: 0, screen_row: 1, speech: SpeechAmount { words: 2, no_speech_prob: 0.1 }, segment: 12 }]
        );
        // The vision example of the silent creative has no transcript row.
        assert_eq!(ex.vision.iter().map(|v| v.text_row).collect::<Vec<_>>(), vec![None, None]);
        assert_eq!(
            ex.problems.iter().map(RowProblem::to_string).collect::<Vec<_>>(),
            vec![
                "row 5: ID c: not used for the text head: no speech and too little text on screen",
                "row 6: ID d: used for the vision head only: no speech and too little text on screen",
            ]
        );
    }

    #[test]
    fn the_screen_weight_is_calibrated_on_creatives_with_both_out_of_fold() {
        let segments = SegmentDictionary::default_ru();
        let k = segments.len();
        let col = |id: u32| segments.ids().iter().position(|&i| i == id).unwrap();
        let peaked = |id: u32| -> Vec<f32> { (0..k).map(|j| if j == col(id) { 0.8 } else { 0.2 / (k - 1) as f32 }).collect() };
        // Out of fold, the screen texts are right and the long transcripts wrong:
        // the calibrated weight must lean on the screen even for many words.
        let (mut oof, mut pairs) = (vec![], vec![]);
        for i in 0..12 {
            let truth = [12, 15, 16][i % 3];
            oof.extend(peaked(if truth == 12 { 15 } else { 12 }));
            oof.extend(peaked(truth));
            pairs.push(ScreenPair { speech_row: 2 * i, screen_row: 2 * i + 1, speech: SpeechAmount { words: 40, no_speech_prob: 0.05 }, segment: truth });
        }
        let screen = ScreenExamples { texts: 12, pairs: &pairs };
        let report = calibrate_screen(&segments, Some(&oof), &screen).unwrap();
        assert_eq!((report.examples, report.calibrated_on), (12, 12));
        let amount = SpeechAmount { words: 40, no_speech_prob: 0.05 };
        assert!(report.fusion.text_weight(amount) < 0.5, "{:?}", report.fusion);
        assert!(FusionParams::default().text_weight(amount) > 0.9);
        // Without cross-validation there is nothing to calibrate on.
        let none = calibrate_screen(&segments, None, &screen).unwrap();
        assert_eq!((none.calibrated_on, none.fusion), (0, FusionParams::default()));
    }
}
