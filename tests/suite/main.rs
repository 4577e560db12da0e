//! The integration tests, one binary (one link of the whole product
//! instead of one per file). Without features they are the fast tier: the
//! fixtures in the repository only (tiny random models, reference outputs,
//! the fuzzers' corpora). With `--features prepared` (scripts/test.sh) also
//! the real models, real speech and generated creatives, prepared by
//! `scripts/prepare.sh` and `scripts/fetch-test-data.sh`.
//! `cargo test --release --features prepared --test suite asr::` runs one
//! file's tests.

mod dashboard;
mod fusion;
mod fuzz_corpus;
mod vision;
mod vision_import;

#[cfg(feature = "prepared")]
mod screen;

#[cfg(feature = "prepared")]
mod common;
#[cfg(feature = "prepared")]
mod asr;
#[cfg(feature = "prepared")]
mod classify;
#[cfg(feature = "prepared")]
mod cli;
#[cfg(feature = "prepared")]
mod formats;
#[cfg(feature = "prepared")]
mod gpu;
#[cfg(feature = "prepared")]
mod frames;
#[cfg(feature = "prepared")]
mod media;
#[cfg(feature = "prepared")]
mod models;
#[cfg(feature = "prepared")]
mod text_encoder;
#[cfg(feature = "prepared")]
mod vision_train;
