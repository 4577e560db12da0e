//! The audio front end on any decoded audio: mixdown, cap, resampling, log-mel.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| creative_filter::media::fuzzing::fuzz_target("audio_front_end", data));
