//! Element-wise maths shared by the kernels: e^x for x ≤ 0, erf, GELU and
//! LayerNorm, as scalar code and as vector code ([`super::simd`]) computing
//! the same formulas lane by lane.

use super::simd::{self, F32s, Level};

/// Activation applied to a matmul's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    None,
    /// The exact (erf) GELU.
    GeluErf,
    /// The tanh approximation of GELU.
    GeluTanh,
    Relu,
}

/// e^x for x ≤ 0 (Cody–Waite reduction, degree-6 polynomial; rel. error ~2e-7).
#[inline(always)]
pub fn exp_neg(x: f32) -> f32 {
    let x = x.max(-87.0);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67 + r * (0.041_666_668 + r * (0.008_333_334 + r * 0.001_388_889)))));
    p * f32::from_bits(((n as i32 + 127) << 23) as u32)
}

/// erf (Abramowitz & Stegun 7.1.26, absolute error ≤ 1.5e-7).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    (1.0 - poly * exp_neg(-a * a)).copysign(x)
}

#[inline(always)]
pub fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// tanh through e^(−2|u|), so that only exp_neg is needed.
#[inline(always)]
pub fn gelu_tanh(x: f32) -> f32 {
    let u = 0.797_884_6 * (x + 0.044_715 * x * x * x);
    let e = exp_neg(-2.0 * u.abs());
    let th = ((1.0 - e) / (1.0 + e)).copysign(u);
    0.5 * x * (1.0 + th)
}

impl Act {
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Self::None => x,
            Self::GeluErf => gelu_erf(x),
            Self::GeluTanh => gelu_tanh(x),
            Self::Relu => x.max(0.0),
        }
    }

    /// In place over a slice.
    pub fn apply_slice(self, xs: &mut [f32]) {
        self.apply_slice_on(simd::level(), xs)
    }

    /// In place over a slice, on a given (supported) instruction set.
    fn apply_slice_on(self, level: Level, xs: &mut [f32]) {
        if self == Self::None {
            return;
        }
        assert!(level.supported());
        // SAFETY: each arm runs only where its instruction set is present.
        match level {
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => return unsafe { x86::act_slice_avx512(self, xs) },
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => return unsafe { x86::act_slice_avx2(self, xs) },
            #[cfg(target_arch = "aarch64")]
            Level::Neon => return unsafe { act_slice_v::<simd::Neon>(self, xs) },
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Level::Wasm => return unsafe { act_slice_v::<simd::Wasm>(self, xs) },
            _ => {}
        }
        match self {
            Self::None => {}
            Self::GeluErf => xs.iter_mut().for_each(|x| *x = gelu_erf(*x)),
            Self::GeluTanh => xs.iter_mut().for_each(|x| *x = gelu_tanh(*x)),
            Self::Relu => xs.iter_mut().for_each(|x| *x = x.max(0.0)),
        }
    }
}

/// ln Σ e^x over `xs`: the log-softmax's normaliser (−∞ when `xs` is empty
/// or all −∞). Vectorised with [`exp_neg`]'s formula: Whisper's decoder takes
/// it over 51,865 logits for every hypothesis at every step, and in wasm a
/// scalar `exp` is a software call.
pub fn log_sum_exp(xs: &[f32]) -> f32 {
    log_sum_exp_on(simd::level(), xs)
}

fn log_sum_exp_on(level: Level, xs: &[f32]) -> f32 {
    assert!(level.supported());
    // SAFETY: each arm runs only where its instruction set is present.
    match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => return unsafe { x86::log_sum_exp_avx512(xs) },
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => return unsafe { x86::log_sum_exp_avx2(xs) },
        #[cfg(target_arch = "aarch64")]
        Level::Neon => return unsafe { log_sum_exp_v::<simd::Neon>(xs) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Level::Wasm => return unsafe { log_sum_exp_v::<simd::Wasm>(xs) },
        _ => {}
    }
    let m = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if m == f32::NEG_INFINITY {
        return m;
    }
    m + xs.iter().map(|&x| exp_neg(x - m)).sum::<f32>().ln()
}

