#!/usr/bin/env bash
# `make api-fuzz`: spec-driven fuzzing of the HTTP API with schemathesis.
#
# Installs schemathesis from PyPI into .venv/ (git-ignored; reused when present), starts
# a private redis-server and a debug `ttp serve` on free ports (scripts/with-ttp.sh),
# checks that the served /openapi.json is the committed openapi/openapi.json, then runs
# schemathesis with every check (no 5xx, status codes, content types, headers and
# bodies conform to the spec, invalid data rejected, valid data accepted, 405 + Allow
# for undocumented methods, a deleted resource is gone, ...), none excluded.
#
# It fuzzes `ttp openapi --fuzz`: the committed document with the task request as one
# variant per kind carrying that kind's payload rules. The committed document keeps the
# request open (any kind name, any payload: kinds can be declared while ttp runs), which
# a fuzzer would read as "every payload is valid"; the variant tells it the rules ttp
# actually enforces, so "schema-valid request accepted" holds on POST /tasks too. The
# variant also bounds `lease_ms` by the default TTP_LEASE_MAX_MS (a setting the document
# can only name) and leaves `wait_ms` out of a claim, so that claims on the mostly empty
# queues a fuzzer picks answer at once instead of waiting out up to 30 s each.
#
# `GET /ui/events` (the dashboard's stream) is left out: it is endless by design, so every
# call would end at the request timeout; tests/it/dashboard.rs covers it.
#
# scripts/api-fuzz.toml narrows one schemathesis warning (missing test data) for the
# operations that need a lease token or a task in the right state, and says why.
#
# Knobs (not TTP_*, which ttp would reject as unknown settings): FUZZ_MAX_EXAMPLES
# (default 100 per operation and phase), FUZZ_SEED, FUZZ_WORKERS (default 1: several
# workers parse ASTs in threads, which trips a CPython 3.11 bug inside hypothesis),
# FUZZ_ARGS (extra schemathesis arguments).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_REQ="schemathesis>=4.32,<5"
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-100}"
WORKERS="${FUZZ_WORKERS:-1}"

log() { echo "api-fuzz: $*" >&2; }

# --- against the running ttp (scripts/with-ttp.sh sets TTP_URL) -------------------------
if [ "${1:-}" = "--against-ttp" ]; then
  fetch() {
    .venv/bin/python -c 'import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1], timeout=5).read())' "$1" 2>/dev/null
  }
  if ! fetch "$TTP_URL/openapi.json" | cmp -s - openapi/openapi.json; then
    log "the served /openapi.json differs from openapi/openapi.json; refresh it with"
    log "  cargo run -- openapi > openapi/openapi.json && cargo run -- openapi --yaml > openapi/openapi.yaml"
    exit 1
  fi
  spec="$(mktemp --suffix=.json)"
  trap 'rm -f "$spec"' EXIT
  target/debug/ttp openapi --fuzz >"$spec"
  log "schemathesis against $TTP_URL with every check, on the --fuzz variant of the document"
  seed_args=()
  if [ -n "${FUZZ_SEED:-}" ]; then seed_args=(--seed "$FUZZ_SEED"); fi
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of words on purpose
  .venv/bin/schemathesis --config-file scripts/api-fuzz.toml run "$spec" \
    --url "$TTP_URL" \
    --checks all \
    --exclude-path /ui/events \
    --max-examples "$MAX_EXAMPLES" \
    --workers "$WORKERS" \
    --request-timeout 40 \
    --max-response-time 36 \
    "${seed_args[@]}" \
    ${FUZZ_ARGS:-}
  exit 0
fi

# --- schemathesis in .venv ------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv || {
    log "python3 -m venv failed; on Debian/Ubuntu: apt-get install python3-venv"
    exit 1
  }
fi
if ! .venv/bin/python -c 'import schemathesis' 2>/dev/null; then
  log "installing $SCHEMATHESIS_REQ from PyPI into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check "$SCHEMATHESIS_REQ"
fi
log "$(.venv/bin/schemathesis --version)"

cargo build --quiet --bin ttp
scripts/with-ttp.sh "$0" --against-ttp
log "passed"
