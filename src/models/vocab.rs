//! e5's vocabulary cut down to what Russian and English text produce.
//!
//! multilingual-e5-small inherits XLM-R's 250,002 sentencepiece pieces for a
//! hundred languages; their embedding rows are about 54 of its 67 MB. The
//! creatives are Russian with some English, brand names and numbers. So
//! `models fetch` keeps:
//! - every piece the tokenizer produces for the words of wordfreq's large
//!   Russian and English lists (PyPI `wordfreq`; built from Wikipedia,
//!   subtitles, news, books, web text and social media), each word as
//!   written in lower case, capitalised and in capitals, alone and after an
//!   opening bracket (a word after punctuation is cut differently), and
//!   every piece that differs from one of those only in case (brand names
//!   such as "iPhone" or "YouTube" mix cases);
//! - every single character (with and without the word-start mark), so any
//!   text still tokenizes, in smaller pieces where a long one was dropped;
//! - every piece without a letter (digits, punctuation, symbols), and the
//!   special tokens.
//!
//! Pieces keep their scores and their order, so the ids are renumbered but
//! the special tokens keep theirs. Sentencepiece's unigram model picks the
//! most probable segmentation among the pieces it has; a word whose pieces
//! were all kept has the same best segmentation as before, so for the words
//! of the lists the tokens, and the embeddings, are exactly the full model's.

use std::collections::BTreeSet;
use std::io::Read;

use serde_json::Value;
use tokenizers::Tokenizer;

use super::prepare::Wheel;
use crate::error::{Error, Result};

/// Which of e5's vocabulary `models fetch` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocabulary {
    /// The pieces Russian and English text need (the default).
    RussianEnglish,
    /// All 250,002 pieces, for texts in other languages.
    Full,
}

/// The word lists: wordfreq 3.1.1's "large" Russian and English lists.
pub const WORDFREQ: Wheel = Wheel {
    name: "wordfreq",
    version: "3.1.1",
    sha256: "4b1c6ecffc6198be3396d5cf871c4423ca71c907c231348d352dd54d62b97473",
};
pub const WORD_LISTS: [&str; 2] = ["wordfreq/data/large_ru.msgpack.gz", "wordfreq/data/large_en.msgpack.gz"];

/// Words are joined into texts of this many for the tokenizer: the
/// pre-tokenizer splits at spaces, so a word's pieces do not depend on its
/// neighbours, and one call per word would cost more than the tokenizing.
const WORDS_PER_TEXT: usize = 2_000;

/// A pruned vocabulary: the original ids kept (ascending; the new id of
/// `keep[i]` is `i`) and the matching `tokenizer.json`.
pub struct PrunedVocab {
    pub keep: Vec<u32>,
    pub tokenizer_json: Vec<u8>,
    /// Pieces in the original vocabulary.
    pub original: usize,
}

fn bad_list(reason: impl std::fmt::Display) -> Error {
    Error::Prepare(format!("wordfreq word list: {reason}"))
}

/// The words of one wordfreq list (`*.msgpack.gz`, its "cBpack" format: a
/// header, then one array of words per centibel of frequency), most frequent
/// first.
pub fn read_word_list(gz: &[u8]) -> Result<Vec<String>> {
    let mut packed = Vec::new();
    flate2::read::GzDecoder::new(gz).read_to_end(&mut packed).map_err(bad_list)?;
    let value = rmpv::decode::read_value(&mut packed.as_slice()).map_err(bad_list)?;
    let items = value.as_array().ok_or_else(|| bad_list("not an array"))?;
    let header = items.first().and_then(|h| h.as_map()).ok_or_else(|| bad_list("no header"))?;
    let field = |k: &str| header.iter().find(|(key, _)| key.as_str() == Some(k)).map(|(_, v)| v.clone());
    if field("format").and_then(|v| v.as_str().map(String::from)).as_deref() != Some("cB")
        || field("version").and_then(|v| v.as_u64()) != Some(1)
    {
        return Err(bad_list("not a version-1 cBpack file"));
    }
    let mut words = Vec::new();
    for bucket in &items[1..] {
        let bucket = bucket.as_array().ok_or_else(|| bad_list("a frequency bucket is not an array"))?;
        for w in bucket {
            words.push(w.as_str().ok_or_else(|| bad_list("a word is not a string"))?.to_string());
        }
    }
    Ok(words)
}

