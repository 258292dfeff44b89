#!/usr/bin/env bash
# `make clients`: proves the committed openapi/openapi.json with the tools people use.
#
#  1. installs the pinned tools: scripts/clients/requirements.txt from PyPI into
#     .venv-clients/, scripts/clients/package-lock.json from npm into
#     target/clients-tools/node/ (both git-ignored; reinstalled only when a pin changes);
#  2. checks the committed document is what `ttp openapi` prints;
#  3. `redocly lint` (recommended rules, openapi/redocly.yaml): no error, no warning
#     beyond the reasoned exceptions of openapi/.redocly.lint-ignore.yaml;
#  4. generates the Python client (openapi-python-client) into target/clients/python
#     and the TypeScript types (openapi-typescript) into target/clients/typescript; any
#     generator warning fails the run; every Python module must import, mypy --strict
#     and tsc --noEmit must accept the examples in examples/clients/;
#  5. runs both examples against a private ttp with an API key (scripts/with-ttp.sh).
#
# Needs python3 (with venv) and Node.js >= 20.19 with npm. Stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-clients
NODE_DIR=target/clients-tools/node
OUT=target/clients
PINS=scripts/clients
started=$(date +%s)
log() { echo "clients: $*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

export PATH="$PWD/$VENV/bin:$PWD/$NODE_DIR/node_modules/.bin:$PATH"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

# --- 5. the live part, run by scripts/with-ttp.sh (TTP_URL set, CLIENTS_KEY configured) ---
if [ "${1:-}" = "--live" ]; then
  PYTHONPATH="$OUT/python" python examples/clients/python/smoke.py "$TTP_URL" "$CLIENTS_KEY"
  TTP_API_KEY="$CLIENTS_KEY" node "$OUT/typescript/out/example.js"
  exit 0
fi

# --- 1. tools ------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  python3 -m venv "$VENV" || fail "python3 -m venv failed; on Debian/Ubuntu: apt-get install python3-venv"
fi
if ! cmp -s "$PINS/requirements.txt" "$VENV/.pins"; then
  log "installing $PINS/requirements.txt from PyPI into $VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$PINS/requirements.txt"
  cp "$PINS/requirements.txt" "$VENV/.pins"
fi
command -v node >/dev/null && command -v npm >/dev/null \
  || fail "node and npm are needed (Node.js >= 20.19, e.g. from nodejs.org or NodeSource)"
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' \
  || fail "Node.js $(node --version) is too old for @redocly/cli: 20.19 or later is needed"
if [ ! -d "$NODE_DIR/node_modules" ] || ! cmp -s "$PINS/package-lock.json" "$NODE_DIR/package-lock.json"; then
  log "installing $PINS/package-lock.json from npm into $NODE_DIR"
  rm -rf "$NODE_DIR" && mkdir -p "$NODE_DIR"
  cp "$PINS/package.json" "$PINS/package-lock.json" "$NODE_DIR/"
  npm ci --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error
fi
log "tools: $(openapi-python-client --version), ruff $(ruff --version | cut -d' ' -f2), $(mypy --version | cut -d' ' -f1-2), openapi-typescript $(openapi-typescript --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1), redocly $(redocly --version 2>/dev/null | tail -1), tsc $(tsc --version | cut -d' ' -f2), node $(node --version)"

# --- 2. the committed document is the generated one -----------------------------------
cargo build --quiet --bin ttp
target/debug/ttp openapi | cmp -s - openapi/openapi.json || fail "openapi/openapi.json is stale; refresh it with
  cargo run -- openapi > openapi/openapi.json && cargo run -- openapi --yaml > openapi/openapi.yaml"
rm -rf "$OUT" && mkdir -p "$OUT/typescript"

# --- 3. redocly lint ------------------------------------------------------------------
# (Redocly prints a boxed notice about Node.js versions on Node 20; it is no finding.)
redocly lint --config openapi/redocly.yaml openapi/openapi.json >"$OUT/redocly.log" 2>&1 \
  || { cat "$OUT/redocly.log" >&2; fail "redocly lint found errors"; }
if grep -qE "You have [0-9]+ warnings?|Validation failed" "$OUT/redocly.log"; then
  cat "$OUT/redocly.log" >&2; fail "redocly lint warns"
fi
grep -E "Your API description is valid|explicitly ignored" "$OUT/redocly.log" | sed 's/^/redocly: /' >&2

# --- 4. generators ----------------------------------------------------------------------
openapi-python-client generate --path openapi/openapi.json \
  --config "$PINS/openapi-python-client.yaml" --output-path "$OUT/python" --overwrite \
  >"$OUT/python.log" 2>&1 || { cat "$OUT/python.log" >&2; fail "openapi-python-client"; }
if grep -qiE "warning|error|unable|skipping" "$OUT/python.log"; then
  cat "$OUT/python.log" >&2; fail "openapi-python-client warns"
fi
sed 's/^/openapi-python-client: /' "$OUT/python.log" >&2
PYTHONPATH="$OUT/python" python -c '
import importlib, pkgutil, ttp_client
names = [m.name for m in pkgutil.walk_packages(ttp_client.__path__, "ttp_client.")]
for name in names:
    importlib.import_module(name)
print(f"python: all {len(names)} modules of ttp_client import")' >&2
MYPYPATH="$OUT/python" mypy --strict --cache-dir target/clients-tools/mypy-cache \
  examples/clients/python/smoke.py | sed 's/^/mypy: /' >&2

openapi-typescript openapi/openapi.json -c openapi/redocly.typegen.yaml \
  -o "$OUT/typescript/ttp.d.ts" >"$OUT/typescript.log" 2>&1 \
  || { cat "$OUT/typescript.log" >&2; fail "openapi-typescript"; }
if grep -vE "openapi-typescript [0-9.]+$|→ .*\[[0-9.]+m?s\]$|^$" "$OUT/typescript.log" | grep -q .; then
  cat "$OUT/typescript.log" >&2; fail "openapi-typescript warns"
fi
sed 's/^/openapi-typescript: /' "$OUT/typescript.log" >&2
cp examples/clients/typescript/example.ts examples/clients/typescript/tsconfig.json "$OUT/typescript/"
echo '{"type": "module"}' >"$OUT/typescript/package.json"
(cd "$OUT/typescript" && tsc -p tsconfig.json --noEmit && tsc -p tsconfig.json --noCheck) \
  || fail "tsc rejects examples/clients/typescript/example.ts"
log "tsc --noEmit: examples/clients/typescript/example.ts type-checks"

# --- 5. both clients against a live ttp -------------------------------------------------
CLIENTS_KEY="clients-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
export CLIENTS_KEY
TTP_API_KEYS="$CLIENTS_KEY" scripts/with-ttp.sh "$0" --live
log "passed in $(( $(date +%s) - started )) s (clients in $OUT/)"