#[inline(always)]
unsafe fn log_sum_exp_v<S: F32s>(xs: &[f32]) -> f32 {
    let (l, p) = (S::LANES, xs.as_ptr());
    let full = xs.len() - xs.len() % l;
    let mut mx = S::splat(f32::NEG_INFINITY);
    for j in (0..full).step_by(l) {
        mx = S::max(mx, S::load(p.add(j)));
    }
    let m = xs[full..].iter().copied().fold(S::reduce_max(mx), f32::max);
    if m == f32::NEG_INFINITY {
        return m;
    }
    let (mv, mut sum) = (S::splat(m), S::splat(0.0));
    for j in (0..full).step_by(l) {
        sum = S::add(sum, exp_neg_v::<S>(S::sub(S::load(p.add(j)), mv)));
    }
    m + xs[full..].iter().fold(S::reduce_add(sum), |s, &x| s + exp_neg(x - m)).ln()
}

/// A LayerNorm's parameters.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub eps: f32,
}

impl LayerNorm {
    /// Every row of `x` ([rows, gamma.len()]) in place.
    pub fn apply(&self, x: &mut [f32]) {
        layer_norm(x, &self.gamma, &self.beta, self.eps);
    }
}

/// LayerNorm of every row of `x` ([rows, gamma.len()]) in place.
pub fn layer_norm(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = gamma.len();
    let norm = |row: &mut [f32]| {
        let mean = row.iter().sum::<f32>() / n as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = (*v - mean) * inv * g + b;
        }
    };
    super::par_chunks_mut(x, n * 16, |_, rows| rows.chunks_mut(n).for_each(norm));
}

/// e^x for x ≤ 0, lane-wise [`exp_neg`].
#[inline(always)]
pub(crate) unsafe fn exp_neg_v<S: F32s>(x: S::V) -> S::V {
    let c = |v: f32| S::splat(v);
    let x = S::max(x, c(-87.0));
    let n = S::round(S::mul(x, c(std::f32::consts::LOG2_E)));
    let r = S::mul_add(n, c(-0.693_145_75), x);
    let r = S::mul_add(n, c(-1.428_606_8e-6), r);
    let mut p = S::mul_add(r, c(0.001_388_889), c(0.008_333_334));
    p = S::mul_add(r, p, c(0.041_666_668));
    p = S::mul_add(r, p, c(0.166_666_67));
    p = S::mul_add(r, p, c(0.5));
    p = S::mul_add(r, p, c(1.0));
    p = S::mul_add(r, p, c(1.0));
    S::mul(p, S::pow2(n))
}

/// Lane-wise [`gelu_erf`].
#[inline(always)]
pub(crate) unsafe fn gelu_erf_v<S: F32s>(x: S::V) -> S::V {
    let c = |v: f32| S::splat(v);
    let z = S::mul(x, c(std::f32::consts::FRAC_1_SQRT_2));
    let a = S::abs(z);
    let t = S::div(c(1.0), S::mul_add(c(0.327_591_1), a, c(1.0)));
    let mut p = S::mul_add(t, c(1.061_405_4), c(-1.453_152_1));
    p = S::mul_add(t, p, c(1.421_413_7));
    p = S::mul_add(t, p, c(-0.284_496_74));
    p = S::mul_add(t, p, c(0.254_829_6));
    p = S::mul(t, p);
    let e = exp_neg_v::<S>(S::sub(c(0.0), S::mul(a, a)));
    let erf = S::copysign(S::sub(c(1.0), S::mul(p, e)), z);
    S::mul(S::mul(c(0.5), x), S::add(c(1.0), erf))
}

/// Lane-wise [`gelu_tanh`].
#[inline(always)]
pub(crate) unsafe fn gelu_tanh_v<S: F32s>(x: S::V) -> S::V {
    let c = |v: f32| S::splat(v);
    let x3 = S::mul(S::mul(x, x), x);
    let u = S::mul(c(0.797_884_6), S::mul_add(c(0.044_715), x3, x));
    let e = exp_neg_v::<S>(S::mul(c(-2.0), S::abs(u)));
    let th = S::copysign(S::div(S::sub(c(1.0), e), S::add(c(1.0), e)), u);
    S::mul(S::mul(c(0.5), x), S::add(c(1.0), th))
}

/// Lane-wise [`Act::apply`].
#[inline(always)]
pub(crate) unsafe fn act_v<S: F32s>(act: Act, x: S::V) -> S::V {
    match act {
        Act::None => x,
        Act::GeluErf => gelu_erf_v::<S>(x),
        Act::GeluTanh => gelu_tanh_v::<S>(x),
        Act::Relu => S::max(x, S::splat(0.0)),
    }
}

