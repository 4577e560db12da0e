//! How one window's tokens are chosen, as the reference Whisper runtimes do
//! (openai-whisper's `DecodingTask`, faster-whisper's
//! `generate_with_fallback`): a beam search (or greedy decoding) first, and
//! while the text looks like a repetition loop (compression ratio) or the
//! decoder was unsure of it (average log-probability), sampling at rising
//! temperatures, keeping the likeliest of a few samples. A window judged
//! silent is not retried.

use serde::{Deserialize, Serialize};

use super::hallucination::compression_ratio;
use super::transcribe::{argmax, log_softmax, Transcriber};
use super::whisper::DecoderState;
use crate::classify::metrics::SplitMix64;
use crate::error::Result;

/// How tokens are chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecodingOptions {
    /// Hypotheses a beam search keeps (1: greedy decoding).
    pub beam_size: usize,
    /// A beam search ends once `round(beam_size · patience)` hypotheses
    /// have ended.
    pub patience: f32,
    /// Temperatures tried in turn while a window's text fails the
    /// compression-ratio or log-probability check: 0 is the beam search
    /// (or greedy decoding), above it sampling.
    pub temperatures: Vec<f32>,
    /// Samples drawn at each temperature above 0; the likeliest is kept.
    pub best_of: usize,
}

impl Default for DecodingOptions {
    /// faster-whisper's defaults.
    fn default() -> Self {
        DecodingOptions { beam_size: 5, patience: 1.0, temperatures: vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0], best_of: 5 }
    }
}

impl DecodingOptions {
    /// Greedy decoding without fallback: the fastest, and the first
    /// figures' setting.
    pub fn greedy() -> DecodingOptions {
        DecodingOptions { beam_size: 1, temperatures: vec![0.0], best_of: 1, ..Default::default() }
    }

    /// "beam 5, temperature fallback" as the benchmarks say it.
    pub fn describe(&self) -> String {
        let how = if self.beam_size > 1 { format!("beam {}", self.beam_size) } else { "greedy".into() };
        if self.temperatures.len() > 1 {
            format!("{how}, temperature fallback")
        } else {
            how
        }
    }

    /// A short tag for cache keys: a transcript made otherwise is not reused.
    pub fn id(&self) -> String {
        format!("beam {} patience {} t {:?} best {}", self.beam_size, self.patience, self.temperatures, self.best_of)
    }
}

/// A window's chosen tokens (timestamps included, end of text not).
pub(crate) struct WindowDecode {
    pub tokens: Vec<u32>,
    pub avg_logprob: f32,
    pub no_speech_prob: f32,
}

/// A sequence being decoded and the sum of its tokens' log-probabilities.
#[derive(Clone)]
struct Hypothesis {
    tokens: Vec<u32>,
    sum_logprob: f32,
}

impl Hypothesis {
    /// Whisper's ranking without a length penalty: the mean log-probability
    /// per token.
    fn score(&self) -> f32 {
        self.sum_logprob / self.tokens.len().max(1) as f32
    }

    fn finish(self, no_speech_prob: f32) -> WindowDecode {
        // Over the tokens and the end of text.
        let avg_logprob = self.sum_logprob / (self.tokens.len() + 1) as f32;
        WindowDecode { tokens: self.tokens, avg_logprob, no_speech_prob }
    }
}

/// The `n` largest entries of `v` (finite ones only), largest first.
fn top_n(v: &[f32], n: usize) -> Vec<(usize, f32)> {
    let mut best: Vec<(usize, f32)> = Vec::with_capacity(n + 1);
    for (i, &x) in v.iter().enumerate() {
        if x == f32::NEG_INFINITY || (best.len() == n && x <= best[n - 1].1) {
            continue;
        }
        let at = best.partition_point(|&(_, y)| y >= x);
        best.insert(at, (i, x));
        best.truncate(n);
    }
    best
}

