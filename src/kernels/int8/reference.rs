//! An independent reference for the int8 kernels, shared by the native unit
//! tests, the NEON check under qemu (`scripts/int8-cross`) and the page's
//! self-test (`kernelSelfTest`, run by the browser tests in both modules).
//! It decodes the ggml blocks straight from the tensor's bytes (not from the
//! kernels' layout), quantizes the activations by the same rule, forms each
//! block's exact integer dot product and sums `acc + dot·(dw·da)` in f32, in
//! block order — so every kernel path must equal it bit for bit.

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

use super::{Act, Epilogue, Int8Matrix, Path};

/// Shapes [n, k] × m with every kind of tail: n = 1, n not a multiple of
/// 16, k not a multiple of 32 · lanes (odd block counts), m = 1, and m
/// across the kernels' token tiles (4, 6) and items (48).
pub const SHAPES: &[(usize, usize, usize)] = &[
    (1, 32, 1),
    (1, 64, 6),
    (5, 64, 1),
    (16, 32, 3),
    (17, 96, 1),
    (33, 64, 5),
    (70, 96, 9),
    (48, 160, 13),
    (130, 416, 7),
    (40, 1536, 3),
    (24, 288, 61),
];

/// A deterministic generator (the same numbers on every target).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// Uniform in [−1, 1).
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Weights [n, k] quantized to `dtype`, and activations [m, k] with larger
/// columns towards the end (BERT's activations have outlier columns), some
/// all-zero blocks and some exact halves (rounding ties).
pub fn case(dtype: GgmlDType, n: usize, k: usize, m: usize, seed: u64) -> (QTensor, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let w: Vec<f32> = (0..n * k).map(|_| rng.next()).collect();
    let w = Tensor::from_vec(w, (n, k), &Device::Cpu).unwrap();
    let q = QTensor::quantize(&w, dtype).unwrap();
    let mut x: Vec<f32> = (0..m * k).map(|i| rng.next() * (0.5 + 0.02 * (i % k) as f32)).collect();
    if k >= 64 && m > 1 {
        x[k..k + 32].fill(0.0);
    }
    // amax = 127 makes the scale 1, so x.5 values are exact ties.
    if k >= 64 {
        x[32] = 127.0;
        x[33] = 2.5;
        x[34] = -3.5;
        x[35] = 0.5;
    }
    (q, x)
}

/// The block values of row r (Q4_0 or Q8_0), and their scales.
fn row(q: &QTensor, r: usize) -> (Vec<i8>, Vec<f32>) {
    let (_, k) = q.shape().dims2().unwrap();
    let data = q.data().unwrap();
    let nb = k / 32;
    let bytes = if q.dtype() == GgmlDType::Q4_0 { 18 } else { 34 };
    let (mut vals, mut scales) = (Vec::with_capacity(k), Vec::with_capacity(nb));
    for b in 0..nb {
        let raw = &data[(r * nb + b) * bytes..(r * nb + b + 1) * bytes];
        scales.push(half::f16::from_le_bytes([raw[0], raw[1]]).to_f32());
        if q.dtype() == GgmlDType::Q4_0 {
            vals.extend(raw[2..].iter().map(|&v| (v & 0x0f) as i8 - 8));
            vals.extend(raw[2..].iter().map(|&v| (v >> 4) as i8 - 8));
        } else {
            vals.extend(raw[2..].iter().map(|&v| v as i8));
        }
    }
    (vals, scales)
}

/// y[m, n] = x · Wᵀ by the kernels' arithmetic, without their layout or code.
pub fn reference(q: &QTensor, x: &[f32], m: usize) -> Vec<f32> {
    let (n, k) = q.shape().dims2().unwrap();
    let nb = k / 32;
    let mut xq = vec![0i8; m * k];
    let mut xs = vec![0f32; m * nb];
    for (i, block) in x.chunks_exact(32).enumerate() {
        let amax = block.iter().fold(0f32, |a, v| a.max(v.abs()));
        xs[i] = amax / 127.0;
        let id = if amax > 0.0 { 127.0 / amax } else { 0.0 };
        for (j, v) in block.iter().enumerate() {
            xq[i * 32 + j] = (v * id).round_ties_even() as i8;
        }
    }
    let rows: Vec<_> = (0..n).map(|r| row(q, r)).collect();
    let mut y = vec![0f32; m * n];
    for t in 0..m {
        for (r, (w, ws)) in rows.iter().enumerate() {
            let mut acc = 0f32;
            for b in 0..nb {
                let dot: i32 = (b * 32..b * 32 + 32).map(|c| xq[t * k + c] as i32 * w[c] as i32).sum();
                acc += dot as f32 * (ws[b] * xs[t * nb + b]);
            }
            y[t * n + r] = acc;
        }
    }
    y
}

/// Whether `path` equals the reference bit for bit on every shape and
/// encoding, and applies bias, GELU and residual as the plain epilogue
/// does; the first difference otherwise.
pub fn check_path(path: Path) -> Result<(), String> {
    if !path.supported() {
        return Err(format!("{} cannot run here", path.name()));
    }
    for (seed, &(n, k, m)) in SHAPES.iter().enumerate() {
        for dtype in [GgmlDType::Q8_0, GgmlDType::Q4_0] {
            let (q, x) = case(dtype, n, k, m, seed as u64 + 1);
            let want = reference(&q, &x, m);
            let mat = Int8Matrix::from_qtensor(&q).map_err(|e| e.to_string())?.ok_or("not a Q4_0/Q8_0 matrix")?;
            let got = mat.matmul_on(path, &x, m, &Epilogue::default());
            if let Some(i) = got.iter().zip(&want).position(|(g, w)| g.to_bits() != w.to_bits()) {
                return Err(format!(
                    "{} {dtype:?} [{n}, {k}] x {m} at [{}, {}]: {} vs reference {}",
                    path.name(),
                    i / n,
                    i % n,
                    got[i],
                    want[i]
                ));
            }
            if want.iter().all(|v| *v == 0.0) {
                return Err("a case that cannot fail".into());
            }

            let bias: Vec<f32> = (0..n).map(|i| i as f32 / 10.0 - 2.0).collect();
            let res: Vec<f32> = (0..m * n).map(|i| (i % 13) as f32).collect();
            let ep = Epilogue { bias: Some(&bias), act: Act::GeluErf, residual: Some(&res) };
            let got = mat.matmul_on(path, &x, m, &ep);
            let mut want = want;
            ep.apply(&mut want, n);
            if let Some(i) = got.iter().zip(&want).position(|(g, w)| (g - w).abs() > 1e-5 * (1.0 + w.abs())) {
                return Err(format!("{} {dtype:?} epilogue at {i}: {} vs {}", path.name(), got[i], want[i]));
            }
        }
    }
    Ok(())
}
