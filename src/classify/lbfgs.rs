//! L-BFGS (Nocedal & Wright, Alg. 7.5) with a strong-Wolfe line search, for
//! the logistic-regression heads.
//!
//! The search direction uses the compact form of the inverse-Hessian update
//! (Byrd, Nocedal & Schnabel 1994, Thm. 2.2) instead of the two-loop
//! recursion: the same direction, but one pass over the correction pairs for
//! their dot products and one to build the direction, instead of four passes
//! per pair. With the n-gram block the parameters number about a million, so
//! those passes, not the loss, were what a fit spent its time on. The passes
//! run over fixed spans on the thread pool and add the spans' partial sums in
//! order, so a fit is the same on any number of threads.

use std::collections::VecDeque;

use crate::classify::logreg::FitReport;

/// A smooth function to minimise.
pub(crate) trait Objective: Sync {
    /// The value at `theta`, with its gradient written to `grad`.
    fn eval(&self, theta: &[f64], grad: &mut [f64]) -> f64;
}

/// Elements per parallel span: 16–32 KiB of each vector, so the vectors one
/// span reads stay in cache while it takes all of its dot products.
const SPAN: usize = 4096;

/// `a·b` for every pair, in one pass over the spans; f64 sums.
fn dots<A: Copy + Into<f64> + Sync, B: Copy + Into<f64> + Sync>(pairs: &[(&[A], &[B])]) -> Vec<f64> {
    let Some(len) = pairs.first().map(|p| p.0.len()) else { return Vec::new() };
    let spans = len.div_ceil(SPAN);
    let partial = crate::kernels::par_map(spans, |si| {
        let (lo, hi) = (si * SPAN, ((si + 1) * SPAN).min(len));
        pairs.iter().map(|(a, b)| dot(&a[lo..hi], &b[lo..hi])).collect::<Vec<f64>>()
    });
    let mut out = vec![0f64; pairs.len()];
    for p in partial {
        out.iter_mut().zip(p).for_each(|(o, v)| *o += v);
    }
    out
}

/// Eight running sums: one sum is a chain of dependent adds that cannot
/// vectorise.
fn dot<A: Copy + Into<f64>, B: Copy + Into<f64>>(a: &[A], b: &[B]) -> f64 {
    let (ca, ta) = a.as_chunks::<8>();
    let (cb, tb) = b.as_chunks::<8>();
    let mut acc = [0f64; 8];
    for (x, y) in ca.iter().zip(cb) {
        for l in 0..8 {
            acc[l] += x[l].into() * y[l].into();
        }
    }
    acc.iter().sum::<f64>() + ta.iter().zip(tb).map(|(x, y)| (*x).into() * (*y).into()).sum::<f64>()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0f64, |m, x| m.max(x.abs()))
}

/// The last `m` correction pairs `s = θ' − θ`, `y = ∇' − ∇` with their
/// products `sy[i][j] = sᵢ·yⱼ` (needed for i ≤ j) and `yy[i][j] = yᵢ·yⱼ`.
///
/// Memory traffic, not arithmetic, is what the search direction costs with
/// a million parameters, so large problems keep the pairs as f32 ([`Element`];
/// the parameters and gradients stay f64), and a new pair's products with
/// the older ones are taken in the next direction's single pass over the
/// history rather than in a pass of their own.
struct History<T> {
    m: usize,
    s: VecDeque<Vec<T>>,
    y: VecDeque<Vec<T>>,
    sy: VecDeque<VecDeque<f64>>,
    yy: VecDeque<VecDeque<f64>>,
    /// The newest pair's products with the older pairs are not taken yet.
    pending: bool,
}

/// How correction pairs are stored.
trait Element: Copy + Into<f64> + Sync + Send {
    fn of(v: f64) -> Self;
}

impl Element for f64 {
    fn of(v: f64) -> Self {
        v
    }
}

impl Element for f32 {
    fn of(v: f64) -> Self {
        v as f32
    }
}

/// Parameters from which the pairs are stored as f32: below, f64 keeps the
/// last digits that tight tolerances (the scikit-learn agreement test) need.
const F32_HISTORY_FROM: usize = 1 << 18;

impl<T: Element> History<T> {
    fn new(m: usize) -> History<T> {
        History { m, s: VecDeque::new(), y: VecDeque::new(), sy: VecDeque::new(), yy: VecDeque::new(), pending: false }
    }

    fn len(&self) -> usize {
        self.s.len()
    }

    fn clear(&mut self) {
        *self = History::new(self.m);
    }