impl Transcriber {
    /// Decodes one window whose state holds the audio: the user's prompt
    /// (`prompt`, from [`super::WhisperTokenizer::prompt_tokens`]) and the
    /// start of transcript are fed once, then each temperature is tried from
    /// there until the text passes.
    pub(crate) fn decode_window(
        &self,
        state: &mut DecoderState,
        prompt: &[u32],
        language: &str,
        opts: &super::TranscribeOptions,
    ) -> Result<WindowDecode> {
        let tk = self.tokenizer();
        let dec = &self.model().decoder;
        state.rewind();
        state.reorder(&[0]);
        // Whisper reads the no-speech probability at the start-of-transcript
        // position, so the prompt is fed in two passes: up to it, then the
        // language and the task.
        let up_to_sot: Vec<u32> = prompt.iter().copied().chain([tk.sot]).collect();
        let at_sot = log_softmax(&dec.prefill(&up_to_sot, state)?);
        let no_speech_prob = at_sot[tk.no_speech as usize].exp();
        let logits = dec.prefill(&[tk.language_token(language)?, tk.transcribe], state)?;
        let prompted = state.len();
        let d = &opts.decoding;
        let temperatures = if d.temperatures.is_empty() { &[0.0][..] } else { &d.temperatures[..] };
        let mut tried: Vec<(WindowDecode, f32)> = vec![];
        for (attempt, &temperature) in temperatures.iter().enumerate() {
            state.truncate(prompted);
            state.reorder(&[0]);
            let decoded = if temperature > 0.0 {
                self.sample(state, logits.clone(), temperature, d.best_of.max(1), attempt as u64, opts)?
            } else if d.beam_size > 1 {
                self.beam_search(state, logits.clone(), d, opts)?
            } else {
                self.greedy(state, logits.clone(), opts)?
            };
            let decoded = decoded.finish(no_speech_prob);
            let ratio = compression_ratio(&tk.decode(&decoded.tokens)?);
            let unsure = decoded.avg_logprob < opts.logprob_threshold;
            let silent = no_speech_prob > opts.no_speech_threshold && unsure;
            if silent || (ratio <= opts.compression_ratio_threshold && !unsure) {
                return Ok(decoded);
            }
            tried.push((decoded, ratio));
        }
        // Every temperature failed: the likeliest text that is no loop, else the likeliest.
        let no_loop = tried.iter().any(|(_, r)| *r <= opts.compression_ratio_threshold);
        let best = tried
            .into_iter()
            .filter(|(_, r)| !no_loop || *r <= opts.compression_ratio_threshold)
            .map(|(w, _)| w)
            .reduce(|a, b| if b.avg_logprob > a.avg_logprob { b } else { a });
        Ok(best.expect("at least one temperature was tried"))
    }

    /// The likeliest token at each step.
    fn greedy(&self, state: &mut DecoderState, mut logits: Vec<f32>, opts: &super::TranscribeOptions) -> Result<Hypothesis> {
        let (dec, eot) = (&self.model().decoder, self.tokenizer().eot);
        let mut h = Hypothesis { tokens: vec![], sum_logprob: 0.0 };
        for step in 0..opts.max_tokens_per_window {
            let logprobs = self.apply_rules(&mut logits, &h.tokens, step == 0);
            let next = argmax(&logits) as u32;
            h.sum_logprob += logprobs[next as usize];
            if next == eot || state.is_full() {
                break;
            }
            h.tokens.push(next);
            logits = dec.step(&[next], state)?;
        }
        Ok(h)
    }

    /// openai-whisper's beam search: each step every beam proposes its
    /// `beam_size + 1` likeliest tokens, the best `beam_size` continuations
    /// go on, and those ending the text above them are kept as finished;
    /// it stops when `round(beam_size · patience)` have finished. The
    /// finished (or, failing them, the live) hypotheses are ranked by their
    /// mean log-probability per token.
    fn beam_search(
        &self,
        state: &mut DecoderState,
        mut logits: Vec<f32>,
        d: &DecodingOptions,
        opts: &super::TranscribeOptions,
    ) -> Result<Hypothesis> {
        let (dec, eot) = (&self.model().decoder, self.tokenizer().eot);
        let vocab = logits.len();
        let wanted = ((d.beam_size as f32 * d.patience).round() as usize).max(1);
        let mut beams = vec![Hypothesis { tokens: vec![], sum_logprob: 0.0 }];
        let mut finished: Vec<Hypothesis> = vec![];
        for step in 0..opts.max_tokens_per_window {
            let mut candidates: Vec<(f32, usize, u32)> = Vec::with_capacity(beams.len() * (d.beam_size + 1));
            for (i, (beam, row)) in beams.iter().zip(logits.chunks_exact_mut(vocab)).enumerate() {
                let logprobs = self.apply_rules(row, &beam.tokens, step == 0);
                for (t, lp) in top_n(&logprobs, d.beam_size + 1) {
                    candidates.push((beam.sum_logprob + lp, i, t as u32));
                }
            }
            // Best first; ties keep the earlier beam's candidate first.
            candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
            let (mut next, mut parents, mut ended) = (vec![], vec![], vec![]);
            for (score, parent, token) in candidates {
                let tokens = &beams[parent].tokens;
                if token == eot {
                    ended.push(Hypothesis { tokens: tokens.clone(), sum_logprob: score });
                } else {
                    let mut tokens = tokens.clone();
                    tokens.push(token);
                    next.push(Hypothesis { tokens, sum_logprob: score });
                    parents.push(parent);
                    if next.len() == d.beam_size {
                        break;
                    }
                }
            }
            finished.extend(ended.into_iter().take(wanted.saturating_sub(finished.len())));
            beams = next;
            if finished.len() >= wanted || beams.is_empty() || state.is_full() {
                break;
            }
            state.reorder(&parents);
            let fed: Vec<u32> = beams.iter().map(|b| *b.tokens.last().expect("a live beam has a token")).collect();
            logits = dec.step(&fed, state)?;
        }
        // Too few ended: the live beams stand in, likeliest first.
        beams.sort_by(|a, b| b.sum_logprob.total_cmp(&a.sum_logprob));
        let missing = d.beam_size.saturating_sub(finished.len());
        finished.extend(beams.into_iter().take(missing));
        let best = finished.into_iter().reduce(|a, b| if b.score() > a.score() { b } else { a });
        Ok(best.unwrap_or(Hypothesis { tokens: vec![], sum_logprob: 0.0 }))
    }

