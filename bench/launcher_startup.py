#!/usr/bin/env python3
"""Start -> getinfo reply latency through the Splunk Enterprise package's launcher
(bin/netdiscover, a POSIX sh script that execs bin/netdiscover-<cpu>) against the build it runs,
started directly; interleaved runs, same machine, same moment.

usage: bench/launcher_startup.py PACKAGE.tgz [RUNS]    (default 200 runs of each)

Prints the median and 10th percentile of each and the launcher's added median cost.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

GETINFO_META = json.dumps({
    "action": "getinfo",
    "preview": False,
    "streaming_command_will_restart": False,
    "searchinfo": {"args": [], "raw_args": [], "command": "netdiscover", "dispatch_dir": "/tmp",
                   "sid": "bench", "splunk_version": "9.3.4", "app": "netdiscover",
                   "owner": "admin", "username": "admin", "session_key": "x",
                   "splunkd_uri": "https://127.0.0.1:8089"},
}).encode()
REQUEST = b"chunked 1.0,%d,0\n" % len(GETINFO_META) + GETINFO_META


def start_to_getinfo(exe):
    """Seconds from process start to the end of its getinfo reply."""
    start = time.perf_counter()
    child = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    child.stdin.write(REQUEST)
    child.stdin.flush()
    header = child.stdout.readline()
    meta_len, body_len = (int(n) for n in header.split(b",")[1:3])
    reply = child.stdout.read(meta_len + body_len)
    elapsed = time.perf_counter() - start
    if not header.startswith(b"chunked 1.0,") or b'"type"' not in reply:
        sys.exit(f"{exe}: unexpected getinfo reply {header!r} {reply!r}")
    child.stdin.close()
    child.wait()
    return elapsed


def main():
    package = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    cpu = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64",
           "arm64": "aarch64"}[platform.machine()]
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(package) as tgz:
            tgz.extractall(tmp)
        launcher = os.path.join(tmp, "netdiscover", "bin", "netdiscover")
        direct = f"{launcher}-{cpu}"
        times = {launcher: [], direct: []}
        for _ in range(runs):
            for exe in times:
                times[exe].append(start_to_getinfo(exe))
    medians = {}
    for exe, samples in times.items():
        samples.sort()
        medians[exe] = statistics.median(samples)
        print(f"{os.path.relpath(exe, tmp):34} median {medians[exe] * 1e3:6.2f} ms   "
              f"p10 {samples[len(samples) // 10] * 1e3:6.2f} ms   ({runs} runs)")
    added = medians[launcher] - medians[direct]
    print(f"launcher adds {added * 1e3:.2f} ms to the median start -> getinfo "
          f"({medians[launcher] / medians[direct]:.2f}x the direct start)")


if __name__ == "__main__":
    main()
