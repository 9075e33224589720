#!/usr/bin/env bash
# scripts/services/chromium.sh — Debian's Chromium for the dashboard's browser tests
# (playwright-core drives /usr/bin/chromium; no browser is downloaded). Idempotent.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "[chromium.sh] chromium present: $(/usr/bin/chromium --version 2>/dev/null || true)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
echo "[chromium.sh] installed: $(/usr/bin/chromium --version 2>/dev/null || true)" >&2
