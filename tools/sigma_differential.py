#!/usr/bin/env python3
"""Differential check of netdiscover's Sigma engine against an independent evaluator.

pySigma (with pysigma-backend-sqlite) converts every Sigma rule to an SQL query; the events of
the samples (evtx_dump JSON, one column per EventData field, plus Provider_Name) are loaded
into an SQLite table and each query is run. netdiscover scans the same JSON files with the
same rules (`netdiscover scan --all --output ndjson`). For every rule, the sets of matched
events are compared; every difference is printed with the event's fields the rule reads.

Usage (tools/sigma_differential.sh sets up the venv and builds the binary):
    python3 tools/sigma_differential.py --netdiscover target/debug/netdiscover \
        --rules ../shared/sigma_corpus/rules/windows/process_creation \
        --samples ../shared/sigma_corpus/regression_data [--expect-differences N]

Exit status: 0 when the number of differing (rule, event) pairs is at most
--expect-differences (default 0), 1 otherwise, 2 on a setup error.
"""

import argparse
import gzip
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection


SAMPLE_SUFFIXES = (".json", ".xml", ".xml.gz")


def sample_files(places):
    """The JSON and XmlWinEventLog files below each place (EVTX files have XML renderings)."""
    return sorted(
        str(p) for place in places for p in Path(place).rglob("*") if p.name.endswith(SAMPLE_SUFFIXES)
    )


def is_sysmon_process_creation(provider, event_id):
    return "Sysmon" in provider and str(event_id) == "1"


def json_events(path):
    """evtx_dump JSON (pretty objects, EventData name -> value) or publisher NDJSON
    (EventData.Data as [{"@Name", "#text"}])."""
    text = Path(path).read_text(encoding="utf-8-sig")
    decoder, at = json.JSONDecoder(), 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return
        obj, at = decoder.raw_decode(text, at)
        event = obj["Event"]
        system = event["System"]
        provider = system["Provider"]
        provider = provider.get("#attributes", {}).get("Name") or provider.get("@Name", "")
        event_id = system["EventID"]
        event_id = event_id.get("#text") if isinstance(event_id, dict) else event_id
        data = event.get("EventData") or {}
        if isinstance(data.get("Data"), list):
            fields = {d.get("@Name", ""): d.get("#text", "") for d in data["Data"]}
        else:
            fields = {k: v for k, v in data.items() if k not in ("Data", "#attributes")}
        fields = {k: "" if v is None else str(v) for k, v in fields.items()}
        yield provider, event_id, str(system["EventRecordID"]), fields


def xml_events(path):
    """XmlWinEventLog: <Event> elements, split on </Event>."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig") as f:
        text = f.read()
    ns = "{http://schemas.microsoft.com/win/2004/08/events/event}"
    for chunk in text.split("</Event>")[:-1]:
        start = chunk.find("<Event")
        root = ET.fromstring(chunk[start:] + "</Event>")
        system = root.find(f"{ns}System")
        provider = system.find(f"{ns}Provider").get("Name", "")
        event_id = system.findtext(f"{ns}EventID")
        record_id = system.findtext(f"{ns}EventRecordID")
        data = root.find(f"{ns}EventData")
        fields = {}
        if data is not None:
            for d in data.findall(f"{ns}Data"):
                fields[d.get("Name", "")] = d.text or ""
        yield provider, event_id, record_id, fields


def guid(text):
    return text.strip().strip("{}").upper()


def load_events(files):
    """Every Sysmon process-creation event of the files, keyed by (file, record id, process
    GUID): record ids repeat inside files merged from several logs, process GUIDs do not."""
    events = {}
    for path in files:
        reader = json_events if path.endswith(".json") else xml_events
        for provider, event_id, record_id, fields in reader(path):
            if not is_sysmon_process_creation(provider, event_id):
                continue
            fields["Provider_Name"] = provider
            key = (path, record_id, guid(fields.get("ProcessGuid", "")))
            if key in events:
                sys.exit(f"two events with the key {key}")
            events[key] = fields
    return events


def sqlite_matches(rule_files, events):
    """Rule id -> set of event keys pySigma's SQLite query selects; and refusals."""
    db = sqlite3.connect(":memory:")
    db.create_function(
        "regexp", 2, lambda pattern, value: value is not None and re.search(pattern, value) is not None
    )
    columns = sorted({c for e in events.values() for c in e})
    # COLLATE NOCASE: the specification compares values case-insensitively; with SQLite's
    # default BINARY collation pySigma's plain equality (`OriginalFileName='certutil.exe'`)
    # would be case-sensitive while its LIKE is not (a difference this check found).
    quoted = ", ".join(f'"{c}" COLLATE NOCASE' for c in ["_file", "_rid"] + columns)
    db.execute(f"CREATE TABLE logs ({quoted})")
    for key, fields in events.items():
        values = [json.dumps(key), ""] + [fields.get(c) for c in columns]
        db.execute(f"INSERT INTO logs VALUES ({', '.join('?' * len(values))})", values)
    backend = sqliteBackend()
    matches, refused = {}, {}
    for path in rule_files:
        try:
            collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
            rule = collection.rules[0]
            queries = backend.convert(collection)
        except Exception as e:  # pySigma refuses the rule: reported, not compared
            refused[str(path)] = f"{type(e).__name__}: {e}"
            continue
        hits = set()
        for query in queries:
            query = re.sub(r"^SELECT \* FROM logs", "SELECT _file FROM logs", query)
            try:
                hits |= {tuple(json.loads(r[0])) for r in db.execute(query)}
            except sqlite3.Error as e:
                refused[str(path)] = f"sqlite: {e}"
                break
        else:
            matches[str(rule.id)] = hits
    return matches, refused


