//! aarch64 NEON: a 64-byte weight step is four registers of 4 rows × 4
//! bytes. With the dot-product extension (`sdot`, ARMv8.2: Apple M1 on,
//! Cortex-A76 on) one instruction advances 4 rows by 4 values; without it,
//! `smull` + `sadalp` do the same in two steps and four instructions.

use std::arch::aarch64::*;
use std::ops::Range;

use super::{Activations, Int8Matrix, LANES, QK, STEPS};

/// The 4 activation bytes of (token, block, step), as signed bytes in every
/// 32-bit lane.
#[inline(always)]
unsafe fn broadcast(a: &Activations, k: usize, t: usize, b: usize, s: usize) -> int8x16_t {
    let x = std::ptr::read_unaligned(a.q.as_ptr().add(t * k + b * QK + s * 4).cast::<u32>()) ^ 0x8080_8080;
    vreinterpretq_s8_u32(vdupq_n_u32(x))
}

/// acc + dw·da·dot per lane, as the other paths (multiply, then add).
#[inline(always)]
unsafe fn scale(acc: float32x4_t, dot: int32x4_t, dw: float32x4_t, da: f32) -> float32x4_t {
    vaddq_f32(acc, vmulq_f32(vcvtq_f32_s32(dot), vmulq_f32(dw, vdupq_n_f32(da))))
}

/// The first `rows` of 16 values to y.
#[inline(always)]
unsafe fn store(acc: &[float32x4_t; 4], y: *mut f32, rows: usize) {
    let mut tmp = [0f32; LANES];
    for (i, v) in acc.iter().enumerate() {
        vst1q_f32(tmp.as_mut_ptr().add(4 * i), *v);
    }
    std::ptr::copy_nonoverlapping(tmp.as_ptr(), y, rows);
}

/// `sdot`: each i32 lane plus the dot product of its 4 byte pairs. The
/// intrinsic is not stable Rust yet; the instruction is.
#[inline]
#[target_feature(enable = "dotprod")]
unsafe fn sdot(mut acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    std::arch::asm!("sdot {0:v}.4s, {1:v}.16b, {2:v}.16b", inout(vreg) acc, in(vreg) a, in(vreg) b, options(pure, nomem, nostack));
    acc
}

/// y[toks, rows of groups] with `sdot`, no epilogue.
#[target_feature(enable = "dotprod")]
pub(super) unsafe fn block_dot(w: &Int8Matrix, a: &Activations, groups: Range<usize>, toks: Range<usize>, y: *mut f32) {
    for g in groups {
        let mut t = toks.start;
        while t < toks.end {
            let tn = (toks.end - t).min(4);
            match tn {
                4 => tile_dot::<4>(w, a, g, t, y),
                3 => tile_dot::<3>(w, a, g, t, y),
                2 => tile_dot::<2>(w, a, g, t, y),
                _ => tile_dot::<1>(w, a, g, t, y),
            }
            t += tn;
        }
    }
}

#[inline]
#[target_feature(enable = "dotprod")]
unsafe fn tile_dot<const TN: usize>(w: &Int8Matrix, a: &Activations, g: usize, t0: usize, y: *mut f32) {
    let (nb, k, n) = (w.nb, w.k, w.n);
    let mut acc = [[vdupq_n_f32(0.0); 4]; TN];
    for b in 0..nb {
        let gb = g * nb + b;
        let mut dot = [[vdupq_n_s32(0); 4]; TN];
        for s in 0..STEPS {
            let lp = w.w.as_ptr().add(gb * STEPS + s).cast::<i8>();
            let wv = [vld1q_s8(lp), vld1q_s8(lp.add(16)), vld1q_s8(lp.add(32)), vld1q_s8(lp.add(48))];
            for (j, d) in dot.iter_mut().enumerate() {
                let av = broadcast(a, k, t0 + j, b, s);
                for i in 0..4 {
                    d[i] = sdot(d[i], wv[i], av);
                }
            }
        }
        let sp = w.scales.as_ptr().add(gb * LANES);
        for (j, acc) in acc.iter_mut().enumerate() {
            let da = *a.scales.get_unchecked((t0 + j) * nb + b);
            for i in 0..4 {
                acc[i] = scale(acc[i], dot[j][i], vld1q_f32(sp.add(4 * i)), da);
            }
        }
    }
    let r0 = g * LANES;
    for (j, acc) in acc.iter().enumerate() {
        store(acc, y.add((t0 + j) * n + r0), (n - r0).min(LANES));
    }
}

/// y[toks, rows of groups] without the dot-product extension, no epilogue.
pub(super) unsafe fn block(w: &Int8Matrix, a: &Activations, groups: Range<usize>, toks: Range<usize>, y: *mut f32) {
    for g in groups {
        let mut t = toks.start;
        while t < toks.end {
            let tn = (toks.end - t).min(2);
            match tn {
                2 => tile::<2>(w, a, g, t, y),
                _ => tile::<1>(w, a, g, t, y),
            }
            t += tn;
        }
    }
}

/// Products of 4 rows' low and high 8 bytes in i16 (|127·127| fits), added
/// pairwise into i32 as [r0, r0, r1, r1] and [r2, r2, r3, r3]; the pairs are
/// folded once per block.
#[inline]
unsafe fn tile<const TN: usize>(w: &Int8Matrix, a: &Activations, g: usize, t0: usize, y: *mut f32) {
    let (nb, k, n) = (w.nb, w.k, w.n);
    let mut acc = [[vdupq_n_f32(0.0); 4]; TN];
    for b in 0..nb {
        let gb = g * nb + b;
        let mut lo = [[vdupq_n_s32(0); 4]; TN];
        let mut hi = [[vdupq_n_s32(0); 4]; TN];
        for s in 0..STEPS {
            let lp = w.w.as_ptr().add(gb * STEPS + s).cast::<i8>();
            let wv = [vld1q_s8(lp), vld1q_s8(lp.add(16)), vld1q_s8(lp.add(32)), vld1q_s8(lp.add(48))];
            for j in 0..TN {
                let av = broadcast(a, k, t0 + j, b, s);
                for i in 0..4 {
                    lo[j][i] = vpadalq_s16(lo[j][i], vmull_s8(vget_low_s8(wv[i]), vget_low_s8(av)));
                    hi[j][i] = vpadalq_s16(hi[j][i], vmull_high_s8(wv[i], av));
                }
            }
        }
        let sp = w.scales.as_ptr().add(gb * LANES);
        for (j, acc) in acc.iter_mut().enumerate() {
            let da = *a.scales.get_unchecked((t0 + j) * nb + b);
            for i in 0..4 {
                let dot = vpaddq_s32(lo[j][i], hi[j][i]);
                acc[i] = scale(acc[i], dot, vld1q_f32(sp.add(4 * i)), da);
            }
        }
    }
    let r0 = g * LANES;
    for (j, acc) in acc.iter().enumerate() {
        store(acc, y.add((t0 + j) * n + r0), (n - r0).min(LANES));
    }
}
