//! From text embeddings to a segment: the segment dictionary, the trained
//! head (softmax logistic regression on the embedding and hashed character
//! n-grams) and its zero-shot fallback, and the
//! evaluation that reports how well it works.
//!
//! Everything here is pure computation on bytes and vectors, so it runs the
//! same in the native CLI and in the browser.

pub mod asr_noise;
pub mod classifier;
pub mod fusion;
pub mod head;
mod lbfgs;
pub mod logreg;
pub mod metrics;
pub mod ngrams;
pub mod segments;
pub mod training;
pub mod zero_shot;

pub use classifier::Classifier;
pub use fusion::{Basis, FusedDecision, FusionParams, SpeechAmount};
pub use head::{Decision, Evidence, Head, VisionHead};
pub use zero_shot::{Prototypes, ZeroShotParams};
pub use logreg::{cross_val_proba, ClassWeight, CrossValProba, FitReport, LogRegParams, LogisticRegression, SparseCoef};
pub use ngrams::{Csr, NgramParams, NgramVectorizer};
pub use metrics::{classification_report, confusion_matrix, roc_auc_ovr, stratified_group_k_fold, stratified_k_fold, ClassificationReport};
pub use segments::{Segment, SegmentDictionary};
