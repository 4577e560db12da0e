//! Times the pieces of one Whisper window: encoder, cross-attention set-up,
//! one decoder step and the vocabulary projection.
use creative_filter::asr::whisper::{Weights, Whisper};
use candle_core::{Device, Tensor};
use std::time::Instant;

fn main() -> creative_filter::Result<()> {
    let dir = creative_filter::models::default_dir();
    let gguf = std::fs::read(dir.join(creative_filter::models::WHISPER_GGUF))?;
    let (w, cfg) = Weights::from_gguf(&gguf, &Device::Cpu)?;
    let m = Whisper::load(&w, cfg)?;
    let mel = Tensor::zeros((1, 80, 3000), candle_core::DType::F32, &Device::Cpu)?;
    for _ in 0..2 {
        let t = Instant::now();
        let audio = m.encoder.forward(&mel)?;
        println!("encoder {:?}", t.elapsed());
        let t = Instant::now();
        let mut st = m.decoder.start(&audio)?;
        println!("start {:?}", t.elapsed());
        let t = Instant::now();
        let mut h = m.decoder.step(50258, &mut st)?;
        for t in [50263, 50359] { h = m.decoder.step(t, &mut st)?; }
        println!("prompt {:?}", t.elapsed());
        let t = Instant::now();
        for i in 0..20 { let h = m.decoder.step(400 + i, &mut st)?; let _ = m.decoder.logits(&h)?; }
        println!("20 steps {:?}", t.elapsed());
        let t = Instant::now();
        for _ in 0..20 { let _ = m.decoder.logits(&h)?; }
        println!("20 logits {:?}", t.elapsed());
    }
    Ok(())
}
