use candle_core::quantized::QMatMul;
use candle_core::{Device, Module, Tensor};

use super::reference::{self, check_path};
use super::*;

/// The paths this machine runs; on x86-64 with AVX-512 VNNI that is also
/// AVX2 and the portable one, all tested here in one run.
fn paths() -> Vec<Path> {
    let paths: Vec<Path> = Path::ALL.into_iter().filter(|p| p.supported()).collect();
    eprintln!("int8 paths tested: {}", paths.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "));
    paths
}

#[test]
fn every_path_equals_the_reference_bit_for_bit() {
    for p in paths() {
        check_path(p).unwrap();
    }
}

#[test]
#[cfg(target_arch = "x86_64")]
fn x86_paths_are_found_where_the_cpu_has_them() {
    assert_eq!(Path::Avx2.supported(), std::arch::is_x86_feature_detected!("avx2"));
    assert!(!Path::NeonDot.supported() && !Path::WasmRelaxed.supported());
}

#[test]
fn paths_are_named_for_the_environment_variable() {
    for p in Path::ALL {
        assert_eq!(Path::from_name(p.name()), Some(p));
    }
    assert_eq!(Path::from_name("avx512"), None);
    assert!(path().supported());
}

#[test]
fn every_quantization_matches_portable() {
    let (m, k) = (3, 128);
    let mut x: Vec<f32> = (0..m * k).map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 37.0).collect();
    // A block of zeros, exact ties (amax 127 → scale 1) and a lone outlier.
    x[32..64].fill(0.0);
    x[64..96].copy_from_slice(&std::array::from_fn::<f32, 32, _>(|i| if i == 0 { 127.0 } else { i as f32 - 15.5 }));
    x[200] = 1e4;
    let want = Activations::quantize(Path::Portable, &x, m, k);
    assert!(want.q[64 + 1..64 + 32].iter().map(|&q| signed(q)).eq((1..32).map(|i| (i as f32 - 15.5).round_ties_even() as i8)));
    for p in paths() {
        let got = Activations::quantize(p, &x, m, k);
        assert_eq!(got.q, want.q, "{}", p.name());
        assert_eq!(got.scales, want.scales, "{}", p.name());
    }
}

/// Against candle: the same activation quantization as candle's Q4_0 path
/// (except that candle rounds activation scales to f16), and close to the
/// dequantized f32 product.
fn check_candle(dtype: GgmlDType, n: usize, k: usize, m: usize) {
    let dev = Device::Cpu;
    let w = Tensor::randn(0f32, 1.0, (n, k), &dev).unwrap();
    let x = (Tensor::randn(0f32, 1.0, (m, k), &dev).unwrap()
        * Tensor::arange(0u32, k as u32, &dev).unwrap().to_dtype(candle_core::DType::F32).unwrap()
            .affine(0.01, 0.5).unwrap().unsqueeze(0).unwrap().broadcast_as((m, k)).unwrap())
    .unwrap();
    let q = QTensor::quantize(&w, dtype).unwrap();
    let exact = x.matmul(&q.dequantize(&dev).unwrap().t().unwrap()).unwrap().to_vec2::<f32>().unwrap();
    let candle = QMatMul::from_qtensor(q).unwrap();
    let q = QTensor::quantize(&w, dtype).unwrap();
    let want = candle.forward(&x).unwrap().to_vec2::<f32>().unwrap();
    let mat = Int8Matrix::from_qtensor(&q).unwrap().unwrap();
    let xs = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let scale = exact.iter().flatten().fold(0f32, |a, v| a.max(v.abs()));
    for p in paths() {
        let got = mat.matmul_on(p, &xs, m, &Epilogue::default());
        for t in 0..m {
            for r in 0..n {
                let g = got[t * n + r];
                // (candle's Q8_0 × Q8_0 path is not compared: it strays further from exact.)
                assert!(dtype != GgmlDType::Q4_0 || (g - want[t][r]).abs() <= 2e-3 * scale, "{dtype:?} [{t},{r}] {g} vs {}", want[t][r]);
                assert!((g - exact[t][r]).abs() <= 2e-2 * scale, "[{t},{r}] {g} vs exact {}", exact[t][r]);
            }
        }
    }
}

#[test]
fn matches_dequantized_matmul_and_candle() {
    check_candle(GgmlDType::Q4_0, 70, 96, 9);
    check_candle(GgmlDType::Q4_0, 128, 384, 67);
    check_candle(GgmlDType::Q8_0, 33, 64, 5);
    check_candle(GgmlDType::Q8_0, 64, 1536, 4);
}

#[test]
fn epilogue_adds_bias_activation_and_residual() {
    let (n, k, m) = (40, 64, 7);
    let (q, x) = reference::case(GgmlDType::Q8_0, n, k, m, 7);
    let mat = Int8Matrix::from_qtensor(&q).unwrap().unwrap();
    let bias: Vec<f32> = (0..n).map(|i| i as f32 / 10.0 - 2.0).collect();
    let res: Vec<f32> = (0..m * n).map(|i| (i % 13) as f32).collect();
    for p in paths() {
        let plain = mat.matmul_on(p, &x, m, &Epilogue::default());
        for act in [Act::None, Act::GeluErf, Act::GeluTanh, Act::Relu] {
            let ep = Epilogue { bias: Some(&bias), act, residual: Some(&res) };
            let got = mat.matmul_on(p, &x, m, &ep);
            let mut want = plain.clone();
            ep.apply(&mut want, n);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{} {act:?} at {i}: {g} vs {w}", p.name());
            }
        }
    }
}

/// Kernel speed per path on e5-small's and Whisper-base's shapes:
/// `cargo test --release --lib int8::tests::kernel_speed -- --ignored --nocapture`
#[test]
#[ignore]
fn kernel_speed() {
    // Batches of 1,024 tokens (encoders) and 1 token (the decoder); best of
    // 10 (shared machines are noisy).
    for p in paths() {
        for (n, k, m, dtype) in [
            (1152, 384, 1024, GgmlDType::Q4_0),
            (1536, 384, 1024, GgmlDType::Q4_0),
            (384, 1536, 1024, GgmlDType::Q4_0),
            (2048, 512, 1500, GgmlDType::Q8_0),
            (512, 2048, 1500, GgmlDType::Q8_0),
            (2048, 512, 1, GgmlDType::Q8_0),
            (51865, 512, 1, GgmlDType::Q8_0),
        ] {
            let (q, x) = reference::case(dtype, n, k, m, 1);
            let mat = Int8Matrix::from_qtensor(&q).unwrap().unwrap();
            let mut best = f64::MAX;
            for _ in 0..10 {
                let t = std::time::Instant::now();
                std::hint::black_box(mat.matmul_on(p, &x, m, &Epilogue::default()));
                best = best.min(t.elapsed().as_secs_f64());
            }
            let gflops = 2.0 * (n * k * m) as f64 / best / 1e9;
            println!("{:>10} [{n}, {k}] x {m}: {gflops:.1} GFLOP/s ({:.3} ms)", p.name(), best * 1e3);
        }
    }
}
