//! Hashed character n-gram TF-IDF features: the cheap, surface-level signal
//! that sits beside the sentence embedding in a trained head.
//!
//! The n-grams are scikit-learn's `analyzer="char_wb"`: the text is
//! lower-cased (Unicode full case mapping, as Python's `str.lower`), split on
//! whitespace (Python's `str.split()`), every word is padded with one space on
//! each side, and the n-grams of each length are taken inside the padded word
//! only (a padded word shorter than `n` counts once, whole, and ends the
//! longer lengths for that word).
//!
//! Beside them go word n-grams (by default single words): the tokens of
//! scikit-learn's default `token_pattern` `(?u)\b\w\w+\b` (runs of two or
//! more word characters of the lower-cased text), `n` in a row joined by one
//! space, each behind a U+0001 so that a word never shares its hash with the
//! char n-gram of the same letters. Word characters are Rust's
//! `char::is_alphanumeric` and `_`; they differ from Python's `\w` only on
//! characters that are alphabetic by Unicode's Other_Alphabetic property
//! alone (combining vowel signs of Indic scripts, circled letters).
//! Words and char n-grams share the buckets, the idf and the row's length.
//!
//! Each n-gram's UTF-8 bytes are hashed with 32-bit FNV-1a (offset basis
//! `0x811C9DC5`, prime `0x01000193`) and xor-folded to `b` bits:
//! `bucket = ((h >> b) ^ h) & (2^b − 1)`, with `b = 16` (65,536 buckets) by
//! default. Counts of colliding n-grams add up, as in scikit-learn's
//! `HashingVectorizer(alternate_sign=False)`.
//!
//! Weighting is `TfidfTransformer(sublinear_tf=True, smooth_idf=True,
//! norm="l2")`: `tf = 1 + ln(count)`, `idf = ln((1 + n) / (1 + df)) + 1`
//! learned on the training texts, rows scaled to unit length — and then by
//! [`NgramParams::weight`], the n-gram block's weight against the
//! embedding's. `scripts/reference/ngrams_reference.py` checks all of this
//! against scikit-learn (`tests/fixtures/ngrams_reference.json`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The hash named in head files.
pub const NGRAM_HASH: &str = "fnv1a32-xorfold";

/// Longest word n-gram a head may ask for.
pub const MAX_WORD_N: usize = 4;

/// N-gram feature settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NgramParams {
    pub min_n: usize,
    pub max_n: usize,
    /// 2^buckets_log2 hash buckets.
    pub buckets_log2: u32,
    /// Length of every (non-empty) row: the block's weight beside the
    /// unit-length embedding.
    pub weight: f32,
    /// Word n-grams of 1 to `word_max_n` words in the same buckets (0: none;
    /// heads made before words were added have none).
    #[serde(default)]
    pub word_max_n: usize,
    /// Noisy copies of each training text ([`super::asr_noise`]: what
    /// Whisper mishears) the n-gram block also learns from (0: none).
    #[serde(default)]
    pub noisy_copies: usize,
}

/// 3- to 5-grams and single words, of weight 1: on all 15,653 labelled posts
/// of bench/classify.sh (5 folds, C = 10) weights 0.3, 0.5, 1 and 2 of 2- to
/// 5-grams reached out-of-fold macro-F1 0.735, 0.752, 0.755 and 0.746;
/// leaving out the 2-grams then gave 0.758 (weights 0.8 and 1.3: 0.757 and
/// 0.754), with fewer non-zeros to fit. (On the first 3,072 posts alone
/// weights 0.3–0.5 were best: the n-grams gain more than the embedding from
/// more data.) Single words then added 0.0015, 0.0008 and 0.0009 on three
/// different fold splits; word pairs took it back (−0.0017 on the first), and
/// words as a block of their own length (0.3–0.7) gained less.
impl Default for NgramParams {
    fn default() -> Self {
        NgramParams { min_n: 3, max_n: 5, buckets_log2: 16, weight: 1.0, word_max_n: 1, noisy_copies: 0 }
    }
}

