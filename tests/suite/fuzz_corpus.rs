//! The fuzzers' corpora (`fuzz/corpus/<target>/`: the seeds and every input
//! that once found a bug) replayed through the same entry points, so CI
//! keeps each finding fixed without a fuzzing toolchain. `fuzz/README.md`
//! says how to fuzz.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use creative_filter::media::fuzzing::{fuzz_target, TARGETS};

#[test]
fn every_corpus_input_runs_without_panic_or_hang() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut replayed = 0;
    for target in TARGETS {
        let dir = root.join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{}: no corpus", dir.display());
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let started = Instant::now();
            fuzz_target(target, &data);
            assert!(started.elapsed() < Duration::from_secs(10), "{}: took {:.1?}", file.display(), started.elapsed());
            replayed += 1;
        }
    }
    println!("{replayed} corpus inputs replayed");
}

/// Findings whose fix is a check before symphonia allocates: decoding them
/// natively fails with the check's message (without it, the allocation of
/// gigabytes can abort the process instead).
#[test]
fn allocation_findings_fail_with_a_message_naming_the_damage() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (target, file, message) in [
        ("mp4", "found-stsc-20gb-in-oversized-mdia", "sample table 'stsc' claims more entries"),
        ("probe", "found-flac-picture-4gb", "FLAC picture's media type claims more bytes"),
        ("probe", "found-wav-sample-rate-0", "sample rate"),
    ] {
        let data = std::fs::read(root.join(target).join(file)).unwrap();
        let bytes = creative_filter::media::fuzzing::with_magic(target, &data);
        let e = creative_filter::media::decode_audio(bytes, None, 30.0).err().unwrap_or_else(|| panic!("{file}: decoded"));
        assert!(e.to_string().contains(message), "{file}: {e}");
    }
}
