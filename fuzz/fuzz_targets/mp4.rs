//! MP4/MOV: box walk, the video-only copy, re_mp4 and symphonia's isomp4.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| creative_filter::media::fuzzing::fuzz_target("mp4", data));
