#!/usr/bin/env bash
# Fuzz-target driver (needs the nightly toolchain and cargo-fuzz).
#
#   fuzz/run.sh                      CI: replay every target's corpus, then fuzz each for 20 s
#   fuzz/run.sh replay [TARGET...]   run every corpus input once (seeds + what earlier runs found)
#   fuzz/run.sh fuzz SECS [TARGET...] fuzz each target for SECS seconds, one after another
#   fuzz/run.sh seeds                only (re)build the corpora
#
# Corpora live in fuzz/corpus/<target>/ (gitignored). They are rebuilt at every run from
# fuzz/seeds/<target>/ (small inputs we wrote or minimized, committed) and, when ../shared is
# beside the repository, from its test fixtures — read in place, never copied into git.
# A crash, a timeout (>10 s on one input) or an allocation over 1 GiB fails the run; the
# input is left in fuzz/artifacts/<target>/ to replay with `fuzz/run.sh replay` or
# `cargo +nightly fuzz run --fuzz-dir fuzz <target> <file>`.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_DIR=fuzz
SHARED=../shared
CI_SECONDS=${NETDISCOVER_FUZZ_SECONDS:-20}

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz)" >&2
  exit 1
fi

all_targets() { cargo +nightly fuzz list --fuzz-dir "$FUZZ_DIR"; }

# Per-target libFuzzer limits: inputs no longer than a real record needs (an EVTX header plus
# one 64 KiB chunk), so the time goes into variety rather than into huge inputs.
max_len() {
  case "$1" in
    ingest_evtx) echo 69632 ;;
    ingest_xml | scp_session) echo 65536 ;;
    spl_search | modinput_config) echo 8192 ;;
    *) echo 16384 ;;
  esac
}

# Prints the `search:` value of every ESCU detection YAML given (single-quoted or block
# scalar; approximate unquoting is fine for seeds), one search per output file in $1.
extract_searches() {
  local dest=$1; shift
  awk -v dest="$dest" '
    FNR == 1 { if (cap) flush(); cap = 0 }
    function flush() { n++; f = sprintf("%s-%04d.spl", dest, n); gsub(/^ *[|>]-? *\n?/, "", buf); gsub(/^\x27|\x27$/, "", buf); gsub(/\x27\x27/, "\x27", buf); printf "%s", buf > f; close(f); buf = "" }
    cap && /^[A-Za-z_]+:/ { flush(); cap = 0 }
    cap { sub(/^  /, ""); buf = buf "\n" $0; next }
    /^search:/ { cap = 1; buf = substr($0, 9) }
    END { if (cap) flush() }' "$@"
}

# Splits a file of <Event>...</Event> records into one seed per event (the first $3).
split_events() {
  local src=$1 dest=$2 max=$3
  awk -v dest="$dest" -v max="$max" 'BEGIN { RS = "</Event>"; n = 0 }
    n < max && /<Event/ { n++; f = sprintf("%s-%03d.xml", dest, n); printf "%s</Event>", $0 > f; close(f) }' "$src"
}

