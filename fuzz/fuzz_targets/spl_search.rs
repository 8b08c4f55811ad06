//! The SPL side of the rules engine on arbitrary text: the predicate parser (the text as a
//! tstats `where` clause),
//! then macro expansion (shipped macros.conf) and compilation of the whole search, as a rule's
//! `search:` goes through them. Errors are fine; panics, hangs and runaway expansion are not.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use netdiscover::rules::{compile_search, MacroTable};

fn macros() -> &'static MacroTable {
    static TABLE: OnceLock<MacroTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = MacroTable::with_builtins();
        let conf = include_str!("../../default/macros.conf");
        table.add_conf(conf, Path::new("default/macros.conf"));
        table
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The predicate parser on its own: the text as a tstats `where` clause.
    let _ = compile_search(&format!(
        "| tstats count from datamodel=Endpoint.Processes where {text} by Processes.process"
    ));
    if let Ok(expanded) = macros().expand(text) {
        let _ = compile_search(&expanded);
    }
    let _ = compile_search(text);
});
