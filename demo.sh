#!/usr/bin/env bash
# demo.sh — the 30-second demo of ttp, without Docker:
#   1. start a Redis (AOF on) and `ttp serve` on spare loopback ports;
#   2. enqueue 10,000 tasks (sleeps, telemetry aggregations, some retried, 1 % failing on
#      purpose) and show live throughput and success rate while they run;
#   3. Ctrl+C ttp (SIGINT) mid-run, once every task is accepted: it stops claiming, lets
#      running tasks finish, exits 0;
#   4. restart ttp: the waiting tasks are still in Redis and run to the end; every one of
#      the 10,000 is accounted for;
#   5. restart Redis and ttp once more: results and the dead-letter list are still there.
# Bounded in time (DEMO_DEADLINE_S); stops everything it started and deletes its
# temporary directory on exit, Ctrl+C included. Needs cargo, curl and redis-server
# (installed by scripts/redis.sh when missing).
#
# Knobs: DEMO_TASKS (10000), DEMO_CONCURRENCY (64), DEMO_TASK_MS (150: sleep tasks last
# 10..N ms), DEMO_STOP_AFTER_S (2: seconds between the last submission and the Ctrl+C),
# DEMO_DEADLINE_S (240), DEMO_KEEP=1 keeps the temporary directory.
set -euo pipefail
cd "$(dirname "$0")"

TASKS="${DEMO_TASKS:-10000}"
CONCURRENCY="${DEMO_CONCURRENCY:-64}"
TASK_MS="${DEMO_TASK_MS:-150}"
STOP_AFTER_S="${DEMO_STOP_AFTER_S:-2}"
DEADLINE_S="${DEMO_DEADLINE_S:-240}"
STARTED=$(date +%s)

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
elapsed() { echo $(( $(date +%s) - STARTED )); }
check_deadline() { [ "$(elapsed)" -lt "$DEADLINE_S" ] || die "over the ${DEADLINE_S} s deadline"; }


command -v curl >/dev/null || die "curl is needed (apt-get install curl)"
command -v python3 >/dev/null || die "python3 is needed (apt-get install python3)"
command -v cargo >/dev/null || die "cargo is needed (https://rustup.rs)"

WORK=$(mktemp -d -t ttp-demo.XXXXXX)
REDIS_PORT=$(scripts/free-port.sh)
TTP_PORT=$(scripts/free-port.sh)
URL="http://127.0.0.1:$TTP_PORT"
TTP_PID=""

redis() { DEV_REDIS_PORT=$REDIS_PORT DEV_REDIS_DIR="$WORK/redis" scripts/redis.sh "$@"; }

stop_ttp() {
  local signal="${1:-TERM}"
  [ -n "$TTP_PID" ] || return 0
  kill -"$signal" "$TTP_PID" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$TTP_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$TTP_PID" 2>/dev/null; then kill -KILL "$TTP_PID" 2>/dev/null || true; fi
  local status=0
  wait "$TTP_PID" 2>/dev/null || status=$?
  TTP_PID=""
  return "$status"
}

