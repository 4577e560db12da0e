//! Integer matmul for Q4_0/Q8_0 weights on x86-64 CPUs with AVX-512 VNNI.
//!
//! candle's generic quantized matmul computes one block dot product per
//! (token, output) pair, and its repacked kernels need the input width to be
//! a multiple of 256 (e5-small's is 384). Encoding a batch of a few thousand
//! tokens is compute-bound, so this kernel keeps the weights as int8 once,
//! quantizes the activations per 32-value block (as ggml's Q8_0) and runs
//! `vpdpbusd` over 4 × 4 (output, token) tiles so every load is reused.
//!
//! Layout: two consecutive 32-value blocks form a 64-byte "pair", interleaved
//! in 4-byte groups (block 0 bytes 0..4, block 1 bytes 0..4, block 0 bytes
//! 4..8, …). Lane i of a 16 × i32 `vpdpbusd` result then belongs to block
//! i mod 2, so both blocks' scales fit one 64-bit broadcast. `vpdpbusd` takes
//! unsigned × signed bytes: activations are stored as q + 128 and the excess
//! 128 · Σw is subtracted through the accumulator's start value.

use candle_core::quantized::{GgmlDType, QTensor};

const QK: usize = 32;
const PAIR: usize = 2 * QK;

/// Whether this CPU runs the kernel (checked once).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *OK.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vnni")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A weight matrix [n, k] prepared for the kernel.
pub struct Int8Matrix {
    n: usize,
    k: usize,
    pairs: usize,
    /// n × pairs × 64 signed weights, interleaved.
    w: Vec<i8>,
    /// Per (row, pair): the two blocks' scales.
    scales: Vec<[f32; 2]>,
    /// Per (row, pair): −16 · Σw of each block, spread over its 8 lanes.
    start: Vec<[i32; 2]>,
}

/// Interleaves two 32-byte blocks in 4-byte groups (see the module comment).
fn interleave(b0: &[i8; QK], b1: &[i8; QK], out: &mut [i8]) {
    for g in 0..QK / 4 {
        out[g * 8..g * 8 + 4].copy_from_slice(&b0[g * 4..g * 4 + 4]);
        out[g * 8 + 4..g * 8 + 8].copy_from_slice(&b1[g * 4..g * 4 + 4]);
    }
}

impl Int8Matrix {
    /// From a Q4_0 or Q8_0 tensor [n, k]; None for other encodings.
    pub fn from_qtensor(t: &QTensor) -> candle_core::Result<Option<Self>> {
        let (n, k) = t.shape().dims2()?;
        let (block_bytes, dtype) = match t.dtype() {
            GgmlDType::Q4_0 => (18, GgmlDType::Q4_0),
            GgmlDType::Q8_0 => (34, GgmlDType::Q8_0),
            _ => return Ok(None),
        };
        let data = t.data()?;
        let nb = k / QK;
        let pairs = nb.div_ceil(2);
        let mut w = vec![0i8; n * pairs * PAIR];
        let mut scales = vec![[0f32; 2]; n * pairs];
        let mut start = vec![[0i32; 2]; n * pairs];
        let mut blocks = vec![([0i8; QK], 0f32); pairs * 2];
        for r in 0..n {
            for (b, (vals, d)) in blocks.iter_mut().enumerate() {
                if b >= nb {
                    *vals = [0; QK];
                    *d = 0.0;
                    continue;
                }
                let raw = &data[(r * nb + b) * block_bytes..(r * nb + b + 1) * block_bytes];
                *d = half::f16::from_le_bytes([raw[0], raw[1]]).to_f32();
                match dtype {
                    GgmlDType::Q4_0 => {
                        for j in 0..QK / 2 {
                            vals[j] = (raw[2 + j] & 0x0f) as i8 - 8;
                            vals[j + QK / 2] = (raw[2 + j] >> 4) as i8 - 8;
                        }
                    }
                    _ => {
                        for j in 0..QK {
                            vals[j] = raw[2 + j] as i8;
                        }
                    }
                }
            }
            for p in 0..pairs {
                let (b0, b1) = (&blocks[2 * p], &blocks[2 * p + 1]);
                let i = r * pairs + p;
                interleave(&b0.0, &b1.0, &mut w[i * PAIR..(i + 1) * PAIR]);
                scales[i] = [b0.1, b1.1];
                let sum = |v: &[i8; QK]| v.iter().map(|&x| x as i32).sum::<i32>();
                start[i] = [-16 * sum(&b0.0), -16 * sum(&b1.0)];
            }
        }
        Ok(Some(Self { n, k, pairs, w, scales, start }))
    }

