#!/usr/bin/env bash
# make bench-schedules (also the end of make bench): fire lag of 1,000 `every_ms: 1000`
# schedules fired by 3 release `ttp serve` processes together on one Redis started with
# make bench's flags (scripts/bench-lib.sh); scripts/schedule-lag.py creates them, waits
# 3 s, then merges `ttp_schedule_lag_seconds` (tick → task stored, by Redis' clock) and
# `ttp_schedule_ticks_total` of every process over 15 s.
#
# SCHED_COUNT, SCHED_PROCESSES, SCHED_SECONDS change the sizes; BENCH_BIN uses a given ttp
# binary instead of building a release one; BENCH_SCHED_REDIS_PORT (default 6394).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

REDIS_PORT="${BENCH_SCHED_REDIS_PORT:-6394}"
DIR="$(mktemp -d /tmp/ttp-bench-schedules.XXXXXX)"
cleanup() {
  bench_redis_stop "$REDIS_PORT"
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

scripts/redis.sh install
BIN="${BENCH_BIN:-}"
if [ -z "$BIN" ]; then
  cargo build --release --bin ttp
  BIN=target/release/ttp
fi
bench_redis_start "$REDIS_PORT" "$DIR"
bench_machine
echo "schedules: ${SCHED_COUNT:-1000} of every_ms 1000, ${SCHED_PROCESSES:-3} processes, ${SCHED_SECONDS:-15} s" >&2
TTP_BIN="$BIN" TTP_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" timeout 300 \
  python3 scripts/schedule-lag.py "${SCHED_COUNT:-1000}" "${SCHED_PROCESSES:-3}" "${SCHED_SECONDS:-15}"
