//! Speech recognition: log-mel front end, Whisper, and the decoding policy
//! (language, suppression, 30-s windows, no-speech detection, beam search
//! and the temperature fallback).

pub mod config;
pub mod decoding;
pub mod hallucination;
pub mod mel;
pub mod tokenizer;
pub mod transcribe;
pub mod wer;
pub mod whisper;
pub mod whisper_gpu;

pub use decoding::DecodingOptions;
pub use transcribe::{AsrTimings, DecoderBench, Rejected, SpeechSpan, TranscribeOptions, Transcriber, Transcript};
pub use whisper::{DecoderParts, EncoderBench, EncoderParts};

use crate::error::Result;
use candle_core::Device;

/// Loads the runtime Whisper (GGUF) and its tokenizer from bytes; the browser
/// and the CLI both come through here.
pub fn load_transcriber(gguf: &[u8], tokenizer_json: &[u8]) -> Result<Transcriber> {
    let (weights, config) = whisper::Weights::from_gguf(gguf, &Device::Cpu)?;
    let model = whisper::Whisper::load(&weights, config)?;
    Ok(Transcriber::new(model, tokenizer::WhisperTokenizer::from_bytes(tokenizer_json)?))
}

/// [`load_transcriber`] with the encoder on `gpu` (natively).
#[cfg(not(target_arch = "wasm32"))]
pub fn load_transcriber_on(gguf: &[u8], tokenizer_json: &[u8], gpu: std::sync::Arc<crate::gpu::Gpu>) -> Result<Transcriber> {
    let (weights, config) = whisper::Weights::from_gguf(gguf, &Device::Cpu)?;
    let model = whisper::Whisper::load_on(&weights, config, gpu)?;
    Ok(Transcriber::new(model, tokenizer::WhisperTokenizer::from_bytes(tokenizer_json)?))
}
