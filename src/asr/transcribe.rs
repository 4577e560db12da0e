//! The transcription policy: Whisper's timestamp rules over consecutive
//! 30-s windows, each decoded as [`super::decoding`] says. Each window ends at the last complete segment's
//! timestamp and the next window starts there, so a word cut by a window
//! boundary is decoded whole in the next window instead of being lost.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use web_time::Instant;

use super::hallucination::{compression_ratio, has_words, normalize, reject_reason};
use super::mel::{LogMel, HOP_LENGTH, SAMPLE_RATE, WINDOW_FRAMES};
use super::tokenizer::WhisperTokenizer;
use super::decoding::DecodingOptions;
use super::whisper::{DecoderParts, DecoderState, EncoderBench, EncoderParts, Whisper};
use super::whisper_gpu::GpuWithFallback;
use crate::error::Result;
use crate::kernels::math::log_sum_exp;

/// Seconds per timestamp token and per encoder position.
const TIME_PRECISION: f64 = 0.02;
/// Mel frames per encoder position (conv2 has stride 2).
const INPUT_STRIDE: usize = 2;
/// Start of transcript, language, task.
const PROMPT_TOKENS: usize = 3;
/// The first timestamp may be at most 1 s into the window.
const MAX_INITIAL_TIMESTAMP: u32 = 50;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TranscribeOptions {
    /// Language code to force (`"ru"`), or `None` to detect it per creative.
    pub language: Option<String>,
    /// Whisper's thresholds: a window is silent when its no-speech
    /// probability is above `no_speech_threshold` and the decoder was unsure
    /// (average log-probability below `logprob_threshold`).
    pub no_speech_threshold: f32,
    pub logprob_threshold: f32,
    /// Text that compresses better than this is a repetition loop.
    pub compression_ratio_threshold: f32,
    /// Tokens sampled per window at most (half the text context, as Whisper).
    pub max_tokens_per_window: usize,
    /// Beam search, greedy decoding and the temperature fallback.
    #[serde(default)]
    pub decoding: DecodingOptions,
    /// Words to expect — brand and product names, the segments' vocabulary —
    /// given to Whisper as earlier text before every window (faster-whisper's
    /// `hotwords`), which biases it toward their spelling. None: no prompt.
    #[serde(default)]
    pub prompt: Option<String>,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        Self {
            language: Some("ru".into()),
            no_speech_threshold: 0.6,
            logprob_threshold: -1.0,
            compression_ratio_threshold: 2.4,
            max_tokens_per_window: 224,
            decoding: DecodingOptions::default(),
            prompt: None,
        }
    }
}

/// A stretch of recognised speech, times in seconds from the creative's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeechSpan {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

/// Text that was decoded but dropped, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub text: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AsrTimings {
    pub mel_ms: f64,
    pub encoder_ms: f64,
    /// Where `encoder_ms` went.
    #[serde(default)]
    pub encoder_parts: EncoderParts,
    pub decoder_ms: f64,
    /// Where the encoder ran: "gpu: …" or "cpu (int8 kernel path)".
    #[serde(default)]
    pub encoder_device: String,
}

/// What was said in a creative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub text: String,
    /// False for music, silence, or only hallucinated text.
    pub speech: bool,
    /// The lowest no-speech probability over the windows: the strongest
    /// evidence that some window holds speech.
    pub no_speech_prob: f32,
    pub language: String,
    pub spans: Vec<SpeechSpan>,
    pub rejected: Vec<Rejected>,
    pub windows: usize,
    pub timings: AsrTimings,
}

/// Whisper plus its tokenizer and front end, ready to transcribe.
pub struct Transcriber {
    model: Whisper,
    tokenizer: WhisperTokenizer,
    mel: LogMel,
}

/// One window through the decoder, timed apart from the encoder (`creative-filter
/// bench decoder`, the page's `benchDecoder`): the fastest of `runs`, by part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecoderBench {
    pub runs: usize,
    pub threads: usize,
    /// "beam 5, temperature fallback" or "greedy".
    pub decoding: String,
    /// Tokens the window's text has (timestamps included).
    pub tokens: usize,
    pub total_ms: f64,
    pub parts: DecoderParts,
}

/// The text positions one window needs: the user's prompt, start of
/// transcript, language and task, the sampled tokens and end of text (the
/// decoder caps it at its context).
fn window_context(prompt: &[u32], opts: &TranscribeOptions) -> usize {
    prompt.len() + PROMPT_TOKENS + opts.max_tokens_per_window + 1
}

