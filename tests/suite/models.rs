//! The prepared Whisper GGUF against the CTranslate2 weights it came from.


use candle_core::quantized::gguf_file;
use candle_core::Device;
use creative_filter::asr::config::Config;
use creative_filter::models::ct2::Ct2Model;
use creative_filter::models::{self, WHISPER_GGUF};

#[test]
fn converted_whisper_matches_its_ctranslate2_source() {
    let dir = models::default_dir();
    let gguf = crate::common::model_file(WHISPER_GGUF);
    let ct2_bin = std::fs::read(dir.join(".cache/whisper-base-ct2/model.bin"))
        .expect("models/.cache/whisper-base-ct2 is kept by `models fetch`");
    let ct2 = Ct2Model::parse(&ct2_bin).unwrap();
    let mut reader = std::io::Cursor::new(&gguf);
    let content = gguf_file::Content::read(&mut reader).unwrap();
    let config = Config::from_gguf(&content.metadata).unwrap();
    assert_eq!(
        (config.d_model, config.encoder_layers, config.decoder_layers, config.encoder_attention_heads, config.vocab_size),
        (512, 6, 6, 8, 51865)
    );
    assert!(config.suppress_tokens.contains(&50362));
    assert!(gguf.len() <= 80_000_000, "runtime model is {} bytes", gguf.len());

    let fused = ct2.get("encoder/layer_3/self_attention/linear_0/weight").unwrap().to_f32();
    let cross_kv = ct2.get("decoder/layer_5/attention/linear_1/weight").unwrap().to_f32();
    let n = 512 * 512;
    let checks: Vec<(&str, Vec<f32>)> = vec![
        ("model.encoder.layers.3.self_attn.q_proj.weight", fused[..n].to_vec()),
        ("model.encoder.layers.3.self_attn.k_proj.weight", fused[n..2 * n].to_vec()),
        ("model.encoder.layers.3.self_attn.v_proj.weight", fused[2 * n..].to_vec()),
        ("model.decoder.layers.5.encoder_attn.k_proj.weight", cross_kv[..n].to_vec()),
        ("model.decoder.layers.5.encoder_attn.v_proj.weight", cross_kv[n..].to_vec()),
        ("model.decoder.embed_tokens.weight", ct2.get("decoder/embeddings/weight").unwrap().to_f32()),
        ("model.decoder.layers.0.fc2.weight", ct2.get("decoder/layer_0/ffn/linear_1/weight").unwrap().to_f32()),
        ("model.encoder.layer_norm.weight", ct2.get("encoder/layer_norm/gamma").unwrap().to_f32()),
        ("model.encoder.conv2.weight", ct2.get("encoder/conv2/weight").unwrap().to_f32()),
    ];
    for (name, expected) in checks {
        let t = content.tensor(&mut reader, name, &Device::Cpu).unwrap();
        let got: Vec<f32> = t.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(got.len(), expected.len(), "{name}");
        let max = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        let err = got.iter().zip(&expected).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        // Q8_0 keeps each value within half a step of its block's scale.
        assert!(err <= max / 127.0 * 0.51 + 1e-6, "{name}: max error {err} for max |w| {max}");
    }
    assert!(content.tensor(&mut reader, "model.encoder.layers.0.self_attn.k_proj.bias", &Device::Cpu).is_err(), "k has no bias");
}

#[test]
fn fetch_is_idempotent() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_creative-filter")).args(["models", "fetch"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("whisper-base: up to date"), "{stderr}");
    assert!(stderr.contains("multilingual-e5-small: up to date"), "{stderr}");
    assert!(!stderr.contains("downloaded"), "{stderr}");
}
