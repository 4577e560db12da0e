//! The fuzzers' corpora (`fuzz/corpus/<target>/`: the seeds and every input
//! that once found a bug) replayed through the same entry points, so CI
//! keeps each finding fixed without a fuzzing toolchain. `fuzz/README.md`
//! says how to fuzz.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
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
        ("mp4", "found-stts-21gb-in-cut-moov", "sample table 'stts' claims more entries"),
        ("probe", "found-flac-picture-4gb", "FLAC picture's media type claims more bytes"),
        ("probe", "found-wav-sample-rate-0", "sample rate"),
    ] {
        let data = std::fs::read(root.join(target).join(file)).unwrap();
        let bytes = creative_filter::media::fuzzing::with_magic(target, &data);
        let e = creative_filter::media::decode_audio(bytes, None, 30.0).err().unwrap_or_else(|| panic!("{file}: decoded"));
        assert!(e.to_string().contains(message), "{file}: {e}");
    }
}

/// The system allocator, noting the largest single request each thread
/// makes: on Linux a huge zeroed request can succeed lazily and then fail
/// the read, so only the request itself shows that a stated size reached
/// an allocation. (An allocation that fails aborts this test binary.)
struct LargestRequest;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

unsafe impl GlobalAlloc for LargestRequest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: LargestRequest = LargestRequest;

/// Findings where a reader sized an allocation by a length stated in the
/// file (symphonia: a 2.6 GB MP4 handler name, a Matroska lace of 2^54
/// bytes; re_mp4: a 3.2 GB box inside `meta`). With the patched
/// symphonia-core (`vendor/symphonia-core`) a read grows with the bytes
/// actually there, and the MP4 copy handed to re_mp4 has no metadata boxes
/// and no box larger than itself, so every reader of these files allocates
/// at most a few times the file and each fails alone.
#[test]
fn stated_lengths_never_size_an_allocation() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (target, file) in
        [("mp4", "found-hdlr-2600mb-name"), ("matroska", "found-lacing-size-too-big"), ("mp4", "found-re_mp4-meta-3gb")]
    {
        let data = std::fs::read(root.join(target).join(file)).unwrap();
        let bytes = creative_filter::media::fuzzing::with_magic(target, &data);
        LARGEST.with(|l| l.set(0));
        creative_filter::media::fuzzing::read_everything(&bytes);
        let largest = LARGEST.with(|l| l.get());
        assert!(largest < 64 << 20, "{file}: a request of {largest} bytes");
        println!("{file}: largest request {largest} bytes");
    }
}
