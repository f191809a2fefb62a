//! Driving the crate's futures to completion where blocking is allowed.
//!
//! The GPU engine's readbacks are `async` because in the browser they can only be awaited
//! (`mapAsync` completes from the JavaScript event loop). Natively the same futures are ready
//! once wgpu has been polled, which the engine does before it awaits, and a run on the CPU never
//! waits at all. So the native code (the CLI, the tests, [`crate::run::TrainingRun::advance`])
//! calls the async functions through [`block_on`], and the page awaits them.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Drives `fut` to completion on this thread, without an executor.
///
/// Natively a future that is not ready yet is polled again after yielding the thread. In a
/// WebAssembly build nothing can complete while this thread spins (the event loop that would
/// complete it is this thread), so a future that is not ready on its first poll is a bug in the
/// caller: it panics with a message saying to await instead.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    #[cfg(target_arch = "wasm32")]
    return match fut.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("block_on: a future that waits on the browser (a GPU readback) was driven synchronously; await it instead"),
    };
    #[cfg(not(target_arch = "wasm32"))]
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ready_future_gives_its_value() {
        assert_eq!(block_on(async { 6 * 7 }), 42);
    }

    #[test]
    fn a_future_that_is_pending_once_is_polled_again() {
        let mut polled = false;
        let once = std::future::poll_fn(|cx| {
            if std::mem::replace(&mut polled, true) {
                Poll::Ready("done")
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        });
        assert_eq!(block_on(once), "done");
    }
}
