//! Whisper encoder-decoder on candle, tensor names as Hugging Face's
//! `WhisperForConditionalGeneration`.
//!
//! Weights are stored Q8_0. Every projection goes through the shared linear
//! layer ([`crate::kernels::linear`]), i.e. the int8 kernels of whatever CPU
//! (or browser) runs it: the encoder over 1,500 positions at once, the
//! decoder one token at a time (a GEMV that reads each weight once) with a
//! preallocated self-attention KV cache and scratch buffers, so that a
//! token allocates nothing but its logits.

use std::collections::HashMap;
use std::io::Cursor;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::config::Config;
use crate::error::{Error, Result};
use crate::kernels::attention::{attend_cached, attention, Heads, Shape};
use crate::kernels::conv::Conv1d;
use crate::kernels::linear::{self as kernels, copy_qtensor, Fallback};
use crate::kernels::math::{self, Act};

/// Named tensors from a GGUF file or a Hugging Face safetensors checkpoint.
pub struct Weights {
    tensors: HashMap<String, QTensor>,
    device: Device,
}

impl Weights {
    /// Reads a GGUF produced by `models fetch`; returns the weights and config.
    pub fn from_gguf(bytes: &[u8], device: &Device) -> Result<(Self, Config)> {
        let corrupt = |reason: String| Error::ModelCorrupt { name: "whisper".into(), reason };
        let mut reader = Cursor::new(bytes);
        let content = gguf_file::Content::read(&mut reader).map_err(|e| corrupt(format!("not a GGUF file: {e}")))?;
        let config = Config::from_gguf(&content.metadata)?;
        let mut tensors = HashMap::with_capacity(content.tensor_infos.len());
        for name in content.tensor_infos.keys() {
            let t = content.tensor(&mut reader, name, device).map_err(|e| corrupt(format!("tensor {name}: {e}")))?;
            // Matrices stored in fewer bits run as Q8_0: Q4_0/Q5_0 with the
            // same values, Q6_K quantised once more (its 16-value sub-blocks
            // have scales of their own, which one Q8_0 block cannot hold).
            let t = match kernels::widen_to_q8_0(&t)? {
                Some(wide) => wide,
                None if t.dtype() == GgmlDType::Q6K => QTensor::quantize(&t.dequantize(device)?, GgmlDType::Q8_0)?,
                None => t,
            };
            tensors.insert(name.clone(), t);
        }
        Ok((Self { tensors, device: device.clone() }, config))
    }

    /// Reads a Hugging Face `model.safetensors`; matrices are quantized to
    /// Q8_0 on load so every checkpoint runs through the same code.
    pub fn from_safetensors(bytes: &[u8], device: &Device) -> Result<Self> {
        let raw = candle_core::safetensors::load_buffer(bytes, device)?;
        let mut tensors = HashMap::with_capacity(raw.len());
        for (name, t) in raw {
            let t = t.to_dtype(DType::F32)?;
            let quantize = t.rank() == 2 && t.dim(1)? % 32 == 0 && !name.contains("embed_positions");
            let dtype = if quantize { GgmlDType::Q8_0 } else { GgmlDType::F32 };
            // Drop the "model." prefix difference between checkpoint flavours.
            let name = if name.starts_with("model.") { name } else { format!("model.{name}") };
            tensors.insert(name, QTensor::quantize(&t, dtype)?);
        }
        Ok(Self { tensors, device: device.clone() })
    }

    fn q(&self, name: &str) -> Result<&QTensor> {
        self.tensors.get(name).ok_or_else(|| Error::ModelCorrupt {
            name: "whisper".into(),
            reason: format!("tensor {name} is missing"),
        })
    }

    pub(super) fn f32(&self, name: &str) -> Result<Tensor> {
        Ok(self.q(name)?.dequantize(&self.device)?)
    }

    pub(super) fn vector(&self, name: &str) -> Result<Vec<f32>> {
        Ok(self.f32(name)?.flatten_all()?.to_vec1()?)
    }

    /// A projection's matrix as stored, and its bias if it has one.
    pub(super) fn matrix_and_bias(&self, prefix: &str) -> Result<(QTensor, Option<Vec<f32>>)> {
        let bias = match self.tensors.contains_key(&format!("{prefix}.bias")) {
            true => Some(self.vector(&format!("{prefix}.bias"))?),
            false => None,
        };
        Ok((copy_qtensor(self.q(&format!("{prefix}.weight"))?)?, bias))
    }

    /// A projection applied to a whole window of positions at once.
    fn dense_linear(&self, prefix: &str) -> Result<kernels::Linear> {
        let (w, b) = self.matrix_and_bias(prefix)?;
        kernels::Linear::new(w, b, Fallback::Dense)
    }

    /// A decoder projection, applied one token at a time.
    fn token_linear(&self, prefix: &str) -> Result<kernels::Linear> {
        let (w, b) = self.matrix_and_bias(prefix)?;
        kernels::Linear::new(w, b, Fallback::Quantized)
    }

