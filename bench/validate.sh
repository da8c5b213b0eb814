#!/usr/bin/env bash
# Validator benchmarks of issue #2: throughput on one core, package loading, peak memory, and
# (when valgrind is installed) instruction counts, which unlike wall time do not depend on
# what else the machine is doing. Results are recorded in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${CLINS_SHARED:-$(pwd)/../shared}"
IGS=("$SHARED/spec/jp-core/package-1.1.2-url-snapshot" "$SHARED/spec/jp-clins/package-1.5.2-snapshot" "$SHARED/spec/eCheckupReport/package-1.1.3")
IG_ARGS=()
for d in "${IGS[@]}"; do IG_ARGS+=(--ig "$d"); done

echo "## throughput and package loading"
CLINS_SHARED="$SHARED" cargo bench -q -p clins-hub --bench validate

echo
echo "## peak memory: clins-hub validate $SHARED/fixtures (JP packages loaded)"
cargo build -q --release -p clins-hub
/usr/bin/time -v target/release/clins-hub validate "${IG_ARGS[@]}" "$SHARED/fixtures" >/dev/null 2>/tmp/clins-bench-time.txt || true
grep -E "Maximum resident set size|Elapsed" /tmp/clins-bench-time.txt

if command -v valgrind >/dev/null 2>&1; then
  echo
  echo "## instructions per validation (callgrind, conformance only, no service rules)"
  cargo build -q --release -p conformance --example once
  for f in "$SHARED/fixtures/jp-clins/clinical-core/Bundle-Bundle-CLINS-Referral-Example-01.json" examples/clins-condition-bundle.json; do
    out=$(valgrind --tool=callgrind --callgrind-out-file=/tmp/clins-bench-cg.out --toggle-collect='once::run' \
      target/release/examples/once "$f" 10 "${IGS[@]}" 2>&1 | grep -o 'Collected : [0-9]*' | grep -o '[0-9]*$')
    echo "$(basename "$f"): $((out / 10)) instructions"
  done
fi
