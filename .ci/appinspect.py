#!/usr/bin/env python3
"""Runs Splunk AppInspect on a package and holds it to an exact expectation.

usage: appinspect.py PACKAGE --name NAME [--tags TAG] [--libmagic system|pie-as-sharedlib]
                     [--allow RESULT:CHECK:FILE ...] [--arm FILE ...] [--swap A=B] [--drop A]

Every check result other than success / not applicable must be listed with --allow (a warning
we accept, or a failure this run exists to show); every listed one must occur. Anything else,
or a missing expected result, fails the run (exit 1).

--libmagic pie-as-sharedlib: AppInspect 4.3.1 treats a file as a binary only when libmagic's
MIME type is application/x-executable or application/x-sharedlib. libmagic 5.44 (here) says
application/x-pie-executable for position-independent executables, so AppInspect would skip
them; older libmagic releases said application/x-sharedlib. This mode answers as they did, so
the binary checks really look at our (PIE) binaries whatever libmagic the vetting runs.

--arm FILE: the binary checks must have classified FILE (relative to the app folder) as an ARM
binary, i.e. AppInspect looked at it and found it ARM.

--swap A=B: inspect a copy of the package whose member A holds member B's bytes (a control:
the x86_64 build where the aarch64 one belongs must fail the Cloud check).
--drop A: inspect a copy of the package without member A (a control: without
default/distsearch.conf, the x86_64 build in linux_x86_64/bin/ must fail the Cloud check).
"""
import argparse
import io
import json
import os
import sys
import tarfile
import tempfile


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("package")
    p.add_argument("--name", required=True, help="label for the printed summary")
    p.add_argument("--tags", action="append", default=[])
    p.add_argument("--libmagic", choices=["system", "pie-as-sharedlib"], default="system")
    p.add_argument("--allow", action="append", default=[])
    p.add_argument("--arm", action="append", default=[])
    p.add_argument("--swap")
    p.add_argument("--drop")
    p.add_argument("--report", default="target/appinspect-report.json")
    return p.parse_args()


def altered_copy(package, swap, drop, workdir):
    """A copy of `package` (same file name) whose member `swap`'s A holds member B's bytes and
    without member `drop`; paths are relative to the app folder."""
    a, b = swap.split("=", 1) if swap else (None, None)
    with tarfile.open(package) as src:
        members = src.getmembers()
        top = members[0].name.split("/")[0]
        data = src.extractfile(f"{top}/{b}").read() if b else None
        out_path = os.path.join(workdir, os.path.basename(package))
        with tarfile.open(out_path, "w:gz", format=tarfile.USTAR_FORMAT) as out:
            for m in members:
                if drop and m.name == f"{top}/{drop}":
                    continue
                payload = src.extractfile(m).read() if m.isfile() else None
                if a and m.name == f"{top}/{a}":
                    payload = data
                    m.size = len(data)
                out.addfile(m, io.BytesIO(payload) if payload is not None else None)
    return out_path


def patch_libmagic(mode, log_path):
    """Wraps python-magic's from_file: records each MIME answer (and, for binaries, the
    description) in `log_path`, and in pie-as-sharedlib mode answers as older libmagic did."""
    import magic

    original = magic.from_file

    def from_file(path, mime=False):
        answer = original(path, mime=mime)
        if mime and mode == "pie-as-sharedlib" and answer == "application/x-pie-executable":
            answer = "application/x-sharedlib"
        if mime or "ELF" in answer:
            with open(log_path, "a") as log:
                log.write(json.dumps({"path": str(path), "mime": mime, "answer": answer}) + "\n")
        return answer

    magic.from_file = from_file


def run_appinspect(package, tags, report):
    from splunk_appinspect.main import execute

    argv = ["splunk-appinspect", "inspect", package, "--mode", "precert",
            "--skip-trusted-libraries-update", "--data-format", "json",
            "--output-file", report, "--max-messages", "all"]
    for tag in tags:
        argv += ["--included-tags", tag]
    sys.argv = argv
    sink = io.StringIO()
    stdout = sys.stdout
    sys.stdout = sink
    try:
        execute()
    except SystemExit:
        pass
    finally:
        sys.stdout = stdout


def results(report):
    found = set()
    for group in report["reports"][0]["groups"]:
        for check in group["checks"]:
            if check["result"] in ("success", "not_applicable"):
                continue
            for message in check.get("messages") or [{}]:
                where = message.get("message_filename") or ""
                found.add((check["result"], check["name"], where, message.get("message", "")))
    return found


def arm_classified(log_path, top):
    """Files (relative to the app folder) that AppInspect's binary test saw as ARM binaries."""
    mimes, descriptions = {}, {}
    for line in open(log_path):
        entry = json.loads(line)
        rel = entry["path"].split(f"/{top}/", 1)[-1]
        (mimes if entry["mime"] else descriptions)[rel] = entry["answer"]
    binary = {"application/x-executable", "application/x-sharedlib"}
    return {f for f, m in mimes.items() if m in binary and "arm" in descriptions.get(f, "").lower()}


def main():
    args = parse_args()
    work = tempfile.mkdtemp(prefix="appinspect-")
    altered = args.swap or args.drop
    package = altered_copy(args.package, args.swap, args.drop, work) if altered else args.package
    log_path = os.path.join(work, "libmagic.jsonl")
    open(log_path, "w").close()
    patch_libmagic(args.libmagic, log_path)
    os.makedirs(os.path.dirname(args.report) or ".", exist_ok=True)
    run_appinspect(package, args.tags, args.report)
    report = json.load(open(args.report))
    print(f"AppInspect [{args.name}]: {report['summary']}")
    found = results(report)
    allowed = {tuple(a.split(":", 2)) for a in args.allow}
    bad = [f for f in sorted(found) if f[:3] not in allowed]
    missing = sorted(allowed - {f[:3] for f in found})
    for result, check, where, message in sorted(found):
        print(f"  {result}: {check} [{where}]: {message[:160]}")
    top = tarfile.open(package).getmembers()[0].name.split("/")[0]
    arm = arm_classified(log_path, top)
    not_arm = [f for f in args.arm if f not in arm]
    print(f"  classified as ARM binaries (libmagic {args.libmagic}): {sorted(arm) or 'none'}")
    for line in [f"unexpected: {b[:3]}" for b in bad] + [f"expected, absent: {m}" for m in missing] \
            + [f"not classified as an ARM binary: {f}" for f in not_arm]:
        print(f"AppInspect [{args.name}]: {line}", file=sys.stderr)
    if bad or missing or not_arm:
        sys.exit(1)
    print(f"AppInspect [{args.name}]: as expected ({len(allowed)} listed results)")


if __name__ == "__main__":
    main()
