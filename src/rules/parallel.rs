//! Work split over a given number of threads, results in the items' order: what makes
//! loading rules on many threads give exactly the set one thread gives.
//!
//! Every caller passes the threads it may use. `| netdiscover` and the other front ends give
//! [`cores`]; `scan --threads N` gives `N`, so a one-thread scan loads its rules on its own
//! thread and starts none.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The cores this process may use, asked once (the standard library reads the cgroup
/// files again at every call).
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES
        .get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
}

/// Fewer items than this are mapped on the calling thread: starting a thread costs more than
/// a few small items.
const MIN_ITEMS: usize = 32;

/// `f` over `items` on up to `threads` threads (the calling thread one of them), results in
/// `items`' order. Threads take the next item from a shared counter rather than a fixed
/// share: items differ widely in cost (a Sigma rule with hundreds of values, an ESCU search
/// with a regex to JIT-compile), and `scan` decodes its input on the same cores meanwhile,
/// so a thread with a fixed share could finish long after the others, alone.
pub(crate) fn in_parallel<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if items.len() < MIN_ITEMS {
        return items.iter().map(f).collect();
    }
    each_in_parallel(threads, items, f)
}

/// [`in_parallel`] however few the items: for items that each cost far more than a thread.
pub(crate) fn each_in_parallel<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let take = || {
        let mut done = Vec::new();
        loop {
            let at = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(at) else {
                return done;
            };
            done.push((at, f(item)));
        }
    };
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(take)).collect();
        let mine = take();
        mine.into_iter()
            .chain(helpers.into_iter().flat_map(joined))
            .collect()
    });
    done.sort_unstable_by_key(|(at, _)| *at);
    done.into_iter().map(|(_, result)| result).collect()
}

/// `f` over `items` in up to `threads` contiguous parts (the calling thread takes the
/// first), results in part order: for work whose items are many and cheap, where taking
/// them one at a time would cost more than the work.
pub(crate) fn in_parts<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    let threads = threads.min(items.len() / MIN_ITEMS).max(1);
    if threads == 1 {
        return vec![f(items)];
    }
    let size = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let mut parts = items.chunks(size);
        let first = parts.next().unwrap_or(&[]);
        let helpers: Vec<_> = parts.map(|part| scope.spawn(move || f(part))).collect();
        let mine = f(first);
        std::iter::once(mine)
            .chain(helpers.into_iter().map(joined))
            .collect()
    })
}

/// `f` over each item of `items` (with its index) on up to `threads` threads, in contiguous
/// parts (the calling thread takes the first): for many items of like cost, changed in place.
pub(crate) fn in_parts_mut<T: Send>(
    threads: usize,
    items: &mut [T],
    f: impl Fn(usize, &mut T) + Sync,
) {
    let threads = threads.min(items.len() / MIN_ITEMS).max(1);
    let size = items.len().div_ceil(threads).max(1);
    let f = &f;
    let part = move |(n, part): (usize, &mut [T])| {
        for (at, item) in part.iter_mut().enumerate() {
            f(n * size + at, item);
        }
    };
    if threads == 1 {
        return part((0, items));
    }
    std::thread::scope(|scope| {
        let mut parts = items.chunks_mut(size).enumerate();
        let first = parts.next();
        let helpers: Vec<_> = parts.map(|p| scope.spawn(move || part(p))).collect();
        first.into_iter().for_each(part);
        helpers.into_iter().for_each(joined);
    })
}

/// `first` and `second`, the second on a thread of its own when `threads` allows one.
pub(crate) fn join<A: Send, B: Send>(
    threads: usize,
    first: impl FnOnce() -> A + Send,
    second: impl FnOnce() -> B + Send,
) -> (A, B) {
    if threads <= 1 {
        return (first(), second());
    }
    std::thread::scope(|scope| {
        let second = scope.spawn(second);
        (first(), joined(second))
    })
}

/// What a helper thread returned; its panic goes on in the caller.
fn joined<R>(helper: std::thread::ScopedJoinHandle<'_, R>) -> R {
    helper
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Set once a process has said it ends soon after loading its rules ([`never_free_loading`]).
static NEVER_FREE: AtomicBool = AtomicBool::new(false);

/// What loading frees off its thread ([`drop_off_thread`]) is left allocated from now on, for
/// a process that ends once its input is read (`scan`): freeing the parsed rule files is
/// work (about 11 M instructions with SigmaHQ's rules) that a scan's workers would only wait
/// for, or share the cores with, while the process's end gives the memory back at once. A
/// long-lived process (`| netdiscover`, the modular input) never calls this, and frees.
pub(crate) fn never_free_loading() {
    NEVER_FREE.store(true, Ordering::Relaxed);
}

/// Frees `value` on a thread of its own when `threads` allows one: parsed rule files and
/// the literals the index was chosen from are thousands of small allocations, and whoever
/// loads rules waits for nothing but the compiled set (a scan matches with it at once).
/// Should no thread start, `value` is freed here; after [`never_free_loading`], never.
pub(crate) fn drop_off_thread<T: Send + 'static>(threads: usize, value: T) {
    if NEVER_FREE.load(Ordering::Relaxed) {
        return std::mem::forget(value);
    }
    if threads <= 1 {
        return drop(value);
    }
    let _ = std::thread::Builder::new()
        .name("free".into())
        .spawn(move || drop(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order_on_any_number_of_threads() {
        let items: Vec<u64> = (0..1000).collect();
        let serial: Vec<u64> = items.iter().map(|i| i * i).collect();
        for threads in [1, 2, 3, 8] {
            assert_eq!(in_parallel(threads, &items, |i| i * i), serial);
            assert_eq!(
                each_in_parallel(threads, &items[..3], |i| i * i),
                serial[..3]
            );
            let parts = in_parts(threads, &items, |part| part.to_vec());
            assert_eq!(parts.concat(), items);
            assert!(parts.len() <= threads);
        }
        assert_eq!(in_parts(4, &items[..10], <[u64]>::len), vec![10]);
        for threads in [1, 2, 3, 8] {
            let mut squares = items.clone();
            in_parts_mut(threads, &mut squares, |at, i| *i = *i * *i + at as u64 - *i);
            assert_eq!(squares, serial);
        }
    }
}