pub(super) fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let lse = log_sum_exp(logits);
    logits.iter().map(|&l| l - lse).collect()
}

pub(super) fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

impl Transcriber {
    pub fn new(model: Whisper, tokenizer: WhisperTokenizer) -> Self {
        let mel = LogMel::new(model.config.num_mel_bins);
        Self { model, tokenizer, mel }
    }

    pub fn tokenizer(&self) -> &WhisperTokenizer {
        &self.tokenizer
    }

    pub fn model(&self) -> &Whisper {
        &self.model
    }

    /// The log-mel window Whisper sees first: the samples padded (or cut)
    /// to 30 s, as (1, n_mels, 3000).
    pub fn first_window_mel(&self, samples: &[f32]) -> Result<Tensor> {
        let mut padded = samples[..samples.len().min(WINDOW_FRAMES * HOP_LENGTH)].to_vec();
        padded.resize(WINDOW_FRAMES * HOP_LENGTH, 0.0);
        let mel = self.mel.compute(&padded);
        let frames = mel.len() / self.mel.n_mels();
        Ok(Tensor::from_vec(mel, (1, self.mel.n_mels(), frames), self.model.device())?.narrow(2, 0, WINDOW_FRAMES)?)
    }

    /// The encoder alone on the first window of `samples` (see [`EncoderBench`]).
    pub fn bench_encoder(&self, samples: &[f32], runs: usize) -> Result<EncoderBench> {
        self.model.encoder.bench(&self.first_window_mel(samples)?, runs)
    }

    /// The decoder alone on the first window of `samples`, with the
    /// decoding `opts` (see [`DecoderBench`]): the window is encoded once,
    /// then decoded once to warm up and `runs` times timed.
    pub fn bench_decoder(&self, samples: &[f32], runs: usize, opts: &TranscribeOptions) -> Result<DecoderBench> {
        let encoded = self.model.encode(&self.first_window_mel(samples)?)?;
        let language = opts.language.clone().unwrap_or_else(|| "ru".into());
        let prompt = self.tokenizer.prompt_tokens(opts.prompt.as_deref())?;
        let mut best: Option<DecoderBench> = None;
        for run in 0..=runs.max(1) {
            let t = Instant::now();
            let mut state = self.model.decoder.start(&encoded, window_context(&prompt, opts))?;
            let start_ms = t.elapsed().as_secs_f64() * 1e3;
            state.profile();
            let decoded = self.decode_window(&mut state, &prompt, &language, opts)?;
            let total_ms = t.elapsed().as_secs_f64() * 1e3;
            let mut parts = state.take_profile().expect("the state was profiled");
            parts.start_ms = start_ms;
            parts.search_ms = total_ms - start_ms - parts.steps_ms;
            let this = DecoderBench {
                runs,
                threads: rayon::current_num_threads(),
                decoding: opts.decoding.describe(),
                tokens: decoded.tokens.len(),
                total_ms,
                parts,
            };
            if run > 0 && best.as_ref().is_none_or(|b| total_ms < b.total_ms) {
                best = Some(this);
            }
        }
        Ok(best.expect("at least one timed run"))
    }

    /// Transcribes 16 kHz mono samples.
    pub fn transcribe(&self, samples: &[f32], opts: &TranscribeOptions) -> Result<Transcript> {
        crate::task::now(self.transcribe_on(samples, opts, None))
    }

