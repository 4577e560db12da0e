//! `creative-filter transcribe FILE...`

use std::path::{Path, PathBuf};

use serde_json::json;
use web_time::Instant;

use super::common::{isolated, load_whisper, read_input, AsrArgs};
use creative_filter::creative::{listen, Creative};

#[derive(clap::Args)]
pub struct Args {
    /// Creatives to transcribe (audio or video files).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    asr: AsrArgs,
    /// Also print the timed spans and what was rejected as hallucination.
    #[arg(long)]
    verbose: bool,
}

pub fn run(args: Args, models: &Path) -> creative_filter::Result<i32> {
    let t = Instant::now();
    let transcriber = load_whisper(models)?;
    eprintln!("whisper loaded in {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let opts = args.asr.options();
    let mut failures = 0;
    for path in &args.files {
        let name = path.to_string_lossy().to_string();
        let creative = Creative::from_file_name(&name);
        let started = Instant::now();
        let result = isolated(|| {
            let bytes = read_input(path)?.bytes;
            listen(bytes, &creative, &transcriber, &opts, args.asr.max_seconds)
        });
        let line = match result {
            Ok(heard) => {
                let t = &heard.timings;
                let mut obj = json!({
                    "file": name,
                    "id": creative.id,
                    "text": heard.transcript.text,
                    "speech": heard.transcript.speech,
                    "no_speech_prob": heard.transcript.no_speech_prob,
                    "language": heard.transcript.language,
                    "duration_s": heard.duration_s,
                    "codec": heard.codec,
                    "truncated": heard.truncated,
                    "windows": heard.transcript.windows,
                    "device": t.encoder_device,
                    "timings_ms": {
                        "decode": t.decode_ms, "resample": t.resample_ms, "mel": t.mel_ms,
                        "encoder": t.encoder_ms, "decoder": t.decoder_ms,
                        "total": started.elapsed().as_secs_f64() * 1e3,
                    },
                });
                if args.verbose {
                    obj["spans"] = json!(heard.transcript.spans);
                    obj["rejected"] = json!(heard.transcript.rejected);
                }
                obj
            }
            Err(e) => {
                failures += 1;
                json!({ "file": name, "id": creative.id, "error": e.to_string() })
            }
        };
        println!("{line}");
    }
    Ok(if failures == args.files.len() { 1 } else { 0 })
}