    pub(super) fn norm(&self, prefix: &str) -> Result<math::LayerNorm> {
        Ok(math::LayerNorm { gamma: self.vector(&format!("{prefix}.weight"))?, beta: self.vector(&format!("{prefix}.bias"))?, eps: 1e-5 })
    }

    /// One of the stem's two convolutions (kernel 3, padding 1).
    fn conv1d(&self, prefix: &str, stride: usize) -> Result<Conv1d> {
        let weight = self.f32(&format!("{prefix}.weight"))?;
        let (out, inp, kernel) = weight.dims3()?;
        let weight = weight.flatten_all()?.to_vec1::<f32>()?;
        Conv1d::new(&weight, self.vector(&format!("{prefix}.bias"))?, [out, inp, kernel], stride, 1)
    }
}

/// The decoder's attention over the text so far, one token at a time.
struct SelfAttention {
    /// Query, key and value projections as one [3d, d] matmul.
    qkv: kernels::Linear,
    out: kernels::Linear,
}

impl SelfAttention {
    fn load(w: &Weights, prefix: &str) -> Result<Self> {
        let qkv = ["q_proj", "k_proj", "v_proj"]
            .iter()
            .map(|n| w.matrix_and_bias(&format!("{prefix}.{n}")))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { qkv: kernels::Linear::fused(qkv, Fallback::Quantized)?, out: w.token_linear(&format!("{prefix}.out_proj"))? })
    }
}

struct Mlp {
    ln: math::LayerNorm,
    fc1: kernels::Linear,
    fc2: kernels::Linear,
}

impl Mlp {
    fn load(w: &Weights, prefix: &str) -> Result<Self> {
        Ok(Self {
            ln: w.norm(&format!("{prefix}.final_layer_norm"))?,
            fc1: w.token_linear(&format!("{prefix}.fc1"))?,
            fc2: w.token_linear(&format!("{prefix}.fc2"))?,
        })
    }
}

/// One encoder block (pre-LayerNorm): self-attention, then the MLP, each
/// added to the residual stream inside its output projection.
struct EncoderLayer {
    attn_ln: math::LayerNorm,
    /// Query, key and value projections as one [3d, d] matmul.
    qkv: kernels::Linear,
    out: kernels::Linear,
    mlp_ln: math::LayerNorm,
    fc1: kernels::Linear,
    fc2: kernels::Linear,
}

impl EncoderLayer {
    fn load(w: &Weights, prefix: &str) -> Result<Self> {
        let a = format!("{prefix}.self_attn");
        let qkv = ["q_proj", "k_proj", "v_proj"]
            .iter()
            .map(|n| w.matrix_and_bias(&format!("{a}.{n}")))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            attn_ln: w.norm(&format!("{prefix}.self_attn_layer_norm"))?,
            qkv: kernels::Linear::fused(qkv, Fallback::Dense)?,
            out: w.dense_linear(&format!("{a}.out_proj"))?,
            mlp_ln: w.norm(&format!("{prefix}.final_layer_norm"))?,
            fc1: w.dense_linear(&format!("{prefix}.fc1"))?,
            fc2: w.dense_linear(&format!("{prefix}.fc2"))?,
        })
    }

    /// x: [t, d] → [t, d].
    fn forward(&self, x: Vec<f32>, t: usize, heads: usize, parts: &mut EncoderParts) -> Result<Vec<f32>> {
        let d = self.out.out_features();
        let mut h = parts.time(Part::Other, || {
            let mut h = x.clone();
            self.attn_ln.apply(&mut h);
            h
        });
        let qkv = parts.time(Part::Matmul, || self.qkv.forward(&h, t, Act::None, None))?;
        let head = |i: usize| Heads { data: &qkv, stride: 3 * d, offset: i * d };
        let hd = d / heads;
        let shape = Shape { batch: 1, len: t, heads, head_dim: hd };
        let ctx =
            parts.time(Part::Attention, || attention(head(0), head(1), head(2), shape, 1.0 / (hd as f32).sqrt(), None));
        drop(qkv);
        let x = parts.time(Part::Matmul, || self.out.forward(&ctx, t, Act::None, Some(&x)))?;
        parts.time(Part::Other, || {
            h.copy_from_slice(&x);
            self.mlp_ln.apply(&mut h)
        });
        // Whisper uses the exact (erf) GELU.
        parts.time(Part::Matmul, || {
            let mid = self.fc1.forward(&h, t, Act::GeluErf, None)?;
            self.fc2.forward(&mid, t, Act::None, Some(&x))
        })
    }
}

/// The audio encoder: log-mel (80 × 3000) → 1,500 audio states.
pub struct Encoder {
    conv1: Conv1d,
    conv2: Conv1d,
    /// [positions, d]
    positions: Vec<f32>,
    layers: Vec<EncoderLayer>,
    ln_post: math::LayerNorm,
    heads: usize,
}