    /// [`Transcriber::transcribe`] with the windows encoded on `gpu` (the
    /// page's WebGPU, awaited between windows) where one is given, else as
    /// the model encodes them.
    pub async fn transcribe_on(&self, samples: &[f32], opts: &TranscribeOptions, gpu: Option<&GpuWithFallback>) -> Result<Transcript> {
        let mut timings = AsrTimings::default();
        let t = Instant::now();
        let content_frames = samples.len() / HOP_LENGTH;
        // Pad by a whole window of silence, as Whisper does, so the last
        // window is complete and the dynamic-range clamp sees the same data.
        let mut padded = Vec::with_capacity(samples.len() + WINDOW_FRAMES * HOP_LENGTH);
        padded.extend_from_slice(samples);
        padded.resize(samples.len() + WINDOW_FRAMES * HOP_LENGTH, 0.0);
        let mel = self.mel.compute(&padded);
        let total_frames = padded.len() / HOP_LENGTH;
        let n_mels = self.mel.n_mels();
        let mel = Tensor::from_vec(mel, (1, n_mels, total_frames), self.model.device())?;
        timings.mel_ms = t.elapsed().as_secs_f64() * 1e3;

        let mut language = opts.language.clone();
        let prompt = self.tokenizer.prompt_tokens(opts.prompt.as_deref())?;
        let mut spans = Vec::new();
        let mut rejected = Vec::new();
        let mut min_no_speech = 1.0f32;
        let mut windows = 0;
        let mut seek = 0usize;
        while seek < content_frames.max(1) {
            let segment_frames = WINDOW_FRAMES.min(content_frames.saturating_sub(seek)).max(1);
            let window = mel.narrow(2, seek, WINDOW_FRAMES)?;
            let t = Instant::now();
            let encoded = match gpu {
                Some(gpu) => gpu.encode(&self.model.encoder, &window).await?,
                None => self.model.encode(&window)?,
            };
            timings.encoder_ms += t.elapsed().as_secs_f64() * 1e3;
            timings.encoder_parts.add(&encoded.parts);
            let t = Instant::now();
            // The cross-attention keys and values are one large matmul per
            // layer: made by the GPU with the states, or here on all threads
            // before the token-by-token loop.
            let mut state = self.model.decoder.start(&encoded, window_context(&prompt, opts))?;
            let lang = match &language {
                Some(l) => l.clone(),
                None => {
                    let detected = self.detect_language(&mut state)?;
                    language = Some(detected.clone());
                    detected
                }
            };
            // Token by token: each step's matrix-vector products are split
            // over the threads by output rows where they are large enough
            // (the MLP and the vocabulary projection).
            let decoded = self.decode_window(&mut state, &prompt, &lang, opts)?;
            timings.decoder_ms += t.elapsed().as_secs_f64() * 1e3;
            windows += 1;
            min_no_speech = min_no_speech.min(decoded.no_speech_prob);
            let offset = seek as f64 * HOP_LENGTH as f64 / SAMPLE_RATE as f64;
            let segment_duration = segment_frames as f64 * HOP_LENGTH as f64 / SAMPLE_RATE as f64;

            if decoded.no_speech_prob > opts.no_speech_threshold && decoded.avg_logprob < opts.logprob_threshold {
                let text = self.tokenizer.decode(&decoded.tokens)?;
                if !text.trim().is_empty() {
                    rejected.push(Rejected { text: text.trim().into(), reason: "window judged silent (no-speech probability)".into() });
                }
                seek += segment_frames;
                continue;
            }
            let (window_spans, advance) = self.split_spans(&decoded.tokens, segment_frames, segment_duration)?;
            let mut kept: Vec<SpeechSpan> = Vec::new();
            for mut s in window_spans {
                s.start += offset;
                s.end += offset;
                let text = s.text.trim().to_string();
                if text.is_empty() {
                    continue;
                }
                if let Some(reason) = reject_reason(&text) {
                    rejected.push(Rejected { text, reason: reason.into() });
                } else if kept.last().is_some_and(|p| normalize(&p.text) == normalize(&text)) {
                    rejected.push(Rejected { text, reason: "repeated segment".into() });
                } else {
                    s.text = text;
                    kept.push(s);
                }
            }
            let window_text: String = kept.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ");
            if compression_ratio(&window_text) > opts.compression_ratio_threshold {
                rejected.push(Rejected { text: window_text, reason: "repetition loop (compression ratio)".into() });
            } else {
                spans.extend(kept);
            }
            seek += advance.max(1);
        }
        let text = spans.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ");
        timings.encoder_device = gpu.map_or_else(|| self.model.encoder_device(), GpuWithFallback::device);
        Ok(Transcript {
            speech: has_words(&text),
            text,
            no_speech_prob: if windows == 0 { 1.0 } else { min_no_speech },
            language: language.unwrap_or_default(),
            spans,
            rejected,
            windows,
            timings,
        })
    }

    /// The most likely language token after `<|startoftranscript|>`.
    fn detect_language(&self, state: &mut DecoderState) -> Result<String> {
        let dec = &self.model.decoder;
        state.rewind();
        state.reorder(&[0]);
        let logits = dec.step(&[self.tokenizer.sot], state)?;
        let best = self
            .tokenizer
            .languages
            .iter()
            .max_by(|a, b| logits[a.1 as usize].total_cmp(&logits[b.1 as usize]))
            .map(|(c, _)| c.clone())
            .unwrap_or_else(|| "en".into());
        Ok(best)
    }

