//! Fused multi-head attention, f32: softmax(q·kᵀ · scale) · v per head,
//! reading the queries, keys and values straight out of the projections'
//! outputs (no head transposes) and writing the heads side by side.
//!
//! Each (sequence, head) first packs its unmasked keys transposed and scaled
//! ([head_dim][keys], padded to 16) and its values ([keys][head_dim]); then
//! blocks of queries compute a full row of scores per query in registers
//! tiles, take an exact row-wise softmax (vectorised e^x) and accumulate the
//! values. Rows stay in L1/L2: a query block's scores are at most a few
//! hundred kilobytes even for Whisper's 1,500 positions.

use super::math::{exp_neg, exp_neg_v};
use super::simd::{self, F32s, Level};

/// Per-head rows of a matrix: row r, head h is
/// `data[r * stride + offset + h * head_dim..][..head_dim]`.
#[derive(Clone, Copy, Debug)]
pub struct Heads<'a> {
    pub data: &'a [f32],
    pub stride: usize,
    pub offset: usize,
}

impl<'a> Heads<'a> {
    /// A [rows, heads · head_dim] matrix.
    pub fn dense(data: &'a [f32], width: usize) -> Self {
        Self { data, stride: width, offset: 0 }
    }

    fn row(&self, r: usize, h: usize, hd: usize) -> &'a [f32] {
        let at = r * self.stride + self.offset + h * hd;
        &self.data[at..at + hd]
    }
}

/// `batch` sequences of `len` positions, `heads` heads of `head_dim` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub batch: usize,
    pub len: usize,
    pub heads: usize,
    pub head_dim: usize,
}

/// Keys and values of one (sequence, head), packed.
struct Packed {
    /// Unmasked keys.
    nk: usize,
    /// nk rounded up to 16.
    kp: usize,
    /// [head_dim][kp], times the score scale; zero past nk.
    kt: Vec<f32>,
    /// [nk][head_dim]
    v: Vec<f32>,
}

/// Queries per block of work.
const QUERY_BLOCK: usize = 96;
/// Queries per register tile.
const QT: usize = 6;

/// Self-attention: `out[b·len + i, h·head_dim..]` = Σⱼ softmaxⱼ(scale · qᵢ·kⱼ) vⱼ
/// over the keys j of sequence b whose `mask[b·len + j]` is non-zero (all
/// keys without a mask, or where a sequence masks every key).
/// Returns [batch · len, heads · head_dim].
pub fn attention(q: Heads, k: Heads, v: Heads, shape: Shape, scale: f32, mask: Option<&[f32]>) -> Vec<f32> {
    attention_on(simd::level(), q, k, v, shape, scale, mask)
}

