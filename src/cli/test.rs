//! `netdiscover test [RULES_DIR...] --data DIR`: runs the detections' tests on local data,
//! without Splunk. Tests come from the detections' own `tests:` blocks (ESCU 5 and 6),
//! from `tests.yml` manifests and from SigmaHQ `regression_data/**/info.yml`; see
//! `docs/testing-and-lint.md`.

mod cases;
mod escu;
mod gather;
mod manifest;
mod report;
mod runner;
mod sigma;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;

use crate::detect::ProcessDetector;
use crate::rules::{self, RuleSet, Warning};

pub use cases::{Expect, Origin, TestCase};
pub use report::Counts;
pub use runner::{Status, Verdict};

/// The test subcommand's usage as `--help` shows it.
pub const HELP: &str = "\
TEST: netdiscover test [RULES_DIR...] --data DIR [OPTIONS]
  Runs the detections' tests on local data, without Splunk: the ESCU `tests:` of every
  detection (attack_data URLs are looked up under each --data DIR by their path below
  attack_data/master/, then by file name), `tests.yml` manifests (rule id -> data file ->
  expected count) and SigmaHQ regression tests (DIR/regression_data/**/info.yml).
  Without RULES_DIR the app's rules are tested (as `scan` loads them).

  --data DIR        where data files are looked up (repeatable)
  --manifest FILE   a tests.yml manifest (repeatable); default ./tests.yml when it exists;
                    RULES_DIR/tests.yml is always read
  --junit FILE      also write JUnit XML (one testcase per rule and test)
  --json FILE       also write the results as JSON (for `coverage --tested-with`)
  -h, --help        this text

  A test whose data file is missing, or whose sourcetype has no reader, is skipped with the
  paths looked for; it never passes. The table ends with `N passed, M failed, K skipped`.
  Exit status: 0 no test failed, 1 a test failed, 2 error (bad arguments, a missing
  directory, no rule loaded).
";

#[derive(Parser, Debug)]
#[command(name = "netdiscover test", override_help = HELP)]
struct Args {
    rule_dirs: Vec<PathBuf>,
    #[arg(long = "data", value_name = "DIR")]
    data: Vec<PathBuf>,
    #[arg(long = "manifest", value_name = "FILE")]
    manifests: Vec<PathBuf>,
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

pub const EXIT_PASSED: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_ERROR: i32 = 2;

/// What to test and where the data is.
#[derive(Debug, Clone, Default)]
pub struct TestPlan {
    /// Rule directories; empty = the app's rule places.
    pub rule_dirs: Vec<PathBuf>,
    pub data_dirs: Vec<PathBuf>,
    pub manifests: Vec<PathBuf>,
}

/// A finished run: the loaded rules, every test and its verdict.
pub struct TestRun {
    pub rules: RuleSet,
    pub load_warnings: Vec<Warning>,
    pub cases: Vec<TestCase>,
    pub verdicts: Vec<Verdict>,
    /// Regression tests whose rule is not loaded (`id (title)`), never run.
    pub unmatched_regression: Vec<String>,
    pub seconds: f64,
}

impl TestRun {
    pub fn counts(&self) -> Counts {
        Counts::of(&self.verdicts)
    }

    /// The results as JSON (the `--json` file).
    pub fn json(&self) -> serde_json::Value {
        let techniques = |case: &TestCase| {
            case.rule
                .and_then(|i| self.rules.rules().get(i))
                .map(|r| r.meta.mitre_attack_id.clone())
                .unwrap_or_default()
        };
        report::json(&self.cases, &self.verdicts, &techniques, self.seconds)
    }

    pub fn junit(&self) -> String {
        report::junit(&self.cases, &self.verdicts, self.seconds)
    }