/// The written forms a word is kept in: as listed (lower case),
/// capitalised, and in capitals; each also right after an opening bracket.
/// The pre-tokenizer splits only at spaces, so a word after a bracket, a
/// quote, a hashtag or markdown ("«Пятёрочка»", "**Россия") is cut into
/// pieces without the word-start mark, which the bare word never produces.
fn forms(word: &str) -> [String; 6] {
    let mut chars = word.chars();
    let capitalised: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    let upper = word.to_uppercase();
    [format!("({word}"), format!("({capitalised}"), format!("({upper}"), word.to_string(), capitalised, upper]
}

/// Keeps the pieces of `tokenizer_json` (a Hugging Face Unigram tokenizer)
/// that `words` and `extra_texts` produce, plus every single character, every
/// piece without a letter and every special token.
pub fn prune_unigram<'a>(
    tokenizer_json: &[u8],
    words: impl Iterator<Item = &'a str>,
    extra_texts: &[&str],
) -> Result<PrunedVocab> {
    let bad = |reason: &str| Error::Prepare(format!("e5 tokenizer.json: {reason}"));
    let tokenizer = Tokenizer::from_bytes(tokenizer_json).map_err(|e| bad(&e.to_string()))?;
    let mut json: Value = serde_json::from_slice(tokenizer_json).map_err(|e| bad(&e.to_string()))?;
    if json["model"]["type"] != "Unigram" {
        return Err(bad("not a Unigram model"));
    }
    let vocab = json["model"]["vocab"].as_array().ok_or_else(|| bad("no model.vocab"))?.clone();
    let piece = |entry: &Value| entry[0].as_str().map(String::from);

    let mut keep = BTreeSet::new();
    for (id, entry) in vocab.iter().enumerate() {
        let p = piece(entry).ok_or_else(|| bad("a vocabulary entry has no piece"))?;
        let bare = p.strip_prefix('\u{2581}').unwrap_or(&p);
        if bare.chars().count() <= 1 || !bare.chars().any(char::is_alphabetic) {
            keep.insert(id as u32);
        }
    }
    for t in json["added_tokens"].as_array().into_iter().flatten() {
        keep.insert(t["id"].as_u64().ok_or_else(|| bad("an added token has no id"))? as u32);
    }
    if let Some(unk) = json["model"]["unk_id"].as_u64() {
        keep.insert(unk as u32);
    }
    use rayon::prelude::*;
    let words: Vec<&str> = words.collect();
    let mut texts: Vec<String> =
        words.par_chunks(WORDS_PER_TEXT).map(|c| c.iter().flat_map(|w| forms(w)).collect::<Vec<_>>().join(" ")).collect();
    texts.extend(extra_texts.iter().map(|t| t.to_string()));
    let produced: Vec<Vec<u32>> = texts
        .par_iter()
        .map(|t| tokenizer.encode(t.as_str(), false).map(|e| e.get_ids().to_vec()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad(&e.to_string()))?;
    keep.extend(produced.into_iter().flatten());
    // The lists are in lower case, and brand names are not only written in
    // the three forms tried ("iPhone", "YouTube"): every piece that differs
    // from a kept one only in case is kept too.
    let lower = |id: usize| piece(&vocab[id]).map(|p| p.to_lowercase());
    let kept_lower: std::collections::HashSet<String> = keep.iter().filter_map(|&id| lower(id as usize)).collect();
    keep.extend((0..vocab.len()).filter(|&id| lower(id).is_some_and(|l| kept_lower.contains(&l))).map(|id| id as u32));

    let keep: Vec<u32> = keep.into_iter().collect();
    let new_id = |old: u64| -> Result<u64> {
        keep.binary_search(&(old as u32)).map(|i| i as u64).map_err(|_| bad("a special token was not kept"))
    };
    json["model"]["vocab"] = Value::Array(keep.iter().map(|&i| vocab[i as usize].clone()).collect());
    if let Some(unk) = json["model"]["unk_id"].as_u64() {
        json["model"]["unk_id"] = new_id(unk)?.into();
    }
    for t in json["added_tokens"].as_array_mut().into_iter().flatten() {
        t["id"] = new_id(t["id"].as_u64().unwrap_or_default())?.into();
    }
    if let Some(specials) = json["post_processor"]["special_tokens"].as_object_mut() {
        for s in specials.values_mut() {
            for id in s["ids"].as_array_mut().into_iter().flatten() {
                *id = new_id(id.as_u64().ok_or_else(|| bad("a post-processor id is not a number"))?)?.into();
            }
        }
    }
    let tokenizer_json = serde_json::to_vec(&json).map_err(|e| bad(&e.to_string()))?;
    Ok(PrunedVocab { keep, tokenizer_json, original: vocab.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A miniature XLM-R-style tokenizer: specials, single characters and
    /// longer pieces, with the same pre-tokenizer and post-processor.
    fn tokenizer_json() -> Vec<u8> {
        let pieces = [
            ("<s>", 0.0),
            ("<pad>", 0.0),
            ("</s>", 0.0),
            ("<unk>", 0.0),
            ("\u{2581}", -2.0),
            ("a", -3.0),
            ("b", -3.0),
            ("c", -3.0),
            ("д", -3.0),
            ("\u{2581}ab", -4.0),
            ("\u{2581}abc", -4.5),
            ("bc", -5.0),
            ("\u{2581}дд", -4.0),
            ("\u{2581}12", -4.0),
            ("\u{2581}aB", -4.2),
            ("ab", -4.1),
            ("<mask>", 0.0),
        ];
        let special = |id: u32, content: &str| {
            serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
        };
        serde_json::to_vec(&serde_json::json!({
            "version": "1.0", "truncation": null, "padding": null,
            "added_tokens": [special(0, "<s>"), special(1, "<pad>"), special(2, "</s>"), special(3, "<unk>"), special(16, "<mask>")],
            "normalizer": null,
            "pre_tokenizer": {"type": "Metaspace", "replacement": "\u{2581}", "add_prefix_space": true},
            "post_processor": {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}, "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
            "decoder": {"type": "Metaspace", "replacement": "\u{2581}", "add_prefix_space": true},
            "model": {"type": "Unigram", "unk_id": 3, "vocab": pieces.iter().map(|(p, s)| serde_json::json!([p, s])).collect::<Vec<_>>()}
        }))
        .unwrap()
    }

    fn pieces(json: &[u8], text: &str) -> Vec<String> {
        Tokenizer::from_bytes(json).unwrap().encode(text, true).unwrap().get_tokens().to_vec()
    }

    #[test]
    fn listed_words_keep_their_pieces_and_other_text_still_tokenizes() {
        let full = tokenizer_json();
        let pruned = prune_unigram(&full, ["ab"].into_iter(), &[]).unwrap();
        // Single characters, letterless pieces, specials, "ab"'s pieces in
        // its three forms ("▁ab"; "Ab" and "AB" fall back to characters that
        // are not in the vocabulary: <unk>, already kept), "ab" after a
        // bracket ("ab" without the word-start mark), and "▁aB", which
        // differs from "▁ab" only in case.
        let kept: Vec<&str> = ["<s>", "<pad>", "</s>", "<unk>", "\u{2581}", "a", "b", "c", "д", "\u{2581}ab", "\u{2581}12", "\u{2581}aB", "ab", "<mask>"].to_vec();
        let pruned_json: Value = serde_json::from_slice(&pruned.tokenizer_json).unwrap();
        let vocab: Vec<&str> = pruned_json["model"]["vocab"].as_array().unwrap().iter().map(|e| e[0].as_str().unwrap()).collect();
        assert_eq!(vocab, kept);
        assert_eq!(pruned.keep, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 14, 15, 16]);
        assert_eq!(pruned.original, 17);
        // The listed word: the same pieces. Unlisted text: smaller pieces, never <unk>.
        assert_eq!(pieces(&pruned.tokenizer_json, "ab"), pieces(&full, "ab"));
        assert_eq!(pieces(&full, "abc дд"), ["<s>", "\u{2581}abc", "\u{2581}дд", "</s>"]);
        assert_eq!(pieces(&pruned.tokenizer_json, "abc дд"), ["<s>", "\u{2581}ab", "c", "\u{2581}", "д", "д", "</s>"]);
        // Renumbered: <mask> moved from 16 to 13, the start and end tokens stayed.
        let t = Tokenizer::from_bytes(&pruned.tokenizer_json).unwrap();
        assert_eq!(t.token_to_id("<mask>"), Some(13));
        assert_eq!(t.encode("ab", true).unwrap().get_ids(), [0, 9, 2]);
    }

    #[test]
    fn a_word_list_that_is_not_cbpack_is_refused() {
        let mut packed = Vec::new();
        rmpv::encode::write_value(&mut packed, &rmpv::Value::Array(vec![rmpv::Value::from("x")])).unwrap();
        let gz = crate::models::gzip(&packed);
        assert!(read_word_list(&gz).unwrap_err().to_string().contains("header"));
        let header = rmpv::Value::Map(vec![("format".into(), "cB".into()), ("version".into(), 1.into())]);
        let list = rmpv::Value::Array(vec![header, rmpv::Value::Array(vec!["и".into(), "в".into()]), rmpv::Value::Array(vec!["борщ".into()])]);
        let mut packed = Vec::new();
        rmpv::encode::write_value(&mut packed, &list).unwrap();
        assert_eq!(read_word_list(&crate::models::gzip(&packed)).unwrap(), ["и", "в", "борщ"]);
    }
}
