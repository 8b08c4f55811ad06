//! `netdiscover coverage [--strict] DETECTIONS_DIR [MACROS_DIR...]`: which detections compile,
//! what stopped the others and every key or block the loader read past (`--strict`: exit 1 if
//! any); with `--navigator FILE`, also an ATT&CK Navigator layer of the rules
//! that load, marking the techniques whose rules passed a test on data (`--tested-with` the
//! JSON results of `netdiscover test`, or `--data DIR` to run the tests here).

mod navigator;

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Parser;

use crate::rules::{self, RuleSet};

use super::test::{run_plan, Expect, Status, TestPlan};
use navigator::{Evidence, RuleCoverage};

pub const USAGE: &str = "\
COVERAGE: netdiscover coverage [--strict] DETECTIONS_DIR [MACROS_DIR...] [OPTIONS]
  Compiles every detection under DETECTIONS_DIR (with the macros of the other directories)
  and prints which compile, what stopped the others, and every key or block read past.

  --strict              a key or block read past makes its rule invalid and the exit status 1
  --navigator FILE      also write an ATT&CK Navigator layer (layer format 4.5, as
                        contentctl's report): each technique scored by its loaded rules,
                        coloured green when one of them passed a test on data
  --tested-with FILE    the evidence: the JSON results of `netdiscover test --json FILE`
  --data DIR            or run the tests here with this data directory (repeatable)
  --manifest FILE       a tests.yml manifest for those tests (repeatable)
";

#[derive(Parser, Debug)]
#[command(name = "netdiscover coverage", override_help = USAGE)]
struct Args {
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    #[arg(long)]
    strict: bool,
    #[arg(long, value_name = "FILE")]
    navigator: Option<PathBuf>,
    #[arg(long = "tested-with", value_name = "FILE")]
    tested_with: Option<PathBuf>,
    #[arg(long = "data", value_name = "DIR")]
    data: Vec<PathBuf>,
    #[arg(long = "manifest", value_name = "FILE")]
    manifests: Vec<PathBuf>,
}

/// One test result as evidence: the rule, whether the test expects rows, and its status.
#[derive(Debug, Clone)]
pub struct TestEvidence {
    pub rule_id: String,
    pub positive: bool,
    pub status: Status,
}

/// Runs the coverage subcommand; returns the exit code.
pub fn run(args: &[OsString]) -> i32 {
    let args: Args = match super::parse_subcommand("netdiscover coverage", args, 2) {
        Ok(args) => args,
        Err(code) => return code,
    };
    if let Some(missing) = args.dirs.iter().chain(&args.data).find(|d| !d.is_dir()) {
        eprintln!(
            "netdiscover coverage: {} is not a directory",
            missing.display()
        );
        return 2;
    }
    let (detections, macros) = (&args.dirs[0], &args.dirs[1..]);
    let report = rules::coverage_with(detections, macros, args.strict);
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = write!(stdout, "{report}").and_then(|()| stdout.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("netdiscover coverage: cannot write the report: {e}");
            return 2;
        }
    }
    let code = if args.strict && report.ignored() > 0 {
        eprintln!(
            "netdiscover coverage: --strict: {} key(s) or block(s) read past",
            report.ignored()
        );
        1
    } else {
        0
    };
    let Some(layer_path) = &args.navigator else {
        return code;
    };
    let evidence = match evidence(&args) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("netdiscover coverage: {e}");
            return 2;
        }
    };
    let (ruleset, _) = RuleSet::load(&args.dirs);
    let covered = rule_coverage(&ruleset, &evidence);
    let passed = covered
        .iter()
        .filter(|r| r.evidence == Evidence::Passed)
        .count();
    let description = format!(
        "{} rules loaded from {}; {passed} passed a test on data",
        covered.len(),
        detections.display()
    );
    let layer = navigator::layer(&covered, &description);
    let text = serde_json::to_string_pretty(&layer).unwrap_or_default();
    if let Err(e) = std::fs::write(layer_path, text + "\n") {
        eprintln!(
            "netdiscover coverage: cannot write {}: {e}",
            layer_path.display()
        );
        return 2;
    }
    eprintln!(
        "netdiscover coverage: wrote {} ({description})",
        layer_path.display()
    );
    code
}

/// The test evidence: read from `--tested-with`, or gathered by running the tests on
/// `--data`; none when neither is given.
fn evidence(args: &Args) -> Result<Vec<TestEvidence>, String> {
    if let Some(path) = &args.tested_with {
        return read_results(path);
    }
    if args.data.is_empty() {
        return Ok(Vec::new());
    }
    let plan = TestPlan {
        rule_dirs: args.dirs.clone(),
        data_dirs: args.data.clone(),
        manifests: args.manifests.clone(),
    };
    let run = run_plan(&plan)?;
    Ok(run
        .cases
        .iter()
        .zip(&run.verdicts)
        .map(|(case, verdict)| TestEvidence {
            rule_id: case.rule_id.clone(),
            positive: match case.expect {
                Expect::AtLeast(n) | Expect::Exactly(n) => n > 0,
            },
            status: verdict.status,
        })
        .collect())
}

/// Reads the JSON results `netdiscover test --json` writes.
pub fn read_results(path: &Path) -> Result<Vec<TestEvidence>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    let tests = value["tests"].as_array().ok_or_else(|| {
        format!(
            "{}: no `tests` array (expected the output of `netdiscover test --json`)",
            path.display()
        )
    })?;
    Ok(tests
        .iter()
        .map(|t| TestEvidence {
            rule_id: t["rule_id"].as_str().unwrap_or("").to_string(),
            positive: !matches!(t["expected"].as_str(), Some("0" | ">= 0")),
            status: match t["status"].as_str() {
                Some("pass") => Status::Pass,
                Some("fail") => Status::Fail,
                _ => Status::Skip,
            },
        })
        .collect())
}

/// Each loaded rule with its techniques and the best evidence its positive tests give.
fn rule_coverage(rules: &RuleSet, evidence: &[TestEvidence]) -> Vec<RuleCoverage> {
    let mut best: HashMap<String, Evidence> = HashMap::new();
    for e in evidence.iter().filter(|e| e.positive) {
        let level = match e.status {
            Status::Pass => Evidence::Passed,
            Status::Fail => Evidence::Failed,
            Status::Skip => continue,
        };
        let entry = best.entry(e.rule_id.to_ascii_lowercase()).or_insert(level);
        *entry = (*entry).max(level);
    }
    rules
        .rules()
        .iter()
        .map(|r| RuleCoverage {
            name: r.meta.name.clone(),
            techniques: r.meta.mitre_attack_id.clone(),
            evidence: best
                .get(&r.meta.id.to_ascii_lowercase())
                .copied()
                .unwrap_or(Evidence::Untested),
        })
        .collect()
}
