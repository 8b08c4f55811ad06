//! Macro definitions and their expansion on arbitrary text: the input is a macros.conf, a NUL,
//! then a search calling those macros (recursion, argument counts, `$arg$` substitution).
//! Expansion must end with a result or an error, never a panic, a hang or an unbounded string.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use netdiscover::rules::{compile_search, MacroTable};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (conf, search) = text.split_once('\0').unwrap_or((text, "`m1` | `m2(a,b)`"));
    let mut table = MacroTable::with_builtins();
    let _ = table.add_conf(conf, Path::new("fuzz/macros.conf"));
    if let Ok(expanded) = table.expand(search) {
        // Expansion is bounded: a few macros of a few KiB cannot legitimately reach 64 MiB.
        assert!(
            expanded.len() < 64 << 20,
            "expansion of {} bytes",
            expanded.len()
        );
        let _ = compile_search(&expanded);
    }
});
