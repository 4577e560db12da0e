//! A trained classifier head over text embeddings and its file format; the
//! zero-shot matcher it is blended with, for segments with few or no
//! examples, is in [`super::zero_shot`].
//!
//! The head file is one JSON document: the segment dictionary it was
//! trained with, the logistic-regression weights, the number of training
//! examples per segment, and the id of the embedding model whose vectors it
//! expects. Vectors from another model live in a different space, so loading
//! a head for the wrong model is refused rather than silently producing
//! nonsense.
//!
//! Version 2 adds hashed character n-gram features of the transcript beside
//! the embedding: the n-gram vectorizer (settings and idf) and the sparse
//! block's weights, both as base64 of little-endian f32 (about 5 MB for 12
//! segments). A head trained without n-grams is written as version 1, and
//! version 1 files load as embedding-only heads.
//!
//! Version 3 adds words to the n-grams (`word_max_n`). A head with words is
//! written as version 3 so that builds from before words refuse it instead
//! of reading it without them; one without words is still written as 2.

use serde::{Deserialize, Serialize};

use crate::classify::logreg::{FitReport, LogRegParams, LogisticRegression};
use crate::classify::ngrams::{NgramParams, NgramVectorizer};
use crate::classify::segments::SegmentDictionary;
use crate::classify::asr_noise::AsrNoise;
use crate::classify::zero_shot::{blend, blend_alpha, Prototypes, ZeroShotParams};
use crate::error::{Error, Result};

/// Seed of the noisy copies of training texts (the same copies every run).
const NOISE_SEED: u64 = 0x5EED_0A5B;

/// The `format` field of a head file.
pub const HEAD_FORMAT: &str = "creative-filter-head";
/// The newest head file version this build reads and the one it writes for
/// heads with word n-grams (3); heads with character n-grams alone are
/// written as 2, embedding-only heads as 1.
pub const HEAD_FORMAT_VERSION: u32 = 3;

/// The answer for one creative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub segment_id: u32,
    pub segment_name: String,
    /// Probability of the chosen segment.
    pub confidence: f32,
    /// The three most probable segments, best first: (id, name, probability).
    pub top: Vec<(u32, String, f32)>,
}

impl Decision {
    /// Picks the most probable segment; `probs` is in dictionary order.
    pub fn from_probs(segments: &SegmentDictionary, probs: &[f32]) -> Result<Decision> {
        if probs.len() != segments.len() || probs.is_empty() {
            return Err(Error::Invalid(format!(
                "{} probabilities for {} segments",
                probs.len(),
                segments.len()
            )));
        }
        let mut order: Vec<usize> = (0..probs.len()).collect();
        // Stable sort: equal probabilities keep dictionary order.
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        let top: Vec<(u32, String, f32)> = order
            .iter()
            .take(3)
            .map(|&i| {
                let s = &segments.segments()[i];
                (s.id, s.name.clone(), probs[i])
            })
            .collect();
        let (segment_id, segment_name, confidence) = top[0].clone();
        Ok(Decision { segment_id, segment_name, confidence, top })
    }
}

/// Whether a head trained on `head_model`'s vectors can read those of
/// `in_use`: the same, or `in_use` adds pooled layers (`model+layerK`) after
/// the sentence embedding that a head of the bare model reads alone.
fn reads(head_model: &str, in_use: &str) -> bool {
    head_model == in_use || in_use.strip_prefix(head_model).is_some_and(|rest| rest.starts_with("+layer"))
}

/// A trained head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    pub format: String,
    pub version: u32,
    /// Id of the embedding model whose vectors this head reads.
    pub embedding_model: String,
    pub segments: SegmentDictionary,
    /// Training examples per segment, in dictionary order.
    pub examples: Vec<u32>,
    pub model: LogisticRegression,
    /// The transcript's n-gram features (version 2), read beside the embedding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ngrams: Option<NgramVectorizer>,
    #[serde(default)]
    pub zero_shot: ZeroShotParams,
    /// The vision branch trained beside it, when it was trained on labelled
    /// creatives with an X-CLIP model imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vision: Option<VisionHead>,
    /// How the speech weighs against the on-screen text, calibrated on the
    /// labelled creatives that had both (None: the default weights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_fusion: Option<crate::classify::FusionParams>,
}

