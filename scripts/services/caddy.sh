#!/usr/bin/env bash
# scripts/services/caddy.sh — the reverse proxy that zero-downtime deploys
# (an app's `proxy:` block) switch traffic with: Debian's `caddy` package.
#
# Installs caddy with apt when it is missing, and nothing else: no unit is
# enabled or started here, because the tests start their own `caddy run`
# instances, each with its own admin port on 127.0.0.1. On a real host follow
# the README ("Zero-downtime deploys"): enable Debian's `caddy-api` unit, which
# keeps the config DeployBot loads across restarts (`--resume`).
#
# Idempotent: a second run does nothing and takes well under a second.
set -euo pipefail

log() { printf '[caddy.sh] %s\n' "$*" >&2; }
# shellcheck source=apt.sh
. "$(dirname "$0")/apt.sh"

if [ "$(id -u)" -ne 0 ]; then log "run me as root"; exit 1; fi
if ! command -v caddy >/dev/null; then
  log "installing caddy"
  apt_install_quietly caddy
fi
log "ready: $(caddy version)"
