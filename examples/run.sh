#!/usr/bin/env bash
# `make examples-run`: runs every example against a real, private Redis:
#   1. custom_handler: ttp in-process, one task of each custom kind end to end;
#   2. consumer in the background (built-ins + text.wordcount + http.check), then
#      curl submits a text.wordcount task and checks its result, and an invalid payload
#      and checks the 422;
#   3. producer: 2,000 tasks one request each, then 2,000 through POST /tasks/batch;
#   4. SIGTERM to the consumer: it must exit 0 (graceful shutdown).
# Expects the examples built (`cargo build --examples`). Every step is bounded
# (EXAMPLES_DEADLINE_S caps the whole run); everything started here is stopped, and the
# temporary directory deleted, on exit, Ctrl+C included.
set -euo pipefail
cd "$(dirname "$0")/.."

DEADLINE_S="${EXAMPLES_DEADLINE_S:-300}"
COUNT="${EXAMPLES_COUNT:-2000}"
BIN="${EXAMPLES_BIN:-target/debug/examples}"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { printf 'examples-run: %s\n' "$*" >&2; exit 1; }


for example in consumer producer custom_handler; do
  [ -x "$BIN/$example" ] || die "$BIN/$example missing: run cargo build --examples"
done
command -v curl >/dev/null || die "curl is needed"

WORK=$(mktemp -d -t ttp-examples.XXXXXX)
REDIS_PORT=$(scripts/free-port.sh)
PORT=$(scripts/free-port.sh)
URL="http://127.0.0.1:$PORT"
CONSUMER_PID=""
WATCHDOG_PID=""
STEP_PID=""

redis() { DEV_REDIS_PORT=$REDIS_PORT DEV_REDIS_DIR="$WORK/redis" scripts/redis.sh "$@"; }

# The environment of the examples that embed ttp (without the dev Redis settings).
TTP_ENV=(env -u DEV_REDIS_PORT -u DEV_REDIS_DIR
  TTP_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" TTP_LOG="${TTP_LOG:-warn}")

# Runs one step in the background and waits for it, so that a signal (Ctrl+C, the
# watchdog) interrupts the wait at once and the cleanup stops the step.
step() {
  "$@" &
  STEP_PID=$!
  local status=0
  wait "$STEP_PID" || status=$?
  STEP_PID=""
  return "$status"
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$STEP_PID" ]; then kill -TERM "$STEP_PID" 2>/dev/null || true; fi
  if [ -n "$CONSUMER_PID" ] && kill -0 "$CONSUMER_PID" 2>/dev/null; then
    kill -TERM "$CONSUMER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$CONSUMER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CONSUMER_PID" 2>/dev/null || true
  fi
  if [ -n "$WATCHDOG_PID" ]; then kill "$WATCHDOG_PID" 2>/dev/null || true; fi
  redis stop >/dev/null 2>&1 || true
  if [ "$status" -ne 0 ] && [ -f "$WORK/consumer.log" ]; then
    echo "--- consumer log (last 30 lines)" >&2
    tail -n 30 "$WORK/consumer.log" >&2
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'echo "examples-run: interrupted" >&2; exit 130' INT TERM

# The whole run is bounded: past the deadline, the watchdog interrupts this script
# (whose trap then stops everything); the consumer also stops by itself 30 s later, in
# case this script is killed outright.
(
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  sleep "$DEADLINE_S" & nap=$!
  wait "$nap"
  echo "examples-run: over the ${DEADLINE_S} s deadline" >&2
  kill -TERM $$
) &
WATCHDOG_PID=$!

say "private Redis on 127.0.0.1:$REDIS_PORT"
redis start

say "custom_handler: ttp in-process, one task of each custom kind"
step "${TTP_ENV[@]}" TTP_KEY_PREFIX=ttp-example timeout 60 "$BIN/custom_handler"

say "consumer on $URL (built-in kinds + text.wordcount + http.check)"
"${TTP_ENV[@]}" TTP_LISTEN="127.0.0.1:$PORT" TTP_CONCURRENCY=16 \
  "$BIN/consumer" --exit-after-ms $(( (DEADLINE_S + 30) * 1000 )) >"$WORK/consumer.log" 2>&1 &
CONSUMER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS --max-time 1 "$URL/readyz" >/dev/null 2>&1 && break
  kill -0 "$CONSUMER_PID" 2>/dev/null || die "the consumer exited"
  sleep 0.1
done
curl -fsS --max-time 1 "$URL/readyz" >/dev/null || die "the consumer did not become ready"

say "curl: a text.wordcount task"
body='{"kind":"text.wordcount","payload":{"text":"to be, or not to be: that is the question","top":2}}'
echo "POST /tasks $body"
accepted=$(curl -fsS --max-time 5 "$URL/tasks" -H 'content-type: application/json' -d "$body")
id=$(grep -o '"id":"[^"]*"' <<<"$accepted" | head -n 1 | cut -d'"' -f4)
[ -n "$id" ] || die "no id in $accepted"
view=$(curl -fsS --max-time 15 "$URL/tasks/$id?wait_ms=10000")
echo "GET /tasks/$id?wait_ms=10000"
echo "$view"
grep -q '"state":"succeeded"' <<<"$view" || die "the task did not succeed"
grep -q '"words":10' <<<"$view" || die "wrong word count"
grep -q '"top":\[\["be",2\],\["to",2\]\]' <<<"$view" || die "wrong top words"

say "curl: an invalid text.wordcount payload is refused with 422"
status=$(curl -sS --max-time 5 -o "$WORK/problem.json" -w '%{http_code}' "$URL/tasks" \
  -H 'content-type: application/json' -d '{"kind":"text.wordcount","payload":{"txt":"a"}}')
cat "$WORK/problem.json"; echo
[ "$status" = 422 ] || die "expected 422, got $status"

say "producer: $COUNT text.wordcount tasks, one POST /tasks each"
step timeout 120 "$BIN/producer" --url "$URL" --count "$COUNT" --kind text.wordcount \
  --payload '{"text":"the quick brown fox"}' --wait-timeout-s 90 --strict

say "producer: $COUNT noop tasks through POST /tasks/batch"
step timeout 120 "$BIN/producer" --url "$URL" --count "$COUNT" --batch --wait-timeout-s 90 --strict

say "SIGTERM to the consumer: graceful shutdown, exit 0"
kill -TERM "$CONSUMER_PID"
status=0
step timeout 40 tail --pid="$CONSUMER_PID" -f /dev/null || die "the consumer did not stop"
wait "$CONSUMER_PID" || status=$?
CONSUMER_PID=""
[ "$status" -eq 0 ] || die "the consumer exited with $status"
echo "consumer exited 0"

say "examples-run: all examples passed"
