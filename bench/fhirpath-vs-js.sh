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
CLINS_SHARED="$SHARED" CLINS_BENCH_SECS="$SECS" CLINS_FHIRPATH_ONLY="$WORK/common.json" \
  cargo bench -q -p clins-hub --bench fhirpath | tee "$WORK/rust.txt"
rust=$(grep -o 'evaluations_per_second=[0-9.]*' "$WORK/rust.txt" | cut -d= -f2)
js_json=$(cd "$WORK" && node bench.js common.json "$SHARED/conformance/fhirpath/input" "$SECS" 2>/dev/null)
echo "$js_json"
js=$(echo "$js_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["evaluations_per_second"])')
python3 - "$rust" "$js" <<'PY'
import sys
rust, js = float(sys.argv[1]), float(sys.argv[2])
print(f"clins-hub: {rust:,.0f} evaluations/s   fhirpath.js: {js:,.0f} evaluations/s   ratio: {rust/js:.1f}x")
PY
