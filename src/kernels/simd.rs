//! f32 vectors of every instruction set the kernels run on, behind one trait,
//! so that attention and the element-wise maths are written once and
//! compiled for AVX-512, AVX2 + FMA, NEON and WebAssembly SIMD128.
//!
//! The f32 kernels follow the int8 kernels' choice ([`super::int8::path`]),
//! so that forcing a path (`CREATIVE_FILTER_KERNEL=avx2`) exercises the
//! whole of that CPU's code, not a mix.
//!
//! A kernel is a generic `#[inline(always)]` function over `S: F32s`; each
//! instruction set gets one entry function carrying its
//! `#[target_feature]`, into which the generic code and the intrinsics
//! below inline.

use super::int8::{self, Path};

/// The f32 instruction set in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Avx512,
    Avx2,
    Neon,
    Wasm,
    Scalar,
}

impl Level {
    pub const ALL: [Level; 5] = [Level::Avx512, Level::Avx2, Level::Neon, Level::Wasm, Level::Scalar];

    /// Whether this machine (in wasm: this build) can run the level.
    pub fn supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "aarch64")]
            Level::Neon => true,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Level::Wasm => true,
            Level::Scalar => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// The level matching the int8 path in use (chosen once).
pub fn level() -> Level {
    static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| match int8::path() {
        Path::Avx512Vnni => Level::Avx512,
        Path::Avx2 if Level::Avx2.supported() => Level::Avx2,
        Path::NeonDot | Path::Neon => Level::Neon,
        Path::WasmRelaxed | Path::WasmSimd128 => Level::Wasm,
        _ => Level::Scalar,
    })
}

/// Lanes of f32 and the operations the kernels need on them. All methods
/// are unsafe: they need the instruction set, and pointers must be valid
/// for `LANES` values.
pub trait F32s {
    type V: Copy;
    const LANES: usize;
    unsafe fn splat(x: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// a·b + c, fused where the instruction set has it.
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// To the nearest whole number, ties to even.
    unsafe fn round(a: Self::V) -> Self::V;
    /// 2ⁿ for whole n in −126..=127.
    unsafe fn pow2(n: Self::V) -> Self::V;
    unsafe fn abs(a: Self::V) -> Self::V;
    /// |m| with the sign of s.
    unsafe fn copysign(m: Self::V, s: Self::V) -> Self::V;
    unsafe fn reduce_max(a: Self::V) -> f32;
    unsafe fn reduce_add(a: Self::V) -> f32;
}

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::F32s;

    pub struct Avx512;
    pub struct Avx2;

    impl F32s for Avx512 {
        type V = __m512;
        const LANES: usize = 16;
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            _mm512_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            _mm512_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            _mm512_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            _mm512_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: __m512, b: __m512) -> __m512 {
            _mm512_sub_ps(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: __m512, b: __m512) -> __m512 {
            _mm512_mul_ps(a, b)
        }
        #[inline(always)]
        unsafe fn div(a: __m512, b: __m512) -> __m512 {
            _mm512_div_ps(a, b)
        }
        #[inline(always)]
        unsafe fn max(a: __m512, b: __m512) -> __m512 {
            _mm512_max_ps(a, b)
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m512, b: __m512, c: __m512) -> __m512 {
            _mm512_fmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn round(a: __m512) -> __m512 {
            _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a)
        }
        #[inline(always)]
        unsafe fn pow2(n: __m512) -> __m512 {
            _mm512_scalef_ps(_mm512_set1_ps(1.0), n)
        }
        #[inline(always)]
        unsafe fn abs(a: __m512) -> __m512 {
            _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(i32::MAX)))
        }
        #[inline(always)]
        unsafe fn copysign(m: __m512, s: __m512) -> __m512 {
            let sign = _mm512_and_si512(_mm512_castps_si512(s), _mm512_set1_epi32(i32::MIN));
            _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(Self::abs(m)), sign))
        }
        #[inline(always)]
        unsafe fn reduce_max(a: __m512) -> f32 {
            _mm512_reduce_max_ps(a)
        }
        #[inline(always)]
        unsafe fn reduce_add(a: __m512) -> f32 {
            _mm512_reduce_add_ps(a)
        }
    }

    impl F32s for Avx2 {
        type V = __m256;
        const LANES: usize = 8;
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            _mm256_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            _mm256_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            _mm256_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            _mm256_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: __m256, b: __m256) -> __m256 {
            _mm256_sub_ps(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            _mm256_mul_ps(a, b)
        }
        #[inline(always)]
        unsafe fn div(a: __m256, b: __m256) -> __m256 {
            _mm256_div_ps(a, b)
        }
        #[inline(always)]
        unsafe fn max(a: __m256, b: __m256) -> __m256 {
            _mm256_max_ps(a, b)
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m256, b: __m256, c: __m256) -> __m256 {
            _mm256_fmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn round(a: __m256) -> __m256 {
            _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a)
        }
        #[inline(always)]
        unsafe fn pow2(n: __m256) -> __m256 {
            let e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
            _mm256_castsi256_ps(_mm256_slli_epi32::<23>(e))
        }
        #[inline(always)]
        unsafe fn abs(a: __m256) -> __m256 {
            _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX)))
        }
        #[inline(always)]
        unsafe fn copysign(m: __m256, s: __m256) -> __m256 {
            let sign = _mm256_and_ps(s, _mm256_castsi256_ps(_mm256_set1_epi32(i32::MIN)));
            _mm256_or_ps(Self::abs(m), sign)
        }
        #[inline(always)]
        unsafe fn reduce_max(a: __m256) -> f32 {
            let m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
            let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
            _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)))
        }
        #[inline(always)]
        unsafe fn reduce_add(a: __m256) -> f32 {
            let s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
        }
    }
}