impl Encoder {
    fn load(w: &Weights, cfg: &Config) -> Result<Self> {
        let p = "model.encoder";
        let layers = (0..cfg.encoder_layers)
            .map(|i| EncoderLayer::load(w, &format!("{p}.layers.{i}")))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            conv1: w.conv1d(&format!("{p}.conv1"), 1)?,
            conv2: w.conv1d(&format!("{p}.conv2"), 2)?,
            positions: w.vector(&format!("{p}.embed_positions.weight"))?,
            layers,
            ln_post: w.norm(&format!("{p}.layer_norm"))?,
            heads: cfg.encoder_attention_heads,
        })
    }

    /// `mel`: (1, n_mels, frames) → (1, frames / 2, d_model)
    pub fn forward(&self, mel: &Tensor) -> Result<Tensor> {
        Ok(self.forward_timed(mel)?.0)
    }

    /// [`Self::forward`], and where its time went.
    pub fn forward_timed(&self, mel: &Tensor) -> Result<(Tensor, EncoderParts)> {
        self.encode(mel).map(|e| (e.audio, e.parts))
    }

    /// One window as the decoder takes it (the cross-attention keys and
    /// values are left to [`Decoder::start`]).
    pub fn encode(&self, mel: &Tensor) -> Result<Encoded> {
        let mut parts = EncoderParts::default();
        let (_, mels, frames) = mel.dims3()?;
        if mels != self.conv1.in_channels() {
            return Err(Error::Invalid(format!("{mels} mel bands for an encoder of {}", self.conv1.in_channels())));
        }
        let (mut x, t) = parts.time(Part::Conv, || -> Result<(Vec<f32>, usize)> {
            // The stem works on time-major rows: [frames][mels] in, [t][d] out.
            let mel = mel.get(0)?.t()?.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
            let x = self.conv1.forward(&mel, frames, Act::GeluErf)?;
            let t1 = self.conv1.output_len(frames);
            Ok((self.conv2.forward(&x, t1, Act::GeluErf)?, self.conv2.output_len(t1)))
        })?;
        let d = self.conv2.out_channels();
        if self.positions.len() < t * d {
            return Err(Error::Invalid(format!("{t} audio positions exceed the encoder's {}", self.positions.len() / d)));
        }
        parts.time(Part::Other, || x.iter_mut().zip(&self.positions).for_each(|(v, p)| *v += p));
        for layer in &self.layers {
            x = layer.forward(x, t, self.heads, &mut parts)?;
        }
        parts.time(Part::Other, || self.ln_post.apply(&mut x));
        Ok(Encoded { audio: Tensor::from_vec(x, (1, t, d), mel.device())?, cross_kv: None, parts })
    }
}

/// One window encoded: the audio states (1, T, d) and, where the GPU made
/// them in the same pass, each decoder layer's cross-attention keys and
/// values as its fused key-value product gives them ([T, 2d] rows, keys
/// then values).
pub struct Encoded {
    pub audio: Tensor,
    pub cross_kv: Option<Vec<Vec<f32>>>,
    pub parts: EncoderParts,
}

/// Where the encoder's time goes, in milliseconds: what the benchmarks
/// print beside the total, to say which kernel holds a platform back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EncoderParts {
    /// The convolution stem and its GELUs.
    pub conv_ms: f64,
    /// The projections and the MLP (int8 kernels, their epilogues included).
    pub matmul_ms: f64,
    pub attention_ms: f64,
    /// Layer norms, copies, position embeddings.
    pub other_ms: f64,
    /// The whole window on the GPU (one submission, the decoder's
    /// cross-attention keys and values included; not split by part).
    #[serde(default)]
    pub gpu_ms: f64,
}

/// One window through the encoder, timed apart from the rest of the
/// pipeline (`creative-filter bench encoder`, the page's `benchEncoder`):
/// the fastest of `runs`, its parts, and the int8 layers' own split of
/// their time, beside the kernel-only benchmark's rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncoderBench {
    pub runs: usize,
    pub threads: usize,
    pub total_ms: f64,
    pub parts: EncoderParts,
    pub int8: crate::kernels::int8::profile::KernelTimes,
    /// Multiply-accumulates of the int8 layers per window, in billions.
    pub int8_gmac: f64,
}

