//! Multinomial (softmax) logistic regression on dense `f32` feature vectors,
//! optionally with a sparse block beside them (hashed n-grams), fitted by
//! full-batch L-BFGS; the loss and gradient run on the thread pool natively
//! and in turn in the browser.
//!
//! The objective is scikit-learn's `LogisticRegression(solver="lbfgs")` for
//! three or more classes, so a head trained here and one trained there agree:
//!
//! ```text
//! f(W, b) = 1/S Σᵢ sᵢ (logsumexp(zᵢ) − zᵢ,yᵢ) + 1/(2·C·S) ‖W‖²,   zᵢ = W xᵢ + b
//! ```
//!
//! with `sᵢ` the class weight of sample `i` ("balanced": `n / (K · n_k)`) and
//! `S = Σ sᵢ`. The intercept is not penalised. Dividing by `S` does not move
//! the optimum; it keeps the gradient tolerance independent of the data size.
//! Softmax is unchanged by a common shift of the intercepts, so they are
//! stored centred (summing to zero).
//!
//! Fitting is deterministic: no random initialisation, samples are visited
//! in order, and the sums run in a fixed order.

use serde::{Deserialize, Serialize};

use crate::classify::lbfgs::{self, Objective};
use crate::kernels::logreg::{block_gradient, block_logits, logits, sparse_dot, vectorised, Lanes, LANES};
use crate::classify::ngrams::Csr;
use crate::error::{Error, Result};

/// How samples are weighted by their class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClassWeight {
    /// Every sample weighs 1.
    Uniform,
    /// scikit-learn's "balanced": `n_samples / (n_classes · count(class))`,
    /// so rare segments count as much as frequent ones in the loss.
    Balanced,
}

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogRegParams {
    /// Inverse L2 strength, as scikit-learn's `C` (smaller = stronger).
    pub c: f64,
    pub class_weight: ClassWeight,
    /// Stop when the largest gradient component is below this (scikit-learn's `tol`).
    pub tol: f64,
    pub max_iter: usize,
    /// Number of correction pairs L-BFGS keeps (scipy's default is 10).
    pub history: usize,
}

impl Default for LogRegParams {
    fn default() -> Self {
        LogRegParams { c: 1.0, class_weight: ClassWeight::Balanced, tol: 1e-4, max_iter: 1000, history: 10 }
    }
}

/// How the optimisation ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    pub iterations: usize,
    pub evaluations: usize,
    /// True when the gradient tolerance was reached; false when the
    /// iteration limit or the line search (at float precision) stopped it.
    pub converged: bool,
    pub loss: f64,
    pub grad_max: f64,
}

/// A fitted model: one weight row and intercept per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    /// Class labels in ascending order; column `k` of probabilities is `classes[k]`.
    pub classes: Vec<u32>,
    pub n_features: usize,
    /// `classes.len() × n_features`, row-major.
    pub coef: Vec<f32>,
    /// Centred: sums to zero.
    pub intercept: Vec<f32>,
    /// Weights of a sparse feature block (hashed n-grams), when fitted with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse: Option<SparseCoef>,
}

/// The weights of a sparse feature block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparseCoef {
    pub n_features: usize,
    /// `n_features × classes`, feature-major (f32 little-endian, base64).
    #[serde(with = "crate::classify::ngrams::f32_base64")]
    pub coef: Vec<f32>,
}

/// Samples per block: the f32 gradient partial sums are flushed to f64 after
/// each block, which bounds rounding error without slowing the inner loops.
const BLOCK: usize = 256;

/// Samples per parallel chunk (a multiple of [`BLOCK`]). Chunk boundaries
/// depend on the data size only, and the chunks' partial sums are added in
/// order, so a fit is the same on any number of threads.
const CHUNK: usize = 4096;

struct Problem<'a> {
    x: &'a [f32],
    d: usize,
    /// Optional sparse block beside the dense features (`h` columns), by
    /// rows (for the logits) and by columns (for the gradient).
    sparse: Option<&'a Csr>,
    columns: Option<&'a Csc>,
    h: usize,
    k: usize,
    y: Vec<usize>,
    /// Sample weights divided by their sum.
    sw: Vec<f64>,
    /// 1 / (C · S).
    l2: f64,
}

