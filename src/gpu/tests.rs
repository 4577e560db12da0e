//! Each WGSL kernel against its definition computed in f64, on odd shapes
//! (one row, widths that are not multiples of the tiles). They need a GPU
//! adapter: lavapipe (Debian's `mesa-vulkan-drivers`, installed by
//! `scripts/setup.sh`) where there is no GPU.

use std::sync::{Arc, OnceLock};

use candle_core::Device;

use super::bench::values;
use super::kernels::Activation;
use super::*;

pub(crate) fn gpu() -> Arc<Gpu> {
    static GPU: OnceLock<Arc<Gpu>> = OnceLock::new();
    GPU.get_or_init(|| {
        let gpu = Gpu::open().unwrap_or_else(|e| panic!("{e}: the GPU tests need an adapter (apt-get install mesa-vulkan-drivers)"));
        eprintln!("GPU tests on {}", gpu.adapter());
        Arc::new(gpu)
    })
    .clone()
}

fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

/// erf by its definition, (2/√π)·∫₀ˣ e^(−t²) dt, with Simpson's rule on 400
/// intervals (error below 1e-8; beyond |x| = 6 it is ±1 to 1e-17).
fn erf(x: f64) -> f64 {
    let z = x.abs().min(6.0);
    let n = 400;
    let h = z / n as f64;
    let f = |t: f64| (-t * t).exp();
    let inner: f64 = (1..n).map(|i| f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 }).sum();
    let integral = h / 3.0 * (f(0.0) + inner + f(z));
    (2.0 / std::f64::consts::PI.sqrt() * integral).copysign(x)
}

/// The worst |got − want| relative to the largest |want| (at least 1).
fn worst(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(1.0f64, |s, v| s.max(v.abs()));
    got.iter().zip(want).map(|(g, w)| (*g as f64 - w).abs()).fold(0.0, f64::max) / scale
}

/// y = act(x·Wᵀ + b) + r in f64, W given as its f32 values.
fn product(x: &[f32], w: &[f32], b: Option<&[f32]>, r: Option<&[f32]>, m: usize, n: usize, k: usize, act: Activation) -> Vec<f64> {
    let mut y = vec![0f64; m * n];
    for i in 0..m {
        for o in 0..n {
            let mut v: f64 = (0..k).map(|j| x[i * k + j] as f64 * w[o * k + j] as f64).sum();
            v += b.map_or(0.0, |b| b[o] as f64);
            v = match act {
                Activation::None => v,
                Activation::GeluErf => gelu(v),
                Activation::QuickGelu => v / (1.0 + (-1.702 * v).exp()),
            };
            y[i * n + o] = v + r.map_or(0.0, |r| r[i * n + o] as f64);
        }
    }
    y
}

#[test]
fn q8_0_products_equal_their_definition_on_odd_shapes() {
    let gpu = gpu();
    for (m, n, k) in [(1, 1, 32), (1, 37, 96), (67, 130, 160), (130, 64, 64)] {
        for (act, with_bias, with_residual) in
            [(Activation::None, false, false), (Activation::GeluErf, true, true), (Activation::QuickGelu, true, false)]
        {
            let x = values(m * k, m + n, 1.0);
            let w = values(n * k, k, 0.2);
            let b = values(n, 3, 0.5);
            let r = values(m * n, 4, 1.0);
            let q = crate::kernels::linear::quantize_q8_0(&w, n, k).unwrap();
            // candle's Q8_0 decoding is the reference for the weights' values.
            let wq: Vec<f32> = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            let matrix = GpuMatrix::from_qtensor(&gpu, &q, with_bias.then_some(&b[..])).unwrap();
            let (xb, rb, yb) = (gpu.upload(&x, "x"), gpu.upload(&r, "r"), gpu.scratch(m * n, "y"));
            let got = gpu.run(|rec| rec.matmul(&xb, &matrix, m, act, with_residual.then_some(&rb), &yb), &yb, m * n).unwrap();
            let want = product(&x, &wq, with_bias.then_some(&b), with_residual.then_some(&r), m, n, k, act);
            let e = worst(&got, &want);
            assert!(e < 2e-5, "[{m}, {k}] × [{n}, {k}]ᵀ {act:?}: off by {e:e}");
        }
    }
}

