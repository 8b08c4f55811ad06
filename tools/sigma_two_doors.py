#!/usr/bin/env python3
"""Two front doors, one verdict: netdiscover's SPL compiler against its Sigma front door.

pySigma's Splunk backend (pysigma-backend-splunk) converts each Sigma rule to a CIM data-model
search with its `splunk_cim` pipeline and `data_model` output format, the settings its source
gives for `tstats` searches: `| tstats ... from datamodel=Endpoint.Processes where ... by
Processes.* | `drop_dm_object_name(Processes)` | convert ...`. Each search is wrapped as an
ESCU-style detection (name = title, id = the Sigma rule's id, type Hunting) in a temporary
directory, never in the repository, as SigmaHQ's rules are DRL-licensed. `netdiscover scan
--all` then reads the samples twice, once with these SPL rules and once with the Sigma rules
themselves, and every (rule, process event) pair on which the two verdicts differ is printed
with the event's fields and the Sigma constructs of the rule that can explain it.

Usage (tools/sigma_two_doors.sh sets up the venv and builds the binary):
    python3 tools/sigma_two_doors.py --netdiscover target/release/netdiscover \
        --rules ../shared/sigma_corpus/rules/windows/process_creation \
        --samples ../shared/sigma_corpus/regression_data ../shared/datasets \
        [--expect-differences N]

Exit status: 0 when the number of differing (rule, event) pairs is at most
--expect-differences (default 0), 1 otherwise, 2 on a setup error.
"""

import collections
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from sigma.backends.splunk import SplunkBackend
from sigma.backends.splunk.splunk import SplunkDeferredORRegularExpression
from sigma.collection import SigmaCollection
from sigma.modifiers import SigmaWindowsDashModifier
from sigma.pipelines.splunk import splunk_cim_data_model
from sigma.pipelines.splunk.splunk import splunk_sysmon_process_creation_cim_mapping
from sigma.types import SpecialChars

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sigma_differential import (  # noqa: E402
    compare,
    parse_arguments,
    rule_matches,
    row_key,
    sample_files,
    scan_rows,
)

# The CIM fields a difference is shown with (the rows are CIM Endpoint.Processes rows).
DISPLAYED = ("process_path", "original_file_name", "process", "parent_process_path", "parent_process")


def detection_items(rule):
    """Every field/value item of a Sigma rule's detection."""
    todo = list(rule.detection.detections.values())
    while todo:
        item = todo.pop()
        if hasattr(item, "detection_items"):
            todo.extend(item.detection_items)
        else:
            yield item


MAPPED_FIELDS = set(splunk_sysmon_process_creation_cim_mapping)


def rule_fields(rule):
    """The field names a Sigma rule's detection reads."""
    return {item.field for item in detection_items(rule) if item.field}


def convert(rule_files):
    """Sigma file -> (rule, SPL search) for the rules pySigma converts; file -> why for the
    others."""
    backend = SplunkBackend(splunk_cim_data_model())
    converted, refused = {}, {}
    for path in rule_files:
        # The backend counts OR-ed `re` fields in class state and resets it only when a
        # conversion finishes; a refused rule must not leave its counts to the next one.
        SplunkDeferredORRegularExpression.reset()
        try:
            collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
        except Exception as e:
            refused[path] = f"{type(e).__name__}: {e}"
            continue
        try:
            queries = backend.convert(collection, "data_model")
        except Exception as e:  # pySigma refuses the rule: reported, not compared
            unmapped = sorted(rule_fields(collection.rules[0]) - MAPPED_FIELDS)
            refused[path] = f"fields {', '.join(unmapped)}" if unmapped else f"{type(e).__name__}: {e}"
            continue
        if len(queries) != 1:
            refused[path] = f"{len(queries)} searches for one rule"
            continue
        converted[path] = (collection.rules[0], queries[0])
    return converted, refused


def escu_detection(rule, search):
    """An ESCU-style detection running pySigma's search under the Sigma rule's id."""
    return {
        "name": rule.title,
        "id": str(rule.id),
        "type": "Hunting",
        "description": "pySigma-backend-splunk (splunk_cim, data_model) conversion of a Sigma rule",
        "search": search,
    }


def write_spl_rules(converted, directory):
    for path, (rule, search) in converted.items():
        text = yaml.safe_dump(escu_detection(rule, search), sort_keys=False, width=1 << 30)
        (Path(directory) / path.name).write_text(text, encoding="utf-8")


def link_sigma_rules(paths, directory):
    for path in paths:
        os.symlink(path.resolve(), Path(directory) / path.name)


def coverage(binary, directory):
    """`netdiscover coverage` of the SPL rules: the compiled count and what stopped the
    others, by construct, as its report prints them."""
    run = subprocess.run([binary, "coverage", directory], capture_output=True, text=True)
    if run.returncode not in (0, 1):
        sys.exit(f"netdiscover coverage failed ({run.returncode}): {run.stderr[-2000:]}")
    compiled = re.search(r"compiled:\s+(\d+)", run.stdout)
    if not compiled:
        sys.exit(f"netdiscover coverage printed no compiled count: {run.stdout[-2000:]}")
    stopped = run.stdout.split("stopping constructs:", 1)[-1].strip()
    return int(compiled.group(1)), stopped


def values(rule):
    return [v for item in detection_items(rule) for v in item.value]


