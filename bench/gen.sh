#!/usr/bin/env bash
# Generator throughput and memory (issue #4): `clins-hub gen` for N patients (default 1,000,000)
# into an NDJSON stream in a temporary folder, timed with /usr/bin/time; prints resources per
# second (wall clock and CPU) and the peak memory, then deletes the output (about 11 GB per
# million patients). Usage: bench/gen.sh [PATIENTS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
SEED="${2:-1}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
cargo build -q --release -p clins-hub
/usr/bin/time -v target/release/clins-hub gen --patients "$N" --seed "$SEED" --ndjson "$OUT/run" \
  >"$OUT/stdout.txt" 2>"$OUT/time.txt"
cat "$OUT/stdout.txt"
python3 - "$OUT/run/manifest.json" "$OUT/time.txt" "$OUT/run/submissions.ndjson" <<'PY'
import json, os, re, sys
m = json.load(open(sys.argv[1]))
t = open(sys.argv[2]).read()
def field(name):
    return re.search(re.escape(name) + r".*?: (.*)", t).group(1).strip()
wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
wall_s = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
cpu_s = float(field("User time (seconds)")) + float(field("System time (seconds)"))
rss_mb = int(field("Maximum resident set size (kbytes)")) / 1024
size_gb = os.path.getsize(sys.argv[3]) / 1e9
print(f"patients {m['patients']:,}  submissions {m['submissions']:,}  resources {m['resources']:,}  output {size_gb:.2f} GB")
print(f"wall {wall_s:.1f} s: {m['resources'] / wall_s:,.0f} resources/s; CPU {cpu_s:.1f} s: {m['resources'] / cpu_s:,.0f} resources/s")
print(f"peak memory (max RSS): {rss_mb:.1f} MB")
PY