    /// Adds a pair whose `s·y` and `y·y` the caller has already taken.
    fn push(&mut self, s: &[f64], y: &[f64], sy: f64, yy: f64) {
        if self.pending {
            // Two pushes without a direction between them: take the
            // products now (does not happen in `minimise`).
            self.fill_pending();
        }
        if self.len() == self.m {
            self.s.pop_front();
            self.y.pop_front();
            for t in [&mut self.sy, &mut self.yy] {
                t.pop_front();
                t.iter_mut().for_each(|row| {
                    row.pop_front();
                });
            }
        }
        let n = self.len();
        for i in 0..n {
            self.sy[i].push_back(f64::NAN);
            self.yy[i].push_back(f64::NAN);
        }
        let mut sy_row: VecDeque<f64> = std::iter::repeat_n(f64::NAN, n).collect();
        sy_row.push_back(sy);
        let mut yy_row: VecDeque<f64> = std::iter::repeat_n(f64::NAN, n).collect();
        yy_row.push_back(yy);
        self.sy.push_back(sy_row);
        self.yy.push_back(yy_row);
        self.s.push_back(s.iter().map(|&v| T::of(v)).collect());
        self.y.push_back(y.iter().map(|&v| T::of(v)).collect());
        self.pending = n > 0;
    }

    /// The pairs whose products complete the newest pair's row and column.
    fn pending_pairs(&self) -> Vec<(&[T], &[T])> {
        let n = self.len();
        if !self.pending {
            return Vec::new();
        }
        let y_new: &[T] = &self.y[n - 1];
        (0..n - 1).flat_map(|i| [(&self.s[i][..], y_new), (&self.y[i][..], y_new)]).collect()
    }

    /// Stores the products of [`Self::pending_pairs`], in their order.
    fn store_pending(&mut self, d: &[f64]) {
        let n = self.len();
        for i in 0..n.saturating_sub(1) {
            self.sy[i][n - 1] = d[2 * i];
            self.yy[i][n - 1] = d[2 * i + 1];
            self.yy[n - 1][i] = d[2 * i + 1];
        }
        self.pending = false;
    }

    fn fill_pending(&mut self) {
        let d = dots(&self.pending_pairs());
        self.store_pending(&d);
    }

    /// `dir = −H·g` and `dir·g`, H the inverse-Hessian approximation with
    /// `H₀ = γI`, `γ = s·y / y·y` of the newest pair:
    ///
    /// ```text
    /// H·g = γg + S·p − γY·t,   t = R⁻¹a,   p = R⁻ᵀ((D + γYᵀY)t − γb)
    /// ```
    ///
    /// with `a = Sᵀg`, `b = Yᵀg`, `R` the upper triangle of `SᵀY` and `D`
    /// its diagonal.
    fn direction(&mut self, g: &[f64], dir: &mut [f64]) -> f64 {
        let n = self.len();
        if n == 0 {
            dir.iter_mut().zip(g).for_each(|(d, gi)| *d = -gi);
            return -dot(g, g);
        }
        let g32: Vec<T> = g.iter().map(|&v| T::of(v)).collect();
        let mut pairs = self.pending_pairs();
        let done = pairs.len();
        for i in 0..n {
            pairs.push((&self.s[i], &g32));
            pairs.push((&self.y[i], &g32));
        }
        let d = dots(&pairs);
        self.store_pending(&d[..done]);
        let d = &d[done..];
        let a: Vec<f64> = (0..n).map(|i| d[2 * i]).collect();
        let b: Vec<f64> = (0..n).map(|i| d[2 * i + 1]).collect();
        let gamma = self.sy[n - 1][n - 1] / self.yy[n - 1][n - 1];
        let r = |i: usize, j: usize| self.sy[i][j];
        let mut t = vec![0f64; n];
        for i in (0..n).rev() {
            let sum: f64 = (i + 1..n).map(|j| r(i, j) * t[j]).sum();
            t[i] = (a[i] - sum) / r(i, i);
        }
        let u: Vec<f64> = (0..n)
            .map(|i| r(i, i) * t[i] + gamma * (0..n).map(|j| self.yy[i][j] * t[j]).sum::<f64>() - gamma * b[i])
            .collect();
        let mut p = vec![0f64; n];
        for i in 0..n {
            let sum: f64 = (0..i).map(|j| r(j, i) * p[j]).sum();
            p[i] = (u[i] - sum) / r(i, i);
        }
        let (s, y) = (&self.s, &self.y);
        crate::kernels::par_chunks_mut(dir, SPAN, |si, out| {
            let lo = si * SPAN;
            for (k, o) in out.iter_mut().enumerate() {
                *o = gamma * g[lo + k];
            }
            for i in 0..n {
                let (si_, yi) = (&s[i][lo..lo + out.len()], &y[i][lo..lo + out.len()]);
                let (pi, ti) = (p[i], gamma * t[i]);
                for ((o, sv), yv) in out.iter_mut().zip(si_).zip(yi) {
                    *o += pi * (*sv).into() - ti * (*yv).into();
                }
            }
            out.iter_mut().for_each(|o| *o = -*o);
        });
        // Taken afresh rather than from a, b, p, t: near the optimum the
        // algebraic form loses the digits the line search's tests need.
        dots(&[(&dir[..], g)])[0]
    }
}