    pub fn out_features(&self) -> usize {
        self.n
    }

    /// y[m, n] = x[m, k] · Wᵀ (no bias).
    pub fn matmul(&self, x: &[f32], m: usize) -> Vec<f32> {
        assert_eq!(x.len(), m * self.k, "input is not [m, {}]", self.k);
        let acts = Activations::quantize(x, m, self.k, self.pairs);
        let mut y = vec![0f32; m * self.n];
        #[cfg(target_arch = "x86_64")]
        if available() {
            parallel_tiles(self, &acts, &mut y);
            return y;
        }
        self.matmul_portable(&acts, &mut y);
        y
    }

    /// The same arithmetic in plain Rust, lane by lane (reference and fallback).
    fn matmul_portable(&self, a: &Activations, y: &mut [f32]) {
        for t in 0..a.m {
            for r in 0..self.n {
                let mut acc = 0f32;
                for p in 0..self.pairs {
                    let (wi, ai) = (r * self.pairs + p, t * a.pairs + p);
                    let w = &self.w[wi * PAIR..(wi + 1) * PAIR];
                    let x = &a.a[ai * PAIR..(ai + 1) * PAIR];
                    for lane in 0..16 {
                        let mut dot = self.start[wi][lane % 2];
                        for j in lane * 4..lane * 4 + 4 {
                            dot += x[j] as i32 * w[j] as i32;
                        }
                        acc += dot as f32 * (self.scales[wi][lane % 2] * a.scales[ai][lane % 2]);
                    }
                }
                y[t * self.n + r] = acc;
            }
        }
    }
}

/// Activations quantized per block, stored as q + 128 in the pair layout.
struct Activations {
    m: usize,
    pairs: usize,
    a: Vec<u8>,
    scales: Vec<[f32; 2]>,
}

impl Activations {
    fn quantize(x: &[f32], m: usize, k: usize, pairs: usize) -> Self {
        #[cfg(target_arch = "x86_64")]
        if available() && k % PAIR == 0 {
            let mut a = vec![0u8; m * pairs * PAIR];
            let mut scales = vec![[0f32; 2]; m * pairs];
            // SAFETY: CPU features checked; x holds m·k = m·pairs·64 values.
            unsafe { avx512::quantize(x, &mut a, &mut scales) };
            return Self { m, pairs, a, scales };
        }
        Self::quantize_portable(x, m, k, pairs)
    }

    fn quantize_portable(x: &[f32], m: usize, k: usize, pairs: usize) -> Self {
        let mut a = vec![128u8; m * pairs * PAIR];
        let mut scales = vec![[0f32; 2]; m * pairs];
        let nb = k / QK;
        let mut q = [[0i8; QK]; 2];
        for t in 0..m {
            let row = &x[t * k..(t + 1) * k];
            for p in 0..pairs {
                let mut d = [0f32; 2];
                for h in 0..2 {
                    let b = 2 * p + h;
                    if b >= nb {
                        q[h] = [0; QK];
                        continue;
                    }
                    let xs = &row[b * QK..(b + 1) * QK];
                    let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
                    d[h] = amax / 127.0;
                    let id = if amax > 0.0 { 127.0 / amax } else { 0.0 };
                    for (qj, &v) in q[h].iter_mut().zip(xs) {
                        *qj = (v * id).round_ties_even() as i8;
                    }
                }
                let mut il = [0i8; PAIR];
                interleave(&q[0], &q[1], &mut il);
                let i = t * pairs + p;
                for (o, v) in a[i * PAIR..(i + 1) * PAIR].iter_mut().zip(il) {
                    *o = (v as i16 + 128) as u8;
                }
                scales[i] = d;
            }
        }
        Self { m, pairs, a, scales }
    }
}

/// Output written from several threads, each to its own (token, row) tiles.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
#[cfg(target_arch = "x86_64")]
unsafe impl Send for OutPtr {}
#[cfg(target_arch = "x86_64")]
unsafe impl Sync for OutPtr {}

