//! Training and evaluation as the users run them, from the page or the CLI:
//! labelled creatives (or texts) in, a head and the report out. The shells
//! read the files and run each creative through the pipeline; everything
//! from there on — which creatives teach which head, the messages about
//! those that cannot, embedding, cross-validation, the vision head and its
//! fusion calibration — is here, once.

use serde::Serialize;

use super::{embed_cached_with_progress, prototype_embeddings};
use crate::cache::FeatureCache;
use crate::classify::fusion::{FusionParams, SpeechAmount};
use crate::classify::logreg::argmax;
use crate::classify::metrics::Evaluation;
use crate::classify::training::{self, resolve_texts, Examples, Trained};
use crate::classify::{Classifier, Head, LogRegParams, NgramParams, SegmentDictionary};
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
    /// without speech cannot teach the speech head.
    pub speech: bool,
}

/// A labelled creative after the pipeline has read it.
#[derive(Debug, Clone)]
pub struct LabelledCreative {
    pub label: Label,
    /// Its sound, or why it could not be read.
    pub heard: std::result::Result<HeardExample, String>,
    /// Its video embedding, or why there is none; `None` with the vision
    /// branch off.
    pub video: Option<std::result::Result<Vec<f32>, String>>,
}

/// The examples each head learns from, and why the other creatives teach
/// nothing (or only one head).
#[derive(Debug, Clone, Default)]
pub struct CreativeExamples {
    /// The creatives with speech, in label order, for the speech head.
    pub speech: LabelledTexts,
    /// Every creative whose frames and sound were read, for the vision head
    /// (`text_row` points into `speech`).
    pub vision: Vec<VisionExample>,
    pub problems: Vec<String>,
}

