//! x86-64: AVX-512 VNNI (`vpdpbusd`, 16 rows per register) and AVX2
//! (`vpmaddubsw` + `vpmaddwd`, 8 rows per register).

pub(super) mod avx512 {
    use std::arch::x86_64::*;
    use std::ops::Range;

    use super::super::{Activations, Epilogue, Int8Matrix, LANES, QK, STEPS};
    use crate::kernels::math::act_v;
    use crate::kernels::simd::Avx512;

    /// Tokens per register tile (with 2 row groups: 12 f32 + 12 i32 accumulators).
    const T: usize = 6;

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(in super::super) unsafe fn block(
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
    pub(in super::super) unsafe fn quantize(x: &[f32], q: *mut u8, scales: *mut f32) {
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
                    // Multiply, then add (no FMA): the same roundings as every other path.
                    let p = _mm512_mul_ps(_mm512_cvtepi32_ps(dot[i][j]), _mm512_mul_ps(dw, da));
                    acc[i][j] = _mm512_add_ps(acc[i][j], p);
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
                let mut v = act_v::<Avx512>(ep.act, _mm512_add_ps(acc[i][j], bias));
                if let Some(r) = ep.residual {
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, r.as_ptr().add(at)));
                }
                _mm512_mask_storeu_ps(y.add(at), mask, v);
            }
        }
    }
}

pub(super) mod avx2 {
    use std::arch::x86_64::*;
    use std::ops::Range;

    use super::super::{Activations, Int8Matrix, LANES, QK, STEPS};

    /// Tokens per register tile (8 i32 accumulators for one row group).
    const T: usize = 4;

    /// y[toks, rows of groups], no epilogue.
    #[target_feature(enable = "avx2")]
    pub(in super::super) unsafe fn block(w: &Int8Matrix, a: &Activations, groups: Range<usize>, toks: Range<usize>, y: *mut f32) {
        for g in groups {
            let mut t = toks.start;
            while t < toks.end {
                let tn = (toks.end - t).min(T);
                match tn {
                    4 => tile::<4>(w, a, g, t, y),
                    3 => tile::<3>(w, a, g, t, y),
                    2 => tile::<2>(w, a, g, t, y),
                    _ => tile::<1>(w, a, g, t, y),
                }
                t += tn;
            }
        }
    }

    /// The 16 rows of group g for tokens t0..t0+TN.
    ///
    /// `vpmaddubsw` multiplies unsigned by signed bytes, so (as ggml does)
    /// it gets |a| and w·sign(a): the same products, and a pair of them is at
    /// most 2·127·127 = 32,258, inside i16 (weights are never −128).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn tile<const TN: usize>(w: &Int8Matrix, a: &Activations, g: usize, t0: usize, y: *mut f32) {
        let (nb, k, n) = (w.nb, w.k, w.n);
        let flip = _mm256_set1_epi8(-128);
        let ones = _mm256_set1_epi16(1);
        let mut acc = [[_mm256_setzero_ps(); 2]; TN];
        let qp = a.q.as_ptr();
        for b in 0..nb {
            let gb = g * nb + b;
            let mut dot = [[_mm256_setzero_si256(); 2]; TN];
            for s in 0..STEPS {
                let lp = w.w.as_ptr().add(gb * STEPS + s).cast::<__m256i>();
                let (w0, w1) = (_mm256_load_si256(lp), _mm256_load_si256(lp.add(1)));
                for j in 0..TN {
                    let x = std::ptr::read_unaligned(qp.add((t0 + j) * k + b * QK + s * 4).cast::<i32>());
                    let av = _mm256_xor_si256(_mm256_set1_epi32(x), flip);
                    let ax = _mm256_abs_epi8(av);
                    let p0 = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, av));
                    let p1 = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, av));
                    dot[j][0] = _mm256_add_epi32(dot[j][0], _mm256_madd_epi16(p0, ones));
                    dot[j][1] = _mm256_add_epi32(dot[j][1], _mm256_madd_epi16(p1, ones));
                }
            }
            let sp = w.scales.as_ptr().add(gb * LANES);
            let (dw0, dw1) = (_mm256_loadu_ps(sp), _mm256_loadu_ps(sp.add(8)));
            for j in 0..TN {
                let da = _mm256_set1_ps(*a.scales.get_unchecked((t0 + j) * nb + b));
                let p0 = _mm256_mul_ps(_mm256_cvtepi32_ps(dot[j][0]), _mm256_mul_ps(dw0, da));
                let p1 = _mm256_mul_ps(_mm256_cvtepi32_ps(dot[j][1]), _mm256_mul_ps(dw1, da));
                acc[j][0] = _mm256_add_ps(acc[j][0], p0);
                acc[j][1] = _mm256_add_ps(acc[j][1], p1);
            }
        }
        let r0 = g * LANES;
        let rows = (n - r0).min(LANES);
        for j in 0..TN {
            let at = y.add((t0 + j) * n + r0);
            if rows == LANES {
                _mm256_storeu_ps(at, acc[j][0]);
                _mm256_storeu_ps(at.add(8), acc[j][1]);
            } else {
                let mut tmp = [0f32; LANES];
                _mm256_storeu_ps(tmp.as_mut_ptr(), acc[j][0]);
                _mm256_storeu_ps(tmp.as_mut_ptr().add(8), acc[j][1]);
                std::ptr::copy_nonoverlapping(tmp.as_ptr(), at, rows);
            }
        }
    }

    /// Per 32 values: the block scale and q + 128, as the portable version.
    #[target_feature(enable = "avx2")]
    pub(in super::super) unsafe fn quantize(x: &[f32], q: *mut u8, scales: *mut f32) {
        let abs = _mm256_set1_ps(-0.0);
        // packs works within 128-bit halves; this puts the dwords back in order.
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for i in 0..x.len() / QK {
            let src = x.as_ptr().add(i * QK);
            let v = [_mm256_loadu_ps(src), _mm256_loadu_ps(src.add(8)), _mm256_loadu_ps(src.add(16)), _mm256_loadu_ps(src.add(24))];
            let m = _mm256_max_ps(
                _mm256_max_ps(_mm256_andnot_ps(abs, v[0]), _mm256_andnot_ps(abs, v[1])),
                _mm256_max_ps(_mm256_andnot_ps(abs, v[2]), _mm256_andnot_ps(abs, v[3])),
            );
            let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
            let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
            let amax = _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
            scales.add(i).write(amax / 127.0);
            let id = _mm256_set1_ps(if amax > 0.0 { 127.0 / amax } else { 0.0 });
            // Round half to even (the default rounding mode), then saturate to i8.
            let c = v.map(|v| _mm256_cvtps_epi32(_mm256_mul_ps(v, id)));
            let bytes = _mm256_packs_epi16(_mm256_packs_epi32(c[0], c[1]), _mm256_packs_epi32(c[2], c[3]));
            let bytes = _mm256_xor_si256(_mm256_permutevar8x32_epi32(bytes, order), _mm256_set1_epi8(-128));
            _mm256_storeu_si256(q.add(i * QK).cast(), bytes);
        }
    }
}