/// One chunk's share of the loss and gradient.
struct Partial {
    loss: f64,
    /// `k × d`, class-major.
    dense: Vec<f64>,
    bias: Vec<f64>,
    /// `sw·(p − onehot(y))` of each sample, `k` per sample in lane blocks
    /// (kept only with a sparse block, whose gradient is gathered from them
    /// by column).
    residuals: Vec<Lanes>,
}

/// A sparse block by columns: the samples each feature occurs in.
struct Csc {
    indptr: Vec<usize>,
    rows: Vec<u32>,
    values: Vec<f32>,
}

impl Csc {
    fn of(m: &Csr) -> Csc {
        let mut counts = vec![0usize; m.n_cols + 1];
        for &j in &m.indices {
            counts[j as usize + 1] += 1;
        }
        for j in 0..m.n_cols {
            counts[j + 1] += counts[j];
        }
        let indptr = counts.clone();
        let mut next = counts;
        let mut rows = vec![0u32; m.nnz()];
        let mut values = vec![0f32; m.nnz()];
        for i in 0..m.rows() {
            let (idx, val) = m.row(i);
            for (&j, &v) in idx.iter().zip(val) {
                let at = &mut next[j as usize];
                rows[*at] = i as u32;
                values[*at] = v;
                *at += 1;
            }
        }
        Csc { indptr, rows, values }
    }
}

/// A sparse block with its columns renumbered by falling number of rows
/// they occur in, by rows and by columns. The common n-grams account for
/// most non-zeros; numbered first, their weights share a few hot cache lines
/// instead of being strewn over the whole table.
struct Renumbered {
    rows: Csr,
    columns: Csc,
    /// Original column of each new one.
    order: Vec<u32>,
}

impl Renumbered {
    fn of(m: &Csr) -> Renumbered {
        let by_col = Csc::of(m);
        let mut order: Vec<u32> = (0..m.n_cols as u32).collect();
        order.sort_by_key(|&j| std::cmp::Reverse(by_col.indptr[j as usize + 1] - by_col.indptr[j as usize]));
        let mut columns = Csc { indptr: Vec::with_capacity(m.n_cols + 1), rows: Vec::with_capacity(m.nnz()), values: Vec::with_capacity(m.nnz()) };
        columns.indptr.push(0);
        for &j in &order {
            let (a, b) = (by_col.indptr[j as usize], by_col.indptr[j as usize + 1]);
            columns.rows.extend_from_slice(&by_col.rows[a..b]);
            columns.values.extend_from_slice(&by_col.values[a..b]);
            columns.indptr.push(columns.rows.len());
        }
        // Back to rows: visiting the new columns in order leaves every row's
        // indices ascending.
        let mut next = m.indptr.clone();
        let mut rows = Csr { n_cols: m.n_cols, indptr: m.indptr.clone(), indices: vec![0; m.nnz()], values: vec![0.0; m.nnz()] };
        for j in 0..m.n_cols {
            let (a, b) = (columns.indptr[j], columns.indptr[j + 1]);
            for (&i, &v) in columns.rows[a..b].iter().zip(&columns.values[a..b]) {
                let at = &mut next[i as usize];
                rows.indices[*at] = j as u32;
                rows.values[*at] = v;
                *at += 1;
            }
        }
        Renumbered { rows, columns, order }
    }
}

/// Columns per parallel task of the sparse gradient.
const COLUMNS: usize = 2048;

impl Objective for Problem<'_> {
    fn eval(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        Problem::eval(self, theta, grad)
    }
}

