#!/usr/bin/env bash
# Side-by-side load runs of this checkout ("after") and an earlier build ("before"), in one
# session, alternating, so that the host's speed affects both alike (docs/benchmarks.md).
#
#   bench/compare.sh summary PATIENTS BEFORE_DIR [sqlite|postgres] [SECONDS] [ROUNDS]
#   bench/compare.sh submit  PATIENTS BEFORE_DIR [sqlite|postgres] [SECONDS] [ROUNDS]
#   bench/compare.sh consent PATIENTS [sqlite|postgres] [SECONDS]
#
# BEFORE_DIR is a worktree of the earlier commit with `cargo build --release -p clins-hub`
# done (its target/release/clins-hub is used). The load generator of this checkout drives both;
# for "after" it first registers the institutions and, for summary, grants each patient's
# institution viewing consent (`load setup`), so both read the same data. `summary` imports
# PATIENTS generated patients once with the earlier binary and copies the store (the later one
# migrates its copy on start); `submit` uses a fresh store per run. Everything on 127.0.0.1.
# SETUP_BOTH=1: the earlier build has a registry too (an earlier build of the access issue or
# later), so `load setup` runs for both.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?summary, submit or consent}
patients=${2:?number of patients}
if [ "$mode" = consent ]; then
  before=""
  backend=${3:-sqlite}
  seconds=${4:-30}
  rounds=1
else
  before=${3:?BEFORE_DIR}
  backend=${4:-sqlite}
  seconds=${5:-30}
  rounds=${6:-2}
fi
port=18710
work=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT

cargo build --release -q -p clins-hub --bins --example load
after_bin=target/release/clins-hub
load=target/release/examples/load
before_bin=${before:+$before/target/release/clins-hub}

fresh_store() { # NAME → prints the store arguments
  if [ "$backend" = postgres ]; then
    local db="clins_cmp_$$_$1"
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
    echo "--database postgres://postgres@127.0.0.1:5432/$db"
  else
    echo "--data $work/$1"
  fi
}

start() { # BIN STORE_ARGS...
  local bin=$1
  shift
  CLINS_QUIET=1 "$bin" serve "$@" --insecure-dev-auth --listen "127.0.0.1:$port" 2>"$work/serve.log" &
  server=$!
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && return
    sleep 0.1
  done
  echo "server did not start" >&2; cat "$work/serve.log" >&2; exit 1
}

cpu_ticks() { # PID → its user + system CPU time so far, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}

stop() {
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
}

calibrate() { # the host's speed now: the 10-Condition unit validated 2,000 times, one core
  if [ -x target/release/examples/once_full ]; then
    "$load" submit --port 1 --dump "$work/unit.json" >/dev/null 2>&1 || true
    /usr/bin/time -f "%e" target/release/examples/once_full "$work/unit.json" 2000 ${CLINS_IG_PATH//:/ } 2>&1 >/dev/null | tail -n 1
  else
    echo "-"
  fi
}

case "$mode" in
summary)
  echo "== generating and importing $patients patients with the earlier build"
  mkdir -p "$work/gen"
  mkfifo "$work/gen/submissions.ndjson"
  "$after_bin" gen --patients "$patients" --ndjson "$work/gen" >/dev/null &
  gen=$!
  a_store=$(fresh_store a)
  # shellcheck disable=SC2086
  "$before_bin" import $a_store "$work/gen/submissions.ndjson" | tail -n 1
  wait "$gen"
  if [ "$backend" = postgres ]; then
    b_store=$(fresh_store b)
    a_db=${a_store##*/}; b_db=${b_store##*/}
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $b_db" -c "CREATE DATABASE $b_db TEMPLATE $a_db" >/dev/null
  else
    cp -a "$work/a" "$work/b"
    b_store="--data $work/b"
  fi
  for r in $(seq "$rounds"); do
    for side in before after; do
      if [ "$side" = before ]; then bin=$before_bin; st=$a_store; else bin=$after_bin; st=$b_store; fi
      # shellcheck disable=SC2086
      start "$bin" $st
      if [ "$r" = 1 ] && { [ "$side" = after ] || [ "${SETUP_BOTH:-0}" = 1 ]; }; then
        "$load" setup --port "$port" --patients "$patients" --grants 1
      fi
      if [ "$backend" = sqlite ]; then cat "$work"/"${st##*/}"/clins.sqlite* >/dev/null 2>&1 || true; fi
      "$load" summary --port "$port" --clients 16 --seconds 5 --patients "$patients" >/dev/null 2>&1
      echo -n "round $r $side: "
      t0=$(cpu_ticks "$server")
      "$load" summary --port "$port" --clients 16 --seconds "$seconds" --patients "$patients" 2>/dev/null
      echo "  server CPU: $(( ($(cpu_ticks "$server") - t0) * 1000 / $(getconf CLK_TCK) )) ms in ${seconds} s"
      stop
    done
  done
  ;;
submit)
  for r in $(seq "$rounds"); do
    for side in before after; do
      if [ "$side" = before ]; then bin=$before_bin; else bin=$after_bin; fi
      st=$(fresh_store "s${r}_$side")
      # shellcheck disable=SC2086
      start "$bin" $st
      if [ "$side" = after ] || [ "${SETUP_BOTH:-0}" = 1 ]; then
        "$load" setup --port "$port" --patients "$patients" >/dev/null
      fi
      echo -n "round $r $side (calibration $(calibrate) s): "
      "$load" submit --port "$port" --clients 16 --seconds "$seconds" --conditions 10 --patients "$patients" 2>/dev/null
      stop
    done
  done
  ;;
consent)
  st=$(fresh_store consent)
  # shellcheck disable=SC2086
  start "$after_bin" $st
  "$load" setup --port "$port" --patients "$patients"
  echo -n "consent grants: "
  "$load" consent --port "$port" --clients 16 --seconds "$seconds" --patients "$patients" 2>/dev/null
  stop
  ;;
esac
if [ "$backend" = postgres ]; then
  for db in $(psql -h 127.0.0.1 -U postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'clins_cmp_$$_%'"); do
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  done
fi
