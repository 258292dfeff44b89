#!/usr/bin/env bash
# The Standard Webhooks reference implementation (`standardwebhooks` from PyPI) in .venv/
# (git-ignored; reused when present), for the push-delivery tests: their receiver
# (scripts/push-receiver.py) verifies every request's signature with it.
#
#   scripts/push-receiver.sh install   install it unless present (safe to run concurrently)
#   scripts/push-receiver.sh python    print the interpreter that has it
set -euo pipefail
cd "$(dirname "$0")/.."

REQ="standardwebhooks>=1.0.0,<2"
PY=.venv/bin/python

present() { [ -x "$PY" ] && "$PY" -c 'import standardwebhooks' 2>/dev/null; }

install() {
  present && return 0
  # Tests run in parallel and may all ask at once: one installs, the others wait.
  exec 9>.venv.lock
  flock 9
  present && return 0
  if [ ! -x "$PY" ]; then
    echo "push-receiver: creating .venv" >&2
    python3 -m venv .venv || {
      echo "push-receiver: python3 -m venv failed; on Debian/Ubuntu: apt-get install python3-venv" >&2
      exit 1
    }
  fi
  echo "push-receiver: installing $REQ from PyPI into .venv" >&2
  "$PY" -m pip install --quiet --disable-pip-version-check "$REQ"
  present
}

case "${1:-}" in
  install) install ;;
  python) install && echo "$(pwd)/$PY" ;;
  *) echo "usage: $0 install|python" >&2; exit 2 ;;
esac
