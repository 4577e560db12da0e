//! The int8 kernels' source (src/kernels/int8) built alone, with stand-ins
//! for the few candle items it touches, so that it cross-compiles in
//! seconds: `scripts/test-neon-kernels.sh` runs its check under qemu-user
//! for aarch64 (NEON with and without `sdot`). The stand-in activation is
//! the identity; the product's epilogue is tested natively.
pub mod kernels;
