# Sourced by scripts/bench.sh and scripts/bench-peers.sh: the one place that says how a
# benchmark's Redis and ttp are started, so that ttp, the floor reference and the peers
# are all measured on Redis started with the same flags.
#   bench_redis_start PORT DIR    Redis as in production: AOF (fsync every second),
#                                 noeviction, no RDB snapshots, its data in DIR/redis-PORT
#                                 (its own, so no Redis loads another's AOF); waits until
#                                 it answers.
#   bench_redis_stop PORT
#   bench_ttp_start BIN HTTP_PORT REDIS_PORT CONCURRENCY   sets TTP_PID; waits for /readyz.

bench_redis_start() {
  local dir="$2/redis-$1"
  mkdir -p "$dir"
  redis-server --port "$1" --bind 127.0.0.1 --dir "$dir" --save "" \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
    --daemonize yes --logfile "$dir/redis.log"
  for _ in $(seq 1 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "Redis on port $1 did not start; see $dir/redis.log" >&2
  return 1
}

bench_redis_stop() {
  redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true
}

bench_ttp_start() {
  TTP_REDIS_URL="redis://127.0.0.1:$3" TTP_LISTEN="127.0.0.1:$2" \
    TTP_QUEUES="bench=1" TTP_CONCURRENCY="$4" TTP_LOG=warn "$1" serve &
  TTP_PID=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$2/readyz" >/dev/null && return 0; sleep 0.05; done
  echo "ttp did not become ready on port $2" >&2
  return 1
}

bench_machine() {
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr), Redis $(redis-server --version | cut -d' ' -f3 | cut -d= -f2)" >&2
}