impl Problem<'_> {
    fn n(&self) -> usize {
        self.y.len()
    }

    /// Loss and gradient at `theta`. Layout: per class `d` dense weights and
    /// the intercept, then `h × k` sparse weights (feature-major, so one
    /// feature's weights for all classes are adjacent).
    fn eval(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (d, k) = (self.d, self.k);
        let stride = d + 1;
        let w: Vec<f32> = (0..k).flat_map(|c| theta[c * stride..c * stride + d].iter().map(|&v| v as f32)).collect();
        let b: Vec<f64> = (0..k).map(|c| theta[c * stride + d]).collect();
        let blocks = k.div_ceil(LANES);
        let mut ws: Vec<Lanes> = Vec::with_capacity(self.h * blocks);
        for f in theta[k * stride..].chunks_exact(k) {
            Lanes::pack(f.iter().map(|&v| v as f32), &mut ws);
        }
        let n = self.n();
        let chunks = n.div_ceil(CHUNK).max(1);
        let parts = crate::kernels::par_map(chunks, |ci| self.eval_chunk(ci * CHUNK, ((ci + 1) * CHUNK).min(n), &w, &b, &ws));
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut loss = 0f64;
        for p in &parts {
            loss += p.loss;
            for c in 0..k {
                let gc = &mut grad[c * stride..(c + 1) * stride];
                gc[..d].iter_mut().zip(&p.dense[c * d..(c + 1) * d]).for_each(|(g, v)| *g += v);
                gc[d] += p.bias[c];
            }
        }
        if let Some(cols) = self.columns {
            // Sparse gradient, one column range per task: each sums its
            // features' samples' residuals in f64, in sample order, and
            // owns its part of the gradient (no reduction, any thread count).
            // The sums run in f32: the residuals are already f32, and a
            // column's few thousand terms lose far less than the tolerance.
            let residuals: Vec<Lanes> = parts.iter().flat_map(|p| p.residuals.iter().copied()).collect();
            let h = self.h;
            let ranges = h.div_ceil(COLUMNS);
            let columns = crate::kernels::par_map(ranges, |ri| {
                let (lo, hi) = (ri * COLUMNS, ((ri + 1) * COLUMNS).min(h));
                let mut g = vec![0f64; (hi - lo) * k];
                let mut acc = vec![Lanes::ZERO; blocks];
                for j in lo..hi {
                    let (a, b) = (cols.indptr[j], cols.indptr[j + 1]);
                    sparse_dot(&cols.rows[a..b], &cols.values[a..b], &residuals, &mut acc);
                    for (c, gc) in g[(j - lo) * k..(j - lo + 1) * k].iter_mut().enumerate() {
                        *gc = Lanes::get(&acc, c) as f64;
                    }
                }
                g
            });
            let mut at = k * stride;
            for g in columns {
                grad[at..at + g.len()].copy_from_slice(&g);
                at += g.len();
            }
        }
        let mut penalty = 0f64;
        let weights = (0..k).flat_map(|c| c * stride..c * stride + d).chain(k * stride..theta.len());
        for j in weights {
            let v = theta[j];
            penalty += v * v;
            grad[j] += self.l2 * v;
        }
        loss + 0.5 * self.l2 * penalty
    }

    /// One chunk's loss and gradient: plain loops the compiler vectorises to
    /// the widest lanes the machine's kernels use.
    fn eval_chunk(&self, start: usize, end: usize, w: &[f32], b: &[f64], ws: &[Lanes]) -> Partial {
        vectorised(|| self.eval_chunk_any(start, end, w, b, ws))
    }

    #[inline(always)]
    fn eval_chunk_any(&self, start: usize, end: usize, w: &[f32], b: &[f64], ws: &[Lanes]) -> Partial {
        let (d, k) = (self.d, self.k);
        let blocks = k.div_ceil(LANES);
        let keep = if self.sparse.is_some() { (end - start) * blocks } else { 0 };
        let mut out = Partial { loss: 0.0, dense: vec![0f64; k * d], bias: vec![0f64; k], residuals: Vec::with_capacity(keep) };
        let mut gw = vec![0f32; k * d];
        let mut zb = vec![0f32; BLOCK * k];
        let mut rb = vec![0f32; BLOCK * k];
        let mut e = vec![0f64; k];
        let mut zs = vec![Lanes::ZERO; blocks];
        for block in (start..end).step_by(BLOCK) {
            let rows = block..(block + BLOCK).min(end);
            let xb = &self.x[rows.start * d..rows.end * d];
            block_logits(xb, w, d, &mut zb[..rows.len() * k]);
            for (i, (z, r)) in rows.zip(zb.chunks_exact_mut(k).zip(rb.chunks_exact_mut(k))) {
                let row = self.sparse.map(|s| s.row(i));
                if let Some((idx, val)) = row {
                    sparse_dot(idx, val, ws, &mut zs);
                    z.iter_mut().enumerate().for_each(|(c, zc)| *zc += Lanes::get(&zs, c));
                }
                let zmax = z.iter().zip(b).map(|(&zi, &bi)| zi as f64 + bi).fold(f64::NEG_INFINITY, f64::max);
                let mut sum = 0f64;
                for c in 0..k {
                    e[c] = (z[c] as f64 + b[c] - zmax).exp();
                    sum += e[c];
                }
                let yi = self.y[i];
                let swi = self.sw[i];
                out.loss += swi * (zmax + sum.ln() - (z[yi] as f64 + b[yi]));
                for c in 0..k {
                    let p = e[c] / sum;
                    let ri = swi * (p - if c == yi { 1.0 } else { 0.0 });
                    r[c] = ri as f32;
                    out.bias[c] += ri;
                }
                if row.is_some() {
                    Lanes::pack(r.iter().copied(), &mut out.residuals);
                }
            }
            block_gradient(xb, &rb[..xb.len() / d * k], d, &mut gw);
            for (g, p) in out.dense.iter_mut().zip(&mut gw) {
                *g += *p as f64;
                *p = 0.0;
            }
        }
        out
    }
}

