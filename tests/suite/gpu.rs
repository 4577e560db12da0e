//! Whisper's encoder on the GPU — lavapipe, a CPU emulation, where there is
//! no GPU — against CTranslate2's states and the CPU path, and the CPU taking
//! over when the GPU fails.

use std::sync::{Arc, OnceLock};

use creative_filter::asr::wer::corpus_cer;
use creative_filter::asr::whisper::Encoded;
use creative_filter::asr::{load_transcriber_on, DecodingOptions, TranscribeOptions, Transcriber};
use creative_filter::gpu::{DeviceChoice, Gpu};
use creative_filter::kernels::math::least_row_cosine;
use creative_filter::media::{decode_audio, resample};
use creative_filter::models::{WHISPER_GGUF, WHISPER_TOKENIZER};
use creative_filter::creative::DEFAULT_MAX_SECONDS;

use crate::asr::whisper_reference;
use crate::common::{data_dir, model_file, transcriber};

fn on_gpu(gpu: Arc<Gpu>) -> Transcriber {
    load_transcriber_on(&model_file(WHISPER_GGUF), &model_file(WHISPER_TOKENIZER), gpu).expect("whisper loads on the GPU")
}

fn open_gpu() -> Arc<Gpu> {
    Gpu::select(DeviceChoice::Gpu)
        .unwrap_or_else(|e| panic!("{e}: the GPU tests need an adapter (apt-get install mesa-vulkan-drivers)"))
        .expect("an explicit GPU is opened or refused")
}

/// One device for the tests that do not end it: on lavapipe, opening one
/// (its pipelines compiled, its self-test run) costs more than a window.
fn gpu() -> Arc<Gpu> {
    static G: OnceLock<Arc<Gpu>> = OnceLock::new();
    G.get_or_init(open_gpu).clone()
}

fn gpu_transcriber() -> &'static Transcriber {
    static T: OnceLock<Transcriber> = OnceLock::new();
    T.get_or_init(|| on_gpu(gpu()))
}

fn samples(file: &str) -> Vec<f32> {
    let path = data_dir().join("asterisk").join(file);
    let decoded = decode_audio(std::fs::read(&path).unwrap(), Some("wav"), DEFAULT_MAX_SECONDS).unwrap();
    resample(&decoded.audio.samples, decoded.audio.sample_rate, 16_000).unwrap()
}

fn encode(t: &Transcriber, samples: &[f32]) -> Encoded {
    t.model().encode(&t.first_window_mel(samples).unwrap()).unwrap()
}

fn states(encoded: &Encoded) -> Vec<f32> {
    encoded.audio.flatten_all().unwrap().to_vec1().unwrap()
}