build_seeds() {
  local target=$1 corpus=$FUZZ_DIR/corpus/$1
  mkdir -p "$corpus"
  if [ -d "$FUZZ_DIR/seeds/$target" ]; then
    cp -f "$FUZZ_DIR/seeds/$target"/* "$corpus"/ 2>/dev/null || true
  fi
  # Seeds from our own repository: the shipped detections' searches and macros.conf.
  case "$target" in
    spl_search) extract_searches "$corpus/app" app/detections/*/*.yml ;;
    spl_macros)
      extract_searches "$corpus/.app" app/detections/*/*.yml
      local i=0 s
      for s in "$corpus"/.app-*.spl; do
        i=$((i + 1))
        { cat default/macros.conf; printf '\0'; cat "$s"; } > "$corpus/app-macros-$i.conf"
        rm -f "$s"
      done
      ;;
  esac
  if [ ! -d "$SHARED/datasets" ]; then
    echo "fuzz/run.sh: $SHARED/datasets absent; $target uses its committed seeds only" >&2
    return
  fi
  case "$target" in
    ingest_xml)
      for f in "$SHARED"/datasets/xml/*.xml; do
        local b; b=$(basename "$f" .xml)
        head -c 65536 "$f" > "$corpus/shared-$b-head.xml"
        split_events "$f" "$corpus/shared-$b" 5
        # The same events as UTF-16 with a byte-order mark, as Windows writes them.
        head -c 16384 "$f" | iconv -f UTF-8 -t UTF-16 > "$corpus/shared-$b-utf16.xml" 2>/dev/null || true
      done
      for f in "$SHARED"/datasets/bulk/*.xml.gz; do
        local b; b=$(basename "$f" .xml.gz)
        { gzip -dc "$f" 2>/dev/null || true; } | head -c 32768 > "$corpus/shared-$b.xml"
      done
      ;;
    ingest_crowdstrike)
      # No CrowdStrike export in ../shared; the publisher JSON lines give the JSON shapes.
      for f in "$SHARED"/datasets/json/*.json; do
        head -n 3 "$f" > "$corpus/shared-$(basename "$f")"
      done
      ;;
    scp_session)
      # Recorded Splunk sessions (whole getinfo + execute streams).
      for f in "$SHARED"/fixtures/scpv2/*.input "$SHARED"/fixtures/scpv2/multibyte_input; do
        [ -f "$f" ] && head -c 65536 "$f" > "$corpus/shared-$(basename "$f")"
      done
      { gzip -dc "$SHARED/fixtures/scpv2/sum.map.input.gz" 2>/dev/null || true; } | head -c 65536 > "$corpus/shared-sum.map.input"
      ;;
    spl_search)
      extract_searches "$corpus/shared-escu" "$SHARED"/escu/corpus/detections/*.yml
      ;;
    spl_macros)
      # The shipped macros.conf, then each ESCU endpoint search that calls its macros.
      local i=0 s
      extract_searches "$corpus/.search" "$SHARED"/escu/detections/endpoint/*.yml
      for s in "$corpus"/.search-*.spl; do
        [ -f "$s" ] || continue
        i=$((i + 1))
        { cat default/macros.conf; printf '\0'; cat "$s"; } > "$corpus/shared-macros-$i.conf"
        rm -f "$s"
      done
      ;;
    ingest_evtx)
      for f in "$SHARED"/datasets/evtx/*.evtx; do
        # Header plus the first chunk: whole small logs, truncated copies of the big ones.
        head -c 69632 "$f" > "$corpus/shared-$(basename "$f")"
      done
      ;;
  esac
}

build() {
  nice -n 19 cargo +nightly fuzz build --fuzz-dir "$FUZZ_DIR" "$@" >&2
}

libfuzzer_flags() {
  echo "-max_len=$(max_len "$1") -timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=1024 -print_final_stats=1"
}

replay() {
  local target=$1
  echo "== replay $target ($(ls "$FUZZ_DIR/corpus/$target" | wc -l) inputs)"
  # -runs=0: execute every corpus input once, mutate nothing.
  # shellcheck disable=SC2046
  nice -n 19 cargo +nightly fuzz run --fuzz-dir "$FUZZ_DIR" "$target" "$FUZZ_DIR/corpus/$target" -- \
    $(libfuzzer_flags "$target") -runs=0
}

fuzz() {
  local target=$1 seconds=$2
  echo "== fuzz $target for ${seconds}s"
  # shellcheck disable=SC2046
  nice -n 19 cargo +nightly fuzz run --fuzz-dir "$FUZZ_DIR" "$target" "$FUZZ_DIR/corpus/$target" -- \
    $(libfuzzer_flags "$target") -max_total_time="$seconds"
}

mode=${1:-ci}
[ $# -gt 0 ] && shift
case "$mode" in
  ci)
    build
    for t in $(all_targets); do build_seeds "$t"; replay "$t"; fuzz "$t" "$CI_SECONDS"; done
    ;;
  replay)
    build
    targets=("$@"); [ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(all_targets)
    for t in "${targets[@]}"; do build_seeds "$t"; replay "$t"; done
    ;;
  fuzz)
    seconds=${1:?usage: fuzz/run.sh fuzz SECONDS [TARGET...]}; shift
    build
    targets=("$@"); [ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(all_targets)
    for t in "${targets[@]}"; do build_seeds "$t"; fuzz "$t" "$seconds"; done
    ;;
  seeds)
    for t in $(all_targets); do build_seeds "$t"; done
    ;;
  *)
    sed -n '2,14p' "$0" >&2
    exit 2
    ;;
esac
echo "fuzz/run.sh: $mode passed"
