//! Segments from video: zero-shot against the segments' English prompts, or
//! a head trained on video embeddings with the text branch's machinery
//! ([`crate::classify::training::train`], no n-grams).

use candle_core::Tensor;

use super::{VideoFeatures, VisionModel};
use crate::cache::FeatureCache;
use crate::classify::fusion::{calibrate, CalibrationSample};
use crate::classify::training::{self, Examples, Trained};
use crate::classify::{Classifier, FusionParams, Head, LogRegParams, SegmentDictionary, SpeechAmount, VisionHead};
use crate::message::Message;
use crate::{Error, Result};

/// Decides segments from a creative's video.
pub struct VisionClassifier {
    segments: SegmentDictionary,
    /// Text features of the segments' prompts, [K, D].
    prompts: Tensor,
    /// The model and the prompts, in cache keys of zero-shot answers.
    prompts_id: String,
    /// The trained head blended with prompt prototypes, when there is one.
    trained: Option<Classifier>,
}

/// Unit-length prompt embeddings (not conditioned on a video): the
/// prototypes a trained vision head blends with for segments with few examples.
pub fn prompt_prototypes(prompts: &Tensor) -> Result<Vec<Vec<f32>>> {
    Ok(prompts.to_vec2::<f32>()?)
}

impl VisionClassifier {
    /// `head`, if given, must have been trained on `model`'s video embeddings.
    pub fn new(model: &VisionModel, dictionary: Option<&SegmentDictionary>, head: Option<Head>) -> Result<Self> {
        if let Some(h) = &head {
            if h.embedding_model != model.id() {
                return Err(Error::EmbeddingModelMismatch { head_model: h.embedding_model.clone(), in_use: model.id().into() });
            }
        }
        let segments = Classifier::segments_for(dictionary, head.as_ref());
        let prompts_id = format!("{}|{}", model.id(), segments.vision_prompts().join("\n"));
        let prompts = model.prompt_features(&segments.vision_prompts())?;
        let trained = match head {
            Some(h) => Some(Classifier::new(dictionary, Some(h), &prompt_prototypes(&prompts)?)?),
            None => None,
        };
        Ok(VisionClassifier { segments, prompts, prompts_id, trained })
    }

    pub fn segments(&self) -> &SegmentDictionary {
        &self.segments
    }

    /// "trained" or "zero-shot".
    pub fn mode(&self) -> &'static str {
        self.trained.as_ref().map_or("zero-shot", Classifier::mode)
    }

    /// Probabilities in dictionary order for one video.
    pub fn probs(&self, model: &VisionModel, video: &VideoFeatures) -> Result<Vec<f32>> {
        match &self.trained {
            Some(clf) => clf.probs("", &model.embedding(video)?),
            None => model.zero_shot_probs(video, &self.prompts),
        }
    }
}

/// Bumped when a change to frame sampling changes a creative's video
/// embedding, so that kept embeddings of older builds are not reused.
pub const VIDEO_POLICY: u32 = 1;

/// The vision branch as the pipeline runs it.
pub struct VisionBranch {
    pub model: VisionModel,
    pub classifier: VisionClassifier,
    /// How the branch's answer is mixed with the speech branch's.
    pub fusion: FusionParams,
}

impl VisionBranch {
    /// The branch over `segments` (the speech classifier's): trained with the
    /// fusion weights calibrated beside it when `head` has a vision part for
    /// this model, else zero-shot with the default fusion — and then, if the
    /// head's vision part was for another model, a line saying so.
    pub fn new(model: VisionModel, segments: &SegmentDictionary, head: Option<&Head>) -> Result<(VisionBranch, Option<Message>)> {
        let mut warning = None;
        if let Some(v) = head.and_then(|h| h.vision.as_ref()) {
            if v.head.embedding_model == model.id() {
                let classifier = VisionClassifier::new(&model, Some(segments), Some((*v.head).clone()))?;
                return Ok((VisionBranch { model, classifier, fusion: v.fusion }, None));
            }
            let text = format!(
                "the head's vision part was trained on {}, not on the X-CLIP model in use ({}): the vision branch is zero-shot",
                v.head.embedding_model,
                model.id()
            );
            warning = Some(Message::new("vision-head-other-model", text).with("head_model", &v.head.embedding_model).with("in_use", model.id()));
        }
        let classifier = VisionClassifier::new(&model, Some(segments), None)?;
        Ok((VisionBranch { model, classifier, fusion: FusionParams::default() }, warning))
    }

    /// Segment probabilities from frames (`size`×`size` RGB each), and the
    /// video embedding a vision head would be trained on.
    /// The vision tower runs on the GPU where one is in use: in the page its
    /// answer is awaited, natively the future is ready at once.
    pub async fn look(&self, rgb_frames: &[Vec<u8>], size: usize) -> Result<(Vec<f32>, Vec<f32>)> {
        let video = self.model.video_async(rgb_frames, size).await?;
        Ok((self.classifier.probs(&self.model, &video)?, self.model.embedding(&video)?))
    }

