//! Whisper quantised other ways, for `creative-filter bench asr` to compare
//! with the shipped Q8_0 (the README's "Models" section has the figures):
//!
//!   cargo run --release --example whisper_quantisation -- OUT_DIR
//!   CREATIVE_FILTER_MODELS=OUT_DIR/all-q6_k creative-filter bench asr \
//!       --clips tests/data/asterisk/transcripts.tsv
//!
//! Each variant is a models folder: the prepared models folder's files
//! linked, Whisper's GGUF written anew from the CTranslate2 source that
//! `models fetch` keeps, and a manifest that matches.
use std::path::Path;

use candle_core::quantized::GgmlDType::{Q4_0, Q5_0, Q6K, Q8_0};
use creative_filter::models::ct2::Ct2Model;
use creative_filter::models::manifest::{sha256_hex, Manifest, ModelFile};
use creative_filter::models::whisper_ct2::{convert, Ct2WhisperConfig, Quantisation};
use creative_filter::models::{prepare, WHISPER_GGUF};

const VARIANTS: [(&str, Quantisation); 4] = [
    ("emb-q4_0", Quantisation { projections: Q8_0, embedding: Q4_0 }),
    ("proj-q5_0", Quantisation { projections: Q5_0, embedding: Q8_0 }),
    ("all-q5_0", Quantisation { projections: Q5_0, embedding: Q5_0 }),
    ("all-q6_k", Quantisation { projections: Q6K, embedding: Q6K }),
];

fn main() -> creative_filter::Result<()> {
    let out = std::env::args().nth(1).expect("usage: whisper_quantisation OUT_DIR");
    let models = creative_filter::models::default_dir();
    let ct2 = prepare::whisper_ct2_dir(&models);
    let model_bin = std::fs::read(ct2.join("model.bin"))?;
    let model = Ct2Model::parse(&model_bin)?;
    let cfg: Ct2WhisperConfig = serde_json::from_slice(&std::fs::read(ct2.join("config.json"))?)
        .map_err(|e| creative_filter::Error::Prepare(e.to_string()))?;
    let shipped = prepare::read_manifest(&models)?;
    for (name, plan) in VARIANTS {
        let dir = Path::new(&out).join(name);
        std::fs::create_dir_all(&dir)?;
        for f in &shipped.files {
            let link = dir.join(&f.file);
            let _ = std::fs::remove_file(&link);
            if f.file != WHISPER_GGUF {
                std::os::unix::fs::symlink(models.join(&f.file), &link)?;
            }
        }
        let mut gguf = std::io::Cursor::new(Vec::new());
        convert(&model, &cfg, plan, &mut gguf)?;
        let gguf = gguf.into_inner();
        std::fs::write(dir.join(WHISPER_GGUF), &gguf)?;
        let mut manifest: Manifest = shipped.clone();
        let entry = shipped.get(WHISPER_GGUF).expect("models fetch lists Whisper").clone();
        manifest.upsert(ModelFile { bytes: gguf.len() as u64, sha256: sha256_hex(&gguf), source: plan.describe(), ..entry });
        std::fs::write(dir.join("manifest.json"), manifest.to_json())?;
        println!("{name}: {:.1} MB ({})", gguf.len() as f64 / 1e6, plan.describe());
    }
    Ok(())
}