impl NgramParams {
    fn check(&self) -> Result<()> {
        if self.min_n == 0
            || self.max_n < self.min_n
            || !(1..=24).contains(&self.buckets_log2)
            || self.word_max_n > MAX_WORD_N
        {
            return Err(Error::Invalid(format!(
                "n-gram settings: n from {} to {}, words up to {} (at most {MAX_WORD_N}), 2^{} buckets are not usable",
                self.min_n, self.max_n, self.word_max_n, self.buckets_log2
            )));
        }
        if !(self.weight > 0.0 && self.weight.is_finite()) {
            return Err(Error::Invalid(format!("the n-gram weight must be positive, got {}", self.weight)));
        }
        Ok(())
    }
}

/// Python's `str.isspace`: Unicode White_Space plus the information
/// separators U+001C–U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Calls `f` with every char_wb n-gram of `lower` (a lower-cased text), in
/// scikit-learn's order.
fn for_each_ngram(lower: &str, min_n: usize, max_n: usize, mut f: impl FnMut(&str)) {
    let mut padded = String::new();
    let mut starts: Vec<usize> = Vec::new();
    for word in lower.split(is_python_space).filter(|w| !w.is_empty()) {
        padded.clear();
        padded.push(' ');
        padded.push_str(word);
        padded.push(' ');
        starts.clear();
        starts.extend(padded.char_indices().map(|(i, _)| i));
        starts.push(padded.len());
        let len = starts.len() - 1;
        for n in min_n..=max_n {
            if n >= len {
                f(&padded);
                break;
            }
            for off in 0..=len - n {
                f(&padded[starts[off]..starts[off + n]]);
            }
        }
    }
}

/// Calls `f` with every word n-gram of 1 to `max_n` words of `lower` (a
/// lower-cased text; see the module note), in scikit-learn's order, each
/// behind a U+0001.
fn for_each_word_ngram(lower: &str, max_n: usize, mut f: impl FnMut(&str, &[&str])) {
    if max_n == 0 {
        return;
    }
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.chars().nth(1).is_some())
        .collect();
    let mut gram = String::new();
    for n in 1..=max_n {
        for w in words.windows(n) {
            gram.clear();
            gram.push('\u{1}');
            for (i, word) in w.iter().enumerate() {
                if i > 0 {
                    gram.push(' ');
                }
                gram.push_str(word);
            }
            f(&gram, w);
        }
    }
}

/// The char_wb n-grams of `text` (for tests and inspection).
pub fn ngrams(text: &str, min_n: usize, max_n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for_each_ngram(&text.to_lowercase(), min_n, max_n, |g| out.push(g.to_string()));
    out
}

/// The word n-grams of `text`, without their U+0001 (for tests and
/// inspection).
pub fn word_ngrams(text: &str, max_n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for_each_word_ngram(&text.to_lowercase(), max_n, |g, _| out.push(g['\u{1}'.len_utf8()..].to_string()));
    out
}

/// 32-bit FNV-1a of `bytes`.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811C_9DC5;
    for &b in bytes {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The bucket of one n-gram among 2^`bits`.
pub fn bucket(ngram: &str, bits: u32) -> u32 {
    let h = fnv1a32(ngram.as_bytes());
    let folded = if bits >= 32 { h } else { (h >> bits) ^ h };
    folded & ((1u64 << bits) - 1) as u32
}

/// Sparse rows (compressed sparse row layout), column indices ascending in
/// each row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Csr {
    pub n_cols: usize,
    /// `rows() + 1` offsets into `indices`/`values`.
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Csr {
    pub fn from_rows(n_cols: usize, rows: Vec<(Vec<u32>, Vec<f32>)>) -> Csr {
        let nnz = rows.iter().map(|r| r.0.len()).sum();
        let mut m = Csr { n_cols, indptr: Vec::with_capacity(rows.len() + 1), indices: Vec::with_capacity(nnz), values: Vec::with_capacity(nnz) };
        m.indptr.push(0);
        for (i, v) in rows {
            m.indices.extend(i);
            m.values.extend(v);
            m.indptr.push(m.indices.len());
        }
        m
    }

    pub fn rows(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }

    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    /// The rows `which`, in that order.
    pub fn select(&self, which: &[usize]) -> Csr {
        let rows = which.iter().map(|&i| {
            let (idx, val) = self.row(i);
            (idx.to_vec(), val.to_vec())
        });
        Csr::from_rows(self.n_cols, rows.collect())
    }

    /// Structure and values are usable: offsets ascend, columns in range.
    pub fn check(&self) -> Result<()> {
        let ok = self.indptr.first() == Some(&0)
            && self.indptr.windows(2).all(|w| w[0] <= w[1])
            && self.indptr.last() == Some(&self.indices.len())
            && self.indices.len() == self.values.len()
            && self.indices.iter().all(|&j| (j as usize) < self.n_cols);
        if !ok {
            return Err(Error::Invalid("sparse features: inconsistent row offsets or column indices".into()));
        }
        if let Some(p) = self.values.iter().position(|v| !v.is_finite()) {
            let row = self.indptr.partition_point(|&o| o <= p) - 1;
            return Err(Error::Invalid(format!("sparse features: row {row} has a non-finite value")));
        }
        Ok(())
    }
}

/// A fitted n-gram TF-IDF vectorizer (its idf is part of a head file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NgramVectorizer {
    /// [`NGRAM_HASH`].
    pub hash: String,
    pub min_n: usize,
    pub max_n: usize,
    pub buckets_log2: u32,
    pub weight: f32,
    /// 0 in heads made before words were added.
    #[serde(default)]
    pub word_max_n: usize,
    /// Inverse document frequency of every bucket (f32 little-endian, base64).
    #[serde(with = "f32_base64")]
    pub idf: Vec<f32>,
}

