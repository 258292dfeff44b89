#!/usr/bin/env bash
# make bench-peers: BullMQ and ttp through the same workload, in one run, each on its own
# Redis started with make bench's flags (scripts/bench-lib.sh), one after the other so
# neither shares the cores with the other's idle loops.
#
# 1. Installs BullMQ at the version pinned in scripts/peers/package.json, from the
#    committed package-lock.json (npm ci), into .peers/bullmq-<version>/ (git-ignored).
# 2. scripts/peers/bullmq.js runs the workloads (default: bulk = 100,000 no-op jobs added
#    in batches of 1,000, results kept, one worker process with concurrency 50) and
#    prints its figures as JSON.
# 3. ttp serve (TTP_CONCURRENCY=50) on a fresh Redis, and `ttp bench --peer-results`
#    runs the same workloads through it and prints both side by side.
#
# BENCH_PEERS_WORKLOADS=bulk,single,rate adds the single-add (64 in flight) and open-loop
# (500/s for 20 s) workloads; BENCH_PEERS_JOBS=20000 makes a short run; BENCH_BIN uses a
# given ttp binary instead of building a release one.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

PEER_REDIS_PORT="${BENCH_PEER_REDIS_PORT:-6393}"
REDIS_PORT="${BENCH_REDIS_PORT:-6392}"
HTTP_PORT="${BENCH_HTTP_PORT:-18080}"
CONCURRENCY=50
DIR="$(mktemp -d /tmp/ttp-bench-peers.XXXXXX)"
TTP_PID=""

cleanup() {
  [ -n "$TTP_PID" ] && kill "$TTP_PID" 2>/dev/null && wait "$TTP_PID" 2>/dev/null || true
  bench_redis_stop "$PEER_REDIS_PORT"
  bench_redis_stop "$REDIS_PORT"
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

scripts/redis.sh install
scripts/need.sh node:nodejs npm curl
VERSION="$(node -p "require('./scripts/peers/package.json').dependencies.bullmq")"
PEER_DIR=".peers/bullmq-$VERSION"
installed="$(node -p "require('./$PEER_DIR/node_modules/bullmq/package.json').version" 2>/dev/null || true)"
if [ "$installed" != "$VERSION" ] || ! cmp -s scripts/peers/package-lock.json "$PEER_DIR/package-lock.json"; then
  echo "bench-peers: installing BullMQ $VERSION into $PEER_DIR (npm ci)" >&2
  mkdir -p "$PEER_DIR"
  cp scripts/peers/package.json scripts/peers/package-lock.json "$PEER_DIR/"
  (cd "$PEER_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

BIN="${BENCH_BIN:-target/release/ttp}"
[ -n "${BENCH_BIN:-}" ] || cargo build --release --bin ttp
bench_machine

bench_redis_start "$PEER_REDIS_PORT" "$DIR"
NODE_PATH="$PEER_DIR/node_modules" timeout 900 node scripts/peers/bullmq.js \
  --port "$PEER_REDIS_PORT" --concurrency "$CONCURRENCY" \
  --jobs "${BENCH_PEERS_JOBS:-100000}" --workloads "${BENCH_PEERS_WORKLOADS:-bulk}" \
  >"$DIR/bullmq.json"
bench_redis_stop "$PEER_REDIS_PORT"

bench_redis_start "$REDIS_PORT" "$DIR"
bench_ttp_start "$BIN" "$HTTP_PORT" "$REDIS_PORT" "$CONCURRENCY"
timeout 900 "$BIN" bench --peer-results "$DIR/bullmq.json" --url "http://127.0.0.1:$HTTP_PORT" \
  --queue bench --redis-url "redis://127.0.0.1:$REDIS_PORT" --ttp-pid "$TTP_PID" "$@"
