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

use super::math::exp_neg;

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
            tile(&rows[..n], p, hd, &mut scores, &outs[..n]);
            i += n;
        }
    });
    // SAFETY: every (row, head) block of `out` was written exactly once above.
    unsafe { out.set_len(batch * len * width) };
    out
}

#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

/// Up to QT queries against one packed head; writes each query's output row.
fn tile(rows: &[&[f32]], p: &Packed, hd: usize, scores: &mut [f32], outs: &[*mut f32]) {
    #[cfg(target_arch = "x86_64")]
    if super::math::x86::available() && hd % 16 == 0 {
        // SAFETY: AVX-512F present; the buffers have the sizes `attention` set up.
        unsafe { x86::tile(rows, p, hd, scores, outs) };
        return;
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

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Packed, QT};
    use crate::kernels::math::x86::exp_neg_ps;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn tile(rows: &[&[f32]], p: &Packed, hd: usize, scores: &mut [f32], outs: &[*mut f32]) {
        let mut qs = [std::ptr::null::<f32>(); QT];
        for (q, r) in qs.iter_mut().zip(rows) {
            *q = r.as_ptr();
        }
        let mut os = [std::ptr::null_mut::<f32>(); QT];
        os[..outs.len()].copy_from_slice(outs);
        match rows.len() {
            6 => tile_n::<6>(&qs, p, hd, scores, &os),
            5 => tile_n::<5>(&qs, p, hd, scores, &os),
            4 => tile_n::<4>(&qs, p, hd, scores, &os),
            3 => tile_n::<3>(&qs, p, hd, scores, &os),
            2 => tile_n::<2>(&qs, p, hd, scores, &os),
            _ => tile_n::<1>(&qs, p, hd, scores, &os),
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn tile_n<const N: usize>(
        qs: &[*const f32; QT],
        p: &Packed,
        hd: usize,
        scores: &mut [f32],
        os: &[*mut f32; QT],
    ) {
        let (kp, nk) = (p.kp, p.nk);
        let s = scores.as_mut_ptr();
        let mut c = 0;
        while c + 64 <= kp {
            scores_chunk::<N, 4>(qs, p.kt.as_ptr(), kp, hd, c, s);
            c += 64;
        }
        while c < kp {
            scores_chunk::<N, 1>(qs, p.kt.as_ptr(), kp, hd, c, s);
            c += 16;
        }
        let mut inv = [0f32; QT];
        for (i, inv) in inv.iter_mut().enumerate().take(N) {
            *inv = 1.0 / softmax_row(s.add(i * kp), nk);
        }
        match hd / 16 {
            1 => pv::<N, 1>(s, kp, p.v.as_ptr(), nk, &inv, os),
            2 => pv::<N, 2>(s, kp, p.v.as_ptr(), nk, &inv, os),
            3 => pv::<N, 3>(s, kp, p.v.as_ptr(), nk, &inv, os),
            4 => pv::<N, 4>(s, kp, p.v.as_ptr(), nk, &inv, os),
            _ => {
                // Wide heads: 4 columns of 16 at a time.
                for c in (0..hd).step_by(64) {
                    let w = (hd - c).min(64) / 16;
                    let os_c: [*mut f32; QT] = std::array::from_fn(|i| if i < N { os[i].add(c) } else { os[i] });
                    let v = p.v.as_ptr().add(c);
                    match w {
                        4 => pv_strided::<N, 4>(s, kp, v, hd, nk, &inv, &os_c),
                        3 => pv_strided::<N, 3>(s, kp, v, hd, nk, &inv, &os_c),
                        2 => pv_strided::<N, 2>(s, kp, v, hd, nk, &inv, &os_c),
                        _ => pv_strided::<N, 1>(s, kp, v, hd, nk, &inv, &os_c),
                    }
                }
            }
        }
    }

    /// s[i][c..c + 16C] = q_i · kt[.., c..c + 16C]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn scores_chunk<const N: usize, const C: usize>(
        qs: &[*const f32; QT],
        kt: *const f32,
        kp: usize,
        hd: usize,
        c: usize,
        s: *mut f32,
    ) {
        let mut acc = [[_mm512_setzero_ps(); C]; N];
        for d in 0..hd {
            let mut kv = [_mm512_setzero_ps(); C];
            for (x, kv) in kv.iter_mut().enumerate() {
                *kv = _mm512_loadu_ps(kt.add(d * kp + c + 16 * x));
            }
            for i in 0..N {
                let qv = _mm512_set1_ps(*qs[i].add(d));
                for x in 0..C {
                    acc[i][x] = _mm512_fmadd_ps(qv, kv[x], acc[i][x]);
                }
            }
        }
        for i in 0..N {
            for x in 0..C {
                _mm512_storeu_ps(s.add(i * kp + c + 16 * x), acc[i][x]);
            }
        }
    }

    /// Replaces s[..nk] by e^(s − max); returns the sum.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn softmax_row(s: *mut f32, nk: usize) -> f32 {
        let tail = nk % 16;
        let full = nk - tail;
        let tmask: __mmask16 = ((1u32 << tail) - 1) as u16;
        let ninf = _mm512_set1_ps(f32::NEG_INFINITY);
        let mut mx = ninf;
        let mut j = 0;
        while j < full {
            mx = _mm512_max_ps(mx, _mm512_loadu_ps(s.add(j)));
            j += 16;
        }
        if tail > 0 {
            mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(ninf, tmask, s.add(full)));
        }
        let m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
        let mut sum = _mm512_setzero_ps();
        j = 0;
        while j < full {
            let e = exp_neg_ps(_mm512_sub_ps(_mm512_loadu_ps(s.add(j)), m));
            _mm512_storeu_ps(s.add(j), e);
            sum = _mm512_add_ps(sum, e);
            j += 16;
        }
        if tail > 0 {
            let e = exp_neg_ps(_mm512_sub_ps(_mm512_mask_loadu_ps(m, tmask, s.add(full)), m));
            let e = _mm512_maskz_mov_ps(tmask, e);
            _mm512_storeu_ps(s.add(full), e);
            sum = _mm512_add_ps(sum, e);
        }
        _mm512_reduce_add_ps(sum)
    }

    /// out_i = inv_i · Σⱼ p[i][j] v[j] for heads of 16·D values.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn pv<const N: usize, const D: usize>(
        p: *const f32,
        kp: usize,
        v: *const f32,
        nk: usize,
        inv: &[f32; QT],
        os: &[*mut f32; QT],
    ) {
        pv_strided::<N, D>(p, kp, v, 16 * D, nk, inv, os)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn pv_strided<const N: usize, const D: usize>(
        p: *const f32,
        kp: usize,
        v: *const f32,
        vstride: usize,
        nk: usize,
        inv: &[f32; QT],
        os: &[*mut f32; QT],
    ) {
        let mut acc = [[_mm512_setzero_ps(); D]; N];
        for j in 0..nk {
            let mut vv = [_mm512_setzero_ps(); D];
            for (x, vv) in vv.iter_mut().enumerate() {
                *vv = _mm512_loadu_ps(v.add(j * vstride + 16 * x));
            }
            for i in 0..N {
                let pb = _mm512_set1_ps(*p.add(i * kp + j));
                for x in 0..D {
                    acc[i][x] = _mm512_fmadd_ps(pb, vv[x], acc[i][x]);
                }
            }
        }
        for i in 0..N {
            let s = _mm512_set1_ps(inv[i]);
            for x in 0..D {
                _mm512_storeu_ps(os[i].add(16 * x), _mm512_mul_ps(acc[i][x], s));
            }
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
        let got = attention(view(0), view(1), view(2), shape, scale, mask);
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 2e-5 * (1.0 + w.abs()), "{shape:?} masked {masked}: [{i}] {g} vs {w}");
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
        let got = attention(q, k, v, s, 0.25, Some(&mask));
        let all = [1f32, 1., 0., 1., 0., 1., 1., 1., 1., 1.];
        let want = naive(q, k, v, s, 0.25, Some(&all));
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 2e-5 * (1.0 + w.abs()), "{g} vs {w}");
        }
    }

    /// `cargo test --release --lib attention_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn attention_speed() {
        // Whisper-base's encoder and an e5-small batch; best of 5.
        for (batch, len, heads, hd) in [(1, 1500, 8, 64), (10, 100, 12, 32)] {
            let s = Shape { batch, len, heads, head_dim: hd };
            let w = heads * hd;
            let qkv = data(batch * len * 3 * w, 5);
            let view = |i: usize| Heads { data: &qkv, stride: 3 * w, offset: i * w };
            let mut best = f64::MAX;
            for _ in 0..5 {
                let t = std::time::Instant::now();
                std::hint::black_box(attention(view(0), view(1), view(2), s, 0.125, None));
                best = best.min(t.elapsed().as_secs_f64());
            }
            let gmac = (2 * batch * heads * len * len * hd) as f64 / best / 1e9;
            println!("{s:?}: {:.2} ms, {gmac:.1} GMAC/s", best * 1e3);
        }
    }
}
