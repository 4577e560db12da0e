//! The linear layer every model here is made of, `y = act(x Wᵀ + b) + r`,
//! over row-major `f32` slices, and the ggml-tensor plumbing around it.
//!
//! Q4_0/Q8_0 weights run through the int8 kernels ([`super::int8`]) on
//! every target — AVX-512 VNNI, AVX2, NEON, WebAssembly SIMD or portable
//! Rust, chosen at run time (the weights stay exactly as stored; activations
//! are quantized per 32-value block, as ggml does). Other encodings (f32,
//! f16) run as candle's matmul; the [`Fallback`] only matters for those.

use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor};
use candle_core::{Device, Module, Tensor};

use super::int8::{Epilogue, Int8Matrix};
use super::math::Act;
use crate::{Error, Result};

/// What a matrix the int8 kernels do not take (not Q4_0/Q8_0) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// candle's quantized matmul: fewer bytes read, best for few rows.
    Quantized,
    /// Dequantized to f32 once: a GEMM, best for hundreds of rows at once.
    Dense,
}

enum Weight {
    Int8(Int8Matrix),
    Candle(QMatMul),
}

/// `y[m, n] = act(x[m, k] Wᵀ + b) + residual`.
pub struct Linear {
    weight: Weight,
    bias: Option<Vec<f32>>,
    dtype: GgmlDType,
    k: usize,
    n: usize,
}

impl Linear {
    /// `weight` is [n, k]; `bias`, when given, [n].
    pub fn new(weight: QTensor, bias: Option<Vec<f32>>, fallback: Fallback) -> Result<Self> {
        let (n, k) = weight.shape().dims2()?;
        if let Some(b) = &bias {
            if b.len() != n {
                return Err(Error::ModelConfig(format!("a bias of {} values for a layer of {n} outputs", b.len())));
            }
        }
        let dtype = weight.dtype();
        let weight = match Int8Matrix::from_qtensor(&weight)? {
            Some(m) => Weight::Int8(m),
            None if fallback == Fallback::Dense && dtype != GgmlDType::F32 => {
                Weight::Candle(QMatMul::Tensor(weight.dequantize(&Device::Cpu)?))
            }
            _ => Weight::Candle(QMatMul::from_qtensor(weight)?),
        };
        Ok(Self { weight, bias, dtype, k, n })
    }

    /// Several projections of the same input (query, key, value) as one.
    pub fn fused(parts: Vec<(QTensor, Option<Vec<f32>>)>, fallback: Fallback) -> Result<Self> {
        let any_bias = parts.iter().any(|(_, b)| b.is_some());
        let mut bias = Vec::new();
        for (w, b) in &parts {
            match b {
                Some(b) => bias.extend_from_slice(b),
                None => bias.resize(bias.len() + w.shape().dims2()?.0, 0.0),
            }
        }
        let weights: Vec<QTensor> = parts.into_iter().map(|(w, _)| w).collect();
        Self::new(stack_rows(&weights)?, any_bias.then_some(bias), fallback)
    }

    pub fn in_features(&self) -> usize {
        self.k
    }

    pub fn out_features(&self) -> usize {
        self.n
    }

    /// How the weights are stored.
    pub fn dtype(&self) -> GgmlDType {
        self.dtype
    }

    /// Whether the int8 kernels run this layer.
    pub fn is_int8(&self) -> bool {
        matches!(self.weight, Weight::Int8(_))
    }

    /// The same as [`Linear::forward`] into a caller's buffer of m·n values
    /// (no output allocation on the int8 path: the decoder's per-token use).
    pub fn forward_into(&self, x: &[f32], m: usize, act: Act, residual: Option<&[f32]>, y: &mut [f32]) -> Result<()> {
        if x.len() != m * self.k || y.len() != m * self.n || residual.is_some_and(|r| r.len() != m * self.n) {
            return Err(Error::ModelConfig(format!("a linear layer [{}, {}] got {} inputs for {m} rows", self.n, self.k, x.len())));
        }
        match &self.weight {
            Weight::Int8(w) => {
                w.matmul_into(x, m, &Epilogue { bias: self.bias.as_deref(), act, residual }, y);
                Ok(())
            }
            Weight::Candle(_) => {
                y.copy_from_slice(&self.forward(x, m, act, residual)?);
                Ok(())
            }
        }
    }