impl Encoder {
    /// Runs `mel` (1, n_mels, 3000) once to warm up, then `runs` times.
    pub fn bench(&self, mel: &Tensor, runs: usize) -> Result<EncoderBench> {
        use crate::kernels::int8::profile;
        let tokens = self.forward(mel)?.dims3()?.1 as f64;
        let mut best: Option<(f64, EncoderParts, profile::KernelTimes)> = None;
        for _ in 0..runs.max(1) {
            profile::start();
            let t = web_time::Instant::now();
            let out = self.forward_timed(mel);
            let total_ms = t.elapsed().as_secs_f64() * 1e3;
            let int8 = profile::stop();
            let (_, parts) = out?;
            if best.as_ref().is_none_or(|b| total_ms < b.0) {
                best = Some((total_ms, parts, int8));
            }
        }
        let (total_ms, parts, int8) = best.expect("at least one run");
        let macs: usize = self
            .layers
            .iter()
            .flat_map(|l| [&l.qkv, &l.out, &l.fc1, &l.fc2])
            .map(|l| l.in_features() * l.out_features())
            .sum();
        let threads = rayon::current_num_threads();
        Ok(EncoderBench { runs, threads, total_ms, parts, int8, int8_gmac: tokens * macs as f64 / 1e9 })
    }
}

#[derive(Clone, Copy)]
enum Part {
    Conv,
    Matmul,
    Attention,
    Other,
}

impl EncoderParts {
    fn time<T>(&mut self, part: Part, f: impl FnOnce() -> T) -> T {
        let t = web_time::Instant::now();
        let out = f();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        *match part {
            Part::Conv => &mut self.conv_ms,
            Part::Matmul => &mut self.matmul_ms,
            Part::Attention => &mut self.attention_ms,
            Part::Other => &mut self.other_ms,
        } += ms;
        out
    }

    pub fn add(&mut self, o: &EncoderParts) {
        self.conv_ms += o.conv_ms;
        self.matmul_ms += o.matmul_ms;
        self.attention_ms += o.attention_ms;
        self.other_ms += o.other_ms;
        self.gpu_ms += o.gpu_ms;
    }
}

struct DecoderLayer {
    self_ln: math::LayerNorm,
    self_attn: SelfAttention,
    cross_ln: math::LayerNorm,
    cross_attn: CrossAttention,
    mlp: Mlp,
}

/// Attention from the text to the audio states.
struct CrossAttention {
    q: kernels::Linear,
    out: kernels::Linear,
    /// Keys and values as one [2d, d] matmul: they see all 1,500 audio
    /// states once per window.
    kv: kernels::Linear,
}

impl CrossAttention {
    fn load(w: &Weights, prefix: &str) -> Result<Self> {
        let kv = vec![w.matrix_and_bias(&format!("{prefix}.k_proj"))?, w.matrix_and_bias(&format!("{prefix}.v_proj"))?];
        Ok(Self {
            q: w.token_linear(&format!("{prefix}.q_proj"))?,
            out: w.token_linear(&format!("{prefix}.out_proj"))?,
            kv: kernels::Linear::fused(kv, Fallback::Dense)?,
        })
    }
}

/// Token embeddings kept as Q8_0 rows: looked up one row at a time and used
/// as the (tied) output projection, so the 26M-entry table is never expanded.
struct TokenEmbedding {
    /// The output projection (int8 kernels for Q8_0).
    table: kernels::Linear,
    rows: Vec<u8>,
    d_model: usize,
    dtype: GgmlDType,
}

impl TokenEmbedding {
    /// Token `token`'s embedding into `out` ([d_model]).
    fn row_into(&self, token: u32, out: &mut [f32]) {
        let d = self.d_model;
        match self.dtype {
            GgmlDType::Q8_0 => {
                // A Q8_0 block: f16 scale, then 32 signed bytes.
                let blocks = d / 32;
                let start = token as usize * blocks * 34;
                for (b, o) in self.rows[start..start + blocks * 34].chunks_exact(34).zip(out.chunks_exact_mut(32)) {
                    let scale = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
                    o.iter_mut().zip(&b[2..]).for_each(|(o, &q)| *o = q as i8 as f32 * scale);
                }
            }
            _ => {
                let start = token as usize * d * 4;
                for (o, c) in out.iter_mut().zip(self.rows[start..start + d * 4].chunks_exact(4)) {
                    *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
            }
        }
    }
}

/// The text decoder. It runs one token at a time for each of a few
/// hypotheses (one when decoding greedily, the beams of a beam search, or
/// the samples of a temperature fallback), their rows multiplied together
/// so each weight is read once a step; its attention is a plain loop over
/// head-major key/value caches, since for a single query that is faster
/// than dispatching small batched GEMMs.
pub struct Decoder {
    embedding: TokenEmbedding,
    positions: Vec<f32>,
    layers: Vec<DecoderLayer>,
    ln: math::LayerNorm,
    n_head: usize,
    max_len: usize,
    ffn: usize,
    device: Device,
}

/// One layer's self-attention keys and values, each `[head][position][head_dim]`.
type LayerCache = (Vec<f32>, Vec<f32>);

/// Per-window state: the cross-attention keys and values (shared by the
/// hypotheses), each hypothesis's self-attention caches, and the buffers
/// one step works in (allocated once per window, and again only when the
/// number of hypotheses grows).
pub struct DecoderState {
    cross: Vec<(Vec<f32>, Vec<f32>)>,
    cross_len: usize,
    /// `[hypothesis][layer]`.
    self_kv: Vec<Vec<LayerCache>>,
    /// Where [`DecoderState::reorder`] copies the caches to.
    spare_kv: Vec<Vec<LayerCache>>,
    /// Positions each cache holds.
    cap: usize,
    len: usize,
    d: usize,
    dh: usize,
    scratch: Scratch,
    /// Where the steps' time goes, when a benchmark asks ([`DecoderState::profile`]).
    profile: Option<DecoderParts>,
}

/// Where the decoder's time goes in one window, in milliseconds (the
/// decoder benchmarks: `creative-filter bench decoder`, the page's
/// `benchDecoder`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DecoderParts {
    /// The window's cross-attention keys and values (one matmul a layer).
    pub start_ms: f64,
    /// The layers' projections and MLP (int8, all hypotheses' rows at once).
    pub matmul_ms: f64,
    pub self_attention_ms: f64,
    pub cross_attention_ms: f64,
    /// The tied output projection over the vocabulary.
    pub vocabulary_ms: f64,
    /// Inside the steps but none of the above: embeddings, layer norms, cache writes.
    pub other_ms: f64,
    /// All of the steps.
    pub steps_ms: f64,
    /// Between the steps: suppression and timestamp rules, log-softmax,
    /// the search's choices and cache reordering.
    pub search_ms: f64,
    /// Steps and the hypothesis rows they fed.
    pub steps: usize,
    pub rows: usize,
}

