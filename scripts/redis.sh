#!/usr/bin/env bash
# Project-local Redis for `make run` and friends: installs redis-server from the
# distribution's packages when missing, and starts/stops a Redis on a non-default port
# with AOF persistence and its data under .data/ (git-ignored).
set -euo pipefail

PORT="${DEV_REDIS_PORT:-6390}"
DIR="${DEV_REDIS_DIR:-$(pwd)/.data/redis}"

install() {
  "$(dirname "$0")/need.sh" redis-server redis-cli:redis-tools
}

start() {
  install
  mkdir -p "$DIR"
  if redis-cli -p "$PORT" ping >/dev/null 2>&1; then
    echo "Redis already running on 127.0.0.1:$PORT" >&2
    return 0
  fi
  redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" \
    --appendonly yes --appendfsync everysec --save "" \
    --maxmemory-policy noeviction \
    --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
  for _ in $(seq 1 100); do
    redis-cli -p "$PORT" ping >/dev/null 2>&1 && { echo "Redis on 127.0.0.1:$PORT (AOF in $DIR)" >&2; return 0; }
    sleep 0.05
  done
  echo "Redis did not start; see $DIR/redis.log" >&2
  exit 1
}

stop() {
  if redis-cli -p "$PORT" ping >/dev/null 2>&1; then
    redis-cli -p "$PORT" shutdown >/dev/null 2>&1 || true
    echo "Redis on port $PORT stopped" >&2
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