    /// `act(x Wᵀ + b) + residual` for `x`: [m, k] → [m, n].
    pub fn forward(&self, x: &[f32], m: usize, act: Act, residual: Option<&[f32]>) -> Result<Vec<f32>> {
        if x.len() != m * self.k || residual.is_some_and(|r| r.len() != m * self.n) {
            return Err(Error::ModelConfig(format!("a linear layer [{}, {}] got {} inputs for {m} rows", self.n, self.k, x.len())));
        }
        let ep = Epilogue { bias: self.bias.as_deref(), act, residual };
        match &self.weight {
            Weight::Int8(w) => Ok(w.matmul_with(x, m, &ep)),
            Weight::Candle(w) => {
                let mut y = candle_forward(w, x, m, self.k)?;
                ep.apply(&mut y, self.n);
                Ok(y)
            }
        }
    }
}

/// `x Wᵀ` by candle. candle sizes its own parallelism from the environment,
/// which wasm has none of, so in the page's threaded module the rows are
/// split over the pool here, each block multiplied by candle on one thread.
fn candle_forward(w: &QMatMul, x: &[f32], m: usize, k: usize) -> Result<Vec<f32>> {
    let rows_of = |x: &[f32], rows: usize| -> Result<Vec<f32>> {
        let x = Tensor::from_slice(x, (rows, k), &Device::Cpu)?;
        Ok(w.forward(&x)?.flatten_all()?.to_vec1::<f32>()?)
    };
    #[cfg(target_arch = "wasm32")]
    {
        // Two blocks per thread let a thread that another tab slows down be
        // helped; fewer than 32 rows a block costs more than it gains.
        let threads = rayon::current_num_threads();
        let block = m.div_ceil(2 * threads).max(32);
        if threads > 1 && m > block {
            let parts = super::par_map(m.div_ceil(block), |b| {
                let rows = block.min(m - b * block);
                rows_of(&x[b * block * k..(b * block + rows) * k], rows)
            });
            let mut y = Vec::new();
            for part in parts {
                y.extend_from_slice(&part?);
            }
            return Ok(y);
        }
    }
    rows_of(x, m)
}

/// A quantized tensor from raw ggml bytes. candle reinterprets the bytes in
/// place, so they are first copied to an 8-byte aligned buffer.
pub fn qtensor_from_bytes(bytes: &[u8], dtype: GgmlDType, shape: impl Into<candle_core::Shape>) -> Result<QTensor> {
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    // SAFETY: the u64 buffer spans at least bytes.len() bytes; u8 has no alignment needs.
    let aligned: &mut [u8] = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), bytes.len()) };
    aligned.copy_from_slice(bytes);
    let storage = QStorage::from_data(std::borrow::Cow::Borrowed(aligned), &Device::Cpu, dtype)?;
    Ok(QTensor::new(storage, shape)?)
}