#[test]
fn f32_products_take_any_width() {
    let gpu = gpu();
    for (m, n, k) in [(1, 5, 7), (70, 66, 240), (3, 512, 33)] {
        let (x, w, b) = (values(m * k, 1, 1.0), values(n * k, 2, 0.3), values(n, 5, 0.2));
        let matrix = GpuMatrix::f32(&gpu, &w, n, k, Some(&b)).unwrap();
        let (xb, yb) = (gpu.upload(&x, "x"), gpu.scratch(m * n, "y"));
        let got = gpu.run(|rec| rec.matmul(&xb, &matrix, m, Activation::GeluErf, None, &yb), &yb, m * n).unwrap();
        let e = worst(&got, &product(&x, &w, Some(&b), None, m, n, k, Activation::GeluErf));
        assert!(e < 2e-5, "f32 [{m}, {k}] × [{n}, {k}]ᵀ: off by {e:e}");
    }
}

#[test]
fn layer_norm_equals_its_definition() {
    let gpu = gpu();
    for (rows, n) in [(1, 1), (3, 100), (70, 512)] {
        let x: Vec<f32> = values(rows * n, 7, 3.0).iter().map(|v| v + 10.0).collect();
        let norm = crate::kernels::math::LayerNorm { gamma: values(n, 8, 1.0), beta: values(n, 9, 0.5), eps: 1e-5 };
        let (xb, yb) = (gpu.upload(&x, "x"), gpu.scratch(rows * n, "y"));
        let g = GpuNorm::new(&gpu, &norm);
        let got = gpu.run(|rec| rec.layer_norm(&xb, &g, rows, &yb), &yb, rows * n).unwrap();
        let (gamma, beta) = (&norm.gamma, &norm.beta);
        let want: Vec<f64> = x
            .chunks(n)
            .flat_map(|row| {
                let mean = row.iter().map(|v| *v as f64).sum::<f64>() / n as f64;
                let var = row.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
                let inv = 1.0 / (var + 1e-5).sqrt();
                row.iter().enumerate().map(move |(i, v)| (*v as f64 - mean) * inv * gamma[i] as f64 + beta[i] as f64).collect::<Vec<_>>()
            })
            .collect();
        let e = worst(&got, &want);
        assert!(e < 1e-5, "layer norm [{rows}, {n}]: off by {e:e}");
    }
}

