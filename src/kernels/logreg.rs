//! The loops of the logistic regression's loss and gradient
//! ([`crate::classify::logreg`]): dense logits and gradients by blocks of
//! rows, sparse rows (hashed n-grams) by 64-byte lane blocks. Plain loops
//! over fixed-size arrays, which the compiler vectorises: to AVX-512 where
//! the machine's kernels use it ([`vectorised`]), to AVX2/NEON/simd128
//! otherwise. The sums run in an order fixed by the code (lane arrays, no
//! fused multiply-add), so the vector width does not change the result.

/// Runs `work` compiled for AVX-512 where this machine's kernels use it
/// (what `work` calls should be `#[inline(always)]`, so that its loops are
/// compiled inside, with the wider lanes), else as it is.
#[inline]
pub fn vectorised<R>(work: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        fn avx512<R>(work: impl FnOnce() -> R) -> R {
            work()
        }
        if super::simd::level() == super::simd::Level::Avx512 {
            // SAFETY: the CPU has AVX-512F (the level is chosen by detection).
            return unsafe { avx512(work) };
        }
    }
    work()
}

/// Width of one sparse-weight block: the `k` class weights of an n-gram are
/// padded to whole 64-byte blocks, so each non-zero costs one aligned cache
/// line and fixed-width multiply-adds instead of a short variable loop.
pub const LANES: usize = 16;

#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub struct Lanes([f32; LANES]);

impl Lanes {
    pub const ZERO: Lanes = Lanes([0.0; LANES]);

    #[inline(always)]
    fn add_scaled(&mut self, v: f32, w: &Lanes) {
        for l in 0..LANES {
            self.0[l] += v * w.0[l];
        }
    }

    /// `k` values laid out as `k.div_ceil(LANES)` blocks, zero-padded.
    pub fn pack(values: impl ExactSizeIterator<Item = f32>, out: &mut Vec<Lanes>) {
        let start = out.len();
        let k = values.len();
        out.resize(start + k.div_ceil(LANES), Lanes::ZERO);
        for (c, v) in values.enumerate() {
            out[start + c / LANES].0[c % LANES] = v;
        }
    }

    pub fn get(blocks: &[Lanes], c: usize) -> f32 {
        blocks[c / LANES].0[c % LANES]
    }
}

/// `out = Σ v · table[j]` over the pairs `(j, v)`, each table row `out.len()`
/// lane blocks: a sparse row times the weights (logits), or a sparse column
/// times the residuals (gradient). One and two blocks (up to 32 segments)
/// keep the sums in registers, with AVX-512 where the CPU has it.
pub fn sparse_dot(idx: &[u32], val: &[f32], table: &[Lanes], out: &mut [Lanes]) {
    #[inline(always)]
    fn fixed<const B: usize>(idx: &[u32], val: &[f32], table: &[Lanes]) -> [Lanes; B] {
        // Plain index loops: iterator adapters here were left as calls, one
        // per non-zero.
        let mut acc = [Lanes::ZERO; B];
        for t in 0..idx.len().min(val.len()) {
            let (j, v) = (idx[t] as usize, val[t]);
            let row: &[Lanes; B] = table[j * B..(j + 1) * B].try_into().expect("B blocks");
            for b in 0..B {
                acc[b].add_scaled(v, &row[b]);
            }
        }
        acc
    }
    fn dispatch<const B: usize>(idx: &[u32], val: &[f32], table: &[Lanes]) -> [Lanes; B] {
        vectorised(|| fixed::<B>(idx, val, table))
    }
    match out.len() {
        1 => out.copy_from_slice(&dispatch::<1>(idx, val, table)),
        2 => out.copy_from_slice(&dispatch::<2>(idx, val, table)),
        b => {
            out.fill(Lanes::ZERO);
            for (&j, &v) in idx.iter().zip(val) {
                out.iter_mut().zip(&table[j as usize * b..(j as usize + 1) * b]).for_each(|(a, w)| a.add_scaled(v, w));
            }
        }
    }
}