/// [`Act::apply_slice`] in whole vectors, the tail in scalar code.
#[inline(always)]
unsafe fn act_slice_v<S: F32s>(act: Act, xs: &mut [f32]) {
    let mut chunks = xs.chunks_exact_mut(S::LANES);
    for c in &mut chunks {
        S::store(c.as_mut_ptr(), act_v::<S>(act, S::load(c.as_ptr())));
    }
    chunks.into_remainder().iter_mut().for_each(|x| *x = act.apply(*x));
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{act_slice_v, log_sum_exp_v, Act};
    use crate::kernels::simd::{Avx2, Avx512};

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn act_slice_avx512(act: Act, xs: &mut [f32]) {
        act_slice_v::<Avx512>(act, xs)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn act_slice_avx2(act: Act, xs: &mut [f32]) {
        act_slice_v::<Avx2>(act, xs)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn log_sum_exp_avx512(xs: &[f32]) -> f32 {
        log_sum_exp_v::<Avx512>(xs)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn log_sum_exp_avx2(xs: &[f32]) -> f32 {
        log_sum_exp_v::<Avx2>(xs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_neg_is_accurate() {
        for i in 0..=10_000 {
            let x = -(i as f32) / 100.0;
            let (got, want) = (exp_neg(x), x.exp());
            assert!((got - want).abs() <= 4e-7 * want + 1e-37, "exp({x}) = {got}, want {want}");
        }
    }

    #[test]
    fn slice_activations_match_scalar() {
        let xs: Vec<f32> = (-2003..2000).map(|i| i as f32 / 200.0).collect();
        for level in Level::ALL.into_iter().filter(|l| l.supported()) {
            for act in [Act::GeluErf, Act::GeluTanh, Act::Relu, Act::None] {
                let mut got = xs.clone();
                act.apply_slice_on(level, &mut got);
                for (x, g) in xs.iter().zip(&got) {
                    let w = act.apply(*x);
                    assert!((g - w).abs() <= 1e-6 * (1.0 + x.abs()), "{level:?} {act:?}({x}) = {g}, scalar {w}");
                }
            }
        }
    }

    #[test]
    fn log_sum_exp_matches_f64() {
        // Logits as a decoder's: a spread of values, suppressed (−∞) entries, odd lengths.
        let row: Vec<f32> = (0..51_865).map(|i| if i % 97 == 5 { f32::NEG_INFINITY } else { ((i * 7919 % 2003) as f32 - 1500.0) / 60.0 }).collect();
        for len in [0, 1, 3, 17, 1501, 51_865] {
            let xs = &row[..len];
            let m = xs.iter().fold(f64::NEG_INFINITY, |a, &x| a.max(x as f64));
            let want = if m == f64::NEG_INFINITY { m } else { m + xs.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln() };
            for level in Level::ALL.into_iter().filter(|l| l.supported()) {
                let got = log_sum_exp_on(level, xs) as f64;
                assert!(got == want || (got - want).abs() <= 1e-5 * (1.0 + want.abs()), "{level:?} len {len}: {got} vs {want}");
            }
        }
        assert_eq!(log_sum_exp(&[f32::NEG_INFINITY; 9]), f32::NEG_INFINITY);
    }

    #[test]
    fn layer_norm_normalises_rows() {
        let mut x: Vec<f32> = (0..40 * 24).map(|i| ((i * 37 % 101) as f32).sin() * 3.0 + 1.0).collect();
        let (g, b) = (vec![2f32; 24], vec![0.5f32; 24]);
        layer_norm(&mut x, &g, &b, 1e-12);
        for row in x.chunks(24) {
            let mean = row.iter().sum::<f32>() / 24.0;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 24.0;
            assert!((mean - 0.5).abs() < 1e-5 && (var - 4.0).abs() < 1e-3, "{mean} {var}");
        }
    }
}

/// The least cosine similarity between matching rows of width `d` of two
/// matrices: how far one implementation's states stray from another's at
/// the worst position (in f64).
pub fn least_row_cosine(a: &[f32], b: &[f32], d: usize) -> f64 {
    a.chunks(d)
        .zip(b.chunks(d))
        .map(|(x, y)| {
            let dot = |p: &[f32], q: &[f32]| p.iter().zip(q).map(|(u, v)| *u as f64 * *v as f64).sum::<f64>();
            dot(x, y) / (dot(x, x) * dot(y, y)).sqrt().max(f64::MIN_POSITIVE)
        })
        .fold(1.0, f64::min)
}
