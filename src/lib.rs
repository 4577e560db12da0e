//! Creative Filter: assigns advertising creatives to spend segments from their
//! speech, entirely on the user's machine.
//!
//! Data flows one way: bytes → [`media`] (decode, resample) → [`asr`]
//! (log-mel, Whisper, decoding policy) → text features → decision → report.
//! The native CLI (`src/main.rs`) and the browser shell call the same functions.

pub mod asr;
pub mod cache;
pub mod classify;
pub mod creative;
pub mod dashboard;
pub mod error;
pub mod gpu;
pub mod kernels;
pub mod lang;
pub mod media;
pub mod message;
pub mod models;
pub mod pipeline;
pub mod screen;
pub mod table;
pub mod task;
pub mod text;
pub mod vision;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
