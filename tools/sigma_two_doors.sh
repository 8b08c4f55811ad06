#!/usr/bin/env bash
# Two front doors, one verdict (see tools/sigma_two_doors.py): every SigmaHQ Windows
# process_creation rule is converted to a `tstats` data-model search by pySigma's Splunk backend
# and run through netdiscover's SPL compiler, and its verdicts are compared with the Sigma rule's
# own, event by event, over the regression samples and the shared datasets. Installs pySigma into
# target/sigma-venv on first use and builds the release binary. Extra arguments go to the script.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/sigma_venv.sh
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  # The 59 differences of the shared data are pySigma's conversions (docs/sigma.md).
  args=(--expect-differences 59)
fi
exec "$venv/bin/python" tools/sigma_two_doors.py --netdiscover target/release/netdiscover "${args[@]}"