impl NgramVectorizer {
    /// Learns the idf from `texts`.
    pub fn fit(texts: &[&str], params: &NgramParams) -> Result<NgramVectorizer> {
        Ok(Self::fit_counts(texts, params)?.0)
    }

    /// Learns the idf from `texts` and returns their feature rows too,
    /// extracting every text's n-grams once.
    pub fn fit_transform(texts: &[&str], params: &NgramParams) -> Result<(NgramVectorizer, Csr)> {
        let (v, per_text) = Self::fit_counts(texts, params)?;
        let rows = crate::kernels::par_map(per_text.len(), |i| v.weigh(&per_text[i]));
        let csr = Csr::from_rows(v.buckets(), rows);
        Ok((v, csr))
    }

    fn fit_counts(texts: &[&str], params: &NgramParams) -> Result<(NgramVectorizer, Vec<Vec<(u32, u32)>>)> {
        params.check()?;
        let mut v = NgramVectorizer {
            hash: NGRAM_HASH.into(),
            min_n: params.min_n,
            max_n: params.max_n,
            buckets_log2: params.buckets_log2,
            weight: params.weight,
            word_max_n: params.word_max_n,
            idf: Vec::new(),
        };
        let per_text = crate::kernels::par_map(texts.len(), |i| v.counts(texts[i]));
        let mut df = vec![0u32; v.buckets()];
        for counts in &per_text {
            for &(j, _) in counts {
                df[j as usize] += 1;
            }
        }
        let n = texts.len() as f64;
        v.idf = df.iter().map(|&d| (((1.0 + n) / (1.0 + d as f64)).ln() + 1.0) as f32).collect();
        Ok((v, per_text))
    }

    pub fn buckets(&self) -> usize {
        1usize << self.buckets_log2
    }

    /// (bucket, count) of every bucket `text` hits, buckets ascending.
    pub fn counts(&self, text: &str) -> Vec<(u32, u32)> {
        let lower = crate::text::clip(text).to_lowercase();
        let mut hits = Vec::new();
        for_each_ngram(&lower, self.min_n, self.max_n, |g| hits.push(bucket(g, self.buckets_log2)));
        for_each_word_ngram(&lower, self.word_max_n, |g, _| hits.push(bucket(g, self.buckets_log2)));
        hits.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::new();
        for j in hits {
            match out.last_mut() {
                Some((last, c)) if *last == j => *c += 1,
                _ => out.push((j, 1)),
            }
        }
        out
    }

    /// The words of `text` as the features see them (lower-cased, trimmed of
    /// punctuation) and every n-gram it hits: its bucket and the words it
    /// was read from (a character n-gram one, a word n-gram each of its
    /// words). What shows a linear head's weights word by word.
    pub fn hits_by_word(&self, text: &str) -> (Vec<String>, Vec<(u32, Vec<usize>)>) {
        let lower = crate::text::clip(text).to_lowercase();
        let mut words: Vec<String> = Vec::new();
        let mut id = |w: &str| match words.iter().position(|x| x == w) {
            Some(i) => i,
            None => {
                words.push(w.to_string());
                words.len() - 1
            }
        };
        let mut hits = Vec::new();
        for token in lower.split(is_python_space).filter(|t| !t.is_empty()) {
            let word = token.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
            if word.is_empty() {
                continue;
            }
            let i = id(word);
            for_each_ngram(token, self.min_n, self.max_n, |g| hits.push((bucket(g, self.buckets_log2), vec![i])));
        }
        let mut grams = Vec::new();
        for_each_word_ngram(&lower, self.word_max_n, |g, w| grams.push((bucket(g, self.buckets_log2), w.iter().map(|w| w.to_string()).collect::<Vec<_>>())));
        for (b, ws) in grams {
            hits.push((b, ws.iter().map(|w| id(w)).collect()));
        }
        (words, hits)
    }