/// [`attention`] on a given instruction set (a supported one).
fn attention_on(
    level: Level,
    q: Heads,
    k: Heads,
    v: Heads,
    shape: Shape,
    scale: f32,
    mask: Option<&[f32]>,
) -> Vec<f32> {
    assert!(level.supported());
    let Shape { batch, len, heads, head_dim: hd } = shape;
    let width = heads * hd;
    if let Some(m) = mask {
        assert_eq!(m.len(), batch * len, "mask is not [batch, len]");
    }
    for x in [&q, &k, &v] {
        assert!(
            batch * len == 0 || (batch * len - 1) * x.stride + x.offset + width <= x.data.len(),
            "a projection is shorter than [batch·len, heads·head_dim]"
        );
    }
    let packed: Vec<Packed> = super::par_map(batch * heads, |item| {
        let (b, h) = (item / heads, item % heads);
        let rows: Vec<usize> = match mask {
            Some(m) => {
                let valid: Vec<usize> = (0..len).filter(|&j| m[b * len + j] != 0.0).collect();
                if valid.is_empty() {
                    (0..len).collect()
                } else {
                    valid
                }
            }
            None => (0..len).collect(),
        };
        let nk = rows.len();
        let kp = nk.div_ceil(16) * 16;
        let mut kt = vec![0f32; hd * kp];
        let mut vv = Vec::with_capacity(nk * hd);
        for (j, &r) in rows.iter().enumerate() {
            for (d, x) in k.row(b * len + r, h, hd).iter().enumerate() {
                kt[d * kp + j] = x * scale;
            }
            vv.extend_from_slice(v.row(b * len + r, h, hd));
        }
        Packed { nk, kp, kt, v: vv }
    });

    // Blocks of about QUERY_BLOCK queries, the same size within a sequence.
    let blocks = len.div_ceil(QUERY_BLOCK).max(1);
    let per_block = len.div_ceil(blocks);
    let mut out = Vec::with_capacity(batch * len * width);
    let out_ptr = OutPtr(out.as_mut_ptr());
    super::par_for(batch * heads * blocks, |item| {
        let out_ptr = out_ptr;
        let (bh, blk) = (item / blocks, item % blocks);
        let (b, h) = (bh / heads, bh % heads);
        let p = &packed[bh];
        let queries = blk * per_block..((blk + 1) * per_block).min(len);
        let mut scores = vec![0f32; QT * p.kp];
        let mut i = queries.start;
        while i < queries.end {
            let n = (queries.end - i).min(QT);
            let rows: [&[f32]; QT] = std::array::from_fn(|j| q.row(b * len + i + j.min(n - 1), h, hd));
            // SAFETY: each item writes only its own queries' columns of head h,
            // inside the capacity of `out`.
            let outs: [*mut f32; QT] =
                std::array::from_fn(|j| unsafe { out_ptr.0.add((b * len + i + j.min(n - 1)) * width + h * hd) });
            tile(level, &rows[..n], p, hd, &mut scores, &outs[..n]);
            i += n;
        }
    });
    // SAFETY: every (row, head) block of `out` was written exactly once above.
    unsafe { out.set_len(batch * len * width) };
    out
}

/// Calls `$f::<S, r, C>($args)` for a number of rows r known only at run time.
macro_rules! by_rows {
    ($r:expr, $f:ident::<$s:ty, _, $c:tt>($($arg:expr),*)) => {
        match $r {
            1 => $f::<$s, 1, $c>($($arg),*),
            2 => $f::<$s, 2, $c>($($arg),*),
            3 => $f::<$s, 3, $c>($($arg),*),
            4 => $f::<$s, 4, $c>($($arg),*),
            5 => $f::<$s, 5, $c>($($arg),*),
            _ => $f::<$s, 6, $c>($($arg),*),
        }
    };
}

/// Queries against a cache of keys and values, per head: for each of the
/// `rows` queries (`q` is `[rows, heads·dh]`, and `out` likewise),
/// `out[r][h·dh..][..dh]` = Σⱼ softmaxⱼ(scale · q_rh·k_hj) v_hj over the
/// first `t` positions, where head h's key j is `k[(h·cap + j)·dh..][..dh]`
/// (and its value likewise in `v`): the decoder's step, one token at a time
/// for each hypothesis. Rows that share a cache (the hypotheses' queries to
/// the audio) go in one call, so its keys and values are read from memory
/// once a step instead of once a row; each row's numbers are the same bits
/// as alone. `scores` is scratch of at least `rows · t` values; given
/// `heads · rows · t`, a large step (the cross-attention over Whisper's 1,500
/// audio positions, 6 MB of keys and values a layer) runs its heads on the
/// thread pool.
#[allow(clippy::too_many_arguments)]
pub fn attend_cached(q: &[f32], rows: usize, k: &[f32], v: &[f32], heads: usize, cap: usize, t: usize, out: &mut [f32], scores: &mut [f32]) {
    attend_cached_on(simd::level(), q, rows, k, v, heads, cap, t, out, scores)
}

/// Multiply-adds of one step from which its heads are spread over the pool:
/// below it, handing them over costs more than it saves.
const PARALLEL_STEP: usize = 1 << 18;