    pub fn table(&self) -> String {
        report::table(&self.cases, &self.verdicts)
    }
}

/// Loads the rules, gathers their tests and runs them. Errors are problems with the plan
/// itself (a directory that does not exist, no rule loaded).
pub fn run_plan(plan: &TestPlan) -> Result<TestRun, String> {
    let start = Instant::now();
    for dir in plan.rule_dirs.iter().chain(&plan.data_dirs) {
        if !dir.is_dir() {
            return Err(format!("{}: no such directory", dir.display()));
        }
    }
    let rule_dirs = if plan.rule_dirs.is_empty() {
        rules::locate(&[]).all()
    } else {
        plan.rule_dirs.clone()
    };
    let (ruleset, load_warnings) = RuleSet::load(&rule_dirs);
    if ruleset.is_empty() {
        return Err(format!(
            "no rule loaded from {}",
            rule_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let manifests = manifests(plan, &rule_dirs);
    let inputs = gather::Inputs {
        rule_dirs: &rule_dirs,
        data_dirs: &plan.data_dirs,
        manifests: &manifests,
    };
    let mut gathered = gather::gather(&ruleset, &load_warnings, &inputs);
    gathered
        .cases
        .extend(gathered.problems.iter().map(|p| declaration_failure(p)));
    let mut detector = ProcessDetector::new(ruleset.clone());
    let verdicts = runner::run(&gathered.cases, &mut detector);
    Ok(TestRun {
        rules: ruleset,
        load_warnings,
        cases: gathered.cases,
        verdicts,
        unmatched_regression: gathered.unmatched_regression,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// `--manifest` files, else `./tests.yml`; plus `tests.yml` at the top of each rule directory.
fn manifests(plan: &TestPlan, rule_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = plan.manifests.clone();
    if out.is_empty() && Path::new("tests.yml").is_file() {
        out.push(PathBuf::from("tests.yml"));
    }
    out.extend(
        rule_dirs
            .iter()
            .map(|d| d.join("tests.yml"))
            .filter(|p| p.is_file()),
    );
    let mut seen = Vec::new();
    out.retain(|p| {
        let key = p.canonicalize().unwrap_or_else(|_| p.clone());
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    out
}

/// A test declaration that could not be read fails as a test of its own, so the closing
/// counts and the exit status agree.
fn declaration_failure(problem: &str) -> TestCase {
    TestCase {
        rule: None,
        rule_name: "(test declarations)".into(),
        rule_id: String::new(),
        name: "read test declarations".into(),
        origin: Origin::Manifest,
        declared_in: PathBuf::from(problem.split(": ").next().unwrap_or("")),
        data: Vec::new(),
        expect: Expect::AtLeast(0),
        skip: None,
        error: Some(problem.to_string()),
    }
}

/// Runs the test subcommand; returns the exit code.
pub fn run(args: &[OsString]) -> i32 {
    let args: Args = match super::parse_subcommand("netdiscover test", args, EXIT_ERROR) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let plan = TestPlan {
        rule_dirs: args.rule_dirs,
        data_dirs: args.data,
        manifests: args.manifests,
    };
    let result = match run_plan(&plan) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("netdiscover test: error: {e}");
            return EXIT_ERROR;
        }
    };
    for w in &result.load_warnings {
        eprintln!("netdiscover test: warning: {w}");
    }
    if !result.unmatched_regression.is_empty() {
        eprintln!(
            "netdiscover test: note: {} regression test(s) name rules that are not loaded (not run): {}",
            result.unmatched_regression.len(),
            result.unmatched_regression.join(", ")
        );
    }
    if let Err(code) = write_outputs(&result, args.junit.as_deref(), args.json.as_deref()) {
        return code;
    }
    print!("{}", result.table());
    eprintln!(
        "netdiscover test: {} rules loaded, {} tests, {:.2} s",
        result.rules.len(),
        result.cases.len(),
        result.seconds
    );
    let counts = result.counts();
    println!("{}", counts.line());
    if counts.failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_PASSED
    }
}

fn write_outputs(result: &TestRun, junit: Option<&Path>, json: Option<&Path>) -> Result<(), i32> {
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|e| {
            eprintln!(
                "netdiscover test: error: cannot write {}: {e}",
                path.display()
            );
            EXIT_ERROR
        })
    };
    if let Some(path) = junit {
        write(path, result.junit())?;
    }
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&result.json()).unwrap_or_default();
        write(path, text + "\n")?;
    }
    Ok(())
}
