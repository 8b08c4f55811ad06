//! The SPL door reading pySigma's Splunk searches. pysigma-backend-splunk 2.1.0's `data_model`
//! output (`SplunkBackend.finalize_query_data_model`, with the `splunk_cim` pipeline) writes
//! every Sigma `process_creation` rule as one search of the shape below; the SPL compiler must
//! compile it and give it Splunk's meaning, which is not always the Sigma rule's
//! (`tools/sigma_two_doors.sh` compares both doors over all SigmaHQ rules; docs/sigma.md, "Two
//! front doors"). The values here are written for the tests, in pySigma's shape.
//!
//! Pages cited: [SEARCH] Search Reference, "search" (`IN`, quoted values); [TSTATS] Search
//! Reference, "tstats" (the `where` clause filters the data model's fields, before any later
//! command runs); [SPLRE] Search Manual, "SPL and regular expressions"; [REGEX] Search
//! Reference, "regex"; [REX] Search Reference, "rex".

use crate::support::rules::Probe;

/// pySigma's search around a `where` clause and the stages between `by` and the rename.
fn pysigma(predicate: &str, deferred: &str) -> Probe {
    let search = format!(
        "| tstats summariesonly=false allow_old_summaries=true fillnull_value=\"null\" count \
         min(_time) as firstTime max(_time) as lastTime from datamodel=Endpoint.Processes where \
         {predicate} by Processes.process Processes.dest Processes.process_path \
         Processes.original_file_name Processes.parent_process_path{deferred} \
         | `drop_dm_object_name(Processes)` \
         | convert timeformat=\"%Y-%m-%dT%H:%M:%S\" ctime(firstTime) \
         | convert timeformat=\"%Y-%m-%dT%H:%M:%S\" ctime(lastTime) "
    );
    Probe::search(&search).unwrap_or_else(|w| panic!("{search}: {w:?}"))
}

/// [SEARCH] [SPLRE] The plain shape: OR before AND, `IN` lists of quoted wildcard values, `\\`
/// for one backslash and `\"` for a quote inside a quoted value; the tstats options and the
/// `convert` stages change no row.
#[test]
fn pysigma_data_model_search_compiles_with_splunk_meaning() {
    let mut p = pysigma(
        r#"Processes.process_path="*\\tool.exe" OR Processes.original_file_name="tool.exe" Processes.process IN ("*-x \"a\"*", "* /y *")"#,
        "",
    );
    let tool = r"C:\bin\tool.exe";
    assert!(p.fires(&[("process_path", &[tool]), ("process", &[r#"tool -x "a""#])]));
    assert!(p.fires(&[
        ("original_file_name", &["TOOL.EXE"]),
        ("process", &["t /y z"])
    ]));
    assert!(
        !p.fires(&[("process_path", &[tool]), ("process", &["tool -x a"])]),
        "the quotes are part of the value"
    );
    assert!(
        !p.fires(&[("process", &["t /y z"])]),
        "OR binds tighter than the implied AND"
    );
}

/// [TSTATS] [REX] An OR-ed Sigma `re` becomes `rex field=Processes.process "(?<processMatch>...)"
/// | eval processCondition=...` after tstats, with `processCondition="true"` in the tstats
/// `where` and again in a `| search`. The `where` runs first, over the data model, which has no
/// `processCondition`: that branch of the OR never holds, so only the other branch matches.
#[test]
fn or_ed_re_is_tested_in_the_tstats_where_before_rex_creates_its_field() {
    let condition = r#"Processes.process_path="*\\tool.exe" processCondition="true" OR Processes.process="*--flag*""#;
    let deferred = format!(
        r#" | rex field=Processes.process "(?<processMatch>\s-f\s)" | eval processCondition=if(isnotnull(processMatch), "true", "false") | search {condition}"#
    );
    let mut p = pysigma(condition, &deferred);
    let tool = r"C:\bin\tool.exe";
    assert!(p.fires(&[("process_path", &[tool]), ("process", &["tool --flag"])]));
    assert!(
        !p.fires(&[("process_path", &[tool]), ("process", &["tool -f x"])]),
        "the regular expression matches, but the tstats `where` already dropped the row"
    );
    let mut alone = pysigma(r#"Processes.process_path="*\\tool.exe""#, &deferred);
    assert!(
        alone.fires(&[("process_path", &[tool]), ("process", &["tool -f x"])]),
        "once tstats keeps the row, the later `search` reads the field rex and eval made"
    );
    assert!(!alone.fires(&[("process_path", &[tool]), ("process", &["tool -g x"])]));
}

/// [REGEX] A Sigma `re` that is not under an OR becomes `| regex Processes.process="..."`
/// between tstats and the rename: it reads the `by` field, case-sensitively and unanchored,
/// and is AND-ed with everything before it, also when the Sigma rule had it under a `not`.
#[test]
fn deferred_regex_reads_the_by_field_and_ands_with_the_where() {
    let mut p = pysigma(
        r#"Processes.process_path="*\\tool.exe" NOT Processes.process="* -q *""#,
        r#" | regex Processes.process=":[^ \\\\]""#,
    );
    let tool = r"C:\bin\tool.exe";
    assert!(p.fires(&[("process_path", &[tool]), ("process", &["tool a:b"])]));
    assert!(
        !p.fires(&[("process_path", &[tool]), ("process", &[r"tool C:\x"])]),
        "`[^ \\\\]` in the quoted SPL is the class `[^ \\]`"
    );
    assert!(!p.fires(&[("process_path", &[tool]), ("process", &["tool -q a:b"])]));
    assert!(!p.fires(&[("process_path", &[tool]), ("process", &["tool"])]));
}
