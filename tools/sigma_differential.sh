#!/usr/bin/env bash
# The differential check of the Sigma engine against pySigma's SQLite backend (see
# tools/sigma_differential.py): installs pySigma into target/sigma-venv on first use, builds the
# release binary and compares every SigmaHQ Windows process_creation rule over the regression
# samples and the shared datasets. Extra arguments go to the script (e.g. --samples DIR...).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/sigma_venv.sh
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(--samples ../shared/sigma_corpus/regression_data ../shared/datasets)
fi
exec "$venv/bin/python" tools/sigma_differential.py --netdiscover target/release/netdiscover "${args[@]}"
