#!/usr/bin/env bash
# Makes sure Debian's `prometheus` package (prometheus + promtool) is installed: used by
# `make deploy-check` (promtool) and `make test` (tests/it/prometheus.rs runs a real
# Prometheus). Installs from the distribution's packages when missing; never starts the
# packaged service (a test starts its own on loopback).
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
echo "prometheus/promtool not found: installing Debian package 'prometheus'" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
# policy-rc.d exit 101 stops the package scripts from starting the service where
# invoke-rc.d honours it; we remove it again afterwards if we created it.
policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  created_policy=1
fi
status=0
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null || status=$?
if [ -n "$created_policy" ]; then $sudo rm -f "$policy"; fi
[ "$status" -eq 0 ] || { echo "apt-get install prometheus failed" >&2; exit "$status"; }
command -v prometheus >/dev/null && command -v promtool >/dev/null || {
  echo "prometheus installed but prometheus/promtool are not on PATH" >&2; exit 1; }
echo "prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') installed" >&2
