//! One-dimensional convolution over time-major rows (Whisper's stem), as
//! one GEMM straight over the input: no im2col.
//!
//! With the input time-major and zero-padded, the window an output position
//! sees (`kernel` rows of `in` values) is one contiguous run of
//! `kernel · in` values, and consecutive windows start `stride · in` values
//! apart. So the convolution is `Y[t] = X[t·stride·in ..][..kernel·in] · W`,
//! a GEMM whose left operand has a row stride smaller than its row length —
//! which gemm takes as is — against the weight packed `[kernel · in][out]`.
//! Blocks of rows run on rayon's pool, so the page's threaded module uses
//! every core here too (candle's conv sizes its threads from the OS: one in
//! the page).

use super::math::Act;
use crate::{Error, Result};

/// Output rows per task on the thread pool: Whisper's 1,500 (3,000 for the
/// first layer) make 12 (24) tasks, enough to keep a few threads busy.
const ROWS_PER_TASK: usize = 128;

pub struct Conv1d {
    /// `[kernel · in][out]`: row `j · in + c` holds tap `j` of input channel `c`.
    weight: Vec<f32>,
    bias: Vec<f32>,
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
}

impl Conv1d {
    /// `weight` as PyTorch stores it, `[out][in][kernel]`; `bias` `[out]`.
    pub fn new(weight: &[f32], bias: Vec<f32>, dims: [usize; 3], stride: usize, padding: usize) -> Result<Self> {
        let [out_channels, in_channels, kernel] = dims;
        if weight.len() != out_channels * in_channels * kernel || bias.len() != out_channels || stride == 0 || kernel == 0 {
            return Err(Error::ModelConfig(format!(
                "a convolution of {} weights and {} biases for {out_channels}×{in_channels}×{kernel}, stride {stride}",
                weight.len(),
                bias.len()
            )));
        }
        let mut packed = vec![0f32; weight.len()];
        for o in 0..out_channels {
            for c in 0..in_channels {
                for j in 0..kernel {
                    packed[(j * in_channels + c) * out_channels + o] = weight[(o * in_channels + c) * kernel + j];
                }
            }
        }
        Ok(Self { weight: packed, bias, in_channels, out_channels, kernel, stride, padding })
    }

    pub fn in_channels(&self) -> usize {
        self.in_channels
    }

    pub fn out_channels(&self) -> usize {
        self.out_channels
    }

    /// Output positions for `t` input positions.
    pub fn output_len(&self, t: usize) -> usize {
        (t + 2 * self.padding).saturating_sub(self.kernel) / self.stride + usize::from(t + 2 * self.padding >= self.kernel)
    }

