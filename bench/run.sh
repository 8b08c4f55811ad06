#!/usr/bin/env bash
# The benchmark of issue 8 in one command: 1,000,000 rows through netdiscover, the copy limit,
# the csv-crate baseline and the splunklib peer; peak RSS for 100,000 vs 2,000,000 rows; start ->
# getinfo latency (median of 100). Prints every figure with its target and PASS/FAIL.
#
#   bench/run.sh                 # the full run documented in BENCHMARKS.md
#   bench/run.sh --rows 200000   # quicker; other knobs: --peer-rows --repeats --startup-runs
#
# The peer needs splunk-sdk from PyPI; it is installed into target/bench-venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/bench-venv
if ! "$venv/bin/python" -c 'import splunklib.searchcommands' >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet splunk-sdk
fi
echo "nproc: $(nproc); $(grep MemTotal /proc/meminfo); $("$venv/bin/python" --version); splunk-sdk $("$venv/bin/pip" show splunk-sdk 2>/dev/null | awk '/^Version/{print $2}')"
NETDISCOVER_BENCH_PYTHON="$venv/bin/python" exec cargo bench --bench scp -- "$@"
