//! Matroska/WebM: matroska-demuxer for video, symphonia's mkv for audio.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| creative_filter::media::fuzzing::fuzz_target("matroska", data));