/// Sorts labelled creatives into the heads' examples. `problems` are those
/// already found (label rows that were refused, IDs with no file), kept first.
pub fn creative_examples(creatives: &[LabelledCreative], problems: Vec<String>) -> CreativeExamples {
    let mut out = CreativeExamples { problems, ..Default::default() };
    for c in creatives {
        let vision_on = c.video.is_some();
        let problem = |reason: String| c.label.problem(reason).to_string();
        let heard = match &c.heard {
            Ok(h) => h,
            Err(e) => {
                let vision = if vision_on { "; not used for either head" } else { "" };
                out.problems.push(problem(format!("{e}{vision}")));
                continue;
            }
        };
        let text_row = heard.speech.then(|| {
            out.speech.rows.push(LabelledText { row: c.label.row, text: heard.transcript.clone(), label: c.label.segment.to_string() });
            out.speech.rows.len() - 1
        });
        match &c.video {
            Some(Ok(embedding)) => {
                let speech = SpeechAmount::of(if heard.speech { &heard.transcript } else { "" }, heard.no_speech_prob);
                out.vision.push(VisionExample { embedding: embedding.clone(), segment: c.label.segment, speech, text_row });
                if !heard.speech {
                    out.problems.push(problem("no speech; used for the vision head only".into()));
                }
            }
            Some(Err(e)) if heard.speech => out.problems.push(problem(format!("no video frames ({e}); used for the speech head only"))),
            Some(Err(e)) => out.problems.push(problem(format!("no speech and no video frames ({e}); not used"))),
            None if !heard.speech => out.problems.push(problem("no speech; not used for the speech head".into())),
            None => {}
        }
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

/// What the users see after training, in the page and from the CLI
/// (`train --report`).
#[derive(Debug, Clone, Serialize)]
pub struct TrainingReport {
    /// Cross-validated figures of the speech head, when there were folds.
    pub evaluation: Option<Evaluation>,
    /// The evaluation as the CLI prints it.
    pub text: Option<String>,
    /// Examples the speech head learnt from.
    pub examples: usize,
    /// Segments with at least one example.
    pub segments: usize,
    /// The rows not used (or used by one head only), and why.
    pub problems: Vec<String>,
    /// Seconds the final fit took.
    pub seconds: f64,
    pub iterations: usize,
    pub converged: bool,
    /// Which features the head has beside the embeddings.
    pub features: &'static str,
    pub vision: Option<VisionTrainingReport>,
}

/// A trained head and its report.
pub struct Training {
    pub head: Head,
    pub report: TrainingReport,
}

/// Embeds `rows` (through the cache) and resolves their labels among
/// `segments`: the examples a head learns from or is judged on.
pub fn embed_examples(
    encoder: &TextEncoder,
    cache: &FeatureCache,
    segments: SegmentDictionary,
    rows: &LabelledTexts,
    mut problems: Vec<String>,
    progress: impl FnMut(usize, usize),
) -> Result<Examples> {
    let (texts, y, unresolved) = resolve_texts(rows, &segments);
    problems.extend(unresolved);
    let vectors = embed_cached_with_progress(encoder, cache, &texts, progress)?;
    let texts = texts.into_iter().map(String::from).collect();
    Ok(Examples::new(segments, texts, vectors, y, problems, encoder.dim()))
}

/// Trains the speech head on labelled texts (or the transcripts of labelled
/// creatives) and, given `vision` (its model and examples), the vision head
/// with the fusion calibrated on the creatives both answered.
pub fn train(
    encoder: &TextEncoder,
    cache: &FeatureCache,
    ex: &Examples,
    vision: Option<(&VisionModel, &[VisionExample])>,
    options: &TrainingOptions,
) -> Result<Training> {
    if ex.y.is_empty() {
        return Err(Error::Invalid(match vision {
            Some(_) => "no usable training examples: the speech head needs creatives with speech".into(),
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
    };
    Ok(Training { head, report })
}

/// The vision head, cross-validated like the speech head, with its fusion
/// calibrated on the speech head's out-of-fold answers. None when there are
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

/// The problems of a labels table as the training report words them.
pub fn row_problems(problems: &[RowProblem]) -> Vec<String> {
    problems.iter().map(RowProblem::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creative(row: usize, id: &str, heard: std::result::Result<(&str, bool), &str>, video: Option<bool>) -> LabelledCreative {
        LabelledCreative {
            label: Label { row, id: id.into(), segment: 12 },
            heard: heard
                .map(|(t, speech)| HeardExample { transcript: t.into(), no_speech_prob: if speech { 0.1 } else { 0.9 }, speech })
                .map_err(String::from),
            video: video.map(|ok| if ok { Ok(vec![1.0, 0.0]) } else { Err("no video track".into()) }),
        }
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
        let ex = creative_examples(&creatives, vec!["row 2: ID z: no segment number".into()]);
        let rows: Vec<(usize, &str)> = ex.speech.rows.iter().map(|r| (r.row, r.text.as_str())).collect();
        assert_eq!(rows, vec![(3, "оформите карту"), (7, "карта с кэшбэком")]);
        assert!(ex.speech.rows.iter().all(|r| r.label == "12"));
        let vision: Vec<(Option<usize>, usize)> = ex.vision.iter().map(|v| (v.text_row, v.speech.words)).collect();
        assert_eq!(vision, vec![(Some(0), 2), (None, 0)]);
        assert_eq!(
            ex.problems,
            vec![
                "row 2: ID z: no segment number",
                "row 5: ID b: no speech; used for the vision head only",
                "row 6: ID c: could not be decoded; not used for either head",
                "row 7: ID d: no video frames (no video track); used for the speech head only",
                "row 9: ID e: no speech and no video frames (no video track); not used",
            ]
        );
        // With the vision branch off, only the speech head is spoken of.
        let off: Vec<LabelledCreative> = creatives.iter().cloned().map(|c| LabelledCreative { video: None, ..c }).collect();
        let ex = creative_examples(&off, vec![]);
        assert_eq!(ex.speech.rows.len(), 2);
        assert!(ex.vision.is_empty());
        assert_eq!(
            ex.problems,
            vec![
                "row 5: ID b: no speech; not used for the speech head",
                "row 6: ID c: could not be decoded",
                "row 9: ID e: no speech; not used for the speech head",
            ]
        );
    }
}