    /// Suppression and Whisper's timestamp rules, applied to one step's
    /// logits; returns the log-probabilities of the logits as it leaves
    /// them (the timestamp rule needs them anyway: a second pass over the
    /// 51,865 entries is a millisecond a token in the page).
    pub(super) fn apply_rules(&self, logits: &mut [f32], sampled: &[u32], first: bool) -> Vec<f32> {
        let tk = &self.tokenizer;
        let cfg = &self.model.config;
        let ts = tk.timestamp_begin as usize;
        let ninf = f32::NEG_INFINITY;
        for &t in &cfg.suppress_tokens {
            if let Some(l) = logits.get_mut(t as usize) {
                *l = ninf;
            }
        }
        if first {
            for &t in &cfg.begin_suppress_tokens {
                if let Some(l) = logits.get_mut(t as usize) {
                    *l = ninf;
                }
            }
        }
        logits[tk.no_timestamps as usize] = ninf;

        // Timestamps come in pairs (end of one span, start of the next),
        // except the last one before end of text.
        let is_ts = |t: &u32| *t as usize >= ts;
        let last_ts = sampled.last().is_some_and(is_ts);
        let penultimate_ts = sampled.len() < 2 || is_ts(&sampled[sampled.len() - 2]);
        if last_ts {
            if penultimate_ts {
                logits[ts..].fill(ninf);
            } else {
                logits[..tk.eot as usize].fill(ninf);
            }
        }
        // Time never goes backwards.
        if let Some(&last) = sampled.iter().rev().find(|t| is_ts(t)) {
            let limit = if last_ts && !penultimate_ts { last } else { last + 1 } as usize;
            let limit = limit.min(logits.len());
            logits[ts..limit].fill(ninf);
        }
        if first {
            logits[..ts].fill(ninf);
            let last_allowed = ts + MAX_INITIAL_TIMESTAMP as usize;
            if last_allowed + 1 < logits.len() {
                logits[last_allowed + 1..].fill(ninf);
            }
        }
        // When a timestamp is more likely than any single text token, take one.
        let logprobs = log_softmax(logits);
        let ts_mass = log_sum_exp(&logprobs[ts..]);
        let max_text = logprobs[..ts].iter().copied().fold(ninf, f32::max);
        if ts_mass > max_text {
            logits[..ts].fill(ninf);
            return log_softmax(logits);
        }
        logprobs
    }

    /// Cuts a window's tokens into timed spans and says how many mel frames
    /// to advance: to the last complete span's end, or the whole window when
    /// the text ended with a lone timestamp (nothing was cut off).
    fn split_spans(&self, tokens: &[u32], segment_frames: usize, segment_duration: f64) -> Result<(Vec<SpeechSpan>, usize)> {
        let ts = self.tokenizer.timestamp_begin;
        let is_ts = |t: u32| t >= ts;
        let time = |t: u32| (t - ts) as f64 * TIME_PRECISION;
        let n = tokens.len();
        let single_ending = n >= 2 && !is_ts(tokens[n - 2]) && is_ts(tokens[n - 1]);
        let mut boundaries: Vec<usize> = (1..n).filter(|&i| is_ts(tokens[i - 1]) && is_ts(tokens[i])).collect();
        let mut spans = Vec::new();
        if boundaries.is_empty() {
            let end = tokens.iter().rev().find(|&&t| is_ts(t)).filter(|&&t| t != ts).map(|&t| time(t)).unwrap_or(segment_duration);
            spans.push(SpeechSpan { start: 0.0, end, text: self.tokenizer.decode(tokens)? });
            return Ok((spans, segment_frames));
        }
        if single_ending {
            boundaries.push(n);
        }
        let mut last = 0;
        for &b in &boundaries {
            let slice = &tokens[last..b];
            if let (Some(&first), Some(&end)) = (slice.first(), slice.last()) {
                let start = if is_ts(first) { time(first) } else { 0.0 };
                let end = if is_ts(end) { time(end) } else { segment_duration };
                spans.push(SpeechSpan { start, end, text: self.tokenizer.decode(slice)? });
            }
            last = b;
        }
        let advance = if single_ending {
            segment_frames
        } else {
            let last_ts = tokens[last - 1];
            (last_ts - ts) as usize * INPUT_STRIDE
        };
        Ok((spans, advance.min(segment_frames)))
    }
}
