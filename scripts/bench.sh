#!/usr/bin/env bash
# make bench: a private Redis and a release ttp on spare ports, redis-benchmark for the
# raw figures, the floor reference on that Redis, then the standard scenarios
# (`ttp bench --suite`). Arguments go to `ttp bench`, e.g. `scripts/bench.sh --only bulk
# --scale 0.2 --floor-tasks 20000` for a short run. Everything it starts is stopped on
# exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

REDIS_PORT="${BENCH_REDIS_PORT:-6392}"
HTTP_PORT="${BENCH_HTTP_PORT:-18080}"
DIR="$(mktemp -d /tmp/ttp-bench.XXXXXX)"
TTP_PID=""
WORKER_PID=""

cleanup() {
  [ -n "$WORKER_PID" ] && kill "$WORKER_PID" 2>/dev/null && wait "$WORKER_PID" 2>/dev/null || true
  [ -n "$TTP_PID" ] && kill "$TTP_PID" 2>/dev/null && wait "$TTP_PID" 2>/dev/null || true
  bench_redis_stop "$REDIS_PORT"
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

scripts/redis.sh install
# BENCH_BIN: a ttp binary to use instead of building a release one (e.g. a debug build,
# to try the script; its figures are not the release's).
BIN="${BENCH_BIN:-target/release/ttp}"
[ -n "${BENCH_BIN:-}" ] || cargo build --release --bin ttp

bench_redis_start "$REDIS_PORT" "$DIR"
bench_ttp_start "$BIN" "$HTTP_PORT" "$REDIS_PORT" "${BENCH_CONCURRENCY:-256}"

# One external worker process (Python, standard library) on queue bench-ext, for the
# lease-API scenarios; it declares its kinds there.
scripts/need.sh python3
python3 examples/worker.py --url "http://127.0.0.1:$HTTP_PORT" --queue bench-ext --batch 50 \
  --wait-ms 20000 --declare >/dev/null 2>"$DIR/worker.log" &
WORKER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$HTTP_PORT/kinds" | grep -q py.sha256 && break; sleep 0.1; done

bench_machine
timeout 900 "$BIN" bench --suite --url "http://127.0.0.1:$HTTP_PORT" --queue bench \
  --redis-url "redis://127.0.0.1:$REDIS_PORT" --ttp-pid "$TTP_PID" \
  --external-queue bench-ext --worker-pid "$WORKER_PID" "$@"
