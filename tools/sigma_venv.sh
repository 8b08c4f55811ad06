# Sourced by tools/sigma_differential.sh and tools/sigma_two_doors.sh (from the repository's
# root): installs pySigma and its SQLite and Splunk backends into target/sigma-venv on first
# use, prints their versions and builds the release binary. Sets $venv.
venv=target/sigma-venv
if ! "$venv/bin/python" -c 'import sigma.backends.sqlite, sigma.backends.splunk' >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet pysigma pysigma-backend-sqlite pysigma-backend-splunk
fi
"$venv/bin/pip" show pysigma pysigma-backend-sqlite pysigma-backend-splunk 2>/dev/null |
  awk '/^(Name|Version)/{printf "%s ", $2} END {print ""}'
cargo build --release --bin netdiscover
