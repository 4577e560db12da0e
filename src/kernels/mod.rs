//! CPU kernels shared by the text encoder and Whisper: fused multi-head
//! attention and element-wise maths, with AVX-512 paths on x86-64 and
//! portable fallbacks elsewhere (wasm included).

pub mod attention;
pub mod int8;
pub mod linear;
pub mod math;

// Natively and in the page's threaded module the work below is spread over
// rayon's pool; in the portable module rayon's pool is the calling thread.
// The page's Whisper decoder asks for its tiny per-token kernels to run in
// turn (see `in_turn`), as natively it installs a one-thread pool.
#[cfg(target_arch = "wasm32")]
thread_local! {
    static IN_TURN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with this thread's `par_*` calls done in turn (wasm only: the
/// page cannot make a one-thread rayon pool without another web worker).
#[cfg(target_arch = "wasm32")]
pub(crate) fn in_turn<T>(f: impl FnOnce() -> T) -> T {
    let before = IN_TURN.with(|c| c.replace(true));
    let out = f();
    IN_TURN.with(|c| c.set(before));
    out
}

#[inline]
fn parallel() -> bool {
    #[cfg(target_arch = "wasm32")]
    return !IN_TURN.with(|c| c.get());
    #[cfg(not(target_arch = "wasm32"))]
    true
}

/// f(0), …, f(n − 1) on the thread pool.
pub(crate) fn par_for(n: usize, f: impl Fn(usize) + Send + Sync) {
    use rayon::prelude::*;
    if parallel() {
        (0..n).into_par_iter().for_each(f);
    } else {
        (0..n).for_each(f);
    }
}

/// [f(0), …, f(n − 1)], computed on the thread pool.
pub(crate) fn par_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Send + Sync) -> Vec<T> {
    use rayon::prelude::*;
    if parallel() {
        (0..n).into_par_iter().map(f).collect()
    } else {
        (0..n).map(f).collect()
    }
}

/// f(i, chunk) for the `len`-sized chunks of `data`, on the thread pool.
pub(crate) fn par_chunks_mut<T: Send>(data: &mut [T], len: usize, f: impl Fn(usize, &mut [T]) + Send + Sync) {
    use rayon::prelude::*;
    if parallel() {
        data.par_chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    } else {
        data.chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    }
}
