//! The zero-shot matcher: a creative's embedding against the embeddings of
//! the segments' names and descriptions (cosine similarity, softmax with a
//! temperature), and its blend with a trained head for segments with few
//! examples.

use serde::{Deserialize, Serialize};

use crate::classify::logreg::softmax_in_place;
use crate::classify::segments::SegmentDictionary;
use crate::error::{Error, Result};

/// Softmax temperature for cosine similarities.
///
/// Cosine similarities between sentence embeddings sit in a narrow band
/// (for e5-style models unrelated texts already score ≈0.7–0.8 and a good
/// match only ≈0.05–0.1 higher), so a softmax over raw cosines is nearly
/// uniform. Dividing by 0.05 turns a 0.05 gap into odds of e : 1 — confident
/// for a clear winner, hedged for near ties. CLIP's learned scale (T = 0.01)
/// is far too sharp for text-to-description similarities. Tune it on labelled
/// data with [`fit_temperature`].
pub const DEFAULT_TEMPERATURE: f32 = 0.05;

/// How many training examples it takes for the head to outweigh zero-shot:
/// at `k` examples the two count equally.
pub const DEFAULT_BLEND_K: f32 = 5.0;

/// Zero-shot settings stored with a head.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ZeroShotParams {
    pub temperature: f32,
    /// α_c = k / (k + n_c): the weight of zero-shot for a segment with n_c examples.
    pub blend_k: f32,
}

impl Default for ZeroShotParams {
    fn default() -> Self {
        ZeroShotParams { temperature: DEFAULT_TEMPERATURE, blend_k: DEFAULT_BLEND_K }
    }
}

/// L2-normalised embeddings of the segments' texts, one per segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prototypes {
    pub dim: usize,
    pub segment_ids: Vec<u32>,
    /// `segment_ids.len() × dim`, row-major, unit length.
    pub vectors: Vec<f32>,
}

impl Prototypes {
    /// `embeddings` holds one vector per segment of `segments`, in its order
    /// (embed [`SegmentDictionary::prototype_texts`]). Rows are normalised here.
    pub fn new(segments: &SegmentDictionary, embeddings: &[f32], dim: usize) -> Result<Prototypes> {
        if dim == 0 || embeddings.len() != segments.len() * dim {
            return Err(Error::Invalid(format!(
                "{} prototype values do not make {} vectors of {dim}",
                embeddings.len(),
                segments.len()
            )));
        }
        let mut vectors = embeddings.to_vec();
        for (row, s) in vectors.chunks_exact_mut(dim).zip(segments.iter()) {
            if !normalize(row) {
                return Err(Error::Invalid(format!("the embedding of segment {} ({}) is zero", s.id, s.name)));
            }
        }
        Ok(Prototypes { dim, segment_ids: segments.ids(), vectors })
    }

    /// Zero-shot probabilities over these prototypes' segments.
    pub fn probs(&self, embedding: &[f32], temperature: f32) -> Result<Vec<f32>> {
        zero_shot_probs(&self.vectors, self.dim, embedding, temperature)
    }
}