/// `z[c] = w_c · x` for every class, four classes per pass over `x` so each
/// loaded chunk of `x` feeds four independent accumulator chains. Fixed-size
/// chunks let the compiler drop bounds checks and vectorise (AVX natively,
/// simd128 in the browser).
#[inline(always)]
pub fn logits(x: &[f32], w: &[f32], d: usize, z: &mut [f32]) {
    let k = z.len();
    let (xc, xt) = x.as_chunks::<8>();
    let tail = xt.len();
    let mut c = 0;
    while c + 4 <= k {
        let row = |q: usize| w[(c + q) * d..(c + q + 1) * d].as_chunks::<8>();
        let ((w0, t0), (w1, t1), (w2, t2), (w3, t3)) = (row(0), row(1), row(2), row(3));
        let mut a = [[0f32; 8]; 4];
        for i in 0..xc.len() {
            let xs = &xc[i];
            let (r0, r1, r2, r3) = (&w0[i], &w1[i], &w2[i], &w3[i]);
            for l in 0..8 {
                a[0][l] += xs[l] * r0[l];
                a[1][l] += xs[l] * r1[l];
                a[2][l] += xs[l] * r2[l];
                a[3][l] += xs[l] * r3[l];
            }
        }
        for (q, t) in [t0, t1, t2, t3].into_iter().enumerate() {
            let tail_sum: f32 = (0..tail).map(|j| xt[j] * t[j]).sum();
            z[c + q] = a[q].iter().sum::<f32>() + tail_sum;
        }
        c += 4;
    }
    while c < k {
        z[c] = dot(x, &w[c * d..(c + 1) * d]);
        c += 1;
    }
}

/// Width of the column strips the block kernels work in: one AVX-512 register.
const STRIP: usize = 16;

/// `z[i·k + c] = w_c · x_i` for a block of rows `x` (row-major, `d` wide):
/// two rows by four classes at a time, so each loaded strip of weights
/// feeds two rows and each strip of a row four classes (eight independent
/// accumulators, against one load per multiply-add one row at a time).
#[inline(always)]
pub fn block_logits(x: &[f32], w: &[f32], d: usize, z: &mut [f32]) {
    let k = w.len() / d;
    let n = x.len() / d;
    let mut i = 0;
    while i + 2 <= n && d % STRIP == 0 {
        let (x0, _) = x[i * d..(i + 1) * d].as_chunks::<STRIP>();
        let (x1, _) = x[(i + 1) * d..(i + 2) * d].as_chunks::<STRIP>();
        let mut c = 0;
        while c + 4 <= k {
            let row = |q: usize| w[(c + q) * d..(c + q + 1) * d].as_chunks::<STRIP>().0;
            let (w0, w1, w2, w3) = (row(0), row(1), row(2), row(3));
            let mut a = [[0f32; STRIP]; 8];
            for t in 0..x0.len() {
                let (p, q) = (&x0[t], &x1[t]);
                let (r0, r1, r2, r3) = (&w0[t], &w1[t], &w2[t], &w3[t]);
                for l in 0..STRIP {
                    a[0][l] += p[l] * r0[l];
                    a[1][l] += p[l] * r1[l];
                    a[2][l] += p[l] * r2[l];
                    a[3][l] += p[l] * r3[l];
                    a[4][l] += q[l] * r0[l];
                    a[5][l] += q[l] * r1[l];
                    a[6][l] += q[l] * r2[l];
                    a[7][l] += q[l] * r3[l];
                }
            }
            for (m, acc) in a.iter().enumerate() {
                z[(i + m / 4) * k + c + m % 4] = acc.iter().sum();
            }
            c += 4;
        }
        for r in i..i + 2 {
            for c in c..k {
                z[r * k + c] = dot(&x[r * d..(r + 1) * d], &w[c * d..(c + 1) * d]);
            }
        }
        i += 2;
    }
    for r in i..n {
        logits(&x[r * d..(r + 1) * d], w, d, &mut z[r * k..(r + 1) * k]);
    }
}