#[cfg(target_arch = "x86_64")]
fn parallel_tiles(w: &Int8Matrix, a: &Activations, y: &mut [f32]) {
    use rayon::prelude::*;
    // Row chunks keep a slice of the weights in L1/L2 while every token of
    // the chunk streams past it; enough chunks to keep all threads busy.
    const ROWS: usize = 64;
    const TOKENS: usize = 64;
    let (m, n) = (a.m, w.n);
    let row_chunks = n.div_ceil(ROWS);
    let tok_chunks = m.div_ceil(TOKENS);
    let out = OutPtr(y.as_mut_ptr());
    (0..row_chunks * tok_chunks).into_par_iter().for_each(|item| {
        let out = out;
        let (tc, rc) = (item / row_chunks, item % row_chunks);
        let rows = rc * ROWS..(rc * ROWS + ROWS).min(n);
        let toks = tc * TOKENS..(tc * TOKENS + TOKENS).min(m);
        // SAFETY: the CPU features were checked in `matmul`; each item writes
        // only y[toks, rows], which no other item touches.
        unsafe { avx512::block(w, a, rows, toks, out.0, n) }
    });
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    use std::ops::Range;

    use super::{Activations, Int8Matrix, PAIR};

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn block(
        w: &Int8Matrix,
        a: &Activations,
        rows: Range<usize>,
        toks: Range<usize>,
        y: *mut f32,
        n: usize,
    ) {
        let mut r = rows.start;
        while r < rows.end {
            let rn = (rows.end - r).min(4);
            let mut t = toks.start;
            while t < toks.end {
                let tn = (toks.end - t).min(4);
                match (rn, tn) {
                    (4, 4) => tile::<4, 4>(w, a, r, t, y, n),
                    (4, _) => (0..tn).for_each(|i| tile::<4, 1>(w, a, r, t + i, y, n)),
                    (_, 4) => (0..rn).for_each(|i| tile::<1, 4>(w, a, r + i, t, y, n)),
                    _ => {
                        for i in 0..rn {
                            (0..tn).for_each(|j| tile::<1, 1>(w, a, r + i, t + j, y, n));
                        }
                    }
                }
                t += tn;
            }
            r += rn;
        }
    }

    /// Per 64 values: two blocks' scales and q + 128 in the pair layout.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn quantize(x: &[f32], a: &mut [u8], scales: &mut [[f32; 2]]) {
        // Interleave 4-byte groups of the two blocks (i32 lanes 0..8 and 16..24).
        let idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let bias = _mm512_set1_epi8(-128);
        for (i, s) in scales.iter_mut().enumerate() {
            let src = x.as_ptr().add(i * PAIR);
            let mut packed = [_mm512_setzero_si512(); 2];
            for h in 0..2 {
                let v0 = _mm512_loadu_ps(src.add(h * 32));
                let v1 = _mm512_loadu_ps(src.add(h * 32 + 16));
                let amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
                s[h] = amax / 127.0;
                let id = _mm512_set1_ps(if amax > 0.0 { 127.0 / amax } else { 0.0 });
                // Round to nearest even (the default rounding mode), then saturate to i8.
                let q0 = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v0, id)));
                let q1 = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v1, id)));
                let b = _mm256_set_m128i(q1, q0);
                packed[h] = _mm512_castsi256_si512(b);
            }
            let pair = _mm512_permutex2var_epi32(packed[0], idx, packed[1]);
            _mm512_storeu_si512(a.as_mut_ptr().add(i * PAIR).cast(), _mm512_xor_si512(pair, bias));
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn tile<const R: usize, const T: usize>(
        w: &Int8Matrix,
        a: &Activations,
        r0: usize,
        t0: usize,
        y: *mut f32,
        n: usize,
    ) {
        let pairs = w.pairs;
        debug_assert_eq!(pairs, a.pairs);
        let mut acc = [[_mm512_setzero_ps(); T]; R];
        for p in 0..pairs {
            let mut wv = [_mm512_setzero_si512(); R];
            let mut sv = [_mm512_setzero_si512(); R];
            let mut dw = [_mm512_setzero_ps(); R];
            for i in 0..R {
                let idx = (r0 + i) * pairs + p;
                wv[i] = _mm512_loadu_si512(w.w.as_ptr().add(idx * PAIR).cast());
                sv[i] = _mm512_set1_epi64(std::ptr::read_unaligned(w.start.as_ptr().add(idx).cast::<i64>()));
                dw[i] = _mm512_castpd_ps(_mm512_set1_pd(std::ptr::read_unaligned(
                    w.scales.as_ptr().add(idx).cast::<f64>(),
                )));
            }
            for j in 0..T {
                let idx = (t0 + j) * pairs + p;
                let av = _mm512_loadu_si512(a.a.as_ptr().add(idx * PAIR).cast());
                let da = _mm512_castpd_ps(_mm512_set1_pd(std::ptr::read_unaligned(
                    a.scales.as_ptr().add(idx).cast::<f64>(),
                )));
                for i in 0..R {
                    let dot = _mm512_dpbusd_epi32(sv[i], av, wv[i]);
                    acc[i][j] =
                        _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw[i], da), acc[i][j]);
                }
            }
        }
        for i in 0..R {
            for j in 0..T {
                *y.add((t0 + j) * n + r0 + i) = _mm512_reduce_add_ps(acc[i][j]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::QMatMul;
    use candle_core::{Device, Module, Tensor};

    use super::*;

    fn check(dtype: GgmlDType, n: usize, k: usize, m: usize) {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, (n, k), &dev).unwrap();
        // Outlier columns, as BERT activations have.
        let x = (Tensor::randn(0f32, 1.0, (m, k), &dev).unwrap()
            * Tensor::arange(0u32, k as u32, &dev).unwrap().to_dtype(candle_core::DType::F32).unwrap()
                .affine(0.01, 0.5).unwrap().unsqueeze(0).unwrap().broadcast_as((m, k)).unwrap())
        .unwrap();
        let q = QTensor::quantize(&w, dtype).unwrap();
        let exact = x.matmul(&q.dequantize(&dev).unwrap().t().unwrap()).unwrap().to_vec2::<f32>().unwrap();
        let candle = QMatMul::from_qtensor(q).unwrap();
        let q = QTensor::quantize(&w, dtype).unwrap();
        let reference = candle.forward(&x).unwrap().to_vec2::<f32>().unwrap();
        let mat = Int8Matrix::from_qtensor(&q).unwrap().unwrap();
        let xs = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let got = mat.matmul(&xs, m);
        let mut portable = vec![0f32; m * n];
        mat.matmul_portable(&Activations::quantize(&xs, m, k, mat.pairs), &mut portable);
        let scale = exact.iter().flatten().fold(0f32, |a, v| a.max(v.abs()));
        for t in 0..m {
            for r in 0..n {
                let g = got[t * n + r];
                assert!((g - portable[t * n + r]).abs() <= 1e-5 * scale, "SIMD vs portable at [{t},{r}]");
                // Same activation quantization as candle, except that candle rounds
                // the activation scales to f16.
                // (candle's Q8_0 × Q8_0 path is not compared: it strays further from exact.)
                assert!(dtype != GgmlDType::Q4_0 || (g - reference[t][r]).abs() <= 2e-3 * scale, "{dtype:?} [{t},{r}] {g} vs {}", reference[t][r]);
                assert!((g - exact[t][r]).abs() <= 2e-2 * scale, "[{t},{r}] {g} vs exact {}", exact[t][r]);
            }
        }
    }

    #[test]
    fn simd_quantization_matches_portable() {
        let (m, k) = (3, 128);
        let x: Vec<f32> = (0..m * k).map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 37.0).collect();
        let (fast, slow) = (Activations::quantize(&x, m, k, 2), Activations::quantize_portable(&x, m, k, 2));
        assert_eq!(fast.a, slow.a);
        assert_eq!(fast.scales, slow.scales);
    }

    /// Kernel speed on e5-small's FFN shape:
    /// `cargo test --release --lib int8 -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn kernel_speed() {
        let (n, k, m) = (1536, 384, 1024);
        let w = Tensor::randn(0f32, 1.0, (n, k), &Device::Cpu).unwrap();
        let mat = Int8Matrix::from_qtensor(&QTensor::quantize(&w, GgmlDType::Q4_0).unwrap()).unwrap().unwrap();
        let x = vec![0.5f32; m * k];
        mat.matmul(&x, m);
        let t = std::time::Instant::now();
        let reps = 20;
        for _ in 0..reps {
            std::hint::black_box(mat.matmul(&x, m));
        }
        let secs = t.elapsed().as_secs_f64();
        let gmac = (reps * n * k * m) as f64 / secs / 1e9;
        println!("{gmac:.1} GMAC/s ({:.2} ms per matmul)", secs * 1e3 / reps as f64);
        assert!(gmac > 0.0);
    }

    #[test]
    fn matches_dequantized_matmul_and_candle() {
        // Tails on every side: odd block count, rows and tokens not multiples of 4.
        check(GgmlDType::Q4_0, 70, 96, 9);
        check(GgmlDType::Q4_0, 128, 384, 67);
        check(GgmlDType::Q8_0, 33, 64, 5);
        check(GgmlDType::Q8_0, 64, 1536, 4);
    }
}