#[allow(clippy::too_many_arguments)]
fn attend_cached_on(
    level: Level,
    q: &[f32],
    rows: usize,
    k: &[f32],
    v: &[f32],
    heads: usize,
    cap: usize,
    t: usize,
    out: &mut [f32],
    scores: &mut [f32],
) {
    let w = q.len() / rows.max(1);
    let dh = w / heads;
    assert!(level.supported() && rows > 0 && t <= cap && scores.len() >= rows * t && out.len() == q.len() && w * rows == q.len());
    assert!(k.len() >= heads * cap * dh && v.len() >= heads * cap * dh, "a cache is shorter than [heads, cap, dh]");
    let one = One { q: q.as_ptr(), k: k.as_ptr(), v: v.as_ptr(), rows, w, heads, cap, t, dh, out: out.as_mut_ptr(), s: scores.as_mut_ptr() };
    if heads > 1 && heads * rows * t * dh >= PARALLEL_STEP && scores.len() >= heads * rows * t {
        let one = Shared(one);
        // SAFETY: head h reads its own keys and values and writes only its
        // own output values and its own rows · t scores (scores holds
        // heads · rows · t).
        super::par_for(heads, |h| unsafe { one_heads(level, &one.head(h)) });
    } else {
        // SAFETY: the slices' sizes were checked above.
        unsafe { one_heads(level, &one) }
    }
}

/// The heads of `o` in turn, on `level`'s kernel.
///
/// # Safety
/// `level` is supported; `o`'s pointers span what [`attend_cached`] asserts.
unsafe fn one_heads(level: Level, o: &One) {
    let dh = o.dh;
    match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 if dh % 16 == 0 => return x86::one_avx512(o),
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 if dh % 8 == 0 => return x86::one_avx2(o),
        #[cfg(target_arch = "aarch64")]
        Level::Neon if dh % 4 == 0 => return one_v::<simd::Neon, 4, 2>(o),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Level::Wasm if dh % 4 == 0 => return one_v::<simd::Wasm, 4, 2>(o),
        _ => {}
    }
    let (t, cap) = (o.t, o.cap);
    let scale = 1.0 / (dh as f32).sqrt();
    for r in 0..o.rows {
        let scores = std::slice::from_raw_parts_mut(o.s.add(r * t), t);
        for h in 0..o.heads {
            let qh = std::slice::from_raw_parts(o.q.add(r * o.w + h * dh), dh);
            let kh = std::slice::from_raw_parts(o.k.add(h * cap * dh), t * dh);
            let vh = std::slice::from_raw_parts(o.v.add(h * cap * dh), t * dh);
            let mut max = f32::NEG_INFINITY;
            for (j, s) in scores.iter_mut().enumerate() {
                let kj = &kh[j * dh..(j + 1) * dh];
                *s = qh.iter().zip(kj).map(|(a, b)| a * b).sum::<f32>() * scale;
                max = max.max(*s);
            }
            let mut sum = 0f32;
            for s in scores.iter_mut() {
                *s = exp_neg(*s - max);
                sum += *s;
            }
            let oh = std::slice::from_raw_parts_mut(o.out.add(r * o.w + h * dh), dh);
            oh.fill(0.0);
            for (j, s) in scores.iter().enumerate() {
                let w = s / sum;
                for (o, x) in oh.iter_mut().zip(&vh[j * dh..(j + 1) * dh]) {
                    *o += w * x;
                }
            }
        }
    }
}

/// [`attend_cached`]'s arguments as pointers.
struct One {
    q: *const f32,
    k: *const f32,
    v: *const f32,
    rows: usize,
    /// A query's (and an output's) row: heads · dh.
    w: usize,
    heads: usize,
    cap: usize,
    t: usize,
    dh: usize,
    out: *mut f32,
    s: *mut f32,
}

impl One {
    /// Head h alone, with the h-th run of rows · t scores as its scratch.
    fn head(&self, h: usize) -> One {
        let (dh, cap, t) = (self.dh, self.cap, self.t);
        // SAFETY (of the offsets): h < heads, inside what attend_cached asserts.
        unsafe {
            One {
                q: self.q.add(h * dh),
                k: self.k.add(h * cap * dh),
                v: self.v.add(h * cap * dh),
                rows: self.rows,
                w: self.w,
                heads: 1,
                cap,
                t,
                dh,
                out: self.out.add(h * dh),
                s: self.s.add(h * self.rows * t),
            }
        }
    }
}

