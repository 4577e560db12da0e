//! `creative-filter bench gpu`: each kernel on Whisper-base's encoder shapes,
//! on the GPU and with the CPU kernels in the same run.

use serde::Serialize;
use web_time::Instant;

use super::kernels::Activation;
use super::{Gpu, GpuMatrix, GpuNorm};
use crate::error::Result;
use crate::kernels::attention::{attention, Heads, Shape};
use crate::kernels::conv::Conv1d;
use crate::kernels::linear::{Fallback, Linear};
use crate::kernels::math::{Act, LayerNorm};

/// One kernel's best time of the runs on each side.
#[derive(Debug, Clone, Serialize)]
pub struct KernelTiming {
    pub kernel: String,
    pub shape: String,
    /// Floating-point (or integer multiply-add ×2) operations per call, in billions.
    pub gflop: f64,
    pub gpu_ms: f64,
    pub cpu_ms: f64,
}

impl KernelTiming {
    pub fn gpu_gflops(&self) -> f64 {
        self.gflop / self.gpu_ms * 1e3
    }

    pub fn cpu_gflops(&self) -> f64 {
        self.gflop / self.cpu_ms * 1e3
    }
}

/// Deterministic values in [−scale, scale].
pub fn values(len: usize, seed: usize, scale: f32) -> Vec<f32> {
    (0..len).map(|i| ((i.wrapping_mul(2_654_435_761).wrapping_add(seed * 97) % 2001) as f32 / 1000.0 - 1.0) * scale).collect()
}

fn best_ms(runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let mut best = f64::INFINITY;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(best)
}

/// Times `record` on the GPU: `reps` calls in one submission (so that the
/// submission and the one-value read-back are spread over them).
fn gpu_ms(gpu: &Gpu, runs: usize, reps: usize, out: &wgpu::Buffer, record: impl Fn(&mut super::Recorder)) -> Result<f64> {
    let ms = best_ms(runs, || {
        gpu.run(
            |r| {
                for _ in 0..reps {
                    record(r)
                }
            },
            out,
            1,
        )?;
        Ok(())
    })?;
    Ok(ms / reps as f64)
}

/// Whisper-base's encoder kernels for one 30-s window: 1,500 positions,
/// width 512, 8 heads, MLP 2,048.
pub fn kernels(gpu: &Gpu, runs: usize) -> Result<Vec<KernelTiming>> {
    let (t, d, heads, mlp) = (1500usize, 512usize, 8usize, 2048usize);
    let reps = if gpu.adapter().software { 1 } else { 10 };
    let mut timings = Vec::new();

    let x = values(t * d, 1, 1.0);
    let w = values(mlp * d, 2, 0.05);
    let bias = values(mlp, 3, 0.1);
    let q = crate::kernels::linear::quantize_q8_0(&w, mlp, d)?;
    let cpu = Linear::new(crate::kernels::linear::copy_qtensor(&q)?, Some(bias.clone()), Fallback::Dense)?;
    let gm = GpuMatrix::from_qtensor(gpu, &q, Some(&bias))?;
    let (xb, yb) = (gpu.upload(&x, "x"), gpu.scratch(t * mlp, "y"));
    timings.push(KernelTiming {
        kernel: "matmul Q8_0 + GELU".into(),
        shape: format!("[{t}, {d}] × [{mlp}, {d}]ᵀ"),
        gflop: 2.0 * (t * d * mlp) as f64 / 1e9,
        gpu_ms: gpu_ms(gpu, runs, reps, &yb, |r| r.matmul(&xb, &gm, t, Activation::GeluErf, None, &yb))?,
        cpu_ms: best_ms(runs, || cpu.forward(&x, t, Act::GeluErf, None).map(drop))?,
    });

    let qkv = values(t * 3 * d, 4, 1.0);
    let (qkvb, ctxb) = (gpu.upload(&qkv, "qkv"), gpu.scratch(t * d, "ctx"));
    let head = |i: usize| Heads { data: &qkv, stride: 3 * d, offset: i * d };
    let shape = Shape { batch: 1, len: t, heads, head_dim: d / heads };
    timings.push(KernelTiming {
        kernel: "attention".into(),
        shape: format!("{t} positions, {heads} heads of {}", d / heads),
        gflop: 4.0 * (t * t * d) as f64 / 1e9,
        gpu_ms: gpu_ms(gpu, runs, reps, &ctxb, |r| r.attention(&qkvb, t, d, heads, &ctxb))?,
        cpu_ms: best_ms(runs, || {
            attention(head(0), head(1), head(2), shape, 1.0 / ((d / heads) as f32).sqrt(), None);
            Ok(())
        })?,
    });

    let norm = LayerNorm { gamma: values(d, 5, 1.0), beta: values(d, 6, 0.1), eps: 1e-5 };
    let gnorm = GpuNorm::new(gpu, &norm);
    let hb = gpu.scratch(t * d, "h");
    timings.push(KernelTiming {
        kernel: "layer norm".into(),
        shape: format!("[{t}, {d}]"),
        gflop: 8.0 * (t * d) as f64 / 1e9,
        gpu_ms: gpu_ms(gpu, runs, reps, &hb, |r| r.layer_norm(&xb, &gnorm, t, &hb))?,
        cpu_ms: best_ms(runs, || {
            let mut h = x.clone();
            norm.apply(&mut h);
            Ok(())
        })?,
    });

    // The stem's second convolution: [3000, 512] → [1500, 512], kernel 3, stride 2.
    let x1 = values(2 * t * d, 7, 1.0);
    let cw = values(d * d * 3, 8, 0.03);
    let cb = values(d, 9, 0.1);
    let conv = Conv1d::new(&cw, cb.clone(), [d, d, 3], 2, 1)?;
    let gconv = GpuMatrix::f32(gpu, &cw, d, d * 3, Some(&cb))?;
    let (x1b, colb, cob) = (gpu.upload(&x1, "conv in"), gpu.scratch(t * d * 3, "columns"), gpu.scratch(t * d, "conv out"));
    timings.push(KernelTiming {
        kernel: "convolution (im2col + f32 matmul) + GELU".into(),
        shape: format!("[{}, {d}] → [{t}, {d}], kernel 3, stride 2", 2 * t),
        gflop: 2.0 * (t * d * d * 3) as f64 / 1e9,
        gpu_ms: gpu_ms(gpu, runs, reps, &cob, |r| {
            r.im2col(&x1b, 2 * t, d, 2, t, &colb);
            r.matmul(&colb, &gconv, t, Activation::GeluErf, None, &cob)
        })?,
        cpu_ms: best_ms(runs, || conv.forward(&x1, 2 * t, Act::GeluErf).map(drop))?,
    });
    Ok(timings)
}
