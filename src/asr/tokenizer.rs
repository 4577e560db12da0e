//! Whisper's tokenizer and the ids of its control tokens.

use tokenizers::Tokenizer;

use crate::error::{Error, Result};

/// Prompt tokens at most: half of Whisper's 448-token text context, less
/// the `<|startofprev|>` mark.
pub const MAX_PROMPT_TOKENS: usize = 223;

#[derive(Clone)]
pub struct WhisperTokenizer {
    inner: Tokenizer,
    pub sot: u32,
    /// `<|startofprev|>`: what follows it, up to the start of transcript,
    /// is earlier text (here the user's prompt).
    pub sot_prev: u32,
    pub eot: u32,
    pub transcribe: u32,
    pub no_timestamps: u32,
    pub no_speech: u32,
    /// `<|0.00|>`; every id from here on is a timestamp in 20-ms steps.
    pub timestamp_begin: u32,
    /// (code, id) of every language token, e.g. ("ru", 50263).
    pub languages: Vec<(String, u32)>,
}

impl WhisperTokenizer {
    pub fn from_bytes(json: &[u8]) -> Result<Self> {
        let inner = Tokenizer::from_bytes(crate::models::tokenizer_json(json)?).map_err(|e| Error::Tokenizer(format!("Whisper tokenizer.json: {e}")))?;
        let id = |t: &str| {
            inner.token_to_id(t).ok_or_else(|| Error::Tokenizer(format!("Whisper tokenizer has no {t} token")))
        };
        let no_timestamps = id("<|notimestamps|>")?;
        let no_speech = id("<|nospeech|>").or_else(|_| id("<|nocaptions|>"))?;
        let sot = id("<|startoftranscript|>")?;
        let mut languages: Vec<(String, u32)> = (sot + 1..id("<|translate|>")?)
            .filter_map(|i| {
                let t = inner.id_to_token(i)?;
                let code = t.strip_prefix("<|")?.strip_suffix("|>")?;
                (code.len() <= 3 && code.chars().all(|c| c.is_ascii_lowercase())).then(|| (code.to_string(), i))
            })
            .collect();
        languages.sort_by_key(|(_, i)| *i);
        Ok(Self {
            sot,
            sot_prev: id("<|startofprev|>")?,
            eot: id("<|endoftext|>")?,
            transcribe: id("<|transcribe|>")?,
            no_timestamps,
            no_speech,
            timestamp_begin: no_timestamps + 1,
            languages,
            inner,
        })
    }

    pub fn language_token(&self, code: &str) -> Result<u32> {
        self.languages
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, i)| *i)
            .ok_or_else(|| Error::Invalid(format!("Whisper does not know the language code {code:?}")))
    }

    pub fn language_code(&self, token: u32) -> Option<&str> {
        self.languages.iter().find(|(_, i)| *i == token).map(|(c, _)| c.as_str())
    }

    /// Text of the ordinary (non-control) tokens in `ids`.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let text: Vec<u32> = ids.iter().copied().filter(|&i| i < self.eot).collect();
        self.inner.decode(&text, false).map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// The tokens that give Whisper `prompt` as earlier text before each
    /// window, as faster-whisper's `hotwords`: `<|startofprev|>`, then the
    /// prompt after a space, its first 223 tokens (half the text context)
    /// at most. Nothing for an empty prompt.
    pub fn prompt_tokens(&self, prompt: Option<&str>) -> Result<Vec<u32>> {
        let Some(text) = prompt.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(vec![]) };
        let mut tokens = vec![self.sot_prev];
        let words = self.encode(&format!(" {text}"))?;
        tokens.extend(words.into_iter().take(MAX_PROMPT_TOKENS));
        Ok(tokens)
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.inner.encode(text, false).map_err(|e| Error::Tokenizer(e.to_string()))?.get_ids().to_vec())
    }
}
