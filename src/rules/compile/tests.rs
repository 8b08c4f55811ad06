//! Tests of the compiler as a whole (stages, environment, refusals, outputs).

use super::*;
use crate::rules::error::SplError;
use crate::rules::expr::{Cond, Src};

#[test]
fn tstats_predicate_and_by_clause() {
    let s = r#"| tstats summariesonly=false count min(_time) as firstTime from datamodel=Endpoint.Processes where (Processes.process_name="netstat.exe") (Processes.process=*-a*) by Processes.dest Processes.process | rename "Processes.*" as * | search *"#;
    let c = compile_search(s).unwrap();
    assert_eq!(c.fields, vec!["process_name", "process"]);
    assert!(later_stages_are_formatting_only(s));
}

#[test]
fn where_after_rename_follows_the_field() {
    let s = "| tstats count from datamodel=Endpoint.Processes where Processes.process_name=a by Processes.process | rename Processes.process as cmd | where match(cmd, \"x\")";
    let mut c = compile_search(s).unwrap();
    assert_eq!(c.fields, vec!["process_name", "process"]);
    assert!(matches!(c.resolve_output("cmd"), Some(Src::Slot(1))));
}

#[test]
fn refusals() {
    let agg =
        "| tstats count from datamodel=Endpoint.Processes by Processes.dest | where count > 5";
    let e = compile_search(agg).unwrap_err();
    assert!(e.is_not_row_level() && e.construct() == "count", "{e:?}");
    let join = "| tstats count from datamodel=Endpoint.Processes by Processes.dest | join dest [| tstats count from datamodel=X]";
    assert!(compile_search(join).unwrap_err().is_not_row_level());
    let dm = "| tstats count from datamodel=Endpoint.Filesystem where Filesystem.file_name=x";
    assert_eq!(
        compile_search(dm).unwrap_err().construct(),
        "datamodel=Endpoint.Filesystem"
    );
    let unknown =
        "| tstats count from datamodel=Endpoint.Processes by Processes.dest | frobnicate x";
    let e = compile_search(unknown).unwrap_err();
    assert!(
        matches!(e, SplError::Unsupported { ref construct, position: 69, .. } if construct == "frobnicate"),
        "{e:?}"
    );
}

#[test]
fn eval_used_by_later_filter_is_followed() {
    let s = "| tstats count from datamodel=Endpoint.Processes by Processes.process_name | rename Processes.* as * | eval l=len(process_name) | search l=5";
    let c = compile_search(s).unwrap();
    assert!(matches!(
        c.cond,
        Cond::Glob {
            src: Src::Expr(_),
            ..
        }
    ));
    let bad = "| tstats count from datamodel=Endpoint.Processes by Processes.process_name | rename Processes.* as * | eval l=frob(process_name) | search l=5";
    assert_eq!(compile_search(bad).unwrap_err().construct(), "frob()");
    let unused = "| tstats count from datamodel=Endpoint.Processes by Processes.process_name | rename Processes.* as * | eval l=frob(process_name)";
    assert!(compile_search(unused).is_ok());
}

#[test]
fn outputs_read_per_row_values_of_single_value_aggregates() {
    let s = "| tstats values(Processes.user) as user count from datamodel=Endpoint.Processes where Processes.process_name=a by Processes.dest | rename Processes.* as *";
    let mut c = compile_search(s).unwrap();
    assert!(matches!(c.resolve_output("user"), Some(Src::Slot(_))));
    assert_eq!(c.fields.last().map(String::as_str), Some("user"));
    assert!(c.resolve_output("count").is_none());
    let filter = format!("{s} | search user=bob");
    assert!(
        compile_search(&filter).unwrap_err().is_not_row_level(),
        "filters on aggregates stay refused"
    );
}

/// Compiling without the facts gives the same condition, fields, environment and error as
/// compiling with them, and records nothing.
#[test]
fn unrecorded_compilation_is_the_recorded_one_without_facts() {
    let searches = [
        r#"| tstats count min(_time) as firstTime values(Processes.user) as user from datamodel=Endpoint.Processes where Processes.process_name IN ("a.exe", "b*") NOT Processes.process="*x*" by Processes.dest Processes.process Processes.process_name | rename Processes.* as * | eval l=len(process_name), n=lower(process) | search l>3 n="*-enc*" | where match(process, "a.b") | rex field=process "(?<g>z\d)" | regex process="q+" | convert ctime(firstTime) | fillnull value=unknown | table dest process user"#,
        "| tstats count from datamodel=Endpoint.Processes where Processes.process_name=a by Processes.process | rename Processes.process as cmd | fillnull value=x cmd | where match(cmd, \"x\")",
        "| tstats count from datamodel=Endpoint.Processes by Processes.dest | where count > 5",
        "| tstats count from datamodel=Endpoint.Processes by Processes.dest | frobnicate x",
    ];
    for s in searches {
        let recorded = compile_search(s);
        let unrecorded = compile_search_unrecorded(s);
        match (recorded, unrecorded) {
            (Ok(mut a), Ok(mut b)) => {
                assert_eq!(format!("{:?}", a.cond), format!("{:?}", b.cond), "{s}");
                assert_eq!((&a.fields, &a.or_in_and), (&b.fields, &b.or_in_and), "{s}");
                assert!(!a.facts.reads.is_empty() && a.facts.outputs.is_some());
                assert!(b.facts.reads.is_empty() && b.facts.filled.is_empty());
                assert!(b.facts.outputs.is_none());
                for name in ["dest", "process", "user", "firstTime", "l", "g", "cmd", "x"] {
                    let (x, y) = (a.resolve_output(name), b.resolve_output(name));
                    assert_eq!(format!("{x:?}"), format!("{y:?}"), "{s}: {name}");
                }
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{s}"),
            (a, b) => panic!("{s}: {:?} vs {:?}", a.map(|_| ()), b.map(|_| ())),
        }
    }
}
