//! `creative-filter bench screen`: on-screen text read from a set of
//! creatives with known text (scripts/make-screen-set.py): character error
//! rate, the share put into their segment, and the time reading adds,
//! beside a peer's results on the same files (bench/screen_peer.py).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::bench::{header, row};
use super::common::{load_dictionary, load_encoder, load_engine, read_input, AsrArgs, CacheArgs};
use creative_filter::asr::wer::char_errors;
use creative_filter::creative::Creative;
use creative_filter::screen::ScreenMode;
use creative_filter::{Error, Result};

#[derive(clap::Args)]
pub struct Args {
    /// The set's folder (its manifest.jsonl names the files and their text).
    #[arg(long)]
    set: PathBuf,
    /// The peer's results on the same set (JSON lines: file, text, seconds).
    #[arg(long)]
    peer: Option<PathBuf>,
    /// What the peer is, in the table's header (bench/screen-web.mjs: the page).
    #[arg(long, default_value = "tesseract CLI")]
    peer_name: String,
    /// Segment dictionary (default: the built-in one).
    #[arg(long)]
    segments: Option<PathBuf>,
    #[command(flatten)]
    asr: AsrArgs,
}

#[derive(serde::Deserialize)]
struct Item {
    file: String,
    segment: u32,
    background: String,
    lines: Vec<String>,
}

#[derive(serde::Deserialize)]
struct PeerRow {
    file: String,
    text: String,
    seconds: f64,
}

/// Character errors and reference characters, summed.
#[derive(Default, Clone, Copy)]
struct Rate(usize, usize);

impl Rate {
    fn add(&mut self, (e, n): (usize, usize)) {
        self.0 += e;
        self.1 += n;
    }
    fn value(self) -> f64 {
        self.0 as f64 / self.1.max(1) as f64
    }
}

pub fn run(args: Args, models: &Path, cache: &CacheArgs) -> Result<i32> {
    let manifest = args.set.join("manifest.jsonl");
    let text = std::fs::read_to_string(&manifest).map_err(|source| Error::Read { path: manifest.clone(), source })?;
    let items: Vec<Item> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| Error::Invalid(format!("{}: {e}", manifest.display()))))
        .collect::<Result<_>>()?;
    let peer: Option<HashMap<String, PeerRow>> = match &args.peer {
        Some(p) => {
            let t = std::fs::read_to_string(p).map_err(|source| Error::Read { path: p.clone(), source })?;
            let rows = t
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str::<PeerRow>(l).map_err(|e| Error::Invalid(format!("{}: {e}", p.display()))))
                .collect::<Result<Vec<_>>>()?;
            Some(rows.into_iter().map(|r| (r.file.clone(), r)).collect())
        }
        None => None,
    };
    let engine = load_engine(models, load_encoder(models)?, &args.asr, ScreenMode::Always, cache)?;
    if engine.screen.is_none() {
        return Err(Error::Invalid("no OCR engine: run `creative-filter models fetch` (it prepares Tesseract's models)".into()));
    }
    let clf = engine.classifier(load_dictionary(args.segments.as_deref())?.as_ref(), None)?;
    let (mut ours, mut theirs) = (Rate::default(), Rate::default());
    // Per background: character errors, segments right, creatives, milliseconds reading.
    let mut by_background: Vec<(String, Rate, usize, usize, f64)> = Vec::new();
    let (mut right, mut decided, mut screen_ms, mut asr_ms, mut peer_s, mut frames_read, mut frames_ms) = (0, 0, 0.0, 0.0, 0.0, 0, 0.0);
    for item in &items {
        let path = args.set.join(&item.file);
        let reference = item.lines.join("\n");
        let v = engine.classify(&clf, &Creative::from_file_name(&item.file), read_input(&path)?)?;
        let report = v.report(clf.mode());
        let read = report.screen_text.clone().unwrap_or_default();
        let errors = char_errors(&reference, &read);
        ours.add(errors);
        let t = report.timings_ms.clone().unwrap_or_default();
        screen_ms += t.screen;
        asr_ms += t.decode + t.resample + t.mel + t.encoder + t.decoder;
        frames_read += v.screen.as_ref().map_or(0, |s| s.frames_read);
        frames_ms += v.screen.as_ref().map_or(0.0, |s| s.frames_ms);
        let ok = report.segment_id == Some(item.segment);
        right += usize::from(ok);
        decided += usize::from(report.segment_id.is_some());
        match by_background.iter_mut().find(|b| b.0 == item.background) {
            Some(b) => {
                b.1.add(errors);
                b.2 += usize::from(ok);
                b.3 += 1;
                b.4 += t.screen;
            }
            None => {
                let mut r = Rate::default();
                r.add(errors);
                by_background.push((item.background.clone(), r, usize::from(ok), 1, t.screen));
            }
        }
        if let Some(rows) = &peer {
            let p = rows.get(&item.file).ok_or_else(|| Error::Invalid(format!("the peer has no line for {}", item.file)))?;
            theirs.add(char_errors(&reference, &p.text));
            peer_s += p.seconds;
        }
        eprintln!(
            "{}: {} [{}] CER {:.3} | {}",
            item.file,
            report.segment_id.map_or("-".to_string(), |s| s.to_string()),
            if ok { "right" } else { "wrong" },
            errors.0 as f64 / errors.1.max(1) as f64,
            read.replace('\n', " / ")
        );
    }
    let n = items.len().max(1) as f64;
    println!(
        "On-screen text: {} creatives with no speech, {} backgrounds, Tesseract {} (rus+eng, LSTM); peer: {}",
        items.len(),
        by_background.len(),
        creative_filter::screen::tesseract::version(),
        args.peer_name
    );
    header(&args.peer_name);
    let p = peer.as_ref();
    row("CER", ours.value(), p.map(|_| theirs.value()), 3);
    row("seconds reading per creative", screen_ms / 1e3 / n, p.map(|_| peer_s / n), 2);
    println!(
        "frames read per creative: {:.1}; of the seconds reading, {:.2} decoding and sampling frames",
        frames_read as f64 / n,
        frames_ms / 1e3 / n
    );
    println!("seconds of ASR per creative (same run): {:.2}", asr_ms / 1e3 / n);
    println!("segment right (zero-shot, built-in dictionary): {right} of {} ({:.1} %), {decided} decided", items.len(), 100.0 * right as f64 / n);
    for (name, rate, ok, count, ms) in &by_background {
        println!("  {name:<14} CER {:.3}  right {ok}/{count}  {:.2} s reading per creative", rate.value(), ms / 1e3 / *count as f64);
    }
    Ok(0)
}
