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

/// Elements per parallel span: 32 KiB of each vector, so the vectors one
/// span reads stay in cache while it takes all of its dot products.
const SPAN: usize = 4096;

/// `a·b` for every pair, in one pass over the spans.
fn dots(pairs: &[(&[f64], &[f64])]) -> Vec<f64> {
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
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let (ca, ta) = a.as_chunks::<8>();
    let (cb, tb) = b.as_chunks::<8>();
    let mut acc = [0f64; 8];
    for (x, y) in ca.iter().zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f64>() + ta.iter().zip(tb).map(|(x, y)| x * y).sum::<f64>()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0f64, |m, x| m.max(x.abs()))
}

/// The last `m` correction pairs `s = θ' − θ`, `y = ∇' − ∇` with their
/// products `sy[i][j] = sᵢ·yⱼ` and `yy[i][j] = yᵢ·yⱼ`.
struct History {
    m: usize,
    s: VecDeque<Vec<f64>>,
    y: VecDeque<Vec<f64>>,
    sy: VecDeque<VecDeque<f64>>,
    yy: VecDeque<VecDeque<f64>>,
}

impl History {
    fn new(m: usize) -> History {
        History { m, s: VecDeque::new(), y: VecDeque::new(), sy: VecDeque::new(), yy: VecDeque::new() }
    }

    fn len(&self) -> usize {
        self.s.len()
    }

    fn clear(&mut self) {
        *self = History::new(self.m);
    }

    /// Adds a pair whose `s·y` and `y·y` the caller has already taken.
    fn push(&mut self, s: Vec<f64>, y: Vec<f64>, sy: f64, yy: f64) {
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
        // sᵢ·y, s·yⱼ and yᵢ·y for the pairs kept.
        let mut pairs: Vec<(&[f64], &[f64])> = Vec::with_capacity(3 * n);
        for i in 0..n {
            pairs.push((&self.s[i], &y));
            pairs.push((&s, &self.y[i]));
            pairs.push((&self.y[i], &y));
        }
        let d = dots(&pairs);
        for i in 0..n {
            self.sy[i].push_back(d[3 * i]);
            self.yy[i].push_back(d[3 * i + 2]);
        }
        let mut sy_row: VecDeque<f64> = (0..n).map(|j| d[3 * j + 1]).collect();
        sy_row.push_back(sy);
        let mut yy_row: VecDeque<f64> = (0..n).map(|j| d[3 * j + 2]).collect();
        yy_row.push_back(yy);
        self.sy.push_back(sy_row);
        self.yy.push_back(yy_row);
        self.s.push_back(s);
        self.y.push_back(y);
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
    fn direction(&self, g: &[f64], dir: &mut [f64]) -> f64 {
        let n = self.len();
        let mut pairs: Vec<(&[f64], &[f64])> = Vec::with_capacity(2 * n + 1);
        for i in 0..n {
            pairs.push((&self.s[i], g));
            pairs.push((&self.y[i], g));
        }
        pairs.push((g, g));
        let d = dots(&pairs);
        let gg = d[2 * n];
        if n == 0 {
            dir.iter_mut().zip(g).for_each(|(d, gi)| *d = -gi);
            return -gg;
        }
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
                    *o += pi * sv - ti * yv;
                }
            }
            out.iter_mut().for_each(|o| *o = -*o);
        });
        // Taken afresh rather than from a, b, p, t: near the optimum the
        // algebraic form loses the digits the line search's tests need.
        dots(&[(dir, g)])[0]
    }
}

/// Minimises `p` from `theta` (updated in place) until the largest gradient
/// component is at most `tol`, `max_iter` iterations pass, or the objective
/// stops moving at float precision.
pub(crate) fn minimise(p: &impl Objective, theta: &mut [f64], tol: f64, max_iter: usize, history: usize) -> FitReport {
    let dim = theta.len();
    let mut g = vec![0f64; dim];
    let mut f = p.eval(theta, &mut g);
    let mut evaluations = 1;
    let mut hist = History::new(history.max(1));
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
        let d = dots(&[(&s, &y), (&s, &s), (&y, &y)]);
        if d[0] > 1e-12 * d[2].sqrt() * d[1].sqrt() {
            hist.push(s, y, d[0], d[2]);
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
