//! X-CLIP against the tiny random Hugging Face model in tests/fixtures/tiny-xclip
//! (made by scripts/reference/tiny_xclip.py with transformers' XCLIPModel).

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{Device, Tensor};
use creative_filter::text::WeightFormat;
use creative_filter::vision::{
    self, clip_normalise, ClipTokenizer, XClipConfig, XClipModel, XClipOutput, XClipWeights,
};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-xclip")
}

fn read(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn reference() -> serde_json::Value {
    serde_json::from_slice(&read("reference.json")).unwrap()
}

fn config() -> XClipConfig {
    XClipConfig::from_json(&read("config.json")).unwrap()
}

/// A reference array: (shape, values).
fn array(r: &serde_json::Value, key: &str) -> (Vec<usize>, Vec<f32>) {
    let a = &r[key];
    let shape = a["shape"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
    let data = a["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    (shape, data)
}

fn ids_rows(r: &serde_json::Value, key: &str) -> Vec<Vec<u32>> {
    r[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect())
        .collect()
}

/// The pixels by the fixture's rule: sin(0.013 i + 0.7 t + 1.1 b) · 1.8.
fn pixels(r: &serde_json::Value) -> Tensor {
    let shape: Vec<usize> =
        r["pixel_values"]["shape"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
    let (b, t) = (shape[0], shape[1]);
    let n: usize = shape.iter().product();
    let per_frame = n / (b * t);
    let data: Vec<f32> = (0..n)
        .map(|i| {
            let (t, b) = ((i / per_frame) % t, i / (per_frame * t));
            ((0.013 * i as f64 + 0.7 * t as f64 + 1.1 * b as f64).sin() * 1.8) as f32
        })
        .collect();
    Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
}

fn inputs(r: &serde_json::Value) -> (Tensor, Tensor) {
    let ids = ids_rows(r, "input_ids");
    let mask = ids_rows(r, "attention_mask");
    let (k, l) = (ids.len(), ids[0].len());
    let ids = Tensor::from_vec(ids.concat(), (k, l), &Device::Cpu).unwrap();
    let mask: Vec<f32> = mask.concat().into_iter().map(|m| m as f32).collect();
    (ids, Tensor::from_vec(mask, (k, l), &Device::Cpu).unwrap())
}

struct Outputs {
    out: XClipOutput,
    video_features: Tensor,
    prompt_visual: Tensor,
    text_features: Tensor,
}

fn run(model: &XClipModel, r: &serde_json::Value) -> Outputs {
    let (ids, mask) = inputs(r);
    let video = model.video_features(&pixels(r)).unwrap();
    let text = model.text_features(&ids, &mask).unwrap();
    let out = model.logits_per_video(&video, &text).unwrap();
    Outputs { out, video_features: video.embeds, prompt_visual: video.prompt_visual, text_features: text }
}

fn named(o: &Outputs) -> Vec<(&'static str, &Tensor)> {
    vec![
        ("video_embeds", &o.out.video_embeds),
        ("text_embeds", &o.out.text_embeds),
        ("logits_per_video", &o.out.logits_per_video),
        ("video_features", &o.video_features),
        ("text_features", &o.text_features),
        ("prompt_visual", &o.prompt_visual),
    ]
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Lowest cosine between matching rows of width `d`.
fn min_cosine(a: &[f32], b: &[f32], d: usize) -> f32 {
    a.chunks(d)
        .zip(b.chunks(d))
        .map(|(x, y)| {
            let dot: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
            let n = |v: &[f32]| v.iter().map(|p| p * p).sum::<f32>().sqrt();
            dot / (n(x) * n(y))
        })
        .fold(1.0, f32::min)
}

fn model(format: WeightFormat) -> XClipModel {
    XClipModel::from_safetensors(&read("model.safetensors"), &config(), format).unwrap()
}

#[test]
fn f32_matches_transformers() {
    let r = reference();
    let got = run(&model(WeightFormat::F32), &r);
    for (name, t) in named(&got) {
        let (shape, want) = array(&r, name);
        assert_eq!(t.dims(), shape.as_slice(), "{name}");
        let diff = max_abs_diff(&flat(t), &want);
        println!("f32 {name:<17} max abs diff {diff:.2e}");
        assert!(diff <= 1e-4, "{name}: max abs diff {diff}");
    }
    // The prompts really are told apart, and conditioning changed the text embeddings.
    let logits = flat(&got.out.logits_per_video);
    assert!(logits.iter().cloned().fold(f32::MIN, f32::max) - logits.iter().cloned().fold(f32::MAX, f32::min) > 1.0);
}

#[test]
fn q8_0_stays_close_to_transformers() {
    let r = reference();
    let got = run(&model(WeightFormat::Q8_0), &r);
    let d = config().projection_dim;
    for (name, t) in named(&got) {
        let (_, want) = array(&r, name);
        let g = flat(t);
        let (diff, cos) = (max_abs_diff(&g, &want), min_cosine(&g, &want, d));
        if name == "logits_per_video" {
            println!("Q8_0 {name:<16} max abs diff {diff:.2e}");
            // logit_scale.exp() ≈ 14.3 times a cosine error of well under 1 %.
            assert!(diff <= 0.2, "{name}: max abs diff {diff}");
        } else {
            println!("Q8_0 {name:<16} max abs diff {diff:.2e}  min cosine {cos:.6}");
            assert!(cos >= 0.999, "{name}: cosine {cos}");
        }
    }
}

#[test]
fn tokenizer_matches_clip_tokenizer_both_ways() {
    let r = reference();
    let want = ids_rows(&r, "input_ids");
    let mask = ids_rows(&r, "attention_mask");
    let prompts: Vec<&str> = r["prompts"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    let max_len = config().text_config.max_position_embeddings;
    let from_json = ClipTokenizer::from_tokenizer_json(&read("tokenizer.json"), max_len).unwrap();
    let merges = String::from_utf8(read("merges.txt")).unwrap();
    let from_files = ClipTokenizer::from_vocab_merges(&read("vocab.json"), &merges, max_len).unwrap();
    for tok in [&from_json, &from_files] {
        for (p, w) in prompts.iter().zip(&want) {
            assert_eq!(&tok.encode(p).unwrap(), w, "{p:?}");
        }
        let batch = tok.encode_batch(&prompts).unwrap();
        assert_eq!(batch.ids.to_vec2::<u32>().unwrap(), want);
        let m: Vec<Vec<u32>> =
            batch.mask.to_vec2::<f32>().unwrap().iter().map(|r| r.iter().map(|&x| x as u32).collect()).collect();
        assert_eq!(m, mask);
    }
    // The long prompt was cut to max_len with its end token kept.
    let last = want.last().unwrap();
    assert_eq!((last.len(), *last.last().unwrap()), (max_len, from_json.encode("").unwrap()[1]));
}

#[test]
fn tokenizer_files_that_are_not_clip_are_refused() {
    let err = ClipTokenizer::from_vocab_merges(br#"{"a": 0}"#, "#version: 0.2\n", 16).err().unwrap();
    assert!(err.to_string().contains("<|startoftext|>"), "{err}");
    let err = ClipTokenizer::from_tokenizer_json(b"{}", 16).err().unwrap();
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}

#[test]
fn gguf_round_trip_gives_identical_outputs() {
    let r = reference();
    for format in [WeightFormat::F32, WeightFormat::Q8_0] {
        let weights = XClipWeights::from_safetensors(&read("model.safetensors"), &config(), format).unwrap();
        let mut gguf = std::io::Cursor::new(Vec::new());
        weights.write_gguf("tiny-xclip", &mut gguf).unwrap();
        let direct = run(&XClipModel::new(&weights).unwrap(), &r);
        let loaded = XClipModel::from_gguf(gguf.get_ref()).unwrap();
        assert_eq!(loaded.config(), &config());
        let back = run(&loaded, &r);
        for ((name, a), (_, b)) in named(&direct).into_iter().zip(named(&back)) {
            assert_eq!(flat(a), flat(b), "{format:?} {name}");
        }
        println!("{format:?}: GGUF of {} bytes", gguf.get_ref().len());
    }
}

#[test]
fn frames_are_normalised_like_clip_image_processor() {
    let rgb = [0u8, 128, 255].repeat(4);
    let x = clip_normalise(&rgb, 2).unwrap();
    // Channel-first: four reds, four greens, four blues.
    let want = [(0.0 - 0.48145466) / 0.26862954, (128.0 / 255.0 - 0.4578275) / 0.26130258, (1.0 - 0.40821073) / 0.27577711];
    for c in 0..3 {
        for v in &x[c * 4..c * 4 + 4] {
            assert!((v - want[c] as f32).abs() < 1e-6, "channel {c}: {v}");
        }
    }
    assert!(clip_normalise(&rgb, 3).is_err());
    let video = vision::video_tensor(&[&rgb, &rgb], 2).unwrap();
    assert_eq!(video.dims(), &[1, 2, 3, 2, 2]);
}

fn safetensors_without(drop: &str) -> Vec<u8> {
    let mut t: HashMap<String, Tensor> =
        candle_core::safetensors::load_buffer(&read("model.safetensors"), &Device::Cpu).unwrap();
    assert!(t.remove(drop).is_some(), "no {drop} in the fixture");
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("xclip-missing.safetensors");
    candle_core::safetensors::save(&t, &path).unwrap();
    std::fs::read(&path).unwrap()
}

#[test]
fn missing_tensors_and_mismatched_configs_are_clear_errors() {
    let name = "vision_model.encoder.layers.1.message_attn.k_proj.weight";
    let err = XClipModel::from_safetensors(&safetensors_without(name), &config(), WeightFormat::F32).err().unwrap();
    assert!(err.to_string().contains(name), "{err}");

    let mut cfg = config();
    cfg.text_config.intermediate_size = 128;
    let err = XClipModel::from_safetensors(&read("model.safetensors"), &cfg, WeightFormat::F32).err().unwrap();
    assert!(err.to_string().contains("mlp.fc1.weight") && err.to_string().contains("[128, 32]"), "{err}");

    let mut cfg = config();
    cfg.vision_config.mit_hidden_size = 48;
    let err = XClipModel::from_safetensors(&read("model.safetensors"), &cfg, WeightFormat::F32).err().unwrap();
    assert!(err.to_string().contains("projection_dim"), "{err}");

    assert!(XClipModel::from_gguf(b"GGUF but not really").is_err());
    assert!(XClipModel::from_safetensors(b"not safetensors", &config(), WeightFormat::F32).is_err());
}
