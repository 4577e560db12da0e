//! CLIP's byte-level BPE for X-CLIP prompts, loaded from a checkpoint's
//! `tokenizer.json` or from its `vocab.json` + `merges.txt` (the pipeline
//! of Hugging Face's `CLIPTokenizerFast` is rebuilt around them). Prompts
//! are padded and truncated to the text tower's positions, as X-CLIP's
//! processor does with `padding="max_length"`.

use candle_core::{Device, Tensor};
use tokenizers::{PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::{Error, Result};

const BOS: &str = "<|startoftext|>";
const EOS: &str = "<|endoftext|>";
/// CLIP's merges.txt cap (`CLIPTokenizer` reads at most this many merges).
const MAX_MERGES: usize = 49152 - 256 - 2;

fn tok_err(e: impl std::fmt::Display) -> Error {
    Error::Tokenizer(e.to_string())
}

/// Token ids and attention mask of K prompts, each [K, max_len].
pub struct PromptBatch {
    pub ids: Tensor,
    pub mask: Tensor,
}

pub struct ClipTokenizer {
    inner: Tokenizer,
    max_len: usize,
}

impl ClipTokenizer {
    /// `max_len`: the text config's `max_position_embeddings` (77 for base).
    pub fn from_tokenizer_json(json: &[u8], max_len: usize) -> Result<Self> {
        let inner = Tokenizer::from_bytes(json)
            .map_err(|e| tok_err(format!("tokenizer.json cannot be read: {e}")))?;
        Self::new(inner, max_len)
    }

    /// From `vocab.json` and `merges.txt`, as `CLIPTokenizerFast` converts them.
    pub fn from_vocab_merges(vocab_json: &[u8], merges_txt: &str, max_len: usize) -> Result<Self> {
        let vocab: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(vocab_json)
            .map_err(|e| tok_err(format!("vocab.json is not a JSON object of token ids: {e}")))?;
        let id = |t: &str| -> Result<u64> {
            vocab.get(t).and_then(|v| v.as_u64()).ok_or_else(|| tok_err(format!("vocab.json has no {t} token")))
        };
        let (bos, eos) = (id(BOS)?, id(EOS)?);
        // The first line is the "#version" header, which CLIPTokenizer skips unread.
        let mut merges = Vec::new();
        for (n, line) in merges_txt.lines().skip(1).take(MAX_MERGES).enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match line.split_whitespace().collect::<Vec<_>>()[..] {
                [a, b] => merges.push(serde_json::json!([a, b])),
                _ => return Err(tok_err(format!("merges.txt line {}: expected two tokens, got {line:?}", n + 2))),
            }
        }
        let special = |id: u64, content: &str| {
            serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                               "rstrip": false, "normalized": true, "special": true})
        };
        let json = serde_json::json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": [special(bos, BOS), special(eos, EOS)],
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "NFC"},
                {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
                {"type": "Lowercase"}]},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split",
                 "pattern": {"Regex": "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"},
                 "behavior": "Removed", "invert": true},
                {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}]},
            "post_processor": {"type": "RobertaProcessing", "sep": [EOS, eos], "cls": [BOS, bos],
                               "trim_offsets": false, "add_prefix_space": false},
            "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
            "model": {"type": "BPE", "dropout": null, "unk_token": EOS, "continuing_subword_prefix": "",
                      "end_of_word_suffix": "</w>", "fuse_unk": false, "byte_fallback": false,
                      "ignore_merges": false, "vocab": vocab, "merges": merges},
        });
        Self::from_tokenizer_json(json.to_string().as_bytes(), max_len)
    }

    fn new(mut inner: Tokenizer, max_len: usize) -> Result<Self> {
        if max_len < 2 {
            return Err(tok_err("prompts need at least 2 positions (start and end token)"));
        }
        let pad_id = inner
            .token_to_id(EOS)
            .ok_or_else(|| tok_err(format!("the tokenizer has no {EOS} token: not a CLIP tokenizer")))?;
        let empty = inner.encode("", true).map_err(tok_err)?;
        if empty.get_ids().len() != 2 || empty.get_ids()[1] != pad_id {
            return Err(tok_err(format!(
                "the tokenizer must wrap a prompt in {BOS} … {EOS}, got {:?} for an empty prompt",
                empty.get_ids()
            )));
        }
        // CLIPTokenizer pads with its end token and cuts long prompts, keeping the end token.
        inner
            .with_truncation(Some(TruncationParams { max_length: max_len, ..Default::default() }))
            .map_err(tok_err)?;
        inner.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::Fixed(max_len),
            direction: PaddingDirection::Right,
            pad_id,
            pad_token: EOS.into(),
            ..Default::default()
        }));
        Ok(Self { inner, max_len })
    }

    /// Ids of one prompt, padded to `max_len`.
    pub fn encode(&self, prompt: &str) -> Result<Vec<u32>> {
        Ok(self.inner.encode(prompt, true).map_err(tok_err)?.get_ids().to_vec())
    }

    /// Ids and mask of several prompts for [`super::XClipModel::text_features`].
    pub fn encode_batch(&self, prompts: &[&str]) -> Result<PromptBatch> {
        let (mut ids, mut mask) = (Vec::new(), Vec::new());
        for p in prompts {
            let e = self.inner.encode(*p, true).map_err(tok_err)?;
            ids.extend_from_slice(e.get_ids());
            mask.extend(e.get_attention_mask().iter().map(|&m| m as f32));
        }
        let k = prompts.len();
        Ok(PromptBatch {
            ids: Tensor::from_vec(ids, (k, self.max_len), &Device::Cpu)?,
            mask: Tensor::from_vec(mask, (k, self.max_len), &Device::Cpu)?,
        })
    }

    /// The whole pipeline as one `tokenizer.json` (what `models import`
    /// stores, whichever files the checkpoint came with).
    /// Padding and truncation are left out: loading sets them from the
    /// model's config (and checks the bare pipeline wraps prompts).
    pub fn to_json(&self) -> Result<String> {
        let mut bare = self.inner.clone();
        bare.with_padding(None);
        bare.with_truncation(None).map_err(tok_err)?;
        bare.to_string(false).map_err(tok_err)
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
