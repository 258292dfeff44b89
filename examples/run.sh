#!/usr/bin/env bash
# `make examples-run`: runs every example against a real, private Redis:
#   1. custom_handler: ttp in-process, one task of each custom kind end to end;
#   2. consumer in the background (built-ins + text.wordcount + http.check), then
#      curl submits a text.wordcount task and checks its result, and an invalid payload
#      and checks the 422;
#   3. producer: 2,000 tasks one request each, then 2,000 through POST /tasks/batch;
#   4. external workers through the lease API: examples/worker.py (Python standard
#      library) declares its kinds and runs COUNT/4 py.sha256 tasks, dead-letters a
#      permanent failure and, on SIGTERM mid-task, releases the task and exits 0;
#      examples/worker.sh (curl + jq) does the same with sh.wc and sh.sleep;
#   5. SIGTERM to the consumer: it must exit 0 (graceful shutdown).
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
scripts/need.sh curl jq python3

WORK=$(mktemp -d -t ttp-examples.XXXXXX)
REDIS_PORT=$(scripts/free-port.sh)
PORT=$(scripts/free-port.sh)
URL="http://127.0.0.1:$PORT"
CONSUMER_PID=""
WORKER_PID=""
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
  if [ -n "$WORKER_PID" ]; then kill -KILL "$WORKER_PID" 2>/dev/null || true; fi
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
  for log in "$WORK"/worker.*.log; do
    [ "$status" -ne 0 ] && [ -f "$log" ] || continue
    echo "--- $(basename "$log") (last 20 lines)" >&2
    tail -n 20 "$log" >&2
  done
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

# POSTs a task ($1, JSON) and prints its id.
submit() {
  local answer
  answer=$(curl -fsS --max-time 5 "$URL/tasks" -H 'content-type: application/json' -d "$1")
  grep -o '"id":"[^"]*"' <<<"$answer" | head -n 1 | cut -d'"' -f4
}

# Waits for task $1 to reach state $2 (up to 20 s) and prints its view.
await_state() {
  local view
  for _ in $(seq 1 200); do
    view=$(curl -fsS --max-time 5 "$URL/tasks/$1")
    grep -q "\"state\":\"$2\"" <<<"$view" && { echo "$view"; return 0; }
    sleep 0.1
  done
  die "task $1 never reached $2: $view"
}

# Sends SIGTERM to the external worker while task $1 runs; it must release the task
# (queued again, attempt not counted) and exit 0.
stop_mid_task() {
  await_state "$1" running >/dev/null
  kill -TERM "$WORKER_PID"
  local status=0
  step timeout 30 tail --pid="$WORKER_PID" -f /dev/null || die "the worker did not stop"
  wait "$WORKER_PID" || status=$?
  WORKER_PID=""
  [ "$status" -eq 0 ] || die "the worker exited with $status"
  await_state "$1" queued | grep -q '"attempts":0' || die "released task $1 counted an attempt"
  echo "SIGTERM mid-task: released $1 (queued, attempts 0), worker exited 0"
}

say "examples/worker.py: a Python worker on queue py (lease API, standard library only)"
python3 examples/worker.py --url "$URL" --queue py --batch 50 --wait-ms 2000 --declare \
  >"$WORK/worker.py.log" 2>&1 &
WORKER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS --max-time 1 "$URL/kinds" | grep -q '"py.sleep"' && break
  sleep 0.1
done
step timeout 120 "$BIN/producer" --url "$URL" --count $(( COUNT / 4 )) --kind py.sha256 \
  --payload '{"text":"abc"}' --wait-timeout-s 90 --strict
id=$(submit '{"kind":"py.sha256","payload":{"text":"abc"}}')
await_state "$id" succeeded | grep -q ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad \
  || die "wrong sha256 from worker.py"
id=$(submit '{"kind":"py.sleep","payload":{"fail":"permanent"}}')
await_state "$id" failed >/dev/null
curl -fsS --max-time 5 "$URL/queues/py/dead" | grep -q "$id" || die "$id not in the dead letters"
echo "a permanent failure went to the dead letters at once"
stop_mid_task "$(submit '{"kind":"py.sleep","payload":{"ms":60000}}')"

say "examples/worker.sh: a shell worker on queue sh (curl + jq)"
TTP_URL="$URL" WORKER_WAIT_MS=2000 examples/worker.sh sh --declare >"$WORK/worker.sh.log" 2>&1 &
WORKER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS --max-time 1 "$URL/kinds" | grep -q '"sh.wc"' && break
  sleep 0.1
done
id=$(submit '{"kind":"sh.wc","payload":{"text":"to be or\nnot to be\n"}}')
await_state "$id" succeeded | grep -q '"result":{"bytes":19,"lines":2,"words":6}' \
  || die "wrong counts from worker.sh"
echo "sh.wc counted by worker.sh"
curl -fsS --max-time 5 -X PUT "$URL/kinds/sh.sleep" -H 'content-type: application/json' \
  -d '{"queue":"sh","description":"sleeps s seconds","payload_schema":{"type":"object"}}' >/dev/null
stop_mid_task "$(submit '{"kind":"sh.sleep","payload":{"s":60}}')"

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
