//! Integer matmul for Q4_0/Q8_0 weights on x86-64 CPUs with AVX-512 VNNI.
//!
//! candle's generic quantized matmul computes one block dot product per
//! (token, output) pair, and its repacked kernels need the input width to be
//! a multiple of 256 (e5-small's is 384). Encoding a batch of a few thousand
//! tokens is compute-bound, so this kernel keeps the weights as int8 once,
//! quantizes the activations per 32-value block (as ggml's Q8_0) and runs
//! `vpdpbusd` with 16 output rows in the 16 lanes of a register.
//!
//! Weight layout: rows in groups of 16; for each (group, block) 8 steps of
//! 64 bytes, step s holding bytes 4s..4s+4 of the block for each of the 16
//! rows. One `vpdpbusd` with 4 broadcast activation bytes thus advances 16
//! rows by 4 values; 8 of them finish a block, which is then scaled by the 16
//! rows' block scales times the activation's block scale in one FMA. The
//! weights stay exactly the Q4_0/Q8_0 values. `vpdpbusd` takes unsigned ×
//! signed bytes: activations are stored as q + 128 and the excess 128 · Σw is
//! subtracted through the accumulator's start value.

use candle_core::quantized::{GgmlDType, QTensor};

use crate::kernels::math::Act;

const QK: usize = 32;
/// Output rows per register.
const LANES: usize = 16;
/// 4-byte steps per block.
const STEPS: usize = QK / 4;

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

/// 64 bytes on a cache line of their own.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([i8; 64]);

/// What happens to each output value: y = act(x·Wᵀ + bias) + residual.
#[derive(Clone, Copy)]
pub struct Epilogue<'a> {
    /// [n]
    pub bias: Option<&'a [f32]>,
    pub act: Act,
    /// [m, n], added after the activation.
    pub residual: Option<&'a [f32]>,
}

impl Default for Epilogue<'_> {
    fn default() -> Self {
        Self { bias: None, act: Act::None, residual: None }
    }
}

impl Epilogue<'_> {
    /// The same in plain Rust over a finished [m, n] product.
    pub fn apply(&self, y: &mut [f32], n: usize) {
        if let Some(b) = self.bias {
            y.chunks_mut(n).for_each(|row| row.iter_mut().zip(b).for_each(|(v, b)| *v += b));
        }
        self.act.apply_slice(y);
        if let Some(r) = self.residual {
            y.iter_mut().zip(r).for_each(|(v, r)| *v += r);
        }
    }
}

/// A weight matrix [n, k] prepared for the kernel.
pub struct Int8Matrix {
    n: usize,
    k: usize,
    /// Blocks per row.
    nb: usize,
    /// Per (group, block, step): 16 rows × 4 signed weights.
    w: Vec<Line>,
    /// Per (group, block): the 16 rows' block scales.
    scales: Vec<f32>,
    /// Per (group, block): −128 · Σw of each row's block.
    start: Vec<i32>,
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
        let groups = n.div_ceil(LANES);
        let mut w = vec![Line([0; 64]); groups * nb * STEPS];
        let mut scales = vec![0f32; groups * nb * LANES];
        let mut start = vec![0i32; groups * nb * LANES];
        let mut vals = [0i8; QK];
        for r in 0..n {
            let (g, lane) = (r / LANES, r % LANES);
            for b in 0..nb {
                let raw = &data[(r * nb + b) * block_bytes..(r * nb + b + 1) * block_bytes];
                let d = half::f16::from_le_bytes([raw[0], raw[1]]).to_f32();
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
                let gb = g * nb + b;
                for s in 0..STEPS {
                    w[gb * STEPS + s].0[lane * 4..lane * 4 + 4].copy_from_slice(&vals[s * 4..s * 4 + 4]);
                }
                scales[gb * LANES + lane] = d;
                start[gb * LANES + lane] = -128 * vals.iter().map(|&x| x as i32).sum::<i32>();
            }
        }
        Ok(Some(Self { n, k, nb, w, scales, start }))
    }

    pub fn out_features(&self) -> usize {
        self.n
    }

    /// Weight (row r, column c) as stored.
    fn weight(&self, r: usize, c: usize) -> i8 {
        let (g, lane, b, j) = (r / LANES, r % LANES, c / QK, c % QK);
        self.w[(g * self.nb + b) * STEPS + j / 4].0[lane * 4 + j % 4]
    }

    /// y[m, n] = x[m, k] · Wᵀ (no bias).
    pub fn matmul(&self, x: &[f32], m: usize) -> Vec<f32> {
        self.matmul_with(x, m, &Epilogue::default())
    }

    /// y[m, n] = act(x[m, k] · Wᵀ + bias) + residual.
    pub fn matmul_with(&self, x: &[f32], m: usize, ep: &Epilogue) -> Vec<f32> {
        assert_eq!(x.len(), m * self.k, "input is not [m, {}]", self.k);
        if let Some(b) = ep.bias {
            assert_eq!(b.len(), self.n, "bias is not [{}]", self.n);
        }
        if let Some(r) = ep.residual {
            assert_eq!(r.len(), m * self.n, "residual is not [m, {}]", self.n);
        }
        let acts = Activations::quantize(x, m, self.k);
        #[cfg(target_arch = "x86_64")]
        if available() {
            let mut y = Vec::with_capacity(m * self.n);
            parallel_tiles(self, &acts, y.as_mut_ptr(), ep);
            // SAFETY: the tiles wrote every one of the m·n values.
            unsafe { y.set_len(m * self.n) };
            return y;
        }
        let mut y = vec![0f32; m * self.n];
        self.matmul_portable(&acts, &mut y);
        ep.apply(&mut y, self.n);
        y
    }

    /// The same arithmetic in plain Rust (reference and fallback).
    fn matmul_portable(&self, a: &Activations, y: &mut [f32]) {
        for t in 0..a.m {
            for r in 0..self.n {
                let (g, lane) = (r / LANES, r % LANES);
                let mut acc = 0f32;
                for b in 0..self.nb {
                    let gb = g * self.nb + b;
                    let x = &a.q[t * self.k + b * QK..t * self.k + (b + 1) * QK];
                    let mut dot = self.start[gb * LANES + lane];
                    for (j, &xj) in x.iter().enumerate() {
                        dot += xj as i32 * self.weight(r, b * QK + j) as i32;
                    }
                    acc += dot as f32 * (self.scales[gb * LANES + lane] * a.scales[t * self.nb + b]);
                }
                y[t * self.n + r] = acc;
            }
        }
    }
}

