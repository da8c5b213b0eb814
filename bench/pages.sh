#!/usr/bin/env bash
# The viewer's patient page against the `Patient/$summary` API on one hub, alternating, in one
# run (docs/benchmarks.md "Web pages"): the same patients, the same institutions; the page
# requests carry a signed-in staff session of the institution (password and TOTP, set up over
# HTTP before the run), the API requests the development header.
#
#   bench/pages.sh PATIENTS [CLIENTS] [SECONDS] [ROUNDS]
#
# Everything on 127.0.0.1; the store is a temporary folder, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
patients=${1:?number of patients}
clients=${2:-100}
seconds=${3:-20}
rounds=${4:-2}
port=18712
work=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT

cargo build --release -q -p clins-hub --bins --example load
bin=target/release/clins-hub
load=target/release/examples/load

echo "== generating and importing $patients patients"
mkdir -p "$work/gen"
mkfifo "$work/gen/submissions.ndjson"
"$bin" gen --patients "$patients" --ndjson "$work/gen" >/dev/null &
gen=$!
"$bin" import --data "$work/store" "$work/gen/submissions.ndjson" | tail -n 1
wait "$gen"

CLINS_QUIET=1 "$bin" serve --data "$work/store" --insecure-dev-auth --sign-in-rate-limit 0 \
  --listen "127.0.0.1:$port" 2>"$work/serve.log" &
server=$!
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
  sleep 0.1
done
"$load" setup --port "$port" --patients "$patients" --grants 1
cat "$work"/store/clins.sqlite* >/dev/null 2>&1 || true

echo "stylesheet: $(curl -s "http://127.0.0.1:$port/static/app.css" | wc -c) bytes (the page's only asset)"
"$load" summary --port "$port" --clients 4 --seconds 3 --patients "$patients" --pages 1 --sessions "$work/sessions.tsv" 2>&1 | grep -v "^mode=" || true
for r in $(seq "$rounds"); do
  for side in api page; do
    flag=""
    [ "$side" = page ] && flag="--pages 1 --sessions $work/sessions.tsv"
    # shellcheck disable=SC2086
    "$load" summary --port "$port" --clients "$clients" --seconds 5 --patients "$patients" $flag >/dev/null 2>&1
    echo -n "round $r $side: "
    # shellcheck disable=SC2086
    "$load" summary --port "$port" --clients "$clients" --seconds "$seconds" --patients "$patients" $flag 2>"$work/load.err"; sort "$work/load.err" | uniq -c | sort -rn | head -n 3
  done
done