impl LogisticRegression {
    /// Fits on `x` (`y.len()` rows of `n_features` values, row-major) with
    /// labels `y` (any ids; the classes are the distinct values of `y`).
    pub fn fit(x: &[f32], n_features: usize, y: &[u32], params: &LogRegParams) -> Result<(LogisticRegression, FitReport)> {
        Self::fit_with_sparse(x, n_features, None, y, params)
    }

    /// [`Self::fit`] with a sparse block of features beside the dense ones:
    /// row `i` of `sparse` belongs to sample `i`. Both blocks share `C`.
    pub fn fit_with_sparse(
        x: &[f32],
        n_features: usize,
        sparse: Option<&Csr>,
        y: &[u32],
        params: &LogRegParams,
    ) -> Result<(LogisticRegression, FitReport)> {
        let n = y.len();
        if n_features == 0 || x.len() != n * n_features {
            return Err(Error::Invalid(format!(
                "training data: {} values do not make {n} rows of {n_features} features",
                x.len()
            )));
        }
        if !(params.c > 0.0 && params.c.is_finite()) {
            return Err(Error::Invalid(format!("C must be a positive number, got {}", params.c)));
        }
        if let Some(pos) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::Invalid(format!("training data: row {} has a non-finite feature", pos / n_features)));
        }
        if let Some(s) = sparse {
            if s.rows() != n {
                return Err(Error::Invalid(format!("training data: {} sparse rows for {n} samples", s.rows())));
            }
            s.check()?;
        }
        let mut classes: Vec<u32> = y.to_vec();
        classes.sort_unstable();
        classes.dedup();
        if classes.len() < 2 {
            return Err(Error::Invalid(format!(
                "training needs examples of at least two segments, got {}",
                classes.len()
            )));
        }
        let k = classes.len();
        let yi: Vec<usize> = y.iter().map(|v| classes.binary_search(v).expect("class present")).collect();
        let mut counts = vec![0usize; k];
        for &c in &yi {
            counts[c] += 1;
        }
        let sw: Vec<f64> = match params.class_weight {
            ClassWeight::Uniform => vec![1.0; n],
            ClassWeight::Balanced => yi.iter().map(|&c| n as f64 / (k as f64 * counts[c] as f64)).collect(),
        };
        let s: f64 = sw.iter().sum();
        let h = sparse.map_or(0, |m| m.n_cols);
        let renumbered = sparse.map(Renumbered::of);
        let problem = Problem {
            x,
            d: n_features,
            sparse: renumbered.as_ref().map(|r| &r.rows),
            columns: renumbered.as_ref().map(|r| &r.columns),
            h,
            k,
            y: yi,
            sw: sw.iter().map(|w| w / s).collect(),
            l2: 1.0 / (params.c * s),
        };
        let stride = n_features + 1;
        let mut theta = vec![0f64; k * stride + h * k];
        let report = lbfgs::minimise(&problem, &mut theta, params.tol, params.max_iter, params.history);
        let coef = (0..k).flat_map(|c| theta[c * stride..c * stride + n_features].iter().map(|&v| v as f32)).collect();
        let mean_b = (0..k).map(|c| theta[c * stride + n_features]).sum::<f64>() / k as f64;
        let intercept = (0..k).map(|c| (theta[c * stride + n_features] - mean_b) as f32).collect();
        let sparse = renumbered.map(|r| {
            let mut coef = vec![0f32; h * k];
            for (new, w) in theta[k * stride..].chunks_exact(k).enumerate() {
                let old = r.order[new] as usize;
                coef[old * k..(old + 1) * k].iter_mut().zip(w).for_each(|(c, &v)| *c = v as f32);
            }
            SparseCoef { n_features: h, coef }
        });
        Ok((LogisticRegression { classes, n_features, coef, intercept, sparse }, report))
    }

    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// Class probabilities of one feature vector, in [`Self::classes`] order
    /// (a model with a sparse block reads an empty sparse row).
    pub fn predict_proba_one(&self, x: &[f32]) -> Vec<f32> {
        self.predict_proba_row(x, None)
    }

    /// Class probabilities of one sample: its dense features and, for a model
    /// fitted with a sparse block, its sparse row (columns, values).
    pub fn predict_proba_row(&self, x: &[f32], sparse: Option<(&[u32], &[f32])>) -> Vec<f32> {
        let k = self.n_classes();
        let mut z = vec![0f32; k];
        logits(x, &self.coef, self.n_features, &mut z);
        if let (Some(sc), Some((idx, val))) = (&self.sparse, sparse) {
            for (&j, &v) in idx.iter().zip(val) {
                if let Some(wr) = sc.coef.get(j as usize * k..(j as usize + 1) * k) {
                    z.iter_mut().zip(wr).for_each(|(zc, wc)| *zc += v * wc);
                }
            }
        }
        for (zi, b) in z.iter_mut().zip(&self.intercept) {
            *zi += b;
        }
        softmax_in_place(&mut z);
        z
    }

    /// Probabilities for `x.len() / n_features` rows, row-major `n × K`.
    pub fn predict_proba(&self, x: &[f32]) -> Vec<f32> {
        x.chunks_exact(self.n_features).flat_map(|row| self.predict_proba_one(row)).collect()
    }

    /// Most probable class label of each row.
    pub fn predict(&self, x: &[f32]) -> Vec<u32> {
        x.chunks_exact(self.n_features)
            .map(|row| self.classes[argmax(&self.predict_proba_one(row))])
            .collect()
    }
}