/// Activations quantized per 32-value block, stored as q + 128.
struct Activations {
    m: usize,
    /// [m, k]
    q: Vec<u8>,
    /// [m, k / 32]
    scales: Vec<f32>,
}

impl Activations {
    fn quantize(x: &[f32], m: usize, k: usize) -> Self {
        #[cfg(target_arch = "x86_64")]
        if available() {
            let (mut q, mut scales) = (Vec::<u8>::with_capacity(m * k), Vec::<f32>::with_capacity(m * (k / QK)));
            // Rows in parallel chunks.
            const ROWS: usize = 64;
            let (qp, sp) = (OutPtr(q.as_mut_ptr()), OutPtr(scales.as_mut_ptr()));
            crate::kernels::par_for(m.div_ceil(ROWS), |c| {
                let (qp, sp) = (qp, sp);
                let rows = c * ROWS..(c * ROWS + ROWS).min(m);
                // SAFETY: CPU features checked; each chunk writes the bytes
                // and scales of its own rows, inside the capacities.
                unsafe {
                    avx512::quantize(&x[rows.start * k..rows.end * k], qp.0.add(rows.start * k), sp.0.add(rows.start * k / QK))
                };
            });
            // SAFETY: all m·k bytes and m·k/32 scales were written.
            unsafe {
                q.set_len(m * k);
                scales.set_len(m * (k / QK));
            }
            return Self { m, q, scales };
        }
        let mut q = vec![0u8; m * k];
        let mut scales = vec![0f32; m * (k / QK)];
        Self::quantize_portable(x, &mut q, &mut scales);
        Self { m, q, scales }
    }

    fn quantize_portable(x: &[f32], q: &mut [u8], scales: &mut [f32]) {
        for ((xs, qs), d) in x.chunks_exact(QK).zip(q.chunks_exact_mut(QK)).zip(scales.iter_mut()) {
            let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
            *d = amax / 127.0;
            let id = if amax > 0.0 { 127.0 / amax } else { 0.0 };
            for (o, &v) in qs.iter_mut().zip(xs) {
                *o = ((v * id).round_ties_even() as i8 as i16 + 128) as u8;
            }
        }
    }
}

/// A buffer written from several threads, each to its own part.
#[cfg(target_arch = "x86_64")]
struct OutPtr<T>(*mut T);
#[cfg(target_arch = "x86_64")]
impl<T> Clone for OutPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
#[cfg(target_arch = "x86_64")]
impl<T> Copy for OutPtr<T> {}
#[cfg(target_arch = "x86_64")]
unsafe impl<T> Send for OutPtr<T> {}
#[cfg(target_arch = "x86_64")]
unsafe impl<T> Sync for OutPtr<T> {}

