#!/usr/bin/env bash
# `make ui-test`: the dashboard in a real browser. Installs Debian's chromium and
# chromium-driver when missing (never a browser download: Selenium is handed
# /usr/bin/chromedriver and /usr/bin/chromium, and Selenium Manager is kept offline),
# Selenium from PyPI into .venv/ (git-ignored, shared with the other Python tools),
# starts a private redis-server and runs tests/ui/dashboard_test.py, which starts a debug
# `ttp serve` with an API key and drives the page headless. Screenshots land in
# target/ui/. Everything started is stopped on exit; UI_DEADLINE_S (default 180) caps
# the run.
set -euo pipefail
cd "$(dirname "$0")/.."

SELENIUM_REQ="selenium>=4.20,<5"
DEADLINE_S="${UI_DEADLINE_S:-180}"
PY=.venv/bin/python
KEY="ui-test-key-$(date +%s%N)"

log() { echo "ui-test: $*" >&2; }

scripts/need.sh chromium chromedriver:chromium-driver
scripts/redis.sh install

# --- Selenium in .venv (one installer at a time: the other tools share .venv) ---------
present() { [ -x "$PY" ] && "$PY" -c 'import selenium' 2>/dev/null; }
if ! present; then
  exec 9>.venv.lock
  flock 9
  if ! present; then
    [ -x "$PY" ] || python3 -m venv .venv || {
      log "python3 -m venv failed; on Debian/Ubuntu: apt-get install python3-venv"; exit 1; }
    log "installing $SELENIUM_REQ from PyPI into .venv"
    "$PY" -m pip install --quiet --disable-pip-version-check "$SELENIUM_REQ"
  fi
  exec 9>&-
fi

cargo build --quiet --bin ttp

work="$(mktemp -d -t ttp-ui.XXXXXX)"
redis_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

redis_port="$(scripts/free-port.sh)"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save "" --appendonly no \
  --maxmemory-policy noeviction --logfile "$work/redis.log" &
redis_pid=$!

log "$(chromium --version 2>/dev/null), $(chromedriver --version | cut -d' ' -f1-2)"
# The test starts (and restarts) ttp itself, with request logs at info so that a key
# leaking into a URL would show in them.
TTP_BIN=target/debug/ttp UI_REDIS_URL="redis://127.0.0.1:$redis_port" \
  UI_PORT="$(scripts/free-port.sh)" UI_KEY="$KEY" UI_SHOTS=target/ui SE_OFFLINE=true \
  timeout --kill-after=10 "$DEADLINE_S" "$PY" tests/ui/dashboard_test.py
log "passed; screenshots in target/ui/"
