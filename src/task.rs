//! The few futures the core needs. Whisper's transcription loop is written
//! async so that the page can await WebGPU between windows; on the CPU, and
//! natively on the GPU, its futures complete at once and are driven by
//! [`now`].

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// Runs `future` to completion on this thread.
#[cfg(not(target_arch = "wasm32"))]
pub fn now<F: Future>(future: F) -> F::Output {
    pollster::block_on(future)
}

/// Runs `future`, which must complete without waiting: in the page a wait
/// can only end through the browser's event loop, which a synchronous call
/// never returns to.
#[cfg(target_arch = "wasm32")]
pub fn now<F: Future>(future: F) -> F::Output {
    ready(future).expect("a computation on the CPU waited for the browser")
}

/// `future`'s output if it completes without waiting.
pub fn ready<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// A value one callback puts and one future takes (a callback-based API's
/// answer, such as WebGPU's buffer mapping).
pub struct Slot<T>(Arc<Mutex<(Option<T>, Option<Waker>)>>);

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self(Arc::new(Mutex::new((None, None))))
    }
}

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Slot<T> {
    pub fn put(&self, value: T) {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.0 = Some(value);
        if let Some(waker) = slot.1.take() {
            waker.wake();
        }
    }

    /// The value, once put.
    pub fn take(&self) -> impl Future<Output = T> + '_ {
        std::future::poll_fn(|cx| {
            let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
            match slot.0.take() {
                Some(v) => Poll::Ready(v),
                None => {
                    slot.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
    }
}

/// Resolves after `duration`, through the page's timers.
#[cfg(target_arch = "wasm32")]
pub async fn sleep(duration: std::time::Duration) {
    use wasm_bindgen::{JsCast, JsValue};
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let timer = js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into()).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        if let Some(set_timeout) = timer {
            let _ = set_timeout.call2(&JsValue::NULL, &resolve, &(duration.as_millis() as f64).into());
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_waits_until_its_value_is_put_then_wakes_its_taker() {
        let slot = Slot::default();
        let woken = Arc::new(std::sync::atomic::AtomicBool::new(false));
        struct Flag(Arc<std::sync::atomic::AtomicBool>);
        impl std::task::Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let waker = Waker::from(Arc::new(Flag(woken.clone())));
        let mut taking = std::pin::pin!(slot.take());
        assert!(taking.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        assert!(!woken.load(std::sync::atomic::Ordering::SeqCst));
        slot.clone().put(7);
        assert!(woken.load(std::sync::atomic::Ordering::SeqCst), "put wakes the waiting taker");
        assert_eq!(taking.as_mut().poll(&mut Context::from_waker(&waker)), Poll::Ready(7));
    }

    #[test]
    fn ready_takes_only_what_completes_without_waiting() {
        assert_eq!(ready(async { 3 }), Some(3));
        let never = Slot::<u8>::default();
        assert_eq!(ready(never.take()), None);
        assert_eq!(now(async { 5 }), 5);
    }
}
