//! Hugging Face `tokenizer.json` (XLM-R Unigram for e5, WordPiece for BERT
//! checkpoints), loaded from bytes (plain or gzip-compressed).

use tokenizers::Tokenizer;

use crate::{Error, Result};

pub struct TextTokenizer {
    inner: Tokenizer,
    cls: u32,
    sep: u32,
    pad: u32,
}

fn tok_err(e: impl std::fmt::Display) -> Error {
    Error::Tokenizer(e.to_string())
}

impl TextTokenizer {
    /// `pad_fallback` is used when the tokenizer names no padding token
    /// (it never reaches the model's output: padded positions are masked).
    pub fn from_bytes(json: &[u8], pad_fallback: u32) -> Result<Self> {
        let mut inner = Tokenizer::from_bytes(crate::models::tokenizer_json(json)?)
            .map_err(|e| tok_err(format!("tokenizer.json cannot be read: {e}")))?;
        // Long texts are split into windows by the encoder, never cut off, and
        // padding is done per batch.
        inner.with_truncation(None).map_err(tok_err)?;
        inner.with_padding(None);
        // The post-processor decides the special tokens (<s> … </s> for XLM-R,
        // [CLS] … [SEP] for BERT): read them off an empty input.
        let empty = inner.encode("", true).map_err(tok_err)?;
        let (cls, sep) = match empty.get_ids() {
            [cls, sep] => (*cls, *sep),
            other => {
                return Err(tok_err(format!(
                    "tokenizer.json must wrap an input in one start and one end token, got {other:?}"
                )))
            }
        };
        let pad = ["<pad>", "[PAD]"]
            .iter()
            .find_map(|t| inner.token_to_id(t))
            .unwrap_or(pad_fallback);
        Ok(Self { inner, cls, sep, pad })
    }

    /// Token ids of `text` without special tokens.
    pub fn content_ids(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.inner.encode(text, false).map_err(tok_err)?.get_ids().to_vec())
    }

    /// Token ids of `text` with the start and end tokens, as one model input
    /// (no length limit applied).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = vec![self.cls];
        ids.extend(self.content_ids(text)?);
        ids.push(self.sep);
        Ok(ids)
    }

    pub fn cls_id(&self) -> u32 {
        self.cls
    }
    pub fn sep_id(&self) -> u32 {
        self.sep
    }
    pub fn pad_id(&self) -> u32 {
        self.pad
    }
    /// The pieces `ids` stand for (ids differ between vocabularies, pieces do not).
    pub fn pieces(&self, ids: &[u32]) -> Vec<Option<String>> {
        ids.iter().map(|&id| self.inner.id_to_token(id)).collect()
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
