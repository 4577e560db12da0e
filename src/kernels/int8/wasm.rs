//! WebAssembly: a 64-byte weight step is four v128 of 4 rows × 4 bytes.
//! A module cannot probe for instructions (an unknown one fails
//! validation), so the build picks: with `+relaxed-simd` the relaxed dot
//! product, else the SIMD128 one on bytes widened to i16. The page ships
//! both modules and loads the one the browser validates.

use core::arch::wasm32::*;

use super::{Activations, Int8Matrix, LANES, QK, STEPS};

/// The 4 activation bytes of (token, block, step), as signed bytes in every
/// 32-bit lane.
#[inline(always)]
unsafe fn broadcast(a: &Activations, k: usize, t: usize, b: usize, s: usize) -> v128 {
    let x = std::ptr::read_unaligned(a.q.as_ptr().add(t * k + b * QK + s * 4).cast::<u32>()) ^ 0x8080_8080;
    u32x4_splat(x)
}

#[inline(always)]
unsafe fn load_step(w: &Int8Matrix, gb: usize, s: usize) -> [v128; 4] {
    let lp = w.w.as_ptr().add(gb * STEPS + s).cast::<v128>();
    [v128_load(lp), v128_load(lp.add(1)), v128_load(lp.add(2)), v128_load(lp.add(3))]
}

/// [`Activations::quantize_portable`] four values at a time, with the same
/// numbers: the same scale, the same product, and `f32x4.nearest` rounds
/// half to even; the narrowing saturates as `as i8` does.
pub(super) unsafe fn quantize(x: &[f32], q: *mut u8, scales: *mut f32) {
    for (i, xs) in x.chunks_exact(QK).enumerate() {
        let p = xs.as_ptr();
        let v: [v128; 8] = std::array::from_fn(|j| v128_load(p.add(4 * j).cast()));
        let m = v[1..].iter().fold(f32x4_abs(v[0]), |m, &x| f32x4_max(m, f32x4_abs(x)));
        let m = f32x4_max(m, i32x4_shuffle::<2, 3, 0, 1>(m, m));
        let amax = f32x4_extract_lane::<0>(f32x4_max(m, i32x4_shuffle::<1, 0, 3, 2>(m, m)));
        scales.add(i).write(amax / 127.0);
        let id = f32x4_splat(if amax > 0.0 { 127.0 / amax } else { 0.0 });
        let r: [v128; 8] = std::array::from_fn(|j| i32x4_trunc_sat_f32x4(f32x4_nearest(f32x4_mul(v[j], id))));
        let h: [v128; 4] = std::array::from_fn(|j| i16x8_narrow_i32x4(r[2 * j], r[2 * j + 1]));
        let flip = i8x16_splat(-128);
        v128_store(q.add(i * QK).cast(), v128_xor(i8x16_narrow_i16x8(h[0], h[1]), flip));
        v128_store(q.add(i * QK + 16).cast(), v128_xor(i8x16_narrow_i16x8(h[2], h[3]), flip));
    }
}

/// acc + dw·da·dot per lane, as the other paths (multiply, then add: no
/// relaxed madd, whose fusing is up to the engine).
#[inline(always)]
unsafe fn scale(acc: v128, dot: v128, dw: *const f32, da: f32) -> v128 {
    f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(dot), f32x4_mul(v128_load(dw.cast()), f32x4_splat(da))))
}

/// The first `rows` of 16 values to y.
#[inline(always)]
unsafe fn store(acc: &[v128; 4], y: *mut f32, rows: usize) {
    let mut tmp = [0f32; LANES];
    for (i, v) in acc.iter().enumerate() {
        v128_store(tmp.as_mut_ptr().add(4 * i).cast(), *v);
    }
    std::ptr::copy_nonoverlapping(tmp.as_ptr(), y, rows);
}

