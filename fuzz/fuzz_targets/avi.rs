//! AVI: the RIFF walk, stream headers, audio index and H.264 normalisation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| creative_filter::media::fuzzing::fuzz_target("avi", data));
