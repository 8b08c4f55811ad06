#!/usr/bin/env bash
# `netdiscover scan` throughput over ../shared/datasets/bulk (13 gzip XmlWinEventLog files,
# 64,767 Sysmon records, 31,448 process creations) with three rule sets, in one run:
#   2 rules       the app's shipped ESCU rules
#   ESCU corpus   + the 443 ESCU Endpoint.Processes detections of ../shared/escu/corpus
#   Sigma         + SigmaHQ's 1,183 rules/windows/process_creation rules (../shared/sigma_corpus)
# Each set is timed best of N runs (default 3); events/s = records read / wall seconds, the
# unit Chainsaw reports (its 2,390 events/s over 65,019 Sysmon EVTX records with the 1,102
# SigmaHQ process_creation rules it loads, 2 threads, is the reference the issue gives).
#
#   bench/sigma_scan.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shared=../shared
bulk=$shared/datasets/bulk
[ -d "$bulk" ] || { echo "SKIPPED: $bulk is absent"; exit 0; }
cargo build --release --bin netdiscover >/dev/null
bin=target/release/netdiscover
records=64767
chainsaw=2390

best() { # best wall time in seconds of `scan` with the given extra arguments
  local best_s=""
  for _ in $(seq "$runs"); do
    local start end s
    start=$(date +%s.%N)
    "$bin" scan --no-progress "$@" "$bulk" >/dev/null 2>/tmp/sigma_scan_bench.err || [ $? -eq 1 ]
    end=$(date +%s.%N)
    s=$(echo "$end - $start" | bc -l)
    if [ -z "$best_s" ] || (( $(echo "$s < $best_s" | bc -l) )); then best_s=$s; fi
  done
  echo "$best_s"
}

report() { # name seconds
  local eps
  eps=$(echo "$records / $2" | bc -l)
  printf '%-34s %8.3f s  %9.0f events/s  %6.1fx Chainsaw\n' "$1" "$2" "$eps" "$(echo "$eps / $chainsaw" | bc -l)"
}

unset NETDISCOVER_RULES_DIR
echo "nproc: $(nproc); $(grep MemTotal /proc/meminfo); load: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)"
report "2 shipped rules" "$(best)"
report "+ 443 ESCU corpus files" "$(best --rules $shared/escu/corpus/detections --rules $shared/escu/corpus/macros)"
report "+ 1,183 Sigma process_creation" "$(best --rules $shared/sigma_corpus/rules/windows/process_creation)"
grep -E "^(events|rows matched)" /tmp/sigma_scan_bench.err