def plain_text(value):
    return "".join(part for part in getattr(value, "s", ()) if isinstance(part, str))


def tstats_where(search):
    return search.split(" where ", 1)[-1].split(" by Processes.", 1)[0]


# What can make the two doors disagree on a rule, each tested on the Sigma rule (parsed by
# pySigma) and on pySigma's search. docs/sigma.md ("Two front doors") settles each one.
SUSPECTS = {
    "`?` written as `*` (Splunk search has no one-character wildcard)": lambda rule, search: any(
        SpecialChars.WILDCARD_SINGLE in getattr(v, "s", ()) for v in values(rule)
    ),
    "literal `*` written as `\\*` (a backslash cannot escape `*` in a Splunk search)": lambda rule, search: any(
        "*" in plain_text(v) for v in values(rule)
    ),
    "OR-ed `re`: its rex field tested in the tstats `where`, before the rex runs": lambda rule, search: re.search(
        r'Condition\d*="true"', tstats_where(search)
    )
    is not None,
    "`re` deferred to a `| regex` stage, AND-ed with the whole condition": lambda rule, search: "| regex " in search,
    "windash (pySigma: `-` and `/` at flag positions only)": lambda rule, search: any(
        SigmaWindowsDashModifier in item.modifiers for item in detection_items(rule)
    ),
    "non-ASCII value (Splunk folds ASCII case only)": lambda rule, search: any(
        ord(c) > 127 for v in values(rule) for c in plain_text(v)
    ),
}


def suspects(rule, search):
    """The constructs of a rule that can explain a difference between the two doors."""
    return [name for name, test in SUSPECTS.items() if test(rule, search)] or ["none known"]


def report_differences(differences, converted_by_id):
    """Each rule with differences, its count per side and its suspects; then the totals per
    suspect."""
    by_rule = collections.Counter((rule_id, who) for rule_id, _, who in differences)
    totals = collections.Counter()
    for (rule_id, who), count in sorted(by_rule.items()):
        path, rule, search = converted_by_id[rule_id]
        found = suspects(rule, search)
        totals.update({f"{name}: {who}": count for name in found})
        print(f"RULE {path.name} ({rule_id}): {count} event(s) {who}; suspects: {'; '.join(found)}")
    for name, count in totals.most_common():
        print(f"SUSPECT {name}: {count} (rule, event) difference(s)")


def main():
    args = parse_arguments(
        __doc__, ["../shared/sigma_corpus/regression_data", "../shared/datasets"], "all process events"
    )
    rule_files = sorted(Path(args.rules).rglob("*.yml"))
    files = sample_files(args.samples)
    if not rule_files or not files:
        sys.exit(2)
    converted, refused = convert(rule_files)
    with tempfile.TemporaryDirectory() as spl_dir, tempfile.TemporaryDirectory() as sigma_dir:
        write_spl_rules(converted, spl_dir)
        link_sigma_rules(converted, sigma_dir)
        compiled, stopped = coverage(args.netdiscover, spl_dir)
        spl_rows, spl_warnings = scan_rows(args.netdiscover, spl_dir, files)
        sigma_rows, sigma_warnings = scan_rows(args.netdiscover, sigma_dir, files)
    events = {row_key(row): row for row in spl_rows}
    if events.keys() != {row_key(row) for row in sigma_rows}:
        sys.exit("the two scans read different process events")
    converted_by_id = {str(rule.id): (path, rule, search) for path, (rule, search) in converted.items()}
    path_of_id = {rule_id: path for rule_id, (path, _, _) in converted_by_id.items()}
    spl = {rule: keys for rule, keys in rule_matches(spl_rows).items() if rule in path_of_id}
    sigma = {rule: keys for rule, keys in rule_matches(sigma_rows).items() if rule in path_of_id}
    sigma.update({rule: set() for rule in path_of_id.keys() - sigma.keys()})
    agreeing_hits, differences = compare(sigma, spl, events, "Sigma door", "SPL door", DISPLAYED)
    report_differences(differences, converted_by_id)
    for path, why in sorted(refused.items()):
        print(f"REFUSED by pySigma (splunk_cim, data_model): {path.name}: {why.splitlines()[0]}")
    reasons = collections.Counter(f for why in refused.values() for f in why.removeprefix("fields ").split(", "))
    print("pySigma refusals by the field outside its 13-field mapping they name:", ", ".join(f"{f} {n}" for f, n in reasons.most_common()))
    if compiled < len(converted):
        print(f"SPL compiler: {compiled} of {len(converted)} converted searches compile; what stopped the others:")
        print(stopped)
    for w in spl_warnings + sigma_warnings:
        print(f"NETDISCOVER: {w}")
    print(
        f"sigma two doors: {len(rule_files)} rules; pySigma converts {len(converted)}, refuses {len(refused)}; "
        f"our SPL compiler compiles {compiled}; compared over {len(events)} process events: "
        f"{agreeing_hits} matches agree; {len(differences)} differences "
        f"({sum(w == 'SPL door only' for _, _, w in differences)} SPL door only, "
        f"{sum(w == 'Sigma door only' for _, _, w in differences)} Sigma door only) "
        f"in {len({r for r, _, _ in differences})} rules"
    )
    return 0 if len(differences) <= args.expect_differences else 1


if __name__ == "__main__":
    sys.exit(main())