/// Runs `f`, adding its time to the part `field` picks when profiling.
fn timed<T>(profile: &mut Option<DecoderParts>, field: fn(&mut DecoderParts) -> &mut f64, f: impl FnOnce() -> T) -> T {
    let Some(p) = profile else { return f() };
    let t = web_time::Instant::now();
    let out = f();
    *field(p) += t.elapsed().as_secs_f64() * 1e3;
    out
}

/// One decoder step's working buffers, `rows` hypotheses each.
#[derive(Default)]
struct Scratch {
    rows: usize,
    /// The residual stream [rows, d], and the next one.
    x: Vec<f32>,
    next: Vec<f32>,
    /// A normalised copy of x.
    h: Vec<f32>,
    /// Query, key and value [rows, 3d] (the cross-attention's queries use [..rows·d]).
    qkv: Vec<f32>,
    /// Attention output [rows, d].
    attn: Vec<f32>,
    /// The MLP's hidden layer [rows, ffn].
    mid: Vec<f32>,
    /// Attention scores over the longest context, per row and head (the
    /// large steps run their heads in parallel).
    scores: Vec<f32>,
}

impl Scratch {
    /// `scores` per row.
    fn new(rows: usize, d: usize, ffn: usize, scores: usize) -> Scratch {
        Scratch {
            rows,
            x: vec![0.0; rows * d],
            next: vec![0.0; rows * d],
            h: vec![0.0; rows * d],
            qkv: vec![0.0; rows * 3 * d],
            attn: vec![0.0; rows * d],
            mid: vec![0.0; rows * ffn],
            scores: vec![0.0; rows * scores],
        }
    }

    /// Room for at least `rows` rows, each as large as before.
    fn grow(&mut self, rows: usize, d: usize) {
        if self.rows < rows {
            let old = self.rows.max(1);
            let (ffn, scores) = (self.mid.len() / old, self.scores.len() / old);
            *self = Scratch::new(rows, d, ffn, scores);
        }
    }
}

/// What the rows of one pass through the decoder are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rows {
    /// One new token for each hypothesis, all at the same position.
    Hypotheses,
    /// Consecutive tokens of the one hypothesis: a prompt fed at once.
    Positions,
}

impl DecoderState {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many hypotheses each step feeds.
    pub fn hypotheses(&self) -> usize {
        self.self_kv.len()
    }

    /// Forgets the tokens fed so far (the audio's keys and values stay).
    pub fn rewind(&mut self) {
        self.len = 0;
    }

    /// Forgets the tokens fed after the first `len`.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Starts timing the steps by part ([`DecoderParts`]); `take_profile` ends it.
    pub fn profile(&mut self) {
        self.profile = Some(DecoderParts::default());
    }

    pub fn take_profile(&mut self) -> Option<DecoderParts> {
        let mut p = self.profile.take()?;
        p.other_ms = p.steps_ms - (p.matmul_ms + p.self_attention_ms + p.cross_attention_ms + p.vocabulary_ms);
        Some(p)
    }

    /// Whether one more token would fill the text context.
    pub fn is_full(&self) -> bool {
        self.len + 1 >= self.cap
    }