/// `g_c += Σ_i r[i·k + c] · x_i` over a block of rows: a strip of columns at
/// a time, the block's rows streamed through four classes' accumulators
/// held in registers, so the gradient is loaded and stored once per strip
/// instead of once per row.
#[inline(always)]
pub fn block_gradient(x: &[f32], r: &[f32], d: usize, g: &mut [f32]) {
    let k = g.len() / d;
    let mut c = 0;
    while c + 4 <= k && d % STRIP == 0 {
        for j in (0..d).step_by(STRIP) {
            let (mut a0, mut a1, mut a2, mut a3) = ([0f32; STRIP], [0f32; STRIP], [0f32; STRIP], [0f32; STRIP]);
            for (xi, ri) in x.chunks_exact(d).zip(r.chunks_exact(k)) {
                let xs: &[f32; STRIP] = xi[j..j + STRIP].try_into().expect("a strip");
                let (r0, r1, r2, r3) = (ri[c], ri[c + 1], ri[c + 2], ri[c + 3]);
                for l in 0..STRIP {
                    a0[l] += r0 * xs[l];
                    a1[l] += r1 * xs[l];
                    a2[l] += r2 * xs[l];
                    a3[l] += r3 * xs[l];
                }
            }
            for (q, aq) in [a0, a1, a2, a3].iter().enumerate() {
                let gq = &mut g[(c + q) * d + j..(c + q) * d + j + STRIP];
                gq.iter_mut().zip(aq).for_each(|(g, a)| *g += a);
            }
        }
        c += 4;
    }
    for c in c..k {
        for (xi, ri) in x.chunks_exact(d).zip(r.chunks_exact(k)) {
            g[c * d..(c + 1) * d].iter_mut().zip(xi).for_each(|(g, x)| *g += ri[c] * x);
        }
    }
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::metrics::SplitMix64;

    fn next_f32(rng: &mut SplitMix64) -> f32 {
        (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    /// The block kernels against plain loops, on shapes that take every
    /// path: whole strips or not, classes in fours or not, an odd row.
    #[test]
    fn block_kernels_match_plain_loops() {
        let mut rng = SplitMix64(7);
        for (n, d, k) in [(7, 32, 5), (6, 48, 8), (5, 20, 4), (3, 16, 3), (1, 32, 12), (4, 7, 6)] {
            let x: Vec<f32> = (0..n * d).map(|_| next_f32(&mut rng)).collect();
            let w: Vec<f32> = (0..k * d).map(|_| next_f32(&mut rng)).collect();
            let r: Vec<f32> = (0..n * k).map(|_| next_f32(&mut rng)).collect();
            let mut z = vec![0f32; n * k];
            block_logits(&x, &w, d, &mut z);
            let mut g = vec![0.5f32; k * d];
            block_gradient(&x, &r, d, &mut g);
            for i in 0..n {
                for c in 0..k {
                    let want: f32 = (0..d).map(|j| x[i * d + j] * w[c * d + j]).sum();
                    assert!((z[i * k + c] - want).abs() < 1e-4, "logit {i},{c} of {n}x{d}x{k}");
                }
            }
            for c in 0..k {
                for j in 0..d {
                    let want = 0.5 + (0..n).map(|i| r[i * k + c] * x[i * d + j]).sum::<f32>();
                    assert!((g[c * d + j] - want).abs() < 1e-4, "gradient {c},{j} of {n}x{d}x{k}");
                }
            }
        }
    }


    /// A sparse row times the lane-block table, for one, two and three
    /// blocks (the fixed and the general paths), against plain sums.
    #[test]
    fn sparse_dot_matches_plain_sums() {
        let mut rng = SplitMix64(11);
        for k in [5, 16, 17, 32, 40] {
            let rows = 9;
            let dense: Vec<f32> = (0..rows * k).map(|_| next_f32(&mut rng)).collect();
            let mut table = Vec::new();
            for r in dense.chunks_exact(k) {
                Lanes::pack(r.iter().copied(), &mut table);
            }
            let (idx, val) = ([0u32, 3, 4, 8], [0.5f32, -1.0, 2.0, 0.25]);
            let mut out = vec![Lanes::ZERO; k.div_ceil(LANES)];
            sparse_dot(&idx, &val, &table, &mut out);
            for c in 0..k {
                let want: f32 = idx.iter().zip(&val).map(|(&j, &v)| v * dense[j as usize * k + c]).sum();
                assert!((Lanes::get(&out, c) - want).abs() < 1e-5, "class {c} of {k}");
            }
        }
    }
}
