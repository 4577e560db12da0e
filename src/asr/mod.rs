//! Speech recognition: log-mel front end, Whisper, and the decoding policy
//! (language, suppression, 30-s windows, no-speech detection).

pub mod mel;
