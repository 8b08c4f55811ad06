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
    let conf = include_str!("../default/macros.conf");
    let search = "| tstats `security_content_summariesonly` count from datamodel=Endpoint.Processes where Processes.process_name=netsh.exe by Processes.dest Processes.process | `drop_dm_object_name(Processes)` | `security_content_ctime(firstTime)` | `windows_proxy_via_netsh_filter`";
    let expanded = expand_within_deadline(conf, search).expect("expands");
    assert!(!expanded.contains('`'), "{expanded}");
    compile_search(&expanded).expect("compiles");
}
