#!/usr/bin/env bash
# Makes sure commands are installed, from the Debian/Ubuntu packages when missing:
#   scripts/need.sh jq curl redis-cli:redis-tools chromedriver:chromium-driver
#   scripts/need.sh --install python3-venv     (packages, when a caller's own check failed)
# Each argument is `command` or `command:package` (the package when it is named
# otherwise). One `apt-get update` and one `apt-get install` for everything missing;
# fails, naming the command, when a package does not provide it. The one place the
# make targets install what they need (ARCHITECTURE: one owner per idea).
set -euo pipefail

missing=()
if [ "${1:-}" = --install ]; then
  shift
  for package in "$@"; do missing+=("true:$package"); done
  set --
fi
for want in "$@"; do
  command -v "${want%%:*}" >/dev/null 2>&1 || missing+=("$want")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

packages=()
for want in "${missing[@]}"; do
  if [[ "$want" == *:* ]]; then packages+=("${want#*:}"); else packages+=("$want"); fi
done
command -v apt-get >/dev/null || {
  echo "need: ${packages[*]} missing and no apt-get here: install them yourself" >&2; exit 1; }
echo "need: installing ${packages[*]} from the Debian/Ubuntu packages" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  "${packages[@]}" >/dev/null
for want in "${missing[@]}"; do
  command -v "${want%%:*}" >/dev/null || {
    echo "need: ${want#*:} is installed but ${want%%:*} is not on PATH" >&2; exit 1; }
done
