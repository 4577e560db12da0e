//! Element-wise maths shared by the kernels: e^x for x ≤ 0, erf, GELU and
//! LayerNorm, as scalar code (which also vectorises on wasm's simd128) and,
//! on x86-64, as AVX-512 versions computing the same formulas lane by lane.

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
        #[cfg(target_arch = "x86_64")]
        if x86::available() {
            // SAFETY: AVX-512F is present.
            unsafe { x86::act_slice(self, xs) };
            return;
        }
        match self {
            Self::None => {}
            Self::GeluErf => xs.iter_mut().for_each(|x| *x = gelu_erf(*x)),
            Self::GeluTanh => xs.iter_mut().for_each(|x| *x = gelu_tanh(*x)),
            Self::Relu => xs.iter_mut().for_each(|x| *x = x.max(0.0)),
        }
    }
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

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    use super::Act;

    /// Whether this CPU has AVX-512F (checked once).
    pub fn available() -> bool {
        static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *OK.get_or_init(|| std::arch::is_x86_feature_detected!("avx512f"))
    }

    /// e^x for x ≤ 0, lane-wise `exp_neg`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn exp_neg_ps(x: __m512) -> __m512 {
        let x = _mm512_max_ps(x, _mm512_set1_ps(-87.0));
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(
            x,
            _mm512_set1_ps(std::f32::consts::LOG2_E),
        ));
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_145_75), x);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428_606_8e-6), r);
        let c = |v: f32| _mm512_set1_ps(v);
        let mut p = _mm512_fmadd_ps(r, c(0.001_388_889), c(0.008_333_334));
        p = _mm512_fmadd_ps(r, p, c(0.041_666_668));
        p = _mm512_fmadd_ps(r, p, c(0.166_666_67));
        p = _mm512_fmadd_ps(r, p, c(0.5));
        p = _mm512_fmadd_ps(r, p, c(1.0));
        p = _mm512_fmadd_ps(r, p, c(1.0));
        _mm512_scalef_ps(p, n)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn abs_ps(x: __m512) -> __m512 {
        _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fff_ffff)))
    }

    /// Sign of `s` on |m|.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn copysign_ps(m: __m512, s: __m512) -> __m512 {
        let sign = _mm512_and_si512(_mm512_castps_si512(s), _mm512_set1_epi32(i32::MIN));
        _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(abs_ps(m)), sign))
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gelu_erf_ps(x: __m512) -> __m512 {
        let c = |v: f32| _mm512_set1_ps(v);
        let z = _mm512_mul_ps(x, c(std::f32::consts::FRAC_1_SQRT_2));
        let a = abs_ps(z);
        let t = _mm512_div_ps(c(1.0), _mm512_fmadd_ps(c(0.327_591_1), a, c(1.0)));
        let mut p = _mm512_fmadd_ps(t, c(1.061_405_4), c(-1.453_152_1));
        p = _mm512_fmadd_ps(t, p, c(1.421_413_7));
        p = _mm512_fmadd_ps(t, p, c(-0.284_496_74));
        p = _mm512_fmadd_ps(t, p, c(0.254_829_6));
        p = _mm512_mul_ps(t, p);
        let e = exp_neg_ps(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(a, a)));
        let erf = copysign_ps(_mm512_fnmadd_ps(p, e, c(1.0)), z);
        _mm512_mul_ps(_mm512_mul_ps(c(0.5), x), _mm512_add_ps(c(1.0), erf))
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gelu_tanh_ps(x: __m512) -> __m512 {
        let c = |v: f32| _mm512_set1_ps(v);
        let x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
        let u = _mm512_mul_ps(c(0.797_884_6), _mm512_fmadd_ps(c(0.044_715), x3, x));
        let e = exp_neg_ps(_mm512_mul_ps(c(-2.0), abs_ps(u)));
        let th = copysign_ps(_mm512_div_ps(_mm512_sub_ps(c(1.0), e), _mm512_add_ps(c(1.0), e)), u);
        _mm512_mul_ps(_mm512_mul_ps(c(0.5), x), _mm512_add_ps(c(1.0), th))
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn act_ps(act: Act, x: __m512) -> __m512 {
        match act {
            Act::None => x,
            Act::GeluErf => gelu_erf_ps(x),
            Act::GeluTanh => gelu_tanh_ps(x),
            Act::Relu => _mm512_max_ps(x, _mm512_setzero_ps()),
        }
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn act_slice(act: Act, xs: &mut [f32]) {
        if act == Act::None {
            return;
        }
        let mut chunks = xs.chunks_exact_mut(16);
        for c in &mut chunks {
            _mm512_storeu_ps(c.as_mut_ptr(), act_ps(act, _mm512_loadu_ps(c.as_ptr())));
        }
        let rest = chunks.into_remainder();
        let mask = (1u16 << rest.len()).wrapping_sub(1);
        let v = _mm512_maskz_loadu_ps(mask, rest.as_ptr());
        _mm512_mask_storeu_ps(rest.as_mut_ptr(), mask, act_ps(act, v));
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
        for act in [Act::GeluErf, Act::GeluTanh, Act::Relu, Act::None] {
            let mut got = xs.clone();
            act.apply_slice(&mut got);
            for (x, g) in xs.iter().zip(&got) {
                let w = act.apply(*x);
                assert!((g - w).abs() <= 1e-6 * (1.0 + x.abs()), "{act:?}({x}) = {g}, scalar {w}");
            }
        }
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
