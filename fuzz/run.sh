#!/usr/bin/env bash
# Builds the libFuzzer targets (stable Rust: the coverage instrumentation cargo-fuzz uses,
# without a sanitizer) and runs each for SECONDS, seeded from the fixtures in CLINS_SHARED.
#
#   fuzz/run.sh [SECONDS] [TARGET...]        (default 20 s each; all targets)
#
# Corpora and findings go to fuzz/work/ (not committed: the JP-CLINS fixtures are CC BY-ND).
# Exit 1 if a target crashed; the input is in fuzz/work/<target>/crash-*.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(json fhirpath submit_validation ids)
shared=${CLINS_SHARED:-$(pwd)/../../shared}

export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions"
# With --target, RUSTFLAGS reach the targets' code but not build scripts (as cargo-fuzz does).
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release -q --bins --target "$host"

seed() { # TARGET DIR
  mkdir -p "$2"
  case "$1" in
    json|submit_validation)
      if [ -d "$shared/fixtures/jp-clins" ]; then
        find "$shared/fixtures/jp-clins" -name '*.json' -size -200k | head -n 300 | while read -r f; do
          cp "$f" "$2/$(sha1sum "$f" | cut -c1-16)"
        done
      fi
      printf '{"resourceType":"Bundle","type":"document","entry":[]}' >"$2/seed-bundle"
      ;;
    fhirpath)
      if [ -f "$shared/conformance/fhirpath/tests-fhir-r4.xml" ]; then
        grep -o '<expression[^>]*>[^<]*</expression>' "$shared/conformance/fhirpath/tests-fhir-r4.xml" \
          | sed -e 's/<[^>]*>//g' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e "s/&apos;/'/g" -e 's/&quot;/"/g' -e 's/&amp;/\&/g' \
          | head -n 800 | while IFS= read -r e; do
            printf '%s' "$e" >"$2/$(printf '%s' "$e" | sha1sum | cut -c1-16)"
          done
      fi
      printf "name.where(given.exists()).select(family & ', ' & given.first())" >"$2/seed-expr"
      ;;
    ids)
      for s in '00012345:あいう:１８７:05' '00012345::１８７:' '39131234:1:2:' '1311234567' \
        '1311234567^2026^COND-0000000001' '0000001^2026^x'; do
        printf '%s' "$s" >"$2/$(printf '%s' "$s" | sha1sum | cut -c1-16)"
      done
      ;;
  esac
}

failed=0
for t in "${targets[@]}"; do
  work="work/$t"
  [ -d "$work/corpus" ] || seed "$t" "$work/corpus"
  echo "== $t: $(ls "$work/corpus" | wc -l) seeds, ${seconds} s"
  if ! (cd "$work" && "../../target/$host/release/$t" corpus -max_total_time="$seconds" \
      -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 2>log.txt); then
    echo "   FAILED: see fuzz/$work/log.txt and fuzz/$work/crash-*"
    tail -n 30 "$work/log.txt"
    failed=1
  else
    grep -E 'stat::number_of_executed_units|cov: ' "$work/log.txt" | tail -n 2 | sed 's/^/   /'
  fi
done
exit $failed