/// A word of a transcript and how much it pushed a segment ([`Head::evidence`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub word: String,
    pub weight: f32,
}

/// A head on X-CLIP video embeddings and the fusion weights calibrated on
/// the same creatives' out-of-fold answers of both branches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisionHead {
    /// Its `embedding_model` names the X-CLIP model it reads.
    pub head: Box<Head>,
    pub fusion: crate::classify::FusionParams,
}

impl Head {
    /// Trains on transcripts `texts` and their embeddings `x` (`y.len()`
    /// rows of `dim`) labelled with segment ids `y`, all of which must be in
    /// `segments`. With `ngrams`, the texts' hashed n-grams (idf learned on
    /// these texts) sit beside the embedding; without, `texts` may be empty.
    #[allow(clippy::too_many_arguments)]
    pub fn train(
        segments: SegmentDictionary,
        embedding_model: &str,
        texts: &[&str],
        x: &[f32],
        dim: usize,
        y: &[u32],
        params: &LogRegParams,
        ngrams: Option<&NgramParams>,
    ) -> Result<(Head, FitReport)> {
        if let Some(bad) = y.iter().find(|id| segments.get(**id).is_none()) {
            return Err(Error::Invalid(format!("training label {bad} is not a segment of the dictionary")));
        }
        let (model, vectorizer, report) = match ngrams {
            Some(p) => {
                if texts.len() != y.len() {
                    return Err(Error::Invalid(format!("{} texts for {} labels", texts.len(), y.len())));
                }
                if p.noisy_copies == 0 {
                    let (vectorizer, sparse) = NgramVectorizer::fit_transform(texts, p)?;
                    let (model, report) = LogisticRegression::fit_with_sparse(x, dim, Some(&sparse), y, params)?;
                    (model, Some(vectorizer), report)
                } else {
                    // Each text's noisy copies beside it, with its embedding and label.
                    let noisy = AsrNoise::builtin().copies(texts, p.noisy_copies, NOISE_SEED);
                    let all: Vec<&str> = texts.iter().copied().chain(noisy.iter().map(String::as_str)).collect();
                    let mut xa = x.to_vec();
                    let mut ya = y.to_vec();
                    for (i, &label) in y.iter().enumerate() {
                        for _ in 0..p.noisy_copies {
                            xa.extend_from_slice(&x[i * dim..(i + 1) * dim]);
                            ya.push(label);
                        }
                    }
                    let (vectorizer, sparse) = NgramVectorizer::fit_transform(&all, p)?;
                    let (model, report) = LogisticRegression::fit_with_sparse(&xa, dim, Some(&sparse), &ya, params)?;
                    (model, Some(vectorizer), report)
                }
            }
            None => {
                let (model, report) = LogisticRegression::fit(x, dim, y, params)?;
                (model, None, report)
            }
        };
        let examples = segments.iter().map(|s| y.iter().filter(|&&l| l == s.id).count() as u32).collect();
        let head = Head {
            format: HEAD_FORMAT.into(),
            version: match &vectorizer {
                Some(v) if v.word_max_n > 0 => HEAD_FORMAT_VERSION,
                Some(_) => 2,
                None => 1,
            },
            embedding_model: embedding_model.into(),
            segments,
            examples,
            model,
            ngrams: vectorizer,
            zero_shot: ZeroShotParams::default(),
            vision: None,
            screen_fusion: None,
        };
        Ok((head, report))
    }

    pub fn dim(&self) -> usize {
        self.model.n_features
    }