cleanup() {
  trap - EXIT INT TERM
  if [ -n "${SUBMIT_PID:-}" ]; then
    pkill -TERM -P "$SUBMIT_PID" 2>/dev/null || true   # the producer
    kill "$SUBMIT_PID" 2>/dev/null || true
  fi
  stop_ttp TERM >/dev/null 2>&1 || true
  redis stop >/dev/null 2>&1 || true
  if [ "${DEMO_KEEP:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

start_ttp() {
  # env -u: keep the dev Redis settings out of the environment of ttp.
  env -u DEV_REDIS_PORT -u DEV_REDIS_DIR \
    TTP_LISTEN="127.0.0.1:$TTP_PORT" TTP_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
    TTP_CONCURRENCY="$CONCURRENCY" TTP_BACKOFF_BASE_MS=200 TTP_BACKOFF_MAX_MS=1000 \
    TTP_SHUTDOWN_GRACE_MS=5000 TTP_LOG=info TTP_LOG_FORMAT=text \
    "$BIN" serve >>"$WORK/ttp.log" 2>&1 &
  TTP_PID=$!
  for _ in $(seq 1 100); do
    if curl -fsS --max-time 1 "$URL/readyz" >/dev/null 2>&1; then
      say "ttp serve (pid $TTP_PID) ready on $URL, concurrency $CONCURRENCY"
      return 0
    fi
    kill -0 "$TTP_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$WORK/ttp.log" >&2
  die "ttp did not become ready"
}

# The submission step, in one place: enqueue $1 tasks with the producer example, writing
# one line per accepted task id to $2 as they are accepted. The mix: 1 % fail for good
# (they end in the dead-letter list), 5 % fail once and succeed on the retry, 10 %
# aggregate telemetry samples, the rest sleep 10..$TASK_MS ms (simulated I/O). Every
# request carries an idempotency key, so one refused while ttp is down is sent again
# without ever creating a duplicate.
submit_tasks() {
  local n="$1" ids="$2" mix="$WORK/mix.jsonl"
  awk -v n="$n" -v ms="$TASK_MS" 'BEGIN {
    for (i = 0; i < n; i++) {
      if (i % 100 == 99) print "{\"kind\":\"fail\",\"payload\":{\"message\":\"demo: permanent failure\",\"retryable\":false}}"
      else if (i % 20 == 1) print "{\"kind\":\"fail\",\"payload\":{\"fail_first\":1}}"
      else if (i % 10 == 2) printf "{\"kind\":\"telemetry.aggregate\",\"payload\":{\"samples\":[%d,%d,%d,%d,%d]}}\n", i % 7, i % 11, i % 13, i % 17, i % 19
      else printf "{\"kind\":\"sleep\",\"payload\":{\"ms\":%d}}\n", 10 + (i * 37) % (ms - 9)
    }
  }' > "$mix"
  "$PRODUCER" --url "$URL" --count "$n" --requests "$mix" --ids "$ids" --no-wait \
    --concurrency 16 --retry-for-ms 60000 >>"$WORK/submit.log" 2>>"$WORK/submit.err" || true
}

# Sums the samples of metric $1 whose labels contain $2 in /metrics text on stdin.
metric_sum() {
  awk -v name="$1" -v want="${2:-}" '
    index($0, name) == 1 && (substr($0, length(name) + 1, 1) == "{" || substr($0, length(name) + 1, 1) == " ") {
      if (want == "" || index($0, want) > 0) s += $NF
    }
    END { printf "%d", s }'
}

# One line per second until the queue is drained, ttp exits, or $1 seconds pass.
# Done = accepted − (queued + scheduled + running), read from Redis through /metrics, so it
# counts across restarts; succeeded % is over this process's finished tasks.
PREV_DONE="" PREV_T=""
watch_progress() {
  local seconds="$1" ids="$2"
  for _ in $(seq 1 "$seconds"); do
    check_deadline
    kill -0 "$TTP_PID" 2>/dev/null || return 0
    local m accepted queued scheduled running dead succeeded failed retried finished rate ratio now
    m=$(curl -fsS --max-time 2 "$URL/metrics" 2>/dev/null) || { say "(ttp does not answer)"; sleep 1; continue; }
    accepted=$(wc -l < "$ids")
    queued=$(metric_sum ttp_queue_depth 'state="queued"' <<<"$m")
    scheduled=$(metric_sum ttp_queue_depth 'state="scheduled"' <<<"$m")
    running=$(metric_sum ttp_queue_depth 'state="running"' <<<"$m")
    dead=$(metric_sum ttp_queue_depth 'state="failed"' <<<"$m")
    succeeded=$(metric_sum ttp_tasks_finished_total 'outcome="succeeded"' <<<"$m")
    failed=$(metric_sum ttp_tasks_finished_total 'outcome="failed"' <<<"$m")
    retried=$(metric_sum ttp_tasks_finished_total 'outcome="retried"' <<<"$m")
    finished=$(( accepted - queued - scheduled - running ))
    now=$(date +%s.%N)
    rate="-"
    if [ -n "$PREV_DONE" ]; then
      rate=$(awk -v a="$finished" -v b="$PREV_DONE" -v t="$now" -v u="$PREV_T" 'BEGIN { printf "%d", (a - b) / (t - u) }')
    fi
    ratio=$(awk -v s="$succeeded" -v f="$failed" 'BEGIN { if (s + f) printf "%.1f%%", 100 * s / (s + f); else print "-" }')
    printf '   %4ss  accepted %5d  queued %5d  running %3d  scheduled %3d  done %5d  %5s tasks/s  success %6s  retried %4d  dead-letter %3d\n' \
      "$(elapsed)" "$accepted" "$queued" "$running" "$scheduled" "$finished" "$rate" "$ratio" "$retried" "$dead"
    PREV_DONE=$finished; PREV_T=$now
    if [ -z "${SUBMIT_PID:-}" ] && [ "$finished" -ge "$TASKS" ]; then return 0; fi
    sleep 1
  done
}

# States of every task id in $1, fetched through the API: "count state" lines.
tally_states() {
  local ids="$1" config="$WORK/get.curl"
  awk -v base="$URL/tasks/" '{
    if (NR > 1) print "next"
    printf "url = \"%s%s\"\noutput = \"/dev/stdout\"\nwrite-out = \"\\n\"\n", base, $1
  }' "$ids" > "$config"
  curl -sS --no-progress-meter -Z --parallel-max 8 -K "$config" \
    | grep -o '"state":"[a-z_]*"' | cut -d'"' -f4 | sort | uniq -c
}

