//! Models: the manifest, preparation from PyPI wheels, conversion to GGUF,
//! and loading.

pub mod e5s1;
