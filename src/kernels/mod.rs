//! CPU kernels shared by the text encoder and Whisper: fused multi-head
//! attention and element-wise maths, with AVX-512 paths on x86-64 and
//! portable fallbacks elsewhere (wasm included).

pub mod attention;
pub mod int8;
pub mod linear;
pub mod math;

/// f(0), …, f(n − 1) on the thread pool (in turn on wasm).
pub(crate) fn par_for(n: usize, f: impl Fn(usize) + Send + Sync) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().for_each(f);
    }
    #[cfg(target_arch = "wasm32")]
    (0..n).for_each(f);
}

/// [f(0), …, f(n − 1)], computed on the thread pool (in turn on wasm).
pub(crate) fn par_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Send + Sync) -> Vec<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().map(f).collect()
    }
    #[cfg(target_arch = "wasm32")]
    (0..n).map(f).collect()
}

/// f(i, chunk) for the `len`-sized chunks of `data`, on the thread pool (in
/// turn on wasm).
pub(crate) fn par_chunks_mut<T: Send>(data: &mut [T], len: usize, f: impl Fn(usize, &mut [T]) + Send + Sync) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    }
    #[cfg(target_arch = "wasm32")]
    data.chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
}