/// Tiles of up to 2 tokens × 16 rows (16 v128 accumulators at most, so that
/// engines on x86 hosts keep them in registers).
macro_rules! blocks {
    ($tile:ident) => {
        pub(in super::super) unsafe fn block(w: &Int8Matrix, a: &Activations, groups: std::ops::Range<usize>, toks: std::ops::Range<usize>, y: *mut f32) {
            for g in groups {
                let mut t = toks.start;
                while t < toks.end {
                    let tn = (toks.end - t).min(2);
                    match tn {
                        2 => $tile::<2>(w, a, g, t, y),
                        _ => $tile::<1>(w, a, g, t, y),
                    }
                    t += tn;
                }
            }
        }
    };
}

#[cfg(target_feature = "relaxed-simd")]
pub(super) mod relaxed {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::OnceLock;

    use super::*;

    /// How this engine computes `i32x4.relaxed_dot_i8x16_i7x16_add` when the
    /// second operand leaves 0..=127. The proposal lets each engine choose
    /// (once: the same inputs always give the same result), and the choice
    /// decides how many instructions a 4-byte dot product costs.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Dot {
        /// Unsigned second operand, exact (V8 on x86 with AVX-VNNI:
        /// `vpdpbusd`): the stored activations (q + 128) go in as they are
        /// and each row starts from −128·Σw, as on AVX-512 VNNI.
        UnsignedBySigned,
        /// Signed second operand, exact (`sdot` on ARM, AVX-VNNI-INT8's
        /// `vpdpbssd`): the signed activations go in as they are.
        SignedBySigned,
        /// Only 0..=127 is safe (V8 on x86 without AVX-VNNI lowers it to `pmaddubsw`,
        /// whose pair sums saturate): |a| in, a's sign moved to the weights.
        SevenBit,
    }

    impl Dot {
        pub fn name(self) -> &'static str {
            match self {
                Dot::UnsignedBySigned => "u8·i8 dot",
                Dot::SignedBySigned => "i8·i8 dot",
                Dot::SevenBit => "7-bit dot",
            }
        }
    }

    /// Set by the self-test to run the 7-bit form, which every engine computes exactly.
    static SEVEN_BIT: AtomicBool = AtomicBool::new(false);

    /// The form this engine computes exactly (probed once).
    pub fn dot() -> Dot {
        static DOT: OnceLock<Dot> = OnceLock::new();
        if SEVEN_BIT.load(Ordering::Relaxed) {
            return Dot::SevenBit;
        }
        *DOT.get_or_init(probe)
    }

    /// `f` with the 7-bit form forced (for the self-test).
    pub fn with_seven_bit<T>(f: impl FnOnce() -> T) -> T {
        SEVEN_BIT.store(true, Ordering::Relaxed);
        let r = f();
        SEVEN_BIT.store(false, Ordering::Relaxed);
        r
    }

    /// Runs the instruction on operands outside 0..=127 and compares with
    /// both exact readings. The operands pass through `black_box` so that
    /// neither the compiler nor wasm-opt evaluates the instruction at build
    /// time by its own reading. The last lane's first pair sums to 64,770,
    /// beyond i16: an engine that lowers the instruction to `pmaddubsw`
    /// (V8 on x86 without AVX-VNNI, e.g. AMD Zen 4, whose VNNI is AVX-512
    /// only) saturates it and so reads as neither exact form.
    fn probe() -> Dot {
        let a: [i8; 16] = [-100, 127, -127, 55, 1, -1, 99, -128, 127, -127, 3, 64, 127, 127, -127, 0];
        let b: [u8; 16] = [200, 255, 128, 3, 255, 255, 129, 77, 128, 255, 250, 0, 255, 255, 255, 0];
        let (a, b) = (std::hint::black_box(a), std::hint::black_box(b));
        let got: [i32; 4] = unsafe {
            let r = i32x4_relaxed_dot_i8x16_i7x16_add(v128_load(a.as_ptr().cast()), v128_load(b.as_ptr().cast()), i32x4_splat(std::hint::black_box(7)));
            std::mem::transmute(r)
        };
        let exact = |second: fn(u8) -> i32| (0..4).all(|l| got[l] == 7 + (0..4).map(|j| a[4 * l + j] as i32 * second(b[4 * l + j])).sum::<i32>());
        if exact(|v| v as i32) {
            Dot::UnsignedBySigned
        } else if exact(|v| v as i8 as i32) {
            Dot::SignedBySigned
        } else {
            Dot::SevenBit
        }
    }

    pub(in super::super) unsafe fn block(w: &Int8Matrix, a: &Activations, groups: std::ops::Range<usize>, toks: std::ops::Range<usize>, y: *mut f32) {
        match dot() {
            Dot::UnsignedBySigned => tiles::<UnsignedBySigned>(w, a, groups, toks, y),
            Dot::SignedBySigned => tiles::<SignedBySigned>(w, a, groups, toks, y),
            Dot::SevenBit => tiles::<SevenBit>(w, a, groups, toks, y),
        }
    }

    /// One form of the block's dot products: what each row starts from and
    /// one 4-byte step for one token.
    trait Form {
        #[inline(always)]
        unsafe fn start(_: &Int8Matrix, _: usize) -> [v128; 4] {
            [i32x4_splat(0); 4]
        }
        unsafe fn step(wv: &[v128; 4], a: &Activations, k: usize, t: usize, b: usize, s: usize, d: &mut [v128; 4]);
    }

    /// One instruction per 4-byte dot product: the stored activations
    /// (q + 128) as they are, each row starting from −128·Σw.
    struct UnsignedBySigned;
    impl Form for UnsignedBySigned {
        #[inline(always)]
        unsafe fn start(w: &Int8Matrix, gb: usize) -> [v128; 4] {
            let sp = w.start.as_ptr().add(gb * LANES).cast::<v128>();
            [v128_load(sp), v128_load(sp.add(1)), v128_load(sp.add(2)), v128_load(sp.add(3))]
        }
        #[inline(always)]
        unsafe fn step(wv: &[v128; 4], a: &Activations, k: usize, t: usize, b: usize, s: usize, d: &mut [v128; 4]) {
            let av = v128_load32_splat(a.q.as_ptr().add(t * k + b * QK + s * 4).cast());
            for i in 0..4 {
                d[i] = i32x4_relaxed_dot_i8x16_i7x16_add(wv[i], av, d[i]);
            }
        }
    }

    /// One instruction per 4-byte dot product on the signed activations.
    struct SignedBySigned;
    impl Form for SignedBySigned {
        #[inline(always)]
        unsafe fn step(wv: &[v128; 4], a: &Activations, k: usize, t: usize, b: usize, s: usize, d: &mut [v128; 4]) {
            let av = broadcast(a, k, t, b, s);
            for i in 0..4 {
                d[i] = i32x4_relaxed_dot_i8x16_i7x16_add(wv[i], av, d[i]);
            }
        }
    }

    /// The second operand kept in 0..=127 (x86 engines without VNNI lower
    /// the instruction to `pmaddubsw`): |a| in, and a's sign moved onto the
    /// weights, w·sign(a)·|a| = w·a (weights are never −128).
    struct SevenBit;
    impl Form for SevenBit {
        #[inline(always)]
        unsafe fn step(wv: &[v128; 4], a: &Activations, k: usize, t: usize, b: usize, s: usize, d: &mut [v128; 4]) {
            let av = broadcast(a, k, t, b, s);
            let ax = i8x16_abs(av);
            let neg = i8x16_lt(av, i8x16_splat(0));
            for i in 0..4 {
                // (w ^ neg) − neg: w where a ≥ 0, −w where a < 0.
                let ws = i8x16_sub(v128_xor(wv[i], neg), neg);
                d[i] = i32x4_relaxed_dot_i8x16_i7x16_add(ws, ax, d[i]);
            }
        }
    }

    /// Tiles of up to 2 tokens × 16 rows (8 integer accumulators and 4
    /// weight vectors in the inner loop, within x86-64's 16 registers).
    unsafe fn tiles<F: Form>(w: &Int8Matrix, a: &Activations, groups: std::ops::Range<usize>, toks: std::ops::Range<usize>, y: *mut f32) {
        for g in groups {
            let mut t = toks.start;
            while t < toks.end {
                let tn = (toks.end - t).min(2);
                match tn {
                    2 => tile::<2, F>(w, a, g, t, y),
                    _ => tile::<1, F>(w, a, g, t, y),
                }
                t += tn;
            }
        }
    }

    #[inline(always)]
    unsafe fn tile<const TN: usize, F: Form>(w: &Int8Matrix, a: &Activations, g: usize, t0: usize, y: *mut f32) {
        let (nb, k, n) = (w.nb, w.k, w.n);
        let mut acc = [[f32x4_splat(0.0); 4]; TN];
        for b in 0..nb {
            let gb = g * nb + b;
            let mut dot = [F::start(w, gb); TN];
            for s in 0..STEPS {
                let wv = load_step(w, gb, s);
                for (j, d) in dot.iter_mut().enumerate() {
                    F::step(&wv, a, k, t0 + j, b, s, d);
                }
            }
            let sp = w.scales.as_ptr().add(gb * LANES);
            for (j, acc) in acc.iter_mut().enumerate() {
                let da = *a.scales.get_unchecked((t0 + j) * nb + b);
                for i in 0..4 {
                    acc[i] = scale(acc[i], dot[j][i], sp.add(4 * i), da);
                }
            }
        }
        let r0 = g * LANES;
        for (j, acc) in acc.iter().enumerate() {
            store(acc, y.add((t0 + j) * n + r0), (n - r0).min(LANES));
        }
    }
}

