//! The integration tests, one binary (one link of the whole product
//! instead of one per file): real models, real speech and generated
//! creatives, prepared by `scripts/prepare.sh` and
//! `scripts/fetch-test-data.sh`. `cargo test --release --test suite asr::`
//! runs one file's tests.

mod common;
mod asr;
mod classify;
mod cli;
mod dashboard;
mod formats;
mod frames;
mod fusion;
mod fuzz_corpus;
mod media;
mod models;
mod text_encoder;
mod vision;
mod vision_import;
mod vision_train;
