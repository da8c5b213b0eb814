#!/usr/bin/env bash
# FHIRPath throughput of clins-hub versus fhirpath.js (issue #3), measured side by side in one
# run: the Rust benchmark selects the official R4 suite tests that clins-hub passes, writes them
# to a JSON file and measures them; fhirpath.js (installed from npm here) evaluates the same
# expressions against the same inputs. Prints both numbers and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${CLINS_SHARED:-$(pwd)/../shared}"
SECS="${CLINS_BENCH_SECS:-5}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

( cd "$WORK" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund fhirpath@4 >/dev/null )
cp bench/fhirpath-js/bench.js "$WORK/"

# 1. clins-hub selects the suite tests it passes; 2. fhirpath.js keeps those it can run;
# 3. both engines are measured on that common set.
CLINS_SHARED="$SHARED" CLINS_BENCH_SECS=0 CLINS_FHIRPATH_SELECTION="$WORK/selection.json" \
  cargo bench -q -p clins-hub --bench fhirpath >/dev/null
(cd "$WORK" && node bench.js selection.json "$SHARED/conformance/fhirpath/input" 0 common.json) >/dev/null 2>&1
# Alternate the engines three times and keep each one's best run: on a shared machine the
# best run is the least disturbed, and alternating exposes both to the same conditions.
rust=0; js=0
for round in 1 2 3; do
  r=$(CLINS_SHARED="$SHARED" CLINS_BENCH_SECS="$SECS" CLINS_FHIRPATH_ONLY="$WORK/common.json" \
    cargo bench -q -p clins-hub --bench fhirpath | grep -o 'evaluations_per_second=[0-9.]*' | cut -d= -f2)
  j=$(cd "$WORK" && node bench.js common.json "$SHARED/conformance/fhirpath/input" "$SECS" 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["evaluations_per_second"])')
  echo "round $round: clins-hub $r/s, fhirpath.js $j/s"
  rust=$(python3 -c "print(max($rust, $r))"); js=$(python3 -c "print(max($js, $j))")
done
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$WORK/common.json")
ver=$(cd "$WORK" && node -e 'console.log(require("fhirpath/package.json").version)')
python3 - "$rust" "$js" "$n" "$ver" <<'PY'
import sys
rust, js, n, ver = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
print(f"{n} expressions of the FHIRPath R4 suite, best of 3 alternating runs")
print(f"clins-hub: {rust:,.0f} evaluations/s   fhirpath.js {ver}: {js:,.0f} evaluations/s   ratio: {rust/js:.1f}x")
PY