#[cfg(target_arch = "x86_64")]
fn parallel_tiles(w: &Int8Matrix, a: &Activations, y: *mut f32, ep: &Epilogue) {
    use rayon::prelude::*;
    // A few row groups per item keep their weights in L1/L2 while the item's
    // tokens stream past them; enough items to keep all threads busy.
    const GROUPS: usize = 4;
    const TOKENS: usize = 8 * avx512::T;
    // Row groups of 16, the last one padded with zero rows.
    let (m, groups) = (a.m, w.n.div_ceil(LANES));
    let group_chunks = groups.div_ceil(GROUPS);
    let tok_chunks = m.div_ceil(TOKENS);
    let out = OutPtr(y);
    (0..group_chunks * tok_chunks).into_par_iter().for_each(|item| {
        let out = out;
        let (tc, gc) = (item / group_chunks, item % group_chunks);
        let gs = gc * GROUPS..(gc * GROUPS + GROUPS).min(groups);
        let toks = tc * TOKENS..(tc * TOKENS + TOKENS).min(m);
        // SAFETY: the CPU features were checked in `matmul_with`; each item
        // writes only y[toks, rows of gs], which no other item touches.
        unsafe { avx512::block(w, a, gs, toks, out.0, ep) }
    });
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    use std::ops::Range;

    use super::{Activations, Epilogue, Int8Matrix, LANES, QK, STEPS};
    use crate::kernels::math::x86::act_ps;

    /// Tokens per register tile (with 2 row groups: 12 f32 + 12 i32 accumulators).
    pub(super) const T: usize = 6;

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn block(
        w: &Int8Matrix,
        a: &Activations,
        groups: Range<usize>,
        toks: Range<usize>,
        y: *mut f32,
        ep: &Epilogue,
    ) {
        let mut g = groups.start;
        while g < groups.end {
            let gn = (groups.end - g).min(2);
            let mut t = toks.start;
            while t < toks.end {
                let tn = (toks.end - t).min(T);
                if gn == 2 {
                    tile_n::<2>(w, a, g, t, tn, y, ep);
                } else {
                    tile_n::<1>(w, a, g, t, tn, y, ep);
                }
                t += tn;
            }
            g += gn;
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn tile_n<const R: usize>(
        w: &Int8Matrix,
        a: &Activations,
        g0: usize,
        t0: usize,
        tn: usize,
        y: *mut f32,
        ep: &Epilogue,
    ) {
        match tn {
            6 => tile::<R, 6>(w, a, g0, t0, y, ep),
            5 => tile::<R, 5>(w, a, g0, t0, y, ep),
            4 => tile::<R, 4>(w, a, g0, t0, y, ep),
            3 => tile::<R, 3>(w, a, g0, t0, y, ep),
            2 => tile::<R, 2>(w, a, g0, t0, y, ep),
            _ => tile::<R, 1>(w, a, g0, t0, y, ep),
        }
    }

    /// Per 32 values: the block scale and q + 128.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn quantize(x: &[f32], q: *mut u8, scales: *mut f32) {
        let bias = _mm256_set1_epi8(-128);
        for i in 0..x.len() / QK {
            let src = x.as_ptr().add(i * QK);
            let v0 = _mm512_loadu_ps(src);
            let v1 = _mm512_loadu_ps(src.add(16));
            let amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
            scales.add(i).write(amax / 127.0);
            let id = _mm512_set1_ps(if amax > 0.0 { 127.0 / amax } else { 0.0 });
            // Round to nearest even (the default rounding mode), then saturate to i8.
            let q0 = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v0, id)));
            let q1 = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v1, id)));
            let b = _mm256_xor_si256(_mm256_set_m128i(q1, q0), bias);
            _mm256_storeu_si256(q.add(i * QK).cast(), b);
        }
    }

    /// Output rows of groups g0..g0+R for tokens t0..t0+TN.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn tile<const R: usize, const TN: usize>(
        w: &Int8Matrix,
        a: &Activations,
        g0: usize,
        t0: usize,
        y: *mut f32,
        ep: &Epilogue,
    ) {
        let (nb, k, n) = (w.nb, w.k, w.n);
        let mut acc = [[_mm512_setzero_ps(); TN]; R];
        let wp = w.w.as_ptr();
        let qp = a.q.as_ptr();
        for b in 0..nb {
            let mut dot = [[_mm512_setzero_si512(); TN]; R];
            for i in 0..R {
                let st = _mm512_loadu_si512(w.start.as_ptr().add(((g0 + i) * nb + b) * LANES).cast());
                for d in dot[i].iter_mut() {
                    *d = st;
                }
            }
            for s in 0..STEPS {
                let mut wv = [_mm512_setzero_si512(); R];
                for i in 0..R {
                    wv[i] = _mm512_load_si512(wp.add(((g0 + i) * nb + b) * STEPS + s).cast());
                }
                for j in 0..TN {
                    let x = std::ptr::read_unaligned(qp.add((t0 + j) * k + b * QK + s * 4).cast::<i32>());
                    let av = _mm512_set1_epi32(x);
                    for i in 0..R {
                        dot[i][j] = _mm512_dpbusd_epi32(dot[i][j], av, wv[i]);
                    }
                }
            }
            for j in 0..TN {
                let da = _mm512_set1_ps(*a.scales.get_unchecked((t0 + j) * nb + b));
                for i in 0..R {
                    let dw = _mm512_loadu_ps(w.scales.as_ptr().add(((g0 + i) * nb + b) * LANES));
                    acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[i][j]), _mm512_mul_ps(dw, da), acc[i][j]);
                }
            }
        }
        for i in 0..R {
            let r0 = (g0 + i) * LANES;
            let mask: __mmask16 = if n - r0 >= LANES { 0xffff } else { (1u16 << (n - r0)) - 1 };
            let bias = match ep.bias {
                Some(b) => _mm512_maskz_loadu_ps(mask, b.as_ptr().add(r0)),
                None => _mm512_setzero_ps(),
            };
            for j in 0..TN {
                let at = (t0 + j) * n + r0;
                let mut v = act_ps(ep.act, _mm512_add_ps(acc[i][j], bias));
                if let Some(r) = ep.residual {
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, r.as_ptr().add(at)));
                }
                _mm512_mask_storeu_ps(y.add(at), mask, v);
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
        mat.matmul_portable(&Activations::quantize(&xs, m, k), &mut portable);
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
        let fast = Activations::quantize(&x, m, k);
        let (mut q, mut scales) = (vec![0u8; m * k], vec![0f32; m * k / QK]);
        Activations::quantize_portable(&x, &mut q, &mut scales);
        assert_eq!(fast.q, q);
        assert_eq!(fast.scales, scales);
    }

    /// Kernel speed on e5-small's FFN shape:
    /// `cargo test --release --lib int8 -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn kernel_speed() {
        // e5-small's four matrices on a 1,024-token batch; best of 10 (shared machines are noisy).
        for (n, k) in [(1152, 384), (384, 384), (1536, 384), (384, 1536)] {
            let m = 1024;
            let w = Tensor::randn(0f32, 1.0, (n, k), &Device::Cpu).unwrap();
            let mat = Int8Matrix::from_qtensor(&QTensor::quantize(&w, GgmlDType::Q4_0).unwrap()).unwrap().unwrap();
            let x: Vec<f32> = (0..m * k).map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 300.0).collect();
            let mut best = f64::MAX;
            for _ in 0..10 {
                let t = std::time::Instant::now();
                std::hint::black_box(mat.matmul(&x, m));
                best = best.min(t.elapsed().as_secs_f64());
            }
            let gmac = (n * k * m) as f64 / best / 1e9;
            println!("[{n}, {k}] x {m}: {gmac:.1} GMAC/s ({:.2} ms per matmul)", best * 1e3);
        }
    }

    #[test]
    fn epilogue_adds_bias_activation_and_residual() {
        let (n, k, m) = (40, 64, 7);
        let w = Tensor::randn(0f32, 1.0, (n, k), &Device::Cpu).unwrap();
        let mat = Int8Matrix::from_qtensor(&QTensor::quantize(&w, GgmlDType::Q8_0).unwrap()).unwrap().unwrap();
        let x: Vec<f32> = (0..m * k).map(|i| ((i * 31 % 17) as f32 - 8.0) / 5.0).collect();
        let bias: Vec<f32> = (0..n).map(|i| i as f32 / 10.0 - 2.0).collect();
        let res: Vec<f32> = (0..m * n).map(|i| (i % 13) as f32).collect();
        let plain = mat.matmul(&x, m);
        for act in [Act::None, Act::GeluErf, Act::GeluTanh, Act::Relu] {
            let ep = Epilogue { bias: Some(&bias), act, residual: Some(&res) };
            let got = mat.matmul_with(&x, m, &ep);
            let mut want = plain.clone();
            ep.apply(&mut want, n);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{act:?} at {i}: {g} vs {w}");
            }
        }
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
