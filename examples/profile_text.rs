//! Embedding throughput on the first N texts of a JSONL file (`text` field).
//!     cargo run --release --features cli --example profile_text -- FILE.jsonl [N]
use std::time::Instant;

use creative_filter::text::TextEncoder;

fn main() -> creative_filter::Result<()> {
    let mut args = std::env::args().skip(1);
    let file = args.next().expect("usage: profile_text FILE.jsonl [N]");
    let n: usize = args.next().map(|s| s.parse().expect("N")).unwrap_or(200);
    let texts: Vec<String> = std::fs::read_to_string(file)?
        .lines()
        .take(n)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    let t = Instant::now();
    let enc = TextEncoder::load_default(&creative_filter::models::default_dir())?;
    println!("load {:.2} s", t.elapsed().as_secs_f64());
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let tokens: usize = refs.iter().map(|t| enc.windows(t).unwrap().iter().map(|w| w.len()).sum::<usize>()).sum();
    let t = Instant::now();
    let v = enc.embed(&refs)?;
    let s = t.elapsed().as_secs_f64();
    println!("{} texts, {} tokens in {:.2} s: {:.1} texts/s, {:.0} tokens/s (dim {})", v.len(), tokens, s, v.len() as f64 / s, tokens as f64 / s, v[0].len());
    Ok(())
}
