#!/usr/bin/env bash
# A ttp worker in shell: curl + jq, one task at a time.
#
#   TTP_URL=http://127.0.0.1:8080 examples/worker.sh sh            # queue "sh"
#   TTP_URL=… examples/worker.sh sh --declare                      # declare sh.wc first
#
# It runs the kind `sh.wc` (payload {"text": "..."}, result {"lines", "words", "bytes"}
# as counted by `wc`; --declare declares it with its schema, which needs the admin
# scope) and `sh.sleep` ({"s": seconds}, for demos), and fails any other kind
# permanently. The lease protocol:
#   claim     POST /queues/$QUEUE/claim {"wait_ms", "lease_ms", "claim_id", "worker_id"}
#   heartbeat POST /tasks/$id/heartbeat {"lease_token"}   (in the background, every third
#             of the lease, while the task runs)
#   complete  POST /tasks/$id/complete {"lease_token", "result"}
#   fail      POST /tasks/$id/fail {"lease_token", "error", "retryable"}
#   release   POST /tasks/$id/release {"lease_token"}     (on SIGTERM/SIGINT)
# A claim whose answer was lost is sent again with the same claim_id (same tasks, no
# attempt lost); a 409 means the lease ended and another worker has the task.
# TTP_API_KEY, when set, is sent as a Bearer token. WORKER_MAX_TASKS=N exits after N.
set -euo pipefail

URL="${TTP_URL:-http://127.0.0.1:8080}"
QUEUE="${1:-sh}"
LEASE_MS="${WORKER_LEASE_MS:-30000}"
WAIT_MS="${WORKER_WAIT_MS:-20000}"
MAX_TASKS="${WORKER_MAX_TASKS:-0}"
WORKER_ID="${WORKER_ID:-$(hostname)-sh-$$}"
AUTH=()
[ -n "${TTP_API_KEY:-}" ] && AUTH=(-H "authorization: Bearer $TTP_API_KEY")

command -v jq >/dev/null || { echo "worker.sh: jq is needed" >&2; exit 1; }

# POST $1 with body $2; prints the answer's body and then its status on the last line.
post() {
  curl -sS --max-time "${3:-10}" -X "${METHOD:-POST}" "${AUTH[@]}" \
    -H 'content-type: application/json' -d "$2" -w '\n%{http_code}' "$URL$1"
}

if [ "${2:-}" = "--declare" ]; then
  schema='{"type":"object","required":["text"],"additionalProperties":false,
           "properties":{"text":{"type":"string"}}}'
  body=$(jq -nc --arg q "$QUEUE" --argjson s "$schema" \
    '{queue: $q, description: "counts lines, words and bytes with wc", payload_schema: $s}')
  answer=$(METHOD=PUT post /kinds/sh.wc "$body")
  case "${answer##*$'\n'}" in 200|201) ;; *) echo "worker.sh: declare: $answer" >&2; exit 1;; esac
fi

WORK=$(mktemp -d -t ttp-worker-sh.XXXXXX)
ID="" TOKEN="" BEAT="" JOB=""
stopping=0
trap 'stopping=1' TERM INT
trap 'cleanup' EXIT

cleanup() {
  [ -n "$JOB" ] && kill "$JOB" 2>/dev/null
  [ -n "$BEAT" ] && kill "$BEAT" 2>/dev/null
  if [ -n "$ID" ]; then  # stopped mid-task: hand it back, the attempt is not counted
    post "/tasks/$ID/release" "$(jq -nc --arg t "$TOKEN" '{lease_token: $t}')" >/dev/null || true
    echo "worker.sh: released $ID" >&2
  fi
  rm -rf "$WORK"
}

# Runs "$@" in the background with its output in $WORK/out and waits for it, so that
# SIGTERM interrupts the wait at once (bash runs traps only between commands). Returns
# the command's status; with stopping=1 the caller decides whether to wait again.
background() {
  "$@" >"$WORK/out" 2>"$WORK/err" &
  JOB=$!
  local status=0
  wait "$JOB" || status=$?
  if [ "$stopping" = 1 ] && kill -0 "$JOB" 2>/dev/null; then return 143; fi
  JOB=""
  return "$status"
}