/// Scales `v` to unit length; false if it is zero or not finite.
fn normalize(v: &mut [f32]) -> bool {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !(norm > 0.0 && norm.is_finite()) {
        return false;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    true
}

/// Cosine similarity of `embedding`'s sentence part (its leading `dim`
/// values; see `text::encoder`) to each unit-length prototype row.
pub fn cosine_similarities(prototypes: &[f32], dim: usize, embedding: &[f32]) -> Result<Vec<f32>> {
    if embedding.len() < dim || dim == 0 || prototypes.len() % dim != 0 {
        return Err(Error::Invalid(format!(
            "an embedding of {} values does not match prototypes of {dim}",
            embedding.len()
        )));
    }
    let mut e = embedding[..dim].to_vec();
    if !normalize(&mut e) {
        return Err(Error::Invalid("the creative's embedding is zero or not finite".into()));
    }
    Ok(prototypes.chunks_exact(dim).map(|p| p.iter().zip(&e).map(|(a, b)| a * b).sum()).collect())
}

/// Softmax over cosine similarities divided by `temperature`.
pub fn zero_shot_probs(prototypes: &[f32], dim: usize, embedding: &[f32], temperature: f32) -> Result<Vec<f32>> {
    if !(temperature > 0.0 && temperature.is_finite()) {
        return Err(Error::Invalid(format!("temperature must be positive, got {temperature}")));
    }
    let mut z = cosine_similarities(prototypes, dim, embedding)?;
    z.iter_mut().for_each(|c| *c /= temperature);
    softmax_in_place(&mut z);
    Ok(z)
}

/// The temperature from `candidates` with the lowest mean negative log
/// likelihood of the true segments; `cosines` is row-major `n × K`,
/// `truth[i]` the column of sample i's segment.
pub fn fit_temperature(cosines: &[f32], k: usize, truth: &[usize], candidates: &[f32]) -> Result<f32> {
    if k == 0 || cosines.len() != truth.len() * k || truth.iter().any(|&t| t >= k) || candidates.is_empty() {
        return Err(Error::Invalid("temperature fitting needs one row of cosines and one label per sample".into()));
    }
    let nll = |t: f32| -> f64 {
        cosines
            .chunks_exact(k)
            .zip(truth)
            .map(|(row, &y)| {
                let mut z: Vec<f32> = row.iter().map(|c| c / t).collect();
                softmax_in_place(&mut z);
                -(z[y].max(1e-30) as f64).ln()
            })
            .sum()
    };
    Ok(candidates.iter().copied().filter(|t| *t > 0.0).min_by(|a, b| nll(*a).total_cmp(&nll(*b))).unwrap_or(DEFAULT_TEMPERATURE))
}

/// Weight of zero-shot for a segment with `n_examples` training examples:
/// 1 with none, ½ at `k`, → 0 as examples accumulate.
pub fn blend_alpha(n_examples: u32, k: f32) -> f32 {
    if k <= 0.0 {
        return if n_examples == 0 { 1.0 } else { 0.0 };
    }
    k / (k + n_examples as f32)
}

/// `p_c = (1 − α_c)·head_c + α_c·zero_shot_c`, renormalised to sum to 1
/// (per-class α makes the raw blend sum to less or more than 1).
pub fn blend(head: &[f32], zero_shot: &[f32], alphas: &[f32]) -> Vec<f32> {
    let mut p: Vec<f32> =
        head.iter().zip(zero_shot).zip(alphas).map(|((h, z), a)| (1.0 - a) * h + a * z).collect();
    let sum: f32 = p.iter().sum();
    if sum > 0.0 {
        p.iter_mut().for_each(|v| *v /= sum);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_shot_softmax_over_cosines() {
        let protos = [1.0, 0.0, 0.0, 1.0];
        let p = zero_shot_probs(&protos, 2, &[3.0, 1.0], 0.05).unwrap();
        let cos = [3.0 / 10f32.sqrt(), 1.0 / 10f32.sqrt()];
        let want0 = 1.0 / (1.0 + ((cos[1] - cos[0]) / 0.05).exp());
        assert!((p[0] - want0).abs() < 1e-6 && (p[0] + p[1] - 1.0).abs() < 1e-6);
        // A higher temperature hedges more.
        let flat = zero_shot_probs(&protos, 2, &[3.0, 1.0], 1.0).unwrap();
        assert!(flat[0] < p[0] && flat[0] > 0.5);
        assert!(zero_shot_probs(&protos, 2, &[0.0, 0.0], 0.05).is_err());
        assert!(zero_shot_probs(&protos, 2, &[1.0, 0.0], 0.0).is_err());
    }

    #[test]
    fn temperature_fit_prefers_sharper_when_prototypes_are_right() {
        let cos = [0.9, 0.8, 0.78, 0.85, 0.7, 0.91];
        let t = fit_temperature(&cos, 3, &[0, 2], &[0.01, 0.05, 0.2, 1.0]).unwrap();
        assert_eq!(t, 0.01);
        let t = fit_temperature(&cos, 3, &[1, 0], &[0.01, 0.05, 0.2, 1.0]).unwrap();
        assert_eq!(t, 1.0, "wrong prototypes: hedge");
    }

    #[test]
    fn blend_weights_follow_example_counts() {
        assert_eq!(blend_alpha(0, 5.0), 1.0);
        assert_eq!(blend_alpha(5, 5.0), 0.5);
        assert!(blend_alpha(500, 5.0) < 0.01);
        let p = blend(&[0.8, 0.2, 0.0], &[0.1, 0.1, 0.8], &[0.0, 0.5, 1.0]);
        let raw = [0.8, 0.15, 0.8];
        let s: f32 = raw.iter().sum();
        for (a, b) in p.iter().zip(raw) {
            assert!((a - b / s).abs() < 1e-6);
        }
    }
}
