//! The one parallel helper: fold a slice on a few threads.
//!
//! Each thread takes the next item (an atomic index, so a slow item does
//! not hold up a whole chunk) and folds it into an accumulator of its own;
//! the caller merges the accumulators. One thread, or one item, runs on
//! the caller's thread without spawning anything: most runs of the tool are
//! small, and a thread costs more than a few `stat`s.
//!
//! Deliberately no thread pool: the tool is short-lived, and each parallel
//! step (a status, a scan, the process table) happens once per run.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The machine's parallelism, between 1 and `cap`.
pub fn threads(cap: usize) -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, cap.max(1))
}

/// Fold `items` on up to `threads` threads. Returns one accumulator per
/// thread that ran, or `None` when a worker panicked (the caller must then
/// not trust a partial result: nothing here counts as passed by default).
pub fn fold<T, A>(
    items: &[T],
    threads: usize,
    init: impl Fn() -> A + Sync,
    step: impl Fn(&mut A, &T) + Sync,
) -> Option<Vec<A>>
where
    T: Sync,
    A: Send,
{
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        let mut acc = init();
        for item in items {
            step(&mut acc, item);
        }
        return Some(vec![acc]);
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut acc = init();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            step(&mut acc, item);
        }
        acc
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    })
}

/// Await futures concurrently on the current task; results in order.
pub async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_folded_once_whatever_the_thread_count() {
        let items: Vec<u64> = (1..=1000).collect();
        for threads in [1, 2, 3, 8] {
            let parts = fold(
                &items,
                threads,
                || (0u64, 0usize),
                |acc, x| {
                    acc.0 += x;
                    acc.1 += 1;
                },
            )
            .expect("no panic");
            assert!(parts.len() <= threads);
            let (sum, count) = parts
                .into_iter()
                .fold((0, 0), |a, p| (a.0 + p.0, a.1 + p.1));
            assert_eq!((sum, count), (500_500, 1000), "{threads} threads");
        }
    }

    #[test]
    fn an_empty_slice_folds_to_one_empty_accumulator() {
        let parts = fold(&[] as &[u8], 4, Vec::<u8>::new, |a, x| a.push(*x)).unwrap();
        assert_eq!(parts, vec![Vec::<u8>::new()]);
    }
}