/// Minimises `p` from `theta` (updated in place) until the largest gradient
/// component is at most `tol`, `max_iter` iterations pass, or the objective
/// stops moving at float precision.
pub(crate) fn minimise(p: &impl Objective, theta: &mut [f64], tol: f64, max_iter: usize, history: usize) -> FitReport {
    if theta.len() >= F32_HISTORY_FROM {
        minimise_with::<f32>(p, theta, tol, max_iter, history)
    } else {
        minimise_with::<f64>(p, theta, tol, max_iter, history)
    }
}

fn minimise_with<T: Element>(p: &impl Objective, theta: &mut [f64], tol: f64, max_iter: usize, history: usize) -> FitReport {
    let dim = theta.len();
    let mut g = vec![0f64; dim];
    let mut f = p.eval(theta, &mut g);
    let mut evaluations = 1;
    let mut hist = History::<T>::new(history.max(1));
    let mut dir = vec![0f64; dim];
    let mut iterations = 0;
    let mut converged = max_abs(&g) <= tol;
    while !converged && iterations < max_iter {
        let mut dg = hist.direction(&g, &mut dir);
        if !(dg < 0.0) {
            // Curvature pairs went stale: restart from steepest descent.
            hist.clear();
            dg = hist.direction(&g, &mut dir);
        }
        let step0 = if hist.len() == 0 { 1.0 / (-dg).sqrt().max(1e-12) } else { 1.0 };
        let Some(ls) = line_search(p, theta, f, &dir, dg, step0) else {
            break; // no decrease possible at float precision
        };
        evaluations += ls.evaluations;
        iterations += 1;
        let s: Vec<f64> = dir.iter().map(|d| d * ls.step).collect();
        let y: Vec<f64> = ls.grad.iter().zip(&g).map(|(a, b)| a - b).collect();
        theta.iter_mut().zip(&s).for_each(|(t, si)| *t += si);
        let f_old = f;
        f = ls.f;
        g = ls.grad;
        let d = dots(&[(&s[..], &y[..]), (&s, &s), (&y, &y)]);
        if d[0] > 1e-12 * d[2].sqrt() * d[1].sqrt() {
            hist.push(&s, &y, d[0], d[2]);
        }
        converged = max_abs(&g) <= tol;
        if !converged && (f_old - f) <= 1e-15 * f_old.abs().max(f.abs()).max(1.0) {
            break; // the objective no longer moves
        }
    }
    FitReport { iterations, evaluations, converged, loss: f, grad_max: max_abs(&g) }
}

struct LineSearch {
    step: f64,
    f: f64,
    grad: Vec<f64>,
    evaluations: usize,
}

