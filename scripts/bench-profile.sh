#!/usr/bin/env bash
# make bench-profile: where the CPU goes in the bulk scenario (batches of 1,000, one in
# flight, workers running), for Redis or for ttp, with valgrind's callgrind (this VM has
# no hardware counters for perf). Only the load is profiled (collection is switched on
# just before it and the profile dumped once every task finished, before anything reads
# the records back: --no-readback); callgrind is ~50× slower than the
# real thing, so the run is short. Prints the top functions by their own instructions.
#
#   scripts/bench-profile.sh redis|ttp      BENCH_PROFILE_TASKS (default 5000); BENCH_BIN
#
# The profile file is kept as target/callgrind.<redis|ttp>.out for callgrind_annotate or
# kcachegrind.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

WHAT="${1:-}"
case "$WHAT" in redis | ttp) ;; *) echo "usage: $0 redis|ttp" >&2; exit 2 ;; esac
REDIS_PORT="${BENCH_REDIS_PORT:-6392}"
HTTP_PORT="${BENCH_HTTP_PORT:-18080}"
TASKS="${BENCH_PROFILE_TASKS:-5000}"
DIR="$(mktemp -d /tmp/ttp-bench-profile.XXXXXX)"
OUT="target/callgrind.$WHAT.out"
TTP_PID=""
PROFILED=""

cleanup() {
  [ -n "$TTP_PID" ] && kill "$TTP_PID" 2>/dev/null && wait "$TTP_PID" 2>/dev/null || true
  bench_redis_stop "$REDIS_PORT"
  [ -n "$PROFILED" ] && kill "$PROFILED" 2>/dev/null && wait "$PROFILED" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

scripts/redis.sh install
scripts/need.sh valgrind callgrind_control:valgrind curl
BIN="${BENCH_BIN:-target/release/ttp}"
[ -n "${BENCH_BIN:-}" ] || cargo build --release --bin ttp
GRIND=(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT")

if [ "$WHAT" = redis ]; then
  mkdir -p "$DIR/redis"
  "${GRIND[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR/redis" --save "" \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
    --logfile "$DIR/redis/redis.log" 2>"$DIR/valgrind.log" &
  PROFILED=$!
  for _ in $(seq 1 600); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  bench_ttp_start "$BIN" "$HTTP_PORT" "$REDIS_PORT" 50
else
  bench_redis_start "$REDIS_PORT" "$DIR"
  TTP_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" TTP_LISTEN="127.0.0.1:$HTTP_PORT" \
    TTP_QUEUES="bench=1" TTP_CONCURRENCY=50 TTP_LOG=warn "${GRIND[@]}" "$BIN" serve 2>"$DIR/valgrind.log" &
  PROFILED=$!
  for _ in $(seq 1 1200); do curl -sf "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null && break; sleep 0.1; done
fi

callgrind_control -i on "$PROFILED" >/dev/null
"$BIN" bench --url "http://127.0.0.1:$HTTP_PORT" --queue bench --redis-url "redis://127.0.0.1:$REDIS_PORT" \
  --tasks "$TASKS" --batch 1000 --concurrency 1 --wait-timeout-s 600 --no-readback >&2
callgrind_control -d "$PROFILED" >/dev/null
callgrind_control -i off "$PROFILED" >/dev/null
sleep 1
# The dump is written next to $OUT with a .N suffix.
latest="$(ls -t "$OUT".* | head -1)"
echo "callgrind, $WHAT, bulk scenario, $TASKS tasks: top functions by own instructions ($latest)"
callgrind_annotate --inclusive=no "$latest" 2>/dev/null | awk '/^-- Auto-annotated/ { exit } NR <= 50' || true
