//! Whatever symphonia's probe recognises (WAV, Ogg, MP3, FLAC, ADTS), unprefixed.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| creative_filter::media::fuzzing::fuzz_target("probe", data));
