//! The segment decision for one transcript and its embedding: a trained head
//! blended with zero-shot prototypes, or zero-shot alone (embedding only)
//! when nothing was trained yet.

use crate::classify::head::{Decision, Evidence, Head};
use crate::classify::zero_shot::{zero_shot_probs, Prototypes, DEFAULT_TEMPERATURE};
use crate::classify::logreg::LogRegParams;
use crate::classify::metrics::Fold;
use crate::classify::ngrams::NgramParams;
use crate::classify::segments::SegmentDictionary;
use crate::error::{Error, Result};

/// Decides segments. Built from the segment dictionary, an optional trained
/// head, and the embeddings of the dictionary's prototype texts.
#[derive(Debug, Clone)]
pub struct Classifier {
    head: Option<Head>,
    segments: SegmentDictionary,
    prototypes: Prototypes,
}

impl Classifier {
    /// The segments a classifier decides between: a head's own list, plus the
    /// dictionary's segments it has not seen (those are added by description
    /// and decided by zero-shot until the head is retrained).
    pub fn segments_for(dictionary: Option<&SegmentDictionary>, head: Option<&Head>) -> SegmentDictionary {
        match (head, dictionary) {
            (Some(h), Some(d)) => {
                let mut merged = h.segments.clone();
                for s in d.iter() {
                    if merged.get(s.id).is_none() {
                        merged.push_segment(s.clone()).expect("id checked free");
                    }
                }
                merged
            }
            (Some(h), None) => h.segments.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => SegmentDictionary::default_ru(),
        }
    }

    /// `prototype_embeddings` are the sentence embeddings of
    /// `Self::segments_for(..).prototype_texts()`, in that order.
    pub fn new(
        dictionary: Option<&SegmentDictionary>,
        head: Option<Head>,
        prototype_embeddings: &[Vec<f32>],
    ) -> Result<Classifier> {
        let segments = Self::segments_for(dictionary, head.as_ref());
        if segments.is_empty() {
            return Err(Error::Invalid("the segment dictionary is empty".into()));
        }
        let dim = prototype_embeddings.first().map_or(0, Vec::len);
        let flat: Vec<f32> = prototype_embeddings.concat();
        let prototypes = Prototypes::new(&segments, &flat, dim)?;
        let head = head.map(|mut h| {
            for s in segments.iter().skip(h.segments.len()) {
                h.segments.push_segment(s.clone()).expect("id checked free");
                h.examples.push(0);
            }
            h
        });
        if let Some(h) = &head {
            // The head reads the whole vector (or, if trained on the sentence
            // embedding alone, its leading part); zero-shot the sentence part.
            if h.dim() < dim {
                return Err(Error::Invalid(format!(
                    "the head reads {}-value embeddings but the segment prototypes have {dim}",
                    h.dim()
                )));
            }
        }
        Ok(Classifier { head, segments, prototypes })
    }

    pub fn segments(&self) -> &SegmentDictionary {
        &self.segments
    }

    pub fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    /// "trained" or "zero-shot": what the decisions rest on.
    pub fn mode(&self) -> &'static str {
        if self.head.is_some() {
            "trained"
        } else {
            "zero-shot"
        }
    }

    /// Probabilities in dictionary order, from the transcript `text` and its
    /// embedding.
    pub fn probs(&self, text: &str, embedding: &[f32]) -> Result<Vec<f32>> {
        match &self.head {
            Some(h) => h.probs(text, embedding, Some(&self.prototypes)),
            None => zero_shot_probs(&self.prototypes.vectors, self.prototypes.dim, embedding, DEFAULT_TEMPERATURE),
        }
    }

    pub fn decide(&self, text: &str, embedding: &[f32]) -> Result<Decision> {
        Decision::from_probs(&self.segments, &self.probs(text, embedding)?)
    }

    /// The words of `text` that weighed most toward `segment` (a trained
    /// head's n-gram weights; none zero-shot, which reads the embedding
    /// alone).
    pub fn evidence(&self, text: &str, segment: u32) -> Vec<Evidence> {
        self.head.as_ref().map(|h| h.evidence(text, segment, EVIDENCE_WORDS)).unwrap_or_default()
    }
}

/// Words of evidence reported with a decision.
pub const EVIDENCE_WORDS: usize = 5;

/// Out-of-fold decisions of the product's classifier (head + zero-shot
/// blend), every sample decided by a head trained without it.
#[derive(Debug, Clone)]
pub struct CrossValidation {
    pub y_true: Vec<u32>,
    pub y_pred: Vec<u32>,
    /// `n × segments.len()`, dictionary order: scores for ROC-AUC.
    pub proba: Vec<f32>,
    /// Seconds spent fitting, summed over the folds.
    pub fit_seconds: f64,
}