# Ends the attempt: $1 = complete|fail, $2 = the JSON body without the token.
finish() {
  local body answer status
  body=$(jq -c --arg t "$TOKEN" '. + {lease_token: $t}' <<<"$2")
  for pause in 0.1 0.2 0.4 0.8 1.6 3.2; do
    answer=$(post "/tasks/$ID/$1" "$body") || answer=$'\n000'
    status="${answer##*$'\n'}"
    [ "$status" != 000 ] && [ "$status" -lt 500 ] && break
    sleep "$pause"
  done
  if [ "$status" = 200 ]; then
    echo "${1/%e/}ed $ID $(jq -r .attempts <<<"${answer%$'\n'*}")"
  else  # 409: the lease ended and another worker has the task (or it was cancelled)
    echo "worker.sh: $1 $ID: $status ${answer%$'\n'*}" >&2
  fi
}

run() {  # $1 = kind, $2 = payload; prints the result JSON; status 2 = permanent failure
  case "$1" in
    sh.wc) jq -j .text <<<"$2" | wc -lwc | awk '{printf "{\"lines\":%d,\"words\":%d,\"bytes\":%d}", $1, $2, $3}';;
    sh.sleep) sleep "$(jq -r '.s // 1' <<<"$2")"; echo '{"slept":true}';;
    *) echo "no function for kind $1" >&2; return 2;;
  esac
}

claim_id="" done_count=0
while [ "$stopping" = 0 ]; do
  # A fresh claim_id only once a claim was answered: a lost answer is asked again.
  [ -n "$claim_id" ] || claim_id=$(cat /proc/sys/kernel/random/uuid)
  claim=$(jq -nc --argjson w "$WAIT_MS" --argjson l "$LEASE_MS" --arg c "$claim_id" \
    --arg id "$WORKER_ID" '{max: 1, wait_ms: $w, lease_ms: $l, claim_id: $c, worker_id: $id}')
  background post "/queues/$QUEUE/claim" "$claim" $(( WAIT_MS / 1000 + 10 )) || true
  [ -z "$JOB" ] || { wait "$JOB" || true; JOB=""; }  # stopping: the claim still counts
  answer=$(cat "$WORK/out"); status="${answer##*$'\n'}"
  if [ "$status" != 200 ]; then
    echo "worker.sh: claim: ${status:-no answer} $(cat "$WORK/err")" >&2
    case "$status" in ""|000|429|5*) sleep 1; continue;; *) exit 1;; esac
  fi
  claim_id=""
  task=$(jq -c '.tasks[0] // empty' <<<"${answer%$'\n'*}")
  [ -n "$task" ] || continue
  ID=$(jq -r .id <<<"$task"); TOKEN=$(jq -r .lease_token <<<"$task")
  [ "$stopping" = 0 ] || exit 0  # the EXIT trap releases it
  beat_s=$(( LEASE_MS / 3000 )); [ "$beat_s" -ge 1 ] || beat_s=1
  ( while sleep "$beat_s"; do
      post "/tasks/$ID/heartbeat" "{\"lease_token\":\"$TOKEN\"}" >/dev/null 2>&1 || true
    done ) &
  BEAT=$!
  code=0
  background run "$(jq -r .kind <<<"$task")" "$(jq -c .payload <<<"$task")" || code=$?
  [ "$stopping" = 0 ] || exit 0  # interrupted mid-task: the EXIT trap releases it
  kill "$BEAT" 2>/dev/null || true; wait "$BEAT" 2>/dev/null || true; BEAT=""
  if [ "$code" = 0 ]; then
    finish complete "$(jq -nc --argjson r "$(cat "$WORK/out")" '{result: $r}')"
  else
    retryable=$([ "$code" = 2 ] && echo false || echo true)
    finish fail "$(jq -nc --arg e "$(cat "$WORK/err")" --argjson r "$retryable" '{error: $e, retryable: $r}')"
  fi
  ID="" TOKEN=""
  done_count=$((done_count + 1))
  [ "$MAX_TASKS" -gt 0 ] && [ "$done_count" -ge "$MAX_TASKS" ] && break
done
exit 0