/// A step's pointers, shared by the threads that each take their own heads.
struct Shared(One);
unsafe impl Sync for Shared {}

impl Shared {
    fn head(&self, h: usize) -> One {
        self.0.head(h)
    }
}

/// Per head: scores four keys at a time (four independent sums) for every
/// row while those keys are in L1, each row's softmax, then the values
/// weighted for up to R rows × C vectors at a time.
#[inline(always)]
unsafe fn one_v<S: F32s, const R: usize, const C: usize>(o: &One) {
    let (l, dh, t) = (S::LANES, o.dh, o.t);
    let scale = 1.0 / (dh as f32).sqrt();
    for h in 0..o.heads {
        let k = o.k.add(h * o.cap * dh);
        let mut j = 0;
        while j < t {
            let n = (t - j).min(4);
            for r in 0..o.rows {
                let (q, s) = (o.q.add(r * o.w + h * dh), o.s.add(r * t));
                let mut acc = [S::splat(0.0); 4];
                let mut x = 0;
                while x < dh {
                    let qv = S::load(q.add(x));
                    for (i, acc) in acc.iter_mut().enumerate().take(n) {
                        *acc = S::mul_add(qv, S::load(k.add((j + i) * dh + x)), *acc);
                    }
                    x += l;
                }
                for (i, acc) in acc.iter().enumerate().take(n) {
                    *s.add(j + i) = S::reduce_add(*acc) * scale;
                }
            }
            j += n;
        }
        let v = o.v.add(h * o.cap * dh);
        let mut r = 0;
        while r < o.rows {
            let n = (o.rows - r).min(R);
            let mut inv = [0f32; R];
            let mut outs = [std::ptr::null_mut(); R];
            for i in 0..n {
                inv[i] = 1.0 / softmax_row::<S>(o.s.add((r + i) * t), t);
                outs[i] = o.out.add((r + i) * o.w + h * dh);
            }
            by_rows!(n, weighted_row::<S, _, C>(o.s.add(r * t), t, v, dh, t, &inv[..n], &outs[..n]));
            r += n;
        }
    }
}

#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

/// Up to QT queries against one packed head; writes each query's output row.
fn tile(level: Level, rows: &[&[f32]], p: &Packed, hd: usize, scores: &mut [f32], outs: &[*mut f32]) {
    let mut t = Tile { qs: [std::ptr::null(); QT], n: rows.len(), p, hd, s: scores.as_mut_ptr(), os: [std::ptr::null_mut(); QT] };
    for (q, r) in t.qs.iter_mut().zip(rows) {
        *q = r.as_ptr();
    }
    t.os[..outs.len()].copy_from_slice(outs);
    // SAFETY: each arm runs only where its instruction set is present, on
    // heads of whole vectors; the buffers have the sizes `attention` set up.
    match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 if hd % 16 == 0 => return unsafe { x86::tile_avx512(&t) },
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 if hd % 8 == 0 => return unsafe { x86::tile_avx2(&t) },
        #[cfg(target_arch = "aarch64")]
        Level::Neon if hd % 4 == 0 => return unsafe { tile_v::<simd::Neon, 6, 4>(&t) },
        // 3 × 3 tiles: 9 accumulators, 3 keys and a broadcast stay within
        // the 16 registers engines have on x86 hosts.
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Level::Wasm if hd % 4 == 0 => return unsafe { tile_v::<simd::Wasm, 3, 3>(&t) },
        _ => {}
    }
    let kp = p.kp;
    let mut acc = vec![0f32; hd];
    for (i, qr) in rows.iter().enumerate() {
        let s = &mut scores[i * kp..i * kp + p.nk];
        s.fill(0.0);
        for (d, &qd) in qr.iter().enumerate() {
            for (sj, kj) in s.iter_mut().zip(&p.kt[d * kp..d * kp + p.nk]) {
                *sj += qd * kj;
            }
        }
        let max = s.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let mut sum = 0f32;
        for x in s.iter_mut() {
            *x = exp_neg(*x - max);
            sum += *x;
        }
        acc.fill(0.0);
        for (j, &pj) in s.iter().enumerate() {
            for (a, vj) in acc.iter_mut().zip(&p.v[j * hd..(j + 1) * hd]) {
                *a += pj * vj;
            }
        }
        for (d, a) in acc.iter().enumerate() {
            // SAFETY: outs[i] points at hd writable values of this query's row.
            unsafe { outs[i].add(d).write(a / sum) };
        }
    }
}