/// k-fold cross-validation of [`Head::train`] + [`Classifier`] on texts and
/// their embeddings `x` (`y.len()` rows of `dim`) over the given folds; with
/// `ngrams`, each fold's n-gram idf is learned on its training part only.
#[allow(clippy::too_many_arguments)]
pub fn cross_validate(
    segments: &SegmentDictionary,
    embedding_model: &str,
    texts: &[&str],
    x: &[f32],
    dim: usize,
    y: &[u32],
    folds: &[Fold],
    params: &LogRegParams,
    ngrams: Option<&NgramParams>,
    prototype_embeddings: &[Vec<f32>],
) -> Result<CrossValidation> {
    let n = y.len();
    let k = segments.len();
    if texts.len() != n {
        return Err(Error::Invalid(format!("{} texts for {n} labels", texts.len())));
    }
    let mut y_pred = vec![u32::MAX; n];
    let mut proba = vec![0f32; n * k];
    let mut fit_seconds = 0.0;
    for fold in folds {
        let xt: Vec<f32> = fold.train.iter().flat_map(|&i| x[i * dim..(i + 1) * dim].iter().copied()).collect();
        let yt: Vec<u32> = fold.train.iter().map(|&i| y[i]).collect();
        let tt: Vec<&str> = fold.train.iter().map(|&i| texts[i]).collect();
        let t = web_time::Instant::now();
        let (head, _) = Head::train(segments.clone(), embedding_model, &tt, &xt, dim, &yt, params, ngrams)?;
        fit_seconds += t.elapsed().as_secs_f64();
        let clf = Classifier::new(Some(segments), Some(head), prototype_embeddings)?;
        for &i in &fold.test {
            let p = clf.probs(texts[i], &x[i * dim..(i + 1) * dim])?;
            y_pred[i] = segments.segments()[crate::classify::logreg::argmax(&p)].id;
            proba[i * k..(i + 1) * k].copy_from_slice(&p);
        }
    }
    if y_pred.contains(&u32::MAX) {
        return Err(Error::Invalid("the folds do not test every sample".into()));
    }
    Ok(CrossValidation { y_true: y.to_vec(), y_pred, proba, fit_seconds })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::segments::Segment;

    fn unit(i: usize) -> Vec<f32> {
        let mut v = vec![0.0; 4];
        v[i] = 1.0;
        v
    }

    #[test]
    fn a_segment_added_by_description_alone_is_predicted() {
        // A head trained on segments 8 and 15 (axes 0 and 1) ...
        let two = SegmentDictionary::new(vec![
            Segment::new(8, "Кредитование", "кредит", ""),
            Segment::new(15, "Музыка", "музыка", ""),
        ])
        .unwrap();
        let x: Vec<f32> = [unit(0), unit(0), unit(1), unit(1)].concat();
        let (head, _) = Head::train(two.clone(), "m", &[], &x, 4, &[8, 8, 15, 15], &LogRegParams::default(), None).unwrap();
        // ... and a dictionary that also has segment 18, known by description only (axis 2).
        let mut dict = two;
        dict.push_segment(Segment::new(18, "Соц сети", "социальные сети", "")).unwrap();
        let merged = Classifier::segments_for(Some(&dict), Some(&head));
        assert_eq!(merged.ids(), vec![8, 15, 18]);
        let clf = Classifier::new(Some(&dict), Some(head), &[unit(0), unit(1), unit(2)]).unwrap();
        assert_eq!(clf.mode(), "trained");
        assert_eq!(clf.decide("", &unit(2)).unwrap().segment_id, 18);
        assert_eq!(clf.decide("", &unit(1)).unwrap().segment_id, 15);
        assert_eq!(clf.decide("", &unit(0)).unwrap().segment_id, 8);
    }

    #[test]
    fn zero_shot_alone_picks_the_nearest_prototype() {
        let dict = SegmentDictionary::default_ru();
        let protos: Vec<Vec<f32>> = (0..dict.len()).map(|i| {
            let mut v = vec![0.1; 32];
            v[i] = 1.0;
            v
        }).collect();
        let clf = Classifier::new(Some(&dict), None, &protos).unwrap();
        assert_eq!(clf.mode(), "zero-shot");
        let d = clf.decide("any text", &protos[5]).unwrap();
        assert_eq!(d.segment_id, dict.segments()[5].id);
        assert_eq!(d.top.len(), 3);
        assert!(Classifier::new(Some(&dict), None, &protos[..3]).is_err());
    }
}
