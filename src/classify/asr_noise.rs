//! What Whisper gets wrong, imitated at training time: a head trained on
//! clean texts meets transcripts with misheard letters, dropped and merged
//! words. The noise model (`asr_noise.json`) is learned by
//! `bench/asr_noise.py` from pairs made here: texts read aloud by
//! Festival's Russian voice and transcribed by the product's whisper-base
//! (texts of the shared Telegram training posts, none of the spoken dev
//! set's). Noisy copies of the training texts feed the n-gram block; their
//! embeddings stay the clean texts'.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::classify::metrics::SplitMix64;

/// Rates per reference word, and per character of a misheard word what it
/// is heard as ("" for dropped).
#[derive(Debug, Clone, Deserialize)]
pub struct AsrNoise {
    pub word_substitution: f32,
    pub word_deletion: f32,
    pub word_merge: f32,
    pub char_confusions: BTreeMap<String, Vec<(String, f32)>>,
}

impl AsrNoise {
    /// The model learned from whisper-base on Festival's voice.
    pub fn builtin() -> &'static AsrNoise {
        static MODEL: std::sync::OnceLock<AsrNoise> = std::sync::OnceLock::new();
        MODEL.get_or_init(|| serde_json::from_str(include_str!("asr_noise.json")).expect("the built-in noise model is valid JSON"))
    }

    fn uniform(rng: &mut SplitMix64) -> f32 {
        (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// `text` as Whisper might have heard it (lower-cased, as the n-grams
    /// read it).
    pub fn apply(&self, text: &str, rng: &mut SplitMix64) -> String {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        let mut out: Vec<String> = Vec::with_capacity(words.len());
        let mut i = 0;
        while i < words.len() {
            let r = Self::uniform(rng);
            let (del, merge, sub) = (self.word_deletion, self.word_merge, self.word_substitution);
            if r < del {
                i += 1;
                continue;
            }
            if r < del + merge && i + 1 < words.len() {
                out.push(format!("{}{}", words[i], words[i + 1]));
                i += 2;
                continue;
            }
            if r < del + merge + sub {
                out.push(self.mishear(words[i], rng));
            } else {
                out.push(words[i].to_string());
            }
            i += 1;
        }
        out.join(" ")
    }

    fn mishear(&self, word: &str, rng: &mut SplitMix64) -> String {
        let mut heard = String::with_capacity(word.len());
        let mut buf = [0u8; 4];
        for c in word.chars() {
            let options = self.char_confusions.get(&*c.encode_utf8(&mut buf));
            let mut r = Self::uniform(rng);
            let replaced = options.and_then(|opts| {
                opts.iter().find(|(_, p)| {
                    r -= p;
                    r < 0.0
                })
            });
            match replaced {
                Some((with, _)) => heard.push_str(with),
                None => heard.push(c),
            }
        }
        heard
    }

    /// `copies` noisy versions of each text, in order (text 0's copies
    /// first), from a fixed seed: the same training data every run.
    pub fn copies(&self, texts: &[&str], copies: usize, seed: u64) -> Vec<String> {
        let mut rng = SplitMix64(seed);
        texts.iter().flat_map(|t| (0..copies).map(|_| self.apply(t, &mut rng)).collect::<Vec<_>>()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_follows_its_rates_and_keeps_the_text_recognisable() {
        let model = AsrNoise {
            word_substitution: 0.5,
            word_deletion: 0.1,
            word_merge: 0.1,
            char_confusions: BTreeMap::from([("о".to_string(), vec![("а".to_string(), 1.0)])]),
        };
        let text = "хорошо которое золото около голос ".repeat(200);
        let noisy = model.apply(&text, &mut SplitMix64(1));
        let (before, after) = (text.split_whitespace().count(), noisy.split_whitespace().count());
        // Deletions and merges each remove about a tenth of the words.
        let lost = 1.0 - after as f32 / before as f32;
        assert!((0.15..0.25).contains(&lost), "{lost}");
        // Substituted words have every "о" heard as "а"; about half the words are.
        let changed = noisy.split_whitespace().filter(|w| !w.contains('о')).count() as f32 / after as f32;
        assert!((0.35..0.65).contains(&changed), "{changed}");
        assert_eq!(model.copies(&["один два", "три"], 2, 7).len(), 4);
        assert_eq!(model.copies(&["один два"], 3, 7), model.copies(&["один два"], 3, 7), "a fixed seed");
    }

    #[test]
    fn the_builtin_model_is_read() {
        let m = AsrNoise::builtin();
        assert!(m.word_substitution > 0.0 && m.word_substitution < 1.0);
        assert!(m.word_deletion + m.word_merge + m.word_substitution < 1.0);
        assert!(!m.char_confusions.is_empty());
    }
}
