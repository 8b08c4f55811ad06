//! Hostile macro definitions (a user's `local/rules` or macros.conf): expansion must end
//! promptly with an error naming the macro, whatever the definitions do.

use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use netdiscover::rules::{compile_search, MacroError, MacroTable};

/// Expands `search` with the macros of `conf` on a thread, failing the test if it takes longer
/// than the deadline (the bug this guards against is an expansion that never ends).
fn expand_within_deadline(conf: &str, search: &str) -> Result<String, MacroError> {
    let (conf, search) = (conf.to_string(), search.to_string());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut table = MacroTable::with_builtins();
        let errors = table.add_conf(&conf, Path::new("local/macros.conf"));
        assert!(errors.is_empty(), "{errors:?}");
        let _ = tx.send(table.expand(&search));
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("macro expansion did not end within 20 s")
}

/// `d0` calls `d1` twice, `d1` calls `d2` twice, … 40 levels: 2^40 leaves.
fn doubling_chain(leaf: &str) -> String {
    let mut conf = String::new();
    for i in 0..40 {
        conf.push_str(&format!(
            "[d{i}]\ndefinition = `d{next}` `d{next}`\n\n",
            next = i + 1
        ));
    }
    conf.push_str(&format!("[d40]\ndefinition = {leaf}\n"));
    conf
}

#[test]
fn a_doubling_macro_chain_is_refused_not_expanded() {
    let result = expand_within_deadline(&doubling_chain("process_name=x"), "search `d0`");
    let error = result.expect_err("2^40 copies must not be produced");
    assert!(
        matches!(
            error,
            MacroError::TooLong { .. } | MacroError::TooManyCalls { .. }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("`d"), "names a macro: {error}");
}

#[test]
fn a_doubling_chain_of_empty_macros_is_refused_not_run_forever() {
    // Nothing grows, so only the call budget can stop it.
    let result = expand_within_deadline(&doubling_chain("\"\""), "search `d0`");
    let error = result.expect_err("2^40 calls must not be made");
    assert!(matches!(error, MacroError::TooManyCalls { .. }), "{error}");
}

#[test]
fn argument_substitution_that_multiplies_is_refused() {
    let mut conf = String::new();
    for i in 0..30 {
        conf.push_str(&format!(
            "[m{i}(1)]\nargs = a\ndefinition = `m{next}($a$$a$$a$$a$)`\n\n",
            next = i + 1
        ));
    }
    conf.push_str("[m30(1)]\nargs = a\ndefinition = $a$\n");
    let error = expand_within_deadline(&conf, "search `m0(xxxxxxxx)`").expect_err("4^30 growth");
    assert!(
        matches!(
            error,
            MacroError::TooLong { .. } | MacroError::TooManyCalls { .. }
        ),
        "{error}"
    );
}

/// The limits leave real searches alone: the shipped macros expand the shipped rules.
#[test]
fn realistic_expansion_is_unaffected() {
    let conf = include_str!("../../default/macros.conf");
    let search = "| tstats `security_content_summariesonly` count from datamodel=Endpoint.Processes where Processes.process_name=netsh.exe by Processes.dest Processes.process | `drop_dm_object_name(Processes)` | `security_content_ctime(firstTime)` | `windows_proxy_via_netsh_filter`";
    let expanded = expand_within_deadline(conf, search).expect("expands");
    assert!(!expanded.contains('`'), "{expanded}");
    compile_search(&expanded).expect("compiles");
}

/// Compiles `search` on a thread, failing on a panic or if it takes longer than the deadline.
fn compile_within_deadline(search: &str) -> bool {
    let owned = search.to_string();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(compile_search(&owned).is_ok());
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(ok) => ok,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("compiling {search:?} did not end"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("compiling {search:?} panicked"),
    }
}

const TSTATS: &str =
    "| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.process";

/// Found by the spl_search fuzz target: a vertical tab (U+000B) in a `fields` list is
/// whitespace to `char::is_whitespace` but not to `u8::is_ascii_whitespace`, and the field
/// tokenizer, disagreeing with itself, pushed empty words forever (out of memory).
#[test]
fn a_vertical_tab_in_a_field_list_does_not_loop() {
    for separator in ["\u{0B}", "\u{85}", "\u{A0}", "\u{2003}", "\u{3000}"] {
        let search = format!("{TSTATS} | fields dest{separator}process");
        assert!(compile_within_deadline(&search), "{search:?}");
    }
}

/// An unterminated quoted field name ending in a multi-byte character.
#[test]
fn an_unterminated_quote_in_a_field_list_is_not_a_panic() {
    for tail in ["\"é", "\"dest é", "\"\\é", "\""] {
        let search = format!("{TSTATS} | fields {tail}");
        compile_within_deadline(&search);
        let search = format!("{TSTATS} | table dest, {tail}");
        compile_within_deadline(&search);
    }
}

/// Found by the spl_search fuzz target (second run): the same whitespace disagreement in the
/// `rex` argument scanner looped forever.
#[test]
fn unicode_whitespace_in_rex_arguments_does_not_loop() {
    for separator in ["\u{0B}", "\u{85}", "\u{A0}", "\u{3000}"] {
        let search =
            format!("{TSTATS} | rex field=process{separator}\"(?<port>\\d+)\" | search port=80");
        compile_within_deadline(&search);
        let search = format!("{TSTATS} | rex{separator}field=process \"x\"");
        compile_within_deadline(&search);
    }
}