    /// Adds a segment known only by its description; it is decided by
    /// zero-shot similarity (α = 1) until the head is retrained with examples.
    pub fn add_segment(&mut self, name: &str, description: &str) -> u32 {
        let id = self.segments.push(name, description);
        self.examples.push(0);
        id
    }

    /// The head's own probabilities in dictionary order; segments it was not
    /// trained on get 0. `text` is the transcript the embedding was made of
    /// (read only by heads with n-gram features). A head trained on the
    /// sentence embedding alone reads the leading part of a longer vector.
    pub fn head_probs(&self, text: &str, embedding: &[f32]) -> Result<Vec<f32>> {
        if embedding.len() < self.dim() {
            return Err(Error::Invalid(format!(
                "the embedding has {} values but the head expects {} (model {})",
                embedding.len(),
                self.dim(),
                self.embedding_model
            )));
        }
        let embedding = &embedding[..self.dim()];
        let p = match &self.ngrams {
            Some(v) => {
                let (idx, val) = v.transform_one(text);
                self.model.predict_proba_row(embedding, Some((&idx, &val)))
            }
            None => self.model.predict_proba_one(embedding),
        };
        let mut out = vec![0f32; self.segments.len()];
        for (class, prob) in self.model.classes.iter().zip(p) {
            out[self.segments.index_of(*class).expect("checked on load")] = prob;
        }
        Ok(out)
    }

    /// The words of `text` that weighed most toward `segment`, strongest
    /// first, at most `top`: each n-gram's value times its weight for the
    /// segment less its mean weight over the segments (what moves the
    /// softmax toward this segment), shared among the n-gram's occurrences
    /// and summed over the n-grams read from each word. Only words that
    /// push toward the segment are listed; none for a head without n-grams.
    pub fn evidence(&self, text: &str, segment: u32, top: usize) -> Vec<Evidence> {
        let (Some(v), Some(sparse)) = (&self.ngrams, &self.model.sparse) else {
            return vec![];
        };
        let Ok(c) = self.model.classes.binary_search(&segment) else {
            return vec![];
        };
        let k = self.model.n_classes();
        let (idx, val) = v.transform_one(text);
        let (words, hits) = v.hits_by_word(text);
        let mut per_hit = std::collections::HashMap::new();
        for (j, x) in idx.iter().zip(&val) {
            let Some(w) = sparse.coef.get(*j as usize * k..(*j as usize + 1) * k) else { continue };
            let mean = w.iter().sum::<f32>() / k as f32;
            per_hit.insert(*j, (x * (w[c] - mean), 0usize));
        }
        for (b, _) in &hits {
            if let Some(e) = per_hit.get_mut(b) {
                e.1 += 1;
            }
        }
        let mut score = vec![0f32; words.len()];
        for (b, from) in &hits {
            if let Some(&(total, n)) = per_hit.get(b) {
                let share = total / n as f32 / from.len() as f32;
                from.iter().for_each(|&i| score[i] += share);
            }
        }
        let mut ranked: Vec<Evidence> =
            words.into_iter().zip(score).filter(|(_, s)| *s > 0.0).map(|(word, weight)| Evidence { word, weight }).collect();
        ranked.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        ranked.truncate(top);
        ranked
    }

    /// Zero-shot weight of each segment, from its number of examples.
    pub fn alphas(&self) -> Vec<f32> {
        self.examples.iter().map(|&n| blend_alpha(n, self.zero_shot.blend_k)).collect()
    }

    /// Probabilities in dictionary order: the head alone, or blended with
    /// zero-shot when prototypes of every segment are given.
    pub fn probs(&self, text: &str, embedding: &[f32], prototypes: Option<&Prototypes>) -> Result<Vec<f32>> {
        let head = self.head_probs(text, embedding)?;
        let Some(protos) = prototypes else {
            return Ok(head);
        };
        if protos.segment_ids != self.segments.ids() {
            return Err(Error::Invalid(
                "the segment prototypes were made for another segment list; embed the dictionary's texts again"
                    .into(),
            ));
        }
        let zs = protos.probs(embedding, self.zero_shot.temperature)?;
        Ok(blend(&head, &zs, &self.alphas()))
    }

