//! The page's thread pool: rayon's global pool on web workers sharing this
//! module's memory, so the kernels run on every core as natively. Built only
//! into the threaded module (shared memory needs cross-origin isolation);
//! the portable module has none of this and rayon runs on the calling thread.
//!
//! The worker that holds the module (www/js/worker.js) starts the web
//! workers first (www/js/pool-worker.js): each instantiates the module on the
//! shared memory and blocks in `threadPoolWork` until rayon hands it a thread
//! to run. Then `threadPoolBuild` builds the pool. In that order because
//! rayon waits for its threads to start, and a blocked worker cannot start
//! new ones. (wasm-bindgen-rayon does the same, but spawns its workers from a
//! script path a bundler must resolve, or from blob: URLs, which this page's
//! Content-Security-Policy forbids.)

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Mutex, OnceLock};

use wasm_bindgen::prelude::*;

struct Pending {
    sender: Mutex<Sender<rayon::ThreadBuilder>>,
    receiver: Mutex<Receiver<rayon::ThreadBuilder>>,
}

fn pending() -> &'static Pending {
    static PENDING: OnceLock<Pending> = OnceLock::new();
    PENDING.get_or_init(|| {
        let (sender, receiver) = channel();
        Pending { sender: Mutex::new(sender), receiver: Mutex::new(receiver) }
    })
}

/// Run by each pool worker once the module is instantiated there: waits for
/// one of the pool's threads and runs it (for as long as the page lives).
#[wasm_bindgen(js_name = threadPoolWork)]
pub fn thread_pool_work() {
    let thread = pending().receiver.lock().ok().and_then(|r| r.recv().ok());
    if let Some(thread) = thread {
        thread.run();
    }
}

/// Builds rayon's global pool on the `threads` workers already waiting in
/// `threadPoolWork`. Must come before any parallel work.
#[wasm_bindgen(js_name = threadPoolBuild)]
pub fn thread_pool_build(threads: usize) -> Result<(), JsValue> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .spawn_handler(|thread| {
            let sender = pending().sender.lock().map_err(|_| std::io::Error::other("the pool's queue is poisoned"))?;
            sender.send(thread).map_err(|_| std::io::Error::other("no pool worker is waiting"))
        })
        .build_global()
        .map_err(|e| JsValue::from_str(&format!("the thread pool: {e}")))
}
