#!/usr/bin/env bash
# Runs a command against a private ttp: a redis-server and the debug `ttp serve`
# (target/debug/ttp; build it first) on free ports, both stopped on exit whatever
# happened. The command runs once ttp is ready, with TTP_URL set to ttp's base URL; its
# exit status is this script's, and ttp's log is shown when it fails or ttp died.
# TTP_* variables in the environment (TTP_API_KEYS, TTP_LOG, ...) reach ttp.
# Used by `make api-fuzz` and `make clients`.
#
#   scripts/with-ttp.sh COMMAND [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "with-ttp: $*" >&2; }
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
[ -x target/debug/ttp ] || { log "target/debug/ttp is missing: cargo build --bin ttp"; exit 1; }
scripts/redis.sh install

work="$(mktemp -d)"
redis_pid=""
ttp_pid=""
cleanup() {
  local status=$?
  if [ -n "$ttp_pid" ]; then
    if ! kill -0 "$ttp_pid" 2>/dev/null; then
      local ttp_status=0
      wait "$ttp_pid" || ttp_status=$?
      log "ttp had exited by itself (status $ttp_status)"
      status=1
    else
      kill "$ttp_pid" && wait "$ttp_pid" 2>/dev/null || true
    fi
  fi
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null || true; fi
  if [ "$status" -ne 0 ] && [ -f "$work/ttp.log" ]; then
    log "ttp log (last 40 lines):"
    tail -n 40 "$work/ttp.log" >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

redis_port="$(scripts/free-port.sh)"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save "" --appendonly no \
  --maxmemory-policy noeviction --logfile "$work/redis.log" &
redis_pid=$!

port="$(scripts/free-port.sh)"
TTP_LISTEN="127.0.0.1:$port" TTP_REDIS_URL="redis://127.0.0.1:$redis_port" \
  TTP_LOG="${TTP_LOG:-warn}" TTP_SHUTDOWN_GRACE_MS="${TTP_SHUTDOWN_GRACE_MS:-1000}" \
  target/debug/ttp serve >"$work/ttp.log" 2>&1 &
ttp_pid=$!

export TTP_URL="http://127.0.0.1:$port"
ready() {
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "$TTP_URL/readyz" 2>/dev/null
}
for _ in $(seq 1 200); do
  if ready; then break; fi
  if ! kill -0 "$ttp_pid" 2>/dev/null; then log "ttp exited"; exit 1; fi
  sleep 0.05
done
ready || { log "ttp did not become ready"; exit 1; }
log "ttp at $TTP_URL (redis on port $redis_port)"
"$@"