/// Strong-Wolfe line search (Nocedal & Wright, Alg. 3.5 and 3.6) with cubic
/// interpolation when zooming. Falls back to the lowest point seen if the
/// Wolfe conditions cannot be met within the evaluation budget (float
/// precision near the optimum); `None` when no step decreases `f`.
fn line_search(p: &impl Objective, theta: &[f64], f0: f64, dir: &[f64], dg0: f64, step0: f64) -> Option<LineSearch> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    const MAX_EVALS: usize = 30;
    let evaluations = std::cell::Cell::new(0usize);
    let mut point = vec![0f64; theta.len()];
    let mut grad = vec![0f64; theta.len()];
    let mut best: Option<(f64, f64, Vec<f64>)> = None;
    let mut eval = |step: f64, grad: &mut Vec<f64>, best: &mut Option<(f64, f64, Vec<f64>)>| -> (f64, f64) {
        point.iter_mut().zip(theta.iter().zip(dir)).for_each(|(q, (t, d))| *q = t + step * d);
        evaluations.set(evaluations.get() + 1);
        let f = p.eval(&point, grad);
        if f.is_finite() && f < best.as_ref().map_or(f0, |b| b.1) {
            *best = Some((step, f, grad.clone()));
        }
        (if f.is_finite() { f } else { f64::INFINITY }, dot(grad, dir))
    };
    let done = |step: f64, f: f64, grad: Vec<f64>, evaluations: usize| Some(LineSearch { step, f, grad, evaluations });
    // Bracketing phase: (lo, hi) end up around a step meeting the conditions.
    let (mut lo, mut hi);
    let (mut prev, mut f_prev, mut dg_prev) = (0.0, f0, dg0);
    let mut step = step0;
    let mut first = true;
    loop {
        let (f, dg) = eval(step, &mut grad, &mut best);
        if f > f0 + C1 * step * dg0 || (!first && f >= f_prev) {
            (lo, hi) = ((prev, f_prev, dg_prev), (step, f, dg));
            break;
        }
        if dg.abs() <= -C2 * dg0 {
            return done(step, f, grad, evaluations.get());
        }
        if dg >= 0.0 {
            (lo, hi) = ((step, f, dg), (prev, f_prev, dg_prev));
            break;
        }
        if evaluations.get() >= MAX_EVALS {
            return best.map(|(s, f, g)| LineSearch { step: s, f, grad: g, evaluations: evaluations.get() });
        }
        (prev, f_prev, dg_prev) = (step, f, dg);
        step *= 4.0;
        first = false;
    }
    // Zoom phase: lo always satisfies sufficient decrease and is the lowest so far.
    while evaluations.get() < MAX_EVALS && (hi.0 - lo.0).abs() > 1e-14 * lo.0.abs().max(hi.0.abs()) {
        let step = cubic_min(lo.0, lo.1, lo.2, hi.0, hi.1, hi.2);
        let (f, dg) = eval(step, &mut grad, &mut best);
        if f > f0 + C1 * step * dg0 || f >= lo.1 {
            hi = (step, f, dg);
        } else {
            if dg.abs() <= -C2 * dg0 {
                return done(step, f, grad, evaluations.get());
            }
            if dg * (hi.0 - lo.0) >= 0.0 {
                hi = lo;
            }
            lo = (step, f, dg);
        }
    }
    best.map(|(s, f, g)| LineSearch { step: s, f, grad: g, evaluations: evaluations.get() })
}

/// Minimiser of the cubic through (a, fa, da) and (b, fb, db), kept inside
/// the interval away from its ends; bisection when the cubic has none.
fn cubic_min(a: f64, fa: f64, da: f64, b: f64, fb: f64, db: f64) -> f64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let width = hi - lo;
    let mid = 0.5 * (a + b);
    if !fb.is_finite() {
        return mid;
    }
    let d1 = da + db - 3.0 * (fa - fb) / (a - b);
    let disc = d1 * d1 - da * db;
    if disc < 0.0 {
        return mid;
    }
    let d2 = (b - a).signum() * disc.sqrt();
    let t = b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2);
    if t.is_finite() && t > lo + 0.1 * width && t < hi - 0.1 * width {
        t
    } else {
        mid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ½ Σ aᵢ (θᵢ − cᵢ)² + ¼ Σ (θᵢ − cᵢ)⁴: curvatures from 1 to 100, not
    /// quadratic, minimum at c.
    struct Bowl {
        a: Vec<f64>,
        c: Vec<f64>,
    }

    impl Objective for Bowl {
        fn eval(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
            let mut f = 0.0;
            for i in 0..theta.len() {
                let d = theta[i] - self.c[i];
                f += 0.5 * self.a[i] * d * d + 0.25 * d.powi(4);
                grad[i] = self.a[i] * d + d.powi(3);
            }
            f
        }
    }

    fn bowl(n: usize) -> Bowl {
        Bowl {
            a: (0..n).map(|i| 1.0 + 99.0 * ((i * 7919) % 1000) as f64 / 999.0).collect(),
            c: (0..n).map(|i| ((i * 104_729) % 2001) as f64 / 1000.0 - 1.0).collect(),
        }
    }

    #[test]
    fn reaches_the_minimum_with_either_history_precision() {
        // Below and above the size from which the pairs are kept as f32.
        for n in [1000, F32_HISTORY_FROM + 5] {
            let p = bowl(n);
            let mut theta = vec![0f64; n];
            let report = minimise(&p, &mut theta, 1e-6, 500, 10);
            assert!(report.converged, "n = {n}: {report:?}");
            let worst = theta.iter().zip(&p.c).map(|(t, c)| (t - c).abs()).fold(0f64, f64::max);
            assert!(worst < 1e-6, "n = {n}: θ off the minimum by {worst}");
        }
    }

    #[test]
    fn history_precisions_take_similar_paths() {
        let p = bowl(5000);
        let (mut a, mut b) = (vec![0f64; 5000], vec![0f64; 5000]);
        let ra = minimise_with::<f64>(&p, &mut a, 1e-6, 500, 10);
        let rb = minimise_with::<f32>(&p, &mut b, 1e-6, 500, 10);
        assert!(ra.converged && rb.converged, "{ra:?} {rb:?}");
        assert!(rb.iterations <= ra.iterations + ra.iterations / 4 + 2, "f32 pairs: {rb:?}, f64 pairs: {ra:?}");
    }
}
