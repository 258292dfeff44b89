#!/usr/bin/env bash
# make bench: a private Redis and a release ttp on spare ports, redis-benchmark for the
# raw figures, then the standard scenarios (`ttp bench --suite`). Everything it starts is
# stopped on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS_PORT="${BENCH_REDIS_PORT:-6392}"
HTTP_PORT="${BENCH_HTTP_PORT:-18080}"
DIR="$(mktemp -d /tmp/ttp-bench.XXXXXX)"
TTP_PID=""
WORKER_PID=""

cleanup() {
  [ -n "$WORKER_PID" ] && kill "$WORKER_PID" 2>/dev/null && wait "$WORKER_PID" 2>/dev/null || true
  [ -n "$TTP_PID" ] && kill "$TTP_PID" 2>/dev/null && wait "$TTP_PID" 2>/dev/null || true
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

scripts/redis.sh install
cargo build --release --bin ttp
BIN=target/release/ttp

# Redis as in production: AOF (fsync every second), noeviction.
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR" --save "" \
  --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
  --daemonize yes --logfile "$DIR/redis.log"
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

TTP_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" TTP_LISTEN="127.0.0.1:$HTTP_PORT" \
  TTP_QUEUES="bench=1" TTP_CONCURRENCY="${BENCH_CONCURRENCY:-256}" TTP_LOG=warn \
  "$BIN" serve &
TTP_PID=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null && break; sleep 0.05; done

# One external worker process (Python, standard library) on queue bench-ext, for the
# lease-API scenarios; it declares its kinds there.
scripts/need.sh python3
python3 examples/worker.py --url "http://127.0.0.1:$HTTP_PORT" --queue bench-ext --batch 50 \
  --wait-ms 20000 --declare >/dev/null 2>"$DIR/worker.log" &
WORKER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$HTTP_PORT/kinds" | grep -q py.sha256 && break; sleep 0.1; done

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), $(redis-server --version | cut -d' ' -f3)" >&2
timeout 600 "$BIN" bench --suite --url "http://127.0.0.1:$HTTP_PORT" --queue bench \
  --redis-url "redis://127.0.0.1:$REDIS_PORT" --ttp-pid "$TTP_PID" \
  --external-queue bench-ext --worker-pid "$WORKER_PID" "$@"