/// One tile's queries, packed head, score rows and output rows.
struct Tile<'a> {
    /// The first `n` are the queries' rows (head_dim values each).
    qs: [*const f32; QT],
    n: usize,
    p: &'a Packed,
    hd: usize,
    /// [QT][kp]
    s: *mut f32,
    /// The first `n` are the queries' output rows (head_dim values each).
    os: [*mut f32; QT],
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{one_v, tile_v, One, Tile};
    use crate::kernels::simd::{Avx2, Avx512};

    /// 6 queries × 4 vectors: 24 of the 32 registers accumulate.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn tile_avx512(t: &Tile) {
        tile_v::<Avx512, 6, 4>(t)
    }

    /// 6 queries × 2 vectors: 12 of the 16 registers accumulate.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile_avx2(t: &Tile) {
        tile_v::<Avx2, 6, 2>(t)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn one_avx512(o: &One) {
        one_v::<Avx512, 4, 4>(o)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn one_avx2(o: &One) {
        one_v::<Avx2, 4, 2>(o)
    }
}

/// The tile in register blocks of up to R queries × C vectors: scores, an
/// exact softmax per row, then the weighted sum of the values.
#[inline(always)]
unsafe fn tile_v<S: F32s, const R: usize, const C: usize>(t: &Tile) {
    let (kp, nk, hd) = (t.p.kp, t.p.nk, t.hd);
    let l = S::LANES;
    let mut i = 0;
    while i < t.n {
        let r = (t.n - i).min(R);
        let (qs, s) = (&t.qs[i..i + r], t.s.add(i * kp));
        let mut c = 0;
        while c + C * l <= kp {
            by_rows!(r, scores::<S, _, C>(qs, t.p.kt.as_ptr(), kp, hd, c, s));
            c += C * l;
        }
        while c < kp {
            by_rows!(r, scores::<S, _, 1>(qs, t.p.kt.as_ptr(), kp, hd, c, s));
            c += l;
        }
        i += r;
    }
    let mut inv = [0f32; QT];
    for (i, inv) in inv.iter_mut().enumerate().take(t.n) {
        *inv = 1.0 / softmax_row::<S>(t.s.add(i * kp), nk);
    }
    let mut i = 0;
    while i < t.n {
        let r = (t.n - i).min(R);
        let (s, os, inv) = (t.s.add(i * kp), &t.os[i..i + r], &inv[i..i + r]);
        by_rows!(r, weighted_row::<S, _, C>(s, kp, t.p.v.as_ptr(), hd, nk, inv, os));
        i += r;
    }
}

/// [`weighted`] over a whole row of head_dim values, C vectors at a time.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn weighted_row<S: F32s, const R: usize, const C: usize>(
    p: *const f32,
    kp: usize,
    v: *const f32,
    hd: usize,
    nk: usize,
    inv: &[f32],
    os: &[*mut f32],
) {
    let l = S::LANES;
    let mut c = 0;
    while c < hd {
        // C is at most 4, so a narrower last block has 1 to 3 vectors.
        let w = ((hd - c) / l).min(C);
        match w {
            w if w == C => weighted::<S, R, C>(p, kp, v.add(c), hd, nk, inv, os, c),
            1 => weighted::<S, R, 1>(p, kp, v.add(c), hd, nk, inv, os, c),
            2 => weighted::<S, R, 2>(p, kp, v.add(c), hd, nk, inv, os, c),
            _ => weighted::<S, R, 3>(p, kp, v.add(c), hd, nk, inv, os, c),
        }
        c += w * l;
    }
}