/// Out-of-fold probabilities: every sample scored by the model fitted
/// without it, the basis of honest cross-validated figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossValProba {
    /// All classes of `y`, ascending; columns of `proba`.
    pub classes: Vec<u32>,
    /// `n × classes.len()`, row-major; a class missing from a fold's
    /// training part gets probability 0 there.
    pub proba: Vec<f32>,
    pub fits: Vec<FitReport>,
}

impl CrossValProba {
    /// The most probable class of each sample.
    pub fn predicted(&self) -> Vec<u32> {
        self.proba.chunks_exact(self.classes.len()).map(|row| self.classes[argmax(row)]).collect()
    }
}

/// Fits one model per fold and scores that fold's test samples. The folds
/// must test every sample exactly once (as [`stratified_k_fold`] makes them).
///
/// [`stratified_k_fold`]: crate::classify::metrics::stratified_k_fold
pub fn cross_val_proba(
    x: &[f32],
    n_features: usize,
    y: &[u32],
    folds: &[crate::classify::metrics::Fold],
    params: &LogRegParams,
) -> Result<CrossValProba> {
    let n = y.len();
    if x.len() != n * n_features {
        return Err(Error::Invalid(format!("{} values do not make {n} rows of {n_features} features", x.len())));
    }
    let mut tested = vec![0u32; n];
    for f in folds {
        for &i in &f.test {
            tested.get_mut(i).map(|t| *t += 1).ok_or_else(|| Error::Invalid(format!("fold index {i} out of range")))?;
        }
    }
    if let Some(i) = tested.iter().position(|&t| t != 1) {
        return Err(Error::Invalid(format!("sample {i} is tested {} times; folds must test each sample once", tested[i])));
    }
    let mut classes = y.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let k = classes.len();
    let mut proba = vec![0f32; n * k];
    let mut fits = Vec::with_capacity(folds.len());
    for f in folds {
        let xt: Vec<f32> = f.train.iter().flat_map(|&i| x[i * n_features..(i + 1) * n_features].iter().copied()).collect();
        let yt: Vec<u32> = f.train.iter().map(|&i| y[i]).collect();
        let (model, report) = LogisticRegression::fit(&xt, n_features, &yt, params)?;
        fits.push(report);
        let cols: Vec<usize> = model.classes.iter().map(|c| classes.binary_search(c).expect("subset")).collect();
        for &i in &f.test {
            let p = model.predict_proba_one(&x[i * n_features..(i + 1) * n_features]);
            for (col, v) in cols.iter().zip(p) {
                proba[i * k + col] = v;
            }
        }
    }
    Ok(CrossValProba { classes, proba, fits })
}

