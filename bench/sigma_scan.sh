#!/usr/bin/env bash
# `netdiscover scan` throughput over ../shared/datasets/bulk (13 gzip XmlWinEventLog files,
# 64,767 Sysmon records, 31,448 process creations) with three rule sets, in one run:
#   2 shipped               the app's shipped ESCU rules
#   + ESCU corpus           + the 443 ESCU Endpoint.Processes detections of ../shared/escu/corpus
#   + Sigma proc_creation   + SigmaHQ's 1,183 rules/windows/process_creation rules (../shared/sigma_corpus)
# each on one thread and on every core, best of RUNS (default 3) wall times. Events/s = records
# read / wall seconds, the unit Chainsaw reports (its 2,390 events/s over 65,019 Sysmon EVTX
# records with the 1,102 SigmaHQ process_creation rules it loads, 2 threads, is the reference
# issue 16 gives). This is `cargo bench --bench scan` (benches/scan.rs) on the bulk input alone.
#
#   bench/sigma_scan.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d ../shared/datasets/bulk ] || { echo "SKIPPED: ../shared/datasets/bulk is absent"; exit 0; }
echo "nproc: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)"
SCAN_BENCH_ROUNDS=${1:-3} SCAN_BENCH_INPUTS=bulk exec cargo bench --bench scan
