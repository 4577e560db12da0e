//! Times the pieces of one Whisper window: encoder, cross-attention set-up,
//! the prompt, and decoder steps (vocabulary projection included) for one
//! hypothesis and for the five of a beam search.
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
        let encoded = m.encoder.encode(&mel)?;
        println!("encoder {:?}", t.elapsed());
        let t = Instant::now();
        let mut st = m.decoder.start(&encoded, 228)?;
        println!("start {:?}", t.elapsed());
        let t = Instant::now();
        for t in [50258, 50263, 50359] {
            m.decoder.step(&[t], &mut st)?;
        }
        println!("prompt {:?}", t.elapsed());
        let t = Instant::now();
        for i in 0..20 {
            m.decoder.step(&[400 + i], &mut st)?;
        }
        println!("20 steps, 1 hypothesis {:?}", t.elapsed());
        st.truncate(3);
        st.reorder(&[0; 5]);
        let t = Instant::now();
        for i in 0..20 {
            m.decoder.step(&[400 + i; 5], &mut st)?;
        }
        println!("20 steps, 5 hypotheses {:?}", t.elapsed());
    }
    Ok(())
}