    /// `n` samples drawn at `temperature`, decoded together; the one with
    /// the highest mean log-probability per token.
    fn sample(
        &self,
        state: &mut DecoderState,
        logits: Vec<f32>,
        temperature: f32,
        n: usize,
        seed: u64,
        opts: &super::TranscribeOptions,
    ) -> Result<Hypothesis> {
        let (dec, eot) = (&self.model().decoder, self.tokenizer().eot);
        // The same draws on every run and machine.
        let mut rng = SplitMix64(0x5eed ^ seed);
        let mut live: Vec<Hypothesis> = vec![Hypothesis { tokens: vec![], sum_logprob: 0.0 }; n];
        let mut logits: Vec<f32> = logits.iter().copied().cycle().take(logits.len() * n).collect();
        let vocab = logits.len() / n;
        state.reorder(&vec![0; n]);
        let mut done = vec![];
        for step in 0..opts.max_tokens_per_window {
            let mut keep = vec![];
            for (i, (h, row)) in live.iter_mut().zip(logits.chunks_exact_mut(vocab)).enumerate() {
                let logprobs = self.apply_rules(row, &h.tokens, step == 0);
                let next = draw(&logprobs, temperature, &mut rng) as u32;
                h.sum_logprob += logprobs[next as usize];
                if next == eot {
                    continue;
                }
                h.tokens.push(next);
                keep.push(i);
            }
            let (going, ended): (Vec<_>, Vec<_>) = std::mem::take(&mut live).into_iter().enumerate().partition(|(i, _)| keep.contains(i));
            done.extend(ended.into_iter().map(|(_, h)| h));
            live = going.into_iter().map(|(_, h)| h).collect();
            if live.is_empty() || state.is_full() {
                break;
            }
            if live.len() != state.hypotheses() {
                state.reorder(&keep);
            }
            let fed: Vec<u32> = live.iter().map(|h| *h.tokens.last().expect("a live sample has a token")).collect();
            logits = dec.step(&fed, state)?;
        }
        done.extend(live);
        Ok(done.into_iter().reduce(|a, b| if b.score() > a.score() { b } else { a }).expect("n ≥ 1 samples"))
    }
}

/// A token drawn from `softmax(logprobs / temperature)`.
fn draw(logprobs: &[f32], temperature: f32, rng: &mut SplitMix64) -> usize {
    let max = logprobs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = logprobs.iter().map(|&l| (((l - max) / temperature) as f64).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    argmax(logprobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_n_keeps_the_largest_finite_entries_in_order() {
        let v = [0.1, f32::NEG_INFINITY, 3.0, -1.0, 3.0, 2.0];
        assert_eq!(top_n(&v, 3), vec![(2, 3.0), (4, 3.0), (5, 2.0)]);
        assert_eq!(top_n(&[f32::NEG_INFINITY, 1.0], 4), vec![(1, 1.0)]);
    }

    #[test]
    fn draws_follow_the_tempered_distribution() {
        let logprobs = [(0.7f32).ln(), (0.2f32).ln(), (0.1f32).ln(), f32::NEG_INFINITY];
        let mut rng = SplitMix64(1);
        let mut counts = [0usize; 4];
        for _ in 0..20_000 {
            counts[draw(&logprobs, 1.0, &mut rng)] += 1;
        }
        let share = |i: usize| counts[i] as f64 / 20_000.0;
        assert!((share(0) - 0.7).abs() < 0.02 && (share(1) - 0.2).abs() < 0.02 && (share(2) - 0.1).abs() < 0.02, "{counts:?}");
        assert_eq!(counts[3], 0, "a suppressed token is never drawn");
        // A low temperature sharpens towards the likeliest token.
        let cold = (0..2000).filter(|_| draw(&logprobs, 0.2, &mut rng) == 0).count();
        assert!(cold > 1950, "{cold}");
    }
}