    fn empty_caches(&self, layers: usize) -> Vec<LayerCache> {
        (0..layers).map(|_| (vec![0f32; self.cap * self.d], vec![0f32; self.cap * self.d])).collect()
    }

    /// Makes hypothesis `i` a copy of what hypothesis `parents[i]` has seen,
    /// for every `i` (their number may differ from before): the beams a
    /// search step kept, or the prompt fed once and then forked. A parent's
    /// first child takes its caches over as they are; only further children
    /// copy them (the positions fed so far), into spare caches, so a beam
    /// that keeps its own line costs nothing.
    pub fn reorder(&mut self, parents: &[usize]) {
        let layers = self.self_kv.first().map_or(0, Vec::len);
        let mut first_child = vec![None; self.self_kv.len()];
        for (i, &p) in parents.iter().enumerate() {
            first_child[p].get_or_insert(i);
        }
        let (stride, used) = (self.cap * self.dh, self.len * self.dh);
        let mut caches: Vec<Option<Vec<LayerCache>>> = (0..parents.len()).map(|_| None).collect();
        for (i, &p) in parents.iter().enumerate() {
            if first_child[p] == Some(i) {
                continue;
            }
            let mut copy = self.spare_kv.pop().unwrap_or_else(|| self.empty_caches(layers));
            // Only the positions fed so far, head by head.
            for (to, from) in copy.iter_mut().zip(&self.self_kv[p]) {
                for (t, f) in [(&mut to.0, &from.0), (&mut to.1, &from.1)] {
                    for (th, fh) in t.chunks_exact_mut(stride).zip(f.chunks_exact(stride)) {
                        th[..used].copy_from_slice(&fh[..used]);
                    }
                }
            }
            caches[i] = Some(copy);
        }
        for (p, cache) in std::mem::take(&mut self.self_kv).into_iter().enumerate() {
            match first_child[p] {
                Some(i) => caches[i] = Some(cache),
                // Kept, so later steps allocate nothing.
                None => self.spare_kv.push(cache),
            }
        }
        self.self_kv = caches.into_iter().map(|c| c.expect("every hypothesis has a parent")).collect();
        self.scratch.grow(parents.len(), self.d);
    }
}