    /// Decides one creative from its transcript and the transcript's embedding.
    pub fn decide(&self, text: &str, embedding: &[f32], prototypes: Option<&Prototypes>) -> Result<Decision> {
        Decision::from_probs(&self.segments, &self.probs(text, embedding, prototypes)?)
    }

    /// The head file's bytes (JSON).
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::Invalid(format!("cannot serialise the head: {e}")))
    }

    /// Reads a head file and checks it fits `embedding_model_in_use`.
    pub fn from_json(bytes: &[u8], embedding_model_in_use: &str) -> Result<Head> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::Invalid(format!("not a classifier head file (not JSON: {e})")))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(HEAD_FORMAT) {
            return Err(Error::Invalid("not a classifier head file (no \"format\": \"creative-filter-head\")".into()));
        }
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version == 0 || version > HEAD_FORMAT_VERSION as u64 {
            return Err(Error::Invalid(format!(
                "the head file has format version {version}; this build reads up to {HEAD_FORMAT_VERSION}: update Creative Filter"
            )));
        }
        let head: Head = serde_json::from_value(value)
            .map_err(|e| Error::Invalid(format!("the head file is damaged: {e}; train the head again")))?;
        if !reads(&head.embedding_model, embedding_model_in_use) {
            return Err(Error::EmbeddingModelMismatch {
                head_model: head.embedding_model,
                in_use: embedding_model_in_use.to_string(),
            });
        }
        head.check()?;
        Ok(head)
    }

    /// Internal consistency of a loaded head.
    fn check(&self) -> Result<()> {
        let m = &self.model;
        let k = m.classes.len();
        let damaged = |what: String| Err(Error::Invalid(format!("the head file is damaged: {what}; train the head again")));
        if m.n_features == 0 || m.coef.len() != k * m.n_features || m.intercept.len() != k {
            return damaged(format!("{} weights for {k} classes of {} features", m.coef.len(), m.n_features));
        }
        if let Some(c) = m.classes.iter().find(|c| self.segments.get(**c).is_none()) {
            return damaged(format!("class {c} is not in its segment list"));
        }
        if self.examples.len() != self.segments.len() {
            return damaged("example counts do not match the segments".into());
        }
        match (&self.ngrams, &m.sparse) {
            (None, None) => {}
            (Some(v), Some(s)) => {
                if let Err(e) = v.check() {
                    return damaged(format!("n-gram features: {e}"));
                }
                if v.word_max_n > 0 && self.version < 3 {
                    return damaged(format!("word n-grams in a version {} file", self.version));
                }
                if s.n_features != v.buckets() || s.coef.len() != k * s.n_features {
                    return damaged(format!("{} n-gram weights for {k} classes of {} buckets", s.coef.len(), v.buckets()));
                }
                if s.coef.iter().any(|w| !w.is_finite()) {
                    return damaged("a non-finite n-gram weight".into());
                }
            }
            _ => return damaged("n-gram features without their weights, or weights without features".into()),
        }
        Ok(())
    }

    /// Writes the head file (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        crate::error::write_file(path, self.to_json()?)
    }

    /// Reads a head file (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(path: &std::path::Path, embedding_model_in_use: &str) -> Result<Head> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
        Head::from_json(&bytes, embedding_model_in_use)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::segments::Segment;

    const MODEL: &str = "multilingual-e5-small@v1";

    fn small_dict() -> SegmentDictionary {
        SegmentDictionary::new(vec![
            Segment::new(8, "Кредитование", "кредит", ""),
            Segment::new(15, "Музыка", "музыка", ""),
            Segment::new(18, "Соц сети", "соцсети", ""),
        ])
        .unwrap()
    }

    /// Three segments along the three axes of a 4-d space.
    fn toy_head() -> Head {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..60 {
            let c = i % 3;
            let mut v = [0.1f32; 4];
            v[c] = 1.0 + (i as f32) * 0.001;
            x.extend_from_slice(&v);
            y.push([8, 15, 18][c]);
        }
        Head::train(small_dict(), MODEL, &[], &x, 4, &y, &LogRegParams::default(), None).unwrap().0
    }

    #[test]
    fn evidence_names_the_words_that_pushed_the_segment() {
        let texts = [
            "оформите кредитную карту сегодня",
            "карта с кэшбэком для вас",
            "кредитная карта банка",
            "слушайте музыку сегодня",
            "музыка без рекламы для вас",
            "новая музыка каждый день",
        ];
        let y = [12, 12, 12, 15, 15, 15];
        // The same embedding for every text: only the n-grams tell them apart.
        let x = vec![0.5f32; 2 * texts.len()];
        let params = LogRegParams { c: 10.0, ..Default::default() };
        let segments = SegmentDictionary::from_label_numbers([12, 15]);
        let (head, _) = Head::train(segments, MODEL, &texts, &x, 2, &y, &params, Some(&NgramParams::default())).unwrap();
        let mixed = "Оформите карту, и слушайте музыку!";
        let cards = head.evidence(mixed, 12, 3);
        let music = head.evidence(mixed, 15, 3);
        let words = |e: &[Evidence]| e.iter().map(|e| e.word.clone()).collect::<Vec<_>>();
        assert!(words(&cards).contains(&"карту".to_string()) && !words(&cards).contains(&"музыку".to_string()), "{cards:?}");
        assert!(words(&music).contains(&"музыку".to_string()) && !words(&music).contains(&"карту".to_string()), "{music:?}");
        assert!(cards.windows(2).all(|w| w[0].weight >= w[1].weight) && cards.iter().all(|e| e.weight > 0.0));
        // Noisy copies of the texts teach the n-grams more, not the example counts.
        let noisy = NgramParams { noisy_copies: 2, ..Default::default() };
        let segments = SegmentDictionary::from_label_numbers([12, 15]);
        let (robust, _) = Head::train(segments, MODEL, &texts, &x, 2, &y, &params, Some(&noisy)).unwrap();
        assert_eq!(robust.examples, head.examples);
        assert_eq!(robust.decide("аформите карту", &[0.5, 0.5], None).unwrap().segment_id, 12);
        // A head without n-grams, or a segment it never saw, has none to show.
        assert!(toy_head().evidence(mixed, 15, 3).is_empty());
        assert!(head.evidence(mixed, 7, 3).is_empty());
    }

    #[test]
    fn head_decides_and_round_trips() {
        let head = toy_head();
        assert_eq!(head.examples, vec![20, 20, 20]);
        let d = head.decide("", &[0.1, 1.0, 0.1, 0.1], None).unwrap();
        assert_eq!((d.segment_id, d.segment_name.as_str()), (15, "Музыка"));
        assert_eq!(d.top.len(), 3);
        assert!(d.top.windows(2).all(|w| w[0].2 >= w[1].2));
        assert!(d.confidence > 0.5);

        let bytes = head.to_json().unwrap();
        assert!(bytes.len() < 4096, "head file is small: {} bytes", bytes.len());
        let back = Head::from_json(&bytes, MODEL).unwrap();
        assert_eq!(back, head);
        assert_eq!(back.version, 1, "an embedding-only head stays readable by older builds");
    }

    /// Texts whose words, not their (uninformative) embeddings, tell the segments apart.
    fn ngram_head() -> Head {
        let words = [["кредит", "ставка", "заём"], ["музыка", "трек", "плейлист"], ["лайк", "репост", "друзья"]];
        let mut texts = Vec::new();
        let mut y = Vec::new();
        for i in 0..30 {
            let c = i % 3;
            texts.push(format!("{} и {} сегодня", words[c][i % 3], words[c][(i + 1) % 3]));
            y.push([8, 15, 18][c]);
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let x = vec![0.5f32; 30 * 4];
        let (head, report) =
            Head::train(small_dict(), MODEL, &refs, &x, 4, &y, &LogRegParams::default(), Some(&NgramParams::default()))
                .unwrap();
        assert!(report.converged, "{report:?}");
        head
    }

    #[test]
    fn ngram_head_reads_the_transcript_and_round_trips() {
        let head = ngram_head();
        assert_eq!(head.version, 3);
        let e = [0.5f32; 4];
        assert_eq!(head.decide("новый трек в плейлисте", &e, None).unwrap().segment_id, 15);
        assert_eq!(head.decide("Кредит: низкая ставка", &e, None).unwrap().segment_id, 8);
        assert_eq!(head.decide("позовите друзья, нужен репост", &e, None).unwrap().segment_id, 18);
        let bytes = head.to_json().unwrap();
        assert!(bytes.len() < 2_000_000, "{} bytes", bytes.len());
        let back = Head::from_json(&bytes, MODEL).unwrap();
        assert_eq!(back, head);
        // A version 2 file, as builds before words wrote it, reads no words;
        // words in a version 2 file are refused.
        let mut v2: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v2["version"] = 2.into();
        v2["ngrams"].as_object_mut().unwrap().remove("word_max_n");
        let old = Head::from_json(&serde_json::to_vec(&v2).unwrap(), MODEL).unwrap();
        assert_eq!(old.ngrams.as_ref().unwrap().word_max_n, 0);
        v2["ngrams"]["word_max_n"] = 1.into();
        let e = Head::from_json(&serde_json::to_vec(&v2).unwrap(), MODEL).unwrap_err().to_string();
        assert!(e.contains("damaged") && e.contains("word"), "{e}");
        // Weights without their vectorizer (or the reverse) are refused.
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v.as_object_mut().unwrap().remove("ngrams");
        let e = Head::from_json(&serde_json::to_vec(&v).unwrap(), MODEL).unwrap_err().to_string();
        assert!(e.contains("damaged"), "{e}");
    }

    /// A version 1 file, as earlier builds wrote it, still loads.
    #[test]
    fn version_1_head_files_load() {
        let v1 = r#"{"format":"creative-filter-head","version":1,"embedding_model":"multilingual-e5-small@v1",
            "segments":SEGMENTS,"examples":[2,2,0],
            "model":{"classes":[8,15],"n_features":2,"coef":[1.0,-1.0,-1.0,1.0],"intercept":[0.0,0.0]},
            "zero_shot":{"temperature":0.05,"blend_k":5.0}}"#;
        let segments = serde_json::to_string(&small_dict()).unwrap();
        let head = Head::from_json(v1.replace("SEGMENTS", &segments).as_bytes(), MODEL).unwrap();
        assert!(head.ngrams.is_none() && head.model.sparse.is_none());
        assert_eq!(head.decide("any text", &[0.0, 2.0], None).unwrap().segment_id, 15);
    }

    #[test]
    fn a_head_of_the_sentence_embedding_reads_the_longer_vector() {
        // Trained before intermediate layers were pooled: 4 values, bare model id.
        let head = toy_head();
        let pooled = format!("{MODEL}+layer8");
        let back = Head::from_json(&head.to_json().unwrap(), &pooled).unwrap();
        let mut v = vec![0.1, 1.0, 0.1, 0.1];
        v.extend([9.0, -9.0, 9.0, -9.0]);
        assert_eq!(back.decide("", &v, None).unwrap(), head.decide("", &v[..4], None).unwrap());
        // Only added layers: another model whose id begins the same is not read.
        for other in [format!("{MODEL}x"), format!("{MODEL}+other")] {
            assert!(matches!(Head::from_json(&head.to_json().unwrap(), &other), Err(Error::EmbeddingModelMismatch { .. })));
        }
        // A head of the longer vector does not read the bare one.
        let mut wide = head.clone();
        wide.embedding_model = pooled;
        assert!(matches!(Head::from_json(&wide.to_json().unwrap(), MODEL), Err(Error::EmbeddingModelMismatch { .. })));
    }

    #[test]
    fn head_for_another_embedding_model_is_refused() {
        let bytes = toy_head().to_json().unwrap();
        let err = Head::from_json(&bytes, "rubert-tiny2").unwrap_err();
        assert!(matches!(err, Error::EmbeddingModelMismatch { .. }));
        let msg = err.to_string();
        assert!(msg.contains(MODEL) && msg.contains("rubert-tiny2"), "{msg}");
    }

    #[test]
    fn damaged_or_foreign_files_are_refused() {
        let e = Head::from_json(b"{\"hello\": 1}", MODEL).unwrap_err().to_string();
        assert!(e.contains("not a classifier head file"), "{e}");
        let mut v: serde_json::Value = serde_json::from_slice(&toy_head().to_json().unwrap()).unwrap();
        v["version"] = 99.into();
        let e = Head::from_json(&serde_json::to_vec(&v).unwrap(), MODEL).unwrap_err().to_string();
        assert!(e.contains("version 99") && e.contains("update"), "{e}");
        v["version"] = 1.into();
        v["model"]["coef"] = serde_json::json!([1.0]);
        let e = Head::from_json(&serde_json::to_vec(&v).unwrap(), MODEL).unwrap_err().to_string();
        assert!(e.contains("damaged"), "{e}");
        let e = toy_head().decide("", &[1.0, 0.0], None).unwrap_err().to_string();
        assert!(e.contains("expects 4"), "{e}");
    }

    #[test]
    fn segment_added_by_description_is_found_by_zero_shot() {
        let mut head = toy_head();
        let id = head.add_segment("Доставка еды", "доставка готовой еды из ресторанов");
        assert_eq!(id, 19);
        // Prototypes: the three trained axes plus a new one on the 4th axis.
        let mut e = vec![0f32; 16];
        for i in 0..4 {
            e[i * 4 + i] = 1.0;
        }
        let protos = Prototypes::new(&head.segments, &e, 4).unwrap();
        let d = head.decide("", &[0.05, 0.05, 0.05, 1.0], Some(&protos)).unwrap();
        assert_eq!(d.segment_id, 19, "{d:?}");
        // Trained segments still win on their own ground.
        let d = head.decide("", &[1.0, 0.1, 0.1, 0.1], Some(&protos)).unwrap();
        assert_eq!(d.segment_id, 8);
        // Prototypes of an older segment list are refused.
        let old = Prototypes::new(&small_dict(), &e[..12], 4).unwrap();
        assert!(head.probs("", &[1.0, 0.0, 0.0, 0.0], Some(&old)).is_err());
    }

    #[test]
    fn training_labels_must_be_segments() {
        let e = Head::train(small_dict(), MODEL, &[], &[0.0; 4], 2, &[8, 6], &LogRegParams::default(), None).unwrap_err();
        assert!(e.to_string().contains("label 6"), "{e}");
    }

    #[test]
    fn decision_needs_matching_lengths() {
        let d = SegmentDictionary::default_ru();
        assert!(Decision::from_probs(&d, &[1.0]).is_err());
        let mut p = vec![0.0; d.len()];
        p[d.index_of(17).unwrap()] = 0.7;
        p[d.index_of(0).unwrap()] = 0.2;
        p[d.index_of(18).unwrap()] = 0.1;
        let dec = Decision::from_probs(&d, &p).unwrap();
        assert_eq!(dec.top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![17, 0, 18]);
        assert_eq!(dec.segment_name, "Клипы");
    }
}
