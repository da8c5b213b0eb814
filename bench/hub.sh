#!/usr/bin/env bash
# Load scenarios of the hub (docs/benchmarks.md, "Server"). Everything runs on 127.0.0.1 and
# stops by itself.
#
#   bench/hub.sh submit  [sqlite|postgres] [SECONDS] [PATIENTS]
#                                                        # $submit, 16 clients, 10-Condition units
#                                                        # for PATIENTS patients (default 500)
#   bench/hub.sh summary PATIENTS [sqlite|postgres] [SECONDS]
#                                                        # load PATIENTS via import, then
#                                                        # Patient/$summary with 16 clients
#
# The IG packages are used when CLINS_IG_PATH names them (as in production); PostgreSQL runs
# at 127.0.0.1:5432 (user postgres); each run uses a fresh database or folder.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:?submit or summary}
shift
if [ "$mode" = summary ]; then
  patients=${1:?number of patients}
  shift
fi
backend=${1:-sqlite}
seconds=${2:-30}
submit_patients=${3:-500}
port=18700
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q -p clins-hub --bins --example load
bin=target/release/clins-hub
load=target/release/examples/load

if [ "$backend" = postgres ]; then
  db="clins_bench_$$"
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
  store=(--database "postgres://postgres@127.0.0.1:5432/$db")
else
  store=(--data "$work/data")
fi

if [ "$mode" = summary ]; then
  # The generator streams into the import through named pipes, so no copy of the NDJSON (53 GB
  # for 1 M patients) is kept on disk; tee counts the bytes for the storage ratio.
  echo "== generating and importing $patients patients"
  mkdir -p "$work/gen"
  mkfifo "$work/gen/submissions.ndjson" "$work/stream.ndjson"
  "$bin" gen --patients "$patients" --ndjson "$work/gen" >/dev/null &
  gen=$!
  tee >(wc -c >"$work/bytes") <"$work/gen/submissions.ndjson" >"$work/stream.ndjson" &
  start=$(date +%s.%N)
  "$bin" import "${store[@]}" "$work/stream.ndjson" | tail -n 1
  end=$(date +%s.%N)
  wait "$gen"
  for _ in $(seq 50); do [ -s "$work/bytes" ] && break; sleep 0.1; done
  json_bytes=$(cat "$work/bytes")
  echo "loaded resources (Bundle entries): $(grep -o '"resources": [0-9]*' "$work/gen/manifest.json" | grep -o '[0-9]*$')"
  echo "submitted NDJSON: $json_bytes bytes ($(numfmt --to=iec "$json_bytes"))"
  echo "generation + import took $(echo "$end - $start" | bc) s"
  rm -rf "$work/gen"
fi

CLINS_QUIET=1 "$bin" serve "${store[@]}" --insecure-dev-auth --listen "127.0.0.1:$port" 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
  sleep 0.1
done

# Access control (issue #12): the institutions are registered and, for summary, each requested
# patient's institution gets a viewing consent, as a qualification service would record it.
if [ "$mode" = submit ]; then
  "$load" setup --port "$port" --patients "$submit_patients"
else
  "$load" setup --port "$port" --patients "$patients" --grants 1
fi

if [ "$mode" = submit ]; then
  "$load" submit --port "$port" --clients 16 --seconds "$seconds" --conditions 10 \
    --patients "$submit_patients"
  curl -s "http://127.0.0.1:$port/metrics" | grep -E '^clins_store_(group_commits|group_writes|one_statement_writes|one_statement_fallbacks)_total '

else
  # Warm-up (the embedded store's file read once into the page cache, then 5 s of requests),
  # then the measured run.
  if [ "$backend" = sqlite ]; then cat "$work/data"/clins.sqlite* >/dev/null; fi
  "$load" summary --port "$port" --clients 16 --seconds 5 --patients "$patients" >/dev/null
  "$load" summary --port "$port" --clients 16 --seconds "$seconds" --patients "$patients"
fi

counts=$(curl -s "http://127.0.0.1:$port/metrics?store=true" | grep -E '^clins_store_(units|resources|resource_versions) ')
echo "$counts"
resources=$(echo "$counts" | awk '/^clins_store_resource_versions /{print $2}')
if [ "$backend" = postgres ]; then
  bytes=$(psql -h 127.0.0.1 -U postgres -d "$db" -Atc "SELECT pg_database_size(current_database())")
else
  bytes=$(du -cb "$work/data"/clins.sqlite* | tail -n 1 | cut -f1)
fi
echo "store bytes: $bytes ($(numfmt --to=iec "$bytes")), per resource version: $((bytes / (resources > 0 ? resources : 1)))"
if [ "$mode" = summary ]; then
  echo "submitted JSON: $json_bytes bytes; store / submitted = $(echo "scale=2; $bytes / $json_bytes" | bc)"
fi
kill "$server"
wait "$server" 2>/dev/null || true
if [ "$backend" = postgres ]; then
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
fi