impl Decoder {
    fn load(w: &Weights, cfg: &Config) -> Result<Self> {
        let p = "model.decoder";
        let layers = (0..cfg.decoder_layers)
            .map(|i| {
                let l = format!("{p}.layers.{i}");
                Ok(DecoderLayer {
                    self_ln: w.norm(&format!("{l}.self_attn_layer_norm"))?,
                    self_attn: SelfAttention::load(w, &format!("{l}.self_attn"))?,
                    cross_ln: w.norm(&format!("{l}.encoder_attn_layer_norm"))?,
                    cross_attn: CrossAttention::load(w, &format!("{l}.encoder_attn"))?,
                    mlp: Mlp::load(w, &l)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let table = w.q(&format!("{p}.embed_tokens.weight"))?;
        let table = match table.dtype() {
            GgmlDType::Q8_0 | GgmlDType::F32 => copy_qtensor(table)?,
            _ => QTensor::quantize(&table.dequantize(&w.device)?, GgmlDType::F32)?,
        };
        let dtype = table.dtype();
        let rows = table.data()?.into_owned();
        let ffn = layers.first().map_or(0, |l| l.mlp.fc1.out_features());
        Ok(Self {
            embedding: TokenEmbedding {
                table: kernels::Linear::new(table, None, Fallback::Quantized)?,
                rows,
                d_model: cfg.d_model,
                dtype,
            },
            positions: w.vector(&format!("{p}.embed_positions.weight"))?,
            layers,
            ln: w.norm(&format!("{p}.layer_norm"))?,
            n_head: cfg.decoder_attention_heads,
            max_len: cfg.max_target_positions,
            ffn,
            device: w.device.clone(),
        })
    }

    /// The longest text the decoder reads (prompt and sampled tokens).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Prepares a window's state from its encoder output (1, T, d): the
    /// cross-attention keys and values of every layer, head-major, and one
    /// hypothesis with room for `cap` positions (at most the text context).
    /// The keys and values are the encoder's where it made them (the GPU),
    /// else made here.
    pub fn start(&self, encoded: &Encoded, cap: usize) -> Result<DecoderState> {
        let (_, t, d) = encoded.audio.dims3()?;
        let dh = d / self.n_head;
        let made;
        let rows: &[Vec<f32>] = match &encoded.cross_kv {
            Some(kv) if kv.len() == self.layers.len() && kv.iter().all(|l| l.len() == t * 2 * d) => kv,
            Some(kv) => {
                return Err(Error::Invalid(format!("{} layers of cross-attention keys and values for a decoder of {}", kv.len(), self.layers.len())))
            }
            None => {
                let audio = encoded.audio.flatten_all()?.to_vec1::<f32>()?;
                made = self.layers.iter().map(|l| l.cross_attn.kv.forward(&audio, t, Act::None, None)).collect::<Result<Vec<_>>>()?;
                &made
            }
        };
        let cross = rows
            .iter()
            .map(|kv| {
                let (mut k, mut v) = (vec![0f32; t * d], vec![0f32; t * d]);
                for (j, row) in kv.chunks_exact(2 * d).enumerate() {
                    for h in 0..self.n_head {
                        let at = (h * t + j) * dh;
                        k[at..at + dh].copy_from_slice(&row[h * dh..(h + 1) * dh]);
                        v[at..at + dh].copy_from_slice(&row[d + h * dh..d + (h + 1) * dh]);
                    }
                }
                (k, v)
            })
            .collect();
        let cap = cap.clamp(1, self.max_len);
        let mut state = DecoderState {
            cross,
            cross_len: t,
            self_kv: vec![],
            spare_kv: vec![],
            cap,
            len: 0,
            d,
            dh,
            scratch: Scratch::new(1, d, self.ffn, self.n_head * t.max(cap)),
            profile: None,
        };
        state.self_kv = vec![state.empty_caches(self.layers.len())];
        Ok(state)
    }

    /// Feeds one token to each hypothesis (`tokens[i]` to the i-th) after
    /// what they have seen; returns their logits over the vocabulary,
    /// `[hypotheses, vocab]`.
    pub fn step(&self, tokens: &[u32], state: &mut DecoderState) -> Result<Vec<f32>> {
        self.pass(tokens, Rows::Hypotheses, state)
    }

    /// Feeds `tokens` one after the other to the one hypothesis, in a
    /// single pass: their rows go through each matrix together (one GEMM
    /// instead of a matrix-vector product per token) and each attends to
    /// the positions up to its own. The same as a [`Decoder::step`] per
    /// token; returns the last token's logits. For a prompt of many tokens.
    pub fn prefill(&self, tokens: &[u32], state: &mut DecoderState) -> Result<Vec<f32>> {
        self.pass(tokens, Rows::Positions, state)
    }

    fn pass(&self, tokens: &[u32], rows: Rows, state: &mut DecoderState) -> Result<Vec<f32>> {
        let t = state.profile.is_some().then(web_time::Instant::now);
        let logits = self.pass_parts(tokens, rows, state)?;
        if let (Some(t), Some(p)) = (t, state.profile.as_mut()) {
            p.steps_ms += t.elapsed().as_secs_f64() * 1e3;
            p.steps += 1;
            p.rows += tokens.len();
        }
        Ok(logits)
    }

    fn pass_parts(&self, tokens: &[u32], rows: Rows, state: &mut DecoderState) -> Result<Vec<f32>> {
        let d = self.embedding.d_model;
        let pos = state.len;
        let b = tokens.len();
        let hypotheses = state.self_kv.len();
        let fed = match rows {
            Rows::Hypotheses if b != hypotheses => return Err(Error::Invalid(format!("{b} tokens for {hypotheses} hypotheses"))),
            Rows::Positions if b == 0 || hypotheses != 1 => {
                return Err(Error::Invalid(format!("{b} tokens fed at once to {hypotheses} hypotheses (one is needed)")))
            }
            Rows::Hypotheses => 1,
            Rows::Positions => b,
        };
        if pos + fed > state.cap {
            return Err(Error::Invalid(format!("the decoder's text context ({}) is full", state.cap)));
        }
        state.scratch.grow(b, d);
        // Row j's cache and position.
        let row_at = |j: usize| match rows {
            Rows::Hypotheses => (j, pos),
            Rows::Positions => (0, pos + j),
        };
        let (dh, cap) = (d / self.n_head, state.cap);
        let DecoderState { cross, cross_len, self_kv, scratch, profile, .. } = state;
        let n = b * d;
        // x is the residual stream and next the one a layer part writes;
        // they swap after each part.
        let (mut x, mut next, h) = (&mut scratch.x[..n], &mut scratch.next[..n], &mut scratch.h[..n]);
        let (qkv, attn, mid) = (&mut scratch.qkv[..3 * n], &mut scratch.attn[..n], &mut scratch.mid[..b * self.ffn]);
        let scores = &mut scratch.scores;
        for (j, (row, &token)) in x.chunks_exact_mut(d).zip(tokens).enumerate() {
            let p = row_at(j).1;
            self.embedding.row_into(token, row);
            row.iter_mut().zip(&self.positions[p * d..(p + 1) * d]).for_each(|(e, p)| *e += p);
        }
        for (i, layer) in self.layers.iter().enumerate() {
            h.copy_from_slice(x);
            h.chunks_exact_mut(d).for_each(|r| layer.self_ln.apply(r));
            let a = &layer.self_attn;
            timed(profile, |p| &mut p.matmul_ms, || a.qkv.forward_into(h, b, Act::None, None, qkv))?;
            timed(profile, |p| &mut p.self_attention_ms, || {
                for (j, (row, out)) in qkv.chunks_exact(3 * d).zip(attn.chunks_exact_mut(d)).enumerate() {
                    let (hypothesis, p) = row_at(j);
                    let (kc, vc) = &mut self_kv[hypothesis][i];
                    for head in 0..self.n_head {
                        let at = (head * cap + p) * dh;
                        kc[at..at + dh].copy_from_slice(&row[d + head * dh..d + (head + 1) * dh]);
                        vc[at..at + dh].copy_from_slice(&row[2 * d + head * dh..2 * d + (head + 1) * dh]);
                    }
                    attend_cached(&row[..d], 1, kc, vc, self.n_head, cap, p + 1, out, scores);
                }
            });
            timed(profile, |p| &mut p.matmul_ms, || a.out.forward_into(attn, b, Act::None, Some(x), next))?;
            std::mem::swap(&mut x, &mut next);

            h.copy_from_slice(x);
            h.chunks_exact_mut(d).for_each(|r| layer.cross_ln.apply(r));
            let c = &layer.cross_attn;
            let q = &mut qkv[..n];
            timed(profile, |p| &mut p.matmul_ms, || c.q.forward_into(h, b, Act::None, None, q))?;
            let (ck, cv) = &cross[i];
            // All hypotheses at once: the audio's keys and values are read once a step.
            timed(profile, |p| &mut p.cross_attention_ms, || attend_cached(q, b, ck, cv, self.n_head, *cross_len, *cross_len, attn, scores));
            timed(profile, |p| &mut p.matmul_ms, || c.out.forward_into(attn, b, Act::None, Some(x), next))?;
            std::mem::swap(&mut x, &mut next);

            h.copy_from_slice(x);
            h.chunks_exact_mut(d).for_each(|r| layer.mlp.ln.apply(r));
            // Whisper uses the exact (erf) GELU.
            timed(profile, |p| &mut p.matmul_ms, || {
                layer.mlp.fc1.forward_into(h, b, Act::GeluErf, None, mid)?;
                layer.mlp.fc2.forward_into(mid, b, Act::None, Some(x), next)
            })?;
            std::mem::swap(&mut x, &mut next);
        }
        // A prompt needs the logits of its last token only.
        let out = match rows {
            Rows::Hypotheses => 0..b,
            Rows::Positions => b - 1..b,
        };
        let h = &mut h[out.start * d..out.end * d];
        h.copy_from_slice(&x[out.start * d..out.end * d]);
        h.chunks_exact_mut(d).for_each(|r| self.ln.apply(r));
        let logits = timed(profile, |p| &mut p.vocabulary_ms, || self.embedding.table.forward(h, out.len(), Act::None, None))?;
        state.len += fed;
        Ok(logits)
    }
}

/// A loaded Whisper model.
pub struct Whisper {
    pub config: Config,
    pub encoder: Encoder,
    pub decoder: Decoder,
    /// The encoder's copy on the GPU, where one was chosen (natively; the
    /// page keeps its own, see `web`).
    #[cfg(not(target_arch = "wasm32"))]
    gpu: Option<super::whisper_gpu::GpuWithFallback>,
}

/// The CPU as the reports name it, with its int8 kernel path.
pub fn cpu_device() -> String {
    format!("cpu ({})", crate::kernels::int8::path_name())
}

impl Whisper {
    pub fn load(weights: &Weights, config: Config) -> Result<Self> {
        Ok(Self {
            encoder: Encoder::load(weights, &config)?,
            decoder: Decoder::load(weights, &config)?,
            config,
            #[cfg(not(target_arch = "wasm32"))]
            gpu: None,
        })
    }

    /// Also uploads the encoder to `gpu`, which then encodes every window.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_on(weights: &Weights, config: Config, gpu: std::sync::Arc<crate::gpu::Gpu>) -> Result<Self> {
        let encoder = super::whisper_gpu::GpuEncoder::load(gpu, weights, &config)?;
        Ok(Self { gpu: Some(super::whisper_gpu::GpuWithFallback::new(encoder)), ..Self::load(weights, config)? })
    }

    pub fn device(&self) -> &Device {
        &self.decoder.device
    }

    /// One window through the encoder: on the GPU where one is in use and
    /// has not failed, else (and after any GPU failure) on the CPU.
    pub fn encode(&self, mel: &Tensor) -> Result<Encoded> {
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(gpu) = &self.gpu {
            return crate::task::now(gpu.encode(&self.encoder, mel));
        }
        self.encoder.encode(mel)
    }

    /// Where the encoder runs, as the reports name it: the GPU's adapter,
    /// or the CPU and its int8 kernels (and why not the GPU, if it failed).
    pub fn encoder_device(&self) -> String {
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(gpu) = &self.gpu {
            return gpu.device();
        }
        cpu_device()
    }
}
