//! FLV: tags, audio and video tag headers, AAC and AVC sequence headers.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| creative_filter::media::fuzzing::fuzz_target("flv", data));