/// A decoder layer's cross-attention keys then values for `states` [t, d]
/// by their definition, states · Wᵀ + b in f64, from candle's
/// dequantisation of the stored weights: [t, 2d] rows.
fn cross_kv_reference(states: &[f32], d: usize, layer: usize) -> Vec<f64> {
    use candle_core::quantized::gguf_file;
    let bytes = model_file(WHISPER_GGUF);
    let mut reader = std::io::Cursor::new(&bytes);
    let content = gguf_file::Content::read(&mut reader).unwrap();
    let mut read = |name: &str| -> Option<Vec<f32>> {
        content.tensor_infos.contains_key(name).then(|| {
            let q = content.tensor(&mut reader, name, &candle_core::Device::Cpu).unwrap();
            q.dequantize(&candle_core::Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap()
        })
    };
    let parts: Vec<(Vec<f32>, Option<Vec<f32>>)> = ["k_proj", "v_proj"]
        .iter()
        .map(|p| {
            let prefix = format!("model.decoder.layers.{layer}.encoder_attn.{p}");
            (read(&format!("{prefix}.weight")).expect("the projection is stored"), read(&format!("{prefix}.bias")))
        })
        .collect();
    states
        .chunks_exact(d)
        .flat_map(|x| {
            parts.iter().flat_map(move |(w, b)| {
                w.chunks_exact(d).enumerate().map(move |(o, row)| {
                    row.iter().zip(x).map(|(a, v)| *a as f64 * *v as f64).sum::<f64>() + b.as_ref().map_or(0.0, |b| b[o] as f64)
                })
            })
        })
        .collect()
}

/// The decoder's logits after the start of transcript, Russian, transcribe,
/// no timestamps, over `encoded` as it comes (with the GPU's cross-attention
/// keys and values, where it made them).
fn first_logits(t: &Transcriber, encoded: &Encoded) -> Vec<f32> {
    let tk = t.tokenizer();
    let mut state = t.model().decoder.start(encoded, 8).unwrap();
    t.model().decoder.prefill(&[tk.sot, tk.language_token("ru").unwrap(), tk.transcribe, tk.no_timestamps], &mut state).unwrap()
}

/// At CTranslate2's sampled positions (float32, the same weights), and at
/// every position against the CPU path.
#[test]
fn gpu_encoder_states_match_ctranslate2_and_the_cpu() {
    let r = whisper_reference().encoder;
    let samples = samples(&r.file);
    let (g, c) = (gpu_transcriber(), transcriber());
    assert!(g.model().encoder_device().starts_with("gpu: "), "{}", g.model().encoder_device());
    let encoded = encode(g, &samples);
    let (on_gpu, on_cpu) = (states(&encoded), states(&encode(c, &samples)));
    let d = r.states[0].len();
    let sampled = |s: &[f32]| r.positions.iter().flat_map(|&p| s[p * d..(p + 1) * d].to_vec()).collect::<Vec<f32>>();
    let want: Vec<f32> = r.states.concat();
    let gpu_vs_ref = least_row_cosine(&sampled(&on_gpu), &want, d);
    let cpu_vs_ref = least_row_cosine(&sampled(&on_cpu), &want, d);
    let gpu_vs_cpu_sampled = least_row_cosine(&sampled(&on_gpu), &sampled(&on_cpu), d);
    let gpu_vs_cpu = least_row_cosine(&on_gpu, &on_cpu, d);
    eprintln!(
        "least cosine at {} sampled positions: GPU vs CTranslate2 {gpu_vs_ref:.6}, CPU vs CTranslate2 {cpu_vs_ref:.6}, GPU vs CPU {gpu_vs_cpu_sampled:.6}; over all 1,500 GPU vs CPU {gpu_vs_cpu:.6}",
        r.positions.len()
    );
    assert!(gpu_vs_ref >= 0.999, "GPU states against CTranslate2's: {gpu_vs_ref}");
    // The CPU path's int8 activations keep it within 0.99 of CTranslate2
    // (asr::encoder_matches_ctranslate2); the GPU's are f32.
    assert!(gpu_vs_cpu_sampled >= 0.99, "GPU states against the CPU's: {gpu_vs_cpu_sampled}");

    // The same pass made the decoder's cross-attention keys and values:
    // against their definition from the states it read back, in the first
    // and the last layer,
    let kv = encoded.cross_kv.as_ref().expect("the GPU makes the cross-attention keys and values");
    assert_eq!(kv.len(), g.model().config.decoder_layers);
    for layer in [0, kv.len() - 1] {
        let want = cross_kv_reference(&on_gpu, d, layer);
        let scale = want.iter().fold(1f64, |m, v| m.max(v.abs()));
        let worst = kv[layer].iter().zip(&want).map(|(g, w)| (*g as f64 - w).abs()).fold(0f64, f64::max) / scale;
        eprintln!("cross-attention keys and values of layer {layer} against their definition: within {worst:.2e} of the largest");
        assert!(worst < 2e-5, "layer {layer}: off by {worst:e}");
    }
    // and the decoder given them scores the first token as with its own,
    // made on the CPU (int8 kernels, which quantise the states) from the
    // same states.
    let cpu_kv = Encoded { audio: encoded.audio.clone(), cross_kv: None, parts: Default::default() };
    let (with_gpu_kv, with_cpu_kv) = (first_logits(g, &encoded), first_logits(g, &cpu_kv));
    let argmax = |v: &[f32]| v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap();
    let worst = with_gpu_kv.iter().zip(&with_cpu_kv).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    let spread = with_cpu_kv.iter().fold(f32::MIN, |m, v| m.max(*v)) - with_cpu_kv.iter().fold(f32::MAX, |m, v| m.min(*v));
    eprintln!("first-token logits with the GPU's keys and values against the CPU's: largest difference {worst:.4} (logits spread over {spread:.2})");
    assert_eq!(argmax(&with_gpu_kv), argmax(&with_cpu_kv), "the first token");
    assert!(worst <= 0.02 * spread, "logits differ by {worst} of a {spread} spread");
}

/// A GPU lost after the model went onto it (a driver reset between two
/// creatives of a batch): the next creative is encoded on the CPU, with the
/// CPU's transcript, and the report says so. The tests above show the same
/// transcriber working on a live device.
#[test]
fn a_lost_gpu_leaves_the_rest_of_the_batch_to_the_cpu() {
    let r = whisper_reference();
    let opts = TranscribeOptions { decoding: DecodingOptions::greedy(), ..Default::default() };
    let gpu = open_gpu();
    let t = on_gpu(gpu.clone());
    assert!(t.model().encoder_device().starts_with("gpu: "), "{}", t.model().encoder_device());
    gpu.destroy();
    let second = samples(&r.clips[2].file);
    let after = t.transcribe(&second, &opts).unwrap();
    let device = &after.timings.encoder_device;
    assert!(device.starts_with("cpu (") && device.contains("GPU"), "{device}");
    assert_eq!(after.text, transcriber().transcribe(&second, &opts).unwrap().text);
    eprintln!("after the loss: {device}");
}

/// `--device`: each report names where the encoder ran, the GPU's
/// transcript is the CPU's (or, where the encoders' arithmetic tips a token,
/// within a few characters of it: "формите" and "фармитик" for "оформите"
/// were seen), `auto` passes over a CPU emulation, and a wrong name is
/// refused with the choices. This is the suite's one transcript on the GPU:
/// a window takes lavapipe minutes on a CPU without AVX-512, and the states
/// test above checks the encoder's arithmetic on every position.
#[test]
fn the_cli_encodes_where_device_says() {
    let run = |device: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_creative-filter"))
            .args(["--device", device, "transcribe"])
            .arg(crate::common::media("voice.wav"))
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let row = |stdout: &str| serde_json::from_str::<serde_json::Value>(stdout.trim()).expect("one JSON object");
    let (on_gpu, on_cpu, auto) = (row(&run("gpu").1), row(&run("cpu").1), row(&run("auto").1));
    assert!(on_gpu["device"].as_str().unwrap().starts_with("gpu: "), "{on_gpu}");
    assert!(on_cpu["device"].as_str().unwrap().starts_with("cpu ("), "{on_cpu}");
    let text = |row: &serde_json::Value| row["text"].as_str().unwrap().to_string();
    assert!(text(&on_cpu).contains("кредитную карту"), "{on_cpu}");
    let cer = corpus_cer([(text(&on_cpu).as_str(), text(&on_gpu).as_str())]);
    eprintln!("GPU: {}\nCPU: {}\nCER between them {cer:.4}", text(&on_gpu), text(&on_cpu));
    assert!(cer <= 0.1, "the GPU's transcript is {cer} from the CPU's: {on_gpu} against {on_cpu}");
    let software = gpu().adapter().software;
    assert_eq!(auto["device"].as_str().unwrap().starts_with("cpu ("), software, "auto on this adapter: {auto}");
    let (code, _, stderr) = run("tpu");
    assert_eq!(code, Some(2));
    assert!(stderr.contains("auto, cpu or gpu"), "{stderr}");
}

/// e5's layers on the GPU against the reference forward (the fixture of
/// `scripts/reference/e5_reference.py`, which `text_encoder.rs` checks the
/// CPU path against) and against the CPU path, on the same texts.
#[test]
fn gpu_text_embeddings_match_the_reference_and_the_cpu() {
    use creative_filter::text::TextEncoder;
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let dir = std::env::var_os("CREATIVE_FILTER_MODELS").map(std::path::PathBuf::from).unwrap_or(dir);
    let on_gpu = TextEncoder::load_default_on(&dir, Some(gpu())).unwrap();
    assert!(on_gpu.on_gpu(), "e5's layers are on the GPU");
    let on_cpu = TextEncoder::load_default(&dir).unwrap();
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/e5_embeddings.json");
    let fx: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let rows = fx["texts"].as_array().unwrap();
    let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
    let floats = |v: &serde_json::Value| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect::<Vec<_>>();
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let (gpu, cpu) = (on_gpu.embed(&texts).unwrap(), on_cpu.embed(&texts).unwrap());
    assert!(on_gpu.on_gpu(), "the GPU did not fail");
    let mut least = (f32::MAX, f32::MAX);
    for ((row, g), c) in rows.iter().zip(&gpu).zip(&cpu) {
        let (sentence, layer8) = g.split_at(on_gpu.sentence_dim());
        let reference = dot(sentence, &floats(&row["embedding"])).min(dot(layer8, &floats(&row["layer8"])));
        let to_cpu = dot(g, c) / (on_cpu.dim() / on_cpu.sentence_dim()) as f32; // unit blocks
        least = (least.0.min(reference), least.1.min(to_cpu));
        assert!(reference >= 0.999 && to_cpu >= 0.999, "reference {reference}, CPU {to_cpu} for {:.40}", row["text"]);
    }
    println!("{} texts: least cosine {:.5} to the reference, {:.5} to the CPU path", texts.len(), least.0, least.1);
}
