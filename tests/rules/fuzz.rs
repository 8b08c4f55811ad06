//! No input panics the rules module: arbitrary SPL, macro text and YAML only produce values
//! or errors.

use netdiscover::rules::{compile_search, Macro, MacroTable, RuleSet};
use proptest::prelude::*;

const PIECES: &[&str] = &[
    "Processes.process",
    "process",
    "=",
    "!=",
    "<",
    ">=",
    "\"",
    "\\",
    "*",
    "(",
    ")",
    "[",
    "]",
    "|",
    ",",
    " ",
    "IN",
    "AND",
    "OR",
    "NOT",
    "where",
    "by",
    "search",
    "eval",
    "rename",
    "as",
    "regex",
    "rex",
    "fields",
    "table",
    "sort",
    "match(",
    "like(",
    "len(",
    "if(",
    "case(",
    "'",
    ".",
    "é",
    "\u{202E}",
    "`",
    "(?<g>",
    "x",
    "1",
    "-",
    "$",
    "stats",
    "field=",
];

fn spl() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn compiling_arbitrary_spl_never_panics(tail in spl(), raw in ".{0,80}") {
        let _ = compile_search(&format!("| tstats count from datamodel=Endpoint.Processes where {tail}"));
        let _ = compile_search(&format!("| tstats count from datamodel=Endpoint.Processes by Processes.process | {tail}"));
        let _ = compile_search(&raw);
    }

    #[test]
    fn expanding_arbitrary_macros_never_panics(def in spl(), text in spl(), arg in ".{0,10}") {
        let mut t = MacroTable::with_builtins();
        t.insert(Macro { name: "m".into(), args: vec!["a".into()], definition: def.clone() });
        t.insert(Macro { name: "n".into(), args: vec![], definition: def });
        let _ = t.expand(&text);
        let _ = t.expand(&format!("`m({arg})` `n`"));
    }

    #[test]
    fn loading_arbitrary_yaml_never_panics(search in spl(), body in ".{0,200}") {
        let dir = tempfile::tempdir().expect("tempdir");
        let doc = format!("name: R\nid: 1\ntype: TTP\nsearch: {}\n", serde_json::to_string(&search).expect("json"));
        std::fs::write(dir.path().join("a.yml"), doc).expect("write");
        std::fs::write(dir.path().join("b.yml"), &body).expect("write");
        std::fs::write(dir.path().join("macros.conf"), &body).expect("write");
        let _ = RuleSet::load(&[dir.path().to_path_buf()]);
    }
}

#[test]
fn multibyte_after_escapes_and_unterminated_quotes() {
    let base = "| tstats count from datamodel=Endpoint.Processes by Processes.process";
    for tail in [
        "| rename \"é",
        "| rename \"a\" as \"é",
        "| search process=a\\é",
        "| search process=\\é",
        "| where \"é",
    ] {
        let _ = compile_search(&format!("{base} {tail}"));
    }
    let _ = compile_search("| tstats count from datamodel=Endpoint.Processes where process=x\\é");
}