/// Numerically stable softmax.
pub fn softmax_in_place(z: &mut [f32]) {
    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f32;
    for v in z.iter_mut() {
        *v = (*v - m).exp();
        sum += *v;
    }
    for v in z.iter_mut() {
        *v /= sum;
    }
}

/// Index of the largest value (the first on ties).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}


#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random numbers for test data.
    pub(crate) struct Rng(pub(crate) crate::classify::metrics::SplitMix64);
    impl Rng {
        pub fn next_f32(&mut self) -> f32 {
            (self.0.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        }
    }

    /// Well separated clusters around `k` orthogonal-ish centres.
    fn clusters(n: usize, d: usize, k: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
        let mut rng = Rng(crate::classify::metrics::SplitMix64(seed));
        let centres: Vec<f32> = (0..k * d).map(|_| rng.next_f32() * 3.0).collect();
        let mut x = Vec::with_capacity(n * d);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let c = (i * 7 + i / 3) % k;
            y.push(c as u32 * 2 + 1); // labels need not be 0..k
            for j in 0..d {
                x.push(centres[c * d + j] + 0.3 * rng.next_f32());
            }
        }
        (x, y)
    }

    #[test]
    fn separable_problem_is_learned() {
        let (d, k) = (16, 5);
        let (x, y) = clusters(400, d, k, 1);
        let (model, report) = LogisticRegression::fit(&x, d, &y, &LogRegParams::default()).unwrap();
        assert!(report.converged, "{report:?}");
        assert_eq!(model.classes, vec![1, 3, 5, 7, 9]);
        assert_eq!(model.predict(&x), y);
        // Held-out points: new noise around the same centres.
        let (x2, y2) = clusters_same_centres(1, 300, d, k);
        assert_eq!(model.predict(&x2), y2);
        let p = model.predict_proba(&x2[..d]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(model.intercept.iter().sum::<f32>().abs() < 1e-4);
    }

    /// New samples around the centres of `clusters(_, d, k, seed)`.
    fn clusters_same_centres(seed: u64, n: usize, d: usize, k: usize) -> (Vec<f32>, Vec<u32>) {
        let mut rng = Rng(crate::classify::metrics::SplitMix64(seed));
        let centres: Vec<f32> = (0..k * d).map(|_| rng.next_f32() * 3.0).collect();
        let mut noise = Rng(crate::classify::metrics::SplitMix64(seed ^ 0xDEAD_BEEF));
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let c = i % k;
            y.push(c as u32 * 2 + 1);
            for j in 0..d {
                x.push(centres[c * d + j] + 0.3 * noise.next_f32());
            }
        }
        (x, y)
    }

    #[test]
    fn cross_validation_scores_each_sample_out_of_fold() {
        use crate::classify::metrics::{classification_report, roc_auc_ovr, stratified_k_fold};
        let (d, k) = (8, 3);
        let (x, y) = clusters(90, d, k, 5);
        let folds = stratified_k_fold(&y, 5, 1).unwrap();
        let cv = cross_val_proba(&x, d, &y, &folds, &LogRegParams::default()).unwrap();
        assert_eq!(cv.fits.len(), 5);
        assert_eq!(cv.classes, vec![1, 3, 5]);
        let pred = cv.predicted();
        assert_eq!(classification_report(&y, &pred, None).unwrap().accuracy, 1.0);
        assert_eq!(roc_auc_ovr(&y, &cv.proba, &cv.classes).unwrap().macro_avg, Some(1.0));
        let mut bad = folds.clone();
        let extra = bad[1].test[0];
        bad[0].test.push(extra);
        assert!(cross_val_proba(&x, d, &y, &bad, &LogRegParams::default()).unwrap_err().to_string().contains("tested 2 times"));
    }

    #[test]
    fn fit_is_deterministic() {
        let (x, y) = clusters(300, 8, 4, 3);
        let a = LogisticRegression::fit(&x, 8, &y, &LogRegParams::default()).unwrap();
        let b = LogisticRegression::fit(&x, 8, &y, &LogRegParams::default()).unwrap();
        assert_eq!(a.0, b.0);
    }

    #[test]
    fn bad_inputs_are_rejected() {
        let p = LogRegParams::default();
        assert!(LogisticRegression::fit(&[0.0; 5], 2, &[0, 1], &p).unwrap_err().to_string().contains("rows"));
        assert!(LogisticRegression::fit(&[0.0; 4], 2, &[1, 1], &p).unwrap_err().to_string().contains("two segments"));
        let e = LogisticRegression::fit(&[0.0, f32::NAN, 1.0, 1.0], 2, &[0, 1], &p).unwrap_err();
        assert!(e.to_string().contains("row 0"), "{e}");
        let bad_c = LogRegParams { c: 0.0, ..p };
        assert!(LogisticRegression::fit(&[0.0; 4], 2, &[0, 1], &bad_c).is_err());
    }

    #[derive(serde::Deserialize)]
    struct Reference {
        n_features: usize,
        c: f64,
        x: Vec<Vec<f32>>,
        y: Vec<u32>,
        x_test: Vec<Vec<f32>>,
        classes: Vec<u32>,
        coef: Vec<Vec<f64>>,
        intercept_centred: Vec<f64>,
        proba_test: Vec<Vec<f64>>,
    }

    /// Agreement with scikit-learn; fixture made by
    /// `scripts/reference/logreg_reference.py`.
    #[test]
    fn matches_scikit_learn() {
        let r: Reference =
            serde_json::from_str(include_str!("../../tests/fixtures/logreg_reference.json")).unwrap();
        let x: Vec<f32> = r.x.concat();
        let params = LogRegParams { c: r.c, tol: 1e-7, max_iter: 5000, ..Default::default() };
        let (model, report) = LogisticRegression::fit(&x, r.n_features, &r.y, &params).unwrap();
        assert!(report.grad_max < 1e-5, "{report:?}");
        assert_eq!(model.classes, r.classes);
        let d = r.n_features;
        let mut worst = 0f64;
        for (c, row) in r.coef.iter().enumerate() {
            for (j, &want) in row.iter().enumerate() {
                worst = worst.max((model.coef[c * d + j] as f64 - want).abs() / want.abs().max(1.0));
            }
            let b = model.intercept[c] as f64;
            worst = worst.max((b - r.intercept_centred[c]).abs() / r.intercept_centred[c].abs().max(1.0));
        }
        assert!(worst < 2e-4, "coefficients differ from scikit-learn by {worst}");
        let p = model.predict_proba(&r.x_test.concat());
        let k = model.n_classes();
        let mut worst_p = 0f64;
        for (i, row) in r.proba_test.iter().enumerate() {
            for (c, &want) in row.iter().enumerate() {
                worst_p = worst_p.max((p[i * k + c] as f64 - want).abs());
            }
        }
        eprintln!("scikit-learn agreement: coefficients {worst:.2e}, probabilities {worst_p:.2e}");
        assert!(worst_p < 1e-4, "probabilities differ from scikit-learn by {worst_p}");
    }

    /// Speed check at the product's size: 10,000 creatives × 384 embedding
    /// dimensions × 18 segments. Run with `--ignored` (release build).
    #[test]
    #[ignore]
    fn trains_10k_by_384_by_18_quickly() {
        let (n, d, k) = (10_000, 384, 18);
        let mut rng = Rng(crate::classify::metrics::SplitMix64(7));
        let centres: Vec<f32> = (0..k * d).map(|_| rng.next_f32()).collect();
        let mut x = Vec::with_capacity(n * d);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            // Imbalanced classes, overlapping clusters, unit-norm rows like sentence embeddings.
            let c = ((i * i) % 97) % k;
            y.push(c as u32);
            let row: Vec<f32> = (0..d).map(|j| 0.12 * centres[c * d + j] + rng.next_f32()).collect();
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            x.extend(row.iter().map(|v| v / norm));
        }
        // The default tolerance (scikit-learn's), then a 100× stricter one.
        for tol in [1e-4, 1e-6] {
            let t = std::time::Instant::now();
            let (model, report) = LogisticRegression::fit(&x, d, &y, &LogRegParams { tol, ..Default::default() }).unwrap();
            let secs = t.elapsed().as_secs_f64();
            let acc = model.predict(&x).iter().zip(&y).filter(|(a, b)| a == b).count() as f64 / n as f64;
            eprintln!("fit 10000x384x18 tol {tol:e}: {secs:.2} s, {report:?}, train accuracy {acc:.3}");
            assert!(report.converged, "{report:?}");
            assert!(secs < 10.0, "took {secs:.1} s");
        }
    }
}

