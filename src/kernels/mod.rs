//! CPU kernels shared by the text encoder and Whisper: fused multi-head
//! attention, the int8 linear layers, Whisper's convolution stem and
//! element-wise maths, and the loops of the classifier's training, with vector paths for x86-64, aarch64 and wasm and
//! portable fallbacks elsewhere.

pub mod attention;
pub mod conv;
pub mod int8;
pub mod linear;
pub mod logreg;
pub mod math;
pub mod simd;

/// The clock the kernel benchmarks read (`std::time::Instant` panics in the
/// browser's wasm32).
pub(crate) use web_time::Instant;

// Natively and in the page's threaded module the work below is spread over
// rayon's pool; in the portable module rayon's pool is the calling thread.

/// f(0), …, f(n − 1) on the thread pool.
pub(crate) fn par_for(n: usize, f: impl Fn(usize) + Send + Sync) {
    use rayon::prelude::*;
    (0..n).into_par_iter().for_each(f);
}

/// [f(0), …, f(n − 1)], computed on the thread pool.
pub(crate) fn par_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Send + Sync) -> Vec<T> {
    use rayon::prelude::*;
    (0..n).into_par_iter().map(f).collect()
}

/// f(i, chunk) for the `len`-sized chunks of `data`, on the thread pool.
pub(crate) fn par_chunks_mut<T: Send>(data: &mut [T], len: usize, f: impl Fn(usize, &mut [T]) + Send + Sync) {
    use rayon::prelude::*;
    data.par_chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
}