def scan_rows(binary, rules_dir, files):
    """Every process row `netdiscover scan --all` gives for the files with the rules of
    `rules_dir` (and the stderr lines about skipped rules)."""
    env = {k: v for k, v in os.environ.items() if k != "NETDISCOVER_RULES_DIR"}
    run = subprocess.run(
        [binary, "scan", "--rules", rules_dir, "--all", "--output", "ndjson", "--no-progress"] + files,
        capture_output=True,
        text=True,
        env=env,
    )
    if run.returncode not in (0, 1):
        sys.exit(f"netdiscover scan failed ({run.returncode}): {run.stderr[-2000:]}")
    warnings = [l for l in run.stderr.splitlines() if "warning: skipped" in l]
    return [json.loads(line) for line in run.stdout.splitlines()], warnings


def row_key(row):
    """A scan row's event key, the same as load_events gives its event."""
    return (row["source"], row["record_id"], guid(row.get("process_guid") or ""))


def rule_matches(rows):
    """Rule id -> set of the keys of the rows it matched."""
    matches = {}
    for row in rows:
        for rule_id in row.get("detection_id") or []:
            matches.setdefault(rule_id, set()).add(row_key(row))
    return matches


def netdiscover_matches(binary, rule_files, files):
    """Rule id -> set of event keys netdiscover scan matches."""
    with tempfile.TemporaryDirectory() as rules_dir:
        for path in rule_files:
            os.symlink(path.resolve(), Path(rules_dir) / path.name)
        rows, warnings = scan_rows(binary, rules_dir, files)
    return rule_matches(rows), warnings


DISPLAYED_FIELDS = ("Image", "OriginalFileName", "CommandLine", "ParentImage", "ParentCommandLine")


def compare(reference, ours, events, reference_name, ours_name="netdiscover", displayed=DISPLAYED_FIELDS):
    """Prints every (rule, event) on which `reference` (rule id -> keys) and `ours` disagree,
    with the event's `displayed` fields (`events`: key -> fields); returns the number of
    matches both give and the differences as (rule id, key, who matched it) triples."""
    agreeing_hits, differences = 0, []
    for rule_id, theirs in sorted(reference.items()):
        mine = ours.get(rule_id, set())
        agreeing_hits += len(mine & theirs)
        for key, who in [(k, f"{reference_name} only") for k in sorted(theirs - mine)] + [
            (k, f"{ours_name} only") for k in sorted(mine - theirs)
        ]:
            differences.append((rule_id, key, who))
            fields = events.get(key, {})
            print(f"DIFFERENCE rule {rule_id}: {who}: {Path(key[0]).name} record {key[1]} process {key[2]}")
            for name in displayed:
                if fields.get(name):
                    print(f"    {name}: {fields[name]!r}")
    return agreeing_hits, differences


def parse_arguments(doc, samples, compared):
    """The options both checks take: the binary, the rules, the samples (`samples` by
    default; `compared` says which of their events are compared) and the differences allowed."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--netdiscover", default="target/debug/netdiscover")
    parser.add_argument("--rules", default="../shared/sigma_corpus/rules/windows/process_creation")
    parser.add_argument(
        "--samples",
        nargs="+",
        default=samples,
        help=f"directories of JSON / XML / XML.gz samples ({compared} are compared)",
    )
    parser.add_argument("--expect-differences", type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_arguments(__doc__, ["../shared/sigma_corpus/regression_data"], "Sysmon EventID 1 events")
    rule_files = sorted(Path(args.rules).rglob("*.yml"))
    files = sample_files(args.samples)
    if not rule_files or not files:
        sys.exit(2)
    events = load_events(files)
    reference, refused = sqlite_matches(rule_files, events)
    ours, warnings = netdiscover_matches(args.netdiscover, rule_files, files)
    ours = {rule: keys & events.keys() for rule, keys in ours.items()}
    agreeing_hits, differences = compare(reference, ours, events, "pySigma/SQLite")
    for path, why in sorted(refused.items()):
        print(f"REFUSED by pySigma/SQLite: {Path(path).name}: {why}")
    for w in warnings:
        print(f"NETDISCOVER: {w}")
    print(
        f"sigma differential: {len(reference)} rules compared over {len(events)} events; "
        f"{agreeing_hits} matches agree; {len(differences)} differences; "
        f"{len(refused)} rules refused by pySigma/SQLite"
    )
    return 0 if len(differences) <= args.expect_differences else 1


if __name__ == "__main__":
    sys.exit(main())