queues() { curl -fsS --max-time 5 "$URL/queues"; echo; }

########################################################################################
bold "build (release)"
cargo build --release --quiet --bin ttp --example producer
TARGET="$(cargo metadata --format-version 1 --no-deps | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)"
BIN="$TARGET/release/ttp"
PRODUCER="$TARGET/release/examples/producer"
say "$BIN"

bold "start Redis (AOF, noeviction) and ttp"
redis start 2>&1 | sed 's/^/   /'
start_ttp

bold "enqueue $TASKS tasks, then watch them run"
IDS="$WORK/ids"
: > "$IDS"
STARTED=$(date +%s)
submit_tasks "$TASKS" "$IDS" &
SUBMIT_PID=$!
while kill -0 "$SUBMIT_PID" 2>/dev/null; do watch_progress 1 "$IDS"; done
wait "$SUBMIT_PID" || true
SUBMIT_PID=""
ACCEPTED=$(wc -l < "$IDS")
[ "$ACCEPTED" -eq "$TASKS" ] || die "only $ACCEPTED of $TASKS submissions were accepted (see $WORK/submit.err)"
watch_progress "$STOP_AFTER_S" "$IDS"

bold "Ctrl+C: SIGINT to ttp mid-run"
say "GET /queues before: $(queues)"
status=0
stop_ttp INT || status=$?
say "ttp exited with status $status; its log:"
grep -E 'shutdown signal|shutting down|stopped' "$WORK/ttp.log" | tail -n 3 | sed 's/^/     /'

bold "restart ttp: the waiting tasks are still in Redis and run to the end"
start_ttp
say "GET /queues right after the restart: $(queues)"
watch_progress "$DEADLINE_S" "$IDS"

bold "every accepted task accounted for"
TALLY=$(tally_states "$IDS")
echo "$TALLY" | sed 's/^/   /'
terminal=$(echo "$TALLY" | awk '$2 == "succeeded" || $2 == "failed" { s += $1 } END { print s + 0 }')
failed=$(echo "$TALLY" | awk '$2 == "failed" { print $1 }')
expected_failed=$(awk -v n="$TASKS" 'BEGIN { print int(n / 100) }')
say "$terminal of $ACCEPTED accepted tasks finished; ${failed:-0} failed (the $expected_failed that fail on purpose, in the dead-letter list)"
[ "$terminal" -eq "$TASKS" ] || die "$(( TASKS - terminal )) tasks did not finish"
[ "${failed:-0}" -eq "$expected_failed" ] || die "expected $expected_failed failed tasks, got ${failed:-0}"

bold "restart Redis (reloads its AOF) and ttp: results are still there"
stop_ttp TERM || true
redis stop 2>&1 | sed 's/^/   /'
redis start 2>&1 | sed 's/^/   /'
start_ttp
for id in $(head -n 100 "$IDS"); do
  view=$(curl -fsS "$URL/tasks/$id")
  case "$view" in *'"kind":"telemetry.aggregate"'*) break ;; esac
done
say "GET /tasks/$id"
echo "$view" | sed 's/^/     /'
say "GET /queues/default/dead?limit=2"
curl -fsS "$URL/queues/default/dead?limit=2" | cut -c1-400 | sed 's/^/     /'; echo
say "GET /queues: $(queues)"

bold "done in $(elapsed) s: $TASKS tasks, ttp interrupted once, nothing lost"