/// s[i][c..c + C·lanes] = q_i · kt[.., c..c + C·lanes] for R queries.
#[inline(always)]
unsafe fn scores<S: F32s, const R: usize, const C: usize>(
    qs: &[*const f32],
    kt: *const f32,
    kp: usize,
    hd: usize,
    c: usize,
    s: *mut f32,
) {
    let l = S::LANES;
    let mut acc = [[S::splat(0.0); C]; R];
    for d in 0..hd {
        let mut kv = [S::splat(0.0); C];
        for (x, kv) in kv.iter_mut().enumerate() {
            *kv = S::load(kt.add(d * kp + c + l * x));
        }
        for i in 0..R {
            let qv = S::splat(*qs[i].add(d));
            for x in 0..C {
                acc[i][x] = S::mul_add(qv, kv[x], acc[i][x]);
            }
        }
    }
    for i in 0..R {
        for x in 0..C {
            S::store(s.add(i * kp + c + l * x), acc[i][x]);
        }
    }
}

/// Replaces s[..nk] by e^(s − max); returns the sum.
#[inline(always)]
unsafe fn softmax_row<S: F32s>(s: *mut f32, nk: usize) -> f32 {
    let l = S::LANES;
    let full = nk - nk % l;
    let mut mx = S::splat(f32::NEG_INFINITY);
    let mut j = 0;
    while j < full {
        mx = S::max(mx, S::load(s.add(j)));
        j += l;
    }
    let m = (full..nk).fold(S::reduce_max(mx), |m, j| m.max(*s.add(j)));
    let mv = S::splat(m);
    let mut sum = S::splat(0.0);
    j = 0;
    while j < full {
        let e = exp_neg_v::<S>(S::sub(S::load(s.add(j)), mv));
        S::store(s.add(j), e);
        sum = S::add(sum, e);
        j += l;
    }
    let mut total = S::reduce_add(sum);
    for j in full..nk {
        let e = exp_neg(*s.add(j) - m);
        *s.add(j) = e;
        total += e;
    }
    total
}

