//! A row that matches nothing costs no allocation once the matcher's buffers have grown
//! (search-language rules: the two shipped rules and most of ESCU).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::repo;
use crate::support::rules::*;
use netdiscover::rules::{Matcher, RuleSet, Selected};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only allocations made by the measuring thread count (the test harness allocates on its own).
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn non_matching_rows_do_not_allocate() {
    let (set, warnings) = RuleSet::load(&[repo("app/detections"), repo("app/macros")]);
    assert!(warnings.is_empty());
    let rows: Vec<_> = [
        ("netsh.exe", "netsh interface portproxy show all"),
        ("NETSTAT.EXE", "netstat -nao"),
        (
            "cmd.exe",
            "cmd /c netsh interface portproxy add v4tov4 listenport=1",
        ),
        ("powershell.exe", "powershell -nop -w hidden -enc SQBFAFgA"),
    ]
    .iter()
    .map(|(name, cmd)| {
        row(
            &set,
            &[
                ("process_name", &[name]),
                ("original_file_name", &[name]),
                ("process", &[cmd]),
                ("dest", &["h"]),
                ("user", &["u"]),
            ],
        )
    })
    .collect();
    let all = Selected::all(&set);
    let mut m = Matcher::new(&set);
    for r in &rows {
        assert!(m.match_row(&set, &all, r).is_empty());
    }
    COUNTING.with(|c| c.set(true));
    drop(vec![0u8; 16]);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(before, 1, "the counting allocator is active");
    let mut matched = 0;
    for _ in 0..1000 {
        for r in &rows {
            matched += m.match_row(&set, &all, r).len();
        }
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    COUNTING.with(|c| c.set(false));
    assert_eq!(matched, 0);
    assert_eq!(allocations, 0, "allocations over 4000 non-matching rows");
}
