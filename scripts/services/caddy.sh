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
# It also sets net.ipv4.tcp_migrate_req=1 (Linux 5.14+): Caddy opens a new
# SO_REUSEPORT socket at every config load and closes the old one, and without
# this setting the kernel resets the connections still queued on the old one
# (measured: a few in a thousand requests around a switch). With it they move to
# the new socket, and a switch loses nothing.
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
if [ "$(cat /proc/sys/net/ipv4/tcp_migrate_req 2>/dev/null || echo missing)" != 1 ]; then
  log "setting net.ipv4.tcp_migrate_req=1"
  sysctl -qw net.ipv4.tcp_migrate_req=1
fi
log "ready: $(caddy version), net.ipv4.tcp_migrate_req=1"