pub(super) mod simd128 {
    use super::*;

    blocks!(tile);

    /// Bytes widened to i16 and multiplied pairwise into i32: 4 rows' low 8
    /// bytes give [r0, r0, r1, r1], their high 8 bytes [r2, r2, r3, r3]; the
    /// pairs are folded once per block. The broadcast activations repeat
    /// every 4 bytes, so one widening serves both halves.
    #[inline(always)]
    unsafe fn tile<const TN: usize>(w: &Int8Matrix, a: &Activations, g: usize, t0: usize, y: *mut f32) {
        let (nb, k, n) = (w.nb, w.k, w.n);
        let mut acc = [[f32x4_splat(0.0); 4]; TN];
        for b in 0..nb {
            let gb = g * nb + b;
            let mut lo = [[i32x4_splat(0); 4]; TN];
            let mut hi = [[i32x4_splat(0); 4]; TN];
            for s in 0..STEPS {
                let wv = load_step(w, gb, s);
                let wl = wv.map(|v| i16x8_extend_low_i8x16(v));
                let wh = wv.map(|v| i16x8_extend_high_i8x16(v));
                for j in 0..TN {
                    let av = i16x8_extend_low_i8x16(broadcast(a, k, t0 + j, b, s));
                    for i in 0..4 {
                        lo[j][i] = i32x4_add(lo[j][i], i32x4_dot_i16x8(wl[i], av));
                        hi[j][i] = i32x4_add(hi[j][i], i32x4_dot_i16x8(wh[i], av));
                    }
                }
            }
            let sp = w.scales.as_ptr().add(gb * LANES);
            for (j, acc) in acc.iter_mut().enumerate() {
                let da = *a.scales.get_unchecked((t0 + j) * nb + b);
                for i in 0..4 {
                    let (l, h) = (lo[j][i], hi[j][i]);
                    let dot = i32x4_add(i32x4_shuffle::<0, 2, 4, 6>(l, h), i32x4_shuffle::<1, 3, 5, 7>(l, h));
                    acc[i] = scale(acc[i], dot, sp.add(4 * i), da);
                }
            }
        }
        let r0 = g * LANES;
        for (j, acc) in acc.iter().enumerate() {
            store(acc, y.add((t0 + j) * n + r0), (n - r0).min(LANES));
        }
    }
}