#[test]
fn attention_equals_a_softmax_in_f64() {
    let gpu = gpu();
    // (sequences, positions each, heads, head width)
    for (n, t, heads, hd) in [(1, 1, 1, 4), (1, 33, 2, 8), (1, 97, 3, 64), (5, 51, 2, 16)] {
        let d = heads * hd;
        // Large scores, so that an unstable softmax would overflow.
        let qkv = values(n * t * 3 * d, t, 4.0);
        let (qb, cb) = (gpu.upload(&qkv, "qkv"), gpu.scratch(n * t * d, "ctx"));
        let got = gpu.run(|rec| rec.attention_each(&qb, n, t, d, heads, &cb), &cb, n * t * d).unwrap();
        let scale = 1.0 / (hd as f64).sqrt();
        let mut want = vec![0f64; n * t * d];
        for seq in 0..n {
            let at = |row: usize, part: usize, h: usize, c: usize| qkv[(seq * t + row) * 3 * d + part * d + h * hd + c] as f64;
            for h in 0..heads {
                for i in 0..t {
                    let s: Vec<f64> = (0..t).map(|j| (0..hd).map(|c| at(i, 0, h, c) * at(j, 1, h, c)).sum::<f64>() * scale).collect();
                    let max = s.iter().cloned().fold(f64::MIN, f64::max);
                    let e: Vec<f64> = s.iter().map(|v| (v - max).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for c in 0..hd {
                        want[(seq * t + i) * d + h * hd + c] = (0..t).map(|j| e[j] * at(j, 2, h, c)).sum::<f64>() / sum;
                    }
                }
            }
        }
        let err = worst(&got, &want);
        assert!(err < 1e-5, "attention over {n} × {t} positions, {heads} × {hd}: off by {err:e}");
    }
}

#[test]
fn the_stem_convolutions_equal_their_definition() {
    let gpu = gpu();
    for (t, cin, cout, stride) in [(1, 3, 5, 1), (11, 80, 70, 1), (3000, 8, 16, 2), (9, 33, 64, 2)] {
        let (x, w, b) = (values(t * cin, 1, 1.0), values(cout * cin * 3, 2, 0.2), values(cout, 3, 0.1));
        let t_out = (t - 1) / stride + 1;
        let matrix = GpuMatrix::f32(&gpu, &w, cout, cin * 3, Some(&b)).unwrap();
        let (xb, colb, yb) = (gpu.upload(&x, "x"), gpu.scratch(t_out * cin * 3, "col"), gpu.scratch(t_out * cout, "y"));
        let got = gpu
            .run(
                |rec| {
                    rec.im2col(&xb, t, cin, stride, t_out, &colb);
                    rec.matmul(&colb, &matrix, t_out, Activation::GeluErf, None, &yb)
                },
                &yb,
                t_out * cout,
            )
            .unwrap();
        let mut want = vec![0f64; t_out * cout];
        for i in 0..t_out {
            for o in 0..cout {
                let mut acc = b[o] as f64;
                for c in 0..cin {
                    for j in 0..3 {
                        let pos = (i * stride + j) as isize - 1;
                        if pos >= 0 && (pos as usize) < t {
                            acc += w[(o * cin + c) * 3 + j] as f64 * x[pos as usize * cin + c] as f64;
                        }
                    }
                }
                want[i * cout + o] = gelu(acc);
            }
        }
        let e = worst(&got, &want);
        assert!(e < 2e-5, "convolution t {t}, {cin} → {cout}, stride {stride}: off by {e:e}");
    }
}

#[test]
fn the_self_test_passes_and_errors_come_back_as_values() {
    let gpu = gpu();
    gpu.self_test().unwrap();
    // A product reading past its input is refused by validation, not a crash.
    let matrix = GpuMatrix::f32(&gpu, &values(4 * 8, 1, 1.0), 4, 8, None).unwrap();
    let (x, y) = (gpu.upload(&[1.0; 8], "short x"), gpu.scratch(4, "y"));
    let out = gpu.run(|rec| rec.matmul(&x, &matrix, 1, Activation::None, None, &y), &y, 8);
    assert!(matches!(out, Err(GpuError::Validation(_))), "{out:?}");
    // And the device works on afterwards.
    gpu.self_test().unwrap();
}

#[test]
fn the_erf_reference_is_right() {
    // Known values (Abramowitz & Stegun, table 7.1).
    for (x, want) in [(0.0, 0.0), (0.5, 0.520_499_877_8), (1.0, 0.842_700_792_9), (2.0, 0.995_322_265_0), (-1.5, -0.966_105_146_5)] {
        assert!((erf(x) - want).abs() < 1e-8, "erf({x}) = {}", erf(x));
    }
}

#[test]
fn q4_0_widens_to_q8_0_exactly() {
    use candle_core::quantized::{GgmlDType, QTensor};
    let (n, k) = (5, 96);
    let w = candle_core::Tensor::from_vec(values(n * k, 3, 0.7), (n, k), &Device::Cpu).unwrap();
    let q4 = QTensor::quantize(&w, GgmlDType::Q4_0).unwrap();
    let want = q4.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let blocks = kernels::q8_0_blocks(&q4).unwrap();
    let got: Vec<f32> = blocks
        .chunks_exact(34)
        .flat_map(|b| {
            let d = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
            b[2..].iter().map(move |&q| q as i8 as f32 * d)
        })
        .collect();
    assert_eq!(got, want);
}