#[cfg(target_arch = "aarch64")]
pub use neon::Neon;

#[cfg(target_arch = "aarch64")]
mod neon {
    use std::arch::aarch64::*;

    use super::F32s;

    pub struct Neon;

    impl F32s for Neon {
        type V = float32x4_t;
        const LANES: usize = 4;
        #[inline(always)]
        unsafe fn splat(x: f32) -> float32x4_t {
            vdupq_n_f32(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> float32x4_t {
            vld1q_f32(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: float32x4_t) {
            vst1q_f32(p, v)
        }
        #[inline(always)]
        unsafe fn add(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            vaddq_f32(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            vsubq_f32(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            vmulq_f32(a, b)
        }
        #[inline(always)]
        unsafe fn div(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            vdivq_f32(a, b)
        }
        #[inline(always)]
        unsafe fn max(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            vmaxq_f32(a, b)
        }
        #[inline(always)]
        unsafe fn mul_add(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
            vfmaq_f32(c, a, b)
        }
        #[inline(always)]
        unsafe fn round(a: float32x4_t) -> float32x4_t {
            vrndnq_f32(a)
        }
        #[inline(always)]
        unsafe fn pow2(n: float32x4_t) -> float32x4_t {
            let e = vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127));
            vreinterpretq_f32_s32(vshlq_n_s32::<23>(e))
        }
        #[inline(always)]
        unsafe fn abs(a: float32x4_t) -> float32x4_t {
            vabsq_f32(a)
        }
        #[inline(always)]
        unsafe fn copysign(m: float32x4_t, s: float32x4_t) -> float32x4_t {
            // Bit select: the sign bit from s, the rest from m.
            vbslq_f32(vdupq_n_u32(0x8000_0000), s, m)
        }
        #[inline(always)]
        unsafe fn reduce_max(a: float32x4_t) -> f32 {
            vmaxvq_f32(a)
        }
        #[inline(always)]
        unsafe fn reduce_add(a: float32x4_t) -> f32 {
            vaddvq_f32(a)
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use wasm::Wasm;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use core::arch::wasm32::*;

    use super::F32s;

    pub struct Wasm;

    impl F32s for Wasm {
        type V = v128;
        const LANES: usize = 4;
        #[inline(always)]
        unsafe fn splat(x: f32) -> v128 {
            f32x4_splat(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> v128 {
            v128_load(p.cast())
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: v128) {
            v128_store(p.cast(), v)
        }
        #[inline(always)]
        unsafe fn add(a: v128, b: v128) -> v128 {
            f32x4_add(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: v128, b: v128) -> v128 {
            f32x4_sub(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: v128, b: v128) -> v128 {
            f32x4_mul(a, b)
        }
        #[inline(always)]
        unsafe fn div(a: v128, b: v128) -> v128 {
            f32x4_div(a, b)
        }
        #[inline(always)]
        unsafe fn max(a: v128, b: v128) -> v128 {
            // pmax: a plain compare-and-select, where f32x4_max's NaN rules
            // cost engines several instructions.
            f32x4_pmax(a, b)
        }
        #[inline(always)]
        unsafe fn mul_add(a: v128, b: v128, c: v128) -> v128 {
            // Multiply, then add, in both modules: a relaxed (fused) madd
            // rounds once where this rounds twice, and that was enough for
            // the threaded and the portable module to transcribe the same
            // creative differently (tests/browser/e2e.mjs asks for the
            // same segment). The same arithmetic keeps them bit-identical.
            f32x4_add(f32x4_mul(a, b), c)
        }
        #[inline(always)]
        unsafe fn round(a: v128) -> v128 {
            f32x4_nearest(a)
        }
        #[inline(always)]
        unsafe fn pow2(n: v128) -> v128 {
            i32x4_shl(i32x4_add(i32x4_trunc_sat_f32x4(n), i32x4_splat(127)), 23)
        }
        #[inline(always)]
        unsafe fn abs(a: v128) -> v128 {
            f32x4_abs(a)
        }
        #[inline(always)]
        unsafe fn copysign(m: v128, s: v128) -> v128 {
            v128_bitselect(s, m, u32x4_splat(0x8000_0000))
        }
        #[inline(always)]
        unsafe fn reduce_max(a: v128) -> f32 {
            let m = f32x4_pmax(a, i32x4_shuffle::<2, 3, 0, 1>(a, a));
            let m = f32x4_pmax(m, i32x4_shuffle::<1, 0, 3, 2>(m, m));
            f32x4_extract_lane::<0>(m)
        }
        #[inline(always)]
        unsafe fn reduce_add(a: v128) -> f32 {
            let s = f32x4_add(a, i32x4_shuffle::<2, 3, 0, 1>(a, a));
            let s = f32x4_add(s, i32x4_shuffle::<1, 0, 3, 2>(s, s));
            f32x4_extract_lane::<0>(s)
        }
    }
}