/// The Q8_0 tensor holding exactly the values of a Q4_0 or Q5_0 one, or
/// `None` for other encodings. All three share 32-value blocks with one f16
/// scale, and 4- or 5-bit codes are small integers, so each block keeps its
/// scale and its codes move to signed bytes unchanged: smaller files on disk,
/// the int8 kernels' one layout in memory, the same numbers.
pub fn widen_to_q8_0(t: &QTensor) -> Result<Option<QTensor>> {
    let (block_bytes, five_bits) = match t.dtype() {
        GgmlDType::Q4_0 => (18, false),
        GgmlDType::Q5_0 => (22, true),
        _ => return Ok(None),
    };
    let data = t.data()?;
    let mut out = Vec::with_capacity(data.len() / block_bytes * 34);
    for block in data.chunks_exact(block_bytes) {
        out.extend_from_slice(&block[..2]);
        // ggml's layouts: Q4_0 is [d, 16 bytes of nibbles]; Q5_0 is
        // [d, 4 bytes of fifth bits, 16 bytes of nibbles]. Byte j holds
        // values j (low nibble) and j + 16 (high nibble).
        let (high, nibbles) = match five_bits {
            true => (u32::from_le_bytes([block[2], block[3], block[4], block[5]]), &block[6..22]),
            false => (0, &block[2..18]),
        };
        let offset = if five_bits { 16 } else { 8 };
        let code = |j: usize, nibble: u8| -> u8 {
            let fifth = ((high >> j) & 1) as u8;
            ((nibble | (fifth << 4)) as i8 - offset) as u8
        };
        out.extend(nibbles.iter().enumerate().map(|(j, &b)| code(j, b & 0x0f)));
        out.extend(nibbles.iter().enumerate().map(|(j, &b)| code(j + 16, b >> 4)));
    }
    Ok(Some(qtensor_from_bytes(&out, GgmlDType::Q8_0, t.shape().clone())?))
}

/// f32 values [n, k] quantised to Q8_0 (k a multiple of 32).
pub fn quantize_q8_0(values: &[f32], n: usize, k: usize) -> Result<QTensor> {
    let t = candle_core::Tensor::from_slice(values, (n, k), &Device::Cpu)?;
    Ok(QTensor::quantize(&t, GgmlDType::Q8_0)?)
}

/// An owned copy of a quantized tensor (QTensor is not Clone).
pub fn copy_qtensor(q: &QTensor) -> Result<QTensor> {
    qtensor_from_bytes(&q.data()?, q.dtype(), q.shape().clone())
}

/// Stacks weight matrices row-wise without changing their encoding (quantized
/// rows are whole blocks, so their bytes simply concatenate).
fn stack_rows(parts: &[QTensor]) -> Result<QTensor> {
    let dtype = parts[0].dtype();
    let cols = parts[0].shape().dims()[1];
    let mut rows = 0;
    let mut bytes = Vec::new();
    for p in parts {
        let (r, c) = p.shape().dims2()?;
        if p.dtype() != dtype || c != cols {
            return Err(Error::ModelConfig("projections fused into one matmul differ in encoding or width".into()));
        }
        rows += r;
        bytes.extend_from_slice(&p.data()?);
    }
    qtensor_from_bytes(&bytes, dtype, (rows, cols))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// candle's own dequantization (a port of ggml's) is the reference.
    #[test]
    fn widened_q4_0_and_q5_0_hold_the_same_values() {
        let values: Vec<f32> = (0..3 * 96).map(|i| ((i * 7919 % 1000) as f32 / 250.0 - 2.0) * (1.0 + (i % 5) as f32)).collect();
        let x = Tensor::from_vec(values, (3, 96), &Device::Cpu).unwrap();
        for dtype in [GgmlDType::Q4_0, GgmlDType::Q5_0] {
            let q = QTensor::quantize(&x, dtype).unwrap();
            let wide = widen_to_q8_0(&q).unwrap().expect("widened");
            assert_eq!(wide.dtype(), GgmlDType::Q8_0);
            let want: Vec<f32> = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            let got: Vec<f32> = wide.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            assert_eq!(got, want, "{dtype:?}");
            // The codes span the encoding's whole range, so every bit was read.
            let codes = wide.data().unwrap().chunks_exact(34).flat_map(|b| b[2..].to_vec()).map(|c| c as i8).collect::<Vec<_>>();
            let span = if dtype == GgmlDType::Q5_0 { (-16, 15) } else { (-8, 7) };
            assert_eq!((*codes.iter().min().unwrap(), *codes.iter().max().unwrap()), span, "{dtype:?}");
        }
        assert!(widen_to_q8_0(&QTensor::quantize(&x, GgmlDType::Q8_0).unwrap()).unwrap().is_none());
    }
}