    /// The feature row of one text: ascending buckets and their values.
    pub fn transform_one(&self, text: &str) -> (Vec<u32>, Vec<f32>) {
        self.weigh(&self.counts(text))
    }

    /// The feature row of a text's bucket counts.
    fn weigh(&self, counts: &[(u32, u32)]) -> (Vec<u32>, Vec<f32>) {
        let raw: Vec<f64> = counts.iter().map(|&(j, c)| (1.0 + (c as f64).ln()) * self.idf[j as usize] as f64).collect();
        let norm = raw.iter().map(|v| v * v).sum::<f64>().sqrt();
        let scale = if norm > 0.0 { self.weight as f64 / norm } else { 0.0 };
        (counts.iter().map(|c| c.0).collect(), raw.iter().map(|v| (v * scale) as f32).collect())
    }

    /// Feature rows of many texts (on the thread pool natively).
    pub fn transform(&self, texts: &[&str]) -> Csr {
        Csr::from_rows(self.buckets(), crate::kernels::par_map(texts.len(), |i| self.transform_one(texts[i])))
    }

    /// Consistency of a vectorizer read from a file.
    pub fn check(&self) -> Result<()> {
        if self.hash != NGRAM_HASH {
            return Err(Error::Invalid(format!("n-gram hash {:?} is not {NGRAM_HASH:?}", self.hash)));
        }
        NgramParams {
            min_n: self.min_n,
            max_n: self.max_n,
            buckets_log2: self.buckets_log2,
            weight: self.weight,
            word_max_n: self.word_max_n,
            noisy_copies: 0,
        }
        .check()?;
        if self.idf.len() != self.buckets() || self.idf.iter().any(|v| !v.is_finite()) {
            return Err(Error::Invalid(format!("{} idf values for {} buckets", self.idf.len(), self.buckets())));
        }
        Ok(())
    }
}