    /// `x`: `[t][in]` → `act(conv(x) + b)`: `[output_len(t)][out]`.
    pub fn forward(&self, x: &[f32], t: usize, act: Act) -> Result<Vec<f32>> {
        let (cin, cout) = (self.in_channels, self.out_channels);
        if x.len() != t * cin {
            return Err(Error::Invalid(format!("{} values for {t} positions of {cin} channels", x.len())));
        }
        let t_out = self.output_len(t);
        let mut padded = vec![0f32; (t + 2 * self.padding) * cin];
        padded[self.padding * cin..][..x.len()].copy_from_slice(x);
        let mut y: Vec<f32> = self.bias.iter().copied().cycle().take(t_out * cout).collect();
        if t_out == 0 {
            return Ok(y);
        }
        let (k, step) = (self.kernel * cin, self.stride * cin);
        // The last window, the furthest any read goes, ends inside `padded`.
        debug_assert!((t_out - 1) * step + k <= padded.len());
        // Fixed blocks of output rows, each one single-threaded GEMM: every
        // value is summed in the same order whatever the number of threads,
        // so the page's one-thread and threaded modules agree, as does the
        // CLI on any machine of the same instruction set.
        super::par_chunks_mut(&mut y, ROWS_PER_TASK * cout, |b, block| {
            let rows = block.len() / cout;
            // SAFETY: `block` is [rows][cout] row-major; its window i reads
            // padded[(b·ROWS_PER_TASK + i)·step ..][..k], in bounds as
            // asserted above; the weight is [k][cout] row-major. No operand
            // aliases the destination.
            unsafe {
                gemm::gemm(
                    rows,
                    cout,
                    k,
                    block.as_mut_ptr(),
                    1,
                    cout as isize,
                    true,
                    padded.as_ptr().add(b * ROWS_PER_TASK * step),
                    1,
                    step as isize,
                    self.weight.as_ptr(),
                    1,
                    cout as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            act.apply_slice(block);
        });
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, in f64: `y[i][o] = b[o] + Σ_c Σ_j w[o][c][j] · x[i·s + j − p][c]`.
    fn reference(w: &[f32], b: &[f32], x: &[f32], t: usize, dims: [usize; 3], s: usize, p: usize) -> Vec<f64> {
        let [cout, cin, kk] = dims;
        let t_out = (t + 2 * p - kk) / s + 1;
        let mut y = vec![0f64; t_out * cout];
        for i in 0..t_out {
            for o in 0..cout {
                let mut acc = b[o] as f64;
                for c in 0..cin {
                    for j in 0..kk {
                        let pos = (i * s + j) as isize - p as isize;
                        if pos >= 0 && (pos as usize) < t {
                            acc += w[(o * cin + c) * kk + j] as f64 * x[pos as usize * cin + c] as f64;
                        }
                    }
                }
                y[i * cout + o] = acc;
            }
        }
        y
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn matches_the_definition_for_whisper_like_and_odd_shapes() {
        // (t, in, out, kernel, stride, padding): Whisper's two stem layers
        // scaled down, odd sizes, a window wider than the input, t = 1.
        for &(t, cin, cout, kk, s, p) in
            &[(60, 8, 16, 3, 1, 1), (61, 16, 16, 3, 2, 1), (7, 5, 3, 3, 2, 1), (1, 4, 5, 3, 1, 1), (33, 3, 7, 5, 3, 2)]
        {
            let dims = [cout, cin, kk];
            let w = values(cout * cin * kk, 1);
            let b = values(cout, 2);
            let x = values(t * cin, 3);
            let conv = Conv1d::new(&w, b.clone(), dims, s, p).unwrap();
            let want = reference(&w, &b, &x, t, dims, s, p);
            assert_eq!(conv.output_len(t) * cout, want.len(), "output length for {t}/{kk}/{s}/{p}");
            let got = conv.forward(&x, t, Act::None).unwrap();
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((*g as f64 - w).abs() < 1e-5, "shape {:?} value {i}: {g} vs {w}", (t, cin, cout, kk, s, p));
            }
            let mut gelu = got.clone();
            Act::GeluErf.apply_slice(&mut gelu);
            assert_eq!(conv.forward(&x, t, Act::GeluErf).unwrap(), gelu);
        }
    }

    #[test]
    fn the_same_bits_on_any_number_of_threads() {
        let dims = [16, 8, 3];
        let (w, b, x) = (values(16 * 8 * 3, 4), values(16, 5), values(700 * 8, 6));
        let conv = Conv1d::new(&w, b, dims, 2, 1).unwrap();
        let on = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| conv.forward(&x, 700, Act::GeluErf).unwrap())
        };
        let one = on(1);
        assert!(one.len() / 16 > 2 * ROWS_PER_TASK, "several blocks");
        assert_eq!(one, on(3));
    }

    #[test]
    fn rejects_weights_that_do_not_match_the_shape() {
        assert!(Conv1d::new(&[0.0; 5], vec![0.0; 2], [2, 1, 3], 1, 1).is_err());
        assert!(Conv1d::new(&[0.0; 6], vec![0.0; 2], [2, 1, 3], 0, 1).is_err());
        let conv = Conv1d::new(&[0.0; 6], vec![0.0; 2], [2, 1, 3], 1, 1).unwrap();
        assert!(conv.forward(&[0.0; 3], 4, Act::None).is_err());
    }
}