    /// What [`VisionBranch::look`] gave for the file with this content hash
    /// before, from `cache`: the embedding (for this model and frame
    /// sampling), and the probabilities a trained head makes from it or the
    /// zero-shot ones kept for these prompts. `None` when not all are kept.
    pub fn recall(&self, cache: &FeatureCache, content_hash: &str) -> Option<(Vec<f32>, Vec<f32>)> {
        let embedding = cache.video(&self.video_id(), content_hash)?;
        let probs = match &self.classifier.trained {
            Some(clf) => clf.probs("", &embedding).ok()?,
            None => cache.video_probs(&self.classifier.prompts_id, content_hash)?,
        };
        (probs.len() == self.classifier.segments.len()).then_some((probs, embedding))
    }

    /// Keeps what [`VisionBranch::look`] gave for a file, for [`VisionBranch::recall`].
    pub fn remember(&self, cache: &FeatureCache, content_hash: &str, probs: &[f32], embedding: &[f32]) -> Result<()> {
        cache.put_video(&self.video_id(), content_hash, embedding)?;
        if self.classifier.trained.is_none() {
            cache.put_video_probs(&self.classifier.prompts_id, content_hash, probs)?;
        }
        Ok(())
    }

    /// The model and how frames are sampled for it, in cache keys.
    fn video_id(&self) -> String {
        format!("{}|{} frames of {} px|policy {VIDEO_POLICY}", self.model.id(), self.model.frames(), self.model.image_size())
    }
}

/// A vision head trained on video embeddings `ex.x` (texts are ignored),
/// cross-validated like a text head; its prototypes are the segments'
/// prompt embeddings.
pub fn train_head(model: &VisionModel, ex: &Examples, params: &LogRegParams, folds: usize, seed: u64) -> Result<Trained> {
    let prompts = model.prompt_features(&ex.segments.vision_prompts())?;
    let blank = Examples {
        segments: ex.segments.clone(),
        texts: vec![String::new(); ex.y.len()],
        x: ex.x.clone(),
        dim: ex.dim,
        y: ex.y.clone(),
        groups: ex.groups.clone(),
        problems: ex.problems.clone(),
    };
    training::train(&blank, model.id(), params, None, &prompt_prototypes(&prompts)?, folds, seed)
}

/// One labelled creative the vision branch learns from.
#[derive(Debug, Clone)]
pub struct VisionExample {
    /// Its unit-length video embedding ([`VisionModel::embedding`]).
    pub embedding: Vec<f32>,
    pub segment: u32,
    pub speech: SpeechAmount,
    /// Its row among the speech head's examples, when it had speech.
    pub text_row: Option<usize>,
}

/// A vision head with its calibrated fusion, and how it was obtained.
pub struct TrainedVision {
    pub head: VisionHead,
    pub trained: Trained,
    /// Creatives both branches answered out of fold (the fusion was
    /// calibrated on them; 0: defaults kept).
    pub calibrated_on: usize,
}

/// Trains the vision head on `rows` (cross-validated like the speech head)
/// and calibrates the fusion on the creatives both branches answered out of
/// fold: `text_out_of_fold` is the speech head's out-of-fold probabilities
/// (`n × segments`, its example order). None when fewer than 2 creatives.
pub fn train_with_fusion(
    model: &VisionModel,
    segments: &SegmentDictionary,
    rows: &[VisionExample],
    text_out_of_fold: Option<&[f32]>,
    params: &LogRegParams,
    folds: usize,
    seed: u64,
) -> Result<Option<TrainedVision>> {
    if rows.len() < 2 {
        return Ok(None);
    }
    let dim = rows[0].embedding.len();
    let ex = Examples::new(
        segments.clone(),
        vec![],
        rows.iter().map(|r| r.embedding.clone()).collect(),
        rows.iter().map(|r| r.segment).collect(),
        vec![],
        dim,
    );
    let trained = train_head(model, &ex, params, folds, seed)?;
    let (fusion, calibrated_on) = match (text_out_of_fold, &trained.out_of_fold) {
        (Some(t), Some(o)) => {
            let k = segments.len();
            let ids = segments.ids();
            let samples: Vec<CalibrationSample> = rows
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let j = r.text_row?;
                    Some(CalibrationSample {
                        text: t.get(j * k..(j + 1) * k)?,
                        picture: &o[i * k..(i + 1) * k],
                        speech: r.speech,
                        truth: ids.iter().position(|&id| id == r.segment)?,
                    })
                })
                .collect();
            (calibrate(&samples)?, samples.len())
        }
        _ => (FusionParams::default(), 0),
    };
    let head = VisionHead { head: Box::new(trained.head.clone()), fusion };
    Ok(Some(TrainedVision { head, trained, calibrated_on }))
}