/// out_i[c..c + C·lanes] = inv_i · Σⱼ p[i][j] v[j][c..] for R queries.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn weighted<S: F32s, const R: usize, const C: usize>(
    p: *const f32,
    kp: usize,
    v: *const f32,
    vstride: usize,
    nk: usize,
    inv: &[f32],
    os: &[*mut f32],
    c: usize,
) {
    let l = S::LANES;
    let mut acc = [[S::splat(0.0); C]; R];
    for j in 0..nk {
        let mut vv = [S::splat(0.0); C];
        for (x, vv) in vv.iter_mut().enumerate() {
            *vv = S::load(v.add(j * vstride + l * x));
        }
        for i in 0..R {
            let pb = S::splat(*p.add(i * kp + j));
            for x in 0..C {
                acc[i][x] = S::mul_add(pb, vv[x], acc[i][x]);
            }
        }
    }
    for i in 0..R {
        let sc = S::splat(inv[i]);
        for x in 0..C {
            S::store(os[i].add(c + l * x), S::mul(acc[i][x], sc));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook loop: scores, softmax with libm's exp, weighted sum.
    fn naive(q: Heads, k: Heads, v: Heads, s: Shape, scale: f32, mask: Option<&[f32]>) -> Vec<f32> {
        let hd = s.head_dim;
        let mut out = vec![0f32; s.batch * s.len * s.heads * hd];
        for b in 0..s.batch {
            let keys: Vec<usize> = (0..s.len).filter(|&j| mask.is_none_or(|m| m[b * s.len + j] != 0.0)).collect();
            for h in 0..s.heads {
                for i in 0..s.len {
                    let qi = q.row(b * s.len + i, h, hd);
                    let sc: Vec<f64> = keys
                        .iter()
                        .map(|&j| {
                            let kj = k.row(b * s.len + j, h, hd);
                            qi.iter().zip(kj).map(|(a, b)| (a * b) as f64).sum::<f64>() * scale as f64
                        })
                        .collect();
                    let mx = sc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = sc.iter().map(|x| (x - mx).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for d in 0..hd {
                        let o: f64 = keys.iter().zip(&e).map(|(&j, w)| w * v.row(b * s.len + j, h, hd)[d] as f64).sum();
                        out[(b * s.len + i) * s.heads * hd + h * hd + d] = (o / sum) as f32;
                    }
                }
            }
        }
        out
    }

    fn data(n: usize, seed: u64) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 4.0
            })
            .collect()
    }

    fn check(shape: Shape, masked: bool) {
        let Shape { batch, len, heads, head_dim } = shape;
        let w = heads * head_dim;
        // A fused [rows, 3·w] projection, as BERT's.
        let qkv = data(batch * len * 3 * w, (len * 31 + head_dim) as u64);
        let view = |i: usize| Heads { data: &qkv, stride: 3 * w, offset: i * w };
        let mask: Vec<f32> =
            (0..batch * len).map(|i| if i % len < len - (i / len) * 3 % len.max(1) { 1.0 } else { 0.0 }).collect();
        let mask = masked.then_some(mask.as_slice());
        let scale = 1.0 / (head_dim as f32).sqrt();
        let want = naive(view(0), view(1), view(2), shape, scale, mask);
        for level in Level::ALL.into_iter().filter(|l| l.supported()) {
            let got = attention_on(level, view(0), view(1), view(2), shape, scale, mask);
            assert_eq!(got.len(), want.len());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= 2e-5 * (1.0 + w.abs()), "{level:?} {shape:?} masked {masked}: [{i}] {g} vs {w}");
            }
        }
    }

    #[test]
    fn matches_naive_attention() {
        for (batch, len, heads, head_dim) in
            [(3, 37, 2, 32), (2, 100, 3, 64), (1, 7, 1, 16), (2, 130, 2, 48), (1, 20, 2, 8), (1, 33, 1, 160), (1, 1500, 1, 64)]
        {
            let shape = Shape { batch, len, heads, head_dim };
            check(shape, false);
            check(shape, true);
        }
    }

    #[test]
    fn separate_projections_and_full_mask() {
        let s = Shape { batch: 2, len: 5, heads: 2, head_dim: 16 };
        let (q, k, v) = (data(10 * 32, 1), data(10 * 32, 2), data(10 * 32, 3));
        let (q, k, v) = (Heads::dense(&q, 32), Heads::dense(&k, 32), Heads::dense(&v, 32));
        // The second sequence masks every key: it attends to all of them.
        let mask = [1f32, 1., 0., 1., 0., 0., 0., 0., 0., 0.];
        let all = [1f32, 1., 0., 1., 0., 1., 1., 1., 1., 1.];
        let want = naive(q, k, v, s, 0.25, Some(&all));
        for level in Level::ALL.into_iter().filter(|l| l.supported()) {
            let got = attention_on(level, q, k, v, s, 0.25, Some(&mask));
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 2e-5 * (1.0 + w.abs()), "{level:?}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn one_query_against_a_cache_matches_naive_attention() {
        // A decoder-style cache: [heads, cap, dh], the first t positions filled.
        for (heads, dh, cap, t) in [(8, 64, 448, 37), (2, 16, 20, 1), (3, 32, 1500, 1500), (1, 12, 9, 5), (8, 64, 600, 512)] {
            let (k, v, q) = (data(heads * cap * dh, 7), data(heads * cap * dh, 8), data(heads * dh, 9));
            // The same keys and values as [t, heads · dh] rows.
            let rows = |c: &[f32]| -> Vec<f32> {
                (0..t).flat_map(|j| (0..heads).flat_map(move |h| (0..dh).map(move |d| (h, j, d)))).map(|(h, j, d)| c[(h * cap + j) * dh + d]).collect()
            };
            let (kr, vr) = (rows(&k), rows(&v));
            // One query row per position (only the first one matters).
            let qr: Vec<f32> = (0..t).flat_map(|_| q.iter().copied()).collect();
            let w = heads * dh;
            let shape = Shape { batch: 1, len: t, heads, head_dim: dh };
            let want = naive(Heads::dense(&qr, w), Heads::dense(&kr, w), Heads::dense(&vr, w), shape, 1.0 / (dh as f32).sqrt(), None);
            for level in Level::ALL.into_iter().filter(|l| l.supported()) {
                // Scratch for one head (in turn), and for all of them (the
                // pool takes the heads of the large steps): the same numbers.
                let (mut out, mut scores) = (vec![0f32; w], vec![0f32; cap]);
                attend_cached_on(level, &q, 1, &k, &v, heads, cap, t, &mut out, &mut scores);
                for (g, w) in out.iter().zip(&want[..w]) {
                    assert!((g - w).abs() <= 2e-5 * (1.0 + w.abs()), "{level:?} heads {heads} dh {dh} t {t}: {g} vs {w}");
                }
                let (mut split, mut scores) = (vec![0f32; w], vec![0f32; heads * cap]);
                attend_cached_on(level, &q, 1, &k, &v, heads, cap, t, &mut split, &mut scores);
                assert_eq!(split, out, "{level:?} heads {heads} dh {dh} t {t}: heads on the pool differ");
            }
        }
    }

    #[test]
    fn rows_sharing_a_cache_give_each_row_alone() {
        // The hypotheses of a beam search against the same audio: every row
        // the same bits as that row alone, serially and with the heads on the pool.
        for (heads, dh, cap, t, rows) in [(8, 64, 1500, 1500, 5), (2, 16, 20, 7, 3), (3, 32, 40, 33, 6), (1, 12, 9, 5, 2), (8, 64, 64, 64, 4)] {
            let (k, v, q) = (data(heads * cap * dh, 11), data(heads * cap * dh, 12), data(rows * heads * dh, 13));
            let w = heads * dh;
            for level in Level::ALL.into_iter().filter(|l| l.supported()) {
                let alone: Vec<f32> = q
                    .chunks_exact(w)
                    .flat_map(|qr| {
                        let (mut out, mut scores) = (vec![0f32; w], vec![0f32; t]);
                        attend_cached_on(level, qr, 1, &k, &v, heads, cap, t, &mut out, &mut scores);
                        out
                    })
                    .collect();
                for scratch in [rows * t, heads * rows * t] {
                    let (mut out, mut scores) = (vec![0f32; rows * w], vec![0f32; scratch]);
                    attend_cached_on(level, &q, rows, &k, &v, heads, cap, t, &mut out, &mut scores);
                    assert_eq!(out, alone, "{level:?} heads {heads} dh {dh} t {t} rows {rows} scratch {scratch}");
                }
            }
        }
    }

    /// `cargo test --release --lib attention_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn attention_speed() {
        // Whisper-base's encoder and an e5-small batch; best of 5.
        for (level, (batch, len, heads, hd)) in Level::ALL
            .into_iter()
            .filter(|l| l.supported())
            .flat_map(|l| [(l, (1, 1500, 8, 64)), (l, (10, 100, 12, 32))])
        {
            let s = Shape { batch, len, heads, head_dim: hd };
            let w = heads * hd;
            let qkv = data(batch * len * 3 * w, 5);
            let view = |i: usize| Heads { data: &qkv, stride: 3 * w, offset: i * w };
            let mut best = f64::MAX;
            for _ in 0..5 {
                let t = std::time::Instant::now();
                std::hint::black_box(attention_on(level, view(0), view(1), view(2), s, 0.125, None));
                best = best.min(t.elapsed().as_secs_f64());
            }
            let gmac = (2 * batch * heads * len * len * hd) as f64 / best / 1e9;
            println!("{level:?} {s:?}: {:.2} ms, {gmac:.1} GMAC/s", best * 1e3);
        }
    }
}
