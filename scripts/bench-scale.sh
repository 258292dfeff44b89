#!/usr/bin/env bash
# make bench-scale (also the last part of make bench): the same closed-loop batch workload
# on one Redis and on a 3-master Redis Cluster, with 1, 2 and 4 `ttp worker` processes
# behind one `ttp serve --no-workers`. Reports tasks/s and Redis CPU µs per task on each
# master, so the reader sees where the next bottleneck is. Everything it starts is
# stopped on exit, whatever happens.
#
# Environment: SCALE_TASKS (per run, default 20000), SCALE_WORKERS (default "1 2 4").
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS_PORT="${SCALE_REDIS_PORT:-6394}"
CLUSTER_PORT="${SCALE_CLUSTER_PORT:-7300}"
HTTP_PORT="${SCALE_HTTP_PORT:-18090}"
TASKS="${SCALE_TASKS:-20000}"
WORKERS="${SCALE_WORKERS:-1 2 4}"
DIR="$(mktemp -d /tmp/ttp-scale.XXXXXX)"
PIDS=()

stop_ttp() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_ttp
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  [ -f "$DIR/cluster/ports" ] && scripts/cluster.sh down "$DIR/cluster" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

scripts/redis.sh install
scripts/need.sh python3
cargo build --release --bin ttp
BIN=target/release/ttp

cpu_of() { # port -> used_cpu_user + used_cpu_sys, seconds
  redis-cli -p "$1" info cpu | tr -d '\r' |
    awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.6f", s}'
}

masters_of() { # mode -> ports of the masters
  if [ "$1" = standalone ]; then echo "$REDIS_PORT"; return; fi
  redis-cli -p "$CLUSTER_PORT" cluster nodes | awk '$3 ~ /master/ && $3 !~ /fail/ {split($2, a, "[:@]"); print a[2]}' | sort -n
}

# Twelve queue names, four on each master's third of the slots (the layout
# `redis-cli --cluster create` gives three masters), so both runs see the same names.
pick_queues() {
  local names=() counts=(0 0 0) n slot third
  for n in $(seq 0 999); do
    slot=$(redis-cli -p "$CLUSTER_PORT" cluster keyslot "ttp:{s$n}:pending")
    third=$(( slot * 3 / 16384 ))
    if (( counts[third] < 4 )); then names+=("s$n"); counts[third]=$(( counts[third] + 1 )); fi
    (( ${#names[@]} == 12 )) && break
  done
  (IFS=,; echo "${names[*]}")
}

run() { # mode url workers queues -> one table row
  local mode=$1 url=$2 workers=$3 queues=$4 served masters before after
  served=$(sed 's/,/=1,/g; s/$/=1/' <<<"$queues")
  local env=(TTP_REDIS_MODE="$mode" TTP_REDIS_URL="$url" TTP_LOG=warn TTP_QUEUES="$served")
  env "${env[@]}" TTP_LISTEN="127.0.0.1:$HTTP_PORT" "$BIN" serve --no-workers &
  PIDS+=($!)
  for _ in $(seq 1 $workers); do
    env "${env[@]}" TTP_CONCURRENCY=64 "$BIN" worker &
    PIDS+=($!)
  done
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null && break; sleep 0.05; done
  masters=$(masters_of "$mode")
  before=$(for p in $masters; do cpu_of "$p"; echo; done)
  "$BIN" bench --url "http://127.0.0.1:$HTTP_PORT" --tasks "$TASKS" --batch 100 \
    --concurrency 4 --queue "$queues" --json > "$DIR/run.json" 2>"$DIR/run.log"
  after=$(for p in $masters; do cpu_of "$p"; echo; done)
  stop_ttp
  python3 - "$mode" "$workers" "$TASKS" "$DIR/run.json" "$before" "$after" <<'EOF'
import json, sys
mode, workers, tasks, path, before, after = sys.argv[1:]
summary = json.load(open(path))
per_node = [(float(a) - float(b)) * 1e6 / int(tasks) for b, a in zip(before.split(), after.split())]
nodes = " / ".join(f"{u:.0f}" for u in per_node)
print(f"| {mode} | {workers} | {summary['finished_per_s']:.0f} | {nodes} | {sum(per_node):.0f} | {summary['tasks_not_succeeded']} |")
EOF
  for p in $masters; do redis-cli -p "$p" flushall >/dev/null; done
}

echo "machine: $(nproc) cores, $(uname -sr), $(redis-server --version | cut -d' ' -f3); $TASKS noop tasks per run, batches of 100 over 12 queues, 4 requests in flight" >&2
rows=()
CLUSTER_NODE_TIMEOUT=5000 scripts/cluster.sh up "$CLUSTER_PORT" "$DIR/cluster" >/dev/null
QUEUES=$(pick_queues)
CLUSTER_URL=$(seq -s, -f 'redis://127.0.0.1:%g' "$CLUSTER_PORT" $(( CLUSTER_PORT + 5 )))
for w in $WORKERS; do rows+=("$(run cluster "$CLUSTER_URL" "$w" "$QUEUES")"); done
scripts/cluster.sh down "$DIR/cluster" >/dev/null

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR" --save "" \
  --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
  --daemonize yes --logfile "$DIR/redis.log"
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
for w in $WORKERS; do rows+=("$(run standalone "redis://127.0.0.1:$REDIS_PORT" "$w" "$QUEUES")"); done

echo "| Redis | worker processes | tasks/s (submit → all finished) | Redis CPU µs/task per master | Redis CPU µs/task, all masters | not succeeded |"
echo "|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
