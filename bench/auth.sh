#!/usr/bin/env bash
# Sign-in benchmarks of this checkout (docs/benchmarks.md, "Sign-in"):
#   token issuance (client assertions verified, access tokens signed), and `Patient/$summary`
#   and `$submit` with a bearer token verified on every request against the same with the
#   development headers, alternating in one session on the same build and data.
#
#   bench/auth.sh PATIENTS [sqlite|postgres] [SECONDS] [ROUNDS]
#
# PARTS (environment, default "token summary submit") picks the parts to run.
# PATIENTS generated patients are imported once for the summary runs; `$submit` uses a fresh
# store per run (20,000 patients' units, 10 Conditions each). Everything on 127.0.0.1; the load
# generator (crates/cli/examples/load.rs) runs on the same cores.
set -euo pipefail
cd "$(dirname "$0")/.."
patients=${1:?number of patients}
backend=${2:-sqlite}
seconds=${3:-30}
rounds=${4:-2}
port=18720
work=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT

cargo build --release -q -p clins-hub --bins --example load
bin=target/release/clins-hub
load=target/release/examples/load

fresh_store() { # NAME → the store arguments
  if [ "$backend" = postgres ]; then
    local db="clins_auth_$$_$1"
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
    echo "--database postgres://postgres@127.0.0.1:5432/$db"
  else
    echo "--data $work/$1"
  fi
}

start() { # STORE_ARGS...
  CLINS_QUIET=1 "$bin" serve "$@" --insecure-dev-auth --sign-in-rate-limit 0 --listen "127.0.0.1:$port" 2>"$work/serve.log" &
  server=$!
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && return
    sleep 0.1
  done
  echo "server did not start" >&2; cat "$work/serve.log" >&2; exit 1
}

stop() {
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
}

parts=${PARTS:-token summary submit}
has() { case " $parts " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if has token; then
echo "== token issuance"
# shellcheck disable=SC2086
start $(fresh_store tokens)
"$load" token --port "$port" --clients 16 --seconds "$seconds" 2>/dev/null
stop
fi

if has summary; then
echo "== Patient/\$summary, $patients patients"
mkdir -p "$work/gen"
mkfifo "$work/gen/submissions.ndjson"
"$bin" gen --patients "$patients" --ndjson "$work/gen" >/dev/null &
gen=$!
st=$(fresh_store summary)
# shellcheck disable=SC2086
"$bin" import $st "$work/gen/submissions.ndjson" | tail -n 1
wait "$gen"
# shellcheck disable=SC2086
start $st
"$load" setup --port "$port" --patients "$patients" --grants 1
"$load" summary --port "$port" --clients 16 --seconds 5 --patients "$patients" >/dev/null 2>&1
for r in $(seq "$rounds"); do
  for auth in dev token; do
    flag=0; [ "$auth" = token ] && flag=1
    echo -n "round $r $auth: "
    "$load" summary --port "$port" --clients 16 --seconds "$seconds" --patients "$patients" --tokens "$flag" 2>/dev/null
  done
done
stop
fi

if has submit; then
echo "== \$submit, 10-Condition units, 20,000 patients, a fresh store per run"
for r in $(seq "$rounds"); do
  for auth in dev token; do
    flag=0; [ "$auth" = token ] && flag=1
    # shellcheck disable=SC2086
    start $(fresh_store "s${r}_$auth")
    "$load" setup --port "$port" --patients 20000 >/dev/null
    echo -n "round $r $auth: "
    "$load" submit --port "$port" --clients 16 --seconds "$seconds" --conditions 10 --patients 20000 --tokens "$flag" 2>/dev/null
    stop
  done
done
fi

if has submit-alternating; then
echo "== \$submit, 10-Condition units, 20,000 patients, one store, dev and token in turn"
# shellcheck disable=SC2086
start $(fresh_store alternating)
"$load" setup --port "$port" --patients 20000 >/dev/null
"$load" submit --port "$port" --clients 16 --seconds 5 --conditions 10 --patients 20000 >/dev/null 2>&1
for r in $(seq "$rounds"); do
  for auth in dev token; do
    flag=0; [ "$auth" = token ] && flag=1
    echo -n "round $r $auth: "
    "$load" submit --port "$port" --clients 16 --seconds "$seconds" --conditions 10 --patients 20000 --tokens "$flag" --offset $(( (2 * r + flag) * 100000 )) 2>/dev/null
  done
done
stop
fi
if [ "$backend" = postgres ]; then
  for db in $(psql -h 127.0.0.1 -U postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'clins_auth_$$_%'"); do
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  done
fi