/// Serde for `Vec<f32>` as base64 of its little-endian bytes: a head's
/// 65,536 × K n-gram weights take 5⅓ characters each instead of ~11.
pub(crate) mod f32_base64 {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            for k in 0..4 {
                if k <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * k)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let t = text.trim_end_matches('=').as_bytes();
        let mut out = Vec::with_capacity(t.len() * 3 / 4);
        let (mut acc, mut bits) = (0u32, 0u32);
        for &c in t {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            };
            acc = (acc << 6) | v as u32;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        Some(out)
    }

    pub fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        s.serialize_str(&encode(&bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = decode(&text).ok_or_else(|| D::Error::custom("not base64"))?;
        if bytes.len() % 4 != 0 {
            return Err(D::Error::custom("base64 length is not a whole number of f32 values"));
        }
        Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_wb_ngrams_pad_each_word() {
        assert_eq!(ngrams("Ab", 2, 5), vec![" a", "ab", "b ", " ab", "ab ", " ab "]);
        // A one-letter word: its padded form (3 chars) is its only 3-gram, and ends it.
        assert_eq!(ngrams("  Я\n", 2, 5), vec![" я", "я ", " я "]);
        assert!(ngrams(" \t ", 2, 5).is_empty());
    }

    #[test]
    fn word_ngrams_are_tokens_of_two_word_characters_or_more() {
        // "1", "и" and "₽" are no tokens; pairs are made after they are dropped.
        let text = "Кредит, 1 ₽ и Ёлка_2!";
        assert_eq!(word_ngrams(text, 2), vec!["кредит", "ёлка_2", "кредит ёлка_2"]);
        assert!(word_ngrams(text, 0).is_empty());
        // Words are counted apart from the char n-gram of the same letters.
        let p = NgramParams { min_n: 2, max_n: 2, ..Default::default() };
        let with = NgramVectorizer::fit(&[text], &p).unwrap();
        let without = NgramVectorizer::fit(&[text], &NgramParams { word_max_n: 0, ..p }).unwrap();
        assert_eq!(with.counts("ок").len(), without.counts("ок").len() + 1);
        assert!(NgramVectorizer::fit(&[text], &NgramParams { word_max_n: MAX_WORD_N + 1, ..p }).is_err());
    }

    #[test]
    fn fnv1a_and_buckets() {
        // Published FNV-1a 32 test vectors.
        assert_eq!(fnv1a32(b""), 0x811C9DC5);
        assert_eq!(fnv1a32(b"a"), 0xE40C292C);
        assert_eq!(fnv1a32(b"foobar"), 0xBF9CF968);
        let h = fnv1a32("ая".as_bytes());
        assert_eq!(bucket("ая", 16), ((h >> 16) ^ h) & 0xFFFF);
    }

    #[test]
    fn base64_round_trips() {
        for n in 0..7 {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 97 + 13) as u8).collect();
            assert_eq!(f32_base64::decode(&f32_base64::encode(&bytes)).unwrap(), bytes);
        }
        assert_eq!(f32_base64::encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(f32_base64::encode(b"fo"), "Zm8=");
    }

    #[derive(Deserialize)]
    struct Reference {
        min_n: usize,
        max_n: usize,
        word_max_n: usize,
        buckets_log2: u32,
        fit_texts: Vec<String>,
        test_texts: Vec<String>,
        /// sklearn's char_wb analyzer output for `test_texts[0]`.
        ngrams_first: Vec<String>,
        /// sklearn's word analyzer output for every test text.
        words: Vec<Vec<String>>,
        /// (n-gram, bucket) pairs from the Python hash.
        hashed: Vec<(String, u32)>,
        /// Rows of `test_texts`: (bucket, value) pairs, buckets ascending.
        rows: Vec<Vec<(u32, f64)>>,
        /// idf of the buckets listed, and of a bucket no fit text hits.
        idf: Vec<(u32, f64)>,
        idf_unseen: f64,
    }

    /// Agreement with scikit-learn's analyzer and TfidfTransformer; fixture
    /// made by `scripts/reference/ngrams_reference.py`.
    #[test]
    fn matches_scikit_learn() {
        let r: Reference = serde_json::from_str(include_str!("../../tests/fixtures/ngrams_reference.json")).unwrap();
        assert_eq!(ngrams(&r.test_texts[0], r.min_n, r.max_n), r.ngrams_first);
        for (text, want) in r.test_texts.iter().zip(&r.words) {
            assert_eq!(&word_ngrams(text, r.word_max_n), want, "words of {text:?}");
        }
        for (g, b) in &r.hashed {
            assert_eq!(bucket(g, r.buckets_log2), *b, "bucket of {g:?}");
        }
        let params = NgramParams { min_n: r.min_n, max_n: r.max_n, buckets_log2: r.buckets_log2, weight: 1.0, word_max_n: r.word_max_n, noisy_copies: 0 };
        let fit: Vec<&str> = r.fit_texts.iter().map(String::as_str).collect();
        let v = NgramVectorizer::fit(&fit, &params).unwrap();
        for &(j, want) in &r.idf {
            assert!((v.idf[j as usize] as f64 - want).abs() < 1e-6, "idf of bucket {j}");
        }
        let unseen = v.idf.iter().copied().fold(0f32, f32::max) as f64;
        assert!((unseen - r.idf_unseen).abs() < 1e-6);
        let test: Vec<&str> = r.test_texts.iter().map(String::as_str).collect();
        let m = v.transform(&test);
        let (v2, m2) = NgramVectorizer::fit_transform(&fit, &params).unwrap();
        assert_eq!((v2.idf.as_slice(), m2), (v.idf.as_slice(), v.transform(&fit)));
        let mut worst = 0f64;
        for (i, want) in r.rows.iter().enumerate() {
            let (idx, val) = m.row(i);
            assert_eq!(idx, want.iter().map(|p| p.0).collect::<Vec<_>>().as_slice(), "buckets of row {i}");
            for (got, (_, w)) in val.iter().zip(want) {
                worst = worst.max((*got as f64 - w).abs());
            }
        }
        eprintln!("scikit-learn agreement: tf-idf values within {worst:.1e}");
        assert!(worst < 1e-6, "tf-idf values differ from scikit-learn by {worst}");
        // The weight scales whole rows.
        let half = NgramVectorizer { weight: 0.5, ..v.clone() };
        let (_, a) = v.transform_one(&r.test_texts[1]);
        let (_, b) = half.transform_one(&r.test_texts[1]);
        assert!(a.iter().zip(&b).all(|(x, y)| (x * 0.5 - y).abs() < 1e-7));
    }

    /// The n-gram block alone (no embedding) on the labelled Telegram posts,
    /// 5-fold cross-validated on the benchmark's folds: out-of-fold macro-F1,
    /// accuracy and fit time. Data: `$CF_LABELLED_TEXTS`, default
    /// `../shared/data/telegram_posts_train.jsonl`; `$CF_C`, `$CF_NGRAM_WEIGHT`.
    /// Run with `--ignored --nocapture` (release build).
    #[test]
    #[ignore]
    fn ngrams_alone_on_labelled_posts() {
        use crate::classify::logreg::{argmax, LogRegParams, LogisticRegression};
        use crate::classify::metrics::{classification_report, stratified_k_fold};
        use crate::classify::segments::SegmentDictionary;
        let path = std::env::var("CF_LABELLED_TEXTS")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/telegram_posts_train.jsonl").into());
        let Ok(data) = std::fs::read_to_string(&path) else {
            eprintln!("{path} not found; skipped");
            return;
        };
        let env = |k: &str, d: f64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
        let (c, weight) = (env("CF_C", 10.0), env("CF_NGRAM_WEIGHT", 1.0) as f32);
        let rows: Vec<serde_json::Value> = data.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
        let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
        let labels: Vec<&str> = rows.iter().map(|r| r["label"].as_str().unwrap()).collect();
        let segments = SegmentDictionary::from_label_names(labels.iter().copied());
        let y: Vec<u32> = labels.iter().map(|l| segments.resolve_label(l).unwrap()).collect();
        let folds = stratified_k_fold(&y, 5, 42).unwrap();
        let params = LogRegParams { c, ..Default::default() };
        let ngram = NgramParams { weight, ..Default::default() };
        let mut pred = vec![0u32; y.len()];
        let mut fit_s = 0.0;
        for f in &folds {
            let t = std::time::Instant::now();
            let tt: Vec<&str> = f.train.iter().map(|&i| texts[i]).collect();
            let yt: Vec<u32> = f.train.iter().map(|&i| y[i]).collect();
            let v = NgramVectorizer::fit(&tt, &ngram).unwrap();
            let m = v.transform(&tt);
            let zeros = vec![0f32; tt.len()];
            let (model, report) = LogisticRegression::fit_with_sparse(&zeros, 1, Some(&m), &yt, &params).unwrap();
            let secs = t.elapsed().as_secs_f64();
            fit_s += secs;
            eprintln!("fold: {} texts, {} non-zeros, fit {secs:.1} s, {report:?}", tt.len(), m.nnz());
            for &i in &f.test {
                let (idx, val) = v.transform_one(texts[i]);
                pred[i] = model.classes[argmax(&model.predict_proba_row(&[0.0], Some((&idx, &val))))];
            }
        }
        let r = classification_report(&y, &pred, None).unwrap();
        eprintln!(
            "n-grams alone, C = {c}, weight {weight}: macro-F1 {:.4}, accuracy {:.4}, fit {:.1} s per fold",
            r.macro_avg.f1,
            r.accuracy,
            fit_s / folds.len() as f64
        );
    }

    #[test]
    fn vectorizer_round_trips_through_json() {
        let v = NgramVectorizer::fit(&["кредитная карта", "музыка"], &NgramParams::default()).unwrap();
        let back: NgramVectorizer = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
        back.check().unwrap();
    }

    #[test]
    fn csr_select_and_check() {
        let m = Csr::from_rows(4, vec![(vec![0, 3], vec![1.0, 2.0]), (vec![], vec![]), (vec![1], vec![3.0])]);
        assert_eq!(m.rows(), 3);
        let s = m.select(&[2, 0]);
        assert_eq!(s.row(0), (&[1u32][..], &[3.0f32][..]));
        assert_eq!(s.row(1).0, &[0, 3]);
        s.check().unwrap();
        let bad = Csr { values: vec![1.0, f32::NAN, 3.0], ..m };
        assert!(bad.check().unwrap_err().to_string().contains("row 0"));
    }
}
